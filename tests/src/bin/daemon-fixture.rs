//! Fixture daemon for the daemonic tests: sets up the launcher as asked, daemonizes, and in the
//! daemon prints facts only the daemon can observe (to its stdout, which tests redirect to a
//! file), then waits for a stop file and stops cleanly.
//!
//! Launcher-side output (stdout) is for the test; failures go to stderr with status 1.

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, IntoRawFd};
use std::path::PathBuf;
use std::process::exit;
use std::time::Duration;

use daemonic::{Daemon, DaemonError};

#[derive(Default)]
struct Args {
    daemon_args: Vec<(String, String)>,
    flags: Vec<String>,
    stop_file: Option<PathBuf>,
}

fn parse() -> Args {
    let mut args = Args::default();
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let Some(name) = arg.strip_prefix("--") else { panic!("unexpected argument {arg:?}") };
        match name {
            "pidfile" | "cwd" | "umask" | "stdout" | "stderr" | "stdout-path" | "user" | "group" | "chroot"
            | "fail-before-ready" | "ready-fd" | "ready-fifo" | "status" | "runtime-dir" => {
                args.daemon_args.push((name.to_owned(), it.next().expect("value")));
            }
            "stop-file" => args.stop_file = Some(it.next().expect("value").into()),
            flag => args.flags.push(flag.to_owned()),
        }
    }
    args
}

fn main() {
    let args = parse();
    let flag = |name: &str| args.flags.iter().any(|f| f == name);
    let mut daemon = Daemon::new();
    let mut kept = None;

    if flag("dirty-signals") {
        // The launcher blocks SIGTERM and ignores SIGHUP; the daemon must not inherit either.
        // SAFETY: plain signal-mask and disposition changes in a single-threaded process.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGTERM);
            libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
            libc::signal(libc::SIGHUP, libc::SIG_IGN);
        }
    }
    if flag("extra-fds") {
        // Two descriptors without CLOEXEC, as a sloppy parent would leave: one must be closed,
        // the other is kept.
        let leaked = std::fs::File::open("/dev/null").unwrap().into_raw_fd();
        let keep = std::fs::File::open("/dev/null").unwrap().into_raw_fd();
        clear_cloexec(leaked);
        clear_cloexec(keep);
        println!("leaked={leaked} kept={keep}");
        daemon = daemon.keep_fds([keep]);
        kept = Some(keep);
    }
    if flag("many-fds") {
        // 2^20 where allowed (CAP_SYS_RESOURCE); otherwise as high as the hard limit goes.
        use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
        let wanted = Rlimit { current: Some(1 << 20), maximum: Some(1 << 20) };
        if setrlimit(Resource::Nofile, wanted).is_err() {
            let hard = getrlimit(Resource::Nofile).maximum;
            setrlimit(Resource::Nofile, Rlimit { current: hard, maximum: hard }).expect("raise RLIMIT_NOFILE");
        }
        let limit = getrlimit(Resource::Nofile).current.unwrap_or(1 << 20).min(1 << 20) as i32;
        let file = std::fs::File::open("/dev/null").unwrap();
        let mut high = vec![limit / 5, limit / 2, limit - 1];
        if limit > 200_000 {
            high.extend([100_000, 200_000]);
        }
        for fd in &high {
            // SAFETY: dup2 onto an unused high descriptor number.
            assert_eq!(unsafe { libc::dup2(file.as_raw_fd(), *fd) }, *fd);
        }
        println!("RLIMIT_NOFILE={limit} high fds open: {high:?}");
    }
    if flag("ignore-sigchld") {
        // The kernel then reaps children itself: waitpid reports ECHILD.
        // SAFETY: a plain disposition change in a single-threaded process.
        unsafe { libc::signal(libc::SIGCHLD, libc::SIG_IGN) };
    }
    if flag("reap-sigchld") {
        // A handler that reaps every child before the library can.
        extern "C" fn reap_all(_: libc::c_int) {
            // SAFETY: waitpid is async-signal-safe.
            while unsafe { libc::waitpid(-1, std::ptr::null_mut(), libc::WNOHANG) } > 0 {}
        }
        // SAFETY: installs an async-signal-safe handler in a single-threaded process.
        unsafe { libc::signal(libc::SIGCHLD, reap_all as *const () as libc::sighandler_t) };
        // Make sure the handler ran before daemonize waits: a child that exits at once.
        let child = std::process::Command::new("true").spawn().unwrap();
        std::thread::sleep(Duration::from_millis(50));
        std::mem::forget(child);
    }
    if flag("announce") {
        // `println!` panics when stdout is a closed pipe: the launcher must still exit 0 and
        // leave the daemon's PID file alone.
        daemon = daemon.on_launched(|pid| println!("launched {pid}"));
    }
    if flag("threads") {
        std::thread::spawn(|| std::thread::sleep(Duration::from_secs(60)));
    }
    for (name, value) in &args.daemon_args {
        daemon = match name.as_str() {
            "pidfile" => daemon.pidfile(value),
            "cwd" => daemon.working_dir(value),
            "umask" => daemon.umask(u32::from_str_radix(value, 8).unwrap()),
            "stdout" => daemon.stdout(open_log(value)),
            "stderr" => daemon.stderr(open_log(value)),
            "stdout-path" => daemon.stdout_path(value),
            "user" => daemon.user(value.parse::<daemonic::Account>().unwrap()),
            "group" => daemon.group(value.parse::<daemonic::Account>().unwrap()),
            "chroot" => daemon.chroot(value),
            "runtime-dir" => daemon.runtime_directory(value),
            "ready-fd" => daemon.ready_fd(value.parse().unwrap()),
            "ready-fifo" => {
                // The supervisor's end is already open for reading, so this does not block.
                let fifo = std::fs::OpenOptions::new().write(true).open(value).unwrap();
                daemon.ready_fd(fifo.into_raw_fd())
            }
            _ => daemon,
        };
    }
    let manual =
        flag("manual") || flag("exit-before-ready") || args.daemon_args.iter().any(|(n, _)| n == "fail-before-ready");
    if manual {
        daemon = daemon.manual_readiness();
    }
    if flag("foreground") {
        daemon = daemon.foreground(true);
        println!("launcher pid={}", std::process::id());
        std::io::stdout().flush().unwrap();
    }

    let mut guard = match daemon.daemonize() {
        Ok(guard) => guard,
        Err(e) => {
            eprintln!("daemon-fixture: {}", daemonic_tests::error_chain(&e));
            exit(match e {
                DaemonError::PidFile { .. } => 3,
                _ => 1,
            });
        }
    };

    // In the daemon from here on.
    report_facts(kept);
    if flag("exit-before-ready") {
        exit(7);
    }
    if let Some((_, message)) = args.daemon_args.iter().find(|(n, _)| n == "fail-before-ready") {
        guard.fail(message).unwrap();
        exit(1);
    }
    if manual {
        std::thread::sleep(Duration::from_millis(100));
        println!("calling ready");
        std::io::stdout().flush().unwrap();
        guard.ready().unwrap();
    }
    if let Some((_, status)) = args.daemon_args.iter().find(|(n, _)| n == "status") {
        println!("status sent={}", guard.status(status).unwrap());
        std::io::stdout().flush().unwrap();
    }
    let stop_file = args.stop_file.unwrap_or_else(|| PathBuf::from("/nonexistent"));
    while !stop_file.exists() {
        std::thread::sleep(Duration::from_millis(5));
    }
    match guard.stop() {
        Ok(()) => println!("stop=ok"),
        Err(e) => println!("stop=err {}", daemonic_tests::error_chain(&e)),
    }
    std::io::stdout().flush().unwrap();
}

fn open_log(path: &str) -> std::fs::File {
    std::fs::OpenOptions::new().create(true).append(true).open(path).unwrap_or_else(|e| {
        eprintln!("daemon-fixture: cannot open {path}: {e}");
        exit(1)
    })
}

fn clear_cloexec(fd: i32) {
    // SAFETY: fd was just opened by this process.
    unsafe { libc::fcntl(fd, libc::F_SETFD, 0) };
}

/// Facts observable only from inside the daemon, one `key=value` per line on stdout.
fn report_facts(kept: Option<i32>) {
    let mut out = String::new();
    out.push_str(&format!("pid={}\n", std::process::id()));
    let notify = std::env::var("NOTIFY_SOCKET").unwrap_or_else(|_| "unset".into());
    out.push_str(&format!("notify_env={notify}\n"));
    // /dev/tty opens only with a controlling terminal.
    let tty = match std::fs::File::open("/dev/tty") {
        Ok(_) => "opened".to_owned(),
        Err(e) => format!("errno {}", e.raw_os_error().unwrap_or(0)),
    };
    out.push_str(&format!("tty={tty}\n"));
    let mut buf = [0u8; 16];
    let stdin = match std::io::stdin().read(&mut buf) {
        Ok(n) => format!("{n} bytes"),
        Err(e) => format!("error {e}"),
    };
    out.push_str(&format!("stdin={stdin}\n"));
    eprintln!("stderr line from the daemon");
    // SAFETY: a plain system call; in a daemon that dropped root it must fail.
    let regain = unsafe { libc::setuid(0) };
    out.push_str(&format!(
        "setuid0={}\n",
        if regain == 0 {
            "succeeded".to_owned()
        } else {
            format!("errno {}", std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
        }
    ));
    if let Some(fd) = kept {
        // SAFETY: only asks whether the descriptor is open.
        let open = unsafe { libc::fcntl(fd, libc::F_GETFD) } != -1;
        out.push_str(&format!("kept_open={open}\n"));
    }
    print!("{out}");
    std::io::stdout().flush().unwrap();
}
