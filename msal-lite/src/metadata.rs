//! OpenID Connect metadata discovery, cached per authority and shared by every clone of a
//! client (OpenID Connect Discovery 1.0 §4).
//!
//! How this compares with MSAL:
//!
//! - **Lifetime.** A document is used for 24 hours, then fetched again (MSAL's metadata
//!   lifetime; MSAL.NET's `OidcRetrieverWithCache` keeps its copy for the process lifetime).
//!   When a refresh fails (the discovery endpoint is down) the last good copy keeps being
//!   served, with a traced warning, and the next refresh is tried a minute later, so an outage
//!   of the discovery endpoint never fails a token request that could have succeeded.
//! - **Single flight per authority.** Concurrent requests for one authority share one
//!   discovery call; different authorities (per-request tenants) never wait for each other.
//!   MSAL.NET serialises all OIDC discovery behind one process-wide semaphore.
//! - **Issuer check.** The discovered `issuer` must belong to the authority before the
//!   document is used ([`check_issuer`]), following MSAL.NET
//!   `Instance/Oidc/OidcRetrieverWithCache.cs` (`ValidateIssuer`), and stricter where the
//!   authority names a tenant id: see [`check_issuer`].
//! - **Instance discovery.** For an Entra-shaped host the built-in cloud table does not know,
//!   each metadata fetch first asks `/common/discovery/instance` for the host's aliases
//!   (`instance_discovery.rs`), unless the client turned it off.

use std::sync::{Arc, RwLock};

use foldhash::fast::RandomState;
use hashbrown::HashMap;
use http::header::ACCEPT;
use serde::Deserialize;
use url::Url;

use crate::http::{HttpClient, RetryPolicy, send_with_retry};
use crate::request::common_headers;
use crate::time::SharedClock;
use crate::{Authority, AuthorityKind, CorrelationId, Error};

/// How long a discovered document is used before it is fetched again (MSAL's 24 hours).
pub(crate) const METADATA_LIFETIME_SECS: u64 = 24 * 60 * 60;

/// After a failed refresh, how long the stale copy is served before the next attempt.
pub(crate) const RETRY_AFTER_FAILURE_SECS: u64 = 60;

/// The metadata fields msal-lite uses.
#[derive(Debug, Deserialize)]
pub(crate) struct OpenIdMetadata {
    pub(crate) issuer: String,
    pub(crate) token_endpoint: String,
    #[serde(default)]
    pub(crate) authorization_endpoint: Option<String>,
    #[serde(default)]
    pub(crate) jwks_uri: Option<String>,
    #[serde(default)]
    pub(crate) end_session_endpoint: Option<String>,
}

/// One authority's document and when to fetch it again.
#[derive(Clone)]
struct Entry {
    metadata: Arc<OpenIdMetadata>,
    /// Unix seconds; 0 after [`MetadataCache::invalidate`].
    refresh_at: u64,
}

/// One authority: its current entry, and the lock that makes its refreshes single-flight.
#[derive(Default)]
struct Slot {
    entry: RwLock<Option<Entry>>,
    refreshing: tokio::sync::Mutex<()>,
}

impl Slot {
    fn read(&self) -> Option<Entry> {
        self.entry.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn fresh(&self, now: u64) -> Option<Arc<OpenIdMetadata>> {
        self.read()
            .filter(|e| now < e.refresh_at)
            .map(|e| e.metadata)
    }

    fn store(&self, entry: Entry) {
        *self.entry.write().unwrap_or_else(|p| p.into_inner()) = Some(entry);
    }
}

pub(crate) struct MetadataCache {
    /// Held only to find or add a slot, never across a fetch.
    slots: RwLock<HashMap<Box<str>, Arc<Slot>, RandomState>>,
    clock: SharedClock,
    /// Whether metadata fetches run instance discovery first (clients: on by default).
    instance_discovery: bool,
    /// When each host was last discovered (unix seconds): per-tenant authorities on one host
    /// share one discovery per metadata lifetime.
    discovered_hosts: std::sync::Mutex<HashMap<Box<str>, u64, RandomState>>,
}

impl Default for MetadataCache {
    fn default() -> Self {
        Self::new(SharedClock::default())
    }
}

impl MetadataCache {
    pub(crate) fn new(clock: SharedClock) -> Self {
        Self {
            slots: RwLock::default(),
            clock,
            instance_discovery: false,
            discovered_hosts: std::sync::Mutex::default(),
        }
    }

    /// Whether `authority`'s host is due for instance discovery (and marks it discovered).
    fn discovery_due(&self, authority: &Authority) -> bool {
        if !self.instance_discovery || !crate::instance_discovery::applies(authority) {
            return false;
        }
        let now = self.clock.unix_seconds();
        let mut hosts = self
            .discovered_hosts
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        match hosts.get(authority.environment()) {
            Some(at) if now < at.saturating_add(METADATA_LIFETIME_SECS) => false,
            _ => {
                hosts.insert(authority.environment().into(), now);
                true
            }
        }
    }

    /// Runs instance discovery with each metadata fetch of an authority it applies to.
    pub(crate) fn with_instance_discovery(mut self, enabled: bool) -> Self {
        self.instance_discovery = enabled;
        self
    }

    fn slot(&self, authority: &Authority) -> Arc<Slot> {
        if let Some(slot) = self
            .slots
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(authority.as_str())
        {
            return slot.clone();
        }
        self.slots
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .entry(authority.as_str().into())
            .or_default()
            .clone()
    }

    /// The metadata for `authority`: the cached copy while it is younger than 24 hours, else
    /// fetched (one fetch per authority however many callers ask), else, when the fetch
    /// fails, the stale copy.
    pub(crate) async fn get(
        &self,
        http: &dyn HttpClient,
        retry: &RetryPolicy,
        authority: &Authority,
        correlation_id: CorrelationId,
    ) -> Result<Arc<OpenIdMetadata>, Error> {
        let slot = self.slot(authority);
        if let Some(found) = slot.fresh(self.clock.unix_seconds()) {
            return Ok(found);
        }
        let _guard = slot.refreshing.lock().await;
        if let Some(found) = slot.fresh(self.clock.unix_seconds()) {
            return Ok(found);
        }
        if self.discovery_due(authority) {
            crate::instance_discovery::discover(http, retry, authority, correlation_id).await;
        }
        match fetch(http, retry, authority, correlation_id).await {
            Ok(metadata) => {
                let metadata = Arc::new(metadata);
                slot.store(Entry {
                    metadata: metadata.clone(),
                    refresh_at: self.clock.unix_seconds() + METADATA_LIFETIME_SECS,
                });
                Ok(metadata)
            }
            Err(e) => match slot.read() {
                Some(stale) => {
                    tracing::warn!(
                        authority = authority.as_str(),
                        %correlation_id,
                        error = %e,
                        "refreshing the authority metadata failed; serving the previous copy"
                    );
                    slot.store(Entry {
                        metadata: stale.metadata.clone(),
                        refresh_at: self.clock.unix_seconds() + RETRY_AFTER_FAILURE_SECS,
                    });
                    Ok(stale.metadata)
                }
                None => Err(e),
            },
        }
    }

    /// Marks `authority`'s metadata stale so the next request discovers it again (after a
    /// failure that may mean the endpoints moved); the old copy is kept as the fallback.
    pub(crate) fn invalidate(&self, authority: &Authority) {
        let slot = self
            .slots
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(authority.as_str())
            .cloned();
        let Some(slot) = slot else { return };
        if let Some(entry) = slot
            .entry
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .as_mut()
        {
            entry.refresh_at = 0;
        }
    }
}

async fn fetch(
    http: &dyn HttpClient,
    retry: &RetryPolicy,
    authority: &Authority,
    correlation_id: CorrelationId,
) -> Result<OpenIdMetadata, Error> {
    let mut request = http::Request::get(authority.metadata_url())
        .body(bytes::Bytes::new())
        .map_err(|_| Error::invalid_authority("the metadata URL is not a valid URI"))?;
    common_headers(request.headers_mut(), correlation_id);
    request
        .headers_mut()
        .insert(ACCEPT, http::HeaderValue::from_static("application/json"));
    tracing::debug!(url = authority.metadata_url(), %correlation_id, "discovering authority metadata");
    let response = send_with_retry(http, retry, request)
        .await
        .map_err(|e| e.into_error(Some(correlation_id)))?;
    let metadata: OpenIdMetadata = crate::response::parse_json(&response, Some(correlation_id))?;
    check_endpoint(authority, &metadata.token_endpoint, correlation_id)?;
    check_issuer(authority, &metadata.issuer)?;
    Ok(metadata)
}

/// A discovered endpoint receives the client credential: it must be https, or loopback http
/// when the authority itself is loopback http.
fn check_endpoint(
    authority: &Authority,
    endpoint: &str,
    correlation_id: CorrelationId,
) -> Result<(), Error> {
    let bad = |reason: &'static str| Error::malformed(reason, Some(correlation_id), None);
    let url = Url::parse(endpoint).map_err(|_| bad("the metadata token_endpoint is not a URL"))?;
    match url.scheme() {
        "https" => Ok(()),
        "http" if authority.is_loopback_http() && crate::authority::is_loopback(&url) => Ok(()),
        _ => Err(bad("the metadata token_endpoint is not https")),
    }
}

/// Entra's well-known hosts (MSAL's "known environments"); a regional variant is
/// `{region}.{host}`.
fn is_known_entra_host(host: &str) -> bool {
    crate::authority::AAD_HOSTS.contains(&host)
}

/// Checks that the discovered `issuer` belongs to `authority`, so a metadata document served
/// for another tenant or host is never used. Following MSAL.NET
/// `src/client/Microsoft.Identity.Client/Instance/Oidc/OidcRetrieverWithCache.cs`
/// (`ValidateIssuer`), the issuer's host is accepted when it is:
///
/// 1. the authority's own scheme and host (the port is not compared, as in MSAL.NET);
/// 2. an https well-known Entra host (`login.microsoftonline.com`, the national clouds, ...);
/// 3. an https regional variant of one (`westus2.login.microsoft.com`);
/// 4. a CIAM issuer: for a `*.ciamlogin.com` authority any https `*.ciamlogin.com` host
///    (External ID issuers carry the tenant id as host label, the authority usually a domain),
///    and for a custom-domain authority `https://{tenant}.ciamlogin.com[/{tenant}[/v2.0]]`
///    with `{tenant}` its first path segment.
///
/// msal-lite is stricter than MSAL.NET in two places, deliberately:
///
/// - When the authority names its tenant by id (a GUID), the issuer must carry the same id
///   (its first path segment, or for an External ID host its first label): a document for
///   another tenant on the same host is refused. A domain name, `common` or `organizations`
///   (whose issuer is the template `https://login.microsoftonline.com/{tenantid}/v2.0`) cannot
///   be compared with the issuer's tenant id, so only the host is checked.
/// - A plain OpenID Connect authority ([`Authority::from_oidc_issuer`]) must get back exactly
///   the issuer it was made from (OpenID Connect Discovery 1.0 §4.3).
pub(crate) fn check_issuer(authority: &Authority, issuer: &str) -> Result<(), Error> {
    let reject = || {
        let shown: String = issuer.chars().take(200).collect();
        Error::invalid_authority(format!(
            "the discovered issuer {shown:?} does not belong to the authority {authority}"
        ))
    };
    let url = Url::parse(issuer).map_err(|_| reject())?;
    if authority.kind() == AuthorityKind::Oidc {
        let same = url.as_str().trim_end_matches('/') == authority.as_str().trim_end_matches('/');
        return if same { Ok(()) } else { Err(reject()) };
    }
    let host = url.host_str().unwrap_or("").to_ascii_lowercase();
    let https = url.scheme() == "https";
    // The host alone, as MSAL.NET compares it (`authority.Host` against `issuerUri.Host` in
    // Instance/Oidc/OidcRetrieverWithCache.cs): a port is not part of which tenant issues.
    let authority_host = Url::parse(authority.as_str())
        .ok()
        .and_then(|a| a.host_str().map(str::to_ascii_lowercase));
    let first_segment = url
        .path_segments()
        .and_then(|mut s| s.next())
        .filter(|s| !s.is_empty());
    let host_ok = (url.scheme() == authority.scheme()
        && authority_host.as_deref() == Some(host.as_str()))
        || (https && is_known_entra_host(&host))
        || (https
            && host
                .split_once('.')
                .is_some_and(|(region, rest)| !region.is_empty() && is_known_entra_host(rest)))
        || (https && authority.kind() == AuthorityKind::Ciam && host.ends_with(".ciamlogin.com"))
        || authority.tenant().is_some_and(|tenant| {
            let tenant = tenant.to_ascii_lowercase();
            let base = format!("https://{tenant}.ciamlogin.com");
            let trimmed = issuer.trim_end_matches('/').to_ascii_lowercase();
            trimmed == base
                || trimmed == format!("{base}/{tenant}")
                || trimmed == format!("{base}/{tenant}/v2.0")
        });
    if !host_ok {
        return Err(reject());
    }
    if let Some(tenant) = authority.tenant().filter(|t| is_guid(t)) {
        let issuer_tenant = first_segment.or_else(|| {
            host.strip_suffix(".ciamlogin.com")
                .and_then(|label| label.split('.').next())
        });
        if !issuer_tenant.is_some_and(|t| t.eq_ignore_ascii_case(tenant)) {
            return Err(reject());
        }
    }
    Ok(())
}

/// `8-4-4-4-12` hex digits: how Entra writes tenant ids.
fn is_guid(s: &str) -> bool {
    s.len() == 36
        && s.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use bytes::Bytes;

    use super::*;
    use crate::http::{HttpError, HttpRequest, HttpResponse};

    fn transport(token_endpoint: &'static str, calls: Arc<AtomicU32>) -> impl HttpClient {
        move |request: HttpRequest| {
            calls.fetch_add(1, Ordering::SeqCst);
            assert!(request.headers().contains_key("client-request-id"));
            let body = format!(
                r#"{{"issuer":"https://login.example.com/t/v2.0","token_endpoint":"{token_endpoint}"}}"#
            );
            async move {
                Ok::<HttpResponse, HttpError>(
                    http::Response::builder()
                        .header("content-type", "application/json")
                        .body(Bytes::from(body))
                        .unwrap(),
                )
            }
        }
    }

    #[tokio::test]
    async fn fetched_once_then_cached_until_invalidated() {
        let calls = Arc::new(AtomicU32::new(0));
        let http = transport(
            "https://login.example.com/t/oauth2/v2.0/token",
            calls.clone(),
        );
        let cache = MetadataCache::default();
        let authority = Authority::parse("https://login.example.com/t").unwrap();
        let id = CorrelationId::random();
        for _ in 0..3 {
            let m = cache
                .get(&http, &RetryPolicy::none(), &authority, id)
                .await
                .unwrap();
            assert_eq!(
                m.token_endpoint,
                "https://login.example.com/t/oauth2/v2.0/token"
            );
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        cache.invalidate(&authority);
        cache
            .get(&http, &RetryPolicy::none(), &authority, id)
            .await
            .unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn rejects_plain_http_token_endpoint_for_https_authority() {
        let calls = Arc::new(AtomicU32::new(0));
        let http = transport("http://login.example.com/t/oauth2/v2.0/token", calls);
        let cache = MetadataCache::default();
        let authority = Authority::parse("https://login.example.com/t").unwrap();
        let e = cache
            .get(
                &http,
                &RetryPolicy::none(),
                &authority,
                CorrelationId::random(),
            )
            .await
            .unwrap_err();
        assert!(e.to_string().contains("not https"), "{e}");
        // A loopback authority may use a loopback http endpoint, never a remote one.
        let local = Authority::parse("http://127.0.0.1:9/t").unwrap();
        assert!(
            check_endpoint(
                &local,
                "http://127.0.0.1:9/t/token",
                CorrelationId::random()
            )
            .is_ok()
        );
        assert!(
            check_endpoint(
                &local,
                "http://evil.example/t/token",
                CorrelationId::random()
            )
            .is_err()
        );
    }

    /// A transport whose discovery answers are controlled by the test: `fail` makes it answer
    /// 503; `gate` (when set) holds requests for `blocked` until notified.
    fn switchable(
        calls: Arc<AtomicU32>,
        fail: Arc<std::sync::atomic::AtomicBool>,
    ) -> impl HttpClient {
        move |request: HttpRequest| {
            calls.fetch_add(1, Ordering::SeqCst);
            let failing = fail.load(Ordering::SeqCst);
            let tenant = request
                .uri()
                .path()
                .split('/')
                .nth(1)
                .unwrap_or("")
                .to_owned();
            async move {
                let (status, body) = if failing {
                    (503, r#"{"error":"temporarily_unavailable"}"#.to_owned())
                } else {
                    (
                        200,
                        format!(
                            r#"{{"issuer":"https://login.example.com/{tenant}/v2.0","token_endpoint":"https://login.example.com/{tenant}/oauth2/v2.0/token"}}"#
                        ),
                    )
                };
                Ok::<HttpResponse, HttpError>(
                    http::Response::builder()
                        .status(status)
                        .header("content-type", "application/json")
                        .body(Bytes::from(body))
                        .unwrap(),
                )
            }
        }
    }

    #[tokio::test]
    async fn refetched_after_24_hours_and_stale_copy_served_when_refresh_fails() {
        let calls = Arc::new(AtomicU32::new(0));
        let fail = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let http = switchable(calls.clone(), fail.clone());
        let offset = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let seen = offset.clone();
        let clock = SharedClock::new(move || {
            std::time::SystemTime::now()
                + std::time::Duration::from_secs(seen.load(Ordering::SeqCst))
        });
        let cache = MetadataCache::new(clock);
        let authority = Authority::parse("https://login.example.com/t").unwrap();
        let id = CorrelationId::random();
        let none = RetryPolicy::none();
        let get = || cache.get(&http, &none, &authority, id);
        get().await.unwrap();
        offset.store(METADATA_LIFETIME_SECS - 10, Ordering::SeqCst);
        get().await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 1, "younger than 24 h: cached");
        offset.store(METADATA_LIFETIME_SECS + 1, Ordering::SeqCst);
        get().await.unwrap();
        assert_eq!(
            calls.load(Ordering::SeqCst),
            2,
            "older than 24 h: fetched again"
        );

        // Discovery goes down and the copy ages out: the stale copy is served.
        fail.store(true, Ordering::SeqCst);
        offset.store(2 * METADATA_LIFETIME_SECS + 2, Ordering::SeqCst);
        let stale = get().await.unwrap();
        assert_eq!(
            stale.token_endpoint,
            "https://login.example.com/t/oauth2/v2.0/token"
        );
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        // ... without asking again on every call, until the retry interval passes.
        get().await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        offset.fetch_add(RETRY_AFTER_FAILURE_SECS, Ordering::SeqCst);
        get().await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 4);
        // invalidate keeps the fallback too.
        cache.invalidate(&authority);
        get().await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 5);
        // With no copy at all the failure is the caller's.
        let other = Authority::parse("https://login.example.com/other").unwrap();
        assert!(
            cache
                .get(&http, &RetryPolicy::none(), &other, id)
                .await
                .is_err()
        );
    }

    #[tokio::test]
    async fn single_flight_per_authority_not_global() {
        let calls = Arc::new(AtomicU32::new(0));
        let gate = Arc::new(tokio::sync::Notify::new());
        let (held, counted, opened) = (calls.clone(), calls.clone(), gate.clone());
        // Requests for tenant `slow` wait on the gate; others answer at once.
        let http = move |request: HttpRequest| {
            held.fetch_add(1, Ordering::SeqCst);
            let tenant = request
                .uri()
                .path()
                .split('/')
                .nth(1)
                .unwrap_or("")
                .to_owned();
            let gate = opened.clone();
            async move {
                if tenant == "slow" {
                    gate.notified().await;
                }
                let body = format!(
                    r#"{{"issuer":"https://login.example.com/{tenant}/v2.0","token_endpoint":"https://login.example.com/{tenant}/oauth2/v2.0/token"}}"#
                );
                Ok::<HttpResponse, HttpError>(
                    http::Response::builder()
                        .header("content-type", "application/json")
                        .body(Bytes::from(body))
                        .unwrap(),
                )
            }
        };
        let cache = Arc::new(MetadataCache::default());
        let slow = Authority::parse("https://login.example.com/slow").unwrap();
        let fast = Authority::parse("https://login.example.com/fast").unwrap();
        let id = CorrelationId::random();
        let waiting = {
            let (cache, http) = (cache.clone(), http.clone());
            let slow = slow.clone();
            tokio::spawn(async move {
                let none = RetryPolicy::none();
                let joined = (0..5).map(|_| cache.get(&http, &none, &slow, id));
                futures_util::future::join_all(joined).await
            })
        };
        // Poll until the slow fetch is in flight.
        while counted.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        // Another authority is not held up by the slow one.
        cache
            .get(&http, &RetryPolicy::none(), &fast, id)
            .await
            .unwrap();
        gate.notify_waiters();
        for got in waiting.await.unwrap() {
            got.unwrap();
        }
        assert_eq!(counted.load(Ordering::SeqCst), 2, "one fetch per authority");
    }

    #[test]
    fn issuer_must_belong_to_the_authority() {
        let guid = "72f988bf-86f1-41af-91ab-2d7cd011db47";
        let other = "9188040d-6c67-4c5b-b112-36a304b66dad";
        let ok = [
            (
                "https://login.microsoftonline.com/common",
                "https://login.microsoftonline.com/{tenantid}/v2.0",
            ),
            (
                "https://login.microsoftonline.com/organizations",
                "https://login.microsoftonline.com/{tenantid}/v2.0",
            ),
            (
                "https://login.microsoftonline.com/contoso.onmicrosoft.com",
                &format!("https://login.microsoftonline.com/{guid}/v2.0"),
            ),
            (
                &format!("https://login.microsoftonline.com/{guid}"),
                &format!("https://login.microsoftonline.com/{guid}/v2.0"),
            ),
            (
                &format!("https://login.microsoftonline.com/{guid}"),
                &format!("https://sts.windows.net/{guid}/"),
            ),
            (
                "https://login.microsoftonline.com/contoso.onmicrosoft.com",
                &format!("https://westus2.login.microsoft.com/{guid}/v2.0"),
            ),
            (
                "https://contoso.ciamlogin.com/",
                &format!("https://{guid}.ciamlogin.com/{guid}/v2.0"),
            ),
            (
                &format!("https://contoso.ciamlogin.com/{guid}"),
                &format!("https://{guid}.ciamlogin.com/{guid}/v2.0"),
            ),
            // CIAM custom domain: MSAL.NET's `{tenant}.ciamlogin.com` patterns.
            (
                &format!("https://login.contoso.com/{guid}"),
                &format!("https://{guid}.ciamlogin.com/{guid}/v2.0"),
            ),
            (
                &format!("https://login.contoso.com/{guid}"),
                &format!("https://{guid}.ciamlogin.com"),
            ),
            (
                "http://127.0.0.1:8080/contoso.onmicrosoft.com",
                &format!("http://127.0.0.1:8080/{guid}/v2.0"),
            ),
        ];
        for (authority, issuer) in ok {
            let a = Authority::parse(authority).unwrap();
            assert!(check_issuer(&a, issuer).is_ok(), "{authority} {issuer}");
        }
        let bad = [
            (
                "https://login.microsoftonline.com/common",
                "https://evil.example/common/v2.0",
            ),
            (
                "https://login.microsoftonline.com/common",
                "http://login.microsoftonline.com/common/v2.0",
            ),
            ("https://login.microsoftonline.com/common", "not a url"),
            (
                &format!("https://login.microsoftonline.com/{guid}"),
                &format!("https://login.microsoftonline.com/{other}/v2.0"),
            ),
            (
                &format!("https://contoso.ciamlogin.com/{guid}"),
                &format!("https://{other}.ciamlogin.com/{other}/v2.0"),
            ),
            (
                "https://login.microsoftonline.com/common",
                "https://x.evil.example/v2.0",
            ),
            (
                "https://login.contoso.com/tenant",
                "https://other.ciamlogin.com/other/v2.0",
            ),
            (
                "https://login.microsoftonline.com/common",
                "https://contoso.ciamlogin.com/v2.0",
            ),
            ("http://127.0.0.1:8080/t", "http://127.0.0.2:8080/t/v2.0"),
            ("http://127.0.0.1:8080/t", "https://127.0.0.1:8080/t/v2.0"),
        ];
        // Same scheme and host on another port: accepted, as MSAL.NET compares hosts only
        // (a token endpoint behind a local proxy on another port keeps the tenant's issuer).
        let a = Authority::parse("http://127.0.0.1:8080/t").unwrap();
        check_issuer(&a, "http://127.0.0.1:9090/t/v2.0").unwrap();
        for (authority, issuer) in bad {
            let a = Authority::parse(authority).unwrap();
            let e = check_issuer(&a, issuer).unwrap_err();
            assert!(
                e.to_string().contains("does not belong"),
                "{authority} {issuer}: {e}"
            );
        }
        let oidc = Authority::from_oidc_issuer("https://issuer.example.com/realms/demo").unwrap();
        assert!(check_issuer(&oidc, "https://issuer.example.com/realms/demo").is_ok());
        assert!(check_issuer(&oidc, "https://issuer.example.com/realms/other").is_err());
    }
}
