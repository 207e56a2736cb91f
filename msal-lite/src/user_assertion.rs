//! The incoming user token a web API exchanges on behalf of its caller.

use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;

/// Length of base64url (no padding) over a 32-byte SHA-256 digest.
const HASH_LEN: usize = 43;

/// Payloads larger than this are not decoded (a real access token is a few KiB).
const MAX_PAYLOAD: usize = 64 * 1024;

/// The access token a web API received from its caller, to be exchanged on behalf of the
/// user (Microsoft identity platform: "OAuth 2.0 On-Behalf-Of flow").
///
/// The assertion is hashed once, when the value is made: [`hash`](Self::hash) is the
/// base64url (no padding) SHA-256 of the assertion, MSAL's `AssertionHash` (MSAL.NET
/// `UserAssertion.AssertionHash`, msal-node `hashString`). It keys the on-behalf-of token
/// cache, so a token obtained for one incoming token is never served for another.
///
/// `Debug` prints `[redacted]`; there is no `Display`. Cloning is an `Arc` clone.
///
/// ```
/// use msal_lite::UserAssertion;
///
/// let assertion = UserAssertion::new("jwt");
/// assert_eq!(assertion.hash(), "_JPLB-GtkomFJxAOWKHPHR5_ZemiZqb4fzyE_rVBx7M");
/// assert_eq!(format!("{assertion:?}"), "UserAssertion([redacted])");
/// ```
#[derive(Clone)]
pub struct UserAssertion {
    assertion: Arc<str>,
    hash: [u8; HASH_LEN],
}

impl UserAssertion {
    /// Wraps the incoming bearer token (the part after `Bearer `), hashing it (one SHA-256).
    ///
    /// The API must have validated the token first (signature, issuer, audience, expiry):
    /// msal-lite reads its `tid` and `oid` claims without verifying them.
    ///
    /// ```
    /// let header = "Bearer eyJ0eXAi.eyJhdWQi.c2ln";
    /// let token = header.strip_prefix("Bearer ").unwrap_or_default();
    /// let assertion = msal_lite::UserAssertion::new(token);
    /// assert_eq!(assertion.secret(), "eyJ0eXAi.eyJhdWQi.c2ln");
    /// ```
    pub fn new(assertion: impl Into<Arc<str>>) -> Self {
        let assertion: Arc<str> = assertion.into();
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, assertion.as_bytes());
        let mut hash = [0u8; HASH_LEN];
        // 32 bytes always encode to exactly 43 base64url characters without padding, so the
        // buffer is the right size and this cannot fail.
        let _ = URL_SAFE_NO_PAD.encode_slice(digest.as_ref(), &mut hash);
        Self { assertion, hash }
    }

    /// base64url (no padding) of SHA-256 over the assertion: the cache partition key, and the
    /// `user_assertion_hash` of persisted entries. Safe to log (it does not reveal the token),
    /// though it identifies a session.
    ///
    /// ```
    /// let a = msal_lite::UserAssertion::new("jwt");
    /// assert_eq!(a.hash(), msal_lite::schema::assertion_hash("jwt"));
    /// ```
    pub fn hash(&self) -> &str {
        // base64 output is ASCII.
        std::str::from_utf8(&self.hash).unwrap_or_default()
    }

    /// The assertion itself, for the token request.
    ///
    /// # Security Warning
    ///
    /// It grants access to the API until it expires: do not log it or put it in a URL.
    ///
    /// ```
    /// let a = msal_lite::UserAssertion::new("eyJ.x.y");
    /// assert_eq!(a.secret(), "eyJ.x.y");
    /// ```
    pub fn secret(&self) -> &str {
        &self.assertion
    }

    /// `tid` and `oid` from the assertion's payload, read without verifying the signature
    /// (the API validated the token before asking for an exchange). `None` for anything that
    /// is not a JWT with a JSON payload; never panics.
    pub(crate) fn identity(&self) -> Option<AssertionIdentity> {
        jwt_identity(&self.assertion)
    }
}

/// `tid`, `oid` and `exp` of any JWT (an assertion, or a downstream access token), read
/// without verifying it; `None` for anything that is not a JWT with a JSON payload.
pub(crate) fn jwt_identity(jwt: &str) -> Option<AssertionIdentity> {
    let mut parts = jwt.split('.');
    let payload = parts.nth(1)?;
    if parts.next().is_none() || payload.len() > MAX_PAYLOAD {
        return None;
    }
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// What msal-lite reads from an assertion: the tenant (for routing a `common` authority) and
/// the user's object id (for the cached entries' `home_account_id`).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct AssertionIdentity {
    #[serde(default, deserialize_with = "opt_string")]
    pub(crate) tid: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub(crate) oid: Option<String>,
    /// Expiry (Unix seconds): after it the API can no longer accept the assertion, so its
    /// cache partition can go.
    #[serde(default, deserialize_with = "opt_u64")]
    pub(crate) exp: Option<u64>,
}

fn opt_u64<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::Number(n) => n.as_u64(),
        _ => None,
    })
}

/// A string claim, or `None` for any other JSON type (a hostile token cannot fail the parse
/// of the claims that matter by sending a number).
fn opt_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::String(s) if !s.trim().is_empty() => Some(s),
        _ => None,
    })
}

impl AssertionIdentity {
    /// `<oid>.<tid>`: the `home_account_id` Entra ID's `client_info` gives for this user
    /// (`uid` = object id, `utid` = tenant id).
    pub(crate) fn home_account_id(&self) -> Option<String> {
        match (&self.oid, &self.tid) {
            (Some(oid), Some(tid)) => Some(format!(
                "{}.{}",
                oid.to_ascii_lowercase(),
                tid.to_ascii_lowercase()
            )),
            _ => None,
        }
    }
}

impl fmt::Debug for UserAssertion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("UserAssertion([redacted])")
    }
}

impl From<&str> for UserAssertion {
    fn from(assertion: &str) -> Self {
        Self::new(assertion)
    }
}

impl From<String> for UserAssertion {
    fn from(assertion: String) -> Self {
        Self::new(assertion)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn jwt(payload: &str) -> String {
        format!("e30.{}.sig", URL_SAFE_NO_PAD.encode(payload))
    }

    #[test]
    fn hash_matches_msal_net_vector_and_schema() {
        let a = UserAssertion::new("jwt");
        assert_eq!(a.hash(), "_JPLB-GtkomFJxAOWKHPHR5_ZemiZqb4fzyE_rVBx7M");
        let long = "x".repeat(10_000);
        assert_eq!(
            UserAssertion::new(long.as_str()).hash(),
            crate::schema::assertion_hash(&long)
        );
        assert_eq!(UserAssertion::new("").hash().len(), HASH_LEN);
    }

    #[test]
    fn debug_is_redacted_and_clone_shares() {
        let a = UserAssertion::new("eyJ.secret.sig");
        assert_eq!(format!("{a:?}"), "UserAssertion([redacted])");
        assert_eq!(format!("{a:#?}"), "UserAssertion([redacted])");
        let b = a.clone();
        assert!(Arc::ptr_eq(&a.assertion, &b.assertion));
    }

    #[test]
    fn identity_reads_tid_and_oid() {
        let a = UserAssertion::new(jwt(r#"{"tid":"T-1","oid":"O-1","aud":"x","exp":17}"#));
        let id = a.identity().unwrap();
        assert_eq!(id.exp, Some(17));
        assert_eq!(id.tid.as_deref(), Some("T-1"));
        assert_eq!(id.home_account_id().as_deref(), Some("o-1.t-1"));
        let padded = format!("e30.{}=.sig", URL_SAFE_NO_PAD.encode(r#"{"tid":"t"}"#));
        assert_eq!(
            UserAssertion::new(padded)
                .identity()
                .unwrap()
                .tid
                .as_deref(),
            Some("t")
        );
    }

    #[test]
    fn identity_of_garbage_is_none_or_empty() {
        for bad in ["", "a", "a.b", "a.b.c.d", "a.!!!.c", "a.bnVsbA.c"] {
            let id = UserAssertion::new(bad).identity();
            assert!(id.is_none_or(|i| i.tid.is_none()), "{bad}");
        }
        let typed = UserAssertion::new(jwt(r#"{"tid":5,"oid":["x"]}"#));
        let id = typed.identity().unwrap();
        assert!(id.tid.is_none() && id.oid.is_none());
        assert!(id.home_account_id().is_none());
    }

    proptest! {
        #[test]
        fn identity_never_panics(s in ".{0,300}", payload in ".{0,200}") {
            let _ = UserAssertion::new(s.as_str()).identity();
            let _ = UserAssertion::new(jwt(&payload)).identity();
        }
    }
}
