//! The default transport: reqwest with rustls.

use std::error::Error as StdError;
use std::time::Duration;

use bytes::{Bytes, BytesMut};

use super::{BoxFuture, HttpClient, HttpError, HttpRequest, HttpResponse};
use crate::Error;

const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Token responses are a few KiB; metadata documents a few tens of KiB.
const DEFAULT_MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// The default [`HttpClient`]: reqwest with rustls (aws-lc-rs), redirects off, a connect
/// timeout (10 s), a total timeout (30 s) and a response size limit (1 MiB).
///
/// ```
/// use std::time::Duration;
/// use msal_lite::http::ReqwestHttpClient;
///
/// let transport = ReqwestHttpClient::builder()
///     .connect_timeout(Duration::from_secs(5))
///     .timeout(Duration::from_secs(10))
///     .max_response_bytes(256 * 1024)
///     .build()?;
/// # Ok::<(), msal_lite::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct ReqwestHttpClient {
    client: reqwest::Client,
    max_response_bytes: usize,
}

impl ReqwestHttpClient {
    /// A transport with the defaults.
    pub fn new() -> Result<Self, Error> {
        Self::builder().build()
    }

    /// A builder to change the defaults.
    pub fn builder() -> ReqwestHttpClientBuilder {
        ReqwestHttpClientBuilder {
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            timeout: DEFAULT_TIMEOUT,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            root_certificates: Vec::new(),
            error: None,
        }
    }

    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        let request = reqwest::Request::try_from(request).map_err(HttpError::other)?;
        let mut response = self.client.execute(request).await.map_err(map_error)?;
        let limit = self.max_response_bytes;
        if response
            .content_length()
            .is_some_and(|len| len > limit as u64)
        {
            return Err(HttpError::body_too_large(limit));
        }
        let mut body = BytesMut::new();
        while let Some(chunk) = response.chunk().await.map_err(map_error)? {
            if body.len() + chunk.len() > limit {
                return Err(HttpError::body_too_large(limit));
            }
            body.extend_from_slice(&chunk);
        }
        let mut out = http::Response::new(Bytes::from(body));
        *out.status_mut() = response.status();
        *out.headers_mut() = std::mem::take(response.headers_mut());
        Ok(out)
    }
}

impl HttpClient for ReqwestHttpClient {
    fn execute(&self, request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, HttpError>> {
        Box::pin(self.send(request))
    }
}

/// Builds a [`ReqwestHttpClient`].
///
/// ```
/// let transport = msal_lite::http::ReqwestHttpClient::builder().build()?;
/// # Ok::<(), msal_lite::Error>(())
/// ```
#[derive(Debug)]
#[must_use]
pub struct ReqwestHttpClientBuilder {
    connect_timeout: Duration,
    timeout: Duration,
    max_response_bytes: usize,
    root_certificates: Vec<reqwest::Certificate>,
    error: Option<Error>,
}

impl ReqwestHttpClientBuilder {
    /// The time allowed to connect, including TLS (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The time allowed for a whole request, body included (default 30 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The largest response body accepted (default 1 MiB).
    pub fn max_response_bytes(mut self, limit: usize) -> Self {
        self.max_response_bytes = limit;
        self
    }

    /// Trusts one more root certificate (DER), e.g. a local test tenant's self-signed one,
    /// in addition to the platform's roots.
    ///
    /// ```no_run
    /// let der = std::fs::read("dev-tenant-ca.der")?;
    /// let transport = msal_lite::http::ReqwestHttpClient::builder()
    ///     .add_root_certificate_der(&der)
    ///     .build()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn add_root_certificate_der(mut self, der: &[u8]) -> Self {
        match reqwest::Certificate::from_der(der) {
            Ok(cert) => self.root_certificates.push(cert),
            Err(_) => {
                self.error
                    .get_or_insert(Error::config("the root certificate is not valid DER"));
            }
        }
        self
    }

    /// Trusts one more root certificate given as PEM (e.g. the dev tenant's
    /// `ca_certificate_pem()`).
    ///
    /// ```no_run
    /// let pem = std::fs::read("dev-tenant-ca.pem")?;
    /// let transport = msal_lite::http::ReqwestHttpClient::builder()
    ///     .add_root_certificate_pem(&pem)
    ///     .build()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn add_root_certificate_pem(mut self, pem: &[u8]) -> Self {
        match reqwest::Certificate::from_pem(pem) {
            Ok(cert) => self.root_certificates.push(cert),
            Err(_) => {
                self.error
                    .get_or_insert(Error::config("the root certificate is not valid PEM"));
            }
        }
        self
    }

    /// Builds the transport.
    pub fn build(self) -> Result<ReqwestHttpClient, Error> {
        if let Some(error) = self.error {
            return Err(error);
        }
        let mut builder = reqwest::Client::builder()
            // A token endpoint never redirects; following one could send the client
            // credential elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(self.connect_timeout)
            .timeout(self.timeout)
            .user_agent(concat!("msal-lite/", env!("CARGO_PKG_VERSION")));
        if !self.root_certificates.is_empty() {
            builder = builder.tls_certs_merge(self.root_certificates);
        }
        let client = builder
            .build()
            .map_err(|_| Error::config("the HTTP client could not be built"))?;
        Ok(ReqwestHttpClient {
            client,
            max_response_bytes: self.max_response_bytes,
        })
    }
}

fn map_error(error: reqwest::Error) -> HttpError {
    if error.is_timeout() {
        return HttpError::timeout(error);
    }
    if is_tls(&error) {
        return HttpError::tls(error);
    }
    if error.is_connect() || error.is_request() {
        return HttpError::connect(error);
    }
    HttpError::other(error)
}

/// Whether a rustls error is somewhere in the chain (hyper wraps it in `io::Error`, whose
/// `source()` skips the wrapped error, so look inside with `get_ref`).
fn is_tls(error: &(dyn StdError + 'static)) -> bool {
    let mut current: Option<&(dyn StdError + 'static)> = Some(error);
    while let Some(e) = current {
        if e.is::<rustls::Error>() {
            return true;
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && let Some(inner) = io.get_ref()
            && is_tls(inner)
        {
            return true;
        }
        current = e.source();
    }
    false
}
