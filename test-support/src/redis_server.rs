//! A real `redis-server` on an ephemeral loopback port, killed on drop.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::tools::tool_or_skip;

/// A running `redis-server` (no persistence), stopped when dropped.
#[derive(Debug)]
pub struct RedisServer {
    binary: PathBuf,
    port: u16,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts a server on a free port and waits until it answers `PING`. `None` when
    /// `redis-server` is not installed and `REQUIRE_TEST_TOOLS` is not set.
    ///
    /// # Panics
    ///
    /// When the server cannot be started, or is missing while `REQUIRE_TEST_TOOLS` is set.
    pub fn start() -> Option<Self> {
        let binary = tool_or_skip("REDIS_SERVER", &["redis-server", "/usr/bin/redis-server"])?;
        // The port is free when we look, but another process may take it before redis binds:
        // retry with a new port a few times.
        for _ in 0..5 {
            let port = free_port();
            let mut server = Self {
                binary: binary.clone(),
                port,
                child: None,
            };
            if server.spawn().is_ok() {
                return Some(server);
            }
        }
        panic!("could not start redis-server on a free port");
    }

    /// `redis://127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Kills the server (SIGKILL) and waits for it to exit: an outage, as a test sees it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port (empty: no persistence) and waits for `PING`.
    ///
    /// # Panics
    ///
    /// When it does not come back within 10 s.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn()
            .expect("redis-server did not restart on its port");
    }

    fn spawn(&mut self) -> Result<(), String> {
        let child = Command::new(&self.binary)
            .args(["--bind", "127.0.0.1", "--port"])
            .arg(self.port.to_string())
            .args([
                "--save",
                "",
                "--appendonly",
                "no",
                "--protected-mode",
                "yes",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("spawn redis-server: {e}"))?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                self.child = None;
                return Err(format!("redis-server exited early: {status}"));
            }
            if ping(self.port) {
                return Ok(());
            }
            // Polling interval while the server boots (typically a few milliseconds).
            std::thread::sleep(Duration::from_millis(10));
        }
        self.kill();
        Err("redis-server did not answer PING within 10 s".into())
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind an ephemeral loopback port")
}

fn ping(port: u16) -> bool {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    if stream.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut buf = [0u8; 7];
    stream.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n"
}
