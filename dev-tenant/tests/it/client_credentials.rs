use aws_lc_rs::rsa::KeyPair as RsaKeyPair;
use aws_lc_rs::signature;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use dev_tenant::{Config, DevTenant, quickstart as q};
use serde_json::{Value, json};

use crate::common::{
    assert_entra_error, claims, client_credentials, http, start, start_with, token,
};

#[tokio::test]
async fn secret_in_body_issues_app_token_with_roles() {
    let tenant = start().await;
    let (status, body) = token(
        &tenant,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", q::DAEMON_CLIENT_ID),
            ("client_secret", q::DAEMON_CLIENT_SECRET),
            ("scope", "https://graph.microsoft.com/.default"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    for k in [
        "token_type",
        "scope",
        "expires_in",
        "ext_expires_in",
        "access_token",
    ] {
        assert!(!body[k].is_null(), "{k}");
    }
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert!(body.get("refresh_token").is_none());
    let at = body["access_token"].as_str().unwrap();
    let c = claims(at);
    assert_eq!(c["aud"], q::GRAPH_APP_ID);
    assert_eq!(c["iss"], tenant.issuer());
    assert_eq!(c["tid"], q::TENANT_ID);
    assert_eq!(c["azp"], q::DAEMON_CLIENT_ID);
    assert_eq!(c["azpacr"], "1");
    assert_eq!(c["roles"], json!([q::GRAPH_USER_READ_ALL]));
    assert_eq!(c["idtyp"], "app");
    assert_eq!(c["ver"], "2.0");
    assert!(c.get("scp").is_none());
    assert_eq!(crate::common::header(at)["kid"], tenant.current_kid());

    let api = client_credentials(&tenant, &format!("{}/.default", q::API_IDENTIFIER_URI)).await;
    assert_eq!(claims(&api)["roles"], json!([q::API_APP_ROLE]));
    assert_eq!(claims(&api)["aud"], q::API_CLIENT_ID);
}

#[tokio::test]
async fn secret_in_basic_auth_and_msal_extras_accepted() {
    let tenant = start().await;
    // MSAL Node leaves some values unencoded; the body is sent raw to keep them so.
    let body = format!(
        "client_id={}&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default&grant_type=client_credentials&x-client-SKU=msal.js.node&x-client-VER=2.0&x-ms-lib-capability=retry-after, h429&x-client-current-telemetry=5|771,0,,,|,&client-request-id=corr-77&client_info=1",
        q::DAEMON_CLIENT_ID
    );
    let r = http()
        .post(tenant.token_endpoint())
        .basic_auth(q::DAEMON_CLIENT_ID, Some(q::DAEMON_CLIENT_SECRET))
        .header(
            "content-type",
            "application/x-www-form-urlencoded;charset=utf-8",
        )
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["scope"], "https://graph.microsoft.com/.default");
}

#[tokio::test]
async fn wrong_secret_is_invalid_client_401() {
    let tenant = start().await;
    let (status, body) = token(
        &tenant,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", q::DAEMON_CLIENT_ID),
            ("client_secret", "wrong"),
            ("scope", "https://graph.microsoft.com/.default"),
        ],
    )
    .await;
    assert_entra_error(status, &body, 401, "invalid_client", 7000215);
    assert!(
        !body.to_string().contains("wrong"),
        "the secret is not echoed"
    );
}

#[tokio::test]
async fn missing_secret_unknown_client_and_bad_scope() {
    let tenant = start().await;
    let (s, b) = token(
        &tenant,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", q::DAEMON_CLIENT_ID),
            ("scope", "https://graph.microsoft.com/.default"),
        ],
    )
    .await;
    assert_entra_error(s, &b, 401, "invalid_client", 7000218);
    let (s, b) = token(
        &tenant,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "11111111-1111-1111-1111-111111111111"),
            ("client_secret", "x"),
            ("scope", "https://graph.microsoft.com/.default"),
        ],
    )
    .await;
    assert_entra_error(s, &b, 400, "unauthorized_client", 700016);
    let (s, b) = token(
        &tenant,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", q::DAEMON_CLIENT_ID),
            ("client_secret", q::DAEMON_CLIENT_SECRET),
            ("scope", "User.Read"),
        ],
    )
    .await;
    assert_entra_error(s, &b, 400, "invalid_scope", 1002012);
    let (s, b) = token(
        &tenant,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", q::DAEMON_CLIENT_ID),
            ("client_secret", q::DAEMON_CLIENT_SECRET),
            ("scope", "https://nowhere.example/.default"),
        ],
    )
    .await;
    assert_entra_error(s, &b, 400, "invalid_resource", 500011);
}

struct Cert {
    pem: String,
    der: Vec<u8>,
    pair: RsaKeyPair,
}

fn make_cert() -> Cert {
    let key = rcgen::KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048)
        .unwrap();
    let cert = rcgen::CertificateParams::new(vec!["daemon.contoso.test".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    Cert {
        pem: cert.pem(),
        der: cert.der().to_vec(),
        pair: RsaKeyPair::from_pkcs8(&key.serialize_der()).unwrap(),
    }
}

fn sign(cert: &Cert, header: &Value, claims: &Value) -> String {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let alg: &'static dyn signature::RsaEncoding = if header["alg"] == "PS256" {
        &signature::RSA_PSS_SHA256
    } else {
        &signature::RSA_PKCS1_SHA256
    };
    let mut sig = vec![0; cert.pair.public_modulus_len()];
    cert.pair
        .sign(
            alg,
            &aws_lc_rs::rand::SystemRandom::new(),
            input.as_bytes(),
            &mut sig,
        )
        .unwrap();
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
}

fn thumb_s256(der: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, der))
}

fn thumb_sha1(der: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY,
        der,
    ))
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn assertion_claims(tenant: &DevTenant, jti: &str) -> Value {
    json!({
        "aud": tenant.token_endpoint(),
        "iss": q::DAEMON_CLIENT_ID,
        "sub": q::DAEMON_CLIENT_ID,
        "jti": jti,
        "nbf": now(),
        "exp": now() + 600,
    })
}

async fn with_cert(cert: &Cert) -> DevTenant {
    let mut config = Config::quickstart();
    config
        .app_mut(q::DAEMON_CLIENT_ID)
        .unwrap()
        .certificates
        .push(cert.pem.clone());
    start_with(config).await
}

async fn assertion_request(tenant: &DevTenant, assertion: &str) -> (reqwest::StatusCode, Value) {
    token(
        tenant,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", q::DAEMON_CLIENT_ID),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", assertion),
            ("scope", "https://graph.microsoft.com/.default"),
        ],
    )
    .await
}

#[tokio::test]
async fn private_key_jwt_ps256_and_rs256() {
    let cert = make_cert();
    let tenant = with_cert(&cert).await;
    let ps = sign(
        &cert,
        &json!({"alg": "PS256", "typ": "JWT", "x5t#S256": thumb_s256(&cert.der)}),
        &assertion_claims(&tenant, "jti-1"),
    );
    let (s, b) = assertion_request(&tenant, &ps).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(claims(b["access_token"].as_str().unwrap())["azpacr"], "2");
    // MSAL.NET's RS256 + x5t form, with nbf/exp as strings, aud = the tenant-id token endpoint,
    // and x5c as one base64 string.
    let mut c = assertion_claims(&tenant, "jti-2");
    c["aud"] = json!(format!(
        "{}/{}/oauth2/v2.0/token",
        tenant.base_url(),
        q::TENANT_ID
    ));
    c["nbf"] = json!(now().to_string());
    c["exp"] = json!((now() + 600).to_string());
    let rs = sign(
        &cert,
        &json!({"alg": "RS256", "typ": "JWT", "x5t": thumb_sha1(&cert.der), "x5c": STANDARD.encode(&cert.der)}),
        &c,
    );
    let (s, b) = assertion_request(&tenant, &rs).await;
    assert_eq!(s, 200, "{b}");
    // MSAL Python pads its thumbprints (base64.urlsafe_b64encode).
    let padded = base64::engine::general_purpose::URL_SAFE.encode(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        &cert.der,
    ));
    assert!(padded.ends_with('='));
    let py = sign(
        &cert,
        &json!({"alg": "PS256", "typ": "JWT", "x5t#S256": padded}),
        &assertion_claims(&tenant, "jti-3"),
    );
    let (s, b) = assertion_request(&tenant, &py).await;
    assert_eq!(s, 200, "{b}");
}

#[tokio::test]
async fn reused_assertion_is_accepted_by_default_like_entra() {
    // MSAL Node and MSAL Python reuse a signed assertion until it nears expiry.
    let cert = make_cert();
    let tenant = with_cert(&cert).await;
    let a = sign(
        &cert,
        &json!({"alg": "PS256", "x5t#S256": thumb_s256(&cert.der)}),
        &assertion_claims(&tenant, "reused"),
    );
    assert_eq!(assertion_request(&tenant, &a).await.0, 200);
    assert_eq!(assertion_request(&tenant, &a).await.0, 200);
}

#[tokio::test]
async fn replayed_assertion_is_refused() {
    let cert = make_cert();
    let mut config = Config::quickstart();
    config.reject_replayed_assertions = true;
    config
        .app_mut(q::DAEMON_CLIENT_ID)
        .unwrap()
        .certificates
        .push(cert.pem.clone());
    let tenant = start_with(config).await;
    let a = sign(
        &cert,
        &json!({"alg": "PS256", "x5t#S256": thumb_s256(&cert.der)}),
        &assertion_claims(&tenant, "same-jti"),
    );
    assert_eq!(assertion_request(&tenant, &a).await.0, 200);
    let (s, b) = assertion_request(&tenant, &a).await;
    assert_entra_error(s, &b, 401, "invalid_client", 700027);
    assert!(b["error_description"].as_str().unwrap().contains("replay"));
}

#[tokio::test]
async fn bad_assertions_are_refused() {
    let cert = make_cert();
    let other = make_cert();
    let tenant = with_cert(&cert).await;
    let h = json!({"alg": "PS256", "x5t#S256": thumb_s256(&cert.der)});
    let mut wrong_aud = assertion_claims(&tenant, "a1");
    wrong_aud["aud"] = json!("https://login.microsoftonline.com/x/oauth2/v2.0/token");
    let mut expired = assertion_claims(&tenant, "a2");
    expired["exp"] = json!(now() - 3600);
    let mut wrong_iss = assertion_claims(&tenant, "a3");
    wrong_iss["iss"] = json!(q::WEB_APP_CLIENT_ID);
    let mut no_jti = assertion_claims(&tenant, "a4");
    no_jti.as_object_mut().unwrap().remove("jti");
    let mut huge_exp = assertion_claims(&tenant, "a8");
    huge_exp["exp"] = json!(i64::MAX);
    huge_exp["nbf"] = json!(i64::MIN);
    let (s, _) = assertion_request(&tenant, &sign(&cert, &h, &huge_exp)).await;
    assert_eq!(s, 200, "extreme times do not overflow");
    let cases = [
        (sign(&cert, &h, &wrong_aud), 700023),
        (sign(&cert, &h, &expired), 700024),
        (sign(&cert, &h, &wrong_iss), 700021),
        (sign(&cert, &h, &no_jti), 700027),
        // signed by an unregistered key, claiming the registered thumbprint
        (sign(&other, &h, &assertion_claims(&tenant, "a5")), 700027),
        // unregistered thumbprint
        (
            sign(
                &other,
                &json!({"alg": "PS256", "x5t#S256": thumb_s256(&other.der)}),
                &assertion_claims(&tenant, "a6"),
            ),
            700027,
        ),
        (
            sign(
                &cert,
                &json!({"alg": "HS256"}),
                &assertion_claims(&tenant, "a7"),
            ),
            5002738,
        ),
        ("not.a.jwt".to_owned(), 50027),
    ];
    for (assertion, code) in cases {
        let (s, b) = assertion_request(&tenant, &assertion).await;
        assert_entra_error(s, &b, 401, "invalid_client", code);
    }
}
