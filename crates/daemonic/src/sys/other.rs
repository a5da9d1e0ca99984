//! macOS and other Unixes: `/dev/fd`, else a loop bounded by the soft `RLIMIT_NOFILE`.

use std::io;
use std::os::fd::RawFd;

/// The highest signal number (macOS: `NSIG - 1`); the daemon resets 1 up to it.
pub(crate) const LAST_SIGNAL: libc::c_int = 31;

/// Not checked here (documented): macOS would need Mach `task_threads`.
pub(crate) fn thread_count() -> io::Result<Option<usize>> {
    Ok(None)
}

pub(crate) fn close_range(first: RawFd, last: RawFd) -> io::Result<()> {
    if !super::close_listed("/dev/fd", first, last) {
        super::close_each(first, last.min(super::soft_fd_limit().saturating_sub(1)));
    }
    Ok(())
}

pub(crate) fn close_from(first: RawFd) -> io::Result<()> {
    close_range(first, RawFd::MAX)
}
