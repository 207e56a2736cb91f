//! `grant_type=authorization_code` (RFC 6749 section 4.1.3), with PKCE when the authorize request
//! used it (RFC 7636 section 4.6).

use axum::http::HeaderMap;
use serde_json::Value;

use super::{UserIssue, issue_user_tokens};
use crate::client_auth::authenticate;
use crate::errors::EntraError;
use crate::parse::Params;
use crate::state::Tenant;

pub(crate) fn redeem(
    t: &Tenant,
    tid: &str,
    headers: &HeaderMap,
    p: &Params,
) -> Result<Value, EntraError> {
    let client = authenticate(t, headers, p)?;
    let code = p
        .non_empty("code")
        .ok_or_else(|| EntraError::missing("code"))?;
    let now = crate::time::now();
    let record = {
        let mut store = t.store();
        let record = store.codes.remove(code);
        match &record {
            Some(r) => {
                // Single use: remembered so a second attempt gets AADSTS54005.
                store
                    .redeemed_codes
                    .insert(code.to_owned(), r.expires_at.saturating_add(3600));
            }
            None if store.redeemed_codes.contains_key(code) => {
                return Err(EntraError::invalid_grant(
                    54005,
                    "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.",
                ));
            }
            None => {}
        }
        record.ok_or_else(|| {
            EntraError::invalid_grant(9002313, "Invalid request. Request is malformed or invalid.")
        })?
    };
    if record.expires_at <= now {
        return Err(EntraError::invalid_grant(
            70008,
            "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.",
        ));
    }
    if !record.client_id.eq_ignore_ascii_case(&client.app.client_id) {
        return Err(EntraError::invalid_grant(
            70000,
            "Provided grant is invalid or malformed: the code was issued to another client.",
        ));
    }
    // A code belongs to the tenant its authorize request addressed (the same tenant by another
    // name is fine: both resolve to one id).
    if !record.tenant_id.eq_ignore_ascii_case(tid) {
        return Err(EntraError::invalid_grant(
            70000,
            "Provided grant is invalid or malformed: the code was issued for another tenant.",
        ));
    }
    if p.get("redirect_uri")
        .is_some_and(|r| r != record.redirect_uri)
    {
        return Err(EntraError::invalid_grant(
            500112,
            "The reply address does not match the reply address provided when requesting the authorization code.",
        ));
    }
    // PKCE when the authorize request sent a challenge (RFC 7636 section 4.6); a verifier
    // without a challenge is ignored, as by Entra.
    if let Some(pkce) = &record.pkce {
        let verifier = p
            .non_empty("code_verifier")
            .ok_or_else(|| EntraError::missing("code_verifier"))?;
        if !crate::authorize::is_verifier_shaped(verifier) {
            return Err(EntraError::invalid_grant(
                501491,
                "Invalid size of Code_Verifier: it must be 43 to 128 unreserved characters.",
            ));
        }
        if !pkce.verifies(verifier) {
            return Err(EntraError::invalid_grant(
                50148,
                "The code_verifier does not match the code_challenge supplied in the authorization request for PKCE.",
            ));
        }
    }
    let scope = p.non_empty("scope").unwrap_or(&record.scope);
    let claims = super::claims_param(p)?;
    let xms_cc = if claims.xms_cc.is_empty() {
        record.xms_cc.clone()
    } else {
        claims.xms_cc.clone()
    };
    super::check_claims_demands(t, &claims, record.mfa, record.auth_time, scope)?;
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
            nonce: record.nonce.as_deref(),
            enforce_ca: true,
            lifetime: t.config.lifetimes.access_token_secs,
        },
    )
}
