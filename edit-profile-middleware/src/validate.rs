//! Token validation: compact JWS only, signature, issuer, audience, lifetime, access-token shape.
//!
//! The order of checks is fixed: size cap, structure, header (algorithm allow-list, forbidden
//! members), key lookup, signature, then claims. Claims are parsed once into [`Claims`], after the
//! signature has been verified, and the result is cached by the full token.

use std::fmt;
use std::sync::Arc;

use crate::algorithm::Algorithm;
use crate::builder::ValidatorBuilder;
use crate::cache::ValidationCache;
use crate::claims::Claims;
use crate::clock::{self, TimeFn};
use crate::error::TokenError;
use crate::jwks::{JwksCache, Lookup, Refreshed};
use crate::keys::KeyLookup;
use crate::parse;

/// Validates bearer tokens. Cheap to clone (an `Arc`); share one per issuer between layers.
///
/// ```no_run
/// # async fn f(validator: edit_profile_middleware::Validator, token: &str) {
/// match validator.validate(token).await {
///     Ok(claims) => println!("hello {:?}", claims.oid()),
///     Err(error) => println!("rejected: {error}"),
/// }
/// # }
/// ```
#[derive(Clone)]
pub struct Validator {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) issuers: Vec<String>,
    pub(crate) templates: Vec<(String, String)>,
    pub(crate) tenants: Vec<String>,
    pub(crate) audiences: Vec<String>,
    pub(crate) algorithms: Vec<Algorithm>,
    pub(crate) skew: u64,
    pub(crate) max_token_bytes: usize,
    pub(crate) jwks: JwksCache,
    pub(crate) cache: ValidationCache,
    pub(crate) cache_max_ttl: u64,
    pub(crate) time_fn: Option<TimeFn>,
    pub(crate) authorization_endpoint: Option<String>,
    #[cfg(feature = "__bench")]
    pub(crate) noop: Option<Arc<Claims>>,
}

impl fmt::Debug for Validator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.inner;
        f.debug_struct("Validator")
            .field("issuers", &i.issuers)
            .field("templates", &i.templates)
            .field("tenants", &i.tenants)
            .field("audiences", &i.audiences)
            .field("algorithms", &i.algorithms)
            .field("clock_skew_secs", &i.skew)
            .field("jwks", &i.jwks)
            .field("cache", &i.cache)
            .finish_non_exhaustive()
    }
}

/// The synchronous part of a validation.
pub(crate) enum Step {
    Done(Result<Arc<Claims>, TokenError>),
    /// The `kid` is not in key-set `generation`, and a refresh is allowed.
    NeedKeys(u64),
}

impl Validator {
    /// Start configuring a validator.
    pub fn builder() -> ValidatorBuilder {
        ValidatorBuilder::default()
    }

    /// Benches only: a validator that accepts every token with these claims, without looking at
    /// it, to measure the layer's own cost.
    ///
    /// # Security Warning
    ///
    /// Accepts anything. It exists only behind the private `__bench` feature.
    #[cfg(feature = "__bench")]
    #[doc(hidden)]
    pub fn __insecure_noop(template: &Validator, claims_json: &str) -> Option<Validator> {
        let claims = parse::parse_claims(claims_json.to_owned()).ok()?;
        let t = &template.inner;
        Some(Validator {
            inner: Arc::new(Inner {
                issuers: t.issuers.clone(),
                templates: t.templates.clone(),
                tenants: t.tenants.clone(),
                audiences: t.audiences.clone(),
                algorithms: t.algorithms.clone(),
                skew: t.skew,
                max_token_bytes: t.max_token_bytes,
                jwks: t.jwks.clone(),
                cache: ValidationCache::new(0),
                cache_max_ttl: t.cache_max_ttl,
                time_fn: t.time_fn.clone(),
                authorization_endpoint: t.authorization_endpoint.clone(),
                noop: Some(Arc::new(claims)),
            }),
        })
    }

    /// The signing-key cache.
    pub fn jwks(&self) -> &JwksCache {
        &self.inner.jwks
    }

    /// The authorization endpoint found by discovery, if any (used in claims challenges).
    pub fn authorization_endpoint(&self) -> Option<&str> {
        self.inner.authorization_endpoint.as_deref()
    }

    /// How many validated tokens the cache holds now.
    pub fn cached_tokens(&self) -> usize {
        self.inner.cache.len()
    }

    /// Validate a compact JWS access token (without the `Bearer ` prefix).
    ///
    /// # Errors
    ///
    /// The [`TokenError`] for the first check that failed.
    pub async fn validate(&self, token: &str) -> Result<Arc<Claims>, TokenError> {
        let token = token.as_bytes();
        match self.validate_now(token, self.now()) {
            Step::Done(result) => result,
            Step::NeedKeys(generation) => self.validate_after_refresh(token, generation).await,
        }
    }

    pub(crate) async fn validate_after_refresh(
        &self,
        token: &[u8],
        generation: u64,
    ) -> Result<Arc<Claims>, TokenError> {
        match self.inner.jwks.refresh_for_unknown_kid(generation).await {
            Refreshed::Retry => match self.validate_now(token, self.now()) {
                Step::Done(result) => result,
                Step::NeedKeys(_) => Err(TokenError::UnknownKey),
            },
            Refreshed::Unknown => Err(TokenError::UnknownKey),
            Refreshed::Unavailable => Err(TokenError::KeysUnavailable),
        }
    }

    /// The first audience that is not an `api://` URI (the API's client id, for challenges).
    pub(crate) fn default_client_id(&self) -> Option<&str> {
        self.inner
            .audiences
            .iter()
            .find(|a| !a.starts_with("api://"))
            .map(String::as_str)
    }

    pub(crate) fn now(&self) -> u64 {
        clock::unix_secs(self.inner.time_fn.as_ref())
    }

    /// Everything that can be done without waiting for the network.
    ///
    /// Takes bytes: a cache hit needs no UTF-8 check (the cached token was valid text), and a
    /// miss checks once before parsing.
    ///
    /// `now` is [`Validator::now`], read once per request by the caller.
    pub(crate) fn validate_now(&self, token: &[u8], now: u64) -> Step {
        let inner = &*self.inner;
        #[cfg(feature = "__bench")]
        if let Some(claims) = &inner.noop {
            return Step::Done(Ok(claims.clone()));
        }
        if token.len() > inner.max_token_bytes {
            return Step::Done(Err(TokenError::TooLarge));
        }
        inner.jwks.maybe_refresh_in_background(now);
        let generation = inner.jwks.generation();
        if let Some(claims) = inner.cache.get(token, now, generation) {
            return Step::Done(Ok(claims));
        }
        Step::Done(match self.validate_uncached(token, now) {
            Ok(Verified::Claims(claims)) => Ok(claims),
            Ok(Verified::NeedKeys(generation)) => return Step::NeedKeys(generation),
            Err(error) => Err(error),
        })
    }

    /// Works on bytes: no UTF-8 check of the whole token is needed, because every part must
    /// decode as base64url, whose alphabet is ASCII.
    fn validate_uncached(&self, token: &[u8], now: u64) -> Result<Verified, TokenError> {
        let inner = &*self.inner;
        // memchr and memrchr are vectorised; scanning the 1–2 KB byte by byte cost more than
        // all other structure checks together.
        let (Some(first), Some(last)) = (memchr::memchr(b'.', token), memchr::memrchr(b'.', token))
        else {
            return Err(TokenError::Malformed);
        };
        if first == last {
            return Err(TokenError::Malformed);
        }
        let middle = &token[first + 1..last];
        if memchr::memchr(b'.', middle).is_some() {
            // RFC 7516 §7.1: the JWE compact serialization has five parts.
            return Err(if memchr::memchr_iter(b'.', middle).count() == 2 {
                TokenError::Encrypted
            } else {
                TokenError::Malformed
            });
        }
        let (header_b64, payload_b64, signature_b64) =
            (&token[..first], middle, &token[last + 1..]);

        let mut header_buf = [0u8; 1024];
        let header_len = decode_into(header_b64, &mut header_buf)?;
        let header = parse::parse_header(&header_buf[..header_len])?;
        let Some(alg) = Algorithm::from_name(&header.alg).filter(|a| inner.algorithms.contains(a))
        else {
            return Err(TokenError::AlgorithmNotAllowed);
        };
        if let Some(typ) = &header.typ {
            // RFC 9068 §2.1 `at+jwt`; Entra sends `JWT`.
            let ok = ["JWT", "at+jwt", "application/at+jwt"]
                .iter()
                .any(|t| typ.eq_ignore_ascii_case(t));
            if !ok {
                return Err(TokenError::WrongType);
            }
        }
        let Some(kid) = header.kid.as_deref() else {
            return Err(TokenError::MissingClaim("kid"));
        };

        let mut signature_buf = [0u8; 1024];
        let signature_len = decode_into(signature_b64, &mut signature_buf)?;
        let signed = &token[..last];
        // Ok(Ok(g)): verified under key-set g; Ok(Err(g)): the kid is not in key-set g.
        let lookup = inner.jwks.with_keys(|keys| match keys.find(kid, alg) {
            KeyLookup::Found(key, issuer) => key
                .verify_sig(signed, &signature_buf[..signature_len])
                .map(|()| Ok((keys.generation, issuer.cloned())))
                .map_err(|_| TokenError::BadSignature),
            KeyLookup::WrongAlgorithm => Err(TokenError::KeyAlgorithmMismatch),
            KeyLookup::Missing => Ok(Err(keys.generation)),
        })?;
        let (generation, key_issuer) = match lookup {
            Ok(found) => found,
            Err(missing_in) => {
                return match inner.jwks.on_unknown_kid(missing_in) {
                    Lookup::Refreshable => Ok(Verified::NeedKeys(missing_in)),
                    Lookup::Unknown if inner.jwks.key_count() == 0 => {
                        Err(TokenError::KeysUnavailable)
                    }
                    Lookup::Unknown => Err(TokenError::UnknownKey),
                };
            }
        };

        let payload = base64_simd::URL_SAFE_NO_PAD
            .decode_to_vec(payload_b64)
            .map_err(|_| TokenError::Malformed)?;
        let payload = String::from_utf8(payload).map_err(|_| TokenError::Malformed)?;
        let claims = parse::parse_claims(payload)?;
        self.check_claims(&claims, now)?;
        if let Some(key_issuer) = key_issuer {
            self.check_key_issuer(&claims, &key_issuer)?;
        }

        let claims = Arc::new(claims);
        let expires_at = claims.exp.min(now.saturating_add(inner.cache_max_ttl));
        inner
            .cache
            .insert(token, claims.clone(), expires_at, generation, now);
        Ok(Verified::Claims(claims))
    }

    fn check_claims(&self, c: &Claims, now: u64) -> Result<(), TokenError> {
        let inner = &*self.inner;
        let skew = inner.skew;
        // RFC 7519 §4.1.4: the current time MUST be before `exp` (plus a small leeway).
        if now >= c.exp.saturating_add(skew) {
            return Err(TokenError::Expired);
        }
        if let Some(nbf) = c.nbf {
            if nbf > now.saturating_add(skew) {
                return Err(TokenError::NotYetValid);
            }
            if nbf > c.exp {
                return Err(TokenError::InvalidLifetime);
            }
        }
        if let Some(iat) = c.iat
            && (iat > now.saturating_add(skew) || iat > c.exp)
        {
            return Err(TokenError::InvalidLifetime);
        }
        if let Some(ver) = c.ver()
            && ver != "1.0"
            && ver != "2.0"
        {
            return Err(TokenError::UnsupportedVersion);
        }
        self.check_issuer(c)?;
        if !c
            .aud()
            .any(|a| inner.audiences.iter().any(|ours| ours == a))
        {
            return Err(TokenError::WrongAudience);
        }
        // An ID token carries `nonce` and no `scp`/`roles`; Microsoft.Identity.Web likewise
        // rejects bearer tokens with neither `scp` nor `roles` (IDW10201).
        if c.nonce || (c.scp.is_none() && c.roles.is_empty()) {
            return Err(TokenError::NotAnAccessToken);
        }
        Ok(())
    }

    /// The signing key's `issuer` must name the token's tenant, as Microsoft.IdentityModel's
    /// `EnableAadSigningKeyIssuerValidation` checks (`AadTokenValidationParametersExtension.cs`,
    /// `ValidateIssuerSigningKey`, in AzureAD/azure-activedirectory-identitymodel-extensions-for-dotnet):
    /// `{tenantid}` in the key's issuer is replaced by the token's `tid`, and the result must
    /// equal the token's `iss`, or (for v1.0 tokens, whose `sts.windows.net` issuer never
    /// appears on keys) one of our configured issuers or templates filled with that `tid`.
    /// Without this, in multi-tenant mode a key that Entra publishes for one tenant would be
    /// accepted for tokens that claim another.
    fn check_key_issuer(&self, c: &Claims, key_issuer: &str) -> Result<(), TokenError> {
        let inner = &*self.inner;
        if key_issuer.trim().is_empty() {
            return Err(TokenError::KeyIssuerMismatch);
        }
        let iss = c.iss();
        let effective = match c.tid() {
            Some(tid) => key_issuer.replace("{tenantid}", tid),
            None if key_issuer.contains("{tenantid}") => {
                return Err(TokenError::KeyIssuerMismatch);
            }
            None => key_issuer.to_owned(),
        };
        if effective == iss {
            return Ok(());
        }
        let configured = c.tid().is_some_and(|tid| {
            (effective.contains(tid) && inner.issuers.contains(&effective)) || {
                inner.templates.iter().any(|(prefix, suffix)| {
                    effective.len() == prefix.len() + tid.len() + suffix.len()
                        && effective.starts_with(prefix.as_str())
                        && effective.ends_with(suffix.as_str())
                        && effective.get(prefix.len()..prefix.len() + tid.len()) == Some(tid)
                })
            }
        });
        if configured {
            Ok(())
        } else {
            Err(TokenError::KeyIssuerMismatch)
        }
    }

    fn check_issuer(&self, c: &Claims) -> Result<(), TokenError> {
        let inner = &*self.inner;
        let iss = c.iss();
        if inner.issuers.iter().any(|i| i == iss) {
            return Ok(());
        }
        if inner.templates.is_empty() {
            return Err(TokenError::WrongIssuer);
        }
        let Some(tid) = c.tid() else {
            return Err(TokenError::WrongIssuer);
        };
        let matches_template = inner.templates.iter().any(|(prefix, suffix)| {
            iss.len() == prefix.len() + tid.len() + suffix.len()
                && iss.starts_with(prefix.as_str())
                && iss.ends_with(suffix.as_str())
                && iss.get(prefix.len()..prefix.len() + tid.len()) == Some(tid)
        });
        if !matches_template {
            return Err(TokenError::WrongIssuer);
        }
        if !inner.tenants.iter().any(|t| t.eq_ignore_ascii_case(tid)) {
            return Err(TokenError::TenantNotAllowed);
        }
        Ok(())
    }
}

enum Verified {
    Claims(Arc<Claims>),
    NeedKeys(u64),
}

fn decode_into(b64: &[u8], out: &mut [u8; 1024]) -> Result<usize, TokenError> {
    let engine = base64_simd::URL_SAFE_NO_PAD;
    // `decode` panics when the output is too short, so size it first.
    let len = engine
        .decoded_length(b64)
        .map_err(|_| TokenError::Malformed)?;
    let out = out.get_mut(..len).ok_or(TokenError::Malformed)?;
    engine
        .decode(b64, base64_simd::Out::from_slice(out))
        .map(|decoded| decoded.len())
        .map_err(|_| TokenError::Malformed)
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    use std::time::Duration;

    use super::*;
    use crate::error::ConfigError;

    const TENANT: &str = "f645ad92-e38d-4d1a-b510-d1b09a74a8ca";

    fn jwks() -> String {
        let n = URL_SAFE_NO_PAD.encode([0xC1u8; 256]);
        format!(r#"{{"keys":[{{"kty":"RSA","kid":"k","n":"{n}","e":"AQAB"}}]}}"#)
    }

    fn validator(templates: &[&str], issuers: &[&str]) -> Validator {
        let mut b = Validator::builder()
            .jwks_json(jwks())
            .audience("a")
            .allow_tenant(TENANT);
        for t in templates {
            b = b.tenant_issuer_template(*t);
        }
        for i in issuers {
            b = b.issuer(*i);
        }
        b.build().unwrap()
    }

    fn claims(iss: &str, tid: Option<&str>) -> Claims {
        let tid = tid.map_or(String::new(), |t| format!(r#","tid":"{t}""#));
        parse::parse_claims(format!(r#"{{"iss":"{iss}","aud":"a","exp":10{tid}}}"#)).unwrap()
    }

    /// Microsoft.IdentityModel `AadIssuerValidator` vectors (templated issuer, tid, iss, expected).
    #[test]
    fn issuer_template_vectors() {
        let v1 = "https://sts.windows.net/{tenantid}/";
        let v2 = "https://login.microsoftonline.com/{tenantid}/v2.0";
        let v1_iss = format!("https://sts.windows.net/{TENANT}/");
        let v2_iss = format!("https://login.microsoftonline.com/{TENANT}/v2.0");
        let cases: &[(&str, Option<&str>, &str, bool)] = &[
            (v1, Some(TENANT), &v1_iss, true),
            (v2, Some(TENANT), &v2_iss, true),
            (v1, Some(TENANT), &v2_iss, false),
            (v2, Some(TENANT), &v1_iss, false),
            (v1, Some(TENANT), "", false),
            (v1, None, &v2_iss, false),
            (
                v2,
                Some(TENANT),
                "https://login.microsoftonline.com/{tenantid}/v2.0",
                false,
            ),
            (
                "https://login.windows-ppe.net/{tenantid}",
                Some(TENANT),
                "https://login.microsoftonline.com/f645ad92-e38d-4d1a-b510-d1b09a74a8ca",
                false,
            ),
        ];
        for (template, tid, iss, ok) in cases {
            let v = validator(&[template], &[]);
            assert_eq!(
                v.check_issuer(&claims(iss, *tid)).is_ok(),
                *ok,
                "{template} {iss}"
            );
        }
        // Exact issuers (both forms for one tenant).
        let v = validator(&[], &[&v1_iss, &v2_iss]);
        assert!(v.check_issuer(&claims(&v1_iss, None)).is_ok());
        assert!(v.check_issuer(&claims(&v2_iss, None)).is_ok());
        assert_eq!(
            v.check_issuer(&claims(&format!("{v2_iss}/"), None)),
            Err(TokenError::WrongIssuer)
        );
    }

    #[test]
    fn tenant_allow_list_is_enforced() {
        let other = "72f988bf-86f1-41af-91ab-2d7cd011db47";
        let v = validator(&["https://login.microsoftonline.com/{tenantid}/v2.0"], &[]);
        let iss = format!("https://login.microsoftonline.com/{other}/v2.0");
        assert_eq!(
            v.check_issuer(&claims(&iss, Some(other))),
            Err(TokenError::TenantNotAllowed)
        );
    }

    #[test]
    fn lifetime_checks_use_the_skew() {
        let v = Validator::builder()
            .jwks_json(jwks())
            .issuer("i")
            .audience("a")
            .clock_skew(Duration::from_secs(60))
            .build()
            .unwrap();
        let c = |extra: &str| {
            parse::parse_claims(format!(r#"{{"iss":"i","aud":"a","scp":"s"{extra}}}"#)).unwrap()
        };
        assert!(v.check_claims(&c(r#","exp":1000"#), 1059).is_ok());
        assert_eq!(
            v.check_claims(&c(r#","exp":1000"#), 1060),
            Err(TokenError::Expired)
        );
        assert!(
            v.check_claims(&c(r#","exp":2000,"nbf":1060"#), 1000)
                .is_ok()
        );
        assert_eq!(
            v.check_claims(&c(r#","exp":2000,"nbf":1061"#), 1000),
            Err(TokenError::NotYetValid)
        );
        assert_eq!(
            v.check_claims(&c(r#","exp":2000,"iat":1061"#), 1000),
            Err(TokenError::InvalidLifetime)
        );
        assert_eq!(
            v.check_claims(&c(r#","exp":2000,"ver":"3.0""#), 1000),
            Err(TokenError::UnsupportedVersion)
        );
    }

    #[test]
    fn structure_errors() {
        let v = validator(&[], &["i"]);
        let step = |t: &str| match v.validate_now(t.as_bytes(), 0) {
            Step::Done(r) => r.err(),
            Step::NeedKeys(_) => None,
        };
        assert_eq!(step("a.b"), Some(TokenError::Malformed));
        assert_eq!(step("a.b.c.d.e"), Some(TokenError::Encrypted));
        assert_eq!(step("a.b.c.d"), Some(TokenError::Malformed));
        assert_eq!(step(&"a".repeat(17_000)), Some(TokenError::TooLarge));
        // `none`, HS256 and an unknown kid with a static key set.
        let h = |json: &str| URL_SAFE_NO_PAD.encode(json);
        assert_eq!(
            step(&format!("{}.e30.", h(r#"{"alg":"none"}"#))),
            Some(TokenError::AlgorithmNotAllowed)
        );
        assert_eq!(
            step(&format!("{}.e30.AA", h(r#"{"alg":"HS256","kid":"k"}"#))),
            Some(TokenError::AlgorithmNotAllowed)
        );
        assert_eq!(
            step(&format!("{}.e30.AA", h(r#"{"alg":"RS256","kid":"x"}"#))),
            Some(TokenError::UnknownKey)
        );
        assert_eq!(
            step(&format!("{}.e30.AA", h(r#"{"alg":"RS256"}"#))),
            Some(TokenError::MissingClaim("kid"))
        );
        assert_eq!(
            step(&format!(
                "{}.e30.AA",
                h(r#"{"alg":"RS256","kid":"k","typ":"dpop+jwt"}"#)
            )),
            Some(TokenError::WrongType)
        );
        assert_eq!(
            step(&format!("{}.e30.AA", h(r#"{"alg":"RS256","kid":"k"}"#))),
            Some(TokenError::BadSignature)
        );
    }

    proptest::proptest! {
        #[test]
        fn validation_never_panics(token in "[A-Za-z0-9_.=+/ -]{0,300}") {
            let v = validator(&[], &["i"]);
            let _ = v.validate_now(token.as_bytes(), 0);
        }

        #[test]
        fn validation_never_panics_on_jws_shaped_input(
            header in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64),
            payload in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..128),
            signature in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
        ) {
            let v = validator(&[], &["i"]);
            let token = format!(
                "{}.{}.{}",
                URL_SAFE_NO_PAD.encode(&header),
                URL_SAFE_NO_PAD.encode(&payload),
                URL_SAFE_NO_PAD.encode(&signature)
            );
            let _ = v.validate_now(token.as_bytes(), 0);
        }

        #[test]
        fn validation_never_panics_on_bytes(token in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            let v = validator(&[], &["i"]);
            let _ = v.validate_now(&token, 0);
        }
    }

    #[test]
    fn errors_are_send_sync_and_debug_is_safe() {
        fn assert_send_sync<T: Send + Sync + 'static>() {}
        assert_send_sync::<TokenError>();
        assert_send_sync::<ConfigError>();
        assert_send_sync::<Validator>();
        let v = validator(
            &["https://login.microsoftonline.com/{tenantid}/v2.0"],
            &["https://iss.example/v2.0"],
        );
        let debug = format!("{v:?}");
        // It shows the configuration someone debugging a rejection needs ...
        for shown in [
            "Validator",
            "https://iss.example/v2.0",
            // The template, stored split around `{tenantid}`.
            "\"https://login.microsoftonline.com/\", \"/v2.0\"",
            TENANT,
            "\"a\"",
            "Rs256",
        ] {
            assert!(debug.contains(shown), "{shown} missing from {debug}");
        }
        // ... and none of the key material it holds (the JWKS modulus, whole or in part).
        let modulus = URL_SAFE_NO_PAD.encode([0xC1u8; 256]);
        assert!(!debug.contains(&modulus[..16]), "{debug}");
        assert!(!debug.contains("AQAB"), "{debug}");
    }
}
