//! `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer` with
//! `requested_token_use=on_behalf_of` (Microsoft identity platform: "OAuth 2.0 On-Behalf-Of
//! flow"). The assertion must be a valid, unexpired user token from this tenant whose `aud` is
//! the calling client; the new token keeps the user's identity and MFA state.

use axum::http::HeaderMap;
use serde_json::Value;

use super::{UserIssue, issue_user_tokens};
use crate::client_auth::authenticate;
use crate::errors::EntraError;
use crate::parse::Params;
use crate::state::{Tenant, VerifyError};
use crate::tokens::{ClientAuth, mfa_from_aio, seq_from_uti};

pub(crate) fn exchange(
    t: &Tenant,
    tid: &str,
    headers: &HeaderMap,
    p: &Params,
) -> Result<Value, EntraError> {
    match p.non_empty("requested_token_use") {
        Some("on_behalf_of") => {}
        Some(other) => {
            return Err(EntraError::invalid_request(
                900144,
                format!(
                    "The value '{other}' of 'requested_token_use' is not supported; use 'on_behalf_of'."
                ),
            ));
        }
        None => return Err(EntraError::missing("requested_token_use")),
    }
    let client = authenticate(t, headers, p)?;
    if client.auth == ClientAuth::Public {
        return Err(EntraError::invalid_client(
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        ));
    }
    let assertion = p
        .non_empty("assertion")
        .ok_or_else(|| EntraError::missing("assertion"))?;
    let jwt = t.verify_own(assertion).map_err(|e| match e {
        VerifyError::Expired | VerifyError::NotYetValid => EntraError::invalid_grant(
            500133,
            format!(
                "Assertion is not within its valid time range. Ensure that the access token is not expired before using it for user assertion, or request a new token. Current time: {}.",
                crate::time::now()
            ),
        ),
        VerifyError::Issuer => EntraError::invalid_grant(50013, "Assertion failed signature validation. [Reason - The issuer of the assertion is not this tenant.]"),
        VerifyError::Malformed | VerifyError::Signature => {
            EntraError::invalid_grant(50013, "Assertion failed signature validation. [Reason - The key was not found or the signature is invalid.]")
        }
    })?;
    let aud = jwt.str_claim("aud").unwrap_or_default();
    let app = client.app;
    let aud_ok = aud.eq_ignore_ascii_case(&app.client_id)
        || app
            .identifier_uris
            .iter()
            .any(|u| u.eq_ignore_ascii_case(aud));
    if !aud_ok {
        return Err(EntraError::invalid_grant(
            50013,
            format!(
                "Assertion audience does not match the Client app presenting the assertion. The audience in the assertion was '{aud}' and the expected audience is '{}'.",
                app.client_id
            ),
        ));
    }
    let oid = jwt.str_claim("oid").unwrap_or_default().to_owned();
    if jwt.str_claim("idtyp") == Some("app") || jwt.claims.get("scp").is_none() || oid.is_empty() {
        return Err(EntraError::invalid_grant(
            50013,
            "Assertion is not a user token: the on-behalf-of flow needs a delegated (user) access token.",
        ));
    }
    // The assertion's `oid` is the user's object id in the tenant that issued it (a guest's
    // own in another tenant); the records here are keyed by the home object id.
    let assertion_tid = jwt.str_claim("tid").unwrap_or(t.tenant_id());
    let oid = t.home_oid(assertion_tid, &oid).unwrap_or(oid);
    if let Some(seq) = jwt.str_claim("uti").and_then(seq_from_uti)
        && t.store().revoked(&oid, seq).is_some()
    {
        let mut e = EntraError::invalid_grant(
            50173,
            "The provided grant has expired due to it being revoked, a fresh auth token is needed.",
        );
        e.suberror = Some("bad_token");
        return Err(e);
    }
    // A v2.0 access token has no `amr` (access-token claims reference); this tenant records
    // the sign-in's MFA state in `aio`. `amr` still counts for v1.0-shaped or hand-minted tokens.
    let mfa = jwt.str_claim("aio").and_then(mfa_from_aio).unwrap_or(false)
        || jwt
            .claims
            .get("amr")
            .and_then(Value::as_array)
            .is_some_and(|a| a.iter().any(|v| v.as_str() == Some("mfa")));
    let auth_time = jwt.time_claim("iat").unwrap_or_else(crate::time::now);
    let scope = p
        .non_empty("scope")
        .ok_or_else(|| EntraError::missing("scope"))?;
    let claims = super::claims_param(p)?;
    super::check_claims_demands(t, &claims, mfa, auth_time, scope)?;
    issue_user_tokens(
        t,
        &UserIssue {
            tenant_id: tid,
            client: app,
            client_auth: client.auth,
            user_oid: &oid,
            scope,
            mfa,
            auth_time,
            xms_cc: claims.xms_cc.clone(),
            acrs: crate::scopes::satisfied_contexts(&t.config, &claims.acrs, mfa),
            sid: None,
            nonce: None,
            enforce_ca: true,
            lifetime: t.config.lifetimes.access_token_secs,
        },
    )
}
