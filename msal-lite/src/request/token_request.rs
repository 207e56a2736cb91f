//! Building and sending a token request (RFC 6749 §3.2, form-encoded POST).

use bytes::Bytes;
use http::header::{ACCEPT, CONTENT_TYPE};
use http::{HeaderMap, HeaderName, HeaderValue};

use crate::http::{HttpClient, RequestTelemetry, RetryPolicy, send_with_retry};
use crate::response::{TokenResponse, parse_token_response};
use crate::{CorrelationId, Error};

/// Form fields in insertion order.
#[derive(Default)]
pub(crate) struct Form(Vec<(&'static str, String)>);

impl Form {
    pub(crate) fn push(&mut self, name: &'static str, value: &str) {
        self.0.push((name, value.to_owned()));
    }

    /// `application/x-www-form-urlencoded` (so scope separators become `+`).
    pub(crate) fn encode(&self) -> String {
        let mut out = url::form_urlencoded::Serializer::new(String::new());
        for (name, value) in &self.0 {
            out.append_pair(name, value);
        }
        out.finish()
    }
}

/// A token request before it is sent: endpoint, form, extra headers and what the server
/// telemetry headers say about it (none: derived from the `grant_type`).
pub(crate) struct TokenRequest {
    pub(crate) endpoint: String,
    pub(crate) form: Form,
    pub(crate) headers: HeaderMap,
    pub(crate) telemetry: Option<RequestTelemetry>,
}

impl TokenRequest {
    pub(crate) fn new(endpoint: String) -> Self {
        Self {
            endpoint,
            form: Form::default(),
            headers: HeaderMap::new(),
            telemetry: None,
        }
    }

    /// The `http` request: method, body, headers (the common ones included) and the telemetry
    /// extension.
    pub(crate) fn into_http(
        self,
        correlation_id: CorrelationId,
    ) -> Result<http::Request<Bytes>, Error> {
        let mut http_request = http::Request::post(self.endpoint.as_str())
            .body(Bytes::from(self.form.encode()))
            .map_err(|_| {
                Error::malformed(
                    "the token endpoint is not a valid URI",
                    Some(correlation_id),
                    None,
                )
            })?;
        let headers = http_request.headers_mut();
        *headers = self.headers;
        common_headers(headers, correlation_id);
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded;charset=utf-8"),
        );
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        if let Some(telemetry) = self.telemetry {
            http_request.extensions_mut().insert(telemetry);
        }
        Ok(http_request)
    }
}

/// Headers every request carries: the correlation id (`client-request-id`, echoed back with
/// `return-client-request-id`), library identification (`x-client-sku`, `x-client-ver`, and the
/// platform as `x-client-OS` / `x-client-CPU`, which MSAL Python sends as headers in
/// `msal/application.py` and msal-node as `libraryInfo` from `process.platform` / `process.arch`),
/// and the capability to honour `Retry-After` on 429 (`x-ms-lib-capability`, as MSAL sends it).
pub(crate) fn common_headers(headers: &mut HeaderMap, correlation_id: CorrelationId) {
    // A hyphenated UUID is always a valid header value.
    if let Ok(id) = HeaderValue::try_from(correlation_id.to_string()) {
        headers.insert(HeaderName::from_static("client-request-id"), id);
    }
    headers.insert(
        HeaderName::from_static("return-client-request-id"),
        HeaderValue::from_static("true"),
    );
    headers.insert(
        HeaderName::from_static("x-client-sku"),
        HeaderValue::from_static("msal-lite"),
    );
    headers.insert(
        HeaderName::from_static("x-client-ver"),
        HeaderValue::from_static(env!("CARGO_PKG_VERSION")),
    );
    headers.insert(
        HeaderName::from_static("x-client-os"),
        HeaderValue::from_static(std::env::consts::OS),
    );
    headers.insert(
        HeaderName::from_static("x-client-cpu"),
        HeaderValue::from_static(std::env::consts::ARCH),
    );
    headers.insert(
        HeaderName::from_static("x-ms-lib-capability"),
        HeaderValue::from_static("retry-after, h429"),
    );
}

/// Sends a token request (with the retry policy) and parses the answer.
pub(crate) async fn execute(
    http: &dyn HttpClient,
    retry: &RetryPolicy,
    request: TokenRequest,
    correlation_id: CorrelationId,
) -> Result<TokenResponse, Error> {
    let http_request = request.into_http(correlation_id)?;
    let response = send_with_retry(http, retry, http_request)
        .await
        .map_err(|e| e.into_error(Some(correlation_id)))?;
    parse_token_response(&response, Some(correlation_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_encoding() {
        let mut form = Form::default();
        form.push("scope", "https://graph.microsoft.com/.default openid");
        form.push("claims", r#"{"a":1}"#);
        assert_eq!(
            form.encode(),
            "scope=https%3A%2F%2Fgraph.microsoft.com%2F.default+openid&claims=%7B%22a%22%3A1%7D"
        );
    }

    #[test]
    fn headers() {
        let mut h = HeaderMap::new();
        let id = CorrelationId::random();
        common_headers(&mut h, id);
        assert_eq!(h["client-request-id"], id.to_string().as_str());
        assert_eq!(h["return-client-request-id"], "true");
        assert_eq!(h["x-ms-lib-capability"], "retry-after, h429");
        assert_eq!(h["x-client-OS"], std::env::consts::OS);
        assert_eq!(h["x-client-CPU"], std::env::consts::ARCH);
    }
}
