//! `cargo xtask fuzz [seconds]`: builds the cargo-fuzz targets once, then runs each for the
//! given time (default 60 s) and prints executions, speed and crashes per target.

use std::path::Path;
use std::process::Command;

/// What one target's run produced.
struct Outcome {
    target: String,
    executions: u64,
    per_second: u64,
    crashed: bool,
    artifacts: Vec<String>,
}

pub(crate) fn fuzz(args: &[String]) -> Result<(), String> {
    let seconds: u64 = match args.first() {
        Some(text) => text
            .parse()
            .map_err(|_| format!("`{text}` is not a number of seconds"))?,
        None => 60,
    };
    if crate::install::which("cargo-fuzz").is_none() {
        return Err("cargo-fuzz is not installed (`cargo install cargo-fuzz`)".to_owned());
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .ok_or("cannot find the workspace root")?
        .join("fuzz");
    // cargo-fuzz passes nightly-only flags; RUSTC_BOOTSTRAP lets a stable rustc accept them.
    let cargo_fuzz = |args: &[&str]| {
        let mut command = Command::new(cargo());
        command
            .current_dir(&root)
            .env("RUSTC_BOOTSTRAP", "1")
            .arg("fuzz")
            .args(args);
        command
    };
    let status = cargo_fuzz(&["build"])
        .status()
        .map_err(|e| format!("cargo fuzz build: {e}"))?;
    if !status.success() {
        return Err(format!("cargo fuzz build failed ({status})"));
    }
    let list = cargo_fuzz(&["list"])
        .output()
        .map_err(|e| format!("cargo fuzz list: {e}"))?;
    let targets: Vec<String> = String::from_utf8_lossy(&list.stdout)
        .lines()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect();

    let mut outcomes = Vec::new();
    for target in &targets {
        println!("\nxtask: ── fuzz {target} for {seconds} s ──");
        let corpus = format!("corpus/{target}");
        std::fs::create_dir_all(root.join(&corpus)).map_err(|e| format!("{corpus}: {e}"))?;
        let seeds = format!("seeds/{target}");
        let mut run_args = vec!["run", target.as_str(), corpus.as_str()];
        if root.join(&seeds).is_dir() {
            run_args.push(&seeds);
        }
        let max_time = format!("-max_total_time={seconds}");
        run_args.extend([
            "--",
            max_time.as_str(),
            "-rss_limit_mb=2048",
            "-max_len=20000",
            "-print_final_stats=1",
        ]);
        let output = cargo_fuzz(&run_args)
            .output()
            .map_err(|e| format!("cargo fuzz run {target}: {e}"))?;
        let log = String::from_utf8_lossy(&output.stderr);
        let stat = |name: &str| {
            log.lines()
                .find_map(|line| line.strip_prefix(name)?.trim().parse::<u64>().ok())
                .unwrap_or(0)
        };
        let artifacts: Vec<String> = log
            .lines()
            .filter_map(|line| line.split_once("Test unit written to "))
            .map(|(_, path)| path.trim().to_owned())
            .collect();
        outcomes.push(Outcome {
            target: target.clone(),
            executions: stat("stat::number_of_executed_units:"),
            per_second: stat("stat::average_exec_per_sec:"),
            crashed: !output.status.success(),
            artifacts,
        });
    }

    println!(
        "\n{:<20} {:>14} {:>10}  result",
        "target", "executions", "exec/s"
    );
    for o in &outcomes {
        let result = if o.crashed {
            format!("CRASH {}", o.artifacts.join(" "))
        } else {
            "no crash".to_owned()
        };
        println!(
            "{:<20} {:>14} {:>10}  {result}",
            o.target, o.executions, o.per_second
        );
    }
    if outcomes.iter().any(|o| o.crashed) {
        return Err(
            "a fuzz target crashed; replay with `cargo fuzz run <target> <artifact>`".into(),
        );
    }
    Ok(())
}

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned())
}
