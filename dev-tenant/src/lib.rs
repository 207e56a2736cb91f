#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod admin;
mod authorize;
mod client_auth;
mod config;
mod discovery;
mod errors;
mod faults;
mod grants;
mod graph;
mod handle;
mod https;
mod keys;
mod login;
mod logout;
mod pages;
pub mod parse;
pub mod quickstart;
mod routes;
mod scopes;
mod server;
mod session;
mod state;
mod time;
mod token;
mod tokens;

pub use config::{
    AdditionalTenant, AppRegistration, ApplicationPermission, AutoLogin, ConditionalAccessPolicy,
    Config, DelegatedPermission, HttpsConfig, Lifetimes, OptionalClaims, Secret, ServerConfig,
    TenantConfig, UserConfig,
};
pub use faults::{Endpoint, Fault, FaultKind, UnknownEndpoint};
pub use handle::{DevTenant, TokenOptions};

/// A user's Microsoft Graph profile (the fields of `GET /v1.0/me`).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), dev_tenant::Error> {
/// # let tenant = dev_tenant::DevTenant::start(dev_tenant::Config::quickstart()).await?;
/// let alice = tenant.user(dev_tenant::quickstart::ALICE_EMAIL).unwrap();
/// assert_eq!(alice.display_name, "Alice Example");
/// assert_eq!(alice.given_name.as_deref(), Some("Alice"));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct UserProfile {
    /// Object id.
    pub id: String,
    /// Email address.
    pub mail: String,
    /// Sign-in name.
    pub user_principal_name: String,
    /// Display name.
    pub display_name: String,
    /// Given name.
    pub given_name: Option<String>,
    /// Surname.
    pub surname: Option<String>,
    /// The other properties a user of an external tenant may edit with `PATCH /me` (Graph
    /// user resource: `jobTitle`, `preferredLanguage`, `city`, `country`, `streetAddress`,
    /// `postalCode`, `state`), by Graph property name; absent ones are unset.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub other: std::collections::BTreeMap<String, String>,
}

/// Errors from configuring, starting or steering a dev tenant.
///
/// ```
/// let err = dev_tenant::Config::from_toml_str("tenant = 1").unwrap_err();
/// assert!(matches!(err, dev_tenant::Error::ParseConfig(_)));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration is inconsistent.
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
    /// The configuration file could not be read.
    #[error("cannot read the configuration file {}", path.display())]
    ReadConfig {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The configuration is not valid TOML for [`Config`].
    #[error("cannot parse the configuration")]
    ParseConfig(#[source] Box<toml::de::Error>),
    /// The listener could not be bound.
    #[error("cannot bind the listener")]
    Bind(#[source] std::io::Error),
    /// Key or certificate generation failed.
    #[error("key or certificate generation failed: {0}")]
    Crypto(String),
    /// The TLS configuration was refused.
    #[error("TLS configuration failed")]
    Tls(#[source] Box<rustls::Error>),
    /// The HTTPS certificate could not be written.
    #[error("cannot write the certificate file")]
    WriteCert(#[source] std::io::Error),
    /// No user with that email.
    #[error("unknown user")]
    UnknownUser,
    /// No app registration with that client id.
    #[error("unknown client")]
    UnknownClient,
    /// The token request was refused (the message is Entra's error description).
    #[error("token request refused: {0}")]
    Rejected(String),
}

#[cfg(test)]
mod tests {
    #[test]
    fn error_is_send_sync() {
        fn check<T: Send + Sync + std::error::Error + 'static>() {}
        check::<super::Error>();
        check::<super::parse::ParseError>();
    }
}
