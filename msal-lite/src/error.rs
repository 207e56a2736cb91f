//! Errors: one `#[non_exhaustive]` enum for everything, and a typed [`ServerError`] for what the
//! token endpoint said.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::CorrelationId;

/// A shareable error source. `Arc` (not `Box`) so that [`Error`] is `Clone`: one failed network
/// call is reported to every caller that waited on it.
pub type BoxError = Arc<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong in msal-lite.
///
/// Messages are short and never contain secrets, tokens, assertions or raw response bodies; the
/// cause, where there is one, is chained as [`std::error::Error::source`].
///
/// ```
/// # async fn demo(client: msal_lite::ConfidentialClient) {
/// match client.acquire_token_for_client(["https://graph.microsoft.com/.default"]).await {
///     Ok(result) => println!("token expires at {:?}", result.expires_on()),
///     Err(e) if e.is_interaction_required() => println!("claims challenge: {:?}", e.claims()),
///     Err(e) if e.is_retryable() => println!("try later: {e}"),
///     Err(e) => println!("failed (correlation id {:?}): {e}", e.correlation_id()),
/// }
/// # }
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The authority URL was rejected (wrong scheme, missing tenant, query string, ...).
    #[error("invalid authority: {reason}")]
    #[non_exhaustive]
    InvalidAuthority {
        /// Why.
        reason: Cow<'static, str>,
    },
    /// A scope was empty or contained characters RFC 6749 §3.3 does not allow.
    #[error("invalid scope: {reason}")]
    #[non_exhaustive]
    InvalidScope {
        /// Why.
        reason: Cow<'static, str>,
    },
    /// The client or a request was configured inconsistently.
    #[error("invalid configuration: {reason}")]
    #[non_exhaustive]
    Config {
        /// Why.
        reason: Cow<'static, str>,
    },
    /// The certificate or private key could not be used.
    #[error("invalid credential: {reason}")]
    #[non_exhaustive]
    Credential {
        /// Why.
        reason: Cow<'static, str>,
    },
    /// The user-supplied client assertion callback failed.
    #[error("client assertion callback failed")]
    #[non_exhaustive]
    AssertionCallback {
        /// The callback's error.
        #[source]
        source: BoxError,
    },
    /// The token endpoint (or discovery endpoint) answered with an OAuth 2.0 error
    /// (RFC 6749 §5.2).
    #[error(transparent)]
    Server(Box<ServerError>),
    /// The server answered with an error status and no OAuth 2.0 error body.
    #[error("unexpected http status {status}")]
    #[non_exhaustive]
    HttpStatus {
        /// The HTTP status code.
        status: u16,
        /// The `client-request-id` that was sent.
        correlation_id: Option<CorrelationId>,
        /// `Retry-After`, when the server sent one.
        retry_after: Option<Duration>,
    },
    /// The request was not sent: the token endpoint recently answered the identical request
    /// (same client, authority, scopes, account or assertion, claims) with 429, 5xx or
    /// `invalid_grant`, and asked (or MSAL's defaults say) to wait this long. MSAL.NET raises
    /// `MsalThrottledServiceException` here.
    ///
    /// ```
    /// # fn demo(e: msal_lite::Error) {
    /// if let msal_lite::Error::Throttled { remaining, .. } = &e {
    ///     println!("try again in {remaining:?}");
    /// }
    /// # }
    /// ```
    #[error("throttled: the identical request failed with http status {status}; retry in {}s", remaining.as_secs())]
    #[non_exhaustive]
    Throttled {
        /// Time left before the request is sent again.
        remaining: Duration,
        /// The HTTP status of the response that opened the window.
        status: u16,
        /// Whether that response was an `invalid_grant` (the user must sign in again).
        invalid_grant: bool,
        /// The `client-request-id` of this (unsent) request.
        correlation_id: Option<CorrelationId>,
    },
    /// The incoming user assertion of an on-behalf-of request has expired (its `exp` has
    /// passed), so no downstream token is acquired for it: not from the OBO refresh token and
    /// not from the token endpoint (which refuses an expired assertion). The API should answer
    /// its caller 401. MSAL Node never redeems OBO refresh tokens; MSAL.NET only in its
    /// long-running OBO API, which msal-lite has as
    /// [`initiate_long_running_on_behalf_of`](crate::ConfidentialClient::initiate_long_running_on_behalf_of).
    ///
    /// ```
    /// # fn demo(e: msal_lite::Error) {
    /// if matches!(e, msal_lite::Error::AssertionExpired) { /* answer 401 */ }
    /// # }
    /// ```
    #[error("the user assertion has expired")]
    AssertionExpired,
    /// [`acquire_token_in_long_running_process`](crate::ConfidentialClient::acquire_token_in_long_running_process)
    /// found neither a valid token nor a refresh token for the session key: it was never
    /// initiated (on this instance or in the cache store), was stopped, or its refresh token
    /// was lost. Nothing was sent. MSAL.NET: `obo_cache_key_not_in_cache_error`.
    ///
    /// ```
    /// # fn demo(e: msal_lite::Error) {
    /// if matches!(e, msal_lite::Error::SessionNotFound) { /* start a new session */ }
    /// # }
    /// ```
    #[error("no long-running on-behalf-of session with this key")]
    SessionNotFound,
    /// The response was meant to be JSON but did not parse, or lacked a required field.
    #[error("malformed response: {reason}")]
    #[non_exhaustive]
    MalformedResponse {
        /// What was wrong.
        reason: Cow<'static, str>,
        /// The `client-request-id` that was sent.
        correlation_id: Option<CorrelationId>,
        /// The JSON parser's error, when there is one.
        #[source]
        source: Option<BoxError>,
    },
    /// The response did not have a JSON content type.
    #[error("unexpected content type {content_type:?} (http status {status})")]
    #[non_exhaustive]
    ContentType {
        /// The `Content-Type` header as received (absent when missing).
        content_type: Option<String>,
        /// The HTTP status code.
        status: u16,
        /// The `client-request-id` that was sent.
        correlation_id: Option<CorrelationId>,
    },
    /// The response body was larger than the transport's limit.
    #[error("response body exceeds {limit} bytes")]
    #[non_exhaustive]
    ResponseTooLarge {
        /// The limit in bytes.
        limit: usize,
        /// The `client-request-id` that was sent.
        correlation_id: Option<CorrelationId>,
    },
    /// The request did not complete within the transport's timeout.
    #[error("request timed out")]
    #[non_exhaustive]
    Timeout {
        /// The `client-request-id` that was sent.
        correlation_id: Option<CorrelationId>,
        /// The transport's error.
        #[source]
        source: Option<BoxError>,
    },
    /// The TLS handshake failed (untrusted certificate, wrong name, protocol error).
    #[error("tls handshake failed")]
    #[non_exhaustive]
    Tls {
        /// The `client-request-id` that was sent.
        correlation_id: Option<CorrelationId>,
        /// The transport's error.
        #[source]
        source: Option<BoxError>,
    },
    /// The connection could not be made or broke before a response arrived.
    #[error("connection failed")]
    #[non_exhaustive]
    Connect {
        /// The `client-request-id` that was sent.
        correlation_id: Option<CorrelationId>,
        /// The transport's error.
        #[source]
        source: Option<BoxError>,
    },
    /// Any other transport failure.
    #[error("http transport failed")]
    #[non_exhaustive]
    Transport {
        /// The `client-request-id` that was sent.
        correlation_id: Option<CorrelationId>,
        /// The transport's error.
        #[source]
        source: Option<BoxError>,
    },
    /// The `state` returned to the redirect URI is not the one this sign-in sent (a forged or
    /// replayed response, RFC 6749 §10.12). Nothing was sent to the token endpoint.
    #[error("the returned state does not match the sign-in request")]
    StateMismatch,
    /// The ID token failed validation (OpenID Connect Core 1.0 §3.1.3.7): signature, issuer,
    /// audience, expiry, nonce or issue time.
    #[error("invalid id token: {reason}")]
    #[non_exhaustive]
    InvalidIdToken {
        /// What was wrong (never the token itself).
        reason: Cow<'static, str>,
    },
    /// No token can be obtained without the user (no cached refresh token for the account, or
    /// the account is unknown): start an interactive sign-in.
    #[error("interaction required: {reason}")]
    #[non_exhaustive]
    InteractionRequired {
        /// Why.
        reason: Cow<'static, str>,
    },
}

impl Error {
    pub(crate) fn invalid_authority(reason: impl Into<Cow<'static, str>>) -> Self {
        Self::InvalidAuthority {
            reason: reason.into(),
        }
    }

    pub(crate) fn invalid_scope(reason: impl Into<Cow<'static, str>>) -> Self {
        Self::InvalidScope {
            reason: reason.into(),
        }
    }

    pub(crate) fn config(reason: impl Into<Cow<'static, str>>) -> Self {
        Self::Config {
            reason: reason.into(),
        }
    }

    pub(crate) fn credential(reason: impl Into<Cow<'static, str>>) -> Self {
        Self::Credential {
            reason: reason.into(),
        }
    }

    pub(crate) fn malformed(
        reason: impl Into<Cow<'static, str>>,
        correlation_id: Option<CorrelationId>,
        source: Option<BoxError>,
    ) -> Self {
        Self::MalformedResponse {
            reason: reason.into(),
            correlation_id,
            source,
        }
    }

    /// Whether the user must sign in again (or consent, or do MFA): the app should start an
    /// interactive flow, passing [`claims`](Self::claims) when present.
    ///
    /// ```
    /// # fn demo(e: msal_lite::Error) {
    /// if e.is_interaction_required() {
    ///     // redirect the user to the authorize endpoint with e.claims()
    /// }
    /// # }
    /// ```
    pub fn is_interaction_required(&self) -> bool {
        match self {
            Self::Server(e) => e.is_interaction_required(),
            Self::InteractionRequired { .. } => true,
            Self::Throttled { invalid_grant, .. } => *invalid_grant,
            _ => false,
        }
    }

    /// The claims challenge the server sent with an error (a JSON object as text), if any.
    ///
    /// ```
    /// # fn demo(e: msal_lite::Error) {
    /// if let Some(claims) = e.claims() {
    ///     assert!(claims.starts_with('{') || !claims.is_empty());
    /// }
    /// # }
    /// ```
    pub fn claims(&self) -> Option<&str> {
        match self {
            Self::Server(e) => e.claims(),
            _ => None,
        }
    }

    /// Whether trying again later may succeed: server errors 5xx and 429, `temporarily_unavailable`,
    /// timeouts and connection failures.
    ///
    /// ```
    /// # fn demo(e: msal_lite::Error) {
    /// if e.is_retryable() { /* back off and retry */ }
    /// # }
    /// ```
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Server(e) => e.is_retryable(),
            Self::HttpStatus { status, .. } => *status == 429 || (500..600).contains(status),
            Self::Timeout { .. } | Self::Connect { .. } | Self::Transport { .. } => true,
            Self::Throttled { invalid_grant, .. } => !invalid_grant,
            _ => false,
        }
    }

    /// Whether this is a timeout.
    ///
    /// ```
    /// # fn demo(e: msal_lite::Error) { let _ = e.is_timeout(); }
    /// ```
    pub fn is_timeout(&self) -> bool {
        matches!(self, Self::Timeout { .. })
    }

    /// The token endpoint's error, when this is one.
    ///
    /// ```
    /// # fn demo(e: msal_lite::Error) {
    /// if let Some(server) = e.server_error() {
    ///     println!("{} {:?}", server.error(), server.error_codes());
    /// }
    /// # }
    /// ```
    pub fn server_error(&self) -> Option<&ServerError> {
        match self {
            Self::Server(e) => Some(e),
            _ => None,
        }
    }

    /// The `client-request-id` sent with the failed request, for the identity provider's logs.
    ///
    /// ```
    /// # fn demo(e: msal_lite::Error) {
    /// if let Some(id) = e.correlation_id() { println!("correlation id {id}"); }
    /// # }
    /// ```
    pub fn correlation_id(&self) -> Option<CorrelationId> {
        match self {
            Self::Server(e) => e.request_correlation_id,
            Self::HttpStatus { correlation_id, .. }
            | Self::MalformedResponse { correlation_id, .. }
            | Self::ContentType { correlation_id, .. }
            | Self::ResponseTooLarge { correlation_id, .. }
            | Self::Timeout { correlation_id, .. }
            | Self::Tls { correlation_id, .. }
            | Self::Connect { correlation_id, .. }
            | Self::Transport { correlation_id, .. }
            | Self::Throttled { correlation_id, .. } => *correlation_id,
            _ => None,
        }
    }

    /// How long the server asked us to wait (`Retry-After`), if it said.
    ///
    /// ```
    /// # fn demo(e: msal_lite::Error) {
    /// if let Some(wait) = e.retry_after() { println!("retry in {wait:?}"); }
    /// # }
    /// ```
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Server(e) => e.retry_after,
            Self::HttpStatus { retry_after, .. } => *retry_after,
            Self::Throttled { remaining, .. } => Some(*remaining),
            _ => None,
        }
    }
}

/// An OAuth 2.0 error response (RFC 6749 §5.2) with the fields Microsoft Entra adds
/// (Microsoft identity platform: "Error response" and "AADSTS error codes").
///
/// `Display` shows `error` and `error_description`; neither ever contains a secret.
///
/// ```
/// # fn demo(e: msal_lite::Error) {
/// if let Some(server) = e.server_error() {
///     if server.error_codes().contains(&50076) {
///         println!("MFA needed; claims = {:?}", server.claims());
///     }
/// }
/// # }
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct ServerError {
    pub(crate) status: u16,
    pub(crate) error: String,
    pub(crate) error_description: Option<String>,
    pub(crate) error_codes: Vec<u64>,
    pub(crate) suberror: Option<String>,
    pub(crate) timestamp: Option<String>,
    pub(crate) trace_id: Option<String>,
    pub(crate) correlation_id: Option<String>,
    pub(crate) claims: Option<String>,
    pub(crate) retry_after: Option<Duration>,
    pub(crate) request_correlation_id: Option<CorrelationId>,
}

/// `error` values that always mean the user must interact (msal-js
/// `InteractionRequiredServerErrorMessage`).
const INTERACTION_REQUIRED_ERRORS: [&str; 4] = [
    "interaction_required",
    "consent_required",
    "login_required",
    "bad_token",
];

/// `suberror` values that mean the user must interact (msal-js
/// `InteractionRequiredAuthSubErrorMessage`).
const INTERACTION_REQUIRED_SUBERRORS: [&str; 6] = [
    "message_only",
    "additional_action",
    "basic_action",
    "user_password_expired",
    "consent_required",
    "bad_token",
];

/// `invalid_grant` suberrors that interaction cannot fix (MSAL.NET `MsalServiceExceptionFactory`).
const NOT_INTERACTION_SUBERRORS: [&str; 2] = ["client_mismatch", "protection_policy_required"];

impl ServerError {
    /// The HTTP status code of the response.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// REQUIRED. The OAuth 2.0 `error` code, e.g. `invalid_client` (RFC 6749 §5.2).
    pub fn error(&self) -> &str {
        &self.error
    }

    /// OPTIONAL. Human-readable text; Entra starts it with the `AADSTS` code.
    pub fn error_description(&self) -> Option<&str> {
        self.error_description.as_deref()
    }

    /// Entra's numeric `AADSTS` codes (`error_codes`), e.g. `[50076]`.
    pub fn error_codes(&self) -> &[u64] {
        &self.error_codes
    }

    /// Entra's `suberror`, e.g. `basic_action` or `consent_required`.
    pub fn suberror(&self) -> Option<&str> {
        self.suberror.as_deref()
    }

    /// The server's `timestamp`.
    pub fn timestamp(&self) -> Option<&str> {
        self.timestamp.as_deref()
    }

    /// The server's `trace_id`.
    pub fn trace_id(&self) -> Option<&str> {
        self.trace_id.as_deref()
    }

    /// The `correlation_id` the server reported (normally our `client-request-id`).
    pub fn correlation_id(&self) -> Option<&str> {
        self.correlation_id.as_deref()
    }

    /// The claims challenge, verbatim: in token-endpoint errors this is JSON text, passed on
    /// unchanged to the next authorize or token request.
    pub fn claims(&self) -> Option<&str> {
        self.claims.as_deref().filter(|c| !c.trim().is_empty())
    }

    /// How long the server asked us to wait before retrying (`Retry-After`).
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }

    /// Whether the user must interact (sign in, consent, MFA). True when `error` is
    /// `interaction_required`, `login_required`, `consent_required` or `bad_token`; when `suberror`
    /// is one of `basic_action`, `additional_action`, `message_only`, `user_password_expired`,
    /// `consent_required`, `bad_token`; when `error` is `invalid_grant` with no suberror or one
    /// other than `client_mismatch` / `protection_policy_required`; or when the description names
    /// one of the interaction-required error codes. `invalid_client` never is.
    pub fn is_interaction_required(&self) -> bool {
        let error = self.error.as_str();
        if error.eq_ignore_ascii_case("invalid_client") {
            return false;
        }
        let suberror = self.suberror.as_deref().unwrap_or("");
        if INTERACTION_REQUIRED_ERRORS
            .iter()
            .any(|e| error.eq_ignore_ascii_case(e))
        {
            return true;
        }
        if INTERACTION_REQUIRED_SUBERRORS
            .iter()
            .any(|s| suberror.eq_ignore_ascii_case(s))
        {
            return true;
        }
        if error.eq_ignore_ascii_case("invalid_grant") {
            return !NOT_INTERACTION_SUBERRORS
                .iter()
                .any(|s| suberror.eq_ignore_ascii_case(s));
        }
        self.error_description
            .as_deref()
            .is_some_and(|d| INTERACTION_REQUIRED_ERRORS.iter().any(|e| d.contains(e)))
    }

    /// Whether retrying later may help: HTTP 5xx or 429, or `temporarily_unavailable` /
    /// `server_error` (RFC 6749 §4.1.2.1).
    pub fn is_retryable(&self) -> bool {
        self.status == 429
            || (500..600).contains(&self.status)
            || self.error == "temporarily_unavailable"
            || self.error == "server_error"
    }
}

impl fmt::Display for ServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "token endpoint error {}", self.error)?;
        if let Some(description) = &self.error_description {
            // Entra descriptions end with "\r\nTrace ID: ..."; keep the first line.
            let first = description.lines().next().unwrap_or("");
            write!(f, ": {first}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for ServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerError")
            .field("status", &self.status)
            .field("error", &self.error)
            .field("error_description", &self.error_description)
            .field("error_codes", &self.error_codes)
            .field("suberror", &self.suberror)
            .field("trace_id", &self.trace_id)
            .field("correlation_id", &self.correlation_id)
            .field("claims", &self.claims)
            .field("retry_after", &self.retry_after)
            .finish_non_exhaustive()
    }
}

impl std::error::Error for ServerError {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::response::parse_server_error;

    fn parse(status: u16, json: &str) -> ServerError {
        parse_server_error(status, json.as_bytes(), None, None).expect("vector parses")
    }

    /// Source: Microsoft identity platform "On-behalf-of flow" error response example.
    const OBO_MFA: &str = r#"{
        "error":"interaction_required",
        "error_description":"AADSTS50079: Due to a configuration change made by your administrator, or because you moved to a new location, you must enroll in multifactor authentication to access 'bf8d80f9-9098-4972-b203-500f535113b1'.\r\nTrace ID: b72a68c3-0926-4b8e-bc35-3150069c2800\r\nCorrelation ID: 73d656cf-54b1-4eb2-b429-26d8165a52d7\r\nTimestamp: 2017-05-01 22:43:20Z",
        "error_codes":[50079],
        "timestamp":"2017-05-01 22:43:20Z",
        "trace_id":"b72a68c3-0926-4b8e-bc35-3150069c2800",
        "correlation_id":"73d656cf-54b1-4eb2-b429-26d8165a52d7",
        "claims":"{\"access_token\":{\"polids\":{\"essential\":true,\"values\":[\"9ab03e19-ed42-4168-b6b7-7001fb3e933a\"]}}}"
    }"#;

    #[test]
    fn obo_mfa_vector_is_interaction_required_with_claims() {
        let e = parse(400, OBO_MFA);
        assert!(e.is_interaction_required());
        assert_eq!(
            e.claims(),
            Some(
                r#"{"access_token":{"polids":{"essential":true,"values":["9ab03e19-ed42-4168-b6b7-7001fb3e933a"]}}}"#
            )
        );
        assert_eq!(e.error_codes(), [50079]);
        assert_eq!(e.trace_id(), Some("b72a68c3-0926-4b8e-bc35-3150069c2800"));
        assert_eq!(
            e.correlation_id(),
            Some("73d656cf-54b1-4eb2-b429-26d8165a52d7")
        );
        assert_eq!(e.timestamp(), Some("2017-05-01 22:43:20Z"));
        assert_eq!(e.suberror(), None);
        assert!(!e.is_retryable());
        let err = Error::Server(Box::new(e));
        assert!(err.is_interaction_required());
        assert!(err.claims().is_some());
        // Display keeps only the first line of the description.
        assert!(!err.to_string().contains("Trace ID"));
        assert!(
            err.to_string()
                .starts_with("token endpoint error interaction_required: AADSTS50079")
        );
    }

    /// Source: real AADSTS50076 captures (interaction_required and invalid_grant, basic_action).
    #[test]
    fn aadsts50076_both_shapes_are_interaction_required_without_claims() {
        let a = parse(
            400,
            r#"{"error":"interaction_required","error_description":"AADSTS50076: Due to a configuration change ...","error_codes":[50076],"timestamp":"2020-11-05 19:52:45Z","trace_id":"5c3bd525-61b3-44d4-a70a-fb93e9ddc500","correlation_id":"d66bc564-8e3b-45d1-8909-988927d3ec8e","error_uri":"https://login.microsoftonline.com/error?code=50076","suberror":"basic_action"}"#,
        );
        let b = parse(
            400,
            r#"{"error":"invalid_grant","error_description":"AADSTS50076: Due to a configuration change ...","error_codes":[50076],"suberror":"basic_action"}"#,
        );
        for e in [a, b] {
            assert!(e.is_interaction_required());
            assert_eq!(e.claims(), None);
            assert_eq!(e.suberror(), Some("basic_action"));
        }
    }

    /// Source: Microsoft identity platform error-codes reference (standard envelope).
    #[test]
    fn invalid_scope_is_not_interaction_required() {
        let e = parse(
            400,
            r#"{"error": "invalid_scope","error_description": "AADSTS70011: The provided value for the input parameter 'scope' isn't valid.","error_codes": [70011],"timestamp": "2016-01-09 02:02:12Z","trace_id": "0000aaaa-11bb-cccc-dd33-eeeeee333333","correlation_id": "aaaa0000-bb11-2222-33cc-444444dddddd","error_uri":"https://login.microsoftonline.com/error?code=70011"}"#,
        );
        assert!(!e.is_interaction_required());
        assert_eq!(e.error_codes(), [70011]);
    }

    /// Source: MSAL.NET `MsalExceptionTests` JsonError with varying suberrors.
    #[test]
    fn msal_net_invalid_grant_suberror_table() {
        let table: &[(Option<&str>, bool)] = &[
            (Some("some_suberror"), true),
            (Some("client_mismatch"), false),
            (Some("protection_policy_required"), false),
            (Some("basic_action"), true),
            (Some("bad_token"), true),
            (Some("token_expired"), true),
            (Some("device_authentication_failed"), true),
            (Some(""), true),
            (None, true),
        ];
        for (suberror, expected) in table {
            let sub = suberror.map_or(String::new(), |s| format!(r#""suberror":"{s}","#));
            let json = format!(
                r#"{{ "error":"invalid_grant", {sub} "claims":"some_claims", "error_description":"AADSTS90002: Tenant 'x' not found. ", "error_codes":[90002],"timestamp":"2019-01-28 14:16:04Z", "trace_id":"43f14373-8d7d-466e-a5f1-6e3889291e00", "correlation_id":"6347d33d-941a-4c35-9912-a9cf54fb1b3e"}}"#
            );
            let e = parse(400, &json);
            assert_eq!(
                e.is_interaction_required(),
                *expected,
                "suberror {suberror:?}"
            );
            assert_eq!(e.claims(), Some("some_claims"));
            assert_eq!(
                e.correlation_id(),
                Some("6347d33d-941a-4c35-9912-a9cf54fb1b3e")
            );
        }
    }

    /// Source: MSAL.NET `MockHelpers.CreateInvalidGrantTokenResponseMessage` with a base64 claims
    /// challenge: passed through verbatim.
    #[test]
    fn invalid_grant_with_base64_claims_passes_claims_verbatim() {
        let claims =
            "eyJhY2Nlc3NfdG9rZW4iOnsiYWNycyI6eyJlc3NlbnRpYWwiOnRydWUsInZhbHVlIjoiY3AxIn19fQ==";
        let json = format!(
            r#"{{"error":"invalid_grant","error_description":"AADSTS70002: Error validating credentials.AADSTS70008: The provided access grant is expired or revoked.","error_codes":[70002,70008],"timestamp":"2015-09-16 07:24:55Z","trace_id":"f7ec686c-9196-4220-a754-cd9197de44e9","claims":"{claims}","correlation_id":"04bb0cae-580b-49ac-9a10-b6c3316b1eaa"}}"#
        );
        let e = parse(400, &json);
        assert!(e.is_interaction_required());
        assert_eq!(e.claims(), Some(claims));
        assert_eq!(e.error_codes(), [70002, 70008]);
    }

    #[test]
    fn msal_js_error_codes_and_suberrors() {
        for error in [
            "login_required",
            "consent_required",
            "bad_token",
            "INTERACTION_REQUIRED",
        ] {
            assert!(parse(400, &format!(r#"{{"error":"{error}"}}"#)).is_interaction_required());
        }
        for sub in [
            "message_only",
            "additional_action",
            "user_password_expired",
            "consent_required",
        ] {
            let e = parse(
                400,
                &format!(r#"{{"error":"access_denied","suberror":"{sub}"}}"#),
            );
            assert!(e.is_interaction_required(), "{sub}");
        }
        let e = parse(
            400,
            r#"{"error":"access_denied","error_description":"the server says login_required"}"#,
        );
        assert!(e.is_interaction_required());
        assert!(!parse(400, r#"{"error":"access_denied"}"#).is_interaction_required());
        // invalid_client never is, whatever the suberror.
        let e = parse(
            401,
            r#"{"error":"invalid_client","suberror":"basic_action","error_description":"login_required"}"#,
        );
        assert!(!e.is_interaction_required());
    }

    #[test]
    fn retryable_classification() {
        assert!(parse(503, r#"{"error":"temporarily_unavailable"}"#).is_retryable());
        assert!(parse(429, r#"{"error":"too_many_requests"}"#).is_retryable());
        assert!(parse(200, r#"{"error":"server_error"}"#).is_retryable());
        assert!(!parse(400, r#"{"error":"invalid_request"}"#).is_retryable());
        assert!(!parse(401, r#"{"error":"invalid_client"}"#).is_retryable());
    }

    #[test]
    fn error_is_send_sync_clone_and_small() {
        fn assert_traits<T: Send + Sync + Clone + std::error::Error + 'static>() {}
        assert_traits::<Error>();
        assert_traits::<ServerError>();
        assert!(std::mem::size_of::<Error>() <= 64);
    }

    #[test]
    fn transport_errors_are_retryable_and_carry_the_correlation_id() {
        let id = CorrelationId::random();
        let e = Error::Timeout {
            correlation_id: Some(id),
            source: None,
        };
        assert!(e.is_timeout() && e.is_retryable());
        assert_eq!(e.correlation_id(), Some(id));
        assert_eq!(e.to_string(), "request timed out");
        let e = Error::HttpStatus {
            status: 502,
            correlation_id: None,
            retry_after: None,
        };
        assert!(e.is_retryable());
        assert!(!Error::config("x").is_retryable());
    }
}
