//! MSAL's unified token cache schema: the JSON that MSAL Node, MSAL Python, MSAL.NET and
//! MSAL Java read and write, so a cache can move between msal-lite and MSAL apps.
//!
//! # Contents
//!
//! - [`CacheDocument`]: a whole cache or one partition; [`CacheDocument::from_json`] /
//!   [`CacheDocument::to_json`].
//! - The entries: [`AccessToken`], [`RefreshToken`], [`IdToken`], [`Account`], [`AppMetadata`],
//!   with secrets in the redacted [`CacheSecret`] and unknown fields in [`ExtraFields`].
//! - Keys: [`KeyStyle`] and the `cache_key` method of each entry; [`PartitionKey`].
//! - [`ClientInfo`]: lenient `client_info` decoding.
//!
//! # Compatibility
//!
//! - Field names are MSAL's snake_case names. msal-node writes the OBO hash as
//!   `userAssertionHash` and MSAL.NET as `user_assertion_hash`, and neither reads the other's,
//!   so a new entry is written with both; a parsed entry keeps the spellings it had.
//!   Likewise the PoP key id (`key_id` for Node and Python, `kid` for .NET, `keyId` in older
//!   Node files) and `token_type` (`tokenType` in older Node files).
//! - Timestamps are written as strings of Unix seconds; numbers are accepted on read.
//! - `target` keeps its case; keys use it lower-cased.
//!
//! ```
//! use msal_lite::schema::{CacheDocument, PartitionKey};
//!
//! let json = r#"{"Account": {"uid.utid-login.microsoftonline.com-utid": {
//!     "home_account_id": "uid.utid", "environment": "login.microsoftonline.com",
//!     "realm": "utid", "username": "john@contoso.com", "authority_type": "MSSTS"}}}"#;
//! let doc = CacheDocument::from_json(json)?;
//! let user = doc.partition(&PartitionKey::user("uid.utid"));
//! assert_eq!(user.accounts.len(), 1);
//! # Ok::<(), msal_lite::schema::SchemaError>(())
//! ```

mod client_info;
mod document;
mod entities;
mod error;
mod fields;
mod keys;
mod partition;
mod secret;
mod streaming;
mod time;

pub use client_info::ClientInfo;
pub use document::CacheDocument;
pub use entities::{
    AccessToken, Account, AppMetadata, CREDENTIAL_ACCESS_TOKEN,
    CREDENTIAL_ACCESS_TOKEN_WITH_AUTH_SCHEME, CREDENTIAL_ID_TOKEN, CREDENTIAL_REFRESH_TOKEN,
    IdToken, RefreshToken,
};
pub use error::SchemaError;
pub use fields::ExtraFields;
pub use keys::{KeyStyle, normalize_target};
pub use partition::{PartitionKey, assertion_hash};
pub use secret::CacheSecret;
pub use time::UnixTime;
