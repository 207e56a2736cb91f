//! Redeeming a refresh token obtained elsewhere (ADAL, another OAuth stack, an old session
//! store), for migrations: MSAL.NET `IByRefreshToken.AcquireTokenByRefreshToken`, MSAL Python
//! `acquire_token_by_refresh_token`, msal-node `acquireTokenByRefreshToken`.

use std::fmt;
use std::sync::Arc;

use tracing::Instrument as _;

use super::auth_code::with_oidc_scopes;
use super::silent::{Grant, redeem_for};
use crate::{AuthenticationResult, ConfidentialClient, CorrelationId, Error, IntoScopes};

/// A user's refresh token brought from another library, for
/// [`ConfidentialClient::acquire_token_by_refresh_token`].
///
/// `Debug` prints `[redacted]`; there is no `Display`.
///
/// ```
/// let rt = msal_lite::RefreshToken::new("0.AAAA-legacy");
/// assert_eq!(format!("{rt:?}"), "RefreshToken([redacted])");
/// ```
#[derive(Clone)]
pub struct RefreshToken(Arc<str>);

impl RefreshToken {
    /// Wraps a refresh token.
    ///
    /// ```
    /// let rt = msal_lite::RefreshToken::new(String::from("0.AAAA"));
    /// assert_eq!(rt.secret(), "0.AAAA");
    /// ```
    pub fn new(refresh_token: impl Into<Arc<str>>) -> Self {
        Self(refresh_token.into())
    }

    /// The token itself.
    ///
    /// # Security Warning
    ///
    /// It grants access for the user for up to 90 days: do not log it.
    ///
    /// ```
    /// assert_eq!(msal_lite::RefreshToken::new("rt").secret(), "rt");
    /// ```
    pub fn secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RefreshToken([redacted])")
    }
}

impl From<&str> for RefreshToken {
    fn from(refresh_token: &str) -> Self {
        Self::new(refresh_token)
    }
}

impl From<String> for RefreshToken {
    fn from(refresh_token: String) -> Self {
        Self::new(refresh_token)
    }
}

impl ConfidentialClient {
    /// Redeems a refresh token obtained outside msal-lite (a migration from ADAL or another
    /// OAuth library) for `scopes`, and caches the result as a signed-in user, exactly as
    /// [`acquire_token_by_code`](Self::acquire_token_by_code) does: the response's ID token
    /// is validated and names the [`Account`](crate::Account); the new refresh token replaces
    /// the imported one; later calls use
    /// [`acquire_token_silent`](Self::acquire_token_silent) with
    /// [`AuthenticationResult::account`]. MSAL.NET `AcquireTokenByRefreshToken`, MSAL Python
    /// `acquire_token_by_refresh_token`.
    ///
    /// The request carries `openid profile offline_access` besides `scopes`, so Entra
    /// returns an ID token and a refresh token. A refused token is the server's error
    /// ([`interaction required`](Error::is_interaction_required)): the user must sign in.
    ///
    /// ```no_run
    /// # async fn demo(client: msal_lite::ConfidentialClient, legacy: String) -> Result<(), msal_lite::Error> {
    /// let result = client
    ///     .acquire_token_by_refresh_token(msal_lite::RefreshToken::new(legacy), ["User.Read"])
    ///     .await?;
    /// let account = result.account().expect("a user token names its account").clone();
    /// let later = client.acquire_token_silent(["User.Read"], &account).await?;
    /// # let _ = later; Ok(()) }
    /// ```
    pub async fn acquire_token_by_refresh_token(
        &self,
        refresh_token: RefreshToken,
        scopes: impl IntoScopes,
    ) -> Result<AuthenticationResult, Error> {
        let scopes = scopes.into_scopes()?;
        if refresh_token.secret().trim().is_empty() {
            return Err(Error::config("the refresh token is empty"));
        }
        let inner = &self.inner;
        let correlation_id = CorrelationId::random();
        let span = tracing::debug_span!(
            "acquire_token_by_refresh_token",
            client_id = &*inner.client_id,
            %correlation_id,
        );
        let wire = with_oidc_scopes(&scopes)?;
        let grant = Grant::ImportedRefreshToken {
            refresh_token: refresh_token.secret(),
        };
        redeem_for(inner, grant, &wire, &scopes, None, correlation_id)
            .instrument(span)
            .await
    }
}
