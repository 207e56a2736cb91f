//! The value codec: the seam for encrypting partitions at rest.

use crate::schema::PartitionKey;

use super::PersistenceError;

/// Transforms a serialized partition before it leaves the process and after it comes back.
///
/// The default is [`IdentityCodec`] (the MSAL cache JSON as is). An encrypting codec (for
/// example AES-GCM with a key from a vault) implements both directions; the partition key is
/// passed so it can be bound to the ciphertext as associated data, which stops a stored value
/// from being replayed under another user's key.
///
/// ```
/// use msal_lite::persistence::{Codec, PersistenceError};
/// use msal_lite::schema::PartitionKey;
///
/// /// A toy codec that reverses the bytes (use real authenticated encryption).
/// struct Reverse;
/// impl Codec for Reverse {
///     fn encode(&self, _: &PartitionKey, mut bytes: Vec<u8>) -> Result<Vec<u8>, PersistenceError> {
///         bytes.reverse();
///         Ok(bytes)
///     }
///     fn decode(&self, _: &PartitionKey, mut bytes: Vec<u8>) -> Result<Vec<u8>, PersistenceError> {
///         bytes.reverse();
///         Ok(bytes)
///     }
/// }
/// let k = PartitionKey::user("u.t");
/// let stored = Reverse.encode(&k, b"{}".to_vec())?;
/// assert_eq!(Reverse.decode(&k, stored)?, b"{}");
/// # Ok::<(), PersistenceError>(())
/// ```
pub trait Codec: Send + Sync + 'static {
    /// Plain cache JSON to the stored form.
    fn encode(
        &self,
        partition: &PartitionKey,
        plaintext: Vec<u8>,
    ) -> Result<Vec<u8>, PersistenceError>;
    /// The stored form back to cache JSON. Return [`PersistenceError::Codec`] on failure.
    fn decode(
        &self,
        partition: &PartitionKey,
        stored: Vec<u8>,
    ) -> Result<Vec<u8>, PersistenceError>;
}

/// Stores the MSAL cache JSON unchanged (readable by MSAL apps sharing the store).
///
/// ```
/// use msal_lite::persistence::{Codec, IdentityCodec};
/// use msal_lite::schema::PartitionKey;
/// let k = PartitionKey::user("u.t");
/// assert_eq!(IdentityCodec.encode(&k, b"{}".to_vec())?, b"{}");
/// # Ok::<(), msal_lite::persistence::PersistenceError>(())
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct IdentityCodec;

impl Codec for IdentityCodec {
    fn encode(&self, _: &PartitionKey, plaintext: Vec<u8>) -> Result<Vec<u8>, PersistenceError> {
        Ok(plaintext)
    }
    fn decode(&self, _: &PartitionKey, stored: Vec<u8>) -> Result<Vec<u8>, PersistenceError> {
        Ok(stored)
    }
}
