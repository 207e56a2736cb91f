//! The signing-key cache: JWKS fetched, parsed once per rotation, and swapped atomically.
//!
//! * The request path reads the current key set through [`arc_swap`], so it never takes a lock.
//! * Keys are parsed into ready-to-verify aws-lc-rs public keys when a JWKS document arrives, not
//!   per request.
//! * A background refresh runs every `refresh_interval` (default 24 h, jittered so that a fleet of
//!   API instances does not hit the JWKS endpoint at the same second). It is started by traffic:
//!   the first request after the due time spawns it and keeps using the current keys meanwhile.
//! * An unknown `kid` triggers at most one refresh per cooldown (default 30 s), single-flight:
//!   concurrent requests wait for the one fetch in flight; later ones fail fast. A token cannot make
//!   the API hammer the identity provider by inventing key ids.
//! * A failed fetch never replaces the last good key set (stale-while-error).
//! * Keys whose `use` is not `sig`, whose `alg` is not allowed or does not fit the key type, that
//!   have no `kid`, or RSA keys under 2048 bits are ignored (RFC 7517 §4.2, §4.4; RFC 8725 §3.1).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwap;
use aws_lc_rs::signature::{self, ParsedPublicKey, RsaPublicKeyComponents};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;

/// A signature algorithm the validator may accept.
///
/// RS256 is what Microsoft Entra signs access tokens with, and the only one allowed by default.
///
/// ```
/// use edit_profile_middleware::Algorithm;
/// assert_eq!(Algorithm::Rs256.name(), "RS256");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (RFC 7518 §3.3).
    Rs256,
    /// RSASSA-PSS with SHA-256 (RFC 7518 §3.5). Opt-in.
    Ps256,
    /// ECDSA P-256 with SHA-256 (RFC 7518 §3.4). Opt-in.
    Es256,
}

impl Algorithm {
    /// The JOSE `alg` name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Rs256 => "RS256",
            Self::Ps256 => "PS256",
            Self::Es256 => "ES256",
        }
    }

    pub(crate) fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "RS256" => Self::Rs256,
            "PS256" => Self::Ps256,
            "ES256" => Self::Es256,
            _ => return None,
        })
    }

    fn is_rsa(self) -> bool {
        matches!(self, Self::Rs256 | Self::Ps256)
    }
}

/// Why fetching OIDC metadata or a JWKS document failed.
///
/// ```
/// use edit_profile_middleware::FetchError;
/// assert_eq!(FetchError::Status(503).to_string(), "unexpected http status 503");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// The server answered with a non-success status.
    #[error("unexpected http status {0}")]
    Status(u16),
    /// The response was larger than the fetcher's limit.
    #[error("response too large")]
    TooLarge,
    /// The request could not be sent or the response not read.
    #[error("transport error")]
    Transport(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The document was not what was expected (bad JSON, no usable signing keys, ...).
    #[error("invalid document: {0}")]
    Invalid(&'static str),
}

/// The boxed future an [`HttpFetch`] returns.
///
/// ```
/// use edit_profile_middleware::{FetchError, FetchFuture};
/// let future: FetchFuture = Box::pin(async { Err(FetchError::Status(404)) });
/// # drop(future);
/// ```
pub type FetchFuture = Pin<Box<dyn Future<Output = Result<Vec<u8>, FetchError>> + Send + 'static>>;

/// Fetches a document by `GET` (OIDC metadata and JWKS). Implemented for closures.
///
/// With the default `reqwest` feature a [`ReqwestFetch`] is used; plug your own transport (or a
/// test double) with [`ValidatorBuilder::http_fetch`](crate::ValidatorBuilder::http_fetch).
///
/// ```
/// use edit_profile_middleware::{FetchError, HttpFetch};
///
/// let fetch = |url: String| async move {
///     if url.ends_with("/keys") { Ok(br#"{"keys":[]}"#.to_vec()) } else { Err(FetchError::Status(404)) }
/// };
/// fn takes(_: impl HttpFetch) {}
/// takes(fetch);
/// ```
pub trait HttpFetch: Send + Sync + 'static {
    /// `GET url` and return the response body.
    fn get(&self, url: &str) -> FetchFuture;
}

impl<F, Fut> HttpFetch for F
where
    F: Fn(String) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Vec<u8>, FetchError>> + Send + 'static,
{
    fn get(&self, url: &str) -> FetchFuture {
        Box::pin(self(url.to_owned()))
    }
}

/// The default [`HttpFetch`]: reqwest over rustls, no redirects, 10 s timeout, 1 MiB body cap.
///
/// Redirects are off deliberately: metadata and key URLs come from configuration or from the
/// issuer's own metadata, and following redirects would widen the SSRF surface.
///
/// ```
/// # #[cfg(feature = "reqwest")] {
/// let fetch = edit_profile_middleware::ReqwestFetch::new()?;
/// # }
/// # Ok::<_, edit_profile_middleware::FetchError>(())
/// ```
#[cfg(feature = "reqwest")]
#[derive(Clone, Debug)]
pub struct ReqwestFetch {
    client: reqwest::Client,
}

#[cfg(feature = "reqwest")]
impl ReqwestFetch {
    const MAX_BODY: usize = 1 << 20;

    /// A fetcher with the defaults above.
    ///
    /// # Errors
    ///
    /// [`FetchError::Transport`] when reqwest cannot build the client (TLS backend
    /// initialisation). There is deliberately no fallback: reqwest's default client follows
    /// redirects and has no timeout.
    pub fn new() -> Result<Self, FetchError> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .connect_timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| FetchError::Transport(Box::new(e)))?;
        Ok(Self { client })
    }

    /// Use an existing reqwest client (its redirect and timeout policy apply).
    pub fn with_client(client: reqwest::Client) -> Self {
        Self { client }
    }
}

#[cfg(feature = "reqwest")]
impl HttpFetch for ReqwestFetch {
    fn get(&self, url: &str) -> FetchFuture {
        let request = self.client.get(url);
        Box::pin(async move {
            let mut response = request
                .send()
                .await
                .map_err(|e| FetchError::Transport(Box::new(e)))?;
            if !response.status().is_success() {
                return Err(FetchError::Status(response.status().as_u16()));
            }
            let mut body = Vec::new();
            while let Some(chunk) = response
                .chunk()
                .await
                .map_err(|e| FetchError::Transport(Box::new(e)))?
            {
                if body.len() + chunk.len() > Self::MAX_BODY {
                    return Err(FetchError::TooLarge);
                }
                body.extend_from_slice(&chunk);
            }
            Ok(body)
        })
    }
}

/// One usable verification key.
struct VerifyingKey {
    alg: Algorithm,
    key: ParsedPublicKey,
    /// The JWK's `issuer` member, which Entra publishes on keys in its JWKS (with `{tenantid}`
    /// in the `common` and `organizations` key sets).
    issuer: Option<Arc<str>>,
}

/// An immutable snapshot of the signing keys.
pub(crate) struct KeySet {
    pub(crate) generation: u64,
    keys: hashbrown::HashMap<Box<str>, Vec<VerifyingKey>, foldhash::fast::RandomState>,
}

impl KeySet {
    fn empty() -> Self {
        Self {
            generation: 0,
            keys: hashbrown::HashMap::default(),
        }
    }

    pub(crate) fn find(&self, kid: &str, alg: Algorithm) -> KeyLookup<'_> {
        let Some(keys) = self.keys.get(kid) else {
            return KeyLookup::Missing;
        };
        match keys.iter().find(|k| k.alg == alg) {
            Some(k) => KeyLookup::Found(&k.key, k.issuer.as_ref()),
            None => KeyLookup::WrongAlgorithm,
        }
    }

    fn same_keys(&self, other: &Self) -> bool {
        self.keys.len() == other.keys.len()
            && self.keys.iter().all(|(kid, keys)| {
                other.keys.get(kid).is_some_and(|o| {
                    o.len() == keys.len()
                        && keys
                            .iter()
                            .zip(o)
                            .all(|(a, b)| a.alg == b.alg && a.key.as_ref() == b.key.as_ref())
                })
            })
    }
}

#[derive(Deserialize)]
struct JwksDoc {
    keys: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct Jwk {
    kty: String,
    #[serde(rename = "use")]
    use_: Option<String>,
    alg: Option<String>,
    kid: Option<String>,
    n: Option<String>,
    e: Option<String>,
    crv: Option<String>,
    x: Option<String>,
    y: Option<String>,
    issuer: Option<String>,
}

/// Parses a JWKS document into a key set, keeping only usable signing keys.
fn parse_jwks(json: &[u8], allowed: &[Algorithm]) -> Result<KeySet, FetchError> {
    let doc: JwksDoc =
        serde_json::from_slice(json).map_err(|_| FetchError::Invalid("not a jwks document"))?;
    let mut set = KeySet::empty();
    for value in doc.keys {
        // One malformed key must not take the others down with it.
        let Ok(jwk) = serde_json::from_value::<Jwk>(value) else {
            continue;
        };
        let Some(kid) = jwk.kid.as_deref() else {
            continue;
        };
        if jwk.use_.as_deref().is_some_and(|u| u != "sig") {
            continue;
        }
        let candidates: Vec<Algorithm> = match jwk.alg.as_deref() {
            Some(name) => match Algorithm::from_name(name) {
                Some(alg) if allowed.contains(&alg) => vec![alg],
                _ => continue,
            },
            None => allowed.to_vec(),
        };
        let mut keys = Vec::new();
        for alg in candidates {
            if let Some(key) = parse_key(&jwk, alg) {
                keys.push(VerifyingKey {
                    alg,
                    key,
                    issuer: jwk.issuer.as_deref().map(Arc::from),
                });
            }
        }
        if !keys.is_empty() {
            set.keys.entry(kid.into()).or_insert(keys);
        }
    }
    if set.keys.is_empty() {
        return Err(FetchError::Invalid("no usable signing keys"));
    }
    Ok(set)
}

fn parse_key(jwk: &Jwk, alg: Algorithm) -> Option<ParsedPublicKey> {
    if alg.is_rsa() {
        if jwk.kty != "RSA" {
            return None;
        }
        let n = URL_SAFE_NO_PAD.decode(jwk.n.as_deref()?).ok()?;
        let e = URL_SAFE_NO_PAD.decode(jwk.e.as_deref()?).ok()?;
        let n = strip_leading_zeros(&n);
        // RFC 7518 §3.3: keys of 2048 bits or larger MUST be used.
        if n.len() < 256 {
            return None;
        }
        let params = match alg {
            Algorithm::Ps256 => &signature::RSA_PSS_2048_8192_SHA256,
            _ => &signature::RSA_PKCS1_2048_8192_SHA256,
        };
        RsaPublicKeyComponents {
            n,
            e: strip_leading_zeros(&e),
        }
        .to_parsed_public_key(params)
        .ok()
    } else {
        if jwk.kty != "EC" || jwk.crv.as_deref() != Some("P-256") {
            return None;
        }
        let x = URL_SAFE_NO_PAD.decode(jwk.x.as_deref()?).ok()?;
        let y = URL_SAFE_NO_PAD.decode(jwk.y.as_deref()?).ok()?;
        if x.len() != 32 || y.len() != 32 {
            return None;
        }
        let mut point = Vec::with_capacity(65);
        point.push(4);
        point.extend_from_slice(&x);
        point.extend_from_slice(&y);
        ParsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point).ok()
    }
}

fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    &bytes[start..]
}

/// A key lookup in one key set.
pub(crate) enum KeyLookup<'a> {
    /// The key, and its `issuer` when the JWKS publishes one.
    Found(&'a ParsedPublicKey, Option<&'a Arc<str>>),
    /// The `kid` exists, but not for the token's `alg` (algorithm confusion, or a key restricted
    /// to another algorithm): never a reason to refetch.
    WrongAlgorithm,
    Missing,
}

/// What the request path may do about a missing `kid`.
pub(crate) enum Lookup {
    /// The kid is unknown and a refresh may find it: call [`JwksCache::refresh_for_unknown_kid`].
    Refreshable,
    /// The kid is unknown and no refresh is allowed now.
    Unknown,
}

/// Outcome of the slow path for an unknown `kid`.
pub(crate) enum Refreshed {
    /// The key set may have changed: look again.
    Retry,
    /// Nothing changed, and the cooldown forbids another fetch.
    Unknown,
    /// No keys were ever loaded and fetching failed.
    Unavailable,
}

/// The JWKS cache shared by every clone of a [`Validator`](crate::Validator).
///
/// ```no_run
/// # async fn f(validator: edit_profile_middleware::Validator) {
/// // Load keys before serving traffic (otherwise the first request does it).
/// validator.jwks().refresh().await.ok();
/// # }
/// ```
#[derive(Clone)]
pub struct JwksCache {
    inner: Arc<Inner>,
}

struct Inner {
    source: Source,
    algorithms: Vec<Algorithm>,
    keys: ArcSwap<KeySet>,
    generation: AtomicU64,
    epoch: Instant,
    refresh_interval: Duration,
    cooldown: Duration,
    /// Milliseconds since `epoch` of the last unknown-`kid` fetch; `u64::MAX` = never.
    last_attempt_ms: AtomicU64,
    /// Unix seconds (on the validator's clock) when the periodic refresh is due; `u64::MAX` = never.
    next_refresh_secs: AtomicU64,
    time_fn: Option<TimeFn>,
    in_flight: AtomicBool,
    /// Completed fetch attempts, so that a queued background refresh can see it is redundant.
    fetches: AtomicU64,
    /// Serialises fetches; never taken on the request path for known keys.
    fetch_lock: tokio::sync::Mutex<()>,
}

enum Source {
    Static,
    Remote {
        uri: String,
        fetch: Arc<dyn HttpFetch>,
    },
}

impl fmt::Debug for JwksCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let uri = match &self.inner.source {
            Source::Static => "<static>",
            Source::Remote { uri, .. } => uri.as_str(),
        };
        f.debug_struct("JwksCache")
            .field("jwks_uri", &uri)
            .field("keys", &self.inner.keys.load().keys.len())
            .field("generation", &self.generation())
            .finish_non_exhaustive()
    }
}

impl JwksCache {
    pub(crate) fn remote(
        uri: String,
        fetch: Arc<dyn HttpFetch>,
        algorithms: Vec<Algorithm>,
        refresh_interval: Duration,
        cooldown: Duration,
        time_fn: Option<TimeFn>,
    ) -> Self {
        Self::new(
            Source::Remote { uri, fetch },
            algorithms,
            KeySet::empty(),
            refresh_interval,
            cooldown,
            time_fn,
        )
    }

    pub(crate) fn fixed(json: &[u8], algorithms: Vec<Algorithm>) -> Result<Self, FetchError> {
        let mut set = parse_jwks(json, &algorithms)?;
        set.generation = 1;
        Ok(Self::new(
            Source::Static,
            algorithms,
            set,
            Duration::MAX,
            Duration::MAX,
            None,
        ))
    }

    fn new(
        source: Source,
        algorithms: Vec<Algorithm>,
        set: KeySet,
        refresh_interval: Duration,
        cooldown: Duration,
        time_fn: Option<TimeFn>,
    ) -> Self {
        let generation = set.generation;
        let is_static = matches!(source, Source::Static);
        Self {
            inner: Arc::new(Inner {
                source,
                algorithms,
                keys: ArcSwap::from_pointee(set),
                generation: AtomicU64::new(generation),
                epoch: Instant::now(),
                refresh_interval,
                cooldown,
                last_attempt_ms: AtomicU64::new(u64::MAX),
                next_refresh_secs: AtomicU64::new(if is_static { u64::MAX } else { 0 }),
                time_fn,
                in_flight: AtomicBool::new(false),
                fetches: AtomicU64::new(0),
                fetch_lock: tokio::sync::Mutex::new(()),
            }),
        }
    }

    /// The current key-set generation; it changes whenever a fetch brings different keys.
    pub fn generation(&self) -> u64 {
        self.inner.generation.load(Ordering::Acquire)
    }

    /// How many key ids the current set holds.
    pub fn key_count(&self) -> usize {
        self.inner.keys.load().keys.len()
    }

    /// Fetches the JWKS now (single-flight) and swaps in the new keys if they parse.
    ///
    /// On failure the previous keys stay in use. This ignores the unknown-`kid` cooldown; it is
    /// meant for warm-up and operator actions, not for the request path.
    ///
    /// # Errors
    ///
    /// A [`FetchError`] if the endpoint failed or served no usable keys.
    pub async fn refresh(&self) -> Result<(), FetchError> {
        let _guard = self.inner.fetch_lock.lock().await;
        self.fetch_and_store(false).await
    }

    /// Runs `f` with the current key set (no lock: an atomic load).
    #[inline]
    pub(crate) fn with_keys<T>(&self, f: impl FnOnce(&KeySet) -> T) -> T {
        let guard = self.inner.keys.load();
        f(&guard)
    }

    /// What to do about a `kid` that is not in key-set generation `seen`, the set the caller
    /// looked it up in.
    ///
    /// Refreshable while a fetch is in flight, once the cooldown has passed, and when the set
    /// has changed since the caller's lookup (the slow path then retries at once). Without the
    /// last, a request that looked its `kid` up just before a fetch stored the keys was refused
    /// with `UnknownKey` (or `KeysUnavailable` at start-up): `cargo xtask load --scaling` saw
    /// one such 401 when two workers started on a cold key set. The order of the reads matters:
    /// `fetch_and_store` raises `in_flight` before stamping the attempt and lowers it only after
    /// storing the keys, so a caller that sees the fresh stamp sees the fetch in flight or its
    /// new generation.
    pub(crate) fn on_unknown_kid(&self, seen: u64) -> Lookup {
        if matches!(self.inner.source, Source::Static) {
            return Lookup::Unknown;
        }
        if self.cooldown_elapsed()
            || self.inner.in_flight.load(Ordering::Acquire)
            || self.generation() != seen
        {
            Lookup::Refreshable
        } else {
            Lookup::Unknown
        }
    }

    /// The slow path: at most one fetch per cooldown, shared by all concurrent callers.
    ///
    /// `seen` is the generation of the key set the caller looked the `kid` up in.
    pub(crate) async fn refresh_for_unknown_kid(&self, seen: u64) -> Refreshed {
        let _guard = self.inner.fetch_lock.lock().await;
        if self.generation() != seen {
            // Someone else fetched new keys while we waited.
            return Refreshed::Retry;
        }
        if !self.cooldown_elapsed() {
            return self.unknown_or_unavailable();
        }
        match self.fetch_and_store(true).await {
            Ok(()) if self.generation() != seen => Refreshed::Retry,
            _ => self.unknown_or_unavailable(),
        }
    }

    fn unknown_or_unavailable(&self) -> Refreshed {
        if self.inner.keys.load().keys.is_empty() {
            Refreshed::Unavailable
        } else {
            Refreshed::Unknown
        }
    }

    /// Starts the periodic refresh in the background when it is due. Request path: one atomic
    /// load and a compare with the `now` the validator already read (a clock read costs more).
    #[inline]
    pub(crate) fn maybe_refresh_in_background(&self, now: u64) {
        let due = self.inner.next_refresh_secs.load(Ordering::Relaxed);
        if now < due {
            return;
        }
        self.spawn_refresh(due, now);
    }

    #[cold]
    fn spawn_refresh(&self, due: u64, now: u64) {
        // Claim this refresh: only the caller that moves the due time forward spawns it.
        let retry_at = now.saturating_add(self.inner.cooldown.as_secs().max(1));
        if self
            .inner
            .next_refresh_secs
            .compare_exchange(due, retry_at, Ordering::AcqRel, Ordering::Relaxed)
            .is_err()
        {
            return;
        }
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let this = self.clone();
        let fetches = self.inner.fetches.load(Ordering::Acquire);
        handle.spawn(async move {
            let _guard = this.inner.fetch_lock.lock().await;
            if this.inner.fetches.load(Ordering::Acquire) != fetches {
                // Another fetch (an unknown kid, an operator refresh) ran while this one queued.
                return;
            }
            if let Err(error) = this.fetch_and_store(false).await {
                tracing::warn!(%error, "background jwks refresh failed; keeping the current keys");
            }
        });
    }

    fn unix_now(&self) -> u64 {
        unix_secs(self.inner.time_fn.as_ref())
    }

    fn cooldown_elapsed(&self) -> bool {
        let last = self.inner.last_attempt_ms.load(Ordering::Acquire);
        last == u64::MAX || self.now_ms().saturating_sub(last) >= duration_ms(self.inner.cooldown)
    }

    fn now_ms(&self) -> u64 {
        duration_ms(self.inner.epoch.elapsed())
    }

    /// Fetches, parses and stores. Callers hold `fetch_lock`.
    ///
    /// Only fetches caused by unknown `kid`s start the cooldown: warm-up and the periodic refresh
    /// are not attacker-triggered and must not delay picking up a rotated key.
    async fn fetch_and_store(&self, unknown_kid: bool) -> Result<(), FetchError> {
        let Source::Remote { uri, fetch } = &self.inner.source else {
            return Ok(());
        };
        // Raised before the attempt is stamped and lowered after the keys are stored (see
        // `on_unknown_kid`).
        self.inner.in_flight.store(true, Ordering::Release);
        if unknown_kid {
            self.inner
                .last_attempt_ms
                .store(self.now_ms(), Ordering::Release);
        }
        let result = fetch.get(uri).await;
        let stored = self.store_fetched(result);
        self.inner.in_flight.store(false, Ordering::Release);
        stored
    }

    fn store_fetched(&self, result: Result<Vec<u8>, FetchError>) -> Result<(), FetchError> {
        let Source::Remote { uri, .. } = &self.inner.source else {
            return Ok(());
        };
        self.inner.fetches.fetch_add(1, Ordering::AcqRel);
        let parsed = result.and_then(|body| parse_jwks(&body, &self.inner.algorithms));
        let mut set = match parsed {
            Ok(set) => set,
            Err(error) => {
                tracing::warn!(%error, jwks_uri = %uri, "jwks fetch failed; keeping the last good keys");
                return Err(error);
            }
        };
        let current = self.inner.keys.load();
        if current.same_keys(&set) {
            tracing::debug!("jwks unchanged");
        } else {
            set.generation = current.generation + 1;
            tracing::info!(
                keys = set.keys.len(),
                generation = set.generation,
                "jwks updated"
            );
            let generation = set.generation;
            self.inner.keys.store(Arc::new(set));
            self.inner.generation.store(generation, Ordering::Release);
        }
        let next = self
            .unix_now()
            .saturating_add(jittered_ms(self.inner.refresh_interval) / 1000);
        self.inner.next_refresh_secs.store(next, Ordering::Release);
        Ok(())
    }
}

/// The validator's clock (default [`SystemTime::now`]).
pub(crate) type TimeFn = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// Seconds since the Unix epoch on `time_fn`, or on the system clock.
pub(crate) fn unix_secs(time_fn: Option<&TimeFn>) -> u64 {
    match time_fn {
        Some(f) => f().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()),
        None => system_unix_secs(),
    }
}

/// The system clock in whole seconds, read once per request.
///
/// On Linux this is `CLOCK_REALTIME_COARSE`: the wall time at the last timer tick (a few
/// milliseconds old at most), read from the vDSO without reading the TSC. On a KVM guest it
/// costs about 5 ns against about 35 ns for `SystemTime::now()`, a fifth of the layer's own
/// overhead on a cache hit, and lifetimes are checked in whole seconds with minutes of skew.
#[cfg(target_os = "linux")]
fn system_unix_secs() -> u64 {
    let now = rustix::time::clock_gettime(rustix::time::ClockId::RealtimeCoarse);
    u64::try_from(now.tv_sec).unwrap_or(0)
}

#[cfg(not(target_os = "linux"))]
fn system_unix_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn duration_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// 90–100 % of the interval, so that instances started together spread their refreshes.
fn jittered_ms(interval: Duration) -> u64 {
    let ms = duration_ms(interval);
    let mut r = [0u8; 2];
    let random = if aws_lc_rs::rand::fill(&mut r).is_ok() {
        u64::from(u16::from_le_bytes(r))
    } else {
        0
    };
    ms - (ms / 10).saturating_mul(random) / 65_536
}

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

    fn rsa_jwk(kid: &str, extra: &str) -> String {
        let n = URL_SAFE_NO_PAD.encode([0xC1u8; 256]);
        format!(r#"{{"kty":"RSA","kid":"{kid}","n":"{n}","e":"AQAB"{extra}}}"#)
    }

    #[tokio::test]
    async fn a_lookup_that_raced_a_finished_fetch_is_retried_not_refused() {
        let json = format!(r#"{{"keys":[{}]}}"#, rsa_jwk("good", ""));
        let fetch: Arc<dyn HttpFetch> = Arc::new(move |_url: String| {
            let json = json.clone();
            async move { Ok::<_, FetchError>(json.into_bytes()) }
        });
        let cache = JwksCache::remote(
            "https://login.example.test/keys".to_owned(),
            fetch,
            vec![Algorithm::Rs256],
            Duration::from_secs(3600),
            Duration::from_secs(30),
            None,
        );
        // Two requests look the kid up in the empty start-up set...
        let seen = cache.generation();
        assert!(matches!(cache.on_unknown_kid(seen), Lookup::Refreshable));
        // ...one fetches the keys, which starts the cooldown...
        assert!(matches!(
            cache.refresh_for_unknown_kid(seen).await,
            Refreshed::Retry
        ));
        // ...and the other, asking only now, must retry rather than be refused.
        assert!(
            matches!(cache.on_unknown_kid(seen), Lookup::Refreshable),
            "the key set changed since the lookup"
        );
        assert!(matches!(
            cache.refresh_for_unknown_kid(seen).await,
            Refreshed::Retry
        ));
        // A kid missing from the current set within the cooldown is still refused at once.
        assert!(matches!(
            cache.on_unknown_kid(cache.generation()),
            Lookup::Unknown
        ));
        assert_eq!(cache.inner.fetches.load(Ordering::Acquire), 1);
    }

    #[test]
    fn ignores_unusable_keys() {
        let short_n = URL_SAFE_NO_PAD.encode([0xC1u8; 128]);
        let json = format!(
            r#"{{"keys":[{},{},{},{},{},{{"kty":"RSA","kid":"short","n":"{short_n}","e":"AQAB"}},{{"kty":"oct","kid":"hmac","k":"AAAA"}},{}]}}"#,
            rsa_jwk("good", r#","use":"sig","alg":"RS256""#),
            rsa_jwk("enc", r#","use":"enc""#),
            rsa_jwk("ps", r#","alg":"PS256""#),
            rsa_jwk("hs", r#","alg":"HS256""#),
            rsa_jwk("noalg", ""),
            r#"{"kty":"RSA","n":"AQAB","e":"AQAB"}"#,
        );
        let set = parse_jwks(json.as_bytes(), &[Algorithm::Rs256]).unwrap();
        let found = |set: &KeySet, kid, alg| matches!(set.find(kid, alg), KeyLookup::Found(..));
        assert!(found(&set, "good", Algorithm::Rs256));
        assert!(found(&set, "noalg", Algorithm::Rs256));
        for kid in ["enc", "ps", "hs", "short", "hmac"] {
            assert!(!found(&set, kid, Algorithm::Rs256), "{kid}");
        }
        let set = parse_jwks(json.as_bytes(), &[Algorithm::Rs256, Algorithm::Ps256]).unwrap();
        assert!(found(&set, "ps", Algorithm::Ps256));
        assert!(matches!(
            set.find("ps", Algorithm::Rs256),
            KeyLookup::WrongAlgorithm
        ));
        assert!(found(&set, "noalg", Algorithm::Ps256));
    }

    #[test]
    fn empty_or_invalid_documents_are_errors() {
        assert!(parse_jwks(b"{}", &[Algorithm::Rs256]).is_err());
        assert!(parse_jwks(br#"{"keys":[]}"#, &[Algorithm::Rs256]).is_err());
        assert!(parse_jwks(b"not json", &[Algorithm::Rs256]).is_err());
    }

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

    #[test]
    fn jitter_stays_within_ten_percent() {
        for _ in 0..100 {
            let j = jittered_ms(Duration::from_secs(1000));
            assert!((900_000..=1_000_000).contains(&j), "{j}");
        }
    }

    #[test]
    fn fetch_error_is_send_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<FetchError>();
        assert_send_sync::<JwksCache>();
    }
}
