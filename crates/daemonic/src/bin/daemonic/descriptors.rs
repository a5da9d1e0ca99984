//! Descriptor helpers shared by the start sequence, the supervisor and its files.

use std::os::fd::BorrowedFd;
#[cfg(any(target_os = "linux", target_os = "android"))]
use std::os::fd::OwnedFd;

pub(crate) fn clear_cloexec(fd: BorrowedFd<'_>) -> std::io::Result<()> {
    let flags = rustix::io::fcntl_getfd(fd)?;
    rustix::io::fcntl_setfd(fd, flags - rustix::io::FdFlags::CLOEXEC)?;
    Ok(())
}

pub(crate) fn set_cloexec(fd: BorrowedFd<'_>) -> std::io::Result<()> {
    let flags = rustix::io::fcntl_getfd(fd)?;
    rustix::io::fcntl_setfd(fd, flags | rustix::io::FdFlags::CLOEXEC)?;
    Ok(())
}

/// Writes all of `bytes`, retrying short writes and `EINTR`.
pub(crate) fn write_all(fd: BorrowedFd<'_>, mut bytes: &[u8]) -> std::io::Result<()> {
    while !bytes.is_empty() {
        match rustix::io::write(fd, bytes) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => bytes = &bytes[n..],
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// A new open file description of the file `fd` is, opened with `flags` through
/// `/proc/self/fd/N` (a magic link to exactly that inode, not a path anyone can redirect),
/// once `/proc` is proved to be procfs (`fstatfs`): a directory planted as `/proc` (in a
/// chroot, say) could make `self/fd/N` name a device or a FIFO, which opening alone affects.
/// The caller still compares the identity (`fstat`) with what it expects.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn reopen(fd: BorrowedFd<'_>, flags: rustix::fs::OFlags) -> std::io::Result<OwnedFd> {
    use rustix::fs::{Mode, OFlags};
    use std::os::fd::AsRawFd;
    let proc = rustix::fs::open("/proc", OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())?;
    if rustix::fs::fstatfs(&proc)?.f_type != rustix::fs::PROC_SUPER_MAGIC {
        return Err(std::io::Error::other("/proc is not procfs"));
    }
    Ok(rustix::fs::openat(&proc, format!("self/fd/{}", fd.as_raw_fd()).as_str(), flags, Mode::empty())?)
}
