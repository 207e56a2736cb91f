//! Building the web app: token client, session store, routes.

use std::sync::Arc;
use std::time::Duration;

use api::graph::GraphClient;
use async_trait::async_trait;
use axum::Router;
use axum::routing::{get, post};
use http::{HeaderName, Request};
use tower::ServiceBuilder;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use tower_sessions::cookie::SameSite;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};
use tower_sessions::{Expiry, MemoryStore, SessionManagerLayer};
use url::Url;

use crate::config::Config;
use crate::flow_cookie::FlowSealer;
use crate::routes;
use crate::security_headers::{self, SecurityHeaders};
use crate::session_store::RedisSessionStore;

/// Why the web app could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The token client could not be built.
    #[error("token client setup failed")]
    TokenClient(#[source] msal_lite::Error),
    /// Redis could not be reached for sessions or the token cache.
    #[error("redis setup failed: {0}")]
    Redis(String),
    /// The client credential could not be loaded.
    #[error("client credential")]
    Credential(#[source] api::config::CredentialError),
    /// The Graph client could not be built.
    #[error("graph client setup failed")]
    Graph(#[source] api::graph::GraphError),
    /// A URL in the configuration does not work as a base.
    #[error("configuration: {0}")]
    Config(&'static str),
}

/// What the handlers share.
#[derive(Debug)]
pub struct AppState {
    pub(crate) msal: msal_lite::ConfidentialClient,
    pub(crate) graph: GraphClient,
    pub(crate) http: reqwest::Client,
    pub(crate) sealer: FlowSealer,
    pub(crate) redirect_uri: Url,
    pub(crate) post_logout_redirect_uri: Url,
    pub(crate) api_scope: String,
    pub(crate) api_update_url: Url,
    /// Served over https: cookies get the `__Host-` prefix.
    pub(crate) https: bool,
    /// Re-sends token-cache partitions that could not reach Redis (stops with the state).
    pub(crate) _cache_flush: Option<msal_lite::persistence::FlushTask>,
}

/// The Redis key prefix of the web app's sessions (`{prefix}{session id}`).
pub const SESSION_PREFIX: &str = "edit-profile:session:";
/// The Redis key prefix of the web app's token-cache partitions (`user/<home account id>`).
pub const MSAL_CACHE_PREFIX: &str = "edit-profile:msal:";
/// How long a user's token-cache partition stays in Redis after its last write. Only a session
/// leads back to a partition, and sessions end after [`SESSION_INACTIVITY`]; a signed-in user's
/// partition is rewritten at every token refresh (hourly with Entra's default lifetimes), so a
/// day keeps every live session's tokens while bounding what Redis holds for users who left
/// (instead of the refresh token's 90 days).
pub const USER_PARTITION_TTL: Duration = Duration::from_secs(24 * 3600);
/// Sessions end after this long without a request.
pub const SESSION_INACTIVITY: Duration = Duration::from_secs(8 * 3600);

/// The session cookie's name over https (`__Host-`: `Secure`, `Path=/`, no `Domain`).
pub const HOST_SESSION_COOKIE: &str = "__Host-ep.session";
/// The session cookie's name over plain http (loopback development only).
pub const SESSION_COOKIE: &str = "ep.session";

/// The session cookie's name and `Secure` flag for an app served over https or not.
fn session_cookie(https: bool) -> (&'static str, bool) {
    if https {
        (HOST_SESSION_COOKIE, true)
    } else {
        (SESSION_COOKIE, false)
    }
}

/// Builds the web app's router.
pub async fn app(config: &Config) -> Result<Router, StartError> {
    let credential = config.credential.load().map_err(StartError::Credential)?;
    let mut msal = msal_lite::ConfidentialClient::builder(
        config.client_id.clone(),
        config.authority.as_str(),
        credential,
    )
    // The web app acts on claims challenges (it sends the user back to sign in with them).
    .client_capabilities(["cp1"]);

    // With REDIS_URL: sessions and each account's token-cache partition live in Redis, sealed
    // with DATA_KEYS, so any instance serves any user (no sticky sessions needed).
    let mut cache_flush = None;
    if let Some(shared) = api::redis_cache_store(
        config.redis_url.as_deref(),
        config.data_keys.as_ref(),
        MSAL_CACHE_PREFIX,
        USER_PARTITION_TTL,
    )
    .map_err(|e| StartError::Redis(e.to_string()))?
    {
        msal = msal.cache_store(shared.store);
        cache_flush = Some(shared.flush_task);
    }
    let sessions = match (&config.redis_url, &config.data_keys) {
        (Some(url), Some(keys)) => {
            let store = RedisSessionStore::connect(url, SESSION_PREFIX)
                .await
                .map_err(|e| StartError::Redis(e.to_string()))?
                .with_data_keys(keys.clone());
            AnyStore::Redis(store)
        }
        (Some(_), None) => {
            return Err(StartError::Redis(
                "DATA_KEYS is not set (required with REDIS_URL)".into(),
            ));
        }
        (None, _) => AnyStore::Memory(MemoryStore::default()),
    };
    let msal = msal.build().map_err(StartError::TokenClient)?;

    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .connect_timeout(Duration::from_secs(5))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|_| StartError::Config("cannot build the HTTP client"))?;
    let https = config.redirect_uri.scheme() == "https";
    let state = Arc::new(AppState {
        msal,
        graph: GraphClient::new(&config.graph_endpoint).map_err(StartError::Graph)?,
        http,
        sealer: FlowSealer::new(config.cookie_key.as_ref()),
        redirect_uri: config.redirect_uri.clone(),
        post_logout_redirect_uri: config.post_logout_redirect_uri.clone(),
        api_scope: config.api_scope.clone(),
        api_update_url: config
            .api_endpoint
            .join("updateUserInfo")
            .map_err(|_| StartError::Config("EDIT_PROFILE_API_ENDPOINT is not a base URL"))?,
        https,
        _cache_flush: cache_flush,
    });

    // The session cookie: HttpOnly, SameSite=Lax (sent on top-level navigations, never on
    // cross-site POSTs; the sign-in flow has its own cookie for that), host-only (no Domain) on
    // Path=/; over https `Secure` with the `__Host-` prefix, which makes browsers enforce all of
    // that (RFC 6265bis, "Cookie Name Prefixes"). Plain http is for loopback development, where
    // browsers do not allow the prefix.
    let (cookie_name, secure) = session_cookie(https);
    let session_layer = SessionManagerLayer::new(sessions)
        .with_name(cookie_name)
        .with_path("/")
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(secure)
        .with_expiry(Expiry::OnInactivity(time::Duration::seconds(
            i64::try_from(SESSION_INACTIVITY.as_secs()).unwrap_or(i64::MAX),
        )));

    let request_id = HeaderName::from_static("x-request-id");
    Ok(Router::new()
        .route("/", get(routes::home))
        .route("/auth/signin", get(routes::sign_in))
        .route("/auth/redirect", post(routes::redirect))
        .route("/auth/signout", post(routes::sign_out))
        .route("/users/id", get(routes::id_claims))
        .route("/users/gatedUpdateProfile", get(routes::profile))
        .route("/users/updateProfile", get(routes::update_profile_form))
        .route("/users/update", post(routes::update))
        .with_state(state)
        .layer(session_layer)
        .layer(axum::middleware::from_fn_with_state(
            Arc::new(SecurityHeaders::new(&config.authority)),
            security_headers::add,
        ))
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::new(request_id.clone(), MakeRequestUuid))
                .layer(
                    TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
                        let id = request
                            .headers()
                            .get("x-request-id")
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("");
                        // Never the headers or the query: they carry cookies and codes.
                        tracing::info_span!("request", method = %request.method(), path = request.uri().path(), request_id = id)
                    }),
                )
                .layer(PropagateRequestIdLayer::new(request_id)),
        ))
}

/// The session store chosen by configuration.
#[derive(Debug, Clone)]
enum AnyStore {
    Memory(MemoryStore),
    Redis(RedisSessionStore),
}

#[async_trait]
impl SessionStore for AnyStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        match self {
            Self::Memory(s) => s.create(record).await,
            Self::Redis(s) => s.create(record).await,
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        match self {
            Self::Memory(s) => s.save(record).await,
            Self::Redis(s) => s.save(record).await,
        }
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        match self {
            Self::Memory(s) => s.load(id).await,
            Self::Redis(s) => s.load(id).await,
        }
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        match self {
            Self::Memory(s) => s.delete(id).await,
            Self::Redis(s) => s.delete(id).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn over_https_the_session_cookie_has_the_host_prefix() {
        assert_eq!(session_cookie(true), ("__Host-ep.session", true));
        assert_eq!(session_cookie(false), ("ep.session", false));
    }
}
