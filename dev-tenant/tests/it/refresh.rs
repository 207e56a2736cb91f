use dev_tenant::{Config, quickstart as q};
use serde_json::{Value, json};

use crate::common::{
    Browser, Page, assert_entra_error, authorize_url, claims, field, http, redeem, sign_in, start,
    start_with, token,
};

const GRAPH_SCOPES: &str = "User.Read openid profile offline_access";

async fn refresh(
    tenant: &dev_tenant::DevTenant,
    rt: &str,
    scope: &str,
    extra: &[(&str, &str)],
) -> (reqwest::StatusCode, Value) {
    let mut form = vec![
        ("client_id", q::WEB_APP_CLIENT_ID),
        ("scope", scope),
        ("grant_type", "refresh_token"),
        ("client_info", "1"),
        ("refresh_token", rt),
        ("client_secret", q::WEB_APP_CLIENT_SECRET),
    ];
    form.extend_from_slice(extra);
    token(tenant, &form).await
}

#[tokio::test]
async fn refresh_rotates_and_keeps_xms_cc() {
    let tenant = start().await;
    let mut browser = Browser::default();
    let cc = r#"{"access_token":{"xms_cc":{"values":["cp1"]}}}"#;
    let page = browser
        .get(&authorize_url(
            &tenant,
            GRAPH_SCOPES,
            "s",
            &[("claims", cc)],
        ))
        .await;
    let Page::Login { action, tx, .. } = page else {
        panic!("{page:?}")
    };
    let Page::FormPost { fields, .. } = browser
        .post(
            &tenant,
            &action,
            &[
                ("tx", &tx),
                ("email", q::BOB_EMAIL),
                ("password", q::USER_PASSWORD),
            ],
        )
        .await
    else {
        panic!()
    };
    let (_, first) = redeem(&tenant, field(&fields, "code").unwrap(), GRAPH_SCOPES).await;
    assert_eq!(
        claims(first["access_token"].as_str().unwrap())["xms_cc"],
        json!(["cp1"])
    );
    let rt1 = first["refresh_token"].as_str().unwrap();
    let (s, second) = refresh(&tenant, rt1, GRAPH_SCOPES, &[]).await;
    assert_eq!(s, 200, "{second}");
    let rt2 = second["refresh_token"].as_str().unwrap();
    assert_ne!(rt1, rt2, "a new refresh token each time");
    for k in [
        "token_type",
        "scope",
        "expires_in",
        "ext_expires_in",
        "access_token",
        "id_token",
        "client_info",
    ] {
        assert!(!second[k].is_null(), "{k}");
    }
    let at = claims(second["access_token"].as_str().unwrap());
    assert_eq!(at["xms_cc"], json!(["cp1"]));
    assert_eq!(at["oid"], q::BOB_OBJECT_ID);
    assert_eq!(refresh(&tenant, rt2, GRAPH_SCOPES, &[]).await.0, 200);
}

#[tokio::test]
async fn refresh_errors() {
    let tenant = start().await;
    let mut browser = Browser::default();
    let fields = sign_in(&tenant, &mut browser, GRAPH_SCOPES, "s", q::ALICE_EMAIL).await;
    let (_, body) = redeem(&tenant, field(&fields, "code").unwrap(), GRAPH_SCOPES).await;
    let rt = body["refresh_token"].as_str().unwrap();
    let (s, b) = refresh(&tenant, "bogus", GRAPH_SCOPES, &[]).await;
    assert_entra_error(s, &b, 400, "invalid_grant", 9002313);
    // Another client cannot use it.
    let (s, b) = token(
        &tenant,
        &[
            ("client_id", q::API_CLIENT_ID),
            ("client_secret", q::API_CLIENT_SECRET),
            ("grant_type", "refresh_token"),
            ("refresh_token", rt),
            ("scope", "User.Read"),
        ],
    )
    .await;
    assert_entra_error(s, &b, 400, "invalid_grant", 70000);
    // Consent is checked per request.
    let (s, b) = refresh(&tenant, rt, "User.ReadWrite offline_access", &[]).await;
    assert_entra_error(s, &b, 400, "invalid_grant", 65001);
    assert_eq!(b["suberror"], "consent_required");
}

#[tokio::test]
async fn conditional_access_refusal_then_success_after_mfa() {
    let tenant = start().await;
    let mut browser = Browser::default();
    // The Graph sign-in needs no MFA.
    let fields = sign_in(&tenant, &mut browser, GRAPH_SCOPES, "s", q::ALICE_EMAIL).await;
    let (_, body) = redeem(&tenant, field(&fields, "code").unwrap(), GRAPH_SCOPES).await;
    let rt = body["refresh_token"].as_str().unwrap();
    // A silent request for the CA-protected API is refused with Entra's AADSTS50076 shape.
    let api_scopes = format!("{} openid profile offline_access", q::API_SCOPE_URI);
    let (s, b) = refresh(
        &tenant,
        rt,
        &api_scopes,
        &[("client-request-id", "7f1a7c26-0000-4000-8000-000000000001")],
    )
    .await;
    assert_entra_error(s, &b, 400, "invalid_grant", 50076);
    assert_eq!(b["suberror"], "basic_action");
    assert_eq!(b["correlation_id"], "7f1a7c26-0000-4000-8000-000000000001");
    assert_eq!(
        b["claims"],
        format!(
            r#"{{"access_token":{{"capolids":{{"essential":true,"values":["{}"]}}}}}}"#,
            q::MFA_POLICY_ID
        )
    );
    assert!(
        b["error_description"]
            .as_str()
            .unwrap()
            .contains(q::API_CLIENT_ID)
    );
    // The correlation id may also come as a header.
    let r = http()
        .post(tenant.token_endpoint())
        .header("client-request-id", "hdr-corr")
        .form(&[
            ("client_id", q::WEB_APP_CLIENT_ID),
            ("client_secret", q::WEB_APP_CLIENT_SECRET),
            ("grant_type", "refresh_token"),
            ("refresh_token", rt),
            ("scope", api_scopes.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.json::<Value>().await.unwrap()["correlation_id"],
        "hdr-corr"
    );

    // Interactive again (SSO: only the MFA page), then the API token is issued.
    let page = browser
        .get(&authorize_url(&tenant, &api_scopes, "s2", &[]))
        .await;
    let Page::Mfa { action, tx, .. } = page else {
        panic!("{page:?}")
    };
    let Page::FormPost { fields, .. } = browser
        .post(
            &tenant,
            &action,
            &[("tx", &tx), ("code", &tenant.last_mfa_code().unwrap())],
        )
        .await
    else {
        panic!()
    };
    let (s, body) = redeem(&tenant, field(&fields, "code").unwrap(), &api_scopes).await;
    assert_eq!(s, 200, "{body}");
    // The new refresh token remembers MFA, so silent API requests now succeed.
    let (s, b) = refresh(
        &tenant,
        body["refresh_token"].as_str().unwrap(),
        &api_scopes,
        &[],
    )
    .await;
    assert_eq!(s, 200, "{b}");
    // The MFA state lives in the refresh token's record, not in a v2.0 `amr`.
    assert!(
        claims(b["access_token"].as_str().unwrap())
            .get("amr")
            .is_none()
    );
    // A multi-resource request yields a token for the first resource.
    let (s, b) = refresh(
        &tenant,
        body["refresh_token"].as_str().unwrap(),
        &format!("User.Read {}", q::API_SCOPE_URI),
        &[],
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        claims(b["access_token"].as_str().unwrap())["aud"],
        q::GRAPH_APP_ID
    );
}

#[tokio::test]
async fn multi_resource_switch_gives_aadsts28000() {
    let mut config = Config::quickstart();
    config.reject_multi_resource_scopes = true;
    let tenant = start_with(config).await;
    let mut browser = Browser::default();
    let fields = sign_in(&tenant, &mut browser, GRAPH_SCOPES, "s", q::ALICE_EMAIL).await;
    let (_, body) = redeem(&tenant, field(&fields, "code").unwrap(), GRAPH_SCOPES).await;
    let (s, b) = refresh(
        &tenant,
        body["refresh_token"].as_str().unwrap(),
        &format!("User.Read {}", q::API_SCOPE_URI),
        &[],
    )
    .await;
    assert_entra_error(s, &b, 400, "invalid_scope", 28000);
}
