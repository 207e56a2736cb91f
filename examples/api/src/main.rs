//! `cargo run -p api`: the EditProfileService API. See the crate docs for configuration.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    api::server::init_tracing();
    // A missing .env file is fine: the environment may carry everything.
    let _ = dotenvy::dotenv();
    let config = match api::Config::from_env() {
        Ok(config) => config,
        Err(e) => {
            tracing::error!("configuration: {e}");
            return ExitCode::FAILURE;
        }
    };
    match api::app(&config).await {
        Ok(router) => api::server::serve("EditProfileService", config.bind, router).await,
        Err(e) => {
            tracing::error!(error = %e, cause = ?std::error::Error::source(&e).map(ToString::to_string), "could not start");
            ExitCode::FAILURE
        }
    }
}
