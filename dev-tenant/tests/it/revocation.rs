use base64::Engine as _;
use dev_tenant::{TokenOptions, quickstart as q};
use serde_json::Value;

use crate::common::{
    Browser, assert_entra_error, field, graph_me, http, redeem, sign_in, start, token,
};

#[tokio::test]
async fn revocation_gives_cae_challenge_and_kills_refresh_tokens() {
    let tenant = start().await;
    let scopes = "User.Read openid profile offline_access";
    let mut browser = Browser::default();
    let cc = r#"{"access_token":{"xms_cc":{"values":["cp1"]}}}"#;
    let page = browser
        .get(&crate::common::authorize_url(
            &tenant,
            scopes,
            "s",
            &[("claims", cc)],
        ))
        .await;
    let crate::common::Page::Login { action, tx, .. } = page else {
        panic!("{page:?}")
    };
    let crate::common::Page::FormPost { fields, .. } = browser
        .post(
            &tenant,
            &action,
            &[
                ("tx", &tx),
                ("email", q::ALICE_EMAIL),
                ("password", q::USER_PASSWORD),
            ],
        )
        .await
    else {
        panic!()
    };
    let (_, body) = redeem(&tenant, field(&fields, "code").unwrap(), scopes).await;
    let cae_token = body["access_token"].as_str().unwrap().to_owned();
    let rt = body["refresh_token"].as_str().unwrap().to_owned();
    let plain_token = tenant
        .access_token_for(
            q::ALICE_EMAIL,
            q::WEB_APP_CLIENT_ID,
            ["User.Read"],
            TokenOptions::default(),
        )
        .unwrap();
    assert_eq!(graph_me(&tenant, &cae_token).await.status(), 200);

    let revoked_at = tenant.revoke_user(q::ALICE_EMAIL).unwrap();

    let r = graph_me(&tenant, &cae_token).await;
    assert_eq!(r.status(), 401);
    let www = r.headers()["www-authenticate"].to_str().unwrap().to_owned();
    let prefix = format!(
        "Bearer realm=\"\", authorization_uri=\"{}oauth2/v2.0/authorize\", client_id=\"00000003-0000-0000-c000-000000000000\", error=\"insufficient_claims\", claims=\"",
        tenant.authority()
    );
    assert!(www.starts_with(&prefix), "{www}");
    let b64 = www[prefix.len()..].trim_end_matches('"');
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap(),
    )
    .unwrap();
    let nbf: i64 = claims["access_token"]["nbf"]["value"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(claims["access_token"]["nbf"]["essential"], true);
    assert_eq!(nbf, revoked_at);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "InvalidAuthenticationToken");

    // Without the cp1 capability Graph keeps honouring the token until it expires.
    assert_eq!(graph_me(&tenant, &plain_token).await.status(), 200);
    // Refresh tokens issued before the revocation are dead.
    let (s, b) = token(
        &tenant,
        &[
            ("client_id", q::WEB_APP_CLIENT_ID),
            ("client_secret", q::WEB_APP_CLIENT_SECRET),
            ("grant_type", "refresh_token"),
            ("refresh_token", &rt),
            ("scope", scopes),
        ],
    )
    .await;
    assert_entra_error(s, &b, 400, "invalid_grant", 50173);
    // The SSO session ended: signing in again asks for the password, then works.
    let page = browser
        .get(&crate::common::authorize_url(
            &tenant,
            scopes,
            "s",
            &[("claims", cc)],
        ))
        .await;
    assert!(
        matches!(page, crate::common::Page::Login { .. }),
        "{page:?}"
    );
    let fields = sign_in(&tenant, &mut browser, scopes, "s", q::ALICE_EMAIL).await;
    let (_, body) = redeem(&tenant, field(&fields, "code").unwrap(), scopes).await;
    assert_eq!(
        graph_me(&tenant, body["access_token"].as_str().unwrap())
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn admin_revoke_endpoint() {
    let tenant = start().await;
    let token = tenant
        .access_token_for(
            q::BOB_EMAIL,
            q::WEB_APP_CLIENT_ID,
            ["User.Read"],
            TokenOptions::default().client_capabilities(["CP1"]),
        )
        .unwrap();
    let r = http()
        .post(format!("{}/_admin/revoke", tenant.base_url()))
        .body(r#"{"user":"bob@contoso.com"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(graph_me(&tenant, &token).await.status(), 401);
    let r = http()
        .post(format!("{}/_admin/revoke", tenant.base_url()))
        .body(r#"{"user":"nobody@contoso.com"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert!(tenant.revoke_user("nobody@contoso.com").is_none());
}
