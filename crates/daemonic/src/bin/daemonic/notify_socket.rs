//! `--notify-await`: the supervisor's own `NOTIFY_SOCKET`, on which the program reports
//! `READY=1` (and `STATUS=…`), as under systemd's `Type=notify`.

use std::hash::{BuildHasher, Hasher};
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, Mode, OFlags};

use pidfile::ParentDir;
use rustix::io::Errno;
use rustix::net::{AddressFamily, RecvFlags, SocketAddrUnix, SocketFlags, SocketType};

/// A datagram socket in a fresh private directory: `TMPDIR/daemonic-notify-RANDOM/notify`.
///
/// The directory is created by the supervisor with a random name (`mkdir` fails rather than
/// reuse anything that exists) and stays root's: mode 0710 with the service user's group, so
/// that the service user can reach the socket and change nothing in the directory, and in a
/// sticky `TMPDIR` nobody else can rename it. The socket is bound in it, made 0600 and given to
/// the service user, so that only that user (and root) can send to it — not every local user,
/// as an abstract socket would allow. Everything after the `mkdir` goes through descriptors:
/// the directory's (`chmod`, `chown`, `unlink` of the socket) and `TMPDIR`'s (the directory's
/// removal, only while the name still names it), so a name swapped later redirects nothing.
pub(crate) struct NotifySocket {
    socket: OwnedFd,
    /// `TMPDIR`, opened once (`ParentDir` of the directory), and the directory itself.
    parent: ParentDir,
    dir: OwnedFd,
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
        // The socket first: a failure after the `mkdir` must leave no directory behind (from
        // the moment the directory is open, dropping the half-made `NotifySocket` removes it).
        let socket = datagram_socket()?;
        let base = std::env::temp_dir();
        let (parent, dir) = (0..16)
            .find_map(|_| {
                let name = format!("daemonic-notify-{}-{:016x}", std::process::id(), random());
                let parent = match ParentDir::open(base.join(name)) {
                    Ok(parent) => parent,
                    Err(e) => return Some(Err(e)),
                };
                match rustix::fs::mkdirat(&parent, parent.name(), Mode::RWXU) {
                    Ok(()) => Some(
                        match rustix::fs::openat(
                            &parent,
                            parent.name(),
                            OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::RDONLY,
                            Mode::empty(),
                        ) {
                            Ok(dir) => Ok((parent, dir)),
                            Err(e) => {
                                // Ours, just made, still empty: nobody else can have used it.
                                let _ = rustix::fs::unlinkat(&parent, parent.name(), AtFlags::REMOVEDIR);
                                Err(io::Error::from(e))
                            }
                        },
                    ),
                    Err(Errno::EXIST) => None,
                    Err(e) => Some(Err(e.into())),
                }
            })
            .unwrap_or_else(|| Err(io::Error::new(io::ErrorKind::AlreadyExists, "no unused directory name")))?;
        let path = parent.path().join("notify");
        let created = NotifySocket { socket, parent, dir, path };
        // Bound by path (`bind` takes no directory descriptor): the directory is root's and
        // 0700 until after this, so nobody else can have changed what the path names.
        let address = SocketAddrUnix::new(created.path.as_path())?;
        rustix::net::bind(&created.socket, &address)?;
        rustix::fs::chmodat(&created.dir, "notify", Mode::RUSR | Mode::WUSR, AtFlags::empty())?;
        if let Some((uid, gid)) = owner {
            let (uid, gid) = (rustix::fs::Uid::from_raw(uid), rustix::fs::Gid::from_raw(gid));
            rustix::fs::chownat(&created.dir, "notify", Some(uid), Some(gid), AtFlags::SYMLINK_NOFOLLOW)?;
            rustix::fs::fchown(&created.dir, None, Some(gid))?;
            rustix::fs::fchmod(&created.dir, Mode::RWXU | Mode::XGRP)?;
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
    /// Removes the socket and the directory through their descriptors: the directory only if
    /// its name in `TMPDIR` still names it.
    fn drop(&mut self) {
        let _ = rustix::fs::unlinkat(&self.dir, "notify", AtFlags::empty());
        let ours = rustix::fs::fstat(&self.dir)
            .ok()
            .zip(rustix::fs::statat(&self.parent, self.parent.name(), AtFlags::SYMLINK_NOFOLLOW).ok());
        if ours.is_some_and(|(dir, named)| (dir.st_dev, dir.st_ino) == (named.st_dev, named.st_ino)) {
            let _ = rustix::fs::unlinkat(&self.parent, self.parent.name(), AtFlags::REMOVEDIR);
        }
    }
}

/// `sd_notify` assignments, one per line; unknown ones are only passed on.
pub(crate) fn parse(text: &str) -> Message {
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
