//! [`ClaimsChallenge`]: a Bearer / PoP challenge with `error="insufficient_claims"`.

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use http::HeaderMap;

use super::auth_challenge::Challenge;
use super::parser::lenient_challenges;

/// The `error` value that marks a claims challenge (Microsoft identity platform: "Claims
/// challenges, claims requests, and client capabilities").
const INSUFFICIENT_CLAIMS: &str = "insufficient_claims";

/// Base64 decoders that accept padded and unpadded input (RFC 4648 §3.2 allows either once the
/// length is known).
const STANDARD_ANY_PAD: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);
const URL_SAFE_ANY_PAD: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// A claims challenge: a `Bearer` (or `PoP`) challenge with `error="insufficient_claims"` and a
/// `claims` parameter that holds a JSON object, as sent by Microsoft Graph and other
/// CAE-enabled resources, or by an API that needs an authentication context (Microsoft identity
/// platform: "Claims challenges, claims requests, and client capabilities").
///
/// The client acquires a new token with [`claims`](Self::claims) as the `claims` request
/// parameter (merged with the client capabilities by
/// [`merge_client_capabilities`](crate::claims::merge_client_capabilities)).
///
/// ```
/// use http::{HeaderMap, HeaderValue, header::WWW_AUTHENTICATE};
/// use msal_lite::challenge::ClaimsChallenge;
///
/// let mut headers = HeaderMap::new();
/// headers.insert(WWW_AUTHENTICATE, HeaderValue::from_static(
///     r#"Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", error="insufficient_claims", claims="eyJhY2Nlc3NfdG9rZW4iOnsibmJmIjp7ImVzc2VudGlhbCI6dHJ1ZSwidmFsdWUiOiIxNjAyMDEzOTU0In19fQ==""#,
/// ));
/// let challenge = ClaimsChallenge::from_headers(&headers).expect("a claims challenge");
/// assert_eq!(challenge.claims(), r#"{"access_token":{"nbf":{"essential":true,"value":"1602013954"}}}"#);
/// assert_eq!(challenge.realm(), Some(""));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClaimsChallenge {
    challenge: Challenge,
    claims: String,
}

impl ClaimsChallenge {
    /// The first claims challenge among all `WWW-Authenticate` headers, or `None`.
    ///
    /// Malformed or non-UTF-8 header values are skipped, so a broken header added by a proxy
    /// cannot hide the resource's challenge. A challenge whose `claims` is missing or is not
    /// a JSON object (after base64 decoding, see [`from_challenge`](Self::from_challenge)) does
    /// not count.
    ///
    /// ```
    /// use http::{HeaderMap, HeaderValue, header::WWW_AUTHENTICATE};
    /// use msal_lite::challenge::ClaimsChallenge;
    ///
    /// let mut headers = HeaderMap::new();
    /// headers.append(WWW_AUTHENTICATE, HeaderValue::from_static(r#"Basic realm="unterminated"#));
    /// headers.append(WWW_AUTHENTICATE, HeaderValue::from_static(
    ///     r#"Bearer error="INSUFFICIENT_CLAIMS", claims="e30""#,
    /// ));
    /// assert_eq!(ClaimsChallenge::from_headers(&headers).unwrap().claims(), "{}");
    ///
    /// headers.clear();
    /// headers.insert(WWW_AUTHENTICATE, HeaderValue::from_static(r#"Bearer error="invalid_token""#));
    /// assert!(ClaimsChallenge::from_headers(&headers).is_none());
    /// ```
    pub fn from_headers(headers: &HeaderMap) -> Option<Self> {
        lenient_challenges(headers).find_map(Self::from_challenge)
    }

    /// The claims challenge in `challenge`, if it is one: scheme `Bearer` or `PoP`, `error`
    /// equal to `insufficient_claims` (both ignoring ASCII case), and a `claims` value that is
    /// a JSON object either base64-encoded (standard or URL-safe alphabet, padded or not) or as
    /// raw JSON text.
    ///
    /// ```
    /// use msal_lite::challenge::{parse_www_authenticate, ClaimsChallenge};
    ///
    /// // Raw JSON, escaped as a quoted-string.
    /// let challenges = parse_www_authenticate(
    ///     r#"PoP error="insufficient_claims", claims="{\"id_token\":{}}""#,
    /// )?;
    /// let challenge = ClaimsChallenge::from_challenge(challenges[0].clone()).unwrap();
    /// assert_eq!(challenge.claims(), r#"{"id_token":{}}"#);
    /// # Ok::<(), msal_lite::challenge::ChallengeError>(())
    /// ```
    pub fn from_challenge(challenge: Challenge) -> Option<Self> {
        if !is_bearer_or_pop(&challenge)
            || !challenge
                .param("error")
                .is_some_and(|e| e.eq_ignore_ascii_case(INSUFFICIENT_CLAIMS))
        {
            return None;
        }
        let claims = decode_claims(challenge.param("claims")?)?;
        Some(Self { challenge, claims })
    }

    /// The claims request as JSON text (an object), decoded from base64 when it was encoded.
    /// Send it as the `claims` parameter of the next authorize or token request.
    ///
    /// ```
    /// # use msal_lite::challenge::{parse_www_authenticate, ClaimsChallenge};
    /// let c = &parse_www_authenticate(r#"Bearer error="insufficient_claims", claims="e30""#)?[0];
    /// assert_eq!(ClaimsChallenge::from_challenge(c.clone()).unwrap().claims(), "{}");
    /// # Ok::<(), msal_lite::challenge::ChallengeError>(())
    /// ```
    pub fn claims(&self) -> &str {
        &self.claims
    }

    /// The `authorization_uri` parameter: the authorize endpoint of the authority that can
    /// satisfy the challenge (Entra and Microsoft Graph send it; RFC 6750 does not define it).
    ///
    /// ```
    /// # use msal_lite::challenge::{parse_www_authenticate, ClaimsChallenge};
    /// let c = &parse_www_authenticate(
    ///     r#"Bearer authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", error="insufficient_claims", claims="e30""#,
    /// )?[0];
    /// let challenge = ClaimsChallenge::from_challenge(c.clone()).unwrap();
    /// assert_eq!(
    ///     challenge.authorization_uri(),
    ///     Some("https://login.microsoftonline.com/common/oauth2/authorize"),
    /// );
    /// # Ok::<(), msal_lite::challenge::ChallengeError>(())
    /// ```
    pub fn authorization_uri(&self) -> Option<&str> {
        self.challenge.param("authorization_uri")
    }

    /// The `client_id` parameter: the resource API's application id, when it sends one.
    ///
    /// ```
    /// # use msal_lite::challenge::{parse_www_authenticate, ClaimsChallenge};
    /// let c = &parse_www_authenticate(r#"Bearer client_id="api-id", error="insufficient_claims", claims="e30""#)?[0];
    /// assert_eq!(ClaimsChallenge::from_challenge(c.clone()).unwrap().client_id(), Some("api-id"));
    /// # Ok::<(), msal_lite::challenge::ChallengeError>(())
    /// ```
    pub fn client_id(&self) -> Option<&str> {
        self.challenge.param("client_id")
    }

    /// The `realm` parameter (RFC 7235 §2.2); Entra often sends it empty.
    ///
    /// ```
    /// # use msal_lite::challenge::{parse_www_authenticate, ClaimsChallenge};
    /// let c = &parse_www_authenticate(r#"Bearer realm="", error="insufficient_claims", claims="e30""#)?[0];
    /// assert_eq!(ClaimsChallenge::from_challenge(c.clone()).unwrap().realm(), Some(""));
    /// # Ok::<(), msal_lite::challenge::ChallengeError>(())
    /// ```
    pub fn realm(&self) -> Option<&str> {
        self.challenge.param("realm")
    }

    /// The `error_description` parameter (RFC 6750 §3), human-readable text. Do not show it to
    /// end users verbatim: it comes from the resource server.
    ///
    /// ```
    /// # use msal_lite::challenge::{parse_www_authenticate, ClaimsChallenge};
    /// let c = &parse_www_authenticate(r#"Bearer error="insufficient_claims", error_description="MFA", claims="e30""#)?[0];
    /// assert_eq!(ClaimsChallenge::from_challenge(c.clone()).unwrap().error_description(), Some("MFA"));
    /// # Ok::<(), msal_lite::challenge::ChallengeError>(())
    /// ```
    pub fn error_description(&self) -> Option<&str> {
        self.challenge.param("error_description")
    }

    /// The whole challenge, for parameters without a getter (`cc_type`, `scope`, ...).
    ///
    /// ```
    /// # use msal_lite::challenge::{parse_www_authenticate, ClaimsChallenge};
    /// let c = &parse_www_authenticate(r#"Bearer error="insufficient_claims", claims="e30", cc_type="authcontext""#)?[0];
    /// let challenge = ClaimsChallenge::from_challenge(c.clone()).unwrap();
    /// assert_eq!(challenge.challenge().param("cc_type"), Some("authcontext"));
    /// # Ok::<(), msal_lite::challenge::ChallengeError>(())
    /// ```
    pub fn challenge(&self) -> &Challenge {
        &self.challenge
    }
}

/// Whether the scheme is one whose `error` codes follow RFC 6750 (`Bearer`) or Entra's PoP.
pub(crate) fn is_bearer_or_pop(challenge: &Challenge) -> bool {
    challenge.is_scheme("Bearer") || challenge.is_scheme("PoP")
}

/// The claims JSON object text in a `claims` value, or `None`.
///
/// Raw JSON is recognised by its leading `{`, which is not a base64 character, so the two forms
/// never overlap. MSAL.NET only decodes padded standard base64 and passes anything else through
/// undecoded; Microsoft.Identity.Web forwards base64url. Accepting both alphabets, padded or not,
/// and insisting on a JSON object afterwards covers every sender seen without guessing.
pub(crate) fn decode_claims(value: &str) -> Option<String> {
    let value = value.trim_matches([' ', '\t']);
    if value.starts_with('{') {
        return crate::claims::is_json_object(value).then(|| value.to_owned());
    }
    let bytes = STANDARD_ANY_PAD
        .decode(value)
        .or_else(|_| URL_SAFE_ANY_PAD.decode(value))
        .ok()?;
    let text = String::from_utf8(bytes).ok()?;
    crate::claims::is_json_object(&text).then_some(text)
}
