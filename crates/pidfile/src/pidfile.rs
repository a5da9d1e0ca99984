//! [`PidFile`], the kernel-locked guard that names its holder, and [`remove_pidfile`].

use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;

use rustix::fs::OFlags;

use crate::dir::ParentDir;
use crate::error::{Operation, PidFileError, Refusal};
use crate::judge::{refusal, unlink_stale, Unlinked};
use crate::locked::{lock_path, Locked};
use crate::pid::Pid;
use crate::read;

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
    locked: Locked,
    pid: Pid,
}

impl PidFile {
    /// Creates or takes over the PID file at `path`, locks it and writes the calling process's
    /// pid: the Python original's `pidfile(path)`.
    ///
    /// Steps: the directory is opened once ([`ParentDir::open`]: no symbolic link another user
    /// could have planted is followed on the way), then, relative to it,
    /// `openat(O_RDWR|O_CREAT|O_CLOEXEC|O_NOFOLLOW|O_NOCTTY|O_NONBLOCK, 0644)` (tried with
    /// `O_EXCL` first: a file it creates is new and needs no further look before locking),
    /// `flock(LOCK_EX|LOCK_NB)`, `fstat`, then `fstatat(dirfd, name)` to check that the name
    /// still names the locked inode (another process may have removed the file between our
    /// `open` and our `flock`; then the open is retried). An existing unlocked file is taken
    /// over when it is stale (see [`pidfile_is_stale`](crate::pidfile_is_stale)); the pid is
    /// written as `"{pid}\n"`, with no `fsync` (after a crash the lock, not the content,
    /// decides).
    ///
    /// The directory's descriptor is kept: the guard's re-check and unlink are relative to it,
    /// so renaming or replacing a directory on the way later never redirects them, and the
    /// guard keeps working after a `chdir`. To lock now and let a forked child write its own
    /// pid, use [`PidFileLock`](crate::PidFileLock); for a mode other than 0644, use
    /// [`create_with_mode`](PidFile::create_with_mode).
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
    ///   missing or unwritable directory, or a symbolic link on the way that
    ///   [`ParentDir::open`] refuses ([`Operation::Open`], kind
    ///   [`PermissionDenied`](std::io::ErrorKind::PermissionDenied)).
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
        PidFile::lock_and_write(path.as_ref(), None, None)
    }

    /// Like [`create`](PidFile::create), with the file's permissions: `mode & 0o777`.
    ///
    /// Use a private mode (`0o600`, as callers of FreeBSD's `pidfile(3)` do, and as the
    /// `daemonic` command does) to keep other users from opening the file at all: anyone who
    /// can open a PID file, even read-only, can `flock` it, and while they hold that lock, every
    /// later `create` fails with [`AlreadyRunning`](PidFileError::AlreadyRunning) (`pid:
    /// None`), even after the holder died.
    ///
    /// A new file is created with `mode` (a umask can only narrow it; it is not widened
    /// afterwards). A file taken over (stale) may have been created with a wider mode: once it
    /// is locked, its permission bits are narrowed to those also in `mode` (`fchmod`), never
    /// widened. A descriptor someone opened *before* that keeps working: only a file that was
    /// never public keeps every other user out.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::os::unix::fs::PermissionsExt;
    ///
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("app.pid");
    /// let guard = pidfile::PidFile::create_with_mode(&path, 0o600)?;
    /// assert_eq!(std::fs::metadata(&path)?.permissions().mode() & 0o777, 0o600);
    /// # drop(guard);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As for [`create`](PidFile::create), and [`PidFileError::Io`] with [`Operation::Chmod`]
    /// when a file taken over cannot be narrowed (it is then removed, as on every failure
    /// after the lock).
    pub fn create_with_mode(path: impl AsRef<Path>, mode: u32) -> Result<PidFile, PidFileError> {
        PidFile::lock_and_write(path.as_ref(), None, Some(mode))
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
        PidFile::lock_and_write(path.as_ref(), Some(pid), None)
    }

    /// `create` (pid `None`: the caller's), `create_with_pid`, `create_with_mode`; `getpid` is
    /// asked once.
    #[inline]
    fn lock_and_write(path: &Path, pid: Option<Pid>, mode: Option<u32>) -> Result<PidFile, PidFileError> {
        let me = Pid::current();
        let pid = pid.unwrap_or(me);
        let mut locked = Locked::acquire(path, me, mode)?;
        // On failure `locked` drops here, and removes the (empty) file it created or took over.
        locked.write(pid, me)?;
        Ok(PidFile { locked, pid })
    }

    pub(crate) fn from_locked(locked: Locked, pid: Pid) -> PidFile {
        PidFile { locked, pid }
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
        self.locked.path()
    }

    /// The directory the file is in, opened once at creation: the guard's re-check and unlink
    /// are relative to this descriptor. A process that closes descriptors it does not know of
    /// must keep this one open too, beside [`as_fd`](AsFd::as_fd)'s. `None` after
    /// [`close_parent_dir`](PidFile::close_parent_dir).
    ///
    /// # Examples
    ///
    /// ```
    /// let dir = tempfile::tempdir()?;
    /// let guard = pidfile::PidFile::create(dir.path().join("app.pid"))?;
    /// let parent = guard.parent_dir().expect("kept until closed");
    /// assert_eq!(parent.name(), "app.pid");
    /// assert_eq!(parent.path(), guard.path());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn parent_dir(&self) -> Option<&ParentDir> {
        self.locked.dir.as_ref()
    }

    /// Closes the descriptor of the file's directory, for a process about to `chroot`: a
    /// descriptor of a directory outside the new root would let code in the jail `fchdir` out of
    /// it. The file can then no longer be unlinked: [`remove`](PidFile::remove) and `Drop` empty
    /// it instead (an empty unlocked file is stale: it names no process).
    ///
    /// # Examples
    ///
    /// ```
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("app.pid");
    /// let mut guard = pidfile::PidFile::create(&path)?;
    /// guard.close_parent_dir();
    /// assert!(guard.parent_dir().is_none());
    /// guard.remove()?;
    /// assert_eq!(std::fs::read(&path)?, b""); // emptied, not unlinked
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn close_parent_dir(&mut self) {
        self.locked.close_parent_dir();
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
    /// This is what a process does after forking when the file must now name it: the lock was
    /// inherited, and the new owner is also the process that removes the file at the end. The
    /// file is truncated first unless it is already empty, then `"{pid}\n"` is written at
    /// offset 0 (a reader in between sees an empty file, which it treats as "holder still
    /// writing", never a torn pid). From then on the other process's guard no longer removes
    /// the file: it no longer holds what that guard wrote.
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
    /// disk); the file is then left empty, naming no process.
    pub fn write_pid(&mut self, pid: Pid) -> Result<(), PidFileError> {
        self.locked.write(pid, Pid::current())?;
        self.pid = pid;
        Ok(())
    }

    /// Removes the PID file and releases the lock: the Python original's `remove_pidfile` for a
    /// file you hold. `Drop` does the same but can only ignore errors.
    ///
    /// The file is unlinked while the lock is still held, and only if it is still this guard's:
    ///
    /// - only in the process that owns the guard (the one that created it or last called
    ///   [`write_pid`](PidFile::write_pid)); in a forked child that never wrote, this only closes
    ///   the descriptor;
    /// - only if no other live process wrote its pid into the file since this guard's last
    ///   write: a process sharing the lock (a forked child) that wrote its own pid has taken
    ///   the file over, and it is left alone while that process runs (one `pread` of at most
    ///   65 bytes decides when the file still holds our pid);
    /// - only if the path still names the file this guard locked; if the path is gone or names
    ///   another file, nothing is unlinked and the guard's own file is emptied so it names no
    ///   process.
    ///
    /// If unlinking is not permitted (`EACCES`/`EPERM`, typically after a privilege drop left
    /// the directory unwritable), the file is truncated through the open descriptor so it names
    /// no process, and [`PidFileError::RemoveDenied`] says so. In every case where nothing was
    /// removed on purpose, the result is `Ok`.
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
    /// - [`PidFileError::Io`] with [`Operation::Read`], [`Operation::Stat`],
    ///   [`Operation::Remove`] or [`Operation::Truncate`] when a system call failed.
    pub fn remove(mut self) -> Result<(), PidFileError> {
        self.locked.unlink_if_ours()
    }

    /// Closes this process's descriptor without removing or modifying the file (`Drop` would
    /// remove it): for a parent whose forked child has taken the file over, or a program that
    /// `exec`s and leaves the file to its successor. The lock lives on in any other process that
    /// shares the descriptor; if there is none, the file is left unlocked and is stale for the
    /// next [`create`](PidFile::create).
    ///
    /// # Examples
    ///
    /// ```
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("app.pid");
    /// pidfile::PidFile::create(&path)?.detach();
    /// assert!(path.exists() && pidfile::pidfile_is_stale(&path)?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn detach(mut self) {
        self.locked.owner = None;
    }
}

impl AsFd for PidFile {
    /// The locked descriptor. Closing a duplicate does not release the lock; the lock lives as
    /// long as any descriptor for this open file description.
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.locked.fd.as_fd()
    }
}

/// Removes a PID file unless a running process holds it (the Python original's `remove_pidfile`,
/// without its habit of deleting a live instance's file).
///
/// The directory is opened once ([`ParentDir::open`]), the file relative to it; the file is
/// locked, re-checked (the name still names it) and unlinked (`unlinkat`, relative to the
/// directory) while locked, and only when it is stale (see
/// [`pidfile_is_stale`](crate::pidfile_is_stale)). A missing file or directory is `Ok`. To
/// remove a file you hold, use [`PidFile::remove`] (this function would see your own lock and
/// refuse).
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
/// - [`PidFileError::Refused`] for a file with more than one link (nothing is removed);
/// - [`PidFileError::NotRegularFile`] for a symlink, FIFO, socket, device or directory;
/// - [`PidFileError::Io`] when a system call fails.
#[doc(alias = "remove")]
pub fn remove_pidfile(path: impl AsRef<Path>) -> Result<(), PidFileError> {
    let path = path.as_ref();
    let not_found = |e: &PidFileError| matches!(e, PidFileError::Io { op: Operation::Open, source, .. } if source.kind() == std::io::ErrorKind::NotFound);
    let dir = match read::parent_dir(path) {
        Ok(dir) => dir,
        Err(e) if not_found(&e) => return Ok(()),
        Err(e) => return Err(e),
    };
    let (fd, stat) = match lock_path(&dir, path, OFlags::RDONLY) {
        Ok(locked) => locked,
        Err(e) if not_found(&e) => return Ok(()),
        Err(e) => return Err(e),
    };
    if let Some(reason @ Refusal::HardLinked { .. }) = refusal(&stat) {
        // Removing one name of a shared file is harmless, but the file is not a PID file we
        // can judge: someone else owns that inode too.
        return Err(PidFileError::Refused { path: path.to_path_buf(), reason });
    }
    match unlink_stale(&fd, &dir, path, &stat)? {
        Unlinked::Live(pid) => Err(PidFileError::AlreadyRunning { path: path.to_path_buf(), pid: Some(pid) }),
        Unlinked::Removed | Unlinked::Gone => Ok(()),
    }
}
