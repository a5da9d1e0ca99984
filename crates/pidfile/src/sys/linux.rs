//! Linux: from `/proc/PID/stat`, whether the process a PID file names is gone (a zombie) or is
//! not the one that wrote the file (it started later: the pid was reused).

use std::io::Read;
use std::time::{Duration, SystemTime};

use rustix::time::{clock_gettime, ClockId};

use super::ProcessFacts;
use crate::Pid;

/// Whether the live-looking `pid` cannot be the writer of the file described by `stat`: it is a
/// zombie, a kernel thread (`PF_KTHREAD`; kthreadd, pid 2, and its children never wrote a PID
/// file), or it started after the file was last modified. `false` when it cannot tell.
pub(crate) fn not_the_writer(pid: Pid, stat: &rustix::fs::Stat) -> bool {
    read_stat(pid).is_some_and(|facts| facts.rules_out_writer(stat))
}

/// `PF_KTHREAD` in field 9 (flags) of `/proc/PID/stat` (include/linux/sched.h).
const PF_KTHREAD: u64 = 0x0020_0000;

/// Whether process `pid` has the file (`dev`, `ino`) open, from `/proc/PID/fd`: `None` when that
/// cannot be read (another user's process without privileges, no `/proc`, the process gone).
/// This is how a lock holder is told apart from a process the file merely names: the kernel
/// does not say who holds an `flock` lock, but the holder must have the file open.
pub(crate) fn has_open(pid: Pid, dev: u64, ino: u64) -> Option<bool> {
    let dir = format!("/proc/{pid}/fd");
    let entries = std::fs::read_dir(&dir).ok()?;
    for entry in entries {
        let Ok(entry) = entry else { continue };
        // `stat` follows the magic link to the open file itself.
        if let Ok(stat) = rustix::fs::stat(entry.path()) {
            #[allow(clippy::unnecessary_cast)]
            if (stat.st_dev as u64, stat.st_ino as u64) == (dev, ino) {
                return Some(true);
            }
        }
    }
    Some(false)
}

/// Field 3 (state) and 22 (start time, in clock ticks since boot) of `/proc/PID/stat`; `None`
/// if it cannot be read (no `/proc`, process gone, another pid namespace's `/proc`).
fn read_stat(pid: Pid) -> Option<ProcessFacts> {
    let file = std::fs::File::open(format!("/proc/{pid}/stat")).ok()?;
    // The line is at most a few hundred bytes; `comm` (in parentheses) may contain spaces and
    // parentheses, so fields are counted after the *last* ')'. `read_to_end` retries `EINTR`.
    let mut buf = Vec::with_capacity(512);
    file.take(1024).read_to_end(&mut buf).ok()?;
    let line = &buf[..];
    let after_comm = &line[line.iter().rposition(|&b| b == b')')? + 1..];
    // After ')': field 3 (state) is index 0, so field 22 (starttime) is index 19.
    let mut fields = std::str::from_utf8(after_comm).ok()?.split_ascii_whitespace();
    let zombie = fields.next()? == "Z";
    // Field 9 (flags) is index 6, so 5 fields after the state.
    let flags: u64 = fields.nth(5)?.parse().ok()?;
    // Field 22 (starttime) is index 19: 12 fields after the flags.
    let started = fields.nth(12).and_then(|ticks| ticks.parse().ok()).and_then(start_time);
    Some(ProcessFacts { zombie, kernel_thread: flags & PF_KTHREAD != 0, started })
}

/// The wall-clock time `ticks` clock ticks after boot.
fn start_time(ticks: u64) -> Option<SystemTime> {
    let hz = rustix::param::clock_ticks_per_second();
    if hz == 0 {
        return None;
    }
    let since_boot = Duration::from_secs(ticks / hz) + Duration::from_nanos((ticks % hz) * 1_000_000_000 / hz);
    // The wall-clock time of boot, as precisely as the two clocks allow (better than the whole
    // seconds of `btime` in /proc/stat).
    let now = timespec_duration(clock_gettime(ClockId::Realtime))?;
    let up = timespec_duration(clock_gettime(ClockId::Boottime))?;
    Some(SystemTime::UNIX_EPOCH + now.checked_sub(up)? + since_boot)
}

fn timespec_duration(ts: rustix::time::Timespec) -> Option<Duration> {
    Some(Duration::new(u64::try_from(ts.tv_sec).ok()?, u32::try_from(ts.tv_nsec).ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_start_time_is_in_the_recent_past() {
        let stat = read_stat(Pid::current()).expect("/proc is mounted in tests");
        assert!(!stat.zombie);
        let started = stat.started.expect("a start time");
        let age = SystemTime::now().duration_since(started).expect("started before now");
        // The test binary started at most minutes ago (generous: slow CI machines).
        assert!(age < Duration::from_secs(3600), "age {age:?}");
    }

    #[test]
    fn kthreadd_is_a_kernel_thread_and_we_are_not() {
        let is_kernel_thread = |pid: Pid| read_stat(pid).is_some_and(|p| p.kernel_thread);
        assert!(!is_kernel_thread(Pid::current()));
        // In a PID namespace pid 2 may be an ordinary process, or none: only check the real one.
        let comm = std::fs::read_to_string("/proc/2/comm").unwrap_or_default();
        if comm.trim() == "kthreadd" {
            assert!(is_kernel_thread(Pid::new(2).unwrap()));
        }
    }

    #[test]
    fn we_have_our_own_open_file_open() {
        let file = tempfile::tempfile().unwrap();
        let stat = rustix::fs::fstat(&file).unwrap();
        #[allow(clippy::unnecessary_cast)]
        let (dev, ino) = (stat.st_dev as u64, stat.st_ino as u64);
        assert_eq!(has_open(Pid::current(), dev, ino), Some(true));
        assert_eq!(has_open(Pid::current(), dev, ino.wrapping_add(1)), Some(false));
    }

    /// `start_time` turns clock ticks since boot into wall-clock time: the difference between
    /// two tick counts is exactly their distance, and tick 0 is the boot, in the past.
    #[test]
    fn ticks_become_wall_clock_time() {
        let hz = rustix::param::clock_ticks_per_second();
        let boot = start_time(0).expect("a boot time");
        let later = start_time(5 * hz + hz / 2).expect("a start time");
        let distance = later.duration_since(boot).expect("later than boot");
        let want = Duration::from_millis(5500);
        let error = distance.abs_diff(want);
        // The two calls read the clocks apart (a loaded machine may preempt in between): allow
        // for that, not for a wrong formula (those are off by 0.45 s or more).
        assert!(error < Duration::from_millis(100), "{distance:?} for 5.5 s of ticks");
        let now = SystemTime::now();
        assert!(boot < now, "boot {boot:?} is in the past");
        let up = now.duration_since(boot).unwrap();
        assert!(up < Duration::from_secs(10 * 365 * 86400), "up for {up:?}");
        assert!(boot > SystemTime::UNIX_EPOCH + Duration::from_secs(1_500_000_000), "boot {boot:?}");
    }

    /// A child that exited but is not reaped yet is a zombie; `read_stat` says so (and a live
    /// one is not).
    #[test]
    fn an_unreaped_child_is_a_zombie() {
        let mut child = std::process::Command::new("sleep").arg("30").spawn().unwrap();
        let pid = Pid::new(child.id()).unwrap();
        let live = read_stat(pid).expect("the child's /proc entry");
        assert!(!live.zombie && !live.kernel_thread);
        let age = SystemTime::now().duration_since(live.started.expect("a start time")).unwrap_or_default();
        assert!(age < Duration::from_secs(60), "the child started {age:?} ago");
        child.kill().unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let zombie = loop {
            let facts = read_stat(pid).expect("a zombie keeps its /proc entry");
            if facts.zombie || std::time::Instant::now() > deadline {
                break facts.zombie;
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        child.wait().unwrap();
        assert!(zombie, "the killed, unreaped child was never seen as a zombie");
    }

    #[test]
    fn missing_process_has_no_start_time() {
        assert!(read_stat(Pid::new(Pid::MAX).unwrap()).is_none());
    }
}
