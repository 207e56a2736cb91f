//! Client secrets (`client_secret_post` and `client_secret_basic`).

use std::fmt;

use base64::Engine as _;

/// A client secret (an app registration's "client secret" value).
///
/// `Debug` prints `[redacted]`; there is no `Display`.
///
/// ```
/// use msal_lite::ClientSecret;
/// let secret = ClientSecret::new("dev-daemon-secret");
/// assert_eq!(format!("{secret:?}"), "ClientSecret([redacted])");
/// ```
pub struct ClientSecret(Box<str>);

impl ClientSecret {
    /// Wraps a secret.
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into().into_boxed_str())
    }

    /// The secret itself.
    ///
    /// # Security Warning
    ///
    /// Do not log it or put it in an error message.
    ///
    /// ```
    /// assert_eq!(msal_lite::ClientSecret::new("s").secret(), "s");
    /// ```
    pub fn secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientSecret([redacted])")
    }
}

/// `Authorization: Basic` value for `client_secret_basic`: RFC 6749 §2.3.1 form-encodes the
/// client id and secret before joining them with `:` and base64-encoding.
pub(crate) fn basic_authorization(client_id: &str, secret: &ClientSecret) -> String {
    let id: String = url::form_urlencoded::byte_serialize(client_id.as_bytes()).collect();
    let pw: String = url::form_urlencoded::byte_serialize(secret.secret().as_bytes()).collect();
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{id}:{pw}"));
    format!("Basic {encoded}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let s = ClientSecret::new("hunter2");
        assert_eq!(format!("{s:?}"), "ClientSecret([redacted])");
        assert!(!format!("{s:#?}").contains("hunter2"));
    }

    #[test]
    fn basic_header_form_encodes_before_base64() {
        // RFC 6749 §2.3.1: "a:b c" form-encodes to "a%3Ab+c".
        let value = basic_authorization("id", &ClientSecret::new("a:b c"));
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(value.strip_prefix("Basic ").unwrap())
            .unwrap();
        assert_eq!(decoded, b"id:a%3Ab+c");
    }
}
