//! A small Microsoft Graph client for `GET /v1.0/me` and `PATCH /v1.0/me`.
//!
//! Microsoft Graph "Update user": success is `204 No Content`; anything else is a failure and is
//! reported as one (the Node sample answered 200 "Failed, ..." here). A `401` that carries a
//! Bearer `insufficient_claims` challenge (Conditional Access / continuous access evaluation) is
//! kept apart so the API can pass the challenge back to its caller.

use std::time::Duration;

use http::{HeaderMap, StatusCode, header};
use serde::Deserialize;
use url::Url;

use crate::profile::ProfileUpdate;

/// Largest Graph response body read into memory.
const MAX_BODY: usize = 64 * 1024;

/// The signed-in user's profile as `GET /v1.0/me` returns it (the fields the quickstart shows).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    /// Object id.
    pub id: String,
    /// Email address, when the account has one.
    #[serde(default)]
    pub mail: Option<String>,
    /// User principal name.
    #[serde(default)]
    pub user_principal_name: Option<String>,
    /// Display name.
    #[serde(default)]
    pub display_name: Option<String>,
    /// Given name.
    #[serde(default)]
    pub given_name: Option<String>,
    /// Surname.
    #[serde(default)]
    pub surname: Option<String>,
}

/// Why a Graph call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GraphError {
    /// Graph answered 401 with a claims challenge; `www_authenticate` is the header value to
    /// forward (it carries no token, only the claims the caller must obtain).
    #[error("graph asked for more claims (insufficient_claims)")]
    ClaimsChallenge {
        /// The `WWW-Authenticate` header value Graph sent.
        www_authenticate: String,
    },
    /// Graph answered with an error status.
    #[error("graph answered {status}: {code}")]
    Status {
        /// The HTTP status.
        status: StatusCode,
        /// Graph's `error.code` (e.g. `Authorization_RequestDenied`), or `unknown`.
        code: String,
        /// Graph's `error.message`.
        message: String,
    },
    /// Graph could not be reached or the connection failed.
    #[error("graph request failed")]
    Transport(#[source] reqwest::Error),
    /// Graph's answer could not be read (too large, not the expected JSON).
    #[error("graph sent an invalid response: {0}")]
    InvalidResponse(&'static str),
}

/// A Graph client bound to one endpoint (`https://graph.microsoft.com/` or the dev tenant).
#[derive(Debug, Clone)]
pub struct GraphClient {
    http: reqwest::Client,
    me: Url,
}

impl GraphClient {
    /// A client for `{endpoint}v1.0/me`, with a 10 s timeout and redirects off.
    ///
    /// ```
    /// let graph = api::graph::GraphClient::new(&"https://graph.microsoft.com/".parse().unwrap()).unwrap();
    /// assert_eq!(graph.me_url().as_str(), "https://graph.microsoft.com/v1.0/me");
    /// ```
    pub fn new(endpoint: &Url) -> Result<Self, GraphError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .connect_timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(GraphError::Transport)?;
        Self::with_http(endpoint, http)
    }

    /// A client that uses the given reqwest client.
    pub fn with_http(endpoint: &Url, http: reqwest::Client) -> Result<Self, GraphError> {
        let me = endpoint
            .join("v1.0/me")
            .map_err(|_| GraphError::InvalidResponse("graph endpoint is not a base URL"))?;
        Ok(Self { http, me })
    }

    /// The `/v1.0/me` URL this client calls.
    pub fn me_url(&self) -> &Url {
        &self.me
    }

    /// `GET /v1.0/me` with a token for Graph (`User.Read`).
    pub async fn me(&self, access_token: &str) -> Result<Profile, GraphError> {
        let response = self
            .http
            .get(self.me.clone())
            .bearer_auth(access_token)
            .header(header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(GraphError::Transport)?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = read_capped(response).await?;
        if status != StatusCode::OK {
            return Err(error_from(status, &headers, &body));
        }
        serde_json::from_slice(&body).map_err(|_| GraphError::InvalidResponse("profile JSON"))
    }

    /// `PATCH /v1.0/me` with a token for Graph (`User.ReadWrite`). Succeeds only on `204`.
    pub async fn update_me(
        &self,
        access_token: &str,
        update: &ProfileUpdate,
    ) -> Result<(), GraphError> {
        let response = self
            .http
            .patch(self.me.clone())
            .bearer_auth(access_token)
            .json(update)
            .send()
            .await
            .map_err(GraphError::Transport)?;
        let status = response.status();
        if status == StatusCode::NO_CONTENT {
            return Ok(());
        }
        let headers = response.headers().clone();
        let body = read_capped(response).await?;
        Err(error_from(status, &headers, &body))
    }
}

async fn read_capped(mut response: reqwest::Response) -> Result<Vec<u8>, GraphError> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(GraphError::Transport)? {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(GraphError::InvalidResponse("body larger than 64 KiB"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn error_from(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> GraphError {
    if status == StatusCode::UNAUTHORIZED {
        let challenge = headers
            .get_all(header::WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.to_ascii_lowercase().contains("insufficient_claims"));
        if let Some(value) = challenge {
            return GraphError::ClaimsChallenge {
                www_authenticate: value.to_owned(),
            };
        }
    }
    #[derive(Deserialize)]
    struct Envelope {
        error: Inner,
    }
    #[derive(Deserialize)]
    struct Inner {
        #[serde(default)]
        code: String,
        #[serde(default)]
        message: String,
    }
    let (code, message) = match serde_json::from_slice::<Envelope>(body) {
        Ok(e) => (e.error.code, e.error.message),
        Err(_) => ("unknown".to_owned(), String::new()),
    };
    GraphError::Status {
        status,
        code,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graph_error_envelope_is_read() {
        let body = br#"{"error":{"code":"Authorization_RequestDenied","message":"Insufficient privileges to complete the operation.","innerError":{"request-id":"x","date":"y"}}}"#;
        match error_from(StatusCode::FORBIDDEN, &HeaderMap::new(), body) {
            GraphError::Status {
                status,
                code,
                message,
            } => {
                assert_eq!(status, StatusCode::FORBIDDEN);
                assert_eq!(code, "Authorization_RequestDenied");
                assert!(message.starts_with("Insufficient privileges"));
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn claims_challenge_is_kept_apart() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::WWW_AUTHENTICATE,
            r#"Bearer realm="", error="insufficient_claims", claims="e30=""#
                .parse()
                .unwrap(),
        );
        assert!(matches!(
            error_from(StatusCode::UNAUTHORIZED, &headers, b""),
            GraphError::ClaimsChallenge { .. }
        ));
        // A 401 without a claims challenge is a plain status error.
        assert!(matches!(
            error_from(StatusCode::UNAUTHORIZED, &HeaderMap::new(), b"not json"),
            GraphError::Status { code, .. } if code == "unknown"
        ));
    }
}
