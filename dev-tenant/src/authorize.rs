//! The authorization endpoint: request validation, the decision between the login page, the MFA
//! page and an immediate answer (SSO), and the authorization response (Microsoft identity
//! platform: "OAuth 2.0 authorization code flow"; RFC 7636 PKCE; OAuth 2.0 Form Post Response Mode).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::errors::EntraError;
use crate::login::start_mfa;
use crate::pages;
use crate::parse::{ClaimsRequest, Params, parse_claims, parse_form, parse_query};
use crate::scopes::{check_consent, mfa_policies_for_request, parse_scopes};
use crate::session::{session_cookie, session_id};
use crate::state::{CodeRecord, Session, Tenant, Transaction, random_string};

/// How the authorization response is returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ResponseMode {
    Query,
    Fragment,
    FormPost,
}

/// A validated authorize request.
#[derive(Debug, Clone)]
pub(crate) struct AuthRequest {
    pub(crate) client_id: String,
    pub(crate) redirect_uri: String,
    pub(crate) response_mode: ResponseMode,
    pub(crate) scope: String,
    pub(crate) state: Option<String>,
    pub(crate) nonce: Option<String>,
    pub(crate) pkce: Option<Pkce>,
    pub(crate) prompt: Option<String>,
    /// OpenID Connect `max_age`: re-authenticate when the session is older (0: always).
    pub(crate) max_age: Option<i64>,
    pub(crate) login_hint: Option<String>,
    pub(crate) claims: ClaimsRequest,
    pub(crate) mfa_policies: Vec<String>,
    pub(crate) tenant_segment: String,
    /// The id of the tenant `tenant_segment` names (home or additional).
    pub(crate) tenant_id: String,
}

/// A PKCE `code_challenge` and its method (RFC 7636 section 4.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pkce {
    pub(crate) challenge: String,
    /// `plain` (the verifier itself) rather than `S256`.
    pub(crate) plain: bool,
}

impl Pkce {
    /// Whether `verifier` answers this challenge (RFC 7636 section 4.6).
    pub(crate) fn verifies(&self, verifier: &str) -> bool {
        use subtle::ConstantTimeEq as _;
        let derived = if self.plain {
            verifier.to_owned()
        } else {
            crate::state::sha256_b64(verifier.as_bytes())
        };
        derived.as_bytes().ct_eq(self.challenge.as_bytes()).into()
    }
}

/// RFC 7636 `unreserved` characters, 43 to 128 of them (a verifier, or a `plain` challenge).
pub(crate) fn is_verifier_shaped(v: &str) -> bool {
    (43..=128).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

pub(crate) const TRANSACTION_SECS: i64 = 15 * 60;

/// Whether `requested` matches a registered redirect URI: exactly, or for loopback hosts
/// (`localhost`, `127.0.0.1`, `[::1]`) with any port, as Entra allows for loopback.
pub(crate) fn redirect_uri_matches(registered: &str, requested: &str) -> bool {
    if registered == requested {
        return true;
    }
    let (Ok(a), Ok(b)) = (url::Url::parse(registered), url::Url::parse(requested)) else {
        return false;
    };
    let loopback = |u: &url::Url| matches!(u.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    a.scheme() == b.scheme()
        && loopback(&a)
        && a.host_str() == b.host_str()
        && a.path() == b.path()
        && a.query() == b.query()
        && b.fragment().is_none()
}

pub(crate) fn bad_page(status: StatusCode, code: u32, message: &str) -> Response {
    pages::message(
        status,
        "Sorry, but we're having trouble signing you in.",
        &format!("AADSTS{code}: {message}"),
    )
}

/// GET or POST `/{tenant}/oauth2/v2.0/authorize`.
pub(crate) async fn authorize(
    State(t): State<Arc<Tenant>>,
    Path(tenant): Path<String>,
    method: Method,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    if !t.tenant_matches(&tenant) {
        return bad_page(
            StatusCode::BAD_REQUEST,
            90002,
            &format!("Tenant '{tenant}' not found."),
        );
    }
    let params = if method == Method::POST {
        parse_form(&body)
    } else {
        parse_query(query.as_deref().unwrap_or(""))
    };
    let params = match params {
        Ok(p) => p,
        Err(e) => {
            return bad_page(
                StatusCode::BAD_REQUEST,
                9000411,
                &format!("The request is not properly formatted: {e}."),
            );
        }
    };
    let request = match validate(&t, &tenant, &params) {
        Ok(r) => r,
        Err(reject) => match *reject {
            Reject::Page(status, code, message) => return bad_page(status, code, &message),
            Reject::Redirect(redirect_uri, mode, state, error) => {
                return error_redirect(&redirect_uri, mode, state.as_deref(), &error);
            }
        },
    };
    let sid = session_id(&t, &headers);
    let now = crate::time::now();
    let (session, user_email) = {
        let mut store = t.store();
        store.prune(now);
        let session = sid
            .as_ref()
            .and_then(|id| store.sessions.get(id).cloned().map(|s| (id.clone(), s)));
        let email = session
            .as_ref()
            .and_then(|(_, s)| store.user_by_oid(&s.user_oid))
            .map(|u| u.profile.mail.clone());
        (session, email)
    };
    let needs_mfa_for_request = !request.mfa_policies.is_empty()
        || crate::scopes::claims_mfa_policies(&t.config, &request.claims).is_some();
    let session = session.filter(|(_, s)| {
        let fresh_enough = request.claims.nbf.is_none_or(|nbf| s.auth_time >= nbf)
            && request
                .max_age
                .is_none_or(|max| max > 0 && now - s.auth_time <= max);
        let hint_ok = request.login_hint.as_deref().is_none_or(|h| {
            user_email
                .as_deref()
                .is_some_and(|e| e.eq_ignore_ascii_case(h))
        });
        let forced = request
            .prompt
            .as_deref()
            .is_some_and(|p| p.split(' ').any(|v| v == "login"));
        fresh_enough && hint_ok && !forced
    });
    let needs_login = session.is_none();
    let needs_mfa = needs_mfa_for_request && !session.as_ref().is_some_and(|(_, s)| s.mfa);
    if request.prompt.as_deref() == Some("none") && (needs_login || needs_mfa) {
        let (error, code) = if needs_login {
            ("login_required", 50058)
        } else {
            ("interaction_required", 50076)
        };
        let e = EntraError::new(
            StatusCode::BAD_REQUEST,
            error,
            code,
            "A silent sign-in request was sent but the user needs to interact.",
        );
        return error_redirect(
            &request.redirect_uri,
            request.response_mode,
            request.state.as_deref(),
            &e,
        );
    }
    if let Some((_, s)) = session.clone().filter(|_| !needs_mfa) {
        return complete(&t, &request, &s.user_oid, &s, None);
    }
    let tx_id = random_string(24);
    let mut tx = Transaction {
        request,
        user_oid: None,
        session_id: None,
        new_session: false,
        mfa_code: None,
        mfa_attempts: 0,
        needs_mfa,
        expires_at: now + TRANSACTION_SECS,
    };
    if let Some((id, s)) = session {
        // Signed in already; only the second factor is missing.
        tx.user_oid = Some(s.user_oid.clone());
        tx.session_id = Some(id);
        let email = user_email.unwrap_or_default();
        let code = start_mfa(&t, &mut tx, &email);
        let action = format!("/{}/oauth2/v2.0/mfa", tx.request.tenant_segment);
        t.store().transactions.insert(tx_id.clone(), tx);
        return pages::mfa(&action, &tx_id, &email, &code, None);
    }
    if let Some(auto) = t.config.auto_login.clone() {
        return auto_login(&t, tx, tx_id, &auto);
    }
    let email = tx.request.login_hint.clone().unwrap_or_default();
    let app_name = t
        .app(&tx.request.client_id)
        .map(|a| a.name.clone())
        .unwrap_or_default();
    let action = format!("/{}/oauth2/v2.0/login", tx.request.tenant_segment);
    t.store().transactions.insert(tx_id.clone(), tx);
    pages::login(&action, &tx_id, &t.domain(), &app_name, &email, None)
}

/// Signs the configured user in without the login page (see [`crate::AutoLogin`]).
fn auto_login(t: &Tenant, mut tx: Transaction, tx_id: String, auto: &crate::AutoLogin) -> Response {
    let now = crate::time::now();
    let Some((oid, mail)) = t
        .store()
        .user_by_email(&auto.user)
        .map(|u| (u.profile.id.clone(), u.profile.mail.clone()))
    else {
        return bad_page(
            StatusCode::BAD_REQUEST,
            50034,
            "The auto-login user does not exist in this directory.",
        );
    };
    let session_id = random_string(32);
    let session = Session {
        user_oid: oid.clone(),
        auth_time: now,
        mfa: auto.mfa,
        session_state: uuid::Uuid::new_v4().to_string(),
    };
    t.store()
        .sessions
        .insert(session_id.clone(), session.clone());
    tracing::info!(user = %mail, mfa = auto.mfa, "dev-tenant auto-login");
    if tx.needs_mfa && !auto.mfa {
        tx.user_oid = Some(oid);
        tx.session_id = Some(session_id.clone());
        tx.new_session = true;
        let code = start_mfa(t, &mut tx, &mail);
        let action = format!("/{}/oauth2/v2.0/mfa", tx.request.tenant_segment);
        t.store().transactions.insert(tx_id.clone(), tx);
        let mut response = pages::mfa(&action, &tx_id, &mail, &code, None);
        response
            .headers_mut()
            .append(header::SET_COOKIE, session_cookie(t, &session_id));
        return response;
    }
    complete(t, &tx.request, &oid, &session, Some(&session_id))
}

enum Reject {
    Page(StatusCode, u32, String),
    Redirect(String, ResponseMode, Option<String>, EntraError),
}

fn validate(t: &Tenant, tenant: &str, p: &Params) -> Result<AuthRequest, Box<Reject>> {
    let page = |code: u32, m: String| Box::new(Reject::Page(StatusCode::BAD_REQUEST, code, m));
    let client_id = p.non_empty("client_id").ok_or_else(|| {
        page(
            900144,
            "The request body must contain the following parameter: 'client_id'.".into(),
        )
    })?;
    let app = t.app(client_id).ok_or_else(|| {
        page(
            700016,
            format!(
                "Application with identifier '{client_id}' was not found in the directory '{}'.",
                t.domain()
            ),
        )
    })?;
    let redirect_uri = p.non_empty("redirect_uri").ok_or_else(|| {
        page(
            900144,
            "The request body must contain the following parameter: 'redirect_uri'.".into(),
        )
    })?;
    if !app
        .redirect_uris
        .iter()
        .any(|r| redirect_uri_matches(r, redirect_uri))
    {
        return Err(page(
            50011,
            format!(
                "The redirect URI '{redirect_uri}' specified in the request does not match the redirect URIs configured for the application '{}'.",
                app.client_id
            ),
        ));
    }
    let state = p.get("state").map(str::to_owned);
    let mode = match p.non_empty("response_mode") {
        None | Some("query") => Ok(ResponseMode::Query),
        Some("fragment") => Ok(ResponseMode::Fragment),
        Some("form_post") => Ok(ResponseMode::FormPost),
        Some(other) => Err(other.to_owned()),
    };
    let redirect = |mode: ResponseMode, e: EntraError| {
        Box::new(Reject::Redirect(
            redirect_uri.to_owned(),
            mode,
            state.clone(),
            e,
        ))
    };
    let response_mode = mode.map_err(|m| {
        redirect(
            ResponseMode::Query,
            EntraError::invalid_request(
                900144,
                format!("The value '{m}' of 'response_mode' is not supported."),
            ),
        )
    })?;
    match p.non_empty("response_type") {
        Some("code") => {}
        None => {
            return Err(redirect(
                response_mode,
                EntraError::missing("response_type"),
            ));
        }
        Some(other) => {
            return Err(redirect(
                response_mode,
                EntraError::new(
                    StatusCode::BAD_REQUEST,
                    "unsupported_response_type",
                    700054,
                    format!("response_type '{other}' is not enabled for the application."),
                ),
            ));
        }
    }
    let scope = p
        .non_empty("scope")
        .ok_or_else(|| redirect(response_mode, EntraError::missing("scope")))?;
    let scopes = parse_scopes(&t.config, scope, true).map_err(|e| redirect(response_mode, e))?;
    if !scopes.openid && scopes.resources.is_empty() && !scopes.offline_access {
        return Err(redirect(
            response_mode,
            EntraError::invalid_scope(
                70011,
                "The provided value for the input parameter 'scope' isn't valid.",
            ),
        ));
    }
    check_consent(&t.config, app, &scopes).map_err(|e| redirect(response_mode, e))?;
    let pkce = match p.non_empty("code_challenge") {
        None if app.pkce_required() => {
            return Err(redirect(
                response_mode,
                EntraError::invalid_request(
                    9002325,
                    "Proof Key for Code Exchange is required for cross-origin authorization code redemption: the request must contain 'code_challenge'.",
                ),
            ));
        }
        None => None,
        Some(challenge) => {
            // RFC 7636 section 4.3: the method defaults to `plain`; Entra accepts both.
            let plain = match p.non_empty("code_challenge_method") {
                None | Some("plain") => true,
                Some("S256") => false,
                Some(other) => {
                    return Err(redirect(
                        response_mode,
                        EntraError::invalid_request(
                            501491,
                            format!(
                                "The code_challenge_method '{other}' is not supported; use 'S256' or 'plain'."
                            ),
                        ),
                    ));
                }
            };
            let well_formed = if plain {
                is_verifier_shaped(challenge)
            } else {
                challenge.len() == 43
                    && challenge
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            };
            if !well_formed {
                return Err(redirect(
                    response_mode,
                    EntraError::invalid_request(
                        501491,
                        "The code_challenge is malformed: an S256 challenge is a base64url SHA-256 value, a plain one 43 to 128 unreserved characters.",
                    ),
                ));
            }
            Some(Pkce {
                challenge: challenge.to_owned(),
                plain,
            })
        }
    };
    let claims = match p.non_empty("claims") {
        Some(c) => parse_claims(c).map_err(|e| {
            redirect(
                response_mode,
                EntraError::invalid_request(
                    90014,
                    format!("The claims parameter is invalid: {e}."),
                ),
            )
        })?,
        None => ClaimsRequest::default(),
    };
    Ok(AuthRequest {
        client_id: app.client_id.clone(),
        redirect_uri: redirect_uri.to_owned(),
        response_mode,
        scope: scope.to_owned(),
        state,
        nonce: p.get("nonce").map(str::to_owned),
        pkce,
        prompt: p.non_empty("prompt").map(str::to_owned),
        max_age: p
            .non_empty("max_age")
            .and_then(|v| v.trim().parse::<i64>().ok())
            .map(|v| v.max(0)),
        login_hint: p.non_empty("login_hint").map(str::to_owned),
        mfa_policies: mfa_policies_for_request(&t.config, &scopes),
        claims,
        tenant_segment: tenant.to_owned(),
        tenant_id: t.resolve_tenant(tenant).unwrap_or(t.tenant_id()).to_owned(),
    })
}

/// Sends an error back to the client's redirect URI.
fn error_redirect(
    redirect_uri: &str,
    mode: ResponseMode,
    state: Option<&str>,
    e: &EntraError,
) -> Response {
    let body = e.body(None);
    let error = if e.code == 65001 {
        "consent_required"
    } else {
        e.error
    };
    let mut fields = vec![
        ("error", error.to_owned()),
        ("error_description", body.error_description),
        ("error_uri", body.error_uri),
    ];
    if let Some(state) = state {
        fields.push(("state", state.to_owned()));
    }
    respond(redirect_uri, mode, &fields)
}

fn respond(redirect_uri: &str, mode: ResponseMode, fields: &[(&str, String)]) -> Response {
    match mode {
        ResponseMode::FormPost => {
            let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            pages::form_post(redirect_uri, &pairs)
        }
        ResponseMode::Query | ResponseMode::Fragment => {
            let Ok(mut url) = url::Url::parse(redirect_uri) else {
                return bad_page(
                    StatusCode::BAD_REQUEST,
                    50011,
                    "The redirect URI is not a valid URL.",
                );
            };
            let encoded = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(fields.iter().map(|(k, v)| (*k, v.as_str())))
                .finish();
            if mode == ResponseMode::Query {
                let query = match url.query() {
                    Some(q) if !q.is_empty() => format!("{q}&{encoded}"),
                    _ => encoded,
                };
                url.set_query(Some(&query));
            } else {
                url.set_fragment(Some(&encoded));
            }
            let mut response = StatusCode::FOUND.into_response();
            if let Ok(v) = HeaderValue::from_str(url.as_str()) {
                response.headers_mut().insert(header::LOCATION, v);
            }
            response
        }
    }
}

/// Issues the code and returns it to the client (plus the SSO cookie when the session is new).
pub(crate) fn complete(
    t: &Tenant,
    request: &AuthRequest,
    user_oid: &str,
    session: &Session,
    new_cookie: Option<&str>,
) -> Response {
    let now = crate::time::now();
    let code = format!("1.{}", random_string(96));
    let (client_info, found) = {
        let mut store = t.store();
        store.codes.insert(
            code.clone(),
            CodeRecord {
                client_id: request.client_id.clone(),
                tenant_id: request.tenant_id.clone(),
                redirect_uri: request.redirect_uri.clone(),
                scope: request.scope.clone(),
                pkce: request.pkce.clone(),
                nonce: request.nonce.clone(),
                user_oid: user_oid.to_owned(),
                auth_time: session.auth_time,
                mfa: session.mfa,
                xms_cc: request.claims.xms_cc.clone(),
                acrs: crate::scopes::satisfied_contexts(
                    &t.config,
                    &request.claims.acrs,
                    session.mfa,
                ),
                sid: Some(session.sid()),
                expires_at: crate::time::after(now, t.config.lifetimes.code_secs),
            },
        );
        match store.user_by_oid(user_oid) {
            Some(u) => (crate::tokens::client_info(t, u), true),
            None => (String::new(), false),
        }
    };
    if !found {
        return bad_page(
            StatusCode::BAD_REQUEST,
            50034,
            "The user account does not exist in this directory.",
        );
    }
    let mut fields = vec![("code", code)];
    if let Some(state) = &request.state {
        fields.push(("state", state.clone()));
    }
    fields.push(("client_info", client_info));
    fields.push(("session_state", session.session_state.clone()));
    let mut response = respond(&request.redirect_uri, request.response_mode, &fields);
    if let Some(id) = new_cookie {
        response
            .headers_mut()
            .append(header::SET_COOKIE, session_cookie(t, id));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_redirects_ignore_port() {
        let reg = "http://localhost:3000/auth/redirect";
        assert!(redirect_uri_matches(reg, reg));
        assert!(redirect_uri_matches(
            reg,
            "http://localhost:41234/auth/redirect"
        ));
        assert!(!redirect_uri_matches(
            reg,
            "http://localhost:41234/auth/other"
        ));
        assert!(!redirect_uri_matches(
            reg,
            "http://127.0.0.1:3000/auth/redirect"
        ));
        assert!(!redirect_uri_matches(
            reg,
            "https://localhost:3000/auth/redirect"
        ));
        assert!(!redirect_uri_matches(
            "https://app.example/cb",
            "https://app.example:8443/cb"
        ));
        assert!(!redirect_uri_matches(reg, "not a url"));
    }
}
