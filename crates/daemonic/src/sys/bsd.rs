//! FreeBSD, DragonFly, NetBSD, OpenBSD: `closefrom`, and the thread count from `sysctl`.

use std::io;
use std::os::fd::RawFd;

/// The highest signal number; the daemon resets 1 up to it.
#[cfg(any(target_os = "freebsd", target_os = "dragonfly"))]
pub(crate) const LAST_SIGNAL: libc::c_int = 128; // _SIG_MAXSIG
#[cfg(target_os = "netbsd")]
pub(crate) const LAST_SIGNAL: libc::c_int = 63; // NSIG - 1
#[cfg(target_os = "openbsd")]
pub(crate) const LAST_SIGNAL: libc::c_int = 32; // NSIG - 1

/// The calling process's thread count, from the kernel's process table:
/// `sysctl(KERN_PROC_PID)` `ki_numthreads` (FreeBSD), `kp_nthreads` (DragonFly);
/// `sysctl(KERN_PROC2)` `p_nlwps` (NetBSD); on OpenBSD the entries
/// `sysctl(KERN_PROC_PID | KERN_PROC_SHOW_THREADS)` lists, one per thread.
pub(crate) fn thread_count() -> io::Result<Option<usize>> {
    let pid = std::process::id() as libc::c_int;
    #[cfg(target_os = "freebsd")]
    {
        let info: libc::kinfo_proc = sysctl_one(&[libc::CTL_KERN, libc::KERN_PROC, libc::KERN_PROC_PID, pid])?;
        Ok(usize::try_from(info.ki_numthreads).ok())
    }
    #[cfg(target_os = "dragonfly")]
    {
        let info: libc::kinfo_proc = sysctl_one(&[libc::CTL_KERN, libc::KERN_PROC, libc::KERN_PROC_PID, pid])?;
        Ok(usize::try_from(info.kp_nthreads).ok())
    }
    #[cfg(target_os = "netbsd")]
    {
        let size = std::mem::size_of::<libc::kinfo_proc2>() as libc::c_int;
        let info: libc::kinfo_proc2 =
            sysctl_one(&[libc::CTL_KERN, libc::KERN_PROC2, libc::KERN_PROC_PID, pid, size, 1])?;
        Ok(usize::try_from(info.p_nlwps).ok())
    }
    #[cfg(target_os = "openbsd")]
    {
        let size = std::mem::size_of::<libc::kinfo_proc>();
        let which = libc::KERN_PROC_PID | libc::KERN_PROC_SHOW_THREADS;
        // A few more entries than threads we expect; the kernel says how many it wrote.
        let mut entries: Vec<libc::kinfo_proc> = (0..64).map(|_| zeroed()).collect();
        let mib = [libc::CTL_KERN, libc::KERN_PROC, which, pid, size as libc::c_int, entries.len() as libc::c_int];
        let mut bytes = entries.len() * size;
        // SAFETY: `entries` is writable storage of `bytes` bytes.
        let ret =
            unsafe { libc::sysctl(mib.as_ptr(), 6, entries.as_mut_ptr().cast(), &mut bytes, std::ptr::null_mut(), 0) };
        super::ok_or_errno(ret)?;
        // The process itself is listed too, with thread id -1.
        Ok(Some(entries[..bytes / size].iter().filter(|entry| entry.p_tid != -1).count()))
    }
}

/// One `kinfo_proc`-like entry from `sysctl(mib)`.
#[cfg(not(target_os = "openbsd"))]
fn sysctl_one<T>(mib: &[libc::c_int]) -> io::Result<T> {
    let mut entry: T = zeroed();
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
    super::ok_or_errno(ret)?;
    if size != std::mem::size_of::<T>() {
        return Err(io::Error::other("sysctl(KERN_PROC) returned no entry for this process"));
    }
    Ok(entry)
}

/// All-zero storage for a C structure the kernel fills.
fn zeroed<T>() -> T {
    // SAFETY: only used for plain C structures (integers, arrays, pointers), for which all-zero
    // bytes are a valid value.
    unsafe { std::mem::zeroed() }
}

/// The gaps between kept descriptors are small (bounded by the largest kept fd): a loop.
pub(crate) fn close_range(first: RawFd, last: RawFd) -> io::Result<()> {
    super::close_each(first, last);
    Ok(())
}

/// `closefrom(first)`.
pub(crate) fn close_from(first: RawFd) -> io::Result<()> {
    // SAFETY: closefrom only closes descriptors; the daemon owns no Rust object for them.
    #[cfg(target_os = "freebsd")]
    unsafe {
        // FreeBSD's closefrom returns void.
        libc::closefrom(first);
        Ok(())
    }
    // SAFETY: as above.
    #[cfg(not(target_os = "freebsd"))]
    super::ok_or_errno(unsafe { libc::closefrom(first) })
}
