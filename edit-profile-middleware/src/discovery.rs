//! OpenID Connect Discovery 1.0: the provider metadata the validator is configured from.

use serde::Deserialize;

use crate::fetch::{FetchError, HttpFetch};

/// The fields of an OpenID Provider configuration the middleware uses (OpenID Connect Discovery 1.0 §3).
///
/// ```
/// use edit_profile_middleware::ProviderMetadata;
/// let metadata: ProviderMetadata = serde_json::from_str(r#"{
///     "issuer": "https://login.microsoftonline.com/b3c2a1f0-5d4e-4f6a-9b8c-7d6e5f4a3b2c/v2.0",
///     "jwks_uri": "https://login.microsoftonline.com/b3c2a1f0-5d4e-4f6a-9b8c-7d6e5f4a3b2c/discovery/v2.0/keys"
/// }"#)?;
/// assert!(metadata.authorization_endpoint.is_none());
/// # Ok::<_, serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Deserialize)]
#[non_exhaustive]
pub struct ProviderMetadata {
    /// REQUIRED. The issuer identifier; tokens' `iss` must equal it (or its `{tenantid}` template).
    pub issuer: String,
    /// REQUIRED. Where the signing keys are published.
    pub jwks_uri: String,
    /// The authorization endpoint, used as `authorization_uri` in claims challenges.
    #[serde(default)]
    pub authorization_endpoint: Option<String>,
}

/// The metadata URL for an authority, as MSAL builds it: `{authority}/v2.0/.well-known/openid-configuration`.
pub(crate) fn metadata_url(authority: &str) -> String {
    if authority.contains("/.well-known/") {
        return authority.to_owned();
    }
    let base = authority.trim_end_matches('/');
    if base.ends_with("/v2.0") {
        format!("{base}/.well-known/openid-configuration")
    } else {
        format!("{base}/v2.0/.well-known/openid-configuration")
    }
}

pub(crate) async fn discover(
    fetch: &dyn HttpFetch,
    authority: &str,
) -> Result<ProviderMetadata, FetchError> {
    let body = fetch.get(&metadata_url(authority)).await?;
    serde_json::from_slice(&body).map_err(|_| FetchError::Invalid("not an openid configuration"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_urls() {
        assert_eq!(
            metadata_url("https://login.microsoftonline.com/contoso.onmicrosoft.com/"),
            "https://login.microsoftonline.com/contoso.onmicrosoft.com/v2.0/.well-known/openid-configuration"
        );
        assert_eq!(
            metadata_url("https://t.ciamlogin.com/t/v2.0"),
            "https://t.ciamlogin.com/t/v2.0/.well-known/openid-configuration"
        );
        assert_eq!(
            metadata_url("https://x/.well-known/openid-configuration"),
            "https://x/.well-known/openid-configuration"
        );
    }
}
