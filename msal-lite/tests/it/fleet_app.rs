//! Issue 21: one token request per fleet, not per instance. Four daemon instances (each a
//! client with its own memory L1) share a real `redis-server` as L2 and ask the dev tenant
//! for the same app token at the same moment.
//!
//! The binary comes from `REDIS_SERVER` or `PATH`; without it the tests print why and pass,
//! unless `REQUIRE_TEST_TOOLS` is set.
#![cfg(all(feature = "redis", feature = "reqwest"))]

use std::sync::Arc;
use std::time::{Duration, Instant};

use dev_tenant::{Config, DevTenant, Endpoint, Fault, quickstart as q};
use msal_lite::persistence::{CacheStore, Layered, MemoryStore, RedisStore};
use msal_lite::{ClientCredential, ConfidentialClient, RetryPolicy, TokenSource};
use test_support::RedisServer;
use tokio::task::JoinSet;

const GRAPH_DEFAULT: &str = "https://graph.microsoft.com/.default";
const INSTANCES: usize = 4;
const MISSES: usize = 250;

/// One daemon instance: its own memory L1 in front of the shared Redis.
fn instance(
    tenant: &DevTenant,
    redis: &RedisServer,
    tune: impl FnOnce(msal_lite::ConfidentialClientBuilder) -> msal_lite::ConfidentialClientBuilder,
) -> ConfidentialClient {
    let l2 = RedisStore::open(&redis.url())
        .unwrap()
        .operation_timeout(Duration::from_secs(5));
    // Generous timeouts: 1000 tasks on a shared 2-core machine must not read as an outage.
    let store: Arc<dyn CacheStore> =
        Arc::new(Layered::new(MemoryStore::new(), l2).l2_timeout(Duration::from_secs(5)));
    tune(
        ConfidentialClient::builder(
            q::DAEMON_CLIENT_ID,
            tenant.authority(),
            ClientCredential::secret(q::DAEMON_CLIENT_SECRET),
        )
        .retry_policy(RetryPolicy::none())
        .cache_store(store),
    )
    .build()
    .unwrap()
}

fn fleet(
    tenant: &DevTenant,
    redis: &RedisServer,
    tune: impl Fn(msal_lite::ConfidentialClientBuilder) -> msal_lite::ConfidentialClientBuilder,
) -> Vec<ConfidentialClient> {
    (0..INSTANCES)
        .map(|_| instance(tenant, redis, &tune))
        .collect()
}

/// `MISSES` concurrent requests on `client`, each returning the token (or the error text).
fn misses(client: &ConfidentialClient, set: &mut JoinSet<Result<(String, TokenSource), String>>) {
    for _ in 0..MISSES {
        let client = client.clone();
        set.spawn(async move {
            client
                .acquire_token_for_client([GRAPH_DEFAULT])
                .await
                .map(|r| (r.access_token().secret().to_owned(), r.source()))
                .map_err(|e| e.to_string())
        });
    }
}

async fn all_ok(
    mut set: JoinSet<Result<(String, TokenSource), String>>,
) -> Vec<(String, TokenSource)> {
    let mut out = Vec::new();
    while let Some(joined) = set.join_next().await {
        out.push(joined.expect("task ran").expect("token acquired"));
    }
    out
}

/// Polls Redis until no acquisition lease is left (the leader releases it in the background).
async fn wait_for_no_lease(redis: &RedisServer) {
    let client = redis::Client::open(redis.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg("msal-lite:__lease/*")
            .query_async(&mut conn)
            .await
            .unwrap();
        if keys.is_empty() {
            return;
        }
        assert!(Instant::now() < deadline, "lease never released: {keys:?}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_instances_with_250_misses_each_send_one_token_request() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let tenant = DevTenant::start(Config::quickstart()).await.unwrap();
    // A slow token endpoint, so that every instance misses while the first request is out.
    tenant.inject_fault(Endpoint::Token, Fault::latency(Duration::from_millis(300)));
    let clients = fleet(&tenant, &redis, |b| b);
    let mut set = JoinSet::new();
    for client in &clients {
        misses(client, &mut set);
    }
    let got = all_ok(set).await;
    assert_eq!(got.len(), INSTANCES * MISSES);
    assert_eq!(
        tenant.requests(Endpoint::Token),
        1,
        "one token request for the fleet"
    );
    let first = &got[0].0;
    assert!(
        got.iter().all(|(t, _)| t == first),
        "everyone got the leader's token"
    );
    let from_network = got
        .iter()
        .filter(|(_, s)| *s == TokenSource::Network)
        .count();
    assert!(
        (1..=MISSES).contains(&from_network),
        "only the leader's instance saw the network"
    );
    wait_for_no_lease(&redis).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_lease_off_each_instance_sends_its_own_request() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let tenant = DevTenant::start(Config::quickstart()).await.unwrap();
    tenant.inject_fault(Endpoint::Token, Fault::latency(Duration::from_millis(300)));
    let clients = fleet(&tenant, &redis, |b| b.distributed_single_flight(false));
    let mut set = JoinSet::new();
    for client in &clients {
        misses(client, &mut set);
    }
    all_ok(set).await;
    // Local single flight only: one request per instance (what the lease saves).
    assert_eq!(tenant.requests(Endpoint::Token), INSTANCES as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_leader_is_replaced_after_its_lease_with_no_errors() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let tenant = DevTenant::start(Config::quickstart()).await.unwrap();
    // The leader's request hangs far longer than the lease.
    tenant.inject_fault(
        Endpoint::Token,
        Fault::latency(Duration::from_secs(20)).times(1),
    );
    let lease = Duration::from_millis(600);
    let clients = fleet(&tenant, &redis, |b| b.distributed_lease_ttl(lease));
    // Before the leader takes its lease: nobody may get a token before `lease` after this.
    let before_lease = Instant::now();
    let mut leader = JoinSet::new();
    misses(&clients[0], &mut leader);
    // Poll until the leader's request is at the token endpoint (it holds the lease then).
    let deadline = Instant::now() + Duration::from_secs(10);
    while tenant.requests(Endpoint::Token) == 0 {
        assert!(
            Instant::now() < deadline,
            "the leader never sent its request"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let mut others = JoinSet::new();
    for client in &clients[1..] {
        misses(client, &mut others);
    }
    // Kill the leader mid-acquisition: every task of its instance goes, and with them its
    // flight and its request; it never releases the lease.
    leader.abort_all();
    while leader.join_next().await.is_some() {}
    let got = all_ok(others).await;
    assert_eq!(got.len(), (INSTANCES - 1) * MISSES, "0 errors");
    assert!(
        before_lease.elapsed() >= lease,
        "the others waited for the lease to expire"
    );
    assert_eq!(
        tenant.requests(Endpoint::Token),
        2,
        "the dead leader's request and one replacement"
    );
    let first = &got[0].0;
    assert!(got.iter().all(|(t, _)| t == first));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_redis_stopped_every_instance_still_gets_its_token() {
    let Some(mut redis) = RedisServer::start() else {
        return;
    };
    let tenant = DevTenant::start(Config::quickstart()).await.unwrap();
    tenant.inject_fault(Endpoint::Token, Fault::latency(Duration::from_millis(100)));
    let clients = fleet(&tenant, &redis, |b| b);
    redis.kill();
    let mut set = JoinSet::new();
    for client in &clients {
        misses(client, &mut set);
    }
    let got = all_ok(set).await;
    assert_eq!(got.len(), INSTANCES * MISSES, "every miss got a token");
    let requests = tenant.requests(Endpoint::Token);
    assert!(
        (1..=INSTANCES as u64).contains(&requests),
        "local single flight per instance: {requests} requests"
    );
}

#[test]
fn a_zero_lease_is_a_configuration_error() {
    let built = ConfidentialClient::builder(
        q::DAEMON_CLIENT_ID,
        "https://login.microsoftonline.com/contoso.onmicrosoft.com",
        ClientCredential::secret(q::DAEMON_CLIENT_SECRET),
    )
    .distributed_lease_ttl(Duration::ZERO)
    .build();
    assert!(built.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_leader_releases_the_lease_and_a_waiter_acquires_at_once() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let tenant = DevTenant::start(Config::quickstart()).await.unwrap();
    // The leader holds the lease through a slow discovery, then its token request fails.
    tenant.inject_fault(
        Endpoint::Discovery,
        Fault::latency(Duration::from_millis(300)).times(1),
    );
    tenant.inject_fault(Endpoint::Token, Fault::status(500).times(1));
    // The default lease (30 s): waiting it out would fail the time bound below.
    let clients = fleet(&tenant, &redis, |b| b);
    let started = Instant::now();
    let mut set = JoinSet::new();
    for (i, client) in clients.iter().enumerate() {
        for _ in 0..MISSES {
            let client = client.clone();
            set.spawn(async move {
                let got = client.acquire_token_for_client([GRAPH_DEFAULT]).await;
                (i, got.map(|r| r.access_token().secret().to_owned()))
            });
        }
    }
    let mut failed_instances = std::collections::BTreeSet::new();
    let mut tokens = Vec::new();
    while let Some(joined) = set.join_next().await {
        match joined.unwrap() {
            (_, Ok(token)) => tokens.push(token),
            (i, Err(_)) => {
                failed_instances.insert(i);
            }
        }
    }
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the waiters did not wait for the lease to expire: {:?}",
        started.elapsed()
    );
    assert_eq!(
        failed_instances.len(),
        1,
        "only the failed leader's callers see its error"
    );
    assert_eq!(tokens.len(), (INSTANCES - 1) * MISSES);
    assert!(tokens.iter().all(|t| *t == tokens[0]));
    assert_eq!(
        tenant.requests(Endpoint::Token),
        2,
        "the failed request and one replacement"
    );
}
