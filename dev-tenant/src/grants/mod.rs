//! Token endpoint grants, one module each, and the issuance they share.

pub(crate) mod authorization_code;
pub(crate) mod client_credentials;
pub(crate) mod on_behalf_of;
pub(crate) mod refresh_token;

use serde_json::{Value, json};

use crate::config::AppRegistration;
use crate::errors::EntraError;
use crate::scopes::{claims_mfa_policies, delegated_grant, mfa_policies_for_request, parse_scopes};
use crate::state::{RefreshRecord, Tenant, random_string};
use crate::tokens::{ClientAuth, UserToken, client_info, id_token, user_access_token};

/// The inputs of a delegated (user) token response.
#[derive(Debug)]
pub(crate) struct UserIssue<'a> {
    /// The tenant the token endpoint was addressed at: the tokens' `tid` and `iss`.
    pub(crate) tenant_id: &'a str,
    pub(crate) client: &'a AppRegistration,
    pub(crate) client_auth: ClientAuth,
    pub(crate) user_oid: &'a str,
    pub(crate) scope: &'a str,
    pub(crate) mfa: bool,
    pub(crate) auth_time: i64,
    pub(crate) xms_cc: Vec<String>,
    /// Authentication contexts the sign-in satisfied (the token's `acrs`).
    pub(crate) acrs: Vec<String>,
    /// The browser session's `sid` (ID tokens carry it).
    pub(crate) sid: Option<String>,
    pub(crate) nonce: Option<&'a str>,
    /// Refuse with AADSTS50076 when a resource the scopes name needs MFA and the sign-in had
    /// none.
    pub(crate) enforce_ca: bool,
    pub(crate) lifetime: u64,
}

/// Issues the access token (and refresh token, ID token, `client_info`) of a user flow.
pub(crate) fn issue_user_tokens(t: &Tenant, i: &UserIssue<'_>) -> Result<Value, EntraError> {
    let req = parse_scopes(&t.config, i.scope, true)?;
    let grant = delegated_grant(&t.config, i.client, &req)?;
    if i.enforce_ca && !i.mfa {
        // Every resource the scopes name, as at the authorize endpoint: the token is for the
        // first, but a policy on another one must not be skipped by listing it second.
        let policies = mfa_policies_for_request(&t.config, &req);
        if !policies.is_empty() {
            let protected = req
                .resources
                .iter()
                .find(|r| !crate::scopes::mfa_policies(&t.config, &r.resource).is_empty())
                .map_or(grant.resource.as_str(), |r| r.resource.as_str());
            return Err(EntraError::mfa_required(protected, &policies));
        }
    }
    let user = t.store().user_by_oid(i.user_oid).cloned().ok_or_else(|| {
        EntraError::invalid_grant(50034, "The user account does not exist in this directory.")
    })?;
    let access_token = user_access_token(
        t,
        &UserToken {
            tenant_id: i.tenant_id,
            user: &user,
            client_id: &i.client.client_id,
            client_auth: i.client_auth,
            resource: &grant.resource,
            scp: &grant.scp,
            mfa: i.mfa,
            auth_time: i.auth_time,
            acrs: &i.acrs,
            xms_cc: &i.xms_cc,
            lifetime: i.lifetime,
        },
    );
    let mut body = json!({
        "token_type": "Bearer",
        "scope": grant.response_scope,
        "expires_in": i.lifetime,
        "ext_expires_in": i.lifetime,
        "access_token": access_token,
    });
    if req.offline_access {
        let rt = format!("1.{}", random_string(96));
        let lifetime = t.config.lifetimes.refresh_token_secs;
        t.store().refresh_tokens.insert(
            rt.clone(),
            RefreshRecord {
                client_id: i.client.client_id.clone(),
                user_oid: user.profile.id.clone(),
                scope: i.scope.to_owned(),
                auth_time: i.auth_time,
                mfa: i.mfa,
                xms_cc: i.xms_cc.clone(),
                acrs: i.acrs.clone(),
                sid: i.sid.clone(),
                seq: t.next_seq(),
                expires_at: crate::time::after(crate::time::now(), lifetime),
            },
        );
        body["refresh_token"] = json!(rt);
        body["refresh_token_expires_in"] = json!(lifetime);
    }
    if req.openid {
        body["id_token"] = json!(id_token(
            t,
            &user,
            &i.client.client_id,
            &crate::tokens::SignIn {
                tenant_id: i.tenant_id,
                nonce: i.nonce,
                sid: i.sid.as_deref(),
                auth_time: i.auth_time,
                mfa: i.mfa,
            },
            i.lifetime
        ));
    }
    body["client_info"] = json!(client_info(t, &user));
    Ok(body)
}

/// The `claims` parameter of a token request.
pub(crate) fn claims_param(
    p: &crate::parse::Params,
) -> Result<crate::parse::ClaimsRequest, EntraError> {
    match p.non_empty("claims") {
        Some(c) => crate::parse::parse_claims(c).map_err(|e| {
            EntraError::invalid_request(90014, format!("The claims parameter is invalid: {e}."))
        }),
        None => Ok(crate::parse::ClaimsRequest::default()),
    }
}

/// A user-flow refusal when the `claims` parameter demands what the sign-in lacks.
pub(crate) fn check_claims_demands(
    t: &Tenant,
    claims: &crate::parse::ClaimsRequest,
    mfa: bool,
    auth_time: i64,
    scope: &str,
) -> Result<(), EntraError> {
    if !mfa && let Some(policies) = claims_mfa_policies(&t.config, claims) {
        let resource = parse_scopes(&t.config, scope, true)
            .ok()
            .and_then(|r| r.resources.first().map(|r| r.resource.clone()))
            .unwrap_or_default();
        return Err(EntraError::mfa_required(&resource, &policies));
    }
    if claims.nbf.is_some_and(|nbf| nbf > auth_time) {
        let mut e = EntraError::invalid_grant(
            50173,
            "The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password.",
        );
        e.suberror = Some("bad_token");
        return Err(e);
    }
    Ok(())
}
