//! `POST /{tenant}/oauth2/v2.0/token`: parses the form leniently and dispatches on `grant_type`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::errors::{EntraError, correlation_id, json_headers};
use crate::grants;
use crate::parse::{ParseError, parse_form};
use crate::state::Tenant;

pub(crate) async fn token(
    State(t): State<Arc<Tenant>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = match parse_form(&body) {
        Ok(p) => p,
        Err(ParseError::Duplicate(name)) => {
            let e = EntraError::invalid_request(
                9000411,
                format!(
                    "The request is not properly formatted. The parameter '{name}' is duplicated."
                ),
            );
            return e.into_response_for(correlation_id(&headers, None));
        }
        Err(e) => {
            return EntraError::invalid_request(
                90100,
                format!("The request is not properly formatted: {e}."),
            )
            .into_response_for(None);
        }
    };
    let corr = correlation_id(&headers, params.get("client-request-id")).map(str::to_owned);
    let Some(tid) = t.resolve_tenant(&tenant) else {
        return EntraError::invalid_request(90002, format!("Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."))
            .into_response_for(corr.as_deref());
    };
    let result = match params.non_empty("grant_type") {
        Some("authorization_code") => {
            grants::authorization_code::redeem(&t, tid, &headers, &params)
        }
        Some("refresh_token") => grants::refresh_token::refresh(&t, tid, &headers, &params),
        Some("client_credentials") => grants::client_credentials::issue(&t, tid, &headers, &params),
        Some("urn:ietf:params:oauth:grant-type:jwt-bearer") => {
            grants::on_behalf_of::exchange(&t, tid, &headers, &params)
        }
        Some(other) => Err(EntraError::new(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            70003,
            format!("The app requested an unsupported grant type '{other}'."),
        )),
        None => Err(EntraError::missing("grant_type")),
    };
    match result {
        Ok(body) => (StatusCode::OK, json_headers(), body.to_string()).into_response(),
        Err(e) => {
            tracing::info!(error = e.error, code = e.code, "token request refused");
            e.into_response_for(corr.as_deref())
        }
    }
}
