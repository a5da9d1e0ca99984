//! `daemonic status`: whether the service holding a PID file runs, with LSB exit codes.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use pidfile::{Pid, PidFileError};

use crate::holder::{judge, Judged};

use crate::report::{chain, inform, say};
use crate::Failure;

pub(crate) const USAGE: &str = "\
usage: daemonic status --pidfile FILE

Prints whether the process holding FILE runs; for a service started by `daemonic start`, the
supervisor's pid and (on Linux) PROGRAM's.

options:
  --pidfile FILE    the PID file (required)
  --quiet           print nothing but errors; the exit status is the answer

Decided by the rules of `daemonic stop`: a file `stop` would refuse to act on is unknown (4).

exit status (LSB): 0 running (the pid is printed); 1 not running but the PID file exists;
3 not running; 4 unknown (the file cannot be read, is malformed, is locked by a process that
cannot be identified, names PID 1, or someone else could have written it; the reason is
printed), and usage errors.
";

pub(crate) fn parse(args: Vec<OsString>) -> Result<Option<PathBuf>, Failure> {
    crate::options::parse_pidfile(args, USAGE)
}

pub(crate) fn run(path: &Path) -> ExitCode {
    // Decided as `stop` decides: what it would refuse is "unknown" here, with its reason.
    let inspection = match judge(path) {
        Ok(Judged::Missing) => {
            inform("daemonic: not running\n");
            return ExitCode::from(3);
        }
        Ok(Judged::Running(service)) => {
            match supervised_program(service.pid) {
                Some(program) => inform(&format!("daemonic: running (pid {}; program pid {program})\n", service.pid)),
                None => inform(&format!("daemonic: running (pid {})\n", service.pid)),
            }
            return ExitCode::SUCCESS;
        }
        Ok(Judged::Stale(inspection)) => inspection,
        Err(reason) => {
            say(&format!("daemonic: status unknown: {reason}\n"));
            return ExitCode::from(4);
        }
    };
    match inspection.read_pid() {
        Ok(pid) => {
            inform(&format!("daemonic: not running, but {} exists (names pid {pid})\n", path.display()));
            ExitCode::from(1)
        }
        Err(PidFileError::Malformed { source, .. }) if source.kind() == pidfile::ParsePidErrorKind::Empty => {
            inform(&format!("daemonic: not running, but {} exists (empty)\n", path.display()));
            ExitCode::from(1)
        }
        Err(e) => {
            say(&format!("daemonic: status unknown: {}\n", chain(&e)));
            ExitCode::from(4)
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
