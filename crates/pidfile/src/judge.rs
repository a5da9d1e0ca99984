//! Judging a PID file: the staleness rule (DESIGN rule 4), who holds a locked file
//! ([`Holder`], the holder's credibility), the trust rule of the security model
//! ([`refusal`]), and the removal of a stale file nobody holds.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;
use std::time::Duration;

use rustix::fs::{AtFlags, FlockOperation, Stat};
use rustix::io::Errno;

use crate::dir::ParentDir;
use crate::error::{Operation, PidFileError, Refusal};
use crate::liveness::is_pid_running;
use crate::pid::Pid;
use crate::read::{self, Content};
use crate::sys;

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

/// Who holds a PID file, as [`Inspection::holder`](crate::Inspection::holder) judges it.
///
/// # Examples
///
/// ```
/// use pidfile::{Holder, PidFile};
///
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("app.pid");
/// let guard = PidFile::create(&path)?;
/// let seen = pidfile::inspect(&path)?.expect("the file exists");
/// assert_eq!(seen.holder(), Holder::Process(guard.pid()));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Holder {
    /// Nobody: the file is stale (unlocked, and names no live process that could have written it).
    Nobody,
    /// This process: the lock's holder named in the file, or the live non-locking writer of an
    /// unlocked file.
    Process(Pid),
    /// The file is locked, but names no credible holder (see
    /// [`PidFileError::UnknownHolder`]). No pid is given, so none can be signalled by mistake.
    Unknown,
}

/// The trust rule of the security model: never more than one link; as root, owned by root and
/// writable by nobody else.
pub(crate) fn refusal(stat: &Stat) -> Option<Refusal> {
    #[allow(clippy::unnecessary_cast)]
    let (links, mode) = (stat.st_nlink as u64, stat.st_mode as u32 & 0o7777);
    if links > 1 {
        return Some(Refusal::HardLinked { links });
    }
    // Root's own, writable by nobody else: fine whoever we are (and no `geteuid` needed). Each
    // condition is tested once: what is not root's own and private is refused below, as root.
    let roots_own = stat.st_uid == 0 && mode & 0o022 == 0;
    if roots_own || !rustix::process::geteuid().is_root() {
        None
    } else if stat.st_uid != 0 {
        Some(Refusal::ForeignOwner { uid: stat.st_uid })
    } else {
        Some(Refusal::WritableByOthers { mode })
    }
}

/// What [`unlink_stale`] did.
pub(crate) enum Unlinked {
    Removed,
    /// The name was gone already.
    Gone,
    /// Not stale: the file names this live non-locking writer.
    Live(Pid),
}

/// The removal of a file this process does not own, for
/// [`remove_pidfile`](crate::remove_pidfile) and
/// [`Inspection::remove_if_stale`](crate::Inspection::remove_if_stale): with the file's
/// exclusive lock held on `fd` (whose `fstat` is `stat`) and the name in `dir` just checked to
/// name it, unlinks it (relative to `dir`) unless it names a live process (rule 4). `path` is
/// for messages.
pub(crate) fn unlink_stale(fd: &OwnedFd, dir: &ParentDir, path: &Path, stat: &Stat) -> Result<Unlinked, PidFileError> {
    let content = read::read_content(fd, path)?;
    if let Unlocked::Live(pid) = judge_unlocked(&content, stat) {
        return Ok(Unlinked::Live(pid));
    }
    match rustix::fs::unlinkat(dir, dir.name(), AtFlags::empty()) {
        Ok(()) => Ok(Unlinked::Removed),
        Err(Errno::NOENT) => Ok(Unlinked::Gone),
        Err(e) => Err(PidFileError::io(path, Operation::Remove, e)),
    }
}
