//! Criterion bench for importing a whole MSAL cache document
//! (`ConfidentialClient::import_msal_cache` / `persistence::import_document`).
//!
//! The document is generated in MSAL Python's exact `serialize()` format
//! (AzureAD/microsoft-authentication-library-for-python, `msal/token_cache.py`: lower-cased
//! `{home_account_id}-{environment}-{credential_type}-{client_id}-{realm}-{target}` keys,
//! string timestamps, `realm` = the token endpoint's tenant, indented with 4 spaces as
//! `json.dumps(indent=4)` writes it): n users with one access token and one account each, plus
//! one refresh token, ID token and app metadata, so 2n + 3 entries (the 100,000-token
//! document has 200,003).
//!
//! Measured: `import_document` into a `MemoryStore` (parse, group by partition in one pass,
//! one store write per partition) at 10k tokens with criterion, and at 10k and 100k as single
//! timed runs printed to stderr, which also writes the 100k document to
//! `target/cache_import_100k.json` for a side-by-side run of MSAL Python's `deserialize()`.
//!
//! Under `cargo test --benches` (the smoke run) the size is 1,000.

#![expect(
    clippy::print_stderr,
    reason = "a command-line tool reports on the terminal"
)]

use std::hint::black_box;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use msal_lite::persistence::{MemoryStore, import_document};

const CLIENT_ID: &str = "4d2e6f8a-1b3c-4d5e-8f9a-0b1c2d3e4f5a";
const ENVIRONMENT: &str = "login.microsoftonline.com";
const TENANT: &str = "f645ad92-e38d-4d1a-b510-d1b09a74a8ca";
/// About the size of a real Entra access token.
const TOKEN_BYTES: usize = 1300;

fn measuring() -> bool {
    std::env::args().any(|a| a == "--bench")
}

/// An MSAL Python cache of `users` users, each with one access token.
fn python_document(users: usize) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    let secret: String = "x".repeat(TOKEN_BYTES);
    let target = "openid profile User.Read";
    let mut at = serde_json::Map::new();
    let mut accounts = serde_json::Map::new();
    for i in 0..users {
        let home = format!("{i:08x}-0000-4000-8000-000000000000.{TENANT}");
        let key = format!("{home}-{ENVIRONMENT}-accesstoken-{CLIENT_ID}-{TENANT}-{target}")
            .to_lowercase();
        at.insert(
            key,
            serde_json::json!({
                "credential_type": "AccessToken", "secret": secret, "home_account_id": home,
                "environment": ENVIRONMENT, "client_id": CLIENT_ID, "target": target,
                "realm": TENANT, "token_type": "Bearer", "cached_at": now.to_string(),
                "expires_on": (now + 3600).to_string(),
                "extended_expires_on": (now + 3600).to_string()
            }),
        );
        accounts.insert(
            format!("{home}-{ENVIRONMENT}-{TENANT}").to_lowercase(),
            serde_json::json!({
                "home_account_id": home, "environment": ENVIRONMENT, "realm": TENANT,
                "local_account_id": format!("{i:08x}-0000-4000-8000-000000000000"),
                "username": format!("user{i}@contoso.com"), "authority_type": "MSSTS",
                "account_source": "authorization_code"
            }),
        );
    }
    let home = format!("00000000-0000-4000-8000-000000000000.{TENANT}");
    let doc = serde_json::json!({
        "AccessToken": at,
        "Account": accounts,
        "RefreshToken": { format!("{home}-{ENVIRONMENT}-refreshtoken-{CLIENT_ID}--{target}").to_lowercase(): {
            "credential_type": "RefreshToken", "secret": "rt", "home_account_id": home,
            "environment": ENVIRONMENT, "client_id": CLIENT_ID, "target": target,
            "last_modification_time": now.to_string()
        }},
        "IdToken": { format!("{home}-{ENVIRONMENT}-idtoken-{CLIENT_ID}-{TENANT}-").to_lowercase(): {
            "credential_type": "IdToken", "secret": "e30.e30.", "home_account_id": home,
            "environment": ENVIRONMENT, "realm": TENANT, "client_id": CLIENT_ID
        }},
        "AppMetadata": { format!("appmetadata-{ENVIRONMENT}-{CLIENT_ID}"): {
            "client_id": CLIENT_ID, "environment": ENVIRONMENT
        }}
    });
    // `json.dumps(indent=4)`, as MSAL Python's `serialize()` writes it.
    let mut out = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, formatter);
    serde::Serialize::serialize(&doc, &mut ser).expect("serializes");
    String::from_utf8(out).expect("utf-8")
}

fn import_once(runtime: &tokio::runtime::Runtime, json: &[u8]) -> usize {
    runtime.block_on(async {
        let store = MemoryStore::new();
        let report = import_document(&store, json).await.expect("imports");
        report.entries
    })
}

fn import(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let sizes: &[usize] = if measuring() { &[10_000] } else { &[1_000] };
    let mut group = c.benchmark_group("cache_import");
    group.sample_size(10);
    for &n in sizes {
        let json = python_document(n);
        assert_eq!(import_once(&runtime, json.as_bytes()), 2 * n + 3);
        group.bench_with_input(BenchmarkId::new("python_document", n), &json, |b, json| {
            b.iter(|| black_box(import_once(&runtime, json.as_bytes())));
        });
    }
    group.finish();
    if measuring() {
        for n in [10_000, 100_000] {
            let json = python_document(n);
            let start = Instant::now();
            let entries = import_once(&runtime, json.as_bytes());
            eprintln!(
                "cache_import/{n}: {entries} entries, {} MB, {:.3} s",
                json.len() / 1_000_000,
                start.elapsed().as_secs_f64()
            );
            if n == 100_000 {
                let dir = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
                let path = format!("{dir}/cache_import_100k.json");
                if std::fs::write(&path, &json).is_ok() {
                    eprintln!("wrote {path} for MSAL Python's deserialize()");
                }
            }
        }
    }
}

criterion_group!(benches, import);
criterion_main!(benches);
