//! The same guarantees against the dev tenant: real OIDC discovery, real JWKS, tokens issued by
//! the tenant's token logic (`access_token_for`) or signed by its current key (`mint_token`),
//! JWKS fetches counted by the tenant, and its fault injection.
//!
//! `mint_token` signs a `&str` argument as exact JSON text, which is how the duplicate-member
//! tokens are made.

use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use dev_tenant::{Config, DevTenant, Endpoint, Fault, TokenOptions};
use edit_profile_middleware::{BearerAuthLayer, MfaPolicy, RejectionKind, TokenError, Validator};
use serde_json::{Value, json};

use crate::support::*;

const ALICE: &str = "alice@contoso.com";
const API_SCOPE_URI: &str =
    "api://4d2e6f8a-1b3c-4d5e-8f9a-0b1c2d3e4f5a/EditProfileService.ReadWrite";

struct Dev {
    tenant: DevTenant,
    validator: Validator,
}

impl Dev {
    async fn start() -> Self {
        let tenant = DevTenant::start(Config::quickstart()).await.unwrap();
        let validator = Validator::builder()
            .audience(API_CLIENT_ID)
            .audience(API_URI)
            .discover(&tenant.authority())
            .await
            .unwrap()
            .build()
            .unwrap();
        validator.jwks().refresh().await.unwrap();
        Self { tenant, validator }
    }

    fn app(&self) -> axum::Router {
        app(BearerAuthLayer::new(self.validator.clone()).require_scopes([SCOPE]))
    }

    fn token(&self, options: TokenOptions) -> String {
        self.tenant
            .access_token_for(ALICE, WEB_APP_CLIENT_ID, [API_SCOPE_URI], options)
            .unwrap()
    }

    /// The claims of a real access token, to be edited and re-signed.
    fn claims(&self) -> Value {
        let token = self.token(TokenOptions::default());
        let payload = token.split('.').nth(1).unwrap();
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
    }

    fn mint(&self, header: Value, claims: Value) -> String {
        self.tenant.mint_token(header, claims)
    }

    fn header(&self) -> Value {
        self.tenant.default_header()
    }

    fn edited(&self, edit: impl FnOnce(&mut Value)) -> String {
        let mut claims = self.claims();
        edit(&mut claims);
        self.mint(self.header(), claims)
    }

    fn jwks_fetches(&self) -> u64 {
        self.tenant.requests(Endpoint::Jwks)
    }

    async fn assert_rejected(&self, token: &str, error: TokenError) {
        let answer = call_token(&self.app(), token).await;
        assert_eq!(answer.status, 401, "{}", answer.body);
        assert_eq!(
            answer.challenge.as_deref(),
            Some(format!(r#"Bearer error="invalid_token", error_description="{error}""#).as_str())
        );
        assert_eq!(answer.token_error(), Some(error));
    }
}

#[tokio::test]
async fn dev_tenant_valid_token_is_accepted() {
    let dev = Dev::start().await;
    let answer = call_token(&dev.app(), &dev.token(TokenOptions::default())).await;
    assert_eq!(answer.status, 200, "{:?}", answer.rejection);
    assert!(answer.body.ends_with(SCOPE), "{}", answer.body);
}

#[tokio::test]
async fn dev_tenant_alg_none_is_rejected() {
    let dev = Dev::start().await;
    let mut header = dev.header();
    header["alg"] = json!("none");
    let token = dev.mint(header, dev.claims());
    dev.assert_rejected(&token, TokenError::AlgorithmNotAllowed)
        .await;
    let unsigned = format!("{}.", token.rsplit_once('.').unwrap().0);
    dev.assert_rejected(&unsigned, TokenError::AlgorithmNotAllowed)
        .await;
}

#[tokio::test]
async fn dev_tenant_hs256_signed_with_the_rsa_public_key_is_rejected() {
    use aws_lc_rs::hmac;
    let dev = Dev::start().await;
    let jwks: Value = serde_json::from_slice(
        &reqwest::get(dev.tenant.jwks_uri())
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap(),
    )
    .unwrap();
    let n = URL_SAFE_NO_PAD
        .decode(jwks["keys"][0]["n"].as_str().unwrap())
        .unwrap();
    let mut header = dev.header();
    header["alg"] = json!("HS256");
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(dev.claims().to_string().as_bytes())
    );
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &n), input.as_bytes());
    let token = format!("{input}.{}", b64(tag.as_ref()));
    dev.assert_rejected(&token, TokenError::AlgorithmNotAllowed)
        .await;
}

#[tokio::test]
async fn dev_tenant_embedded_key_headers_are_rejected() {
    let dev = Dev::start().await;
    for (name, value) in [
        ("jwk", json!({"kty": "RSA", "n": "AQAB", "e": "AQAB"})),
        ("jku", json!("https://attacker.example/keys")),
        ("x5u", json!("https://attacker.example/cert.pem")),
        ("x5c", json!(["MIIB"])),
        ("crit", json!(["exp"])),
    ] {
        let mut header = dev.header();
        header[name] = value;
        let token = dev.mint(header, dev.claims());
        dev.assert_rejected(&token, TokenError::ForbiddenHeader(name))
            .await;
    }
}

#[tokio::test]
async fn dev_tenant_structural_attacks_are_rejected() {
    let dev = Dev::start().await;
    let token = dev.token(TokenOptions::default());
    // Two parts (signature stripped), four and five parts.
    let two = token.rsplit_once('.').unwrap().0;
    dev.assert_rejected(two, TokenError::Malformed).await;
    dev.assert_rejected(&format!("{token}.x"), TokenError::Malformed)
        .await;
    dev.assert_rejected(&format!("{token}.x.y"), TokenError::Encrypted)
        .await;
    // A JWE header signed as if it were a JWS.
    let mut header = dev.header();
    header["enc"] = json!("A256GCM");
    dev.assert_rejected(&dev.mint(header, dev.claims()), TokenError::Encrypted)
        .await;
    // Oversize, though correctly signed.
    let big = dev.edited(|c| c["padding"] = json!("x".repeat(17_000)));
    dev.assert_rejected(&big, TokenError::TooLarge).await;
}

#[tokio::test]
async fn dev_tenant_kid_injection_payloads_are_rejected() {
    let dev = Dev::start().await;
    let before = dev.jwks_fetches();
    for kid in ["../../../etc/passwd", "' OR 1=1 --", ".*", "(a+)+$"] {
        let mut header = dev.header();
        header["kid"] = json!(kid);
        let token = dev.mint(header, dev.claims());
        dev.assert_rejected(&token, TokenError::UnknownKey).await;
    }
    assert!(dev.jwks_fetches() - before <= 1);
}

#[tokio::test]
async fn dev_tenant_string_typed_exp_and_nbf_are_rejected() {
    let dev = Dev::start().await;
    let token = dev.edited(|c| c["exp"] = json!(c["exp"].to_string()));
    dev.assert_rejected(&token, TokenError::InvalidClaimType("exp"))
        .await;
    let token = dev.edited(|c| c["nbf"] = json!(c["nbf"].to_string()));
    dev.assert_rejected(&token, TokenError::InvalidClaimType("nbf"))
        .await;
}

#[tokio::test]
async fn dev_tenant_duplicate_json_keys_in_header_or_claims_are_rejected() {
    let dev = Dev::start().await;
    let kid = dev.tenant.current_kid();
    let header = format!(r#"{{"typ":"JWT","alg":"RS256","kid":"{kid}","alg":"none"}}"#);
    let token = dev.mint(json!(header), dev.claims());
    dev.assert_rejected(&token, TokenError::DuplicateMember)
        .await;
    let claims = dev.claims().to_string();
    let claims = format!(r#"{},"aud":"someone-else"}}"#, &claims[..claims.len() - 1]);
    let token = dev.mint(dev.header(), json!(claims));
    dev.assert_rejected(&token, TokenError::DuplicateMember)
        .await;
}

#[tokio::test]
async fn dev_tenant_exp_missing_is_rejected() {
    let dev = Dev::start().await;
    let token = dev.edited(|c| {
        c.as_object_mut().unwrap().remove("exp");
    });
    dev.assert_rejected(&token, TokenError::MissingClaim("exp"))
        .await;
}

#[tokio::test]
async fn dev_tenant_nbf_in_the_future_is_rejected() {
    let dev = Dev::start().await;
    let token = dev.edited(|c| c["nbf"] = json!(now() + 3600));
    dev.assert_rejected(&token, TokenError::NotYetValid).await;
}

#[tokio::test]
async fn dev_tenant_wrong_iss_with_the_right_key_is_rejected() {
    let dev = Dev::start().await;
    let token = dev.edited(|c| {
        c["iss"] = json!(format!(
            "https://login.microsoftonline.com/{TENANT_ID}/v2.0"
        ));
    });
    dev.assert_rejected(&token, TokenError::WrongIssuer).await;
}

#[tokio::test]
async fn dev_tenant_another_tenant_in_multi_tenant_mode_is_rejected() {
    let dev = Dev::start().await;
    let issuer = dev.tenant.issuer();
    let template = issuer.replace(TENANT_ID, "{tenantid}");
    let validator = Validator::builder()
        .tenant_issuer_template(&template)
        .allow_tenant(TENANT_ID)
        .jwks_uri(dev.tenant.jwks_uri())
        .audience(API_CLIENT_ID)
        .build()
        .unwrap();
    let app = app(BearerAuthLayer::new(validator).require_scopes([SCOPE]));
    assert_eq!(
        call_token(&app, &dev.token(TokenOptions::default()))
            .await
            .status,
        200
    );
    let other = "f645ad92-e38d-4d1a-b510-d1b09a74a8ca";
    let token = dev.edited(|c| {
        c["iss"] = json!(template.replace("{tenantid}", other));
        c["tid"] = json!(other);
    });
    let answer = call_token(&app, &token).await;
    assert_eq!(answer.token_error(), Some(TokenError::TenantNotAllowed));
}

#[tokio::test]
async fn dev_tenant_token_for_another_audience_is_rejected() {
    let dev = Dev::start().await;
    let token = dev.edited(|c| c["aud"] = json!(WEB_APP_CLIENT_ID));
    dev.assert_rejected(&token, TokenError::WrongAudience).await;
}

#[tokio::test]
async fn dev_tenant_id_token_used_as_access_token_is_rejected() {
    let dev = Dev::start().await;
    // An ID token as the tenant shapes them: audience = the web app, a nonce, no scp.
    let token = dev.edited(|c| {
        let c = c.as_object_mut().unwrap();
        c.insert("aud".into(), json!(WEB_APP_CLIENT_ID));
        c.insert("nonce".into(), json!("n-0S6_WzA2Mj"));
        c.remove("scp");
    });
    dev.assert_rejected(&token, TokenError::WrongAudience).await;
    // Even addressed to the API, an ID token is not an access token.
    let token = dev.edited(|c| {
        let c = c.as_object_mut().unwrap();
        c.insert("nonce".into(), json!("n-0S6_WzA2Mj"));
        c.remove("scp");
    });
    dev.assert_rejected(&token, TokenError::NotAnAccessToken)
        .await;
}

#[tokio::test]
async fn dev_tenant_graph_access_token_replayed_to_the_api_is_rejected() {
    let dev = Dev::start().await;
    let graph = dev
        .tenant
        .access_token_for(
            ALICE,
            WEB_APP_CLIENT_ID,
            ["https://graph.microsoft.com/User.Read"],
            TokenOptions::default(),
        )
        .unwrap();
    dev.assert_rejected(&graph, TokenError::WrongAudience).await;
}

#[tokio::test]
async fn dev_tenant_unknown_kid_after_rotation_makes_exactly_one_jwks_fetch() {
    let dev = Dev::start().await;
    let app = dev.app();
    assert_eq!(
        call_token(&app, &dev.token(TokenOptions::default()))
            .await
            .status,
        200
    );
    let before = dev.jwks_fetches();
    let kid = dev.tenant.rotate_keys(Duration::ZERO);
    let token = dev.token(TokenOptions::default());
    assert_eq!(call_token(&app, &token).await.status, 200);
    assert_eq!(dev.jwks_fetches(), before + 1, "new kid {kid}");
    for _ in 0..5 {
        assert_eq!(
            call_token(&app, &dev.token(TokenOptions::default()))
                .await
                .status,
            200
        );
    }
    assert_eq!(dev.jwks_fetches(), before + 1);
}

#[tokio::test]
async fn dev_tenant_random_kid_flood_makes_at_most_one_fetch_per_cooldown() {
    let dev = Dev::start().await;
    let app = dev.app();
    let token = dev.token(TokenOptions::default());
    let (_, rest) = token.split_once('.').unwrap();
    let before = dev.jwks_fetches();
    let started = Instant::now();
    for i in 0..10_000u32 {
        let mut header = dev.header();
        header["kid"] = json!(format!("flood-{i:05}-{}", i.wrapping_mul(2_654_435_761)));
        let forged = format!("{}.{rest}", b64(header.to_string().as_bytes()));
        let answer = call_token(&app, &forged).await;
        assert_eq!(answer.token_error(), Some(TokenError::UnknownKey));
    }
    let fetches = dev.jwks_fetches() - before;
    let cooldowns = started.elapsed().as_secs() / 30;
    assert!(
        fetches <= 1 + cooldowns,
        "{fetches} fetches in {:?}",
        started.elapsed()
    );
    assert_eq!(call_token(&app, &token).await.status, 200);
}

#[tokio::test]
async fn dev_tenant_jwks_down_with_keys_cached_still_validates() {
    let dev = Dev::start().await;
    let app = dev.app();
    dev.tenant.inject_fault(Endpoint::Jwks, Fault::status(503));
    assert!(dev.validator.jwks().refresh().await.is_err());
    for _ in 0..3 {
        // Distinct tokens: each one is verified, not served from the validation cache.
        let token = dev.token(
            TokenOptions::default().lifetime(Duration::from_secs(600 + u64::from(rand_byte()))),
        );
        assert_eq!(call_token(&app, &token).await.status, 200);
    }
}

fn rand_byte() -> u8 {
    let mut b = [0u8];
    aws_lc_rs::rand::fill(&mut b).unwrap();
    b[0]
}

#[tokio::test]
async fn dev_tenant_scope_missing_is_403() {
    let dev = Dev::start().await;
    let token = dev.edited(|c| c["scp"] = json!("User.Read"));
    let answer = call_token(&dev.app(), &token).await;
    assert_eq!(answer.status, 403);
    assert_eq!(
        answer.challenge.as_deref(),
        Some(
            r#"Bearer error="insufficient_scope", error_description="the token lacks a required scope or role", scope="EditProfileService.ReadWrite""#
        )
    );
}

fn mfa_app(dev: &Dev) -> axum::Router {
    let layer = BearerAuthLayer::new(dev.validator.clone())
        .require_scopes([SCOPE])
        .require_mfa(MfaPolicy::new().amr_mfa());
    app(layer)
}

#[tokio::test]
async fn dev_tenant_mfa_missing_for_cp1_client_is_insufficient_claims() {
    let dev = Dev::start().await;
    let app = mfa_app(&dev);
    // The dev tenant's v2.0 tokens carry no `amr`, as Entra's; a v1.0-style token with
    // `amr: mfa` (re-signed by the tenant) passes the amr check.
    let with_mfa = dev.edited(|c| {
        c["amr"] = json!(["pwd", "mfa"]);
        c["xms_cc"] = json!(["cp1"]);
    });
    assert_eq!(call_token(&app, &with_mfa).await.status, 200);
    let token = dev.token(TokenOptions::default().client_capabilities(["cp1"]));
    let answer = call_token(&app, &token).await;
    assert_eq!(answer.status, 401);
    // base64 of {"access_token":{"amr":{"essential":true,"values":["mfa"]}}}
    let base = dev.tenant.base_url();
    let expected = format!(
        r#"Bearer authorization_uri="{base}/{TENANT_ID}/oauth2/v2.0/authorize", client_id="{API_CLIENT_ID}", error="insufficient_claims", claims="eyJhY2Nlc3NfdG9rZW4iOnsiYW1yIjp7ImVzc2VudGlhbCI6dHJ1ZSwidmFsdWVzIjpbIm1mYSJdfX19""#
    );
    assert_eq!(answer.challenge.unwrap(), expected);
    assert_eq!(
        answer.rejection.unwrap().kind(),
        RejectionKind::InsufficientClaims
    );
}

#[tokio::test]
async fn dev_tenant_mfa_missing_for_other_clients_is_insufficient_user_authentication() {
    let dev = Dev::start().await;
    let layer = BearerAuthLayer::new(dev.validator.clone())
        .require_scopes([SCOPE])
        .require_mfa(MfaPolicy::new().amr_mfa().step_up_acr_values("mfa"));
    let app = app(layer);
    let token = dev.token(TokenOptions::default());
    let answer = call_token(&app, &token).await;
    assert_eq!(answer.status, 401);
    assert_eq!(
        answer.challenge.as_deref(),
        Some(
            r#"Bearer error="insufficient_user_authentication", error_description="multi-factor authentication is required", acr_values="mfa""#
        )
    );
}

/// A dev tenant whose Conditional Access requires MFA for Graph, the API's token client, and a
/// `cp1` caller token for the API obtained without MFA: on-behalf-of for Graph then fails with
/// `interaction_required` and claims.
#[cfg(feature = "msal-lite")]
async fn graph_behind_mfa() -> (DevTenant, msal_lite::ConfidentialClient, String) {
    let mut config = Config::quickstart();
    config
        .conditional_access
        .push(dev_tenant::ConditionalAccessPolicy::require_mfa(
            "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
            [GRAPH_APP_ID],
        ));
    let tenant = DevTenant::start(config).await.unwrap();
    let assertion = tenant
        .access_token_for(
            ALICE,
            WEB_APP_CLIENT_ID,
            [API_SCOPE_URI],
            TokenOptions::default().client_capabilities(["cp1"]),
        )
        .unwrap();
    let client = msal_lite::ConfidentialClient::builder(
        API_CLIENT_ID,
        tenant.authority().as_str(),
        msal_lite::ClientCredential::secret("dev-api-secret"),
    )
    .build()
    .unwrap();
    (tenant, client, assertion)
}

/// An on-behalf-of `interaction_required` (Conditional Access on Graph) becomes the same 401
/// `insufficient_claims` challenge the middleware sends, carrying Entra's claims unchanged.
#[cfg(feature = "msal-lite")]
#[tokio::test]
async fn dev_tenant_obo_interaction_required_becomes_a_claims_challenge() {
    let (_tenant, client, assertion) = graph_behind_mfa().await;
    let error = client
        .acquire_token_on_behalf_of(
            msal_lite::UserAssertion::new(assertion),
            ["https://graph.microsoft.com/User.ReadWrite"],
        )
        .await
        .unwrap_err();
    assert!(error.is_interaction_required(), "{error}");
    let claims = error.claims().expect("a claims challenge").to_owned();
    let rejection = edit_profile_middleware::claims_challenge_from_msal(
        &error,
        Some("https://login.example/authorize"),
        Some(API_CLIENT_ID),
    )
    .expect("interaction_required with claims");
    assert_eq!(rejection.status(), 401);
    assert_eq!(rejection.claims(), Some(claims.as_str()));
    let expected = format!(
        r#"Bearer authorization_uri="https://login.example/authorize", client_id="{API_CLIENT_ID}", error="insufficient_claims", claims="{}""#,
        base64::engine::general_purpose::STANDARD.encode(&claims)
    );
    assert_eq!(rejection.www_authenticate().unwrap(), expected);
}

/// The route gets the caller's token from the layer (no second parse of `Authorization`), uses it
/// as the on-behalf-of assertion, and turns the OBO failure into the layer's own 401 with one
/// call: the challenge carries the realm, the discovered authorization endpoint and the API's
/// client id without the route passing them again.
#[cfg(feature = "msal-lite")]
#[tokio::test]
async fn dev_tenant_route_does_obo_with_the_layers_token_and_answers_with_its_challenge() {
    use axum::response::IntoResponse;
    use edit_profile_middleware::BearerToken;

    let (tenant, client, assertion) = graph_behind_mfa().await;
    let validator = Validator::builder()
        .audience(API_CLIENT_ID)
        .discover(&tenant.authority())
        .await
        .unwrap()
        .build()
        .unwrap();
    let authorization_uri = validator.authorization_endpoint().unwrap().to_owned();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let seen_in_route = seen.clone();
    let layer = BearerAuthLayer::new(validator)
        .require_scopes([SCOPE])
        .realm("EditProfileService")
        .validate()
        .unwrap();
    let app = axum::Router::new()
        .route(
            "/me",
            axum::routing::get(move |token: BearerToken| {
                let client = client.clone();
                let seen = seen_in_route.clone();
                async move {
                    seen.lock().unwrap().push_str(token.as_str());
                    let request = msal_lite::OboRequest::new(
                        (&token).into(),
                        ["https://graph.microsoft.com/User.ReadWrite"],
                    );
                    match client.acquire_token_on_behalf_of_with(request).await {
                        Ok(_) => axum::http::StatusCode::OK.into_response(),
                        Err(error) => match token.challenge_for(&error) {
                            Some(challenge) => challenge.into_response(),
                            None => axum::http::StatusCode::BAD_GATEWAY.into_response(),
                        },
                    }
                }
            }),
        )
        .route_layer(layer);
    let answer = call(&app, Some(&format!("Bearer  {assertion} "))).await;
    assert_eq!(
        *seen.lock().unwrap(),
        assertion,
        "the token, without scheme or spaces"
    );
    assert_eq!(answer.status, 401, "{}", answer.body);
    let rejection = answer.rejection.expect("the rejection in the extensions");
    assert_eq!(rejection.kind(), RejectionKind::InsufficientClaims);
    let challenge = answer.challenge.unwrap();
    let claims = rejection.claims().unwrap();
    assert!(
        claims.contains("capolids") || claims.contains("acrs"),
        "{claims}"
    );
    assert!(
        challenge.starts_with(r#"Bearer realm="EditProfileService", "#),
        "{challenge}"
    );
    assert!(
        challenge.contains(&format!(r#"authorization_uri="{authorization_uri}""#)),
        "{challenge}"
    );
    assert!(
        challenge.contains(&format!(r#"client_id="{API_CLIENT_ID}""#)),
        "{challenge}"
    );
}
