//! On-behalf-of refresh-token safety (issue 17): the OBO refresh token is only redeemed while
//! the incoming assertion is unexpired. MSAL Node never redeems OBO refresh tokens; MSAL.NET
//! only in its long-running OBO API (`OnBehalfOfRequest.cs`,
//! `ILongRunningWebApi.cs` in MSAL.NET).
#![cfg(feature = "reqwest")]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use dev_tenant::{Config, DevTenant, Endpoint, TokenOptions, quickstart as q};
use msal_lite::persistence::CacheStore as _;
use msal_lite::{
    ClientCredential, ConfidentialClient, Error, RetryPolicy, Scopes, SessionKey, TokenSource,
    UserAssertion,
};

#[tokio::test]
async fn an_expired_assertion_gets_no_downstream_token_from_the_cached_refresh_token() {
    let tenant = DevTenant::start(Config::quickstart()).await.unwrap();
    let offset = Arc::new(AtomicU64::new(0));
    let seen = offset.clone();
    let client = ConfidentialClient::builder(
        q::API_CLIENT_ID,
        tenant.authority(),
        ClientCredential::secret(q::API_CLIENT_SECRET),
    )
    .retry_policy(RetryPolicy::none())
    .clock(move || SystemTime::now() + Duration::from_secs(seen.load(Ordering::SeqCst)))
    .build()
    .unwrap();
    let assertion = UserAssertion::new(
        tenant
            .access_token_for(
                q::ALICE_EMAIL,
                q::WEB_APP_CLIENT_ID,
                [q::API_SCOPE_URI],
                TokenOptions::default().lifetime(Duration::from_secs(600)),
            )
            .unwrap(),
    );
    let scopes = Scopes::new(["User.ReadWrite"]).unwrap();
    let first = client
        .acquire_token_on_behalf_of(assertion.clone(), &scopes)
        .await
        .unwrap();
    assert_eq!(tenant.requests(Endpoint::Token), 1);

    // The downstream token has expired too (it lives about an hour), and an OBO refresh token
    // is cached: still no token and no request, because the caller's token has expired.
    let lifetime = first
        .expires_on()
        .duration_since(SystemTime::now())
        .unwrap()
        .as_secs();
    offset.store(lifetime + 60, Ordering::SeqCst);
    let e = client
        .acquire_token_on_behalf_of(assertion.clone(), &scopes)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::AssertionExpired), "{e:?}");
    assert_eq!(e.to_string(), "the user assertion has expired");
    assert_eq!(tenant.requests(Endpoint::Token), 1);
}

/// The API client with a clock `offset` seconds ahead of real time, optionally sharing a store.
fn api(
    tenant: &DevTenant,
    offset: &Arc<AtomicU64>,
    store: Option<Arc<dyn msal_lite::persistence::CacheStore>>,
) -> ConfidentialClient {
    let seen = offset.clone();
    let mut builder = ConfidentialClient::builder(
        q::API_CLIENT_ID,
        tenant.authority(),
        ClientCredential::secret(q::API_CLIENT_SECRET),
    )
    .retry_policy(RetryPolicy::none())
    .clock(move || SystemTime::now() + Duration::from_secs(seen.load(Ordering::SeqCst)));
    if let Some(store) = store {
        builder = builder.cache_store(store);
    }
    builder.build().unwrap()
}

/// Alice's token for the API, valid for ten minutes.
fn incoming(tenant: &DevTenant) -> UserAssertion {
    UserAssertion::new(
        tenant
            .access_token_for(
                q::ALICE_EMAIL,
                q::WEB_APP_CLIENT_ID,
                [q::API_SCOPE_URI],
                TokenOptions::default().lifetime(Duration::from_secs(600)),
            )
            .unwrap(),
    )
}

fn seconds_until(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::now()).unwrap().as_secs()
}

/// MSAL.NET `ILongRunningWebApi`: after `InitiateLongRunningProcessInWebApi`, tokens come from
/// `AcquireTokenInLongRunningProcess` by session key, renewed with the OBO refresh token
/// without the assertion (`OnBehalfOfRequest.RefreshRtOrFetchNewAccessTokenAsync`).
#[tokio::test]
async fn a_long_running_session_gets_tokens_after_the_assertion_has_expired() {
    let tenant = DevTenant::start(Config::quickstart()).await.unwrap();
    let offset = Arc::new(AtomicU64::new(0));
    let client = api(&tenant, &offset, None);
    let assertion = incoming(&tenant);
    let scopes = Scopes::new(["User.ReadWrite"]).unwrap();
    let (first, key) = client
        .initiate_long_running_on_behalf_of(assertion.clone(), &scopes, None)
        .await
        .unwrap();
    assert_eq!(first.source(), TokenSource::Network);
    assert_eq!(
        key,
        SessionKey::of_assertion(&assertion),
        "MSAL.NET's default key"
    );
    assert_eq!(tenant.requests(Endpoint::Token), 1);

    // While valid: the cached token, no request.
    let again = client
        .acquire_token_in_long_running_process(&key, &scopes)
        .await
        .unwrap();
    assert_eq!(again.source(), TokenSource::Cache);
    assert_eq!(again.access_token().secret(), first.access_token().secret());
    assert_eq!(tenant.requests(Endpoint::Token), 1);

    // The downstream token and the caller's token have both expired: the session renews
    // with its refresh token (one request), while the regular OBO path refuses.
    offset.store(seconds_until(first.expires_on()) + 60, Ordering::SeqCst);
    let e = client
        .acquire_token_on_behalf_of(assertion.clone(), &scopes)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::AssertionExpired), "{e:?}");
    assert_eq!(tenant.requests(Endpoint::Token), 1);
    let renewed = client
        .acquire_token_in_long_running_process(&key, &scopes)
        .await
        .unwrap();
    assert_eq!(renewed.source(), TokenSource::Network);
    assert_ne!(
        renewed.access_token().secret(),
        first.access_token().secret()
    );
    assert_eq!(tenant.requests(Endpoint::Token), 2);
    // The renewed token is a Graph token for Alice that Graph accepts.
    let me = reqwest::Client::new()
        .get(format!("{}v1.0/me", tenant.graph_url()))
        .bearer_auth(renewed.access_token().secret())
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    let body: serde_json::Value = me.json().await.unwrap();
    assert_eq!(body["mail"], q::ALICE_EMAIL, "{body}");
    // And is cached under the session.
    let hit = client
        .acquire_token_in_long_running_process(&key, &scopes)
        .await
        .unwrap();
    assert_eq!(hit.source(), TokenSource::Cache);
    assert_eq!(tenant.requests(Endpoint::Token), 2);

    // Again, far past the assertion's expiry: the session renews again.
    let session_token_lifetime = seconds_until(renewed.expires_on());
    offset.fetch_add(session_token_lifetime + 60, Ordering::SeqCst);
    let third = client
        .acquire_token_in_long_running_process(&key, &scopes)
        .await
        .unwrap();
    assert_eq!(third.source(), TokenSource::Network);
    assert_eq!(tenant.requests(Endpoint::Token), 3);
}

#[tokio::test]
async fn an_unknown_or_stopped_session_key_is_a_typed_error_without_a_request() {
    let tenant = DevTenant::start(Config::quickstart()).await.unwrap();
    let offset = Arc::new(AtomicU64::new(0));
    let client = api(&tenant, &offset, None);
    let unknown = SessionKey::new("never-initiated").unwrap();
    let e = client
        .acquire_token_in_long_running_process(&unknown, ["User.ReadWrite"])
        .await
        .unwrap_err();
    assert!(matches!(e, Error::SessionNotFound), "{e:?}");
    assert_eq!(
        e.to_string(),
        "no long-running on-behalf-of session with this key"
    );
    assert_eq!(tenant.requests(Endpoint::Token), 0);

    // A caller-chosen key; stopping the session forgets it.
    let key = SessionKey::new("report-job-42").unwrap();
    let (_, returned) = client
        .initiate_long_running_on_behalf_of(
            incoming(&tenant),
            ["User.ReadWrite"],
            Some(key.clone()),
        )
        .await
        .unwrap();
    assert_eq!(returned, key);
    client
        .acquire_token_in_long_running_process(&key, ["User.ReadWrite"])
        .await
        .unwrap();
    assert!(client.stop_long_running_process(&key).await);
    assert!(!client.stop_long_running_process(&key).await);
    let e = client
        .acquire_token_in_long_running_process(&key, ["User.ReadWrite"])
        .await
        .unwrap_err();
    assert!(matches!(e, Error::SessionNotFound), "{e:?}");
    assert_eq!(tenant.requests(Endpoint::Token), 1);
}

#[tokio::test]
async fn initiating_needs_an_unexpired_assertion() {
    let tenant = DevTenant::start(Config::quickstart()).await.unwrap();
    // Eleven minutes ahead: the ten-minute assertion has expired.
    let offset = Arc::new(AtomicU64::new(660));
    let client = api(&tenant, &offset, None);
    let e = client
        .initiate_long_running_on_behalf_of(incoming(&tenant), ["User.ReadWrite"], None)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::AssertionExpired), "{e:?}");
    assert_eq!(tenant.requests(Endpoint::Token), 0);
}

/// The session is persisted like other OBO partitions (`user_assertion_hash` = the session
/// key, as MSAL.NET writes it), so another instance sharing the store continues it.
#[tokio::test]
async fn another_instance_sharing_the_store_continues_the_session() {
    let tenant = DevTenant::start(Config::quickstart()).await.unwrap();
    let offset = Arc::new(AtomicU64::new(0));
    let store: Arc<dyn msal_lite::persistence::CacheStore> =
        Arc::new(msal_lite::persistence::MemoryStore::new());
    let a = api(&tenant, &offset, Some(store.clone()));
    let b = api(&tenant, &offset, Some(store.clone()));
    let key = SessionKey::new("job-7").unwrap();
    let (first, _) = a
        .initiate_long_running_on_behalf_of(
            incoming(&tenant),
            ["User.ReadWrite"],
            Some(key.clone()),
        )
        .await
        .unwrap();
    let stored = store
        .load(&msal_lite::schema::PartitionKey::obo("job-7"))
        .await
        .unwrap()
        .expect("the session is persisted");
    assert_eq!(stored.document().refresh_tokens.len(), 1);
    let on_b = b
        .acquire_token_in_long_running_process(&key, ["User.ReadWrite"])
        .await
        .unwrap();
    assert_eq!(on_b.source(), TokenSource::Cache);
    assert_eq!(tenant.requests(Endpoint::Token), 1);

    // Past every expiry, a third instance that never saw the session renews it from the store.
    offset.store(seconds_until(first.expires_on()) + 60, Ordering::SeqCst);
    let c = api(&tenant, &offset, Some(store.clone()));
    let renewed = c
        .acquire_token_in_long_running_process(&key, ["User.ReadWrite"])
        .await
        .unwrap();
    assert_eq!(renewed.source(), TokenSource::Network);
    assert_eq!(tenant.requests(Endpoint::Token), 2);
    // B, whose memory holds the session with an expired token, takes C's renewal from the
    // store instead of renewing again.
    let on_b = b
        .acquire_token_in_long_running_process(&key, ["User.ReadWrite"])
        .await
        .unwrap();
    assert_eq!(on_b.source(), TokenSource::Cache);
    assert_eq!(
        on_b.access_token().secret(),
        renewed.access_token().secret()
    );
    assert_eq!(tenant.requests(Endpoint::Token), 2);
    // Stopping removes it from the store too.
    c.stop_long_running_process(&key).await;
    let d = api(&tenant, &offset, Some(store));
    let e = d
        .acquire_token_in_long_running_process(&key, ["User.ReadWrite"])
        .await
        .unwrap_err();
    assert!(matches!(e, Error::SessionNotFound), "{e:?}");
}
