use dev_tenant::{Config, HttpsConfig};
use serde_json::Value;

#[tokio::test]
async fn https_with_generated_certificate() {
    let dir = std::env::temp_dir().join(format!("dev-tenant-https-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cert_path = dir.join("ca.pem");
    let mut config = Config::quickstart();
    config.server.https = Some(HttpsConfig::new(Some(cert_path.clone())));
    let tenant = dev_tenant::DevTenant::start(config).await.unwrap();
    assert!(tenant.base_url().starts_with("https://127.0.0.1:"));
    let pem = std::fs::read(&cert_path).unwrap();
    assert_eq!(
        tenant.ca_certificate_pem().unwrap().as_bytes(),
        pem.as_slice()
    );
    let ca = reqwest::Certificate::from_pem(&pem).unwrap();
    let client = reqwest::Client::builder()
        .tls_certs_only([ca])
        .build()
        .unwrap();
    let doc: Value = client
        .get(tenant.discovery_url())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["issuer"], tenant.issuer());
    assert!(doc["issuer"].as_str().unwrap().starts_with("https://"));
    // The same certificate is valid for localhost.
    let localhost = tenant.discovery_url().replace("127.0.0.1", "localhost");
    assert_eq!(client.get(localhost).send().await.unwrap().status(), 200);
    // A client that does not trust the CA refuses the connection.
    let untrusting = reqwest::Client::builder()
        .tls_certs_only([])
        .build()
        .unwrap();
    assert!(untrusting.get(tenant.discovery_url()).send().await.is_err());
    let _ = std::fs::remove_dir_all(&dir);
}
