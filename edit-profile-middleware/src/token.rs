//! [`BearerToken`]: the caller's validated token, handed to the route for on-behalf-of.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use http::HeaderValue;

use crate::layer::Challenge;
use crate::rejection::BearerRejection;

/// The bearer token of this request, exactly as the caller sent it, after [`BearerAuth`]
/// validated it; and the challenge parameters of the layer that let it in.
///
/// The layer inserts it into the request extensions next to the claims, so a route that calls a
/// downstream API on the user's behalf takes the caller's token from here instead of parsing
/// `Authorization` again, and answers a downstream claims challenge with the same
/// `WWW-Authenticate` parameters the layer itself sends (Microsoft identity platform, "OAuth 2.0
/// On-Behalf-Of flow": the middle tier replies 401 with the claims challenge).
///
/// Holding it costs a reference count: it shares the header's bytes. `Debug` never shows the
/// token.
///
/// With axum (the `axum` feature) it is an extractor; with plain tower, read it from the
/// request extensions:
///
/// ```
/// use edit_profile_middleware::BearerToken;
///
/// fn caller_token<B>(request: &http::Request<B>) -> Option<&str> {
///     // With the `msal-lite` feature: `OboRequest::new(token.into(), scopes)`.
///     request.extensions().get::<BearerToken>().map(BearerToken::as_str)
/// }
/// assert_eq!(caller_token(&http::Request::new(())), None);
/// ```
///
/// [`BearerAuth`]: crate::BearerAuth
#[derive(Clone)]
pub struct BearerToken {
    value: HeaderValue,
    range: Range<usize>,
    challenge: Arc<Challenge>,
}

impl BearerToken {
    pub(crate) fn new(value: HeaderValue, range: Range<usize>, challenge: Arc<Challenge>) -> Self {
        Self {
            value,
            range,
            challenge,
        }
    }

    /// The compact JWS, without the `Bearer ` prefix.
    ///
    /// Treat it as a secret: never log it. (A validated token is base64url text; this returns
    /// `""` only for bytes no validator accepts.)
    pub fn as_str(&self) -> &str {
        self.value
            .as_bytes()
            .get(self.range.clone())
            .and_then(|bytes| std::str::from_utf8(bytes).ok())
            .unwrap_or("")
    }

    /// The 401 `insufficient_claims` challenge for a claims request (JSON text), with this layer's
    /// `realm`, `authorization_uri` and `client_id`: what to send when a downstream call needs
    /// more from the user (Conditional Access, continuous access evaluation).
    ///
    /// ```
    /// # fn f(token: edit_profile_middleware::BearerToken) {
    /// use edit_profile_middleware::RejectionKind;
    ///
    /// let rejection = token.insufficient_claims(r#"{"access_token":{"acrs":{"essential":true,"value":"c1"}}}"#);
    /// assert_eq!(rejection.kind(), RejectionKind::InsufficientClaims);
    /// # }
    /// ```
    pub fn insufficient_claims(&self, claims_json: &str) -> BearerRejection {
        let challenge = &*self.challenge;
        BearerRejection::insufficient_claims(
            claims_json,
            challenge.authorization_uri.as_deref(),
            challenge.client_id.as_deref(),
        )
        .with_realm(challenge.realm.as_ref())
    }

    /// The challenge for an msal-lite error that needs the user and names claims
    /// (`interaction_required` with `claims`, as an on-behalf-of call returns it under
    /// Conditional Access), else `None`: one call from a failed OBO to the layer's 401.
    ///
    /// `None` for every other error, including `interaction_required` without claims (consent,
    /// terms of use): a new token for this API would not change the answer, so a 401 would send
    /// the client round a sign-in loop; answer those yourself (403 with what to do).
    ///
    /// ```
    /// # async fn f(client: msal_lite::ConfidentialClient, token: edit_profile_middleware::BearerToken)
    /// # -> Result<(), axum::response::Response> {
    /// use axum::response::IntoResponse;
    ///
    /// let request = msal_lite::OboRequest::new((&token).into(), ["User.Read"]);
    /// match client.acquire_token_on_behalf_of_with(request).await {
    ///     Ok(_graph_token) => Ok(()),
    ///     Err(error) => Err(match token.challenge_for(&error) {
    ///         Some(challenge) => challenge.into_response(),
    ///         None => http::StatusCode::BAD_GATEWAY.into_response(),
    ///     }),
    /// }
    /// # }
    /// ```
    #[cfg(feature = "msal-lite")]
    pub fn challenge_for(&self, error: &msal_lite::Error) -> Option<BearerRejection> {
        crate::challenge::msal_claims(error).map(|claims| self.insufficient_claims(claims))
    }
}

impl fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BearerToken(<redacted>)")
    }
}

/// The caller's token as the assertion of an on-behalf-of request.
#[cfg(feature = "msal-lite")]
impl From<&BearerToken> for msal_lite::UserAssertion {
    fn from(token: &BearerToken) -> Self {
        msal_lite::UserAssertion::new(token.as_str().to_owned())
    }
}

#[cfg(feature = "axum")]
mod extract {
    use axum::extract::{FromRequestParts, OptionalFromRequestParts};
    use http::request::Parts;

    use super::BearerToken;
    use crate::extract::MissingClaims;

    /// Answers 500 on a route without the layer, as [`BearerClaims`](crate::BearerClaims) does.
    ///
    /// ```
    /// use axum::{Router, routing::post};
    /// use edit_profile_middleware::BearerToken;
    ///
    /// async fn update(token: BearerToken) -> String {
    ///     format!("{token:?} is {} bytes", token.as_str().len())
    /// }
    /// let app: Router = Router::new().route("/update", post(update));
    /// ```
    impl<S: Send + Sync> FromRequestParts<S> for BearerToken {
        type Rejection = MissingClaims;

        async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
            parts
                .extensions
                .get::<BearerToken>()
                .cloned()
                .ok_or(MissingClaims)
        }
    }

    impl<S: Send + Sync> OptionalFromRequestParts<S> for BearerToken {
        type Rejection = std::convert::Infallible;

        async fn from_request_parts(
            parts: &mut Parts,
            _: &S,
        ) -> Result<Option<Self>, Self::Rejection> {
            Ok(parts.extensions.get::<BearerToken>().cloned())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RejectionKind;

    fn token(header: &'static str, range: Range<usize>) -> BearerToken {
        let challenge = Challenge {
            realm: Some(Arc::from("api")),
            authorization_uri: Some(Arc::from("https://login.example/authorize")),
            client_id: Some(Arc::from("client-1")),
            invalid: None,
        };
        BearerToken::new(HeaderValue::from_static(header), range, Arc::new(challenge))
    }

    #[test]
    fn the_token_is_the_header_without_its_scheme_and_is_never_shown() {
        let t = token("Bearer  abc.def.ghi ", 8..19);
        assert_eq!(t.as_str(), "abc.def.ghi");
        assert_eq!(format!("{t:?}"), "BearerToken(<redacted>)");
        // Out of range (cannot come from the layer) is empty, not a panic.
        assert_eq!(token("Bearer x", 7..40).as_str(), "");
    }

    #[test]
    fn claims_challenges_carry_the_layers_parameters() {
        let rejection = token("Bearer a.b.c", 7..12).insufficient_claims(r#"{"id_token":{}}"#);
        assert_eq!(rejection.kind(), RejectionKind::InsufficientClaims);
        let header = rejection.www_authenticate().unwrap();
        assert!(header.contains(r#"realm="api""#), "{header}");
        assert!(
            header.contains(r#"authorization_uri="https://login.example/authorize""#),
            "{header}"
        );
        assert!(header.contains(r#"client_id="client-1""#), "{header}");
    }
}
