//! Platform backends. Only one kind of fact differs between platforms here: whether the process
//! a PID file names can be examined further than `kill(pid, 0)` — zombie state, start time,
//! kernel thread, which files it has open — for the staleness of unlocked files and the
//! credibility of a lock's holder. Linux reads `/proc` (all four); macOS and the BSDs ask the
//! kernel's process table (all but the open files, see `bsd.rs`); elsewhere none is checked.

use std::time::{Duration, SystemTime};

#[cfg(any(target_os = "linux", target_os = "android"))]
#[path = "linux.rs"]
mod imp;
#[cfg(any(
    target_vendor = "apple",
    target_os = "freebsd",
    target_os = "dragonfly",
    target_os = "netbsd",
    target_os = "openbsd"
))]
#[path = "bsd.rs"]
mod imp;
#[cfg(not(any(
    target_os = "linux",
    target_os = "android",
    target_vendor = "apple",
    target_os = "freebsd",
    target_os = "dragonfly",
    target_os = "netbsd",
    target_os = "openbsd"
)))]
#[path = "other.rs"]
mod imp;

pub(crate) use imp::{has_open, not_the_writer};

/// What the platform tells about another process.
#[allow(dead_code)] // Unused on platforms without a backend (`other.rs`).
pub(crate) struct ProcessFacts {
    pub(crate) zombie: bool,
    pub(crate) kernel_thread: bool,
    pub(crate) started: Option<SystemTime>,
}

/// How much later than the file's mtime a process must have started to count as a reused pid.
/// Absorbs clock-tick truncation (`/proc` start times are in 1/HZ s), the coarse filesystem clock
/// and small wall-clock adjustments; real PID reuse happens minutes to years after the write.
#[allow(dead_code)]
const REUSE_SLACK: Duration = Duration::from_secs(1);

#[allow(dead_code)]
impl ProcessFacts {
    /// Whether this process cannot have written the file described by `stat`: it is a zombie
    /// (it exited; `kill(pid, 0)` still succeeds until it is reaped), a kernel thread, or it
    /// started after the file was last modified. `false` when it cannot tell.
    pub(crate) fn rules_out_writer(&self, stat: &rustix::fs::Stat) -> bool {
        if self.zombie || self.kernel_thread {
            return true;
        }
        // `st_mtime_nsec` is `u32` on some targets (i686 Linux) and `i64` on others: the
        // conversion is needed on one and useless on the other.
        #[allow(clippy::useless_conversion, clippy::unnecessary_fallible_conversions)]
        let (Ok(secs), Ok(nanos)) = (u64::try_from(stat.st_mtime), u32::try_from(stat.st_mtime_nsec)) else {
            return false;
        };
        let Some(written) = SystemTime::UNIX_EPOCH.checked_add(Duration::new(secs, nanos)) else {
            return false;
        };
        self.started.is_some_and(|started| started > written + REUSE_SLACK)
    }
}
