//! Criterion benches for msal-lite's claims-challenge handling, with the baseline in the same
//! run.
//!
//! * `challenge/baseline_base64_serde_json` — the floor: base64-decode the `claims` value of
//!   the header below and parse it with `serde_json` into a `Value`, nothing else.
//! * `challenge/parse_www_authenticate` — RFC 7235 parsing of the whole header value.
//! * `challenge/claims_challenge_from_headers` — the whole job: find the header in a
//!   `HeaderMap`, parse it, classify it, decode and check the claims.
//! * `claims/merge_client_capabilities` — merging `xms_cc` into the decoded claims.
//!
//! Read the results as ratios to the baseline (same machine, same run).

use std::hint::black_box;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use criterion::{Criterion, criterion_group, criterion_main};
use http::header::WWW_AUTHENTICATE;
use http::{HeaderMap, HeaderValue};
use msal_lite::challenge::{ClaimsChallenge, parse_www_authenticate};
use msal_lite::claims::merge_client_capabilities;

/// A Microsoft Graph CAE challenge (the shape Graph sends after a revocation).
const HEADER: &str = r#"Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000", error="insufficient_claims", claims="eyJhY2Nlc3NfdG9rZW4iOnsibmJmIjp7ImVzc2VudGlhbCI6dHJ1ZSwidmFsdWUiOiIxNjAyMDEzOTU0In19fQ==""#;
const CLAIMS_B64: &str =
    "eyJhY2Nlc3NfdG9rZW4iOnsibmJmIjp7ImVzc2VudGlhbCI6dHJ1ZSwidmFsdWUiOiIxNjAyMDEzOTU0In19fQ==";

fn challenge(c: &mut Criterion) {
    let mut headers = HeaderMap::new();
    headers.insert(WWW_AUTHENTICATE, HeaderValue::from_static(HEADER));

    // Sanity: every measured path does the real work on this input.
    let found = ClaimsChallenge::from_headers(&headers).expect("fixture is a claims challenge");
    let decoded = STANDARD.decode(CLAIMS_B64).expect("fixture base64");
    assert_eq!(found.claims().as_bytes(), decoded.as_slice());

    let mut group = c.benchmark_group("challenge");
    group.bench_function("baseline_base64_serde_json", |b| {
        b.iter(|| {
            let bytes = STANDARD
                .decode(black_box(CLAIMS_B64))
                .expect("fixture base64");
            let value: serde_json::Value = serde_json::from_slice(&bytes).expect("fixture json");
            black_box(value)
        })
    });
    group.bench_function("parse_www_authenticate", |b| {
        b.iter(|| parse_www_authenticate(black_box(HEADER)).expect("fixture parses"))
    });
    group.bench_function("claims_challenge_from_headers", |b| {
        b.iter(|| {
            ClaimsChallenge::from_headers(black_box(&headers))
                .expect("fixture is a claims challenge")
        })
    });
    group.finish();

    let claims = found.claims().to_owned();
    let capabilities = ["cp1".to_owned()];
    c.bench_function("claims/merge_client_capabilities", |b| {
        b.iter(|| {
            merge_client_capabilities(Some(black_box(&claims)), black_box(&capabilities))
                .expect("fixture merges")
        })
    });
}

criterion_group!(benches, challenge);
criterion_main!(benches);
