//! Server-side telemetry on token requests: `x-client-current-telemetry` and
//! `x-client-last-telemetry`, schema 5, as msal-common builds them
//! (`lib/msal-common/src/telemetry/server/ServerTelemetryManager.ts` in
//! AzureAD/microsoft-authentication-library-for-js; MSAL Python sends the same fields as schema 4
//! in `msal/telemetry.py`).
//!
//! - current: `5|{api_id},{cache_outcome},{region_used},{region_source},{region_outcome}|{wrapper_sku},{wrapper_ver}`
//! - last: `5|{cache_hits}|{api_id},{correlation_id},...|{error},...|{error_count},{overflow}`
//!
//! "Last" carries the failed token requests since the last success (at most 50 kept, as many as
//! fit in 330 bytes sent, oldest first); a success clears those it carried. Unlike MSAL,
//! `cache_hits` is always 0: counting hits would put a shared write on the cache-hit path, which
//! is otherwise lock-free and allocation-free.
//!
//! The headers go only on token requests (form POSTs with a `grant_type`), never on discovery
//! or key fetches. The layer sits below the throttle, so only requests that reach the network
//! are counted.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use http::{HeaderName, HeaderValue, Method};

use super::{BoxFuture, HttpClient, HttpError, HttpRequest, HttpResponse};

const SCHEMA_VERSION: &str = "5";
/// msal-common's `MAX_LAST_HEADER_BYTES` (Entra's limit is 350).
const MAX_LAST_HEADER_BYTES: usize = 330;
/// msal-common's `MAX_CACHED_ERRORS`.
const MAX_CACHED_ERRORS: usize = 50;
/// Longest error code kept (server error codes are short identifiers).
const MAX_ERROR_LEN: usize = 64;

/// Why the request went to the network (msal-common `CacheOutcome`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CacheOutcome {
    /// Not a cached flow (code redemption).
    NotApplicable = 0,
    /// `force_refresh`, or a claims request.
    ForceRefreshOrClaims = 1,
    /// No cached access token.
    NoCachedToken = 2,
    /// Past `refresh_in`: a proactive refresh.
    #[cfg_attr(
        not(test),
        expect(dead_code, reason = "set by the refresh_in path next")
    )]
    ProactiveRefresh = 4,
}

/// Where the region of a regional request came from (msal-common `RegionDiscoverySources` and
/// `RegionDiscoveryOutcomes`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RegionTelemetry {
    pub(crate) used: Arc<str>,
    /// `3`: the `REGION_NAME` environment variable; `1`: auto-detection failed; none for a
    /// configured region.
    pub(crate) source: Option<u8>,
    /// `2`: configured, not auto-detected; `4`/`5`: auto-detection succeeded / failed.
    pub(crate) outcome: u8,
}

/// What a token request tells the telemetry layer (an `http::Request` extension). Without one,
/// the API id comes from the form's `grant_type`.
#[derive(Debug, Clone)]
pub(crate) struct RequestTelemetry {
    pub(crate) api_id: u16,
    pub(crate) cache_outcome: CacheOutcome,
    pub(crate) region: Option<RegionTelemetry>,
}

/// API ids (msal-node `ApiId` in `lib/msal-node/src/utils/Constants.ts`; on-behalf-of, which
/// msal-node does not number, as MSAL Python's `ACQUIRE_TOKEN_ON_BEHALF_OF_ID`).
pub(crate) mod api_id {
    pub(crate) const SILENT: u16 = 62;
    pub(crate) const ON_BEHALF_OF: u16 = 523;
    pub(crate) const CLIENT_CREDENTIALS: u16 = 771;
    pub(crate) const BY_CODE: u16 = 871;
    pub(crate) const BY_REFRESH_TOKEN: u16 = 872;
}

impl RequestTelemetry {
    pub(crate) fn new(api_id: u16, cache_outcome: CacheOutcome) -> Self {
        Self {
            api_id,
            cache_outcome,
            region: None,
        }
    }

    /// The default for a token request whose caller set none: by grant type.
    fn for_grant(grant_type: &str) -> Option<Self> {
        let (api, outcome) = match grant_type {
            "client_credentials" => (api_id::CLIENT_CREDENTIALS, CacheOutcome::NoCachedToken),
            "authorization_code" => (api_id::BY_CODE, CacheOutcome::NotApplicable),
            "refresh_token" => (api_id::SILENT, CacheOutcome::NoCachedToken),
            "urn:ietf:params:oauth:grant-type:jwt-bearer" => {
                (api_id::ON_BEHALF_OF, CacheOutcome::NoCachedToken)
            }
            _ => return None,
        };
        Some(Self::new(api, outcome))
    }

    /// The `x-client-current-telemetry` value.
    pub(crate) fn current_header(&self) -> String {
        let (used, source, outcome) = match &self.region {
            Some(r) => (
                &*r.used,
                r.source.map(|s| s.to_string()).unwrap_or_default(),
                r.outcome.to_string(),
            ),
            None => ("", String::new(), String::new()),
        };
        format!(
            "{SCHEMA_VERSION}|{},{},{used},{source},{outcome}|,",
            self.api_id, self.cache_outcome as u8
        )
    }
}

struct Failure {
    seq: u64,
    api_id: u16,
    correlation_id: Box<str>,
    error: Box<str>,
}

#[derive(Default)]
struct Failures {
    next_seq: u64,
    list: VecDeque<Failure>,
}

impl Failures {
    /// The `x-client-last-telemetry` value and the sequence number of the last failure in it.
    fn header(&self) -> (String, Option<u64>) {
        let mut size = 0;
        let mut sent = 0;
        for f in &self.list {
            size += f.api_id.to_string().len() + f.correlation_id.len() + f.error.len() + 3;
            if size >= MAX_LAST_HEADER_BYTES {
                break;
            }
            sent += 1;
        }
        let included = self.list.iter().take(sent);
        let requests: Vec<String> = included
            .clone()
            .map(|f| format!("{},{}", f.api_id, f.correlation_id))
            .collect();
        let errors: Vec<&str> = included.clone().map(|f| &*f.error).collect();
        let overflow = u8::from(sent < self.list.len());
        let value = format!(
            "{SCHEMA_VERSION}|0|{}|{}|{},{overflow}",
            requests.join(","),
            errors.join(","),
            self.list.len()
        );
        (value, sent.checked_sub(1).map(|i| self.list[i].seq))
    }

    fn record(&mut self, api_id: u16, correlation_id: &str, error: &str) {
        if self.list.len() >= MAX_CACHED_ERRORS {
            self.list.pop_front();
        }
        let error: String = error
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
            .take(MAX_ERROR_LEN)
            .collect();
        let error = if error.is_empty() {
            "unknown_error".to_owned()
        } else {
            error
        };
        let correlation_id: String = correlation_id
            .chars()
            .filter(|c| c.is_ascii_hexdigit() || *c == '-')
            .take(36)
            .collect();
        self.next_seq += 1;
        self.list.push_back(Failure {
            seq: self.next_seq,
            api_id,
            correlation_id: correlation_id.into(),
            error: error.into(),
        });
    }

    /// After a success: forget the failures that request carried.
    fn flush(&mut self, through: Option<u64>) {
        if let Some(through) = through {
            self.list.retain(|f| f.seq > through);
        }
    }
}

/// The telemetry layer around the transport.
pub(crate) struct TelemetryHttp {
    inner: Arc<dyn HttpClient>,
    failures: Mutex<Failures>,
}

impl TelemetryHttp {
    pub(crate) fn new(inner: Arc<dyn HttpClient>) -> Self {
        Self {
            inner,
            failures: Mutex::default(),
        }
    }

    fn failures(&self) -> std::sync::MutexGuard<'_, Failures> {
        self.failures.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The token request's telemetry: its extension, else by its form's `grant_type`.
fn telemetry_of(request: &HttpRequest) -> Option<RequestTelemetry> {
    if request.method() != Method::POST {
        return None;
    }
    if let Some(t) = request.extensions().get::<RequestTelemetry>() {
        return Some(t.clone());
    }
    url::form_urlencoded::parse(request.body())
        .find(|(k, _)| k == "grant_type")
        .and_then(|(_, v)| RequestTelemetry::for_grant(&v))
}

/// The error code of a failed token response (`suberror` first, as msal-common records it).
fn error_code(response: &HttpResponse) -> String {
    #[derive(serde::Deserialize)]
    struct Body {
        #[serde(default)]
        error: Option<String>,
        #[serde(default)]
        suberror: Option<String>,
    }
    serde_json::from_slice::<Body>(response.body())
        .ok()
        .and_then(|b| b.suberror.filter(|s| !s.is_empty()).or(b.error))
        .unwrap_or_else(|| format!("http_{}", response.status().as_u16()))
}

impl HttpClient for TelemetryHttp {
    fn execute(&self, mut request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, HttpError>> {
        Box::pin(async move {
            let Some(telemetry) = telemetry_of(&request) else {
                return self.inner.execute(request).await;
            };
            let (last, through) = self.failures().header();
            let headers = request.headers_mut();
            for (name, value) in [
                ("x-client-current-telemetry", telemetry.current_header()),
                ("x-client-last-telemetry", last),
            ] {
                if let Ok(value) = HeaderValue::try_from(value) {
                    headers.insert(HeaderName::from_static(name), value);
                }
            }
            let correlation_id = headers
                .get("client-request-id")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            let outcome = self.inner.execute(request).await;
            match &outcome {
                Ok(response) if response.status().is_success() => {
                    self.failures().flush(through);
                }
                Ok(response) => {
                    self.failures().record(
                        telemetry.api_id,
                        &correlation_id,
                        &error_code(response),
                    );
                }
                Err(e) => {
                    let code = match e.kind() {
                        super::HttpErrorKind::Timeout => "timeout",
                        _ => "network_error",
                    };
                    self.failures()
                        .record(telemetry.api_id, &correlation_id, code);
                }
            }
            outcome
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn current_header_schema_5() {
        // The shape msal-common's `generateCurrentRequestHeaderValue` produces with no region
        // and no wrapper SKU: `5|771,2,,,|,`.
        let t = RequestTelemetry::new(api_id::CLIENT_CREDENTIALS, CacheOutcome::NoCachedToken);
        assert_eq!(t.current_header(), "5|771,2,,,|,");
        let mut t = RequestTelemetry::new(api_id::SILENT, CacheOutcome::ProactiveRefresh);
        t.region = Some(RegionTelemetry {
            used: "westus2".into(),
            source: Some(3),
            outcome: 4,
        });
        assert_eq!(t.current_header(), "5|62,4,westus2,3,4|,");
        assert_eq!(
            RequestTelemetry::for_grant("authorization_code")
                .unwrap()
                .current_header(),
            "5|871,0,,,|,"
        );
        assert!(RequestTelemetry::for_grant("password").is_none());
        assert_eq!(api_id::BY_REFRESH_TOKEN, 872);
    }

    #[test]
    fn last_header_counts_failures_until_a_success_and_bounds_its_size() {
        let mut f = Failures::default();
        assert_eq!(f.header().0, "5|0|||0,0");
        let id = "73d656cf-54b1-4eb2-b429-26d8165a52d7";
        f.record(771, id, "invalid_client");
        f.record(62, id, "bad\"code, with\r\njunk");
        let (value, through) = f.header();
        assert_eq!(
            value,
            format!("5|0|771,{id},62,{id}|invalid_client,badcodewithjunk|2,0")
        );
        // A failure recorded while that request was in flight survives its success.
        f.record(871, id, "");
        f.flush(through);
        assert_eq!(f.header().0, format!("5|0|871,{id}|unknown_error|1,0"));
        // Many failures: at most 50 kept, as many as fit in 330 bytes sent, overflow flagged.
        for _ in 0..60 {
            f.record(771, id, "temporarily_unavailable");
        }
        let (value, _) = f.header();
        assert!(value.len() < MAX_LAST_HEADER_BYTES + 20, "{}", value.len());
        assert!(value.ends_with("|50,1"), "{value}");
    }
}
