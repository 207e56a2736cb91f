//! msal-lite's import of MSAL Python's own `serialize()` document vs MSAL Python 1.39's
//! `deserialize()` of the same bytes, side by side in one run, with the RSS of each process
//! after the import.
//!
//! ```text
//! MSAL_PYTHON=/path/to/venv/bin/python3 \
//!   cargo run --release -p benches --example cache_import_compare -- 10000 100000 [1000000]
//! ```
//!
//! For each size N, `benches/tools/msal_python_cache.py generate` has MSAL Python write the cache
//! of N signed-in users (2N + 3 entries) with its own `serialize()`. Then two fresh processes
//! read that file: this example re-run with `--child` (msal-lite's
//! `ConfidentialClient::import_msal_cache` into memory, the client of the document's app, no
//! store) and `msal_python_cache.py load` (`SerializableTokenCache.deserialize()`). Each times
//! only the import (the file is already read into memory), drops its input, and reports its
//! `VmRSS` and peak (`VmHWM` / `ru_maxrss`). The table goes to stdout.

#![expect(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a command-line tool reports on the terminal"
)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use serde_json::{Value, json};

const CLIENT_ID: &str = "4d2e6f8a-1b3c-4d5e-8f9a-0b1c2d3e4f5a";
const AUTHORITY: &str = "https://login.microsoftonline.com/f645ad92-e38d-4d1a-b510-d1b09a74a8ca";

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/msal_python_cache.py")
}

fn python() -> String {
    std::env::var("MSAL_PYTHON").unwrap_or_else(|_| "python3".into())
}

/// `VmRSS` and `VmHWM` of this process, in KiB.
fn rss_kb() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// The msal-lite side, in its own process.
fn child(path: &str) -> Value {
    let json = std::fs::read(path).expect("read the document");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let client = msal_lite::ConfidentialClient::builder(
        CLIENT_ID,
        AUTHORITY,
        msal_lite::ClientCredential::secret("unused"),
    )
    .http_client(|_r: msal_lite::http::HttpRequest| async {
        Err::<msal_lite::http::HttpResponse, _>(msal_lite::http::HttpError::body_too_large(0))
    })
    .build()
    .expect("client");
    let start = Instant::now();
    let report = runtime
        .block_on(client.import_msal_cache(&json))
        .expect("imports");
    let seconds = start.elapsed().as_secs_f64();
    drop(json);
    let (rss, peak) = rss_kb();
    // The client (and what it holds) is still alive here.
    let accounts = client.accounts().len();
    json!({
        "seconds": seconds, "entries": report.entries, "accounts": accounts,
        "rss_kb": rss, "peak_rss_kb": peak,
    })
}

fn run_json(command: &mut Command) -> Value {
    let out = command.output().expect("start the measurement process");
    assert!(
        out.status.success(),
        "{command:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{command:?} printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [flag, path] = args.as_slice()
        && flag == "--child"
    {
        println!("{}", child(path));
        return;
    }
    let sizes: Vec<usize> = if args.is_empty() {
        vec![10_000, 100_000]
    } else {
        args.iter()
            .map(|a| a.parse().expect("sizes are numbers"))
            .collect()
    };
    let me = std::env::current_exe().expect("own path");
    let dir = std::env::temp_dir();
    println!(
        "| tokens | entries | MB | MSAL Python deserialize | msal-lite import | ratio | RSS Python | RSS msal-lite | peak Python | peak msal-lite |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for n in sizes {
        let doc = dir.join(format!("msal-python-cache-{n}-{}.json", std::process::id()));
        let status = Command::new(python())
            .arg(script())
            .args(["generate", &n.to_string()])
            .arg(&doc)
            .status()
            .expect("run MSAL Python (set MSAL_PYTHON to a python with msal installed)");
        assert!(status.success(), "MSAL Python could not write the document");
        let mb = std::fs::metadata(&doc).map(|m| m.len()).unwrap_or(0) / 1_000_000;
        let lite = run_json(Command::new(&me).arg("--child").arg(&doc));
        let py = run_json(Command::new(python()).arg(script()).arg("load").arg(&doc));
        let _ = std::fs::remove_file(&doc);
        assert_eq!(lite["entries"], py["entries"], "both read every entry");
        let (ls, ps) = (
            lite["seconds"].as_f64().unwrap_or(0.0),
            py["seconds"].as_f64().unwrap_or(0.0),
        );
        let mib = |v: &Value, k: &str| v[k].as_u64().unwrap_or(0) / 1024;
        println!(
            "| {n} | {} | {mb} | {ps:.3} s | {ls:.3} s | {:.2}× | {} MiB | {} MiB | {} MiB | {} MiB |",
            lite["entries"],
            ls / ps,
            mib(&py, "rss_kb"),
            mib(&lite, "rss_kb"),
            mib(&py, "peak_rss_kb"),
            mib(&lite, "peak_rss_kb"),
        );
        eprintln!("{n}: msal-lite {lite} / MSAL Python {py}");
    }
}
