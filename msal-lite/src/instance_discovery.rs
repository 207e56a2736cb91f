//! Instance discovery: which hosts are aliases of an Entra-shaped authority's cloud, for hosts
//! the built-in table (`cloud.rs`) does not know.
//!
//! `GET {scheme}://{host}/common/discovery/instance?api-version=1.1&authorization_endpoint={authority}oauth2/v2.0/authorize`
//! answers `{"tenant_discovery_endpoint": ..., "metadata": [{"preferred_network",
//! "preferred_cache", "aliases": [...]}]}` (MSAL.NET `Instance/Discovery/NetworkMetadataProvider.cs`
//! and `InstanceDiscoveryResponse.cs`; msal-common `authority/Authority.ts`,
//! `getCloudDiscoveryMetadataFromNetwork`). The entry naming the authority's host becomes that
//! cloud's alias set and preferred cache host, so cache entries written by MSAL under an alias
//! are found and msal-lite writes the host MSAL writes.
//!
//! As MSAL does, it is skipped for the well-known clouds (their metadata is built in), External
//! ID (`*.ciamlogin.com`), B2C (`*.b2clogin.com`), ADFS (`/adfs/`), plain OpenID Connect issuers,
//! and when the client turns it off (`instance_discovery(false)`, MSAL's
//! `instanceDiscovery: false` / `WithInstanceDiscovery(false)`). msal-lite also skips loopback
//! and IP-address hosts (local test tenants, which serve no discovery). A failed discovery is
//! traced and the host is its own single-alias cloud, as msal-common falls back to the host
//! itself; it runs with the authority metadata fetch, so it is cached (and repeated) as metadata
//! is.

use serde::Deserialize;

use crate::cloud::{self, Cloud};
use crate::http::{HttpClient, RetryPolicy, send_with_retry};
use crate::request::common_headers;
use crate::{Authority, AuthorityKind, CorrelationId, Error};

/// At most this many aliases per cloud are taken from a response.
const MAX_ALIASES: usize = 16;

#[derive(Deserialize)]
struct Response {
    #[serde(default)]
    metadata: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    #[serde(default)]
    preferred_cache: Option<String>,
    #[serde(default)]
    aliases: Vec<String>,
}

/// Whether `authority` needs network instance discovery.
pub(crate) fn applies(authority: &Authority) -> bool {
    if authority.kind() != AuthorityKind::Generic && authority.kind() != AuthorityKind::Aad {
        return false;
    }
    let Ok(url) = url::Url::parse(authority.as_str()) else {
        return false;
    };
    let Some(url::Host::Domain(host)) = url.host() else {
        return false; // an IP address
    };
    let host = host.to_ascii_lowercase();
    let adfs = url
        .path_segments()
        .and_then(|mut s| s.next())
        .is_some_and(|s| s.eq_ignore_ascii_case("adfs"));
    !(host == "localhost"
        || host.ends_with(".b2clogin.com")
        || host.ends_with(".ciamlogin.com")
        || adfs
        || cloud::known().is_built_in(&host))
}

/// A host name as a discovery response may name one: DNS labels only.
fn is_host(alias: &str) -> bool {
    !alias.is_empty()
        && alias.len() <= 253
        && alias.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// The cloud that a discovery response says `host` belongs to (the host alone when no entry
/// names it). Unusable aliases are dropped.
fn cloud_for(response: Response, host: &str) -> Cloud {
    let entry = response
        .metadata
        .into_iter()
        .find(|e| e.aliases.iter().any(|a| a.eq_ignore_ascii_case(host)));
    let Some(entry) = entry else {
        return Cloud {
            aliases: vec![host.to_owned()],
            preferred_cache: host.to_owned(),
        };
    };
    // The host itself first (it named this entry), then the other usable aliases.
    let mut aliases = vec![host.to_owned()];
    for alias in entry.aliases.iter().filter(|a| is_host(a)) {
        let alias = alias.to_ascii_lowercase();
        if aliases.len() < MAX_ALIASES && !aliases.contains(&alias) {
            aliases.push(alias);
        }
    }
    let preferred_cache = entry
        .preferred_cache
        .map(|p| p.to_ascii_lowercase())
        .filter(|p| aliases.contains(p))
        .unwrap_or_else(|| host.to_owned());
    Cloud {
        aliases,
        preferred_cache,
    }
}

/// Discovers `authority`'s cloud and teaches it to the shared alias table. Never fails the
/// caller: a failure is traced and the host stays its own cloud.
pub(crate) async fn discover(
    http: &dyn HttpClient,
    retry: &RetryPolicy,
    authority: &Authority,
    correlation_id: CorrelationId,
) {
    let host = authority.environment().to_ascii_lowercase();
    match fetch(http, retry, authority, correlation_id).await {
        Ok(response) => {
            let cloud = cloud_for(response, &host);
            tracing::debug!(
                host = %host,
                aliases = ?cloud.aliases,
                preferred_cache = %cloud.preferred_cache,
                "instance discovery"
            );
            cloud::known().learn(cloud);
        }
        Err(e) => tracing::warn!(
            host = %host,
            %correlation_id,
            error = %e,
            "instance discovery failed; the authority's host is its own cloud"
        ),
    }
}

async fn fetch(
    http: &dyn HttpClient,
    retry: &RetryPolicy,
    authority: &Authority,
    correlation_id: CorrelationId,
) -> Result<Response, Error> {
    let mut url = url::Url::parse(&format!(
        "{}://{}/common/discovery/instance",
        authority.scheme(),
        authority.environment()
    ))
    .map_err(|_| Error::invalid_authority("the instance discovery URL is not valid"))?;
    url.query_pairs_mut()
        .append_pair("api-version", "1.1")
        .append_pair(
            "authorization_endpoint",
            &format!("{}oauth2/v2.0/authorize", authority.as_str()),
        );
    let mut request = http::Request::get(url.as_str())
        .body(bytes::Bytes::new())
        .map_err(|_| Error::invalid_authority("the instance discovery URL is not valid"))?;
    common_headers(request.headers_mut(), correlation_id);
    request.headers_mut().insert(
        http::header::ACCEPT,
        http::HeaderValue::from_static("application/json"),
    );
    let response = send_with_retry(http, retry, request)
        .await
        .map_err(|e| e.into_error(Some(correlation_id)))?;
    crate::response::parse_json(&response, Some(correlation_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn which_authorities_are_discovered() {
        for (authority, expected) in [
            ("https://login.microsoftonline.com/common", false),
            ("https://login.microsoftonline.us/t", false),
            ("https://contoso.ciamlogin.com/", false),
            (
                "https://contoso.b2clogin.com/contoso.onmicrosoft.com/b2c_1_signin",
                false,
            ),
            ("https://adfs.contoso.com/adfs/", false),
            ("http://127.0.0.1:8080/t", false),
            ("http://localhost:8080/t", false),
            ("https://login.cloud.example/contoso.onmicrosoft.com", true),
        ] {
            let a = Authority::parse(authority).unwrap();
            assert_eq!(applies(&a), expected, "{authority}");
        }
        let oidc = Authority::from_oidc_issuer("https://issuer.example.com/").unwrap();
        assert!(!applies(&oidc));
    }

    proptest::proptest! {
        /// Any response body parses or not without panicking, and what is learned only ever
        /// holds host names, with the preferred cache host among them (or the host itself).
        #[test]
        fn any_response_yields_a_sane_cloud(
            aliases in proptest::collection::vec("[a-zA-Z0-9./:_ -]{0,30}", 0..20),
            preferred in proptest::option::of("[a-zA-Z0-9./ -]{0,30}"),
            junk in ".{0,200}",
        ) {
            let mut with_host = aliases.clone();
            with_host.push("h.example".to_owned());
            let body = serde_json::json!({"metadata": [{"preferred_cache": preferred, "aliases": with_host}]});
            let cloud = cloud_for(serde_json::from_value(body).unwrap(), "h.example");
            proptest::prop_assert!(cloud.aliases.iter().all(|a| is_host(a)));
            proptest::prop_assert_eq!(cloud.aliases[0].as_str(), "h.example");
            proptest::prop_assert!(cloud.aliases.len() <= MAX_ALIASES);
            proptest::prop_assert!(
                cloud.aliases.contains(&cloud.preferred_cache) || cloud.preferred_cache == "h.example"
            );
            let _ = serde_json::from_str::<Response>(&junk).map(|r| cloud_for(r, "h.example"));
        }
    }

    #[test]
    fn responses_become_clouds_and_junk_is_dropped() {
        // Shape: MSAL.NET `InstanceDiscoveryResponse` / the public cloud's discovery answer.
        let json = r#"{"tenant_discovery_endpoint":"https://login.cloud.example/t/v2.0/.well-known/openid-configuration",
            "api-version":"1.1","metadata":[
            {"preferred_network":"other.example","preferred_cache":"other.example","aliases":["other.example"]},
            {"preferred_network":"login.cloud.example","preferred_cache":"STS.cloud.example",
             "aliases":["login.cloud.example","sts.cloud.example","bad host/","a..b"]}]}"#;
        let cloud = cloud_for(serde_json::from_str(json).unwrap(), "login.cloud.example");
        assert_eq!(cloud.aliases, ["login.cloud.example", "sts.cloud.example"]);
        assert_eq!(cloud.preferred_cache, "sts.cloud.example");
        // No entry for the host, or a preferred cache that is not an alias: the host itself.
        let cloud = cloud_for(
            serde_json::from_str(r#"{"metadata":[]}"#).unwrap(),
            "h.example",
        );
        assert_eq!(
            (cloud.aliases, cloud.preferred_cache.as_str()),
            (vec!["h.example".to_owned()], "h.example")
        );
        let json = r#"{"metadata":[{"preferred_cache":"evil.example","aliases":["h.example"]}]}"#;
        assert_eq!(
            cloud_for(serde_json::from_str(json).unwrap(), "h.example").preferred_cache,
            "h.example"
        );
    }
}
