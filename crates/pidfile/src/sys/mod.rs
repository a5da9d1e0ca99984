//! Platform backends. Only one fact differs between platforms here: whether a process's start
//! time can be read (for PID-reuse detection in staleness checks).

#[cfg(any(target_os = "linux", target_os = "android"))]
mod linux;
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) use linux::started_after_write;

#[cfg(not(any(target_os = "linux", target_os = "android")))]
mod other;
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) use other::started_after_write;
