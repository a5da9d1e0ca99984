//! The supervisor of `daemonic start`, with real processes: it holds the lock while PROGRAM
//! runs as its child with no descriptor of ours; a stop leaves nothing of a shell script
//! behind; restart policies, `--notify-await` and `--child-pidfile` do what the help says.
//! Linux (`/proc`); the tests marked so need root (PROGRAM runs as `nobody`).
#![cfg(target_os = "linux")]

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Command, ExitStatus};
use std::time::Instant;

use daemonic_tests::{
    become_subreaper, comm, is_root, open_fds, proc_stat_field, proc_status, process_exists, process_tree,
    processes_mentioning, program_of, reap, run, run_joined, sleeping, started_pid, wait_until, SharedBinary,
    StopOnDrop, TIMEOUT,
};

const CLI: &str = env!("CARGO_BIN_EXE_daemonic-command");
const NOTIFY_PROGRAM: &str = env!("CARGO_BIN_EXE_notify-program");

struct Service {
    dir: tempfile::TempDir,
}

impl Service {
    fn new() -> Service {
        become_subreaper();
        let dir = tempfile::tempdir().unwrap();
        // World-readable and -searchable, so that PROGRAM running as `nobody` can run scripts
        // and write its files here.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        Service { dir }
    }
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    fn pidfile(&self) -> PathBuf {
        self.path("service.pid")
    }
    fn log(&self) -> String {
        std::fs::read_to_string(self.path("service.log")).unwrap_or_default()
    }
    fn cli(&self, args: &[&str]) -> (ExitStatus, String) {
        let mut command = Command::new(CLI);
        command.args(args);
        run_joined(command)
    }
    fn start(&self, extra: &[&str], program: &[&str]) -> (ExitStatus, String) {
        let (pidfile, log) = (self.pidfile(), self.path("service.log"));
        let mut args = vec!["start", "--pidfile", pidfile.to_str().unwrap(), "--stdout", log.to_str().unwrap()];
        args.extend_from_slice(extra);
        args.push("--");
        args.extend_from_slice(program);
        self.cli(&args)
    }
    fn stop(&self) -> (ExitStatus, String) {
        self.cli(&["stop", "--pidfile", self.pidfile().to_str().unwrap(), "--timeout", "30"])
    }
    /// A shell script in the service's directory.
    fn script(&self, name: &str, body: &str) -> String {
        let path = self.path(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path.to_string_lossy().into_owned()
    }
}

/// Gone, or a zombie (a leftover its supervisor no longer reaps).
fn ended(pid: u32) -> bool {
    !process_exists(pid) || proc_stat_field(pid, 3).as_deref() == Some("Z")
}

/// A shell script without `exec` whose children outlive it unless someone ends them — one in
/// the background, one that left the process group and session (`setsid`), one in the
/// foreground — is started (as root and as `nobody`), stopped with nothing left, started again.
#[test]
fn a_shell_script_service_is_stopped_whole_and_starts_again() {
    let users: &[&[&str]] = if is_root() { &[&[], &["--user", "nobody"]] } else { &[&[]] };
    for user in users {
        let s = Service::new();
        let script = s.script("service.sh", "sleep 600 &\nsetsid sleep 601 &\nsleep 602\necho unreachable");
        for round in 0..2 {
            let supervisor = started_pid(&s.start(user, &[&script]));
            let _stop = StopOnDrop(supervisor);
            let mut tree = Vec::new();
            wait_until("the script and its three sleeps", || {
                tree = process_tree(supervisor);
                tree.iter().filter(|&&pid| comm(pid) == "sleep").count() == 3
            });
            assert_eq!(tree.len(), 5, "supervisor, sh and three sleeps: {tree:?}");
            if !user.is_empty() {
                for &pid in &tree[1..] {
                    assert_eq!(proc_status(pid, "Uid"), "65534\t65534\t65534\t65534", "{user:?} round {round}");
                }
            }
            let (status, said) = s.stop();
            assert!(status.success(), "{user:?} round {round}: {said}");
            assert_eq!(reap(supervisor).exit_status(), Some(0), "stopped on request: exit 0");
            for pid in tree {
                assert!(ended(pid), "{user:?} round {round}: pid {pid} ({}) survived the stop", comm(pid));
            }
            assert!(!s.pidfile().exists(), "the supervisor removed its PID file");
            assert!(!s.log().contains("unreachable"), "{}", s.log());
            // TERM ended them all: no escalation to KILL was needed.
            assert!(!s.log().contains("SIGKILL"), "{}", s.log());
        }
    }
}

/// PROGRAM runs as `nobody` and attacks with every descriptor it has (writing through each,
/// reopening each for writing through `/proc/self/fd`), the PID file's path, and its
/// supervisor (`kill -9 $PPID`). The PID file still names the supervisor, which still holds
/// it; with `--no-supervise`, the file still names PROGRAM, held through a read-only descriptor.
#[test]
fn a_program_running_as_nobody_cannot_change_the_pid_file() {
    if !is_root() {
        eprintln!("needs root (PROGRAM runs as nobody); skipped");
        return;
    }
    for supervised in [true, false] {
        let s = Service::new();
        let attack = format!(
            "for fd in $(ls /proc/$$/fd); do\n\
             \x20 (eval \"echo 4242 >&$fd\") 2>/dev/null\n\
             \x20 (echo 4242 > /proc/$$/fd/$fd) 2>/dev/null\n\
             \x20 (: > /proc/$$/fd/$fd) 2>/dev/null\n\
             done\n\
             (echo 4242 > {pidfile}) 2>/dev/null\n\
             kill -9 $PPID 2>/dev/null\n\
             exec sleep 600",
            pidfile = s.pidfile().display()
        );
        let script = s.script("attack.sh", &attack);
        let mut options = vec!["--user", "nobody"];
        if !supervised {
            options.push("--no-supervise");
        }
        let daemon = started_pid(&s.start(&options, &[&script]));
        let _stop = StopOnDrop(daemon);
        let program = if supervised { program_of(daemon) } else { daemon };
        wait_until("the attack to finish (exec sleep)", || comm(program) == "sleep" && sleeping(program));
        assert!(s.log().contains("4242"), "the attack ran (its writes to stdout landed)");
        assert_eq!(proc_status(program, "Uid"), "65534\t65534\t65534\t65534");
        assert_eq!(std::fs::read_to_string(s.pidfile()).unwrap(), format!("{daemon}\n"), "supervised: {supervised}");
        assert_eq!(pidfile::running_pid(s.pidfile()).unwrap().map(pidfile::Pid::get), Some(daemon));
        let fds = open_fds(program);
        if supervised {
            assert_eq!(fds.keys().copied().collect::<Vec<_>>(), [0, 1, 2], "only stdio reaches PROGRAM: {fds:?}");
            assert!(!ended(daemon), "nobody could not kill the root supervisor");
        } else {
            let pidfile = std::fs::canonicalize(s.pidfile()).unwrap();
            assert!(
                fds.values().any(|target| std::path::Path::new(target) == pidfile),
                "the lock's descriptor: {fds:?}"
            );
        }
        let (status, said) = s.stop();
        assert!(status.success(), "{said}");
        reap(daemon);
        assert!(!s.pidfile().exists());
    }
}

fn run_lines(path: &std::path::Path) -> Vec<f64> {
    std::fs::read_to_string(path).unwrap_or_default().lines().map(|l| l.parse().unwrap()).collect()
}

/// A crashing program under `--restart on-failure`: restarted with a doubling delay until the
/// limit, then the supervisor gives up, removes the PID file and exits with the status.
#[test]
fn restart_on_failure_backs_off_and_gives_up_at_the_limit() {
    let s = Service::new();
    let runs = s.path("runs");
    let crash = format!("date +%s.%N >> {}; exit 3", runs.display());
    let options = ["--restart", "on-failure", "--restart-delay", "0.2", "--restart-limit", "3/60"];
    let supervisor = started_pid(&s.start(&options, &["sh", "-c", &crash]));
    let _stop = StopOnDrop(supervisor);
    let status = reap(supervisor);
    assert_eq!(status.exit_status(), Some(3), "the program's status, after giving up");
    // Left, unlocked, with the state record beside it: `status` says "failed" (LSB 1).
    assert!(pidfile::pidfile_is_stale(s.pidfile()).unwrap(), "left stale when giving up");
    assert_eq!(s.cli(&["status", "--pidfile", s.pidfile().to_str().unwrap()]).0.code(), Some(1));
    let times = run_lines(&runs);
    assert_eq!(times.len(), 4, "the first run and three restarts: {times:?}");
    for (n, pair) in times.windows(2).enumerate() {
        let delay = 0.2 * f64::from(1 << n);
        assert!(
            pair[1] - pair[0] >= delay * 0.95,
            "restart {} after {:.3}s, before {delay}s",
            n + 1,
            pair[1] - pair[0]
        );
    }
    let log = s.log();
    for n in 1..=3 {
        assert!(log.contains(&format!("sh exited with status 3; restart {n} in ")), "{log}");
    }
    assert!(log.contains("restarted 3 times within 60s: giving up"), "{log}");
}

/// `--restart always` restarts a program that exits 0; `on-failure` does not; without
/// `--restart` the supervisor exits with the program's status; a stop during a restart delay
/// ends the service at once.
#[test]
fn restart_policies_follow_the_exit_status() {
    let s = Service::new();
    let runs = s.path("runs");
    let succeed = format!("date +%s.%N >> {}; exit 0", runs.display());
    let supervisor = started_pid(
        &s.start(&["--restart", "always", "--restart-delay", "0", "--restart-limit", "2/60"], &["sh", "-c", &succeed]),
    );
    let _stop = StopOnDrop(supervisor);
    assert_eq!(reap(supervisor).exit_status(), Some(1), "gave up: non-zero even after exit 0");
    assert_eq!(run_lines(&runs).len(), 3);

    std::fs::remove_file(&runs).unwrap();
    let supervisor = started_pid(&s.start(&["--restart", "on-failure"], &["sh", "-c", &succeed]));
    let _stop = StopOnDrop(supervisor);
    assert_eq!(reap(supervisor).exit_status(), Some(0));
    assert_eq!(run_lines(&runs).len(), 1, "a clean exit is not a failure");

    let supervisor = started_pid(&s.start(&[], &["sh", "-c", "exit 5"]));
    let _stop = StopOnDrop(supervisor);
    assert_eq!(reap(supervisor).exit_status(), Some(5), "the program's status");
    assert!(!s.pidfile().exists(), "the PID file goes with the program");
    assert!(s.log().contains("sh exited with status 5"), "{}", s.log());

    let supervisor = started_pid(&s.start(&["--restart", "always", "--restart-delay", "600"], &["true"]));
    let _stop = StopOnDrop(supervisor);
    wait_until("the first restart to be scheduled", || s.log().contains("restart 1 in 600s"));
    let (status, said) = s.stop();
    assert!(status.success(), "{said}");
    assert_eq!(reap(supervisor).exit_status(), Some(0));
}

/// `--notify-await`: the launcher exits 0 only after PROGRAM sent READY=1 (late, as `nobody`
/// too); exits 1 naming the cause when PROGRAM never does or exits first, leaving nothing.
#[test]
fn notify_await_waits_for_ready_and_reports_the_cause_otherwise() {
    let binary = SharedBinary::new(NOTIFY_PROGRAM);
    let program = binary.path().to_str().unwrap();
    let users: &[&[&str]] = if is_root() { &[&[], &["--user", "nobody"]] } else { &[&[]] };
    for user in users {
        let s = Service::new();
        let marker = s.path("ready-marker");
        let mut options = vec!["--notify-await"];
        options.extend_from_slice(user);
        let started = s.start(
            &options,
            &[program, "--status", "loading", "--ready-after-ms", "500", "--marker", marker.to_str().unwrap()],
        );
        let supervisor = started_pid(&started);
        let _stop = StopOnDrop(supervisor);
        assert!(marker.exists(), "{user:?}: the launcher returned before READY=1");
        let pid = program_of(supervisor);
        let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
        assert!(String::from_utf8_lossy(&environ).contains("NOTIFY_SOCKET=/"), "its own socket");
        wait_until("the status in the log", || s.log().contains("loading"));
        let (status, said) = s.stop();
        assert!(status.success(), "{said}");
        reap(supervisor);
    }

    let s = Service::new();
    let needle = s.dir.path().to_string_lossy().into_owned();
    let never =
        s.start(&["--notify-await", "--notify-timeout", "1"], &[program, "--status", "stuck", "--marker", &needle]);
    assert_eq!(never.0.code(), Some(1), "{}", never.1);
    assert!(never.1.contains("did not report READY=1 within 1s (last status: stuck)"), "{}", never.1);
    assert!(!s.pidfile().exists());
    wait_until("nothing left", || processes_mentioning(&needle).is_empty());

    // One that never reports and ignores TERM: KILLed after --timeout, the launcher still ends.
    let stubborn = format!("trap '' TERM; exec {program} --status stuck --marker {needle}");
    let never = s.start(&["--notify-await", "--notify-timeout", "1", "--timeout", "1"], &["sh", "-c", &stubborn]);
    assert_eq!(never.0.code(), Some(1), "{}", never.1);
    assert!(never.1.contains("did not report READY=1 within 1s"), "{}", never.1);
    assert!(!s.pidfile().exists());
    wait_until("nothing left", || processes_mentioning(&needle).is_empty());

    let first =
        s.start(&["--notify-await"], &[program, "--status", "config broken", "--exit", "3", "--marker", &needle]);
    assert_eq!(first.0.code(), Some(1), "{}", first.1);
    assert!(
        first.1.contains("exited with status 3 before it reported READY=1 (last status: config broken)"),
        "{}",
        first.1
    );
    assert!(!s.pidfile().exists());
    wait_until("nothing left", || processes_mentioning(&needle).is_empty());
}

/// `--child-pidfile` names PROGRAM while it runs (rewritten on restart) and is removed with it.
#[test]
fn child_pidfile_names_the_program_while_it_runs() {
    let s = Service::new();
    let child_pidfile = s.path("program.pid");
    let supervisor = started_pid(&s.start(&["--child-pidfile", child_pidfile.to_str().unwrap()], &["sleep", "600"]));
    let _stop = StopOnDrop(supervisor);
    let program = program_of(supervisor);
    assert_eq!(std::fs::read_to_string(&child_pidfile).unwrap(), format!("{program}\n"));
    assert_eq!(std::fs::read_to_string(s.pidfile()).unwrap(), format!("{supervisor}\n"));
    let (code, said) = s.cli(&["status", "--pidfile", s.pidfile().to_str().unwrap()]);
    assert!(code.success());
    let said = said.trim();
    assert!(said.starts_with(&format!("daemonic: running (pid {supervisor}; program pid {program}, up ")), "{said}");
    let (status, said) = s.stop();
    assert!(status.success(), "{said}");
    reap(supervisor);
    assert!(!child_pidfile.exists());
}

/// `--notify-fd` is written once PROGRAM was executed — never when the `exec` fails.
#[test]
fn notify_fd_is_written_only_after_exec() {
    use std::io::Read;
    use std::os::fd::AsRawFd;
    use std::os::unix::process::CommandExt;
    let s = Service::new();
    for (program, expect_ready) in [("sleep", true), ("no-such-program-here", false)] {
        let (mut read_end, write_end) = {
            let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).unwrap();
            (std::fs::File::from(r), w)
        };
        let mut command = Command::new(CLI);
        let pidfile = s.pidfile();
        command.args(["start", "--pidfile", pidfile.to_str().unwrap(), "--notify-fd", "3", "--", program, "600"]);
        let raw = write_end.as_raw_fd();
        // SAFETY: dup2 between fork and exec, on descriptors this process owns.
        unsafe {
            command.pre_exec(move || {
                if libc::dup2(raw, 3) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            })
        };
        let (status, out, err) = run(command);
        drop(write_end);
        let mut said = String::new();
        read_end.read_to_string(&mut said).unwrap();
        assert_eq!(status.success(), expect_ready, "{out}{err}");
        assert_eq!(said, if expect_ready { "\n" } else { "" }, "{program}");
        if expect_ready {
            let supervisor = started_pid(&(status, out));
            let _stop = StopOnDrop(supervisor);
            let program = program_of(supervisor);
            wait_until("sleep to be loaded and sleeping", || sleeping(program));
            assert!(!open_fds(program).contains_key(&3), "the readiness descriptor never reaches PROGRAM");
            assert!(s.stop().0.success());
            reap(supervisor);
        }
    }
}

/// Under a service manager (`--foreground` with `NOTIFY_SOCKET`), the supervisor tells it
/// READY=1 once PROGRAM did, passes PROGRAM's later notifications on, and STOPPING=1 on stop.
#[test]
fn the_outer_service_manager_hears_ready_status_and_stopping() {
    let s = Service::new();
    let socket_path = s.path("outer.sock");
    let outer = std::os::unix::net::UnixDatagram::bind(&socket_path).unwrap();
    outer.set_read_timeout(Some(TIMEOUT)).unwrap();
    let pidfile = s.pidfile();
    let mut foreground = Command::new(CLI)
        .args(["start", "--foreground", "--notify-await", "--pidfile", pidfile.to_str().unwrap(), "--"])
        .args([NOTIFY_PROGRAM, "--ready-after-ms", "100"])
        .env("NOTIFY_SOCKET", &socket_path)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let _stop = StopOnDrop(foreground.id());
    let mut heard = Vec::new();
    let start = Instant::now();
    while !heard.iter().any(|m: &String| m.contains("STATUS=serving")) {
        assert!(start.elapsed() < TIMEOUT, "heard {heard:?}");
        let mut buffer = [0u8; 4096];
        let n = outer.recv(&mut buffer).unwrap();
        heard.push(String::from_utf8_lossy(&buffer[..n]).into_owned());
    }
    assert_eq!(heard[0], "READY=1", "{heard:?}");
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(foreground.id() as i32).unwrap(),
        rustix::process::Signal::TERM,
    )
    .unwrap();
    let mut buffer = [0u8; 4096];
    let n = outer.recv(&mut buffer).unwrap();
    assert_eq!(&buffer[..n], b"STOPPING=1");
    let status = foreground.wait().unwrap();
    assert_eq!(status.code(), Some(0));
}

/// `--env`, `--clear-env`, `--nice`, and the default umask (the caller's, never 0), as PROGRAM
/// sees them in `/proc`.
#[test]
fn program_environment_nice_value_and_umask() {
    let s = Service::new();
    let mut command = Command::new(CLI);
    let (pidfile, log) = (s.pidfile(), s.path("service.log"));
    command
        .args(["start", "--pidfile", pidfile.to_str().unwrap(), "--stdout", log.to_str().unwrap()])
        .args(["--clear-env", "--env", "GREETING=hello world", "--env", "EMPTY=", "--nice", "7", "--"])
        .args(["sleep", "600"])
        .env("SECRET", "must not leak");
    // SAFETY: umask between fork and exec.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut command, || {
            rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o027));
            Ok(())
        })
    };
    let (status, out, err) = run(command);
    let supervisor = started_pid(&(status, format!("{out}{err}")));
    let _stop = StopOnDrop(supervisor);
    let program = program_of(supervisor);
    let environ = std::fs::read(format!("/proc/{program}/environ")).unwrap();
    let mut variables: Vec<&[u8]> = environ.split(|&b| b == 0).filter(|v| !v.is_empty()).collect();
    variables.sort();
    assert_eq!(variables, [&b"EMPTY="[..], b"GREETING=hello world"], "only --env variables");
    assert_eq!(proc_stat_field(program, 19).as_deref(), Some("7"), "nice value");
    assert_eq!(proc_status(program, "Umask"), "0027", "the caller's umask");
    // The supervisor ignores SIGPIPE and blocks nothing; PROGRAM gets every default back.
    assert_eq!(proc_status(program, "SigIgn"), "0000000000000000");
    assert_eq!(proc_status(program, "SigBlk"), "0000000000000000");
    assert!(s.stop().0.success());
    reap(supervisor);
}

/// PROGRAM's process starts on the supervisor's CPU (the supervisor pins itself for the
/// `clone`, on Linux), and both end with the caller's CPU affinity, after a restart too.
#[test]
fn program_and_supervisor_keep_the_callers_cpu_affinity() {
    let s = Service::new();
    let caller = proc_status(std::process::id(), "Cpus_allowed_list");
    let script = s.script("restarts", "echo started >> \"$(dirname \"$0\")/runs\"; sleep 600");
    let (status, out) = s.start(&["--restart", "always", "--restart-delay", "0"], &[&script]);
    let supervisor = started_pid(&(status, out));
    let _stop = StopOnDrop(supervisor);
    let runs = || std::fs::read_to_string(s.path("runs")).unwrap_or_default().lines().count();
    for round in 1..=2 {
        wait_until("PROGRAM's start", || runs() == round);
        let program = program_of(supervisor);
        assert_eq!(proc_status(program, "Cpus_allowed_list"), caller, "PROGRAM, start {round}");
        // The supervisor gives its own back once `clone` returns, which PROGRAM's first
        // output may precede: waited for (a supervisor left pinned times out here).
        wait_until("the supervisor's own affinity back", || proc_status(supervisor, "Cpus_allowed_list") == caller);
        rustix::process::kill_process(
            rustix::process::Pid::from_raw(program as i32).unwrap(),
            rustix::process::Signal::TERM,
        )
        .unwrap();
    }
    wait_until("the third start", || runs() == 3);
    assert!(s.stop().0.success());
    reap(supervisor);
}

/// `daemonic signal HUP` reaches PROGRAM through its supervisor and the service keeps running;
/// against a stopped service it says so with LSB's 7. `status` usage errors are LSB's 4.
#[test]
fn signal_reaches_the_program_and_the_service_keeps_running() {
    let s = Service::new();
    let script = s.script("reload.sh", "trap 'echo reloaded' HUP\nwhile :; do sleep 0.05; done");
    let supervisor = started_pid(&s.start(&[], &[&script]));
    let _stop = StopOnDrop(supervisor);
    let program = program_of(supervisor);
    let pidfile = s.pidfile();
    let (status, said) = s.cli(&["signal", "--pidfile", pidfile.to_str().unwrap(), "HUP"]);
    assert!(status.success(), "{said}");
    assert!(said.contains(&format!("sent SIGHUP to pid {supervisor}")), "{said}");
    wait_until("the program's reload", || s.log().contains("reloaded"));
    assert!(!ended(program) && !ended(supervisor), "the service keeps running");
    assert!(s.stop().0.success());
    reap(supervisor);
    let (status, said) = s.cli(&["signal", "--pidfile", pidfile.to_str().unwrap(), "USR1"]);
    assert_eq!(status.code(), Some(7), "{said}");
    let (status, said) = s.cli(&["signal", "--pidfile", pidfile.to_str().unwrap(), "NOSUCHSIG"]);
    assert_eq!(status.code(), Some(2), "{said}");
    let (status, said) = s.cli(&["status", "--bogus"]);
    assert_eq!(status.code(), Some(4), "{said}");
}

/// `restart` takes stop's options: `--signal` to stop with, `--timeout` and `--kill` for a
/// service that ignores the stop signal.
#[test]
fn restart_takes_the_stop_options() {
    let s = Service::new();
    let pidfile = s.pidfile();
    let pidfile = pidfile.to_str().unwrap();
    // Stops on INT only.
    // The marker says the traps are set (a signal before them would end the script).
    let marker = s.path("trapped");
    let body = format!("trap '' TERM\ntrap 'exit 0' INT\n: > {}\nwhile :; do sleep 0.05; done", marker.display());
    let int_only = s.script("int.sh", &body);
    let first = started_pid(&s.start(&["--timeout", "60"], &[&int_only]));
    let _first = StopOnDrop(first);
    wait_until("the script's traps", || marker.exists());
    std::fs::remove_file(&marker).unwrap();
    let (status, said) = s.cli(&["restart", "--pidfile", pidfile, "--signal", "INT", "--", &int_only]);
    let second = started_pid(&(status, said.clone()));
    let _second = StopOnDrop(second);
    wait_until("the script's traps", || marker.exists());
    assert!(said.contains(&format!("stopped (pid {first})")), "{said}");
    reap(first);
    // TERM is ignored and the supervisor waits 60 s before KILL: only --kill ends it in time,
    // through the supervisor, which KILLs the tree and exits (it is not KILLed itself).
    let (status, said) = s.cli(&["restart", "--pidfile", pidfile, "--timeout", "1", "--kill", "--", &int_only]);
    // Guarded before anything else is asserted: a failed assertion must not leak the service.
    let third = started_pid(&(status, said.clone()));
    let _third = StopOnDrop(third);
    assert!(said.contains("asking it to KILL the service") && !said.contains("sending KILL"), "{said}");
    assert!(said.contains(&format!("stopped (pid {second})")), "{said}");
    reap(second);
    assert_ne!(third, second);
    let (status, said) = s.cli(&["stop", "--pidfile", pidfile, "--signal", "INT"]);
    assert!(status.success(), "{said}");
    reap(third);
}

/// Copies `binary` and the shared libraries `ldd` lists into `root`, so that it runs there.
fn install_into(root: &std::path::Path, binary: &str) {
    let (status, out, _) = run({
        let mut ldd = Command::new("ldd");
        ldd.arg(binary);
        ldd
    });
    assert!(status.success(), "ldd {binary}");
    let libraries = out.split_whitespace().filter(|word| word.starts_with('/')).map(str::to_owned);
    for path in libraries.chain([binary.to_owned()]) {
        let target = root.join(path.trim_start_matches('/'));
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(&path, &target).unwrap();
    }
}

/// A directory to chroot into, `jail` in the service's directory, with `sleep` installed (its
/// path returned beside the jail's) and a directory `/inside-the-jail` that exists only there.
fn jail(s: &Service) -> (PathBuf, PathBuf) {
    let root = s.path("jail");
    std::fs::create_dir_all(root.join("inside-the-jail")).unwrap();
    let sleep = std::fs::canonicalize("/bin/sleep").unwrap();
    install_into(&root, sleep.to_str().unwrap());
    (root, sleep)
}

/// `--chroot`: PROGRAM runs inside the directory (`/proc/PID/root`), `--chdir` inside it (a
/// relative one too); the supervisor stays outside and removes the PID file as usual.
#[test]
fn chroot_runs_the_program_inside() {
    if !is_root() {
        eprintln!("needs root (chroot); skipped");
        return;
    }
    let s = Service::new();
    let (root, sleep) = jail(&s);
    // A --chdir that does not exist inside the jail is a clear error, before anything starts.
    let missing = s.start(&["--chroot", root.to_str().unwrap(), "--chdir", "/nowhere"], &["sleep", "600"]);
    assert_eq!(missing.0.code(), Some(1), "{}", missing.1);
    assert!(missing.1.contains("--chdir /nowhere: not a directory inside --chroot"), "{}", missing.1);
    assert!(!s.pidfile().exists());
    // A relative --chdir is taken from the new root: after `chroot` the working directory is
    // still the old root's, where it would resolve outside the jail.
    let supervisor =
        started_pid(&s.start(
            &["--chroot", root.to_str().unwrap(), "--chdir", "inside-the-jail"],
            &[sleep.to_str().unwrap(), "600"],
        ));
    let _stop = StopOnDrop(supervisor);
    let program = program_of(supervisor);
    assert_eq!(std::fs::read_link(format!("/proc/{program}/root")).unwrap(), root);
    assert_eq!(std::fs::read_link(format!("/proc/{program}/cwd")).unwrap(), root.join("inside-the-jail"));
    assert_eq!(std::fs::read_link(format!("/proc/{supervisor}/root")).unwrap(), PathBuf::from("/"));
    assert!(s.stop().0.success());
    reap(supervisor);
    assert!(!s.pidfile().exists());
}

/// `--no-supervise --chroot`: the daemon hands its lock to a read-only descriptor outside the
/// new root (where the PID file's directory and `/proc` are), then changes root, changes to
/// `--chdir` inside it, drops privileges and becomes PROGRAM, which holds the lock. (It
/// could never start before: the hand-over ran inside the new root.)
#[test]
fn chroot_without_a_supervisor_hands_the_lock_over_first() {
    if !is_root() {
        eprintln!("needs root (chroot); skipped");
        return;
    }
    let s = Service::new();
    let (root, sleep) = jail(&s);
    let pidfile = s.pidfile();
    let mut command = Command::new(CLI);
    command.args(["start", "--no-supervise", "--pidfile", pidfile.to_str().unwrap(), "--user", "nobody"]);
    // Relative: taken from the new root (as in `chroot_runs_the_program_inside`).
    command.args(["--chroot", root.to_str().unwrap(), "--chdir", "inside-the-jail", "--"]);
    command.args([sleep.to_str().unwrap(), "600"]);
    let program = started_pid(&run_joined(command));
    let _stop = StopOnDrop(program);
    assert_eq!(std::fs::read_link(format!("/proc/{program}/root")).unwrap(), root);
    assert_eq!(std::fs::read_link(format!("/proc/{program}/cwd")).unwrap(), root.join("inside-the-jail"));
    assert_eq!(proc_status(program, "Uid").split_whitespace().collect::<Vec<_>>(), ["65534"; 4]);
    assert_eq!(std::fs::read_to_string(&pidfile).unwrap(), format!("{program}\n"));
    // PROGRAM holds the lock, on a read-only descriptor of the PID file: its only one beside
    // its standard streams.
    let locks = std::fs::read_to_string("/proc/locks").unwrap();
    assert!(locks.lines().any(|l| l.contains("FLOCK") && l.split_whitespace().nth(4) == Some(&program.to_string())));
    let fds = open_fds(program);
    assert_eq!(fds.len(), 4, "{fds:?}");
    let (held, target) = fds.iter().find(|(fd, _)| **fd > 2).unwrap();
    assert_eq!(target, pidfile.to_str().unwrap());
    let flags = std::fs::read_to_string(format!("/proc/{program}/fdinfo/{held}")).unwrap();
    let flags = flags.lines().find_map(|l| l.strip_prefix("flags:")).unwrap().trim().to_owned();
    assert_eq!(u32::from_str_radix(&flags, 8).unwrap() & 0o3, 0, "read-only ({flags})");
    assert!(s.stop().0.success());
    reap(program);
    assert!(!pidfile.exists());
}

/// A `/proc` that is not procfs (here a tmpfs mounted over it in a mount namespace, with FIFOs
/// planted as `self/fd/N`) is refused before anything in it is opened: `start --no-supervise`
/// reopens the PID file through `/proc/self/fd` and hung there, opening a FIFO, with the PID
/// file left behind.
#[test]
fn a_proc_that_is_not_procfs_is_refused_not_opened() {
    if !is_root() {
        eprintln!("needs root (a mount namespace); skipped");
        return;
    }
    let s = Service::new();
    let pidfile = s.pidfile();
    let script = format!(
        "mount -t tmpfs none /proc && mkdir -p /proc/self/fd /proc/self/task/1 && \
         for i in $(seq 3 20); do mkfifo /proc/self/fd/$i; done && \
         exec {CLI} start --no-supervise --pidfile {} -- sleep 600",
        pidfile.display()
    );
    /// Kills what the test left (the daemon hanging in its `open`, before the fix) even when
    /// an assertion fails.
    struct KillMentioning(String);
    impl Drop for KillMentioning {
        fn drop(&mut self) {
            for pid in processes_mentioning(&self.0) {
                if let Some(pid) = rustix::process::Pid::from_raw(pid as i32) {
                    let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
                }
            }
        }
    }
    let _leftovers = KillMentioning(pidfile.to_str().unwrap().to_owned());
    let mut command = Command::new("timeout");
    command.args(["--kill-after=1", "10", "unshare", "--mount", "sh", "-c", &script]);
    let (status, said) = run_joined(command);
    assert_eq!(status.code(), Some(1), "{said}");
    assert!(said.contains("read-only descriptor: open: /proc is not procfs"), "{said}");
    assert!(!pidfile.exists());
}

/// `--syslog`: one datagram per line of PROGRAM's output (stdout and stderr), with the tag,
/// facility and priority as set and PROGRAM's pid; a long line in parts, nothing lost.
#[test]
fn syslog_gets_one_message_per_line_with_tag_facility_and_priority() {
    let s = Service::new();
    let socket_path = s.path("log.sock");
    let syslog = std::os::unix::net::UnixDatagram::bind(&socket_path).unwrap();
    syslog.set_read_timeout(Some(TIMEOUT)).unwrap();
    let long = "x".repeat(2500);
    let script = format!("echo one\necho two >&2\necho {long}\nprintf 'no newline'\nexec sleep 600");
    let supervisor = started_pid(&s.start(
        &[
            "--syslog-socket",
            socket_path.to_str().unwrap(),
            "--syslog-tag",
            "web",
            "--syslog-facility",
            "local3",
            "--syslog-priority",
            "info",
        ],
        &["sh", "-c", &script],
    ));
    let _stop = StopOnDrop(supervisor);
    let program = program_of(supervisor);
    let header = format!("<{}>web[{program}]: ", 19 * 8 + 6);
    let mut messages = Vec::new();
    while messages.len() < 5 {
        let mut buffer = [0u8; 2048];
        let n = syslog.recv(&mut buffer).unwrap();
        let message = String::from_utf8_lossy(&buffer[..n]).into_owned();
        assert!(message.len() <= 1024, "a datagram of {} bytes", message.len());
        messages.push(message.strip_prefix(&header).unwrap_or_else(|| panic!("{message:?}")).to_owned());
    }
    assert_eq!(messages[..2], ["one", "two"]);
    assert!(messages[2..5].iter().all(|part| part.bytes().all(|b| b == b'x')), "{messages:?}");
    assert_eq!(messages[2..5].concat(), long, "the long line, in parts, nothing lost");
    assert!(s.stop().0.success());
    reap(supervisor);
    // The unterminated last line is sent when the service ends.
    let mut buffer = [0u8; 2048];
    let n = syslog.recv(&mut buffer).unwrap();
    assert_eq!(String::from_utf8_lossy(&buffer[..n]), format!("{header}no newline"));
}

/// `--syslog` where no syslog daemon receives (no socket, or a socket nobody reads): the
/// service starts all the same (a syslog daemon may come later), and the launcher warns that
/// lines are lost until then; `--quiet` keeps the warning too.
#[test]
fn syslog_without_a_listener_starts_with_a_warning() {
    let s = Service::new();
    let missing = s.path("no-such.sock");
    let unread = s.path("unread.sock");
    let listener = std::os::unix::net::UnixDatagram::bind(&unread).unwrap();
    drop(listener); // The path stays, a socket no one has open: "Connection refused".
    for (socket, cause) in [(&missing, "No such file or directory"), (&unread, "Connection refused")] {
        for quiet in [false, true] {
            let mut options = vec!["--syslog-socket", socket.to_str().unwrap()];
            if quiet {
                options.push("--quiet");
            }
            let (status, said) = s.start(&options, &["sleep", "600"]);
            assert!(status.success(), "{said}");
            let warning = format!(
                "daemonic: warning: no syslog daemon receives on {}: {cause}; PROGRAM's lines are lost until one does\n",
                socket.display()
            );
            assert_eq!(said.contains(&warning), !quiet, "quiet {quiet}: {said}");
            let supervisor = pidfile::read_pid(s.pidfile()).unwrap().get();
            let _stop = StopOnDrop(supervisor);
            assert_eq!(comm(program_of(supervisor)), "sleep");
            assert!(s.stop().0.success());
            reap(supervisor);
        }
    }
}

/// `daemonic reopen` after `mv` of the log: new lines go to a new file, nothing is lost or
/// doubled across the reopen; a log file is created 0644 whatever the umask.
#[test]
fn reopen_after_rotation_loses_nothing() {
    let s = Service::new();
    let log = s.path("service.log");
    let script = "trap 'echo reloading' HUP\ni=0\nwhile :; do i=$((i+1)); echo line $i; sleep 0.005; done";
    let mut command = Command::new(CLI);
    command.args(["start", "--pidfile", s.pidfile().to_str().unwrap(), "--stdout", log.to_str().unwrap()]);
    command.args(["--umask", "077", "--", "sh", "-c", script]);
    // SAFETY: umask between fork and exec.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut command, || {
            rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
            Ok(())
        })
    };
    let (status, out, err) = run(command);
    let supervisor = started_pid(&(status, format!("{out}{err}")));
    let _stop = StopOnDrop(supervisor);
    use std::os::unix::fs::MetadataExt;
    assert_eq!(std::fs::metadata(&log).unwrap().mode() & 0o777, 0o644, "0644 whatever the umask");
    wait_until("some lines", || s.log().lines().count() > 20);
    let rotated = s.path("service.log.1");
    std::fs::rename(&log, &rotated).unwrap();
    let (status, said) = s.cli(&["reopen", "--pidfile", s.pidfile().to_str().unwrap()]);
    assert!(status.success(), "{said}");
    wait_until("lines in the new file", || s.log().lines().count() > 20);
    // Again, with SIGHUP to the supervisor: the same, and PROGRAM hears it too.
    let rotated_again = s.path("service.log.2");
    std::fs::rename(&log, &rotated_again).unwrap();
    let (status, said) = s.cli(&["signal", "--pidfile", s.pidfile().to_str().unwrap(), "HUP"]);
    assert!(status.success(), "{said}");
    wait_until("lines in the third file", || s.log().lines().count() > 20);
    assert!(s.stop().0.success());
    reap(supervisor);
    let first = std::fs::read_to_string(&rotated).unwrap();
    let second = std::fs::read_to_string(&rotated_again).unwrap();
    assert!(!first.contains("reloading"), "`reopen` does not signal PROGRAM");
    let third = s.log();
    assert!(second.contains("reloading") || third.contains("reloading"), "HUP reached PROGRAM");
    let numbers: Vec<u64> = first
        .lines()
        .chain(second.lines())
        .chain(third.lines())
        .filter_map(|l| l.strip_prefix("line ").and_then(|n| n.parse().ok()))
        .collect();
    assert!(numbers.len() > 60);
    for (i, n) in numbers.iter().enumerate() {
        assert_eq!(*n, i as u64 + 1, "a line lost or doubled around {i}");
    }
}

/// A program that writes faster than its output can be forwarded (`yes` into syslog, one
/// datagram per line, to a socket nobody listens on) cannot keep its supervisor from a stop:
/// the relay forwards in bounded chunks and answers signals in between.
#[test]
fn a_flooding_program_is_still_stopped() {
    let s = Service::new();
    let nowhere = s.path("no-syslog-here.sock");
    let supervisor = started_pid(&s.start(&["--syslog-socket", nowhere.to_str().unwrap()], &["yes"]));
    let _stop = StopOnDrop(supervisor);
    let program = program_of(supervisor);
    let (status, said) = s.stop();
    assert!(status.success(), "{said}");
    assert!(said.contains(&format!("stopped (pid {supervisor})")), "{said}");
    assert_eq!(reap(supervisor).exit_status(), Some(0));
    assert!(ended(program));
}

/// PROGRAM's output reaches a log file through the supervisor's large reads and writes, yet
/// the supervisor's own lines still start on a line of their own after an unterminated last
/// line of PROGRAM's.
#[test]
fn the_supervisors_lines_start_on_their_own_line() {
    let s = Service::new();
    let program = s.script("service.sh", "head -c 300000 /dev/zero | tr '\\0' x\nprintf 'no newline'");
    let supervisor = started_pid(&s.start(&[], &[&program]));
    let _stop = StopOnDrop(supervisor);
    assert_eq!(reap(supervisor).exit_status(), Some(0));
    let log = s.log();
    assert!(log.starts_with(&"x".repeat(300_000)), "PROGRAM's output lost");
    let after = &log[log.find("no newline").expect("the last line lost") + "no newline".len()..];
    assert!(after.starts_with("\ndaemonic["), "the supervisor's line does not start a line: {after:?}");
}
