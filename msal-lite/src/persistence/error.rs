//! Errors of cache persistence.

use std::error::Error as StdError;

use crate::schema::SchemaError;

/// Why loading, saving or removing a cache partition failed.
///
/// Messages never contain tokens or partition keys (keys identify people); causes are chained
/// with `source()`.
///
/// ```
/// use msal_lite::persistence::PersistenceError;
///
/// let err = PersistenceError::Timeout;
/// assert_eq!(err.to_string(), "cache store operation timed out");
/// assert!(err.is_unavailable());
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PersistenceError {
    /// The store did not answer within its operation timeout.
    #[error("cache store operation timed out")]
    Timeout,
    /// The store cannot be reached (connection refused or dropped, or backing off after that).
    #[error("cache store is unavailable")]
    Unavailable(#[source] Box<dyn StdError + Send + Sync + 'static>),
    /// A stored partition is not valid cache JSON.
    #[error("stored cache partition is invalid")]
    Corrupt(#[source] SchemaError),
    /// The value codec (for example decryption) failed.
    #[error("cache value codec failed")]
    Codec(#[source] Box<dyn StdError + Send + Sync + 'static>),
    /// Other writers kept changing the partition; the read-merge-write loop gave up.
    #[error("cache partition kept changing; gave up after {attempts} attempts")]
    Contention {
        /// How many save attempts were made.
        attempts: u32,
    },
    /// The store does not support this operation (e.g. [`CacheStore::list`](super::CacheStore::list) on a store that
    /// cannot enumerate its partitions).
    #[error("cache store does not support {operation}")]
    Unsupported {
        /// The operation, e.g. `"list"`.
        operation: &'static str,
    },
    /// Any other failure of a store (a Redis error reply, a custom backend's error).
    #[error("cache store failed")]
    Backend(#[source] Box<dyn StdError + Send + Sync + 'static>),
}

impl PersistenceError {
    /// True for timeouts and unreachable stores: transient, worth retrying later.
    ///
    /// ```
    /// use msal_lite::persistence::PersistenceError;
    /// assert!(!PersistenceError::Contention { attempts: 3 }.is_unavailable());
    /// ```
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Timeout | Self::Unavailable(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_send_sync() {
        fn assert_send_sync<T: Send + Sync + 'static>() {}
        assert_send_sync::<PersistenceError>();
    }
}
