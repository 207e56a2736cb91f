//! `cargo run -p dev-tenant`.
fn main() {}
