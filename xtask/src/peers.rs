//! Installs the real MSAL libraries the cache round-trip tests run against (MSAL Python from PyPI,
//! MSAL Node from npm), pinned, into `target/interop-peers/`.
//!
//! Idempotent: a pinned version already installed is found in well under a second, so only the
//! first run pays for the download.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use crate::install::{ToolEnv, which};

/// MSAL Python on PyPI.
const MSAL_PYTHON: &str = "msal";
const MSAL_PYTHON_VERSION: &str = "1.39.0";
/// MSAL Node on npm.
const MSAL_NODE: &str = "@azure/msal-node";
const MSAL_NODE_VERSION: &str = "7.2.3";

/// Adds `MSAL_PYTHON` (the venv's python) and `MSAL_NODE_DIR` (a node project whose
/// `node_modules` holds MSAL Node) to `env`, installing the pinned versions first when missing.
pub(crate) fn with_peers(mut env: ToolEnv) -> Result<ToolEnv, String> {
    let dir = peers_dir()?;
    std::fs::create_dir_all(&dir).map_err(|e| format!("mkdir {}: {e}", dir.display()))?;
    env.push(("MSAL_PYTHON", ensure_python(&dir)?));
    env.push(("MSAL_NODE_DIR", ensure_node(&dir)?));
    Ok(env)
}

/// `<workspace>/target/interop-peers`.
fn peers_dir() -> Result<PathBuf, String> {
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let root = manifest_dir
        .parent()
        .ok_or("cannot find the workspace root")?;
    Ok(root.join("target").join("interop-peers"))
}

/// A venv at `<dir>/venv` with `msal==MSAL_PYTHON_VERSION`; returns its python.
fn ensure_python(dir: &Path) -> Result<PathBuf, String> {
    let venv = dir.join("venv");
    let python = venv.join("bin").join("python");
    if installed_python_version(&python).as_deref() == Some(MSAL_PYTHON_VERSION) {
        return Ok(python);
    }
    let started = Instant::now();
    println!(
        "xtask: installing {MSAL_PYTHON}=={MSAL_PYTHON_VERSION} into {}",
        venv.display()
    );
    if !python.is_file() {
        let system = which("python3").ok_or(
            "the MSAL Python round-trip tests need python3 (apt-get install python3 python3-venv)",
        )?;
        run(Command::new(system).arg("-m").arg("venv").arg(&venv))?;
    }
    run(Command::new(&python).args([
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        &format!("{MSAL_PYTHON}=={MSAL_PYTHON_VERSION}"),
    ]))?;
    match installed_python_version(&python) {
        Some(v) if v == MSAL_PYTHON_VERSION => {
            println!(
                "xtask: MSAL Python installed in {:.1}s",
                started.elapsed().as_secs_f64()
            );
            Ok(python)
        }
        other => Err(format!(
            "after pip install, {MSAL_PYTHON} is {other:?}, not {MSAL_PYTHON_VERSION}"
        )),
    }
}

fn installed_python_version(python: &Path) -> Option<String> {
    if !python.is_file() {
        return None;
    }
    let out = Command::new(python)
        .args([
            "-c",
            &format!("import importlib.metadata as m; print(m.version('{MSAL_PYTHON}'))"),
        ])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// A node project at `<dir>/node` depending on exactly `MSAL_NODE_VERSION`; returns its dir.
fn ensure_node(dir: &Path) -> Result<PathBuf, String> {
    let project = dir.join("node");
    let installed = project
        .join("node_modules")
        .join(MSAL_NODE)
        .join("package.json");
    if installed_node_version(&installed).as_deref() == Some(MSAL_NODE_VERSION) {
        return Ok(project);
    }
    let started = Instant::now();
    println!(
        "xtask: installing {MSAL_NODE}@{MSAL_NODE_VERSION} into {}",
        project.display()
    );
    let npm = which("npm")
        .ok_or("the MSAL Node round-trip tests need node and npm (apt-get install nodejs npm)")?;
    std::fs::create_dir_all(&project).map_err(|e| format!("mkdir {}: {e}", project.display()))?;
    // An exact version (no range) and a lock file written by npm: the same tree on every run.
    let manifest = format!(
        "{{\n  \"name\": \"msal-lite-interop-peers\",\n  \"private\": true,\n  \
         \"dependencies\": {{ \"{MSAL_NODE}\": \"{MSAL_NODE_VERSION}\" }}\n}}\n"
    );
    std::fs::write(project.join("package.json"), manifest)
        .map_err(|e| format!("write package.json: {e}"))?;
    run(Command::new(npm).current_dir(&project).args([
        "install",
        "--no-audit",
        "--no-fund",
        "--save-exact",
        "--loglevel=error",
    ]))?;
    match installed_node_version(&installed) {
        Some(v) if v == MSAL_NODE_VERSION => {
            println!(
                "xtask: MSAL Node installed in {:.1}s",
                started.elapsed().as_secs_f64()
            );
            Ok(project)
        }
        other => Err(format!(
            "after npm install, {MSAL_NODE} is {other:?}, not {MSAL_NODE_VERSION}"
        )),
    }
}

/// The `"version"` of an installed package.json, read without a JSON dependency.
fn installed_node_version(package_json: &Path) -> Option<String> {
    let text = std::fs::read_to_string(package_json).ok()?;
    let after = &text[text.find("\"version\"")? + "\"version\"".len()..];
    let start = after.find('"')? + 1;
    let len = after[start..].find('"')?;
    Some(after[start..start + len].to_owned())
}

fn run(command: &mut Command) -> Result<(), String> {
    let shown = format!("{command:?}");
    let status = command
        .status()
        .map_err(|e| format!("could not run {shown}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{shown} failed with {status}"))
    }
}
