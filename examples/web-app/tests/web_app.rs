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

    // Sign out is a POST with the session's CSRF token. A GET (a link or an image on any site)
    // or a POST without the token (a form on another site) signs no one out.
    let get = browser
        .get(&stack, &format!("{}/auth/signout", stack.web))
        .await;
    assert_eq!(get.status, StatusCode::METHOD_NOT_ALLOWED);
    let forged = browser
        .post(
            &stack,
            &format!("{}/auth/signout", stack.web),
            &[("csrf_token", "forged")],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let (_, still) = browser.browse(&stack, "/users/id").await;
    assert!(still.html.contains(q::ALICE_OBJECT_ID), "still signed in");
    let signout_token = hidden(&still.html, "csrf_token");
    assert_eq!(
        signout_token, csrf,
        "the page's sign-out form carries the session's token"
    );

    // The tenant's logout, then back home signed out.
    let out = browser
        .post(
            &stack,
            &format!("{}/auth/signout", stack.web),
            &[("csrf_token", &signout_token)],
        )
        .await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    let logout = out.location.expect("redirect to the tenant's logout");
    assert!(logout.contains("/oauth2/v2.0/logout"), "{logout}");
    let (_, home) = browser.browse(&stack, "/").await;
    assert!(home.html.contains(r#"id="signin""#));
}

/// The `state` query parameter of an authorize URL.
fn state_of(authorize: &str) -> String {
    url::Url::parse(authorize)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .expect("state in the authorize URL")
}

#[tokio::test]
async fn an_error_response_is_checked_against_state_and_never_echoed() {
    let stack = stack().await;
    let mut browser = Browser::default();
    let start = browser
        .get(&stack, &format!("{}/auth/signin", stack.web))
        .await;
    let state = state_of(&start.location.unwrap());
    let evil = "Your account is locked. Call +1-555-0100 now";

    // Another site posts an error with a wrong state: refused before the error is looked at,
    // the attacker's text is not shown, and this browser's own sign-in can still finish.
    let forged = browser
        .post(
            &stack,
            &format!("{}/auth/redirect", stack.web),
            &[
                ("error", "access_denied"),
                ("error_description", evil),
                ("state", "not-the-state"),
            ],
        )
        .await;
    assert_eq!(forged.status, StatusCode::BAD_REQUEST);
    assert!(!forged.html.contains("Call +1-555"), "{}", forged.html);
    assert!(
        forged
            .html
            .contains("does not belong to a sign-in started in this browser"),
        "{}",
        forged.html
    );
    assert!(
        browser.app_cookies.contains_key("ep.flow"),
        "a forged response does not end the real sign-in"
    );

    // The tenant's own error (right state): a fixed message, never the description.
    let real = browser
        .post(
            &stack,
            &format!("{}/auth/redirect", stack.web),
            &[
                ("error", "access_denied"),
                ("error_description", evil),
                ("state", &state),
            ],
        )
        .await;
    assert_eq!(real.status, StatusCode::BAD_REQUEST);
    assert!(!real.html.contains("Call +1-555"), "{}", real.html);
    assert!(real.html.contains("cancelled or refused"), "{}", real.html);
    assert!(!browser.app_cookies.contains_key("ep.flow"), "flow ended");
    assert_eq!(stack.tenant.requests(Endpoint::Token), 0);
}

#[tokio::test]
async fn the_session_id_changes_at_sign_in() {
    let stack = stack().await;
    let mut browser = Browser::default();
    browser.browse(&stack, "/auth/signin").await;
    let first = browser.app_cookies["ep.session"].clone();

    // Signing in again in a browser that already has a session (the tenant's SSO cookie skips
    // the password): a new id, and the old one no longer leads anywhere.
    let (_, page) = browser.browse(&stack, "/auth/signin").await;
    assert!(
        page.html.contains("Welcome, Alice Example"),
        "{}",
        page.html
    );
    let second = browser.app_cookies["ep.session"].clone();
    assert_ne!(
        first, second,
        "a new session id at sign-in (session fixation)"
    );
    let mut old = Browser::default();
    old.app_cookies.insert("ep.session".into(), first);
    let seen = old.get(&stack, &format!("{}/users/id", stack.web)).await;
    assert_eq!(seen.location.as_deref(), Some("/auth/signin"));
}

#[tokio::test]
async fn every_page_has_security_headers_and_personal_pages_are_not_cached() {
    let stack = stack().await;
    let mut browser = Browser::default();
    browser.browse(&stack, "/auth/signin").await;
    let cookie = format!("ep.session={}", browser.app_cookies["ep.session"]);
    for (path, personal) in [("/", false), ("/users/id", true), ("/auth/signin", false)] {
        let response = no_redirects()
            .get(format!("{}{path}", stack.web))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        let headers = response.headers();
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(csp.contains("default-src 'none'"), "{path}: {csp}");
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["referrer-policy"], "no-referrer", "{path}");
        assert_eq!(
            headers
                .get("cache-control")
                .is_some_and(|v| v == "no-store"),
            personal,
            "{path}"
        );
    }
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

    // The session cookie (set when the sign-in completes): not cross-site, not readable by
    // scripts, host-only on the whole site. Plain http on loopback: no `Secure`, no `__Host-`
    // (the https names and attributes are unit tests of the app and the flow cookie).
    let mut browser = Browser::default();
    browser.browse(&stack, "/auth/signin").await;
    let session = browser
        .set_cookies
        .iter()
        .find(|c| c.starts_with("ep.session="))
        .expect("a session cookie was set");
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(session.contains(attribute), "{session}");
    }
    assert!(!session.contains("SameSite=None"), "{session}");
    assert!(
        !session.to_ascii_lowercase().contains("domain="),
        "{session}"
    );

    let anonymous = no_redirects()
        .get(format!("{}/", stack.web))
        .send()
        .await
        .unwrap();
    // No cookie sent: no session is created for an anonymous page view.
    assert!(anonymous.headers().get("set-cookie").is_none());
}
