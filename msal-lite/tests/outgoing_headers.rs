//! What msal-lite sends beyond the grant itself, recorded on the way to a real dev tenant:
//! server telemetry (`x-client-current-telemetry` / `x-client-last-telemetry`, schema 5 as
//! msal-node sends them), `x-client-OS` / `x-client-CPU`, the `X-AnchorMailbox` routing hint on
//! code and refresh requests, and the authorize URL's caller-chosen `state`, account hints and
//! `extra_scopes_to_consent`.
#![cfg(feature = "reqwest")]

mod user_support;

use std::sync::{Arc, Mutex};

use dev_tenant::{Config, DevTenant, Endpoint, Fault, quickstart as q};
use msal_lite::http::{HttpClient, HttpRequest, ReqwestHttpClient};
use msal_lite::{
    AuthCodeRequest, ClientCredential, ClientCredentialsRequest, ConfidentialClient, CorrelationId,
    Prompt, RetryPolicy, SilentRequest,
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
    // (msal-node ApiId); outcome 1 = a claims request, 2 = no cached token.
    for (t, outcome) in tokens.iter().zip(["1", "2", "2"]) {
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
    for (refresh, outcome) in [(&tokens[1], "2"), (&tokens[2], "1")] {
        assert_eq!(
            field(refresh, "grant_type").as_deref(),
            Some("refresh_token")
        );
        assert_eq!(
            header(refresh, "X-AnchorMailbox").as_deref(),
            Some(oid.as_str())
        );
        // 62 = silent; a claims request is outcome 1 (force refresh or claims).
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
