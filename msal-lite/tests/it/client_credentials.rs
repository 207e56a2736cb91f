//! Client credentials against a real dev tenant on an ephemeral loopback port: credentials,
//! server errors, retries, timeouts, transport failures, the app-token cache and single-flight.

#![cfg(feature = "reqwest")]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use dev_tenant::{Config, DevTenant, Endpoint, Fault, quickstart as q};
use msal_lite::http::ReqwestHttpClient;
use msal_lite::{
    Certificate, ClientCredential, ClientCredentialsRequest, ConfidentialClient, CorrelationId,
    Error, RetryPolicy, Scopes, SigningAlgorithm, TokenSource,
};

const GRAPH_DEFAULT: &str = "https://graph.microsoft.com/.default";

async fn start(config: Config) -> DevTenant {
    DevTenant::start(config).await.expect("dev tenant starts")
}

/// Retries without waiting, so tests do not sleep (a `Retry-After` is still honoured).
fn fast_retry() -> RetryPolicy {
    RetryPolicy::default().default_delay(Duration::ZERO)
}

fn daemon(tenant: &DevTenant, credential: impl Into<ClientCredential>) -> ConfidentialClient {
    ConfidentialClient::builder(q::DAEMON_CLIENT_ID, tenant.authority(), credential)
        .retry_policy(fast_retry())
        .build()
        .expect("client builds")
}

fn secret_client(tenant: &DevTenant) -> ConfidentialClient {
    daemon(tenant, ClientCredential::secret(q::DAEMON_CLIENT_SECRET))
}

/// A self-signed RSA certificate valid from `not_before` to `not_after` (years):
/// (certificate PEM, PKCS#8 key PEM).
fn certificate(not_before: i32, not_after: i32) -> (String, String) {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["daemon".to_owned()]).unwrap();
    params.not_before = rcgen::date_time_ymd(not_before, 1, 1);
    params.not_after = rcgen::date_time_ymd(not_after, 1, 1);
    let cert = params.self_signed(&key).unwrap();
    (cert.pem(), key.serialize_pem())
}

fn config_with_certificate(cert_pem: &str) -> Config {
    let mut config = Config::quickstart();
    config
        .app_mut(q::DAEMON_CLIENT_ID)
        .expect("the quickstart has a daemon app")
        .certificates
        .push(cert_pem.to_owned());
    config
}

#[tokio::test]
async fn secret_in_body_gets_a_graph_token() {
    let tenant = start(Config::quickstart()).await;
    let client = secret_client(&tenant);
    let result = client
        .acquire_token_for_client([GRAPH_DEFAULT])
        .await
        .unwrap();
    assert_eq!(result.source(), TokenSource::Network);
    assert!(result.token_type().eq_ignore_ascii_case("bearer"));
    assert!(
        result
            .scopes()
            .contains_all(&Scopes::new([GRAPH_DEFAULT]).unwrap())
    );
    assert!(result.expires_on() > SystemTime::now());
    assert_eq!(result.tenant_id(), Some(q::TENANT_ID));
    assert!(result.correlation_id().is_some());
    assert_eq!(result.access_token().secret().split('.').count(), 3);
    assert_eq!(tenant.requests(Endpoint::Token), 1);
    assert_eq!(tenant.requests(Endpoint::Discovery), 1);
}

#[tokio::test]
async fn secret_as_http_basic_gets_a_token() {
    let tenant = start(Config::quickstart()).await;
    let client = daemon(
        &tenant,
        ClientCredential::secret_basic(q::DAEMON_CLIENT_SECRET),
    );
    client
        .acquire_token_for_client([GRAPH_DEFAULT])
        .await
        .unwrap();
    assert_eq!(tenant.requests(Endpoint::Token), 1);
}

#[tokio::test]
async fn wrong_secret_is_a_typed_invalid_client_error_without_retry() {
    let tenant = start(Config::quickstart()).await;
    let client = daemon(&tenant, ClientCredential::secret("not-the-secret"));
    let id = CorrelationId::random();
    let e = client
        .acquire_token_for_client_with(
            ClientCredentialsRequest::new([GRAPH_DEFAULT]).correlation_id(id),
        )
        .await
        .unwrap_err();
    let server = e.server_error().expect("a server error");
    assert_eq!(server.error(), "invalid_client");
    assert!(server.error_codes().contains(&7000215), "{server:?}");
    assert!(!e.is_interaction_required());
    assert!(!e.is_retryable());
    assert_eq!(e.correlation_id(), Some(id));
    assert_eq!(server.correlation_id(), Some(id.to_string().as_str()));
    assert!(!format!("{e} {e:?}").contains("not-the-secret"));
    assert_eq!(tenant.requests(Endpoint::Token), 1);
}

#[tokio::test]
async fn certificate_credential_ps256_and_rs256() {
    let (cert_pem, key_pem) = certificate(2020, 2090);
    let tenant = start(config_with_certificate(&cert_pem)).await;
    for (algorithm, x5c) in [
        (SigningAlgorithm::Ps256, false),
        (SigningAlgorithm::Rs256, true),
    ] {
        let certificate = Certificate::from_pem(&cert_pem, &key_pem)
            .unwrap()
            .with_algorithm(algorithm)
            .with_x5c(x5c);
        let client = daemon(&tenant, certificate);
        let first = client
            .acquire_token_for_client([GRAPH_DEFAULT])
            .await
            .unwrap();
        assert_eq!(first.source(), TokenSource::Network);
        // A second network request signs a new assertion (the tenant rejects a replayed jti).
        let again = client
            .acquire_token_for_client_with(
                ClientCredentialsRequest::new([GRAPH_DEFAULT]).force_refresh(true),
            )
            .await
            .unwrap();
        assert_eq!(again.source(), TokenSource::Network);
    }
    assert_eq!(tenant.requests(Endpoint::Token), 4);
}

#[tokio::test]
async fn unregistered_certificate_is_rejected_by_the_server() {
    let (registered, _) = certificate(2020, 2090);
    let (other_cert, other_key) = certificate(2020, 2090);
    let tenant = start(config_with_certificate(&registered)).await;
    let client = daemon(
        &tenant,
        Certificate::from_pem(&other_cert, &other_key).unwrap(),
    );
    let e = client
        .acquire_token_for_client([GRAPH_DEFAULT])
        .await
        .unwrap_err();
    let server = e.server_error().expect("a server error");
    assert_eq!(server.error(), "invalid_client");
    assert!(server.error_codes().contains(&700027), "{server:?}");
}

#[tokio::test]
async fn expired_certificate_is_refused_before_any_request() {
    let (cert_pem, key_pem) = certificate(2001, 2002);
    let tenant = start(config_with_certificate(&cert_pem)).await;
    let client = daemon(&tenant, Certificate::from_pem(&cert_pem, &key_pem).unwrap());
    let e = client
        .acquire_token_for_client([GRAPH_DEFAULT])
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Credential { .. }), "{e:?}");
    assert_eq!(
        e.to_string(),
        "invalid credential: the certificate has expired"
    );
    assert_eq!(tenant.requests(Endpoint::Token), 0);
}

#[tokio::test]
async fn retries_once_on_injected_503() {
    let tenant = start(Config::quickstart()).await;
    let client = secret_client(&tenant);
    tenant.inject_fault(Endpoint::Token, Fault::status(503).times(1));
    let result = client
        .acquire_token_for_client([GRAPH_DEFAULT])
        .await
        .unwrap();
    assert_eq!(result.source(), TokenSource::Network);
    assert_eq!(tenant.requests(Endpoint::Token), 2);
}

#[tokio::test]
async fn gives_up_after_one_retry_on_repeated_503() {
    let tenant = start(Config::quickstart()).await;
    let client = secret_client(&tenant);
    tenant.inject_fault(Endpoint::Token, Fault::status(503).times(5));
    let e = client
        .acquire_token_for_client([GRAPH_DEFAULT])
        .await
        .unwrap_err();
    assert!(e.is_retryable(), "{e:?}");
    assert_eq!(tenant.requests(Endpoint::Token), 2);
}

/// Issue 17: a 429 is no longer retried (MSAL.NET never retries one; see
/// `msal-lite/src/http/throttle.rs`): the error carries `Retry-After` and the throttle answers
/// the next identical request (tests/throttling.rs).
#[tokio::test]
async fn does_not_retry_429() {
    let tenant = start(Config::quickstart()).await;
    let client = secret_client(&tenant);
    tenant.inject_fault(
        Endpoint::Token,
        Fault::too_many_requests(Duration::from_secs(1)).times(1),
    );
    let e = client
        .acquire_token_for_client([GRAPH_DEFAULT])
        .await
        .unwrap_err();
    assert_eq!(e.retry_after(), Some(Duration::from_secs(1)));
    assert_eq!(tenant.requests(Endpoint::Token), 1);
}

#[tokio::test]
async fn does_not_wait_for_a_retry_after_beyond_the_bound() {
    let tenant = start(Config::quickstart()).await;
    let client = secret_client(&tenant);
    tenant.inject_fault(
        Endpoint::Token,
        Fault::too_many_requests(Duration::from_secs(120)).times(1),
    );
    let e = client
        .acquire_token_for_client([GRAPH_DEFAULT])
        .await
        .unwrap_err();
    assert!(e.is_retryable());
    assert_eq!(e.retry_after(), Some(Duration::from_secs(120)));
    assert_eq!(tenant.requests(Endpoint::Token), 1);
}

#[tokio::test]
async fn no_retry_on_400() {
    let tenant = start(Config::quickstart()).await;
    let client = secret_client(&tenant);
    tenant.inject_fault(Endpoint::Token, Fault::status(400).times(1));
    let e = client
        .acquire_token_for_client([GRAPH_DEFAULT])
        .await
        .unwrap_err();
    assert!(!e.is_retryable(), "{e:?}");
    assert_eq!(tenant.requests(Endpoint::Token), 1);
    // The same for a genuine 400 from the server: a resource the tenant does not know.
    let e = client
        .acquire_token_for_client(["api://unknown-resource/.default"])
        .await
        .unwrap_err();
    assert_eq!(e.server_error().map(|s| s.status()), Some(400), "{e:?}");
    assert_eq!(tenant.requests(Endpoint::Token), 2);
}

#[tokio::test]
async fn times_out_on_injected_latency_without_retrying() {
    let tenant = start(Config::quickstart()).await;
    let transport = ReqwestHttpClient::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let client = ConfidentialClient::builder(
        q::DAEMON_CLIENT_ID,
        tenant.authority(),
        ClientCredential::secret(q::DAEMON_CLIENT_SECRET),
    )
    .http_client(transport)
    .retry_policy(fast_retry())
    .build()
    .unwrap();
    tenant.inject_fault(
        Endpoint::Token,
        Fault::latency(Duration::from_secs(5)).times(1),
    );
    let e = client
        .acquire_token_for_client([GRAPH_DEFAULT])
        .await
        .unwrap_err();
    assert!(e.is_timeout(), "{e:?}");
    assert!(e.correlation_id().is_some());
    assert_eq!(tenant.requests(Endpoint::Token), 1);
    // The fault was for one request: the next one succeeds.
    client
        .acquire_token_for_client([GRAPH_DEFAULT])
        .await
        .unwrap();
}

#[tokio::test]
async fn dropped_connection_is_retried() {
    let tenant = start(Config::quickstart()).await;
    let client = secret_client(&tenant);
    tenant.inject_fault(Endpoint::Token, Fault::drop_connection().times(1));
    client
        .acquire_token_for_client([GRAPH_DEFAULT])
        .await
        .unwrap();
    assert_eq!(tenant.requests(Endpoint::Token), 2);
}

#[tokio::test]
async fn malformed_json_is_its_own_error() {
    let tenant = start(Config::quickstart()).await;
    let client = secret_client(&tenant);
    tenant.inject_fault(Endpoint::Token, Fault::malformed_json().times(1));
    let e = client
        .acquire_token_for_client([GRAPH_DEFAULT])
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::MalformedResponse { .. } | Error::ContentType { .. }
        ),
        "{e:?}"
    );
    assert!(!e.is_retryable());
    assert_eq!(tenant.requests(Endpoint::Token), 1);
}

#[tokio::test]
async fn oversize_response_is_refused() {
    let tenant = start(Config::quickstart()).await;
    let transport = ReqwestHttpClient::builder()
        .max_response_bytes(64)
        .build()
        .unwrap();
    let client = ConfidentialClient::builder(
        q::DAEMON_CLIENT_ID,
        tenant.authority(),
        ClientCredential::secret(q::DAEMON_CLIENT_SECRET),
    )
    .http_client(transport)
    .build()
    .unwrap();
    let e = client
        .acquire_token_for_client([GRAPH_DEFAULT])
        .await
        .unwrap_err();
    assert!(
        matches!(e, Error::ResponseTooLarge { limit: 64, .. }),
        "{e:?}"
    );
}

#[tokio::test]
async fn tls_failure_then_trusting_the_tenant_ca() {
    let mut config = Config::quickstart();
    config.server.https = Some(dev_tenant::HttpsConfig::new(None));
    let tenant = start(config).await;
    assert!(tenant.authority().starts_with("https://"));
    let untrusting = secret_client(&tenant);
    let e = untrusting
        .acquire_token_for_client([GRAPH_DEFAULT])
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Tls { .. }), "{e:?}");
    assert!(!e.is_retryable());

    let ca = tenant.ca_certificate_pem().expect("https tenant has a CA");
    let transport = ReqwestHttpClient::builder()
        .add_root_certificate_pem(ca.as_bytes())
        .build()
        .unwrap();
    let trusting = ConfidentialClient::builder(
        q::DAEMON_CLIENT_ID,
        tenant.authority(),
        ClientCredential::secret(q::DAEMON_CLIENT_SECRET),
    )
    .http_client(transport)
    .build()
    .unwrap();
    trusting
        .acquire_token_for_client([GRAPH_DEFAULT])
        .await
        .unwrap();
}

#[tokio::test]
async fn cache_hit_makes_zero_calls() {
    let tenant = start(Config::quickstart()).await;
    let client = secret_client(&tenant);
    let scopes = Scopes::new([GRAPH_DEFAULT]).unwrap();
    let first = client.acquire_token_for_client(&scopes).await.unwrap();
    let (token_calls, discovery_calls) = (
        tenant.requests(Endpoint::Token),
        tenant.requests(Endpoint::Discovery),
    );
    assert_eq!(token_calls, 1);
    // Also through a clone and with differently cased scopes.
    let clone = client.clone();
    for _ in 0..10 {
        let hit = clone
            .acquire_token_for_client(["HTTPS://graph.microsoft.com/.DEFAULT"])
            .await
            .unwrap();
        assert_eq!(hit.source(), TokenSource::Cache);
        assert_eq!(hit.access_token().secret(), first.access_token().secret());
        assert_eq!(hit.expires_on(), first.expires_on());
    }
    assert_eq!(tenant.requests(Endpoint::Token), token_calls);
    assert_eq!(tenant.requests(Endpoint::Discovery), discovery_calls);
}

#[tokio::test]
async fn hundred_concurrent_callers_make_one_call() {
    let tenant = start(Config::quickstart()).await;
    let client = secret_client(&tenant);
    // Slow the token endpoint so every caller is waiting while the one request is in flight.
    tenant.inject_fault(
        Endpoint::Token,
        Fault::latency(Duration::from_millis(300)).times(1),
    );
    let mut tasks = Vec::new();
    for _ in 0..100 {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            client.acquire_token_for_client([GRAPH_DEFAULT]).await
        }));
    }
    let mut tokens = Vec::new();
    for task in tasks {
        tokens.push(
            task.await
                .unwrap()
                .unwrap()
                .access_token()
                .secret()
                .to_owned(),
        );
    }
    assert!(tokens.iter().all(|t| *t == tokens[0]));
    assert_eq!(tenant.requests(Endpoint::Token), 1);
    assert_eq!(tenant.requests(Endpoint::Discovery), 1);
}

#[tokio::test]
async fn force_refresh_and_claims_bypass_the_cache() {
    let tenant = start(Config::quickstart()).await;
    let client = secret_client(&tenant);
    client
        .acquire_token_for_client([GRAPH_DEFAULT])
        .await
        .unwrap();
    let forced = client
        .acquire_token_for_client_with(
            ClientCredentialsRequest::new([GRAPH_DEFAULT]).force_refresh(true),
        )
        .await
        .unwrap();
    assert_eq!(forced.source(), TokenSource::Network);
    assert_eq!(tenant.requests(Endpoint::Token), 2);
    let claims = r#"{"access_token":{"xms_cc":{"values":["cp1"]}}}"#;
    let with_claims = client
        .acquire_token_for_client_with(
            ClientCredentialsRequest::new([GRAPH_DEFAULT]).claims(claims),
        )
        .await
        .unwrap();
    assert_eq!(with_claims.source(), TokenSource::Network);
    assert_eq!(tenant.requests(Endpoint::Token), 3);
    // The refreshed token is served from the cache afterwards.
    let hit = client
        .acquire_token_for_client([GRAPH_DEFAULT])
        .await
        .unwrap();
    assert_eq!(hit.source(), TokenSource::Cache);
    assert_eq!(
        hit.access_token().secret(),
        with_claims.access_token().secret()
    );
    assert_eq!(tenant.requests(Endpoint::Token), 3);
}

#[tokio::test]
async fn refreshes_inside_the_refresh_margin() {
    let tenant = start(Config::quickstart()).await;
    let offset = Arc::new(AtomicU64::new(0));
    let seen = offset.clone();
    let client = ConfidentialClient::builder(
        q::DAEMON_CLIENT_ID,
        tenant.authority(),
        ClientCredential::secret(q::DAEMON_CLIENT_SECRET),
    )
    .clock(move || SystemTime::now() + Duration::from_secs(seen.load(Ordering::SeqCst)))
    .build()
    .unwrap();
    let first = client
        .acquire_token_for_client([GRAPH_DEFAULT])
        .await
        .unwrap();
    let lifetime = first
        .expires_on()
        .duration_since(SystemTime::now())
        .unwrap()
        .as_secs();
    // Just outside the five-minute margin: still a hit.
    offset.store(lifetime.saturating_sub(400), Ordering::SeqCst);
    let hit = client
        .acquire_token_for_client([GRAPH_DEFAULT])
        .await
        .unwrap();
    assert_eq!(hit.source(), TokenSource::Cache);
    // Inside it: refreshed from the network.
    offset.store(lifetime.saturating_sub(200), Ordering::SeqCst);
    let renewed = client
        .acquire_token_for_client([GRAPH_DEFAULT])
        .await
        .unwrap();
    assert_eq!(renewed.source(), TokenSource::Network);
    assert_eq!(tenant.requests(Endpoint::Token), 2);
}

#[tokio::test]
async fn tenant_override_uses_its_own_partition() {
    let tenant = start(Config::quickstart()).await;
    let client = secret_client(&tenant);
    client
        .acquire_token_for_client([GRAPH_DEFAULT])
        .await
        .unwrap();
    let by_id = client
        .acquire_token_for_client_with(
            ClientCredentialsRequest::new([GRAPH_DEFAULT]).tenant(q::TENANT_ID),
        )
        .await
        .unwrap();
    assert_eq!(by_id.source(), TokenSource::Network);
    assert_eq!(tenant.requests(Endpoint::Token), 2);
    assert_eq!(tenant.requests(Endpoint::Discovery), 2);
    let again = client
        .acquire_token_for_client_with(
            ClientCredentialsRequest::new([GRAPH_DEFAULT]).authority(tenant.authority_by_id()),
        )
        .await
        .unwrap();
    assert_eq!(again.source(), TokenSource::Cache);
    // A repeat by tenant (any case) is a hit on the stack-built partition key: same token.
    let by_id_again = client
        .acquire_token_for_client_with(
            ClientCredentialsRequest::new([GRAPH_DEFAULT]).tenant(q::TENANT_ID.to_uppercase()),
        )
        .await
        .unwrap();
    assert_eq!(by_id_again.source(), TokenSource::Cache);
    assert_eq!(
        by_id_again.access_token().secret(),
        by_id.access_token().secret()
    );
    assert_eq!(tenant.requests(Endpoint::Token), 2);
    // Dot-segments are not tenants (on a CIAM host ".." would otherwise mean the default one).
    for bad in [".", "..", "a/b"] {
        let err = client
            .acquire_token_for_client_with(
                ClientCredentialsRequest::new([GRAPH_DEFAULT]).tenant(bad),
            )
            .await
            .unwrap_err();
        assert!(err.to_string().contains("tenant"), "{bad}: {err}");
    }
    assert_eq!(tenant.requests(Endpoint::Token), 2);
}

#[tokio::test]
async fn assertion_callback_credential() {
    let (cert_pem, key_pem) = certificate(2020, 2090);
    let tenant = start(config_with_certificate(&cert_pem)).await;
    // A federated-credential stand-in: the callback signs with a certificate of its own.
    let signer = Arc::new(ConfidentialClientAssertionSigner::new(&cert_pem, &key_pem));
    let calls = Arc::new(AtomicU64::new(0));
    let seen = calls.clone();
    let credential =
        ClientCredential::from_assertion_callback(move |request: msal_lite::AssertionRequest| {
            let signer = signer.clone();
            seen.fetch_add(1, Ordering::SeqCst);
            async move { signer.sign(request.client_id(), request.token_endpoint()) }
        });
    let client = daemon(&tenant, credential);
    client
        .acquire_token_for_client([GRAPH_DEFAULT])
        .await
        .unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

/// Signs assertions for the callback test with aws-lc-rs directly (as an external federated
/// identity provider would), independently of msal-lite's certificate code.
struct ConfidentialClientAssertionSigner {
    key: aws_lc_rs::signature::RsaKeyPair,
    thumbprint: String,
}

impl ConfidentialClientAssertionSigner {
    fn new(cert_pem: &str, key_pem: &str) -> Self {
        use base64::Engine as _;
        let der = |pem: &str| {
            let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
            base64::engine::general_purpose::STANDARD
                .decode(body)
                .unwrap()
        };
        let cert = der(cert_pem);
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &cert);
        Self {
            key: aws_lc_rs::signature::RsaKeyPair::from_pkcs8(&der(key_pem)).unwrap(),
            thumbprint: base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest),
        }
    }

    fn sign(
        &self,
        client_id: &str,
        audience: &str,
    ) -> Result<msal_lite::ClientAssertion, std::io::Error> {
        use base64::Engine as _;
        let b64 = |v: serde_json::Value| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
        };
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let input = format!(
            "{}.{}",
            b64(serde_json::json!({"alg":"RS256","typ":"JWT","x5t#S256":self.thumbprint})),
            b64(
                serde_json::json!({"aud":audience,"iss":client_id,"sub":client_id,"jti":CorrelationId::random().to_string(),"nbf":now,"exp":now+300})
            )
        );
        let mut sig = vec![0; self.key.public_modulus_len()];
        self.key
            .sign(
                &aws_lc_rs::signature::RSA_PKCS1_SHA256,
                &aws_lc_rs::rand::SystemRandom::new(),
                input.as_bytes(),
                &mut sig,
            )
            .map_err(|_| std::io::Error::other("signing failed"))?;
        Ok(msal_lite::ClientAssertion::new(format!(
            "{input}.{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sig)
        )))
    }
}

#[test]
fn error_and_handles_are_send_sync() {
    fn assert_send_sync<T: Send + Sync + 'static>() {}
    assert_send_sync::<Error>();
    assert_send_sync::<ConfidentialClient>();
    assert_send_sync::<msal_lite::AuthenticationResult>();
}
