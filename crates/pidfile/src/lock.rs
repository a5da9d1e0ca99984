//! [`PidFileLock`]: a locked PID file that names no process yet, the launcher's half of a fork.

use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;

use crate::dir::ParentDir;
use crate::error::PidFileError;
use crate::locked::Locked;
use crate::pid::Pid;
use crate::pidfile::PidFile;

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

impl PidFileLock {
    /// Creates or takes over the PID file at `path` and locks it, leaving it empty.
    ///
    /// The same steps as [`PidFile::create`] without the write: the directory opened once
    /// ([`ParentDir::open`]), `open` relative to it (never following a symlink, never
    /// blocking), `flock(LOCK_EX|LOCK_NB)`, `fstat`, the name's re-check; a stale file (see
    /// [`pidfile_is_stale`](crate::pidfile_is_stale)) is truncated so that it names no process.
    /// A new file's mode is 0644 (less the umask); see
    /// [`acquire_with_mode`](PidFileLock::acquire_with_mode).
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
        Locked::acquire(path.as_ref(), Pid::current(), None).map(|locked| PidFileLock { locked })
    }

    /// Like [`acquire`](PidFileLock::acquire), with the file's permissions: `mode & 0o777`.
    ///
    /// Use a private mode (`0o600`, as callers of FreeBSD's `pidfile(3)` do) when the file
    /// must keep other users out: anyone who can open a PID file, even read-only, can `flock`
    /// it, and holding that lock makes every later `acquire` fail with
    /// [`AlreadyRunning`](PidFileError::AlreadyRunning) (`pid: None`) after the holder died,
    /// and wins a lock hand-over.
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
    /// std::fs::write(&path, "")?; // stale, and readable by everyone
    /// std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644))?;
    /// let lock = pidfile::PidFileLock::acquire_with_mode(&path, 0o600)?;
    /// assert_eq!(std::fs::metadata(&path)?.permissions().mode() & 0o777, 0o600);
    /// # drop(lock);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As for [`acquire`](PidFileLock::acquire), and [`PidFileError::Io`] with
    /// [`Operation::Chmod`](crate::Operation::Chmod) when a file taken over cannot be narrowed
    /// (it is then removed, as on every failure after the lock).
    pub fn acquire_with_mode(path: impl AsRef<Path>, mode: u32) -> Result<PidFileLock, PidFileError> {
        Locked::acquire(path.as_ref(), Pid::current(), Some(mode)).map(|locked| PidFileLock { locked })
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
        self.locked.path()
    }

    /// The directory the file is in, opened once when it was locked: every later lookup of
    /// the file (the re-check and unlink of [`remove`](PidFileLock::remove)) is relative to
    /// this descriptor. A process that closes descriptors it does not know of (a daemon after
    /// `fork`) must keep this one open too, beside [`as_fd`](AsFd::as_fd)'s. `None` after
    /// [`close_parent_dir`](PidFileLock::close_parent_dir).
    ///
    /// # Examples
    ///
    /// ```
    /// let dir = tempfile::tempdir()?;
    /// let lock = pidfile::PidFileLock::acquire(dir.path().join("app.pid"))?;
    /// assert_eq!(lock.parent_dir().map(|d| d.name()), Some("app.pid".as_ref()));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn parent_dir(&self) -> Option<&ParentDir> {
        self.locked.dir.as_ref()
    }

    /// Closes the descriptor of the file's directory, for a process about to `chroot` (see
    /// [`PidFile::close_parent_dir`]): removal then empties the file instead of unlinking it.
    ///
    /// # Examples
    ///
    /// ```
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("app.pid");
    /// let mut lock = pidfile::PidFileLock::acquire(&path)?;
    /// lock.close_parent_dir();
    /// lock.remove()?;
    /// assert!(path.exists()); // empty: it names nobody
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn close_parent_dir(&mut self) {
        self.locked.close_parent_dir();
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
    /// [`PidFileError::Io`] with [`Operation::Write`](crate::Operation::Write) (e.g. a full disk). The file is left
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
