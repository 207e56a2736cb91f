//! The steps of `cargo xtask test`, in order, each timed.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::install;

/// One check: a display name and the command that runs it.
struct Step {
    name: &'static str,
    program: String,
    args: Vec<String>,
    envs: Vec<(String, String)>,
}

impl Step {
    fn cargo(name: &'static str, args: &[&str]) -> Self {
        Self {
            name,
            program: cargo(),
            args: args.iter().map(|s| (*s).to_owned()).collect(),
            envs: Vec::new(),
        }
    }

    fn env(mut self, key: &str, value: &str) -> Self {
        self.envs.push((key.to_owned(), value.to_owned()));
        self
    }
}

/// The published libraries, built by clippy once per feature (cargo-hack), warnings denied.
fn each_feature() -> Step {
    let mut args = vec!["hack", "clippy", "--each-feature"];
    for krate in LIBRARIES {
        args.extend(["-p", krate]);
    }
    args.extend(["--", "-D", "warnings"]);
    Step::cargo("each feature", &args)
}

/// The published crates package together (their path dependencies resolve to each other).
/// `--no-verify`: the steps before already compiled and tested exactly these sources.
fn package() -> Step {
    let mut args = vec!["package"];
    for krate in LIBRARIES {
        args.extend(["-p", krate]);
    }
    args.extend(["--no-verify", "--allow-dirty", "--quiet"]);
    Step::cargo("package", &args)
}

/// The crates published to crates.io.
pub(crate) const LIBRARIES: &[&str] = &[
    "msal-lite",
    "edit-profile-middleware",
    "entra-bearer",
    "dev-tenant",
];

/// `cargo xtask test [--no-install]`.
pub(crate) fn test(args: &[String]) -> Result<(), String> {
    let started = Instant::now();
    let root = workspace_root()?;
    std::env::set_current_dir(&root).map_err(|e| format!("cd {}: {e}", root.display()))?;

    let tools = if args.iter().any(|a| a == "--no-install") {
        Vec::new()
    } else {
        // cargo-fuzz and cargo-deny too: without them the fuzz smoke and `cargo deny` skip.
        crate::cargo_tools::ensure_cargo_tools()?;
        crate::peers::with_peers(install::ensure_test_tools()?)?
    };

    let mut steps = vec![
        Step::cargo("rustfmt", &["fmt", "--all", "--", "--check"]),
        Step::cargo(
            "clippy",
            &[
                "clippy",
                "--workspace",
                "--all-targets",
                "--all-features",
                "--",
                "-D",
                "warnings",
            ],
        ),
        // Unit, integration and doc tests of every crate. Tests that need redis-server or
        // Chromium find them through the variables below and fail (not skip) when
        // REQUIRE_TEST_TOOLS is set.
        Step::cargo("tests", &["test", "--workspace", "--all-features"]),
        // Criterion's test mode runs each bench once: a smoke run, not a measurement.
        Step::cargo("bench smoke", &["test", "-p", "benches", "--benches"]),
        Step::cargo(
            "rustdoc",
            &["doc", "--workspace", "--no-deps", "--all-features"],
        )
        // Without `--cfg docsrs`: that cfg turns on nightly-only `doc_cfg` (docs.rs builds with it).
        .env("RUSTDOCFLAGS", "-D warnings"),
        package(),
    ];
    // Each library feature on its own (and none, and all), right after clippy: `--all-features`
    // can hide an import or an item that only one feature set uses.
    if install::which("cargo-hack").is_some() {
        steps.insert(2, each_feature());
    } else {
        println!(
            "xtask: cargo-hack is not installed (`cargo install cargo-hack`); each-feature check skipped"
        );
    }
    for step in &mut steps {
        step.envs.push(("REQUIRE_TEST_TOOLS".into(), "1".into()));
        for (key, path) in &tools {
            step.envs
                .push(((*key).to_owned(), path.to_string_lossy().into_owned()));
        }
    }

    let mut timings = Vec::new();
    // Figures quoted in the docs must equal their generated source (docs/plots/figures.md).
    let figures_started = Instant::now();
    let figures = crate::doc_figures::check(&root)?;
    println!("xtask: doc figures: {figures} marked figures match docs/plots/figures.md");
    timings.push(("doc figures", figures_started.elapsed()));
    for step in &steps {
        let took = run(step)?;
        timings.push((step.name, took));
    }
    if let Some(step) = fuzz_smoke(&root) {
        let took = run(&step)?;
        timings.push((step.name, took));
    } else {
        println!("xtask: cargo-fuzz is not installed; fuzz smoke run skipped");
    }
    for step in supply_chain(&root) {
        let took = run(&step)?;
        timings.push((step.name, took));
    }

    println!("\nxtask: all checks passed");
    for (name, took) in timings {
        println!("  {name:<12} {:>6.1}s", took.as_secs_f64());
    }
    println!(
        "  {:<12} {:>6.1}s",
        "total",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// `cargo xtask docs`: rustdoc for the workspace, and the mdBook in `docs/` when `mdbook` is
/// installed (`cargo install mdbook`).
pub(crate) fn docs() -> Result<(), String> {
    let root = workspace_root()?;
    std::env::set_current_dir(&root).map_err(|e| format!("cd {}: {e}", root.display()))?;
    run(&Step::cargo(
        "rustdoc",
        &["doc", "--workspace", "--no-deps", "--all-features"],
    )
    .env("RUSTDOCFLAGS", "-D warnings"))?;
    if install::which("mdbook").is_none() {
        println!("xtask: mdbook is not installed (`cargo install mdbook`); the book was not built");
        return Ok(());
    }
    run(&Step {
        name: "book",
        program: "mdbook".into(),
        args: vec!["build".into(), "docs".into()],
        envs: Vec::new(),
    })?;
    println!("xtask: the book is in target/book/index.html");
    Ok(())
}

fn fuzz_smoke(root: &std::path::Path) -> Option<Step> {
    let script = root.join("fuzz").join("smoke.sh");
    if !script.is_file() || install::which("cargo-fuzz").is_none() {
        return None;
    }
    Some(Step {
        name: "fuzz smoke",
        program: "bash".into(),
        args: vec![script.to_string_lossy().into_owned()],
        // A few seconds per target: "builds and survives", not a campaign (`cargo xtask fuzz`).
        // Dev mode: a cold sanitizer build of the five targets took 6.4 min instead of 10.4 min
        // in release on 2 shared cores (docs/reliability.md); the slower runs do not matter here.
        envs: vec![
            ("FUZZ_SECONDS".into(), "5".into()),
            ("FUZZ_DEV".into(), "1".into()),
        ],
    })
}

/// `cargo deny` (when installed) and the MSRV build (when its toolchain is installed).
///
/// The advisory check needs the RustSec database from the network: when `cargo deny fetch`
/// cannot get it (an offline machine), only licenses, bans and sources are checked, and the
/// step says so.
fn supply_chain(root: &std::path::Path) -> Vec<Step> {
    let mut steps = Vec::new();
    if install::which("cargo-deny").is_some() {
        let online = Command::new(cargo())
            .args(["deny", "fetch", "db"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        let mut args = vec!["deny", "--workspace", "check"];
        if !online {
            println!(
                "xtask: the RustSec advisory database could not be fetched (offline?); \
                 `cargo deny` checks licenses, bans and sources only"
            );
            args.extend(["licenses", "bans", "sources"]);
        }
        steps.push(Step::cargo("cargo deny", &args));
    } else {
        println!("xtask: cargo-deny is not installed (`cargo install cargo-deny`); skipped");
    }
    match msrv_toolchain(root) {
        Ok(toolchain) => steps.push(Step {
            name: "msrv",
            program: "rustup".into(),
            args: [
                "run",
                toolchain.as_str(),
                "cargo",
                "check",
                "--workspace",
                "--all-features",
                "--lib",
                "--bins",
            ]
            .map(str::to_owned)
            .to_vec(),
            envs: vec![("CARGO_TARGET_DIR".into(), "target/msrv".into())],
        }),
        Err(why) => println!("xtask: MSRV check skipped: {why}"),
    }
    steps
}

/// The installed toolchain matching `rust-version` in the root Cargo.toml, if there is one.
fn msrv_toolchain(root: &std::path::Path) -> Result<String, String> {
    let manifest = std::fs::read_to_string(root.join("Cargo.toml"))
        .map_err(|e| format!("cannot read Cargo.toml: {e}"))?;
    let version = manifest
        .lines()
        .find_map(|line| {
            let (key, value) = line.split_once('=')?;
            (key.trim() == "rust-version").then(|| value.trim().trim_matches('"').to_owned())
        })
        .ok_or("no rust-version in Cargo.toml")?;
    let installed = Command::new("rustup")
        .args(["toolchain", "list"])
        .output()
        .map_err(|e| format!("rustup is not available: {e}"))?;
    let list = String::from_utf8_lossy(&installed.stdout);
    list.lines()
        .filter_map(|line| line.split_whitespace().next())
        // `1.89` matches `1.89-x86_64-…` and `1.89.0-x86_64-…`.
        .find(|name| {
            *name == version
                || name.starts_with(&format!("{version}-"))
                || name.starts_with(&format!("{version}."))
        })
        .map(str::to_owned)
        .ok_or_else(|| {
            format!(
                "rust {version} is not installed (`rustup toolchain install {version}`, about \
                 250 MB, then a full build)"
            )
        })
}

fn run(step: &Step) -> Result<Duration, String> {
    println!(
        "\nxtask: ── {} ── {} {}",
        step.name,
        step.program,
        step.args.join(" ")
    );
    let started = Instant::now();
    let status = Command::new(&step.program)
        .args(&step.args)
        .envs(step.envs.iter().map(|(k, v)| (k, v)))
        .status()
        .map_err(|e| format!("could not start {}: {e}", step.program))?;
    if status.success() {
        Ok(started.elapsed())
    } else {
        Err(format!("step `{}` failed ({status})", step.name))
    }
}

pub(crate) fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned())
}

fn workspace_root() -> Result<PathBuf, String> {
    // xtask lives in <root>/xtask.
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .map(PathBuf::from)
        .ok_or_else(|| "cannot find the workspace root".to_owned())
}
