//! `daemonic start`: daemonize, then supervise PROGRAM (or, with `--no-supervise`, become it).

use std::ffi::OsString;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use daemonic::{Account, Daemon, DaemonError, DaemonGuard};
use rustix::fs::{FlockOperation, OFlags};

use crate::options::{parse_fd, parse_seconds};
use crate::program::Program;
use crate::report::{chain, errno_message, esay, inform, os_message, say};
use crate::supervise::{self, Restart, RestartLimit};
use crate::{usage, Failure};

pub(crate) const USAGE: &str = "\
usage: daemonic start --pidfile FILE [options] -- PROGRAM [ARGS...]

Daemonizes (double fork, new session, stdio, umask, working directory, fd hygiene, signals
reset) into a supervisor that holds the PID file's lock and runs PROGRAM (looked up in PATH)
as its child. Exits 0 only once PROGRAM was really executed (with --notify-await: once it
reported READY=1), with the PID file naming the supervisor and locked for as long as the
service runs. PROGRAM gets no descriptor of the PID file and none of the supervisor's: only
stdio and --keep-fd descriptors.

The supervisor forwards TERM, INT, QUIT, HUP, USR1, USR2, ALRM, WINCH, CONT, TSTP, TTIN and
TTOU to PROGRAM (HUP also reopens its log files; URG, from `daemonic reopen`, only does that;
VTALRM, from `daemonic stop`/`signal` for KILL, makes it KILL PROGRAM's tree and exit). When
PROGRAM exits, whatever it left running is ended too (TERM, then KILL after --timeout): on
Linux the supervisor is their subreaper, on FreeBSD their reaper, elsewhere PROGRAM's process
group is signalled. Then the PID file is removed and the supervisor exits with PROGRAM's
status (after a stop request: 0), unless --restart says otherwise. Beside the PID file the
supervisor keeps FILE.tree (its pid, start time and session), so that what a KILLed
supervisor left running is ended by the next `stop` or `start` (Linux).

options:
  --pidfile FILE          the PID file (required)
  --pidfile-mode MODE     its mode (octal, default 600: no other user can open it, so none
                          can hold its lock; 644 lets others read it, and is the default
                          with --no-supervise --user, whose program must reopen it)
  --chdir DIR             working directory (default /; inside --chroot if set)
  --umask MODE            octal file-mode creation mask (default: the caller's; 022 if
                          the caller's is 0)
  --stdout FILE           standard output (default /dev/null); standard error follows unless set
  --stderr FILE           standard error
  --append                append to --stdout/--stderr files instead of truncating them;
                          the supervisor writes PROGRAM's output to them and reopens them on
                          `daemonic reopen` or SIGHUP (log rotation)
  --syslog                also send PROGRAM's output to syslog, one message per line (longer
                          lines in parts); --syslog-* imply it
  --syslog-tag TAG        the tag (default: PROGRAM's file name)
  --syslog-facility F     daemon (default), user, local0 .. local7, ...
  --syslog-priority P     notice (default), info, warning, err, ...
  --syslog-socket PATH    the syslog socket (default /dev/log); a warning when no syslog
                          daemon receives there (lines are lost until one does)
  --user U                run PROGRAM as this user (name or id), with its groups; the
                          supervisor stays root, out of PROGRAM's reach
  --group G               run PROGRAM with this primary group (name or id)
  --env NAME=VALUE        set a variable in PROGRAM's environment (repeatable)
  --clear-env             PROGRAM starts with no inherited environment: only --env variables
                          (PROGRAM itself is still looked up in the caller's PATH)
  --nice N                run PROGRAM at this nice value (-20..19)
  --chroot DIR            run PROGRAM inside DIR (the supervisor, which holds and removes the
                          PID file, stays outside); PROGRAM is looked up inside
  --keep-fd N             keep descriptor N open for PROGRAM (repeatable; socket activation)
  --notify-fd N           write a newline to descriptor N once PROGRAM is ready, then close it
                          (s6 notification-fd)
  --notify-await          give PROGRAM a NOTIFY_SOCKET and wait for READY=1 (systemd
                          Type=notify, start-stop-daemon --notify-await); STATUS= lines are
                          logged and shown if PROGRAM fails first
  --notify-timeout SECS   how long to wait for READY=1 (default 60)
  --child-pidfile FILE    also write PROGRAM's pid to FILE (a plain file, for tools that
                          need the program's own pid; removed when PROGRAM exits)
  --timeout SECS          after forwarding a stop signal, and for what PROGRAM left running,
                          how long to wait before KILL (default 5)
  --restart WHEN          no (default), on-failure (non-zero exit or a signal), always
  --restart-delay SECS    delay before the first restart (default 1), doubled after each
                          quick failure up to 60 s, reset once PROGRAM ran for the limit's
                          interval
  --restart-limit N/SECS  give up after N restarts within SECS seconds: the PID file is
                          removed and the supervisor exits non-zero (default 5/60)
  --no-supervise          no supervisor: PROGRAM becomes the daemon and holds the lock
                          itself, through a read-only descriptor (see README); --restart,
                          --notify-await, --notify-fd and --child-pidfile need the supervisor
  --foreground            do not fork (for service managers); everything else applies;
                          NOTIFY_SOCKET gets READY=1 once PROGRAM is ready
  --quiet                 print errors only, not the started message

exit status: 0 started; 1 failed (the reason is printed; no process and no PID file remain);
2 usage error.
";

pub(crate) struct StartArgs {
    pub(crate) pidfile: PathBuf,
    pub(crate) chdir: Option<PathBuf>,
    pub(crate) umask: Option<u32>,
    /// `--pidfile-mode`; `None`: 0600, or 0644 under `--no-supervise --user` (see `run`).
    pub(crate) pidfile_mode: Option<u32>,
    pub(crate) stdout: Option<PathBuf>,
    pub(crate) stderr: Option<PathBuf>,
    pub(crate) append: bool,
    pub(crate) user: Option<Account>,
    pub(crate) group: Option<Account>,
    pub(crate) keep_fds: Vec<RawFd>,
    pub(crate) notify_fd: Option<RawFd>,
    pub(crate) notify_await: bool,
    pub(crate) notify_timeout: Duration,
    pub(crate) child_pidfile: Option<PathBuf>,
    pub(crate) timeout: Duration,
    pub(crate) restart: Restart,
    pub(crate) restart_delay: Duration,
    pub(crate) restart_limit: RestartLimit,
    pub(crate) supervise: bool,
    pub(crate) foreground: bool,
    pub(crate) env: Vec<(OsString, OsString)>,
    pub(crate) clear_env: bool,
    pub(crate) nice: Option<i32>,
    pub(crate) chroot: Option<PathBuf>,
    pub(crate) syslog: Option<crate::relay::SyslogOptions>,
    /// `restart` only: how the running service is stopped.
    pub(crate) stop_signal: rustix::process::Signal,
    pub(crate) stop_kill: bool,
    /// Whether `--timeout` was given (`restart` then uses it for the stop as well).
    pub(crate) timeout_given: bool,
    pub(crate) program: OsString,
    pub(crate) args: Vec<OsString>,
}

pub(crate) fn parse(args: Vec<OsString>, help: &'static str) -> Result<Option<StartArgs>, Failure> {
    use lexopt::prelude::*;
    let bad = usage(help);
    let mut parser = lexopt::Parser::from_args(args);
    let mut parsed = StartArgs {
        pidfile: PathBuf::new(),
        chdir: None,
        umask: None,
        pidfile_mode: None,
        stdout: None,
        stderr: None,
        append: false,
        user: None,
        group: None,
        keep_fds: Vec::new(),
        notify_fd: None,
        notify_await: false,
        notify_timeout: Duration::from_secs(60),
        child_pidfile: None,
        timeout: Duration::from_secs(5),
        restart: Restart::No,
        restart_delay: Duration::from_secs(1),
        restart_limit: RestartLimit { restarts: 5, interval: Duration::from_secs(60) },
        supervise: true,
        foreground: false,
        env: Vec::new(),
        clear_env: false,
        nice: None,
        chroot: None,
        syslog: None,
        stop_signal: rustix::process::Signal::TERM,
        stop_kill: false,
        timeout_given: false,
        program: OsString::new(),
        args: Vec::new(),
    };
    let mut pidfile = None;
    let mut restart_options = Vec::new();
    let mut command = Vec::new();
    while let Some(arg) = parser.next().map_err(|e| bad(e.to_string()))? {
        match arg {
            Long("pidfile") => pidfile = Some(PathBuf::from(parser.value()?)),
            Long("chdir") => parsed.chdir = Some(PathBuf::from(parser.value()?)),
            Long("pidfile-mode") => {
                let value = parser.value()?.string()?;
                let mode = u32::from_str_radix(&value, 8).ok().filter(|m| *m <= 0o666 && *m & 0o600 == 0o600);
                parsed.pidfile_mode = Some(mode.ok_or_else(|| {
                    bad(format!("--pidfile-mode {value:?}: not an octal mode from 600 to 666 (e.g. 644)"))
                })?);
            }
            Long("umask") => {
                let value = parser.value()?.string()?;
                parsed.umask = Some(
                    u32::from_str_radix(&value, 8)
                        .ok()
                        .filter(|m| *m <= 0o777)
                        .ok_or_else(|| bad(format!("--umask {value:?}: not an octal mode (e.g. 027)")))?,
                );
            }
            Long("stdout") => parsed.stdout = Some(PathBuf::from(parser.value()?)),
            Long("stderr") => parsed.stderr = Some(PathBuf::from(parser.value()?)),
            Long("append") => parsed.append = true,
            Long("user") => parsed.user = Some(parser.value()?.string()?.parse().unwrap_or_else(|e| match e {})),
            Long("group") => parsed.group = Some(parser.value()?.string()?.parse().unwrap_or_else(|e| match e {})),
            Long("keep-fd") => parsed.keep_fds.push(parse_fd(&parser.value()?.string()?, "--keep-fd").map_err(&bad)?),
            Long("notify-fd") => {
                parsed.notify_fd = Some(parse_fd(&parser.value()?.string()?, "--notify-fd").map_err(&bad)?);
                restart_options.push("--notify-fd");
            }
            Long("notify-await") => {
                parsed.notify_await = true;
                restart_options.push("--notify-await");
            }
            Long("notify-timeout") => {
                parsed.notify_timeout = parse_seconds(&parser.value()?.string()?, "--notify-timeout").map_err(&bad)?;
            }
            Long("child-pidfile") => {
                parsed.child_pidfile = Some(PathBuf::from(parser.value()?));
                restart_options.push("--child-pidfile");
            }
            Long("timeout") => {
                parsed.timeout = parse_seconds(&parser.value()?.string()?, "--timeout").map_err(&bad)?;
                parsed.timeout_given = true;
            }
            Long("restart") => {
                let value = parser.value()?.string()?;
                parsed.restart = match value.as_str() {
                    "no" => Restart::No,
                    "on-failure" => Restart::OnFailure,
                    "always" => Restart::Always,
                    _ => return Err(bad(format!("--restart {value:?}: expected no, on-failure or always"))),
                };
                if parsed.restart != Restart::No {
                    restart_options.push("--restart");
                }
            }
            Long("restart-delay") => {
                parsed.restart_delay = parse_seconds(&parser.value()?.string()?, "--restart-delay").map_err(&bad)?;
            }
            Long("restart-limit") => {
                let value = parser.value()?.string()?;
                parsed.restart_limit = value
                    .split_once('/')
                    .and_then(|(n, secs)| {
                        let restarts = n.parse::<u32>().ok().filter(|n| *n > 0)?;
                        let interval = parse_seconds(secs, "").ok().filter(|d| !d.is_zero())?;
                        Some(RestartLimit { restarts, interval })
                    })
                    .ok_or_else(|| bad(format!("--restart-limit {value:?}: expected N/SECS, e.g. 5/60")))?;
            }
            Long("no-supervise") => parsed.supervise = false,
            Long("env") => {
                let value = parser.value()?;
                let bytes = std::os::unix::ffi::OsStrExt::as_bytes(value.as_os_str());
                let (name, assigned) = match bytes.iter().position(|&b| b == b'=') {
                    Some(at) if at > 0 => (&bytes[..at], &bytes[at + 1..]),
                    _ => return Err(bad(format!("--env {value:?}: expected NAME=VALUE"))),
                };
                use std::os::unix::ffi::OsStrExt as _;
                parsed.env.push((
                    OsString::from(std::ffi::OsStr::from_bytes(name)),
                    OsString::from(std::ffi::OsStr::from_bytes(assigned)),
                ));
            }
            Long("clear-env") => parsed.clear_env = true,
            Long("nice") => {
                let value = parser.value()?.string()?;
                parsed.nice = Some(
                    value
                        .parse::<i32>()
                        .ok()
                        .filter(|n| (-20..=19).contains(n))
                        .ok_or_else(|| bad(format!("--nice {value:?}: not a nice value from -20 to 19")))?,
                );
            }
            Long("chroot") => parsed.chroot = Some(PathBuf::from(parser.value()?)),
            // Each --syslog-* option implies --syslog, as daemon(8)'s -T, -l and -s imply -S.
            Long("syslog") => {
                parsed.syslog.get_or_insert_with(Default::default);
                restart_options.push("--syslog");
            }
            Long("syslog-tag") => {
                let tag = parser.value()?.string()?;
                if tag.is_empty() || tag.contains(|c: char| c.is_whitespace() || c == '[' || c == ':') {
                    return Err(bad(format!("--syslog-tag {tag:?}: no spaces, '[' or ':'")));
                }
                parsed.syslog.get_or_insert_with(Default::default).tag = Some(tag);
                restart_options.push("--syslog");
            }
            Long("syslog-facility") => {
                let name = parser.value()?.string()?;
                parsed.syslog.get_or_insert_with(Default::default).facility = crate::relay::parse_facility(&name)
                    .ok_or_else(|| {
                        bad(format!("--syslog-facility {name:?}: expected daemon, user, local0..local7, ..."))
                    })?;
                restart_options.push("--syslog");
            }
            Long("syslog-priority") => {
                let name = parser.value()?.string()?;
                parsed.syslog.get_or_insert_with(Default::default).priority = crate::relay::parse_priority(&name)
                    .ok_or_else(|| {
                        bad(format!("--syslog-priority {name:?}: expected emerg .. debug (notice, info, err, ...)"))
                    })?;
                restart_options.push("--syslog");
            }
            Long("syslog-socket") => {
                parsed.syslog.get_or_insert_with(Default::default).socket = PathBuf::from(parser.value()?);
                restart_options.push("--syslog");
            }
            Long("quiet") | Short('q') => crate::report::set_quiet(),
            // `restart`'s stop options (with `--timeout`, which applies to both halves).
            Long("signal") if help == crate::restart::USAGE => {
                parsed.stop_signal =
                    crate::options::parse_signal(&parser.value()?.string()?, "--signal").map_err(&bad)?;
            }
            Long("kill") if help == crate::restart::USAGE => parsed.stop_kill = true,
            Long("foreground") => parsed.foreground = true,
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
    parsed.pidfile = pidfile.ok_or_else(|| bad("--pidfile FILE is required".into()))?;
    if command.is_empty() {
        return Err(bad("a PROGRAM to run is required after --".into()));
    }
    if !parsed.supervise {
        if let Some(option) = restart_options.first() {
            return Err(bad(format!("{option} needs the supervisor; it cannot be used with --no-supervise")));
        }
    }
    parsed.program = command.remove(0);
    parsed.args = command;
    Ok(Some(parsed))
}

pub(crate) fn run(args: &StartArgs) -> Result<ExitCode, Failure> {
    if args.chroot.is_some() && args.notify_await {
        // The notification socket is the supervisor's, outside the jail: PROGRAM could never
        // reach it, and the start would always time out.
        return Err(Failure::Usage(
            "--notify-await cannot be used with --chroot: PROGRAM could not reach the notification socket".into(),
            USAGE,
        ));
    }
    if let Some(root) = &args.chroot {
        // PROGRAM's chroot and chdir happen between fork and exec, where a failure can only be
        // reported as an errno: check the directories here, by name, to say what is wrong.
        let inside = args.chdir.as_deref().unwrap_or(Path::new("/"));
        let target = root.join(inside.strip_prefix("/").unwrap_or(inside));
        if !root.is_dir() {
            return Err(Failure::Error(format!("--chroot {}: not a directory", root.display())));
        }
        if !target.is_dir() {
            return Err(Failure::Error(format!(
                "--chdir {}: not a directory inside --chroot {}",
                inside.display(),
                root.display()
            )));
        }
    }
    if let Some(syslog) = &args.syslog {
        // Lines sent while no syslog daemon listens are lost (as with syslog(3)); a daemon may
        // start later, so this is not an error, but a mistyped --syslog-socket, or a container
        // without /dev/log, should not lose every line silently.
        if let Err(e) = crate::relay::syslog_listens(&syslog.socket) {
            crate::report::warn(&format!(
                "no syslog daemon receives on {}: {}; PROGRAM's lines are lost until one does",
                syslog.socket.display(),
                os_message(&e)
            ));
        }
    }
    // Without a supervisor, a program that dropped privileges takes the lock over by reopening
    // root's file read-only (`read_only_lock`): others must be able to read it.
    let unsupervised_user = !args.supervise && args.user.is_some();
    let pidfile_mode = match args.pidfile_mode {
        Some(mode) if unsupervised_user && mode & 0o004 == 0 => {
            return Err(Failure::Usage(
                format!(
                    "--pidfile-mode {mode:o} with --no-supervise --user: the program could not reopen the file \
                     to hold its lock (it needs others' read permission, e.g. 644)"
                ),
                USAGE,
            ))
        }
        Some(mode) => mode,
        None if unsupervised_user => 0o644,
        None => 0o600,
    };
    let mut daemon =
        Daemon::new().pidfile(&args.pidfile).pidfile_mode(pidfile_mode).manual_readiness().foreground(args.foreground);
    // Under a supervised --chroot, --chdir is a directory inside the new root: PROGRAM changes
    // to it there (supervise.rs); the supervisor itself stays in `/`.
    if let Some(dir) = args.chdir.as_ref().filter(|_| !(args.supervise && args.chroot.is_some())) {
        daemon = daemon.working_dir(dir);
    }
    // The caller's umask unless one is given: never 0 (world-writable files) by default, so a
    // caller's 0 becomes 022.
    let mask = args.umask.unwrap_or_else(|| {
        let current = rustix::process::umask(rustix::fs::Mode::empty());
        rustix::process::umask(current);
        match current.bits() as u32 {
            0 => 0o022,
            mask => mask,
        }
    });
    daemon = daemon.umask(mask);
    if !args.supervise {
        // Without a supervisor the daemon itself is PROGRAM: chroot it (the PID file stays
        // locked through its descriptor, opened before). With one, only PROGRAM is chrooted.
        if let Some(root) = &args.chroot {
            daemon = daemon.chroot(root);
        }
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
    if args.supervise {
        // The supervisor stays root: see `Daemon::keep_privileges`.
        daemon = daemon.keep_privileges();
    }
    if let Some(fd) = args.notify_fd {
        daemon = daemon.ready_fd(fd);
    }
    daemon = daemon.keep_fds(args.keep_fds.iter().copied());
    if !args.foreground {
        daemon = daemon.on_launched(|pid| inform(&format!("daemonic: started (pid {pid})\n")));
    }

    let guard = match daemon.daemonize() {
        Ok(guard) => guard,
        Err(DaemonError::Failed { message, .. }) => return Err(Failure::Error(message)),
        Err(e) => return Err(Failure::Error(chain(&e))),
    };
    // In the daemon (or, in foreground mode, the same process).
    if let Err(message) = truncate_outputs(args) {
        return Err(fail(guard, message));
    }
    if args.supervise {
        return Ok(supervise::run(guard, args));
    }
    Err(exec_unsupervised(guard, args))
}

/// Reports `message` to the launcher (which prints it and exits non-zero) and removes the PID
/// file; `main` prints it here too (the log; in foreground mode, the caller's stderr).
pub(crate) fn fail(guard: DaemonGuard, message: String) -> Failure {
    let _ = guard.fail(&message);
    Failure::Error(message)
}

/// `--no-supervise`: PROGRAM becomes the daemon. The lock moves to a read-only descriptor that
/// survives `exec`; the read-write one closes on `exec`. Only returns on failure.
fn exec_unsupervised(mut guard: DaemonGuard, args: &StartArgs) -> Failure {
    let prepared = (|| {
        if let Some(pidfile) = guard.pidfile() {
            let read_only = read_only_lock(pidfile.as_fd(), pidfile.path())?;
            // Deliberately leaked: it must stay open (and locked) through `exec`.
            std::mem::forget(read_only);
        }
        for &fd in &args.keep_fds {
            // SAFETY: the user asked for this descriptor to be kept; it is open (daemonize
            // kept it) or fcntl reports EBADF.
            let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
            clear_cloexec(borrowed).map_err(|e| format!("--keep-fd {fd}: {}", os_message(&e)))?;
        }
        Ok::<(), String>(())
    })();
    let error = match prepared {
        Err(message) => message,
        Ok(()) => match guard.ready_on_exec() {
            Err(e) => chain(&e),
            Ok(()) => match set_nice(args.nice) {
                Err(e) => format!("--nice: {}", os_message(&e)),
                Ok(()) => {
                    let error = match program(args, &[]) {
                        Ok(program) => program.exec(),
                        Err(e) => e,
                    };
                    format!("cannot execute {}: {}", args.program.to_string_lossy(), os_message(&error))
                }
            },
        },
    };
    // Only reached when PROGRAM could not be executed: tell the launcher, remove the PID file.
    if guard.is_ready() {
        // Foreground: there is no launcher; say it here.
        esay(&format!("daemonic: {error}\n"));
    }
    let _ = guard.fail(&error);
    Failure::Error(error)
}

/// A second, read-only open file description of the locked PID file, holding its lock in
/// place of the read-write one, for a program that must not be able to write the file.
///
/// Reopened through `/proc/self/fd` on Linux (the same inode, no lookup of the PID file's
/// path); elsewhere by path, and refused unless it is the same inode. `flock` cannot move a
/// lock between descriptions, so the read-write one is unlocked first; in that instant another
/// `start` may take the lock, and then this one fails (one instance runs, as it must). The
/// protocol, proven by the model (`crates/pidfile/model`, configuration `WITH_HANDOFF`):
/// empty the file (it must not name us while we do not hold it), unlock, lock the read-only
/// description, check that the path still names the inode (another start may have taken the
/// file over and removed it meanwhile), and only then write our pid again.
fn read_only_lock(read_write: BorrowedFd<'_>, path: &Path) -> Result<OwnedFd, String> {
    let flags = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOCTTY;
    let fail = |what: &str, e: rustix::io::Errno| {
        format!("cannot hand the lock of {} to a read-only descriptor: {what}: {}", path.display(), errno_message(e))
    };
    #[cfg(any(target_os = "linux", target_os = "android"))]
    let read_only = {
        use std::os::fd::AsRawFd as _;
        rustix::fs::open(format!("/proc/self/fd/{}", read_write.as_raw_fd()), flags, rustix::fs::Mode::empty())
            .map_err(|e| fail("open", e))?
    };
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let read_only = rustix::fs::open(path, flags | OFlags::NOFOLLOW | OFlags::NONBLOCK, rustix::fs::Mode::empty())
        .map_err(|e| fail("open", e))?;
    let (ours, reopened) = (
        rustix::fs::fstat(read_write).map_err(|e| fail("fstat", e))?,
        rustix::fs::fstat(&read_only).map_err(|e| fail("fstat", e))?,
    );
    if (ours.st_dev, ours.st_ino) != (reopened.st_dev, reopened.st_ino) {
        return Err(format!("{} was replaced while it was locked; not starting", path.display()));
    }
    let lost =
        || format!("{}: another start took the file while its lock was handed over; not starting", path.display());
    rustix::fs::ftruncate(read_write, 0).map_err(|e| fail("ftruncate", e))?;
    rustix::fs::flock(read_write, FlockOperation::Unlock).map_err(|e| fail("unlock", e))?;
    match rustix::fs::flock(&read_only, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => {}
        Err(rustix::io::Errno::WOULDBLOCK) => return Err(lost()),
        Err(e) => return Err(fail("lock", e)),
    }
    match rustix::fs::lstat(path) {
        Ok(named) if (named.st_dev, named.st_ino) == (ours.st_dev, ours.st_ino) => {}
        Ok(_) | Err(rustix::io::Errno::NOENT) => return Err(lost()),
        Err(e) => return Err(fail("lstat", e)),
    }
    let record = format!("{}\n", rustix::process::getpid().as_raw_nonzero());
    rustix::io::pwrite(read_write, record.as_bytes(), 0).map_err(|e| fail("pwrite", e))?;
    clear_cloexec(read_only.as_fd()).map_err(|e| format!("cannot keep the PID file open: {}", os_message(&e)))?;
    Ok(read_only)
}

/// In the daemon: empty the output files unless `--append`.
fn truncate_outputs(args: &StartArgs) -> Result<(), String> {
    if !args.append {
        if args.stdout.is_some() {
            truncate(std::io::stdout().as_fd(), args.stdout.as_deref())?;
        }
        if args.stderr.is_some() {
            truncate(std::io::stderr().as_fd(), args.stderr.as_deref())?;
        }
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
        format!("cannot truncate {}: {}", path.map(|p| p.display().to_string()).unwrap_or_default(), errno_message(e))
    })
}

pub(crate) fn clear_cloexec(fd: BorrowedFd<'_>) -> std::io::Result<()> {
    let flags = rustix::io::fcntl_getfd(fd)?;
    rustix::io::fcntl_setfd(fd, flags - rustix::io::FdFlags::CLOEXEC)?;
    Ok(())
}

pub(crate) fn set_cloexec(fd: BorrowedFd<'_>) -> std::io::Result<()> {
    let flags = rustix::io::fcntl_getfd(fd)?;
    rustix::io::fcntl_setfd(fd, flags | rustix::io::FdFlags::CLOEXEC)?;
    Ok(())
}

/// Writes all of `bytes`, retrying short writes and `EINTR`.
pub(crate) fn write_all(fd: BorrowedFd<'_>, mut bytes: &[u8]) -> std::io::Result<()> {
    while !bytes.is_empty() {
        match rustix::io::write(fd, bytes) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => bytes = &bytes[n..],
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// PROGRAM, its arguments and its environment: the caller's (none with `--clear-env`), then
/// `--env`, then `extra` (the supervisor's `NOTIFY_SOCKET`). A bare program name is looked up
/// in `--env PATH=` if given, else in the caller's `PATH` (so that `--clear-env` does not hide
/// it); under `--chroot` in those directories inside the new root.
pub(crate) fn program(args: &StartArgs, extra: &[(OsString, OsString)]) -> std::io::Result<Program> {
    let mut vars: Vec<(OsString, OsString)> = if args.clear_env { Vec::new() } else { std::env::vars_os().collect() };
    for (name, value) in args.env.iter().chain(extra) {
        vars.retain(|(existing, _)| existing != name);
        vars.push((name.clone(), value.clone()));
    }
    let path = args.env.iter().rev().find(|(name, _)| name == "PATH").map(|(_, value)| value.clone());
    let path = path.or_else(|| std::env::var_os("PATH"));
    Program::new(&args.program, &args.args, vars, path.as_deref())
}

/// `setpriority(PRIO_PROCESS, 0, n)` for `--nice`. Async-signal-safe.
pub(crate) fn set_nice(nice: Option<i32>) -> std::io::Result<()> {
    if let Some(nice) = nice {
        rustix::process::setpriority_process(None, nice)?;
    }
    Ok(())
}
