//! Rejections: typed, rendered as RFC 6750 / RFC 9470 / Entra challenges, pluggable.
//!
//! | case | status | `WWW-Authenticate` |
//! |---|---|---|
//! | no bearer credentials | 401 | `Bearer` (+ `realm`), no `error` (RFC 6750 §3.1) |
//! | two `Authorization` headers, or `Bearer` without a token | 400 | `error="invalid_request"` |
//! | malformed, expired, badly signed, wrong issuer or audience, ... | 401 | `error="invalid_token"` |
//! | scopes or roles missing, custom check failed | 403 | `error="insufficient_scope"`, `scope="..."` |
//! | MFA missing, client announced `xms_cc` `cp1` | 401 | `error="insufficient_claims"`, `claims="<base64>"` |
//! | MFA missing, other clients | 401 | `error="insufficient_user_authentication"` (RFC 9470) |
//! | no signing keys could be loaded | 503 | none |
//!
//! Auth-params are `name="value"` quoted-strings separated by `, ` (RFC 7235 §2.1), with `"` and
//! `\` escaped as quoted-pairs.

use std::fmt::{self, Write as _};
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::{HeaderValue, Response, StatusCode, header};

use crate::error::TokenError;

/// The kind of a [`BearerRejection`].
///
/// ```
/// use edit_profile_middleware::{BearerRejection, RejectionKind};
///
/// fn log(rejection: &BearerRejection) {
///     if rejection.kind() == RejectionKind::InvalidToken {
///         tracing::info!(reason = %rejection.description(), "invalid bearer token");
///     }
/// }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RejectionKind {
    /// No bearer credentials were sent: 401 without an error code.
    MissingCredentials,
    /// The `Authorization` header could not be used: 400 `invalid_request`.
    InvalidRequest,
    /// The token failed validation: 401 `invalid_token`.
    InvalidToken,
    /// The token lacks a required scope or role, or a custom check failed: 403 `insufficient_scope`.
    InsufficientScope,
    /// MFA missing for a client that handles claims challenges: 401 `insufficient_claims`.
    InsufficientClaims,
    /// MFA missing (RFC 9470): 401 `insufficient_user_authentication`.
    InsufficientUserAuthentication,
    /// Signing keys could not be loaded: 503.
    KeysUnavailable,
}

/// Why a request was rejected. Inserted into the rejection response's extensions, so outer layers
/// can log the cause.
///
/// This is an opaque struct with [`kind`](Self::kind) rather than an enum so that future kinds
/// can carry more context without a breaking change.
///
/// ```
/// use edit_profile_middleware::{BearerRejection, RejectionKind};
///
/// let rejection = BearerRejection::insufficient_claims(
///     r#"{"access_token":{"acrs":{"essential":true,"value":"c1"}}}"#,
///     Some("https://login.microsoftonline.com/common/oauth2/v2.0/authorize"),
///     Some("4d2e6f8a-1b3c-4d5e-8f9a-0b1c2d3e4f5a"),
/// );
/// assert_eq!(rejection.kind(), RejectionKind::InsufficientClaims);
/// assert_eq!(rejection.status(), 401);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BearerRejection(Box<Repr>);

/// Boxed so that `Result<_, BearerRejection>` stays one pointer wide on the success path.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Repr {
    kind: RejectionKind,
    token_error: Option<TokenError>,
    description: Option<&'static str>,
    scope: Option<String>,
    claims: Option<String>,
    authorization_uri: Option<Arc<str>>,
    client_id: Option<Arc<str>>,
    acr_values: Option<String>,
    max_age: Option<u64>,
    realm: Option<Arc<str>>,
}

impl Repr {
    fn new(kind: RejectionKind) -> Self {
        Self {
            kind,
            token_error: None,
            description: None,
            scope: None,
            claims: None,
            authorization_uri: None,
            client_id: None,
            acr_values: None,
            max_age: None,
            realm: None,
        }
    }
}

impl BearerRejection {
    pub(crate) fn missing_credentials() -> Self {
        Self(Box::new(Repr::new(RejectionKind::MissingCredentials)))
    }

    pub(crate) fn invalid_request(description: &'static str) -> Self {
        Self(Box::new(Repr {
            description: Some(description),
            ..Repr::new(RejectionKind::InvalidRequest)
        }))
    }

    pub(crate) fn invalid_token(error: TokenError) -> Self {
        let kind = if error == TokenError::KeysUnavailable {
            RejectionKind::KeysUnavailable
        } else {
            RejectionKind::InvalidToken
        };
        Self(Box::new(Repr {
            token_error: Some(error),
            ..Repr::new(kind)
        }))
    }

    pub(crate) fn insufficient_scope(scope: Option<String>, description: &'static str) -> Self {
        Self(Box::new(Repr {
            scope: scope.filter(|s| !s.is_empty()),
            description: Some(description),
            ..Repr::new(RejectionKind::InsufficientScope)
        }))
    }

    /// A 401 `insufficient_claims` challenge carrying a claims request (JSON text; it is base64
    /// encoded when rendered), as Entra resource APIs send to clients that announced `cp1`
    /// (Microsoft identity platform: "Claims challenges, claims requests and client capabilities").
    ///
    /// Use it to pass an on-behalf-of `interaction_required` error with `claims` back to the
    /// caller (see the `msal-lite` feature).
    pub fn insufficient_claims(
        claims_json: &str,
        authorization_uri: Option<&str>,
        client_id: Option<&str>,
    ) -> Self {
        Self(Box::new(Repr {
            claims: Some(claims_json.to_owned()),
            authorization_uri: authorization_uri.map(Arc::from),
            client_id: client_id.map(Arc::from),
            ..Repr::new(RejectionKind::InsufficientClaims)
        }))
    }

    /// An RFC 9470 step-up challenge.
    pub(crate) fn insufficient_user_authentication(
        acr_values: Option<&str>,
        max_age: Option<u64>,
        description: &'static str,
    ) -> Self {
        Self(Box::new(Repr {
            acr_values: acr_values.map(str::to_owned),
            max_age,
            description: Some(description),
            ..Repr::new(RejectionKind::InsufficientUserAuthentication)
        }))
    }

    pub(crate) fn with_realm(mut self, realm: Option<&Arc<str>>) -> Self {
        self.0.realm = realm.cloned();
        self
    }

    /// What kind of rejection this is.
    pub fn kind(&self) -> RejectionKind {
        self.0.kind
    }

    /// The validation failure behind an `invalid_token` rejection.
    pub fn token_error(&self) -> Option<&TokenError> {
        self.0.token_error.as_ref()
    }

    /// The claims request of an `insufficient_claims` rejection (JSON text, not base64).
    pub fn claims(&self) -> Option<&str> {
        self.0.claims.as_deref()
    }

    /// The HTTP status for this rejection.
    pub fn status(&self) -> StatusCode {
        match self.0.kind {
            RejectionKind::InvalidRequest => StatusCode::BAD_REQUEST,
            RejectionKind::InsufficientScope => StatusCode::FORBIDDEN,
            RejectionKind::KeysUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            RejectionKind::MissingCredentials
            | RejectionKind::InvalidToken
            | RejectionKind::InsufficientClaims
            | RejectionKind::InsufficientUserAuthentication => StatusCode::UNAUTHORIZED,
        }
    }

    /// The RFC 6750 / RFC 9470 / Entra error code, if the challenge carries one.
    pub fn error_code(&self) -> Option<&'static str> {
        Some(match self.0.kind {
            RejectionKind::MissingCredentials | RejectionKind::KeysUnavailable => return None,
            RejectionKind::InvalidRequest => "invalid_request",
            RejectionKind::InvalidToken => "invalid_token",
            RejectionKind::InsufficientScope => "insufficient_scope",
            RejectionKind::InsufficientClaims => "insufficient_claims",
            RejectionKind::InsufficientUserAuthentication => "insufficient_user_authentication",
        })
    }

    /// A short human-readable description (never contains any part of the token).
    pub fn description(&self) -> String {
        if let Some(error) = &self.0.token_error {
            return error.to_string();
        }
        match (self.0.description, self.0.kind) {
            (Some(d), _) => d.to_owned(),
            (None, RejectionKind::MissingCredentials) => "a bearer token is required".to_owned(),
            (None, RejectionKind::InsufficientClaims) => {
                "the access token has insufficient claims".to_owned()
            }
            (None, _) => "the request was rejected".to_owned(),
        }
    }

    /// The `WWW-Authenticate` header value, or `None` when no challenge applies (503).
    ///
    /// ```
    /// # use edit_profile_middleware::BearerRejection;
    /// let rejection = BearerRejection::insufficient_claims(r#"{"a":1}"#, None, None);
    /// assert_eq!(
    ///     rejection.www_authenticate().unwrap(),
    ///     r#"Bearer error="insufficient_claims", claims="eyJhIjoxfQ==""#
    /// );
    /// ```
    pub fn www_authenticate(&self) -> Option<String> {
        let mut params = Params(String::from("Bearer"), false);
        if let Some(realm) = &self.0.realm {
            params.push("realm", realm);
        }
        match self.0.kind {
            RejectionKind::KeysUnavailable => return None,
            RejectionKind::MissingCredentials => {}
            RejectionKind::InvalidRequest | RejectionKind::InvalidToken => {
                params.push("error", self.error_code().unwrap_or_default());
                params.push("error_description", &self.description());
            }
            RejectionKind::InsufficientScope => {
                params.push("error", "insufficient_scope");
                params.push("error_description", &self.description());
                if let Some(scope) = &self.0.scope {
                    params.push("scope", scope);
                }
            }
            RejectionKind::InsufficientClaims => {
                // The order Microsoft's samples use: authorization_uri, client_id, error, claims.
                if let Some(uri) = &self.0.authorization_uri {
                    params.push("authorization_uri", uri);
                }
                if let Some(client_id) = &self.0.client_id {
                    params.push("client_id", client_id);
                }
                params.push("error", "insufficient_claims");
                let claims = self.0.claims.as_deref().unwrap_or("{}");
                params.push("claims", &STANDARD.encode(claims));
            }
            RejectionKind::InsufficientUserAuthentication => {
                params.push("error", "insufficient_user_authentication");
                params.push("error_description", &self.description());
                if let Some(acr) = &self.0.acr_values {
                    params.push("acr_values", acr);
                }
                if let Some(max_age) = self.0.max_age {
                    params.push("max_age", &max_age.to_string());
                }
            }
        }
        Some(params.0)
    }

    /// The small JSON body of the default response.
    pub fn json_body(&self) -> String {
        let error = match self.0.kind {
            RejectionKind::MissingCredentials => "unauthorized",
            RejectionKind::KeysUnavailable => "temporarily_unavailable",
            _ => self.error_code().unwrap_or("unauthorized"),
        };
        serde_json::json!({"error": error, "error_description": self.description()}).to_string()
    }
}

impl fmt::Display for BearerRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.description())
    }
}

impl std::error::Error for BearerRejection {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0
            .token_error
            .as_ref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// `Bearer` followed by `, `-separated auth-params; `.1` tracks whether one was written.
struct Params(String, bool);

impl Params {
    fn push(&mut self, name: &str, value: &str) {
        self.0.push_str(if self.1 { ", " } else { " " });
        self.1 = true;
        let _ = write!(self.0, "{name}=\"");
        for c in value.chars() {
            // RFC 7230 §3.2.6 quoted-pair.
            if c == '"' || c == '\\' {
                self.0.push('\\');
            }
            self.0.push(c);
        }
        self.0.push('"');
    }
}

/// Builds the HTTP response for a rejection. Implemented for closures.
///
/// The middleware inserts the [`BearerRejection`] into the response's extensions after calling
/// this, whatever the implementation.
///
/// ```
/// use axum::body::Body;
/// use edit_profile_middleware::{BearerRejection, RejectionResponse};
/// use http::Response;
///
/// let plain = |rejection: &BearerRejection| {
///     let mut response = Response::new(Body::from(rejection.description()));
///     *response.status_mut() = rejection.status();
///     response
/// };
/// fn takes<R: RejectionResponse<Body>>(_: R) {}
/// takes(plain);
/// ```
pub trait RejectionResponse<B>: Clone {
    /// Build the response for `rejection`.
    fn response(&mut self, rejection: &BearerRejection) -> Response<B>;
}

impl<B, F> RejectionResponse<B> for F
where
    F: FnMut(&BearerRejection) -> Response<B> + Clone,
{
    fn response(&mut self, rejection: &BearerRejection) -> Response<B> {
        self(rejection)
    }
}

/// The default rejection response: the status, `WWW-Authenticate`, `Cache-Control: no-store`
/// and a small JSON body `{"error": ..., "error_description": ...}`.
///
/// ```
/// use edit_profile_middleware::{BearerRejection, DefaultRejection, RejectionResponse};
///
/// let rejection = BearerRejection::insufficient_claims(r#"{"a":1}"#, None, None);
/// let response: http::Response<String> = DefaultRejection::default().response(&rejection);
/// assert_eq!(response.status(), 401);
/// assert_eq!(response.headers()["cache-control"], "no-store");
/// ```
#[derive(Clone, Copy, Debug, Default)]
#[non_exhaustive]
pub struct DefaultRejection;

impl<B: From<String>> RejectionResponse<B> for DefaultRejection {
    fn response(&mut self, rejection: &BearerRejection) -> Response<B> {
        let mut response = Response::new(B::from(rejection.json_body()));
        *response.status_mut() = rejection.status();
        let headers = response.headers_mut();
        if let Some(challenge) = rejection.www_authenticate()
            && let Ok(value) = HeaderValue::try_from(challenge)
        {
            headers.insert(header::WWW_AUTHENTICATE, value);
        }
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}

#[cfg(feature = "axum")]
impl axum::response::IntoResponse for BearerRejection {
    fn into_response(self) -> axum::response::Response {
        let mut response: axum::response::Response = DefaultRejection.response(&self);
        response.extensions_mut().insert(self);
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(r: &BearerRejection) -> String {
        r.www_authenticate().unwrap()
    }

    #[test]
    fn challenge_strings() {
        assert_eq!(header(&BearerRejection::missing_credentials()), "Bearer");
        let realm: Arc<str> = Arc::from("api");
        assert_eq!(
            header(&BearerRejection::missing_credentials().with_realm(Some(&realm))),
            r#"Bearer realm="api""#
        );
        assert_eq!(
            header(&BearerRejection::invalid_token(TokenError::Expired).with_realm(Some(&realm))),
            r#"Bearer realm="api", error="invalid_token", error_description="the token is expired""#
        );
        assert_eq!(
            header(&BearerRejection::insufficient_scope(
                Some("a b".into()),
                "the token lacks a required scope"
            )),
            r#"Bearer error="insufficient_scope", error_description="the token lacks a required scope", scope="a b""#
        );
        assert_eq!(
            header(&BearerRejection::insufficient_claims(
                r#"{"access_token":{"acrs":{"essential":true,"value":"c1"}}}"#,
                Some("https://login.microsoftonline.com/common/oauth2/v2.0/authorize"),
                Some("cid"),
            )),
            r#"Bearer authorization_uri="https://login.microsoftonline.com/common/oauth2/v2.0/authorize", client_id="cid", error="insufficient_claims", claims="eyJhY2Nlc3NfdG9rZW4iOnsiYWNycyI6eyJlc3NlbnRpYWwiOnRydWUsInZhbHVlIjoiYzEifX19""#
        );
        assert_eq!(
            header(&BearerRejection::insufficient_user_authentication(
                Some("myACR"),
                Some(5),
                "multi-factor authentication is required",
            )),
            r#"Bearer error="insufficient_user_authentication", error_description="multi-factor authentication is required", acr_values="myACR", max_age="5""#
        );
        assert_eq!(
            BearerRejection::invalid_token(TokenError::KeysUnavailable).www_authenticate(),
            None
        );
    }

    #[test]
    fn quoted_pairs_are_escaped() {
        let realm: Arc<str> = Arc::from(r#"a"b\c"#);
        assert_eq!(
            header(&BearerRejection::missing_credentials().with_realm(Some(&realm))),
            r#"Bearer realm="a\"b\\c""#
        );
    }

    #[test]
    fn statuses_and_bodies() {
        let cases = [
            (BearerRejection::missing_credentials(), 401, "unauthorized"),
            (
                BearerRejection::invalid_request("x"),
                400,
                "invalid_request",
            ),
            (
                BearerRejection::invalid_token(TokenError::BadSignature),
                401,
                "invalid_token",
            ),
            (
                BearerRejection::insufficient_scope(None, "x"),
                403,
                "insufficient_scope",
            ),
            (
                BearerRejection::invalid_token(TokenError::KeysUnavailable),
                503,
                "temporarily_unavailable",
            ),
        ];
        for (rejection, status, error) in cases {
            assert_eq!(rejection.status(), status);
            let body: serde_json::Value = serde_json::from_str(&rejection.json_body()).unwrap();
            assert_eq!(body["error"], error);
        }
    }

    #[test]
    fn every_token_error_renders_a_valid_header() {
        let errors = [
            TokenError::TooLarge,
            TokenError::Malformed,
            TokenError::Encrypted,
            TokenError::AlgorithmNotAllowed,
            TokenError::ForbiddenHeader("jwk"),
            TokenError::WrongType,
            TokenError::DuplicateMember,
            TokenError::InvalidClaimType("exp"),
            TokenError::MissingClaim("exp"),
            TokenError::UnknownKey,
            TokenError::KeyAlgorithmMismatch,
            TokenError::BadSignature,
            TokenError::Expired,
            TokenError::NotYetValid,
            TokenError::InvalidLifetime,
            TokenError::WrongIssuer,
            TokenError::TenantNotAllowed,
            TokenError::KeyIssuerMismatch,
            TokenError::WrongAudience,
            TokenError::UnsupportedVersion,
            TokenError::NotAnAccessToken,
        ];
        for error in errors {
            let text = error.to_string();
            assert!(
                text.bytes()
                    .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\'),
                "{text}"
            );
            let value = header(&BearerRejection::invalid_token(error));
            assert!(HeaderValue::try_from(value).is_ok());
        }
    }

    #[test]
    fn default_response_carries_headers() {
        let response: Response<String> =
            DefaultRejection.response(&BearerRejection::invalid_token(TokenError::Expired));
        assert_eq!(response.status(), 401);
        assert_eq!(
            response.headers()[header::WWW_AUTHENTICATE],
            r#"Bearer error="invalid_token", error_description="the token is expired""#
        );
        assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
    }

    #[test]
    fn rejection_is_send_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<BearerRejection>();
        assert_send_sync::<TokenError>();
        assert_send_sync::<crate::ConfigError>();
    }
}
