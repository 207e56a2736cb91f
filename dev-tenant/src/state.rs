//! The tenant's shared state: configuration, keys, users and the short-lived records of the
//! OAuth flows (transactions, sessions, codes, refresh tokens, used assertion ids).
//!
//! Locks are `std` locks held only for map operations, never across an `.await`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, RwLock};

use aws_lc_rs::digest;
use aws_lc_rs::rand::SecureRandom as _;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

use crate::config::{AppRegistration, Config, Secret};
use crate::faults::{Counters, Faults};
use crate::keys::{KeySet, RegisteredKey, SigningKey};
use crate::parse::{Jwt, decode_jwt};
use crate::{Error, UserProfile};

/// A seeded user with its current (mutable) profile.
#[derive(Debug, Clone)]
pub(crate) struct UserRecord {
    pub(crate) profile: UserProfile,
    pub(crate) password: Secret,
}

/// A login in progress: the validated authorize request and how far the user got.
#[derive(Debug, Clone)]
pub(crate) struct Transaction {
    pub(crate) request: crate::authorize::AuthRequest,
    pub(crate) user_oid: Option<String>,
    pub(crate) session_id: Option<String>,
    pub(crate) new_session: bool,
    pub(crate) mfa_code: Option<String>,
    pub(crate) mfa_attempts: u32,
    pub(crate) needs_mfa: bool,
    pub(crate) expires_at: i64,
}

/// A browser SSO session (the tenant-host cookie).
#[derive(Debug, Clone)]
pub(crate) struct Session {
    pub(crate) user_oid: String,
    pub(crate) auth_time: i64,
    pub(crate) mfa: bool,
    pub(crate) session_state: String,
}

/// An issued authorization code.
#[derive(Debug, Clone)]
pub(crate) struct CodeRecord {
    pub(crate) client_id: String,
    /// The tenant the authorize request addressed; the code is redeemable there only.
    pub(crate) tenant_id: String,
    pub(crate) redirect_uri: String,
    pub(crate) scope: String,
    /// The PKCE challenge of the authorize request, if it sent one.
    pub(crate) pkce: Option<crate::authorize::Pkce>,
    pub(crate) nonce: Option<String>,
    pub(crate) user_oid: String,
    pub(crate) auth_time: i64,
    pub(crate) mfa: bool,
    pub(crate) xms_cc: Vec<String>,
    /// Authentication contexts the sign-in satisfied.
    pub(crate) acrs: Vec<String>,
    /// The browser session's `sid`.
    pub(crate) sid: Option<String>,
    pub(crate) expires_at: i64,
}

/// An issued refresh token.
#[derive(Debug, Clone)]
pub(crate) struct RefreshRecord {
    pub(crate) client_id: String,
    pub(crate) user_oid: String,
    pub(crate) scope: String,
    pub(crate) auth_time: i64,
    pub(crate) mfa: bool,
    pub(crate) xms_cc: Vec<String>,
    /// Authentication contexts the sign-in satisfied; tokens from this refresh token keep them.
    pub(crate) acrs: Vec<String>,
    /// The browser session's `sid`, for the ID tokens of refreshes.
    pub(crate) sid: Option<String>,
    pub(crate) seq: u64,
    pub(crate) expires_at: i64,
}

/// A CAE-style revocation of a user's sessions.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Revocation {
    pub(crate) seq: u64,
    pub(crate) at: i64,
}

#[derive(Default)]
pub(crate) struct Store {
    pub(crate) users: Vec<UserRecord>,
    pub(crate) transactions: HashMap<String, Transaction>,
    pub(crate) sessions: HashMap<String, Session>,
    pub(crate) codes: HashMap<String, CodeRecord>,
    pub(crate) redeemed_codes: HashMap<String, i64>,
    pub(crate) refresh_tokens: HashMap<String, RefreshRecord>,
    pub(crate) used_jti: HashMap<String, i64>,
    pub(crate) revocations: HashMap<String, Revocation>,
    pub(crate) last_mfa_code: Option<String>,
}

/// Counts only: the maps hold codes, refresh tokens and one-time codes.
impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("users", &self.users.len())
            .field("transactions", &self.transactions.len())
            .field("sessions", &self.sessions.len())
            .field("codes", &self.codes.len())
            .field("refresh_tokens", &self.refresh_tokens.len())
            .field("revocations", &self.revocations.len())
            .finish_non_exhaustive()
    }
}

impl Session {
    /// The session's `sid` claim: a GUID stable for the session ("ID token claims reference":
    /// "Session ID, used for per-session user sign-out").
    pub(crate) fn sid(&self) -> String {
        derived_guid(&format!("sid:{}", self.session_state))
    }
}

impl Store {
    pub(crate) fn user_by_oid(&self, oid: &str) -> Option<&UserRecord> {
        self.users
            .iter()
            .find(|u| u.profile.id.eq_ignore_ascii_case(oid))
    }

    pub(crate) fn user_by_email(&self, email: &str) -> Option<&UserRecord> {
        let email = email.trim();
        self.users
            .iter()
            .find(|u| u.profile.mail.eq_ignore_ascii_case(email))
    }

    /// Drops expired records so a long-running tenant does not grow without bound.
    pub(crate) fn prune(&mut self, now: i64) {
        self.transactions.retain(|_, t| t.expires_at > now);
        self.codes.retain(|_, c| c.expires_at > now);
        self.redeemed_codes.retain(|_, exp| *exp > now);
        self.refresh_tokens.retain(|_, r| r.expires_at > now);
        self.used_jti.retain(|_, exp| *exp > now);
    }

    /// Whether something issued at `seq` for `oid` was issued before the user's revocation.
    pub(crate) fn revoked(&self, oid: &str, seq: u64) -> Option<Revocation> {
        self.revocations
            .get(&oid.to_ascii_lowercase())
            .copied()
            .filter(|r| seq < r.seq)
    }
}

/// Everything a running dev tenant shares between requests.
#[derive(Debug)]
pub(crate) struct Tenant {
    pub(crate) config: Config,
    pub(crate) base_url: String,
    pub(crate) keys: RwLock<KeySet>,
    store: Mutex<Store>,
    pub(crate) faults: Faults,
    pub(crate) counters: Counters,
    pub(crate) registered_keys: HashMap<String, Vec<RegisteredKey>>,
    seq: AtomicU64,
    pub(crate) https: bool,
    pub(crate) port: u16,
}

impl Tenant {
    pub(crate) fn new(
        config: Config,
        base_url: String,
        https: bool,
        port: u16,
    ) -> Result<Self, Error> {
        let issuer = format!("{base_url}/{}/v2.0", config.tenant.tenant_id);
        let keys = KeySet::new(SigningKey::generate(&issuer)?);
        let mut registered_keys = HashMap::new();
        for app in &config.apps {
            let keys = app
                .certificates
                .iter()
                .map(|pem| crate::keys::public_key_from_pem(pem))
                .collect::<Result<Vec<_>, _>>()?;
            registered_keys.insert(app.client_id.to_ascii_lowercase(), keys);
        }
        let users = config
            .users
            .iter()
            .map(|u| UserRecord {
                profile: UserProfile {
                    id: u.object_id.clone(),
                    mail: u.email.clone(),
                    user_principal_name: u.email.clone(),
                    display_name: u.display_name.clone(),
                    given_name: u.given_name.clone(),
                    surname: u.surname.clone(),
                    other: std::collections::BTreeMap::new(),
                },
                password: u.password.clone(),
            })
            .collect();
        Ok(Self {
            config,
            base_url,
            keys: RwLock::new(keys),
            store: Mutex::new(Store {
                users,
                ..Store::default()
            }),
            faults: Faults::default(),
            counters: Counters::default(),
            registered_keys,
            seq: AtomicU64::new(1),
            https,
            port,
        })
    }

    pub(crate) fn store(&self) -> MutexGuard<'_, Store> {
        // A panic while holding the lock cannot leave the maps half-updated in a way that
        // matters for a test server, so recover from poisoning.
        self.store
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn tenant_id(&self) -> &str {
        &self.config.tenant.tenant_id
    }

    pub(crate) fn domain(&self) -> String {
        self.config.tenant.domain()
    }

    pub(crate) fn issuer(&self) -> String {
        self.issuer_of(self.tenant_id())
    }

    /// The issuer of the tenant `tid` (home or additional): `{base}/{tid}/v2.0`.
    pub(crate) fn issuer_of(&self, tid: &str) -> String {
        format!("{}/{tid}/v2.0", self.base_url)
    }

    /// The ids of the tenants configured besides the home tenant.
    pub(crate) fn additional_tenant_ids(&self) -> impl Iterator<Item = &str> {
        self.config
            .tenant
            .additional_tenants
            .iter()
            .map(|t| t.tenant_id.as_str())
    }

    /// Whether `tid` is the home tenant (the users' home; `client_info` names it).
    pub(crate) fn is_home(&self, tid: &str) -> bool {
        tid.eq_ignore_ascii_case(self.tenant_id())
    }

    /// The tenant id a `{tenant}` path segment names: the home tenant or an additional one,
    /// by id, subdomain or `{subdomain}.onmicrosoft.com` (any case).
    pub(crate) fn resolve_tenant(&self, segment: &str) -> Option<&str> {
        let names = |id: &str, sub: Option<&str>| {
            segment.eq_ignore_ascii_case(id)
                || sub.is_some_and(|sub| {
                    segment.eq_ignore_ascii_case(sub)
                        || segment.eq_ignore_ascii_case(&format!("{sub}.onmicrosoft.com"))
                })
        };
        let home = &self.config.tenant;
        if names(&home.tenant_id, Some(&home.subdomain)) {
            return Some(&home.tenant_id);
        }
        home.additional_tenants
            .iter()
            .find(|t| names(&t.tenant_id, t.subdomain.as_deref()))
            .map(|t| t.tenant_id.as_str())
    }

    /// The user's object id in tenant `tid`: the home object id at home; in another tenant the
    /// guest account's own object id (Entra B2B: a guest is a separate user object in the
    /// resource tenant), derived stably from both.
    pub(crate) fn local_oid(&self, tid: &str, home_oid: &str) -> String {
        if self.is_home(tid) {
            home_oid.to_owned()
        } else {
            derived_guid(&format!(
                "guest:{}:{}",
                tid.to_ascii_lowercase(),
                home_oid.to_ascii_lowercase()
            ))
        }
    }

    /// The home object id of the user whose object id in tenant `tid` is `oid`.
    pub(crate) fn home_oid(&self, tid: &str, oid: &str) -> Option<String> {
        if self.is_home(tid) {
            return Some(oid.to_owned());
        }
        if !self
            .additional_tenant_ids()
            .any(|t| t.eq_ignore_ascii_case(tid))
        {
            return None;
        }
        self.store()
            .users
            .iter()
            .map(|u| &u.profile.id)
            .find(|home| self.local_oid(tid, home).eq_ignore_ascii_case(oid))
            .cloned()
    }

    pub(crate) fn authority(&self) -> String {
        format!("{}/{}/", self.base_url, self.domain())
    }

    /// Whether a `{tenant}` path segment names a tenant served here (see [`Self::resolve_tenant`]).
    pub(crate) fn tenant_matches(&self, segment: &str) -> bool {
        self.resolve_tenant(segment).is_some()
    }

    /// Token endpoint URLs accepted as a client assertion's `aud`: every name of every tenant
    /// served here, and the issuers.
    pub(crate) fn assertion_audiences(&self) -> Vec<String> {
        let mut v = Vec::new();
        let home = &self.config.tenant;
        let tenants = std::iter::once((home.tenant_id.as_str(), Some(home.subdomain.as_str())))
            .chain(
                home.additional_tenants
                    .iter()
                    .map(|t| (t.tenant_id.as_str(), t.subdomain.as_deref())),
            );
        for (id, sub) in tenants {
            let mut names = vec![id.to_owned()];
            if let Some(sub) = sub {
                names.push(sub.to_owned());
                names.push(format!("{sub}.onmicrosoft.com"));
            }
            for n in names {
                v.push(format!("{}/{n}/oauth2/v2.0/token", self.base_url));
            }
            v.push(self.issuer_of(id));
        }
        v
    }

    pub(crate) fn next_seq(&self) -> u64 {
        self.seq.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn app(&self, client_id: &str) -> Option<&AppRegistration> {
        self.config.app(client_id)
    }

    /// Signs `header.claims` with the current key (RS256).
    pub(crate) fn sign(&self, header: &Value, claims: &Value) -> String {
        self.sign_raw(header.to_string().as_bytes(), claims.to_string().as_bytes())
    }

    /// Signs exactly these header and claims bytes (RS256, current key).
    pub(crate) fn sign_raw(&self, header: &[u8], claims: &[u8]) -> String {
        let key = self
            .keys
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .current();
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(claims)
        );
        let sig = key.sign(input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
    }

    /// The standard JOSE header for the current key.
    pub(crate) fn jose_header(&self) -> Value {
        let key = self
            .keys
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .current();
        serde_json::json!({"typ": "JWT", "alg": "RS256", "kid": key.kid()})
    }

    /// Verifies a token this tenant issued: RS256 signature by a published key, issuer, and
    /// `nbf`/`exp` with five minutes of skew. The audience is the caller's business.
    pub(crate) fn verify_own(&self, token: &str) -> Result<Jwt, VerifyError> {
        let jwt = decode_jwt(token).map_err(|_| VerifyError::Malformed)?;
        if jwt.alg() != Some("RS256") {
            return Err(VerifyError::Signature);
        }
        let kid = jwt.header.get("kid").and_then(Value::as_str);
        let keys = self
            .keys
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .published();
        let ok = keys
            .iter()
            .filter(|k| kid.is_none_or(|kid| kid == k.kid()))
            .any(|k| k.verify(jwt.signing_input(), &jwt.signature));
        if !ok {
            return Err(VerifyError::Signature);
        }
        // Any tenant served here, and the `tid` must be the issuer's.
        let iss_ok = jwt.str_claim("iss").is_some_and(|iss| {
            std::iter::once(self.tenant_id())
                .chain(self.additional_tenant_ids())
                .any(|tid| {
                    iss == self.issuer_of(tid)
                        && jwt
                            .str_claim("tid")
                            .is_none_or(|claim| claim.eq_ignore_ascii_case(tid))
                })
        });
        if !iss_ok {
            return Err(VerifyError::Issuer);
        }
        let now = crate::time::now();
        let exp = jwt.time_claim("exp").ok_or(VerifyError::Expired)?;
        if exp.saturating_add(300) < now {
            return Err(VerifyError::Expired);
        }
        if jwt.time_claim("nbf").is_some_and(|nbf| nbf > now + 300) {
            return Err(VerifyError::NotYetValid);
        }
        Ok(jwt)
    }
}

/// Why a token failed [`Tenant::verify_own`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum VerifyError {
    Malformed,
    Signature,
    Issuer,
    Expired,
    NotYetValid,
}

/// `n` random bytes, base64url.
pub(crate) fn random_string(n: usize) -> String {
    let mut buf = vec![0u8; n];
    // Invariant: the system RNG does not fail on supported platforms; a zero buffer would
    // only make a test server's ids guessable, which is logged.
    if aws_lc_rs::rand::SystemRandom::new().fill(&mut buf).is_err() {
        tracing::error!("system random number generator failed");
    }
    URL_SAFE_NO_PAD.encode(buf)
}

/// A six-digit one-time code.
pub(crate) fn random_otp() -> String {
    let mut buf = [0u8; 4];
    if aws_lc_rs::rand::SystemRandom::new().fill(&mut buf).is_err() {
        tracing::error!("system random number generator failed");
    }
    format!("{:06}", u32::from_be_bytes(buf) % 1_000_000)
}

/// base64url SHA-256.
pub(crate) fn sha256_b64(input: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, input))
}

/// A stable GUID derived from `seed` (service principal object ids).
pub(crate) fn derived_guid(seed: &str) -> String {
    let d = digest::digest(&digest::SHA256, seed.as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&d.as_ref()[..16]);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    uuid::Uuid::from_bytes(b).to_string()
}
