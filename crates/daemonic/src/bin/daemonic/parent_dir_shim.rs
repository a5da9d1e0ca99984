//! TEMPORARY stand-in for `pidfile::ParentDir` (being written on another branch).
use std::ffi::{OsStr, OsString};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

pub(crate) struct ParentDir {
    fd: OwnedFd,
    name: OsString,
    path: PathBuf,
}

impl ParentDir {
    pub(crate) fn open(path: impl AsRef<Path>) -> std::io::Result<ParentDir> {
        let path = std::path::absolute(path.as_ref())?;
        let name = path.file_name().ok_or(std::io::ErrorKind::InvalidInput)?.to_owned();
        let parent = path.parent().unwrap_or(Path::new("/"));
        let fd = rustix::fs::open(
            parent,
            rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )?;
        Ok(ParentDir { fd, name, path })
    }
    pub(crate) fn name(&self) -> &OsStr {
        &self.name
    }
    #[allow(dead_code)]
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

impl AsFd for ParentDir {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// TEMPORARY: `Inspection::directory_stat` until pidfile has it.
pub(crate) trait DirectoryStat {
    fn directory_stat(&self) -> std::io::Result<rustix::fs::Stat>;
}

impl DirectoryStat for pidfile::Inspection {
    fn directory_stat(&self) -> std::io::Result<rustix::fs::Stat> {
        Ok(rustix::fs::fstat(ParentDir::open(self.path())?)?)
    }
}
