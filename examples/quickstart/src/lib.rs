//! # The Edit-profile quickstart in one process
//!
//! **What it shows.** Microsoft's quickstart "Edit profile in a sample Node.js web app", in Rust
//! and offline: a web app signs a user in (authorization code + PKCE, `form_post`), shows the ID
//! token's claims and the Microsoft Graph profile, and edits the profile through the
//! EditProfileService API, which requires multifactor authentication (a Conditional Access
//! policy) and calls Graph on the user's behalf (on-behalf-of). [`start`] runs the three parts
//! in one process:
//!
//! | part | listens on | stands for |
//! |---|---|---|
//! | `dev-tenant` with [`dev_tenant::Config::quickstart`] | `http://127.0.0.1:3002` | the Entra External ID tenant (login, MFA, tokens) and Microsoft Graph `/v1.0/me` |
//! | `api` (EditProfileService) | `http://127.0.0.1:3001` | the API that updates the profile |
//! | `web-app` | `http://localhost:3000` | the web app the user opens |
//!
//! The tenant's URLs name `127.0.0.1` while the web app is opened as `localhost`: to a browser
//! they are two different sites, as a real tenant (`contoso.ciamlogin.com`) and a web app are,
//! so the cross-site `form_post` back to the web app is exercised as it is in production.
//!
//! **Run it.** `cargo run -p quickstart`, open <http://localhost:3000>, sign in as
//! `alice@contoso.com` / `Passw0rd!`. The MFA page shows the one-time code in a dev-only hint;
//! the dev tenant also logs it. Ports: `--web-port`, `--api-port`, `--tenant-port` (or
//! `WEB_PORT`, `API_PORT`, `TENANT_PORT`).
//!
//! **With a real tenant.** Nothing here is specific to the dev tenant except the variables
//! [`start`] hands to each app: run `cargo run -p api` and `cargo run -p web-app` with the
//! variables of your own app registrations instead (see `examples/README.md`).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), quickstart::StartError> {
//! let running = quickstart::start(quickstart::Ports::EPHEMERAL).await?;
//! assert!(running.web_url().starts_with("http://localhost:"));
//! assert!(running.tenant().authority().starts_with("http://127.0.0.1:"));
//! running.shutdown().await.expect("servers stop cleanly");
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod settings;
mod stack;

pub use stack::{Options, Ports, Quickstart, StartError, start};
