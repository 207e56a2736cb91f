//! [`ValidatorBuilder`]: configuring a [`Validator`].

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::algorithm::Algorithm;
use crate::cache::ValidationCache;
use crate::clock::TimeFn;
use crate::discovery;
use crate::error::ConfigError;
use crate::fetch::HttpFetch;
use crate::jwks::JwksCache;
use crate::validate::{Inner, Validator};

/// `https`, or `http` to a loopback host (the dev tenant, local tests).
fn is_secure_url(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    if lower.starts_with("https://") {
        return true;
    }
    let Some(rest) = lower.strip_prefix("http://") else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.contains('@') {
        return false;
    }
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        authority.split(':').next().unwrap_or("")
    };
    host == "localhost"
        || host == "::1"
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

enum JwksConfig {
    None,
    Uri(String),
    Static(Vec<u8>),
}

/// Builds a [`Validator`]. Every setter is infallible; [`build`](Self::build) checks the whole
/// configuration and returns a [`ConfigError`] instead of panicking.
///
/// ```
/// use edit_profile_middleware::Validator;
///
/// let validator = Validator::builder()
///     .issuer("https://login.microsoftonline.com/b3c2a1f0-5d4e-4f6a-9b8c-7d6e5f4a3b2c/v2.0")
///     .jwks_uri("https://login.microsoftonline.com/b3c2a1f0-5d4e-4f6a-9b8c-7d6e5f4a3b2c/discovery/v2.0/keys")
///     .audience("4d2e6f8a-1b3c-4d5e-8f9a-0b1c2d3e4f5a")
///     .audience("api://4d2e6f8a-1b3c-4d5e-8f9a-0b1c2d3e4f5a")
/// #   .http_fetch(|_: String| async { Err(edit_profile_middleware::FetchError::Status(503)) })
///     .build()?;
/// # Ok::<_, edit_profile_middleware::ConfigError>(())
/// ```
#[must_use]
pub struct ValidatorBuilder {
    issuers: Vec<String>,
    templates: Vec<String>,
    tenants: Vec<String>,
    audiences: Vec<String>,
    algorithms: Vec<Algorithm>,
    clock_skew: Duration,
    max_token_bytes: usize,
    jwks: JwksConfig,
    fetch: Option<Arc<dyn HttpFetch>>,
    refresh_interval: Duration,
    refresh_cooldown: Duration,
    cache_capacity: usize,
    cache_max_ttl: Duration,
    time_fn: Option<TimeFn>,
    authorization_endpoint: Option<String>,
    insecure_http: bool,
}

impl fmt::Debug for ValidatorBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ValidatorBuilder")
            .field("issuers", &self.issuers)
            .field("templates", &self.templates)
            .field("tenants", &self.tenants)
            .field("audiences", &self.audiences)
            .field("algorithms", &self.algorithms)
            .finish_non_exhaustive()
    }
}

impl Default for ValidatorBuilder {
    fn default() -> Self {
        Self {
            issuers: Vec::new(),
            templates: Vec::new(),
            tenants: Vec::new(),
            audiences: Vec::new(),
            algorithms: vec![Algorithm::Rs256],
            clock_skew: Duration::from_secs(300),
            max_token_bytes: 16 * 1024,
            jwks: JwksConfig::None,
            fetch: None,
            refresh_interval: Duration::from_secs(24 * 60 * 60),
            refresh_cooldown: Duration::from_secs(30),
            cache_capacity: 10_000,
            cache_max_ttl: Duration::from_secs(300),
            time_fn: None,
            authorization_endpoint: None,
            insecure_http: false,
        }
    }
}

impl ValidatorBuilder {
    /// Accept tokens whose `iss` equals `issuer` byte for byte. May be called more than once (for
    /// example for the v1.0 `https://sts.windows.net/{tid}/` and v2.0 forms of one tenant).
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuers.push(issuer.into());
        self
    }

    /// Multi-tenant: accept `iss` equal to `template` with `{tenantid}` replaced by the token's
    /// `tid`, when that tenant is on the allow-list ([`allow_tenant`](Self::allow_tenant)).
    ///
    /// ```
    /// let validator = edit_profile_middleware::Validator::builder()
    ///     .tenant_issuer_template("https://login.microsoftonline.com/{tenantid}/v2.0")
    ///     .tenant_issuer_template("https://sts.windows.net/{tenantid}/")
    ///     .allow_tenant("b3c2a1f0-5d4e-4f6a-9b8c-7d6e5f4a3b2c")
    ///     .jwks_uri("https://login.microsoftonline.com/common/discovery/v2.0/keys")
    ///     .audience("4d2e6f8a-1b3c-4d5e-8f9a-0b1c2d3e4f5a")
    /// #   .http_fetch(|_: String| async { Err(edit_profile_middleware::FetchError::Status(503)) })
    ///     .build()?;
    /// # Ok::<_, edit_profile_middleware::ConfigError>(())
    /// ```
    pub fn tenant_issuer_template(mut self, template: impl Into<String>) -> Self {
        self.templates.push(template.into());
        self
    }

    /// Add a tenant id to the multi-tenant allow-list.
    pub fn allow_tenant(mut self, tenant_id: impl Into<String>) -> Self {
        self.tenants.push(tenant_id.into());
        self
    }

    /// Accept tokens whose `aud` is `audience` (the API's client id, or its `api://` App ID URI).
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audiences.push(audience.into());
        self
    }

    /// Accept both audiences Entra puts in access tokens for the API registered as `client_id`:
    /// the client id itself (v2.0 tokens) and `api://{client_id}` (v1.0 tokens, and the default
    /// Application ID URI). Same as calling [`audience`](Self::audience) with each. An API whose
    /// Application ID URI is something else adds that with `audience`.
    ///
    /// ```
    /// let validator = edit_profile_middleware::Validator::builder()
    ///     .issuer("https://login.microsoftonline.com/b3c2a1f0-5d4e-4f6a-9b8c-7d6e5f4a3b2c/v2.0")
    ///     .jwks_uri("https://login.microsoftonline.com/b3c2a1f0-5d4e-4f6a-9b8c-7d6e5f4a3b2c/discovery/v2.0/keys")
    /// #   .http_fetch(|_: String| async { Err(edit_profile_middleware::FetchError::Status(503)) })
    ///     .app_audiences("4d2e6f8a-1b3c-4d5e-8f9a-0b1c2d3e4f5a")
    ///     .build()?;
    /// # Ok::<_, edit_profile_middleware::ConfigError>(())
    /// ```
    pub fn app_audiences(self, client_id: &str) -> Self {
        let uri = format!("api://{client_id}");
        self.audience(client_id).audience(uri)
    }

    /// Where the signing keys are published.
    pub fn jwks_uri(mut self, uri: impl Into<String>) -> Self {
        self.jwks = JwksConfig::Uri(uri.into());
        self
    }

    /// Use a fixed JWKS document instead of fetching one (tests, air-gapped deployments).
    pub fn jwks_json(mut self, json: impl Into<Vec<u8>>) -> Self {
        self.jwks = JwksConfig::Static(json.into());
        self
    }

    /// Fill in `issuer`, `jwks_uri` and the authorization endpoint from the authority's OpenID
    /// configuration (`{authority}/v2.0/.well-known/openid-configuration`, OpenID Connect
    /// Discovery 1.0). An `issuer` containing `{tenantid}` (the `common` and `organizations`
    /// endpoints) becomes a tenant template, which then needs an allow-list.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Discovery`] if the document cannot be fetched or parsed, and
    /// [`ConfigError::MissingHttpFetch`] without a fetcher.
    pub async fn discover(mut self, authority: &str) -> Result<Self, ConfigError> {
        if !self.insecure_http && !is_secure_url(authority) {
            return Err(ConfigError::InsecureUrl("discovery"));
        }
        let fetch = self.fetcher()?;
        let metadata = discovery::discover(&*fetch, authority)
            .await
            .map_err(ConfigError::Discovery)?;
        if metadata.issuer.contains("{tenantid}") {
            self.templates.push(metadata.issuer);
        } else {
            self.issuers.push(metadata.issuer);
        }
        self.jwks = JwksConfig::Uri(metadata.jwks_uri);
        self.authorization_endpoint = metadata.authorization_endpoint;
        self.fetch = Some(fetch);
        Ok(self)
    }

    /// Replace the algorithm allow-list (default: RS256 only). PS256 and ES256 are opt-in.
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.algorithms = algorithms.into_iter().collect();
        self
    }

    /// Tolerance for `exp`, `nbf` and `iat` (default 5 minutes, at most 10).
    pub fn clock_skew(mut self, skew: Duration) -> Self {
        self.clock_skew = skew;
        self
    }

    /// Reject tokens longer than this many bytes before any parsing (default 16 KiB, allowed
    /// 1 KiB ..= 64 KiB).
    ///
    /// The cap exists so that a request cannot make the validator decode, hash and parse
    /// megabytes before the signature is known to be bad, nor fill the validation cache with
    /// large keys. 16 KiB leaves room for real Entra tokens with a full `groups` claim (200 ids,
    /// about 11–12 KB) while refusing anything far larger; HTTP servers commonly cap a header
    /// line near there too.
    pub fn max_token_bytes(mut self, bytes: usize) -> Self {
        self.max_token_bytes = bytes;
        self
    }

    /// How often the JWKS is refreshed in the background (default 24 h, jittered down by ≤ 10 %).
    pub fn jwks_refresh_interval(mut self, interval: Duration) -> Self {
        self.refresh_interval = interval;
        self
    }

    /// The minimum time between two fetches caused by unknown `kid`s (default 30 s, at least
    /// 1 s).
    pub fn jwks_refresh_cooldown(mut self, cooldown: Duration) -> Self {
        self.refresh_cooldown = cooldown;
        self
    }

    /// The HTTP transport for discovery and JWKS (default: [`ReqwestFetch`](crate::ReqwestFetch)).
    pub fn http_fetch(mut self, fetch: impl HttpFetch) -> Self {
        self.fetch = Some(Arc::new(fetch));
        self
    }

    /// How many validated tokens to remember (default 10,000; `0` disables the cache).
    pub fn cache_capacity(mut self, entries: usize) -> Self {
        self.cache_capacity = entries;
        self
    }

    /// The longest a validated token is remembered (default 5 minutes; never past `exp`).
    pub fn cache_max_ttl(mut self, ttl: Duration) -> Self {
        self.cache_max_ttl = ttl;
        self
    }

    /// Replace the clock (tests; default [`SystemTime::now`]).
    pub fn time_fn(mut self, now: impl Fn() -> SystemTime + Send + Sync + 'static) -> Self {
        self.time_fn = Some(Arc::new(now));
        self
    }

    /// Allow `http` JWKS and discovery URLs to hosts other than loopback.
    ///
    /// # Security Warning
    ///
    /// Keys fetched over clear text can be replaced by anyone on the path, who can then mint
    /// tokens this validator accepts. Only for closed test networks.
    pub fn insecure_allow_http(mut self) -> Self {
        self.insecure_http = true;
        self
    }

    fn fetcher(&self) -> Result<Arc<dyn HttpFetch>, ConfigError> {
        if let Some(fetch) = &self.fetch {
            return Ok(fetch.clone());
        }
        #[cfg(feature = "reqwest")]
        {
            Ok(Arc::new(
                crate::fetch::ReqwestFetch::new().map_err(ConfigError::HttpClient)?,
            ))
        }
        #[cfg(not(feature = "reqwest"))]
        {
            Err(ConfigError::MissingHttpFetch)
        }
    }

    /// Check the configuration and build the validator. Keys are fetched on first use, or
    /// explicitly with [`JwksCache::refresh`].
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the first problem found.
    pub fn build(self) -> Result<Validator, ConfigError> {
        if self.issuers.is_empty() && self.templates.is_empty() {
            return Err(ConfigError::MissingIssuer);
        }
        if self.audiences.is_empty() {
            return Err(ConfigError::MissingAudience);
        }
        let mut templates = Vec::new();
        for template in &self.templates {
            let mut parts = template.split("{tenantid}");
            match (parts.next(), parts.next(), parts.next()) {
                (Some(prefix), Some(suffix), None) => {
                    templates.push((prefix.to_owned(), suffix.to_owned()));
                }
                _ => return Err(ConfigError::InvalidIssuerTemplate),
            }
        }
        if !templates.is_empty() && self.tenants.is_empty() {
            return Err(ConfigError::MissingTenantAllowList);
        }
        if self.clock_skew > Duration::from_secs(600) {
            return Err(ConfigError::ClockSkewTooLarge);
        }
        if !(1024..=64 * 1024).contains(&self.max_token_bytes) {
            return Err(ConfigError::TokenSizeOutOfRange);
        }
        if self.algorithms.is_empty() {
            return Err(ConfigError::NoAlgorithms);
        }
        if self.refresh_interval.is_zero() {
            return Err(ConfigError::ZeroDuration("jwks refresh interval"));
        }
        if self.refresh_cooldown.is_zero() {
            return Err(ConfigError::ZeroDuration("jwks refresh cooldown"));
        }
        if self.refresh_cooldown < Duration::from_secs(1) {
            return Err(ConfigError::CooldownTooShort);
        }
        if let JwksConfig::Uri(uri) = &self.jwks
            && !self.insecure_http
            && !is_secure_url(uri)
        {
            return Err(ConfigError::InsecureUrl("jwks"));
        }
        let mut algorithms = self.algorithms.clone();
        algorithms.dedup();
        let jwks = match &self.jwks {
            JwksConfig::None => return Err(ConfigError::MissingJwks),
            JwksConfig::Static(json) => {
                JwksCache::fixed(json, algorithms.clone()).map_err(ConfigError::InvalidJwks)?
            }
            JwksConfig::Uri(uri) => JwksCache::remote(
                uri.clone(),
                self.fetcher()?,
                algorithms.clone(),
                self.refresh_interval,
                self.refresh_cooldown,
                self.time_fn.clone(),
            ),
        };
        Ok(Validator {
            inner: Arc::new(Inner {
                issuers: self.issuers,
                templates,
                tenants: self.tenants,
                audiences: self.audiences,
                algorithms,
                skew: self.clock_skew.as_secs(),
                max_token_bytes: self.max_token_bytes,
                jwks,
                cache: ValidationCache::new(self.cache_capacity),
                cache_max_ttl: self.cache_max_ttl.as_secs(),
                time_fn: self.time_fn,
                authorization_endpoint: self.authorization_endpoint,
                #[cfg(feature = "__bench")]
                noop: None,
            }),
        })
    }
}
