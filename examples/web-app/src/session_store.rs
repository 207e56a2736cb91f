//! A tower-sessions store on Redis, using the workspace's one Redis client crate (`redis`).
//!
//! The published `tower-sessions-redis-store` is built on a different client (`fred`); one client
//! across the workspace means one connection model, one set of timeouts and one dependency to
//! audit, so the web app carries this small store instead.
//!
//! Each session is one Redis string `{prefix}{session id}` holding the JSON record, with an
//! absolute expiry (`EXAT`) equal to the session's expiry, so Redis drops abandoned sessions on its
//! own. Every operation has a timeout: a slow Redis fails the request quickly instead of holding it.

use std::time::Duration;

use async_trait::async_trait;
use redis::AsyncCommands;
use redis::aio::ConnectionManager;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};

/// Sessions in Redis.
#[derive(Clone)]
pub struct RedisSessionStore {
    connection: ConnectionManager,
    prefix: String,
    timeout: Duration,
}

impl std::fmt::Debug for RedisSessionStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisSessionStore")
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl RedisSessionStore {
    /// Connects to `redis_url` (e.g. `redis://127.0.0.1:6379/`); keys start with `prefix`.
    pub async fn connect(redis_url: &str, prefix: &str) -> Result<Self, redis::RedisError> {
        let client = redis::Client::open(redis_url)?;
        let connection = ConnectionManager::new(client).await?;
        Ok(Self {
            connection,
            prefix: prefix.to_owned(),
            timeout: Duration::from_millis(500),
        })
    }

    /// Sets the per-operation timeout (default 500 ms).
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    fn key(&self, id: &Id) -> String {
        format!("{}{id}", self.prefix)
    }

    async fn bounded<T>(
        &self,
        op: impl std::future::Future<Output = redis::RedisResult<T>>,
    ) -> session_store::Result<T> {
        match tokio::time::timeout(self.timeout, op).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(session_store::Error::Backend(format!("redis: {e}"))),
            Err(_) => Err(session_store::Error::Backend("redis: timed out".into())),
        }
    }

    /// Writes the record; `only_if_new` makes it `SET NX` (for id collision checks).
    async fn write(&self, record: &Record, only_if_new: bool) -> session_store::Result<bool> {
        let value = serde_json::to_string(record)
            .map_err(|e| session_store::Error::Encode(e.to_string()))?;
        let expires_at = record.expiry_date.unix_timestamp().max(1) as u64;
        let mut options =
            redis::SetOptions::default().with_expiration(redis::SetExpiry::EXAT(expires_at));
        if only_if_new {
            options = options.conditional_set(redis::ExistenceCheck::NX);
        }
        let mut connection = self.connection.clone();
        let key = self.key(&record.id);
        // `SET ... NX` answers nil when the key exists; a plain SET answers OK.
        let reply: Option<String> = self
            .bounded(connection.set_options(&key, value, options))
            .await?;
        Ok(reply.is_some())
    }
}

#[async_trait]
impl SessionStore for RedisSessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        // Session ids are 128 random bits; a collision is astronomically unlikely, but an
        // overwrite would hand one user's session to another, so check and re-roll.
        while !self.write(record, true).await? {
            record.id = Id::default();
        }
        Ok(())
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        self.write(record, false).await.map(|_| ())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let mut connection = self.connection.clone();
        let value: Option<String> = self.bounded(connection.get(self.key(id))).await?;
        value
            .map(|v| {
                serde_json::from_str(&v).map_err(|e| session_store::Error::Decode(e.to_string()))
            })
            .transpose()
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        let mut connection = self.connection.clone();
        let _: i64 = self.bounded(connection.del(self.key(id))).await?;
        Ok(())
    }
}
