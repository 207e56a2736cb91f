//! Partition keys: which slice of the cache an entry belongs to.

use std::fmt::Write as _;

use base64::Engine as _;

use super::{AccessToken, Account, IdToken, RefreshToken};

/// The unit of persistence: all entries of one user, one OBO assertion, or one app+tenant.
///
/// This is the partitioning MSAL documents for confidential clients ("Token cache
/// serialization in MSAL.NET", msal-node "caching" guide): web apps partition by home
/// account id, web APIs calling APIs on behalf of a user by the hash of the incoming
/// assertion, daemons by client id and tenant. Each partition is small, so loading and
/// saving one is cheap however many users the cache holds.
///
/// ```
/// use msal_lite::schema::PartitionKey;
///
/// let k = PartitionKey::obo_for_assertion("jwt");
/// assert_eq!(k, PartitionKey::obo("_JPLB-GtkomFJxAOWKHPHR5_ZemiZqb4fzyE_rVBx7M"));
/// assert_eq!(PartitionKey::app("cid", "tid").storage_name(), "app/cid/tid");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum PartitionKey {
    /// A signed-in user: `home_account_id` (`uid.utid`).
    User {
        /// The home account id.
        home_account_id: String,
    },
    /// On-behalf-of tokens obtained with one incoming assertion.
    Obo {
        /// base64url (no padding) SHA-256 of the assertion, as MSAL.NET and msal-node compute it.
        assertion_hash: String,
    },
    /// App-only (client credentials) tokens of one client in one tenant.
    App {
        /// The application (client) id.
        client_id: String,
        /// The tenant id (the entries' `realm`).
        tenant_id: String,
    },
}

impl PartitionKey {
    /// The partition of a user.
    ///
    /// ```
    /// # use msal_lite::schema::PartitionKey;
    /// assert_eq!(PartitionKey::user("uid.utid").storage_name(), "user/uid.utid");
    /// ```
    pub fn user(home_account_id: impl Into<String>) -> Self {
        Self::User {
            home_account_id: home_account_id.into(),
        }
    }

    /// The partition of an OBO assertion, from its hash.
    ///
    /// ```
    /// # use msal_lite::schema::PartitionKey;
    /// assert_eq!(PartitionKey::obo("h").storage_name(), "obo/h");
    /// ```
    pub fn obo(assertion_hash: impl Into<String>) -> Self {
        Self::Obo {
            assertion_hash: assertion_hash.into(),
        }
    }

    /// The partition of an OBO assertion, hashing it (base64url SHA-256, no padding).
    ///
    /// ```
    /// # use msal_lite::schema::PartitionKey;
    /// assert!(matches!(PartitionKey::obo_for_assertion("a.b.c"), PartitionKey::Obo { .. }));
    /// ```
    pub fn obo_for_assertion(assertion: &str) -> Self {
        Self::obo(assertion_hash(assertion))
    }

    /// The partition of an app in a tenant.
    ///
    /// ```
    /// # use msal_lite::schema::PartitionKey;
    /// assert!(matches!(PartitionKey::app("c", "t"), PartitionKey::App { .. }));
    /// ```
    pub fn app(client_id: impl Into<String>, tenant_id: impl Into<String>) -> Self {
        Self::App {
            client_id: client_id.into(),
            tenant_id: tenant_id.into(),
        }
    }

    /// A stable, unambiguous name for storage keys: `user/<id>`, `obo/<hash>`,
    /// `app/<client>/<tenant>`, with `%` and `/` inside components percent-encoded.
    ///
    /// ```
    /// # use msal_lite::schema::PartitionKey;
    /// assert_eq!(PartitionKey::app("a/b", "t").storage_name(), "app/a%2Fb/t");
    /// ```
    pub fn storage_name(&self) -> String {
        let mut out = String::new();
        match self {
            Self::User { home_account_id } => {
                out.push_str("user/");
                escape_into(&mut out, home_account_id);
            }
            Self::Obo { assertion_hash } => {
                out.push_str("obo/");
                escape_into(&mut out, assertion_hash);
            }
            Self::App {
                client_id,
                tenant_id,
            } => {
                out.push_str("app/");
                escape_into(&mut out, client_id);
                out.push('/');
                escape_into(&mut out, tenant_id);
            }
        }
        out
    }

    /// The key a [`storage_name`](Self::storage_name) names, or `None` for any other string.
    ///
    /// ```
    /// # use msal_lite::schema::PartitionKey;
    /// for key in [PartitionKey::user("u.t"), PartitionKey::obo("h"), PartitionKey::app("a/b", "t%")] {
    ///     assert_eq!(PartitionKey::from_storage_name(&key.storage_name()), Some(key));
    /// }
    /// assert_eq!(PartitionKey::from_storage_name("__version"), None);
    /// ```
    pub fn from_storage_name(name: &str) -> Option<Self> {
        let (kind, rest) = name.split_once('/')?;
        match kind {
            "user" => Some(Self::user(unescape(rest)?)),
            "obo" => Some(Self::obo(unescape(rest)?)),
            "app" => {
                let (client, tenant) = rest.split_once('/')?;
                Some(Self::app(unescape(client)?, unescape(tenant)?))
            }
            _ => None,
        }
    }

    /// `"user"`, `"obo"` or `"app"`: safe to log (the rest of the key identifies a person).
    ///
    /// ```
    /// # use msal_lite::schema::PartitionKey;
    /// assert_eq!(PartitionKey::user("x").kind(), "user");
    /// ```
    pub fn kind(&self) -> &'static str {
        match self {
            Self::User { .. } => "user",
            Self::Obo { .. } => "obo",
            Self::App { .. } => "app",
        }
    }

    fn credential(
        user_assertion_hash: Option<&str>,
        home_account_id: Option<&str>,
        client_id: &str,
        realm: Option<&str>,
    ) -> Self {
        match (user_assertion_hash, home_account_id) {
            (Some(h), _) if !h.is_empty() => Self::obo(h),
            (_, Some(home)) if !home.is_empty() => Self::user(home),
            _ => Self::app(client_id, realm.unwrap_or("")),
        }
    }

    /// Where an access token lives: its OBO hash if it has one, else its user, else its app.
    ///
    /// ```
    /// use msal_lite::schema::{AccessToken, CacheSecret, PartitionKey, UnixTime};
    /// let mut at = AccessToken::new("e", "cid", CacheSecret::new("t"), UnixTime::from_secs(1));
    /// at.realm = Some("tid".into());
    /// assert_eq!(PartitionKey::of_access_token(&at), PartitionKey::app("cid", "tid"));
    /// ```
    pub fn of_access_token(at: &AccessToken) -> Self {
        Self::credential(
            at.user_assertion_hash.as_deref(),
            at.home_account_id.as_deref(),
            &at.client_id,
            at.realm.as_deref(),
        )
    }

    /// Where a refresh token lives (same rule as access tokens).
    ///
    /// ```
    /// use msal_lite::schema::{CacheSecret, PartitionKey, RefreshToken};
    /// let mut rt = RefreshToken::new("e", "cid", CacheSecret::new("t"));
    /// rt.home_account_id = Some("u.t".into());
    /// assert_eq!(PartitionKey::of_refresh_token(&rt), PartitionKey::user("u.t"));
    /// ```
    pub fn of_refresh_token(rt: &RefreshToken) -> Self {
        Self::credential(
            rt.user_assertion_hash.as_deref(),
            rt.home_account_id.as_deref(),
            &rt.client_id,
            rt.realm.as_deref(),
        )
    }

    /// Where an ID token lives: its user.
    ///
    /// ```
    /// use msal_lite::schema::{CacheSecret, IdToken, PartitionKey};
    /// let mut idt = IdToken::new("e", "cid", CacheSecret::new("t"));
    /// idt.home_account_id = Some("u.t".into());
    /// assert_eq!(PartitionKey::of_id_token(&idt), PartitionKey::user("u.t"));
    /// ```
    pub fn of_id_token(idt: &IdToken) -> Self {
        Self::credential(
            None,
            idt.home_account_id.as_deref(),
            &idt.client_id,
            idt.realm.as_deref(),
        )
    }

    /// Where an account lives: its user.
    ///
    /// ```
    /// use msal_lite::schema::{Account, PartitionKey};
    /// let acc = Account::new("u.t", "e", "t");
    /// assert_eq!(PartitionKey::of_account(&acc), PartitionKey::user("u.t"));
    /// ```
    pub fn of_account(account: &Account) -> Self {
        Self::user(account.home_account_id.clone())
    }
}

/// base64url (no padding) of SHA-256 over the UTF-8 assertion: the OBO cache key of
/// MSAL.NET (`UserAssertion.AssertionHash`) and msal-node (`hashString`).
///
/// ```
/// use msal_lite::schema::assertion_hash;
/// assert_eq!(assertion_hash("jwt"), "_JPLB-GtkomFJxAOWKHPHR5_ZemiZqb4fzyE_rVBx7M");
/// ```
pub fn assertion_hash(assertion: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, assertion.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref())
}

fn escape_into(out: &mut String, component: &str) {
    for c in component.chars() {
        match c {
            '%' | '/' => {
                // Writing to a String cannot fail.
                let _ = write!(out, "%{:02X}", c as u32);
            }
            c => out.push(c),
        }
    }
}

/// The inverse of [`escape_into`]; `None` for a stray `/` or a bad escape.
fn unescape(component: &str) -> Option<String> {
    let mut out = String::with_capacity(component.len());
    let mut chars = component.chars();
    while let Some(c) = chars.next() {
        match c {
            '/' => return None,
            '%' => {
                let hex: String = chars.by_ref().take(2).collect();
                match u8::from_str_radix(&hex, 16).ok()? {
                    b'%' => out.push('%'),
                    b'/' => out.push('/'),
                    _ => return None,
                }
            }
            c => out.push(c),
        }
    }
    Some(out)
}
