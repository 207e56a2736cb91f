//! Reading a cache document section by section and entry by entry, straight from the bytes.
//!
//! `serde_json::from_slice::<Value>` of a whole document builds a tree as large as the typed
//! entries it then becomes (for MSAL Python's 100,000-token cache, about a second and several
//! hundred megabytes before the first entry is read). Here each entry is parsed into a small
//! `Value`, read into its typed form at once and dropped, so the tree never exists. Errors are
//! the same as [`CacheDocument::from_slice_lenient`]'s: syntax errors name the byte offset, a
//! section that is not an object is [`SchemaError::NotAnObject`], and a malformed entry is
//! skipped and listed. serde_json's recursion limit still bounds nesting.

use std::fmt;

use serde::Deserializer as _;
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::document::{SECTIONS, byte_offset};
use super::{CacheDocument, SchemaError};

/// The document in `json`, or `None` when it does not start with an object (the caller then
/// takes the whole-value path, which reports what it is instead).
pub(super) fn read(
    json: &[u8],
    skipped: &mut Vec<String>,
) -> Option<Result<CacheDocument, SchemaError>> {
    if json.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return None;
    }
    let mut failure = None;
    let mut de = serde_json::Deserializer::from_slice(json);
    let read = de
        .deserialize_map(Root {
            skipped,
            failure: &mut failure,
        })
        .and_then(|doc| de.end().map(|()| doc));
    Some(read.map_err(|source| {
        failure.take().unwrap_or_else(|| SchemaError::Syntax {
            offset: byte_offset(json, source.line(), source.column()),
            source,
        })
    }))
}

struct Root<'s> {
    skipped: &'s mut Vec<String>,
    /// A schema error that stopped the read (serde only carries its own errors).
    failure: &'s mut Option<SchemaError>,
}

impl<'de> Visitor<'de> for Root<'_> {
    type Value = CacheDocument;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a token cache document (a JSON object)")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<CacheDocument, A::Error> {
        let mut doc = CacheDocument::default();
        let mut present = 0u8;
        let mut extra = Map::new();
        while let Some(name) = map.next_key::<String>()? {
            if let Some(i) = SECTIONS.iter().position(|s| *s == name) {
                present |= 1 << i;
                map.next_value_seed(Section {
                    i,
                    doc: &mut doc,
                    skipped: &mut *self.skipped,
                    failure: &mut *self.failure,
                })?;
            } else {
                extra.insert(name, map.next_value::<Value>()?);
            }
        }
        doc.finish_streamed(present, extra);
        Ok(doc)
    }
}

/// One section: a map from cache key to entry.
struct Section<'s> {
    i: usize,
    doc: &'s mut CacheDocument,
    skipped: &'s mut Vec<String>,
    failure: &'s mut Option<SchemaError>,
}

impl Section<'_> {
    fn not_an_object<E: de::Error>(self) -> Result<(), E> {
        *self.failure = Some(SchemaError::NotAnObject {
            what: SECTIONS[self.i],
        });
        Err(E::custom("a cache section is not an object"))
    }
}

impl<'de> DeserializeSeed<'de> for Section<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Section<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a cache section (a JSON object)")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            let entry: Value = map.next_value()?;
            if let Err(error) = self
                .doc
                .read_entry(self.i, key, entry, Some(&mut *self.skipped))
            {
                // Unreachable while skipping is on; kept so an error is never lost.
                *self.failure = Some(error);
                return Err(de::Error::custom("a cache entry could not be read"));
            }
        }
        Ok(())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.not_an_object()
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        self.not_an_object()
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        self.not_an_object()
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        self.not_an_object()
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        self.not_an_object()
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        self.not_an_object()
    }
    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<(), A::Error> {
        self.not_an_object()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The streaming reader gives exactly the whole-value reader's document and skips.
    #[test]
    fn same_as_the_whole_value_reader() {
        let json = br#"{"Account": {"bad": 7, "u.t-e-t": {"home_account_id": "u.t",
            "environment": "e", "realm": "t", "authority_type": "MSSTS"}},
            "AccessToken": {}, "Custom": {"x": [1, 2]},
            "AppMetadata": {"appmetadata-e-c": {"environment": "e", "client_id": "c", "family_id": null}}}"#;
        let mut skipped = Vec::new();
        let streamed = read(json, &mut skipped).unwrap().unwrap();
        assert_eq!(skipped, ["bad"]);
        let whole =
            CacheDocument::from_json(&String::from_utf8_lossy(json).replace(r#""bad": 7, "#, ""))
                .unwrap();
        assert_eq!(streamed.to_value(), whole.to_value());
        assert_eq!(streamed.key_style(), whole.key_style());
    }

    #[test]
    fn errors_match_the_whole_value_reader() {
        let mut skipped = Vec::new();
        let err = read(br#"{"Account": [1]}"#, &mut skipped)
            .unwrap()
            .unwrap_err();
        assert!(
            matches!(err, SchemaError::NotAnObject { what: "Account" }),
            "{err:?}"
        );
        let truncated = br#"{"Account": {"k": {}}, "#;
        let err = read(truncated, &mut skipped).unwrap().unwrap_err();
        let Err(SchemaError::Syntax { offset: whole, .. }) =
            super::super::document::parse_json(truncated)
        else {
            panic!("not JSON")
        };
        assert!(
            matches!(err, SchemaError::Syntax { offset, .. } if offset == whole),
            "{err:?}"
        );
        let err = read(b"{} x", &mut skipped).unwrap().unwrap_err();
        assert!(matches!(err, SchemaError::Syntax { .. }), "{err:?}");
        assert!(
            read(b"[1]", &mut skipped).is_none(),
            "left to the whole-value path"
        );
    }

    proptest::proptest! {
        /// Untrusted input never panics, and whenever the whole-value reader reads a document
        /// the streaming reader reads the same one with the same skips.
        #[test]
        fn agrees_with_the_whole_value_reader(tail in "[\\[\\]{}:,\" a-zA-Z0-9_]{0,80}") {
            let json = format!("{{{tail}");
            let mut skipped = Vec::new();
            let streamed = read(json.as_bytes(), &mut skipped).expect("starts with an object");
            let whole = super::super::document::parse_json(json.as_bytes());
            if let Ok(value) = whole {
                let mut whole_skipped = Vec::new();
                let by_value = CacheDocument::read_value_for_tests(value, &mut whole_skipped);
                match (streamed, by_value) {
                    (Ok(a), Ok(b)) => {
                        proptest::prop_assert_eq!(a.to_value(), b.to_value());
                        proptest::prop_assert_eq!(skipped, whole_skipped);
                    }
                    (Err(_), Err(_)) => {}
                    (a, b) => proptest::prop_assert!(false, "{a:?} vs {b:?}"),
                }
            }
        }
    }
}
