//! Latency distribution of token-cache hits under two threads (not criterion: criterion reports
//! means of batches, and this goal is about the tail of single calls).
//!
//! A client holds 10,000 app tokens (filled through a closure transport, no server). First one
//! thread, then two threads at once, each time `acquire_token_for_client` hits for random
//! resources; every call is timed with `Instant` (the timer's own cost, measured in the same run
//! with back-to-back `Instant::now()` pairs, is printed as `timer_floor`). Goal: p99 of the
//! two-thread run ≤ 2 × its p50 (no write lock on reads, no LRU promotion under a mutex).
//! Both runs are repeated over the first 16 tokens only (`…_hot16`), which separates the cost
//! of sharing between threads from the cache misses of random picks among 10,000.
//!
//! Results go to stdout and to `target/criterion/cache_latency/latency.tsv` for `bench-report`.
//! Under `cargo test --benches` (the smoke run) the run is short.

#![expect(
    clippy::print_stdout,
    reason = "a command-line tool reports on the terminal"
)]

use std::future::Future;
use std::hint::black_box;
use std::io::Write as _;
use std::pin::pin;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Barrier};
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use benches::entra::{self, resource_scope};
use msal_lite::{ConfidentialClient, Scopes, TokenSource};

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

/// xorshift64: a cheap deterministic choice of resource per call.
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

/// Times `calls` hits; returns the sorted latencies in nanoseconds.
fn run(client: &ConfidentialClient, scopes: &[Scopes], calls: usize, seed: u64) -> Vec<u64> {
    let mut state = seed;
    let mut samples = Vec::with_capacity(calls);
    for _ in 0..calls {
        let s = &scopes[(next(&mut state) % scopes.len() as u64) as usize];
        let start = Instant::now();
        let hit = poll_once(client.acquire_token_for_client(black_box(s))).expect("hit");
        let elapsed = start.elapsed();
        debug_assert_eq!(hit.source(), TokenSource::Cache);
        black_box(hit);
        samples.push(u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX));
    }
    samples.sort_unstable();
    samples
}

fn pct(sorted: &[u64], p: f64) -> u64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

/// Both threads at once, each timing `calls` hits; the merged, sorted latencies.
fn two_threads(client: &ConfidentialClient, scopes: &[Scopes], calls: usize) -> Vec<u64> {
    let barrier = Barrier::new(2);
    let two: Vec<Vec<u64>> = std::thread::scope(|s| {
        let handles: Vec<_> = [0x1234_5678_9abc_def1_u64, 0x0fed_cba9_8765_4321]
            .into_iter()
            .map(|seed| {
                let barrier = &barrier;
                s.spawn(move || {
                    barrier.wait();
                    run(client, scopes, calls, seed)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });
    let mut both: Vec<u64> = two.concat();
    both.sort_unstable();
    both
}

fn main() {
    let measured = std::env::args().any(|a| a == "--bench");
    let (entries, calls) = if measured {
        (10_000, 2_000_000)
    } else {
        (200, 20_000)
    };
    let client = entra::client(Arc::new(AtomicU64::new(0)));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let scopes: Vec<Scopes> = (0..entries)
        .map(|i| Scopes::new([resource_scope(i)]).expect("scopes"))
        .collect();
    runtime.block_on(async {
        for s in &scopes {
            client
                .acquire_token_for_client(s)
                .await
                .expect("the fake Entra answers");
        }
    });

    // The timer's own cost, same run.
    let mut floor: Vec<u64> = (0..calls / 10)
        .map(|_| {
            let start = Instant::now();
            u64::try_from(black_box(start).elapsed().as_nanos()).unwrap_or(u64::MAX)
        })
        .collect();
    floor.sort_unstable();

    let one = run(&client, &scopes, calls, 0x9e37_79b9_7f4a_7c15);
    let both = two_threads(&client, &scopes, calls);
    // The same with 16 hot tokens: what is left is the cost of sharing (the read lock's
    // counter and the tokens' reference counts bouncing between the cores), without the cache
    // misses of picking one of 10,000 entries at random.
    let hot = &scopes[..16.min(scopes.len())];
    let one_hot = run(&client, hot, calls, 0x9e37_79b9_7f4a_7c15);
    let both_hot = two_threads(&client, hot, calls);

    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load = load.split(' ').next().unwrap_or("?").to_owned();
    let mut lines = vec![format!(
        "# entries={entries} calls_per_thread={calls} loadavg_1m={load}"
    )];
    for (name, s) in [
        ("timer_floor", &floor),
        ("one_thread", &one),
        ("two_threads", &both),
        ("one_thread_hot16", &one_hot),
        ("two_threads_hot16", &both_hot),
    ] {
        let (p50, p99, p999) = (pct(s, 0.50), pct(s, 0.99), pct(s, 0.999));
        lines.push(format!(
            "{name}\tp50_ns\t{p50}\tp99_ns\t{p99}\tp999_ns\t{p999}\tp99_over_p50\t{:.2}",
            p99 as f64 / p50.max(1) as f64
        ));
    }
    for l in &lines {
        println!("{l}");
    }
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/criterion/cache_latency");
    if measured
        && std::fs::create_dir_all(&dir).is_ok()
        && let Ok(mut f) = std::fs::File::create(dir.join("latency.tsv"))
    {
        for l in &lines {
            let _ = writeln!(f, "{l}");
        }
    }
}
