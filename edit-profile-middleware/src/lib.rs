#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod algorithm;
mod builder;
mod cache;
mod challenge;
mod claims;
mod clock;
mod discovery;
mod error;
#[cfg(feature = "axum")]
mod extract;
mod fetch;
mod future;
mod jwks;
mod keys;
mod layer;
mod parse;
mod policy;
mod rejection;
mod service;
mod token;
mod validate;

pub use algorithm::Algorithm;
pub use builder::ValidatorBuilder;
pub use challenge::claims_challenge;
#[cfg(feature = "msal-lite")]
pub use challenge::claims_challenge_from_msal;
pub use claims::Claims;
pub use discovery::ProviderMetadata;
pub use error::{ConfigError, TokenError};
#[cfg(feature = "axum")]
pub use extract::{BearerClaims, MissingClaims};
#[cfg(feature = "reqwest")]
pub use fetch::ReqwestFetch;
pub use fetch::{FetchError, FetchFuture, HttpFetch};
pub use future::ResponseFuture;
pub use jwks::JwksCache;
pub use layer::BearerAuthLayer;
pub use policy::{MfaPolicy, Policy, PolicyError};
pub use rejection::{BearerRejection, DefaultRejection, RejectionKind, RejectionResponse};
pub use service::BearerAuth;
pub use token::BearerToken;
pub use validate::Validator;
