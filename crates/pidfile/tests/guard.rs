//! The guards' promises ([`PidFile`], [`PidFileLock`]), checked on the file system and on real
//! processes: what `create` writes, what `remove` reports that `Drop` can only swallow, what
//! `detach` leaves, which files a guard never unlinks.

mod common;

use std::os::fd::AsFd;
use std::path::Path;

use common::{identity, line, mode, say, set_mode, sleeper, tempdir, Spawned};
use pidfile::{Operation, Pid, PidFile, PidFileError, PidFileLock};

/// This test binary's file name in `common::child`.
fn exe() -> std::path::PathBuf {
    std::env::current_exe().unwrap()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

#[test]
fn create_writes_the_pid_line_and_remove_unlinks_it() {
    let dir = tempdir(false);
    let path = dir.path().join("app.pid");
    let guard = PidFile::create(&path).unwrap();
    assert_eq!(read(&path), line(Pid::current()));
    assert_eq!(guard.pid(), Pid::current());
    assert_eq!(guard.path(), path);
    assert_eq!(guard.parent_dir().map(|d| d.name()), Some("app.pid".as_ref()));
    assert_eq!(mode(&path) & !0o644, 0, "never more than rw-r--r--");
    // The guard's descriptor is the file, and it holds the lock.
    let fd = rustix::fs::fstat(guard.as_fd()).unwrap();
    #[allow(clippy::unnecessary_cast)]
    let held = (fd.st_dev as u64, fd.st_ino as u64);
    assert_eq!(held, identity(&path));
    let other = std::fs::File::open(&path).unwrap();
    let lock = rustix::fs::flock(&other, rustix::fs::FlockOperation::NonBlockingLockShared);
    assert_eq!(lock, Err(rustix::io::Errno::WOULDBLOCK), "the guard holds the lock");
    guard.remove().unwrap();
    assert!(!path.exists());
    assert_eq!(rustix::fs::flock(&other, rustix::fs::FlockOperation::NonBlockingLockShared), Ok(()));
}

#[test]
fn create_with_pid_and_mode_write_what_was_asked() {
    let dir = tempdir(false);
    let path = dir.path().join("worker.pid");
    let worker = sleeper();
    let guard = PidFile::create_with_pid(&path, worker.pid()).unwrap();
    assert_eq!((read(&path), guard.pid()), (line(worker.pid()), worker.pid()));
    drop(guard);
    assert!(!path.exists(), "the creating process owns the guard, whatever pid it names");

    let guard = PidFile::create_with_mode(&path, 0o600).unwrap();
    assert_eq!((read(&path), mode(&path)), (line(Pid::current()), 0o600));
    drop(guard);
    let lock = PidFileLock::acquire_with_mode(&path, 0o640).unwrap();
    assert_eq!((read(&path), mode(&path)), (String::new(), 0o640 & mode_allowed_by_umask()));
    assert_eq!(lock.path(), path);
    drop(lock);
    assert!(!path.exists());
}

/// What the process's umask lets a new file have (read without changing it: /proc).
fn mode_allowed_by_umask() -> u32 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let umask = status
        .lines()
        .find_map(|l| l.strip_prefix("Umask:"))
        .and_then(|v| u32::from_str_radix(v.trim(), 8).ok())
        .unwrap_or(0o022);
    !umask & 0o777
}

/// The child of `remove_reports_what_drop_only_swallows`: holds two files in a directory it
/// then makes unwritable, and reports what `remove` says.
fn remove_denied_child(dir: &Path) {
    let guard = PidFile::create(dir.join("guard.pid")).unwrap();
    let lock = PidFileLock::acquire(dir.join("lock.pid")).unwrap();
    set_mode(dir, 0o555);
    for (name, result) in [("PidFile", guard.remove()), ("PidFileLock", lock.remove())] {
        match result {
            Err(PidFileError::RemoveDenied { source, .. }) => say(format!("{name}: RemoveDenied {:?}", source.kind())),
            other => say(format!("{name}: {other:?}")),
        }
    }
    set_mode(dir, 0o755);
}

/// `remove` reports what `Drop` can only swallow: an unlink the directory refuses. The file is
/// then emptied through the guard's descriptor, so it names no process. (A `remove` that did
/// nothing and left the work to `Drop` would say `Ok` here.) As root the holder runs as
/// `nobody`, whom the directory's permissions bind.
#[test]
fn remove_reports_what_drop_only_swallows() {
    if let Some(dir) =
        std::env::var_os("PIDFILE_TEST_DIR").filter(|_| common::role().as_deref() == Some("remove-denied"))
    {
        return remove_denied_child(Path::new(&dir));
    }
    let dir = tempdir(true);
    if common::is_root() {
        std::os::unix::fs::chown(dir.path(), Some(common::NOBODY), Some(common::NOBODY)).unwrap();
    }
    let exe = common::PublicExe::new();
    let mut command = common::child(&exe.path(), "remove_reports_what_drop_only_swallows", "remove-denied");
    command.env("PIDFILE_TEST_DIR", dir.path());
    let mut child = Spawned::new(common::as_nobody_if_root(&mut command));
    assert_eq!(child.said(), "PidFile: RemoveDenied PermissionDenied");
    assert_eq!(child.said(), "PidFileLock: RemoveDenied PermissionDenied");
    assert!(child.finish().success());
    for name in ["guard.pid", "lock.pid"] {
        let path = dir.path().join(name);
        assert!(path.exists(), "{name} could not be removed");
        assert_eq!(read(&path), "", "{name} was emptied instead");
    }
}

#[test]
fn detach_leaves_the_file_and_its_content() {
    let dir = tempdir(false);
    let path = dir.path().join("app.pid");
    let guard = PidFile::create(&path).unwrap();
    let inode = identity(&path);
    guard.detach();
    assert_eq!((read(&path), identity(&path)), (line(Pid::current()), inode));
    // The lock went with the descriptor: the file is stale (it names this process) and taken over.
    let again = PidFile::create(&path).unwrap();
    assert_eq!(identity(&path), inode);
    again.remove().unwrap();

    let lock = PidFileLock::acquire(&path).unwrap();
    let inode = identity(&path);
    lock.detach();
    assert_eq!((read(&path), identity(&path)), (String::new(), inode));
}

#[test]
fn drop_removes_the_file_of_either_guard() {
    let dir = tempdir(false);
    let path = dir.path().join("app.pid");
    drop(PidFile::create(&path).unwrap());
    assert!(!path.exists());
    drop(PidFileLock::acquire(&path).unwrap());
    assert!(!path.exists());
    let guard = PidFileLock::acquire(&path).unwrap().write_pid(Pid::current()).unwrap();
    assert_eq!((read(&path), guard.pid()), (line(Pid::current()), Pid::current()));
    drop(guard);
    assert!(!path.exists());
    PidFileLock::acquire(&path).unwrap().remove().unwrap();
    assert!(!path.exists());
}

/// A process sharing the lock (a forked child) that wrote its own pid has taken the file
/// over: the guard leaves it while that process lives, and removes it once its pid is dead.
#[test]
fn remove_leaves_a_file_a_live_process_took_over() {
    let dir = tempdir(false);
    let path = dir.path().join("app.pid");
    let successor = sleeper();
    let guard = PidFile::create(&path).unwrap();
    // Written through the same inode, after the successor started: its file now.
    std::fs::write(&path, line(successor.pid())).unwrap();
    guard.remove().unwrap();
    assert_eq!(read(&path), line(successor.pid()), "the successor's file is left alone");

    std::fs::remove_file(&path).unwrap();
    let guard = PidFile::create(&path).unwrap();
    std::fs::write(&path, "2147483646\n").unwrap(); // no such process
    guard.remove().unwrap();
    assert!(!path.exists(), "a file naming a dead process is still ours to remove");

    let lock = PidFileLock::acquire(&path).unwrap();
    std::fs::write(&path, line(successor.pid())).unwrap();
    lock.remove().unwrap();
    assert_eq!(read(&path), line(successor.pid()));
}

/// A guard unlinks only the inode it locked: a file that replaced it at the path is left
/// alone, and the guard's own (renamed) file is emptied so it names no process.
#[test]
fn remove_never_unlinks_a_replacement() {
    let dir = tempdir(false);
    let path = dir.path().join("app.pid");
    let moved = dir.path().join("moved.pid");
    let guard = PidFile::create(&path).unwrap();
    std::fs::rename(&path, &moved).unwrap();
    std::fs::write(&path, "someone else's\n").unwrap();
    guard.remove().unwrap();
    assert_eq!(read(&path), "someone else's\n");
    assert_eq!(read(&moved), "", "the guard's own file names nobody now");

    std::fs::remove_file(&path).unwrap();
    let guard = PidFile::create(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    guard.remove().unwrap();
    assert!(!path.exists(), "gone is fine");
}

#[test]
fn close_parent_dir_empties_instead_of_unlinking() {
    let dir = tempdir(false);
    let path = dir.path().join("app.pid");
    let mut guard = PidFile::create(&path).unwrap();
    guard.close_parent_dir();
    assert!(guard.parent_dir().is_none());
    guard.remove().unwrap();
    assert_eq!(read(&path), "");

    let mut lock = PidFileLock::acquire(&path).unwrap();
    assert_eq!(lock.parent_dir().map(|d| d.name()), Some("app.pid".as_ref()));
    lock.close_parent_dir();
    assert!(lock.parent_dir().is_none());
    let mut guard = lock.write_pid(Pid::current()).unwrap();
    assert_eq!(read(&path), line(Pid::current()));
    guard.write_pid(Pid::new(1).unwrap()).unwrap();
    assert_eq!((read(&path), guard.pid()), ("1\n".to_owned(), Pid::new(1).unwrap()));
    drop(guard);
    assert_eq!(read(&path), "", "emptied by drop, not unlinked");
}

/// A stale file is taken over in place (same inode), emptied, its mode narrowed to the one
/// asked for, never widened.
#[test]
fn a_stale_file_is_taken_over_in_place() {
    let dir = tempdir(false);
    let path = dir.path().join("app.pid");
    std::fs::write(&path, "2147483646\n").unwrap();
    set_mode(&path, 0o644);
    let inode = identity(&path);
    let lock = PidFileLock::acquire_with_mode(&path, 0o600).unwrap();
    assert_eq!((read(&path), mode(&path), identity(&path)), (String::new(), 0o600, inode));
    lock.detach();

    set_mode(&path, 0o640);
    let guard = PidFile::create_with_mode(&path, 0o604).unwrap();
    assert_eq!((read(&path), mode(&path), identity(&path)), (line(Pid::current()), 0o600, inode));
    guard.detach();

    // Nothing in common with the mode asked for (and no write bit for others, which root
    // would refuse): narrowed to nothing.
    set_mode(&path, 0o050);
    let lock = PidFileLock::acquire_with_mode(&path, 0o600).unwrap();
    assert_eq!((mode(&path), identity(&path)), (0, inode));
    lock.detach();

    std::fs::write(&path, "garbage").unwrap();
    set_mode(&path, 0o644);
    let guard = PidFile::create(&path).unwrap();
    assert_eq!((read(&path), mode(&path), identity(&path)), (line(Pid::current()), 0o644, inode));
    drop(guard);
}

/// A file naming a live process that wrote it without locking (the Python original) is that
/// process's: neither taken over nor removed.
#[test]
fn a_live_non_locking_writer_keeps_its_file() {
    let dir = tempdir(false);
    let path = dir.path().join("app.pid");
    let writer = sleeper();
    std::fs::write(&path, line(writer.pid())).unwrap();
    let inode = identity(&path);
    for result in [PidFile::create(&path).map(drop), PidFileLock::acquire(&path).map(drop)] {
        match result {
            Err(PidFileError::AlreadyRunning { pid, path: p }) => {
                assert_eq!((pid, p), (Some(writer.pid()), path.clone()))
            }
            other => panic!("{other:?}"),
        }
    }
    match pidfile::remove_pidfile(&path) {
        Err(PidFileError::AlreadyRunning { pid, .. }) => assert_eq!(pid, Some(writer.pid())),
        other => panic!("{other:?}"),
    }
    assert_eq!((read(&path), identity(&path)), (line(writer.pid()), inode));
    drop(writer); // killed and reaped: now stale
    pidfile::remove_pidfile(&path).unwrap();
    assert!(!path.exists());
    pidfile::remove_pidfile(&path).unwrap();
}

/// The child of the holder tests: holds `PIDFILE_TEST_PATH` (empty with `hold-empty`) until
/// its stdin closes.
fn holder_child(role: &str, path: &Path) {
    if role == "hold-empty" {
        let lock = PidFileLock::acquire(path).unwrap();
        say("locked");
        common::wait_for_parent();
        drop(lock);
    } else {
        let guard = PidFile::create(path).unwrap();
        say("locked");
        common::wait_for_parent();
        guard.remove().unwrap();
    }
}

fn holder(test: &str, role: &str, path: &Path) -> Spawned {
    let mut command = common::child(&exe(), test, role);
    command.env("PIDFILE_TEST_PATH", path);
    let mut child = Spawned::new(&mut command);
    assert_eq!(child.said(), "locked");
    child
}

fn as_holder() -> Option<(String, std::path::PathBuf)> {
    Some((common::role()?, std::env::var_os("PIDFILE_TEST_PATH")?.into()))
}

/// Another process's lock: refused with its pid, its file untouched; once it lets go, the
/// file is free.
#[test]
fn a_holder_in_another_process_is_named_and_left_alone() {
    if let Some((role, path)) = as_holder() {
        return holder_child(&role, &path);
    }
    let dir = tempdir(false);
    let path = dir.path().join("app.pid");
    let child = holder("a_holder_in_another_process_is_named_and_left_alone", "hold", &path);
    let inode = identity(&path);
    for result in [PidFile::create(&path).map(drop), PidFileLock::acquire(&path).map(drop)] {
        match result {
            Err(PidFileError::AlreadyRunning { pid, .. }) => assert_eq!(pid, Some(child.pid())),
            other => panic!("{other:?}"),
        }
    }
    assert!(matches!(pidfile::remove_pidfile(&path), Err(PidFileError::AlreadyRunning { .. })));
    assert_eq!((read(&path), identity(&path)), (line(child.pid()), inode));
    assert_eq!(pidfile::running_pid(&path).unwrap(), Some(child.pid()));
    assert!(child.finish().success());
    assert!(!path.exists(), "the holder removed its file");
    drop(PidFile::create(&path).unwrap());
}

/// A holder that has not written its pid (yet) is reported as unknown, never as a pid.
#[test]
fn a_holder_that_wrote_no_pid_is_unknown() {
    if let Some((role, path)) = as_holder() {
        return holder_child(&role, &path);
    }
    let dir = tempdir(false);
    let path = dir.path().join("app.pid");
    let child = holder("a_holder_that_wrote_no_pid_is_unknown", "hold-empty", &path);
    let started = std::time::Instant::now();
    match PidFile::create(&path) {
        Err(PidFileError::AlreadyRunning { pid, .. }) => assert_eq!(pid, None),
        other => panic!("{other:?}"),
    }
    assert!(started.elapsed() >= std::time::Duration::from_millis(90), "waited for the pid");
    assert!(matches!(pidfile::running_pid(&path), Err(PidFileError::UnknownHolder { .. })));
    assert_eq!(read(&path), "");
    drop(child); // killed: the kernel releases its lock
    let guard = PidFile::create(&path).unwrap();
    assert_eq!(read(&path), line(guard.pid()));
}

/// The child of `a_failed_write_keeps_the_os_error`, run with a file size limit of 0 and
/// `SIGXFSZ` ignored: every write fails with `EFBIG`.
fn failed_write_child(dir: &Path) {
    for (name, result) in [
        ("PidFile", PidFile::create(dir.join("guard.pid")).map(drop)),
        ("PidFileLock", PidFileLock::acquire(dir.join("lock.pid")).and_then(|l| l.write_pid(Pid::current())).map(drop)),
    ] {
        match result {
            Err(PidFileError::Io { op: Operation::Write, source, .. }) => {
                say(format!("{name}: {:?}", source.raw_os_error()))
            }
            other => say(format!("{name}: {other:?}")),
        }
    }
}

/// A failed write reports the OS error (`EFBIG` here), not a made-up one, and leaves no file.
#[test]
fn a_failed_write_keeps_the_os_error() {
    if let Some(dir) = std::env::var_os("PIDFILE_TEST_DIR").filter(|_| common::role().as_deref() == Some("efbig")) {
        return failed_write_child(Path::new(&dir));
    }
    let dir = tempdir(false);
    let mut command = std::process::Command::new("sh");
    command
        .args(["-c", "trap '' XFSZ; ulimit -f 0; exec \"$0\" \"$@\""])
        .arg(exe())
        .args(["--exact", "a_failed_write_keeps_the_os_error", "--nocapture", "--test-threads=1"])
        .env("PIDFILE_TEST_ROLE", "efbig")
        .env("PIDFILE_TEST_DIR", dir.path());
    let mut child = Spawned::new(&mut command);
    let efbig = Some(rustix::io::Errno::FBIG.raw_os_error());
    assert_eq!(child.said(), format!("PidFile: {efbig:?}"));
    assert_eq!(child.said(), format!("PidFileLock: {efbig:?}"));
    assert!(child.finish().success());
    assert!(!dir.path().join("guard.pid").exists(), "the failed guard removed its file");
    assert!(!dir.path().join("lock.pid").exists());
}

#[test]
fn what_is_not_a_regular_file_is_refused_and_left_alone() {
    let dir = tempdir(false);
    let path = dir.path().join("app.pid");
    std::os::unix::fs::symlink("target.pid", &path).unwrap();
    assert!(matches!(PidFile::create(&path), Err(PidFileError::NotRegularFile { .. })));
    assert!(matches!(pidfile::remove_pidfile(&path), Err(PidFileError::NotRegularFile { .. })));
    assert!(std::fs::symlink_metadata(&path).unwrap().file_type().is_symlink());
    assert!(!dir.path().join("target.pid").exists(), "the link was not followed");
    std::fs::remove_file(&path).unwrap();
    std::fs::create_dir(&path).unwrap();
    assert!(matches!(PidFile::create(&path), Err(PidFileError::NotRegularFile { .. })));
    assert!(path.is_dir());
    let missing = dir.path().join("missing/app.pid");
    match PidFile::create(&missing) {
        Err(e @ PidFileError::Io { op: Operation::Open, .. }) => assert_eq!(e.kind(), std::io::ErrorKind::NotFound),
        other => panic!("{other:?}"),
    }
}

/// A file naming a live process that started after the file was last written: the pid was
/// reused, the file is stale and taken over.
#[test]
fn a_reused_pid_does_not_hold_the_file() {
    let dir = tempdir(false);
    let path = dir.path().join("app.pid");
    let newcomer = sleeper();
    std::fs::write(&path, line(newcomer.pid())).unwrap();
    let file = std::fs::File::options().write(true).open(&path).unwrap();
    file.set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(3600)).unwrap();
    drop(file);
    assert!(pidfile::pidfile_is_stale(&path).unwrap(), "written an hour before the process started");
    let inode = identity(&path);
    let guard = PidFile::create(&path).unwrap();
    assert_eq!((read(&path), identity(&path)), (line(Pid::current()), inode));
    drop(guard);
}

/// A file naming a zombie (exited, not reaped: `kill(pid, 0)` still succeeds) is stale.
#[test]
fn a_zombie_does_not_hold_the_file() {
    let dir = tempdir(false);
    let path = dir.path().join("app.pid");
    let mut exited = std::process::Command::new("true").spawn().unwrap();
    let pid = Pid::new(exited.id()).unwrap();
    let stat = format!("/proc/{pid}/stat");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !std::fs::read_to_string(&stat).unwrap_or_default().contains(") Z ") {
        assert!(std::time::Instant::now() < deadline, "the child never became a zombie");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    std::fs::write(&path, line(pid)).unwrap();
    assert!(pidfile::is_pid_running(pid), "a zombie still has its pid");
    let stale = pidfile::pidfile_is_stale(&path);
    let taken = PidFile::create(&path).map(|guard| (read(&path), guard));
    exited.wait().unwrap();
    assert!(stale.unwrap());
    assert_eq!(taken.unwrap().0, line(Pid::current()));
}

/// The child of `a_file_that_cannot_be_locked_is_not_left_behind`: creates a new PID file
/// while strace makes its `flock` calls fail, and says what `create` returned.
fn flock_fails_child(dir: &Path) {
    match PidFile::create(dir.join("app.pid")) {
        Err(PidFileError::Io { op, source, .. }) => say(format!("{op}: {:?}", source.raw_os_error())),
        other => say(format!("{:?}", other.map(|g| g.pid()))),
    }
}

/// A file `create` made but could not lock is removed again, not left behind empty: at once
/// when the file system has no locks (`ENOLCK`), after any other error only if its lock can
/// be taken now (else someone may hold it, and it stays). The failures are injected with
/// `strace -e inject` (skipped, saying so, without strace).
#[test]
fn a_file_that_cannot_be_locked_is_not_left_behind() {
    if let Some(dir) = std::env::var_os("PIDFILE_TEST_DIR").filter(|_| common::role().as_deref() == Some("flock-fails"))
    {
        return flock_fails_child(Path::new(&dir));
    }
    let strace = std::process::Command::new("strace").arg("-V").output();
    if !strace.is_ok_and(|out| out.status.success()) {
        use std::io::Write;
        let _ = writeln!(std::io::stderr(), "a_file_that_cannot_be_locked_is_not_left_behind: SKIPPED, needs strace");
        return;
    }
    let (nolck, eio) = (rustix::io::Errno::NOLCK, rustix::io::Errno::IO);
    // (error, which flock calls fail, whether the file is left)
    for (errno, when, left) in [(nolck, "1..2", false), (eio, "1", false), (eio, "1..2", true)] {
        let dir = tempdir(false);
        let mut command = std::process::Command::new("strace");
        command
            .args(["-f", "-qq", "-o", "/dev/null", "-e", "trace=flock", "-e"])
            .arg(format!("inject=flock:error={}:when={when}", errno_name(errno)))
            .arg("--")
            .arg(exe())
            .args(["--exact", "a_file_that_cannot_be_locked_is_not_left_behind", "--nocapture", "--test-threads=1"])
            .env("PIDFILE_TEST_ROLE", "flock-fails")
            .env("PIDFILE_TEST_DIR", dir.path());
        let mut child = Spawned::new(&mut command);
        assert_eq!(child.said(), format!("lock: Some({})", errno.raw_os_error()), "{errno:?} on flock {when}");
        assert!(child.finish().success());
        let path = dir.path().join("app.pid");
        assert_eq!(path.exists(), left, "{errno:?} on flock {when}");
        if left {
            assert_eq!(read(&path), "", "left empty, naming nobody");
        }
    }
}

/// A private mode is the mode the file is created with: it is never public, not even between
/// its creation and a `chmod` (there is none: every `fchmod` fails here, injected with
/// `strace -e inject`; skipped, saying so, without strace).
#[test]
fn a_private_file_is_created_private() {
    if let Some(dir) = std::env::var_os("PIDFILE_TEST_DIR").filter(|_| common::role().as_deref() == Some("no-fchmod")) {
        let result = PidFileLock::acquire_with_mode(Path::new(&dir).join("app.pid"), 0o600).map(PidFileLock::detach);
        return say(format!("{result:?}"));
    }
    let strace = std::process::Command::new("strace").arg("-V").output();
    if !strace.is_ok_and(|out| out.status.success()) {
        use std::io::Write;
        let _ = writeln!(std::io::stderr(), "a_private_file_is_created_private: SKIPPED, needs strace");
        return;
    }
    let dir = tempdir(false);
    let mut command = std::process::Command::new("strace");
    command
        .args([
            "-f",
            "-qq",
            "-o",
            "/dev/null",
            "-e",
            "trace=fchmod,fchmodat",
            "-e",
            "inject=fchmod,fchmodat:error=EPERM",
        ])
        .arg("--")
        .arg(exe())
        .args(["--exact", "a_private_file_is_created_private", "--nocapture", "--test-threads=1"])
        .env("PIDFILE_TEST_ROLE", "no-fchmod")
        .env("PIDFILE_TEST_DIR", dir.path());
    let mut child = Spawned::new(&mut command);
    assert_eq!(child.said(), "Ok(())");
    assert!(child.finish().success());
    assert_eq!(mode(&dir.path().join("app.pid")), 0o600 & mode_allowed_by_umask());
}

fn errno_name(errno: rustix::io::Errno) -> &'static str {
    if errno == rustix::io::Errno::NOLCK {
        "ENOLCK"
    } else {
        "EIO"
    }
}
