//! The server-rendered pages (templates in `templates/`, auto-escaped by askama).

use askama::Template;
use axum::response::{Html, IntoResponse, Response};
use http::StatusCode;

use api::graph::Profile;

/// `/`: the home page.
#[derive(Debug, Template)]
#[template(path = "index.html")]
pub struct Index {
    /// Whether a user is signed in (controls the navigation).
    pub signed_in: bool,
    /// The session's CSRF token, for the navigation's sign-out form (empty when signed out).
    pub csrf_token: String,
    /// The signed-in user's name.
    pub name: Option<String>,
}

/// `/users/id`: the ID token's claims.
#[derive(Debug, Template)]
#[template(path = "id.html")]
pub struct IdClaims {
    /// Always true on this page.
    pub signed_in: bool,
    /// The session's CSRF token, for the navigation's sign-out form (empty when signed out).
    pub csrf_token: String,
    /// Claim name and its value rendered as text.
    pub claims: Vec<(String, String)>,
}

/// `/users/gatedUpdateProfile`: the Graph profile and the "Edit profile" button.
#[derive(Debug, Template)]
#[template(path = "profile.html")]
pub struct ProfilePage {
    /// Always true on this page.
    pub signed_in: bool,
    /// The session's CSRF token, for the navigation's sign-out form (empty when signed out).
    pub csrf_token: String,
    /// The profile from Graph.
    pub profile: Profile,
    /// A one-line notice, e.g. after a successful update.
    pub notice: Option<String>,
}

/// `/users/updateProfile`: the edit form.
#[derive(Debug, Template)]
#[template(path = "update_profile.html")]
pub struct UpdateProfile {
    /// Always true on this page.
    pub signed_in: bool,
    /// The current profile, to pre-fill the form.
    pub profile: Profile,
    /// The session's CSRF token, echoed in a hidden field (and in the sign-out form).
    pub csrf_token: String,
    /// A validation message from the last attempt.
    pub error: Option<String>,
}

/// A friendly error page: a message for people, a reference for the logs, never internals.
#[derive(Debug, Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    /// Whether a user is signed in.
    pub signed_in: bool,
    /// The session's CSRF token, for the navigation's sign-out form (empty when signed out).
    pub csrf_token: String,
    /// What happened, in words for the user.
    pub message: String,
    /// The request id to quote to support (it is in the logs too).
    pub request_id: Option<String>,
}

/// Renders a page with a status code; a template failure becomes a plain 500 text.
pub fn render(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "template rendering failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile() -> Profile {
        Profile {
            id: "oid-1".into(),
            mail: Some("alice@contoso.com".into()),
            user_principal_name: None,
            display_name: Some("<script>alert(1)</script>".into()),
            given_name: Some("Alice".into()),
            surname: None,
        }
    }

    #[test]
    fn pages_escape_user_data() {
        let html = ProfilePage {
            signed_in: true,
            csrf_token: "tok".into(),
            profile: profile(),
            notice: None,
        }
        .render()
        .unwrap();
        assert!(!html.contains("<script>alert(1)</script>"), "{html}");
        assert!(html.contains("&#60;script&#62;alert(1)"), "{html}");
        assert!(html.contains(r#"id="profile-mail">alice@contoso.com<"#));
    }

    #[test]
    fn edit_form_carries_csrf_token_and_values() {
        let html = UpdateProfile {
            signed_in: true,
            profile: profile(),
            csrf_token: "tok-123".into(),
            error: Some("displayName cannot be empty".into()),
        }
        .render()
        .unwrap();
        assert!(html.contains(r#"name="csrf_token" value="tok-123""#));
        assert!(html.contains(r#"id="givenName" name="givenName" maxlength="64" value="Alice""#));
        assert!(html.contains("displayName cannot be empty"));
    }

    #[test]
    fn navigation_follows_sign_in_state() {
        let out = Index {
            signed_in: false,
            csrf_token: String::new(),
            name: None,
        }
        .render()
        .unwrap();
        assert!(out.contains(r#"id="signin""#) && !out.contains(r#"id="signout""#));
        let inn = Index {
            signed_in: true,
            csrf_token: "tok-456".into(),
            name: Some("Alice".into()),
        }
        .render()
        .unwrap();
        assert!(inn.contains(r#"id="signout""#) && inn.contains("Welcome, Alice"));
        // Sign-out is a POST form carrying the session's CSRF token, never a link.
        assert!(
            inn.contains(r#"<form method="post" action="/auth/signout""#)
                && inn.contains(r#"name="csrf_token" value="tok-456""#),
            "{inn}"
        );
        assert!(!inn.contains(r#"href="/auth/signout""#), "{inn}");
    }
}
