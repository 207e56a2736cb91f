//! Secret hygiene: the full quickstart flow (sign in, profile, MFA, edit, sign out) runs with
//! every tracing event at TRACE captured in memory, and no secret seen during the run (client
//! secrets, the password, the MFA code, authorization codes, PKCE verifiers, refresh, access
//! and ID tokens, OBO assertions) appears in any log line.
//!
//! The secrets are collected by a recording proxy that the web app and the API use for the
//! token endpoint and Microsoft Graph: it sees every token request (form bodies) and response
//! (JSON) and every bearer token, exactly what the apps handle.

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use dev_tenant::quickstart as q;
use dev_tenant::{Config as TenantConfig, DevTenant};
use support::{Browser, Stack, hidden, lookup, serve};

/// Every formatted log line of this test binary (one global subscriber, TRACE, no timestamps:
/// a timestamp's digits could collide with a six-digit MFA code).
fn logs() -> &'static Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let sink = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .without_time()
            .with_writer(move || Capture(sink.clone()))
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");
        buffer
    })
}

struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// What the proxy saw, and where it forwards to.
#[derive(Clone)]
struct Proxy {
    tenant: String,
    own: Arc<OnceLock<String>>,
    seen: Arc<Mutex<Vec<(String, String)>>>,
}

const FORM_SECRETS: [&str; 7] = [
    "client_secret",
    "code",
    "code_verifier",
    "refresh_token",
    "assertion",
    "client_assertion",
    "password",
];
const JSON_SECRETS: [&str; 3] = ["access_token", "refresh_token", "id_token"];

impl Proxy {
    fn record(&self, kind: &str, value: &str) {
        if !value.is_empty() {
            self.seen
                .lock()
                .unwrap()
                .push((kind.to_owned(), value.to_owned()));
        }
    }

    fn record_form(&self, body: &[u8]) {
        if let Ok(params) = dev_tenant::parse::parse_form(body) {
            for (name, value) in params.iter() {
                if FORM_SECRETS.contains(&name) {
                    self.record(name, value);
                }
            }
        }
    }

    fn record_json(&self, body: &[u8]) {
        if let Ok(serde_json::Value::Object(map)) = serde_json::from_slice(body) {
            for name in JSON_SECRETS {
                if let Some(value) = map.get(name).and_then(|v| v.as_str()) {
                    self.record(name, value);
                }
            }
        }
    }
}

async fn forward(
    State(proxy): State<Proxy>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    if let Some(bearer) = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    {
        proxy.record("bearer", bearer);
    }
    proxy.record_form(&body);
    let client = support::no_redirects();
    let mut request = client.request(method, format!("{}{path}", proxy.tenant));
    for (name, value) in &headers {
        if name != "host" && name != "content-length" {
            request = request.header(name, value);
        }
    }
    let upstream = request.body(body).send().await.expect("the tenant answers");
    let status = upstream.status();
    let mut response = Response::builder().status(status);
    for (name, value) in upstream.headers() {
        if name != "content-length" && name != "transfer-encoding" && name != "connection" {
            response = response.header(name, value);
        }
    }
    let bytes = upstream.bytes().await.expect("a body");
    proxy.record_json(&bytes);
    let bytes = if path.contains("openid-configuration") && status == StatusCode::OK {
        // Only the token endpoint moves to the proxy: the issuer and the browser-facing
        // endpoints stay the tenant's, so validation and the login pages are unchanged.
        let mut doc: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        let token = doc["token_endpoint"].as_str().unwrap().to_owned();
        let own = proxy.own.get().unwrap();
        doc["token_endpoint"] = token.replace(&proxy.tenant, own).into();
        Bytes::from(doc.to_string())
    } else {
        bytes
    };
    response.body(Body::from(bytes)).unwrap()
}

/// The quickstart stack with the web app and the API talking to the tenant's token endpoint
/// and to Graph through the recording proxy.
async fn proxied_stack() -> (Stack, Proxy) {
    proxied_stack_with_secret(q::WEB_APP_CLIENT_SECRET).await
}

/// [`proxied_stack`] with the web app configured with `web_secret` as its client secret.
async fn proxied_stack_with_secret(web_secret: &str) -> (Stack, Proxy) {
    let tenant = DevTenant::start(TenantConfig::quickstart()).await.unwrap();
    let proxy = Proxy {
        tenant: tenant.base_url().trim_end_matches('/').to_owned(),
        own: Arc::new(OnceLock::new()),
        seen: Arc::new(Mutex::new(Vec::new())),
    };
    let router = axum::Router::new()
        .fallback(forward)
        .with_state(proxy.clone());
    let proxy_addr = serve(router).await;
    let own = format!("http://{proxy_addr}");
    proxy.own.set(own.clone()).unwrap();
    let authority = tenant.authority().replace(&proxy.tenant, &own);
    let graph = format!("{own}/");

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

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let web = format!("http://localhost:{}", listener.local_addr().unwrap().port());
    let web_vars = [
        ("AUTHORITY", authority),
        ("CLIENT_ID", q::WEB_APP_CLIENT_ID.to_owned()),
        ("CLIENT_SECRET", web_secret.to_owned()),
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
    (Stack { tenant, web }, proxy)
}

/// Where `secret` occurs in `text` as a whole value (not inside a longer run of the same kind
/// of characters, so a six-digit code does not match inside a longer number).
fn leaks(text: &str, secret: &str) -> bool {
    let token_char = |c: char| c.is_ascii_alphanumeric() || "-_.~+/=".contains(c);
    text.match_indices(secret).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + secret.len()..].chars().next();
        !before.is_some_and(token_char) || !after.is_some_and(token_char)
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quickstart_flow_at_trace_logs_no_secret() {
    let logs = logs();
    let (stack, proxy) = proxied_stack().await;
    let mut browser = Browser::default();

    // Sign in, view the ID token claims and the Graph profile.
    let (_, page) = browser.browse(&stack, "/auth/signin").await;
    assert!(
        page.html.contains("Welcome, Alice Example"),
        "{}",
        page.html
    );
    browser.browse(&stack, "/users/id").await;
    let (_, profile) = browser.browse(&stack, "/users/gatedUpdateProfile").await;
    assert!(profile.html.contains("Alice Example"), "{}", profile.html);
    // Edit: MFA step-up, then the form, then save through the API (OBO to Graph).
    let (_, form) = browser.browse(&stack, "/users/updateProfile").await;
    let mfa_code = stack.tenant.last_mfa_code().expect("editing asked for MFA");
    let csrf = hidden(&form.html, "csrf_token");
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
    assert_eq!(
        stack.tenant.user(q::ALICE_EMAIL).unwrap().display_name,
        "Ada Lovelace"
    );
    // Sign out.
    let out = browser
        .post(
            &stack,
            &format!("{}/auth/signout", stack.web),
            &[("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(out.status, StatusCode::SEE_OTHER, "{}", out.html);

    // Every kind of secret was really seen, so the check below has something to find.
    let mut secrets: Vec<(String, String)> = proxy.seen.lock().unwrap().clone();
    for kind in [
        "client_secret",
        "code",
        "code_verifier",
        "refresh_token",
        "assertion",
        "access_token",
        "id_token",
        "bearer",
    ] {
        assert!(
            secrets.iter().any(|(k, _)| k == kind),
            "no {kind} was seen during the run"
        );
    }
    for (kind, value) in [
        ("web app secret", q::WEB_APP_CLIENT_SECRET),
        ("api secret", q::API_CLIENT_SECRET),
        ("daemon secret", q::DAEMON_CLIENT_SECRET),
        ("password", q::USER_PASSWORD),
        ("mfa code", mfa_code.as_str()),
    ] {
        secrets.push((kind.to_owned(), value.to_owned()));
    }
    // JWTs also leak by their signature alone (a log that truncates the token).
    let signatures: Vec<(String, String)> = secrets
        .iter()
        .filter_map(|(kind, value)| {
            let parts: Vec<&str> = value.split('.').collect();
            (parts.len() == 3).then(|| (format!("{kind} signature"), parts[2].to_owned()))
        })
        .collect();
    secrets.extend(signatures);

    let text = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
    assert!(
        text.lines().count() > 20,
        "the subscriber captured the run:\n{text}"
    );
    let mut found = Vec::new();
    for (kind, secret) in &secrets {
        // The one deliberate exception: the dev tenant prints the MFA code it "sends", since a
        // developer running it locally has no phone to receive it. It is a dev-tenant event
        // (target `dev_tenant::login`), never one of the apps'.
        let deliberate = |line: &&str| {
            kind == "mfa code"
                && line
                    .contains("dev_tenant::login: dev-tenant one-time MFA code (development only)")
        };
        for line in text
            .lines()
            .filter(|line| !deliberate(line) && leaks(line, secret))
        {
            found.push(format!("{kind} in: {line}"));
        }
    }
    found.sort();
    found.dedup();
    assert!(found.is_empty(), "secrets in logs:\n{}", found.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_sign_in_names_no_secret_in_its_page_or_logs() {
    let logs = logs();
    // A wrong client secret: the tenant refuses the code redemption (invalid_client).
    let wrong = "wrong-web-app-secret-0f9e8d";
    let (stack, proxy) = proxied_stack_with_secret(wrong).await;
    let mut browser = Browser::default();
    let (_, page) = browser.browse(&stack, "/auth/signin").await;
    assert!(
        page.status.is_client_error() || page.status.is_server_error(),
        "{}: {}",
        page.status,
        page.html
    );
    let seen = proxy.seen.lock().unwrap().clone();
    let code = seen
        .iter()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.clone())
        .expect("the code was sent to the token endpoint");
    let verifier = seen
        .iter()
        .find(|(k, _)| k == "code_verifier")
        .map(|(_, v)| v.clone())
        .expect("the PKCE verifier was sent");
    let text = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
    for secret in [wrong, code.as_str(), verifier.as_str(), q::USER_PASSWORD] {
        assert!(
            !leaks(&page.html, secret),
            "error page shows a secret:\n{}",
            page.html
        );
        let lines: Vec<&str> = text.lines().filter(|l| leaks(l, secret)).collect();
        assert!(lines.is_empty(), "secret in logs:\n{}", lines.join("\n"));
    }
}

#[test]
fn debug_of_credentials_and_configs_is_redacted() {
    let secret = "s3cr3t-value-for-debug";
    let debug = [
        format!("{:?}", msal_lite::ClientCredential::secret(secret)),
        format!("{:?}", msal_lite::UserAssertion::new(secret)),
        format!("{:?}", msal_lite::schema::CacheSecret::new(secret)),
        format!(
            "{:?}",
            web_app::Config::from_vars(|k| lookup(
                &[
                    ("AUTHORITY", "https://login.example/t/v2.0".to_owned()),
                    ("CLIENT_ID", q::WEB_APP_CLIENT_ID.to_owned()),
                    ("CLIENT_SECRET", secret.to_owned()),
                    (
                        "REDIRECT_URI",
                        "http://localhost:3000/auth/redirect".to_owned()
                    ),
                    (
                        "EDIT_PROFILE_API_ENDPOINT",
                        "http://localhost:3001/".to_owned()
                    ),
                    (
                        "EDIT_PROFILE_FOR_CLIENT_WEB_APP",
                        q::API_SCOPE_URI.to_owned()
                    ),
                ],
                k
            ))
            .unwrap()
        ),
        format!(
            "{:?}",
            api::Config::from_vars(|k| lookup(
                &[
                    ("AUTHORITY", "https://login.example/t/v2.0".to_owned()),
                    ("TENANT_ID", q::TENANT_ID.to_owned()),
                    ("CLIENT_ID", q::API_CLIENT_ID.to_owned()),
                    ("CLIENT_SECRET", secret.to_owned()),
                ],
                k
            ))
            .unwrap()
        ),
    ];
    for text in debug {
        assert!(!text.contains(secret), "{text}");
        assert!(text.contains("redacted"), "{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_error_cannot_forge_log_lines() {
    let logs = logs();
    let (stack, _proxy) = proxied_stack().await;
    let mut browser = Browser::default();
    let start = browser
        .get(&stack, &format!("{}/auth/signin", stack.web))
        .await;
    let state = url::Url::parse(&start.location.unwrap())
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    // CR/LF in both fields would start a new, forged log line if logged as they are.
    let forged = "FORGED-LINE-7f3a INFO web_app: signed in user=admin";
    let page = browser
        .post(
            &stack,
            &format!("{}/auth/redirect", stack.web),
            &[
                ("error", &format!("server_error\r\n{forged}")),
                ("error_description", &format!("x\n{forged}")),
                ("state", &state),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    let text = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
    assert!(
        text.contains("FORGED-LINE-7f3a"),
        "the error was logged (escaped):\n{text}"
    );
    let forged_lines: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("FORGED-LINE-7f3a"))
        .collect();
    assert!(forged_lines.is_empty(), "forged log lines:\n{text}");
}
