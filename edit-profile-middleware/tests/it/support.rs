//! Test support: RSA keys, a token minter, an in-process JWKS server and the axum app under test.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256};
use axum::body::Body;
use axum::routing::get;
use axum::{Extension, Router};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use edit_profile_middleware::{BearerAuthLayer, BearerRejection, Claims, Validator};
use http::{Request, Response, StatusCode, header};
use http_body_util::BodyExt as _;
use tower::ServiceExt as _;

pub(crate) const API_CLIENT_ID: &str = "4d2e6f8a-1b3c-4d5e-8f9a-0b1c2d3e4f5a";
pub(crate) const API_URI: &str = "api://4d2e6f8a-1b3c-4d5e-8f9a-0b1c2d3e4f5a";
pub(crate) const SCOPE: &str = "EditProfileService.ReadWrite";
pub(crate) const TENANT_ID: &str = "b3c2a1f0-5d4e-4f6a-9b8c-7d6e5f4a3b2c";
pub(crate) const WEB_APP_CLIENT_ID: &str = "8a1f4c2e-6b3d-4e5f-9a7b-1c2d3e4f5a6b";
pub(crate) const GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";

pub(crate) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

pub(crate) fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// An RSA signing key with its kid.
pub(crate) struct TestKey {
    pub(crate) kid: String,
    pair: KeyPair,
}

impl TestKey {
    pub(crate) fn generate(kid: &str) -> Self {
        Self {
            kid: kid.to_owned(),
            pair: KeyPair::generate(KeySize::Rsa2048).unwrap(),
        }
    }

    pub(crate) fn jwk(&self) -> serde_json::Value {
        let public = self.pair.public_key();
        serde_json::json!({
            "kty": "RSA",
            "use": "sig",
            "kid": self.kid,
            "n": b64(public.modulus().big_endian_without_leading_zero()),
            "e": b64(public.exponent().big_endian_without_leading_zero()),
        })
    }

    /// The DER public key, for the HS256 key-confusion attack.
    pub(crate) fn public_der(&self) -> Vec<u8> {
        self.pair.public_key().as_ref().to_vec()
    }

    /// Sign raw header and claims JSON text (so that tests can craft duplicates).
    pub(crate) fn sign(&self, header: &str, claims: &str) -> String {
        let signing_input = format!("{}.{}", b64(header.as_bytes()), b64(claims.as_bytes()));
        let mut signature = vec![0; self.pair.public_modulus_len()];
        self.pair
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                signing_input.as_bytes(),
                &mut signature,
            )
            .unwrap();
        format!("{signing_input}.{}", b64(&signature))
    }
}

pub(crate) fn jwks_of(keys: &[&TestKey]) -> String {
    serde_json::json!({"keys": keys.iter().map(|k| k.jwk()).collect::<Vec<_>>()}).to_string()
}

/// An in-process JWKS + OIDC metadata server on an ephemeral loopback port, with a fetch counter
/// and an outage switch.
#[derive(Clone)]
pub(crate) struct KeyServer {
    pub(crate) base: String,
    jwks: Arc<Mutex<String>>,
    fetches: Arc<AtomicU64>,
    down: Arc<AtomicBool>,
}

impl KeyServer {
    pub(crate) async fn start(jwks: String) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let server = Self {
            base: base.clone(),
            jwks: Arc::new(Mutex::new(jwks)),
            fetches: Arc::new(AtomicU64::new(0)),
            down: Arc::new(AtomicBool::new(false)),
        };
        let s = server.clone();
        let metadata = serde_json::json!({
            "issuer": format!("{base}/{TENANT_ID}/v2.0"),
            "jwks_uri": format!("{base}/{TENANT_ID}/discovery/v2.0/keys"),
            "authorization_endpoint": format!("{base}/{TENANT_ID}/oauth2/v2.0/authorize"),
        })
        .to_string();
        let app = Router::new()
            .route(
                &format!("/{TENANT_ID}/discovery/v2.0/keys"),
                get(move || {
                    let s = s.clone();
                    async move {
                        s.fetches.fetch_add(1, Ordering::SeqCst);
                        if s.down.load(Ordering::SeqCst) {
                            return (StatusCode::SERVICE_UNAVAILABLE, String::new());
                        }
                        (StatusCode::OK, s.jwks.lock().unwrap().clone())
                    }
                }),
            )
            .route(
                &format!("/{TENANT_ID}/v2.0/.well-known/openid-configuration"),
                get(move || {
                    let m = metadata.clone();
                    async move { m }
                }),
            );
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        server
    }

    pub(crate) fn issuer(&self) -> String {
        format!("{}/{TENANT_ID}/v2.0", self.base)
    }

    pub(crate) fn authority(&self) -> String {
        format!("{}/{TENANT_ID}/", self.base)
    }

    pub(crate) fn jwks_uri(&self) -> String {
        format!("{}/{TENANT_ID}/discovery/v2.0/keys", self.base)
    }

    pub(crate) fn fetches(&self) -> u64 {
        self.fetches.load(Ordering::SeqCst)
    }

    pub(crate) fn set_jwks(&self, jwks: String) {
        *self.jwks.lock().unwrap() = jwks;
    }

    pub(crate) fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }
}

/// Claims of a well-formed v2.0 access token for the EditProfileService API.
pub(crate) fn access_claims(issuer: &str) -> serde_json::Value {
    let now = now();
    serde_json::json!({
        "aud": API_CLIENT_ID,
        "iss": issuer,
        "iat": now - 10,
        "nbf": now - 10,
        "exp": now + 3600,
        "azp": WEB_APP_CLIENT_ID,
        "name": "Alice",
        "oid": "11111111-2222-3333-4444-555555555555",
        "preferred_username": "alice@contoso.com",
        "scp": SCOPE,
        "sub": "alice-sub",
        "tid": TENANT_ID,
        "ver": "2.0",
    })
}

pub(crate) fn header_for(kid: &str) -> String {
    serde_json::json!({"typ": "JWT", "alg": "RS256", "kid": kid}).to_string()
}

/// The protected API: `GET /me` answers the caller's `oid` and `scp`.
pub(crate) fn app(layer: BearerAuthLayer) -> Router {
    app_with(layer)
}

/// [`app`] with any rejection renderer.
pub(crate) fn app_with<R>(layer: BearerAuthLayer<R>) -> Router
where
    R: edit_profile_middleware::RejectionResponse<Body> + Send + Sync + 'static,
{
    Router::new()
        .route(
            "/me",
            get(|Extension(claims): Extension<Arc<Claims>>| async move {
                format!(
                    "{} {}",
                    claims.oid().unwrap_or("-"),
                    claims.scp().unwrap_or("-")
                )
            }),
        )
        .route_layer(layer)
        .route("/public", get(|| async { "public" }))
}

pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) challenge: Option<String>,
    pub(crate) rejection: Option<BearerRejection>,
    pub(crate) body: String,
}

impl Answer {
    /// The token error behind an `invalid_token` answer.
    pub(crate) fn token_error(&self) -> Option<edit_profile_middleware::TokenError> {
        self.rejection.as_ref()?.token_error().cloned()
    }
}

pub(crate) async fn call(app: &Router, authorization: Option<&str>) -> Answer {
    let mut request = Request::get("/me");
    if let Some(value) = authorization {
        request = request.header(header::AUTHORIZATION, value);
    }
    let response: Response<Body> = app
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let challenge = response
        .headers()
        .get(header::WWW_AUTHENTICATE)
        .map(|v| v.to_str().unwrap().to_owned());
    let rejection = response.extensions().get::<BearerRejection>().cloned();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        challenge,
        rejection,
        body: String::from_utf8(body.to_vec()).unwrap(),
    }
}

pub(crate) async fn call_token(app: &Router, token: &str) -> Answer {
    call(app, Some(&format!("Bearer {token}"))).await
}

/// Key generation takes a while; tests that do not rotate share this one.
pub(crate) static DEFAULT_KEY: std::sync::LazyLock<TestKey> =
    std::sync::LazyLock::new(|| TestKey::generate("key-1"));

/// One issuer with one key, its JWKS server, a validator and the app.
pub(crate) struct Fixture {
    pub(crate) key: &'static TestKey,
    pub(crate) server: KeyServer,
    pub(crate) validator: Validator,
}

impl Fixture {
    pub(crate) async fn start() -> Self {
        let key = &*DEFAULT_KEY;
        let server = KeyServer::start(jwks_of(&[key])).await;
        let validator = Validator::builder()
            .issuer(server.issuer())
            .jwks_uri(server.jwks_uri())
            .audience(API_CLIENT_ID)
            .audience(API_URI)
            .build()
            .unwrap();
        validator.jwks().refresh().await.unwrap();
        Self {
            key,
            server,
            validator,
        }
    }

    pub(crate) fn issuer(&self) -> String {
        self.server.issuer()
    }

    pub(crate) fn layer(&self) -> BearerAuthLayer {
        BearerAuthLayer::new(self.validator.clone()).require_scopes([SCOPE])
    }

    pub(crate) fn app(&self) -> Router {
        app(self.layer())
    }

    /// A valid token, with `edit` applied to the claims.
    pub(crate) fn token(&self, edit: impl FnOnce(&mut serde_json::Value)) -> String {
        let mut claims = access_claims(&self.issuer());
        edit(&mut claims);
        self.key
            .sign(&header_for(&self.key.kid), &claims.to_string())
    }
}
