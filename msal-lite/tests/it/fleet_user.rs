//! Issue 21: a signed-in user's silent refresh happens once per fleet. Four web-app instances
//! (each a client with its own memory L1) share a real `redis-server` as L2; when the user's
//! access token is due, 250 concurrent silent requests on each instance redeem the refresh
//! token once.
//!
//! The binary comes from `REDIS_SERVER` or `PATH`; without it the tests print why and pass,
//! unless `REQUIRE_TEST_TOOLS` is set.
#![cfg(all(feature = "redis", feature = "reqwest"))]

use crate::user_support;

use std::sync::Arc;
use std::time::Duration;

use dev_tenant::{Config, DevTenant, Endpoint, Fault, quickstart as q};
use msal_lite::persistence::{CacheStore, Layered, MemoryStore, RedisStore};
use msal_lite::{AuthCodeRequest, ClientCredential, ConfidentialClient, RetryPolicy};
use test_support::RedisServer;
use tokio::task::JoinSet;
use user_support::{Browser, Clock};

const INSTANCES: usize = 4;
const MISSES: usize = 250;

fn instance(
    tenant: &DevTenant,
    redis: &RedisServer,
    clock: &Clock,
    lease: bool,
) -> ConfidentialClient {
    let l2 = RedisStore::open(&redis.url())
        .unwrap()
        .operation_timeout(Duration::from_secs(5));
    let store: Arc<dyn CacheStore> =
        Arc::new(Layered::new(MemoryStore::new(), l2).l2_timeout(Duration::from_secs(5)));
    ConfidentialClient::builder(
        q::WEB_APP_CLIENT_ID,
        tenant.authority(),
        ClientCredential::secret(q::WEB_APP_CLIENT_SECRET),
    )
    .retry_policy(RetryPolicy::none())
    .cache_store(store)
    .distributed_single_flight(lease)
    .clock(clock.as_fn())
    .build()
    .unwrap()
}

/// Signs Alice in on the first instance, lets her token come due, then sends `MISSES` silent
/// requests on every instance at once. Returns the token requests they made.
async fn refresh_storm(lease: bool) -> Option<u64> {
    let redis = RedisServer::start()?;
    let mut config = Config::quickstart();
    config.lifetimes.access_token_secs = 600;
    let tenant = DevTenant::start(config).await.unwrap();
    let clock = Clock::default();
    let clients: Vec<_> = (0..INSTANCES)
        .map(|_| instance(&tenant, &redis, &clock, lease))
        .collect();
    let (url, flow) = clients[0]
        .auth_code_url(AuthCodeRequest::new(["User.Read"], q::WEB_APP_REDIRECT_URI))
        .await
        .unwrap();
    let (returned, _) = Browser::default()
        .sign_in(&tenant, url.as_str(), q::ALICE_EMAIL)
        .await;
    let signed_in = clients[0]
        .acquire_token_by_code(&returned.code, &returned.state, flow)
        .await
        .unwrap();
    let home = signed_in.account().unwrap().home_account_id().to_owned();
    // Every instance knows the account (from Redis) before the token comes due.
    let mut accounts = Vec::new();
    for client in &clients {
        accounts.push(client.account(&home).await.expect("account in Redis"));
    }
    let before = tenant.requests(Endpoint::Token);
    // Within the refresh margin: every instance misses.
    clock.advance(Duration::from_secs(360));
    tenant.inject_fault(Endpoint::Token, Fault::latency(Duration::from_millis(300)));
    let mut set = JoinSet::new();
    for (client, account) in clients.iter().zip(&accounts) {
        for _ in 0..MISSES {
            let (client, account) = (client.clone(), account.clone());
            set.spawn(async move {
                client
                    .acquire_token_silent(["User.Read"], &account)
                    .await
                    .map(|r| r.access_token().secret().to_owned())
                    .map_err(|e| e.to_string())
            });
        }
    }
    let mut tokens = Vec::new();
    while let Some(joined) = set.join_next().await {
        tokens.push(joined.unwrap().expect("silent token"));
    }
    assert_eq!(tokens.len(), INSTANCES * MISSES, "0 errors");
    assert!(
        tokens
            .iter()
            .all(|t| *t != signed_in.access_token().secret()),
        "every caller got a renewed token"
    );
    Some(tenant.requests(Endpoint::Token) - before)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_instances_refresh_a_users_token_with_one_request() {
    if let Some(requests) = refresh_storm(true).await {
        assert_eq!(requests, 1, "one refresh-token redemption for the fleet");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_lease_off_each_instance_refreshes() {
    if let Some(requests) = refresh_storm(false).await {
        assert_eq!(
            requests, INSTANCES as u64,
            "one per instance without the lease"
        );
    }
}
