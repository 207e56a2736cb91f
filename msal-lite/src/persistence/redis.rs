//! Redis as the distributed (L2) token cache.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use redis::AsyncCommands as _;
use redis::aio::MultiplexedConnection;

use crate::schema::{CacheDocument, PartitionKey, UnixTime};

use super::{
    BoxFuture, CacheStore, Codec, IdentityCodec, Lease, LeaseOutcome, Partition, PersistenceError,
    SaveOutcome,
};

/// Default bound on each Redis operation (connect included).
///
/// ```
/// use std::time::Duration;
/// assert_eq!(msal_lite::persistence::DEFAULT_OPERATION_TIMEOUT, Duration::from_millis(250));
/// ```
pub const DEFAULT_OPERATION_TIMEOUT: Duration = Duration::from_millis(250);
/// Default pause after a failure before Redis is tried again (requests fail fast meanwhile).
///
/// ```
/// use std::time::Duration;
/// assert_eq!(msal_lite::persistence::DEFAULT_RETRY_BACKOFF, Duration::from_secs(1));
/// ```
pub const DEFAULT_RETRY_BACKOFF: Duration = Duration::from_secs(1);
/// Default lifetime of a partition holding a refresh token: Entra's default refresh-token
/// lifetime for confidential clients, 90 days ("Microsoft identity platform: refresh tokens").
///
/// ```
/// use std::time::Duration;
/// assert_eq!(msal_lite::persistence::DEFAULT_REFRESH_TOKEN_TTL, Duration::from_secs(90 * 86_400));
/// ```
pub const DEFAULT_REFRESH_TOKEN_TTL: Duration = Duration::from_secs(90 * 24 * 3600);

/// Compare-and-set of one partition. KEYS[1] = the partition's hash, KEYS[2] = the store's
/// version counter; ARGV = expected version ('' = any), value, TTL seconds, a floor for a
/// fresh counter. Returns {1, new_version, false} or {0, current_version, current_value}.
///
/// The counter starts at the floor (Unix milliseconds × 1000) when absent, so a Redis that
/// restarted empty does not hand out versions that machines still remember from before.
const SAVE_SCRIPT: &str = r"
local cur = tonumber(redis.call('HGET', KEYS[1], 'version') or '0')
if ARGV[1] ~= '' and tonumber(ARGV[1]) ~= cur then
  return {0, cur, redis.call('HGET', KEYS[1], 'data')}
end
redis.call('SET', KEYS[2], ARGV[4], 'NX')
local v = redis.call('INCR', KEYS[2])
redis.call('HSET', KEYS[1], 'data', ARGV[2], 'version', v)
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
return {1, v, false}
";

/// Partitions in Redis (feature `redis`): one hash per partition, with fields `data` (the
/// partition's MSAL cache JSON, through the [`Codec`]) and `version`.
///
/// - Key: `<prefix><partition storage name>`, e.g. `msal-lite:user/uid.utid` (prefix
///   configurable, default `msal-lite:`). Versions come from one counter key,
///   `<prefix>__version`, so they are never reused.
/// - TTL: the latest access-token expiry in the partition, or the refresh-token lifetime
///   (default 90 days) when the partition holds a refresh token or no access token.
/// - Saves are atomic compare-and-set (a Lua script), so concurrent writers on many machines
///   see each other's writes as [`SaveOutcome::Conflict`].
/// - Every operation, connecting included, is bounded by the operation timeout (default
///   250 ms). After a failure the connection is dropped and Redis is not retried for the
///   backoff (default 1 s): calls fail fast with [`PersistenceError::Unavailable`], and the
///   first call after it reconnects.
///
/// ```no_run
/// use std::time::Duration;
/// use msal_lite::persistence::{Layered, MemoryStore, RedisStore};
///
/// # fn main() -> Result<(), msal_lite::persistence::PersistenceError> {
/// let redis = RedisStore::open("redis://127.0.0.1:6379/")?
///     .key_prefix("myapp:tokens:")
///     .operation_timeout(Duration::from_millis(200));
/// let cache = Layered::new(MemoryStore::new(), redis);
/// # let _ = cache;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct RedisStore {
    inner: Arc<Inner>,
}

struct Inner {
    client: redis::Client,
    prefix: String,
    operation_timeout: Duration,
    retry_backoff: Duration,
    refresh_token_ttl: Duration,
    codec: Arc<dyn Codec>,
    conn: Mutex<ConnState>,
}

#[derive(Default)]
struct ConnState {
    conn: Option<MultiplexedConnection>,
    down_until: Option<Instant>,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Deliberately no connection info: a Redis URL may carry a password.
        f.debug_struct("RedisStore")
            .field("prefix", &self.inner.prefix)
            .field("operation_timeout", &self.inner.operation_timeout)
            .field("retry_backoff", &self.inner.retry_backoff)
            .finish_non_exhaustive()
    }
}

fn classify(e: redis::RedisError) -> PersistenceError {
    if e.is_timeout() {
        PersistenceError::Timeout
    } else if e.is_io_error() || e.is_connection_dropped() || e.is_connection_refusal() {
        PersistenceError::Unavailable(Box::new(e))
    } else {
        PersistenceError::Backend(Box::new(e))
    }
}

/// Unix milliseconds × 1000: above any version a counter started earlier handed out (at
/// under 1000 writes per millisecond), and below 2^53 so Lua's doubles hold it exactly.
fn version_floor() -> u64 {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| {
            u64::try_from(d.as_millis()).unwrap_or(u64::MAX / 1000)
        });
    ms.saturating_mul(1000)
}

impl RedisStore {
    /// A store over a configured client.
    ///
    /// ```
    /// use msal_lite::persistence::RedisStore;
    /// let client = redis::Client::open("redis://127.0.0.1:6379/").expect("valid URL");
    /// let store = RedisStore::new(client);
    /// # let _ = store;
    /// ```
    pub fn new(client: redis::Client) -> Self {
        Self {
            inner: Arc::new(Inner {
                client,
                prefix: "msal-lite:".to_owned(),
                operation_timeout: DEFAULT_OPERATION_TIMEOUT,
                retry_backoff: DEFAULT_RETRY_BACKOFF,
                refresh_token_ttl: DEFAULT_REFRESH_TOKEN_TTL,
                codec: Arc::new(IdentityCodec),
                conn: Mutex::new(ConnState::default()),
            }),
        }
    }

    /// A store for a `redis://` / `rediss://` URL (no connection is made yet).
    ///
    /// ```
    /// use msal_lite::persistence::RedisStore;
    /// assert!(RedisStore::open("redis://127.0.0.1:6379/").is_ok());
    /// assert!(RedisStore::open("not a url").is_err());
    /// ```
    pub fn open(url: &str) -> Result<Self, PersistenceError> {
        redis::Client::open(url)
            .map(Self::new)
            .map_err(|e| PersistenceError::Backend(Box::new(e)))
    }

    fn configure(mut self, f: impl FnOnce(&mut Inner)) -> Self {
        // Configuration happens before the store is cloned; on a shared handle it is a no-op.
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            f(inner);
        }
        self
    }

    /// Prefix of every key (default `msal-lite:`).
    ///
    /// ```
    /// use msal_lite::persistence::RedisStore;
    /// use msal_lite::schema::PartitionKey;
    /// let store = RedisStore::open("redis://127.0.0.1/")?.key_prefix("app1:");
    /// assert_eq!(store.redis_key(&PartitionKey::user("u.t")), "app1:user/u.t");
    /// # Ok::<(), msal_lite::persistence::PersistenceError>(())
    /// ```
    #[must_use]
    pub fn key_prefix(self, prefix: impl Into<String>) -> Self {
        let prefix = prefix.into();
        self.configure(|i| i.prefix = prefix)
    }

    /// Bound on each operation, connecting included (default 250 ms).
    ///
    /// ```
    /// use std::time::Duration;
    /// use msal_lite::persistence::RedisStore;
    /// let store = RedisStore::open("redis://127.0.0.1/")?.operation_timeout(Duration::from_millis(50));
    /// # let _ = store;
    /// # Ok::<(), msal_lite::persistence::PersistenceError>(())
    /// ```
    #[must_use]
    pub fn operation_timeout(self, timeout: Duration) -> Self {
        self.configure(|i| i.operation_timeout = timeout)
    }

    /// How long to fail fast after a failure before trying Redis again (default 1 s).
    ///
    /// ```
    /// use std::time::Duration;
    /// use msal_lite::persistence::RedisStore;
    /// let store = RedisStore::open("redis://127.0.0.1/")?.retry_backoff(Duration::ZERO);
    /// # let _ = store;
    /// # Ok::<(), msal_lite::persistence::PersistenceError>(())
    /// ```
    #[must_use]
    pub fn retry_backoff(self, backoff: Duration) -> Self {
        self.configure(|i| i.retry_backoff = backoff)
    }

    /// TTL of partitions that hold a refresh token or no access token (default 90 days).
    ///
    /// ```
    /// use std::time::Duration;
    /// use msal_lite::persistence::RedisStore;
    /// let store = RedisStore::open("redis://127.0.0.1/")?.refresh_token_ttl(Duration::from_secs(86_400));
    /// # let _ = store;
    /// # Ok::<(), msal_lite::persistence::PersistenceError>(())
    /// ```
    #[must_use]
    pub fn refresh_token_ttl(self, ttl: Duration) -> Self {
        self.configure(|i| i.refresh_token_ttl = ttl)
    }

    /// The value codec (default [`IdentityCodec`]); plug encryption at rest in here.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use msal_lite::persistence::{IdentityCodec, RedisStore};
    /// let store = RedisStore::open("redis://127.0.0.1/")?.codec(Arc::new(IdentityCodec));
    /// # let _ = store;
    /// # Ok::<(), msal_lite::persistence::PersistenceError>(())
    /// ```
    #[must_use]
    pub fn codec(self, codec: Arc<dyn Codec>) -> Self {
        self.configure(|i| i.codec = codec)
    }

    /// The Redis key of a partition.
    ///
    /// ```
    /// use msal_lite::persistence::RedisStore;
    /// use msal_lite::schema::PartitionKey;
    /// let store = RedisStore::open("redis://127.0.0.1/")?;
    /// assert_eq!(store.redis_key(&PartitionKey::app("c", "t")), "msal-lite:app/c/t");
    /// # Ok::<(), msal_lite::persistence::PersistenceError>(())
    /// ```
    pub fn redis_key(&self, partition: &PartitionKey) -> String {
        format!("{}{}", self.inner.prefix, partition.storage_name())
    }

    fn state(&self) -> MutexGuard<'_, ConnState> {
        // Only an Option swap happens under this lock; poisoning cannot corrupt it.
        self.inner
            .conn
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn mark_down(&self) {
        let mut st = self.state();
        st.conn = None;
        st.down_until = Some(Instant::now() + self.inner.retry_backoff);
    }

    async fn connection(&self) -> Result<MultiplexedConnection, PersistenceError> {
        {
            let st = self.state();
            if let Some(c) = &st.conn {
                return Ok(c.clone());
            }
            if st.down_until.is_some_and(|t| Instant::now() < t) {
                return Err(PersistenceError::Unavailable(
                    "redis failed recently; backing off".into(),
                ));
            }
        }
        let config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.inner.operation_timeout))
            .set_response_timeout(Some(self.inner.operation_timeout));
        let conn = self
            .inner
            .client
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .map_err(classify)?;
        let mut st = self.state();
        st.conn = Some(conn.clone());
        st.down_until = None;
        Ok(conn)
    }

    /// Runs one operation under the timeout; a transport failure drops the connection.
    async fn run<T>(
        &self,
        op: impl Future<Output = Result<T, PersistenceError>>,
    ) -> Result<T, PersistenceError> {
        let result = match tokio::time::timeout(self.inner.operation_timeout, op).await {
            Ok(r) => r,
            Err(_) => Err(PersistenceError::Timeout),
        };
        if let Err(e) = &result
            && e.is_unavailable()
        {
            self.mark_down();
        }
        result
    }

    fn decode(
        &self,
        partition: &PartitionKey,
        stored: Vec<u8>,
    ) -> Result<Arc<CacheDocument>, PersistenceError> {
        let json = self.inner.codec.decode(partition, stored)?;
        CacheDocument::from_slice(&json)
            .map(Arc::new)
            .map_err(PersistenceError::Corrupt)
    }

    fn ttl_secs(&self, document: &CacheDocument) -> u64 {
        let now = UnixTime::now().as_secs();
        let rt_until = now.saturating_add(
            i64::try_from(self.inner.refresh_token_ttl.as_secs()).unwrap_or(i64::MAX),
        );
        let until = match document.latest_access_token_expiry() {
            Some(at) if document.refresh_tokens.is_empty() => at.as_secs(),
            Some(at) => at.as_secs().max(rt_until),
            None => rt_until,
        };
        u64::try_from(until.saturating_sub(now)).unwrap_or(0).max(1)
    }

    async fn load_impl(
        &self,
        partition: &PartitionKey,
    ) -> Result<Option<Partition>, PersistenceError> {
        let key = self.redis_key(partition);
        let (data, version): (Option<Vec<u8>>, Option<u64>) = self
            .run(async {
                let mut conn = self.connection().await?;
                redis::cmd("HMGET")
                    .arg(&key)
                    .arg("data")
                    .arg("version")
                    .query_async(&mut conn)
                    .await
                    .map_err(classify)
            })
            .await?;
        match data {
            None => Ok(None),
            Some(bytes) => Ok(Some(Partition::new(
                version.unwrap_or(0),
                self.decode(partition, bytes)?,
            ))),
        }
    }

    async fn save_impl(
        &self,
        partition: &PartitionKey,
        document: Arc<CacheDocument>,
        expected_version: Option<u64>,
    ) -> Result<SaveOutcome, PersistenceError> {
        let key = self.redis_key(partition);
        let counter = format!("{}__version", self.inner.prefix);
        let value = self.inner.codec.encode(partition, document.to_vec())?;
        let expected = expected_version.map(|v| v.to_string()).unwrap_or_default();
        let ttl = self.ttl_secs(&document);
        let (saved, version, current): (i64, u64, Option<Vec<u8>>) = self
            .run(async {
                let mut conn = self.connection().await?;
                redis::cmd("EVAL")
                    .arg(SAVE_SCRIPT)
                    .arg(2)
                    .arg(&key)
                    .arg(&counter)
                    .arg(&expected)
                    .arg(value.as_slice())
                    .arg(ttl)
                    .arg(version_floor())
                    .query_async(&mut conn)
                    .await
                    .map_err(classify)
            })
            .await?;
        if saved == 1 {
            return Ok(SaveOutcome::Saved { version });
        }
        let current = match current {
            Some(bytes) => Some(Partition::new(version, self.decode(partition, bytes)?)),
            None => None,
        };
        Ok(SaveOutcome::Conflict { current })
    }

    async fn list_impl(&self) -> Result<Vec<PartitionKey>, PersistenceError> {
        let prefix = self.inner.prefix.clone();
        let pattern = format!("{}*", glob_escape(&prefix));
        let mut keys = Vec::new();
        let mut cursor: u64 = 0;
        loop {
            let (next, batch): (u64, Vec<String>) = self
                .run(async {
                    let mut conn = self.connection().await?;
                    redis::cmd("SCAN")
                        .arg(cursor)
                        .arg("MATCH")
                        .arg(&pattern)
                        .arg("COUNT")
                        .arg(1000)
                        .query_async(&mut conn)
                        .await
                        .map_err(classify)
                })
                .await?;
            keys.extend(batch.iter().filter_map(|k| {
                k.strip_prefix(&prefix)
                    .and_then(PartitionKey::from_storage_name)
            }));
            if next == 0 {
                break;
            }
            cursor = next;
        }
        // SCAN may return a key more than once.
        keys.sort_unstable();
        keys.dedup();
        Ok(keys)
    }

    async fn remove_impl(&self, partition: &PartitionKey) -> Result<(), PersistenceError> {
        let key = self.redis_key(partition);
        self.run(async {
            let mut conn = self.connection().await?;
            conn.del::<_, ()>(&key).await.map_err(classify)
        })
        .await
    }
}

impl CacheStore for RedisStore {
    fn load<'a>(
        &'a self,
        partition: &'a PartitionKey,
    ) -> BoxFuture<'a, Result<Option<Partition>, PersistenceError>> {
        Box::pin(self.load_impl(partition))
    }

    fn save<'a>(
        &'a self,
        partition: &'a PartitionKey,
        document: Arc<CacheDocument>,
        expected_version: Option<u64>,
    ) -> BoxFuture<'a, Result<SaveOutcome, PersistenceError>> {
        Box::pin(self.save_impl(partition, document, expected_version))
    }

    fn remove<'a>(
        &'a self,
        partition: &'a PartitionKey,
    ) -> BoxFuture<'a, Result<(), PersistenceError>> {
        Box::pin(self.remove_impl(partition))
    }

    /// `SCAN` with `MATCH <prefix>*` (cursor by cursor, never `KEYS`, which blocks the
    /// server), keeping the keys that name a partition (not the version counter).
    fn list(&self) -> BoxFuture<'_, Result<Vec<PartitionKey>, PersistenceError>> {
        Box::pin(self.list_impl())
    }

    fn acquisition_lease<'a>(
        &'a self,
        partition: &'a PartitionKey,
        flight: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<LeaseOutcome, PersistenceError>> {
        Box::pin(self.lease_impl(partition, flight, ttl))
    }
}

/// Takes a lease and reads the partition in one round trip. KEYS[1] = the lease, KEYS[2] =
/// the partition's hash; ARGV = this holder's random token, the lease in milliseconds.
/// Returns {1, 0, data, version} when taken, else {0, remaining ms, data, version}.
const LEASE_SCRIPT: &str = r"
local got = redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', tonumber(ARGV[2]))
local p = redis.call('HMGET', KEYS[2], 'data', 'version')
if got then
  return {1, 0, p[1], p[2]}
end
return {0, redis.call('PTTL', KEYS[1]), p[1], p[2]}
";

/// Releases a lease only if it still holds this holder's token (it may have expired and been
/// taken by another instance meanwhile). KEYS[1] = the lease, ARGV[1] = the token.
const RELEASE_SCRIPT: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
";

/// Acquisition leases (the distributed single flight): `<prefix>__lease/<partition>|<flight>`
/// holds the holder's random token for the lease's duration.
impl RedisStore {
    /// The Redis key of the lease of one acquisition.
    ///
    /// ```
    /// use msal_lite::persistence::RedisStore;
    /// use msal_lite::schema::PartitionKey;
    /// let store = RedisStore::open("redis://127.0.0.1/")?;
    /// assert_eq!(
    ///     store.lease_key(&PartitionKey::app("c", "t"), "api://x/.default"),
    ///     "msal-lite:__lease/app/c/t|api://x/.default"
    /// );
    /// # Ok::<(), msal_lite::persistence::PersistenceError>(())
    /// ```
    pub fn lease_key(&self, partition: &PartitionKey, flight: &str) -> String {
        format!(
            "{}__lease/{}|{flight}",
            self.inner.prefix,
            partition.storage_name()
        )
    }

    async fn lease_impl(
        &self,
        partition: &PartitionKey,
        flight: &str,
        ttl: Duration,
    ) -> Result<LeaseOutcome, PersistenceError> {
        let lease_key = self.lease_key(partition, flight);
        let key = self.redis_key(partition);
        let token = uuid::Uuid::new_v4().simple().to_string();
        let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        let (taken, remaining_ms, data, version): (i64, i64, Option<Vec<u8>>, Option<u64>) = self
            .run(async {
                let mut conn = self.connection().await?;
                redis::cmd("EVAL")
                    .arg(LEASE_SCRIPT)
                    .arg(2)
                    .arg(&lease_key)
                    .arg(&key)
                    .arg(&token)
                    .arg(ttl_ms)
                    .query_async(&mut conn)
                    .await
                    .map_err(classify)
            })
            .await?;
        let current = match data {
            None => None,
            // Unreadable: read as absent, so the lease (already taken) is not lost to an
            // error; the acquisition that follows replaces the value.
            Some(bytes) => match self.decode(partition, bytes) {
                Ok(doc) => Some(Partition::new(version.unwrap_or(0), doc)),
                Err(e) => {
                    tracing::warn!(
                        partition = partition.kind(),
                        error = %e,
                        "unreadable token cache partition next to an acquisition lease"
                    );
                    None
                }
            },
        };
        if taken != 1 {
            let expires_in = Duration::from_millis(u64::try_from(remaining_ms).unwrap_or(0));
            return Ok(LeaseOutcome::Held {
                expires_in,
                current,
            });
        }
        let store = self.clone();
        let lease = Lease::new(move || {
            Box::pin(async move {
                store
                    .run(async {
                        let mut conn = store.connection().await?;
                        redis::cmd("EVAL")
                            .arg(RELEASE_SCRIPT)
                            .arg(1)
                            .arg(&lease_key)
                            .arg(&token)
                            .query_async::<i64>(&mut conn)
                            .await
                            .map(drop)
                            .map_err(classify)
                    })
                    .await
            })
        });
        Ok(LeaseOutcome::Acquired { lease, current })
    }
}

/// `prefix` with Redis glob metacharacters escaped, for `SCAN ... MATCH`.
fn glob_escape(prefix: &str) -> String {
    let mut out = String::with_capacity(prefix.len());
    for c in prefix.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
