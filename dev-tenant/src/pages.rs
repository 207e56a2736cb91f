//! The HTML pages: login, MFA, the `form_post` auto-submitting form, and messages.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

const STYLE: &str = include_str!("../templates/style.css");
const LOGIN: &str = include_str!("../templates/login.html");
const MFA: &str = include_str!("../templates/mfa.html");
const FORM_POST: &str = include_str!("../templates/form_post.html");
const MESSAGE: &str = include_str!("../templates/message.html");

/// Escapes text for HTML element content and double-quoted attribute values.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Fills `{{name}}` placeholders; values must already be escaped (or be trusted markup).
fn render(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = template.replace("{{style}}", STYLE);
    for (k, v) in values {
        out = out.replace(&format!("{{{{{k}}}}}"), v);
    }
    out
}

fn error_markup(error: Option<&str>) -> String {
    error
        .map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", escape(e)))
        .unwrap_or_default()
}

fn page(status: StatusCode, html: String) -> Response {
    (
        status,
        [("cache-control", "no-store"), ("x-frame-options", "DENY")],
        Html(html),
    )
        .into_response()
}

pub(crate) fn login(
    action: &str,
    tx: &str,
    tenant: &str,
    app: &str,
    email: &str,
    error: Option<&str>,
) -> Response {
    page(
        StatusCode::OK,
        render(
            LOGIN,
            &[
                ("action", &escape(action)),
                ("tx", &escape(tx)),
                ("tenant", &escape(tenant)),
                ("app", &escape(app)),
                ("email", &escape(email)),
                ("error", &error_markup(error)),
            ],
        ),
    )
}

pub(crate) fn mfa(
    action: &str,
    tx: &str,
    email: &str,
    code: &str,
    error: Option<&str>,
) -> Response {
    page(
        StatusCode::OK,
        render(
            MFA,
            &[
                ("action", &escape(action)),
                ("tx", &escape(tx)),
                ("email", &escape(email)),
                ("code", &escape(code)),
                ("error", &error_markup(error)),
            ],
        ),
    )
}

pub(crate) fn form_post(action: &str, fields: &[(&str, &str)]) -> Response {
    let fields: String = fields
        .iter()
        .map(|(k, v)| {
            format!(
                "<input type=\"hidden\" name=\"{}\" value=\"{}\">\n",
                escape(k),
                escape(v)
            )
        })
        .collect();
    page(
        StatusCode::OK,
        render(
            FORM_POST,
            &[("action", &escape(action)), ("fields", &fields)],
        ),
    )
}

pub(crate) fn message(status: StatusCode, title: &str, message: &str) -> Response {
    page(
        status,
        render(
            MESSAGE,
            &[("title", &escape(title)), ("message", &escape(message))],
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn templates_have_no_leftover_placeholders() {
        let html = render(
            LOGIN,
            &[
                ("action", "a"),
                ("tx", "t"),
                ("tenant", "x"),
                ("app", "y"),
                ("email", ""),
                ("error", ""),
            ],
        );
        assert!(!html.contains("{{"));
        let html = render(
            MFA,
            &[
                ("action", "a"),
                ("tx", "t"),
                ("email", "e"),
                ("code", "123456"),
                ("error", ""),
            ],
        );
        assert!(!html.contains("{{") && html.contains("123456"));
    }
}
