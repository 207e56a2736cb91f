use base64::Engine as _;
use dev_tenant::{Config, quickstart as q};
use serde_json::{Value, json};

use crate::common::{
    Browser, Page, assert_entra_error, authorize_url, claims, field, redeem, sign_in, start,
    start_with,
};

const GRAPH_SCOPES: &str = "User.Read openid profile offline_access";

#[tokio::test]
async fn login_form_post_and_redeem() {
    let tenant = start().await;
    let mut browser = Browser::default();
    let state = "a&b=<c> \"d\" 'e'";
    let fields = sign_in(&tenant, &mut browser, GRAPH_SCOPES, state, q::ALICE_EMAIL).await;
    assert_eq!(
        field(&fields, "state"),
        Some(state),
        "state is echoed exactly"
    );
    assert!(field(&fields, "session_state").is_some());
    let info = field(&fields, "client_info").unwrap();
    let info: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(info)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        info,
        json!({"uid": q::ALICE_OBJECT_ID, "utid": q::TENANT_ID})
    );

    let (status, body) = redeem(&tenant, field(&fields, "code").unwrap(), GRAPH_SCOPES).await;
    assert_eq!(status, 200, "{body}");
    for k in [
        "token_type",
        "scope",
        "expires_in",
        "ext_expires_in",
        "access_token",
        "refresh_token",
        "id_token",
        "client_info",
    ] {
        assert!(!body[k].is_null(), "{k} in {body}");
    }
    assert_eq!(body["scope"], "User.Read openid profile");
    let at = claims(body["access_token"].as_str().unwrap());
    assert_eq!(at["aud"], q::GRAPH_APP_ID);
    assert_eq!(at["scp"], "User.Read");
    assert_eq!(at["oid"], q::ALICE_OBJECT_ID);
    assert_eq!(at["preferred_username"], q::ALICE_EMAIL);
    assert_eq!(at["name"], q::ALICE_DISPLAY_NAME);
    assert_eq!(at["azp"], q::WEB_APP_CLIENT_ID);
    // v2.0 access tokens carry no `amr` (access-token claims reference: "only present in v1.0 tokens").
    assert!(at.get("amr").is_none(), "{at}");
    assert_eq!(at["ver"], "2.0");
    assert!(at.get("xms_cc").is_none());
    for k in [
        "iat", "nbf", "exp", "aio", "sub", "tid", "uti", "idtyp", "azpacr",
    ] {
        assert!(!at[k].is_null(), "{k}");
    }
    let id = claims(body["id_token"].as_str().unwrap());
    assert_eq!(id["aud"], q::WEB_APP_CLIENT_ID);
    assert_eq!(id["nonce"], "nonce-123");
    assert_eq!(id["oid"], q::ALICE_OBJECT_ID);
    assert_eq!(id["tid"], q::TENANT_ID);
    // Optional claims are absent unless the app configures them (ID-token claims reference).
    for k in ["auth_time", "email", "amr"] {
        assert!(id.get(k).is_none(), "{k} in {id}");
    }
    assert_eq!(id["iss"], tenant.issuer());
}

#[tokio::test]
async fn configured_optional_claims_appear() {
    let mut config = Config::quickstart();
    config
        .app_mut(q::WEB_APP_CLIENT_ID)
        .unwrap()
        .optional_claims
        .id_token = ["auth_time", "email", "amr", "given_name"]
        .map(String::from)
        .to_vec();
    config
        .app_mut(q::GRAPH_APP_ID)
        .unwrap()
        .optional_claims
        .access_token = vec!["email".to_owned()];
    let tenant = start_with(config).await;
    let mut browser = Browser::default();
    let fields = sign_in(&tenant, &mut browser, GRAPH_SCOPES, "s", q::ALICE_EMAIL).await;
    let (_, body) = redeem(&tenant, field(&fields, "code").unwrap(), GRAPH_SCOPES).await;
    let id = claims(body["id_token"].as_str().unwrap());
    assert!(id["auth_time"].is_i64(), "{id}");
    assert_eq!(id["email"], q::ALICE_EMAIL);
    assert_eq!(id["amr"], json!(["pwd"]));
    assert_eq!(id["given_name"], "Alice");
    let at = claims(body["access_token"].as_str().unwrap());
    assert_eq!(at["email"], q::ALICE_EMAIL);
    assert!(at.get("amr").is_none(), "{at}");

    let mut bad = Config::quickstart();
    bad.app_mut(q::GRAPH_APP_ID)
        .unwrap()
        .optional_claims
        .access_token = vec!["amr".to_owned()];
    assert!(
        bad.validate().is_err(),
        "v2.0 access tokens never carry amr"
    );
}

#[tokio::test]
async fn sso_cookie_skips_the_password_the_second_time() {
    let tenant = start().await;
    let mut browser = Browser::default();
    sign_in(&tenant, &mut browser, GRAPH_SCOPES, "s1", q::ALICE_EMAIL).await;
    let page = browser
        .get(&authorize_url(&tenant, GRAPH_SCOPES, "s2", &[]))
        .await;
    let Page::FormPost { fields, .. } = page else {
        panic!("expected a direct answer, got {page:?}")
    };
    assert_eq!(field(&fields, "state"), Some("s2"));
    // max_age=0 and prompt=login force the password page again.
    let page = browser
        .get(&authorize_url(
            &tenant,
            GRAPH_SCOPES,
            "s3",
            &[("max_age", "0")],
        ))
        .await;
    assert!(matches!(page, Page::Login { .. }), "{page:?}");
    let page = browser
        .get(&authorize_url(
            &tenant,
            GRAPH_SCOPES,
            "s3",
            &[("max_age", "3600")],
        ))
        .await;
    assert!(matches!(page, Page::FormPost { .. }), "{page:?}");
    let page = browser
        .get(&authorize_url(
            &tenant,
            GRAPH_SCOPES,
            "s3",
            &[("prompt", "login")],
        ))
        .await;
    assert!(matches!(page, Page::Login { .. }), "{page:?}");
}

#[tokio::test]
async fn wrong_password_shows_an_error_and_keeps_the_form() {
    let tenant = start().await;
    let mut browser = Browser::default();
    let Page::Login { action, tx, .. } = browser
        .get(&authorize_url(&tenant, GRAPH_SCOPES, "s", &[]))
        .await
    else {
        panic!()
    };
    let page = browser
        .post(
            &tenant,
            &action,
            &[("tx", &tx), ("email", q::ALICE_EMAIL), ("password", "nope")],
        )
        .await;
    let Page::Login { html, tx: tx2, .. } = page else {
        panic!("{page:?}")
    };
    assert!(html.contains("Your account or password is incorrect."));
    assert_eq!(tx, tx2);
    assert!(browser.cookie.is_none());
    // An unknown transaction id (CSRF or a stale page) is refused.
    let page = browser
        .post(
            &tenant,
            &action,
            &[
                ("tx", "forged"),
                ("email", q::ALICE_EMAIL),
                ("password", q::USER_PASSWORD),
            ],
        )
        .await;
    assert!(
        matches!(page, Page::Other { status, .. } if status == 400),
        "{page:?}"
    );
}

#[tokio::test]
async fn api_scope_asks_for_mfa_and_token_carries_it() {
    let tenant = start().await;
    let mut browser = Browser::default();
    let scope = format!("{} openid profile offline_access", q::API_SCOPE_URI);
    let Page::Login { action, tx, .. } =
        browser.get(&authorize_url(&tenant, &scope, "s", &[])).await
    else {
        panic!()
    };
    let page = browser
        .post(
            &tenant,
            &action,
            &[
                ("tx", &tx),
                ("email", q::ALICE_EMAIL),
                ("password", q::USER_PASSWORD),
            ],
        )
        .await;
    let Page::Mfa { action, tx, html } = page else {
        panic!("{page:?}")
    };
    let code = tenant.last_mfa_code().unwrap();
    assert_eq!(code.len(), 6);
    assert!(html.contains(&code), "dev-only hint shows the code");
    let page = browser
        .post(&tenant, &action, &[("tx", &tx), ("code", "000000x")])
        .await;
    let Page::Mfa { html, .. } = page else {
        panic!("{page:?}")
    };
    assert!(html.contains("That code didn&#39;t work"), "{html}");
    let page = browser
        .post(&tenant, &action, &[("tx", &tx), ("code", &code)])
        .await;
    let Page::FormPost { fields, .. } = page else {
        panic!("{page:?}")
    };
    let (status, body) = redeem(&tenant, field(&fields, "code").unwrap(), &scope).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["scope"],
        format!("{} openid profile", q::API_SCOPE_URI)
    );
    let at = claims(body["access_token"].as_str().unwrap());
    assert_eq!(at["aud"], q::API_CLIENT_ID);
    assert_eq!(at["scp"], q::API_SCOPE);
    // No `amr` in a v2.0 access token even after MFA (the MFA state stays with the tenant).
    assert!(at.get("amr").is_none(), "{at}");
}

#[tokio::test]
async fn claims_parameter_demanding_mfa_shows_the_mfa_page() {
    let tenant = start().await;
    let mut browser = Browser::default();
    sign_in(&tenant, &mut browser, GRAPH_SCOPES, "s", q::ALICE_EMAIL).await;
    let claims_param = format!(
        r#"{{"access_token":{{"polids":{{"essential":true,"values":["{}"]}},"xms_cc":{{"values":["cp1"]}}}}}}"#,
        q::MFA_POLICY_ID
    );
    let page = browser
        .get(&authorize_url(
            &tenant,
            GRAPH_SCOPES,
            "s",
            &[("claims", &claims_param)],
        ))
        .await;
    let Page::Mfa { action, tx, .. } = page else {
        panic!("signed in already, only MFA is missing: {page:?}")
    };
    let page = browser
        .post(
            &tenant,
            &action,
            &[("tx", &tx), ("code", &tenant.last_mfa_code().unwrap())],
        )
        .await;
    let Page::FormPost { fields, .. } = page else {
        panic!("{page:?}")
    };
    let (_, body) = redeem(&tenant, field(&fields, "code").unwrap(), GRAPH_SCOPES).await;
    let at = claims(body["access_token"].as_str().unwrap());
    // No `amr` in a v2.0 access token even after MFA (the MFA state stays with the tenant).
    assert!(at.get("amr").is_none(), "{at}");
    assert_eq!(at["xms_cc"], json!(["cp1"]));
}

#[tokio::test]
async fn pkce_failure_and_code_reuse() {
    let tenant = start().await;
    let mut browser = Browser::default();
    let fields = sign_in(&tenant, &mut browser, GRAPH_SCOPES, "s", q::ALICE_EMAIL).await;
    let code = field(&fields, "code").unwrap();
    let (s, b) = crate::common::token(
        &tenant,
        &[
            ("client_id", q::WEB_APP_CLIENT_ID),
            ("redirect_uri", q::WEB_APP_REDIRECT_URI),
            ("code", code),
            (
                "code_verifier",
                "wrong-verifier-wrong-verifier-wrong-verifier-00",
            ),
            ("client_secret", q::WEB_APP_CLIENT_SECRET),
            ("grant_type", "authorization_code"),
        ],
    )
    .await;
    assert_entra_error(s, &b, 400, "invalid_grant", 50148);
    // The code is single-use even after a failed attempt.
    let (s, b) = redeem(&tenant, code, GRAPH_SCOPES).await;
    assert_entra_error(s, &b, 400, "invalid_grant", 54005);

    let fields = sign_in(&tenant, &mut browser, GRAPH_SCOPES, "s", q::ALICE_EMAIL).await;
    let code = field(&fields, "code").unwrap();
    assert_eq!(redeem(&tenant, code, GRAPH_SCOPES).await.0, 200);
    let (s, b) = redeem(&tenant, code, GRAPH_SCOPES).await;
    assert_entra_error(s, &b, 400, "invalid_grant", 54005);
    let (s, b) = redeem(&tenant, "made-up-code", GRAPH_SCOPES).await;
    assert_entra_error(s, &b, 400, "invalid_grant", 9002313);
}

#[tokio::test]
async fn expired_code_is_refused() {
    let mut config = Config::quickstart();
    config.lifetimes.code_secs = 0;
    let tenant = start_with(config).await;
    let mut browser = Browser::default();
    let fields = sign_in(&tenant, &mut browser, GRAPH_SCOPES, "s", q::ALICE_EMAIL).await;
    let (s, b) = redeem(&tenant, field(&fields, "code").unwrap(), GRAPH_SCOPES).await;
    assert_entra_error(s, &b, 400, "invalid_grant", 70008);
}

#[tokio::test]
async fn wrong_client_secret_on_redeem() {
    let tenant = start().await;
    let mut browser = Browser::default();
    let fields = sign_in(&tenant, &mut browser, GRAPH_SCOPES, "s", q::ALICE_EMAIL).await;
    let (s, b) = crate::common::token(
        &tenant,
        &[
            ("client_id", q::WEB_APP_CLIENT_ID),
            ("redirect_uri", q::WEB_APP_REDIRECT_URI),
            ("code", field(&fields, "code").unwrap()),
            ("code_verifier", crate::common::VERIFIER),
            ("client_secret", "not-the-secret"),
            ("grant_type", "authorization_code"),
        ],
    )
    .await;
    assert_entra_error(s, &b, 401, "invalid_client", 7000215);
}

#[tokio::test]
async fn authorize_validation() {
    let tenant = start().await;
    let mut browser = Browser::default();
    // Unknown client or unregistered redirect URI: an error page, never a redirect.
    let mut url = url::Url::parse(&authorize_url(&tenant, GRAPH_SCOPES, "s", &[])).unwrap();
    let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    let with = |k: &str, v: &str| {
        let mut u = url.clone();
        u.query_pairs_mut().clear();
        for (pk, pv) in &pairs {
            if pk != k {
                u.query_pairs_mut().append_pair(pk, pv);
            }
        }
        if !v.is_empty() {
            u.query_pairs_mut().append_pair(k, v);
        }
        u.to_string()
    };
    for (k, v, code) in [
        (
            "client_id",
            "11111111-1111-1111-1111-111111111111",
            "700016",
        ),
        ("redirect_uri", "https://evil.example/cb", "50011"),
        ("redirect_uri", "", "900144"),
    ] {
        let page = browser.get(&with(k, v)).await;
        let Page::Other {
            status,
            html,
            location,
        } = page
        else {
            panic!("{page:?}")
        };
        assert_eq!(status, 400);
        assert!(location.is_none());
        assert!(html.contains(&format!("AADSTS{code}")), "{html}");
    }
    // Loopback redirect URIs match on any port.
    let page = browser
        .get(&with(
            "redirect_uri",
            "http://localhost:45678/auth/redirect",
        ))
        .await;
    assert!(matches!(page, Page::Login { .. }), "{page:?}");
    // After the redirect URI is known, errors go back to it.
    for (k, v, error) in [
        ("code_challenge", "too-short", "invalid_request"),
        ("code_challenge_method", "S512", "invalid_request"),
        ("response_type", "token", "unsupported_response_type"),
        ("scope", "Mail.Read", "invalid_scope"),
        ("scope", "User.ReadWrite openid", "consent_required"),
        ("claims", "{not json", "invalid_request"),
    ] {
        let page = browser.get(&with(k, v)).await;
        let Page::FormPost { action, fields } = page else {
            panic!("{k}={v}: {page:?}")
        };
        assert_eq!(action, q::WEB_APP_REDIRECT_URI);
        assert_eq!(field(&fields, "error"), Some(error), "{k}={v}");
        assert_eq!(field(&fields, "state"), Some("s"));
    }
    // response_mode=query redirects with the code in the query.
    url.query_pairs_mut().clear();
    for (pk, pv) in &pairs {
        if pk != "response_mode" {
            url.query_pairs_mut().append_pair(pk, pv);
        }
    }
    sign_in(&tenant, &mut browser, GRAPH_SCOPES, "s", q::ALICE_EMAIL).await;
    let page = browser.get(url.as_str()).await;
    let Page::Other {
        status,
        location: Some(location),
        ..
    } = page
    else {
        panic!("{page:?}")
    };
    assert_eq!(status, 302);
    let loc = url::Url::parse(&location).unwrap();
    let q: Vec<(String, String)> = loc.query_pairs().into_owned().collect();
    assert!(q.iter().any(|(k, _)| k == "code"));
    assert!(q.iter().any(|(k, v)| k == "state" && v == "s"));
}

#[tokio::test]
async fn prompt_none_without_session_is_login_required() {
    let tenant = start().await;
    let mut browser = Browser::default();
    let page = browser
        .get(&authorize_url(
            &tenant,
            GRAPH_SCOPES,
            "s",
            &[("prompt", "none")],
        ))
        .await;
    let Page::FormPost { fields, .. } = page else {
        panic!("{page:?}")
    };
    assert_eq!(field(&fields, "error"), Some("login_required"));
}

#[tokio::test]
async fn public_client_without_secret() {
    let mut config = Config::quickstart();
    let mut public =
        dev_tenant::AppRegistration::new("spa-like", "6f6f6f6f-0000-4000-8000-000000000006");
    public.redirect_uris.push("http://localhost:5173/".into());
    public
        .delegated_permissions
        .push(dev_tenant::DelegatedPermission::new(
            q::GRAPH_APP_ID,
            ["User.Read"],
        ));
    config.apps.push(public);
    let tenant = start_with(config).await;
    let mut browser = Browser::default();
    let mut url = url::Url::parse(&authorize_url(&tenant, GRAPH_SCOPES, "s", &[])).unwrap();
    let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    url.query_pairs_mut().clear();
    for (k, v) in &pairs {
        let v = match k.as_str() {
            "client_id" => "6f6f6f6f-0000-4000-8000-000000000006",
            "redirect_uri" => "http://localhost:5173/",
            _ => v.as_str(),
        };
        url.query_pairs_mut().append_pair(k, v);
    }
    let Page::Login { action, tx, .. } = browser.get(url.as_str()).await else {
        panic!()
    };
    let Page::FormPost {
        action: target,
        fields,
    } = browser
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
    assert_eq!(target, "http://localhost:5173/");
    let code = field(&fields, "code").unwrap();
    let form = [
        ("client_id", "6f6f6f6f-0000-4000-8000-000000000006"),
        ("redirect_uri", "http://localhost:5173/"),
        ("code", code),
        ("code_verifier", crate::common::VERIFIER),
        ("grant_type", "authorization_code"),
        ("scope", GRAPH_SCOPES),
    ];
    // A public client must not present a secret.
    let mut with_secret = form.to_vec();
    with_secret.push(("client_secret", "anything"));
    let (s, b) = crate::common::token(&tenant, &with_secret).await;
    assert_entra_error(s, &b, 401, "invalid_client", 700025);
    // The failed attempt was refused before the code was looked at, so it still works.
    let (s, b) = crate::common::token(&tenant, &form).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(claims(b["access_token"].as_str().unwrap())["azpacr"], "0");
}
