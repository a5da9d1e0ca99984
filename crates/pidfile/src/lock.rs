//! [`PidFileLock`]: a locked PID file that names no process yet, and the locked-file state that
//! [`PidFile`](crate::PidFile) shares with it.

use std::io::Write as _;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, FlockOperation, OFlags, Stat, CWD};
use rustix::io::Errno;

use crate::inspect::refusal;
use crate::read;
use crate::stale::{judge_unlocked, wait_for_holder, Unlocked, Wait};
use crate::{Operation, Pid, PidFile, PidFileError, Refusal};

/// How many times to reopen a path that was unlinked or replaced between our `open` and our
/// `flock` (each retry means another process removed or replaced the file in that window).
const MAX_ATTEMPTS: usize = 100;

/// A kernel-locked PID file that is still **empty**: the lock is taken, no pid is written yet.
///
/// This is the launcher's half of a fork: the parent locks the file (so `AlreadyRunning` is
/// reported where the user can see it), forks, and the child — the process the file must name —
/// writes its own pid with [`write_pid`](PidFileLock::write_pid). The file never names the
/// parent, so nothing that reads it in between (`kill $(cat file)`, a `stop` command) can hit
/// the parent. Readers that find the file locked and empty wait briefly for the pid (see
/// [`running_pid`](crate::running_pid)), then report the holder as unknown.
///
/// Dropping the lock in the process that acquired it removes the file **unless another live
/// process has written its pid into it**: once the forked child wrote its pid, the file is the
/// child's and is left alone for as long as the child runs (a child that died before it could
/// clean up leaves a stale file, which is removed). [`detach`](PidFileLock::detach) closes this
/// process's descriptor without looking at the file at all.
///
/// # Examples
///
/// ```
/// use pidfile::{Pid, PidFileLock};
///
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("app.pid");
///
/// let lock = PidFileLock::acquire(&path)?;
/// assert_eq!(std::fs::read(&path)?, b""); // locked, names nobody yet
/// // ... fork here; in the child: ...
/// let guard = lock.write_pid(Pid::current())?;
/// assert_eq!(pidfile::read_pid(&path)?, Pid::current());
/// guard.remove()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "the PID file is unlocked (and removed while still empty) as soon as the lock is dropped"]
#[derive(Debug)]
pub struct PidFileLock {
    pub(crate) locked: Locked,
}

/// The state every holder of a PID file's lock keeps.
#[derive(Debug)]
pub(crate) struct Locked {
    pub(crate) fd: OwnedFd,
    pub(crate) path: PathBuf,
    /// The process allowed to remove the file; `None` once removed or detached.
    pub(crate) owner: Option<Pid>,
    /// The inode we locked, to never unlink a file that replaced ours.
    dev: u64,
    ino: u64,
    /// Bytes currently in the file (no truncate when it is already empty).
    len: usize,
    /// The pid this process last wrote; `None`: the file is empty.
    written: Option<Pid>,
}

impl PidFileLock {
    /// Creates or takes over the PID file at `path` and locks it, leaving it empty.
    ///
    /// The same steps as [`PidFile::create`] without the write: `open` (never following a
    /// symlink, never blocking), `flock(LOCK_EX|LOCK_NB)`, `fstat`, the path re-check; a stale
    /// file (see [`pidfile_is_stale`](crate::pidfile_is_stale)) is truncated so that it names
    /// no process.
    ///
    /// # Examples
    ///
    /// ```
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("app.pid");
    /// std::fs::write(&path, "999999999\n")?; // left by a crash
    /// let lock = pidfile::PidFileLock::acquire(&path)?;
    /// assert_eq!(std::fs::read(&path)?, b"");
    /// # drop(lock);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As for [`PidFile::create`]: [`PidFileError::AlreadyRunning`],
    /// [`PidFileError::NotRegularFile`], [`PidFileError::Io`].
    pub fn acquire(path: impl AsRef<Path>) -> Result<PidFileLock, PidFileError> {
        Locked::acquire(path.as_ref(), Pid::current()).map(|locked| PidFileLock { locked })
    }

    /// The PID file's path (absolute: a relative path was resolved when it was locked).
    ///
    /// # Examples
    ///
    /// ```
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("app.pid");
    /// let lock = pidfile::PidFileLock::acquire(&path)?;
    /// assert_eq!(lock.path(), path);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn path(&self) -> &Path {
        &self.locked.path
    }

    /// Writes `pid` (as `"{pid}\n"`) and turns the lock into a [`PidFile`] guard owned by the
    /// calling process — typically a forked child naming itself.
    ///
    /// # Examples
    ///
    /// ```
    /// use pidfile::{Pid, PidFileLock};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let lock = PidFileLock::acquire(dir.path().join("app.pid"))?;
    /// let guard = lock.write_pid(Pid::current())?;
    /// assert_eq!(guard.pid(), Pid::current());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`PidFileError::Io`] with [`Operation::Write`] (e.g. a full disk). The file is left
    /// empty and the lock is dropped, which removes the file if the calling process acquired it.
    pub fn write_pid(mut self, pid: Pid) -> Result<PidFile, PidFileError> {
        self.locked.write(pid, Pid::current())?;
        Ok(PidFile::from_locked(self.locked, pid))
    }

    /// Closes this process's descriptor without removing or modifying the file.
    ///
    /// For the parent of a fork once the child has taken the file over: the lock stays held by
    /// the child's copy of the descriptor. In a process that is the last holder, this releases
    /// the lock and leaves an empty, stale file behind.
    ///
    /// # Examples
    ///
    /// ```
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("app.pid");
    /// pidfile::PidFileLock::acquire(&path)?.detach();
    /// assert!(path.exists() && pidfile::pidfile_is_stale(&path)?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn detach(mut self) {
        self.locked.owner = None;
    }

    /// Removes the file, while still locked, if this process acquired the lock and no other live
    /// process has written its pid into it; otherwise only closes the descriptor. `Drop` does
    /// the same, ignoring errors.
    ///
    /// # Examples
    ///
    /// ```
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("app.pid");
    /// pidfile::PidFileLock::acquire(&path)?.remove()?;
    /// assert!(!path.exists());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As for [`PidFile::remove`].
    pub fn remove(mut self) -> Result<(), PidFileError> {
        self.locked.unlink_if_ours()
    }
}

impl AsFd for PidFileLock {
    /// The locked descriptor.
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.locked.fd.as_fd()
    }
}

impl Locked {
    /// Locks `path`, takes a stale file over (emptied), refuses a live one. `me` is the calling
    /// process (asked once by the caller: every `getpid` is a system call).
    #[inline]
    pub(crate) fn acquire(path: &Path, me: Pid) -> Result<Locked, PidFileError> {
        let path = absolute(path)?;
        let (fd, stat) = lock_trusted(&path)?;
        let mut len = 0;
        if stat.st_size != 0 {
            let content = read::read_content(&fd, &path)?;
            if let Unlocked::Live(holder) = judge_unlocked(&content, &stat) {
                return Err(PidFileError::AlreadyRunning { path, pid: Some(holder) });
            }
            len = content.bytes().len();
        }
        #[allow(clippy::unnecessary_cast)] // `dev_t`/`ino_t` differ in width per platform.
        let (dev, ino) = (stat.st_dev as u64, stat.st_ino as u64);
        let mut locked = Locked { fd, path, owner: Some(me), dev, ino, len, written: None };
        // A stale pid must not stay readable while we hold the lock: readers would take it for
        // ours. On failure `locked` drops here and removes the file it took over.
        locked.truncate()?;
        Ok(locked)
    }

    fn truncate(&mut self) -> Result<(), PidFileError> {
        if self.len != 0 {
            rustix::fs::ftruncate(&self.fd, 0).map_err(|e| self.error(Operation::Truncate, e))?;
            self.len = 0;
        }
        Ok(())
    }

    /// Rewrites the file with `"{pid}\n"` and makes the calling process (`me`) its owner.
    #[inline]
    pub(crate) fn write(&mut self, pid: Pid, me: Pid) -> Result<(), PidFileError> {
        let line = PidLine::new(pid);
        self.truncate()?;
        self.written = None;
        let mut written = 0;
        while written < line.bytes().len() {
            match rustix::io::pwrite(&self.fd, &line.bytes()[written..], written as u64) {
                Ok(n) if n > 0 => written += n,
                Err(Errno::INTR) => {}
                failed => {
                    // Leave the file empty (names nobody), so the owner's drop can remove it.
                    self.len = if rustix::fs::ftruncate(&self.fd, 0).is_ok() { 0 } else { written };
                    let source = match failed {
                        Err(e) => e.into(),
                        _ => std::io::Error::from(std::io::ErrorKind::WriteZero),
                    };
                    return Err(self.error(Operation::Write, source));
                }
            }
        }
        self.len = written;
        self.written = Some(pid);
        self.owner = Some(me);
        Ok(())
    }

    /// Unlinks the file while still locked, if this process owns it, no other live process has
    /// written its pid into it since our last write, and the path still names our inode.
    ///
    /// The content check is what keeps a parent from unlinking a file that a forked child took
    /// over with its own pid (the child's descriptor shares our lock, so the lock cannot tell).
    /// When the file still holds what we wrote it costs one `pread` of at most 65 bytes; else
    /// an `fstat` and the staleness rule (a dead or reused pid, a zombie on Linux) decide.
    #[inline]
    pub(crate) fn unlink_if_ours(&mut self) -> Result<(), PidFileError> {
        match self.owner.take() {
            Some(owner) if owner == Pid::current() => {}
            _ => return Ok(()),
        }
        let content = read::read_content(&self.fd, &self.path)?;
        let line = self.written.map(PidLine::new);
        if content.bytes() != line.as_ref().map_or(&[][..], PidLine::bytes) {
            // Someone sharing this open file (a forked child) wrote since: the file is theirs
            // while it names a live process other than us. A dead or missing pid is stale, and
            // ours to remove (we still hold the lock).
            let stat = read::stat_regular(&self.fd, &self.path)?;
            if let Unlocked::Live(_) = judge_unlocked(&content, &stat) {
                return Ok(());
            }
        }
        let still_ours = match rustix::fs::statat(CWD, &self.path, AtFlags::SYMLINK_NOFOLLOW) {
            #[allow(clippy::unnecessary_cast)]
            Ok(stat) => (stat.st_dev as u64, stat.st_ino as u64) == (self.dev, self.ino),
            Err(Errno::NOENT) => false,
            Err(e) => return Err(self.error(Operation::Stat, e)),
        };
        if !still_ours {
            // Our inode is unreachable through this path (removed, replaced, or outside a
            // chroot): make sure it names no process, and leave the path alone.
            return rustix::fs::ftruncate(&self.fd, 0).map_err(|e| self.error(Operation::Truncate, e));
        }
        match rustix::fs::unlinkat(CWD, &self.path, AtFlags::empty()) {
            Ok(()) | Err(Errno::NOENT) => Ok(()),
            Err(e @ (Errno::ACCESS | Errno::PERM)) => {
                rustix::fs::ftruncate(&self.fd, 0).map_err(|e| self.error(Operation::Truncate, e))?;
                Err(PidFileError::RemoveDenied { path: self.path.clone(), source: e.into() })
            }
            Err(e) => Err(self.error(Operation::Remove, e)),
        }
    }

    fn error(&self, op: Operation, source: impl Into<std::io::Error>) -> PidFileError {
        PidFileError::io(&self.path, op, source)
    }
}

impl Drop for Locked {
    /// The `Drop` of both public guards: best-effort removal, never a panic. The descriptor is
    /// closed (and this process's share of the lock released) right after.
    fn drop(&mut self) {
        let _ = self.unlink_if_ours();
    }
}

/// `"{pid}\n"` without allocating: at most ten digits and a newline.
struct PidLine {
    buf: [u8; 16],
    len: usize,
}

impl PidLine {
    fn new(pid: Pid) -> PidLine {
        let mut buf = [0u8; 16];
        let mut cursor = std::io::Cursor::new(&mut buf[..]);
        let _ = writeln!(cursor, "{pid}");
        let len = cursor.position() as usize;
        PidLine { buf, len }
    }

    fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

fn absolute(path: &Path) -> Result<PathBuf, PidFileError> {
    if path.is_absolute() {
        return Ok(path.to_path_buf());
    }
    let cwd = std::env::current_dir().map_err(|e| PidFileError::io(path, Operation::ResolvePath, e))?;
    Ok(cwd.join(path))
}

/// [`lock_path`] for writing, plus the trust rule of the security model:
///
/// - a file with more than one link is refused ([`Refusal::HardLinked`]): writing it would
///   write the other name's file too (with `protected_hardlinks=0`, any file on the filesystem);
/// - as root, an unlocked file that another user owns or that its group or others can write is
///   never written into (its owner could keep making it name any process): since we hold its
///   lock and the path still names it, nobody holds it, and its content is not believed — the
///   name is unlinked and a fresh root-owned file is created in its place. This is safe in any
///   directory: the old inode is never written, and the new one is opened `O_NOFOLLOW` by us.
///   A locked one is reported as `AlreadyRunning` (its holder's pid only if credible).
fn lock_trusted(path: &Path) -> Result<(OwnedFd, Stat), PidFileError> {
    for _ in 0..MAX_ATTEMPTS {
        let (fd, stat) = lock_path(path, OFlags::RDWR | OFlags::CREATE)?;
        match refusal(&stat) {
            None => return Ok((fd, stat)),
            Some(reason @ Refusal::HardLinked { .. }) => {
                return Err(PidFileError::Refused { path: path.to_path_buf(), reason });
            }
            Some(_) => match rustix::fs::unlinkat(CWD, path, AtFlags::empty()) {
                // Replaced below by a fresh file (the next `open` creates it).
                Ok(()) | Err(Errno::NOENT) => {}
                Err(e) => return Err(PidFileError::io(path, Operation::Remove, e)),
            },
        }
    }
    Err(PidFileError::io(
        path,
        Operation::Lock,
        std::io::Error::other(format!("a file owned by another user reappeared {MAX_ATTEMPTS} times")),
    ))
}

/// Opens `path` and takes its exclusive lock, retrying while the path is unlinked or replaced
/// between the `open` and the `flock` (DESIGN rule 2: without this re-check, two processes can
/// each hold a lock, one on a file that no longer has a name).
#[inline]
pub(crate) fn lock_path(path: &Path, flags: OFlags) -> Result<(OwnedFd, Stat), PidFileError> {
    for _ in 0..MAX_ATTEMPTS {
        let fd = read::open(path, flags)?;
        let locked = rustix::fs::flock(&fd, FlockOperation::NonBlockingLockExclusive);
        // fstat after flock: the size and mtime are then those no other locker can change.
        let stat = read::stat_regular(&fd, path)?;
        match locked {
            Ok(()) => {}
            Err(Errno::WOULDBLOCK) => {
                if let Wait::Locked(pid, _) = wait_for_holder(&fd, path, FlockOperation::NonBlockingLockExclusive)? {
                    return Err(PidFileError::AlreadyRunning { path: path.to_path_buf(), pid });
                }
            }
            Err(e) => return Err(PidFileError::io(path, Operation::Lock, e)),
        }
        if read::names_inode(path, &stat)? {
            return Ok((fd, stat));
        }
    }
    Err(PidFileError::io(
        path,
        Operation::Lock,
        std::io::Error::other(format!("the file was removed or replaced {MAX_ATTEMPTS} times while being locked")),
    ))
}
