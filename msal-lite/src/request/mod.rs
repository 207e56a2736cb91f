//! Token requests: form building and the grant flows.

mod anchor_mailbox;
mod auth_code;
mod client_credentials;
mod obo;
mod silent;
mod token_request;

pub use auth_code::{AuthCodeFlow, AuthCodeRequest, PkceVerifier, Prompt, ResponseMode};
pub use client_credentials::ClientCredentialsRequest;
pub(crate) use client_credentials::acquire as acquire_for_client;
pub use obo::OboRequest;
pub use silent::SilentRequest;
pub(crate) use silent::UserState;
pub(crate) use token_request::{TokenRequest, common_headers, execute};
