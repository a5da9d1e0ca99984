#![doc = include_str!("../README.md")]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(not(unix))]
compile_error!("the pidfile crate supports Unix platforms only");

mod error;
mod inspect;
mod liveness;
mod lock;
mod pid;
mod pidfile;
mod read;
mod stale;
mod sys;

pub use crate::error::{FileKind, Operation, PidFileError, Refusal};
pub use crate::inspect::{inspect, Holder, Inspection};
pub use crate::liveness::is_pid_running;
pub use crate::lock::PidFileLock;
pub use crate::pid::{ParsePidError, ParsePidErrorKind, Pid};
pub use crate::pidfile::{remove_pidfile, PidFile};
pub use crate::read::{read_pid, MAX_PID_FILE_LEN};
pub use crate::stale::{pidfile_is_stale, running_pid};
