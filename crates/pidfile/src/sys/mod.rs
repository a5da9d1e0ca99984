//! Platform backends. Only one fact differs between platforms here: whether the process a PID
//! file names can be examined further than `kill(pid, 0)` (zombie state, start time), for the
//! staleness of unlocked files.

#[cfg(any(target_os = "linux", target_os = "android"))]
#[path = "linux.rs"]
mod imp;
#[cfg(not(any(target_os = "linux", target_os = "android")))]
#[path = "other.rs"]
mod imp;

pub(crate) use imp::not_the_writer;
