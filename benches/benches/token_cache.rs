//! Criterion benches for msal-lite's token cache, with a linear-scan oracle in the same run.
//!
//! The cache is filled through the public API (`acquire_token_for_client`, answered by a closure
//! transport, no server) with 1.3 KB tokens, and looked up through the public API. Two shapes:
//!
//! * **Tenant partitions** (`token_cache/tenants_hit/{n}`): n tokens spread over n / 10 tenants
//!   (`ClientCredentialsRequest::tenant`) × 10 resources, so n app partitions of 10 entries
//!   each: what a multi-tenant daemon holds. Sizes 1k, 10k, 100k, 1M (grown in one client).
//! * **One partition** (`token_cache/one_partition_hit/{n}`): n resources of one client and
//!   tenant, all in one app partition (the production report of 164k tokens in one
//!   `AppTokenCache` partition), looked up with a prebuilt `Scopes`. Sizes 1k, 10k, 100k, 1M.
//!
//! Each hit is polled once (a hit never waits). Beside each, `…_linear_scan/{n}` is the
//! MSAL-style oracle over the same n entries: filter every access-token record on client id,
//! environment, realm and target (scope superset), require exactly one match, check expiry,
//! clone the secret.
//!
//! Outside criterion, the bench prints per size (and appends to
//! `target/criterion/token_cache/alloc.tsv` for `bench-report`): allocations per hit (goal: zero
//! besides the returned `Arc`, i.e. 0) and retained heap bytes per entry while filling,
//! against the token length (goal: ≤ token bytes + 256 B).
//!
//! Finding (fixed): `PartitionMap::insert` (msal-lite `src/cache/mod.rs`) used to run `retain`
//! over the whole partition on every insert, so filling one partition was O(n²) (90k inserts
//! took 262 s). It now sweeps once per partition-size inserts, and 1M fills like the tenant shape.
//!
//! Under `cargo test --benches` (the smoke run) the sizes are 100 and 1,000.

#![expect(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a command-line tool reports on the terminal"
)]

use std::alloc::System;
use std::future::Future;
use std::hint::black_box;
use std::io::Write as _;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::task::{Context, Poll, Waker};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use benches::entra::{self, TOKEN_BYTES, resource_scope};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use msal_lite::{
    AuthenticationResult, ClientCredentialsRequest, ConfidentialClient, Error, Scopes, TokenSource,
};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Resources per tenant in the tenant-partitions shape.
const PER_TENANT: usize = 10;
const CLIENT_ID: &str = "4d2e6f8a-1b3c-4d5e-8f9a-0b1c2d3e4f5a";
const ENVIRONMENT: &str = "login.microsoftonline.com";
const HOME_TENANT: &str = "contoso.onmicrosoft.com";

/// Polls a future once; a cache hit completes without waiting.
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

/// An access-token record as MSAL's flat cache holds it (owned strings per field).
struct Record {
    client_id: String,
    environment: String,
    realm: String,
    target: String,
    expires_on: u64,
    secret: Arc<str>,
}

/// The oracle: MSAL's filter over every access token, then "exactly one match".
fn linear_lookup(records: &[Record], realm: &str, target: &str, now: u64) -> Arc<str> {
    let mut found = None;
    let mut matches = 0;
    for r in records {
        if r.client_id == CLIENT_ID
            && r.environment == ENVIRONMENT
            && r.realm == realm
            && target
                .split(' ')
                .all(|s| r.target.split(' ').any(|t| t.eq_ignore_ascii_case(s)))
        {
            matches += 1;
            found = Some(r);
        }
    }
    assert_eq!(matches, 1, "the oracle finds exactly one token");
    let r = found.expect("one match");
    assert!(r.expires_on > now + 300, "fresh");
    r.secret.clone()
}

fn measured() -> bool {
    std::env::args().any(|a| a == "--bench")
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
}

/// The i-th entry of the tenant-partitions shape: (tenant, scope).
fn tenant_entry(i: usize) -> (String, String) {
    (
        format!("tenant-{:07}.onmicrosoft.com", i / PER_TENANT),
        resource_scope(i % PER_TENANT),
    )
}

/// A request for `scope` in `tenant`, built as a caller that keeps both would: an `Arc` clone
/// each, no allocation.
fn tenant_request(tenant: &Arc<str>, scope: &Scopes) -> ClientCredentialsRequest {
    ClientCredentialsRequest::new(scope).tenant(Arc::clone(tenant))
}

/// Appends one line of allocator figures (stdout and `target/criterion/token_cache/alloc.tsv`).
fn record(line: &str) {
    println!("{line}");
    if !measured() {
        return;
    }
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/criterion/token_cache");
    if std::fs::create_dir_all(&dir).is_ok()
        && let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("alloc.tsv"))
    {
        let _ = writeln!(f, "{line}");
    }
}

/// Fills entries `from..to` with `acquire`; returns the net heap bytes kept per entry.
fn fill(
    runtime: &tokio::runtime::Runtime,
    from: usize,
    to: usize,
    acquire: impl AsyncFn(usize) -> Result<AuthenticationResult, Error>,
) -> f64 {
    let region = Region::new(GLOBAL);
    let started = Instant::now();
    runtime.block_on(async {
        for i in from..to {
            let result = acquire(i).await.expect("the fake Entra answers");
            debug_assert_eq!(result.source(), TokenSource::Network);
        }
    });
    let change = region.change();
    eprintln!(
        "filled {} entries in {:.1} s",
        to - from,
        started.elapsed().as_secs_f64()
    );
    (change.bytes_allocated as f64 - change.bytes_deallocated as f64) / (to - from) as f64
}

/// Allocations and bytes per call of `hit`, over 1,000 calls.
fn allocations(mut hit: impl FnMut()) -> (f64, f64) {
    const HITS: u64 = 1_000;
    let region = Region::new(GLOBAL);
    for _ in 0..HITS {
        hit();
    }
    let change = region.change();
    (
        change.allocations as f64 / HITS as f64,
        change.bytes_allocated as f64 / HITS as f64,
    )
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// A client with discovery done, so that its allocations stay out of the per-entry figure.
fn warm_client(runtime: &tokio::runtime::Runtime) -> ConfidentialClient {
    let client = entra::client(Arc::new(AtomicU64::new(0)));
    runtime.block_on(async {
        client
            .acquire_token_for_client(["api://warm-up/.default"])
            .await
            .expect("the fake Entra answers")
    });
    client
}

fn tenants(c: &mut Criterion) {
    let runtime = runtime();
    let client = warm_client(&runtime);
    let sizes: &[usize] = if measured() {
        &[1_000, 10_000, 100_000, 1_000_000]
    } else {
        &[100, 1_000]
    };
    let mut records: Vec<Record> = Vec::new();
    let mut filled = 0;
    let now = now();
    let mut group = c.benchmark_group("token_cache");
    for &n in sizes {
        let per_entry = fill(&runtime, filled, n, async |i| {
            let (tenant, scope) = tenant_entry(i);
            client
                .acquire_token_for_client_with(
                    ClientCredentialsRequest::new([scope]).tenant(tenant),
                )
                .await
        });
        for i in filled..n {
            let (tenant, scope) = tenant_entry(i);
            let scopes = Scopes::new([scope.as_str()]).expect("scopes");
            let hit = poll_once(client.acquire_token_for_client_with(tenant_request(
                &Arc::from(tenant.as_str()),
                &scopes,
            )))
            .expect("hit");
            assert_eq!(hit.source(), TokenSource::Cache);
            records.push(Record {
                client_id: CLIENT_ID.to_owned(),
                environment: ENVIRONMENT.to_owned(),
                realm: tenant,
                target: scope,
                expires_on: now + 86_399,
                secret: hit.access_token().secret().into(),
            });
        }
        filled = n;

        // Probe the middle; the oracle must agree with the cache.
        let (tenant, probe) = tenant_entry(n / 2 + 3);
        let tenant: Arc<str> = tenant.into();
        let scopes = Scopes::new([probe.as_str()]).expect("scopes");
        let hit = poll_once(client.acquire_token_for_client_with(tenant_request(&tenant, &scopes)))
            .expect("hit");
        assert_eq!(hit.source(), TokenSource::Cache);
        assert_eq!(
            &*linear_lookup(&records, &tenant, &probe, now),
            hit.access_token().secret()
        );
        let (allocs, bytes) = allocations(|| {
            black_box(
                poll_once(client.acquire_token_for_client_with(tenant_request(
                    black_box(&tenant),
                    black_box(&scopes),
                )))
                .expect("hit"),
            );
        });
        record(&format!(
            "tenants\t{n}\tallocations_per_hit\t{allocs:.2}\tbytes_per_hit\t{bytes:.0}\tretained_bytes_per_entry\t{per_entry:.0}\ttoken_bytes\t{TOKEN_BYTES}"
        ));

        group.bench_with_input(BenchmarkId::new("tenants_hit", n), &n, |b, _| {
            b.iter(|| {
                poll_once(client.acquire_token_for_client_with(tenant_request(
                    black_box(&tenant),
                    black_box(&scopes),
                )))
                .expect("hit")
            })
        });
        if n >= 100_000 {
            group.sample_size(10);
        }
        group.bench_with_input(BenchmarkId::new("tenants_linear_scan", n), &n, |b, _| {
            b.iter(|| linear_lookup(&records, &tenant, black_box(&probe), now))
        });
        group.sample_size(100);
    }
    group.finish();
}

fn one_partition(c: &mut Criterion) {
    let runtime = runtime();
    let client = warm_client(&runtime);
    let sizes: &[usize] = if measured() {
        &[1_000, 10_000, 100_000, 1_000_000]
    } else {
        &[100, 1_000]
    };
    let mut records: Vec<Record> = Vec::new();
    let mut filled = 0;
    let now = now();
    let mut group = c.benchmark_group("token_cache");
    for &n in sizes {
        let per_entry = fill(&runtime, filled, n, async |i| {
            client.acquire_token_for_client([resource_scope(i)]).await
        });
        for i in filled..n {
            let scope = resource_scope(i);
            let hit = poll_once(client.acquire_token_for_client([scope.as_str()])).expect("hit");
            assert_eq!(hit.source(), TokenSource::Cache);
            records.push(Record {
                client_id: CLIENT_ID.to_owned(),
                environment: ENVIRONMENT.to_owned(),
                realm: HOME_TENANT.to_owned(),
                target: scope,
                expires_on: now + 86_399,
                secret: hit.access_token().secret().into(),
            });
        }
        filled = n;

        let probe = resource_scope(n / 2 + 3);
        let scopes = Scopes::new([probe.as_str()]).expect("scopes");
        let hit = poll_once(client.acquire_token_for_client(&scopes)).expect("hit");
        assert_eq!(hit.source(), TokenSource::Cache);
        assert_eq!(
            &*linear_lookup(&records, HOME_TENANT, &probe, now),
            hit.access_token().secret()
        );
        let (allocs, bytes) = allocations(|| {
            black_box(poll_once(client.acquire_token_for_client(black_box(&scopes))).expect("hit"));
        });
        record(&format!(
            "one_partition\t{n}\tallocations_per_hit\t{allocs:.2}\tbytes_per_hit\t{bytes:.0}\tretained_bytes_per_entry\t{per_entry:.0}\ttoken_bytes\t{TOKEN_BYTES}"
        ));

        group.bench_with_input(BenchmarkId::new("one_partition_hit", n), &n, |b, _| {
            b.iter(|| poll_once(client.acquire_token_for_client(black_box(&scopes))).expect("hit"))
        });
        if n >= 100_000 {
            group.sample_size(10);
        }
        group.bench_with_input(
            BenchmarkId::new("one_partition_linear_scan", n),
            &n,
            |b, _| b.iter(|| linear_lookup(&records, HOME_TENANT, black_box(&probe), now)),
        );
        group.sample_size(100);
    }
    group.finish();
}

criterion_group!(benches, one_partition, tenants);
criterion_main!(benches);
