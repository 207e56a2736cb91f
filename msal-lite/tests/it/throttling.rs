//! Throttling as MSAL does it (MSAL.NET `OAuth2/Throttling/*`, MSAL JS
//! `msal-common/src/network/ThrottlingUtils.ts`, MSAL Python `throttled_http_client.py`):
//! after a 429 with `Retry-After`, identical requests are answered locally until the window
//! ends; the dev tenant's request counter proves no request went out.
#![cfg(feature = "reqwest")]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use dev_tenant::{Config, DevTenant, Endpoint, Fault, quickstart as q};
use msal_lite::{ClientCredential, ConfidentialClient, Error, RetryPolicy, TokenSource};

const GRAPH_DEFAULT: &str = "https://graph.microsoft.com/.default";
const OTHER_DEFAULT: &str = "api://4d2e6f8a-1b3c-4d5e-8f9a-0b1c2d3e4f5a/.default";

/// A daemon client whose clock the test moves forward (no sleeping).
fn daemon(tenant: &DevTenant) -> (ConfidentialClient, Arc<AtomicU64>) {
    let offset = Arc::new(AtomicU64::new(0));
    let seen = offset.clone();
    let client = ConfidentialClient::builder(
        q::DAEMON_CLIENT_ID,
        tenant.authority(),
        ClientCredential::secret(q::DAEMON_CLIENT_SECRET),
    )
    .retry_policy(RetryPolicy::default().default_delay(Duration::ZERO))
    .clock(move || SystemTime::now() + Duration::from_secs(seen.load(Ordering::SeqCst)))
    .build()
    .expect("client builds");
    (client, offset)
}

#[tokio::test]
async fn a_429_window_answers_identical_requests_without_the_network() {
    let tenant = DevTenant::start(Config::quickstart()).await.unwrap();
    let (client, clock) = daemon(&tenant);
    tenant.inject_fault(
        Endpoint::Token,
        Fault::too_many_requests(Duration::from_secs(30)).times(1),
    );

    let first = client
        .acquire_token_for_client([GRAPH_DEFAULT])
        .await
        .unwrap_err();
    assert_eq!(
        first.retry_after(),
        Some(Duration::from_secs(30)),
        "{first:?}"
    );
    assert_eq!(tenant.requests(Endpoint::Token), 1);

    for _ in 0..100 {
        let e = client
            .acquire_token_for_client([GRAPH_DEFAULT])
            .await
            .unwrap_err();
        let Error::Throttled {
            remaining, status, ..
        } = &e
        else {
            panic!("expected a throttled error, got {e:?}");
        };
        assert_eq!(*status, 429);
        assert!(*remaining > Duration::ZERO && *remaining <= Duration::from_secs(30));
        assert!(e.is_retryable() && !e.is_interaction_required());
        assert_eq!(e.retry_after(), Some(*remaining));
    }
    assert_eq!(
        tenant.requests(Endpoint::Token),
        1,
        "100 identical calls, 1 request"
    );

    // A different request (another scope) is not throttled.
    let other = client
        .acquire_token_for_client([OTHER_DEFAULT])
        .await
        .unwrap();
    assert_eq!(other.source(), TokenSource::Network);
    assert_eq!(tenant.requests(Endpoint::Token), 2);

    // After the window the identical request goes out again.
    clock.store(31, Ordering::SeqCst);
    let again = client
        .acquire_token_for_client([GRAPH_DEFAULT])
        .await
        .unwrap();
    assert_eq!(again.source(), TokenSource::Network);
    assert_eq!(tenant.requests(Endpoint::Token), 3);
}

#[tokio::test]
async fn a_5xx_without_retry_after_throttles_for_60_seconds_after_the_retry() {
    let tenant = DevTenant::start(Config::quickstart()).await.unwrap();
    let (client, clock) = daemon(&tenant);
    tenant.inject_fault(Endpoint::Token, Fault::status(503).times(2));

    // The retry of the same call is not throttled: two requests, then the 503.
    let e = client
        .acquire_token_for_client([GRAPH_DEFAULT])
        .await
        .unwrap_err();
    assert!(e.is_retryable(), "{e:?}");
    assert_eq!(tenant.requests(Endpoint::Token), 2);

    clock.store(59, Ordering::SeqCst);
    let e = client
        .acquire_token_for_client([GRAPH_DEFAULT])
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Throttled { status: 503, .. }), "{e:?}");
    assert_eq!(tenant.requests(Endpoint::Token), 2);

    clock.store(61, Ordering::SeqCst);
    client
        .acquire_token_for_client([GRAPH_DEFAULT])
        .await
        .unwrap();
    assert_eq!(tenant.requests(Endpoint::Token), 3);
}
