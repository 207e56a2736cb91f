//! # The quickstart web app, in Rust
//!
//! **What it shows.** The web-app half of Microsoft's quickstart "Edit profile in a sample Node.js
//! web app": a confidential client that signs a customer in with auth code + PKCE
//! (`response_mode=form_post`), shows their ID-token claims and their Microsoft Graph profile, and
//! edits it through the EditProfileService API. Opening the edit page asks for a token for the API,
//! which the tenant's Conditional Access policy protects with MFA: the tenant answers
//! `interaction_required` with claims, and the app sends the user to the tenant with those claims,
//! then back to the page. Tokens live in msal-lite's cache (memory, or Redis with `REDIS_URL`); the
//! session holds only the account id and a CSRF token. With `REDIS_URL`, sessions and token caches
//! are shared by every instance and sealed with `DATA_KEYS` (see `docs/deploy.md`).
//!
//! **Configure it for a real tenant.** Register a web app in your external tenant with the
//! redirect URI `http://localhost:3000/auth/redirect`, a client secret, and the delegated
//! permissions `User.Read` (Graph) and `EditProfileService.ReadWrite` (your API), admin-consented.
//! Set the variables listed in [`config`] in the environment or a `.env` file.
//!
//! **Run it.** `cargo run -p web-app` (with the API running), or `cargo run -p quickstart` for
//! everything on the local dev tenant.

#![forbid(unsafe_code)]

mod app;
pub mod config;
pub mod flow_cookie;
pub mod pages;
mod routes;
mod security_headers;
pub mod session_store;

pub use app::{
    AppState, HOST_SESSION_COOKIE, MSAL_CACHE_PREFIX, SESSION_COOKIE, SESSION_INACTIVITY,
    SESSION_PREFIX, StartError, USER_PARTITION_TTL, app,
};
pub use config::Config;
