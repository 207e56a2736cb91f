//! The cost of the fleet-wide acquisition lease (issue 21), against a real `redis-server` on
//! loopback, with a bare Redis round trip as the baseline in the same run.
//!
//! * `lease/redis_round_trip`: one `GET` of an absent key through the redis crate's
//!   multiplexed connection (the floor of anything that talks to Redis).
//! * `lease/acquire`: `RedisStore::acquisition_lease` on a free lease (one `EVAL`: `SET NX PX`
//!   plus the partition read); the release, which production sends in the background, is
//!   done outside the timed part.
//! * `lease/miss_without_lease` / `lease/miss_with_lease`: one `acquire_token_for_client` miss
//!   through a memory L1 + Redis L2 store (a new tenant per iteration, so each is a real miss
//!   of an empty partition), the token endpoint played by a closure transport. The difference
//!   is the lease's added latency on a miss; goal ≤ 1 round trip + 0.1 ms. Each timed miss
//!   follows an untimed one of the other kind, and waits (untimed) for its background release,
//!   so both see the same state and no release overlaps a timed miss.
//! * `lease/hit_without_lease` / `lease/hit_with_lease`: a cache hit (polled once); the goal
//!   is no difference: the lease is only on the miss path.
//!
//! After criterion, the bench prints medians of the same operations timed one by one, and the
//! added miss latency against the goal. Under `cargo test --bench lease` (the smoke run) it is
//! short. The `redis-server` comes from `REDIS_SERVER` or `PATH`; without it the bench says so
//! and measures nothing.

#![expect(
    clippy::print_stdout,
    reason = "a command-line tool reports on the terminal"
)]

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use benches::entra::{self, AUTHORITY};
use criterion::{Criterion, criterion_group, criterion_main};
use msal_lite::persistence::{CacheStore, Layered, LeaseOutcome, MemoryStore, RedisStore};
use msal_lite::schema::PartitionKey;
use msal_lite::{
    ClientCredential, ClientCredentialsRequest, ConfidentialClient, RetryPolicy, Scopes,
};
use test_support::RedisServer;
use tokio::runtime::Runtime;

const SCOPE: &str = "api://resource-0000000/.default";
const CLIENT_ID: &str = "4d2e6f8a-1b3c-4d5e-8f9a-0b1c2d3e4f5a";
const LEASE: Duration = Duration::from_secs(30);

struct Fixture {
    runtime: Runtime,
    _redis: RedisServer,
    conn: redis::aio::MultiplexedConnection,
    store: RedisStore,
    with_lease: ConfidentialClient,
    without_lease: ConfidentialClient,
    tenant: AtomicU64,
}

fn client(store: &RedisStore, lease: bool) -> ConfidentialClient {
    let layered: Arc<dyn CacheStore> = Arc::new(Layered::new(MemoryStore::new(), store.clone()));
    ConfidentialClient::builder(
        CLIENT_ID,
        AUTHORITY,
        ClientCredential::secret("bench-secret"),
    )
    .http_client(entra::transport(Arc::default()))
    .retry_policy(RetryPolicy::none())
    .cache_store(layered)
    .distributed_single_flight(lease)
    .build()
    .expect("the bench client builds")
}

impl Fixture {
    fn start() -> Option<Self> {
        let redis = RedisServer::start()?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let (conn, store) = runtime.block_on(async {
            let conn = redis::Client::open(redis.url())
                .expect("url")
                .get_multiplexed_async_connection()
                .await
                .expect("redis answers");
            let store = RedisStore::open(&redis.url()).expect("url");
            (conn, store)
        });
        let with_lease = client(&store, true);
        let without_lease = client(&store, false);
        Some(Self {
            runtime,
            _redis: redis,
            conn,
            store,
            with_lease,
            without_lease,
            tenant: AtomicU64::new(0),
        })
    }

    fn round_trip(&self) -> Duration {
        let mut conn = self.conn.clone();
        self.runtime.block_on(async move {
            let start = Instant::now();
            let got: Option<Vec<u8>> = redis::cmd("GET")
                .arg("bench:absent")
                .query_async(&mut conn)
                .await
                .expect("GET");
            let elapsed = start.elapsed();
            black_box(got);
            elapsed
        })
    }

    fn acquire(&self) -> Duration {
        let key = PartitionKey::app("bench", "lease");
        self.runtime.block_on(async {
            let start = Instant::now();
            let outcome = self
                .store
                .acquisition_lease(&key, SCOPE, LEASE)
                .await
                .expect("lease");
            let elapsed = start.elapsed();
            let LeaseOutcome::Acquired { lease, .. } = outcome else {
                panic!("the bench lease is free at every iteration");
            };
            lease.release().await.expect("release");
            elapsed
        })
    }

    /// One miss on `client` for a new tenant; waits (untimed) until its lease, released in the
    /// background, is gone, so that no release overlaps the next timed miss.
    fn miss(&self, client: &ConfidentialClient) -> Duration {
        let n = self.tenant.fetch_add(1, Ordering::Relaxed);
        let tenant = format!("t{n}.onmicrosoft.com");
        let lease_key = self
            .store
            .lease_key(&PartitionKey::app(CLIENT_ID, tenant.as_str()), SCOPE);
        let request = ClientCredentialsRequest::new([SCOPE]).tenant(tenant);
        let mut conn = self.conn.clone();
        self.runtime.block_on(async move {
            let start = Instant::now();
            let got = client
                .acquire_token_for_client_with(request)
                .await
                .expect("miss served");
            let elapsed = start.elapsed();
            black_box(got);
            loop {
                let held: bool = redis::cmd("EXISTS")
                    .arg(&lease_key)
                    .query_async(&mut conn)
                    .await
                    .expect("EXISTS");
                if !held {
                    break;
                }
                tokio::task::yield_now().await;
            }
            elapsed
        })
    }

    /// A timed miss on `timed` after an untimed one on `other`: both miss benches then run
    /// against the same, equally growing state (tenants in memory, keys in Redis).
    fn miss_after(&self, timed: &ConfidentialClient, other: &ConfidentialClient) -> Duration {
        self.miss(other);
        self.miss(timed)
    }
}

fn poll_once<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("a cache hit must not wait"),
    }
}

fn timed(iters: u64, mut one: impl FnMut() -> Duration) -> Duration {
    (0..iters).map(|_| one()).sum()
}

fn median(mut one: impl FnMut() -> Duration, n: usize) -> Duration {
    let mut samples: Vec<Duration> = (0..n).map(|_| one()).collect();
    samples.sort_unstable();
    samples[n / 2]
}

fn lease(c: &mut Criterion) {
    let Some(fx) = Fixture::start() else {
        println!("lease: redis-server not found; nothing measured");
        return;
    };
    let scopes = Scopes::new([SCOPE]).expect("scope");
    // Fill both clients' default partition for the hit benches.
    for client in [&fx.with_lease, &fx.without_lease] {
        fx.runtime
            .block_on(client.acquire_token_for_client(&scopes))
            .expect("first token");
    }

    let mut group = c.benchmark_group("lease");
    group
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1))
        .sample_size(30);
    group.bench_function("redis_round_trip", |b| {
        b.iter_custom(|i| timed(i, || fx.round_trip()))
    });
    group.bench_function("acquire", |b| b.iter_custom(|i| timed(i, || fx.acquire())));
    group.bench_function("miss_without_lease", |b| {
        b.iter_custom(|i| timed(i, || fx.miss_after(&fx.without_lease, &fx.with_lease)));
    });
    group.bench_function("miss_with_lease", |b| {
        b.iter_custom(|i| timed(i, || fx.miss_after(&fx.with_lease, &fx.without_lease)));
    });
    for (name, client) in [
        ("hit_without_lease", &fx.without_lease),
        ("hit_with_lease", &fx.with_lease),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| poll_once(client.acquire_token_for_client(black_box(&scopes))).expect("hit"));
        });
    }
    group.finish();

    // The same, timed one by one, interleaved so that machine noise hits both sides alike.
    let measured = std::env::args().any(|a| a == "--bench");
    let n = if measured { 2_000 } else { 20 };
    let rt = median(|| fx.round_trip(), n);
    let acquire = median(|| fx.acquire(), n);
    let mut without = Vec::with_capacity(n);
    let mut with = Vec::with_capacity(n);
    for _ in 0..n {
        without.push(fx.miss(&fx.without_lease));
        with.push(fx.miss(&fx.with_lease));
    }
    without.sort_unstable();
    with.sort_unstable();
    let (without, with) = (without[n / 2], with[n / 2]);
    let added = with.saturating_sub(without);
    let goal = rt + Duration::from_micros(100);
    println!(
        "lease (medians of {n}): redis round trip {rt:?}, lease acquire {acquire:?}, \
         miss without lease {without:?}, with lease {with:?}: added {added:?} \
         (goal <= round trip + 0.1 ms = {goal:?}: {})",
        if added <= goal { "met" } else { "NOT met" }
    );
}

criterion_group!(benches, lease);
criterion_main!(benches);
