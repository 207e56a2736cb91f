//! The sign-in flow state (PKCE verifier, state, nonce, where to return) in an encrypted cookie.
//!
//! Why a cookie of its own: the tenant returns the code with `response_mode=form_post`, a
//! cross-site POST from the tenant's site to ours. Browsers do not send `SameSite=Lax` cookies
//! (our session) on it, so the flow state must ride in a `SameSite=None; Secure` cookie — what
//! ASP.NET Core's OpenID Connect handler (and so Microsoft.Identity.Web) does with its nonce and
//! correlation cookies. The cookie binds the flow to this browser (login CSRF protection via
//! `state`), lives 10 minutes, is `HttpOnly`, and is sealed with AES-256-GCM so the verifier is
//! neither readable nor forgeable. Chromium treats `http://localhost` as a secure context, so
//! `Secure` cookies work in local development too.
//!
//! Over https the cookie is named `__Host-ep.flow` with `Path=/` and no `Domain`: browsers then
//! refuse any `Set-Cookie` for that name that is not `Secure`, comes from another (sub)domain or
//! is scoped to a path (RFC 6265bis, "Cookie Name Prefixes"), so a sibling subdomain cannot plant
//! or shadow it. Over plain http (loopback development only) the prefix cannot be used, since
//! browsers tie it to a secure origin, and the cookie is `ep.flow` with `Path=/auth`.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use msal_lite::AuthCodeFlow;
use serde::{Deserialize, Serialize};

/// The cookie's name over plain http (loopback development).
pub const COOKIE_NAME: &str = "ep.flow";
/// The cookie's name over https (`__Host-` prefix: `Secure`, `Path=/`, no `Domain`).
pub const HOST_COOKIE_NAME: &str = "__Host-ep.flow";
/// How long a sign-in may take.
pub const MAX_AGE_SECS: u64 = 600;
/// Binds sealed values to this purpose and format version.
const AAD: &[u8] = b"edit-profile/flow-cookie/v1";

/// What the redirect handler needs to finish a sign-in.
#[derive(Debug, Serialize, Deserialize)]
pub struct PendingSignIn {
    /// msal-lite's flow state (verifier, state, nonce).
    pub flow: AuthCodeFlow,
    /// The local path to return to afterwards.
    pub return_to: String,
    /// When the flow started (unix seconds).
    pub started_at: u64,
}

/// Seals and opens flow cookies.
pub struct FlowSealer {
    key: LessSafeKey,
    rng: SystemRandom,
}

impl std::fmt::Debug for FlowSealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FlowSealer([redacted])")
    }
}

impl FlowSealer {
    /// A sealer with this key, or a random one (flows then do not survive a restart and do not
    /// move between instances).
    pub fn new(key: Option<&crate::config::CookieKey>) -> Self {
        let rng = SystemRandom::new();
        let mut bytes = [0u8; 32];
        match key {
            Some(k) => bytes = k.0,
            None => rng
                .fill(&mut bytes)
                // The system RNG failing is not something a web app can recover from.
                .expect("system random number generator"),
        }
        let key = LessSafeKey::new(
            UnboundKey::new(&AES_256_GCM, &bytes).expect("a 32-byte key fits AES-256-GCM"),
        );
        Self { key, rng }
    }

    /// The cookie value for `pending`: base64url(nonce || ciphertext || tag).
    pub fn seal(&self, pending: &PendingSignIn) -> Result<String, SealError> {
        let mut data = serde_json::to_vec(pending).map_err(|_| SealError)?;
        let mut nonce = [0u8; NONCE_LEN];
        self.rng.fill(&mut nonce).map_err(|_| SealError)?;
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(AAD),
                &mut data,
            )
            .map_err(|_| SealError)?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&data);
        Ok(URL_SAFE_NO_PAD.encode(out))
    }

    /// Opens a cookie value; `None` for anything tampered, foreign, truncated or expired.
    pub fn open(&self, value: &str, now: u64) -> Option<PendingSignIn> {
        // A real cookie is well under 2 KiB; refuse to decode anything much larger.
        if value.len() > 8 * 1024 {
            return None;
        }
        let mut bytes = URL_SAFE_NO_PAD.decode(value).ok()?;
        if bytes.len() < NONCE_LEN {
            return None;
        }
        let (nonce, sealed) = bytes.split_at_mut(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let plain = self.key.open_in_place(nonce, Aad::from(AAD), sealed).ok()?;
        let pending: PendingSignIn = serde_json::from_slice(plain).ok()?;
        (now.saturating_sub(pending.started_at) <= MAX_AGE_SECS).then_some(pending)
    }
}

/// Sealing failed (serialization or the RNG).
#[derive(Debug, thiserror::Error)]
#[error("could not seal the sign-in flow")]
pub struct SealError;

/// The cookie's name: [`HOST_COOKIE_NAME`] when the app is served over https.
pub fn cookie_name(https: bool) -> &'static str {
    if https { HOST_COOKIE_NAME } else { COOKIE_NAME }
}

/// The name, path and attributes shared by [`set_cookie`] and [`clear_cookie`].
fn attributes(https: bool) -> (&'static str, &'static str) {
    // `__Host-` requires `Path=/`; over http the narrower path keeps the cookie off other pages.
    if https {
        (HOST_COOKIE_NAME, "/")
    } else {
        (COOKIE_NAME, "/auth")
    }
}

/// `Set-Cookie` for a new flow.
pub fn set_cookie(value: &str, https: bool) -> String {
    let (name, path) = attributes(https);
    format!("{name}={value}; Path={path}; Max-Age={MAX_AGE_SECS}; HttpOnly; Secure; SameSite=None")
}

/// `Set-Cookie` that deletes the flow cookie.
pub fn clear_cookie(https: bool) -> String {
    let (name, path) = attributes(https);
    format!("{name}=; Path={path}; Max-Age=0; HttpOnly; Secure; SameSite=None")
}

/// The flow cookie's value in a `Cookie` request header, if present.
pub fn from_headers(headers: &http::HeaderMap, https: bool) -> Option<&str> {
    let wanted = cookie_name(https);
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == wanted)
        .map(|(_, value)| value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn over_https_the_cookie_has_the_host_prefix_and_its_rules() {
        for cookie in [set_cookie("v", true), clear_cookie(true)] {
            assert!(cookie.starts_with("__Host-ep.flow="), "{cookie}");
            assert!(
                cookie.contains("; Path=/;") && cookie.contains("; Secure"),
                "{cookie}"
            );
            assert!(!cookie.to_ascii_lowercase().contains("domain="), "{cookie}");
        }
        for cookie in [set_cookie("v", false), clear_cookie(false)] {
            assert!(cookie.starts_with("ep.flow="), "{cookie}");
            assert!(cookie.contains("; Path=/auth;"), "{cookie}");
        }
    }

    #[test]
    fn the_cookie_is_read_under_the_name_it_was_set_with() {
        let mut headers = http::HeaderMap::new();
        headers.insert(
            http::header::COOKIE,
            http::HeaderValue::from_static("ep.flow=plain; __Host-ep.flow=host"),
        );
        assert_eq!(from_headers(&headers, true), Some("host"));
        assert_eq!(from_headers(&headers, false), Some("plain"));
    }
}
