//! Parsing a JWKS document into ready-to-verify keys (RFC 7517), and looking a key up.

use std::sync::Arc;

use aws_lc_rs::signature::{self, ParsedPublicKey, RsaPublicKeyComponents};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;

use crate::algorithm::Algorithm;
use crate::fetch::FetchError;

/// One usable verification key.
struct VerifyingKey {
    alg: Algorithm,
    key: ParsedPublicKey,
    /// The JWK's `issuer` member, which Entra publishes on keys in its JWKS (with `{tenantid}`
    /// in the `common` and `organizations` key sets).
    issuer: Option<Arc<str>>,
}

/// An immutable snapshot of the signing keys.
pub(crate) struct KeySet {
    pub(crate) generation: u64,
    keys: hashbrown::HashMap<Box<str>, Vec<VerifyingKey>, foldhash::fast::RandomState>,
}

impl KeySet {
    /// How many key ids the set holds.
    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub(crate) fn empty() -> Self {
        Self {
            generation: 0,
            keys: hashbrown::HashMap::default(),
        }
    }

    pub(crate) fn find(&self, kid: &str, alg: Algorithm) -> KeyLookup<'_> {
        let Some(keys) = self.keys.get(kid) else {
            return KeyLookup::Missing;
        };
        match keys.iter().find(|k| k.alg == alg) {
            Some(k) => KeyLookup::Found(&k.key, k.issuer.as_ref()),
            None => KeyLookup::WrongAlgorithm,
        }
    }

    pub(crate) fn same_keys(&self, other: &Self) -> bool {
        self.keys.len() == other.keys.len()
            && self.keys.iter().all(|(kid, keys)| {
                other.keys.get(kid).is_some_and(|o| {
                    o.len() == keys.len()
                        && keys
                            .iter()
                            .zip(o)
                            .all(|(a, b)| a.alg == b.alg && a.key.as_ref() == b.key.as_ref())
                })
            })
    }
}

#[derive(Deserialize)]
struct JwksDoc {
    keys: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct Jwk {
    kty: String,
    #[serde(rename = "use")]
    use_: Option<String>,
    alg: Option<String>,
    kid: Option<String>,
    n: Option<String>,
    e: Option<String>,
    crv: Option<String>,
    x: Option<String>,
    y: Option<String>,
    issuer: Option<String>,
}

/// Parses a JWKS document into a key set, keeping only usable signing keys.
pub(crate) fn parse_jwks(json: &[u8], allowed: &[Algorithm]) -> Result<KeySet, FetchError> {
    let doc: JwksDoc =
        serde_json::from_slice(json).map_err(|_| FetchError::Invalid("not a jwks document"))?;
    let mut set = KeySet::empty();
    for value in doc.keys {
        // One malformed key must not take the others down with it.
        let Ok(jwk) = serde_json::from_value::<Jwk>(value) else {
            continue;
        };
        let Some(kid) = jwk.kid.as_deref() else {
            continue;
        };
        if jwk.use_.as_deref().is_some_and(|u| u != "sig") {
            continue;
        }
        let candidates: Vec<Algorithm> = match jwk.alg.as_deref() {
            Some(name) => match Algorithm::from_name(name) {
                Some(alg) if allowed.contains(&alg) => vec![alg],
                _ => continue,
            },
            None => allowed.to_vec(),
        };
        let mut keys = Vec::new();
        for alg in candidates {
            if let Some(key) = parse_key(&jwk, alg) {
                keys.push(VerifyingKey {
                    alg,
                    key,
                    issuer: jwk.issuer.as_deref().map(Arc::from),
                });
            }
        }
        if !keys.is_empty() {
            set.keys.entry(kid.into()).or_insert(keys);
        }
    }
    if set.keys.is_empty() {
        return Err(FetchError::Invalid("no usable signing keys"));
    }
    Ok(set)
}

fn parse_key(jwk: &Jwk, alg: Algorithm) -> Option<ParsedPublicKey> {
    if alg.is_rsa() {
        if jwk.kty != "RSA" {
            return None;
        }
        let n = URL_SAFE_NO_PAD.decode(jwk.n.as_deref()?).ok()?;
        let e = URL_SAFE_NO_PAD.decode(jwk.e.as_deref()?).ok()?;
        let n = strip_leading_zeros(&n);
        // RFC 7518 §3.3: keys of 2048 bits or larger MUST be used.
        if n.len() < 256 {
            return None;
        }
        let params = match alg {
            Algorithm::Ps256 => &signature::RSA_PSS_2048_8192_SHA256,
            _ => &signature::RSA_PKCS1_2048_8192_SHA256,
        };
        RsaPublicKeyComponents {
            n,
            e: strip_leading_zeros(&e),
        }
        .to_parsed_public_key(params)
        .ok()
    } else {
        if jwk.kty != "EC" || jwk.crv.as_deref() != Some("P-256") {
            return None;
        }
        let x = URL_SAFE_NO_PAD.decode(jwk.x.as_deref()?).ok()?;
        let y = URL_SAFE_NO_PAD.decode(jwk.y.as_deref()?).ok()?;
        if x.len() != 32 || y.len() != 32 {
            return None;
        }
        let mut point = Vec::with_capacity(65);
        point.push(4);
        point.extend_from_slice(&x);
        point.extend_from_slice(&y);
        ParsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point).ok()
    }
}

fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    &bytes[start..]
}

/// A key lookup in one key set.
pub(crate) enum KeyLookup<'a> {
    /// The key, and its `issuer` when the JWKS publishes one.
    Found(&'a ParsedPublicKey, Option<&'a Arc<str>>),
    /// The `kid` exists, but not for the token's `alg` (algorithm confusion, or a key restricted
    /// to another algorithm): never a reason to refetch.
    WrongAlgorithm,
    Missing,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rsa_jwk(kid: &str, extra: &str) -> String {
        let n = URL_SAFE_NO_PAD.encode([0xC1u8; 256]);
        format!(r#"{{"kty":"RSA","kid":"{kid}","n":"{n}","e":"AQAB"{extra}}}"#)
    }

    #[test]
    fn ignores_unusable_keys() {
        let short_n = URL_SAFE_NO_PAD.encode([0xC1u8; 128]);
        let json = format!(
            r#"{{"keys":[{},{},{},{},{},{{"kty":"RSA","kid":"short","n":"{short_n}","e":"AQAB"}},{{"kty":"oct","kid":"hmac","k":"AAAA"}},{}]}}"#,
            rsa_jwk("good", r#","use":"sig","alg":"RS256""#),
            rsa_jwk("enc", r#","use":"enc""#),
            rsa_jwk("ps", r#","alg":"PS256""#),
            rsa_jwk("hs", r#","alg":"HS256""#),
            rsa_jwk("noalg", ""),
            r#"{"kty":"RSA","n":"AQAB","e":"AQAB"}"#,
        );
        let set = parse_jwks(json.as_bytes(), &[Algorithm::Rs256]).unwrap();
        let found = |set: &KeySet, kid, alg| matches!(set.find(kid, alg), KeyLookup::Found(..));
        assert!(found(&set, "good", Algorithm::Rs256));
        assert!(found(&set, "noalg", Algorithm::Rs256));
        for kid in ["enc", "ps", "hs", "short", "hmac"] {
            assert!(!found(&set, kid, Algorithm::Rs256), "{kid}");
        }
        let set = parse_jwks(json.as_bytes(), &[Algorithm::Rs256, Algorithm::Ps256]).unwrap();
        assert!(found(&set, "ps", Algorithm::Ps256));
        assert!(matches!(
            set.find("ps", Algorithm::Rs256),
            KeyLookup::WrongAlgorithm
        ));
        assert!(found(&set, "noalg", Algorithm::Ps256));
    }

    #[test]
    fn empty_or_invalid_documents_are_errors() {
        assert!(parse_jwks(b"{}", &[Algorithm::Rs256]).is_err());
        assert!(parse_jwks(br#"{"keys":[]}"#, &[Algorithm::Rs256]).is_err());
        assert!(parse_jwks(b"not json", &[Algorithm::Rs256]).is_err());
    }
}
