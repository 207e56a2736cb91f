//! `WWW-Authenticate` challenges: an RFC 7235 parser, a renderer, and the two step-up
//! challenges a client acts on (Entra claims challenges and RFC 9470).
//!
//! * [`parse_www_authenticate`] / [`parse_www_authenticate_headers`] turn header values into
//!   [`Challenge`]s; [`render_challenges`] and `Challenge`'s `Display` turn them back.
//! * [`ClaimsChallenge::from_headers`] finds a `Bearer error="insufficient_claims",
//!   claims="…"` challenge and decodes its claims; [`StepUp`] also recognises RFC 9470's
//!   `insufficient_user_authentication`.
//!
//! ```
//! use http::{HeaderMap, HeaderValue, header::WWW_AUTHENTICATE};
//! use msal_lite::challenge::ClaimsChallenge;
//!
//! // A 401 from Microsoft Graph after a CAE revocation.
//! let mut headers = HeaderMap::new();
//! headers.insert(WWW_AUTHENTICATE, HeaderValue::from_static(
//!     r#"Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000", error="insufficient_claims", claims="eyJhY2Nlc3NfdG9rZW4iOnsibmJmIjp7ImVzc2VudGlhbCI6dHJ1ZSwidmFsdWUiOiIxNjAyMDEzOTU0In19fQ==""#,
//! ));
//! if let Some(challenge) = ClaimsChallenge::from_headers(&headers) {
//!     // Acquire a new token with `challenge.claims()` as the `claims` parameter.
//!     assert!(challenge.claims().starts_with(r#"{"access_token""#));
//! }
//! ```
//!
//! # Parser rules
//!
//! The grammar is RFC 7235 §4.1 (`1#challenge`, each an auth-scheme followed by a token68 or a
//! list of `name=value` auth-params, values a token or an RFC 7230 §3.2.6 quoted-string), with
//! RFC 7230 §7 list rules (empty elements ignored). Names are kept as sent and compared
//! ignoring ASCII case; a repeated name in one challenge is an error, as in MSAL.NET.
//! Quoted-pairs are unescaped as RFC 7230 says (`\"` → `"`, `\\` → `\`); MSAL.NET keeps the
//! backslashes, which breaks escaped JSON claims.
//!
//! Tolerances, each accepted only where a strict parser would fail, so they never change the
//! result for a well-formed header:
//!
//! 1. **Whitespace instead of commas between auth-params** (`realm="" error="x"`): MSAL.NET
//!    splits parameters on spaces, and servers tested against it send such lists. A new
//!    *challenge* still needs a comma.
//! 2. **Empty elements, leading, trailing and repeated commas and whitespace, tabs, and
//!    obsolete line folding** anywhere a separator may stand, including `Bearer , realm="x"`
//!    (an auth-param cannot start a challenge, so it belongs to the scheme before it).
//! 3. **Unquoted values beyond `token`**: any run of visible characters up to whitespace or a
//!    comma, so unquoted URLs and padded base64 (`claims=eyJ9fQ==`) survive whole. A value may
//!    not start with `=`.
//! 4. **Unescaped `"` inside a quoted value**: a `"` closes the value only when whitespace,
//!    the end, or a comma and the start of a new element follow it; a `"` glued to anything
//!    else is literal. Microsoft.Identity.Web's 403 consent challenge puts raw, unescaped,
//!    compact claims JSON in `claims="…"`, which this recovers. Prose with spaced quotes
//!    (`"the "x" token"`) still fails, and so does a second challenge without a comma.
//! 5. A token68 is recognised only as the sole item after the scheme; `abc=` and `abc==` there
//!    are token68s (not empty params), and `realm=""` keeps an empty string.
//!
//! Refused: control characters (other than HTAB), a `name=` with no value, an auth-param
//! before any scheme or after a token68, a missing closing quote. Empty input gives an empty
//! list. Input is bounded: [`MAX_HEADER_LEN`] bytes per value (checked before scanning),
//! [`MAX_PARAMS`] per challenge, [`MAX_CHALLENGES`] per call; the scan is linear.

mod auth_challenge;
mod claims_challenge;
mod error;
mod parser;
mod render;
mod step_up;
mod syntax;

pub use auth_challenge::{Challenge, Params};
pub use claims_challenge::ClaimsChallenge;
pub use error::ChallengeError;
pub use parser::{parse_www_authenticate, parse_www_authenticate_headers};
pub use render::render_challenges;
pub use step_up::{StepUp, UserAuthenticationChallenge};

/// Longest `WWW-Authenticate` value parsed, in bytes (16 KiB). Real challenges from Entra,
/// Microsoft Graph and Microsoft.Identity.Web are a few hundred bytes to a few KiB; the limit
/// only stops a hostile server from making the client do unbounded work.
///
/// ```
/// use msal_lite::challenge::{parse_www_authenticate, ChallengeError, MAX_HEADER_LEN};
///
/// let huge = "a".repeat(MAX_HEADER_LEN + 1);
/// assert!(matches!(parse_www_authenticate(&huge), Err(ChallengeError::TooLong { .. })));
/// ```
pub const MAX_HEADER_LEN: usize = 16 * 1024;

/// Most auth-params accepted in one challenge (32). Entra sends at most about ten.
///
/// ```
/// use msal_lite::challenge::{parse_www_authenticate, ChallengeError, MAX_PARAMS};
///
/// let params: Vec<String> = (0..=MAX_PARAMS).map(|i| format!("p{i}=x")).collect();
/// let header = format!("Bearer {}", params.join(", "));
/// assert!(matches!(parse_www_authenticate(&header), Err(ChallengeError::TooManyParams { .. })));
/// ```
pub const MAX_PARAMS: usize = 32;

/// Most challenges accepted from one call (16), over all header values for
/// [`parse_www_authenticate_headers`].
///
/// ```
/// use msal_lite::challenge::{parse_www_authenticate, ChallengeError, MAX_CHALLENGES};
///
/// let header = vec!["Basic"; MAX_CHALLENGES + 1].join(", ");
/// assert!(matches!(parse_www_authenticate(&header), Err(ChallengeError::TooManyChallenges { .. })));
/// ```
pub const MAX_CHALLENGES: usize = 16;

#[cfg(test)]
mod tests;
