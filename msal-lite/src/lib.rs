#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod account;
mod authority;
mod cache;
pub mod challenge;
pub mod claims;
mod client;
mod cloud;
mod correlation;
mod credential;
mod error;
pub mod http;
mod id_token;
mod instance_discovery;
mod metadata;
pub mod persistence;
mod region;
mod request;
mod response;
mod result;
pub mod schema;
mod scopes;
mod time;
mod user_assertion;

pub use account::Account;
pub use authority::{Authority, AuthorityKind, IntoAuthority};
pub use client::{ConfidentialClient, ConfidentialClientBuilder};
pub use correlation::CorrelationId;
pub use credential::{
    AssertionCallback, AssertionRequest, Certificate, ClientAssertion, ClientCredential,
    ClientSecret, SigningAlgorithm,
};
pub use error::{BoxError, Error, ServerError};
pub use http::RetryPolicy;
pub use region::AzureRegion;
pub use request::{
    AuthCodeFlow, AuthCodeRequest, PkceVerifier, Prompt, ResponseMode, SilentRequest,
};
pub use request::{ClientCredentialsRequest, OboRequest, RefreshToken, SessionKey};
pub use result::{AccessToken, AuthenticationResult, TokenSource};
pub use scopes::{IntoScopes, Scopes};
pub use time::{Clock, SystemClock};
pub use user_assertion::UserAssertion;
