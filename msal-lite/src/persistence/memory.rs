//! The in-process store.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::schema::{CacheDocument, PartitionKey};

use super::{BoxFuture, CacheStore, Partition, PersistenceError, SaveOutcome};

/// Partitions in process memory: the default store, and the L1 of [`super::Layered`].
///
/// Clones share the same map. Operations take a short mutex (never held across an `.await`)
/// and clone an `Arc`, never the entries.
///
/// ```
/// use std::sync::Arc;
/// use msal_lite::persistence::{CacheStore, MemoryStore};
/// use msal_lite::schema::{CacheDocument, PartitionKey};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let store = MemoryStore::new();
/// let key = PartitionKey::user("u.t");
/// store.save(&key, Arc::new(CacheDocument::new()), None).await?;
/// assert_eq!(store.len(), 1);
/// # Ok::<(), msal_lite::persistence::PersistenceError>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    inner: Arc<Mutex<State>>,
}

#[derive(Debug, Default)]
struct State {
    partitions: HashMap<PartitionKey, Partition>,
    /// Last version handed out; versions are never reused, even after a removal.
    last_version: u64,
}

impl MemoryStore {
    /// An empty store.
    ///
    /// ```
    /// # use msal_lite::persistence::MemoryStore;
    /// assert!(MemoryStore::new().is_empty());
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the map half-updated (every mutation is
        // a single insert or remove), so a poisoned lock is safe to keep using.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The partition stored under `key`, without going through a future.
    ///
    /// ```
    /// # use msal_lite::persistence::MemoryStore;
    /// # use msal_lite::schema::PartitionKey;
    /// assert!(MemoryStore::new().get(&PartitionKey::user("u.t")).is_none());
    /// ```
    pub fn get(&self, key: &PartitionKey) -> Option<Partition> {
        self.state().partitions.get(key).cloned()
    }

    /// [`CacheStore::save`] without a future.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use msal_lite::persistence::MemoryStore;
    /// # use msal_lite::schema::{CacheDocument, PartitionKey};
    /// let store = MemoryStore::new();
    /// assert!(store.save_now(&PartitionKey::user("u.t"), Arc::new(CacheDocument::new()), Some(0)).is_saved());
    /// ```
    pub fn save_now(
        &self,
        key: &PartitionKey,
        document: Arc<CacheDocument>,
        expected_version: Option<u64>,
    ) -> SaveOutcome {
        let mut state = self.state();
        let current_version = state.partitions.get(key).map_or(0, Partition::version);
        if let Some(expected) = expected_version
            && expected != current_version
        {
            return SaveOutcome::Conflict {
                current: state.partitions.get(key).cloned(),
            };
        }
        state.last_version += 1;
        let version = state.last_version;
        state
            .partitions
            .insert(key.clone(), Partition::new(version, document));
        SaveOutcome::Saved { version }
    }

    /// [`CacheStore::remove`] without a future; returns whether something was removed.
    ///
    /// ```
    /// # use msal_lite::persistence::MemoryStore;
    /// # use msal_lite::schema::PartitionKey;
    /// assert!(!MemoryStore::new().remove_now(&PartitionKey::user("u.t")));
    /// ```
    pub fn remove_now(&self, key: &PartitionKey) -> bool {
        self.state().partitions.remove(key).is_some()
    }

    /// Number of partitions held.
    ///
    /// ```
    /// # use msal_lite::persistence::MemoryStore;
    /// assert_eq!(MemoryStore::new().len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.state().partitions.len()
    }

    /// True when no partition is held.
    ///
    /// ```
    /// # use msal_lite::persistence::MemoryStore;
    /// assert!(MemoryStore::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The keys of all partitions held.
    ///
    /// ```
    /// # use msal_lite::persistence::MemoryStore;
    /// assert!(MemoryStore::new().partition_keys().is_empty());
    /// ```
    pub fn partition_keys(&self) -> Vec<PartitionKey> {
        self.state().partitions.keys().cloned().collect()
    }
}

impl CacheStore for MemoryStore {
    fn load<'a>(
        &'a self,
        partition: &'a PartitionKey,
    ) -> BoxFuture<'a, Result<Option<Partition>, PersistenceError>> {
        let found = self.get(partition);
        Box::pin(std::future::ready(Ok(found)))
    }

    fn save<'a>(
        &'a self,
        partition: &'a PartitionKey,
        document: Arc<CacheDocument>,
        expected_version: Option<u64>,
    ) -> BoxFuture<'a, Result<SaveOutcome, PersistenceError>> {
        let outcome = self.save_now(partition, document, expected_version);
        Box::pin(std::future::ready(Ok(outcome)))
    }

    fn remove<'a>(
        &'a self,
        partition: &'a PartitionKey,
    ) -> BoxFuture<'a, Result<(), PersistenceError>> {
        self.remove_now(partition);
        Box::pin(std::future::ready(Ok(())))
    }

    fn list(&self) -> BoxFuture<'_, Result<Vec<PartitionKey>, PersistenceError>> {
        let keys = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .partitions
            .keys()
            .cloned()
            .collect();
        Box::pin(std::future::ready(Ok(keys)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::persistence::update;
    use crate::schema::{AccessToken, CacheSecret, UnixTime};

    fn token(n: usize) -> AccessToken {
        let mut at = AccessToken::new(
            "login.microsoftonline.com",
            "cid",
            CacheSecret::new(format!("t{n}")),
            UnixTime::from_secs(9_999_999_999),
        );
        at.home_account_id = Some("u.t".into());
        at.realm = Some("t".into());
        at.target = Some(format!("scope{n}"));
        at.cached_at = Some(UnixTime::from_secs(1000));
        at
    }

    #[test]
    fn versions_are_never_reused() {
        let store = MemoryStore::new();
        let key = PartitionKey::user("u.t");
        let doc = Arc::new(CacheDocument::new());
        let SaveOutcome::Saved { version: v1 } = store.save_now(&key, doc.clone(), Some(0)) else {
            panic!("first save")
        };
        assert!(store.remove_now(&key));
        let SaveOutcome::Saved { version: v2 } = store.save_now(&key, doc.clone(), Some(0)) else {
            panic!("save after remove")
        };
        assert_ne!(v1, v2);
        // A writer still holding v1 is refused.
        assert!(!store.save_now(&key, doc, Some(v1)).is_saved());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_writers_keep_each_others_tokens() {
        let store = MemoryStore::new();
        let key = PartitionKey::user("u.t");
        let writer = |offset: usize| {
            let store = store.clone();
            let key = key.clone();
            tokio::spawn(async move {
                for i in 0..50 {
                    update(&store, &key, |doc| {
                        doc.insert_access_token(token(offset + i));
                    })
                    .await
                    .expect("update");
                    tokio::task::yield_now().await;
                }
            })
        };
        let (a, b) = tokio::join!(writer(0), writer(1000));
        a.unwrap();
        b.unwrap();
        let p = store.get(&key).expect("saved");
        assert_eq!(p.document().access_tokens.len(), 100);
    }

    #[tokio::test]
    async fn blind_overwrite_is_what_update_prevents() {
        // The failure mode versioning exists for: two writers load the same version and
        // both write their snapshot; without the version check the first write is lost.
        let store = MemoryStore::new();
        let key = PartitionKey::user("u.t");
        store.save_now(&key, Arc::new(CacheDocument::new()), None);
        let base = store.get(&key).unwrap();
        let mut a = base.clone();
        a.document_mut().insert_access_token(token(1));
        let mut b = base.clone();
        b.document_mut().insert_access_token(token(2));
        assert!(
            store
                .save_now(&key, a.shared_document(), Some(base.version()))
                .is_saved()
        );
        let SaveOutcome::Conflict { current: Some(now) } =
            store.save_now(&key, b.shared_document(), Some(base.version()))
        else {
            panic!("second writer must be told about the first")
        };
        assert_eq!(now.document().access_tokens.len(), 1);
    }
}
