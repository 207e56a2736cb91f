#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod cache;
mod challenge;
mod claims;
#[cfg(feature = "axum")]
mod extract;
mod future;
mod jwks;
mod layer;
mod policy;
mod rejection;
mod service;
mod validate;

pub use challenge::claims_challenge;
#[cfg(feature = "msal-lite")]
pub use challenge::claims_challenge_from_msal;
pub use claims::Claims;
#[cfg(feature = "axum")]
pub use extract::{BearerClaims, MissingClaims};
pub use future::ResponseFuture;
#[cfg(feature = "reqwest")]
pub use jwks::ReqwestFetch;
pub use jwks::{Algorithm, FetchError, FetchFuture, HttpFetch, JwksCache, ProviderMetadata};
pub use layer::BearerAuthLayer;
pub use policy::{MfaPolicy, Policy, PolicyError};
pub use rejection::{BearerRejection, DefaultRejection, RejectionKind, RejectionResponse};
pub use service::BearerAuth;
pub use validate::{ConfigError, TokenError, Validator, ValidatorBuilder};
