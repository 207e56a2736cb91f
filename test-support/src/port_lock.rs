//! A cross-process lock for tests that bind a fixed port.
//!
//! The interop tests bind the dev tenant on `127.0.0.1:443` (MSAL Python drops the port from the
//! cache `environment`, so an ephemeral port would make the peers disagree). Two test binaries
//! doing that at once (nextest runs each test in its own process; two engineers may share a
//! machine) would collide with `AddrInUse`. An exclusive `flock(2)` on a well-known file
//! serializes them: the kernel releases it when the holder closes the file or exits, so a
//! crashed test never leaves the port "locked".

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

/// The file every test binding `127.0.0.1:443` locks.
pub const INTEROP_443_LOCK: &str = "/tmp/msal-lite-interop-443.lock";

/// An exclusive lock on a file, held until dropped (or the process exits).
#[derive(Debug)]
pub struct PortLock {
    path: PathBuf,
    // Closing the file releases the lock.
    _file: File,
}

impl PortLock {
    /// Blocks until this process holds the exclusive lock on `path` (created if missing).
    ///
    /// Blocking is deliberate: the kernel wakes the waiter the moment the holder releases the
    /// lock, so there is no polling or sleeping. Call it from a blocking context (in async
    /// tests, through `tokio::task::spawn_blocking`), or use [`PortLock::interop_443`].
    ///
    /// # Panics
    ///
    /// When the file cannot be opened or locked.
    #[must_use]
    pub fn acquire(path: impl AsRef<Path>) -> Self {
        let path = path.as_ref().to_path_buf();
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .unwrap_or_else(|e| panic!("cannot open the lock file {}: {e}", path.display()));
        file.lock()
            .unwrap_or_else(|e| panic!("cannot lock {}: {e}", path.display()));
        Self { path, _file: file }
    }

    /// Tries to take the lock without waiting: `None` when another process (or another
    /// [`PortLock`] in this one) holds it.
    ///
    /// # Panics
    ///
    /// When the file cannot be opened, or locking fails for a reason other than contention.
    #[must_use]
    pub fn try_acquire(path: impl AsRef<Path>) -> Option<Self> {
        let path = path.as_ref().to_path_buf();
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .unwrap_or_else(|e| panic!("cannot open the lock file {}: {e}", path.display()));
        match file.try_lock() {
            Ok(()) => Some(Self { path, _file: file }),
            Err(std::fs::TryLockError::WouldBlock) => None,
            Err(std::fs::TryLockError::Error(e)) => {
                panic!("cannot lock {}: {e}", path.display())
            }
        }
    }

    /// The lock for `127.0.0.1:443` ([`INTEROP_443_LOCK`]), for the whole life of one test.
    #[must_use]
    pub fn interop_443() -> Self {
        Self::acquire(INTEROP_443_LOCK)
    }

    /// The locked file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!("test-support-{name}-{}.lock", std::process::id()))
    }

    #[test]
    fn a_held_lock_excludes_others_until_dropped() {
        let path = scratch("held");
        let held = PortLock::acquire(&path);
        // flock locks belong to the open file description, so a second open in the same
        // process contends exactly as another process would.
        assert!(PortLock::try_acquire(&path).is_none(), "the lock is held");
        drop(held);
        let again = PortLock::try_acquire(&path).expect("free after drop");
        assert_eq!(again.path(), path);
        drop(again);
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn a_waiter_gets_the_lock_when_the_holder_releases_it() {
        let path = scratch("waiter");
        let held = PortLock::acquire(&path);
        let (tx, rx) = std::sync::mpsc::channel();
        let waiter = {
            let path = path.clone();
            std::thread::spawn(move || {
                let lock = PortLock::acquire(&path);
                tx.send(()).expect("send");
                lock
            })
        };
        assert!(
            rx.recv_timeout(std::time::Duration::from_millis(200))
                .is_err(),
            "the waiter got the lock while it was held"
        );
        drop(held);
        rx.recv_timeout(std::time::Duration::from_secs(10))
            .expect("the waiter gets the lock once it is released");
        drop(waiter.join().expect("join"));
        let _ = std::fs::remove_file(&path);
    }
}
