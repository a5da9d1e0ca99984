//! [`inspect`]: one open of a PID file, and every fact a `status` or `stop` command decides on,
//! taken from that one descriptor; and the answers built on it, [`running_pid`] and
//! [`pidfile_is_stale`].

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{FlockOperation, Mode, OFlags, Stat};
use rustix::io::Errno;

use crate::dir::ParentDir;
use crate::error::{Operation, PidFileError, Refusal};
use crate::judge::{
    credible_holder, judge_unlocked, refusal, unlink_stale, wait_for_holder, Holder, Unlinked, Unlocked, Wait,
};
use crate::pid::Pid;
use crate::read::{self, Content};
use crate::sys;

/// What one look at a PID file found, all of it through one descriptor: its lock, its content,
/// its owner, mode and link count (`fstat`). Returned by [`inspect`].
///
/// A command that acts on a PID file (signals its holder, removes it) must decide on one
/// descriptor, never on a second lookup of the path: between two lookups anyone who can write
/// the directory can delete, replace or exchange (`renameat2(RENAME_EXCHANGE)`) the file. The
/// inspection keeps its descriptor open, so later checks ([`is_released`](Inspection::is_released),
/// [`holds_open`](Inspection::holds_open)) and the removal
/// ([`remove_if_stale`](Inspection::remove_if_stale)) are about the same file.
///
/// # Examples
///
/// ```
/// use pidfile::{Holder, PidFile};
///
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("app.pid");
/// assert!(pidfile::inspect(&path)?.is_none());
///
/// std::fs::write(&path, "999999999\n")?; // left by a crash
/// let seen = pidfile::inspect(&path)?.unwrap();
/// assert_eq!((seen.holder(), seen.pid(), seen.links()), (Holder::Nobody, pidfile::Pid::new(999999999), 1));
/// assert!(seen.remove_if_stale()?);
/// assert!(!path.exists());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Inspection {
    fd: OwnedFd,
    /// The directory, opened once: the removal's re-check and unlink are relative to it.
    dir: ParentDir,
    path: PathBuf,
    stat: Stat,
    content: Content,
    /// `Some(holder)` when it was locked (the holder if credible), `None` when it was not.
    locked: Option<Option<Pid>>,
    unlocked: Unlocked,
}

/// Opens the PID file once, read-only, and reports what it shows: holder, content, owner, mode
/// and link count, all from that descriptor. `Ok(None)` when there is no file (or no
/// directory).
///
/// The directory is opened first ([`ParentDir::open`]: no symbolic link another user could
/// have planted is followed on the way) and kept with the inspection, so that
/// [`remove_if_stale`](Inspection::remove_if_stale) looks in that same directory.
///
/// The lock is tested with `LOCK_SH|LOCK_NB`, held only for the microseconds of the test. A
/// locked file whose content names no credible holder is re-read for up to 100 ms (a new
/// holder between its `flock` and its `write`), as in [`running_pid`](crate::running_pid).
/// The file is never modified.
///
/// # Examples
///
/// ```
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("app.pid");
/// let guard = pidfile::PidFile::create(&path)?;
/// let seen = pidfile::inspect(&path)?.unwrap();
/// assert!(seen.is_locked());
/// assert_eq!(seen.pid(), Some(guard.pid()));
/// assert_eq!(seen.mode() & 0o022, 0); // 0644 less the umask
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// - [`PidFileError::NotRegularFile`] for a symlink, FIFO, socket, device or directory (never
///   opened);
/// - [`PidFileError::Io`] when the file exists but cannot be opened, locked or read, or the
///   directory cannot be reached (a refused symbolic link on the way: [`Operation::Open`],
///   kind [`PermissionDenied`](std::io::ErrorKind::PermissionDenied)).
pub fn inspect(path: impl AsRef<Path>) -> Result<Option<Inspection>, PidFileError> {
    let path = path.as_ref();
    let not_found = |e: &PidFileError| matches!(e, PidFileError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound);
    let dir = match read::parent_dir(path) {
        Ok(dir) => dir,
        Err(e) if not_found(&e) => return Ok(None),
        Err(e) => return Err(e),
    };
    let fd = match read::open(&dir, path, OFlags::RDONLY, Mode::empty()) {
        Ok(fd) => fd,
        Err(e) if not_found(&e) => return Ok(None),
        Err(e) => return Err(e),
    };
    let (locked, read) = match rustix::fs::flock(&fd, FlockOperation::NonBlockingLockShared) {
        Ok(()) => (None, None),
        Err(Errno::WOULDBLOCK) => match wait_for_holder(&fd, path, FlockOperation::NonBlockingLockShared)? {
            Wait::Released => (None, None),
            Wait::Locked(holder, content) => (Some(holder), Some(content)),
        },
        Err(e) => return Err(PidFileError::io(path, Operation::Lock, e)),
    };
    if locked.is_none() {
        unlock_private(&fd, path)?;
    }
    // After the lock test: what the holder wrote (the wait's last read, if it waited), and the
    // mtime of that write.
    let stat = read::stat_regular(&fd, path)?;
    let content = match read {
        Some(content) => content,
        None => read::read_content(&fd, path)?,
    };
    let unlocked = judge_unlocked(&content, &stat);
    Ok(Some(Inspection { fd, dir, path: path.to_path_buf(), stat, content, locked, unlocked }))
}

/// Drops the shared lock our test just took. `LOCK_UN` releases a lock for every descriptor of
/// the same open file description; this one was opened here, is close-on-exec and is never
/// shared, so only our own test lock goes (kept, it would make a `create` meanwhile fail).
fn unlock_private(fd: &OwnedFd, path: &Path) -> Result<(), PidFileError> {
    rustix::fs::flock(fd, FlockOperation::Unlock).map_err(|e| PidFileError::io(path, Operation::Lock, e))
}

impl Inspection {
    /// The directory the file is in, opened once by [`inspect`] (no symbolic link another
    /// user could have planted followed on the way): [`remove_if_stale`](Inspection::remove_if_stale)
    /// looks and unlinks there, and a caller can judge the directory itself (`fstat`) on it.
    ///
    /// # Examples
    ///
    /// ```
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("app.pid");
    /// std::fs::write(&path, "")?;
    /// let seen = pidfile::inspect(&path)?.unwrap();
    /// assert_eq!(seen.parent_dir().name(), "app.pid");
    /// assert!(rustix::fs::fstat(seen.parent_dir())?.st_mode & 0o170000 == 0o040000); // a directory
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn parent_dir(&self) -> &ParentDir {
        &self.dir
    }

    /// The path given to [`inspect`].
    ///
    /// # Examples
    ///
    /// ```
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("app.pid");
    /// std::fs::write(&path, "")?;
    /// assert_eq!(pidfile::inspect(&path)?.unwrap().path(), path);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Who holds the file (see [`Holder`]): the credible holder of a locked file, the live
    /// non-locking writer of an unlocked one, [`Holder::Unknown`] for a lock nobody credible
    /// claims, [`Holder::Nobody`] for a stale file.
    ///
    /// # Examples
    ///
    /// ```
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("app.pid");
    /// std::fs::write(&path, "garbage")?;
    /// assert_eq!(pidfile::inspect(&path)?.unwrap().holder(), pidfile::Holder::Nobody);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn holder(&self) -> Holder {
        match (self.locked, &self.unlocked) {
            (Some(Some(pid)), _) => Holder::Process(pid),
            (Some(None), _) => Holder::Unknown,
            (None, Unlocked::Live(pid)) => Holder::Process(*pid),
            (None, Unlocked::Stale) => Holder::Nobody,
        }
    }

    /// Whether the file was locked when inspected.
    ///
    /// # Examples
    ///
    /// ```
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("app.pid");
    /// let guard = pidfile::PidFile::create(&path)?;
    /// assert!(pidfile::inspect(&path)?.unwrap().is_locked());
    /// # drop(guard);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_locked(&self) -> bool {
        self.locked.is_some()
    }

    /// Whether the file is stale: unlocked, and naming no live process that could have written
    /// it (see [`pidfile_is_stale`](crate::pidfile_is_stale)).
    ///
    /// # Examples
    ///
    /// ```
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("app.pid");
    /// std::fs::write(&path, "")?;
    /// assert!(pidfile::inspect(&path)?.unwrap().is_stale());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_stale(&self) -> bool {
        self.holder() == Holder::Nobody
    }

    /// The pid the file's content names, if it is a valid pid — whether or not that process
    /// holds the file ([`holder`](Inspection::holder) says that).
    ///
    /// # Examples
    ///
    /// ```
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("app.pid");
    /// std::fs::write(&path, "42\n")?;
    /// assert_eq!(pidfile::inspect(&path)?.unwrap().pid(), pidfile::Pid::new(42));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn pid(&self) -> Option<Pid> {
        self.content.pid().ok()
    }

    /// The pid the content names, read strictly as [`read_pid`](crate::read_pid) does but from
    /// the inspected descriptor's content.
    ///
    /// # Examples
    ///
    /// ```
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("app.pid");
    /// std::fs::write(&path, "12abc\n")?;
    /// let err = pidfile::inspect(&path)?.unwrap().read_pid().unwrap_err();
    /// assert!(matches!(err, pidfile::PidFileError::Malformed { .. }));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`PidFileError::Malformed`] when the content is not exactly one valid pid.
    pub fn read_pid(&self) -> Result<Pid, PidFileError> {
        self.content.pid_or_malformed(&self.path)
    }

    /// The file's owner (`st_uid`).
    ///
    /// # Examples
    ///
    /// ```
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("app.pid");
    /// std::fs::write(&path, "")?;
    /// assert_eq!(pidfile::inspect(&path)?.unwrap().owner(), rustix::process::geteuid().as_raw());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn owner(&self) -> u32 {
        self.stat.st_uid
    }

    /// The file's permission bits (`st_mode & 0o7777`).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::os::unix::fs::PermissionsExt;
    ///
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("app.pid");
    /// std::fs::write(&path, "")?;
    /// std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640))?;
    /// assert_eq!(pidfile::inspect(&path)?.unwrap().mode(), 0o640);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn mode(&self) -> u32 {
        #[allow(clippy::unnecessary_cast)] // `mode_t` is u16 on macOS and the BSDs.
        let mode = self.stat.st_mode as u32;
        mode & 0o7777
    }

    /// The file's link count (`st_nlink`): more than 1 means another name shares it.
    ///
    /// # Examples
    ///
    /// ```
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("app.pid");
    /// std::fs::write(&path, "")?;
    /// std::fs::hard_link(&path, dir.path().join("other"))?;
    /// assert_eq!(pidfile::inspect(&path)?.unwrap().links(), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn links(&self) -> u64 {
        #[allow(clippy::unnecessary_cast)] // `nlink_t` differs in width per platform.
        let links = self.stat.st_nlink as u64;
        links
    }

    /// Why the calling process should not act on this file's word (signal the pid it names):
    /// it has more than one link, or — when the caller is root — another user owns it or its
    /// group or others can write it, so someone else could have made it name any process.
    /// `None` when it is trustworthy.
    ///
    /// # Examples
    ///
    /// ```
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("app.pid");
    /// std::fs::write(&path, "")?;
    /// std::fs::hard_link(&path, dir.path().join("other"))?;
    /// assert_eq!(
    ///     pidfile::inspect(&path)?.unwrap().refusal(),
    ///     Some(pidfile::Refusal::HardLinked { links: 2 })
    /// );
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn refusal(&self) -> Option<Refusal> {
        refusal(&self.stat)
    }

    /// Whether process `pid` has this very file open (Linux: `/proc/PID/fd`, compared by device
    /// and inode). `None` when that cannot be told: another user's process without privileges,
    /// or a platform without `/proc`. A process that does not have the file open cannot hold its
    /// lock: check this before signalling the pid a locked file names.
    ///
    /// # Examples
    ///
    /// ```
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("app.pid");
    /// let guard = pidfile::PidFile::create(&path)?;
    /// let seen = pidfile::inspect(&path)?.unwrap();
    /// if cfg!(target_os = "linux") {
    ///     assert_eq!(seen.holds_open(guard.pid()), Some(true));
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Platform notes
    ///
    /// Linux only; `None` elsewhere.
    pub fn holds_open(&self, pid: Pid) -> Option<bool> {
        #[allow(clippy::unnecessary_cast)]
        sys::has_open(pid, self.stat.st_dev as u64, self.stat.st_ino as u64)
    }

    /// Whether the file, read again now through the inspection's descriptor, still names `pid`
    /// as a credible writer: the content is `pid` again, the process is alive, not a zombie or
    /// kernel thread, not younger than the file, and (Linux, for a file that was locked) has
    /// the file open.
    ///
    /// For a `stop` command after it pinned `pid` (a pidfd on Linux): between the inspection
    /// and the pidfd, the named process may have exited and its pid gone to a process that
    /// merely has the file open (another start, a reader). That process started after the file
    /// was written, or the file was rewritten since; either way this answers `false`. The
    /// model checker found this window (`crates/pidfile/model`, property `truthful_reports`).
    ///
    /// # Examples
    ///
    /// ```
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("app.pid");
    /// let guard = pidfile::PidFile::create(&path)?;
    /// let seen = pidfile::inspect(&path)?.unwrap();
    /// assert!(seen.still_names(guard.pid())?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`PidFileError::Io`] when the file cannot be read or `fstat`ed.
    pub fn still_names(&self, pid: Pid) -> Result<bool, PidFileError> {
        let content = read::read_content(&self.fd, &self.path)?;
        if content.pid().ok() != Some(pid) {
            return Ok(false);
        }
        if self.locked.is_some() {
            return Ok(credible_holder(self.fd.as_fd(), &self.path, &content)? == Some(pid));
        }
        // A non-locking writer need not keep the file open: rule 4 alone.
        let stat = read::stat_regular(&self.fd, &self.path)?;
        Ok(judge_unlocked(&content, &stat) == Unlocked::Live(pid))
    }

    /// Whether nobody holds this file's lock any more (tested on the inspection's own
    /// descriptor with `LOCK_SH|LOCK_NB`, so it is about the same file whatever happened to the
    /// path): after a signal, the proof that the holder exited.
    ///
    /// # Examples
    ///
    /// ```
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("app.pid");
    /// let guard = pidfile::PidFile::create(&path)?;
    /// let seen = pidfile::inspect(&path)?.unwrap();
    /// assert!(!seen.is_released()?);
    /// drop(guard);
    /// assert!(seen.is_released()?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`PidFileError::Io`] with [`Operation::Lock`].
    pub fn is_released(&self) -> Result<bool, PidFileError> {
        match rustix::fs::flock(&self.fd, FlockOperation::NonBlockingLockShared) {
            Ok(()) => unlock_private(&self.fd, &self.path).map(|()| true),
            Err(Errno::WOULDBLOCK) => Ok(false),
            Err(e) => Err(PidFileError::io(&self.path, Operation::Lock, e)),
        }
    }

    /// Removes the file if it is (still) stale and the path still names the inspected file:
    /// takes its exclusive lock on the inspection's descriptor, re-reads it, checks the name
    /// with `fstatat` relative to the directory [`inspect`] opened, and unlinks (`unlinkat`,
    /// relative to the same directory) while locked: a directory renamed or replaced on the
    /// way since the inspection redirects nothing. Returns whether it removed the file; a file
    /// someone holds, rewrote with a live pid, or replaced at the path is left alone.
    ///
    /// # Examples
    ///
    /// ```
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("app.pid");
    /// std::fs::write(&path, "999999999\n")?;
    /// assert!(pidfile::inspect(&path)?.unwrap().remove_if_stale()?);
    /// assert!(!path.exists());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`PidFileError::Io`] when locking, reading or unlinking fails (other than the file being
    /// gone already).
    pub fn remove_if_stale(self) -> Result<bool, PidFileError> {
        let path = &self.path;
        match rustix::fs::flock(&self.fd, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => {}
            Err(Errno::WOULDBLOCK) => return Ok(false),
            Err(e) => return Err(PidFileError::io(path, Operation::Lock, e)),
        }
        let stat = read::stat_regular(&self.fd, path)?;
        if !read::names_inode(&self.dir, path, &stat)? {
            return Ok(false);
        }
        Ok(matches!(unlink_stale(&self.fd, &self.dir, path, &stat)?, Unlinked::Removed))
    }
}

impl AsFd for Inspection {
    /// The inspection's read-only descriptor.
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
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
    match inspect(path)? {
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
    Ok(inspect(path.as_ref())?.is_some_and(|inspection| inspection.is_stale()))
}
