//! Issue 16 item 5: client-credentials tokens persist through the `cache_store` like user and
//! OBO partitions (as Microsoft.Identity.Web's distributed cache keeps app tokens in its L2),
//! so a fleet of daemons shares them. Against a real dev tenant on a loopback port.

#![cfg(feature = "reqwest")]

use std::sync::Arc;

use dev_tenant::{Config, DevTenant, Endpoint, quickstart as q};
use msal_lite::persistence::{CacheStore, MemoryStore};
use msal_lite::schema::PartitionKey;
use msal_lite::{ClientCredential, ConfidentialClient, TokenSource};

const GRAPH_DEFAULT: &str = "https://graph.microsoft.com/.default";

fn daemon(tenant: &DevTenant, store: Arc<dyn CacheStore>) -> ConfidentialClient {
    ConfidentialClient::builder(
        q::DAEMON_CLIENT_ID,
        tenant.authority(),
        ClientCredential::secret(q::DAEMON_CLIENT_SECRET),
    )
    .cache_store(store)
    .build()
    .expect("client builds")
}

#[tokio::test]
async fn a_second_instance_gets_the_app_token_from_the_store() {
    let tenant = DevTenant::start(Config::quickstart())
        .await
        .expect("dev tenant starts");
    let store = Arc::new(MemoryStore::new());
    let first = daemon(&tenant, store.clone());
    let got = first
        .acquire_token_for_client([GRAPH_DEFAULT])
        .await
        .unwrap();
    assert_eq!(got.source(), TokenSource::Network);
    assert_eq!(tenant.requests(Endpoint::Token), 1);

    // Stored as MSAL writes an app token: no home account, realm the tenant.
    let tenant_segment = first.authority().tenant().unwrap().to_owned();
    let stored = store
        .load(&PartitionKey::app(q::DAEMON_CLIENT_ID, tenant_segment))
        .await
        .unwrap()
        .expect("app partition stored");
    let at = stored.document().access_tokens.values().next().unwrap();
    assert!(at.home_account_id.is_none());
    assert_eq!(at.target.as_deref(), Some(got.scopes().as_str()));

    let second = daemon(&tenant, store.clone());
    let shared = second
        .acquire_token_for_client([GRAPH_DEFAULT])
        .await
        .unwrap();
    assert_eq!(shared.source(), TokenSource::Cache);
    assert_eq!(shared.access_token().secret(), got.access_token().secret());
    assert_eq!(
        tenant.requests(Endpoint::Token),
        1,
        "no second token request"
    );
}
