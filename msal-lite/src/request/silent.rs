//! Silent acquisition for a signed-in user (the user-token cache, then the refresh token grant,
//! RFC 6749 §6), account lookups, and the token request shared with the code redemption.

use std::sync::Arc;

use serde::Deserialize;
use tracing::Instrument as _;

use super::auth_code::with_oidc_scopes;
use crate::account::Account;
use crate::cache::single_flight::SingleFlight;
use crate::cache::user::{
    Acquired, DEFAULT_BYTE_BUDGET, Owner, RefreshSecret, UserCache, apply_to_document,
    partition_from_document,
};
use crate::cache::{CachedToken, Lookup, persist};
use crate::client::ClientInner;
use crate::http::{CacheOutcome, RequestTelemetry, api_id};
use crate::http::{HttpClient, RetryPolicy, send_with_retry};
use crate::id_token::{self, Expected, JwksCache};
use crate::request::TokenRequest;
use crate::request::background_refresh::{Attempt, trace_skipped};
use crate::response::{TokenResponse, parse_json};
use crate::schema::{ClientInfo, PartitionKey};
use crate::{
    AuthenticationResult, ConfidentialClient, CorrelationId, Error, IntoScopes, Scopes, TokenSource,
};

type FlightResult = Result<AuthenticationResult, Error>;

/// Everything the user flows keep per client: the user partitions, their single flights and
/// the authority's signing keys.
pub(crate) struct UserState {
    pub(crate) cache: UserCache,
    flights: Arc<SingleFlight<FlightResult>>,
    pub(crate) jwks: JwksCache,
}

impl UserState {
    pub(crate) fn new(byte_budget: Option<usize>) -> Self {
        Self {
            cache: UserCache::new(byte_budget.unwrap_or(DEFAULT_BYTE_BUDGET)),
            flights: SingleFlight::new(),
            jwks: JwksCache::default(),
        }
    }
}

/// Options for [`ConfidentialClient::acquire_token_silent_with`].
///
/// ```no_run
/// # async fn demo(client: msal_lite::ConfidentialClient, account: msal_lite::Account) -> Result<(), msal_lite::Error> {
/// use msal_lite::SilentRequest;
///
/// let request = SilentRequest::new(["User.Read"]).force_refresh(true);
/// let fresh = client.acquire_token_silent_with(request, &account).await?;
/// # let _ = fresh; Ok(()) }
/// ```
#[derive(Debug)]
#[must_use]
pub struct SilentRequest {
    scopes: Result<Scopes, Error>,
    force_refresh: bool,
    claims: Option<String>,
    correlation_id: Option<CorrelationId>,
}

impl SilentRequest {
    /// A request for `scopes` (the OpenID Connect scopes are added on the wire).
    pub fn new(scopes: impl IntoScopes) -> Self {
        Self {
            scopes: scopes.into_scopes(),
            force_refresh: false,
            claims: None,
            correlation_id: None,
        }
    }

    /// Skips the access-token cache and redeems the refresh token.
    pub fn force_refresh(mut self, force: bool) -> Self {
        self.force_refresh = force;
        self
    }

    /// Sends a claims request (e.g. from a `WWW-Authenticate` claims challenge); skips the
    /// access-token cache, as MSAL does. Empty claims (`""`, whitespace, `{}`) are no claims,
    /// as in MSAL: the cache is used and nothing is sent.
    pub fn claims(mut self, claims: impl Into<String>) -> Self {
        self.claims = super::meaningful_claims(claims.into());
        self
    }

    /// Sends this `client-request-id` instead of a random one.
    pub fn correlation_id(mut self, id: CorrelationId) -> Self {
        self.correlation_id = Some(id);
        self
    }
}

impl ConfidentialClient {
    /// An access token for `scopes` on behalf of a signed-in `account`, without user
    /// interaction.
    ///
    /// A cached token granted for (at least) these scopes with more than the refresh margin
    /// left is returned with no network call. Otherwise the account's refresh token is
    /// redeemed (one network call however many callers ask for the same account and scopes at
    /// once); the new access token, ID token and rotated refresh token are cached. When the
    /// identity provider needs the user (MFA required by Conditional Access, consent, an
    /// expired session), the error's [`is_interaction_required`](Error::is_interaction_required)
    /// is true and [`claims`](Error::claims) carries the claims to pass to the next sign-in
    /// ([`AuthCodeRequest::claims`](crate::AuthCodeRequest::claims)).
    ///
    /// ```no_run
    /// # async fn demo(client: msal_lite::ConfidentialClient, account: msal_lite::Account) -> Result<(), msal_lite::Error> {
    /// use msal_lite::AuthCodeRequest;
    ///
    /// match client.acquire_token_silent(["User.Read"], &account).await {
    ///     Ok(result) => println!("Bearer {}", result.access_token().secret().len()),
    ///     Err(e) if e.is_interaction_required() => {
    ///         let mut again = AuthCodeRequest::new(["User.Read"], "http://localhost:3000/auth/redirect");
    ///         if let Some(claims) = e.claims() {
    ///             again = again.claims(claims);
    ///         }
    ///         let (url, flow) = client.auth_code_url(again).await?;
    ///         # let _ = (url, flow);
    ///     }
    ///     Err(e) => return Err(e),
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn acquire_token_silent(
        &self,
        scopes: impl IntoScopes,
        account: &Account,
    ) -> Result<AuthenticationResult, Error> {
        self.acquire_token_silent_with(SilentRequest::new(scopes), account)
            .await
    }

    /// [`acquire_token_silent`](Self::acquire_token_silent) with options: force refresh, a
    /// claims request, a caller-chosen correlation id.
    ///
    /// ```no_run
    /// # async fn demo(client: msal_lite::ConfidentialClient, account: msal_lite::Account, claims: String) -> Result<(), msal_lite::Error> {
    /// let result = client
    ///     .acquire_token_silent_with(msal_lite::SilentRequest::new(["User.Read"]).claims(claims), &account)
    ///     .await?;
    /// # let _ = result; Ok(()) }
    /// ```
    pub async fn acquire_token_silent_with(
        &self,
        request: SilentRequest,
        account: &Account,
    ) -> Result<AuthenticationResult, Error> {
        let inner = &self.inner;
        let scopes = request.scopes?;
        let home = account.home_account_id();
        let margin = inner.refresh_margin_secs;
        let caller_id = request.correlation_id;
        let use_cache = !request.force_refresh && request.claims.is_none();

        let mut found = inner
            .users
            .cache
            .lookup(home, &scopes, inner.clock.unix_seconds(), margin);
        if !found.in_memory && load_user(inner, home).await {
            found = inner
                .users
                .cache
                .lookup(home, &scopes, inner.clock.unix_seconds(), margin);
        }
        let mut due = None;
        if use_cache {
            match found.token {
                Lookup::Fresh(token) => {
                    return Ok(
                        AuthenticationResult::new(token, TokenSource::Cache, caller_id)
                            .with_account(found.account),
                    );
                }
                Lookup::RefreshDue(token) => {
                    // Past `refresh_in`, still valid: serve it now and redeem the refresh
                    // token once in the background (MSAL.NET and MSAL Node do the same; a
                    // failure such as `invalid_client` after a secret rotation is traced and
                    // the cached token keeps being served). Without a Tokio runtime the
                    // caller waits for the refresh as before.
                    // After a failed background refresh, none starts again until its
                    // back-off has passed (`background_refresh.rs`).
                    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                        let key = format!("user|{home}|{}", scopes.key());
                        match Attempt::start(inner, &key) {
                            Ok(attempt) => {
                                let owner = found
                                    .account
                                    .clone()
                                    .unwrap_or_else(|| Arc::new(account.clone()));
                                runtime.spawn(refresh_user_in_background(
                                    attempt,
                                    owner,
                                    scopes,
                                    found.in_memory,
                                ));
                            }
                            Err(why) => trace_skipped(why),
                        }
                        return Ok(
                            AuthenticationResult::new(token, TokenSource::Cache, caller_id)
                                .with_account(found.account),
                        );
                    }
                    due = Some((token, found.account.clone()));
                }
                Lookup::Miss => {}
            }
        }
        let account = found.account.unwrap_or_else(|| Arc::new(account.clone()));

        let correlation_id = caller_id.unwrap_or_else(CorrelationId::random);
        let cache_outcome = CacheOutcome::of(!use_cache, due.is_some());
        let outcome = if let Some(claims) = request.claims {
            // Deliberately not single-flight: each claims challenge is its own request.
            refresh(
                inner.clone(),
                account,
                scopes,
                Some(claims),
                cache_outcome,
                correlation_id,
            )
            .await
        } else {
            let key = format!("user|{home}|{}", scopes.key());
            let force = request.force_refresh;
            let recheck = || {
                if force {
                    return None;
                }
                let now = inner.clock.unix_seconds();
                let found = inner.users.cache.lookup(home, &scopes, now, margin);
                match found.token {
                    Lookup::Fresh(token) => Some(Ok(AuthenticationResult::new(
                        token,
                        TokenSource::Cache,
                        caller_id,
                    )
                    .with_account(found.account))),
                    _ => None,
                }
            };
            // Memory held the partition but not a usable token: another instance may have
            // refreshed since, so look in the shared store once (inside the single flight)
            // before going to the token endpoint.
            let reread = found.in_memory && !force && inner.cache_store.is_some();
            let start = || {
                reread_then_refresh(
                    inner.clone(),
                    account,
                    scopes.clone(),
                    reread,
                    cache_outcome,
                    caller_id,
                    correlation_id,
                )
            };
            inner.users.flights.run(&key, recheck, start).await
        };
        match (outcome, due) {
            (Err(e), Some((token, account))) if e.is_retryable() => {
                // Past `refresh_in` but not expired: the server asked for an early refresh so
                // that an outage like this one does not hurt. Serve it.
                tracing::warn!(error = %e, "proactive token refresh failed; serving the cached token");
                Ok(
                    AuthenticationResult::new(token, TokenSource::Cache, caller_id)
                        .with_account(account),
                )
            }
            (outcome, _) => outcome,
        }
    }

    /// The accounts whose tokens are in this client's memory (signed in through this instance,
    /// or read from the cache store since it started).
    ///
    /// ```no_run
    /// # fn demo(client: msal_lite::ConfidentialClient) {
    /// for account in client.accounts() {
    ///     println!("{} {:?}", account.home_account_id(), account.username());
    /// }
    /// # }
    /// ```
    pub fn accounts(&self) -> Vec<Account> {
        self.inner
            .users
            .cache
            .accounts()
            .into_iter()
            .map(|a| (*a).clone())
            .collect()
    }

    /// The account with this `home_account_id`: from memory, or else from the cache store (a
    /// web app that keeps only the id in its session finds the account again after a restart
    /// or on another instance). `None` when neither has it.
    ///
    /// ```no_run
    /// # async fn demo(client: msal_lite::ConfidentialClient, session_home_account_id: &str) -> Result<(), msal_lite::Error> {
    /// let Some(account) = client.account(session_home_account_id).await else {
    ///     return Ok(()); // not signed in (any more): redirect to sign-in
    /// };
    /// let token = client.acquire_token_silent(["User.Read"], &account).await?;
    /// # let _ = token; Ok(()) }
    /// ```
    pub async fn account(&self, home_account_id: &str) -> Option<Account> {
        let inner = &self.inner;
        if let Some(account) = inner.users.cache.account(home_account_id) {
            return Some((*account).clone());
        }
        if !inner.users.cache.contains(home_account_id) {
            load_user(inner, home_account_id).await;
        }
        inner
            .users
            .cache
            .account(home_account_id)
            .map(|a| (*a).clone())
    }

    /// Signs the account out of this client: its tokens are removed from memory and from the
    /// cache store. A store failure is traced, not returned (memory is cleared regardless).
    /// Pair it with [`sign_out_url`](Self::sign_out_url) to end the identity provider's session.
    ///
    /// ```no_run
    /// # async fn demo(client: msal_lite::ConfidentialClient, account: msal_lite::Account) {
    /// client.remove_account(&account).await;
    /// assert!(client.acquire_token_silent(["User.Read"], &account).await.is_err());
    /// # }
    /// ```
    pub async fn remove_account(&self, account: &Account) {
        let inner = &self.inner;
        let home = account.home_account_id();
        inner.users.cache.remove(home);
        if let Some(store) = &inner.cache_store
            && let Err(e) = store.remove(&PartitionKey::user(home)).await
        {
            tracing::warn!(partition = "user", error = %e, "removing the account from the cache store failed");
        }
    }
}

/// The proactive refresh after `refresh_in`, in the user's single flight (shared with a
/// foreground caller whose token is really due); a failure is traced and starts the back-off,
/// never returned.
async fn refresh_user_in_background(
    attempt: Attempt,
    account: Arc<Account>,
    scopes: Scopes,
    in_memory: bool,
) {
    let inner = attempt.inner().clone();
    let home = account.home_account_id().to_owned();
    let margin = inner.refresh_margin_secs;
    let recheck = || {
        let now = inner.clock.unix_seconds();
        match inner.users.cache.lookup(&home, &scopes, now, margin).token {
            Lookup::Fresh(token) => Some(Ok(AuthenticationResult::new(
                token,
                TokenSource::Cache,
                None,
            ))),
            _ => None,
        }
    };
    let reread = in_memory && inner.cache_store.is_some();
    let start = || {
        reread_then_refresh(
            inner.clone(),
            account,
            scopes.clone(),
            reread,
            CacheOutcome::ProactiveRefresh,
            None,
            CorrelationId::random(),
        )
    };
    let outcome = inner.users.flights.run(attempt.key(), recheck, start).await;
    attempt.finish(outcome.as_ref().map(|_| ()));
}

/// Reads a user's partition from the cache store into memory ("before access"). True when it
/// found something.
async fn load_user(inner: &Arc<ClientInner>, home: &str) -> bool {
    let Some(store) = &inner.cache_store else {
        return false;
    };
    let Some(stored) = persist::load(&**store, &PartitionKey::user(home)).await else {
        return false;
    };
    let Some(partition) = stored_partition(inner, stored.document(), home) else {
        return false;
    };
    inner
        .users
        .cache
        .insert_loaded(home, partition, inner.clock.unix_seconds());
    true
}

/// Re-reads the user's partition from the cache store past any local layer and takes what is
/// newer than memory (another instance may have refreshed since this one loaded it). Whether
/// anything was taken.
async fn reload_user(inner: &Arc<ClientInner>, home: &str) -> bool {
    let Some(store) = &inner.cache_store else {
        return false;
    };
    let Some(stored) = persist::reload(&**store, &PartitionKey::user(home)).await else {
        return false;
    };
    let Some(partition) = stored_partition(inner, stored.document(), home) else {
        return false;
    };
    inner
        .users
        .cache
        .merge_loaded(home, partition, inner.clock.unix_seconds())
}

fn stored_partition(
    inner: &ClientInner,
    document: &crate::schema::CacheDocument,
    home: &str,
) -> Option<crate::cache::user::UserPartition> {
    let owner = Owner::of(&inner.client_id, &inner.authority);
    partition_from_document(document, &owner, home, inner.clock.unix_seconds())
}

/// [`refresh`], after taking newer tokens from the cache store when `reread` is set: a token
/// another instance acquired is then served from the cache (under the caller's correlation
/// id), and a refresh uses the newest refresh token. Unless it is a forced refresh
/// (`cache_outcome` 1, which also goes in the telemetry header), the refresh takes the fleet's
/// acquisition lease first, whose read of the store replaces the re-read.
async fn reread_then_refresh(
    inner: Arc<ClientInner>,
    account: Arc<Account>,
    scopes: Scopes,
    reread: bool,
    cache_outcome: CacheOutcome,
    caller_id: Option<CorrelationId>,
    correlation_id: CorrelationId,
) -> FlightResult {
    let fleet = cache_outcome != CacheOutcome::ForceRefreshOrClaims;
    if let (true, Some(store), Some(ttl)) = (fleet, inner.cache_store.clone(), inner.lease_ttl) {
        let home = account.home_account_id();
        let take = |stored: &crate::persistence::Partition| {
            let partition = stored_partition(&inner, stored.document(), home)?;
            let now = inner.clock.unix_seconds();
            inner.users.cache.merge_loaded(home, partition, now);
            fresh(&inner, &account, &scopes, caller_id)
        };
        let body = |store_read: bool| {
            reread_or_refresh(
                inner.clone(),
                account.clone(),
                scopes.clone(),
                reread && !store_read,
                cache_outcome,
                caller_id,
                correlation_id,
            )
        };
        return crate::cache::single_flight::with_lease(
            &*store,
            ttl,
            &PartitionKey::user(home),
            scopes.key(),
            take,
            body,
        )
        .await;
    }
    reread_or_refresh(
        inner,
        account,
        scopes,
        reread,
        cache_outcome,
        caller_id,
        correlation_id,
    )
    .await
}

/// The account's cached token for `scopes`, when fresh.
fn fresh(
    inner: &ClientInner,
    account: &Account,
    scopes: &Scopes,
    caller_id: Option<CorrelationId>,
) -> Option<FlightResult> {
    let now = inner.clock.unix_seconds();
    let found = inner.users.cache.lookup(
        account.home_account_id(),
        scopes,
        now,
        inner.refresh_margin_secs,
    );
    match found.token {
        Lookup::Fresh(token) => Some(Ok(AuthenticationResult::new(
            token,
            TokenSource::Cache,
            caller_id,
        )
        .with_account(found.account))),
        _ => None,
    }
}

/// [`refresh`], after [`reload_user`] when `reread` is set.
async fn reread_or_refresh(
    inner: Arc<ClientInner>,
    account: Arc<Account>,
    scopes: Scopes,
    reread: bool,
    cache_outcome: CacheOutcome,
    caller_id: Option<CorrelationId>,
    correlation_id: CorrelationId,
) -> FlightResult {
    if reread
        && reload_user(&inner, account.home_account_id()).await
        && let Some(done) = fresh(&inner, &account, &scopes, caller_id)
    {
        return done;
    }
    refresh(inner, account, scopes, None, cache_outcome, correlation_id).await
}

/// Redeems the account's refresh token for `scopes`, sending `claims` when given and
/// `cache_outcome` in the telemetry header.
async fn refresh(
    inner: Arc<ClientInner>,
    account: Arc<Account>,
    scopes: Scopes,
    claims: Option<String>,
    cache_outcome: CacheOutcome,
    correlation_id: CorrelationId,
) -> FlightResult {
    let span = tracing::debug_span!(
        "acquire_token_silent",
        client_id = &*inner.client_id,
        %correlation_id,
    );
    async move {
        let Some(refresh_token) = inner.users.cache.refresh_token(account.home_account_id()) else {
            return Err(Error::InteractionRequired {
                reason: "no refresh token is cached for this account".into(),
            });
        };
        let wire = with_oidc_scopes(&scopes)?;
        let grant = Grant::RefreshToken {
            refresh_token: &refresh_token,
            account: &account,
            cache_outcome,
        };
        redeem_for(
            &inner,
            grant,
            &wire,
            &scopes,
            claims.as_deref(),
            correlation_id,
        )
        .await
    }
    .instrument(span)
    .await
}

/// The grant of a user token request.
pub(super) enum Grant<'a> {
    /// RFC 6749 §4.1.3 with RFC 7636 §4.5.
    AuthorizationCode {
        code: &'a str,
        redirect_uri: &'a str,
        code_verifier: &'a str,
        nonce: &'a str,
        /// The `X-AnchorMailbox` routing hint chosen when the sign-in started.
        anchor: Option<&'a str>,
    },
    /// RFC 6749 §6.
    RefreshToken {
        refresh_token: &'a RefreshSecret,
        account: &'a Arc<Account>,
        /// Why the cached access token was not used (the telemetry header's cache outcome).
        cache_outcome: CacheOutcome,
    },
    /// RFC 6749 §6 with a refresh token from elsewhere (a migration): no account yet, so the
    /// response must carry an ID token naming one, as a code redemption does.
    ImportedRefreshToken { refresh_token: &'a str },
}

/// A token response with the OpenID Connect and Entra fields user flows need.
#[derive(Deserialize)]
struct UserTokenResponse {
    #[serde(flatten)]
    token: TokenResponse,
    #[serde(default)]
    id_token: Option<String>,
    #[serde(default)]
    client_info: Option<String>,
}

/// Code redemption (the scopes on the wire are also the cache key).
pub(super) async fn redeem(
    inner: &Arc<ClientInner>,
    grant: Grant<'_>,
    scopes: &Scopes,
    claims: Option<&str>,
    correlation_id: CorrelationId,
) -> FlightResult {
    let span = tracing::debug_span!(
        "acquire_token_by_code",
        client_id = &*inner.client_id,
        %correlation_id,
    );
    redeem_for(inner, grant, scopes, scopes, claims, correlation_id)
        .instrument(span)
        .await
}

/// One user token request: build, send, validate the ID token, cache, persist.
pub(super) async fn redeem_for(
    inner: &Arc<ClientInner>,
    grant: Grant<'_>,
    wire_scopes: &Scopes,
    requested: &Scopes,
    claims: Option<&str>,
    correlation_id: CorrelationId,
) -> FlightResult {
    let http = inner.http.as_ref();
    let metadata = inner
        .metadata
        .get(http, &inner.retry, &inner.authority, correlation_id)
        .await?;
    let mut request = TokenRequest::new(metadata.token_endpoint.clone());
    request.form.push("client_id", &inner.client_id);
    let (nonce, previous) = match &grant {
        Grant::AuthorizationCode {
            code,
            redirect_uri,
            code_verifier,
            nonce,
            anchor,
        } => {
            super::anchor_mailbox::insert(&mut request.headers, *anchor);
            request.telemetry = Some(RequestTelemetry::new(
                api_id::BY_CODE,
                CacheOutcome::NotApplicable,
            ));
            request.form.push("redirect_uri", redirect_uri);
            request.form.push("scope", wire_scopes.as_str());
            request.form.push("code", code);
            request.form.push("code_verifier", code_verifier);
            request.form.push("grant_type", "authorization_code");
            (Some(*nonce), None)
        }
        Grant::RefreshToken {
            refresh_token,
            account,
            cache_outcome,
        } => {
            // Routing hint for Entra's backup authentication system (MSAL Python, msal-common
            // RefreshTokenClient: `Oid:{uid}@{utid}` from the home account id).
            let anchor = super::anchor_mailbox::for_home_account(account.home_account_id());
            super::anchor_mailbox::insert(&mut request.headers, anchor.as_deref());
            request.telemetry = Some(RequestTelemetry::new(api_id::SILENT, *cache_outcome));
            request.form.push("scope", wire_scopes.as_str());
            request.form.push("grant_type", "refresh_token");
            request.form.push("refresh_token", refresh_token.secret());
            (None, Some(*account))
        }
        Grant::ImportedRefreshToken { refresh_token } => {
            request.telemetry = Some(RequestTelemetry::new(
                api_id::BY_REFRESH_TOKEN,
                CacheOutcome::NotApplicable,
            ));
            request.form.push("scope", wire_scopes.as_str());
            request.form.push("grant_type", "refresh_token");
            request.form.push("refresh_token", refresh_token);
            (None, None)
        }
    };
    request.form.push("client_info", "1");
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
    if let Some(claims) = inner.merged_claims(claims)? {
        request.form.push("claims", &claims);
    }
    let mut response = match send(http, &inner.retry, request, correlation_id).await {
        Ok(response) => response,
        Err(e) => {
            if matches!(
                e,
                Error::Connect { .. } | Error::Tls { .. } | Error::HttpStatus { status: 404, .. }
            ) {
                inner.metadata.invalidate(&inner.authority);
            }
            return Err(e);
        }
    };

    let id_token_claims = match response.id_token.as_deref() {
        Some(raw) => {
            let expected = Expected {
                issuer: &metadata.issuer,
                client_id: &inner.client_id,
                nonce,
                now: inner.clock.unix_seconds(),
                // `?appid=` keys exist only on Entra (claims-mapping apps), see id_token.rs.
                app_keys: inner.authority.kind() != crate::AuthorityKind::Oidc,
            };
            Some(
                id_token::validate(
                    http,
                    &inner.retry,
                    &inner.users.jwks,
                    metadata.jwks_uri.as_deref(),
                    raw,
                    &expected,
                    correlation_id,
                )
                .await?,
            )
        }
        None if previous.is_none() => {
            return Err(Error::InvalidIdToken {
                reason: "the token response has no id token".into(),
            });
        }
        None => None,
    };
    let claim = |name: &str| {
        id_token_claims
            .as_ref()
            .and_then(|c| c.get(name))
            .and_then(serde_json::Value::as_str)
    };
    let home: String = match response.client_info.as_deref() {
        Some(info) => ClientInfo::decode(info)
            .map_err(|_| {
                Error::malformed(
                    "the client_info does not decode",
                    Some(correlation_id),
                    None,
                )
            })?
            .home_account_id(),
        None => match crate::account::home_account_id_without_client_info(
            claim("sub"),
            previous.map(|a| &**a),
        ) {
            Some(home) => home,
            None => {
                return Err(Error::malformed(
                    "the token response names no account (no client_info, no id token sub)",
                    Some(correlation_id),
                    None,
                ));
            }
        },
    };
    if let Some(previous) = previous
        && previous.home_account_id() != home
    {
        return Err(Error::InvalidIdToken {
            reason: "the refreshed tokens belong to another account".into(),
        });
    }
    let account = match (id_token_claims, previous) {
        (Some(claims), _) => {
            let utid = home.rsplit_once('.').map_or("", |(_, utid)| utid);
            Arc::new(Account {
                environment: inner.authority.environment().into(),
                tenant_id: Account::claim_str(&claims, "tid").unwrap_or_else(|| utid.into()),
                local_account_id: Account::local_account_id_from_claims(&claims),
                username: Account::username_from_claims(&claims),
                name: Account::claim_str(&claims, "name"),
                home_account_id: home.as_str().into(),
                claims: Arc::new(claims.into()),
            })
        }
        (None, Some(previous)) => previous.clone(),
        (None, None) => unreachable_account()?,
    };

    let token = CachedToken::from_response(
        &mut response.token,
        wire_scopes,
        Some(account.tenant_id()),
        &inner.cache.tenant_ids,
        requested_at,
    );
    let acquired = Acquired {
        account: account.clone(),
        requested: requested.clone(),
        token: token.clone(),
        refresh_token: response
            .token
            .refresh_token
            .filter(|rt| !rt.is_empty())
            .map(|rt| Arc::new(RefreshSecret::new(rt))),
        id_token: response.id_token.map(Arc::from),
        now: inner.clock.unix_seconds(),
    };
    inner.users.cache.store(&acquired);
    if let Some(store) = &inner.cache_store {
        let owner = Owner::of(&inner.client_id, &inner.authority);
        persist::save(&**store, &PartitionKey::user(&*home), |doc| {
            apply_to_document(doc, &owner, &acquired);
        })
        .await;
    }
    Ok(
        AuthenticationResult::new(token, TokenSource::Network, Some(correlation_id))
            .with_account(Some(account)),
    )
}

/// A code redemption always has ID-token claims (checked above); kept as an error rather than
/// a panic so no response can crash the client.
fn unreachable_account() -> Result<Arc<Account>, Error> {
    Err(Error::InvalidIdToken {
        reason: "the token response has no id token".into(),
    })
}

/// Sends a token request (with the retry policy) and parses a user token response.
async fn send(
    http: &dyn HttpClient,
    retry: &RetryPolicy,
    request: TokenRequest,
    correlation_id: CorrelationId,
) -> Result<UserTokenResponse, Error> {
    let http_request = request.into_http(correlation_id)?;
    let response = send_with_retry(http, retry, http_request)
        .await
        .map_err(|e| e.into_error(Some(correlation_id)))?;
    let parsed: UserTokenResponse = parse_json(&response, Some(correlation_id))?;
    if parsed.token.access_token.is_empty() {
        return Err(Error::malformed(
            "the token response has an empty access_token",
            Some(correlation_id),
            None,
        ));
    }
    Ok(parsed)
}
