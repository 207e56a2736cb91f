//! Policy outcomes through the real app: 403 insufficient_scope, both MFA challenge forms, roles,
//! custom checks, and the pluggable rejection response.

use std::time::Duration;

use axum::body::Body;
use edit_profile_middleware::{BearerRejection, MfaPolicy, RejectionKind};
use http::Response;
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn missing_scope_is_403_insufficient_scope() {
    let fixture = Fixture::start().await;
    let token = fixture.token(|c| c["scp"] = json!("Profile.Read"));
    let answer = call_token(&fixture.app(), &token).await;
    assert_eq!(answer.status, 403);
    assert_eq!(
        answer.challenge.as_deref(),
        Some(
            r#"Bearer error="insufficient_scope", error_description="the token lacks a required scope or role", scope="EditProfileService.ReadWrite""#
        )
    );
    assert_eq!(
        answer.rejection.unwrap().kind(),
        RejectionKind::InsufficientScope
    );
    let body: serde_json::Value = serde_json::from_str(&answer.body).unwrap();
    assert_eq!(body["error"], "insufficient_scope");
}

#[tokio::test]
async fn app_only_token_needs_the_role() {
    let fixture = Fixture::start().await;
    let layer = fixture.layer().require_roles(["EditProfile.ReadWrite.All"]);
    let app = app(layer);
    let app_token = |roles: serde_json::Value| {
        fixture.token(|c| {
            c.as_object_mut().unwrap().remove("scp");
            c["roles"] = roles;
        })
    };
    assert_eq!(
        call_token(&app, &app_token(json!(["EditProfile.ReadWrite.All"])))
            .await
            .status,
        200
    );
    let answer = call_token(&app, &app_token(json!(["Other.Role"]))).await;
    assert_eq!(answer.status, 403);
    // Only scopes are named: a client cannot request an app role by scope name.
    assert_eq!(
        answer.challenge.as_deref(),
        Some(
            r#"Bearer error="insufficient_scope", error_description="the token lacks a required scope or role", scope="EditProfileService.ReadWrite""#
        )
    );
}

fn mfa_layer(fixture: &Fixture) -> edit_profile_middleware::BearerAuthLayer {
    fixture
        .layer()
        .require_mfa(MfaPolicy::new().amr_mfa().auth_context("c1"))
        .authorization_uri(&format!(
            "{}/{TENANT_ID}/oauth2/v2.0/authorize",
            fixture.server.base
        ))
        .validate()
        .unwrap()
}

#[tokio::test]
async fn missing_mfa_for_cp1_client_is_insufficient_claims() {
    let fixture = Fixture::start().await;
    let app = app(mfa_layer(&fixture));
    let token = fixture.token(|c| {
        c["amr"] = json!(["pwd"]);
        c["xms_cc"] = json!(["CP1"]);
    });
    let answer = call_token(&app, &token).await;
    assert_eq!(answer.status, 401);
    // base64 of {"access_token":{"acrs":{"essential":true,"value":"c1"}}}
    let expected = format!(
        r#"Bearer authorization_uri="{}/{TENANT_ID}/oauth2/v2.0/authorize", client_id="{API_CLIENT_ID}", error="insufficient_claims", claims="eyJhY2Nlc3NfdG9rZW4iOnsiYWNycyI6eyJlc3NlbnRpYWwiOnRydWUsInZhbHVlIjoiYzEifX19""#,
        fixture.server.base
    );
    assert_eq!(answer.challenge.unwrap(), expected);
    let rejection = answer.rejection.unwrap();
    assert_eq!(rejection.kind(), RejectionKind::InsufficientClaims);
    assert_eq!(
        rejection.claims(),
        Some(r#"{"access_token":{"acrs":{"essential":true,"value":"c1"}}}"#)
    );
}

#[tokio::test]
async fn missing_mfa_for_other_clients_is_insufficient_user_authentication() {
    let fixture = Fixture::start().await;
    let layer = fixture
        .layer()
        .require_mfa(MfaPolicy::new().auth_context("c1"))
        .require_recent_authentication(Duration::from_secs(600));
    let app = app(layer);
    let token = fixture.token(|c| c["auth_time"] = json!(now() - 3600));
    let answer = call_token(&app, &token).await;
    assert_eq!(answer.status, 401);
    assert_eq!(
        answer.challenge.as_deref(),
        Some(
            r#"Bearer error="insufficient_user_authentication", error_description="multi-factor authentication is required", acr_values="c1", max_age="600""#
        )
    );
    assert_eq!(
        answer.rejection.unwrap().kind(),
        RejectionKind::InsufficientUserAuthentication
    );
}

/// Issue 18: this test used to assert that a recent `auth_time` alone satisfied the MFA policy.
/// That was wrong (a recent password sign-in is not MFA); recency is now its own requirement.
#[tokio::test]
async fn mfa_satisfied_by_amr_or_acrs_and_recency_is_separate() {
    let fixture = Fixture::start().await;
    let layer = fixture
        .layer()
        .require_mfa(MfaPolicy::new().amr_mfa().auth_context("c1"))
        .require_recent_authentication(Duration::from_secs(600));
    let app = app(layer);
    let recent = now() - 60;
    for edit in [
        json!({"amr": ["pwd", "mfa"], "auth_time": recent}),
        json!({"acrs": ["c1"], "auth_time": recent}),
    ] {
        let token = fixture.token(|c| {
            for (k, v) in edit.as_object().unwrap() {
                c[k] = v.clone();
            }
        });
        assert_eq!(call_token(&app, &token).await.status, 200, "{edit}");
    }
    // A recent password-only sign-in is not MFA.
    let token = fixture.token(|c| {
        c["amr"] = json!(["pwd"]);
        c["auth_time"] = json!(recent);
    });
    let answer = call_token(&app, &token).await;
    assert_eq!(answer.status, 401);
    assert_eq!(
        answer.rejection.unwrap().kind(),
        RejectionKind::InsufficientUserAuthentication
    );
    // MFA an hour ago: recency alone fails, and the challenge asks only for max_age.
    let token = fixture.token(|c| {
        c["amr"] = json!(["pwd", "mfa"]);
        c["auth_time"] = json!(now() - 3600);
    });
    let answer = call_token(&app, &token).await;
    assert_eq!(answer.status, 401);
    assert_eq!(
        answer.challenge.as_deref(),
        Some(
            r#"Bearer error="insufficient_user_authentication", error_description="a more recent authentication is required", max_age="600""#
        )
    );
}

#[tokio::test]
async fn invalid_policy_is_refused_and_fails_closed() {
    let fixture = Fixture::start().await;
    let none: [&str; 0] = [];
    assert_eq!(
        fixture.layer().require_scopes(none).validate().unwrap_err(),
        edit_profile_middleware::PolicyError::EmptyRequirement("scopes")
    );
    assert_eq!(
        fixture
            .layer()
            .require_mfa(MfaPolicy::new())
            .validate()
            .unwrap_err(),
        edit_profile_middleware::PolicyError::MfaWithoutProof
    );
    // Used anyway, the empty role list refuses a token that would pass every other check.
    let layer = edit_profile_middleware::BearerAuthLayer::new(fixture.validator.clone())
        .require_roles(none);
    let answer = call_token(&app(layer), &fixture.token(|_| {})).await;
    assert_eq!(answer.status, 403);
}

#[tokio::test]
async fn missing_role_alone_is_403_without_scope_param() {
    let fixture = Fixture::start().await;
    let layer = edit_profile_middleware::BearerAuthLayer::new(fixture.validator.clone())
        .require_roles(["EditProfile.ReadWrite.All"]);
    let answer = call_token(&app(layer), &fixture.token(|_| {})).await;
    assert_eq!(answer.status, 403);
    assert_eq!(
        answer.challenge.as_deref(),
        Some(
            r#"Bearer error="insufficient_scope", error_description="the token lacks a required scope or role""#
        )
    );
}

#[tokio::test]
async fn custom_check_denies_with_403() {
    let fixture = Fixture::start().await;
    let app = app(fixture
        .layer()
        .check(|claims| claims.tid() == Some("someone-else")));
    let answer = call_token(&app, &fixture.token(|_| {})).await;
    assert_eq!(answer.status, 403);
    assert_eq!(
        answer.challenge.as_deref(),
        Some(
            r#"Bearer error="insufficient_scope", error_description="the token does not satisfy the policy of this route""#
        )
    );
}

#[tokio::test]
async fn rejection_rendering_is_pluggable() {
    let fixture = Fixture::start().await;
    let layer = fixture
        .layer()
        .with_rejection_response(|rejection: &BearerRejection| {
            let mut response =
                Response::new(Body::from(format!("custom: {}", rejection.description())));
            *response.status_mut() = rejection.status();
            response
        });
    let app = crate::support::app_with(layer);
    let answer = call_token(&app, &fixture.token(|c| c["exp"] = json!(1))).await;
    assert_eq!(answer.status, 401);
    assert_eq!(answer.body, "custom: the token is expired");
    assert_eq!(answer.challenge, None);
    // The typed rejection is still in the extensions.
    assert_eq!(
        answer.rejection.unwrap().kind(),
        RejectionKind::InvalidToken
    );
}

#[tokio::test]
async fn claims_challenge_helper_renders_the_same_401() {
    let rejection = edit_profile_middleware::claims_challenge(
        r#"{"access_token":{"capolids":{"essential":true,"values":["c1"]}}}"#,
        None,
        Some(API_CLIENT_ID),
    );
    assert_eq!(rejection.status(), 401);
    assert_eq!(
        rejection.www_authenticate().unwrap(),
        format!(
            r#"Bearer client_id="{API_CLIENT_ID}", error="insufficient_claims", claims="eyJhY2Nlc3NfdG9rZW4iOnsiY2Fwb2xpZHMiOnsiZXNzZW50aWFsIjp0cnVlLCJ2YWx1ZXMiOlsiYzEiXX19fQ==""#
        )
    );
}

#[tokio::test]
async fn policies_are_per_route_with_route_layer() {
    use axum::Router;
    use axum::routing::get;
    use tower::ServiceExt as _;

    let fixture = Fixture::start().await;
    let read = edit_profile_middleware::BearerAuthLayer::new(fixture.validator.clone())
        .require_any_scope([SCOPE, "Profile.Read"]);
    let admin = edit_profile_middleware::BearerAuthLayer::new(fixture.validator.clone())
        .require_roles(["Profile.Admin"]);
    let app = Router::new()
        .merge(
            Router::new()
                .route("/profile", get(|| async { "profile" }))
                .route_layer(read),
        )
        .merge(
            Router::new()
                .route("/admin", get(|| async { "admin" }))
                .route_layer(admin),
        );
    let token = fixture.token(|_| {});
    let status = |path: &'static str| {
        let app = app.clone();
        let token = token.clone();
        async move {
            app.oneshot(
                http::Request::get(path)
                    .header(http::header::AUTHORIZATION, format!("Bearer {token}"))
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap()
            .status()
        }
    };
    assert_eq!(status("/profile").await, 200);
    assert_eq!(status("/admin").await, 403);
    assert_eq!(status("/missing").await, 404, "unmatched routes stay 404");
}
