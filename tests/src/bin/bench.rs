//! The benchmark behind `cargo xtask bench`: each operation of ours beside the raw system-call
//! floor written directly with rustix, measured in the same run, interleaved, as the median and
//! min–max of several repetitions. Not a test: nothing here fails on timing.

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use pidfile::{Pid, PidFile};
use rustix::fs::{FlockOperation, Mode, OFlags, CWD};

struct Config {
    /// Run only the operations whose label contains this (for profiling one of them).
    only: Option<String>,
    reps: usize,
    iters: u32,
    starts: u32,
    dir: PathBuf,
    /// Bytes PROGRAM writes in each run of the relay rows.
    relay_bytes: u64,
}

fn parse() -> Result<Config, String> {
    let mut config = Config {
        only: None,
        reps: 11,
        iters: 2000,
        starts: 40,
        dir: PathBuf::from("target/bench-tmp"),
        relay_bytes: 1 << 30,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--reps" => config.reps = value()?.parse().map_err(|e| format!("--reps: {e}"))?,
            "--iters" => config.iters = value()?.parse().map_err(|e| format!("--iters: {e}"))?,
            "--starts" => config.starts = value()?.parse().map_err(|e| format!("--starts: {e}"))?,
            "--dir" => config.dir = PathBuf::from(value()?),
            "--only" => config.only = Some(value()?),
            "--relay-mib" => {
                config.relay_bytes = value()?.parse::<u64>().map_err(|e| format!("--relay-mib: {e}"))? << 20;
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    // Absolute, as a real program's PID file path would be (a relative one costs a getcwd).
    config.dir = std::env::current_dir().map_err(|e| format!("current directory: {e}"))?.join(&config.dir);
    if config.reps == 0 || config.iters == 0 || config.starts == 0 {
        return Err("--reps, --iters and --starts must be positive".into());
    }
    Ok(config)
}

/// Nanoseconds per operation over the repetitions.
struct Samples(Vec<f64>);

impl Samples {
    fn median(&self) -> f64 {
        let mut v = self.0.clone();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    }
    fn range(&self) -> (f64, f64) {
        let min = self.0.iter().copied().fold(f64::INFINITY, f64::min);
        let max = self.0.iter().copied().fold(0.0, f64::max);
        (min, max)
    }
}

/// Runs `ours` and `floor` alternately (the order flips every repetition), `iters` operations
/// each time, and returns ns/op samples for both.
fn interleaved(reps: usize, iters: u32, mut ours: impl FnMut(u32), mut floor: impl FnMut(u32)) -> (Samples, Samples) {
    let time = |f: &mut dyn FnMut(u32)| {
        let start = Instant::now();
        for i in 0..iters {
            f(i);
        }
        start.elapsed().as_nanos() as f64 / f64::from(iters)
    };
    // Warm-up: page cache, dentries, branch predictors.
    time(&mut ours);
    time(&mut floor);
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for rep in 0..reps {
        if rep % 2 == 0 {
            a.push(time(&mut ours));
            b.push(time(&mut floor));
        } else {
            b.push(time(&mut floor));
            a.push(time(&mut ours));
        }
    }
    (Samples(a), Samples(b))
}

struct Row {
    operation: String,
    ours: Samples,
    floor: Samples,
    target: Option<f64>,
}

fn fmt_ns(ns: f64) -> String {
    if ns >= 1_000_000.0 {
        format!("{:.2} ms", ns / 1_000_000.0)
    } else if ns >= 1000.0 {
        format!("{:.2} µs", ns / 1000.0)
    } else {
        format!("{ns:.0} ns")
    }
}

fn print_table(rows: &[Row]) {
    println!(
        "{:<44} {:>26} {:>26} {:>6}  {:>7}  verdict",
        "operation", "ours: median [min–max]", "floor: median [min–max]", "ratio", "target"
    );
    for row in rows {
        let cell = |s: &Samples| {
            let (lo, hi) = s.range();
            format!("{} [{}–{}]", fmt_ns(s.median()), fmt_ns(lo), fmt_ns(hi))
        };
        let ratio = row.ours.median() / row.floor.median();
        let (target, verdict) = match row.target {
            Some(t) if ratio <= t => (format!("≤{t:.2}×"), "met".to_owned()),
            Some(t) => (format!("≤{t:.2}×"), format!("MISSED by {:.2}×", ratio - t)),
            None => ("—".to_owned(), "—".to_owned()),
        };
        println!(
            "{:<44} {:>26} {:>26} {:>5.2}×  {:>7}  {verdict}",
            row.operation,
            cell(&row.ours),
            cell(&row.floor),
            ratio,
            target
        );
    }
}

fn floor_create_remove(path: &Path) {
    let fd = rustix::fs::openat(
        CWD,
        path,
        OFlags::CREATE | OFlags::RDWR | OFlags::CLOEXEC | OFlags::NOFOLLOW,
        Mode::from_raw_mode(0o644),
    )
    .unwrap();
    rustix::fs::flock(&fd, FlockOperation::NonBlockingLockExclusive).unwrap();
    rustix::io::write(&fd, b"12345\n").unwrap();
    rustix::fs::unlinkat(CWD, path, rustix::fs::AtFlags::empty()).unwrap();
    drop(fd);
}

/// The rules' part of taking a PID file, raw: the directory opened without following links
/// (Linux: one `openat2(RESOLVE_NO_SYMLINKS)`), the file created relative to it with the safe
/// flags and `O_EXCL` (a new file: no `fstatat` needed before opening it), lock, `fstat` after
/// the lock (rule 3: a regular file with one link; rule 2: its inode) and `fstatat(dirfd,
/// name)` to compare inodes (rule 2). Returns the directory, the descriptor and the locked
/// inode.
fn rules_floor_lock(path: &Path) -> (OwnedFd, OwnedFd, rustix::fs::Stat) {
    let (parent, name) = (path.parent().unwrap(), path.file_name().unwrap());
    #[cfg(any(target_os = "linux", target_os = "android"))]
    let dir = rustix::fs::openat2(
        CWD,
        parent,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
        rustix::fs::ResolveFlags::NO_SYMLINKS,
    )
    .unwrap();
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let dir =
        rustix::fs::openat(CWD, parent, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty()).unwrap();
    let fd = rustix::fs::openat(
        &dir,
        name,
        OFlags::CREATE
            | OFlags::EXCL
            | OFlags::RDWR
            | OFlags::CLOEXEC
            | OFlags::NOFOLLOW
            | OFlags::NOCTTY
            | OFlags::NONBLOCK,
        Mode::from_raw_mode(0o644),
    )
    .unwrap();
    rustix::fs::flock(&fd, FlockOperation::NonBlockingLockExclusive).unwrap();
    let locked = rustix::fs::fstat(&fd).unwrap();
    let named = rustix::fs::statat(&dir, name, rustix::fs::AtFlags::SYMLINK_NOFOLLOW).unwrap();
    assert_eq!((locked.st_dev, locked.st_ino), (named.st_dev, named.st_ino));
    (dir, fd, locked)
}

/// The floor plus exactly what DESIGN.md's rules add: the checks of [`rules_floor_lock`],
/// `fstatat(dirfd, name)` again before unlinking (rule 2), `getpid` to record and check the
/// owning process (rule 9), a `pread` before unlinking (the file still holds our pid: no forked
/// child took it over), and the unlink relative to the directory.
fn rules_floor_create_remove(path: &Path) {
    let (dir, fd, locked) = rules_floor_lock(path);
    let name = path.file_name().unwrap();
    assert_eq!(locked.st_nlink, 1);
    let owner = rustix::process::getpid();
    rustix::io::pwrite(&fd, b"12345\n", 0).unwrap();
    assert_eq!(rustix::process::getpid(), owner);
    let mut buf = [0u8; 65];
    assert_eq!(rustix::io::pread(&fd, &mut buf, 0).unwrap(), 6);
    let named = rustix::fs::statat(&dir, name, rustix::fs::AtFlags::SYMLINK_NOFOLLOW).unwrap();
    assert_eq!((locked.st_dev, locked.st_ino), (named.st_dev, named.st_ino));
    rustix::fs::unlinkat(&dir, name, rustix::fs::AtFlags::empty()).unwrap();
    drop(fd);
    drop(dir);
}

fn pidfile_rows(config: &Config, dir: &Path, label: &str, rows: &mut Vec<Row>) {
    std::fs::create_dir_all(dir).unwrap();
    let ours_path = dir.join(format!("bench-ours-{}.pid", std::process::id()));
    let floor_path = dir.join(format!("bench-floor-{}.pid", std::process::id()));
    let (ours, floor) = interleaved(
        config.reps,
        config.iters,
        |_| PidFile::create(&ours_path).unwrap().remove().unwrap(),
        |_| floor_create_remove(&floor_path),
    );
    rows.push(Row { operation: format!("PidFile::create + remove ({label})"), ours, floor, target: Some(1.3) });
    let (ours, floor) = interleaved(
        config.reps,
        config.iters,
        |_| PidFile::create(&ours_path).unwrap().remove().unwrap(),
        |_| rules_floor_create_remove(&floor_path),
    );
    // The same system calls (see the table above): equal but for noise.
    rows.push(Row { operation: format!("  same vs the rules floor ({label})"), ours, floor, target: Some(1.1) });
}

/// PROGRAM of the relay rows (`bench --write-lines BYTES`): `BYTES` of 100-byte lines to
/// standard output, 65,500 bytes per `write` (a program logging through a 64 KiB buffer).
fn write_lines(bytes: u64) -> ! {
    let mut line = [b'x'; 100];
    line[99] = b'\n';
    // The syslog floor: the same lines sent by the program itself, one non-blocking datagram
    // each (what syslog(3) would do, but never waiting, as the supervisor never does).
    if let Some(path) = std::env::var_os("BENCH_SYSLOG_SOCKET") {
        let socket = std::os::unix::net::UnixDatagram::unbound().unwrap();
        socket.set_nonblocking(true).unwrap();
        let mut datagram = format!("<29>bench[{}]: ", std::process::id()).into_bytes();
        datagram.extend_from_slice(&line[..99]);
        for _ in 0..bytes / 100 {
            let _ = socket.send_to(&datagram, &path);
        }
        if let Some(path) = std::env::var_os("BENCH_CPU_FILE") {
            std::fs::write(path, own_cpu(libc::RUSAGE_SELF).as_nanos().to_string()).unwrap();
        }
        std::process::exit(0)
    }
    let block: Vec<u8> = line.iter().copied().cycle().take(65_500).collect();
    let mut left = bytes;
    while left > 0 {
        let mut part = &block[..block.len().min(usize::try_from(left).unwrap_or(usize::MAX))];
        left -= part.len() as u64;
        while !part.is_empty() {
            match rustix::io::write(rustix::stdio::stdout(), part) {
                Ok(n) => part = &part[n..],
                Err(rustix::io::Errno::INTR) => {}
                Err(e) => panic!("write: {e}"),
            }
        }
    }
    // Its own CPU time, so that the benchmark can tell the supervisor's from it.
    if let Some(path) = std::env::var_os("BENCH_CPU_FILE") {
        std::fs::write(path, own_cpu(libc::RUSAGE_SELF).as_nanos().to_string()).unwrap();
    }
    std::process::exit(0)
}

/// User plus system time of this process (`RUSAGE_SELF`) or of its reaped descendants
/// (`RUSAGE_CHILDREN`).
fn own_cpu(who: libc::c_int) -> Duration {
    // SAFETY: an all-zero rusage is valid storage for getrusage to fill.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointer to writable storage.
    unsafe { libc::getrusage(who, &mut usage) };
    let time = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    time(usage.ru_utime) + time(usage.ru_stime)
}

/// `bench --syscalls-of OPERATION DIR`, run under `strace` by [`syscall_table`]: the
/// operation once to warm up, then once between two `getppid` calls (which nothing else here
/// makes), so that the trace shows exactly its system calls.
fn syscalls_of(operation: &str, dir: &Path) -> ! {
    let path = dir.join(format!("bench-syscalls-{}.pid", std::process::id()));
    let run = || match operation {
        "create" => drop(PidFile::create(&path).unwrap().remove()),
        "raw" => floor_create_remove(&path),
        "rules" => rules_floor_create_remove(&path),
        other => panic!("--syscalls-of {other}"),
    };
    run();
    let _ = rustix::process::getppid();
    run();
    let _ = rustix::process::getppid();
    std::process::exit(0)
}

/// The system calls of one `PidFile::create` + `remove` beside the floors', from `strace`
/// (skipped, saying so, without it).
fn syscall_table(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let trace = dir.join(format!("bench-strace-{}.txt", std::process::id()));
    println!("system calls of one create + remove ({}), from strace:", dir.display());
    for (label, operation) in [("PidFile::create + remove", "create"), ("raw floor", "raw"), ("rules floor", "rules")] {
        let status = std::process::Command::new("strace")
            .args(["-qq", "-o"])
            .arg(&trace)
            .arg(std::env::current_exe().unwrap())
            .args(["--syscalls-of", operation])
            .arg(dir)
            .stderr(std::process::Stdio::null())
            .status();
        if !status.is_ok_and(|s| s.success()) {
            println!("  skipped: strace is not installed or cannot trace here");
            return;
        }
        let text = std::fs::read_to_string(&trace).unwrap();
        let calls: Vec<&str> = text
            .lines()
            .skip_while(|l| !l.starts_with("getppid("))
            .skip(1)
            .take_while(|l| !l.starts_with("getppid("))
            .filter_map(|l| l.split('(').next())
            .collect();
        println!("  {label:<26} {:>2}: {}", calls.len(), calls.join(" "));
    }
    let _ = std::fs::remove_file(trace);
}

fn main() {
    let mut args = std::env::args().skip(1);
    match (args.next().as_deref(), args.next(), args.next()) {
        (Some("--write-lines"), Some(bytes), _) => write_lines(bytes.parse().expect("--write-lines BYTES")),
        (Some("--syscalls-of"), Some(operation), Some(dir)) => syscalls_of(&operation, Path::new(&dir)),
        _ => {}
    }
    let config = match parse() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("bench: {e}\nusage: bench [--reps N] [--iters N] [--starts N] [--dir DIR] [--relay-mib N] [--only create|kill|running|read|start|supervise|alternatives|relay]");
            std::process::exit(2);
        }
    };
    // Daemons started by the start benchmark become our children, so they are reaped.
    #[cfg(target_os = "linux")]
    let _ = rustix::process::set_child_subreaper(Some(rustix::process::getpid()));

    let tmpfs = std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/dev/shm"));
    let mut rows = Vec::new();
    let wanted = |name: &str| config.only.as_deref().is_none_or(|only| only == name);
    if wanted("create") {
        syscall_table(&tmpfs);
        pidfile_rows(&config, &tmpfs, &format!("tmpfs, {}", tmpfs.display()), &mut rows);
        pidfile_rows(&config, &config.dir, &format!("working fs, {}", config.dir.display()), &mut rows);
    }

    let me = Pid::current();
    let raw = rustix::process::getpid();
    if wanted("kill") {
        let (ours, floor) = interleaved(
            config.reps,
            config.iters * 10,
            |_| assert!(pidfile::is_pid_running(me)),
            |_| rustix::process::test_kill_process(raw).unwrap(),
        );
        rows.push(Row { operation: "is_pid_running vs kill(pid, 0)".into(), ours, floor, target: Some(1.1) });
    }

    let held = tmpfs.join(format!("bench-held-{}.pid", std::process::id()));
    let guard = PidFile::create(&held).unwrap();
    if wanted("running") {
        let (ours, floor) = interleaved(
            config.reps,
            config.iters,
            |_| assert_eq!(pidfile::running_pid(&held).unwrap(), Some(me)),
            |_| floor_probe(&held, true),
        );
        // No target in the issues: a guard against regressions, at the last published ratio
        // plus noise (the extra calls decide who holds the file: see the README).
        rows.push(Row {
            operation: "running_pid (held file) vs open+flock+read".into(),
            ours,
            floor,
            target: Some(2.5),
        });
    }
    if wanted("read") {
        let (ours, floor) = interleaved(
            config.reps,
            config.iters,
            |_| assert_eq!(pidfile::read_pid(&held).unwrap(), me),
            |_| floor_probe(&held, false),
        );
        // As above.
        rows.push(Row { operation: "read_pid vs open+read".into(), ours, floor, target: Some(2.5) });
    }
    guard.remove().unwrap();

    if wanted("start") {
        daemon_rows(&config, &tmpfs, &mut rows);
    }
    #[cfg(target_os = "linux")]
    if wanted("supervise") {
        supervisor::rows(&config, &tmpfs, &mut rows);
    }
    #[cfg(target_os = "linux")]
    if wanted("alternatives") {
        supervisor::alternatives_rows(&config, &tmpfs, &mut rows);
    }
    #[cfg(target_os = "linux")]
    if wanted("relay") {
        supervisor::relay_rows(&config, &tmpfs, &mut rows);
    }

    println!();
    print_table(&rows);
    println!("\n{} repetitions, interleaved; ns per operation. Machine: {}.", config.reps, machine());
}

/// The floor of `running_pid`/`read_pid`: open, (lock test,) read, close.
fn floor_probe(path: &Path, lock: bool) {
    let fd: OwnedFd =
        rustix::fs::openat(CWD, path, OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW, Mode::empty()).unwrap();
    if lock {
        let _ = rustix::fs::flock(&fd, FlockOperation::NonBlockingLockShared);
    }
    let mut buf = [0u8; 64];
    let _ = rustix::io::read(&fd, &mut buf).unwrap();
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find_map(|l| l.strip_prefix("model name").map(|m| m.trim_start_matches([' ', '\t', ':']).to_owned()))
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let kernel = rustix::system::uname();
    format!(
        "{cpu}, {} cores, {} {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        kernel.sysname().to_string_lossy(),
        kernel.release().to_string_lossy()
    )
}

/// Forks (this process is single-threaded), lets `launcher` run in the child, waits for it:
/// the time from the fork to the launcher's exit.
fn time_launch(launcher: impl FnOnce()) -> Duration {
    let start = Instant::now();
    // SAFETY: the benchmark is single-threaded; the child runs `launcher` and exits.
    let child = unsafe { libc::fork() };
    assert!(child >= 0);
    if child == 0 {
        launcher();
        // SAFETY: leave without running the parent's destructors.
        unsafe { libc::_exit(0) };
    }
    let mut status = 0;
    // SAFETY: waiting for our own child.
    unsafe { libc::waitpid(child, &mut status, 0) };
    let elapsed = start.elapsed();
    assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0, "launcher failed: {status}");
    elapsed
}

/// Our launcher: daemonize with a PID file; the daemon stops at once.
fn ours_launcher(pidfile: &Path) {
    match daemonic::Daemon::new().pidfile(pidfile).daemonize() {
        Ok(guard) => {
            let _ = guard.stop();
            // SAFETY: the daemon leaves at once.
            unsafe { libc::_exit(0) };
        }
        Err(e) => {
            eprintln!("bench: {e}");
            // SAFETY: as above.
            unsafe { libc::_exit(1) };
        }
    }
}

/// The floor: pipe, fork, setsid, fork, the daemon writes one byte, the launcher reads it.
fn floor_launcher() {
    double_fork_handshake(false, |_| {});
}

/// Pipe, fork, setsid, fork; the daemon runs `in_daemon` (given the pipe's write end), writes
/// the readiness byte, closes the pipe and leaves; the launcher reaps the intermediate and reads
/// the byte, then (`await_close`, a rule) end of file: it returns once the daemon holds no pipe.
fn double_fork_handshake(await_close: bool, in_daemon: impl FnOnce(&OwnedFd)) {
    let (read, write) = cloexec_pipe();
    // SAFETY: single-threaded.
    match unsafe { libc::fork() } {
        0 => {
            drop(read);
            rustix::process::setsid().unwrap();
            // SAFETY: single-threaded.
            if unsafe { libc::fork() } != 0 {
                // SAFETY: the intermediate leaves.
                unsafe { libc::_exit(0) };
            }
            in_daemon(&write);
            rustix::io::write(&write, b"R").unwrap();
            // SAFETY: the daemon leaves at once.
            unsafe { libc::_exit(0) };
        }
        intermediate => {
            drop(write);
            let mut status = 0;
            // SAFETY: reaping our own child.
            unsafe { libc::waitpid(intermediate, &mut status, 0) };
            let mut buf = [0u8; 1];
            rustix::io::read(&read, &mut buf).unwrap();
            if await_close {
                assert_eq!(rustix::io::read(&read, &mut buf).unwrap(), 0);
            }
        }
    }
}

/// `pipe2(O_CLOEXEC)`; on Apple platforms, which lack it, `pipe` and `fcntl`.
fn cloexec_pipe() -> (OwnedFd, OwnedFd) {
    #[cfg(not(target_vendor = "apple"))]
    let pair = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).unwrap();
    #[cfg(target_vendor = "apple")]
    let pair = {
        let (read, write) = rustix::pipe::pipe().unwrap();
        for fd in [&read, &write] {
            rustix::io::fcntl_setfd(fd, rustix::io::FdFlags::CLOEXEC).unwrap();
        }
        (read, write)
    };
    pair
}

/// The floor plus exactly the steps DESIGN.md requires of a daemon start, written with
/// rustix/libc: thread check, `/dev/null`, PID file (its directory, open, flock, fstat, fstatat, write), pipe,
/// fork, setsid, fork; in the daemon chdir, umask, every signal disposition and the mask,
/// three dup2, close_range, the daemon's pid written (into the file the launcher locked
/// empty); then the readiness byte, and the launcher waits for the pipe's end of file.
fn rules_floor_launcher(pidfile: &Path) {
    // The thread count, where the library can read it (Linux).
    #[cfg(target_os = "linux")]
    assert_eq!(rustix::fs::stat("/proc/self/task").unwrap().st_nlink, 3);
    let null = rustix::fs::openat(CWD, "/dev/null", OFlags::RDWR | OFlags::CLOEXEC, Mode::empty()).unwrap();
    // Locked empty in the launcher; the daemon writes the first pid (no truncate needed).
    let (dir, fd, _) = rules_floor_lock(pidfile);
    double_fork_handshake(true, |write| {
        rustix::process::chdir("/").unwrap();
        rustix::process::umask(Mode::empty());
        for signal in 1..=64 {
            if signal != libc::SIGKILL && signal != libc::SIGSTOP {
                // SAFETY: SIG_DFL for a signal number; errors (reserved numbers) ignored.
                unsafe { libc::signal(signal, libc::SIG_DFL) };
            }
        }
        // SAFETY: an empty set from sigemptyset.
        unsafe {
            let mut empty: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut empty);
            libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
        }
        rustix::stdio::dup2_stdin(&null).unwrap();
        rustix::stdio::dup2_stdout(&null).unwrap();
        rustix::stdio::dup2_stderr(&null).unwrap();
        close_all_but(&[dir.as_raw_fd(), fd.as_raw_fd(), write.as_raw_fd()]);
        rustix::io::pwrite(&fd, b"2\n", 0).unwrap();
    });
}

/// Closes every descriptor from 3 up but `keep`, over the gaps between them, as the daemon
/// does: `close_range(2)` on Linux; elsewhere `close` one by one up to the soft descriptor
/// limit (the library uses `closefrom` on the BSDs for the last gap; this floor is simpler).
fn close_all_but(keep: &[i32]) {
    let mut keep = keep.to_vec();
    keep.sort_unstable();
    let mut next = 3;
    for fd in keep.into_iter().chain([i32::MAX]) {
        if fd > next {
            close_gap(next, fd - 1);
        }
        next = fd.saturating_add(1);
    }
}

#[cfg(target_os = "linux")]
fn close_gap(first: i32, last: i32) {
    // SAFETY: closes descriptors nothing in this process uses any more.
    unsafe { libc::syscall(libc::SYS_close_range, first as u32, last as u32, 0u32) };
}

#[cfg(not(target_os = "linux"))]
fn close_gap(first: i32, last: i32) {
    let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile).current.unwrap_or(1024);
    let last = last.min(i32::try_from(limit).unwrap_or(i32::MAX).saturating_sub(1));
    for fd in first..=last {
        // SAFETY: as above.
        unsafe { libc::close(fd) };
    }
}

/// Waits until a daemon removed its PID file; panics (instead of hanging) if it never does.
fn wait_removed(path: &Path) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while path.exists() {
        assert!(Instant::now() < deadline, "{} was never removed: the daemon failed", path.display());
        std::thread::yield_now();
    }
}

fn reap_all() {
    // The daemons are our children (subreaper); collect the ones that exited.
    loop {
        // SAFETY: reaping any exited child without blocking.
        if unsafe { libc::waitpid(-1, std::ptr::null_mut(), libc::WNOHANG) } <= 0 {
            break;
        }
    }
}

fn daemon_rows(config: &Config, dir: &Path, rows: &mut Vec<Row>) {
    let pidfile = dir.join(format!("bench-daemon-{}.pid", std::process::id()));
    let floor_pidfile = dir.join(format!("bench-daemon-floor-{}.pid", std::process::id()));
    let measure = |label: String, rows: &mut Vec<Row>, target: Option<f64>, rules: bool| {
        let (mut ours, mut floor) = (Vec::new(), Vec::new());
        for _ in 0..config.reps {
            let (mut a, mut b) = (Duration::ZERO, Duration::ZERO);
            for i in 0..config.starts {
                let mut run_ours = || {
                    a += time_launch(|| ours_launcher(&pidfile));
                    // The daemon removes its file as it stops; wait so the next start is clean.
                    wait_removed(&pidfile);
                };
                let mut run_floor = || {
                    if rules {
                        b += time_launch(|| rules_floor_launcher(&floor_pidfile));
                        // Outside the measured time, as our daemon removes its file after ready.
                        let _ = std::fs::remove_file(&floor_pidfile);
                    } else {
                        b += time_launch(floor_launcher);
                    }
                };
                if i % 2 == 0 {
                    run_ours();
                    run_floor();
                } else {
                    run_floor();
                    run_ours();
                }
                reap_all();
            }
            ours.push(a.as_nanos() as f64 / f64::from(config.starts));
            floor.push(b.as_nanos() as f64 / f64::from(config.starts));
        }
        rows.push(Row { operation: label, ours: Samples(ours), floor: Samples(floor), target });
    };
    let high = raise_nofile(1 << 20);
    let low = set_soft_nofile(1024);
    measure(format!("daemon start vs fork+setsid+fork+pipe (NOFILE {low})"), rows, Some(1.3), false);
    // Copy-on-write faults after the forks make the difference (counted below).
    measure(format!("  same vs the rules floor (NOFILE {low})"), rows, Some(1.2), true);
    let high = set_soft_nofile(high);
    measure(format!("daemon start vs fork+setsid+fork+pipe (NOFILE {high})"), rows, Some(1.3), false);

    // Ours at the high limit against ours at the low one, alternating launch by launch (the
    // limit is inherited by the launcher, so it is set here between launches).
    let (mut at_high, mut at_low) = (Vec::new(), Vec::new());
    for _ in 0..config.reps {
        let (mut a, mut b) = (Duration::ZERO, Duration::ZERO);
        for i in 0..config.starts {
            for limit in if i % 2 == 0 { [high, low] } else { [low, high] } {
                set_soft_nofile(limit);
                let elapsed = time_launch(|| ours_launcher(&pidfile));
                wait_removed(&pidfile);
                if limit == high {
                    a += elapsed;
                } else {
                    b += elapsed;
                }
            }
            reap_all();
        }
        at_high.push(a.as_nanos() as f64 / f64::from(config.starts));
        at_low.push(b.as_nanos() as f64 / f64::from(config.starts));
    }
    rows.push(Row {
        operation: format!("daemon start: NOFILE {high} vs NOFILE {low}"),
        ours: Samples(at_high),
        floor: Samples(at_low),
        target: Some(1.1),
    });

    // Page faults explain most of what remains above the rules floor: after each fork, every
    // page a process writes is copied.
    let ours = faults_per_launch(config.starts, || {
        time_launch(|| ours_launcher(&pidfile));
        wait_removed(&pidfile);
    });
    let raw = faults_per_launch(config.starts, || {
        time_launch(floor_launcher);
    });
    let rules = faults_per_launch(config.starts, || {
        time_launch(|| rules_floor_launcher(&floor_pidfile));
        let _ = std::fs::remove_file(&floor_pidfile);
    });
    println!(
        "minor page faults per daemon start (all its processes): ours {ours}, raw floor {raw}, rules floor {rules}"
    );
}

/// Minor page faults of reaped children per launch (`getrusage(RUSAGE_CHILDREN)`), the
/// daemons included: they are our children (subreaper) and are reaped before counting.
fn faults_per_launch(launches: u32, mut launch: impl FnMut()) -> i64 {
    let faults = || {
        std::thread::sleep(Duration::from_millis(50)); // let the last daemons exit
        reap_all();
        // SAFETY: an all-zero rusage is valid storage for getrusage to fill.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: valid pointer to writable storage.
        unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
        #[allow(clippy::unnecessary_cast)] // `c_long`: 32 bits on i686, 64 on x86_64.
        let faults = usage.ru_minflt as i64;
        faults
    };
    let before = faults();
    for _ in 0..launches {
        launch();
    }
    (faults() - before) / i64::from(launches)
}

/// Raises the hard RLIMIT_NOFILE to `wanted` if allowed (CAP_SYS_RESOURCE); returns the hard
/// limit in force.
fn raise_nofile(wanted: u64) -> u64 {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let _ = setrlimit(Resource::Nofile, Rlimit { current: Some(wanted), maximum: Some(wanted) });
    getrlimit(Resource::Nofile).maximum.unwrap_or(wanted).min(wanted)
}

/// Sets the soft RLIMIT_NOFILE (the hard limit stays); returns it.
fn set_soft_nofile(soft: u64) -> u64 {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let hard = getrlimit(Resource::Nofile).maximum;
    let _ = setrlimit(Resource::Nofile, Rlimit { current: Some(soft), maximum: hard });
    getrlimit(Resource::Nofile).current.unwrap_or(soft)
}

/// The `daemonic` command's supervisor: what supervision costs at start, how fast `stop`
/// returns once the service ended, and what an idle supervisor costs (Linux: `/proc`, pidfds).
#[cfg(target_os = "linux")]
mod supervisor {
    use std::os::fd::OwnedFd;
    use std::path::{Path, PathBuf};
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};

    use rustix::event::{poll, PollFd, PollFlags};
    use rustix::process::{pidfd_open, Pid, PidfdFlags};

    use super::{reap_all, Row, Samples};

    /// The release build of the `daemonic` command, beside this binary (`cargo xtask bench`
    /// builds both).
    fn cli() -> PathBuf {
        std::env::current_exe().unwrap().with_file_name("daemonic-command")
    }

    /// Runs `daemonic start`, returns the time until the launcher exited and the daemon's pid.
    fn start(pidfile: &Path, supervised: bool) -> (Duration, u32) {
        let mut command = Command::new(cli());
        command.args(["start", "--pidfile", pidfile.to_str().unwrap()]);
        if !supervised {
            command.arg("--no-supervise");
        }
        command.args(["--", "sleep", "1000"]).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::inherit());
        let begin = Instant::now();
        let status = command.status().unwrap();
        let elapsed = begin.elapsed();
        assert!(status.success(), "daemonic start failed: {status}");
        (elapsed, pidfile::read_pid(pidfile).unwrap().get())
    }

    /// Ends a started service outside the measured time: TERM, reap (it is our child: the
    /// benchmark is a subreaper), remove what a `--no-supervise` program leaves.
    fn end(pid: u32, pidfile: &Path) {
        let raw = Pid::from_raw(pid as i32).unwrap();
        let _ = rustix::process::kill_process(raw, rustix::process::Signal::TERM);
        let _ = rustix::process::waitpid(Some(raw), rustix::process::WaitOptions::empty());
        let _ = std::fs::remove_file(pidfile);
        reap_all();
    }

    fn status_field(pid: u32, key: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or_else(|| panic!("no {key} in /proc/{pid}/status"))
    }

    /// `stop`'s return after the service's exit: both moments seen from here through pidfds
    /// of the supervisor and of the `stop` command, in one `poll`.
    fn stop_latency(pidfile: &Path, supervisor: u32) -> Duration {
        let supervisor_fd = pidfd(supervisor);
        let mut stop = Command::new(cli())
            .args(["stop", "--pidfile", pidfile.to_str().unwrap()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let stop_fd = pidfd(stop.id());
        let (mut exited, mut returned) = (None, None);
        while exited.is_none() || returned.is_none() {
            let mut fds = [PollFd::new(&supervisor_fd, PollFlags::IN), PollFd::new(&stop_fd, PollFlags::IN)];
            poll(&mut fds, None).unwrap();
            let now = Instant::now();
            if exited.is_none() && fds[0].revents().contains(PollFlags::IN) {
                exited = Some(now);
            }
            if returned.is_none() && fds[1].revents().contains(PollFlags::IN) {
                returned = Some(now);
            }
        }
        assert!(stop.wait().unwrap().success());
        let _ = rustix::process::waitpid(Pid::from_raw(supervisor as i32), rustix::process::WaitOptions::empty());
        returned.unwrap().saturating_duration_since(exited.unwrap())
    }

    fn pidfd(pid: u32) -> OwnedFd {
        pidfd_open(Pid::from_raw(pid as i32).unwrap(), PidfdFlags::empty()).unwrap()
    }

    pub(super) fn rows(config: &super::Config, dir: &Path, rows: &mut Vec<Row>) {
        let pidfile = dir.join(format!("bench-supervised-{}.pid", std::process::id()));
        let (mut supervised, mut unsupervised) = (Vec::new(), Vec::new());
        for _ in 0..config.reps {
            let (mut a, mut b) = (Duration::ZERO, Duration::ZERO);
            for i in 0..config.starts {
                for with_supervisor in if i % 2 == 0 { [true, false] } else { [false, true] } {
                    let (elapsed, pid) = start(&pidfile, with_supervisor);
                    end(pid, &pidfile);
                    if with_supervisor {
                        a += elapsed;
                    } else {
                        b += elapsed;
                    }
                }
            }
            supervised.push(a.as_nanos() as f64 / f64::from(config.starts));
            unsupervised.push(b.as_nanos() as f64 / f64::from(config.starts));
        }
        rows.push(Row {
            operation: "`daemonic start`: supervised vs --no-supervise".into(),
            ours: Samples(supervised),
            floor: Samples(unsupervised),
            target: Some(1.2),
        });

        let mut latencies: Vec<Duration> = (0..config.starts)
            .map(|_| {
                let (_, supervisor) = start(&pidfile, true);
                stop_latency(&pidfile, supervisor)
            })
            .collect();
        latencies.sort();
        let (median, max) = (latencies[latencies.len() / 2], latencies[latencies.len() - 1]);
        println!(
            "`daemonic stop` returns {:.3} ms (median; max {:.3} ms) after the supervisor exited \
             (target ≤ 5 ms: {})",
            median.as_secs_f64() * 1e3,
            max.as_secs_f64() * 1e3,
            if max <= Duration::from_millis(5) { "met" } else { "MISSED" }
        );

        let (_, supervisor) = start(&pidfile, true);
        let switches =
            |pid| status_field(pid, "voluntary_ctxt_switches") + status_field(pid, "nonvoluntary_ctxt_switches");
        let before = switches(supervisor);
        std::thread::sleep(Duration::from_secs(10));
        let woke = switches(supervisor) - before;
        let (rss, anon) = (status_field(supervisor, "VmRSS"), status_field(supervisor, "RssAnon"));
        end(supervisor, &pidfile);
        println!(
            "idle supervisor: {woke} context switches in 10 s (target 0: {}); RSS {rss} KiB, of which \
             {anon} KiB its own (anonymous) memory (target ≤ 2048 KiB: {})",
            if woke == 0 { "met" } else { "MISSED" },
            if rss <= 2048 { "met" } else { "MISSED" }
        );
    }

    /// One run of PROGRAM (`bench --write-lines BYTES`) writing to `log`: through the
    /// supervisor (`daemonic start --foreground --stdout LOG`, or `--syslog` to `syslog`) when
    /// `supervised`, else redirected to the log itself (opened `O_APPEND`, as the supervisor
    /// opens it). Returns the wall time until it all ended, and the supervisor's CPU time
    /// (everything's minus PROGRAM's own).
    fn relay_run(
        log: &Path,
        pidfile: &Path,
        bytes: u64,
        supervised: bool,
        syslog: Option<&Path>,
    ) -> (Duration, Duration) {
        let _ = std::fs::remove_file(log);
        let program = std::env::current_exe().unwrap();
        let cpu_file = log.with_extension("cpu");
        let mut command = if supervised {
            let mut command = Command::new(cli());
            command.args(["start", "--foreground", "--pidfile", pidfile.to_str().unwrap()]);
            match syslog {
                Some(socket) => command.args(["--syslog-socket", socket.to_str().unwrap()]),
                None => command.args(["--stdout", log.to_str().unwrap()]),
            };
            command.arg("--").arg(&program).stdout(Stdio::null());
            command
        } else {
            let mut command = Command::new(&program);
            let file = std::fs::OpenOptions::new().append(true).create(true).open(log).unwrap();
            command.stdout(file);
            if let Some(socket) = syslog {
                command.env("BENCH_SYSLOG_SOCKET", socket);
            }
            command
        };
        command.args(["--write-lines", &bytes.to_string()]).env("BENCH_CPU_FILE", &cpu_file);
        command.stdin(Stdio::null()).stderr(Stdio::inherit());
        let cpu = super::own_cpu(libc::RUSAGE_CHILDREN);
        let begin = Instant::now();
        let status = command.status().unwrap();
        let elapsed = begin.elapsed();
        let cpu = super::own_cpu(libc::RUSAGE_CHILDREN) - cpu;
        assert!(status.success(), "the relay run failed: {status}");
        let program_cpu = Duration::from_nanos(std::fs::read_to_string(&cpu_file).unwrap().parse().unwrap());
        if syslog.is_none() {
            let len = std::fs::metadata(log).unwrap().len();
            assert!(len >= bytes, "{} has {len} bytes of {bytes}: output lost", log.display());
        }
        let _ = std::fs::remove_file(log);
        let _ = std::fs::remove_file(cpu_file);
        (elapsed, cpu.saturating_sub(program_cpu))
    }

    /// A syslog daemon that keeps up: counts the datagrams arriving at `path` until `done`,
    /// then returns how many came.
    fn syslog_listener(path: &Path) -> (std::thread::JoinHandle<u64>, std::sync::Arc<std::sync::atomic::AtomicBool>) {
        use std::sync::atomic::{AtomicBool, Ordering};
        let _ = std::fs::remove_file(path);
        let socket = std::os::unix::net::UnixDatagram::bind(path).unwrap();
        socket.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
        let done = std::sync::Arc::new(AtomicBool::new(false));
        let stop = done.clone();
        let thread = std::thread::spawn(move || {
            let (mut count, mut buf) = (0, [0u8; 2048]);
            loop {
                match socket.recv(&mut buf) {
                    Ok(_) => count += 1,
                    Err(_) if stop.load(Ordering::Relaxed) => return count,
                    Err(_) => {}
                }
            }
        });
        (thread, done)
    }

    /// PROGRAM's output through the supervisor: to a log file, against the same program writing
    /// to the file itself (target: ≥ 0.9× its throughput); and to syslog, one datagram per line.
    pub(super) fn relay_rows(config: &super::Config, tmpfs: &Path, rows: &mut Vec<Row>) {
        std::fs::create_dir_all(&config.dir).unwrap();
        let pidfile = tmpfs.join(format!("bench-relay-{}.pid", std::process::id()));
        let log = config.dir.join(format!("bench-relay-{}.log", std::process::id()));
        let bytes = config.relay_bytes;
        let reps = config.reps.min(5);
        let (mut ours, mut floor, mut cpu) = (Vec::new(), Vec::new(), Vec::new());
        relay_run(&log, &pidfile, bytes.min(64 << 20), true, None); // warm-up
        for rep in 0..reps {
            for supervised in if rep % 2 == 0 { [true, false] } else { [false, true] } {
                let (elapsed, supervisor_cpu) = relay_run(&log, &pidfile, bytes, supervised, None);
                if supervised {
                    ours.push(elapsed.as_nanos() as f64);
                    cpu.push(supervisor_cpu.as_secs_f64());
                } else {
                    floor.push(elapsed.as_nanos() as f64);
                }
            }
        }
        let mib = bytes as f64 / f64::from(1 << 20);
        let (ours, floor) = (Samples(ours), Samples(floor));
        let cpu = Samples(cpu).median();
        println!(
            "log relay, {mib:.0} MiB of 100-byte lines into {}: through the supervisor {:.0} MiB/s, \
             written directly {:.0} MiB/s; supervisor CPU {:.2} s ({:.2} ms per MiB)",
            config.dir.display(),
            mib / (ours.median() / 1e9),
            mib / (floor.median() / 1e9),
            cpu,
            cpu * 1e3 / mib
        );
        // Time per run: ≥ 0.9× the throughput is ≤ 1/0.9 the time.
        rows.push(Row {
            operation: format!("log relay vs direct write ({mib:.0} MiB)"),
            ours,
            floor,
            target: Some(1.0 / 0.9),
        });

        // Syslog: lines through the supervisor against PROGRAM sending them itself, one
        // non-blocking datagram per line.
        let socket = tmpfs.join(format!("bench-syslog-{}.sock", std::process::id()));
        let lines = (bytes / 100).min(1_000_000);
        let (mut ours, mut floor, mut cpu) = (Vec::new(), Vec::new(), Vec::new());
        let (mut delivered, mut floor_delivered) = (Vec::new(), Vec::new());
        for rep in 0..reps {
            for supervised in if rep % 2 == 0 { [true, false] } else { [false, true] } {
                if supervised {
                    let (listener, done) = syslog_listener(&socket);
                    let (elapsed, supervisor_cpu) = relay_run(&log, &pidfile, lines * 100, true, Some(&socket));
                    done.store(true, std::sync::atomic::Ordering::Relaxed);
                    delivered.push(listener.join().unwrap() as f64);
                    ours.push(elapsed.as_nanos() as f64 / lines as f64);
                    cpu.push(supervisor_cpu.as_nanos() as f64 / lines as f64);
                } else {
                    let (listener, done) = syslog_listener(&socket);
                    let (elapsed, _) = relay_run(&log, &pidfile, lines * 100, false, Some(&socket));
                    done.store(true, std::sync::atomic::Ordering::Relaxed);
                    floor_delivered.push(listener.join().unwrap() as f64);
                    floor.push(elapsed.as_nanos() as f64 / lines as f64);
                }
            }
        }
        let _ = std::fs::remove_file(&socket);
        let (ours, floor) = (Samples(ours), Samples(floor));
        println!(
            "syslog relay, {lines} lines: {:.0} lines/s through the supervisor ({:.1} % delivered, \
             the rest counted as dropped); {:.0} lines/s sent by the program itself ({:.1} % \
             delivered); supervisor CPU {} per line",
            1e9 / ours.median(),
            Samples(delivered).median() * 100.0 / lines as f64,
            1e9 / floor.median(),
            Samples(floor_delivered).median() * 100.0 / lines as f64,
            super::fmt_ns(Samples(cpu).median())
        );
        rows.push(Row {
            operation: "syslog relay vs the program's own sends (per line)".into(),
            ours,
            floor,
            target: Some(1.5),
        });
    }

    /// Waits (bounded) until `pidfile` names a process, and returns it.
    fn wait_for_pid(pidfile: &Path) -> u32 {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(pid) = pidfile::read_pid(pidfile) {
                return pid.get();
            }
            assert!(Instant::now() < deadline, "{} never named a process", pidfile.display());
            std::thread::sleep(Duration::from_micros(200));
        }
    }

    /// Runs a tool's command line; `false` if it could not run or failed.
    fn run(argv: &[&str]) -> bool {
        Command::new(argv[0])
            .args(&argv[1..])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    }

    /// One start and stop of `sleep 1000` with a tool: `start`, then (once the PID file names
    /// the process, and `ready` exists if given) `stop`, until the process the PID file named
    /// is gone — reaped here as soon as it exits (the benchmark is the subreaper), since a
    /// tool that polls for the exit would otherwise wait for a zombie. `None` if the tool
    /// failed, or its process was still there 5 s after `stop` (then KILLed).
    fn start_stop(start: &[&str], stop: &[&str], pidfile: &Path, ready: Option<&Path>) -> Option<Duration> {
        let begin = Instant::now();
        if !run(start) {
            return None;
        }
        let pid = wait_for_pid(pidfile);
        if let Some(ready) = ready {
            wait_for_pid(ready);
        }
        // Its session, read while it runs: what it leaves behind is found there afterwards.
        let session = session_of(pid);
        let (done, gone) = std::sync::mpsc::channel();
        let reaper = std::thread::spawn(move || {
            let _ = rustix::process::waitpid(Pid::from_raw(pid as i32), rustix::process::WaitOptions::empty());
            let _ = done.send(());
        });
        let stopped = run(stop) && gone.recv_timeout(Duration::from_secs(5)).is_ok();
        let elapsed = begin.elapsed();
        if !stopped {
            let _ = rustix::process::kill_process(Pid::from_raw(pid as i32).unwrap(), rustix::process::Signal::KILL);
        }
        reaper.join().unwrap();
        // What a tool left behind (libslack's `daemon` KILLed above leaves its client): every
        // process still in the session the tool started for it.
        if let Some(session) = session {
            kill_session(session);
        }
        let _ = std::fs::remove_file(pidfile);
        if let Some(ready) = ready {
            // Left behind by a tool that does not remove it; the next run must wait for its own.
            let _ = std::fs::remove_file(ready);
        }
        reap_all();
        stopped.then_some(elapsed)
    }

    /// The session of process `pid`, from `/proc/PID/stat`.
    fn session_of(pid: u32) -> Option<u32> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        stat[stat.rfind(')')? + 1..].split_whitespace().nth(3)?.parse().ok()
    }

    /// KILLs every process in `session` (the tools start their daemons in a new session, so
    /// nothing else is in it), so that no run leaves a process behind; never the bench's own
    /// session (a tool that did not start a new one).
    fn kill_session(session: u32) {
        let me = std::process::id();
        if session_of(me) == Some(session) {
            return;
        }
        let Ok(entries) = std::fs::read_dir("/proc") else { return };
        for other in entries.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok()) {
            if other != me && session_of(other) == Some(session) {
                let _ =
                    rustix::process::kill_process(Pid::from_raw(other as i32).unwrap(), rustix::process::Signal::KILL);
            }
        }
    }

    /// `daemonic start` + `stop` beside what users would pick instead: Debian's
    /// `start-stop-daemon` and libslack's `daemon`, each where installed (a row is skipped,
    /// saying why, without it).
    pub(super) fn alternatives_rows(config: &super::Config, dir: &Path, rows: &mut Vec<Row>) {
        let sleep = ["/usr/bin/sleep", "/bin/sleep"].into_iter().find(|p| Path::new(p).exists()).unwrap_or("sleep");
        let ours_pidfile = dir.join(format!("bench-alt-ours-{}.pid", std::process::id()));
        let ours = ours_pidfile.to_str().unwrap().to_owned();
        let cli = cli();
        let cli = cli.to_str().unwrap();
        let ours_start = [cli, "start", "--pidfile", &ours, "--", sleep, "1000"];
        let ours_stop = [cli, "stop", "--pidfile", &ours];
        let ssd_pidfile = dir.join(format!("bench-alt-ssd-{}.pid", std::process::id()));
        let ssd = ssd_pidfile.to_str().unwrap().to_owned();
        let libslack_dir = dir.join(format!("bench-alt-daemon-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&libslack_dir);
        let libslack = libslack_dir.to_str().unwrap().to_owned();
        // Label, the tool's program, its start and stop command lines, the PID file it writes,
        // and a file that exists once it has started the program (if it writes one).
        type Tool<'a> = (&'a str, &'a str, Vec<&'a str>, Vec<&'a str>, PathBuf, Option<PathBuf>);
        let tools: [Tool<'_>; 2] = [
            (
                "start-stop-daemon",
                "start-stop-daemon",
                vec![
                    "start-stop-daemon",
                    "--start",
                    "--background",
                    "--make-pidfile",
                    "--pidfile",
                    &ssd,
                    "--exec",
                    sleep,
                    "--",
                    "1000",
                ],
                vec!["start-stop-daemon", "--stop", "--pidfile", &ssd, "--retry", "TERM/5", "--remove-pidfile"],
                ssd_pidfile.clone(),
                None,
            ),
            (
                "libslack daemon",
                "daemon",
                vec!["daemon", "--name", "bench", "--pidfiles", &libslack, "--", sleep, "1000"],
                vec!["daemon", "--name", "bench", "--pidfiles", &libslack, "--stop"],
                libslack_dir.join("bench.pid"),
                // Its client's pid: written once `sleep` runs (a stop before that is lost).
                Some(libslack_dir.join("bench.clientpid")),
            ),
        ];
        for (label, program, start, stop, pidfile, ready) in &tools {
            let installed = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
                .chain([PathBuf::from("/sbin"), PathBuf::from("/usr/sbin")])
                .any(|dir| dir.join(program).exists());
            if !installed {
                println!("start + stop vs {label}: skipped, `{program}` is not installed");
                continue;
            }
            if start_stop(start, stop, pidfile, ready.as_deref()).is_none() {
                println!("start + stop vs {label}: skipped, `{program}` failed to start or stop `sleep`");
                continue;
            }
            let (mut a, mut b, mut failures) = (Vec::new(), Vec::new(), 0);
            let starts = (config.starts / 4).max(1);
            for _ in 0..config.reps {
                let (mut ours_total, mut theirs_total) = (Duration::ZERO, Duration::ZERO);
                for i in 0..starts {
                    for with_ours in if i % 2 == 0 { [true, false] } else { [false, true] } {
                        if with_ours {
                            ours_total +=
                                start_stop(&ours_start, &ours_stop, &ours_pidfile, None).expect("daemonic start/stop");
                        } else {
                            match start_stop(start, stop, pidfile, ready.as_deref()) {
                                Some(elapsed) => theirs_total += elapsed,
                                None => failures += 1,
                            }
                        }
                    }
                }
                a.push(ours_total.as_nanos() as f64 / f64::from(starts));
                b.push(theirs_total.as_nanos() as f64 / f64::from(starts));
            }
            if failures > 0 {
                println!("start + stop vs {label}: {failures} of its runs failed or did not stop (left out)");
            }
            rows.push(Row {
                operation: format!("`daemonic start`+`stop` vs {label}"),
                ours: Samples(a),
                floor: Samples(b),
                target: Some(1.0),
            });
        }
        let _ = std::fs::remove_dir_all(&libslack_dir);
    }
}
