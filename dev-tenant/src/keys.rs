//! Signing keys (RSA 2048, RS256) with self-signed certificates, the JWKS, rotation, and the
//! public keys registered for `private_key_jwt` client assertions.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lc_rs::digest;
use aws_lc_rs::rsa::KeyPair as RsaKeyPair;
use aws_lc_rs::signature::{self, KeyPair as _, UnparsedPublicKey};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};

use crate::Error;

/// One RSA signing key with its self-signed certificate (for `x5c`/`x5t` in the JWKS).
pub(crate) struct SigningKey {
    kid: String,
    pair: RsaKeyPair,
    jwk: Value,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Generates a 2048-bit RSA key and a self-signed certificate for it. Like Entra, the `kid`
    /// is the certificate's SHA-1 thumbprint (`x5t`).
    pub(crate) fn generate(issuer: &str) -> Result<Self, Error> {
        let crypto = |e: rcgen::Error| Error::Crypto(e.to_string());
        let key =
            rcgen::KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048)
                .map_err(crypto)?;
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(crypto)?;
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "dev-tenant token signing");
        let cert = params.self_signed(&key).map_err(crypto)?;
        let pair = RsaKeyPair::from_pkcs8(&key.serialize_der())
            .map_err(|e| Error::Crypto(e.to_string()))?;
        let der: &[u8] = cert.der();
        let x5t = URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, der));
        let public = pair.public_key();
        let n = URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero());
        let e = URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero());
        let jwk = json!({
            "kty": "RSA",
            "use": "sig",
            "kid": x5t,
            "x5t": x5t,
            "n": n,
            "e": e,
            "x5c": [STANDARD.encode(der)],
            "alg": "RS256",
            "issuer": issuer,
        });
        Ok(Self {
            kid: x5t,
            pair,
            jwk,
        })
    }

    pub(crate) fn kid(&self) -> &str {
        &self.kid
    }

    /// RS256 signature of `message`.
    pub(crate) fn sign(&self, message: &[u8]) -> Vec<u8> {
        let mut sig = vec![0; self.pair.public_modulus_len()];
        let rng = aws_lc_rs::rand::SystemRandom::new();
        // Invariant: the buffer has the modulus length and RS256 signing with a valid key pair
        // cannot fail; an error here would be a bug in aws-lc.
        if self
            .pair
            .sign(&signature::RSA_PKCS1_SHA256, &rng, message, &mut sig)
            .is_err()
        {
            tracing::error!("RSA signing failed");
        }
        sig
    }

    /// Verifies an RS256 signature made by this key.
    pub(crate) fn verify(&self, message: &[u8], sig: &[u8]) -> bool {
        UnparsedPublicKey::new(
            &signature::RSA_PKCS1_2048_8192_SHA256,
            self.pair.public_key().as_ref(),
        )
        .verify(message, sig)
        .is_ok()
    }
}

/// The current signing key plus retired keys still published for a grace period.
#[derive(Debug)]
pub(crate) struct KeySet {
    current: Arc<SigningKey>,
    retired: Vec<(Arc<SigningKey>, Instant)>,
}

impl KeySet {
    pub(crate) fn new(current: SigningKey) -> Self {
        Self {
            current: Arc::new(current),
            retired: Vec::new(),
        }
    }

    pub(crate) fn current(&self) -> Arc<SigningKey> {
        Arc::clone(&self.current)
    }

    /// Makes `next` current; the old key stays published for `grace` (not at all when zero).
    pub(crate) fn rotate(&mut self, next: SigningKey, grace: Duration) {
        let old = std::mem::replace(&mut self.current, Arc::new(next));
        if !grace.is_zero() {
            self.retired.push((old, Instant::now() + grace));
        }
    }

    /// The published keys: current first, then unexpired retired keys.
    pub(crate) fn published(&self) -> Vec<Arc<SigningKey>> {
        let now = Instant::now();
        std::iter::once(Arc::clone(&self.current))
            .chain(
                self.retired
                    .iter()
                    .filter(|(_, until)| *until > now)
                    .map(|(k, _)| Arc::clone(k)),
            )
            .collect()
    }

    pub(crate) fn prune(&mut self) {
        let now = Instant::now();
        self.retired.retain(|(_, until)| *until > now);
    }

    pub(crate) fn jwks(&self) -> Value {
        json!({ "keys": self.published().iter().map(|k| k.jwk.clone()).collect::<Vec<_>>() })
    }
}

/// A public key registered for an app's `private_key_jwt` client assertions.
#[derive(Clone, Debug)]
pub(crate) struct RegisteredKey {
    /// DER `SubjectPublicKeyInfo` or PKCS#1 `RSAPublicKey`.
    public_der: Vec<u8>,
    /// base64url SHA-256 of the certificate DER (`x5t#S256`), when a certificate was given.
    pub(crate) x5t_s256: Option<String>,
    /// base64url SHA-1 of the certificate DER (`x5t`), when a certificate was given.
    pub(crate) x5t: Option<String>,
}

impl RegisteredKey {
    /// Verifies a JWS signature with `alg` RS256 or PS256.
    pub(crate) fn verify(&self, alg: &str, message: &[u8], sig: &[u8]) -> bool {
        let params: &signature::RsaParameters = match alg {
            "RS256" => &signature::RSA_PKCS1_2048_8192_SHA256,
            "PS256" => &signature::RSA_PSS_2048_8192_SHA256,
            _ => return false,
        };
        UnparsedPublicKey::new(params, &self.public_der)
            .verify(message, sig)
            .is_ok()
    }
}

/// Reads a PEM `CERTIFICATE`, `PUBLIC KEY` or `RSA PUBLIC KEY` holding an RSA key.
pub(crate) fn public_key_from_pem(pem: &str) -> Result<RegisteredKey, Error> {
    let bad = |m: &str| Error::InvalidConfig(format!("certificate: {m}"));
    let (label, der) = pem_decode(pem).ok_or_else(|| bad("not PEM"))?;
    let key = match label.as_str() {
        "CERTIFICATE" => {
            let spki = certificate_spki(&der).ok_or_else(|| bad("not an X.509 certificate"))?;
            RegisteredKey {
                public_der: spki.to_vec(),
                x5t_s256: Some(URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, &der))),
                x5t: Some(
                    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, &der)),
                ),
            }
        }
        "PUBLIC KEY" | "RSA PUBLIC KEY" => RegisteredKey {
            public_der: der,
            x5t_s256: None,
            x5t: None,
        },
        _ => return Err(bad("expected CERTIFICATE or PUBLIC KEY")),
    };
    aws_lc_rs::rsa::PublicKey::from_der(&key.public_der)
        .map_err(|_| bad("not an RSA public key"))?;
    Ok(key)
}

/// The first PEM block: its label and decoded bytes.
fn pem_decode(pem: &str) -> Option<(String, Vec<u8>)> {
    let start = pem.find("-----BEGIN ")?;
    let rest = &pem[start + 11..];
    let label_end = rest.find("-----")?;
    let label = rest[..label_end].to_owned();
    let body = &rest[label_end + 5..];
    let end = body.find(&format!("-----END {label}-----"))?;
    let b64: String = body[..end].chars().filter(|c| !c.is_whitespace()).collect();
    Some((label, STANDARD.decode(b64).ok()?))
}

/// One DER TLV: (tag, whole element, content, rest).
type Tlv<'a> = (u8, &'a [u8], &'a [u8], &'a [u8]);

fn der_next(input: &[u8]) -> Option<Tlv<'_>> {
    let (&tag, rest) = input.split_first()?;
    let (&len0, mut rest) = rest.split_first()?;
    let len = if len0 < 0x80 {
        usize::from(len0)
    } else {
        let n = usize::from(len0 & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        rest = &rest[n..];
        len
    };
    if rest.len() < len {
        return None;
    }
    let header = input.len() - rest.len();
    Some((tag, &input[..header + len], &rest[..len], &rest[len..]))
}

/// The `subjectPublicKeyInfo` element of an X.509 certificate (RFC 5280 section 4.1).
fn certificate_spki(der: &[u8]) -> Option<&[u8]> {
    let (0x30, _, cert, _) = der_next(der)? else {
        return None;
    };
    let (0x30, _, tbs, _) = der_next(cert)? else {
        return None;
    };
    let mut rest = tbs;
    let (tag, _, _, after) = der_next(rest)?;
    if tag == 0xa0 {
        rest = after; // explicit version
    }
    // serialNumber, signature, issuer, validity, subject
    for _ in 0..5 {
        rest = der_next(rest)?.3;
    }
    let (0x30, spki, _, _) = der_next(rest)? else {
        return None;
    };
    Some(spki)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_key_signs_and_verifies() {
        let k = SigningKey::generate("https://issuer").unwrap();
        let sig = k.sign(b"hello");
        assert!(k.verify(b"hello", &sig));
        assert!(!k.verify(b"hellp", &sig));
        assert_eq!(k.jwk["kid"], k.kid());
        assert_eq!(k.jwk["e"], "AQAB");
    }

    #[test]
    fn rotation_with_and_without_grace() {
        let mut set = KeySet::new(SigningKey::generate("i").unwrap());
        let first = set.current().kid().to_owned();
        set.rotate(
            SigningKey::generate("i").unwrap(),
            Duration::from_secs(3600),
        );
        assert_eq!(set.published().len(), 2);
        assert!(set.published().iter().any(|k| k.kid() == first));
        let second = set.current().kid().to_owned();
        set.rotate(SigningKey::generate("i").unwrap(), Duration::ZERO);
        let kids: Vec<String> = set.published().iter().map(|k| k.kid().to_owned()).collect();
        assert_eq!(kids.len(), 2, "the first key is still in its grace period");
        assert!(kids.contains(&first));
        assert!(
            !kids.contains(&second),
            "grace zero removes the old key at once"
        );
    }

    #[test]
    fn reads_rcgen_certificate_and_public_key() {
        let key =
            rcgen::KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048)
                .unwrap();
        let cert = rcgen::CertificateParams::new(vec!["daemon".to_owned()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let reg = public_key_from_pem(&cert.pem()).unwrap();
        assert!(reg.x5t_s256.is_some());
        let pair = RsaKeyPair::from_pkcs8(&key.serialize_der()).unwrap();
        let mut sig = vec![0; pair.public_modulus_len()];
        pair.sign(
            &signature::RSA_PSS_SHA256,
            &aws_lc_rs::rand::SystemRandom::new(),
            b"m",
            &mut sig,
        )
        .unwrap();
        assert!(reg.verify("PS256", b"m", &sig));
        assert!(!reg.verify("RS256", b"m", &sig));
        assert!(!reg.verify("none", b"m", &sig));
        let spki = public_key_from_pem(&key.public_key_pem()).unwrap();
        assert!(spki.verify("PS256", b"m", &sig));
    }

    #[test]
    fn rejects_garbage_pem() {
        for input in [
            "",
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----",
            "-----BEGIN X-----\n-----END X-----",
            "-----BEGIN CERTIFICATE-----\n!!\n-----END CERTIFICATE-----",
        ] {
            assert!(public_key_from_pem(input).is_err(), "{input}");
        }
        assert!(certificate_spki(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]).is_none());
    }
}
