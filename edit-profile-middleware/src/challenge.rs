//! Passing a downstream claims challenge back to the caller.
//!
//! When the API's on-behalf-of call fails with `interaction_required` and a `claims` value
//! (Conditional Access on the downstream resource), the caller must acquire a new token with those
//! claims. Microsoft identity platform, "OAuth 2.0 On-Behalf-Of flow": the middle tier "replies
//! with HTTP 401 Unauthorized and with a WWW-Authenticate HTTP header containing the error and the
//! claim challenge".

use crate::rejection::BearerRejection;

/// Turn a claims request (JSON text from an `interaction_required` error) into the same 401
/// `insufficient_claims` rejection the middleware sends for missing MFA.
///
/// ```
/// use edit_profile_middleware::{RejectionKind, claims_challenge};
///
/// let rejection = claims_challenge(
///     r#"{"access_token":{"capolids":{"essential":true,"values":["c1"]}}}"#,
///     Some("https://login.microsoftonline.com/common/oauth2/v2.0/authorize"),
///     Some("4d2e6f8a-1b3c-4d5e-8f9a-0b1c2d3e4f5a"),
/// );
/// assert_eq!(rejection.kind(), RejectionKind::InsufficientClaims);
/// ```
pub fn claims_challenge(
    claims_json: &str,
    authorization_uri: Option<&str>,
    client_id: Option<&str>,
) -> BearerRejection {
    BearerRejection::insufficient_claims(claims_json, authorization_uri, client_id)
}

/// The challenge for an msal-lite error, if it is `interaction_required` with claims.
///
/// ```
/// # fn f(error: msal_lite::Error) -> Option<edit_profile_middleware::BearerRejection> {
/// edit_profile_middleware::claims_challenge_from_msal(&error, None, None)
/// # }
/// ```
#[cfg(feature = "msal-lite")]
pub fn claims_challenge_from_msal(
    error: &msal_lite::Error,
    authorization_uri: Option<&str>,
    client_id: Option<&str>,
) -> Option<BearerRejection> {
    msal_claims(error).map(|claims| claims_challenge(claims, authorization_uri, client_id))
}

/// The claims request of an msal-lite error that needs the user and names claims
/// (`interaction_required` with non-empty `claims`), the only errors a new token with those
/// claims can fix.
#[cfg(feature = "msal-lite")]
pub(crate) fn msal_claims(error: &msal_lite::Error) -> Option<&str> {
    if !error.is_interaction_required() {
        return None;
    }
    error.claims().filter(|c| !c.is_empty())
}
