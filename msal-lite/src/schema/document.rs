//! A whole cache (or one partition of it) in the unified cache schema.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use super::{
    AccessToken, Account, AppMetadata, ExtraFields, IdToken, KeyStyle, PartitionKey, RefreshToken,
    SchemaError, UnixTime,
};

pub(super) const SECTIONS: [&str; 5] = [
    "AccessToken",
    "RefreshToken",
    "IdToken",
    "Account",
    "AppMetadata",
];

/// A cache in MSAL's unified cache schema: the JSON object with the sections `AccessToken`,
/// `RefreshToken`, `IdToken`, `Account` and `AppMetadata`, each a map from cache key to entry.
///
/// The same type holds a whole cache or one partition (see [`CacheDocument::partition`]);
/// a partition is itself a valid cache file that MSAL Node, Python or .NET can load.
///
/// Reading keeps everything: entry keys as written, unknown fields and sections, `null`s, and
/// which spelling of a multi-spelled field was used, so [`CacheDocument::to_json`] of a parsed
/// file is the same JSON value (timestamps given as numbers come back as strings).
///
/// ```
/// use msal_lite::schema::CacheDocument;
///
/// let json = r#"{"AppMetadata": {"appmetadata-login.windows.net-cid":
///     {"environment": "login.windows.net", "client_id": "cid", "family_id": null}}}"#;
/// let doc = CacheDocument::from_json(json)?;
/// let again: serde_json::Value = serde_json::from_str(&doc.to_json())?;
/// assert_eq!(again, serde_json::from_str::<serde_json::Value>(json)?);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct CacheDocument {
    /// The `AccessToken` section.
    pub access_tokens: BTreeMap<String, AccessToken>,
    /// The `RefreshToken` section.
    pub refresh_tokens: BTreeMap<String, RefreshToken>,
    /// The `IdToken` section.
    pub id_tokens: BTreeMap<String, IdToken>,
    /// The `Account` section.
    pub accounts: BTreeMap<String, Account>,
    /// The `AppMetadata` section.
    pub app_metadata: BTreeMap<String, AppMetadata>,
    /// Unknown top-level members, kept for the round trip.
    pub extra: ExtraFields,
    /// Bit i set: section `SECTIONS[i]` was present on read (written back even when empty).
    present: u8,
    key_style: KeyStyle,
}

impl CacheDocument {
    /// An empty cache whose new entries get msal-js keys.
    ///
    /// ```
    /// # use msal_lite::schema::CacheDocument;
    /// assert!(CacheDocument::new().is_empty());
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses cache JSON. This is the entry point for untrusted input (and the fuzz target):
    /// it never panics, and nesting is bounded by serde_json's recursion limit.
    ///
    /// ```
    /// # use msal_lite::schema::CacheDocument;
    /// assert!(CacheDocument::from_json("{}")?.is_empty());
    /// assert!(CacheDocument::from_json("{\"AccessToken\": 1}").is_err());
    /// # Ok::<(), msal_lite::schema::SchemaError>(())
    /// ```
    pub fn from_json(json: &str) -> Result<Self, SchemaError> {
        Self::from_slice(json.as_bytes())
    }

    /// Parses cache JSON from bytes (UTF-8); see [`CacheDocument::from_json`].
    ///
    /// ```
    /// # use msal_lite::schema::CacheDocument;
    /// assert!(CacheDocument::from_slice(b"\xff").is_err());
    /// ```
    pub fn from_slice(json: &[u8]) -> Result<Self, SchemaError> {
        Self::from_value(parse_json(json)?)
    }

    /// Parses a cache document as an import does: like [`CacheDocument::from_slice`], except
    /// that an entry which does not read as its section's type is skipped, with a traced
    /// warning naming its key, instead of failing the whole document. Returns the document and
    /// the keys of the skipped entries. A document that is not JSON, or whose root or a section
    /// is not an object, is still an error ([`SchemaError::Syntax`] names the byte offset).
    ///
    /// ```
    /// # use msal_lite::schema::CacheDocument;
    /// let json = br#"{"Account": {"bad": 7, "u.t-e-t": {"home_account_id": "u.t",
    ///     "environment": "e", "realm": "t", "authority_type": "MSSTS"}}}"#;
    /// let (doc, skipped) = CacheDocument::from_slice_lenient(json)?;
    /// assert_eq!(doc.accounts.len(), 1);
    /// assert_eq!(skipped, ["bad"]);
    /// # Ok::<(), msal_lite::schema::SchemaError>(())
    /// ```
    pub fn from_slice_lenient(json: &[u8]) -> Result<(Self, Vec<String>), SchemaError> {
        let mut skipped = Vec::new();
        // Section by section, entry by entry: no `Value` tree of the whole document (for a
        // large import that tree is as big as the typed entries it becomes).
        let doc = match super::streaming::read(json, &mut skipped) {
            Some(read) => read?,
            None => Self::read_value(parse_json(json)?, Some(&mut skipped))?,
        };
        Ok((doc, skipped))
    }

    /// Reads an already parsed JSON value.
    ///
    /// ```
    /// # use msal_lite::schema::CacheDocument;
    /// let doc = CacheDocument::from_value(serde_json::json!({"Account": {}}))?;
    /// assert!(doc.is_empty());
    /// # Ok::<(), msal_lite::schema::SchemaError>(())
    /// ```
    pub fn from_value(value: Value) -> Result<Self, SchemaError> {
        Self::read_value(value, None)
    }

    /// [`CacheDocument::from_value`]; with `skipped`, a malformed entry is recorded there (and
    /// traced) instead of failing the document.
    fn read_value(
        value: Value,
        mut skipped: Option<&mut Vec<String>>,
    ) -> Result<Self, SchemaError> {
        let Value::Object(mut root) = value else {
            return Err(SchemaError::NotAnObject { what: "document" });
        };
        let mut doc = Self::default();
        for (i, name) in SECTIONS.iter().enumerate() {
            let Some(section) = root.remove(*name) else {
                continue;
            };
            let Value::Object(entries) = section else {
                return Err(SchemaError::NotAnObject { what: name });
            };
            doc.present |= 1 << i;
            for (key, entry) in entries {
                doc.read_entry(i, key, entry, skipped.as_deref_mut())?;
            }
        }
        doc.extra = ExtraFields(root);
        doc.key_style = doc.detect_key_style();
        Ok(doc)
    }

    #[cfg(test)]
    pub(super) fn read_value_for_tests(
        value: Value,
        skipped: &mut Vec<String>,
    ) -> Result<Self, SchemaError> {
        Self::read_value(value, Some(skipped))
    }

    /// Reads one entry of section `SECTIONS[i]` into the document; with `skipped`, a
    /// malformed entry is recorded (and traced) instead of failing.
    pub(super) fn read_entry(
        &mut self,
        i: usize,
        key: String,
        entry: Value,
        skipped: Option<&mut Vec<String>>,
    ) -> Result<(), SchemaError> {
        let doc = self;
        let name = SECTIONS[i];
        let read = match i {
            0 => AccessToken::from_value(entry).map(|e| {
                doc.access_tokens.insert(key.clone(), e);
            }),
            1 => RefreshToken::from_value(entry).map(|e| {
                doc.refresh_tokens.insert(key.clone(), e);
            }),
            2 => IdToken::from_value(entry).map(|e| {
                doc.id_tokens.insert(key.clone(), e);
            }),
            3 => Account::from_value(entry).map(|e| {
                doc.accounts.insert(key.clone(), e);
            }),
            _ => AppMetadata::from_value(entry).map(|e| {
                doc.app_metadata.insert(key.clone(), e);
            }),
        };
        match (read, skipped) {
            (Ok(()), _) => {}
            (Err(error), Some(skipped)) => {
                // The key names the entry for whoever repairs the file; the error
                // never contains a secret.
                tracing::warn!(section = name, key = %key, %error, "skipping a malformed token cache entry");
                skipped.push(key);
            }
            (Err(error), None) => return Err(error),
        }
        Ok(())
    }

    /// Finishes a document read section by section ([`super::streaming`]).
    pub(super) fn finish_streamed(&mut self, present: u8, extra: Map<String, Value>) {
        self.present = present;
        self.extra = ExtraFields(extra);
        self.key_style = self.detect_key_style();
    }

    /// The document as a JSON value.
    ///
    /// ```
    /// # use msal_lite::schema::CacheDocument;
    /// assert_eq!(CacheDocument::new().to_value(), serde_json::json!({}));
    /// ```
    pub fn to_value(&self) -> Value {
        fn section<T>(
            out: &mut Map<String, Value>,
            name: &str,
            present: bool,
            entries: &BTreeMap<String, T>,
            to_value: impl Fn(&T) -> Value,
        ) {
            if present || !entries.is_empty() {
                let map = entries
                    .iter()
                    .map(|(k, v)| (k.clone(), to_value(v)))
                    .collect();
                out.insert(name.to_owned(), Value::Object(map));
            }
        }
        let mut out = Map::new();
        let p = |i: usize| self.present & (1 << i) != 0;
        section(
            &mut out,
            SECTIONS[0],
            p(0),
            &self.access_tokens,
            AccessToken::to_value,
        );
        section(
            &mut out,
            SECTIONS[1],
            p(1),
            &self.refresh_tokens,
            RefreshToken::to_value,
        );
        section(
            &mut out,
            SECTIONS[2],
            p(2),
            &self.id_tokens,
            IdToken::to_value,
        );
        section(
            &mut out,
            SECTIONS[3],
            p(3),
            &self.accounts,
            Account::to_value,
        );
        section(
            &mut out,
            SECTIONS[4],
            p(4),
            &self.app_metadata,
            AppMetadata::to_value,
        );
        for (k, v) in self.extra.iter() {
            out.entry(k.clone()).or_insert_with(|| v.clone());
        }
        Value::Object(out)
    }

    /// The document as compact JSON text.
    ///
    /// # Security Warning
    ///
    /// The output contains every token secret in clear text. Store it only where tokens may
    /// be stored (a private file, an access-controlled Redis, or through an encrypting codec).
    ///
    /// ```
    /// # use msal_lite::schema::CacheDocument;
    /// assert_eq!(CacheDocument::new().to_json(), "{}");
    /// ```
    pub fn to_json(&self) -> String {
        self.to_value().to_string()
    }

    /// The document as compact JSON bytes (see the warning on [`CacheDocument::to_json`]).
    ///
    /// ```
    /// # use msal_lite::schema::CacheDocument;
    /// assert_eq!(CacheDocument::new().to_vec(), b"{}");
    /// ```
    pub fn to_vec(&self) -> Vec<u8> {
        self.to_json().into_bytes()
    }

    /// The key layout used for entries inserted with the `insert_*` methods: msal-js for a new
    /// document, otherwise the layout the parsed document's own keys follow.
    ///
    /// ```
    /// # use msal_lite::schema::{CacheDocument, KeyStyle};
    /// assert_eq!(CacheDocument::new().key_style(), KeyStyle::MsalJs);
    /// ```
    pub fn key_style(&self) -> KeyStyle {
        self.key_style
    }

    /// Sets the key layout for entries inserted from now on.
    ///
    /// ```
    /// # use msal_lite::schema::{CacheDocument, KeyStyle};
    /// let doc = CacheDocument::new().with_key_style(KeyStyle::MsalNet);
    /// assert_eq!(doc.key_style(), KeyStyle::MsalNet);
    /// ```
    #[must_use]
    pub fn with_key_style(mut self, style: KeyStyle) -> Self {
        self.key_style = style;
        self
    }

    fn detect_key_style(&self) -> KeyStyle {
        const STYLES: [KeyStyle; 3] = [KeyStyle::MsalJs, KeyStyle::MsalNet, KeyStyle::MsalPython];
        let matches =
            |key: &str, f: &dyn Fn(KeyStyle) -> String| STYLES.into_iter().find(|s| f(*s) == key);
        self.access_tokens
            .iter()
            .find_map(|(k, e)| matches(k, &|s| e.cache_key(s)))
            .or_else(|| {
                self.refresh_tokens
                    .iter()
                    .find_map(|(k, e)| matches(k, &|s| e.cache_key(s)))
            })
            .or_else(|| {
                self.id_tokens
                    .iter()
                    .find_map(|(k, e)| matches(k, &|s| e.cache_key(s)))
            })
            .unwrap_or_default()
    }

    /// Inserts (or replaces) an access token under its key; returns the key.
    ///
    /// ```
    /// use msal_lite::schema::{AccessToken, CacheDocument, CacheSecret, UnixTime};
    /// let mut doc = CacheDocument::new();
    /// let key = doc.insert_access_token(AccessToken::new("e", "c", CacheSecret::new("t"), UnixTime::from_secs(1)));
    /// assert!(doc.access_tokens.contains_key(&key));
    /// ```
    pub fn insert_access_token(&mut self, entry: AccessToken) -> String {
        let key = entry.cache_key(self.key_style);
        self.access_tokens.insert(key.clone(), entry);
        key
    }

    /// Inserts (or replaces) a refresh token under its key; returns the key.
    ///
    /// ```
    /// use msal_lite::schema::{CacheDocument, CacheSecret, RefreshToken};
    /// let mut doc = CacheDocument::new();
    /// let key = doc.insert_refresh_token(RefreshToken::new("e", "c", CacheSecret::new("t")));
    /// assert_eq!(key, "-e-refreshtoken-c----");
    /// ```
    pub fn insert_refresh_token(&mut self, entry: RefreshToken) -> String {
        let key = entry.cache_key(self.key_style);
        self.refresh_tokens.insert(key.clone(), entry);
        key
    }

    /// Inserts (or replaces) an ID token under its key; returns the key.
    ///
    /// ```
    /// use msal_lite::schema::{CacheDocument, CacheSecret, IdToken};
    /// let mut doc = CacheDocument::new();
    /// let key = doc.insert_id_token(IdToken::new("e", "c", CacheSecret::new("h.p.s")));
    /// assert!(doc.id_tokens.contains_key(&key));
    /// ```
    pub fn insert_id_token(&mut self, entry: IdToken) -> String {
        let key = entry.cache_key(self.key_style);
        self.id_tokens.insert(key.clone(), entry);
        key
    }

    /// Inserts (or replaces) an account under its key; returns the key.
    ///
    /// ```
    /// use msal_lite::schema::{Account, CacheDocument};
    /// let mut doc = CacheDocument::new();
    /// assert_eq!(doc.insert_account(Account::new("u.t", "e", "t")), "u.t-e-t");
    /// ```
    pub fn insert_account(&mut self, entry: Account) -> String {
        let key = entry.cache_key(self.key_style);
        self.accounts.insert(key.clone(), entry);
        key
    }

    /// Inserts (or replaces) app metadata under its key; returns the key.
    ///
    /// ```
    /// use msal_lite::schema::{AppMetadata, CacheDocument};
    /// let mut doc = CacheDocument::new();
    /// assert_eq!(doc.insert_app_metadata(AppMetadata::new("e", "c")), "appmetadata-e-c");
    /// ```
    pub fn insert_app_metadata(&mut self, entry: AppMetadata) -> String {
        let key = entry.cache_key(self.key_style);
        self.app_metadata.insert(key.clone(), entry);
        key
    }

    /// Number of entries in all sections.
    ///
    /// ```
    /// # use msal_lite::schema::CacheDocument;
    /// assert_eq!(CacheDocument::new().len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.access_tokens.len()
            + self.refresh_tokens.len()
            + self.id_tokens.len()
            + self.accounts.len()
            + self.app_metadata.len()
    }

    /// True when no section has an entry.
    ///
    /// ```
    /// # use msal_lite::schema::CacheDocument;
    /// assert!(CacheDocument::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The latest `expires_on` / `extended_expires_on` of any access token (drives storage TTLs).
    ///
    /// ```
    /// use msal_lite::schema::{AccessToken, CacheDocument, CacheSecret, UnixTime};
    /// let mut doc = CacheDocument::new();
    /// let mut at = AccessToken::new("e", "c", CacheSecret::new("t"), UnixTime::from_secs(100));
    /// at.extended_expires_on = Some(UnixTime::from_secs(200));
    /// doc.insert_access_token(at);
    /// assert_eq!(doc.latest_access_token_expiry(), Some(UnixTime::from_secs(200)));
    /// ```
    pub fn latest_access_token_expiry(&self) -> Option<UnixTime> {
        self.access_tokens
            .values()
            .map(|at| {
                at.expires_on
                    .max(at.extended_expiry().unwrap_or(at.expires_on))
            })
            .max()
    }

    /// The partitions that have at least one entry here (app metadata belongs to all).
    ///
    /// ```
    /// use msal_lite::schema::{Account, CacheDocument, PartitionKey};
    /// let mut doc = CacheDocument::new();
    /// doc.insert_account(Account::new("u.t", "e", "t"));
    /// assert!(doc.partition_keys().contains(&PartitionKey::user("u.t")));
    /// ```
    pub fn partition_keys(&self) -> BTreeSet<PartitionKey> {
        let mut keys = BTreeSet::new();
        keys.extend(
            self.access_tokens
                .values()
                .map(PartitionKey::of_access_token),
        );
        keys.extend(
            self.refresh_tokens
                .values()
                .map(PartitionKey::of_refresh_token),
        );
        keys.extend(self.id_tokens.values().map(PartitionKey::of_id_token));
        keys.extend(self.accounts.values().map(PartitionKey::of_account));
        keys
    }

    /// The entries of one partition, plus all app metadata, as a document of its own.
    ///
    /// ```
    /// use msal_lite::schema::{Account, CacheDocument, PartitionKey};
    /// let mut doc = CacheDocument::new();
    /// doc.insert_account(Account::new("a.t", "e", "t"));
    /// doc.insert_account(Account::new("b.t", "e", "t"));
    /// assert_eq!(doc.partition(&PartitionKey::user("a.t")).accounts.len(), 1);
    /// ```
    pub fn partition(&self, key: &PartitionKey) -> CacheDocument {
        fn pick<T: Clone>(
            entries: &BTreeMap<String, T>,
            of: impl Fn(&T) -> PartitionKey,
            key: &PartitionKey,
        ) -> BTreeMap<String, T> {
            entries
                .iter()
                .filter(|(_, e)| of(e) == *key)
                .map(|(k, e)| (k.clone(), e.clone()))
                .collect()
        }
        CacheDocument {
            access_tokens: pick(&self.access_tokens, PartitionKey::of_access_token, key),
            refresh_tokens: pick(&self.refresh_tokens, PartitionKey::of_refresh_token, key),
            id_tokens: pick(&self.id_tokens, PartitionKey::of_id_token, key),
            accounts: pick(&self.accounts, PartitionKey::of_account, key),
            app_metadata: self.app_metadata.clone(),
            extra: ExtraFields::default(),
            present: 0,
            key_style: self.key_style,
        }
    }

    /// Splits the cache into its partitions (each with all app metadata).
    ///
    /// ```
    /// use msal_lite::schema::{Account, CacheDocument};
    /// let mut doc = CacheDocument::new();
    /// doc.insert_account(Account::new("a.t", "e", "t"));
    /// doc.insert_account(Account::new("b.t", "e", "t"));
    /// assert_eq!(doc.split_partitions().len(), 2);
    /// ```
    pub fn split_partitions(&self) -> BTreeMap<PartitionKey, CacheDocument> {
        self.clone().into_partitions()
    }

    /// Splits the cache into its partitions (each with all app metadata), consuming it: one
    /// pass over the entries, O(entries) (with a map lookup per entry for its partition), where
    /// asking [`CacheDocument::partition`] for every key would scan the document once per
    /// partition.
    ///
    /// ```
    /// use msal_lite::schema::{Account, CacheDocument, PartitionKey};
    /// let mut doc = CacheDocument::new();
    /// doc.insert_account(Account::new("a.t", "e", "t"));
    /// doc.insert_account(Account::new("b.t", "e", "t"));
    /// let parts = doc.into_partitions();
    /// assert_eq!(parts[&PartitionKey::user("a.t")].accounts.len(), 1);
    /// ```
    pub fn into_partitions(self) -> BTreeMap<PartitionKey, CacheDocument> {
        let CacheDocument {
            access_tokens,
            refresh_tokens,
            id_tokens,
            accounts,
            app_metadata,
            key_style,
            ..
        } = self;
        let mut parts: BTreeMap<PartitionKey, CacheDocument> = BTreeMap::new();
        fn put<T>(
            parts: &mut BTreeMap<PartitionKey, CacheDocument>,
            key_style: KeyStyle,
            entries: BTreeMap<String, T>,
            of: impl Fn(&T) -> PartitionKey,
            section: impl Fn(&mut CacheDocument) -> &mut BTreeMap<String, T>,
        ) {
            for (k, e) in entries {
                let doc = parts.entry(of(&e)).or_insert_with(|| CacheDocument {
                    key_style,
                    ..CacheDocument::default()
                });
                section(doc).insert(k, e);
            }
        }
        put(
            &mut parts,
            key_style,
            access_tokens,
            PartitionKey::of_access_token,
            |d| &mut d.access_tokens,
        );
        put(
            &mut parts,
            key_style,
            refresh_tokens,
            PartitionKey::of_refresh_token,
            |d| &mut d.refresh_tokens,
        );
        put(
            &mut parts,
            key_style,
            id_tokens,
            PartitionKey::of_id_token,
            |d| &mut d.id_tokens,
        );
        put(
            &mut parts,
            key_style,
            accounts,
            PartitionKey::of_account,
            |d| &mut d.accounts,
        );
        for doc in parts.values_mut() {
            doc.app_metadata.clone_from(&app_metadata);
        }
        parts
    }

    /// Adds `other`'s entries to this document. For a key present in both, the access token
    /// with the newer `cached_at` wins; otherwise this document's entry stays. Nothing is
    /// removed. Used to assemble partitions into a whole cache and to merge cache copies when
    /// no common base is known.
    ///
    /// ```
    /// use msal_lite::schema::{AccessToken, CacheDocument, CacheSecret, UnixTime};
    /// let at = |secret: &str, cached: i64| {
    ///     let mut at = AccessToken::new("e", "c", CacheSecret::new(secret), UnixTime::from_secs(9999));
    ///     at.cached_at = Some(UnixTime::from_secs(cached));
    ///     at
    /// };
    /// let mut mine = CacheDocument::new();
    /// mine.insert_access_token(at("old", 1));
    /// let mut theirs = CacheDocument::new();
    /// let key = theirs.insert_access_token(at("new", 2));
    /// mine.merge_newest(&theirs);
    /// assert_eq!(mine.access_tokens[&key].secret.secret(), "new");
    /// ```
    pub fn merge_newest(&mut self, other: &CacheDocument) {
        fn union<T: Entry>(ours: &mut BTreeMap<String, T>, theirs: &BTreeMap<String, T>) {
            for (k, t) in theirs {
                match ours.get(k) {
                    Some(o) if !newer(t, o) => {}
                    _ => {
                        ours.insert(k.clone(), t.clone());
                    }
                }
            }
        }
        union(&mut self.access_tokens, &other.access_tokens);
        union(&mut self.refresh_tokens, &other.refresh_tokens);
        union(&mut self.id_tokens, &other.id_tokens);
        union(&mut self.accounts, &other.accounts);
        union(&mut self.app_metadata, &other.app_metadata);
        for (k, v) in other.extra.iter() {
            self.extra.entry(k.clone()).or_insert_with(|| v.clone());
        }
        self.present |= other.present;
    }

    /// Three-way merge of two edits of the same cache: `ours` and `theirs` both started from
    /// `base`. Per entry key: a side that left the entry as in `base` takes the other side's
    /// version (including its removal); if both changed it, the access token with the newer
    /// `cached_at` wins, and on a tie or for other entries `ours` wins; an entry one side
    /// removed and the other side changed is kept (a token is never lost to a removal that
    /// did not see it).
    ///
    /// ```
    /// use msal_lite::schema::{Account, CacheDocument};
    /// let mut base = CacheDocument::new();
    /// base.insert_account(Account::new("gone.t", "e", "t"));
    /// let mut ours = base.clone();
    /// ours.accounts.clear();                                  // we removed an account
    /// let mut theirs = base.clone();
    /// theirs.insert_account(Account::new("new.t", "e", "t")); // they added one
    /// let merged = CacheDocument::merge_three_way(&base, &ours, &theirs);
    /// assert_eq!(merged.accounts.keys().collect::<Vec<_>>(), ["new.t-e-t"]);
    /// ```
    pub fn merge_three_way(
        base: &CacheDocument,
        ours: &CacheDocument,
        theirs: &CacheDocument,
    ) -> CacheDocument {
        let mut out = ours.clone();
        out.access_tokens = merge3(
            &base.access_tokens,
            &ours.access_tokens,
            &theirs.access_tokens,
        );
        out.refresh_tokens = merge3(
            &base.refresh_tokens,
            &ours.refresh_tokens,
            &theirs.refresh_tokens,
        );
        out.id_tokens = merge3(&base.id_tokens, &ours.id_tokens, &theirs.id_tokens);
        out.accounts = merge3(&base.accounts, &ours.accounts, &theirs.accounts);
        out.app_metadata = merge3(&base.app_metadata, &ours.app_metadata, &theirs.app_metadata);
        for (k, v) in theirs.extra.iter() {
            out.extra.entry(k.clone()).or_insert_with(|| v.clone());
        }
        out.present |= theirs.present;
        out
    }

    /// True when both documents hold the same entries under the same keys (all fields
    /// compared, secrets included).
    ///
    /// ```
    /// use msal_lite::schema::{Account, CacheDocument};
    /// let mut a = CacheDocument::new();
    /// a.insert_account(Account::new("u.t", "e", "t"));
    /// assert!(a.same_entries(&a.clone()));
    /// assert!(!a.same_entries(&CacheDocument::new()));
    /// ```
    pub fn same_entries(&self, other: &CacheDocument) -> bool {
        fn same_map<T: Entry>(a: &BTreeMap<String, T>, b: &BTreeMap<String, T>) -> bool {
            a.len() == b.len()
                && a.iter()
                    .zip(b.iter())
                    .all(|((ka, va), (kb, vb))| ka == kb && va.same(vb))
        }
        same_map(&self.access_tokens, &other.access_tokens)
            && same_map(&self.refresh_tokens, &other.refresh_tokens)
            && same_map(&self.id_tokens, &other.id_tokens)
            && same_map(&self.accounts, &other.accounts)
            && same_map(&self.app_metadata, &other.app_metadata)
    }
}

/// Serializes as the cache JSON (see the warning on [`CacheDocument::to_json`]).
///
/// ```
/// use msal_lite::schema::CacheDocument;
/// assert_eq!(serde_json::to_string(&CacheDocument::new())?, "{}");
/// # Ok::<(), serde_json::Error>(())
/// ```
impl serde::Serialize for CacheDocument {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_value().serialize(serializer)
    }
}

/// Deserializes from cache JSON with the rules of [`CacheDocument::from_value`].
///
/// ```
/// use msal_lite::schema::CacheDocument;
/// let doc: CacheDocument = serde_json::from_str(r#"{"AccessToken": {}}"#)?;
/// assert!(doc.is_empty());
/// # Ok::<(), serde_json::Error>(())
/// ```
impl<'de> serde::Deserialize<'de> for CacheDocument {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        Self::from_value(value).map_err(serde::de::Error::custom)
    }
}

/// What merging needs from an entry type.
trait Entry: Clone {
    /// When the entry was written, if the schema records it.
    fn stamp(&self) -> Option<UnixTime>;
    /// Field-for-field equality through the JSON form (secrets included).
    fn json(&self) -> Value;
    fn same(&self, other: &Self) -> bool {
        self.json() == other.json()
    }
}

impl Entry for AccessToken {
    fn stamp(&self) -> Option<UnixTime> {
        self.cached_at
    }
    fn json(&self) -> Value {
        self.to_value()
    }
    fn same(&self, other: &Self) -> bool {
        // Cheap rejections first: this runs per entry on every layered write.
        self.secret.same_as(&other.secret)
            && self.cached_at == other.cached_at
            && self.to_value() == other.to_value()
    }
}

impl Entry for RefreshToken {
    fn stamp(&self) -> Option<UnixTime> {
        None
    }
    fn json(&self) -> Value {
        self.to_value()
    }
    fn same(&self, other: &Self) -> bool {
        self.secret.same_as(&other.secret) && self.to_value() == other.to_value()
    }
}

impl Entry for IdToken {
    fn stamp(&self) -> Option<UnixTime> {
        None
    }
    fn json(&self) -> Value {
        self.to_value()
    }
}

impl Entry for Account {
    fn stamp(&self) -> Option<UnixTime> {
        None
    }
    fn json(&self) -> Value {
        self.to_value()
    }
}

impl Entry for AppMetadata {
    fn stamp(&self) -> Option<UnixTime> {
        None
    }
    fn json(&self) -> Value {
        self.to_value()
    }
}

/// `a` is strictly newer than `b` by `cached_at` (entries without one are never newer).
fn newer<T: Entry>(a: &T, b: &T) -> bool {
    matches!((a.stamp(), b.stamp()), (Some(x), Some(y)) if x > y)
        || matches!((a.stamp(), b.stamp()), (Some(_), None))
}

fn same_opt<T: Entry>(a: Option<&T>, b: Option<&T>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(x), Some(y)) => x.same(y),
        _ => false,
    }
}

fn merge3<T: Entry>(
    base: &BTreeMap<String, T>,
    ours: &BTreeMap<String, T>,
    theirs: &BTreeMap<String, T>,
) -> BTreeMap<String, T> {
    let keys: BTreeSet<&String> = ours.keys().chain(theirs.keys()).collect();
    let mut out = BTreeMap::new();
    for k in keys {
        let (b, o, t) = (base.get(k), ours.get(k), theirs.get(k));
        let pick = if same_opt(o, b) {
            t
        } else if same_opt(t, b) {
            o
        } else {
            match (o, t) {
                (Some(o), Some(t)) => Some(if newer(t, o) { t } else { o }),
                // Deliberately keep a changed entry over a concurrent removal.
                (Some(o), None) => Some(o),
                (None, t) => t,
            }
        };
        if let Some(e) = pick {
            out.insert(k.clone(), e.clone());
        }
    }
    out
}

/// Parses JSON text, naming the byte offset of a syntax error.
pub(super) fn parse_json(json: &[u8]) -> Result<Value, SchemaError> {
    serde_json::from_slice(json).map_err(|source| SchemaError::Syntax {
        offset: byte_offset(json, source.line(), source.column()),
        source,
    })
}

/// The byte offset of serde_json's 1-based `line` and `column` (a column counts bytes).
pub(super) fn byte_offset(json: &[u8], line: usize, column: usize) -> usize {
    let line_start = if line <= 1 {
        0
    } else {
        json.iter()
            .enumerate()
            .filter(|(_, b)| **b == b'\n')
            .nth(line - 2)
            .map_or(json.len(), |(i, _)| i + 1)
    };
    (line_start + column.saturating_sub(1)).min(json.len())
}
