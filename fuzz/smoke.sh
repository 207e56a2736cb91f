#!/usr/bin/env bash
# Smoke-runs every cargo-fuzz target for a few seconds each: `cargo xtask test` calls this when
# cargo-fuzz is installed. Not a fuzzing campaign, just "the targets build and survive a short
# run". FUZZ_SECONDS (default 10) sets the time per target; FUZZ_DEV=1 builds without
# optimisations (about twice as fast to build from cold, about 20x fewer runs per second).
set -euo pipefail
cd "$(dirname "$0")"

# cargo-fuzz passes nightly-only flags (-Zsanitizer, ...). RUSTC_BOOTSTRAP=1 lets the stable
# toolchain accept them; with a nightly toolchain it is harmless.
export RUSTC_BOOTSTRAP=1
seconds="${FUZZ_SECONDS:-10}"
mode=()
if [[ "${FUZZ_DEV:-0}" == 1 ]]; then
    mode=(--dev)
fi

# Build all targets once (release + debug assertions, AddressSanitizer).
cargo fuzz build "${mode[@]}"

for target in $(cargo fuzz list); do
    mkdir -p "corpus/$target"
    seeds=()
    if [[ -d "seeds/$target" ]]; then
        seeds=("seeds/$target")
    fi
    # New inputs go to corpus/<target> (git-ignored); seeds/<target> is read only.
    cargo fuzz run "${mode[@]}" "$target" "corpus/$target" "${seeds[@]}" -- \
        -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=20000
done
