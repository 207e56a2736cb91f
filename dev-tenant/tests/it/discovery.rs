use dev_tenant::quickstart as q;
use serde_json::Value;

use crate::common::{http, start};

#[tokio::test]
async fn discovery_under_domain_and_id_case_insensitive() {
    let tenant = start().await;
    let mut docs = Vec::new();
    for segment in [
        q::TENANT_DOMAIN,
        q::TENANT_ID,
        "CONTOSO.onmicrosoft.COM",
        &q::TENANT_ID.to_uppercase(),
    ] {
        let url = format!(
            "{}/{segment}/v2.0/.well-known/openid-configuration",
            tenant.base_url()
        );
        let r = http().get(url).send().await.unwrap();
        assert_eq!(r.status(), 200, "{segment}");
        docs.push(r.json::<Value>().await.unwrap());
    }
    let doc = &docs[0];
    assert!(docs.iter().all(|d| d == doc));
    assert_eq!(doc["issuer"], tenant.issuer());
    assert_eq!(
        doc["issuer"],
        format!("{}/{}/v2.0", tenant.base_url(), q::TENANT_ID)
    );
    assert_eq!(doc["jwks_uri"], tenant.jwks_uri());
    for k in [
        "authorization_endpoint",
        "token_endpoint",
        "end_session_endpoint",
    ] {
        assert!(
            doc[k].as_str().unwrap().starts_with(&format!(
                "{}/{}/oauth2/v2.0/",
                tenant.base_url(),
                q::TENANT_ID
            )),
            "{k}"
        );
    }
    assert_eq!(
        tenant.authority(),
        format!("{}/contoso.onmicrosoft.com/", tenant.base_url())
    );
    assert_eq!(tenant.graph_url(), format!("{}/", tenant.base_url()));
    assert_eq!(tenant.requests(dev_tenant::Endpoint::Discovery), 4);
}

#[tokio::test]
async fn unknown_tenant_is_entra_error() {
    let tenant = start().await;
    let r = http()
        .get(format!(
            "{}/fabrikam.onmicrosoft.com/v2.0/.well-known/openid-configuration",
            tenant.base_url()
        ))
        .send()
        .await
        .unwrap();
    let status = r.status();
    let body: Value = r.json().await.unwrap();
    crate::common::assert_entra_error(status, &body, 400, "invalid_request", 90002);
}

#[tokio::test]
async fn jwks_has_signing_key_fields() {
    let tenant = start().await;
    let jwks: Value = http()
        .get(tenant.jwks_uri())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    let k = &keys[0];
    for field in ["kty", "use", "kid", "n", "e", "alg", "x5t", "x5c"] {
        assert!(!k[field].is_null(), "{field}");
    }
    assert_eq!(k["kty"], "RSA");
    assert_eq!(k["use"], "sig");
    assert_eq!(k["alg"], "RS256");
    assert_eq!(k["kid"], tenant.current_kid());
    let n = base64::Engine::decode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        k["n"].as_str().unwrap(),
    )
    .unwrap();
    assert_eq!(n.len(), 256, "RSA 2048");
}

#[tokio::test]
async fn dropping_the_handle_stops_the_server() {
    let tenant = start().await;
    let addr = tenant.local_addr();
    drop(tenant);
    crate::common::poll_until(
        || async move { tokio::net::TcpStream::connect(addr).await.is_err() },
    )
    .await;
}

#[tokio::test]
async fn logout_redirects_and_ends_session() {
    let tenant = start().await;
    let mut browser = crate::common::Browser::default();
    crate::common::sign_in(
        &tenant,
        &mut browser,
        "openid profile User.Read",
        "s",
        q::ALICE_EMAIL,
    )
    .await;
    assert!(browser.cookie.is_some());
    let url = format!(
        "{}oauth2/v2.0/logout?post_logout_redirect_uri={}",
        tenant.authority(),
        q::WEB_APP_POST_LOGOUT_REDIRECT_URI
    );
    let page = browser.get(&url).await;
    match page {
        crate::common::Page::Other {
            status, location, ..
        } => {
            assert_eq!(status, 302);
            assert_eq!(
                location.as_deref(),
                Some(q::WEB_APP_POST_LOGOUT_REDIRECT_URI)
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(browser.cookie.is_none(), "the SSO cookie is cleared");
    // An unregistered target is not followed.
    let page = browser
        .get(&format!(
            "{}oauth2/v2.0/logout?post_logout_redirect_uri=https://evil.example/",
            tenant.authority()
        ))
        .await;
    assert!(
        matches!(page, crate::common::Page::Other { status, location: None, .. } if status == 200)
    );
}

#[tokio::test]
async fn public_host_names_the_urls() {
    let mut config = dev_tenant::Config::quickstart();
    config.server.public_host = Some("localhost".to_owned());
    let tenant = crate::common::start_with(config).await;
    assert!(tenant.base_url().starts_with("http://localhost:"));
    assert!(tenant.issuer().starts_with("http://localhost:"));
    let doc: Value = http()
        .get(tenant.discovery_url().replace("localhost", "127.0.0.1"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["issuer"], tenant.issuer());
    let mut bad = dev_tenant::Config::quickstart();
    bad.server.public_host = Some("http://x".to_owned());
    assert!(dev_tenant::DevTenant::start(bad).await.is_err());
}
