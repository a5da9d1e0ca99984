//! Process-level tests of the `pidfile` crate: many real processes, real files, SIGKILL.

use std::path::Path;
use std::process::Command;

use daemonic_tests::{age_file, is_root, run, wait_until, Spawned};
use pidfile::{is_pid_running, pidfile_is_stale, read_pid, running_pid, Pid, PidFile, PidFileError};

const FIXTURE: &str = env!("CARGO_BIN_EXE_pidfile-fixture");

fn fixture(args: &[&dyn AsRef<std::ffi::OsStr>]) -> Command {
    let mut command = Command::new(FIXTURE);
    command.args(args.iter().map(|a| a.as_ref()));
    command
}

fn pid_of(child: &Spawned) -> Pid {
    Pid::new(child.id()).unwrap()
}

/// Spawns `hold PATH` and waits until it holds the file.
fn holder(path: &Path) -> Spawned {
    let child = Spawned::new(&mut fixture(&[&"hold", &path]));
    assert_eq!(child.line(), format!("locked {}", child.id()));
    child
}

fn contention(processes: usize, rounds: u32, release: &str) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("contended.pid");
    let mut children: Vec<Spawned> = (0..processes)
        .map(|_| Spawned::new(&mut fixture(&[&"contend", &path, &rounds.to_string(), &release])))
        .collect();
    let mut refused = 0u64;
    for child in &mut children {
        let line = child.line();
        let status = child.wait();
        assert!(status.success(), "a contender failed ({status}): {line}");
        let mut words = line.split_whitespace();
        assert_eq!(words.next(), Some("acquired"));
        assert_eq!(words.next(), Some(rounds.to_string().as_str()));
        refused += words.nth(1).unwrap().parse::<u64>().unwrap();
    }
    // Contention really happened (otherwise the test proves nothing).
    assert!(refused > 0, "no process was ever refused");
    assert!(!path.exists(), "the last holder removed the file");
}

/// 32 processes × 100 rounds; each holder proves it is alone and that the file names it. Each
/// release unlinks the file while others are blocked or retrying: the unlink race of rule 2.
#[test]
fn contention_32_processes_100_rounds_remove() {
    contention(32, 100, "remove");
}

/// The same with the guard's `Drop` doing the release.
#[test]
fn contention_32_processes_100_rounds_drop() {
    contention(32, 100, "drop");
}

#[test]
fn second_instance_is_refused_with_the_holders_pid() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.pid");
    let mut first = holder(&path);
    let (status, out, _) = run(fixture(&[&"create", &path]));
    assert_eq!(status.code(), Some(1), "{out}");
    assert_eq!(out.trim(), format!("already running (pid {})", first.id()));
    // The refused instance did not touch the holder's file.
    assert_eq!(read_pid(&path).unwrap(), pid_of(&first));
    assert_eq!(running_pid(&path).unwrap(), Some(pid_of(&first)));
    assert!(!pidfile_is_stale(&path).unwrap());
    match PidFile::create(&path) {
        Err(PidFileError::AlreadyRunning { pid, path: p }) => {
            assert_eq!(pid, Some(pid_of(&first)));
            assert_eq!(p, path);
        }
        other => panic!("unexpected {other:?}"),
    }
    // remove_pidfile refuses a held file too.
    assert!(matches!(pidfile::remove_pidfile(&path), Err(PidFileError::AlreadyRunning { .. })));
    assert!(path.exists());
    first.close_stdin();
    assert_eq!(first.line(), "removed");
    assert!(!path.exists());
}

#[test]
fn sigkilled_holder_is_replaced_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crash.pid");
    let mut first = holder(&path);
    let dead = pid_of(&first);
    first.kill();
    // The leftover file names the dead holder, but nobody holds the lock.
    assert_eq!(read_pid(&path).unwrap(), dead);
    assert!(pidfile_is_stale(&path).unwrap());
    assert_eq!(running_pid(&path).unwrap(), None);
    let guard = PidFile::create(&path).unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), format!("{}\n", std::process::id()));
    guard.remove().unwrap();
}

/// After a crash, the leftover file may name a pid that a new, unrelated process got since: it
/// started after the file was written, so the file is stale.
#[test]
fn leftover_naming_a_reused_pid_is_taken_over() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("reused.pid");
    let mut first = holder(&path);
    first.kill();
    let unrelated = Spawned::new(Command::new("sleep").arg("600"));
    std::fs::write(&path, format!("{}\n", unrelated.id())).unwrap();
    age_file(&path, 3600); // written an hour ago, before `unrelated` started
    assert!(is_pid_running(pid_of(&unrelated)));
    assert!(pidfile_is_stale(&path).unwrap());
    assert_eq!(running_pid(&path).unwrap(), None);
    let guard = PidFile::create(&path).unwrap();
    assert_eq!(read_pid(&path).unwrap(), Pid::current());
    drop(guard);
    assert!(!path.exists());
    // The unrelated process was never touched.
    assert!(is_pid_running(pid_of(&unrelated)));
}

/// A live process that wrote the file without locking (e.g. the Python original) is respected.
#[test]
fn non_locking_writer_is_respected_and_all_checks_agree() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("python.pid");
    let mut writer = Spawned::new(Command::new("sleep").arg("600"));
    let pid = pid_of(&writer);
    std::fs::write(&path, format!("{pid}\n")).unwrap();

    assert!(!pidfile_is_stale(&path).unwrap());
    assert_eq!(running_pid(&path).unwrap(), Some(pid));
    match PidFile::create(&path) {
        Err(PidFileError::AlreadyRunning { pid: holder, .. }) => assert_eq!(holder, Some(pid)),
        other => panic!("unexpected {other:?}"),
    }
    assert!(matches!(pidfile::remove_pidfile(&path), Err(PidFileError::AlreadyRunning { .. })));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), format!("{pid}\n"), "file untouched");

    writer.kill(); // killed and reaped: the pid is free
    assert!(pidfile_is_stale(&path).unwrap());
    assert_eq!(running_pid(&path).unwrap(), None);
    PidFile::create(&path).unwrap().remove().unwrap();
}

#[test]
fn staleness_agrees_with_create_in_every_case() {
    let dir = tempfile::tempdir().unwrap();
    let live = Spawned::new(Command::new("sleep").arg("600"));
    let mut dead = Spawned::new(&mut Command::new("true"));
    dead.wait();
    let cases: Vec<(&str, String, u64)> = vec![
        ("empty", String::new(), 0),
        ("garbage", "garbage".into(), 0),
        ("dead pid", format!("{}\n", dead.id()), 0),
        ("own pid", format!("{}\n", std::process::id()), 0),
        ("live older writer", format!("{}\n", live.id()), 0),
        ("reused pid", format!("{}\n", live.id()), 3600),
    ];
    for (name, content, age) in cases {
        let path = dir.path().join(format!("{name}.pid"));
        std::fs::write(&path, &content).unwrap();
        if age > 0 {
            age_file(&path, age);
        }
        let stale = pidfile_is_stale(&path).unwrap();
        let created = PidFile::create(&path);
        assert_eq!(stale, created.is_ok(), "{name}: is_stale={stale} create={created:?}");
        assert_eq!(stale, name != "live older writer", "{name}");
    }
}

#[test]
fn guard_inherited_by_a_child_keeps_the_lock_after_the_parent_exits() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fork.pid");
    let mut parent = Spawned::new(&mut fixture(&[&"fork-parent-exits", &path]));
    let line = parent.line();
    let child: u32 = line.strip_prefix("child ").unwrap().parse().unwrap();
    struct Kill(u32);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = rustix::process::kill_process(
                rustix::process::Pid::from_raw(self.0 as i32).unwrap(),
                rustix::process::Signal::KILL,
            );
        }
    }
    let kill = Kill(child);
    assert!(parent.wait().success());
    assert_eq!(read_pid(&path).unwrap().get(), child);
    match PidFile::create(&path) {
        Err(PidFileError::AlreadyRunning { pid, .. }) => assert_eq!(pid.map(Pid::get), Some(child)),
        other => panic!("the orphaned child no longer holds the lock: {other:?}"),
    }
    drop(kill);
    // Once the child dies (it is reparented, so init reaps it), the lock is released.
    wait_until("the orphan's lock to be released", || PidFile::create(&path).is_ok());
}

#[test]
fn drop_in_a_forked_child_does_not_delete_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fork.pid");
    let (status, out, err) = run(fixture(&[&"fork-child-drops", &path]));
    assert!(status.success(), "{out}{err}");
    assert_eq!(out.trim(), "intact");
}

#[test]
#[cfg(target_os = "linux")] // reads the zombie state from /proc
fn liveness_facts() {
    assert!(is_pid_running(Pid::current()));
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let pid = Pid::new(child.id()).unwrap();
    // A zombie still owns its pid: documented as `true`.
    wait_until("the child to become a zombie", || {
        daemonic_tests::proc_stat_field(pid.get(), 3).as_deref() == Some("Z")
    });
    assert!(is_pid_running(pid), "zombie");
    // But an unlocked file naming a zombie is stale: the process has exited (Linux reads the
    // state in /proc).
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("zombie.pid");
    std::fs::write(&path, format!("{pid}\n")).unwrap();
    assert!(pidfile_is_stale(&path).unwrap());
    assert_eq!(running_pid(&path).unwrap(), None);
    child.wait().unwrap();
    assert!(!is_pid_running(pid), "reaped");
}

/// `kill(1, 0)` as an unprivileged user fails with EPERM, which means "alive".
#[test]
fn pid_1_is_running_for_an_unprivileged_user() {
    let shared = daemonic_tests::SharedBinary::new(FIXTURE);
    let mut command = Command::new(shared.path());
    command.args(["is-running", "1"]);
    if is_root() {
        use std::os::unix::process::CommandExt;
        command.uid(65534).gid(65534);
    }
    let (status, out, err) = run(command);
    assert!(status.success(), "{err}");
    assert_eq!(out.trim(), "true");
}

/// Runs `fork-child-takes-over PATH HOW` and returns the child's pid and the parent's report of
/// the file after its own guard dropped.
fn takeover(path: &Path, how: &str) -> (u32, String) {
    let mut parent = Spawned::new(&mut fixture(&[&"fork-child-takes-over", &path, &how]));
    let child: u32 = parent.line().strip_prefix("child ").expect("child PID").parse().unwrap();
    let report = parent.line();
    assert!(parent.wait().success(), "{how}: {report}");
    (child, report)
}

/// Rule 9 both ways: once a forked child wrote its own pid, the parent's guard (a written
/// `PidFile`, or the launcher's empty `PidFileLock`) must not unlink or empty the file.
#[test]
fn parent_drop_leaves_a_file_its_forked_child_took_over() {
    for how in ["guard", "lock"] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("takeover.pid");
        let (child, report) = takeover(&path, how);
        let _kill = daemonic_tests::KillOnDrop(child);
        assert_eq!(report, format!("exists=true content=\"{child}\\n\""), "{how}");
        // Still locked by the child, and named by it.
        assert_eq!(running_pid(&path).unwrap(), Pid::new(child), "{how}");
        assert!(
            matches!(PidFile::create(&path), Err(PidFileError::AlreadyRunning { pid, .. }) if pid == Pid::new(child))
        );
    }
}

/// The launcher's lock removes the file when no live process took it over: the child exited
/// without writing, or wrote and died before it could clean up.
#[test]
fn lock_drop_removes_a_file_no_live_process_holds() {
    for how in ["lock-child-silent", "lock-child-dies"] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("takeover.pid");
        let (_, report) = takeover(&path, how);
        assert_eq!(report, "exists=false content=\"\"", "{how}");
        assert!(!path.exists(), "{how}");
    }
}
