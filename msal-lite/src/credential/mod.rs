//! Client credentials: how the confidential client proves who it is to the token endpoint.

use std::fmt;
use std::sync::Arc;

use http::HeaderValue;
use http::header::AUTHORIZATION;

mod assertion;
mod certificate;
mod secret;

pub(crate) use assertion::JWT_BEARER_ASSERTION_TYPE;
pub use assertion::{AssertionCallback, AssertionRequest, ClientAssertion, SigningAlgorithm};
pub use certificate::Certificate;
pub use secret::ClientSecret;

use crate::Error;
use crate::request::TokenRequest;

/// The client's credential: a secret, a certificate, or a callback returning signed assertions.
///
/// ```
/// use msal_lite::{ClientCredential, ClientSecret};
///
/// let in_body = ClientCredential::secret("dev-daemon-secret");          // client_secret_post
/// let basic = ClientCredential::secret_basic("dev-daemon-secret");      // client_secret_basic
/// let from: ClientCredential = ClientSecret::new("dev-daemon-secret").into();
/// assert_eq!(format!("{in_body:?}"), "ClientCredential::Secret([redacted])");
/// # let _ = (basic, from);
/// ```
#[derive(Clone)]
pub struct ClientCredential(Kind);

#[derive(Clone)]
enum Kind {
    Secret {
        secret: Arc<ClientSecret>,
        basic: bool,
    },
    Certificate(Arc<Certificate>),
    Callback(Arc<dyn AssertionCallback>),
}

impl ClientCredential {
    /// A client secret sent in the request body (`client_secret`, RFC 6749 §2.3.1), as MSAL does.
    pub fn secret(secret: impl Into<String>) -> Self {
        Self::from_secret(ClientSecret::new(secret))
    }

    /// A client secret sent as HTTP Basic authentication (`client_secret_basic`, RFC 6749
    /// §2.3.1).
    pub fn secret_basic(secret: impl Into<String>) -> Self {
        Self(Kind::Secret {
            secret: Arc::new(ClientSecret::new(secret)),
            basic: true,
        })
    }

    /// A client secret sent in the request body.
    pub fn from_secret(secret: ClientSecret) -> Self {
        Self(Kind::Secret {
            secret: Arc::new(secret),
            basic: false,
        })
    }

    /// A certificate: each request carries a signed `private_key_jwt` assertion (RFC 7523).
    ///
    /// ```no_run
    /// use msal_lite::{Certificate, ClientCredential};
    /// let pem = std::fs::read_to_string("app.pem")?;
    /// let credential = ClientCredential::from_certificate(Certificate::from_pem(&pem, &pem)?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_certificate(certificate: Certificate) -> Self {
        Self(Kind::Certificate(Arc::new(certificate)))
    }

    /// A callback returning signed client assertions (federated credentials, workload identity).
    pub fn from_assertion_callback(callback: impl AssertionCallback) -> Self {
        Self(Kind::Callback(Arc::new(callback)))
    }

    /// Adds the credential to a token request.
    pub(crate) async fn apply(
        &self,
        client_id: &Arc<str>,
        token_endpoint: &str,
        now: u64,
        request: &mut TokenRequest,
    ) -> Result<(), Error> {
        match &self.0 {
            Kind::Secret {
                secret,
                basic: false,
            } => {
                request.form.push("client_secret", secret.secret());
            }
            Kind::Secret {
                secret,
                basic: true,
            } => {
                let value = secret::basic_authorization(client_id, secret);
                let mut value = HeaderValue::try_from(value).map_err(|_| {
                    Error::credential("the client secret cannot be sent in a header")
                })?;
                value.set_sensitive(true);
                request.headers.insert(AUTHORIZATION, value);
            }
            Kind::Certificate(certificate) => {
                let assertion = certificate.assertion(client_id, token_endpoint, now)?;
                request.form.push(
                    "client_assertion_type",
                    assertion::JWT_BEARER_ASSERTION_TYPE,
                );
                request.form.push("client_assertion", &assertion);
            }
            Kind::Callback(callback) => {
                let assertion = callback
                    .assertion(AssertionRequest {
                        client_id: client_id.clone(),
                        token_endpoint: token_endpoint.into(),
                    })
                    .await
                    .map_err(|source| Error::AssertionCallback { source })?;
                request.form.push(
                    "client_assertion_type",
                    assertion::JWT_BEARER_ASSERTION_TYPE,
                );
                request.form.push("client_assertion", assertion.secret());
            }
        }
        Ok(())
    }
}

impl From<ClientSecret> for ClientCredential {
    fn from(secret: ClientSecret) -> Self {
        Self::from_secret(secret)
    }
}

impl From<Certificate> for ClientCredential {
    fn from(certificate: Certificate) -> Self {
        Self::from_certificate(certificate)
    }
}

impl fmt::Debug for ClientCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Kind::Secret { basic: false, .. } => {
                f.write_str("ClientCredential::Secret([redacted])")
            }
            Kind::Secret { basic: true, .. } => {
                f.write_str("ClientCredential::SecretBasic([redacted])")
            }
            Kind::Certificate(c) => f
                .debug_tuple("ClientCredential::Certificate")
                .field(c)
                .finish(),
            Kind::Callback(_) => f.write_str("ClientCredential::AssertionCallback"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted_for_every_kind() {
        assert_eq!(
            format!("{:?}", ClientCredential::secret("hunter2")),
            "ClientCredential::Secret([redacted])"
        );
        assert_eq!(
            format!("{:?}", ClientCredential::secret_basic("hunter2")),
            "ClientCredential::SecretBasic([redacted])"
        );
        let cb = ClientCredential::from_assertion_callback(|_r: AssertionRequest| async {
            Ok::<_, std::io::Error>(ClientAssertion::new("hunter2"))
        });
        assert_eq!(format!("{cb:?}"), "ClientCredential::AssertionCallback");
        let (cert, key) = certificate::tests::test_certificate();
        let c = ClientCredential::from_certificate(Certificate::from_pem(&cert, &key).unwrap());
        assert!(format!("{c:?}").contains("[redacted]"));
    }

    #[tokio::test]
    async fn secret_in_body_or_basic_header() {
        let id: Arc<str> = "client".into();
        let mut body = TokenRequest::new("https://x/token".parse().unwrap());
        ClientCredential::secret("s3")
            .apply(&id, "https://x/token", 0, &mut body)
            .await
            .unwrap();
        assert_eq!(body.form.encode(), "client_secret=s3");
        assert!(body.headers.get(AUTHORIZATION).is_none());

        let mut basic = TokenRequest::new("https://x/token".parse().unwrap());
        ClientCredential::secret_basic("s3")
            .apply(&id, "https://x/token", 0, &mut basic)
            .await
            .unwrap();
        assert_eq!(basic.form.encode(), "");
        let header = basic.headers.get(AUTHORIZATION).unwrap();
        assert!(header.is_sensitive());
        assert_eq!(header, "Basic Y2xpZW50OnMz");
    }

    #[tokio::test]
    async fn callback_assertion_and_its_failure() {
        let id: Arc<str> = "client".into();
        let ok = ClientCredential::from_assertion_callback(|r: AssertionRequest| async move {
            assert_eq!(r.token_endpoint(), "https://x/token");
            Ok::<_, std::io::Error>(ClientAssertion::new(format!("jwt-for-{}", r.client_id())))
        });
        let mut body = TokenRequest::new("https://x/token".parse().unwrap());
        ok.apply(&id, "https://x/token", 0, &mut body)
            .await
            .unwrap();
        assert_eq!(
            body.form.encode(),
            "client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=jwt-for-client"
        );
        let failing = ClientCredential::from_assertion_callback(|_r: AssertionRequest| async {
            Err::<ClientAssertion, _>(std::io::Error::other("no token file"))
        });
        let mut body = TokenRequest::new("https://x/token".parse().unwrap());
        let e = failing
            .apply(&id, "https://x/token", 0, &mut body)
            .await
            .unwrap_err();
        assert!(matches!(e, Error::AssertionCallback { .. }));
        assert_eq!(
            std::error::Error::source(&e).unwrap().to_string(),
            "no token file"
        );
    }
}
