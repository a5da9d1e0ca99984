//! Platform backends. Only one kind of fact differs between platforms here: whether the process
//! a PID file names can be examined further than `kill(pid, 0)` — zombie state, start time,
//! kernel thread, which files it has open — for the staleness of unlocked files and the
//! credibility of a lock's holder. Linux reads `/proc`; elsewhere these are not checked.

#[cfg(any(target_os = "linux", target_os = "android"))]
#[path = "linux.rs"]
mod imp;
#[cfg(not(any(target_os = "linux", target_os = "android")))]
#[path = "other.rs"]
mod imp;

pub(crate) use imp::{has_open, not_the_writer};
