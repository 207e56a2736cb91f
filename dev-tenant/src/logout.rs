//! The end-session endpoint (OpenID Connect RP-Initiated Logout): ends the SSO session and
//! redirects to a registered `post_logout_redirect_uri`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::authorize::{bad_page, redirect_uri_matches};
use crate::pages;
use crate::parse::{parse_form, parse_query};
use crate::session::{clear_cookie, session_id};
use crate::state::Tenant;

/// GET or POST `/{tenant}/oauth2/v2.0/logout`: ends the SSO session and redirects to a
/// registered `post_logout_redirect_uri`.
pub(crate) async fn logout(
    State(t): State<Arc<Tenant>>,
    Path(tenant): Path<String>,
    method: Method,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    if !t.tenant_matches(&tenant) {
        return bad_page(
            StatusCode::BAD_REQUEST,
            90002,
            &format!("Tenant '{tenant}' not found."),
        );
    }
    let params = if method == Method::POST {
        parse_form(&body)
    } else {
        parse_query(query.as_deref().unwrap_or(""))
    };
    let params = params.unwrap_or_default();
    if let Some(id) = session_id(&t, &headers) {
        t.store().sessions.remove(&id);
    }
    let target = params.non_empty("post_logout_redirect_uri").filter(|uri| {
        let client = params.non_empty("client_id");
        t.config
            .apps
            .iter()
            .filter(|a| client.is_none_or(|c| a.client_id.eq_ignore_ascii_case(c)))
            .any(|a| {
                a.post_logout_redirect_uris
                    .iter()
                    .chain(&a.redirect_uris)
                    .any(|r| redirect_uri_matches(r, uri))
            })
    });
    let mut response = match target.and_then(|uri| url::Url::parse(uri).ok()) {
        Some(mut url) => {
            if let Some(state) = params.get("state") {
                url.query_pairs_mut().append_pair("state", state);
            }
            let mut r = StatusCode::FOUND.into_response();
            if let Ok(v) = HeaderValue::from_str(url.as_str()) {
                r.headers_mut().insert(header::LOCATION, v);
            }
            r
        }
        None => pages::message(
            StatusCode::OK,
            "You signed out of your account",
            "It's a good idea to close all browser windows.",
        ),
    };
    response
        .headers_mut()
        .append(header::SET_COOKIE, clear_cookie(&t));
    response
}
