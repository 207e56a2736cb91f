//! Azure regional endpoints for the client credentials grant (ESTS-R): a service running in an
//! Azure region sends its app-token requests to `{region}.login.microsoft.com`, which keeps
//! working when the global endpoint has trouble and answers faster.
//!
//! As MSAL does it (MSAL.NET `Instance/Region/RegionManager.cs` and
//! `Instance/Discovery/RegionAndMtlsDiscoveryProvider.cs`; msal-common
//! `lib/msal-common/src/authority/Authority.ts`, `buildRegionalAuthorityString`):
//!
//! - only for client credentials (user flows and on-behalf-of always use the global host);
//! - a public-cloud host (`login.microsoftonline.com`, `login.microsoft.com`,
//!   `login.windows.net`, `sts.windows.net`) becomes `{region}.login.microsoft.com`, another
//!   Entra host `{region}.{host}`; a host already starting with `{region}.` is kept;
//! - auto-detection reads `REGION_NAME` (spaces removed, lower-cased), the variable Azure sets
//!   for App Service and Functions; when it is missing or not a region name the global endpoint
//!   is used, traced;
//! - a region name is ASCII letters and digits only, so it can never change which host the
//!   credential is sent to;
//! - tokens are cached under the global environment (MSAL's `PreferredCache` stays the
//!   authority's host), so a regional and a global client share cache entries.
//!
//! Differences, deliberate: msal-lite does not query the Azure instance metadata service
//! (`169.254.169.254`, which MSAL tries after `REGION_NAME`): a link-local call with a timeout on
//! the first token request of every process that is not on an Azure VM costs more than it
//! gives; configure the region by name, or set `REGION_NAME`. A configured name that is not a
//! region is a configuration error from `build()` (MSAL.NET logs it and uses the global host).

use std::sync::Arc;

use url::Url;

use crate::Error;
use crate::http::RegionTelemetry;

/// Which Azure region client-credentials requests go to; see
/// [`ConfidentialClientBuilder::azure_region`](crate::ConfidentialClientBuilder::azure_region).
///
/// ```
/// use msal_lite::AzureRegion;
/// let named = AzureRegion::from("westus2");
/// assert_eq!(named, AzureRegion::Named("westus2".into()));
/// let detected = AzureRegion::AutoDetect; // from the REGION_NAME environment variable
/// # let _ = detected;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AzureRegion {
    /// This region (e.g. `westus2`, `eastus`): ASCII letters and digits.
    Named(String),
    /// The region in the `REGION_NAME` environment variable, else the global endpoint (MSAL's
    /// `TryAutoDetect`).
    AutoDetect,
}

impl From<&str> for AzureRegion {
    fn from(region: &str) -> Self {
        Self::Named(region.to_owned())
    }
}

impl From<String> for AzureRegion {
    fn from(region: String) -> Self {
        Self::Named(region)
    }
}

/// The outcome of region resolution, kept by the client.
#[derive(Debug, Clone)]
pub(crate) struct ResolvedRegion {
    /// `None`: auto-detection failed, the global endpoint is used.
    pub(crate) region: Option<Arc<str>>,
    /// What the `x-client-current-telemetry` header says about it.
    pub(crate) telemetry: RegionTelemetry,
}

/// The environment variable Azure App Service and Functions set (MSAL's first source).
pub(crate) const REGION_ENV: &str = "REGION_NAME";

/// Hosts of the public cloud, whose regional host is `{region}.login.microsoft.com`
/// (msal-common `KNOWN_PUBLIC_CLOUDS`, `REGIONAL_AUTH_PUBLIC_CLOUD_SUFFIX`).
const PUBLIC_CLOUD_HOSTS: [&str; 4] = [
    "login.microsoftonline.com",
    "login.windows.net",
    "login.microsoft.com",
    "sts.windows.net",
];

/// MSAL.NET `RegionManager.IsValidRegionName`: ASCII letters and digits only.
fn is_region_name(region: &str) -> bool {
    !region.is_empty() && region.len() <= 64 && region.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Resolves the configured region; `env` reads an environment variable.
pub(crate) fn resolve(
    config: Option<AzureRegion>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Option<ResolvedRegion>, Error> {
    // msal-common `RegionDiscoverySources` and `RegionDiscoveryOutcomes`.
    const SOURCE_FAILED: u8 = 1;
    const SOURCE_ENV: u8 = 3;
    const CONFIGURED: u8 = 2;
    const DETECTED: u8 = 4;
    const DETECTION_FAILED: u8 = 5;
    match config {
        None => Ok(None),
        Some(AzureRegion::Named(name)) => {
            let name = name.trim().to_ascii_lowercase();
            if !is_region_name(&name) {
                return Err(Error::config(
                    "the azure region must be a region name such as westus2 (ASCII letters and digits)",
                ));
            }
            let region: Arc<str> = name.into();
            Ok(Some(ResolvedRegion {
                region: Some(region.clone()),
                telemetry: RegionTelemetry {
                    used: region,
                    source: None,
                    outcome: CONFIGURED,
                },
            }))
        }
        Some(AzureRegion::AutoDetect) => {
            let detected = env(REGION_ENV)
                .map(|v| v.replace(' ', "").to_ascii_lowercase())
                .filter(|v| is_region_name(v));
            Ok(Some(match detected {
                Some(name) => {
                    tracing::info!(region = %name, "azure region detected from REGION_NAME");
                    let region: Arc<str> = name.into();
                    ResolvedRegion {
                        region: Some(region.clone()),
                        telemetry: RegionTelemetry {
                            used: region,
                            source: Some(SOURCE_ENV),
                            outcome: DETECTED,
                        },
                    }
                }
                None => {
                    tracing::warn!(
                        "azure region auto-detection found no region in REGION_NAME; using the global endpoint"
                    );
                    ResolvedRegion {
                        region: None,
                        telemetry: RegionTelemetry {
                            used: "".into(),
                            source: Some(SOURCE_FAILED),
                            outcome: DETECTION_FAILED,
                        },
                    }
                }
            }))
        }
    }
}

/// `endpoint` on the regional host of `region`; `None` when it is not a URL with a host.
pub(crate) fn regional_endpoint(endpoint: &str, region: &str) -> Option<String> {
    let mut url = Url::parse(endpoint).ok()?;
    let host = url.host_str()?.to_ascii_lowercase();
    if host.starts_with(&format!("{region}.")) {
        return Some(url.into());
    }
    let regional = if PUBLIC_CLOUD_HOSTS.contains(&host.as_str()) {
        format!("{region}.login.microsoft.com")
    } else {
        format!("{region}.{host}")
    };
    url.set_host(Some(&regional)).ok()?;
    Some(url.into())
}

/// The token endpoint and telemetry of one client-credentials request: regional when the client
/// has a region and `authority` is Entra ID (workforce), else the discovered endpoint.
pub(crate) fn client_credentials_endpoint(
    inner: &crate::client::ClientInner,
    authority: &crate::Authority,
    metadata: &crate::metadata::OpenIdMetadata,
    has_claims: bool,
) -> (String, crate::http::RequestTelemetry) {
    use crate::http::{CacheOutcome, RequestTelemetry, api_id};
    let outcome = if has_claims {
        CacheOutcome::ForceRefreshOrClaims
    } else {
        CacheOutcome::NoCachedToken
    };
    let mut telemetry = RequestTelemetry::new(api_id::CLIENT_CREDENTIALS, outcome);
    let global = metadata.token_endpoint.clone();
    let Some(resolved) = &inner.azure_region else {
        return (global, telemetry);
    };
    if authority.kind() != crate::AuthorityKind::Aad {
        tracing::debug!(
            authority = authority.as_str(),
            "azure_region is set but the authority is not Entra ID; using its own endpoint"
        );
        return (global, telemetry);
    }
    telemetry.region = Some(resolved.telemetry.clone());
    match resolved
        .region
        .as_deref()
        .and_then(|region| regional_endpoint(&global, region))
    {
        Some(regional) => (regional, telemetry),
        None => (global, telemetry),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regional_hosts_as_msal_builds_them() {
        let t = "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token";
        assert_eq!(
            regional_endpoint(t, "westus2").unwrap(),
            "https://westus2.login.microsoft.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
        );
        assert_eq!(
            regional_endpoint(
                "https://login.microsoftonline.us/t/oauth2/v2.0/token",
                "usgovvirginia"
            )
            .unwrap(),
            "https://usgovvirginia.login.microsoftonline.us/t/oauth2/v2.0/token"
        );
        let already = "https://westus2.login.microsoft.com/t/oauth2/v2.0/token";
        assert_eq!(regional_endpoint(already, "westus2").unwrap(), already);
        assert!(regional_endpoint("not a url", "westus2").is_none());
    }

    #[test]
    fn configured_and_detected_regions() {
        let no_env = |_: &str| None;
        assert!(resolve(None, no_env).unwrap().is_none());
        let named = resolve(Some("WestUS2".into()), no_env).unwrap().unwrap();
        assert_eq!(named.region.as_deref(), Some("westus2"));
        assert_eq!((named.telemetry.source, named.telemetry.outcome), (None, 2));
        for bad in ["", "west us", "evil.com/x", "westus2.", "wéstus"] {
            assert!(resolve(Some(bad.into()), no_env).is_err(), "{bad:?}");
        }
        let env = |name: &str| (name == REGION_ENV).then(|| "East US".to_owned());
        let detected = resolve(Some(AzureRegion::AutoDetect), env)
            .unwrap()
            .unwrap();
        assert_eq!(detected.region.as_deref(), Some("eastus"));
        assert_eq!(
            (detected.telemetry.source, detected.telemetry.outcome),
            (Some(3), 4)
        );
        // Missing or hostile: the global endpoint.
        for value in [None, Some("evil.example/"), Some("")] {
            let env = |_: &str| value.map(str::to_owned);
            let failed = resolve(Some(AzureRegion::AutoDetect), env)
                .unwrap()
                .unwrap();
            assert_eq!(failed.region, None);
            assert_eq!(
                (failed.telemetry.source, failed.telemetry.outcome),
                (Some(1), 5)
            );
        }
    }
}
