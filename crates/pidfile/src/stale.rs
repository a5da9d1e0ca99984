//! Who holds a PID file: the staleness rule, the holder's credibility, [`running_pid`] and
//! [`pidfile_is_stale`].

use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;
use std::time::Duration;

use rustix::fs::{FlockOperation, Stat};
use rustix::io::Errno;

use crate::read::{self, Content};
use crate::{is_pid_running, sys, Holder, Operation, Pid, PidFileError};

/// How often, and how long apart, a locked file is re-read while its holder has not written its
/// pid yet (the window between its `flock` and its `write`). FreeBSD's `pidfile_open` uses the
/// same 20 × 5 ms.
const HOLDER_RETRIES: u32 = 20;
const HOLDER_RETRY_DELAY: Duration = Duration::from_millis(5);

/// Who a file nobody holds locked belongs to (DESIGN rule 4).
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Unlocked {
    /// Nobody: no pid, a dead pid, the caller's own pid, a zombie, or a pid reused since the
    /// file was written.
    Stale,
    /// A live process that wrote the file without locking it (e.g. the Python original).
    Live(Pid),
}

pub(crate) fn judge_unlocked(content: &Content, stat: &Stat) -> Unlocked {
    match content.pid() {
        Err(_) => Unlocked::Stale,
        // A file naming the caller cannot mean that *another* instance is running.
        Ok(pid) if pid == Pid::current() => Unlocked::Stale,
        Ok(pid) if !is_pid_running(pid) => Unlocked::Stale,
        Ok(pid) if sys::not_the_writer(pid, stat) => Unlocked::Stale,
        Ok(pid) => Unlocked::Live(pid),
    }
}

/// The outcome of waiting on a file someone else had locked.
pub(crate) enum Wait {
    /// The lock became ours (`relock` succeeded) during the wait.
    Released,
    /// Still locked: the holder's pid if the file names a credible one, else `None`; and the
    /// content last read.
    Locked(Option<Pid>, Content),
}

/// Called after `flock` failed with `EWOULDBLOCK`: re-reads the file until it names a credible
/// holder, retrying `relock` in between, for at most [`HOLDER_RETRIES`] × [`HOLDER_RETRY_DELAY`].
///
/// Credible: the calling process, or a process rule 4 would call live (running, not a zombie,
/// not a kernel thread, started before the file was written) that — on Linux, where
/// `/proc/PID/fd` is readable — has this very file open. Anything else is retried, then
/// reported as an unknown holder: an empty file (a new holder between its `flock` and its
/// `write`), an old holder's pid, a lock only borrowed by a child another process is forking
/// (it inherits descriptors until it `exec`s, `O_CLOEXEC` or not), or a lock held by a reader
/// (`flock -s`) or a stray child while the file names someone else.
pub(crate) fn wait_for_holder(fd: impl AsFd, path: &Path, relock: FlockOperation) -> Result<Wait, PidFileError> {
    let fd = fd.as_fd();
    let mut attempt = 0;
    loop {
        let content = read::read_content(fd, path)?;
        if let Some(pid) = credible_holder(fd, path, &content)? {
            return Ok(Wait::Locked(Some(pid), content));
        }
        if attempt == HOLDER_RETRIES {
            return Ok(Wait::Locked(None, content));
        }
        attempt += 1;
        std::thread::sleep(HOLDER_RETRY_DELAY);
        match rustix::fs::flock(fd, relock) {
            Ok(()) => return Ok(Wait::Released),
            Err(Errno::WOULDBLOCK) => {}
            Err(e) => return Err(PidFileError::io(path, Operation::Lock, e)),
        }
    }
}

/// The pid the locked file names, if that process can be its holder (see [`wait_for_holder`]).
pub(crate) fn credible_holder(fd: BorrowedFd<'_>, path: &Path, content: &Content) -> Result<Option<Pid>, PidFileError> {
    let Ok(pid) = content.pid() else { return Ok(None) };
    if pid == Pid::current() {
        return Ok(Some(pid));
    }
    // A fresh `fstat`: the holder may have just rewritten the file.
    let stat = read::stat_regular(fd, path)?;
    if judge_unlocked(content, &stat) == Unlocked::Stale {
        return Ok(None);
    }
    #[allow(clippy::unnecessary_cast)]
    let open = sys::has_open(pid, stat.st_dev as u64, stat.st_ino as u64);
    Ok((open != Some(false)).then_some(pid))
}

/// The pid of the process holding a PID file, if any (for `status` and `stop` commands).
///
/// - a **locked** file: its holder's pid, when the file names a credible holder (a file that
///   is empty, or names no credible holder, is re-read for up to 100 ms: a new holder may be
///   between its `flock` and its `write`, or the lock may only be borrowed by a child some
///   other process is forking); otherwise [`PidFileError::UnknownHolder`], never a pid that
///   does not hold the file;
/// - an **unlocked** file naming a live process that started before the file was written (a
///   non-locking writer such as the Python original): that pid;
/// - a missing or **stale** file (no pid, a dead pid, a zombie, a reused pid, a kernel
///   thread): `None`.
///
/// The check takes a shared lock for a few microseconds and never modifies the file. To decide
/// more than this on one descriptor (owner, mode, links), use [`inspect`](crate::inspect).
///
/// # Examples
///
/// ```
/// use pidfile::{running_pid, Pid, PidFile};
///
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("app.pid");
/// assert_eq!(running_pid(&path)?, None);
///
/// let guard = PidFile::create(&path)?;
/// assert_eq!(running_pid(&path)?, Some(Pid::current()));
///
/// guard.remove()?;
/// assert_eq!(running_pid(&path)?, None);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// - [`PidFileError::UnknownHolder`] when the file is locked but names no credible holder;
/// - [`PidFileError::NotRegularFile`] for a symlink, FIFO, socket, device or directory;
/// - [`PidFileError::Io`] when it cannot be opened (other than not existing), locked or read.
///
/// # Platform notes
///
/// Linux also reads `/proc/PID/stat`: a zombie, a kernel thread, or a process that started
/// more than a second after the file was written (PID reuse) is not a holder; and, where
/// `/proc/PID/fd` is readable (our own processes, or any as root), a locked file's holder must
/// have the file open. Elsewhere any running process with the file's pid counts.
pub fn running_pid(path: impl AsRef<Path>) -> Result<Option<Pid>, PidFileError> {
    let path = path.as_ref();
    match crate::inspect(path)? {
        None => Ok(None),
        Some(inspection) => match inspection.holder() {
            Holder::Nobody => Ok(None),
            Holder::Process(pid) => Ok(Some(pid)),
            Holder::Unknown => Err(PidFileError::UnknownHolder { path: path.to_path_buf() }),
        },
    }
}

/// Whether a PID file is stale: left behind by a process that is gone, so that
/// [`PidFile::create`](crate::PidFile::create) would take it over.
///
/// A file locked by a live holder is never stale, whatever it contains. An unlocked file is
/// stale when it names no valid pid (empty, garbage), a process that is not running, the calling
/// process, or (Linux) a zombie, a kernel thread, or a process that started after the file was
/// last modified (the pid was reused). An unlocked file naming a live process that predates it
/// belongs to a non-locking writer and is not stale. A missing file is not stale (`Ok(false)`),
/// as the Python original documents: "Returns `True` if PID file exists and contains a
/// not-running PID". The file is never modified.
///
/// # Examples
///
/// ```
/// use pidfile::{pidfile_is_stale, PidFile};
///
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("app.pid");
/// assert!(!pidfile_is_stale(&path)?); // no file: nothing stale
///
/// std::fs::write(&path, "garbage")?;
/// assert!(pidfile_is_stale(&path)?);
///
/// let guard = PidFile::create(&path)?; // takes the stale file over
/// assert!(!pidfile_is_stale(&path)?);
/// drop(guard);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// - [`PidFileError::NotRegularFile`] for a symlink, FIFO, socket, device or directory;
/// - [`PidFileError::Io`] when the file exists but cannot be opened, locked or read.
///
/// # Platform notes
///
/// See [`running_pid`]: PID reuse is detected on Linux only.
pub fn pidfile_is_stale(path: impl AsRef<Path>) -> Result<bool, PidFileError> {
    Ok(crate::inspect(path.as_ref())?.is_some_and(|inspection| inspection.is_stale()))
}
