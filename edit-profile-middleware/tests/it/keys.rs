//! JWKS behaviour: rotation, single-flight refresh with cooldown, stale-while-error, discovery,
//! the validation cache and its flush on rotation.

use std::time::{Duration, Instant};

use edit_profile_middleware::{BearerAuthLayer, TokenError, Validator};

use crate::support::*;

#[tokio::test]
async fn unknown_kid_after_rotation_makes_exactly_one_fetch() {
    let fixture = Fixture::start().await;
    let app = fixture.app();
    assert_eq!(call_token(&app, &fixture.token(|_| {})).await.status, 200);
    let fetches = fixture.server.fetches();

    let new_key = TestKey::generate("key-2");
    fixture.server.set_jwks(jwks_of(&[&new_key]));
    let token = new_key.sign(
        &header_for("key-2"),
        &access_claims(&fixture.issuer()).to_string(),
    );
    assert_eq!(call_token(&app, &token).await.status, 200);
    assert_eq!(fixture.server.fetches(), fetches + 1);
    // The new key is now known: no further fetches.
    for _ in 0..10 {
        assert_eq!(call_token(&app, &token).await.status, 200);
    }
    assert_eq!(fixture.server.fetches(), fetches + 1);
}

#[tokio::test]
async fn random_kid_flood_makes_at_most_one_fetch_per_cooldown() {
    let fixture = Fixture::start().await;
    let app = fixture.app();
    let claims = access_claims(&fixture.issuer()).to_string();
    // Signing 10,000 tokens would dominate the run; the signature is never reached for an unknown
    // kid, so a fixed signature part is as good.
    let signature = fixture.token(|_| {}).rsplit_once('.').unwrap().1.to_owned();
    let before = fixture.server.fetches();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for chunk in 0..10 {
        let app = app.clone();
        let claims = claims.clone();
        let signature = signature.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..1000 {
                let kid = format!("flood-{chunk}-{i}-{}", i * 7919 % 1013);
                let token = format!(
                    "{}.{}.{signature}",
                    b64(header_for(&kid).as_bytes()),
                    b64(claims.as_bytes())
                );
                let answer = call_token(&app, &token).await;
                assert_eq!(answer.status, 401);
                assert_eq!(answer.token_error(), Some(TokenError::UnknownKey));
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let cooldowns = started.elapsed().as_secs() / 30;
    let fetches = fixture.server.fetches() - before;
    assert!(fetches >= 1, "the first unknown kid may refresh");
    assert!(
        fetches <= 1 + cooldowns,
        "{fetches} fetches in {:?}",
        started.elapsed()
    );
    // Valid tokens kept working throughout.
    assert_eq!(call_token(&app, &fixture.token(|_| {})).await.status, 200);
}

#[tokio::test]
async fn jwks_endpoint_down_with_keys_cached_still_validates() {
    let fixture = Fixture::start().await;
    let app = fixture.app();
    fixture.server.set_down(true);
    assert!(fixture.validator.jwks().refresh().await.is_err());
    assert_eq!(fixture.validator.jwks().key_count(), 1);
    // Fresh tokens (not cached) verify with the last good keys.
    for i in 0..3 {
        let token = fixture.token(|c| c["uti"] = serde_json::json!(i));
        assert_eq!(call_token(&app, &token).await.status, 200);
    }
    // An unknown kid while the endpoint is down: one attempt, then a fast 401.
    let before = fixture.server.fetches();
    let stranger = TestKey::generate("key-9");
    let token = stranger.sign(
        &header_for("key-9"),
        &access_claims(&fixture.issuer()).to_string(),
    );
    for _ in 0..3 {
        let answer = call_token(&app, &token).await;
        assert_eq!(answer.token_error(), Some(TokenError::UnknownKey));
    }
    assert_eq!(fixture.server.fetches(), before + 1);
}

#[tokio::test]
async fn jwks_endpoint_down_at_start_answers_503() {
    let key = TestKey::generate("key-1");
    let server = KeyServer::start(jwks_of(&[&key])).await;
    server.set_down(true);
    let validator = Validator::builder()
        .issuer(server.issuer())
        .jwks_uri(server.jwks_uri())
        .audience(API_CLIENT_ID)
        .build()
        .unwrap();
    let app = app(BearerAuthLayer::new(validator.clone()));
    let token = key.sign(
        &header_for("key-1"),
        &access_claims(&server.issuer()).to_string(),
    );
    for _ in 0..3 {
        let answer = call_token(&app, &token).await;
        assert_eq!(answer.status, 503);
        assert_eq!(answer.challenge, None);
        assert_eq!(answer.token_error(), Some(TokenError::KeysUnavailable));
    }
    assert_eq!(server.fetches(), 1, "fail fast within the cooldown");
    // Recovery: once the endpoint is back, an operator refresh (or the cooldown) restores service.
    server.set_down(false);
    validator.jwks().refresh().await.unwrap();
    assert_eq!(call_token(&app, &token).await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_request_loads_the_keys_single_flight() {
    let key = TestKey::generate("key-1");
    let server = KeyServer::start(jwks_of(&[&key])).await;
    let validator = Validator::builder()
        .issuer(server.issuer())
        .jwks_uri(server.jwks_uri())
        .audience(API_CLIENT_ID)
        .build()
        .unwrap();
    let app = app(BearerAuthLayer::new(validator));
    let token = key.sign(
        &header_for("key-1"),
        &access_claims(&server.issuer()).to_string(),
    );
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (app, token) = (app.clone(), token.clone());
        tasks.push(tokio::spawn(async move {
            call_token(&app, &token).await.status
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), 200);
    }
    assert_eq!(server.fetches(), 1);
}

#[tokio::test]
async fn background_refresh_runs_when_due() {
    let key = TestKey::generate("key-1");
    let server = KeyServer::start(jwks_of(&[&key])).await;
    let validator = Validator::builder()
        .issuer(server.issuer())
        .jwks_uri(server.jwks_uri())
        .audience(API_CLIENT_ID)
        .jwks_refresh_interval(Duration::from_millis(1))
        .build()
        .unwrap();
    validator.jwks().refresh().await.unwrap();
    let app = app(BearerAuthLayer::new(validator));
    let before = server.fetches();
    // Poll: each request past the due time may start a refresh in the background.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut n = 0u64;
    while server.fetches() == before {
        assert!(Instant::now() < deadline, "no background refresh happened");
        n += 1;
        let token = key.sign(
            &header_for("key-1"),
            &access_claims(&server.issuer())
                .to_string()
                .replace("Alice", &format!("Alice{n}")),
        );
        assert_eq!(call_token(&app, &token).await.status, 200);
        tokio::task::yield_now().await;
    }
}

#[tokio::test]
async fn discovery_finds_issuer_and_jwks_uri() {
    let key = TestKey::generate("key-1");
    let server = KeyServer::start(jwks_of(&[&key])).await;
    let validator = Validator::builder()
        .audience(API_CLIENT_ID)
        .discover(&server.authority())
        .await
        .unwrap()
        .build()
        .unwrap();
    assert_eq!(
        validator.authorization_endpoint(),
        Some(format!("{}/{TENANT_ID}/oauth2/v2.0/authorize", server.base).as_str())
    );
    let app = app(BearerAuthLayer::new(validator));
    let token = key.sign(
        &header_for("key-1"),
        &access_claims(&server.issuer()).to_string(),
    );
    assert_eq!(call_token(&app, &token).await.status, 200);
}

#[tokio::test]
async fn repeat_requests_hit_the_validation_cache_until_rotation() {
    let fixture = Fixture::start().await;
    let app = fixture.app();
    let token = fixture.token(|_| {});
    assert_eq!(call_token(&app, &token).await.status, 200);
    assert_eq!(fixture.validator.cached_tokens(), 1);
    assert_eq!(call_token(&app, &token).await.status, 200);
    assert_eq!(fixture.validator.cached_tokens(), 1);

    // Rotate with no grace: the old key disappears.
    let new_key = TestKey::generate("key-2");
    fixture.server.set_jwks(jwks_of(&[&new_key]));
    let fresh = new_key.sign(
        &header_for("key-2"),
        &access_claims(&fixture.issuer()).to_string(),
    );
    assert_eq!(call_token(&app, &fresh).await.status, 200);
    // The cached token was verified with a key that is gone: it must not be served from cache.
    let answer = call_token(&app, &token).await;
    assert_eq!(answer.status, 401);
    assert_eq!(answer.token_error(), Some(TokenError::UnknownKey));
}

#[tokio::test]
async fn cache_is_bounded() {
    let fixture = Fixture::start().await;
    let validator = Validator::builder()
        .issuer(fixture.issuer())
        .jwks_uri(fixture.server.jwks_uri())
        .audience(API_CLIENT_ID)
        .cache_capacity(16)
        .build()
        .unwrap();
    let app = app(BearerAuthLayer::new(validator.clone()));
    for i in 0..64 {
        let token = fixture.token(|c| c["uti"] = serde_json::json!(i));
        assert_eq!(call_token(&app, &token).await.status, 200);
    }
    assert!(validator.cached_tokens() <= 16);
}

/// Issue 18 item 3: configuration that would silently weaken validation is refused at build.
#[tokio::test]
async fn insecure_urls_and_short_cooldowns_are_refused_at_build() {
    use edit_profile_middleware::ConfigError;
    let with_jwks = |uri: &str| {
        Validator::builder()
            .issuer("https://issuer")
            .jwks_uri(uri)
            .audience(API_CLIENT_ID)
    };
    for uri in [
        "http://login.example/keys",
        "HTTP://login.example/keys",
        "http://127.0.0.1.example/keys",
        "http://localhost@login.example/keys",
        "ftp://login.example/keys",
        "login.example/keys",
    ] {
        assert!(
            matches!(
                with_jwks(uri).build(),
                Err(ConfigError::InsecureUrl("jwks"))
            ),
            "{uri}"
        );
    }
    for uri in [
        "https://login.example/keys",
        "http://127.0.0.1:9/keys",
        "http://localhost:9/keys",
        "http://[::1]:9/keys",
    ] {
        assert!(with_jwks(uri).build().is_ok(), "{uri}");
    }
    assert!(
        with_jwks("http://login.example/keys")
            .insecure_allow_http()
            .build()
            .is_ok()
    );
    assert!(matches!(
        Validator::builder()
            .discover("http://login.example/tenant")
            .await,
        Err(ConfigError::InsecureUrl("discovery"))
    ));
    assert!(matches!(
        with_jwks("https://login.example/keys")
            .jwks_refresh_cooldown(Duration::from_millis(999))
            .build(),
        Err(ConfigError::CooldownTooShort)
    ));
    assert!(
        with_jwks("https://login.example/keys")
            .jwks_refresh_cooldown(Duration::from_secs(1))
            .build()
            .is_ok()
    );
}

#[tokio::test]
async fn builder_errors_instead_of_panics() {
    use edit_profile_middleware::ConfigError;
    let base = || {
        Validator::builder()
            .issuer("https://issuer")
            .jwks_uri("http://127.0.0.1:9/keys")
            .audience(API_CLIENT_ID)
    };
    assert!(base().build().is_ok());
    assert!(matches!(
        Validator::builder().jwks_uri("x").audience("a").build(),
        Err(ConfigError::MissingIssuer)
    ));
    assert!(matches!(
        Validator::builder().issuer("i").jwks_uri("x").build(),
        Err(ConfigError::MissingAudience)
    ));
    assert!(matches!(
        Validator::builder().issuer("i").audience("a").build(),
        Err(ConfigError::MissingJwks)
    ));
    assert!(matches!(
        base().clock_skew(Duration::from_secs(3600)).build(),
        Err(ConfigError::ClockSkewTooLarge)
    ));
    assert!(matches!(
        base().max_token_bytes(10).build(),
        Err(ConfigError::TokenSizeOutOfRange)
    ));
    assert!(matches!(
        base().algorithms([]).build(),
        Err(ConfigError::NoAlgorithms)
    ));
    assert!(matches!(
        base()
            .tenant_issuer_template("https://x/{tenantid}/v2.0")
            .build(),
        Err(ConfigError::MissingTenantAllowList)
    ));
    assert!(matches!(
        base()
            .tenant_issuer_template("https://x/v2.0")
            .allow_tenant("t")
            .build(),
        Err(ConfigError::InvalidIssuerTemplate)
    ));
    assert!(matches!(
        base().jwks_json("{}").build(),
        Err(ConfigError::InvalidJwks(_))
    ));
    // Challenge parameters go into `WWW-Authenticate`: a line break is refused at start-up,
    // and a layer used without `validate()` leaves the bad value out rather than sending it.
    let layer = BearerAuthLayer::new(base().build().unwrap());
    assert_eq!(
        layer.clone().realm("bad\nrealm").validate().unwrap_err(),
        edit_profile_middleware::PolicyError::InvalidChallengeText("realm")
    );
    assert_eq!(
        layer
            .clone()
            .realm("ok")
            .challenge_client_id("caf\u{e9}")
            .validate()
            .unwrap_err(),
        edit_profile_middleware::PolicyError::InvalidChallengeText("client_id")
    );
    assert!(layer.realm("EditProfileService").validate().is_ok());
}
