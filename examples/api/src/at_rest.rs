//! Encryption at rest for what the examples keep in Redis: msal-lite token-cache partitions (both
//! apps) and the web app's session records.
//!
//! # Why here and not in msal-lite
//!
//! msal-lite already has the seam ([`msal_lite::persistence::Codec`]); what an application must
//! decide is where keys come from, how they are named and rotated, and which other values (the web
//! app's sessions) share them. That is deployment policy, so it lives with the examples: one module
//! in the `api` crate, which the web app already depends on, so both apps read the same
//! `DATA_KEYS` the same way and a value sealed by one instance opens on every other.
//!
//! # Keys: `DATA_KEYS`
//!
//! `DATA_KEYS="k2:<base64url 32 bytes>,k1:<base64url 32 bytes>"`: a comma-separated list of
//! `id:key`. The **first** key seals new values; the others only open values sealed earlier (key
//! rotation). Ids are 1–32 characters of `A–Z a–z 0–9 . _ -`; keys are 32 random bytes in base64url
//! (padding optional), e.g. from `openssl rand -base64 32 | tr '+/' '-_'`.
//!
//! # Format of a sealed value
//!
//! `0x01 | len(id) | id | nonce (12 random bytes) | AES-256-GCM(ciphertext ‖ tag)`. The associated
//! data binds the value to its purpose and to the Redis key it is stored under (the partition's
//! storage name, the session id), so a value copied to another user's key does not open.
//!
//! Opening never panics: an unknown key id, a truncated or tampered value is an [`OpenError`], which
//! the stores trace and treat as "nothing stored".
//!
//! ```
//! use api::at_rest::DataKeys;
//!
//! let keys = DataKeys::parse("k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8")?;
//! let sealed = keys.seal(b"session", b"id-1", b"{\"user\":\"alice\"}")?;
//! assert_eq!(keys.open(b"session", b"id-1", &sealed).unwrap(), b"{\"user\":\"alice\"}");
//! // Bound to its key: the same bytes under another id do not open.
//! assert!(keys.open(b"session", b"id-2", &sealed).is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::sync::Arc;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use msal_lite::persistence::{Codec, PersistenceError};
use msal_lite::schema::PartitionKey;

/// The format version byte at the start of every sealed value.
const VERSION: u8 = 1;
/// Prefix of the associated data: this format, this application.
const AAD_PREFIX: &[u8] = b"edit-profile/at-rest/v1\0";
/// Longest key id.
const MAX_ID_LEN: usize = 32;

/// `DATA_KEYS` could not be used (the message never contains key material).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeysError {
    /// No key at all.
    #[error("no key given")]
    Empty,
    /// An entry is not `id:key`, or its id has other characters than `A-Z a-z 0-9 . _ -`.
    #[error("each entry must be id:base64url-key with a 1-32 character id of A-Z a-z 0-9 . _ -")]
    Entry,
    /// A key is not 32 bytes of base64url.
    #[error("each key must be 32 bytes, base64url encoded")]
    Key,
    /// Two entries have the same id.
    #[error("key ids must be unique")]
    DuplicateId,
}

/// Sealing failed (the system random number generator or the cipher refused).
///
/// ```
/// let e = api::at_rest::SealError;
/// assert_eq!(e.to_string(), "could not encrypt the value");
/// ```
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("could not encrypt the value")]
pub struct SealError;

/// Why a stored value did not open. Each is treated as "nothing stored" by the stores.
///
/// ```
/// use api::at_rest::{DataKeys, OpenError};
/// let keys = DataKeys::generate("k1");
/// assert!(matches!(keys.open(b"p", b"c", b"\x01"), Err(OpenError::Malformed)));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// Too short, or an unknown format version.
    #[error("stored value is not in the sealed format")]
    Malformed,
    /// Sealed with a key id that `DATA_KEYS` no longer (or never) had.
    #[error("stored value was sealed with unknown key id {0:?}")]
    UnknownKey(String),
    /// The tag did not verify: tampered, copied under another key, or a wrong key with a reused id.
    #[error("stored value failed authentication")]
    Tampered,
}

struct DataKey {
    id: String,
    key: LessSafeKey,
}

/// The key ring from `DATA_KEYS`: the first key seals, every key opens. Cheap to clone.
///
/// `Debug` shows the ids only.
///
/// ```
/// use api::at_rest::DataKeys;
/// let keys = DataKeys::parse(
///     "k2:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8, k1:HxweHRwbGhkYFxYVFBMSERAPDg0MCwoJCAcGBQQDAgE",
/// )?;
/// assert_eq!(keys.current_id(), "k2");
/// assert_eq!(format!("{keys:?}"), r#"DataKeys { ids: ["k2", "k1"], keys: "[redacted]" }"#);
/// # Ok::<(), api::at_rest::KeysError>(())
/// ```
#[derive(Clone)]
pub struct DataKeys {
    keys: Arc<[DataKey]>,
    rng: SystemRandom,
}

impl std::fmt::Debug for DataKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataKeys")
            .field(
                "ids",
                &self.keys.iter().map(|k| k.id.as_str()).collect::<Vec<_>>(),
            )
            .field("keys", &"[redacted]")
            .finish()
    }
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

fn aes_key(bytes: &[u8; 32]) -> LessSafeKey {
    // Invariant: AES-256-GCM takes exactly 32 bytes, which the type guarantees.
    LessSafeKey::new(UnboundKey::new(&AES_256_GCM, bytes).expect("a 32-byte AES-256 key"))
}

impl DataKeys {
    /// Parses the `DATA_KEYS` format (see the module docs).
    ///
    /// ```
    /// use api::at_rest::{DataKeys, KeysError};
    /// assert_eq!(DataKeys::parse("").unwrap_err(), KeysError::Empty);
    /// assert_eq!(DataKeys::parse("k1:c2hvcnQ").unwrap_err(), KeysError::Key);
    /// assert_eq!(DataKeys::parse("no-colon").unwrap_err(), KeysError::Entry);
    /// ```
    pub fn parse(text: &str) -> Result<Self, KeysError> {
        let mut keys: Vec<DataKey> = Vec::new();
        for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (id, key) = entry.split_once(':').ok_or(KeysError::Entry)?;
            let id = id.trim();
            if !valid_id(id) {
                return Err(KeysError::Entry);
            }
            if keys.iter().any(|k| k.id == id) {
                return Err(KeysError::DuplicateId);
            }
            let bytes = URL_SAFE_NO_PAD
                .decode(key.trim().trim_end_matches('='))
                .map_err(|_| KeysError::Key)?;
            let bytes: [u8; 32] = bytes.try_into().map_err(|_| KeysError::Key)?;
            keys.push(DataKey {
                id: id.to_owned(),
                key: aes_key(&bytes),
            });
        }
        if keys.is_empty() {
            return Err(KeysError::Empty);
        }
        Ok(Self {
            keys: keys.into(),
            rng: SystemRandom::new(),
        })
    }

    /// A ring with one random key (tests and tools; a deployment configures `DATA_KEYS`).
    ///
    /// # Panics
    ///
    /// When `id` is not a valid key id, or the system random number generator fails.
    ///
    /// ```
    /// assert_eq!(api::at_rest::DataKeys::generate("k9").current_id(), "k9");
    /// ```
    pub fn generate(id: &str) -> Self {
        assert!(valid_id(id), "invalid key id");
        let mut bytes = [0u8; 32];
        SystemRandom::new()
            .fill(&mut bytes)
            .expect("system random number generator");
        Self {
            keys: vec![DataKey {
                id: id.to_owned(),
                key: aes_key(&bytes),
            }]
            .into(),
            rng: SystemRandom::new(),
        }
    }

    /// A new random key in `DATA_KEYS` format, `id:base64url` (what `openssl rand` would give).
    ///
    /// ```
    /// let entry = api::at_rest::DataKeys::new_entry("k3");
    /// assert!(entry.starts_with("k3:") && entry.len() == 3 + 43);
    /// assert!(api::at_rest::DataKeys::parse(&entry).is_ok());
    /// ```
    pub fn new_entry(id: &str) -> String {
        let mut bytes = [0u8; 32];
        SystemRandom::new()
            .fill(&mut bytes)
            .expect("system random number generator");
        format!("{id}:{}", URL_SAFE_NO_PAD.encode(bytes))
    }

    /// The id of the key that seals new values.
    ///
    /// ```
    /// assert_eq!(api::at_rest::DataKeys::generate("k1").current_id(), "k1");
    /// ```
    pub fn current_id(&self) -> &str {
        &self.keys[0].id
    }

    fn aad(purpose: &[u8], context: &[u8]) -> Vec<u8> {
        let mut aad = Vec::with_capacity(AAD_PREFIX.len() + purpose.len() + 1 + context.len());
        aad.extend_from_slice(AAD_PREFIX);
        aad.extend_from_slice(purpose);
        aad.push(0);
        aad.extend_from_slice(context);
        aad
    }

    /// Seals `plaintext` with the current key, bound to `purpose` and `context` (the storage key).
    ///
    /// ```
    /// let keys = api::at_rest::DataKeys::generate("k1");
    /// let a = keys.seal(b"p", b"c", b"secret")?;
    /// let b = keys.seal(b"p", b"c", b"secret")?;
    /// assert_ne!(a, b, "a fresh nonce each time");
    /// # Ok::<(), api::at_rest::SealError>(())
    /// ```
    pub fn seal(
        &self,
        purpose: &[u8],
        context: &[u8],
        plaintext: &[u8],
    ) -> Result<Vec<u8>, SealError> {
        let current = &self.keys[0];
        let mut nonce = [0u8; NONCE_LEN];
        self.rng.fill(&mut nonce).map_err(|_| SealError)?;
        let mut data = plaintext.to_vec();
        current
            .key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(Self::aad(purpose, context)),
                &mut data,
            )
            .map_err(|_| SealError)?;
        let id = current.id.as_bytes();
        let mut out = Vec::with_capacity(2 + id.len() + NONCE_LEN + data.len());
        out.push(VERSION);
        // Invariant: ids are at most 32 bytes (checked when parsed).
        out.push(u8::try_from(id.len()).map_err(|_| SealError)?);
        out.extend_from_slice(id);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&data);
        Ok(out)
    }

    /// Opens a value sealed by [`seal`](Self::seal) with any key of the ring.
    ///
    /// ```
    /// use api::at_rest::{DataKeys, OpenError};
    /// let old = DataKeys::parse("k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8")?;
    /// let sealed = old.seal(b"p", b"c", b"v").unwrap();
    /// // Rotation: k2 seals from now on, k1 still opens what it sealed.
    /// let rotated = DataKeys::parse(&format!("{},k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8", DataKeys::new_entry("k2")))?;
    /// assert_eq!(rotated.open(b"p", b"c", &sealed).unwrap(), b"v");
    /// // After k1 is retired, its values read as unknown.
    /// let retired = DataKeys::generate("k2");
    /// assert_eq!(retired.open(b"p", b"c", &sealed), Err(OpenError::UnknownKey("k1".into())));
    /// # Ok::<(), api::at_rest::KeysError>(())
    /// ```
    pub fn open(
        &self,
        purpose: &[u8],
        context: &[u8],
        stored: &[u8],
    ) -> Result<Vec<u8>, OpenError> {
        let (&version, rest) = stored.split_first().ok_or(OpenError::Malformed)?;
        if version != VERSION {
            return Err(OpenError::Malformed);
        }
        let (&id_len, rest) = rest.split_first().ok_or(OpenError::Malformed)?;
        let id_len = usize::from(id_len);
        if rest.len() < id_len + NONCE_LEN + AES_256_GCM.tag_len() {
            return Err(OpenError::Malformed);
        }
        let (id, rest) = rest.split_at(id_len);
        let (nonce, sealed) = rest.split_at(NONCE_LEN);
        let Some(key) = self.keys.iter().find(|k| k.id.as_bytes() == id) else {
            let shown = std::str::from_utf8(id)
                .ok()
                .filter(|s| valid_id(s))
                .unwrap_or("<invalid>");
            return Err(OpenError::UnknownKey(shown.to_owned()));
        };
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| OpenError::Malformed)?;
        let mut data = sealed.to_vec();
        let plain = key
            .key
            .open_in_place(nonce, Aad::from(Self::aad(purpose, context)), &mut data)
            .map_err(|_| OpenError::Tampered)?;
        Ok(plain.to_vec())
    }
}

/// msal-lite's [`Codec`] over a [`DataKeys`] ring: each token-cache partition is sealed and bound
/// to its partition's storage name (`user/<home account id>`, `obo/<assertion hash>`).
///
/// ```
/// use msal_lite::persistence::Codec;
/// use msal_lite::schema::PartitionKey;
/// use api::at_rest::{CacheCodec, DataKeys};
///
/// let codec = CacheCodec::new(DataKeys::generate("k1"));
/// let alice = PartitionKey::user("alice.tid");
/// let stored = codec.encode(&alice, br#"{"AccessToken":{}}"#.to_vec())?;
/// assert_eq!(codec.decode(&alice, stored.clone())?, br#"{"AccessToken":{}}"#);
/// assert!(codec.decode(&PartitionKey::user("bob.tid"), stored).is_err());
/// # Ok::<(), msal_lite::persistence::PersistenceError>(())
/// ```
#[derive(Debug, Clone)]
pub struct CacheCodec {
    keys: DataKeys,
}

impl CacheCodec {
    /// A codec sealing with `keys`' current key.
    ///
    /// ```
    /// let codec = api::at_rest::CacheCodec::new(api::at_rest::DataKeys::generate("k1"));
    /// # let _ = codec;
    /// ```
    pub fn new(keys: DataKeys) -> Self {
        Self { keys }
    }
}

/// The purpose string of token-cache values.
const CACHE_PURPOSE: &[u8] = b"msal-cache";

impl Codec for CacheCodec {
    fn encode(
        &self,
        partition: &PartitionKey,
        plaintext: Vec<u8>,
    ) -> Result<Vec<u8>, PersistenceError> {
        self.keys
            .seal(
                CACHE_PURPOSE,
                partition.storage_name().as_bytes(),
                &plaintext,
            )
            .map_err(|e| PersistenceError::Codec(Box::new(e)))
    }

    fn decode(
        &self,
        partition: &PartitionKey,
        stored: Vec<u8>,
    ) -> Result<Vec<u8>, PersistenceError> {
        self.keys
            .open(CACHE_PURPOSE, partition.storage_name().as_bytes(), &stored)
            .map_err(|e| {
                tracing::warn!(partition = partition.kind(), error = %e, "token cache value did not decrypt; treated as missing");
                PersistenceError::Codec(Box::new(e))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const K1: &str = "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";

    #[test]
    fn debug_is_redacted() {
        let keys = DataKeys::parse(K1).unwrap();
        let debug = format!("{keys:?}");
        assert!(
            debug.contains("[redacted]") && !debug.contains("AAEC"),
            "{debug}"
        );
    }

    #[test]
    fn config_errors() {
        for (text, err) in [
            ("", KeysError::Empty),
            (" , ", KeysError::Empty),
            ("k1", KeysError::Entry),
            (
                ":AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
                KeysError::Entry,
            ),
            (
                "k 1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
                KeysError::Entry,
            ),
            ("k1:not base64!", KeysError::Key),
            (
                "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd",
                KeysError::Key,
            ),
            (&format!("{K1},{K1}"), KeysError::DuplicateId),
        ] {
            assert_eq!(DataKeys::parse(text).unwrap_err(), err, "{text}");
        }
        // Padding and whitespace are accepted.
        assert!(DataKeys::parse(&format!(" {K1}= ")).is_ok());
    }

    #[test]
    fn every_flipped_bit_and_every_truncation_is_refused_without_panic() {
        let keys = DataKeys::parse(K1).unwrap();
        let sealed = keys.seal(b"p", b"c", b"the access token").unwrap();
        for i in 0..sealed.len() {
            let mut bad = sealed.clone();
            bad[i] ^= 0x01;
            assert!(keys.open(b"p", b"c", &bad).is_err(), "bit flip at {i}");
            assert!(keys.open(b"p", b"c", &sealed[..i]).is_err(), "cut at {i}");
        }
        assert!(keys.open(b"q", b"c", &sealed).is_err(), "purpose is bound");
        // Arbitrary bytes never panic.
        for len in 0..64u8 {
            let junk: Vec<u8> = (0..len).map(|b| b.wrapping_mul(37)).collect();
            let _ = keys.open(b"p", b"c", &junk);
        }
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_stored_bytes_never_panic_and_never_open(stored in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            let keys = DataKeys::parse(K1).unwrap();
            proptest::prop_assert!(keys.open(b"p", b"c", &stored).is_err());
        }

        #[test]
        fn seal_then_open_round_trips(plain in proptest::collection::vec(proptest::num::u8::ANY, 0..500), context in "[a-z0-9/._-]{0,40}") {
            let keys = DataKeys::parse(K1).unwrap();
            let sealed = keys.seal(b"p", context.as_bytes(), &plain).unwrap();
            proptest::prop_assert_eq!(keys.open(b"p", context.as_bytes(), &sealed).unwrap(), plain);
        }
    }

    #[test]
    fn the_plaintext_does_not_appear_in_the_sealed_value() {
        let keys = DataKeys::generate("k1");
        let sealed = keys.seal(b"p", b"c", b"eyJhbGciOi-secret").unwrap();
        assert!(!sealed.windows(6).any(|w| w == b"eyJhbG"));
        assert_eq!(sealed[0], VERSION);
        assert_eq!(&sealed[2..4], b"k1");
    }
}
