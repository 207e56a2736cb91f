//! A scripted browser for the dev tenant's login and MFA pages (plain HTTP, no JavaScript),
//! a recording transport, and a movable clock.

#![allow(dead_code, reason = "each test binary uses a different subset")]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use dev_tenant::{DevTenant, quickstart as q};
use msal_lite::http::{HttpClient, HttpRequest, ReqwestHttpClient};

/// What a sign-in brought back to the redirect URI.
#[derive(Debug)]
pub(crate) struct Returned {
    pub(crate) code: String,
    pub(crate) state: String,
    /// The `client_info` Entra returns with the code (asked for with `client_info=1`).
    pub(crate) client_info: Option<String>,
}

/// A browser: follows the login and MFA pages, keeps the tenant's SSO cookie.
#[derive(Debug, Default)]
pub(crate) struct Browser {
    cookie: Option<String>,
    http: Option<reqwest::Client>,
}

enum Page {
    Login { action: String, tx: String },
    Mfa { action: String, tx: String },
    FormPost { action: String, html: String },
    Redirect { location: String },
    Other { status: u16, html: String },
}

fn hidden(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(unescape(&html[start..end]))
}

fn form_action(html: &str) -> Option<String> {
    let marker = "action=\"";
    let start = html.find(marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(unescape(&html[start..end]))
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

impl Browser {
    /// A browser that trusts `ca_pem` (an HTTPS dev tenant's `ca_certificate_pem()`).
    pub(crate) fn trusting(ca_pem: &str) -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .add_root_certificate(reqwest::Certificate::from_pem(ca_pem.as_bytes()).expect("PEM"))
            .build()
            .expect("http client");
        Self {
            cookie: None,
            http: Some(http),
        }
    }

    fn client(&mut self) -> reqwest::Client {
        self.http
            .get_or_insert_with(|| {
                reqwest::Client::builder()
                    .redirect(reqwest::redirect::Policy::none())
                    .build()
                    .expect("http client")
            })
            .clone()
    }

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
        let status = r.status().as_u16();
        let location = r
            .headers()
            .get("location")
            .map(|v| v.to_str().expect("ascii").to_owned());
        let html = r.text().await.expect("body");
        if let Some(location) = location.filter(|_| (300..400).contains(&status)) {
            return Page::Redirect { location };
        }
        if status == 200 && html.contains("name=\"password\"") {
            return Page::Login {
                action: form_action(&html).expect("login form"),
                tx: hidden(&html, "tx").expect("tx"),
            };
        }
        if status == 200 && html.contains("autocomplete=\"one-time-code\"") {
            return Page::Mfa {
                action: form_action(&html).expect("mfa form"),
                tx: hidden(&html, "tx").expect("tx"),
            };
        }
        if status == 200 && html.contains("document.forms[0].submit()") {
            return Page::FormPost {
                action: form_action(&html).expect("form_post form"),
                html,
            };
        }
        Page::Other { status, html }
    }

    async fn get(&mut self, url: &str) -> Page {
        let mut req = self.client().get(url);
        if let Some(c) = &self.cookie {
            req = req.header("cookie", c);
        }
        let r = req.send().await.expect("GET");
        self.read(r).await
    }

    async fn post(&mut self, tenant: &DevTenant, action: &str, form: &[(&str, &str)]) -> Page {
        let url = if action.starts_with("http") {
            action.to_owned()
        } else {
            format!("{}{action}", tenant.base_url())
        };
        let mut req = self.client().post(url).form(form);
        if let Some(c) = &self.cookie {
            req = req.header("cookie", c);
        }
        let r = req.send().await.expect("POST");
        self.read(r).await
    }

    /// Opens `authorize_url`, signs in as `email` (password, then the MFA code when asked) and
    /// returns what the tenant sent back to the redirect URI (form_post or query). The number
    /// of MFA pages seen is returned too.
    pub(crate) async fn sign_in(
        &mut self,
        tenant: &DevTenant,
        authorize_url: &str,
        email: &str,
    ) -> (Returned, u32) {
        let mut mfa_pages = 0;
        let mut page = self.get(authorize_url).await;
        for _ in 0..4 {
            page = match page {
                Page::Login { action, tx } => {
                    self.post(
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
                Page::Mfa { action, tx } => {
                    mfa_pages += 1;
                    let code = tenant.last_mfa_code().expect("an MFA code was issued");
                    self.post(tenant, &action, &[("tx", &tx), ("code", &code)])
                        .await
                }
                Page::FormPost { action, html } => {
                    assert!(action.ends_with("/auth/redirect"), "{action}");
                    let returned = Returned {
                        code: hidden(&html, "code").expect("a code"),
                        state: hidden(&html, "state").expect("the state"),
                        client_info: hidden(&html, "client_info"),
                    };
                    return (returned, mfa_pages);
                }
                Page::Redirect { location } => {
                    let url = url::Url::parse(&location).expect("redirect URL");
                    let get = |name: &str| {
                        url.query_pairs()
                            .find(|(k, _)| k == name)
                            .map(|(_, v)| v.into_owned())
                    };
                    let returned = Returned {
                        code: get("code").unwrap_or_else(|| panic!("no code in {location}")),
                        state: get("state").expect("the state"),
                        client_info: get("client_info"),
                    };
                    return (returned, mfa_pages);
                }
                Page::Other { status, html } => panic!("unexpected page {status}: {html}"),
            };
        }
        panic!("the sign-in did not finish");
    }
}

/// Token-endpoint form bodies sent through a [`recording`] transport.
#[derive(Clone, Default)]
pub(crate) struct Recorded(Arc<Mutex<Vec<Form>>>);

/// One form body as name-value pairs.
pub(crate) type Form = Vec<(String, String)>;

impl Recorded {
    /// The forms POSTed to a token endpoint, in order.
    pub(crate) fn token_forms(&self) -> Vec<Form> {
        self.0.lock().expect("not poisoned").clone()
    }

    /// `name` in the `index`th token request.
    pub(crate) fn field(&self, index: usize, name: &str) -> Option<String> {
        self.token_forms()
            .get(index)?
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    }
}

/// The default reqwest transport, recording every token request's form.
pub(crate) fn recording() -> (impl HttpClient, Recorded) {
    let recorded = Recorded::default();
    let sink = recorded.clone();
    let inner = Arc::new(ReqwestHttpClient::new().expect("transport"));
    let transport = move |request: HttpRequest| {
        if request.uri().path().ends_with("/token") {
            let form: Vec<(String, String)> = url::form_urlencoded::parse(request.body())
                .into_owned()
                .collect();
            sink.0.lock().expect("not poisoned").push(form);
        }
        let inner = inner.clone();
        async move { inner.execute(request).await }
    };
    (transport, recorded)
}

/// A clock that tests move forward.
#[derive(Clone, Default)]
pub(crate) struct Clock(Arc<AtomicU64>);

impl Clock {
    pub(crate) fn advance(&self, by: Duration) {
        self.0.fetch_add(by.as_secs(), Ordering::SeqCst);
    }

    pub(crate) fn as_fn(&self) -> impl Fn() -> SystemTime + Send + Sync + 'static {
        let offset = self.0.clone();
        move || SystemTime::now() + Duration::from_secs(offset.load(Ordering::SeqCst))
    }
}
