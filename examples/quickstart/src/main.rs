//! `cargo run -p quickstart`.
fn main() {}
