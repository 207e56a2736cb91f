//! Running an example as a process: logging, binding, serving until Ctrl-C.

use std::net::SocketAddr;
use std::process::ExitCode;

use tracing_subscriber::EnvFilter;

/// Logs to stderr, filtered by `RUST_LOG` (default `info`).
pub fn init_tracing() {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
}

/// Serves `router` on `bind` until Ctrl-C, then shuts down gracefully (in-flight requests finish).
pub async fn serve(name: &str, bind: SocketAddr, router: axum::Router) -> ExitCode {
    let listener = match tokio::net::TcpListener::bind(bind).await {
        Ok(listener) => listener,
        Err(e) => {
            tracing::error!("cannot listen on {bind}: {e}");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!("{name} listening on http://{bind}");
    let served = axum::serve(listener, router)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
            tracing::info!("shutting down");
        })
        .await;
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("server error: {e}");
            ExitCode::FAILURE
        }
    }
}
