//! The Redis session store against a real redis-server.

use time::{Duration, OffsetDateTime};
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::SessionStore;
use web_app::session_store::RedisSessionStore;

fn record(minutes: i64) -> Record {
    let mut data = std::collections::HashMap::new();
    data.insert("user".to_owned(), serde_json::json!("alice@contoso.com"));
    Record {
        id: Id::default(),
        data,
        expiry_date: OffsetDateTime::now_utc() + Duration::minutes(minutes),
    }
}

#[tokio::test]
async fn sessions_round_trip_expire_and_delete() {
    let Some(redis) = test_support::RedisServer::start() else {
        return;
    };
    let store = RedisSessionStore::connect(&redis.url(), "test:session:")
        .await
        .unwrap();

    let mut rec = record(10);
    store.create(&mut rec).await.unwrap();
    assert_eq!(store.load(&rec.id).await.unwrap(), Some(rec.clone()));

    // An update replaces the value.
    rec.data.insert("n".into(), serde_json::json!(2));
    store.save(&rec).await.unwrap();
    assert_eq!(store.load(&rec.id).await.unwrap().unwrap().data["n"], 2);

    // Redis holds the key with a TTL that matches the session's expiry.
    let client = redis::Client::open(redis.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let ttl: i64 = redis::cmd("TTL")
        .arg(format!("test:session:{}", rec.id))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!((540..=600).contains(&ttl), "ttl {ttl}");

    store.delete(&rec.id).await.unwrap();
    assert_eq!(store.load(&rec.id).await.unwrap(), None);
    // A session id that was never stored loads as None.
    assert_eq!(store.load(&Id::default()).await.unwrap(), None);
}

#[tokio::test]
async fn create_never_overwrites_an_existing_session() {
    let Some(redis) = test_support::RedisServer::start() else {
        return;
    };
    let store = RedisSessionStore::connect(&redis.url(), "s:")
        .await
        .unwrap();
    let mut first = record(10);
    store.create(&mut first).await.unwrap();

    // A second record that happens to carry the same id gets a new one.
    let mut second = record(10);
    second.id = first.id;
    second
        .data
        .insert("user".into(), serde_json::json!("bob@contoso.com"));
    store.create(&mut second).await.unwrap();
    assert_ne!(second.id, first.id);
    assert_eq!(
        store.load(&first.id).await.unwrap().unwrap().data["user"],
        "alice@contoso.com"
    );
}

#[tokio::test]
async fn an_unreachable_redis_fails_fast_instead_of_hanging() {
    let Some(mut redis) = test_support::RedisServer::start() else {
        return;
    };
    let store = RedisSessionStore::connect(&redis.url(), "s:")
        .await
        .unwrap()
        .with_timeout(std::time::Duration::from_millis(200));
    redis.kill();
    let started = std::time::Instant::now();
    let result = store.load(&Id::default()).await;
    assert!(
        result.is_err(),
        "a dead redis must be an error, got {result:?}"
    );
    // The error is returned within the store's timeout (plus scheduling slack), not a TCP timeout.
    assert!(started.elapsed() < std::time::Duration::from_secs(5));

    // When Redis is back, writes reach Redis again (the connection manager reconnects). The store
    // answers from memory during an outage, so check Redis itself, not the store's answer.
    redis.restart();
    let client = redis::Client::open(redis.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let mut rec = record(5);
    store.create(&mut rec).await.unwrap();
    let key = store.redis_key(&rec.id);
    let mut in_redis = false;
    for _ in 0..100 {
        let _ = store.save(&rec).await;
        let exists: bool = redis::cmd("EXISTS")
            .arg(&key)
            .query_async(&mut conn)
            .await
            .unwrap();
        if exists {
            in_redis = true;
            break;
        }
        // Polling interval while the store's connection manager reconnects.
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(in_redis, "writes did not reach redis after it restarted");
}

#[tokio::test]
async fn a_session_signed_out_during_an_outage_does_not_come_back() {
    let Some(mut redis) = test_support::RedisServer::start() else {
        return;
    };
    let store = RedisSessionStore::connect(&redis.url(), "s:")
        .await
        .unwrap()
        .with_timeout(std::time::Duration::from_millis(200));
    let mut rec = record(10);
    store.create(&mut rec).await.unwrap();
    let key = store.redis_key(&rec.id);
    let stored: Vec<u8> = {
        let client = redis::Client::open(redis.url()).unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        redis::cmd("GET")
            .arg(&key)
            .query_async(&mut conn)
            .await
            .unwrap()
    };

    // Sign-out while Redis is down: the delete is remembered, not sent.
    redis.kill();
    store.delete(&rec.id).await.unwrap();

    // Redis comes back still holding the session (here written back as another instance that
    // kept it in memory would restore it after a restart).
    redis.restart();
    let client = redis::Client::open(redis.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let () = redis::cmd("SET")
        .arg(&key)
        .arg(&stored)
        .query_async(&mut conn)
        .await
        .unwrap();

    // Whatever the state of the store's reconnection, the signed-out session never loads.
    for _ in 0..100 {
        assert_eq!(store.load(&rec.id).await.unwrap(), None);
        let exists: bool = redis::cmd("EXISTS")
            .arg(&key)
            .query_async(&mut conn)
            .await
            .unwrap();
        if !exists {
            return;
        }
        // Polling interval while the store's connection manager reconnects.
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("the remembered delete never reached redis");
}
