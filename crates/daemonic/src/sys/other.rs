//! macOS and other Unixes: `/dev/fd`, else a loop bounded by the soft `RLIMIT_NOFILE`; the
//! thread count from `proc_pidinfo` on macOS.

use std::io;
use std::os::fd::RawFd;

/// The highest signal number (macOS: `NSIG - 1`); the daemon resets 1 up to it.
pub(crate) const LAST_SIGNAL: libc::c_int = 31;

/// macOS: `proc_pidinfo(PROC_PIDTASKINFO)` `pti_threadnum`. Other Unixes: not checked.
pub(crate) fn thread_count() -> io::Result<Option<usize>> {
    #[cfg(target_vendor = "apple")]
    {
        // SAFETY: an all-zero `proc_taskinfo` (integers only) is valid storage to fill.
        let mut info: libc::proc_taskinfo = unsafe { std::mem::zeroed() };
        let size = std::mem::size_of::<libc::proc_taskinfo>() as libc::c_int;
        // SAFETY: `info` is writable storage of `size` bytes for this flavor.
        let filled = unsafe {
            libc::proc_pidinfo(
                std::process::id() as libc::c_int,
                libc::PROC_PIDTASKINFO,
                0,
                (&mut info as *mut libc::proc_taskinfo).cast(),
                size,
            )
        };
        if filled != size {
            return Err(io::Error::last_os_error());
        }
        Ok(usize::try_from(info.pti_threadnum).ok())
    }
    #[cfg(not(target_vendor = "apple"))]
    {
        Ok(None)
    }
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
