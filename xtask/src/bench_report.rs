//! `cargo xtask bench-report`: plots and a table from criterion's output.
//!
//! The plotting needs a crate (plotters), and xtask stays std-only, so this runs the
//! `bench-report` binary of the benches crate, which reads `target/criterion/**/new/*.json`
//! and writes `docs/plots/*.svg` and `docs/plots/figures.md`. The latest `cargo xtask load`
//! results (`target/load/results.tsv`) are appended to the table when present.

use std::process::Command;

use crate::load::{cargo, machine, workspace_root};

pub(crate) fn bench_report() -> Result<(), String> {
    let root = workspace_root()?;
    let status = Command::new(cargo())
        .current_dir(&root)
        .args(["run", "-q", "-p", "benches", "--bin", "bench-report"])
        .status()
        .map_err(|e| format!("could not run cargo: {e}"))?;
    if !status.success() {
        return Err(format!("bench-report failed with {status}"));
    }
    let figures = root.join("docs/plots/figures.md");
    let mut md = std::fs::read_to_string(&figures)
        .map_err(|e| format!("read {}: {e}", figures.display()))?;
    let (cores, model) = machine();
    md.push_str(&format!("\nMachine: {cores} cores (`nproc`), {model}.\n"));
    if let Ok(load) = std::fs::read_to_string(root.join("target/load/results.tsv")) {
        md.push_str(&format!(
            "\n### Load test (`cargo xtask load`)\n\n```text\n{load}```\n"
        ));
    }
    std::fs::write(&figures, md).map_err(|e| format!("write {}: {e}", figures.display()))?;
    let changed = crate::doc_figures::rewrite(&root)?;
    println!(
        "xtask: wrote docs/plots/*.svg and docs/plots/figures.md; {changed} figures quoted in the docs updated"
    );
    Ok(())
}
