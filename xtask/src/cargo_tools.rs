//! The cargo subcommands `cargo xtask test` runs (cargo-fuzz for the fuzz smoke, cargo-deny for
//! the supply-chain check, cargo-hack for the each-feature build), installed at pinned versions with `cargo install --locked` when the
//! pinned version is not already on the machine. Without them a fresh machine (and so CI) would
//! skip both checks.
//!
//! No nightly toolchain is installed: `fuzz/smoke.sh` sets `RUSTC_BOOTSTRAP=1`, which lets the
//! stable toolchain accept cargo-fuzz's `-Z` flags. Cold install times are in
//! `docs/reliability.md`.

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

/// A cargo subcommand from crates.io at a pinned version.
struct CargoTool {
    krate: &'static str,
    version: &'static str,
}

/// Pinned so every machine checks with the same rules (`deny.toml` is written for 0.20) and a
/// new release cannot break CI on its own; raise them deliberately.
const CARGO_TOOLS: &[CargoTool] = &[
    CargoTool {
        krate: "cargo-fuzz",
        version: "0.13.2",
    },
    CargoTool {
        krate: "cargo-deny",
        version: "0.20.2",
    },
    CargoTool {
        krate: "cargo-hack",
        version: "0.6.46",
    },
];

/// Installs each pinned tool that is missing or at another version. A failed install is an
/// error (a check that silently does not run is what this prevents); `--no-install` skips it.
pub(crate) fn ensure_cargo_tools() -> Result<(), String> {
    for tool in CARGO_TOOLS {
        let found = installed_version(tool.krate);
        if found.as_deref() == Some(tool.version) {
            continue;
        }
        match &found {
            Some(other) => println!(
                "xtask: {} {other} is installed; installing the pinned {}",
                tool.krate, tool.version
            ),
            None => println!("xtask: installing {} {}", tool.krate, tool.version),
        }
        let started = Instant::now();
        let spec = format!("{}@{}", tool.krate, tool.version);
        let status = Command::new(crate::steps::cargo())
            .args(["install", "--locked", &spec])
            .status()
            .map_err(|e| format!("could not run cargo install: {e}"))?;
        if !status.success() {
            return Err(format!(
                "`cargo install --locked {spec}` failed ({status}); install it by hand or run \
                 `cargo xtask test --no-install`"
            ));
        }
        println!(
            "xtask: installed {spec} in {:.0} s",
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

/// The version of `binary` in cargo's bin directory (or on `PATH`), from `<binary> --version`.
fn installed_version(binary: &str) -> Option<String> {
    let path = cargo_bin_dir()
        .map(|dir| dir.join(binary))
        .filter(|p| p.is_file())
        .or_else(|| crate::install::which(binary))?;
    let output = Command::new(path).arg("--version").output().ok()?;
    parse_version(binary, &String::from_utf8_lossy(&output.stdout))
}

/// `$CARGO_HOME/bin`, else `~/.cargo/bin`: where `cargo install` puts binaries.
fn cargo_bin_dir() -> Option<PathBuf> {
    std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .map(|home| home.join("bin"))
}

/// The version in a `--version` line such as `cargo-deny 0.20.2` or `cargo-fuzz 0.13.2`.
fn parse_version(binary: &str, output: &str) -> Option<String> {
    let line = output.lines().next()?.trim();
    let rest = line.strip_prefix(binary)?.trim_start();
    let version = rest.split_whitespace().next()?;
    version
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
        .then(|| version.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_read_from_the_tools_own_output() {
        assert_eq!(
            parse_version("cargo-deny", "cargo-deny 0.20.2\n").as_deref(),
            Some("0.20.2")
        );
        assert_eq!(
            parse_version("cargo-fuzz", "cargo-fuzz 0.13.2 (abc 2025-01-01)\n").as_deref(),
            Some("0.13.2")
        );
        // Another program's output, or nothing: not installed.
        assert_eq!(parse_version("cargo-deny", "cargo-fuzz 0.13.2"), None);
        assert_eq!(parse_version("cargo-deny", ""), None);
    }

    #[test]
    fn every_tool_is_pinned_to_an_exact_version() {
        for tool in CARGO_TOOLS {
            assert_eq!(tool.version.split('.').count(), 3, "{}", tool.krate);
        }
        let names: Vec<&str> = CARGO_TOOLS.iter().map(|t| t.krate).collect();
        assert_eq!(names, ["cargo-fuzz", "cargo-deny", "cargo-hack"]);
    }
}
