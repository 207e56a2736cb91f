//! Importing a whole MSAL cache document into a [`CacheStore`], partition by partition.

use std::collections::BTreeMap;

use super::{CacheStore, PersistenceError, update};
use crate::schema::{CacheDocument, PartitionKey, SchemaError};

/// What an import read: partitions, entries kept, and the keys of entries skipped as
/// malformed (each also traced as a warning).
///
/// ```
/// let report = msal_lite::persistence::CacheImport::default();
/// assert_eq!(report.entries, 0);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CacheImport {
    /// Partitions (users, OBO assertions, apps) the document held.
    pub partitions: usize,
    /// Entries imported (all sections; app metadata counted once).
    pub entries: usize,
    /// Cache keys of the entries that did not parse and were skipped.
    pub skipped: Vec<String>,
}

/// Why an import failed.
///
/// ```
/// use msal_lite::persistence::ImportError;
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let store = msal_lite::persistence::MemoryStore::new();
/// let err = msal_lite::persistence::import_document(&store, b"{\"Account\": ").await.unwrap_err();
/// assert!(matches!(err, ImportError::Document(_)));
/// # });
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    /// The document cannot be read at all (not JSON: the error names the byte offset; or the
    /// root or a section is not an object). Nothing was imported.
    #[error("the cache document cannot be imported")]
    Document(#[source] SchemaError),
    /// The store failed while saving a partition; partitions saved before it stay saved.
    #[error("the cache store failed during the import")]
    Store(#[source] PersistenceError),
}

/// Parses `json` (an MSAL cache: MSAL Python `SerializableTokenCache.serialize()`, MSAL Node
/// `getTokenCache().serialize()`, MSAL.NET `SerializeMsalV3()`) and groups its entries by
/// partition in one pass. Malformed entries are skipped (see
/// [`CacheDocument::from_slice_lenient`]).
pub(crate) fn read_partitions(
    json: &[u8],
) -> Result<(BTreeMap<PartitionKey, CacheDocument>, CacheImport), SchemaError> {
    let (doc, skipped) = CacheDocument::from_slice_lenient(json)?;
    let entries = doc.len();
    let parts = doc.into_partitions();
    let report = CacheImport {
        partitions: parts.len(),
        entries,
        skipped,
    };
    Ok((parts, report))
}

/// Imports a whole MSAL cache document into `store`: every partition is merged into what the
/// store holds (the access token with the newer `cached_at` wins a key held by both; nothing
/// stored is removed), with [`update`]'s conflict handling. O(entries) overall.
///
/// ```
/// use msal_lite::persistence::{import_document, CacheStore, MemoryStore};
/// use msal_lite::schema::PartitionKey;
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let store = MemoryStore::new();
/// let json = br#"{"Account": {"u.t-login.windows.net-t": {"home_account_id": "u.t",
///     "environment": "login.windows.net", "realm": "t", "authority_type": "MSSTS"}}}"#;
/// let report = import_document(&store, json).await?;
/// assert_eq!(report.partitions, 1);
/// assert!(store.load(&PartitionKey::user("u.t")).await?.is_some());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
pub async fn import_document(
    store: &dyn CacheStore,
    json: &[u8],
) -> Result<CacheImport, ImportError> {
    let (parts, report) = read_partitions(json).map_err(ImportError::Document)?;
    save_partitions(store, parts.iter()).await?;
    Ok(report)
}

/// Merges each partition into the store.
pub(crate) async fn save_partitions<'a>(
    store: &dyn CacheStore,
    parts: impl Iterator<Item = (&'a PartitionKey, &'a CacheDocument)>,
) -> Result<(), ImportError> {
    for (key, part) in parts {
        update(store, key, |doc| doc.merge_newest(part))
            .await
            .map_err(ImportError::Store)?;
    }
    Ok(())
}
