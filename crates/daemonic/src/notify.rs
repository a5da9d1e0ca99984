//! `sd_notify(3)`, implemented directly: one datagram to the Unix socket named by
//! `NOTIFY_SOCKET` (a path, or an abstract name written with a leading `@`).

use std::ffi::OsString;
use std::io;
use std::os::unix::ffi::OsStrExt;

use rustix::net::{SendFlags, SocketAddrUnix};

use crate::{DaemonError, Step};

/// Where notifications go.
#[derive(Debug, Clone)]
pub(crate) struct Notifier {
    address: SocketAddrUnix,
    /// `NOTIFY_SOCKET` as given, for messages.
    name: String,
}

impl Notifier {
    /// Reads `NOTIFY_SOCKET` and removes it from the environment, so that programs the daemon
    /// starts do not notify on its behalf. Must run while the process is single-threaded
    /// (environment changes are not thread-safe); `daemonize` has checked that.
    pub(crate) fn take_from_env() -> Result<Option<Notifier>, DaemonError> {
        let Some(value) = std::env::var_os("NOTIFY_SOCKET") else {
            return Ok(None);
        };
        std::env::remove_var("NOTIFY_SOCKET");
        Notifier::parse(value).map(Some)
    }

    pub(crate) fn parse(value: OsString) -> Result<Notifier, DaemonError> {
        let name = value.to_string_lossy().into_owned();
        let invalid = |why: &str| DaemonError::Launcher {
            step: Step::Notify(name.clone()),
            source: io::Error::new(io::ErrorKind::InvalidInput, format!("NOTIFY_SOCKET {why}")),
        };
        let bytes = value.as_bytes();
        let address = match bytes.first() {
            Some(b'/') => SocketAddrUnix::new(value.as_os_str()).map_err(|_| invalid("is too long"))?,
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Some(b'@') => SocketAddrUnix::new_abstract_name(&bytes[1..]).map_err(|_| invalid("is too long"))?,
            _ => return Err(invalid("must be an absolute path or an @abstract name")),
        };
        Ok(Notifier { address, name })
    }

    /// Sends `state` (e.g. `"READY=1\nMAINPID=42"`) in one datagram from a fresh socket (as
    /// libsystemd does: no descriptor stays open in the daemon between notifications). Never
    /// blocks (`MSG_DONTWAIT`): a service manager that does not read its socket gets `EAGAIN`
    /// reported instead of stalling the daemon.
    pub(crate) fn send(&self, state: &str) -> Result<(), (Step, io::Error)> {
        let step = || Step::Notify(self.name.clone());
        let socket = crate::sys::cloexec_datagram_socket().map_err(|e| (step(), e))?;
        let sent = rustix::net::sendto(&socket, state.as_bytes(), SendFlags::DONTWAIT, &self.address)
            .map_err(|e| (step(), e.into()))?;
        if sent != state.len() {
            return Err((step(), io::Error::new(io::ErrorKind::WriteZero, "short datagram")));
        }
        Ok(())
    }
}
