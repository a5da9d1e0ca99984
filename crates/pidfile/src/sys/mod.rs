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

#[cfg(test)]
mod tests {
    use super::*;

    /// The `fstat` of a real file, its mtime set to `secs` + `nanos` after the epoch.
    fn stat_written_at(secs: i64, nanos: u32) -> rustix::fs::Stat {
        let file = tempfile::tempfile().unwrap();
        let mut stat = rustix::fs::fstat(&file).unwrap();
        stat.st_mtime = secs as _;
        stat.st_mtime_nsec = nanos as _;
        stat
    }

    fn started(secs: u64, millis: u64) -> ProcessFacts {
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_millis(millis);
        ProcessFacts { zombie: false, kernel_thread: false, started: Some(at) }
    }

    #[test]
    fn a_process_started_more_than_the_slack_after_the_write_is_not_the_writer() {
        let stat = stat_written_at(1_000_000, 500_000_000);
        // Before the write, and within the one-second slack after it: could be the writer.
        assert!(!started(999_999, 0).rules_out_writer(&stat));
        assert!(!started(1_000_000, 900).rules_out_writer(&stat));
        assert!(!started(1_000_001, 500).rules_out_writer(&stat), "exactly the slack is still the writer");
        // Later than that: the pid was reused.
        assert!(started(1_000_001, 501).rules_out_writer(&stat));
        assert!(started(1_000_100, 0).rules_out_writer(&stat));
        // No start time: cannot tell, so not ruled out.
        let unknown = ProcessFacts { started: None, ..started(0, 0) };
        assert!(!unknown.rules_out_writer(&stat));
    }

    #[test]
    fn zombies_and_kernel_threads_never_wrote_the_file() {
        let stat = stat_written_at(1_000_000, 0);
        let zombie = ProcessFacts { zombie: true, ..started(999_000, 0) };
        let kernel_thread = ProcessFacts { kernel_thread: true, ..started(999_000, 0) };
        assert!(zombie.rules_out_writer(&stat));
        assert!(kernel_thread.rules_out_writer(&stat));
        assert!(!started(999_000, 0).rules_out_writer(&stat));
    }

    #[test]
    fn an_mtime_before_the_epoch_rules_nothing_out() {
        let stat = stat_written_at(-5, 0);
        assert!(!started(1_000_000, 0).rules_out_writer(&stat));
    }
}
