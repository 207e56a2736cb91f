//! The in-memory token cache.
//!
//! Layout: one [`PartitionMap`] per kind of partition. Today that is the app partition
//! (client credentials, keyed by client + authority); user partitions (by `home_account_id`)
//! and on-behalf-of partitions (by the SHA-256 of the user assertion) are further maps of the
//! same type. Inside a partition, tokens are keyed by their normalised scopes, so a repeat
//! request is two hash lookups; when that misses and the partition is small, a scope-superset
//! scan finds a token granted for more scopes than asked (a user token for
//! `openid profile User.Read` serves `User.Read`).
//!
//! A hit takes one read lock, does no allocation and returns an `Arc` clone. No lock is held
//! across I/O: network calls happen outside, and results are inserted afterwards.

use std::sync::{Arc, RwLock};

use foldhash::fast::RandomState;
use hashbrown::HashMap;

use crate::Scopes;
use crate::response::{TokenResponse, jwt_tenant_id};
use crate::result::AccessToken;

pub(crate) mod app;
pub(crate) mod obo;
pub(crate) mod persist;
pub(crate) mod single_flight;
pub(crate) mod tenant_ids;
pub(crate) mod user;
pub(crate) mod whole;

/// Above this many entries in one partition, only exact scope matches are looked for, keeping
/// a lookup O(1) for app partitions with many resources.
const SUPERSET_SCAN_LIMIT: usize = 16;

/// The OpenID Connect scopes that alone never make two grants overlap (msal-common
/// `OIDC_SCOPES`).
const OIDC_SCOPES: [&str; 4] = ["openid", "profile", "offline_access", "email"];

/// Whether a new token for `new` supersedes a cached one for `cached`: they share a scope other
/// than the OpenID Connect ones (all of `new`'s when it has only those). MSAL removes such
/// tokens on every write so that a read finds at most one (msal-common
/// `ScopeSet.intersectingScopeSets`, used by `CacheManager.saveCacheRecord`; MSAL.NET
/// `TokenCache.SaveTokenResponse`). An older token revoked by a CAE claims challenge is then
/// never served for overlapping scopes.
pub(crate) fn overlaps(cached: &Scopes, new: &Scopes) -> bool {
    let only_oidc = new.key().split(' ').all(|s| OIDC_SCOPES.contains(&s));
    new.key()
        .split(' ')
        .filter(|s| only_oidc || !OIDC_SCOPES.contains(s))
        .any(|s| cached.key().split(' ').any(|c| c == s))
}

/// Whether a token granted for `granted` may also be keyed by `requested`: the grant covers
/// every requested scope, or the request is for a resource's `/.default` (Entra answers those
/// with the individual scopes consented, which never name `.default`). Otherwise a grant of
/// fewer scopes than asked would answer a later request for the missing ones.
pub(crate) fn answers_request(granted: &Scopes, requested: &Scopes) -> bool {
    granted.contains_all(requested) || requested.key().split(' ').any(|s| s.ends_with(".default"))
}

/// One cached access token with what is needed to serve it.
pub(crate) struct CachedToken {
    pub(crate) access_token: AccessToken,
    /// Shared for `Bearer` ([`token_type`]).
    pub(crate) token_type: Arc<str>,
    /// Granted scopes (the response's `scope`, else the requested ones).
    pub(crate) scopes: Scopes,
    /// Unix seconds.
    pub(crate) expires_on: u64,
    /// Unix seconds; kept for MSAL-compatible serialization.
    pub(crate) ext_expires_on: OptionalTime,
    /// Unix seconds: when the server asked us to refresh proactively (`refresh_in`).
    pub(crate) refresh_on: OptionalTime,
    /// Interned ([`tenant_ids::TenantIds`]): one copy per tenant, not per token.
    pub(crate) tenant_id: Option<Arc<str>>,
}

/// The token type as stored: one shared `Bearer` string for the tokens that are (nearly all).
pub(crate) fn token_type(token_type: &str) -> Arc<str> {
    static BEARER: std::sync::LazyLock<Arc<str>> = std::sync::LazyLock::new(|| "Bearer".into());
    if token_type == "Bearer" {
        BEARER.clone()
    } else {
        token_type.into()
    }
}

/// An optional Unix time in 8 bytes (`Option<u64>` takes 16): 0 stands for none. A time of 0
/// itself is stored as 1, which no comparison with a real clock can tell apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(crate) struct OptionalTime(u64);

impl OptionalTime {
    pub(crate) fn get(self) -> Option<u64> {
        (self.0 != 0).then_some(self.0)
    }
}

impl From<Option<u64>> for OptionalTime {
    fn from(time: Option<u64>) -> Self {
        Self(time.map_or(0, |t| t.max(1)))
    }
}

/// The outcome of a lookup.
pub(crate) enum Lookup {
    /// Valid beyond the refresh margin and not due for proactive refresh.
    Fresh(Arc<CachedToken>),
    /// Still valid, but `refresh_on` has passed: refresh, and fall back to this on failure.
    RefreshDue(Arc<CachedToken>),
    /// Nothing usable.
    Miss,
}

impl CachedToken {
    /// The cache entry for a token-endpoint answer received at `requested_at` (Unix seconds),
    /// taking the access token out of `response`. The granted scopes are the response's
    /// `scope`, else `requested`; the tenant is the token's `tid`, else `fallback_tenant`,
    /// interned in `tenant_ids`.
    pub(crate) fn from_response(
        response: &mut TokenResponse,
        requested: &Scopes,
        fallback_tenant: Option<&str>,
        tenant_ids: &tenant_ids::TenantIds,
        requested_at: u64,
    ) -> Arc<Self> {
        let scopes = response
            .scope
            .as_deref()
            .and_then(Scopes::from_server)
            .unwrap_or_else(|| requested.clone());
        let tenant_id = jwt_tenant_id(&response.access_token)
            .as_deref()
            .or(fallback_tenant)
            .map(|tid| tenant_ids.intern(tid));
        let after = |secs: u64| requested_at.saturating_add(secs);
        Arc::new(Self {
            access_token: AccessToken::new(std::mem::take(&mut response.access_token)),
            token_type: token_type(&response.token_type),
            scopes,
            expires_on: after(response.expires_in),
            ext_expires_on: response.ext_expires_in.map(after).into(),
            refresh_on: response.refresh_in.filter(|r| *r > 0).map(after).into(),
            tenant_id,
        })
    }

    fn classify(self: &Arc<Self>, now: u64, margin: u64) -> Lookup {
        if now.saturating_add(margin) >= self.expires_on {
            return Lookup::Miss;
        }
        match self.refresh_on.get() {
            Some(refresh_on) if now >= refresh_on => Lookup::RefreshDue(self.clone()),
            _ => Lookup::Fresh(self.clone()),
        }
    }
}

/// A partition's map key: the normalised scopes ([`Scopes::key`]) of a `Scopes` the entry
/// holds anyway, so the key costs a pointer instead of a second copy of the string. It hashes
/// and compares as that string, so lookups take a `&str` (`Borrow<str>`).
#[derive(Clone)]
pub(crate) struct ScopeKey(Scopes);

impl std::borrow::Borrow<str> for ScopeKey {
    fn borrow(&self) -> &str {
        self.0.key()
    }
}

impl std::hash::Hash for ScopeKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        // Must hash exactly as `str` does, for `Borrow<str>` lookups.
        self.0.key().hash(state);
    }
}

impl PartialEq for ScopeKey {
    fn eq(&self, other: &Self) -> bool {
        self.0.key() == other.0.key()
    }
}

impl Eq for ScopeKey {}

/// Partitions of one kind, each a map from scope key to token.
#[derive(Default)]
pub(crate) struct PartitionMap {
    partitions: RwLock<HashMap<Box<str>, Partition, RandomState>>,
}

#[derive(Default)]
struct Partition {
    by_scopes: HashMap<ScopeKey, Arc<CachedToken>, RandomState>,
    /// Inserts since expired tokens were last swept out.
    inserts_since_sweep: usize,
    /// How many inserts the next sweep waits for: the partition's size after the last sweep.
    sweep_after: usize,
}

impl PartitionMap {
    /// Finds a token in `partition` for `scopes`. `margin` is the refresh margin in seconds.
    pub(crate) fn lookup(&self, partition: &str, scopes: &Scopes, now: u64, margin: u64) -> Lookup {
        // A poisoned lock means a panic happened while inserting; the map itself is intact
        // (hashbrown inserts are panic-safe), so keep serving.
        let partitions = self.partitions.read().unwrap_or_else(|p| p.into_inner());
        let Some(partition) = partitions.get(partition) else {
            return Lookup::Miss;
        };
        if let Some(token) = partition.by_scopes.get(scopes.key()) {
            return token.classify(now, margin);
        }
        if partition.by_scopes.len() > SUPERSET_SCAN_LIMIT {
            return Lookup::Miss;
        }
        let mut best = Lookup::Miss;
        for token in partition.by_scopes.values() {
            if !token.scopes.contains_all(scopes) {
                continue;
            }
            match token.classify(now, margin) {
                fresh @ Lookup::Fresh(_) => return fresh,
                due @ Lookup::RefreshDue(_) => best = due,
                Lookup::Miss => {}
            }
        }
        best
    }

    /// Stores `token` for the requested scopes (and its granted scopes when they differ),
    /// dropping tokens in the partition that have expired.
    pub(crate) fn insert(
        &self,
        partition: &str,
        requested: &Scopes,
        token: Arc<CachedToken>,
        now: u64,
    ) {
        let mut partitions = self.partitions.write().unwrap_or_else(|p| p.into_inner());
        let entry = match partitions.get_mut(partition) {
            Some(entry) => entry,
            None => partitions.entry(partition.into()).or_default(),
        };
        // Sweeping expired tokens is O(partition size). Small partitions sweep on every insert;
        // large ones (one app partition can hold 100k+ tokens, one per audience) sweep once as
        // many inserts have happened as the partition held after its last sweep, so an insert
        // costs O(1) amortised and the partition never holds more than about twice its live
        // tokens. Lookups never serve an expired token, swept or not.
        entry.inserts_since_sweep += 1;
        if entry.by_scopes.len() <= SUPERSET_SCAN_LIMIT
            || entry.inserts_since_sweep >= entry.sweep_after
        {
            // Small partitions are searched by scope superset, so drop what the new token
            // supersedes (large ones are looked up by exact key only).
            entry
                .by_scopes
                .retain(|_, t| t.expires_on > now && !overlaps(&t.scopes, &token.scopes));
            entry.inserts_since_sweep = 0;
            entry.sweep_after = entry.by_scopes.len();
        }
        // Under the granted scopes (keyed by the token's own `Scopes`: nothing more retained),
        // and under the requested ones only when the grant covers them all (an exact key for a
        // request the superset scan would also answer). MSAL keys a token by the response's
        // `scope` alone (msal-common `ResponseHandler`, MSAL.NET `TokenCache.SaveTokenResponse`):
        // a grant of fewer scopes than asked must not answer a later request for the missing ones.
        if token.scopes.key() != requested.key() && answers_request(&token.scopes, requested) {
            entry
                .by_scopes
                .insert(ScopeKey(requested.clone()), token.clone());
        }
        entry
            .by_scopes
            .insert(ScopeKey(token.scopes.clone()), token);
    }

    /// Calls `f` with every partition name and token (a token stored under both its requested
    /// and granted scopes comes twice). Holds the read lock: `f` must not touch the map.
    pub(crate) fn for_each(&self, mut f: impl FnMut(&str, &Arc<CachedToken>)) {
        let partitions = self.partitions.read().unwrap_or_else(|p| p.into_inner());
        for (name, partition) in partitions.iter() {
            for token in partition.by_scopes.values() {
                f(name, token);
            }
        }
    }

    /// The number of partitions (for tests and metrics).
    #[cfg(test)]
    pub(crate) fn partition_count(&self) -> usize {
        self.partitions
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .len()
    }
}

/// The whole cache, shared by every clone of a client.
#[derive(Default)]
pub(crate) struct TokenCache {
    /// Client-credentials tokens, partitioned by client + authority.
    pub(crate) app: PartitionMap,
    /// The tenant ids the cached tokens point at.
    pub(crate) tenant_ids: tenant_ids::TenantIds,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(scopes: &str, expires_on: u64, refresh_on: Option<u64>) -> Arc<CachedToken> {
        Arc::new(CachedToken {
            access_token: AccessToken::new(format!("at-{scopes}")),
            token_type: "Bearer".into(),
            scopes: Scopes::new([scopes]).unwrap(),
            expires_on,
            ext_expires_on: None.into(),
            refresh_on: refresh_on.into(),
            tenant_id: None,
        })
    }

    fn s(scopes: &str) -> Scopes {
        Scopes::new([scopes]).unwrap()
    }

    fn secret(lookup: Lookup) -> Option<String> {
        match lookup {
            Lookup::Fresh(t) => Some(format!("fresh:{}", t.access_token.secret())),
            Lookup::RefreshDue(t) => Some(format!("due:{}", t.access_token.secret())),
            Lookup::Miss => None,
        }
    }

    #[test]
    fn exact_hit_is_case_insensitive_and_respects_the_margin() {
        let map = PartitionMap::default();
        map.insert(
            "p",
            &s("https://graph.microsoft.com/.default"),
            token("https://graph.microsoft.com/.default", 1000, None),
            0,
        );
        let want = s("HTTPS://graph.microsoft.com/.DEFAULT");
        assert_eq!(
            secret(map.lookup("p", &want, 600, 300)).as_deref(),
            Some("fresh:at-https://graph.microsoft.com/.default")
        );
        assert!(
            secret(map.lookup("p", &want, 700, 300)).is_none(),
            "inside the refresh margin"
        );
        assert!(secret(map.lookup("other", &want, 0, 300)).is_none());
    }

    #[test]
    fn refresh_on_makes_a_token_due() {
        let map = PartitionMap::default();
        map.insert("p", &s("a"), token("a", 10_000, Some(500)), 0);
        assert!(
            secret(map.lookup("p", &s("a"), 499, 300))
                .unwrap()
                .starts_with("fresh")
        );
        assert!(
            secret(map.lookup("p", &s("a"), 500, 300))
                .unwrap()
                .starts_with("due")
        );
    }

    #[test]
    fn superset_match_in_small_partitions() {
        let map = PartitionMap::default();
        map.insert(
            "user",
            &s("User.Read"),
            token("openid profile User.Read", 1000, None),
            0,
        );
        // Stored under both the requested and the granted scopes.
        assert!(secret(map.lookup("user", &s("openid"), 0, 0)).is_some());
        assert!(secret(map.lookup("user", &s("user.read profile"), 0, 0)).is_some());
        assert!(secret(map.lookup("user", &s("Mail.Read"), 0, 0)).is_none());
    }

    #[test]
    fn large_partitions_do_exact_lookups_only() {
        let map = PartitionMap::default();
        for i in 0..=SUPERSET_SCAN_LIMIT {
            let scopes = format!("api://r{i}/.default extra{i}");
            map.insert("app", &s(&scopes), token(&scopes, 1000, None), 0);
        }
        assert!(secret(map.lookup("app", &s("api://r3/.default extra3"), 0, 0)).is_some());
        assert!(secret(map.lookup("app", &s("api://r3/.default"), 0, 0)).is_none());
    }

    #[test]
    fn large_partitions_sweep_expired_tokens_amortised() {
        let map = PartitionMap::default();
        let count = 10 * SUPERSET_SCAN_LIMIT;
        for i in 0..count {
            map.insert(
                "p",
                &s(&format!("api://old-{i}/.default")),
                token(&format!("api://old-{i}/.default"), 100, None),
                50,
            );
        }
        // Past their expiry, the same number of live inserts sweeps every expired token.
        for i in 0..count {
            map.insert(
                "p",
                &s(&format!("api://new-{i}/.default")),
                token(&format!("api://new-{i}/.default"), 1_000, None),
                200,
            );
        }
        let partitions = map.partitions.read().unwrap();
        let partition = &partitions["p"];
        assert!(
            partition.by_scopes.values().all(|t| t.expires_on > 200),
            "expired tokens left: {}",
            partition
                .by_scopes
                .values()
                .filter(|t| t.expires_on <= 200)
                .count()
        );
        // Never more than about twice the live tokens.
        assert!(partition.by_scopes.len() <= 2 * count);
    }

    #[test]
    fn a_grant_of_fewer_scopes_is_not_stored_under_the_requested_ones() {
        let map = PartitionMap::default();
        // Asked for User.Read Mail.Read, granted only User.Read.
        map.insert(
            "p",
            &s("User.Read Mail.Read"),
            token("User.Read", 1000, None),
            0,
        );
        assert!(secret(map.lookup("p", &s("User.Read Mail.Read"), 0, 0)).is_none());
        assert!(secret(map.lookup("p", &s("Mail.Read"), 0, 0)).is_none());
        assert!(secret(map.lookup("p", &s("User.Read"), 0, 0)).is_some());
    }

    /// Vectors: msal-common `ScopeSet.intersectingScopeSets`
    /// (AzureAD/microsoft-authentication-library-for-js, lib/msal-common/src/request/ScopeSet.ts).
    #[test]
    fn overlapping_grants_replace_older_tokens() {
        assert!(overlaps(&s("User.Read Mail.Read"), &s("mail.read")));
        assert!(!overlaps(
            &s("openid profile User.Read"),
            &s("openid profile Mail.Read")
        ));
        assert!(overlaps(&s("openid profile"), &s("openid")));
        let map = PartitionMap::default();
        map.insert(
            "p",
            &s("User.Read Mail.Read"),
            token("User.Read Mail.Read", 1000, None),
            0,
        );
        map.insert("p", &s("Files.Read"), token("Files.Read", 1000, None), 0);
        map.insert("p", &s("Mail.Read"), token("Mail.Read", 1000, None), 0);
        assert!(
            secret(map.lookup("p", &s("User.Read"), 0, 0)).is_none(),
            "the older token for overlapping scopes is gone"
        );
        assert_eq!(
            secret(map.lookup("p", &s("Mail.Read"), 0, 0)).as_deref(),
            Some("fresh:at-Mail.Read")
        );
        assert!(secret(map.lookup("p", &s("Files.Read"), 0, 0)).is_some());
    }

    #[test]
    fn insert_evicts_expired_tokens_and_replaces() {
        let map = PartitionMap::default();
        map.insert("p", &s("a"), token("a", 100, None), 0);
        map.insert("p", &s("b"), token("b", 1000, None), 200);
        assert!(secret(map.lookup("p", &s("a"), 0, 0)).is_none(), "evicted");
        map.insert("p", &s("b"), token("b b2", 2000, None), 300);
        assert_eq!(
            secret(map.lookup("p", &s("b"), 1500, 0)).as_deref(),
            Some("fresh:at-b b2")
        );
        assert_eq!(map.partition_count(), 1);
    }
}
