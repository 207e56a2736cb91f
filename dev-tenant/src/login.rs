//! The login page (email + password) and the MFA page (a six-digit one-time code) behind the
//! authorization endpoint. Each page carries the transaction id in a hidden field; a POST with an
//! unknown or finished transaction is refused.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::Response;

use crate::authorize::{bad_page, complete};
use crate::pages;
use crate::parse::parse_form;
use crate::session::session_cookie;
use crate::state::{Session, Tenant, Transaction, random_otp, random_string};

const MAX_MFA_ATTEMPTS: u32 = 5;

/// Issues a one-time code for `tx`, logs it (development only) and remembers it for tests.
pub(crate) fn start_mfa(t: &Tenant, tx: &mut Transaction, email: &str) -> String {
    let code = random_otp();
    tracing::info!(user = %email, code = %code, "dev-tenant one-time MFA code (development only)");
    tx.mfa_code = Some(code.clone());
    tx.mfa_attempts = 0;
    t.store().last_mfa_code = Some(code.clone());
    code
}

fn expired_page() -> Response {
    pages::message(
        StatusCode::BAD_REQUEST,
        "This sign-in request is no longer valid",
        "The sign-in took too long or was already completed. Go back to the application and sign in again.",
    )
}

/// POST `/{tenant}/oauth2/v2.0/login`: email + password.
pub(crate) async fn login(
    State(t): State<Arc<Tenant>>,
    Path(tenant): Path<String>,
    body: Bytes,
) -> Response {
    if !t.tenant_matches(&tenant) {
        return bad_page(
            StatusCode::BAD_REQUEST,
            90002,
            &format!("Tenant '{tenant}' not found."),
        );
    }
    let Ok(p) = parse_form(&body) else {
        return expired_page();
    };
    let tx_id = p.get("tx").unwrap_or_default().to_owned();
    let email = p.get("email").unwrap_or_default().trim().to_owned();
    let password = p.get("password").unwrap_or_default();
    let now = crate::time::now();
    let (tx, user) = {
        let store = t.store();
        let Some(tx) = store
            .transactions
            .get(&tx_id)
            .filter(|tx| tx.expires_at > now && tx.user_oid.is_none())
            .cloned()
        else {
            return expired_page();
        };
        let user = store
            .user_by_email(&email)
            .filter(|u| u.password.matches(password))
            .map(|u| (u.profile.id.clone(), u.profile.mail.clone()));
        (tx, user)
    };
    let Some((oid, mail)) = user else {
        tracing::info!(user = %email, "dev-tenant sign-in failed: wrong email or password");
        let app_name = t
            .app(&tx.request.client_id)
            .map(|a| a.name.clone())
            .unwrap_or_default();
        let action = format!("/{}/oauth2/v2.0/login", tx.request.tenant_segment);
        return pages::login(
            &action,
            &tx_id,
            &t.domain(),
            &app_name,
            &email,
            Some("Your account or password is incorrect."),
        );
    };
    let session_id = random_string(32);
    let session = Session {
        user_oid: oid.clone(),
        auth_time: now,
        mfa: false,
        session_state: uuid::Uuid::new_v4().to_string(),
    };
    t.store()
        .sessions
        .insert(session_id.clone(), session.clone());
    let mut tx = tx;
    tx.user_oid = Some(oid.clone());
    tx.session_id = Some(session_id.clone());
    tx.new_session = true;
    if tx.needs_mfa {
        let code = start_mfa(&t, &mut tx, &mail);
        let action = format!("/{}/oauth2/v2.0/mfa", tx.request.tenant_segment);
        t.store().transactions.insert(tx_id.clone(), tx);
        let mut response = pages::mfa(&action, &tx_id, &mail, &code, None);
        response
            .headers_mut()
            .append(header::SET_COOKIE, session_cookie(&t, &session_id));
        return response;
    }
    t.store().transactions.remove(&tx_id);
    complete(&t, &tx.request, &oid, &session, Some(&session_id))
}

/// POST `/{tenant}/oauth2/v2.0/mfa`: the one-time code.
pub(crate) async fn mfa(
    State(t): State<Arc<Tenant>>,
    Path(tenant): Path<String>,
    body: Bytes,
) -> Response {
    if !t.tenant_matches(&tenant) {
        return bad_page(
            StatusCode::BAD_REQUEST,
            90002,
            &format!("Tenant '{tenant}' not found."),
        );
    }
    let Ok(p) = parse_form(&body) else {
        return expired_page();
    };
    let tx_id = p.get("tx").unwrap_or_default().to_owned();
    let code = p.get("code").unwrap_or_default().trim().to_owned();
    let now = crate::time::now();
    let mut store = t.store();
    let Some(mut tx) = store
        .transactions
        .get(&tx_id)
        .filter(|tx| tx.expires_at > now)
        .cloned()
    else {
        return expired_page();
    };
    let (Some(expected), Some(oid), Some(sid)) = (
        tx.mfa_code.clone(),
        tx.user_oid.clone(),
        tx.session_id.clone(),
    ) else {
        return expired_page();
    };
    let email = store
        .user_by_oid(&oid)
        .map(|u| u.profile.mail.clone())
        .unwrap_or_default();
    let ok =
        code.len() == expected.len() && crate::config::Secret::new(expected.clone()).matches(&code);
    if !ok {
        tx.mfa_attempts += 1;
        if tx.mfa_attempts >= MAX_MFA_ATTEMPTS {
            store.transactions.remove(&tx_id);
            return pages::message(
                StatusCode::BAD_REQUEST,
                "Too many attempts",
                "Go back to the application and sign in again.",
            );
        }
        let action = format!("/{}/oauth2/v2.0/mfa", tx.request.tenant_segment);
        store.transactions.insert(tx_id.clone(), tx);
        return pages::mfa(
            &action,
            &tx_id,
            &email,
            &expected,
            Some("That code didn't work. Check the code and try again."),
        );
    }
    store.transactions.remove(&tx_id);
    let Some(session) = store.sessions.get_mut(&sid) else {
        return expired_page();
    };
    session.mfa = true;
    let session = session.clone();
    drop(store);
    let cookie = tx.new_session.then_some(sid.as_str());
    complete(&t, &tx.request, &oid, &session, cookie)
}
