//! [`Challenge`]: one RFC 7235 challenge, parsed or built.

use std::fmt;

use super::error::ChallengeError;
use super::syntax::{is_ctl, is_token, is_token68};

/// One challenge of a `WWW-Authenticate` header (RFC 7235 §2.1): an auth-scheme followed by
/// either a token68 or a list of auth-params, or by nothing.
///
/// Scheme and parameter names keep the case they were sent with; [`is_scheme`](Self::is_scheme)
/// and [`param`](Self::param) compare them case-insensitively, as RFC 7235 §2.1 requires.
/// Parameter values are stored unescaped (RFC 7230 §3.2.6 quoted-pairs resolved), and the
/// `Display` impl renders the challenge back into header syntax. Equality (`==`) is exact:
/// it compares names with their case and params in order, which is what round-trip tests need.
///
/// ```
/// use msal_lite::challenge::{parse_www_authenticate, Challenge};
///
/// let parsed = parse_www_authenticate(r#"Bearer realm="", error="insufficient_claims""#)?;
/// let built = Challenge::new("Bearer")?
///     .with_param("realm", "")?
///     .with_param("error", "insufficient_claims")?;
/// assert_eq!(parsed, [built.clone()]);
/// assert_eq!(built.to_string(), r#"Bearer realm="", error="insufficient_claims""#);
/// # Ok::<(), msal_lite::challenge::ChallengeError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Challenge {
    scheme: String,
    token68: Option<String>,
    params: Vec<(String, String)>,
}

impl Challenge {
    /// A challenge with this auth-scheme and nothing else.
    ///
    /// # Errors
    ///
    /// [`ChallengeError::InvalidScheme`] when `scheme` is not an RFC 7230 token.
    ///
    /// ```
    /// use msal_lite::challenge::Challenge;
    ///
    /// assert_eq!(Challenge::new("Bearer")?.scheme(), "Bearer");
    /// assert!(Challenge::new("Bearer realm").is_err());
    /// # Ok::<(), msal_lite::challenge::ChallengeError>(())
    /// ```
    pub fn new(scheme: impl Into<String>) -> Result<Self, ChallengeError> {
        let scheme = scheme.into();
        if !is_token(&scheme) {
            return Err(ChallengeError::InvalidScheme);
        }
        Ok(Self::from_scheme(scheme))
    }

    /// Adds an auth-param. The value may hold any text except control characters (HTAB is
    /// allowed); rendering quotes and escapes it.
    ///
    /// # Errors
    ///
    /// [`ChallengeError::InvalidParamName`] when `name` is not a token,
    /// [`ChallengeError::InvalidParamValue`] when `value` has a control character,
    /// [`ChallengeError::DuplicateParam`] when the name (case-insensitively) is already there,
    /// [`ChallengeError::Token68WithParams`] when the challenge has a token68, and
    /// [`ChallengeError::TooManyParams`] past [`MAX_PARAMS`](super::MAX_PARAMS).
    ///
    /// ```
    /// use msal_lite::challenge::{Challenge, ChallengeError};
    ///
    /// let c = Challenge::new("Bearer")?.with_param("error_description", r#"say "hi""#)?;
    /// assert_eq!(c.to_string(), r#"Bearer error_description="say \"hi\"""#);
    /// assert_eq!(
    ///     c.with_param("ERROR_DESCRIPTION", "again").unwrap_err(),
    ///     ChallengeError::DuplicateParam { name: "ERROR_DESCRIPTION".into() },
    /// );
    /// # Ok::<(), ChallengeError>(())
    /// ```
    pub fn with_param(
        mut self,
        name: impl Into<String>,
        value: impl Into<String>,
    ) -> Result<Self, ChallengeError> {
        let (name, value) = (name.into(), value.into());
        if !is_token(&name) {
            return Err(ChallengeError::InvalidParamName);
        }
        if value.bytes().any(is_ctl) {
            return Err(ChallengeError::InvalidParamValue);
        }
        if self.token68.is_some() {
            return Err(ChallengeError::Token68WithParams);
        }
        self.push_param(name, value)?;
        Ok(self)
    }

    /// Sets the token68 (RFC 7235 §2.1), as used by `Basic`-style or `Negotiate` schemes.
    ///
    /// # Errors
    ///
    /// [`ChallengeError::InvalidToken68`] when `token68` is outside the token68 syntax, and
    /// [`ChallengeError::Token68WithParams`] when the challenge already has auth-params.
    ///
    /// ```
    /// use msal_lite::challenge::Challenge;
    ///
    /// let c = Challenge::new("Negotiate")?.with_token68("YII=")?;
    /// assert_eq!(c.token68(), Some("YII="));
    /// assert_eq!(c.to_string(), "Negotiate YII=");
    /// # Ok::<(), msal_lite::challenge::ChallengeError>(())
    /// ```
    pub fn with_token68(mut self, token68: impl Into<String>) -> Result<Self, ChallengeError> {
        let token68 = token68.into();
        if !is_token68(&token68) {
            return Err(ChallengeError::InvalidToken68);
        }
        if !self.params.is_empty() {
            return Err(ChallengeError::Token68WithParams);
        }
        self.token68 = Some(token68);
        Ok(self)
    }

    /// The auth-scheme as sent (original case).
    ///
    /// ```
    /// use msal_lite::challenge::parse_www_authenticate;
    ///
    /// let challenges = parse_www_authenticate("bearer")?;
    /// assert_eq!(challenges[0].scheme(), "bearer");
    /// # Ok::<(), msal_lite::challenge::ChallengeError>(())
    /// ```
    pub fn scheme(&self) -> &str {
        &self.scheme
    }

    /// Whether the auth-scheme is `scheme`, ignoring ASCII case (RFC 7235 §2.1).
    ///
    /// ```
    /// use msal_lite::challenge::parse_www_authenticate;
    ///
    /// let challenges = parse_www_authenticate("bearer")?;
    /// assert!(challenges[0].is_scheme("Bearer"));
    /// # Ok::<(), msal_lite::challenge::ChallengeError>(())
    /// ```
    pub fn is_scheme(&self, scheme: &str) -> bool {
        self.scheme.eq_ignore_ascii_case(scheme)
    }

    /// The value of the auth-param `name`, matched ignoring ASCII case (RFC 7235 §2.1), with
    /// quoted-pairs resolved.
    ///
    /// ```
    /// use msal_lite::challenge::parse_www_authenticate;
    ///
    /// let challenges = parse_www_authenticate(r#"Bearer Error="invalid_token", realm="""#)?;
    /// assert_eq!(challenges[0].param("error"), Some("invalid_token"));
    /// assert_eq!(challenges[0].param("realm"), Some(""));
    /// assert_eq!(challenges[0].param("scope"), None);
    /// # Ok::<(), msal_lite::challenge::ChallengeError>(())
    /// ```
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The auth-params in the order they were sent, as `(name, value)` with the name's original
    /// case.
    ///
    /// ```
    /// use msal_lite::challenge::parse_www_authenticate;
    ///
    /// let challenges = parse_www_authenticate(r#"Bearer Realm="x", scope="a b""#)?;
    /// let params: Vec<_> = challenges[0].params().collect();
    /// assert_eq!(params, [("Realm", "x"), ("scope", "a b")]);
    /// # Ok::<(), msal_lite::challenge::ChallengeError>(())
    /// ```
    pub fn params(&self) -> Params<'_> {
        Params {
            inner: self.params.iter(),
        }
    }

    /// The token68, when the challenge carries one instead of auth-params.
    ///
    /// ```
    /// use msal_lite::challenge::parse_www_authenticate;
    ///
    /// let challenges = parse_www_authenticate("Negotiate abc==, Bearer")?;
    /// assert_eq!(challenges[0].token68(), Some("abc=="));
    /// assert_eq!(challenges[1].token68(), None);
    /// # Ok::<(), msal_lite::challenge::ChallengeError>(())
    /// ```
    pub fn token68(&self) -> Option<&str> {
        self.token68.as_deref()
    }

    /// A challenge with an already-validated scheme (the parser's constructor).
    pub(crate) fn from_scheme(scheme: String) -> Self {
        Self {
            scheme,
            token68: None,
            params: Vec::new(),
        }
    }

    /// Sets an already-validated token68 (the parser's setter).
    pub(crate) fn set_token68(&mut self, token68: String) {
        self.token68 = Some(token68);
    }

    /// Appends an already-validated param, enforcing uniqueness and the count limit.
    pub(crate) fn push_param(&mut self, name: String, value: String) -> Result<(), ChallengeError> {
        if self
            .params
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case(&name))
        {
            return Err(ChallengeError::duplicate(&name));
        }
        if self.params.len() >= super::MAX_PARAMS {
            return Err(ChallengeError::TooManyParams {
                max: super::MAX_PARAMS,
            });
        }
        self.params.push((name, value));
        Ok(())
    }
}

/// Renders the challenge in header syntax: every auth-param value as a quoted-string (RFC 7235
/// §2.2 requires that for `realm`; RFC 6750 §3 uses it for every Bearer param), `"` and `\`
/// escaped as quoted-pairs, params separated by `", "`.
impl fmt::Display for Challenge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        super::render::write_challenge(f, self)
    }
}

/// Iterator over a challenge's auth-params, from [`Challenge::params`].
///
/// ```
/// use msal_lite::challenge::Challenge;
///
/// let c = Challenge::new("Bearer")?.with_param("realm", "x")?;
/// let mut params = c.params();
/// assert_eq!(params.len(), 1);
/// assert_eq!(params.next(), Some(("realm", "x")));
/// # Ok::<(), msal_lite::challenge::ChallengeError>(())
/// ```
#[derive(Clone, Debug)]
pub struct Params<'a> {
    inner: std::slice::Iter<'a, (String, String)>,
}

impl<'a> Iterator for Params<'a> {
    type Item = (&'a str, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        self.inner.next().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl ExactSizeIterator for Params<'_> {}
