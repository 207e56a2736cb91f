//! Two API instances sharing their on-behalf-of cache through a real `redis-server` (each with
//! its own memory L1 in front), against the dev tenant.
//!
//! The binary comes from `REDIS_SERVER` or `PATH`; without it the tests print why and pass,
//! unless `REQUIRE_TEST_TOOLS` is set.
#![cfg(feature = "redis")]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use dev_tenant::{Config, DevTenant, Endpoint, TokenOptions, quickstart as q};
use msal_lite::persistence::{CacheStore, Layered, MemoryStore, RedisStore};
use msal_lite::schema::PartitionKey;
use msal_lite::{ClientCredential, ConfidentialClient, RetryPolicy, TokenSource, UserAssertion};
use test_support::RedisServer;

fn incoming(tenant: &DevTenant) -> UserAssertion {
    UserAssertion::new(
        tenant
            .access_token_for(
                q::ALICE_EMAIL,
                q::WEB_APP_CLIENT_ID,
                [q::API_SCOPE_URI],
                TokenOptions::default(),
            )
            .unwrap(),
    )
}

/// One API instance: its own memory L1, the shared Redis as L2.
fn instance(tenant: &DevTenant, redis: &RedisServer, offset: Arc<AtomicU64>) -> ConfidentialClient {
    let l2 = RedisStore::open(&redis.url())
        .unwrap()
        .operation_timeout(Duration::from_secs(5));
    let store: Arc<dyn CacheStore> = Arc::new(Layered::new(MemoryStore::new(), l2));
    ConfidentialClient::builder(
        q::API_CLIENT_ID,
        tenant.authority(),
        ClientCredential::secret(q::API_CLIENT_SECRET),
    )
    .retry_policy(RetryPolicy::default().default_delay(Duration::ZERO))
    .cache_store(store)
    .clock(move || SystemTime::now() + Duration::from_secs(offset.load(Ordering::SeqCst)))
    .build()
    .unwrap()
}

#[tokio::test]
async fn obo_token_from_instance_a_is_a_hit_on_instance_b() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let tenant = DevTenant::start(Config::quickstart()).await.unwrap();
    let clock_b = Arc::new(AtomicU64::new(0));
    let a = instance(&tenant, &redis, Arc::default());
    let b = instance(&tenant, &redis, clock_b.clone());
    let assertion = incoming(&tenant);

    let on_a = a
        .acquire_token_on_behalf_of(assertion.clone(), ["User.ReadWrite"])
        .await
        .unwrap();
    assert_eq!(on_a.source(), TokenSource::Network);
    assert_eq!(tenant.requests(Endpoint::Token), 1);

    // Redis holds the partition in MSAL's schema, keyed and tagged by the assertion hash.
    let raw = RedisStore::open(&redis.url()).unwrap();
    let stored = raw
        .load(&PartitionKey::obo(assertion.hash()))
        .await
        .unwrap()
        .expect("instance A saved the partition");
    let doc = stored.document();
    assert_eq!(doc.access_tokens.len(), 1);
    assert_eq!(doc.refresh_tokens.len(), 1);
    let at = doc.access_tokens.values().next().unwrap();
    assert_eq!(at.user_assertion_hash.as_deref(), Some(assertion.hash()));
    assert_eq!(at.client_id, q::API_CLIENT_ID);
    assert_eq!(at.realm.as_deref(), Some(q::TENANT_ID));
    assert_eq!(at.secret.secret(), on_a.access_token().secret());
    let json = doc.to_json();
    assert!(
        json.contains("\"userAssertionHash\""),
        "msal-node spelling too"
    );

    // Instance B: a hit with zero token calls.
    let on_b = b
        .acquire_token_on_behalf_of(assertion.clone(), ["User.ReadWrite"])
        .await
        .unwrap();
    assert_eq!(on_b.source(), TokenSource::Cache);
    assert_eq!(on_b.access_token().secret(), on_a.access_token().secret());
    assert_eq!(tenant.requests(Endpoint::Token), 1);

    // When the token expires, B renews it with the refresh token A stored (long-running OBO).
    let lifetime = on_a
        .expires_on()
        .duration_since(SystemTime::now())
        .unwrap()
        .as_secs();
    clock_b.store(lifetime, Ordering::SeqCst);
    let renewed = b
        .acquire_token_on_behalf_of(assertion.clone(), ["User.ReadWrite"])
        .await
        .unwrap();
    assert_eq!(renewed.source(), TokenSource::Network);
    assert_eq!(tenant.requests(Endpoint::Token), 2);
}

#[tokio::test]
async fn redis_outage_costs_no_failed_request() {
    let Some(mut redis) = RedisServer::start() else {
        return;
    };
    let tenant = DevTenant::start(Config::quickstart()).await.unwrap();
    let a = instance(&tenant, &redis, Arc::default());
    let first = incoming(&tenant);
    a.acquire_token_on_behalf_of(first.clone(), ["User.ReadWrite"])
        .await
        .unwrap();
    redis.kill();
    // Memory still serves the hit; a new assertion goes to the network and succeeds although
    // neither the load nor the save can reach Redis.
    let hit = a
        .acquire_token_on_behalf_of(first, ["User.ReadWrite"])
        .await
        .unwrap();
    assert_eq!(hit.source(), TokenSource::Cache);
    let second = incoming(&tenant);
    let fresh = a
        .acquire_token_on_behalf_of(second.clone(), ["User.ReadWrite"])
        .await
        .unwrap();
    assert_eq!(fresh.source(), TokenSource::Network);
    let again = a
        .acquire_token_on_behalf_of(second, ["User.ReadWrite"])
        .await
        .unwrap();
    assert_eq!(again.source(), TokenSource::Cache);
    assert_eq!(tenant.requests(Endpoint::Token), 2);
}
