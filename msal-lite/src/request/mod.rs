//! Token requests: form building and the grant flows.

mod client_credentials;
mod obo;
mod token_request;

pub use client_credentials::ClientCredentialsRequest;
pub use obo::OboRequest;
pub(crate) use client_credentials::acquire as acquire_for_client;
pub(crate) use token_request::{TokenRequest, common_headers, execute};
