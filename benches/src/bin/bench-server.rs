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
//! A server binds 127.0.0.1 on an ephemeral port, prints `listening on 127.0.0.1:PORT`, and
//! serves on one thread (the load test pins it to one core) until its standard input closes, so
//! it never outlives the process that started it.

#![expect(
    clippy::print_stdout,
    reason = "a command-line tool reports on the terminal"
)]

use std::io::Read as _;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::any;
use benches::{API_CLIENT_ID, Fixture, SCOPE, issuer, mint};
use edit_profile_middleware::{BearerAuthLayer, MfaPolicy, Validator};

async fn no_content() -> StatusCode {
    StatusCode::NO_CONTENT
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
        _ => {}
    }
    let app = app(mode)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
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
