//! The browser SSO session cookie on the tenant host. Its name carries the port because cookies
//! ignore ports and several dev tenants may share `127.0.0.1`.

use axum::http::{HeaderMap, HeaderValue, header};

use crate::state::Tenant;

fn cookie_name(t: &Tenant) -> String {
    format!("devtenant_sso_{}", t.port)
}

pub(crate) fn session_cookie(t: &Tenant, id: &str) -> HeaderValue {
    let secure = if t.https { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{}={id}; Path=/; HttpOnly; SameSite=Lax{secure}",
        cookie_name(t)
    ))
    .unwrap_or_else(|_| HeaderValue::from_static(""))
}

pub(crate) fn clear_cookie(t: &Tenant) -> HeaderValue {
    HeaderValue::from_str(&format!("{}=; Path=/; HttpOnly; Max-Age=0", cookie_name(t)))
        .unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The SSO session id from the request's cookie.
pub(crate) fn session_id(t: &Tenant, headers: &HeaderMap) -> Option<String> {
    let name = cookie_name(t);
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}
