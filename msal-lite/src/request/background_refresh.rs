//! The gate in front of background refreshes after `refresh_in`: at most one per token at a
//! time, and after a failure none until a back-off has passed.
//!
//! Without the back-off, a background refresh that fails for a reason that does not go away
//! by itself (`invalid_client` after a secret rotation, a disabled app) would be started again
//! by every call past `refresh_in`, one token request per call, until the token expired. The
//! cached token is still valid and served meanwhile, so there is no hurry: the first retry
//! waits [`FIRST_BACKOFF_SECS`] (MSAL Python answers an identical HTTP 400 token request from
//! its cache for 60 s, `throttled_http_client.py`), and each further failure doubles the wait
//! up to [`MAX_BACKOFF_SECS`]. MSAL.NET has no such back-off
//! (`SilentRequestHelper.ProcessFetchInBackground` starts a refresh on every call past
//! `RefreshOn` ± 5 min of jitter). Once the token is really due (inside the refresh margin), the
//! caller's own request goes out whatever the back-off says, and its error is returned.

use std::sync::Mutex;

use foldhash::fast::RandomState;
use hashbrown::HashMap;

/// The wait after the first failed background refresh of a token.
pub(crate) const FIRST_BACKOFF_SECS: u64 = 60;

/// The longest wait between two background attempts.
pub(crate) const MAX_BACKOFF_SECS: u64 = 15 * 60;

/// One token's background-refresh state (absent: idle, never failed or last attempt succeeded).
#[derive(Debug, Clone, Copy)]
struct Gate {
    in_flight: bool,
    /// Consecutive failures.
    failures: u32,
    /// Unix seconds before which no new background attempt starts.
    not_before: u64,
}

/// Background-refresh gates by flight key (`app|…`, `user|…`), one set per client.
#[derive(Debug, Default)]
pub(crate) struct BackgroundRefresh {
    gates: Mutex<HashMap<Box<str>, Gate, RandomState>>,
}

/// What [`BackgroundRefresh::try_start`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Start {
    /// Go: the caller must report the outcome with [`BackgroundRefresh::finish`].
    Go,
    /// One is already running for this token.
    InFlight,
    /// The last one failed; the next may start in this many seconds.
    BackingOff(u64),
}

impl BackgroundRefresh {
    /// Whether a background refresh of `key` may start now; `Go` marks it in flight.
    pub(crate) fn try_start(&self, key: &str, now: u64) -> Start {
        let mut gates = self.gates.lock().unwrap_or_else(|p| p.into_inner());
        match gates.get_mut(key) {
            Some(gate) if gate.in_flight => Start::InFlight,
            Some(gate) if now < gate.not_before => Start::BackingOff(gate.not_before - now),
            Some(gate) => {
                gate.in_flight = true;
                Start::Go
            }
            None => {
                gates.insert(
                    key.into(),
                    Gate {
                        in_flight: true,
                        failures: 0,
                        not_before: 0,
                    },
                );
                Start::Go
            }
        }
    }

    /// Reports the outcome of a started refresh. A success forgets the gate; a failure sets
    /// the back-off and returns its length in seconds.
    pub(crate) fn finish(&self, key: &str, succeeded: bool, now: u64) -> Option<u64> {
        let mut gates = self.gates.lock().unwrap_or_else(|p| p.into_inner());
        if succeeded {
            gates.remove(key);
            return None;
        }
        let gate = match gates.get_mut(key) {
            Some(gate) => gate,
            None => gates.entry(key.into()).or_insert(Gate {
                in_flight: false,
                failures: 0,
                not_before: 0,
            }),
        };
        gate.in_flight = false;
        gate.failures = gate.failures.saturating_add(1);
        let wait = backoff_secs(gate.failures);
        gate.not_before = now.saturating_add(wait);
        Some(wait)
    }

    /// The number of tokens with a gate (tests).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.gates.lock().unwrap().len()
    }
}

/// A started background refresh: reports its outcome when finished, and a failure when dropped
/// unfinished (the task was cancelled, e.g. at runtime shutdown), so the gate never stays "in
/// flight" forever.
pub(crate) struct Attempt {
    inner: std::sync::Arc<crate::client::ClientInner>,
    key: Box<str>,
    done: bool,
}

impl Attempt {
    /// Claims the gate of `key`, or says why not.
    pub(crate) fn start(
        inner: &std::sync::Arc<crate::client::ClientInner>,
        key: &str,
    ) -> Result<Self, Start> {
        match inner.background.try_start(key, inner.clock.unix_seconds()) {
            Start::Go => Ok(Self {
                inner: inner.clone(),
                key: key.into(),
                done: false,
            }),
            other => Err(other),
        }
    }

    /// The client.
    pub(crate) fn inner(&self) -> &std::sync::Arc<crate::client::ClientInner> {
        &self.inner
    }

    /// The flight key.
    pub(crate) fn key(&self) -> &str {
        &self.key
    }

    /// Records the outcome, tracing a failure with the back-off it starts.
    pub(crate) fn finish(mut self, outcome: Result<(), &crate::Error>) {
        self.done = true;
        let now = self.inner.clock.unix_seconds();
        let wait = self
            .inner
            .background
            .finish(&self.key, outcome.is_ok(), now);
        if let (Err(e), Some(wait)) = (outcome, wait) {
            tracing::warn!(
                error = %e,
                retry_in_secs = wait,
                "background token refresh after refresh_in failed; the cached token is still served"
            );
        }
    }
}

impl Drop for Attempt {
    fn drop(&mut self) {
        if !self.done {
            let now = self.inner.clock.unix_seconds();
            self.inner.background.finish(&self.key, false, now);
        }
    }
}

/// Whether to skip starting a background refresh, traced (at trace level: it happens on every
/// call past `refresh_in` while one runs or backs off).
pub(crate) fn trace_skipped(why: Start) {
    match why {
        Start::BackingOff(secs) => tracing::trace!(
            retry_in_secs = secs,
            "background refresh backing off after a failure; serving the cached token"
        ),
        Start::InFlight | Start::Go => {}
    }
}

/// 60 s, 120 s, 240 s, … at most 15 minutes.
fn backoff_secs(failures: u32) -> u64 {
    let doublings = failures.saturating_sub(1).min(16);
    FIRST_BACKOFF_SECS
        .saturating_mul(1 << doublings)
        .min(MAX_BACKOFF_SECS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_at_a_time_then_back_off_doubling_then_reset() {
        let gates = BackgroundRefresh::default();
        assert_eq!(gates.try_start("k", 100), Start::Go);
        assert_eq!(gates.try_start("k", 100), Start::InFlight);
        assert_eq!(gates.try_start("other", 100), Start::Go);
        assert_eq!(gates.finish("k", false, 110), Some(60));
        assert_eq!(gates.try_start("k", 111), Start::BackingOff(59));
        assert_eq!(gates.try_start("k", 170), Start::Go);
        assert_eq!(gates.finish("k", false, 170), Some(120));
        assert_eq!(gates.try_start("k", 289), Start::BackingOff(1));
        assert_eq!(gates.try_start("k", 290), Start::Go);
        assert_eq!(gates.finish("k", true, 291), None);
        assert_eq!(gates.len(), 1, "a success forgets the gate");
        assert_eq!(gates.try_start("k", 291), Start::Go);
    }

    #[test]
    fn backoff_is_capped() {
        assert_eq!(backoff_secs(1), 60);
        assert_eq!(backoff_secs(2), 120);
        assert_eq!(backoff_secs(4), 480);
        assert_eq!(backoff_secs(5), MAX_BACKOFF_SECS);
        assert_eq!(backoff_secs(u32::MAX), MAX_BACKOFF_SECS);
    }
}
