//! Project automation. `cargo xtask test` is the one test command (CI runs it through `.ci/run`).
//!
//! It uses only the standard library so it builds in seconds on a cold machine.

#![expect(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a command-line tool reports on the terminal"
)]

mod bench_report;
mod cargo_tools;
mod doc_figures;
mod fuzz;
mod install;
mod load;
mod load_user_info;
mod peers;
mod steps;

use std::process::ExitCode;

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  test     install what the tests need (redis-server, chromium, chromium-driver with apt-get
           when run as root; pinned MSAL Python and MSAL Node in target/interop-peers/; pinned
           cargo-fuzz, cargo-deny and cargo-hack with `cargo install`), then run the doc-figure
           check, fmt, clippy, clippy per library feature, every test (unit, integration, doc),
           the bench smoke run, rustdoc, packaging, the fuzz smoke run and cargo deny.
           `test --no-install`: install nothing; checks whose tool is missing are skipped
           with a message, tests whose tool is missing fail (REQUIRE_TEST_TOOLS=1).
           Not root: install the Debian packages yourself (the exact apt-get command is
           printed), or run with --no-install and set REDIS_SERVER, CHROMIUM and CHROMEDRIVER
  figures  check that figures quoted in the docs equal docs/plots/figures.md
  install  only install what the tests need
  docs     build the API docs, and the book in docs/ when mdbook is installed
  load     the middleware and a bare handler under wrk on loopback (installs wrk as root);
           `--rounds N` (default 3); about 30 s per round.
           `load --update-user-info [--rounds N] [--workers N]`: issue 20's request shape
           (POST with a JSON body, cache on / off, 10k distinct tokens) and the cold path's
           ratio to the verify-bound limit; `load --scaling`: one worker against two
  fuzz     `fuzz [seconds]`: run every cargo-fuzz target for the given time (default 60 s) and
           print executions and crashes (needs cargo-fuzz)
  bench-report
           plots (docs/plots/*.svg) and a table from the last `cargo bench -p benches`, and
           every figure the docs quote from it rewritten
  help     this text
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("test") => steps::test(&args[1..]),
        Some("install") => install::ensure_test_tools()
            .and_then(peers::with_peers)
            .map(|_| ()),
        Some("docs") => steps::docs(),
        Some("load") => load::load(&args[1..]),
        Some("bench-report") => bench_report::bench_report(),
        Some("figures") => load::workspace_root()
            .and_then(|root| doc_figures::check(&root))
            .map(|n| println!("xtask: {n} marked figures match docs/plots/figures.md")),
        Some("fuzz") => fuzz::fuzz(&args[1..]),
        Some("help" | "--help" | "-h") | None => {
            print!("{USAGE}");
            Ok(())
        }
        Some(other) => Err(format!("unknown command `{other}`\n\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}
