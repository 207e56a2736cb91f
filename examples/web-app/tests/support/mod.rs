//! Test harness for the web app: the real dev tenant (login and MFA pages), the real API and the
//! web app on ephemeral ports, and a simulated browser: two cookie jars (the tenant's SSO cookie,
//! the web app's session and flow cookies), with the tenant's auto-submitting form_post page
//! submitted by hand.

#![allow(dead_code, unreachable_pub)] // each test binary uses a different part of the harness

use std::collections::BTreeMap;
use std::net::SocketAddr;

use dev_tenant::quickstart as q;
use dev_tenant::{Config as TenantConfig, DevTenant};
use reqwest::StatusCode;

pub struct Stack {
    pub tenant: DevTenant,
    pub web: String,
}

pub async fn serve(router: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    addr
}

pub async fn stack() -> Stack {
    let tenant = DevTenant::start(TenantConfig::quickstart()).await.unwrap();
    let authority = tenant.authority();
    let graph = tenant.graph_url();
    let api_vars = [
        ("AUTHORITY", authority.clone()),
        ("TENANT_ID", q::TENANT_ID.to_owned()),
        ("CLIENT_ID", q::API_CLIENT_ID.to_owned()),
        ("CLIENT_SECRET", q::API_CLIENT_SECRET.to_owned()),
        ("GRAPH_API_ENDPOINT", graph.clone()),
        // The tenant's Conditional Access policy on the API enforces MFA (v2.0 tokens have no
        // `amr` for the API to check).
        ("MFA_POLICY", "conditional-access".to_owned()),
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

pub fn lookup(vars: &[(&str, String)], name: &str) -> Option<String> {
    vars.iter()
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.clone())
}

/// A response as the browser sees it.
#[derive(Debug)]
pub struct Seen {
    pub status: StatusCode,
    pub location: Option<String>,
    pub html: String,
}

/// Two cookie jars and no automatic redirects, so every hop is visible.
#[derive(Default)]
pub struct Browser {
    pub tenant_cookies: BTreeMap<String, String>,
    pub app_cookies: BTreeMap<String, String>,
    /// Every `Set-Cookie` header seen, as sent (name, value and attributes).
    pub set_cookies: Vec<String>,
}

impl Browser {
    pub fn jar(&mut self, url: &str, stack: &Stack) -> &mut BTreeMap<String, String> {
        if url.starts_with(&stack.web) {
            &mut self.app_cookies
        } else {
            &mut self.tenant_cookies
        }
    }

    pub async fn send(
        &mut self,
        stack: &Stack,
        request: reqwest::RequestBuilder,
        url: &str,
    ) -> Seen {
        // Field by field (not `jar()`), so `set_cookies` stays borrowable below.
        let jar = if url.starts_with(&stack.web) {
            &mut self.app_cookies
        } else {
            &mut self.tenant_cookies
        };
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
            self.set_cookies.push(set.to_owned());
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

    pub async fn get(&mut self, stack: &Stack, url: &str) -> Seen {
        let client = no_redirects();
        self.send(stack, client.get(url), url).await
    }

    pub async fn post(&mut self, stack: &Stack, url: &str, form: &[(&str, &str)]) -> Seen {
        let client = no_redirects();
        self.send(stack, client.post(url).form(form), url).await
    }

    /// Follows redirects and the tenant's pages (password, MFA, form_post) until a web-app page
    /// that is not a redirect.
    pub async fn browse(&mut self, stack: &Stack, start: &str) -> (String, Seen) {
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

pub fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

pub fn absolute(stack: &Stack, location: &str) -> String {
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

pub fn attribute(html: &str, name: &str) -> String {
    let marker = format!(r#"{name}=""#);
    let start = html.find(&marker).expect("attribute") + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    unescape(&html[start..end])
}

pub fn hidden(html: &str, name: &str) -> String {
    let marker = format!(r#"name="{name}" value=""#);
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {html}"))
        + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    unescape(&html[start..end])
}

pub fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
        .replace("&#x2f;", "/")
        .replace("&#47;", "/")
}

// ---- Several instances (scale-out tests) ----

/// Starts an API instance against `tenant` with `extra` variables (e.g. `REDIS_URL`,
/// `DATA_KEYS`); returns its address.
pub async fn start_api(tenant: &DevTenant, extra: &[(&str, String)]) -> SocketAddr {
    let mut vars = vec![
        ("AUTHORITY", tenant.authority()),
        ("TENANT_ID", q::TENANT_ID.to_owned()),
        ("CLIENT_ID", q::API_CLIENT_ID.to_owned()),
        ("CLIENT_SECRET", q::API_CLIENT_SECRET.to_owned()),
        ("GRAPH_API_ENDPOINT", tenant.graph_url()),
    ];
    vars.extend(extra.iter().cloned());
    let config = api::Config::from_vars(|k| lookup(&vars, k)).unwrap();
    serve(api::app(&config).await.unwrap()).await
}

/// Starts a web-app instance that calls the API at `api`, with `extra` variables (e.g.
/// `REDIS_URL`, `DATA_KEYS`, `COOKIE_KEY`); returns its base URL `http://localhost:PORT`.
pub async fn start_web_app(
    tenant: &DevTenant,
    api: SocketAddr,
    extra: &[(&str, String)],
) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let web = format!("http://localhost:{}", listener.local_addr().unwrap().port());
    let mut vars = vec![
        ("AUTHORITY", tenant.authority()),
        ("CLIENT_ID", q::WEB_APP_CLIENT_ID.to_owned()),
        ("CLIENT_SECRET", q::WEB_APP_CLIENT_SECRET.to_owned()),
        ("REDIRECT_URI", format!("{web}/auth/redirect")),
        ("POST_LOGOUT_REDIRECT_URI", format!("{web}/")),
        ("GRAPH_API_ENDPOINT", tenant.graph_url()),
        (
            "EDIT_PROFILE_FOR_CLIENT_WEB_APP",
            q::API_SCOPE_URI.to_owned(),
        ),
        ("EDIT_PROFILE_API_ENDPOINT", format!("http://{api}/")),
    ];
    vars.extend(extra.iter().cloned());
    let config = web_app::Config::from_vars(|k| lookup(&vars, k)).unwrap();
    let router = web_app::app(&config).await.unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    web
}

impl Stack {
    /// The same browser talking to another web-app instance (behind one load balancer, the
    /// instances share an origin and so the browser's cookies): later requests go to `web`.
    pub fn route_to(&mut self, web: &str) {
        web.clone_into(&mut self.web);
    }
}
