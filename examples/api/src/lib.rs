//! Quickstart example (work in progress).
