//! The five entry types of the unified cache schema.
//!
//! Field names are MSAL's JSON names. Every MSAL (Node, Python, .NET, Java) reads and writes
//! the same sections; the differences this module absorbs are listed on each field.

use serde_json::Value;

use super::fields::{Reader, Seen, Writer};
use super::{CacheSecret, ExtraFields, SchemaError, UnixTime};

/// Spellings of the OBO assertion hash: MSAL.NET writes `user_assertion_hash`, msal-node
/// writes and reads only `userAssertionHash`. Neither reads the other's spelling, so a new
/// entry is written with both (each ignores, and .NET preserves, the one it does not know).
pub(crate) const USER_ASSERTION_HASH: &[&str] = &["user_assertion_hash", "userAssertionHash"];
/// Spellings of the proof-of-possession key id: msal-node (current) and MSAL Python write
/// `key_id`, MSAL.NET `kid`, msal-node's older test fixture `keyId`. New entries get
/// `key_id` and `kid`.
pub(crate) const KEY_ID: &[&str] = &["key_id", "kid", "keyId"];
/// Spellings of the token type: everyone writes `token_type`; msal-node's older fixture
/// has `tokenType`. New entries get `token_type`.
pub(crate) const TOKEN_TYPE: &[&str] = &["token_type", "tokenType"];

const BOTH_SPELLINGS: u8 = 0b11;
const FIRST_SPELLING: u8 = 0b01;

/// The `credential_type` value of an access token.
///
/// ```
/// use msal_lite::schema::{AccessToken, CacheSecret, UnixTime, CREDENTIAL_ACCESS_TOKEN};
/// let at = AccessToken::new("e", "c", CacheSecret::new("t"), UnixTime::from_secs(1));
/// assert_eq!(at.credential_type, CREDENTIAL_ACCESS_TOKEN);
/// ```
pub const CREDENTIAL_ACCESS_TOKEN: &str = "AccessToken";
/// The `credential_type` value of a proof-of-possession (or other non-Bearer) access token.
///
/// ```
/// use msal_lite::schema::CREDENTIAL_ACCESS_TOKEN_WITH_AUTH_SCHEME;
/// assert_eq!(CREDENTIAL_ACCESS_TOKEN_WITH_AUTH_SCHEME.to_lowercase(), "accesstoken_with_authscheme");
/// ```
pub const CREDENTIAL_ACCESS_TOKEN_WITH_AUTH_SCHEME: &str = "AccessToken_With_AuthScheme";
/// The `credential_type` value of a refresh token.
///
/// ```
/// use msal_lite::schema::{CacheSecret, RefreshToken, CREDENTIAL_REFRESH_TOKEN};
/// assert_eq!(RefreshToken::new("e", "c", CacheSecret::new("t")).credential_type, CREDENTIAL_REFRESH_TOKEN);
/// ```
pub const CREDENTIAL_REFRESH_TOKEN: &str = "RefreshToken";
/// The `credential_type` value of an ID token.
///
/// ```
/// use msal_lite::schema::{CacheSecret, IdToken, CREDENTIAL_ID_TOKEN};
/// assert_eq!(IdToken::new("e", "c", CacheSecret::new("t")).credential_type, CREDENTIAL_ID_TOKEN);
/// ```
pub const CREDENTIAL_ID_TOKEN: &str = "IdToken";

/// An entry of the `AccessToken` section.
///
/// ```
/// use msal_lite::schema::{AccessToken, CacheSecret, KeyStyle, UnixTime};
///
/// let mut at = AccessToken::new(
///     "login.microsoftonline.com",
///     "mock_client_id",
///     CacheSecret::new("an access token"),
///     UnixTime::from_secs(4600),
/// );
/// at.home_account_id = Some("uid.utid".into());
/// at.realm = Some("utid".into());
/// at.target = Some("Scope1 scope2".into());
/// assert_eq!(
///     at.cache_key(KeyStyle::MsalJs),
///     "uid.utid-login.microsoftonline.com-accesstoken-mock_client_id-utid-scope1 scope2--"
/// );
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AccessToken {
    /// `home_account_id`: `<uid>.<utid>` from `client_info` for user tokens; empty or absent
    /// for app (client-credentials) tokens.
    pub home_account_id: Option<String>,
    /// `environment`: the authority host (`login.microsoftonline.com`, `contoso.ciamlogin.com`).
    pub environment: String,
    /// `credential_type`: `AccessToken`, or `AccessToken_With_AuthScheme` for non-Bearer tokens.
    pub credential_type: String,
    /// `client_id` of the application the token was issued to.
    pub client_id: String,
    /// `secret`: the access token.
    pub secret: CacheSecret,
    /// `realm`: the tenant id the token was issued by.
    pub realm: Option<String>,
    /// `target`: the granted scopes, space-separated, case kept as granted. Keys use it
    /// lower-cased.
    pub target: Option<String>,
    /// `cached_at`.
    pub cached_at: Option<UnixTime>,
    /// `expires_on` (REQUIRED).
    pub expires_on: UnixTime,
    /// `extended_expires_on` (.NET also writes the legacy `ext_expires_on`, kept in `extra`).
    pub extended_expires_on: Option<UnixTime>,
    /// `refresh_on`: when a proactive refresh should start (from `refresh_in`).
    pub refresh_on: Option<UnixTime>,
    /// `token_type` (`tokenType` in older msal-node files); absent means Bearer.
    pub token_type: Option<String>,
    /// Proof-of-possession key id: `key_id` / `kid` / `keyId`.
    pub key_id: Option<String>,
    /// msal-node's `requestedClaims`: the claims request the token was acquired with.
    pub requested_claims: Option<String>,
    /// msal-node's `requestedClaimsHash`, part of its key.
    pub requested_claims_hash: Option<String>,
    /// OBO assertion hash (base64url SHA-256 of the incoming assertion, "Microsoft identity
    /// platform: OAuth 2.0 On-Behalf-Of flow"): `user_assertion_hash` / `userAssertionHash`.
    pub user_assertion_hash: Option<String>,
    /// Every other field, kept for the round trip.
    pub extra: ExtraFields,
    pub(crate) seen_uah: Seen,
    pub(crate) seen_kid: Seen,
    pub(crate) seen_tt: Seen,
}

impl AccessToken {
    /// A Bearer access token with the required fields; set the others on the value.
    ///
    /// ```
    /// # use msal_lite::schema::{AccessToken, CacheSecret, UnixTime};
    /// let at = AccessToken::new("login.microsoftonline.com", "cid", CacheSecret::new("t"), UnixTime::from_secs(1));
    /// assert_eq!(at.credential_type, "AccessToken");
    /// ```
    pub fn new(
        environment: impl Into<String>,
        client_id: impl Into<String>,
        secret: CacheSecret,
        expires_on: UnixTime,
    ) -> Self {
        Self {
            home_account_id: None,
            environment: environment.into(),
            credential_type: CREDENTIAL_ACCESS_TOKEN.to_owned(),
            client_id: client_id.into(),
            secret,
            realm: None,
            target: None,
            cached_at: None,
            expires_on,
            extended_expires_on: None,
            refresh_on: None,
            token_type: None,
            key_id: None,
            requested_claims: None,
            requested_claims_hash: None,
            user_assertion_hash: None,
            extra: ExtraFields::default(),
            seen_uah: Seen::default(),
            seen_kid: Seen::default(),
            seen_tt: Seen::default(),
        }
    }

    pub(crate) fn from_value(value: Value) -> Result<Self, SchemaError> {
        let mut r = Reader::new("AccessToken", value)?;
        let (user_assertion_hash, seen_uah) = r.aliased(USER_ASSERTION_HASH)?;
        let (key_id, seen_kid) = r.aliased(KEY_ID)?;
        let (token_type, seen_tt) = r.aliased(TOKEN_TYPE)?;
        Ok(Self {
            home_account_id: r.opt_str("home_account_id")?,
            environment: r.required_str("environment")?,
            credential_type: r.required_str("credential_type")?,
            client_id: r.required_str("client_id")?,
            secret: r.secret()?,
            realm: r.opt_str("realm")?,
            target: r.opt_str("target")?,
            cached_at: r.opt_time("cached_at")?,
            expires_on: r.required_time("expires_on")?,
            extended_expires_on: r.opt_time("extended_expires_on")?,
            refresh_on: r.opt_time("refresh_on")?,
            token_type,
            key_id,
            requested_claims: r.opt_str("requestedClaims")?,
            requested_claims_hash: r.opt_str("requestedClaimsHash")?,
            user_assertion_hash,
            seen_uah,
            seen_kid,
            seen_tt,
            extra: r.finish(),
        })
    }

    pub(crate) fn to_value(&self) -> Value {
        let mut w = Writer::new();
        w.opt_str("home_account_id", self.home_account_id.as_deref());
        w.str("environment", &self.environment);
        w.str("credential_type", &self.credential_type);
        w.str("client_id", &self.client_id);
        w.str("secret", self.secret.secret());
        w.opt_str("realm", self.realm.as_deref());
        w.opt_str("target", self.target.as_deref());
        w.opt_time("cached_at", self.cached_at);
        w.opt_time("expires_on", Some(self.expires_on));
        w.opt_time("extended_expires_on", self.extended_expires_on);
        w.opt_time("refresh_on", self.refresh_on);
        w.aliased(
            TOKEN_TYPE,
            FIRST_SPELLING,
            self.token_type.as_deref(),
            self.seen_tt,
        );
        w.aliased(
            KEY_ID,
            BOTH_SPELLINGS,
            self.key_id.as_deref(),
            self.seen_kid,
        );
        w.opt_str("requestedClaims", self.requested_claims.as_deref());
        w.opt_str("requestedClaimsHash", self.requested_claims_hash.as_deref());
        w.aliased(
            USER_ASSERTION_HASH,
            BOTH_SPELLINGS,
            self.user_assertion_hash.as_deref(),
            self.seen_uah,
        );
        w.finish(&self.extra)
    }

    /// `extended_expires_on`, falling back to .NET's legacy `ext_expires_on`.
    ///
    /// ```
    /// # use msal_lite::schema::{AccessToken, CacheSecret, UnixTime};
    /// let mut at = AccessToken::new("e", "c", CacheSecret::new("t"), UnixTime::from_secs(10));
    /// assert_eq!(at.extended_expiry(), None);
    /// at.extra.insert("ext_expires_on".into(), "20".into());
    /// assert_eq!(at.extended_expiry(), Some(UnixTime::from_secs(20)));
    /// ```
    pub fn extended_expiry(&self) -> Option<UnixTime> {
        self.extended_expires_on
            .or_else(|| match self.extra.get("ext_expires_on") {
                Some(Value::String(s)) => UnixTime::parse_str(s),
                Some(Value::Number(n)) => n.as_i64().map(UnixTime::from_secs),
                _ => None,
            })
    }
}

/// An entry of the `RefreshToken` section.
///
/// ```
/// use msal_lite::schema::{CacheSecret, KeyStyle, RefreshToken};
///
/// let mut rt = RefreshToken::new("login.microsoftonline.com", "mock_client_id", CacheSecret::new("rt"));
/// rt.home_account_id = Some("uid.utid".into());
/// assert_eq!(
///     rt.cache_key(KeyStyle::MsalNet),
///     "uid.utid-login.microsoftonline.com-refreshtoken-mock_client_id--"
/// );
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RefreshToken {
    /// `home_account_id`.
    pub home_account_id: Option<String>,
    /// `environment`.
    pub environment: String,
    /// `credential_type`: `RefreshToken`.
    pub credential_type: String,
    /// `client_id`.
    pub client_id: String,
    /// `secret`: the refresh token.
    pub secret: CacheSecret,
    /// `family_id` (`"1"` for Microsoft's family-of-client-ids refresh tokens).
    pub family_id: Option<String>,
    /// `target` (MSAL Python writes it and puts it in the key; others leave it out).
    pub target: Option<String>,
    /// `realm` (usually absent: refresh tokens are cross-tenant).
    pub realm: Option<String>,
    /// Long-running OBO key (.NET `user_assertion_hash`; msal-node never writes it for RTs).
    pub user_assertion_hash: Option<String>,
    /// `last_modification_time` (msal-node).
    pub last_modification_time: Option<String>,
    /// Every other field, kept for the round trip.
    pub extra: ExtraFields,
    pub(crate) seen_uah: Seen,
}

impl RefreshToken {
    /// A refresh token with the required fields.
    ///
    /// ```
    /// # use msal_lite::schema::{CacheSecret, RefreshToken};
    /// let rt = RefreshToken::new("login.microsoftonline.com", "cid", CacheSecret::new("rt"));
    /// assert_eq!(rt.credential_type, "RefreshToken");
    /// ```
    pub fn new(
        environment: impl Into<String>,
        client_id: impl Into<String>,
        secret: CacheSecret,
    ) -> Self {
        Self {
            home_account_id: None,
            environment: environment.into(),
            credential_type: CREDENTIAL_REFRESH_TOKEN.to_owned(),
            client_id: client_id.into(),
            secret,
            family_id: None,
            target: None,
            realm: None,
            user_assertion_hash: None,
            last_modification_time: None,
            extra: ExtraFields::default(),
            seen_uah: Seen::default(),
        }
    }

    pub(crate) fn from_value(value: Value) -> Result<Self, SchemaError> {
        let mut r = Reader::new("RefreshToken", value)?;
        let (user_assertion_hash, seen_uah) = r.aliased(USER_ASSERTION_HASH)?;
        Ok(Self {
            home_account_id: r.opt_str("home_account_id")?,
            environment: r.required_str("environment")?,
            credential_type: r.required_str("credential_type")?,
            client_id: r.required_str("client_id")?,
            secret: r.secret()?,
            family_id: r.opt_str("family_id")?,
            target: r.opt_str("target")?,
            realm: r.opt_str("realm")?,
            user_assertion_hash,
            last_modification_time: r.opt_str("last_modification_time")?,
            seen_uah,
            extra: r.finish(),
        })
    }

    pub(crate) fn to_value(&self) -> Value {
        let mut w = Writer::new();
        w.opt_str("home_account_id", self.home_account_id.as_deref());
        w.str("environment", &self.environment);
        w.str("credential_type", &self.credential_type);
        w.str("client_id", &self.client_id);
        w.str("secret", self.secret.secret());
        w.opt_str("family_id", self.family_id.as_deref());
        w.opt_str("target", self.target.as_deref());
        w.opt_str("realm", self.realm.as_deref());
        w.opt_str(
            "last_modification_time",
            self.last_modification_time.as_deref(),
        );
        w.aliased(
            USER_ASSERTION_HASH,
            BOTH_SPELLINGS,
            self.user_assertion_hash.as_deref(),
            self.seen_uah,
        );
        w.finish(&self.extra)
    }
}

/// An entry of the `IdToken` section.
///
/// ```
/// use msal_lite::schema::{CacheSecret, IdToken, KeyStyle};
///
/// let mut idt = IdToken::new("login.microsoftonline.com", "mock_client_id", CacheSecret::new("h.p.s"));
/// idt.home_account_id = Some("uid.utid".into());
/// idt.realm = Some("utid".into());
/// assert_eq!(
///     idt.cache_key(KeyStyle::MsalJs),
///     "uid.utid-login.microsoftonline.com-idtoken-mock_client_id-utid---"
/// );
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct IdToken {
    /// `home_account_id`.
    pub home_account_id: Option<String>,
    /// `environment`.
    pub environment: String,
    /// `credential_type`: `IdToken`.
    pub credential_type: String,
    /// `client_id`.
    pub client_id: String,
    /// `secret`: the raw ID token (a JWT).
    pub secret: CacheSecret,
    /// `realm`: the tenant id.
    pub realm: Option<String>,
    /// Every other field, kept for the round trip.
    pub extra: ExtraFields,
}

impl IdToken {
    /// An ID token entry with the required fields.
    ///
    /// ```
    /// # use msal_lite::schema::{CacheSecret, IdToken};
    /// let idt = IdToken::new("login.microsoftonline.com", "cid", CacheSecret::new("h.p.s"));
    /// assert_eq!(idt.credential_type, "IdToken");
    /// ```
    pub fn new(
        environment: impl Into<String>,
        client_id: impl Into<String>,
        secret: CacheSecret,
    ) -> Self {
        Self {
            home_account_id: None,
            environment: environment.into(),
            credential_type: CREDENTIAL_ID_TOKEN.to_owned(),
            client_id: client_id.into(),
            secret,
            realm: None,
            extra: ExtraFields::default(),
        }
    }

    pub(crate) fn from_value(value: Value) -> Result<Self, SchemaError> {
        let mut r = Reader::new("IdToken", value)?;
        Ok(Self {
            home_account_id: r.opt_str("home_account_id")?,
            environment: r.required_str("environment")?,
            credential_type: r.required_str("credential_type")?,
            client_id: r.required_str("client_id")?,
            secret: r.secret()?,
            realm: r.opt_str("realm")?,
            extra: r.finish(),
        })
    }

    pub(crate) fn to_value(&self) -> Value {
        let mut w = Writer::new();
        w.opt_str("home_account_id", self.home_account_id.as_deref());
        w.str("environment", &self.environment);
        w.str("credential_type", &self.credential_type);
        w.str("client_id", &self.client_id);
        w.str("secret", self.secret.secret());
        w.opt_str("realm", self.realm.as_deref());
        w.finish(&self.extra)
    }
}

/// An entry of the `Account` section.
///
/// ```
/// use msal_lite::schema::{Account, KeyStyle};
///
/// let acc = Account::new("uid.utid", "login.microsoftonline.com", "utid");
/// assert_eq!(acc.cache_key(KeyStyle::MsalJs), "uid.utid-login.microsoftonline.com-utid");
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Account {
    /// `home_account_id`: `<uid>.<utid>`.
    pub home_account_id: String,
    /// `environment`.
    pub environment: String,
    /// `realm`: the tenant of this account record.
    pub realm: String,
    /// `local_account_id`: the object id in `realm`.
    pub local_account_id: Option<String>,
    /// `username` (`preferred_username`).
    pub username: Option<String>,
    /// `authority_type`: `MSSTS` (Entra v2) or `ADFS`.
    pub authority_type: Option<String>,
    /// `name`.
    pub name: Option<String>,
    /// `client_info`: base64(url) JSON `{"uid":..,"utid":..}`; see [`super::ClientInfo`].
    pub client_info: Option<String>,
    /// `last_modification_time` (msal-node).
    pub last_modification_time: Option<String>,
    /// `last_modification_app` (msal-node).
    pub last_modification_app: Option<String>,
    /// Every other field (`tenants`/`tenantProfiles`, `given_name`, `account_source`, ...).
    pub extra: ExtraFields,
}

impl Account {
    /// An account with the fields of its key.
    ///
    /// ```
    /// # use msal_lite::schema::Account;
    /// let acc = Account::new("uid.utid", "login.microsoftonline.com", "utid");
    /// assert_eq!(acc.realm, "utid");
    /// ```
    pub fn new(
        home_account_id: impl Into<String>,
        environment: impl Into<String>,
        realm: impl Into<String>,
    ) -> Self {
        Self {
            home_account_id: home_account_id.into(),
            environment: environment.into(),
            realm: realm.into(),
            local_account_id: None,
            username: None,
            authority_type: None,
            name: None,
            client_info: None,
            last_modification_time: None,
            last_modification_app: None,
            extra: ExtraFields::default(),
        }
    }

    pub(crate) fn from_value(value: Value) -> Result<Self, SchemaError> {
        let mut r = Reader::new("Account", value)?;
        Ok(Self {
            home_account_id: r.required_str("home_account_id")?,
            environment: r.required_str("environment")?,
            realm: r.required_str("realm")?,
            local_account_id: r.opt_str("local_account_id")?,
            username: r.opt_str("username")?,
            authority_type: r.opt_str("authority_type")?,
            name: r.opt_str("name")?,
            client_info: r.opt_str("client_info")?,
            last_modification_time: r.opt_str("last_modification_time")?,
            last_modification_app: r.opt_str("last_modification_app")?,
            extra: r.finish(),
        })
    }

    pub(crate) fn to_value(&self) -> Value {
        let mut w = Writer::new();
        w.str("home_account_id", &self.home_account_id);
        w.str("environment", &self.environment);
        w.str("realm", &self.realm);
        w.opt_str("local_account_id", self.local_account_id.as_deref());
        w.opt_str("username", self.username.as_deref());
        w.opt_str("authority_type", self.authority_type.as_deref());
        w.opt_str("name", self.name.as_deref());
        w.opt_str("client_info", self.client_info.as_deref());
        w.opt_str(
            "last_modification_time",
            self.last_modification_time.as_deref(),
        );
        w.opt_str(
            "last_modification_app",
            self.last_modification_app.as_deref(),
        );
        w.finish(&self.extra)
    }
}

/// An entry of the `AppMetadata` section.
///
/// ```
/// use msal_lite::schema::{AppMetadata, KeyStyle};
///
/// let md = AppMetadata::new("login.microsoftonline.com", "mock_client_id");
/// assert_eq!(md.cache_key(KeyStyle::MsalJs), "appmetadata-login.microsoftonline.com-mock_client_id");
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AppMetadata {
    /// `environment`.
    pub environment: String,
    /// `client_id`.
    pub client_id: String,
    /// `family_id`.
    pub family_id: Option<String>,
    /// Every other field, kept for the round trip.
    pub extra: ExtraFields,
}

impl AppMetadata {
    /// App metadata for one client in one environment.
    ///
    /// ```
    /// # use msal_lite::schema::AppMetadata;
    /// let md = AppMetadata::new("login.microsoftonline.com", "cid");
    /// assert!(md.family_id.is_none());
    /// ```
    pub fn new(environment: impl Into<String>, client_id: impl Into<String>) -> Self {
        Self {
            environment: environment.into(),
            client_id: client_id.into(),
            family_id: None,
            extra: ExtraFields::default(),
        }
    }

    pub(crate) fn from_value(value: Value) -> Result<Self, SchemaError> {
        let mut r = Reader::new("AppMetadata", value)?;
        Ok(Self {
            environment: r.required_str("environment")?,
            client_id: r.required_str("client_id")?,
            family_id: r.opt_str("family_id")?,
            extra: r.finish(),
        })
    }

    pub(crate) fn to_value(&self) -> Value {
        let mut w = Writer::new();
        w.str("environment", &self.environment);
        w.str("client_id", &self.client_id);
        w.opt_str("family_id", self.family_id.as_deref());
        w.finish(&self.extra)
    }
}
