//! `cargo xtask load`: the request-level check of the middleware under `wrk` on loopback.
//!
//! Builds `bench-server` (benches crate) in release and runs, in interleaved rounds, each under
//! `wrk -t1 -c32 -d10s` with the server pinned to core 0 and `wrk` to core 1 when `taskset`
//! exists:
//!
//! * `bare` — an axum handler answering 204;
//! * `middleware` — the same handler behind edit-profile-middleware with a warm validation
//!   cache, every request carrying the same valid token;
//! * `cold` — the middleware with its validation cache off, `wrk` rotating through 2,000
//!   distinct valid tokens: every request is a full RS256 validation.
//!
//! Reports requests/s of each (median of the rounds), middleware ÷ bare (goal ≥ 0.95) and the
//! cold path in validations/s on the server's one core. Every server is stopped by closing its
//! standard input, and killed if it does not exit; every `wrk` run is killed past its deadline.
//! Results also go to `target/load/results.tsv` (read by `cargo xtask bench-report`).

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const DURATION_SECS: u64 = 10;
const CONNECTIONS: &str = "32";
const COLD_TOKENS: usize = 2_000;

/// Rotates through the tokens in `TOKENS_FILE`, one per request.
const COLD_LUA: &str = r#"local tokens = {}
for line in io.lines(os.getenv("TOKENS_FILE")) do tokens[#tokens + 1] = "Bearer " .. line end
local i = 0
request = function()
  i = i % #tokens + 1
  wrk.headers["Authorization"] = tokens[i]
  return wrk.format(nil, "/")
end
"#;

pub(crate) fn load(args: &[String]) -> Result<(), String> {
    if args
        .iter()
        .any(|a| a == "--update-user-info" || a == "--scaling")
    {
        return crate::load_user_info::load(args);
    }
    let rounds = count_arg(args, "--rounds", 3)?;
    let root = workspace_root()?;
    let wrk = ensure_wrk()?;
    let out = root.join("target/load");
    std::fs::create_dir_all(&out).map_err(|e| format!("mkdir {}: {e}", out.display()))?;
    let server = build_server(&root)?;
    run_load(rounds, &wrk, &out, &server)
}

/// Builds `bench-server` in release; returns the binary's path.
pub(crate) fn build_server(root: &Path) -> Result<PathBuf, String> {
    println!("xtask: building bench-server (release)");
    let status = Command::new(cargo())
        .current_dir(root)
        .args([
            "build",
            "--release",
            "-p",
            "benches",
            "--bin",
            "bench-server",
        ])
        .status()
        .map_err(|e| format!("could not run cargo: {e}"))?;
    if !status.success() {
        return Err(format!("building bench-server failed with {status}"));
    }
    Ok(target_dir(root).join("release/bench-server"))
}

/// `--name N` (a positive number), or `default`.
pub(crate) fn count_arg(args: &[String], name: &str, default: usize) -> Result<usize, String> {
    match args.iter().position(|a| a == name) {
        Some(i) => args
            .get(i + 1)
            .and_then(|n| n.parse().ok())
            .filter(|n| *n > 0)
            .ok_or_else(|| format!("{name} takes a positive number")),
        None => Ok(default),
    }
}

/// Where cargo puts build output: `CARGO_TARGET_DIR` when set, else `<workspace>/target`.
fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
}

fn run_load(rounds: usize, wrk: &Path, out: &Path, server: &Path) -> Result<(), String> {
    let token = output(Command::new(server).arg("token"))?.trim().to_owned();
    let tokens_file = out.join("tokens.txt");
    let tokens = output(Command::new(server).args(["tokens", &COLD_TOKENS.to_string()]))?;
    std::fs::write(&tokens_file, tokens).map_err(|e| format!("write tokens: {e}"))?;
    let lua = out.join("cold.lua");
    std::fs::write(&lua, COLD_LUA).map_err(|e| format!("write {}: {e}", lua.display()))?;

    let taskset = crate::install::which("taskset");
    if taskset.is_none() {
        println!("xtask: taskset not found; server and wrk are not pinned");
    }
    let mut results: Vec<(&str, Vec<f64>)> =
        vec![("bare", vec![]), ("middleware", vec![]), ("cold", vec![])];
    for round in 1..=rounds {
        for (mode, samples) in &mut results {
            let mode: &str = mode;
            let server_mode = if mode == "cold" {
                "middleware-cold"
            } else {
                mode
            };
            let mut child = Server::start(server, &[server_mode], taskset.as_deref(), "0")?;
            let mut wrk_cmd = pinned(wrk, taskset.as_deref(), "1");
            wrk_cmd.args(["-t1", "-c", CONNECTIONS, "-d", &format!("{DURATION_SECS}s")]);
            if mode == "cold" {
                wrk_cmd.arg("-s").arg(&lua).env("TOKENS_FILE", &tokens_file);
            } else {
                // Bare and middleware runs send the same request bytes.
                wrk_cmd.args(["-H", &format!("Authorization: Bearer {token}")]);
            }
            wrk_cmd.arg(format!("http://{}/", child.addr));
            let report = run_bounded(&mut wrk_cmd, Duration::from_secs(DURATION_SECS + 30));
            child.stop();
            let report = report?;
            if report.contains("Non-2xx or 3xx responses") {
                return Err(format!(
                    "{mode}: the server rejected requests (the token did not validate):\n{report}"
                ));
            }
            let rps = requests_per_sec(&report)
                .ok_or_else(|| format!("{mode}: no Requests/sec in wrk output:\n{report}"))?;
            println!(
                "xtask: round {round}/{rounds} {mode:<10} {rps:>10.0} req/s  (load average {})",
                load_average()
            );
            samples.push(rps);
        }
    }

    let median = |v: &[f64]| {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        let mid = v.len() / 2;
        if v.len().is_multiple_of(2) {
            (v[mid - 1] + v[mid]) / 2.0
        } else {
            v[mid]
        }
    };
    // Each round's own ratio: the two runs of a round are 10 s apart, so slow drifts in the
    // machine's load cancel better than in the ratio of medians.
    let round_ratios: Vec<f64> = results[1]
        .1
        .iter()
        .zip(&results[0].1)
        .map(|(warm, bare)| warm / bare)
        .collect();
    let round_ratio = median(&round_ratios);
    let bare = median(&results[0].1);
    let warm = median(&results[1].1);
    let cold = median(&results[2].1);
    let (cores, model) = machine();
    let summary = format!(
        "# wrk -t1 -c{CONNECTIONS} -d{DURATION_SECS}s, median of {rounds} interleaved rounds; server pinned: {}; {cores} cores, {model}; load average at end {}\n\
         bare_req_per_s\t{bare:.0}\n\
         middleware_warm_req_per_s\t{warm:.0}\n\
         middleware_over_bare\t{:.3}\n\
         middleware_over_bare_median_of_rounds\t{round_ratio:.3}\n\
         cold_validations_per_s_per_core\t{cold:.0}\n\
         cold_over_bare\t{:.3}\n",
        taskset.is_some(),
        load_average(),
        warm / bare,
        cold / bare,
    );
    std::fs::write(out.join("results.tsv"), &summary).map_err(|e| format!("write results: {e}"))?;
    println!(
        "\nxtask: load results (median of {rounds} rounds)\n  bare handler          {bare:>10.0} req/s\n  middleware, warm      {warm:>10.0} req/s  = {:.3} × bare (goal ≥ 0.95); per round: median {round_ratio:.3}\n  middleware, cold      {cold:>10.0} validations/s/core  = {:.3} × bare\n  written to {}",
        warm / bare,
        cold / bare,
        out.join("results.tsv").display()
    );
    Ok(())
}

/// A running `bench-server`; stopped by closing its stdin, killed if it lingers.
pub(crate) struct Server {
    pub(crate) child: Child,
    pub(crate) addr: String,
}

impl Server {
    /// Starts `binary args…`, pinned to `cores` (a `taskset -c` list) when `taskset` is given.
    pub(crate) fn start(
        binary: &Path,
        args: &[&str],
        taskset: Option<&Path>,
        cores: &str,
    ) -> Result<Self, String> {
        let mode = args.join(" ");
        let mut cmd = pinned(binary, taskset, cores);
        cmd.args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("could not start {}: {e}", binary.display()))?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let mut line = String::new();
        // The server prints its address first; a failed start closes stdout instead.
        let read = BufReader::new(stdout).read_line(&mut line);
        let addr = line.trim().strip_prefix("listening on ").map(str::to_owned);
        match (read, addr) {
            (Ok(_), Some(addr)) => Ok(Self { child, addr }),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                Err(format!("bench-server {mode} did not start: {line:?}"))
            }
        }
    }

    pub(crate) fn stop(&mut self) {
        drop(self.child.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.stop();
        }
    }
}

pub(crate) fn pinned(program: &Path, taskset: Option<&Path>, core: &str) -> Command {
    match taskset {
        Some(taskset) => {
            let mut cmd = Command::new(taskset);
            cmd.arg("-c").arg(core).arg(program);
            cmd
        }
        None => Command::new(program),
    }
}

/// Runs `cmd` to completion with a deadline; returns its stdout.
pub(crate) fn run_bounded(cmd: &mut Command, limit: Duration) -> Result<String, String> {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("could not start wrk: {e}"))?;
    let mut stdout = child.stdout.take().ok_or("no stdout")?;
    // Read in a thread so that a full pipe cannot block the child while we poll it.
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut stdout, &mut s);
        s
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("wrk did not finish within {}s", limit.as_secs()));
            }
            Err(e) => return Err(format!("waiting for wrk: {e}")),
        }
    };
    let out = reader.join().unwrap_or_default();
    if status.success() {
        Ok(out)
    } else {
        let mut err = String::new();
        if let Some(mut e) = child.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut e, &mut err);
        }
        Err(format!("wrk failed with {status}: {err}{out}"))
    }
}

pub(crate) fn requests_per_sec(report: &str) -> Option<f64> {
    report
        .lines()
        .find_map(|l| l.trim().strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
}

pub(crate) fn output(cmd: &mut Command) -> Result<String, String> {
    let out = cmd
        .output()
        .map_err(|e| format!("could not run {cmd:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!("{cmd:?} failed with {}", out.status));
    }
    String::from_utf8(out.stdout).map_err(|_| format!("{cmd:?} printed non-UTF-8"))
}

pub(crate) fn ensure_wrk() -> Result<PathBuf, String> {
    if let Some(wrk) = crate::install::which("wrk") {
        return Ok(wrk);
    }
    let command = "apt-get update && apt-get install -y --no-install-recommends wrk";
    if !is_root() {
        return Err(format!(
            "the load test needs wrk, which is not installed; run as root:\n    {command}"
        ));
    }
    println!("xtask: installing wrk");
    for args in [
        &["update", "-q"][..],
        &["install", "-y", "-q", "--no-install-recommends", "wrk"][..],
    ] {
        let status = Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .map_err(|e| format!("could not run apt-get: {e}"))?;
        if !status.success() {
            return Err(format!("`apt-get {}` failed with {status}", args.join(" ")));
        }
    }
    crate::install::which("wrk").ok_or_else(|| "wrk is still missing after apt-get".to_owned())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

pub(crate) fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split(' ').next().map(str::to_owned))
        .unwrap_or_else(|| "?".to_owned())
}

/// (`nproc`, the CPU model from `/proc/cpuinfo`).
pub(crate) fn machine() -> (String, String) {
    let cores = std::thread::available_parallelism()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".to_owned());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    (cores, model)
}

pub(crate) fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned())
}

pub(crate) fn workspace_root() -> Result<PathBuf, String> {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(PathBuf::from)
        .ok_or_else(|| "cannot find the workspace root".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_wrk_requests_per_second() {
        let report = "Running 10s test @ http://127.0.0.1:1/\n  1 threads and 32 connections\nRequests/sec: 123456.78\nTransfer/sec:      9.54MB\n";
        assert_eq!(requests_per_sec(report), Some(123_456.78));
        assert_eq!(requests_per_sec("garbage"), None);
    }
}
