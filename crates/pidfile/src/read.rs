//! Opening and reading PID files: [`read_pid`] and the bounded, non-following primitives every
//! other operation uses.

use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use rustix::fs::{AtFlags, FileType, Mode, OFlags, Stat};
use rustix::io::Errno;

use crate::dir::ParentDir;
use crate::error::{FileKind, Operation, PidFileError};
use crate::pid::{excerpt, parse_pid, ParsePidError, Pid};

// The small helpers below are `#[inline]`: each wraps a system call, and on CPUs with
// return-stack mitigations (AMD SRSO "Safe RET", RSB filling) the first `ret` after a system
// call is expensive; `cargo xtask bench` measured 1.15× → 1.05× of the rules floor.

/// The most bytes read from any PID file. A pid takes at most 10 digits; the rest allows for
/// blanks and a line ending. Longer files are [`Malformed`](PidFileError::Malformed) without being
/// read further, so a huge or endless file costs nothing.
pub const MAX_PID_FILE_LEN: usize = 64;

/// Flags for every open: never follow a symlink, never acquire a controlling terminal, never
/// block (a FIFO at the path must not hang the caller), never leak into exec'd programs.
pub(crate) const SAFE_OPEN: OFlags =
    OFlags::CLOEXEC.union(OFlags::NOFOLLOW).union(OFlags::NOCTTY).union(OFlags::NONBLOCK);

/// `rw-r--r--`, the default (DESIGN rule 1); a umask can only narrow it.
pub(crate) const PID_FILE_MODE: Mode = Mode::from_raw_mode(0o644);

/// Opens the file `dir` names ([`ParentDir::name`], relative to its descriptor) with
/// [`SAFE_OPEN`] plus `flags` (and `mode` if it creates the file), and names what is there when
/// it is not a regular file. `path` is for messages.
///
/// `fstatat` first: a device, FIFO or socket at the path is refused without being opened,
/// since opening a device can act (`/dev/ptmx` allocates a terminal, `/dev/watchdog` arms the
/// watchdog). Between the `fstatat` and the `open` only someone able to create device nodes
/// (root) could put one there; symlinks are never followed (`O_NOFOLLOW`) and the `fstat` after
/// the open refuses anything that is not a regular file all the same.
#[inline]
pub(crate) fn open(dir: &ParentDir, path: &Path, flags: OFlags, mode: Mode) -> Result<OwnedFd, PidFileError> {
    match rustix::fs::statat(dir, dir.name(), AtFlags::SYMLINK_NOFOLLOW) {
        Ok(stat) => {
            if let Some(kind) = not_regular(&stat) {
                return Err(PidFileError::NotRegularFile { path: path.to_path_buf(), kind });
            }
        }
        Err(Errno::NOENT) if flags.contains(OFlags::CREATE) => {}
        Err(e) => return Err(PidFileError::io(path, Operation::Open, e)),
    }
    rustix::fs::openat(dir, dir.name(), flags | SAFE_OPEN, mode).map_err(|errno| open_error(dir, path, errno))
}

/// Creates the file `dir` names, read-write, if nothing is there (`O_CREAT|O_EXCL`, plus
/// [`SAFE_OPEN`]): `Ok(None)` when something is (`EEXIST`, a symlink included). A file this
/// call created is new: a regular file, empty, with no content or device to judge before it is
/// locked, so the `fstatat` [`open`] needs is skipped.
#[inline]
pub(crate) fn create_new(dir: &ParentDir, path: &Path, mode: Mode) -> Result<Option<OwnedFd>, PidFileError> {
    let flags = OFlags::RDWR | OFlags::CREATE | OFlags::EXCL | SAFE_OPEN;
    match rustix::fs::openat(dir, dir.name(), flags, mode) {
        Ok(fd) => Ok(Some(fd)),
        Err(Errno::EXIST) => Ok(None),
        Err(errno) => Err(open_error(dir, path, errno)),
    }
}

/// ELOOP (Linux), EMLINK (FreeBSD), EFTYPE (NetBSD) for a symlink, EISDIR for a directory,
/// ENXIO for a socket: look at what is there to say so plainly.
#[cold]
fn open_error(dir: &ParentDir, path: &Path, errno: Errno) -> PidFileError {
    match rustix::fs::statat(dir, dir.name(), AtFlags::SYMLINK_NOFOLLOW) {
        Ok(stat) => match not_regular(&stat) {
            Some(kind) => PidFileError::NotRegularFile { path: path.to_path_buf(), kind },
            None => PidFileError::io(path, Operation::Open, errno),
        },
        Err(_) => PidFileError::io(path, Operation::Open, errno),
    }
}

/// [`ParentDir::open`] for `path`, its failure an [`Operation::Open`] error.
#[inline]
pub(crate) fn parent_dir(path: &Path) -> Result<ParentDir, PidFileError> {
    ParentDir::open(path).map_err(|e| PidFileError::io(path, Operation::Open, e))
}

/// `fstat` of an open PID file, refusing anything but a regular file.
#[inline]
pub(crate) fn stat_regular(fd: impl AsFd, path: &Path) -> Result<Stat, PidFileError> {
    let stat = rustix::fs::fstat(fd).map_err(|e| PidFileError::io(path, Operation::Stat, e))?;
    match not_regular(&stat) {
        Some(kind) => Err(PidFileError::NotRegularFile { path: path.to_path_buf(), kind }),
        None => Ok(stat),
    }
}

#[inline]
fn not_regular(stat: &Stat) -> Option<FileKind> {
    #[allow(clippy::unnecessary_cast)] // `st_mode` is `mode_t` (u16) on macOS and the BSDs.
    FileKind::from_file_type(FileType::from_raw_mode(stat.st_mode as _))
}

/// Whether the name in `dir` still names the inode `stat` describes. `false` when it is gone.
/// `path` is for messages.
#[inline]
pub(crate) fn names_inode(dir: &ParentDir, path: &Path, stat: &Stat) -> Result<bool, PidFileError> {
    match rustix::fs::statat(dir, dir.name(), AtFlags::SYMLINK_NOFOLLOW) {
        Ok(now) => Ok(now.st_dev == stat.st_dev && now.st_ino == stat.st_ino),
        Err(Errno::NOENT) => Ok(false),
        Err(e) => Err(PidFileError::io(path, Operation::Stat, e)),
    }
}

/// The first [`MAX_PID_FILE_LEN`] bytes of a PID file (one more, to tell that there is more).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Content {
    buf: [u8; MAX_PID_FILE_LEN + 1],
    len: usize,
}

impl Content {
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    pub(crate) fn pid(&self) -> Result<Pid, ParsePidError> {
        parse_pid(self.bytes())
    }

    /// The pid, or `Malformed` naming `path` and showing what is there.
    pub(crate) fn pid_or_malformed(&self, path: &Path) -> Result<Pid, PidFileError> {
        self.pid().map_err(|source| PidFileError::Malformed {
            path: path.to_path_buf(),
            content: excerpt(self.bytes()),
            source,
        })
    }
}

/// `pread` from offset 0 until end of file or the bound; never moves the file offset.
#[inline]
pub(crate) fn read_content(fd: impl AsFd, path: &Path) -> Result<Content, PidFileError> {
    let fd = fd.as_fd();
    let mut content = Content { buf: [0; MAX_PID_FILE_LEN + 1], len: 0 };
    while content.len < content.buf.len() {
        let wanted = content.buf.len() - content.len;
        match rustix::io::pread(fd, &mut content.buf[content.len..], content.len as u64) {
            Ok(n) => {
                content.len += n;
                // A regular file returns less than asked only at its end: no second call to
                // learn what the first one said.
                if n < wanted {
                    break;
                }
            }
            Err(Errno::INTR) => {}
            Err(e) => return Err(PidFileError::io(path, Operation::Read, e)),
        }
    }
    Ok(content)
}

/// Reads the process id stored in a PID file (the Python original's `readpid`).
///
/// Reads at most [`MAX_PID_FILE_LEN`] bytes, never follows a symlink at the file (nor one on
/// the way that another user could have planted: see [`ParentDir`](crate::ParentDir)), never blocks on a FIFO,
/// takes no lock and never modifies the file. The content must be one decimal pid in
/// `1..=i32::MAX`, optionally surrounded by blanks and ended by `\n` or `\r\n` (see
/// [`Pid::from_str`](std::str::FromStr)).
///
/// This says what the file *says*, not whether that process is alive or holds the file: use
/// [`running_pid`](crate::running_pid) for that.
///
/// # Examples
///
/// ```
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("app.pid");
/// std::fs::write(&path, "4242\n")?;
/// assert_eq!(pidfile::read_pid(&path)?.get(), 4242);
///
/// std::fs::write(&path, "-1\n")?;
/// let err = pidfile::read_pid(&path).unwrap_err();
/// assert!(err.to_string().contains("app.pid"), "{err}");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// - [`PidFileError::Malformed`] when the content is not exactly one valid pid;
/// - [`PidFileError::NotRegularFile`] for a symlink, FIFO, socket, device or directory;
/// - [`PidFileError::Io`] with [`Operation::Open`] (e.g. [`NotFound`](std::io::ErrorKind::NotFound))
///   or [`Operation::Read`].
///
/// # References
///  - [FreeBSD `pidfile(3)`](https://man.freebsd.org/cgi/man.cgi?query=pidfile&sektion=3)
#[doc(alias = "readpid")]
pub fn read_pid(path: impl AsRef<Path>) -> Result<Pid, PidFileError> {
    let path = path.as_ref();
    let dir = parent_dir(path)?;
    let fd = open(&dir, path, OFlags::RDONLY, Mode::empty())?;
    stat_regular(&fd, path)?;
    read_content(&fd, path)?.pid_or_malformed(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(bytes: &[u8]) -> (Vec<u8>, Result<Pid, PidFileError>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.pid");
        std::fs::write(&path, bytes).unwrap();
        let file = std::fs::File::open(&path).unwrap();
        let content = read_content(&file, &path).unwrap();
        (content.bytes().to_vec(), read_pid(&path))
    }

    /// At most `MAX_PID_FILE_LEN` bytes are believed, and one more is read to tell that there
    /// is more: a file of exactly the limit is read whole, a longer one is `TooLong`.
    #[test]
    fn content_is_read_whole_up_to_the_limit_and_one_byte_beyond() {
        let mut exact = vec![b' '; MAX_PID_FILE_LEN - 2];
        exact.extend_from_slice(b"7\n");
        let (bytes, pid) = read(&exact);
        assert_eq!(bytes, exact);
        assert_eq!(pid.map(Pid::get).map_err(|e| e.to_string()), Ok(7));

        let mut long = b"7".to_vec();
        long.resize(200, b' ');
        let (bytes, pid) = read(&long);
        assert_eq!(bytes, &long[..MAX_PID_FILE_LEN + 1]);
        match pid {
            Err(PidFileError::Malformed { source, .. }) => {
                assert_eq!(source.kind(), crate::ParsePidErrorKind::TooLong);
            }
            other => panic!("{other:?}"),
        }

        let (bytes, pid) = read(b"");
        assert!(bytes.is_empty());
        assert!(matches!(pid, Err(PidFileError::Malformed { .. })), "{pid:?}");
    }

    #[test]
    fn names_inode_compares_device_and_inode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.pid");
        std::fs::write(&path, "").unwrap();
        std::fs::write(dir.path().join("other"), "").unwrap();
        let parent = parent_dir(&path).unwrap();
        let stat = rustix::fs::stat(&path).unwrap();
        let other = rustix::fs::stat(dir.path().join("other")).unwrap();
        assert!(names_inode(&parent, &path, &stat).unwrap());
        assert!(!names_inode(&parent, &path, &other).unwrap(), "another inode, same device");
        let mut elsewhere = stat;
        elsewhere.st_dev = stat.st_dev.wrapping_add(1);
        assert!(!names_inode(&parent, &path, &elsewhere).unwrap(), "same inode number, another device");
        std::fs::remove_file(&path).unwrap();
        assert!(!names_inode(&parent, &path, &stat).unwrap(), "gone");
    }
}
