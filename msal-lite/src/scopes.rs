//! Scope sets: validated once, compared without allocating.

use std::fmt;
use std::sync::Arc;

use crate::Error;

/// A validated, de-duplicated set of OAuth 2.0 scopes (RFC 6749 §3.3).
///
/// Scopes keep the caller's spelling and order for the request and carry a normalised form
/// (lower-cased, sorted) for cache keys, as MSAL does: scope comparison is case-insensitive.
/// Cloning is an `Arc` clone, so build a `Scopes` once and reuse it to make cache hits
/// allocation-free.
///
/// ```
/// use msal_lite::Scopes;
///
/// let scopes = Scopes::new(["https://graph.microsoft.com/.default"])?;
/// assert_eq!(scopes.as_str(), "https://graph.microsoft.com/.default");
///
/// let user = Scopes::new(["User.Read", "openid user.read"])?;
/// assert_eq!(user.as_str(), "User.Read openid");
/// assert!(Scopes::new(["bad\"scope"]).is_err());
/// # Ok::<(), msal_lite::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Scopes(Arc<Inner>);

#[derive(PartialEq, Eq, Hash)]
struct Inner {
    /// Space-separated, in the caller's order and spelling.
    request: Box<str>,
    /// Space-separated, lower-cased and sorted: the cache key. `None` when it equals
    /// `request` (one lower-case scope, the common case), so a cached token does not hold the
    /// same string twice.
    key: Option<Box<str>>,
}

impl Scopes {
    /// Validates and de-duplicates scopes. Each item may itself hold several space-separated
    /// scopes. At least one scope is required.
    ///
    /// ```
    /// let scopes = msal_lite::Scopes::new(vec!["api://app/.default".to_owned()])?;
    /// assert_eq!(scopes.len(), 1);
    /// # Ok::<(), msal_lite::Error>(())
    /// ```
    pub fn new<I, S>(scopes: I) -> Result<Self, Error>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut items: Vec<String> = Vec::new();
        for item in scopes {
            for scope in item.as_ref().split_ascii_whitespace() {
                if let Some(bad) = scope.chars().find(|c| !is_scope_char(*c)) {
                    return Err(Error::invalid_scope(format!(
                        "scope contains the character {bad:?}, which RFC 6749 section 3.3 does not allow"
                    )));
                }
                if !items.iter().any(|seen| seen.eq_ignore_ascii_case(scope)) {
                    items.push(scope.to_owned());
                }
            }
        }
        if items.is_empty() {
            return Err(Error::invalid_scope("at least one scope is required"));
        }
        Ok(Self::from_items(items))
    }

    /// Scopes as a server reported them (the token response's `scope`): split on whitespace,
    /// never rejected, possibly empty.
    pub(crate) fn from_server(scope: &str) -> Option<Self> {
        let mut items: Vec<String> = Vec::new();
        for scope in scope.split_ascii_whitespace() {
            if !items.iter().any(|seen| seen.eq_ignore_ascii_case(scope)) {
                items.push(scope.to_owned());
            }
        }
        if items.is_empty() {
            None
        } else {
            Some(Self::from_items(items))
        }
    }

    fn from_items(items: Vec<String>) -> Self {
        let request = items.join(" ");
        let mut lowered: Vec<String> = items.iter().map(|s| s.to_ascii_lowercase()).collect();
        lowered.sort_unstable();
        lowered.dedup();
        let key = lowered.join(" ");
        let key = (key != request).then(|| key.into_boxed_str());
        Self(Arc::new(Inner {
            request: request.into_boxed_str(),
            key,
        }))
    }

    /// The scopes as sent on the wire: space-separated, in the caller's order.
    ///
    /// ```
    /// let scopes = msal_lite::Scopes::new(["b", "a"])?;
    /// assert_eq!(scopes.as_str(), "b a");
    /// # Ok::<(), msal_lite::Error>(())
    /// ```
    pub fn as_str(&self) -> &str {
        &self.0.request
    }

    /// Iterates the scopes in the caller's order.
    ///
    /// ```
    /// let scopes = msal_lite::Scopes::new(["b a"])?;
    /// assert_eq!(scopes.iter().collect::<Vec<_>>(), ["b", "a"]);
    /// # Ok::<(), msal_lite::Error>(())
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.request.split(' ')
    }

    /// The number of distinct scopes.
    ///
    /// ```
    /// assert_eq!(msal_lite::Scopes::new(["a A b"])?.len(), 2);
    /// # Ok::<(), msal_lite::Error>(())
    /// ```
    pub fn len(&self) -> usize {
        self.iter().count()
    }

    /// Always `false`: a `Scopes` holds at least one scope. Present for API symmetry with `len`.
    ///
    /// ```
    /// assert!(!msal_lite::Scopes::new(["a"])?.is_empty());
    /// # Ok::<(), msal_lite::Error>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.0.request.is_empty()
    }

    /// Whether every scope of `other` is in `self`, compared case-insensitively.
    ///
    /// ```
    /// use msal_lite::Scopes;
    /// let granted = Scopes::new(["openid profile User.Read"])?;
    /// assert!(granted.contains_all(&Scopes::new(["user.read"])?));
    /// assert!(!granted.contains_all(&Scopes::new(["Mail.Read"])?));
    /// # Ok::<(), msal_lite::Error>(())
    /// ```
    pub fn contains_all(&self, other: &Scopes) -> bool {
        // Both keys are sorted, so one merge walk decides it without allocating.
        let mut mine = self.key().split(' ').peekable();
        'wanted: for want in other.key().split(' ') {
            while let Some(have) = mine.peek() {
                match (*have).cmp(want) {
                    std::cmp::Ordering::Less => {
                        mine.next();
                    }
                    std::cmp::Ordering::Equal => {
                        mine.next();
                        continue 'wanted;
                    }
                    std::cmp::Ordering::Greater => return false,
                }
            }
            return false;
        }
        true
    }

    /// Lower-cased, sorted, space-separated: the form MSAL uses in cache keys (`target`).
    pub(crate) fn key(&self) -> &str {
        self.0.key.as_deref().unwrap_or(&self.0.request)
    }
}

/// RFC 6749 §3.3: `scope-token = 1*( %x21 / %x23-5B / %x5D-7E )`.
fn is_scope_char(c: char) -> bool {
    matches!(c, '\x21' | '\x23'..='\x5B' | '\x5D'..='\x7E')
}

impl fmt::Debug for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Scopes").field(&self.as_str()).finish()
    }
}

/// Anything that can become [`Scopes`]: a `Scopes` (no allocation), a reference to one, or any
/// iterator of strings (`["a", "b"]`, `vec![String]`, `&[&str]`).
///
/// ```
/// use msal_lite::{IntoScopes, Scopes};
/// let from_array = ["https://graph.microsoft.com/.default"].into_scopes()?;
/// let reused: Scopes = (&from_array).into_scopes()?;
/// assert_eq!(from_array, reused);
/// # Ok::<(), msal_lite::Error>(())
/// ```
pub trait IntoScopes {
    /// Converts, validating when needed.
    fn into_scopes(self) -> Result<Scopes, Error>;
}

impl IntoScopes for Scopes {
    fn into_scopes(self) -> Result<Scopes, Error> {
        Ok(self)
    }
}

impl IntoScopes for &Scopes {
    fn into_scopes(self) -> Result<Scopes, Error> {
        Ok(self.clone())
    }
}

impl<I, S> IntoScopes for I
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    fn into_scopes(self) -> Result<Scopes, Error> {
        Scopes::new(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_for_the_key_and_keeps_request_spelling() {
        let s = Scopes::new(["User.Read", "openid", "user.read", "  Profile  "]).unwrap();
        assert_eq!(s.as_str(), "User.Read openid Profile");
        assert_eq!(s.key(), "openid profile user.read");
        assert_eq!(s.len(), 3);
    }

    #[test]
    fn rejects_empty_and_bad_characters() {
        assert!(Scopes::new(Vec::<String>::new()).is_err());
        assert!(Scopes::new(["   "]).is_err());
        assert!(Scopes::new(["a\\b"]).is_err());
        assert!(Scopes::new(["caf\u{e9}"]).is_err());
        assert!(Scopes::new(["a\u{7f}"]).is_err());
    }

    #[test]
    fn superset() {
        let big = Scopes::new(["a b c d"]).unwrap();
        assert!(big.contains_all(&Scopes::new(["D", "b"]).unwrap()));
        assert!(big.contains_all(&big));
        assert!(!big.contains_all(&Scopes::new(["a e"]).unwrap()));
        assert!(
            !Scopes::new(["b"])
                .unwrap()
                .contains_all(&Scopes::new(["a"]).unwrap())
        );
    }

    #[test]
    fn server_scopes_are_lenient() {
        assert!(Scopes::from_server("  ").is_none());
        assert_eq!(Scopes::from_server("a\tb").unwrap().as_str(), "a b");
    }
}
