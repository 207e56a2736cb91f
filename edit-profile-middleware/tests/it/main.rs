//! Integration tests: a real axum app behind the layer, tokens signed by real RSA keys, keys
//! served by a real HTTP server on loopback (and by the dev tenant, see `dev_tenant.rs`).
//!
//! They fetch keys over HTTP, so they need the default `reqwest` feature.
#![cfg(feature = "reqwest")]

mod attacks;
mod bounded;
mod dev_tenant;
mod keys;
mod policy;
mod support;
