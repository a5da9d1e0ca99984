//! [`is_pid_running`]: `kill(pid, 0)`.

use rustix::io::Errno;

use crate::Pid;

/// `kill(pid, 0)` — whether a process with this id exists.
///
/// Sends no signal. `ESRCH` means no such process (`false`); `EPERM` means the process exists
/// but belongs to another user (`true`). Any other error is reported as `true` (the conservative
/// answer: a PID file is never treated as stale because of an unexpected error).
///
/// This only says that *some* process has this id now; ids are reused. To know whether the
/// process that wrote a PID file is still alive, use [`running_pid`](crate::running_pid) or
/// [`pidfile_is_stale`](crate::pidfile_is_stale), which also consult the file's lock.
///
/// # Examples
///
/// ```
/// use pidfile::{is_pid_running, Pid};
///
/// assert!(is_pid_running(Pid::current()));
/// assert!(is_pid_running(Pid::new(1).unwrap())); // init: alive, even when EPERM
///
/// let mut child = std::process::Command::new("true").spawn()?;
/// let pid = Pid::new(child.id()).unwrap();
/// child.wait()?; // reaped: the id is free
/// # // (Only reused after the kernel wraps around its pid space.)
/// assert!(!is_pid_running(pid));
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// # Platform notes
///
/// A zombie (a child that exited but was not yet reaped with `waitpid`) still owns its id, so
/// `kill(pid, 0)` succeeds and this returns `true` on Linux, macOS, FreeBSD, NetBSD, OpenBSD and
/// DragonFly alike. Reap your children before asking about them.
///
/// # References
///  - [POSIX](https://pubs.opengroup.org/onlinepubs/9799919799/functions/kill.html)
///  - [Linux](https://man7.org/linux/man-pages/man2/kill.2.html)
///  - [FreeBSD](https://man.freebsd.org/cgi/man.cgi?query=kill&sektion=2)
///  - [macOS](https://developer.apple.com/library/archive/documentation/System/Conceptual/ManPages_iPhoneOS/man2/kill.2.html)
///  - [NetBSD](https://man.netbsd.org/kill.2)
///  - [OpenBSD](https://man.openbsd.org/kill.2)
#[doc(alias = "kill")]
#[must_use]
// Inlined like rustix's own wrapper: on CPUs with return-stack mitigations (AMD SRSO "Safe
// RET", RSB filling) the first `ret` after a system call costs ~200 ns, half a `kill` here.
#[inline]
pub fn is_pid_running(pid: Pid) -> bool {
    !matches!(rustix::process::test_kill_process(pid.to_rustix()), Err(Errno::SRCH))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alive_unless_no_such_process() {
        assert!(is_pid_running(Pid::current()));
        // pid 1 exists in every pid namespace; not ours unless we are root (EPERM: alive).
        assert!(is_pid_running(Pid::new(1).unwrap()));
        // Beyond any kernel's pid_max (4194304 on Linux): ESRCH.
        assert!(!is_pid_running(Pid::new(Pid::MAX - 1).unwrap()));
    }
}
