//! Authorities: parsing, normalisation and the metadata (discovery) URL.
//!
//! Rules (Microsoft identity platform: "Authority" / "National clouds", and the CIAM
//! authority transformation shared by MSAL.NET, msal-js and Microsoft.Identity.Web):
//!
//! - `https` is required; plain `http` only for loopback hosts (`127.0.0.0/8`, `::1`,
//!   `localhost`), which is what local test tenants use.
//! - No user info, query or fragment; the default port is dropped; the result always ends in `/`.
//! - CIAM (`*.ciamlogin.com`): a bare host gets `{first-host-label}.onmicrosoft.com/` appended; the
//!   tenant segment is lower-cased; at most one path segment.
//! - AAD (`login.microsoftonline.com` and the national clouds): exactly one path segment (a tenant
//!   id or domain, `common`, `organizations` or `consumers`), lower-cased.
//! - Anything else is a generic Entra-compatible host whose path is kept as written.
//!
//! Metadata comes from `{authority}v2.0/.well-known/openid-configuration` (OpenID Connect
//! Discovery 1.0 at Entra's v2.0 location), or `{issuer}/.well-known/openid-configuration` for
//! an authority made with [`Authority::from_oidc_issuer`].

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use std::sync::Arc;

use url::{Host, Url};

use crate::Error;

/// Hosts of Microsoft Entra ID (workforce) in the public and national clouds.
pub(crate) const AAD_HOSTS: [&str; 10] = [
    "login.microsoftonline.com",
    "login.microsoft.com",
    "login.windows.net",
    "sts.windows.net",
    "login.microsoftonline.us",
    "login.usgovcloudapi.net",
    "login-us.microsoftonline.com",
    "login.partner.microsoftonline.cn",
    "login.chinacloudapi.cn",
    "login.microsoftonline.de",
];

const CIAM_SUFFIX: &str = ".ciamlogin.com";

/// What kind of identity provider an [`Authority`] points at.
///
/// ```
/// use msal_lite::{Authority, AuthorityKind};
/// let a = Authority::parse("https://contoso.ciamlogin.com/")?;
/// assert_eq!(a.kind(), AuthorityKind::Ciam);
/// # Ok::<(), msal_lite::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuthorityKind {
    /// Microsoft Entra ID (workforce), public or national cloud.
    Aad,
    /// Microsoft Entra External ID (`*.ciamlogin.com`).
    Ciam,
    /// Another host with Entra's layout (`{authority}v2.0/.well-known/openid-configuration`),
    /// e.g. a local test tenant.
    Generic,
    /// A plain OpenID Connect issuer (`{issuer}/.well-known/openid-configuration`).
    Oidc,
}

/// A normalised authority URL (the identity provider plus tenant), cheap to clone.
///
/// ```
/// use msal_lite::Authority;
///
/// let a = Authority::parse("https://contoso.ciamlogin.com")?;
/// assert_eq!(a.as_str(), "https://contoso.ciamlogin.com/contoso.onmicrosoft.com/");
/// assert_eq!(a.tenant(), Some("contoso.onmicrosoft.com"));
///
/// assert!(Authority::parse("http://login.example.com/tenant").is_err()); // http only on loopback
/// assert!(Authority::parse("http://127.0.0.1:8080/contoso.onmicrosoft.com").is_ok());
/// # Ok::<(), msal_lite::Error>(())
/// ```
#[derive(Clone)]
pub struct Authority(Arc<Inner>);

struct Inner {
    url: Url,
    kind: AuthorityKind,
    tenant: Option<Box<str>>,
    metadata_url: Box<str>,
}

impl Authority {
    /// Parses and normalises an authority URL (rules in the module docs).
    ///
    /// ```
    /// use msal_lite::Authority;
    /// let a = Authority::parse("https://login.microsoftonline.com/Contoso.onmicrosoft.com")?;
    /// assert_eq!(a.as_str(), "https://login.microsoftonline.com/contoso.onmicrosoft.com/");
    /// # Ok::<(), msal_lite::Error>(())
    /// ```
    pub fn parse(authority: &str) -> Result<Self, Error> {
        let url = parse_url(authority)?;
        let host = match url.host() {
            Some(Host::Domain(d)) => d.to_owned(),
            Some(_) => String::new(),
            None => return Err(Error::invalid_authority("the authority has no host")),
        };
        let segments: Vec<&str> = url.path().split('/').filter(|s| !s.is_empty()).collect();

        if let Some(label) = host.strip_suffix(CIAM_SUFFIX) {
            let first_label = label.split('.').next().unwrap_or("");
            if first_label.is_empty() {
                return Err(Error::invalid_authority(
                    "a ciamlogin.com authority needs a subdomain",
                ));
            }
            let tenant = match segments.as_slice() {
                [] => format!("{first_label}.onmicrosoft.com"),
                [tenant] => tenant_segment(tenant)?,
                _ => {
                    return Err(Error::invalid_authority(
                        "a ciamlogin.com authority has at most one path segment (the tenant); remove e.g. a trailing /v2.0",
                    ));
                }
            };
            return Ok(Self::with_path(url, AuthorityKind::Ciam, Some(tenant)));
        }

        if AAD_HOSTS.contains(&host.as_str()) {
            let tenant = match segments.as_slice() {
                [tenant] => tenant_segment(tenant)?,
                [] => {
                    return Err(Error::invalid_authority(
                        "an Entra ID authority needs a tenant: a tenant id or domain, common, organizations or consumers",
                    ));
                }
                _ => {
                    return Err(Error::invalid_authority(
                        "an Entra ID authority has exactly one path segment (the tenant); remove e.g. a trailing /v2.0",
                    ));
                }
            };
            return Ok(Self::with_path(url, AuthorityKind::Aad, Some(tenant)));
        }

        // Deliberately keep a generic host's path as written: only Entra defines its
        // case-insensitivity.
        let tenant = match segments.as_slice() {
            [tenant] => Some((*tenant).to_owned()),
            _ => None,
        };
        let path = if segments.is_empty() {
            String::new()
        } else {
            format!("{}/", segments.join("/"))
        };
        let mut normalised = url;
        normalised.set_path(&format!("/{path}"));
        Ok(Self::build(normalised, AuthorityKind::Generic, tenant))
    }

    /// An authority for a plain OpenID Connect issuer: metadata is read from
    /// `{issuer}/.well-known/openid-configuration` (OpenID Connect Discovery 1.0 §4).
    ///
    /// ```
    /// use msal_lite::{Authority, AuthorityKind};
    /// let a = Authority::from_oidc_issuer("https://issuer.example.com/realms/demo")?;
    /// assert_eq!(a.kind(), AuthorityKind::Oidc);
    /// assert_eq!(a.as_str(), "https://issuer.example.com/realms/demo/");
    /// # Ok::<(), msal_lite::Error>(())
    /// ```
    pub fn from_oidc_issuer(issuer: &str) -> Result<Self, Error> {
        let mut url = parse_url(issuer)?;
        let path = url.path().trim_end_matches('/').to_owned();
        url.set_path(&format!("{path}/"));
        Ok(Self::build(url, AuthorityKind::Oidc, None))
    }

    fn with_path(mut url: Url, kind: AuthorityKind, tenant: Option<String>) -> Self {
        if let Some(tenant) = &tenant {
            url.set_path(&format!("/{tenant}/"));
        }
        Self::build(url, kind, tenant)
    }

    fn build(url: Url, kind: AuthorityKind, tenant: Option<String>) -> Self {
        let metadata_url = match kind {
            AuthorityKind::Oidc => format!(
                "{}/.well-known/openid-configuration",
                url.as_str().trim_end_matches('/')
            ),
            _ => format!("{}v2.0/.well-known/openid-configuration", url.as_str()),
        };
        Self(Arc::new(Inner {
            url,
            kind,
            tenant: tenant.map(String::into_boxed_str),
            metadata_url: metadata_url.into_boxed_str(),
        }))
    }

    /// The normalised authority, always ending in `/`.
    ///
    /// ```
    /// let a = msal_lite::Authority::parse("https://contoso.ciamlogin.com/aDomain")?;
    /// assert_eq!(a.as_str(), "https://contoso.ciamlogin.com/adomain/");
    /// # Ok::<(), msal_lite::Error>(())
    /// ```
    pub fn as_str(&self) -> &str {
        self.0.url.as_str()
    }

    /// What kind of authority this is.
    ///
    /// ```
    /// use msal_lite::{Authority, AuthorityKind};
    /// let a = Authority::parse("https://login.microsoftonline.us/common")?;
    /// assert_eq!(a.kind(), AuthorityKind::Aad);
    /// # Ok::<(), msal_lite::Error>(())
    /// ```
    pub fn kind(&self) -> AuthorityKind {
        self.0.kind
    }

    /// The tenant path segment (`common`, a tenant id, a domain), when the authority has one.
    ///
    /// ```
    /// let a = msal_lite::Authority::parse("https://login.microsoftonline.com/common")?;
    /// assert_eq!(a.tenant(), Some("common"));
    /// # Ok::<(), msal_lite::Error>(())
    /// ```
    pub fn tenant(&self) -> Option<&str> {
        self.0.tenant.as_deref()
    }

    /// The host, and the port when it is not the scheme's default (MSAL's "environment").
    ///
    /// ```
    /// let a = msal_lite::Authority::parse("http://127.0.0.1:8080/contoso")?;
    /// assert_eq!(a.environment(), "127.0.0.1:8080");
    /// # Ok::<(), msal_lite::Error>(())
    /// ```
    pub fn environment(&self) -> &str {
        let url = &self.0.url;
        let start = url.scheme().len() + "://".len();
        let end = url.path().len();
        let s = url.as_str();
        &s[start..s.len() - end]
    }

    /// The same authority with another tenant (for a per-request tenant, e.g. on-behalf-of
    /// from a `common` authority). Only authorities with a single tenant segment have one.
    ///
    /// ```
    /// let a = msal_lite::Authority::parse("https://login.microsoftonline.com/common")?;
    /// let t = a.with_tenant("72F988BF-86F1-41AF-91AB-2D7CD011DB47")?;
    /// assert_eq!(t.as_str(), "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/");
    /// # Ok::<(), msal_lite::Error>(())
    /// ```
    pub fn with_tenant(&self, tenant: &str) -> Result<Self, Error> {
        if !self.supports_tenant_override() {
            return Err(Error::invalid_authority(
                "this authority has no tenant segment to replace",
            ));
        }
        let segment = tenant_segment(tenant)?;
        Self::parse(&format!(
            "{}://{}/{segment}/",
            self.0.url.scheme(),
            self.environment()
        ))
    }

    /// Whether [`with_tenant`](Self::with_tenant) can replace the tenant segment.
    pub(crate) fn supports_tenant_override(&self) -> bool {
        self.0.tenant.is_some() && self.0.kind != AuthorityKind::Oidc
    }

    /// `https`, or `http` for loopback authorities.
    pub(crate) fn scheme(&self) -> &str {
        self.0.url.scheme()
    }

    /// Where the OpenID Connect metadata document is read from.
    ///
    /// ```
    /// let a = msal_lite::Authority::parse("https://contoso.ciamlogin.com/")?;
    /// assert_eq!(
    ///     a.metadata_url(),
    ///     "https://contoso.ciamlogin.com/contoso.onmicrosoft.com/v2.0/.well-known/openid-configuration"
    /// );
    /// # Ok::<(), msal_lite::Error>(())
    /// ```
    pub fn metadata_url(&self) -> &str {
        &self.0.metadata_url
    }

    /// Whether this is a plain-http loopback authority (local test tenants).
    pub(crate) fn is_loopback_http(&self) -> bool {
        self.0.url.scheme() == "http"
    }
}

/// Parses the URL and applies the rules every kind shares.
fn parse_url(input: &str) -> Result<Url, Error> {
    let url = Url::parse(input.trim())
        .map_err(|_| Error::invalid_authority("the authority is not an absolute URL"))?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        "http" => {
            return Err(Error::invalid_authority(
                "the authority must use https (plain http is accepted only for loopback hosts such as 127.0.0.1)",
            ));
        }
        _ => {
            return Err(Error::invalid_authority(
                "the authority must be an https URL",
            ));
        }
    }
    if url.host().is_none() {
        return Err(Error::invalid_authority("the authority has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::invalid_authority(
            "the authority must not contain user info",
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Error::invalid_authority(
            "the authority must not contain a query or fragment",
        ));
    }
    Ok(url)
}

/// Whether `tenant` can be a tenant path segment: a domain name or GUID (letters, digits, `.`,
/// `-`, `_`), at most 256 bytes. `.` and `..` are dot-segments that URL parsing removes
/// (RFC 3986 §5.2.4): on a CIAM host `with_tenant("..")` would otherwise quietly mean the host's
/// default tenant.
pub(crate) fn is_tenant_segment(tenant: &str) -> bool {
    !matches!(tenant, "" | "." | "..")
        && tenant.len() <= 256
        && tenant
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
}

/// A tenant segment for Entra hosts: a domain name or GUID, lower-cased.
fn tenant_segment(tenant: &str) -> Result<String, Error> {
    if !is_tenant_segment(tenant) {
        return Err(Error::invalid_authority(
            "the tenant must be a tenant id or domain name (letters, digits, '.', '-', '_')",
        ));
    }
    Ok(tenant.to_ascii_lowercase())
}

pub(crate) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

impl fmt::Debug for Authority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Authority").field(&self.as_str()).finish()
    }
}

impl fmt::Display for Authority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq for Authority {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str() && self.kind() == other.kind()
    }
}

impl Eq for Authority {}

impl std::hash::Hash for Authority {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl FromStr for Authority {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// Anything that can become an [`Authority`]: an `Authority` or a string to parse. Used by the
/// client builder, which reports a parse failure from `build()`.
///
/// ```
/// use msal_lite::IntoAuthority;
/// let a = "https://contoso.ciamlogin.com/".into_authority()?;
/// assert_eq!(a.tenant(), Some("contoso.onmicrosoft.com"));
/// # Ok::<(), msal_lite::Error>(())
/// ```
pub trait IntoAuthority {
    /// Converts, parsing when needed.
    fn into_authority(self) -> Result<Authority, Error>;
}

impl IntoAuthority for Authority {
    fn into_authority(self) -> Result<Authority, Error> {
        Ok(self)
    }
}

impl IntoAuthority for &Authority {
    fn into_authority(self) -> Result<Authority, Error> {
        Ok(self.clone())
    }
}

impl IntoAuthority for &str {
    fn into_authority(self) -> Result<Authority, Error> {
        Authority::parse(self)
    }
}

impl IntoAuthority for String {
    fn into_authority(self) -> Result<Authority, Error> {
        Authority::parse(&self)
    }
}

impl IntoAuthority for &String {
    fn into_authority(self) -> Result<Authority, Error> {
        Authority::parse(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(input: &str) -> String {
        Authority::parse(input)
            .unwrap_or_else(|e| panic!("{input}: {e}"))
            .as_str()
            .to_owned()
    }

    fn rejected(input: &str) -> String {
        match Authority::parse(input) {
            Ok(a) => panic!("{input} was accepted as {a}"),
            Err(e) => e.to_string(),
        }
    }

    /// Source: MSAL.NET `CiamAuthorityTests.CiamWithAuthorityTransformationTest`.
    #[test]
    fn ciam_transformation_vectors() {
        let table = [
            (
                "https://idgciamdemo.ciamlogin.com/",
                "https://idgciamdemo.ciamlogin.com/idgciamdemo.onmicrosoft.com/",
            ),
            (
                "https://idgciamdemo.ciamlogin.com/d57fb3d4-4b5a-4144-9328-9c1f7d58179d",
                "https://idgciamdemo.ciamlogin.com/d57fb3d4-4b5a-4144-9328-9c1f7d58179d/",
            ),
            (
                "https://idgciamdemo.ciamlogin.com/idgciamdemo.onmicrosoft.com",
                "https://idgciamdemo.ciamlogin.com/idgciamdemo.onmicrosoft.com/",
            ),
            (
                "https://idgciamdemo.ciamlogin.com/aDomain",
                "https://idgciamdemo.ciamlogin.com/adomain/",
            ),
        ];
        for (input, expected) in table {
            assert_eq!(norm(input), expected, "{input}");
            assert_eq!(Authority::parse(input).unwrap().kind(), AuthorityKind::Ciam);
        }
    }

    #[test]
    fn ciam_bare_host_without_slash_and_with_upper_case_host() {
        assert_eq!(
            norm("https://Contoso.CIAMLOGIN.com"),
            "https://contoso.ciamlogin.com/contoso.onmicrosoft.com/"
        );
        assert_eq!(
            Authority::parse("https://contoso.ciamlogin.com")
                .unwrap()
                .tenant(),
            Some("contoso.onmicrosoft.com")
        );
    }

    #[test]
    fn ciam_rejects_extra_segments_and_empty_label() {
        assert!(
            rejected("https://contoso.ciamlogin.com/contoso.onmicrosoft.com/v2.0")
                .contains("at most one")
        );
        assert!(rejected("https://.ciamlogin.com/").contains("subdomain"));
    }

    /// Source: MSAL.NET `CiamAuthorityTests` request-authority overrides: token endpoints.
    #[test]
    fn ciam_request_override_vectors() {
        let app = Authority::parse("https://app.ciamlogin.com/").unwrap();
        assert_eq!(
            app.as_str(),
            "https://app.ciamlogin.com/app.onmicrosoft.com/"
        );
        for (request, expected_authority) in [
            (
                "https://request.ciamlogin.com/",
                "https://request.ciamlogin.com/request.onmicrosoft.com/",
            ),
            (
                "https://request.ciamlogin.com/d57fb3d4-4b5a-4144-9328-9c1f7d58179d",
                "https://request.ciamlogin.com/d57fb3d4-4b5a-4144-9328-9c1f7d58179d/",
            ),
            (
                "https://request.ciamlogin.com/bDomain",
                "https://request.ciamlogin.com/bdomain/",
            ),
        ] {
            assert_eq!(norm(request), expected_authority);
        }
    }

    #[test]
    fn aad_and_national_clouds() {
        for host in AAD_HOSTS {
            let a = Authority::parse(&format!("https://{host}/Common")).unwrap();
            assert_eq!(a.kind(), AuthorityKind::Aad, "{host}");
            assert_eq!(a.as_str(), format!("https://{host}/common/"));
            assert_eq!(a.tenant(), Some("common"));
        }
        for tenant in [
            "common",
            "organizations",
            "consumers",
            "contoso.onmicrosoft.com",
        ] {
            assert_eq!(
                norm(&format!("https://login.microsoftonline.com/{tenant}/")),
                format!("https://login.microsoftonline.com/{tenant}/")
            );
        }
        assert!(rejected("https://login.microsoftonline.com/").contains("needs a tenant"));
        assert!(rejected("https://login.microsoftonline.com/common/v2.0").contains("exactly one"));
        assert!(rejected("https://login.microsoftonline.com/con%20toso").contains("tenant"));
        assert_eq!(
            Authority::parse("https://login.microsoftonline.com/common")
                .unwrap()
                .metadata_url(),
            "https://login.microsoftonline.com/common/v2.0/.well-known/openid-configuration"
        );
    }

    #[test]
    fn http_only_on_loopback() {
        assert!(rejected("http://login.microsoftonline.com/common").contains("https"));
        assert!(rejected("http://contoso.ciamlogin.com/").contains("loopback"));
        assert!(rejected("http://192.168.1.10/tenant").contains("loopback"));
        assert!(rejected("ftp://example.com/tenant").contains("https"));
        assert_eq!(
            norm("http://127.0.0.1:4567/contoso.onmicrosoft.com"),
            "http://127.0.0.1:4567/contoso.onmicrosoft.com/"
        );
        assert_eq!(norm("http://127.1.2.3/t"), "http://127.1.2.3/t/");
        assert_eq!(norm("http://[::1]:9000/t/"), "http://[::1]:9000/t/");
        assert_eq!(norm("http://LOCALHOST:9000/t"), "http://localhost:9000/t/");
        assert!(
            Authority::parse("http://127.0.0.1:1/t")
                .unwrap()
                .is_loopback_http()
        );
    }

    #[test]
    fn generic_hosts_keep_their_path() {
        let a = Authority::parse("https://login.example.com:443/Tenant/Sub").unwrap();
        assert_eq!(a.kind(), AuthorityKind::Generic);
        assert_eq!(a.as_str(), "https://login.example.com/Tenant/Sub/");
        assert_eq!(a.tenant(), None);
        let a = Authority::parse("http://127.0.0.1:8080/contoso.onmicrosoft.com/").unwrap();
        assert_eq!(a.tenant(), Some("contoso.onmicrosoft.com"));
        assert_eq!(
            a.metadata_url(),
            "http://127.0.0.1:8080/contoso.onmicrosoft.com/v2.0/.well-known/openid-configuration"
        );
        assert_eq!(
            norm("https://login.example.com"),
            "https://login.example.com/"
        );
    }

    #[test]
    fn rejects_query_fragment_userinfo_and_garbage() {
        assert!(rejected("https://login.microsoftonline.com/common?x=1").contains("query"));
        assert!(rejected("https://login.microsoftonline.com/common?").contains("query"));
        assert!(rejected("https://login.microsoftonline.com/common#f").contains("fragment"));
        assert!(rejected("https://user:pw@login.microsoftonline.com/common").contains("user info"));
        assert!(rejected("not a url").contains("absolute"));
        assert!(rejected("").contains("absolute"));
        assert!(rejected("/common").contains("absolute"));
    }

    #[test]
    fn tenant_override() {
        let a = Authority::parse("https://contoso.ciamlogin.com/").unwrap();
        let b = a
            .with_tenant("B3C2A1F0-5d4e-4f6a-9b8c-7d6e5f4a3b2c")
            .unwrap();
        assert_eq!(
            b.as_str(),
            "https://contoso.ciamlogin.com/b3c2a1f0-5d4e-4f6a-9b8c-7d6e5f4a3b2c/"
        );
        assert_eq!(b.kind(), AuthorityKind::Ciam);
        let local = Authority::parse("http://127.0.0.1:9/contoso/").unwrap();
        assert_eq!(
            local.with_tenant("other").unwrap().as_str(),
            "http://127.0.0.1:9/other/"
        );
        assert!(a.with_tenant("../evil").is_err());
        assert!(a.with_tenant("").is_err());
        assert!(a.with_tenant(".").is_err());
        assert!(a.with_tenant("..").is_err());
        let oidc = Authority::from_oidc_issuer("https://issuer.example.com/").unwrap();
        assert!(oidc.with_tenant("x").is_err());
    }

    #[test]
    fn oidc_issuer_metadata_url() {
        let a = Authority::from_oidc_issuer("https://issuer.example.com/realms/demo/").unwrap();
        assert_eq!(
            a.metadata_url(),
            "https://issuer.example.com/realms/demo/.well-known/openid-configuration"
        );
        let a = Authority::from_oidc_issuer("https://issuer.example.com").unwrap();
        assert_eq!(
            a.metadata_url(),
            "https://issuer.example.com/.well-known/openid-configuration"
        );
        assert!(Authority::from_oidc_issuer("http://issuer.example.com").is_err());
    }

    #[test]
    fn environment_includes_non_default_port() {
        assert_eq!(
            Authority::parse("https://login.microsoftonline.com/common")
                .unwrap()
                .environment(),
            "login.microsoftonline.com"
        );
        assert_eq!(
            Authority::parse("https://login.example.com:8443/t")
                .unwrap()
                .environment(),
            "login.example.com:8443"
        );
    }

    proptest::proptest! {
        /// Never panics; an accepted authority ends in `/` and is a fixed point of `parse`.
        #[test]
        fn parse_is_total_and_idempotent(input in "(https?://)?[a-zA-Z0-9.:/?#@%\\[\\]-]{0,40}") {
            if let Ok(a) = Authority::parse(&input) {
                proptest::prop_assert!(a.as_str().ends_with('/'));
                let again = Authority::parse(a.as_str()).unwrap();
                proptest::prop_assert_eq!(again.as_str(), a.as_str());
                let _ = a.environment();
            }
        }

        #[test]
        fn ciam_hosts_always_get_a_tenant(sub in "[a-z][a-z0-9-]{0,20}", tenant in proptest::option::of("[A-Za-z0-9][A-Za-z0-9.-]{0,29}")) {
            let input = match &tenant {
                Some(t) => format!("https://{sub}.ciamlogin.com/{t}"),
                None => format!("https://{sub}.ciamlogin.com"),
            };
            let a = Authority::parse(&input).unwrap();
            let expected = tenant.map_or(format!("{sub}.onmicrosoft.com"), |t| t.to_ascii_lowercase());
            proptest::prop_assert_eq!(a.tenant(), Some(expected.as_str()));
        }
    }

    #[test]
    fn equality_and_display() {
        let a = Authority::parse("https://contoso.ciamlogin.com").unwrap();
        let b: Authority = "https://contoso.ciamlogin.com/contoso.onmicrosoft.com/"
            .parse()
            .unwrap();
        assert_eq!(a, b);
        assert_eq!(a.to_string(), a.as_str());
        assert_eq!(format!("{a:?}"), format!("Authority({:?})", a.as_str()));
    }
}
