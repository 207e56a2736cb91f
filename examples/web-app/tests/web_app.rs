//! The web app end to end over plain HTTP: the real dev tenant (login and MFA pages), the real API,
//! the web app on ephemeral ports. The browser is simulated: two cookie jars (the tenant's SSO
//! cookie, the web app's session and flow cookies) and the tenant's auto-submitting form_post page
//! submitted by hand.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use dev_tenant::quickstart as q;
use dev_tenant::{Config as TenantConfig, DevTenant, Endpoint};
use reqwest::StatusCode;

struct Stack {
    tenant: DevTenant,
    web: String,
}

async fn serve(router: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    addr
}

async fn stack() -> Stack {
    let tenant = DevTenant::start(TenantConfig::quickstart()).await.unwrap();
    let authority = tenant.authority();
    let graph = tenant.graph_url();
    let api_vars = [
        ("AUTHORITY", authority.clone()),
        ("TENANT_ID", q::TENANT_ID.to_owned()),
        ("CLIENT_ID", q::API_CLIENT_ID.to_owned()),
        ("CLIENT_SECRET", q::API_CLIENT_SECRET.to_owned()),
        ("GRAPH_API_ENDPOINT", graph.clone()),
    ];
    let api_config = api::Config::from_vars(|k| lookup(&api_vars, k)).unwrap();
    let api_addr = serve(api::app(&api_config).await.unwrap()).await;

    // The web app's port must be known for its redirect URI: bind first, then build.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let web_addr = listener.local_addr().unwrap();
    let web = format!("http://localhost:{}", web_addr.port());
    let web_vars = [
        ("AUTHORITY", authority),
        ("CLIENT_ID", q::WEB_APP_CLIENT_ID.to_owned()),
        ("CLIENT_SECRET", q::WEB_APP_CLIENT_SECRET.to_owned()),
        ("REDIRECT_URI", format!("{web}/auth/redirect")),
        ("POST_LOGOUT_REDIRECT_URI", format!("{web}/")),
        ("GRAPH_API_ENDPOINT", graph),
        (
            "EDIT_PROFILE_FOR_CLIENT_WEB_APP",
            q::API_SCOPE_URI.to_owned(),
        ),
        ("EDIT_PROFILE_API_ENDPOINT", format!("http://{api_addr}/")),
    ];
    let config = web_app::Config::from_vars(|k| lookup(&web_vars, k)).unwrap();
    let router = web_app::app(&config).await.unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    Stack { tenant, web }
}

fn lookup(vars: &[(&str, String)], name: &str) -> Option<String> {
    vars.iter()
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.clone())
}

/// A response as the browser sees it.
#[derive(Debug)]
struct Seen {
    status: StatusCode,
    location: Option<String>,
    html: String,
}

/// Two cookie jars and no automatic redirects, so every hop is visible.
#[derive(Default)]
struct Browser {
    tenant_cookies: BTreeMap<String, String>,
    app_cookies: BTreeMap<String, String>,
}

impl Browser {
    fn jar(&mut self, url: &str, stack: &Stack) -> &mut BTreeMap<String, String> {
        if url.starts_with(&stack.web) {
            &mut self.app_cookies
        } else {
            &mut self.tenant_cookies
        }
    }

    async fn send(&mut self, stack: &Stack, request: reqwest::RequestBuilder, url: &str) -> Seen {
        let jar = self.jar(url, stack);
        let cookie = jar
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let request = if cookie.is_empty() {
            request
        } else {
            request.header("cookie", cookie)
        };
        let response = request.send().await.unwrap();
        for set in response.headers().get_all("set-cookie") {
            let set = set.to_str().unwrap();
            let (pair, attributes) = set.split_once(';').unwrap_or((set, ""));
            let (name, value) = pair.split_once('=').unwrap();
            if attributes.contains("Max-Age=0") || value.is_empty() {
                jar.remove(name.trim());
            } else {
                jar.insert(name.trim().to_owned(), value.to_owned());
            }
        }
        Seen {
            status: response.status(),
            location: response
                .headers()
                .get("location")
                .map(|v| v.to_str().unwrap().to_owned()),
            html: response.text().await.unwrap(),
        }
    }

    async fn get(&mut self, stack: &Stack, url: &str) -> Seen {
        let client = no_redirects();
        self.send(stack, client.get(url), url).await
    }

    async fn post(&mut self, stack: &Stack, url: &str, form: &[(&str, &str)]) -> Seen {
        let client = no_redirects();
        self.send(stack, client.post(url).form(form), url).await
    }

    /// Follows redirects and the tenant's pages (password, MFA, form_post) until a web-app page
    /// that is not a redirect.
    async fn browse(&mut self, stack: &Stack, start: &str) -> (String, Seen) {
        let mut url = absolute(stack, start);
        let mut page = self.get(stack, &url).await;
        for _ in 0..12 {
            if let Some(location) = page.location.clone() {
                url = absolute(stack, &location);
                page = self.get(stack, &url).await;
                continue;
            }
            let html = page.html.clone();
            if html.contains(r#"name="password""#) {
                let action = absolute(stack, &attribute(&html, "action"));
                let tx = hidden(&html, "tx");
                page = self
                    .post(
                        stack,
                        &action,
                        &[
                            ("tx", &tx),
                            ("email", q::ALICE_EMAIL),
                            ("password", q::USER_PASSWORD),
                        ],
                    )
                    .await;
                url = action;
            } else if html.contains(r#"autocomplete="one-time-code""#) {
                let action = absolute(stack, &attribute(&html, "action"));
                let tx = hidden(&html, "tx");
                let code = stack
                    .tenant
                    .last_mfa_code()
                    .expect("an MFA code was issued");
                page = self
                    .post(stack, &action, &[("tx", &tx), ("code", &code)])
                    .await;
                url = action;
            } else if html.contains("document.forms[0].submit()") {
                let action = attribute(&html, "action");
                let fields: Vec<(String, String)> = [
                    "code",
                    "state",
                    "client_info",
                    "session_state",
                    "error",
                    "error_description",
                ]
                .iter()
                .filter(|n| html.contains(&format!(r#"name="{n}""#)))
                .map(|n| ((*n).to_owned(), hidden(&html, n)))
                .collect();
                let form: Vec<(&str, &str)> = fields
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                page = self.post(stack, &action, &form).await;
                url = action;
            } else {
                return (url, page);
            }
        }
        panic!("too many hops, last at {url}: {page:?}");
    }
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn absolute(stack: &Stack, location: &str) -> String {
    if location.starts_with("http") {
        location.to_owned()
    } else if location.starts_with("/users")
        || location.starts_with("/auth")
        || location == "/"
        || location.starts_with("/?")
    {
        // Relative redirects come from the web app; the tenant's are absolute or under /{tenant}.
        if location.starts_with(&format!("/{}", q::TENANT_DOMAIN)) {
            format!("{}{location}", stack.tenant.base_url())
        } else {
            format!("{}{location}", stack.web)
        }
    } else {
        format!("{}{location}", stack.tenant.base_url())
    }
}

fn attribute(html: &str, name: &str) -> String {
    let marker = format!(r#"{name}=""#);
    let start = html.find(&marker).expect("attribute") + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    unescape(&html[start..end])
}

fn hidden(html: &str, name: &str) -> String {
    let marker = format!(r#"name="{name}" value=""#);
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {html}"))
        + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    unescape(&html[start..end])
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
        .replace("&#x2f;", "/")
        .replace("&#47;", "/")
}

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
