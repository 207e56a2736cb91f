//! The on-behalf-of cache: access tokens and the OBO refresh token, partitioned by the hash of
//! the incoming assertion (MSAL.NET `UserAssertion.AssertionHash`, msal-node's recommended
//! partition key for web APIs), plus the conversion to and from MSAL's cache schema.
//!
//! A partition lives as long as its assertion: once the incoming token has expired, the API
//! rejects it and can never present it again, so the partition is unreachable and a sweep
//! (every [`SWEEP_EVERY`] stores) drops it, refresh token included. This bounds memory by the
//! number of live incoming tokens.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use foldhash::fast::RandomState;
use hashbrown::HashMap;

use super::single_flight::SingleFlight;
use super::{CachedToken, PartitionMap, ScopeKey};
use crate::result::AccessToken;
use crate::schema::{self, CacheDocument, CacheSecret, UnixTime};
use crate::{AuthenticationResult, Error, Scopes};

/// How many stores happen between two sweeps of dead partitions.
const SWEEP_EVERY: u64 = 256;

/// What a partition holds besides its access tokens.
struct PartitionMeta {
    /// The OBO refresh token (long-running OBO), when the server returned one.
    refresh_token: Option<RefreshSecret>,
    /// Unix seconds after which nobody can present the assertion again (its `exp`), or the
    /// latest access-token expiry when the assertion carries no `exp`.
    deadline: u64,
}

/// A refresh token: `Debug` is redacted.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct RefreshSecret(Arc<str>);

impl RefreshSecret {
    pub(crate) fn new(secret: impl Into<Arc<str>>) -> Self {
        Self(secret.into())
    }

    pub(crate) fn secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for RefreshSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RefreshSecret([redacted])")
    }
}

/// The OBO side of the token cache, one per client.
pub(crate) struct OboCache {
    /// Access tokens by partition (`hash`, or `hash|authority` for a per-request authority),
    /// then by scopes.
    pub(crate) tokens: PartitionMap,
    meta: RwLock<HashMap<Box<str>, PartitionMeta, RandomState>>,
    stores: AtomicU64,
    /// One network exchange per (partition, scopes) at a time.
    pub(crate) flights: Arc<SingleFlight<Result<AuthenticationResult, Error>>>,
}

impl Default for OboCache {
    fn default() -> Self {
        Self {
            tokens: PartitionMap::default(),
            meta: RwLock::default(),
            stores: AtomicU64::new(0),
            flights: SingleFlight::new(),
        }
    }
}

impl OboCache {
    /// The partition's refresh token.
    pub(crate) fn refresh_token(&self, partition: &str) -> Option<RefreshSecret> {
        let meta = self.meta.read().unwrap_or_else(|p| p.into_inner());
        meta.get(partition)?.refresh_token.clone()
    }

    /// Forgets the partition's refresh token if it is still `rejected` (the server refused it).
    pub(crate) fn forget_refresh_token(&self, partition: &str, rejected: &RefreshSecret) {
        let mut meta = self.meta.write().unwrap_or_else(|p| p.into_inner());
        if let Some(m) = meta.get_mut(partition)
            && m.refresh_token.as_ref() == Some(rejected)
        {
            m.refresh_token = None;
        }
    }

    /// The tenant of the partition's tokens (a long-running session renews in it).
    pub(crate) fn tenant_of(&self, partition: &str) -> Option<Arc<str>> {
        let partitions = self
            .tokens
            .partitions
            .read()
            .unwrap_or_else(|p| p.into_inner());
        partitions
            .get(partition)?
            .by_scopes
            .values()
            .find_map(|t| t.tenant_id.clone())
    }

    /// Drops a partition: its tokens and its refresh token (a long-running session ends).
    /// Whether there was anything to drop.
    pub(crate) fn remove(&self, partition: &str) -> bool {
        let mut meta = self.meta.write().unwrap_or_else(|p| p.into_inner());
        let mut tokens = self
            .tokens
            .partitions
            .write()
            .unwrap_or_else(|p| p.into_inner());
        let had_meta = meta.remove(partition).is_some();
        tokens.remove(partition).is_some() || had_meta
    }

    /// Stores a newly acquired token (and refresh token, when one came back; otherwise the
    /// current one is kept). `deadline`: see [`PartitionMeta::deadline`].
    pub(crate) fn store(
        &self,
        partition: &str,
        requested: &Scopes,
        token: Arc<CachedToken>,
        refresh_token: Option<RefreshSecret>,
        deadline: u64,
        now: u64,
    ) {
        let deadline = deadline.max(token.expires_on);
        self.tokens.insert(partition, requested, token, now);
        {
            let mut meta = self.meta.write().unwrap_or_else(|p| p.into_inner());
            let entry = match meta.get_mut(partition) {
                Some(entry) => entry,
                None => meta.entry(partition.into()).or_insert(PartitionMeta {
                    refresh_token: None,
                    deadline,
                }),
            };
            entry.deadline = entry.deadline.max(deadline);
            if refresh_token.is_some() {
                entry.refresh_token = refresh_token;
            }
        }
        if self.stores.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            self.sweep(now);
        }
    }

    /// Drops partitions whose assertion has expired (and whose tokens have too).
    fn sweep(&self, now: u64) {
        let mut meta = self.meta.write().unwrap_or_else(|p| p.into_inner());
        let mut tokens = self
            .tokens
            .partitions
            .write()
            .unwrap_or_else(|p| p.into_inner());
        meta.retain(|_, m| m.deadline > now);
        tokens.retain(|key, partition| {
            meta.contains_key(key) || partition.by_scopes.values().any(|t| t.expires_on > now)
        });
    }

    /// Imports what a [`CacheStore`](crate::persistence::CacheStore) held for this partition
    /// (written by this or another instance, or by an MSAL app): access tokens of `client_id`
    /// at `environment` with this assertion hash that are still valid and newer than what
    /// memory holds, and the refresh token when memory has none.
    pub(crate) fn import(&self, partition: &str, stored: &StoredPartition<'_>, now: u64) {
        let mut imported = Vec::new();
        for at in stored.document.access_tokens.values() {
            if !stored.owns(
                &at.client_id,
                &at.environment,
                at.user_assertion_hash.as_deref(),
            ) {
                continue;
            }
            if let Some(token) = from_schema(at, now) {
                imported.push(token);
            }
        }
        let refresh_token = stored
            .document
            .refresh_tokens
            .values()
            .filter(|rt| {
                stored.owns(
                    &rt.client_id,
                    &rt.environment,
                    rt.user_assertion_hash.as_deref(),
                )
            })
            .map(|rt| RefreshSecret::new(rt.secret.secret()))
            .next();
        let deadline = imported
            .iter()
            .map(|t| t.expires_on)
            .max()
            .unwrap_or(0)
            .max(stored.deadline);
        if !imported.is_empty() {
            let mut partitions = self
                .tokens
                .partitions
                .write()
                .unwrap_or_else(|p| p.into_inner());
            let entry = match partitions.get_mut(partition) {
                Some(entry) => entry,
                None => partitions.entry(partition.into()).or_default(),
            };
            for token in imported {
                let newer = entry
                    .by_scopes
                    .get(token.scopes.key())
                    .is_none_or(|mine| mine.expires_on < token.expires_on);
                if newer {
                    entry
                        .by_scopes
                        .insert(ScopeKey(token.scopes.clone()), token);
                }
            }
        }
        if refresh_token.is_some() || deadline > now {
            let mut meta = self.meta.write().unwrap_or_else(|p| p.into_inner());
            let entry = match meta.get_mut(partition) {
                Some(entry) => entry,
                None => meta.entry(partition.into()).or_insert(PartitionMeta {
                    refresh_token: None,
                    deadline,
                }),
            };
            entry.deadline = entry.deadline.max(deadline);
            if entry.refresh_token.is_none() {
                entry.refresh_token = refresh_token;
            }
        }
    }

    /// The number of partitions holding access tokens (tests).
    #[cfg(test)]
    pub(crate) fn partition_count(&self) -> usize {
        self.tokens.partition_count()
    }
}

/// A stored partition and who may use its entries.
pub(crate) struct StoredPartition<'a> {
    pub(crate) document: &'a CacheDocument,
    pub(crate) client_id: &'a str,
    pub(crate) environment: &'a str,
    pub(crate) assertion_hash: &'a str,
    pub(crate) deadline: u64,
}

impl StoredPartition<'_> {
    fn owns(&self, client_id: &str, environment: &str, hash: Option<&str>) -> bool {
        client_id.eq_ignore_ascii_case(self.client_id)
            && crate::cloud::known().same_cloud(environment, self.environment)
            && hash == Some(self.assertion_hash)
    }
}

/// A cached token from its MSAL schema entry; `None` when expired or unusable.
pub(crate) fn from_schema(at: &schema::AccessToken, now: u64) -> Option<Arc<CachedToken>> {
    let expires_on = u64::try_from(at.expires_on.as_secs()).ok()?;
    if expires_on <= now || at.key_id.is_some() {
        // Proof-of-possession tokens need their key, which this cache does not hold.
        return None;
    }
    let scopes = Scopes::from_server(at.target.as_deref()?)?;
    let secs = |t: Option<UnixTime>| t.and_then(|t| u64::try_from(t.as_secs()).ok());
    Some(Arc::new(CachedToken {
        access_token: AccessToken::new(at.secret.secret()),
        token_type: super::token_type(at.token_type.as_deref().unwrap_or("Bearer")),
        scopes,
        expires_on,
        ext_expires_on: secs(at.extended_expiry()).into(),
        refresh_on: secs(at.refresh_on).into(),
        tenant_id: at.realm.as_deref().map(Arc::from),
    }))
}

/// What the schema entries of an OBO token need beyond the token itself.
pub(crate) struct EntryContext<'a> {
    pub(crate) client_id: &'a str,
    pub(crate) environment: &'a str,
    pub(crate) assertion_hash: &'a str,
    pub(crate) home_account_id: Option<&'a str>,
    pub(crate) cached_at: u64,
    /// The scopes asked for. When the grant does not name them all (a `.default` request is
    /// answered with the individual scopes), they are added to `target`, so that another
    /// instance importing the entry finds it for the same request.
    pub(crate) requested: Option<&'a Scopes>,
}

fn unix(secs: u64) -> UnixTime {
    UnixTime::from_secs(i64::try_from(secs).unwrap_or(i64::MAX))
}

/// The MSAL schema access token for `token` (with `user_assertion_hash`, written in both the
/// MSAL.NET and msal-node spellings by the schema module).
pub(crate) fn to_schema(token: &CachedToken, cx: &EntryContext<'_>) -> schema::AccessToken {
    let mut at = schema::AccessToken::new(
        crate::cloud::known().cache_host(cx.environment),
        cx.client_id,
        CacheSecret::new(token.access_token.secret()),
        unix(token.expires_on),
    );
    at.home_account_id = cx.home_account_id.map(str::to_owned);
    at.realm = token.tenant_id.as_deref().map(str::to_owned);
    let target = match cx.requested {
        // Only a `/.default` request is recorded beside a grant that does not name it; a
        // grant of fewer named scopes is keyed by what was granted (MSAL keys by the
        // response's `scope`).
        Some(requested)
            if !token.scopes.contains_all(requested)
                && super::answers_request(&token.scopes, requested) =>
        {
            Scopes::new([token.scopes.as_str(), requested.as_str()])
                .map(|s| s.as_str().to_owned())
                .unwrap_or_else(|_| token.scopes.as_str().to_owned())
        }
        _ => token.scopes.as_str().to_owned(),
    };
    at.target = Some(target);
    at.cached_at = Some(unix(cx.cached_at));
    at.extended_expires_on = token.ext_expires_on.get().map(unix);
    at.refresh_on = token.refresh_on.get().map(unix);
    if !token.token_type.eq_ignore_ascii_case("bearer") {
        at.token_type = Some(token.token_type.to_string());
        at.credential_type = schema::CREDENTIAL_ACCESS_TOKEN_WITH_AUTH_SCHEME.to_owned();
    }
    at.user_assertion_hash = Some(cx.assertion_hash.to_owned());
    at
}

/// The MSAL schema refresh token of a long-running OBO partition (MSAL.NET keeps it with the
/// `user_assertion_hash`; msal-node does not persist OBO refresh tokens at all).
pub(crate) fn refresh_to_schema(rt: &RefreshSecret, cx: &EntryContext<'_>) -> schema::RefreshToken {
    let mut entry = schema::RefreshToken::new(
        crate::cloud::known().cache_host(cx.environment),
        cx.client_id,
        CacheSecret::new(rt.secret()),
    );
    entry.home_account_id = cx.home_account_id.map(str::to_owned);
    entry.user_assertion_hash = Some(cx.assertion_hash.to_owned());
    entry
}

/// Changes a stored partition: drops this client's expired access tokens, then adds `at`
/// (replacing an entry with the same key) and `rt`.
pub(crate) fn apply(
    doc: &mut CacheDocument,
    at: &schema::AccessToken,
    rt: Option<&schema::RefreshToken>,
    now: u64,
) {
    let now = unix(now);
    doc.access_tokens
        .retain(|_, t| !t.client_id.eq_ignore_ascii_case(&at.client_id) || t.expires_on > now);
    doc.insert_access_token(at.clone());
    if let Some(rt) = rt {
        doc.refresh_tokens.retain(|_, r| {
            !(r.client_id.eq_ignore_ascii_case(&rt.client_id)
                && r.user_assertion_hash == rt.user_assertion_hash)
        });
        doc.insert_refresh_token(rt.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::Lookup;

    fn token(scopes: &str, secret: &str, expires_on: u64) -> Arc<CachedToken> {
        Arc::new(CachedToken {
            access_token: AccessToken::new(secret),
            token_type: "Bearer".into(),
            scopes: Scopes::new([scopes]).unwrap(),
            expires_on,
            ext_expires_on: Some(expires_on + 10).into(),
            refresh_on: None.into(),
            tenant_id: Some("tid".into()),
        })
    }

    fn cx() -> EntryContext<'static> {
        EntryContext {
            client_id: "api",
            environment: "login.example.com",
            assertion_hash: "h",
            home_account_id: Some("oid.tid"),
            cached_at: 100,
            requested: None,
        }
    }

    fn hit(cache: &OboCache, partition: &str, scopes: &str, now: u64) -> Option<String> {
        match cache
            .tokens
            .lookup(partition, &Scopes::new([scopes]).unwrap(), now, 0)
        {
            Lookup::Fresh(t) | Lookup::RefreshDue(t) => Some(t.access_token.secret().to_owned()),
            Lookup::Miss => None,
        }
    }

    #[test]
    fn refresh_tokens_are_kept_replaced_and_forgotten() {
        let cache = OboCache::default();
        let rt = RefreshSecret::new("rt1");
        cache.store(
            "h",
            &Scopes::new(["a"]).unwrap(),
            token("a", "at", 1000),
            Some(rt.clone()),
            0,
            0,
        );
        assert_eq!(cache.refresh_token("h"), Some(rt.clone()));
        // A response without a refresh token keeps the current one.
        cache.store(
            "h",
            &Scopes::new(["a"]).unwrap(),
            token("a", "at2", 2000),
            None,
            0,
            0,
        );
        assert_eq!(cache.refresh_token("h"), Some(rt.clone()));
        cache.forget_refresh_token("h", &RefreshSecret::new("other"));
        assert!(cache.refresh_token("h").is_some());
        cache.forget_refresh_token("h", &rt);
        assert!(cache.refresh_token("h").is_none());
        assert_eq!(format!("{rt:?}"), "RefreshSecret([redacted])");
    }

    #[test]
    fn sweep_drops_partitions_whose_assertion_expired() {
        let cache = OboCache::default();
        let s = Scopes::new(["a"]).unwrap();
        // Assertion valid until 5000, token until 1000.
        cache.store("live", &s, token("a", "x", 1000), None, 5000, 0);
        cache.store(
            "dead",
            &s,
            token("a", "y", 1000),
            Some(RefreshSecret::new("r")),
            1500,
            0,
        );
        for i in 0..SWEEP_EVERY {
            cache.store(&format!("p{i}"), &s, token("a", "z", 1100), None, 0, 0);
        }
        assert!(cache.partition_count() > 2);
        // The next sweep at now = 2000 keeps only "live".
        for _ in 0..SWEEP_EVERY {
            cache.store("live", &s, token("a", "x", 9000), None, 0, 2000);
        }
        assert_eq!(cache.partition_count(), 1);
        assert!(cache.refresh_token("dead").is_none());
        assert_eq!(hit(&cache, "live", "a", 2000).as_deref(), Some("x"));
    }

    #[test]
    fn sweep_keeps_long_running_sessions_and_remove_drops_them() {
        let cache = OboCache::default();
        let s = Scopes::new(["a"]).unwrap();
        // A long-running session (deadline u64::MAX) whose token expired long ago.
        cache.store(
            "session",
            &s,
            token("a", "x", 1000),
            Some(RefreshSecret::new("r")),
            u64::MAX,
            0,
        );
        for i in 0..SWEEP_EVERY {
            cache.store(&format!("p{i}"), &s, token("a", "z", 1100), None, 0, 5000);
        }
        assert_eq!(
            cache.refresh_token("session"),
            Some(RefreshSecret::new("r"))
        );
        assert_eq!(cache.tenant_of("session").as_deref(), Some("tid"));
        assert!(cache.remove("session"));
        assert!(!cache.remove("session"));
        assert!(cache.refresh_token("session").is_none());
        assert!(cache.tenant_of("session").is_none());
    }

    #[test]
    fn schema_round_trip_and_import_rules() {
        let t = token("User.ReadWrite openid", "secret-at", 5000);
        let at = to_schema(&t, &cx());
        assert_eq!(at.user_assertion_hash.as_deref(), Some("h"));
        assert_eq!(at.target.as_deref(), Some("User.ReadWrite openid"));
        let default = Scopes::new(["https://graph.microsoft.com/.default"]).unwrap();
        let with_default = to_schema(
            &t,
            &EntryContext {
                requested: Some(&default),
                ..cx()
            },
        );
        assert_eq!(
            with_default.target.as_deref(),
            Some("User.ReadWrite openid https://graph.microsoft.com/.default")
        );
        let covered = Scopes::new(["user.readwrite"]).unwrap();
        let plain = to_schema(
            &t,
            &EntryContext {
                requested: Some(&covered),
                ..cx()
            },
        );
        assert_eq!(plain.target.as_deref(), Some("User.ReadWrite openid"));
        assert_eq!(at.realm.as_deref(), Some("tid"));
        let rt = refresh_to_schema(&RefreshSecret::new("secret-rt"), &cx());
        let mut doc = CacheDocument::new();
        // An expired token of ours is dropped on apply; another client's is kept.
        let mut old = to_schema(&token("x", "old", 50), &cx());
        old.target = Some("old".into());
        doc.insert_access_token(old);
        let mut foreign = to_schema(&token("x", "foreign", 50), &cx());
        foreign.client_id = "other".into();
        doc.insert_access_token(foreign);
        apply(&mut doc, &at, Some(&rt), 100);
        assert_eq!(doc.access_tokens.len(), 2);
        assert_eq!(doc.refresh_tokens.len(), 1);
        let json = doc.to_json();
        assert!(json.contains("\"user_assertion_hash\":\"h\""), "{json}");
        assert!(json.contains("\"userAssertionHash\":\"h\""), "{json}");

        let doc = CacheDocument::from_json(&json).unwrap();
        let cache = OboCache::default();
        let stored = StoredPartition {
            document: &doc,
            client_id: "API",
            environment: "login.example.com",
            assertion_hash: "h",
            deadline: 0,
        };
        cache.import("h", &stored, 200);
        assert_eq!(
            hit(&cache, "h", "user.readwrite", 200).as_deref(),
            Some("secret-at")
        );
        assert_eq!(
            cache.refresh_token("h"),
            Some(RefreshSecret::new("secret-rt"))
        );
        // Nothing for another hash or another environment.
        let other = OboCache::default();
        for (env, hash) in [("login.example.com", "g"), ("elsewhere", "h")] {
            other.import(
                "x",
                &StoredPartition {
                    document: &doc,
                    client_id: "api",
                    environment: env,
                    assertion_hash: hash,
                    deadline: 0,
                },
                200,
            );
        }
        assert_eq!(other.partition_count(), 0);
        assert!(other.refresh_token("x").is_none());
        // Expired entries are not imported; a newer token in memory is not replaced.
        let later = OboCache::default();
        later.import("h", &stored, 6000);
        assert!(hit(&later, "h", "user.readwrite", 0).is_none());
        let newer = OboCache::default();
        let s = Scopes::new(["User.ReadWrite openid"]).unwrap();
        newer.store(
            "h",
            &s,
            token("User.ReadWrite openid", "newer", 9000),
            None,
            0,
            0,
        );
        newer.import("h", &stored, 200);
        assert_eq!(
            hit(&newer, "h", "user.readwrite", 200).as_deref(),
            Some("newer")
        );
    }
}
