//! What `cargo run -p quickstart` starts, over HTTP: the web app's home page, the API's health
//! endpoint, the sign-in redirect to the dev tenant on another site, and a clean stop.

use dev_tenant::quickstart as q;
use quickstart::{Ports, StartError};
use reqwest::StatusCode;
use reqwest::redirect::Policy;

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .expect("a plain HTTP client")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starts_all_three_answers_and_stops() {
    let stack = quickstart::start(Ports::EPHEMERAL).await.unwrap();
    let http = http();
    let web = stack.web_url().to_owned();
    assert_eq!(web, format!("http://localhost:{}", stack.web_addr().port()));
    assert_eq!(
        stack.api_url(),
        format!("http://127.0.0.1:{}", stack.api_addr().port())
    );
    assert!(
        stack.tenant().base_url().starts_with("http://127.0.0.1:"),
        "the tenant is another site than the web app: {}",
        stack.tenant().base_url()
    );

    // The home page, signed out.
    let home = http.get(format!("{web}/")).send().await.unwrap();
    assert_eq!(home.status(), StatusCode::OK);
    let body = home.text().await.unwrap();
    assert!(body.contains(r#"id="signin""#), "{body}");
    assert!(!body.contains(r#"id="welcome""#), "{body}");

    // The API's health endpoint.
    let health = http
        .get(format!("{}/healthz", stack.api_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    let health: serde_json::Value = health.json().await.unwrap();
    assert_eq!(health["status"], "ok");

    // The API refuses a call without a token (it is wired to the tenant's validator).
    let anonymous = http
        .post(format!("{}/updateUserInfo", stack.api_url()))
        .json(&serde_json::json!({"displayName": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);

    // Sign-in goes to the dev tenant's authorize endpoint with the web app's registration.
    let signin = http.get(format!("{web}/auth/signin")).send().await.unwrap();
    assert!(
        signin.status().is_redirection(),
        "status {}",
        signin.status()
    );
    let location = signin.headers()["location"].to_str().unwrap().to_owned();
    let location = url::Url::parse(&location).unwrap();
    // The tenant named by domain or by id (the discovery document names it by id).
    let endpoints = [
        stack.tenant().authorize_endpoint(),
        format!("{}oauth2/v2.0/authorize", stack.tenant().authority_by_id()),
    ];
    assert!(
        endpoints
            .iter()
            .any(|e| location.as_str().starts_with(e.as_str())),
        "{location}"
    );
    let param = |name: &str| {
        location
            .query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    assert_eq!(param("client_id").as_deref(), Some(q::WEB_APP_CLIENT_ID));
    assert_eq!(
        param("redirect_uri"),
        Some(format!("{web}/auth/redirect")),
        "the redirect URI names the port the web app really listens on"
    );
    assert_eq!(param("response_mode").as_deref(), Some("form_post"));
    assert_eq!(param("code_challenge_method").as_deref(), Some("S256"));

    // The tenant answers that request with its login page.
    let login = http.get(location.as_str()).send().await.unwrap();
    assert_eq!(login.status(), StatusCode::OK);
    assert!(login.text().await.unwrap().contains(r#"id="password""#));

    let web_addr = stack.web_addr();
    let api_addr = stack.api_addr();
    stack.shutdown().await.unwrap();
    // shutdown() waits for both servers, so their listeners are closed when it returns.
    for addr in [web_addr, api_addr] {
        assert!(
            tokio::net::TcpStream::connect(addr).await.is_err(),
            "{addr} still accepts connections after shutdown"
        );
    }
}

#[tokio::test]
async fn a_taken_port_is_named_in_the_error() {
    let taken = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = taken.local_addr().unwrap().port();
    let err = quickstart::start(Ports {
        web: port,
        ..Ports::EPHEMERAL
    })
    .await
    .unwrap_err();
    assert!(
        matches!(err, StartError::Bind { part: "web app", addr, .. } if addr.port() == port),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!("the web app cannot listen on 127.0.0.1:{port}")
    );

    let err = quickstart::start(Ports {
        tenant: port,
        ..Ports::EPHEMERAL
    })
    .await
    .unwrap_err();
    assert!(matches!(err, StartError::Tenant(_)), "{err:?}");
}
