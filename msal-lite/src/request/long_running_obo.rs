//! Long-running on-behalf-of: a web API that keeps working for its caller after the caller's
//! token has expired (a background job started by a request), as MSAL.NET's
//! `ILongRunningWebApi` (`InitiateLongRunningProcessInWebApi` /
//! `AcquireTokenInLongRunningProcess`, MSAL.NET `ILongRunningWebApi.cs` and
//! `Internal/Requests/OnBehalfOfRequest.cs`).
//!
//! MSAL.NET's cache semantics, which msal-lite follows:
//!
//! - Initiating always exchanges the assertion at the token endpoint (MSAL.NET does not look
//!   in the cache first unless asked to), and keeps the downstream token and the OBO refresh
//!   token under a session key: the caller's, or by default the assertion hash.
//! - Continuing looks up the session's token; once it has expired, it is renewed with the
//!   session's refresh token alone: no assertion is sent, so the caller's token may long have
//!   expired. A session with neither a valid token nor a refresh token is
//!   [`Error::SessionNotFound`] (MSAL.NET `obo_cache_key_not_in_cache_error`).
//! - The session partition is persisted through the
//!   [`cache_store`](crate::ConfidentialClientBuilder::cache_store) like other OBO partitions
//!   (`user_assertion_hash` = the session key, as MSAL.NET writes it), so another instance can
//!   continue it.

use std::fmt;
use std::sync::Arc;

use tracing::Instrument as _;

use super::obo::{
    Acquisition, FlightResult, LONG_RUNNING, OIDC_SCOPES, StoreTarget, fetch, send_for, store_for,
};
use crate::cache::obo::StoredPartition;
use crate::cache::{CachedToken, Lookup, persist};
use crate::client::ClientInner;
use crate::request::TokenRequest;
use crate::schema::PartitionKey;
use crate::{
    AuthenticationResult, ConfidentialClient, CorrelationId, Error, IntoScopes, Scopes,
    TokenSource, UserAssertion,
};

/// Session keys longer than this are refused (a key names a cache partition and a store key).
const MAX_SESSION_KEY: usize = 512;

/// Names a long-running on-behalf-of session: the cache partition holding its downstream
/// tokens and refresh token (MSAL.NET's `longRunningProcessSessionKey`).
///
/// By default it is the assertion hash (see [`UserAssertion::hash`]); an app may choose its own
/// (a job id). It is not a secret (it does not grant anything without the client's
/// credential), so `Debug` and `Display` show it; keep it with the job.
///
/// ```
/// let key = msal_lite::SessionKey::new("report-job-42")?;
/// assert_eq!(key.as_str(), "report-job-42");
/// assert!(msal_lite::SessionKey::new("  ").is_err());
/// # Ok::<(), msal_lite::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SessionKey(Arc<str>);

impl SessionKey {
    /// A caller-chosen session key: non-empty, at most 512 bytes, no control characters.
    ///
    /// ```
    /// assert!(msal_lite::SessionKey::new("job\n1").is_err());
    /// ```
    pub fn new(key: impl Into<String>) -> Result<Self, Error> {
        let key = key.into();
        if key.trim().is_empty() {
            return Err(Error::config("the session key is empty"));
        }
        if key.len() > MAX_SESSION_KEY {
            return Err(Error::config("the session key is longer than 512 bytes"));
        }
        if key.chars().any(char::is_control) {
            return Err(Error::config(
                "the session key contains a control character",
            ));
        }
        Ok(Self(key.into()))
    }

    /// The session key of an assertion: its hash, MSAL.NET's default.
    ///
    /// ```
    /// let assertion = msal_lite::UserAssertion::new("jwt");
    /// let key = msal_lite::SessionKey::of_assertion(&assertion);
    /// assert_eq!(key.as_str(), assertion.hash());
    /// ```
    pub fn of_assertion(assertion: &UserAssertion) -> Self {
        Self(assertion.hash().into())
    }

    /// The key as a string, to store with the job.
    ///
    /// ```
    /// let key = msal_lite::SessionKey::new("k")?;
    /// assert_eq!(key.as_str(), "k");
    /// # Ok::<(), msal_lite::Error>(())
    /// ```
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SessionKey").field(&&*self.0).finish()
    }
}

impl fmt::Display for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl ConfidentialClient {
    /// Starts a long-running on-behalf-of session (MSAL.NET
    /// `InitiateLongRunningProcessInWebApi`): exchanges `assertion` (the validated token the
    /// API's caller sent) for a token to `scopes`, and keeps the downstream token and its OBO
    /// refresh token under a session key, so that
    /// [`acquire_token_in_long_running_process`](Self::acquire_token_in_long_running_process)
    /// can get tokens later, after the caller's token has expired.
    ///
    /// `session_key`: `None` for MSAL.NET's default, the assertion hash. Returns the result
    /// and the key to keep with the job.
    ///
    /// Like MSAL.NET, this always goes to the token endpoint (the assertion must be
    /// unexpired: otherwise [`Error::AssertionExpired`]); a second call for the same key
    /// replaces the session's tokens. The regular
    /// [`acquire_token_on_behalf_of`](Self::acquire_token_on_behalf_of) never redeems a
    /// refresh token for an expired assertion; only this API keeps a session alive.
    ///
    /// ```no_run
    /// # async fn demo(client: msal_lite::ConfidentialClient, bearer: &str) -> Result<(), msal_lite::Error> {
    /// use msal_lite::{SessionKey, UserAssertion};
    ///
    /// let (token, key) = client
    ///     .initiate_long_running_on_behalf_of(
    ///         UserAssertion::new(bearer),
    ///         ["User.Read"],
    ///         Some(SessionKey::new("report-job-42")?),
    ///     )
    ///     .await?;
    /// // Hours later, in the background job:
    /// let later = client.acquire_token_in_long_running_process(&key, ["User.Read"]).await?;
    /// # let _ = (token, later); Ok(()) }
    /// ```
    pub async fn initiate_long_running_on_behalf_of(
        &self,
        assertion: UserAssertion,
        scopes: impl IntoScopes,
        session_key: Option<SessionKey>,
    ) -> Result<(AuthenticationResult, SessionKey), Error> {
        let scopes = scopes.into_scopes()?;
        if assertion.secret().trim().is_empty() {
            return Err(Error::config("the user assertion is empty"));
        }
        let key = session_key.unwrap_or_else(|| SessionKey::of_assertion(&assertion));
        tracing::debug!(
            session_key = key.as_str(),
            "initiating a long-running on-behalf-of session"
        );
        let result = fetch(Acquisition {
            inner: self.inner.clone(),
            assertion,
            authority_override: None,
            partition: key.as_str().into(),
            scopes,
            claims: None,
            use_refresh_token: false,
            long_running: true,
            client_assertion: None,
            correlation_id: CorrelationId::random(),
        })
        .await?;
        Ok((result, key))
    }

    /// Gets a token for `scopes` in a long-running session (MSAL.NET
    /// `AcquireTokenInLongRunningProcess`): the session's cached token while valid, otherwise
    /// a new one from the session's OBO refresh token, without any assertion.
    ///
    /// - An unknown key (or a session whose token expired and which holds no refresh token)
    ///   is [`Error::SessionNotFound`], with no network call.
    /// - When the server refuses the refresh token (revoked, expired after inactivity), the
    ///   error is the server's ([`interaction required`](Error::is_interaction_required)):
    ///   the session is over; start a new one with a fresh assertion.
    /// - With a [`cache_store`](crate::ConfidentialClientBuilder::cache_store), the session is
    ///   read from it when this instance does not hold it (another instance initiated it).
    ///
    /// ```no_run
    /// # async fn demo(client: msal_lite::ConfidentialClient, stored_key: String) -> Result<(), msal_lite::Error> {
    /// let key = msal_lite::SessionKey::new(stored_key)?;
    /// match client.acquire_token_in_long_running_process(&key, ["User.Read"]).await {
    ///     Ok(token) => { let _ = token; }
    ///     Err(msal_lite::Error::SessionNotFound) => { /* ask the user to start the job again */ }
    ///     Err(e) => return Err(e),
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn acquire_token_in_long_running_process(
        &self,
        session_key: &SessionKey,
        scopes: impl IntoScopes,
    ) -> Result<AuthenticationResult, Error> {
        let scopes = scopes.into_scopes()?;
        continue_session(&self.inner, session_key, scopes).await
    }

    /// Ends a long-running session (MSAL.NET `StopLongRunningProcessInWebApiAsync`): forgets
    /// its tokens and refresh token, in memory and in the cache store. Returns whether this
    /// instance held it. Further calls with the key are [`Error::SessionNotFound`].
    ///
    /// ```no_run
    /// # async fn demo(client: msal_lite::ConfidentialClient, key: msal_lite::SessionKey) {
    /// client.stop_long_running_process(&key).await;
    /// # }
    /// ```
    pub async fn stop_long_running_process(&self, session_key: &SessionKey) -> bool {
        let inner = &self.inner;
        let held = inner.obo.remove(session_key.as_str());
        if let Some(store) = &inner.cache_store {
            let key = PartitionKey::obo(session_key.as_str());
            if let Err(e) = store.remove(&key).await {
                tracing::warn!(error = %e, "could not remove a long-running session from the cache store");
            }
        }
        held
    }
}

/// The session's token, or a renewal with its refresh token (single flight per session and
/// scopes).
async fn continue_session(
    inner: &Arc<ClientInner>,
    key: &SessionKey,
    scopes: Scopes,
) -> FlightResult {
    let partition = key.as_str();
    let margin = inner.refresh_margin_secs;
    let cached = |token| Ok(AuthenticationResult::new(token, TokenSource::Cache, None));
    let mut due: Option<Arc<CachedToken>> = None;
    let now = inner.clock.unix_seconds();
    match inner.obo.tokens.lookup(partition, &scopes, now, margin) {
        Lookup::Fresh(token) => return cached(token),
        Lookup::RefreshDue(token) => due = Some(token),
        Lookup::Miss => {}
    }
    if let Some(store) = &inner.cache_store {
        // Another instance may have initiated or renewed the session (a miss goes to the
        // network anyway, so this read is cheap by comparison, as for regular OBO).
        let pk = PartitionKey::obo(partition);
        if let Some(stored) = persist::reload(store.as_ref(), &pk).await {
            let stored = StoredPartition {
                document: stored.document(),
                client_id: &inner.client_id,
                environment: inner.authority.environment(),
                assertion_hash: partition,
                deadline: LONG_RUNNING,
            };
            let now = inner.clock.unix_seconds();
            inner.obo.import(partition, &stored, now);
            if due.is_none() {
                match inner.obo.tokens.lookup(partition, &scopes, now, margin) {
                    Lookup::Fresh(token) => return cached(token),
                    Lookup::RefreshDue(token) => due = Some(token),
                    Lookup::Miss => {}
                }
            }
        }
    }

    let flight = format!("obo|{partition}|{}", scopes.key());
    let recheck = || {
        let now = inner.clock.unix_seconds();
        match inner.obo.tokens.lookup(partition, &scopes, now, margin) {
            Lookup::Fresh(token) => Some(cached(token)),
            _ => None,
        }
    };
    let start = || renew(inner.clone(), key.clone(), scopes.clone());
    let outcome = inner.obo.flights.run(&flight, recheck, start).await;
    match (outcome, due) {
        (Err(e), Some(token)) if e.is_retryable() => {
            tracing::warn!(
                error = %e,
                "proactive long-running on-behalf-of refresh failed; serving the cached token"
            );
            cached(token)
        }
        (outcome, _) => outcome,
    }
}

/// Redeems the session's refresh token, traced in its own span.
async fn renew(inner: Arc<ClientInner>, key: SessionKey, scopes: Scopes) -> FlightResult {
    let correlation_id = CorrelationId::random();
    let span = tracing::debug_span!(
        "acquire_token_in_long_running_process",
        client_id = &*inner.client_id,
        session_key = key.as_str(),
        %correlation_id,
    );
    renew_in_span(&inner, &key, &scopes, correlation_id)
        .instrument(span)
        .await
}

async fn renew_in_span(
    inner: &ClientInner,
    key: &SessionKey,
    scopes: &Scopes,
    correlation_id: CorrelationId,
) -> FlightResult {
    let partition = key.as_str();
    let Some(rt) = inner.obo.refresh_token(partition) else {
        tracing::warn!("no token and no refresh token for this long-running session");
        return Err(Error::SessionNotFound);
    };
    // The session's tenant: a `common`/`organizations` authority was routed to the user's
    // tenant when the session started; renew there.
    let mut authority = inner.authority.clone();
    let multi_tenant = authority.tenant().is_some_and(|t| {
        t.eq_ignore_ascii_case("common") || t.eq_ignore_ascii_case("organizations")
    });
    let tenant = inner.obo.tenant_of(partition);
    if multi_tenant && let Some(tid) = &tenant {
        authority = authority.with_tenant(tid)?;
    }
    let metadata = inner
        .metadata
        .get(
            inner.http.as_ref(),
            &inner.retry,
            &authority,
            correlation_id,
        )
        .await?;
    let wire_scopes = Scopes::new([scopes.as_str(), OIDC_SCOPES])?;
    let mut request = TokenRequest::new(metadata.token_endpoint.clone());
    request.form.push("client_id", &inner.client_id);
    request.form.push("scope", wire_scopes.as_str());
    request.form.push("grant_type", "refresh_token");
    request.form.push("refresh_token", rt.secret());
    request.form.push("client_info", "1");
    let requested_at = inner.clock.unix_seconds();
    let response = match send_for(
        inner,
        None,
        correlation_id,
        &authority,
        &metadata.token_endpoint,
        request,
        None,
    )
    .await
    {
        Ok(response) => response,
        Err(e) => {
            if e.server_error().is_some_and(|s| !s.is_retryable()) {
                // Revoked or expired: the session cannot continue. Keep the store's copy
                // (another instance may hold a newer refresh token); forget this one.
                inner.obo.forget_refresh_token(partition, &rt);
            }
            return Err(e);
        }
    };
    tracing::debug!("renewed a long-running on-behalf-of token with its refresh token");
    let identity = crate::user_assertion::jwt_identity(&response.access_token).unwrap_or_default();
    let tid = identity
        .tid
        .clone()
        .or_else(|| tenant.as_deref().map(str::to_owned));
    let target = StoreTarget {
        partition,
        scopes,
        tid: tid.as_deref(),
        home_account_id: identity.home_account_id(),
        deadline: LONG_RUNNING,
        persist: true,
    };
    store_for(
        inner,
        &target,
        &authority,
        response,
        requested_at,
        correlation_id,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_keys_are_validated() {
        assert!(SessionKey::new("").is_err());
        assert!(SessionKey::new(" \t").is_err());
        assert!(SessionKey::new("a\u{0}b").is_err());
        assert!(SessionKey::new("x".repeat(513)).is_err());
        let key = SessionKey::new("x".repeat(512)).unwrap();
        assert_eq!(key.as_str().len(), 512);
        let k = SessionKey::new("job/1 ü").unwrap();
        assert_eq!(format!("{k}"), "job/1 ü");
        assert_eq!(format!("{k:?}"), "SessionKey(\"job/1 ü\")");
        let a = UserAssertion::new("jwt");
        assert_eq!(SessionKey::of_assertion(&a).as_str(), a.hash());
    }
}
