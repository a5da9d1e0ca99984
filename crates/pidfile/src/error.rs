//! [`PidFileError`]: every failure names the path, and I/O failures the operation and OS error.

use std::fmt;
use std::io;
use std::path::PathBuf;

use crate::{ParsePidError, Pid};

/// An error from a PID-file operation.
///
/// Every variant names the path; I/O failures keep the [`io::Error`] as
/// [`source()`](std::error::Error::source) and say which [`Operation`] failed. Converts into an
/// [`io::Error`] with a fitting [`io::ErrorKind`].
///
/// As the Rust convention asks, a message never repeats its [`source()`](std::error::Error::source):
/// print the chain (as `anyhow`'s `{:#}` does) to see each cause once, e.g.
/// `cannot lock PID file /run/x.pid: No locks available (os error 37)`.
///
/// # Examples
///
/// ```
/// use pidfile::{PidFile, PidFileError};
///
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("app.pid");
/// std::fs::write(&path, "not a pid")?;
/// match pidfile::read_pid(&path) {
///     Err(PidFileError::Malformed { path: p, content, .. }) => {
///         assert_eq!(p, path);
///         assert_eq!(content, "not a pid");
///     }
///     other => panic!("unexpected: {other:?}"),
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PidFileError {
    /// Another process holds the PID file: it is locked, or it names a live process that wrote it
    /// without locking. `pid` is the holder's pid when the file names one.
    #[error("{}: already running ({})", path.display(), HolderPid(*pid))]
    AlreadyRunning {
        /// The PID file.
        path: PathBuf,
        /// The holder's pid, if the file named one in time.
        pid: Option<Pid>,
    },

    /// The file does not contain exactly one valid process id.
    #[error("malformed PID file {} (\"{content}\")", path.display())]
    Malformed {
        /// The PID file.
        path: PathBuf,
        /// The start of the offending content, escaped (at most 32 bytes shown).
        content: String,
        /// What is wrong with it.
        source: ParsePidError,
    },

    /// Something other than a regular file is at the path; it was left untouched.
    #[error("{} is {kind}, not a regular file; refusing to use it as a PID file", path.display())]
    NotRegularFile {
        /// The path.
        path: PathBuf,
        /// What is there instead.
        kind: FileKind,
    },

    /// The file is locked, but by a process that cannot be identified: the file names no
    /// credible holder (empty, garbage, a dead pid, or — on Linux — a process that does not
    /// have the file open, such as a child that inherited someone's lock or a reader holding
    /// `flock -s`). No pid is reported, so none can be signalled by mistake.
    #[error("{}: locked by a process that cannot be identified (the file names no process holding it)", path.display())]
    UnknownHolder {
        /// The PID file.
        path: PathBuf,
    },

    /// The file cannot be trusted to name the service: another name shares it (a hard link), or,
    /// when running as root, another user owns it or can write it. It was left untouched.
    #[error("refusing PID file {}: {reason}", path.display())]
    Refused {
        /// The PID file.
        path: PathBuf,
        /// Why.
        reason: Refusal,
    },

    /// A system call failed.
    #[error("cannot {op} PID file {}", path.display())]
    Io {
        /// The PID file.
        path: PathBuf,
        /// The step that failed.
        op: Operation,
        /// The operating-system error.
        source: io::Error,
    },

    /// [`PidFile::remove`](crate::PidFile::remove) could not unlink the file (typically after a
    /// privilege drop left the directory unwritable), so it truncated the file through its open
    /// descriptor: it no longer names any process and is stale for every reader.
    #[error("cannot remove PID file {} (emptied it instead, so it names no process)", path.display())]
    RemoveDenied {
        /// The PID file, now empty.
        path: PathBuf,
        /// Why `unlink` failed.
        source: io::Error,
    },
}

struct HolderPid(Option<Pid>);

impl fmt::Display for HolderPid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(pid) => write!(f, "pid {pid}"),
            None => f.write_str("pid unknown"),
        }
    }
}

/// Why a PID file is not trusted, in [`PidFileError::Refused`].
///
/// # Examples
///
/// ```
/// assert_eq!(
///     pidfile::Refusal::ForeignOwner { uid: 65534 }.to_string(),
///     "it is owned by uid 65534, not by root, who could make it name any process"
/// );
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Refusal {
    /// `st_nlink > 1`: another name shares the file, and writing it would write that file too.
    HardLinked {
        /// The link count.
        links: u64,
    },
    /// Running as root, the file belongs to another user.
    ForeignOwner {
        /// Its owner.
        uid: u32,
    },
    /// Running as root, the file is writable by its group or by others.
    WritableByOthers {
        /// Its permission bits.
        mode: u32,
    },
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::HardLinked { links } => {
                write!(f, "it has {links} links, so another name shares it (a hard link) and would be written too")
            }
            Refusal::ForeignOwner { uid } => {
                write!(f, "it is owned by uid {uid}, not by root, who could make it name any process")
            }
            Refusal::WritableByOthers { mode } => {
                write!(f, "it is writable by group or others (mode {mode:o}), who could make it name any process")
            }
        }
    }
}

/// The step of a PID-file operation that failed, in [`PidFileError::Io`].
///
/// # Examples
///
/// ```
/// assert_eq!(pidfile::Operation::Lock.to_string(), "lock");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Operation {
    /// `open(2)`.
    Open,
    /// `flock(2)`, or the bounded retries when the path kept being replaced.
    Lock,
    /// `fstat(2)` / `fstatat(2)`.
    Stat,
    /// `read(2)`.
    Read,
    /// `write(2)`.
    Write,
    /// `ftruncate(2)`.
    Truncate,
    /// `unlink(2)`.
    Remove,
    /// `fchmod(2)`: narrowing a file taken over to the mode asked for.
    Chmod,
    /// Resolving a relative path against the working directory (`getcwd(3)`).
    ResolvePath,
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Operation::Open => "open",
            Operation::Lock => "lock",
            Operation::Stat => "stat",
            Operation::Read => "read",
            Operation::Write => "write",
            Operation::Truncate => "truncate",
            Operation::Remove => "remove",
            Operation::Chmod => "change the mode of",
            Operation::ResolvePath => "resolve the path of",
        })
    }
}

/// What was found at a PID-file path instead of a regular file, in
/// [`PidFileError::NotRegularFile`].
///
/// # Examples
///
/// ```
/// assert_eq!(pidfile::FileKind::Fifo.to_string(), "a FIFO");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FileKind {
    /// A symbolic link (never followed).
    Symlink,
    /// A directory.
    Directory,
    /// A named pipe.
    Fifo,
    /// A Unix-domain socket.
    Socket,
    /// A character device.
    CharDevice,
    /// A block device.
    BlockDevice,
    /// Anything else the system reports.
    Other,
}

impl FileKind {
    pub(crate) fn from_file_type(file_type: rustix::fs::FileType) -> Option<FileKind> {
        use rustix::fs::FileType;
        Some(match file_type {
            FileType::RegularFile => return None,
            FileType::Symlink => FileKind::Symlink,
            FileType::Directory => FileKind::Directory,
            FileType::Fifo => FileKind::Fifo,
            FileType::Socket => FileKind::Socket,
            FileType::CharacterDevice => FileKind::CharDevice,
            FileType::BlockDevice => FileKind::BlockDevice,
            _ => FileKind::Other,
        })
    }
}

impl fmt::Display for FileKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FileKind::Symlink => "a symbolic link",
            FileKind::Directory => "a directory",
            FileKind::Fifo => "a FIFO",
            FileKind::Socket => "a socket",
            FileKind::CharDevice => "a character device",
            FileKind::BlockDevice => "a block device",
            FileKind::Other => "not a regular file",
        })
    }
}

impl PidFileError {
    pub(crate) fn io(path: &std::path::Path, op: Operation, source: impl Into<io::Error>) -> Self {
        PidFileError::Io { path: path.to_path_buf(), op, source: source.into() }
    }

    /// The PID file this error is about.
    ///
    /// # Examples
    ///
    /// ```
    /// let err = pidfile::read_pid("/nonexistent/app.pid").unwrap_err();
    /// assert_eq!(err.path(), std::path::Path::new("/nonexistent/app.pid"));
    /// ```
    pub fn path(&self) -> &std::path::Path {
        match self {
            PidFileError::AlreadyRunning { path, .. }
            | PidFileError::UnknownHolder { path }
            | PidFileError::Refused { path, .. }
            | PidFileError::Malformed { path, .. }
            | PidFileError::NotRegularFile { path, .. }
            | PidFileError::Io { path, .. }
            | PidFileError::RemoveDenied { path, .. } => path,
        }
    }

    /// The [`io::ErrorKind`] this error converts to: the OS error's kind for
    /// [`Io`](PidFileError::Io) and [`RemoveDenied`](PidFileError::RemoveDenied),
    /// [`AlreadyExists`](io::ErrorKind::AlreadyExists) for `AlreadyRunning` and `UnknownHolder`,
    /// [`PermissionDenied`](io::ErrorKind::PermissionDenied) for `Refused`,
    /// [`InvalidData`](io::ErrorKind::InvalidData) for `Malformed`,
    /// [`InvalidInput`](io::ErrorKind::InvalidInput) for `NotRegularFile`.
    ///
    /// # Examples
    ///
    /// ```
    /// let err = pidfile::read_pid("/nonexistent/app.pid").unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    /// ```
    pub fn kind(&self) -> io::ErrorKind {
        match self {
            PidFileError::AlreadyRunning { .. } | PidFileError::UnknownHolder { .. } => io::ErrorKind::AlreadyExists,
            PidFileError::Refused { .. } => io::ErrorKind::PermissionDenied,
            PidFileError::Malformed { .. } => io::ErrorKind::InvalidData,
            PidFileError::NotRegularFile { .. } => io::ErrorKind::InvalidInput,
            PidFileError::Io { source, .. } | PidFileError::RemoveDenied { source, .. } => source.kind(),
        }
    }
}

impl From<PidFileError> for io::Error {
    /// Keeps the kind [`PidFileError::kind`] gives, and the error itself as the payload.
    fn from(err: PidFileError) -> io::Error {
        io::Error::new(err.kind(), err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn messages_name_path_step_and_cause() {
        let err = PidFileError::io(
            std::path::Path::new("/run/x.pid"),
            Operation::Lock,
            io::Error::from_raw_os_error(rustix::io::Errno::ACCESS.raw_os_error()),
        );
        assert_eq!(err.to_string(), "cannot lock PID file /run/x.pid");
        assert!(err.source().is_some());
        let io_err = io::Error::from(err);
        assert_eq!(io_err.kind(), io::ErrorKind::PermissionDenied);

        let err = PidFileError::AlreadyRunning { path: "/run/x.pid".into(), pid: Pid::new(42) };
        assert_eq!(err.to_string(), "/run/x.pid: already running (pid 42)");
        assert_eq!(io::Error::from(err).kind(), io::ErrorKind::AlreadyExists);
        let err = PidFileError::AlreadyRunning { path: "/run/x.pid".into(), pid: None };
        assert_eq!(err.to_string(), "/run/x.pid: already running (pid unknown)");
    }

    #[test]
    fn file_kinds_are_named() {
        use rustix::fs::FileType;
        assert_eq!(FileKind::from_file_type(FileType::RegularFile), None);
        for (file_type, kind, name) in [
            (FileType::Symlink, FileKind::Symlink, "a symbolic link"),
            (FileType::Directory, FileKind::Directory, "a directory"),
            (FileType::Fifo, FileKind::Fifo, "a FIFO"),
            (FileType::Socket, FileKind::Socket, "a socket"),
            (FileType::CharacterDevice, FileKind::CharDevice, "a character device"),
            (FileType::BlockDevice, FileKind::BlockDevice, "a block device"),
            (FileType::Unknown, FileKind::Other, "not a regular file"),
        ] {
            assert_eq!(FileKind::from_file_type(file_type), Some(kind), "{file_type:?}");
            assert_eq!(kind.to_string(), name);
        }
    }

    #[test]
    fn refusals_say_why() {
        let refused = |reason: Refusal| PidFileError::Refused { path: "/run/x.pid".into(), reason }.to_string();
        assert_eq!(
            refused(Refusal::HardLinked { links: 3 }),
            "refusing PID file /run/x.pid: it has 3 links, so another name shares it (a hard link) and would be written too"
        );
        assert_eq!(
            refused(Refusal::ForeignOwner { uid: 7 }),
            "refusing PID file /run/x.pid: it is owned by uid 7, not by root, who could make it name any process"
        );
        assert_eq!(
            refused(Refusal::WritableByOthers { mode: 0o664 }),
            "refusing PID file /run/x.pid: it is writable by group or others (mode 664), who could make it name any process"
        );
    }
}
