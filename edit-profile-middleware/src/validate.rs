//! Token validation: compact JWS only, signature, issuer, audience, lifetime, access-token shape.
//!
//! The order of checks is fixed: size cap, structure, header (algorithm allow-list, forbidden
//! members), key lookup, signature, then claims. Claims are parsed once into [`Claims`], after the
//! signature has been verified, and the result is cached by the full token.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::cache::ValidationCache;
use crate::claims::{self, Claims};
use crate::jwks::{
    self, Algorithm, FetchError, HttpFetch, JwksCache, KeyLookup, Lookup, Refreshed, TimeFn,
};

/// Why a token was rejected.
///
/// Messages are short, lowercase, never contain any part of the token, and are safe to send back
/// as `error_description` (RFC 6750 §3 restricts it to printable ASCII without `"` and `\`).
///
/// ```
/// use edit_profile_middleware::TokenError;
/// assert_eq!(TokenError::Expired.to_string(), "the token is expired");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// The token is larger than the configured cap.
    #[error("the token is too large")]
    TooLarge,
    /// Not a compact JWS (`header.payload.signature`), or a part is not base64url or JSON.
    #[error("the token is malformed")]
    Malformed,
    /// A JWE (five parts, or an `enc` header): encrypted tokens are not accepted.
    #[error("encrypted tokens are not accepted")]
    Encrypted,
    /// `alg` is not on the allow-list (this covers `none` and every `HS*`).
    #[error("the signing algorithm is not allowed")]
    AlgorithmNotAllowed,
    /// A header member the validator refuses (`jwk`, `jku`, `x5u`, `x5c`, `crit`).
    #[error("the header parameter {0} is not allowed")]
    ForbiddenHeader(&'static str),
    /// `typ` names something other than a JWT access token.
    #[error("the token type is not accepted")]
    WrongType,
    /// A member name appears twice in the header or the claims.
    #[error("the token has duplicate members")]
    DuplicateMember,
    /// A claim has the wrong JSON type (for example a string `exp`).
    #[error("the {0} claim has the wrong type")]
    InvalidClaimType(&'static str),
    /// A required header member or claim is missing.
    #[error("the {0} claim is missing")]
    MissingClaim(&'static str),
    /// No signing key with this `kid` is published, even after a refresh.
    #[error("the signing key is unknown")]
    UnknownKey,
    /// The `kid` exists but the key does not allow the token's algorithm.
    #[error("the signing key does not match the algorithm")]
    KeyAlgorithmMismatch,
    /// The signature does not verify.
    #[error("the signature is invalid")]
    BadSignature,
    /// `exp` is in the past (beyond the clock skew).
    #[error("the token is expired")]
    Expired,
    /// `nbf` is in the future (beyond the clock skew).
    #[error("the token is not valid yet")]
    NotYetValid,
    /// `iat` is in the future, or the lifetime claims contradict each other.
    #[error("the token lifetime is invalid")]
    InvalidLifetime,
    /// `iss` is not an accepted issuer.
    #[error("the issuer is not accepted")]
    WrongIssuer,
    /// The signing key's published `issuer` names another tenant than the token.
    #[error("the signing key belongs to another issuer")]
    KeyIssuerMismatch,
    /// Multi-tenant mode: the tenant is not on the allow-list.
    #[error("the tenant is not allowed")]
    TenantNotAllowed,
    /// `aud` does not name this API.
    #[error("the audience is not accepted")]
    WrongAudience,
    /// `ver` is not `1.0` or `2.0`.
    #[error("the token version is not supported")]
    UnsupportedVersion,
    /// An ID token (has `nonce`) or a token with neither `scp` nor `roles`.
    #[error("the token is not an access token")]
    NotAnAccessToken,
    /// No signing keys could be loaded (the JWKS endpoint failed and nothing is cached).
    #[error("signing keys are unavailable")]
    KeysUnavailable,
}

/// Why a [`ValidatorBuilder`] could not build.
///
/// ```
/// use edit_profile_middleware::{ConfigError, Validator};
///
/// let error = Validator::builder().audience("a").build().unwrap_err();
/// assert!(matches!(error, ConfigError::MissingIssuer));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// Neither an issuer nor a tenant issuer template was configured.
    #[error("no issuer configured")]
    MissingIssuer,
    /// No audience was configured.
    #[error("no audience configured")]
    MissingAudience,
    /// Neither a JWKS URI nor a static JWKS was configured.
    #[error("no jwks configured")]
    MissingJwks,
    /// An issuer template does not contain `{tenantid}` exactly once.
    #[error("issuer template must contain {{tenantid}} exactly once")]
    InvalidIssuerTemplate,
    /// A tenant issuer template without an explicit tenant allow-list.
    #[error("multi-tenant issuers need an explicit tenant allow-list")]
    MissingTenantAllowList,
    /// The clock skew is above the 10 minute bound.
    #[error("clock skew must be at most 10 minutes")]
    ClockSkewTooLarge,
    /// The token size cap is outside 1 KiB ..= 64 KiB.
    #[error("max token size must be between 1 KiB and 64 KiB")]
    TokenSizeOutOfRange,
    /// The algorithm allow-list is empty.
    #[error("at least one algorithm must be allowed")]
    NoAlgorithms,
    /// A duration that must be positive is zero.
    #[error("{0} must be positive")]
    ZeroDuration(&'static str),
    /// A JWKS URI is configured but there is no HTTP fetcher (the `reqwest` feature is off).
    #[error("no http fetcher configured")]
    MissingHttpFetch,
    /// OIDC discovery failed.
    #[error("openid configuration discovery failed")]
    Discovery(#[source] FetchError),
    /// A challenge parameter (realm, client id, URI) is not printable ASCII.
    #[error("{0} must be printable ascii")]
    InvalidHeaderText(&'static str),
    /// A static JWKS document holds no usable key.
    #[error("invalid jwks")]
    InvalidJwks(#[source] FetchError),
    /// A JWKS or discovery URL is not `https` and not loopback (see
    /// [`ValidatorBuilder::insecure_allow_http`]): keys fetched in clear text can be replaced.
    #[error("the {0} url must use https")]
    InsecureUrl(&'static str),
    /// The unknown-`kid` refresh cooldown is under one second: every forged `kid` would then
    /// cost a fetch from the issuer.
    #[error("the jwks refresh cooldown must be at least 1 second")]
    CooldownTooShort,
    /// The default HTTP client could not be built.
    #[error("the http client could not be built")]
    HttpClient(#[source] FetchError),
}

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
        let metadata = jwks::discover(&*fetch, authority)
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
                crate::jwks::ReqwestFetch::new().map_err(ConfigError::HttpClient)?,
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

/// Validates bearer tokens. Cheap to clone (an `Arc`); share one per issuer between layers.
///
/// ```no_run
/// # async fn f(validator: edit_profile_middleware::Validator, token: &str) {
/// match validator.validate(token).await {
///     Ok(claims) => println!("hello {:?}", claims.oid()),
///     Err(error) => println!("rejected: {error}"),
/// }
/// # }
/// ```
#[derive(Clone)]
pub struct Validator {
    inner: Arc<Inner>,
}

struct Inner {
    issuers: Vec<String>,
    templates: Vec<(String, String)>,
    tenants: Vec<String>,
    audiences: Vec<String>,
    algorithms: Vec<Algorithm>,
    skew: u64,
    max_token_bytes: usize,
    jwks: JwksCache,
    cache: ValidationCache,
    cache_max_ttl: u64,
    time_fn: Option<TimeFn>,
    authorization_endpoint: Option<String>,
    #[cfg(feature = "__bench")]
    noop: Option<Arc<Claims>>,
}

impl fmt::Debug for Validator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.inner;
        f.debug_struct("Validator")
            .field("issuers", &i.issuers)
            .field("templates", &i.templates)
            .field("tenants", &i.tenants)
            .field("audiences", &i.audiences)
            .field("algorithms", &i.algorithms)
            .field("clock_skew_secs", &i.skew)
            .field("jwks", &i.jwks)
            .field("cache", &i.cache)
            .finish_non_exhaustive()
    }
}

/// The synchronous part of a validation.
pub(crate) enum Step {
    Done(Result<Arc<Claims>, TokenError>),
    /// The `kid` is not in key-set `generation`, and a refresh is allowed.
    NeedKeys(u64),
}

impl Validator {
    /// Start configuring a validator.
    pub fn builder() -> ValidatorBuilder {
        ValidatorBuilder::default()
    }

    /// Benches only: a validator that accepts every token with these claims, without looking at
    /// it, to measure the layer's own cost.
    ///
    /// # Security Warning
    ///
    /// Accepts anything. It exists only behind the private `__bench` feature.
    #[cfg(feature = "__bench")]
    #[doc(hidden)]
    pub fn __insecure_noop(template: &Validator, claims_json: &str) -> Option<Validator> {
        let claims = claims::parse_claims(claims_json.to_owned()).ok()?;
        let t = &template.inner;
        Some(Validator {
            inner: Arc::new(Inner {
                issuers: t.issuers.clone(),
                templates: t.templates.clone(),
                tenants: t.tenants.clone(),
                audiences: t.audiences.clone(),
                algorithms: t.algorithms.clone(),
                skew: t.skew,
                max_token_bytes: t.max_token_bytes,
                jwks: t.jwks.clone(),
                cache: ValidationCache::new(0),
                cache_max_ttl: t.cache_max_ttl,
                time_fn: t.time_fn.clone(),
                authorization_endpoint: t.authorization_endpoint.clone(),
                noop: Some(Arc::new(claims)),
            }),
        })
    }

    /// The signing-key cache.
    pub fn jwks(&self) -> &JwksCache {
        &self.inner.jwks
    }

    /// The authorization endpoint found by discovery, if any (used in claims challenges).
    pub fn authorization_endpoint(&self) -> Option<&str> {
        self.inner.authorization_endpoint.as_deref()
    }

    /// How many validated tokens the cache holds now.
    pub fn cached_tokens(&self) -> usize {
        self.inner.cache.len()
    }

    /// Validate a compact JWS access token (without the `Bearer ` prefix).
    ///
    /// # Errors
    ///
    /// The [`TokenError`] for the first check that failed.
    pub async fn validate(&self, token: &str) -> Result<Arc<Claims>, TokenError> {
        let token = token.as_bytes();
        match self.validate_now(token, self.now()) {
            Step::Done(result) => result,
            Step::NeedKeys(generation) => self.validate_after_refresh(token, generation).await,
        }
    }

    pub(crate) async fn validate_after_refresh(
        &self,
        token: &[u8],
        generation: u64,
    ) -> Result<Arc<Claims>, TokenError> {
        match self.inner.jwks.refresh_for_unknown_kid(generation).await {
            Refreshed::Retry => match self.validate_now(token, self.now()) {
                Step::Done(result) => result,
                Step::NeedKeys(_) => Err(TokenError::UnknownKey),
            },
            Refreshed::Unknown => Err(TokenError::UnknownKey),
            Refreshed::Unavailable => Err(TokenError::KeysUnavailable),
        }
    }

    /// The first audience that is not an `api://` URI (the API's client id, for challenges).
    pub(crate) fn default_client_id(&self) -> Option<&str> {
        self.inner
            .audiences
            .iter()
            .find(|a| !a.starts_with("api://"))
            .map(String::as_str)
    }

    pub(crate) fn now(&self) -> u64 {
        jwks::unix_secs(self.inner.time_fn.as_ref())
    }

    /// Everything that can be done without waiting for the network.
    ///
    /// Takes bytes: a cache hit needs no UTF-8 check (the cached token was valid text), and a
    /// miss checks once before parsing.
    ///
    /// `now` is [`Validator::now`], read once per request by the caller.
    pub(crate) fn validate_now(&self, token: &[u8], now: u64) -> Step {
        let inner = &*self.inner;
        #[cfg(feature = "__bench")]
        if let Some(claims) = &inner.noop {
            return Step::Done(Ok(claims.clone()));
        }
        if token.len() > inner.max_token_bytes {
            return Step::Done(Err(TokenError::TooLarge));
        }
        inner.jwks.maybe_refresh_in_background(now);
        let generation = inner.jwks.generation();
        if let Some(claims) = inner.cache.get(token, now, generation) {
            return Step::Done(Ok(claims));
        }
        Step::Done(match self.validate_uncached(token, now) {
            Ok(Verified::Claims(claims)) => Ok(claims),
            Ok(Verified::NeedKeys(generation)) => return Step::NeedKeys(generation),
            Err(error) => Err(error),
        })
    }

    /// Works on bytes: no UTF-8 check of the whole token is needed, because every part must
    /// decode as base64url, whose alphabet is ASCII.
    fn validate_uncached(&self, token: &[u8], now: u64) -> Result<Verified, TokenError> {
        let inner = &*self.inner;
        // memchr and memrchr are vectorised; scanning the 1–2 KB byte by byte cost more than
        // all other structure checks together.
        let (Some(first), Some(last)) = (memchr::memchr(b'.', token), memchr::memrchr(b'.', token))
        else {
            return Err(TokenError::Malformed);
        };
        if first == last {
            return Err(TokenError::Malformed);
        }
        let middle = &token[first + 1..last];
        if memchr::memchr(b'.', middle).is_some() {
            // RFC 7516 §7.1: the JWE compact serialization has five parts.
            return Err(if memchr::memchr_iter(b'.', middle).count() == 2 {
                TokenError::Encrypted
            } else {
                TokenError::Malformed
            });
        }
        let (header_b64, payload_b64, signature_b64) =
            (&token[..first], middle, &token[last + 1..]);

        let mut header_buf = [0u8; 1024];
        let header_len = decode_into(header_b64, &mut header_buf)?;
        let header = claims::parse_header(&header_buf[..header_len])?;
        let Some(alg) = Algorithm::from_name(&header.alg).filter(|a| inner.algorithms.contains(a))
        else {
            return Err(TokenError::AlgorithmNotAllowed);
        };
        if let Some(typ) = &header.typ {
            // RFC 9068 §2.1 `at+jwt`; Entra sends `JWT`.
            let ok = ["JWT", "at+jwt", "application/at+jwt"]
                .iter()
                .any(|t| typ.eq_ignore_ascii_case(t));
            if !ok {
                return Err(TokenError::WrongType);
            }
        }
        let Some(kid) = header.kid.as_deref() else {
            return Err(TokenError::MissingClaim("kid"));
        };

        let mut signature_buf = [0u8; 1024];
        let signature_len = decode_into(signature_b64, &mut signature_buf)?;
        let signed = &token[..last];
        // Ok(Ok(g)): verified under key-set g; Ok(Err(g)): the kid is not in key-set g.
        let lookup = inner.jwks.with_keys(|keys| match keys.find(kid, alg) {
            KeyLookup::Found(key, issuer) => key
                .verify_sig(signed, &signature_buf[..signature_len])
                .map(|()| Ok((keys.generation, issuer.cloned())))
                .map_err(|_| TokenError::BadSignature),
            KeyLookup::WrongAlgorithm => Err(TokenError::KeyAlgorithmMismatch),
            KeyLookup::Missing => Ok(Err(keys.generation)),
        })?;
        let (generation, key_issuer) = match lookup {
            Ok(found) => found,
            Err(missing_in) => {
                return match inner.jwks.on_unknown_kid(missing_in) {
                    Lookup::Refreshable => Ok(Verified::NeedKeys(missing_in)),
                    Lookup::Unknown if inner.jwks.key_count() == 0 => {
                        Err(TokenError::KeysUnavailable)
                    }
                    Lookup::Unknown => Err(TokenError::UnknownKey),
                };
            }
        };

        let payload = base64_simd::URL_SAFE_NO_PAD
            .decode_to_vec(payload_b64)
            .map_err(|_| TokenError::Malformed)?;
        let payload = String::from_utf8(payload).map_err(|_| TokenError::Malformed)?;
        let claims = claims::parse_claims(payload)?;
        self.check_claims(&claims, now)?;
        if let Some(key_issuer) = key_issuer {
            self.check_key_issuer(&claims, &key_issuer)?;
        }

        let claims = Arc::new(claims);
        let expires_at = claims.exp.min(now.saturating_add(inner.cache_max_ttl));
        inner
            .cache
            .insert(token, claims.clone(), expires_at, generation, now);
        Ok(Verified::Claims(claims))
    }

    fn check_claims(&self, c: &Claims, now: u64) -> Result<(), TokenError> {
        let inner = &*self.inner;
        let skew = inner.skew;
        // RFC 7519 §4.1.4: the current time MUST be before `exp` (plus a small leeway).
        if now >= c.exp.saturating_add(skew) {
            return Err(TokenError::Expired);
        }
        if let Some(nbf) = c.nbf {
            if nbf > now.saturating_add(skew) {
                return Err(TokenError::NotYetValid);
            }
            if nbf > c.exp {
                return Err(TokenError::InvalidLifetime);
            }
        }
        if let Some(iat) = c.iat
            && (iat > now.saturating_add(skew) || iat > c.exp)
        {
            return Err(TokenError::InvalidLifetime);
        }
        if let Some(ver) = c.ver()
            && ver != "1.0"
            && ver != "2.0"
        {
            return Err(TokenError::UnsupportedVersion);
        }
        self.check_issuer(c)?;
        if !c
            .aud()
            .any(|a| inner.audiences.iter().any(|ours| ours == a))
        {
            return Err(TokenError::WrongAudience);
        }
        // An ID token carries `nonce` and no `scp`/`roles`; Microsoft.Identity.Web likewise
        // rejects bearer tokens with neither `scp` nor `roles` (IDW10201).
        if c.nonce || (c.scp.is_none() && c.roles.is_empty()) {
            return Err(TokenError::NotAnAccessToken);
        }
        Ok(())
    }

    /// The signing key's `issuer` must name the token's tenant, as Microsoft.IdentityModel's
    /// `EnableAadSigningKeyIssuerValidation` checks (`AadTokenValidationParametersExtension.cs`,
    /// `ValidateIssuerSigningKey`, in AzureAD/azure-activedirectory-identitymodel-extensions-for-dotnet):
    /// `{tenantid}` in the key's issuer is replaced by the token's `tid`, and the result must
    /// equal the token's `iss`, or (for v1.0 tokens, whose `sts.windows.net` issuer never
    /// appears on keys) one of our configured issuers or templates filled with that `tid`.
    /// Without this, in multi-tenant mode a key that Entra publishes for one tenant would be
    /// accepted for tokens that claim another.
    fn check_key_issuer(&self, c: &Claims, key_issuer: &str) -> Result<(), TokenError> {
        let inner = &*self.inner;
        if key_issuer.trim().is_empty() {
            return Err(TokenError::KeyIssuerMismatch);
        }
        let iss = c.iss();
        let effective = match c.tid() {
            Some(tid) => key_issuer.replace("{tenantid}", tid),
            None if key_issuer.contains("{tenantid}") => {
                return Err(TokenError::KeyIssuerMismatch);
            }
            None => key_issuer.to_owned(),
        };
        if effective == iss {
            return Ok(());
        }
        let configured = c.tid().is_some_and(|tid| {
            (effective.contains(tid) && inner.issuers.contains(&effective)) || {
                inner.templates.iter().any(|(prefix, suffix)| {
                    effective.len() == prefix.len() + tid.len() + suffix.len()
                        && effective.starts_with(prefix.as_str())
                        && effective.ends_with(suffix.as_str())
                        && effective.get(prefix.len()..prefix.len() + tid.len()) == Some(tid)
                })
            }
        });
        if configured {
            Ok(())
        } else {
            Err(TokenError::KeyIssuerMismatch)
        }
    }

    fn check_issuer(&self, c: &Claims) -> Result<(), TokenError> {
        let inner = &*self.inner;
        let iss = c.iss();
        if inner.issuers.iter().any(|i| i == iss) {
            return Ok(());
        }
        if inner.templates.is_empty() {
            return Err(TokenError::WrongIssuer);
        }
        let Some(tid) = c.tid() else {
            return Err(TokenError::WrongIssuer);
        };
        let matches_template = inner.templates.iter().any(|(prefix, suffix)| {
            iss.len() == prefix.len() + tid.len() + suffix.len()
                && iss.starts_with(prefix.as_str())
                && iss.ends_with(suffix.as_str())
                && iss.get(prefix.len()..prefix.len() + tid.len()) == Some(tid)
        });
        if !matches_template {
            return Err(TokenError::WrongIssuer);
        }
        if !inner.tenants.iter().any(|t| t.eq_ignore_ascii_case(tid)) {
            return Err(TokenError::TenantNotAllowed);
        }
        Ok(())
    }
}

enum Verified {
    Claims(Arc<Claims>),
    NeedKeys(u64),
}

fn decode_into(b64: &[u8], out: &mut [u8; 1024]) -> Result<usize, TokenError> {
    let engine = base64_simd::URL_SAFE_NO_PAD;
    // `decode` panics when the output is too short, so size it first.
    let len = engine
        .decoded_length(b64)
        .map_err(|_| TokenError::Malformed)?;
    let out = out.get_mut(..len).ok_or(TokenError::Malformed)?;
    engine
        .decode(b64, base64_simd::Out::from_slice(out))
        .map(|decoded| decoded.len())
        .map_err(|_| TokenError::Malformed)
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    use super::*;

    const TENANT: &str = "f645ad92-e38d-4d1a-b510-d1b09a74a8ca";

    fn jwks() -> String {
        let n = URL_SAFE_NO_PAD.encode([0xC1u8; 256]);
        format!(r#"{{"keys":[{{"kty":"RSA","kid":"k","n":"{n}","e":"AQAB"}}]}}"#)
    }

    fn validator(templates: &[&str], issuers: &[&str]) -> Validator {
        let mut b = Validator::builder()
            .jwks_json(jwks())
            .audience("a")
            .allow_tenant(TENANT);
        for t in templates {
            b = b.tenant_issuer_template(*t);
        }
        for i in issuers {
            b = b.issuer(*i);
        }
        b.build().unwrap()
    }

    fn claims(iss: &str, tid: Option<&str>) -> Claims {
        let tid = tid.map_or(String::new(), |t| format!(r#","tid":"{t}""#));
        claims::parse_claims(format!(r#"{{"iss":"{iss}","aud":"a","exp":10{tid}}}"#)).unwrap()
    }

    /// Microsoft.IdentityModel `AadIssuerValidator` vectors (templated issuer, tid, iss, expected).
    #[test]
    fn issuer_template_vectors() {
        let v1 = "https://sts.windows.net/{tenantid}/";
        let v2 = "https://login.microsoftonline.com/{tenantid}/v2.0";
        let v1_iss = format!("https://sts.windows.net/{TENANT}/");
        let v2_iss = format!("https://login.microsoftonline.com/{TENANT}/v2.0");
        let cases: &[(&str, Option<&str>, &str, bool)] = &[
            (v1, Some(TENANT), &v1_iss, true),
            (v2, Some(TENANT), &v2_iss, true),
            (v1, Some(TENANT), &v2_iss, false),
            (v2, Some(TENANT), &v1_iss, false),
            (v1, Some(TENANT), "", false),
            (v1, None, &v2_iss, false),
            (
                v2,
                Some(TENANT),
                "https://login.microsoftonline.com/{tenantid}/v2.0",
                false,
            ),
            (
                "https://login.windows-ppe.net/{tenantid}",
                Some(TENANT),
                "https://login.microsoftonline.com/f645ad92-e38d-4d1a-b510-d1b09a74a8ca",
                false,
            ),
        ];
        for (template, tid, iss, ok) in cases {
            let v = validator(&[template], &[]);
            assert_eq!(
                v.check_issuer(&claims(iss, *tid)).is_ok(),
                *ok,
                "{template} {iss}"
            );
        }
        // Exact issuers (both forms for one tenant).
        let v = validator(&[], &[&v1_iss, &v2_iss]);
        assert!(v.check_issuer(&claims(&v1_iss, None)).is_ok());
        assert!(v.check_issuer(&claims(&v2_iss, None)).is_ok());
        assert_eq!(
            v.check_issuer(&claims(&format!("{v2_iss}/"), None)),
            Err(TokenError::WrongIssuer)
        );
    }

    #[test]
    fn tenant_allow_list_is_enforced() {
        let other = "72f988bf-86f1-41af-91ab-2d7cd011db47";
        let v = validator(&["https://login.microsoftonline.com/{tenantid}/v2.0"], &[]);
        let iss = format!("https://login.microsoftonline.com/{other}/v2.0");
        assert_eq!(
            v.check_issuer(&claims(&iss, Some(other))),
            Err(TokenError::TenantNotAllowed)
        );
    }

    #[test]
    fn lifetime_checks_use_the_skew() {
        let v = Validator::builder()
            .jwks_json(jwks())
            .issuer("i")
            .audience("a")
            .clock_skew(Duration::from_secs(60))
            .build()
            .unwrap();
        let c = |extra: &str| {
            claims::parse_claims(format!(r#"{{"iss":"i","aud":"a","scp":"s"{extra}}}"#)).unwrap()
        };
        assert!(v.check_claims(&c(r#","exp":1000"#), 1059).is_ok());
        assert_eq!(
            v.check_claims(&c(r#","exp":1000"#), 1060),
            Err(TokenError::Expired)
        );
        assert!(
            v.check_claims(&c(r#","exp":2000,"nbf":1060"#), 1000)
                .is_ok()
        );
        assert_eq!(
            v.check_claims(&c(r#","exp":2000,"nbf":1061"#), 1000),
            Err(TokenError::NotYetValid)
        );
        assert_eq!(
            v.check_claims(&c(r#","exp":2000,"iat":1061"#), 1000),
            Err(TokenError::InvalidLifetime)
        );
        assert_eq!(
            v.check_claims(&c(r#","exp":2000,"ver":"3.0""#), 1000),
            Err(TokenError::UnsupportedVersion)
        );
    }

    #[test]
    fn structure_errors() {
        let v = validator(&[], &["i"]);
        let step = |t: &str| match v.validate_now(t.as_bytes(), 0) {
            Step::Done(r) => r.err(),
            Step::NeedKeys(_) => None,
        };
        assert_eq!(step("a.b"), Some(TokenError::Malformed));
        assert_eq!(step("a.b.c.d.e"), Some(TokenError::Encrypted));
        assert_eq!(step("a.b.c.d"), Some(TokenError::Malformed));
        assert_eq!(step(&"a".repeat(17_000)), Some(TokenError::TooLarge));
        // `none`, HS256 and an unknown kid with a static key set.
        let h = |json: &str| URL_SAFE_NO_PAD.encode(json);
        assert_eq!(
            step(&format!("{}.e30.", h(r#"{"alg":"none"}"#))),
            Some(TokenError::AlgorithmNotAllowed)
        );
        assert_eq!(
            step(&format!("{}.e30.AA", h(r#"{"alg":"HS256","kid":"k"}"#))),
            Some(TokenError::AlgorithmNotAllowed)
        );
        assert_eq!(
            step(&format!("{}.e30.AA", h(r#"{"alg":"RS256","kid":"x"}"#))),
            Some(TokenError::UnknownKey)
        );
        assert_eq!(
            step(&format!("{}.e30.AA", h(r#"{"alg":"RS256"}"#))),
            Some(TokenError::MissingClaim("kid"))
        );
        assert_eq!(
            step(&format!(
                "{}.e30.AA",
                h(r#"{"alg":"RS256","kid":"k","typ":"dpop+jwt"}"#)
            )),
            Some(TokenError::WrongType)
        );
        assert_eq!(
            step(&format!("{}.e30.AA", h(r#"{"alg":"RS256","kid":"k"}"#))),
            Some(TokenError::BadSignature)
        );
    }

    proptest::proptest! {
        #[test]
        fn validation_never_panics(token in "[A-Za-z0-9_.=+/ -]{0,300}") {
            let v = validator(&[], &["i"]);
            let _ = v.validate_now(token.as_bytes(), 0);
        }

        #[test]
        fn validation_never_panics_on_jws_shaped_input(
            header in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64),
            payload in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..128),
            signature in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
        ) {
            let v = validator(&[], &["i"]);
            let token = format!(
                "{}.{}.{}",
                URL_SAFE_NO_PAD.encode(&header),
                URL_SAFE_NO_PAD.encode(&payload),
                URL_SAFE_NO_PAD.encode(&signature)
            );
            let _ = v.validate_now(token.as_bytes(), 0);
        }

        #[test]
        fn validation_never_panics_on_bytes(token in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            let v = validator(&[], &["i"]);
            let _ = v.validate_now(&token, 0);
        }
    }

    #[test]
    fn errors_are_send_sync_and_debug_is_safe() {
        fn assert_send_sync<T: Send + Sync + 'static>() {}
        assert_send_sync::<TokenError>();
        assert_send_sync::<ConfigError>();
        assert_send_sync::<Validator>();
        let v = validator(
            &["https://login.microsoftonline.com/{tenantid}/v2.0"],
            &["https://iss.example/v2.0"],
        );
        let debug = format!("{v:?}");
        // It shows the configuration someone debugging a rejection needs ...
        for shown in [
            "Validator",
            "https://iss.example/v2.0",
            // The template, stored split around `{tenantid}`.
            "\"https://login.microsoftonline.com/\", \"/v2.0\"",
            TENANT,
            "\"a\"",
            "Rs256",
        ] {
            assert!(debug.contains(shown), "{shown} missing from {debug}");
        }
        // ... and none of the key material it holds (the JWKS modulus, whole or in part).
        let modulus = URL_SAFE_NO_PAD.encode([0xC1u8; 256]);
        assert!(!debug.contains(&modulus[..16]), "{debug}");
        assert!(!debug.contains("AQAB"), "{debug}");
    }
}
