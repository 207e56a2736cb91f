//! The admin API under `/_admin/`, for loopback clients only, or for holders of the configured
//! `admin_token`: key rotation, revocation, fault injection, request counters, user profiles,
//! the last MFA code, and minting tokens.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, RawQuery, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::errors::json_headers;
use crate::faults::{Endpoint, Fault};
use crate::parse::parse_query;
use crate::state::Tenant;

fn reply(status: StatusCode, body: Value) -> Response {
    (status, json_headers(), body.to_string()).into_response()
}

fn bad(status: StatusCode, message: &str) -> Response {
    reply(status, json!({"error": message}))
}

pub(crate) fn router() -> Router<Arc<Tenant>> {
    Router::new()
        .route("/requests", get(requests))
        .route("/rotate-keys", post(rotate_keys))
        .route("/revoke", post(revoke))
        .route(
            "/faults",
            get(list_faults).post(add_fault).delete(clear_faults),
        )
        .route("/users/{email}", get(user))
        .route("/mfa-code", get(mfa_code))
        .route("/tokens", post(mint))
}

/// The admin routes behind [`guard`].
pub(crate) fn guarded(tenant: Arc<Tenant>) -> Router<Arc<Tenant>> {
    router().layer(middleware::from_fn_with_state(tenant, guard))
}

async fn guard(State(t): State<Arc<Tenant>>, request: Request, next: Next) -> Response {
    if let Some(token) = &t.config.server.admin_token {
        let presented = request
            .headers()
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        if !presented.is_some_and(|p| token.matches(p)) {
            return bad(
                StatusCode::UNAUTHORIZED,
                "the admin API needs Authorization: Bearer {admin_token}",
            );
        }
        return next.run(request).await;
    }
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    if !peer.is_some_and(|p| p.ip().is_loopback()) {
        return bad(
            StatusCode::FORBIDDEN,
            "the admin API answers loopback clients only",
        );
    }
    next.run(request).await
}

fn json_body<T: for<'de> Deserialize<'de> + Default>(body: &[u8]) -> Result<T, String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body).map_err(|e| format!("invalid JSON body: {e}"))
}

async fn requests(State(t): State<Arc<Tenant>>) -> Response {
    let counts: serde_json::Map<String, Value> = Endpoint::ALL
        .iter()
        .map(|e| (e.name().to_owned(), json!(t.counters.get(*e))))
        .collect();
    reply(StatusCode::OK, Value::Object(counts))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RotateBody {
    #[serde(default)]
    grace_secs: u64,
}

async fn rotate_keys(State(t): State<Arc<Tenant>>, body: Bytes) -> Response {
    let body: RotateBody = match json_body(&body) {
        Ok(b) => b,
        Err(m) => return bad(StatusCode::BAD_REQUEST, &m),
    };
    match crate::handle::rotate(&t, Duration::from_secs(body.grace_secs)) {
        Ok(kid) => reply(
            StatusCode::OK,
            json!({"kid": kid, "grace_secs": body.grace_secs}),
        ),
        Err(e) => bad(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RevokeBody {
    #[serde(default)]
    user: String,
}

async fn revoke(State(t): State<Arc<Tenant>>, body: Bytes) -> Response {
    let body: RevokeBody = match json_body(&body) {
        Ok(b) => b,
        Err(m) => return bad(StatusCode::BAD_REQUEST, &m),
    };
    match crate::handle::revoke(&t, &body.user) {
        Some(at) => reply(StatusCode::OK, json!({"user": body.user, "revoked_at": at})),
        None => bad(StatusCode::NOT_FOUND, "unknown user"),
    }
}

#[derive(Debug, Deserialize)]
struct FaultBody {
    endpoint: Endpoint,
    #[serde(flatten)]
    fault: Fault,
}

async fn add_fault(State(t): State<Arc<Tenant>>, body: Bytes) -> Response {
    let body: FaultBody = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => return bad(StatusCode::BAD_REQUEST, &format!("invalid fault: {e}")),
    };
    if let Err(m) = body.fault.validate() {
        return bad(StatusCode::BAD_REQUEST, m);
    }
    t.faults.inject(body.endpoint, body.fault.clone());
    reply(
        StatusCode::CREATED,
        json!({"endpoint": body.endpoint, "fault": body.fault}),
    )
}

async fn list_faults(State(t): State<Arc<Tenant>>) -> Response {
    let list: serde_json::Map<String, Value> = t
        .faults
        .list()
        .into_iter()
        .map(|(e, f)| (e.name().to_owned(), json!(f)))
        .collect();
    reply(StatusCode::OK, Value::Object(list))
}

async fn clear_faults(State(t): State<Arc<Tenant>>, RawQuery(query): RawQuery) -> Response {
    let params = parse_query(query.as_deref().unwrap_or("")).unwrap_or_default();
    match params.non_empty("endpoint").map(str::parse::<Endpoint>) {
        Some(Ok(e)) => t.faults.clear(Some(e)),
        Some(Err(_)) => return bad(StatusCode::BAD_REQUEST, "unknown endpoint"),
        None => t.faults.clear(None),
    }
    StatusCode::NO_CONTENT.into_response()
}

async fn user(State(t): State<Arc<Tenant>>, Path(email): Path<String>) -> Response {
    match t.store().user_by_email(&email) {
        Some(u) => reply(StatusCode::OK, json!(u.profile)),
        None => bad(StatusCode::NOT_FOUND, "unknown user"),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct MintBody {
    /// Raw mode: these claims, signed with the current key.
    claims: Option<Value>,
    /// Raw mode: the JOSE header (the tenant's default when absent).
    header: Option<Value>,
    /// Issued mode: a delegated access token as the token endpoint would issue it.
    user: Option<String>,
    client_id: Option<String>,
    #[serde(default)]
    scopes: Vec<String>,
    #[serde(default)]
    mfa: bool,
    #[serde(default)]
    auth_contexts: Vec<String>,
    #[serde(default)]
    client_capabilities: Vec<String>,
    /// Issued mode: the issuing tenant (home when absent).
    tenant: Option<String>,
}

/// POST `/_admin/tokens`: `{"claims": {...}, "header"?: {...}}` signs exactly those claims (as
/// `DevTenant::mint_token`); `{"user", "client_id", "scopes", "mfa"?, "auth_contexts"?,
/// "client_capabilities"?, "tenant"?}` issues a token as `DevTenant::access_token_for` does. Answers
/// `{"access_token": "..."}`.
async fn mint(State(t): State<Arc<Tenant>>, body: Bytes) -> Response {
    let b: MintBody = match json_body(&body) {
        Ok(b) => b,
        Err(e) => return bad(StatusCode::BAD_REQUEST, &e),
    };
    let token = match (&b.claims, &b.user, &b.client_id) {
        (Some(claims), None, None) => {
            let header = b.header.clone().unwrap_or_else(|| t.jose_header());
            t.sign(&header, claims)
        }
        (None, Some(user), Some(client_id)) => {
            let mut options = crate::TokenOptions::default()
                .mfa(b.mfa)
                .auth_contexts(b.auth_contexts.clone())
                .client_capabilities(b.client_capabilities.clone());
            if let Some(tenant) = &b.tenant {
                options = options.tenant(tenant.clone());
            }
            match crate::handle::user_access_token_for(
                &t,
                user,
                client_id,
                &b.scopes.join(" "),
                options,
            ) {
                Ok(token) => token,
                Err(e) => return bad(StatusCode::BAD_REQUEST, &e.to_string()),
            }
        }
        _ => {
            return bad(
                StatusCode::BAD_REQUEST,
                "send either {\"claims\"} or {\"user\", \"client_id\", \"scopes\"}",
            );
        }
    };
    reply(StatusCode::OK, json!({"access_token": token}))
}

async fn mfa_code(State(t): State<Arc<Tenant>>) -> Response {
    match t.store().last_mfa_code.clone() {
        Some(code) => reply(StatusCode::OK, json!({"code": code})),
        None => bad(StatusCode::NOT_FOUND, "no MFA code was issued yet"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use tower::ServiceExt as _;

    async fn status_from(
        peer: &str,
        admin_token: Option<&str>,
        bearer: Option<&str>,
    ) -> StatusCode {
        let mut config = crate::Config::quickstart();
        config.server.admin_token = admin_token.map(crate::Secret::new);
        let tenant =
            Arc::new(Tenant::new(config, "http://127.0.0.1:1".to_owned(), false, 1).unwrap());
        let app = Router::new()
            .nest("/_admin", guarded(Arc::clone(&tenant)))
            .with_state(tenant);
        let mut req = axum::http::Request::get("/_admin/requests");
        if let Some(b) = bearer {
            req = req.header("authorization", format!("Bearer {b}"));
        }
        let mut req = req.body(Body::empty()).unwrap();
        req.extensions_mut()
            .insert(ConnectInfo(peer.parse::<SocketAddr>().unwrap()));
        app.oneshot(req).await.unwrap().status()
    }

    #[tokio::test]
    async fn admin_api_answers_loopback_only() {
        assert_eq!(
            status_from("127.0.0.1:5000", None, None).await,
            StatusCode::OK
        );
        assert_eq!(status_from("[::1]:5000", None, None).await, StatusCode::OK);
        assert_eq!(
            status_from("192.168.1.20:5000", None, None).await,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            status_from("[2001:db8::1]:5000", None, Some("guess")).await,
            StatusCode::FORBIDDEN
        );
    }

    #[tokio::test]
    async fn admin_token_replaces_the_loopback_rule() {
        let t = Some("s3cret-admin");
        assert_eq!(status_from("192.168.1.20:5000", t, t).await, StatusCode::OK);
        for (peer, bearer) in [
            ("192.168.1.20:5000", None),
            ("192.168.1.20:5000", Some("wrong")),
            // With a token configured, loopback alone is not enough either.
            ("127.0.0.1:5000", None),
        ] {
            assert_eq!(
                status_from(peer, t, bearer).await,
                StatusCode::UNAUTHORIZED,
                "{peer} {bearer:?}"
            );
        }
    }
}
