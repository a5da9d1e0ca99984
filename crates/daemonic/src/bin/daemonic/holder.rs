//! Who holds a PID file, decided once, by the same rules, for `status`, `stop`, `signal`,
//! `reopen` and `restart`: what one of them acts on, the others report as running, and what
//! one refuses, the others refuse for the same reason.

use std::path::Path;

use pidfile::{Holder, Inspection, Pid, PidFileError};

use crate::report::chain;
use crate::tree::{self, Record};

/// What a PID file says, judged.
pub(crate) enum Judged {
    /// There is no file.
    Missing,
    /// Nobody holds it: it is stale (left by a crash, or by a `--no-supervise` program).
    Stale(Inspection),
    /// A live process holds it, and may be acted on.
    Running(Service),
}

/// The process holding a PID file, proven as far as one open of the file can prove it.
pub(crate) struct Service {
    pub(crate) inspection: Inspection,
    pub(crate) pid: Pid,
    /// The tree record next to the file, when one is believed (`tree.rs`).
    pub(crate) record: Option<Record>,
}

impl Service {
    /// Whether the holder is a `daemonic` supervisor (its own record names it).
    pub(crate) fn is_supervisor(&self) -> bool {
        self.record.as_ref().is_some_and(|record| record.is_supervisor(self.pid.get()))
    }
}

/// Judges the PID file at `path` on one open of it ([`pidfile::inspect`]). `Err` is the reason
/// no command may act on it (`status` reports it as "unknown"): it cannot be read; someone else
/// could have written it (CVE-2017-11747: another owner, group- or world-writable, hard-linked;
/// as root, an unlocked file in a directory another user can write, where any file of root's
/// could have been moved); it is locked by a process it does not name; or it names PID 1 or
/// the caller.
pub(crate) fn judge(path: &Path) -> Result<Judged, String> {
    let inspection = match pidfile::inspect(path) {
        Ok(Some(inspection)) => inspection,
        Ok(None) => return Ok(Judged::Missing),
        Err(e) => return Err(format!("cannot tell who holds the PID file: {}", chain(&e))),
    };
    if let Some(reason) = inspection.refusal() {
        return Err(format!("refusing to act on {}: {reason}", path.display()));
    }
    let pid = match inspection.holder() {
        Holder::Process(pid) => pid,
        Holder::Nobody => return Ok(Judged::Stale(inspection)),
        // `Holder::Unknown`, and whatever a later `pidfile` may add: never signal.
        _ => {
            let e = PidFileError::UnknownHolder { path: path.to_path_buf() };
            return Err(format!("refusing to signal: {}", chain(&e)));
        }
    };
    if pid.get() == 1 {
        return Err(format!("refusing to signal PID 1 (named by {})", path.display()));
    }
    if pid == Pid::current() {
        return Err(format!("refusing to signal myself (named by {})", path.display()));
    }
    if !inspection.is_locked() {
        if let Some(why) = untrusted_directory(&inspection) {
            return Err(format!(
                "refusing to act on {}: it is not locked, and {why}, so any file could have been moved there",
                path.display()
            ));
        }
    }
    let record = tree::identity(&inspection).ok().and_then(|identity| Record::read(inspection.parent_dir(), identity));
    Ok(Judged::Running(Service { inspection, pid, record }))
}

/// [`judge`], and when it refuses, judged again for up to half a second: a holder that is
/// exiting has closed its files (released the lock) a moment before it is gone, and a child it
/// was forking may hold the lock until it dies too. In that moment a locked file can look
/// locked by nobody credible, or unlocked and naming a live process (which, as root in a
/// directory others can write, is refused). A file that is refused for good is refused after
/// the half second, with the last reason.
pub(crate) fn judge_settled(path: &Path) -> Result<Judged, String> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_millis(500);
    loop {
        match judge(path) {
            Err(_) if std::time::Instant::now() < deadline => std::thread::sleep(std::time::Duration::from_millis(10)),
            judged => return judged,
        }
    }
}

/// As root: why the directory of an unlocked PID file proves nothing (another user can write
/// it, so can rename any file of root's that names a live process over the PID file: a
/// `--child-pidfile`, say). A locked file's holder is proven by the lock instead.
fn untrusted_directory(inspection: &Inspection) -> Option<String> {
    if !rustix::process::geteuid().is_root() {
        return None;
    }
    let stat = match rustix::fs::fstat(inspection.parent_dir()) {
        Ok(stat) => stat,
        Err(e) => return Some(format!("its directory cannot be examined ({})", crate::report::errno_message(e))),
    };
    #[allow(clippy::unnecessary_cast)] // `mode_t` is u16 on macOS and the BSDs.
    let mode = stat.st_mode as u32 & 0o7777;
    if stat.st_uid != 0 {
        Some(format!("its directory belongs to uid {}", stat.st_uid))
    } else if mode & 0o022 != 0 {
        Some(format!("its directory is writable by others (mode {mode:04o})"))
    } else {
        None
    }
}
