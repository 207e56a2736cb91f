//! Security headers on every response.
//!
//! - `Content-Security-Policy`: nothing loads but the pages' one inline stylesheet (allowed by
//!   its SHA-256 hash, so no `'unsafe-inline'`); no scripts at all; `frame-ancestors 'none'`
//!   (no clickjacking: no site may frame the app); forms submit only to the app itself and to the
//!   authority, where the sign-out and the "sign in again" redirects lead (browsers apply
//!   `form-action` to the redirects that follow a form submission too).
//! - `X-Content-Type-Options: nosniff`: responses are only ever what their type says.
//! - `Referrer-Policy: no-referrer`: page URLs (with query strings) never leave in a `Referer`.
//! - `Cache-Control: no-store` on `/users/*`: pages with personal data are never kept by the
//!   browser's or a proxy's cache (a shared computer's back button shows nothing after sign-out).

use std::sync::Arc;

use aws_lc_rs::digest::{SHA256, digest};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::{HeaderValue, header};
use url::Url;

/// The layout every page extends; its `<style>` element is the only inline content.
const BASE_TEMPLATE: &str = include_str!("../templates/base.html");

/// The headers, built once at start-up.
#[derive(Debug, Clone)]
pub(crate) struct SecurityHeaders {
    csp: HeaderValue,
}

impl SecurityHeaders {
    /// The policy for an app whose users sign in at `authority`.
    pub(crate) fn new(authority: &Url) -> Self {
        let authority_origin = authority.origin().ascii_serialization();
        let policy = format!(
            "default-src 'none'; style-src '{}'; form-action 'self' {authority_origin}; \
             frame-ancestors 'none'; base-uri 'none'",
            style_hash()
        );
        Self {
            // The origin is ASCII and the hash base64: always a valid header value.
            csp: HeaderValue::from_str(&policy).unwrap_or_else(|_| {
                HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'")
            }),
        }
    }
}

/// `sha256-<base64>` of the layout's inline stylesheet, as CSP Level 3 hashes it (the element's
/// text exactly as served: askama copies template text through unchanged).
fn style_hash() -> String {
    let text = BASE_TEMPLATE
        .split_once("<style>")
        .and_then(|(_, rest)| rest.split_once("</style>"))
        .map_or("", |(style, _)| style);
    format!(
        "sha256-{}",
        STANDARD.encode(digest(&SHA256, text.as_bytes()).as_ref())
    )
}

/// Middleware: adds the headers to every response.
pub(crate) async fn add(
    State(headers): State<Arc<SecurityHeaders>>,
    request: Request,
    next: Next,
) -> Response {
    let personal = request.uri().path().starts_with("/users/");
    let mut response = next.run(request).await;
    let out = response.headers_mut();
    out.insert(header::CONTENT_SECURITY_POLICY, headers.csp.clone());
    out.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    out.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if personal {
        out.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

#[cfg(test)]
mod tests {
    use askama::Template as _;

    use super::*;

    #[test]
    fn the_policy_allows_exactly_the_served_stylesheet() {
        let html = crate::pages::Index {
            signed_in: false,
            csrf_token: String::new(),
            name: None,
        }
        .render()
        .unwrap();
        let served = html
            .split_once("<style>")
            .and_then(|(_, rest)| rest.split_once("</style>"))
            .unwrap()
            .0;
        let expected = format!(
            "sha256-{}",
            STANDARD.encode(digest(&SHA256, served.as_bytes()).as_ref())
        );
        let policy = SecurityHeaders::new(&Url::parse("https://contoso.ciamlogin.com/t/").unwrap());
        let policy = policy.csp.to_str().unwrap();
        assert!(
            policy.contains(&format!("style-src '{expected}'")),
            "{policy}"
        );
        assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
        assert!(
            policy.contains("form-action 'self' https://contoso.ciamlogin.com;"),
            "{policy}"
        );
        assert!(!policy.contains("unsafe-inline") && !policy.contains("script-src"));
    }
}
