//! Token requests: form building and the grant flows.

mod auth_code;
mod background_refresh;
mod client_credentials;
mod long_running_obo;
mod obo;
mod silent;
mod token_request;

pub use auth_code::{AuthCodeFlow, AuthCodeRequest, PkceVerifier, Prompt, ResponseMode};
pub(crate) use background_refresh::BackgroundRefresh;
pub use client_credentials::ClientCredentialsRequest;
pub(crate) use client_credentials::acquire as acquire_for_client;
pub use long_running_obo::SessionKey;
pub use obo::OboRequest;
pub use silent::SilentRequest;
pub(crate) use silent::UserState;
pub(crate) use token_request::{TokenRequest, common_headers, execute};
