//! `cargo run -p web-app`: the quickstart web app. See the crate docs for configuration.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    api::server::init_tracing();
    // A missing .env file is fine: the environment may carry everything.
    let _ = dotenvy::dotenv();
    let config = match web_app::Config::from_env() {
        Ok(config) => config,
        Err(e) => {
            tracing::error!("configuration: {e}");
            return ExitCode::FAILURE;
        }
    };
    match web_app::app(&config).await {
        Ok(router) => api::server::serve("web app", config.bind, router).await,
        Err(e) => {
            tracing::error!(error = %e, cause = ?std::error::Error::source(&e).map(ToString::to_string), "could not start");
            ExitCode::FAILURE
        }
    }
}
