//! `cargo xtask ci [--strict]` — every check the project has, with a summary table.
//! `cargo xtask bench [...]` — benchmarks against the raw system-call floor.
//!
//! std only: this must build before anything else works.

mod ci;

use std::process::ExitCode;

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  ci [--strict]   fmt, clippy, tests (both rustix backends), docs, cargo-deny, MSRV build and
                  cross-target checks; --strict fails when any check was skipped
  help            this text
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("ci") => match ci::Options::parse(&args[1..]) {
            Ok(options) => ci::run(&options),
            Err(e) => {
                eprintln!("xtask ci: {e}\n\n{USAGE}");
                ExitCode::from(2)
            }
        },
        Some("help" | "--help" | "-h") => {
            print!("{USAGE}");
            ExitCode::SUCCESS
        }
        Some(other) => {
            eprintln!("xtask: unknown command {other:?}\n\n{USAGE}");
            ExitCode::from(2)
        }
        None => {
            eprint!("{USAGE}");
            ExitCode::from(2)
        }
    }
}
