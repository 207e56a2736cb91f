//! Request options MSAL has (issue 17 item 6 part B), against a real dev tenant on an
//! ephemeral loopback port: empty claims are no claims, and a missing `expires_in` defaults.
#![cfg(feature = "reqwest")]

use crate::user_support;

use std::sync::{Arc, Mutex};

use dev_tenant::{Config, DevTenant, Endpoint, TokenOptions, quickstart as q};
use msal_lite::http::{HttpClient, HttpRequest, ReqwestHttpClient};
use msal_lite::{
    ClientCredential, ClientCredentialsRequest, ConfidentialClient, OboRequest, RetryPolicy,
    TokenSource, UserAssertion,
};

const GRAPH_DEFAULT: &str = "https://graph.microsoft.com/.default";

/// Form bodies of the token requests, in order.
type Forms = Arc<Mutex<Vec<Vec<(String, String)>>>>;

/// The real transport, recording every token request's form.
fn recording(forms: Forms) -> impl HttpClient {
    let real = Arc::new(ReqwestHttpClient::new().expect("transport builds"));
    move |request: HttpRequest| {
        let real = real.clone();
        if request.uri().path().ends_with("/token") {
            forms.lock().unwrap().push(
                url::form_urlencoded::parse(request.body())
                    .into_owned()
                    .collect(),
            );
        }
        async move { real.execute(request).await }
    }
}

fn sent_claims(forms: &Forms) -> Vec<Option<String>> {
    forms
        .lock()
        .unwrap()
        .iter()
        .map(|form| {
            form.iter()
                .find(|(k, _)| k == "claims")
                .map(|(_, v)| v.clone())
        })
        .collect()
}

/// MSAL ignores empty claims (msal-common `StringUtils.isEmptyObj`): `claims="{}"`, `""` and
/// whitespace neither bypass the cache nor reach the wire. Before, msal-lite sent `{}` and
/// skipped the cache.
#[tokio::test]
async fn empty_claims_use_the_cache_and_are_not_sent() {
    let tenant = DevTenant::start(Config::quickstart()).await.unwrap();
    let forms = Forms::default();
    let daemon = ConfidentialClient::builder(
        q::DAEMON_CLIENT_ID,
        tenant.authority(),
        ClientCredential::secret(q::DAEMON_CLIENT_SECRET),
    )
    .http_client(recording(forms.clone()))
    .retry_policy(RetryPolicy::none())
    .build()
    .unwrap();
    // A miss with `{}`: one request, without a claims parameter.
    let first = daemon
        .acquire_token_for_client_with(ClientCredentialsRequest::new([GRAPH_DEFAULT]).claims("{}"))
        .await
        .unwrap();
    assert_eq!(first.source(), TokenSource::Network);
    assert_eq!(sent_claims(&forms), vec![None]);
    for empty in ["{}", " { } ", "", "  \n"] {
        let hit = daemon
            .acquire_token_for_client_with(
                ClientCredentialsRequest::new([GRAPH_DEFAULT]).claims(empty),
            )
            .await
            .unwrap();
        assert_eq!(hit.source(), TokenSource::Cache, "{empty:?}");
    }
    assert_eq!(tenant.requests(Endpoint::Token), 1);
    // Real claims still bypass the cache and are sent.
    let claims = r#"{"access_token":{"nbf":{"essential":true,"value":"1"}}}"#;
    let fresh = daemon
        .acquire_token_for_client_with(
            ClientCredentialsRequest::new([GRAPH_DEFAULT]).claims(claims),
        )
        .await
        .unwrap();
    assert_eq!(fresh.source(), TokenSource::Network);
    assert_eq!(sent_claims(&forms), vec![None, Some(claims.to_owned())]);

    // On-behalf-of too.
    let api = ConfidentialClient::builder(
        q::API_CLIENT_ID,
        tenant.authority(),
        ClientCredential::secret(q::API_CLIENT_SECRET),
    )
    .http_client(recording(forms.clone()))
    .retry_policy(RetryPolicy::none())
    .build()
    .unwrap();
    let assertion = UserAssertion::new(
        tenant
            .access_token_for(
                q::ALICE_EMAIL,
                q::WEB_APP_CLIENT_ID,
                [q::API_SCOPE_URI],
                TokenOptions::default(),
            )
            .unwrap(),
    );
    api.acquire_token_on_behalf_of(assertion.clone(), ["User.ReadWrite"])
        .await
        .unwrap();
    let hit = api
        .acquire_token_on_behalf_of_with(
            OboRequest::new(assertion, ["User.ReadWrite"]).claims("{}"),
        )
        .await
        .unwrap();
    assert_eq!(hit.source(), TokenSource::Cache);
    assert_eq!(tenant.requests(Endpoint::Token), 3);
}

/// The real transport with `expires_in` removed from every token response.
fn without_expires_in() -> impl HttpClient {
    let real = Arc::new(ReqwestHttpClient::new().expect("transport builds"));
    move |request: HttpRequest| {
        let real = real.clone();
        let token = request.uri().path().ends_with("/token");
        async move {
            let response = real.execute(request).await?;
            if !token {
                return Ok(response);
            }
            let (parts, body) = response.into_parts();
            let mut json: serde_json::Value = serde_json::from_slice(&body).expect("json");
            json.as_object_mut().expect("object").remove("expires_in");
            Ok(http::Response::from_parts(
                parts,
                bytes::Bytes::from(json.to_string()),
            ))
        }
    }
}

/// A token response without `expires_in` (RFC 6749 §5.1: RECOMMENDED) is a token valid for
/// 600 s, as MSAL Python assumes (`token_cache.py` `default_expires_in`), and cached; before,
/// the call failed with a malformed-response error although the server issued a token.
#[tokio::test]
async fn a_missing_expires_in_defaults_to_ten_minutes() {
    let tenant = DevTenant::start(Config::quickstart()).await.unwrap();
    let daemon = ConfidentialClient::builder(
        q::DAEMON_CLIENT_ID,
        tenant.authority(),
        ClientCredential::secret(q::DAEMON_CLIENT_SECRET),
    )
    .http_client(without_expires_in())
    .retry_policy(RetryPolicy::none())
    .build()
    .unwrap();
    let before = std::time::SystemTime::now();
    let token = daemon
        .acquire_token_for_client([GRAPH_DEFAULT])
        .await
        .unwrap();
    let lifetime = token.expires_on().duration_since(before).unwrap().as_secs();
    assert!((599..=601).contains(&lifetime), "{lifetime}");
    let hit = daemon
        .acquire_token_for_client([GRAPH_DEFAULT])
        .await
        .unwrap();
    assert_eq!(hit.source(), TokenSource::Cache);
    assert_eq!(tenant.requests(Endpoint::Token), 1);
}

/// A self-signed certificate (PEM) and a signer for client assertions made with it, standing
/// for a federated credential an app fetches per call (signed with aws-lc-rs directly, not
/// with msal-lite's certificate code).
struct Signer {
    cert_pem: String,
    key: aws_lc_rs::signature::RsaKeyPair,
    thumbprint: String,
}

impl Signer {
    fn new() -> Self {
        use base64::Engine as _;
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).unwrap();
        let params = rcgen::CertificateParams::new(vec!["federated".to_owned()]).unwrap();
        let cert = params.self_signed(&key).unwrap();
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, cert.der());
        Self {
            cert_pem: cert.pem(),
            key: aws_lc_rs::signature::RsaKeyPair::from_pkcs8(&key.serialize_der()).unwrap(),
            thumbprint: base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest),
        }
    }

    fn assertion(&self, client_id: &str, audience: &str) -> msal_lite::ClientAssertion {
        use base64::Engine as _;
        let b64 = |v: serde_json::Value| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let input = format!(
            "{}.{}",
            b64(serde_json::json!({"alg":"RS256","typ":"JWT","x5t#S256":self.thumbprint})),
            b64(serde_json::json!({
                "aud": audience, "iss": client_id, "sub": client_id,
                "jti": msal_lite::CorrelationId::random().to_string(),
                "nbf": now, "exp": now + 300,
            }))
        );
        let mut sig = vec![0; self.key.public_modulus_len()];
        self.key
            .sign(
                &aws_lc_rs::signature::RSA_PKCS1_SHA256,
                &aws_lc_rs::rand::SystemRandom::new(),
                input.as_bytes(),
                &mut sig,
            )
            .unwrap();
        msal_lite::ClientAssertion::new(format!(
            "{input}.{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sig)
        ))
    }
}

fn field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// A per-request client assertion (msal-node's request `clientAssertion`, MSAL.NET
/// `WithClientAssertion`) authenticates that request instead of the client's credential: here
/// the configured secret is wrong, so only the per-request assertion gets tokens.
#[tokio::test]
async fn a_per_request_client_assertion_replaces_the_client_credential() {
    let signer = Signer::new();
    let mut config = Config::quickstart();
    for app in [q::DAEMON_CLIENT_ID, q::API_CLIENT_ID] {
        config
            .app_mut(app)
            .unwrap()
            .certificates
            .push(signer.cert_pem.clone());
    }
    let tenant = DevTenant::start(config).await.unwrap();
    let audience = tenant.token_endpoint();
    let forms = Forms::default();
    let client = |client_id: &str| {
        ConfidentialClient::builder(
            client_id,
            tenant.authority(),
            ClientCredential::secret("rotated-away"),
        )
        .http_client(recording(forms.clone()))
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap()
    };

    let daemon = client(q::DAEMON_CLIENT_ID);
    let e = daemon
        .acquire_token_for_client([GRAPH_DEFAULT])
        .await
        .unwrap_err();
    assert_eq!(e.server_error().map(|s| s.error()), Some("invalid_client"));
    let token = daemon
        .acquire_token_for_client_with(
            ClientCredentialsRequest::new([GRAPH_DEFAULT])
                .client_assertion(signer.assertion(q::DAEMON_CLIENT_ID, &audience)),
        )
        .await
        .unwrap();
    assert_eq!(token.source(), TokenSource::Network);
    {
        let forms = forms.lock().unwrap();
        let last = forms.last().unwrap();
        assert_eq!(
            field(last, "client_assertion_type"),
            Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
        );
        assert!(field(last, "client_assertion").is_some());
        assert_eq!(
            field(last, "client_secret"),
            None,
            "not the client's secret"
        );
    }
    // Cached as any other app token.
    let hit = daemon
        .acquire_token_for_client([GRAPH_DEFAULT])
        .await
        .unwrap();
    assert_eq!(hit.source(), TokenSource::Cache);

    let api = client(q::API_CLIENT_ID);
    let incoming = UserAssertion::new(
        tenant
            .access_token_for(
                q::ALICE_EMAIL,
                q::WEB_APP_CLIENT_ID,
                [q::API_SCOPE_URI],
                TokenOptions::default(),
            )
            .unwrap(),
    );
    let e = api
        .acquire_token_on_behalf_of(incoming.clone(), ["User.ReadWrite"])
        .await
        .unwrap_err();
    assert_eq!(e.server_error().map(|s| s.error()), Some("invalid_client"));
    let obo = api
        .acquire_token_on_behalf_of_with(
            OboRequest::new(incoming, ["User.ReadWrite"])
                .client_assertion(signer.assertion(q::API_CLIENT_ID, &audience)),
        )
        .await
        .unwrap();
    assert_eq!(obo.source(), TokenSource::Network);
    assert_eq!(tenant.requests(Endpoint::Token), 4);
}

/// Silent acquisition too: `claims("{}")` is a cache hit (msal-common `SilentFlowClient` checks
/// `isEmptyObj(request.claims)` before bypassing the cache).
#[tokio::test]
async fn empty_claims_on_silent_are_a_cache_hit() {
    let tenant = DevTenant::start(Config::quickstart()).await.unwrap();
    let client = ConfidentialClient::builder(
        q::WEB_APP_CLIENT_ID,
        tenant.authority(),
        ClientCredential::secret(q::WEB_APP_CLIENT_SECRET),
    )
    .build()
    .unwrap();
    let (url, flow) = client
        .auth_code_url(msal_lite::AuthCodeRequest::new(
            ["User.Read"],
            q::WEB_APP_REDIRECT_URI,
        ))
        .await
        .unwrap();
    let (returned, _) = user_support::Browser::default()
        .sign_in(&tenant, url.as_str(), q::ALICE_EMAIL)
        .await;
    let signed_in = client
        .acquire_token_by_code(&returned.code, &returned.state, flow)
        .await
        .unwrap();
    let account = signed_in.account().unwrap().clone();
    let requests = tenant.requests(Endpoint::Token);
    for empty in ["{}", " ", "{ }"] {
        let hit = client
            .acquire_token_silent_with(
                msal_lite::SilentRequest::new(["User.Read"]).claims(empty),
                &account,
            )
            .await
            .unwrap();
        assert_eq!(hit.source(), TokenSource::Cache, "{empty:?}");
    }
    assert_eq!(tenant.requests(Endpoint::Token), requests);
}
