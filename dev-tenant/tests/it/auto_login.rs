//! Auto-login: tests in any language drive the authorization code flow with a plain HTTP client,
//! no login page to scrape (issue 19 item 9).

use dev_tenant::{AutoLogin, Config, quickstart as q};

use crate::common::{Browser, Page, authorize_url, claims, field, redeem, start_with};

fn config(mfa: bool) -> Config {
    let mut c = Config::quickstart();
    c.auto_login = Some(AutoLogin::new(q::BOB_EMAIL, mfa));
    c
}

#[tokio::test]
async fn auto_login_with_mfa_answers_at_once_even_for_the_protected_api() {
    let tenant = start_with(config(true)).await;
    let scope = format!("{} openid profile offline_access", q::API_SCOPE_URI);
    let mut browser = Browser::default();
    let page = browser.get(&authorize_url(&tenant, &scope, "s", &[])).await;
    let Page::FormPost { fields, .. } = page else {
        panic!("no page to fill in: {page:?}")
    };
    assert!(browser.cookie.is_some(), "an SSO session is set as usual");
    let (s, body) = redeem(&tenant, field(&fields, "code").unwrap(), &scope).await;
    assert_eq!(s, 200, "{body}");
    let at = claims(body["access_token"].as_str().unwrap());
    assert_eq!(at["oid"], q::BOB_OBJECT_ID);
    assert_eq!(at["aud"], q::API_CLIENT_ID);
}

#[tokio::test]
async fn auto_login_without_mfa_still_shows_the_mfa_page_when_a_policy_asks() {
    let tenant = start_with(config(false)).await;
    let mut browser = Browser::default();
    let graph = "User.Read openid";
    let page = browser.get(&authorize_url(&tenant, graph, "s", &[])).await;
    assert!(matches!(page, Page::FormPost { .. }), "{page:?}");
    let api = format!("{} openid", q::API_SCOPE_URI);
    let page = Browser::default()
        .get(&authorize_url(&tenant, &api, "s", &[]))
        .await;
    assert!(matches!(page, Page::Mfa { .. }), "{page:?}");
}
