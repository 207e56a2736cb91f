//! `POST /updateUserInfo` and `GET /healthz`.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use edit_profile_middleware::{BearerClaims, BearerToken};
use http::{HeaderMap, StatusCode, header};
use serde_json::json;

use crate::AppState;
use crate::graph::GraphError;
use crate::profile::ProfileUpdate;

/// The Graph permission the API needs on the user's behalf.
pub const GRAPH_SCOPE: &str = "User.ReadWrite";

/// `GET /healthz`: the process is up and serving.
pub(crate) async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

/// `POST /updateUserInfo`: validate the body, exchange the caller's token on-behalf-of for a
/// Graph token, `PATCH /v1.0/me`. The bearer token was validated (signature, issuer, audience,
/// expiry, scope, MFA) by the middleware before this runs.
pub(crate) async fn update_user_info(
    State(state): State<Arc<AppState>>,
    BearerClaims(claims): BearerClaims,
    token: BearerToken,
    body: Bytes,
) -> Response {
    let update = match ProfileUpdate::parse(&body) {
        Ok(update) => update,
        Err(e) => return problem(StatusCode::BAD_REQUEST, "invalid_body", &e.to_string()),
    };
    let update = match update.validate() {
        Ok(update) => update,
        Err(e) => {
            return problem(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_profile",
                &e.to_string(),
            );
        }
    };
    tracing::info!(oid = claims.oid().unwrap_or(""), "updating profile");

    // One retry with the claims Graph asks for (continuous access evaluation), as
    // Microsoft.Identity.Web's downstream API helper does; a second challenge goes to the caller.
    let mut claims_request: Option<String> = None;
    for attempt in 0..2 {
        let graph_token = match state.obo(&token, claims_request.as_deref()).await {
            Ok(graph_token) => graph_token,
            Err(response) => return response,
        };
        match state.graph.update_me(graph_token.secret(), &update).await {
            Ok(()) => return StatusCode::NO_CONTENT.into_response(),
            Err(GraphError::ClaimsChallenge { www_authenticate }) => {
                let mut challenge_headers = HeaderMap::new();
                if let Ok(value) = www_authenticate.parse() {
                    challenge_headers.insert(header::WWW_AUTHENTICATE, value);
                }
                let parsed =
                    msal_lite::challenge::ClaimsChallenge::from_headers(&challenge_headers);
                match parsed {
                    Some(challenge) if attempt == 0 => {
                        claims_request = Some(challenge.claims().to_owned());
                    }
                    Some(challenge) => {
                        return token
                            .insufficient_claims(challenge.claims())
                            .into_response();
                    }
                    None => {
                        return problem(
                            StatusCode::BAD_GATEWAY,
                            "graph_failed",
                            "Microsoft Graph sent an unreadable claims challenge",
                        );
                    }
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "graph PATCH /me failed");
                return graph_failure(&e);
            }
        }
    }
    problem(
        StatusCode::BAD_GATEWAY,
        "graph_failed",
        "Microsoft Graph kept asking for more claims",
    )
}

impl AppState {
    /// On-behalf-of for Graph with the caller's token; a failure is already the response to send.
    async fn obo(
        &self,
        caller: &BearerToken,
        claims: Option<&str>,
    ) -> Result<msal_lite::AccessToken, Response> {
        let mut request = msal_lite::OboRequest::new(caller.into(), [GRAPH_SCOPE]);
        if let Some(claims) = claims {
            request = request.claims(claims);
        }
        match self.msal.acquire_token_on_behalf_of_with(request).await {
            Ok(result) => Ok(result.access_token().clone()),
            Err(e) if e.is_interaction_required() => {
                // Conditional Access, consent or revocation. With claims (Conditional Access):
                // the layer's own 401 with them, else with the ones Graph asked for (Microsoft
                // identity platform, "On-Behalf-Of flow": reply 401 with the claims challenge).
                tracing::info!(error = %e, "on-behalf-of needs user interaction");
                if let Some(challenge) = caller.challenge_for(&e) {
                    return Err(challenge.into_response());
                }
                if let Some(claims) = claims {
                    return Err(caller.insufficient_claims(claims).into_response());
                }
                Err(interaction_without_claims(&e))
            }
            Err(e) => {
                tracing::warn!(error = %e, "on-behalf-of failed");
                Err(problem(
                    StatusCode::BAD_GATEWAY,
                    "token_exchange_failed",
                    "could not obtain a token for Microsoft Graph",
                ))
            }
        }
    }
}

/// An on-behalf-of failure that needs the user but names no claims.
///
/// Consent and interaction the tenant asks for are not fixed by a new token for this API: a
/// 401 `invalid_token` would send the caller to sign in silently, get the same token and come
/// back (a sign-in loop). They are 403 with a body saying what the client must do (RFC 6750
/// §3.1: `insufficient_scope`-like, the token is valid but not enough). Only a refused caller
/// token (`invalid_grant` for an expired or revoked assertion, `login_required`) is 401.
fn interaction_without_claims(error: &msal_lite::Error) -> Response {
    let (code, suberror) = error
        .server_error()
        .map_or(("", ""), |s| (s.error(), s.suberror().unwrap_or("")));
    if code == "consent_required" || suberror == "consent_required" {
        return problem(
            StatusCode::FORBIDDEN,
            "consent_required",
            "this API is not allowed to call Microsoft Graph for the user: an administrator must \
             grant its permissions (or the client must ask the user to consent to them in an \
             interactive sign-in, prompt=consent); signing in again without that does not help",
        );
    }
    if code == "interaction_required" {
        return problem(
            StatusCode::FORBIDDEN,
            "interaction_required",
            "the tenant needs the user to act (for example to register for MFA or accept terms \
             of use): send the user to an interactive sign-in for this API's scope with \
             prompt=login, then call again",
        );
    }
    refused_assertion()
}

/// 401 `invalid_token` (RFC 6750 §3.1) for a caller token the token endpoint refused.
fn refused_assertion() -> Response {
    let mut response = problem(
        StatusCode::UNAUTHORIZED,
        "invalid_token",
        "the token was refused by the token endpoint; sign in again",
    );
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        http::HeaderValue::from_static(
            r#"Bearer error="invalid_token", error_description="the token was refused by the token endpoint""#,
        ),
    );
    response
}

fn graph_failure(error: &GraphError) -> Response {
    match error {
        GraphError::Status { status, code, .. } => problem_with(
            StatusCode::BAD_GATEWAY,
            json!({
                "error": "graph_failed",
                "message": "Microsoft Graph did not update the profile",
                "graph_status": status.as_u16(),
                "graph_code": code,
            }),
        ),
        _ => problem(
            StatusCode::BAD_GATEWAY,
            "graph_failed",
            "Microsoft Graph could not be reached",
        ),
    }
}

/// A small JSON error body: `{"error": code, "message": message}`.
pub(crate) fn problem(status: StatusCode, error: &str, message: &str) -> Response {
    problem_with(status, json!({ "error": error, "message": message }))
}

fn problem_with(status: StatusCode, body: serde_json::Value) -> Response {
    (status, Json(body)).into_response()
}
