//! Two web-app instances sharing their users' token partitions through a real `redis-server`
//! (each with its own memory L1 in front), against the dev tenant.
//!
//! The binary comes from `REDIS_SERVER` or `PATH`; without it the tests print why and pass,
//! unless `REQUIRE_TEST_TOOLS` is set.
#![cfg(all(feature = "redis", feature = "reqwest"))]

use crate::user_support;

use std::sync::Arc;
use std::time::Duration;

use dev_tenant::{Config, DevTenant, Endpoint, quickstart as q};
use msal_lite::persistence::{CacheStore, Layered, MemoryStore, RedisStore};
use msal_lite::schema::PartitionKey;
use msal_lite::{AuthCodeRequest, ClientCredential, ConfidentialClient, TokenSource};
use test_support::RedisServer;
use user_support::{Browser, Clock};

/// One web-app instance: its own memory L1, the shared Redis as L2.
fn instance(tenant: &DevTenant, redis: &RedisServer, clock: &Clock) -> ConfidentialClient {
    let l2 = RedisStore::open(&redis.url())
        .unwrap()
        .operation_timeout(Duration::from_secs(5))
        .retry_backoff(Duration::ZERO);
    let store: Arc<dyn CacheStore> = Arc::new(Layered::new(MemoryStore::new(), l2));
    ConfidentialClient::builder(
        q::WEB_APP_CLIENT_ID,
        tenant.authority(),
        ClientCredential::secret(q::WEB_APP_CLIENT_SECRET),
    )
    .cache_store(store)
    .clock(clock.as_fn())
    .build()
    .unwrap()
}

async fn sign_in(client: &ConfidentialClient, tenant: &DevTenant) -> msal_lite::Account {
    let (url, flow) = client
        .auth_code_url(AuthCodeRequest::new(["User.Read"], q::WEB_APP_REDIRECT_URI))
        .await
        .unwrap();
    let (returned, _) = Browser::default()
        .sign_in(tenant, url.as_str(), q::ALICE_EMAIL)
        .await;
    let result = client
        .acquire_token_by_code(&returned.code, &returned.state, flow)
        .await
        .unwrap();
    result.account().unwrap().clone()
}

#[tokio::test]
async fn second_instance_finds_the_account_and_gets_a_silent_token_with_no_token_call() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let tenant = DevTenant::start(Config::quickstart()).await.unwrap();
    let clock = Clock::default();
    let a = instance(&tenant, &redis, &clock);
    let b = instance(&tenant, &redis, &clock);
    let account = sign_in(&a, &tenant).await;
    let calls = tenant.requests(Endpoint::Token);

    // Instance B has only the id (from a shared session store).
    assert!(b.accounts().is_empty());
    let found = b
        .account(account.home_account_id())
        .await
        .expect("found through Redis");
    assert_eq!(found, account);
    assert_eq!(found.username(), Some(q::ALICE_EMAIL));
    let token = b.acquire_token_silent(["User.Read"], &found).await.unwrap();
    assert_eq!(token.source(), TokenSource::Cache);
    assert_eq!(tenant.requests(Endpoint::Token), calls, "zero token calls");

    // What Redis holds is MSAL's schema: the sections MSAL Node / Python read.
    let raw = RedisStore::open(&redis.url()).unwrap();
    let stored = raw
        .load(&PartitionKey::user(account.home_account_id()))
        .await
        .unwrap()
        .expect("stored");
    let json: serde_json::Value = serde_json::from_str(&stored.document().to_json()).unwrap();
    for section in [
        "AccessToken",
        "RefreshToken",
        "IdToken",
        "Account",
        "AppMetadata",
    ] {
        assert!(
            json[section].as_object().is_some_and(|s| !s.is_empty()),
            "{section} in {json}"
        );
    }
    let account_entry = json["Account"]
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap();
    assert_eq!(account_entry["home_account_id"], account.home_account_id());
    assert_eq!(account_entry["username"], q::ALICE_EMAIL);
    let at = json["AccessToken"]
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap();
    assert!(at["expires_on"].is_string(), "timestamps are strings");
    assert_eq!(at["credential_type"], "AccessToken");
}

#[tokio::test]
async fn redis_outage_fails_no_request_and_writes_resume() {
    let Some(mut redis) = RedisServer::start() else {
        return;
    };
    let mut config = Config::quickstart();
    config.lifetimes.access_token_secs = 600;
    let tenant = DevTenant::start(config).await.unwrap();
    let clock = Clock::default();
    let a = instance(&tenant, &redis, &clock);
    let account = sign_in(&a, &tenant).await;

    redis.kill();
    // Served from memory...
    let hit = a
        .acquire_token_silent(["User.Read"], &account)
        .await
        .unwrap();
    assert_eq!(hit.source(), TokenSource::Cache);
    // ... and refreshed from the network while Redis is down.
    clock.advance(Duration::from_secs(360));
    let refreshed = a
        .acquire_token_silent(["User.Read"], &account)
        .await
        .unwrap();
    assert_eq!(refreshed.source(), TokenSource::Network);

    redis.restart();
    clock.advance(Duration::from_secs(360));
    let again = a
        .acquire_token_silent(["User.Read"], &account)
        .await
        .unwrap();
    assert_eq!(again.source(), TokenSource::Network);
    // The write after the restart reached Redis: a new instance is served from it.
    let b = instance(&tenant, &redis, &clock);
    let calls = tenant.requests(Endpoint::Token);
    let found = b
        .account(account.home_account_id())
        .await
        .expect("in Redis again");
    let token = b.acquire_token_silent(["User.Read"], &found).await.unwrap();
    assert_eq!(token.source(), TokenSource::Cache);
    assert_eq!(token.access_token().secret(), again.access_token().secret());
    assert_eq!(tenant.requests(Endpoint::Token), calls);
}
