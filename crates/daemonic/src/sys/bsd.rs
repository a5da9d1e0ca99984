//! FreeBSD, DragonFly, NetBSD, OpenBSD: `closefrom`.

use std::io;
use std::os::fd::RawFd;

/// The highest signal number; the daemon resets 1 up to it.
#[cfg(any(target_os = "freebsd", target_os = "dragonfly"))]
pub(crate) const LAST_SIGNAL: libc::c_int = 128; // _SIG_MAXSIG
#[cfg(target_os = "netbsd")]
pub(crate) const LAST_SIGNAL: libc::c_int = 63; // NSIG - 1
#[cfg(target_os = "openbsd")]
pub(crate) const LAST_SIGNAL: libc::c_int = 32; // NSIG - 1

/// Not checked on the BSDs (documented): counting threads needs `sysctl(KERN_PROC)`, whose
/// layout differs per BSD and release.
pub(crate) fn thread_count() -> io::Result<Option<usize>> {
    Ok(None)
}

/// The gaps between kept descriptors are small (bounded by the largest kept fd): a loop.
pub(crate) fn close_range(first: RawFd, last: RawFd) -> io::Result<()> {
    super::close_each(first, last);
    Ok(())
}

/// `closefrom(first)`.
pub(crate) fn close_from(first: RawFd) -> io::Result<()> {
    // SAFETY: closefrom only closes descriptors; the daemon owns no Rust object for them.
    #[cfg(target_os = "freebsd")]
    unsafe {
        // FreeBSD's closefrom returns void.
        libc::closefrom(first);
        Ok(())
    }
    // SAFETY: as above.
    #[cfg(not(target_os = "freebsd"))]
    super::ok_or_errno(unsafe { libc::closefrom(first) })
}
