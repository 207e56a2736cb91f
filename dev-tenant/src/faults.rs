//! Per-endpoint request counters and injected faults (latency, 429 with `Retry-After`, 5xx,
//! malformed JSON, truncated bodies, dropped connections).

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// An endpoint the dev tenant serves, for counters and faults.
///
/// ```
/// use dev_tenant::Endpoint;
/// assert_eq!("token".parse::<Endpoint>().unwrap(), Endpoint::Token);
/// assert_eq!(Endpoint::GraphMe.to_string(), "graph_me");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Endpoint {
    /// `/{tenant}/v2.0/.well-known/openid-configuration`
    Discovery,
    /// `/{tenant}/discovery/v2.0/keys`
    Jwks,
    /// `/{tenant}/oauth2/v2.0/authorize`
    Authorize,
    /// `/{tenant}/oauth2/v2.0/token`
    Token,
    /// `/{tenant}/oauth2/v2.0/logout`
    Logout,
    /// `/v1.0/me` (Microsoft Graph)
    GraphMe,
}

impl Endpoint {
    /// Every endpoint.
    pub const ALL: [Self; 6] = [
        Self::Discovery,
        Self::Jwks,
        Self::Authorize,
        Self::Token,
        Self::Logout,
        Self::GraphMe,
    ];

    /// The snake_case name used by the admin API.
    pub fn name(self) -> &'static str {
        match self {
            Self::Discovery => "discovery",
            Self::Jwks => "jwks",
            Self::Authorize => "authorize",
            Self::Token => "token",
            Self::Logout => "logout",
            Self::GraphMe => "graph_me",
        }
    }

    fn index(self) -> usize {
        match self {
            Self::Discovery => 0,
            Self::Jwks => 1,
            Self::Authorize => 2,
            Self::Token => 3,
            Self::Logout => 4,
            Self::GraphMe => 5,
        }
    }

    /// Which endpoint a request path addresses (the tenant segment is checked by the handler).
    pub(crate) fn classify(path: &str) -> Option<Self> {
        if path == "/v1.0/me" || path == "/v1.0/me/" {
            return Some(Self::GraphMe);
        }
        let rest = path.strip_prefix('/')?;
        let (_tenant, rest) = rest.split_once('/')?;
        match rest.trim_end_matches('/') {
            "v2.0/.well-known/openid-configuration" => Some(Self::Discovery),
            "discovery/v2.0/keys" => Some(Self::Jwks),
            "oauth2/v2.0/authorize" => Some(Self::Authorize),
            "oauth2/v2.0/token" => Some(Self::Token),
            "oauth2/v2.0/logout" => Some(Self::Logout),
            _ => None,
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The error for an unknown endpoint name.
///
/// ```
/// assert!("nope".parse::<dev_tenant::Endpoint>().is_err());
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[error("unknown endpoint")]
#[non_exhaustive]
pub struct UnknownEndpoint;

impl FromStr for Endpoint {
    type Err = UnknownEndpoint;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|e| e.name().eq_ignore_ascii_case(s))
            .ok_or(UnknownEndpoint)
    }
}

/// What an injected fault does.
///
/// ```
/// use dev_tenant::{Fault, FaultKind};
/// assert_eq!(Fault::status(503).kind, FaultKind::Status { status: 503 });
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum FaultKind {
    /// Wait this long, then answer normally.
    Latency {
        /// Added latency in milliseconds.
        millis: u64,
    },
    /// Answer with this status and an Entra (or Graph) error body.
    Status {
        /// The HTTP status code (400..=599).
        status: u16,
    },
    /// Answer 429 with `Retry-After`.
    TooManyRequests {
        /// The `Retry-After` value in seconds.
        retry_after_secs: u64,
    },
    /// Answer 200 with a JSON content type and a body that is not valid JSON.
    MalformedJson,
    /// Answer normally but close the connection halfway through the body.
    TruncatedBody,
    /// Close the connection without answering.
    DropConnection,
}

/// A fault to inject, for a number of requests or until cleared.
///
/// ```
/// use std::time::Duration;
/// use dev_tenant::Fault;
/// let once = Fault::status(503).times(1);
/// let slow = Fault::latency(Duration::from_millis(200));
/// let throttled = Fault::too_many_requests(Duration::from_secs(5)).times(2);
/// assert_eq!(once.remaining(), Some(1));
/// assert_eq!(slow.remaining(), None);
/// # let _ = throttled;
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Fault {
    /// What to do.
    #[serde(flatten)]
    pub kind: FaultKind,
    /// For how many requests; `None` until cleared.
    #[serde(default)]
    pub times: Option<u32>,
}

impl Fault {
    /// A fault of this kind, until cleared.
    pub fn new(kind: FaultKind) -> Self {
        Self { kind, times: None }
    }
    /// Added latency.
    pub fn latency(delay: Duration) -> Self {
        Self::new(FaultKind::Latency {
            millis: u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
        })
    }
    /// An error status (e.g. 500 or 503) with an Entra-shaped body.
    pub fn status(status: u16) -> Self {
        Self::new(FaultKind::Status { status })
    }
    /// 429 with `Retry-After` (whole seconds).
    pub fn too_many_requests(retry_after: Duration) -> Self {
        Self::new(FaultKind::TooManyRequests {
            retry_after_secs: retry_after.as_secs(),
        })
    }
    /// 200 with a body that is not JSON.
    pub fn malformed_json() -> Self {
        Self::new(FaultKind::MalformedJson)
    }
    /// The body stops halfway and the connection closes.
    pub fn truncated_body() -> Self {
        Self::new(FaultKind::TruncatedBody)
    }
    /// The connection closes without a response.
    pub fn drop_connection() -> Self {
        Self::new(FaultKind::DropConnection)
    }
    /// Only for the next `n` requests.
    #[must_use]
    pub fn times(mut self, n: u32) -> Self {
        self.times = Some(n);
        self
    }
    /// How many more requests it applies to (`None`: until cleared).
    pub fn remaining(&self) -> Option<u32> {
        self.times
    }

    pub(crate) fn validate(&self) -> Result<(), &'static str> {
        match self.kind {
            FaultKind::Status { status } if !(400..=599).contains(&status) => {
                Err("status must be 400..=599")
            }
            _ if self.times == Some(0) => Err("times must be at least 1"),
            _ => Ok(()),
        }
    }
}

/// Injected faults per endpoint, applied in the order they were added.
#[derive(Debug, Default)]
pub(crate) struct Faults {
    queue: Mutex<HashMap<Endpoint, Vec<Fault>>>,
}

impl Faults {
    pub(crate) fn inject(&self, endpoint: Endpoint, fault: Fault) {
        self.queue
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(endpoint)
            .or_default()
            .push(fault);
    }

    pub(crate) fn clear(&self, endpoint: Option<Endpoint>) {
        let mut q = self
            .queue
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match endpoint {
            Some(e) => {
                q.remove(&e);
            }
            None => q.clear(),
        }
    }

    /// The fault for the next request to `endpoint`, consuming one use.
    pub(crate) fn take(&self, endpoint: Endpoint) -> Option<FaultKind> {
        let mut q = self
            .queue
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let list = q.get_mut(&endpoint)?;
        let first = list.first_mut()?;
        let kind = first.kind.clone();
        if let Some(n) = first.times.as_mut() {
            *n = n.saturating_sub(1);
            if *n == 0 {
                list.remove(0);
            }
        }
        Some(kind)
    }

    pub(crate) fn list(&self) -> HashMap<Endpoint, Vec<Fault>> {
        self.queue
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

/// Requests received per endpoint.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    counts: [AtomicU64; 6],
}

impl Counters {
    pub(crate) fn hit(&self, endpoint: Endpoint) {
        self.counts[endpoint.index()].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn get(&self, endpoint: Endpoint) -> u64 {
        self.counts[endpoint.index()].load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classify_paths() {
        assert_eq!(
            Endpoint::classify("/contoso.onmicrosoft.com/oauth2/v2.0/token"),
            Some(Endpoint::Token)
        );
        assert_eq!(
            Endpoint::classify("/x/v2.0/.well-known/openid-configuration"),
            Some(Endpoint::Discovery)
        );
        assert_eq!(
            Endpoint::classify("/x/discovery/v2.0/keys"),
            Some(Endpoint::Jwks)
        );
        assert_eq!(Endpoint::classify("/v1.0/me"), Some(Endpoint::GraphMe));
        assert_eq!(Endpoint::classify("/_admin/faults"), None);
        assert_eq!(Endpoint::classify(""), None);
    }

    #[test]
    fn times_counts_down_then_clears() {
        let f = Faults::default();
        f.inject(Endpoint::Token, Fault::status(503).times(2));
        f.inject(Endpoint::Token, Fault::malformed_json().times(1));
        assert_eq!(
            f.take(Endpoint::Token),
            Some(FaultKind::Status { status: 503 })
        );
        assert_eq!(
            f.take(Endpoint::Token),
            Some(FaultKind::Status { status: 503 })
        );
        assert_eq!(f.take(Endpoint::Token), Some(FaultKind::MalformedJson));
        assert_eq!(f.take(Endpoint::Token), None);
        f.inject(Endpoint::Jwks, Fault::drop_connection());
        for _ in 0..5 {
            assert_eq!(f.take(Endpoint::Jwks), Some(FaultKind::DropConnection));
        }
        f.clear(Some(Endpoint::Jwks));
        assert_eq!(f.take(Endpoint::Jwks), None);
    }

    #[test]
    fn fault_json_shape() {
        let f: Fault =
            serde_json::from_str(r#"{"kind":"too_many_requests","retry_after_secs":3,"times":1}"#)
                .unwrap();
        assert_eq!(f, Fault::too_many_requests(Duration::from_secs(3)).times(1));
        assert!(Fault::status(200).validate().is_err());
        assert!(Fault::status(503).times(0).validate().is_err());
    }
}
