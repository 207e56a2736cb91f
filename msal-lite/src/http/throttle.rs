//! Throttling as MSAL does it: after the token endpoint answers 429, 5xx or HTTP 400
//! `invalid_grant`, an identical request is answered locally (no network call) until the window
//! ends.
//!
//! What MSAL does, and what msal-lite takes from each (sources read: MSAL.NET
//! `src/client/Microsoft.Identity.Client/OAuth2/Throttling/{RetryAfterProvider,HttpStatusProvider,UiRequiredProvider}.cs`,
//! MSAL JS `lib/msal-common/src/network/ThrottlingUtils.ts` and `RequestThumbprint.ts`, MSAL
//! Python `msal/throttled_http_client.py`):
//!
//! - A response with `Retry-After` (all three): throttled for that many seconds, at most 3600.
//! - 429 or 5xx without `Retry-After`: 60 s (MSAL JS `DEFAULT_THROTTLE_TIME_SECONDS`, MSAL.NET
//!   `HttpStatusProvider`; MSAL Python uses 5 s).
//! - HTTP 400 `invalid_grant` without `Retry-After`: 60 s, as MSAL Python's "400 cache"
//!   (MSAL.NET's `UiRequiredProvider` uses 120 s for silent calls).
//! - The key ("thumbprint") is the token endpoint (authority and tenant), `client_id`, `scope`,
//!   `claims` and a hash of what names the account: the refresh token, the authorization code
//!   or the OBO `assertion`. Volatile credentials (`client_secret`, `client_assertion`) are not
//!   part of it, so a certificate's fresh assertion per call does not defeat the throttle.
//!   Only the SHA-256 of the key is kept, never a token.
//!
//! Deliberate difference: MSAL.NET applies the 429/5xx-without-`Retry-After` and the
//! `invalid_grant` throttles to public clients only; msal-lite (confidential clients only)
//! applies them too, because a confidential client serving many users is what hammers the
//! token endpoint in a retry storm. The retry of the same call by [`RetryPolicy`] is not
//! throttled (it waits for `Retry-After` itself).
//!
//! [`RetryPolicy`]: super::RetryPolicy

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use http::{Method, StatusCode};

use super::{BoxFuture, HttpClient, HttpError, HttpRequest, HttpResponse, retry_after_header};
use crate::time::SharedClock;

/// The window for 429/5xx without `Retry-After` and for `invalid_grant`.
pub(crate) const DEFAULT_THROTTLE: Duration = Duration::from_secs(60);
/// The longest window honoured, whatever `Retry-After` says.
pub(crate) const MAX_THROTTLE: Duration = Duration::from_secs(3600);
/// Entries kept at most (expired ones are dropped first), so a burst of distinct failing
/// requests cannot grow memory without bound (MSAL Python keeps 1024).
const CAPACITY: usize = 1024;

/// Marks a request sent again by the retry policy for the same call: it is not throttled.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RetryAttempt;

/// Why a request was answered from the throttle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Throttled {
    /// Time left in the window.
    pub(crate) remaining: Duration,
    /// The HTTP status that opened the window.
    pub(crate) status: u16,
    /// Whether it was an `invalid_grant` (the user must sign in again).
    pub(crate) invalid_grant: bool,
}

#[derive(Clone, Copy)]
struct Entry {
    key: [u8; 32],
    until: SystemTime,
    status: u16,
    invalid_grant: bool,
}

/// Wraps the transport; shared by every clone of a client.
pub(crate) struct ThrottledHttp {
    inner: Arc<dyn HttpClient>,
    clock: SharedClock,
    entries: Arc<Mutex<Vec<Entry>>>,
}

impl ThrottledHttp {
    pub(crate) fn new(inner: Arc<dyn HttpClient>, clock: SharedClock) -> Self {
        Self {
            inner,
            clock,
            entries: Arc::default(),
        }
    }
}

impl HttpClient for ThrottledHttp {
    fn execute(&self, request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, HttpError>> {
        Box::pin(async move {
            if request.method() != Method::POST {
                return self.inner.execute(request).await;
            }
            let key = thumbprint(&request);
            let retry = request.extensions().get::<RetryAttempt>().is_some();
            let now = self.clock.now();
            if !retry && let Some(throttled) = self.check(&key, now) {
                tracing::info!(
                    remaining_secs = throttled.remaining.as_secs(),
                    status = throttled.status,
                    "request throttled locally: the token endpoint asked to wait"
                );
                return Err(HttpError::throttled(throttled));
            }
            let response = self.inner.execute(request).await?;
            if let Some((window, invalid_grant)) = window_for(&response) {
                self.record(Entry {
                    key,
                    until: self.clock.now() + window,
                    status: response.status().as_u16(),
                    invalid_grant,
                });
            }
            Ok(response)
        })
    }
}

impl ThrottledHttp {
    fn check(&self, key: &[u8; 32], now: SystemTime) -> Option<Throttled> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let entry = entries.iter().find(|e| &e.key == key)?;
        let remaining = entry
            .until
            .duration_since(now)
            .ok()
            .filter(|d| !d.is_zero())?;
        Some(Throttled {
            remaining,
            status: entry.status,
            invalid_grant: entry.invalid_grant,
        })
    }

    fn record(&self, entry: Entry) {
        let now = self.clock.now();
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.retain(|e| e.key != entry.key && e.until > now);
        if entries.len() >= CAPACITY {
            entries.remove(0);
        }
        entries.push(entry);
    }
}

/// How long a response throttles its request, and whether it was an `invalid_grant`.
fn window_for(response: &HttpResponse) -> Option<(Duration, bool)> {
    let status = response.status();
    if status.is_success() {
        return None;
    }
    if let Some(wait) = retry_after_header(response.headers()) {
        return Some((wait.min(MAX_THROTTLE), is_invalid_grant(response)));
    }
    if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
        return Some((DEFAULT_THROTTLE, false));
    }
    if status == StatusCode::BAD_REQUEST && is_invalid_grant(response) {
        return Some((DEFAULT_THROTTLE, true));
    }
    None
}

fn is_invalid_grant(response: &HttpResponse) -> bool {
    #[derive(serde::Deserialize)]
    struct OAuthError<'a> {
        #[serde(borrow)]
        error: Option<std::borrow::Cow<'a, str>>,
    }
    serde_json::from_slice::<OAuthError<'_>>(response.body())
        .ok()
        .and_then(|e| e.error)
        .is_some_and(|e| e == "invalid_grant")
}

/// The SHA-256 of what makes two token requests "identical" for throttling.
fn thumbprint(request: &HttpRequest) -> [u8; 32] {
    const PARTS: [&str; 6] = [
        "client_id",
        "scope",
        "claims",
        "refresh_token",
        "code",
        "assertion",
    ];
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    ctx.update(request.uri().to_string().as_bytes());
    let mut found: [Option<String>; PARTS.len()] = Default::default();
    for (name, value) in url::form_urlencoded::parse(request.body()) {
        if let Some(i) = PARTS.iter().position(|p| *p == name) {
            found[i] = Some(value.into_owned());
        }
    }
    for value in found {
        // A length prefix keeps ("ab", "c") and ("a", "bc") apart.
        let value = value.unwrap_or_default();
        ctx.update(&(value.len() as u64).to_le_bytes());
        ctx.update(value.as_bytes());
    }
    let digest = ctx.finish();
    let mut key = [0u8; 32];
    key.copy_from_slice(digest.as_ref());
    key
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    fn request(body: &'static str) -> HttpRequest {
        http::Request::post("http://127.0.0.1/t/oauth2/v2.0/token")
            .body(Bytes::from_static(body.as_bytes()))
            .unwrap()
    }

    fn response(status: u16, retry_after: Option<&str>, body: &'static str) -> HttpResponse {
        let mut b = http::Response::builder().status(status);
        if let Some(v) = retry_after {
            b = b.header(http::header::RETRY_AFTER, v);
        }
        b.body(Bytes::from_static(body.as_bytes())).unwrap()
    }

    #[test]
    fn thumbprint_ignores_volatile_credentials_and_separates_accounts() {
        let a = thumbprint(&request("client_id=c&scope=s&client_assertion=one"));
        let b = thumbprint(&request("client_id=c&scope=s&client_assertion=two"));
        let c = thumbprint(&request("client_id=c&scope=s2&client_assertion=one"));
        let d = thumbprint(&request("client_id=c&scope=s&refresh_token=r1"));
        let e = thumbprint(&request("client_id=c&scope=s&refresh_token=r2"));
        let f = thumbprint(&request("client_id=c&scope=s&claims=x"));
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(d, e);
        assert_ne!(a, d);
        assert_ne!(a, f);
    }

    #[test]
    fn windows_follow_msal() {
        let s = |d: u64| Some((Duration::from_secs(d), false));
        assert_eq!(window_for(&response(429, Some("7"), "")), s(7));
        assert_eq!(window_for(&response(429, None, "")), s(60));
        assert_eq!(window_for(&response(503, None, "")), s(60));
        assert_eq!(window_for(&response(503, Some("99999"), "")), s(3600));
        assert_eq!(window_for(&response(200, Some("7"), "")), None);
        assert_eq!(
            window_for(&response(400, None, r#"{"error":"invalid_grant"}"#)),
            Some((Duration::from_secs(60), true))
        );
        assert_eq!(
            window_for(&response(400, None, r#"{"error":"invalid_scope"}"#)),
            None
        );
        assert_eq!(window_for(&response(400, None, "not json")), None);
        assert_eq!(window_for(&response(401, None, "")), None);
    }
}
