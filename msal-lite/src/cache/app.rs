//! The app-token (client credentials) partition key.

use crate::Authority;
use crate::authority::is_tenant_segment;

/// `{client_id}|{authority}`: one partition per client and tenant (MSAL.NET keys it by client
/// and tenant id; the whole normalised authority also separates clouds and hosts).
pub(crate) fn partition_key(client_id: &str, authority: &Authority) -> Box<str> {
    format!("{client_id}|{}", authority.as_str()).into_boxed_str()
}

/// What [`partition_key`] of `authority.with_tenant(t)` starts with, for every tenant `t`:
/// `{client_id}|{scheme}://{environment}/`. `None` for authorities without a tenant segment.
pub(crate) fn tenant_key_prefix(client_id: &str, authority: &Authority) -> Option<Box<str>> {
    authority.supports_tenant_override().then(|| {
        format!(
            "{client_id}|{}://{}/",
            authority.scheme(),
            authority.environment()
        )
        .into_boxed_str()
    })
}

/// The longest per-tenant partition key built on the stack; longer ones take the slow path.
pub(crate) const TENANT_KEY_CAPACITY: usize = 512;

/// The partition key for a per-request tenant, written into `buf` without allocating: `prefix`
/// (from [`tenant_key_prefix`]), the tenant lower-cased, and `/`. `None` when the tenant is not
/// a valid tenant segment or the key does not fit; the caller then parses the authority, which
/// also reports the error.
///
/// A cache hit for a per-request tenant used to parse a URL per call (11 allocations, about
/// 5 µs); this keeps it to the two hash lookups of any other hit.
pub(crate) fn tenant_partition_key<'b>(
    prefix: &str,
    tenant: &str,
    buf: &'b mut [u8; TENANT_KEY_CAPACITY],
) -> Option<&'b str> {
    let len = prefix.len() + tenant.len() + 1;
    if !is_tenant_segment(tenant) || len > buf.len() {
        return None;
    }
    buf[..prefix.len()].copy_from_slice(prefix.as_bytes());
    let out = &mut buf[prefix.len()..len];
    for (o, b) in out.iter_mut().zip(tenant.bytes()) {
        *o = b.to_ascii_lowercase();
    }
    out[tenant.len()] = b'/';
    std::str::from_utf8(&buf[..len]).ok()
}

/// The stored partition of app tokens for `client_id` at `authority`: one per client and
/// tenant, as Microsoft.Identity.Web's distributed cache keys its app token cache.
pub(crate) fn store_key(client_id: &str, authority: &Authority) -> crate::schema::PartitionKey {
    crate::schema::PartitionKey::app(client_id, authority.tenant().unwrap_or(""))
}

/// The MSAL schema entries of an app token: one for each convention the MSALs look app tokens
/// up by, as they disagree.
///
/// - **MSAL Node** (and MSAL.NET): `home_account_id: ""` and `realm` = the authority's tenant
///   segment as configured (msal-node `ClientCredentialClient.readAccessTokenFromCache` filters
///   on `homeAccountId: ""` and `authority.tenant`); keyed in msal-js style.
/// - **MSAL Python**: `home_account_id: null` and `realm` = the tenant of the discovered token
///   endpoint, which is the tenant id the token was issued in (msal `authority.py`:
///   `self.tenant` from `token_endpoint`, "usually a GUID"). Its client-credentials lookup
///   matches `{"home_account_id": None, "realm": ..}` as a sub-dictionary (msal
///   `token_cache.py` `is_subdict_of`), so neither `""` nor a missing field is found. Keyed in
///   MSAL Python's style, so the two entries never share a key.
///
/// Each MSAL finds exactly one of them (Node's filter refuses `null`, Python's refuses `""`).
/// The cloud's preferred cache host is the `environment` of both.
pub(crate) fn to_schema(
    token: &super::CachedToken,
    client_id: &str,
    authority: &Authority,
    now: u64,
) -> [(crate::schema::KeyStyle, crate::schema::AccessToken); 2] {
    use crate::schema::{CacheSecret, KeyStyle, UnixTime};
    let unix = |t: u64| UnixTime::from_secs(i64::try_from(t).unwrap_or(i64::MAX));
    let entry = |realm: Option<&str>, home: serde_json::Value| {
        let mut at = crate::schema::AccessToken::new(
            crate::cloud::known().cache_host(authority.environment()),
            client_id,
            CacheSecret::new(token.access_token.secret()),
            unix(token.expires_on),
        );
        at.realm = realm.map(str::to_owned);
        at.target = Some(token.scopes.as_str().to_owned());
        at.cached_at = Some(unix(now));
        at.extended_expires_on = token.ext_expires_on.get().map(unix);
        at.refresh_on = token.refresh_on.get().map(unix);
        match home {
            serde_json::Value::String(h) => at.home_account_id = Some(h),
            other => {
                at.extra.0.insert("home_account_id".to_owned(), other);
            }
        }
        at
    };
    let configured = authority.tenant();
    let issued = token.tenant_id.as_deref();
    [
        (
            KeyStyle::MsalJs,
            entry(
                configured.or(issued),
                serde_json::Value::String(String::new()),
            ),
        ),
        (
            KeyStyle::MsalPython,
            entry(issued.or(configured), serde_json::Value::Null),
        ),
    ]
}

/// Writes an app token's entries ([`to_schema`]) into a stored partition, dropping the
/// client's expired access tokens.
pub(crate) fn apply(
    doc: &mut crate::schema::CacheDocument,
    entries: [(crate::schema::KeyStyle, crate::schema::AccessToken); 2],
    client_id: &str,
    now: u64,
) {
    let now = crate::schema::UnixTime::from_secs(i64::try_from(now).unwrap_or(i64::MAX));
    doc.access_tokens
        .retain(|_, t| !t.client_id.eq_ignore_ascii_case(client_id) || t.expires_on > now);
    for (style, entry) in entries {
        doc.access_tokens.insert(entry.cache_key(style), entry);
    }
}

/// The tenant segment of a token endpoint URL (`https://host/{tenant}/oauth2/v2.0/token`), as
/// MSAL Python takes its `realm` from it (msal `authority.py` `canonicalize(token_endpoint)`).
pub(crate) fn endpoint_tenant(token_endpoint: &str) -> Option<&str> {
    let rest = token_endpoint.split_once("://")?.1;
    let mut segments = rest.split('/');
    segments.next()?;
    segments.next().filter(|t| !t.is_empty())
}

/// This client's usable app tokens in a stored partition.
pub(crate) fn from_document(
    doc: &crate::schema::CacheDocument,
    client_id: &str,
    authority: &Authority,
    now: u64,
) -> Vec<std::sync::Arc<super::CachedToken>> {
    doc.access_tokens
        .values()
        .filter(|at| {
            at.client_id.eq_ignore_ascii_case(client_id)
                && at.home_account_id.as_deref().is_none_or(str::is_empty)
                && at.user_assertion_hash.is_none()
                && at.requested_claims.is_none()
                && crate::cloud::known().same_cloud(&at.environment, authority.environment())
        })
        .filter_map(|at| super::obo::from_schema(at, now))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app_token(tenant_id: &str) -> super::super::CachedToken {
        super::super::CachedToken {
            access_token: crate::result::AccessToken::new("at"),
            token_type: "Bearer".into(),
            scopes: crate::scopes::Scopes::new(["https://graph.microsoft.com/.default"]).unwrap(),
            expires_on: 2000,
            ext_expires_on: None.into(),
            refresh_on: None.into(),
            tenant_id: Some(tenant_id.into()),
        }
    }

    /// MSAL Node looks app tokens up by `homeAccountId: ""` and the configured tenant
    /// (msal-node `ClientCredentialClient.readAccessTokenFromCache`), MSAL Python by
    /// `home_account_id: None` and the token endpoint's tenant as a sub-dictionary (msal
    /// `application.py` `_acquire_token_silent_from_cache_and_possibly_refresh_it`,
    /// `token_cache.py` `is_subdict_of`): one entry for each, under distinct keys.
    #[test]
    fn app_entries_follow_both_lookup_conventions() {
        let tid = "b3c2a1f0-5d4e-4f6a-9b8c-7d6e5f4a3b2c";
        let by_domain =
            Authority::parse("https://login.microsoftonline.com/contoso.onmicrosoft.com").unwrap();
        let [(_, node), (_, python)] = to_schema(&app_token(tid), "cid", &by_domain, 1000);
        let node = node.to_value();
        let python = python.to_value();
        assert_eq!(node["home_account_id"], "");
        assert_eq!(node["realm"], "contoso.onmicrosoft.com");
        assert_eq!(
            python.get("home_account_id"),
            Some(&serde_json::Value::Null)
        );
        assert_eq!(python["realm"], tid);
        assert_eq!(node["environment"], "login.windows.net");
        assert_eq!(python["environment"], "login.windows.net");

        // The same realm for an authority named by tenant id: still two distinct keys.
        let by_id = Authority::parse(&format!("https://login.microsoftonline.com/{tid}")).unwrap();
        let mut doc = crate::schema::CacheDocument::new();
        apply(
            &mut doc,
            to_schema(&app_token(tid), "cid", &by_id, 1000),
            "cid",
            1000,
        );
        let keys: Vec<_> = doc.access_tokens.keys().cloned().collect();
        assert_eq!(
            keys,
            [
                format!(
                    "-login.windows.net-accesstoken-cid-{tid}-https://graph.microsoft.com/.default"
                ),
                format!(
                    "-login.windows.net-accesstoken-cid-{tid}-https://graph.microsoft.com/.default--"
                ),
            ]
        );
    }

    #[test]
    fn endpoint_tenant_is_the_first_path_segment() {
        assert_eq!(
            endpoint_tenant(
                "https://login.microsoftonline.com/b3c2a1f0-5d4e-4f6a-9b8c-7d6e5f4a3b2c/oauth2/v2.0/token"
            ),
            Some("b3c2a1f0-5d4e-4f6a-9b8c-7d6e5f4a3b2c")
        );
        assert_eq!(endpoint_tenant("https://host//oauth2"), None);
        assert_eq!(endpoint_tenant("not a url"), None);
    }

    #[test]
    fn key_separates_tenants_and_clients() {
        let a = Authority::parse("https://login.microsoftonline.com/t1").unwrap();
        let b = Authority::parse("https://login.microsoftonline.com/t2").unwrap();
        assert_ne!(partition_key("c", &a), partition_key("c", &b));
        assert_ne!(partition_key("c", &a), partition_key("d", &a));
        assert_eq!(
            &*partition_key("c", &a),
            "c|https://login.microsoftonline.com/t1/"
        );
    }

    /// The stack-built key must be exactly the key of the parsed per-tenant authority, or a
    /// hit would miss (or, worse, another authority's partition would answer).
    fn assert_fast_key_matches(authority: &str, tenant: &str) {
        let authority = Authority::parse(authority).unwrap();
        let prefix = tenant_key_prefix("client", &authority).expect("has a tenant segment");
        let mut buf = [0u8; TENANT_KEY_CAPACITY];
        let fast = tenant_partition_key(&prefix, tenant, &mut buf);
        match authority.with_tenant(tenant) {
            Ok(slow) => assert_eq!(
                fast,
                Some(&*partition_key("client", &slow)),
                "{authority:?} + {tenant:?}"
            ),
            Err(_) => assert_eq!(fast, None, "{authority:?} + {tenant:?}"),
        }
    }

    #[test]
    fn fast_tenant_key_matches_the_parsed_authority() {
        let authorities = [
            "https://login.microsoftonline.com/common",
            "https://login.microsoftonline.com/Contoso.onmicrosoft.com",
            "https://login.microsoftonline.us/organizations",
            "https://contoso.ciamlogin.com/",
            "https://contoso.ciamlogin.com/b3c2a1f0-5d4e-4f6a-9b8c-7d6e5f4a3b2c",
            "https://login.example.com:8443/tenant",
            "https://login.example.com:443/tenant",
            "http://127.0.0.1:8080/contoso",
            "http://localhost/contoso",
            "http://[::1]:9000/contoso",
        ];
        let tenants = [
            "b3c2a1f0-5d4e-4f6a-9b8c-7d6e5f4a3b2c",
            "Fabrikam.onmicrosoft.com",
            "common",
            "a_b-c.d",
            "",
            "bad/tenant",
            "bad tenant",
            "é",
            "..",
        ];
        for authority in authorities {
            for tenant in tenants {
                assert_fast_key_matches(authority, tenant);
            }
        }
    }

    #[test]
    fn no_fast_key_without_a_tenant_segment() {
        let oidc = Authority::from_oidc_issuer("https://accounts.example.com").unwrap();
        assert!(tenant_key_prefix("client", &oidc).is_none());
    }

    proptest::proptest! {
        #[test]
        fn fast_tenant_key_matches_for_any_tenant(tenant in "[A-Za-z0-9._/ -]{0,40}") {
            assert_fast_key_matches("https://login.microsoftonline.com/common", &tenant);
            assert_fast_key_matches("https://contoso.ciamlogin.com/", &tenant);
            assert_fast_key_matches("http://127.0.0.1:8080/contoso", &tenant);
        }
    }
}
