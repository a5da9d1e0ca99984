//! The parsers under fuzzing, and what each fuzz target checks beyond "no panic".
//!
//! The command's parsers live in its binary, and the library's readiness and `NOTIFY_SOCKET`
//! parsers are private: rather than grow either crate's public API, this crate compiles their
//! own source files (`#[path]`, `failure.rs` among them: the binary's `Failure` and `usage`),
//! and gives them the few items of the library's root they use (`Step`, `DaemonError`, `sys`).

#![allow(dead_code, unused_imports)]

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt as _;
use std::path::PathBuf;
use std::time::Duration;

// The command's files (crates/daemonic/src/bin/daemonic/), and what they import from each other.
#[path = "../../crates/daemonic/src/bin/daemonic/env_file.rs"]
mod env_file;
#[path = "../../crates/daemonic/src/bin/daemonic/failure.rs"]
mod failure;
#[path = "../../crates/daemonic/src/bin/daemonic/limits.rs"]
mod limits;
#[path = "../../crates/daemonic/src/bin/daemonic/notify_socket.rs"]
mod notify_socket;
#[path = "../../crates/daemonic/src/bin/daemonic/options.rs"]
mod options;
#[path = "../../crates/daemonic/src/bin/daemonic/relay.rs"]
mod relay;
#[path = "../../crates/daemonic/src/bin/daemonic/report.rs"]
mod report;
#[path = "../../crates/daemonic/src/bin/daemonic/retry.rs"]
mod retry;
#[path = "../../crates/daemonic/src/bin/daemonic/start_options.rs"]
mod start_options;

// The library's private parsers (crates/daemonic/src/).
#[path = "../../crates/daemonic/src/notify.rs"]
mod notify;
#[path = "../../crates/daemonic/src/readiness.rs"]
mod readiness;

// What the command's files use from its `main.rs`, and the library's files from its root.
use daemonic::{DaemonError, Step};
use failure::{usage, Failure};

/// The library's `sys` functions the included library files name; the parsers never call them.
mod sys {
    pub(crate) fn poll_readable(_: std::os::fd::BorrowedFd<'_>, _: std::time::Duration) -> std::io::Result<bool> {
        unreachable!("the fuzz targets only parse")
    }

    pub(crate) fn cloexec_datagram_socket() -> std::io::Result<std::os::fd::OwnedFd> {
        unreachable!("the fuzz targets only parse")
    }
}

/// `Pid::from_str`, and `read_pid` of the same bytes in a file: the same answer; a pid's
/// `Display` parses back; a pid only from one decimal number.
pub fn pid(data: &[u8]) {
    use pidfile::{Pid, PidFileError, MAX_PID_FILE_LEN};
    let parsed = std::str::from_utf8(data).ok().and_then(|text| text.parse::<Pid>().ok());
    if let Some(pid) = parsed {
        assert_eq!(pid.to_string().parse::<Pid>(), Ok(pid));
        assert!(data.len() <= MAX_PID_FILE_LEN);
        assert!(data.iter().all(|b| b.is_ascii_digit() || b" \t\r\n".contains(b)), "{data:?}");
        assert!(data.iter().filter(|&&b| b == b'\n').count() <= 1, "{data:?}");
    }
    let path = pid_file();
    std::fs::write(path, data).expect("write the PID file");
    match pidfile::read_pid(path) {
        Ok(read) => assert_eq!(Some(read), parsed, "{data:?}"),
        Err(PidFileError::Malformed { path: named, content, .. }) => {
            assert_eq!(parsed, None, "{data:?}");
            assert_eq!(&named, path);
            assert!(content.bytes().all(|b| b.is_ascii_graphic() || b == b' '), "{content:?}");
        }
        Err(e) => panic!("{e}"),
    }
}

/// A file in a directory of this process's own, removed at exit.
fn pid_file() -> &'static PathBuf {
    static PATH: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    PATH.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("fuzz-pid-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create a directory for the PID file");
        extern "C" fn remove() {
            let dir = std::env::temp_dir().join(format!("fuzz-pid-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(dir);
        }
        // SAFETY: `remove` is an `extern "C" fn()` that does not unwind (its errors are
        // ignored); registering it has no other requirement.
        unsafe { libc::atexit(remove) };
        dir.join("app.pid")
    })
}

/// The readiness pipe's records: at end of file always an outcome; before it, only "ready",
/// which nothing after it changes.
pub fn readiness(data: &[u8]) {
    let at_end = readiness::parse(data, true);
    assert!(at_end.is_some());
    if let Some(early) = readiness::parse(data, false) {
        assert!(matches!(early, readiness::Report::Ready { .. }), "{early:?}");
        assert_eq!(at_end, Some(early));
    }
}

/// A notification datagram (as the supervisor reads it, lossy UTF-8), and `NOTIFY_SOCKET`.
pub fn notify(data: &[u8]) {
    const ALLOWED: [&str; 7] =
        ["STATUS=", "RELOADING=", "STOPPING=", "WATCHDOG=", "ERRNO=", "EXTEND_TIMEOUT_USEC=", "MONOTONIC_USEC="];
    let text = String::from_utf8_lossy(data);
    let message = notify_socket::parse(&text);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(message.ready, lines.contains(&"READY=1"));
    assert_eq!(message.status.as_deref(), lines.iter().rev().find_map(|line| line.strip_prefix("STATUS=")));
    let passed: Vec<&str> =
        lines.iter().copied().filter(|line| ALLOWED.iter().any(|prefix| line.starts_with(prefix))).collect();
    assert_eq!(message.passed_on, passed.join("\n"));

    // `sun_path`'s size (Linux); a path may fill it without a final NUL, as Linux accepts and
    // rustix allows (found by this target: the first oracle said 107).
    let fits = match data.first() {
        Some(b'/') => data.len() <= 108 && !data.contains(&0),
        Some(b'@') => data.len() <= 108,
        _ => false,
    };
    assert_eq!(notify::Notifier::parse(OsString::from_vec(data.to_vec())).is_ok(), fits, "{data:?}");
}

/// PROGRAM's output to syslog, in reads cut where the input's first bytes say: every byte
/// arrives, line by line, in parts of at most 960 bytes that never cut a UTF-8 character of
/// output that is UTF-8.
pub fn syslog(data: &[u8]) {
    let Some((&cuts, rest)) = data.split_first() else { return };
    let cuts = usize::from(cuts % 8);
    if rest.len() < 2 * cuts {
        return;
    }
    let (positions, output) = rest.split_at(2 * cuts);
    let mut at: Vec<usize> = positions
        .chunks(2)
        .map(|pair| usize::from(u16::from_le_bytes([pair[0], pair[1]])) % (output.len() + 1))
        .chain([0, output.len()])
        .collect();
    at.sort_unstable();
    let mut pending = Vec::new();
    let mut messages: Vec<Vec<u8>> = Vec::new();
    let utf8 = std::str::from_utf8(output).is_ok();
    for read in at.windows(2).map(|w| &output[w[0]..w[1]]) {
        relay::syslog_messages(&mut pending, read, |message| {
            let parts: Vec<&[u8]> = relay::syslog_parts(message).collect();
            assert!(!parts.is_empty());
            for part in &parts {
                assert!(part.len() <= relay::SYSLOG_LINE);
                assert!(!part.is_empty() || message.is_empty());
                assert!(!utf8 || std::str::from_utf8(part).is_ok(), "a part cuts a character");
            }
            assert_eq!(parts.concat(), message);
            messages.push(message.to_vec());
        });
    }
    assert!(pending.len() <= relay::SYSLOG_LINE);
    // Every complete line is one message, or several non-empty ones; the rest is pending.
    let mut lines: Vec<&[u8]> = output.split(|&b| b == b'\n').collect();
    let tail = lines.pop().unwrap_or_default();
    let mut messages = messages.into_iter();
    for line in lines {
        let mut got = messages.next().expect("a line was not sent");
        while got.len() < line.len() {
            let next = messages.next().expect("a line's end was not sent");
            assert!(!next.is_empty());
            got.extend_from_slice(&next);
        }
        assert_eq!(got, line);
    }
    let mut rest: Vec<u8> = messages.flatten().collect();
    rest.extend_from_slice(&pending);
    assert_eq!(rest, tail);
}

/// An environment file: valid names, no NUL, an error on a line of the file; what it read,
/// written back double-quoted, reads the same.
pub fn env_file(data: &[u8]) {
    match env_file::parse(data) {
        Ok(vars) => {
            let mut written = Vec::new();
            for (name, value) in &vars {
                let (name, value) = (name.as_encoded_bytes(), value.as_encoded_bytes());
                assert!(!name.is_empty() && !name[0].is_ascii_digit(), "{name:?}");
                assert!(name.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_'), "{name:?}");
                assert!(!value.contains(&0));
                written.extend_from_slice(name);
                written.extend_from_slice(b"=\"");
                for &b in value {
                    if matches!(b, b'"' | b'\\') {
                        written.push(b'\\');
                    }
                    written.push(b);
                }
                written.extend_from_slice(b"\"\n");
            }
            assert_eq!(env_file::parse(&written).ok(), Some(vars));
        }
        Err((line, _)) => {
            let lines = data.iter().filter(|&&b| b == b'\n').count() + 1;
            assert!((1..=lines).contains(&line), "line {line} of {lines}");
        }
    }
}

/// The longest duration any option takes.
const YEAR: Duration = Duration::from_secs(366 * 24 * 3600);

/// One option value (the first byte chooses the option): a value in range, or an error.
pub fn option_values(data: &[u8]) {
    let Some((&which, text)) = data.split_first() else { return };
    let text = String::from_utf8_lossy(text);
    match which % 9 {
        0 => {
            if let Ok(duration) = options::parse_seconds(&text, "--timeout") {
                assert!(duration <= YEAR);
                let again = options::parse_seconds(&duration.as_secs_f64().to_string(), "--timeout").unwrap();
                assert!(again.abs_diff(duration) < Duration::from_micros(1), "{duration:?} {again:?}");
            }
        }
        1 => {
            if let Ok(signal) = options::parse_signal(&text, "--signal") {
                let name = options::signal_name(signal.as_raw());
                if name.starts_with("SIG") {
                    assert_eq!(options::parse_signal(&name, "--signal"), Ok(signal));
                }
            }
        }
        2 => {
            if let Ok(schedule) = retry::Schedule::parse(&text, rustix::process::Signal::TERM) {
                assert!(schedule.items.len() >= 2);
                if let Some(at) = schedule.repeat {
                    assert!(schedule.items[at..].iter().any(|i| matches!(i, retry::Item::Wait(d) if !d.is_zero())));
                }
                let again = retry::Schedule::parse(&schedule.describe(), rustix::process::Signal::TERM)
                    .expect("a schedule's description reads back");
                assert_eq!((again.items.len(), again.repeat), (schedule.items.len(), schedule.repeat));
                for (a, b) in again.items.iter().zip(&schedule.items) {
                    match (a, b) {
                        (retry::Item::Wait(a), retry::Item::Wait(b)) => {
                            assert!(a.abs_diff(*b) < Duration::from_micros(1))
                        }
                        (a, b) => assert_eq!(a, b),
                    }
                }
                let _ = schedule.steps().take(64).count();
            }
        }
        3 => {
            if let Ok(limit) = limits::parse_limit(&text) {
                if let (Some(soft), Some(hard)) = (limit.soft, limit.hard) {
                    assert!(soft <= hard);
                }
                assert!(!(limit.soft.is_none() && limit.hard.is_some()));
            }
        }
        4 => {
            if let Ok(priority) = limits::parse_ionice(&text) {
                assert!((1..=3).contains(&priority.class) && priority.level <= 7);
            }
        }
        5 => {
            if let Ok(score) = limits::parse_oom_score_adj(&text) {
                assert!((-1000..=1000).contains(&score));
            }
        }
        6 => {
            if let Ok(fd) = options::parse_fd(&text, "--keep-fd") {
                assert!(fd >= 3);
            }
        }
        7 => assert!(relay::parse_facility(&text).is_none_or(|f| f <= 23)),
        _ => assert!(relay::parse_priority(&text).is_none_or(|p| p <= 7)),
    }
}

/// A whole `start`, `run` or `restart` command line (arguments separated by NUL bytes): a
/// usage error, or arguments that keep the parser's promises.
pub fn command_line(data: &[u8]) {
    let args: Vec<OsString> = data.split(|&b| b == 0).map(|arg| OsString::from_vec(arg.to_vec())).collect();
    // `--help` prints the whole help text: right, but slow and loud for a fuzzer.
    let help = |arg: &OsString| {
        let arg = arg.as_encoded_bytes();
        arg.starts_with(b"--help") || (arg.starts_with(b"-") && !arg.starts_with(b"--") && arg.contains(&b'h'))
    };
    if args.iter().any(help) {
        return;
    }
    for command in [start_options::Command::Start, start_options::Command::Run, start_options::Command::Restart] {
        let Ok(Some(parsed)) = start_options::parse(args.clone(), start_options::USAGE, command) else { continue };
        assert!(parsed.pidfile.is_some() || parsed.foreground);
        assert!(parsed.umask.is_none_or(|m| m <= 0o777));
        assert!(parsed.pidfile_mode.is_none_or(|m| m <= 0o666 && m & 0o600 == 0o600));
        assert!(parsed.nice.is_none_or(|n| (-20..=19).contains(&n)));
        assert!(parsed.restart_limit.restarts > 0 && !parsed.restart_limit.interval.is_zero());
        assert!(parsed.timeout <= YEAR && parsed.restart_delay <= YEAR && parsed.notify_timeout <= YEAR);
        let listened = parsed.listen_fds.len() as i32;
        for (n, (fd, _)) in parsed.listen_fds.iter().enumerate() {
            assert!(*fd >= 3 && parsed.listen_fds[..n].iter().all(|(other, _)| other != fd));
        }
        for fd in parsed.keep_fds.iter().chain(&parsed.notify_fd) {
            assert!(*fd >= 3 + listened && parsed.listen_fds.iter().all(|(listen, _)| listen != fd));
        }
    }
}
