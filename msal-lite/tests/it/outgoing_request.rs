//! The token request msal-lite sends, captured by a closure transport (no server): grant, scope,
//! credential, claims, headers, and the certificate assertion's `aud`.

use std::sync::{Arc, Mutex};

use base64::Engine as _;
use bytes::Bytes;
use msal_lite::http::{HttpError, HttpRequest};
use msal_lite::{
    Certificate, ClientCredential, ClientCredentialsRequest, ConfidentialClient, CorrelationId,
    RetryPolicy, TokenSource,
};

const AUTHORITY: &str = "https://login.microsoftonline.com/contoso.onmicrosoft.com";
const TOKEN_ENDPOINT: &str =
    "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token";

type Seen = Arc<Mutex<Vec<HttpRequest>>>;

/// A transport playing Entra: the metadata document, then a token.
fn fake_entra(seen: Seen) -> impl msal_lite::http::HttpClient {
    move |request: HttpRequest| {
        let body = if request.uri().path().ends_with("openid-configuration") {
            format!(
                r#"{{"issuer":"https://login.microsoftonline.com/tid/v2.0","token_endpoint":"{TOKEN_ENDPOINT}"}}"#
            )
        } else {
            r#"{"token_type":"Bearer","expires_in":"3599","ext_expires_in":3599,"access_token":"header.eyJ0aWQiOiJ0aWQtZnJvbS10b2tlbiJ9.sig"}"#.to_owned()
        };
        seen.lock().unwrap().push(request);
        async move {
            http::Response::builder()
                .header("content-type", "application/json; charset=utf-8")
                .body(Bytes::from(body))
                .map_err(HttpError::other)
        }
    }
}

fn form(request: &HttpRequest) -> Vec<(String, String)> {
    url::form_urlencoded::parse(request.body())
        .into_owned()
        .collect()
}

fn field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn client(credential: impl Into<ClientCredential>, seen: &Seen) -> ConfidentialClient {
    ConfidentialClient::builder("my-client", AUTHORITY, credential)
        .http_client(fake_entra(seen.clone()))
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap()
}

#[tokio::test]
async fn client_credentials_request_with_secret_and_claims() {
    let seen: Seen = Arc::default();
    let client = client(ClientCredential::secret("s3cret"), &seen);
    let id = CorrelationId::random();
    let claims = r#"{"access_token":{"acrs":{"essential":true,"value":"c1"}}}"#;
    let result = client
        .acquire_token_for_client_with(
            ClientCredentialsRequest::new(["https://graph.microsoft.com/.default"])
                .claims(claims)
                .correlation_id(id),
        )
        .await
        .unwrap();
    assert_eq!(result.source(), TokenSource::Network);
    assert_eq!(result.tenant_id(), Some("tid-from-token"));
    assert_eq!(result.correlation_id(), Some(id));

    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 2);
    assert_eq!(
        seen[0].uri(),
        "https://login.microsoftonline.com/contoso.onmicrosoft.com/v2.0/.well-known/openid-configuration"
    );
    let token = &seen[1];
    assert_eq!(token.method(), http::Method::POST);
    assert_eq!(token.uri(), TOKEN_ENDPOINT);
    assert_eq!(
        token.headers()["content-type"],
        "application/x-www-form-urlencoded;charset=utf-8"
    );
    assert_eq!(
        token.headers()["client-request-id"],
        id.to_string().as_str()
    );
    assert_eq!(token.headers()["return-client-request-id"], "true");
    assert_eq!(token.headers()["x-ms-lib-capability"], "retry-after, h429");
    assert!(token.headers().get("authorization").is_none());
    let form = form(token);
    assert_eq!(field(&form, "client_id"), Some("my-client"));
    assert_eq!(field(&form, "grant_type"), Some("client_credentials"));
    assert_eq!(
        field(&form, "scope"),
        Some("https://graph.microsoft.com/.default")
    );
    assert_eq!(field(&form, "client_secret"), Some("s3cret"));
    assert_eq!(field(&form, "claims"), Some(claims));
    assert_eq!(field(&form, "client_assertion"), None);
}

#[tokio::test]
async fn certificate_assertion_targets_the_token_endpoint() {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).unwrap();
    let cert = rcgen::CertificateParams::new(vec!["c".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let certificate = Certificate::from_pem(&cert.pem(), &key.serialize_pem()).unwrap();
    let thumbprint = certificate.thumbprint_sha256().to_owned();
    let seen: Seen = Arc::default();
    let client = client(certificate, &seen);
    client
        .acquire_token_for_client(["api://my-api/.default"])
        .await
        .unwrap();
    let seen = seen.lock().unwrap();
    let form = form(&seen[1]);
    assert_eq!(
        field(&form, "client_assertion_type"),
        Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
    );
    assert_eq!(field(&form, "client_secret"), None);
    let assertion = field(&form, "client_assertion").unwrap();
    let decode = |part: &str| -> serde_json::Value {
        serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(part)
                .unwrap(),
        )
        .unwrap()
    };
    let mut parts = assertion.split('.');
    let header = decode(parts.next().unwrap());
    let claims = decode(parts.next().unwrap());
    assert_eq!(header["alg"], "PS256");
    assert_eq!(header["x5t#S256"], thumbprint.as_str());
    assert_eq!(claims["aud"], TOKEN_ENDPOINT);
    assert_eq!(claims["iss"], "my-client");
    assert_eq!(claims["sub"], "my-client");
    let (nbf, exp) = (
        claims["nbf"].as_u64().unwrap(),
        claims["exp"].as_u64().unwrap(),
    );
    assert!(exp > nbf && exp - nbf <= 600);
}

#[tokio::test]
async fn basic_auth_puts_the_secret_in_the_header_only() {
    let seen: Seen = Arc::default();
    let client = client(ClientCredential::secret_basic("s3cret"), &seen);
    client
        .acquire_token_for_client(["api://my-api/.default"])
        .await
        .unwrap();
    let seen = seen.lock().unwrap();
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("my-client:s3cret")
    );
    assert_eq!(seen[1].headers()["authorization"], expected.as_str());
    assert_eq!(field(&form(&seen[1]), "client_secret"), None);
}

#[tokio::test]
async fn invalid_inputs_fail_before_any_request() {
    let seen: Seen = Arc::default();
    let client = client(ClientCredential::secret("s"), &seen);
    let e = client
        .acquire_token_for_client(["bad\"scope"])
        .await
        .unwrap_err();
    assert!(matches!(e, msal_lite::Error::InvalidScope { .. }));
    let e = client
        .acquire_token_for_client_with(ClientCredentialsRequest::new(["a"]).tenant("../x"))
        .await
        .unwrap_err();
    assert!(matches!(e, msal_lite::Error::InvalidAuthority { .. }));
    assert!(seen.lock().unwrap().is_empty());
    let e = ConfidentialClient::builder(" ", AUTHORITY, ClientCredential::secret("s"))
        .http_client(fake_entra(seen.clone()))
        .build()
        .unwrap_err();
    assert!(matches!(e, msal_lite::Error::Config { .. }));
}

#[tokio::test]
async fn client_capabilities_are_merged_into_every_claims_parameter() {
    let seen: Seen = Arc::default();
    let client = ConfidentialClient::builder("my-client", AUTHORITY, ClientCredential::secret("s"))
        .http_client(fake_entra(seen.clone()))
        .retry_policy(RetryPolicy::none())
        .client_capabilities(["cp1"])
        .build()
        .unwrap();

    // Capabilities alone are sent (as msal-js does for client credentials)...
    client
        .acquire_token_for_client(["https://graph.microsoft.com/.default"])
        .await
        .unwrap();
    // ...and merged into a claims challenge.
    client
        .acquire_token_for_client_with(
            ClientCredentialsRequest::new(["https://graph.microsoft.com/.default"])
                .claims(r#"{"access_token":{"nbf":{"essential":true,"value":"1701477303"}}}"#),
        )
        .await
        .unwrap();

    let seen = seen.lock().unwrap();
    let token_requests: Vec<_> = seen
        .iter()
        .filter(|r| r.uri().path().ends_with("/token"))
        .collect();
    assert_eq!(token_requests.len(), 2);
    let first = form(token_requests[0]);
    assert_eq!(
        field(&first, "claims"),
        Some(r#"{"access_token":{"xms_cc":{"values":["cp1"]}}}"#)
    );
    let second = form(token_requests[1]);
    let merged: serde_json::Value =
        serde_json::from_str(field(&second, "claims").unwrap()).unwrap();
    assert_eq!(
        merged,
        serde_json::json!({"access_token":{"nbf":{"essential":true,"value":"1701477303"},"xms_cc":{"values":["cp1"]}}})
    );
}

#[test]
fn an_empty_client_capability_is_a_configuration_error() {
    let err = ConfidentialClient::builder("my-client", AUTHORITY, ClientCredential::secret("s"))
        .client_capabilities(["cp1", " "])
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("capability"), "{err}");
}
