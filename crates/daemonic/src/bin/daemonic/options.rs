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

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    /// The usage error's message, and that it is a usage error of `help`'s command.
    fn usage_error<T>(result: Result<T, Failure>, help: &'static str) -> String {
        match result {
            Err(Failure::Usage(message, usage)) => {
                assert_eq!(usage, help, "{message}");
                message
            }
            Err(Failure::StatusUsage(message, _) | Failure::Error(message)) => panic!("not a usage error: {message}"),
            Ok(_) => panic!("accepted"),
        }
    }

    const HELP: &str = "usage: daemonic test --pidfile FILE\n";

    #[test]
    fn a_pidfile_alone() {
        assert_eq!(parse_pidfile(args(&["--pidfile", "/run/x.pid"]), HELP).ok().flatten(), Some("/run/x.pid".into()));
        assert_eq!(parse_pidfile(args(&["--pidfile=/run/y.pid"]), HELP).ok().flatten(), Some("/run/y.pid".into()));
        assert!(parse_pidfile(args(&["--help"]), HELP).is_ok_and(|p| p.is_none()), "help: nothing to do");
        assert!(parse_pidfile(args(&["-h"]), HELP).is_ok_and(|p| p.is_none()));
        assert!(usage_error(parse_pidfile(args(&[]), HELP), HELP).contains("--pidfile FILE is required"));
        assert!(usage_error(parse_pidfile(args(&["--pidfile", ""]), HELP), HELP).contains("not an empty string"));
        assert!(usage_error(parse_pidfile(args(&["--pidfile", "a", "--bogus"]), HELP), HELP).contains("--bogus"));
        assert!(usage_error(parse_pidfile(args(&["--pidfile", "a", "extra"]), HELP), HELP).contains("extra"));
        let missing = usage_error(parse_pidfile(args(&["--pidfile"]), HELP), "");
        assert!(missing.contains("--pidfile"), "{missing}");
    }

    #[test]
    fn descriptors_are_3_or_more() {
        assert_eq!(parse_fd("3", "--keep-fd"), Ok(3));
        assert_eq!(parse_fd("1024", "--keep-fd"), Ok(1024));
        for bad in ["2", "0", "-1", "x", "", "3.0"] {
            let message = parse_fd(bad, "--keep-fd").unwrap_err();
            assert!(message.starts_with("--keep-fd ") && message.contains(">= 3"), "{message}");
        }
    }

    #[test]
    fn seconds_from_zero_to_a_year() {
        assert_eq!(parse_seconds("0", "--timeout"), Ok(Duration::ZERO));
        assert_eq!(parse_seconds("0.25", "--timeout"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_seconds("10", "--timeout"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_seconds("31622400", "--timeout"), Ok(LONGEST));
        for bad in ["-1", "-0.5", "x", "", "NaN", "inf", "31622400.5", "1e300"] {
            let message = parse_seconds(bad, "--timeout").unwrap_err();
            assert!(message.starts_with("--timeout ") && message.contains("31622400"), "{bad}: {message}");
        }
    }

    #[test]
    fn signals_by_name_or_number() {
        let known = [
            ("HUP", libc::SIGHUP),
            ("INT", libc::SIGINT),
            ("QUIT", libc::SIGQUIT),
            ("KILL", libc::SIGKILL),
            ("USR1", libc::SIGUSR1),
            ("USR2", libc::SIGUSR2),
            ("ALRM", libc::SIGALRM),
            ("TERM", libc::SIGTERM),
            ("CONT", libc::SIGCONT),
            ("STOP", libc::SIGSTOP),
            ("TSTP", libc::SIGTSTP),
            ("TTIN", libc::SIGTTIN),
            ("TTOU", libc::SIGTTOU),
            ("URG", libc::SIGURG),
            ("WINCH", libc::SIGWINCH),
        ];
        for (name, raw) in known {
            assert_eq!(parse_signal(name, "--signal").map(Signal::as_raw), Ok(raw), "{name}");
            assert_eq!(parse_signal(&format!("SIG{name}"), "--signal").map(Signal::as_raw), Ok(raw));
            assert_eq!(parse_signal(&name.to_lowercase(), "--signal").map(Signal::as_raw), Ok(raw));
            assert_eq!(parse_signal(&raw.to_string(), "--signal").map(Signal::as_raw), Ok(raw));
            assert_eq!(signal_name(raw), format!("SIG{name}"));
        }
        for bad in ["BOGUS", "SIG", "", "0", "-9", "99999", "SIGSIGTERM"] {
            assert_eq!(parse_signal(bad, "--signal"), Err(format!("--signal {bad:?}: unknown signal")));
        }
    }

    #[test]
    fn signal_names_for_messages() {
        for (raw, name) in [
            (libc::SIGILL, "SIGILL"),
            (libc::SIGABRT, "SIGABRT"),
            (libc::SIGFPE, "SIGFPE"),
            (libc::SIGSEGV, "SIGSEGV"),
            (libc::SIGPIPE, "SIGPIPE"),
            (libc::SIGBUS, "SIGBUS"),
            (libc::SIGVTALRM, "SIGVTALRM"),
            (libc::SIGXFSZ, "SIGXFSZ"),
        ] {
            assert_eq!(signal_name(raw), name);
        }
        assert_eq!(signal_name(34), "signal 34");
    }

    #[test]
    fn durations_for_messages() {
        assert_eq!(seconds(Duration::from_millis(250)), "250ms");
        assert_eq!(seconds(Duration::from_millis(1500)), "1.5s");
        assert_eq!(seconds(Duration::from_secs(1)), "1s");
        assert_eq!(seconds(Duration::ZERO), "0s");
        assert_eq!(seconds(Duration::from_secs(10)), "10s");
    }
}
