//! Bench figures quoted in the docs, kept equal to their generated source.
//!
//! `docs/plots/figures.md` is written by `cargo xtask bench-report` from criterion's output. A
//! page that quotes one of its numbers wraps it in a marker naming the bench:
//!
//! ```text
//! <!-- fig:median obo/cache_hit_100k_partitions -->1.05 µs<!-- /fig -->
//! <!-- fig:ratio obo/cache_hit_100k_partitions -->1.137 ×<!-- /fig -->
//! ```
//!
//! (HTML comments: invisible in the book and on GitHub.) `cargo xtask test` fails when a marked
//! figure differs from `figures.md`, and `cargo xtask bench-report` rewrites every marker after
//! regenerating it, so a figure is copied by the tool, never by hand.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const OPEN: &str = "<!-- fig:";
const CLOSE: &str = "<!-- /fig -->";

/// One bench row of `figures.md`: its median and its ratio to the same run's baseline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Row {
    median: String,
    ratio: Option<String>,
}

/// The bench rows of `figures.md`, by bench name.
pub(crate) fn parse_figures(md: &str) -> BTreeMap<String, Row> {
    let mut rows = BTreeMap::new();
    for line in md.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        // "| `name` | median | ratio |" splits into ["", name, median, ratio, ""].
        if cells.len() < 5 {
            continue;
        }
        let Some(name) = cells[1].strip_prefix('`').and_then(|n| n.strip_suffix('`')) else {
            continue;
        };
        // "1.137 × `base`" → "1.137 ×"; "1 / 242 of the linear scan" and "" carry no ratio.
        let ratio = cells[3]
            .split_once(" × ")
            .map(|(number, _)| format!("{number} ×"));
        rows.insert(
            name.to_owned(),
            Row {
                median: cells[2].to_owned(),
                ratio,
            },
        );
    }
    rows
}

/// A marked figure in a page.
#[derive(Debug, PartialEq, Eq)]
struct Marker<'a> {
    kind: &'a str,
    bench: &'a str,
    /// Byte range of the quoted value in the page.
    value: std::ops::Range<usize>,
}

fn markers(page: &str) -> Result<Vec<Marker<'_>>, String> {
    let mut found = Vec::new();
    let mut at = 0;
    while let Some(offset) = page[at..].find(OPEN) {
        let start = at + offset;
        let head_end = page[start..]
            .find("-->")
            .map(|e| start + e)
            .ok_or_else(|| format!("unterminated figure marker at byte {start}"))?;
        let head = &page[start + OPEN.len()..head_end];
        let (kind, bench) = head
            .trim()
            .split_once(' ')
            .ok_or_else(|| format!("figure marker `{head}` needs a kind and a bench name"))?;
        let value_start = head_end + "-->".len();
        let value_end = page[value_start..]
            .find(CLOSE)
            .map(|e| value_start + e)
            .ok_or_else(|| format!("figure marker for `{bench}` has no {CLOSE}"))?;
        found.push(Marker {
            kind,
            bench: bench.trim(),
            value: value_start..value_end,
        });
        at = value_end + CLOSE.len();
    }
    Ok(found)
}

fn expected(rows: &BTreeMap<String, Row>, marker: &Marker<'_>) -> Result<String, String> {
    let row = rows
        .get(marker.bench)
        .ok_or_else(|| format!("no bench `{}` in docs/plots/figures.md", marker.bench))?;
    match marker.kind {
        "median" => Ok(row.median.clone()),
        "ratio" => row
            .ratio
            .clone()
            .ok_or_else(|| format!("bench `{}` has no ratio in figures.md", marker.bench)),
        other => Err(format!("unknown figure kind `{other}` (median or ratio)")),
    }
}

/// The page with every marked figure replaced by its current value, the figures that differed
/// (`bench`, `kind`, quoted, current), and how many figures the page marks.
fn sync_page(
    page: &str,
    rows: &BTreeMap<String, Row>,
) -> Result<(String, Vec<String>, usize), String> {
    let mut out = String::with_capacity(page.len());
    let mut stale = Vec::new();
    let mut copied = 0;
    let found = markers(page)?;
    let count = found.len();
    for marker in found {
        let want = expected(rows, &marker)?;
        let have = &page[marker.value.clone()];
        if have != want {
            stale.push(format!(
                "{} of `{}`: the page says `{have}`, figures.md says `{want}`",
                marker.kind, marker.bench
            ));
        }
        out.push_str(&page[copied..marker.value.start]);
        out.push_str(&want);
        copied = marker.value.end;
    }
    out.push_str(&page[copied..]);
    Ok((out, stale, count))
}

/// The Markdown pages that may quote figures: `docs/*.md` and every crate README.
fn pages(root: &Path) -> Vec<PathBuf> {
    let mut pages = Vec::new();
    for dir in [root.join("docs"), root.to_path_buf()] {
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for entry in entries.flatten() {
                let path = entry.path();
                if path.extension().is_some_and(|e| e == "md") {
                    pages.push(path);
                }
            }
        }
    }
    for krate in crate::steps::LIBRARIES.iter().chain(&["benches"]) {
        pages.push(root.join(krate).join("README.md"));
    }
    pages.retain(|p| p.is_file() && !p.ends_with("docs/plots/figures.md"));
    pages.sort();
    pages
}

fn figures(root: &Path) -> Result<BTreeMap<String, Row>, String> {
    let path = root.join("docs/plots/figures.md");
    let md = std::fs::read_to_string(&path).map_err(|e| format!("read {}: {e}", path.display()))?;
    Ok(parse_figures(&md))
}

/// `cargo xtask test`'s check: every marked figure equals `docs/plots/figures.md`.
pub(crate) fn check(root: &Path) -> Result<usize, String> {
    let rows = figures(root)?;
    let mut count = 0;
    let mut problems = Vec::new();
    for page in pages(root) {
        let text =
            std::fs::read_to_string(&page).map_err(|e| format!("read {}: {e}", page.display()))?;
        let (_, stale, marked) =
            sync_page(&text, &rows).map_err(|e| format!("{}: {e}", page.display()))?;
        count += marked;
        for s in stale {
            problems.push(format!("{}: {s}", page.display()));
        }
    }
    if problems.is_empty() {
        Ok(count)
    } else {
        Err(format!(
            "figures in the docs no longer match docs/plots/figures.md (run `cargo xtask bench-report` after the benches):\n  {}",
            problems.join("\n  ")
        ))
    }
}

/// `cargo xtask bench-report`'s last step: rewrite every marked figure from `figures.md`.
pub(crate) fn rewrite(root: &Path) -> Result<usize, String> {
    let rows = figures(root)?;
    let mut changed = 0;
    for page in pages(root) {
        let text =
            std::fs::read_to_string(&page).map_err(|e| format!("read {}: {e}", page.display()))?;
        let (new, stale, _) =
            sync_page(&text, &rows).map_err(|e| format!("{}: {e}", page.display()))?;
        if !stale.is_empty() {
            std::fs::write(&page, new).map_err(|e| format!("write {}: {e}", page.display()))?;
            changed += stale.len();
        }
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIGURES: &str = "\
| bench | median | ratio to same-run baseline |
|---|---|---|
| `obo/baseline_sha256_base64url` | 927 ns | 1.000 × `obo/baseline_sha256_base64url` |
| `obo/cache_hit_100k_partitions` | 1.05 µs | 1.137 × `obo/baseline_sha256_base64url` |
| `token_cache/one_partition_hit/1000` | 116 ns | 1 / 242 of the linear scan |
";

    #[test]
    fn rows_are_read_from_the_generated_table() {
        let rows = parse_figures(FIGURES);
        assert_eq!(rows.len(), 3);
        assert_eq!(rows["obo/cache_hit_100k_partitions"].median, "1.05 µs");
        assert_eq!(
            rows["obo/cache_hit_100k_partitions"].ratio.as_deref(),
            Some("1.137 ×")
        );
        assert_eq!(rows["token_cache/one_partition_hit/1000"].ratio, None);
    }

    #[test]
    fn a_stale_figure_is_reported_and_rewritten() {
        let rows = parse_figures(FIGURES);
        let page = "hit <!-- fig:median obo/cache_hit_100k_partitions -->1.07 µs<!-- /fig --> \
                    (<!-- fig:ratio obo/cache_hit_100k_partitions -->1.137 ×<!-- /fig -->)";
        let (new, stale, marked) = sync_page(page, &rows).unwrap();
        assert_eq!(marked, 2);
        assert_eq!(stale.len(), 1, "{stale:?}");
        assert!(stale[0].contains("`1.07 µs`"), "{}", stale[0]);
        assert_eq!(
            new,
            "hit <!-- fig:median obo/cache_hit_100k_partitions -->1.05 µs<!-- /fig --> \
             (<!-- fig:ratio obo/cache_hit_100k_partitions -->1.137 ×<!-- /fig -->)"
        );
        let (again, none, _) = sync_page(&new, &rows).unwrap();
        assert!(none.is_empty());
        assert_eq!(again, new);
    }

    #[test]
    fn unknown_benches_and_broken_markers_are_errors() {
        let rows = parse_figures(FIGURES);
        assert!(sync_page("<!-- fig:median nope -->1<!-- /fig -->", &rows).is_err());
        assert!(
            sync_page(
                "<!-- fig:p99 obo/baseline_sha256_base64url -->1<!-- /fig -->",
                &rows
            )
            .is_err()
        );
        assert!(sync_page("<!-- fig:median obo/baseline_sha256_base64url -->1", &rows).is_err());
        assert!(
            sync_page(
                "<!-- fig:ratio token_cache/one_partition_hit/1000 -->1<!-- /fig -->",
                &rows
            )
            .is_err()
        );
        assert_eq!(sync_page("no markers", &rows).unwrap().2, 0);
    }
}
