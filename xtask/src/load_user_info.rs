//! `cargo xtask load --update-user-info` and `cargo xtask load --scaling`: issue 20's request
//! shape under `wrk`, with the cold path's ratio to its verify-bound limit.
//!
//! The shape: `POST /updateUserInfo` with a 52-byte JSON body the handler reads, answering 204,
//! every request carrying a 1.3 KB RS256 token with 20 claims (Entra v2 shape), the layer built
//! from a `jwks_uri` with `require_scopes` and `require_mfa(amr_mfa)`, the server on a tokio
//! multi-thread runtime (`--workers N`, default 1) pinned to core 0 and `wrk -t1 -c32 -d10s`
//! pinned to core 1, each run after a 2 s warm-up that is not counted. Variants, interleaved in
//! every round (`--rounds N`, default 3):
//!
//! * `bare` — the handler alone;
//! * `warm` — behind the layer, validation cache on, one repeated token;
//! * `nocache_repeat` — `cache_capacity(0)`, one repeated token (every request verifies);
//! * `nocache_distinct` — `cache_capacity(0)`, 10,000 distinct tokens in rotation;
//! * `cache_distinct` — cache on (10,000 entries), the same 10,000 tokens in rotation.
//!
//! Each round also times a bare pre-parsed aws-lc RS256 verify on core 0
//! (`bench-server verify-time`). The verify-bound limit of the cold path is
//! `1 / (1 / bare_req_per_s + verify_s)`: the bare server's cost per request plus one verify,
//! the least a request that verifies can cost. Goals: warm ≥ 0.98 × bare; cold ≥ 0.90 × limit.
//!
//! Besides requests/s, every run reads the server's CPU time (`/proc/PID/stat`, all threads)
//! before and after `wrk`, giving server CPU µs per request. That figure counts only the
//! server's own work, whatever `wrk` costs; `--scaling` uses it to separate the load generator
//! from the server on a 2-core machine where `wrk` must share the cores with two workers.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::load::{
    Server, build_server, count_arg, ensure_wrk, load_average, machine, output, pinned,
    requests_per_sec, run_bounded, workspace_root,
};

const DURATION_SECS: u64 = 10;
const WARMUP_SECS: u64 = 2;
const CONNECTIONS: &str = "32";
const DISTINCT_TOKENS: usize = 10_000;
const PATH: &str = "/updateUserInfo";

/// The same request for every call: `wrk` builds it once.
const REPEAT_LUA: &str = r#"wrk.method = "POST"
wrk.body = '{"displayName":"Alice Example","city":"Seattle, WA"}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
"#;

/// Rotates through the tokens in `TOKENS_FILE`, one per request.
const DISTINCT_LUA: &str = r#"wrk.method = "POST"
wrk.body = '{"displayName":"Alice Example","city":"Seattle, WA"}'
wrk.headers["Content-Type"] = "application/json"
local tokens = {}
for line in io.lines(os.getenv("TOKENS_FILE")) do tokens[#tokens + 1] = "Bearer " .. line end
local i = 0
request = function()
  i = i % #tokens + 1
  wrk.headers["Authorization"] = tokens[i]
  return wrk.format()
end
"#;

#[derive(Clone, Copy, PartialEq)]
enum Tokens {
    Repeat,
    Distinct,
}

struct Variant {
    name: &'static str,
    mode: &'static str,
    tokens: Tokens,
    workers: usize,
    rps: Vec<f64>,
    cpu_us: Vec<f64>,
}

impl Variant {
    fn new(name: &'static str, mode: &'static str, tokens: Tokens, workers: usize) -> Self {
        Self {
            name,
            mode,
            tokens,
            workers,
            rps: vec![],
            cpu_us: vec![],
        }
    }
}

struct Setup<'a> {
    server: &'a Path,
    wrk: &'a Path,
    taskset: Option<&'a Path>,
    token: String,
    tokens_file: &'a Path,
    repeat_lua: &'a Path,
    distinct_lua: &'a Path,
    clock_ticks: f64,
}

pub(crate) fn load(args: &[String]) -> Result<(), String> {
    let rounds = count_arg(args, "--rounds", 3)?;
    let workers = count_arg(args, "--workers", 1)?;
    let scaling = args.iter().any(|a| a == "--scaling");
    let root = workspace_root()?;
    let wrk = ensure_wrk()?;
    let out = root.join("target/load");
    std::fs::create_dir_all(&out).map_err(|e| format!("mkdir {}: {e}", out.display()))?;
    let server = build_server(&root)?;

    let token = output(Command::new(&server).arg("token"))?
        .trim()
        .to_owned();
    let tokens_file = out.join(format!("tokens-{DISTINCT_TOKENS}.txt"));
    let have = std::fs::read_to_string(&tokens_file)
        .map(|s| s.lines().count())
        .unwrap_or(0);
    if have != DISTINCT_TOKENS {
        println!("xtask: signing {DISTINCT_TOKENS} distinct tokens");
        let tokens = output(Command::new(&server).args(["tokens", &DISTINCT_TOKENS.to_string()]))?;
        std::fs::write(&tokens_file, tokens).map_err(|e| format!("write tokens: {e}"))?;
    }
    let repeat_lua = out.join("update-user-info.lua");
    let distinct_lua = out.join("update-user-info-distinct.lua");
    for (path, text) in [(&repeat_lua, REPEAT_LUA), (&distinct_lua, DISTINCT_LUA)] {
        std::fs::write(path, text).map_err(|e| format!("write {}: {e}", path.display()))?;
    }
    let taskset = crate::install::which("taskset");
    if taskset.is_none() {
        println!("xtask: taskset not found; server and wrk are not pinned");
    }
    let clock_ticks = output(Command::new("getconf").arg("CLK_TCK"))
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0);
    let setup = Setup {
        server: &server,
        wrk: &wrk,
        taskset: taskset.as_deref(),
        token,
        tokens_file: &tokens_file,
        repeat_lua: &repeat_lua,
        distinct_lua: &distinct_lua,
        clock_ticks,
    };
    if scaling {
        return run_scaling(&setup, rounds, &out);
    }

    let mut variants = vec![
        Variant::new("bare", "uui-bare", Tokens::Repeat, workers),
        Variant::new("warm", "uui-warm", Tokens::Repeat, workers),
        Variant::new("nocache_repeat", "uui-nocache", Tokens::Repeat, workers),
        Variant::new("nocache_distinct", "uui-nocache", Tokens::Distinct, workers),
        Variant::new("cache_distinct", "uui-warm", Tokens::Distinct, workers),
        // The bare handler plus one verify per request and no layer: what the formula's limit
        // predicts, measured under the same load (the per-request cost of everything else
        // changes with the rate, which the formula assumes it does not).
        Variant::new("bare_verify", "uui-bare-verify", Tokens::Repeat, workers),
    ];
    let (mut verify_us, mut verify_cpu_us) = (vec![], vec![]);
    for round in 1..=rounds {
        for variant in &mut variants {
            run_one(&setup, variant, round, rounds)?;
        }
        let (wall, cpu) = verify_time(&setup)?;
        println!("xtask: round {round}/{rounds} bare RS256 verify {wall:.2} µs ({cpu:.2} CPU µs)");
        verify_us.push(wall);
        verify_cpu_us.push(cpu);
    }
    let verify_cpu = median(&verify_cpu_us);

    let bare = median(&variants[0].rps);
    let verify = median(&verify_us);
    // The least a request that verifies can cost: the bare server's cost plus one verify.
    let limit = 1.0 / (1.0 / bare + verify * 1e-6);
    let bare_cpu = median(&variants[0].cpu_us);
    let (cores, model) = machine();
    let mut tsv = format!(
        "# update-user-info shape: wrk -t1 -c{CONNECTIONS} -d{DURATION_SECS}s after {WARMUP_SECS}s warm-up, median of {rounds} interleaved rounds, {workers} worker(s); server pinned: {}; {cores} cores, {model}; load average at end {}\n\
         variant\treq_per_s\tover_bare\tover_verify_bound\tus_per_req_beyond_bare\tserver_cpu_us_per_req\n",
        setup.taskset.is_some(),
        load_average(),
    );
    let mut table = format!(
        "\nxtask: update-user-info shape, median of {rounds} interleaved rounds, {workers} worker(s)\n\
         \n| variant | req/s | × bare | × verify-bound limit | µs/req beyond bare (1/rate) | server CPU µs/req |\n|---|---|---|---|---|---|\n"
    );
    for v in &variants {
        let rps = median(&v.rps);
        let cpu = median(&v.cpu_us);
        let beyond = 1e6 / rps - 1e6 / bare;
        let bound = if v.name.starts_with("nocache") || v.name == "bare_verify" {
            format!(
                "{:.3} (by server CPU: {:.3})",
                rps / limit,
                (bare_cpu + verify_cpu) / cpu
            )
        } else {
            "—".to_owned()
        };
        tsv.push_str(&format!(
            "{}\t{rps:.0}\t{:.3}\t{bound}\t{beyond:.2}\t{cpu:.2}\n",
            v.name,
            rps / bare
        ));
        table.push_str(&format!(
            "| {} | {rps:.0} | {:.3} | {bound} | {beyond:.2} | {cpu:.2} |\n",
            v.name,
            rps / bare
        ));
    }
    tsv.push_str(&format!(
        "verify_us\t{verify:.3}\nverify_cpu_us\t{verify_cpu:.3}\nverify_bound_req_per_s\t{limit:.0}\n"
    ));
    let cold = median(&variants[3].rps);
    let cold_cpu = median(&variants[3].cpu_us);
    let measured_limit = median(&variants[5].rps);
    let measured_limit_cpu = median(&variants[5].cpu_us);
    table.push_str(&format!(
        "\nbare RS256 verify {verify:.2} µs, {verify_cpu:.2} CPU µs (medians of {rounds}); verify-bound limit {limit:.0} req/s\n\
         warm ÷ bare {:.3} (goal ≥ 0.98; by server CPU {:.3}); cold (cache off, distinct tokens) ÷ limit {:.3} (goal ≥ 0.90; by server CPU {:.3})\n\
         cold path beyond the verify: {:.2} µs/req by rate, {:.2} µs/req by server CPU\n\
         measured limit (bare handler + one verify, no layer) {measured_limit:.0} req/s = {:.3} × the formula's; cold ÷ measured limit {:.3} (by server CPU {:.3}): the layer's own cost under load\n",
        median(&variants[1].rps) / bare,
        bare_cpu / median(&variants[1].cpu_us),
        cold / limit,
        (bare_cpu + verify_cpu) / cold_cpu,
        1e6 / cold - 1e6 / bare - verify,
        cold_cpu - bare_cpu - verify_cpu,
        measured_limit / limit,
        cold / measured_limit,
        measured_limit_cpu / cold_cpu,
    ));
    tsv.push_str(&format!(
        "measured_limit_req_per_s\t{measured_limit:.0}\ncold_over_measured_limit\t{:.3}\n",
        cold / measured_limit
    ));
    let file = out.join("update_user_info.tsv");
    std::fs::write(&file, &tsv).map_err(|e| format!("write {}: {e}", file.display()))?;
    println!("{table}written to {}", file.display());
    Ok(())
}

/// One worker against two, warm path, interleaved. With `wrk` on the same two cores, requests/s
/// of two workers measures the machine, not the server; the server's CPU time per request does
/// not include `wrk`, so `2 × cpu(1 worker) ÷ cpu(2 workers)` is the scaling two workers would
/// reach with two cores of their own (it includes the cost of sharing caches and locks between
/// the workers, which is what stops scaling).
fn run_scaling(setup: &Setup<'_>, rounds: usize, out: &Path) -> Result<(), String> {
    let mut variants = vec![
        Variant::new("warm_1_worker", "uui-warm", Tokens::Repeat, 1),
        Variant::new("warm_2_workers", "uui-warm", Tokens::Repeat, 2),
    ];
    for round in 1..=rounds {
        for variant in &mut variants {
            run_one(setup, variant, round, rounds)?;
        }
    }
    let (rps1, rps2) = (median(&variants[0].rps), median(&variants[1].rps));
    let (cpu1, cpu2) = (median(&variants[0].cpu_us), median(&variants[1].cpu_us));
    let projected = 2.0 * cpu1 / cpu2;
    let summary = format!(
        "# scaling, warm path: wrk -t1 -c{CONNECTIONS} -d{DURATION_SECS}s; 1 worker on core 0 with wrk on core 1; 2 workers on cores 0-1 with wrk unpinned; median of {rounds} rounds; load average at end {}\n\
         rps_1_worker\t{rps1:.0}\nrps_2_workers\t{rps2:.0}\nraw_ratio\t{:.3}\n\
         server_cpu_us_per_req_1_worker\t{cpu1:.3}\nserver_cpu_us_per_req_2_workers\t{cpu2:.3}\n\
         projected_scaling_2_cores\t{projected:.3}\n",
        load_average(),
        rps2 / rps1,
    );
    let file = out.join("scaling.tsv");
    std::fs::write(&file, &summary).map_err(|e| format!("write {}: {e}", file.display()))?;
    println!(
        "\nxtask: warm path, 1 worker {rps1:.0} req/s ({cpu1:.2} server CPU µs/req), 2 workers {rps2:.0} req/s ({cpu2:.2} µs/req)\n\
         raw ratio {:.3} (wrk shares the two cores); projected from server CPU per request: {projected:.3} (goal ≥ 1.8)\n\
         written to {}",
        rps2 / rps1,
        file.display()
    );
    Ok(())
}

fn run_one(
    setup: &Setup<'_>,
    variant: &mut Variant,
    round: usize,
    rounds: usize,
) -> Result<(), String> {
    let workers = variant.workers.to_string();
    // One worker: server on core 0, wrk on core 1. More: the server may use every core and wrk
    // is not pinned (its CPU is excluded through the server CPU figure).
    let (server_cores, wrk_core) = if variant.workers == 1 {
        ("0", Some("1"))
    } else {
        ("0-1", None)
    };
    let mut child = Server::start(
        setup.server,
        &[variant.mode, "--workers", &workers],
        setup.taskset,
        server_cores,
    )?;
    let url = format!("http://{}{PATH}", child.addr);
    let wrk = |secs: u64| {
        let mut cmd = match wrk_core {
            Some(core) => pinned(setup.wrk, setup.taskset, core),
            None => Command::new(setup.wrk),
        };
        cmd.args(["-t1", "-c", CONNECTIONS, "-d", &format!("{secs}s"), "-s"]);
        match variant.tokens {
            Tokens::Repeat => cmd.arg(setup.repeat_lua).env("TOKEN", &setup.token),
            Tokens::Distinct => cmd
                .arg(setup.distinct_lua)
                .env("TOKENS_FILE", setup.tokens_file),
        };
        cmd.arg(&url);
        run_bounded(&mut cmd, Duration::from_secs(secs + 30))
    };
    let name = variant.name;
    let result = (|| {
        check(name, &wrk(WARMUP_SECS)?)?;
        let pid = child.child.id();
        let before = cpu_seconds(pid, setup.clock_ticks)?;
        let report = wrk(DURATION_SECS)?;
        let after = cpu_seconds(pid, setup.clock_ticks)?;
        check(name, &report)?;
        let rps = requests_per_sec(&report)
            .ok_or_else(|| format!("{name}: no Requests/sec in wrk output:\n{report}"))?;
        let requests = rps * DURATION_SECS as f64;
        Ok::<_, String>((rps, (after - before) * 1e6 / requests))
    })();
    child.stop();
    let (rps, cpu_us) = result?;
    println!(
        "xtask: round {round}/{rounds} {name:<18} {rps:>10.0} req/s  {cpu_us:>6.2} server CPU µs/req  (load average {})",
        load_average()
    );
    variant.rps.push(rps);
    variant.cpu_us.push(cpu_us);
    Ok(())
}

fn check(name: &str, report: &str) -> Result<(), String> {
    if report.contains("Non-2xx or 3xx responses") {
        return Err(format!(
            "{name}: the server rejected requests (the token did not validate):\n{report}"
        ));
    }
    Ok(())
}

/// A bare pre-parsed RS256 verify on the server's core, in µs: (wall, CPU).
fn verify_time(setup: &Setup<'_>) -> Result<(f64, f64), String> {
    let mut cmd = pinned(setup.server, setup.taskset, "0");
    let text = output(cmd.arg("verify-time"))?;
    let mut parts = text.split_ascii_whitespace().map(str::parse::<f64>);
    match (parts.next(), parts.next()) {
        (Some(Ok(wall)), Some(Ok(cpu))) => Ok((wall, cpu)),
        _ => Err(format!("verify-time printed {text:?}")),
    }
}

/// User + system CPU seconds of every thread of process `pid`.
fn cpu_seconds(pid: u32, clock_ticks: f64) -> Result<f64, String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map_err(|e| format!("read /proc/{pid}/stat: {e}"))?;
    parse_cpu_ticks(&stat)
        .map(|ticks| ticks as f64 / clock_ticks)
        .ok_or_else(|| format!("cannot parse /proc/{pid}/stat: {stat:?}"))
}

/// `utime + stime` (fields 14 and 15 of `proc(5)`), counted after the parenthesised command name,
/// which may itself contain spaces and parentheses.
fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_ascii_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    if v.len().is_multiple_of(2) {
        (v[mid - 1] + v[mid]) / 2.0
    } else {
        v[mid]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cpu_ticks_from_proc_stat() {
        // proc(5): pid (comm) state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt
        // cmajflt utime stime ...
        let stat =
            "4242 (bench (server)) S 1 4242 4242 0 -1 4194560 900 0 0 0 1234 56 0 0 20 0 3 0";
        assert_eq!(parse_cpu_ticks(stat), Some(1290));
        assert_eq!(parse_cpu_ticks("garbage"), None);
        assert_eq!(parse_cpu_ticks("1 (x) S 1 2"), None);
        let own = std::fs::read_to_string("/proc/self/stat").unwrap();
        assert!(parse_cpu_ticks(&own).is_some(), "{own}");
    }

    #[test]
    fn median_of_odd_and_even() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
    }
}
