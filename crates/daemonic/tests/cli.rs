//! The `daemonic` command, used as a person would, against real programs. Linux: facts come
//! from /proc, and the test process is the subreaper of the daemons it starts.
#![cfg(target_os = "linux")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const DAEMONIC: &str = env!("CARGO_BIN_EXE_daemonic");
const TIMEOUT: Duration = Duration::from_secs(60);

struct Test {
    dir: tempfile::TempDir,
}

/// Ends and reaps a started service even when the test fails: TERM first (a supervisor then
/// ends its program and everything the program started), KILL after 10 s.
struct Reaped(u32);

impl Drop for Reaped {
    fn drop(&mut self) {
        use rustix::process::{kill_process, waitpid, Signal, WaitOptions};
        let Some(pid) = rustix::process::Pid::from_raw(self.0 as i32) else { return };
        let _ = kill_process(pid, Signal::TERM);
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            match waitpid(Some(pid), WaitOptions::NOHANG) {
                Ok(None) => std::thread::sleep(Duration::from_millis(5)),
                _ => return,
            }
        }
        let _ = kill_process(pid, Signal::KILL);
        let _ = waitpid(Some(pid), WaitOptions::empty());
    }
}

/// The only child of a supervisor: PROGRAM.
fn program_of(supervisor: u32) -> u32 {
    let start = Instant::now();
    loop {
        let children =
            std::fs::read_to_string(format!("/proc/{supervisor}/task/{supervisor}/children")).unwrap_or_default();
        let pids: Vec<u32> = children.split_whitespace().map(|p| p.parse().unwrap()).collect();
        if let [pid] = pids[..] {
            return pid;
        }
        assert!(start.elapsed() < TIMEOUT, "supervisor {supervisor} has children {pids:?}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn ppid(pid: u32) -> u32 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    stat[stat.rfind(')').unwrap() + 2..].split(' ').nth(1).unwrap().parse().unwrap()
}

impl Test {
    fn new() -> Test {
        // Daemons become our children, so they can be reaped (no zombie keeps a pid alive).
        rustix::process::set_child_subreaper(Some(rustix::process::getpid())).unwrap();
        Test { dir: tempfile::tempdir().unwrap() }
    }
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    fn pidfile(&self) -> PathBuf {
        self.path("prog.pid")
    }
    fn daemonic(&self, args: &[&str]) -> Output {
        self.daemonic_with_stdout(args, std::process::Stdio::piped())
    }
    /// Runs the command to completion (at most [`TIMEOUT`]) with this stdout.
    fn daemonic_with_stdout(&self, args: &[&str], stdout: std::process::Stdio) -> Output {
        let mut child = Command::new(DAEMONIC)
            .args(args)
            .stdin(std::process::Stdio::null())
            .stdout(stdout)
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let start = Instant::now();
        while child.try_wait().unwrap().is_none() {
            assert!(start.elapsed() < TIMEOUT, "daemonic {args:?} hangs");
            std::thread::sleep(Duration::from_millis(5));
        }
        child.wait_with_output().unwrap()
    }
    fn start(&self, extra: &[&str], program: &[&str]) -> Output {
        let pidfile = self.pidfile();
        let mut args = vec!["start", "--pidfile", pidfile.to_str().unwrap()];
        args.extend_from_slice(extra);
        args.push("--");
        args.extend_from_slice(program);
        self.daemonic(&args)
    }
    fn status(&self) -> (i32, String) {
        let out = self.daemonic(&["status", "--pidfile", self.pidfile().to_str().unwrap()]);
        (out.status.code().unwrap(), String::from_utf8(out.stdout).unwrap())
    }
    fn stop(&self, extra: &[&str]) -> Output {
        let pidfile = self.pidfile();
        let mut args = vec!["stop", "--pidfile", pidfile.to_str().unwrap()];
        args.extend_from_slice(extra);
        self.daemonic(&args)
    }
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

fn started_pid(out: &Output) -> u32 {
    assert!(out.status.success(), "start failed: {}", text(out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("daemonic: started (pid ")?.strip_suffix(')')?.parse().ok())
        .unwrap_or_else(|| panic!("no pid in {stdout:?}"))
}

fn comm(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default().trim().to_owned()
}

fn reap(pid: u32) {
    let pid = rustix::process::Pid::from_raw(pid as i32).unwrap();
    let _ = rustix::process::waitpid(Some(pid), rustix::process::WaitOptions::empty());
}

#[test]
fn start_status_stop_a_real_program() {
    let t = Test::new();
    let out = t.start(&[], &["sleep", "1000"]);
    let pid = started_pid(&out);
    let _reaped = Reaped(pid);
    assert_eq!(comm(pid), "daemonic", "the daemon is the supervisor");
    let program = program_of(pid);
    assert_eq!(comm(program), "sleep", "PROGRAM runs as the supervisor's child");
    assert_eq!(ppid(program), pid);
    assert_eq!(std::fs::read_to_string(t.pidfile()).unwrap(), format!("{pid}\n"));
    assert_eq!(pidfile::running_pid(t.pidfile()).unwrap().map(pidfile::Pid::get), Some(pid), "locked");
    let (code, stdout) = t.status();
    assert_eq!(code, 0, "{stdout}");
    assert!(
        stdout.trim().starts_with(&format!("daemonic: running (pid {pid}; program pid {program}, up ")),
        "{stdout}"
    );

    let out = t.stop(&[]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains(&format!("daemonic: stopped (pid {pid})")), "{}", text(&out));
    reap(pid);
    assert!(!std::path::Path::new(&format!("/proc/{program}")).exists(), "PROGRAM ended with the service");
    assert!(!t.pidfile().exists(), "the supervisor removed its PID file");
    assert_eq!(t.status(), (3, "daemonic: not running\n".into()));
    // Stopping again: not running, exit 0.
    let out = t.stop(&[]);
    assert!(out.status.success());
    assert!(text(&out).contains("not running"));
}

#[test]
fn missing_program_fails_and_leaves_nothing() {
    let t = Test::new();
    let out = t.start(&[], &["nope-no-such-program"]);
    assert_eq!(out.status.code(), Some(1));
    let message = String::from_utf8_lossy(&out.stderr);
    assert_eq!(message.trim(), "daemonic: cannot execute nope-no-such-program: No such file or directory");
    assert!(!t.pidfile().exists());
    let needle = t.dir.path().to_string_lossy().into_owned();
    for entry in std::fs::read_dir("/proc").unwrap().filter_map(Result::ok) {
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        assert!(!String::from_utf8_lossy(&cmdline).contains(&needle), "left behind: {:?}", entry.path());
    }
}

#[test]
fn second_start_reports_the_first() {
    let t = Test::new();
    let first = started_pid(&t.start(&[], &["sleep", "1000"]));
    let _reaped = Reaped(first);
    let out = t.start(&[], &["sleep", "1000"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains(&format!("already running (pid {first})")), "{}", text(&out));
    assert_eq!(std::fs::read_to_string(t.pidfile()).unwrap(), format!("{first}\n"));
}

#[test]
fn sigkilled_daemon_is_dead_with_a_pid_file_then_restartable() {
    let t = Test::new();
    let first = started_pid(&t.start(&[], &["sleep", "1000"]));
    let program = program_of(first);
    let pid = rustix::process::Pid::from_raw(first as i32).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::KILL).unwrap();
    reap(first);
    // PROGRAM dies with its supervisor (parent-death signal): no instance runs unlocked.
    let start = Instant::now();
    while !exited(program) {
        assert!(start.elapsed() < TIMEOUT, "PROGRAM outlived its supervisor");
        std::thread::sleep(Duration::from_millis(5));
    }
    let (code, stdout) = t.status();
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains(&format!("names pid {first}")), "{stdout}");
    let second = started_pid(&t.start(&[], &["sleep", "1000"]));
    let _reaped = Reaped(second);
    assert_eq!(t.status().0, 0);
}

#[test]
fn program_ignoring_sigterm_is_killed_after_the_timeout() {
    let t = Test::new();
    let pid = started_pid(&t.start(&[], &["sh", "-c", "trap '' TERM; exec sleep 1000"]));
    let _reaped = Reaped(pid);
    // `start` returns once the shell is exec'd: a TERM before its trap would end it. Once it
    // runs `sleep`, the trap was set (and its ignored TERM is inherited).
    let program = program_of(pid);
    let start = Instant::now();
    while comm(program) != "sleep" {
        assert!(start.elapsed() < TIMEOUT, "PROGRAM never ran sleep");
        std::thread::sleep(Duration::from_millis(5));
    }
    let out = t.stop(&["--timeout", "1"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("still running after"), "{}", text(&out));
    assert_eq!(t.status().0, 0, "still running, untouched");
    // --kill asks the supervisor to KILL the tree (it is not KILLed itself: it would leave
    // PROGRAM's processes behind).
    let out = t.stop(&["--timeout", "1", "--kill"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("asking it to KILL the service"), "{}", text(&out));
    assert!(!text(&out).contains("sending KILL"), "{}", text(&out));
    reap(pid);
    assert_eq!(t.status().0, 3);
}

fn stop_refuses(t: &Test, content: &str, expect: &str) {
    std::fs::write(t.pidfile(), content).unwrap();
    let before = std::fs::read(t.pidfile()).unwrap();
    let out = t.stop(&[]);
    assert!(text(&out).contains(expect), "expected {expect:?} in {}", text(&out));
    assert_eq!(std::fs::read(t.pidfile()).unwrap(), before, "the file is left as it was");
}

#[test]
fn stop_harms_nothing_it_does_not_hold() {
    let t = Test::new();
    // An unlocked file naming PID 1 (init started before the file was written: "live").
    stop_refuses(&t, "1\n", "refusing to signal PID 1");
    // An unlocked file naming an unrelated process that started after the file was written.
    let mut bystander = Command::new("sleep").arg("1000").spawn().unwrap();
    let _reaped = Reaped(bystander.id()); // even if an assertion fails
    std::fs::write(t.pidfile(), format!("{}\n", bystander.id())).unwrap();
    let old = rustix::fs::Timespec { tv_sec: 1_000_000_000, tv_nsec: 0 };
    let times = rustix::fs::Timestamps { last_access: old, last_modification: old };
    rustix::fs::utimensat(rustix::fs::CWD, t.pidfile(), &times, rustix::fs::AtFlags::empty()).unwrap();
    let out = t.stop(&[]);
    assert!(text(&out).contains("not running (the PID file is stale)"), "{}", text(&out));
    assert!(bystander.try_wait().unwrap().is_none(), "the bystander was not signalled");
    // A malformed file.
    stop_refuses(&t, "12abc\n", "not running");
    let (code, stdout) = t.status();
    assert_eq!(code, 4, "{stdout}");
    assert!(stdout.contains("malformed PID file"), "{stdout}");
    bystander.kill().unwrap();
    bystander.wait().unwrap();
}

#[test]
fn root_refuses_a_world_writable_or_foreign_pid_file() {
    if !rustix::process::geteuid().is_root() {
        eprintln!("needs root; skipped");
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let t = Test::new();
    let mut bystander = Command::new("sleep").arg("1000").spawn().unwrap();
    let _reaped = Reaped(bystander.id()); // even if an assertion fails
    std::fs::write(t.pidfile(), format!("{}\n", bystander.id())).unwrap();
    std::fs::set_permissions(t.pidfile(), std::fs::Permissions::from_mode(0o666)).unwrap();
    let out = t.stop(&[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("writable by group or others (mode 666)"), "{}", text(&out));
    std::fs::set_permissions(t.pidfile(), std::fs::Permissions::from_mode(0o644)).unwrap();
    rustix::fs::chown(t.pidfile(), Some(rustix::process::Uid::from_raw(65534)), None).unwrap();
    let out = t.stop(&[]);
    assert!(text(&out).contains("owned by uid 65534"), "{}", text(&out));
    assert!(bystander.try_wait().unwrap().is_none(), "the bystander was not signalled");
    bystander.kill().unwrap();
    bystander.wait().unwrap();
}

#[test]
fn stdout_captures_the_programs_output() {
    let t = Test::new();
    let log = t.path("out.log");
    std::fs::write(&log, "old content\n").unwrap();
    let program = ["sh", "-c", "echo hello; echo oops >&2; exec sleep 1000"];
    let pid = started_pid(&t.start(&["--stdout", log.to_str().unwrap()], &program));
    let _reaped = Reaped(pid);
    wait_for(|| std::fs::read_to_string(&log).unwrap_or_default() == "hello\noops\n", &log);
    let out = t.stop(&[]);
    assert!(out.status.success());
    reap(pid);
    // --append keeps what is there.
    let program = ["sh", "-c", "echo again; exec sleep 1000"];
    let pid = started_pid(&t.start(&["--stdout", log.to_str().unwrap(), "--append"], &program));
    let _reaped = Reaped(pid);
    wait_for(|| std::fs::read_to_string(&log).unwrap_or_default() == "hello\noops\nagain\n", &log);
}

/// An output file that is empty already is left alone, times and all (on ext4, truncating a
/// file to 0 would make its last `close` write the whole log out there and then); one with
/// content is still emptied (above).
#[test]
fn an_empty_log_is_not_truncated() {
    let t = Test::new();
    let log = t.path("empty.log");
    let old = std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(946_684_800); // 2000-01-01
    std::fs::File::create(&log).unwrap().set_modified(old).unwrap();
    let pid = started_pid(&t.start(&["--stdout", log.to_str().unwrap()], &["sleep", "1000"]));
    let _reaped = Reaped(pid);
    // The launcher returns once PROGRAM runs, after the daemon's truncation would have been.
    let meta = std::fs::metadata(&log).unwrap();
    assert_eq!((meta.len(), meta.modified().unwrap()), (0, old), "the empty log was truncated");
}

/// With `--append` the log may have other writers: PROGRAM's flood goes in with `O_APPEND`
/// writes (never spliced in at an offset), so not one line another process appends at the
/// same time is overwritten, nor one of PROGRAM's.
#[test]
fn a_shared_log_keeps_every_writers_lines() {
    let t = Test::new();
    let log = t.path("shared.log");
    let program = ["sh", "-c", &format!("{FLOOD_COMMAND}; exec sleep 1000")];
    let other = std::fs::OpenOptions::new().append(true).create(true).open(&log).unwrap();
    let pid = started_pid(&t.start(&["--stdout", log.to_str().unwrap(), "--append"], &program));
    let _reaped = Reaped(pid);
    flood_beside_markers(&log, other);
}

/// In the foreground, the caller's own standard output is never spliced into, even when it is
/// a regular file relayed to (`--stderr FILE` alone) and there is no `--append`: the caller
/// opened it, and others may write it too (`>> shared.log`).
#[test]
fn the_callers_output_file_keeps_every_writers_lines() {
    let t = Test::new();
    let log = t.path("callers.log");
    let other = std::fs::OpenOptions::new().append(true).create(true).open(&log).unwrap();
    let stdout = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    let (pidfile, errors) = (t.pidfile(), t.path("errors.log"));
    // `--stderr FILE`: the supervisor relays, and standard output goes to the caller's.
    let mut child = Command::new(DAEMONIC)
        .args(["start", "--foreground", "--pidfile", pidfile.to_str().unwrap()])
        .args(["--stderr", errors.to_str().unwrap(), "--", "sh", "-c", FLOOD_COMMAND])
        .stdin(std::process::Stdio::null())
        .stdout(stdout)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    flood_beside_markers(&log, other);
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > TIMEOUT {
            let _ = child.kill();
            panic!("the supervisor did not end");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Bytes of `0123456789abcdef` lines [`FLOOD_COMMAND`] writes.
const FLOOD: u64 = 64 << 20;
const FLOOD_COMMAND: &str = "yes 0123456789abcdef | head -c 67108864";

/// Appends numbered marker lines to `log` through `other` while PROGRAM floods it with
/// [`FLOOD`] bytes, until all of both are there; then checks that nothing was overwritten. The
/// two streams interleave at write boundaries (the relay's writes are not whole lines): every
/// marker must be there whole and in order, and without them what is left must be PROGRAM's
/// output, byte for byte.
fn flood_beside_markers(log: &Path, mut other: std::fs::File) {
    use std::io::Write as _;
    let (mut markers, mut written) = (0u32, 0u64);
    let start = Instant::now();
    while std::fs::metadata(log).unwrap().len() < FLOOD + written {
        assert!(start.elapsed() < TIMEOUT, "the flood did not arrive: bytes were overwritten");
        let marker = format!("marker {markers}\n");
        other.write_all(marker.as_bytes()).unwrap();
        (markers, written) = (markers + 1, written + marker.len() as u64);
    }
    let content = std::fs::read(log).unwrap();
    assert_eq!(content.len() as u64, FLOOD + written, "bytes were overwritten");
    let (mut rest, mut from) = (Vec::with_capacity(FLOOD as usize), 0);
    for n in 0..markers {
        let marker = format!("marker {n}\n");
        let at = content[from..].windows(marker.len()).position(|w| w == marker.as_bytes());
        let at = from + at.unwrap_or_else(|| panic!("marker {n} of {markers} was overwritten"));
        rest.extend_from_slice(&content[from..at]);
        from = at + marker.len();
    }
    rest.extend_from_slice(&content[from..]);
    let expected: Vec<u8> = b"0123456789abcdef\n".iter().copied().cycle().take(FLOOD as usize).collect();
    assert!(rest == expected, "PROGRAM's output was overwritten");
    assert!(markers > 0);
}

/// A log file that refuses a splice (here every splice after the first fails with ENOSPC,
/// injected with `strace -e inject`; skipped, saying so, without strace) still gets every
/// byte, in order, once: what the supervisor had moved towards it is written by `write`, and
/// so is everything after. The supervisor's own line still starts on a line of its own.
#[test]
fn a_log_that_refuses_a_splice_still_gets_every_byte() {
    let strace = Command::new("strace").arg("-V").output();
    if !strace.is_ok_and(|out| out.status.success()) {
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), "a_log_that_refuses_a_splice_still_gets_every_byte: SKIPPED, needs strace");
        return;
    }
    let t = Test::new();
    let log = t.path("refusing.log");
    let pidfile = t.pidfile();
    let mut child = Command::new("strace")
        .args(["-f", "-qq", "-o", "/dev/null", "-e", "trace=splice", "-e", "inject=splice:error=ENOSPC:when=2+"])
        .arg("--")
        .arg(DAEMONIC)
        .args(["start", "--foreground", "--pidfile", pidfile.to_str().unwrap(), "--stdout", log.to_str().unwrap()])
        .args(["--", "sh", "-c", "printf 'one\\n'; sleep 0.2; printf 'two\\nthree'"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > TIMEOUT {
            let _ = child.kill();
            panic!("the supervisor did not end: log {:?}", std::fs::read_to_string(&log));
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(status.success(), "{status}");
    let content = std::fs::read_to_string(&log).unwrap();
    let (program, own) = content.split_at(content.find("daemonic[").expect("the supervisor's own line"));
    assert_eq!(program, "one\ntwo\nthree\n", "log: {content:?}");
    assert!(own.contains("exited with status 0") && !own.contains("lost"), "log: {content:?}");
}

/// The supervisor starts PROGRAM in its own memory (`CLONE_VM|CLONE_VFORK`, Linux) only while
/// PROGRAM's process stays the supervisor's user: with `--user` it forks, so that no process of
/// the service user ever shares the supervisor's memory. Seen in the supervisor's `clone`s,
/// under `strace` (`--foreground`: the supervisor makes no other process).
#[cfg(target_os = "linux")]
#[test]
fn program_shares_the_supervisors_memory_only_as_the_supervisors_user() {
    let strace = Command::new("strace").arg("-V").output();
    if !strace.is_ok_and(|out| out.status.success()) || !rustix::process::geteuid().is_root() {
        use std::io::Write as _;
        let _ = writeln!(
            std::io::stderr(),
            "program_shares_the_supervisors_memory_only_as_…: SKIPPED, needs strace and root"
        );
        return;
    }
    let t = Test::new();
    for user in [None, Some("nobody")] {
        let trace = t.path("clone.trace");
        let mut command = Command::new("strace");
        command.args(["-f", "-qq", "-o", trace.to_str().unwrap(), "-e", "trace=clone,clone3,fork,vfork", "--"]);
        command.args([DAEMONIC, "start", "--foreground", "--pidfile", t.pidfile().to_str().unwrap()]);
        if let Some(user) = user {
            command.args(["--user", user]);
        }
        let out = command.args(["--", "true"]).stdin(std::process::Stdio::null()).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let trace = std::fs::read_to_string(&trace).unwrap();
        let clones: Vec<&str> = trace.lines().filter(|l| l.contains("clone") && !l.contains("resumed")).collect();
        assert_eq!(clones.len(), 1, "{trace}");
        let shares = clones[0].contains("CLONE_VM") && clones[0].contains("CLONE_VFORK");
        assert_eq!(shares, user.is_none(), "--user {user:?}: {}", clones[0]);
    }
}

fn wait_for(mut condition: impl FnMut() -> bool, log: &Path) {
    let start = Instant::now();
    while !condition() {
        assert!(start.elapsed() < TIMEOUT, "log is {:?}", std::fs::read_to_string(log));
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn user_nobody_runs_the_program_as_nobody() {
    if !rustix::process::geteuid().is_root() {
        eprintln!("needs root; skipped");
        return;
    }
    let t = Test::new();
    let pid = started_pid(&t.start(&["--user", "nobody"], &["sleep", "1000"]));
    let _reaped = Reaped(pid);
    let line = |pid: u32, key: &str| {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        status.lines().find(|l| l.starts_with(key)).unwrap().to_owned()
    };
    let program = program_of(pid);
    assert_eq!(line(program, "Uid:"), "Uid:\t65534\t65534\t65534\t65534");
    assert_eq!(line(program, "Gid:"), "Gid:\t65534\t65534\t65534\t65534");
    assert!(!line(program, "Groups:").split_whitespace().any(|g| g == "0"), "root's groups are gone");
    // The supervisor stays root: PROGRAM can neither signal nor trace it.
    assert_eq!(line(pid, "Uid:"), "Uid:\t0\t0\t0\t0");

    // Without the supervisor, PROGRAM itself drops privileges.
    let t = Test::new();
    let pid = started_pid(&t.start(&["--user", "nobody", "--no-supervise"], &["sleep", "1000"]));
    let _reaped = Reaped(pid);
    assert_eq!(comm(pid), "sleep");
    assert_eq!(line(pid, "Uid:"), "Uid:\t65534\t65534\t65534\t65534");
}

#[test]
fn restart_replaces_the_running_program() {
    let t = Test::new();
    let first = started_pid(&t.start(&[], &["sleep", "1000"]));
    let _first = Reaped(first);
    let pidfile = t.pidfile();
    let out = t.daemonic(&["restart", "--pidfile", pidfile.to_str().unwrap(), "--", "sleep", "1000"]);
    reap(first);
    let second = started_pid(&out);
    let _second = Reaped(second);
    assert_ne!(first, second);
    assert!(text(&out).contains(&format!("stopped (pid {first})")), "{}", text(&out));
    let (code, stdout) = t.status();
    assert_eq!(code, 0);
    assert!(stdout.starts_with(&format!("daemonic: running (pid {second}; program pid ")), "{stdout}");
}

#[test]
fn help_version_and_usage_errors() {
    let t = Test::new();
    for command in ["start", "stop", "status", "restart"] {
        let out = t.daemonic(&[command, "--help"]);
        assert!(out.status.success());
        assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("usage: daemonic {command}")));
    }
    let out = t.daemonic(&["--version"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), format!("daemonic {}", env!("CARGO_PKG_VERSION")));
    let out = t.daemonic(&["start", "--", "sleep", "1"]);
    assert_eq!(out.status.code(), Some(2));
    // The error, the synopsis and where the help is: not the whole help, which would bury it.
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "daemonic: --pidfile FILE is required\n\
         usage: daemonic start --pidfile FILE [options] -- PROGRAM [ARGS...]\n\
         Try `daemonic start --help` for more information.\n"
    );
    assert!(out.stdout.is_empty());
    let out = t.daemonic(&["stop", "--pidfile", "x", "--signal", "BOGUS"]);
    assert_eq!(out.status.code(), Some(2));
    // A value missing is the command's usage error too, with the command's synopsis.
    for command in ["start", "stop", "status", "signal", "reopen", "restart"] {
        let out = t.daemonic(&[command, "--pidfile"]);
        assert_eq!(out.status.code(), Some(if command == "status" { 4 } else { 2 }), "{command}");
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(said.starts_with("daemonic: missing argument for option '--pidfile'\n"), "{said}");
        assert!(said.contains(&format!("\nusage: daemonic {command} --pidfile FILE")), "{said}");
        assert!(said.ends_with(&format!("Try `daemonic {command} --help` for more information.\n")), "{said}");
    }
    let out = t.daemonic(&["frobnicate"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).ends_with("Try `daemonic --help` for more information.\n"));
}

/// `daemonic start … | true`: "started" goes to a closed pipe. The command neither panics nor
/// fails, and the running program keeps its PID file.
#[test]
fn started_message_to_a_closed_pipe_is_not_a_failure() {
    let t = Test::new();
    // Close-on-exec: a fixture another test thread spawns meanwhile must not inherit the read
    // end and keep the pipe open (then the write would succeed).
    let (read_end, write_end) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).unwrap();
    drop(read_end);
    let pidfile = t.pidfile();
    let out = t.daemonic_with_stdout(
        &["start", "--pidfile", pidfile.to_str().unwrap(), "--", "sleep", "1000"],
        std::process::Stdio::from(write_end),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(!text(&out).contains("panicked"), "{}", text(&out));
    let pid = pidfile::read_pid(t.pidfile()).expect("the PID file is intact").get();
    let _reaped = Reaped(pid);
    assert_eq!(comm(program_of(pid)), "sleep");
    assert_eq!(t.status().0, 0);
    assert!(t.stop(&[]).status.success());
    reap(pid);
    assert!(!t.pidfile().exists());
}

fn stopped_pid(said: &str) -> Option<u32> {
    said.split("stopped (pid ").nth(1)?.split(')').next()?.parse().ok()
}

/// Whether `pid` has exited (gone, or a zombie waiting for us to reap it).
fn exited(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat.rsplit(')').next().and_then(|rest| rest.split_whitespace().next()) == Some("Z"),
    }
}

/// A `stop` racing a `start`, many times: the launcher is never the one signalled (the file
/// never names it), and a `stop` that says "stopped (pid N)" really ended N.
#[test]
fn stop_racing_start_never_hits_the_launcher() {
    use std::os::unix::process::ExitStatusExt;
    let t = Test::new();
    let pidfile = t.pidfile();
    let pidfile = pidfile.to_str().unwrap();
    for round in 0..60u64 {
        let mut start = Command::new(DAEMONIC)
            .args(["start", "--pidfile", pidfile, "--", "sleep", "1000"])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // Land the stop at different moments of the start: before, during, after the fork.
        std::thread::sleep(Duration::from_micros(round % 6 * 400));
        let stop = t.stop(&["--timeout", "30", "--kill"]);
        let launched = start.wait().unwrap();
        assert_eq!(launched.signal(), None, "round {round}: the launcher was killed by a signal: {launched}");
        let said = text(&stop);
        if let Some(pid) = stopped_pid(&said) {
            assert!(exited(pid), "round {round}: stop said {said:?} but {pid} runs");
            reap(pid);
        }
        // Whatever survived the race (a start that won), stop it.
        let out = t.stop(&["--timeout", "30", "--kill"]);
        assert!(out.status.success(), "round {round}: {}", text(&out));
        if let Some(pid) = stopped_pid(&text(&out)) {
            reap(pid);
        }
        assert_eq!(pidfile::running_pid(t.pidfile()).unwrap(), None, "round {round}");
    }
}

/// Each cause is printed once: `daemonic: cannot open PID file …: DIR: No such file or
/// directory`, naming the component of the path that is missing.
#[test]
fn errors_print_each_cause_once() {
    let t = Test::new();
    let missing = t.path("no-such-dir/prog.pid");
    let out = t.daemonic(&["start", "--pidfile", missing.to_str().unwrap(), "--", "true"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "daemonic: cannot open PID file {}: {}: No such file or directory\n",
            missing.display(),
            t.path("no-such-dir").display()
        )
    );
    let out =
        t.daemonic(&["start", "--pidfile", t.pidfile().to_str().unwrap(), "--chdir", "/nonexistent", "--", "true"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "daemonic: chdir to /nonexistent in the daemon: No such file or directory\n"
    );
    assert!(!t.pidfile().exists());
}

/// `--stdout /dev/null` (a character device, nothing to truncate) starts like any file.
#[test]
fn stdout_to_a_character_device_starts() {
    let t = Test::new();
    let pid = started_pid(&t.start(&["--stdout", "/dev/null"], &["sleep", "1000"]));
    let _reaped = Reaped(pid);
    assert_eq!(std::fs::read_link(format!("/proc/{pid}/fd/1")).unwrap(), Path::new("/dev/null"));
    assert!(t.stop(&[]).status.success());
    reap(pid);
}

/// `--no-supervise`: PROGRAM is the daemon and holds the lock itself, through a read-only
/// descriptor (it cannot rewrite its PID file); options that need the supervisor are refused.
#[test]
fn unsupervised_program_holds_the_lock_read_only() {
    let t = Test::new();
    let pid = started_pid(&t.start(&["--no-supervise"], &["sleep", "1000"]));
    let _reaped = Reaped(pid);
    assert_eq!(comm(pid), "sleep", "PROGRAM was executed in the daemon");
    assert_eq!(std::fs::read_to_string(t.pidfile()).unwrap(), format!("{pid}\n"));
    assert_eq!(pidfile::running_pid(t.pidfile()).unwrap().map(pidfile::Pid::get), Some(pid), "locked by sleep");
    let target = std::fs::canonicalize(t.pidfile()).unwrap();
    let open: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter_map(Result::ok)
        .filter(|entry| std::fs::read_link(entry.path()).is_ok_and(|link| link == target))
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(open.len(), 1, "one descriptor of the PID file: {open:?}");
    let fdinfo = std::fs::read_to_string(format!("/proc/{pid}/fdinfo/{}", open[0])).unwrap();
    let flags = fdinfo.lines().find_map(|l| l.strip_prefix("flags:")).unwrap().trim();
    assert_eq!(u32::from_str_radix(flags, 8).unwrap() & 0o3, 0, "O_RDONLY, not {flags}");
    assert_eq!(t.status(), (0, format!("daemonic: running (pid {pid})\n")));
    let out = t.stop(&[]);
    assert!(out.status.success(), "{}", text(&out));
    reap(pid);
    assert!(!t.pidfile().exists(), "stop removed the stale file");

    for option in [&["--restart", "always"][..], &["--notify-await"], &["--child-pidfile", "x"], &["--notify-fd", "9"]]
    {
        let mut args = vec!["--no-supervise"];
        args.extend_from_slice(option);
        let out = t.start(&args, &["true"]);
        assert_eq!(out.status.code(), Some(2), "{option:?}: {}", text(&out));
        assert!(text(&out).contains("needs the supervisor"), "{}", text(&out));
    }
}

/// `--limit`, `--ionice`, `--oom-score-adj`, `--no-new-privileges`: what PROGRAM got, as
/// it reads it itself; and a limit the kernel refuses is reported, naming it.
#[test]
fn program_settings_are_applied_to_the_program() {
    let t = Test::new();
    let report = "grep 'open files' /proc/self/limits; grep 'core file' /proc/self/limits; \
                  cat /proc/self/oom_score_adj; grep NoNewPrivs /proc/self/status; ionice -p $$";
    let out = t.daemonic(&[
        "run",
        "--limit=nofile=100:200",
        "--limit=core=unlimited",
        "--oom-score-adj=517",
        "--ionice=be:6",
        "--no-new-privileges",
        "--",
        "sh",
        "-c",
        report,
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let said = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<Vec<&str>> = said.lines().map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(lines[0][3..5], ["100", "200"], "{said}");
    assert_eq!(lines[1][4..6], ["unlimited", "unlimited"], "{said}");
    assert_eq!(lines[2], ["517"], "{said}");
    assert_eq!(lines[3], ["NoNewPrivs:", "1"], "{said}");
    assert_eq!(lines[4], ["best-effort:", "prio", "6"], "{said}");

    let out =
        t.daemonic(&["run", "--ionice=idle", "--", "sh", "-c", "ionice -p $$; grep NoNewPrivs /proc/self/status"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "idle\nNoNewPrivs:\t0\n", "{}", text(&out));

    // Above the kernel's fs.nr_open: refused even for root.
    let out = t.daemonic(&["run", "--limit=nofile=1:18446744073709551614", "--", "true"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("cannot set --limit nofile=1:18446744073709551614: "), "{}", text(&out));
}

/// `--env-file` is read when root or the caller owns it (here the caller is `nobody`), and
/// refused when another user does.
#[test]
fn env_files_of_root_or_the_caller_only() {
    use std::os::unix::fs::PermissionsExt as _;
    use std::os::unix::process::CommandExt as _;
    if !rustix::process::geteuid().is_root() {
        eprintln!("needs root; skipped");
        return;
    }
    let t = Test::new();
    std::fs::set_permissions(t.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let run_as_nobody = |file: &Path| {
        Command::new(DAEMONIC)
            .args(["run", "--env-file", file.to_str().unwrap(), "--", "sh", "-c", "echo \"[$FROM]\""])
            .uid(65534)
            .gid(65534)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    };
    for (name, owner, expect) in
        [("root.env", 0, Some("[root]")), ("nobody.env", 65534, Some("[nobody]")), ("other.env", 4242, None)]
    {
        let file = t.path(name);
        std::fs::write(&file, format!("FROM={}\n", name.trim_end_matches(".env"))).unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::os::unix::fs::chown(&file, Some(owner), None).unwrap();
        let out = run_as_nobody(&file);
        match expect {
            Some(value) => assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), value, "{}", text(&out)),
            None => {
                assert_eq!(out.status.code(), Some(1), "{}", text(&out));
                assert!(
                    text(&out).contains("owned by uid 4242, neither root nor the caller; refused"),
                    "{}",
                    text(&out)
                );
            }
        }
    }
}

/// Datagrams waiting on `socket`, as text, until none came for a while.
fn datagrams(socket: &std::os::unix::net::UnixDatagram) -> Vec<String> {
    socket.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    while let Ok(n) = socket.recv(&mut buffer) {
        received.push(String::from_utf8(buffer[..n].to_vec()).expect("whole UTF-8 characters"));
    }
    received
}

/// The relay: one syslog message per line (a long line in parts cut between characters), an
/// unterminated last line sent as a message of its own, and the supervisor's own line on a line
/// of its own, in the file and in syslog.
#[test]
fn the_relay_sends_lines_and_keeps_the_supervisors_own_apart() {
    let t = Test::new();
    let socket_path = t.path("log.sock");
    let socket = std::os::unix::net::UnixDatagram::bind(&socket_path).unwrap();
    let log = t.path("out.log");
    let long = "é".repeat(1000);
    let script = format!("printf 'one\\ntwo\\n\\n{long}\\npart'; echo $$ > {}; exit 3", t.path("pid").display());
    let out = t.daemonic(&[
        "run",
        "--stdout",
        log.to_str().unwrap(),
        "--syslog-socket",
        socket_path.to_str().unwrap(),
        "--syslog-tag=web",
        "--syslog-facility=local3",
        "--syslog-priority=info",
        "--",
        "sh",
        "-c",
        &script,
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let program = std::fs::read_to_string(t.path("pid")).unwrap().trim().to_owned();
    let written = std::fs::read_to_string(&log).unwrap();
    let (before, own) = written.rsplit_once("part\n").unwrap_or_else(|| panic!("{written:?}"));
    assert_eq!(before, format!("one\ntwo\n\n{long}\n"));
    assert!(own.starts_with("daemonic[") && own.ends_with("]: sh exited with status 3\n"), "{own:?}");
    // local3 (19) * 8 + info (6)
    let head = format!("<158>web[{program}]: ");
    let received = datagrams(&socket);
    let (first, second) = (&long[..960], &long[960..1920]);
    let expected: Vec<String> = ["one", "two", "", first, second, &long[1920..], "part", own.trim_end()]
        .iter()
        .map(|line| format!("{head}{line}"))
        .collect();
    assert_eq!(received, expected);
}

/// What the syslog socket did not take is counted, and the count goes before the next
/// message it takes.
#[test]
fn the_relay_reports_what_syslog_dropped() {
    let t = Test::new();
    let socket_path = t.path("log.sock");
    let log = t.path("out.log");
    let ready = t.path("ready");
    let script =
        format!("printf 'lost 1\\nlost 2\\n'; while [ ! -e {} ]; do sleep 0.01; done; echo found", ready.display());
    let mut child = Command::new(DAEMONIC)
        .args(["run", "--stdout", log.to_str().unwrap(), "--syslog-socket", socket_path.to_str().unwrap()])
        .args(["--syslog-tag=t", "--", "sh", "-c", &script])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let _reaped = Reaped(child.id());
    wait_for(|| std::fs::read_to_string(&log).unwrap_or_default() == "lost 1\nlost 2\n", &log);
    std::thread::sleep(Duration::from_millis(100));
    let socket = std::os::unix::net::UnixDatagram::bind(&socket_path).unwrap();
    std::fs::write(&ready, "").unwrap();
    assert!(child.wait().unwrap().success());
    let received = datagrams(&socket);
    assert_eq!(received.len(), 3, "{received:?}");
    // daemon (3) * 8 + notice (5)
    assert!(received[0].starts_with("<29>t["), "{received:?}");
    assert!(received[0].ends_with("]: daemonic: 2 messages were dropped: the syslog socket did not take them"));
    assert!(received[1].starts_with("<29>t[") && received[1].ends_with("]: found"), "{received:?}");
    assert!(received[2].ends_with("]: sh exited with status 0"), "{received:?}");
}

/// `daemonic signal`: what a supervisor passes on reaches PROGRAM; what would end or stop the
/// supervisor is refused; KILL ends the service; a program without a supervisor gets the
/// signal itself; and nothing running is LSB 7.
#[test]
fn signal_sends_what_the_supervisor_passes_on() {
    let t = Test::new();
    let got = t.path("got");
    let script = format!(
        "trap 'echo HUP >> {0}' HUP; trap 'echo USR1 >> {0}' USR1; echo ready >> {0}; while :; do sleep 0.05; done",
        got.display()
    );
    let pid = started_pid(&t.start(&[], &["sh", "-c", &script]));
    let _reaped = Reaped(pid);
    let program = program_of(pid);
    wait_for(|| std::fs::read_to_string(&got).unwrap_or_default() == "ready\n", &got);
    let pidfile = t.pidfile();
    let signal = |sig: &str| t.daemonic(&["signal", "--pidfile", pidfile.to_str().unwrap(), sig]);
    let out = signal("HUP");
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(text(&out), format!("daemonic: sent SIGHUP to pid {pid} (passed on to the program)\n"));
    wait_for(|| std::fs::read_to_string(&got).unwrap_or_default() == "ready\nHUP\n", &got);
    assert!(signal("10").status.success(), "by number: USR1");
    wait_for(|| std::fs::read_to_string(&got).unwrap_or_default() == "ready\nHUP\nUSR1\n", &got);

    let out = signal("STOP");
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out)
        .starts_with(&format!("daemonic: refusing to send SIGSTOP: it would stop the supervisor (pid {pid})")));
    let out = signal("13");
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out)
        .starts_with(&format!("daemonic: refusing to send SIGPIPE: the supervisor (pid {pid}) does not pass it on")));
    assert!(text(&out).contains("; it passes on SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1, "), "{}", text(&out));
    let out = signal("URG");
    assert_eq!(text(&out), format!("daemonic: asked pid {pid} to reopen its log files\n"));
    assert!(!exited(pid) && !exited(program), "nothing was stopped");
    let state = |pid: u32| std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    assert!(!state(pid).is_empty() && !state(program).contains(") T "), "neither is stopped");

    let out = signal("KILL");
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(text(&out), format!("daemonic: asked the supervisor (pid {pid}) to KILL the service\n"));
    reap(pid);
    assert!(exited(program));
    let out = signal("HUP");
    assert_eq!((out.status.code(), text(&out)), (Some(7), "daemonic: not running\n".to_owned()));

    // Without a supervisor, the program itself is signalled, with whatever is asked.
    let pid = started_pid(&t.start(&["--no-supervise"], &["sleep", "1000"]));
    let _reaped = Reaped(pid);
    let out = signal("13");
    assert_eq!(text(&out), format!("daemonic: sent SIGPIPE to pid {pid}\n"));
    reap(pid);
    assert!(exited(pid), "PIPE ended sleep");
    let out = signal("HUP");
    assert_eq!(out.status.code(), Some(7), "stale: not running; {}", text(&out));

    for (args, message) in [
        (&["signal", "--pidfile", "p"][..], "a signal to send is required (e.g. HUP)"),
        (&["signal", "HUP"], "--pidfile FILE is required"),
        (&["signal", "--pidfile", "p", "HUP", "TERM"], "unexpected argument"),
        (&["signal", "--pidfile", "p", "BOGUS"], "signal \"BOGUS\": unknown signal"),
        (&["signal", "--pidfile", "", "HUP"], "--pidfile needs a path"),
        (&["reopen"], "--pidfile FILE is required"),
    ] {
        let out = t.daemonic(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(String::from_utf8_lossy(&out.stderr).starts_with(&format!("daemonic: {message}")), "{}", text(&out));
    }
    let out = t.daemonic(&["signal", "--help"]);
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("usage: daemonic signal --pidfile FILE SIG\n"));
    for args in [&["reopen", "--help"][..], &["reopen", "-h"], &["run", "-h"]] {
        let out = t.daemonic(args);
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success() && said.starts_with(&format!("usage: daemonic {} ", args[0])), "{said}");
    }
    let out = t.daemonic(&["reopen", "--pidfile", pidfile.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(7), "{}", text(&out));
}

/// In the foreground (`run`), PROGRAM's standard output stays the caller's when only its
/// standard error goes to a file, or when its lines also go to syslog; its standard error and
/// the supervisor's own line stay on the caller's standard error.
#[test]
fn in_the_foreground_standard_output_stays_the_callers() {
    let t = Test::new();
    let errors = t.path("err.log");
    // An unterminated last line of standard error is ended before the supervisor's own.
    let mut args =
        vec!["run", "--stderr", errors.to_str().unwrap(), "--", "sh", "-c", "echo out; printf err >&2; exit 4"];
    let out = t.daemonic(&args);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "out\n");
    let logged = std::fs::read_to_string(&errors).unwrap();
    assert!(logged.starts_with("err\ndaemonic[") && logged.ends_with("]: sh exited with status 4\n"), "{logged}");
    args.clear();
    let program = ["sh", "-c", "echo out; echo err >&2; exit 4"];

    let socket_path = t.path("log.sock");
    let socket = std::os::unix::net::UnixDatagram::bind(&socket_path).unwrap();
    let mut args = vec!["run", "--syslog-socket", socket_path.to_str().unwrap(), "--syslog-tag=t", "--"];
    args.extend_from_slice(&program);
    let out = t.daemonic(&args);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "out\n");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.starts_with("err\ndaemonic[") && said.ends_with("]: sh exited with status 4\n"), "{said}");
    let received = datagrams(&socket);
    assert_eq!(received.len(), 3, "{received:?}");
    assert!(received[..2].iter().any(|d| d.ends_with("]: out")) && received[..2].iter().any(|d| d.ends_with("]: err")));
}

/// An output that takes nothing (a pipe nobody reads, in the foreground) never stalls the
/// supervisor: what it did not take is counted and reported in it once it takes writes again.
#[test]
fn output_not_taken_is_counted_and_reported() {
    use std::io::Read as _;
    let t = Test::new();
    let (wrote, ready) = (t.path("wrote"), t.path("ready"));
    let script = format!(
        "head -c 200000 /dev/zero | tr '\\0' x; echo; touch {}; while [ ! -e {} ]; do sleep 0.01; done; echo after",
        wrote.display(),
        ready.display()
    );
    let socket = t.path("none.sock");
    let mut child = Command::new(DAEMONIC)
        .args(["run", "--syslog-socket", socket.to_str().unwrap(), "--", "sh", "-c", &script])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let _reaped = Reaped(child.id());
    wait_for(|| wrote.exists(), &wrote);
    // Read what the pipe holds, and only then let PROGRAM write again.
    let mut stdout = child.stdout.take().unwrap();
    let read = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let reader = std::thread::spawn({
        let read = read.clone();
        move || {
            let (mut all, mut buffer) = (Vec::new(), [0u8; 4096]);
            loop {
                match stdout.read(&mut buffer).unwrap() {
                    0 => return all,
                    n => all.extend_from_slice(&buffer[..n]),
                }
                read.store(all.len(), std::sync::atomic::Ordering::SeqCst);
            }
        }
    });
    wait_for(|| read.load(std::sync::atomic::Ordering::SeqCst) >= 60_000, &wrote);
    std::thread::sleep(Duration::from_millis(200));
    std::fs::write(&ready, "").unwrap();
    assert!(child.wait().unwrap().success());
    let all = String::from_utf8(reader.join().unwrap()).unwrap();
    // Each loss is reported once the output takes writes again: the first before "after", and
    // another if the reader fell behind once more while the rest came through. Each notice
    // starts a line of its own (the supervisor's lines start on a line of their own).
    let (mut relayed, mut lost, mut rest) = (String::new(), 0, all.as_str());
    while let Some(at) = rest.find("daemonic[") {
        let (before, notice) = rest.split_at(at);
        let (notice, after) = notice.split_once('\n').unwrap();
        let count: usize = notice
            .split_once("]: ")
            .and_then(|(_, rest)| rest.strip_suffix(" bytes of output were lost (not taken in time)"))
            .unwrap_or_else(|| panic!("{notice}"))
            .parse()
            .unwrap();
        assert!(count > 0, "{notice}");
        relayed.push_str(before);
        (lost, rest) = (lost + count, after);
    }
    relayed.push_str(rest);
    assert!(lost > 0, "no notice in {} bytes", all.len());
    assert_eq!(relayed.len() + lost, 200_001 + "after\n".len(), "every byte either arrived or was counted");
    assert!(
        relayed.ends_with("after\n") && relayed.trim_end_matches("after\n").bytes().all(|b| b == b'x' || b == b'\n')
    );
}

/// `--quiet`: the informational messages are gone, errors stay.
#[test]
fn quiet_prints_errors_only() {
    let t = Test::new();
    let pidfile = t.pidfile();
    let pidfile = pidfile.to_str().unwrap();
    let out = t.daemonic(&["start", "--quiet", "--pidfile", pidfile, "--", "sleep", "1000"]);
    assert!(out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(), "{}", text(&out));
    let pid: u32 = std::fs::read_to_string(pidfile).unwrap().trim().parse().unwrap();
    let _reaped = Reaped(pid);
    for args in [&["signal", "-q", "--pidfile", pidfile, "WINCH"][..], &["reopen", "--quiet", "--pidfile", pidfile]] {
        let out = t.daemonic(args);
        assert!(out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(), "{args:?}: {}", text(&out));
    }
    let out = t.daemonic(&["signal", "-q", "--pidfile", pidfile, "STOP"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("daemonic: refusing to send SIGSTOP"), "{}", text(&out));
    let out = t.daemonic(&["stop", "-q", "--pidfile", pidfile]);
    assert!(out.status.success() && out.stdout.is_empty(), "{}", text(&out));
    reap(pid);
    let out = t.daemonic(&["reopen", "-q", "--pidfile", pidfile]);
    assert_eq!((out.status.code(), out.stdout.is_empty()), (Some(7), true), "{}", text(&out));
}

/// A stopped service's last, unterminated line still reaches syslog (the relay's flush): no
/// line of the supervisor's own follows a stop to carry it out.
#[test]
fn the_last_partial_line_is_sent_when_the_service_stops() {
    let t = Test::new();
    let socket_path = t.path("log.sock");
    let socket = std::os::unix::net::UnixDatagram::bind(&socket_path).unwrap();
    let log = t.path("out.log");
    let script = "printf 'whole\\npartial'; trap 'exit 0' TERM; while :; do sleep 0.05; done";
    let mut child = Command::new(DAEMONIC)
        .args(["run", "--stdout", log.to_str().unwrap(), "--syslog-socket", socket_path.to_str().unwrap()])
        .args(["--syslog-tag=t", "--", "sh", "-c", script])
        .stdin(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let _reaped = Reaped(child.id());
    wait_for(|| std::fs::read_to_string(&log).unwrap_or_default() == "whole\npartial", &log);
    let pid = rustix::process::Pid::from_raw(child.id() as i32).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(0), "PROGRAM's own status: it exited 0 on TERM");
    let received = datagrams(&socket);
    let lines: Vec<&str> = received.iter().map(|d| d.split_once("]: ").unwrap().1).collect();
    assert_eq!(lines, ["whole", "partial"], "{received:?}");
}
