//! Platform backends: counting threads and closing descriptor ranges.
//!
//! | platform            | thread count         | close a range             | close everything above |
//! |---------------------|----------------------|---------------------------|------------------------|
//! | Linux               | `/proc/self/task`    | `close_range(2)` (5.9+), else `/proc/self/fd` | same |
//! | FreeBSD, DragonFly  | `sysctl(KERN_PROC_PID)` | `close` loop           | `closefrom(2)`         |
//! | NetBSD, OpenBSD     | `sysctl(KERN_PROC2)`, `KERN_PROC_SHOW_THREADS` | `close` loop | `closefrom(3)` |
//! | macOS               | `proc_pidinfo(PROC_PIDTASKINFO)` | `close` loop    | `/dev/fd`, else a loop to the soft `RLIMIT_NOFILE` |

// One backend is compiled, always as `imp`, so the list of exports is written once.
#[cfg(any(target_os = "linux", target_os = "android"))]
#[path = "linux.rs"]
mod imp;
#[cfg(any(target_os = "freebsd", target_os = "dragonfly", target_os = "netbsd", target_os = "openbsd"))]
#[path = "bsd.rs"]
mod imp;
#[cfg(not(any(
    target_os = "linux",
    target_os = "android",
    target_os = "freebsd",
    target_os = "dragonfly",
    target_os = "netbsd",
    target_os = "openbsd"
)))]
#[path = "other.rs"]
mod imp;

pub(crate) use imp::{close_from, close_range, thread_count, LAST_SIGNAL};

use std::io;
use std::os::fd::RawFd;

/// `close` every descriptor in `first..=last`, one by one; `EBADF` (not open) is fine.
#[allow(dead_code)] // Unused on Linux, where close_range(2) covers every case.
pub(crate) fn close_each(first: RawFd, last: RawFd) {
    for fd in first..=last {
        // SAFETY: closing a descriptor number; the daemon owns no Rust object for these (the
        // caller gave up ownership of everything it does not keep).
        unsafe { libc::close(fd) };
    }
}

/// Closes the descriptors `/dev/fd` (or `/proc/self/fd`) lists in `first..`, or returns `false`
/// when the directory cannot be read.
#[allow(dead_code)] // Linux uses it only when close_range(2) is missing.
pub(crate) fn close_listed(dir: &str, first: RawFd, last: RawFd) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    // Collect first: the directory's own descriptor is open while iterating.
    let fds: Vec<RawFd> = entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
        .filter(|&fd| fd >= first && fd <= last)
        .collect();
    for fd in fds {
        // SAFETY: as in `close_each`; the directory's descriptor is already closed (EBADF).
        unsafe { libc::close(fd) };
    }
    true
}

/// The soft `RLIMIT_NOFILE` as a descriptor bound for the last-resort loop, which only runs
/// when the open descriptors cannot be listed; an unlimited soft limit counts as 2^20.
#[allow(dead_code)]
pub(crate) fn soft_fd_limit() -> RawFd {
    const UNLIMITED: RawFd = 1 << 20;
    let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile);
    limit.current.map_or(UNLIMITED, |n| RawFd::try_from(n).unwrap_or(UNLIMITED))
}

#[allow(dead_code)]
pub(crate) fn ok_or_errno(ret: libc::c_int) -> io::Result<()> {
    if ret == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Waits, at most `timeout`, until `pid` (not our child) has exited: on Linux a pidfd becomes
/// readable when it has (zombie or reaped); elsewhere `kill(pid, 0)` is polled until `ESRCH`
/// (a zombie still counts as alive there, until init reaps it).
pub(crate) fn await_exit(pid: pidfile::Pid, timeout: std::time::Duration) {
    let Some(raw) = rustix::process::Pid::from_raw(pid.get() as i32) else { return };
    #[cfg(any(target_os = "linux", target_os = "android"))]
    if let Ok(pidfd) = rustix::process::pidfd_open(raw, rustix::process::PidfdFlags::empty()) {
        let _ = poll_readable(std::os::fd::AsFd::as_fd(&pidfd), timeout);
        return;
    }
    let deadline = std::time::Instant::now() + timeout;
    while rustix::process::test_kill_process(raw).is_ok() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

/// `poll(POLLIN)` on one descriptor: whether it is readable (data, end of file, or for a pidfd
/// an exited process) within `timeout`.
pub(crate) fn poll_readable(fd: std::os::fd::BorrowedFd<'_>, timeout: std::time::Duration) -> io::Result<bool> {
    use rustix::event::{poll, PollFd, PollFlags, Timespec};
    let timeout = Timespec {
        tv_sec: timeout.as_secs().try_into().unwrap_or(i64::MAX as _),
        tv_nsec: timeout.subsec_nanos().into(),
    };
    let mut fds = [PollFd::new(&fd, PollFlags::IN)];
    loop {
        match poll(&mut fds, Some(&timeout)) {
            Ok(n) => return Ok(n > 0),
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
}

/// A pipe with `FD_CLOEXEC` on both ends: `pipe2(O_CLOEXEC)` where it exists; on Apple
/// platforms `pipe` then `fcntl` (no other thread can fork in between: daemonize runs
/// single-threaded).
pub(crate) fn cloexec_pipe() -> io::Result<(std::os::fd::OwnedFd, std::os::fd::OwnedFd)> {
    #[cfg(not(target_vendor = "apple"))]
    {
        Ok(rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?)
    }
    #[cfg(target_vendor = "apple")]
    {
        let (read, write) = rustix::pipe::pipe()?;
        set_cloexec(&read)?;
        set_cloexec(&write)?;
        Ok((read, write))
    }
}

/// A Unix datagram socket with `FD_CLOEXEC` (`SOCK_CLOEXEC` where it exists).
pub(crate) fn cloexec_datagram_socket() -> io::Result<std::os::fd::OwnedFd> {
    use rustix::net::{AddressFamily, SocketFlags, SocketType};
    #[cfg(not(target_vendor = "apple"))]
    {
        Ok(rustix::net::socket_with(AddressFamily::UNIX, SocketType::DGRAM, SocketFlags::CLOEXEC, None)?)
    }
    #[cfg(target_vendor = "apple")]
    {
        let socket = rustix::net::socket_with(AddressFamily::UNIX, SocketType::DGRAM, SocketFlags::empty(), None)?;
        set_cloexec(&socket)?;
        Ok(socket)
    }
}

#[cfg(target_vendor = "apple")]
fn set_cloexec(fd: impl std::os::fd::AsFd) -> io::Result<()> {
    rustix::io::fcntl_setfd(fd, rustix::io::FdFlags::CLOEXEC)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    /// Every platform with a thread count (Linux, macOS, the BSDs) sees a second thread.
    #[test]
    fn thread_count_sees_a_second_thread() {
        let (release, wait) = std::sync::mpsc::channel::<()>();
        let second = std::thread::spawn(move || wait.recv());
        let counted = super::thread_count().expect("the thread count can be read");
        if cfg!(any(
            target_os = "linux",
            target_os = "android",
            target_vendor = "apple",
            target_os = "freebsd",
            target_os = "dragonfly",
            target_os = "netbsd",
            target_os = "openbsd"
        )) {
            let threads = counted.expect("counted on this platform");
            assert!(threads >= 2, "{threads} threads, with a second one running");
        }
        drop(release);
        let _ = second.join();
    }
}
