//! The web app's routes, as in the Node sample: `/`, `/auth/*`, `/users/*`.

use std::sync::Arc;

use api::graph::GraphError;
use api::profile::ProfileUpdate;
use axum::Form;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use msal_lite::{AuthCodeRequest, IntoScopes, ResponseMode};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use tower_sessions::Session;

use crate::AppState;
use crate::flow_cookie::{self, PendingSignIn};
use crate::pages::{self, ErrorPage, IdClaims, Index, ProfilePage, UpdateProfile};

/// Graph permission for reading the profile.
const GRAPH_READ: &str = "User.Read";
const USER_KEY: &str = "user";
const CSRF_KEY: &str = "csrf";

/// What the session remembers about the signed-in user: no tokens (they live in msal-lite's
/// cache, partitioned by `home_account_id`).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct SessionUser {
    home_account_id: String,
    name: Option<String>,
}

async fn session_user(session: &Session) -> Option<SessionUser> {
    session.get::<SessionUser>(USER_KEY).await.ok().flatten()
}

/// `GET /`.
pub(crate) async fn home(session: Session) -> Response {
    let user = session_user(&session).await;
    pages::render(
        StatusCode::OK,
        &Index {
            signed_in: user.is_some(),
            csrf_token: csrf_token(&session).await.unwrap_or_default(),
            name: user.map(|u| u.name.unwrap_or_else(|| "there".to_owned())),
        },
    )
}

/// `GET /auth/signin`.
pub(crate) async fn sign_in(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    state.start_sign_in([GRAPH_READ], None, "/", &headers).await
}

/// The form the tenant posts to `/auth/redirect` (`response_mode=form_post`).
#[derive(Debug, Deserialize)]
pub(crate) struct RedirectForm {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// `POST /auth/redirect`: finish the sign-in.
///
/// Nothing in the form is trusted before its `state` matches the flow this browser started
/// (RFC 6749 §10.12; OpenID Connect Core §3.1.2.7): anyone can post to this URL, so an
/// `error`/`error_description` without the right `state` is an attacker's text. Even with it,
/// the page shows a fixed message (the description is the tenant's diagnostic, not for users),
/// and the log gets both fields escaped (`Debug`: no CR/LF to forge log lines) and shortened.
pub(crate) async fn redirect(
    State(state): State<Arc<AppState>>,
    session: Session,
    headers: HeaderMap,
    Form(form): Form<RedirectForm>,
) -> Response {
    let pending = flow_cookie::from_headers(&headers, state.https)
        .and_then(|value| state.sealer.open(value, now()));
    let Some(pending) = pending else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "The sign-in took too long or was started in another browser. Please sign in again.",
            &headers,
            None,
        );
    };
    let state_matches = form
        .state
        .as_deref()
        .is_some_and(|s| bool::from(s.as_bytes().ct_eq(pending.flow.state().as_bytes())));
    if !state_matches {
        // Not this browser's sign-in: keep its flow cookie (its real response may still come).
        tracing::warn!("a sign-in response did not carry this browser's state; ignored");
        return error_page(
            StatusCode::BAD_REQUEST,
            "This sign-in response does not belong to a sign-in started in this browser. \
             Please sign in again.",
            &headers,
            None,
        );
    }
    if let Some(error) = form.error {
        tracing::info!(
            error = ?log_text(&error),
            error_description = ?form.error_description.as_deref().map(log_text),
            "the tenant returned an error to the redirect URI"
        );
        let message = if error == "access_denied" {
            "The sign-in was cancelled or refused. You can sign in again."
        } else {
            "The sign-in failed. Please try again."
        };
        return with_cleared_flow(
            state.https,
            error_page(StatusCode::BAD_REQUEST, message, &headers, None),
        );
    }
    let (Some(code), Some(returned_state)) = (form.code, form.state) else {
        return with_cleared_flow(
            state.https,
            error_page(
                StatusCode::BAD_REQUEST,
                "The sign-in response was incomplete. Please sign in again.",
                &headers,
                None,
            ),
        );
    };
    let result = match state
        .msal
        .acquire_token_by_code(&code, &returned_state, pending.flow)
        .await
    {
        Ok(result) => result,
        Err(e) => {
            tracing::warn!(error = %e, "redeeming the authorization code failed");
            return with_cleared_flow(
                state.https,
                error_page(
                    StatusCode::BAD_GATEWAY,
                    "We could not complete your sign-in. Please try again.",
                    &headers,
                    None,
                ),
            );
        }
    };
    let Some(account) = result.account() else {
        return with_cleared_flow(
            state.https,
            error_page(
                StatusCode::BAD_GATEWAY,
                "The sign-in response had no account.",
                &headers,
                None,
            ),
        );
    };
    let user = SessionUser {
        home_account_id: account.home_account_id().to_owned(),
        name: account.name().or(account.username()).map(str::to_owned),
    };
    // A new session id at sign-in (session fixation), then the user and a fresh CSRF token.
    let stored = async {
        session.cycle_id().await?;
        session.insert(USER_KEY, &user).await?;
        session.insert(CSRF_KEY, random_token()).await
    }
    .await;
    if let Err(e) = stored {
        tracing::error!(error = %e, "could not store the session");
        return with_cleared_flow(
            state.https,
            error_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "We could not start your session. Please try again.",
                &headers,
                None,
            ),
        );
    }
    tracing::info!("signed in");
    with_cleared_flow(state.https, see_other(&local_path(&pending.return_to)))
}

/// The sign-out form's field.
#[derive(Debug, Deserialize)]
pub(crate) struct SignOutForm {
    csrf_token: String,
}

/// `POST /auth/signout`, with the session's CSRF token: a `GET` (or a POST from another site,
/// which cannot know the token) signs no one out.
pub(crate) async fn sign_out(
    State(state): State<Arc<AppState>>,
    session: Session,
    headers: HeaderMap,
    Form(form): Form<SignOutForm>,
) -> Response {
    let user = session_user(&session).await;
    if user.is_some() && !csrf_matches(csrf_token(&session).await.as_deref(), &form.csrf_token) {
        return error_page(
            StatusCode::FORBIDDEN,
            "This sign-out form has expired. Please use the Sign out button again.",
            &headers,
            signed_in_token(&session).await,
        );
    }
    if let Err(e) = session.flush().await {
        tracing::warn!(error = %e, "could not delete the session");
    }
    let Some(user) = user else {
        return Redirect::to("/").into_response();
    };
    let Some(account) = state.msal.account(&user.home_account_id).await else {
        return Redirect::to("/").into_response();
    };
    state.msal.remove_account(&account).await;
    match state
        .msal
        .sign_out_url(&account, Some(state.post_logout_redirect_uri.as_str()))
        .await
    {
        Ok(url) => Redirect::to(url.as_str()).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "no sign-out URL; signing out locally only");
            see_other("/")
        }
    }
}

/// `GET /users/id`: the ID token's claims.
pub(crate) async fn id_claims(
    State(state): State<Arc<AppState>>,
    session: Session,
    headers: HeaderMap,
) -> Response {
    let account = match state.account(&session, "/users/id", &headers).await {
        Ok(account) => account,
        Err(response) => return response,
    };
    let claims = account
        .id_token_claims()
        .iter()
        .map(|(name, value)| {
            let text = match value {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (name.clone(), text)
        })
        .collect();
    pages::render(
        StatusCode::OK,
        &IdClaims {
            signed_in: true,
            csrf_token: csrf_token(&session).await.unwrap_or_default(),
            claims,
        },
    )
}

/// Query of `/users/gatedUpdateProfile`.
#[derive(Debug, Deserialize)]
pub(crate) struct ProfileQuery {
    updated: Option<String>,
}

/// `GET /users/gatedUpdateProfile`: the profile from Graph.
pub(crate) async fn profile(
    State(state): State<Arc<AppState>>,
    session: Session,
    headers: HeaderMap,
    Query(query): Query<ProfileQuery>,
) -> Response {
    let here = "/users/gatedUpdateProfile";
    let token = match state.token(&session, [GRAPH_READ], here, &headers).await {
        Ok(token) => token,
        Err(response) => return response,
    };
    match state.graph_profile(&session, &token, here, &headers).await {
        Ok(profile) => pages::render(
            StatusCode::OK,
            &ProfilePage {
                signed_in: true,
                csrf_token: csrf_token(&session).await.unwrap_or_default(),
                profile,
                notice: query
                    .updated
                    .is_some()
                    .then(|| "Your profile was updated.".to_owned()),
            },
        ),
        Err(response) => response,
    }
}

/// `GET /users/updateProfile`: the edit form. Asking for the EditProfileService scope is what
/// triggers the Conditional Access MFA step.
pub(crate) async fn update_profile_form(
    State(state): State<Arc<AppState>>,
    session: Session,
    headers: HeaderMap,
) -> Response {
    let here = "/users/updateProfile";
    if let Err(response) = state
        .token(&session, [state.api_scope.as_str()], here, &headers)
        .await
    {
        return response;
    }
    let token = match state.token(&session, [GRAPH_READ], here, &headers).await {
        Ok(token) => token,
        Err(response) => return response,
    };
    let profile = match state.graph_profile(&session, &token, here, &headers).await {
        Ok(profile) => profile,
        Err(response) => return response,
    };
    let csrf_token = match csrf_token(&session).await {
        Some(token) => token,
        None => {
            return state
                .start_sign_in([GRAPH_READ], None, here, &headers)
                .await;
        }
    };
    pages::render(
        StatusCode::OK,
        &UpdateProfile {
            signed_in: true,
            profile,
            csrf_token,
            error: None,
        },
    )
}

/// The edit form's fields.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UpdateForm {
    #[serde(rename = "csrf_token")]
    csrf_token: String,
    display_name: String,
    given_name: String,
    surname: String,
}

/// `POST /users/update`: call the EditProfileService; success iff it answers 204.
pub(crate) async fn update(
    State(state): State<Arc<AppState>>,
    session: Session,
    headers: HeaderMap,
    Form(form): Form<UpdateForm>,
) -> Response {
    let form_page = "/users/updateProfile";
    // CSRF: the token from the form must match the session's (constant-time).
    let expected = csrf_token(&session).await;
    if !csrf_matches(expected.as_deref(), &form.csrf_token) {
        return error_page(
            StatusCode::FORBIDDEN,
            "This form has expired. Please open the edit page again.",
            &headers,
            signed_in_token(&session).await,
        );
    }
    let token = match state
        .token(&session, [state.api_scope.as_str()], form_page, &headers)
        .await
    {
        Ok(token) => token,
        Err(response) => return response,
    };
    let update = ProfileUpdate {
        display_name: Some(form.display_name),
        given_name: Some(form.given_name),
        surname: Some(form.surname),
    };
    let response = state
        .http
        .post(state.api_update_url.clone())
        .bearer_auth(&token)
        .json(&update)
        .send()
        .await;
    let response = match response {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(error = %e, "the EditProfileService could not be reached");
            return error_page(
                StatusCode::BAD_GATEWAY,
                "The profile service could not be reached. Your profile was not changed.",
                &headers,
                expected.clone(),
            );
        }
    };
    let status = response.status();
    if status == StatusCode::NO_CONTENT {
        tracing::info!("profile updated");
        return see_other("/users/gatedUpdateProfile?updated=1");
    }
    let challenge_headers = response.headers().clone();
    let body = response.text().await.unwrap_or_default();
    match status {
        StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY => {
            let message = serde_json::from_str::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v["message"].as_str().map(str::to_owned))
                .unwrap_or_else(|| "The profile service refused these values.".to_owned());
            let profile = api::graph::Profile {
                id: String::new(),
                mail: None,
                user_principal_name: None,
                display_name: update.display_name,
                given_name: update.given_name,
                surname: update.surname,
            };
            pages::render(
                StatusCode::UNPROCESSABLE_ENTITY,
                &UpdateProfile {
                    signed_in: true,
                    profile,
                    csrf_token: expected.unwrap_or_default(),
                    error: Some(message),
                },
            )
        }
        StatusCode::UNAUTHORIZED => {
            // The API wants a new token: with the claims it names (MFA, revocation), or a plain
            // new sign-in for the API scope.
            let claims = msal_lite::challenge::ClaimsChallenge::from_headers(&challenge_headers)
                .map(|c| c.claims().to_owned());
            tracing::info!(
                with_claims = claims.is_some(),
                "the API asked for a new token"
            );
            state
                .start_sign_in(
                    [state.api_scope.as_str()],
                    claims.as_deref(),
                    form_page,
                    &headers,
                )
                .await
        }
        _ => {
            tracing::warn!(%status, "the EditProfileService failed");
            error_page(
                StatusCode::BAD_GATEWAY,
                "The profile service could not update your profile. Your profile was not changed.",
                &headers,
                expected.clone(),
            )
        }
    }
}

impl AppState {
    /// The user's Graph profile. A claims challenge from Graph (continuous access evaluation:
    /// the user's sessions were revoked, the cached token no longer counts) sends the user to
    /// sign in with those claims and back to `return_to`; other failures are a 502 page.
    async fn graph_profile(
        &self,
        session: &Session,
        token: &str,
        return_to: &str,
        headers: &HeaderMap,
    ) -> Result<api::graph::Profile, Response> {
        match self.graph.me(token).await {
            Ok(profile) => Ok(profile),
            Err(GraphError::ClaimsChallenge { www_authenticate }) => {
                let mut challenge = HeaderMap::new();
                if let Ok(value) = HeaderValue::from_str(&www_authenticate) {
                    challenge.insert(header::WWW_AUTHENTICATE, value);
                }
                let claims = msal_lite::challenge::ClaimsChallenge::from_headers(&challenge)
                    .map(|c| c.claims().to_owned());
                tracing::info!(with_claims = claims.is_some(), "graph asked for new claims");
                Err(self
                    .start_sign_in([GRAPH_READ], claims.as_deref(), return_to, headers)
                    .await)
            }
            Err(e) => {
                tracing::warn!(error = %e, "graph GET /me failed");
                Err(error_page(
                    StatusCode::BAD_GATEWAY,
                    "We could not load your profile from Microsoft Graph.",
                    headers,
                    signed_in_token(session).await,
                ))
            }
        }
    }

    /// Redirects the browser to the authorize endpoint, keeping the flow in the sealed cookie.
    async fn start_sign_in(
        &self,
        scopes: impl IntoScopes,
        claims: Option<&str>,
        return_to: &str,
        headers: &HeaderMap,
    ) -> Response {
        let mut request = AuthCodeRequest::new(scopes, self.redirect_uri.as_str())
            .response_mode(ResponseMode::FormPost);
        if let Some(claims) = claims {
            request = request.claims(claims);
        }
        let (url, flow) = match self.msal.auth_code_url(request).await {
            Ok(pair) => pair,
            Err(e) => {
                tracing::warn!(error = %e, "could not build the sign-in URL");
                return error_page(
                    StatusCode::BAD_GATEWAY,
                    "The sign-in service is unavailable. Please try again shortly.",
                    headers,
                    None,
                );
            }
        };
        let pending = PendingSignIn {
            flow,
            return_to: local_path(return_to),
            started_at: now(),
        };
        let Ok(sealed) = self.sealer.seal(&pending) else {
            return error_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "We could not start the sign-in.",
                headers,
                None,
            );
        };
        let mut response = Redirect::to(url.as_str()).into_response();
        if let Ok(cookie) = HeaderValue::from_str(&flow_cookie::set_cookie(&sealed, self.https)) {
            response.headers_mut().append(header::SET_COOKIE, cookie);
        }
        response
    }

    /// The signed-in account, or the response that sends the user to sign in.
    async fn account(
        &self,
        session: &Session,
        return_to: &str,
        headers: &HeaderMap,
    ) -> Result<msal_lite::Account, Response> {
        let Some(user) = session_user(session).await else {
            return Err(Redirect::to("/auth/signin").into_response());
        };
        match self.msal.account(&user.home_account_id).await {
            Some(account) => Ok(account),
            // The token cache forgot the account (restart without a shared cache): sign in again.
            None => Err(self
                .start_sign_in([GRAPH_READ], None, return_to, headers)
                .await),
        }
    }

    /// An access token for `scopes`, silently; when the tenant needs the user (MFA,
    /// consent, expired session), the response that sends them there and back to `return_to`.
    async fn token<const N: usize>(
        &self,
        session: &Session,
        scopes: [&str; N],
        return_to: &str,
        headers: &HeaderMap,
    ) -> Result<String, Response> {
        let account = self.account(session, return_to, headers).await?;
        match self.msal.acquire_token_silent(scopes, &account).await {
            Ok(result) => Ok(result.access_token().secret().to_owned()),
            Err(e) if e.is_interaction_required() => {
                tracing::info!(error = %e, "interaction required; redirecting to the tenant");
                Err(self
                    .start_sign_in(scopes, e.claims(), return_to, headers)
                    .await)
            }
            Err(e) => {
                tracing::warn!(error = %e, "silent token acquisition failed");
                Err(error_page(
                    StatusCode::BAD_GATEWAY,
                    "The sign-in service is unavailable. Please try again shortly.",
                    headers,
                    signed_in_token(session).await,
                ))
            }
        }
    }
}

async fn csrf_token(session: &Session) -> Option<String> {
    session.get::<String>(CSRF_KEY).await.ok().flatten()
}

/// The CSRF token when a user is signed in (what an error page's sign-out form needs).
async fn signed_in_token(session: &Session) -> Option<String> {
    session_user(session).await?;
    csrf_token(session).await
}

/// Whether `presented` is the session's CSRF token (constant-time).
fn csrf_matches(expected: Option<&str>, presented: &str) -> bool {
    expected.is_some_and(|e| bool::from(e.as_bytes().ct_eq(presented.as_bytes())))
}

fn random_token() -> String {
    use aws_lc_rs::rand::SecureRandom as _;
    use base64::Engine as _;
    let mut bytes = [0u8; 32];
    aws_lc_rs::rand::SystemRandom::new()
        .fill(&mut bytes)
        .expect("system random number generator");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Only local paths are ever redirect targets (no open redirect through `return_to`).
fn local_path(path: &str) -> String {
    if path.starts_with('/') && !path.starts_with("//") && !path.contains('\\') {
        path.to_owned()
    } else {
        "/".to_owned()
    }
}

/// Attacker-reachable text for a log field: at most 200 characters (logged with `?`, which
/// escapes CR, LF and quotes, so it cannot start a forged log line).
fn log_text(text: &str) -> &str {
    text.char_indices()
        .nth(200)
        .map_or(text, |(end, _)| &text[..end])
}

fn see_other(location: &str) -> Response {
    Redirect::to(location).into_response()
}

fn with_cleared_flow(https: bool, mut response: Response) -> Response {
    if let Ok(cookie) = HeaderValue::from_str(&flow_cookie::clear_cookie(https)) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

/// An error page; `signed_in` is the signed-in session's CSRF token (for the sign-out form).
fn error_page(
    status: StatusCode,
    message: &str,
    headers: &HeaderMap,
    signed_in: Option<String>,
) -> Response {
    let request_id = headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    pages::render(
        status,
        &ErrorPage {
            signed_in: signed_in.is_some(),
            csrf_token: signed_in.unwrap_or_default(),
            message: message.to_owned(),
            request_id,
        },
    )
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_redirect_targets() {
        assert_eq!(local_path("/users/id"), "/users/id");
        for evil in [
            "//evil.example/",
            "https://evil.example/",
            "/\\evil",
            "",
            "users",
        ] {
            assert_eq!(local_path(evil), "/", "{evil}");
        }
    }

    #[test]
    fn random_tokens_differ() {
        assert_ne!(random_token(), random_token());
        assert_eq!(random_token().len(), 43);
    }
}
