//! Descriptor hygiene in the daemon: close everything inherited except what is kept.

use std::io;
use std::os::fd::RawFd;

use crate::sys;

/// Closes every descriptor `>= 3` that is not in `keep`, with one `close_range` per gap between
/// kept descriptors (never a loop over the whole `RLIMIT_NOFILE`, which can be 2^30). Sorts
/// `keep` in place: no allocation in the daemon.
pub(crate) fn close_inherited_fds(keep: &mut [RawFd]) -> io::Result<()> {
    keep.sort_unstable();
    let mut next = 3;
    for &fd in keep.iter() {
        if fd < next {
            // Below 3, or a duplicate.
            continue;
        }
        if fd > next {
            sys::close_range(next, fd - 1)?;
        }
        next = fd.saturating_add(1);
    }
    if next < RawFd::MAX {
        sys::close_from(next)?;
    }
    Ok(())
}
