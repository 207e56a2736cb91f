//! The one error type of the `challenge` module.

/// Why a `WWW-Authenticate` value could not be parsed, or why a [`Challenge`](super::Challenge)
/// could not be built.
///
/// Positions (`at`) are byte offsets into the header value. Messages never repeat the header's
/// values, only (bounded) parameter names.
///
/// ```
/// use msal_lite::challenge::{parse_www_authenticate, ChallengeError};
///
/// let err = parse_www_authenticate(r#"Bearer realm="unterminated"#).unwrap_err();
/// assert!(matches!(err, ChallengeError::UnterminatedQuotedString { at: 13 }));
/// assert_eq!(err.to_string(), "unterminated quoted string starting at byte 13");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChallengeError {
    /// The header value is longer than [`MAX_HEADER_LEN`](super::MAX_HEADER_LEN); it was not
    /// scanned at all.
    #[error("header value is {len} bytes, over the {max}-byte limit")]
    TooLong {
        /// Length of the rejected value in bytes.
        len: usize,
        /// The limit in force.
        max: usize,
    },
    /// More than [`MAX_CHALLENGES`](super::MAX_CHALLENGES) challenges.
    #[error("more than {max} challenges")]
    TooManyChallenges {
        /// The limit in force.
        max: usize,
    },
    /// More than [`MAX_PARAMS`](super::MAX_PARAMS) auth-params in one challenge.
    #[error("more than {max} parameters in one challenge")]
    TooManyParams {
        /// The limit in force.
        max: usize,
    },
    /// A list element does not start with an auth-scheme (a token), for example a bare
    /// `realm="x"` with no scheme in front of it, or an auth-param after a token68.
    #[error("expected an auth-scheme at byte {at}")]
    ExpectedScheme {
        /// Byte offset of the offending element.
        at: usize,
    },
    /// An auth-param has `=` but no value (`realm=,`), or the value starts with `=`.
    #[error("expected a parameter value at byte {at}")]
    ExpectedValue {
        /// Byte offset where the value should start.
        at: usize,
    },
    /// A character that cannot appear here (a control character, a stray `"`, a second
    /// item after a token68, ...).
    #[error("unexpected character at byte {at}")]
    UnexpectedCharacter {
        /// Byte offset of the character.
        at: usize,
    },
    /// A quoted-string has no closing `"`.
    #[error("unterminated quoted string starting at byte {at}")]
    UnterminatedQuotedString {
        /// Byte offset of the opening `"`.
        at: usize,
    },
    /// The same auth-param name (compared case-insensitively) appears twice in one challenge.
    #[error("duplicate parameter `{name}`")]
    DuplicateParam {
        /// The second occurrence's name, cut to 64 bytes.
        name: String,
    },
    /// [`Challenge::new`](super::Challenge::new) was given a scheme that is not an RFC 7230
    /// token.
    #[error("auth-scheme is not a token")]
    InvalidScheme,
    /// [`Challenge::with_param`](super::Challenge::with_param) was given a name that is not an
    /// RFC 7230 token.
    #[error("parameter name is not a token")]
    InvalidParamName,
    /// [`Challenge::with_param`](super::Challenge::with_param) was given a value with a control
    /// character, which a quoted-string cannot carry.
    #[error("parameter value contains a control character")]
    InvalidParamValue,
    /// [`Challenge::with_token68`](super::Challenge::with_token68) was given a value outside the
    /// RFC 7235 token68 syntax.
    #[error("value is not a token68")]
    InvalidToken68,
    /// A challenge was given both a token68 and auth-params; RFC 7235 allows one or the other.
    #[error("a challenge has either a token68 or parameters, not both")]
    Token68WithParams,
}

impl ChallengeError {
    /// A `DuplicateParam` whose name is cut to a bounded length (names are tokens, so ASCII, so
    /// any byte index is a char boundary).
    pub(crate) fn duplicate(name: &str) -> Self {
        const MAX_NAME_IN_ERROR: usize = 64;
        let cut = name.get(..MAX_NAME_IN_ERROR).unwrap_or(name);
        Self::DuplicateParam {
            name: cut.to_owned(),
        }
    }
}
