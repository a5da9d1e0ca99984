//! `cargo xtask ci [--strict]` — every check the project has, with a summary table.
//! `cargo xtask bench [...]` — benchmarks against the raw system-call floor.
//! `cargo xtask model` — the lock protocol, model-checked with Spin.
//! `cargo xtask faults [...]` — the `daemonic` command under injected system-call failures.
//! `cargo xtask man --out DIR` — the `daemonic` command's manual pages and completions.
//! `cargo xtask fuzz [...]` — every cargo-fuzz target in `fuzz/` in turn (nightly).
//! `cargo xtask mutants [...]` — cargo-mutants over the pidfile crate and the command's decisions.
//!
//! std only: this must build before anything else works.

mod bench;
mod ci;
mod faults;
mod fuzz;
mod man;
mod model;
mod mutants;

use std::process::ExitCode;

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  ci [--strict] [--target T]... [--skip CHECK]...
                  fmt, clippy, tests (both rustix backends), docs, cargo-deny, packaging
                  (cargo publish --dry-run --workspace), the Spin model of the lock
                  protocol, the fault sweep, cargo-mutants on the last commit's change
                  (mutants --in-diff HEAD~1), MSRV build and cross-target clippy;
                  a check that cannot run here is SKIPPED with the reason
                  --strict       fail when any check was SKIPPED
                  --target T     check only these cross targets (`host`: this machine's)
                  --skip CHECK   leave a check out (fmt, clippy, test, test-libc, doc, manual,
                                 deny, package, model, faults, mutants, msrv, cross), e.g. in
                                 a CI job that runs it elsewhere
                  --help         this text
  bench [--reps N] [--iters N] [--starts N] [--only OP]
                  benchmarks (release build): each operation beside the raw system-call
                  floor measured in the same run; prints ratios; never fails on timing
  man --out DIR   the daemonic command's manual pages (daemonic.1, daemonic-start.1, ...)
                  and bash, zsh and fish completions, generated from its --help texts
  mutants [--in-diff REV] [--pass pidfile|command]... [--jobs N]
                  cargo-mutants (installed separately, run with --jobserver false) in two
                  passes: `pidfile`, crates/pidfile/src with the crate's own unit and
                  integration tests (target: no surviving mutant; equivalent ones are
                  excluded, with their reason, in .cargo/mutants.toml); `command`, the
                  daemonic command's decision code with its unit tests and tests/cli.rs
                  (target: 95%). Prints per pass the counts, the score and every survivor;
                  fails when a target is missed
                  --in-diff REV  only the mutants in `git diff REV` (ci: HEAD~1)
                  --pass P       only this pass (repeatable)
                  --jobs N       mutants built and tested at once (default 2)
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
        Some("mutants") => match mutants::Options::parse(&args[1..]) {
            Ok(options) => mutants::run(&options),
            Err(e) => {
                eprintln!("xtask mutants: {e}\n\n{USAGE}");
                ExitCode::from(2)
            }
        },
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
