//! Client authentication at the token endpoint: `client_secret` in the body or HTTP Basic
//! (RFC 6749 section 2.3.1), or a `private_key_jwt` client assertion (RFC 7523; Microsoft
//! identity platform: "Certificate credentials") checked for signature, `aud`, `exp`, and `jti`
//! replay when `reject_replayed_assertions` is on.

use axum::http::{HeaderMap, header};
use serde_json::Value;

use crate::config::AppRegistration;
use crate::errors::EntraError;
use crate::parse::{Params, decode_jwt, parse_basic_auth};
use crate::state::Tenant;
use crate::tokens::ClientAuth;

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
const SKEW: i64 = 300;

/// An authenticated client.
#[derive(Debug)]
pub(crate) struct Client<'a> {
    pub(crate) app: &'a AppRegistration,
    pub(crate) auth: ClientAuth,
}

/// Authenticates the client of a token request.
pub(crate) fn authenticate<'a>(
    t: &'a Tenant,
    headers: &HeaderMap,
    p: &Params,
) -> Result<Client<'a>, EntraError> {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_basic_auth);
    let assertion = p.non_empty("client_assertion");
    let assertion_claims = match assertion {
        Some(a) => Some(decode_jwt(a).map_err(|_| {
            EntraError::invalid_client(50027, "JWT token is invalid or malformed.")
        })?),
        None => None,
    };
    let client_id = p
        .non_empty("client_id")
        .or(basic.as_ref().map(|(id, _)| id.as_str()))
        .or(assertion_claims.as_ref().and_then(|j| j.str_claim("iss")))
        .ok_or_else(|| EntraError::missing("client_id"))?;
    if let Some((basic_id, _)) = &basic
        && !basic_id.eq_ignore_ascii_case(client_id)
    {
        return Err(EntraError::invalid_client(
            700021,
            "The client_id in the Authorization header does not match the client_id parameter.",
        ));
    }
    let app = t
        .app(client_id)
        .ok_or_else(|| EntraError::unknown_client(client_id, &t.domain()))?;

    let presents_credential = assertion_claims.is_some()
        || p.non_empty("client_secret").is_some()
        || basic.as_ref().is_some_and(|(_, s)| !s.is_empty());
    if presents_credential && !app.is_confidential() {
        return Err(EntraError::invalid_client(
            700025,
            "Client is public so neither 'client_assertion' nor 'client_secret' should be presented.",
        ));
    }

    if let Some(jwt) = assertion_claims {
        if p.get("client_assertion_type") != Some(ASSERTION_TYPE) {
            return Err(EntraError::invalid_request(
                900144,
                format!(
                    "The request body must contain the following parameter: 'client_assertion_type' with the value '{ASSERTION_TYPE}'."
                ),
            ));
        }
        verify_assertion(t, app, &jwt)?;
        return Ok(Client {
            app,
            auth: ClientAuth::Certificate,
        });
    }
    let secret = match (
        p.non_empty("client_secret"),
        basic.as_ref().map(|(_, s)| s.as_str()),
    ) {
        (Some(a), Some(b)) if a != b => {
            return Err(EntraError::invalid_request(
                900144,
                "The client secret was sent both in the body and in the Authorization header.",
            ));
        }
        (a, b) => a.or(b).filter(|s| !s.is_empty()),
    };
    if let Some(secret) = secret {
        if app.client_secrets.iter().any(|s| s.matches(secret)) {
            return Ok(Client {
                app,
                auth: ClientAuth::Secret,
            });
        }
        return Err(EntraError::invalid_client(
            7000215,
            format!(
                "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{}'.",
                app.client_id
            ),
        ));
    }
    if app.is_confidential() {
        return Err(EntraError::invalid_client(
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        ));
    }
    Ok(Client {
        app,
        auth: ClientAuth::Public,
    })
}

fn verify_assertion(
    t: &Tenant,
    app: &AppRegistration,
    jwt: &crate::parse::Jwt,
) -> Result<(), EntraError> {
    let alg = jwt.alg().unwrap_or_default();
    if alg != "PS256" && alg != "RS256" {
        return Err(EntraError::invalid_client(
            5002738,
            format!(
                "Invalid JWT token. '{alg}' is not a supported signature algorithm. Supported signing algorithms are: 'RS256, PS256'"
            ),
        ));
    }
    if jwt.str_claim("iss") != Some(app.client_id.as_str())
        || jwt.str_claim("sub") != Some(app.client_id.as_str())
    {
        return Err(EntraError::invalid_client(
            700021,
            "Client assertion application identifier doesn't match 'client_id' parameter.",
        ));
    }
    let audiences = t.assertion_audiences();
    let aud_ok = match jwt.claims.get("aud") {
        Some(Value::String(a)) => audiences.iter().any(|x| x.eq_ignore_ascii_case(a)),
        Some(Value::Array(list)) => list
            .iter()
            .filter_map(Value::as_str)
            .any(|a| audiences.iter().any(|x| x.eq_ignore_ascii_case(a))),
        _ => false,
    };
    if !aud_ok {
        return Err(EntraError::invalid_client(
            700023,
            "Client assertion audience claim does not match Realm issuer.",
        ));
    }
    let now = crate::time::now();
    let exp = jwt.time_claim("exp");
    let nbf = jwt.time_claim("nbf");
    if exp.is_none_or(|exp| exp.saturating_add(SKEW) < now)
        || nbf.is_some_and(|nbf| nbf > now + SKEW)
    {
        return Err(EntraError::invalid_client(
            700024,
            format!(
                "Client assertion is not within its valid time range. Current time: {now}, assertion valid from {}, expiry time of assertion {}.",
                nbf.unwrap_or(0),
                exp.unwrap_or(0)
            ),
        ));
    }
    let keys = t
        .registered_keys
        .get(&app.client_id.to_ascii_lowercase())
        .map(Vec::as_slice)
        .unwrap_or_default();
    // MSAL Python pads its thumbprints (`urlsafe_b64encode`); compare them unpadded.
    let thumbprint = |name: &str| {
        jwt.header
            .get(name)
            .and_then(Value::as_str)
            .map(|t| t.trim_end_matches('=').replace('+', "-").replace('/', "_"))
    };
    let s256 = thumbprint("x5t#S256");
    let sha1 = thumbprint("x5t");
    let candidates: Vec<_> = keys
        .iter()
        .filter(|k| match (&s256, &sha1) {
            (Some(t), _) => k.x5t_s256.as_deref() == Some(t.as_str()),
            (None, Some(t)) => k.x5t.as_deref() == Some(t.as_str()),
            (None, None) => true,
        })
        .collect();
    if candidates.is_empty() {
        let thumbprint = s256.or(sha1).unwrap_or_else(|| "none".to_owned());
        return Err(EntraError::invalid_client(
            700027,
            format!(
                "Client assertion contains an invalid signature. [Reason - The key was not found., Thumbprint of key used by client: '{thumbprint}']"
            ),
        ));
    }
    if !candidates
        .iter()
        .any(|k| k.verify(alg, jwt.signing_input(), &jwt.signature))
    {
        return Err(EntraError::invalid_client(
            700027,
            "Client assertion failed signature validation.",
        ));
    }
    let jti = jwt
        .str_claim("jti")
        .filter(|j| !j.is_empty())
        .ok_or_else(|| {
            EntraError::invalid_client(700027, "Client assertion must contain a 'jti' claim.")
        })?;
    if !t.config.reject_replayed_assertions {
        return Ok(());
    }
    let key = format!("{}|{jti}", app.client_id.to_ascii_lowercase());
    let mut store = t.store();
    if store.used_jti.contains_key(&key) {
        return Err(EntraError::invalid_client(
            700027,
            "The client assertion was already used: its 'jti' has been seen before (replay).",
        ));
    }
    store
        .used_jti
        .insert(key, exp.unwrap_or(now).saturating_add(SKEW));
    Ok(())
}
