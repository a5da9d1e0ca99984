//! Who holds a PID file: the staleness rule, [`running_pid`] and [`pidfile_is_stale`].

use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;
use std::time::Duration;

use rustix::fs::{FlockOperation, OFlags, Stat};
use rustix::io::Errno;

use crate::read::{self, Content};
use crate::{is_pid_running, sys, Operation, Pid, PidFileError};

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
pub(crate) enum Holder {
    /// The lock became ours (`relock` succeeded) during the wait.
    Released,
    /// Still locked; the last content read.
    Locked(Content),
}

/// Called after `flock` failed with `EWOULDBLOCK`: re-reads the file until it names a credible
/// holder, retrying `relock` in between, for at most [`HOLDER_RETRIES`] × [`HOLDER_RETRY_DELAY`].
///
/// Credible: the calling process, or a process rule 4 would call live (running, not a zombie,
/// started before the file was written). Anything else is retried: an empty file (a new holder
/// between its `flock` and its `write`), an old holder's pid, or a lock that is only borrowed —
/// a child forked by another thread of some process inherits that process's descriptors until
/// it `exec`s, `O_CLOEXEC` or not, and with them a lock taken in that instant.
pub(crate) fn wait_for_holder(fd: impl AsFd, path: &Path, relock: FlockOperation) -> Result<Holder, PidFileError> {
    let fd = fd.as_fd();
    let mut attempt = 0;
    loop {
        let content = read::read_content(fd, path)?;
        if attempt == HOLDER_RETRIES || is_credible_holder(fd, path, &content)? {
            return Ok(Holder::Locked(content));
        }
        attempt += 1;
        std::thread::sleep(HOLDER_RETRY_DELAY);
        match rustix::fs::flock(fd, relock) {
            Ok(()) => return Ok(Holder::Released),
            Err(Errno::WOULDBLOCK) => {}
            Err(e) => return Err(PidFileError::io(path, Operation::Lock, e)),
        }
    }
}

fn is_credible_holder(fd: BorrowedFd<'_>, path: &Path, content: &Content) -> Result<bool, PidFileError> {
    Ok(match content.pid() {
        Err(_) => false,
        Ok(pid) if pid == Pid::current() => true,
        // A fresh `fstat`: the holder may have just rewritten the file.
        Ok(_) => judge_unlocked(content, &read::stat_regular(fd, path)?) != Unlocked::Stale,
    })
}

/// What a look at a PID file found, without disturbing its holder.
enum Probe {
    Locked(Content),
    Unlocked(Unlocked),
}

/// Opens `path` read-only and tests its lock with `LOCK_SH|LOCK_NB`, held only for the few
/// microseconds of the test (a creator that meets it retries, see [`wait_for_holder`]).
/// `Ok(None)` when there is no file.
fn probe(path: &Path) -> Result<Option<Probe>, PidFileError> {
    let fd = match read::open(path, OFlags::RDONLY) {
        Ok(fd) => fd,
        Err(PidFileError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let stat = read::stat_regular(&fd, path)?;
    match rustix::fs::flock(&fd, FlockOperation::NonBlockingLockShared) {
        Ok(()) => {}
        Err(Errno::WOULDBLOCK) => {
            if let Holder::Locked(content) = wait_for_holder(&fd, path, FlockOperation::NonBlockingLockShared)? {
                return Ok(Some(Probe::Locked(content)));
            }
        }
        Err(e) => return Err(PidFileError::io(path, Operation::Lock, e)),
    }
    let content = read::read_content(&fd, path)?;
    Ok(Some(Probe::Unlocked(judge_unlocked(&content, &stat))))
}

/// The pid of the process holding a PID file, if any (for `status` and `stop` commands).
///
/// - a **locked** file: its holder's pid (a file that is empty, or names no credible holder, is
///   re-read for up to 100 ms: a new holder may be between its `flock` and its `write`, or the
///   lock may only be borrowed by a child some other process is forking);
/// - an **unlocked** file naming a live process that started before the file was written (a
///   non-locking writer such as the Python original): that pid;
/// - a missing or **stale** file (no pid, a dead pid, a zombie, a reused pid): `None`.
///
/// The check takes a shared lock for a few microseconds and never modifies the file.
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
/// - [`PidFileError::Malformed`] when the file is locked but names no valid pid;
/// - [`PidFileError::NotRegularFile`] for a symlink, FIFO, socket, device or directory;
/// - [`PidFileError::Io`] when it cannot be opened (other than not existing), locked or read.
///
/// # Platform notes
///
/// For unlocked files, Linux also reads `/proc/PID/stat`: a zombie is not a holder, nor is a
/// process that started more than a second after the file was written (PID reuse). Elsewhere
/// any process with the file's pid counts as the holder of an unlocked file.
pub fn running_pid(path: impl AsRef<Path>) -> Result<Option<Pid>, PidFileError> {
    let path = path.as_ref();
    Ok(match probe(path)? {
        None | Some(Probe::Unlocked(Unlocked::Stale)) => None,
        Some(Probe::Unlocked(Unlocked::Live(pid))) => Some(pid),
        Some(Probe::Locked(content)) => Some(content.pid_or_malformed(path)?),
    })
}

/// Whether a PID file is stale: left behind by a process that is gone, so that
/// [`PidFile::create`](crate::PidFile::create) would take it over.
///
/// A file locked by a live holder is never stale, whatever it contains. An unlocked file is
/// stale when it names no valid pid (empty, garbage), a process that is not running, the calling
/// process, or (Linux) a zombie or a process that started after the file was last modified (the
/// pid was reused). An unlocked file naming a live process that predates it belongs to a non-locking
/// writer and is not stale. A missing file is not stale (`Ok(false)`), as the Python original
/// documents: "Returns `True` if PID file exists and contains a not-running PID". The file is
/// never modified.
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
    let path = path.as_ref();
    match probe(path)? {
        None | Some(Probe::Locked(_)) | Some(Probe::Unlocked(Unlocked::Live(_))) => Ok(false),
        Some(Probe::Unlocked(Unlocked::Stale)) => Ok(true),
    }
}
