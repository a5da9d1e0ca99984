//! Output files: how [`Daemon::stdout_path`](crate::Daemon::stdout_path) opens a log, public so
//! that a daemon (or a supervisor) can reopen it the same way for log rotation.

use std::io;
use std::os::fd::OwnedFd;
use std::path::Path;

use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;

use crate::Credentials;

/// Opens an output file as [`Daemon::stdout_path`](crate::Daemon::stdout_path) does:
/// `O_WRONLY|O_APPEND|O_NOFOLLOW|O_NOCTTY|O_CLOEXEC`; a new file is created with mode 0644
/// whatever the umask (the umask is for the files the daemon creates; a log's mode is for its
/// readers); non-blocking while it is checked, so that a FIFO cannot hang the caller.
///
/// The directory is opened first with [`pidfile::ParentDir::open`], which follows no symbolic
/// link another user could have planted on the way (a directory of the service user's swapped
/// for a link to `/etc` cannot make root create or append to a file there), and the file is
/// opened relative to that descriptor.
///
/// Accepted: a regular file, or a character device (`/dev/null`, a terminal). Refused: a
/// symbolic link (never followed: a root process must not be steered into another file), a
/// FIFO, socket, block device or directory; and, when the caller is root and `service_user`
/// names another user, a regular file with more than one link or owned by anyone but root or
/// that user — files the service user could have prepared to make root write elsewhere.
///
/// Call it again on the same path to reopen a log after `logrotate` moved it.
///
/// # Examples
///
/// ```no_run
/// use std::os::fd::AsFd;
///
/// // On SIGHUP: reopen the log, then make it standard output again.
/// let log = daemonic::open_output("/var/log/myapp.log", None)?;
/// rustix::stdio::dup2_stdout(log.as_fd())?;
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// # Errors
///
/// The OS error of `open`/`fstat`/`fchmod`; [`io::ErrorKind::PermissionDenied`] with the reason
/// for a refused file.
pub fn open_output(path: impl AsRef<Path>, service_user: Option<&Credentials>) -> io::Result<OwnedFd> {
    let path = path.as_ref();
    let refuse = |why: String| io::Error::new(io::ErrorKind::PermissionDenied, why);
    let flags =
        OFlags::WRONLY | OFlags::APPEND | OFlags::CLOEXEC | OFlags::NOCTTY | OFlags::NOFOLLOW | OFlags::NONBLOCK;
    let explain = |e: Errno| match e {
        // Linux says ELOOP for a symlink under O_NOFOLLOW, FreeBSD EMLINK, NetBSD EFTYPE.
        Errno::LOOP | Errno::MLINK => refuse("it is a symbolic link, which is never followed".to_owned()),
        // O_NONBLOCK: a FIFO without a reader (or a socket) says so instead of hanging us.
        Errno::NXIO => refuse("it is not a regular file or a character device (a FIFO or a socket)".to_owned()),
        e => e.into(),
    };
    let dir = pidfile::ParentDir::open(path)?;
    // Created here (`O_EXCL`), or opened as it is; a file removed in between is created again.
    let mut attempts = 0;
    let (fd, created) = loop {
        attempts += 1;
        match rustix::fs::openat(&dir, dir.name(), flags | OFlags::CREATE | OFlags::EXCL, Mode::from_raw_mode(0o644)) {
            Ok(fd) => break (fd, true),
            Err(Errno::EXIST) => {}
            Err(e) => return Err(explain(e)),
        }
        match rustix::fs::openat(&dir, dir.name(), flags, Mode::empty()) {
            Ok(fd) => break (fd, false),
            Err(Errno::NOENT) if attempts < 3 => {}
            Err(e) => return Err(explain(e)),
        }
    };
    if created {
        rustix::fs::fchmod(&fd, Mode::from_raw_mode(0o644))?;
    }
    let stat = rustix::fs::fstat(&fd)?;
    #[allow(clippy::unnecessary_cast)] // `mode_t` is u16 on macOS and the BSDs.
    let file_type = rustix::fs::FileType::from_raw_mode(stat.st_mode as _);
    match file_type {
        rustix::fs::FileType::RegularFile => {
            let drop_to = service_user.and_then(|c| c.uid).filter(|&uid| uid != 0);
            if let (true, Some(uid)) = (rustix::process::geteuid().is_root(), drop_to) {
                #[allow(clippy::unnecessary_cast)]
                if stat.st_nlink as u64 > 1 {
                    return Err(refuse(format!("it has {} links (a hard link)", stat.st_nlink)));
                }
                if stat.st_uid != 0 && stat.st_uid != uid {
                    return Err(refuse(format!(
                        "it is owned by uid {}, neither root nor the service user",
                        stat.st_uid
                    )));
                }
            }
        }
        rustix::fs::FileType::CharacterDevice => {}
        other => return Err(refuse(format!("it is not a regular file or a character device ({other:?})"))),
    }
    let flags = rustix::fs::fcntl_getfl(&fd)?;
    rustix::fs::fcntl_setfl(&fd, flags - OFlags::NONBLOCK)?;
    Ok(fd)
}
