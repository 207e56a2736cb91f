//! What a successful acquisition returns.

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use crate::cache::CachedToken;
use crate::time::from_unix_seconds;
use crate::{CorrelationId, Scopes};

/// An access token.
///
/// `Debug` prints `[redacted]`; there is no `Display`. Cloning is an `Arc` clone.
///
/// ```
/// use msal_lite::AccessToken;
/// let token = AccessToken::new("eyJ0eXAi...");
/// assert_eq!(format!("{token:?}"), "AccessToken([redacted])");
/// let header = format!("Bearer {}", token.secret());
/// # let _ = header;
/// ```
#[derive(Clone)]
pub struct AccessToken(Arc<str>);

impl AccessToken {
    /// Wraps a token (for tests and custom caches).
    pub fn new(token: impl Into<Arc<str>>) -> Self {
        Self(token.into())
    }

    /// The token itself, for an `Authorization: Bearer` header.
    ///
    /// # Security Warning
    ///
    /// It grants access until it expires: do not log it or put it in a URL.
    pub fn secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessToken([redacted])")
    }
}

/// Where a token came from.
///
/// ```
/// # async fn demo(client: msal_lite::ConfidentialClient) -> Result<(), msal_lite::Error> {
/// use msal_lite::TokenSource;
/// let result = client.acquire_token_for_client(["https://graph.microsoft.com/.default"]).await?;
/// if result.source() == TokenSource::Cache { /* no network call was made */ }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenSource {
    /// Served from the token cache without a network call.
    Cache,
    /// Fetched from the token endpoint.
    Network,
}

/// A token and what is known about it.
///
/// ```no_run
/// # async fn demo(client: msal_lite::ConfidentialClient) -> Result<(), msal_lite::Error> {
/// let result = client.acquire_token_for_client(["https://graph.microsoft.com/.default"]).await?;
/// let header = format!("{} {}", result.token_type(), result.access_token().secret());
/// println!("expires {:?}, scopes {:?}", result.expires_on(), result.scopes());
/// # let _ = header; Ok(()) }
/// ```
#[derive(Clone)]
pub struct AuthenticationResult {
    token: Arc<CachedToken>,
    source: TokenSource,
    correlation_id: Option<CorrelationId>,
    account: Option<Arc<crate::Account>>,
}

impl AuthenticationResult {
    pub(crate) fn new(
        token: Arc<CachedToken>,
        source: TokenSource,
        correlation_id: Option<CorrelationId>,
    ) -> Self {
        Self {
            token,
            source,
            correlation_id,
            account: None,
        }
    }

    /// Attaches the signed-in user (user flows).
    pub(crate) fn with_account(mut self, account: Option<Arc<crate::Account>>) -> Self {
        self.account = account;
        self
    }

    /// The signed-in user the token was acquired for (sign-in and silent acquisition); `None`
    /// for app-only tokens.
    ///
    /// ```no_run
    /// # async fn demo(client: msal_lite::ConfidentialClient, flow: msal_lite::AuthCodeFlow) -> Result<(), msal_lite::Error> {
    /// let result = client.acquire_token_by_code("code", "state", flow).await?;
    /// if let Some(account) = result.account() {
    ///     println!("{}", account.home_account_id());
    /// }
    /// # Ok(()) }
    /// ```
    pub fn account(&self) -> Option<&crate::Account> {
        self.account.as_deref()
    }

    /// The access token.
    pub fn access_token(&self) -> &AccessToken {
        &self.token.access_token
    }

    /// When the token expires (`expires_in` after the request was sent).
    pub fn expires_on(&self) -> SystemTime {
        from_unix_seconds(self.token.expires_on)
    }

    /// The scopes the token was granted (the response's `scope`, or the requested scopes when
    /// the server did not say, RFC 6749 §5.1).
    pub fn scopes(&self) -> &Scopes {
        &self.token.scopes
    }

    /// The token type, normally `Bearer`.
    pub fn token_type(&self) -> &str {
        &self.token.token_type
    }

    /// The tenant that issued the token: the token's `tid` claim when it is a JWT carrying one,
    /// else the authority's tenant segment.
    pub fn tenant_id(&self) -> Option<&str> {
        self.token.tenant_id.as_deref()
    }

    /// The `client-request-id` of the network request that produced this result, or for a
    /// cache hit the id the caller supplied (if any).
    pub fn correlation_id(&self) -> Option<CorrelationId> {
        self.correlation_id
    }

    /// Whether the token came from the cache or the network.
    pub fn source(&self) -> TokenSource {
        self.source
    }
}

impl fmt::Debug for AuthenticationResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthenticationResult")
            .field("access_token", self.access_token())
            .field("token_type", &self.token_type())
            .field("expires_on", &self.expires_on())
            .field("scopes", self.scopes())
            .field("tenant_id", &self.tenant_id())
            .field("source", &self.source)
            .field("correlation_id", &self.correlation_id)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_token_debug_is_redacted() {
        let t = AccessToken::new("eyJ.secret.sig");
        assert_eq!(format!("{t:?}"), "AccessToken([redacted])");
        assert_eq!(format!("{t:#?}"), "AccessToken([redacted])");
    }

    #[test]
    fn result_debug_is_redacted() {
        let token = Arc::new(CachedToken {
            access_token: AccessToken::new("eyJ.secret.sig"),
            token_type: "Bearer".into(),
            scopes: Scopes::new(["a"]).unwrap(),
            expires_on: 10,
            ext_expires_on: None.into(),
            refresh_on: None.into(),
            tenant_id: None,
        });
        let r = AuthenticationResult::new(token, TokenSource::Network, None);
        assert!(!format!("{r:?}").contains("secret"));
    }
}
