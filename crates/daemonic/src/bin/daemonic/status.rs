//! `daemonic status`: whether the service holding a PID file runs, with LSB exit codes.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use pidfile::{Pid, PidFileError};

use crate::holder::{judge, Judged};
use crate::options::path_value;
use crate::report::{chain, inform, say};
use crate::state::{self, json_string, State};
use crate::tree;
use crate::{usage, Failure};

pub(crate) const USAGE: &str = "\
usage: daemonic status --pidfile FILE [--json]

Prints whether the service holding FILE runs: running, stopped, or failed (`--restart` gave
up). For a service started by `daemonic start`: the supervisor's pid, PROGRAM's pid, how long
PROGRAM has run, how often it was restarted and how it last ended (from the state record
the supervisor keeps beside FILE, FILE.state).

options:
  --pidfile FILE    the PID file (required)
  --json            one JSON object for monitoring: {\"state\": \"running\"|\"failed\"|
                    \"dead\"|\"stopped\"|\"unknown\", \"pid\", \"program_pid\",
                    \"uptime_seconds\", \"restarts\", \"last_exit\", \"gave_up_at\",
                    \"reason\"} (null where unknown); the exit status is the same
  --quiet           print nothing but errors; the exit status is the answer

Decided by the rules of `daemonic stop`: a file `stop` would refuse to act on is unknown (4).

exit status (LSB): 0 running (the pid is printed); 1 not running but the PID file exists
(dead, or failed: `--restart` gave up; until the next start or stop); 3 not running
(stopped); 4 unknown (the file cannot be read, is malformed, is locked by a process that
cannot be identified, names PID 1, or someone else could have written it; the reason is
printed), and usage errors.
";

pub(crate) struct StatusArgs {
    pidfile: PathBuf,
    json: bool,
}

pub(crate) fn parse(args: Vec<OsString>) -> Result<Option<StatusArgs>, Failure> {
    use lexopt::prelude::*;
    let bad = usage(USAGE);
    let mut parser = lexopt::Parser::from_args(args);
    let (mut pidfile, mut json) = (None, false);
    while let Some(arg) = parser.next().map_err(|e| bad(e.to_string()))? {
        match arg {
            Long("pidfile") => pidfile = Some(path_value(parser.value()?, "--pidfile").map_err(&bad)?),
            Long("json") => json = true,
            Long("quiet") | Short('q') => crate::report::set_quiet(),
            Long("help") | Short('h') => {
                say(USAGE);
                return Ok(None);
            }
            _ => return Err(bad(arg.unexpected().to_string())),
        }
    }
    let pidfile = pidfile.ok_or_else(|| bad("--pidfile FILE is required".into()))?;
    Ok(Some(StatusArgs { pidfile, json }))
}

/// What `status` found, for either form of output.
#[derive(Default)]
struct Report {
    state: &'static str,
    code: u8,
    pid: Option<u32>,
    program: Option<u32>,
    uptime: Option<u64>,
    restarts: Option<u32>,
    last: Option<String>,
    gave_up: Option<u64>,
    reason: Option<String>,
    /// The line printed without `--json`.
    text: String,
}

pub(crate) fn run(args: &StatusArgs) -> ExitCode {
    let report = examine(&args.pidfile);
    if args.json {
        let number = |n: Option<u64>| n.map_or_else(|| "null".to_owned(), |n| n.to_string());
        let string = |s: &Option<String>| s.as_deref().map_or_else(|| "null".to_owned(), json_string);
        say(&format!(
            "{{\"state\": {}, \"pidfile\": {}, \"pid\": {}, \"program_pid\": {}, \"uptime_seconds\": {}, \
             \"restarts\": {}, \"last_exit\": {}, \"gave_up_at\": {}, \"reason\": {}}}\n",
            json_string(report.state),
            json_string(&args.pidfile.to_string_lossy()),
            number(report.pid.map(u64::from)),
            number(report.program.map(u64::from)),
            number(report.uptime),
            number(report.restarts.map(u64::from)),
            string(&report.last),
            number(report.gave_up),
            string(&report.reason),
        ));
    } else if report.code == 4 {
        say(&report.text);
    } else {
        inform(&report.text);
    }
    ExitCode::from(report.code)
}

fn examine(path: &Path) -> Report {
    // Decided as `stop` decides: what it would refuse is "unknown" here, with its reason.
    let inspection = match judge(path) {
        Ok(Judged::Missing) => {
            return Report { state: "stopped", code: 3, text: "daemonic: not running\n".into(), ..Report::default() }
        }
        Ok(Judged::Running(service)) => {
            let state = tree::identity(&service.inspection)
                .ok()
                .and_then(|identity| State::read(service.inspection.parent_dir(), identity))
                .map(|(state, _)| state);
            let mut report = Report { state: "running", code: 0, pid: Some(service.pid.get()), ..Report::default() };
            match state.filter(|_| service.is_supervisor()) {
                Some(state) => {
                    report.program = state.program;
                    report.uptime = state.since.map(|since| state::now().saturating_sub(since));
                    report.restarts = Some(state.restarts);
                    report.last = state.last;
                }
                None => report.program = supervised_program(service.pid),
            }
            let mut details = Vec::new();
            if let Some(program) = report.program {
                details.push(format!("program pid {program}"));
            } else if report.restarts.is_some() {
                details.push("program restarting".to_owned());
            }
            if let Some(uptime) = report.uptime {
                details.push(format!("up {}", state::duration(uptime)));
            }
            if let Some(restarts) = report.restarts.filter(|n| *n > 0) {
                details.push(format!("{restarts} restart{}", if restarts == 1 { "" } else { "s" }));
            }
            if let Some(last) = report.last.as_ref().filter(|_| report.restarts.is_some_and(|n| n > 0)) {
                details.push(format!("last: {last}"));
            }
            report.text =
                format!("daemonic: running (pid {}; {})\n", service.pid, details.join(", ")).replace("; )", ")");
            return report;
        }
        Ok(Judged::Stale(inspection)) => inspection,
        Err(reason) => {
            return Report {
                state: "unknown",
                code: 4,
                text: format!("daemonic: status unknown: {reason}\n"),
                reason: Some(reason),
                ..Report::default()
            }
        }
    };
    let failed = tree::identity(&inspection)
        .ok()
        .and_then(|identity| State::read(inspection.parent_dir(), identity))
        .map(|(state, _)| state)
        .filter(|state| state.gave_up.is_some());
    if let Some(state) = failed {
        let at = state.gave_up.unwrap_or_default();
        let last = state.last.clone().unwrap_or_else(|| "unknown".into());
        let restarts = state.restarts;
        return Report {
            state: "failed",
            code: 1,
            restarts: Some(restarts),
            gave_up: Some(at),
            text: format!(
                "daemonic: failed: gave up after {restarts} restart{} at {} (last: {last})\n",
                if restarts == 1 { "" } else { "s" },
                state::utc(at)
            ),
            last: Some(last),
            ..Report::default()
        };
    }
    match inspection.read_pid() {
        Ok(pid) => Report {
            state: "dead",
            code: 1,
            text: format!("daemonic: not running, but {} exists (names pid {pid})\n", path.display()),
            ..Report::default()
        },
        Err(PidFileError::Malformed { source, .. }) if source.kind() == pidfile::ParsePidErrorKind::Empty => Report {
            state: "dead",
            code: 1,
            text: format!("daemonic: not running, but {} exists (empty)\n", path.display()),
            ..Report::default()
        },
        Err(e) => {
            let reason = chain(&e);
            Report {
                state: "unknown",
                code: 4,
                text: format!("daemonic: status unknown: {reason}\n"),
                reason: Some(reason),
                ..Report::default()
            }
        }
    }
}

/// PROGRAM's pid when `holder` is a `daemonic` supervisor (its command name is `daemonic`) with
/// exactly one child: Linux only (`/proc`); `None` elsewhere or when unsure.
fn supervised_program(holder: Pid) -> Option<u32> {
    #[cfg(target_os = "linux")]
    {
        let comm = std::fs::read_to_string(format!("/proc/{holder}/comm")).ok()?;
        if !comm.trim_end().starts_with("daemonic") {
            return None;
        }
        let children = std::fs::read_to_string(format!("/proc/{holder}/task/{holder}/children")).ok()?;
        let mut pids = children.split_whitespace().filter_map(|p| p.parse::<u32>().ok());
        match (pids.next(), pids.next()) {
            (Some(pid), None) => Some(pid),
            _ => None,
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = holder;
        None
    }
}
