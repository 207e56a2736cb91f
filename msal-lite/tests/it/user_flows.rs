//! User sign-in (authorization code + PKCE) and silent acquisition against a real dev tenant on
//! an ephemeral loopback port, driving its login and MFA pages over plain HTTP.
#![cfg(feature = "reqwest")]

use crate::user_support;

use std::sync::Arc;
use std::time::Duration;

use dev_tenant::{Config, DevTenant, Endpoint, quickstart as q};
use msal_lite::persistence::{CacheStore, Layered, MemoryStore};
use msal_lite::schema::PartitionKey;
use msal_lite::{
    Account, AuthCodeFlow, AuthCodeRequest, ClientCredential, ConfidentialClient,
    ConfidentialClientBuilder, Error, Prompt, ResponseMode, Scopes, SilentRequest, TokenSource,
};
use user_support::{Browser, Clock, recording};

const GRAPH: &str = "User.Read";

async fn tenant() -> DevTenant {
    DevTenant::start(Config::quickstart())
        .await
        .expect("dev tenant starts")
}

fn builder(tenant: &DevTenant) -> ConfidentialClientBuilder {
    ConfidentialClient::builder(
        q::WEB_APP_CLIENT_ID,
        tenant.authority(),
        ClientCredential::secret(q::WEB_APP_CLIENT_SECRET),
    )
}

fn web_app(tenant: &DevTenant) -> ConfidentialClient {
    builder(tenant).build().expect("client builds")
}

/// Starts a sign-in for `scopes`, drives the pages as Alice and redeems the code.
async fn sign_in(
    client: &ConfidentialClient,
    tenant: &DevTenant,
    browser: &mut Browser,
    request: AuthCodeRequest,
) -> Result<(Account, u32), Error> {
    let (url, flow) = client.auth_code_url(request).await?;
    let (returned, mfa_pages) = browser.sign_in(tenant, url.as_str(), q::ALICE_EMAIL).await;
    let result = client
        .acquire_token_by_code(&returned.code, &returned.state, flow)
        .await?;
    assert_eq!(result.source(), TokenSource::Network);
    Ok((result.account().expect("an account").clone(), mfa_pages))
}

fn graph_sign_in() -> AuthCodeRequest {
    AuthCodeRequest::new([GRAPH], q::WEB_APP_REDIRECT_URI)
}

fn api_scope() -> Scopes {
    Scopes::new([q::API_SCOPE_URI]).unwrap()
}

fn alice_home() -> String {
    format!("{}.{}", q::ALICE_OBJECT_ID, q::TENANT_ID)
}

/// Round-trips a flow through JSON with one field replaced (what an attacker who can write the
/// session, or a bug, would do).
fn tampered(flow: AuthCodeFlow, field: &str, value: &str) -> AuthCodeFlow {
    let mut json = serde_json::to_value(&flow).unwrap();
    json[field] = value.into();
    serde_json::from_value(json).unwrap()
}

#[tokio::test]
async fn full_code_flow_through_the_login_page_then_silent_hits_the_cache() {
    let tenant = tenant().await;
    let client = web_app(&tenant);
    let (url, flow) = client.auth_code_url(graph_sign_in()).await.unwrap();

    // What the authorize URL carries.
    let pairs: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
    // The discovered endpoint (under the tenant id), on the tenant's host.
    assert!(url.as_str().starts_with(tenant.base_url()), "{url}");
    assert!(url.path().ends_with("/oauth2/v2.0/authorize"), "{url}");
    assert_eq!(pairs["client_id"], q::WEB_APP_CLIENT_ID);
    assert_eq!(pairs["response_type"], "code");
    assert_eq!(pairs["response_mode"], "form_post");
    assert_eq!(pairs["redirect_uri"], q::WEB_APP_REDIRECT_URI);
    assert_eq!(pairs["scope"], "User.Read openid profile offline_access");
    assert_eq!(pairs["code_challenge_method"], "S256");
    assert_eq!(
        pairs["code_challenge"],
        msal_lite::PkceVerifier::challenge_for(flow.code_verifier().secret())
    );
    assert_eq!(pairs["state"], flow.state());
    assert_eq!(pairs["nonce"], flow.nonce());
    assert_eq!(pairs["client_info"], "1");
    assert!(!pairs.contains_key("claims"), "no claims, no capabilities");
    assert!(flow.state().len() >= 43 && flow.nonce().len() >= 43);

    // The flow survives the session store.
    let flow: AuthCodeFlow = serde_json::from_str(&serde_json::to_string(&flow).unwrap()).unwrap();
    let mut browser = Browser::default();
    let (returned, mfa_pages) = browser.sign_in(&tenant, url.as_str(), q::ALICE_EMAIL).await;
    assert_eq!(mfa_pages, 0, "Graph needs no MFA");
    let result = client
        .acquire_token_by_code(&returned.code, &returned.state, flow)
        .await
        .unwrap();
    assert_eq!(tenant.requests(Endpoint::Token), 1);
    assert_eq!(tenant.requests(Endpoint::Jwks), 1);
    let account = result.account().unwrap();
    assert_eq!(account.home_account_id(), alice_home());
    assert_eq!(account.username(), Some(q::ALICE_EMAIL));
    assert_eq!(account.name(), Some(q::ALICE_DISPLAY_NAME));
    assert_eq!(account.tenant_id(), q::TENANT_ID);
    assert_eq!(account.local_account_id(), Some(q::ALICE_OBJECT_ID));
    assert_eq!(account.environment(), client.authority().environment());
    assert_eq!(account.id_token_claims()["aud"], q::WEB_APP_CLIENT_ID);
    assert_eq!(result.scopes().as_str(), "User.Read openid profile");

    // Silent: served from the cache, no network call at all.
    let before = tenant.requests(Endpoint::Token);
    let silent = client.acquire_token_silent([GRAPH], account).await.unwrap();
    assert_eq!(silent.source(), TokenSource::Cache);
    assert_eq!(
        silent.access_token().secret(),
        result.access_token().secret()
    );
    assert_eq!(silent.account(), Some(account));
    let graph = Scopes::new([GRAPH]).unwrap();
    for _ in 0..10 {
        client.acquire_token_silent(&graph, account).await.unwrap();
    }
    assert_eq!(tenant.requests(Endpoint::Token), before);

    // The account can be found again by its id alone.
    assert_eq!(client.accounts(), vec![account.clone()]);
    assert_eq!(client.account(&alice_home()).await.as_ref(), Some(account));
    assert!(client.account("nobody.nowhere").await.is_none());
}

#[tokio::test]
async fn query_mode_hints_prompt_claims_and_extra_parameters() {
    let tenant = tenant().await;
    let client = builder(&tenant)
        .client_capabilities(["cp1"])
        .build()
        .unwrap();
    let request = graph_sign_in()
        .response_mode(ResponseMode::Query)
        .prompt(Prompt::Login)
        .login_hint(q::ALICE_EMAIL)
        .domain_hint("contoso.com")
        .extra_query_parameter("ui_locales", "fr-FR");
    let (url, flow) = client.auth_code_url(request).await.unwrap();
    let pairs: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(pairs["response_mode"], "query");
    assert_eq!(pairs["prompt"], "login");
    assert_eq!(pairs["login_hint"], q::ALICE_EMAIL);
    assert_eq!(pairs["domain_hint"], "contoso.com");
    assert_eq!(pairs["ui_locales"], "fr-FR");
    assert_eq!(
        pairs["claims"],
        r#"{"access_token":{"xms_cc":{"values":["cp1"]}}}"#
    );
    // The code comes back in the query string and redeems like a form_post one.
    let (returned, _) = Browser::default()
        .sign_in(&tenant, url.as_str(), q::ALICE_EMAIL)
        .await;
    let result = client
        .acquire_token_by_code(&returned.code, &returned.state, flow)
        .await
        .unwrap();
    assert_eq!(result.account().unwrap().home_account_id(), alice_home());

    // Parameters the request sets cannot be smuggled in as extras; bad input is refused.
    for reserved in ["state", "Code_Challenge", "nonce", "redirect_uri"] {
        let e = client
            .auth_code_url(graph_sign_in().extra_query_parameter(reserved, "x"))
            .await
            .unwrap_err();
        assert!(matches!(e, Error::Config { .. }), "{reserved}: {e:?}");
    }
    let e = client
        .auth_code_url(AuthCodeRequest::new([GRAPH], "/relative"))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Config { .. }), "{e:?}");
    let e = client
        .auth_code_url(graph_sign_in().claims("not json"))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Config { .. }), "{e:?}");
}

#[tokio::test]
async fn state_mismatch_is_rejected_locally_without_a_token_call() {
    let tenant = tenant().await;
    let client = web_app(&tenant);
    let (url, flow) = client.auth_code_url(graph_sign_in()).await.unwrap();
    let (returned, _) = Browser::default()
        .sign_in(&tenant, url.as_str(), q::ALICE_EMAIL)
        .await;
    let forged = format!("{}x", returned.state);
    let e = client
        .acquire_token_by_code(&returned.code, &forged, flow)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::StateMismatch), "{e:?}");
    assert!(!e.is_interaction_required());
    assert_eq!(tenant.requests(Endpoint::Token), 0);
    // An empty state is no better.
    let (_, flow) = client.auth_code_url(graph_sign_in()).await.unwrap();
    let e = client
        .acquire_token_by_code(&returned.code, "", flow)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::StateMismatch), "{e:?}");
    assert_eq!(tenant.requests(Endpoint::Token), 0);
    assert!(client.accounts().is_empty());
}

#[tokio::test]
async fn pkce_mismatch_is_rejected_by_the_server() {
    let tenant = tenant().await;
    let client = web_app(&tenant);
    let (url, flow) = client.auth_code_url(graph_sign_in()).await.unwrap();
    let (returned, _) = Browser::default()
        .sign_in(&tenant, url.as_str(), q::ALICE_EMAIL)
        .await;
    // Another (well-formed) verifier than the one whose challenge was sent.
    let flow = tampered(
        flow,
        "code_verifier",
        "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
    );
    let e = client
        .acquire_token_by_code(&returned.code, &returned.state, flow)
        .await
        .unwrap_err();
    let server = e.server_error().unwrap_or_else(|| panic!("{e:?}"));
    assert_eq!(server.error(), "invalid_grant");
    assert_eq!(tenant.requests(Endpoint::Token), 1);
    assert!(client.accounts().is_empty());
}

#[tokio::test]
async fn nonce_mismatch_is_rejected_and_nothing_is_cached() {
    let tenant = tenant().await;
    let store = Arc::new(MemoryStore::new());
    let client = builder(&tenant).cache_store(store.clone()).build().unwrap();
    let (url, flow) = client.auth_code_url(graph_sign_in()).await.unwrap();
    let (returned, _) = Browser::default()
        .sign_in(&tenant, url.as_str(), q::ALICE_EMAIL)
        .await;
    let flow = tampered(flow, "nonce", "a-nonce-from-another-sign-in");
    let e = client
        .acquire_token_by_code(&returned.code, &returned.state, flow)
        .await
        .unwrap_err();
    match &e {
        Error::InvalidIdToken { reason, .. } => assert!(reason.contains("nonce"), "{reason}"),
        other => panic!("{other:?}"),
    }
    assert!(!e.to_string().contains("eyJ"), "no token in the message");
    assert!(client.accounts().is_empty());
    assert!(store.is_empty(), "nothing persisted");
}

#[tokio::test]
async fn silent_refresh_after_expiry_rotates_the_refresh_token() {
    let mut config = Config::quickstart();
    // Tokens live 10 minutes; with the 5-minute refresh margin, moving the client's clock
    // 6 minutes ahead makes a cached token due without making the new ID tokens look expired.
    config.lifetimes.access_token_secs = 600;
    let tenant = DevTenant::start(config).await.unwrap();
    let clock = Clock::default();
    let (transport, recorded) = recording();
    let store = Arc::new(MemoryStore::new());
    let client = builder(&tenant)
        .http_client(transport)
        .clock(clock.as_fn())
        .cache_store(store.clone())
        .build()
        .unwrap();
    let (account, _) = sign_in(&client, &tenant, &mut Browser::default(), graph_sign_in())
        .await
        .unwrap();
    let stored_rt = || {
        let partition = store.get(&PartitionKey::user(alice_home())).expect("saved");
        let rts: Vec<String> = partition
            .document()
            .refresh_tokens
            .values()
            .map(|rt| rt.secret.secret().to_owned())
            .collect();
        assert_eq!(rts.len(), 1, "one refresh token per account and client");
        rts[0].clone()
    };
    let rt1 = stored_rt();
    let first = client
        .acquire_token_silent([GRAPH], &account)
        .await
        .unwrap();
    assert_eq!(first.source(), TokenSource::Cache);

    clock.advance(Duration::from_secs(360));
    let refreshed = client
        .acquire_token_silent([GRAPH], &account)
        .await
        .unwrap();
    assert_eq!(refreshed.source(), TokenSource::Network);
    assert_ne!(
        refreshed.access_token().secret(),
        first.access_token().secret()
    );
    assert_eq!(tenant.requests(Endpoint::Token), 2);
    assert_eq!(
        recorded.field(1, "grant_type").as_deref(),
        Some("refresh_token")
    );
    assert_eq!(recorded.field(1, "refresh_token").as_deref(), Some(&*rt1));
    assert_eq!(
        recorded.field(1, "scope").as_deref(),
        Some("User.Read openid profile offline_access")
    );
    assert_eq!(recorded.field(1, "client_info").as_deref(), Some("1"));
    let rt2 = stored_rt();
    assert_ne!(rt1, rt2, "the rotated refresh token replaced the old one");

    // The new token is cached...
    let again = client
        .acquire_token_silent([GRAPH], &account)
        .await
        .unwrap();
    assert_eq!(again.source(), TokenSource::Cache);
    assert_eq!(tenant.requests(Endpoint::Token), 2);
    // ... and the next refresh uses the rotated refresh token, never the old one.
    clock.advance(Duration::from_secs(360));
    let third = client
        .acquire_token_silent([GRAPH], &account)
        .await
        .unwrap();
    assert_eq!(third.source(), TokenSource::Network);
    assert_eq!(recorded.field(2, "refresh_token").as_deref(), Some(&*rt2));
    assert_ne!(stored_rt(), rt2);
    assert!(
        recorded
            .token_forms()
            .iter()
            .skip(2)
            .all(|form| form.iter().all(|(k, v)| k != "refresh_token" || v != &rt1)),
        "the first refresh token is never sent again"
    );
}

#[tokio::test]
async fn force_refresh_and_concurrent_misses_make_one_call() {
    let tenant = tenant().await;
    let clock = Clock::default();
    let client = builder(&tenant).clock(clock.as_fn()).build().unwrap();
    let (account, _) = sign_in(&client, &tenant, &mut Browser::default(), graph_sign_in())
        .await
        .unwrap();
    let forced = client
        .acquire_token_silent_with(SilentRequest::new([GRAPH]).force_refresh(true), &account)
        .await
        .unwrap();
    assert_eq!(forced.source(), TokenSource::Network);
    assert_eq!(tenant.requests(Endpoint::Token), 2);

    // An hour later, 20 callers miss at once: one refresh serves them all.
    clock.advance(Duration::from_secs(3500));
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (client, account) = (client.clone(), account.clone());
        tasks.push(tokio::spawn(async move {
            client.acquire_token_silent([GRAPH], &account).await
        }));
    }
    let mut secrets = std::collections::HashSet::new();
    for task in tasks {
        secrets.insert(
            task.await
                .unwrap()
                .unwrap()
                .access_token()
                .secret()
                .to_owned(),
        );
    }
    assert_eq!(secrets.len(), 1);
    assert_eq!(tenant.requests(Endpoint::Token), 3);
}

#[tokio::test]
async fn conditional_access_refusal_carries_claims_then_mfa_sign_in_succeeds() {
    let tenant = tenant().await;
    let client = web_app(&tenant);
    let mut browser = Browser::default();
    let (account, _) = sign_in(&client, &tenant, &mut browser, graph_sign_in())
        .await
        .unwrap();

    // No MFA yet: the API token is refused with a claims challenge.
    let e = client
        .acquire_token_silent(&api_scope(), &account)
        .await
        .unwrap_err();
    assert!(e.is_interaction_required(), "{e:?}");
    let claims = e.claims().expect("a claims challenge").to_owned();
    assert!(claims.contains(q::MFA_POLICY_ID), "{claims}");
    assert_eq!(e.server_error().unwrap().error_codes(), [50076]);

    // Sign in again with those claims: the MFA page appears, then the API token is issued.
    let request = AuthCodeRequest::new(api_scope(), q::WEB_APP_REDIRECT_URI).claims_from_error(&e);
    let (url, flow) = client.auth_code_url(request).await.unwrap();
    let pairs: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(pairs["claims"], claims);
    let (returned, mfa_pages) = browser.sign_in(&tenant, url.as_str(), q::ALICE_EMAIL).await;
    assert_eq!(mfa_pages, 1);
    let result = client
        .acquire_token_by_code(&returned.code, &returned.state, flow)
        .await
        .unwrap();
    assert_eq!(result.account(), Some(&account), "the same account");
    let silent = client
        .acquire_token_silent(&api_scope(), &account)
        .await
        .unwrap();
    assert_eq!(silent.source(), TokenSource::Cache);
    assert_eq!(
        silent.access_token().secret(),
        result.access_token().secret()
    );
    // The Graph token is still cached next to it.
    let before = tenant.requests(Endpoint::Token);
    let graph = client
        .acquire_token_silent([GRAPH], &account)
        .await
        .unwrap();
    assert_eq!(graph.source(), TokenSource::Cache);
    assert_eq!(tenant.requests(Endpoint::Token), before);
}

#[tokio::test]
async fn claims_bypass_the_access_token_cache() {
    let tenant = tenant().await;
    let (transport, recorded) = recording();
    let client = builder(&tenant)
        .http_client(transport)
        .client_capabilities(["cp1"])
        .build()
        .unwrap();
    let (account, _) = sign_in(&client, &tenant, &mut Browser::default(), graph_sign_in())
        .await
        .unwrap();
    let claims = r#"{"access_token":{"nbf":{"essential":true,"value":"1701477303"}}}"#;
    let result = client
        .acquire_token_silent_with(SilentRequest::new([GRAPH]).claims(claims), &account)
        .await
        .unwrap();
    assert_eq!(result.source(), TokenSource::Network);
    let sent = recorded.field(1, "claims").expect("claims sent");
    let sent: serde_json::Value = serde_json::from_str(&sent).unwrap();
    assert_eq!(sent["access_token"]["nbf"]["value"], "1701477303");
    assert_eq!(sent["access_token"]["xms_cc"]["values"][0], "cp1");
    // The code redemption carried the capabilities too.
    assert!(recorded.field(0, "claims").unwrap().contains("xms_cc"));
}

#[tokio::test]
async fn remove_account_and_sign_out_url() {
    let tenant = tenant().await;
    let store = Arc::new(MemoryStore::new());
    let client = builder(&tenant).cache_store(store.clone()).build().unwrap();
    let (account, _) = sign_in(&client, &tenant, &mut Browser::default(), graph_sign_in())
        .await
        .unwrap();
    assert!(store.get(&PartitionKey::user(alice_home())).is_some());

    let url = client
        .sign_out_url(&account, Some(q::WEB_APP_POST_LOGOUT_REDIRECT_URI))
        .await
        .unwrap();
    assert!(url.as_str().starts_with(tenant.base_url()), "{url}");
    assert!(url.path().ends_with("/oauth2/v2.0/logout"), "{url}");
    let pairs: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(pairs["client_id"], q::WEB_APP_CLIENT_ID);
    assert_eq!(
        pairs["post_logout_redirect_uri"],
        q::WEB_APP_POST_LOGOUT_REDIRECT_URI
    );
    // The tenant accepts it and sends the browser back to the app.
    let response = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(url.as_str())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 302);
    assert_eq!(
        response.headers()["location"],
        q::WEB_APP_POST_LOGOUT_REDIRECT_URI
    );

    client.remove_account(&account).await;
    assert!(client.accounts().is_empty());
    assert!(client.account(&alice_home()).await.is_none());
    assert!(store.get(&PartitionKey::user(alice_home())).is_none());
    let before = tenant.requests(Endpoint::Token);
    let e = client
        .acquire_token_silent([GRAPH], &account)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::InteractionRequired { .. }), "{e:?}");
    assert!(e.is_interaction_required());
    assert_eq!(tenant.requests(Endpoint::Token), before);
}

#[tokio::test]
async fn another_instance_finds_the_account_in_the_cache_store() {
    let tenant = tenant().await;
    let store: Arc<dyn CacheStore> = Arc::new(MemoryStore::new());
    let first = builder(&tenant).cache_store(store.clone()).build().unwrap();
    let (account, _) = sign_in(&first, &tenant, &mut Browser::default(), graph_sign_in())
        .await
        .unwrap();
    let calls = tenant.requests(Endpoint::Token);

    // A restarted (or second) instance knows only the id from the session.
    let second = builder(&tenant).cache_store(store.clone()).build().unwrap();
    assert!(second.accounts().is_empty());
    let found = second
        .account(account.home_account_id())
        .await
        .expect("found in the store");
    assert_eq!(found, account);
    assert_eq!(found.username(), Some(q::ALICE_EMAIL));
    assert_eq!(found.id_token_claims()["oid"], q::ALICE_OBJECT_ID);
    let token = second.acquire_token_silent([GRAPH], &found).await.unwrap();
    assert_eq!(token.source(), TokenSource::Cache);
    assert_eq!(tenant.requests(Endpoint::Token), calls, "zero token calls");
    // Silent on a third instance, without looking the account up first, works too.
    let third = builder(&tenant).cache_store(store).build().unwrap();
    let token = third.acquire_token_silent([GRAPH], &account).await.unwrap();
    assert_eq!(token.source(), TokenSource::Cache);
    assert_eq!(tenant.requests(Endpoint::Token), calls);
}

#[tokio::test]
async fn an_instance_holding_the_partition_rereads_the_shared_store_before_the_network() {
    let mut config = Config::quickstart();
    // 10-minute tokens and a shared clock moved 6 minutes ahead: cached tokens fall inside the
    // 5-minute refresh margin (as in silent_refresh_after_expiry_rotates_the_refresh_token).
    config.lifetimes.access_token_secs = 600;
    let tenant = DevTenant::start(config).await.unwrap();
    let clock = Clock::default();
    // Two instances, each with its own memory layer in front of one shared L2 (Redis in
    // production; a MemoryStore stands in here).
    let l2 = MemoryStore::new();
    let instance = || {
        let store: Arc<dyn CacheStore> = Arc::new(Layered::new(MemoryStore::new(), l2.clone()));
        builder(&tenant)
            .clock(clock.as_fn())
            .cache_store(store)
            .build()
            .unwrap()
    };
    let (a, b) = (instance(), instance());
    let (account, _) = sign_in(&a, &tenant, &mut Browser::default(), graph_sign_in())
        .await
        .unwrap();
    // B loads the user's partition (and holds it in memory from now on).
    let loaded = b.acquire_token_silent([GRAPH], &account).await.unwrap();
    assert_eq!(loaded.source(), TokenSource::Cache);
    let calls = tenant.requests(Endpoint::Token);

    // The token comes due; A refreshes it and writes the new one through to L2.
    clock.advance(Duration::from_secs(360));
    let on_a = a.acquire_token_silent([GRAPH], &account).await.unwrap();
    assert_eq!(on_a.source(), TokenSource::Network);
    assert_eq!(tenant.requests(Endpoint::Token), calls + 1);

    // B's memory holds only the old, due token: B finds A's in the shared store instead of
    // redeeming its own refresh token, and so do concurrent callers (one re-read between them).
    let (first, second) = tokio::join!(
        b.acquire_token_silent([GRAPH], &account),
        b.acquire_token_silent([GRAPH], &account),
    );
    for on_b in [first.unwrap(), second.unwrap()] {
        assert_eq!(on_b.source(), TokenSource::Cache);
        assert_eq!(on_b.access_token().secret(), on_a.access_token().secret());
    }
    assert_eq!(
        tenant.requests(Endpoint::Token),
        calls + 1,
        "no second token call"
    );

    // When the shared store has nothing better either, B goes to the network, once.
    clock.advance(Duration::from_secs(360));
    let renewed = b.acquire_token_silent([GRAPH], &account).await.unwrap();
    assert_eq!(renewed.source(), TokenSource::Network);
    assert_eq!(tenant.requests(Endpoint::Token), calls + 2);
}

#[tokio::test]
async fn users_evicted_by_the_byte_budget_come_back_from_the_cache_store() {
    let tenant = tenant().await;
    let store = Arc::new(MemoryStore::new());
    // A budget smaller than one user: each sign-in pushes the other users out of memory.
    let client = builder(&tenant)
        .cache_store(store.clone())
        .cache_byte_budget(1)
        .build()
        .unwrap();
    let (alice, _) = sign_in(&client, &tenant, &mut Browser::default(), graph_sign_in())
        .await
        .unwrap();
    let (url, flow) = client.auth_code_url(graph_sign_in()).await.unwrap();
    let (returned, _) = Browser::default()
        .sign_in(&tenant, url.as_str(), q::BOB_EMAIL)
        .await;
    let bob = client
        .acquire_token_by_code(&returned.code, &returned.state, flow)
        .await
        .unwrap();
    assert_eq!(bob.account().unwrap().username(), Some(q::BOB_EMAIL));
    assert_eq!(
        client.accounts().len(),
        1,
        "only the latest user stays in memory"
    );

    // Alice is read back from the store: no new sign-in, no token call.
    let calls = tenant.requests(Endpoint::Token);
    let found = client
        .account(alice.home_account_id())
        .await
        .expect("from the store");
    assert_eq!(found, alice);
    let token = client.acquire_token_silent([GRAPH], &alice).await.unwrap();
    assert_eq!(token.source(), TokenSource::Cache);
    assert_eq!(tenant.requests(Endpoint::Token), calls);

    // Without a store, an evicted user has to sign in again.
    let forgetful = builder(&tenant).cache_byte_budget(1).build().unwrap();
    let (first, _) = sign_in(
        &forgetful,
        &tenant,
        &mut Browser::default(),
        graph_sign_in(),
    )
    .await
    .unwrap();
    let (url, flow) = forgetful.auth_code_url(graph_sign_in()).await.unwrap();
    let (returned, _) = Browser::default()
        .sign_in(&tenant, url.as_str(), q::BOB_EMAIL)
        .await;
    forgetful
        .acquire_token_by_code(&returned.code, &returned.state, flow)
        .await
        .unwrap();
    let e = forgetful
        .acquire_token_silent([GRAPH], &first)
        .await
        .unwrap_err();
    assert!(e.is_interaction_required(), "{e:?}");
}
