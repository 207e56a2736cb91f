//! `cargo run -p api`: the EditProfileService API. See the crate docs for configuration.

fn main() -> std::process::ExitCode {
    match api::Config::from_env() {
        Ok(_config) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("configuration: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
