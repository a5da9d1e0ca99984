//! Fixture for the pidfile tests: each subcommand sets up one situation in a fresh process, so
//! that no test forks inside the multi-threaded test harness.
//!
//! Output lines are for the test to parse; the exit status says what happened.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::exit;
use std::time::Duration;

use pidfile::{Pid, PidFile, PidFileError, PidFileLock};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let path = || PathBuf::from(args.get(1).expect("usage: pidfile-fixture COMMAND PATH ..."));
    match args.first().map(String::as_str) {
        Some("create") => create(&path()),
        Some("hold") => hold(&path()),
        Some("contend") => contend(&path(), args[2].parse().unwrap(), args.get(3).map(String::as_str)),
        Some("fork-parent-exits") => fork_parent_exits(&path()),
        Some("fork-child-drops") => fork_child_drops(&path()),
        Some("fork-child-takes-over") => fork_child_takes_over(&path(), args.get(2).map(String::as_str)),
        Some("exchange") => exchange(&path(), Path::new(&args[2]), args[3].parse().unwrap()),
        Some("is-running") => {
            let pid: Pid = args[1].parse().unwrap();
            println!("{}", pidfile::is_pid_running(pid));
        }
        other => panic!("unknown fixture command {other:?}"),
    }
}

/// One `create`: prints `ok PID` and removes the file, or prints the error and exits 1
/// (`AlreadyRunning`) or 2 (anything else).
fn create(path: &Path) {
    match PidFile::create(path) {
        Ok(guard) => {
            println!("ok {}", guard.pid());
            guard.remove().unwrap();
        }
        Err(PidFileError::AlreadyRunning { pid: Some(pid), .. }) => {
            println!("already running (pid {pid})");
            exit(1);
        }
        Err(PidFileError::AlreadyRunning { pid: None, .. }) => {
            println!("already running (pid unknown)");
            exit(1);
        }
        Err(e) => {
            println!("error {}", daemonic_tests::error_chain(&e));
            exit(2);
        }
    }
}

/// Holds the file until stdin closes (or the process is killed), then removes it.
fn hold(path: &Path) {
    let guard = PidFile::create(path).unwrap_or_else(|e| {
        println!("error {}", daemonic_tests::error_chain(&e));
        exit(2)
    });
    println!("locked {}", guard.pid());
    std::io::stdout().flush().unwrap();
    let mut line = String::new();
    while std::io::stdin().lock().read_line(&mut line).unwrap_or(0) != 0 {}
    guard.remove().unwrap();
    println!("removed");
}

/// Takes the file `rounds` times, contending with other copies. While holding it, proves that it
/// is alone (an `O_EXCL` marker beside it) and that the file names it. Exits 3 on a double
/// holder, 4 on foreign or torn content. `drop` releases by dropping the guard instead of
/// `remove()`.
fn contend(path: &Path, rounds: u32, release: Option<&str>) {
    let me = Pid::current();
    let marker = path.with_extension("holder");
    let (mut acquired, mut refused) = (0u32, 0u64);
    while acquired < rounds {
        let guard = match PidFile::create(path) {
            Ok(guard) => guard,
            Err(PidFileError::AlreadyRunning { .. }) => {
                refused += 1;
                std::thread::yield_now();
                continue;
            }
            Err(e) => panic!("unexpected error: {e}"),
        };
        if std::fs::OpenOptions::new().write(true).create_new(true).open(&marker).is_err() {
            eprintln!("DOUBLE HOLDER: {me} got the lock while {marker:?} exists");
            exit(3);
        }
        let content = std::fs::read(path).unwrap_or_default();
        if content != format!("{me}\n").as_bytes() {
            eprintln!("FOREIGN CONTENT: {me} holds the lock but the file says {content:?}");
            exit(4);
        }
        std::fs::remove_file(&marker).unwrap();
        match release {
            Some("drop") => drop(guard),
            _ => guard.remove().unwrap(),
        }
        acquired += 1;
    }
    println!("acquired {acquired} refused {refused}");
}

fn fork() -> libc::pid_t {
    // SAFETY: fixtures are single-threaded; the child only runs code that is safe after fork in
    // a single-threaded process.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed: {}", std::io::Error::last_os_error());
    pid
}

/// Creates the guard, forks; the child becomes the owner and keeps running, the parent exits
/// without running destructors (like a daemon launcher). Prints `child PID`.
fn fork_parent_exits(path: &Path) {
    let mut guard = PidFile::create(path).unwrap();
    std::io::stdout().flush().unwrap();
    if fork() == 0 {
        guard.write_pid(Pid::current()).unwrap();
        println!("child {}", Pid::current());
        std::io::stdout().flush().unwrap();
        // Close stdout so the test's read sees EOF once the parent is gone too.
        // SAFETY: fd 1 is not used by anything else in this process afterwards.
        unsafe { libc::close(1) };
        std::thread::sleep(Duration::from_secs(600));
        exit(0);
    }
    exit(0);
}

/// Creates the guard, forks a child that drops its copy and exits; the parent then checks that
/// the file still exists, names it and is still locked. Prints `intact` or exits 5.
fn fork_child_drops(path: &Path) {
    let guard = PidFile::create(path).unwrap();
    let child = fork();
    if child == 0 {
        drop(guard);
        // SAFETY: `_exit` is always safe; it skips the parent's atexit handlers and buffers.
        unsafe { libc::_exit(0) };
    }
    let mut status = 0;
    // SAFETY: waiting for our own child with a valid status pointer.
    assert_eq!(unsafe { libc::waitpid(child, &mut status, 0) }, child);
    let intact = pidfile::read_pid(path).ok() == Some(guard.pid())
        && matches!(PidFile::create(path), Err(PidFileError::AlreadyRunning { .. }));
    if !intact {
        println!("file damaged by the child's drop");
        exit(5);
    }
    println!("intact");
    guard.remove().unwrap();
}

/// A forked child takes the file over; then the parent drops its guard. `how`:
/// - `guard`: the parent holds a written `PidFile`, the child calls `write_pid` and lives on;
/// - `lock`: the parent holds an empty `PidFileLock`, the child calls `write_pid` and lives on;
/// - `lock-child-dies`: as `lock`, but the child exits (without cleaning up) before the drop;
/// - `lock-child-silent`: the child exits without writing anything.
///
/// Prints `child PID` then, after the parent's drop, `exists=BOOL content=STRING`; a surviving
/// child is left running for the test to check and kill.
fn fork_child_takes_over(path: &Path, how: Option<&str>) {
    enum Held {
        Guard(PidFile),
        Lock(PidFileLock),
    }
    let how = how.unwrap_or("guard");
    let held = if how == "guard" {
        Held::Guard(PidFile::create(path).unwrap())
    } else {
        Held::Lock(PidFileLock::acquire(path).unwrap())
    };
    let lives = !how.ends_with("dies") && !how.ends_with("silent");
    let (read_end, write_end) = rustix::pipe::pipe().unwrap();
    std::io::stdout().flush().unwrap();
    let child = fork();
    if child == 0 {
        drop(read_end);
        if !how.ends_with("silent") {
            let guard = match held {
                Held::Guard(mut guard) => {
                    guard.write_pid(Pid::current()).unwrap();
                    guard
                }
                Held::Lock(lock) => lock.write_pid(Pid::current()).unwrap(),
            };
            // Not dropped: a daemon that dies leaves its file behind; one that lives keeps it.
            std::mem::forget(guard);
        }
        rustix::io::write(&write_end, b"x").unwrap();
        drop(write_end);
        if lives {
            // SAFETY: fd 1 is not used by anything else in this process afterwards; the test's
            // read of the parent's output must not wait for this child.
            unsafe { libc::close(1) };
            std::thread::sleep(Duration::from_secs(600));
        }
        // SAFETY: `_exit` is always safe; it skips the parent's buffers and destructors.
        unsafe { libc::_exit(0) };
    }
    drop(write_end);
    println!("child {child}");
    let mut byte = [0u8; 1];
    rustix::io::read(&read_end, &mut byte).unwrap();
    if !lives {
        // Reap the child so that it is gone, not a zombie, when the parent's drop looks.
        let mut status = 0;
        // SAFETY: waiting for our own child with a valid status pointer.
        unsafe { libc::waitpid(child, &mut status, 0) };
    }
    match held {
        Held::Guard(guard) => drop(guard),
        Held::Lock(lock) => drop(lock),
    }
    let content = std::fs::read_to_string(path);
    println!("exists={} content={:?}", content.is_ok(), content.unwrap_or_default());
}

/// The attacker of the hostile-user tests (run as `nobody`): exchanges the two names with
/// `renameat2(RENAME_EXCHANGE)` as fast as it can for `millis` milliseconds, so that whoever
/// looks up `a` twice may see two different files. Prints `exchanged N`.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn exchange(a: &Path, b: &Path, millis: u64) {
    use rustix::fs::{renameat_with, RenameFlags, CWD};
    let deadline = std::time::Instant::now() + Duration::from_millis(millis);
    let mut exchanged = 0u64;
    while std::time::Instant::now() < deadline {
        if renameat_with(CWD, a, CWD, b, RenameFlags::EXCHANGE).is_ok() {
            exchanged += 1;
        }
    }
    println!("exchanged {exchanged}");
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn exchange(_a: &Path, _b: &Path, _millis: u64) {
    panic!("renameat2(RENAME_EXCHANGE) is Linux-only");
}
