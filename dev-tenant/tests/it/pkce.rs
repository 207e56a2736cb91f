//! PKCE as Entra applies it ("Microsoft identity platform and OAuth 2.0 authorization code
//! flow"; RFC 7636): optional for confidential web apps unless the app requires it, required for
//! public clients, `S256` and `plain` accepted.

use dev_tenant::{AppRegistration, Config, DelegatedPermission, quickstart as q};

use crate::common::{Browser, Page, VERIFIER, field, start_with, token};

const SPA_ID: &str = "6a6a6a6a-0000-4000-8000-00000000000a";
const SPA_REDIRECT: &str = "http://localhost:5173/redirect";

fn config() -> Config {
    let mut c = Config::quickstart();
    let mut spa = AppRegistration::new("spa", SPA_ID);
    spa.redirect_uris.push(SPA_REDIRECT.to_owned());
    spa.delegated_permissions.push(DelegatedPermission::new(
        q::GRAPH_APP_ID,
        [q::GRAPH_USER_READ],
    ));
    c.apps.push(spa);
    c
}

/// An authorize URL with exactly these PKCE parameters.
fn url(
    tenant: &dev_tenant::DevTenant,
    client: &str,
    redirect: &str,
    pkce: &[(&str, &str)],
) -> String {
    let mut url = url::Url::parse(&tenant.authorize_endpoint()).unwrap();
    url.query_pairs_mut()
        .append_pair("client_id", client)
        .append_pair("redirect_uri", redirect)
        .append_pair("response_type", "code")
        .append_pair("response_mode", "form_post")
        .append_pair("scope", "User.Read openid")
        .append_pair("state", "s");
    for (k, v) in pkce {
        url.query_pairs_mut().append_pair(k, v);
    }
    url.into()
}

/// Signs Alice in at `url` and returns the form_post fields (code or error).
async fn authorize(tenant: &dev_tenant::DevTenant, url: &str) -> Vec<(String, String)> {
    let mut browser = Browser::default();
    let mut page = browser.get(url).await;
    if let Page::Login { action, tx, .. } = page {
        page = browser
            .post(
                tenant,
                &action,
                &[
                    ("tx", &tx),
                    ("email", q::ALICE_EMAIL),
                    ("password", q::USER_PASSWORD),
                ],
            )
            .await;
    }
    let Page::FormPost { fields, .. } = page else {
        panic!("{page:?}")
    };
    fields
}

async fn redeem(
    tenant: &dev_tenant::DevTenant,
    fields: &[(String, String)],
    verifier: Option<&str>,
) -> (reqwest::StatusCode, serde_json::Value) {
    let mut form = vec![
        ("client_id", q::WEB_APP_CLIENT_ID),
        ("client_secret", q::WEB_APP_CLIENT_SECRET),
        ("redirect_uri", q::WEB_APP_REDIRECT_URI),
        ("grant_type", "authorization_code"),
        ("scope", "User.Read openid"),
        ("code", field(fields, "code").expect("a code")),
    ];
    if let Some(v) = verifier {
        form.push(("code_verifier", v));
    }
    token(tenant, &form).await
}

#[tokio::test]
async fn confidential_web_app_may_skip_pkce_unless_it_requires_it() {
    let tenant = start_with(config()).await;
    let fields = authorize(
        &tenant,
        &url(&tenant, q::WEB_APP_CLIENT_ID, q::WEB_APP_REDIRECT_URI, &[]),
    )
    .await;
    let (s, b) = redeem(&tenant, &fields, None).await;
    assert_eq!(s, 200, "{b}");

    let mut strict = config();
    strict.app_mut(q::WEB_APP_CLIENT_ID).unwrap().require_pkce = Some(true);
    let tenant = start_with(strict).await;
    let fields = authorize(
        &tenant,
        &url(&tenant, q::WEB_APP_CLIENT_ID, q::WEB_APP_REDIRECT_URI, &[]),
    )
    .await;
    assert_eq!(
        field(&fields, "error"),
        Some("invalid_request"),
        "{fields:?}"
    );
    assert!(
        field(&fields, "error_description")
            .unwrap()
            .starts_with("AADSTS9002325: ")
    );
}

#[tokio::test]
async fn public_client_needs_pkce() {
    let tenant = start_with(config()).await;
    let fields = authorize(&tenant, &url(&tenant, SPA_ID, SPA_REDIRECT, &[])).await;
    assert_eq!(
        field(&fields, "error"),
        Some("invalid_request"),
        "{fields:?}"
    );
    assert!(
        field(&fields, "error_description")
            .unwrap()
            .starts_with("AADSTS9002325: ")
    );
}

#[tokio::test]
async fn plain_challenge_is_accepted_and_checked() {
    let tenant = start_with(config()).await;
    for method in [Some("plain"), None] {
        let mut pkce = vec![("code_challenge", VERIFIER)];
        if let Some(m) = method {
            pkce.push(("code_challenge_method", m));
        }
        let u = url(
            &tenant,
            q::WEB_APP_CLIENT_ID,
            q::WEB_APP_REDIRECT_URI,
            &pkce,
        );
        let fields = authorize(&tenant, &u).await;
        let (s, b) = redeem(&tenant, &fields, Some(VERIFIER)).await;
        assert_eq!(s, 200, "{method:?}: {b}");

        let fields = authorize(&tenant, &u).await;
        let wrong = "x".repeat(43);
        let (s, b) = redeem(&tenant, &fields, Some(&wrong)).await;
        assert_eq!(s, 400, "{b}");
        assert_eq!(b["error_codes"][0], 50148, "{b}");
        // A challenge was sent, so the verifier cannot be left out.
        let fields = authorize(&tenant, &u).await;
        let (s, b) = redeem(&tenant, &fields, None).await;
        assert_eq!(s, 400, "{b}");
        assert_eq!(b["error_codes"][0], 900144, "{b}");
    }
}
