//! macOS and the BSDs: the state, flags and start time of another process, from the kernel's
//! process table — `proc_pidinfo(PROC_PIDTBSDINFO)` on macOS, `sysctl(KERN_PROC…)` on the BSDs —
//! for the staleness of unlocked files (zombie, PID reuse, kernel thread). Which files another
//! process has open is not readable: a lock holder's credibility rests on the rest.
//!
//! | platform  | call                                   | zombie            | kernel thread          | start time        |
//! |-----------|----------------------------------------|-------------------|------------------------|-------------------|
//! | macOS     | `proc_pidinfo(PROC_PIDTBSDINFO)`       | `pbi_status`      | none has a pid ≥ 1     | `pbi_start_tvsec` |
//! | FreeBSD   | `sysctl(KERN_PROC_PID)`, `kinfo_proc`  | `ki_stat`         | `ki_flag & P_SYSTEM`   | `ki_start`        |
//! | DragonFly | `sysctl(KERN_PROC_PID)`, `kinfo_proc`  | `kp_stat`         | `kp_flags & P_SYSTEM`  | `kp_start`        |
//! | NetBSD    | `sysctl(KERN_PROC2)`, `kinfo_proc2`    | `p_stat`          | `p_flag & P_SYSTEM`    | `p_ustart_sec`    |
//! | OpenBSD   | `sysctl(KERN_PROC_PID)`, `kinfo_proc`  | `p_stat`          | `p_flag & PS_SYSTEM`   | `p_ustart_sec`    |

use std::time::{Duration, SystemTime};

use super::ProcessFacts;
use crate::Pid;

/// Whether the live-looking `pid` cannot be the writer of the file described by `stat`.
pub(crate) fn not_the_writer(pid: Pid, stat: &rustix::fs::Stat) -> bool {
    process_facts(pid).is_some_and(|facts| facts.rules_out_writer(stat))
}

/// Which files another process has open is not readable here: unknown.
pub(crate) fn has_open(_pid: Pid, _dev: u64, _ino: u64) -> Option<bool> {
    None
}

/// Seconds and microseconds since the epoch, of whatever integer types the platform uses.
fn since_epoch(secs: impl TryInto<u64>, micros: impl TryInto<u64>) -> Option<SystemTime> {
    let secs = secs.try_into().ok()?;
    let micros = micros.try_into().ok()?.min(999_999);
    SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(secs) + Duration::from_micros(micros))
}

#[cfg(target_vendor = "apple")]
pub(crate) fn process_facts(pid: Pid) -> Option<ProcessFacts> {
    let mut info: libc::proc_bsdinfo = unsafe_zeroed();
    let size = std::mem::size_of::<libc::proc_bsdinfo>() as libc::c_int;
    // SAFETY: `info` is writable storage of `size` bytes for this flavor.
    let filled = unsafe {
        libc::proc_pidinfo(
            pid.get() as libc::c_int,
            libc::PROC_PIDTBSDINFO,
            0,
            (&mut info as *mut libc::proc_bsdinfo).cast(),
            size,
        )
    };
    if filled != size {
        return None;
    }
    Some(ProcessFacts {
        zombie: info.pbi_status == libc::SZOMB,
        kernel_thread: false,
        started: since_epoch(info.pbi_start_tvsec, info.pbi_start_tvusec),
    })
}

/// One `kinfo_proc` for `pid` from `sysctl(mib)`; `None` when the process does not exist.
#[cfg(not(target_vendor = "apple"))]
fn sysctl_one<T>(mib: &[libc::c_int]) -> Option<T> {
    let mut entry: T = unsafe_zeroed();
    let mut size = std::mem::size_of::<T>();
    // SAFETY: `entry` is writable storage of `size` bytes; the kernel writes at most `size`.
    let ret = unsafe {
        libc::sysctl(
            mib.as_ptr(),
            mib.len() as libc::c_uint,
            (&mut entry as *mut T).cast(),
            &mut size,
            std::ptr::null_mut(),
            0,
        )
    };
    (ret == 0 && size == std::mem::size_of::<T>()).then_some(entry)
}

#[cfg(target_os = "freebsd")]
pub(crate) fn process_facts(pid: Pid) -> Option<ProcessFacts> {
    let mib = [libc::CTL_KERN, libc::KERN_PROC, libc::KERN_PROC_PID, pid.get() as libc::c_int];
    let info: libc::kinfo_proc = sysctl_one(&mib)?;
    Some(ProcessFacts {
        zombie: info.ki_stat == libc::SZOMB,
        kernel_thread: info.ki_flag & libc::c_long::from(libc::P_SYSTEM | libc::P_KPROC) != 0,
        started: since_epoch(info.ki_start.tv_sec, info.ki_start.tv_usec),
    })
}

#[cfg(target_os = "dragonfly")]
pub(crate) fn process_facts(pid: Pid) -> Option<ProcessFacts> {
    let mib = [libc::CTL_KERN, libc::KERN_PROC, libc::KERN_PROC_PID, pid.get() as libc::c_int];
    let info: libc::kinfo_proc = sysctl_one(&mib)?;
    Some(ProcessFacts {
        zombie: matches!(info.kp_stat, libc::procstat::SZOMB),
        kernel_thread: info.kp_flags & P_SYSTEM != 0,
        started: since_epoch(info.kp_start.tv_sec, info.kp_start.tv_usec),
    })
}

/// `SZOMB` in `<sys/proc.h>` (NetBSD and OpenBSD alike).
#[cfg(any(target_os = "netbsd", target_os = "openbsd"))]
const SZOMB: i8 = 5;

/// `P_SYSTEM`, "system proc: no sigs, stats or swapping": DragonFly's `<sys/proc.h>` (the
/// `kp_flags` of `kinfo_proc`), NetBSD's `<sys/sysctl.h>` (the `p_flag` of `kinfo_proc2`).
/// Not in the `libc` crate for these targets.
#[cfg(any(target_os = "dragonfly", target_os = "netbsd"))]
const P_SYSTEM: libc::c_int = 0x0000_0200;

/// `PS_SYSTEM` in OpenBSD's `<sys/proc.h>`; `kinfo_proc`'s `p_flag` carries the process's
/// `ps_flags` (`FILL_KPROC` in `<sys/sysctl.h>`). Not in the `libc` crate.
#[cfg(target_os = "openbsd")]
const PS_SYSTEM: i32 = 0x0001_0000;

#[cfg(target_os = "netbsd")]
pub(crate) fn process_facts(pid: Pid) -> Option<ProcessFacts> {
    let size = std::mem::size_of::<libc::kinfo_proc2>() as libc::c_int;
    let mib = [libc::CTL_KERN, libc::KERN_PROC2, libc::KERN_PROC_PID, pid.get() as libc::c_int, size, 1];
    let info: libc::kinfo_proc2 = sysctl_one(&mib)?;
    Some(ProcessFacts {
        zombie: info.p_stat == SZOMB,
        kernel_thread: info.p_flag & P_SYSTEM != 0,
        started: since_epoch(info.p_ustart_sec, info.p_ustart_usec),
    })
}

#[cfg(target_os = "openbsd")]
pub(crate) fn process_facts(pid: Pid) -> Option<ProcessFacts> {
    let size = std::mem::size_of::<libc::kinfo_proc>() as libc::c_int;
    let mib = [libc::CTL_KERN, libc::KERN_PROC, libc::KERN_PROC_PID, pid.get() as libc::c_int, size, 1];
    let info: libc::kinfo_proc = sysctl_one(&mib)?;
    Some(ProcessFacts {
        zombie: info.p_stat == SZOMB,
        kernel_thread: info.p_flag & PS_SYSTEM != 0,
        started: since_epoch(info.p_ustart_sec, info.p_ustart_usec),
    })
}

/// All-zero storage for a C structure the kernel fills.
fn unsafe_zeroed<T>() -> T {
    // SAFETY: only used for plain C structures (integers, arrays, pointers), for which all-zero
    // bytes are a valid value.
    unsafe { std::mem::zeroed() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_facts_and_a_zombie_child() {
        let me = process_facts(Pid::current()).expect("the process table answers for us");
        assert!(!me.zombie && !me.kernel_thread);
        let started = me.started.expect("a start time");
        assert!(started <= SystemTime::now() && started > SystemTime::now() - Duration::from_secs(3600));

        let mut child = std::process::Command::new("sleep").arg("100").spawn().unwrap();
        let pid = Pid::new(child.id()).unwrap();
        assert!(!process_facts(pid).unwrap().zombie);
        child.kill().unwrap();
        // Not reaped yet: a zombie until `wait`.
        let start = std::time::Instant::now();
        while !process_facts(pid).is_some_and(|facts| facts.zombie) {
            assert!(start.elapsed() < Duration::from_secs(10), "the killed child never became a zombie");
            std::thread::sleep(Duration::from_millis(5));
        }
        child.wait().unwrap();
    }
}
