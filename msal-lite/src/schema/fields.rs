//! Field-level reading and writing shared by every entity type.
//!
//! Entities are read from a JSON object field by field (rather than with derived serde
//! impls) because the schema needs three things derive cannot give at once: several
//! spellings for one field, timestamps that are strings or numbers, and every unknown or
//! `null` field kept byte-for-byte so a round trip changes nothing.

use std::fmt;
use std::ops::{Deref, DerefMut};

use serde_json::{Map, Value};

use super::{CacheSecret, SchemaError, UnixTime};

/// Fields of an entry that msal-lite does not model, kept so that writing the entry back
/// loses nothing another MSAL stored (for example .NET's `ext_expires_on`, msal-node's
/// `tenantProfiles`, or a `null` that .NET wrote for `family_id`).
///
/// `Debug` lists the field names only: unknown fields may hold anything.
///
/// ```
/// use msal_lite::schema::ExtraFields;
///
/// let mut extra = ExtraFields::default();
/// extra.insert("ext_expires_on".into(), "4600".into());
/// assert_eq!(format!("{extra:?}"), r#"ExtraFields(["ext_expires_on"])"#);
/// ```
#[derive(Clone, Default, PartialEq)]
pub struct ExtraFields(pub Map<String, Value>);

impl Deref for ExtraFields {
    type Target = Map<String, Value>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl DerefMut for ExtraFields {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl fmt::Debug for ExtraFields {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ExtraFields")
            .field(&self.0.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// Which spellings of a multi-spelled field were present on read (bit i = `spellings[i]`).
/// Zero means "not read from JSON": write the default spellings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Seen(pub(crate) u8);

pub(crate) struct Reader {
    section: &'static str,
    map: Map<String, Value>,
}

impl Reader {
    pub(crate) fn new(section: &'static str, value: Value) -> Result<Self, SchemaError> {
        match value {
            Value::Object(map) => Ok(Self { section, map }),
            _ => Err(SchemaError::NotAnObject {
                what: entry_name(section),
            }),
        }
    }

    fn invalid(&self, field: &'static str) -> SchemaError {
        SchemaError::InvalidField {
            section: self.section,
            field,
        }
    }

    pub(crate) fn required_str(&mut self, field: &'static str) -> Result<String, SchemaError> {
        match self.map.remove(field) {
            Some(Value::String(s)) => Ok(s),
            None => Err(SchemaError::MissingField {
                section: self.section,
                field,
            }),
            Some(_) => Err(self.invalid(field)),
        }
    }

    pub(crate) fn secret(&mut self) -> Result<CacheSecret, SchemaError> {
        self.required_str("secret").map(CacheSecret::new)
    }

    /// A string field that may be absent. `null` stays in the extra map (so it is written
    /// back as `null`) and reads as `None`.
    pub(crate) fn opt_str(&mut self, field: &'static str) -> Result<Option<String>, SchemaError> {
        match self.map.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(_)) => match self.map.remove(field) {
                Some(Value::String(s)) => Ok(Some(s)),
                // Unreachable: the arm above just saw a string under this name.
                _ => Err(self.invalid(field)),
            },
            Some(_) => Err(self.invalid(field)),
        }
    }

    pub(crate) fn opt_time(
        &mut self,
        field: &'static str,
    ) -> Result<Option<UnixTime>, SchemaError> {
        let parsed = match self.map.get(field) {
            None | Some(Value::Null) => return Ok(None),
            Some(Value::String(s)) => UnixTime::parse_str(s),
            Some(Value::Number(n)) => n.as_i64().map(UnixTime::from_secs),
            Some(_) => None,
        };
        match parsed {
            Some(t) => {
                self.map.remove(field);
                Ok(Some(t))
            }
            None => Err(self.invalid(field)),
        }
    }

    pub(crate) fn required_time(&mut self, field: &'static str) -> Result<UnixTime, SchemaError> {
        self.opt_time(field)?.ok_or(SchemaError::MissingField {
            section: self.section,
            field,
        })
    }

    /// A field with several spellings, read in priority order. Other spellings holding the
    /// same value are marked seen (and written back); a spelling holding a *different* value
    /// is left in the extra map untouched.
    pub(crate) fn aliased(
        &mut self,
        spellings: &'static [&'static str],
    ) -> Result<(Option<String>, Seen), SchemaError> {
        let mut value: Option<String> = None;
        let mut seen = 0u8;
        for (i, name) in spellings.iter().enumerate() {
            match (self.map.get(*name), &value) {
                (Some(Value::String(s)), None) => {
                    value = Some(s.clone());
                    seen |= 1 << i;
                    self.map.remove(*name);
                }
                (Some(Value::String(s)), Some(v)) if s == v => {
                    seen |= 1 << i;
                    self.map.remove(*name);
                }
                (None | Some(Value::Null) | Some(Value::String(_)), _) => {}
                (Some(_), _) => return Err(self.invalid(name)),
            }
        }
        Ok((value, Seen(seen)))
    }

    pub(crate) fn finish(self) -> ExtraFields {
        ExtraFields(self.map)
    }
}

pub(crate) struct Writer {
    map: Map<String, Value>,
}

impl Writer {
    pub(crate) fn new() -> Self {
        Self { map: Map::new() }
    }

    pub(crate) fn str(&mut self, field: &str, value: &str) {
        self.map
            .insert(field.to_owned(), Value::String(value.to_owned()));
    }

    pub(crate) fn opt_str(&mut self, field: &str, value: Option<&str>) {
        if let Some(v) = value {
            self.str(field, v);
        }
    }

    pub(crate) fn opt_time(&mut self, field: &str, value: Option<UnixTime>) {
        if let Some(t) = value {
            self.map
                .insert(field.to_owned(), Value::String(t.to_schema_string()));
        }
    }

    /// Writes `value` under the spellings seen on read, or under `default_mask` for a new entry.
    pub(crate) fn aliased(
        &mut self,
        spellings: &'static [&'static str],
        default_mask: u8,
        value: Option<&str>,
        seen: Seen,
    ) {
        let Some(v) = value else { return };
        let mask = if seen.0 == 0 { default_mask } else { seen.0 };
        for (i, name) in spellings.iter().enumerate() {
            if mask & (1 << i) != 0 {
                self.str(name, v);
            }
        }
    }

    /// Adds the unknown fields; a typed field written above wins over an extra of the same name.
    pub(crate) fn finish(mut self, extra: &ExtraFields) -> Value {
        for (k, v) in extra.iter() {
            if !self.map.contains_key(k) {
                self.map.insert(k.clone(), v.clone());
            }
        }
        Value::Object(self.map)
    }
}

fn entry_name(section: &'static str) -> &'static str {
    match section {
        "AccessToken" => "AccessToken entry",
        "RefreshToken" => "RefreshToken entry",
        "IdToken" => "IdToken entry",
        "Account" => "Account entry",
        "AppMetadata" => "AppMetadata entry",
        _ => "entry",
    }
}
