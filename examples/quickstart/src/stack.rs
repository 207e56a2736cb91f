//! Starting the dev tenant, the API and the web app together, and stopping them together.

use std::net::{Ipv4Addr, SocketAddr};

use dev_tenant::DevTenant;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::settings::{api_vars, web_app_vars};

/// The host name the browser uses for the web app. The dev tenant's URLs say `127.0.0.1`, so the
/// two are different sites to the browser, as a real tenant and a web app are.
const WEB_HOST: &str = "localhost";

/// The TCP ports to listen on, all on `127.0.0.1`; `0` picks a free port.
///
/// ```
/// let ports = quickstart::Ports { web: 8000, ..quickstart::Ports::QUICKSTART };
/// assert_eq!((ports.web, ports.api, ports.tenant), (8000, 3001, 3002));
/// assert_eq!(quickstart::Ports::EPHEMERAL.web, 0);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ports {
    /// The web app (`http://localhost:{web}`).
    pub web: u16,
    /// The EditProfileService API (`http://127.0.0.1:{api}`).
    pub api: u16,
    /// The dev tenant and its Graph stand-in (`http://127.0.0.1:{tenant}`).
    pub tenant: u16,
}

impl Ports {
    /// The sample's ports: web app 3000, API 3001, dev tenant 3002.
    pub const QUICKSTART: Self = Self {
        web: 3000,
        api: 3001,
        tenant: 3002,
    };
    /// Free ports chosen by the operating system (tests).
    pub const EPHEMERAL: Self = Self {
        web: 0,
        api: 0,
        tenant: 0,
    };
}

/// What [`start`] runs.
///
/// ```
/// let options = quickstart::Options::new(quickstart::Ports::QUICKSTART)
///     .redis_url("redis://127.0.0.1:6379")
///     .data_keys("k1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
/// assert_eq!(options.ports.web, 3000);
/// assert!(!format!("{options:?}").contains("k1:"), "Debug redacts the keys");
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct Options {
    /// Where to listen.
    pub ports: Ports,
    /// Redis for the web app's sessions and both apps' token caches; memory when `None`.
    pub redis_url: Option<String>,
    /// `DATA_KEYS` for the values both apps keep in Redis (`id:base64url-32-bytes[,...]`);
    /// a random key for this process when `None`.
    data_keys: Option<String>,
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("ports", &self.ports)
            .field("redis_url", &self.redis_url)
            .field("data_keys", &self.data_keys.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

impl Options {
    /// The given ports, in-memory sessions and caches.
    pub fn new(ports: Ports) -> Self {
        Self {
            ports,
            redis_url: None,
            data_keys: None,
        }
    }

    /// Keeps sessions and token caches in Redis.
    #[must_use]
    pub fn redis_url(mut self, url: impl Into<String>) -> Self {
        self.redis_url = Some(url.into());
        self
    }

    /// The keys that seal what the apps write to Redis (the apps' `DATA_KEYS`). Without it, a
    /// random key is made at each start, so what an earlier run left in Redis is not read back
    /// (neither are that run's tokens valid: the dev tenant's signing key is new each start).
    #[must_use]
    pub fn data_keys(mut self, keys: impl Into<String>) -> Self {
        self.data_keys = Some(keys.into());
        self
    }
}

impl From<Ports> for Options {
    fn from(ports: Ports) -> Self {
        Self::new(ports)
    }
}

/// Why the quickstart could not start. Each message says which part failed.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let taken = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
/// let port = taken.local_addr().unwrap().port();
/// let ports = quickstart::Ports { api: port, ..quickstart::Ports::EPHEMERAL };
/// let err = quickstart::start(ports).await.unwrap_err();
/// assert!(matches!(err, quickstart::StartError::Bind { part: "API", .. }), "{err}");
/// # }
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The dev tenant could not start (e.g. its port is taken).
    #[error("the dev tenant could not start")]
    Tenant(#[source] dev_tenant::Error),
    /// A port is taken or cannot be listened on.
    #[error("the {part} cannot listen on {addr}")]
    Bind {
        /// `API` or `web app`.
        part: &'static str,
        /// The address.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The API's configuration was refused.
    #[error("the API's configuration is invalid")]
    ApiConfig(#[source] api::config::ConfigError),
    /// The API could not start (e.g. OIDC discovery against the tenant failed).
    #[error("the API could not start")]
    Api(#[source] api::StartError),
    /// The web app's configuration was refused.
    #[error("the web app's configuration is invalid")]
    WebAppConfig(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The web app could not start.
    #[error("the web app could not start")]
    WebApp(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// The running quickstart. [`Quickstart::shutdown`] stops it gracefully; dropping it also stops
/// the servers (in-flight requests finish) and the dev tenant.
#[derive(Debug)]
pub struct Quickstart {
    tenant: DevTenant,
    web_url: String,
    api_url: String,
    web_addr: SocketAddr,
    api_addr: SocketAddr,
    stop: watch::Sender<()>,
    servers: Vec<JoinHandle<std::io::Result<()>>>,
}

/// Starts the dev tenant, then the API (which discovers the tenant's keys), then the web app.
///
/// # Errors
/// [`StartError`]: which part failed, with the cause chained.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), quickstart::StartError> {
/// let running = quickstart::start(quickstart::Ports::EPHEMERAL).await?;
/// println!("open {}", running.web_url());
/// running.shutdown().await.expect("servers stop cleanly");
/// # Ok(()) }
/// ```
pub async fn start(options: impl Into<Options>) -> Result<Quickstart, StartError> {
    let Options {
        ports,
        redis_url,
        data_keys,
    } = options.into();
    // Redis holds tokens and sessions, which both apps seal with DATA_KEYS.
    let redis = redis_url.map(|url| {
        let keys = data_keys.unwrap_or_else(|| api::at_rest::DataKeys::new_entry("quickstart"));
        (url, keys)
    });
    let redis = redis
        .as_ref()
        .map(|(url, keys)| (url.as_str(), keys.as_str()));
    let mut tenant_config = dev_tenant::Config::quickstart();
    tenant_config.server.bind = Some(loopback(ports.tenant));
    tenant_config.server.public_host = Some(Ipv4Addr::LOCALHOST.to_string());
    let tenant = DevTenant::start(tenant_config)
        .await
        .map_err(StartError::Tenant)?;

    // Both listeners first: a taken port fails before any discovery, and ephemeral ports are
    // known before the redirect URI and the API's URL are written into the configuration.
    let api_listener = listen("API", ports.api).await?;
    let web_listener = listen("web app", ports.web).await?;
    let api_addr = local_addr("API", &api_listener, ports.api)?;
    let web_addr = local_addr("web app", &web_listener, ports.web)?;
    let api_url = format!("http://{api_addr}");
    let web_url = format!("http://{WEB_HOST}:{}", web_addr.port());

    let vars = api_vars(&tenant, api_addr, redis);
    let api_config =
        api::Config::from_vars(|name| vars.get(name)).map_err(StartError::ApiConfig)?;
    let api_router = api::app(&api_config).await.map_err(StartError::Api)?;

    let vars = web_app_vars(&tenant, web_addr, &web_url, &api_url, redis);
    let web_config = web_app::Config::from_vars(|name| vars.get(name))
        .map_err(|e| StartError::WebAppConfig(Box::new(e)))?;
    let web_router = web_app::app(&web_config)
        .await
        .map_err(|e| StartError::WebApp(Box::new(e)))?;

    let (stop, stopped) = watch::channel(());
    let servers = vec![
        tokio::spawn(serve(api_listener, api_router, stopped.clone())),
        tokio::spawn(serve(web_listener, web_router, stopped)),
    ];
    tracing::info!(web = %web_url, api = %api_url, tenant = %tenant.base_url(), "quickstart started");
    Ok(Quickstart {
        tenant,
        web_url,
        api_url,
        web_addr,
        api_addr,
        stop,
        servers,
    })
}

impl Quickstart {
    /// The dev tenant: its URLs, its user store ([`DevTenant::user`]), the last MFA code
    /// ([`DevTenant::last_mfa_code`]).
    pub fn tenant(&self) -> &DevTenant {
        &self.tenant
    }

    /// Where the browser opens the web app: `http://localhost:PORT` (no trailing slash).
    pub fn web_url(&self) -> &str {
        &self.web_url
    }

    /// The API's base URL: `http://127.0.0.1:PORT` (no trailing slash).
    pub fn api_url(&self) -> &str {
        &self.api_url
    }

    /// The web app's bound address.
    pub fn web_addr(&self) -> SocketAddr {
        self.web_addr
    }

    /// The API's bound address.
    pub fn api_addr(&self) -> SocketAddr {
        self.api_addr
    }

    /// Stops accepting connections, lets in-flight requests finish, then stops the dev tenant.
    ///
    /// # Errors
    /// The first error a server reported while serving.
    pub async fn shutdown(self) -> std::io::Result<()> {
        let Self {
            tenant,
            stop,
            servers,
            ..
        } = self;
        drop(stop);
        let mut result = Ok(());
        for server in servers {
            let outcome = server
                .await
                .unwrap_or_else(|e| Err(std::io::Error::other(e)));
            if result.is_ok() {
                result = outcome;
            }
        }
        // Last: the API and the web app may still call the tenant while they drain.
        drop(tenant);
        result
    }
}

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, port))
}

async fn listen(part: &'static str, port: u16) -> Result<TcpListener, StartError> {
    let addr = loopback(port);
    TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Bind { part, addr, source })
}

fn local_addr(
    part: &'static str,
    listener: &TcpListener,
    port: u16,
) -> Result<SocketAddr, StartError> {
    listener.local_addr().map_err(|source| StartError::Bind {
        part,
        addr: loopback(port),
        source,
    })
}

/// Serves until `stopped` fires or its sender is dropped, then drains in-flight requests.
async fn serve(
    listener: TcpListener,
    router: axum::Router,
    mut stopped: watch::Receiver<()>,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        // Err means the sender was dropped: stop as well.
        let _ = stopped.changed().await;
    })
    .await
}
