//! Whole-cache import and export (`ConfidentialClient::import_msal_cache` /
//! `export_msal_cache`, `persistence::import_document`) of documents in MSAL Python's format.
//!
//! The document below follows what MSAL Python's `TokenCache.__add` writes and `serialize()`
//! returns (AzureAD/microsoft-authentication-library-for-python, `msal/token_cache.py`): keys
//! `{home_account_id}-{environment}-{credential_type}-{client_id}-{realm}-{target}` lower-cased,
//! timestamps as strings, `realm` the tenant of the token endpoint, an empty realm segment in the
//! refresh token key, `appmetadata-{environment}-{client_id}`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use msal_lite::http::{HttpError, HttpRequest, HttpResponse};
use msal_lite::persistence::{CacheStore, ImportError, MemoryStore, import_document};
use msal_lite::schema::{CacheDocument, PartitionKey, SchemaError};
use msal_lite::{ClientCredential, ConfidentialClient, TokenSource};

const CLIENT_ID: &str = "9b0e3c1a-5d7f-4a2b-8c6e-1f3a5b7d9e0c";
const ENV: &str = "login.microsoftonline.com";
const TENANT: &str = "f645ad92-e38d-4d1a-b510-d1b09a74a8ca";
const HOME: &str = "uid1.f645ad92-e38d-4d1a-b510-d1b09a74a8ca";

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// One user with an access token for `User.Read openid profile`, as MSAL Python writes it.
fn python_document(user: &str, secret: &str) -> serde_json::Value {
    document_at(ENV, user, secret)
}

/// The same entries written for the cloud host `env`.
fn document_at(env: &str, user: &str, secret: &str) -> serde_json::Value {
    let home = format!("{user}.{TENANT}");
    let now = now();
    let at_key = format!("{home}-{env}-accesstoken-{CLIENT_ID}-{TENANT}-openid profile user.read");
    let rt_key = format!("{home}-{env}-refreshtoken-{CLIENT_ID}--openid profile user.read");
    let account_key = format!("{home}-{env}-{TENANT}");
    serde_json::json!({
        "AccessToken": { at_key: {
            "credential_type": "AccessToken", "secret": secret, "home_account_id": home,
            "environment": env, "client_id": CLIENT_ID, "target": "openid profile User.Read",
            "realm": TENANT, "token_type": "Bearer", "cached_at": now.to_string(),
            "expires_on": (now + 3600).to_string(), "extended_expires_on": (now + 3600).to_string()
        }},
        "RefreshToken": { rt_key: {
            "credential_type": "RefreshToken", "secret": format!("rt-{user}"), "home_account_id": home,
            "environment": env, "client_id": CLIENT_ID, "target": "openid profile User.Read",
            "last_modification_time": now.to_string()
        }},
        "Account": { account_key: {
            "home_account_id": home, "environment": env, "realm": TENANT,
            "local_account_id": user, "username": format!("{user}@contoso.com"),
            "authority_type": "MSSTS", "account_source": "authorization_code"
        }},
        "AppMetadata": { format!("appmetadata-{env}-{CLIENT_ID}"): {
            "client_id": CLIENT_ID, "environment": env
        }}
    })
}

fn merge(docs: &[serde_json::Value]) -> serde_json::Value {
    let mut out = serde_json::Map::new();
    for doc in docs {
        for (section, entries) in doc.as_object().unwrap() {
            let target = out
                .entry(section.clone())
                .or_insert_with(|| serde_json::json!({}));
            for (k, v) in entries.as_object().unwrap() {
                target.as_object_mut().unwrap().insert(k.clone(), v.clone());
            }
        }
    }
    serde_json::Value::Object(out)
}

/// A client whose transport counts calls and fails them: a cache hit makes none.
fn offline_client(store: Option<Arc<dyn CacheStore>>) -> (ConfidentialClient, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let mut builder = ConfidentialClient::builder(
        CLIENT_ID,
        format!("https://{ENV}/{TENANT}"),
        ClientCredential::secret("s"),
    )
    .http_client(move |_r: HttpRequest| {
        counter.fetch_add(1, Ordering::SeqCst);
        async { Err::<HttpResponse, _>(HttpError::body_too_large(0)) }
    });
    if let Some(store) = store {
        builder = builder.cache_store(store);
    }
    (builder.build().unwrap(), calls)
}

#[tokio::test]
async fn a_python_cache_serves_silent_hits_without_network() {
    let doc = merge(&[
        python_document("uid1", "at-one"),
        python_document("uid2", "at-two"),
    ]);
    let (client, calls) = offline_client(None);
    let report = client
        .import_msal_cache(doc.to_string().as_bytes())
        .await
        .unwrap();
    assert_eq!(report.partitions, 2);
    assert_eq!(report.entries, 7, "2 x (AT, RT, account) + app metadata");
    assert!(report.skipped.is_empty());
    let account = client
        .accounts()
        .into_iter()
        .find(|a| a.home_account_id() == HOME)
        .expect("imported account listed");
    assert_eq!(account.username(), Some("uid1@contoso.com"));
    let hit = client
        .acquire_token_silent(["User.Read"], &account)
        .await
        .unwrap();
    assert_eq!(hit.source(), TokenSource::Cache);
    assert_eq!(hit.access_token().secret(), "at-one");
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn import_goes_to_the_store_and_export_reads_back() {
    let store = Arc::new(MemoryStore::new());
    let doc = python_document("uid1", "at-one");
    let (client, calls) = offline_client(Some(store.clone()));
    client
        .import_msal_cache(doc.to_string().as_bytes())
        .await
        .unwrap();
    let stored = store
        .load(&PartitionKey::user(HOME))
        .await
        .unwrap()
        .expect("partition stored");
    assert_eq!(stored.document().access_tokens.len(), 1);

    // What the client exports, a second client (and MSAL) imports and serves.
    let exported = client.export_msal_cache().await.unwrap();
    let back = CacheDocument::from_json(&exported).unwrap();
    assert_eq!(
        back.accounts.len(),
        1,
        "{:?}",
        back.accounts.keys().collect::<Vec<_>>()
    );
    assert_eq!(back.refresh_tokens.len(), 1);
    let (other, other_calls) = offline_client(None);
    other.import_msal_cache(exported.as_bytes()).await.unwrap();
    let account = other.accounts().pop().expect("account");
    let hit = other
        .acquire_token_silent(["openid", "User.Read"], &account)
        .await
        .unwrap();
    assert_eq!(hit.access_token().secret(), "at-one");
    assert_eq!(
        calls.load(Ordering::SeqCst) + other_calls.load(Ordering::SeqCst),
        0
    );
}

#[tokio::test]
async fn a_malformed_entry_is_skipped_and_the_rest_imported() {
    let mut doc = merge(&[
        python_document("uid1", "at-one"),
        python_document("uid2", "at-two"),
    ]);
    let bad_key =
        format!("uid2.{TENANT}-{ENV}-accesstoken-{CLIENT_ID}-{TENANT}-openid profile user.read");
    // No secret: every MSAL requires one.
    doc["AccessToken"][&bad_key]
        .as_object_mut()
        .unwrap()
        .remove("secret");
    doc["Account"]["not-an-object"] = serde_json::json!(42);
    let store = MemoryStore::new();
    let report = import_document(&store, doc.to_string().as_bytes())
        .await
        .unwrap();
    let mut skipped = report.skipped.clone();
    skipped.sort();
    let mut want = vec![bad_key, "not-an-object".to_owned()];
    want.sort();
    assert_eq!(skipped, want);
    let uid1 = store
        .load(&PartitionKey::user(HOME))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(uid1.document().access_tokens.len(), 1);
    let uid2 = store
        .load(&PartitionKey::user(format!("uid2.{TENANT}")))
        .await
        .unwrap()
        .unwrap();
    assert!(uid2.document().access_tokens.is_empty());
    assert_eq!(
        uid2.document().refresh_tokens.len(),
        1,
        "the rest of uid2 kept"
    );
}

#[tokio::test]
async fn an_unparseable_document_names_the_byte_offset() {
    let good = python_document("uid1", "at-one").to_string();
    // Cut inside the document and append garbage: reading stops at the garbage.
    let cut = good.len() / 2;
    let mut bad = good.as_bytes()[..cut].to_vec();
    let at = bad.len();
    bad.extend_from_slice(b"\n  }]");
    let err = import_document(&MemoryStore::new(), &bad)
        .await
        .unwrap_err();
    let ImportError::Document(SchemaError::Syntax { offset, .. }) = err else {
        panic!("not a syntax error: {err:?}");
    };
    assert!(
        (at..=bad.len()).contains(&offset),
        "offset {offset} outside the garbage at {at}..{}",
        bad.len()
    );
    let multi_line = b"{\n\"Account\": {\n  x}}";
    let err = CacheDocument::from_slice(multi_line).unwrap_err();
    let SchemaError::Syntax { offset, .. } = err else {
        panic!("{err:?}")
    };
    assert_eq!(multi_line[offset], b'x');
    assert!(err_text(&CacheDocument::from_slice(multi_line).unwrap_err()).contains("byte 17"));
}

fn err_text(e: &SchemaError) -> String {
    e.to_string()
}

#[test]
fn into_partitions_matches_partition_for_every_key() {
    let doc = merge(&[
        python_document("uid1", "a"),
        python_document("uid2", "b"),
        python_document("uid3", "c"),
    ]);
    let doc = CacheDocument::from_value(doc).unwrap();
    let parts = doc.clone().into_partitions();
    assert_eq!(parts.len(), 3);
    for (key, part) in &parts {
        assert!(part.same_entries(&doc.partition(key)), "{key:?}");
    }
}

/// MSAL Node and MSAL.NET write `login.windows.net` (the preferred cache host) for a
/// `login.microsoftonline.com` authority and read any alias of the cloud (MSAL.NET
/// `src/client/Microsoft.Identity.Client/Instance/Discovery/KnownMetadataProvider.cs`,
/// AzureAD/microsoft-authentication-library-for-dotnet). msal-lite reads such a cache and writes
/// the preferred host too.
#[tokio::test]
async fn a_cache_written_under_an_alias_host_is_found_and_the_preferred_host_written() {
    let doc = document_at("login.windows.net", "uid1", "at-alias");
    let (client, calls) = offline_client(None);
    client
        .import_msal_cache(doc.to_string().as_bytes())
        .await
        .unwrap();
    let account = client
        .accounts()
        .pop()
        .expect("account read through the alias");
    let hit = client
        .acquire_token_silent(["User.Read"], &account)
        .await
        .unwrap();
    assert_eq!(hit.access_token().secret(), "at-alias");
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    // A cache written for login.microsoftonline.com: exported under login.windows.net.
    let (client, _) = offline_client(None);
    client
        .import_msal_cache(python_document("uid1", "at-one").to_string().as_bytes())
        .await
        .unwrap();
    let out = CacheDocument::from_json(&client.export_msal_cache().await.unwrap()).unwrap();
    assert!(!out.access_tokens.is_empty());
    assert!(
        out.access_tokens
            .values()
            .all(|at| at.environment == "login.windows.net")
    );
    assert!(
        out.accounts
            .values()
            .all(|a| a.environment == "login.windows.net")
    );
    // Another cloud's entries are not read.
    let (client, _) = offline_client(None);
    client
        .import_msal_cache(
            document_at("login.microsoftonline.us", "uid1", "x")
                .to_string()
                .as_bytes(),
        )
        .await
        .unwrap();
    assert!(client.accounts().is_empty());
}

/// An app (client-credentials) token as MSAL Python writes it (no home account id, realm the
/// tenant) is served by `acquire_token_for_client` after import.
#[tokio::test]
async fn an_imported_app_token_serves_client_credentials() {
    let now = now();
    let key =
        format!("-{ENV}-accesstoken-{CLIENT_ID}-{TENANT}-https://graph.microsoft.com/.default");
    let doc = serde_json::json!({"AccessToken": { key: {
        "credential_type": "AccessToken", "secret": "app-at", "home_account_id": null,
        "environment": ENV, "client_id": CLIENT_ID, "target": "https://graph.microsoft.com/.default",
        "realm": TENANT, "token_type": "Bearer", "cached_at": now.to_string(),
        "expires_on": (now + 3600).to_string(), "extended_expires_on": (now + 3600).to_string()
    }}});
    let (client, calls) = offline_client(None);
    client
        .import_msal_cache(doc.to_string().as_bytes())
        .await
        .unwrap();
    let hit = client
        .acquire_token_for_client(["https://graph.microsoft.com/.default"])
        .await
        .unwrap();
    assert_eq!(hit.source(), TokenSource::Cache);
    assert_eq!(hit.access_token().secret(), "app-at");
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    // Exported as MSAL writes an app token.
    let out = CacheDocument::from_json(&client.export_msal_cache().await.unwrap()).unwrap();
    let at = out
        .access_tokens
        .values()
        .next()
        .expect("app token exported");
    assert_eq!(at.secret.secret(), "app-at");
    assert!(at.home_account_id.is_none());
    assert_eq!(at.realm.as_deref(), Some(TENANT));
    assert_eq!(at.environment, "login.windows.net");
}

/// Importing into memory only (users read where they were parsed, no per-user documents) and
/// importing through a store give the same report and serve the same users.
#[tokio::test]
async fn memory_only_and_store_imports_agree() {
    let now = now();
    let mut doc = merge(&[
        python_document("alice", "at-alice"),
        python_document("bob", "at-bob"),
    ]);
    // An app token and an OBO token next to the users.
    doc["AccessToken"]
        [format!("-{ENV}-accesstoken-{CLIENT_ID}-{TENANT}-https://graph.microsoft.com/.default")] = serde_json::json!({
        "credential_type": "AccessToken", "secret": "app-at", "home_account_id": null,
        "environment": ENV, "client_id": CLIENT_ID, "target": "https://graph.microsoft.com/.default",
        "realm": TENANT, "token_type": "Bearer", "cached_at": now.to_string(),
        "expires_on": (now + 3600).to_string()
    });
    doc["AccessToken"]["obo-key"] = serde_json::json!({
        "credential_type": "AccessToken", "secret": "obo-at", "home_account_id": "carol.t",
        "user_assertion_hash": "h", "environment": ENV, "client_id": CLIENT_ID,
        "target": "User.Read", "realm": TENANT, "cached_at": now.to_string(),
        "expires_on": (now + 3600).to_string()
    });
    let json = doc.to_string();
    let (memory, memory_calls) = offline_client(None);
    let (stored, _) = offline_client(Some(Arc::new(MemoryStore::new())));
    let a = memory.import_msal_cache(json.as_bytes()).await.unwrap();
    let b = stored.import_msal_cache(json.as_bytes()).await.unwrap();
    assert_eq!(a, b);
    assert_eq!(a.partitions, 4, "alice, bob, the app, the OBO assertion");
    let names = |c: &ConfidentialClient| {
        let mut n: Vec<String> = c
            .accounts()
            .iter()
            .filter_map(|a| a.username().map(str::to_owned))
            .collect();
        n.sort();
        n
    };
    assert_eq!(names(&memory), ["alice@contoso.com", "bob@contoso.com"]);
    assert_eq!(names(&memory), names(&stored));
    for account in memory.accounts() {
        let hit = memory
            .acquire_token_silent(["User.Read"], &account)
            .await
            .unwrap();
        assert_eq!(hit.source(), TokenSource::Cache);
    }
    let app = memory
        .acquire_token_for_client(["https://graph.microsoft.com/.default"])
        .await
        .unwrap();
    assert_eq!(app.access_token().secret(), "app-at");
    assert_eq!(memory_calls.load(Ordering::SeqCst), 0);
}
