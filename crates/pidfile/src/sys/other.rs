//! Other Unix platforms (Solaris, illumos, AIX, ...): the state and start time of another process
//! are not read, so PID reuse by a non-locking writer is not detected there. Locked files are
//! unaffected: the kernel lock, not the content, decides.

use crate::Pid;

pub(crate) fn not_the_writer(_pid: Pid, _stat: &rustix::fs::Stat) -> bool {
    false
}

/// Which files another process has open is not readable here: unknown.
pub(crate) fn has_open(_pid: Pid, _dev: u64, _ino: u64) -> Option<bool> {
    None
}
