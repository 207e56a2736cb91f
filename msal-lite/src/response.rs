//! Parsing responses from the token and metadata endpoints.
//!
//! Attacker-controlled input: nothing here panics, and nothing from the body reaches an error
//! message except the OAuth 2.0 error fields.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::HeaderMap;
use http::header::CONTENT_TYPE;
use serde::Deserialize;
use serde::de::{self, DeserializeOwned, Deserializer};

use crate::error::{BoxError, ServerError};
use crate::http::HttpResponse;
use crate::{CorrelationId, Error};

/// A successful token response (RFC 6749 §5.1) with Entra's extra fields
/// (Microsoft identity platform: "Successful response" of the token endpoint).
#[derive(Deserialize)]
pub(crate) struct TokenResponse {
    pub(crate) access_token: String,
    #[serde(default = "bearer")]
    pub(crate) token_type: String,
    #[serde(default = "missing_expires_in", deserialize_with = "lenient_u64")]
    pub(crate) expires_in: u64,
    #[serde(default, deserialize_with = "lenient_opt_u64")]
    pub(crate) ext_expires_in: Option<u64>,
    #[serde(default, deserialize_with = "lenient_opt_u64")]
    pub(crate) refresh_in: Option<u64>,
    #[serde(default)]
    pub(crate) scope: Option<String>,
    #[serde(default)]
    pub(crate) refresh_token: Option<String>,
}

fn bearer() -> String {
    "Bearer".to_owned()
}

/// The lifetime assumed when a token response has no `expires_in` (RFC 6749 §5.1 makes it
/// RECOMMENDED, not required): 600 s, as MSAL Python assumes (`token_cache.py`,
/// `default_expires_in`), rather than failing a call that did get a token.
const DEFAULT_EXPIRES_IN: u64 = 600;

fn missing_expires_in() -> u64 {
    tracing::warn!(
        expires_in = DEFAULT_EXPIRES_IN,
        "the token response has no expires_in; assuming the default lifetime"
    );
    DEFAULT_EXPIRES_IN
}

impl fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenResponse")
            .field("access_token", &"[redacted]")
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("refresh_in", &self.refresh_in)
            .field("scope", &self.scope)
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "[redacted]"),
            )
            .finish_non_exhaustive()
    }
}

/// Numbers that some servers (and old Entra endpoints) send as strings: `3599` or `"3599"`.
#[derive(Deserialize)]
#[serde(untagged)]
enum NumOrString {
    Num(u64),
    Float(f64),
    Str(String),
}

fn to_u64<E: de::Error>(value: NumOrString) -> Result<u64, E> {
    match value {
        NumOrString::Num(n) => Ok(n),
        NumOrString::Float(f) if f.is_finite() && f >= 0.0 => Ok(f as u64),
        NumOrString::Float(_) => Err(E::custom("expected a non-negative number")),
        NumOrString::Str(s) => s
            .trim()
            .parse()
            .map_err(|_| E::custom("expected a number or a string of digits")),
    }
}

fn lenient_u64<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    to_u64(NumOrString::deserialize(d)?)
}

fn lenient_opt_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    match Option::<NumOrString>::deserialize(d)? {
        None => Ok(None),
        Some(v) => to_u64(v).map(Some),
    }
}

/// The OAuth 2.0 error body (RFC 6749 §5.2) plus Entra's fields.
#[derive(Deserialize)]
struct ErrorBody {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
    #[serde(default)]
    error_codes: Vec<serde_json::Value>,
    #[serde(default)]
    suberror: Option<String>,
    #[serde(default)]
    timestamp: Option<String>,
    #[serde(default)]
    trace_id: Option<String>,
    #[serde(default)]
    correlation_id: Option<String>,
    #[serde(default)]
    claims: Option<String>,
}

/// Reads an OAuth 2.0 error body; `None` when the body is not one.
#[cfg(test)]
pub(crate) fn parse_server_error(
    status: u16,
    body: &[u8],
    retry_after: Option<Duration>,
    request_correlation_id: Option<CorrelationId>,
) -> Option<ServerError> {
    let body: ErrorBody = serde_json::from_slice(body).ok()?;
    Some(server_error(
        status,
        body,
        retry_after,
        request_correlation_id,
    ))
}

fn server_error(
    status: u16,
    body: ErrorBody,
    retry_after: Option<Duration>,
    request_correlation_id: Option<CorrelationId>,
) -> ServerError {
    ServerError {
        status,
        error: body.error,
        error_description: body.error_description,
        // Codes are numbers, but be lenient about strings; drop anything else.
        error_codes: body
            .error_codes
            .iter()
            .filter_map(|v| {
                v.as_u64()
                    .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            })
            .collect(),
        suberror: body.suberror.filter(|s| !s.is_empty()),
        timestamp: body.timestamp,
        trace_id: body.trace_id,
        correlation_id: body.correlation_id,
        claims: body.claims,
        retry_after,
        request_correlation_id,
    }
}

fn is_json(headers: &HeaderMap) -> Option<bool> {
    let value = headers.get(CONTENT_TYPE)?.to_str().ok()?;
    let mime = value.split(';').next().unwrap_or("").trim();
    Some(
        mime.eq_ignore_ascii_case("application/json")
            || (mime.len() > 5
                && mime[..mime.len() - 5].contains('/')
                && mime.to_ascii_lowercase().ends_with("+json")),
    )
}

/// Turns a response into `T`, or the most specific error: an OAuth error body becomes
/// [`Error::Server`], a non-JSON error status [`Error::HttpStatus`], a non-JSON success
/// [`Error::ContentType`], unparsable JSON [`Error::MalformedResponse`].
pub(crate) fn parse_json<T: DeserializeOwned>(
    response: &HttpResponse,
    correlation_id: Option<CorrelationId>,
) -> Result<T, Error> {
    let status = response.status();
    let retry_after = crate::http::retry_after_header(response.headers());
    let http_status = || Error::HttpStatus {
        status: status.as_u16(),
        correlation_id,
        retry_after,
    };
    if is_json(response.headers()) != Some(true) {
        if !status.is_success() {
            return Err(http_status());
        }
        return Err(Error::ContentType {
            content_type: response.headers().get(CONTENT_TYPE).map(|v| {
                String::from_utf8_lossy(v.as_bytes())
                    .chars()
                    .take(100)
                    .collect()
            }),
            status: status.as_u16(),
            correlation_id,
        });
    }
    let value: serde_json::Value = match serde_json::from_slice(response.body()) {
        Ok(value) => value,
        Err(_) if !status.is_success() => return Err(http_status()),
        Err(e) => {
            return Err(Error::malformed(
                "the response is not valid JSON",
                correlation_id,
                Some(Arc::new(e) as BoxError),
            ));
        }
    };
    if value.get("error").is_some_and(serde_json::Value::is_string) {
        let body: ErrorBody = serde_json::from_value(value).map_err(|e| {
            Error::malformed(
                "the error response has fields of the wrong type",
                correlation_id,
                Some(Arc::new(e) as BoxError),
            )
        })?;
        return Err(Error::Server(Box::new(server_error(
            status.as_u16(),
            body,
            retry_after,
            correlation_id,
        ))));
    }
    if !status.is_success() {
        return Err(http_status());
    }
    serde_json::from_value(value).map_err(|e| {
        Error::malformed(
            "the response lacks a required field or has one of the wrong type",
            correlation_id,
            Some(Arc::new(e) as BoxError),
        )
    })
}

/// Parses a token response and checks what RFC 6749 §5.1 requires.
pub(crate) fn parse_token_response(
    response: &HttpResponse,
    correlation_id: Option<CorrelationId>,
) -> Result<TokenResponse, Error> {
    let token: TokenResponse = parse_json(response, correlation_id)?;
    if token.access_token.is_empty() {
        return Err(Error::malformed(
            "the token response has an empty access_token",
            correlation_id,
            None,
        ));
    }
    Ok(token)
}

/// The `tid` claim of a JWT access token, read without verifying it: informational only (the
/// token is meant for the resource, not for us).
pub(crate) fn jwt_tenant_id(token: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Tid {
        tid: Option<String>,
    }
    let mut parts = token.split('.');
    let payload = parts.nth(1)?;
    if parts.count() != 1 || payload.len() > 64 * 1024 {
        return None;
    }
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    serde_json::from_slice::<Tid>(&bytes).ok()?.tid
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use proptest::prelude::*;

    use super::*;

    fn response(status: u16, content_type: Option<&str>, body: &str) -> HttpResponse {
        let mut b = http::Response::builder().status(status);
        if let Some(ct) = content_type {
            b = b.header(CONTENT_TYPE, ct);
        }
        b.body(Bytes::from(body.to_owned())).unwrap()
    }

    const JSON: Option<&str> = Some("application/json; charset=utf-8");

    #[test]
    fn success_with_numbers_as_strings() {
        let r = response(
            200,
            JSON,
            r#"{"token_type":"Bearer","expires_in":"3599","ext_expires_in":3599,"refresh_in":"1800","access_token":"at","scope":"https://graph.microsoft.com/.default"}"#,
        );
        let t = parse_token_response(&r, None).unwrap();
        assert_eq!(
            (t.expires_in, t.ext_expires_in, t.refresh_in),
            (3599, Some(3599), Some(1800))
        );
        assert_eq!(t.token_type, "Bearer");
        assert!(!format!("{t:?}").contains("\"at\""));
    }

    /// Source: msal-node test fixture `AUTHENTICATION_RESULT` (shape; tokens shortened).
    #[test]
    fn msal_node_fixture_shape() {
        let r = response(
            200,
            JSON,
            r#"{"token_type":"Bearer","scope":"openid profile User.Read email","expires_in":3599,"ext_expires_in":3599,"access_token":"thisIs.an.accessT0ken","refresh_token":"thisIsARefreshT0ken","id_token":"a.b.c","client_info":"eyJ1aWQiOiIxMjMtdGVzdC11aWQiLCJ1dGlkIjoiNDU2LXRlc3QtdXRpZCJ9"}"#,
        );
        let t = parse_token_response(&r, None).unwrap();
        assert_eq!(t.scope.as_deref(), Some("openid profile User.Read email"));
        assert_eq!(t.refresh_token.as_deref(), Some("thisIsARefreshT0ken"));
    }

    #[test]
    fn distinct_error_kinds() {
        let id = Some(CorrelationId::random());
        let e = parse_token_response(&response(200, Some("text/html"), "<html>"), id).unwrap_err();
        assert!(matches!(e, Error::ContentType { status: 200, .. }), "{e:?}");
        assert_eq!(e.correlation_id(), id);
        let e = parse_token_response(&response(200, None, "{}"), id).unwrap_err();
        assert!(matches!(
            e,
            Error::ContentType {
                content_type: None,
                ..
            }
        ));
        let e = parse_token_response(&response(200, JSON, "{\"access_"), id).unwrap_err();
        assert!(matches!(e, Error::MalformedResponse { .. }), "{e:?}");
        let e = parse_token_response(&response(200, JSON, r#"{"token_type":"Bearer"}"#), id)
            .unwrap_err();
        assert!(matches!(e, Error::MalformedResponse { .. }));
        let e = parse_token_response(
            &response(200, JSON, r#"{"access_token":"","expires_in":1}"#),
            id,
        )
        .unwrap_err();
        assert!(matches!(e, Error::MalformedResponse { .. }));
        let e =
            parse_token_response(&response(502, Some("text/html"), "bad gateway"), id).unwrap_err();
        assert!(matches!(e, Error::HttpStatus { status: 502, .. }) && e.is_retryable());
        let e = parse_token_response(&response(500, JSON, "not json"), id).unwrap_err();
        assert!(matches!(e, Error::HttpStatus { status: 500, .. }));
        let e = parse_token_response(&response(404, JSON, "{}"), id).unwrap_err();
        assert!(matches!(e, Error::HttpStatus { status: 404, .. }));
        let e = parse_token_response(
            &response(
                401,
                JSON,
                r#"{"error":"invalid_client","error_codes":["7000215"]}"#,
            ),
            id,
        )
        .unwrap_err();
        let server = e.server_error().unwrap();
        assert_eq!((server.status(), server.error()), (401, "invalid_client"));
        assert_eq!(server.error_codes(), [7000215]);
        assert_eq!(e.correlation_id(), id);
        // Wrong types in an error body are malformed, not a panic.
        let e = parse_token_response(
            &response(400, JSON, r#"{"error":"x","error_description":5}"#),
            id,
        )
        .unwrap_err();
        assert!(matches!(e, Error::MalformedResponse { .. }));
    }

    #[test]
    fn messages_never_contain_the_body() {
        let secretish = "SECRET-BODY-CONTENT";
        for r in [
            response(200, JSON, &format!("{{\"access_token\":\"{secretish}\"")),
            response(200, Some("text/plain"), secretish),
            response(500, JSON, secretish),
        ] {
            let e = parse_token_response(&r, None).unwrap_err();
            assert!(!format!("{e} {e:?}").contains(secretish));
        }
    }

    #[test]
    fn tenant_from_jwt() {
        let payload = URL_SAFE_NO_PAD.encode(r#"{"tid":"b3c2a1f0","aud":"x"}"#);
        assert_eq!(
            jwt_tenant_id(&format!("h.{payload}.s")).as_deref(),
            Some("b3c2a1f0")
        );
        assert_eq!(
            jwt_tenant_id(&format!("h.{payload}=.s")).as_deref(),
            Some("b3c2a1f0")
        );
        assert_eq!(jwt_tenant_id("opaque-token"), None);
        assert_eq!(jwt_tenant_id(&format!("h.{payload}.s.x")), None);
        assert_eq!(jwt_tenant_id("h.!!!.s"), None);
    }

    #[test]
    fn json_content_types() {
        for (ct, ok) in [
            ("application/json", true),
            ("Application/JSON;charset=utf-8", true),
            ("application/problem+json", true),
            ("text/json", false),
            ("+json", false),
            ("text/html", false),
        ] {
            let mut h = HeaderMap::new();
            h.insert(CONTENT_TYPE, ct.parse().unwrap());
            assert_eq!(is_json(&h), Some(ok), "{ct}");
        }
    }

    proptest! {
        #[test]
        fn never_panics(status in 100u16..600, body in ".{0,200}", json in any::<bool>()) {
            let r = response(status, if json { JSON } else { Some("text/plain") }, &body);
            let _ = parse_token_response(&r, None);
        }

        #[test]
        fn never_panics_on_json_shapes(
            access in proptest::option::of(".{0,10}"),
            expires in prop_oneof![Just("1".to_owned()), Just("\"12\"".to_owned()), Just("-1".to_owned()), Just("1e400".to_owned()), Just("null".to_owned()), Just("\"x\"".to_owned())],
        ) {
            let body = match access {
                Some(a) => format!(r#"{{"access_token":{},"expires_in":{expires}}}"#, serde_json::Value::String(a)),
                None => format!(r#"{{"expires_in":{expires}}}"#),
            };
            let _ = parse_token_response(&response(200, JSON, &body), None);
        }
    }
}
