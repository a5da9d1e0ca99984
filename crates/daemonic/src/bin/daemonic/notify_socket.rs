//! `--notify-await`: the supervisor's own `NOTIFY_SOCKET`, on which the program reports
//! `READY=1` (and `STATUS=…`), as under systemd's `Type=notify`.

use std::hash::{BuildHasher, Hasher};
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;
use rustix::net::{AddressFamily, RecvFlags, SocketAddrUnix, SocketFlags, SocketType};

/// A datagram socket in a fresh private directory: `TMPDIR/daemonic-notify-RANDOM/notify`.
///
/// The directory is created 0700 by the supervisor (a random name, `mkdir` fails rather than
/// reuse anything that exists), the socket bound in it and made 0600; both are then given to
/// the service user, so that only that user (and root) can send to it — not every local user,
/// as an abstract socket would allow.
pub(crate) struct NotifySocket {
    socket: OwnedFd,
    dir: PathBuf,
    path: PathBuf,
}

/// What one datagram said.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Message {
    pub(crate) ready: bool,
    pub(crate) status: Option<String>,
    /// What an outer service manager may hear of it, [`PASSED_ON`] lines only.
    pub(crate) passed_on: String,
}

/// The `sd_notify` assignments passed on to an outer service manager. Never `MAINPID=`
/// (PROGRAM could name any process as the service's main one), `READY=1` (the supervisor says
/// it itself), `FDSTORE` or anything else that would act for the supervisor.
const PASSED_ON: [&str; 7] =
    ["STATUS=", "RELOADING=", "STOPPING=", "WATCHDOG=", "ERRNO=", "EXTEND_TIMEOUT_USEC=", "MONOTONIC_USEC="];

impl NotifySocket {
    /// Creates the directory and the socket; `owner` is the service user and group.
    pub(crate) fn create(owner: Option<(u32, u32)>) -> io::Result<NotifySocket> {
        let base = std::env::temp_dir();
        let (dir, dir_fd) = (0..16)
            .find_map(|_| {
                let name = format!("daemonic-notify-{}-{:016x}", std::process::id(), random());
                let dir = base.join(name);
                match rustix::fs::mkdir(&dir, Mode::RWXU) {
                    Ok(()) => Some(
                        rustix::fs::open(&dir, OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC, Mode::empty())
                            .map(|fd| (dir, fd))
                            .map_err(io::Error::from),
                    ),
                    Err(Errno::EXIST) => None,
                    Err(e) => Some(Err(e.into())),
                }
            })
            .unwrap_or_else(|| Err(io::Error::new(io::ErrorKind::AlreadyExists, "no unused directory name")))?;
        let path = dir.join("notify");
        let created = NotifySocket { socket: datagram_socket()?, dir, path };
        let address = SocketAddrUnix::new(created.path.as_path())?;
        rustix::net::bind(&created.socket, &address)?;
        rustix::fs::chmodat(&dir_fd, "notify", Mode::RUSR | Mode::WUSR, rustix::fs::AtFlags::empty())?;
        if let Some((uid, gid)) = owner {
            let (uid, gid) = (rustix::fs::Uid::from_raw(uid), rustix::fs::Gid::from_raw(gid));
            rustix::fs::chownat(&dir_fd, "notify", Some(uid), Some(gid), rustix::fs::AtFlags::SYMLINK_NOFOLLOW)?;
            rustix::fs::fchown(&dir_fd, Some(uid), Some(gid))?;
        }
        Ok(created)
    }

    /// The socket's path, for the program's `NOTIFY_SOCKET`.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The datagrams waiting, parsed, at most 64 at a time (a program that floods the socket
    /// must not keep the supervisor from its signals); never blocks.
    pub(crate) fn receive(&self) -> Vec<Message> {
        let mut messages = Vec::new();
        let mut buffer = vec![0u8; 4096];
        while messages.len() < 64 {
            match rustix::net::recv(&self.socket, &mut buffer[..], RecvFlags::DONTWAIT) {
                Ok((n, _)) => messages.push(parse(&String::from_utf8_lossy(&buffer[..n.min(buffer.len())]))),
                Err(Errno::INTR) => {}
                Err(_) => break,
            }
        }
        messages
    }
}

impl AsFd for NotifySocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.socket.as_fd()
    }
}

impl Drop for NotifySocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
        let _ = std::fs::remove_dir(&self.dir);
    }
}

/// `sd_notify` assignments, one per line; unknown ones are only passed on.
fn parse(text: &str) -> Message {
    let mut message = Message::default();
    let mut passed_on = Vec::new();
    for line in text.lines() {
        if line == "READY=1" {
            message.ready = true;
        } else if let Some(status) = line.strip_prefix("STATUS=") {
            message.status = Some(status.to_owned());
        }
        if PASSED_ON.iter().any(|prefix| line.starts_with(prefix)) {
            passed_on.push(line);
        }
    }
    message.passed_on = passed_on.join("\n");
    message
}

/// An unbound Unix datagram socket, close-on-exec and blocking (for sending to syslog).
pub(crate) fn datagram_socket_blocking() -> io::Result<OwnedFd> {
    let socket = datagram_socket()?;
    rustix::fs::fcntl_setfl(&socket, OFlags::empty())?;
    Ok(socket)
}

/// An unbound Unix datagram socket, close-on-exec and non-blocking.
pub(crate) fn datagram_socket() -> io::Result<OwnedFd> {
    #[cfg(not(target_vendor = "apple"))]
    let socket = rustix::net::socket_with(
        AddressFamily::UNIX,
        SocketType::DGRAM,
        SocketFlags::CLOEXEC | SocketFlags::NONBLOCK,
        None,
    )?;
    #[cfg(target_vendor = "apple")]
    let socket = {
        let socket = rustix::net::socket_with(AddressFamily::UNIX, SocketType::DGRAM, SocketFlags::empty(), None)?;
        rustix::io::fcntl_setfd(&socket, rustix::io::FdFlags::CLOEXEC)?;
        rustix::fs::fcntl_setfl(&socket, OFlags::NONBLOCK)?;
        socket
    };
    Ok(socket)
}

/// 64 random bits from the standard library's randomly seeded hasher (no extra dependency).
fn random() -> u64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos()));
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ready_and_status() {
        let message = parse("STATUS=loading\nREADY=1\nMAINPID=1\nWATCHDOG=1\n");
        assert!(message.ready);
        assert_eq!(message.status.as_deref(), Some("loading"));
        assert_eq!(message.passed_on, "STATUS=loading\nWATCHDOG=1", "never MAINPID or READY");
        assert!(!parse("READY=0").ready);
    }
}
