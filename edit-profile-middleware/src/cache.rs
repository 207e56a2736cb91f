//! The validation cache: a repeat request with the same token skips signature verification.
//!
//! * Keyed by the **full token**, compared exactly. A digest key (SHA-256) would cost more than the
//!   whole lookup and would need a collision argument; the token is at most the size cap anyway.
//! * An entry lives at most `min(exp, now + max_ttl)`; a hit re-checks that bound.
//! * Entries remember the key-set generation they were verified under; after a key rotation they
//!   no longer match and shards are cleared on the next insert, so a removed key stops
//!   authenticating at once.
//! * The hash covers the token's length and its last 32 bytes (inside the signature) rather than
//!   all 1–2 KB: only tokens whose signature verified are ever inserted, and an attacker cannot
//!   produce validly signed tokens that share a signature tail, so buckets cannot be flooded;
//!   the full-token comparison keeps lookups exact.
//! * The cache is sharded and bounded: when a shard is full, expired entries are swept (at most once
//!   per second) and otherwise one arbitrary entry is evicted. Reads take a shard read lock only.

use std::fmt;
use std::hash::BuildHasher;
use std::sync::{Arc, PoisonError, RwLock};

use hashbrown::HashTable;

use crate::claims::Claims;

struct Entry {
    hash: u64,
    token: Box<[u8]>,
    expires_at: u64,
    generation: u64,
    claims: Arc<Claims>,
}

struct Shard {
    table: HashTable<Entry>,
    generation: u64,
    next_sweep: u64,
}

pub(crate) struct ValidationCache {
    shards: Box<[RwLock<Shard>]>,
    per_shard: usize,
    hasher: foldhash::fast::RandomState,
}

impl fmt::Debug for ValidationCache {
    // Deliberately prints sizes only: the keys are bearer tokens.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ValidationCache")
            .field("capacity", &(self.per_shard * self.shards.len()))
            .field("len", &self.len())
            .finish()
    }
}

impl ValidationCache {
    /// A cache holding at most `capacity` entries (`0` disables it).
    pub(crate) fn new(capacity: usize) -> Self {
        let shard_count = if capacity >= 1024 { 16 } else { 1 };
        let per_shard = capacity.div_ceil(shard_count);
        let shards = (0..shard_count)
            .map(|_| {
                RwLock::new(Shard {
                    table: HashTable::new(),
                    generation: 0,
                    next_sweep: 0,
                })
            })
            .collect();
        Self {
            shards,
            per_shard,
            hasher: foldhash::fast::RandomState::default(),
        }
    }

    pub(crate) fn is_enabled(&self) -> bool {
        self.per_shard > 0
    }

    #[inline]
    fn hash(&self, token: &[u8]) -> u64 {
        let tail = &token[token.len().saturating_sub(32)..];
        self.hasher.hash_one((token.len(), tail))
    }

    fn shard(&self, hash: u64) -> &RwLock<Shard> {
        // The high bits pick the shard; hashbrown uses the low and top-7 bits inside the table.
        let index = (hash >> 32) as usize % self.shards.len();
        &self.shards[index]
    }

    /// The cached claims for `token`, if it was validated under key-set `generation` and is still
    /// within its lifetime at `now` (Unix seconds).
    #[inline]
    pub(crate) fn get(&self, token: &[u8], now: u64, generation: u64) -> Option<Arc<Claims>> {
        if !self.is_enabled() {
            return None;
        }
        let hash = self.hash(token);
        let shard = self
            .shard(hash)
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        let entry = shard.table.find(hash, |e| *e.token == *token)?;
        (entry.generation == generation && now < entry.expires_at).then(|| entry.claims.clone())
    }

    pub(crate) fn insert(
        &self,
        token: &[u8],
        claims: Arc<Claims>,
        expires_at: u64,
        generation: u64,
        now: u64,
    ) {
        if !self.is_enabled() || expires_at <= now {
            return;
        }
        let hash = self.hash(token);
        let mut shard = self
            .shard(hash)
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if shard.generation != generation {
            // Key rotation: nothing verified under the old keys survives.
            shard.table.clear();
            shard.generation = generation;
        }
        if let Some(existing) = shard.table.find_mut(hash, |e| *e.token == *token) {
            existing.expires_at = expires_at;
            existing.claims = claims;
            return;
        }
        if shard.table.len() >= self.per_shard {
            if now >= shard.next_sweep {
                shard.table.retain(|e| now < e.expires_at);
                shard.next_sweep = now + 1;
            }
            if shard.table.len() >= self.per_shard {
                evict_one(&mut shard.table);
            }
        }
        shard.table.insert_unique(
            hash,
            Entry {
                hash,
                token: token.into(),
                expires_at,
                generation,
                claims,
            },
            |e| e.hash,
        );
    }

    pub(crate) fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.read().unwrap_or_else(PoisonError::into_inner).table.len())
            .sum()
    }
}

fn evict_one(table: &mut HashTable<Entry>) {
    let Some((hash, token)) = table.iter().next().map(|e| (e.hash, e.token.clone())) else {
        return;
    };
    if let Ok(entry) = table.find_entry(hash, |e| e.token == token) {
        entry.remove();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> Arc<Claims> {
        Arc::new(
            crate::parse::parse_claims(r#"{"iss":"i","aud":"a","exp":100}"#.to_owned()).unwrap(),
        )
    }

    #[test]
    fn hit_requires_exact_token_generation_and_lifetime() {
        let cache = ValidationCache::new(10);
        cache.insert(b"a.b.c", claims(), 100, 1, 10);
        assert!(cache.get(b"a.b.c", 10, 1).is_some());
        assert!(cache.get(b"a.b.C", 10, 1).is_none());
        assert!(cache.get(b"a.b.c ", 10, 1).is_none());
        assert!(
            cache.get(b"a.b.c", 100, 1).is_none(),
            "expired at its bound"
        );
        assert!(cache.get(b"a.b.c", 10, 2).is_none(), "flushed by rotation");
    }

    #[test]
    fn rotation_clears_on_insert() {
        let cache = ValidationCache::new(10);
        cache.insert(b"t1", claims(), 100, 1, 10);
        cache.insert(b"t2", claims(), 100, 2, 10);
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn size_is_bounded() {
        for capacity in [1, 7, 2000] {
            let cache = ValidationCache::new(capacity);
            for i in 0..(capacity * 3) {
                cache.insert(format!("token-{i}").as_bytes(), claims(), 100, 1, 10);
            }
            assert!(cache.len() <= capacity, "{} > {capacity}", cache.len());
            assert!(cache.len() >= capacity / 2);
        }
    }

    #[test]
    fn disabled_cache_stores_nothing() {
        let cache = ValidationCache::new(0);
        cache.insert(b"t", claims(), 100, 1, 10);
        assert!(cache.get(b"t", 10, 1).is_none());
    }

    #[test]
    fn debug_does_not_print_tokens() {
        let cache = ValidationCache::new(10);
        cache.insert(b"secret-token", claims(), 100, 1, 10);
        let debug = format!("{cache:?}");
        assert!(!debug.contains("secret"), "{debug}");
    }
}
