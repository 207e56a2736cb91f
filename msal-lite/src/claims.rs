//! Claims requests: merging client capabilities (`xms_cc`) into a `claims` JSON object, and the
//! hash that keys claims-bound cache entries.
//!
//! A client that declares capabilities (`cp1` = "can handle claims challenges", needed for
//! Continuous Access Evaluation) sends them on every authorize and token request as
//! `{"access_token":{"xms_cc":{"values":["cp1"]}}}`, merged into whatever `claims` the request
//! already carries (Microsoft identity platform: "Claims challenges, claims requests, and client
//! capabilities").
//!
//! ```
//! use msal_lite::claims::merge_client_capabilities;
//!
//! let merged = merge_client_capabilities(
//!     Some(r#"{"access_token":{"acrs":{"essential":true,"value":"c1"}}}"#),
//!     &["cp1"],
//! )?;
//! assert_eq!(
//!     merged.as_deref(),
//!     Some(r#"{"access_token":{"acrs":{"essential":true,"value":"c1"},"xms_cc":{"values":["cp1"]}}}"#),
//! );
//! # Ok::<(), msal_lite::claims::ClaimsError>(())
//! ```

use std::collections::HashMap;
use std::fmt;

use base64::Engine as _;
use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

/// Why a `claims` value cannot be merged.
///
/// ```
/// use msal_lite::claims::{merge_client_capabilities, ClaimsError};
///
/// let err = merge_client_capabilities(Some("[]"), &["cp1"]).unwrap_err();
/// assert!(matches!(err, ClaimsError::NotAnObject));
/// assert_eq!(err.to_string(), "claims are not a json object");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClaimsError {
    /// The claims are not valid JSON.
    #[error("claims are not valid json")]
    InvalidJson(#[source] serde_json::Error),
    /// The claims are JSON, but not an object (`[]`, `"text"`, `1`, ...).
    #[error("claims are not a json object")]
    NotAnObject,
    /// The claims have an `access_token` member that is neither an object nor `null`, so
    /// `xms_cc` has nowhere to go.
    #[error("claims `access_token` member is not a json object")]
    AccessTokenNotAnObject,
}

/// Merges client capabilities into a claims request, as MSAL does before sending `claims`.
///
/// * No capabilities: the claims come back **unchanged** (same text), after checking they are
///   a JSON object. `None` or `""` stay `None`.
/// * Capabilities: `access_token.xms_cc` is set to `{"values": capabilities}`, replacing any
///   `xms_cc` in place; `access_token` is added last when missing (a `null` one is replaced in
///   place). Everything else keeps its order (msal-js order: `xms_cc` last), and the result
///   is compact JSON. `None` or `""` claims start from `{}`.
///
/// MSAL.NET instead puts `access_token` and `xms_cc` first; Entra reads both the same.
/// Duplicate member names keep the last value at the first position, as `JSON.parse` does.
///
/// # Errors
///
/// [`ClaimsError`] when the claims are not a JSON object, or `access_token` is not an object.
///
/// ```
/// use msal_lite::claims::merge_client_capabilities;
///
/// assert_eq!(
///     merge_client_capabilities(None, &["cp1", "cp2"])?.as_deref(),
///     Some(r#"{"access_token":{"xms_cc":{"values":["cp1","cp2"]}}}"#),
/// );
/// let no_caps: &[&str] = &[];
/// assert_eq!(merge_client_capabilities(Some(r#"{"id_token": {}}"#), no_caps)?.as_deref(), Some(r#"{"id_token": {}}"#));
/// assert_eq!(merge_client_capabilities(None, no_caps)?, None);
/// # Ok::<(), msal_lite::claims::ClaimsError>(())
/// ```
pub fn merge_client_capabilities<S: AsRef<str>>(
    claims: Option<&str>,
    capabilities: &[S],
) -> Result<Option<String>, ClaimsError> {
    let claims = claims.filter(|c| !c.is_empty());
    if capabilities.is_empty() {
        return match claims {
            None => Ok(None),
            Some(text) => {
                check_json_object(text)?;
                Ok(Some(text.to_owned()))
            }
        };
    }

    let mut root = match claims {
        None => Object::default(),
        Some(text) => match serde_json::from_str::<Json>(text).map_err(ClaimsError::InvalidJson)? {
            Json::Object(object) => object,
            _ => return Err(ClaimsError::NotAnObject),
        },
    };
    let xms_cc = Json::Object(Object::from_entries(vec![(
        "values".to_owned(),
        Json::Array(
            capabilities
                .iter()
                .map(|c| Json::String(c.as_ref().to_owned()))
                .collect(),
        ),
    )]));
    match root.get_mut(ACCESS_TOKEN) {
        Some(Json::Object(access_token)) => access_token.insert(XMS_CC.to_owned(), xms_cc),
        Some(slot @ Json::Null) => {
            *slot = Json::Object(Object::from_entries(vec![(XMS_CC.to_owned(), xms_cc)]));
        }
        Some(_) => return Err(ClaimsError::AccessTokenNotAnObject),
        None => root.insert(
            ACCESS_TOKEN.to_owned(),
            Json::Object(Object::from_entries(vec![(XMS_CC.to_owned(), xms_cc)])),
        ),
    }
    serde_json::to_string(&Json::Object(root))
        .map(Some)
        .map_err(ClaimsError::InvalidJson)
}

/// The hash of a claims request that keys claims-bound access tokens in the cache:
/// base64url (no padding) of the SHA-256 of the claims text, as msal-js's
/// `requestedClaimsHash`. The text is hashed as given, so callers hash the exact string they
/// send.
///
/// ```
/// use msal_lite::claims::claims_hash;
///
/// assert_eq!(claims_hash("{}"), "RBNvo1WzZ4oRRq0W9-hknpT7T8If536DEMBg9hyq_4o");
/// ```
pub fn claims_hash(claims: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, claims.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref())
}

/// Whether `text` is a JSON object (syntax checked in full, nothing kept).
pub(crate) fn is_json_object(text: &str) -> bool {
    check_json_object(text).is_ok()
}

const ACCESS_TOKEN: &str = "access_token";
const XMS_CC: &str = "xms_cc";

fn check_json_object(text: &str) -> Result<(), ClaimsError> {
    match serde_json::from_str::<ObjectOnly>(text) {
        Ok(ObjectOnly) => Ok(()),
        Err(e) if e.is_data() => Err(ClaimsError::NotAnObject),
        Err(e) => Err(ClaimsError::InvalidJson(e)),
    }
}

/// Deserializes only from a JSON object, ignoring its contents.
struct ObjectOnly;

impl<'de> Deserialize<'de> for ObjectOnly {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ObjectOnly;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a json object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ObjectOnly, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(ObjectOnly)
            }
        }
        deserializer.deserialize_map(V)
    }
}

/// A JSON value that keeps object member order (serde_json's `Map` sorts keys unless a
/// crate-wide feature is on, and this module's output must not depend on that).
#[derive(Debug)]
enum Json {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
    Array(Vec<Json>),
    Object(Object),
}

/// Object members in document order, names unique.
#[derive(Debug, Default)]
struct Object {
    entries: Vec<(String, Json)>,
    /// Name → index, built once the object is big enough for linear search to hurt, so
    /// hostile input with many members stays linear.
    index: Option<HashMap<String, usize>>,
}

impl Object {
    const INDEX_FROM: usize = 16;

    fn from_entries(entries: Vec<(String, Json)>) -> Self {
        let mut object = Self::default();
        for (k, v) in entries {
            object.insert(k, v);
        }
        object
    }

    fn position(&self, key: &str) -> Option<usize> {
        match &self.index {
            Some(index) => index.get(key).copied(),
            None => self.entries.iter().position(|(k, _)| k == key),
        }
    }

    fn get_mut(&mut self, key: &str) -> Option<&mut Json> {
        let i = self.position(key)?;
        self.entries.get_mut(i).map(|(_, v)| v)
    }

    /// Replaces in place when present (as assigning a JavaScript property does), else appends.
    fn insert(&mut self, key: String, value: Json) {
        if let Some(i) = self.position(&key) {
            if let Some(slot) = self.entries.get_mut(i) {
                slot.1 = value;
            }
            return;
        }
        if let Some(index) = &mut self.index {
            index.insert(key.clone(), self.entries.len());
        }
        self.entries.push((key, value));
        if self.index.is_none() && self.entries.len() >= Self::INDEX_FROM {
            self.index = Some(
                self.entries
                    .iter()
                    .enumerate()
                    .map(|(i, (k, _))| (k.clone(), i))
                    .collect(),
            );
        }
    }
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any json value")
    }
    fn visit_unit<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Json, E> {
        Ok(Json::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Json, E> {
        Ok(Json::Number(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Json, E> {
        Ok(Json::Number(v.into()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Json, E> {
        serde_json::Number::from_f64(v)
            .map(Json::Number)
            .ok_or_else(|| E::custom("non-finite number"))
    }
    fn visit_str<E>(self, v: &str) -> Result<Json, E> {
        Ok(Json::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Json, E> {
        Ok(Json::String(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut object = Object::default();
        while let Some((k, v)) = map.next_entry::<String, Json>()? {
            object.insert(k, v);
        }
        Ok(Json::Object(object))
    }
}

impl Serialize for Json {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Json::Null => serializer.serialize_unit(),
            Json::Bool(b) => serializer.serialize_bool(*b),
            Json::Number(n) => n.serialize(serializer),
            Json::String(s) => serializer.serialize_str(s),
            Json::Array(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Json::Object(object) => {
                let mut map = serializer.serialize_map(Some(object.entries.len()))?;
                for (k, v) in &object.entries {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_send_and_sync() {
        fn assert_send_sync<T: Send + Sync + 'static>() {}
        assert_send_sync::<ClaimsError>();
    }

    #[test]
    fn duplicate_members_keep_the_last_value_at_the_first_position() {
        let merged = merge_client_capabilities(Some(r#"{"a":1,"b":2,"a":3}"#), &["cp1"]).unwrap();
        assert_eq!(
            merged.as_deref(),
            Some(r#"{"a":3,"b":2,"access_token":{"xms_cc":{"values":["cp1"]}}}"#)
        );
    }

    #[test]
    fn large_objects_switch_to_an_index_and_keep_order() {
        let members: Vec<String> = (0..100).map(|i| format!(r#""k{i}":{i}"#)).collect();
        let text = format!("{{{},\"k50\":\"last\"}}", members.join(","));
        let merged = merge_client_capabilities(Some(&text), &["cp1"])
            .unwrap()
            .unwrap();
        let expected_members: Vec<String> = (0..100)
            .map(|i| {
                if i == 50 {
                    r#""k50":"last""#.to_owned()
                } else {
                    format!(r#""k{i}":{i}"#)
                }
            })
            .collect();
        assert_eq!(
            merged,
            format!(
                r#"{{{},"access_token":{{"xms_cc":{{"values":["cp1"]}}}}}}"#,
                expected_members.join(",")
            )
        );
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let deep = format!("{{\"a\":{}1{}}}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(matches!(
            merge_client_capabilities(Some(&deep), &["cp1"]),
            Err(ClaimsError::InvalidJson(_))
        ));
        // Syntax checking alone is iterative in serde_json, so it neither overflows nor limits.
        assert!(is_json_object(&deep));
    }
}
