use dev_tenant::quickstart as q;
use serde_json::Value;

use crate::common::{Browser, http, sign_in, start};

#[tokio::test]
async fn counters_users_and_mfa_code() {
    let tenant = start().await;
    let base = tenant.base_url().to_owned();
    let r = http()
        .get(format!("{base}/_admin/mfa-code"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    http().get(tenant.jwks_uri()).send().await.unwrap();
    http().get(tenant.jwks_uri()).send().await.unwrap();
    let counts: Value = http()
        .get(format!("{base}/_admin/requests"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(counts["jwks"], 2);
    assert_eq!(counts["token"], 0);
    let user: Value = http()
        .get(format!("{base}/_admin/users/{}", q::ALICE_EMAIL))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(user["displayName"], "Alice Example");
    assert_eq!(user["id"], q::ALICE_OBJECT_ID);
    assert_eq!(
        http()
            .get(format!("{base}/_admin/users/x@y"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );

    let mut browser = Browser::default();
    sign_in(
        &tenant,
        &mut browser,
        &format!("{} openid", q::API_SCOPE_URI),
        "s",
        q::ALICE_EMAIL,
    )
    .await;
    let code: Value = http()
        .get(format!("{base}/_admin/mfa-code"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(code["code"].as_str(), tenant.last_mfa_code().as_deref());
    assert_eq!(tenant.requests(dev_tenant::Endpoint::Authorize), 1);
    // The handle's Debug shows no secrets, codes or one-time codes.
    let debug = format!("{tenant:?}");
    assert!(
        !debug.contains(&format!("\"{}\"", tenant.last_mfa_code().unwrap())),
        "{debug}"
    );
    assert!(
        !debug.contains(q::USER_PASSWORD) && !debug.contains(q::WEB_APP_CLIENT_SECRET),
        "{debug}"
    );
}

/// For tests in any language: the admin API mints tokens, behind the admin token when one is
/// configured (a tenant in a container).
#[tokio::test]
async fn admin_mints_tokens_raw_and_issued() {
    let mut config = dev_tenant::Config::quickstart();
    config.server.admin_token = Some(dev_tenant::Secret::new("adm-t0ken"));
    let tenant = crate::common::start_with(config).await;
    let url = format!("{}/_admin/tokens", tenant.base_url());
    let post = |body: serde_json::Value, bearer: Option<&str>| {
        let mut r = http().post(&url).json(&body);
        if let Some(b) = bearer {
            r = r.bearer_auth(b);
        }
        r.send()
    };
    let raw = serde_json::json!({"claims": {"iss": tenant.issuer(), "aud": "x", "custom": 7}});
    assert_eq!(post(raw.clone(), None).await.unwrap().status(), 401);
    assert_eq!(post(raw.clone(), Some("nope")).await.unwrap().status(), 401);
    let r: Value = post(raw, Some("adm-t0ken"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let claims = crate::common::claims(r["access_token"].as_str().unwrap());
    assert_eq!(claims["custom"], 7);
    assert_eq!(
        crate::common::header(r["access_token"].as_str().unwrap())["kid"],
        tenant.current_kid()
    );

    let issued = serde_json::json!({
        "user": q::ALICE_EMAIL,
        "client_id": q::WEB_APP_CLIENT_ID,
        "scopes": [q::API_SCOPE_URI],
        "mfa": true,
        "auth_contexts": ["c1"],
    });
    let r: Value = post(issued, Some("adm-t0ken"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let at = crate::common::claims(r["access_token"].as_str().unwrap());
    assert_eq!(at["aud"], q::API_CLIENT_ID);
    assert_eq!(at["oid"], q::ALICE_OBJECT_ID);
    assert_eq!(at["acrs"], serde_json::json!(["c1"]));
    // Graph accepts an issued token like one from the token endpoint.
    let graph = serde_json::json!({"user": q::ALICE_EMAIL, "client_id": q::WEB_APP_CLIENT_ID, "scopes": ["User.Read"]});
    let r: Value = post(graph, Some("adm-t0ken"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let me = crate::common::graph_me(&tenant, r["access_token"].as_str().unwrap()).await;
    assert_eq!(me.status(), 200);
    // Neither mode, or an unknown user: 400.
    for bad in [
        serde_json::json!({}),
        serde_json::json!({"user": "nobody@contoso.com", "client_id": q::WEB_APP_CLIENT_ID, "scopes": ["User.Read"]}),
    ] {
        assert_eq!(post(bad, Some("adm-t0ken")).await.unwrap().status(), 400);
    }
}
