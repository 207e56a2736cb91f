//! # The quickstart web app, in Rust (work in progress)

#![forbid(unsafe_code)]

pub mod pages;
pub mod session_store;
