//! Issue 16 item 6: `CacheStore::list`, and the client's `all_accounts()` / `export_msal_cache()`
//! seeing partitions only the store holds. Against a real `redis-server` (test-support) on an
//! ephemeral loopback port.
#![cfg(feature = "redis")]

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use msal_lite::http::{HttpError, HttpRequest, HttpResponse};
use msal_lite::persistence::{
    BoxFuture, CacheStore, Layered, LeaseOutcome, MemoryStore, Partition, PersistenceError,
    RedisStore, SaveOutcome, import_document,
};
use msal_lite::schema::{CacheDocument, PartitionKey};
use msal_lite::{ClientCredential, ConfidentialClient};
use test_support::RedisServer;

const CLIENT_ID: &str = "4d2e6f8a-1b3c-4d5e-8f9a-0b1c2d3e4f5a";
const ENV: &str = "login.microsoftonline.com";
const TENANT: &str = "f645ad92-e38d-4d1a-b510-d1b09a74a8ca";

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// `users` users, each with an account and an access token, as MSAL Python writes them.
fn python_document(users: &[&str]) -> String {
    let now = now();
    let mut at = serde_json::Map::new();
    let mut accounts = serde_json::Map::new();
    for user in users {
        let home = format!("{user}.{TENANT}");
        at.insert(
            format!("{home}-{ENV}-accesstoken-{CLIENT_ID}-{TENANT}-user.read"),
            serde_json::json!({
                "credential_type": "AccessToken", "secret": format!("at-{user}"),
                "home_account_id": home, "environment": ENV, "client_id": CLIENT_ID,
                "target": "User.Read", "realm": TENANT, "token_type": "Bearer",
                "cached_at": now.to_string(), "expires_on": (now + 3600).to_string()
            }),
        );
        accounts.insert(
            format!("{home}-{ENV}-{TENANT}"),
            serde_json::json!({
                "home_account_id": home, "environment": ENV, "realm": TENANT,
                "local_account_id": user, "username": format!("{user}@contoso.com"),
                "authority_type": "MSSTS"
            }),
        );
    }
    serde_json::json!({ "AccessToken": at, "Account": accounts }).to_string()
}

fn offline_client(store: Arc<dyn CacheStore>) -> ConfidentialClient {
    ConfidentialClient::builder(
        CLIENT_ID,
        format!("https://{ENV}/{TENANT}"),
        ClientCredential::secret("s"),
    )
    .http_client(|_r: HttpRequest| async { Err::<HttpResponse, _>(HttpError::body_too_large(0)) })
    .cache_store(store)
    .build()
    .unwrap()
}

#[tokio::test]
async fn redis_lists_its_partitions_with_scan_and_only_under_its_prefix() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    // A prefix with glob metacharacters: SCAN MATCH must treat them literally.
    let store = RedisStore::open(&redis.url())
        .unwrap()
        .key_prefix("app[1]*:");
    let other = RedisStore::open(&redis.url()).unwrap().key_prefix("app1x:");
    let doc = Arc::new(CacheDocument::new());
    // More than one SCAN batch (COUNT 1000).
    let mut expected: Vec<PartitionKey> = (0..1500)
        .map(|i| PartitionKey::user(format!("u{i}.t")))
        .collect();
    expected.push(PartitionKey::obo("hash/with%slash"));
    expected.push(PartitionKey::app(CLIENT_ID, TENANT));
    for key in &expected {
        assert!(
            store
                .save(key, doc.clone(), Some(0))
                .await
                .unwrap()
                .is_saved()
        );
    }
    other
        .save(&PartitionKey::user("elsewhere.t"), doc.clone(), Some(0))
        .await
        .unwrap();
    // A fleet lease lives under the same prefix (`<prefix>__lease/...`) and is not a partition.
    let lease = store
        .acquisition_lease(
            &PartitionKey::app(CLIENT_ID, TENANT),
            "api://x/.default",
            std::time::Duration::from_secs(30),
        )
        .await
        .unwrap();
    assert!(matches!(lease, LeaseOutcome::Acquired { .. }));
    let mut listed = store.list().await.unwrap();
    listed.sort();
    expected.sort();
    assert_eq!(
        listed, expected,
        "every partition once, no version counter, no lease, no other prefix"
    );
    assert_eq!(
        other.list().await.unwrap(),
        [PartitionKey::user("elsewhere.t")]
    );

    // Layered lists its shared layer (and what only L1 holds).
    let layered = Layered::new(MemoryStore::new(), other);
    layered
        .save(&PartitionKey::user("local.t"), doc, Some(0))
        .await
        .unwrap();
    let mut listed = layered.list().await.unwrap();
    listed.sort();
    assert_eq!(
        listed,
        [
            PartitionKey::user("elsewhere.t"),
            PartitionKey::user("local.t")
        ]
    );
}

#[tokio::test]
async fn all_accounts_and_export_include_partitions_only_the_store_holds() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let store: Arc<dyn CacheStore> = Arc::new(RedisStore::open(&redis.url()).unwrap());
    // Another process imported an MSAL cache into the shared store.
    import_document(&*store, python_document(&["alice", "bob"]).as_bytes())
        .await
        .unwrap();

    let client = offline_client(store.clone());
    assert!(
        client.accounts().is_empty(),
        "nothing in this instance's memory"
    );
    let mut names: Vec<String> = client
        .all_accounts()
        .await
        .unwrap()
        .iter()
        .filter_map(|a| a.username().map(str::to_owned))
        .collect();
    names.sort();
    assert_eq!(names, ["alice@contoso.com", "bob@contoso.com"]);

    let exported = CacheDocument::from_json(&client.export_msal_cache().await.unwrap()).unwrap();
    let mut secrets: Vec<&str> = exported
        .access_tokens
        .values()
        .map(|at| at.secret.secret())
        .collect();
    secrets.sort_unstable();
    assert_eq!(secrets, ["at-alice", "at-bob"]);
}

/// A store that cannot enumerate keeps the trait's default.
struct NoList(MemoryStore);

impl CacheStore for NoList {
    fn load<'a>(
        &'a self,
        partition: &'a PartitionKey,
    ) -> BoxFuture<'a, Result<Option<Partition>, PersistenceError>> {
        self.0.load(partition)
    }
    fn save<'a>(
        &'a self,
        partition: &'a PartitionKey,
        document: Arc<CacheDocument>,
        expected_version: Option<u64>,
    ) -> BoxFuture<'a, Result<SaveOutcome, PersistenceError>> {
        self.0.save(partition, document, expected_version)
    }
    fn remove<'a>(
        &'a self,
        partition: &'a PartitionKey,
    ) -> BoxFuture<'a, Result<(), PersistenceError>> {
        self.0.remove(partition)
    }
}

#[tokio::test]
async fn a_store_that_cannot_list_says_so_and_the_client_falls_back_to_memory() {
    let store = Arc::new(NoList(MemoryStore::new()));
    let err = store.list().await.unwrap_err();
    assert!(
        matches!(err, PersistenceError::Unsupported { operation: "list" }),
        "{err}"
    );
    assert_eq!(err.to_string(), "cache store does not support list");
    import_document(&*store, python_document(&["carol"]).as_bytes())
        .await
        .unwrap();
    let client = offline_client(store);
    assert!(client.all_accounts().await.unwrap().is_empty());
    assert_eq!(client.export_msal_cache().await.unwrap(), "{}");
}
