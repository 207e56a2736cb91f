//! [`StepUp`]: classifies a challenge as "authenticate again, with more".

use std::time::Duration;

use http::HeaderMap;

use super::auth_challenge::Challenge;
use super::claims_challenge::{ClaimsChallenge, is_bearer_or_pop};
use super::parser::lenient_challenges;

/// The `error` value of RFC 9470 §3.
const INSUFFICIENT_USER_AUTHENTICATION: &str = "insufficient_user_authentication";

/// A challenge that asks the client to authenticate the user again with stronger or fresher
/// authentication, in either of the two forms in use.
///
/// ```
/// use http::{HeaderMap, HeaderValue, header::WWW_AUTHENTICATE};
/// use msal_lite::challenge::StepUp;
///
/// let mut headers = HeaderMap::new();
/// // Source: RFC 9470 §3 (the header, unfolded).
/// headers.insert(WWW_AUTHENTICATE, HeaderValue::from_static(
///     r#"Bearer error="insufficient_user_authentication", error_description="A different authentication level is required", acr_values="myACR""#,
/// ));
/// match StepUp::from_headers(&headers) {
///     Some(StepUp::UserAuthentication(c)) => assert_eq!(c.acr_values(), ["myACR"]),
///     other => panic!("unexpected {other:?}"),
/// }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StepUp {
    /// Entra's form: `error="insufficient_claims"` with a `claims` request (CAE, authentication
    /// context). MSAL clients act on this one.
    Claims(ClaimsChallenge),
    /// RFC 9470's form: `error="insufficient_user_authentication"` with optional `acr_values`
    /// and `max_age`.
    UserAuthentication(UserAuthenticationChallenge),
}

impl StepUp {
    /// The first step-up challenge among all `WWW-Authenticate` headers; malformed values are
    /// skipped as in [`ClaimsChallenge::from_headers`].
    ///
    /// ```
    /// use http::{HeaderMap, HeaderValue, header::WWW_AUTHENTICATE};
    /// use msal_lite::challenge::StepUp;
    ///
    /// let mut headers = HeaderMap::new();
    /// headers.insert(WWW_AUTHENTICATE, HeaderValue::from_static(
    ///     r#"Bearer error="insufficient_claims", claims="e30""#,
    /// ));
    /// assert!(matches!(StepUp::from_headers(&headers), Some(StepUp::Claims(_))));
    /// ```
    pub fn from_headers(headers: &HeaderMap) -> Option<Self> {
        lenient_challenges(headers).find_map(Self::from_challenge)
    }

    /// Classifies one challenge: a `Bearer` or `PoP` challenge whose `error` is
    /// `insufficient_claims` (with usable `claims`, see [`ClaimsChallenge::from_challenge`]) or
    /// `insufficient_user_authentication`, ignoring ASCII case; anything else is `None`.
    ///
    /// ```
    /// use msal_lite::challenge::{parse_www_authenticate, StepUp};
    ///
    /// let c = parse_www_authenticate(r#"Bearer error="invalid_token""#)?.remove(0);
    /// assert_eq!(StepUp::from_challenge(c), None);
    /// # Ok::<(), msal_lite::challenge::ChallengeError>(())
    /// ```
    pub fn from_challenge(challenge: Challenge) -> Option<Self> {
        if !is_bearer_or_pop(&challenge) {
            return None;
        }
        let error = challenge.param("error")?;
        if error.eq_ignore_ascii_case(INSUFFICIENT_USER_AUTHENTICATION) {
            return Some(Self::UserAuthentication(UserAuthenticationChallenge::new(
                challenge,
            )));
        }
        ClaimsChallenge::from_challenge(challenge).map(Self::Claims)
    }
}

/// An RFC 9470 step-up challenge: `error="insufficient_user_authentication"`.
///
/// ```
/// use std::time::Duration;
/// use msal_lite::challenge::{parse_www_authenticate, StepUp};
///
/// // Source: RFC 9470 §3 (the second example, unfolded).
/// let c = parse_www_authenticate(
///     r#"Bearer error="insufficient_user_authentication", error_description="More recent authentication is required", max_age="5""#,
/// )?.remove(0);
/// let Some(StepUp::UserAuthentication(step_up)) = StepUp::from_challenge(c) else { panic!() };
/// assert_eq!(step_up.max_age(), Some(Duration::from_secs(5)));
/// assert!(step_up.acr_values().is_empty());
/// # Ok::<(), msal_lite::challenge::ChallengeError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserAuthenticationChallenge {
    challenge: Challenge,
    acr_values: Vec<String>,
    max_age: Option<u64>,
}

impl UserAuthenticationChallenge {
    fn new(challenge: Challenge) -> Self {
        let acr_values = challenge
            .param("acr_values")
            .map(|v| v.split_ascii_whitespace().map(str::to_owned).collect())
            .unwrap_or_default();
        // Deliberately lenient: a malformed `max_age` is dropped, not fatal, because the
        // challenge still tells the client to authenticate again.
        let max_age = challenge.param("max_age").and_then(parse_max_age);
        Self {
            challenge,
            acr_values,
            max_age,
        }
    }

    /// OPTIONAL `acr_values` (RFC 9470 §3): the acceptable authentication context class
    /// references, most preferred first (the parameter is space-separated). Empty when absent.
    ///
    /// ```
    /// # use msal_lite::challenge::{parse_www_authenticate, StepUp};
    /// let c = parse_www_authenticate(r#"Bearer error="insufficient_user_authentication", acr_values="c1  c2""#)?.remove(0);
    /// let Some(StepUp::UserAuthentication(s)) = StepUp::from_challenge(c) else { panic!() };
    /// assert_eq!(s.acr_values(), ["c1", "c2"]);
    /// # Ok::<(), msal_lite::challenge::ChallengeError>(())
    /// ```
    pub fn acr_values(&self) -> &[String] {
        &self.acr_values
    }

    /// OPTIONAL `max_age` (RFC 9470 §3): how long ago the user may last have authenticated
    /// actively. `None` when absent or not a non-negative integer of seconds.
    ///
    /// ```
    /// # use msal_lite::challenge::{parse_www_authenticate, StepUp};
    /// let c = parse_www_authenticate(r#"Bearer error="insufficient_user_authentication", max_age="soon""#)?.remove(0);
    /// let Some(StepUp::UserAuthentication(s)) = StepUp::from_challenge(c) else { panic!() };
    /// assert_eq!(s.max_age(), None);
    /// # Ok::<(), msal_lite::challenge::ChallengeError>(())
    /// ```
    pub fn max_age(&self) -> Option<Duration> {
        self.max_age.map(Duration::from_secs)
    }

    /// The `error_description` parameter (RFC 6750 §3), if any.
    ///
    /// ```
    /// # use msal_lite::challenge::{parse_www_authenticate, StepUp};
    /// let c = parse_www_authenticate(r#"Bearer error="insufficient_user_authentication", error_description="MFA needed""#)?.remove(0);
    /// let Some(StepUp::UserAuthentication(s)) = StepUp::from_challenge(c) else { panic!() };
    /// assert_eq!(s.error_description(), Some("MFA needed"));
    /// # Ok::<(), msal_lite::challenge::ChallengeError>(())
    /// ```
    pub fn error_description(&self) -> Option<&str> {
        self.challenge.param("error_description")
    }

    /// The whole challenge, for parameters without a getter (`realm`, `scope`, ...).
    ///
    /// ```
    /// # use msal_lite::challenge::{parse_www_authenticate, StepUp};
    /// let c = parse_www_authenticate(r#"Bearer realm="api", error="insufficient_user_authentication""#)?.remove(0);
    /// let Some(StepUp::UserAuthentication(s)) = StepUp::from_challenge(c) else { panic!() };
    /// assert_eq!(s.challenge().param("realm"), Some("api"));
    /// # Ok::<(), msal_lite::challenge::ChallengeError>(())
    /// ```
    pub fn challenge(&self) -> &Challenge {
        &self.challenge
    }
}

/// `1*DIGIT` as seconds; anything else (sign, fraction, overflow) is `None`.
fn parse_max_age(value: &str) -> Option<u64> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse().ok()
}
