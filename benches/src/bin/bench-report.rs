//! Turns criterion's output into the plots and the table of `docs/performance.md`.
//!
//! Reads every `target/criterion/**/new/benchmark.json` + `estimates.json` (the median, in
//! nanoseconds), plus the allocator and latency figures the `token_cache` and `cache_latency`
//! benches leave beside them, and writes:
//!
//! * `docs/plots/cache_lookup.svg` — token-cache hit vs entries, log-log, with the linear-scan
//!   oracle of the same run;
//! * `docs/plots/middleware.svg` — miss / hit / plumbing / baselines of the middleware, bars;
//! * `docs/plots/peer.svg` — ours beside tower-oauth2-resource-server, with their baseline;
//! * `docs/plots/figures.md` — every median as a table, with its ratio to its same-run baseline.
//!
//! Run it as `cargo xtask bench-report` after `cargo bench -p benches`. Text in the SVGs is
//! written as SVG `<text>` elements, so no font files are needed to render.

#![expect(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a command-line tool reports on the terminal"
)]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use plotters::prelude::*;
use serde::Deserialize;

#[derive(Deserialize)]
struct Benchmark {
    full_id: String,
}

#[derive(Deserialize)]
struct Estimate {
    point_estimate: f64,
}

#[derive(Deserialize)]
struct Estimates {
    median: Estimate,
}

/// `full_id` → median nanoseconds.
fn read_criterion(root: &Path) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if !path.is_dir() {
                continue;
            }
            if path.file_name().is_some_and(|n| n == "new") {
                let bench = std::fs::read_to_string(path.join("benchmark.json"))
                    .ok()
                    .and_then(|s| serde_json::from_str::<Benchmark>(&s).ok());
                let estimates = std::fs::read_to_string(path.join("estimates.json"))
                    .ok()
                    .and_then(|s| serde_json::from_str::<Estimates>(&s).ok());
                if let (Some(b), Some(e)) = (bench, estimates) {
                    out.insert(b.full_id, e.median.point_estimate);
                }
            } else if path
                .file_name()
                .is_some_and(|n| n != "report" && n != "base")
            {
                stack.push(path);
            }
        }
    }
    out
}

fn human(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{ns:.0} ns")
    }
}

type Error = Box<dyn std::error::Error>;

/// `(entries, ns)` points of `group/function/N`, sorted by entries.
fn series(medians: &BTreeMap<String, f64>, prefix: &str) -> Vec<(f64, f64)> {
    let mut points: Vec<(f64, f64)> = medians
        .iter()
        .filter_map(|(id, ns)| {
            let n = id.strip_prefix(prefix)?.strip_prefix('/')?;
            Some((n.parse::<f64>().ok()?, *ns))
        })
        .collect();
    points.sort_by(|a, b| a.0.total_cmp(&b.0));
    points
}

fn cache_plot(medians: &BTreeMap<String, f64>, path: &Path) -> Result<bool, Error> {
    let lines = [
        (
            "token_cache/tenants_hit",
            "hit, 10 tokens per tenant partition",
            BLUE,
        ),
        (
            "token_cache/one_partition_hit",
            "hit, all tokens in one partition",
            GREEN,
        ),
        (
            "token_cache/tenants_linear_scan",
            "linear-scan oracle (MSAL-style filter)",
            RED,
        ),
        (
            "token_cache/one_partition_linear_scan",
            "linear-scan oracle, one partition",
            MAGENTA,
        ),
    ];
    let data: Vec<_> = lines
        .iter()
        .map(|(prefix, label, color)| (series(medians, prefix), *label, *color))
        .filter(|(points, _, _)| !points.is_empty())
        .collect();
    if data.is_empty() {
        return Ok(false);
    }
    let all = data.iter().flat_map(|(p, _, _)| p.iter());
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, 0.0_f64, f64::MAX, 0.0_f64);
    for &(x, y) in all {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    let root = SVGBackend::new(path, (800, 520)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Token-cache lookup vs entries (log-log, same run)",
            ("sans-serif", 20),
        )
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(
            (x0 / 2.0..x1 * 2.0).log_scale(),
            (y0 / 2.0..y1 * 2.0).log_scale(),
        )?;
    chart
        .configure_mesh()
        .x_desc("entries in the cache")
        .y_desc("median time per lookup")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| human(*y))
        .draw()?;
    for (points, label, color) in data {
        chart
            .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))?
            .label(label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
        chart.draw_series(points.iter().map(|&p| Circle::new(p, 4, color.filled())))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(true)
}

/// The middleware bars, in display order: (criterion id, label).
const MIDDLEWARE: &[(&str, &str)] = &[
    ("layer/bare_inner", "bare inner service"),
    ("layer/noop_validator", "layer, no-op validator"),
    ("layer/hit", "layer, cache hit"),
    ("verify/parse_floor", "parse floor"),
    (
        "verify/rs256_aws_lc_preparsed",
        "bare RS256 verify (baseline)",
    ),
    ("layer/miss", "layer, miss (full validation)"),
    ("verify/jsonwebtoken_decode", "jsonwebtoken::decode"),
];

/// The peer comparison (its own run, with its own baseline): (criterion id, label).
const PEER: &[(&str, &str)] = &[
    ("peer/bare_inner", "bare inner service"),
    ("peer/ours_hit", "ours, cache hit"),
    (
        "peer/rs256_aws_lc_preparsed",
        "bare RS256 verify (baseline)",
    ),
    ("peer/ours_miss", "ours, miss (validation + scope + MFA)"),
    (
        "peer/tower_oauth2_resource_server",
        "tower-oauth2-resource-server 0.12",
    ),
];

fn bar_plot(
    medians: &BTreeMap<String, f64>,
    which: &[(&str, &str)],
    title: &str,
    path: &Path,
) -> Result<bool, Error> {
    let bars: Vec<(&str, f64)> = which
        .iter()
        .filter_map(|(id, label)| medians.get(*id).map(|ns| (*label, *ns)))
        .collect();
    if bars.is_empty() {
        return Ok(false);
    }
    let max = bars.iter().map(|b| b.1).fold(0.0, f64::max);
    let min = bars.iter().map(|b| b.1).fold(f64::MAX, f64::min);
    let root = SVGBackend::new(path, (900, 60 + 48 * bars.len() as u32)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(250)
        .build_cartesian_2d((min / 2.0..max * 3.0).log_scale(), 0.0..bars.len() as f64)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(bars.len() * 2 + 1)
        .y_label_formatter(&|y| {
            let i = (y - 0.5).round();
            if (y - 0.5 - i).abs() < 0.01 && i >= 0.0 {
                bars.get(i as usize)
                    .map(|b| b.0.to_owned())
                    .unwrap_or_default()
            } else {
                String::new()
            }
        })
        .x_label_formatter(&|x| human(*x))
        .x_desc("median time (log scale)")
        .draw()?;
    chart.draw_series(bars.iter().enumerate().map(|(i, (label, ns))| {
        let color = if label.contains("baseline") {
            BLACK.mix(0.6)
        } else if label.contains("hit") {
            GREEN.mix(0.8)
        } else if label.contains("miss") {
            BLUE.mix(0.8)
        } else {
            RED.mix(0.5)
        };
        Rectangle::new(
            [(min / 2.0, i as f64 + 0.15), (*ns, i as f64 + 0.85)],
            color.filled(),
        )
    }))?;
    chart.draw_series(bars.iter().enumerate().map(|(i, (_, ns))| {
        Text::new(
            human(*ns),
            (*ns * 1.05, i as f64 + 0.35),
            ("sans-serif", 14),
        )
    }))?;
    root.present()?;
    Ok(true)
}

/// Each row's same-run baseline: (prefix of ids, baseline id).
const BASELINES: &[(&str, &str)] = &[
    ("verify/", "verify/rs256_aws_lc_preparsed"),
    ("layer/", "verify/rs256_aws_lc_preparsed"),
    ("peer/", "peer/rs256_aws_lc_preparsed"),
    ("obo/", "obo/baseline_sha256_base64url"),
    ("challenge/", "challenge/baseline_base64_serde_json"),
];

fn table(medians: &BTreeMap<String, f64>, extra: &[(String, String)]) -> String {
    let mut md = String::from(
        "<!-- generated by `cargo xtask bench-report` from target/criterion; do not edit -->\n\n\
         | bench | median | ratio to same-run baseline |\n|---|---|---|\n",
    );
    for (id, ns) in medians {
        let ratio = BASELINES
            .iter()
            .find(|(prefix, _)| id.starts_with(prefix))
            .and_then(|(_, base)| medians.get(*base).map(|b| (base, ns / b)))
            .map(|(base, r)| format!("{r:.3} × `{base}`"))
            .or_else(|| {
                // Cache hits: ratio to the linear-scan oracle at the same size.
                let oracle = id.replace("_hit/", "_linear_scan/");
                (oracle != *id)
                    .then(|| medians.get(&oracle))
                    .flatten()
                    .map(|o| format!("1 / {:.0} of the linear scan", o / ns))
            })
            .unwrap_or_default();
        let _ = writeln!(md, "| `{id}` | {} | {ratio} |", human(*ns));
    }
    for (name, body) in extra {
        let _ = write!(md, "\n### {name}\n\n```text\n{body}```\n");
    }
    md
}

fn main() -> Result<(), Error> {
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .ok_or("the benches crate sits inside the workspace")?
        .to_path_buf();
    let criterion = std::env::var_os("CRITERION_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace.join("target/criterion"));
    let plots = workspace.join("docs/plots");
    std::fs::create_dir_all(&plots)?;
    let medians = read_criterion(&criterion);
    if medians.is_empty() {
        return Err(format!(
            "no criterion results under {}: run `cargo bench -p benches` first",
            criterion.display()
        )
        .into());
    }
    let mut written = Vec::new();
    if cache_plot(&medians, &plots.join("cache_lookup.svg"))? {
        written.push("cache_lookup.svg");
    }
    if bar_plot(
        &medians,
        MIDDLEWARE,
        "Middleware paths, median per request (log scale, same run)",
        &plots.join("middleware.svg"),
    )? {
        written.push("middleware.svg");
    }
    if bar_plot(
        &medians,
        PEER,
        "Ours vs a peer tower JWT layer (log scale, same run)",
        &plots.join("peer.svg"),
    )? {
        written.push("peer.svg");
    }
    let mut extra = Vec::new();
    for (name, file) in [
        (
            "Token cache: allocations per hit, retained bytes per entry",
            "token_cache/alloc.tsv",
        ),
        (
            "Hit latency under one and two threads",
            "cache_latency/latency.tsv",
        ),
        (
            "Middleware miss ÷ bare verify, interleaved rounds",
            "layer/interleaved.tsv",
        ),
    ] {
        if let Ok(body) = std::fs::read_to_string(criterion.join(file)) {
            extra.push((name.to_owned(), body));
        }
    }
    let md = table(&medians, &extra);
    std::fs::write(plots.join("figures.md"), &md)?;
    print!("{md}");
    eprintln!(
        "wrote {} and figures.md to {}",
        written.join(", "),
        plots.display()
    );
    Ok(())
}
