//! On-behalf-of against a real dev tenant on an ephemeral loopback port (the quickstart's
//! EditProfileService API exchanging Alice's token for Graph `User.ReadWrite`), plus the exact
//! outgoing request captured by a closure transport.

#![cfg(feature = "reqwest")]

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use dev_tenant::{Config, DevTenant, Endpoint, Fault, TokenOptions, quickstart as q};
use msal_lite::challenge::ClaimsChallenge;
use msal_lite::http::{HttpClient, HttpError, HttpRequest, ReqwestHttpClient};
use msal_lite::{
    AuthenticationResult, ClientCredential, ConfidentialClient, CorrelationId, OboRequest,
    RetryPolicy, Scopes, TokenSource, UserAssertion,
};

const GRAPH_SCOPE: &str = "User.ReadWrite";

async fn start(config: Config) -> DevTenant {
    DevTenant::start(config).await.expect("dev tenant starts")
}

/// Alice's token for the API, as the web app would send it (issued to the web app: `azp`).
fn incoming(tenant: &DevTenant, mfa: bool) -> UserAssertion {
    let token = tenant
        .access_token_for(
            q::ALICE_EMAIL,
            q::WEB_APP_CLIENT_ID,
            [q::API_SCOPE_URI],
            TokenOptions::default().mfa(mfa),
        )
        .expect("the tenant issues a token for the API");
    UserAssertion::new(token)
}

fn api(authority: impl Into<String>) -> msal_lite::ConfidentialClientBuilder {
    ConfidentialClient::builder(
        q::API_CLIENT_ID,
        authority.into(),
        ClientCredential::secret(q::API_CLIENT_SECRET),
    )
    .retry_policy(RetryPolicy::default().default_delay(Duration::ZERO))
}

fn api_client(tenant: &DevTenant) -> ConfidentialClient {
    api(tenant.authority()).build().expect("client builds")
}

/// `PATCH {graph}v1.0/me` with the token; returns the status and the response headers.
async fn patch_me(
    tenant: &DevTenant,
    token: &AuthenticationResult,
    display_name: &str,
) -> (u16, http::HeaderMap) {
    let response = reqwest::Client::new()
        .patch(format!("{}v1.0/me", tenant.graph_url()))
        .bearer_auth(token.access_token().secret())
        .json(&serde_json::json!({ "displayName": display_name }))
        .send()
        .await
        .expect("graph answers");
    (response.status().as_u16(), response.headers().clone())
}

/// Which grant each token request used, in order.
type Grants = Arc<Mutex<Vec<String>>>;

/// The real transport, recording token-request grant types; with `garble_refresh` set,
/// refresh-token requests carry an unknown refresh token (as if it had been lost or revoked).
fn recording(grants: Grants, garble_refresh: Arc<AtomicBool>) -> impl HttpClient {
    let real = Arc::new(ReqwestHttpClient::new().expect("transport builds"));
    move |request: HttpRequest| {
        let real = real.clone();
        let mut request = request;
        if request.uri().path().ends_with("/token") {
            let mut form: Vec<(String, String)> = url::form_urlencoded::parse(request.body())
                .into_owned()
                .collect();
            let grant = form
                .iter()
                .find(|(k, _)| k == "grant_type")
                .map(|(_, v)| v.clone())
                .unwrap_or_default();
            if grant == "refresh_token" && garble_refresh.load(Ordering::SeqCst) {
                for (k, v) in &mut form {
                    if k == "refresh_token" {
                        *v = "1.not-a-refresh-token".to_owned();
                    }
                }
                let body = url::form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(form)
                    .finish();
                *request.body_mut() = Bytes::from(body);
            }
            grants.lock().unwrap().push(grant);
        }
        async move { real.execute(request).await }
    }
}

#[tokio::test]
async fn obo_token_updates_the_graph_profile() {
    let tenant = start(Config::quickstart()).await;
    let client = api_client(&tenant);
    let result = client
        .acquire_token_on_behalf_of(incoming(&tenant, true), [GRAPH_SCOPE])
        .await
        .unwrap();
    assert_eq!(result.source(), TokenSource::Network);
    assert_eq!(result.tenant_id(), Some(q::TENANT_ID));
    assert!(
        result
            .scopes()
            .contains_all(&Scopes::new([GRAPH_SCOPE]).unwrap())
    );
    assert_eq!(tenant.requests(Endpoint::Token), 1);
    let (status, _) = patch_me(&tenant, &result, "Alice via OBO").await;
    assert_eq!(status, 204);
    assert_eq!(
        tenant.user(q::ALICE_EMAIL).unwrap().display_name,
        "Alice via OBO"
    );
}

#[tokio::test]
async fn same_assertion_and_scopes_is_a_cache_hit_with_zero_calls() {
    let tenant = start(Config::quickstart()).await;
    let client = api_client(&tenant);
    let assertion = incoming(&tenant, false);
    let scopes = Scopes::new([GRAPH_SCOPE]).unwrap();
    let first = client
        .acquire_token_on_behalf_of(assertion.clone(), &scopes)
        .await
        .unwrap();
    let (token_calls, discovery_calls) = (
        tenant.requests(Endpoint::Token),
        tenant.requests(Endpoint::Discovery),
    );
    assert_eq!(token_calls, 1);
    let clone = client.clone();
    for _ in 0..10 {
        // A new `UserAssertion` from the same token text: the hash, not the value, is the key.
        let again = UserAssertion::new(assertion.secret());
        let hit = clone
            .acquire_token_on_behalf_of(again, ["user.readwrite"])
            .await
            .unwrap();
        assert_eq!(hit.source(), TokenSource::Cache);
        assert_eq!(hit.access_token().secret(), first.access_token().secret());
    }
    assert_eq!(tenant.requests(Endpoint::Token), token_calls);
    assert_eq!(tenant.requests(Endpoint::Discovery), discovery_calls);

    // Another assertion of the same user is another partition.
    let other = incoming(&tenant, false);
    assert_ne!(other.hash(), assertion.hash());
    let second = client
        .acquire_token_on_behalf_of(other, &scopes)
        .await
        .unwrap();
    assert_eq!(second.source(), TokenSource::Network);
    assert_eq!(tenant.requests(Endpoint::Token), 2);

    // force_refresh and claims bypass the cache; the new token is then served from it.
    let forced = client
        .acquire_token_on_behalf_of_with(
            OboRequest::new(assertion.clone(), &scopes).force_refresh(true),
        )
        .await
        .unwrap();
    assert_eq!(forced.source(), TokenSource::Network);
    assert_ne!(
        forced.access_token().secret(),
        first.access_token().secret()
    );
    let claims = r#"{"access_token":{"xms_cc":{"values":["cp1"]}}}"#;
    let with_claims = client
        .acquire_token_on_behalf_of_with(OboRequest::new(assertion.clone(), &scopes).claims(claims))
        .await
        .unwrap();
    assert_eq!(with_claims.source(), TokenSource::Network);
    assert_eq!(tenant.requests(Endpoint::Token), 4);
    let hit = client
        .acquire_token_on_behalf_of(assertion, &scopes)
        .await
        .unwrap();
    assert_eq!(hit.source(), TokenSource::Cache);
    assert_eq!(
        hit.access_token().secret(),
        with_claims.access_token().secret()
    );
    assert_eq!(tenant.requests(Endpoint::Token), 4);
}

#[tokio::test]
async fn concurrent_misses_for_one_assertion_make_one_call() {
    let tenant = start(Config::quickstart()).await;
    let client = api_client(&tenant);
    let assertion = incoming(&tenant, false);
    tenant.inject_fault(
        Endpoint::Token,
        Fault::latency(Duration::from_millis(300)).times(1),
    );
    let mut tasks = Vec::new();
    for _ in 0..30 {
        let (client, assertion) = (client.clone(), assertion.clone());
        tasks.push(tokio::spawn(async move {
            client
                .acquire_token_on_behalf_of(assertion, [GRAPH_SCOPE])
                .await
        }));
    }
    let mut tokens = Vec::new();
    for task in tasks {
        let result = task.await.unwrap().unwrap();
        tokens.push(result.access_token().secret().to_owned());
    }
    assert!(tokens.iter().all(|t| *t == tokens[0]));
    assert_eq!(tenant.requests(Endpoint::Token), 1);
}

#[tokio::test]
async fn expired_obo_token_is_renewed_with_the_refresh_token_then_the_assertion() {
    let tenant = start(Config::quickstart()).await;
    let offset = Arc::new(AtomicU64::new(0));
    let seen = offset.clone();
    let grants: Grants = Arc::default();
    let garble = Arc::new(AtomicBool::new(false));
    let client = api(tenant.authority())
        .http_client(recording(grants.clone(), garble.clone()))
        .clock(move || SystemTime::now() + Duration::from_secs(seen.load(Ordering::SeqCst)))
        .build()
        .unwrap();
    // The caller's token outlives both renewals: the OBO refresh token is only redeemed while
    // the assertion is unexpired (issue 17; tests/obo_long_running.rs has the expired case).
    let assertion = UserAssertion::new(
        tenant
            .access_token_for(
                q::ALICE_EMAIL,
                q::WEB_APP_CLIENT_ID,
                [q::API_SCOPE_URI],
                TokenOptions::default().lifetime(Duration::from_secs(24 * 3600)),
            )
            .expect("the tenant issues a token for the API"),
    );
    let scopes = Scopes::new([GRAPH_SCOPE]).unwrap();
    let first = client
        .acquire_token_on_behalf_of(assertion.clone(), &scopes)
        .await
        .unwrap();
    let lifetime = first
        .expires_on()
        .duration_since(SystemTime::now())
        .unwrap()
        .as_secs();

    // Inside the five-minute refresh margin: renewed with the OBO refresh token.
    offset.store(lifetime.saturating_sub(200), Ordering::SeqCst);
    let renewed = client
        .acquire_token_on_behalf_of(assertion.clone(), &scopes)
        .await
        .unwrap();
    assert_eq!(renewed.source(), TokenSource::Network);
    assert_ne!(
        renewed.access_token().secret(),
        first.access_token().secret()
    );
    assert_eq!(
        *grants.lock().unwrap(),
        [
            "urn:ietf:params:oauth:grant-type:jwt-bearer",
            "refresh_token"
        ]
    );
    // The renewed token works and is cached.
    assert_eq!(patch_me(&tenant, &renewed, "Alice renewed").await.0, 204);
    let hit = client
        .acquire_token_on_behalf_of(assertion.clone(), &scopes)
        .await
        .unwrap();
    assert_eq!(hit.source(), TokenSource::Cache);
    assert_eq!(tenant.requests(Endpoint::Token), 2);

    // Expired again, and the server refuses the refresh token (invalid_grant): the assertion
    // is exchanged again.
    offset.store(2 * lifetime, Ordering::SeqCst);
    garble.store(true, Ordering::SeqCst);
    let fallback = client
        .acquire_token_on_behalf_of(assertion.clone(), &scopes)
        .await
        .unwrap();
    assert_eq!(fallback.source(), TokenSource::Network);
    assert_eq!(
        grants.lock().unwrap()[2..],
        [
            "refresh_token",
            "urn:ietf:params:oauth:grant-type:jwt-bearer"
        ]
    );
    assert_eq!(tenant.requests(Endpoint::Token), 4);
    assert_eq!(patch_me(&tenant, &fallback, "Alice again").await.0, 204);
}

#[tokio::test]
async fn conditional_access_refusal_is_interaction_required_with_claims_until_mfa() {
    let mut config = Config::quickstart();
    // A Conditional Access policy that also covers Microsoft Graph.
    config.conditional_access[0]
        .resources
        .push(q::GRAPH_APP_ID.to_owned());
    let tenant = start(config).await;
    let client = api_client(&tenant);
    let id = CorrelationId::random();
    let err = client
        .acquire_token_on_behalf_of_with(
            OboRequest::new(incoming(&tenant, false), [GRAPH_SCOPE]).correlation_id(id),
        )
        .await
        .unwrap_err();
    assert!(err.is_interaction_required(), "{err:?}");
    assert_eq!(err.correlation_id(), Some(id));
    let server = err.server_error().expect("an OAuth error from the tenant");
    // Entra's current AADSTS50076 shape (the dev tenant's before issue 19 was an old docs
    // example's: interaction_required + polids).
    assert_eq!(server.error(), "invalid_grant");
    assert_eq!(server.error_codes(), [50076]);
    assert_eq!(server.suberror(), Some("basic_action"));
    let claims: serde_json::Value =
        serde_json::from_str(err.claims().expect("the refusal carries claims")).unwrap();
    assert_eq!(
        claims["access_token"]["capolids"]["values"][0],
        q::MFA_POLICY_ID
    );
    // Nothing was cached by the refusal; after MFA (a new assertion from an MFA sign-in) it works.
    let ok = client
        .acquire_token_on_behalf_of(incoming(&tenant, true), [GRAPH_SCOPE])
        .await
        .unwrap();
    assert_eq!(ok.source(), TokenSource::Network);
    assert_eq!(patch_me(&tenant, &ok, "Alice with MFA").await.0, 204);
    assert_eq!(tenant.requests(Endpoint::Token), 2);
}

#[tokio::test]
async fn common_authority_is_routed_to_the_assertion_tenant() {
    let tenant = start(Config::quickstart()).await;
    let common = format!("{}/common/", tenant.base_url());
    let client = api(common.as_str()).build().unwrap();
    // The tenant does not serve `/common` (as a single tenant would not): anything sent there
    // fails, so success below means the request went to the assertion's tenant.
    let direct = client
        .acquire_token_for_client([format!("{}/.default", q::GRAPH_RESOURCE)])
        .await;
    assert!(direct.is_err());
    let discovery_before = tenant.requests(Endpoint::Discovery);
    let assertion = incoming(&tenant, false);
    let result = client
        .acquire_token_on_behalf_of(assertion.clone(), [GRAPH_SCOPE])
        .await
        .unwrap();
    assert_eq!(result.tenant_id(), Some(q::TENANT_ID));
    assert_eq!(tenant.requests(Endpoint::Discovery), discovery_before + 1);
    assert_eq!(patch_me(&tenant, &result, "Alice from common").await.0, 204);
    // And it is cached like any other OBO token.
    let hit = client
        .acquire_token_on_behalf_of(assertion, [GRAPH_SCOPE])
        .await
        .unwrap();
    assert_eq!(hit.source(), TokenSource::Cache);
}

#[tokio::test]
async fn graph_cae_revocation_challenge_is_parsed_and_obo_reacquired_with_claims() {
    let tenant = start(Config::quickstart()).await;
    let client = api(tenant.authority())
        .client_capabilities(["cp1"])
        .build()
        .unwrap();
    let assertion = incoming(&tenant, false);
    let first = client
        .acquire_token_on_behalf_of(assertion.clone(), [GRAPH_SCOPE])
        .await
        .unwrap();
    assert_eq!(patch_me(&tenant, &first, "Alice before").await.0, 204);

    let revoked_at = tenant.revoke_user(q::ALICE_EMAIL).expect("alice exists");
    let (status, headers) = patch_me(&tenant, &first, "Alice after").await;
    assert_eq!(status, 401);
    let challenge = ClaimsChallenge::from_headers(&headers).expect("a claims challenge");
    let claims: serde_json::Value = serde_json::from_str(challenge.claims()).unwrap();
    assert_eq!(
        claims["access_token"]["nbf"]["value"],
        revoked_at.to_string()
    );
    assert_eq!(
        tenant.user(q::ALICE_EMAIL).unwrap().display_name,
        "Alice before"
    );

    // Without the claims the cache still serves the revoked token: only the resource knows.
    let cached = client
        .acquire_token_on_behalf_of(assertion.clone(), [GRAPH_SCOPE])
        .await
        .unwrap();
    assert_eq!(cached.source(), TokenSource::Cache);

    // With the claims, the old assertion (issued before the revocation) is refused: the
    // tenant answers invalid_grant / bad_token (AADSTS50173), an interaction-required error
    // the API turns into a challenge for its caller.
    let calls = tenant.requests(Endpoint::Token);
    let err = client
        .acquire_token_on_behalf_of_with(
            OboRequest::new(assertion.clone(), [GRAPH_SCOPE]).claims(challenge.claims()),
        )
        .await
        .unwrap_err();
    assert!(err.is_interaction_required(), "{err:?}");
    let server = err.server_error().unwrap();
    assert_eq!(
        (server.error(), server.suberror()),
        ("invalid_grant", Some("bad_token"))
    );
    assert_eq!(server.error_codes(), [50173]);
    assert_eq!(tenant.requests(Endpoint::Token), calls + 1);

    // The user signs in again; the new assertion with the claims gets a token Graph accepts.
    let fresh = incoming(&tenant, false);
    let renewed = client
        .acquire_token_on_behalf_of_with(
            OboRequest::new(fresh.clone(), [GRAPH_SCOPE]).claims(challenge.claims()),
        )
        .await
        .unwrap();
    assert_eq!(renewed.source(), TokenSource::Network);
    assert_eq!(patch_me(&tenant, &renewed, "Alice after").await.0, 204);
    assert_eq!(
        tenant.user(q::ALICE_EMAIL).unwrap().display_name,
        "Alice after"
    );
    // That token is cached for the new assertion.
    let hit = client
        .acquire_token_on_behalf_of(fresh, [GRAPH_SCOPE])
        .await
        .unwrap();
    assert_eq!(hit.source(), TokenSource::Cache);
    assert_eq!(hit.access_token().secret(), renewed.access_token().secret());
}

// ---- the outgoing request, captured without a server ----

type Seen = Arc<Mutex<Vec<HttpRequest>>>;

/// A transport playing Entra for tenant `tid`: metadata, then a token (with a refresh token).
fn fake_entra(seen: Seen) -> impl HttpClient {
    move |request: HttpRequest| {
        let path = request.uri().path().to_owned();
        let body = if path.ends_with("openid-configuration") {
            let tenant = path.split('/').nth(1).unwrap_or_default().to_owned();
            format!(
                r#"{{"issuer":"https://login.microsoftonline.com/{tenant}/v2.0","token_endpoint":"https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token"}}"#
            )
        } else {
            r#"{"token_type":"Bearer","expires_in":3599,"ext_expires_in":3599,"scope":"User.ReadWrite openid profile","access_token":"header.eyJ0aWQiOiJ0aWQifQ.sig","refresh_token":"rt"}"#.to_owned()
        };
        seen.lock().unwrap().push(request);
        async move {
            http::Response::builder()
                .header("content-type", "application/json; charset=utf-8")
                .body(Bytes::from(body))
                .map_err(HttpError::other)
        }
    }
}

fn form(request: &HttpRequest) -> Vec<(String, String)> {
    url::form_urlencoded::parse(request.body())
        .into_owned()
        .collect()
}

/// An unsigned JWT-shaped assertion with these claims (the client never verifies it).
fn jwt(claims: &str) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    format!(
        "{}.{}.sig",
        b64.encode(r#"{"alg":"none"}"#),
        b64.encode(claims)
    )
}

#[tokio::test]
async fn outgoing_obo_request_is_exact() {
    let seen: Seen = Arc::default();
    let client = ConfidentialClient::builder(
        "api-client",
        "https://login.microsoftonline.com/common",
        ClientCredential::secret("s3cret"),
    )
    .http_client(fake_entra(seen.clone()))
    .retry_policy(RetryPolicy::none())
    .client_capabilities(["cp1"])
    .build()
    .unwrap();
    let assertion_text = jwt(r#"{"tid":"72F988BF-86F1-41AF-91AB-2D7CD011DB47","oid":"o1"}"#);
    let id = CorrelationId::random();
    let result = client
        .acquire_token_on_behalf_of_with(
            OboRequest::new(
                UserAssertion::new(assertion_text.as_str()),
                ["User.ReadWrite"],
            )
            .correlation_id(id),
        )
        .await
        .unwrap();
    assert_eq!(result.correlation_id(), Some(id));
    assert_eq!(result.tenant_id(), Some("tid"));

    let requests = seen.lock().unwrap().clone();
    assert_eq!(requests.len(), 2);
    // `common` was replaced by the assertion's tenant, for discovery and the token request.
    let tenant_base = "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/";
    assert_eq!(
        requests[0].uri().to_string(),
        format!("{tenant_base}v2.0/.well-known/openid-configuration")
    );
    let token = &requests[1];
    assert_eq!(token.method(), http::Method::POST);
    assert_eq!(
        token.uri().to_string(),
        format!("{tenant_base}oauth2/v2.0/token")
    );
    assert_eq!(
        token.headers()["client-request-id"],
        id.to_string().as_str()
    );
    assert_eq!(
        token.headers()["content-type"],
        "application/x-www-form-urlencoded;charset=utf-8"
    );
    let expected: Vec<(String, String)> = [
        ("client_id", "api-client"),
        ("scope", "User.ReadWrite openid profile offline_access"),
        ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
        ("client_info", "1"),
        ("requested_token_use", "on_behalf_of"),
        ("assertion", assertion_text.as_str()),
        ("client_secret", "s3cret"),
        // Capabilities are sent even without claims (as msal-js does).
        (
            "claims",
            r#"{"access_token":{"xms_cc":{"values":["cp1"]}}}"#,
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    assert_eq!(form(token), expected);

    // A claims challenge is merged with the capabilities.
    let challenge = r#"{"access_token":{"nbf":{"essential":true,"value":"1700000000"}}}"#;
    client
        .acquire_token_on_behalf_of_with(
            OboRequest::new(
                UserAssertion::new(assertion_text.as_str()),
                ["User.ReadWrite"],
            )
            .claims(challenge),
        )
        .await
        .unwrap();
    let requests = seen.lock().unwrap().clone();
    assert_eq!(requests.len(), 3, "metadata is cached");
    let claims = form(&requests[2])
        .into_iter()
        .find(|(k, _)| k == "claims")
        .map(|(_, v)| v);
    assert_eq!(
        claims.as_deref(),
        Some(
            r#"{"access_token":{"nbf":{"essential":true,"value":"1700000000"},"xms_cc":{"values":["cp1"]}}}"#
        )
    );
}

#[tokio::test]
async fn outgoing_obo_refresh_request_is_exact() {
    let seen: Seen = Arc::default();
    let offset = Arc::new(AtomicU64::new(0));
    let clock = offset.clone();
    let client = ConfidentialClient::builder(
        "api-client",
        "https://login.microsoftonline.com/contoso.onmicrosoft.com",
        ClientCredential::secret("s3cret"),
    )
    .http_client(fake_entra(seen.clone()))
    .retry_policy(RetryPolicy::none())
    .clock(move || SystemTime::now() + Duration::from_secs(clock.load(Ordering::SeqCst)))
    .build()
    .unwrap();
    let assertion = UserAssertion::new(jwt(r#"{"tid":"t","oid":"o"}"#));
    client
        .acquire_token_on_behalf_of(assertion.clone(), ["User.ReadWrite"])
        .await
        .unwrap();
    offset.store(3500, Ordering::SeqCst);
    client
        .acquire_token_on_behalf_of(assertion, ["User.ReadWrite"])
        .await
        .unwrap();
    let requests = seen.lock().unwrap().clone();
    assert_eq!(requests.len(), 3);
    let expected: Vec<(String, String)> = [
        ("client_id", "api-client"),
        ("scope", "User.ReadWrite openid profile offline_access"),
        ("grant_type", "refresh_token"),
        ("refresh_token", "rt"),
        ("client_info", "1"),
        ("client_secret", "s3cret"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    assert_eq!(form(&requests[2]), expected);
}

#[tokio::test]
async fn invalid_requests_fail_before_any_call() {
    let seen: Seen = Arc::default();
    let client = ConfidentialClient::builder(
        "api-client",
        "https://login.microsoftonline.com/contoso.onmicrosoft.com",
        ClientCredential::secret("s3cret"),
    )
    .http_client(fake_entra(seen.clone()))
    .build()
    .unwrap();
    let empty = client
        .acquire_token_on_behalf_of(UserAssertion::new(""), ["User.Read"])
        .await
        .unwrap_err();
    assert!(
        matches!(empty, msal_lite::Error::Config { .. }),
        "{empty:?}"
    );
    let bad_scope = client
        .acquire_token_on_behalf_of(UserAssertion::new("a.b.c"), ["bad\"scope"])
        .await
        .unwrap_err();
    assert!(matches!(bad_scope, msal_lite::Error::InvalidScope { .. }));
    assert!(seen.lock().unwrap().is_empty());
}

#[tokio::test]
async fn tenant_override_has_its_own_memory_only_partition() {
    let tenant = start(Config::quickstart()).await;
    let store = Arc::new(msal_lite::persistence::MemoryStore::new());
    let client = api(tenant.authority())
        .cache_store(store.clone())
        .build()
        .unwrap();
    let assertion = incoming(&tenant, false);
    let default = client
        .acquire_token_on_behalf_of(assertion.clone(), [GRAPH_SCOPE])
        .await
        .unwrap();
    assert_eq!(
        store.len(),
        1,
        "the default authority's partition is stored"
    );
    let by_id = || OboRequest::new(assertion.clone(), [GRAPH_SCOPE]).tenant(q::TENANT_ID);
    let first = client
        .acquire_token_on_behalf_of_with(by_id())
        .await
        .unwrap();
    assert_eq!(first.source(), TokenSource::Network);
    assert_ne!(
        first.access_token().secret(),
        default.access_token().secret()
    );
    let hit = client
        .acquire_token_on_behalf_of_with(by_id())
        .await
        .unwrap();
    assert_eq!(hit.source(), TokenSource::Cache);
    assert_eq!(hit.access_token().secret(), first.access_token().secret());
    assert_eq!(tenant.requests(Endpoint::Token), 2);
    let stored = store
        .get(&msal_lite::schema::PartitionKey::obo(assertion.hash()))
        .unwrap();
    assert_eq!(
        stored.document().access_tokens.len(),
        1,
        "the override's token is not persisted"
    );
}

#[tokio::test]
async fn instances_sharing_a_store_share_default_scope_tokens() {
    let tenant = start(Config::quickstart()).await;
    // One store shared by two clients stands for a shared Redis (tests/obo_redis.rs uses one).
    let store = Arc::new(msal_lite::persistence::MemoryStore::new());
    let a = api(tenant.authority())
        .cache_store(store.clone())
        .build()
        .unwrap();
    let b = api(tenant.authority())
        .cache_store(store.clone())
        .build()
        .unwrap();
    let assertion = incoming(&tenant, false);
    let default = format!("{}/.default", q::GRAPH_RESOURCE);
    let on_a = a
        .acquire_token_on_behalf_of(assertion.clone(), [default.as_str()])
        .await
        .unwrap();
    // Entra answers a `.default` request with the individual scopes.
    assert!(!on_a.scopes().as_str().contains(".default"));
    let on_b = b
        .acquire_token_on_behalf_of(assertion, [default.as_str()])
        .await
        .unwrap();
    assert_eq!(on_b.source(), TokenSource::Cache);
    assert_eq!(on_b.access_token().secret(), on_a.access_token().secret());
    assert_eq!(tenant.requests(Endpoint::Token), 1);
}

#[tokio::test]
async fn an_instance_holding_the_partition_takes_another_instances_renewal() {
    let tenant = start(Config::quickstart()).await;
    let offset = Arc::new(AtomicU64::new(0));
    // Each instance has its own memory layer in front of one shared L2 (Redis in production).
    let l2 = msal_lite::persistence::MemoryStore::new();
    let instance = || {
        let seen = offset.clone();
        let store: Arc<dyn msal_lite::persistence::CacheStore> =
            Arc::new(msal_lite::persistence::Layered::new(
                msal_lite::persistence::MemoryStore::new(),
                l2.clone(),
            ));
        api(tenant.authority())
            .clock(move || SystemTime::now() + Duration::from_secs(seen.load(Ordering::SeqCst)))
            .cache_store(store)
            .build()
            .unwrap()
    };
    let (a, b) = (instance(), instance());
    let assertion = incoming(&tenant, false);
    let scopes = Scopes::new([GRAPH_SCOPE]).unwrap();
    let first = a
        .acquire_token_on_behalf_of(assertion.clone(), &scopes)
        .await
        .unwrap();
    let on_b = b
        .acquire_token_on_behalf_of(assertion.clone(), &scopes)
        .await
        .unwrap();
    assert_eq!(
        on_b.source(),
        TokenSource::Cache,
        "B holds the partition now"
    );
    assert_eq!(tenant.requests(Endpoint::Token), 1);

    // Inside the refresh margin: A renews; B, whose memory layer still holds the old token,
    // takes A's renewal from L2 instead of renewing again.
    let lifetime = first
        .expires_on()
        .duration_since(SystemTime::now())
        .unwrap()
        .as_secs();
    offset.store(lifetime.saturating_sub(200), Ordering::SeqCst);
    let renewed = a
        .acquire_token_on_behalf_of(assertion.clone(), &scopes)
        .await
        .unwrap();
    assert_eq!(renewed.source(), TokenSource::Network);
    assert_eq!(tenant.requests(Endpoint::Token), 2);
    let on_b = b
        .acquire_token_on_behalf_of(assertion, &scopes)
        .await
        .unwrap();
    assert_eq!(on_b.source(), TokenSource::Cache);
    assert_eq!(
        on_b.access_token().secret(),
        renewed.access_token().secret()
    );
    assert_eq!(tenant.requests(Endpoint::Token), 2, "no second renewal");
}

#[test]
fn obo_types_are_send_sync_and_redacted() {
    fn assert_send_sync<T: Send + Sync + 'static>() {}
    assert_send_sync::<UserAssertion>();
    assert_send_sync::<OboRequest>();
    let assertion = UserAssertion::new("eyJ.payload.signature");
    assert_eq!(format!("{assertion:?}"), "UserAssertion([redacted])");
    let request = format!("{:?}", OboRequest::new(assertion, [GRAPH_SCOPE]));
    assert!(!request.contains("payload"), "{request}");
}
