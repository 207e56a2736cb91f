//! ID-token signature keys: PS256/PS384/ES256/ES384 from a generic OpenID Connect host, and
//! Entra's app-specific key set (`{jwks_uri}?appid={client_id}`) for a `kid` the authority's set
//! does not have. A loopback identity provider (axum, in this test) serves discovery, both key
//! sets and the token endpoint, and counts what it is asked.
#![cfg(feature = "reqwest")]

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{self, EcdsaKeyPair, KeyPair as _, RsaKeyPair};
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use msal_lite::{
    AuthCodeRequest, Authority, ClientCredential, ConfidentialClient, Error, RetryPolicy,
};
use serde_json::{Value, json};

const CLIENT_ID: &str = "6731de76-14a6-49ae-97bc-6eba6914391e";
const REDIRECT: &str = "http://localhost:3000/auth/redirect";

/// A signing key of the test identity provider.
enum Signer {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair, &'static str),
}

impl Signer {
    fn rsa() -> Self {
        Self::Rsa(RsaKeyPair::generate(KeySize::Rsa2048).unwrap())
    }

    fn p256() -> Self {
        Self::Ec(
            EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING).unwrap(),
            "P-256",
        )
    }

    fn p384() -> Self {
        Self::Ec(
            EcdsaKeyPair::generate(&signature::ECDSA_P384_SHA384_FIXED_SIGNING).unwrap(),
            "P-384",
        )
    }

    /// The JWK, with `alg` when given.
    fn jwk(&self, kid: &str, alg: Option<&str>) -> Value {
        let mut jwk = match self {
            Self::Rsa(key) => {
                let public = key.public_key();
                json!({
                    "kty": "RSA", "use": "sig", "kid": kid,
                    "n": B64.encode(public.modulus().big_endian_without_leading_zero()),
                    "e": B64.encode(public.exponent().big_endian_without_leading_zero()),
                })
            }
            Self::Ec(key, crv) => {
                let point = key.public_key().as_ref();
                let size = (point.len() - 1) / 2;
                json!({
                    "kty": "EC", "use": "sig", "kid": kid, "crv": crv,
                    "x": B64.encode(&point[1..1 + size]),
                    "y": B64.encode(&point[1 + size..]),
                })
            }
        };
        if let Some(alg) = alg {
            jwk["alg"] = json!(alg);
        }
        jwk
    }

    /// A compact JWS of `claims` with header `alg` and `kid` (the signature made with the
    /// algorithm `sign_as`, normally the same as `alg`).
    fn sign(&self, alg: &str, sign_as: &str, kid: &str, claims: &Value) -> String {
        let header = B64.encode(json!({"typ": "JWT", "alg": alg, "kid": kid}).to_string());
        let payload = B64.encode(claims.to_string());
        let input = format!("{header}.{payload}");
        let rng = SystemRandom::new();
        let sig = match self {
            Self::Rsa(key) => {
                let padding: &'static dyn signature::RsaEncoding = match sign_as {
                    "RS256" => &signature::RSA_PKCS1_SHA256,
                    "RS384" => &signature::RSA_PKCS1_SHA384,
                    "PS256" => &signature::RSA_PSS_SHA256,
                    "PS384" => &signature::RSA_PSS_SHA384,
                    other => panic!("not an RSA algorithm: {other}"),
                };
                let mut sig = vec![0; key.public_modulus_len()];
                key.sign(padding, &rng, input.as_bytes(), &mut sig).unwrap();
                sig
            }
            Self::Ec(key, _) => key.sign(&rng, input.as_bytes()).unwrap().as_ref().to_vec(),
        };
        format!("{input}.{}", B64.encode(sig))
    }
}

/// The loopback identity provider's state.
#[derive(Default)]
struct Idp {
    base: Mutex<String>,
    /// The keys at `/keys` and at `/keys?appid={CLIENT_ID}`.
    keys: Mutex<Vec<Value>>,
    app_keys: Mutex<Vec<Value>>,
    plain_fetches: AtomicU32,
    app_fetches: AtomicU32,
    /// The ID token the next token request answers with.
    id_token: Mutex<String>,
}

async fn serve(State(idp): State<Arc<Idp>>, request: Request) -> Response {
    let path = request.uri().path().to_owned();
    let query = request.uri().query().unwrap_or("").to_owned();
    let base = idp.base.lock().unwrap().clone();
    let body = if let Some(prefix) = path.strip_suffix("/.well-known/openid-configuration") {
        // `/oidc` is a plain OpenID Connect issuer; `/tenant1/v2.0` Entra's layout.
        let root = prefix.trim_end_matches("/v2.0");
        json!({
            "issuer": format!("{base}{prefix}"),
            "authorization_endpoint": format!("{base}{root}/authorize"),
            "token_endpoint": format!("{base}{root}/token"),
            "jwks_uri": format!("{base}{root}/keys"),
        })
    } else if path.ends_with("/keys") {
        if query == format!("appid={CLIENT_ID}") {
            idp.app_fetches.fetch_add(1, Ordering::SeqCst);
            json!({ "keys": *idp.app_keys.lock().unwrap() })
        } else {
            assert_eq!(query, "", "only ?appid= is ever added");
            idp.plain_fetches.fetch_add(1, Ordering::SeqCst);
            json!({ "keys": *idp.keys.lock().unwrap() })
        }
    } else if path.ends_with("/token") {
        json!({
            "token_type": "Bearer", "access_token": "at-1", "expires_in": 3600,
            "scope": "User.Read openid profile offline_access",
            "id_token": *idp.id_token.lock().unwrap(),
        })
    } else {
        return (http::StatusCode::NOT_FOUND, "no such route").into_response();
    };
    axum::Json(body).into_response()
}

async fn start() -> (Arc<Idp>, String) {
    let idp = Arc::new(Idp::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    *idp.base.lock().unwrap() = base.clone();
    let app = axum::Router::new().fallback(serve).with_state(idp.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (idp, base)
}

fn client(authority: Authority) -> ConfidentialClient {
    ConfidentialClient::builder(CLIENT_ID, authority, ClientCredential::secret("s"))
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap()
}

fn claims(issuer: &str, nonce: &str) -> Value {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    json!({
        "iss": issuer, "aud": CLIENT_ID, "exp": now + 3600, "iat": now, "nbf": now,
        "nonce": nonce, "sub": "s", "oid": "oid-1", "tid": "tid-1",
        "preferred_username": "alice@example.com",
    })
}

/// One sign-in whose ID token is made by `token(nonce)`.
async fn sign_in(
    client: &ConfidentialClient,
    idp: &Idp,
    token: impl FnOnce(&str) -> String,
) -> Result<(), Error> {
    let (_, flow) = client
        .auth_code_url(AuthCodeRequest::new(["User.Read"], REDIRECT))
        .await?;
    *idp.id_token.lock().unwrap() = token(flow.nonce());
    let state = flow.state().to_owned();
    client.acquire_token_by_code("code", &state, flow).await?;
    Ok(())
}

fn reason(e: Error) -> String {
    match e {
        Error::InvalidIdToken { reason, .. } => reason.into_owned(),
        other => panic!("not an id-token error: {other:?}"),
    }
}

#[tokio::test]
async fn generic_oidc_host_signing_with_pss_and_ecdsa() {
    let (idp, base) = start().await;
    let issuer = format!("{base}/oidc");
    let (rsa, p256, p384) = (Signer::rsa(), Signer::p256(), Signer::p384());
    // `alg` on a JWK restricts it: `rsa-pss` is for PS256 only, `rsa-any` for any RSA algorithm.
    *idp.keys.lock().unwrap() = vec![
        rsa.jwk("rsa-pss", Some("PS256")),
        rsa.jwk("rsa-any", None),
        p256.jwk("ec-256", Some("ES256")),
        p384.jwk("ec-384", None),
        json!({"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"}),
        json!({"kty": "EC", "kid": "bad-point", "crv": "P-256", "x": "AAAA", "y": "AAAA"}),
    ];
    let client = client(Authority::from_oidc_issuer(&issuer).unwrap());
    for (signer, alg, kid) in [
        (&rsa, "PS256", "rsa-pss"),
        (&rsa, "PS384", "rsa-any"),
        (&rsa, "RS384", "rsa-any"),
        (&rsa, "RS256", "rsa-any"),
        (&p256, "ES256", "ec-256"),
        (&p384, "ES384", "ec-384"),
    ] {
        sign_in(&client, &idp, |nonce| {
            signer.sign(alg, alg, kid, &claims(&issuer, nonce))
        })
        .await
        .unwrap_or_else(|e| panic!("{alg}: {e:?}"));
    }
    assert_eq!(
        idp.plain_fetches.load(Ordering::SeqCst),
        1,
        "keys fetched once"
    );

    let refused = [
        // The JWK says PS256: the same RSA key may not verify RS256.
        (&rsa, "RS256", "RS256", "rsa-pss", "signature"),
        // Signed PKCS#1 v1.5 but labelled PSS.
        (&rsa, "PS256", "RS256", "rsa-any", "signature"),
        // An ES256 key for an ES384 header, and an RSA key for an EC header.
        (&p256, "ES384", "ES256", "ec-256", "signature"),
        (&p256, "ES256", "ES256", "rsa-any", "signature"),
        (&p384, "ES384", "ES384", "bad-point", "unknown key"),
        (
            &rsa,
            "HS256",
            "RS256",
            "hmac",
            "RS256, RS384, PS256, PS384, ES256 or ES384",
        ),
    ];
    for (signer, alg, sign_as, kid, want) in refused {
        let e = sign_in(&client, &idp, |nonce| {
            signer.sign(alg, sign_as, kid, &claims(&issuer, nonce))
        })
        .await
        .unwrap_err();
        let got = reason(e);
        assert!(got.contains(want), "{alg} as {sign_as} with {kid}: {got}");
    }
    // A plain OpenID Connect issuer knows no `appid`: never asked for app-specific keys, even
    // for a `kid` it lacks.
    assert_eq!(idp.app_fetches.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn unknown_kid_tries_the_app_specific_key_set_once_per_cooldown() {
    let (idp, base) = start().await;
    let issuer = format!("{base}/tenant1/v2.0");
    let (tenant_key, app_key) = (Signer::rsa(), Signer::rsa());
    *idp.keys.lock().unwrap() = vec![tenant_key.jwk("tenant-key", Some("RS256"))];
    *idp.app_keys.lock().unwrap() = vec![app_key.jwk("app-key", Some("RS256"))];
    let authority = Authority::parse(&format!("{base}/tenant1")).unwrap();
    let client = client(authority);

    // A token signed with the tenant's key: the plain set only.
    sign_in(&client, &idp, |nonce| {
        tenant_key.sign("RS256", "RS256", "tenant-key", &claims(&issuer, nonce))
    })
    .await
    .unwrap();
    assert_eq!(idp.plain_fetches.load(Ordering::SeqCst), 1);
    assert_eq!(idp.app_fetches.load(Ordering::SeqCst), 0);

    // A claims-mapping app's token: its kid is only in `?appid=`. The tenant's set is refreshed
    // once (it may have rotated), then the app-specific set is fetched and used.
    sign_in(&client, &idp, |nonce| {
        app_key.sign("RS256", "RS256", "app-key", &claims(&issuer, nonce))
    })
    .await
    .unwrap();
    assert_eq!(idp.plain_fetches.load(Ordering::SeqCst), 2);
    assert_eq!(idp.app_fetches.load(Ordering::SeqCst), 1);

    // Both sets are kept: later tokens of either kind need no fetch.
    for (signer, kid) in [(&app_key, "app-key"), (&tenant_key, "tenant-key")] {
        sign_in(&client, &idp, |nonce| {
            signer.sign("RS256", "RS256", kid, &claims(&issuer, nonce))
        })
        .await
        .unwrap();
    }
    assert_eq!(idp.plain_fetches.load(Ordering::SeqCst), 2);
    assert_eq!(idp.app_fetches.load(Ordering::SeqCst), 1);

    // Invented key ids are refused without hammering either endpoint (both are in cooldown).
    for i in 0..5 {
        let e = sign_in(&client, &idp, |nonce| {
            app_key.sign(
                "RS256",
                "RS256",
                &format!("invented-{i}"),
                &claims(&issuer, nonce),
            )
        })
        .await
        .unwrap_err();
        assert!(reason(e).contains("unknown key"));
    }
    assert_eq!(idp.plain_fetches.load(Ordering::SeqCst), 2);
    assert_eq!(idp.app_fetches.load(Ordering::SeqCst), 1);
}
