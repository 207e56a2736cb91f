//! Acquisition leases: the distributed half of single flight.
//!
//! A store shared by a fleet (Redis) can hand out a short lease per (partition, flight) so
//! that of all the instances missing the same token at the same moment only one goes to the
//! token endpoint; the others wait for the token it writes. A store without leases (the
//! default, [`LeaseOutcome::Unsupported`]) leaves each instance to its own single flight.

use std::fmt;
use std::time::Duration;

use super::{BoxFuture, Partition, PersistenceError};

/// What [`CacheStore::acquisition_lease`](super::CacheStore::acquisition_lease) found.
///
/// ```
/// use std::time::Duration;
/// use msal_lite::persistence::LeaseOutcome;
///
/// let held = LeaseOutcome::Held { expires_in: Duration::from_millis(800), current: None };
/// assert!(!held.is_acquired());
/// assert!(!LeaseOutcome::Unsupported.is_acquired());
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum LeaseOutcome {
    /// The store has no leases: every instance relies on its own single flight.
    Unsupported,
    /// This caller holds the lease: it should acquire the token, store it, then
    /// [`release`](Lease::release) the lease.
    Acquired {
        /// The lease, to release once the token is stored (or the acquisition failed).
        lease: Lease,
        /// The partition as stored when the lease was taken (read atomically with it), so
        /// a token the previous holder stored just before releasing is not fetched again.
        current: Option<Partition>,
    },
    /// Another caller holds the lease.
    Held {
        /// How long the lease has left at most (it ends sooner if its holder releases it).
        expires_in: Duration,
        /// The partition as stored now.
        current: Option<Partition>,
    },
}

impl LeaseOutcome {
    /// True for [`LeaseOutcome::Acquired`].
    ///
    /// ```
    /// use msal_lite::persistence::{Lease, LeaseOutcome};
    /// let outcome = LeaseOutcome::Acquired { lease: Lease::new(|| Box::pin(async { Ok(()) })), current: None };
    /// assert!(outcome.is_acquired());
    /// ```
    pub fn is_acquired(&self) -> bool {
        matches!(self, Self::Acquired { .. })
    }
}

type Release = Box<dyn FnOnce() -> BoxFuture<'static, Result<(), PersistenceError>> + Send + Sync>;

/// A held acquisition lease. [`release`](Self::release) gives it up; a lease that is dropped
/// without being released (its holder was cancelled or crashed) simply expires, and waiters
/// acquire after it.
///
/// ```
/// use msal_lite::persistence::Lease;
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let lease = Lease::new(|| Box::pin(async { Ok(()) }));
/// lease.release().await?;
/// # Ok::<(), msal_lite::persistence::PersistenceError>(())
/// # }).unwrap();
/// ```
#[must_use = "release the lease once the token is stored"]
pub struct Lease {
    release: Release,
}

impl Lease {
    /// A lease released by `release` (which should give the lease up only if this holder
    /// still owns it, e.g. a token-checked delete).
    ///
    /// ```
    /// use msal_lite::persistence::Lease;
    /// let lease = Lease::new(|| Box::pin(async { Ok(()) }));
    /// # drop(lease);
    /// ```
    pub fn new(
        release: impl FnOnce() -> BoxFuture<'static, Result<(), PersistenceError>>
        + Send
        + Sync
        + 'static,
    ) -> Self {
        Self {
            release: Box::new(release),
        }
    }

    /// Gives the lease up, so waiters stop waiting for it at once.
    ///
    /// ```
    /// use msal_lite::persistence::Lease;
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// Lease::new(|| Box::pin(async { Ok(()) })).release().await?;
    /// # Ok::<(), msal_lite::persistence::PersistenceError>(())
    /// # }).unwrap();
    /// ```
    pub fn release(self) -> BoxFuture<'static, Result<(), PersistenceError>> {
        (self.release)()
    }
}

impl fmt::Debug for Lease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lease").finish_non_exhaustive()
    }
}
