//! # EditProfileService: the quickstart's API, in Rust
//!
//! **What it shows.** The API half of Microsoft's quickstart "Edit profile in a sample Node.js web
//! app": `POST /updateUserInfo` accepts a bearer token for
//! `api://{CLIENT_ID}/EditProfileService.ReadWrite`, validates it (signature, issuer, audience,
//! expiry, scope and MFA — the Node sample validated nothing), exchanges it on-behalf-of for a
//! Microsoft Graph token with `User.ReadWrite`, and sends `PATCH /v1.0/me`. It answers `204` on
//! success, `400`/`422` for bad bodies, `401`/`403` challenges for bad tokens, `401` with a claims
//! challenge when Graph or the token endpoint asks for more claims, and `502` when Graph fails —
//! never `200` on failure.
//!
//! **Configure it for a real tenant.** Register the EditProfileService API in your external
//! tenant, expose the scope `EditProfileService.ReadWrite`, grant it the Graph delegated permission
//! `User.ReadWrite` with admin consent, create a client secret, then set the variables listed in
//! [`config`] (in the environment or a `.env` file).
//!
//! **Run it.** `cargo run -p api` (or `cargo run -p quickstart` for everything on the dev tenant).

#![forbid(unsafe_code)]

mod app;
pub mod at_rest;
pub mod config;
pub mod graph;
pub mod profile;
mod routes;
pub mod server;

pub use app::{
    AppState, CACHE_FLUSH_INTERVAL, OBO_CACHE_PREFIX, OBO_PARTITION_TTL, SharedTokenCache,
    StartError, app, redis_cache_store, tenant_authority,
};
pub use config::Config;
pub use routes::GRAPH_SCOPE;
