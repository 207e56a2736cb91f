//! Issue 21: the acquisition lease of `RedisStore` against a real `redis-server`: `SET NX PX`
//! taken atomically with a read of the partition, released only by its holder.
//!
//! The binary comes from `REDIS_SERVER` or `PATH`; without it the tests print why and pass,
//! unless `REQUIRE_TEST_TOOLS` is set.
#![cfg(feature = "redis")]

use std::sync::Arc;
use std::time::{Duration, Instant};

use msal_lite::persistence::{CacheStore, Layered, LeaseOutcome, MemoryStore, RedisStore};
use msal_lite::schema::{Account, CacheDocument, PartitionKey};
use test_support::RedisServer;

const TTL: Duration = Duration::from_secs(30);

fn key() -> PartitionKey {
    PartitionKey::app("cid", "tid")
}

#[tokio::test]
async fn one_holder_at_a_time_and_release_frees_it() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let a = RedisStore::open(&redis.url()).unwrap();
    let b = RedisStore::open(&redis.url()).unwrap();
    let LeaseOutcome::Acquired { lease, current } =
        a.acquisition_lease(&key(), "scope", TTL).await.unwrap()
    else {
        panic!("the first caller takes the lease");
    };
    assert!(current.is_none());
    match b.acquisition_lease(&key(), "scope", TTL).await.unwrap() {
        LeaseOutcome::Held { expires_in, .. } => {
            assert!(expires_in <= TTL && expires_in > TTL / 2, "{expires_in:?}");
        }
        other => panic!("held by a, got {other:?}"),
    }
    // Another flight of the same partition is another lease.
    assert!(
        b.acquisition_lease(&key(), "other scope", TTL)
            .await
            .unwrap()
            .is_acquired()
    );
    lease.release().await.unwrap();
    assert!(
        b.acquisition_lease(&key(), "scope", TTL)
            .await
            .unwrap()
            .is_acquired()
    );
}

#[tokio::test]
async fn the_lease_comes_with_the_stored_partition() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let store = RedisStore::open(&redis.url()).unwrap();
    let mut doc = CacheDocument::new();
    doc.insert_account(Account::new("u.t", "e", "t"));
    let saved = store.save(&key(), Arc::new(doc), Some(0)).await.unwrap();
    let msal_lite::persistence::SaveOutcome::Saved { version } = saved else {
        panic!("saved");
    };
    let LeaseOutcome::Acquired { current, .. } =
        store.acquisition_lease(&key(), "scope", TTL).await.unwrap()
    else {
        panic!("acquired");
    };
    let current = current.expect("the partition, read with the lease");
    assert_eq!(current.version(), version);
    assert_eq!(current.document().accounts.len(), 1);
    let LeaseOutcome::Held { current, .. } =
        store.acquisition_lease(&key(), "scope", TTL).await.unwrap()
    else {
        panic!("held");
    };
    assert_eq!(current.expect("waiters see it too").version(), version);
}

#[tokio::test]
async fn an_expired_holder_cannot_release_the_next_holders_lease() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let store = RedisStore::open(&redis.url()).unwrap();
    let short = Duration::from_millis(50);
    let LeaseOutcome::Acquired { lease: stale, .. } = store
        .acquisition_lease(&key(), "scope", short)
        .await
        .unwrap()
    else {
        panic!("acquired");
    };
    // Poll until the lease has expired and a second holder has it.
    let deadline = Instant::now() + Duration::from_secs(5);
    let current = loop {
        match store.acquisition_lease(&key(), "scope", TTL).await.unwrap() {
            LeaseOutcome::Acquired { lease, .. } => break lease,
            _ => {
                assert!(Instant::now() < deadline, "the short lease never expired");
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    };
    stale.release().await.unwrap();
    assert!(
        !store
            .acquisition_lease(&key(), "scope", TTL)
            .await
            .unwrap()
            .is_acquired(),
        "the token-checked release left the new holder's lease alone"
    );
    current.release().await.unwrap();
    assert!(
        store
            .acquisition_lease(&key(), "scope", TTL)
            .await
            .unwrap()
            .is_acquired()
    );
}

#[tokio::test]
async fn memory_has_no_lease_and_layered_asks_its_l2() {
    let memory = MemoryStore::new();
    assert!(matches!(
        memory
            .acquisition_lease(&key(), "scope", TTL)
            .await
            .unwrap(),
        LeaseOutcome::Unsupported
    ));
    let layered = Layered::new(MemoryStore::new(), MemoryStore::new());
    assert!(matches!(
        layered
            .acquisition_lease(&key(), "scope", TTL)
            .await
            .unwrap(),
        LeaseOutcome::Unsupported
    ));
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let shared: Arc<dyn CacheStore> = Arc::new(Layered::new(
        MemoryStore::new(),
        RedisStore::open(&redis.url()).unwrap(),
    ));
    assert!(
        shared
            .acquisition_lease(&key(), "scope", TTL)
            .await
            .unwrap()
            .is_acquired()
    );
    assert!(
        !shared
            .acquisition_lease(&key(), "scope", TTL)
            .await
            .unwrap()
            .is_acquired()
    );
}

#[tokio::test]
async fn an_unreachable_redis_is_an_error_not_a_lease() {
    let Some(mut redis) = RedisServer::start() else {
        return;
    };
    let store = RedisStore::open(&redis.url()).unwrap();
    redis.kill();
    let err = store
        .acquisition_lease(&key(), "scope", TTL)
        .await
        .unwrap_err();
    assert!(err.is_unavailable(), "{err}");
}
