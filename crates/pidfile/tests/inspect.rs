//! [`pidfile::inspect`] and what it reports: "no file" only when there is none, every fact from
//! the one descriptor it opened (holder, lock, owner, mode, links, content), a test lock that
//! never outlives the look, and a removal that only ever takes the stale file it inspected.

mod common;

use std::path::Path;

use common::{identity, line, set_mode, sleeper, tempdir, Spawned};
use pidfile::{Holder, Operation, Pid, PidFile, PidFileError, PidFileLock};

fn open_error(result: Result<impl std::fmt::Debug, PidFileError>) -> std::io::ErrorKind {
    match result {
        Err(e @ PidFileError::Io { op: Operation::Open, .. }) => e.kind(),
        other => panic!("not an open error: {other:?}"),
    }
}

/// Only a missing file (or directory) is "no file"; any other failure to open is an error,
/// never mistaken for a file that is not there.
#[test]
fn only_a_missing_file_is_no_file() {
    let dir = tempdir(false);
    assert!(pidfile::inspect(dir.path().join("app.pid")).unwrap().is_none());
    assert!(pidfile::inspect(dir.path().join("missing/app.pid")).unwrap().is_none());
    pidfile::remove_pidfile(dir.path().join("app.pid")).unwrap();
    pidfile::remove_pidfile(dir.path().join("missing/app.pid")).unwrap();
    assert_eq!(pidfile::running_pid(dir.path().join("app.pid")).unwrap(), None);
    assert!(!pidfile::pidfile_is_stale(dir.path().join("app.pid")).unwrap());

    // The directory on the way is a file: ENOTDIR.
    let file = dir.path().join("file");
    std::fs::write(&file, "").unwrap();
    let under_a_file = file.join("app.pid");
    assert_eq!(open_error(pidfile::inspect(&under_a_file)), std::io::ErrorKind::NotADirectory);
    assert_eq!(open_error(pidfile::remove_pidfile(&under_a_file)), std::io::ErrorKind::NotADirectory);
    // A name longer than any file system allows: ENAMETOOLONG, from the open itself.
    let too_long = dir.path().join("x".repeat(300));
    assert_eq!(open_error(pidfile::inspect(&too_long)), std::io::ErrorKind::InvalidFilename);
    assert_eq!(open_error(pidfile::remove_pidfile(&too_long)), std::io::ErrorKind::InvalidFilename);
    assert!(std::fs::read_dir(dir.path()).unwrap().count() == 1, "nothing was created");
}

/// The shared lock `inspect` tests with is dropped before it returns: a `create` while the
/// inspection is still alive succeeds.
#[test]
fn an_inspection_holds_no_lock() {
    let dir = tempdir(false);
    let path = dir.path().join("app.pid");
    std::fs::write(&path, "2147483646\n").unwrap();
    let seen = pidfile::inspect(&path).unwrap().unwrap();
    assert!(!seen.is_locked());
    assert_eq!(seen.holder(), Holder::Nobody);
    assert!(seen.is_stale());
    let guard = PidFile::create(&path).expect("the inspection keeps no lock");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), line(guard.pid()));
    assert!(!seen.is_released().unwrap(), "the inspected file is now held");
    drop(guard);
    assert!(seen.is_released().unwrap());
    // Nor does `is_released` keep the lock it tested with.
    let guard = PidFile::create(&path).expect("is_released keeps no lock");
    drop(guard);
}

/// Owner, mode and link count are the file's, from the inspection's descriptor.
#[test]
fn owner_mode_and_links_describe_the_file() {
    let dir = tempdir(false);
    let path = dir.path().join("app.pid");
    std::fs::write(&path, "").unwrap();
    set_mode(&path, 0o2640);
    let seen = pidfile::inspect(&path).unwrap().unwrap();
    assert_eq!(seen.owner(), rustix::process::geteuid().as_raw());
    assert_eq!(seen.mode(), 0o2640);
    assert_eq!(seen.links(), 1);
    assert_eq!(seen.path(), path);
    assert_eq!(seen.parent_dir().name(), "app.pid");
    drop(seen);
    set_mode(&path, 0o600);
    std::fs::hard_link(&path, dir.path().join("second")).unwrap();
    let seen = pidfile::inspect(&path).unwrap().unwrap();
    assert_eq!((seen.mode(), seen.links()), (0o600, 2));
    if common::is_root() {
        std::os::unix::fs::chown(&path, Some(common::NOBODY), None).unwrap();
        assert_eq!(seen.owner(), 0, "what was seen, not what is now");
        assert_eq!(pidfile::inspect(&path).unwrap().unwrap().owner(), common::NOBODY);
    }
}

/// The holder, the lock and the content, for a file this process holds.
#[test]
fn a_held_file_names_its_holder() {
    let dir = tempdir(false);
    let path = dir.path().join("app.pid");
    let other = sleeper();
    let guard = PidFile::create(&path).unwrap();
    let seen = pidfile::inspect(&path).unwrap().unwrap();
    assert!(seen.is_locked());
    assert!(!seen.is_stale());
    assert_eq!(seen.holder(), Holder::Process(guard.pid()));
    assert_eq!((seen.pid(), seen.read_pid().ok()), (Some(guard.pid()), Some(guard.pid())));
    assert_eq!(seen.holds_open(guard.pid()), Some(true));
    assert_eq!(seen.holds_open(other.pid()), Some(false), "sleep does not have the file open");
    assert!(seen.still_names(guard.pid()).unwrap());
    assert!(!seen.still_names(other.pid()).unwrap());
    assert!(!pidfile::pidfile_is_stale(&path).unwrap());
    assert_eq!(pidfile::running_pid(&path).unwrap(), Some(guard.pid()));
    let mut guard = guard;
    guard.write_pid(other.pid()).unwrap();
    assert!(!seen.still_names(Pid::current()).unwrap(), "rewritten since");
    // `sleep` is alive but does not have the file open: not a credible holder.
    assert!(!seen.still_names(other.pid()).unwrap());
    // Nobody holding it removes it: the guard's, not the inspection's.
    assert!(!seen.remove_if_stale().unwrap());
    assert!(path.exists());
}

/// An unlocked file naming a live process that wrote it without a lock: that process is the
/// holder, and the file is not stale.
#[test]
fn a_live_non_locking_writer_is_the_holder() {
    let dir = tempdir(false);
    let path = dir.path().join("app.pid");
    let writer = sleeper();
    std::fs::write(&path, line(writer.pid())).unwrap();
    let seen = pidfile::inspect(&path).unwrap().unwrap();
    assert!(!seen.is_locked());
    assert_eq!(seen.holder(), Holder::Process(writer.pid()));
    assert!(!seen.is_stale());
    assert!(seen.still_names(writer.pid()).unwrap());
    assert!(!seen.still_names(Pid::new(2147483646).unwrap()).unwrap());
    assert_eq!(pidfile::running_pid(&path).unwrap(), Some(writer.pid()));
    assert!(!pidfile::pidfile_is_stale(&path).unwrap());
    assert!(!seen.remove_if_stale().unwrap());
    assert_eq!(std::fs::read_to_string(&path).unwrap(), line(writer.pid()));
}

/// A lock whose holder names no process is `Unknown`: no pid to signal.
#[test]
fn a_lock_nobody_credible_claims_is_unknown() {
    let dir = tempdir(false);
    let path = dir.path().join("app.pid");
    let lock = PidFileLock::acquire(&path).unwrap();
    let seen = pidfile::inspect(&path).unwrap().unwrap();
    assert_eq!((seen.holder(), seen.is_locked(), seen.pid()), (Holder::Unknown, true, None));
    assert!(!seen.is_stale());
    assert!(matches!(seen.read_pid(), Err(PidFileError::Malformed { .. })));
    assert!(matches!(pidfile::running_pid(&path), Err(PidFileError::UnknownHolder { .. })));
    drop(lock);
}

/// A stale file is removed, the very one inspected: not a file put in its place since, and
/// not one someone locked since.
#[test]
fn remove_if_stale_takes_only_the_stale_file_it_saw() {
    let dir = tempdir(false);
    let path = dir.path().join("app.pid");
    std::fs::write(&path, "garbage").unwrap();
    let seen = pidfile::inspect(&path).unwrap().unwrap();
    assert_eq!((seen.pid(), seen.holder()), (None, Holder::Nobody));
    assert!(pidfile::pidfile_is_stale(&path).unwrap());
    assert_eq!(pidfile::running_pid(&path).unwrap(), None);
    assert!(seen.remove_if_stale().unwrap());
    assert!(!path.exists());

    std::fs::write(&path, "2147483646\n").unwrap();
    let seen = pidfile::inspect(&path).unwrap().unwrap();
    assert_eq!(seen.pid(), Pid::new(2147483646));
    std::fs::rename(&path, dir.path().join("moved")).unwrap();
    std::fs::write(&path, "2147483646\n").unwrap();
    let replacement = identity(&path);
    assert!(!seen.remove_if_stale().unwrap());
    assert_eq!(identity(&path), replacement, "the replacement is left alone");
    assert!(dir.path().join("moved").exists());

    let seen = pidfile::inspect(&path).unwrap().unwrap();
    let guard = PidFile::create(&path).unwrap();
    assert!(!seen.remove_if_stale().unwrap(), "locked since");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), line(guard.pid()));
}

/// The holder in another process, seen from here: named, holding the file open, and released
/// once it is killed.
#[test]
fn another_process_holding_the_file() {
    if let (Some("hold"), Some(path)) = (common::role().as_deref(), std::env::var_os("PIDFILE_TEST_PATH")) {
        let guard = PidFile::create(Path::new(&path)).unwrap();
        common::say("locked");
        common::wait_for_parent();
        return guard.remove().unwrap();
    }
    let dir = tempdir(false);
    let path = dir.path().join("app.pid");
    let mut command = common::child(&std::env::current_exe().unwrap(), "another_process_holding_the_file", "hold");
    command.env("PIDFILE_TEST_PATH", &path);
    let mut child = Spawned::new(&mut command);
    assert_eq!(child.said(), "locked");
    let seen = pidfile::inspect(&path).unwrap().unwrap();
    assert_eq!(seen.holder(), Holder::Process(child.pid()));
    assert_eq!(seen.holds_open(child.pid()), Some(true));
    assert_eq!(seen.holds_open(Pid::current()), Some(true), "the inspection's own descriptor");
    assert!(seen.still_names(child.pid()).unwrap());
    assert!(!seen.is_released().unwrap());
    drop(child);
    assert!(seen.is_released().unwrap(), "killed: the kernel released the lock");
    assert!(!seen.still_names(Pid::current()).unwrap());
    assert!(seen.remove_if_stale().unwrap(), "stale now: it names a dead process");
    assert!(!path.exists());
}

/// A lock held while the file names a live process that does not have the file open (a
/// child that inherited someone's lock, a stray `flock -x`): no pid is given for it.
#[test]
fn a_lock_whose_file_names_a_bystander_is_unknown() {
    let dir = tempdir(false);
    let path = dir.path().join("app.pid");
    let bystander = sleeper();
    std::fs::write(&path, line(bystander.pid())).unwrap();
    let lock = std::fs::File::open(&path).unwrap();
    rustix::fs::flock(&lock, rustix::fs::FlockOperation::LockExclusive).unwrap();
    let seen = pidfile::inspect(&path).unwrap().unwrap();
    assert_eq!((seen.holder(), seen.pid()), (Holder::Unknown, Some(bystander.pid())));
    assert_eq!(seen.holds_open(bystander.pid()), Some(false));
    assert!(!seen.still_names(bystander.pid()).unwrap());
    match PidFile::create(&path) {
        Err(PidFileError::AlreadyRunning { pid, .. }) => assert_eq!(pid, None),
        other => panic!("{other:?}"),
    }
    assert_eq!(std::fs::read_to_string(&path).unwrap(), line(bystander.pid()));
}
