//! The EditProfileService API against the real dev tenant: every status it answers.

use axum::Router;
use axum::body::Body;
use dev_tenant::quickstart as q;
use dev_tenant::{Config as TenantConfig, DevTenant, Endpoint, Fault, TokenOptions};
use http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use tower::ServiceExt;

struct Fixture {
    tenant: DevTenant,
    app: Router,
}

async fn fixture() -> Fixture {
    fixture_with(TenantConfig::quickstart()).await
}

async fn fixture_with(tenant_config: TenantConfig) -> Fixture {
    let tenant = DevTenant::start(tenant_config).await.unwrap();
    let authority = tenant.authority();
    let graph = tenant.graph_url();
    let vars = [
        ("AUTHORITY", authority.as_str()),
        ("TENANT_ID", q::TENANT_ID),
        ("CLIENT_ID", q::API_CLIENT_ID),
        ("CLIENT_SECRET", q::API_CLIENT_SECRET),
        ("GRAPH_API_ENDPOINT", graph.as_str()),
        // Like Entra, the dev tenant puts no `amr` in v2.0 access tokens: the API checks MFA
        // through the authentication context its Conditional Access policy protects (`acrs`).
        ("MFA_POLICY", "auth-context:c1"),
    ];
    let config = api::Config::from_vars(|k| {
        vars.iter()
            .find(|(name, _)| *name == k)
            .map(|(_, v)| (*v).to_owned())
    })
    .unwrap();
    let app = api::app(&config).await.unwrap();
    Fixture { tenant, app }
}

impl Fixture {
    /// A token whose client asked for the auth context `c1`: it appears in `acrs` when the
    /// options say the sign-in did MFA.
    fn token(&self, options: TokenOptions) -> String {
        let options = options.auth_contexts([q::AUTH_CONTEXT_ID]);
        self.tenant
            .access_token_for(
                q::ALICE_EMAIL,
                q::WEB_APP_CLIENT_ID,
                [q::API_SCOPE_URI],
                options,
            )
            .unwrap()
    }

    async fn post(&self, token: Option<&str>, body: &str) -> (StatusCode, http::HeaderMap, String) {
        let mut request =
            Request::post("/updateUserInfo").header(header::CONTENT_TYPE, "application/json");
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let response = self
            .app
            .clone()
            .oneshot(request.body(Body::from(body.to_owned())).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (
            status,
            headers,
            String::from_utf8_lossy(&bytes).into_owned(),
        )
    }
}

fn challenge(headers: &http::HeaderMap) -> &str {
    headers
        .get(header::WWW_AUTHENTICATE)
        .map(|v| v.to_str().unwrap())
        .unwrap_or("")
}

const NEW_NAMES: &str = r#"{"displayName":"Ada Lovelace","givenName":"Ada","surname":"Lovelace"}"#;

#[tokio::test]
async fn valid_token_with_mfa_updates_the_profile_and_answers_204() {
    let f = fixture().await;
    let token = f.token(TokenOptions::default().mfa(true));
    let (status, headers, body) = f.post(Some(&token), NEW_NAMES).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert!(headers.contains_key("x-request-id"));
    let user = f.tenant.user(q::ALICE_EMAIL).unwrap();
    assert_eq!(user.display_name, "Ada Lovelace");
    assert_eq!(user.given_name.as_deref(), Some("Ada"));
    assert_eq!(user.surname.as_deref(), Some("Lovelace"));

    // A second update with the same caller token is served from the OBO cache.
    let token_calls = f.tenant.requests(Endpoint::Token);
    let (status, _, _) = f.post(Some(&token), r#"{"displayName":"Ada King"}"#).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(f.tenant.requests(Endpoint::Token), token_calls);
    assert_eq!(
        f.tenant.user(q::ALICE_EMAIL).unwrap().display_name,
        "Ada King"
    );
}

#[tokio::test]
async fn bad_bodies_are_400_and_semantic_errors_422_before_any_token_exchange() {
    let f = fixture().await;
    let token = f.token(TokenOptions::default().mfa(true));
    for (body, expected) in [
        ("not json", StatusCode::BAD_REQUEST),
        ("[]", StatusCode::BAD_REQUEST),
        (r#"{"displayName": 7}"#, StatusCode::BAD_REQUEST),
        (
            r#"{"displayName":"x","jobTitle":"CEO"}"#,
            StatusCode::BAD_REQUEST,
        ),
        (r#"{}"#, StatusCode::UNPROCESSABLE_ENTITY),
        (r#"{"displayName":"  "}"#, StatusCode::UNPROCESSABLE_ENTITY),
        (
            r#"{"surname":"a\u0000b"}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ] {
        let (status, _, response) = f.post(Some(&token), body).await;
        assert_eq!(status, expected, "{body} -> {response}");
        let json: serde_json::Value = serde_json::from_str(&response).unwrap();
        assert!(
            json["error"].is_string() && json["message"].is_string(),
            "{response}"
        );
    }
    assert_eq!(f.tenant.requests(Endpoint::Token), 0);
    assert_eq!(
        f.tenant.user(q::ALICE_EMAIL).unwrap().display_name,
        q::ALICE_DISPLAY_NAME
    );
}

#[tokio::test]
async fn missing_and_invalid_tokens_are_401_per_rfc_6750() {
    let f = fixture().await;
    let (status, headers, _) = f.post(None, NEW_NAMES).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // No credentials: a bare challenge without an error code (RFC 6750 §3.1).
    assert!(
        !challenge(&headers).contains("error="),
        "{}",
        challenge(&headers)
    );
    assert!(challenge(&headers).starts_with("Bearer"));

    let (status, headers, _) = f.post(Some("not.a.token"), NEW_NAMES).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(challenge(&headers).contains(r#"error="invalid_token""#));

    // A Graph token replayed to the API has the wrong audience.
    let graph_token = f
        .tenant
        .access_token_for(
            q::ALICE_EMAIL,
            q::WEB_APP_CLIENT_ID,
            ["User.Read"],
            TokenOptions::default().mfa(true),
        )
        .unwrap();
    let (status, headers, _) = f.post(Some(&graph_token), NEW_NAMES).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(challenge(&headers).contains(r#"error="invalid_token""#));
    assert_eq!(
        f.tenant.user(q::ALICE_EMAIL).unwrap().display_name,
        q::ALICE_DISPLAY_NAME
    );
}

#[tokio::test]
async fn an_app_token_without_the_scope_is_403_insufficient_scope() {
    let f = fixture().await;
    let app_token = f
        .tenant
        .app_token_for(
            q::DAEMON_CLIENT_ID,
            &format!("{}/.default", q::API_IDENTIFIER_URI),
        )
        .unwrap();
    let (status, headers, _) = f.post(Some(&app_token), NEW_NAMES).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(challenge(&headers).contains(r#"error="insufficient_scope""#));
    assert!(challenge(&headers).contains(r#"scope="EditProfileService.ReadWrite""#));
}

#[tokio::test]
async fn missing_mfa_is_a_step_up_challenge_in_both_forms() {
    let f = fixture().await;
    // A client without claims-challenge support gets RFC 9470.
    let (status, headers, _) = f
        .post(Some(&f.token(TokenOptions::default())), NEW_NAMES)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        challenge(&headers).contains(r#"error="insufficient_user_authentication""#),
        "{}",
        challenge(&headers)
    );

    // An Entra client that declares cp1 gets a claims challenge it can act on.
    let token = f.token(TokenOptions::default().client_capabilities(["cp1"]));
    let (status, headers, _) = f.post(Some(&token), NEW_NAMES).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let parsed =
        msal_lite::challenge::ClaimsChallenge::from_headers(&headers).expect("a claims challenge");
    assert_eq!(parsed.client_id(), Some(q::API_CLIENT_ID));
    assert!(
        parsed.claims().contains("access_token"),
        "{}",
        parsed.claims()
    );
    assert_eq!(f.tenant.requests(Endpoint::Token), 0);
}

#[tokio::test]
async fn a_graph_failure_is_502_never_success() {
    let f = fixture().await;
    let token = f.token(TokenOptions::default().mfa(true));
    f.tenant
        .inject_fault(Endpoint::GraphMe, Fault::status(500).times(1));
    let (status, _, body) = f.post(Some(&token), NEW_NAMES).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["error"], "graph_failed");
    assert_eq!(json["graph_status"], 500);
    assert_eq!(
        f.tenant.user(q::ALICE_EMAIL).unwrap().display_name,
        q::ALICE_DISPLAY_NAME
    );

    // The token endpoint down is a 502 too, with nothing written.
    let other = fixture().await;
    let token = other.token(TokenOptions::default().mfa(true));
    other
        .tenant
        .inject_fault(Endpoint::Token, Fault::status(503).times(5));
    let (status, _, body) = other.post(Some(&token), NEW_NAMES).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert!(body.contains("token_exchange_failed"));
}

#[tokio::test]
async fn a_graph_claims_challenge_after_revocation_reaches_the_caller_as_401() {
    let f = fixture().await;
    let token = f.token(
        TokenOptions::default()
            .mfa(true)
            .client_capabilities(["cp1"]),
    );
    // Warm the OBO cache, then revoke the user's sessions (continuous access evaluation).
    let (status, _, _) = f
        .post(Some(&token), r#"{"displayName":"Before Revocation"}"#)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    f.tenant.revoke_user(q::ALICE_EMAIL).unwrap();

    let (status, headers, body) = f.post(Some(&token), NEW_NAMES).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    // Graph challenged the cached token; the OBO retry with those claims was refused (the
    // caller's token predates the revocation), so the caller gets the claims to sign in with.
    let parsed = msal_lite::challenge::ClaimsChallenge::from_headers(&headers)
        .unwrap_or_else(|| panic!("claims challenge expected: {}", challenge(&headers)));
    assert!(parsed.claims().contains("nbf"), "{}", parsed.claims());
    assert_eq!(
        f.tenant.user(q::ALICE_EMAIL).unwrap().display_name,
        "Before Revocation"
    );
}

#[tokio::test]
async fn health_and_unknown_paths() {
    let f = fixture().await;
    let response = f
        .app
        .clone()
        .oneshot(Request::get("/healthz").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let response = f
        .app
        .clone()
        .oneshot(Request::get("/nope").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn missing_configuration_names_the_variable() {
    let err = api::Config::from_vars(|k| (k == "TENANT_SUBDOMAIN").then(|| "contoso".to_owned()))
        .unwrap_err();
    assert_eq!(err.to_string(), "CLIENT_SECRET is not set");
}

#[tokio::test]
async fn oversized_bodies_are_refused_before_any_token_exchange() {
    let f = fixture().await;
    let token = f.token(TokenOptions::default().mfa(true));
    let huge = format!(r#"{{"displayName":"{}"}}"#, "a".repeat(20 * 1024));
    let (status, _, _) = f.post(Some(&token), &huge).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(f.tenant.requests(Endpoint::Token), 0);
    assert_eq!(
        f.tenant.user(q::ALICE_EMAIL).unwrap().display_name,
        q::ALICE_DISPLAY_NAME
    );
}

#[tokio::test]
async fn missing_consent_for_graph_is_403_with_what_to_do_not_a_sign_in_loop() {
    // The API's registration lost its admin-consented Graph permission: the token endpoint
    // answers the on-behalf-of request `invalid_grant` / suberror `consent_required`
    // (AADSTS65001), with no claims.
    let mut config = TenantConfig::quickstart();
    let api_app = config
        .apps
        .iter_mut()
        .find(|a| a.client_id == q::API_CLIENT_ID)
        .unwrap();
    api_app
        .delegated_permissions
        .retain(|p| p.resource != q::GRAPH_RESOURCE && p.resource != q::GRAPH_APP_ID);
    let f = fixture_with(config).await;
    let token = f.token(TokenOptions::default().mfa(true));
    let (status, headers, body) = f.post(Some(&token), NEW_NAMES).await;
    // Not 401 invalid_token: the caller would sign in again silently, get the same kind of
    // token and come back.
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(
        !challenge(&headers).contains("invalid_token"),
        "{headers:?}"
    );
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["error"], "consent_required");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("administrator must grant"),
        "{body}"
    );
    assert!(
        f.tenant.requests(Endpoint::Token) > 0,
        "the OBO request was made"
    );
}
