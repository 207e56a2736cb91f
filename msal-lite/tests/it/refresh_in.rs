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

/// Calls until the cache serves `want` (the background refresh has landed), polling.
async fn poll_until_served(client: &ConfidentialClient, want: &str) {
    for _ in 0..2000 {
        let result = client.acquire_token_for_client(SCOPE).await.unwrap();
        if result.access_token().secret() == want {
            assert_eq!(result.source(), TokenSource::Cache);
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("{want} was never served");
}

/// Issue 17: past `refresh_in` the cached token is returned at once and the refresh runs in
/// the background (MSAL.NET, MSAL Node); before, the caller waited for the refresh.
#[tokio::test]
async fn refreshes_after_refresh_in_in_the_background() {
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
    let served = client.acquire_token_for_client(SCOPE).await.unwrap();
    assert_eq!(
        (served.source(), served.access_token().secret()),
        (TokenSource::Cache, "at-1")
    );
    poll_until_served(&client, "at-2").await;
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
    // The background refresh gets the 503...
    for _ in 0..2000 {
        if calls.load(Ordering::SeqCst) == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    // ...the cached token is still served, and the 503 throttles the refresh for 60 s.
    let served = client.acquire_token_for_client(SCOPE).await.unwrap();
    assert_eq!(served.access_token().secret(), "at-1");
    // After the window the next call's background refresh gets a new token.
    offset.store(1961, Ordering::SeqCst);
    poll_until_served(&client, "at-3").await;
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

/// A transport whose second token request waits for `gate` (a slow token endpoint), then
/// answers `second` (status and body); records that it was entered.
fn gated(
    gate: Arc<tokio::sync::Semaphore>,
    entered: Arc<AtomicUsize>,
    second: (u16, &'static str),
) -> impl msal_lite::http::HttpClient {
    move |request: HttpRequest| {
        let gate = gate.clone();
        let entered = entered.clone();
        async move {
            let (status, body) = if request.uri().path().ends_with("openid-configuration") {
                (
                    200,
                    format!(
                        r#"{{"issuer":"https://login.microsoftonline.com/t/v2.0","token_endpoint":"{TOKEN_ENDPOINT}"}}"#
                    ),
                )
            } else if entered.fetch_add(1, Ordering::SeqCst) == 0 {
                (
                    200,
                    r#"{"token_type":"Bearer","expires_in":3600,"refresh_in":1800,"access_token":"at-1"}"#
                        .to_owned(),
                )
            } else {
                let _permit = gate.acquire().await.expect("gate open");
                (second.0, second.1.to_owned())
            };
            http::Response::builder()
                .status(status)
                .header("content-type", "application/json")
                .body(Bytes::from(body))
                .map_err(HttpError::other)
        }
    }
}

fn gated_client(
    second: (u16, &'static str),
) -> (
    ConfidentialClient,
    Arc<AtomicU64>,
    Arc<tokio::sync::Semaphore>,
    Arc<AtomicUsize>,
) {
    let offset = Arc::new(AtomicU64::new(0));
    let seen = offset.clone();
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let entered = Arc::new(AtomicUsize::new(0));
    let client = ConfidentialClient::builder(
        "c",
        "https://login.microsoftonline.com/t",
        ClientCredential::secret("s"),
    )
    .http_client(gated(gate.clone(), entered.clone(), second))
    .retry_policy(RetryPolicy::none())
    .clock(move || SystemTime::now() + Duration::from_secs(seen.load(Ordering::SeqCst)))
    .build()
    .unwrap();
    (client, offset, gate, entered)
}

/// The call after `refresh_in` completes while the token endpoint is still blocked (it is
/// answered from the cache, not after the refresh), and many such calls make one request.
#[tokio::test]
async fn a_call_after_refresh_in_does_not_wait_for_a_slow_token_endpoint() {
    let (client, offset, gate, entered) = gated_client((
        200,
        r#"{"token_type":"Bearer","expires_in":3600,"refresh_in":1800,"access_token":"at-2"}"#,
    ));
    client.acquire_token_for_client(SCOPE).await.unwrap();
    offset.store(1900, Ordering::SeqCst);
    for _ in 0..50 {
        let served = client.acquire_token_for_client(SCOPE).await.unwrap();
        assert_eq!(
            (served.source(), served.access_token().secret()),
            (TokenSource::Cache, "at-1")
        );
    }
    // The endpoint is still blocked: no permit was ever given.
    assert_eq!(gate.available_permits(), 0);
    gate.add_permits(100);
    poll_until_served(&client, "at-2").await;
    assert_eq!(entered.load(Ordering::SeqCst), 2, "one background refresh");
}

/// A refresh refused with `invalid_client` (a rotated secret) leaves the valid cached token
/// served; before issue 17 only retryable failures did.
#[tokio::test]
async fn an_invalid_client_refresh_leaves_the_cached_token_served() {
    let (client, offset, gate, entered) = gated_client((
        401,
        r#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret."}"#,
    ));
    client.acquire_token_for_client(SCOPE).await.unwrap();
    offset.store(1900, Ordering::SeqCst);
    gate.add_permits(100);
    client.acquire_token_for_client(SCOPE).await.unwrap();
    for _ in 0..2000 {
        if entered.load(Ordering::SeqCst) == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(entered.load(Ordering::SeqCst), 2);
    for _ in 0..10 {
        let served = client.acquire_token_for_client(SCOPE).await.unwrap();
        assert_eq!(
            (served.source(), served.access_token().secret()),
            (TokenSource::Cache, "at-1")
        );
    }
}

/// Runs the tasks the calls spawned (the test runtime is single-threaded, so a spawned
/// background refresh runs only when the test awaits), until `entered` reaches `want`.
async fn poll_until_entered(entered: &AtomicUsize, want: usize) {
    settle().await;
    for _ in 0..2000 {
        if entered.load(Ordering::SeqCst) >= want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    settle().await;
}

/// Lets every task already spawned run (the scripted transport never waits on a timer), so an
/// extra request would show without sleeping.
async fn settle() {
    for _ in 0..100 {
        tokio::task::yield_now().await;
    }
}

/// Issue 17: after a failed background refresh (`invalid_client`, which no throttle window
/// covers), calls past `refresh_in` do not start a new one each: the next waits 60 s, then
/// 120 s (`background_refresh.rs`; MSAL Python answers an identical HTTP 400 from its cache for
/// 60 s, `throttled_http_client.py`). Without the back-off, each of the 50 calls below made a
/// token request. Once the token is really due, the caller's own request goes out and its
/// error is returned.
#[tokio::test]
async fn a_failed_background_refresh_backs_off_instead_of_retrying_on_every_call() {
    let (client, offset, gate, entered) = gated_client((
        400,
        r#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret."}"#,
    ));
    gate.add_permits(1000);
    client.acquire_token_for_client(SCOPE).await.unwrap();
    offset.store(1900, Ordering::SeqCst);
    client.acquire_token_for_client(SCOPE).await.unwrap();
    poll_until_entered(&entered, 2).await;
    assert_eq!(entered.load(Ordering::SeqCst), 2, "one background refresh");

    let serve_50 = || async {
        for _ in 0..50 {
            let served = client.acquire_token_for_client(SCOPE).await.unwrap();
            assert_eq!(
                (served.source(), served.access_token().secret()),
                (TokenSource::Cache, "at-1")
            );
        }
    };
    // Within the first 60 s: no new attempt.
    offset.store(1959, Ordering::SeqCst);
    serve_50().await;
    settle().await;
    assert_eq!(entered.load(Ordering::SeqCst), 2, "backing off for 60 s");

    // After 60 s: one attempt (it fails too), then 120 s of quiet.
    offset.store(1961, Ordering::SeqCst);
    serve_50().await;
    poll_until_entered(&entered, 3).await;
    assert_eq!(
        entered.load(Ordering::SeqCst),
        3,
        "one attempt after the back-off"
    );
    offset.store(2080, Ordering::SeqCst);
    serve_50().await;
    settle().await;
    assert_eq!(
        entered.load(Ordering::SeqCst),
        3,
        "the back-off doubled to 120 s"
    );
    offset.store(2082, Ordering::SeqCst);
    serve_50().await;
    poll_until_entered(&entered, 4).await;
    assert_eq!(entered.load(Ordering::SeqCst), 4);

    // Inside the refresh margin (the token expires at 3600): the caller's request goes out
    // whatever the back-off says, and the error is the caller's.
    offset.store(3400, Ordering::SeqCst);
    let e = client.acquire_token_for_client(SCOPE).await.unwrap_err();
    assert_eq!(
        e.server_error().map(|s| s.error()),
        Some("invalid_client"),
        "{e:?}"
    );
    assert_eq!(entered.load(Ordering::SeqCst), 5);
}
