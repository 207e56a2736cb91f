//! `acquire_token_by_refresh_token` (issue 17 item 6, migrations from ADAL or another stack)
//! against a real dev tenant on an ephemeral loopback port: a refresh token obtained by one
//! client (standing for the old stack) is redeemed by a fresh client, which then holds the
//! user as if they had signed in there. MSAL.NET `AcquireTokenByRefreshToken`, MSAL Python
//! `acquire_token_by_refresh_token`.
#![cfg(feature = "reqwest")]

use crate::user_support;

use std::sync::Arc;

use dev_tenant::{Config, DevTenant, Endpoint, quickstart as q};
use msal_lite::persistence::MemoryStore;
use msal_lite::schema::PartitionKey;
use msal_lite::{
    AuthCodeRequest, ClientCredential, ConfidentialClient, ConfidentialClientBuilder, Error,
    RefreshToken, TokenSource,
};
use user_support::{Browser, recording};

fn builder(tenant: &DevTenant) -> ConfidentialClientBuilder {
    ConfidentialClient::builder(
        q::WEB_APP_CLIENT_ID,
        tenant.authority(),
        ClientCredential::secret(q::WEB_APP_CLIENT_SECRET),
    )
}

/// Alice signs in on `old` (the stack being migrated from); returns her refresh token.
async fn legacy_refresh_token(tenant: &DevTenant) -> String {
    let store = Arc::new(MemoryStore::new());
    let old = builder(tenant).cache_store(store.clone()).build().unwrap();
    let (url, flow) = old
        .auth_code_url(AuthCodeRequest::new(["User.Read"], q::WEB_APP_REDIRECT_URI))
        .await
        .unwrap();
    let (returned, _) = Browser::default()
        .sign_in(tenant, url.as_str(), q::ALICE_EMAIL)
        .await;
    old.acquire_token_by_code(&returned.code, &returned.state, flow)
        .await
        .unwrap();
    let home = format!("{}.{}", q::ALICE_OBJECT_ID, q::TENANT_ID);
    let partition = store.get(&PartitionKey::user(home)).expect("saved");
    partition
        .document()
        .refresh_tokens
        .values()
        .next()
        .expect("a refresh token")
        .secret
        .secret()
        .to_owned()
}

#[tokio::test]
async fn an_imported_refresh_token_becomes_a_cached_signed_in_user() {
    let tenant = DevTenant::start(Config::quickstart()).await.unwrap();
    let rt = legacy_refresh_token(&tenant).await;
    let before = tenant.requests(Endpoint::Token);

    let (transport, recorded) = recording();
    let store = Arc::new(MemoryStore::new());
    let client = builder(&tenant)
        .http_client(transport)
        .cache_store(store.clone())
        .build()
        .unwrap();
    assert!(client.accounts().is_empty());
    let result = client
        .acquire_token_by_refresh_token(RefreshToken::new(rt.as_str()), ["User.Read"])
        .await
        .unwrap();
    assert_eq!(result.source(), TokenSource::Network);
    let account = result
        .account()
        .expect("the ID token names the user")
        .clone();
    assert_eq!(account.username(), Some(q::ALICE_EMAIL));
    assert_eq!(
        account.home_account_id(),
        format!("{}.{}", q::ALICE_OBJECT_ID, q::TENANT_ID)
    );
    // What was sent: the refresh-token grant with the OIDC scopes.
    let form = &recorded.token_forms()[0];
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(field("grant_type"), Some("refresh_token"));
    assert_eq!(field("refresh_token"), Some(rt.as_str()));
    assert_eq!(
        field("scope"),
        Some("User.Read openid profile offline_access")
    );
    assert_eq!(field("client_info"), Some("1"));

    // A normal signed-in user now: listed, silent is a cache hit, persisted.
    assert_eq!(client.accounts().len(), 1);
    let silent = client
        .acquire_token_silent(["User.Read"], &account)
        .await
        .unwrap();
    assert_eq!(silent.source(), TokenSource::Cache);
    assert_eq!(
        silent.access_token().secret(),
        result.access_token().secret()
    );
    assert_eq!(tenant.requests(Endpoint::Token), before + 1);
    let saved = store
        .get(&PartitionKey::user(account.home_account_id()))
        .expect("persisted as a user partition");
    assert_eq!(saved.document().refresh_tokens.len(), 1);
    assert_eq!(saved.document().id_tokens.len(), 1);
}

#[tokio::test]
async fn a_refused_or_empty_refresh_token_is_an_error_and_caches_nothing() {
    let tenant = DevTenant::start(Config::quickstart()).await.unwrap();
    let client = builder(&tenant).build().unwrap();
    let e = client
        .acquire_token_by_refresh_token(RefreshToken::new("1.not-a-refresh-token"), ["User.Read"])
        .await
        .unwrap_err();
    assert!(e.is_interaction_required(), "{e:?}");
    assert!(client.accounts().is_empty());
    let e = client
        .acquire_token_by_refresh_token(RefreshToken::new(" "), ["User.Read"])
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Config { .. }), "{e:?}");
    assert_eq!(tenant.requests(Endpoint::Token), 1);
    // The refresh token never shows in errors or Debug.
    let debug = format!("{:?}", RefreshToken::new("secret-rt"));
    assert!(!debug.contains("secret-rt"), "{debug}");
}
