//! Option values shared by several commands: descriptors, durations, signals.

use std::ffi::OsString;
use std::os::fd::RawFd;
use std::path::PathBuf;
use std::time::Duration;

use rustix::process::Signal;

use crate::report::say;
use crate::{usage, Failure};

/// The arguments of a command that takes only `--pidfile FILE` (and `--quiet`, `--help`):
/// `Ok(None)` after printing `help`.
pub(crate) fn parse_pidfile(args: Vec<OsString>, help: &'static str) -> Result<Option<PathBuf>, Failure> {
    use lexopt::prelude::*;
    let bad = usage(help);
    let mut parser = lexopt::Parser::from_args(args);
    let mut pidfile = None;
    while let Some(arg) = parser.next().map_err(|e| bad(e.to_string()))? {
        match arg {
            Long("pidfile") => pidfile = Some(path_value(parser.value()?, "--pidfile").map_err(&bad)?),
            Long("quiet") | Short('q') => crate::report::set_quiet(),
            Long("help") | Short('h') => {
                say(help);
                return Ok(None);
            }
            _ => return Err(bad(arg.unexpected().to_string())),
        }
    }
    pidfile.map(Some).ok_or_else(|| bad("--pidfile FILE is required".into()))
}

/// A file's path: not empty (an empty path would otherwise be reported as whatever the
/// current directory is, "a directory").
pub(crate) fn path_value(value: OsString, option: &str) -> Result<PathBuf, String> {
    if value.is_empty() {
        return Err(format!("{option} needs a path, not an empty string"));
    }
    Ok(PathBuf::from(value))
}

/// A descriptor number the caller passes on: 3 or more (0–2 are the standard streams).
pub(crate) fn parse_fd(value: &str, option: &str) -> Result<RawFd, String> {
    value.parse::<RawFd>().ok().filter(|fd| *fd >= 3).ok_or(format!("{option} {value:?}: not a descriptor number >= 3"))
}

/// The longest duration any option accepts: a year. Longer values are refused rather than
/// overflowing a deadline (`Instant + Duration` panics on overflow).
const LONGEST: Duration = Duration::from_secs(366 * 24 * 3600);

/// Seconds, with a fraction (`0.5`, `10`), from 0 to a year.
pub(crate) fn parse_seconds(value: &str, option: &str) -> Result<Duration, String> {
    value
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
        .filter(|d| *d <= LONGEST)
        .ok_or(format!("{option} {value:?}: not a number of seconds from 0 to 31622400"))
}

/// A signal name (`TERM`, `SIGHUP`, case-insensitive) or number: every name [`signal_name`]
/// prints reads back (a `--retry` schedule in a message, `ABRT/5`, is one `stop` takes).
pub(crate) fn parse_signal(name: &str, option: &str) -> Result<Signal, String> {
    let unknown = || format!("{option} {name:?}: unknown signal");
    if let Ok(number) = name.parse::<i32>() {
        return Signal::from_named_raw(number).ok_or_else(unknown);
    }
    let upper = name.to_ascii_uppercase();
    let raw = match upper.strip_prefix("SIG").unwrap_or(&upper) {
        "HUP" => libc::SIGHUP,
        "INT" => libc::SIGINT,
        "QUIT" => libc::SIGQUIT,
        "ILL" => libc::SIGILL,
        "ABRT" => libc::SIGABRT,
        "FPE" => libc::SIGFPE,
        "KILL" => libc::SIGKILL,
        "SEGV" => libc::SIGSEGV,
        "PIPE" => libc::SIGPIPE,
        "BUS" => libc::SIGBUS,
        "VTALRM" => libc::SIGVTALRM,
        "XFSZ" => libc::SIGXFSZ,
        "USR1" => libc::SIGUSR1,
        "USR2" => libc::SIGUSR2,
        "ALRM" => libc::SIGALRM,
        "TERM" => libc::SIGTERM,
        "CONT" => libc::SIGCONT,
        "STOP" => libc::SIGSTOP,
        "TSTP" => libc::SIGTSTP,
        "TTIN" => libc::SIGTTIN,
        "TTOU" => libc::SIGTTOU,
        "URG" => libc::SIGURG,
        "WINCH" => libc::SIGWINCH,
        _ => return Err(unknown()),
    };
    Signal::from_named_raw(raw).ok_or_else(unknown)
}

/// A signal's name for messages: `SIGTERM`, or `signal 34`.
pub(crate) fn signal_name(raw: i32) -> String {
    let name = match raw {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGABRT => "SIGABRT",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGALRM => "SIGALRM",
        libc::SIGTERM => "SIGTERM",
        libc::SIGUSR1 => "SIGUSR1",
        libc::SIGUSR2 => "SIGUSR2",
        libc::SIGBUS => "SIGBUS",
        libc::SIGCONT => "SIGCONT",
        libc::SIGSTOP => "SIGSTOP",
        libc::SIGTSTP => "SIGTSTP",
        libc::SIGTTIN => "SIGTTIN",
        libc::SIGTTOU => "SIGTTOU",
        libc::SIGWINCH => "SIGWINCH",
        libc::SIGURG => "SIGURG",
        libc::SIGVTALRM => "SIGVTALRM",
        libc::SIGXFSZ => "SIGXFSZ",
        _ => return format!("signal {raw}"),
    };
    name.to_owned()
}

/// A duration for messages: `1.5s`, `250ms`.
pub(crate) fn seconds(duration: Duration) -> String {
    if duration < Duration::from_secs(1) && !duration.is_zero() {
        format!("{}ms", duration.as_millis())
    } else {
        format!("{}s", duration.as_secs_f64())
    }
}
