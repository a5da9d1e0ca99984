//! Helpers of the crate's process-level tests: real child processes, never `fork` inside the
//! test harness. A test that needs another process re-runs its own test binary with
//! `PIDFILE_TEST_ROLE` set (see [`role`]), or runs `sleep`; every child is killed and reaped
//! when its [`Spawned`] drops, even when the test fails.

#![allow(dead_code)] // Each test file uses its own share of these.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};

use pidfile::Pid;

/// uid and gid of `nobody`, the other user of the root-only tests.
pub(crate) const NOBODY: u32 = 65534;

const ROLE: &str = "PIDFILE_TEST_ROLE";

pub(crate) fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// The role this process plays, when a test re-ran its binary as a child (see [`child`]).
pub(crate) fn role() -> Option<String> {
    std::env::var(ROLE).ok()
}

/// Says on stderr that a test needs root and is skipped, for the tests that return early.
pub(crate) fn skip_unless_root(test: &str) -> bool {
    if is_root() {
        return false;
    }
    // Straight to stderr: the harness captures `eprintln!`, and a skip must be seen.
    let _ = writeln!(std::io::stderr(), "{test}: SKIPPED, needs root (run the tests as root to check it)");
    true
}

/// A child process, killed and reaped on drop; its stdout read line by line.
pub(crate) struct Spawned {
    child: Child,
    stdout: BufReader<ChildStdout>,
}

impl Spawned {
    pub(crate) fn new(command: &mut Command) -> Spawned {
        let mut child = command.stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().expect("spawn a child");
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        Spawned { child, stdout }
    }

    pub(crate) fn pid(&self) -> Pid {
        Pid::new(self.child.id()).expect("a child's pid is valid")
    }

    /// The next line the child printed with the [`say`] prefix (the test harness prints its
    /// own lines around them); panics at end of output.
    pub(crate) fn said(&mut self) -> String {
        let mut line = String::new();
        loop {
            line.clear();
            let n = self.stdout.read_line(&mut line).expect("read the child's output");
            assert!(n > 0, "the child ended without saying anything more");
            // With `--nocapture` the harness's own "test NAME ... " may start the line.
            if let Some((_, said)) = line.trim_end().split_once("said: ") {
                return said.to_owned();
            }
        }
    }

    /// Waits at most `limit` for the child to exit: its status, or `None` if it still runs.
    pub(crate) fn wait_timeout(&mut self, limit: std::time::Duration) -> Option<std::process::ExitStatus> {
        let deadline = std::time::Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for the child") {
                return Some(status);
            }
            if std::time::Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }

    /// Closes the child's stdin (a holder then lets go) and waits for it to exit.
    pub(crate) fn finish(mut self) -> std::process::ExitStatus {
        drop(self.child.stdin.take());
        self.child.wait().expect("wait for the child")
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What a child in a role prints for the test to read ([`Spawned::said`]).
pub(crate) fn say(what: impl std::fmt::Display) {
    let mut out = std::io::stdout().lock();
    writeln!(out, "said: {what}").unwrap();
    out.flush().unwrap();
}

/// Waits until the parent closes stdin (the child's cue to let go).
pub(crate) fn wait_for_parent() {
    let mut rest = String::new();
    let _ = std::io::stdin().read_line(&mut rest);
}

/// This test binary, run again as a child that runs only `test` in `role` (its `--nocapture`
/// output comes back through [`Spawned::said`]).
pub(crate) fn child(exe: &Path, test: &str, role: &str) -> Command {
    let mut command = Command::new(exe);
    command.args(["--exact", test, "--nocapture", "--test-threads=1"]).env(ROLE, role).current_dir("/");
    command
}

/// A copy of this test binary that user `nobody` can run (the build directory may be private),
/// in its own directory, removed on drop.
pub(crate) struct PublicExe {
    dir: tempfile::TempDir,
}

impl PublicExe {
    pub(crate) fn new() -> PublicExe {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let exe = dir.path().join("test-binary");
        std::fs::copy(std::env::current_exe().unwrap(), &exe).unwrap();
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
        PublicExe { dir }
    }

    pub(crate) fn path(&self) -> PathBuf {
        self.dir.path().join("test-binary")
    }
}

/// `command` as user `nobody` when this process is root; unchanged otherwise.
pub(crate) fn as_nobody_if_root(command: &mut Command) -> &mut Command {
    if is_root() {
        // std drops root's supplementary groups itself when it changes the uid as root.
        command.uid(NOBODY).gid(NOBODY);
    }
    command
}

/// `sleep 60`, a live process that is not ours to signal and holds no file.
pub(crate) fn sleeper() -> Spawned {
    Spawned::new(Command::new("sleep").arg("60"))
}

/// A directory of our own (tempfile makes it 0700); with `public`, searchable by everyone.
pub(crate) fn tempdir(public: bool) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    if public {
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    dir
}

/// Device and inode of what `path` names (not following a symlink).
pub(crate) fn identity(path: &Path) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::symlink_metadata(path).unwrap();
    (meta.dev(), meta.ino())
}

/// The permission bits of what `path` names.
pub(crate) fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::MetadataExt;
    std::fs::symlink_metadata(path).unwrap().mode() & 0o7777
}

pub(crate) fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// The line `PidFile` writes for `pid`.
pub(crate) fn line(pid: Pid) -> String {
    format!("{pid}\n")
}
