//! Platform code of the supervisor: becoming the reaper of the program's orphans, listing the
//! supervisor's children, and tying the program's life to the supervisor's.
//!
//! | platform  | reaper                               | parent-death signal          |
//! |-----------|--------------------------------------|------------------------------|
//! | Linux     | `prctl(PR_SET_CHILD_SUBREAPER)`      | `prctl(PR_SET_PDEATHSIG)`    |
//! | FreeBSD   | `procctl(PROC_REAP_ACQUIRE)`         | `procctl(PROC_PDEATHSIG_CTL)`|
//! | others    | none: the program's process group only | none                       |

use std::io;

use rustix::process::Pid;

/// Whether [`become_reaper`] makes the supervisor the reaper of PROGRAM's orphans here.
pub(crate) const REAPER: bool = cfg!(any(target_os = "linux", target_os = "android", target_os = "freebsd"));

/// Makes the supervisor the reaper of every descendant the program leaves behind, so that
/// leftovers become its children (and can be found and ended) instead of init's. Returns
/// whether the platform has such a thing.
pub(crate) fn become_reaper() -> io::Result<bool> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        rustix::process::set_child_subreaper(Some(rustix::process::getpid()))?;
        Ok(true)
    }
    #[cfg(target_os = "freebsd")]
    {
        rustix::process::set_reaper_status(true)?;
        Ok(true)
    }
    #[cfg(not(any(target_os = "linux", target_os = "android", target_os = "freebsd")))]
    {
        Ok(false)
    }
}

/// The supervisor's children: on Linux `/proc/self/task/TID/children` (one thread), else a
/// scan of `/proc/*/stat`; on FreeBSD the reaper's descendants (`PROC_REAP_GETPIDS`, its
/// direct children only); elsewhere none are known (the process group covers them).
///
/// A child's pid cannot be reused before the supervisor reaps it, so signalling one is safe.
pub(crate) fn children() -> Vec<Pid> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        linux_children()
    }
    #[cfg(target_os = "freebsd")]
    {
        // `None`: the calling process, the reaper.
        rustix::process::get_reaper_pids(None)
            .map(|list| {
                list.iter()
                    .filter(|info| info.flags.contains(rustix::process::PidInfoFlags::CHILD))
                    .map(|info| info.pid)
                    .collect()
            })
            .unwrap_or_default()
    }
    #[cfg(not(any(target_os = "linux", target_os = "android", target_os = "freebsd")))]
    {
        Vec::new()
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn linux_children() -> Vec<Pid> {
    let me = rustix::process::getpid().as_raw_nonzero().get();
    let parse = |text: &str| text.split_whitespace().filter_map(|p| p.parse().ok()).filter_map(Pid::from_raw).collect();
    // The supervisor is single-threaded: its only task is itself.
    if let Ok(text) = std::fs::read_to_string(format!("/proc/self/task/{me}/children")) {
        return parse(&text);
    }
    // Kernels without CONFIG_PROC_CHILDREN: every process's parent, from `/proc/PID/stat`
    // (the field after the parenthesised command name, which may itself contain spaces).
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat")).ok().is_some_and(|stat| {
                let after = stat.rfind(')').map_or("", |at| &stat[at + 1..]);
                after.split_whitespace().nth(1).and_then(|ppid| ppid.parse::<i32>().ok()) == Some(me)
            })
        })
        .filter_map(Pid::from_raw)
        .collect()
}

/// In the program, between `fork` and `exec`, after the privilege drop (which clears the
/// setting): be killed when the supervisor dies, so that a program can never outlive the
/// process holding its PID file's lock (then a second instance could start). Checks that the
/// supervisor did not die before the setting took effect. Async-signal-safe.
pub(crate) fn die_with_supervisor(supervisor: Pid) -> io::Result<()> {
    #[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
    rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL))?;
    if rustix::process::getppid() != Some(supervisor) {
        return Err(io::ErrorKind::NotFound.into());
    }
    Ok(())
}
