//! The Redis L2 against a real `redis-server` on an ephemeral loopback port: outage,
//! restart, slow server, concurrent machines, TTL and codec.
//!
//! The binary comes from `REDIS_SERVER` (set by `cargo xtask test`) or `redis-server` on
//! `PATH`. Without it the tests print why and pass, unless `REQUIRE_TEST_TOOLS` is set.
#![cfg(feature = "redis")]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use msal_lite::persistence::{
    CacheStore, Codec, Layered, MemoryStore, PersistenceError, RedisStore, update,
};
use msal_lite::schema::{AccessToken, CacheSecret, PartitionKey, RefreshToken, UnixTime};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Upper bound for polling loops (never reached when things work).
const POLL_DEADLINE: Duration = Duration::from_secs(20);
const POLL_STEP: Duration = Duration::from_millis(10);
/// Operation timeout for tests that are not about timeouts.
const GENEROUS: Duration = Duration::from_secs(5);

fn redis_binary() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("REDIS_SERVER") {
        let p = PathBuf::from(p);
        return p.is_file().then_some(p);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("redis-server"))
        .find(|p| p.is_file())
}

/// The binary, or `None` after explaining why the test is skipped.
#[expect(clippy::print_stderr, reason = "a skipped test must say why")]
fn binary_or_skip() -> Option<PathBuf> {
    match redis_binary() {
        Some(b) => Some(b),
        None if std::env::var_os("REQUIRE_TEST_TOOLS").is_some() => {
            panic!(
                "redis-server not found (set REDIS_SERVER or put it on PATH); REQUIRE_TEST_TOOLS is set"
            )
        }
        None => {
            eprintln!(
                "SKIPPED: redis-server not found (set REDIS_SERVER or install redis-server); \
                 set REQUIRE_TEST_TOOLS=1 to make this a failure"
            );
            None
        }
    }
}

/// A `redis-server` child process, killed and reaped on drop.
struct RedisServer {
    child: Option<Child>,
    port: u16,
    bin: PathBuf,
}

impl RedisServer {
    /// Starts on a free ephemeral port, retrying on a port collision.
    async fn start(bin: &Path) -> Self {
        for _ in 0..20 {
            let port = {
                let l = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
                l.local_addr().expect("local addr").port()
            };
            if let Some(s) = Self::start_on(bin, port).await {
                return s;
            }
        }
        panic!("could not start redis-server on any ephemeral port");
    }

    /// Starts on `port`; `None` if the server exited (port taken).
    async fn start_on(bin: &Path, port: u16) -> Option<Self> {
        let child = Command::new(bin)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn redis-server");
        let mut server = Self {
            child: Some(child),
            port,
            bin: bin.to_owned(),
        };
        let deadline = tokio::time::Instant::now() + POLL_DEADLINE;
        while tokio::time::Instant::now() < deadline {
            if let Some(child) = server.child.as_mut()
                && child.try_wait().expect("poll child").is_some()
            {
                server.child = None;
                return None;
            }
            if ping(port).await {
                // Another test's server may have won the port race: only ours counts.
                let pid = server.child.as_ref().map(Child::id);
                if pid.is_some() && server_pid(port).await == pid {
                    return Some(server);
                }
            }
            tokio::time::sleep(POLL_STEP).await;
        }
        panic!("redis-server did not answer PING on port {port}");
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Restarts on the same port (the old process must be gone).
    async fn restart(&mut self) {
        self.kill();
        let deadline = tokio::time::Instant::now() + POLL_DEADLINE;
        loop {
            if let Some(s) = Self::start_on(&self.bin.clone(), self.port).await {
                *self = s;
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "port {} did not become free",
                self.port
            );
            tokio::time::sleep(POLL_STEP).await;
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Sends a raw command line and returns the first reply line.
async fn raw(port: u16, command: &str) -> Option<String> {
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .ok()?;
    s.write_all(format!("{command}\r\n").as_bytes())
        .await
        .ok()?;
    let mut buf = [0u8; 256];
    let n = s.read(&mut buf).await.ok()?;
    Some(String::from_utf8_lossy(&buf[..n]).trim_end().to_owned())
}

/// The `process_id` of the server answering on `port` (`INFO server`, a RESP bulk string).
async fn server_pid(port: u16) -> Option<u32> {
    use tokio::io::AsyncBufReadExt;
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .ok()?;
    s.write_all(b"INFO server\r\n").await.ok()?;
    let mut reader = tokio::io::BufReader::new(s);
    let mut header = String::new();
    reader.read_line(&mut header).await.ok()?;
    let len: usize = header.trim_end().strip_prefix('$')?.parse().ok()?;
    let mut body = vec![0u8; len];
    reader.read_exact(&mut body).await.ok()?;
    String::from_utf8_lossy(&body)
        .lines()
        .find_map(|l| l.strip_prefix("process_id:"))
        .and_then(|p| p.trim().parse().ok())
}

async fn ping(port: u16) -> bool {
    raw(port, "PING").await.as_deref() == Some("+PONG")
}

async fn poll_until(what: &str, mut done: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + POLL_DEADLINE;
    while !done().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for: {what}"
        );
        tokio::time::sleep(POLL_STEP).await;
    }
}

fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_env_filter("msal_lite=debug")
        .try_init();
}

fn store(url: &str, prefix: &str) -> RedisStore {
    RedisStore::open(url)
        .expect("redis url")
        .key_prefix(prefix)
        .retry_backoff(Duration::ZERO)
        // Generous: these tests share 2 cores with builds; only the slow-server test tightens it.
        .operation_timeout(GENEROUS)
}

/// An L1 + L2 pair with a generous L2 timeout (see `store`).
fn layered(url: &str, prefix: &str) -> Layered<RedisStore> {
    Layered::new(MemoryStore::new(), store(url, prefix)).l2_timeout(GENEROUS)
}

fn access_token(home: Option<&str>, scope: &str, secret: &str) -> AccessToken {
    let now = UnixTime::now().as_secs();
    let mut at = AccessToken::new(
        "login.microsoftonline.com",
        "cid",
        CacheSecret::new(secret),
        UnixTime::from_secs(now + 3600),
    );
    at.home_account_id = home.map(str::to_owned);
    at.realm = Some("tid".into());
    at.target = Some(scope.into());
    at.cached_at = Some(UnixTime::from_secs(now));
    at
}

fn obo_token(hash: &str) -> AccessToken {
    let mut at = access_token(Some("obo-user.tid"), "User.ReadWrite", "obo-at");
    at.user_assertion_hash = Some(hash.to_owned());
    at
}

/// Secrets of the access tokens stored in Redis for `key` (read by a fresh connection).
async fn secrets_in_redis(url: &str, prefix: &str, key: &PartitionKey) -> Vec<String> {
    let direct = store(url, prefix);
    match direct.load(key).await.expect("redis answers") {
        None => Vec::new(),
        Some(p) => {
            let mut s: Vec<_> = p
                .document()
                .access_tokens
                .values()
                .map(|at| at.secret.secret().to_owned())
                .collect();
            s.sort();
            s
        }
    }
}

async fn l1_secrets(layered: &Layered<RedisStore>, key: &PartitionKey) -> Vec<String> {
    let p = layered
        .load(key)
        .await
        .expect("layered load never fails")
        .expect("L1 holds the partition");
    let mut s: Vec<_> = p
        .document()
        .access_tokens
        .values()
        .map(|at| at.secret.secret().to_owned())
        .collect();
    s.sort();
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outage_is_served_from_l1_and_dirty_writes_resume() {
    init_tracing();
    let Some(bin) = binary_or_skip() else { return };
    let mut server = RedisServer::start(&bin).await;
    let url = server.url();
    let prefix = "outage:";
    let layered = layered(&url, prefix);

    let user = PartitionKey::user("alice.tid");
    let obo = PartitionKey::obo_for_assertion("incoming.jwt.assertion");
    let app = PartitionKey::app("cid", "tid");
    let hash = match &obo {
        PartitionKey::Obo { assertion_hash } => assertion_hash.clone(),
        _ => unreachable!("obo_for_assertion makes an Obo key"),
    };
    update(&layered, &user, |d| {
        d.insert_access_token(access_token(Some("alice.tid"), "User.Read", "alice-1"));
        let mut rt = RefreshToken::new("login.microsoftonline.com", "cid", CacheSecret::new("rt"));
        rt.home_account_id = Some("alice.tid".into());
        d.insert_refresh_token(rt);
    })
    .await
    .unwrap();
    update(&layered, &obo, |d| {
        d.insert_access_token(obo_token(&hash));
    })
    .await
    .unwrap();
    update(&layered, &app, |d| {
        d.insert_access_token(access_token(
            None,
            "https://graph.microsoft.com/.default",
            "app-1",
        ));
    })
    .await
    .unwrap();
    assert_eq!(secrets_in_redis(&url, prefix, &user).await, ["alice-1"]);
    assert_eq!(secrets_in_redis(&url, prefix, &obo).await, ["obo-at"]);
    assert_eq!(secrets_in_redis(&url, prefix, &app).await, ["app-1"]);
    assert!(layered.dirty_partitions().is_empty());

    // Redis dies.
    server.kill();
    assert!(
        store(&url, prefix).load(&user).await.is_err(),
        "redis is really down"
    );

    // Every partition is still served from L1.
    assert_eq!(l1_secrets(&layered, &user).await, ["alice-1"]);
    assert_eq!(l1_secrets(&layered, &obo).await, ["obo-at"]);
    assert_eq!(l1_secrets(&layered, &app).await, ["app-1"]);
    // A partition L1 does not have is a miss (go to the network), not an error.
    let unknown = PartitionKey::user("nobody.tid");
    assert!(layered.load(&unknown).await.unwrap().is_none());

    // Writes succeed locally and are remembered as dirty.
    update(&layered, &user, |d| {
        d.insert_access_token(access_token(Some("alice.tid"), "Mail.Read", "alice-2"));
    })
    .await
    .expect("write during outage succeeds");
    let bob = PartitionKey::user("bob.tid");
    update(&layered, &bob, |d| {
        d.insert_access_token(access_token(Some("bob.tid"), "User.Read", "bob-1"));
    })
    .await
    .expect("new partition during outage succeeds");
    assert_eq!(l1_secrets(&layered, &user).await, ["alice-1", "alice-2"]);
    let mut dirty = layered.dirty_partitions();
    dirty.sort();
    assert_eq!(dirty, vec![user.clone(), bob.clone()]);

    // Redis comes back (empty: it had no persistence).
    server.restart().await;
    let url = server.url();

    // The next successful L2 operation triggers the re-send of every dirty partition.
    assert!(layered.load(&unknown).await.unwrap().is_none());
    poll_until("dirty partitions flushed", async || {
        layered.dirty_partitions().is_empty()
    })
    .await;
    assert_eq!(
        secrets_in_redis(&url, prefix, &user).await,
        ["alice-1", "alice-2"],
        "the whole L1 partition reached Redis, including what was written before the outage"
    );
    assert_eq!(secrets_in_redis(&url, prefix, &bob).await, ["bob-1"]);
    // Nothing in L1 was lost along the way.
    assert_eq!(l1_secrets(&layered, &user).await, ["alice-1", "alice-2"]);
    assert_eq!(l1_secrets(&layered, &obo).await, ["obo-at"]);
    assert_eq!(l1_secrets(&layered, &app).await, ["app-1"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn background_flush_task_resends_after_restart() {
    init_tracing();
    let Some(bin) = binary_or_skip() else { return };
    let mut server = RedisServer::start(&bin).await;
    let prefix = "bg:";
    let layered = layered(&server.url(), prefix);
    let _flusher = layered.spawn_flush_task(Duration::from_millis(20));
    let key = PartitionKey::user("carol.tid");

    server.kill();
    update(&layered, &key, |d| {
        d.insert_access_token(access_token(Some("carol.tid"), "User.Read", "carol-1"));
    })
    .await
    .expect("write during outage succeeds");
    assert_eq!(layered.dirty_partitions(), vec![key.clone()]);

    server.restart().await;
    // No request touches the cache: the background task alone re-sends the write.
    poll_until("background flush", async || {
        layered.dirty_partitions().is_empty()
    })
    .await;
    assert_eq!(
        secrets_in_redis(&server.url(), prefix, &key).await,
        ["carol-1"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_redis_is_bounded_by_the_timeout() {
    init_tracing();
    let Some(bin) = binary_or_skip() else { return };
    let server = RedisServer::start(&bin).await;
    let prefix = "slow:";
    let redis = store(&server.url(), prefix).operation_timeout(Duration::from_millis(100));
    let layered = Layered::new(MemoryStore::new(), redis.clone());
    let key = PartitionKey::user("dave.tid");
    update(&layered, &key, |d| {
        d.insert_access_token(access_token(Some("dave.tid"), "User.Read", "dave-1"));
    })
    .await
    .unwrap();

    // Freeze every write on the server for far longer than the operation timeout (reads,
    // and the UNPAUSE below, still run).
    assert_eq!(
        raw(server.port, "CLIENT PAUSE 600000 WRITE")
            .await
            .as_deref(),
        Some("+OK")
    );
    // (Another partition: the server may still run this write once it is unpaused.)
    let other = PartitionKey::user("dave2.tid");
    let err = update(&redis, &other, |d| {
        d.insert_access_token(access_token(Some("dave2.tid"), "Profile", "late"));
    })
    .await
    .expect_err("a paused server times out");
    assert!(matches!(err, PersistenceError::Timeout), "{err:?}");
    update(&layered, &key, |d| {
        d.insert_access_token(access_token(Some("dave.tid"), "Mail.Read", "dave-2"));
    })
    .await
    .expect("a slow L2 does not fail the write");
    assert_eq!(layered.dirty_partitions(), vec![key.clone()]);
    assert_eq!(l1_secrets(&layered, &key).await, ["dave-1", "dave-2"]);

    assert_eq!(
        raw(server.port, "CLIENT UNPAUSE").await.as_deref(),
        Some("+OK")
    );
    assert_eq!(layered.flush_dirty().await.expect("redis answers again"), 1);
    assert_eq!(
        secrets_in_redis(&server.url(), prefix, &key).await,
        ["dave-1", "dave-2"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_on_two_machines_keep_all_tokens() {
    init_tracing();
    let Some(bin) = binary_or_skip() else { return };
    let server = RedisServer::start(&bin).await;
    let prefix = "conc:";
    let key = PartitionKey::user("erin.tid");

    // Two processes writing straight to Redis with read-modify-write + version check.
    let writer = |name: &'static str, store: RedisStore| {
        let key = key.clone();
        tokio::spawn(async move {
            for i in 0..25 {
                let scope = format!("{name}.{i}");
                update(&store, &key, |d| {
                    d.insert_access_token(access_token(Some("erin.tid"), &scope, &scope));
                })
                .await
                .expect("update");
            }
        })
    };
    let (a, b) = tokio::join!(
        writer("a", store(&server.url(), prefix)),
        writer("b", store(&server.url(), prefix))
    );
    a.unwrap();
    b.unwrap();
    assert_eq!(
        secrets_in_redis(&server.url(), prefix, &key).await.len(),
        50
    );

    // Two layered caches (two machines, each with its own L1) sharing Redis.
    let key = PartitionKey::user("frank.tid");
    let m1 = layered(&server.url(), prefix);
    let m2 = layered(&server.url(), prefix);
    let machine = |name: &'static str, cache: Layered<RedisStore>| {
        let key = key.clone();
        tokio::spawn(async move {
            for i in 0..25 {
                let scope = format!("{name}.{i}");
                update(&cache, &key, |d| {
                    d.insert_access_token(access_token(Some("frank.tid"), &scope, &scope));
                })
                .await
                .expect("update");
            }
        })
    };
    let (a, b) = tokio::join!(machine("m1", m1.clone()), machine("m2", m2.clone()));
    a.unwrap();
    b.unwrap();
    // Converge: anything a loaded machine could not send in time goes now.
    m1.flush_dirty().await.expect("flush m1");
    m2.flush_dirty().await.expect("flush m2");
    assert!(m1.dirty_partitions().is_empty() && m2.dirty_partitions().is_empty());
    let in_redis = secrets_in_redis(&server.url(), prefix, &key).await;
    assert_eq!(
        in_redis.len(),
        50,
        "no machine overwrote the other's tokens"
    );
    // Each machine's L1 holds at least its own 25 (plus whatever it merged in).
    for (m, name) in [(&m1, "m1."), (&m2, "m2.")] {
        let mine = l1_secrets(m, &key)
            .await
            .into_iter()
            .filter(|s| s.starts_with(name))
            .count();
        assert_eq!(mine, 25);
    }
}

/// XOR "encryption", only to show the codec seam carries every value.
struct Xor;

impl Codec for Xor {
    fn encode(&self, _: &PartitionKey, mut b: Vec<u8>) -> Result<Vec<u8>, PersistenceError> {
        b.iter_mut().for_each(|x| *x ^= 0x5a);
        Ok(b)
    }
    fn decode(&self, _: &PartitionKey, mut b: Vec<u8>) -> Result<Vec<u8>, PersistenceError> {
        b.iter_mut().for_each(|x| *x ^= 0x5a);
        Ok(b)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ttl_codec_and_corrupt_values() {
    init_tracing();
    let Some(bin) = binary_or_skip() else { return };
    let server = RedisServer::start(&bin).await;
    let prefix = "ttl:";
    let redis = store(&server.url(), prefix);
    let key = PartitionKey::app("cid", "tid");
    update(&redis, &key, |d| {
        d.insert_access_token(access_token(None, ".default", "app"));
    })
    .await
    .unwrap();
    let redis_key = redis.redis_key(&key);
    let ttl: i64 = raw(server.port, &format!("TTL {redis_key}"))
        .await
        .and_then(|r| r.trim_start_matches(':').parse().ok())
        .expect("TTL reply");
    assert!(
        (1..=3600).contains(&ttl),
        "TTL follows the access token expiry: {ttl}"
    );

    let user = PartitionKey::user("gina.tid");
    update(&redis, &user, |d| {
        let mut rt = RefreshToken::new("login.microsoftonline.com", "cid", CacheSecret::new("rt"));
        rt.home_account_id = Some("gina.tid".into());
        d.insert_refresh_token(rt);
    })
    .await
    .unwrap();
    let ttl: i64 = raw(server.port, &format!("TTL {}", redis.redis_key(&user)))
        .await
        .and_then(|r| r.trim_start_matches(':').parse().ok())
        .expect("TTL reply");
    assert!(
        ttl > 80 * 24 * 3600,
        "a refresh token keeps the partition ~90 days: {ttl}"
    );

    // The codec sees every value: what Redis holds is not the JSON.
    let coded = RedisStore::open(&server.url())
        .unwrap()
        .key_prefix("coded:")
        .codec(Arc::new(Xor));
    update(&coded, &key, |d| {
        d.insert_access_token(access_token(None, ".default", "secret-value"));
    })
    .await
    .unwrap();
    let raw_value = raw(server.port, &format!("HGET {} data", coded.redis_key(&key)))
        .await
        .unwrap();
    assert!(!raw_value.contains("secret-value") && !raw_value.contains("AccessToken"));
    let back = coded.load(&key).await.unwrap().unwrap();
    assert_eq!(
        back.document()
            .access_tokens
            .values()
            .next()
            .unwrap()
            .secret
            .secret(),
        "secret-value"
    );

    // A value that is not cache JSON is reported, not trusted and not a panic.
    assert_eq!(
        raw(
            server.port,
            &format!("HSET {} data not-json version 1", redis.redis_key(&user))
        )
        .await
        .as_deref(),
        Some(":0")
    );
    assert!(matches!(
        redis.load(&user).await,
        Err(PersistenceError::Corrupt(_))
    ));
    // Through the layered cache it reads as a miss, and the next write replaces it.
    let layered = layered(&server.url(), prefix);
    assert!(layered.load(&user).await.unwrap().is_none());
    update(&layered, &user, |d| {
        d.insert_access_token(access_token(Some("gina.tid"), "User.Read", "gina-1"));
    })
    .await
    .unwrap();
    assert!(layered.dirty_partitions().is_empty());
    assert_eq!(
        secrets_in_redis(&server.url(), prefix, &user).await,
        ["gina-1"]
    );
}
