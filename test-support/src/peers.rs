//! Finding the real MSAL libraries (`cargo xtask test` installs them) for the cache round-trip
//! tests.

use std::path::PathBuf;

use crate::tools::skip_or_panic;

/// The python of a venv holding MSAL Python (env `MSAL_PYTHON`).
///
/// Returns `None` after reporting the skip on stderr when it is not set or does not exist.
///
/// # Panics
///
/// When missing and `REQUIRE_TEST_TOOLS` is set.
pub fn msal_python_or_skip() -> Option<PathBuf> {
    let found = std::env::var_os("MSAL_PYTHON")
        .map(PathBuf::from)
        .filter(|p| p.is_file());
    if found.is_none() {
        skip_or_panic(
            "MSAL Python not found (set MSAL_PYTHON to a python that can `import msal`; \
             `cargo xtask test` installs one in target/interop-peers/venv)",
        );
    }
    found
}

/// A node project directory whose `node_modules` holds `@azure/msal-node` (env
/// `MSAL_NODE_DIR`), and the `node` program.
///
/// Returns `None` after reporting the skip on stderr when either is missing.
///
/// # Panics
///
/// When missing and `REQUIRE_TEST_TOOLS` is set.
pub fn msal_node_or_skip() -> Option<(PathBuf, PathBuf)> {
    let dir = std::env::var_os("MSAL_NODE_DIR")
        .map(PathBuf::from)
        .filter(|d| {
            d.join("node_modules/@azure/msal-node/package.json")
                .is_file()
        });
    let node = crate::find_tool("NODE", &["node", "/usr/bin/node"]);
    match (dir, node) {
        (Some(dir), Some(node)) => Some((dir, node)),
        _ => {
            skip_or_panic(
                "MSAL Node not found (set MSAL_NODE_DIR to a directory whose node_modules holds \
                 @azure/msal-node, and have node on PATH; `cargo xtask test` installs it in \
                 target/interop-peers/node)",
            );
            None
        }
    }
}
