//! The JWT attack suite: one named test per attack. Every case must answer 401 `invalid_token`
//! with the exact challenge, and never reach the handler.

use edit_profile_middleware::{BearerAuthLayer, TokenError, Validator};
use serde_json::json;

use crate::support::*;

async fn assert_rejected(fixture: &Fixture, token: &str, error: TokenError) {
    let answer = call_token(&fixture.app(), token).await;
    assert_eq!(answer.status, 401, "{}", answer.body);
    assert_eq!(
        answer.challenge.as_deref(),
        Some(format!(r#"Bearer error="invalid_token", error_description="{error}""#).as_str())
    );
    assert_eq!(answer.token_error(), Some(error));
    assert!(!answer.body.contains(SCOPE), "handler must not run");
}

#[tokio::test]
async fn valid_token_is_accepted() {
    let fixture = Fixture::start().await;
    let answer = call_token(&fixture.app(), &fixture.token(|_| {})).await;
    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.body,
        format!("11111111-2222-3333-4444-555555555555 {SCOPE}")
    );
    assert!(answer.challenge.is_none());
}

#[tokio::test]
async fn alg_none_is_rejected() {
    let fixture = Fixture::start().await;
    let claims = access_claims(&fixture.issuer()).to_string();
    for alg in ["none", "None", "NONE"] {
        let header = json!({"alg": alg, "kid": "key-1"}).to_string();
        let token = format!("{}.{}.", b64(header.as_bytes()), b64(claims.as_bytes()));
        assert_rejected(&fixture, &token, TokenError::AlgorithmNotAllowed).await;
        // With a (meaningless) signature part, too.
        let token = format!("{}.{}.AAAA", b64(header.as_bytes()), b64(claims.as_bytes()));
        assert_rejected(&fixture, &token, TokenError::AlgorithmNotAllowed).await;
    }
}

#[tokio::test]
async fn hs256_signed_with_the_rsa_public_key_is_rejected() {
    use aws_lc_rs::hmac;
    let fixture = Fixture::start().await;
    let header = json!({"typ": "JWT", "alg": "HS256", "kid": fixture.key.kid}).to_string();
    let claims = access_claims(&fixture.issuer()).to_string();
    let input = format!("{}.{}", b64(header.as_bytes()), b64(claims.as_bytes()));
    let key = hmac::Key::new(hmac::HMAC_SHA256, &fixture.key.public_der());
    let tag = hmac::sign(&key, input.as_bytes());
    let token = format!("{input}.{}", b64(tag.as_ref()));
    assert_rejected(&fixture, &token, TokenError::AlgorithmNotAllowed).await;
}

async fn embedded_header_is_rejected(name: &'static str, value: serde_json::Value) {
    let fixture = Fixture::start().await;
    let attacker = TestKey::generate("attacker");
    let header = json!({"alg": "RS256", "kid": fixture.key.kid, name: value}).to_string();
    // Signed with the real key, so only the header member can be the reason.
    let token = fixture
        .key
        .sign(&header, &access_claims(&fixture.issuer()).to_string());
    assert_rejected(&fixture, &token, TokenError::ForbiddenHeader(name)).await;
    // And signed with the attacker's key that the header points at.
    let token = attacker.sign(&header, &access_claims(&fixture.issuer()).to_string());
    assert_rejected(&fixture, &token, TokenError::ForbiddenHeader(name)).await;
}

#[tokio::test]
async fn embedded_jwk_header_is_rejected() {
    let jwk = TestKey::generate("attacker").jwk();
    embedded_header_is_rejected("jwk", jwk).await;
}

#[tokio::test]
async fn jku_header_is_rejected() {
    embedded_header_is_rejected("jku", json!("https://attacker.example/keys")).await;
}

#[tokio::test]
async fn x5u_header_is_rejected() {
    embedded_header_is_rejected("x5u", json!("https://attacker.example/cert.pem")).await;
}

#[tokio::test]
async fn x5c_header_is_rejected() {
    embedded_header_is_rejected(
        "x5c",
        json!(["MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"]),
    )
    .await;
}

#[tokio::test]
async fn kid_injection_payloads_are_unknown_keys_without_extra_fetches() {
    let fixture = Fixture::start().await;
    // The first unknown kid may fetch once; the cooldown then makes the rest fail fast.
    let before = fixture.server.fetches();
    for kid in [
        "../../../../../../etc/passwd",
        "/dev/null",
        "' OR '1'='1' --",
        "key-1'; DROP TABLE keys; --",
        ".*",
        "(a+)+$",
        "key-.*",
        "key-1\u{0000}",
        "",
    ] {
        let header = json!({"alg": "RS256", "kid": kid}).to_string();
        let token = fixture
            .key
            .sign(&header, &access_claims(&fixture.issuer()).to_string());
        assert_rejected(&fixture, &token, TokenError::UnknownKey).await;
    }
    assert!(fixture.server.fetches() - before <= 1);
}

#[tokio::test]
async fn unknown_crit_is_rejected() {
    let fixture = Fixture::start().await;
    let header =
        json!({"alg": "RS256", "kid": fixture.key.kid, "crit": ["exp"], "exp": 1}).to_string();
    let token = fixture
        .key
        .sign(&header, &access_claims(&fixture.issuer()).to_string());
    assert_rejected(&fixture, &token, TokenError::ForbiddenHeader("crit")).await;
}

#[tokio::test]
async fn jwe_compact_is_rejected() {
    let fixture = Fixture::start().await;
    let header =
        json!({"alg": "RSA-OAEP-256", "enc": "A256GCM", "kid": fixture.key.kid}).to_string();
    let token = format!(
        "{}.{}.{}.{}.{}",
        b64(header.as_bytes()),
        b64(&[7; 256]),
        b64(&[1; 12]),
        b64(b"ciphertext"),
        b64(&[2; 16])
    );
    assert_rejected(&fixture, &token, TokenError::Encrypted).await;
    // A JWE header squeezed into three parts is refused by its `enc` member.
    let token = fixture
        .key
        .sign(&header, &access_claims(&fixture.issuer()).to_string());
    assert_rejected(&fixture, &token, TokenError::Encrypted).await;
}

#[tokio::test]
async fn two_part_token_is_rejected() {
    let fixture = Fixture::start().await;
    let token = fixture.token(|_| {});
    let two = &token[..token.rfind('.').unwrap()];
    assert_rejected(&fixture, two, TokenError::Malformed).await;
}

#[tokio::test]
async fn five_part_token_is_rejected() {
    let fixture = Fixture::start().await;
    let token = fixture.token(|_| {});
    assert_rejected(&fixture, &format!("{token}.a.b"), TokenError::Encrypted).await;
    assert_rejected(&fixture, &format!("{token}.a"), TokenError::Malformed).await;
}

#[tokio::test]
async fn oversize_token_is_rejected() {
    let fixture = Fixture::start().await;
    let token = fixture.token(|c| c["padding"] = json!("x".repeat(16 * 1024)));
    assert!(token.len() > 16 * 1024);
    assert_rejected(&fixture, &token, TokenError::TooLarge).await;
}

/// Issue 18: Entra puts up to 200 group object ids in `groups` before it switches to the
/// `_claim_names` overage form (Microsoft identity platform: "Configure group claims"), which
/// makes tokens of 11–12 KB. The old 8 KiB default refused them.
#[tokio::test]
async fn realistic_token_with_200_groups_is_accepted_by_default() {
    let fixture = Fixture::start().await;
    let token = fixture.token(|c| {
        let groups: Vec<String> = (0..200u32)
            .map(|i| format!("{i:08x}-1b3c-4d5e-8f9a-0b1c2d3e4f5a"))
            .collect();
        c["groups"] = json!(groups);
        c["wids"] = json!(["b79fbf4d-3ef9-4689-8143-76b194e85509"]);
        c["name"] = json!("Ada Lovelace");
        c["preferred_username"] = json!("ada@contoso.example");
    });
    assert!(
        (11 * 1000..16 * 1024).contains(&token.len()),
        "{}",
        token.len()
    );
    assert_eq!(call_token(&fixture.app(), &token).await.status, 200);
}

#[tokio::test]
async fn duplicate_json_keys_in_header_are_rejected() {
    let fixture = Fixture::start().await;
    let header = r#"{"alg":"RS256","kid":"key-1","alg":"RS256"}"#;
    let token = fixture
        .key
        .sign(header, &access_claims(&fixture.issuer()).to_string());
    assert_rejected(&fixture, &token, TokenError::DuplicateMember).await;
}

#[tokio::test]
async fn duplicate_json_keys_in_claims_are_rejected() {
    let fixture = Fixture::start().await;
    let claims = access_claims(&fixture.issuer()).to_string();
    // A second `aud` that a last-wins parser would see.
    let claims = format!(r#"{},"aud":"someone-else"}}"#, &claims[..claims.len() - 1]);
    let token = fixture.key.sign(&header_for("key-1"), &claims);
    assert_rejected(&fixture, &token, TokenError::DuplicateMember).await;
    let claims = access_claims(&fixture.issuer()).to_string();
    let claims = format!(r#"{},"x":1,"x":2}}"#, &claims[..claims.len() - 1]);
    let token = fixture.key.sign(&header_for("key-1"), &claims);
    assert_rejected(&fixture, &token, TokenError::DuplicateMember).await;
}

#[tokio::test]
async fn string_typed_exp_is_rejected() {
    let fixture = Fixture::start().await;
    let exp = (now() + 3600).to_string();
    let token = fixture.token(|c| c["exp"] = json!(exp));
    assert_rejected(&fixture, &token, TokenError::InvalidClaimType("exp")).await;
}

#[tokio::test]
async fn string_typed_nbf_is_rejected() {
    let fixture = Fixture::start().await;
    let token = fixture.token(|c| c["nbf"] = json!("0"));
    assert_rejected(&fixture, &token, TokenError::InvalidClaimType("nbf")).await;
}

#[tokio::test]
async fn missing_exp_is_rejected() {
    let fixture = Fixture::start().await;
    let token = fixture.token(|c| {
        c.as_object_mut().unwrap().remove("exp");
    });
    assert_rejected(&fixture, &token, TokenError::MissingClaim("exp")).await;
}

#[tokio::test]
async fn expired_token_is_rejected_beyond_the_skew() {
    let fixture = Fixture::start().await;
    let expired_at = |exp: u64| {
        move |c: &mut serde_json::Value| {
            c["exp"] = json!(exp);
            c["iat"] = json!(exp - 3600);
            c["nbf"] = json!(exp - 3600);
        }
    };
    let token = fixture.token(expired_at(now() - 301));
    assert_rejected(&fixture, &token, TokenError::Expired).await;
    // Within the 5 minute skew it still passes.
    let token = fixture.token(expired_at(now() - 60));
    assert_eq!(call_token(&fixture.app(), &token).await.status, 200);
}

#[tokio::test]
async fn nbf_in_the_future_is_rejected() {
    let fixture = Fixture::start().await;
    let token = fixture.token(|c| c["nbf"] = json!(now() + 600));
    assert_rejected(&fixture, &token, TokenError::NotYetValid).await;
}

#[tokio::test]
async fn bad_signature_is_rejected() {
    let fixture = Fixture::start().await;
    let token = fixture.token(|_| {});
    let (signed, signature) = token.rsplit_once('.').unwrap();
    let mut flipped = signature.as_bytes().to_vec();
    flipped[10] = if flipped[10] == b'A' { b'B' } else { b'A' };
    let token = format!("{signed}.{}", String::from_utf8(flipped).unwrap());
    assert_rejected(&fixture, &token, TokenError::BadSignature).await;
    // A token signed by a key with the right kid but the wrong private key.
    let impostor = TestKey::generate("key-1");
    let token = impostor.sign(
        &header_for("key-1"),
        &access_claims(&fixture.issuer()).to_string(),
    );
    assert_rejected(&fixture, &token, TokenError::BadSignature).await;
}

#[tokio::test]
async fn wrong_iss_with_the_right_key_is_rejected() {
    let fixture = Fixture::start().await;
    for iss in [
        format!("https://login.microsoftonline.com/{TENANT_ID}/v2.0"),
        format!("{}/", fixture.issuer()),
        fixture.issuer().to_uppercase(),
    ] {
        let token = fixture.token(|c| c["iss"] = json!(iss));
        assert_rejected(&fixture, &token, TokenError::WrongIssuer).await;
    }
}

#[tokio::test]
async fn token_from_another_tenant_in_multi_tenant_mode_is_rejected() {
    let fixture = Fixture::start().await;
    let template = "https://login.microsoftonline.com/{tenantid}/v2.0";
    let validator = Validator::builder()
        .tenant_issuer_template(template)
        .allow_tenant(TENANT_ID)
        .jwks_uri(fixture.server.jwks_uri())
        .audience(API_CLIENT_ID)
        .build()
        .unwrap();
    let app = app(BearerAuthLayer::new(validator).require_scopes([SCOPE]));
    let for_tenant = |tid: &str, iss_tid: &str| {
        let mut claims = access_claims(&template.replace("{tenantid}", iss_tid));
        claims["tid"] = json!(tid);
        fixture.key.sign(&header_for("key-1"), &claims.to_string())
    };
    assert_eq!(
        call_token(&app, &for_tenant(TENANT_ID, TENANT_ID))
            .await
            .status,
        200
    );
    let other = "f645ad92-e38d-4d1a-b510-d1b09a74a8ca";
    let answer = call_token(&app, &for_tenant(other, other)).await;
    assert_eq!(answer.status, 401);
    assert_eq!(answer.token_error(), Some(TokenError::TenantNotAllowed));
    // `tid` and the issuer's tenant must agree.
    let answer = call_token(&app, &for_tenant(TENANT_ID, other)).await;
    assert_eq!(answer.token_error(), Some(TokenError::WrongIssuer));
}

#[tokio::test]
async fn token_for_another_audience_is_rejected() {
    let fixture = Fixture::start().await;
    let token = fixture.token(|c| c["aud"] = json!(WEB_APP_CLIENT_ID));
    assert_rejected(&fixture, &token, TokenError::WrongAudience).await;
    // The App ID URI form of our own audience is accepted (v1.0 tokens).
    let token = fixture.token(|c| {
        c["aud"] = json!(API_URI);
        c["ver"] = json!("1.0");
    });
    assert_eq!(call_token(&fixture.app(), &token).await.status, 200);
}

#[tokio::test]
async fn id_token_used_as_access_token_is_rejected() {
    let fixture = Fixture::start().await;
    // Even an ID token whose audience happens to be the API's client id.
    let token = fixture.token(|c| {
        let c = c.as_object_mut().unwrap();
        c.remove("scp");
        c.insert("nonce".into(), json!("123523"));
    });
    assert_rejected(&fixture, &token, TokenError::NotAnAccessToken).await;
    let token = fixture.token(|c| {
        c["aud"] = json!(WEB_APP_CLIENT_ID);
        c.as_object_mut().unwrap().remove("scp");
    });
    assert_rejected(&fixture, &token, TokenError::WrongAudience).await;
}

#[tokio::test]
async fn graph_access_token_replayed_to_the_api_is_rejected() {
    let fixture = Fixture::start().await;
    for aud in [GRAPH_APP_ID, "https://graph.microsoft.com"] {
        let token = fixture.token(|c| {
            c["aud"] = json!(aud);
            c["scp"] = json!("User.ReadWrite");
        });
        assert_rejected(&fixture, &token, TokenError::WrongAudience).await;
    }
}

#[tokio::test]
async fn missing_credentials_get_a_challenge_without_error() {
    let fixture = Fixture::start().await;
    let app = app(fixture.layer().realm("EditProfileService"));
    for authorization in [None, Some("Basic dXNlcjpwYXNz")] {
        let answer = call(&app, authorization).await;
        assert_eq!(answer.status, 401);
        assert_eq!(
            answer.challenge.as_deref(),
            Some(r#"Bearer realm="EditProfileService""#)
        );
    }
    let answer = call(&app, Some("Bearer ")).await;
    assert_eq!(answer.status, 400);
    assert_eq!(
        answer.challenge.as_deref(),
        Some(
            r#"Bearer realm="EditProfileService", error="invalid_request", error_description="the authorization header has no bearer token""#
        )
    );
    // Routes outside `route_layer` are not affected.
    let response = tower::ServiceExt::oneshot(
        app,
        http::Request::get("/public")
            .body(axum::body::Body::empty())
            .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn garbage_tokens_never_panic() {
    let fixture = Fixture::start().await;
    let app = fixture.app();
    let valid = fixture.token(|_| {});
    let mut cases = vec![
        ".".to_owned(),
        "..".to_owned(),
        "...".to_owned(),
        "a.b.c".to_owned(),
        "e30.e30.".to_owned(),
        "!!!.!!!.!!!".to_owned(),
        format!("{}.", valid),
    ];
    for cut in (0..valid.len()).step_by(97) {
        cases.push(valid[..cut].to_owned());
    }
    for case in cases {
        let answer = call_token(&app, &case).await;
        assert!(
            matches!(answer.status.as_u16(), 400 | 401),
            "{case}: {}",
            answer.status
        );
    }
}

/// Issue 18 item 2: in multi-tenant mode the key's published `issuer` (Entra's `common` JWKS
/// carries one per key) must name the token's tenant, as Microsoft.IdentityModel's
/// `EnableAadSigningKeyIssuerValidation` checks (AadTokenValidationParametersExtension.cs in
/// AzureAD/azure-activedirectory-identitymodel-extensions-for-dotnet).
#[tokio::test]
async fn signing_key_issued_for_another_tenant_is_rejected() {
    const OTHER_TENANT: &str = "0f1e2d3c-4b5a-4968-8776-655443322110";
    let v2 = "https://login.microsoftonline.com/{tenantid}/v2.0";
    let v1 = "https://sts.windows.net/{tenantid}/";
    let tenant_key = TestKey::generate("tenant-key");
    let common_key = TestKey::generate("common-key");
    let mut tenant_jwk = tenant_key.jwk();
    tenant_jwk["issuer"] = json!(v2.replace("{tenantid}", TENANT_ID));
    let mut common_jwk = common_key.jwk();
    common_jwk["issuer"] = json!(v2);
    let validator = Validator::builder()
        .tenant_issuer_template(v2)
        .tenant_issuer_template(v1)
        .allow_tenant(TENANT_ID)
        .allow_tenant(OTHER_TENANT)
        .jwks_json(json!({"keys": [tenant_jwk, common_jwk]}).to_string())
        .audience(API_CLIENT_ID)
        .build()
        .unwrap();
    let token = |key: &TestKey, template: &str, tid: &str| {
        let mut claims = access_claims(&template.replace("{tenantid}", tid));
        claims["tid"] = json!(tid);
        key.sign(&header_for(&key.kid), &claims.to_string())
    };
    // The tenant's own key signs its tokens, v2.0 and v1.0 issuer alike.
    assert!(
        validator
            .validate(&token(&tenant_key, v2, TENANT_ID))
            .await
            .is_ok()
    );
    assert!(
        validator
            .validate(&token(&tenant_key, v1, TENANT_ID))
            .await
            .is_ok()
    );
    // A `{tenantid}` key signs for any allowed tenant.
    assert!(
        validator
            .validate(&token(&common_key, v2, OTHER_TENANT))
            .await
            .is_ok()
    );
    // The first tenant's key cannot vouch for the other tenant.
    for template in [v2, v1] {
        assert_eq!(
            validator
                .validate(&token(&tenant_key, template, OTHER_TENANT))
                .await
                .unwrap_err(),
            TokenError::KeyIssuerMismatch
        );
    }
}
