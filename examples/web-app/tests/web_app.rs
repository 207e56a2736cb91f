//! The web app end to end over plain HTTP against the real dev tenant and the real API.

mod support;

use dev_tenant::Endpoint;
use dev_tenant::quickstart as q;
use reqwest::StatusCode;
use support::{Browser, hidden, no_redirects, stack};

#[tokio::test]
async fn sign_in_view_profile_mfa_edit_and_sign_out() {
    let stack = stack().await;
    let mut browser = Browser::default();

    // Signed out: the home page offers sign-in; protected pages send the user to sign in.
    let (_, home) = browser.browse(&stack, "/").await;
    assert!(home.html.contains(r#"id="signin""#));
    let first = browser
        .get(&stack, &format!("{}/users/id", stack.web))
        .await;
    assert_eq!(first.location.as_deref(), Some("/auth/signin"));

    // Sign in through the tenant's login page (form_post back to the app).
    let (url, page) = browser.browse(&stack, "/auth/signin").await;
    assert_eq!(page.status, StatusCode::OK, "{url}: {}", page.html);
    assert!(
        page.html.contains("Welcome, Alice Example"),
        "{}",
        page.html
    );
    assert!(browser.app_cookies.contains_key("ep.session"));
    assert!(
        !browser.app_cookies.contains_key("ep.flow"),
        "the flow cookie is cleared"
    );

    // ID token claims.
    let (_, claims) = browser.browse(&stack, "/users/id").await;
    assert!(claims.html.contains(q::ALICE_OBJECT_ID) && claims.html.contains("preferred_username"));

    // The Graph profile; a second visit is served from the token cache.
    let (_, profile) = browser.browse(&stack, "/users/gatedUpdateProfile").await;
    assert!(
        profile
            .html
            .contains(r#"id="profile-displayName">Alice Example<"#),
        "{}",
        profile.html
    );
    let token_calls = stack.tenant.requests(Endpoint::Token);
    browser.browse(&stack, "/users/gatedUpdateProfile").await;
    assert_eq!(stack.tenant.requests(Endpoint::Token), token_calls);

    // Editing needs the API token, which Conditional Access guards with MFA: the tenant shows
    // its MFA page (no password: its SSO cookie remembers the user), then the form appears.
    assert!(
        stack.tenant.last_mfa_code().is_none(),
        "no MFA before editing"
    );
    let authorize_calls = stack.tenant.requests(Endpoint::Authorize);
    let (url, form) = browser.browse(&stack, "/users/updateProfile").await;
    assert!(
        stack.tenant.last_mfa_code().is_some(),
        "editing asked for MFA"
    );
    assert!(stack.tenant.requests(Endpoint::Authorize) > authorize_calls);
    assert!(url.ends_with("/users/updateProfile"), "{url}");
    assert!(form.html.contains(r#"id="update-form""#), "{}", form.html);
    let csrf = hidden(&form.html, "csrf_token");

    // A forged form (wrong CSRF token) changes nothing.
    let forged = browser
        .post(
            &stack,
            &format!("{}/users/update", stack.web),
            &[
                ("csrf_token", "forged"),
                ("displayName", "Mallory"),
                ("givenName", "M"),
                ("surname", "X"),
            ],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert_eq!(
        stack.tenant.user(q::ALICE_EMAIL).unwrap().display_name,
        "Alice Example"
    );

    // A semantic error from the API is shown on the form.
    let invalid = browser
        .post(
            &stack,
            &format!("{}/users/update", stack.web),
            &[
                ("csrf_token", &csrf),
                ("displayName", " "),
                ("givenName", "Ada"),
                ("surname", "L"),
            ],
        )
        .await;
    assert_eq!(invalid.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        invalid.html.contains("displayName cannot be empty"),
        "{}",
        invalid.html
    );

    // Save: the API answers 204, the app shows the new names, the tenant's user store has them.
    let saved = browser
        .post(
            &stack,
            &format!("{}/users/update", stack.web),
            &[
                ("csrf_token", &csrf),
                ("displayName", "Ada Lovelace"),
                ("givenName", "Ada"),
                ("surname", "Lovelace"),
            ],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.html);
    let (_, updated) = browser
        .browse(&stack, saved.location.as_deref().unwrap())
        .await;
    assert!(
        updated
            .html
            .contains(r#"id="profile-displayName">Ada Lovelace<"#),
        "{}",
        updated.html
    );
    assert!(updated.html.contains("Your profile was updated."));
    let user = stack.tenant.user(q::ALICE_EMAIL).unwrap();
    assert_eq!(
        (user.display_name.as_str(), user.surname.as_deref()),
        ("Ada Lovelace", Some("Lovelace"))
    );

    // Sign out: the tenant's logout, then back home signed out.
    let out = browser
        .get(&stack, &format!("{}/auth/signout", stack.web))
        .await;
    let logout = out.location.expect("redirect to the tenant's logout");
    assert!(logout.contains("/oauth2/v2.0/logout"), "{logout}");
    let (_, home) = browser.browse(&stack, "/").await;
    assert!(home.html.contains(r#"id="signin""#));
}

#[tokio::test]
async fn a_tampered_or_missing_flow_cookie_is_refused() {
    let stack = stack().await;
    let mut browser = Browser::default();
    let start = browser
        .get(&stack, &format!("{}/auth/signin", stack.web))
        .await;
    assert!(start.location.unwrap().contains("/oauth2/v2.0/authorize"));
    let sealed = browser
        .app_cookies
        .get("ep.flow")
        .cloned()
        .expect("flow cookie");

    // Flip one character of the sealed value.
    let mut tampered = sealed.into_bytes();
    tampered[20] = if tampered[20] == b'A' { b'B' } else { b'A' };
    browser
        .app_cookies
        .insert("ep.flow".into(), String::from_utf8(tampered).unwrap());
    let answer = browser
        .post(
            &stack,
            &format!("{}/auth/redirect", stack.web),
            &[("code", "x"), ("state", "y")],
        )
        .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert!(answer.html.contains("sign in again"), "{}", answer.html);

    browser.app_cookies.clear();
    let answer = browser
        .post(
            &stack,
            &format!("{}/auth/redirect", stack.web),
            &[("code", "x"), ("state", "y")],
        )
        .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        stack.tenant.requests(Endpoint::Token),
        0,
        "no code was redeemed"
    );
}

#[tokio::test]
async fn the_flow_cookie_is_cross_site_capable_and_the_session_cookie_is_not() {
    let stack = stack().await;
    let response = no_redirects()
        .get(format!("{}/auth/signin", stack.web))
        .send()
        .await
        .unwrap();
    let flow = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("ep.flow="))
        .unwrap();
    for attribute in ["HttpOnly", "Secure", "SameSite=None", "Path=/auth"] {
        assert!(flow.contains(attribute), "{flow}");
    }

    let mut browser = Browser::default();
    browser.browse(&stack, "/auth/signin").await;
    let session = no_redirects()
        .get(format!("{}/", stack.web))
        .send()
        .await
        .unwrap();
    // No cookie sent: no session is created for an anonymous page view.
    assert!(session.headers().get("set-cookie").is_none());
}
