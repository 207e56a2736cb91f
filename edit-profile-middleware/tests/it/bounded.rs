//! Bounded resources: the validation cache never grows past its cap under a flood of distinct
//! valid tokens, and oversize inputs (tokens, JWKS documents) are refused instead of buffered.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
use dev_tenant::{Config, DevTenant, TokenOptions, quickstart as q};
use edit_profile_middleware::{Algorithm, TokenError, Validator};

use crate::support::{API_CLIENT_ID, KeyServer, access_claims, b64};

/// Resident memory of this process in bytes (`/proc/self/statm`, second field, in pages).
fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// A P-256 key made for this test. ECDSA signing costs tens of microseconds where RSA-2048
/// costs about a millisecond, which is what makes 100,000 distinct signed tokens affordable in
/// a test; the validation path (split, header, key lookup, verify, claims, cache insert) is the
/// same apart from the signature primitive. The RSA path is flooded with the dev tenant's key
/// below.
struct EcKey {
    pair: EcdsaKeyPair,
    rng: SystemRandom,
}

impl EcKey {
    fn generate() -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let pair =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).unwrap();
        Self { pair, rng }
    }

    fn jwks(&self) -> String {
        // Uncompressed point: 0x04 || x (32 bytes) || y (32 bytes).
        let point = self.pair.public_key().as_ref();
        serde_json::json!({"keys": [{
            "kty": "EC", "crv": "P-256", "kid": "flood", "use": "sig", "alg": "ES256",
            "x": b64(&point[1..33]), "y": b64(&point[33..65]),
        }]})
        .to_string()
    }

    fn sign(&self, claims: &str) -> String {
        let input = format!(
            "{}.{}",
            b64(br#"{"typ":"JWT","alg":"ES256","kid":"flood"}"#),
            b64(claims.as_bytes())
        );
        let signature = self.pair.sign(&self.rng, input.as_bytes()).unwrap();
        format!("{input}.{}", b64(signature.as_ref()))
    }
}

#[tokio::test]
#[expect(
    clippy::print_stdout,
    reason = "the measured figure is reported in docs/reliability.md"
)]
async fn flood_of_100k_distinct_valid_tokens_keeps_the_cache_at_its_cap() {
    const CAP: usize = 1024;
    const TOKENS: usize = 100_000;
    let key = EcKey::generate();
    let issuer = "https://login.example/flood/v2.0";
    let validator = Validator::builder()
        .jwks_json(key.jwks())
        .issuer(issuer)
        .audience(API_CLIENT_ID)
        .algorithms([Algorithm::Es256])
        .cache_capacity(CAP)
        .build()
        .unwrap();
    // Serialize the claims once; each token differs only in its `uti`.
    let mut claims = access_claims(issuer);
    claims["uti"] = serde_json::json!("@@");
    let template = claims.to_string();
    let (head, tail) = template.split_once("@@").unwrap();

    // Fill the cache to its cap first, so the measurement below is of the steady state.
    let mut issued = 0_usize;
    let mut next = || {
        issued += 1;
        key.sign(&format!("{head}flood-{issued}{tail}"))
    };
    for _ in 0..CAP {
        validator.validate(&next()).await.unwrap();
    }
    let before = resident_bytes();
    let mut peak = validator.cached_tokens();
    for _ in CAP..TOKENS {
        let token = next();
        validator.validate(&token).await.unwrap();
        peak = peak.max(validator.cached_tokens());
    }
    let after = resident_bytes();
    assert!(peak <= CAP, "the cache grew to {peak} entries (cap {CAP})");
    assert!(validator.cached_tokens() <= CAP);
    if let (Some(before), Some(after)) = (before, after) {
        let growth = after.saturating_sub(before);
        println!(
            "flood: {TOKENS} distinct tokens, cache cap {CAP}, peak {peak} entries, \
             resident memory {} KiB -> {} KiB (growth {} KiB)",
            before / 1024,
            after / 1024,
            growth / 1024
        );
        // An unbounded cache would hold ~99,000 more tokens of ~700 bytes plus their claims
        // (well over 64 MiB); other tests in this binary run concurrently, so the bound is loose.
        assert!(
            growth < 48 * 1024 * 1024,
            "resident memory grew by {growth} bytes"
        );
    }
}

#[tokio::test]
async fn flood_of_dev_tenant_signed_tokens_keeps_the_cache_at_its_cap() {
    const CAP: usize = 64;
    const TOKENS: usize = 1_000;
    let tenant = DevTenant::start(Config::quickstart()).await.unwrap();
    let validator = Validator::builder()
        .audience(q::API_CLIENT_ID)
        .audience(format!("api://{}", q::API_CLIENT_ID))
        .discover(&tenant.authority())
        .await
        .unwrap()
        .cache_capacity(CAP)
        .build()
        .unwrap();
    let token = tenant
        .access_token_for(
            q::ALICE_EMAIL,
            q::WEB_APP_CLIENT_ID,
            [q::API_SCOPE_URI],
            TokenOptions::default(),
        )
        .unwrap();
    let payload = token.split('.').nth(1).unwrap();
    let mut claims: serde_json::Value = {
        use base64::Engine as _;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    };
    let mut peak = 0;
    for i in 0..TOKENS {
        claims["uti"] = serde_json::json!(format!("dev-flood-{i}"));
        let token = tenant.mint_token(tenant.default_header(), &claims);
        validator.validate(&token).await.unwrap();
        peak = peak.max(validator.cached_tokens());
    }
    assert!(peak <= CAP, "the cache grew to {peak} entries (cap {CAP})");
}

#[tokio::test]
async fn oversize_jwks_document_is_refused_not_buffered() {
    // A JWKS endpoint that answers 2 MiB (a valid document padded with whitespace): the fetch
    // stops at its 1 MiB limit and the validator reports the keys as unavailable.
    let padding = " ".repeat(2 * 1024 * 1024);
    let server = KeyServer::start(format!(r#"{{"keys":[]{padding}}}"#)).await;
    let validator = Validator::builder()
        .issuer(server.issuer())
        .jwks_uri(server.jwks_uri())
        .audience(API_CLIENT_ID)
        .build()
        .unwrap();
    assert!(validator.jwks().refresh().await.is_err());
    let token = format!(
        "{}.{}.{}",
        b64(br#"{"alg":"RS256","kid":"k"}"#),
        b64(access_claims(&server.issuer()).to_string().as_bytes()),
        b64(b"sig")
    );
    assert_eq!(
        validator.validate(&token).await.unwrap_err(),
        TokenError::KeysUnavailable
    );
}

#[tokio::test]
async fn oversize_token_is_refused_before_parsing_at_the_configured_limit() {
    let key = EcKey::generate();
    let issuer = "https://login.example/limit/v2.0";
    let validator = Validator::builder()
        .jwks_json(key.jwks())
        .issuer(issuer)
        .audience(API_CLIENT_ID)
        .algorithms([Algorithm::Es256])
        .max_token_bytes(2048)
        .build()
        .unwrap();
    let mut claims = access_claims(issuer);
    validator
        .validate(&key.sign(&claims.to_string()))
        .await
        .unwrap();
    // The same valid token made larger than the limit by one claim is refused as too large.
    claims["pad"] = serde_json::json!("x".repeat(2048));
    assert_eq!(
        validator
            .validate(&key.sign(&claims.to_string()))
            .await
            .unwrap_err(),
        TokenError::TooLarge
    );
}

/// Not a size bound but the same flood fixture: nothing the middleware keeps about a token
/// (the validator and its cache, the claims, the errors) prints the token or its signature.
#[tokio::test]
async fn debug_of_validator_claims_and_errors_never_prints_the_token() {
    let key = EcKey::generate();
    let issuer = "https://login.example/debug/v2.0";
    let validator = Validator::builder()
        .jwks_json(key.jwks())
        .issuer(issuer)
        .audience(API_CLIENT_ID)
        .algorithms([Algorithm::Es256])
        .build()
        .unwrap();
    let token = key.sign(&access_claims(issuer).to_string());
    let signature = token.rsplit('.').next().unwrap().to_owned();
    let claims = validator.validate(&token).await.unwrap();
    let mut wrong_audience = access_claims(issuer);
    wrong_audience["aud"] = serde_json::json!("api://someone-else");
    let rejected = key.sign(&wrong_audience.to_string());
    let error = validator.validate(&rejected).await.unwrap_err();
    let texts = [
        format!("{validator:?}"),
        format!("{claims:?}"),
        format!("{error:?} {error}"),
        format!("{:?}", validator.jwks()),
    ];
    for text in texts {
        for secret in [&token, &signature, &rejected] {
            assert!(!text.contains(secret.as_str()), "{text}");
        }
    }
}

/// The token endpoint that issues what this middleware validates bounds its request bodies too:
/// a form over the dev tenant's 256 KiB parser limit is a 400, one over axum's 2 MB body limit a
/// 413; neither is parsed into memory, and the tenant keeps serving.
#[tokio::test]
async fn dev_tenant_token_endpoint_refuses_oversize_forms() {
    let tenant = DevTenant::start(Config::quickstart()).await.unwrap();
    let http = reqwest::Client::new();
    let post = |size: usize| {
        http.post(tenant.token_endpoint())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!(
                "grant_type=client_credentials&client_id={}&pad={}",
                q::DAEMON_CLIENT_ID,
                "x".repeat(size)
            ))
            .send()
    };
    let over_parser = post(300 * 1024).await.unwrap();
    assert_eq!(over_parser.status(), 400);
    let over_body = post(3 * 1024 * 1024).await.unwrap();
    assert_eq!(over_body.status(), 413);
    // Still serving normal requests.
    let ok = http
        .post(tenant.token_endpoint())
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", q::DAEMON_CLIENT_ID),
            ("client_secret", q::DAEMON_CLIENT_SECRET),
            ("scope", "https://graph.microsoft.com/.default"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
}
