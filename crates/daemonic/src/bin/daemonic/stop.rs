//! `daemonic stop`: signal the process holding a PID file, wait until its lock is released.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::Duration;

use pidfile::{Holder, Pid, PidFileError};
use rustix::fs::FlockOperation;
use rustix::process::Signal;

use crate::options::{parse_seconds, parse_signal, seconds};
use crate::report::{chain, errno_message, inform, say};
use crate::{usage, Failure};

pub(crate) const USAGE: &str = "\
usage: daemonic stop --pidfile FILE [--signal SIG] [--timeout SECS] [--kill]

Sends SIG (default TERM) to the process holding FILE and waits until the kernel releases the
file's lock, the proof that the service ended (blocked on the lock itself: it returns the
moment the lock is released). For a service started by `daemonic start`, that process is its
supervisor: it forwards SIG to PROGRAM, ends whatever PROGRAM left running, removes the PID
file and exits.

Every decision is taken on one open of FILE, never on a second lookup of the path. Only a
locked file whose holder it names (on Linux: a process that has FILE open), or an unlocked
one naming a live process that wrote it without locking, is acted on; PID 1 and kernel
threads are never signalled; on Linux a pidfd guards against a pid reused in between. A
hard-linked PID file, and as root one that is group- or world-writable or owned by another
user, is refused (CVE-2017-11747).

options:
  --pidfile FILE    the PID file (required)
  --signal SIG      signal name (TERM, SIGHUP, ...) or number (default TERM)
  --timeout SECS    how long to wait for the lock's release (default 10)
  --kill            send KILL after the timeout, and wait again
  --quiet           print errors only

exit status: 0 stopped or not running; 1 refused, failed or still running; 2 usage error.
";

pub(crate) struct StopArgs {
    pub(crate) pidfile: PathBuf,
    pub(crate) signal: Signal,
    pub(crate) timeout: Duration,
    pub(crate) kill: bool,
}

pub(crate) fn parse(args: Vec<OsString>) -> Result<Option<StopArgs>, Failure> {
    use lexopt::prelude::*;
    let bad = usage(USAGE);
    let mut parser = lexopt::Parser::from_args(args);
    let (mut pidfile, mut signal, mut timeout, mut kill) = (None, Signal::TERM, Duration::from_secs(10), false);
    while let Some(arg) = parser.next().map_err(|e| bad(e.to_string()))? {
        match arg {
            Long("pidfile") => pidfile = Some(PathBuf::from(parser.value()?)),
            Long("signal") => signal = parse_signal(&parser.value()?.string()?, "--signal").map_err(&bad)?,
            Long("timeout") => timeout = parse_seconds(&parser.value()?.string()?, "--timeout").map_err(&bad)?,
            Long("kill") => kill = true,
            Long("quiet") | Short('q') => crate::report::set_quiet(),
            Long("help") | Short('h') => {
                say(USAGE);
                return Ok(None);
            }
            _ => return Err(bad(arg.unexpected().to_string())),
        }
    }
    let pidfile = pidfile.ok_or_else(|| bad("--pidfile FILE is required".into()))?;
    Ok(Some(StopArgs { pidfile, signal, timeout, kill }))
}

pub(crate) fn run(args: &StopArgs) -> Result<ExitCode, Failure> {
    stop_holder(args).map(|_| ExitCode::SUCCESS)
}

/// Stops the holder; `Ok(false)` when nothing was running.
///
/// Every decision is taken on one open of the PID file ([`pidfile::inspect`]): who holds it,
/// who owns it, its mode and links, and later whether its lock was released — never on a
/// second lookup of the path, which anyone who can write the directory could change between
/// two lookups.
pub(crate) fn stop_holder(args: &StopArgs) -> Result<bool, Failure> {
    let Some((inspection, pid)) = running_holder(&args.pidfile)? else {
        return Ok(false);
    };
    let mut target = Target::open(pid, &inspection)?;
    target.signal(args.signal)?;
    if target.wait_for_exit(&inspection, args.timeout) {
        finish_stop(inspection, pid);
        return Ok(true);
    }
    if !args.kill {
        return Err(Failure::Error(format!("pid {pid} still running after {}", seconds(args.timeout))));
    }
    inform(&format!("daemonic: pid {pid} still running after {}; sending KILL\n", seconds(args.timeout)));
    target.signal(Signal::KILL)?;
    if target.wait_for_exit(&inspection, args.timeout.max(Duration::from_secs(5))) {
        finish_stop(inspection, pid);
        Ok(true)
    } else {
        Err(Failure::Error(format!("pid {pid} survived KILL")))
    }
}

/// The process holding the PID file at `path`, decided on one open of it; `Ok(None)` (and
/// "not running" printed) when no process holds it. Refuses a file someone else could have
/// written (CVE-2017-11747), an unidentifiable holder, PID 1 and ourselves.
pub(crate) fn running_holder(path: &std::path::Path) -> Result<Option<(pidfile::Inspection, Pid)>, Failure> {
    let inspection = match pidfile::inspect(path) {
        Ok(Some(inspection)) => inspection,
        Ok(None) => {
            inform("daemonic: not running\n");
            return Ok(None);
        }
        Err(e) => return Err(Failure::Error(format!("cannot tell who holds the PID file: {}", chain(&e)))),
    };
    if let Some(reason) = inspection.refusal() {
        // CVE-2017-11747: a PID file someone else can write could name any process.
        return Err(Failure::Error(format!("refusing to act on {}: {reason}", path.display())));
    }
    let pid = match inspection.holder() {
        Holder::Process(pid) => pid,
        Holder::Nobody => {
            inform("daemonic: not running (the PID file is stale)\n");
            return Ok(None);
        }
        // `Holder::Unknown`, and whatever a later `pidfile` may add: never signal.
        _ => {
            let e = PidFileError::UnknownHolder { path: path.to_path_buf() };
            return Err(Failure::Error(format!("refusing to signal: {}", chain(&e))));
        }
    };
    if pid.get() == 1 {
        return Err(Failure::Error(format!("refusing to signal PID 1 (named by {})", path.display())));
    }
    if pid == Pid::current() {
        return Err(Failure::Error(format!("refusing to signal myself (named by {})", path.display())));
    }
    Ok(Some((inspection, pid)))
}

fn finish_stop(inspection: pidfile::Inspection, pid: Pid) {
    // A supervisor removed its PID file; a `--no-supervise` program never can (it is exec'd):
    // remove it now that it is stale — the file we inspected, only if the path still names it.
    let _ = inspection.remove_if_stale();
    inform(&format!("daemonic: stopped (pid {pid})\n"));
}

/// The process to signal, proven to be the PID file's holder.
///
/// On Linux a pidfd pins the process: it is opened first, then the process is checked to still
/// hold the file (it has the locked file open, `/proc/PID/fd`; the lock is still held), so a
/// pid reused in between is never hit. Elsewhere the lock and the content are re-checked on the
/// inspection's descriptor just before `kill`; a pid reused in that instant cannot be excluded.
pub(crate) struct Target {
    pid: Pid,
    #[cfg(target_os = "linux")]
    pidfd: Option<std::os::fd::OwnedFd>,
    /// Told when the lock is released, by a thread blocked on it (started on first wait).
    released: Option<(mpsc::Receiver<()>, std::thread::JoinHandle<()>)>,
}

impl Target {
    pub(crate) fn open(pid: Pid, inspection: &pidfile::Inspection) -> Result<Target, Failure> {
        let raw = rustix::process::Pid::from_raw(pid.get() as i32).ok_or_else(|| Failure::Error("bad pid".into()))?;
        let path = inspection.path();
        #[cfg(target_os = "linux")]
        let pidfd = match rustix::process::pidfd_open(raw, rustix::process::PidfdFlags::empty()) {
            Ok(fd) => Some(fd),
            Err(rustix::io::Errno::NOSYS) => None, // before Linux 5.3
            Err(rustix::io::Errno::SRCH) => return Err(Failure::Error(format!("pid {pid} exited"))),
            Err(e) => return Err(Failure::Error(format!("pidfd_open({pid}): {}", errno_message(e)))),
        };
        #[cfg(not(target_os = "linux"))]
        let _ = raw;
        // Pinned (Linux): is it still the process the file names? Its pid may have been reused
        // since the inspection by a process that merely has the file open.
        match inspection.still_names(pid) {
            Ok(true) => {}
            Ok(false) => {
                return Err(Failure::Error(format!("pid {pid} no longer holds {}; not signalling", path.display())))
            }
            Err(e) => return Err(Failure::Error(chain(&e))),
        }
        if inspection.is_locked() {
            // The kernel does not say who holds a lock, but the holder has the file open.
            if inspection.holds_open(pid) == Some(false) {
                return Err(Failure::Error(format!(
                    "refusing to signal pid {pid}: it does not have {} open, so it does not hold it",
                    path.display()
                )));
            }
            match inspection.is_released() {
                Ok(false) => {}
                Ok(true) => return Err(Failure::Error(format!("pid {pid} no longer holds {}", path.display()))),
                Err(e) => return Err(Failure::Error(chain(&e))),
            }
        }
        Ok(Target {
            pid,
            #[cfg(target_os = "linux")]
            pidfd,
            released: None,
        })
    }

    pub(crate) fn signal(&self, signal: Signal) -> Result<(), Failure> {
        #[cfg(target_os = "linux")]
        if let Some(pidfd) = &self.pidfd {
            return match rustix::process::pidfd_send_signal(pidfd, signal) {
                Ok(()) | Err(rustix::io::Errno::SRCH) => Ok(()),
                Err(e) => Err(Failure::Error(format!("cannot signal pid {}: {}", self.pid, errno_message(e)))),
            };
        }
        let raw =
            rustix::process::Pid::from_raw(self.pid.get() as i32).ok_or_else(|| Failure::Error("bad pid".into()))?;
        match rustix::process::kill_process(raw, signal) {
            Ok(()) | Err(rustix::io::Errno::SRCH) => Ok(()),
            Err(e) => Err(Failure::Error(format!("cannot signal pid {}: {}", self.pid, errno_message(e)))),
        }
    }

    /// Waits until the holder is gone: its lock released (a locked file), or the process gone
    /// (a non-locking writer).
    ///
    /// A locked file is waited for on the lock itself: a thread blocks in `flock(LOCK_SH)` on
    /// the inspection's open file description and reports the moment the kernel grants it
    /// (then unlocks at once), so `stop` returns as soon as the service ended, without polling.
    fn wait_for_exit(&mut self, inspection: &pidfile::Inspection, timeout: Duration) -> bool {
        if inspection.is_locked() {
            if self.released.is_none() {
                let Ok(fd) = std::os::fd::AsFd::as_fd(inspection).try_clone_to_owned() else {
                    return false;
                };
                let (tell, told) = mpsc::channel();
                let waiter = std::thread::spawn(move || {
                    loop {
                        match rustix::fs::flock(&fd, FlockOperation::LockShared) {
                            Err(rustix::io::Errno::INTR) => continue,
                            Ok(()) => {
                                let _ = rustix::fs::flock(&fd, FlockOperation::Unlock);
                            }
                            Err(_) => {}
                        }
                        break;
                    }
                    let _ = tell.send(());
                });
                self.released = Some((told, waiter));
            }
            let Some((told, _)) = &self.released else { return false };
            return match told.recv_timeout(timeout) {
                Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => {
                    // Joined, so that a `restart` daemonizes single-threaded.
                    if let Some((_, waiter)) = self.released.take() {
                        let _ = waiter.join();
                    }
                    if !inspection.is_released().unwrap_or(false) {
                        return false;
                    }
                    // The kernel releases a dying process's locks as it closes its files, a
                    // moment before the process becomes a zombie: until then it still looks
                    // alive, and the file would not look stale yet.
                    self.await_gone(inspection, Duration::from_secs(1));
                    true
                }
                Err(mpsc::RecvTimeoutError::Timeout) => false,
            };
        }
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if !pidfile::is_pid_running(self.pid) || self.exited_within(Duration::ZERO) {
                return true;
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return false;
            }
            self.exited_within(left.min(Duration::from_millis(10)));
        }
    }

    /// Waits (at most `limit`) until the process has exited. On Linux its pidfd says so (it
    /// becomes readable once the process is a zombie); elsewhere the file is re-checked every
    /// millisecond until it no longer names the process as a live writer. Not "no longer has
    /// the file open": a dying process closes its files before it is a zombie, and in between
    /// it still looks alive to the staleness rules.
    fn await_gone(&self, inspection: &pidfile::Inspection, limit: Duration) {
        #[cfg(target_os = "linux")]
        if self.pidfd.is_some() {
            self.exited_within(limit);
            return;
        }
        let deadline = std::time::Instant::now() + limit;
        while inspection.still_names(self.pid).unwrap_or(false) && std::time::Instant::now() < deadline {
            self.exited_within(Duration::from_millis(1));
        }
    }

    /// Whether the process exits within `timeout`, as its pidfd says (Linux). Without a pidfd:
    /// sleeps `timeout` and answers `false`.
    fn exited_within(&self, timeout: Duration) -> bool {
        #[cfg(target_os = "linux")]
        if let Some(pidfd) = &self.pidfd {
            use rustix::event::{poll, PollFd, PollFlags, Timespec};
            let timeout = Timespec { tv_sec: timeout.as_secs() as _, tv_nsec: timeout.subsec_nanos() as _ };
            return matches!(poll(&mut [PollFd::new(pidfd, PollFlags::IN)], Some(&timeout)), Ok(1));
        }
        std::thread::sleep(timeout);
        false
    }
}
