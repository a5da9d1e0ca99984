//! Linux: `/proc/self/task` and `close_range(2)`.

use std::io;
use std::os::fd::RawFd;

/// The highest signal number (SIGRTMAX, `_NSIG - 1`); the daemon resets 1 up to it.
pub(crate) const LAST_SIGNAL: libc::c_int = 64;

/// The number of threads in this process. procfs reports `/proc/self/task`'s link count as
/// 2 + the number of threads (`proc_task_getattr`), so one `stat` answers; listing the
/// directory is the fallback if that ever looks wrong.
pub(crate) fn thread_count() -> io::Result<Option<usize>> {
    let stat = rustix::fs::stat("/proc/self/task")?;
    #[allow(clippy::unnecessary_cast)] // `nlink_t` is 32 bits on some architectures.
    match (stat.st_nlink as u64).checked_sub(2) {
        Some(threads) if threads >= 1 => Ok(Some(threads as usize)),
        _ => Ok(Some(std::fs::read_dir("/proc/self/task")?.count())),
    }
}

/// Closes `first..=last` with `close_range(2)`; before Linux 5.9 (`ENOSYS`), closes what
/// `/proc/self/fd` lists, else loops up to the soft `RLIMIT_NOFILE`.
pub(crate) fn close_range(first: RawFd, last: RawFd) -> io::Result<()> {
    let (Ok(first_u), Ok(last_u)) = (u32::try_from(first), u32::try_from(last)) else {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    };
    // `libc::syscall` because rustix has no `close_range` and glibc before 2.34 no wrapper.
    // SAFETY: close_range only closes descriptors; the daemon owns no Rust object for any of
    // them (the caller gave up ownership of everything it does not keep).
    let ret = unsafe { libc::syscall(libc::SYS_close_range, first_u, last_u, 0u32) };
    if ret == 0 {
        return Ok(());
    }
    let err = io::Error::last_os_error();
    if err.raw_os_error() != Some(libc::ENOSYS) {
        return Err(err);
    }
    if !super::close_listed("/proc/self/fd", first, last) {
        super::close_each(first, last.min(super::soft_fd_limit().saturating_sub(1)));
    }
    Ok(())
}

/// Closes every descriptor from `first` up.
pub(crate) fn close_from(first: RawFd) -> io::Result<()> {
    close_range(first, RawFd::MAX)
}
