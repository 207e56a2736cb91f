//! Test harness pieces shared by the workspace's tests.
//!
//! External programs are found through the variables `cargo xtask test` exports (`REDIS_SERVER`,
//! `CHROMIUM`, `CHROMEDRIVER`) or on `PATH`. When one is missing, a test returns early with a
//! message — unless `REQUIRE_TEST_TOOLS` is set (as `cargo xtask test` and CI do), in which case
//! it fails: in CI a missing tool must never turn into a silently green run.

#![forbid(unsafe_code)]

mod driver;
mod peers;
mod port_lock;
mod redis_server;
mod tools;

pub use driver::run_driver;
pub use peers::{msal_node_or_skip, msal_python_or_skip};
pub use port_lock::{INTEROP_443_LOCK, PortLock};
pub use redis_server::RedisServer;
pub use tools::{find_tool, tool_or_skip};
