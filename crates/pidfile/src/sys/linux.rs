//! Linux: from `/proc/PID/stat`, whether the process a PID file names is gone (a zombie) or is
//! not the one that wrote the file (it started later: the pid was reused).

use std::io::Read;
use std::time::{Duration, SystemTime};

use rustix::time::{clock_gettime, ClockId};

use crate::Pid;

/// How much later than the file's mtime a process must have started to count as a reused pid.
/// Absorbs clock-tick truncation (`/proc` start times are in 1/HZ s), the coarse filesystem clock
/// and small wall-clock adjustments; real PID reuse happens minutes to years after the write.
const REUSE_SLACK: Duration = Duration::from_secs(1);

/// Whether the live-looking `pid` cannot be the writer of the file described by `stat`: it is a
/// zombie (it exited; `kill(pid, 0)` still succeeds until it is reaped), or it started after the
/// file was last modified. `false` when it cannot tell.
pub(crate) fn not_the_writer(pid: Pid, stat: &rustix::fs::Stat) -> bool {
    let Some(process) = read_stat(pid) else {
        return false;
    };
    if process.zombie {
        return true;
    }
    let (Ok(secs), Ok(nanos)) = (u64::try_from(stat.st_mtime), u32::try_from(stat.st_mtime_nsec)) else {
        return false;
    };
    let Some(written) = SystemTime::UNIX_EPOCH.checked_add(Duration::new(secs, nanos)) else {
        return false;
    };
    process.started.is_some_and(|started| started > written + REUSE_SLACK)
}

struct ProcStat {
    zombie: bool,
    started: Option<SystemTime>,
}

/// Field 3 (state) and 22 (start time, in clock ticks since boot) of `/proc/PID/stat`; `None`
/// if it cannot be read (no `/proc`, process gone, another pid namespace's `/proc`).
fn read_stat(pid: Pid) -> Option<ProcStat> {
    let mut file = std::fs::File::open(format!("/proc/{pid}/stat")).ok()?;
    // The line is at most a few hundred bytes; `comm` (in parentheses) may contain spaces and
    // parentheses, so fields are counted after the *last* ')'.
    let mut buf = [0u8; 1024];
    let mut len = 0;
    while len < buf.len() {
        match file.read(&mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
    let line = &buf[..len];
    let after_comm = &line[line.iter().rposition(|&b| b == b')')? + 1..];
    // After ')': field 3 (state) is index 0, so field 22 (starttime) is index 19.
    let mut fields = std::str::from_utf8(after_comm).ok()?.split_ascii_whitespace();
    let zombie = fields.next()? == "Z";
    let started = fields.nth(18).and_then(|ticks| ticks.parse().ok()).and_then(start_time);
    Some(ProcStat { zombie, started })
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
    fn missing_process_has_no_start_time() {
        assert!(read_stat(Pid::new(Pid::MAX).unwrap()).is_none());
    }
}
