//! Client assertions (RFC 7521, RFC 7523 `private_key_jwt`): the newtype, the user callback for
//! federated credentials, and JWT signing for certificates.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{RSA_PKCS1_SHA256, RSA_PSS_SHA256, RsaKeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::Error;
use crate::error::BoxError;
use crate::http::BoxFuture;

/// `client_assertion_type` for a JWT client assertion (RFC 7523 §2.2).
pub(crate) const JWT_BEARER_ASSERTION_TYPE: &str =
    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// A signed client assertion (a JWT proving the client's identity).
///
/// `Debug` prints `[redacted]`; there is no `Display`.
///
/// ```
/// use msal_lite::ClientAssertion;
/// let a = ClientAssertion::new("eyJ...");
/// assert_eq!(format!("{a:?}"), "ClientAssertion([redacted])");
/// ```
#[derive(Clone)]
pub struct ClientAssertion(Arc<str>);

impl ClientAssertion {
    /// Wraps a signed assertion.
    pub fn new(assertion: impl Into<Arc<str>>) -> Self {
        Self(assertion.into())
    }

    /// The assertion itself.
    ///
    /// # Security Warning
    ///
    /// It authenticates the client until it expires: do not log it.
    ///
    /// ```
    /// assert_eq!(msal_lite::ClientAssertion::new("x").secret(), "x");
    /// ```
    pub fn secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ClientAssertion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientAssertion([redacted])")
    }
}

/// What an assertion callback is asked for.
///
/// ```
/// # fn demo(request: msal_lite::AssertionRequest) {
/// println!("assertion for {} at {}", request.client_id(), request.token_endpoint());
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct AssertionRequest {
    pub(crate) client_id: Arc<str>,
    pub(crate) token_endpoint: Arc<str>,
}

impl AssertionRequest {
    /// The client id (the assertion's `iss` and `sub`).
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The token endpoint (the assertion's `aud`).
    pub fn token_endpoint(&self) -> &str {
        &self.token_endpoint
    }
}

/// Supplies client assertions, e.g. a federated credential from a workload identity (a
/// Kubernetes service-account token). Any `Fn(AssertionRequest) -> impl Future<Output =
/// Result<ClientAssertion, E>>` closure is one. It is called for every network request.
///
/// ```
/// use msal_lite::{AssertionRequest, ClientAssertion, ClientCredential};
///
/// let credential = ClientCredential::from_assertion_callback(|_request: AssertionRequest| async {
///     let token = std::fs::read_to_string("/var/run/secrets/tokens/azure-identity-token")?;
///     Ok::<_, std::io::Error>(ClientAssertion::new(token.trim()))
/// });
/// ```
pub trait AssertionCallback: Send + Sync + 'static {
    /// Returns a signed assertion for `request`.
    fn assertion(
        &self,
        request: AssertionRequest,
    ) -> BoxFuture<'_, Result<ClientAssertion, BoxError>>;
}

impl<F, Fut, E> AssertionCallback for F
where
    F: Fn(AssertionRequest) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<ClientAssertion, E>> + Send + 'static,
    E: Into<Box<dyn std::error::Error + Send + Sync>> + 'static,
{
    fn assertion(
        &self,
        request: AssertionRequest,
    ) -> BoxFuture<'_, Result<ClientAssertion, BoxError>> {
        let fut = self(request);
        Box::pin(async move { fut.await.map_err(|e| BoxError::from(e.into())) })
    }
}

/// The JWS algorithm used to sign certificate assertions.
///
/// ```
/// use msal_lite::SigningAlgorithm;
/// assert_eq!(SigningAlgorithm::default(), SigningAlgorithm::Ps256);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SigningAlgorithm {
    /// RSASSA-PSS with SHA-256 (RFC 7518 §3.5), which Microsoft's certificate-credential
    /// documentation recommends.
    #[default]
    Ps256,
    /// RSASSA-PKCS1-v1_5 with SHA-256 (RFC 7518 §3.3).
    Rs256,
}

impl SigningAlgorithm {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Ps256 => "PS256",
            Self::Rs256 => "RS256",
        }
    }
}

/// Signs `header.claims` as a compact JWS (RFC 7515 §7.1).
pub(crate) fn sign_jwt(
    key: &RsaKeyPair,
    algorithm: SigningAlgorithm,
    header: &serde_json::Value,
    claims: &serde_json::Value,
) -> Result<String, Error> {
    let mut jwt = URL_SAFE_NO_PAD.encode(header.to_string());
    jwt.push('.');
    URL_SAFE_NO_PAD.encode_string(claims.to_string(), &mut jwt);
    let padding = match algorithm {
        SigningAlgorithm::Ps256 => &RSA_PSS_SHA256,
        SigningAlgorithm::Rs256 => &RSA_PKCS1_SHA256,
    };
    let mut signature = vec![0u8; key.public_modulus_len()];
    key.sign(
        padding,
        &SystemRandom::new(),
        jwt.as_bytes(),
        &mut signature,
    )
    .map_err(|_| Error::credential("signing the client assertion failed"))?;
    jwt.push('.');
    URL_SAFE_NO_PAD.encode_string(&signature, &mut jwt);
    Ok(jwt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let a = ClientAssertion::new("eyJhbGciOi.secret.sig");
        assert_eq!(format!("{a:?}"), "ClientAssertion([redacted])");
        assert!(!format!("{a:#?}").contains("secret"));
    }
}
