//! The on-behalf-of flow (Microsoft identity platform: "OAuth 2.0 On-Behalf-Of flow"; RFC 7523
//! §2.1 JWT bearer grant): a web API exchanges the token its caller sent for a token to a
//! downstream API, with a cache partitioned by the hash of the incoming token.
//!
//! Order of work for one call:
//!
//! 1. Memory lookup in the assertion's partition (allocation-free; the hash was computed when
//!    the [`UserAssertion`] was made). A hit returns at once.
//! 2. On a miss, with a [`CacheStore`](crate::persistence::CacheStore) configured: load the
//!    partition (another instance may have stored it) and look again.
//! 3. Single flight per (partition, scopes): redeem the partition's OBO refresh token when there
//!    is one (MSAL's long-running OBO); if the server refuses it, or there is none, exchange the
//!    assertion. Store the result in memory and in the store.

use std::borrow::Cow;
use std::sync::Arc;

use tracing::Instrument as _;

use crate::cache::obo::{self, EntryContext, RefreshSecret, StoredPartition};
use crate::cache::{CachedToken, Lookup, persist};
use crate::client::ClientInner;
use crate::request::{TokenRequest, execute};
use crate::response::TokenResponse;
use crate::schema::PartitionKey;
use crate::{
    AuthenticationResult, Authority, ClientAssertion, ConfidentialClient, CorrelationId, Error,
    IntoAuthority, IntoScopes, Scopes, TokenSource, UserAssertion,
};

/// The JWT bearer grant type (RFC 7523 §2.1), which the on-behalf-of flow uses.
const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// Added to every OBO and OBO-refresh request, as MSAL Node and MSAL Python do: `offline_access`
/// brings the refresh token that renews an expired OBO token without the assertion.
pub(super) const OIDC_SCOPES: &str = "openid profile offline_access";

/// Options for [`ConfidentialClient::acquire_token_on_behalf_of_with`].
///
/// ```no_run
/// # async fn demo(client: msal_lite::ConfidentialClient, incoming: &str) -> Result<(), msal_lite::Error> {
/// use msal_lite::{CorrelationId, OboRequest, UserAssertion};
///
/// let request = OboRequest::new(UserAssertion::new(incoming), ["User.ReadWrite"])
///     .claims(r#"{"access_token":{"nbf":{"essential":true,"value":"1700000000"}}}"#)
///     .correlation_id(CorrelationId::random());
/// let graph = client.acquire_token_on_behalf_of_with(request).await?;
/// # let _ = graph; Ok(()) }
/// ```
#[derive(Debug)]
#[must_use]
pub struct OboRequest {
    assertion: UserAssertion,
    scopes: Result<Scopes, Error>,
    force_refresh: bool,
    claims: Option<String>,
    authority: Option<Result<Authority, Error>>,
    tenant: Option<String>,
    correlation_id: Option<CorrelationId>,
    client_assertion: Option<ClientAssertion>,
}

impl OboRequest {
    /// A request to exchange `assertion` for a token for `scopes` (the downstream API's
    /// scopes, e.g. `User.ReadWrite` or `api://downstream/.default`). Invalid scopes are
    /// reported when the request is made.
    ///
    /// ```
    /// let request = msal_lite::OboRequest::new(msal_lite::UserAssertion::new("eyJ..."), ["User.Read"]);
    /// # let _ = request;
    /// ```
    pub fn new(assertion: UserAssertion, scopes: impl IntoScopes) -> Self {
        Self {
            assertion,
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
    /// # let a = msal_lite::UserAssertion::new("eyJ...");
    /// let request = msal_lite::OboRequest::new(a, ["User.Read"])
    ///     .client_assertion(msal_lite::ClientAssertion::new("eyJ..."));
    /// # let _ = request;
    /// ```
    pub fn client_assertion(mut self, assertion: ClientAssertion) -> Self {
        self.client_assertion = Some(assertion);
        self
    }

    /// Skips the cache and the refresh token: exchanges the assertion for a new token (which
    /// then replaces the cached one).
    ///
    /// ```
    /// # let a = msal_lite::UserAssertion::new("eyJ...");
    /// let request = msal_lite::OboRequest::new(a, ["User.Read"]).force_refresh(true);
    /// # let _ = request;
    /// ```
    pub fn force_refresh(mut self, force: bool) -> Self {
        self.force_refresh = force;
        self
    }

    /// Sends a `claims` request parameter: the JSON of a claims challenge from the downstream
    /// API (see [`ClaimsChallenge::claims`](crate::challenge::ClaimsChallenge::claims)) or from an
    /// `interaction_required` error. The client's capabilities are merged in. A request with
    /// claims skips the cache and the refresh token; its result is cached. Empty claims (`""`,
    /// whitespace, `{}`) are no claims, as in MSAL.
    ///
    /// ```
    /// # let a = msal_lite::UserAssertion::new("eyJ...");
    /// let request = msal_lite::OboRequest::new(a, ["User.Read"])
    ///     .claims(r#"{"access_token":{"acrs":{"essential":true,"value":"c1"}}}"#);
    /// # let _ = request;
    /// ```
    pub fn claims(mut self, claims: impl Into<String>) -> Self {
        self.claims = super::meaningful_claims(claims.into());
        self
    }

    /// Uses another authority for this request. Its tokens get their own memory partition and
    /// are not persisted.
    ///
    /// ```
    /// # let a = msal_lite::UserAssertion::new("eyJ...");
    /// let request = msal_lite::OboRequest::new(a, ["User.Read"])
    ///     .authority("https://login.microsoftonline.com/contoso.onmicrosoft.com");
    /// # let _ = request;
    /// ```
    pub fn authority(mut self, authority: impl IntoAuthority) -> Self {
        self.authority = Some(authority.into_authority());
        self
    }

    /// Uses another tenant of the client's (or this request's) authority. Like
    /// [`authority`](Self::authority), memory-only.
    ///
    /// ```
    /// # let a = msal_lite::UserAssertion::new("eyJ...");
    /// let request = msal_lite::OboRequest::new(a, ["User.Read"]).tenant("b3c2a1f0-5d4e-4f6a-9b8c-7d6e5f4a3b2c");
    /// # let _ = request;
    /// ```
    pub fn tenant(mut self, tenant: impl Into<String>) -> Self {
        self.tenant = Some(tenant.into());
        self
    }

    /// Sends this `client-request-id` instead of a random one.
    ///
    /// ```
    /// # let a = msal_lite::UserAssertion::new("eyJ...");
    /// let request = msal_lite::OboRequest::new(a, ["User.Read"])
    ///     .correlation_id(msal_lite::CorrelationId::random());
    /// # let _ = request;
    /// ```
    pub fn correlation_id(mut self, id: CorrelationId) -> Self {
        self.correlation_id = Some(id);
        self
    }
}

impl ConfidentialClient {
    /// Exchanges the token a web API received (`assertion`) for a token to a downstream API
    /// (`scopes`) on behalf of the same user: the on-behalf-of flow.
    ///
    /// A cached downstream token is served while valid. Otherwise the cached OBO refresh
    /// token (or the assertion) is redeemed only while the assertion's `exp` has not passed:
    /// an expired assertion is [`Error::AssertionExpired`] with no network call.
    ///
    /// - **Cache.** Tokens are cached per assertion (its SHA-256, MSAL's `AssertionHash`): the
    ///   same assertion and scopes again is a hit with no network call, while the token has
    ///   more than the refresh margin left. Pass a prebuilt [`Scopes`] to make hits
    ///   allocation-free. With a [`cache_store`](crate::ConfidentialClientBuilder::cache_store),
    ///   partitions are shared with other instances through it.
    /// - **Renewal.** An expired token is renewed with the OBO refresh token (the request asks
    ///   for `offline_access`), as MSAL's long-running OBO does; if the server refuses it, the
    ///   assertion is exchanged again.
    /// - **Tenant.** With a `common` or `organizations` authority the request goes to the
    ///   assertion's tenant (its `tid` claim), as the OBO flow requires a tenant endpoint. The
    ///   claim is read without verifying the signature: validate the incoming token first
    ///   (signature, issuer, audience, expiry), as every API must before using it.
    /// - **Errors.** When the user must do more (Conditional Access demands MFA, consent is
    ///   missing), the error is [`interaction required`](Error::is_interaction_required) and
    ///   carries the server's [`claims`](Error::claims): return them to your caller as a
    ///   claims challenge (`401`, `WWW-Authenticate: Bearer error="insufficient_claims",
    ///   claims="<base64>"`), since an API cannot prompt the user.
    ///
    /// ```no_run
    /// # async fn demo(client: msal_lite::ConfidentialClient, bearer: &str) -> Result<(), msal_lite::Error> {
    /// use msal_lite::UserAssertion;
    ///
    /// // `bearer` is the validated token from the caller's `Authorization` header.
    /// match client.acquire_token_on_behalf_of(UserAssertion::new(bearer), ["User.ReadWrite"]).await {
    ///     Ok(graph) => {
    ///         let authorization = format!("Bearer {}", graph.access_token().secret());
    ///         # let _ = authorization;
    ///     }
    ///     Err(e) if e.is_interaction_required() => {
    ///         // Send e.claims() back to the caller in a WWW-Authenticate claims challenge.
    ///     }
    ///     Err(e) => return Err(e),
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn acquire_token_on_behalf_of(
        &self,
        assertion: UserAssertion,
        scopes: impl IntoScopes,
    ) -> Result<AuthenticationResult, Error> {
        self.acquire_token_on_behalf_of_with(OboRequest::new(assertion, scopes))
            .await
    }

    /// [`acquire_token_on_behalf_of`](Self::acquire_token_on_behalf_of) with options: force
    /// refresh, claims (a downstream API's claims challenge), another authority or tenant, a
    /// caller-chosen correlation id.
    ///
    /// ```no_run
    /// # async fn demo(client: msal_lite::ConfidentialClient, bearer: &str, www_authenticate: http::HeaderMap) -> Result<(), msal_lite::Error> {
    /// use msal_lite::challenge::ClaimsChallenge;
    /// use msal_lite::{OboRequest, UserAssertion};
    ///
    /// // Graph answered 401 with a claims challenge (continuous access evaluation):
    /// if let Some(challenge) = ClaimsChallenge::from_headers(&www_authenticate) {
    ///     let request = OboRequest::new(UserAssertion::new(bearer), ["User.ReadWrite"])
    ///         .claims(challenge.claims());
    ///     let fresh = client.acquire_token_on_behalf_of_with(request).await?;
    ///     # let _ = fresh;
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn acquire_token_on_behalf_of_with(
        &self,
        request: OboRequest,
    ) -> Result<AuthenticationResult, Error> {
        acquire(&self.inner, request).await
    }
}

pub(super) type FlightResult = Result<AuthenticationResult, Error>;

/// Everything one network acquisition needs (owned: it may run in a shared flight).
pub(super) struct Acquisition {
    pub(super) inner: Arc<ClientInner>,
    pub(super) assertion: UserAssertion,
    /// A per-request authority, when one was given (memory-only partition).
    pub(super) authority_override: Option<Authority>,
    pub(super) partition: Box<str>,
    pub(super) scopes: Scopes,
    pub(super) claims: Option<String>,
    /// Skip the refresh token (force refresh, claims).
    pub(super) use_refresh_token: bool,
    /// Started by [`ConfidentialClient::initiate_long_running_on_behalf_of`]: the partition
    /// (named by the session key) is kept past the assertion's expiry.
    pub(super) long_running: bool,
    /// The request's own client assertion, instead of the client's credential.
    pub(super) client_assertion: Option<ClientAssertion>,
    pub(super) correlation_id: CorrelationId,
}

/// Cache lookup, then the store, then (single-flight) network. The miss path is boxed so the
/// future a hit builds and polls stays small.
async fn acquire(inner: &Arc<ClientInner>, request: OboRequest) -> FlightResult {
    match lookup(inner, request) {
        Step::Done(result) => result,
        Step::Miss(miss) => Box::pin(miss.run()).await,
    }
}

enum Step {
    Done(FlightResult),
    Miss(Box<Miss>),
}

/// What the miss path needs, owned.
struct Miss {
    inner: Arc<ClientInner>,
    assertion: UserAssertion,
    authority_override: Option<Authority>,
    partition: Box<str>,
    scopes: Scopes,
    claims: Option<String>,
    force_refresh: bool,
    caller_id: Option<CorrelationId>,
    client_assertion: Option<ClientAssertion>,
    /// A cached token past `refresh_in`, served if the refresh fails transiently.
    due: Option<Arc<CachedToken>>,
}

/// Validation and the memory lookup: no allocation and no await on a hit.
fn lookup(inner: &Arc<ClientInner>, request: OboRequest) -> Step {
    let scopes = match request.scopes {
        Ok(scopes) => scopes,
        Err(e) => return Step::Done(Err(e)),
    };
    let assertion = request.assertion;
    if assertion.secret().trim().is_empty() {
        return Step::Done(Err(Error::config("the user assertion is empty")));
    }
    let authority_override = match (request.authority, request.tenant) {
        (None, None) => Ok(None),
        (Some(authority), None) => authority.map(Some),
        (None, Some(tenant)) => inner.authority.with_tenant(&tenant).map(Some),
        (Some(authority), Some(tenant)) => authority.and_then(|a| a.with_tenant(&tenant)).map(Some),
    };
    let authority_override = match authority_override {
        Ok(a) => a,
        Err(e) => return Step::Done(Err(e)),
    };
    let partition: Cow<'_, str> = match &authority_override {
        None => Cow::Borrowed(assertion.hash()),
        Some(a) => Cow::Owned(format!("{}|{}", assertion.hash(), a.as_str())),
    };
    let caller_id = request.correlation_id;
    let mut due = None;
    if !request.force_refresh && request.claims.is_none() {
        let now = inner.clock.unix_seconds();
        match inner
            .obo
            .tokens
            .lookup(&partition, &scopes, now, inner.refresh_margin_secs)
        {
            Lookup::Fresh(token) => {
                return Step::Done(Ok(AuthenticationResult::new(
                    token,
                    TokenSource::Cache,
                    caller_id,
                )));
            }
            Lookup::RefreshDue(token) => due = Some(token),
            Lookup::Miss => {}
        }
    }
    let partition: Box<str> = partition.into();
    Step::Miss(Box::new(Miss {
        inner: inner.clone(),
        assertion,
        authority_override,
        partition,
        scopes,
        claims: request.claims,
        force_refresh: request.force_refresh,
        caller_id,
        client_assertion: request.client_assertion,
        due,
    }))
}

impl Miss {
    async fn run(self) -> FlightResult {
        let Miss {
            inner,
            assertion,
            authority_override,
            partition,
            scopes,
            claims,
            force_refresh,
            caller_id,
            client_assertion,
            mut due,
        } = self;
        let inner = &inner;
        let margin = inner.refresh_margin_secs;
        let bypass_cache = force_refresh || claims.is_some();
        let cached = |token| {
            Ok(AuthenticationResult::new(
                token,
                TokenSource::Cache,
                caller_id,
            ))
        };

        // Before access: another instance (or an earlier run) may have stored this partition,
        // or a newer token in it than this instance's memory holds, so read the shared store
        // past any local layer (`reload`). A claims request needs neither its tokens nor its
        // refresh token.
        if let (Some(store), None, None) = (&inner.cache_store, &authority_override, &claims) {
            let key = PartitionKey::obo(assertion.hash());
            if let Some(stored) = persist::reload(store.as_ref(), &key).await {
                let deadline = assertion.identity().and_then(|i| i.exp).unwrap_or(0);
                let stored = StoredPartition {
                    document: stored.document(),
                    client_id: &inner.client_id,
                    environment: inner.authority.environment(),
                    assertion_hash: assertion.hash(),
                    deadline,
                };
                let now = inner.clock.unix_seconds();
                inner.obo.import(&partition, &stored, now);
                if !bypass_cache && due.is_none() {
                    match inner.obo.tokens.lookup(&partition, &scopes, now, margin) {
                        Lookup::Fresh(token) => return cached(token),
                        Lookup::RefreshDue(token) => due = Some(token),
                        Lookup::Miss => {}
                    }
                }
            }
        }

        let correlation_id = caller_id.unwrap_or_else(CorrelationId::random);
        let outcome = if let Some(claims) = claims {
            // Deliberately not single-flight: each claims challenge is its own request.
            fetch(Acquisition {
                inner: inner.clone(),
                assertion: assertion.clone(),
                authority_override,
                partition,
                scopes,
                claims: Some(claims),
                use_refresh_token: false,
                long_running: false,
                client_assertion,
                correlation_id,
            })
            .await
        } else {
            let key = format!("obo|{partition}|{}", scopes.key());
            let recheck = || {
                if force_refresh {
                    return None;
                }
                let now = inner.clock.unix_seconds();
                match inner.obo.tokens.lookup(&partition, &scopes, now, margin) {
                    Lookup::Fresh(token) => Some(cached(token)),
                    _ => None,
                }
            };
            let start = || {
                fetch(Acquisition {
                    inner: inner.clone(),
                    assertion: assertion.clone(),
                    authority_override,
                    partition: partition.clone(),
                    scopes: scopes.clone(),
                    claims: None,
                    use_refresh_token: !force_refresh,
                    long_running: false,
                    client_assertion,
                    correlation_id,
                })
            };
            inner.obo.flights.run(&key, recheck, start).await
        };
        match (outcome, due) {
            (Err(e), Some(token)) if e.is_retryable() => {
                // Past `refresh_in` but not expired: the server asked for an early refresh so
                // that an outage like this one does not hurt. Serve the cached token.
                tracing::warn!(
                    error = %e,
                    "proactive on-behalf-of refresh failed; serving the cached token"
                );
                cached(token)
            }
            (outcome, _) => outcome,
        }
    }
}

/// One network acquisition, traced in its own span.
pub(super) async fn fetch(job: Acquisition) -> FlightResult {
    let span = tracing::debug_span!(
        "acquire_token_on_behalf_of",
        client_id = &*job.inner.client_id,
        %job.correlation_id,
    );
    // One acquisition per fleet sharing the store (not for claims, forced refreshes or
    // another authority's tokens, which are not stored).
    let fleet = job.claims.is_none() && job.use_refresh_token && job.authority_override.is_none();
    if let (true, Some(store), Some(ttl)) =
        (fleet, job.inner.cache_store.clone(), job.inner.lease_ttl)
    {
        let inner = job.inner.clone();
        let (assertion, partition, scopes) = (
            job.assertion.clone(),
            job.partition.clone(),
            job.scopes.clone(),
        );
        let caller_id = job.correlation_id;
        let take = |stored: &crate::persistence::Partition| {
            let now = inner.clock.unix_seconds();
            let stored = StoredPartition {
                document: stored.document(),
                client_id: &inner.client_id,
                environment: inner.authority.environment(),
                assertion_hash: assertion.hash(),
                deadline: assertion.identity().and_then(|i| i.exp).unwrap_or(0),
            };
            inner.obo.import(&partition, &stored, now);
            match inner
                .obo
                .tokens
                .lookup(&partition, &scopes, now, inner.refresh_margin_secs)
            {
                Lookup::Fresh(token) => Some(Ok(AuthenticationResult::new(
                    token,
                    TokenSource::Cache,
                    Some(caller_id),
                ))),
                _ => None,
            }
        };
        let key = PartitionKey::obo(assertion.hash());
        let flight = scopes.key().to_owned();
        return crate::cache::single_flight::with_lease(&*store, ttl, &key, &flight, take, |_| {
            fetch_in_span(job)
        })
        .instrument(span)
        .await;
    }
    fetch_in_span(job).instrument(span).await
}

/// The authority to send the request to: the override or the client's, with `common` and
/// `organizations` replaced by the assertion's tenant (the OBO flow needs a tenant endpoint;
/// MSAL.NET logs an error for such authorities, msal-lite routes them).
fn effective_authority(job: &Acquisition) -> Result<Authority, Error> {
    let authority = job
        .authority_override
        .clone()
        .unwrap_or_else(|| job.inner.authority.clone());
    let multi_tenant = authority.tenant().is_some_and(|t| {
        t.eq_ignore_ascii_case("common") || t.eq_ignore_ascii_case("organizations")
    });
    if !multi_tenant {
        return Ok(authority);
    }
    match job.assertion.identity().and_then(|i| i.tid) {
        Some(tid) => authority.with_tenant(&tid),
        None => {
            tracing::warn!(
                "the assertion has no tid claim; sending the on-behalf-of request to a multi-tenant authority"
            );
            Ok(authority)
        }
    }
}

async fn fetch_in_span(job: Acquisition) -> FlightResult {
    let inner = &job.inner;
    // Only while the caller's token is valid: an API that forgot to check `exp` must not keep
    // getting downstream tokens (from the OBO refresh token) for a caller Entra would refuse.
    // MSAL Node never redeems OBO refresh tokens; MSAL.NET only in its long-running OBO API.
    if let Some(exp) = job.assertion.identity().and_then(|i| i.exp)
        && exp <= inner.clock.unix_seconds()
    {
        return Err(Error::AssertionExpired);
    }
    let authority = effective_authority(&job)?;
    let http = inner.http.as_ref();
    let metadata = inner
        .metadata
        .get(http, &inner.retry, &authority, job.correlation_id)
        .await?;
    let wire_scopes = Scopes::new([job.scopes.as_str(), OIDC_SCOPES])?;

    if job.use_refresh_token
        && let Some(rt) = inner.obo.refresh_token(&job.partition)
    {
        let mut request = TokenRequest::new(metadata.token_endpoint.clone());
        request.form.push("client_id", &inner.client_id);
        request.form.push("scope", wire_scopes.as_str());
        request.form.push("grant_type", "refresh_token");
        request.form.push("refresh_token", rt.secret());
        request.form.push("client_info", "1");
        let requested_at = inner.clock.unix_seconds();
        match send(&job, &authority, &metadata.token_endpoint, request, None).await {
            Ok(response) => {
                tracing::debug!("renewed an on-behalf-of token with its refresh token");
                return store(&job, &authority, response, requested_at).await;
            }
            Err(e) if refused(&e) => {
                // Expired, revoked or unknown refresh token: the assertion may still be good.
                tracing::debug!(error = %e, "on-behalf-of refresh token refused; exchanging the assertion");
                inner.obo.forget_refresh_token(&job.partition, &rt);
            }
            Err(e) => return Err(e),
        }
    }

    let mut request = TokenRequest::new(metadata.token_endpoint.clone());
    request.form.push("client_id", &inner.client_id);
    request.form.push("scope", wire_scopes.as_str());
    request.form.push("grant_type", JWT_BEARER);
    request.form.push("client_info", "1");
    request.form.push("requested_token_use", "on_behalf_of");
    request.form.push("assertion", job.assertion.secret());
    let requested_at = inner.clock.unix_seconds();
    tracing::debug!(
        scopes = job.scopes.as_str(),
        "exchanging an assertion on behalf of its user"
    );
    let response = send(
        &job,
        &authority,
        &metadata.token_endpoint,
        request,
        job.claims.as_deref(),
    )
    .await?;
    store(&job, &authority, response, requested_at).await
}

/// The server refused the refresh token itself (as opposed to being unavailable).
fn refused(e: &Error) -> bool {
    e.server_error().is_some_and(|s| !s.is_retryable())
}

/// Adds the credential and `claims` (merged with the client's capabilities; sent even without
/// claims when capabilities are declared, as msal-js does), then sends.
async fn send(
    job: &Acquisition,
    authority: &Authority,
    token_endpoint: &str,
    request: TokenRequest,
    claims: Option<&str>,
) -> Result<TokenResponse, Error> {
    send_for(
        &job.inner,
        job.client_assertion.as_ref(),
        job.correlation_id,
        authority,
        token_endpoint,
        request,
        claims,
    )
    .await
}

/// [`send`] without an [`Acquisition`] (the long-running process has no assertion).
pub(super) async fn send_for(
    inner: &ClientInner,
    client_assertion: Option<&ClientAssertion>,
    correlation_id: CorrelationId,
    authority: &Authority,
    token_endpoint: &str,
    mut request: TokenRequest,
    claims: Option<&str>,
) -> Result<TokenResponse, Error> {
    super::apply_credential(
        inner,
        client_assertion,
        token_endpoint,
        inner.clock.unix_seconds(),
        &mut request,
    )
    .await?;
    if let Some(claims) = inner.merged_claims(claims)? {
        request.form.push("claims", &claims);
    }
    match execute(inner.http.as_ref(), &inner.retry, request, correlation_id).await {
        Ok(response) => Ok(response),
        Err(e) => {
            if matches!(
                e,
                Error::Connect { .. } | Error::Tls { .. } | Error::HttpStatus { status: 404, .. }
            ) {
                // The endpoint may have moved: discover again next time.
                inner.metadata.invalidate(authority);
            }
            Err(e)
        }
    }
}

/// Stores a token response in memory and ("after access") in the cache store.
async fn store(
    job: &Acquisition,
    authority: &Authority,
    response: TokenResponse,
    requested_at: u64,
) -> FlightResult {
    let identity = job.assertion.identity().unwrap_or_default();
    let target = StoreTarget {
        partition: &job.partition,
        scopes: &job.scopes,
        tid: identity.tid.as_deref(),
        home_account_id: identity.home_account_id(),
        deadline: if job.long_running {
            LONG_RUNNING
        } else {
            identity.exp.unwrap_or(0)
        },
        persist: job.authority_override.is_none(),
    };
    store_for(
        &job.inner,
        &target,
        authority,
        response,
        requested_at,
        job.correlation_id,
    )
    .await
}

/// The deadline of a long-running session's partition: never swept, since its refresh token
/// outlives the assertion; [`ConfidentialClient::stop_long_running_process`] removes it.
pub(super) const LONG_RUNNING: u64 = u64::MAX;

/// Where a token response goes.
pub(super) struct StoreTarget<'a> {
    /// The memory partition, which is also the persisted partition's `user_assertion_hash`
    /// (the assertion hash, or a long-running session key).
    pub(super) partition: &'a str,
    pub(super) scopes: &'a Scopes,
    /// The user's tenant, when known (the token's `tid` claim wins).
    pub(super) tid: Option<&'a str>,
    pub(super) home_account_id: Option<String>,
    /// See [`OboCache::store`](crate::cache::obo::OboCache::store).
    pub(super) deadline: u64,
    /// Whether to write through to the cache store (not for a per-request authority).
    pub(super) persist: bool,
}

/// [`store`] without an [`Acquisition`].
pub(super) async fn store_for(
    inner: &ClientInner,
    target: &StoreTarget<'_>,
    authority: &Authority,
    mut response: TokenResponse,
    requested_at: u64,
    correlation_id: CorrelationId,
) -> FlightResult {
    let token = CachedToken::from_response(
        &mut response,
        target.scopes,
        target.tid.or_else(|| authority.tenant()),
        &inner.cache.tenant_ids,
        requested_at,
    );
    let refresh_token = response
        .refresh_token
        .filter(|rt| !rt.is_empty())
        .map(RefreshSecret::new);
    let now = inner.clock.unix_seconds();
    inner.obo.store(
        target.partition,
        target.scopes,
        token.clone(),
        refresh_token.clone(),
        target.deadline,
        now,
    );
    if let (Some(cache_store), true) = (&inner.cache_store, target.persist) {
        let cx = EntryContext {
            client_id: &inner.client_id,
            environment: inner.authority.environment(),
            assertion_hash: target.partition,
            home_account_id: target.home_account_id.as_deref(),
            cached_at: requested_at,
            requested: Some(target.scopes),
        };
        let at = obo::to_schema(&token, &cx);
        let rt = refresh_token
            .as_ref()
            .map(|rt| obo::refresh_to_schema(rt, &cx));
        let key = PartitionKey::obo(target.partition);
        persist::save(cache_store.as_ref(), &key, |doc| {
            obo::apply(doc, &at, rt.as_ref(), now);
        })
        .await;
    }
    Ok(AuthenticationResult::new(
        token,
        TokenSource::Network,
        Some(correlation_id),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_debug_never_shows_the_assertion() {
        let r = OboRequest::new(UserAssertion::new("eyJ.secret.sig"), ["a"]).claims("{}");
        let debug = format!("{r:?}");
        assert!(!debug.contains("secret"), "{debug}");
        assert!(debug.contains("[redacted]"), "{debug}");
    }

    #[test]
    fn wire_scopes_add_oidc_scopes_once() {
        let s = Scopes::new(["User.ReadWrite openid", OIDC_SCOPES]).unwrap();
        assert_eq!(s.as_str(), "User.ReadWrite openid profile offline_access");
    }
}
