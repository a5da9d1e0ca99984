//! Descriptor helpers shared by the start sequence, the supervisor and its files.

use std::os::fd::BorrowedFd;

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
