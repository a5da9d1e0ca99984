//! [`PidFile`], the kernel-locked guard, and [`remove_pidfile`].

use std::io::Write as _;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, FlockOperation, OFlags, Stat, CWD};
use rustix::io::Errno;

use crate::read::{self, Content};
use crate::stale::{judge_unlocked, wait_for_holder, Holder, Unlocked};
use crate::{Operation, Pid, PidFileError};

/// How many times to reopen a path that was unlinked or replaced between our `open` and our
/// `flock` (each retry means another process removed or replaced the file in that window).
const MAX_ATTEMPTS: usize = 100;

/// An open, kernel-locked PID file: while it lives, no other `PidFile` on the same path can
/// exist, in this process or any other.
///
/// The lock is an `flock(2)` lock on the open file description: the kernel releases it when
/// the last process holding the descriptor exits, however it exits (`SIGKILL`, a crash, power
/// loss all leave a file that the next [`create`](PidFile::create) takes over at once). It is
/// inherited across `fork`, so a daemon keeps the lock its launcher took. It interoperates with
/// `flock(1)` and with BSD `pidfile(3)`.
///
/// Dropping the guard removes the file (best effort); [`remove`](PidFile::remove) does the same
/// and reports errors. Only the process that owns the guard (the one that created it, or the last
/// to call [`write_pid`](PidFile::write_pid)) removes the file; in a forked child, dropping the
/// guard only closes the child's descriptor.
///
/// # Examples
///
/// ```
/// use pidfile::{PidFile, PidFileError};
///
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("app.pid");
///
/// let guard = PidFile::create(&path)?;
/// assert_eq!(std::fs::read_to_string(&path)?, format!("{}\n", std::process::id()));
///
/// // A second instance is refused and told who holds the file.
/// match PidFile::create(&path) {
///     Err(PidFileError::AlreadyRunning { pid, .. }) => assert_eq!(pid, Some(guard.pid())),
///     other => panic!("unexpected: {other:?}"),
/// }
///
/// guard.remove()?;
/// assert!(!path.exists());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "the PID file is unlocked and removed as soon as the guard is dropped"]
#[derive(Debug)]
pub struct PidFile {
    fd: OwnedFd,
    path: PathBuf,
    pid: Pid,
    /// The process allowed to remove the file; `None` once removed.
    owner: Option<Pid>,
    /// The inode we locked, to never unlink a file that replaced ours.
    dev: u64,
    ino: u64,
    /// Bytes currently in the file (no truncate when it is already empty).
    len: usize,
}

impl PidFile {
    /// Creates or takes over the PID file at `path`, locks it and writes the calling process's
    /// pid: the Python original's `pidfile(path)`.
    ///
    /// Steps: `open(O_RDWR|O_CREAT|O_CLOEXEC|O_NOFOLLOW|O_NOCTTY|O_NONBLOCK, 0644)`,
    /// `flock(LOCK_EX|LOCK_NB)`, `fstat`, then `lstat(path)` to check that the path still names
    /// the locked inode (another process may have removed the file between our `open` and our
    /// `flock`; then the open is retried). An existing unlocked file is taken over when it is
    /// stale (see [`pidfile_is_stale`](crate::pidfile_is_stale)); the pid is written as
    /// `"{pid}\n"`, with no `fsync` (after a crash the lock, not the content, decides).
    ///
    /// A relative `path` is resolved against the current directory now, so the guard keeps
    /// working after a `chdir`.
    ///
    /// # Examples
    ///
    /// ```
    /// let dir = tempfile::tempdir()?;
    /// let guard = pidfile::PidFile::create(dir.path().join("app.pid"))?;
    /// assert_eq!(guard.pid(), pidfile::Pid::current());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// - [`PidFileError::AlreadyRunning`] when another process holds the lock, or the file names
    ///   a live process that wrote it without locking; `pid` is the holder's pid when the file
    ///   names one within 100 ms;
    /// - [`PidFileError::NotRegularFile`] when a symlink, FIFO, socket, device or directory is at
    ///   `path` (it is left untouched);
    /// - [`PidFileError::Io`] when a system call fails ([`Operation`] says which), for example a
    ///   missing or unwritable directory.
    ///
    /// # Platform notes
    ///
    /// `flock` locks are local to the machine; on NFS, Linux emulates them with byte-range
    /// locks. PID reuse by non-locking writers is detected on Linux only.
    ///
    /// # References
    ///  - [Linux `flock(2)`](https://man7.org/linux/man-pages/man2/flock.2.html)
    ///  - [FreeBSD `flock(2)`](https://man.freebsd.org/cgi/man.cgi?query=flock&sektion=2)
    ///  - [FreeBSD `pidfile(3)`](https://man.freebsd.org/cgi/man.cgi?query=pidfile&sektion=3)
    ///  - [macOS `flock(2)`](https://developer.apple.com/library/archive/documentation/System/Conceptual/ManPages_iPhoneOS/man2/flock.2.html)
    ///  - [NetBSD `flock(2)`](https://man.netbsd.org/flock.2)
    ///  - [OpenBSD `flock(2)`](https://man.openbsd.org/flock.2)
    #[doc(alias = "pidfile")]
    pub fn create(path: impl AsRef<Path>) -> Result<PidFile, PidFileError> {
        PidFile::lock_and_write(path.as_ref(), None)
    }

    /// Like [`create`](PidFile::create), but writes `pid` instead of the caller's pid: the
    /// Python original's `make_pidfile(path, pid)`. The calling process still owns the guard.
    ///
    /// # Examples
    ///
    /// ```
    /// use pidfile::{Pid, PidFile};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("worker.pid");
    /// let child = std::process::Command::new("sleep").arg("5").spawn()?;
    /// let guard = PidFile::create_with_pid(&path, Pid::new(child.id()).unwrap())?;
    /// assert_eq!(pidfile::read_pid(&path)?, guard.pid());
    /// # let mut child = child; child.kill()?; child.wait()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As for [`create`](PidFile::create).
    #[doc(alias = "make_pidfile")]
    pub fn create_with_pid(path: impl AsRef<Path>, pid: Pid) -> Result<PidFile, PidFileError> {
        PidFile::lock_and_write(path.as_ref(), Some(pid))
    }

    /// `create` (pid `None`: the caller's) and `create_with_pid`; `getpid` is asked once.
    #[inline]
    fn lock_and_write(path: &Path, pid: Option<Pid>) -> Result<PidFile, PidFileError> {
        let path = absolute(path)?;
        let (fd, stat) = lock_path(&path, OFlags::RDWR | OFlags::CREATE)?;
        let mut len = 0;
        if stat.st_size != 0 {
            let content = read::read_content(&fd, &path)?;
            if let Unlocked::Live(holder) = judge_unlocked(&content, &stat) {
                return Err(PidFileError::AlreadyRunning { path, pid: Some(holder) });
            }
            len = content.bytes().len();
        }
        let me = Pid::current();
        let pid = pid.unwrap_or(me);
        let mut guard = PidFile {
            fd,
            path,
            pid,
            owner: Some(me),
            #[allow(clippy::unnecessary_cast)] // `dev_t`/`ino_t` differ in width per platform.
            dev: stat.st_dev as u64,
            #[allow(clippy::unnecessary_cast)]
            ino: stat.st_ino as u64,
            len,
        };
        // On failure the guard drops here, and removes the file it created or took over.
        guard.write(pid, me)?;
        Ok(guard)
    }

    /// The PID file's path (absolute: a relative path was resolved at creation).
    ///
    /// # Examples
    ///
    /// ```
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("app.pid");
    /// let guard = pidfile::PidFile::create(&path)?;
    /// assert_eq!(guard.path(), path);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The pid written in the file.
    ///
    /// # Examples
    ///
    /// ```
    /// let dir = tempfile::tempdir()?;
    /// let guard = pidfile::PidFile::create(dir.path().join("app.pid"))?;
    /// assert_eq!(guard.pid().get(), std::process::id());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn pid(&self) -> Pid {
        self.pid
    }

    /// Rewrites the file with `pid` and makes the calling process the guard's owner.
    ///
    /// This is what a daemon does after forking: the lock was inherited from the launcher, and
    /// the file must now name the daemon, which is also the process that removes it at the end.
    /// The file is truncated first unless it is already empty, then `"{pid}\n"` is written at
    /// offset 0 (a reader in between sees an empty file, which it treats as "holder still
    /// writing", never a torn pid).
    ///
    /// # Examples
    ///
    /// ```
    /// use pidfile::{Pid, PidFile};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("app.pid");
    /// let mut guard = PidFile::create(&path)?;
    /// guard.write_pid(Pid::new(1).unwrap())?;
    /// assert_eq!(std::fs::read_to_string(&path)?, "1\n");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`PidFileError::Io`] with [`Operation::Truncate`] or [`Operation::Write`] (e.g. a full
    /// disk).
    pub fn write_pid(&mut self, pid: Pid) -> Result<(), PidFileError> {
        self.write(pid, Pid::current())
    }

    #[inline]
    fn write(&mut self, pid: Pid, owner: Pid) -> Result<(), PidFileError> {
        let mut buf = [0u8; 16];
        let mut cursor = std::io::Cursor::new(&mut buf[..]);
        // Ten digits and a newline always fit in 16 bytes.
        let _ = writeln!(cursor, "{pid}");
        let end = cursor.position() as usize;
        let line = &buf[..end];

        if self.len != 0 {
            rustix::fs::ftruncate(&self.fd, 0).map_err(|e| self.error(Operation::Truncate, e))?;
            self.len = 0;
        }
        let mut written = 0;
        while written < line.len() {
            match rustix::io::pwrite(&self.fd, &line[written..], written as u64) {
                Ok(0) => return Err(self.error(Operation::Write, std::io::ErrorKind::WriteZero)),
                Ok(n) => written += n,
                Err(Errno::INTR) => {}
                Err(e) => {
                    self.len = written;
                    return Err(self.error(Operation::Write, e));
                }
            }
        }
        self.len = written;
        self.pid = pid;
        self.owner = Some(owner);
        Ok(())
    }

    /// Removes the PID file and releases the lock: the Python original's `remove_pidfile` for a
    /// file you hold. `Drop` does the same but can only ignore errors.
    ///
    /// The file is unlinked while the lock is still held, and only if the path still names the
    /// file this guard locked. If the path is gone or names another file, nothing is unlinked
    /// (the guard's own file is emptied so it names no process). If unlinking is not permitted
    /// (`EACCES`/`EPERM`, typically after a privilege drop left the directory unwritable), the
    /// file is truncated through the open descriptor so it names no process, and
    /// [`PidFileError::RemoveDenied`] says so.
    ///
    /// In a process that does not own the guard (a forked child that never called
    /// [`write_pid`](PidFile::write_pid)) this only closes the descriptor and returns `Ok`: the
    /// owner's file is not touched.
    ///
    /// # Examples
    ///
    /// ```
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("app.pid");
    /// pidfile::PidFile::create(&path)?.remove()?;
    /// assert!(!path.exists());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// - [`PidFileError::RemoveDenied`] when unlinking was refused and the file was emptied;
    /// - [`PidFileError::Io`] with [`Operation::Stat`], [`Operation::Remove`] or
    ///   [`Operation::Truncate`] when a system call failed.
    pub fn remove(mut self) -> Result<(), PidFileError> {
        self.unlink_if_ours()
    }

    #[inline]
    fn unlink_if_ours(&mut self) -> Result<(), PidFileError> {
        match self.owner.take() {
            Some(owner) if owner == Pid::current() => {}
            _ => return Ok(()),
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

impl Drop for PidFile {
    /// Best-effort [`remove`](PidFile::remove); never panics. The descriptor is closed (and the
    /// lock released) right after.
    fn drop(&mut self) {
        let _ = self.unlink_if_ours();
    }
}

impl AsFd for PidFile {
    /// The locked descriptor. Closing a duplicate does not release the lock; the lock lives as
    /// long as any descriptor for this open file description.
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

fn absolute(path: &Path) -> Result<PathBuf, PidFileError> {
    if path.is_absolute() {
        return Ok(path.to_path_buf());
    }
    let cwd = std::env::current_dir().map_err(|e| PidFileError::io(path, Operation::ResolvePath, e))?;
    Ok(cwd.join(path))
}

/// Opens `path` and takes its exclusive lock, retrying while the path is unlinked or replaced
/// between the `open` and the `flock` (DESIGN rule 2: without this re-check, two processes can
/// each hold a lock, one on a file that no longer has a name).
#[inline]
fn lock_path(path: &Path, flags: OFlags) -> Result<(OwnedFd, Stat), PidFileError> {
    for _ in 0..MAX_ATTEMPTS {
        let fd = read::open(path, flags)?;
        let locked = rustix::fs::flock(&fd, FlockOperation::NonBlockingLockExclusive);
        // fstat after flock: the size and mtime are then those no other locker can change.
        let stat = read::stat_regular(&fd, path)?;
        match locked {
            Ok(()) => {}
            Err(Errno::WOULDBLOCK) => {
                if let Holder::Locked(content) = wait_for_holder(&fd, path, FlockOperation::NonBlockingLockExclusive)? {
                    return Err(already_running(path, &content));
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

fn already_running(path: &Path, content: &Content) -> PidFileError {
    PidFileError::AlreadyRunning { path: path.to_path_buf(), pid: content.pid().ok() }
}

/// Removes a PID file unless a running process holds it (the Python original's `remove_pidfile`,
/// without its habit of deleting a live instance's file).
///
/// The file is locked first; it is unlinked while locked, and only when it is stale (see
/// [`pidfile_is_stale`](crate::pidfile_is_stale)). A missing file is `Ok`. To remove a file you
/// hold, use [`PidFile::remove`] (this function would see your own lock and refuse).
///
/// # Examples
///
/// ```
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("app.pid");
/// std::fs::write(&path, "999999999\n")?; // left behind by a crash
/// pidfile::remove_pidfile(&path)?;
/// assert!(!path.exists());
/// pidfile::remove_pidfile(&path)?; // already gone: fine
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// - [`PidFileError::AlreadyRunning`] when a process holds the lock or the file names a live
///   non-locking writer (nothing is removed);
/// - [`PidFileError::NotRegularFile`] for a symlink, FIFO, socket, device or directory;
/// - [`PidFileError::Io`] when a system call fails.
#[doc(alias = "remove")]
pub fn remove_pidfile(path: impl AsRef<Path>) -> Result<(), PidFileError> {
    let path = path.as_ref();
    let (fd, stat) = match lock_path(path, OFlags::RDONLY) {
        Ok(locked) => locked,
        Err(PidFileError::Io { op: Operation::Open, source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            return Ok(())
        }
        Err(e) => return Err(e),
    };
    let content = read::read_content(&fd, path)?;
    if let Unlocked::Live(pid) = judge_unlocked(&content, &stat) {
        return Err(PidFileError::AlreadyRunning { path: path.to_path_buf(), pid: Some(pid) });
    }
    match rustix::fs::unlinkat(CWD, path, AtFlags::empty()) {
        Ok(()) | Err(Errno::NOENT) => Ok(()),
        Err(e) => Err(PidFileError::io(path, Operation::Remove, e)),
    }
}
