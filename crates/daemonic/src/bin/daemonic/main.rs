//! `daemonic` — start, stop, status and restart any program as a daemon, with the guarantees of
//! the `daemonic` and `pidfile` crates. Build with `--features cli`.

mod descriptors;
mod env_file;
mod failure;
mod files;
mod holder;
mod limits;
mod manual;
mod notify_socket;
mod options;
mod program;
#[cfg(test)]
mod properties;
mod relay;
mod report;
mod restart;
mod restart_policy;
mod retry;
mod run;
mod signal;
mod signals;
mod spawn;
mod start;
mod start_options;
mod state;
mod status;
mod stop;
mod supervise;
mod sys;
mod tree;

pub(crate) use failure::{usage, Failure};
use std::ffi::OsString;
use std::process::ExitCode;

use crate::report::{esay, say};

const USAGE: &str = "\
usage: daemonic <command> [options]

Runs any program as a daemon with a kernel-locked PID file, and stops it safely.

commands:
  start     daemonize into a supervisor that holds the PID file and runs a program
  stop      signal the process holding a PID file and wait until its lock is released
  status    report whether the process holding a PID file runs (LSB exit codes)
  restart   stop, then start with the same arguments as start
  run       supervise PROGRAM in the foreground: a container's init (PID 1), a run script
  signal    send a signal to the service without stopping it (reload)
  reopen    make the supervisor reopen its log files (log rotation)

`daemonic <command> --help` describes each command. Messages start with `daemonic:`.
`daemonic --generate man --out DIR` writes the manual pages; `daemonic --generate
bash|zsh|fish` prints a completion script (both made from these help texts).

coming from start-stop-daemon (ssd) or FreeBSD daemon(8):
  start --pidfile F -- PROG   ssd --start --make-pidfile --background; daemon -P F: F is locked
                              by a supervisor for the service's whole life
  --child-pidfile F           daemon -p F
  stop --signal S --timeout T --kill, stop --retry S/T/KILL/T
                              ssd --stop --retry S/T/KILL/T; never a pid F does not credibly name
  start --oknodo              ssd --start --oknodo (0 when already running; stop: 0 anyway)
  status [--json]             ssd --status (LSB 0, 1, 3, 4), and running/failed, restarts
  run -- PROG                 tini, dumb-init: a container's PID 1
  signal SIG, reopen          kill -SIG; daemon -H (log files reopened, nothing lost)
  --user U --group G          ssd --chuid, daemon -u: PROGRAM only, the supervisor stays root
  --chdir --chroot --nice --umask --env --env-file --clear-env --quiet
                              ssd --chdir --chroot --nicelevel --umask --quiet (umask default:
                              the caller's)
  --stdout --stderr --append  ssd --output, daemon -o
  --syslog --syslog-tag --syslog-facility --syslog-priority
                              daemon -S -T -l -s
  --restart --restart-delay --restart-limit
                              daemon -r -R, with backoff and a crash-loop limit
  --notify-await --notify-timeout
                              ssd --notify-await --notify-timeout
  --no-supervise              ssd's exec model, with a read-only lock descriptor
  --limit --ionice --oom-score-adj --no-new-privileges
                              prlimit, ionice, choom, setpriv --no-new-privs: PROGRAM only
  --listen-fd N[:NAME]        systemd socket activation (LISTEN_FDS, LISTEN_PID)
";

fn main() -> ExitCode {
    let mut args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let command = if args.is_empty() { String::new() } else { args.remove(0).to_string_lossy().into_owned() };
    let (result, command_usage) = match command.as_str() {
        "start" => (
            start_options::parse(args, start_options::USAGE, start_options::Command::Start)
                .and_then(|a| a.map_or(Ok(ExitCode::SUCCESS), |a| start::run(&a))),
            start_options::USAGE,
        ),
        "stop" => (stop::parse(args).and_then(|a| a.map_or(Ok(ExitCode::SUCCESS), |a| stop::run(&a))), stop::USAGE),
        // LSB: `status` reports "unknown" (4) for bad usage too.
        "status" => (
            status::parse(args)
                .map_err(|failure| match failure {
                    Failure::Usage(message, usage) => Failure::StatusUsage(message, usage),
                    other => other,
                })
                .and_then(|a| a.map_or(Ok(ExitCode::SUCCESS), |a| Ok(status::run(&a)))),
            status::USAGE,
        ),
        "signal" => {
            (signal::parse(args).and_then(|a| a.map_or(Ok(ExitCode::SUCCESS), |a| signal::run(&a))), signal::USAGE)
        }
        "reopen" => (
            signal::parse_reopen(args).and_then(|a| a.map_or(Ok(ExitCode::SUCCESS), |a| signal::run(&a))),
            signal::REOPEN_USAGE,
        ),
        "run" => (
            start_options::parse(args, run::USAGE, start_options::Command::Run)
                .and_then(|a| a.map_or(Ok(ExitCode::SUCCESS), |a| start::run(&a))),
            run::USAGE,
        ),
        "restart" => (
            start_options::parse(args, restart::USAGE, start_options::Command::Restart)
                .and_then(|a| a.map_or(Ok(ExitCode::SUCCESS), |a| restart::run(&a))),
            restart::USAGE,
        ),
        "--generate" => return generate(&args),
        "--version" | "-V" => {
            say(&format!("daemonic {}\n", env!("CARGO_PKG_VERSION")));
            return ExitCode::SUCCESS;
        }
        "--help" | "-h" | "help" => {
            say(USAGE);
            return ExitCode::SUCCESS;
        }
        "" => (Err(Failure::Usage("a command is required".into(), USAGE)), USAGE),
        other => (Err(Failure::Usage(format!("unknown command {other:?}"), USAGE)), USAGE),
    };
    // A usage error without a synopsis (one of the option parser's) is the command's.
    let or_command = |usage: &'static str| if usage.is_empty() { command_usage } else { usage };
    match result {
        Ok(code) => code,
        Err(Failure::Usage(message, usage)) => {
            esay(&usage_error(&message, or_command(usage)));
            ExitCode::from(2)
        }
        Err(Failure::StatusUsage(message, usage)) => {
            esay(&usage_error(&message, or_command(usage)));
            ExitCode::from(4)
        }
        Err(Failure::Error(message)) => {
            esay(&format!("daemonic: {message}\n"));
            ExitCode::from(1)
        }
    }
}

/// A usage error: the message, the command's synopsis (the first line of its help) and where
/// the whole help is, as GNU tools print them — not the whole help, which would bury the error.
fn usage_error(message: &str, usage: &str) -> String {
    let synopsis = usage.lines().next().unwrap_or_default();
    let help = match synopsis.split_whitespace().nth(2) {
        Some(command) if !command.starts_with('<') => format!("daemonic {command} --help"),
        _ => "daemonic --help".to_owned(),
    };
    format!("daemonic: {message}\n{synopsis}\nTry `{help}` for more information.\n")
}

/// `daemonic --generate man --out DIR`, `daemonic --generate bash|zsh|fish` (`manual.rs`).
fn generate(args: &[OsString]) -> ExitCode {
    let args: Vec<String> = args.iter().map(|a| a.to_string_lossy().into_owned()).collect();
    let text = match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["man", "--out", dir] => match manual::write_man_pages(std::path::Path::new(dir)) {
            Ok(written) => {
                report::inform(&written.iter().map(|p| format!("{}\n", p.display())).collect::<String>());
                return ExitCode::SUCCESS;
            }
            Err(e) => {
                esay(&format!("daemonic: cannot write the manual pages to {dir}: {}\n", report::os_message(&e)));
                return ExitCode::from(1);
            }
        },
        ["bash"] => manual::bash(),
        ["zsh"] => manual::zsh(),
        ["fish"] => manual::fish(),
        _ => {
            esay(&usage_error("--generate takes man --out DIR, bash, zsh or fish", USAGE));
            return ExitCode::from(2);
        }
    };
    say(&text);
    ExitCode::SUCCESS
}
