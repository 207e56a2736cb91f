//! Azure regional endpoints for client credentials (`azure_region`), recorded by a closure
//! transport playing Entra (regional hosts need no DNS here): the token request goes to
//! `{region}.login.microsoft.com`, the client assertion names that endpoint, the telemetry header
//! carries the region, and everything else (user flows, other authority kinds) stays global.
//! Vectors: MSAL.NET `Instance/Discovery/RegionAndMtlsDiscoveryProvider.cs`, msal-common
//! `authority/Authority.ts` (`buildRegionalAuthorityString`).

use std::sync::{Arc, Mutex};

use base64::Engine as _;
use bytes::Bytes;
use msal_lite::http::{HttpError, HttpRequest};
use msal_lite::{
    AuthCodeRequest, AzureRegion, Certificate, ClientCredential, ConfidentialClient, RetryPolicy,
    TokenSource,
};

type Seen = Arc<Mutex<Vec<HttpRequest>>>;

/// Metadata for whatever authority is asked, then tokens.
fn fake_entra(seen: Seen) -> impl msal_lite::http::HttpClient {
    move |request: HttpRequest| {
        let uri = request.uri().clone();
        let body = if uri.path().ends_with("openid-configuration") {
            let host = uri.host().unwrap_or("");
            let tenant = uri.path().split('/').nth(1).unwrap_or("");
            format!(
                r#"{{"issuer":"https://{host}/{tenant}/v2.0","token_endpoint":"https://{host}/{tenant}/oauth2/v2.0/token","authorization_endpoint":"https://{host}/{tenant}/oauth2/v2.0/authorize"}}"#
            )
        } else {
            r#"{"token_type":"Bearer","expires_in":3599,"access_token":"a.eyJ0aWQiOiJ0In0.s"}"#
                .to_owned()
        };
        seen.lock().unwrap().push(request);
        async move {
            http::Response::builder()
                .header("content-type", "application/json")
                .body(Bytes::from(body))
                .map_err(HttpError::other)
        }
    }
}

fn client(
    authority: &str,
    credential: impl Into<ClientCredential>,
    region: AzureRegion,
    seen: &Seen,
) -> ConfidentialClient {
    ConfidentialClient::builder("my-client", authority, credential)
        .http_client(fake_entra(seen.clone()))
        .retry_policy(RetryPolicy::none())
        .azure_region(region)
        .build()
        .unwrap()
}

fn token_posts(seen: &Seen) -> Vec<HttpRequest> {
    seen.lock()
        .unwrap()
        .iter()
        .filter(|r| r.method() == http::Method::POST)
        .cloned()
        .collect()
}

fn telemetry(request: &HttpRequest) -> &str {
    request.headers()["x-client-current-telemetry"]
        .to_str()
        .unwrap()
}

const GRAPH: &str = "https://graph.microsoft.com/.default";

#[tokio::test]
async fn client_credentials_go_to_the_regional_host() {
    let seen = Seen::default();
    let client = client(
        "https://login.microsoftonline.com/contoso.onmicrosoft.com",
        ClientCredential::secret("s"),
        "WestUS2".into(),
        &seen,
    );
    let first = client.acquire_token_for_client([GRAPH]).await.unwrap();
    assert_eq!(first.source(), TokenSource::Network);
    // Cached under the global environment: the next call is a hit.
    let second = client.acquire_token_for_client([GRAPH]).await.unwrap();
    assert_eq!(second.source(), TokenSource::Cache);
    let posts = token_posts(&seen);
    assert_eq!(posts.len(), 1);
    assert_eq!(
        posts[0].uri(),
        "https://westus2.login.microsoft.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
    );
    // Discovery stays global; the region is in the telemetry (configured: outcome 2).
    let discovery = seen.lock().unwrap()[0].uri().clone();
    assert_eq!(discovery.host(), Some("login.microsoftonline.com"));
    assert_eq!(telemetry(&posts[0]), "5|771,2,westus2,,2|,");

    // User flows never use the region: the authorize URL is global.
    let (url, _) = client
        .auth_code_url(AuthCodeRequest::new(["User.Read"], "https://app/r"))
        .await
        .unwrap();
    assert_eq!(url.host_str(), Some("login.microsoftonline.com"));
}

#[tokio::test]
async fn the_client_assertion_names_the_regional_endpoint() {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).unwrap();
    let cert = rcgen::CertificateParams::new(vec!["c".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let certificate = Certificate::from_pem(&cert.pem(), &key.serialize_pem()).unwrap();
    let seen = Seen::default();
    let client = client(
        "https://login.microsoftonline.us/contoso.onmicrosoft.com",
        certificate,
        "usgovvirginia".into(),
        &seen,
    );
    client.acquire_token_for_client([GRAPH]).await.unwrap();
    let posts = token_posts(&seen);
    let endpoint =
        "https://usgovvirginia.login.microsoftonline.us/contoso.onmicrosoft.com/oauth2/v2.0/token";
    assert_eq!(posts[0].uri(), endpoint);
    let assertion = url::form_urlencoded::parse(posts[0].body())
        .find(|(k, _)| k == "client_assertion")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    let payload = assertion.split('.').nth(1).unwrap();
    let claims: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["aud"], endpoint);
}

#[tokio::test]
async fn other_authority_kinds_and_bad_names_stay_global_or_fail() {
    let seen = Seen::default();
    let client = client(
        "https://contoso.ciamlogin.com/",
        ClientCredential::secret("s"),
        "westus2".into(),
        &seen,
    );
    client.acquire_token_for_client([GRAPH]).await.unwrap();
    assert_eq!(
        token_posts(&seen)[0].uri().host(),
        Some("contoso.ciamlogin.com")
    );
    assert_eq!(telemetry(&token_posts(&seen)[0]), "5|771,2,,,|,");
    // A name that is not a region could redirect the credential to another host: refused.
    for bad in ["evil.example/", "west us", ""] {
        let e = ConfidentialClient::builder(
            "id",
            "https://login.microsoftonline.com/t",
            ClientCredential::secret("s"),
        )
        .azure_region(bad)
        .build()
        .unwrap_err();
        assert!(e.to_string().contains("region"), "{e}");
    }
}

/// `AzureRegion::AutoDetect` reads `REGION_NAME`. The environment of a running test binary
/// cannot be changed safely, so this test runs itself again with the variable set.
#[tokio::test]
async fn auto_detect_reads_region_name_else_global() {
    let seen = Seen::default();
    let client = client(
        "https://login.microsoftonline.com/contoso.onmicrosoft.com",
        ClientCredential::secret("s"),
        AzureRegion::AutoDetect,
        &seen,
    );
    client.acquire_token_for_client([GRAPH]).await.unwrap();
    let post = token_posts(&seen).remove(0);
    match std::env::var("REGION_NAME").ok().as_deref() {
        Some("East US") => {
            assert_eq!(post.uri().host(), Some("eastus.login.microsoft.com"));
            assert_eq!(telemetry(&post), "5|771,2,eastus,3,4|,");
        }
        Some(_) => {} // set by the machine: nothing to compare with
        None => {
            // Not detected: the global endpoint, and the failure in the telemetry.
            assert_eq!(post.uri().host(), Some("login.microsoftonline.com"));
            assert_eq!(telemetry(&post), "5|771,2,,1,5|,");
            let child = std::process::Command::new(std::env::current_exe().unwrap())
                .args([
                    "--exact",
                    "azure_region::auto_detect_reads_region_name_else_global",
                ])
                .env("REGION_NAME", "East US")
                .output()
                .unwrap();
            let out = String::from_utf8_lossy(&child.stdout);
            assert!(
                child.status.success(),
                "the run with REGION_NAME set failed: {out}"
            );
            assert!(out.contains("1 passed"), "{out}");
        }
    }
}
