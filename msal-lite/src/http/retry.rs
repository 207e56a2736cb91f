//! One bounded retry on transient failures.

use std::time::Duration;

use http::{HeaderMap, header::RETRY_AFTER};

use super::{HttpClient, HttpError, HttpErrorKind, HttpRequest, HttpResponse};

/// When msal-lite sends a request again.
///
/// By default one retry, on HTTP 5xx and connection failures, after the server's
/// `Retry-After` (in seconds) or half a second when it gave none. A `Retry-After` longer than
/// [`max_retry_after`](Self::max_retry_after) (5 s by default) is not waited for: the error is
/// returned at once with [`Error::is_retryable`](crate::Error::is_retryable) set, so the caller
/// decides. Timeouts are not retried: the caller's time is already spent. HTTP 429 is never
/// retried, as in MSAL.NET: the client's throttle answers identical requests locally with
/// [`Error::Throttled`](crate::Error::Throttled) until `Retry-After` has passed.
///
/// ```
/// use std::time::Duration;
/// use msal_lite::RetryPolicy;
///
/// let policy = RetryPolicy::default()
///     .max_retries(2)
///     .default_delay(Duration::from_millis(100))
///     .max_retry_after(Duration::from_secs(2));
/// let never = RetryPolicy::none();
/// # let _ = (policy, never);
/// ```
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    max_retries: u32,
    default_delay: Duration,
    max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 1,
            default_delay: Duration::from_millis(500),
            max_retry_after: Duration::from_secs(5),
        }
    }
}

impl RetryPolicy {
    /// No retries at all.
    pub fn none() -> Self {
        Self::default().max_retries(0)
    }

    /// How many times a request may be sent again (default 1).
    #[must_use]
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.max_retries = retries;
        self
    }

    /// The wait when the server gave no `Retry-After` (default 500 ms).
    #[must_use]
    pub fn default_delay(mut self, delay: Duration) -> Self {
        self.default_delay = delay;
        self
    }

    /// The longest `Retry-After` that is waited for (default 5 s).
    #[must_use]
    pub fn max_retry_after(mut self, bound: Duration) -> Self {
        self.max_retry_after = bound;
        self
    }

    /// How long to wait before retrying after `outcome`, or `None` to stop.
    fn delay_for(&self, outcome: &Result<HttpResponse, HttpError>) -> Option<Duration> {
        match outcome {
            Ok(response) => {
                let status = response.status();
                // 429 is never retried (as MSAL.NET): the throttle answers the next identical
                // request until `Retry-After` has passed.
                if !status.is_server_error() {
                    return None;
                }
                match retry_after(response.headers()) {
                    Some(wait) if wait > self.max_retry_after => None,
                    Some(wait) => Some(wait),
                    None => Some(self.default_delay),
                }
            }
            Err(e) if e.kind() == HttpErrorKind::Connect => Some(self.default_delay),
            Err(_) => None,
        }
    }
}

/// `Retry-After` as delay-seconds (RFC 9110 §10.2.3). An HTTP-date is not parsed and counts as
/// absent.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    value.parse::<u64>().ok().map(Duration::from_secs)
}

fn clone_request(request: &HttpRequest) -> HttpRequest {
    let mut copy = http::Request::new(request.body().clone());
    *copy.method_mut() = request.method().clone();
    *copy.uri_mut() = request.uri().clone();
    *copy.headers_mut() = request.headers().clone();
    *copy.version_mut() = request.version();
    // Carries the token request's telemetry to the telemetry layer.
    *copy.extensions_mut() = request.extensions().clone();
    copy
}

/// Sends `request`, retrying per `policy`. Returns the last outcome.
pub(crate) async fn send_with_retry(
    client: &dyn HttpClient,
    policy: &RetryPolicy,
    request: HttpRequest,
) -> Result<HttpResponse, HttpError> {
    let mut attempt = 0;
    loop {
        let mut copy = clone_request(&request);
        if attempt > 0 {
            // The same call trying again after waiting: not throttled (a new call is).
            copy.extensions_mut().insert(super::throttle::RetryAttempt);
        }
        let outcome = client.execute(copy).await;
        if attempt >= policy.max_retries {
            return outcome;
        }
        let Some(delay) = policy.delay_for(&outcome) else {
            return outcome;
        };
        attempt += 1;
        tracing::debug!(
            attempt,
            delay_ms = delay.as_millis() as u64,
            status = outcome.as_ref().ok().map(|r| r.status().as_u16()),
            "retrying request to {}",
            request.uri().path()
        );
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    use bytes::Bytes;

    use super::*;

    fn response(status: u16, retry_after: Option<&str>) -> HttpResponse {
        let mut builder = http::Response::builder().status(status);
        if let Some(value) = retry_after {
            builder = builder.header(RETRY_AFTER, value);
        }
        builder.body(Bytes::new()).unwrap()
    }

    /// A transport answering from a script, counting calls.
    fn scripted(script: Vec<Result<HttpResponse, HttpError>>) -> (impl HttpClient, Arc<AtomicU32>) {
        let calls = Arc::new(AtomicU32::new(0));
        let script = Arc::new(std::sync::Mutex::new(script.into_iter()));
        let seen = calls.clone();
        let client = move |_request: HttpRequest| {
            seen.fetch_add(1, Ordering::SeqCst);
            let next = script.lock().unwrap().next().expect("script exhausted");
            async move { next }
        };
        (client, calls)
    }

    fn request() -> HttpRequest {
        http::Request::post("http://127.0.0.1/token")
            .body(Bytes::from_static(b"a=b"))
            .unwrap()
    }

    fn fast() -> RetryPolicy {
        RetryPolicy::default().default_delay(Duration::ZERO)
    }

    #[tokio::test]
    async fn retries_once_on_503_then_succeeds() {
        let (client, calls) = scripted(vec![Ok(response(503, None)), Ok(response(200, None))]);
        let out = send_with_retry(&client, &fast(), request()).await.unwrap();
        assert_eq!(out.status(), 200);
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn gives_up_after_one_retry() {
        let (client, calls) = scripted(vec![Ok(response(500, None)), Ok(response(502, None))]);
        let out = send_with_retry(&client, &fast(), request()).await.unwrap();
        assert_eq!(out.status(), 502);
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn no_retry_on_400_timeout_or_tls() {
        for outcome in [
            Ok(response(400, None)),
            Err(HttpError::timeout(std::io::Error::other("t"))),
            Err(HttpError::tls(std::io::Error::other("t"))),
        ] {
            let (client, calls) = scripted(vec![outcome]);
            let _ = send_with_retry(&client, &fast(), request()).await;
            assert_eq!(calls.load(Ordering::SeqCst), 1);
        }
    }

    #[tokio::test]
    async fn retries_connection_errors() {
        let (client, calls) = scripted(vec![
            Err(HttpError::connect(std::io::Error::other("reset"))),
            Ok(response(200, None)),
        ]);
        assert!(send_with_retry(&client, &fast(), request()).await.is_ok());
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn retry_after_beyond_the_bound_is_not_waited_for() {
        let (client, calls) = scripted(vec![Ok(response(429, Some("3600")))]);
        let out = send_with_retry(&client, &fast(), request()).await.unwrap();
        assert_eq!(out.status(), 429);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn never_retries_429() {
        let (client, calls) = scripted(vec![Ok(response(429, Some("1")))]);
        let out = send_with_retry(&client, &fast(), request()).await.unwrap();
        assert_eq!(out.status(), 429);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn none_policy_never_retries() {
        let (client, calls) = scripted(vec![Ok(response(503, None))]);
        let _ = send_with_retry(&client, &RetryPolicy::none(), request()).await;
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn retry_after_parsing() {
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert(RETRY_AFTER, "7".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(7)));
        headers.insert(
            RETRY_AFTER,
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&headers), None);
        headers.insert(RETRY_AFTER, "-1".parse().unwrap());
        assert_eq!(retry_after(&headers), None);
    }
}
