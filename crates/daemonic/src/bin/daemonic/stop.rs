//! `daemonic stop`: signal the process holding a PID file, wait until its lock is released.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use pidfile::Pid;
use rustix::process::Signal;

use crate::holder::{judge, judge_settled, Judged, Service};
use crate::options::{parse_seconds, parse_signal, path_value, seconds, signal_name};
use crate::report::{chain, errno_message, inform, say};
use crate::retry::{stop_schedule, Item, Schedule};
use crate::signals::KILL_REQUEST;
use crate::{usage, Failure};

pub(crate) const USAGE: &str = "\
usage: daemonic stop --pidfile FILE [--signal SIG] [--timeout SECS] [--kill | --retry SCHEDULE]

Sends SIG (default TERM) to the process holding FILE and waits until it has exited (its pidfd
on Linux: it returns the moment the process is gone; not the lock's release, which anyone who
can open FILE could delay). For a service started by `daemonic start`, that process is its
supervisor: it forwards SIG to PROGRAM, ends whatever PROGRAM left running, removes the PID
file and exits. KILL (--signal KILL, or --kill after the timeout) is asked of the supervisor,
which KILLs PROGRAM's whole tree and exits; it is KILLed itself only if it does not within 5
seconds, and what it left is then ended from its record (FILE.tree). A stale FILE is removed,
and what a KILLed supervisor left running is ended.

Every decision is taken on one open of FILE, never on a second lookup of the path, by the
rules `status` reports with: only a locked file whose holder it names (on Linux: a process
that has FILE open), or an unlocked one naming a live process that wrote it without locking,
is acted on; PID 1 and kernel threads are never signalled; on Linux a pidfd guards against a
pid reused in between. A hard-linked PID file, and as root one that is group- or
world-writable or owned by another user, or an unlocked one in a directory another user can
write, is refused (CVE-2017-11747).

options:
  --pidfile FILE    the PID file (required)
  --signal SIG      signal name (TERM, SIGHUP, ...) or number (default TERM)
  --timeout SECS    how long to wait for the exit (default 10)
  --kill            KILL after the timeout (through the supervisor), and wait again
  --retry SCHEDULE  start-stop-daemon's schedule instead of --timeout/--kill: signals and
                    timeouts separated by '/' (TERM/30/KILL/5; a number with a dash is a
                    signal: -9), `forever` to repeat what follows it; a bare timeout T is
                    SIG/T/KILL/T with SIG from --signal. KILL to a supervisor is asked of it
                    first, as with --kill
  --oknodo          accepted for start-stop-daemon's scripts: not running is already exit 0
  --quiet           print errors only

exit status (LSB init-script friendly: stopping a stopped service succeeds):
  0 stopped, or was not running (a stale PID file is removed)
  1 refused, failed, or still running at the end of the timeout or schedule
  2 usage error
";

pub(crate) struct StopArgs {
    pub(crate) pidfile: PathBuf,
    /// What to send and how long to wait (`--signal/--timeout/--kill`, or `--retry`).
    pub(crate) schedule: Schedule,
    /// How long what a KILLed supervisor left running gets after TERM (`--timeout`).
    pub(crate) timeout: Duration,
}

pub(crate) fn parse(args: Vec<OsString>) -> Result<Option<StopArgs>, Failure> {
    use lexopt::prelude::*;
    let bad = usage(USAGE);
    let mut parser = lexopt::Parser::from_args(args);
    let (mut pidfile, mut signal, mut timeout, mut kill) = (None, None, None, false);
    let mut retry = None;
    while let Some(arg) = parser.next().map_err(|e| bad(e.to_string()))? {
        match arg {
            Long("pidfile") => pidfile = Some(path_value(parser.value()?, "--pidfile").map_err(&bad)?),
            Long("signal") => signal = Some(parse_signal(&parser.value()?.string()?, "--signal").map_err(&bad)?),
            Long("timeout") => timeout = Some(parse_seconds(&parser.value()?.string()?, "--timeout").map_err(&bad)?),
            Long("kill") => kill = true,
            Long("retry") => retry = Some(parser.value()?.string()?),
            // Not running is exit 0 already (LSB); accepted so that start-stop-daemon
            // command lines work unchanged.
            Long("oknodo") => {}
            Long("quiet") | Short('q') => crate::report::set_quiet(),
            Long("help") | Short('h') => {
                say(USAGE);
                return Ok(None);
            }
            _ => return Err(bad(arg.unexpected().to_string())),
        }
    }
    let pidfile = pidfile.ok_or_else(|| bad("--pidfile FILE is required".into()))?;
    let schedule = stop_schedule(signal, timeout, kill, retry.as_deref()).map_err(&bad)?;
    Ok(Some(StopArgs { pidfile, schedule, timeout: timeout.unwrap_or(Duration::from_secs(10)) }))
}

pub(crate) fn run(args: &StopArgs) -> Result<ExitCode, Failure> {
    stop_holder(args).map(|_| ExitCode::SUCCESS)
}

/// How long a supervisor asked to KILL its tree gets to do it and exit before it is KILLed
/// itself (it needs milliseconds; only a stopped or wedged one takes longer).
const KILL_REQUEST_GRACE: Duration = Duration::from_secs(5);

/// Stops the holder; `Ok(false)` when nothing was running.
///
/// Every decision is taken on one open of the PID file (`holder::judge`), never on a second
/// lookup of the path. "Stopped" is the holder's exit (its pidfd on Linux), not the release of
/// the file's lock alone, which any process that can open the file could delay. A supervisor
/// is never KILLed while it can still answer: KILL (`--signal KILL`, or `--kill` after the
/// timeout) is asked of it, and it KILLs PROGRAM's whole tree, then exits; only if it does not
/// within [`KILL_REQUEST_GRACE`] is it KILLed, and what it left is then ended from its tree
/// record.
pub(crate) fn stop_holder(args: &StopArgs) -> Result<bool, Failure> {
    let Some(service) = running(args)? else { return Ok(false) };
    let target = match Target::open(service.pid, &service.inspection) {
        Ok(target) => target,
        // The holder may have exited by itself since the judgement (a supervisor giving up
        // after its restart limit, a crash): judged again, that is "not running", not an error.
        Err(e) => match running(args)? {
            None => return Ok(false),
            Some(_) => return Err(e),
        },
    };
    let pid = service.pid;
    let supervisor = service.is_supervisor();
    let mut kill_requested = false;
    let mut waited: Option<Duration> = None;
    for item in args.schedule.steps() {
        match item {
            Item::Wait(timeout) => {
                if target.wait_for_exit(&service.inspection, timeout) {
                    return Ok(finish_stop(service, args.timeout));
                }
                waited = Some(timeout);
            }
            // KILL cannot be caught: a supervisor KILLed would leave PROGRAM's tree behind.
            // It is asked for it (KILL_REQUEST), KILLs the tree and exits; only if it does not
            // within KILL_REQUEST_GRACE is it KILLed itself, and what it left is then ended
            // from its tree record (`finish_stop`).
            Item::Signal(Signal::KILL) if supervisor && !kill_requested => {
                if let Some(after) = waited {
                    inform(&format!(
                        "daemonic: pid {pid} still running after {}; asking it to KILL the service\n",
                        seconds(after)
                    ));
                }
                kill_requested = true;
                target.signal(KILL_REQUEST)?;
                if target.wait_for_exit(&service.inspection, KILL_REQUEST_GRACE) {
                    return Ok(finish_stop(service, args.timeout));
                }
                inform(&format!("daemonic: pid {pid} still running; sending KILL\n"));
                target.signal(Signal::KILL)?;
            }
            Item::Signal(signal) => {
                if let Some(after) = waited {
                    inform(&format!(
                        "daemonic: pid {pid} still running after {}; sending {}\n",
                        seconds(after),
                        signal_name(signal.as_raw()).trim_start_matches("SIG")
                    ));
                }
                target.signal(signal)?;
            }
        }
    }
    if target.wait_for_exit(&service.inspection, Duration::ZERO) {
        return Ok(finish_stop(service, args.timeout));
    }
    Err(Failure::Error(match (args.schedule.items.as_slice(), waited) {
        ([Item::Signal(_), Item::Wait(_)], Some(after)) => format!("pid {pid} still running after {}", seconds(after)),
        _ => format!("pid {pid} still running at the end of the schedule {}", args.schedule.describe()),
    }))
}

/// The service holding the PID file, judged (`holder::judge`); `Ok(None)` when nothing holds
/// it, after saying so, ending what a KILLed supervisor left and removing a stale file.
fn running(args: &StopArgs) -> Result<Option<Service>, Failure> {
    match judge_settled(&args.pidfile).map_err(Failure::Error)? {
        Judged::Missing => {
            inform("daemonic: not running\n");
            Ok(None)
        }
        Judged::Stale(inspection) => {
            // A supervisor that was KILLed left its record: end what it left running, then
            // remove the stale file (a `--no-supervise` program cannot remove its own).
            let ended = end_recorded_leftovers(&inspection, args.timeout);
            // A failed service's state record (`--restart` gave up) goes with its file.
            remove_state(&inspection);
            inform("daemonic: not running (the PID file is stale)\n");
            if ended > 0 {
                inform(&format!("daemonic: ended {ended} process(es) its KILLed supervisor had left running\n"));
            }
            // A PID file (a pid, or empty) is removed; anything else may not be one at all
            // (a mistyped --pidfile) and is left alone.
            if looks_like_a_pid_file(&inspection) {
                if let Ok(true) = inspection.remove_if_stale() {
                    inform(&format!("daemonic: removed the stale {}\n", args.pidfile.display()));
                }
            }
            Ok(None)
        }
        Judged::Running(service) => Ok(Some(service)),
    }
}

/// A pid, or nothing: what a PID file holds.
fn looks_like_a_pid_file(inspection: &pidfile::Inspection) -> bool {
    match inspection.read_pid() {
        Ok(_) => true,
        Err(pidfile::PidFileError::Malformed { source, .. }) => source.kind() == pidfile::ParsePidErrorKind::Empty,
        Err(_) => false,
    }
}

/// After the holder exited: a supervisor removed its PID file and record; a KILLed one, or a
/// `--no-supervise` program, could not. End what the record says is left, remove the stale
/// file — the file we inspected, only if the path still names it.
fn finish_stop(service: Service, timeout: Duration) -> bool {
    end_recorded_leftovers(&service.inspection, timeout);
    remove_state(&service.inspection);
    let pid = service.pid;
    let path = service.inspection.path().to_path_buf();
    if !matches!(service.inspection.remove_if_stale(), Ok(true)) {
        remove_when_released(&path);
    }
    inform(&format!("daemonic: stopped (pid {pid})\n"));
    true
}

/// A stale file that a supervisor left (after a give-up, or KILLed) may still be locked for
/// a moment after its exit: by a child it was forking, which holds every descriptor until its
/// `exec` and dies with it. Judged again (as `stop` judges) for up to a second, it is removed
/// once stale; a file a new holder took, or one that is gone, is left alone.
fn remove_when_released(path: &std::path::Path) {
    let deadline = std::time::Instant::now() + Duration::from_secs(1);
    while std::time::Instant::now() < deadline {
        match judge(path) {
            Ok(Judged::Stale(inspection)) => {
                if matches!(inspection.remove_if_stale(), Ok(true)) {
                    return;
                }
            }
            Ok(Judged::Missing | Judged::Running(_)) => return,
            Err(_) => {}
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Ends what a KILLed supervisor of the PID file left running (`tree.rs`), and removes its
/// record; returns how many processes there were.
fn end_recorded_leftovers(inspection: &pidfile::Inspection, timeout: Duration) -> usize {
    let Ok(identity) = crate::tree::identity(inspection) else { return 0 };
    let Some(record) = crate::tree::Record::read(inspection.parent_dir(), identity) else { return 0 };
    let ended = record.end_leftovers(timeout);
    if record.leftovers().is_empty() {
        record.remove();
    }
    ended
}

/// Removes the state record beside the PID file (`state.rs`), if it is one to believe.
fn remove_state(inspection: &pidfile::Inspection) {
    let Ok(identity) = crate::tree::identity(inspection) else { return };
    if let Some((_, file)) = crate::state::State::read(inspection.parent_dir(), identity) {
        file.remove();
    }
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
        let pid =
            rustix::process::Pid::from_raw(self.pid.get() as i32).ok_or_else(|| Failure::Error("bad pid".into()))?;
        match rustix::process::kill_process(pid, signal) {
            Ok(()) | Err(rustix::io::Errno::SRCH) => Ok(()),
            Err(e) => Err(Failure::Error(format!("cannot signal pid {}: {}", self.pid, errno_message(e)))),
        }
    }

    /// Waits (at most `timeout`) until the holder has exited: its pidfd becomes readable once
    /// it is a zombie (Linux); elsewhere the file, re-read through the inspection's descriptor
    /// every 10 ms, no longer names it as a live holder. Never the lock's release: anyone who
    /// can open the file can take its lock the moment the holder drops it, and keep it.
    fn wait_for_exit(&self, inspection: &pidfile::Inspection, timeout: Duration) -> bool {
        #[cfg(target_os = "linux")]
        if let Some(pidfd) = &self.pidfd {
            let deadline = std::time::Instant::now() + timeout;
            loop {
                use rustix::event::{poll, PollFd, PollFlags, Timespec};
                let left = deadline.saturating_duration_since(std::time::Instant::now());
                let left = Timespec { tv_sec: left.as_secs() as _, tv_nsec: left.subsec_nanos() as _ };
                match poll(&mut [PollFd::new(pidfd, PollFlags::IN)], Some(&left)) {
                    Ok(0) => return false,
                    Ok(_) => return true,
                    Err(rustix::io::Errno::INTR) => {}
                    Err(_) => break,
                }
            }
        }
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if !pidfile::is_pid_running(self.pid) || !inspection.still_names(self.pid).unwrap_or(false) {
                return true;
            }
            if std::time::Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}
