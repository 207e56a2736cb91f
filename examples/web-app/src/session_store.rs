//! A tower-sessions store on Redis, using the workspace's one Redis client crate (`redis`), with
//! records encrypted at rest and a per-instance memory copy that rides out a Redis outage.
//!
//! The published `tower-sessions-redis-store` is built on a different client (`fred`); one client
//! across the workspace means one connection model, one set of timeouts and one dependency to
//! audit, so the web app carries this small store instead.
//!
//! # In Redis
//!
//! Each session is one Redis string `{prefix}{session id}` holding the record (JSON, sealed with
//! [`DataKeys`] and bound to the session id when keys are configured), with an absolute expiry
//! (`EXAT`) equal to the session's expiry, so Redis drops abandoned sessions on its own. Every
//! operation has a timeout (default 500 ms): a slow Redis fails over to memory quickly.
//!
//! # Redis is the truth; memory is the fallback
//!
//! Reads go to Redis first, so a sign-out on one instance is seen by all the others at once. Each
//! instance also keeps the sessions it served in memory (bounded, expired ones dropped):
//!
//! - **Redis unreachable**: a load is served from memory when this instance has the session; a
//!   save or create succeeds in memory and is marked dirty; a delete is remembered. After the next
//!   successful Redis operation, dirty sessions are written back and remembered deletes sent.
//! - **Redis restarted empty**: every operation also reads a *generation* key
//!   (`{prefix}__generation`, a random value set with `SET NX`). When Redis answers "no such
//!   session" for one that memory holds, the store compares the generation it last saw that
//!   session under: a different generation means Redis lost its data, and the session is written
//!   back from memory; the same generation means another instance deleted it (sign-out), and
//!   memory forgets it too.
//! - **An unreadable value** (tampered, or sealed with a key no longer in `DATA_KEYS`) is traced
//!   and treated as no session.
//!
//! Sessions that only Redis held when it lost its data are gone (their users sign in again).
//! While Redis is down, a sign-out on one instance reaches the others only when Redis is back.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use api::at_rest::DataKeys;
use async_trait::async_trait;
use redis::aio::ConnectionManager;
use time::OffsetDateTime;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};

/// Default bound on each Redis operation.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(500);
/// Default number of sessions each instance keeps in memory.
pub const DEFAULT_LOCAL_CAPACITY: usize = 100_000;
/// The purpose sealed records are bound to.
const PURPOSE: &[u8] = b"session";

/// Sessions in Redis, encrypted, with a memory fallback.
#[derive(Clone)]
pub struct RedisSessionStore {
    connection: ConnectionManager,
    prefix: String,
    timeout: Duration,
    keys: Option<DataKeys>,
    local: Arc<Local>,
}

impl std::fmt::Debug for RedisSessionStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisSessionStore")
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .field("encrypted", &self.keys.is_some())
            .finish_non_exhaustive()
    }
}

struct LocalEntry {
    record: Record,
    /// The Redis generation this record was last confirmed under (`None`: never reached Redis).
    generation: Option<String>,
    dirty: bool,
}

struct Local {
    capacity: usize,
    entries: Mutex<HashMap<Id, LocalEntry>>,
    pending_deletes: Mutex<HashSet<Id>>,
    /// Set whenever something is marked dirty or a delete is remembered; cleared by a flush.
    /// Keeps the check after every Redis call O(1).
    has_work: AtomicBool,
    flushing: AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Only map inserts and removals happen under these locks; a panic cannot leave them torn.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn live(record: &Record) -> bool {
    record.expiry_date > OffsetDateTime::now_utc()
}

impl Local {
    fn get(&self, id: &Id) -> Option<LocalEntry> {
        let entries = lock(&self.entries);
        entries
            .get(id)
            .filter(|e| live(&e.record))
            .map(|e| LocalEntry {
                record: e.record.clone(),
                generation: e.generation.clone(),
                dirty: e.dirty,
            })
    }

    fn put(&self, record: &Record, generation: Option<String>, dirty: bool) {
        let mut entries = lock(&self.entries);
        if entries.len() >= self.capacity && !entries.contains_key(&record.id) {
            entries.retain(|_, e| live(&e.record));
            if entries.len() >= self.capacity {
                // Still full of live sessions: drop one that Redis has (never a dirty one).
                let victim = entries.iter().find(|(_, e)| !e.dirty).map(|(id, _)| *id);
                match victim {
                    Some(id) => {
                        entries.remove(&id);
                    }
                    None => return,
                }
            }
        }
        entries.insert(
            record.id,
            LocalEntry {
                record: record.clone(),
                generation,
                dirty,
            },
        );
        if dirty {
            self.has_work.store(true, Ordering::Release);
        }
    }

    fn remove(&self, id: &Id) {
        lock(&self.entries).remove(id);
    }

    fn remember_delete(&self, id: Id) {
        lock(&self.pending_deletes).insert(id);
        self.has_work.store(true, Ordering::Release);
    }
}

impl RedisSessionStore {
    /// Connects to `redis_url` (e.g. `redis://127.0.0.1:6379/`); keys start with `prefix`.
    /// Records are stored as plain JSON until [`with_data_keys`](Self::with_data_keys) is called
    /// (the web app always calls it).
    pub async fn connect(redis_url: &str, prefix: &str) -> Result<Self, redis::RedisError> {
        let client = redis::Client::open(redis_url)?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(DEFAULT_TIMEOUT))
            .set_response_timeout(Some(DEFAULT_TIMEOUT));
        let connection = ConnectionManager::new_with_config(client, config).await?;
        Ok(Self {
            connection,
            prefix: prefix.to_owned(),
            timeout: DEFAULT_TIMEOUT,
            keys: None,
            local: Arc::new(Local {
                capacity: DEFAULT_LOCAL_CAPACITY,
                entries: Mutex::new(HashMap::new()),
                pending_deletes: Mutex::new(HashSet::new()),
                has_work: AtomicBool::new(false),
                flushing: AtomicBool::new(false),
            }),
        })
    }

    /// Sets the per-operation timeout (default 500 ms).
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Seals every record with these keys (AES-256-GCM, bound to the session id).
    #[must_use]
    pub fn with_data_keys(mut self, keys: DataKeys) -> Self {
        self.keys = Some(keys);
        self
    }

    /// How many sessions this instance keeps in memory (default 100 000); set before cloning.
    #[must_use]
    pub fn with_local_capacity(mut self, capacity: usize) -> Self {
        if let Some(local) = Arc::get_mut(&mut self.local) {
            local.capacity = capacity.max(1);
        }
        self
    }

    /// The Redis key of a session.
    pub fn redis_key(&self, id: &Id) -> String {
        format!("{}{id}", self.prefix)
    }

    fn generation_key(&self) -> String {
        format!("{}__generation", self.prefix)
    }

    fn encode(&self, record: &Record) -> session_store::Result<Vec<u8>> {
        let json =
            serde_json::to_vec(record).map_err(|e| session_store::Error::Encode(e.to_string()))?;
        match &self.keys {
            None => Ok(json),
            Some(keys) => keys
                .seal(PURPOSE, record.id.to_string().as_bytes(), &json)
                .map_err(|e| session_store::Error::Encode(e.to_string())),
        }
    }

    /// `None` (traced) for a value that does not open or parse: treated as no session.
    fn decode(&self, id: &Id, stored: &[u8]) -> Option<Record> {
        let json = match &self.keys {
            None => stored.to_vec(),
            Some(keys) => match keys.open(PURPOSE, id.to_string().as_bytes(), stored) {
                Ok(json) => json,
                Err(e) => {
                    tracing::warn!(error = %e, "session record did not decrypt; treated as no session");
                    return None;
                }
            },
        };
        match serde_json::from_slice::<Record>(&json) {
            Ok(record) if record.id == *id => Some(record),
            Ok(_) => {
                tracing::warn!("session record names another session id; treated as no session");
                None
            }
            Err(e) => {
                tracing::warn!(error = %e, "session record is not valid; treated as no session");
                None
            }
        }
    }

    /// Runs a pipeline that first makes sure the generation key exists and ends by reading it.
    /// Returns the pipeline's other results and the current generation.
    async fn with_generation<T: redis::FromRedisValue>(
        &self,
        build: impl FnOnce(&mut redis::Pipeline),
    ) -> Result<(T, String), redis::RedisError> {
        let mut fresh = [0u8; 16];
        aws_lc_rs::rand::SecureRandom::fill(&aws_lc_rs::rand::SystemRandom::new(), &mut fresh)
            .map_err(|_| {
                redis::RedisError::from((redis::ErrorKind::Client, "random generator failed"))
            })?;
        let fresh: String = fresh.iter().map(|b| format!("{b:02x}")).collect();
        let generation_key = self.generation_key();
        let mut pipe = redis::pipe();
        pipe.cmd("SET")
            .arg(&generation_key)
            .arg(&fresh)
            .arg("NX")
            .ignore();
        build(&mut pipe);
        pipe.cmd("GET").arg(&generation_key);
        let mut connection = self.connection.clone();
        let run = pipe.query_async::<(T, String)>(&mut connection);
        match tokio::time::timeout(self.timeout, run).await {
            Ok(result) => result,
            Err(_) => Err(redis::RedisError::from((
                redis::ErrorKind::Io,
                "redis: timed out",
            ))),
        }
    }

    /// Writes the record; `only_if_new` makes it `SET NX`. `Ok(None)`: NX and the key exists.
    async fn write(
        &self,
        record: &Record,
        only_if_new: bool,
    ) -> Result<Option<String>, WriteError> {
        let value = self.encode(record).map_err(WriteError::Encode)?;
        let expires_at = u64::try_from(record.expiry_date.unix_timestamp().max(1)).unwrap_or(1);
        let key = self.redis_key(&record.id);
        let (reply, generation): (Option<String>, String) = self
            .with_generation(|pipe| {
                let cmd = pipe
                    .cmd("SET")
                    .arg(&key)
                    .arg(value)
                    .arg("EXAT")
                    .arg(expires_at);
                if only_if_new {
                    cmd.arg("NX");
                }
            })
            .await
            .map_err(WriteError::Redis)?;
        // `SET ... NX` answers nil when the key exists; a plain SET answers OK.
        Ok(reply.map(|_| generation))
    }

    /// After a successful Redis operation: write back what an outage left behind.
    fn after_success(&self) {
        if !self.local.has_work.load(Ordering::Acquire)
            || self.local.flushing.swap(true, Ordering::AcqRel)
        {
            return;
        }
        let this = self.clone();
        tokio::spawn(async move {
            let result = this.flush().await;
            this.local.flushing.store(false, Ordering::Release);
            match result {
                Ok(0) => {}
                Ok(n) => tracing::info!(sessions = n, "sessions written back to redis"),
                Err(e) => tracing::debug!(error = %e, "redis still unavailable; will retry"),
            }
        });
    }

    /// Sends remembered deletes and writes dirty sessions to Redis; stops at the first failure.
    /// Returns how many were sent.
    pub async fn flush(&self) -> Result<usize, redis::RedisError> {
        // Cleared first: anything marked dirty from here on sets it again.
        self.local.has_work.store(false, Ordering::Release);
        let result = self.flush_inner().await;
        if result.is_err() {
            self.local.has_work.store(true, Ordering::Release);
        }
        result
    }

    async fn flush_inner(&self) -> Result<usize, redis::RedisError> {
        let mut sent = 0;
        let deletes: Vec<Id> = lock(&self.local.pending_deletes).iter().copied().collect();
        for id in deletes {
            self.del(&id).await?;
            lock(&self.local.pending_deletes).remove(&id);
            sent += 1;
        }
        let dirty: Vec<Record> = lock(&self.local.entries)
            .values()
            .filter(|e| e.dirty && live(&e.record))
            .map(|e| e.record.clone())
            .collect();
        for record in dirty {
            match self.write(&record, false).await {
                Ok(generation) => {
                    self.mark_clean(&record, generation);
                    sent += 1;
                }
                Err(WriteError::Redis(e)) => return Err(e),
                Err(WriteError::Encode(_)) => {}
            }
        }
        Ok(sent)
    }

    async fn del(&self, id: &Id) -> Result<(), redis::RedisError> {
        let mut connection = self.connection.clone();
        let mut cmd = redis::cmd("DEL");
        cmd.arg(self.redis_key(id));
        match tokio::time::timeout(self.timeout, cmd.query_async::<i64>(&mut connection)).await {
            Ok(result) => result.map(|_| ()),
            Err(_) => Err(redis::RedisError::from((
                redis::ErrorKind::Io,
                "redis: timed out",
            ))),
        }
    }

    /// Marks the memory copy clean if it is still the record that was written.
    fn mark_clean(&self, written: &Record, generation: Option<String>) {
        let mut entries = lock(&self.local.entries);
        if let Some(entry) = entries.get_mut(&written.id)
            && entry.record == *written
        {
            entry.dirty = false;
            entry.generation = generation;
        }
    }

    async fn save_or_keep(&self, record: &Record) -> session_store::Result<()> {
        self.local.put(record, None, true);
        match self.write(record, false).await {
            Ok(generation) => {
                self.mark_clean(record, generation);
                self.after_success();
                Ok(())
            }
            Err(WriteError::Encode(e)) => Err(e),
            Err(WriteError::Redis(e)) => {
                tracing::warn!(error = %e, "redis unavailable; session kept in memory until it is back");
                Ok(())
            }
        }
    }
}

enum WriteError {
    Encode(session_store::Error),
    Redis(redis::RedisError),
}

#[async_trait]
impl SessionStore for RedisSessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        // Session ids are 128 random bits; a collision is astronomically unlikely, but an
        // overwrite would hand one user's session to another, so check and re-roll.
        loop {
            match self.write(record, true).await {
                Ok(Some(generation)) => {
                    self.local.put(record, Some(generation), false);
                    self.after_success();
                    return Ok(());
                }
                Ok(None) => record.id = Id::default(),
                Err(WriteError::Encode(e)) => return Err(e),
                Err(WriteError::Redis(e)) => {
                    tracing::warn!(error = %e, "redis unavailable; new session kept in memory until it is back");
                    self.local.put(record, None, true);
                    return Ok(());
                }
            }
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        self.save_or_keep(record).await
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        if lock(&self.local.pending_deletes).contains(id) {
            // Signed out while Redis was unreachable: the delete has not reached Redis yet, so
            // whatever Redis holds for this id is the signed-out session. Never serve it; send
            // the delete now (the background flush would, but only after this answer).
            if self.del(id).await.is_ok() {
                lock(&self.local.pending_deletes).remove(id);
                self.after_success();
            }
            return Ok(None);
        }
        let key = self.redis_key(id);
        let fetched = self
            .with_generation::<Option<Vec<u8>>>(|pipe| {
                pipe.cmd("GET").arg(&key);
            })
            .await;
        let (stored, generation) = match fetched {
            Ok(found) => found,
            Err(e) => {
                return match self.local.get(id) {
                    Some(entry) => {
                        tracing::warn!(error = %e, "redis unavailable; session served from memory");
                        Ok(Some(entry.record))
                    }
                    None => Err(session_store::Error::Backend(format!("redis: {e}"))),
                };
            }
        };
        self.after_success();
        if let Some(entry) = self.local.get(id).filter(|e| e.dirty) {
            // A change made here during an outage and not written back yet is newer than what
            // Redis holds: keep it, and write it now.
            self.save_or_keep(&entry.record).await?;
            return Ok(Some(entry.record));
        }
        if let Some(stored) = stored {
            let record = self.decode(id, &stored);
            match &record {
                Some(r) => self.local.put(r, Some(generation), false),
                None => self.local.remove(id),
            }
            return Ok(record);
        }
        let Some(entry) = self.local.get(id) else {
            return Ok(None);
        };
        if entry.dirty || entry.generation.as_deref() != Some(generation.as_str()) {
            // Redis lost its data since this instance last saw the session there (or never
            // received it): write it back from memory.
            tracing::info!("session missing from redis after a restart; restored from memory");
            self.save_or_keep(&entry.record).await?;
            return Ok(Some(entry.record));
        }
        // Same generation: another instance deleted it (sign-out).
        self.local.remove(id);
        Ok(None)
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        self.local.remove(id);
        match self.del(id).await {
            Ok(()) => self.after_success(),
            Err(_) => {
                tracing::warn!("redis unavailable; the session delete is sent when it is back");
                self.local.remember_delete(*id);
            }
        }
        Ok(())
    }
}
