//! [`Daemon`], the builder, and [`Daemon::daemonize`].

use std::fs::File;
use std::io::{self, Write as _};
use std::os::fd::{AsFd, AsRawFd, IntoRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

use pidfile::{Pid, PidFile, PidFileLock};
use rustix::fs::{Mode, OFlags, CWD};
use rustix::io::Errno;

use crate::guard::DaemonGuard;
use crate::notify::Notifier;
use crate::privileges::{self, Account, Credentials};
use crate::readiness::{self, Report, Reporter};
use crate::{fds, signals, sys, DaemonError, Step};

/// Where a standard stream goes.
#[derive(Debug)]
enum Stream {
    /// `/dev/null` when forking; left as inherited in foreground mode.
    Default,
    File(File),
    /// Opened by `daemonize` with `O_WRONLY|O_CREAT|O_APPEND`, mode 0644.
    Append(PathBuf),
}

/// How to daemonize: the Python original's `daemon(pidfile, workingdir, umask, stdin, stdout,
/// stderr)`, as a builder.
///
/// Defaults follow the original: no PID file, working directory `/`, umask `0`, standard streams
/// on `/dev/null`, and stderr following stdout when only stdout is set.
///
/// # Examples
///
/// ```no_run
/// use daemonic::Daemon;
///
/// let log = std::fs::OpenOptions::new().create(true).append(true).open("/var/log/myapp.log")?;
/// let guard = Daemon::new()
///     .pidfile("/run/myapp.pid")
///     .working_dir("/var/lib/myapp")
///     .umask(0o027)
///     .stdout(log) // stderr follows
///     .user("myapp")
///     .daemonize()?; // only the daemon gets here; the launcher exited 0 once it was ready
///
/// // ... serve ...
///
/// guard.stop()?; // removes the PID file
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
#[must_use = "a Daemon does nothing until `daemonize` is called"]
pub struct Daemon {
    pidfile: Option<PathBuf>,
    /// `Some(mode)`: create the PID file with it (and narrow a file taken over to it).
    pidfile_mode: Option<u32>,
    runtime_directory: Option<PathBuf>,
    working_dir: PathBuf,
    umask: u32,
    stdin: Stream,
    stdout: Stream,
    stderr: Stream,
    user: Option<Account>,
    group: Option<Account>,
    chroot: Option<PathBuf>,
    keep_fds: Vec<RawFd>,
    manual_readiness: bool,
    keep_privileges: bool,
    foreground: bool,
    ready_fd: Option<RawFd>,
    on_launched: Option<OnLaunched>,
}

/// A launcher-side callback (a struct so that `Daemon` can stay `Debug`).
struct OnLaunched(Box<dyn FnOnce(Pid)>);

impl std::fmt::Debug for OnLaunched {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OnLaunched(..)")
    }
}

impl Default for Daemon {
    fn default() -> Daemon {
        Daemon::new()
    }
}

impl Daemon {
    /// A daemon with the seed's defaults (see [`Daemon`]).
    ///
    /// # Examples
    ///
    /// ```
    /// let daemon = daemonic::Daemon::new();
    /// # let _ = daemon;
    /// ```
    pub fn new() -> Daemon {
        Daemon {
            pidfile: None,
            pidfile_mode: None,
            runtime_directory: None,
            working_dir: PathBuf::from("/"),
            umask: 0,
            stdin: Stream::Default,
            stdout: Stream::Default,
            stderr: Stream::Default,
            user: None,
            group: None,
            chroot: None,
            keep_fds: Vec::new(),
            manual_readiness: false,
            keep_privileges: false,
            foreground: false,
            ready_fd: None,
            on_launched: None,
        }
    }

    /// Locks this PID file in the launcher (so "already running (pid N)" reaches the terminal),
    /// leaving it empty, and has the daemon write its own pid before the launcher exits: the
    /// file never names the launcher. See [`pidfile::PidFileLock`] and [`pidfile::PidFile`].
    ///
    /// # Examples
    ///
    /// ```
    /// let daemon = daemonic::Daemon::new().pidfile("/run/myapp.pid");
    /// # let _ = daemon;
    /// ```
    pub fn pidfile(mut self, path: impl AsRef<Path>) -> Self {
        self.pidfile = Some(path.as_ref().to_path_buf());
        self
    }

    /// The PID file's mode (default 0644, which the umask may narrow). `0o600` keeps other
    /// users from opening it at all, and so from taking its `flock` lock, which any reader
    /// could otherwise hold to make a restart after a crash report "already running" (FreeBSD's
    /// pidfile(3) callers pass 0600). A stale file taken over is narrowed to it. See
    /// [`pidfile::PidFileLock::acquire_with_mode`].
    ///
    /// # Examples
    ///
    /// ```
    /// let daemon = daemonic::Daemon::new().pidfile("/run/myapp.pid").pidfile_mode(0o600);
    /// # let _ = daemon;
    /// ```
    pub fn pidfile_mode(mut self, mode: u32) -> Self {
        self.pidfile_mode = Some(mode);
        self
    }

    /// Creates this directory for the daemon's PID file (and sockets) and gives it to the
    /// [`user`](Daemon::user), as systemd's `RuntimeDirectory=` does: the daemon, no longer
    /// root, can then still remove its PID file at [`stop`](crate::DaemonGuard::stop). Without
    /// it, a PID file in a root-owned directory can only be emptied at stop
    /// ([`RemoveDenied`](pidfile::PidFileError::RemoveDenied)).
    ///
    /// Done in the launcher, before the PID file is locked: the directory is created with mode
    /// 0755 and handed to the user and group the daemon will run as (without
    /// [`user`](Daemon::user)/[`group`](Daemon::group): the caller's). An existing directory is
    /// used as it is, never modified, and only if it already belongs to that user (a previous
    /// run made it so); a symlink, a non-directory, or a directory owned by anyone else is
    /// refused with [`Step::RuntimeDirectory`] — so a shared directory such as `/run` or `/tmp`
    /// is never handed over to the service user. Its parent must exist.
    ///
    /// Inside it, the PID file is removed by the service user; the directory is writable by that
    /// user alone, who could also replace the file: a root `stop` command must decide on what it
    /// opened (see the `daemonic` command).
    ///
    /// # Examples
    ///
    /// ```
    /// let daemon = daemonic::Daemon::new()
    ///     .runtime_directory("/run/myapp")
    ///     .pidfile("/run/myapp/myapp.pid")
    ///     .user("myapp");
    /// # let _ = daemon;
    /// ```
    pub fn runtime_directory(mut self, path: impl AsRef<Path>) -> Self {
        self.runtime_directory = Some(path.as_ref().to_path_buf());
        self
    }

    /// The daemon's working directory (default `/`, so it pins no mount point). Relative to the
    /// [`chroot`](Daemon::chroot) when one is set.
    ///
    /// # Examples
    ///
    /// ```
    /// let daemon = daemonic::Daemon::new().working_dir("/var/lib/myapp");
    /// # let _ = daemon;
    /// ```
    pub fn working_dir(mut self, path: impl AsRef<Path>) -> Self {
        self.working_dir = path.as_ref().to_path_buf();
        self
    }

    /// The daemon's file-mode creation mask (default `0`, as in the seed; `0o027` is a common
    /// choice).
    ///
    /// # Examples
    ///
    /// ```
    /// let daemon = daemonic::Daemon::new().umask(0o027);
    /// # let _ = daemon;
    /// ```
    pub fn umask(mut self, mask: u32) -> Self {
        self.umask = mask;
        self
    }

    /// The daemon's standard input (default `/dev/null`).
    ///
    /// # Examples
    ///
    /// ```
    /// let daemon = daemonic::Daemon::new().stdin(std::fs::File::open("/dev/zero")?);
    /// # let _ = daemon;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn stdin(mut self, file: impl Into<File>) -> Self {
        self.stdin = Stream::File(file.into());
        self
    }

    /// The daemon's standard output (default `/dev/null`). Standard error follows it unless
    /// set too.
    ///
    /// # Examples
    ///
    /// ```
    /// let log = tempfile::tempfile()?;
    /// let daemon = daemonic::Daemon::new().stdout(log);
    /// # let _ = daemon;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn stdout(mut self, file: impl Into<File>) -> Self {
        self.stdout = Stream::File(file.into());
        self
    }

    /// The daemon's standard error (default: wherever stdout goes).
    ///
    /// # Examples
    ///
    /// ```
    /// let errors = tempfile::tempfile()?;
    /// let daemon = daemonic::Daemon::new().stderr(errors);
    /// # let _ = daemon;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn stderr(mut self, file: impl Into<File>) -> Self {
        self.stderr = Stream::File(file.into());
        self
    }

    /// Appends standard output to this file, opened by `daemonize` in the launcher with
    /// [`open_output`](crate::open_output) (`O_WRONLY|O_APPEND|O_NOFOLLOW|O_NOCTTY`; a new
    /// file is created with mode 0644 whatever the umask), so that "cannot open
    /// /var/log/x.log" is reported before forking. Standard error follows unless set.
    ///
    /// A symlink is never followed, and only a regular file or a character device (`/dev/null`,
    /// a terminal) is accepted: a FIFO, socket or directory is refused (a FIFO never hangs the
    /// launcher). When root starts a daemon that drops to a [`user`](Daemon::user), a regular
    /// file with more than one link, or owned by anyone but root or that user, is refused too:
    /// the service user could have planted it to make root write another file.
    ///
    /// # Examples
    ///
    /// ```
    /// let daemon = daemonic::Daemon::new().stdout_path("/var/log/myapp.log");
    /// # let _ = daemon;
    /// ```
    pub fn stdout_path(mut self, path: impl AsRef<Path>) -> Self {
        self.stdout = Stream::Append(path.as_ref().to_path_buf());
        self
    }

    /// Appends standard error to this file, like [`stdout_path`](Daemon::stdout_path) (with the
    /// same refusals).
    ///
    /// # Examples
    ///
    /// ```
    /// let daemon = daemonic::Daemon::new().stderr_path("/var/log/myapp.err");
    /// # let _ = daemon;
    /// ```
    pub fn stderr_path(mut self, path: impl AsRef<Path>) -> Self {
        self.stderr = Stream::Append(path.as_ref().to_path_buf());
        self
    }

    /// Runs the daemon as this user (a name, or a numeric id). Its primary group and
    /// supplementary groups (from the group database) replace the launcher's, so root's groups
    /// never survive; the drop is verified (`setuid(0)` must fail afterwards).
    ///
    /// The lookup happens in the launcher, before forking and before any chroot. A numeric id
    /// without a passwd entry is used as is: its group is [`group`](Daemon::group)'s, else the
    /// same number, and it has no supplementary groups.
    ///
    /// # Examples
    ///
    /// ```
    /// let daemon = daemonic::Daemon::new().user("nobody");
    /// let daemon = daemonic::Daemon::new().user(65534);
    /// # let _ = daemon;
    /// ```
    pub fn user(mut self, user: impl Into<Account>) -> Self {
        self.user = Some(user.into());
        self
    }

    /// Runs the daemon with this primary group (a name, or a numeric id) instead of the user's.
    /// Without [`user`](Daemon::user), the supplementary groups become just this group.
    ///
    /// # Examples
    ///
    /// ```
    /// let daemon = daemonic::Daemon::new().user("nobody").group("nogroup");
    /// # let _ = daemon;
    /// ```
    pub fn group(mut self, group: impl Into<Account>) -> Self {
        self.group = Some(group.into());
        self
    }

    /// `chroot`s the daemon into this directory (before `chdir` and the privilege drop).
    ///
    /// The PID file is locked outside the chroot; the descriptor of its directory is closed
    /// before the `chroot` ([`PidFileLock::close_parent_dir`](pidfile::PidFileLock::close_parent_dir)):
    /// a directory outside the jail, open in it, would let code in the jail `fchdir` out. So
    /// [`stop`](crate::DaemonGuard::stop) cannot unlink the file (its name is outside the jail):
    /// it empties it, and an empty unlocked PID file is stale (it names no process).
    ///
    /// # Examples
    ///
    /// ```
    /// let daemon = daemonic::Daemon::new().chroot("/var/empty");
    /// # let _ = daemon;
    /// ```
    pub fn chroot(mut self, path: impl AsRef<Path>) -> Self {
        self.chroot = Some(path.as_ref().to_path_buf());
        self
    }

    /// Keeps this descriptor open in the daemon (every other descriptor above 2 is closed).
    /// Use it for listening sockets and for systemd socket activation (`LISTEN_FDS`).
    /// `daemonize` refuses ([`Step::CheckDescriptor`]) a descriptor that is not open when it is
    /// called, before it opens anything of its own.
    ///
    /// # Examples
    ///
    /// ```
    /// let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// let daemon = daemonic::Daemon::new().keep_fd(&listener);
    /// # let _ = daemon;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn keep_fd(mut self, fd: impl AsFd) -> Self {
        self.keep_fds.push(fd.as_fd().as_raw_fd());
        self
    }

    /// Keeps these descriptor numbers open in the daemon, e.g. `3..3 + n` for `LISTEN_FDS=n`.
    ///
    /// # Examples
    ///
    /// ```
    /// let daemon = daemonic::Daemon::new().keep_fds(3..5);
    /// # let _ = daemon;
    /// ```
    pub fn keep_fds(mut self, fds: impl IntoIterator<Item = RawFd>) -> Self {
        self.keep_fds.extend(fds);
        self
    }

    /// The daemon tells when it is ready by calling [`DaemonGuard::ready`] (e.g. after binding
    /// its socket); the launcher waits until then, and fails if the daemon exits or calls
    /// [`DaemonGuard::fail`] first. By default the daemon is ready when `daemonize` returns.
    ///
    /// The launcher waits without a time limit; a service manager's start timeout (systemd's
    /// `TimeoutStartSec=`) or the caller's own watchdog bounds it.
    ///
    /// # Examples
    ///
    /// ```
    /// let daemon = daemonic::Daemon::new().manual_readiness();
    /// # let _ = daemon;
    /// ```
    pub fn manual_readiness(mut self) -> Self {
        self.manual_readiness = true;
        self
    }

    /// The daemon keeps the caller's privileges; [`user`](Daemon::user) and
    /// [`group`](Daemon::group) are still resolved in the launcher, files are still judged for
    /// that user (the [runtime directory](Daemon::runtime_directory) is handed to it, output
    /// files it could have planted are refused), and
    /// [`DaemonGuard::credentials`](crate::DaemonGuard::credentials) returns them for the
    /// daemon to [`apply`](crate::Credentials::apply) in the programs it starts.
    ///
    /// For a supervisor: it stays root so that the program it runs as the service user can
    /// neither signal nor trace it (nor, through it, reach the PID file's descriptor), and so
    /// that it can remove the PID file from a root-owned directory.
    ///
    /// # Examples
    ///
    /// ```
    /// let daemon = daemonic::Daemon::new().user("nobody").keep_privileges();
    /// # let _ = daemon;
    /// ```
    pub fn keep_privileges(mut self) -> Self {
        self.keep_privileges = true;
        self
    }

    /// Foreground mode, for supervisors (systemd `Type=notify`/`simple`, s6, runit, containers):
    /// no fork and no new session, the same pid; everything else applies (PID file, working
    /// directory, umask, signals, fd hygiene, user, readiness). Standard streams that were not
    /// set are left as inherited, so the supervisor keeps capturing them.
    ///
    /// # Examples
    ///
    /// ```
    /// let daemon = daemonic::Daemon::new().foreground(true);
    /// # let _ = daemon;
    /// ```
    pub fn foreground(mut self, foreground: bool) -> Self {
        self.foreground = foreground;
        self
    }

    /// s6-style readiness: when ready, write `"\n"` to this descriptor and close it (s6's
    /// `notification-fd`). It is kept open until then. It must be open when `daemonize` is
    /// called and cannot be 0, 1 or 2 ([`Step::CheckDescriptor`]).
    ///
    /// # Examples
    ///
    /// ```
    /// let daemon = daemonic::Daemon::new().foreground(true).ready_fd(3);
    /// # let _ = daemon;
    /// ```
    pub fn ready_fd(mut self, fd: RawFd) -> Self {
        self.ready_fd = Some(fd);
        self
    }

    /// Runs `callback(daemon_pid)` in the launcher once the daemon is ready, just before the
    /// launcher exits 0 — e.g. to tell the user where the daemon runs. Not called in foreground
    /// mode (there is no launcher) nor when daemonizing fails.
    ///
    /// By then the launcher holds nothing of the daemon's: a panic in the callback (`println!`
    /// to a closed pipe) is reported by the panic hook, and the launcher still exits 0, because
    /// the daemon runs.
    ///
    /// # Examples
    ///
    /// ```
    /// let daemon = daemonic::Daemon::new()
    ///     .pidfile("/run/myapp.pid")
    ///     .on_launched(|pid| println!("myapp running as pid {pid}; stop it with: kill {pid}"));
    /// # let _ = daemon;
    /// ```
    pub fn on_launched(mut self, callback: impl FnOnce(Pid) + 'static) -> Self {
        self.on_launched = Some(OnLaunched(Box::new(callback)));
        self
    }

    /// Turns the calling process into a daemon: the Python original's `daemonize()`.
    ///
    /// Returns `Ok` **only in the daemon**. The launching process never returns `Ok`: it exits
    /// with status 0 (via `_exit`, running no destructors) once the daemon has written its PID
    /// file and reported ready, or returns `Err` saying what failed — before forking, or inside
    /// the daemon before it was ready (then no daemon and no PID file remain).
    ///
    /// In the launcher: refuse if the process has more than one thread; make sure fds 0–2 are
    /// open; resolve user and group; create the [runtime directory](Daemon::runtime_directory)
    /// (so that a log file may live in it); open the stdio targets and `/dev/null`; read
    /// `NOTIFY_SOCKET`; lock the PID file, empty; create the readiness pipe; flush std's stdout/stderr. Then `fork` → `setsid` → `fork` (the daemon is not a session leader, so it
    /// can never acquire a controlling terminal). In the daemon: `chroot`, `chdir`, `umask`,
    /// default signal dispositions and an empty signal mask, `dup2` of the standard streams,
    /// close every other descriptor except the PID file, the pipe and the kept ones
    /// (`close_range`), write the daemon's pid to the PID file, drop privileges, then report
    /// ready (`sd_notify` `READY=1` + `MAINPID`, the ready fd, the launcher) unless
    /// [`manual_readiness`](Daemon::manual_readiness) is set.
    ///
    /// Every descriptor above 2 that is not kept is closed in the daemon: do not use (or drop)
    /// objects that owned one; open files and sockets after `daemonize`, or keep them with
    /// [`keep_fd`](Daemon::keep_fd).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// let guard = daemonic::Daemon::new().pidfile("/run/myapp.pid").daemonize()?;
    /// assert_ne!(rustix::process::getsid(None)?, rustix::process::getpid());
    /// guard.stop()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// - [`DaemonError::Threads`] when the process has more than one thread (Linux);
    /// - [`DaemonError::UnknownUser`], [`DaemonError::UnknownGroup`];
    /// - [`DaemonError::PidFile`], e.g. `AlreadyRunning` with the holder's pid;
    /// - [`DaemonError::Launcher`] for a failed step before the fork (opening a log file, the
    ///   pipe, `fork`);
    /// - [`DaemonError::Daemon`] for a failed step in the daemon (`chdir`, `setuid`, …);
    /// - [`DaemonError::Failed`] and [`DaemonError::ExitedBeforeReady`] with manual readiness.
    ///
    /// # Platform notes
    ///
    /// The thread check reads `/proc/self/task` and runs on Linux only; elsewhere, calling this
    /// with other threads running is undefined behaviour waiting to happen (a lock held by
    /// another thread stays locked forever in the child) — daemonize first. Descriptors are
    /// closed with `close_range(2)` on Linux ≥ 5.9 (else by listing `/proc/self/fd`),
    /// `closefrom` on the BSDs, and by listing `/dev/fd` on macOS.
    ///
    /// # References
    ///  - [systemd `daemon(7)`](https://www.freedesktop.org/software/systemd/man/latest/daemon.html)
    ///  - [FreeBSD `daemon(3)`](https://man.freebsd.org/cgi/man.cgi?query=daemon&sektion=3)
    ///  - [Linux `close_range(2)`](https://man7.org/linux/man-pages/man2/close_range.2.html)
    #[doc(alias = "daemon")]
    pub fn daemonize(mut self) -> Result<DaemonGuard, DaemonError> {
        if let Some(threads) =
            sys::thread_count().map_err(|source| DaemonError::Launcher { step: Step::CountThreads, source })?
        {
            if threads > 1 {
                return Err(DaemonError::Threads { threads });
            }
        }
        // Before any descriptor of ours exists: a number the caller names but does not have
        // open would otherwise land on ours (the PID file, the pipe) in the daemon.
        self.check_named_fds()?;
        ensure_standard_fds_open()?;
        let credentials = privileges::resolve(self.user.as_ref(), self.group.as_ref())?;
        // Before the outputs: a log file inside the runtime directory needs it to exist.
        if let Some(dir) = &self.runtime_directory {
            privileges::prepare_runtime_directory(dir, credentials.as_ref())?;
        }
        let stdio = self.open_stdio(credentials.as_ref())?;
        let notifier = Notifier::take_from_env()?;
        // Locked, but left empty: the daemon writes the first pid, so the file never names
        // the launcher (a `kill $(cat file)` meanwhile cannot hit it).
        let lock = match (&self.pidfile, self.pidfile_mode) {
            (Some(path), Some(mode)) => Some(PidFileLock::acquire_with_mode(path, mode)?),
            (Some(path), None) => Some(PidFileLock::acquire(path)?),
            (None, _) => None,
        };
        let mut plan = Plan { daemon: self, credentials, stdio, notifier };

        if plan.daemon.foreground {
            return plan.run_in_foreground(lock);
        }

        let (read_end, write_end) =
            sys::cloexec_pipe().map_err(|source| DaemonError::Launcher { step: Step::CreatePipe, source })?;
        let _ = io::stdout().flush();
        let _ = io::stderr().flush();

        match fork().map_err(|source| DaemonError::Launcher { step: Step::Fork, source })? {
            None => {
                drop(read_end);
                let reporter = Reporter::new(write_end);
                become_grandchild(&reporter);
                Ok(plan.run_in_daemon(lock, reporter))
            }
            Some(intermediate) => {
                drop(write_end);
                let on_launched = plan.daemon.on_launched.take();
                // The stdio descriptors are the daemon's now; the rest of the plan is freed
                // only if the launcher returns (it `_exit`s on success).
                plan.stdio = [None, None, None];
                launcher_wait(intermediate, read_end, lock, on_launched, plan)
            }
        }
    }

    /// Every descriptor named by [`keep_fd`](Daemon::keep_fd)/[`keep_fds`](Daemon::keep_fds)
    /// and [`ready_fd`](Daemon::ready_fd) must be open now; the ready fd cannot be a standard
    /// stream (it is closed once readiness is written). Kept descriptors 0–2 are always kept.
    fn check_named_fds(&self) -> Result<(), DaemonError> {
        let refuse = |fd: RawFd, source: io::Error| DaemonError::Launcher { step: Step::CheckDescriptor(fd), source };
        let invalid = |fd: RawFd, why: &str| refuse(fd, io::Error::new(io::ErrorKind::InvalidInput, why.to_owned()));
        let check = |fd: RawFd| match is_open(fd) {
            Ok(true) => Ok(()),
            Ok(false) => Err(invalid(fd, "not open in the calling process")),
            Err(e) => Err(refuse(fd, e)),
        };
        for &fd in self.keep_fds.iter().filter(|fd| !(0..=2).contains(*fd)) {
            check(fd)?;
        }
        if let Some(fd) = self.ready_fd {
            if (0..=2).contains(&fd) {
                return Err(invalid(
                    fd,
                    "a standard stream cannot be the readiness descriptor (it is closed once ready)",
                ));
            }
            check(fd)?;
        }
        Ok(())
    }

    /// Opens `/dev/null` and the stdio targets in the launcher, as descriptors above 2 (so
    /// redirecting one stream never clobbers another's source); `None` leaves a stream alone.
    fn open_stdio(&mut self, credentials: Option<&Credentials>) -> Result<[Option<OwnedFd>; 3], DaemonError> {
        let foreground = self.foreground;
        let mut dev_null: Option<OwnedFd> = None;
        let mut open = |stream: Stream, name: &'static str| -> Result<Option<OwnedFd>, DaemonError> {
            let redirect_error = |e: Errno| DaemonError::Launcher { step: Step::RedirectStdio(name), source: e.into() };
            let fd: OwnedFd = match stream {
                Stream::Default if foreground => return Ok(None),
                Stream::Default => {
                    let null = match &dev_null {
                        Some(null) => null,
                        None => dev_null.insert(
                            rustix::fs::openat(CWD, "/dev/null", OFlags::RDWR | OFlags::CLOEXEC, Mode::empty())
                                .map_err(|e| DaemonError::Launcher { step: Step::OpenDevNull, source: e.into() })?,
                        ),
                    };
                    return rustix::io::fcntl_dupfd_cloexec(null, 3).map(Some).map_err(redirect_error);
                }
                Stream::File(file) => file.into(),
                Stream::Append(path) => crate::output::open_output(&path, credentials)
                    .map_err(|source| DaemonError::Launcher { step: Step::OpenStdio(name, path), source })?,
            };
            rustix::io::fcntl_dupfd_cloexec(&fd, 3).map(Some).map_err(redirect_error)
        };
        // The seed's rule: stderr follows stdout when only stdout is set.
        let stderr_follows = matches!(self.stderr, Stream::Default) && !matches!(self.stdout, Stream::Default);
        let stdin = open(std::mem::replace(&mut self.stdin, Stream::Default), "stdin")?;
        let stdout = open(std::mem::replace(&mut self.stdout, Stream::Default), "stdout")?;
        let stderr = match &stdout {
            Some(stdout) if stderr_follows => Some(
                rustix::io::fcntl_dupfd_cloexec(stdout, 3)
                    .map_err(|e| DaemonError::Launcher { step: Step::RedirectStdio("stderr"), source: e.into() })?,
            ),
            _ => open(std::mem::replace(&mut self.stderr, Stream::Default), "stderr")?,
        };
        Ok([stdin, stdout, stderr])
    }
}

/// Everything resolved in the launcher that the daemon needs.
#[derive(Debug)]
struct Plan {
    daemon: Daemon,
    credentials: Option<Credentials>,
    stdio: [Option<OwnedFd>; 3],
    notifier: Option<Notifier>,
}

type StepResult<T> = Result<T, (Step, io::Error)>;

fn at(step: Step) -> impl FnOnce(io::Error) -> (Step, io::Error) {
    move |e| (step, e)
}

impl Plan {
    /// Foreground mode: the same steps in this process; failures are returned.
    fn run_in_foreground(self, lock: Option<PidFileLock>) -> Result<DaemonGuard, DaemonError> {
        let in_daemon = |(step, source): (Step, io::Error)| DaemonError::Daemon { step, source };
        let (pidfile, ready_fd, notifier, manual, credentials) = self.setup(lock, None).map_err(in_daemon)?;
        let mut guard = DaemonGuard::new(pidfile, None, notifier, ready_fd, false, credentials);
        if !manual {
            guard.ready()?;
        }
        Ok(guard)
    }

    /// In the daemon after the double fork: failures are sent to the launcher, the PID file is
    /// removed and the process exits; only success returns.
    fn run_in_daemon(self, lock: Option<PidFileLock>, reporter: Reporter) -> DaemonGuard {
        match self.setup(lock, Some(&reporter)) {
            Ok((pidfile, ready_fd, notifier, manual, credentials)) => {
                let mut guard = DaemonGuard::new(pidfile, Some(reporter), notifier, ready_fd, true, credentials);
                if !manual && guard.ready().is_err() {
                    // `ready` has told the launcher which step failed.
                    drop(guard);
                    exit_now(1);
                }
                guard
            }
            Err((step, error)) => {
                // `setup` dropped the PID file: removed if the daemon had written it, else left
                // (empty) for the launcher to remove once it has read this report.
                reporter.error(&step, &error);
                exit_now(1)
            }
        }
    }

    /// The daemon's steps, in order. On failure every local drops before the error is returned,
    /// so a PID file the daemon already wrote is removed before the launcher hears of it.
    #[allow(clippy::type_complexity)]
    fn setup(
        self,
        lock: Option<PidFileLock>,
        reporter: Option<&Reporter>,
    ) -> StepResult<(Option<PidFile>, Option<OwnedFd>, Option<Notifier>, bool, Option<Credentials>)> {
        let Plan { mut daemon, credentials, stdio, notifier } = self;
        let mut lock = lock;
        if let Some(root) = &daemon.chroot {
            // No descriptor of a directory outside the jail may stay open in it (`fchdir` would
            // leave it): the PID file is then emptied, not unlinked, when the daemon stops.
            if let Some(lock) = &mut lock {
                lock.close_parent_dir();
            }
            rustix::process::chroot(root).map_err(|e| (Step::Chroot(root.clone()), e.into()))?;
            rustix::process::chdir("/").map_err(|e| (Step::Chroot(root.clone()), e.into()))?;
        }
        rustix::process::chdir(&daemon.working_dir).map_err(|e| (Step::Chdir(daemon.working_dir.clone()), e.into()))?;
        rustix::process::umask(Mode::from_bits_truncate(daemon.umask as _));
        signals::reset_signals().map_err(at(Step::ResetSignals))?;

        let [stdin, stdout, stderr] = stdio;
        if let Some(fd) = stdin {
            rustix::stdio::dup2_stdin(&fd).map_err(|e| (Step::RedirectStdio("stdin"), e.into()))?;
        }
        if let Some(fd) = stdout {
            rustix::stdio::dup2_stdout(&fd).map_err(|e| (Step::RedirectStdio("stdout"), e.into()))?;
        }
        if let Some(fd) = stderr {
            rustix::stdio::dup2_stderr(&fd).map_err(|e| (Step::RedirectStdio("stderr"), e.into()))?;
        }
        // The sources (all above 2) were dropped, and so closed, at the end of each `if let`.

        let ready_fd = daemon.ready_fd.map(|fd| {
            // SAFETY: the caller handed this descriptor to the daemon (`Daemon::ready_fd`); from
            // here on the guard owns it and closes it once readiness is written.
            unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) }
        });
        let mut keep = std::mem::take(&mut daemon.keep_fds);
        keep.extend(lock.as_ref().map(|p| p.as_fd().as_raw_fd()));
        // The PID file's directory too: the guard unlinks relative to it (closed behind its
        // back, its number could be reused by anything the daemon opens next).
        keep.extend(lock.as_ref().and_then(|p| p.parent_dir()).map(|dir| dir.as_fd().as_raw_fd()));
        keep.extend(reporter.map(|r| r.fd().as_raw_fd()));
        keep.extend(ready_fd.as_ref().map(|fd| fd.as_raw_fd()));
        fds::close_inherited_fds(&mut keep).map_err(at(Step::CloseFds))?;

        let pidfile = match lock {
            Some(lock) => Some(lock.write_pid(Pid::current()).map_err(|e| (Step::WritePidFile, os_error(e)))?),
            None => None,
        };
        if let Some(credentials) = credentials.as_ref().filter(|_| !daemon.keep_privileges) {
            privileges::drop_privileges(credentials)?;
        }
        Ok((pidfile, ready_fd, notifier, daemon.manual_readiness, credentials))
    }
}

/// The OS error inside a PID-file error, so that its errno reaches the launcher.
fn os_error(error: pidfile::PidFileError) -> io::Error {
    match error {
        pidfile::PidFileError::Io { source, .. } => source,
        other => io::Error::other(other.to_string()),
    }
}

/// Makes sure descriptors 0, 1 and 2 are open (on `/dev/null` if not), so that nothing opened
/// later (the PID file, the pipe) can land on them and be clobbered by the stdio redirection.
fn ensure_standard_fds_open() -> Result<(), DaemonError> {
    for fd in 0..3 {
        if !is_open(fd).unwrap_or(true) {
            let null = rustix::fs::openat(CWD, "/dev/null", OFlags::RDWR, Mode::empty())
                .map_err(|e| DaemonError::Launcher { step: Step::OpenDevNull, source: e.into() })?;
            // The lowest free descriptor is `fd`: it now belongs to the process's stdio.
            let _ = null.into_raw_fd();
        }
    }
    Ok(())
}

/// `fcntl(fd, F_GETFD)`: whether the descriptor number is open (`EBADF`: no); a negative
/// number is not.
fn is_open(fd: RawFd) -> io::Result<bool> {
    if fd < 0 {
        return Ok(false);
    }
    // SAFETY: only asks whether the descriptor number is open; nothing is done with it.
    let borrowed = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
    match rustix::io::fcntl_getfd(borrowed) {
        Ok(_) => Ok(true),
        Err(Errno::BADF) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// `fork(2)` through libc: rustix offers it only in its unstable runtime module. `None` in the
/// child.
fn fork() -> io::Result<Option<Pid>> {
    // SAFETY: `daemonize` verified (on Linux) that this process has one thread, so the child
    // gets a consistent copy of every lock and allocator state; the child continues with
    // ordinary code.
    match unsafe { libc::fork() } {
        -1 => Err(io::Error::last_os_error()),
        0 => Ok(None),
        pid => Ok(Pid::new(pid as u32)),
    }
}

/// `_exit`: leaves without running destructors or flushing buffers a parent also holds.
fn exit_now(status: i32) -> ! {
    // SAFETY: `_exit` is always safe to call; it never returns.
    unsafe { libc::_exit(status) }
}

/// In the first child: `setsid`, fork again, and let the intermediate process leave, so the
/// daemon is not a session leader. Returns in the daemon only.
fn become_grandchild(reporter: &Reporter) {
    if let Err(e) = rustix::process::setsid() {
        reporter.error(&Step::Setsid, &e.into());
        exit_now(1);
    }
    match fork() {
        Err(e) => {
            reporter.error(&Step::SecondFork, &e);
            exit_now(1);
        }
        Ok(Some(_daemon)) => exit_now(0),
        Ok(None) => {
            // The pid first: the launcher can then name the daemon in any later failure.
            let _ = reporter.pid(Pid::current());
        }
    }
}

/// The launcher: reaps the intermediate process, waits until the daemon reported and closed its
/// end of the pipe, and exits 0 on ready or returns the failure.
///
/// On ready the launcher's lock is detached *before* any user code runs (`on_launched`): the
/// file is the daemon's, and nothing in the launcher — a panic unwinding, a destructor — may
/// remove it. On failure the lock is dropped once the daemon is gone: it removes the file if it
/// is still empty (the daemon failed before writing it, or emptied it when it could not remove
/// it); a file the daemon wrote and then removed is not touched again.
fn launcher_wait(
    intermediate: Pid,
    read_end: OwnedFd,
    lock: Option<PidFileLock>,
    on_launched: Option<OnLaunched>,
    plan: Plan,
) -> Result<DaemonGuard, DaemonError> {
    let intermediate = rustix::process::Pid::from_raw(intermediate.get() as i32);
    loop {
        match rustix::process::waitpid(intermediate, rustix::process::WaitOptions::empty()) {
            Ok(_) => break,
            Err(Errno::INTR) => {}
            // The caller ignores SIGCHLD (the kernel reaped the intermediate process) or reaps
            // children in its own handler: the process is gone all the same, and the pipe tells
            // what happened.
            Err(Errno::CHILD) => break,
            Err(e) => return Err(DaemonError::Launcher { step: Step::WaitIntermediate, source: e.into() }),
        }
    }
    let report =
        readiness::await_report(&read_end).map_err(|source| DaemonError::Launcher { step: Step::ReadPipe, source })?;
    let error = match report {
        Report::Ready { pid } => {
            if let Some(lock) = lock {
                lock.detach();
            }
            if let (Some(OnLaunched(callback)), Some(pid)) = (on_launched, pid) {
                // The daemon runs: whatever the callback does (a panic included, which the panic
                // hook has reported), the launcher's answer is "started".
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| callback(pid)));
                let _ = io::stdout().flush();
                let _ = io::stderr().flush();
            }
            exit_now(0)
        }
        Report::Error { step, errno, .. } => DaemonError::Daemon { step, source: io::Error::from_raw_os_error(errno) },
        Report::Failed { pid, message } => DaemonError::Failed { pid, message },
        Report::Exited { pid } => DaemonError::ExitedBeforeReady { pid },
    };
    if let (Some(_), Some(pid)) = (&lock, error_pid(&error)) {
        // End of file comes when the daemon's descriptors are closed, a moment before it has
        // finished exiting; the lock's removal rule must see it gone (or a zombie), not alive.
        sys::await_exit(pid, std::time::Duration::from_secs(1));
    }
    drop(lock);
    drop(plan);
    Err(error)
}

fn error_pid(error: &DaemonError) -> Option<Pid> {
    match error {
        DaemonError::Failed { pid, .. } | DaemonError::ExitedBeforeReady { pid } => *pid,
        _ => None,
    }
}
