//! Building the router: middleware, token client, Graph client.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use edit_profile_middleware::{BearerAuthLayer, MfaPolicy, Validator};
use http::{HeaderName, Request};
use tower::ServiceBuilder;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use url::Url;

use crate::config::{Config, MfaRequirement};
use crate::graph::GraphClient;
use crate::routes;

/// Largest request body accepted (the profile update is a few hundred bytes).
const MAX_BODY: usize = 16 * 1024;

/// Why the API could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The token validator could not be configured (e.g. OIDC discovery failed).
    #[error("token validation setup failed")]
    Validator(#[source] edit_profile_middleware::ConfigError),
    /// The route's policy would allow every token (an empty scope list, MFA without a proof).
    #[error("authorization policy")]
    Policy(#[source] edit_profile_middleware::PolicyError),
    /// The token client could not be built (e.g. an unreadable certificate).
    #[error("token client setup failed")]
    TokenClient(#[source] msal_lite::Error),
    /// The Graph client could not be built.
    #[error("graph client setup failed")]
    Graph(#[source] crate::graph::GraphError),
    /// The client credential could not be loaded.
    #[error("client credential")]
    Credential(#[source] crate::config::CredentialError),
    /// A configuration value is inconsistent.
    #[error("configuration: {0}")]
    Config(String),
    /// `REDIS_URL` is not a usable Redis URL.
    #[error("REDIS_URL is not a valid redis:// URL")]
    Redis(#[source] msal_lite::persistence::PersistenceError),
}

/// What the handlers share.
#[derive(Debug)]
pub struct AppState {
    pub(crate) msal: msal_lite::ConfidentialClient,
    pub(crate) graph: GraphClient,
    /// Re-sends cache partitions that could not reach Redis (stops when the state is dropped).
    pub(crate) _cache_flush: Option<msal_lite::persistence::FlushTask>,
}

/// How often partitions that missed Redis (an outage) are re-sent.
pub const CACHE_FLUSH_INTERVAL: Duration = Duration::from_secs(5);

/// The Redis key prefix of the API's on-behalf-of cache partitions (`obo/<assertion hash>`).
pub const OBO_CACHE_PREFIX: &str = "edit-profile:api:msal:";

/// Longest life of an on-behalf-of partition in Redis. The token endpoint also returns a refresh
/// token with OBO, which would keep a partition for its 90 days; but a partition is keyed by the
/// incoming token, which nobody presents after it expires, and Entra access tokens live at most
/// one day ("Configurable token lifetimes in the Microsoft identity platform").
pub const OBO_PARTITION_TTL: Duration = Duration::from_secs(24 * 3600);

/// A token cache shared through Redis and the task that re-sends what missed Redis.
#[non_exhaustive]
pub struct SharedTokenCache {
    /// The store to pass to msal-lite's `cache_store`.
    pub store: Arc<dyn msal_lite::persistence::CacheStore>,
    /// Re-sends partitions written during a Redis outage; dropping it stops it.
    pub flush_task: msal_lite::persistence::FlushTask,
}

impl std::fmt::Debug for SharedTokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedTokenCache").finish_non_exhaustive()
    }
}

/// The shared token cache: memory (L1) in front of Redis (L2), values sealed with `DATA_KEYS`.
/// An L2 outage never fails a request that L1 can serve; writes that missed L2 are re-sent by
/// the flush task (every [`CACHE_FLUSH_INTERVAL`], and after the next successful L2 call).
/// A partition lives in Redis until its last access token expires, or `partition_ttl` after its
/// last write when it holds a refresh token. `None` without `REDIS_URL`. Must be called inside
/// a Tokio runtime.
pub fn redis_cache_store(
    redis_url: Option<&str>,
    data_keys: Option<&crate::at_rest::DataKeys>,
    prefix: &str,
    partition_ttl: Duration,
) -> Result<Option<SharedTokenCache>, StartError> {
    use msal_lite::persistence::{Layered, MemoryStore, RedisStore};
    let Some(url) = redis_url else {
        return Ok(None);
    };
    let Some(keys) = data_keys else {
        // Config::from_vars refuses this already; a hand-built Config must not bypass it.
        return Err(StartError::Config(
            "DATA_KEYS is not set (required with REDIS_URL)".into(),
        ));
    };
    let l2 = RedisStore::open(url)
        .map_err(StartError::Redis)?
        .key_prefix(prefix)
        .refresh_token_ttl(partition_ttl)
        .codec(Arc::new(crate::at_rest::CacheCodec::new(keys.clone())));
    let layered = Layered::new(MemoryStore::new(), l2);
    let flush = layered.spawn_flush_task(CACHE_FLUSH_INTERVAL);
    Ok(Some(SharedTokenCache {
        store: Arc::new(layered),
        flush_task: flush,
    }))
}

/// The tenant-specific authority: `https://contoso.ciamlogin.com/` becomes
/// `https://contoso.ciamlogin.com/{tenant id}/` (the Node sample's OBO authority); an authority
/// that already names a tenant is kept.
pub fn tenant_authority(config: &Config) -> Result<Url, StartError> {
    if config.authority.path() == "/" {
        config
            .authority
            .join(&format!("{}/", config.tenant_id))
            .map_err(|_| StartError::Config("TENANT_ID does not fit in a URL path".into()))
    } else {
        Ok(config.authority.clone())
    }
}

/// Builds the API's router: OIDC discovery for the token validator happens here, once.
///
/// `POST /updateUserInfo` requires a token for this API (`aud` = the client id or `api://` URI)
/// with the configured scope and, unless disabled, MFA.
pub async fn app(config: &Config) -> Result<Router, StartError> {
    let authority = tenant_authority(config)?;
    let validator = Validator::builder()
        .discover(authority.as_str())
        .await
        .map_err(StartError::Validator)?
        .app_audiences(&config.client_id)
        .build()
        .map_err(StartError::Validator)?;

    let mut bearer = BearerAuthLayer::new(validator).require_scopes([config.scope.clone()]);
    match &config.mfa {
        MfaRequirement::ConditionalAccess => {
            tracing::info!(
                "MFA is enforced by the tenant's Conditional Access policy for this API"
            );
        }
        MfaRequirement::Amr => bearer = bearer.require_mfa(MfaPolicy::new().amr_mfa()),
        MfaRequirement::AuthContext(id) => {
            bearer = bearer.require_mfa(MfaPolicy::new().auth_context(id.clone()));
        }
    }
    // Claims challenges name the API's client id and the discovered authorization endpoint:
    // the layer's defaults (its first non-`api://` audience and the validator's discovery).
    // Refuse to start with a policy that would let every token through (for example an empty
    // SCOPE): the layer would fail closed, but a start-up error says why.
    let bearer = bearer.validate().map_err(StartError::Policy)?;

    let credential = config.credential.load().map_err(StartError::Credential)?;
    let mut msal = msal_lite::ConfidentialClient::builder(
        config.client_id.clone(),
        authority.as_str(),
        credential,
    )
    // The API handles claims challenges (it passes them to its caller), so it declares `cp1`:
    // Graph then issues continuous-access-evaluation tokens and challenges on revocation.
    .client_capabilities(["cp1"]);
    // With REDIS_URL, on-behalf-of tokens (partitioned by the hash of the incoming assertion)
    // are shared: a token obtained by one instance is a cache hit on every other.
    let mut cache_flush = None;
    if let Some(shared) = redis_cache_store(
        config.redis_url.as_deref(),
        config.data_keys.as_ref(),
        OBO_CACHE_PREFIX,
        OBO_PARTITION_TTL,
    )? {
        msal = msal.cache_store(shared.store);
        cache_flush = Some(shared.flush_task);
    }
    let msal = msal.build().map_err(StartError::TokenClient)?;

    let state = Arc::new(AppState {
        msal,
        graph: GraphClient::new(&config.graph_endpoint).map_err(StartError::Graph)?,
        _cache_flush: cache_flush,
    });
    Ok(router(state, bearer))
}

fn router(state: Arc<AppState>, bearer: BearerAuthLayer) -> Router {
    let request_id = HeaderName::from_static("x-request-id");
    Router::new()
        .route("/updateUserInfo", post(routes::update_user_info))
        // route_layer: unknown paths stay 404 instead of turning into 401s.
        .route_layer(bearer)
        .route("/healthz", get(routes::healthz))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(state)
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
                        // Never the headers: they carry the bearer token.
                        tracing::info_span!("request", method = %request.method(), path = request.uri().path(), request_id = id)
                    }),
                )
                .layer(PropagateRequestIdLayer::new(request_id))
                .layer(TimeoutLayer::with_status_code(
                    http::StatusCode::GATEWAY_TIMEOUT,
                    Duration::from_secs(30),
                )),
        )
}
