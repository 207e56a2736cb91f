//! The axum router: Entra paths under `/{tenant}/`, Graph under `/v1.0/`, admin under `/_admin/`.

use std::sync::Arc;

use axum::Router;
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use axum::routing::{get, post};

use crate::errors::EntraError;
use crate::state::Tenant;
use crate::{admin, authorize, discovery, graph, login, logout, token};

pub(crate) fn router(tenant: Arc<Tenant>) -> Router {
    Router::new()
        .route(
            "/{tenant}/v2.0/.well-known/openid-configuration",
            get(discovery::openid_configuration),
        )
        .route("/{tenant}/discovery/v2.0/keys", get(discovery::jwks))
        .route(
            "/{tenant}/oauth2/v2.0/authorize",
            get(authorize::authorize).post(authorize::authorize),
        )
        .route("/{tenant}/oauth2/v2.0/login", post(login::login))
        .route("/{tenant}/oauth2/v2.0/mfa", post(login::mfa))
        .route("/{tenant}/oauth2/v2.0/token", post(token::token))
        .route(
            "/{tenant}/oauth2/v2.0/logout",
            get(logout::logout).post(logout::logout),
        )
        .route("/v1.0/me", get(graph::get_me).patch(graph::patch_me))
        .route("/oidc/userinfo", get(graph::userinfo).post(graph::userinfo))
        .nest("/_admin", admin::guarded(Arc::clone(&tenant)))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(tenant)
}

async fn not_found(uri: Uri) -> Response {
    EntraError::new(
        StatusCode::NOT_FOUND,
        "invalid_request",
        90100,
        format!("The path '{}' is not served by this tenant.", uri.path()),
    )
    .into_response_for(None)
}

async fn method_not_allowed() -> Response {
    EntraError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "invalid_request",
        900561,
        "The endpoint does not accept this request method.",
    )
    .into_response_for(None)
}
