//! Token cache persistence: MSAL's cache-plugin model, one partition at a time.
//!
//! # Contents
//!
//! - [`CacheStore`]: load / save / remove one [`PartitionKey`]'s entries, with optimistic
//!   versioning ([`SaveOutcome::Conflict`]).
//! - [`update`]: the read-modify-write loop that makes concurrent writers safe.
//! - [`MemoryStore`] (the default), `RedisStore` (feature `redis`), and [`Layered`] (memory L1 in
//!   front of a distributed L2 that may fail).
//! - [`Codec`]: the seam for encrypting values at rest ([`IdentityCodec`] by default).
//!
//! # The model
//!
//! Like MSAL's "before access / after access" cache callbacks and Microsoft.Identity.Web's
//! distributed token cache, the unit of I/O is a partition: all entries of one user, one OBO
//! assertion or one app+tenant (see [`PartitionKey`]). A partition is stored as one value, in
//! MSAL's own JSON, so it is small however many users the cache holds.
//!
//! # Concurrency: optimistic versioning with retry-and-reapply
//!
//! Every stored partition has a version that changes on every write. [`CacheStore::save`] with
//! `Some(expected)` writes only if the stored version is still `expected` (`0` = "absent");
//! otherwise it returns [`SaveOutcome::Conflict`] with the current partition. [`update`] then
//! re-applies the caller's change to that current partition and tries again. Because the
//! *change* is re-applied (not a stale snapshot written back), two writers never lose each
//! other's tokens and a removal is not undone. Merging by newest `cached_at` alone could not
//! tell a removed entry from one the other writer never saw, which is why versioning was
//! chosen. [`Layered`] uses the same versioning against its L2 and resolves conflicts with a
//! three-way merge ([`CacheDocument::merge_three_way`]).
//!
//! # Why boxed futures
//!
//! The trait's methods return [`BoxFuture`] so the trait is dyn-compatible: a client can hold
//! `Arc<dyn CacheStore>` without a type parameter. The allocation is irrelevant next to the
//! I/O, and persistence is never on the cache-hit path (hits are served from memory).
//!
//! ```
//! use std::sync::Arc;
//! use msal_lite::persistence::{update, CacheStore, MemoryStore};
//! use msal_lite::schema::{Account, PartitionKey};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let store: Arc<dyn CacheStore> = Arc::new(MemoryStore::new());
//! let key = PartitionKey::user("uid.utid");
//! update(&*store, &key, |doc| {
//!     doc.insert_account(Account::new("uid.utid", "login.microsoftonline.com", "utid"));
//! })
//! .await?;
//! let loaded = store.load(&key).await?.expect("saved");
//! assert_eq!(loaded.document().accounts.len(), 1);
//! # Ok::<(), msal_lite::persistence::PersistenceError>(())
//! # }).unwrap();
//! ```
//!
//! [`PartitionKey`]: crate::schema::PartitionKey
//! [`CacheDocument::merge_three_way`]: crate::schema::CacheDocument::merge_three_way

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use crate::schema::{CacheDocument, PartitionKey};

mod codec;
mod error;
mod import;
mod layered;
mod lease;
mod memory;
#[cfg(feature = "redis")]
mod redis;

pub use codec::{Codec, IdentityCodec};
pub use error::PersistenceError;
pub use import::{CacheImport, ImportError, import_document};
pub(crate) use import::{read_partitions, save_partitions};
pub use layered::{DEFAULT_L2_TIMEOUT, FlushTask, Layered};
pub use lease::{Lease, LeaseOutcome};
pub use memory::MemoryStore;
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use redis::{
    DEFAULT_OPERATION_TIMEOUT, DEFAULT_REFRESH_TOKEN_TTL, DEFAULT_RETRY_BACKOFF, RedisStore,
};

/// A `Send` boxed future, the return type of [`CacheStore`]'s methods.
///
/// ```
/// use msal_lite::persistence::BoxFuture;
/// let fut: BoxFuture<'static, u8> = Box::pin(async { 1 });
/// # let _ = fut;
/// ```
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// How many times [`update`] re-applies a change after a conflict before giving up.
///
/// ```
/// assert_eq!(msal_lite::persistence::MAX_UPDATE_ATTEMPTS, 16);
/// ```
pub const MAX_UPDATE_ATTEMPTS: u32 = 16;

/// One stored partition: its entries and the version they were stored under.
///
/// Cloning is cheap (the document is shared); change it with [`Partition::document_mut`],
/// which copies on write.
///
/// ```
/// use std::sync::Arc;
/// use msal_lite::persistence::Partition;
/// use msal_lite::schema::CacheDocument;
///
/// let p = Partition::new(3, Arc::new(CacheDocument::new()));
/// assert_eq!(p.version(), 3);
/// assert!(p.document().is_empty());
/// ```
#[derive(Debug, Clone)]
pub struct Partition {
    version: u64,
    document: Arc<CacheDocument>,
}

impl Partition {
    /// A partition at `version`.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use msal_lite::persistence::Partition;
    /// # use msal_lite::schema::CacheDocument;
    /// let p = Partition::new(1, Arc::new(CacheDocument::new()));
    /// # let _ = p;
    /// ```
    pub fn new(version: u64, document: Arc<CacheDocument>) -> Self {
        Self { version, document }
    }

    /// The version to pass as `expected_version` when saving a change of this partition.
    /// Versions are never reused by a store, so a stale version cannot match by accident.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use msal_lite::persistence::Partition;
    /// # use msal_lite::schema::CacheDocument;
    /// assert_eq!(Partition::new(9, Arc::new(CacheDocument::new())).version(), 9);
    /// ```
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The entries.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use msal_lite::persistence::Partition;
    /// # use msal_lite::schema::CacheDocument;
    /// assert!(Partition::new(1, Arc::new(CacheDocument::new())).document().is_empty());
    /// ```
    pub fn document(&self) -> &CacheDocument {
        &self.document
    }

    /// The shared entries (cheap to pass to [`CacheStore::save`]).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use msal_lite::persistence::Partition;
    /// # use msal_lite::schema::CacheDocument;
    /// let p = Partition::new(1, Arc::new(CacheDocument::new()));
    /// let shared: Arc<CacheDocument> = p.shared_document();
    /// # let _ = shared;
    /// ```
    pub fn shared_document(&self) -> Arc<CacheDocument> {
        Arc::clone(&self.document)
    }

    /// The entries, for changing (copied first if shared).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use msal_lite::persistence::Partition;
    /// # use msal_lite::schema::{Account, CacheDocument};
    /// let mut p = Partition::new(1, Arc::new(CacheDocument::new()));
    /// p.document_mut().insert_account(Account::new("u.t", "e", "t"));
    /// assert_eq!(p.document().len(), 1);
    /// ```
    pub fn document_mut(&mut self) -> &mut CacheDocument {
        Arc::make_mut(&mut self.document)
    }
}

/// The result of [`CacheStore::save`].
///
/// ```
/// use msal_lite::persistence::SaveOutcome;
/// let o = SaveOutcome::Saved { version: 2 };
/// assert!(o.is_saved());
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum SaveOutcome {
    /// Written; the partition is now at `version`.
    Saved {
        /// The new version.
        version: u64,
    },
    /// Not written: the stored version was not the expected one.
    Conflict {
        /// What is stored now (`None`: nothing).
        current: Option<Partition>,
    },
}

impl SaveOutcome {
    /// True for [`SaveOutcome::Saved`].
    ///
    /// ```
    /// use msal_lite::persistence::SaveOutcome;
    /// assert!(!SaveOutcome::Conflict { current: None }.is_saved());
    /// ```
    pub fn is_saved(&self) -> bool {
        matches!(self, Self::Saved { .. })
    }
}

/// Persistence of token-cache partitions (MSAL's cache plugin, per partition).
///
/// A client loads a partition before it needs entries that are not in memory and saves it
/// after a change. Implementations must be safe to share between tasks and machines:
///
/// - `load` returns the stored entries and their version, or `None`.
/// - `save` with `expected_version: Some(v)` writes only if the stored version is `v`
///   (`Some(0)`: only if nothing is stored) and otherwise returns
///   [`SaveOutcome::Conflict`] with the current partition; `None` overwrites unconditionally
///   (last writer wins: only for tools and tests). Every successful save yields a version
///   the store never used before.
/// - `remove` deletes the partition (a no-op if absent).
///
/// ```
/// use std::sync::Arc;
/// use msal_lite::persistence::{CacheStore, MemoryStore, SaveOutcome};
/// use msal_lite::schema::{CacheDocument, PartitionKey};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let store = MemoryStore::new();
/// let key = PartitionKey::app("cid", "tid");
/// let doc = Arc::new(CacheDocument::new());
/// let SaveOutcome::Saved { version } = store.save(&key, doc.clone(), Some(0)).await? else { panic!() };
/// // A second writer that also believed the partition absent is told about the first.
/// assert!(matches!(store.save(&key, doc, Some(0)).await?, SaveOutcome::Conflict { current: Some(p) } if p.version() == version));
/// store.remove(&key).await?;
/// assert!(store.load(&key).await?.is_none());
/// # Ok::<(), msal_lite::persistence::PersistenceError>(())
/// # }).unwrap();
/// ```
pub trait CacheStore: Send + Sync + 'static {
    /// Loads one partition.
    ///
    /// ```
    /// use msal_lite::persistence::{CacheStore, MemoryStore};
    /// use msal_lite::schema::PartitionKey;
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// assert!(MemoryStore::new().load(&PartitionKey::user("u.t")).await?.is_none());
    /// # Ok::<(), msal_lite::persistence::PersistenceError>(())
    /// # }).unwrap();
    /// ```
    fn load<'a>(
        &'a self,
        partition: &'a PartitionKey,
    ) -> BoxFuture<'a, Result<Option<Partition>, PersistenceError>>;

    /// Saves one partition if it is still at `expected_version` (see the trait docs).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use msal_lite::persistence::{CacheStore, MemoryStore};
    /// use msal_lite::schema::{CacheDocument, PartitionKey};
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let outcome = MemoryStore::new()
    ///     .save(&PartitionKey::user("u.t"), Arc::new(CacheDocument::new()), Some(0))
    ///     .await?;
    /// assert!(outcome.is_saved());
    /// # Ok::<(), msal_lite::persistence::PersistenceError>(())
    /// # }).unwrap();
    /// ```
    fn save<'a>(
        &'a self,
        partition: &'a PartitionKey,
        document: Arc<CacheDocument>,
        expected_version: Option<u64>,
    ) -> BoxFuture<'a, Result<SaveOutcome, PersistenceError>>;

    /// Removes one partition.
    ///
    /// ```
    /// use msal_lite::persistence::{CacheStore, MemoryStore};
    /// use msal_lite::schema::PartitionKey;
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// MemoryStore::new().remove(&PartitionKey::user("u.t")).await?;
    /// # Ok::<(), msal_lite::persistence::PersistenceError>(())
    /// # }).unwrap();
    /// ```
    fn remove<'a>(
        &'a self,
        partition: &'a PartitionKey,
    ) -> BoxFuture<'a, Result<(), PersistenceError>>;

    /// Loads one partition as the shared store holds it now, for a caller whose memory copy
    /// may be stale (another instance may have refreshed since). A store with a local layer
    /// (such as [`Layered`]) reads past it; the default is [`load`](Self::load), right for
    /// stores that have no local copy.
    ///
    /// msal-lite calls this once (single-flight) before going to the token endpoint for a
    /// user whose partition it already holds in memory.
    ///
    /// ```
    /// use msal_lite::persistence::{CacheStore, MemoryStore};
    /// use msal_lite::schema::PartitionKey;
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// assert!(MemoryStore::new().reload(&PartitionKey::user("u.t")).await?.is_none());
    /// # Ok::<(), msal_lite::persistence::PersistenceError>(())
    /// # }).unwrap();
    /// ```
    fn reload<'a>(
        &'a self,
        partition: &'a PartitionKey,
    ) -> BoxFuture<'a, Result<Option<Partition>, PersistenceError>> {
        self.load(partition)
    }

    /// Tries to take the lease of one network acquisition (`flight`: which token of
    /// `partition`) for `ttl`, so that a fleet sharing this store sends one token request
    /// instead of one per instance. Returns the partition as stored too (read atomically with
    /// the lease where the store can), which is what waiters poll.
    ///
    /// The default is [`LeaseOutcome::Unsupported`]: each instance keeps its own single
    /// flight, right for stores that are not shared ([`MemoryStore`]). `RedisStore` takes
    /// `SET NX PX` leases; [`Layered`] asks its L2.
    ///
    /// ```
    /// use std::time::Duration;
    /// use msal_lite::persistence::{CacheStore, LeaseOutcome, MemoryStore};
    /// use msal_lite::schema::PartitionKey;
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let outcome = MemoryStore::new()
    ///     .acquisition_lease(&PartitionKey::app("cid", "tid"), "scopes", Duration::from_secs(30))
    ///     .await?;
    /// assert!(matches!(outcome, LeaseOutcome::Unsupported));
    /// # Ok::<(), msal_lite::persistence::PersistenceError>(())
    /// # }).unwrap();
    /// ```
    fn acquisition_lease<'a>(
        &'a self,
        partition: &'a PartitionKey,
        flight: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<LeaseOutcome, PersistenceError>> {
        let _ = (partition, flight, ttl);
        Box::pin(async { Ok(LeaseOutcome::Unsupported) })
    }

    /// The keys of every partition the store holds (in no particular order), so that
    /// [`ConfidentialClient::all_accounts`](crate::ConfidentialClient::all_accounts) and
    /// [`export_msal_cache`](crate::ConfidentialClient::export_msal_cache) see partitions this
    /// process never loaded. The default is [`PersistenceError::Unsupported`]: a store that
    /// cannot enumerate (a plain key-value service) still works for everything else.
    /// [`MemoryStore`], [`Layered`] (its shared layer) and `RedisStore` (`SCAN` over its key
    /// prefix, never `KEYS`) implement it.
    ///
    /// ```
    /// use msal_lite::persistence::{CacheStore, MemoryStore};
    /// use msal_lite::schema::{CacheDocument, PartitionKey};
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let store = MemoryStore::new();
    /// store.save(&PartitionKey::user("u.t"), std::sync::Arc::new(CacheDocument::new()), Some(0)).await?;
    /// assert_eq!(store.list().await?, [PartitionKey::user("u.t")]);
    /// # Ok::<(), msal_lite::persistence::PersistenceError>(())
    /// # }).unwrap();
    /// ```
    fn list(&self) -> BoxFuture<'_, Result<Vec<PartitionKey>, PersistenceError>> {
        Box::pin(std::future::ready(Err(PersistenceError::Unsupported {
            operation: "list",
        })))
    }
}

impl<S: CacheStore + ?Sized> CacheStore for Arc<S> {
    fn load<'a>(
        &'a self,
        partition: &'a PartitionKey,
    ) -> BoxFuture<'a, Result<Option<Partition>, PersistenceError>> {
        (**self).load(partition)
    }

    fn reload<'a>(
        &'a self,
        partition: &'a PartitionKey,
    ) -> BoxFuture<'a, Result<Option<Partition>, PersistenceError>> {
        (**self).reload(partition)
    }

    fn acquisition_lease<'a>(
        &'a self,
        partition: &'a PartitionKey,
        flight: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<LeaseOutcome, PersistenceError>> {
        (**self).acquisition_lease(partition, flight, ttl)
    }

    fn list(&self) -> BoxFuture<'_, Result<Vec<PartitionKey>, PersistenceError>> {
        (**self).list()
    }

    fn save<'a>(
        &'a self,
        partition: &'a PartitionKey,
        document: Arc<CacheDocument>,
        expected_version: Option<u64>,
    ) -> BoxFuture<'a, Result<SaveOutcome, PersistenceError>> {
        (**self).save(partition, document, expected_version)
    }

    fn remove<'a>(
        &'a self,
        partition: &'a PartitionKey,
    ) -> BoxFuture<'a, Result<(), PersistenceError>> {
        (**self).remove(partition)
    }
}

/// Applies a change to a stored partition without losing concurrent writers' changes: loads
/// it (or starts empty), applies `change`, saves with the loaded version, and on a conflict
/// applies `change` again to what is stored now. Returns the partition as saved.
///
/// `change` may run several times, each time on fresher entries, so it should describe the
/// change ("insert this token", "remove that account"), not copy a snapshot over.
///
/// ```
/// use msal_lite::persistence::{update, MemoryStore};
/// use msal_lite::schema::{AccessToken, CacheSecret, PartitionKey, UnixTime};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let store = MemoryStore::new();
/// let key = PartitionKey::app("cid", "tid");
/// let saved = update(&store, &key, |doc| {
///     let mut at = AccessToken::new("login.microsoftonline.com", "cid", CacheSecret::new("t"), UnixTime::from_secs(9_999_999_999));
///     at.realm = Some("tid".into());
///     doc.insert_access_token(at);
/// })
/// .await?;
/// assert_eq!(saved.document().access_tokens.len(), 1);
/// # Ok::<(), msal_lite::persistence::PersistenceError>(())
/// # }).unwrap();
/// ```
pub async fn update<S, F>(
    store: &S,
    partition: &PartitionKey,
    mut change: F,
) -> Result<Partition, PersistenceError>
where
    S: CacheStore + ?Sized,
    F: FnMut(&mut CacheDocument) + Send,
{
    let mut current = store.load(partition).await?;
    for _ in 0..MAX_UPDATE_ATTEMPTS {
        let (expected, mut document) = match current {
            Some(p) => (p.version, p.document),
            None => (0, Arc::new(CacheDocument::new())),
        };
        change(Arc::make_mut(&mut document));
        match store
            .save(partition, Arc::clone(&document), Some(expected))
            .await?
        {
            SaveOutcome::Saved { version } => return Ok(Partition { version, document }),
            SaveOutcome::Conflict { current: now } => current = now,
        }
    }
    Err(PersistenceError::Contention {
        attempts: MAX_UPDATE_ATTEMPTS,
    })
}
