//! Connecting the in-memory cache to a [`CacheStore`] (MSAL's "before access" / "after
//! access" per partition), shared by every flow that persists partitions.
//!
//! A store failure never fails a token request: a failed load reads as "nothing stored" (the
//! caller goes to the network), and a failed save is traced (the token is already in memory).
//! Nothing here is on the cache-hit path: callers load only after a memory miss.

use crate::persistence::{CacheStore, Partition, update};
use crate::schema::{CacheDocument, PartitionKey};

/// Loads `key` from `store` ("before access"). `None` when nothing is stored or the store
/// failed (traced as a warning with the partition kind only: the rest identifies a person).
pub(crate) async fn load(store: &dyn CacheStore, key: &PartitionKey) -> Option<Partition> {
    settle(store.load(key).await, key)
}

/// [`CacheStore::reload`]: the shared store's current copy, past any local layer.
pub(crate) async fn reload(store: &dyn CacheStore, key: &PartitionKey) -> Option<Partition> {
    settle(store.reload(key).await, key)
}

fn settle(
    loaded: Result<Option<Partition>, crate::persistence::PersistenceError>,
    key: &PartitionKey,
) -> Option<Partition> {
    match loaded {
        Ok(partition) => partition,
        Err(e) => {
            tracing::warn!(
                partition = key.kind(),
                error = %e,
                "token cache load failed; continuing without the stored partition"
            );
            None
        }
    }
}

/// Applies `change` to the stored partition `key` ("after access"), re-applying it on a
/// concurrent writer's conflict ([`update`]). A failure is traced, not returned.
pub(crate) async fn save<F>(store: &dyn CacheStore, key: &PartitionKey, change: F)
where
    F: FnMut(&mut CacheDocument) + Send,
{
    if let Err(e) = update(store, key, change).await {
        tracing::warn!(
            partition = key.kind(),
            error = %e,
            "token cache save failed; the token stays in memory"
        );
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::persistence::{BoxFuture, MemoryStore, PersistenceError, SaveOutcome};
    use crate::schema::Account;

    struct Broken;

    impl CacheStore for Broken {
        fn load<'a>(
            &'a self,
            _: &'a PartitionKey,
        ) -> BoxFuture<'a, Result<Option<Partition>, PersistenceError>> {
            Box::pin(async { Err(PersistenceError::Contention { attempts: 0 }) })
        }
        fn save<'a>(
            &'a self,
            _: &'a PartitionKey,
            _: Arc<CacheDocument>,
            _: Option<u64>,
        ) -> BoxFuture<'a, Result<SaveOutcome, PersistenceError>> {
            Box::pin(async { Err(PersistenceError::Contention { attempts: 0 }) })
        }
        fn remove<'a>(
            &'a self,
            _: &'a PartitionKey,
        ) -> BoxFuture<'a, Result<(), PersistenceError>> {
            Box::pin(async { Ok(()) })
        }
    }

    #[tokio::test]
    async fn round_trip_and_failures_are_swallowed() {
        let store = MemoryStore::new();
        let key = PartitionKey::obo("h");
        assert!(load(&store, &key).await.is_none());
        save(&store, &key, |doc| {
            doc.insert_account(Account::new("u.t", "e", "t"));
        })
        .await;
        assert_eq!(load(&store, &key).await.unwrap().document().len(), 1);
        assert!(load(&Broken, &key).await.is_none());
        save(&Broken, &key, |_| {}).await;
    }
}
