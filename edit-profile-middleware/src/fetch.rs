//! The HTTP transport for discovery and JWKS documents: [`HttpFetch`] and its reqwest implementation.

use std::future::Future;
use std::pin::Pin;

/// Why fetching OIDC metadata or a JWKS document failed.
///
/// ```
/// use edit_profile_middleware::FetchError;
/// assert_eq!(FetchError::Status(503).to_string(), "unexpected http status 503");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// The server answered with a non-success status.
    #[error("unexpected http status {0}")]
    Status(u16),
    /// The response was larger than the fetcher's limit.
    #[error("response too large")]
    TooLarge,
    /// The request could not be sent or the response not read.
    #[error("transport error")]
    Transport(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The document was not what was expected (bad JSON, no usable signing keys, ...).
    #[error("invalid document: {0}")]
    Invalid(&'static str),
}

/// The boxed future an [`HttpFetch`] returns.
///
/// ```
/// use edit_profile_middleware::{FetchError, FetchFuture};
/// let future: FetchFuture = Box::pin(async { Err(FetchError::Status(404)) });
/// # drop(future);
/// ```
pub type FetchFuture = Pin<Box<dyn Future<Output = Result<Vec<u8>, FetchError>> + Send + 'static>>;

/// Fetches a document by `GET` (OIDC metadata and JWKS). Implemented for closures.
///
/// With the default `reqwest` feature a [`ReqwestFetch`] is used; plug your own transport (or a
/// test double) with [`ValidatorBuilder::http_fetch`](crate::ValidatorBuilder::http_fetch).
///
/// ```
/// use edit_profile_middleware::{FetchError, HttpFetch};
///
/// let fetch = |url: String| async move {
///     if url.ends_with("/keys") { Ok(br#"{"keys":[]}"#.to_vec()) } else { Err(FetchError::Status(404)) }
/// };
/// fn takes(_: impl HttpFetch) {}
/// takes(fetch);
/// ```
pub trait HttpFetch: Send + Sync + 'static {
    /// `GET url` and return the response body.
    fn get(&self, url: &str) -> FetchFuture;
}

impl<F, Fut> HttpFetch for F
where
    F: Fn(String) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Vec<u8>, FetchError>> + Send + 'static,
{
    fn get(&self, url: &str) -> FetchFuture {
        Box::pin(self(url.to_owned()))
    }
}

/// The default [`HttpFetch`]: reqwest over rustls, no redirects, 10 s timeout, 1 MiB body cap.
///
/// Redirects are off deliberately: metadata and key URLs come from configuration or from the
/// issuer's own metadata, and following redirects would widen the SSRF surface.
///
/// ```
/// # #[cfg(feature = "reqwest")] {
/// let fetch = edit_profile_middleware::ReqwestFetch::new()?;
/// # }
/// # Ok::<_, edit_profile_middleware::FetchError>(())
/// ```
#[cfg(feature = "reqwest")]
#[derive(Clone, Debug)]
pub struct ReqwestFetch {
    client: reqwest::Client,
}

#[cfg(feature = "reqwest")]
impl ReqwestFetch {
    const MAX_BODY: usize = 1 << 20;

    /// A fetcher with the defaults above.
    ///
    /// # Errors
    ///
    /// [`FetchError::Transport`] when reqwest cannot build the client (TLS backend
    /// initialisation). There is deliberately no fallback: reqwest's default client follows
    /// redirects and has no timeout.
    pub fn new() -> Result<Self, FetchError> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(10))
            .connect_timeout(std::time::Duration::from_secs(5))
            .build()
            .map_err(|e| FetchError::Transport(Box::new(e)))?;
        Ok(Self { client })
    }

    /// Use an existing reqwest client (its redirect and timeout policy apply).
    pub fn with_client(client: reqwest::Client) -> Self {
        Self { client }
    }
}

#[cfg(feature = "reqwest")]
impl HttpFetch for ReqwestFetch {
    fn get(&self, url: &str) -> FetchFuture {
        let request = self.client.get(url);
        Box::pin(async move {
            let mut response = request
                .send()
                .await
                .map_err(|e| FetchError::Transport(Box::new(e)))?;
            if !response.status().is_success() {
                return Err(FetchError::Status(response.status().as_u16()));
            }
            let mut body = Vec::new();
            while let Some(chunk) = response
                .chunk()
                .await
                .map_err(|e| FetchError::Transport(Box::new(e)))?
            {
                if body.len() + chunk.len() > Self::MAX_BODY {
                    return Err(FetchError::TooLarge);
                }
                body.extend_from_slice(&chunk);
            }
            Ok(body)
        })
    }
}
