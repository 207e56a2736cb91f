//! `refresh_in` (proactive refresh) with an injected clock and a scripted closure transport.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use msal_lite::http::{HttpError, HttpRequest};
use msal_lite::{ClientCredential, ConfidentialClient, RetryPolicy, TokenSource};

const TOKEN_ENDPOINT: &str = "https://login.microsoftonline.com/t/oauth2/v2.0/token";

/// Token responses are taken from `script` in order: `Some(n)` answers with token `at-n`
/// (expires in 3600 s, `refresh_in` 1800 s), `None` with a 503.
fn scripted(
    script: Vec<Option<u32>>,
    token_calls: Arc<AtomicUsize>,
) -> impl msal_lite::http::HttpClient {
    let script = Arc::new(Mutex::new(script.into_iter()));
    move |request: HttpRequest| {
        let (status, body) = if request.uri().path().ends_with("openid-configuration") {
            (
                200,
                format!(
                    r#"{{"issuer":"https://login.microsoftonline.com/t/v2.0","token_endpoint":"{TOKEN_ENDPOINT}"}}"#
                ),
            )
        } else {
            token_calls.fetch_add(1, Ordering::SeqCst);
            match script.lock().unwrap().next().expect("script exhausted") {
                Some(n) => (
                    200,
                    format!(
                        r#"{{"token_type":"Bearer","expires_in":3600,"refresh_in":1800,"access_token":"at-{n}"}}"#
                    ),
                ),
                None => (503, r#"{"error":"temporarily_unavailable"}"#.to_owned()),
            }
        };
        async move {
            http::Response::builder()
                .status(status)
                .header("content-type", "application/json")
                .body(Bytes::from(body))
                .map_err(HttpError::other)
        }
    }
}

fn client(script: Vec<Option<u32>>) -> (ConfidentialClient, Arc<AtomicU64>, Arc<AtomicUsize>) {
    let offset = Arc::new(AtomicU64::new(0));
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = offset.clone();
    let client = ConfidentialClient::builder(
        "c",
        "https://login.microsoftonline.com/t",
        ClientCredential::secret("s"),
    )
    .http_client(scripted(script, calls.clone()))
    .retry_policy(RetryPolicy::none())
    .clock(move || SystemTime::now() + Duration::from_secs(seen.load(Ordering::SeqCst)))
    .build()
    .unwrap();
    (client, offset, calls)
}

const SCOPE: [&str; 1] = ["api://x/.default"];

#[tokio::test]
async fn refreshes_after_refresh_in() {
    let (client, offset, calls) = client(vec![Some(1), Some(2)]);
    assert_eq!(
        client
            .acquire_token_for_client(SCOPE)
            .await
            .unwrap()
            .access_token()
            .secret(),
        "at-1"
    );
    offset.store(1700, Ordering::SeqCst);
    let hit = client.acquire_token_for_client(SCOPE).await.unwrap();
    assert_eq!(
        (hit.source(), hit.access_token().secret()),
        (TokenSource::Cache, "at-1")
    );
    offset.store(1900, Ordering::SeqCst);
    let refreshed = client.acquire_token_for_client(SCOPE).await.unwrap();
    assert_eq!(
        (refreshed.source(), refreshed.access_token().secret()),
        (TokenSource::Network, "at-2")
    );
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn failed_proactive_refresh_serves_the_cached_token() {
    let (client, offset, calls) = client(vec![Some(1), None, Some(3)]);
    client.acquire_token_for_client(SCOPE).await.unwrap();
    offset.store(1900, Ordering::SeqCst);
    let served = client.acquire_token_for_client(SCOPE).await.unwrap();
    assert_eq!(
        (served.source(), served.access_token().secret()),
        (TokenSource::Cache, "at-1")
    );
    // Still due: the next call tries again and gets a new token.
    let refreshed = client.acquire_token_for_client(SCOPE).await.unwrap();
    assert_eq!(refreshed.access_token().secret(), "at-3");
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn an_expired_token_is_never_served_on_failure() {
    let (client, offset, calls) = client(vec![Some(1), None]);
    client.acquire_token_for_client(SCOPE).await.unwrap();
    // Inside the five-minute margin before expiry: the cached token is not used even though
    // the refresh fails.
    offset.store(3400, Ordering::SeqCst);
    let e = client.acquire_token_for_client(SCOPE).await.unwrap_err();
    assert!(e.is_retryable());
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}
