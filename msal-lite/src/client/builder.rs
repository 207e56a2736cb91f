//! The client builder (errors are kept until `build`, so the chain stays fluent).

use std::sync::Arc;
use std::time::Duration;

use super::{ClientInner, ConfidentialClient};
use crate::cache::single_flight::SingleFlight;
use crate::cache::{TokenCache, app};
use crate::http::{HttpClient, RetryPolicy};
use crate::metadata::MetadataCache;
use crate::persistence::CacheStore;
use crate::time::SharedClock;
use crate::{Authority, AzureRegion, ClientCredential, Clock, Error};

/// The default refresh margin: a cached token is renewed when it has less than this left, as
/// MSAL does (`tokenRenewalOffsetSeconds` = 300).
const DEFAULT_REFRESH_MARGIN: Duration = Duration::from_secs(300);

/// The default acquisition lease: the default transport's total timeout (30 s), so a lease
/// outlives the request it guards.
const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(30);

/// Builds a [`ConfidentialClient`]; made by [`ConfidentialClient::builder`].
///
/// ```
/// use std::time::Duration;
/// use msal_lite::{ClientCredential, ConfidentialClient, RetryPolicy};
///
/// let client = ConfidentialClient::builder(
///     "5e3f7a9b-2c4d-4e6f-8a0b-1c3d5e7f9a2b",
///     "https://login.microsoftonline.com/contoso.onmicrosoft.com",
///     ClientCredential::secret("secret"),
/// )
/// .retry_policy(RetryPolicy::none())
/// .refresh_margin(Duration::from_secs(120))
/// .build()?;
/// # let _ = client;
///
/// let bad = ConfidentialClient::builder("id", "http://login.example.com/t", ClientCredential::secret("s"))
///     .build();
/// assert!(bad.is_err()); // plain http is only for loopback hosts
/// # Ok::<(), msal_lite::Error>(())
/// ```
#[must_use]
pub struct ConfidentialClientBuilder {
    client_id: String,
    authority: Result<Authority, Error>,
    credential: ClientCredential,
    http: Option<Arc<dyn HttpClient>>,
    retry: RetryPolicy,
    clock: SharedClock,
    refresh_margin: Duration,
    client_capabilities: Vec<String>,
    cache_store: Option<Arc<dyn CacheStore>>,
    cache_byte_budget: Option<usize>,
    azure_region: Option<AzureRegion>,
    instance_discovery: bool,
    distributed_single_flight: bool,
    lease_ttl: Duration,
}

impl ConfidentialClientBuilder {
    pub(super) fn new(
        client_id: String,
        authority: Result<Authority, Error>,
        credential: ClientCredential,
    ) -> Self {
        Self {
            client_id,
            authority,
            credential,
            http: None,
            retry: RetryPolicy::default(),
            clock: SharedClock::default(),
            refresh_margin: DEFAULT_REFRESH_MARGIN,
            client_capabilities: Vec::new(),
            cache_store: None,
            cache_byte_budget: None,
            azure_region: None,
            instance_discovery: true,
            distributed_single_flight: true,
            lease_ttl: DEFAULT_LEASE_TTL,
        }
    }

    /// Whether to ask the authority's host which hosts are aliases of its cloud (instance
    /// discovery, on by default, as MSAL's `instanceDiscovery` / `WithInstanceDiscovery`). It
    /// only runs for Entra-shaped hosts msal-lite does not know (not the public and national
    /// clouds, External ID, B2C, ADFS, OpenID Connect issuers or loopback hosts), once per
    /// metadata fetch. Turn it off for a private or air-gapped Entra-compatible host that does
    /// not serve `/common/discovery/instance`.
    ///
    /// ```
    /// let builder = msal_lite::ConfidentialClient::builder(
    ///     "client-id",
    ///     "https://login.private-cloud.example/contoso.onmicrosoft.com",
    ///     msal_lite::ClientCredential::secret("secret"),
    /// )
    /// .instance_discovery(false);
    /// # let _ = builder;
    /// ```
    pub fn instance_discovery(mut self, enabled: bool) -> Self {
        self.instance_discovery = enabled;
        self
    }

    /// Sends client-credentials (app-token) requests to an Azure regional endpoint (ESTS-R), as
    /// MSAL's `WithAzureRegion` / `azureRegion`: `{region}.login.microsoft.com` for the public
    /// cloud, `{region}.{host}` for another Entra cloud. [`AzureRegion::AutoDetect`] takes the
    /// region from the `REGION_NAME` environment variable (set by App Service and Functions)
    /// and uses the global endpoint when there is none. Only Entra ID (workforce) authorities
    /// have regional endpoints; for others the setting is ignored. User flows and on-behalf-of
    /// always use the global endpoint, as in MSAL. A name that is not a region (ASCII letters
    /// and digits) fails [`build`](Self::build).
    ///
    /// ```
    /// use msal_lite::{AzureRegion, ClientCredential, ConfidentialClient};
    /// let client = ConfidentialClient::builder(
    ///     "client-id",
    ///     "https://login.microsoftonline.com/contoso.onmicrosoft.com",
    ///     ClientCredential::secret("secret"),
    /// )
    /// .azure_region("westus2")
    /// .build()?;
    /// # let _ = client;
    /// let detected = ConfidentialClient::builder(
    ///     "client-id",
    ///     "https://login.microsoftonline.com/contoso.onmicrosoft.com",
    ///     ClientCredential::secret("secret"),
    /// )
    /// .azure_region(AzureRegion::AutoDetect);
    /// # let _ = detected;
    /// assert!(ConfidentialClient::builder("id", "https://login.microsoftonline.com/t",
    ///     ClientCredential::secret("s")).azure_region("evil.example/").build().is_err());
    /// # Ok::<(), msal_lite::Error>(())
    /// ```
    pub fn azure_region(mut self, region: impl Into<AzureRegion>) -> Self {
        self.azure_region = Some(region.into());
        self
    }

    /// Declares client capabilities (e.g. `["cp1"]`: the app handles claims challenges, so
    /// resources may issue continuous-access-evaluation tokens). They are sent as
    /// `{"access_token":{"xms_cc":{"values":[...]}}}` merged into the `claims` parameter of
    /// authorize URLs and token requests (Microsoft identity platform: "Claims challenges, claims
    /// requests, and client capabilities").
    ///
    /// ```
    /// let builder = msal_lite::ConfidentialClient::builder(
    ///     "client-id",
    ///     "https://contoso.ciamlogin.com/",
    ///     msal_lite::ClientCredential::secret("secret"),
    /// )
    /// .client_capabilities(["cp1"]);
    /// # let _ = builder;
    /// ```
    pub fn client_capabilities<I, S>(mut self, capabilities: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.client_capabilities = capabilities.into_iter().map(Into::into).collect();
        self
    }

    /// Persists cache partitions (user accounts, on-behalf-of assertions) in `store`, e.g. a
    /// [`Layered`](crate::persistence::Layered) memory + Redis store shared by several instances.
    /// Without it, tokens live in this process's memory only.
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// let builder = msal_lite::ConfidentialClient::builder(
    ///     "client-id",
    ///     "https://contoso.ciamlogin.com/",
    ///     msal_lite::ClientCredential::secret("secret"),
    /// )
    /// .cache_store(Arc::new(msal_lite::persistence::MemoryStore::new()));
    /// # let _ = builder;
    /// ```
    pub fn cache_store(mut self, store: Arc<dyn CacheStore>) -> Self {
        self.cache_store = Some(store);
        self
    }

    /// Whether instances sharing the [`cache_store`](Self::cache_store) deduplicate token
    /// requests across the fleet (default: on). On a miss, before going to the token endpoint,
    /// an instance takes a short lease in the store (Redis: `SET NX PX`); the other instances
    /// that miss the same token meanwhile wait for the token it stores instead of sending
    /// their own request. Stores without leases (memory) and a store that is down leave each
    /// instance to its own single flight. `false` turns the lease off: one token request per
    /// instance, as before.
    ///
    /// ```
    /// let builder = msal_lite::ConfidentialClient::builder(
    ///     "client-id",
    ///     "https://contoso.ciamlogin.com/",
    ///     msal_lite::ClientCredential::secret("secret"),
    /// )
    /// .distributed_single_flight(false);
    /// # let _ = builder;
    /// ```
    pub fn distributed_single_flight(mut self, enabled: bool) -> Self {
        self.distributed_single_flight = enabled;
        self
    }

    /// How long the fleet-wide acquisition lease lasts (default 30 s, the default transport's
    /// total timeout): at most how long other instances wait for a leader that died. Keep it
    /// at or above the transport's timeout, so a slow request is not duplicated. Zero is a
    /// configuration error.
    ///
    /// ```
    /// use std::time::Duration;
    /// let builder = msal_lite::ConfidentialClient::builder(
    ///     "client-id",
    ///     "https://contoso.ciamlogin.com/",
    ///     msal_lite::ClientCredential::secret("secret"),
    /// )
    /// .distributed_lease_ttl(Duration::from_secs(10));
    /// # let _ = builder;
    /// ```
    pub fn distributed_lease_ttl(mut self, ttl: Duration) -> Self {
        self.lease_ttl = ttl;
        self
    }

    /// The memory budget, in bytes, of the signed-in users' token partitions (default 256 MiB).
    /// Over it, the least recently used users are dropped from memory (they are read back
    /// from the [`cache_store`](Self::cache_store) on their next request, or sign in again).
    ///
    /// ```
    /// let builder = msal_lite::ConfidentialClient::builder(
    ///     "client-id",
    ///     "https://contoso.ciamlogin.com/",
    ///     msal_lite::ClientCredential::secret("secret"),
    /// )
    /// .cache_byte_budget(64 * 1024 * 1024);
    /// # let _ = builder;
    /// ```
    pub fn cache_byte_budget(mut self, bytes: usize) -> Self {
        self.cache_byte_budget = Some(bytes);
        self
    }

    /// Uses this transport instead of the default reqwest one (required when the `reqwest`
    /// feature is off).
    pub fn http_client(mut self, http: impl HttpClient) -> Self {
        self.http = Some(Arc::new(http));
        self
    }

    /// When to retry a failed request (default: once, on 5xx, 429 and connection failures).
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// How long before expiry a cached token stops being served (default 5 minutes).
    pub fn refresh_margin(mut self, margin: Duration) -> Self {
        self.refresh_margin = margin;
        self
    }

    /// The clock for token expiry and client assertions (default: the system clock).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = SharedClock::new(clock);
        self
    }

    /// Builds the client, or returns the first configuration error.
    pub fn build(self) -> Result<ConfidentialClient, Error> {
        let authority = self.authority?;
        let client_id = self.client_id.trim();
        if client_id.is_empty() {
            return Err(Error::config("the client id is empty"));
        }
        let http = match self.http {
            Some(http) => http,
            None => default_http()?,
        };
        // Every token request goes through the client's throttle (MSAL's throttling), then
        // gets the server telemetry headers (only requests that reach the network count).
        let http: Arc<dyn HttpClient> = Arc::new(crate::http::TelemetryHttp::new(http));
        let http: Arc<dyn HttpClient> =
            Arc::new(crate::http::ThrottledHttp::new(http, self.clock.clone()));
        if self.client_capabilities.iter().any(|c| c.trim().is_empty()) {
            return Err(Error::config("a client capability is empty"));
        }
        let azure_region =
            crate::region::resolve(self.azure_region, |name| std::env::var(name).ok())?;
        if self.lease_ttl.is_zero() {
            return Err(Error::config("the distributed lease duration is zero"));
        }
        let lease_ttl = (self.distributed_single_flight && self.cache_store.is_some())
            .then_some(self.lease_ttl);
        let client_id: Arc<str> = client_id.into();
        let app_partition = app::partition_key(&client_id, &authority);
        let tenant_partition_prefix = app::tenant_key_prefix(&client_id, &authority);
        let metadata =
            MetadataCache::new(self.clock.clone()).with_instance_discovery(self.instance_discovery);
        Ok(ConfidentialClient {
            inner: Arc::new(ClientInner {
                client_id,
                authority,
                credential: self.credential,
                http,
                retry: self.retry,
                clock: self.clock,
                refresh_margin_secs: self.refresh_margin.as_secs(),
                metadata,
                cache: TokenCache::default(),
                app_partition,
                tenant_partition_prefix,
                app_flights: SingleFlight::new(),
                client_capabilities: self.client_capabilities.into(),
                cache_store: self.cache_store,
                lease_ttl,
                obo: Default::default(),
                users: crate::request::UserState::new(self.cache_byte_budget),
                background: crate::request::BackgroundRefresh::default(),
                azure_region,
            }),
        })
    }
}

#[cfg(feature = "reqwest")]
fn default_http() -> Result<Arc<dyn HttpClient>, Error> {
    Ok(Arc::new(crate::http::ReqwestHttpClient::new()?))
}

#[cfg(not(feature = "reqwest"))]
fn default_http() -> Result<Arc<dyn HttpClient>, Error> {
    Err(Error::config(
        "no HTTP client: enable the `reqwest` feature or call `http_client`",
    ))
}

impl std::fmt::Debug for ConfidentialClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfidentialClientBuilder")
            .field("client_id", &self.client_id)
            .field("authority", &self.authority)
            .field("credential", &self.credential)
            .finish_non_exhaustive()
    }
}
