//! Installs the system packages the tests need (Debian packages via apt-get when run as root).

use std::path::{Path, PathBuf};
use std::process::Command;

/// A program a test needs, and the Debian package that ships it.
struct Tool {
    /// Environment variable through which tests find the program.
    env: &'static str,
    /// Candidate paths, first found wins; a bare name is looked up on `PATH`.
    candidates: &'static [&'static str],
    package: &'static str,
}

const TOOLS: &[Tool] = &[
    Tool {
        env: "REDIS_SERVER",
        candidates: &["redis-server", "/usr/bin/redis-server"],
        package: "redis-server",
    },
    Tool {
        env: "CHROMIUM",
        candidates: &["/usr/bin/chromium", "chromium"],
        package: "chromium",
    },
    Tool {
        env: "CHROMEDRIVER",
        candidates: &["/usr/bin/chromedriver", "chromedriver"],
        package: "chromium-driver",
    },
];

/// Paths of the installed tools as `(ENV_VAR, path)`, to be exported to the tests.
pub(crate) type ToolEnv = Vec<(&'static str, PathBuf)>;

/// Makes sure every tool is installed; installs missing ones with apt-get when running as root,
/// otherwise fails with the exact command to run.
pub(crate) fn ensure_test_tools() -> Result<ToolEnv, String> {
    let missing: Vec<&Tool> = TOOLS.iter().filter(|t| find(t).is_none()).collect();
    if !missing.is_empty() {
        let packages: Vec<&str> = missing.iter().map(|t| t.package).collect();
        let command = format!(
            "apt-get update && apt-get install -y --no-install-recommends {}",
            packages.join(" ")
        );
        if !is_root() {
            return Err(format!(
                "the tests need {} which is not installed; run as root:\n    {command}",
                packages.join(", ")
            ));
        }
        println!("xtask: installing {}", packages.join(", "));
        run_apt(&["update", "-q"])?;
        let mut args = vec!["install", "-y", "-q", "--no-install-recommends"];
        args.extend(packages.iter().copied());
        run_apt(&args)?;
    }
    TOOLS
        .iter()
        .map(|t| {
            find(t).map(|p| (t.env, p)).ok_or_else(|| {
                format!(
                    "{} is still missing after installing package {}",
                    t.candidates[0], t.package
                )
            })
        })
        .collect()
}

fn run_apt(args: &[&str]) -> Result<(), String> {
    let status = Command::new("apt-get")
        .args(args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()
        .map_err(|e| format!("could not run apt-get: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`apt-get {}` failed with {status}", args.join(" ")))
    }
}

fn find(tool: &Tool) -> Option<PathBuf> {
    if let Some(from_env) = std::env::var_os(tool.env) {
        let path = PathBuf::from(from_env);
        if path.is_file() {
            return Some(path);
        }
    }
    tool.candidates.iter().find_map(|c| which(c))
}

/// `which`, without a dependency.
pub(crate) fn which(name: &str) -> Option<PathBuf> {
    let candidate = Path::new(name);
    if candidate.is_absolute() {
        return candidate.is_file().then(|| candidate.to_path_buf());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

fn is_root() -> bool {
    // `id -u` avoids libc (and `unsafe`) for geteuid.
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}
