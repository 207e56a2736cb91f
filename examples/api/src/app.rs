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
}

/// What the handlers share.
#[derive(Debug)]
pub struct AppState {
    pub(crate) msal: msal_lite::ConfidentialClient,
    pub(crate) graph: GraphClient,
    pub(crate) client_id: String,
    pub(crate) authorization_uri: Option<String>,
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
        .audience(config.client_id.clone())
        .audience(format!("api://{}", config.client_id))
        .build()
        .map_err(StartError::Validator)?;
    let authorization_uri = validator.authorization_endpoint().map(str::to_owned);

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
    bearer = bearer
        .challenge_client_id(&config.client_id)
        .map_err(StartError::Validator)?;
    if let Some(uri) = &authorization_uri {
        bearer = bearer
            .authorization_uri(uri)
            .map_err(StartError::Validator)?;
    }

    let credential = config.credential.load().map_err(StartError::Credential)?;
    let msal = msal_lite::ConfidentialClient::builder(
        config.client_id.clone(),
        authority.as_str(),
        credential,
    )
    // The API handles claims challenges (it passes them to its caller), so it declares `cp1`:
    // Graph then issues continuous-access-evaluation tokens and challenges on revocation.
    .client_capabilities(["cp1"])
    .build()
    .map_err(StartError::TokenClient)?;

    let state = Arc::new(AppState {
        msal,
        graph: GraphClient::new(&config.graph_endpoint).map_err(StartError::Graph)?,
        client_id: config.client_id.clone(),
        authorization_uri,
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
