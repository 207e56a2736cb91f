//! Certificate credentials: an RSA private key plus its X.509 certificate, turned into a
//! `private_key_jwt` client assertion (Microsoft identity platform: "Certificate credentials").

use std::fmt;
use std::sync::Mutex;

use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::signature::{KeyPair as _, RsaKeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rustls_pki_types::pem::{PemObject, SectionKind};
use serde_json::json;

use super::assertion::{SigningAlgorithm, sign_jwt};
use crate::{CorrelationId, Error};

/// Assertion lifetime. Entra accepts at most 10 minutes between `nbf` and `exp`; a short life
/// limits what a leaked assertion is worth.
const ASSERTION_LIFETIME_SECS: u64 = 300;
/// Sign a new assertion when the cached one has less than this left, so it cannot expire while
/// the request is in flight (or being retried).
const ASSERTION_RENEW_BEFORE_SECS: u64 = 60;
/// Tolerated clock difference when checking the certificate's `notBefore`.
const NOT_BEFORE_SKEW_SECS: u64 = 300;

/// An RSA certificate credential.
///
/// Loaded from PEM (PKCS#8 `PRIVATE KEY` or PKCS#1 `RSA PRIVATE KEY`, plus one or more
/// `CERTIFICATE` blocks, leaf first) or DER. Each token request carries a JWT signed with the
/// key (`private_key_jwt`, RFC 7523) whose header names the certificate by its SHA-256
/// thumbprint (`x5t#S256`).
///
/// Each token request gets a freshly signed assertion with a new `jti` by default, because
/// RFC 7523 §3 lets the server reject a replayed `jti`. With
/// [`reuse_assertions`](Self::reuse_assertions) an assertion is cached per token endpoint and
/// re-signed a minute before it expires, as msal-node does.
///
/// An expired (or not yet valid) certificate is refused locally, before any request, with a
/// clear [`Error::Credential`].
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
    reuse: bool,
    algorithm: SigningAlgorithm,
    /// `notBefore` and `notAfter` in Unix seconds, when the certificate could be read.
    validity: Option<(u64, u64)>,
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
        let chain: Vec<Vec<u8>> = pem_sections(certificate_pem)?
            .into_iter()
            .filter(|(kind, _)| *kind == SectionKind::Certificate)
            .map(|(_, der)| der)
            .collect();
        if chain.is_empty() {
            return Err(Error::credential(
                "no CERTIFICATE block in the certificate PEM",
            ));
        }
        // The PEM reader skips labels it does not know, so an encrypted key would read as "no
        // key"; say what it is instead.
        if private_key_pem.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----") {
            return Err(Error::credential(
                "encrypted private keys are not supported",
            ));
        }
        let key = pem_sections(private_key_pem)?
            .into_iter()
            .find(|(kind, _)| matches!(kind, SectionKind::PrivateKey | SectionKind::RsaPrivateKey))
            .map(|(_, der)| der)
            .ok_or_else(|| Error::credential("no PRIVATE KEY block in the key PEM"))?;
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
        let validity = validity(leaf);
        Ok(Self {
            key,
            chain,
            thumbprint_sha256,
            validity,
            reuse: false,
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

    /// Reuses a signed assertion for later token requests until a minute before it expires
    /// (default off: a fresh assertion, with a new `jti`, per token request).
    #[must_use]
    pub fn reuse_assertions(mut self, reuse: bool) -> Self {
        self.reuse = reuse;
        self
    }

    /// When the certificate expires (its `notAfter`), if it could be read.
    ///
    /// ```no_run
    /// # let certificate: msal_lite::Certificate = todo!();
    /// if let Some(not_after) = certificate.not_after() {
    ///     println!("renew the certificate before {not_after:?}");
    /// }
    /// ```
    pub fn not_after(&self) -> Option<std::time::SystemTime> {
        self.validity
            .map(|(_, not_after)| crate::time::from_unix_seconds(not_after))
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
        if let Some((not_before, not_after)) = self.validity {
            if now > not_after {
                return Err(Error::credential("the certificate has expired"));
            }
            if now.saturating_add(NOT_BEFORE_SKEW_SECS) < not_before {
                return Err(Error::credential("the certificate is not valid yet"));
            }
        }
        if !self.reuse {
            return Ok(self.sign(client_id, audience, now)?.into());
        }
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

/// One DER element: (tag, contents, rest).
fn der_next(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, mut rest) = rest.split_first()?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        rest = &rest[n..];
        len
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

/// `notBefore` and `notAfter` of an X.509 certificate (RFC 5280 §4.1.2.5), in Unix seconds.
fn validity(der: &[u8]) -> Option<(u64, u64)> {
    let (0x30, certificate, _) = der_next(der)? else {
        return None;
    };
    let (0x30, tbs, _) = der_next(certificate)? else {
        return None;
    };
    let mut rest = tbs;
    if rest.first() == Some(&0xa0) {
        rest = der_next(rest)?.2; // explicit version
    }
    rest = der_next(rest)?.2; // serialNumber
    rest = der_next(rest)?.2; // signature
    rest = der_next(rest)?.2; // issuer
    let (0x30, validity, _) = der_next(rest)? else {
        return None;
    };
    let (tag, not_before, rest) = der_next(validity)?;
    let not_before = asn1_time(tag, not_before)?;
    let (tag, not_after, _) = der_next(rest)?;
    Some((not_before, asn1_time(tag, not_after)?))
}

/// UTCTime (`YYMMDDHHMMSSZ`) or GeneralizedTime (`YYYYMMDDHHMMSSZ`) as Unix seconds
/// (RFC 5280 §4.1.2.5.1 and §4.1.2.5.2).
fn asn1_time(tag: u8, value: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(value).ok()?.strip_suffix('Z')?;
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (year, rest) = match (tag, text.len()) {
        (0x17, 12) => {
            let yy: u64 = text[..2].parse().ok()?;
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, &text[2..])
        }
        (0x18, 14) => (text[..4].parse().ok()?, &text[4..]),
        _ => return None,
    };
    let field = |i: usize| rest[i..i + 2].parse::<u64>().ok();
    let (month, day, hour, minute, second) =
        (field(0)?, field(2)?, field(4)?, field(6)?, field(8)?);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let days = days_from_civil(year, month, day)?;
    Some(days * 86_400 + hour * 3_600 + minute * 60 + second)
}

/// Days since 1970-01-01 for a proleptic Gregorian date (H. Hinnant's algorithm); `None`
/// before 1970.
fn days_from_civil(year: u64, month: u64, day: u64) -> Option<u64> {
    let y = if month <= 2 {
        year.checked_sub(1)?
    } else {
        year
    };
    let era = y / 400;
    let yoe = y % 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe).checked_sub(719_468)
}

/// The PEM sections of `pem` (RFC 7468) with their DER bodies, read by rustls-pki-types;
/// text between sections and sections of other kinds are skipped.
fn pem_sections(pem: &str) -> Result<Vec<(SectionKind, Vec<u8>)>, Error> {
    <(SectionKind, Vec<u8>)>::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| Error::credential(pem_error(&error)))
}

/// A message for a PEM syntax error that names no part of the input (it may hold a key).
fn pem_error(error: &rustls_pki_types::pem::Error) -> &'static str {
    use rustls_pki_types::pem::Error as Pem;
    match error {
        Pem::MissingSectionEnd { .. } => "PEM block has no END line",
        Pem::IllegalSectionStart { .. } => "malformed PEM header",
        Pem::Base64Decode(_) => "PEM body is not base64",
        _ => "malformed PEM",
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use aws_lc_rs::signature::{
        RSA_PKCS1_2048_8192_SHA256, RSA_PSS_2048_8192_SHA256, UnparsedPublicKey,
    };

    use super::*;

    const T0: u64 = 1_700_000_000;

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
        let der = pem_sections(&cert_pem).unwrap().remove(0).1;
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
                .with_x5c(true)
                .reuse_assertions(true);
            let aud = "https://login.microsoftonline.com/tid/oauth2/v2.0/token";
            let jwt = cert.assertion("client", aud, T0).unwrap();
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
            assert_eq!(claims["nbf"], T0);
            assert_eq!(claims["exp"], T0 + ASSERTION_LIFETIME_SECS);
            assert!(claims["jti"].as_str().unwrap().len() == 36);
            let public = cert.key.public_key().as_ref().to_vec();
            UnparsedPublicKey::new(verifier, public)
                .verify(
                    format!("{}.{}", parts[0], parts[1]).as_bytes(),
                    &URL_SAFE_NO_PAD.decode(parts[2]).unwrap(),
                )
                .expect("signature verifies");

            // Reused while fresh, re-signed near expiry and for another audience.
            assert_eq!(cert.assertion("client", aud, T0 + 100).unwrap(), jwt);
            let renewed = cert
                .assertion(
                    "client",
                    aud,
                    T0 + ASSERTION_LIFETIME_SECS - ASSERTION_RENEW_BEFORE_SECS,
                )
                .unwrap();
            assert_ne!(renewed, jwt);
            assert_ne!(
                cert.assertion("client", "https://other/token", T0).unwrap(),
                renewed
            );
        }
    }

    #[test]
    fn fresh_assertion_per_request_by_default() {
        let (cert_pem, key_pem) = test_certificate();
        let cert = Certificate::from_pem(&cert_pem, &key_pem).unwrap();
        let a = cert.assertion("c", "https://a/token", T0).unwrap();
        let b = cert.assertion("c", "https://a/token", T0).unwrap();
        assert_ne!(a, b, "a new jti each time");
    }

    #[test]
    fn validity_is_read_and_enforced() {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["expired".to_owned()]).unwrap();
        params.not_before = rcgen::date_time_ymd(2020, 1, 1);
        params.not_after = rcgen::date_time_ymd(2021, 6, 30);
        let cert = params.self_signed(&key).unwrap();
        let cert = Certificate::from_pem(&cert.pem(), &key.serialize_pem()).unwrap();
        // 2020-01-01T00:00:00Z and 2021-06-30T00:00:00Z.
        assert_eq!(cert.validity, Some((1_577_836_800, 1_625_011_200)));
        let e = cert
            .assertion("c", "https://a/token", 1_700_000_000)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid credential: the certificate has expired"
        );
        let e = cert
            .assertion("c", "https://a/token", 1_500_000_000)
            .unwrap_err();
        assert!(e.to_string().contains("not valid yet"));
        assert!(
            cert.assertion("c", "https://a/token", 1_600_000_000)
                .is_ok()
        );
    }

    #[test]
    fn asn1_times() {
        assert_eq!(asn1_time(0x17, b"700101000000Z"), Some(0));
        assert_eq!(asn1_time(0x17, b"491231235959Z"), Some(2_524_607_999));
        assert_eq!(asn1_time(0x18, b"20000229120000Z"), Some(951_825_600));
        assert_eq!(asn1_time(0x18, b"19691231235959Z"), None);
        assert_eq!(asn1_time(0x17, b"7001010000Z"), None);
        assert_eq!(asn1_time(0x17, b"701301000000Z"), None);
        assert_eq!(asn1_time(0x17, "70010100000\u{e9}Z".as_bytes()), None);
        assert_eq!(validity(b"\x30\x84\xff\xff\xff\xff"), None);
        assert_eq!(validity(&[]), None);
    }

    #[test]
    fn no_x5c_by_default() {
        let (cert_pem, key_pem) = test_certificate();
        let cert = Certificate::from_pem(&cert_pem, &key_pem).unwrap();
        let jwt = cert.assertion("c", "https://a/token", T0).unwrap();
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
