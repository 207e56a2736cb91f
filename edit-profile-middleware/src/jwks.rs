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
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;

use crate::algorithm::Algorithm;
use crate::clock::{TimeFn, unix_secs};
use crate::fetch::{FetchError, HttpFetch};
use crate::keys::{KeySet, parse_jwks};

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
            .field("keys", &self.inner.keys.load().len())
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
        self.inner.keys.load().len()
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
        if self.inner.keys.load().is_empty() {
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
                keys = set.len(),
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

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

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
