//! Finding external programs for tests.

use std::path::{Path, PathBuf};

/// The program named by env var `env`, else the first of `candidates` that exists (bare names are
/// looked up on `PATH`).
pub fn find_tool(env: &str, candidates: &[&str]) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(env).map(PathBuf::from)
        && path.is_file()
    {
        return Some(path);
    }
    candidates.iter().find_map(|name| {
        let p = Path::new(name);
        if p.is_absolute() {
            return p.is_file().then(|| p.to_path_buf());
        }
        std::env::split_paths(&std::env::var_os("PATH")?)
            .map(|dir| dir.join(name))
            .find(|c| c.is_file())
    })
}

/// Like [`find_tool`], but when the tool is missing: panics if `REQUIRE_TEST_TOOLS` is set,
/// otherwise reports the skip on stderr and returns `None` (the test should return early).
///
/// # Panics
///
/// When the tool is missing and `REQUIRE_TEST_TOOLS` is set.
pub fn tool_or_skip(env: &str, candidates: &[&str]) -> Option<PathBuf> {
    let found = find_tool(env, candidates);
    if found.is_none() {
        skip_or_panic(&format!(
            "{} not found (set {env} or install it; `cargo xtask test` installs it)",
            candidates.first().copied().unwrap_or(env)
        ));
    }
    found
}

/// Panics with `message` when `REQUIRE_TEST_TOOLS` is set, otherwise reports the skip on stderr.
pub(crate) fn skip_or_panic(message: &str) {
    assert!(
        std::env::var_os("REQUIRE_TEST_TOOLS").is_none(),
        "{message}"
    );
    #[expect(clippy::print_stderr, reason = "a skipped test must say why")]
    {
        eprintln!("skipping: {message}");
    }
}
