//! Configuration from environment variables (or a `.env` file loaded by the binary).
//!
//! The names mirror the Node sample's placeholders so its instructions carry over:
//!
//! | variable | required | meaning |
//! |---|---|---|
//! | `TENANT_SUBDOMAIN` | yes, unless `AUTHORITY` is set | the external tenant's subdomain (`contoso` in `contoso.ciamlogin.com`) |
//! | `TENANT_ID` | yes | the tenant id (GUID) |
//! | `CLIENT_ID` | yes | the EditProfileService app registration's client id |
//! | `CLIENT_SECRET` | one of the two | its client secret |
//! | `CLIENT_CERTIFICATE_PATH` + `CLIENT_PRIVATE_KEY_PATH` | one of the two | its certificate (PEM) and private key (PEM, PKCS#8) |
//! | `AUTHORITY` | no | defaults to `https://{TENANT_SUBDOMAIN}.ciamlogin.com/` |
//! | `GRAPH_API_ENDPOINT` | no | defaults to `https://graph.microsoft.com/` |
//! | `API_SCOPE` | no | the scope callers need, default `EditProfileService.ReadWrite` |
//! | `MFA_POLICY` | no | how MFA is required: `conditional-access` (default), `amr`, or `auth-context:{id}` — see [`MfaRequirement`] |
//! | `BIND_ADDRESS` | no | default `127.0.0.1:3001` |
//! | `REDIS_URL` | no | shares the on-behalf-of token cache between instances (L1 memory + L2 Redis) |
//! | `DATA_KEYS` | yes, when `REDIS_URL` is set | `id:base64url-32-bytes[,id:key...]`: AES-256-GCM keys for values in Redis; the first seals, all open (rotation); see [`at_rest`](crate::at_rest) |
//!
//! `REDIS_URL` without `DATA_KEYS` is refused at startup: tokens are never written to Redis in
//! plaintext, and a per-process random key would make every instance's values unreadable to the
//! others (and to itself after a restart) without anyone noticing.

use std::net::SocketAddr;
use std::path::PathBuf;

use url::Url;

/// How the API makes sure the caller signed in with MFA.
///
/// Entra v2.0 access tokens carry no `amr` claim (Microsoft identity platform, "Access token claims
/// reference"), so an `amr` check refuses every real v2.0 token. With Entra the reliable options
/// are the tenant's Conditional Access policy bound to this API — no token for the API is issued
/// without MFA, which is how the quickstart is set up — or an authentication context (`acrs`) that
/// a Conditional Access policy requires, checked here with a claims challenge when missing.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MfaRequirement {
    /// The tenant enforces MFA before issuing tokens for this API (no claim check here).
    ConditionalAccess,
    /// The token's `amr` must contain `mfa`: only for v1.0 tokens or other identity providers.
    /// Entra's v2.0 access tokens (and the dev tenant's, which follow them) carry no `amr`, so
    /// this mode refuses every one of them.
    Amr,
    /// The token's `acrs` must contain this authentication-context id (e.g. `c1`).
    AuthContext(String),
}

/// A configuration error names the variable at fault.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// A required variable is not set (or is empty).
    #[error("{0} is not set")]
    Missing(&'static str),
    /// A variable is set to something unusable.
    #[error("{name} is not valid: {reason}")]
    Invalid {
        /// The variable.
        name: &'static str,
        /// What is wrong with it (never its value: it may be a secret).
        reason: &'static str,
    },
}

/// How the API authenticates to the token endpoint.
#[derive(Clone)]
#[non_exhaustive]
pub enum ClientCredential {
    /// A client secret.
    Secret(String),
    /// A certificate and its private key, both PEM files.
    Certificate {
        /// The certificate (PEM).
        certificate: PathBuf,
        /// The private key (PEM, PKCS#8).
        private_key: PathBuf,
    },
}

/// A credential file could not be read or used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialError {
    /// The file could not be read.
    #[error("could not read {path}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The certificate or key is unusable (format, mismatch, expired).
    #[error("the certificate cannot be used")]
    Certificate(#[source] msal_lite::Error),
}

impl ClientCredential {
    /// Loads the credential for msal-lite (reads the certificate files, if any).
    pub fn load(&self) -> Result<msal_lite::ClientCredential, CredentialError> {
        match self {
            Self::Secret(secret) => Ok(msal_lite::ClientCredential::secret(secret.clone())),
            Self::Certificate {
                certificate,
                private_key,
            } => {
                let read = |p: &std::path::Path| {
                    std::fs::read_to_string(p).map_err(|source| CredentialError::Read {
                        path: p.display().to_string(),
                        source,
                    })
                };
                msal_lite::Certificate::from_pem(&read(certificate)?, &read(private_key)?)
                    .map(msal_lite::ClientCredential::from)
                    .map_err(CredentialError::Certificate)
            }
        }
    }
}

impl std::fmt::Debug for ClientCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Secret(_) => f.write_str("Secret([redacted])"),
            Self::Certificate {
                certificate,
                private_key,
            } => f
                .debug_struct("Certificate")
                .field("certificate", certificate)
                .field("private_key", private_key)
                .finish(),
        }
    }
}

/// The EditProfileService API's configuration.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    /// The authority, e.g. `https://contoso.ciamlogin.com/`.
    pub authority: Url,
    /// The tenant id; on-behalf-of requests go to `{authority}{tenant_id}`.
    pub tenant_id: String,
    /// This API's client id (the `aud` of the tokens it accepts).
    pub client_id: String,
    /// How this API proves its identity for on-behalf-of.
    pub credential: ClientCredential,
    /// Microsoft Graph's base URL.
    pub graph_endpoint: Url,
    /// The scope a caller's token must carry.
    pub scope: String,
    /// How the API requires MFA.
    pub mfa: MfaRequirement,
    /// Where to listen.
    pub bind: SocketAddr,
    /// Redis for the shared on-behalf-of token cache.
    pub redis_url: Option<String>,
    /// Keys that encrypt values in Redis (required with `redis_url`).
    pub data_keys: Option<crate::at_rest::DataKeys>,
}

impl Config {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// Reads the configuration from any variable source (tests pass a map).
    ///
    /// ```
    /// use std::collections::HashMap;
    ///
    /// let vars = HashMap::from([
    ///     ("TENANT_SUBDOMAIN", "contoso"),
    ///     ("TENANT_ID", "b3c2a1f0-5d4e-4f6a-9b8c-7d6e5f4a3b2c"),
    ///     ("CLIENT_ID", "4d2e6f8a-1b3c-4d5e-8f9a-0b1c2d3e4f5a"),
    ///     ("CLIENT_SECRET", "s3cret"),
    /// ]);
    /// let config = api::Config::from_vars(|k| vars.get(k).map(|v| v.to_string())).unwrap();
    /// assert_eq!(config.authority.as_str(), "https://contoso.ciamlogin.com/");
    /// assert_eq!(config.bind.port(), 3001);
    /// ```
    pub fn from_vars(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let var = |name: &'static str| get(name).filter(|v| !v.trim().is_empty());
        let required = |name: &'static str| var(name).ok_or(ConfigError::Missing(name));

        let authority = authority_from_vars(&get)?;
        let credential = credential_from_vars(&get)?;
        let mfa = match var("MFA_POLICY").as_deref().map(str::trim) {
            None | Some("conditional-access") => MfaRequirement::ConditionalAccess,
            Some("amr") => MfaRequirement::Amr,
            Some(other) => match other.strip_prefix("auth-context:") {
                Some(id) if !id.trim().is_empty() => {
                    MfaRequirement::AuthContext(id.trim().to_owned())
                }
                _ => {
                    return Err(ConfigError::Invalid {
                        name: "MFA_POLICY",
                        reason: "use conditional-access, amr, or auth-context:{id}",
                    });
                }
            },
        };
        Ok(Self {
            authority,
            tenant_id: required("TENANT_ID")?,
            client_id: required("CLIENT_ID")?,
            credential,
            graph_endpoint: parse_url(
                "GRAPH_API_ENDPOINT",
                &var("GRAPH_API_ENDPOINT").unwrap_or_else(|| "https://graph.microsoft.com/".into()),
            )?,
            scope: var("API_SCOPE").unwrap_or_else(|| "EditProfileService.ReadWrite".into()),
            mfa,
            bind: var("BIND_ADDRESS")
                .unwrap_or_else(|| "127.0.0.1:3001".into())
                .parse()
                .map_err(|_| ConfigError::Invalid {
                    name: "BIND_ADDRESS",
                    reason: "expected host:port, e.g. 127.0.0.1:3001",
                })?,
            redis_url: var("REDIS_URL"),
            data_keys: data_keys_from_vars(&get)?,
        })
    }
}

/// `DATA_KEYS`, required when `REDIS_URL` is set (shared by both examples).
pub fn data_keys_from_vars(
    get: impl Fn(&str) -> Option<String>,
) -> Result<Option<crate::at_rest::DataKeys>, ConfigError> {
    let var = |name: &'static str| get(name).filter(|v| !v.trim().is_empty());
    let keys =
        match var("DATA_KEYS") {
            None => None,
            Some(text) => Some(crate::at_rest::DataKeys::parse(&text).map_err(|e| {
                ConfigError::Invalid {
                    name: "DATA_KEYS",
                    reason: match e {
                        crate::at_rest::KeysError::Key => {
                            "each key must be 32 bytes, base64url encoded"
                        }
                        crate::at_rest::KeysError::DuplicateId => "key ids must be unique",
                        _ => "expected id:base64url-key[,id:key...] with ids of A-Z a-z 0-9 . _ -",
                    },
                }
            })?),
        };
    if keys.is_none() && var("REDIS_URL").is_some() {
        // Refuse rather than store tokens in plaintext or under a per-process key.
        return Err(ConfigError::Missing("DATA_KEYS"));
    }
    Ok(keys)
}

/// `AUTHORITY`, else `https://{TENANT_SUBDOMAIN}.ciamlogin.com/` (shared by both examples).
pub fn authority_from_vars(get: impl Fn(&str) -> Option<String>) -> Result<Url, ConfigError> {
    let var = |name: &'static str| get(name).filter(|v| !v.trim().is_empty());
    match var("AUTHORITY") {
        Some(a) => parse_url("AUTHORITY", &a),
        None => {
            let sub = var("TENANT_SUBDOMAIN").ok_or(ConfigError::Missing("TENANT_SUBDOMAIN"))?;
            if !sub.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                return Err(ConfigError::Invalid {
                    name: "TENANT_SUBDOMAIN",
                    reason: "use only the subdomain, e.g. `contoso` for contoso.ciamlogin.com",
                });
            }
            parse_url("TENANT_SUBDOMAIN", &format!("https://{sub}.ciamlogin.com/"))
        }
    }
}

/// `CLIENT_SECRET`, or `CLIENT_CERTIFICATE_PATH` + `CLIENT_PRIVATE_KEY_PATH` (exactly one).
pub fn credential_from_vars(
    get: impl Fn(&str) -> Option<String>,
) -> Result<ClientCredential, ConfigError> {
    let var = |name: &'static str| get(name).filter(|v| !v.trim().is_empty());
    Ok(
        match (
            var("CLIENT_SECRET"),
            var("CLIENT_CERTIFICATE_PATH"),
            var("CLIENT_PRIVATE_KEY_PATH"),
        ) {
            (Some(secret), None, None) => ClientCredential::Secret(secret),
            (None, Some(certificate), Some(private_key)) => ClientCredential::Certificate {
                certificate: certificate.into(),
                private_key: private_key.into(),
            },
            (None, Some(_), None) => return Err(ConfigError::Missing("CLIENT_PRIVATE_KEY_PATH")),
            (None, None, Some(_)) => return Err(ConfigError::Missing("CLIENT_CERTIFICATE_PATH")),
            (None, None, None) => return Err(ConfigError::Missing("CLIENT_SECRET")),
            (Some(_), _, _) => {
                return Err(ConfigError::Invalid {
                    name: "CLIENT_SECRET",
                    reason: "set either CLIENT_SECRET or a certificate, not both",
                });
            }
        },
    )
}

/// Parses a base URL and makes sure it ends with `/` so `join` appends to it.
pub fn parse_url(name: &'static str, value: &str) -> Result<Url, ConfigError> {
    let with_slash = if value.ends_with('/') {
        value.to_owned()
    } else {
        format!("{value}/")
    };
    let url = Url::parse(&with_slash).map_err(|_| ConfigError::Invalid {
        name,
        reason: "not an absolute URL",
    })?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err(ConfigError::Invalid {
            name,
            reason: "must be an http(s) URL",
        });
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::from_vars(|k| map.get(k).cloned())
    }

    const BASE: &[(&str, &str)] = &[
        ("TENANT_SUBDOMAIN", "contoso"),
        ("TENANT_ID", "tid"),
        ("CLIENT_ID", "cid"),
        ("CLIENT_SECRET", "top-secret-value"),
    ];

    #[test]
    fn each_missing_variable_is_named() {
        for skip in [
            "TENANT_SUBDOMAIN",
            "TENANT_ID",
            "CLIENT_ID",
            "CLIENT_SECRET",
        ] {
            let pairs: Vec<_> = BASE.iter().copied().filter(|(k, _)| *k != skip).collect();
            assert_eq!(config(&pairs).unwrap_err(), ConfigError::Missing(skip));
        }
    }

    #[test]
    fn malformed_values_are_named_without_their_value() {
        let mut pairs = BASE.to_vec();
        pairs.push(("GRAPH_API_ENDPOINT", "not a url"));
        let err = config(&pairs).unwrap_err();
        assert!(matches!(
            err,
            ConfigError::Invalid {
                name: "GRAPH_API_ENDPOINT",
                ..
            }
        ));

        let mut pairs = BASE.to_vec();
        pairs.push(("CLIENT_CERTIFICATE_PATH", "/c.pem"));
        let err = config(&pairs).unwrap_err().to_string();
        assert!(err.contains("CLIENT_SECRET") && !err.contains("top-secret-value"));
    }

    #[test]
    fn mfa_policy_values() {
        for (value, expected) in [
            (
                "conditional-access",
                Some(MfaRequirement::ConditionalAccess),
            ),
            ("amr", Some(MfaRequirement::Amr)),
            (
                "auth-context:c1",
                Some(MfaRequirement::AuthContext("c1".into())),
            ),
            ("auth-context:", None),
            ("true", None),
        ] {
            let mut pairs = BASE.to_vec();
            pairs.push(("MFA_POLICY", value));
            match (config(&pairs), expected) {
                (Ok(c), Some(e)) => assert_eq!(c.mfa, e, "{value}"),
                (Err(ConfigError::Invalid { name, .. }), None) => assert_eq!(name, "MFA_POLICY"),
                (other, _) => panic!("{value}: {other:?}"),
            }
        }
    }

    #[test]
    fn redis_needs_data_keys() {
        let mut pairs = BASE.to_vec();
        pairs.push(("REDIS_URL", "redis://127.0.0.1:6379/"));
        assert_eq!(
            config(&pairs).unwrap_err(),
            ConfigError::Missing("DATA_KEYS")
        );
        pairs.push(("DATA_KEYS", "k1:short"));
        let err = config(&pairs).unwrap_err();
        assert!(matches!(
            err,
            ConfigError::Invalid {
                name: "DATA_KEYS",
                ..
            }
        ));
        assert!(!err.to_string().contains("short"));
        pairs.pop();
        pairs.push((
            "DATA_KEYS",
            "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
        ));
        let c = config(&pairs).unwrap();
        assert_eq!(c.data_keys.as_ref().unwrap().current_id(), "k1");
        assert!(!format!("{c:?}").contains("AAEC"));
    }

    #[test]
    fn authority_override_and_defaults() {
        let mut pairs = BASE.to_vec();
        pairs.push(("AUTHORITY", "http://127.0.0.1:9999/contoso.onmicrosoft.com"));
        let c = config(&pairs).unwrap();
        assert_eq!(
            c.authority.as_str(),
            "http://127.0.0.1:9999/contoso.onmicrosoft.com/"
        );
        assert_eq!(c.graph_endpoint.as_str(), "https://graph.microsoft.com/");
        assert_eq!(c.scope, "EditProfileService.ReadWrite");
        assert_eq!(c.mfa, MfaRequirement::ConditionalAccess);
        assert!(!format!("{c:?}").contains("top-secret-value"));
    }
}
