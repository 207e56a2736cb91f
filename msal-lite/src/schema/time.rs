//! Unix-second timestamps as the unified cache schema stores them.

use std::time::{SystemTime, UNIX_EPOCH};

/// A point in time as whole seconds since the Unix epoch.
///
/// The unified cache schema stores `cached_at`, `expires_on`, `extended_expires_on` and
/// `refresh_on` as **strings** of decimal seconds (`"1556527082"`); MSAL Node, MSAL Python and
/// MSAL.NET all write strings. msal-lite writes strings and also accepts JSON numbers on read.
///
/// ```
/// use msal_lite::schema::UnixTime;
///
/// let t = UnixTime::from_secs(4600);
/// assert_eq!(t.as_secs(), 4600);
/// assert!(UnixTime::now() > t);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnixTime(i64);

impl UnixTime {
    /// A timestamp from seconds since the epoch.
    ///
    /// ```
    /// # use msal_lite::schema::UnixTime;
    /// assert_eq!(UnixTime::from_secs(1).as_secs(), 1);
    /// ```
    pub const fn from_secs(secs: i64) -> Self {
        Self(secs)
    }

    /// Seconds since the epoch.
    ///
    /// ```
    /// # use msal_lite::schema::UnixTime;
    /// assert_eq!(UnixTime::from_secs(7).as_secs(), 7);
    /// ```
    pub const fn as_secs(self) -> i64 {
        self.0
    }

    /// The current system time (a clock before 1970 reads as 0).
    ///
    /// ```
    /// # use msal_lite::schema::UnixTime;
    /// assert!(UnixTime::now().as_secs() > 1_700_000_000);
    /// ```
    pub fn now() -> Self {
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        Self(secs)
    }

    /// Parses the schema's string form, tolerating surrounding whitespace.
    pub(crate) fn parse_str(s: &str) -> Option<Self> {
        s.trim().parse::<i64>().ok().map(Self)
    }

    /// The schema's string form.
    pub(crate) fn to_schema_string(self) -> String {
        self.0.to_string()
    }
}
