//! Criterion benches for msal-lite's on-behalf-of cache hit, with baselines in the same run.
//!
//! The cache holds 100,000 partitions (one per incoming assertion, as an API serving 100,000
//! live user sessions would), each with a Graph token. Every measurement starts from the
//! assertion text, so each includes the SHA-256 that finds the partition.
//!
//! * `obo/baseline_sha256_base64url` — the floor: SHA-256 of a 1.2 KB assertion plus
//!   base64url (no padding) into a stack buffer, nothing else.
//! * `obo/cache_hit_100k_partitions` — the whole hit: `UserAssertion::new` (the hash) and
//!   `acquire_token_on_behalf_of` served from memory (partition lookup, scope match, expiry
//!   check, `Arc` clone), polled once: a hit never waits.
//! * `obo/linear_scan_oracle_100k` — what a cache without partitions does (msal-node filters
//!   every cached access token by `userAssertionHash` and target): hash, then scan all
//!   100,000 entries comparing hash and scopes.
//!
//! Read the results as ratios to the floor (same machine, same run).

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::{Criterion, criterion_group, criterion_main};
use msal_lite::http::{HttpError, HttpRequest};
use msal_lite::{ClientCredential, ConfidentialClient, Scopes, TokenSource, UserAssertion};

const PARTITIONS: usize = 100_000;
/// Under `cargo test --benches` (a smoke run in a debug build) a smaller cache keeps the setup
/// quick; the measured run (`cargo bench`, which passes `--bench`) uses [`PARTITIONS`].
const SMOKE_PARTITIONS: usize = 2_000;
const TOKEN_ENDPOINT: &str =
    "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token";

/// A JWT-shaped assertion of about 1.2 KB (a typical Entra access token), unique per `i`.
fn assertion(i: usize) -> Arc<str> {
    let payload = format!(
        r#"{{"aud":"api://4d2e6f8a-1b3c-4d5e-8f9a-0b1c2d3e4f5a","iss":"https://login.microsoftonline.com/b3c2a1f0-5d4e-4f6a-9b8c-7d6e5f4a3b2c/v2.0","tid":"b3c2a1f0-5d4e-4f6a-9b8c-7d6e5f4a3b2c","oid":"00000000-0000-0000-0000-{i:012}","scp":"EditProfileService.ReadWrite","pad":"{}"}}"#,
        "x".repeat(600)
    );
    format!(
        "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.{}.{}",
        URL_SAFE_NO_PAD.encode(payload),
        "s".repeat(342)
    )
    .into()
}

/// A transport playing Entra: metadata, then a Graph token for every exchange.
fn fake_entra() -> impl msal_lite::http::HttpClient {
    move |request: HttpRequest| {
        let body = if request.uri().path().ends_with("openid-configuration") {
            format!(
                r#"{{"issuer":"https://login.microsoftonline.com/tid/v2.0","token_endpoint":"{TOKEN_ENDPOINT}"}}"#
            )
        } else {
            r#"{"token_type":"Bearer","expires_in":3599,"ext_expires_in":3599,"scope":"User.ReadWrite openid profile","access_token":"eyJ0eXAi.eyJ0aWQiOiJ0aWQifQ.sig"}"#.to_owned()
        };
        async move {
            http::Response::builder()
                .header("content-type", "application/json")
                .body(body.into())
                .map_err(HttpError::other)
        }
    }
}

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

/// base64url (no padding) SHA-256 into a stack buffer: the floor.
fn hash_floor(assertion: &str) -> [u8; 43] {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, assertion.as_bytes());
    let mut out = [0u8; 43];
    let written = URL_SAFE_NO_PAD
        .encode_slice(digest.as_ref(), &mut out)
        .expect("43 bytes hold a SHA-256 in base64url");
    assert_eq!(written, 43);
    out
}

/// One entry of the oracle: what msal-node's flat access-token map compares.
struct FlatEntry {
    user_assertion_hash: String,
    target: String,
    secret: Arc<str>,
}

fn obo(c: &mut Criterion) {
    let partitions = if std::env::args().any(|a| a == "--bench") {
        PARTITIONS
    } else {
        SMOKE_PARTITIONS
    };
    let assertions: Vec<Arc<str>> = (0..partitions).map(assertion).collect();
    let client = ConfidentialClient::builder(
        "4d2e6f8a-1b3c-4d5e-8f9a-0b1c2d3e4f5a",
        "https://login.microsoftonline.com/contoso.onmicrosoft.com",
        ClientCredential::secret("secret"),
    )
    .http_client(fake_entra())
    .build()
    .expect("client builds");
    let scopes = Scopes::new(["User.ReadWrite"]).expect("scopes");

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut oracle = Vec::with_capacity(partitions);
    runtime.block_on(async {
        for a in &assertions {
            let assertion = UserAssertion::new(a.clone());
            let result = client
                .acquire_token_on_behalf_of(assertion.clone(), &scopes)
                .await
                .expect("fake Entra answers");
            oracle.push(FlatEntry {
                user_assertion_hash: assertion.hash().to_owned(),
                target: "user.readwrite".to_owned(),
                secret: result.access_token().secret().into(),
            });
        }
    });

    // Sanity: the measured paths find the right token, from the cache.
    let probe = assertions[partitions / 2].clone();
    let hit =
        poll_once(client.acquire_token_on_behalf_of(UserAssertion::new(probe.clone()), &scopes))
            .expect("hit");
    assert_eq!(hit.source(), TokenSource::Cache);
    let floor = hash_floor(&probe);
    let want = std::str::from_utf8(&floor).expect("ascii");
    assert_eq!(UserAssertion::new(probe.clone()).hash(), want);
    let found = oracle
        .iter()
        .find(|e| e.user_assertion_hash == want && e.target == "user.readwrite")
        .expect("oracle finds it");
    assert_eq!(&*found.secret, hit.access_token().secret());

    let mut group = c.benchmark_group("obo");
    group.bench_function("baseline_sha256_base64url", |b| {
        b.iter(|| hash_floor(black_box(&probe)))
    });
    group.bench_function("cache_hit_100k_partitions", |b| {
        b.iter(|| {
            let assertion = UserAssertion::new(black_box(&probe).clone());
            poll_once(client.acquire_token_on_behalf_of(assertion, &scopes)).expect("hit")
        })
    });
    group.bench_function("linear_scan_oracle_100k", |b| {
        b.iter(|| {
            let hash = hash_floor(black_box(&probe));
            let hash = std::str::from_utf8(&hash).expect("ascii");
            oracle
                .iter()
                .find(|e| e.user_assertion_hash == hash && e.target == "user.readwrite")
                .map(|e| e.secret.clone())
                .expect("oracle finds it")
        })
    });
    group.finish();
}

criterion_group!(benches, obo);
criterion_main!(benches);
