use dev_tenant::{ConditionalAccessPolicy, Config, TokenOptions, quickstart as q};
use serde_json::{Value, json};

use crate::common::{assert_entra_error, claims, start, start_with, token};

async fn obo(
    tenant: &dev_tenant::DevTenant,
    assertion: &str,
    scope: &str,
) -> (reqwest::StatusCode, Value) {
    token(
        tenant,
        &[
            ("client_id", q::API_CLIENT_ID),
            ("scope", scope),
            ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
            ("client_info", "1"),
            ("client-request-id", "obo-corr"),
            ("requested_token_use", "on_behalf_of"),
            ("assertion", assertion),
            ("client_secret", q::API_CLIENT_SECRET),
        ],
    )
    .await
}

#[tokio::test]
async fn obo_exchanges_api_token_for_graph_token() {
    let tenant = start().await;
    let api_token = tenant
        .access_token_for(
            q::ALICE_EMAIL,
            q::WEB_APP_CLIENT_ID,
            [q::API_SCOPE_URI],
            TokenOptions::default().mfa(true),
        )
        .unwrap();
    let (s, b) = obo(
        &tenant,
        &api_token,
        "User.ReadWrite openid profile offline_access",
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert!(
        b["refresh_token"].is_string(),
        "offline_access asked: a refresh token"
    );
    let at = claims(b["access_token"].as_str().unwrap());
    assert_eq!(at["aud"], q::GRAPH_APP_ID);
    // Every scope the API was consented on Graph, not only the requested one (as Entra).
    assert_eq!(at["scp"], "User.ReadWrite User.Read");
    assert_eq!(at["oid"], q::ALICE_OBJECT_ID);
    assert_eq!(at["azp"], q::API_CLIENT_ID);
    // No `amr` in a v2.0 access token even after MFA (the MFA state stays with the tenant).
    assert!(at.get("amr").is_none(), "{at}");

    let (s, b) = obo(
        &tenant,
        &api_token,
        "https://graph.microsoft.com/User.ReadWrite",
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert!(
        b.get("refresh_token").is_none(),
        "no offline_access: no refresh token"
    );
    assert_eq!(
        b["scope"],
        "https://graph.microsoft.com/User.ReadWrite https://graph.microsoft.com/User.Read"
    );
}

#[tokio::test]
async fn obo_refusals() {
    let tenant = start().await;
    // A Graph token is not for the API.
    let graph_token = tenant
        .access_token_for(
            q::ALICE_EMAIL,
            q::WEB_APP_CLIENT_ID,
            ["User.Read"],
            TokenOptions::default(),
        )
        .unwrap();
    let (s, b) = obo(&tenant, &graph_token, "User.ReadWrite").await;
    assert_entra_error(s, &b, 400, "invalid_grant", 50013);
    assert_eq!(b["correlation_id"], "obo-corr");
    // Expired assertion.
    let mut c = claims(
        &tenant
            .access_token_for(
                q::ALICE_EMAIL,
                q::WEB_APP_CLIENT_ID,
                [q::API_SCOPE_URI],
                TokenOptions::default(),
            )
            .unwrap(),
    );
    c["exp"] = json!(1_000_000);
    let expired = tenant.mint_token(tenant.default_header(), &c);
    let (s, b) = obo(&tenant, &expired, "User.ReadWrite").await;
    assert_entra_error(s, &b, 400, "invalid_grant", 500133);
    // Signed by someone else (the signature no longer matches).
    let api_token = tenant
        .access_token_for(
            q::ALICE_EMAIL,
            q::WEB_APP_CLIENT_ID,
            [q::API_SCOPE_URI],
            TokenOptions::default(),
        )
        .unwrap();
    let mut forged = api_token.clone();
    forged.truncate(forged.len() - 4);
    forged.push_str("AAAA");
    let (s, b) = obo(&tenant, &forged, "User.ReadWrite").await;
    assert_entra_error(s, &b, 400, "invalid_grant", 50013);
    // App-only tokens cannot be exchanged.
    let app = tenant
        .app_token_for(
            q::DAEMON_CLIENT_ID,
            &format!("{}/.default", q::API_IDENTIFIER_URI),
        )
        .unwrap();
    let (s, b) = obo(&tenant, &app, "User.ReadWrite").await;
    assert_entra_error(s, &b, 400, "invalid_grant", 50013);
    // Missing requested_token_use.
    let (s, b) = token(
        &tenant,
        &[
            ("client_id", q::API_CLIENT_ID),
            ("client_secret", q::API_CLIENT_SECRET),
            ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
            ("assertion", &api_token),
            ("scope", "User.ReadWrite"),
        ],
    )
    .await;
    assert_entra_error(s, &b, 400, "invalid_request", 900144);
}

#[tokio::test]
async fn obo_honours_conditional_access_on_the_downstream_resource() {
    let mut config = Config::quickstart();
    config
        .conditional_access
        .push(ConditionalAccessPolicy::require_mfa(
            "0b0b0b0b-0000-4000-8000-000000000000",
            [q::GRAPH_RESOURCE],
        ));
    let tenant = start_with(config).await;
    let no_mfa = tenant
        .access_token_for(
            q::ALICE_EMAIL,
            q::WEB_APP_CLIENT_ID,
            [q::API_SCOPE_URI],
            TokenOptions::default(),
        )
        .unwrap();
    let (s, b) = obo(&tenant, &no_mfa, "User.ReadWrite").await;
    // Entra's current shape: invalid_grant, capolids (the interaction_required + polids shape
    // is from an old docs example).
    assert_entra_error(s, &b, 400, "invalid_grant", 50076);
    assert_eq!(b["correlation_id"], "obo-corr");
    assert_eq!(
        b["claims"],
        r#"{"access_token":{"capolids":{"essential":true,"values":["0b0b0b0b-0000-4000-8000-000000000000"]}}}"#
    );
    let with_mfa = tenant
        .access_token_for(
            q::ALICE_EMAIL,
            q::WEB_APP_CLIENT_ID,
            [q::API_SCOPE_URI],
            TokenOptions::default().mfa(true),
        )
        .unwrap();
    assert_eq!(obo(&tenant, &with_mfa, "User.ReadWrite").await.0, 200);
}
