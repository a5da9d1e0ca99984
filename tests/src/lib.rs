//! Helpers shared by the end-to-end tests: spawning fixtures that are always killed, reading
//! their output with timeouts, and process facts from `/proc`.

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Generous upper bound for anything a test waits for; never an assertion on speed.
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// `command.spawn()`, retried while it fails with ETXTBSY: a binary written moments ago may still
/// be open for writing in a child that another test thread is forking (until that child execs).
pub fn spawn(command: &mut Command) -> Child {
    let start = Instant::now();
    loop {
        match command.spawn() {
            Ok(child) => return child,
            Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) && start.elapsed() < TIMEOUT => {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => panic!("cannot spawn {command:?}: {e}"),
        }
    }
}

/// A child process that is killed and reaped when dropped, even if the test panics.
#[derive(Debug)]
pub struct Spawned {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Spawned {
    /// Spawns `command` with piped stdin/stdout; stdout lines are collected in the background.
    pub fn new(command: &mut Command) -> Spawned {
        let mut child = spawn(command.stdin(Stdio::piped()).stdout(Stdio::piped()));
        let stdout: ChildStdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Spawned { child, lines }
    }

    /// The next stdout line, or a panic after [`TIMEOUT`].
    pub fn line(&self) -> String {
        self.lines.recv_timeout(TIMEOUT).unwrap_or_else(|e| panic!("no output from the fixture: {e}"))
    }

    /// The process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Closes the child's stdin.
    pub fn close_stdin(&mut self) {
        drop(self.child.stdin.take());
    }

    /// Sends SIGKILL and reaps.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits (at most [`TIMEOUT`]) for the exit status.
    pub fn wait(&mut self) -> std::process::ExitStatus {
        wait_timeout(&mut self.child)
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Waits for `child` at most [`TIMEOUT`], killing it after that.
pub fn wait_timeout(child: &mut Child) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if start.elapsed() > TIMEOUT {
            let _ = child.kill();
            panic!("process {} did not exit within {TIMEOUT:?}", child.id());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Runs `command` to completion (at most [`TIMEOUT`]) and returns status, stdout and stderr.
pub fn run(mut command: Command) -> (std::process::ExitStatus, String, String) {
    let mut child = spawn(command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()));
    let out = child.stdout.take().unwrap();
    let err = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || std::io::read_to_string(out).unwrap_or_default());
    let err = std::thread::spawn(move || std::io::read_to_string(err).unwrap_or_default());
    let status = wait_timeout(&mut child);
    (status, out.join().unwrap(), err.join().unwrap())
}

/// Polls `condition` until it holds, panicking with `what` after [`TIMEOUT`].
pub fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let start = Instant::now();
    while !condition() {
        assert!(start.elapsed() < TIMEOUT, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Whether `pid` is blocked in `nanosleep`/`clock_nanosleep` (its `/proc/PID/wchan`).
///
/// A freshly executed program's descriptors are only its own once the dynamic loader is done
/// (`ld.so` holds `/etc/ld.so.cache` open for a moment after `execve`, when the new name is
/// already in `/proc/PID/comm`): a test that inspects the descriptors of a `sleep` waits for
/// this first.
pub fn sleeping(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/wchan")).is_ok_and(|wchan| wchan.contains("nanosleep"))
}

/// Field `n` (1-based, as in proc(5)) of `/proc/PID/stat`, `None` when the process is gone.
pub fn proc_stat_field(pid: u32, n: usize) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_whitespace().nth(n - 3).map(str::to_owned)
}

/// Whether `/proc/PID` exists (a zombie counts).
pub fn process_exists(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// Whether we run as root (tests of privilege drops need it; some others behave differently).
pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// Sets the file's modification time `seconds` into the past (simulates a file left long ago).
pub fn age_file(path: &std::path::Path, seconds: u64) {
    let when = std::time::SystemTime::now() - Duration::from_secs(seconds);
    let since_epoch = when.duration_since(std::time::UNIX_EPOCH).unwrap();
    let ts = rustix::fs::Timespec { tv_sec: since_epoch.as_secs() as _, tv_nsec: since_epoch.subsec_nanos() as _ };
    let times = rustix::fs::Timestamps { last_access: ts, last_modification: ts };
    rustix::fs::utimensat(rustix::fs::CWD, path, &times, rustix::fs::AtFlags::SYMLINK_NOFOLLOW).unwrap();
}

/// The workspace README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;

/// Makes this process the subreaper of its descendants (Linux), so daemons that double-fork
/// become its children: their ppid is then checkable, and they can be reaped after a kill.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub fn become_subreaper() {
    rustix::process::set_child_subreaper(Some(rustix::process::getpid())).expect("PR_SET_CHILD_SUBREAPER");
}

/// Kills (SIGKILL) and reaps a daemon when dropped, even if the test failed.
#[derive(Debug)]
pub struct KillOnDrop(pub u32);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(pid) = rustix::process::Pid::from_raw(self.0 as i32) {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
            // Only our own children can be reaped (the subreaper made daemons ours).
            let _ = rustix::process::waitpid(Some(pid), rustix::process::WaitOptions::empty());
        }
    }
}

/// Waits until `pid` has exited and reaps it (it must be our child, e.g. via the subreaper).
pub fn reap(pid: u32) -> rustix::process::WaitStatus {
    let pid = rustix::process::Pid::from_raw(pid as i32).unwrap();
    let start = Instant::now();
    loop {
        match rustix::process::waitpid(Some(pid), rustix::process::WaitOptions::NOHANG) {
            Ok(Some((_, status))) => return status,
            Ok(None) => {}
            Err(e) => panic!("waitpid({pid:?}): {e}"),
        }
        assert!(start.elapsed() < TIMEOUT, "process {pid:?} did not exit");
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Live (non-zombie) processes whose command line contains `needle`.
pub fn processes_mentioning(needle: &str) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().filter_map(Result::ok) {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else { continue };
        if String::from_utf8_lossy(&cmdline).contains(needle) && proc_stat_field(pid, 3).as_deref() != Some("Z") {
            found.push(pid);
        }
    }
    found
}

/// A `Key:` line's value from `/proc/PID/status`, trimmed.
pub fn proc_status(pid: u32, key: &str) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix(key)?.strip_prefix(':').map(|v| v.trim().to_owned()))
        .unwrap_or_else(|| panic!("no {key} in /proc/{pid}/status"))
}

/// The open descriptors of `pid` and what they point to, from `/proc/PID/fd`.
pub fn open_fds(pid: u32) -> std::collections::BTreeMap<u32, String> {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let fd = entry.file_name().to_string_lossy().parse().ok()?;
            let target = std::fs::read_link(entry.path()).ok()?;
            Some((fd, target.to_string_lossy().into_owned()))
        })
        .collect()
}

/// A link to (or copy of) a fixture binary that any user can execute, for tests that start it as `nobody`:
/// the checkout (and so `target/`) may sit below a directory only root can enter, like `/root`.
/// The copy is removed when this is dropped.
#[derive(Debug)]
pub struct SharedBinary {
    dir: std::path::PathBuf,
    path: std::path::PathBuf,
}

impl SharedBinary {
    /// Copies `binary` into a fresh mode-0755 directory in the temp directory.
    pub fn new(binary: &str) -> SharedBinary {
        use std::os::unix::fs::PermissionsExt;
        use std::sync::atomic::{AtomicUsize, Ordering};
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "daemonic-shared-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = dir.join(std::path::Path::new(binary).file_name().unwrap());
        // A hard link needs no descriptor open for writing, so no child another thread forks
        // meanwhile can make `exec` fail with ETXTBSY; a copy is the fallback across filesystems.
        if std::fs::hard_link(binary, &path).is_err() {
            std::fs::copy(binary, &path).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        SharedBinary { dir, path }
    }

    /// The copy.
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }
}

impl Drop for SharedBinary {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// An error and each of its causes once, joined by `": "`, as a CLI or `anyhow`'s `{:#}`
/// prints them ([`pidfile::ErrorChain`], which `daemonic` re-exports).
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    pidfile::ErrorChain::new(error).to_string()
}

/// Stops a supervised service when dropped, even if the test failed: SIGTERM (the supervisor
/// then ends its program and whatever that started), SIGKILL after 10 s; then reaps it.
#[derive(Debug)]
pub struct StopOnDrop(pub u32);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        use rustix::process::{kill_process, waitpid, Signal, WaitOptions};
        let Some(pid) = rustix::process::Pid::from_raw(self.0 as i32) else { return };
        let _ = kill_process(pid, Signal::TERM);
        // A stopped process acts on TERM only once continued.
        let _ = kill_process(pid, Signal::CONT);
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

/// The children of `pid`, from `/proc/PID/task/PID/children` (empty when it is gone).
pub fn children_of(pid: u32) -> Vec<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// `pid` and all its descendants, live ones, from a walk of `/proc`.
pub fn process_tree(pid: u32) -> Vec<u32> {
    let mut tree = vec![pid];
    let mut at = 0;
    while at < tree.len() {
        let children = children_of(tree[at]);
        tree.extend(children);
        at += 1;
    }
    tree
}

/// The uid and gid of `nobody`, the attacker of the root-only tests.
pub const NOBODY: u32 = 65534;

/// Makes `command` run as `nobody` (std's `uid`/`gid`: the fork is std's, never in a test).
/// As root, std also clears the supplementary groups (`setgroups(0)`) when a uid is set.
pub fn as_nobody(command: &mut Command) -> &mut Command {
    use std::os::unix::process::CommandExt;
    command.uid(NOBODY).gid(NOBODY)
}

/// Runs a shell script as `nobody` (a real process of that user); it must succeed.
pub fn nobody_sh(script: &str) {
    let mut command = Command::new("sh");
    as_nobody(command.arg("-c").arg(script));
    let (status, out, err) = run(command);
    assert!(status.success(), "nobody's `{script}` failed: {out}{err}");
}

/// [`run`], with stdout and stderr joined (stdout first): what an operator reads.
pub fn run_joined(command: Command) -> (std::process::ExitStatus, String) {
    let (status, out, err) = run(command);
    (status, format!("{out}{err}"))
}

/// The supervisor's pid from `daemonic start`'s `daemonic: started (pid N)` line; the start
/// must have succeeded.
pub fn started_pid(output: &(std::process::ExitStatus, String)) -> u32 {
    assert!(output.0.success(), "start failed: {}", output.1);
    output
        .1
        .lines()
        .find_map(|l| l.strip_prefix("daemonic: started (pid ")?.strip_suffix(')')?.parse().ok())
        .unwrap_or_else(|| panic!("no pid in {:?}", output.1))
}

/// PROGRAM: the supervisor's only child, once it has one.
pub fn program_of(supervisor: u32) -> u32 {
    let mut program = 0;
    wait_until("the supervisor's child", || match children_of(supervisor)[..] {
        [pid] => {
            program = pid;
            true
        }
        _ => false,
    });
    program
}

/// `/proc/PID/comm` (empty when the process is gone).
pub fn comm(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default().trim().to_owned()
}

/// `/proc/PID/cmdline` with spaces for the NULs (empty when the process is gone).
pub fn cmdline(pid: u32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|bytes| String::from_utf8_lossy(&bytes).replace('\0', " ").trim_end().to_owned())
        .unwrap_or_default()
}
