//! Errors raised while reading MSAL cache JSON.

/// Why a piece of MSAL cache JSON could not be read.
///
/// Messages never contain token secrets or cache keys (keys embed account identifiers).
///
/// ```
/// use msal_lite::schema::{CacheDocument, SchemaError};
///
/// let err = CacheDocument::from_json("[1, 2]").unwrap_err();
/// assert!(matches!(err, SchemaError::NotAnObject { .. }));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SchemaError {
    /// The value is not JSON (from the `serde::Deserialize` path, which has no byte offset).
    #[error("cache json is malformed")]
    Json(#[source] serde_json::Error),
    /// The text is not JSON; `offset` is the byte where reading stopped.
    #[error("cache json is malformed at byte {offset}")]
    Syntax {
        /// Byte offset into the input.
        offset: usize,
        /// serde_json's error (line and column).
        #[source]
        source: serde_json::Error,
    },
    /// A value that must be a JSON object (the document, a section, or an entry) is not one.
    #[error("{what} is not a json object")]
    NotAnObject {
        /// Which value: `"document"`, a section name, or `"<Section> entry"`.
        what: &'static str,
    },
    /// An entry lacks a field every MSAL writes (for example `secret` or `client_id`).
    #[error("{section} entry has no {field}")]
    MissingField {
        /// The section (`AccessToken`, `RefreshToken`, `IdToken`, `Account`, `AppMetadata`).
        section: &'static str,
        /// The JSON field name.
        field: &'static str,
    },
    /// A field has the wrong JSON type, or a timestamp is not a number of seconds.
    #[error("{section} entry has an invalid {field}")]
    InvalidField {
        /// The section.
        section: &'static str,
        /// The JSON field name.
        field: &'static str,
    },
    /// `client_info` is not base64 (standard or URL-safe, padded or not).
    #[error("client_info is not base64")]
    ClientInfoEncoding,
    /// `client_info` decodes, but not to a JSON object with string `uid` and `utid`.
    #[error("client_info is not a json object with uid and utid")]
    ClientInfoContent,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_send_sync() {
        fn assert_send_sync<T: Send + Sync + 'static>() {}
        assert_send_sync::<SchemaError>();
    }
}
