//! Small files the command writes beside the service as root: `--child-pidfile`, and the tree
//! and state records next to the PID file (`tree.rs`, `state.rs`). One rule for all of them, the project's rule for
//! paths (README, "Security"): the directory is opened once by [`ParentDir::open`], which
//! follows no symbolic link another user could have planted, and everything after that — the
//! write, the rename, the check, the unlink — goes through that directory's descriptor, so a
//! parent renamed or swapped for a symlink later cannot redirect it.

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use pidfile::ParentDir;
use rustix::fs::{AtFlags, Mode, OFlags};
use rustix::io::Errno;

/// A file written whole (a temporary file renamed over the name, so a symlink or hard link
/// planted at the name is replaced, never followed or written through) and removed on drop if
/// the name in the same directory still names it.
pub(crate) struct WrittenFile {
    /// The directory (its own descriptor) and the name in it.
    dir: OwnedFd,
    name: OsString,
    identity: (u64, u64),
    /// [`keep`](WrittenFile::keep) was called: not removed on drop.
    kept: bool,
}

impl WrittenFile {
    /// Writes `content` to `path`, mode 0644, owned by the caller.
    pub(crate) fn write(path: &Path, content: &[u8]) -> io::Result<WrittenFile> {
        let dir = ParentDir::open(path)?;
        WrittenFile::write_in(dir.as_fd(), dir.name(), content)
    }

    /// Writes `content` to `name` in the directory `dir` (a descriptor kept from an earlier
    /// walk, such as the PID file's), mode 0644, owned by the caller.
    pub(crate) fn write_in(dir: BorrowedFd<'_>, name: &OsStr, content: &[u8]) -> io::Result<WrittenFile> {
        let dir = dir.try_clone_to_owned()?;
        let mut temporary = OsString::from(".");
        temporary.push(name);
        temporary.push(format!(".{}.tmp", rustix::process::getpid().as_raw_nonzero()));
        let create = || {
            rustix::fs::openat(
                &dir,
                &temporary,
                OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::from_raw_mode(0o644),
            )
        };
        let fd = match create() {
            // A temporary name left by a crash of ours (the pid is ours now): removed, never
            // followed, and created again.
            Err(Errno::EXIST) => {
                let _ = rustix::fs::unlinkat(&dir, &temporary, AtFlags::empty());
                create()?
            }
            created => created?,
        };
        let written = (|| {
            rustix::fs::fchmod(&fd, Mode::from_raw_mode(0o644))?;
            crate::descriptors::write_all(fd.as_fd(), content)?;
            let stat = rustix::fs::fstat(&fd)?;
            rustix::fs::renameat(&dir, &temporary, &dir, name)?;
            #[allow(clippy::unnecessary_cast)] // `dev_t`/`ino_t` widths differ per platform.
            Ok::<_, io::Error>((stat.st_dev as u64, stat.st_ino as u64))
        })();
        match written {
            Ok(identity) => Ok(WrittenFile { dir, name: name.to_owned(), identity, kept: false }),
            Err(e) => {
                let _ = rustix::fs::unlinkat(&dir, &temporary, AtFlags::empty());
                Err(e)
            }
        }
    }
}

impl WrittenFile {
    /// Leaves the file in place (a failed service's state record, for `status`).
    pub(crate) fn keep(mut self) {
        self.kept = true;
    }
}

impl Drop for WrittenFile {
    fn drop(&mut self) {
        if !self.kept && names(&self.dir, &self.name, self.identity) {
            let _ = rustix::fs::unlinkat(&self.dir, &self.name, AtFlags::empty());
        }
    }
}

/// Whether `name` in `dir` is the file `identity` (device, inode), never following a link.
fn names(dir: impl AsFd, name: &OsStr, identity: (u64, u64)) -> bool {
    #[allow(clippy::unnecessary_cast)]
    rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)
        .is_ok_and(|stat| (stat.st_dev as u64, stat.st_ino as u64) == identity)
}

/// A small file only the caller could have written, as [`read_own`] found it.
pub(crate) struct OwnFile {
    dir: OwnedFd,
    name: OsString,
    identity: (u64, u64),
    pub(crate) content: Vec<u8>,
}

impl OwnFile {
    /// Removes it, if its name (in the directory it was opened in) still names it.
    pub(crate) fn remove(&self) {
        if names(&self.dir, &self.name, self.identity) {
            let _ = rustix::fs::unlinkat(&self.dir, &self.name, AtFlags::empty());
        }
    }
}

/// The first `limit` bytes of a small file only the caller could have written: a regular file
/// with one link, owned by the caller's effective user, writable by nobody else. `Ok(None)`
/// when there is none, or when it is not to be believed (it is then left alone).
pub(crate) fn read_own(dir: BorrowedFd<'_>, name: &OsStr, limit: usize) -> io::Result<Option<OwnFile>> {
    let fd = match rustix::fs::openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC | OFlags::NOCTTY,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(Errno::NOENT | Errno::LOOP | Errno::MLINK | Errno::NXIO) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let stat = rustix::fs::fstat(&fd)?;
    #[allow(clippy::unnecessary_cast)] // `mode_t`/`nlink_t`/`dev_t`/`ino_t` differ per platform.
    let (mode, links, identity) = (stat.st_mode as u32, stat.st_nlink as u64, (stat.st_dev as u64, stat.st_ino as u64));
    let regular = rustix::fs::FileType::from_raw_mode(mode as _) == rustix::fs::FileType::RegularFile;
    if !regular || links != 1 || stat.st_uid != rustix::process::geteuid().as_raw() || mode & 0o022 != 0 {
        return Ok(None);
    }
    let mut content = vec![0u8; limit];
    let mut len = 0;
    while len < limit {
        match rustix::io::pread(&fd, &mut content[len..], len as u64) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    content.truncate(len);
    Ok(Some(OwnFile { dir: dir.try_clone_to_owned()?, name: name.to_owned(), identity, content }))
}

/// `path` with `suffix` appended to its last component (`app.pid` → `app.pid.tree`).
pub(crate) fn with_suffix(path: &Path, suffix: &str) -> std::path::PathBuf {
    let mut name = OsString::from(path.as_os_str());
    name.push(suffix);
    name.into()
}

/// Writes `content` beside the PID file, as its name plus `suffix` (`app.pid.tree`), in the
/// directory `pidfile` keeps open (never through a second walk of the path); removed when the
/// returned file is dropped.
pub(crate) fn write_beside(pidfile: &pidfile::PidFile, suffix: &str, content: &[u8]) -> io::Result<WrittenFile> {
    let Some(dir) = pidfile.parent_dir() else {
        return Err(io::Error::new(io::ErrorKind::NotFound, "the PID file's directory was closed"));
    };
    let mut name = dir.name().to_owned();
    name.push(suffix);
    WrittenFile::write_in(dir.as_fd(), &name, content)
}

/// The first `limit` bytes of the file beside the PID file whose directory is `dir` (its name
/// plus `suffix`), if it is one only the caller could have written ([`read_own`]).
pub(crate) fn read_beside(dir: &ParentDir, suffix: &str, limit: usize) -> Option<OwnFile> {
    let mut name = dir.name().to_owned();
    name.push(suffix);
    read_own(dir.as_fd(), &name, limit).ok()?
}
