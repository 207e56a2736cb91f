//! `grant_type=refresh_token` (RFC 6749 section 6). Each response carries a new refresh token;
//! like Entra, the old one stays valid until it expires or the user's sessions are revoked.
//! The refresh token remembers the sign-in's MFA state, consent and client capabilities.
//! It is redeemable at any tenant the user belongs to (home or guest), as Entra's refresh
//! tokens are for the same user and client; the new tokens carry that tenant's `tid` and `iss`.

use axum::http::HeaderMap;
use serde_json::Value;

use super::{UserIssue, issue_user_tokens};
use crate::client_auth::authenticate;
use crate::errors::EntraError;
use crate::parse::Params;
use crate::state::Tenant;

pub(crate) fn refresh(
    t: &Tenant,
    tid: &str,
    headers: &HeaderMap,
    p: &Params,
) -> Result<Value, EntraError> {
    let client = authenticate(t, headers, p)?;
    let rt = p
        .non_empty("refresh_token")
        .ok_or_else(|| EntraError::missing("refresh_token"))?;
    let now = crate::time::now();
    let record = {
        let store = t.store();
        let record = store.refresh_tokens.get(rt).cloned().ok_or_else(|| {
            EntraError::invalid_grant(9002313, "Invalid request. Request is malformed or invalid.")
        })?;
        if store.revoked(&record.user_oid, record.seq).is_some() {
            let mut e = EntraError::invalid_grant(
                50173,
                "The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password.",
            );
            e.suberror = Some("bad_token");
            return Err(e);
        }
        record
    };
    if record.expires_at <= now {
        return Err(EntraError::invalid_grant(
            700082,
            "The refresh token has expired due to inactivity.",
        ));
    }
    if !record.client_id.eq_ignore_ascii_case(&client.app.client_id) {
        return Err(EntraError::invalid_grant(
            70000,
            "Provided grant is invalid or malformed: the refresh token was issued to another client.",
        ));
    }
    let scope = p.non_empty("scope").unwrap_or(&record.scope);
    let claims = super::claims_param(p)?;
    super::check_claims_demands(t, &claims, record.mfa, record.auth_time, scope)?;
    let xms_cc = if claims.xms_cc.is_empty() {
        record.xms_cc.clone()
    } else {
        claims.xms_cc.clone()
    };
    issue_user_tokens(
        t,
        &UserIssue {
            tenant_id: tid,
            client: client.app,
            client_auth: client.auth,
            user_oid: &record.user_oid,
            scope,
            mfa: record.mfa,
            auth_time: record.auth_time,
            xms_cc,
            acrs: crate::scopes::union(
                &record.acrs,
                &crate::scopes::satisfied_contexts(&t.config, &claims.acrs, record.mfa),
            ),
            sid: record.sid.clone(),
            nonce: None,
            enforce_ca: true,
            lifetime: t.config.lifetimes.access_token_secs,
        },
    )
}
