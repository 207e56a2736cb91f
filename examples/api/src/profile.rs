//! The `POST /updateUserInfo` body: parsed strictly, validated before anything reaches Graph.
//!
//! Type errors (not JSON, wrong types, unknown fields) are the client's syntax problem: **400**.
//! Well-formed values that Graph would refuse or that make no sense (empty display name, too long,
//! control characters, nothing to change) are semantic: **422**. Limits follow the Microsoft Graph
//! `user` resource: `displayName` up to 256 characters and never cleared, `givenName` and `surname`
//! up to 64.

use serde::{Deserialize, Serialize};

/// Longest `displayName` Graph accepts.
pub const MAX_DISPLAY_NAME: usize = 256;
/// Longest `givenName` / `surname` Graph accepts.
pub const MAX_NAME: usize = 64;

/// The profile fields the quickstart lets a customer edit (a subset of what Graph allows a
/// customer to update on themselves).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProfileUpdate {
    /// New display name; `None` leaves it unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// New given name; `None` leaves it unchanged, `""` clears it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    /// New surname; `None` leaves it unchanged, `""` clears it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub surname: Option<String>,
}

/// Why a well-formed body was refused (HTTP 422).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProfileError {
    /// No field to change.
    #[error("the body names no field to change (displayName, givenName or surname)")]
    Empty,
    /// `displayName` is empty or only whitespace; Graph never clears it.
    #[error("displayName cannot be empty")]
    EmptyDisplayName,
    /// A value is longer than Graph allows.
    #[error("{field} is longer than {max} characters")]
    TooLong {
        /// The JSON field name.
        field: &'static str,
        /// The limit, in characters.
        max: usize,
    },
    /// A value holds control characters (line breaks, NUL, ...).
    #[error("{field} contains control characters")]
    ControlCharacters {
        /// The JSON field name.
        field: &'static str,
    },
}

/// Why a body was not a well-formed profile update (HTTP 400).
#[derive(Debug, thiserror::Error)]
#[error("the body must be a JSON object with string fields displayName, givenName, surname: {0}")]
pub struct BodyError(#[source] serde_json::Error);

impl ProfileUpdate {
    /// Parses a request body strictly: a JSON object (not an array, which serde would otherwise
    /// accept for a struct), string values, no unknown fields.
    ///
    /// ```
    /// use api::profile::ProfileUpdate;
    ///
    /// assert!(ProfileUpdate::parse(br#"{"surname":"Lovelace"}"#).is_ok());
    /// assert!(ProfileUpdate::parse(b"[]").is_err());
    /// assert!(ProfileUpdate::parse(br#"{"surname":5}"#).is_err());
    /// ```
    pub fn parse(body: &[u8]) -> Result<Self, BodyError> {
        let object: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(body).map_err(BodyError)?;
        serde_json::from_value(serde_json::Value::Object(object)).map_err(BodyError)
    }

    /// Checks the semantic rules; the result is trimmed and ready to send to Graph.
    ///
    /// ```
    /// use api::profile::{ProfileError, ProfileUpdate};
    ///
    /// let ok = ProfileUpdate { display_name: Some(" Ada ".into()), given_name: None, surname: None };
    /// assert_eq!(ok.validate().unwrap().display_name.as_deref(), Some("Ada"));
    ///
    /// let empty = ProfileUpdate { display_name: Some("  ".into()), given_name: None, surname: None };
    /// assert_eq!(empty.validate(), Err(ProfileError::EmptyDisplayName));
    /// ```
    pub fn validate(self) -> Result<Self, ProfileError> {
        if self.display_name.is_none() && self.given_name.is_none() && self.surname.is_none() {
            return Err(ProfileError::Empty);
        }
        let display_name = self
            .display_name
            .map(|v| check("displayName", v, MAX_DISPLAY_NAME))
            .transpose()?;
        if display_name.as_deref() == Some("") {
            return Err(ProfileError::EmptyDisplayName);
        }
        Ok(Self {
            display_name,
            given_name: self
                .given_name
                .map(|v| check("givenName", v, MAX_NAME))
                .transpose()?,
            surname: self
                .surname
                .map(|v| check("surname", v, MAX_NAME))
                .transpose()?,
        })
    }
}

fn check(field: &'static str, value: String, max: usize) -> Result<String, ProfileError> {
    let trimmed = value.trim();
    if trimmed.chars().any(char::is_control) {
        return Err(ProfileError::ControlCharacters { field });
    }
    if trimmed.chars().count() > max {
        return Err(ProfileError::TooLong { field, max });
    }
    Ok(trimmed.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<ProfileUpdate, BodyError> {
        ProfileUpdate::parse(json.as_bytes())
    }

    #[test]
    fn syntax_errors_are_rejected_by_the_parser() {
        for bad in [
            "",
            "null",
            "[]",
            r#"{"displayName": 5}"#,
            r#"{"displayName": ["a"]}"#,
            r#"{"displayName": "a", "jobTitle": "x"}"#,
            r#"{"displayName": "a""#,
        ] {
            assert!(parse(bad).is_err(), "{bad:?} should not parse");
        }
    }

    #[test]
    fn semantic_rules() {
        let cases: &[(&str, Result<(), ProfileError>)] = &[
            (r#"{"displayName":"Ada Lovelace"}"#, Ok(())),
            (r#"{"givenName":"","surname":""}"#, Ok(())),
            (r#"{}"#, Err(ProfileError::Empty)),
            (
                r#"{"displayName":"   "}"#,
                Err(ProfileError::EmptyDisplayName),
            ),
            (
                r#"{"displayName":"a\nb"}"#,
                Err(ProfileError::ControlCharacters {
                    field: "displayName",
                }),
            ),
        ];
        for (json, expected) in cases {
            let got = parse(json).unwrap().validate().map(|_| ());
            assert_eq!(&got, expected, "{json}");
        }
    }

    #[test]
    fn lengths_count_characters_not_bytes() {
        let at_limit = "é".repeat(MAX_NAME);
        let over = "é".repeat(MAX_NAME + 1);
        let ok = ProfileUpdate {
            display_name: None,
            given_name: Some(at_limit),
            surname: None,
        };
        assert!(ok.validate().is_ok());
        let too_long = ProfileUpdate {
            display_name: None,
            given_name: None,
            surname: Some(over),
        };
        assert_eq!(
            too_long.validate(),
            Err(ProfileError::TooLong {
                field: "surname",
                max: MAX_NAME
            })
        );
    }

    #[test]
    fn serializes_only_the_fields_to_change() {
        let update = ProfileUpdate {
            display_name: Some("Ada".into()),
            given_name: None,
            surname: Some(String::new()),
        };
        assert_eq!(
            serde_json::to_string(&update).unwrap(),
            r#"{"displayName":"Ada","surname":""}"#
        );
    }
}
