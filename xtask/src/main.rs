//! `cargo xtask ci [--strict]` — every check the project has, with a summary table.
//! `cargo xtask bench [...]` — benchmarks against the raw system-call floor.
//! `cargo xtask model` — the lock protocol, model-checked with Spin.
//! `cargo xtask faults [...]` — the `daemonic` command under injected system-call failures.
//! `cargo xtask man --out DIR` — the `daemonic` command's manual pages and completions.
//! `cargo xtask fuzz [...]` — every cargo-fuzz target in `fuzz/` in turn (nightly).
//!
//! std only: this must build before anything else works.

mod bench;
mod ci;
mod faults;
mod fuzz;
mod man;
mod model;

use std::process::ExitCode;

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  ci [--strict] [--target T]... [--skip CHECK]...
                  fmt, clippy, tests (both rustix backends), docs, cargo-deny, packaging
                  (cargo publish --dry-run --workspace), the Spin model of the lock
                  protocol, the fault sweep, MSRV build and cross-target clippy;
                  a check that cannot run here is SKIPPED with the reason
                  --strict       fail when any check was SKIPPED
                  --target T     check only these cross targets (`host`: this machine's)
                  --skip CHECK   leave a check out (fmt, clippy, test, test-libc, doc, manual,
                                 deny, package, model, faults, msrv, cross), e.g. in a CI job
                                 that runs it elsewhere
                  --help         this text
  bench [--reps N] [--iters N] [--starts N] [--only OP]
                  benchmarks (release build): each operation beside the raw system-call
                  floor measured in the same run; prints ratios; never fails on timing
  man --out DIR   the daemonic command's manual pages (daemonic.1, daemonic-start.1, ...)
                  and bash, zsh and fish completions, generated from its --help texts
  model           the lock protocol's Spin model (crates/pidfile/model): every
                  configuration checked exhaustively, every deliberate bug caught
  faults [--only SCENARIO]... [--syscall NAME] [--keep-going] [--jobs N]
                  fault sweep (Linux, root, strace): every system call that start, stop,
                  status, reopen and the supervisor make fails once, at each of its first
                  calls, with the errors it can return (strace -e inject); each run must end
                  in a running service that status confirms and stop ends, or one clear
                  error with no process, PID file or temporary directory left, never a hang
                  --only SCENARIO  start, start-notify, stop, status, reopen,
                                   supervisor-stop, supervisor-exit (repeatable)
                  --syscall NAME   only this system call
                  --keep-going     list every violation (default: stop at the first)
                  --jobs N         runs at once, 1 or 2 (default 2)
  fuzz [--time SECONDS] [--only TARGET]...
                  every cargo-fuzz target in fuzz/ in turn (nightly and cargo-fuzz; SKIPPED
                  without them), each for SECONDS (default 60), then the executions and
                  crashes per target; fails when one crashed (the input is in fuzz/artifacts)
  help            this text
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // `cargo xtask ci --help` (as the README offers it) and the like: the help, not an error.
    if args.len() > 1 && args[1..].iter().any(|a| a == "--help" || a == "-h") {
        print!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    match args.first().map(String::as_str) {
        Some("man") => match &args[1..] {
            [flag, dir] if flag == "--out" => man::run(std::path::Path::new(dir)),
            _ => {
                eprintln!("xtask man: usage: cargo xtask man --out DIR\n\n{USAGE}");
                ExitCode::from(2)
            }
        },
        Some("ci") => match ci::Options::parse(&args[1..]) {
            Ok(options) => ci::run(&options),
            Err(e) => {
                eprintln!("xtask ci: {e}\n\n{USAGE}");
                ExitCode::from(2)
            }
        },
        Some("bench") => match bench::Options::parse(&args[1..]) {
            Ok(options) => bench::run(&options),
            Err(e) => {
                eprintln!("xtask bench: {e}\n\n{USAGE}");
                ExitCode::from(2)
            }
        },
        Some("model") if args.len() == 1 => model::run(),
        Some("faults") => match faults::Options::parse(&args[1..]) {
            Ok(options) => faults::run(&options),
            Err(e) => {
                eprintln!("xtask faults: {e}\n\n{USAGE}");
                ExitCode::from(2)
            }
        },
        Some("fuzz") => match fuzz::Options::parse(&args[1..]) {
            Ok(options) => fuzz::run(&options),
            Err(e) => {
                eprintln!("xtask fuzz: {e}\n\n{USAGE}");
                ExitCode::from(2)
            }
        },
        // PROGRAM of the fault sweep's `start-notify` scenario (not for people).
        Some(faults::NOTIFY_PROGRAM) => faults::notify_program(),
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
