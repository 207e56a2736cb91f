//! Configuration from environment variables (or a `.env` file loaded by the binary).
//!
//! The names mirror the Node sample's placeholders:
//!
//! | variable | required | meaning |
//! |---|---|---|
//! | `TENANT_SUBDOMAIN` | yes, unless `AUTHORITY` is set | the external tenant's subdomain (`contoso` in `contoso.ciamlogin.com`) |
//! | `CLIENT_ID` | yes | the web app registration's client id |
//! | `CLIENT_SECRET` | one of the two | its client secret |
//! | `CLIENT_CERTIFICATE_PATH` + `CLIENT_PRIVATE_KEY_PATH` | one of the two | its certificate and private key (PEM) |
//! | `AUTHORITY` | no | defaults to `https://{TENANT_SUBDOMAIN}.ciamlogin.com/` |
//! | `REDIRECT_URI` | no | default `http://localhost:3000/auth/redirect` (register it on the app) |
//! | `POST_LOGOUT_REDIRECT_URI` | no | default `http://localhost:3000/` |
//! | `GRAPH_API_ENDPOINT` | no | default `https://graph.microsoft.com/` |
//! | `EDIT_PROFILE_FOR_CLIENT_WEB_APP` | yes | the API's scope, `api://{api client id}/EditProfileService.ReadWrite` |
//! | `EDIT_PROFILE_API_ENDPOINT` | no | the API's base URL, default `http://localhost:3001/` |
//! | `BIND_ADDRESS` | no | default `127.0.0.1:3000` |
//! | `REDIS_URL` | no | keep sessions and the token cache in Redis (several instances) |
//! | `DATA_KEYS` | yes, when `REDIS_URL` is set | `id:base64url-32-bytes[,id:key...]`: AES-256-GCM keys for sessions and token-cache values in Redis; the first seals, all open (rotation); see [`api::at_rest`] |
//! | `COOKIE_KEY` | no | 32 bytes, base64url: encrypts the sign-in flow cookie; set it (the same on all) when running several instances |
//!
//! `REDIS_URL` without `DATA_KEYS` is refused at startup (the error names `DATA_KEYS`): nothing is
//! written to Redis in plaintext, and a per-process key would silently make sessions and caches
//! unreadable to the other instances. See `docs/deploy.md`.

use std::net::SocketAddr;

use api::at_rest::DataKeys;
use api::config::{
    ClientCredential, ConfigError, authority_from_vars, credential_from_vars, data_keys_from_vars,
    parse_url,
};
use base64::Engine as _;
use url::Url;

/// The web app's configuration.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    /// The authority, e.g. `https://contoso.ciamlogin.com/`.
    pub authority: Url,
    /// The web app's client id.
    pub client_id: String,
    /// How the web app proves its identity.
    pub credential: ClientCredential,
    /// Where the tenant posts the authorization code.
    pub redirect_uri: Url,
    /// Where the tenant sends the browser after sign-out.
    pub post_logout_redirect_uri: Url,
    /// Microsoft Graph's base URL.
    pub graph_endpoint: Url,
    /// The EditProfileService scope (`api://.../EditProfileService.ReadWrite`).
    pub api_scope: String,
    /// The EditProfileService base URL.
    pub api_endpoint: Url,
    /// Where to listen.
    pub bind: SocketAddr,
    /// Redis for sessions and the token cache.
    pub redis_url: Option<String>,
    /// Key for the encrypted sign-in flow cookie (random per process when unset).
    pub cookie_key: Option<CookieKey>,
    /// Keys that encrypt sessions and token-cache values in Redis (required with `redis_url`).
    pub data_keys: Option<DataKeys>,
}

/// A 256-bit key, redacted in `Debug`.
#[derive(Clone)]
pub struct CookieKey(pub(crate) [u8; 32]);

impl std::fmt::Debug for CookieKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CookieKey([redacted])")
    }
}

impl Config {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// Reads the configuration from any variable source (tests pass a map).
    ///
    /// ```
    /// let vars = std::collections::HashMap::from([
    ///     ("TENANT_SUBDOMAIN", "contoso"),
    ///     ("CLIENT_ID", "8a1f4c2e-6b3d-4e5f-9a7b-1c2d3e4f5a6b"),
    ///     ("CLIENT_SECRET", "s3cret"),
    ///     ("EDIT_PROFILE_FOR_CLIENT_WEB_APP", "api://4d2e6f8a-1b3c-4d5e-8f9a-0b1c2d3e4f5a/EditProfileService.ReadWrite"),
    /// ]);
    /// let config = web_app::Config::from_vars(|k| vars.get(k).map(|v| v.to_string())).unwrap();
    /// assert_eq!(config.redirect_uri.as_str(), "http://localhost:3000/auth/redirect");
    /// assert_eq!(config.api_endpoint.as_str(), "http://localhost:3001/");
    /// ```
    pub fn from_vars(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let var = |name: &'static str| get(name).filter(|v| !v.trim().is_empty());
        let required = |name: &'static str| var(name).ok_or(ConfigError::Missing(name));
        let exact_url = |name: &'static str, default: &str| -> Result<Url, ConfigError> {
            let value = var(name).unwrap_or_else(|| default.to_owned());
            let url = Url::parse(&value).map_err(|_| ConfigError::Invalid {
                name,
                reason: "not an absolute URL",
            })?;
            if !matches!(url.scheme(), "http" | "https") {
                return Err(ConfigError::Invalid {
                    name,
                    reason: "must be an http(s) URL",
                });
            }
            Ok(url)
        };

        let authority = authority_from_vars(&get)?;
        let credential = credential_from_vars(&get)?;
        let api_scope = required("EDIT_PROFILE_FOR_CLIENT_WEB_APP")?;
        if !api_scope.contains('/') {
            return Err(ConfigError::Invalid {
                name: "EDIT_PROFILE_FOR_CLIENT_WEB_APP",
                reason: "use the full scope, e.g. api://{api client id}/EditProfileService.ReadWrite",
            });
        }
        let cookie_key = match var("COOKIE_KEY") {
            None => None,
            Some(text) => {
                let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(text.trim().trim_end_matches('='))
                    .map_err(|_| ConfigError::Invalid {
                        name: "COOKIE_KEY",
                        reason: "must be base64url",
                    })?;
                let key: [u8; 32] = bytes.try_into().map_err(|_| ConfigError::Invalid {
                    name: "COOKIE_KEY",
                    reason: "must be 32 bytes",
                })?;
                Some(CookieKey(key))
            }
        };
        Ok(Self {
            authority,
            client_id: required("CLIENT_ID")?,
            credential,
            redirect_uri: exact_url("REDIRECT_URI", "http://localhost:3000/auth/redirect")?,
            post_logout_redirect_uri: exact_url(
                "POST_LOGOUT_REDIRECT_URI",
                "http://localhost:3000/",
            )?,
            graph_endpoint: parse_url(
                "GRAPH_API_ENDPOINT",
                &var("GRAPH_API_ENDPOINT").unwrap_or_else(|| "https://graph.microsoft.com/".into()),
            )?,
            api_scope,
            api_endpoint: parse_url(
                "EDIT_PROFILE_API_ENDPOINT",
                &var("EDIT_PROFILE_API_ENDPOINT")
                    .unwrap_or_else(|| "http://localhost:3001/".into()),
            )?,
            bind: var("BIND_ADDRESS")
                .unwrap_or_else(|| "127.0.0.1:3000".into())
                .parse()
                .map_err(|_| ConfigError::Invalid {
                    name: "BIND_ADDRESS",
                    reason: "expected host:port, e.g. 127.0.0.1:3000",
                })?,
            redis_url: var("REDIS_URL"),
            cookie_key,
            data_keys: data_keys_from_vars(&get)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn config(extra: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let mut map: HashMap<&str, &str> = HashMap::from([
            ("TENANT_SUBDOMAIN", "contoso"),
            ("CLIENT_ID", "cid"),
            ("CLIENT_SECRET", "very-secret"),
            (
                "EDIT_PROFILE_FOR_CLIENT_WEB_APP",
                "api://x/EditProfileService.ReadWrite",
            ),
        ]);
        map.extend(extra.iter().copied());
        Config::from_vars(|k| {
            map.get(k)
                .map(|v| (*v).to_owned())
                .filter(|v| v != "<unset>")
        })
    }

    #[test]
    fn errors_name_the_variable() {
        assert_eq!(
            config(&[("EDIT_PROFILE_FOR_CLIENT_WEB_APP", "<unset>")]).unwrap_err(),
            ConfigError::Missing("EDIT_PROFILE_FOR_CLIENT_WEB_APP")
        );
        for (name, value) in [
            ("REDIRECT_URI", "/relative"),
            ("COOKIE_KEY", "c2hvcnQ"),
            ("BIND_ADDRESS", "localhost"),
            (
                "EDIT_PROFILE_FOR_CLIENT_WEB_APP",
                "EditProfileService.ReadWrite",
            ),
        ] {
            match config(&[(name, value)]) {
                Err(ConfigError::Invalid { name: got, .. }) => assert_eq!(got, name),
                other => panic!("{name}={value}: {other:?}"),
            }
        }
    }

    #[test]
    fn redis_needs_data_keys() {
        assert_eq!(
            config(&[("REDIS_URL", "redis://127.0.0.1/")]).unwrap_err(),
            ConfigError::Missing("DATA_KEYS")
        );
        let c = config(&[
            ("REDIS_URL", "redis://127.0.0.1/"),
            (
                "DATA_KEYS",
                "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
            ),
        ])
        .unwrap();
        assert_eq!(c.data_keys.unwrap().current_id(), "k1");
    }

    #[test]
    fn cookie_key_is_redacted() {
        let key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
        let c = config(&[("COOKIE_KEY", key)]).unwrap();
        assert_eq!(c.cookie_key.as_ref().unwrap().0[31], 31);
        let debug = format!("{c:?}");
        assert!(debug.contains("CookieKey([redacted])") && !debug.contains("very-secret"));
    }
}
