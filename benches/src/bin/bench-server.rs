//! The servers `cargo xtask load` puts under `wrk`: one route (any method, `/`) answering 204.
//!
//! ```text
//! bench-server bare              # a bare axum handler
//! bench-server middleware        # edit-profile-middleware (warm validation cache) in front
//! bench-server middleware-cold   # the same with the validation cache off: every request is a
//!                                # full RS256 validation
//! bench-server tokens N          # print N distinct valid tokens, one per line, and exit
//! bench-server token             # print the fixture token and exit
//! ```
//!
//! The `update-user-info` shape (`cargo xtask load --update-user-info`, issue 20's harness):
//! `POST /updateUserInfo`, whose handler reads a 52-byte JSON body and answers 204, on a tokio
//! multi-thread runtime (`--workers N`, default 1), the validator built from a `jwks_uri` (served
//! from memory through [`HttpFetch`](edit_profile_middleware::HttpFetch), so the remote key-set
//! path is the one measured), `require_scopes` and `require_mfa(amr_mfa)`:
//!
//! ```text
//! bench-server uui-bare [--workers N]      # the handler alone
//! bench-server uui-bare-verify [--workers N]
//!                                          # the handler after one bare pre-parsed RS256 verify
//!                                          # per request (no layer): the verify-bound limit
//!                                          # measured under the same load, not computed
//! bench-server uui-warm [--workers N]      # behind the layer, validation cache on
//! bench-server uui-nocache [--workers N]   # behind the layer, cache_capacity(0)
//! bench-server verify-time                 # µs of a bare pre-parsed aws-lc RS256 verify: wall, CPU
//! ```
//!
//! A server binds 127.0.0.1 on an ephemeral port, prints `listening on 127.0.0.1:PORT`, and
//! serves on one thread (the load test pins it to one core) until its standard input closes, so
//! it never outlives the process that started it.

#![expect(
    clippy::print_stdout,
    reason = "a command-line tool reports on the terminal"
)]

use std::io::Read as _;

use std::time::Instant;

use axum::http::StatusCode;
use axum::routing::{any, post};
use axum::{Json, Router};
use benches::{API_CLIENT_ID, Fixture, SCOPE, issuer, mint};
use edit_profile_middleware::{BearerAuthLayer, FetchError, MfaPolicy, Validator};

async fn no_content() -> StatusCode {
    StatusCode::NO_CONTENT
}

/// The 52-byte body of the `update-user-info` shape.
#[derive(serde::Deserialize)]
struct UserInfo {
    #[serde(rename = "displayName")]
    display_name: String,
    city: String,
}

async fn update_user_info(Json(info): Json<UserInfo>) -> StatusCode {
    std::hint::black_box((&info.display_name, &info.city));
    StatusCode::NO_CONTENT
}

/// The `update-user-info` shape: a JSON body read, the validator built from a `jwks_uri`.
fn update_user_info_app(mode: &str) -> Result<Router, String> {
    let bare = Router::new().route("/updateUserInfo", post(update_user_info));
    let jwks = Fixture::new().jwks.into_bytes();
    let builder = Validator::builder()
        .issuer(issuer())
        .audience(API_CLIENT_ID)
        .jwks_uri("https://login.example.test/keys")
        .http_fetch(move |_url: String| {
            let jwks = jwks.clone();
            async move { Ok::<_, FetchError>(jwks) }
        });
    let validator = match mode {
        "uui-bare" => return Ok(bare),
        "uui-bare-verify" => {
            // The fixture lives as long as the server: the verify borrows its key and token.
            let fixture: &'static Fixture = Box::leak(Box::new(Fixture::new()));
            let baseline: &'static benches::Baseline<'static> =
                Box::leak(Box::new(fixture.baseline()));
            return Ok(bare.route_layer(tower::util::MapRequestLayer::new(
                move |request: axum::extract::Request| {
                    baseline.verify();
                    request
                },
            )));
        }
        "uui-warm" => builder.build(),
        "uui-nocache" => builder.cache_capacity(0).build(),
        other => return Err(format!("unknown mode {other:?}")),
    }
    .map_err(|e| format!("validator: {e}"))?;
    let auth = BearerAuthLayer::new(validator)
        .require_scopes([SCOPE])
        .require_mfa(MfaPolicy::new().amr_mfa());
    Ok(bare.route_layer(auth))
}

/// A bare pre-parsed aws-lc RS256 verify of the fixture token (the verify-bound limit of the
/// cold path), in µs: the median wall time of 15 rounds of 2,000 verifies, and the CPU time of the
/// whole run (this thread's `utime + stime`, which on a shared machine leaves out the time other
/// processes had the core).
fn verify_time() -> (f64, f64) {
    let fixture = Fixture::new();
    let baseline = fixture.baseline();
    for _ in 0..500 {
        baseline.verify();
    }
    let cpu_before = thread_cpu_ticks();
    let mut rounds: Vec<f64> = (0..15)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..2_000 {
                baseline.verify();
            }
            start.elapsed().as_secs_f64() * 1e6 / 2_000.0
        })
        .collect();
    let cpu_us = match (cpu_before, thread_cpu_ticks()) {
        // `CLK_TCK` is 100 on Linux: a tick is 10 ms.
        (Some(before), Some(after)) => (after - before) as f64 * 1e4 / (15.0 * 2_000.0),
        _ => f64::NAN,
    };
    rounds.sort_by(f64::total_cmp);
    (rounds[rounds.len() / 2], cpu_us)
}

/// This thread's `utime + stime` in clock ticks (`proc(5)`, fields 14 and 15).
fn thread_cpu_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_ascii_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

fn app(mode: &str) -> Result<Router, String> {
    let bare = Router::new().route("/", any(no_content));
    let fixture = Fixture::new();
    let builder = Validator::builder()
        .issuer(issuer())
        .audience(API_CLIENT_ID)
        .jwks_json(fixture.jwks);
    let validator = match mode {
        "bare" => return Ok(bare),
        "middleware" => builder.build(),
        "middleware-cold" => builder.cache_capacity(0).build(),
        other => return Err(format!("unknown mode {other:?}")),
    }
    .map_err(|e| format!("validator: {e}"))?;
    let auth = BearerAuthLayer::new(validator)
        .require_scopes([SCOPE])
        .require_mfa(MfaPolicy::new().amr_mfa());
    Ok(bare.route_layer(auth))
}

fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mode = args.first().map(String::as_str).unwrap_or("");
    match mode {
        "token" => {
            println!("{}", Fixture::new().token);
            return Ok(());
        }
        "tokens" => {
            let n: usize = args
                .get(1)
                .and_then(|n| n.parse().ok())
                .ok_or("usage: bench-server tokens N")?;
            let mut out = String::new();
            for t in mint(n) {
                out.push_str(&t);
                out.push('\n');
            }
            print!("{out}");
            return Ok(());
        }
        "verify-time" => {
            let (wall_us, cpu_us) = verify_time();
            println!("{wall_us:.3} {cpu_us:.3}");
            return Ok(());
        }
        _ => {}
    }
    let workers: usize = match args.iter().position(|a| a == "--workers") {
        Some(i) => args
            .get(i + 1)
            .and_then(|n| n.parse().ok())
            .filter(|n| *n > 0)
            .ok_or("--workers takes a positive number")?,
        None => 1,
    };
    let runtime = if mode.starts_with("uui-") {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    }
    .map_err(|e| format!("runtime: {e}"))?;
    let app = if mode.starts_with("uui-") {
        update_user_info_app(mode)?
    } else {
        app(mode)?
    };
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| format!("bind: {e}"))?;
        let addr = listener.local_addr().map_err(|e| format!("addr: {e}"))?;
        println!("listening on {addr}");
        // Stop when the parent closes our stdin (or dies).
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        std::thread::spawn(move || {
            let mut sink = Vec::new();
            let _ = std::io::stdin().read_to_end(&mut sink);
            let _ = stop_tx.send(());
        });
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stop_rx.await;
            })
            .await
            .map_err(|e| format!("serve: {e}"))
    })
}
