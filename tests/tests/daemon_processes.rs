//! End-to-end tests of `daemonic`: fixture daemons started by a launcher process; every fact is
//! read from /proc or observed by the daemon itself, never taken from a return value.
//! Linux only: the facts come from /proc, and the subreaper is a Linux feature.
#![cfg(target_os = "linux")]

use std::path::{Path, PathBuf};
use std::process::Command;

use daemonic_tests::{
    become_subreaper, open_fds, proc_stat_field, proc_status, processes_mentioning, reap, run, wait_until, KillOnDrop,
};
use pidfile::{read_pid, running_pid, Pid};

const FIXTURE: &str = env!("CARGO_BIN_EXE_daemon-fixture");
const PTY_RUN: &str = env!("CARGO_BIN_EXE_pty-run");

struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn new() -> Setup {
        become_subreaper();
        Setup { dir: tempfile::tempdir().unwrap() }
    }
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    fn pidfile(&self) -> PathBuf {
        self.path("daemon.pid")
    }
    fn launcher(&self, extra: &[&str]) -> Command {
        let mut command = Command::new(FIXTURE);
        command.arg("--pidfile").arg(self.pidfile()).arg("--stop-file").arg(self.path("stop")).args(extra);
        command
    }
    /// Output the daemon printed to its stdout file.
    fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).unwrap_or_default()
    }
    /// Waits for a `key=` line in the log and returns its value.
    fn fact(&self, log: &str, key: &str) -> String {
        let mut value = None;
        wait_until(&format!("{key}= in {log}"), || {
            value = self.log(log).lines().find_map(|l| l.strip_prefix(&format!("{key}=")).map(str::to_owned));
            value.is_some()
        });
        value.unwrap()
    }
    /// Asks the fixture daemon to stop, and reaps it.
    fn stop(&self, pid: u32) {
        std::fs::write(self.path("stop"), b"").unwrap();
        reap(pid);
    }
    /// Nothing left behind: no PID file, no live process mentioning this test's directory.
    fn assert_nothing_left(&self) {
        assert!(!self.pidfile().exists(), "PID file left behind");
        let needle = self.dir.path().to_string_lossy().into_owned();
        assert_eq!(processes_mentioning(&needle), Vec::<u32>::new(), "process left behind");
    }
}

fn stat_u32(pid: u32, field: usize) -> u32 {
    proc_stat_field(pid, field).unwrap().parse().unwrap()
}

#[test]
fn daemon_facts_match_daemon7() {
    let s = Setup::new();
    let log = s.path("out.log");
    let cwd = s.path("work");
    std::fs::create_dir(&cwd).unwrap();
    let mut launcher = s.launcher(&["--extra-fds", "--dirty-signals", "--umask", "027"]);
    launcher.arg("--stdout").arg(&log).arg("--cwd").arg(&cwd);
    let child = launcher.stdout(std::process::Stdio::piped()).spawn().unwrap();
    let launcher_pid = child.id();
    let output = child.wait_with_output().unwrap();
    // The launcher exits 0 only after the PID file names the (locked) daemon.
    assert!(output.status.success(), "{output:?}");
    let daemon = read_pid(s.pidfile()).expect("PID file written before the launcher exited").get();
    let _kill = KillOnDrop(daemon);
    assert_ne!(daemon, launcher_pid);
    assert_eq!(running_pid(s.pidfile()).unwrap(), Pid::new(daemon), "locked by the daemon");

    // Parent: not the launcher (gone); the subreaper (this test) adopted it.
    assert_eq!(stat_u32(daemon, 4), std::process::id());
    // Session: new, and the daemon is not its leader, so it can never get a terminal back.
    let sid = stat_u32(daemon, 6);
    assert_ne!(sid, daemon);
    assert_ne!(sid, 0, "the daemon's session was made inside this PID namespace, so it is visible");
    // Ours may read 0 (getsid(2) says so, and rustix's `getsid` panics) when the session leader
    // lives outside this PID namespace, as in a container CI runner; /proc reports it either way.
    assert_ne!(sid, stat_u32(std::process::id(), 6), "a new session, not the launcher's");
    assert_eq!(stat_u32(daemon, 7), 0, "tty_nr: no controlling terminal");
    assert_eq!(std::fs::read_link(format!("/proc/{daemon}/cwd")).unwrap(), cwd);
    assert_eq!(proc_status(daemon, "Umask"), "0027");
    assert_eq!(proc_status(daemon, "SigBlk"), "0000000000000000", "launcher had SIGTERM blocked");
    assert_eq!(proc_status(daemon, "SigIgn"), "0000000000000000", "launcher had SIGHUP ignored");
    assert_eq!(proc_status(daemon, "SigCgt"), "0000000000000000", "no handlers");

    // Descriptors: stdio, the kept one, the PID file; the leaked one is closed.
    let launcher_out = String::from_utf8(output.stdout).unwrap();
    let (leaked, kept) = launcher_out
        .lines()
        .find_map(|l| {
            let mut it = l.split_whitespace();
            let leaked: u32 = it.next()?.strip_prefix("leaked=")?.parse().ok()?;
            let kept: u32 = it.next()?.strip_prefix("kept=")?.parse().ok()?;
            Some((leaked, kept))
        })
        .unwrap();
    let fds = open_fds(daemon);
    let log_s = log.to_string_lossy().into_owned();
    assert_eq!(fds.get(&0).map(String::as_str), Some("/dev/null"));
    assert_eq!(fds.get(&1), Some(&log_s));
    assert_eq!(fds.get(&2), Some(&log_s), "stderr follows stdout");
    assert_eq!(fds.get(&kept).map(String::as_str), Some("/dev/null"));
    assert!(!fds.contains_key(&leaked), "inherited fd {leaked} leaked: {fds:?}");
    let pidfile_s = s.pidfile().to_string_lossy().into_owned();
    let pidfile_dir = s.pidfile().parent().unwrap().to_string_lossy().into_owned();
    let mut others: Vec<_> =
        fds.iter().filter(|(fd, _)| ![0, 1, 2, kept].contains(*fd)).map(|(_, t)| t.clone()).collect();
    others.sort();
    assert_eq!(
        others,
        vec![pidfile_dir, pidfile_s],
        "only the PID file and its directory besides stdio and the kept fd: {fds:?}"
    );

    // What the daemon saw itself.
    assert_eq!(s.fact("out.log", "tty"), format!("errno {}", libc::ENXIO), "/dev/tty must not open");
    assert_eq!(s.fact("out.log", "stdin"), "0 bytes");
    assert_eq!(s.fact("out.log", "kept_open"), "true");
    assert!(s.log("out.log").contains("stderr line from the daemon"));

    s.stop(daemon);
    assert_eq!(s.fact("out.log", "stop"), "ok");
    assert!(!s.pidfile().exists(), "stop removed the PID file");
}

#[test]
fn defaults_are_the_seeds() {
    let s = Setup::new();
    let mut launcher = s.launcher(&[]);
    launcher.arg("--stdout").arg(s.path("out.log")).arg("--stderr").arg(s.path("err.log"));
    let (status, _, err) = run(launcher);
    assert!(status.success(), "{err}");
    let daemon = read_pid(s.pidfile()).unwrap().get();
    let _kill = KillOnDrop(daemon);
    assert_eq!(proc_status(daemon, "Umask"), "0000");
    assert_eq!(std::fs::read_link(format!("/proc/{daemon}/cwd")).unwrap(), Path::new("/"));
    let fds = open_fds(daemon);
    assert_eq!(fds.get(&2), Some(&s.path("err.log").to_string_lossy().into_owned()), "stderr set apart");
    wait_until("stderr output", || s.log("err.log").contains("stderr line from the daemon"));
    assert!(!s.log("out.log").contains("stderr line"));
    s.stop(daemon);
    assert!(!s.pidfile().exists());
}

#[test]
fn no_controlling_terminal_even_when_started_from_one() {
    let s = Setup::new();
    let mut command = Command::new(PTY_RUN);
    command.arg(FIXTURE).arg("--pidfile").arg(s.pidfile()).arg("--stop-file").arg(s.path("stop"));
    command.arg("--stdout").arg(s.path("out.log"));
    // pty-run returns once every holder of the terminal closed it: the daemon must not be one.
    let (status, out, err) = run(command);
    assert!(status.success(), "{out}{err}");
    let daemon = read_pid(s.pidfile()).unwrap().get();
    let _kill = KillOnDrop(daemon);
    assert_eq!(stat_u32(daemon, 7), 0, "tty_nr");
    assert_eq!(s.fact("out.log", "tty"), format!("errno {}", libc::ENXIO));
    let fds = open_fds(daemon);
    assert!(fds.values().all(|t| !t.starts_with("/dev/pts")), "terminal still open: {fds:?}");
    s.stop(daemon);
}

fn expect_failure(s: &Setup, extra: &[&str], message: &str) -> String {
    let (status, out, err) = run(s.launcher(extra));
    assert!(!status.success(), "launcher succeeded: {out}{err}");
    assert!(err.contains(message), "expected {message:?} in: {err}");
    err
}

#[test]
fn already_running_names_the_holder_and_leaves_its_file_alone() {
    let s = Setup::new();
    let (status, _, err) = run(s.launcher(&[]));
    assert!(status.success(), "{err}");
    let first = read_pid(s.pidfile()).unwrap().get();
    let _kill = KillOnDrop(first);
    let before = std::fs::metadata(s.pidfile()).unwrap();
    let (status, _, err) = run(s.launcher(&[]));
    assert_eq!(status.code(), Some(3), "{err}");
    assert!(err.contains(&format!("already running (pid {first})")), "{err}");
    let after = std::fs::metadata(s.pidfile()).unwrap();
    assert_eq!(read_pid(s.pidfile()).unwrap().get(), first);
    assert_eq!(running_pid(s.pidfile()).unwrap(), Pid::new(first));
    use std::os::unix::fs::MetadataExt;
    assert_eq!((before.ino(), before.mtime_nsec()), (after.ino(), after.mtime_nsec()));
    s.stop(first);
}

#[test]
fn missing_working_dir_fails_in_the_launcher_with_the_step() {
    let s = Setup::new();
    let missing = s.path("no-such-dir");
    let err = expect_failure(&s, &["--cwd", missing.to_str().unwrap()], "in the daemon: No such file or directory");
    assert!(err.contains(&format!("chdir to {} in the daemon", missing.display())), "{err}");
    s.assert_nothing_left();
}

#[test]
fn unopenable_stdout_fails_before_forking() {
    let s = Setup::new();
    let log = s.path("missing-dir/out.log");
    expect_failure(
        &s,
        &["--stdout-path", log.to_str().unwrap()],
        // The component that is missing is named.
        &format!("open {} for stdout: {}: No such file or directory", log.display(), s.path("missing-dir").display()),
    );
    s.assert_nothing_left();
}

#[test]
fn unknown_user_fails_before_forking() {
    let s = Setup::new();
    expect_failure(&s, &["--user", "no-such-user-daemonic"], "unknown user \"no-such-user-daemonic\"");
    s.assert_nothing_left();
}

#[test]
fn missing_chroot_fails_in_the_daemon() {
    let s = Setup::new();
    let missing = s.path("no-such-root");
    expect_failure(
        &s,
        &["--chroot", missing.to_str().unwrap()],
        &format!("chroot to {} in the daemon: No such file or directory", missing.display()),
    );
    s.assert_nothing_left();
}

#[test]
fn exit_before_manual_readiness_is_an_error() {
    let s = Setup::new();
    let mut launcher = s.launcher(&["--exit-before-ready"]);
    launcher.arg("--stdout").arg(s.path("out.log"));
    let (status, _, err) = run(launcher);
    assert_eq!(status.code(), Some(1));
    let daemon = s.fact("out.log", "pid");
    assert!(err.contains(&format!("the daemon (pid {daemon}) exited before it was ready")), "{err}");
    s.assert_nothing_left();
}

#[test]
fn failure_before_manual_readiness_reaches_the_launcher() {
    let s = Setup::new();
    let err = expect_failure(
        &s,
        &["--fail-before-ready", "cannot bind 127.0.0.1:1: Permission denied"],
        "failed before it was ready: cannot bind 127.0.0.1:1: Permission denied",
    );
    assert!(err.contains("the daemon (pid "), "{err}");
    s.assert_nothing_left();
}

#[test]
fn manual_readiness_holds_the_launcher_until_ready() {
    let s = Setup::new();
    let mut launcher = s.launcher(&["--manual"]);
    launcher.arg("--stdout").arg(s.path("out.log"));
    let (status, _, err) = run(launcher);
    assert!(status.success(), "{err}");
    // The daemon printed "calling ready" before ready(): the launcher cannot have exited earlier.
    assert!(s.log("out.log").contains("calling ready"), "{}", s.log("out.log"));
    let daemon = read_pid(s.pidfile()).unwrap().get();
    let _kill = KillOnDrop(daemon);
    s.stop(daemon);
}

#[test]
fn a_threaded_caller_is_refused_before_any_fork() {
    let s = Setup::new();
    let err = expect_failure(&s, &["--threads"], "refusing to daemonize: the process has 2 threads");
    assert!(err.contains("daemonize before starting threads"), "{err}");
    s.assert_nothing_left();
}

#[test]
fn privileges_are_dropped_completely_to_nobody() {
    if !daemonic_tests::is_root() {
        eprintln!("privileges_are_dropped_completely_to_nobody needs root; skipped");
        return;
    }
    let s = Setup::new();
    // nobody must be able to see the stop file (but not write in the directory).
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(s.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut launcher = s.launcher(&["--user", "nobody"]);
    launcher.arg("--stdout").arg(s.path("out.log"));
    let (status, _, err) = run(launcher);
    assert!(status.success(), "{err}");
    let daemon = read_pid(s.pidfile()).unwrap().get();
    let _kill = KillOnDrop(daemon);

    let (nobody_uid, nobody_gid) = (id("-u"), id("-g"));
    let mut expected_groups: Vec<u32> = id("-G").split_whitespace().map(|g| g.parse().unwrap()).collect();
    expected_groups.sort_unstable();
    let all = |v: &str| format!("{v}\t{v}\t{v}\t{v}");
    assert_eq!(proc_status(daemon, "Uid"), all(&nobody_uid));
    assert_eq!(proc_status(daemon, "Gid"), all(&nobody_gid));
    let mut groups: Vec<u32> = proc_status(daemon, "Groups").split_whitespace().map(|g| g.parse().unwrap()).collect();
    groups.sort_unstable();
    assert_eq!(groups, expected_groups, "supplementary groups are nobody's, root's are gone");
    assert_eq!(s.fact("out.log", "setuid0"), format!("errno {}", libc::EPERM));

    // At stop, nobody cannot unlink in the root-owned directory: the file is emptied instead.
    s.stop(daemon);
    let stop = s.fact("out.log", "stop");
    assert!(stop.starts_with("err cannot remove PID file"), "{stop}");
    assert!(stop.contains("Permission denied") && stop.contains("emptied it instead"), "{stop}");
    assert_eq!(std::fs::read(s.pidfile()).unwrap(), b"", "names no process");
    assert_eq!(running_pid(s.pidfile()).unwrap(), None);
}

fn id(flag: &str) -> String {
    let out = Command::new("id").arg(flag).arg("nobody").output().unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[test]
fn stop_removes_only_its_own_file_and_signals_nobody() {
    let s = Setup::new();
    let (status, _, err) = run(s.launcher(&[]));
    assert!(status.success(), "{err}");
    let daemon = read_pid(s.pidfile()).unwrap().get();
    let _kill = KillOnDrop(daemon);
    // Someone replaces the PID file with a file naming another live process.
    let mut bystander = std::process::Command::new("sleep").arg("600").spawn().unwrap();
    let replacement = s.path("replacement");
    std::fs::write(&replacement, format!("{}\n", bystander.id())).unwrap();
    std::fs::rename(&replacement, s.pidfile()).unwrap();
    s.stop(daemon);
    assert_eq!(std::fs::read_to_string(s.pidfile()).unwrap(), format!("{}\n", bystander.id()), "not ours: kept");
    assert!(bystander.try_wait().unwrap().is_none(), "the bystander was not signalled");
    bystander.kill().unwrap();
    bystander.wait().unwrap();
}

#[test]
fn every_inherited_fd_is_closed_even_with_a_huge_rlimit() {
    if !daemonic_tests::is_root() {
        eprintln!("needs root to raise RLIMIT_NOFILE; skipped");
        return;
    }
    let s = Setup::new();
    let (status, out, err) = run(s.launcher(&["--many-fds"]));
    assert!(status.success(), "{out}{err}");
    assert!(out.contains("high fds open"), "{out}");
    eprintln!("{}", out.trim()); // which limit this machine allowed
    let daemon = read_pid(s.pidfile()).unwrap().get();
    let _kill = KillOnDrop(daemon);
    let fds: Vec<u32> = open_fds(daemon).into_keys().collect();
    assert_eq!(fds.len(), 5, "stdio, the PID file and its directory only: {fds:?}");
    assert!(fds.iter().all(|&fd| fd < 100), "{fds:?}");
    assert_eq!(proc_status(daemon, "Pid"), daemon.to_string());
    s.stop(daemon);
}

#[test]
fn foreground_mode_keeps_the_pid_and_applies_the_rest() {
    let s = Setup::new();
    let mut launcher = s.launcher(&["--foreground", "--umask", "077"]);
    let mut child = daemonic_tests::Spawned::new(&mut launcher);
    let pid = child.id();
    assert_eq!(child.line(), format!("launcher pid={pid}"));
    child.close_stdin(); // stdin is inherited in foreground mode; the fixture reads it to EOF
    assert_eq!(child.line(), format!("pid={pid}"), "same process after daemonize");
    wait_until("the PID file", || read_pid(s.pidfile()).ok() == Pid::new(pid));
    assert_eq!(running_pid(s.pidfile()).unwrap(), Pid::new(pid));
    assert_eq!(proc_status(pid, "Umask"), "0077");
    let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap();
    assert_eq!(children.trim(), "", "no child process");
    std::fs::write(s.path("stop"), b"").unwrap();
    assert!(child.wait().success());
    assert!(!s.pidfile().exists());
}

#[test]
fn an_unprivileged_caller_may_name_its_own_user() {
    if !daemonic_tests::is_root() {
        eprintln!("needs root to start the launcher as nobody; skipped");
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    let s = Setup::new();
    std::fs::set_permissions(s.dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let shared = daemonic_tests::SharedBinary::new(FIXTURE);
    let mut launcher = Command::new(shared.path());
    launcher.arg("--pidfile").arg(s.pidfile()).arg("--stop-file").arg(s.path("stop"));
    launcher.args(["--user", "nobody"]).arg("--stdout").arg(s.path("out.log")).uid(65534).gid(65534);
    let (status, _, err) = run(launcher);
    assert!(status.success(), "{err}");
    let daemon = read_pid(s.pidfile()).unwrap().get();
    let _kill = KillOnDrop(daemon);
    assert_eq!(proc_status(daemon, "Uid"), "65534\t65534\t65534\t65534");
    s.stop(daemon);
    assert!(!s.pidfile().exists(), "the directory is writable by nobody, so stop removed the file");
}

/// A caller that ignores SIGCHLD (the kernel reaps for it) or reaps in its own handler: the
/// intermediate process is gone before `waitpid`, which says ECHILD. Daemonizing still works.
#[test]
fn daemonize_works_when_the_caller_ignores_or_reaps_sigchld() {
    for flag in ["--ignore-sigchld", "--reap-sigchld"] {
        let s = Setup::new();
        let (status, out, err) = run(s.launcher(&[flag]));
        assert!(status.success(), "{flag}: {out}{err}");
        let daemon = read_pid(s.pidfile()).unwrap().get();
        let _kill = KillOnDrop(daemon);
        assert_eq!(running_pid(s.pidfile()).unwrap(), Pid::new(daemon), "{flag}");
        s.stop(daemon);
        s.assert_nothing_left();
    }
}

/// The launcher's `on_launched` callback panics (`println!` to a closed pipe): the daemon runs,
/// the launcher still exits 0, and nothing in the launcher removes the daemon's PID file.
#[test]
fn a_panicking_launcher_callback_leaves_the_daemon_and_its_file_alone() {
    let s = Setup::new();
    // Close-on-exec: a fixture another test thread spawns meanwhile must not inherit the read
    // end and keep the pipe open (then the write would succeed).
    let (read_end, write_end) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).unwrap();
    drop(read_end);
    let mut launcher = s.launcher(&["--announce"]);
    launcher.stdin(std::process::Stdio::null()).stdout(std::process::Stdio::from(write_end));
    let mut child = daemonic_tests::spawn(launcher.stderr(std::process::Stdio::piped()));
    let status = daemonic_tests::wait_timeout(&mut child);
    let err = std::io::read_to_string(child.stderr.take().unwrap()).unwrap();
    assert!(status.success(), "{status}: {err}");
    assert!(err.contains("panicked"), "the callback really panicked: {err}");
    let daemon = read_pid(s.pidfile()).expect("the daemon's PID file is still there").get();
    let _kill = KillOnDrop(daemon);
    assert_eq!(running_pid(s.pidfile()).unwrap(), Pid::new(daemon));
    s.stop(daemon);
    s.assert_nothing_left();
}

/// The README's quick start, as root: the PID file in a runtime directory handed to the service
/// user, `.user(..)`, and `guard.stop()` succeeds — the file is removed, not just emptied —
/// although the directory above is root's and mode 0755.
#[test]
fn readme_pattern_as_root_stops_cleanly_with_a_runtime_directory() {
    if !daemonic_tests::is_root() {
        eprintln!("readme_pattern_as_root_stops_cleanly_with_a_runtime_directory needs root; skipped");
        return;
    }
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let s = Setup::new();
    std::fs::set_permissions(s.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let run_dir = s.path("run-myapp");
    let pidfile = run_dir.join("myapp.pid");
    let mut launcher = Command::new(FIXTURE);
    launcher
        .arg("--runtime-dir")
        .arg(&run_dir)
        .arg("--pidfile")
        .arg(&pidfile)
        .args(["--user", "nobody", "--stop-file"])
        .arg(s.path("stop"))
        .arg("--stdout")
        .arg(s.path("out.log"));
    let (status, _, err) = run(launcher);
    assert!(status.success(), "{err}");
    let daemon = read_pid(&pidfile).unwrap().get();
    let _kill = KillOnDrop(daemon);
    let meta = std::fs::symlink_metadata(&run_dir).unwrap();
    assert!(meta.is_dir());
    assert_eq!((meta.uid().to_string(), meta.mode() & 0o7777), (id("-u"), 0o755), "owned by nobody, 0755");
    assert_eq!(std::fs::metadata(&pidfile).unwrap().uid(), 0, "the PID file itself is root's");
    assert_eq!(proc_status(daemon, "Uid").split_whitespace().next().unwrap(), id("-u"));

    s.stop(daemon);
    assert_eq!(s.fact("out.log", "stop"), "ok");
    assert!(!pidfile.exists(), "removed, not just emptied");

    // A second run reuses the directory, which now belongs to nobody.
    let (status, _, err) = run({
        let mut again = Command::new(FIXTURE);
        again.arg("--runtime-dir").arg(&run_dir).arg("--pidfile").arg(&pidfile).args(["--user", "nobody"]);
        again.arg("--stop-file").arg(s.path("stop")); // exists already: the daemon stops at once
        again
    });
    assert!(status.success(), "{err}");
    wait_until("the second daemon to stop", || !pidfile.exists());
}

/// A log file inside the runtime directory: the directory is created before the outputs are
/// opened (it used to be created after, and the start failed with "No such file or directory").
#[test]
fn a_log_inside_the_runtime_directory_is_opened_after_it_is_created() {
    let s = Setup::new();
    let run_dir = s.path("run-logged");
    let pidfile = run_dir.join("app.pid");
    std::fs::write(s.path("stop"), "").unwrap(); // the daemon stops at once
    let mut launcher = Command::new(FIXTURE);
    launcher.arg("--runtime-dir").arg(&run_dir).arg("--pidfile").arg(&pidfile);
    launcher.arg("--stdout-path").arg(run_dir.join("out.log")).arg("--stop-file").arg(s.path("stop"));
    let (status, out, err) = run(launcher);
    assert!(status.success(), "{out}{err}");
    assert!(run_dir.join("out.log").is_file(), "the log was opened inside the new directory");
    wait_until("the daemon to stop", || !pidfile.exists());
}

/// A runtime directory that is a symlink, or a directory someone else owns (the shared `/tmp`
/// for a daemon that runs as `nobody`, or as us when we are not root), is refused before
/// anything else happens; nothing is created or changed.
#[test]
fn runtime_directory_refuses_symlinks_and_foreign_directories() {
    use std::os::unix::fs::MetadataExt;
    let s = Setup::new();
    let target = s.path("target");
    std::fs::create_dir(&target).unwrap();
    let link = s.path("link");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let shared = std::path::PathBuf::from("/tmp");
    let shared_mode = std::fs::metadata(&shared).unwrap().mode();
    for dir in [&link, &shared] {
        let mut launcher = Command::new(FIXTURE);
        launcher.arg("--runtime-dir").arg(dir).arg("--pidfile").arg(dir.join("never.pid"));
        if daemonic_tests::is_root() {
            launcher.args(["--user", "nobody"]);
        }
        let (status, out, err) = run(launcher);
        assert_eq!(status.code(), Some(1), "{out}{err}");
        assert!(err.contains(&format!("prepare the runtime directory {}: ", dir.display())), "{err}");
        assert!(!dir.join("never.pid").exists());
    }
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
    assert_eq!(std::fs::metadata(&shared).unwrap().mode(), shared_mode, "/tmp untouched");
}
