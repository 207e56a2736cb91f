//! msal-lite's integration tests, one binary (as the sibling crates lay them out): a single link
//! instead of one per file, which is most of a cold `cargo test` on two cores.
//!
//! Each module is one former `tests/*.rs` file; `user_support` and `interop_support` are their
//! shared fixtures. Modules that need a feature say so with `#![cfg(..)]` at their top.

#[cfg(feature = "reqwest")]
mod interop_support;
#[cfg(feature = "reqwest")]
mod user_support;

mod app_token_store;
mod azure_region;
mod by_refresh_token;
mod cache_import;
mod challenge_claims;
mod challenge_dev_tenant;
mod challenge_parser;
mod client_credentials;
mod faults;
mod fleet_app;
mod fleet_lease;
mod fleet_obo;
mod fleet_user;
mod id_token_keys;
mod instance_discovery;
mod interop_node;
mod interop_python;
mod obo;
mod obo_long_running;
mod obo_redis;
mod outgoing_headers;
mod outgoing_request;
mod redis_cache;
mod refresh_in;
mod request_options;
mod schema_proptest;
mod schema_roundtrip;
mod store_listing;
mod throttling;
mod user_flows;
mod user_flows_redis;
