//! Endpoints and claims users expect from Entra (issue 19 item 8): the advertised UserInfo
//! endpoint, `sid` in ID tokens, Graph's 401 challenge.

use dev_tenant::{TokenOptions, quickstart as q};
use serde_json::Value;

use crate::common::{Browser, claims, field, graph_me, http, redeem, sign_in, start};

const SCOPES: &str = "User.Read openid profile offline_access";

#[tokio::test]
async fn userinfo_endpoint_from_discovery_answers_with_the_id_token_subject() {
    let tenant = start().await;
    let doc: Value = http()
        .get(tenant.discovery_url())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let userinfo = doc["userinfo_endpoint"].as_str().unwrap().to_owned();

    let mut browser = Browser::default();
    let fields = sign_in(&tenant, &mut browser, SCOPES, "s", q::ALICE_EMAIL).await;
    let (_, body) = redeem(&tenant, field(&fields, "code").unwrap(), SCOPES).await;
    let id = claims(body["id_token"].as_str().unwrap());
    let at = body["access_token"].as_str().unwrap();
    for post in [false, true] {
        let req = if post {
            http().post(&userinfo)
        } else {
            http().get(&userinfo)
        };
        let r = req.bearer_auth(at).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let info: Value = r.json().await.unwrap();
        assert_eq!(info["sub"], id["sub"], "{info}");
        assert_eq!(info["name"], q::ALICE_DISPLAY_NAME);
        assert_eq!(info["given_name"], "Alice");
        assert_eq!(info["family_name"], "Example");
        assert_eq!(info["email"], q::ALICE_EMAIL);
    }
    // A token for another resource, or none, gets Graph's 401.
    let api = tenant
        .access_token_for(
            q::ALICE_EMAIL,
            q::WEB_APP_CLIENT_ID,
            [q::API_SCOPE_URI],
            TokenOptions::default().mfa(true),
        )
        .unwrap();
    assert_eq!(
        http()
            .get(&userinfo)
            .bearer_auth(api)
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(http().get(&userinfo).send().await.unwrap().status(), 401);
}

#[tokio::test]
async fn id_tokens_carry_the_session_sid() {
    let tenant = start().await;
    let mut browser = Browser::default();
    let first = sign_in(&tenant, &mut browser, SCOPES, "s1", q::ALICE_EMAIL).await;
    let (_, a) = redeem(&tenant, field(&first, "code").unwrap(), SCOPES).await;
    let sid = claims(a["id_token"].as_str().unwrap())["sid"].clone();
    assert!(uuid_shaped(sid.as_str().unwrap()), "{sid}");
    // SSO in the same browser session: the same sid; another browser: another one.
    let second = sign_in(&tenant, &mut browser, SCOPES, "s2", q::ALICE_EMAIL).await;
    let (_, b) = redeem(&tenant, field(&second, "code").unwrap(), SCOPES).await;
    assert_eq!(claims(b["id_token"].as_str().unwrap())["sid"], sid);
    let other = sign_in(
        &tenant,
        &mut Browser::default(),
        SCOPES,
        "s3",
        q::ALICE_EMAIL,
    )
    .await;
    let (_, c) = redeem(&tenant, field(&other, "code").unwrap(), SCOPES).await;
    assert_ne!(claims(c["id_token"].as_str().unwrap())["sid"], sid);
}

fn uuid_shaped(s: &str) -> bool {
    s.len() == 36 && s.bytes().filter(|b| *b == b'-').count() == 4
}

#[tokio::test]
async fn graph_401_names_the_authorization_uri_and_graph_client_id() {
    let tenant = start().await;
    let expected = format!(
        r#"Bearer realm="", authorization_uri="{}oauth2/v2.0/authorize", client_id="{}""#,
        tenant.authority(),
        q::GRAPH_APP_ID
    );
    // A bad token: RFC 6750's error="invalid_token" as well.
    let r = graph_me(&tenant, "not-a-token").await;
    assert_eq!(r.status(), 401);
    let challenge = r.headers()["www-authenticate"].to_str().unwrap().to_owned();
    assert_eq!(challenge, format!(r#"{expected}, error="invalid_token""#));
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "InvalidAuthenticationToken");
    // No token at all: no error code (RFC 6750 section 3.1).
    let r = http()
        .get(format!("{}v1.0/me", tenant.graph_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["www-authenticate"].to_str().unwrap(), expected);
}
