//! Issue 21: an on-behalf-of token is acquired once per fleet. Four API instances (each a
//! client with its own memory L1) share a real `redis-server` as L2 and receive the same
//! caller's token at the same moment, 250 requests each.
//!
//! The binary comes from `REDIS_SERVER` or `PATH`; without it the tests print why and pass,
//! unless `REQUIRE_TEST_TOOLS` is set.
#![cfg(all(feature = "redis", feature = "reqwest"))]

use std::sync::Arc;
use std::time::Duration;

use dev_tenant::{Config, DevTenant, Endpoint, Fault, TokenOptions, quickstart as q};
use msal_lite::persistence::{CacheStore, Layered, MemoryStore, RedisStore};
use msal_lite::{ClientCredential, ConfidentialClient, RetryPolicy, UserAssertion};
use test_support::RedisServer;
use tokio::task::JoinSet;

const INSTANCES: usize = 4;
const MISSES: usize = 250;

fn instance(tenant: &DevTenant, redis: &RedisServer, lease: bool) -> ConfidentialClient {
    let l2 = RedisStore::open(&redis.url())
        .unwrap()
        .operation_timeout(Duration::from_secs(5));
    let store: Arc<dyn CacheStore> =
        Arc::new(Layered::new(MemoryStore::new(), l2).l2_timeout(Duration::from_secs(5)));
    ConfidentialClient::builder(
        q::API_CLIENT_ID,
        tenant.authority(),
        ClientCredential::secret(q::API_CLIENT_SECRET),
    )
    .retry_policy(RetryPolicy::none())
    .cache_store(store)
    .distributed_single_flight(lease)
    .build()
    .unwrap()
}

/// `MISSES` OBO requests for one incoming token on each of the instances at once; the token
/// requests they made.
async fn obo_storm(lease: bool) -> Option<u64> {
    let redis = RedisServer::start()?;
    let tenant = DevTenant::start(Config::quickstart()).await.unwrap();
    tenant.inject_fault(Endpoint::Token, Fault::latency(Duration::from_millis(300)));
    let assertion = UserAssertion::new(
        tenant
            .access_token_for(
                q::ALICE_EMAIL,
                q::WEB_APP_CLIENT_ID,
                [q::API_SCOPE_URI],
                TokenOptions::default(),
            )
            .unwrap(),
    );
    let mut set = JoinSet::new();
    for _ in 0..INSTANCES {
        let client = instance(&tenant, &redis, lease);
        for _ in 0..MISSES {
            let (client, assertion) = (client.clone(), assertion.clone());
            set.spawn(async move {
                client
                    .acquire_token_on_behalf_of(assertion, ["User.ReadWrite"])
                    .await
                    .map(|r| r.access_token().secret().to_owned())
                    .map_err(|e| e.to_string())
            });
        }
    }
    let mut tokens = Vec::new();
    while let Some(joined) = set.join_next().await {
        tokens.push(joined.unwrap().expect("on-behalf-of token"));
    }
    assert_eq!(tokens.len(), INSTANCES * MISSES, "0 errors");
    if lease {
        assert!(
            tokens.iter().all(|t| *t == tokens[0]),
            "everyone got the leader's token"
        );
    }
    Some(tenant.requests(Endpoint::Token))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_api_instances_exchange_one_assertion_once() {
    if let Some(requests) = obo_storm(true).await {
        assert_eq!(requests, 1, "one on-behalf-of request for the fleet");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_lease_off_each_api_instance_exchanges_it() {
    if let Some(requests) = obo_storm(false).await {
        assert_eq!(requests, INSTANCES as u64);
    }
}
