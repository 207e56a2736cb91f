//! A closure transport that plays Entra's token endpoint for client credentials, without a
//! server: discovery metadata, then one access token per request whose `scope` names the
//! requested resource. Every token is [`TOKEN_BYTES`] long and unique, so a cache filled through
//! it holds realistic entries.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use msal_lite::http::{HttpClient, HttpError, HttpRequest};
use msal_lite::{ClientCredential, ConfidentialClient, RetryPolicy};

/// The authority the bench clients use (never contacted: the transport answers).
pub const AUTHORITY: &str = "https://login.microsoftonline.com/contoso.onmicrosoft.com";
const TOKEN_ENDPOINT: &str =
    "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token";

/// Length of every access token the transport issues (the fixture RS256 token is 1290 bytes).
pub const TOKEN_BYTES: usize = 1290;

/// The `.default` scope of the `i`-th downstream resource.
pub fn resource_scope(i: usize) -> String {
    format!("api://resource-{i:07}/.default")
}

/// A JWT-shaped access token of exactly [`TOKEN_BYTES`] bytes, unique per `serial`.
fn token(serial: u64) -> String {
    let head = format!("eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.{serial:016}.");
    let mut token = head;
    token.extend(std::iter::repeat_n('s', TOKEN_BYTES - token.len()));
    token
}

/// The transport: counts token requests in `token_requests`.
pub fn transport(token_requests: Arc<AtomicU64>) -> impl HttpClient {
    move |request: HttpRequest| {
        let body = if request.uri().path().ends_with("openid-configuration") {
            format!(
                r#"{{"issuer":"https://login.microsoftonline.com/tid/v2.0","token_endpoint":"{TOKEN_ENDPOINT}"}}"#
            )
        } else {
            let serial = token_requests.fetch_add(1, Ordering::Relaxed);
            format!(
                r#"{{"token_type":"Bearer","expires_in":86399,"ext_expires_in":86399,"access_token":"{}"}}"#,
                token(serial)
            )
        };
        async move {
            http::Response::builder()
                .header("content-type", "application/json")
                .body(body.into())
                .map_err(HttpError::other)
        }
    }
}

/// A confidential client talking to [`transport`].
///
/// # Panics
///
/// If the fixed configuration does not build (a bug in msal-lite or here).
pub fn client(token_requests: Arc<AtomicU64>) -> ConfidentialClient {
    ConfidentialClient::builder(
        "4d2e6f8a-1b3c-4d5e-8f9a-0b1c2d3e4f5a",
        AUTHORITY,
        ClientCredential::secret("bench-secret"),
    )
    .http_client(transport(token_requests))
    .retry_policy(RetryPolicy::none())
    // Room for a million 1.3 KB tokens: the bench measures lookups, not eviction.
    .cache_byte_budget(8 << 30)
    .build()
    .expect("the bench client builds")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_have_the_fixed_length_and_differ() {
        assert_eq!(token(0).len(), TOKEN_BYTES);
        assert_eq!(token(u64::MAX).len(), TOKEN_BYTES);
        assert_ne!(token(1), token(2));
    }
}
