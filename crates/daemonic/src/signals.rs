//! Resetting signal dispositions and the signal mask in the daemon.

use std::io;

use crate::sys::LAST_SIGNAL;

/// Sets every catchable signal's disposition to `SIG_DFL` and unblocks all signals: a daemon
/// must not inherit its launcher's ignored `SIGHUP` or blocked `SIGTERM`.
///
/// `sigaction`/`sigprocmask` through `libc`: rustix offers them only in its unstable runtime
/// module.
pub(crate) fn reset_signals() -> io::Result<()> {
    for signal in 1..=LAST_SIGNAL {
        if signal == libc::SIGKILL || signal == libc::SIGSTOP {
            continue;
        }
        // SAFETY: an all-zero `sigaction` is a valid value of this plain C struct.
        let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
        action.sa_sigaction = libc::SIG_DFL;
        // SAFETY: `action.sa_mask` is a valid, writable sigset_t; then a valid sigaction is
        // installed and the old one is not requested.
        let ret = unsafe {
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(signal, &action, std::ptr::null_mut())
        };
        if ret != 0 {
            let err = io::Error::last_os_error();
            // EINVAL: no such signal here, or one the C library reserves for itself (glibc's 32
            // and 33, musl's 32 to 34), whose disposition is inherited across exec all the same.
            if err.raw_os_error() != Some(libc::EINVAL) {
                return Err(err);
            }
            reset_reserved(signal)?;
        }
    }
    // SAFETY: an all-zero sigset_t is valid storage; sigemptyset initializes it.
    let mut empty: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: `empty` is a valid sigset_t; the old mask is not requested.
    let ret = unsafe {
        libc::sigemptyset(&mut empty);
        libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut())
    };
    if ret != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Linux: the C library refuses to touch the signals it reserves, but an ignored one (set by an
/// ancestor through the raw system call) survives exec and fork; reset it with `rt_sigaction`.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn reset_reserved(signal: libc::c_int) -> io::Result<()> {
    // The kernel's `struct sigaction` differs in field order per architecture, but all-zero
    // means `SIG_DFL`, no flags, empty mask on every one; 64 bytes cover every layout.
    let action = [0u64; 8];
    // The kernel's sigset is 64 bits, 128 on MIPS.
    let sigset_size: libc::size_t = if cfg!(any(target_arch = "mips", target_arch = "mips64")) { 16 } else { 8 };
    // SAFETY: `action` is a valid, readable all-zero kernel sigaction; the old action is not
    // requested.
    let ret = unsafe {
        libc::syscall(libc::SYS_rt_sigaction, signal, action.as_ptr(), std::ptr::null_mut::<u64>(), sigset_size)
    };
    if ret != 0 {
        let err = io::Error::last_os_error();
        // Still EINVAL: the kernel has no such signal either.
        if err.raw_os_error() != Some(libc::EINVAL) {
            return Err(err);
        }
    }
    Ok(())
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn reset_reserved(_signal: libc::c_int) -> io::Result<()> {
    Ok(())
}
