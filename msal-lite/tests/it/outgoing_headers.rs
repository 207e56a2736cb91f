//! What msal-lite sends beyond the grant itself, recorded on the way to a real dev tenant:
//! server telemetry (`x-client-current-telemetry` / `x-client-last-telemetry`, schema 5 as
//! msal-node sends them), `x-client-OS` / `x-client-CPU`, the `X-AnchorMailbox` routing hint on
//! code and refresh requests, and the authorize URL's caller-chosen `state`, account hints and
//! `extra_scopes_to_consent`.
#![cfg(feature = "reqwest")]

use crate::user_support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use dev_tenant::{Config, DevTenant, Endpoint, Fault, TokenOptions, quickstart as q};
use msal_lite::http::{HttpClient, HttpRequest, HttpResponse, ReqwestHttpClient};
use msal_lite::{
    AuthCodeRequest, ClientCredential, ClientCredentialsRequest, ConfidentialClient, CorrelationId,
    OboRequest, Prompt, RetryPolicy, SilentRequest, TokenSource, UserAssertion,
};
use user_support::Browser;

/// Every request's method, URL, headers and form, in order.
type Seen = Arc<Mutex<Vec<HttpRequest>>>;

fn recording() -> (impl HttpClient, Seen) {
    let seen = Seen::default();
    let sink = seen.clone();
    let inner = Arc::new(ReqwestHttpClient::new().expect("transport"));
    let transport = move |request: HttpRequest| {
        sink.lock().unwrap().push(request.clone());
        let inner = inner.clone();
        async move { inner.execute(request).await }
    };
    (transport, seen)
}

/// [`recording`], adding `refresh_in` (half of `expires_in`) to every successful token
/// response on the way back: the dev tenant sends none, and without one no token is ever due
/// for a proactive refresh. What the dev tenant receives is recorded unchanged.
fn recording_with_refresh_in() -> (impl HttpClient, Seen) {
    let (recorder, seen) = recording();
    let recorder = Arc::new(recorder);
    let transport = move |request: HttpRequest| {
        let recorder = recorder.clone();
        async move {
            let is_token = request.uri().path().ends_with("/token");
            let response = recorder.execute(request).await?;
            if !is_token || !response.status().is_success() {
                return Ok(response);
            }
            let (parts, body) = response.into_parts();
            let mut json: serde_json::Value = serde_json::from_slice(&body).unwrap();
            let expires_in = json["expires_in"].as_u64().expect("expires_in");
            json["refresh_in"] = (expires_in / 2).into();
            let body = serde_json::to_vec(&json).unwrap();
            Ok(HttpResponse::from_parts(parts, body.into()))
        }
    };
    (transport, seen)
}

/// A clock `offset` seconds ahead of the system's.
fn shifted(offset: &Arc<AtomicU64>) -> impl Fn() -> SystemTime + Send + Sync + 'static {
    let offset = offset.clone();
    move || SystemTime::now() + Duration::from_secs(offset.load(Ordering::SeqCst))
}

/// The cache outcome field of a token request's `x-client-current-telemetry`
/// (`5|{api_id},{cache_outcome},...`), with its api id.
fn cache_outcome(request: &HttpRequest) -> (String, String) {
    let current = header(request, "x-client-current-telemetry").expect("telemetry header");
    let fields = current.split('|').nth(1).expect("schema 5").to_owned();
    let mut fields = fields.split(',');
    (
        fields.next().unwrap().to_owned(),
        fields.next().unwrap().to_owned(),
    )
}

/// Polls until `n` token requests have been recorded (a background refresh has gone out).
async fn until_token_requests(seen: &Seen, n: usize) -> Vec<HttpRequest> {
    for _ in 0..2000 {
        let tokens = token_requests(seen);
        if tokens.len() >= n {
            return tokens;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("fewer than {n} token requests were sent");
}

fn header(request: &HttpRequest, name: &str) -> Option<String> {
    request
        .headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
}

fn field(request: &HttpRequest, name: &str) -> Option<String> {
    url::form_urlencoded::parse(request.body())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

fn token_requests(seen: &Seen) -> Vec<HttpRequest> {
    seen.lock()
        .unwrap()
        .iter()
        .filter(|r| r.uri().path().ends_with("/token"))
        .cloned()
        .collect()
}

fn query(url: &url::Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

#[tokio::test]
async fn telemetry_last_header_carries_the_failures_since_the_last_success() {
    let tenant = DevTenant::start(Config::quickstart()).await.unwrap();
    let (transport, seen) = recording();
    let client = ConfidentialClient::builder(
        q::DAEMON_CLIENT_ID,
        tenant.authority(),
        ClientCredential::secret(q::DAEMON_CLIENT_SECRET),
    )
    .http_client(transport)
    .retry_policy(RetryPolicy::none())
    .build()
    .unwrap();
    let graph = "https://graph.microsoft.com/.default";
    let failed_id = CorrelationId::random();
    tenant.inject_fault(Endpoint::Token, Fault::status(503).times(1));
    client
        .acquire_token_for_client_with(
            ClientCredentialsRequest::new([graph])
                .claims(r#"{"access_token":{"xms_cc":{"values":["cp1"]}}}"#)
                .correlation_id(failed_id),
        )
        .await
        .unwrap_err();
    client
        .acquire_token_for_client_with(
            ClientCredentialsRequest::new([graph]).correlation_id(CorrelationId::random()),
        )
        .await
        .unwrap();
    client
        .acquire_token_for_client_with(ClientCredentialsRequest::new([graph]).force_refresh(true))
        .await
        .unwrap();

    let tokens = token_requests(&seen);
    assert_eq!(tokens.len(), 3);
    // Schema 5: `5|{api_id},{cache_outcome},{region fields}|{wrapper}`; 771 = client credentials
    // (msal-node ApiId); outcome 1 = a claims request or force refresh, 2 = no cached token.
    for (t, outcome) in tokens.iter().zip(["1", "2", "1"]) {
        assert_eq!(
            header(t, "x-client-current-telemetry"),
            Some(format!("5|771,{outcome},,,|,"))
        );
        assert_eq!(
            header(t, "x-client-OS").as_deref(),
            Some(std::env::consts::OS)
        );
        assert_eq!(
            header(t, "x-client-CPU").as_deref(),
            Some(std::env::consts::ARCH)
        );
    }
    assert_eq!(
        header(&tokens[0], "x-client-last-telemetry").as_deref(),
        Some("5|0|||0,0")
    );
    // The next request reports the failed one (api id, correlation id, error code) ...
    let last = header(&tokens[1], "x-client-last-telemetry").unwrap();
    let (head, tail) = last.split_once(&format!("|771,{failed_id}|")).unwrap();
    assert_eq!(head, "5|0");
    assert!(tail.ends_with("|1,0"), "{last}");
    assert!(
        tail.len() > "|1,0".len(),
        "an error code is reported: {last}"
    );
    // ... and after that success it is not reported again.
    assert_eq!(
        header(&tokens[2], "x-client-last-telemetry").as_deref(),
        Some("5|0|||0,0")
    );
    // Discovery carries the platform but no token telemetry.
    let discovery = seen.lock().unwrap()[0].clone();
    assert!(discovery.uri().path().ends_with("openid-configuration"));
    assert_eq!(
        header(&discovery, "x-client-OS").as_deref(),
        Some(std::env::consts::OS)
    );
    assert!(header(&discovery, "x-client-current-telemetry").is_none());
}

/// The cache outcome says why a token request went out, as MSAL numbers it (msal-common
/// `CacheOutcome` in `lib/msal-common/src/utils/Constants.ts`, MSAL.NET `CacheRefreshReason` in
/// `src/client/Microsoft.Identity.Client/Cache/CacheRefreshReason.cs`): 2 no cached token,
/// 1 `force_refresh`, 4 a proactive refresh after `refresh_in` (MSAL.NET
/// `ClientCredentialRequest.cs` sets `ProactivelyRefreshed` before its background refresh).
#[tokio::test]
async fn telemetry_cache_outcome_of_force_and_proactive_refresh_for_client_credentials() {
    let tenant = DevTenant::start(Config::quickstart()).await.unwrap();
    let (transport, seen) = recording_with_refresh_in();
    let offset = Arc::new(AtomicU64::new(0));
    let client = ConfidentialClient::builder(
        q::DAEMON_CLIENT_ID,
        tenant.authority(),
        ClientCredential::secret(q::DAEMON_CLIENT_SECRET),
    )
    .http_client(transport)
    .clock(shifted(&offset))
    .build()
    .unwrap();
    let graph = "https://graph.microsoft.com/.default";
    let first = client.acquire_token_for_client([graph]).await.unwrap();
    let forced = client
        .acquire_token_for_client_with(ClientCredentialsRequest::new([graph]).force_refresh(true))
        .await
        .unwrap();
    assert_eq!(forced.source(), TokenSource::Network);
    assert_ne!(
        forced.access_token().secret(),
        first.access_token().secret()
    );

    // Past `refresh_in` (half the lifetime), well before expiry: the cached token is served
    // and one refresh goes out in the background.
    let lifetime = tenant.config().lifetimes.access_token_secs;
    offset.store(lifetime / 2 + 1, Ordering::SeqCst);
    let served = client.acquire_token_for_client([graph]).await.unwrap();
    assert_eq!(served.source(), TokenSource::Cache);
    assert_eq!(
        served.access_token().secret(),
        forced.access_token().secret()
    );
    let tokens = until_token_requests(&seen, 3).await;

    let outcomes: Vec<_> = tokens.iter().map(cache_outcome).collect();
    let want = |outcome: &str| ("771".to_owned(), outcome.to_owned());
    assert_eq!(outcomes, [want("2"), want("1"), want("4")]);
}

/// [`telemetry_cache_outcome_of_force_and_proactive_refresh_for_client_credentials`] for a
/// signed-in user's silent calls (msal-common `SilentFlowClient.ts` sets
/// `PROACTIVELY_REFRESHED` when `refreshOn` has passed; MSAL.NET `CacheSilentStrategy.cs`
/// `ProactivelyRefreshed`).
#[tokio::test]
async fn telemetry_cache_outcome_of_force_and_proactive_refresh_for_silent() {
    let tenant = DevTenant::start(Config::quickstart()).await.unwrap();
    let (transport, seen) = recording_with_refresh_in();
    let offset = Arc::new(AtomicU64::new(0));
    let client = ConfidentialClient::builder(
        q::WEB_APP_CLIENT_ID,
        tenant.authority(),
        ClientCredential::secret(q::WEB_APP_CLIENT_SECRET),
    )
    .http_client(transport)
    .clock(shifted(&offset))
    .build()
    .unwrap();
    let (url, flow) = client
        .auth_code_url(AuthCodeRequest::new(["User.Read"], q::WEB_APP_REDIRECT_URI))
        .await
        .unwrap();
    let (returned, _) = Browser::default()
        .sign_in(&tenant, url.as_str(), q::ALICE_EMAIL)
        .await;
    let signed_in = client
        .acquire_token_by_code(&returned.code, &returned.state, flow)
        .await
        .unwrap();
    let account = signed_in.account().unwrap().clone();
    let forced = client
        .acquire_token_silent_with(
            SilentRequest::new(["User.Read"]).force_refresh(true),
            &account,
        )
        .await
        .unwrap();
    assert_eq!(forced.source(), TokenSource::Network);

    let lifetime = tenant.config().lifetimes.access_token_secs;
    offset.store(lifetime / 2 + 1, Ordering::SeqCst);
    let served = client
        .acquire_token_silent(["User.Read"], &account)
        .await
        .unwrap();
    assert_eq!(served.source(), TokenSource::Cache);
    assert_eq!(
        served.access_token().secret(),
        forced.access_token().secret()
    );
    let tokens = until_token_requests(&seen, 3).await;

    let outcomes: Vec<_> = tokens.iter().map(cache_outcome).collect();
    let api = |id: &str, outcome: &str| (id.to_owned(), outcome.to_owned());
    // 871 = by code (not a cached flow, 0); 62 = silent.
    assert_eq!(outcomes, [api("871", "0"), api("62", "1"), api("62", "4")]);
    assert_eq!(
        field(&tokens[2], "grant_type").as_deref(),
        Some("refresh_token")
    );
}

/// The same for on-behalf-of, which refreshes a due token in the caller's request (MSAL.NET
/// `OnBehalfOfRequest.cs` sets `ProactivelyRefreshed` for it): 523 = on-behalf-of (MSAL
/// Python's id), its OBO refresh token redeemed as 62 (the refresh-token grant's id).
#[tokio::test]
async fn telemetry_cache_outcome_of_force_and_proactive_refresh_for_on_behalf_of() {
    let tenant = DevTenant::start(Config::quickstart()).await.unwrap();
    let (transport, seen) = recording_with_refresh_in();
    let offset = Arc::new(AtomicU64::new(0));
    let client = ConfidentialClient::builder(
        q::API_CLIENT_ID,
        tenant.authority(),
        ClientCredential::secret(q::API_CLIENT_SECRET),
    )
    .http_client(transport)
    .clock(shifted(&offset))
    .build()
    .unwrap();
    let incoming = tenant
        .access_token_for(
            q::ALICE_EMAIL,
            q::WEB_APP_CLIENT_ID,
            [q::API_SCOPE_URI],
            TokenOptions::default(),
        )
        .unwrap();
    let request = || OboRequest::new(UserAssertion::new(incoming.clone()), ["User.ReadWrite"]);
    client
        .acquire_token_on_behalf_of_with(request())
        .await
        .unwrap();
    let forced = client
        .acquire_token_on_behalf_of_with(request().force_refresh(true))
        .await
        .unwrap();
    assert_eq!(forced.source(), TokenSource::Network);

    let lifetime = tenant.config().lifetimes.access_token_secs;
    offset.store(lifetime / 2 + 1, Ordering::SeqCst);
    let renewed = client
        .acquire_token_on_behalf_of_with(request())
        .await
        .unwrap();
    assert_eq!(renewed.source(), TokenSource::Network);

    let tokens = token_requests(&seen);
    let outcomes: Vec<_> = tokens.iter().map(cache_outcome).collect();
    let api = |id: &str, outcome: &str| (id.to_owned(), outcome.to_owned());
    assert_eq!(outcomes, [api("523", "2"), api("523", "1"), api("62", "4")]);
    assert_eq!(
        field(&tokens[2], "grant_type").as_deref(),
        Some("refresh_token")
    );
}

#[tokio::test]
async fn sign_in_and_refresh_carry_routing_hints_state_and_consent_scopes() {
    let tenant = DevTenant::start(Config::quickstart()).await.unwrap();
    let (transport, seen) = recording();
    let client = ConfidentialClient::builder(
        q::WEB_APP_CLIENT_ID,
        tenant.authority(),
        ClientCredential::secret(q::WEB_APP_CLIENT_SECRET),
    )
    .http_client(transport)
    .build()
    .unwrap();
    let state = "Zq3k9X2vT0b1mN7cYp4w.return=/profile";
    let request = AuthCodeRequest::new(["User.Read"], q::WEB_APP_REDIRECT_URI)
        .login_hint(q::ALICE_EMAIL)
        .state(state)
        .extra_scopes_to_consent([q::API_SCOPE_URI]);
    let (url, flow) = client.auth_code_url(request).await.unwrap();
    assert_eq!(query(&url, "state").as_deref(), Some(state));
    assert_eq!(flow.state(), state);
    assert_eq!(query(&url, "login_hint").as_deref(), Some(q::ALICE_EMAIL));
    let upn = format!("UPN:{}", q::ALICE_EMAIL);
    assert_eq!(
        query(&url, "X-AnchorMailbox").as_deref(),
        Some(upn.as_str())
    );
    // Consent is asked for the API scope too; the redemption (and the cache) is for User.Read.
    let url_scope = query(&url, "scope").unwrap();
    assert!(url_scope.contains(q::API_SCOPE_URI), "{url_scope}");
    assert!(!flow.scopes().contains(q::API_SCOPE_URI));

    let (returned, _) = Browser::default()
        .sign_in(&tenant, url.as_str(), q::ALICE_EMAIL)
        .await;
    assert_eq!(
        returned.state, state,
        "the tenant echoes the caller's state"
    );
    let result = client
        .acquire_token_by_code(&returned.code, &returned.state, flow)
        .await
        .unwrap();
    let account = result.account().unwrap().clone();

    // Refreshes: a force refresh and a claims request.
    client
        .acquire_token_silent_with(
            SilentRequest::new(["User.Read"]).force_refresh(true),
            &account,
        )
        .await
        .unwrap();
    client
        .acquire_token_silent_with(
            SilentRequest::new(["User.Read"])
                .claims(r#"{"access_token":{"acrs":{"essential":true,"value":"c1"}}}"#),
            &account,
        )
        .await
        .unwrap();

    let tokens = token_requests(&seen);
    assert_eq!(tokens.len(), 3);
    let code = &tokens[0];
    assert_eq!(
        field(code, "grant_type").as_deref(),
        Some("authorization_code")
    );
    assert_eq!(
        header(code, "X-AnchorMailbox").as_deref(),
        Some(upn.as_str())
    );
    assert!(!field(code, "scope").unwrap().contains(q::API_SCOPE_URI));
    // 871 = by code (msal-node ApiId), 0 = not a cached flow.
    assert_eq!(
        header(code, "x-client-current-telemetry").as_deref(),
        Some("5|871,0,,,|,")
    );
    let oid = format!("Oid:{}@{}", q::ALICE_OBJECT_ID, q::TENANT_ID);
    for (refresh, outcome) in [(&tokens[1], "1"), (&tokens[2], "1")] {
        assert_eq!(
            field(refresh, "grant_type").as_deref(),
            Some("refresh_token")
        );
        assert_eq!(
            header(refresh, "X-AnchorMailbox").as_deref(),
            Some(oid.as_str())
        );
        // 62 = silent; a force refresh and a claims request are both outcome 1.
        assert_eq!(
            header(refresh, "x-client-current-telemetry").as_deref(),
            Some(format!("5|62,{outcome},,,|,").as_str())
        );
    }

    // Signing in again as that account: its username as login_hint, its home account as the
    // routing hint, kept in the flow for the redemption.
    let (url, flow) = client
        .auth_code_url(
            AuthCodeRequest::new(["User.Read"], q::WEB_APP_REDIRECT_URI).account(&account),
        )
        .await
        .unwrap();
    assert_eq!(query(&url, "login_hint").as_deref(), Some(q::ALICE_EMAIL));
    assert_eq!(
        query(&url, "X-AnchorMailbox").as_deref(),
        Some(oid.as_str())
    );
    assert!(serde_json::to_string(&flow).unwrap().contains(&oid));

    // The redirect's client_info is the code redemption's routing hint (as MSAL Python), over
    // the login_hint's UPN.
    let (url, flow) = client
        .auth_code_url(
            AuthCodeRequest::new(["User.Read"], q::WEB_APP_REDIRECT_URI)
                .login_hint(q::ALICE_EMAIL)
                .prompt(Prompt::Login),
        )
        .await
        .unwrap();
    let (returned, _) = Browser::default()
        .sign_in(&tenant, url.as_str(), q::ALICE_EMAIL)
        .await;
    let flow = flow.client_info(
        returned
            .client_info
            .as_deref()
            .expect("client_info returned"),
    );
    client
        .acquire_token_by_code(&returned.code, &returned.state, flow)
        .await
        .unwrap();
    let last = token_requests(&seen).pop().unwrap();
    assert_eq!(
        field(&last, "grant_type").as_deref(),
        Some("authorization_code")
    );
    assert_eq!(
        header(&last, "X-AnchorMailbox").as_deref(),
        Some(oid.as_str())
    );
    // The account picker takes no account hint; prompt=none with a session id sends only `sid`.
    let (url, _) = client
        .auth_code_url(
            AuthCodeRequest::new(["User.Read"], q::WEB_APP_REDIRECT_URI)
                .prompt(Prompt::SelectAccount)
                .account(&account),
        )
        .await
        .unwrap();
    assert_eq!(query(&url, "login_hint"), None);
    assert_eq!(query(&url, "X-AnchorMailbox"), None);
    let (url, _) = client
        .auth_code_url(
            AuthCodeRequest::new(["User.Read"], q::WEB_APP_REDIRECT_URI)
                .prompt(Prompt::None)
                .sid("session-1")
                .login_hint(q::ALICE_EMAIL),
        )
        .await
        .unwrap();
    assert_eq!(query(&url, "sid").as_deref(), Some("session-1"));
    assert_eq!(query(&url, "login_hint"), None);

    // A state that cannot be a sign-in's is refused before anything is built.
    for bad in [String::new(), "x".repeat(2049)] {
        let e = client
            .auth_code_url(AuthCodeRequest::new(["User.Read"], q::WEB_APP_REDIRECT_URI).state(bad))
            .await
            .unwrap_err();
        assert!(e.to_string().contains("state"), "{e}");
    }
}
