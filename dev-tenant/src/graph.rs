//! Microsoft Graph `GET`/`PATCH /v1.0/me` (Microsoft Graph: "Get user", "Update user"), with
//! Graph's error envelope and the CAE claims challenge for revoked users.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::{Map, Value, json};

use crate::errors::{GraphError, json_headers};
use crate::parse::Jwt;
use crate::state::{Tenant, VerifyError};
use crate::tokens::seq_from_uti;

const MAX_PROPERTY_LEN: usize = 256;

/// Verifies the bearer token for Graph and returns its claims, or Graph's 401.
fn authenticate(t: &Tenant, headers: &HeaderMap) -> Result<Jwt, GraphError> {
    let authorize_uri = format!("{}oauth2/v2.0/authorize", t.authority());
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.split_once(' ')
                .filter(|(s, _)| s.eq_ignore_ascii_case("bearer"))
                .map(|(_, t)| t.trim())
        })
        .filter(|t| !t.is_empty())
        .ok_or_else(|| GraphError::no_token(&authorize_uri))?;
    let jwt = t.verify_own(token).map_err(|e| {
        GraphError::unauthenticated(
            &authorize_uri,
            match e {
                VerifyError::Malformed => "IDX14100: JWT is not well formed.",
                VerifyError::Signature => "Access token validation failure: invalid signature.",
                VerifyError::Issuer => "Access token validation failure: invalid issuer.",
                VerifyError::Expired => "Lifetime validation failed, the token is expired.",
                VerifyError::NotYetValid => {
                    "Lifetime validation failed, the token is not yet valid."
                }
            },
        )
    })?;
    let graph = t.config.resource(crate::quickstart::GRAPH_RESOURCE);
    let aud = jwt.str_claim("aud").unwrap_or_default();
    let aud_ok = aud.eq_ignore_ascii_case(crate::quickstart::GRAPH_APP_ID)
        || aud.eq_ignore_ascii_case(crate::quickstart::GRAPH_RESOURCE)
        || graph.is_some_and(|g| g.client_id.eq_ignore_ascii_case(aud));
    if !aud_ok {
        return Err(GraphError::unauthenticated(
            &authorize_uri,
            "Access token validation failure. Invalid audience.",
        ));
    }
    Ok(jwt)
}

/// The CAE challenge when the user was revoked after the token was issued and the client
/// declared the `cp1` capability (Microsoft identity platform: "Continuous access evaluation").
fn cae_challenge(t: &Tenant, jwt: &Jwt, oid: &str) -> Option<GraphError> {
    let cp1 = jwt
        .claims
        .get("xms_cc")
        .and_then(Value::as_array)
        .is_some_and(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .any(|c| c.eq_ignore_ascii_case("cp1"))
        });
    if !cp1 {
        return None;
    }
    let revocation = match jwt.str_claim("uti").and_then(seq_from_uti) {
        Some(seq) => t.store().revoked(oid, seq),
        None => {
            let iat = jwt.time_claim("iat").unwrap_or(0);
            t.store()
                .revocations
                .get(&oid.to_ascii_lowercase())
                .copied()
                .filter(|r| iat < r.at)
        }
    }?;
    let claims =
        json!({"access_token": {"nbf": {"essential": true, "value": revocation.at.to_string()}}})
            .to_string();
    let claims = base64::engine::general_purpose::STANDARD.encode(claims);
    let mut e = GraphError::new(
        StatusCode::UNAUTHORIZED,
        "InvalidAuthenticationToken",
        "Continuous access evaluation resulted in challenge with result: InteractionRequired and code: TokenIssuedBeforeRevocationTimestamp",
    );
    e.www_authenticate = Some(format!(
        "Bearer realm=\"\", authorization_uri=\"{}oauth2/v2.0/authorize\", client_id=\"{}\", error=\"insufficient_claims\", claims=\"{claims}\"",
        t.authority(),
        crate::quickstart::GRAPH_APP_ID
    ));
    Some(e)
}

/// The home object id of the token's user: a guest's token (from an additional tenant) names
/// the guest object, Graph in that tenant answers for the same person.
fn home_oid(t: &Tenant, jwt: &Jwt) -> String {
    let oid = jwt.str_claim("oid").unwrap_or_default();
    let tid = jwt.str_claim("tid").unwrap_or(t.tenant_id());
    t.home_oid(tid, oid).unwrap_or_else(|| oid.to_owned())
}

/// Checks a delegated token with one of `scopes` and returns the user's (home) object id and
/// the token's `oid` (the user object in the token's tenant: a guest's differs).
fn authorize(
    t: &Tenant,
    headers: &HeaderMap,
    scopes: &[&str],
) -> Result<(String, String), GraphError> {
    let jwt = authenticate(t, headers)?;
    let scp = jwt.str_claim("scp");
    let Some(scp) = scp else {
        if jwt.claims.contains_key("roles") || jwt.str_claim("idtyp") == Some("app") {
            return Err(GraphError::new(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                "/me request is only valid with delegated authentication flow.",
            ));
        }
        return Err(GraphError::forbidden());
    };
    let oid = home_oid(t, &jwt);
    if let Some(challenge) = cae_challenge(t, &jwt, &oid) {
        return Err(challenge);
    }
    if !scp
        .split(' ')
        .any(|s| scopes.iter().any(|want| s.eq_ignore_ascii_case(want)))
    {
        return Err(GraphError::forbidden());
    }
    let local = jwt.str_claim("oid").unwrap_or_default().to_owned();
    Ok((oid, local))
}

fn profile_json(p: &crate::UserProfile) -> Value {
    json!({
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users/$entity",
        "businessPhones": [],
        "displayName": p.display_name,
        "givenName": p.given_name,
        "jobTitle": p.other.get("jobTitle"),
        "mail": p.mail,
        "mobilePhone": null,
        "officeLocation": null,
        "preferredLanguage": p.other.get("preferredLanguage"),
        "surname": p.surname,
        "userPrincipalName": p.user_principal_name,
        "id": p.id,
    })
}

/// GET `/v1.0/me`.
pub(crate) async fn get_me(State(t): State<Arc<Tenant>>, headers: HeaderMap) -> Response {
    let (oid, local) = match authorize(
        &t,
        &headers,
        &[
            "User.Read",
            "User.ReadWrite",
            "User.ReadBasic.All",
            "User.Read.All",
        ],
    ) {
        Ok(oids) => oids,
        Err(e) => return e.into_response(),
    };
    let profile = t.store().user_by_oid(&oid).map(|u| u.profile.clone());
    match profile {
        Some(mut p) => {
            // Graph in a guest's tenant shows the guest object.
            p.id = local;
            (StatusCode::OK, json_headers(), profile_json(&p).to_string()).into_response()
        }
        None => GraphError::new(StatusCode::NOT_FOUND, "Request_ResourceNotFound", format!("Resource '{oid}' does not exist or one of its queried reference-property objects are not present."))
            .into_response(),
    }
}

/// GET or POST `/oidc/userinfo`, the discovery document's `userinfo_endpoint` (Microsoft
/// identity platform: "UserInfo endpoint"; OpenID Connect Core section 5.3). Like Entra's, it is
/// served by Graph: it takes a delegated Graph access token and answers `sub` (the ID token's,
/// pairwise for the client), `name`, `given_name`, `family_name` and `email`.
pub(crate) async fn userinfo(State(t): State<Arc<Tenant>>, headers: HeaderMap) -> Response {
    let jwt = match authenticate(&t, &headers) {
        Ok(jwt) => jwt,
        Err(e) => return e.into_response(),
    };
    let oid = home_oid(&t, &jwt);
    if jwt.str_claim("scp").is_none() || oid.is_empty() {
        return GraphError::unauthenticated(
            &format!("{}oauth2/v2.0/authorize", t.authority()),
            "The UserInfo endpoint needs a delegated (user) access token.",
        )
        .into_response();
    }
    if let Some(challenge) = cae_challenge(&t, &jwt, &oid) {
        return challenge.into_response();
    }
    let azp = jwt.str_claim("azp").unwrap_or_default().to_owned();
    let Some(user) = t.store().user_by_oid(&oid).cloned() else {
        return GraphError::new(
            StatusCode::NOT_FOUND,
            "Request_ResourceNotFound",
            format!("Resource '{oid}' does not exist."),
        )
        .into_response();
    };
    let p = &user.profile;
    let mut body = json!({
        "sub": crate::tokens::pairwise_sub(jwt.str_claim("oid").unwrap_or(&p.id), &azp),
        "name": p.display_name,
        "email": p.mail,
    });
    if let Some(g) = &p.given_name {
        body["given_name"] = json!(g);
    }
    if let Some(f) = &p.surname {
        body["family_name"] = json!(f);
    }
    (StatusCode::OK, json_headers(), body.to_string()).into_response()
}

/// The validated changes of a `PATCH /v1.0/me` body.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct ProfilePatch {
    pub(crate) display_name: Option<String>,
    pub(crate) given_name: Option<Option<String>>,
    pub(crate) surname: Option<Option<String>>,
    /// The other editable properties (Graph name, new value or `None` to clear).
    pub(crate) other: Vec<(&'static str, Option<String>)>,
}

/// Properties of the Graph user resource a user of an external tenant may edit besides the
/// names ("Update user"; the user resource's writable properties).
const OTHER_EDITABLE: [&str; 7] = [
    "jobTitle",
    "preferredLanguage",
    "city",
    "country",
    "streetAddress",
    "postalCode",
    "state",
];

/// Properties Graph refuses to change (read-only or not the user's to change).
const READ_ONLY: [&str; 9] = [
    "id",
    "mail",
    "userPrincipalName",
    "identities",
    "creationType",
    "userType",
    "createdDateTime",
    "accountEnabled",
    "otherMails",
];

/// `preferredLanguage` is an ISO 639-1 code, optionally with a region (`en`, `en-US`).
fn is_language_tag(s: &str) -> bool {
    let mut parts = s.split('-');
    let lang_ok = parts
        .next()
        .is_some_and(|l| l.len() == 2 && l.bytes().all(|b| b.is_ascii_alphabetic()));
    let region_ok = parts
        .next()
        .is_none_or(|r| r.len() == 2 && r.bytes().all(|b| b.is_ascii_alphabetic()));
    lang_ok && region_ok && parts.next().is_none()
}

/// Validates a PATCH body: a JSON object with only `displayName` (non-empty string),
/// `givenName`, `surname` and [`OTHER_EDITABLE`] (string or null), each at most 256
/// characters; a [`READ_ONLY`] property gets Graph's 400 saying so.
pub(crate) fn parse_patch(body: &[u8]) -> Result<ProfilePatch, GraphError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|_| GraphError::new(StatusCode::BAD_REQUEST, "BadRequest", "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format."))?;
    let Value::Object(map) = value else {
        return Err(GraphError::new(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "The request payload must be a JSON object.",
        ));
    };
    let mut patch = ProfilePatch::default();
    let text = |map: &Map<String, Value>,
                k: &str,
                nullable: bool|
     -> Result<Option<Option<String>>, GraphError> {
        let invalid = || {
            GraphError::bad_request(format!(
                "Invalid value specified for property '{k}' of resource 'User'."
            ))
        };
        match map.get(k) {
            None => Ok(None),
            Some(Value::Null) if nullable => Ok(Some(None)),
            Some(Value::String(s))
                if s.chars().count() <= MAX_PROPERTY_LEN && (nullable || !s.trim().is_empty()) =>
            {
                Ok(Some(Some(s.clone())))
            }
            Some(_) => Err(invalid()),
        }
    };
    for key in map.keys() {
        if READ_ONLY.contains(&key.as_str()) {
            return Err(GraphError::bad_request(format!(
                "Property '{key}' is read-only and cannot be set."
            )));
        }
        if !matches!(key.as_str(), "displayName" | "givenName" | "surname")
            && !OTHER_EDITABLE.contains(&key.as_str())
        {
            return Err(GraphError::bad_request(format!(
                "Property '{key}' does not exist as a declared property or extension property."
            )));
        }
    }
    patch.display_name = text(&map, "displayName", false)?.flatten();
    patch.given_name = text(&map, "givenName", true)?;
    patch.surname = text(&map, "surname", true)?;
    for key in OTHER_EDITABLE {
        if let Some(v) = text(&map, key, true)? {
            if key == "preferredLanguage" && v.as_deref().is_some_and(|l| !is_language_tag(l)) {
                return Err(GraphError::bad_request(format!(
                    "Invalid value specified for property '{key}' of resource 'User'."
                )));
            }
            patch.other.push((key, v));
        }
    }
    Ok(patch)
}

/// PATCH `/v1.0/me`: needs `User.ReadWrite`; answers 204.
pub(crate) async fn patch_me(
    State(t): State<Arc<Tenant>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // A guest's profile is the home user's here (one record; see the known differences).
    let oid = match authorize(&t, &headers, &["User.ReadWrite", "User.ReadWrite.All"]) {
        Ok((oid, _)) => oid,
        Err(e) => return e.into_response(),
    };
    let patch = match parse_patch(&body) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let mut store = t.store();
    let Some(user) = store
        .users
        .iter_mut()
        .find(|u| u.profile.id.eq_ignore_ascii_case(&oid))
    else {
        return GraphError::new(
            StatusCode::NOT_FOUND,
            "Request_ResourceNotFound",
            format!("Resource '{oid}' does not exist."),
        )
        .into_response();
    };
    if let Some(v) = patch.display_name {
        user.profile.display_name = v;
    }
    if let Some(v) = patch.given_name {
        user.profile.given_name = v;
    }
    if let Some(v) = patch.surname {
        user.profile.surname = v;
    }
    for (key, v) in patch.other {
        match v {
            Some(v) => user.profile.other.insert(key.to_owned(), v),
            None => user.profile.other.remove(key),
        };
    }
    tracing::info!(user = %user.profile.mail, "Graph profile updated");
    StatusCode::NO_CONTENT.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patch_table() {
        let ok = |b: &str| parse_patch(b.as_bytes()).unwrap();
        let bad = |b: &str| parse_patch(b.as_bytes()).unwrap_err().status;
        assert_eq!(
            ok(r#"{"displayName":"A"}"#).display_name.as_deref(),
            Some("A")
        );
        assert_eq!(ok(r#"{"givenName":null}"#).given_name, Some(None));
        assert_eq!(ok("{}"), ProfilePatch::default());
        assert_eq!(
            ok(r#"{"jobTitle":"Chef","preferredLanguage":"en-GB","city":null}"#).other,
            [
                ("jobTitle", Some("Chef".to_owned())),
                ("preferredLanguage", Some("en-GB".to_owned())),
                ("city", None),
            ]
        );
        let long = "x".repeat(257);
        for body in [
            "",
            "[]",
            "nul",
            r#"{"displayName":""}"#,
            r#"{"displayName":"  "}"#,
            r#"{"displayName":null}"#,
            r#"{"displayName":5}"#,
            r#"{"surname":["a"]}"#,
            r#"{"mail":"x@y"}"#,
            r#"{"id":"x"}"#,
            r#"{"mobilePhone":"1"}"#,
            r#"{"preferredLanguage":"english"}"#,
            r#"{"city":7}"#,
            &format!(r#"{{"surname":"{long}"}}"#),
        ] {
            assert_eq!(bad(body), StatusCode::BAD_REQUEST, "{body}");
        }
        let max = "é".repeat(256);
        assert_eq!(
            ok(&format!(r#"{{"surname":"{max}"}}"#)).surname,
            Some(Some(max))
        );
    }
}
