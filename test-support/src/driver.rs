//! Running a peer driver script (MSAL Node, MSAL Python) as a subprocess: one request on stdin,
//! one answer on stdout, bounded by a timeout.

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Runs `command` with `request` on its stdin and returns its stdout.
///
/// Blocking: call it from `tokio::task::spawn_blocking` when the server under test runs on the
/// same runtime. The wait happens on a helper thread and is bounded by `timeout` (no polling);
/// a driver still running then is killed.
///
/// # Panics
///
/// When the program cannot start, exits unsuccessfully (its stderr is in the message), or runs
/// past `timeout`.
pub fn run_driver(mut command: Command, request: &str, timeout: Duration) -> String {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"));
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(request.as_bytes())
        .expect("write the request to the driver");
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let Ok(output) = rx.recv_timeout(timeout) else {
        let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
        panic!("{command:?} did not finish within {timeout:?}");
    };
    let output = output.expect("wait for the driver");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{command:?} failed ({}):\n{stderr}",
        output.status
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}
