//! [`DaemonGuard`], held by the daemon.

use std::fmt::Display;
use std::io;
use std::os::fd::OwnedFd;

use pidfile::{Pid, PidFile};

use crate::notify::Notifier;
use crate::privileges::Credentials;
use crate::readiness::{write_all, Reporter};
use crate::{DaemonError, Step};

/// Held by the daemon: its PID file, and the ways to report readiness and status.
///
/// Returned by [`Daemon::daemonize`](crate::Daemon::daemonize) in the daemon only.
/// [`stop`](DaemonGuard::stop) removes the PID file (the Python original's `stop()`); dropping
/// the guard does the same, best effort. Neither ever sends a signal to any process.
///
/// # Examples
///
/// ```no_run
/// use daemonic::Daemon;
///
/// let mut guard = Daemon::new().pidfile("/run/myapp.pid").manual_readiness().daemonize()?;
/// match std::net::TcpListener::bind("0.0.0.0:8080") {
///     Ok(listener) => {
///         guard.ready()?; // now the launcher exits 0
///         // ... serve on `listener` ...
///         guard.stop()?;
///     }
///     // The launcher prints this and exits non-zero; the PID file is removed.
///     Err(e) => guard.fail(format_args!("cannot bind 0.0.0.0:8080: {e}"))?,
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
#[must_use = "dropping the guard removes the PID file"]
pub struct DaemonGuard {
    pidfile: Option<PidFile>,
    reporter: Option<Reporter>,
    notifier: Option<Notifier>,
    ready_fd: Option<OwnedFd>,
    forked: bool,
    ready: bool,
    credentials: Option<Credentials>,
}

impl DaemonGuard {
    pub(crate) fn new(
        pidfile: Option<PidFile>,
        reporter: Option<Reporter>,
        notifier: Option<Notifier>,
        ready_fd: Option<OwnedFd>,
        forked: bool,
        credentials: Option<Credentials>,
    ) -> DaemonGuard {
        DaemonGuard { pidfile, reporter, notifier, ready_fd, forked, ready: false, credentials }
    }

    /// The user and groups resolved from [`Daemon::user`](crate::Daemon::user) and
    /// [`Daemon::group`](crate::Daemon::group), `None` when neither was set. Already applied to
    /// this process unless [`Daemon::keep_privileges`](crate::Daemon::keep_privileges) was set,
    /// in which case the daemon applies them to the programs it starts.
    ///
    /// # Examples
    ///
    /// See [`Credentials`].
    pub fn credentials(&self) -> Option<&Credentials> {
        self.credentials.as_ref()
    }

    /// The daemon's locked PID file, if one was configured.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// let guard = daemonic::Daemon::new().pidfile("/run/myapp.pid").daemonize()?;
    /// assert_eq!(guard.pidfile().map(|p| p.pid()), Some(pidfile::Pid::current()));
    /// # Ok::<(), daemonic::DaemonError>(())
    /// ```
    pub fn pidfile(&self) -> Option<&PidFile> {
        self.pidfile.as_ref()
    }

    /// The daemon's pid.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// let guard = daemonic::Daemon::new().daemonize()?;
    /// assert_eq!(guard.pid().get(), std::process::id());
    /// # Ok::<(), daemonic::DaemonError>(())
    /// ```
    pub fn pid(&self) -> Pid {
        Pid::current()
    }

    /// Whether readiness has been reported.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// let guard = daemonic::Daemon::new().daemonize()?;
    /// assert!(guard.is_ready()); // automatic readiness
    /// # Ok::<(), daemonic::DaemonError>(())
    /// ```
    pub fn is_ready(&self) -> bool {
        self.ready
    }

    /// Reports that the daemon is ready: sends `READY=1` (with `MAINPID=` when it forked) to
    /// `NOTIFY_SOCKET` if set, writes `"\n"` to the [ready fd](crate::Daemon::ready_fd) and
    /// closes it, and lets the launcher exit 0. Does nothing when already ready.
    ///
    /// Needed only with [`manual_readiness`](crate::Daemon::manual_readiness).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// let mut guard = daemonic::Daemon::new().manual_readiness().daemonize()?;
    /// // ... bind sockets, load configuration ...
    /// guard.ready()?;
    /// # Ok::<(), daemonic::DaemonError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`DaemonError::Daemon`] with [`Step::Notify`], [`Step::ReadyFd`] or
    /// [`Step::SignalReady`]; the launcher is told the same and exits non-zero.
    pub fn ready(&mut self) -> Result<(), DaemonError> {
        if self.ready {
            return Ok(());
        }
        self.announce_ready(false)?;
        self.ready = true;
        // Closing the pipe: the launcher already has its answer.
        self.reporter = None;
        Ok(())
    }

    /// For a daemon about to `exec` another program: reports readiness to `NOTIFY_SOCKET` and
    /// the ready fd now, and tells the launcher to exit 0 as soon as the `exec` succeeds (the
    /// close-on-exec pipe then closes). If the `exec` fails, call [`fail`](DaemonGuard::fail)
    /// and the launcher reports that instead.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use std::os::unix::process::CommandExt;
    ///
    /// let mut guard = daemonic::Daemon::new().manual_readiness().daemonize()?;
    /// guard.ready_on_exec()?;
    /// let error = std::process::Command::new("my-server").exec();
    /// guard.fail(format_args!("cannot execute my-server: {error}"))?;
    /// # Ok::<(), daemonic::DaemonError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As for [`ready`](DaemonGuard::ready).
    pub fn ready_on_exec(&mut self) -> Result<(), DaemonError> {
        if self.ready {
            return Ok(());
        }
        self.announce_ready(true)?;
        self.ready = true;
        Ok(())
    }

    fn announce_ready(&mut self, on_exec: bool) -> Result<(), DaemonError> {
        let result = (|| {
            if let Some(notifier) = &self.notifier {
                let state =
                    if self.forked { format!("READY=1\nMAINPID={}", Pid::current()) } else { "READY=1".to_owned() };
                notifier.send(&state)?;
            }
            if let Some(fd) = self.ready_fd.take() {
                write_all(&fd, b"\n").map_err(|e| (Step::ReadyFd, e))?;
            }
            if let Some(reporter) = &self.reporter {
                let sent = if on_exec { reporter.ready_on_exec() } else { reporter.ready() };
                sent.map_err(|e| (Step::SignalReady, e))?;
            }
            Ok(())
        })();
        result.map_err(|(step, source): (Step, io::Error)| {
            if let Some(reporter) = self.reporter.take() {
                reporter.error(&step, &source);
            }
            DaemonError::Daemon { step, source }
        })
    }

    /// Reports a failure before readiness: the launcher returns
    /// [`DaemonError::Failed`] with `message` (and its caller typically exits non-zero). The
    /// PID file is removed. After readiness there is no launcher to tell; only the PID file is
    /// removed.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// let guard = daemonic::Daemon::new().manual_readiness().daemonize()?;
    /// guard.fail("configuration file /etc/myapp.toml: missing key `listen`")?;
    /// std::process::exit(1);
    /// # Ok::<(), daemonic::DaemonError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`DaemonError::PidFile`] when the PID file could not be removed.
    pub fn fail(mut self, message: impl Display) -> Result<(), DaemonError> {
        let removed = self.remove_pidfile();
        if let Some(reporter) = self.reporter.take() {
            reporter.failed(&message.to_string());
        }
        removed
    }

    /// Sends a free-form status line to the service manager (`STATUS=...`), if `NOTIFY_SOCKET`
    /// was set; returns whether it was sent.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// let guard = daemonic::Daemon::new().daemonize()?;
    /// guard.status("serving 12 clients")?;
    /// # Ok::<(), daemonic::DaemonError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`DaemonError::Daemon`] with [`Step::Notify`] when the datagram could not be sent.
    pub fn status(&self, status: &str) -> Result<bool, DaemonError> {
        self.notify(&format!("STATUS={status}"))
    }

    /// Sends any `sd_notify` state (e.g. `"WATCHDOG=1"`, `"RELOADING=1"`), if `NOTIFY_SOCKET`
    /// was set; returns whether it was sent.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// let guard = daemonic::Daemon::new().daemonize()?;
    /// guard.notify("WATCHDOG=1")?;
    /// # Ok::<(), daemonic::DaemonError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`DaemonError::Daemon`] with [`Step::Notify`] when the datagram could not be sent.
    pub fn notify(&self, state: &str) -> Result<bool, DaemonError> {
        match &self.notifier {
            None => Ok(false),
            Some(notifier) => {
                notifier.send(state).map_err(|(step, source)| DaemonError::Daemon { step, source })?;
                Ok(true)
            }
        }
    }

    /// Stops cleanly: the Python original's `stop()`. Sends `STOPPING=1` to `NOTIFY_SOCKET` if
    /// set, then removes the PID file if it is still this daemon's (see
    /// [`PidFile::remove`]). Never signals any process.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// let guard = daemonic::Daemon::new().pidfile("/run/myapp.pid").daemonize()?;
    /// // ... until SIGTERM ...
    /// guard.stop()?;
    /// # Ok::<(), daemonic::DaemonError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`DaemonError::PidFile`] when the file could not be removed (after a privilege drop it
    /// is emptied instead: [`pidfile::PidFileError::RemoveDenied`]); [`DaemonError::Daemon`]
    /// with [`Step::Notify`] when `STOPPING=1` could not be sent (the file is removed anyway).
    pub fn stop(mut self) -> Result<(), DaemonError> {
        let notified = self.notify("STOPPING=1");
        let removed = self.remove_pidfile();
        removed.and(notified.map(drop))
    }

    /// Gives up the guard, handing over its [`PidFile`] (if any) instead of removing it: for a
    /// daemon that ends but leaves its file behind on purpose — a supervisor that gave up
    /// restarting its program, whose stale file (with [`PidFile::detach`]) tells `status`
    /// "dead, PID file exists", LSB status 1.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// let guard = daemonic::Daemon::new().pidfile("/run/myapp.pid").daemonize()?;
    /// // ... the service failed for good ...
    /// if let Some(pidfile) = guard.into_pidfile() {
    ///     pidfile.detach(); // left in place, unlocked once this process exits
    /// }
    /// # Ok::<(), daemonic::DaemonError>(())
    /// ```
    pub fn into_pidfile(mut self) -> Option<PidFile> {
        self.pidfile.take()
    }

    fn remove_pidfile(&mut self) -> Result<(), DaemonError> {
        match self.pidfile.take() {
            Some(pidfile) => pidfile.remove().map_err(DaemonError::from),
            None => Ok(()),
        }
    }
}
