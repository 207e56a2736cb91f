//! Certificate credentials: an RSA private key plus its X.509 certificate, turned into a
//! `private_key_jwt` client assertion (Microsoft identity platform: "Certificate credentials").

use std::fmt;
use std::sync::Mutex;

use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::signature::{KeyPair as _, RsaKeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::json;

use super::assertion::{SigningAlgorithm, sign_jwt};
use crate::{CorrelationId, Error};

/// Assertion lifetime. Entra accepts at most 10 minutes between `nbf` and `exp`; a short life
/// limits what a leaked assertion is worth.
const ASSERTION_LIFETIME_SECS: u64 = 300;
/// Sign a new assertion when the cached one has less than this left, so it cannot expire while
/// the request is in flight (or being retried).
const ASSERTION_RENEW_BEFORE_SECS: u64 = 60;

/// An RSA certificate credential.
///
/// Loaded from PEM (PKCS#8 `PRIVATE KEY` or PKCS#1 `RSA PRIVATE KEY`, plus one or more
/// `CERTIFICATE` blocks, leaf first) or DER. Each token request carries a JWT signed with the
/// key (`private_key_jwt`, RFC 7523) whose header names the certificate by its SHA-256
/// thumbprint (`x5t#S256`). The JWT is reused until shortly before it expires.
///
/// `Debug` shows the thumbprint but never the key.
///
/// ```no_run
/// use msal_lite::{Certificate, SigningAlgorithm};
/// let cert = std::fs::read_to_string("app.crt")?;
/// let key = std::fs::read_to_string("app.key")?;
/// let certificate = Certificate::from_pem(&cert, &key)?
///     .with_x5c(true)
///     .with_algorithm(SigningAlgorithm::Ps256);
/// println!("{certificate:?}");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Certificate {
    key: RsaKeyPair,
    chain: Vec<Vec<u8>>,
    thumbprint_sha256: String,
    send_x5c: bool,
    algorithm: SigningAlgorithm,
    cached: Mutex<Option<CachedAssertion>>,
}

struct CachedAssertion {
    audience: Box<str>,
    client_id: Box<str>,
    assertion: std::sync::Arc<str>,
    renew_at: u64,
}

impl Certificate {
    /// Loads a certificate and its private key from PEM text. Both arguments may be the same
    /// text when one file holds both. Encrypted keys are not supported.
    pub fn from_pem(certificate_pem: &str, private_key_pem: &str) -> Result<Self, Error> {
        let chain: Vec<Vec<u8>> = pem_blocks(certificate_pem)?
            .into_iter()
            .filter(|(label, _)| label == "CERTIFICATE")
            .map(|(_, der)| der)
            .collect();
        if chain.is_empty() {
            return Err(Error::credential(
                "no CERTIFICATE block in the certificate PEM",
            ));
        }
        let mut key = None;
        for (label, der) in pem_blocks(private_key_pem)? {
            match label.as_str() {
                "PRIVATE KEY" | "RSA PRIVATE KEY" => {
                    key = Some(der);
                    break;
                }
                "ENCRYPTED PRIVATE KEY" => {
                    return Err(Error::credential(
                        "encrypted private keys are not supported",
                    ));
                }
                _ => {}
            }
        }
        let key = key.ok_or_else(|| Error::credential("no PRIVATE KEY block in the key PEM"))?;
        Self::from_der_chain(chain, &key)
    }

    /// Loads a DER certificate and a DER private key (PKCS#8 or PKCS#1).
    ///
    /// ```no_run
    /// let certificate = msal_lite::Certificate::from_der(
    ///     &std::fs::read("app.crt.der")?,
    ///     &std::fs::read("app.key.der")?,
    /// )?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_der(certificate_der: &[u8], private_key_der: &[u8]) -> Result<Self, Error> {
        Self::from_der_chain(vec![certificate_der.to_vec()], private_key_der)
    }

    fn from_der_chain(chain: Vec<Vec<u8>>, key_der: &[u8]) -> Result<Self, Error> {
        let key = RsaKeyPair::from_pkcs8(key_der)
            .or_else(|_| RsaKeyPair::from_der(key_der))
            .map_err(|_| {
                Error::credential("the private key is not an RSA key in PKCS#8 or PKCS#1 DER")
            })?;
        let leaf = &chain[0];
        // The certificate's SubjectPublicKeyInfo holds the RSAPublicKey DER verbatim, so a
        // byte search is an exact match check without an X.509 parser.
        let public = key.public_key().as_ref();
        if public.is_empty() || !leaf.windows(public.len()).any(|w| w == public) {
            return Err(Error::credential(
                "the private key does not match the certificate",
            ));
        }
        let thumbprint_sha256 = URL_SAFE_NO_PAD.encode(digest(&SHA256, leaf));
        Ok(Self {
            key,
            chain,
            thumbprint_sha256,
            send_x5c: false,
            algorithm: SigningAlgorithm::default(),
            cached: Mutex::new(None),
        })
    }

    /// Sends the certificate chain in the `x5c` header (RFC 7515 §4.1.6), needed for
    /// subject-name/issuer authentication (default off).
    #[must_use]
    pub fn with_x5c(mut self, send: bool) -> Self {
        self.send_x5c = send;
        self
    }

    /// The signing algorithm (default PS256).
    #[must_use]
    pub fn with_algorithm(mut self, algorithm: SigningAlgorithm) -> Self {
        self.algorithm = algorithm;
        self
    }

    /// The base64url SHA-256 thumbprint of the certificate (the `x5t#S256` header value).
    ///
    /// ```no_run
    /// # let certificate: msal_lite::Certificate = todo!();
    /// println!("register the certificate with thumbprint {}", certificate.thumbprint_sha256());
    /// ```
    pub fn thumbprint_sha256(&self) -> &str {
        &self.thumbprint_sha256
    }

    /// A signed assertion for `audience` (the token endpoint), reused while it has more than a
    /// minute to live.
    pub(crate) fn assertion(
        &self,
        client_id: &str,
        audience: &str,
        now: u64,
    ) -> Result<std::sync::Arc<str>, Error> {
        // A poisoned lock only means another thread panicked while signing; the cache slot is
        // still a valid Option, so keep using it.
        let mut cached = self.cached.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = cached.as_ref()
            && &*c.audience == audience
            && &*c.client_id == client_id
            && now < c.renew_at
        {
            return Ok(c.assertion.clone());
        }
        let assertion: std::sync::Arc<str> = self.sign(client_id, audience, now)?.into();
        *cached = Some(CachedAssertion {
            audience: audience.into(),
            client_id: client_id.into(),
            assertion: assertion.clone(),
            renew_at: now + ASSERTION_LIFETIME_SECS - ASSERTION_RENEW_BEFORE_SECS,
        });
        Ok(assertion)
    }

    fn sign(&self, client_id: &str, audience: &str, now: u64) -> Result<String, Error> {
        let mut header = json!({
            "alg": self.algorithm.name(),
            "typ": "JWT",
            "x5t#S256": self.thumbprint_sha256,
        });
        if self.send_x5c {
            let chain: Vec<String> = self.chain.iter().map(|der| STANDARD.encode(der)).collect();
            header["x5c"] = json!(chain);
        }
        let claims = json!({
            "aud": audience,
            "iss": client_id,
            "sub": client_id,
            "jti": CorrelationId::random().to_string(),
            "nbf": now,
            "iat": now,
            "exp": now + ASSERTION_LIFETIME_SECS,
        });
        sign_jwt(&self.key, self.algorithm, &header, &claims)
    }
}

impl fmt::Debug for Certificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Certificate")
            .field("thumbprint_sha256", &self.thumbprint_sha256)
            .field("algorithm", &self.algorithm)
            .field("send_x5c", &self.send_x5c)
            .field("private_key", &"[redacted]")
            .finish()
    }
}

/// Splits PEM text into `(label, der)` blocks (RFC 7468), ignoring text between blocks.
fn pem_blocks(pem: &str) -> Result<Vec<(String, Vec<u8>)>, Error> {
    let mut blocks = Vec::new();
    let mut rest = pem;
    while let Some(start) = rest.find("-----BEGIN ") {
        let after = &rest[start + "-----BEGIN ".len()..];
        let label_end = after
            .find("-----")
            .ok_or_else(|| Error::credential("malformed PEM header"))?;
        let label = &after[..label_end];
        let body_start = &after[label_end + "-----".len()..];
        let end_marker = format!("-----END {label}-----");
        let body_end = body_start
            .find(&end_marker)
            .ok_or_else(|| Error::credential("PEM block has no END line"))?;
        let body: String = body_start[..body_end]
            .chars()
            .filter(|c| !c.is_ascii_whitespace())
            .collect();
        let der = STANDARD
            .decode(body)
            .map_err(|_| Error::credential("PEM body is not base64"))?;
        blocks.push((label.to_owned(), der));
        rest = &body_start[body_end + end_marker.len()..];
    }
    Ok(blocks)
}

#[cfg(test)]
pub(crate) mod tests {
    use aws_lc_rs::signature::{
        RSA_PKCS1_2048_8192_SHA256, RSA_PSS_2048_8192_SHA256, UnparsedPublicKey,
    };

    use super::*;

    /// A fresh self-signed RSA certificate: (certificate PEM, PKCS#8 key PEM).
    pub(crate) fn test_certificate() -> (String, String) {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).unwrap();
        let cert = rcgen::CertificateParams::new(vec!["msal-lite-test".to_owned()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        (cert.pem(), key.serialize_pem())
    }

    fn decode_part(part: &str) -> serde_json::Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
    }

    #[test]
    fn assertion_shape_signature_and_reuse() {
        let (cert_pem, key_pem) = test_certificate();
        let cert = Certificate::from_pem(&cert_pem, &key_pem).unwrap();
        let der = pem_blocks(&cert_pem).unwrap().remove(0).1;
        assert_eq!(
            cert.thumbprint_sha256(),
            URL_SAFE_NO_PAD.encode(digest(&SHA256, &der))
        );
        for (algorithm, verifier) in [
            (SigningAlgorithm::Ps256, &RSA_PSS_2048_8192_SHA256),
            (SigningAlgorithm::Rs256, &RSA_PKCS1_2048_8192_SHA256),
        ] {
            let cert = Certificate::from_pem(&cert_pem, &key_pem)
                .unwrap()
                .with_algorithm(algorithm)
                .with_x5c(true);
            let aud = "https://login.microsoftonline.com/tid/oauth2/v2.0/token";
            let jwt = cert.assertion("client", aud, 1_000).unwrap();
            let parts: Vec<&str> = jwt.split('.').collect();
            assert_eq!(parts.len(), 3);
            let header = decode_part(parts[0]);
            assert_eq!(header["alg"], algorithm.name());
            assert_eq!(header["typ"], "JWT");
            assert_eq!(header["x5t#S256"], cert.thumbprint_sha256());
            assert_eq!(header["x5c"][0], STANDARD.encode(&der));
            let claims = decode_part(parts[1]);
            assert_eq!(claims["aud"], aud);
            assert_eq!(claims["iss"], "client");
            assert_eq!(claims["sub"], "client");
            assert_eq!(claims["nbf"], 1_000);
            assert_eq!(claims["exp"], 1_000 + ASSERTION_LIFETIME_SECS);
            assert!(claims["jti"].as_str().unwrap().len() == 36);
            let public = cert.key.public_key().as_ref().to_vec();
            UnparsedPublicKey::new(verifier, public)
                .verify(
                    format!("{}.{}", parts[0], parts[1]).as_bytes(),
                    &URL_SAFE_NO_PAD.decode(parts[2]).unwrap(),
                )
                .expect("signature verifies");

            // Reused while fresh, re-signed near expiry and for another audience.
            assert_eq!(cert.assertion("client", aud, 1_100).unwrap(), jwt);
            let renewed = cert
                .assertion(
                    "client",
                    aud,
                    1_000 + ASSERTION_LIFETIME_SECS - ASSERTION_RENEW_BEFORE_SECS,
                )
                .unwrap();
            assert_ne!(renewed, jwt);
            assert_ne!(
                cert.assertion("client", "https://other/token", 1_000)
                    .unwrap(),
                renewed
            );
        }
    }

    #[test]
    fn no_x5c_by_default() {
        let (cert_pem, key_pem) = test_certificate();
        let cert = Certificate::from_pem(&cert_pem, &key_pem).unwrap();
        let jwt = cert.assertion("c", "https://a/token", 5).unwrap();
        let header = decode_part(jwt.split('.').next().unwrap());
        assert!(header.get("x5c").is_none());
        assert_eq!(header["alg"], "PS256");
    }

    #[test]
    fn rejects_mismatched_key_and_bad_pem() {
        let (cert_pem, _) = test_certificate();
        let (_, other_key) = test_certificate();
        let e = Certificate::from_pem(&cert_pem, &other_key).unwrap_err();
        assert!(e.to_string().contains("does not match"));
        assert!(Certificate::from_pem("", &other_key).is_err());
        assert!(
            Certificate::from_pem(
                &cert_pem,
                "-----BEGIN PRIVATE KEY-----\n!!!\n-----END PRIVATE KEY-----"
            )
            .is_err()
        );
        assert!(
            Certificate::from_pem(
                &cert_pem,
                "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----"
            )
            .unwrap_err()
            .to_string()
            .contains("encrypted")
        );
        assert!(Certificate::from_pem("-----BEGIN CERTIFICATE-----\nAAAA", &other_key).is_err());
    }

    #[test]
    fn debug_never_shows_the_key() {
        let (cert_pem, key_pem) = test_certificate();
        let cert = Certificate::from_pem(&cert_pem, &key_pem).unwrap();
        let debug = format!("{cert:?}");
        assert!(debug.contains("private_key: \"[redacted]\""));
        assert!(debug.contains(cert.thumbprint_sha256()));
        let key_body: String = key_pem.lines().nth(1).unwrap().chars().take(20).collect();
        assert!(!debug.contains(&key_body));
    }

    #[test]
    fn pem_bundle_with_both_blocks() {
        let (cert_pem, key_pem) = test_certificate();
        let bundle = format!("subject=...\n{key_pem}\n{cert_pem}");
        assert!(Certificate::from_pem(&bundle, &bundle).is_ok());
    }
}
