//! The redacted newtype for token secrets held in cache entries.

use std::fmt;
use std::sync::Arc;

/// The `secret` of a cached credential: an access token, refresh token or ID token.
///
/// `Debug` prints `[redacted]`; there is no `Display` and no `PartialEq`, so the value cannot
/// reach a log line or an error message by accident.
///
/// ```
/// use msal_lite::schema::CacheSecret;
///
/// let s = CacheSecret::new("eyJ0eXAi...");
/// assert_eq!(format!("{s:?}"), "[redacted]");
/// assert_eq!(s.secret(), "eyJ0eXAi...");
/// ```
///
/// The value is shared: the in-memory cache an import builds holds the same allocation as the
/// parsed entry (no second copy of every token, a few KB each), and cloning is a reference
/// count.
#[derive(Clone)]
pub struct CacheSecret(Arc<str>);

impl CacheSecret {
    /// Wraps a token value.
    ///
    /// ```
    /// # use msal_lite::schema::CacheSecret;
    /// let s = CacheSecret::new(String::from("a refresh token"));
    /// # let _ = s;
    /// ```
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into().into())
    }

    /// The shared value, for the in-memory cache (no copy).
    pub(crate) fn shared(&self) -> Arc<str> {
        self.0.clone()
    }

    /// The token itself.
    ///
    /// # Security Warning
    ///
    /// This is a bearer credential. Do not log it, put it in an error, or send it anywhere but
    /// to the resource or token endpoint it was issued for.
    ///
    /// ```
    /// # use msal_lite::schema::CacheSecret;
    /// let s = CacheSecret::new("at");
    /// assert_eq!(s.secret(), "at");
    /// ```
    pub fn secret(&self) -> &str {
        &self.0
    }

    /// Compares two secrets. Used when merging cache copies, which are both ours, so a
    /// constant-time comparison is deliberately not needed.
    pub(crate) fn same_as(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}

impl fmt::Debug for CacheSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let s = CacheSecret::new("super-secret-token");
        assert_eq!(format!("{s:?}"), "[redacted]");
        assert_eq!(format!("{s:#?}"), "[redacted]");
    }

    #[test]
    fn clones_and_the_shared_value_are_one_allocation() {
        let s = CacheSecret::new(String::from("an access token"));
        assert!(Arc::ptr_eq(&s.shared(), &s.clone().shared()));
        assert_eq!(&*s.shared(), "an access token");
    }
}
