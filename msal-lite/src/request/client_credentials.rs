//! The client credentials grant (RFC 6749 §4.4; Microsoft identity platform: "OAuth 2.0 client
//! credentials flow") with the app-token cache.

use std::borrow::Cow;
use std::sync::Arc;

use tracing::Instrument as _;

use crate::cache::{CachedToken, Lookup, app, persist};
use crate::client::ClientInner;
use crate::request::background_refresh::{Attempt, trace_skipped};
use crate::request::{TokenRequest, execute};
use crate::{
    AuthenticationResult, Authority, ClientAssertion, CorrelationId, Error, IntoAuthority,
    IntoScopes, Scopes, TokenSource,
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
    client_assertion: Option<ClientAssertion>,
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
            client_assertion: None,
        }
    }

    /// Authenticates this request with `assertion` (a signed JWT, e.g. a federated credential
    /// fetched for this call) instead of the client's credential: msal-node's per-request
    /// `clientAssertion`, MSAL.NET `WithClientAssertion`. The token is cached as any other.
    ///
    /// ```
    /// let request = msal_lite::ClientCredentialsRequest::new(["api://x/.default"])
    ///     .client_assertion(msal_lite::ClientAssertion::new("eyJ..."));
    /// # let _ = request;
    /// ```
    pub fn client_assertion(mut self, assertion: ClientAssertion) -> Self {
        self.client_assertion = Some(assertion);
        self
    }

    /// Skips the cache lookup and fetches a new token (which then replaces the cached one).
    pub fn force_refresh(mut self, force: bool) -> Self {
        self.force_refresh = force;
        self
    }

    /// Sends a `claims` request parameter (a claims challenge, OpenID Connect Core §5.5). A
    /// request with claims always goes to the network. Empty claims (`""`, whitespace, `{}`)
    /// are no claims, as in MSAL: the cache is used and nothing is sent.
    pub fn claims(mut self, claims: impl Into<String>) -> Self {
        self.claims = super::meaningful_claims(claims.into());
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
                // After a failed background refresh, none starts again until its back-off
                // has passed (`background_refresh.rs`).
                if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                    let key = format!("app|{partition}|{}", scopes.key());
                    match Attempt::start(inner, &key) {
                        Ok(attempt) => {
                            runtime.spawn(refresh_in_background(
                                attempt,
                                authority,
                                partition.as_ref().into(),
                                scopes,
                            ));
                        }
                        Err(why) => trace_skipped(why),
                    }
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
            request.client_assertion,
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
                request.client_assertion,
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
/// token, so a foreground caller whose token is really due shares its request; a token
/// another flight already renewed is not fetched again. A failure is traced, starts the
/// back-off, and the cached token keeps being served until it is really due.
async fn refresh_in_background(
    attempt: Attempt,
    authority: Authority,
    partition: Box<str>,
    scopes: Scopes,
) {
    let inner = attempt.inner().clone();
    let recheck = || cached_fresh(&inner, &partition, &scopes, None);
    let start = || {
        fetch(
            inner.clone(),
            authority,
            partition.clone(),
            scopes.clone(),
            None,
            // The client's own credential: a per-request assertion may have expired by now.
            None,
            CorrelationId::random(),
        )
    };
    let outcome = inner.app_flights.run(attempt.key(), recheck, start).await;
    attempt.finish(outcome.as_ref().map(|_| ()));
}

/// One network acquisition, traced in its own span.
async fn fetch(
    inner: Arc<ClientInner>,
    authority: Authority,
    partition: Box<str>,
    scopes: Scopes,
    claims: Option<String>,
    assertion: Option<ClientAssertion>,
    correlation_id: CorrelationId,
) -> FlightResult {
    let span = tracing::debug_span!(
        "acquire_token_for_client",
        client_id = &*inner.client_id,
        authority = authority.as_str(),
        %correlation_id,
    );
    // One acquisition per fleet sharing the store (claims requests are each their own).
    if let (Some(store), Some(ttl), None) = (inner.cache_store.clone(), inner.lease_ttl, &claims) {
        let key = app::store_key(&inner.client_id, &authority);
        let take = |stored: &crate::persistence::Partition| {
            take_stored(
                &inner,
                &authority,
                &partition,
                &scopes,
                stored,
                correlation_id,
            )
        };
        let body = |store_read: bool| {
            fetch_in_span(
                inner.clone(),
                authority.clone(),
                partition.clone(),
                scopes.clone(),
                (None, assertion.clone()),
                correlation_id,
                !store_read,
            )
        };
        return crate::cache::single_flight::with_lease(
            &*store,
            ttl,
            &key,
            scopes.key(),
            take,
            body,
        )
        .instrument(span)
        .await;
    }
    fetch_in_span(
        inner,
        authority,
        partition,
        scopes,
        (claims, assertion),
        correlation_id,
        true,
    )
    .instrument(span)
    .await
}

/// Takes the app tokens of a stored partition into memory; the result when the wanted token
/// is among them and fresh.
fn take_stored(
    inner: &ClientInner,
    authority: &Authority,
    partition: &str,
    scopes: &Scopes,
    stored: &crate::persistence::Partition,
    correlation_id: CorrelationId,
) -> Option<FlightResult> {
    let now = inner.clock.unix_seconds();
    for token in app::from_document(stored.document(), &inner.client_id, authority, now) {
        let granted = token.scopes.clone();
        inner.cache.app.insert(partition, &granted, token, now);
    }
    match inner
        .cache
        .app
        .lookup(partition, scopes, now, inner.refresh_margin_secs)
    {
        Lookup::Fresh(token) => Some(Ok(AuthenticationResult::new(
            token,
            TokenSource::Cache,
            Some(correlation_id),
        ))),
        _ => None,
    }
}

/// One network acquisition; stores the token in the app cache. `check_store`: false when the
/// caller has just read the store (with the fleet's lease).
async fn fetch_in_span(
    inner: Arc<ClientInner>,
    authority: Authority,
    partition: Box<str>,
    scopes: Scopes,
    (claims, assertion): (Option<String>, Option<ClientAssertion>),
    correlation_id: CorrelationId,
    check_store: bool,
) -> FlightResult {
    // Before the network, the shared store: another instance may hold a token (MSAL's "before
    // access"; Microsoft.Identity.Web's L2 for app tokens).
    if let (Some(store), None, true) = (&inner.cache_store, &claims, check_store) {
        let key = app::store_key(&inner.client_id, &authority);
        if let Some(stored) = persist::load(&**store, &key).await
            && let Some(done) = take_stored(
                &inner,
                &authority,
                &partition,
                &scopes,
                &stored,
                correlation_id,
            )
        {
            return done;
        }
    }
    let http = inner.http.as_ref();
    let metadata = inner
        .metadata
        .get(http, &inner.retry, &authority, correlation_id)
        .await?;
    let (token_endpoint, telemetry) =
        crate::region::client_credentials_endpoint(&inner, &authority, &metadata, claims.is_some());
    let mut request = TokenRequest::new(token_endpoint.clone());
    request.telemetry = Some(telemetry);
    request.form.push("client_id", &inner.client_id);
    request.form.push("scope", scopes.as_str());
    request.form.push("grant_type", "client_credentials");
    let requested_at = inner.clock.unix_seconds();
    super::apply_credential(
        &inner,
        assertion.as_ref(),
        &token_endpoint,
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
