//! ID-token validation (OpenID Connect Core 1.0 §3.1.3.7) with a JWKS cache.
//!
//! The ID token comes from the token endpoint over TLS, but it is still checked in full: the
//! signature against the authority's JWKS (RS256, what Entra signs with; also RS384, PS256,
//! PS384, ES256 and ES384 for generic OpenID Connect hosts, RFC 7518 §3), `iss` equal to the discovered issuer byte for byte
//! (External ID issuers carry the tenant GUID as host, so a hand-built string would be wrong),
//! `aud` containing the client id (and `azp` equal to it when there are several audiences),
//! `exp` and `nbf` with a bounded clock skew, `iat` not in the future, and `nonce` equal to the
//! one the sign-in sent.
//!
//! Signing keys are fetched once and kept. A token whose `kid` is unknown (the authority rotated
//! its keys) triggers one refresh; further unknown-`kid` refreshes are allowed only after a
//! cooldown, and concurrent ones share a single fetch, so invented key ids cannot make the client
//! hammer the JWKS endpoint. A failed refresh keeps the keys already known.
//!
//! **App-specific keys.** An Entra app with a custom signing key (claims mapping) has its ID
//! tokens signed with a key that is published only at `{jwks_uri}?appid={client_id}`
//! (Microsoft identity platform: "Access tokens", validating the signature, and "Claims mapping
//! policy": "append an appid query parameter ... to get a jwks_uri that points to your app's
//! signing key information"). When a token's `kid` is not in the authority's key set even after
//! the refresh, an Entra authority (not a plain OpenID Connect issuer, which knows no `appid`)
//! tries that app-specific set, under the same one-refresh-per-cooldown rule. The MSAL sources
//! (MSAL.NET, msal-node, MSAL Python) do not validate ID-token signatures at all, so there is no
//! MSAL behaviour to compare with; this follows the documented Entra behaviour.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use aws_lc_rs::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use foldhash::fast::RandomState;
use hashbrown::HashMap;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::http::{HttpClient, RetryPolicy, send_with_retry};
use crate::request::common_headers;
use crate::{CorrelationId, Error};

/// Tolerated clock difference between us and the identity provider for `exp`, `nbf` and `iat`
/// (5 minutes, the default of Microsoft.IdentityModel and of MSAL's own ID-token checks).
pub(crate) const CLOCK_SKEW_SECS: u64 = 300;

/// Minimum time between two refreshes triggered by an unknown `kid`.
pub(crate) const UNKNOWN_KID_COOLDOWN: Duration = Duration::from_secs(30);

/// Bound on the token size we are willing to decode (Entra ID tokens are a few KiB).
const MAX_TOKEN_LEN: usize = 64 * 1024;

/// base64url, padding optional: some servers (and MSAL's own fixtures) pad JWT segments.
const B64URL: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// What the ID token must say.
pub(crate) struct Expected<'a> {
    /// The discovered `issuer` (a `{tenantid}` template is filled from the token's `tid`).
    pub(crate) issuer: &'a str,
    pub(crate) client_id: &'a str,
    /// The sign-in's nonce; `None` for ID tokens from a refresh (OpenID Connect Core §12.2:
    /// they carry none).
    pub(crate) nonce: Option<&'a str>,
    /// Unix seconds.
    pub(crate) now: u64,
    /// Whether a `kid` unknown in the authority's key set may be looked up in the app-specific
    /// set `{jwks_uri}?appid={client_id}` (Entra authorities; see the module docs).
    pub(crate) app_keys: bool,
}

/// The signature algorithms accepted (RFC 7518 §3.1). `none` and the HMAC algorithms (whose
/// "key" would be public) are never accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Algorithm {
    Rs256,
    Rs384,
    Ps256,
    Ps384,
    Es256,
    Es384,
}

impl Algorithm {
    fn parse(alg: &str) -> Option<Self> {
        Some(match alg {
            "RS256" => Self::Rs256,
            "RS384" => Self::Rs384,
            "PS256" => Self::Ps256,
            "PS384" => Self::Ps384,
            "ES256" => Self::Es256,
            "ES384" => Self::Es384,
            _ => return None,
        })
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Rs256 => "RS256",
            Self::Rs384 => "RS384",
            Self::Ps256 => "PS256",
            Self::Ps384 => "PS384",
            Self::Es256 => "ES256",
            Self::Es384 => "ES384",
        }
    }
}

/// A public key from a JWK.
enum PublicKey {
    Rsa(RsaPublicKeyComponents<Vec<u8>>),
    /// An uncompressed SEC1 point (`0x04 || x || y`) on P-256.
    P256(Vec<u8>),
    /// The same on P-384.
    P384(Vec<u8>),
}

/// A signing key and the algorithm its JWK restricts it to (`alg`, RFC 7517 §4.4), if any.
pub(crate) struct SigningKey {
    public: PublicKey,
    alg: Option<Algorithm>,
}

impl SigningKey {
    /// Whether `signature` over `message` is valid for `alg` with this key. A key is used only
    /// with an algorithm of its own type (and its JWK's `alg`, when it names one).
    fn verify(&self, alg: Algorithm, message: &[u8], signature_bytes: &[u8]) -> bool {
        if self.alg.is_some_and(|own| own != alg) {
            return false;
        }
        let rsa = |params: &'static signature::RsaParameters,
                   key: &RsaPublicKeyComponents<Vec<u8>>| {
            key.verify(params, message, signature_bytes).is_ok()
        };
        let ec = |params: &'static signature::EcdsaVerificationAlgorithm, point: &[u8]| {
            UnparsedPublicKey::new(params, point)
                .verify(message, signature_bytes)
                .is_ok()
        };
        match (alg, &self.public) {
            (Algorithm::Rs256, PublicKey::Rsa(k)) => rsa(&signature::RSA_PKCS1_2048_8192_SHA256, k),
            (Algorithm::Rs384, PublicKey::Rsa(k)) => rsa(&signature::RSA_PKCS1_2048_8192_SHA384, k),
            (Algorithm::Ps256, PublicKey::Rsa(k)) => rsa(&signature::RSA_PSS_2048_8192_SHA256, k),
            (Algorithm::Ps384, PublicKey::Rsa(k)) => rsa(&signature::RSA_PSS_2048_8192_SHA384, k),
            (Algorithm::Es256, PublicKey::P256(p)) => ec(&signature::ECDSA_P256_SHA256_FIXED, p),
            (Algorithm::Es384, PublicKey::P384(p)) => ec(&signature::ECDSA_P384_SHA384_FIXED, p),
            _ => false,
        }
    }
}

/// The signing keys of one JWKS document.
struct KeySet {
    uri: Box<str>,
    keys: HashMap<Box<str>, Arc<SigningKey>, RandomState>,
}

/// One JWKS document's keys, and when an unknown `kid` last made us fetch it.
struct Slot {
    keys: RwLock<Option<Arc<KeySet>>>,
    /// Serialises fetches; holds when the last rate-limited refresh happened.
    refresh: tokio::sync::Mutex<Option<Instant>>,
    /// Minimum time between two rate-limited fetches.
    cooldown: Duration,
    /// Whether the first fetch is rate-limited too (the app-specific set is only ever fetched
    /// because of an unknown `kid`).
    limit_first: bool,
}

/// Signing keys per client (one authority, so one JWKS URI), and the app-specific set.
pub(crate) struct JwksCache {
    authority: Slot,
    /// `{jwks_uri}?appid={client_id}`, fetched only for a `kid` the authority's set lacks.
    app: Slot,
}

impl Default for JwksCache {
    fn default() -> Self {
        Self::with_cooldown(UNKNOWN_KID_COOLDOWN)
    }
}

enum Found {
    Key(Arc<SigningKey>),
    /// No key set yet for this URI.
    NoKeys,
    /// A key set, without this `kid`.
    Unknown,
}

fn unknown_key() -> Error {
    invalid("the id token is signed with an unknown key")
}

impl Slot {
    fn new(cooldown: Duration, limit_first: bool) -> Self {
        Self {
            keys: RwLock::new(None),
            refresh: tokio::sync::Mutex::new(None),
            cooldown,
            limit_first,
        }
    }

    fn find(&self, uri: &str, kid: &str) -> Found {
        let keys = self.keys.read().unwrap_or_else(|p| p.into_inner());
        match keys.as_ref() {
            Some(set) if &*set.uri == uri => match set.keys.get(kid) {
                Some(key) => Found::Key(key.clone()),
                None => Found::Unknown,
            },
            _ => Found::NoKeys,
        }
    }

    /// The key for `kid` (`None`: not in this set), fetching the set when there is none yet or
    /// (at most once per cooldown) when the `kid` is unknown.
    async fn key(
        &self,
        http: &dyn HttpClient,
        retry: &RetryPolicy,
        uri: &str,
        kid: &str,
        correlation_id: CorrelationId,
    ) -> Result<Option<Arc<SigningKey>>, Error> {
        let (cooldown, limit_first) = (self.cooldown, self.limit_first);
        if let Found::Key(key) = self.find(uri, kid) {
            return Ok(Some(key));
        }
        let mut last_forced = self.refresh.lock().await;
        let cooling = last_forced.is_some_and(|at| at.elapsed() < cooldown);
        // Another task may have fetched while we waited.
        let forced = match self.find(uri, kid) {
            Found::Key(key) => return Ok(Some(key)),
            Found::NoKeys if limit_first && cooling => return Ok(None),
            Found::NoKeys => limit_first,
            Found::Unknown if cooling => return Ok(None),
            Found::Unknown => true,
        };
        // The app-specific set counts an attempt even when it fails (it may not exist at all);
        // the authority's set only a successful refresh, so a transient failure does not delay
        // picking up rotated keys.
        if forced && limit_first {
            *last_forced = Some(Instant::now());
        }
        let set = fetch_jwks(http, retry, uri, correlation_id).await?;
        if forced && !limit_first {
            *last_forced = Some(Instant::now());
        }
        let key = set.keys.get(kid).cloned();
        *self.keys.write().unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(set));
        Ok(key)
    }
}

impl JwksCache {
    pub(crate) fn with_cooldown(cooldown: Duration) -> Self {
        Self {
            authority: Slot::new(cooldown, false),
            app: Slot::new(cooldown, true),
        }
    }

    /// The key for `kid`: from the authority's set, else (when `app_uri` is given) from the
    /// app-specific set.
    async fn key(
        &self,
        http: &dyn HttpClient,
        retry: &RetryPolicy,
        uri: &str,
        app_uri: Option<&str>,
        kid: &str,
        correlation_id: CorrelationId,
    ) -> Result<Arc<SigningKey>, Error> {
        let found = self
            .authority
            .key(http, retry, uri, kid, correlation_id)
            .await?;
        if let Some(key) = found {
            return Ok(key);
        }
        let Some(app_uri) = app_uri else {
            return Err(unknown_key());
        };
        match self
            .app
            .key(http, retry, app_uri, kid, correlation_id)
            .await
        {
            Ok(Some(key)) => Ok(key),
            Ok(None) => Err(unknown_key()),
            Err(e) => {
                // An app without custom keys, or a host that does not know `appid`: the token's
                // key is unknown, which is what the caller needs to hear.
                tracing::warn!(%correlation_id, error = %e, "fetching the app-specific signing keys failed");
                Err(unknown_key())
            }
        }
    }
}

/// `{jwks_uri}?appid={client_id}` (or `&appid=` when the URI has a query already).
pub(crate) fn app_specific_jwks_uri(jwks_uri: &str, client_id: &str) -> Option<String> {
    let mut url = url::Url::parse(jwks_uri).ok()?;
    url.query_pairs_mut().append_pair("appid", client_id);
    Some(url.into())
}

#[derive(Deserialize)]
struct JwksDocument {
    #[serde(default)]
    keys: Vec<Value>,
}

#[derive(Deserialize)]
struct Jwk {
    kty: String,
    #[serde(default, rename = "use")]
    use_: Option<String>,
    #[serde(default)]
    alg: Option<String>,
    kid: String,
    #[serde(default)]
    n: Option<String>,
    #[serde(default)]
    e: Option<String>,
    #[serde(default)]
    crv: Option<String>,
    #[serde(default)]
    x: Option<String>,
    #[serde(default)]
    y: Option<String>,
}

impl Jwk {
    /// The usable signing key, or `None` for a key msal-lite cannot or will not use (another
    /// key type, an encryption key, an unknown `alg`, an RSA key under 2048 bits, a point of
    /// the wrong size).
    fn signing_key(&self) -> Option<SigningKey> {
        if self.use_.as_deref().is_some_and(|u| u != "sig") {
            return None;
        }
        let alg = match self.alg.as_deref() {
            Some(alg) => Some(Algorithm::parse(alg)?),
            None => None,
        };
        let public = match self.kty.as_str() {
            "RSA" => {
                let n = B64URL.decode(self.n.as_deref()?).ok()?;
                let e = B64URL.decode(self.e.as_deref()?).ok()?;
                let e_start = e.iter().position(|b| *b != 0).unwrap_or(e.len());
                let n_start = n.iter().position(|b| *b != 0).unwrap_or(n.len());
                // RFC 8725 §3.5 / NIST: no RSA keys under 2048 bits.
                if n.len() - n_start < 256 || e_start == e.len() {
                    return None;
                }
                PublicKey::Rsa(RsaPublicKeyComponents {
                    n: n[n_start..].to_vec(),
                    e: e[e_start..].to_vec(),
                })
            }
            // RFC 7518 §6.2.1: x and y are the full coordinate size, left-padded.
            "EC" => {
                let size = match self.crv.as_deref()? {
                    "P-256" => 32,
                    "P-384" => 48,
                    _ => return None,
                };
                let x = B64URL.decode(self.x.as_deref()?).ok()?;
                let y = B64URL.decode(self.y.as_deref()?).ok()?;
                if x.len() != size || y.len() != size {
                    return None;
                }
                let mut point = Vec::with_capacity(1 + 2 * size);
                point.push(0x04);
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                if size == 32 {
                    PublicKey::P256(point)
                } else {
                    PublicKey::P384(point)
                }
            }
            _ => return None,
        };
        Some(SigningKey { public, alg })
    }
}

async fn fetch_jwks(
    http: &dyn HttpClient,
    retry: &RetryPolicy,
    uri: &str,
    correlation_id: CorrelationId,
) -> Result<KeySet, Error> {
    let mut request = http::Request::get(uri)
        .body(bytes::Bytes::new())
        .map_err(|_| Error::malformed("the jwks_uri is not a valid URI", None, None))?;
    common_headers(request.headers_mut(), correlation_id);
    request.headers_mut().insert(
        http::header::ACCEPT,
        http::HeaderValue::from_static("application/json"),
    );
    tracing::debug!(%correlation_id, "fetching the authority's signing keys");
    let response = send_with_retry(http, retry, request)
        .await
        .map_err(|e| e.into_error(Some(correlation_id)))?;
    let document: JwksDocument = crate::response::parse_json(&response, Some(correlation_id))?;
    let mut keys = HashMap::default();
    for value in document.keys {
        // Keys we cannot use are skipped, never an error: a JWKS may hold other key types.
        let Ok(jwk) = serde_json::from_value::<Jwk>(value) else {
            continue;
        };
        if let Some(key) = jwk.signing_key() {
            keys.insert(jwk.kid.into_boxed_str(), Arc::new(key));
        }
    }
    Ok(KeySet {
        uri: uri.into(),
        keys,
    })
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
}

fn invalid(reason: &'static str) -> Error {
    Error::InvalidIdToken {
        reason: reason.into(),
    }
}

/// Validates `raw` and returns its claims.
pub(crate) async fn validate(
    http: &dyn HttpClient,
    retry: &RetryPolicy,
    jwks: &JwksCache,
    jwks_uri: Option<&str>,
    raw: &str,
    expected: &Expected<'_>,
    correlation_id: CorrelationId,
) -> Result<Map<String, Value>, Error> {
    if raw.len() > MAX_TOKEN_LEN {
        return Err(invalid("the id token is too large"));
    }
    let mut parts = raw.split('.');
    let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid("the id token is not a signed JWT"));
    };
    let header: Header = B64URL
        .decode(header_b64)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(|| invalid("the id token header does not decode"))?;
    // Only asymmetric algorithms: `none` and HMAC (whose "key" would be public) are refused
    // before any key lookup.
    let alg = Algorithm::parse(&header.alg).ok_or_else(|| {
        invalid("the id token is not signed with RS256, RS384, PS256, PS384, ES256 or ES384")
    })?;
    let kid = header
        .kid
        .ok_or_else(|| invalid("the id token header has no kid"))?;
    let signature_bytes = B64URL
        .decode(signature_b64)
        .map_err(|_| invalid("the id token signature does not decode"))?;
    let uri = jwks_uri.ok_or_else(|| invalid("the authority publishes no jwks_uri"))?;
    let app_uri = expected
        .app_keys
        .then(|| app_specific_jwks_uri(uri, expected.client_id))
        .flatten();
    let key = jwks
        .key(http, retry, uri, app_uri.as_deref(), &kid, correlation_id)
        .await?;
    let signed = &raw[..header_b64.len() + 1 + payload_b64.len()];
    if !key.verify(alg, signed.as_bytes(), &signature_bytes) {
        return Err(invalid("the id token signature is not valid"));
    }
    tracing::trace!(alg = alg.as_str(), "id token signature verified");
    let claims =
        decode_claims(payload_b64).ok_or_else(|| invalid("the id token claims do not decode"))?;
    check_claims(&claims, expected)?;
    Ok(claims)
}

/// The claims of a JWT payload segment, without any check (for tokens already validated, e.g.
/// read back from a cache store).
pub(crate) fn decode_claims(payload_b64: &str) -> Option<Map<String, Value>> {
    let bytes = B64URL.decode(payload_b64).ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

/// The claims of a whole JWT, unverified (see [`decode_claims`]).
pub(crate) fn unverified_claims(raw: &str) -> Option<Map<String, Value>> {
    if raw.len() > MAX_TOKEN_LEN {
        return None;
    }
    decode_claims(raw.split('.').nth(1)?)
}

fn number(claims: &Map<String, Value>, name: &str) -> Option<u64> {
    let v = claims.get(name)?;
    v.as_u64().or_else(|| {
        v.as_f64()
            .filter(|f| f.is_finite() && *f >= 0.0)
            .map(|f| f as u64)
    })
}

fn check_claims(claims: &Map<String, Value>, expected: &Expected<'_>) -> Result<(), Error> {
    let iss = claims
        .get("iss")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("the id token has no iss"))?;
    let issuer_ok = if expected.issuer.contains("{tenantid}") {
        // Multi-tenant authorities (`common`, `organizations`) publish a template.
        claims
            .get("tid")
            .and_then(Value::as_str)
            .is_some_and(|tid| expected.issuer.replace("{tenantid}", tid) == iss)
    } else {
        iss == expected.issuer
    };
    if !issuer_ok {
        return Err(invalid("the id token issuer is not the authority's"));
    }
    let audience_ok = match claims.get("aud") {
        Some(Value::String(aud)) => aud == expected.client_id,
        Some(Value::Array(auds)) => {
            auds.iter().any(|a| a.as_str() == Some(expected.client_id))
                // OpenID Connect Core §3.1.3.7 (4, 5): with several audiences, azp must be us.
                && (auds.len() == 1
                    || claims.get("azp").and_then(Value::as_str) == Some(expected.client_id))
        }
        _ => false,
    };
    if !audience_ok {
        return Err(invalid("the id token audience is not this client"));
    }
    let exp = number(claims, "exp").ok_or_else(|| invalid("the id token has no exp"))?;
    if expected.now > exp.saturating_add(CLOCK_SKEW_SECS) {
        return Err(invalid("the id token has expired"));
    }
    if let Some(nbf) = number(claims, "nbf")
        && nbf > expected.now.saturating_add(CLOCK_SKEW_SECS)
    {
        return Err(invalid("the id token is not valid yet"));
    }
    let iat = number(claims, "iat").ok_or_else(|| invalid("the id token has no iat"))?;
    if iat > expected.now.saturating_add(CLOCK_SKEW_SECS) {
        return Err(invalid("the id token was issued in the future"));
    }
    if let Some(nonce) = expected.nonce {
        let got = claims.get("nonce").and_then(Value::as_str).unwrap_or("");
        if aws_lc_rs::constant_time::verify_slices_are_equal(got.as_bytes(), nonce.as_bytes())
            .is_err()
        {
            return Err(invalid(
                "the id token nonce does not match the sign-in request",
            ));
        }
    }
    Ok(())
}

// The tests drive a real dev tenant through the default transport.
#[cfg(all(test, feature = "reqwest"))]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use dev_tenant::{Config, DevTenant, Endpoint, quickstart as q};
    use proptest::strategy::Strategy as _;
    use serde_json::json;

    use super::*;

    const SKEW: u64 = CLOCK_SKEW_SECS;

    fn now() -> u64 {
        crate::time::unix_seconds(std::time::SystemTime::now())
    }

    fn good_claims(tenant: &DevTenant, now: u64) -> Value {
        json!({
            "iss": tenant.issuer(), "aud": q::WEB_APP_CLIENT_ID, "exp": now + 3600,
            "iat": now, "nbf": now, "nonce": "n-1", "tid": q::TENANT_ID, "sub": "s",
        })
    }

    fn expected<'a>(issuer: &'a str, now: u64) -> Expected<'a> {
        Expected {
            issuer,
            client_id: q::WEB_APP_CLIENT_ID,
            nonce: Some("n-1"),
            now,
            app_keys: false,
        }
    }

    fn http() -> crate::http::ReqwestHttpClient {
        crate::http::ReqwestHttpClient::new().unwrap()
    }

    async fn check(
        tenant: &DevTenant,
        jwks: &JwksCache,
        token: &str,
        now: u64,
    ) -> Result<Map<String, Value>, Error> {
        let issuer = tenant.issuer();
        validate(
            &http(),
            &RetryPolicy::none(),
            jwks,
            Some(&tenant.jwks_uri()),
            token,
            &expected(&issuer, now),
            CorrelationId::random(),
        )
        .await
    }

    fn reason(e: Error) -> String {
        match e {
            Error::InvalidIdToken { reason } => reason.into_owned(),
            other => panic!("not an id-token error: {other:?}"),
        }
    }

    #[tokio::test]
    async fn accepts_a_good_token_and_rejects_each_bad_claim() {
        let tenant = DevTenant::start(Config::quickstart()).await.unwrap();
        let jwks = JwksCache::default();
        let t = now();
        let header = tenant.default_header();
        let good = tenant.mint_token(&header, good_claims(&tenant, t));
        let claims = check(&tenant, &jwks, &good, t).await.unwrap();
        assert_eq!(claims["sub"], "s");
        // Within the skew, expiry and issue time are tolerated.
        check(&tenant, &jwks, &good, t + 3600 + SKEW).await.unwrap();

        let table: Vec<(&str, Value, &str)> = vec![
            ("iss", json!("https://evil.example/v2.0"), "issuer"),
            ("aud", json!("someone-else"), "audience"),
            ("aud", json!([q::WEB_APP_CLIENT_ID, "other"]), "audience"),
            ("exp", json!(t - SKEW - 1), "expired"),
            ("nbf", json!(t + SKEW + 60), "not valid yet"),
            ("iat", json!(t + SKEW + 60), "future"),
            ("nonce", json!("n-2"), "nonce"),
            ("exp", json!("soon"), "no exp"),
        ];
        for (name, value, want) in table {
            let mut claims = good_claims(&tenant, t);
            claims[name] = value;
            let token = tenant.mint_token(&header, claims);
            let got = reason(check(&tenant, &jwks, &token, t).await.unwrap_err());
            assert!(got.contains(want), "{name}: {got}");
        }
        // Several audiences are fine when azp is us.
        let mut claims = good_claims(&tenant, t);
        claims["aud"] = json!([q::WEB_APP_CLIENT_ID, "other"]);
        claims["azp"] = json!(q::WEB_APP_CLIENT_ID);
        check(&tenant, &jwks, &tenant.mint_token(&header, claims), t)
            .await
            .unwrap();
        // A missing nonce fails when one is expected.
        let mut claims = good_claims(&tenant, t);
        claims.as_object_mut().unwrap().remove("nonce");
        let token = tenant.mint_token(&header, claims);
        assert!(reason(check(&tenant, &jwks, &token, t).await.unwrap_err()).contains("nonce"));
        // The keys were fetched once for all of this.
        assert_eq!(tenant.requests(Endpoint::Jwks), 1);
    }

    #[tokio::test]
    async fn rejects_bad_signatures_and_algorithms() {
        let tenant = DevTenant::start(Config::quickstart()).await.unwrap();
        let jwks = JwksCache::default();
        let t = now();
        let good = tenant.mint_token(tenant.default_header(), good_claims(&tenant, t));
        let (head, rest) = good.split_once('.').unwrap();
        let (_, sig) = rest.split_once('.').unwrap();
        // Claims swapped under the original signature.
        let mut forged = good_claims(&tenant, t);
        forged["sub"] = json!("admin");
        let forged_payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(serde_json::to_vec(&forged).unwrap());
        let tampered = format!("{head}.{forged_payload}.{sig}");
        assert!(
            reason(check(&tenant, &jwks, &tampered, t).await.unwrap_err()).contains("signature")
        );
        let mut header = tenant.default_header();
        header["alg"] = json!("none");
        let none = format!("{}.{forged_payload}.", {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(header.to_string())
        });
        assert!(reason(check(&tenant, &jwks, &none, t).await.unwrap_err()).contains("RS256"));
        for junk in [
            "",
            "a.b",
            "a.b.c.d",
            "!!.!!.!!",
            &"x".repeat(MAX_TOKEN_LEN + 1),
        ] {
            assert!(matches!(
                check(&tenant, &jwks, junk, t).await,
                Err(Error::InvalidIdToken { .. })
            ));
        }
    }

    #[tokio::test]
    async fn unknown_kid_refreshes_once_per_cooldown() {
        let tenant = DevTenant::start(Config::quickstart()).await.unwrap();
        let jwks = JwksCache::default();
        let t = now();
        let token = tenant.mint_token(tenant.default_header(), good_claims(&tenant, t));
        check(&tenant, &jwks, &token, t).await.unwrap();
        assert_eq!(tenant.requests(Endpoint::Jwks), 1);
        // The authority rotates its key: the first unknown kid refreshes the set.
        tenant.rotate_keys(Duration::ZERO);
        let rotated = tenant.mint_token(tenant.default_header(), good_claims(&tenant, t));
        check(&tenant, &jwks, &rotated, t).await.unwrap();
        assert_eq!(tenant.requests(Endpoint::Jwks), 2);
        // Invented key ids do not trigger more fetches within the cooldown.
        for i in 0..5 {
            let mut header = tenant.default_header();
            header["kid"] = json!(format!("invented-{i}"));
            let token = tenant.mint_token(&header, good_claims(&tenant, t));
            assert!(
                reason(check(&tenant, &jwks, &token, t).await.unwrap_err()).contains("unknown key")
            );
        }
        assert_eq!(tenant.requests(Endpoint::Jwks), 2);
        // The old token (its key removed) is now refused too, without a fetch.
        assert!(check(&tenant, &jwks, &token, t).await.is_err());
        assert_eq!(tenant.requests(Endpoint::Jwks), 2);
    }

    #[tokio::test]
    async fn concurrent_first_validations_share_one_fetch() {
        let tenant = DevTenant::start(Config::quickstart()).await.unwrap();
        let jwks = Arc::new(JwksCache::default());
        let t = now();
        let token = tenant.mint_token(tenant.default_header(), good_claims(&tenant, t));
        let done = Arc::new(AtomicU32::new(0));
        let mut tasks = Vec::new();
        let issuer = tenant.issuer();
        let uri = tenant.jwks_uri();
        for _ in 0..10 {
            let (jwks, token, done, issuer, uri) = (
                jwks.clone(),
                token.clone(),
                done.clone(),
                issuer.clone(),
                uri.clone(),
            );
            tasks.push(tokio::spawn(async move {
                validate(
                    &http(),
                    &RetryPolicy::none(),
                    &jwks,
                    Some(&uri),
                    &token,
                    &expected(&issuer, t),
                    CorrelationId::random(),
                )
                .await
                .unwrap();
                done.fetch_add(1, Ordering::SeqCst);
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(done.load(Ordering::SeqCst), 10);
        assert_eq!(tenant.requests(Endpoint::Jwks), 1);
    }

    proptest::proptest! {
        /// Attacker-shaped input (any text, or three base64url-ish segments) never panics and
        /// is never accepted: the only transport fails, so no key can be found.
        #[test]
        fn validate_never_panics(
            raw in proptest::prop_oneof![
                ".*",
                "[A-Za-z0-9_=-]{0,64}\\.[A-Za-z0-9_=-]{0,64}\\.[A-Za-z0-9_=-]{0,64}",
                proptest::collection::vec("[A-Za-z0-9_-]{0,40}", 3).prop_map(|parts| {
                    let header = base64::engine::general_purpose::URL_SAFE_NO_PAD
                        .encode(format!(r#"{{"alg":"RS256","kid":"{}"}}"#, parts[0]));
                    format!("{header}.{}.{}", parts[1], parts[2])
                }),
            ]
        ) {
            let offline = |_r: crate::http::HttpRequest| async {
                Err::<crate::http::HttpResponse, _>(crate::http::HttpError::body_too_large(0))
            };
            let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
            let outcome = runtime.block_on(validate(
                &offline,
                &RetryPolicy::none(),
                &JwksCache::default(),
                Some("https://login.example.com/keys"),
                &raw,
                &expected("https://issuer/v2.0", 1_700_000_000),
                CorrelationId::random(),
            ));
            proptest::prop_assert!(outcome.is_err());
            let _ = unverified_claims(&raw);
        }
    }

    proptest::proptest! {
        /// Any JWK-shaped JSON (wrong types, short or over-long coordinates, junk base64)
        /// yields a key or `None`, never a panic.
        #[test]
        fn jwk_parsing_never_panics(
            kty in "RSA|EC|[A-Z]{0,3}",
            crv in proptest::option::of("P-256|P-384|.{0,6}"),
            alg in proptest::option::of("[A-Z]{2}[0-9]{3}|.{0,6}"),
            parts in proptest::collection::vec(proptest::option::of("[A-Za-z0-9_=-]{0,400}"), 4),
        ) {
            let mut jwk = json!({"kty": kty, "kid": "k"});
            for (name, value) in ["n", "e", "x", "y"].iter().zip(&parts) {
                if let Some(v) = value {
                    jwk[*name] = json!(v);
                }
            }
            if let Some(crv) = crv { jwk["crv"] = json!(crv); }
            if let Some(alg) = alg { jwk["alg"] = json!(alg); }
            if let Ok(jwk) = serde_json::from_value::<Jwk>(jwk)
                && let Some(key) = jwk.signing_key()
            {
                for alg in ["RS256", "PS384", "ES256", "ES384"] {
                    proptest::prop_assert!(!key.verify(Algorithm::parse(alg).unwrap(), b"m", b"sig"));
                }
            }
        }
    }

    #[test]
    fn app_specific_jwks_uri_appends_appid() {
        assert_eq!(
            app_specific_jwks_uri(
                "https://login.microsoftonline.com/t/discovery/v2.0/keys",
                "c-1"
            )
            .unwrap(),
            "https://login.microsoftonline.com/t/discovery/v2.0/keys?appid=c-1"
        );
        assert_eq!(
            app_specific_jwks_uri("https://h/keys?x=1", "c-1").unwrap(),
            "https://h/keys?x=1&appid=c-1"
        );
        assert!(app_specific_jwks_uri("not a url", "c").is_none());
    }

    #[test]
    fn claims_decode_leniently_and_never_panic() {
        // The msal-node fixture pads its payload segment.
        assert_eq!(decode_claims("eyJhIjoxfQ==").unwrap()["a"], 1);
        assert_eq!(decode_claims("eyJhIjoxfQ").unwrap()["a"], 1);
        assert!(decode_claims("WzFd").is_none(), "an array is not claims");
        assert!(unverified_claims("a").is_none());
        assert!(unverified_claims("a.%%%.c").is_none());
    }
}
