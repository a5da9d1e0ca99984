//! [`DaemonError`] and the [`Step`] it names.

use std::fmt;
use std::io;
use std::path::PathBuf;

use pidfile::{ErrorChain, Pid, PidFileError};

/// Why [`Daemon::daemonize`](crate::Daemon::daemonize) or a [`DaemonGuard`](crate::DaemonGuard)
/// operation failed: which step, where (launcher or daemon), and the OS error.
///
/// Errors from inside the daemon (after the fork, before it was ready) are sent to the launcher,
/// which returns them: the terminal that started the daemon sees
/// `chdir to /srv/app in the daemon: No such file or directory (os error 2)`.
///
/// A message never repeats its [`source()`](std::error::Error::source) (the Rust convention):
/// print the chain — `anyhow`'s `{:#}`, or a loop over `source()` — to see each cause once.
///
/// # Examples
///
/// ```
/// use daemonic::{Daemon, DaemonError};
///
/// // Refused before any fork: an unknown user is looked up in the launcher.
/// let err = Daemon::new().user("no-such-user-here").daemonize().unwrap_err();
/// assert!(matches!(err, DaemonError::UnknownUser { .. }));
/// assert_eq!(err.to_string(), "unknown user \"no-such-user-here\"");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DaemonError {
    /// The PID file could not be locked or written (e.g. `AlreadyRunning`, naming the holder's
    /// pid), or removed at [`stop`](crate::DaemonGuard::stop). Transparent: the message is the
    /// [`PidFileError`]'s (the path, and the holder's pid), and so is the `source()`.
    #[error(transparent)]
    PidFile {
        /// The PID-file error.
        source: PidFileError,
    },

    /// The calling process has more than one thread; `fork` would copy only the calling one and
    /// leave locks held by the others locked forever.
    #[error(
        "refusing to daemonize: the process has {threads} threads, and fork(2) keeps only the \
         calling one (daemonize before starting threads or an async runtime)"
    )]
    Threads {
        /// How many threads the process had.
        threads: usize,
    },

    /// A user given by name or id does not exist.
    #[error("unknown user {name:?}")]
    UnknownUser {
        /// The name or id as given.
        name: String,
    },

    /// A group given by name or id does not exist.
    #[error("unknown group {name:?}")]
    UnknownGroup {
        /// The name or id as given.
        name: String,
    },

    /// A step in the launching process, before the fork, failed.
    #[error("{step}")]
    Launcher {
        /// What was being done.
        step: Step,
        /// The operating-system error.
        #[source]
        source: io::Error,
    },

    /// A step in the daemon failed before it was ready; the daemon removed its PID file and
    /// exited.
    #[error("{step} in the daemon")]
    Daemon {
        /// What was being done.
        step: Step,
        /// The operating-system error.
        #[source]
        source: io::Error,
    },

    /// The daemon's own code reported a failure with
    /// [`DaemonGuard::fail`](crate::DaemonGuard::fail) before it was ready.
    #[error("the daemon{} failed before it was ready: {message}", DaemonPid(*pid))]
    Failed {
        /// The daemon's pid, if it had reported it.
        pid: Option<Pid>,
        /// The daemon's message.
        message: String,
    },

    /// The daemon exited (or closed its end of the readiness pipe) before it was ready.
    #[error("the daemon{} exited before it was ready", DaemonPid(*pid))]
    ExitedBeforeReady {
        /// The daemon's pid, if it had reported it.
        pid: Option<Pid>,
    },
}

impl DaemonError {
    /// The error and each of its causes once, joined by `": "`, for a one-line message:
    /// `cannot lock PID file /run/x.pid: No locks available (os error 37)`
    /// ([`ErrorChain`], from the `pidfile` crate).
    ///
    /// # Examples
    ///
    /// ```
    /// use daemonic::{DaemonError, Step};
    ///
    /// let err = DaemonError::Daemon {
    ///     step: Step::Chdir("/srv/app".into()),
    ///     source: std::io::Error::from(std::io::ErrorKind::NotFound),
    /// };
    /// assert_eq!(err.to_string(), "chdir to /srv/app in the daemon");
    /// assert_eq!(err.chain().to_string(), "chdir to /srv/app in the daemon: entity not found");
    /// ```
    pub fn chain(&self) -> ErrorChain<'_> {
        ErrorChain::new(self)
    }
}

struct DaemonPid(Option<Pid>);

impl fmt::Display for DaemonPid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(pid) => write!(f, " (pid {pid})"),
            None => Ok(()),
        }
    }
}

impl From<PidFileError> for DaemonError {
    fn from(source: PidFileError) -> DaemonError {
        DaemonError::PidFile { source }
    }
}

impl From<DaemonError> for io::Error {
    /// Keeps the OS error's kind where there is one.
    fn from(err: DaemonError) -> io::Error {
        let kind = match &err {
            DaemonError::PidFile { source } => source.kind(),
            DaemonError::Launcher { source, .. } | DaemonError::Daemon { source, .. } => source.kind(),
            DaemonError::UnknownUser { .. } | DaemonError::UnknownGroup { .. } => io::ErrorKind::NotFound,
            DaemonError::Threads { .. } => io::ErrorKind::Unsupported,
            DaemonError::Failed { .. } | DaemonError::ExitedBeforeReady { .. } => io::ErrorKind::Other,
        };
        io::Error::new(kind, err)
    }
}

/// A step of daemonization, as named in [`DaemonError`].
///
/// # Examples
///
/// ```
/// use daemonic::Step;
///
/// assert_eq!(Step::Chdir("/srv/app".into()).to_string(), "chdir to /srv/app");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Step {
    /// Counting the launcher's threads (`/proc/self/task`).
    CountThreads,
    /// Checking a descriptor the caller named ([`keep_fd`](crate::Daemon::keep_fd),
    /// [`ready_fd`](crate::Daemon::ready_fd)) before anything else is opened.
    CheckDescriptor(std::os::fd::RawFd),
    /// Looking up a user or group (`getpwnam_r`, `getgrnam_r`, `getgrouplist`).
    LookUpAccount,
    /// Opening `/dev/null` for the standard streams.
    OpenDevNull,
    /// Opening a file for a standard stream (`"stdout"` or `"stderr"`).
    OpenStdio(&'static str, PathBuf),
    /// Creating or adopting the runtime directory
    /// ([`Daemon::runtime_directory`](crate::Daemon::runtime_directory)).
    RuntimeDirectory(PathBuf),
    /// Creating the readiness pipe.
    CreatePipe,
    /// The first `fork`.
    Fork,
    /// Waiting for the intermediate process.
    WaitIntermediate,
    /// Reading the readiness pipe.
    ReadPipe,
    /// `setsid` in the intermediate process.
    Setsid,
    /// The second `fork`, in the intermediate process.
    SecondFork,
    /// `chroot` to this directory.
    Chroot(PathBuf),
    /// `chdir` to this directory.
    Chdir(PathBuf),
    /// Resetting signal dispositions to default and unblocking all signals.
    ResetSignals,
    /// `dup2` of a standard stream (`"stdin"`, `"stdout"` or `"stderr"`).
    RedirectStdio(&'static str),
    /// Closing inherited file descriptors.
    CloseFds,
    /// Writing the daemon's pid into the PID file.
    WritePidFile,
    /// Setting the supplementary groups (`setgroups`).
    SetGroups,
    /// `setgid` to this group id.
    SetGid(u32),
    /// `setuid` to this user id.
    SetUid(u32),
    /// Checking that root privileges cannot be regained (`setuid(0)` must fail).
    VerifyPrivilegeDrop,
    /// Sending a systemd notification (`sd_notify`) to this `NOTIFY_SOCKET` address.
    Notify(String),
    /// Writing to the readiness file descriptor.
    ReadyFd,
    /// Telling the launcher that the daemon is ready.
    SignalReady,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::CountThreads => f.write_str("count the process's threads"),
            Step::CheckDescriptor(fd) => write!(f, "check descriptor {fd}"),
            Step::LookUpAccount => f.write_str("look up the user and groups"),
            Step::OpenDevNull => f.write_str("open /dev/null"),
            Step::OpenStdio(stream, path) => write!(f, "open {} for {stream}", path.display()),
            Step::RuntimeDirectory(path) => write!(f, "prepare the runtime directory {}", path.display()),
            Step::CreatePipe => f.write_str("create the readiness pipe"),
            Step::Fork => f.write_str("fork"),
            Step::WaitIntermediate => f.write_str("wait for the intermediate process"),
            Step::ReadPipe => f.write_str("read the readiness pipe"),
            Step::Setsid => f.write_str("setsid"),
            Step::SecondFork => f.write_str("second fork"),
            Step::Chroot(path) => write!(f, "chroot to {}", path.display()),
            Step::Chdir(path) => write!(f, "chdir to {}", path.display()),
            Step::ResetSignals => f.write_str("reset signal dispositions and mask"),
            Step::RedirectStdio(stream) => write!(f, "redirect {stream}"),
            Step::CloseFds => f.write_str("close inherited file descriptors"),
            Step::WritePidFile => f.write_str("write the PID file"),
            Step::SetGroups => f.write_str("setgroups"),
            Step::SetGid(gid) => write!(f, "setgid to {gid}"),
            Step::SetUid(uid) => write!(f, "setuid to {uid}"),
            Step::VerifyPrivilegeDrop => f.write_str("verify that root privileges cannot be regained"),
            Step::Notify(address) => write!(f, "sd_notify to {address}"),
            Step::ReadyFd => f.write_str("write to the readiness file descriptor"),
            Step::SignalReady => f.write_str("tell the launcher the daemon is ready"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn daemon_step_message_matches_the_design() {
        let err = DaemonError::Daemon {
            step: Step::Chdir("/srv/app".into()),
            source: io::Error::from_raw_os_error(libc::ENOENT),
        };
        assert_eq!(err.to_string(), "chdir to /srv/app in the daemon");
        assert!(err.source().unwrap().to_string().starts_with("No such file or directory"));
        assert_eq!(io::Error::from(err).kind(), io::ErrorKind::NotFound);
    }

    #[test]
    fn pidfile_error_is_the_source() {
        let inner = PidFileError::AlreadyRunning { path: "/run/x.pid".into(), pid: Pid::new(7) };
        let err = DaemonError::from(inner);
        // Transparent: the message names the path and the holder, and the chain says it once.
        assert_eq!(err.to_string(), "/run/x.pid: already running (pid 7)");
        assert!(err.source().is_none());
        assert_eq!(err.chain().to_string(), "/run/x.pid: already running (pid 7)");
        assert_eq!(io::Error::from(err).kind(), io::ErrorKind::AlreadyExists);
    }
}
