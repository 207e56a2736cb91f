//! OpenID Connect metadata discovery, cached per authority and shared by every clone of a
//! client (OpenID Connect Discovery 1.0 §4).

use std::sync::{Arc, RwLock};

use foldhash::fast::RandomState;
use hashbrown::HashMap;
use http::header::ACCEPT;
use serde::Deserialize;
use url::Url;

use crate::http::{HttpClient, RetryPolicy, send_with_retry};
use crate::request::common_headers;
use crate::{Authority, CorrelationId, Error};

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

#[derive(Default)]
pub(crate) struct MetadataCache {
    entries: RwLock<HashMap<Box<str>, Arc<OpenIdMetadata>, RandomState>>,
    /// Serialises fetches so concurrent first requests make one discovery call.
    fetching: tokio::sync::Mutex<()>,
}

impl MetadataCache {
    fn cached(&self, authority: &Authority) -> Option<Arc<OpenIdMetadata>> {
        self.entries
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(authority.as_str())
            .cloned()
    }

    /// The metadata for `authority`, fetched on first use.
    pub(crate) async fn get(
        &self,
        http: &dyn HttpClient,
        retry: &RetryPolicy,
        authority: &Authority,
        correlation_id: CorrelationId,
    ) -> Result<Arc<OpenIdMetadata>, Error> {
        if let Some(found) = self.cached(authority) {
            return Ok(found);
        }
        let _guard = self.fetching.lock().await;
        if let Some(found) = self.cached(authority) {
            return Ok(found);
        }
        let metadata = Arc::new(fetch(http, retry, authority, correlation_id).await?);
        self.entries
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(authority.as_str().into(), metadata.clone());
        Ok(metadata)
    }

    /// Forgets `authority`'s metadata so the next request discovers it again (after a failure
    /// that may mean the endpoints moved).
    pub(crate) fn invalidate(&self, authority: &Authority) {
        self.entries
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(authority.as_str());
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
                r#"{{"issuer":"https://issuer/v2.0","token_endpoint":"{token_endpoint}"}}"#
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
}
