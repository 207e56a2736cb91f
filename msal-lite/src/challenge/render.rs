//! Challenge → header text (RFC 7235 §4.1 syntax), the inverse of the parser.

use std::fmt::{self, Write as _};

use super::auth_challenge::Challenge;

/// Renders several challenges as one `WWW-Authenticate` value, separated by `", "`.
///
/// Each challenge is rendered as its `Display` impl does: auth-param values always as
/// quoted-strings with `"` and `\` escaped, so [`parse_www_authenticate`] gives back exactly
/// the challenges that went in.
///
/// [`parse_www_authenticate`]: super::parse_www_authenticate
///
/// ```
/// use msal_lite::challenge::{parse_www_authenticate, render_challenges, Challenge};
///
/// let challenges = vec![
///     Challenge::new("Bearer")?.with_param("realm", "api")?.with_param("error", "invalid_token")?,
///     Challenge::new("Negotiate")?,
/// ];
/// let header = render_challenges(&challenges);
/// assert_eq!(header, r#"Bearer realm="api", error="invalid_token", Negotiate"#);
/// assert_eq!(parse_www_authenticate(&header)?, challenges);
/// # Ok::<(), msal_lite::challenge::ChallengeError>(())
/// ```
pub fn render_challenges(challenges: &[Challenge]) -> String {
    let mut out = String::new();
    for (i, challenge) in challenges.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        // Writing into a String cannot fail.
        let _ = write!(out, "{challenge}");
    }
    out
}

/// The body of `impl Display for Challenge`.
pub(crate) fn write_challenge(f: &mut fmt::Formatter<'_>, challenge: &Challenge) -> fmt::Result {
    f.write_str(challenge.scheme())?;
    if let Some(token68) = challenge.token68() {
        f.write_char(' ')?;
        f.write_str(token68)?;
    }
    for (i, (name, value)) in challenge.params().enumerate() {
        f.write_str(if i == 0 { " " } else { ", " })?;
        f.write_str(name)?;
        f.write_char('=')?;
        write_quoted(f, value)?;
    }
    Ok(())
}

/// Writes `value` as an RFC 7230 §3.2.6 quoted-string: only `"` and `\` need a quoted-pair.
fn write_quoted(f: &mut impl fmt::Write, value: &str) -> fmt::Result {
    f.write_char('"')?;
    let mut rest = value;
    while let Some(i) = rest.find(['"', '\\']) {
        f.write_str(&rest[..i])?;
        f.write_char('\\')?;
        // `i` indexes an ASCII byte, so `i..=i` is a char boundary on both sides.
        f.write_str(&rest[i..=i])?;
        rest = &rest[i + 1..];
    }
    f.write_str(rest)?;
    f.write_char('"')
}
