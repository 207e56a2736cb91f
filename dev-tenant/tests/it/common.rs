//! Shared helpers: starting a tenant, token requests, driving the login and MFA pages.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use dev_tenant::{Config, DevTenant, quickstart as q};
use reqwest::StatusCode;
use serde_json::Value;

pub(crate) async fn start() -> DevTenant {
    start_with(Config::quickstart()).await
}

pub(crate) async fn start_with(config: Config) -> DevTenant {
    DevTenant::start(config).await.expect("dev tenant starts")
}

/// A client that does not follow redirects (the tests inspect them).
pub(crate) fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// The claims of a JWT, unverified.
pub(crate) fn claims(token: &str) -> Value {
    let part = token.split('.').nth(1).expect("three parts");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url")).expect("json")
}

pub(crate) fn header(token: &str) -> Value {
    let part = token.split('.').next().expect("three parts");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url")).expect("json")
}

/// POSTs a form to the token endpoint; returns status and JSON body.
pub(crate) async fn token(tenant: &DevTenant, form: &[(&str, &str)]) -> (StatusCode, Value) {
    let r = http()
        .post(tenant.token_endpoint())
        .form(form)
        .send()
        .await
        .expect("token request");
    let status = r.status();
    let body: Value = r.json().await.expect("JSON body");
    (status, body)
}

pub(crate) fn assert_entra_error(
    status: StatusCode,
    body: &Value,
    expected_status: u16,
    error: &str,
    code: u64,
) {
    assert_eq!(status.as_u16(), expected_status, "{body}");
    assert_eq!(body["error"], error, "{body}");
    assert_eq!(body["error_codes"][0], code, "{body}");
    let d = body["error_description"].as_str().expect("description");
    assert!(d.starts_with(&format!("AADSTS{code}: ")), "{d}");
    assert!(
        d.contains("\r\nTrace ID: ")
            && d.contains("\r\nCorrelation ID: ")
            && d.contains("\r\nTimestamp: "),
        "{d}"
    );
    for k in ["timestamp", "trace_id", "correlation_id"] {
        assert!(body[k].is_string(), "{k} in {body}");
    }
}

pub(crate) async fn client_credentials(tenant: &DevTenant, scope: &str) -> String {
    let (status, body) = token(
        tenant,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", q::DAEMON_CLIENT_ID),
            ("client_secret", q::DAEMON_CLIENT_SECRET),
            ("scope", scope),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["access_token"].as_str().expect("token").to_owned()
}

/// RFC 7636 Appendix B.
pub(crate) const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub(crate) const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// Reads `name="{name}" value="…"` from a page, unescaping HTML entities.
pub(crate) fn hidden(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(unescape(&html[start..end]))
}

pub(crate) fn form_action(html: &str) -> String {
    let marker = "action=\"";
    let start = html.find(marker).expect("form") + marker.len();
    let end = html[start..].find('"').expect("quote") + start;
    unescape(&html[start..end])
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// A browser: keeps the dev tenant's SSO cookie.
#[derive(Debug, Default)]
pub(crate) struct Browser {
    pub(crate) cookie: Option<String>,
    /// The HTTP client (one trusting an HTTPS tenant's CA); [`http`] when `None`.
    pub(crate) client: Option<reqwest::Client>,
}

/// What the authorize endpoint showed.
#[derive(Debug)]
pub(crate) enum Page {
    Login {
        action: String,
        tx: String,
        html: String,
    },
    Mfa {
        action: String,
        tx: String,
        html: String,
    },
    FormPost {
        action: String,
        fields: Vec<(String, String)>,
    },
    Other {
        status: StatusCode,
        html: String,
        location: Option<String>,
    },
}

impl Browser {
    async fn read(&mut self, r: reqwest::Response) -> Page {
        for c in r.headers().get_all("set-cookie") {
            let c = c.to_str().expect("ascii cookie");
            let pair = c.split(';').next().expect("pair");
            self.cookie = if c.contains("Max-Age=0") {
                None
            } else {
                Some(pair.to_owned())
            };
        }
        let status = r.status();
        let location = r
            .headers()
            .get("location")
            .map(|v| v.to_str().expect("ascii").to_owned());
        let html = r.text().await.expect("body");
        if status == 200 && html.contains("name=\"password\"") {
            return Page::Login {
                action: form_action(&html),
                tx: hidden(&html, "tx").expect("tx"),
                html,
            };
        }
        if status == 200 && html.contains("autocomplete=\"one-time-code\"") {
            return Page::Mfa {
                action: form_action(&html),
                tx: hidden(&html, "tx").expect("tx"),
                html,
            };
        }
        if status == 200 && html.contains("document.forms[0].submit()") {
            let mut fields = Vec::new();
            for name in [
                "code",
                "state",
                "client_info",
                "session_state",
                "error",
                "error_description",
            ] {
                if let Some(v) = hidden(&html, name) {
                    fields.push((name.to_owned(), v));
                }
            }
            return Page::FormPost {
                action: form_action(&html),
                fields,
            };
        }
        Page::Other {
            status,
            html,
            location,
        }
    }

    pub(crate) async fn get(&mut self, url: &str) -> Page {
        let mut req = self.client.clone().unwrap_or_else(http).get(url);
        if let Some(c) = &self.cookie {
            req = req.header("cookie", c);
        }
        let r = req.send().await.expect("GET");
        self.read(r).await
    }

    pub(crate) async fn post(
        &mut self,
        tenant: &DevTenant,
        action: &str,
        form: &[(&str, &str)],
    ) -> Page {
        let mut req = self
            .client
            .clone()
            .unwrap_or_else(http)
            .post(format!("{}{action}", tenant.base_url()))
            .form(form);
        if let Some(c) = &self.cookie {
            req = req.header("cookie", c);
        }
        let r = req.send().await.expect("POST");
        self.read(r).await
    }
}

pub(crate) fn authorize_url(
    tenant: &DevTenant,
    scope: &str,
    state: &str,
    extra: &[(&str, &str)],
) -> String {
    let mut url = url::Url::parse(&tenant.authorize_endpoint()).expect("url");
    url.query_pairs_mut()
        .append_pair("client_id", q::WEB_APP_CLIENT_ID)
        .append_pair("redirect_uri", q::WEB_APP_REDIRECT_URI)
        .append_pair("response_type", "code")
        .append_pair("response_mode", "form_post")
        .append_pair("scope", scope)
        .append_pair("state", state)
        .append_pair("nonce", "nonce-123")
        .append_pair("code_challenge", CHALLENGE)
        .append_pair("code_challenge_method", "S256");
    for (k, v) in extra {
        url.query_pairs_mut().append_pair(k, v);
    }
    url.into()
}

pub(crate) fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Signs in through the pages (password, then MFA when asked) and returns the form_post fields.
pub(crate) async fn sign_in(
    tenant: &DevTenant,
    browser: &mut Browser,
    scope: &str,
    state: &str,
    email: &str,
) -> Vec<(String, String)> {
    sign_in_with(tenant, browser, scope, state, email, &[]).await
}

/// [`sign_in`] with extra authorize parameters (e.g. `claims`).
pub(crate) async fn sign_in_with(
    tenant: &DevTenant,
    browser: &mut Browser,
    scope: &str,
    state: &str,
    email: &str,
    extra: &[(&str, &str)],
) -> Vec<(String, String)> {
    let mut page = browser
        .get(&authorize_url(tenant, scope, state, extra))
        .await;
    for _ in 0..3 {
        page = match page {
            Page::Login { action, tx, .. } => {
                browser
                    .post(
                        tenant,
                        &action,
                        &[
                            ("tx", &tx),
                            ("email", email),
                            ("password", q::USER_PASSWORD),
                        ],
                    )
                    .await
            }
            Page::Mfa { action, tx, .. } => {
                let code = tenant.last_mfa_code().expect("an MFA code was issued");
                browser
                    .post(tenant, &action, &[("tx", &tx), ("code", &code)])
                    .await
            }
            Page::FormPost { action, fields } => {
                assert_eq!(action, q::WEB_APP_REDIRECT_URI);
                return fields;
            }
            Page::Other { status, html, .. } => panic!("unexpected page {status}: {html}"),
        };
    }
    panic!("sign-in did not finish: {page:?}");
}

/// Redeems a code for the web app.
pub(crate) async fn redeem(tenant: &DevTenant, code: &str, scope: &str) -> (StatusCode, Value) {
    token(
        tenant,
        &[
            ("client_id", q::WEB_APP_CLIENT_ID),
            ("redirect_uri", q::WEB_APP_REDIRECT_URI),
            ("scope", scope),
            ("code", code),
            ("code_verifier", VERIFIER),
            ("client_secret", q::WEB_APP_CLIENT_SECRET),
            ("grant_type", "authorization_code"),
            ("client_info", "1"),
        ],
    )
    .await
}

pub(crate) async fn graph_me(tenant: &DevTenant, token: &str) -> reqwest::Response {
    http()
        .get(format!("{}v1.0/me", tenant.graph_url()))
        .bearer_auth(token)
        .send()
        .await
        .expect("graph")
}

/// Polls `check` until it returns true (bounded), for things that happen with time.
pub(crate) async fn poll_until<F, Fut>(mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..200 {
        if check().await {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("condition not reached in time");
}
