use dev_tenant::{TokenOptions, quickstart as q};
use serde_json::{Value, json};

use crate::common::{client_credentials, graph_me, http, start};

fn assert_graph_error(body: &Value, code: &str) {
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(body["error"]["message"].is_string());
    assert!(body["error"]["innerError"]["request-id"].is_string());
    assert!(body["error"]["innerError"]["date"].is_string());
}

async fn patch(tenant: &dev_tenant::DevTenant, token: &str, body: &str) -> reqwest::Response {
    http()
        .patch(format!("{}v1.0/me", tenant.graph_url()))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn get_me_returns_the_profile() {
    let tenant = start().await;
    let token = tenant
        .access_token_for(
            q::ALICE_EMAIL,
            q::WEB_APP_CLIENT_ID,
            ["User.Read"],
            TokenOptions::default(),
        )
        .unwrap();
    let r = graph_me(&tenant, &token).await;
    assert_eq!(r.status(), 200);
    let me: Value = r.json().await.unwrap();
    assert_eq!(me["id"], q::ALICE_OBJECT_ID);
    assert_eq!(me["mail"], q::ALICE_EMAIL);
    assert_eq!(me["userPrincipalName"], q::ALICE_EMAIL);
    assert_eq!(me["displayName"], "Alice Example");
    assert_eq!(me["givenName"], "Alice");
    assert_eq!(me["surname"], "Example");
    assert_eq!(tenant.requests(dev_tenant::Endpoint::GraphMe), 1);
}

#[tokio::test]
async fn bad_tokens_get_graph_errors() {
    let tenant = start().await;
    let r = http()
        .get(format!("{}v1.0/me", tenant.graph_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers().get("www-authenticate").is_some());
    assert_graph_error(&r.json().await.unwrap(), "InvalidAuthenticationToken");

    let api = tenant
        .access_token_for(
            q::ALICE_EMAIL,
            q::WEB_APP_CLIENT_ID,
            [q::API_SCOPE_URI],
            TokenOptions::default().mfa(true),
        )
        .unwrap();
    let good = tenant
        .access_token_for(
            q::ALICE_EMAIL,
            q::WEB_APP_CLIENT_ID,
            ["User.Read"],
            TokenOptions::default(),
        )
        .unwrap();
    let mut claims = crate::common::claims(&good);
    claims["exp"] = json!(1_000);
    let expired = tenant.mint_token(tenant.default_header(), &claims);
    let mut claims = crate::common::claims(&good);
    claims["iss"] = json!("https://login.microsoftonline.com/other/v2.0");
    let wrong_iss = tenant.mint_token(tenant.default_header(), &claims);
    let none_alg = {
        let parts: Vec<&str> = good.split('.').collect();
        let h = base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            r#"{"alg":"none"}"#,
        );
        format!("{h}.{}.", parts[1])
    };
    for (name, token) in [
        ("api audience", api.as_str()),
        ("expired", &expired),
        ("issuer", &wrong_iss),
        ("alg none", &none_alg),
        ("garbage", "abc"),
    ] {
        let r = graph_me(&tenant, token).await;
        assert_eq!(r.status(), 401, "{name}");
        assert_graph_error(&r.json().await.unwrap(), "InvalidAuthenticationToken");
    }
    // An app-only token cannot use /me.
    let app = client_credentials(&tenant, "https://graph.microsoft.com/.default").await;
    let r = graph_me(&tenant, &app).await;
    assert_eq!(r.status(), 400);
    assert_graph_error(&r.json().await.unwrap(), "BadRequest");
}

#[tokio::test]
async fn patch_me_updates_and_persists() {
    let tenant = start().await;
    let rw = tenant
        .access_token_for(
            q::BOB_EMAIL,
            q::API_CLIENT_ID,
            ["User.ReadWrite"],
            TokenOptions::default(),
        )
        .unwrap();
    let r = patch(
        &tenant,
        &rw,
        r#"{"displayName":"Robert Example","givenName":"Robert","surname":"Exemplar"}"#,
    )
    .await;
    assert_eq!(r.status(), 204);
    assert!(r.bytes().await.unwrap().is_empty());
    let me: Value = graph_me(&tenant, &rw).await.json().await.unwrap();
    assert_eq!(me["displayName"], "Robert Example");
    assert_eq!(me["givenName"], "Robert");
    assert_eq!(me["surname"], "Exemplar");
    let profile = tenant.user(q::BOB_EMAIL).unwrap();
    assert_eq!(profile.display_name, "Robert Example");
    assert_eq!(profile.surname.as_deref(), Some("Exemplar"));
    // Alice is untouched.
    assert_eq!(
        tenant.user(q::ALICE_EMAIL).unwrap().display_name,
        "Alice Example"
    );
}

#[tokio::test]
async fn patch_me_refusals() {
    let tenant = start().await;
    let read_only = tenant
        .access_token_for(
            q::ALICE_EMAIL,
            q::WEB_APP_CLIENT_ID,
            ["User.Read"],
            TokenOptions::default(),
        )
        .unwrap();
    let r = patch(&tenant, &read_only, r#"{"displayName":"X"}"#).await;
    assert_eq!(r.status(), 403);
    assert_graph_error(&r.json().await.unwrap(), "Authorization_RequestDenied");
    let rw = tenant
        .access_token_for(
            q::ALICE_EMAIL,
            q::API_CLIENT_ID,
            ["User.ReadWrite"],
            TokenOptions::default(),
        )
        .unwrap();
    let long = format!(r#"{{"givenName":"{}"}}"#, "x".repeat(257));
    for body in [
        "not json",
        r#"{"displayName":""}"#,
        r#"{"displayName":7}"#,
        r#"{"mail":"x@y"}"#,
        "[]",
        long.as_str(),
    ] {
        let r = patch(&tenant, &rw, body).await;
        assert_eq!(r.status(), 400, "{body}");
        let v: Value = r.json().await.unwrap();
        assert!(v["error"]["code"].is_string(), "{v}");
    }
    assert_eq!(
        tenant.user(q::ALICE_EMAIL).unwrap().display_name,
        "Alice Example",
        "a failed PATCH changes nothing"
    );
}

/// Every property an external tenant's user may edit (Graph user resource), and Graph's 400 for
/// a read-only one.
#[tokio::test]
async fn patch_me_edits_the_other_editable_properties_and_refuses_read_only_ones() {
    let tenant = start().await;
    let rw = tenant
        .access_token_for(
            q::BOB_EMAIL,
            q::API_CLIENT_ID,
            ["User.ReadWrite"],
            TokenOptions::default(),
        )
        .unwrap();
    let r = patch(
        &tenant,
        &rw,
        r#"{"jobTitle":"Baker","preferredLanguage":"en-GB","city":"Leeds","country":"UK","streetAddress":"1 Loaf Lane","postalCode":"LS1 1AA","state":"West Yorkshire"}"#,
    )
    .await;
    assert_eq!(r.status(), 204);
    let me: Value = graph_me(&tenant, &rw).await.json().await.unwrap();
    assert_eq!(me["jobTitle"], "Baker");
    assert_eq!(me["preferredLanguage"], "en-GB");
    let other = tenant.user(q::BOB_EMAIL).unwrap().other;
    assert_eq!(other["city"], "Leeds");
    assert_eq!(other["streetAddress"], "1 Loaf Lane");
    assert_eq!(other["state"], "West Yorkshire");
    // null clears a property.
    assert_eq!(
        patch(&tenant, &rw, r#"{"jobTitle":null}"#).await.status(),
        204
    );
    let me: Value = graph_me(&tenant, &rw).await.json().await.unwrap();
    assert!(me["jobTitle"].is_null(), "{me}");

    for body in [
        r#"{"mail":"bob@evil.example"}"#,
        r#"{"userPrincipalName":"x@y"}"#,
        r#"{"id":"x"}"#,
    ] {
        let r = patch(&tenant, &rw, body).await;
        assert_eq!(r.status(), 400, "{body}");
        let b: Value = r.json().await.unwrap();
        assert_graph_error(&b, "Request_BadRequest");
        assert!(
            b["error"]["message"]
                .as_str()
                .unwrap()
                .contains("read-only"),
            "{b}"
        );
    }
    assert_eq!(tenant.user(q::BOB_EMAIL).unwrap().mail, q::BOB_EMAIL);
}
