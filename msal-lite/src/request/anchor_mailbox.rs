//! The `X-AnchorMailbox` routing hint (Entra's "cache credential service", which lets the
//! backup authentication system route a request for a user during an outage).
//!
//! Formats as MSAL builds them: `Oid:{uid}@{utid}` from `client_info` or the home account id
//! (msal-common `RequestParameterBuilder.addCcsOid` and `BaseClient.createTokenRequestHeaders`;
//! MSAL Python `msal/application.py`, which turns `home_account_id` into `Oid:{uid}@{utid}` for
//! refresh requests), and `UPN:{login_hint}` when the sign-in only has a login hint (msal-common
//! `addCcsUpn`; MSAL Python `_ClientWithCcsRoutingInfo`). The value is case-insensitive for Entra.

use http::{HeaderMap, HeaderName, HeaderValue};

/// The header (and, on the authorize URL, the query parameter) name.
pub(crate) const NAME: &str = "X-AnchorMailbox";

/// `Oid:{uid}@{utid}` for a `uid.utid` home account id; `None` when it is not of that shape.
pub(crate) fn for_home_account(home_account_id: &str) -> Option<String> {
    let (uid, utid) = home_account_id.split_once('.')?;
    (!uid.is_empty() && !utid.is_empty()).then(|| format!("Oid:{uid}@{utid}"))
}

/// `UPN:{login_hint}`.
pub(crate) fn for_login_hint(login_hint: &str) -> Option<String> {
    let hint = login_hint.trim();
    (!hint.is_empty()).then(|| format!("UPN:{hint}"))
}

/// Adds the header (a value that cannot be a header, e.g. with a newline, is left out).
pub(crate) fn insert(headers: &mut HeaderMap, anchor: Option<&str>) {
    if let Some(value) = anchor.and_then(|a| HeaderValue::try_from(a).ok()) {
        headers.insert(HeaderName::from_static("x-anchormailbox"), value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_as_msal() {
        assert_eq!(
            for_home_account("uid-1.utid-2").as_deref(),
            Some("Oid:uid-1@utid-2")
        );
        assert_eq!(for_home_account("no-dot"), None);
        assert_eq!(for_home_account(".x"), None);
        assert_eq!(
            for_login_hint("alice@contoso.com").as_deref(),
            Some("UPN:alice@contoso.com")
        );
        assert_eq!(for_login_hint(" "), None);
        let mut h = HeaderMap::new();
        insert(&mut h, Some("bad\nvalue"));
        assert!(h.is_empty());
        insert(&mut h, Some("Oid:a@b"));
        assert_eq!(h[NAME], "Oid:a@b");
    }
}
