//! Builders for the error bodies Entra's token endpoint and Microsoft Graph return.
//!
//! Token endpoint errors follow the "Microsoft identity platform error codes" reference:
//! `error`, `error_description` (ending with Trace ID, Correlation ID and Timestamp lines),
//! `error_codes`, `timestamp`, `trace_id`, `correlation_id`, `error_uri`, and optionally
//! `suberror` and `claims`. Graph errors follow "Microsoft Graph error responses".

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// An OAuth error as Entra reports it.
#[derive(Debug, Clone)]
pub(crate) struct EntraError {
    pub(crate) status: StatusCode,
    pub(crate) error: &'static str,
    pub(crate) code: u32,
    pub(crate) message: String,
    pub(crate) suberror: Option<&'static str>,
    pub(crate) claims: Option<String>,
}

impl EntraError {
    pub(crate) fn new(
        status: StatusCode,
        error: &'static str,
        code: u32,
        message: impl Into<String>,
    ) -> Self {
        Self {
            status,
            error,
            code,
            message: message.into(),
            suberror: None,
            claims: None,
        }
    }

    pub(crate) fn invalid_request(code: u32, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", code, message)
    }

    pub(crate) fn missing(param: &str) -> Self {
        Self::invalid_request(
            900144,
            format!("The request body must contain the following parameter: '{param}'."),
        )
    }

    pub(crate) fn invalid_grant(code: u32, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_grant", code, message)
    }

    pub(crate) fn invalid_client(code: u32, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "invalid_client", code, message)
    }

    pub(crate) fn invalid_scope(code: u32, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_scope", code, message)
    }

    pub(crate) fn unauthorized_client(code: u32, message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            code,
            message,
        )
    }

    pub(crate) fn unknown_client(client_id: &str, tenant: &str) -> Self {
        Self::unauthorized_client(
            700016,
            format!(
                "Application with identifier '{client_id}' was not found in the directory '{tenant}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant."
            ),
        )
    }

    pub(crate) fn consent_required(client_id: &str, resource: &str, scope: &str) -> Self {
        let mut e = Self::invalid_grant(
            65001,
            format!(
                "The user or administrator has not consented to use the application with ID '{client_id}'. Send an interactive authorization request for this user and resource. Permission '{scope}' on resource '{resource}' is not granted."
            ),
        );
        e.suberror = Some("consent_required");
        e
    }

    /// AADSTS50076 as Entra's token endpoint sends it today: `invalid_grant`, `suberror`
    /// `basic_action`, and `claims` naming the Conditional Access policies in `capolids`
    /// (Microsoft identity platform error codes: AADSTS50076; "Claims challenges, claims
    /// requests and client capabilities"). The older `interaction_required` + `polids` shape
    /// only survives in a docs example.
    pub(crate) fn mfa_required(resource: &str, policy_ids: &[String]) -> Self {
        let claims = serde_json::json!({"access_token": {"capolids": {"essential": true, "values": policy_ids}}});
        let mut e = Self::invalid_grant(
            50076,
            format!(
                "Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access '{resource}'."
            ),
        );
        e.suberror = Some("basic_action");
        e.claims = Some(claims.to_string());
        e
    }

    /// The body for this error with fresh trace id and timestamp.
    pub(crate) fn body(&self, correlation_id: Option<&str>) -> ErrorBody {
        let trace_id = uuid::Uuid::new_v4().to_string();
        let correlation_id =
            correlation_id.map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned);
        let timestamp = crate::time::entra_timestamp();
        ErrorBody {
            error: self.error,
            error_description: format!(
                "AADSTS{}: {}\r\nTrace ID: {trace_id}\r\nCorrelation ID: {correlation_id}\r\nTimestamp: {timestamp}",
                self.code, self.message
            ),
            error_codes: vec![self.code],
            timestamp,
            trace_id,
            correlation_id,
            error_uri: format!("https://login.microsoftonline.com/error?code={}", self.code),
            suberror: self.suberror,
            claims: self.claims.clone(),
        }
    }

    pub(crate) fn into_response_for(self, correlation_id: Option<&str>) -> Response {
        let body = self.body(correlation_id);
        let mut response = (
            self.status,
            json_headers(),
            serde_json::to_string(&body).unwrap_or_default(),
        )
            .into_response();
        if let Ok(v) = HeaderValue::from_str(&body.trace_id) {
            response.headers_mut().insert("x-ms-request-id", v);
        }
        if let Ok(v) = HeaderValue::from_str(&body.correlation_id) {
            response.headers_mut().insert("client-request-id", v);
        }
        response
    }
}

/// The serialized token-endpoint error.
#[derive(Debug, Serialize)]
pub(crate) struct ErrorBody {
    pub(crate) error: &'static str,
    pub(crate) error_description: String,
    pub(crate) error_codes: Vec<u32>,
    pub(crate) timestamp: String,
    pub(crate) trace_id: String,
    pub(crate) correlation_id: String,
    pub(crate) error_uri: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) suberror: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) claims: Option<String>,
}

pub(crate) fn json_headers() -> [(header::HeaderName, HeaderValue); 2] {
    [
        (
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        ),
        (
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store, no-cache"),
        ),
    ]
}

/// The correlation id a client asked for: the `client-request-id` header, else the parameter.
pub(crate) fn correlation_id<'a>(
    headers: &'a HeaderMap,
    param: Option<&'a str>,
) -> Option<&'a str> {
    headers
        .get("client-request-id")
        .and_then(|v| v.to_str().ok())
        .or(param)
        .map(str::trim)
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
}

/// A Microsoft Graph error response.
#[derive(Debug, Clone)]
pub(crate) struct GraphError {
    pub(crate) status: StatusCode,
    pub(crate) code: &'static str,
    pub(crate) message: String,
    pub(crate) www_authenticate: Option<String>,
}

impl GraphError {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            www_authenticate: None,
        }
    }

    /// Graph's 401: `InvalidAuthenticationToken`, and a `WWW-Authenticate` naming where to get
    /// a token and for which resource, as Microsoft Graph sends it (`authorization_uri`,
    /// `client_id` = Graph's app id; Microsoft Graph error responses), plus RFC 6750's
    /// `error="invalid_token"` when a token was presented (section 3.1: not for a missing one).
    pub(crate) fn unauthenticated(authorization_uri: &str, message: impl Into<String>) -> Self {
        let mut e = Self::new(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            message,
        );
        e.www_authenticate = Some(format!(
            "Bearer realm=\"\", authorization_uri=\"{authorization_uri}\", client_id=\"{}\", error=\"invalid_token\"",
            crate::quickstart::GRAPH_APP_ID
        ));
        e
    }

    /// [`GraphError::unauthenticated`] for a request with no token: no `error` parameter.
    pub(crate) fn no_token(authorization_uri: &str) -> Self {
        let mut e = Self::unauthenticated(authorization_uri, "Access token is empty.");
        e.www_authenticate = e
            .www_authenticate
            .map(|h| h.replace(", error=\"invalid_token\"", ""));
        e
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "Request_BadRequest", message)
    }

    pub(crate) fn forbidden() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
        )
    }
}

impl IntoResponse for GraphError {
    fn into_response(self) -> Response {
        let request_id = uuid::Uuid::new_v4().to_string();
        let body = serde_json::json!({
            "error": {
                "code": self.code,
                "message": self.message,
                "innerError": {
                    "date": crate::time::graph_date(),
                    "request-id": request_id,
                    "client-request-id": request_id,
                }
            }
        });
        let mut response = (self.status, json_headers(), body.to_string()).into_response();
        if let Some(v) = self
            .www_authenticate
            .and_then(|v| HeaderValue::from_str(&v).ok())
        {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
        if let Ok(v) = HeaderValue::from_str(&request_id) {
            response.headers_mut().insert("request-id", v);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mfa_required_shape() {
        let e = EntraError::mfa_required("api", &["p1".to_owned()]);
        let body = serde_json::to_value(e.body(Some("corr-1"))).unwrap();
        assert_eq!(body["error"], "invalid_grant");
        assert_eq!(body["error_codes"], serde_json::json!([50076]));
        assert_eq!(body["suberror"], "basic_action");
        assert_eq!(body["correlation_id"], "corr-1");
        assert_eq!(
            body["claims"],
            r#"{"access_token":{"capolids":{"essential":true,"values":["p1"]}}}"#
        );
        let d = body["error_description"].as_str().unwrap();
        assert!(d.starts_with("AADSTS50076: "));
        assert!(
            d.contains("\r\nTrace ID: ") && d.contains("\r\nCorrelation ID: corr-1\r\nTimestamp: ")
        );
    }

    #[test]
    fn correlation_id_sanitised() {
        let mut h = HeaderMap::new();
        assert_eq!(correlation_id(&h, Some("abc")), Some("abc"));
        assert_eq!(correlation_id(&h, Some("a b")), None);
        h.insert("client-request-id", HeaderValue::from_static("hdr"));
        assert_eq!(correlation_id(&h, Some("abc")), Some("hdr"));
    }
}
