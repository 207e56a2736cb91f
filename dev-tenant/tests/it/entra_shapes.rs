//! Where the dev tenant must give the result a real External ID tenant gives (issue 19, items
//! 1-4): no `amr` in v2.0 access tokens, `acrs` for a satisfied authentication context, the
//! current AADSTS50076 shape, and Conditional Access for every resource a scope set names.

use dev_tenant::{ConditionalAccessPolicy, Config, quickstart as q};
use reqwest::StatusCode;
use serde_json::Value;

use crate::common::{
    Browser, Page, assert_entra_error, authorize_url, claims, field, redeem, sign_in, start,
    start_with, token,
};

const GRAPH_SCOPES: &str = "User.Read openid profile offline_access";
const ACRS_C1: &str = r#"{"access_token":{"acrs":{"essential":true,"value":"c1"}}}"#;

async fn refresh(
    tenant: &dev_tenant::DevTenant,
    rt: &str,
    scope: &str,
    claims: Option<&str>,
) -> (StatusCode, Value) {
    let mut form = vec![
        ("client_id", q::WEB_APP_CLIENT_ID),
        ("client_secret", q::WEB_APP_CLIENT_SECRET),
        ("grant_type", "refresh_token"),
        ("refresh_token", rt),
        ("scope", scope),
    ];
    if let Some(c) = claims {
        form.push(("claims", c));
    }
    token(tenant, &form).await
}

/// Signs in for Graph without MFA and returns the refresh token.
async fn graph_sign_in(tenant: &dev_tenant::DevTenant, browser: &mut Browser) -> String {
    let fields = sign_in(tenant, browser, GRAPH_SCOPES, "s", q::ALICE_EMAIL).await;
    let (s, body) = redeem(tenant, field(&fields, "code").unwrap(), GRAPH_SCOPES).await;
    assert_eq!(s, 200, "{body}");
    body["refresh_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn auth_context_step_up_shows_mfa_and_the_token_carries_acrs() {
    let tenant = start().await;
    let mut browser = Browser::default();
    let rt = graph_sign_in(&tenant, &mut browser).await;

    // Silently, the auth context cannot be met without MFA: AADSTS50076 naming its policy.
    let (s, b) = refresh(&tenant, &rt, GRAPH_SCOPES, Some(ACRS_C1)).await;
    assert_entra_error(s, &b, 400, "invalid_grant", 50076);
    assert_eq!(
        b["claims"],
        format!(
            r#"{{"access_token":{{"capolids":{{"essential":true,"values":["{}"]}}}}}}"#,
            q::AUTH_CONTEXT_POLICY_ID
        )
    );

    // Interactively the claims request shows the MFA page (signed in already).
    let page = browser
        .get(&authorize_url(
            &tenant,
            GRAPH_SCOPES,
            "s",
            &[("claims", ACRS_C1)],
        ))
        .await;
    let Page::Mfa { action, tx, .. } = page else {
        panic!("only the second factor is missing: {page:?}")
    };
    let code = tenant.last_mfa_code().unwrap();
    let Page::FormPost { fields, .. } = browser
        .post(&tenant, &action, &[("tx", &tx), ("code", &code)])
        .await
    else {
        panic!("MFA completes the sign-in")
    };
    let (s, body) = redeem(&tenant, field(&fields, "code").unwrap(), GRAPH_SCOPES).await;
    assert_eq!(s, 200, "{body}");
    let at = claims(body["access_token"].as_str().unwrap());
    assert_eq!(at["acrs"], serde_json::json!(["c1"]), "{at}");
    assert!(
        at.get("amr").is_none(),
        "v2.0 access tokens have no amr: {at}"
    );

    // Tokens refreshed from that sign-in keep the satisfied context; one without it has none.
    let (s, b) = refresh(
        &tenant,
        body["refresh_token"].as_str().unwrap(),
        GRAPH_SCOPES,
        None,
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        claims(b["access_token"].as_str().unwrap())["acrs"],
        serde_json::json!(["c1"])
    );
    let (s, b) = refresh(&tenant, &rt, GRAPH_SCOPES, None).await;
    assert_eq!(s, 200, "{b}");
    assert!(
        claims(b["access_token"].as_str().unwrap())
            .get("acrs")
            .is_none()
    );
}

#[tokio::test]
async fn auth_context_whose_policy_needs_no_mfa_is_satisfied_silently() {
    let mut config = Config::quickstart();
    config.conditional_access.push({
        let mut p = ConditionalAccessPolicy::require_mfa_for_auth_context(
            "0c0c0c0c-0000-4000-8000-000000000000",
            ["c2"],
        );
        p.require_mfa = false;
        p
    });
    let tenant = start_with(config).await;
    let mut browser = Browser::default();
    let rt = graph_sign_in(&tenant, &mut browser).await;
    let (s, b) = refresh(
        &tenant,
        &rt,
        GRAPH_SCOPES,
        Some(r#"{"access_token":{"acrs":{"essential":true,"values":["c2"]}}}"#),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        claims(b["access_token"].as_str().unwrap())["acrs"],
        serde_json::json!(["c2"])
    );
}

#[tokio::test]
async fn both_spellings_of_the_policy_claims_request_demand_mfa() {
    let tenant = start().await;
    let mut browser = Browser::default();
    let rt = graph_sign_in(&tenant, &mut browser).await;
    for name in ["capolids", "polids"] {
        let c = format!(
            r#"{{"access_token":{{"{name}":{{"essential":true,"values":["{}"]}}}}}}"#,
            q::MFA_POLICY_ID
        );
        let (s, b) = refresh(&tenant, &rt, GRAPH_SCOPES, Some(&c)).await;
        assert_entra_error(s, &b, 400, "invalid_grant", 50076);
        assert_eq!(b["suberror"], "basic_action", "{b}");
        let page = browser
            .get(&authorize_url(
                &tenant,
                GRAPH_SCOPES,
                "s",
                &[("claims", &c)],
            ))
            .await;
        assert!(matches!(page, Page::Mfa { .. }), "{name}: {page:?}");
    }
}

/// Microsoft's sample asks for `["User.Read", API scope]` on its profile page: the API's
/// Conditional Access policy must apply there, at the token endpoint as at the authorize
/// endpoint, not only when the API token is asked for alone.
#[tokio::test]
async fn conditional_access_covers_every_resource_a_scope_set_names() {
    let tenant = start().await;
    let mut browser = Browser::default();
    let rt = graph_sign_in(&tenant, &mut browser).await;
    let both = format!(
        "User.Read {} openid profile offline_access",
        q::API_SCOPE_URI
    );

    let (s, b) = refresh(&tenant, &rt, &both, None).await;
    assert_entra_error(s, &b, 400, "invalid_grant", 50076);
    assert!(
        b["error_description"]
            .as_str()
            .unwrap()
            .contains(q::API_CLIENT_ID),
        "names the protected resource: {b}"
    );
    assert_eq!(
        b["claims"],
        format!(
            r#"{{"access_token":{{"capolids":{{"essential":true,"values":["{}"]}}}}}}"#,
            q::MFA_POLICY_ID
        )
    );

    // The authorize endpoint agrees: the same scope set asks for MFA.
    let page = browser.get(&authorize_url(&tenant, &both, "s", &[])).await;
    let Page::Mfa { action, tx, .. } = page else {
        panic!("the API's policy applies at authorize too: {page:?}")
    };
    let code = tenant.last_mfa_code().unwrap();
    let Page::FormPost { fields, .. } = browser
        .post(&tenant, &action, &[("tx", &tx), ("code", &code)])
        .await
    else {
        panic!("MFA completes the sign-in")
    };
    // After MFA the token is for the first resource, as Entra issues it.
    let (s, body) = redeem(&tenant, field(&fields, "code").unwrap(), &both).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(
        claims(body["access_token"].as_str().unwrap())["aud"],
        q::GRAPH_APP_ID
    );
}
