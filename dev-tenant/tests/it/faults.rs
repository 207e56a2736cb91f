use std::time::{Duration, Instant};

use dev_tenant::{Endpoint, Fault, quickstart as q};
use serde_json::Value;

use crate::common::{http, start};

fn cc_form() -> [(&'static str, &'static str); 4] {
    [
        ("grant_type", "client_credentials"),
        ("client_id", q::DAEMON_CLIENT_ID),
        ("client_secret", q::DAEMON_CLIENT_SECRET),
        ("scope", "https://graph.microsoft.com/.default"),
    ]
}

async fn post_token(tenant: &dev_tenant::DevTenant) -> reqwest::Result<reqwest::Response> {
    http()
        .post(tenant.token_endpoint())
        .form(&cc_form())
        .send()
        .await
}

#[tokio::test]
async fn status_fault_for_n_requests_then_normal() {
    let tenant = start().await;
    tenant.inject_fault(Endpoint::Token, Fault::status(503).times(2));
    for _ in 0..2 {
        let r = post_token(&tenant).await.unwrap();
        assert_eq!(r.status(), 503);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"], "temporarily_unavailable");
    }
    assert_eq!(post_token(&tenant).await.unwrap().status(), 200);
    assert_eq!(tenant.requests(Endpoint::Token), 3);
    tenant.inject_fault(Endpoint::Token, Fault::status(500).times(1));
    assert_eq!(post_token(&tenant).await.unwrap().status(), 500);
}

#[tokio::test]
async fn too_many_requests_has_retry_after() {
    let tenant = start().await;
    tenant.inject_fault(
        Endpoint::Token,
        Fault::too_many_requests(Duration::from_secs(7)),
    );
    for _ in 0..3 {
        let r = post_token(&tenant).await.unwrap();
        assert_eq!(r.status(), 429);
        assert_eq!(r.headers()["retry-after"], "7");
    }
    tenant.clear_faults(Endpoint::Token);
    assert_eq!(post_token(&tenant).await.unwrap().status(), 200);
}

#[tokio::test]
async fn malformed_json() {
    let tenant = start().await;
    tenant.inject_fault(Endpoint::Jwks, Fault::malformed_json().times(1));
    let r = http().get(tenant.jwks_uri()).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.json::<Value>().await.is_err());
    assert!(
        http()
            .get(tenant.jwks_uri())
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn truncated_body() {
    let tenant = start().await;
    tenant.inject_fault(Endpoint::Discovery, Fault::truncated_body().times(1));
    let r = http().get(tenant.discovery_url()).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.bytes().await.is_err(), "the body ends early");
    assert!(
        http()
            .get(tenant.discovery_url())
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn dropped_connection() {
    let tenant = start().await;
    tenant.inject_fault(Endpoint::Token, Fault::drop_connection().times(1));
    assert!(post_token(&tenant).await.is_err(), "no response at all");
    assert_eq!(post_token(&tenant).await.unwrap().status(), 200);
    assert_eq!(tenant.requests(Endpoint::Token), 2);
}

#[tokio::test]
async fn added_latency() {
    let tenant = start().await;
    tenant.inject_fault(
        Endpoint::GraphMe,
        Fault::latency(Duration::from_millis(150)).times(1),
    );
    let started = Instant::now();
    let r = http()
        .get(format!("{}v1.0/me", tenant.graph_url()))
        .send()
        .await
        .unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(150),
        "the server waits at least the injected latency"
    );
    assert_eq!(r.status(), 401, "then answers normally");
}

#[tokio::test]
async fn graph_faults_use_graph_error_shape() {
    let tenant = start().await;
    tenant.inject_fault(Endpoint::GraphMe, Fault::status(503).times(1));
    let r = http()
        .get(format!("{}v1.0/me", tenant.graph_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "serviceNotAvailable"
    );
}

#[tokio::test]
async fn faults_through_the_admin_api() {
    let tenant = start().await;
    let admin = format!("{}/_admin/faults", tenant.base_url());
    let r = http()
        .post(&admin)
        .body(r#"{"endpoint":"token","kind":"status","status":503}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(post_token(&tenant).await.unwrap().status(), 503);
    assert_eq!(
        post_token(&tenant).await.unwrap().status(),
        503,
        "until cleared"
    );
    let listed: Value = http()
        .get(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["token"][0]["kind"], "status");
    assert_eq!(
        http()
            .delete(format!("{admin}?endpoint=token"))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(post_token(&tenant).await.unwrap().status(), 200);
    for bad in [
        r#"{"endpoint":"nope","kind":"status","status":503}"#,
        r#"{"endpoint":"token","kind":"status","status":200}"#,
        r#"{"endpoint":"token","kind":"explode"}"#,
        "{",
    ] {
        assert_eq!(
            http().post(&admin).body(bad).send().await.unwrap().status(),
            400,
            "{bad}"
        );
    }
}
