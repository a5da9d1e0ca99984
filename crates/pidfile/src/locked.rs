//! [`Locked`]: the state every holder of a PID file's lock keeps, shared by
//! [`PidFile`](crate::PidFile) and [`PidFileLock`](crate::PidFileLock), and the locking steps
//! (DESIGN rules 1–3) that [`remove_pidfile`](crate::remove_pidfile) uses too.

use std::io::Write as _;
use std::os::fd::OwnedFd;
use std::path::Path;

use rustix::fs::{AtFlags, FlockOperation, Mode, OFlags, Stat};
use rustix::io::Errno;

use crate::dir::ParentDir;
use crate::error::{Operation, PidFileError, Refusal};
use crate::judge::{judge_unlocked, refusal, wait_for_holder, Unlocked, Wait};
use crate::pid::Pid;
use crate::read;

/// How many times to reopen a path that was unlinked or replaced between our `open` and our
/// `flock` (each retry means another process removed or replaced the file in that window).
const MAX_ATTEMPTS: usize = 100;

/// The state every holder of a PID file's lock keeps.
#[derive(Debug)]
pub(crate) struct Locked {
    pub(crate) fd: OwnedFd,
    /// The directory, opened once: every later lookup of the name is relative to it. `None`
    /// once given up ([`Locked::close_parent_dir`]).
    pub(crate) dir: Option<ParentDir>,
    /// The absolute path, for messages.
    path: std::path::PathBuf,
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

impl Locked {
    /// Locks `path`, takes a stale file over (emptied), refuses a live one. `me` is the calling
    /// process (asked once by the caller: every `getpid` is a system call). `mode`: `None` for
    /// the default 0644 (a file taken over keeps its mode), `Some(mode)` to create the file
    /// with `mode` and narrow a file taken over to it.
    #[inline]
    pub(crate) fn acquire(path: &Path, me: Pid, mode: Option<u32>) -> Result<Locked, PidFileError> {
        let dir = read::parent_dir(path)?;
        let create_mode = mode.map_or(read::PID_FILE_MODE, |mode| Mode::from_raw_mode((mode & 0o777) as _));
        let (fd, stat) = lock_trusted(&dir, create_mode)?;
        let mut len = 0;
        if stat.st_size != 0 {
            let content = read::read_content(&fd, dir.path())?;
            if let Unlocked::Live(holder) = judge_unlocked(&content, &stat) {
                return Err(PidFileError::AlreadyRunning { path: dir.path().to_path_buf(), pid: Some(holder) });
            }
            len = content.bytes().len();
        }
        #[allow(clippy::unnecessary_cast)] // `dev_t`/`ino_t` differ in width per platform.
        let (dev, ino) = (stat.st_dev as u64, stat.st_ino as u64);
        let path = dir.path().to_path_buf();
        let mut locked = Locked { fd, dir: Some(dir), path, owner: Some(me), dev, ino, len, written: None };
        if let Some(mode) = mode {
            // A file taken over may have a wider mode than asked for (it let others open it,
            // and so `flock` it): narrow it now that it is ours. A file we created has at most
            // `mode` already (the umask can only narrow it). On failure `locked` drops and
            // removes the file.
            #[allow(clippy::unnecessary_cast)] // `mode_t` is u16 on macOS and the BSDs.
            let old = stat.st_mode as u32 & 0o777;
            if old & !mode != 0 {
                let narrowed = Mode::from_raw_mode((old & mode & 0o777) as _);
                rustix::fs::fchmod(&locked.fd, narrowed).map_err(|e| locked.error(Operation::Chmod, e))?;
            }
        }
        // A stale pid must not stay readable while we hold the lock: readers would take it for
        // ours. On failure `locked` drops here and removes the file it took over.
        locked.truncate()?;
        Ok(locked)
    }

    /// The PID file's absolute path (for messages: lookups go through `dir`).
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Closes the directory's descriptor (a process about to `chroot` must not keep a handle
    /// outside its new root). The file can then no longer be unlinked: removal empties it.
    pub(crate) fn close_parent_dir(&mut self) {
        self.dir = None;
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
    /// written its pid into it since our last write, and the name in our directory still names
    /// our inode.
    ///
    /// The content check is what keeps a parent from unlinking a file that a forked child took
    /// over with its own pid (the child's descriptor shares our lock, so the lock cannot tell).
    /// When the file still holds what we wrote it costs one `pread` of at most 65 bytes; else
    /// an `fstat` and the staleness rule (a dead or reused pid, a zombie on Linux) decide.
    ///
    /// The re-check and the unlink are relative to the directory opened at creation: if the
    /// directory was renamed, or its path now leads somewhere else (a symlink put in its place),
    /// it is still our file's directory that is looked at, never the new path's.
    #[inline]
    pub(crate) fn unlink_if_ours(&mut self) -> Result<(), PidFileError> {
        match self.owner.take() {
            Some(owner) if owner == Pid::current() => {}
            _ => return Ok(()),
        }
        // An error may pass (an interrupted call, a moment without memory): the removal is
        // tried once more. After a second failure the file is emptied, so that it no longer
        // names this process (we still hold its lock), and the error is reported.
        self.remove_owned().or_else(|_| self.remove_owned()).inspect_err(|_| {
            let _ = rustix::fs::ftruncate(&self.fd, 0);
        })
    }

    /// The steps of [`unlink_if_ours`](Locked::unlink_if_ours), for a file this process owns.
    fn remove_owned(&mut self) -> Result<(), PidFileError> {
        let content = read::read_content(&self.fd, self.path())?;
        let line = self.written.map(PidLine::new);
        if content.bytes() != line.as_ref().map_or(&[][..], PidLine::bytes) {
            // Someone sharing this open file (a forked child) wrote since: the file is theirs
            // while it names a live process other than us. A dead or missing pid is stale, and
            // ours to remove (we still hold the lock).
            let stat = read::stat_regular(&self.fd, self.path())?;
            if let Unlocked::Live(_) = judge_unlocked(&content, &stat) {
                return Ok(());
            }
        }
        let Some(dir) = &self.dir else {
            // The directory was given up (a chroot): make sure the file names no process.
            return rustix::fs::ftruncate(&self.fd, 0).map_err(|e| self.error(Operation::Truncate, e));
        };
        let still_ours = match rustix::fs::statat(dir, dir.name(), AtFlags::SYMLINK_NOFOLLOW) {
            #[allow(clippy::unnecessary_cast)]
            Ok(stat) => (stat.st_dev as u64, stat.st_ino as u64) == (self.dev, self.ino),
            Err(Errno::NOENT) => false,
            Err(e) => return Err(self.error(Operation::Stat, e)),
        };
        if !still_ours {
            // Our inode is no longer the name's (removed or replaced): make sure it names no
            // process, and leave the name alone.
            return rustix::fs::ftruncate(&self.fd, 0).map_err(|e| self.error(Operation::Truncate, e));
        }
        match rustix::fs::unlinkat(dir, dir.name(), AtFlags::empty()) {
            Ok(()) | Err(Errno::NOENT) => Ok(()),
            Err(e @ (Errno::ACCESS | Errno::PERM)) => {
                rustix::fs::ftruncate(&self.fd, 0).map_err(|e| self.error(Operation::Truncate, e))?;
                Err(PidFileError::RemoveDenied { path: self.path().to_path_buf(), source: e.into() })
            }
            Err(e) => Err(self.error(Operation::Remove, e)),
        }
    }

    pub(crate) fn error(&self, op: Operation, source: impl Into<std::io::Error>) -> PidFileError {
        PidFileError::io(self.path(), op, source)
    }
}

impl Drop for Locked {
    /// The `Drop` of both public guards: best-effort removal, never a panic. The descriptors
    /// (file and directory) are closed (and this process's share of the lock released) right
    /// after.
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

/// Opens (creating it with `mode` if missing) and locks the file `dir` names for writing, plus
/// the trust rule of the security model:
///
/// - a file with more than one link is refused ([`Refusal::HardLinked`]): writing it would
///   write the other name's file too (with `protected_hardlinks=0`, any file on the filesystem);
/// - as root, an unlocked file that another user owns or that its group or others can write is
///   never written into (its owner could keep making it name any process): since we hold its
///   lock and the name still names it, nobody holds it, and its content is not believed — the
///   name is unlinked (relative to `dir`) and a fresh root-owned file is created in its place.
///   This is safe in any directory: the old inode is never written, and the new one is opened
///   `O_NOFOLLOW` by us. A locked one is reported as `AlreadyRunning` (its holder's pid only if
///   credible).
///
/// The common case costs least: `O_CREAT|O_EXCL` first, and when that creates the file, it is
/// new (no device to refuse unopened, no content), so only `flock`, `fstat` and the name's
/// re-check follow. When something is there (`EEXIST`), the full steps of [`read::open`].
fn lock_trusted(dir: &ParentDir, mode: Mode) -> Result<(OwnedFd, Stat), PidFileError> {
    let path = dir.path();
    for _ in 0..MAX_ATTEMPTS {
        let (fd, created) = match read::create_new(dir, path, mode)? {
            Some(fd) => (fd, true),
            None => (read::open(dir, path, OFlags::RDWR | OFlags::CREATE, mode)?, false),
        };
        let stat = match lock_opened(dir, path, &fd) {
            Ok(Some(stat)) => stat,
            Ok(None) => continue,
            Err(e) => {
                // Only now, on the way out: the file this call created, to remove it (from the
                // descriptor, or if `fstat` fails too from the name, which names it unless
                // someone raced us: `remove_created` checks it again).
                let identity =
                    rustix::fs::fstat(&fd).or_else(|_| rustix::fs::statat(dir, dir.name(), AtFlags::SYMLINK_NOFOLLOW));
                if let (true, Ok(created)) = (created, identity) {
                    drop(fd);
                    remove_created(dir, &created, &e);
                }
                return Err(e);
            }
        };
        match refusal(&stat) {
            None => return Ok((fd, stat)),
            Some(reason @ Refusal::HardLinked { .. }) => {
                return Err(PidFileError::Refused { path: path.to_path_buf(), reason });
            }
            Some(_) => match rustix::fs::unlinkat(dir, dir.name(), AtFlags::empty()) {
                // Replaced in the next attempt by a fresh file (`O_EXCL` creates it).
                Ok(()) | Err(Errno::NOENT) => {}
                Err(e) => return Err(PidFileError::io(path, Operation::Remove, e)),
            },
        }
    }
    Err(PidFileError::io(
        path,
        Operation::Lock,
        std::io::Error::other(format!(
            "the file was removed or replaced, or a file owned by another user reappeared, {MAX_ATTEMPTS} times while being locked"
        )),
    ))
}

/// After the file this call created (`created`, its `fstat`) could not be locked or examined:
/// remove it rather than leave an empty file behind, when that cannot hurt anyone. With
/// `ENOLCK` (no locks on this filesystem: NFS without a lock daemon) nobody can hold it; after
/// any other error, only if its lock can be taken now (so nobody else holds it). Either way only
/// while the name still names that file, empty.
#[cold]
fn remove_created(dir: &ParentDir, created: &Stat, error: &PidFileError) {
    let no_locks = matches!(error, PidFileError::Io { op: Operation::Lock, source, .. } if source.raw_os_error() == Some(Errno::NOLCK.raw_os_error()));
    let Ok(fd) = rustix::fs::openat(dir, dir.name(), OFlags::RDONLY | read::SAFE_OPEN, Mode::empty()) else { return };
    if !no_locks && rustix::fs::flock(&fd, FlockOperation::NonBlockingLockExclusive).is_err() {
        return;
    }
    let same = rustix::fs::fstat(&fd).is_ok_and(|now| {
        (now.st_dev, now.st_ino) == (created.st_dev, created.st_ino) && now.st_size == 0 && now.st_nlink == 1
    });
    if same && read::names_inode(dir, dir.path(), created).unwrap_or(false) {
        let _ = rustix::fs::unlinkat(dir, dir.name(), AtFlags::empty());
    }
}

/// Opens the file `dir` names and takes its exclusive lock, retrying while the name is unlinked
/// or replaced between the `open` and the `flock` (DESIGN rule 2: without this re-check, two
/// processes can each hold a lock, one on a file that no longer has a name). `path` is for
/// messages.
#[inline]
pub(crate) fn lock_path(dir: &ParentDir, path: &Path, flags: OFlags) -> Result<(OwnedFd, Stat), PidFileError> {
    for _ in 0..MAX_ATTEMPTS {
        let fd = read::open(dir, path, flags, read::PID_FILE_MODE)?;
        if let Some(stat) = lock_opened(dir, path, &fd)? {
            return Ok((fd, stat));
        }
    }
    Err(PidFileError::io(
        path,
        Operation::Lock,
        std::io::Error::other(format!("the file was removed or replaced {MAX_ATTEMPTS} times while being locked")),
    ))
}

/// `flock(LOCK_EX|LOCK_NB)` of a freshly opened `fd`, `fstat`, and the name's re-check: the
/// locked file's `fstat`, or `Ok(None)` when the name no longer names the locked inode (open
/// again).
#[inline]
fn lock_opened(dir: &ParentDir, path: &Path, fd: &OwnedFd) -> Result<Option<Stat>, PidFileError> {
    let locked = rustix::fs::flock(fd, FlockOperation::NonBlockingLockExclusive);
    // fstat after flock: the size and mtime are then those no other locker can change.
    let stat = read::stat_regular(fd, path)?;
    match locked {
        Ok(()) => {}
        Err(Errno::WOULDBLOCK) => {
            if let Wait::Locked(pid, _) = wait_for_holder(fd, path, FlockOperation::NonBlockingLockExclusive)? {
                return Err(PidFileError::AlreadyRunning { path: path.to_path_buf(), pid });
            }
        }
        Err(e) => return Err(PidFileError::io(path, Operation::Lock, e)),
    }
    Ok(read::names_inode(dir, path, &stat)?.then_some(stat))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pid_lines_are_the_decimal_pid_and_one_newline() {
        assert_eq!(PidLine::new(Pid::new(1).unwrap()).bytes(), b"1\n");
        assert_eq!(PidLine::new(Pid::new(Pid::MAX).unwrap()).bytes(), b"2147483647\n");
    }

    /// The guard of a process that is not the owner (a forked child that inherited it, which
    /// the crate's tests cannot make without `fork`) only closes: the file stays, with its
    /// content, and its lock is free again.
    #[test]
    fn a_guard_owned_by_another_process_leaves_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.pid");
        let mut locked = Locked::acquire(&path, Pid::current(), None).unwrap();
        locked.write(Pid::current(), Pid::current()).unwrap();
        locked.owner = Pid::new(1);
        assert_eq!(locked.unlink_if_ours().map_err(|e| e.to_string()), Ok(()));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), format!("{}\n", Pid::current()));
        locked.owner = Pid::new(1);
        drop(locked);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), format!("{}\n", Pid::current()));
        // Nobody holds it: a new guard takes it over (it names this process, so it is stale).
        let again = Locked::acquire(&path, Pid::current(), None).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"");
        drop(again);
        assert!(!path.exists(), "the owner's drop removes it");
    }

    /// Only an empty file is not truncated again; a file with content is emptied before the
    /// new, shorter line is written.
    #[test]
    fn a_shorter_pid_replaces_a_longer_one_entirely() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.pid");
        let mut locked = Locked::acquire(&path, Pid::current(), None).unwrap();
        locked.write(Pid::new(1_234_567).unwrap(), Pid::current()).unwrap();
        assert_eq!((std::fs::read(&path).unwrap(), locked.len), (b"1234567\n".to_vec(), 8));
        locked.write(Pid::new(7).unwrap(), Pid::current()).unwrap();
        assert_eq!((std::fs::read(&path).unwrap(), locked.len), (b"7\n".to_vec(), 2));
        assert_eq!(locked.written, Pid::new(7));
    }
}
