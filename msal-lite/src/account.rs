//! The signed-in user, as MSAL models it.

use std::fmt;
use std::sync::{Arc, OnceLock};

use serde_json::{Map, Value};

/// A signed-in user: who they are and which cache partition holds their tokens.
///
/// `home_account_id` (`<uid>.<utid>` from the token endpoint's `client_info`) identifies the
/// account across tenants and is the key of the user's token-cache partition, so a web app
/// only needs to keep that string in its session and can find the account again with
/// [`ConfidentialClient::account`](crate::ConfidentialClient::account) (from memory, or from
/// the cache store after a restart or on another instance).
///
/// Cloning is cheap (the claims are shared).
///
/// ```no_run
/// # async fn demo(client: msal_lite::ConfidentialClient, home_account_id: String) -> Result<(), msal_lite::Error> {
/// if let Some(account) = client.account(&home_account_id).await {
///     println!("{:?} ({:?}) in tenant {}", account.name(), account.username(), account.tenant_id());
///     let given_name = account.id_token_claims().get("given_name");
///     # let _ = given_name;
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Account {
    pub(crate) home_account_id: Arc<str>,
    pub(crate) environment: Arc<str>,
    pub(crate) tenant_id: Arc<str>,
    pub(crate) local_account_id: Option<Arc<str>>,
    pub(crate) username: Option<Arc<str>>,
    pub(crate) name: Option<Arc<str>>,
    pub(crate) claims: Arc<Claims>,
}

/// An account's ID token claims, parsed on first use. An account read from a cache (an import
/// of a whole MSAL document, a partition loaded from the store) keeps only the raw ID token,
/// which its partition holds anyway: parsing every user's claims up front made an import of
/// 100,000 users allocate a claims map per user that nothing reads unless the app asks.
#[derive(Default)]
pub(crate) struct Claims {
    /// Parsed on first [`get`](Self::get); empty when it does not parse.
    id_token: Option<Arc<str>>,
    parsed: OnceLock<Map<String, Value>>,
}

impl Claims {
    /// Claims parsed already (a token response's ID token).
    pub(crate) fn parsed(claims: Map<String, Value>) -> Self {
        Self {
            id_token: None,
            parsed: OnceLock::from(claims),
        }
    }

    /// The claims of `id_token`, parsed when first asked for (none without an ID token).
    pub(crate) fn of_id_token(id_token: Option<Arc<str>>) -> Self {
        Self {
            id_token,
            parsed: OnceLock::new(),
        }
    }

    pub(crate) fn get(&self) -> &Map<String, Value> {
        self.parsed.get_or_init(|| {
            self.id_token
                .as_deref()
                .and_then(crate::id_token::unverified_claims)
                .unwrap_or_default()
        })
    }
}

impl From<Map<String, Value>> for Claims {
    fn from(claims: Map<String, Value>) -> Self {
        Self::parsed(claims)
    }
}

impl Account {
    /// `<uid>.<utid>`: the object id and tenant id of the user's home account, from
    /// `client_info` (MSAL's account model). Stable for the user; safe to keep in a session.
    pub fn home_account_id(&self) -> &str {
        &self.home_account_id
    }

    /// The authority host (MSAL's "environment"), e.g. `contoso.ciamlogin.com`.
    pub fn environment(&self) -> &str {
        &self.environment
    }

    /// The tenant that signed the user in (the ID token's `tid`, else the home tenant).
    pub fn tenant_id(&self) -> &str {
        &self.tenant_id
    }

    /// The user's object id in [`tenant_id`](Self::tenant_id) (the ID token's `oid`).
    pub fn local_account_id(&self) -> Option<&str> {
        self.local_account_id.as_deref()
    }

    /// The ID token's `preferred_username` (an email address or UPN; display only, never an
    /// identifier: users can change it).
    pub fn username(&self) -> Option<&str> {
        self.username.as_deref()
    }

    /// The ID token's `name`.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// All claims of the ID token the account was last seen with ("Microsoft identity
    /// platform: ID token claims reference"). Empty when the account was read from a cache
    /// store that held no ID token for it.
    pub fn id_token_claims(&self) -> &Map<String, Value> {
        self.claims.get()
    }

    /// `username` as MSAL fills it: `preferred_username`, else `upn` (ADFS), else the first of
    /// `emails` (B2C) (MSAL Python `token_cache._get_username`; msal-common
    /// `AccountEntity.createAccount`).
    pub(crate) fn username_from_claims(claims: &Map<String, Value>) -> Option<Arc<str>> {
        Self::claim_str(claims, "preferred_username")
            .or_else(|| Self::claim_str(claims, "upn"))
            .or_else(|| {
                claims
                    .get("emails")
                    .and_then(Value::as_array)
                    .and_then(|e| e.first())
                    .and_then(Value::as_str)
                    .filter(|s| !s.is_empty())
                    .map(Arc::from)
            })
    }

    /// `local_account_id` as MSAL fills it: `oid`, else `sub` (MSAL Python `TokenCache.__add`).
    pub(crate) fn local_account_id_from_claims(claims: &Map<String, Value>) -> Option<Arc<str>> {
        Self::claim_str(claims, "oid").or_else(|| Self::claim_str(claims, "sub"))
    }

    pub(crate) fn claim_str(claims: &Map<String, Value>, name: &str) -> Option<Arc<str>> {
        claims
            .get(name)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(Arc::from)
    }
}

impl fmt::Debug for Account {
    // The claims can hold personal data; they are left out (the fields shown identify the
    // account as MSAL's logs do).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Account")
            .field("home_account_id", &self.home_account_id)
            .field("environment", &self.environment)
            .field("tenant_id", &self.tenant_id)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

impl PartialEq for Account {
    /// Two values are the same account when their home account id and environment match.
    fn eq(&self, other: &Self) -> bool {
        self.home_account_id == other.home_account_id && self.environment == other.environment
    }
}

impl Eq for Account {}

/// The `home_account_id` of a token response without `client_info` (ADFS, a plain OpenID
/// Connect provider), as MSAL builds it: the ID token's `sub` (msal-common
/// `AccountEntity.generateHomeAccountId`: "default to sub claim"; MSAL Python `token_cache.py`
/// `__parse_account`: `sub`, "always exists, per OIDC specs"). A refresh keeps the account it
/// refreshes (`previous`), so an account never changes its id between refreshes.
pub(crate) fn home_account_id_without_client_info(
    sub: Option<&str>,
    previous: Option<&Account>,
) -> Option<String> {
    match (previous, sub) {
        (Some(account), _) => Some(account.home_account_id().to_owned()),
        (None, Some(sub)) if !sub.is_empty() => Some(sub.to_owned()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_leaves_out_claims() {
        let mut claims = Map::new();
        claims.insert("secret_ish".into(), Value::from("do-not-print"));
        let a = Account {
            home_account_id: "u.t".into(),
            environment: "e".into(),
            tenant_id: "t".into(),
            local_account_id: None,
            username: Some("alice@contoso.com".into()),
            name: None,
            claims: Arc::new(claims.into()),
        };
        let debug = format!("{a:?}");
        assert!(
            debug.contains("u.t") && !debug.contains("do-not-print"),
            "{debug}"
        );
        assert_eq!(a, a.clone());
    }

    /// Claims kept as the raw ID token are parsed on first use, once; without one, or when it
    /// does not parse, they are empty.
    #[test]
    fn claims_from_an_id_token_are_parsed_on_first_use() {
        // {"sub":"s","name":"Alice"}
        let claims = Claims::of_id_token(Some("h.eyJzdWIiOiJzIiwibmFtZSI6IkFsaWNlIn0.s".into()));
        assert!(claims.parsed.get().is_none(), "not parsed before use");
        assert_eq!(claims.get()["name"], "Alice");
        assert!(std::ptr::eq(claims.get(), claims.get()), "parsed once");
        assert!(Claims::of_id_token(None).get().is_empty());
        assert!(
            Claims::of_id_token(Some("not a jwt".into()))
                .get()
                .is_empty()
        );
    }

    /// Vectors: msal-common `AccountEntity.generateHomeAccountId` and MSAL Python
    /// `token_cache.py` `__parse_account` use `sub` without `client_info` (not `oid.tid`).
    #[test]
    fn without_client_info_the_home_account_id_is_sub() {
        assert_eq!(
            home_account_id_without_client_info(
                Some("AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ"),
                None
            )
            .as_deref(),
            Some("AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ")
        );
        assert_eq!(home_account_id_without_client_info(None, None), None);
        assert_eq!(home_account_id_without_client_info(Some(""), None), None);
        let previous = Account {
            home_account_id: "sub-1".into(),
            environment: "e".into(),
            tenant_id: "t".into(),
            local_account_id: None,
            username: None,
            name: None,
            claims: Arc::default(),
        };
        assert_eq!(
            home_account_id_without_client_info(Some("sub-1"), Some(&previous)).as_deref(),
            Some("sub-1"),
            "a refresh keeps its account"
        );
    }
}
