//! The HTTP transport: a small trait with a blanket impl for async closures, and the default
//! reqwest implementation behind the `reqwest` feature.

use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;

use crate::error::BoxError;
use crate::{CorrelationId, Error};

#[cfg(feature = "reqwest")]
mod reqwest;
mod retry;
mod telemetry;
mod throttle;

#[cfg(feature = "reqwest")]
pub use self::reqwest::{ReqwestHttpClient, ReqwestHttpClientBuilder};
pub use retry::RetryPolicy;
pub(crate) use retry::{retry_after as retry_after_header, send_with_retry};
pub(crate) use telemetry::{
    CacheOutcome, RegionTelemetry, RequestTelemetry, TelemetryHttp, api_id,
};
pub(crate) use throttle::ThrottledHttp;

/// An HTTP request as msal-lite sends it (the body is a complete form or empty).
pub type HttpRequest = http::Request<Bytes>;
/// An HTTP response with its complete body.
pub type HttpResponse = http::Response<Bytes>;

/// A boxed, `Send` future, as returned by [`HttpClient::execute`].
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Sends HTTP requests for msal-lite.
///
/// Implement it to use your own HTTP stack; any `Fn(HttpRequest) -> impl Future<Output =
/// Result<HttpResponse, HttpError>>` closure already is one. An implementation must not follow
/// redirects (a token endpoint never redirects, and following one could leak the client
/// credential) and should bound the response size and the time taken.
///
/// ```
/// use bytes::Bytes;
/// use msal_lite::http::{HttpClient, HttpError, HttpRequest, HttpResponse};
///
/// let transport = |request: HttpRequest| async move {
///     assert_eq!(request.method(), http::Method::GET);
///     let response = http::Response::builder()
///         .status(200)
///         .header("content-type", "application/json")
///         .body(Bytes::from_static(b"{}"))
///         .map_err(HttpError::other)?;
///     Ok::<HttpResponse, HttpError>(response)
/// };
/// fn is_transport(_: &impl HttpClient) {}
/// is_transport(&transport);
/// ```
pub trait HttpClient: Send + Sync + 'static {
    /// Sends one request and returns the whole response.
    fn execute(&self, request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, HttpError>>;
}

impl<F, Fut> HttpClient for F
where
    F: Fn(HttpRequest) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<HttpResponse, HttpError>> + Send + 'static,
{
    fn execute(&self, request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, HttpError>> {
        Box::pin(self(request))
    }
}

/// What kind of transport failure an [`HttpError`] is.
///
/// ```
/// use msal_lite::http::{HttpError, HttpErrorKind};
/// assert_eq!(HttpError::timeout(std::io::Error::other("slow")).kind(), HttpErrorKind::Timeout);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HttpErrorKind {
    /// The connection failed or broke before a response arrived (retried once by default).
    Connect,
    /// The request took longer than allowed.
    Timeout,
    /// The TLS handshake failed.
    Tls,
    /// The response body exceeded the size limit.
    BodyTooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// Not sent: the identical request is in a throttle window (see [`Error::Throttled`]).
    Throttled {
        /// Time left in the window.
        remaining: std::time::Duration,
    },
    /// Anything else.
    Other,
}

/// A transport failure, returned by an [`HttpClient`].
///
/// ```
/// use msal_lite::http::HttpError;
/// let e = HttpError::connect(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
/// assert_eq!(e.to_string(), "connection failed");
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", match .kind {
    HttpErrorKind::Connect => "connection failed",
    HttpErrorKind::Timeout => "request timed out",
    HttpErrorKind::Tls => "tls handshake failed",
    HttpErrorKind::BodyTooLarge { .. } => "response body too large",
    HttpErrorKind::Throttled { .. } => "request throttled",
    HttpErrorKind::Other => "http transport failed",
})]
pub struct HttpError {
    kind: HttpErrorKind,
    #[source]
    source: Option<BoxError>,
    throttled: Option<throttle::Throttled>,
}

impl HttpError {
    fn new(
        kind: HttpErrorKind,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self {
            kind,
            source: Some(source.into().into()),
            throttled: None,
        }
    }

    /// The connection failed (refused, reset, closed early).
    pub fn connect(source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::new(HttpErrorKind::Connect, source)
    }

    /// The request timed out.
    pub fn timeout(source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::new(HttpErrorKind::Timeout, source)
    }

    /// TLS failed.
    pub fn tls(source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::new(HttpErrorKind::Tls, source)
    }

    /// The response body was larger than `limit` bytes.
    ///
    /// ```
    /// let e = msal_lite::http::HttpError::body_too_large(1024);
    /// assert!(matches!(e.kind(), msal_lite::http::HttpErrorKind::BodyTooLarge { limit: 1024 }));
    /// ```
    pub fn body_too_large(limit: usize) -> Self {
        Self {
            kind: HttpErrorKind::BodyTooLarge { limit },
            source: None,
            throttled: None,
        }
    }

    pub(crate) fn throttled(throttled: throttle::Throttled) -> Self {
        Self {
            kind: HttpErrorKind::Throttled {
                remaining: throttled.remaining,
            },
            source: None,
            throttled: Some(throttled),
        }
    }

    /// Any other failure.
    pub fn other(source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::new(HttpErrorKind::Other, source)
    }

    /// The kind of failure.
    pub fn kind(&self) -> HttpErrorKind {
        self.kind
    }

    pub(crate) fn into_error(self, correlation_id: Option<CorrelationId>) -> Error {
        let source = self.source;
        match self.kind {
            HttpErrorKind::Connect => Error::Connect {
                correlation_id,
                source,
            },
            HttpErrorKind::Timeout => Error::Timeout {
                correlation_id,
                source,
            },
            HttpErrorKind::Tls => Error::Tls {
                correlation_id,
                source,
            },
            HttpErrorKind::BodyTooLarge { limit } => Error::ResponseTooLarge {
                limit,
                correlation_id,
            },
            HttpErrorKind::Throttled { remaining } => {
                let (status, invalid_grant) = self
                    .throttled
                    .map_or((429, false), |t| (t.status, t.invalid_grant));
                Error::Throttled {
                    remaining,
                    status,
                    invalid_grant,
                    correlation_id,
                }
            }
            HttpErrorKind::Other => Error::Transport {
                correlation_id,
                source,
            },
        }
    }
}
