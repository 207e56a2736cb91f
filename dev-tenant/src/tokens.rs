//! Access tokens, ID tokens and `client_info` with the claims Entra puts in them
//! (Microsoft identity platform: "Access token claims reference", "ID token claims reference").

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use crate::state::{Tenant, UserRecord, derived_guid, random_string, sha256_b64};

/// How the client authenticated (`azpacr`: 0 public, 1 secret, 2 certificate).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ClientAuth {
    Public,
    Secret,
    Certificate,
}

impl ClientAuth {
    pub(crate) fn azpacr(self) -> &'static str {
        match self {
            Self::Public => "0",
            Self::Secret => "1",
            Self::Certificate => "2",
        }
    }
}

/// Everything that goes into a delegated (user) access token.
#[derive(Debug, Clone)]
pub(crate) struct UserToken<'a> {
    /// The issuing tenant (`tid`, `iss`; the user's object id there).
    pub(crate) tenant_id: &'a str,
    pub(crate) user: &'a UserRecord,
    pub(crate) client_id: &'a str,
    pub(crate) client_auth: ClientAuth,
    pub(crate) resource: &'a str,
    pub(crate) scp: &'a [String],
    pub(crate) mfa: bool,
    pub(crate) auth_time: i64,
    /// Authentication contexts the sign-in satisfied (`acrs`).
    pub(crate) acrs: &'a [String],
    pub(crate) xms_cc: &'a [String],
    pub(crate) lifetime: u64,
}

/// The `uti` claim encodes the issuance sequence number (so revocation can compare it with the
/// revocation's) followed by random bytes; clients treat it as opaque.
pub(crate) fn new_uti(seq: u64) -> String {
    let mut bytes = seq.to_be_bytes().to_vec();
    let random = random_string(8);
    bytes.extend(URL_SAFE_NO_PAD.decode(random).unwrap_or_default());
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The issuance sequence number inside a `uti` this tenant minted.
pub(crate) fn seq_from_uti(uti: &str) -> Option<u64> {
    let bytes = URL_SAFE_NO_PAD.decode(uti).ok()?;
    Some(u64::from_be_bytes(bytes.get(..8)?.try_into().ok()?))
}

/// Pairwise `sub`: stable per user and audience, as Entra's.
pub(crate) fn pairwise_sub(oid: &str, audience: &str) -> String {
    sha256_b64(format!("{oid}|{}", audience.to_ascii_lowercase()).as_bytes())
}

/// The `aio` claim: opaque to clients ("An internal claim used by Microsoft Entra ID to record
/// data for token reuse", access-token claims reference). This tenant records there what the
/// on-behalf-of flow needs to know about the sign-in, the MFA state (first byte, bit 0), because
/// a v2.0 access token has no `amr`.
fn new_aio(mfa: bool) -> String {
    let mut bytes = vec![u8::from(mfa)];
    bytes.extend(
        URL_SAFE_NO_PAD
            .decode(random_string(30))
            .unwrap_or_default(),
    );
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The MFA state recorded in an `aio` this tenant minted (`None` for any other value).
pub(crate) fn mfa_from_aio(aio: &str) -> Option<bool> {
    let bytes = URL_SAFE_NO_PAD.decode(aio).ok()?;
    match (bytes.len(), bytes.first()) {
        (31, Some(0)) => Some(false),
        (31, Some(1)) => Some(true),
        _ => None,
    }
}

fn amr(mfa: bool) -> Value {
    if mfa {
        json!(["pwd", "mfa"])
    } else {
        json!(["pwd"])
    }
}

/// A v2.0 delegated access token. It has no `amr`: the access-token claims reference lists
/// `amr` as "only present in v1.0 tokens", so an API that checks it must refuse Entra's v2.0
/// tokens here too. The MFA state stays in the session, the refresh token's record and `aio`.
pub(crate) fn user_access_token(t: &Tenant, p: &UserToken<'_>) -> String {
    let now = crate::time::now();
    let seq = t.next_seq();
    let profile = &p.user.profile;
    let oid = t.local_oid(p.tenant_id, &profile.id);
    let mut claims = json!({
        "aud": p.resource,
        "iss": t.issuer_of(p.tenant_id),
        "iat": now,
        "nbf": now,
        "exp": crate::time::after(now, p.lifetime),
        "aio": new_aio(p.mfa),
        "azp": p.client_id,
        "azpacr": p.client_auth.azpacr(),
        "idtyp": "user",
        "name": profile.display_name,
        "oid": oid,
        "preferred_username": profile.user_principal_name,
        "rh": format!("1.{}.", random_string(24)),
        "scp": p.scp.join(" "),
        "sub": pairwise_sub(&oid, p.resource),
        "tid": p.tenant_id,
        "uti": new_uti(seq),
        "ver": "2.0",
    });
    if !p.xms_cc.is_empty() {
        claims["xms_cc"] = json!(p.xms_cc);
    }
    if !p.acrs.is_empty() {
        claims["acrs"] = json!(p.acrs);
    }
    add_guest(t, &mut claims, p.tenant_id);
    if let Some(app) = t.app(p.resource) {
        add_optional(
            &mut claims,
            p.user,
            p.auth_time,
            |n| app.optional_claims.access_token_has(n),
            None,
        );
        if app.optional_claims.access_token_has("acct") && !t.is_home(p.tenant_id) {
            claims["acct"] = json!(1);
        }
    }
    t.sign(&t.jose_header(), &claims)
}

/// A guest's tokens name the home tenant's issuer in `idp` (access-token and ID-token claims
/// references: `idp` "records the identity provider that authenticated the subject", the
/// home tenant's issuer for a guest, absent for a member).
fn add_guest(t: &Tenant, claims: &mut Value, tid: &str) {
    if !t.is_home(tid) {
        claims["idp"] = json!(format!("https://sts.windows.net/{}/", t.tenant_id()));
    }
}

/// Adds the optional claims `wanted` says the app configured ("Provide optional claims to your
/// app"; ID-token and access-token claims references).
fn add_optional(
    claims: &mut Value,
    user: &UserRecord,
    auth_time: i64,
    wanted: impl Fn(&str) -> bool,
    mfa: Option<bool>,
) {
    let profile = &user.profile;
    if wanted("auth_time") {
        claims["auth_time"] = json!(auth_time);
    }
    if wanted("email") {
        claims["email"] = json!(profile.mail);
    }
    if let Some(mfa) = mfa.filter(|_| wanted("amr")) {
        claims["amr"] = amr(mfa);
    }
    if wanted("upn") {
        claims["upn"] = json!(profile.user_principal_name);
    }
    if wanted("acct") {
        // 0: a member of the tenant (an external tenant's customers are its members).
        claims["acct"] = json!(0);
    }
    if let Some(g) = profile.given_name.as_ref().filter(|_| wanted("given_name")) {
        claims["given_name"] = json!(g);
    }
    if let Some(f) = profile.surname.as_ref().filter(|_| wanted("family_name")) {
        claims["family_name"] = json!(f);
    }
}

/// A v2.0 app-only access token (client credentials).
pub(crate) fn app_access_token(
    t: &Tenant,
    tid: &str,
    client_id: &str,
    client_auth: ClientAuth,
    resource: &str,
    roles: &[String],
    lifetime: u64,
) -> String {
    let now = crate::time::now();
    // The app's service principal in that tenant: one object per tenant the app is in.
    let sp = derived_guid(&format!("service-principal:{tid}:{client_id}"));
    let mut claims = json!({
        "aud": resource,
        "iss": t.issuer_of(tid),
        "iat": now,
        "nbf": now,
        "exp": crate::time::after(now, lifetime),
        "aio": random_string(42),
        "azp": client_id,
        "azpacr": client_auth.azpacr(),
        "idtyp": "app",
        "oid": sp,
        "rh": format!("1.{}.", random_string(24)),
        "sub": sp,
        "tid": tid,
        "uti": new_uti(t.next_seq()),
        "ver": "2.0",
    });
    if !roles.is_empty() {
        claims["roles"] = json!(roles);
    }
    t.sign(&t.jose_header(), &claims)
}

/// What an ID token tells about the sign-in.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SignIn<'a> {
    /// The issuing tenant.
    pub(crate) tenant_id: &'a str,
    pub(crate) nonce: Option<&'a str>,
    pub(crate) sid: Option<&'a str>,
    pub(crate) auth_time: i64,
    pub(crate) mfa: bool,
}

/// A v2.0 ID token for `client_id`: `amr`, `auth_time` and `email` only when the app asks for
/// them as optional claims (ID-token claims reference).
pub(crate) fn id_token(
    t: &Tenant,
    user: &UserRecord,
    client_id: &str,
    sign_in: &SignIn<'_>,
    lifetime: u64,
) -> String {
    let SignIn {
        tenant_id,
        nonce,
        sid,
        auth_time,
        mfa,
    } = *sign_in;
    let now = crate::time::now();
    let profile = &user.profile;
    let oid = t.local_oid(tenant_id, &profile.id);
    let mut claims = json!({
        "aud": client_id,
        "iss": t.issuer_of(tenant_id),
        "iat": now,
        "nbf": now,
        "exp": crate::time::after(now, lifetime),
        "aio": random_string(42),
        "name": profile.display_name,
        "oid": oid,
        "preferred_username": profile.user_principal_name,
        "rh": format!("1.{}.", random_string(24)),
        "sub": pairwise_sub(&oid, client_id),
        "tid": tenant_id,
        "uti": new_uti(t.next_seq()),
        "ver": "2.0",
    });
    add_guest(t, &mut claims, tenant_id);
    if let Some(app) = t.app(client_id) {
        add_optional(
            &mut claims,
            user,
            auth_time,
            |n| app.optional_claims.id_token_has(n),
            Some(mfa),
        );
        if app.optional_claims.id_token_has("acct") && !t.is_home(tenant_id) {
            claims["acct"] = json!(1);
        }
    }
    if let Some(nonce) = nonce {
        claims["nonce"] = json!(nonce);
    }
    if let Some(sid) = sid {
        claims["sid"] = json!(sid);
    }
    t.sign(&t.jose_header(), &claims)
}

/// `client_info`: base64url of `{"uid": oid, "utid": tenant id}`, always the home tenant's
/// (MSAL's `home_account_id` is `uid.utid`, the same for a user in every tenant).
pub(crate) fn client_info(t: &Tenant, user: &UserRecord) -> String {
    URL_SAFE_NO_PAD.encode(json!({"uid": user.profile.id, "utid": t.tenant_id()}).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uti_round_trips_sequence() {
        for seq in [0, 1, 42, u64::MAX] {
            assert_eq!(seq_from_uti(&new_uti(seq)), Some(seq));
        }
        assert_eq!(seq_from_uti("short"), None);
        assert_eq!(seq_from_uti("!!"), None);
    }

    #[test]
    fn aio_records_mfa() {
        assert_eq!(mfa_from_aio(&new_aio(true)), Some(true));
        assert_eq!(mfa_from_aio(&new_aio(false)), Some(false));
        for other in ["", "!!", "AQ", &URL_SAFE_NO_PAD.encode([2u8; 31])] {
            assert_eq!(mfa_from_aio(other), None, "{other}");
        }
    }

    #[test]
    fn pairwise_sub_differs_by_audience() {
        assert_ne!(pairwise_sub("o", "a"), pairwise_sub("o", "b"));
        assert_eq!(pairwise_sub("o", "A"), pairwise_sub("o", "a"));
    }
}
