//! `grant_type=client_credentials` (Microsoft identity platform: "OAuth 2.0 client credentials
//! flow"): app-only tokens with `roles`, for `{resource}/.default` only.

use axum::http::HeaderMap;
use serde_json::{Value, json};

use crate::client_auth::authenticate;
use crate::errors::EntraError;
use crate::parse::Params;
use crate::scopes::app_grant;
use crate::state::Tenant;
use crate::tokens::{ClientAuth, app_access_token};

pub(crate) fn issue(
    t: &Tenant,
    tid: &str,
    headers: &HeaderMap,
    p: &Params,
) -> Result<Value, EntraError> {
    let client = authenticate(t, headers, p)?;
    if client.auth == ClientAuth::Public {
        return Err(EntraError::invalid_client(
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        ));
    }
    let scope = p
        .non_empty("scope")
        .ok_or_else(|| EntraError::missing("scope"))?;
    let grant = app_grant(&t.config, client.app, scope)?;
    let lifetime = t.config.lifetimes.access_token_secs;
    let token = app_access_token(
        t,
        tid,
        &client.app.client_id,
        client.auth,
        &grant.resource,
        &grant.roles,
        lifetime,
    );
    Ok(json!({
        "token_type": "Bearer",
        "scope": grant.response_scope,
        "expires_in": lifetime,
        "ext_expires_in": lifetime,
        "access_token": token,
    }))
}
