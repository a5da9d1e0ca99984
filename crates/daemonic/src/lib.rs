#![doc = include_str!("../README.md")]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(not(unix))]
compile_error!("the daemonic crate supports Unix platforms only");

mod daemon;
mod error;
mod fds;
mod guard;
mod notify;
mod output;
mod privileges;
#[cfg(test)]
mod properties;
mod readiness;
mod signals;
mod sys;

pub use crate::daemon::Daemon;
pub use crate::error::{DaemonError, Step};
pub use crate::guard::DaemonGuard;
pub use crate::output::open_output;
pub use crate::privileges::{Account, Credentials};
pub use pidfile;
/// Re-exported from `pidfile`: one implementation for both crates' errors.
pub use pidfile::ErrorChain;
