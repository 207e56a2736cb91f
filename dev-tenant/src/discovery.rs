//! OpenID Connect discovery and the JWKS (OpenID Connect Discovery 1.0; Microsoft identity
//! platform: "OpenID Connect on the Microsoft identity platform").

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::errors::{EntraError, json_headers};
use crate::state::Tenant;

fn unknown_tenant(tenant: &str) -> Response {
    EntraError::invalid_request(90002, format!("Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."))
        .into_response_for(None)
}

/// GET `/{tenant}/v2.0/.well-known/openid-configuration`. Endpoints use the tenant id, as Entra's do.
pub(crate) async fn openid_configuration(
    State(t): State<Arc<Tenant>>,
    Path(tenant): Path<String>,
) -> Response {
    let Some(tid) = t.resolve_tenant(&tenant) else {
        return unknown_tenant(&tenant);
    };
    let base = format!("{}/{tid}", t.base_url);
    let doc = json!({
        "token_endpoint": format!("{base}/oauth2/v2.0/token"),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": format!("{base}/discovery/v2.0/keys"),
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code"],
        "code_challenge_methods_supported": ["plain", "S256"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials", "urn:ietf:params:oauth:grant-type:jwt-bearer"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": t.issuer_of(tid),
        "request_uri_parameter_supported": false,
        "userinfo_endpoint": format!("{}/oidc/userinfo", t.base_url),
        "authorization_endpoint": format!("{base}/oauth2/v2.0/authorize"),
        "http_logout_supported": true,
        "frontchannel_logout_supported": true,
        "end_session_endpoint": format!("{base}/oauth2/v2.0/logout"),
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username", "name", "tid", "ver", "at_hash", "c_hash", "email", "oid", "amr"],
        "tenant_region_scope": null,
        "cloud_instance_name": "ciamlogin.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": "graph.microsoft.com",
        "rbac_url": "https://pas.windows.net",
    });
    (StatusCode::OK, json_headers(), doc.to_string()).into_response()
}

/// GET `/{tenant}/discovery/v2.0/keys`.
pub(crate) async fn jwks(State(t): State<Arc<Tenant>>, Path(tenant): Path<String>) -> Response {
    if !t.tenant_matches(&tenant) {
        return unknown_tenant(&tenant);
    }
    let jwks = {
        let mut keys = t
            .keys
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        keys.prune();
        keys.jwks()
    };
    (StatusCode::OK, json_headers(), jwks.to_string()).into_response()
}
