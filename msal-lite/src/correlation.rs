//! Correlation ids (`client-request-id`).

use std::fmt;
use std::str::FromStr;

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use uuid::Uuid;

/// The id sent as `client-request-id` with every request, so a request can be found in the
/// identity provider's logs (Microsoft identity platform: "client-request-id" request header).
///
/// A fresh random id is made for each acquisition unless the caller supplies one.
///
/// ```
/// use msal_lite::CorrelationId;
/// let id: CorrelationId = "73d656cf-54b1-4eb2-b429-26d8165a52d7".parse()?;
/// assert_eq!(id.to_string(), "73d656cf-54b1-4eb2-b429-26d8165a52d7");
/// assert_ne!(CorrelationId::random(), CorrelationId::random());
/// # Ok::<(), msal_lite::Error>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct CorrelationId(Uuid);

impl CorrelationId {
    /// A new random (version 4) id, from the operating system's CSPRNG.
    pub fn random() -> Self {
        let mut bytes = [0u8; 16];
        // SystemRandom only fails when the OS has no entropy source at all; a fixed id is still a
        // valid correlation id (it is not a secret), so degrade rather than fail the request.
        if SystemRandom::new().fill(&mut bytes).is_err() {
            bytes = [0x5a; 16];
        }
        Self(uuid::Builder::from_random_bytes(bytes).into_uuid())
    }

    /// Wraps an existing UUID.
    ///
    /// ```
    /// let id = msal_lite::CorrelationId::from_uuid(uuid::Uuid::nil());
    /// assert_eq!(id.as_uuid(), uuid::Uuid::nil());
    /// ```
    pub fn from_uuid(id: Uuid) -> Self {
        Self(id)
    }

    /// The UUID.
    ///
    /// ```
    /// let id = msal_lite::CorrelationId::random();
    /// assert_eq!(id.as_uuid().get_version_num(), 4);
    /// ```
    pub fn as_uuid(&self) -> Uuid {
        self.0
    }
}

impl fmt::Debug for CorrelationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CorrelationId({})", self.0.hyphenated())
    }
}

impl fmt::Display for CorrelationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0.hyphenated(), f)
    }
}

impl FromStr for CorrelationId {
    type Err = crate::Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s)
            .map(Self)
            .map_err(|_| crate::Error::config("a correlation id must be a UUID"))
    }
}
