//! L1 memory in front of a distributed L2 that is allowed to fail.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use crate::schema::{CacheDocument, PartitionKey};

use super::{BoxFuture, CacheStore, MemoryStore, Partition, PersistenceError, SaveOutcome};

/// Default bound on each L2 operation.
///
/// ```
/// use std::time::Duration;
/// assert_eq!(msal_lite::persistence::DEFAULT_L2_TIMEOUT, Duration::from_millis(250));
/// ```
pub const DEFAULT_L2_TIMEOUT: Duration = Duration::from_millis(250);

/// Attempts of the L2 compare-and-set loop before a partition is left dirty for later.
const MAX_SYNC_ATTEMPTS: u32 = 8;

/// A memory L1 in front of a shared L2 (Redis), in the manner of Microsoft.Identity.Web's
/// L1/L2 distributed token cache, built so that **an L2 outage never fails a request and
/// never loses a token L1 holds**:
///
/// - **Reads** come from L1; on an L1 miss from L2 (bounded by a timeout), and what L2 had
///   is kept in L1. An L2 error or timeout is traced as a warning and reads as a miss.
/// - **Writes** go to L1 (whose version check is the one callers see), then to L2. An L2
///   failure is traced as a warning, the partition is marked dirty, and the write succeeds.
/// - **Dirty partitions are re-sent** when L2 answers again: after the next successful L2
///   operation (in a background task), from a periodic [`Layered::spawn_flush_task`], or on
///   demand with [`Layered::flush_dirty`].
/// - **Other machines' writes are merged, not overwritten**: L2 writes are version-checked;
///   on a conflict the partition is merged three-way (base = what this machine last
///   exchanged with L2) and the merge is stored in both layers.
///
/// L1 is authoritative for [`load`](CacheStore::load) once it holds a partition: another
/// machine's newer tokens reach L1 when this machine next writes the partition (the merge).
/// [`reload`](CacheStore::reload) reads L2 past L1, which msal-lite does before it would go
/// to the token endpoint for a partition it holds.
///
/// ```
/// use std::sync::Arc;
/// use msal_lite::persistence::{update, CacheStore, Layered, MemoryStore};
/// use msal_lite::schema::{Account, PartitionKey};
///
/// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
/// // Any CacheStore can be the L2; with the `redis` feature it is a RedisStore.
/// let shared_l2 = MemoryStore::new();
/// let layered = Layered::new(MemoryStore::new(), shared_l2.clone());
/// let key = PartitionKey::user("u.t");
/// update(&layered, &key, |doc| { doc.insert_account(Account::new("u.t", "e", "t")); }).await?;
/// assert!(shared_l2.get(&key).is_some(), "written through to L2");
/// # Ok::<(), msal_lite::persistence::PersistenceError>(())
/// # }).unwrap();
/// ```
pub struct Layered<L2> {
    inner: Arc<Inner<L2>>,
}

impl<L2> Clone for Layered<L2> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<L2> fmt::Debug for Layered<L2> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Layered")
            .field("l1_partitions", &self.inner.l1.len())
            .field("dirty_partitions", &lock(&self.inner.dirty).len())
            .field("l2_timeout", &self.inner.l2_timeout)
            .finish_non_exhaustive()
    }
}

struct Inner<L2> {
    l1: MemoryStore,
    l2: L2,
    l2_timeout: Duration,
    /// Per partition: what this process last exchanged with L2, behind an async mutex so
    /// that one partition's L2 writes are sequential (never held on the read path).
    sync: Mutex<HashMap<PartitionKey, Arc<tokio::sync::Mutex<SyncState>>>>,
    /// Partitions whose L1 content has not reached L2 yet.
    dirty: Mutex<HashSet<PartitionKey>>,
    flushing: AtomicBool,
}

#[derive(Default)]
struct SyncState {
    /// The L2 content L1's content derives from (the base of three-way merges).
    base: Option<Arc<CacheDocument>>,
    /// L2's version of `base`, when `base` is exactly what L2 holds at that version.
    l2_version: Option<u64>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Each critical section is a single insert/remove/clone, so poisoning cannot leave
    // a half-updated value behind.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<L2: CacheStore> Layered<L2> {
    /// Layers `l1` in front of `l2`, with the default L2 timeout of 250 ms.
    ///
    /// ```
    /// use msal_lite::persistence::{Layered, MemoryStore};
    /// let layered = Layered::new(MemoryStore::new(), MemoryStore::new());
    /// # let _ = layered;
    /// ```
    pub fn new(l1: MemoryStore, l2: L2) -> Self {
        Self {
            inner: Arc::new(Inner {
                l1,
                l2,
                l2_timeout: DEFAULT_L2_TIMEOUT,
                sync: Mutex::new(HashMap::new()),
                dirty: Mutex::new(HashSet::new()),
                flushing: AtomicBool::new(false),
            }),
        }
    }

    /// Bounds every L2 operation (default 250 ms): a slow L2 then costs a request at most
    /// this long, and the write is kept dirty for later.
    ///
    /// ```
    /// use std::time::Duration;
    /// use msal_lite::persistence::{Layered, MemoryStore};
    /// let layered = Layered::new(MemoryStore::new(), MemoryStore::new())
    ///     .l2_timeout(Duration::from_millis(100));
    /// # let _ = layered;
    /// ```
    #[must_use]
    pub fn l2_timeout(self, timeout: Duration) -> Self {
        match Arc::try_unwrap(self.inner) {
            Ok(mut inner) => {
                inner.l2_timeout = timeout;
                Self {
                    inner: Arc::new(inner),
                }
            }
            // Deliberately a no-op on a shared handle: configuration happens before cloning.
            Err(inner) => Self { inner },
        }
    }

    /// The L1 store.
    ///
    /// ```
    /// use msal_lite::persistence::{Layered, MemoryStore};
    /// let layered = Layered::new(MemoryStore::new(), MemoryStore::new());
    /// assert!(layered.l1().is_empty());
    /// ```
    pub fn l1(&self) -> &MemoryStore {
        &self.inner.l1
    }

    /// The L2 store.
    ///
    /// ```
    /// use msal_lite::persistence::{Layered, MemoryStore};
    /// let layered = Layered::new(MemoryStore::new(), MemoryStore::new());
    /// assert!(layered.l2().is_empty());
    /// ```
    pub fn l2(&self) -> &L2 {
        &self.inner.l2
    }

    /// Partitions whose latest L1 content has not reached L2 yet.
    ///
    /// ```
    /// use msal_lite::persistence::{Layered, MemoryStore};
    /// let layered = Layered::new(MemoryStore::new(), MemoryStore::new());
    /// assert!(layered.dirty_partitions().is_empty());
    /// ```
    pub fn dirty_partitions(&self) -> Vec<PartitionKey> {
        lock(&self.inner.dirty).iter().cloned().collect()
    }

    /// Sends every dirty partition to L2 now; returns how many were sent. Stops at the first
    /// failure (L2 is most likely still down) and leaves the rest dirty.
    ///
    /// ```
    /// use msal_lite::persistence::{Layered, MemoryStore};
    /// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
    /// let layered = Layered::new(MemoryStore::new(), MemoryStore::new());
    /// assert_eq!(layered.flush_dirty().await?, 0);
    /// # Ok::<(), msal_lite::persistence::PersistenceError>(())
    /// # }).unwrap();
    /// ```
    pub async fn flush_dirty(&self) -> Result<usize, PersistenceError> {
        let keys = self.dirty_partitions();
        let mut sent = 0;
        let mut first_error = None;
        for key in keys {
            match self.sync_partition(&key).await {
                Ok(()) => sent += 1,
                Err(e) if e.is_unavailable() => return Err(e),
                // Deliberately go on: one bad partition must not hold back the others.
                Err(e) => {
                    tracing::warn!(
                        partition = key.kind(),
                        error = %e,
                        "token cache partition could not be re-sent to L2"
                    );
                    first_error.get_or_insert(e);
                }
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(sent),
        }
    }

    /// Starts a tokio task that calls [`Layered::flush_dirty`] every `every`; it stops when the
    /// returned handle is dropped or every clone of this `Layered` is.
    ///
    /// # Panics
    ///
    /// Outside a Tokio runtime (like `tokio::spawn`), or if `every` is zero.
    ///
    /// ```
    /// use std::time::Duration;
    /// use msal_lite::persistence::{Layered, MemoryStore};
    /// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
    /// let layered = Layered::new(MemoryStore::new(), MemoryStore::new());
    /// let task = layered.spawn_flush_task(Duration::from_secs(5));
    /// drop(task); // stops it
    /// # });
    /// ```
    pub fn spawn_flush_task(&self, every: Duration) -> FlushTask {
        let weak: Weak<Inner<L2>> = Arc::downgrade(&self.inner);
        let handle = tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(inner) = weak.upgrade() else { break };
                let this = Layered { inner };
                if let Err(e) = this.flush_dirty().await {
                    tracing::debug!(error = %e, "token cache L2 still unavailable; will retry");
                }
            }
        });
        FlushTask { handle }
    }

    async fn l2_call<T>(
        &self,
        fut: BoxFuture<'_, Result<T, PersistenceError>>,
    ) -> Result<T, PersistenceError> {
        match tokio::time::timeout(self.inner.l2_timeout, fut).await {
            Ok(result) => result,
            Err(_) => Err(PersistenceError::Timeout),
        }
    }

    fn sync_cell(&self, key: &PartitionKey) -> Arc<tokio::sync::Mutex<SyncState>> {
        Arc::clone(lock(&self.inner.sync).entry(key.clone()).or_default())
    }

    fn mark_dirty(&self, key: &PartitionKey) {
        lock(&self.inner.dirty).insert(key.clone());
    }

    /// Clears the dirty mark if L1 still holds what was just synced (`None`: nothing).
    fn mark_clean_if(&self, key: &PartitionKey, synced_l1_version: Option<u64>) {
        let mut dirty = lock(&self.inner.dirty);
        if self.inner.l1.get(key).map(|p| p.version()) == synced_l1_version {
            dirty.remove(key);
        }
    }

    /// Pushes L1's current content of `key` to L2 (or removes it there if L1 has none),
    /// merging with whatever other writers stored meanwhile.
    async fn sync_partition(&self, key: &PartitionKey) -> Result<(), PersistenceError> {
        let cell = self.sync_cell(key);
        let mut state = cell.lock().await;
        let Some(local) = self.inner.l1.get(key) else {
            self.l2_call(self.inner.l2.remove(key)).await?;
            *state = SyncState::default();
            drop(state);
            self.mark_clean_if(key, None);
            // Forget the partition's sync state unless it came back meanwhile.
            let mut sync = lock(&self.inner.sync);
            if self.inner.l1.get(key).is_none() {
                sync.remove(key);
            }
            return Ok(());
        };
        let ours = local.shared_document();
        let base = state.base.clone().unwrap_or_default();
        let mut candidate = Arc::clone(&ours);
        let mut expected = state.l2_version.unwrap_or(0);
        for _ in 0..MAX_SYNC_ATTEMPTS {
            let attempt = self
                .l2_call(
                    self.inner
                        .l2
                        .save(key, Arc::clone(&candidate), Some(expected)),
                )
                .await;
            let outcome = match attempt {
                // L2 holds a value that cannot be read back (corrupt, or a codec key that is
                // gone): it is useless to everyone, so L1's content replaces it.
                Err(e @ (PersistenceError::Corrupt(_) | PersistenceError::Codec(_))) => {
                    tracing::warn!(
                        partition = key.kind(),
                        error = %e,
                        "unreadable token cache partition in L2; replacing it with L1's"
                    );
                    candidate = Arc::clone(&ours);
                    self.l2_call(self.inner.l2.save(key, Arc::clone(&candidate), None))
                        .await?
                }
                other => other?,
            };
            match outcome {
                SaveOutcome::Saved { version } => {
                    let mut synced_l1 = local.version();
                    if Arc::ptr_eq(&candidate, &ours) {
                        *state = SyncState {
                            base: Some(candidate),
                            l2_version: Some(version),
                        };
                    } else {
                        // The merge brought in other writers' entries: show them in L1 too,
                        // unless a local writer changed L1 meanwhile (its own sync follows).
                        match self.inner.l1.save_now(
                            key,
                            Arc::clone(&candidate),
                            Some(local.version()),
                        ) {
                            SaveOutcome::Saved { version: v1 } => {
                                synced_l1 = v1;
                                *state = SyncState {
                                    base: Some(candidate),
                                    l2_version: Some(version),
                                };
                            }
                            _ => {
                                // L1's newer content derives from `ours`; L2 holds the merge.
                                *state = SyncState {
                                    base: Some(ours),
                                    l2_version: None,
                                };
                            }
                        }
                    }
                    self.mark_clean_if(key, Some(synced_l1));
                    return Ok(());
                }
                SaveOutcome::Conflict { current } => {
                    match current {
                        Some(p) => {
                            let theirs = p.shared_document();
                            candidate =
                                Arc::new(CacheDocument::merge_three_way(&base, &ours, &theirs));
                            expected = p.version();
                        }
                        // L2 lost the whole partition (restart without persistence, eviction,
                        // TTL): deliberately not read as "another writer removed every entry",
                        // which would drop L1's tokens. Store L1's content as it is.
                        None => {
                            candidate = Arc::clone(&ours);
                            expected = 0;
                        }
                    }
                }
            }
        }
        Err(PersistenceError::Contention {
            attempts: MAX_SYNC_ATTEMPTS,
        })
    }

    /// After any successful L2 operation: re-send dirty partitions in the background.
    fn kick_flush(&self) {
        if lock(&self.inner.dirty).is_empty() || self.inner.flushing.swap(true, Ordering::AcqRel) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            self.inner.flushing.store(false, Ordering::Release);
            return;
        };
        let this = self.clone();
        runtime.spawn(async move {
            match this.flush_dirty().await {
                Ok(n) if n > 0 => {
                    tracing::info!(partitions = n, "token cache L2 is back; dirty partitions re-sent");
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "token cache L2 flush failed; partitions stay dirty");
                }
            }
            this.inner.flushing.store(false, Ordering::Release);
        });
    }

    async fn load_impl(&self, key: &PartitionKey) -> Result<Option<Partition>, PersistenceError> {
        if let Some(p) = self.inner.l1.get(key) {
            return Ok(Some(p));
        }
        match self.l2_call(self.inner.l2.load(key)).await {
            Ok(Some(remote)) => {
                let cell = self.sync_cell(key);
                let mut state = cell.lock().await;
                let doc = remote.shared_document();
                let found = match self.inner.l1.save_now(key, Arc::clone(&doc), Some(0)) {
                    SaveOutcome::Saved { version } => {
                        *state = SyncState {
                            base: Some(doc.clone()),
                            l2_version: Some(remote.version()),
                        };
                        Some(Partition::new(version, doc))
                    }
                    // A local writer filled L1 meanwhile; its content wins locally.
                    SaveOutcome::Conflict { current } => current,
                };
                drop(state);
                self.kick_flush();
                Ok(found)
            }
            Ok(None) => {
                self.kick_flush();
                Ok(None)
            }
            Err(e) => {
                tracing::warn!(
                    partition = key.kind(),
                    error = %e,
                    "token cache L2 read failed; serving from L1 / network"
                );
                Ok(None)
            }
        }
    }

    async fn save_impl(
        &self,
        key: &PartitionKey,
        document: Arc<CacheDocument>,
        expected_version: Option<u64>,
    ) -> Result<SaveOutcome, PersistenceError> {
        let outcome = self.inner.l1.save_now(key, document, expected_version);
        if outcome.is_saved() {
            self.mark_dirty(key);
            match self.sync_partition(key).await {
                Ok(()) => self.kick_flush(),
                Err(e) => tracing::warn!(
                    partition = key.kind(),
                    error = %e,
                    "token cache L2 write failed; kept in L1, will re-send"
                ),
            }
        }
        Ok(outcome)
    }

    async fn remove_impl(&self, key: &PartitionKey) -> Result<(), PersistenceError> {
        self.inner.l1.remove_now(key);
        self.mark_dirty(key);
        match self.sync_partition(key).await {
            Ok(()) => self.kick_flush(),
            Err(e) => tracing::warn!(
                partition = key.kind(),
                error = %e,
                "token cache L2 remove failed; will retry"
            ),
        }
        Ok(())
    }
}

impl<L2: CacheStore> CacheStore for Layered<L2> {
    fn load<'a>(
        &'a self,
        partition: &'a PartitionKey,
    ) -> BoxFuture<'a, Result<Option<Partition>, PersistenceError>> {
        Box::pin(self.load_impl(partition))
    }

    /// Reads L2 (bounded by the L2 timeout) past L1; when L2 fails, L1's copy. L1 itself is
    /// left as it is: what L2 holds reaches it with this machine's next write (the merge).
    fn reload<'a>(
        &'a self,
        partition: &'a PartitionKey,
    ) -> BoxFuture<'a, Result<Option<Partition>, PersistenceError>> {
        Box::pin(async move {
            match self.l2_call(self.inner.l2.reload(partition)).await {
                Ok(found) => Ok(found),
                Err(e) => {
                    tracing::warn!(
                        partition = partition.kind(),
                        error = %e,
                        "token cache L2 re-read failed; using L1"
                    );
                    Ok(self.inner.l1.get(partition))
                }
            }
        })
    }

    /// The L2's lease (bounded by the L2 timeout): the lease is for the fleet sharing L2.
    fn acquisition_lease<'a>(
        &'a self,
        partition: &'a PartitionKey,
        flight: &'a str,
        ttl: std::time::Duration,
    ) -> BoxFuture<'a, Result<super::LeaseOutcome, PersistenceError>> {
        Box::pin(self.l2_call(self.inner.l2.acquisition_lease(partition, flight, ttl)))
    }

    fn save<'a>(
        &'a self,
        partition: &'a PartitionKey,
        document: Arc<CacheDocument>,
        expected_version: Option<u64>,
    ) -> BoxFuture<'a, Result<SaveOutcome, PersistenceError>> {
        Box::pin(self.save_impl(partition, document, expected_version))
    }

    fn remove<'a>(
        &'a self,
        partition: &'a PartitionKey,
    ) -> BoxFuture<'a, Result<(), PersistenceError>> {
        Box::pin(self.remove_impl(partition))
    }

    /// The shared layer's partitions, plus any only L1 holds (writes not flushed yet); when L2
    /// fails, L1's alone.
    fn list(&self) -> BoxFuture<'_, Result<Vec<PartitionKey>, PersistenceError>> {
        Box::pin(async move {
            let mut keys = match self.l2_call(self.inner.l2.list()).await {
                Ok(keys) => keys,
                Err(e @ PersistenceError::Unsupported { .. }) => return Err(e),
                Err(e) => {
                    tracing::warn!(error = %e, "token cache L2 listing failed; listing L1");
                    Vec::new()
                }
            };
            let l1 = self.inner.l1.list().await?;
            let seen: std::collections::HashSet<PartitionKey> = keys.iter().cloned().collect();
            keys.extend(l1.into_iter().filter(|k| !seen.contains(k)));
            Ok(keys)
        })
    }
}

/// The background flusher started by [`Layered::spawn_flush_task`]; dropping it stops it.
///
/// ```
/// use std::time::Duration;
/// use msal_lite::persistence::{Layered, MemoryStore};
/// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
/// let task = Layered::new(MemoryStore::new(), MemoryStore::new()).spawn_flush_task(Duration::from_secs(1));
/// # drop(task);
/// # });
/// ```
#[derive(Debug)]
pub struct FlushTask {
    handle: tokio::task::JoinHandle<()>,
}

impl Drop for FlushTask {
    fn drop(&mut self) {
        self.handle.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::persistence::update;
    use crate::schema::{AccessToken, CacheSecret, UnixTime};
    use std::sync::atomic::AtomicBool;

    /// An L2 that can be switched off: a MemoryStore behind a failure switch.
    #[derive(Clone, Default)]
    struct Flaky {
        store: MemoryStore,
        down: Arc<AtomicBool>,
    }

    impl Flaky {
        fn check(&self) -> Result<(), PersistenceError> {
            if self.down.load(Ordering::SeqCst) {
                Err(PersistenceError::Unavailable("switched off".into()))
            } else {
                Ok(())
            }
        }
    }

    impl CacheStore for Flaky {
        fn load<'a>(
            &'a self,
            p: &'a PartitionKey,
        ) -> BoxFuture<'a, Result<Option<Partition>, PersistenceError>> {
            Box::pin(async move {
                self.check()?;
                self.store.load(p).await
            })
        }
        fn save<'a>(
            &'a self,
            p: &'a PartitionKey,
            d: Arc<CacheDocument>,
            e: Option<u64>,
        ) -> BoxFuture<'a, Result<SaveOutcome, PersistenceError>> {
            Box::pin(async move {
                self.check()?;
                self.store.save(p, d, e).await
            })
        }
        fn remove<'a>(
            &'a self,
            p: &'a PartitionKey,
        ) -> BoxFuture<'a, Result<(), PersistenceError>> {
            Box::pin(async move {
                self.check()?;
                self.store.remove(p).await
            })
        }
    }

    fn token(scope: &str, secret: &str, cached_at: i64) -> AccessToken {
        let mut at = AccessToken::new(
            "login.microsoftonline.com",
            "cid",
            CacheSecret::new(secret),
            UnixTime::from_secs(9_999_999_999),
        );
        at.home_account_id = Some("u.t".into());
        at.realm = Some("t".into());
        at.target = Some(scope.into());
        at.cached_at = Some(UnixTime::from_secs(cached_at));
        at
    }

    #[tokio::test]
    async fn reload_reads_l2_past_l1_and_falls_back_to_l1() {
        let l2 = Flaky::default();
        let here = Layered::new(MemoryStore::new(), l2.clone());
        let there = Layered::new(MemoryStore::new(), l2.clone());
        let key = PartitionKey::user("u.t");
        update(&here, &key, |d| {
            d.insert_access_token(token("a", "1", 1));
        })
        .await
        .unwrap();
        // Another machine writes a newer token; `load` here still answers from L1.
        update(&there, &key, |d| {
            d.insert_access_token(token("a", "2", 2));
        })
        .await
        .unwrap();
        let secret = |p: Option<Partition>| {
            let doc = p.expect("stored").shared_document();
            let at = doc.access_tokens.values().next().expect("one token");
            at.secret.secret().to_owned()
        };
        assert_eq!(secret(here.load(&key).await.unwrap()), "1");
        assert_eq!(secret(here.reload(&key).await.unwrap()), "2");
        // Through an Arc too (how clients hold stores).
        let shared: Arc<dyn CacheStore> = Arc::new(here.clone());
        assert_eq!(secret(shared.reload(&key).await.unwrap()), "2");
        // L2 down: L1's copy, not an error.
        l2.down.store(true, Ordering::SeqCst);
        assert_eq!(secret(here.reload(&key).await.unwrap()), "1");
    }

    #[tokio::test]
    async fn outage_keeps_writes_in_l1_and_flushes_them_later() {
        let l2 = Flaky::default();
        let layered = Layered::new(MemoryStore::new(), l2.clone());
        let key = PartitionKey::user("u.t");
        update(&layered, &key, |d| {
            d.insert_access_token(token("a", "1", 1));
        })
        .await
        .unwrap();
        l2.down.store(true, Ordering::SeqCst);
        update(&layered, &key, |d| {
            d.insert_access_token(token("b", "2", 2));
        })
        .await
        .expect("a write succeeds while L2 is down");
        assert_eq!(layered.dirty_partitions(), vec![key.clone()]);
        assert_eq!(
            l2.store.get(&key).unwrap().document().access_tokens.len(),
            1
        );
        assert!(layered.flush_dirty().await.is_err(), "still down");
        l2.down.store(false, Ordering::SeqCst);
        assert_eq!(layered.flush_dirty().await.unwrap(), 1);
        assert!(layered.dirty_partitions().is_empty());
        assert_eq!(
            l2.store.get(&key).unwrap().document().access_tokens.len(),
            2
        );
    }

    #[tokio::test]
    async fn two_machines_merge_through_l2_and_removals_stick() {
        let shared = MemoryStore::new();
        let a = Layered::new(MemoryStore::new(), shared.clone());
        let b = Layered::new(MemoryStore::new(), shared.clone());
        let key = PartitionKey::user("u.t");
        update(&a, &key, |d| {
            d.insert_access_token(token("a", "1", 1));
        })
        .await
        .unwrap();
        // b has not read the partition: its write conflicts in L2 and is merged.
        update(&b, &key, |d| {
            d.insert_access_token(token("b", "2", 2));
        })
        .await
        .unwrap();
        assert_eq!(shared.get(&key).unwrap().document().access_tokens.len(), 2);
        assert_eq!(b.l1().get(&key).unwrap().document().access_tokens.len(), 2);
        // a removes its token; b's token must survive, and a's must not come back.
        update(&a, &key, |d| {
            d.access_tokens
                .retain(|_, at| at.target.as_deref() != Some("a"));
        })
        .await
        .unwrap();
        let in_l2 = shared.get(&key).unwrap();
        let scopes: Vec<_> = in_l2
            .document()
            .access_tokens
            .values()
            .filter_map(|at| at.target.clone())
            .collect();
        assert_eq!(scopes, vec!["b".to_owned()]);
    }
}
