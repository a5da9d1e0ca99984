//! Platform backends. Only one fact differs between platforms here: whether the process a PID
//! file names can be examined further than `kill(pid, 0)` (zombie state, start time), for the
//! staleness of unlocked files.

#[cfg(any(target_os = "linux", target_os = "android"))]
mod linux;
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) use linux::not_the_writer;

#[cfg(not(any(target_os = "linux", target_os = "android")))]
mod other;
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) use other::not_the_writer;
