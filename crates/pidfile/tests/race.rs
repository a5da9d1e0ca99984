//! `create` in a race: the PID file changed between two of its system calls, the race staged
//! with `strace -f -e inject` (the tests say SKIPPED on stderr and return without strace).
//! Each child is this test binary re-run in a role; it says its pid first, so that a child
//! stuck in a system call is killed (strace, killed, would only detach it). Linux: strace.
#![cfg(target_os = "linux")]

mod common;

use std::io::Write as _;
use std::os::unix::fs::FileTypeExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{line, say, Spawned};
use pidfile::{PidFile, PidFileError};

/// How long the injected `flock` waits before failing: the test's window to change the file.
const WINDOW: &str = "delay_enter=1500ms";

fn exe() -> PathBuf {
    std::env::current_exe().unwrap()
}

/// `true` (after saying SKIPPED on stderr) when strace is missing.
fn skip_without_strace(test: &str) -> bool {
    let strace = Command::new("strace").arg("-V").output();
    if strace.is_ok_and(|out| out.status.success()) {
        return false;
    }
    let _ = writeln!(std::io::stderr(), "{test}: SKIPPED, needs strace");
    true
}

/// A directory of our own for one race (`/tmp/race-…`), removed on drop.
fn race_dir() -> tempfile::TempDir {
    tempfile::Builder::new().prefix("race-").tempdir().unwrap()
}

/// `test` re-run under `strace -f -qq -o LOG ARGS…` in `role`, with `PIDFILE_TEST_DIR=dir`.
fn traced_child(test: &str, role: &str, dir: &Path, log: &Path, args: &[&str]) -> Spawned {
    let mut command = Command::new("strace");
    command
        .args(["-f", "-qq", "-o"])
        .arg(log)
        .args(args)
        .arg("--")
        .arg(exe())
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env("PIDFILE_TEST_ROLE", role)
        .env("PIDFILE_TEST_DIR", dir)
        .current_dir("/");
    Spawned::new(&mut command)
}

/// The directory a child in `role` works in, when this process is that child.
fn as_child(role: &str) -> Option<PathBuf> {
    std::env::var_os("PIDFILE_TEST_DIR").filter(|_| common::role().as_deref() == Some(role)).map(PathBuf::from)
}

/// Waits (at most a minute: the machine may be busy) until `path` names something.
fn wait_for(path: &Path) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::fs::symlink_metadata(path).is_err() {
        assert!(Instant::now() < deadline, "{} never appeared", path.display());
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Waits at most `limit` for the traced child to exit; else kills the process it runs (`pid`,
/// as it said) and fails the test.
fn exits_within(child: &mut Spawned, pid: &str, limit: Duration, what: &str) {
    if child.wait_timeout(limit).is_none() {
        let pid = rustix::process::Pid::from_raw(pid.parse().unwrap()).unwrap();
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
        panic!("{what}: the child did not return within {limit:?} (killed)");
    }
}

/// The child of the `flock`-fails races: says its pid, creates `app.pid` (its first `flock`
/// waits, then fails with `ENOLCK`), and says what `create` returned.
fn flock_fails_child(dir: &Path) {
    say(std::process::id());
    match PidFile::create(dir.join("app.pid")) {
        Err(PidFileError::Io { op, source, .. }) => say(format!("{op}: {:?}", source.raw_os_error())),
        other => say(format!("{:?}", other.map(|g| g.pid()))),
    }
}

/// Runs [`flock_fails_child`] under strace; `change` changes `app.pid` while the child's first
/// `flock` waits (before it fails and the child removes the file it created, if still its).
/// Returns the path, after the child returned the `flock` error.
fn race_with_a_failing_flock(test: &str, dir: &Path, change: impl FnOnce(&Path)) -> PathBuf {
    let log = dir.join("strace.log");
    let inject = format!("inject=flock:error=ENOLCK:{WINDOW}:when=1");
    let mut child = traced_child(test, "flock-fails", dir, &log, &["-e", "trace=flock", "-e", &inject]);
    let pid = child.said();
    let path = dir.join("app.pid");
    wait_for(&path);
    change(&path);
    exits_within(&mut child, &pid, Duration::from_secs(30), test);
    assert_eq!(child.said(), format!("lock: Some({})", rustix::io::Errno::NOLCK.raw_os_error()));
    let log = std::fs::read_to_string(&log).unwrap();
    assert_eq!(log.matches("(INJECTED)").count(), 1, "one flock fails:\n{log}");
    path
}

/// Bytes written into the new file before its creator removes it after a failed `flock`: the
/// file is not empty any more, so it may be someone's, and stays (the `&&` of the "same, empty,
/// one link" check are all needed).
#[test]
fn a_created_file_written_meanwhile_is_not_removed() {
    const TEST: &str = "a_created_file_written_meanwhile_is_not_removed";
    if let Some(dir) = as_child("flock-fails") {
        return flock_fails_child(&dir);
    }
    if skip_without_strace(TEST) {
        return;
    }
    let dir = race_dir();
    let path = race_with_a_failing_flock(TEST, dir.path(), |path| {
        let mut file = std::fs::OpenOptions::new().append(true).open(path).expect("the child's new file, still there");
        file.write_all(b"2147483646\n").unwrap();
    });
    assert_eq!(std::fs::read_to_string(&path).expect("the file written meanwhile is left"), "2147483646\n");
}

/// A FIFO put in place of the new file before its creator removes it after a failed `flock`:
/// the creator's open never blocks on it (`O_NONBLOCK`), and leaves it alone.
#[test]
fn a_fifo_put_in_place_of_a_created_file_is_left_alone() {
    const TEST: &str = "a_fifo_put_in_place_of_a_created_file_is_left_alone";
    if let Some(dir) = as_child("flock-fails") {
        return flock_fails_child(&dir);
    }
    if skip_without_strace(TEST) {
        return;
    }
    let dir = race_dir();
    let path = race_with_a_failing_flock(TEST, dir.path(), |path| {
        std::fs::remove_file(path).expect("the child's new file, still there");
        let fifo = rustix::fs::FileType::Fifo;
        rustix::fs::mknodat(rustix::fs::CWD, path, fifo, rustix::fs::Mode::from_raw_mode(0o644), 0).unwrap();
    });
    assert!(std::fs::symlink_metadata(&path).unwrap().file_type().is_fifo(), "the FIFO is left");
}

/// The child of `a_name_gone_after_eexist_is_created_after_all`: creates `app.pid` (its
/// `O_CREAT|O_EXCL` open fails with `EEXIST` though nothing is there), says its pid and what
/// `create` returned, and holds the file until its stdin closes.
fn eexist_child(dir: &Path) {
    say(std::process::id());
    match PidFile::create(dir.join("app.pid")) {
        Ok(guard) => {
            say("created");
            common::wait_for_parent();
            guard.remove().unwrap();
        }
        Err(e) => say(format!("{e:?}")),
    }
}

/// The file that made `O_CREAT|O_EXCL` fail (`EEXIST`) is gone before `create` looks at it
/// (the first `openat` of the PID file fails with `EEXIST` while nothing is there, injected
/// with strace): `create` creates it after all, and holds its lock.
#[test]
fn a_name_gone_after_eexist_is_created_after_all() {
    const TEST: &str = "a_name_gone_after_eexist_is_created_after_all";
    if let Some(dir) = as_child("eexist") {
        return eexist_child(&dir);
    }
    if skip_without_strace(TEST) {
        return;
    }
    let dir = race_dir();
    let log = dir.path().join("strace.log");
    // Only the system calls on the directory (`-P`): its descriptor's `openat` of the file.
    let dir_path = dir.path().to_str().unwrap();
    let args = ["-P", dir_path, "-e", "trace=openat", "-e", "inject=openat:error=EEXIST:when=1"];
    let mut child = traced_child(TEST, "eexist", dir.path(), &log, &args);
    let pid = child.said();
    assert_eq!(child.said(), "created");
    let path = dir.path().join("app.pid");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), line(pidfile::Pid::new(pid.parse().unwrap()).unwrap()));
    let other = std::fs::File::open(&path).unwrap();
    let locked = rustix::fs::flock(&other, rustix::fs::FlockOperation::NonBlockingLockExclusive);
    assert_eq!(locked, Err(rustix::io::Errno::WOULDBLOCK), "the child holds the lock");
    assert!(child.finish().success());
    assert!(!path.exists());
    let log = std::fs::read_to_string(&log).unwrap();
    let injected: Vec<&str> = log.lines().filter(|l| l.contains("(INJECTED)")).collect();
    assert!(
        injected.len() == 1 && injected[0].contains("\"app.pid\"") && injected[0].contains("O_EXCL"),
        "exactly the O_CREAT|O_EXCL open fails:\n{log}"
    );
}
