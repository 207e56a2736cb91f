//! The client credentials grant (RFC 6749 §4.4; Microsoft identity platform: "OAuth 2.0 client
//! credentials flow") with the app-token cache.

use std::borrow::Cow;
use std::sync::Arc;

use tracing::Instrument as _;

use crate::cache::{CachedToken, Lookup, app, persist};
use crate::client::ClientInner;
use crate::request::{TokenRequest, execute};
use crate::{
    AuthenticationResult, Authority, CorrelationId, Error, IntoAuthority, IntoScopes, Scopes,
    TokenSource,
};

/// Options for [`ConfidentialClient::acquire_token_for_client_with`](crate::ConfidentialClient::acquire_token_for_client_with).
///
/// ```no_run
/// # async fn demo(client: msal_lite::ConfidentialClient) -> Result<(), msal_lite::Error> {
/// use msal_lite::ClientCredentialsRequest;
///
/// let request = ClientCredentialsRequest::new(["https://graph.microsoft.com/.default"])
///     .force_refresh(true)
///     .tenant("b3c2a1f0-5d4e-4f6a-9b8c-7d6e5f4a3b2c");
/// let result = client.acquire_token_for_client_with(request).await?;
/// # let _ = result; Ok(()) }
/// ```
#[derive(Debug)]
#[must_use]
pub struct ClientCredentialsRequest {
    scopes: Result<Scopes, Error>,
    force_refresh: bool,
    claims: Option<String>,
    authority: Option<Result<Authority, Error>>,
    tenant: Option<Arc<str>>,
    correlation_id: Option<CorrelationId>,
}

impl ClientCredentialsRequest {
    /// A request for `scopes`, normally a single `{resource}/.default`. Invalid scopes are
    /// reported when the request is made.
    pub fn new(scopes: impl IntoScopes) -> Self {
        Self {
            scopes: scopes.into_scopes(),
            force_refresh: false,
            claims: None,
            authority: None,
            tenant: None,
            correlation_id: None,
        }
    }

    /// Skips the cache lookup and fetches a new token (which then replaces the cached one).
    pub fn force_refresh(mut self, force: bool) -> Self {
        self.force_refresh = force;
        self
    }

    /// Sends a `claims` request parameter (a claims challenge, OpenID Connect Core §5.5). A
    /// request with claims always goes to the network.
    pub fn claims(mut self, claims: impl Into<String>) -> Self {
        self.claims = Some(claims.into()).filter(|c| !c.trim().is_empty());
        self
    }

    /// Uses another authority for this request.
    pub fn authority(mut self, authority: impl IntoAuthority) -> Self {
        self.authority = Some(authority.into_authority());
        self
    }

    /// Uses another tenant of the client's (or this request's) authority.
    ///
    /// A cache hit for a tenant allocates nothing in the cache; pass the tenant as an
    /// `Arc<str>` kept by the caller (a clone is a reference-count increment) to make the whole
    /// call allocation-free, as with a prebuilt [`Scopes`].
    ///
    /// ```
    /// use std::sync::Arc;
    /// let tenant: Arc<str> = Arc::from("b3c2a1f0-5d4e-4f6a-9b8c-7d6e5f4a3b2c");
    /// let request = msal_lite::ClientCredentialsRequest::new(["api://app/.default"])
    ///     .tenant(Arc::clone(&tenant));
    /// # let _ = request;
    /// ```
    pub fn tenant(mut self, tenant: impl Into<Arc<str>>) -> Self {
        self.tenant = Some(tenant.into());
        self
    }

    /// Sends this `client-request-id` instead of a random one.
    pub fn correlation_id(mut self, id: CorrelationId) -> Self {
        self.correlation_id = Some(id);
        self
    }
}

type FlightResult = Result<AuthenticationResult, Error>;

/// Cache lookup, then (single-flight) network.
pub(crate) async fn acquire(
    inner: &Arc<ClientInner>,
    request: ClientCredentialsRequest,
) -> FlightResult {
    let scopes = request.scopes?;
    let margin = inner.refresh_margin_secs;
    let caller_id = request.correlation_id;
    // A hit for a per-request tenant of the client's authority: build the partition key on the
    // stack and look it up before parsing anything (a miss continues below and parses).
    if let (None, Some(tenant), Some(prefix), false, None) = (
        &request.authority,
        &request.tenant,
        &inner.tenant_partition_prefix,
        request.force_refresh,
        &request.claims,
    ) {
        let mut buf = [0u8; app::TENANT_KEY_CAPACITY];
        if let Some(partition) = app::tenant_partition_key(prefix, tenant, &mut buf) {
            let now = inner.clock.unix_seconds();
            if let Lookup::Fresh(token) = inner.cache.app.lookup(partition, &scopes, now, margin) {
                return Ok(AuthenticationResult::new(
                    token,
                    TokenSource::Cache,
                    caller_id,
                ));
            }
        }
    }
    let authority = match (request.authority, request.tenant) {
        (None, None) => None,
        (Some(authority), None) => Some(authority?),
        (None, Some(tenant)) => Some(inner.authority.with_tenant(&tenant)?),
        (Some(authority), Some(tenant)) => Some(authority?.with_tenant(&tenant)?),
    };
    let partition: Cow<'_, str> = match &authority {
        None => Cow::Borrowed(&inner.app_partition),
        Some(a) => Cow::Owned(app::partition_key(&inner.client_id, a).into()),
    };
    let authority = authority.unwrap_or_else(|| inner.authority.clone());

    let mut due = None;
    if !request.force_refresh && request.claims.is_none() {
        let now = inner.clock.unix_seconds();
        match inner.cache.app.lookup(&partition, &scopes, now, margin) {
            Lookup::Fresh(token) => {
                return Ok(AuthenticationResult::new(
                    token,
                    TokenSource::Cache,
                    caller_id,
                ));
            }
            Lookup::RefreshDue(token) => {
                // Past `refresh_in`, still valid: serve it now and refresh once in the
                // background (MSAL.NET and MSAL Node do the same). Without a Tokio runtime to
                // spawn on, the caller waits for the refresh as before.
                if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                    runtime.spawn(refresh_in_background(
                        inner.clone(),
                        authority,
                        partition.as_ref().into(),
                        scopes,
                    ));
                    return Ok(AuthenticationResult::new(
                        token,
                        TokenSource::Cache,
                        caller_id,
                    ));
                }
                due = Some(token);
            }
            Lookup::Miss => {}
        }
    }

    let correlation_id = caller_id.unwrap_or_else(CorrelationId::random);
    let outcome = if let Some(claims) = request.claims {
        // Deliberately not single-flight: each claims challenge is its own request.
        fetch(
            inner.clone(),
            authority,
            partition.into(),
            scopes,
            Some(claims),
            correlation_id,
        )
        .await
    } else {
        let key = format!("app|{partition}|{}", scopes.key());
        let force = request.force_refresh;
        let recheck = || {
            if force {
                return None;
            }
            cached_fresh(inner, &partition, &scopes, caller_id)
        };
        let start = || {
            fetch(
                inner.clone(),
                authority,
                partition.as_ref().into(),
                scopes.clone(),
                None,
                correlation_id,
            )
        };
        inner.app_flights.run(&key, recheck, start).await
    };
    match (outcome, due) {
        (Err(e), Some(token)) if e.is_retryable() => {
            // The token is past `refresh_in` but not expired: the server asked for an early
            // refresh so that an outage like this one does not hurt. Serve it.
            tracing::warn!(error = %e, "proactive token refresh failed; serving the cached token");
            Ok(AuthenticationResult::new(
                token,
                TokenSource::Cache,
                caller_id,
            ))
        }
        (outcome, _) => outcome,
    }
}

/// The cached token, when it is fresh (the single flight's re-check).
fn cached_fresh(
    inner: &ClientInner,
    partition: &str,
    scopes: &Scopes,
    caller_id: Option<CorrelationId>,
) -> Option<FlightResult> {
    let now = inner.clock.unix_seconds();
    match inner
        .cache
        .app
        .lookup(partition, scopes, now, inner.refresh_margin_secs)
    {
        Lookup::Fresh(token) => Some(Ok(AuthenticationResult::new(
            token,
            TokenSource::Cache,
            caller_id,
        ))),
        _ => None,
    }
}

/// The proactive refresh after `refresh_in`: joins (or starts) the single flight for this
/// token, so however many callers pass `refresh_in` at once one request goes out; a token
/// another flight already renewed is not fetched again. A failure is traced and the cached
/// token keeps being served until it is really due.
async fn refresh_in_background(
    inner: Arc<ClientInner>,
    authority: Authority,
    partition: Box<str>,
    scopes: Scopes,
) {
    let key = format!("app|{partition}|{}", scopes.key());
    let recheck = || cached_fresh(&inner, &partition, &scopes, None);
    let start = || {
        fetch(
            inner.clone(),
            authority,
            partition.clone(),
            scopes.clone(),
            None,
            CorrelationId::random(),
        )
    };
    if let Err(e) = inner.app_flights.run(&key, recheck, start).await {
        tracing::warn!(
            error = %e,
            "background token refresh after refresh_in failed; the cached token is still served"
        );
    }
}

/// One network acquisition, traced in its own span.
async fn fetch(
    inner: Arc<ClientInner>,
    authority: Authority,
    partition: Box<str>,
    scopes: Scopes,
    claims: Option<String>,
    correlation_id: CorrelationId,
) -> FlightResult {
    let span = tracing::debug_span!(
        "acquire_token_for_client",
        client_id = &*inner.client_id,
        authority = authority.as_str(),
        %correlation_id,
    );
    fetch_in_span(inner, authority, partition, scopes, claims, correlation_id)
        .instrument(span)
        .await
}

/// One network acquisition; stores the token in the app cache.
async fn fetch_in_span(
    inner: Arc<ClientInner>,
    authority: Authority,
    partition: Box<str>,
    scopes: Scopes,
    claims: Option<String>,
    correlation_id: CorrelationId,
) -> FlightResult {
    // Before the network, the shared store: another instance may hold a token (MSAL's "before
    // access"; Microsoft.Identity.Web's L2 for app tokens).
    if let (Some(store), None) = (&inner.cache_store, &claims) {
        let key = app::store_key(&inner.client_id, &authority);
        if let Some(stored) = persist::load(&**store, &key).await {
            let now = inner.clock.unix_seconds();
            for token in app::from_document(stored.document(), &inner.client_id, &authority, now) {
                let granted = token.scopes.clone();
                inner.cache.app.insert(&partition, &granted, token, now);
            }
            if let Lookup::Fresh(token) =
                inner
                    .cache
                    .app
                    .lookup(&partition, &scopes, now, inner.refresh_margin_secs)
            {
                return Ok(AuthenticationResult::new(
                    token,
                    TokenSource::Cache,
                    Some(correlation_id),
                ));
            }
        }
    }
    let http = inner.http.as_ref();
    let metadata = inner
        .metadata
        .get(http, &inner.retry, &authority, correlation_id)
        .await?;
    let mut request = TokenRequest::new(metadata.token_endpoint.clone());
    request.form.push("client_id", &inner.client_id);
    request.form.push("scope", scopes.as_str());
    request.form.push("grant_type", "client_credentials");
    let requested_at = inner.clock.unix_seconds();
    inner
        .credential
        .apply(
            &inner.client_id,
            &metadata.token_endpoint,
            requested_at,
            &mut request,
        )
        .await?;
    if let Some(claims) = inner.merged_claims(claims.as_deref())? {
        request.form.push("claims", &claims);
    }
    tracing::debug!(scopes = scopes.as_str(), "requesting an app token");
    let mut response = match execute(http, &inner.retry, request, correlation_id).await {
        Ok(response) => response,
        Err(e) => {
            if matches!(
                e,
                Error::Connect { .. } | Error::Tls { .. } | Error::HttpStatus { status: 404, .. }
            ) {
                // The endpoint may have moved: discover again next time.
                inner.metadata.invalidate(&authority);
            }
            return Err(e);
        }
    };
    let token = CachedToken::from_response(
        &mut response,
        &scopes,
        authority.tenant(),
        &inner.cache.tenant_ids,
        requested_at,
    );
    let now = inner.clock.unix_seconds();
    inner
        .cache
        .app
        .insert(&partition, &scopes, token.clone(), now);
    if let Some(store) = &inner.cache_store {
        let entries = app::to_schema(&token, &inner.client_id, &authority, now);
        let key = app::store_key(&inner.client_id, &authority);
        persist::save(&**store, &key, |doc| {
            app::apply(doc, entries.clone(), &inner.client_id, now);
        })
        .await;
    }
    Ok(AuthenticationResult::new(
        token,
        TokenSource::Network,
        Some(correlation_id),
    ))
}
