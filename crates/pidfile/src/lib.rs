#![doc = include_str!("../README.md")]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(not(unix))]
compile_error!("the pidfile crate supports Unix platforms only");

// Layers: each file uses only those listed before it (and `error`/`pid`, which everything uses):
//
// 1. `pid` (Pid, parsing), `error`, `chain` (ErrorChain), `liveness` (`kill(pid, 0)`), `sys` (what /proc or the
//    kernel's process table says about a pid), `dir` (ParentDir: the trusted path walk);
// 2. `read`: opening and reading the file relative to its ParentDir, `read_pid`;
// 3. `judge`: the staleness rule, the holder's credibility (`Holder`), the trust rule
//    (`refusal`), the removal of a stale file;
// 4. `locked`: the lock holder's state and the locking steps;
// 5. `pidfile` (PidFile, `remove_pidfile`), then `lock` (PidFileLock, which becomes a PidFile);
// 6. `inspect` (Inspection, `running_pid`, `pidfile_is_stale`).
mod chain;
mod dir;
mod error;
mod inspect;
mod judge;
mod liveness;
mod lock;
mod locked;
mod pid;
mod pidfile;
mod read;
mod sys;

pub use crate::chain::ErrorChain;
pub use crate::dir::ParentDir;
pub use crate::error::{FileKind, Operation, PidFileError, Refusal};
pub use crate::inspect::{inspect, pidfile_is_stale, running_pid, Inspection};
pub use crate::judge::Holder;
pub use crate::liveness::is_pid_running;
pub use crate::lock::PidFileLock;
pub use crate::pid::{ParsePidError, ParsePidErrorKind, Pid};
pub use crate::pidfile::{remove_pidfile, PidFile};
pub use crate::read::{read_pid, MAX_PID_FILE_LEN};
