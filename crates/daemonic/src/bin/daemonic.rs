//! `daemonic` — start, stop, status and restart any program as a daemon, with the guarantees of
//! the `daemonic` and `pidfile` crates. Build with `--features cli`.

use std::ffi::OsString;
use std::os::fd::{AsFd, BorrowedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use daemonic::{Account, Daemon, DaemonError};
use pidfile::{Holder, Pid, PidFileError};
use rustix::process::Signal;

const USAGE: &str = "\
usage: daemonic <command> [options]

Runs any program as a daemon with a kernel-locked PID file, and stops it safely.

commands:
  start     daemonize and execute a program
  stop      signal the program holding a PID file and wait until it exited
  status    report whether the program holding a PID file runs (LSB exit codes)
  restart   stop, then start with the same arguments as start

`daemonic <command> --help` describes each command. Messages start with `daemonic:`.
";

const START_USAGE: &str = "\
usage: daemonic start --pidfile FILE [options] -- PROGRAM [ARGS...]

Daemonizes (double fork, new session, stdio, umask, working directory, fd hygiene, signals
reset) and executes PROGRAM (looked up in PATH) in the daemon. Exits 0 only once PROGRAM was
really executed, with the PID file naming it and locked for as long as it runs.

options:
  --pidfile FILE    the PID file (required)
  --chdir DIR       working directory (default /)
  --umask MODE      octal file-mode creation mask (default 0)
  --stdout FILE     standard output (default /dev/null); standard error follows unless set
  --stderr FILE     standard error
  --append          append to --stdout/--stderr files instead of truncating them
  --user U          run as this user (name or id), with its groups
  --group G         run with this primary group (name or id)
  --keep-fd N       keep descriptor N open for PROGRAM (repeatable; e.g. socket activation)
  --notify-fd N     write a newline to descriptor N once PROGRAM is executed, then close it
                    (s6 notification-fd)
  --foreground      do not fork (for supervisors); everything else applies; NOTIFY_SOCKET
                    gets READY=1 once PROGRAM is executed

exit status: 0 started; 1 failed (the reason is printed; no process and no PID file remain);
2 usage error.
";

const STOP_USAGE: &str = "\
usage: daemonic stop --pidfile FILE [--signal SIG] [--timeout SECS] [--kill]

Sends SIG (default TERM) to the process holding FILE and waits until the kernel releases the
file's lock, the proof that it exited. Every decision is taken on one open of FILE, never on a
second lookup of the path. Only a locked file whose holder it names (on Linux: a process that
has FILE open), or an unlocked one naming a live process that wrote it without locking, is
acted on; PID 1 and kernel threads are never signalled; on Linux a pidfd guards against a pid
reused in between. A hard-linked PID file, and as root one that is group- or world-writable
or owned by another user, is refused (CVE-2017-11747).

options:
  --pidfile FILE    the PID file (required)
  --signal SIG      signal name (TERM, SIGHUP, ...) or number (default TERM)
  --timeout SECS    how long to wait for the exit (default 10)
  --kill            send KILL after the timeout, and wait again

exit status: 0 stopped or not running; 1 refused, failed or still running; 2 usage error.
";

const STATUS_USAGE: &str = "\
usage: daemonic status --pidfile FILE

exit status (LSB): 0 running (the pid is printed); 1 not running but the PID file exists;
3 not running; 4 unknown (the file cannot be read, is malformed, or is locked by a process
that cannot be identified; the reason is printed).
";

const RESTART_USAGE: &str = "\
usage: daemonic restart --pidfile FILE [start options] -- PROGRAM [ARGS...]

`daemonic stop --pidfile FILE` (TERM, 10 s timeout), then `daemonic start` with the same
arguments. Exit status as for start.
";

fn main() -> ExitCode {
    let mut args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let command = if args.is_empty() { String::new() } else { args.remove(0).to_string_lossy().into_owned() };
    let result = match command.as_str() {
        "start" => parse_start(args, START_USAGE).and_then(|a| a.map_or(Ok(ExitCode::SUCCESS), |a| start(&a))),
        "stop" => parse_stop(args).and_then(|a| a.map_or(Ok(ExitCode::SUCCESS), |a| stop(&a))),
        "status" => parse_status(args).and_then(|a| a.map_or(Ok(ExitCode::SUCCESS), |p| Ok(status(&p)))),
        "restart" => parse_start(args, RESTART_USAGE).and_then(|a| a.map_or(Ok(ExitCode::SUCCESS), |a| restart(&a))),
        "--version" | "-V" => {
            say(&format!("daemonic {}\n", env!("CARGO_PKG_VERSION")));
            return ExitCode::SUCCESS;
        }
        "--help" | "-h" | "help" => {
            say(USAGE);
            return ExitCode::SUCCESS;
        }
        "" => Err(Failure::Usage("a command is required".into(), USAGE)),
        other => Err(Failure::Usage(format!("unknown command {other:?}"), USAGE)),
    };
    match result {
        Ok(code) => code,
        Err(Failure::Usage(message, usage)) => {
            esay(&format!("daemonic: {message}\n\n{usage}\n"));
            ExitCode::from(2)
        }
        Err(Failure::Error(message)) => {
            esay(&format!("daemonic: {message}\n"));
            ExitCode::from(1)
        }
    }
}

/// Writes to stdout, ignoring errors: a closed pipe (`daemonic start | true`) must not turn a
/// started service into a panic or a failure status.
fn say(text: &str) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

/// Writes to stderr, ignoring errors (see [`say`]).
fn esay(text: &str) {
    use std::io::Write as _;
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

/// An error and its causes, each once, without Rust's " (os error N)" suffixes:
/// `cannot lock PID file /x.pid: No locks available`. [`DaemonError::PidFile`] is only a
/// heading over its source, so the chain starts there (as in [`DaemonError::chain`]).
fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut error = match error.downcast_ref::<DaemonError>() {
        Some(DaemonError::PidFile { source }) => source as &(dyn std::error::Error + 'static),
        _ => error,
    };
    let mut text = error.to_string();
    while let Some(source) = error.source() {
        text.push_str(": ");
        match source.downcast_ref::<std::io::Error>() {
            Some(io) => text.push_str(&os_message(io)),
            None => text.push_str(&source.to_string()),
        }
        error = source;
    }
    text
}

enum Failure {
    Usage(String, &'static str),
    Error(String),
}

impl From<lexopt::Error> for Failure {
    fn from(e: lexopt::Error) -> Failure {
        Failure::Usage(e.to_string(), USAGE)
    }
}

struct StartArgs {
    pidfile: PathBuf,
    chdir: Option<PathBuf>,
    umask: Option<u32>,
    stdout: Option<PathBuf>,
    stderr: Option<PathBuf>,
    append: bool,
    user: Option<Account>,
    group: Option<Account>,
    keep_fds: Vec<RawFd>,
    notify_fd: Option<RawFd>,
    foreground: bool,
    program: OsString,
    args: Vec<OsString>,
}

fn usage(usage: &'static str) -> impl Fn(String) -> Failure {
    move |message| Failure::Usage(message, usage)
}

fn parse_start(args: Vec<OsString>, help: &'static str) -> Result<Option<StartArgs>, Failure> {
    use lexopt::prelude::*;
    let bad = usage(help);
    let mut parser = lexopt::Parser::from_args(args);
    let (mut pidfile, mut chdir, mut umask, mut stdout, mut stderr) = (None, None, None, None, None);
    let (mut append, mut user, mut group, mut keep_fds, mut notify_fd, mut foreground) =
        (false, None, None, Vec::new(), None, false);
    let mut command = Vec::new();
    while let Some(arg) = parser.next().map_err(|e| bad(e.to_string()))? {
        match arg {
            Long("pidfile") => pidfile = Some(PathBuf::from(parser.value()?)),
            Long("chdir") => chdir = Some(PathBuf::from(parser.value()?)),
            Long("umask") => {
                let value = parser.value()?.string()?;
                umask = Some(
                    u32::from_str_radix(&value, 8)
                        .ok()
                        .filter(|m| *m <= 0o777)
                        .ok_or_else(|| bad(format!("--umask {value:?}: not an octal mode (e.g. 027)")))?,
                );
            }
            Long("stdout") => stdout = Some(PathBuf::from(parser.value()?)),
            Long("stderr") => stderr = Some(PathBuf::from(parser.value()?)),
            Long("append") => append = true,
            Long("user") => user = Some(parser.value()?.string()?.parse::<Account>().unwrap_or_else(|e| match e {})),
            Long("group") => group = Some(parser.value()?.string()?.parse::<Account>().unwrap_or_else(|e| match e {})),
            Long("keep-fd") => keep_fds.push(parse_fd(&parser.value()?.string()?, "--keep-fd").map_err(&bad)?),
            Long("notify-fd") => notify_fd = Some(parse_fd(&parser.value()?.string()?, "--notify-fd").map_err(&bad)?),
            Long("foreground") => foreground = true,
            Long("help") | Short('h') => {
                say(help);
                return Ok(None);
            }
            Value(value) => {
                command.push(value);
                command.extend(parser.raw_args()?);
            }
            _ => return Err(bad(arg.unexpected().to_string())),
        }
    }
    let pidfile = pidfile.ok_or_else(|| bad("--pidfile FILE is required".into()))?;
    if command.is_empty() {
        return Err(bad("a PROGRAM to run is required after --".into()));
    }
    let program = command.remove(0);
    Ok(Some(StartArgs {
        pidfile,
        chdir,
        umask,
        stdout,
        stderr,
        append,
        user,
        group,
        keep_fds,
        notify_fd,
        foreground,
        program,
        args: command,
    }))
}

fn parse_fd(value: &str, option: &str) -> Result<RawFd, String> {
    value.parse::<RawFd>().ok().filter(|fd| *fd >= 3).ok_or(format!("{option} {value:?}: not a descriptor number >= 3"))
}

/// An OS error's text without Rust's " (os error N)" suffix.
fn os_message(error: &std::io::Error) -> String {
    let text = error.to_string();
    match text.rfind(" (os error ") {
        Some(at) if text.ends_with(')') => text[..at].to_owned(),
        _ => text,
    }
}

fn start(args: &StartArgs) -> Result<ExitCode, Failure> {
    let mut daemon = Daemon::new().pidfile(&args.pidfile).manual_readiness().foreground(args.foreground);
    if let Some(dir) = &args.chdir {
        daemon = daemon.working_dir(dir);
    }
    if let Some(mask) = args.umask {
        daemon = daemon.umask(mask);
    }
    // Opened by `daemonize` (append mode, never following a symlink), after it checked the
    // descriptors named by --keep-fd/--notify-fd: a file opened here first could take the
    // number of one the caller does not have open. Never truncated there: the file may be a
    // running daemon's log, and whether we may start is only known once the PID file is
    // locked; truncation (without --append) happens in the daemon.
    if let Some(path) = &args.stdout {
        daemon = daemon.stdout_path(path);
    }
    if let Some(path) = &args.stderr {
        daemon = daemon.stderr_path(path);
    }
    if let Some(user) = &args.user {
        daemon = daemon.user(user.clone());
    }
    if let Some(group) = &args.group {
        daemon = daemon.group(group.clone());
    }
    if let Some(fd) = args.notify_fd {
        daemon = daemon.ready_fd(fd);
    }
    daemon = daemon.keep_fds(args.keep_fds.iter().copied());
    if !args.foreground {
        daemon = daemon.on_launched(|pid| say(&format!("daemonic: started (pid {pid})\n")));
    }

    let mut guard = match daemon.daemonize() {
        Ok(guard) => guard,
        Err(DaemonError::Failed { message, .. }) => return Err(Failure::Error(message)),
        Err(e) => return Err(Failure::Error(chain(&e))),
    };

    // In the daemon (or, in foreground mode, the same process).
    let prepared = prepare_exec(args, &guard);
    let error = match prepared {
        Err(message) => message,
        Ok(()) => match guard.ready_on_exec() {
            Err(e) => chain(&e),
            Ok(()) => {
                let error = std::process::Command::new(&args.program).args(&args.args).exec();
                format!("cannot execute {}: {}", args.program.to_string_lossy(), os_message(&error))
            }
        },
    };
    // Only reached when PROGRAM could not be executed: tell the launcher, remove the PID file.
    if guard.is_ready() {
        // Foreground: there is no launcher; say it here.
        esay(&format!("daemonic: {error}\n"));
    }
    let _ = guard.fail(&error);
    Err(Failure::Error(error))
}

/// In the daemon, before `exec`: truncate the outputs unless `--append`, and let the PID file's
/// descriptor and the kept ones survive `exec` (the lock lives as long as PROGRAM does).
fn prepare_exec(args: &StartArgs, guard: &daemonic::DaemonGuard) -> Result<(), String> {
    if !args.append {
        if args.stdout.is_some() {
            truncate(std::io::stdout().as_fd(), args.stdout.as_deref())?;
        }
        if args.stderr.is_some() {
            truncate(std::io::stderr().as_fd(), args.stderr.as_deref())?;
        }
    }
    if let Some(pidfile) = guard.pidfile() {
        clear_cloexec(pidfile.as_fd()).map_err(|e| format!("cannot keep the PID file open: {}", os_message(&e)))?;
    }
    for &fd in &args.keep_fds {
        // SAFETY: the user asked for this descriptor to be kept; it is open (daemonize kept it)
        // or fcntl reports EBADF.
        let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
        clear_cloexec(borrowed).map_err(|e| format!("--keep-fd {fd}: {}", os_message(&e)))?;
    }
    Ok(())
}

/// Empties a regular output file; a character device (`--stdout /dev/null`, a terminal) has
/// nothing to truncate and is left alone.
fn truncate(fd: BorrowedFd<'_>, path: Option<&Path>) -> Result<(), String> {
    let regular = rustix::fs::fstat(fd).is_ok_and(|stat| {
        #[allow(clippy::unnecessary_cast)] // `mode_t` is u16 on macOS and the BSDs.
        let file_type = rustix::fs::FileType::from_raw_mode(stat.st_mode as _);
        file_type == rustix::fs::FileType::RegularFile
    });
    if !regular {
        return Ok(());
    }
    rustix::fs::ftruncate(fd, 0).map_err(|e| {
        format!(
            "cannot truncate {}: {}",
            path.map(|p| p.display().to_string()).unwrap_or_default(),
            os_message(&e.into())
        )
    })
}

fn clear_cloexec(fd: BorrowedFd<'_>) -> std::io::Result<()> {
    let flags = rustix::io::fcntl_getfd(fd)?;
    rustix::io::fcntl_setfd(fd, flags - rustix::io::FdFlags::CLOEXEC)?;
    Ok(())
}

struct StopArgs {
    pidfile: PathBuf,
    signal: Signal,
    timeout: Duration,
    kill: bool,
}

fn parse_stop(args: Vec<OsString>) -> Result<Option<StopArgs>, Failure> {
    use lexopt::prelude::*;
    let bad = usage(STOP_USAGE);
    let mut parser = lexopt::Parser::from_args(args);
    let (mut pidfile, mut signal, mut timeout, mut kill) = (None, Signal::TERM, Duration::from_secs(10), false);
    while let Some(arg) = parser.next().map_err(|e| bad(e.to_string()))? {
        match arg {
            Long("pidfile") => pidfile = Some(PathBuf::from(parser.value()?)),
            Long("signal") => {
                let name = parser.value()?.string()?;
                signal = parse_signal(&name).ok_or_else(|| bad(format!("--signal {name:?}: unknown signal")))?;
            }
            Long("timeout") => {
                let value = parser.value()?.string()?;
                let secs: f64 = value
                    .parse()
                    .ok()
                    .filter(|s: &f64| s.is_finite() && *s >= 0.0)
                    .ok_or_else(|| bad(format!("--timeout {value:?}: not a number of seconds")))?;
                timeout = Duration::from_secs_f64(secs);
            }
            Long("kill") => kill = true,
            Long("help") | Short('h') => {
                say(STOP_USAGE);
                return Ok(None);
            }
            _ => return Err(bad(arg.unexpected().to_string())),
        }
    }
    let pidfile = pidfile.ok_or_else(|| bad("--pidfile FILE is required".into()))?;
    Ok(Some(StopArgs { pidfile, signal, timeout, kill }))
}

fn parse_signal(name: &str) -> Option<Signal> {
    if let Ok(number) = name.parse::<i32>() {
        return Signal::from_named_raw(number);
    }
    let name = name.to_ascii_uppercase();
    let raw = match name.strip_prefix("SIG").unwrap_or(&name) {
        "HUP" => libc::SIGHUP,
        "INT" => libc::SIGINT,
        "QUIT" => libc::SIGQUIT,
        "KILL" => libc::SIGKILL,
        "USR1" => libc::SIGUSR1,
        "USR2" => libc::SIGUSR2,
        "ALRM" => libc::SIGALRM,
        "TERM" => libc::SIGTERM,
        "CONT" => libc::SIGCONT,
        "STOP" => libc::SIGSTOP,
        "TSTP" => libc::SIGTSTP,
        "WINCH" => libc::SIGWINCH,
        _ => return None,
    };
    Signal::from_named_raw(raw)
}

fn stop(args: &StopArgs) -> Result<ExitCode, Failure> {
    stop_holder(args).map(|_| ExitCode::SUCCESS)
}

/// Stops the holder; `Ok(false)` when nothing was running.
///
/// Every decision is taken on one open of the PID file ([`pidfile::inspect`]): who holds it,
/// who owns it, its mode and links, and later whether its lock was released — never on a
/// second lookup of the path, which anyone who can write the directory could change between
/// two lookups.
fn stop_holder(args: &StopArgs) -> Result<bool, Failure> {
    let path = &args.pidfile;
    let inspection = match pidfile::inspect(path) {
        Ok(Some(inspection)) => inspection,
        Ok(None) => {
            say("daemonic: not running\n");
            return Ok(false);
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
            say("daemonic: not running (the PID file is stale)\n");
            return Ok(false);
        }
        // `Holder::Unknown`, and whatever a later `pidfile` may add: never signal.
        _ => {
            let e = PidFileError::UnknownHolder { path: path.clone() };
            return Err(Failure::Error(format!("refusing to signal: {}", chain(&e))));
        }
    };
    if pid.get() == 1 {
        return Err(Failure::Error(format!("refusing to signal PID 1 (named by {})", path.display())));
    }
    if pid == Pid::current() {
        return Err(Failure::Error(format!("refusing to signal myself (named by {})", path.display())));
    }
    let target = Target::open(pid, &inspection)?;
    target.signal(args.signal)?;
    if target.wait_for_exit(&inspection, args.timeout) {
        finish_stop(inspection, pid);
        return Ok(true);
    }
    if !args.kill {
        return Err(Failure::Error(format!("pid {pid} still running after {:?}", args.timeout)));
    }
    say(&format!("daemonic: pid {pid} still running after {:?}; sending KILL\n", args.timeout));
    target.signal(Signal::KILL)?;
    if target.wait_for_exit(&inspection, args.timeout.max(Duration::from_secs(5))) {
        finish_stop(inspection, pid);
        Ok(true)
    } else {
        Err(Failure::Error(format!("pid {pid} survived KILL")))
    }
}

fn finish_stop(inspection: pidfile::Inspection, pid: Pid) {
    // The program could not remove its PID file itself (it never can: it is exec'd); remove it
    // now that it is stale — the same file we inspected, only if the path still names it.
    let _ = inspection.remove_if_stale();
    say(&format!("daemonic: stopped (pid {pid})\n"));
}

/// The process to signal, proven to be the PID file's holder.
///
/// On Linux a pidfd pins the process: it is opened first, then the process is checked to still
/// hold the file (it has the locked file open, `/proc/PID/fd`; the lock is still held), so a
/// pid reused in between is never hit. Elsewhere the lock and the content are re-checked on the
/// inspection's descriptor just before `kill`; a pid reused in that instant cannot be excluded.
struct Target {
    pid: Pid,
    #[cfg(target_os = "linux")]
    pidfd: Option<std::os::fd::OwnedFd>,
}

impl Target {
    fn open(pid: Pid, inspection: &pidfile::Inspection) -> Result<Target, Failure> {
        let raw = rustix::process::Pid::from_raw(pid.get() as i32).ok_or_else(|| Failure::Error("bad pid".into()))?;
        let path = inspection.path();
        #[cfg(target_os = "linux")]
        let pidfd = match rustix::process::pidfd_open(raw, rustix::process::PidfdFlags::empty()) {
            Ok(fd) => Some(fd),
            Err(rustix::io::Errno::NOSYS) => None, // before Linux 5.3
            Err(rustix::io::Errno::SRCH) => return Err(Failure::Error(format!("pid {pid} exited"))),
            Err(e) => return Err(Failure::Error(format!("pidfd_open({pid}): {}", os_message(&e.into())))),
        };
        #[cfg(not(target_os = "linux"))]
        let _ = raw;
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

    fn signal(&self, signal: Signal) -> Result<(), Failure> {
        #[cfg(target_os = "linux")]
        if let Some(pidfd) = &self.pidfd {
            return match rustix::process::pidfd_send_signal(pidfd, signal) {
                Ok(()) | Err(rustix::io::Errno::SRCH) => Ok(()),
                Err(e) => Err(Failure::Error(format!("cannot signal pid {}: {}", self.pid, os_message(&e.into())))),
            };
        }
        let raw =
            rustix::process::Pid::from_raw(self.pid.get() as i32).ok_or_else(|| Failure::Error("bad pid".into()))?;
        match rustix::process::kill_process(raw, signal) {
            Ok(()) | Err(rustix::io::Errno::SRCH) => Ok(()),
            Err(e) => Err(Failure::Error(format!("cannot signal pid {}: {}", self.pid, os_message(&e.into())))),
        }
    }

    /// Waits until the holder is gone: its lock released (a locked file), or the process gone (a
    /// non-locking writer). On Linux the pidfd becomes readable when the process exits, so the
    /// wait blocks in `poll` instead of sleeping; the lock is then confirmed on the inspection's
    /// descriptor.
    fn wait_for_exit(&self, inspection: &pidfile::Inspection, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            let gone = if inspection.is_locked() {
                inspection.is_released().unwrap_or(false)
            } else {
                !pidfile::is_pid_running(self.pid) || self.exited_within(Duration::ZERO)
            };
            if gone {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            self.exited_within(left.min(Duration::from_millis(10)));
        }
    }

    /// Whether the process exits within `timeout`, as its pidfd says (Linux; the lock is
    /// released a moment before the pidfd becomes readable). Without a pidfd: sleeps `timeout`
    /// and answers `false`.
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

fn parse_status(args: Vec<OsString>) -> Result<Option<PathBuf>, Failure> {
    use lexopt::prelude::*;
    let bad = usage(STATUS_USAGE);
    let mut parser = lexopt::Parser::from_args(args);
    let mut pidfile = None;
    while let Some(arg) = parser.next().map_err(|e| bad(e.to_string()))? {
        match arg {
            Long("pidfile") => pidfile = Some(PathBuf::from(parser.value()?)),
            Long("help") | Short('h') => {
                say(STATUS_USAGE);
                return Ok(None);
            }
            _ => return Err(bad(arg.unexpected().to_string())),
        }
    }
    pidfile.map(Some).ok_or_else(|| bad("--pidfile FILE is required".into()))
}

fn status(path: &Path) -> ExitCode {
    let inspection = match pidfile::inspect(path) {
        Ok(Some(inspection)) => inspection,
        Ok(None) => {
            say("daemonic: not running\n");
            return ExitCode::from(3);
        }
        Err(e) => {
            say(&format!("daemonic: status unknown: {}\n", chain(&e)));
            return ExitCode::from(4);
        }
    };
    match inspection.holder() {
        Holder::Process(pid) => {
            say(&format!("daemonic: running (pid {pid})\n"));
            ExitCode::SUCCESS
        }
        Holder::Nobody => match inspection.read_pid() {
            Ok(pid) => {
                say(&format!("daemonic: not running, but {} exists (names pid {pid})\n", path.display()));
                ExitCode::from(1)
            }
            Err(PidFileError::Malformed { source, .. }) if source.kind() == pidfile::ParsePidErrorKind::Empty => {
                say(&format!("daemonic: not running, but {} exists (empty)\n", path.display()));
                ExitCode::from(1)
            }
            Err(e) => {
                say(&format!("daemonic: status unknown: {}\n", chain(&e)));
                ExitCode::from(4)
            }
        },
        // `Holder::Unknown`, and whatever a later `pidfile` may add.
        _ => {
            let e = PidFileError::UnknownHolder { path: path.to_path_buf() };
            say(&format!("daemonic: status unknown: {}\n", chain(&e)));
            ExitCode::from(4)
        }
    }
}

fn restart(args: &StartArgs) -> Result<ExitCode, Failure> {
    let stop_args =
        StopArgs { pidfile: args.pidfile.clone(), signal: Signal::TERM, timeout: Duration::from_secs(10), kill: false };
    stop_holder(&stop_args)?;
    start(args)
}
