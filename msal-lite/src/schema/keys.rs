//! Cache key formulas of the unified cache schema.
//!
//! All MSALs build a credential key by joining components with `-` and lower-casing the
//! result; they differ only in which trailing components they append. Components may
//! contain `-` themselves (GUID tenants), so keys can be built but never split back.

use super::{AccessToken, Account, AppMetadata, IdToken, RefreshToken};

/// Which MSAL's key layout to produce. Every MSAL finds entries by their fields, not only by
/// key, but an entry keyed differently from what the reader computes may be duplicated on the
/// reader's next write, so msal-lite keeps the layout a document was read with (see
/// [`super::CacheDocument::key_style`]).
///
/// | entry | `MsalJs` (Node, browser) | `MsalNet` | `MsalPython` |
/// |---|---|---|---|
/// | access token | `home-env-type-client-realm-target-claimshash-scheme` | `home-env-type-client-realm-target[-scheme]` | `home-env-accesstoken-client-realm-target` |
/// | refresh token | `home-env-refreshtoken-family_or_client-realm-target--` | `home-env-refreshtoken-family_or_client--` | `home-env-refreshtoken-client--target` |
/// | ID token | `home-env-idtoken-client-realm---` | `home-env-idtoken-client-realm-` | same as .NET |
/// | account | `home-env-realm` | same | same |
/// | app metadata | `appmetadata-env-client` | same | same, not lower-cased |
///
/// ```
/// use msal_lite::schema::KeyStyle;
/// assert_eq!(KeyStyle::default(), KeyStyle::MsalJs);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum KeyStyle {
    /// msal-common (MSAL Node and MSAL Browser): empty trailing components still produce
    /// their `-` (`...-refreshtoken-client----`).
    #[default]
    MsalJs,
    /// MSAL.NET (and Microsoft.Identity.Web's distributed cache).
    MsalNet,
    /// MSAL Python: the refresh-token key includes the target.
    MsalPython,
}

/// Lower-cases a scope string for a key and collapses runs of whitespace to one space,
/// keeping the order (msal-js and MSAL.NET key the target as written).
///
/// ```
/// use msal_lite::schema::normalize_target;
/// assert_eq!(normalize_target("email  openid User.Read"), "email openid user.read");
/// ```
pub fn normalize_target(target: &str) -> String {
    let mut out = String::with_capacity(target.len());
    for (i, scope) in target.split_whitespace().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(scope);
    }
    out.to_lowercase()
}

fn join_lower(parts: &[&str]) -> String {
    parts.join("-").to_lowercase()
}

/// msal-js calls the non-Bearer token type the "scheme"; Bearer (or no type) is empty.
fn scheme(token_type: Option<&str>) -> String {
    match token_type {
        Some(t) if !t.eq_ignore_ascii_case("bearer") => t.to_lowercase(),
        _ => String::new(),
    }
}

impl AccessToken {
    /// The key of this entry in the `AccessToken` section, in `style`'s layout.
    ///
    /// ```
    /// use msal_lite::schema::{AccessToken, CacheSecret, KeyStyle, UnixTime};
    ///
    /// let mut at = AccessToken::new("login.windows.net", "cid", CacheSecret::new("t"), UnixTime::from_secs(1));
    /// at.home_account_id = Some("u.t".into());
    /// at.realm = Some("t".into());
    /// at.target = Some("openid User.Read".into());
    /// assert_eq!(at.cache_key(KeyStyle::MsalNet), "u.t-login.windows.net-accesstoken-cid-t-openid user.read");
    /// ```
    pub fn cache_key(&self, style: KeyStyle) -> String {
        let home = self.home_account_id.as_deref().unwrap_or("");
        let realm = self.realm.as_deref().unwrap_or("");
        let target = normalize_target(self.target.as_deref().unwrap_or(""));
        let scheme = scheme(self.token_type.as_deref());
        match style {
            KeyStyle::MsalJs => join_lower(&[
                home,
                &self.environment,
                &self.credential_type,
                &self.client_id,
                realm,
                &target,
                self.requested_claims_hash.as_deref().unwrap_or(""),
                &scheme,
            ]),
            KeyStyle::MsalNet => {
                let mut parts = vec![
                    home,
                    &self.environment,
                    &self.credential_type,
                    &self.client_id,
                    realm,
                    &target,
                ];
                if !scheme.is_empty() {
                    parts.push(&scheme);
                }
                join_lower(&parts)
            }
            KeyStyle::MsalPython => join_lower(&[
                home,
                &self.environment,
                "accesstoken",
                &self.client_id,
                realm,
                &target,
            ]),
        }
    }
}

impl RefreshToken {
    /// The key of this entry in the `RefreshToken` section, in `style`'s layout.
    ///
    /// ```
    /// use msal_lite::schema::{CacheSecret, KeyStyle, RefreshToken};
    ///
    /// let mut rt = RefreshToken::new("login.microsoftonline.com", "mock_client_id", CacheSecret::new("rt"));
    /// rt.home_account_id = Some("uid.utid".into());
    /// rt.family_id = Some("1".into());
    /// assert_eq!(rt.cache_key(KeyStyle::MsalJs), "uid.utid-login.microsoftonline.com-refreshtoken-1----");
    /// ```
    pub fn cache_key(&self, style: KeyStyle) -> String {
        let home = self.home_account_id.as_deref().unwrap_or("");
        let client_or_family = match self.family_id.as_deref() {
            Some(f) if !f.is_empty() => f,
            _ => &self.client_id,
        };
        let target = normalize_target(self.target.as_deref().unwrap_or(""));
        match style {
            // msal-js keys whatever realm and target the entry has (normally none: refresh
            // tokens are cross-tenant); .NET and Python always leave the realm empty.
            KeyStyle::MsalJs => join_lower(&[
                home,
                &self.environment,
                "refreshtoken",
                client_or_family,
                self.realm.as_deref().unwrap_or(""),
                &target,
                "",
                "",
            ]),
            KeyStyle::MsalNet => join_lower(&[
                home,
                &self.environment,
                "refreshtoken",
                client_or_family,
                "",
                "",
            ]),
            KeyStyle::MsalPython => join_lower(&[
                home,
                &self.environment,
                "refreshtoken",
                &self.client_id,
                "",
                &target,
            ]),
        }
    }
}

impl IdToken {
    /// The key of this entry in the `IdToken` section, in `style`'s layout.
    ///
    /// ```
    /// use msal_lite::schema::{CacheSecret, IdToken, KeyStyle};
    ///
    /// let mut idt = IdToken::new("login.example.com", "my_client_id", CacheSecret::new("h.p.s"));
    /// idt.home_account_id = Some("uid.utid".into());
    /// idt.realm = Some("contoso".into());
    /// assert_eq!(idt.cache_key(KeyStyle::MsalPython), "uid.utid-login.example.com-idtoken-my_client_id-contoso-");
    /// ```
    pub fn cache_key(&self, style: KeyStyle) -> String {
        let home = self.home_account_id.as_deref().unwrap_or("");
        let realm = self.realm.as_deref().unwrap_or("");
        let head = [home, &self.environment, "idtoken", &self.client_id, realm];
        match style {
            KeyStyle::MsalJs => join_lower(&[&head[..], &["", "", ""]].concat()),
            KeyStyle::MsalNet | KeyStyle::MsalPython => join_lower(&[&head[..], &[""]].concat()),
        }
    }
}

impl Account {
    /// The key of this entry in the `Account` section: `<home_account_id>-<environment>-<realm>`,
    /// lower-cased (the same in every MSAL).
    ///
    /// ```
    /// use msal_lite::schema::{Account, KeyStyle};
    /// let acc = Account::new("uid.utid", "login.example.com", "contoso");
    /// assert_eq!(acc.cache_key(KeyStyle::MsalPython), "uid.utid-login.example.com-contoso");
    /// ```
    pub fn cache_key(&self, _style: KeyStyle) -> String {
        join_lower(&[&self.home_account_id, &self.environment, &self.realm])
    }
}

impl AppMetadata {
    /// The key of this entry in the `AppMetadata` section: `appmetadata-<environment>-<client_id>`
    /// (lower-cased except in MSAL Python's layout).
    ///
    /// ```
    /// use msal_lite::schema::{AppMetadata, KeyStyle};
    /// let md = AppMetadata::new("login.example.com", "my_client_id");
    /// assert_eq!(md.cache_key(KeyStyle::MsalPython), "appmetadata-login.example.com-my_client_id");
    /// ```
    pub fn cache_key(&self, style: KeyStyle) -> String {
        let key = format!("appmetadata-{}-{}", self.environment, self.client_id);
        match style {
            KeyStyle::MsalPython => key,
            KeyStyle::MsalJs | KeyStyle::MsalNet => key.to_lowercase(),
        }
    }
}
