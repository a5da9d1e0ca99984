//! The supervisor's signals, delivered as bytes on a pipe (the self-pipe trick), so that one
//! `poll` waits for signals, the notification socket and deadlines at once, portably (macOS has
//! neither `signalfd` nor `sigtimedwait`), and an idle supervisor never wakes up.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};

use rustix::io::Errno;
use rustix::process::Signal;

/// The pipe's write end, for the handler.
static WRITE_END: AtomicI32 = AtomicI32::new(-1);
/// The supervisor's pid: a child between `fork` and `exec` runs the handler too, and must not
/// write into the supervisor's pipe.
static OWNER: AtomicI32 = AtomicI32::new(0);
/// Signals whose byte the pipe did not take (full: 64 KiB of unread signals, so the read end is
/// readable and the supervisor will look): bit N for signal N, taken with the pipe's bytes.
static UNWRITTEN: AtomicU64 = AtomicU64::new(0);

/// The signals the supervisor handles besides [`PASSED_ON`]; every other one keeps its default
/// action.
///
/// Every signal `daemonic signal` may send to a supervisor is handled ([`PASSED_ON`], and
/// [`KILL_REQUEST`] for KILL), so none of them can end or stop the supervisor by its default
/// action and leave PROGRAM's processes without it. SIGXFSZ is handled only so that a log file
/// over the supervisor's file-size limit makes `write` fail (EFBIG) instead of ending it.
const ALSO_HANDLED: [libc::c_int; 4] = [
    libc::SIGCHLD,
    // `daemonic reopen`: reopen the log files, tell PROGRAM nothing. Otherwise only sent for
    // out-of-band socket data, which the supervisor never receives.
    libc::SIGURG,
    // KILL_REQUEST.
    libc::SIGVTALRM,
    libc::SIGXFSZ,
];

/// The signals a supervisor passes on to PROGRAM (TERM, INT and QUIT also stop the service).
pub(crate) const PASSED_ON: [libc::c_int; 12] = [
    libc::SIGTERM,
    libc::SIGINT,
    libc::SIGQUIT,
    libc::SIGHUP,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGWINCH,
    libc::SIGCONT,
    libc::SIGALRM,
    libc::SIGTSTP,
    libc::SIGTTIN,
    libc::SIGTTOU,
];

/// What `stop` and `signal` send a supervisor for KILL, which it cannot catch: "KILL the whole
/// tree now, then exit". SIGVTALRM, because nothing else sends it to the supervisor (it arms
/// no virtual timer) and only root (or the supervisor's own user) may signal it at all.
pub(crate) const KILL_REQUEST: Signal = Signal::VTALARM;

/// The read end of the signal pipe; the handlers stay installed for the process's life.
pub(crate) struct SignalPipe {
    read_end: OwnedFd,
    _write_end: OwnedFd,
}

impl SignalPipe {
    /// Creates the pipe (both ends close-on-exec and non-blocking) and installs the handlers.
    pub(crate) fn install() -> io::Result<SignalPipe> {
        let (read_end, write_end) = rustix::pipe::pipe()?;
        for fd in [&read_end, &write_end] {
            rustix::io::fcntl_setfd(fd, rustix::io::FdFlags::CLOEXEC)?;
            rustix::fs::fcntl_setfl(fd, rustix::fs::OFlags::NONBLOCK)?;
        }
        use std::os::fd::AsRawFd as _;
        WRITE_END.store(write_end.as_raw_fd(), Ordering::SeqCst);
        OWNER.store(rustix::process::getpid().as_raw_nonzero().get(), Ordering::SeqCst);
        for signal in PASSED_ON.into_iter().chain(ALSO_HANDLED) {
            // SAFETY: a zeroed `sigaction` is a valid value to fill in; `on_signal` is
            // async-signal-safe (see there).
            unsafe {
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
                action.sa_flags = libc::SA_RESTART | if signal == libc::SIGCHLD { libc::SA_NOCLDSTOP } else { 0 };
                libc::sigemptyset(&mut action.sa_mask);
                if libc::sigaction(signal, &action, std::ptr::null_mut()) != 0 {
                    return Err(io::Error::last_os_error());
                }
            }
        }
        // A closed log pipe (in foreground mode, the caller's stdout) must not end the
        // supervisor: writes report EPIPE instead. PROGRAM gets SIGPIPE's default back (the
        // standard library resets it in the child before `exec`).
        // SAFETY: setting a disposition to SIG_IGN has no preconditions.
        if unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) } == libc::SIG_ERR {
            return Err(io::Error::last_os_error());
        }
        Ok(SignalPipe { read_end, _write_end: write_end })
    }

    /// The signals received since the last call, in order (those the pipe could not take
    /// last, once each).
    pub(crate) fn take(&self) -> Vec<libc::c_int> {
        let mut received = Vec::new();
        let mut buffer = [0u8; 64];
        loop {
            match rustix::io::read(&self.read_end, &mut buffer) {
                Ok(0) | Err(Errno::AGAIN) => break,
                Ok(n) => received.extend(buffer[..n].iter().map(|&b| libc::c_int::from(b))),
                Err(Errno::INTR) => {}
                Err(_) => break,
            }
        }
        let unwritten = UNWRITTEN.swap(0, Ordering::SeqCst);
        received.extend((1..64).filter(|n| unwritten & (1 << n) != 0).map(|n| n as libc::c_int));
        received
    }
}

impl AsFd for SignalPipe {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.read_end.as_fd()
    }
}

/// Writes the signal's number (all handled ones are below 256) to the pipe. Only
/// async-signal-safe calls: `getpid`, `write`, and in a forked child `signal` and `raise`.
/// `errno` is saved and restored, so the interrupted code never sees the handler's.
extern "C" fn on_signal(signal: libc::c_int) {
    let errno = errno_location();
    // SAFETY: `errno_location` returns this thread's errno; reading and writing it is what
    // every handler that makes system calls must do.
    let saved = unsafe { *errno };
    // SAFETY: `getpid` cannot fail.
    if unsafe { libc::getpid() } != OWNER.load(Ordering::Relaxed) {
        // A child of the supervisor before its `exec`: act as if no handler were installed.
        // SAFETY: restoring the default action and re-raising are async-signal-safe.
        unsafe {
            libc::signal(signal, libc::SIG_DFL);
            libc::raise(signal);
        }
    } else {
        let byte = signal as u8;
        let fd: RawFd = WRITE_END.load(Ordering::Relaxed);
        // A signal is never lost: a write that fails is tried again (a few times: the error
        // may pass), and a byte a full pipe does not take is kept in `UNWRITTEN` (the pipe is
        // readable then, so the supervisor will look).
        for _ in 0..4 {
            // SAFETY: `fd` is the pipe's write end, open for the process's life.
            if unsafe { libc::write(fd, (&byte as *const u8).cast(), 1) } == 1 {
                break;
            }
            // SAFETY: `errno_location` returns this thread's errno.
            if unsafe { *errno } == libc::EAGAIN {
                if (1..64).contains(&signal) {
                    UNWRITTEN.fetch_or(1 << signal, Ordering::SeqCst);
                }
                break;
            }
        }
    }
    // SAFETY: as above.
    unsafe { *errno = saved };
}

fn errno_location() -> *mut libc::c_int {
    // SAFETY: each returns the calling thread's errno location; no preconditions.
    unsafe {
        #[cfg(any(target_os = "linux", target_os = "dragonfly"))]
        return libc::__errno_location();
        #[cfg(any(target_vendor = "apple", target_os = "freebsd"))]
        return libc::__error();
        #[cfg(any(target_os = "netbsd", target_os = "openbsd", target_os = "android"))]
        return libc::__errno();
    }
}
