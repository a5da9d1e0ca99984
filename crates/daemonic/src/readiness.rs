//! The pipe between the daemon and its launcher: the daemon's pid, then "ready", or the failing
//! step and errno, or the daemon's own failure message.
//!
//! Records (little-endian): `P pid:u32` · `R` · `X` (from now on, end of file means ready: the
//! daemon is about to `exec`, and the close-on-exec pipe closes when it succeeds) ·
//! `E code:u8 arg:u32 errno:i32 len:u16 path` · `F len:u16 message`.

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;

use pidfile::Pid;
use rustix::io::Errno;

use crate::Step;

/// The daemon's end of the pipe.
#[derive(Debug)]
pub(crate) struct Reporter {
    fd: OwnedFd,
}

impl Reporter {
    pub(crate) fn new(fd: OwnedFd) -> Reporter {
        Reporter { fd }
    }

    pub(crate) fn fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.fd.as_fd()
    }

    fn send(&self, bytes: &[u8]) -> io::Result<()> {
        write_all(&self.fd, bytes)
    }

    pub(crate) fn pid(&self, pid: Pid) -> io::Result<()> {
        // On the stack: an allocation right after the fork dirties copy-on-write heap pages.
        let mut record = [b'P', 0, 0, 0, 0];
        record[1..].copy_from_slice(&pid.get().to_le_bytes());
        self.send(&record)
    }

    pub(crate) fn ready(&self) -> io::Result<()> {
        self.send(b"R")
    }

    pub(crate) fn ready_on_exec(&self) -> io::Result<()> {
        self.send(b"X")
    }

    pub(crate) fn error(&self, step: &Step, error: &io::Error) {
        let (code, arg, path) = encode_step(step);
        let path = path.map(|p| p.as_os_str().as_bytes().to_vec()).unwrap_or_default();
        let path = &path[..path.len().min(u16::MAX as usize)];
        let mut record = vec![b'E', code];
        record.extend_from_slice(&arg.to_le_bytes());
        record.extend_from_slice(&error.raw_os_error().unwrap_or(libc::EIO).to_le_bytes());
        record.extend_from_slice(&(path.len() as u16).to_le_bytes());
        record.extend_from_slice(path);
        // Best effort: if the launcher is gone, nobody is left to tell.
        let _ = self.send(&record);
    }

    pub(crate) fn failed(&self, message: &str) {
        let message = &message.as_bytes()[..message.len().min(u16::MAX as usize)];
        let mut record = vec![b'F'];
        record.extend_from_slice(&(message.len() as u16).to_le_bytes());
        record.extend_from_slice(message);
        let _ = self.send(&record);
    }
}

/// `write` until every byte is written, retrying `EINTR`.
pub(crate) fn write_all(fd: impl AsFd, mut bytes: &[u8]) -> io::Result<()> {
    while !bytes.is_empty() {
        match rustix::io::write(fd.as_fd(), bytes) {
            Ok(n) => bytes = &bytes[n..],
            Err(Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// What the launcher learned from the pipe.
#[derive(Debug, PartialEq)]
pub(crate) enum Report {
    Ready { pid: Option<Pid> },
    Error { pid: Option<Pid>, step: Step, errno: i32 },
    Failed { pid: Option<Pid>, message: String },
    Exited { pid: Option<Pid> },
}

/// How long the launcher waits, after "ready", for the daemon to close its end of the pipe.
/// The daemon closes it right after sending "ready" (two system calls later); only a child the
/// daemon forked without `exec` before being ready can keep a copy open, and must not keep the
/// launcher forever.
const CLOSE_AFTER_READY: std::time::Duration = std::time::Duration::from_secs(5);

/// Reads records until end of file (the daemon, and the intermediate process, have closed every
/// copy of the write end: they exited, exec'd after an `X`, or the daemon closed it after `R`).
/// After an `R`, end of file is awaited for at most [`CLOSE_AFTER_READY`], so that the launcher
/// returns only once the daemon no longer holds the pipe.
pub(crate) fn await_report(fd: impl AsFd) -> io::Result<Report> {
    let fd = fd.as_fd();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 512];
    let mut deadline = None;
    // A launcher that gave up on a passing error would exit 1 while the daemon starts and runs
    // unseen: a pipe's `read` or `poll` fails only for passing reasons (no memory for the poll
    // table, an interruption), so every error is retried, for a second at most.
    let mut transient = 0;
    loop {
        if deadline.is_none() && matches!(parse(&buf, false), Some(Report::Ready { .. })) {
            deadline = Some(std::time::Instant::now() + CLOSE_AFTER_READY);
        }
        if let Some(deadline) = deadline {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let readable = match crate::sys::poll_readable(fd, left) {
                Err(_) if transient < MAX_TRANSIENT => {
                    transient += 1;
                    std::thread::sleep(TRANSIENT_PAUSE);
                    continue;
                }
                other => other?,
            };
            if left.is_zero() || !readable {
                return Ok(parse(&buf, true).unwrap_or(Report::Exited { pid: None }));
            }
        }
        match rustix::io::read(fd, &mut chunk) {
            Ok(0) => return Ok(parse(&buf, true).unwrap_or(Report::Exited { pid: None })),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(Errno::INTR) => {}
            Err(_) if transient < MAX_TRANSIENT => {
                transient += 1;
                std::thread::sleep(TRANSIENT_PAUSE);
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// How often, and how far apart, errors of the readiness pipe are retried (a second in all: the
/// kernel out of memory for a moment).
const MAX_TRANSIENT: u32 = 100;
const TRANSIENT_PAUSE: std::time::Duration = std::time::Duration::from_millis(10);

/// Interprets the records so far; `None` while the outcome is still open.
pub(crate) fn parse(mut buf: &[u8], eof: bool) -> Option<Report> {
    let mut pid = None;
    let mut exec_pending = false;
    let mut outcome = None;
    while let Some((&tag, rest)) = buf.split_first() {
        match tag {
            b'P' if rest.len() >= 4 => {
                pid = Pid::new(u32::from_le_bytes(rest[..4].try_into().ok()?));
                buf = &rest[4..];
            }
            b'R' => return Some(Report::Ready { pid }),
            b'X' => {
                exec_pending = true;
                buf = rest;
            }
            b'E' if rest.len() >= 11 => {
                let code = rest[0];
                let arg = u32::from_le_bytes(rest[1..5].try_into().ok()?);
                let errno = i32::from_le_bytes(rest[5..9].try_into().ok()?);
                let len = u16::from_le_bytes(rest[9..11].try_into().ok()?) as usize;
                let Some(path) = rest.get(11..11 + len) else { break };
                let path = PathBuf::from(std::ffi::OsString::from_vec(path.to_vec()));
                outcome.get_or_insert(Report::Error { pid, step: decode_step(code, arg, path), errno });
                buf = &rest[11 + len..];
            }
            b'F' if rest.len() >= 2 => {
                let len = u16::from_le_bytes(rest[..2].try_into().ok()?) as usize;
                let Some(message) = rest.get(2..2 + len) else { break };
                let message = String::from_utf8_lossy(message).into_owned();
                outcome.get_or_insert(Report::Failed { pid, message });
                buf = &rest[2 + len..];
            }
            // An incomplete record: wait for more, or give up at end of file.
            _ => break,
        }
    }
    if !eof {
        return None;
    }
    Some(match outcome {
        Some(report) => report,
        // After `X` the daemon writes nothing but a failure: one cut short (the daemon killed
        // while writing it) is not "ready".
        None if exec_pending && buf.is_empty() => Report::Ready { pid },
        None => Report::Exited { pid },
    })
}

fn encode_step(step: &Step) -> (u8, u32, Option<PathBuf>) {
    match step {
        Step::Setsid => (1, 0, None),
        Step::SecondFork => (2, 0, None),
        Step::Chroot(path) => (3, 0, Some(path.clone())),
        Step::Chdir(path) => (4, 0, Some(path.clone())),
        Step::ResetSignals => (5, 0, None),
        Step::RedirectStdio(stream) => (6, stream_code(stream), None),
        Step::CloseFds => (7, 0, None),
        Step::WritePidFile => (8, 0, None),
        Step::SetGroups => (9, 0, None),
        Step::SetGid(gid) => (10, *gid, None),
        Step::SetUid(uid) => (11, *uid, None),
        Step::VerifyPrivilegeDrop => (12, 0, None),
        Step::Notify(address) => (13, 0, Some(PathBuf::from(address))),
        Step::ReadyFd => (14, 0, None),
        Step::SignalReady => (15, 0, None),
        // Launcher-side steps never travel through the pipe.
        _ => (0, 0, None),
    }
}

fn decode_step(code: u8, arg: u32, path: PathBuf) -> Step {
    match code {
        1 => Step::Setsid,
        2 => Step::SecondFork,
        3 => Step::Chroot(path),
        4 => Step::Chdir(path),
        5 => Step::ResetSignals,
        6 => Step::RedirectStdio(["stdin", "stdout", "stderr"].get(arg as usize).copied().unwrap_or("stdio")),
        7 => Step::CloseFds,
        8 => Step::WritePidFile,
        9 => Step::SetGroups,
        10 => Step::SetGid(arg),
        11 => Step::SetUid(arg),
        12 => Step::VerifyPrivilegeDrop,
        13 => Step::Notify(path.to_string_lossy().into_owned()),
        14 => Step::ReadyFd,
        _ => Step::SignalReady,
    }
}

fn stream_code(stream: &str) -> u32 {
    match stream {
        "stdin" => 0,
        "stdout" => 1,
        _ => 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(write: impl FnOnce(&Reporter)) -> Report {
        let (read, write_end) = rustix::pipe::pipe().unwrap();
        let reporter = Reporter::new(write_end);
        write(&reporter);
        drop(reporter);
        await_report(read).unwrap()
    }

    #[test]
    fn every_outcome_round_trips() {
        let pid = Pid::new(4321);
        assert_eq!(
            round_trip(|r| {
                r.pid(pid.unwrap()).unwrap();
                r.ready().unwrap();
            }),
            Report::Ready { pid }
        );
        assert_eq!(round_trip(|_| {}), Report::Exited { pid: None });
        assert_eq!(round_trip(|r| r.pid(pid.unwrap()).unwrap()), Report::Exited { pid });
        assert_eq!(
            round_trip(|r| {
                r.pid(pid.unwrap()).unwrap();
                r.ready_on_exec().unwrap();
            }),
            Report::Ready { pid }
        );
        for step in [
            Step::Chdir("/srv/app".into()),
            Step::Chroot("/var/empty".into()),
            Step::SetUid(65534),
            Step::SetGid(65534),
            Step::RedirectStdio("stderr"),
            Step::Notify("@sd-notify".into()),
            Step::WritePidFile,
        ] {
            let report = round_trip(|r| {
                r.pid(pid.unwrap()).unwrap();
                r.ready_on_exec().unwrap();
                r.error(&step, &io::Error::from_raw_os_error(libc::ENOENT));
            });
            assert_eq!(report, Report::Error { pid, step: step.clone(), errno: libc::ENOENT });
        }
        assert_eq!(
            round_trip(|r| r.failed("cannot bind 0.0.0.0:80")),
            Report::Failed { pid: None, message: "cannot bind 0.0.0.0:80".into() }
        );
    }

    /// Found by the property tests: a record cut short at end of file made `parse` return
    /// `None`, so the launcher reported "exited" without the pid it had read.
    #[test]
    fn a_record_cut_short_keeps_the_pid_and_is_not_ready() {
        let pid = Pid::new(4321);
        let mut bytes = vec![b'P'];
        bytes.extend_from_slice(&4321u32.to_le_bytes());
        bytes.push(b'X');
        for cut_short in [&b"E\x04\0\0\0\0\x02\0\0\0\x09\0/srv"[..], b"F\x10\0cannot", b"E\x04", b"?"] {
            let buf = [&bytes[..], cut_short].concat();
            assert_eq!(parse(&buf, false), None, "{cut_short:?}: wait for more");
            assert_eq!(parse(&buf, true), Some(Report::Exited { pid }), "{cut_short:?}");
        }
        assert_eq!(parse(&bytes, true), Some(Report::Ready { pid }), "X, then end of file: exec succeeded");
    }
}
