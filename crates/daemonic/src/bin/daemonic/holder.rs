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

#[cfg(test)]
mod tests {
    use std::io::BufRead as _;
    use std::os::unix::fs::PermissionsExt as _;
    use std::path::PathBuf;
    use std::process::{Child, Command, Stdio};
    use std::time::{Duration, Instant};

    use super::*;

    /// A process of the test's own, ended (and reaped) when dropped.
    struct Process(Child);

    impl Process {
        fn pid(&self) -> u32 {
            self.0.id()
        }
    }

    impl Drop for Process {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    /// `sleep`, started before the PID file naming it is written.
    fn sleeper() -> Process {
        Process(Command::new("sleep").arg("100").stdin(Stdio::null()).spawn().unwrap())
    }

    /// A process that locks `path` (`flock(1)` on a descriptor it keeps across its `exec` of
    /// `sleep`), then is named by it.
    fn locker(path: &Path) -> Process {
        let script = r#"exec 9<"$0"; flock -x 9; echo locked; exec sleep 100"#;
        let mut child = Command::new("sh")
            .args(["-c", script, path.to_str().unwrap()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        assert_eq!(line, "locked\n");
        Process(child)
    }

    fn pid_file(dir: &Path, content: &str) -> PathBuf {
        let path = dir.join("app.pid");
        std::fs::write(&path, content).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        path
    }

    /// The pid of a running holder, and whether it is a supervisor.
    fn running(judged: Result<Judged, String>) -> (u32, bool) {
        match judged {
            Ok(Judged::Running(service)) => (service.pid.get(), service.is_supervisor()),
            Ok(Judged::Missing) => panic!("missing"),
            Ok(Judged::Stale(_)) => panic!("stale"),
            Err(e) => panic!("refused: {e}"),
        }
    }

    fn stale(judged: Result<Judged, String>) -> bool {
        matches!(judged, Ok(Judged::Stale(_)))
    }

    fn refused(judged: Result<Judged, String>) -> String {
        match judged {
            Err(e) => e,
            Ok(_) => panic!("not refused"),
        }
    }

    fn is_root() -> bool {
        rustix::process::geteuid().is_root()
    }

    #[test]
    fn missing_and_stale_files() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(judge(&dir.path().join("none.pid")), Ok(Judged::Missing)));
        assert!(stale(judge(&pid_file(dir.path(), ""))));
        let mut dead = Command::new("true").spawn().unwrap();
        dead.wait().unwrap();
        assert!(stale(judge(&pid_file(dir.path(), &format!("{}\n", dead.id())))));
        let inside = pid_file(dir.path(), "1\n").join("x.pid");
        let reason = refused(judge(&inside));
        assert!(reason.starts_with("cannot tell who holds the PID file: "), "{reason}");
    }

    #[test]
    fn a_locked_file_is_judged_by_its_holder() {
        let dir = tempfile::tempdir().unwrap();
        let path = pid_file(dir.path(), "");
        let holder = locker(&path);
        std::fs::write(&path, format!("{}\n", holder.pid())).unwrap();
        assert_eq!(running(judge(&path)), (holder.pid(), false));
        if is_root() {
            // Locked: proven by its lock, whoever can write its directory.
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
            assert_eq!(running(judge(&path)), (holder.pid(), false));
        }
        // Its own tree record (written by a supervisor) makes it a supervisor.
        let identity = tree::identity(std::fs::File::open(&path).unwrap()).unwrap();
        let record = dir.path().join("app.pid.tree");
        std::fs::write(&record, format!("supervisor={}\npidfile={}:{}\n", holder.pid(), identity.0, identity.1))
            .unwrap();
        std::fs::set_permissions(&record, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(running(judge(&path)), (holder.pid(), true));
        std::fs::write(&record, format!("supervisor={}\npidfile={}:{}\n", holder.pid() + 1, identity.0, identity.1))
            .unwrap();
        assert_eq!(running(judge(&path)), (holder.pid(), false), "a record of another process");

        // Locked, but naming a process that does not have it open: never signalled.
        std::fs::write(&path, "1\n").unwrap();
        let reason = refused(judge(&path));
        assert!(reason.starts_with("refusing to signal: "), "{reason}");
    }

    #[test]
    fn an_unlocked_file_naming_a_live_writer() {
        let dir = tempfile::tempdir().unwrap();
        let writer = sleeper();
        let path = pid_file(dir.path(), &format!("{}\n", writer.pid()));
        assert_eq!(running(judge(&path)), (writer.pid(), false));
        if !is_root() {
            return;
        }
        // As root, only in a directory no other user can write.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        assert_eq!(
            refused(judge(&path)),
            format!(
                "refusing to act on {}: it is not locked, and its directory is writable by others (mode 0777), \
                 so any file could have been moved there",
                path.display()
            )
        );
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o720)).unwrap();
        assert!(refused(judge(&path)).contains("its directory is writable by others (mode 0720)"));
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(running(judge(&path)), (writer.pid(), false));
        std::os::unix::fs::chown(dir.path(), Some(65534), None).unwrap();
        assert!(refused(judge(&path)).contains("it is not locked, and its directory belongs to uid 65534"));
    }

    #[test]
    fn never_pid_1_nor_the_caller() {
        let dir = tempfile::tempdir().unwrap();
        let path = pid_file(dir.path(), "1\n");
        assert_eq!(refused(judge(&path)), format!("refusing to signal PID 1 (named by {})", path.display()));
        // Unlocked, a file naming the caller is stale; locked by the caller, it is refused.
        let path = pid_file(dir.path(), &format!("{}\n", std::process::id()));
        assert!(stale(judge(&path)));
        std::fs::remove_file(&path).unwrap();
        let mine = pidfile::PidFile::create(&path).unwrap();
        assert_eq!(refused(judge(&path)), format!("refusing to signal myself (named by {})", path.display()));
        mine.remove().unwrap();
    }

    #[test]
    fn a_file_others_could_have_written_is_refused() {
        if !is_root() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let writer = sleeper();
        let path = pid_file(dir.path(), &format!("{}\n", writer.pid()));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
        let reason = refused(judge(&path));
        assert!(reason.starts_with(&format!("refusing to act on {}: ", path.display())), "{reason}");
    }

    #[test]
    fn a_refusal_is_settled_for_half_a_second_and_an_answer_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = pid_file(dir.path(), "1\n");
        let start = Instant::now();
        assert!(refused(judge_settled(&path)).contains("PID 1"));
        let waited = start.elapsed();
        assert!(waited >= Duration::from_millis(500) && waited < Duration::from_secs(5), "{waited:?}");
        let start = Instant::now();
        assert!(stale(judge_settled(&pid_file(dir.path(), ""))));
        assert!(start.elapsed() < Duration::from_millis(500));
    }
}
