//! macOS and the BSDs: the state and start time of another process are not readable without `sysctl`
//! (`kern.proc.pid`), whose structure layout differs per OS and release; this crate does not
//! depend on `libc`, so PID reuse by a non-locking writer is not detected there. Locked files are
//! unaffected: the kernel lock, not the content, decides.

use crate::Pid;

pub(crate) fn not_the_writer(_pid: Pid, _stat: &rustix::fs::Stat) -> bool {
    false
}

/// Which files another process has open is not readable here: unknown.
pub(crate) fn has_open(_pid: Pid, _dev: u64, _ino: u64) -> Option<bool> {
    None
}
