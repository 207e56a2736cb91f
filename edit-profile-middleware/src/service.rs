//! [`BearerAuth`]: the middleware service.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{HeaderMap, HeaderValue, Request, Response, header};
use tower::Service;

use crate::claims::Claims;
use crate::future::ResponseFuture;
use crate::layer::{BearerAuthLayer, Challenge};
use crate::policy::{Denial, Policy, PolicyId};
use crate::rejection::{BearerRejection, DefaultRejection, RejectionResponse};
use crate::token::BearerToken;
use crate::validate::{Step, Validator};

/// Middleware that validates the bearer token of each request and applies a [`Policy`].
///
/// On success the validated claims are inserted into the request extensions as `Arc<Claims>`;
/// on failure the inner service is not called and the rejection response carries the
/// [`BearerRejection`] in its extensions. Usually built through [`BearerAuthLayer`].
///
/// ```
/// use std::convert::Infallible;
/// use edit_profile_middleware::{BearerAuth, Policy, Validator};
/// use http::{Request, Response};
///
/// # fn f(validator: Validator) {
/// let inner = tower::service_fn(|_: Request<String>| async {
///     Ok::<_, Infallible>(Response::new(String::from("hello")))
/// });
/// let service = BearerAuth::new(inner, validator, Policy::new().require_scopes(["Profile.Read"]));
/// # drop(service);
/// # }
/// ```
#[derive(Clone)]
pub struct BearerAuth<S, R = DefaultRejection> {
    inner: S,
    shared: Arc<Shared>,
    rejection: R,
}

struct Shared {
    validator: Validator,
    policy: Arc<Policy>,
    /// Lets cached claims skip this policy's scope and MFA checks on their next request.
    policy_id: PolicyId,
    challenge: Arc<Challenge>,
}

impl<S: fmt::Debug, R> fmt::Debug for BearerAuth<S, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BearerAuth")
            .field("inner", &self.inner)
            .field("validator", &self.shared.validator)
            .field("policy", &self.shared.policy)
            .finish_non_exhaustive()
    }
}

impl<S> BearerAuth<S> {
    /// Wrap `inner` with the default rejection responses.
    pub fn new(inner: S, validator: Validator, policy: Policy) -> Self {
        let layer = BearerAuthLayer::new(validator).policy(policy);
        Self::from_layer(inner, &layer)
    }

    /// A layer wrapping services in [`BearerAuth`].
    pub fn layer(validator: Validator) -> BearerAuthLayer {
        BearerAuthLayer::new(validator)
    }
}

impl<S, R> BearerAuth<S, R> {
    pub(crate) fn from_layer(inner: S, layer: &BearerAuthLayer<R>) -> Self
    where
        R: Clone,
    {
        Self {
            inner,
            shared: Arc::new(Shared {
                validator: layer.validator.clone(),
                policy: layer.policy.clone(),
                policy_id: PolicyId::next(),
                challenge: layer.challenge.clone(),
            }),
            rejection: layer.rejection.clone(),
        }
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Consume the middleware, returning the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

/// Finds the bearer token, or says why there is none (RFC 6750 §2.1, §3.1): the header value
/// and where in it the token is.
#[inline]
fn bearer_token(headers: &HeaderMap) -> Result<(&HeaderValue, Range<usize>), BearerRejection> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Err(BearerRejection::missing_credentials());
    };
    if values.next().is_some() {
        return Err(BearerRejection::invalid_request(
            "more than one authorization header",
        ));
    }
    let bytes = value.as_bytes();
    // Deliberately "no credentials" for other schemes (Basic, Negotiate): the challenge then tells
    // the client that Bearer is expected.
    if bytes.len() < 6 || !bytes[..6].eq_ignore_ascii_case(b"bearer") {
        return Err(BearerRejection::missing_credentials());
    }
    if bytes.len() > 6 && bytes[6] != b' ' {
        return Err(BearerRejection::missing_credentials());
    }
    // Bytes, not `&str`: a cache hit then costs no UTF-8 scan of the 1–2 KB value, and anything
    // that is not base64url (spaces, non-ASCII) fails validation as `invalid_token` anyway.
    let rest = &bytes[6..];
    let start = 6 + rest.iter().take_while(|b| b.is_ascii_whitespace()).count();
    let end = bytes.len()
        - rest
            .iter()
            .rev()
            .take_while(|b| b.is_ascii_whitespace())
            .count();
    if start >= end {
        return Err(BearerRejection::invalid_request(
            "the authorization header has no bearer token",
        ));
    }
    Ok((value, start..end))
}

impl Shared {
    fn reject_for(&self, rejection: BearerRejection) -> BearerRejection {
        rejection.with_realm(self.challenge.realm.as_ref())
    }

    /// Applies the policy; on success the claims and the token go into the request extensions.
    fn authorize<B>(
        &self,
        claims: Arc<Claims>,
        token: (HeaderValue, Range<usize>),
        req: &mut Request<B>,
        now: u64,
    ) -> Result<(), BearerRejection> {
        match self.policy.evaluate_as(&claims, now, self.policy_id) {
            Ok(()) => {
                let extensions = req.extensions_mut();
                extensions.insert(claims);
                extensions.insert(BearerToken::new(token.0, token.1, self.challenge.clone()));
                Ok(())
            }
            Err(Denial::Scope(scope)) => Err(BearerRejection::insufficient_scope(
                scope,
                "the token lacks a required scope or role",
            )),
            Err(Denial::Check) => Err(BearerRejection::insufficient_scope(
                None,
                "the token does not satisfy the policy of this route",
            )),
            Err(Denial::Invalid) => {
                tracing::error!("the route's policy is invalid; every request is refused");
                Err(BearerRejection::insufficient_scope(
                    None,
                    "the policy of this route is invalid",
                ))
            }
            Err(Denial::StepUp { mfa, max_age }) => Err(match mfa {
                Some(mfa) if claims.client_handles_claims_challenges() => {
                    BearerRejection::insufficient_claims(
                        &mfa.claims_request(),
                        self.challenge.authorization_uri.as_deref(),
                        self.challenge.client_id.as_deref(),
                    )
                }
                Some(mfa) => BearerRejection::insufficient_user_authentication(
                    mfa.step_up_acr(),
                    max_age,
                    "multi-factor authentication is required",
                ),
                // RFC 9470 §3: `max_age` alone asks for a fresh authentication.
                None => BearerRejection::insufficient_user_authentication(
                    None,
                    max_age,
                    "a more recent authentication is required",
                ),
            }),
        }
    }
}

fn render<B, R: RejectionResponse<B>>(
    rejection_response: &mut R,
    rejection: BearerRejection,
) -> Response<B> {
    tracing::debug!(
        kind = ?rejection.kind(),
        reason = %rejection.description(),
        "bearer token rejected"
    );
    let mut response = rejection_response.response(&rejection);
    response.extensions_mut().insert(rejection);
    response
}

impl<S, R, ReqBody, ResBody> Service<Request<ReqBody>> for BearerAuth<S, R>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: 'static,
    R: RejectionResponse<ResBody> + Send + 'static,
    ReqBody: Send + 'static,
    ResBody: 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        let shared = &*self.shared;
        let (value, range) = match bearer_token(req.headers()) {
            // A reference count, not a copy: the route gets the token through `BearerToken`.
            Ok((value, range)) => (value.clone(), range),
            Err(rejection) => {
                let rejection = shared.reject_for(rejection);
                return ResponseFuture::ready(Ok(render(&mut self.rejection, rejection)));
            }
        };
        let token = &value.as_bytes()[range.clone()];
        // One clock read per request: it costs more than the rest of a cache hit's bookkeeping.
        let now = shared.validator.now();
        let outcome = match shared.validator.validate_now(token, now) {
            Step::Done(Ok(claims)) => shared.authorize(claims, (value, range), &mut req, now),
            Step::Done(Err(error)) => Err(BearerRejection::invalid_token(error)),
            Step::NeedKeys(generation) => {
                return self.wait_for_keys(req, (value, range), generation);
            }
        };
        match outcome {
            Ok(()) => ResponseFuture::inner(self.inner.call(req)),
            Err(rejection) => {
                let rejection = shared.reject_for(rejection);
                ResponseFuture::ready(Ok(render(&mut self.rejection, rejection)))
            }
        }
    }
}

impl<S, R> BearerAuth<S, R> {
    /// The rare path: the token's `kid` is unknown and a JWKS refresh is allowed.
    #[cold]
    fn wait_for_keys<ReqBody, ResBody>(
        &mut self,
        mut req: Request<ReqBody>,
        token: (HeaderValue, Range<usize>),
        generation: u64,
    ) -> ResponseFuture<S::Future>
    where
        S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
        S::Future: Send + 'static,
        R: RejectionResponse<ResBody> + Send + 'static,
        ReqBody: Send + 'static,
    {
        // The inner service was polled ready; keep that one for this request and leave a fresh
        // clone in `self` (tower docs: "Be careful when cloning inner services").
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let shared = self.shared.clone();
        let mut rejection_response = self.rejection.clone();
        ResponseFuture::waiting(Box::pin(async move {
            let outcome = match shared
                .validator
                .validate_after_refresh(&token.0.as_bytes()[token.1.clone()], generation)
                .await
            {
                Ok(claims) => {
                    let now = shared.validator.now();
                    shared.authorize(claims, token, &mut req, now)
                }
                Err(error) => Err(BearerRejection::invalid_token(error)),
            };
            match outcome {
                Ok(()) => inner.call(req).await,
                Err(rejection) => {
                    let rejection = shared.reject_for(rejection);
                    Ok(render(&mut rejection_response, rejection))
                }
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(values: &[&[u8]]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for v in values {
            map.append(header::AUTHORIZATION, HeaderValue::from_bytes(v).unwrap());
        }
        map
    }

    fn token_of(values: &[&[u8]]) -> Vec<u8> {
        let map = headers(values);
        let (value, range) = bearer_token(&map).unwrap();
        value.as_bytes()[range].to_vec()
    }

    #[test]
    fn bearer_token_extraction() {
        assert_eq!(token_of(&[b"Bearer abc"]), b"abc");
        assert_eq!(token_of(&[b"bearer  abc "]), b"abc");
        assert_eq!(token_of(&[b"Bearer \tabc"]), b"abc");
        // Left to validation (401 invalid_token): not a single base64url token.
        assert_eq!(token_of(&[b"Bearer a b"]), b"a b");
        assert_eq!(token_of(&[b"Bearer \xff"]), b"\xff");
        let kind = |v: &[&[u8]]| bearer_token(&headers(v)).unwrap_err().kind();
        use crate::RejectionKind::*;
        assert_eq!(kind(&[]), MissingCredentials);
        assert_eq!(kind(&[b"Basic dXNlcjpwYXNz"]), MissingCredentials);
        assert_eq!(kind(&[b"Bearerabc"]), MissingCredentials);
        assert_eq!(kind(&[b"Bearer"]), InvalidRequest);
        assert_eq!(kind(&[b"Bearer "]), InvalidRequest);
        assert_eq!(kind(&[b"Bearer a", b"Bearer b"]), InvalidRequest);
    }
}
