//! The public handle.

use std::fmt;
use std::sync::Arc;

use crate::cache::TokenCache;
use crate::cache::single_flight::SingleFlight;
use crate::http::{HttpClient, RetryPolicy};
use crate::metadata::MetadataCache;
use crate::persistence::CacheStore;
use crate::time::SharedClock;
use crate::{
    AuthenticationResult, Authority, ClientCredential, ClientCredentialsRequest, Error,
    IntoAuthority, IntoScopes,
};

mod builder;

pub use builder::ConfidentialClientBuilder;

/// A confidential client (a web app, web API or daemon with its own credential).
///
/// Cheap to clone: clones share the configuration, the transport, the authority metadata and
/// the token cache.
///
/// ```no_run
/// use msal_lite::{ClientCredential, ConfidentialClient};
///
/// # async fn demo() -> Result<(), msal_lite::Error> {
/// let client = ConfidentialClient::builder(
///     "5e3f7a9b-2c4d-4e6f-8a0b-1c3d5e7f9a2b",
///     "https://contoso.ciamlogin.com/",
///     ClientCredential::secret(std::env::var("CLIENT_SECRET").unwrap_or_default()),
/// )
/// .build()?;
///
/// let result = client.acquire_token_for_client(["https://graph.microsoft.com/.default"]).await?;
/// let authorization = format!("Bearer {}", result.access_token().secret());
/// # let _ = authorization; Ok(()) }
/// ```
#[derive(Clone)]
pub struct ConfidentialClient {
    pub(crate) inner: Arc<ClientInner>,
}

pub(crate) struct ClientInner {
    pub(crate) client_id: Arc<str>,
    pub(crate) authority: Authority,
    pub(crate) credential: ClientCredential,
    pub(crate) http: Arc<dyn HttpClient>,
    pub(crate) retry: RetryPolicy,
    pub(crate) clock: SharedClock,
    pub(crate) refresh_margin_secs: u64,
    pub(crate) metadata: MetadataCache,
    pub(crate) cache: TokenCache,
    /// The app-token partition key for the default authority, built once.
    pub(crate) app_partition: Box<str>,
    /// What every per-request-tenant app partition key starts with (none: the authority has
    /// no tenant segment), so a hit for another tenant builds its key without parsing.
    pub(crate) tenant_partition_prefix: Option<Box<str>>,
    pub(crate) app_flights: Arc<SingleFlight<Result<AuthenticationResult, Error>>>,
    /// Declared client capabilities (`xms_cc`), merged into every `claims` parameter.
    pub(crate) client_capabilities: Arc<[String]>,
    /// Where user and on-behalf-of partitions are persisted (none: memory only).
    pub(crate) cache_store: Option<Arc<dyn CacheStore>>,
    /// The fleet-wide acquisition lease's duration (none: single flight per instance only).
    pub(crate) lease_ttl: Option<std::time::Duration>,
    /// On-behalf-of tokens, partitioned by the hash of the incoming assertion.
    pub(crate) obo: crate::cache::obo::OboCache,
    /// Signed-in users: their token partitions, single flights and the ID-token keys.
    pub(crate) users: crate::request::UserState,
    /// At most one background refresh per token, with a back-off after failures.
    pub(crate) background: crate::request::BackgroundRefresh,
    /// The Azure region for client-credentials requests (none: global only).
    pub(crate) azure_region: Option<crate::region::ResolvedRegion>,
}

impl ConfidentialClient {
    /// Starts building a client for `client_id` (the app registration's application id) at
    /// `authority`, proving its identity with `credential`. Errors (an unparsable authority,
    /// an empty client id) are reported by [`build`](ConfidentialClientBuilder::build).
    ///
    /// ```
    /// let builder = msal_lite::ConfidentialClient::builder(
    ///     "client-id",
    ///     "https://login.microsoftonline.com/contoso.onmicrosoft.com",
    ///     msal_lite::ClientCredential::secret("secret"),
    /// );
    /// # let _ = builder;
    /// ```
    pub fn builder(
        client_id: impl Into<String>,
        authority: impl IntoAuthority,
        credential: impl Into<ClientCredential>,
    ) -> ConfidentialClientBuilder {
        ConfidentialClientBuilder::new(
            client_id.into(),
            authority.into_authority(),
            credential.into(),
        )
    }

    /// Acquires an app-only token (client credentials grant) for `scopes`, normally one
    /// `{resource}/.default` scope.
    ///
    /// A cached token is returned while it has more than the refresh margin (5 minutes by
    /// default) left and the server's `refresh_in` has not passed; otherwise one network call
    /// is made however many callers ask at once. Pass a prebuilt [`Scopes`](crate::Scopes) to
    /// make cache hits allocation-free.
    ///
    /// ```no_run
    /// # async fn demo(client: msal_lite::ConfidentialClient) -> Result<(), msal_lite::Error> {
    /// let graph = msal_lite::Scopes::new(["https://graph.microsoft.com/.default"])?;
    /// let result = client.acquire_token_for_client(&graph).await?;
    /// # let _ = result; Ok(()) }
    /// ```
    pub async fn acquire_token_for_client(
        &self,
        scopes: impl IntoScopes,
    ) -> Result<AuthenticationResult, Error> {
        self.acquire_token_for_client_with(ClientCredentialsRequest::new(scopes))
            .await
    }

    /// [`acquire_token_for_client`](Self::acquire_token_for_client) with options: force refresh,
    /// a claims challenge, another tenant or authority, a caller-chosen correlation id.
    ///
    /// ```no_run
    /// # async fn demo(client: msal_lite::ConfidentialClient) -> Result<(), msal_lite::Error> {
    /// use msal_lite::ClientCredentialsRequest;
    /// let fresh = client
    ///     .acquire_token_for_client_with(
    ///         ClientCredentialsRequest::new(["api://my-api/.default"]).force_refresh(true),
    ///     )
    ///     .await?;
    /// # let _ = fresh; Ok(()) }
    /// ```
    pub async fn acquire_token_for_client_with(
        &self,
        request: ClientCredentialsRequest,
    ) -> Result<AuthenticationResult, Error> {
        crate::request::acquire_for_client(&self.inner, request).await
    }

    /// The client (application) id.
    ///
    /// ```
    /// # let client = msal_lite::ConfidentialClient::builder("id", "https://contoso.ciamlogin.com/",
    /// #     msal_lite::ClientCredential::secret("s")).http_client(|_r: msal_lite::http::HttpRequest| async {
    /// #     Err::<msal_lite::http::HttpResponse, _>(msal_lite::http::HttpError::body_too_large(0)) }).build()?;
    /// assert_eq!(client.client_id(), "id");
    /// # Ok::<(), msal_lite::Error>(())
    /// ```
    pub fn client_id(&self) -> &str {
        &self.inner.client_id
    }

    /// The default authority.
    ///
    /// ```
    /// # let client = msal_lite::ConfidentialClient::builder("id", "https://contoso.ciamlogin.com/",
    /// #     msal_lite::ClientCredential::secret("s")).http_client(|_r: msal_lite::http::HttpRequest| async {
    /// #     Err::<msal_lite::http::HttpResponse, _>(msal_lite::http::HttpError::body_too_large(0)) }).build()?;
    /// assert_eq!(client.authority().as_str(), "https://contoso.ciamlogin.com/contoso.onmicrosoft.com/");
    /// # Ok::<(), msal_lite::Error>(())
    /// ```
    pub fn authority(&self) -> &Authority {
        &self.inner.authority
    }
}

impl fmt::Debug for ConfidentialClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConfidentialClient")
            .field("client_id", &self.inner.client_id)
            .field("authority", &self.inner.authority)
            .field("credential", &self.inner.credential)
            .field("retry", &self.inner.retry)
            .field("refresh_margin_secs", &self.inner.refresh_margin_secs)
            .finish_non_exhaustive()
    }
}

impl ClientInner {
    /// The `claims` parameter to send: the request's claims merged with the client's declared
    /// capabilities (`None` when there is nothing to send). Every flow goes through here so
    /// capabilities reach authorize URLs and token requests alike.
    pub(crate) fn merged_claims(&self, claims: Option<&str>) -> Result<Option<String>, Error> {
        crate::claims::merge_client_capabilities(claims, &self.client_capabilities)
            .map_err(|e| Error::config(format!("invalid claims: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::{HttpError, HttpRequest, HttpResponse};

    fn offline() -> impl HttpClient {
        |_request: HttpRequest| async { Err::<HttpResponse, _>(HttpError::body_too_large(0)) }
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let client = ConfidentialClient::builder(
            "id",
            "https://contoso.ciamlogin.com/",
            ClientCredential::secret("hunter2"),
        )
        .http_client(offline())
        .build()
        .unwrap();
        let debug = format!("{client:?}");
        assert!(
            debug.contains("ClientCredential::Secret([redacted])"),
            "{debug}"
        );
        assert!(!debug.contains("hunter2"));
        let builder =
            ConfidentialClient::builder("id", "https://x/t", ClientCredential::secret("hunter2"));
        assert!(!format!("{builder:?}").contains("hunter2"));
    }

    #[test]
    fn build_reports_the_first_error() {
        let e =
            ConfidentialClient::builder("", "http://example.com/t", ClientCredential::secret("s"))
                .http_client(offline())
                .build()
                .unwrap_err();
        assert!(matches!(e, Error::InvalidAuthority { .. }), "{e:?}");
        let e =
            ConfidentialClient::builder("", "https://example.com/t", ClientCredential::secret("s"))
                .http_client(offline())
                .build()
                .unwrap_err();
        assert!(matches!(e, Error::Config { .. }), "{e:?}");
    }

    #[test]
    fn clones_share_state() {
        let a = ConfidentialClient::builder(
            "id",
            "https://example.com/t",
            ClientCredential::secret("s"),
        )
        .http_client(offline())
        .build()
        .unwrap();
        let b = a.clone();
        assert!(Arc::ptr_eq(&a.inner, &b.inner));
        assert_eq!(b.client_id(), "id");
    }
}
