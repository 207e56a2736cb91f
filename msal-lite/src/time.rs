//! The clock used for token expiry, client assertions and the cache.
//!
//! Injectable so tests can move time without sleeping.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A source of wall-clock time.
///
/// The default is [`SystemClock`]. Any `Fn() -> SystemTime + Send + Sync` closure is a clock too,
/// which is how tests move time forward.
///
/// ```
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use std::time::{Duration, SystemTime};
/// use msal_lite::Clock;
///
/// let offset = Arc::new(AtomicU64::new(0));
/// let seen = offset.clone();
/// let clock = move || SystemTime::now() + Duration::from_secs(seen.load(Ordering::Relaxed));
/// let before = clock.now();
/// offset.store(3600, Ordering::Relaxed);
/// assert!(clock.now() > before);
/// ```
pub trait Clock: Send + Sync + 'static {
    /// The current time.
    fn now(&self) -> SystemTime;

    /// Whole seconds since the Unix epoch (0 before 1970): what cache lookups compare expiry
    /// against, once per call. The default derives it from [`now`](Self::now).
    ///
    /// ```
    /// use std::time::{Duration, SystemTime, UNIX_EPOCH};
    /// use msal_lite::Clock;
    /// let clock = || UNIX_EPOCH + Duration::from_millis(1_700_000_000_900);
    /// assert_eq!(clock.unix_seconds(), 1_700_000_000);
    /// ```
    fn unix_seconds(&self) -> u64 {
        unix_seconds(self.now())
    }
}

/// The operating system's clock.
///
/// ```
/// use msal_lite::{Clock, SystemClock};
/// let _now = SystemClock.now();
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }

    /// On Linux, `CLOCK_REALTIME_COARSE` (the time at the last timer tick, a few milliseconds
    /// old at most) through the vDSO: about 5 ns where `SystemTime::now()` costs about 35 ns on
    /// a KVM guest, a fifth of a cache hit. Expiry is compared in whole seconds with a
    /// five-minute refresh margin.
    #[cfg(target_os = "linux")]
    fn unix_seconds(&self) -> u64 {
        let now = rustix::time::clock_gettime(rustix::time::ClockId::RealtimeCoarse);
        u64::try_from(now.tv_sec).unwrap_or(0)
    }
}

impl<F> Clock for F
where
    F: Fn() -> SystemTime + Send + Sync + 'static,
{
    fn now(&self) -> SystemTime {
        self()
    }
}

/// A shared clock handle.
#[derive(Clone)]
pub(crate) struct SharedClock(Arc<dyn Clock>);

impl SharedClock {
    pub(crate) fn new(clock: impl Clock) -> Self {
        Self(Arc::new(clock))
    }

    /// The current time.
    pub(crate) fn now(&self) -> SystemTime {
        self.0.now()
    }

    /// Seconds since the Unix epoch; a clock before 1970 reads as 0.
    pub(crate) fn unix_seconds(&self) -> u64 {
        self.0.unix_seconds()
    }
}

impl Default for SharedClock {
    fn default() -> Self {
        Self::new(SystemClock)
    }
}

impl fmt::Debug for SharedClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Clock")
    }
}

pub(crate) fn unix_seconds(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

pub(crate) fn from_unix_seconds(seconds: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_round_trip() {
        let t = from_unix_seconds(1_700_000_000);
        assert_eq!(unix_seconds(t), 1_700_000_000);
        assert_eq!(unix_seconds(UNIX_EPOCH - Duration::from_secs(5)), 0);
    }

    #[test]
    fn closure_is_a_clock() {
        let clock = SharedClock::new(|| from_unix_seconds(42));
        assert_eq!(clock.unix_seconds(), 42);
    }
}
