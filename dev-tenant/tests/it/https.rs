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

/// The real External ID shape: the issuer's host is `{tenant-id}.ciamlogin.com` and apps name
/// the tenant by subdomain (`contoso.ciamlogin.com`); both are in the certificate. Name
/// resolution is pinned to the loopback listener, as a hosts-file entry would do.
#[tokio::test]
async fn ciamlogin_public_host_is_in_urls_and_certificate() {
    use dev_tenant::quickstart as q;
    let tid_host = format!("{}.ciamlogin.com", q::TENANT_ID);
    let sub_host = format!("{}.ciamlogin.com", q::TENANT_SUBDOMAIN);
    let mut config = Config::quickstart();
    config.server.https = Some(HttpsConfig::new(None));
    config.server.public_host = Some(tid_host.clone());
    config.server.certificate_hosts = vec![sub_host.clone()];
    let tenant = dev_tenant::DevTenant::start(config).await.unwrap();
    let port = tenant.local_addr().port();
    assert_eq!(
        tenant.issuer(),
        format!("https://{tid_host}:{port}/{}/v2.0", q::TENANT_ID)
    );
    let ca =
        reqwest::Certificate::from_pem(tenant.ca_certificate_pem().unwrap().as_bytes()).unwrap();
    let client = reqwest::Client::builder()
        .tls_certs_only([ca])
        .resolve(&tid_host, tenant.local_addr())
        .resolve(&sub_host, tenant.local_addr())
        .build()
        .unwrap();
    let doc: Value = client
        .get(format!(
            "https://{sub_host}:{port}/{}.onmicrosoft.com/v2.0/.well-known/openid-configuration",
            q::TENANT_SUBDOMAIN
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["issuer"], tenant.issuer());
    let jwks = doc["jwks_uri"].as_str().unwrap();
    assert!(
        jwks.starts_with(&format!("https://{tid_host}:{port}/")),
        "{jwks}"
    );
    assert_eq!(client.get(jwks).send().await.unwrap().status(), 200);
}
