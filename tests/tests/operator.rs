//! The command as an operator meets it (issue 21): messages that name the step that failed,
//! exit codes for init scripts, the defaults where it runs. Real processes; Linux (`/proc`);
//! the tests marked so need root (they run the command or PROGRAM as `nobody`).
#![cfg(target_os = "linux")]

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, ExitStatus};

use daemonic_tests::{
    become_subreaper, is_root, program_of, reap, run, run_joined, started_pid, wait_until, StopOnDrop,
};

const CLI: &str = env!("CARGO_BIN_EXE_daemonic-command");

struct Service {
    dir: tempfile::TempDir,
}

impl Service {
    fn new() -> Service {
        become_subreaper();
        let dir = tempfile::tempdir().unwrap();
        // Searchable and writable by `nobody` (the command runs as nobody in some tests).
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o1777)).unwrap();
        Service { dir }
    }
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    fn pidfile(&self) -> String {
        self.path("service.pid").to_string_lossy().into_owned()
    }
    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).unwrap_or_default()
    }
    fn cli(&self, args: &[&str]) -> (ExitStatus, String) {
        self.cli_as(args, None)
    }
    /// The command, as `nobody` when `as_nobody` (std's `uid`/`gid`, no fork here).
    fn cli_as(&self, args: &[&str], uid: Option<u32>) -> (ExitStatus, String) {
        let mut command = Command::new(CLI);
        command.args(args);
        if let Some(uid) = uid {
            command.uid(uid).gid(uid);
        }
        run_joined(command)
    }
    fn script(&self, name: &str, body: &str) -> String {
        let path = self.path(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path.to_string_lossy().into_owned()
    }
}

/// A step between fork and exec that fails is named: the privilege drop, the nice value, the
/// chroot — not "cannot execute PROGRAM".
#[test]
fn a_failed_step_before_exec_is_named() {
    if !is_root() {
        eprintln!("skipped: needs root (runs the command as nobody)");
        return;
    }
    let s = Service::new();
    let pidfile = s.pidfile();
    let (status, out) = s.cli_as(&["start", "--pidfile", &pidfile, "--user", "root", "--", "sleep", "60"], Some(65534));
    assert_eq!(status.code(), Some(1), "{out}");
    assert!(out.contains("daemonic: cannot switch to user root: Operation not permitted"), "{out}");
    assert!(!out.contains("cannot execute"), "{out}");
    assert!(!s.path("service.pid").exists());

    let (status, out) = s.cli_as(&["start", "--pidfile", &pidfile, "--nice", "-5", "--", "sleep", "60"], Some(65534));
    assert_eq!(status.code(), Some(1), "{out}");
    assert!(out.contains("daemonic: cannot set nice value -5: Permission denied"), "{out}");

    let root = s.path("jail");
    std::fs::create_dir(&root).unwrap();
    let (status, out) =
        s.cli(&["start", "--pidfile", &pidfile, "--chroot", root.to_str().unwrap(), "--", "/no/such/program"]);
    assert_eq!(status.code(), Some(1), "{out}");
    assert!(out.contains("daemonic: cannot execute /no/such/program: No such file or directory"), "{out}");
    // Nothing is left beside the PID file either: the state record, written while PROGRAM's
    // process was exec'ing, went with it.
    for name in ["service.pid", "service.pid.state", "service.pid.tree"] {
        assert!(!s.path(name).exists(), "{name} left after a failed start");
    }
    assert_eq!(s.cli(&["status", "--pidfile", &pidfile]).0.code(), Some(3));
}

/// PROGRAM's unterminated last line is ended before the supervisor's own line, and one
/// restart is "1 time".
#[test]
fn the_supervisors_line_never_joins_an_unterminated_one() {
    let s = Service::new();
    let script = s.script("partial.sh", "printf partial\nexit 3");
    let log = s.path("service.log");
    let (status, out) = s.cli(&[
        "start",
        "--pidfile",
        &s.pidfile(),
        "--stdout",
        log.to_str().unwrap(),
        "--restart",
        "on-failure",
        "--restart-delay",
        "0.05",
        "--restart-limit",
        "1/60",
        "--",
        &script,
    ]);
    let supervisor = started_pid(&(status, out));
    let _stop = StopOnDrop(supervisor);
    // It exits by itself (reaped here: the test is its subreaper).
    let _ = reap(supervisor);
    let text = s.read("service.log");
    assert!(!text.contains("partialdaemonic"), "{text}");
    assert!(text.contains("partial\ndaemonic["), "{text}");
    assert!(text.contains("restarted 1 time within 60s: giving up"), "{text}");
}

/// `--pidfile ""` is a usage error, not "is a directory".
#[test]
fn an_empty_pidfile_is_a_usage_error() {
    let s = Service::new();
    for args in
        [&["start", "--pidfile", "", "--", "true"][..], &["stop", "--pidfile", ""], &["signal", "--pidfile", "", "HUP"]]
    {
        let (status, out) = s.cli(args);
        assert_eq!(status.code(), Some(2), "{args:?}: {out}");
        assert!(out.contains("--pidfile needs a path, not an empty string"), "{args:?}: {out}");
    }
    let (status, out) = s.cli(&["status", "--pidfile", ""]);
    assert_eq!(status.code(), Some(4), "{out}");
}

/// `--user 54321`, an id without a passwd entry, runs PROGRAM as that uid with the group of
/// the same number and no supplementary groups, as start-stop-daemon's --chuid does.
#[test]
fn a_numeric_user_without_a_passwd_entry_is_used_as_is() {
    if !is_root() {
        eprintln!("skipped: needs root");
        return;
    }
    let s = Service::new();
    let id = s.path("id.txt");
    let script = s.script("id.sh", &format!("id > {}", id.display()));
    let (status, out) = s.cli(&["start", "--pidfile", &s.pidfile(), "--user", "54321", "--", &script]);
    let supervisor = started_pid(&(status, out));
    let _stop = StopOnDrop(supervisor);
    wait_until("PROGRAM wrote its ids", || s.read("id.txt").ends_with('\n'));
    assert_eq!(s.read("id.txt").trim(), "uid=54321 gid=54321 groups=54321");
    let (status, out) = s.cli(&[
        "start",
        "--pidfile",
        &s.path("g.pid").to_string_lossy(),
        "--user",
        "54321",
        "--group",
        "65534",
        "--",
        &script,
    ]);
    let supervisor = started_pid(&(status, out));
    let _stop2 = StopOnDrop(supervisor);
    wait_until("PROGRAM wrote its ids", || s.read("id.txt").contains("gid=65534"));
    assert!(s.read("id.txt").starts_with("uid=54321 gid=65534"), "{}", s.read("id.txt"));
}

/// An init script's `start`/`stop`: `--oknodo` makes "already running" exit 0 (without it, 1);
/// stopping a stopped service exits 0 with or without it.
#[test]
fn oknodo_gives_init_scripts_their_exit_codes() {
    let s = Service::new();
    let pidfile = s.pidfile();
    let supervisor = started_pid(&s.cli(&["start", "--pidfile", &pidfile, "--", "sleep", "600"]));
    let _stop = StopOnDrop(supervisor);
    let (status, out) = s.cli(&["start", "--pidfile", &pidfile, "--", "sleep", "600"]);
    assert_eq!(status.code(), Some(1), "{out}");
    assert!(out.contains("already running"), "{out}");
    let (status, out) = s.cli(&["start", "--oknodo", "--pidfile", &pidfile, "--", "sleep", "600"]);
    assert_eq!(status.code(), Some(0), "{out}");
    assert_eq!(out, format!("daemonic: already running (pid {supervisor}); nothing done (--oknodo)\n"));
    let (status, out) = s.cli(&["stop", "--oknodo", "--pidfile", &pidfile]);
    assert_eq!(status.code(), Some(0), "{out}");
    let _ = reap(supervisor);
    for args in [&["stop", "--pidfile", &pidfile][..], &["stop", "--oknodo", "--pidfile", &pidfile]] {
        let (status, out) = s.cli(args);
        assert_eq!((status.code(), out.as_str()), (Some(0), "daemonic: not running\n"), "{args:?}");
    }
}

/// `--retry` in start-stop-daemon's syntax: a program that ignores TERM is KILLed (through its
/// supervisor) when the schedule says; conflicting options are usage errors.
#[test]
fn retry_follows_the_schedule() {
    let s = Service::new();
    let pidfile = s.pidfile();
    // The marker says the trap is set: a TERM before it would end the script (`start` returns
    // once the shell is exec'd, before it ran its first line).
    let marker = s.path("trapped");
    let body = format!("trap '' TERM\n: > {}\nwhile :; do sleep 1; done", marker.display());
    let script = s.script("stubborn.sh", &body);
    let supervisor = started_pid(&s.cli(&["start", "--pidfile", &pidfile, "--timeout", "600", "--", &script]));
    let _stop = StopOnDrop(supervisor);
    wait_until("the script's trap", || marker.exists());
    let started = std::time::Instant::now();
    let (status, out) = s.cli(&["stop", "--pidfile", &pidfile, "--retry", "TERM/0.5/KILL/5"]);
    assert_eq!(status.code(), Some(0), "{out}");
    assert!(out.contains("still running after 500ms; asking it to KILL the service"), "{out}");
    assert!(out.contains(&format!("daemonic: stopped (pid {supervisor})")), "{out}");
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
    let _ = reap(supervisor);

    // Without KILL in the schedule, it is still running at the end: 1.
    std::fs::remove_file(&marker).unwrap();
    let supervisor = started_pid(&s.cli(&["start", "--pidfile", &pidfile, "--timeout", "600", "--", &script]));
    let _stop2 = StopOnDrop(supervisor);
    wait_until("the script's trap", || marker.exists());
    let (status, out) = s.cli(&["stop", "--pidfile", &pidfile, "--retry", "-TERM/0.2/-15/0.2"]);
    assert_eq!(status.code(), Some(1), "{out}");
    assert!(out.contains("still running at the end of the schedule TERM/0.2/TERM/0.2"), "{out}");
    let (status, out) = s.cli(&["stop", "--pidfile", &pidfile, "--retry", "0.3"]);
    assert_eq!(status.code(), Some(0), "a bare timeout is TERM/T/KILL/T: {out}");

    for bad in [
        &["--retry", "TERM/5/KILL/5", "--kill"][..],
        &["--retry", "TERM/5/KILL/5", "--signal", "INT"],
        &["--retry", "5", "--timeout", "3"],
        &["--retry", "TERM/5/forever"],
        &["--retry", "NOPE/5"],
    ] {
        let mut args = vec!["stop", "--pidfile", &pidfile];
        args.extend_from_slice(bad);
        let (status, out) = s.cli(&args);
        assert_eq!(status.code(), Some(2), "{bad:?}: {out}");
        assert!(out.contains("--retry"), "{bad:?}: {out}");
    }
    let (status, out) = s.cli(&["restart", "--pidfile", &pidfile, "--retry", "TERM/1", "--kill", "--", "true"]);
    assert_eq!(status.code(), Some(2), "{out}");
}

/// Under `--foreground` (a run script, a container) PROGRAM keeps the caller's working
/// directory; `--chdir` still moves it; a forking start still goes to `/`.
#[test]
fn foreground_keeps_the_callers_working_directory() {
    let s = Service::new();
    let pwd = s.path("pwd.txt");
    let script = s.script("pwd.sh", &format!("pwd > {}", pwd.display()));
    let expected = std::fs::canonicalize(s.dir.path()).unwrap();
    for (extra, cwd) in [(&[][..], expected.clone()), (&["--chdir", "/usr"][..], PathBuf::from("/usr"))] {
        let mut command = Command::new(CLI);
        command.args(["start", "--foreground", "--pidfile", &s.pidfile()]).args(extra).args(["--", &script]);
        command.current_dir(s.dir.path());
        let (status, out, err) = run(command);
        assert!(status.success(), "{out}{err}");
        assert_eq!(s.read("pwd.txt").trim(), cwd.to_str().unwrap(), "{extra:?}");
    }
    let mut command = Command::new(CLI);
    command.args(["start", "--pidfile", &s.pidfile(), "--", &script]).current_dir(s.dir.path());
    let (status, out, err) = run(command);
    let supervisor = started_pid(&(status, format!("{out}{err}")));
    let _ = reap(supervisor);
    assert_eq!(s.read("pwd.txt").trim(), "/");

    // Under --foreground (and `run`) the PID file is optional; the status is PROGRAM's.
    for command in ["start", "run"] {
        let mut args = vec![command];
        if command == "start" {
            args.push("--foreground");
        }
        args.extend_from_slice(&["--", "sh", "-c", "exit 4"]);
        let (status, out) = s.cli(&args);
        assert_eq!(status.code(), Some(4), "{command}: {out}");
    }
}

/// `--limit`, `--ionice`, `--oom-score-adj` and `--no-new-privileges` reach PROGRAM (and only
/// PROGRAM: the supervisor keeps its own), with and without a supervisor; one that cannot be
/// applied is named.
#[test]
fn limits_and_scheduling_reach_the_program() {
    let s = Service::new();
    let pidfile = s.pidfile();
    let settings = [
        "--limit",
        "nofile=100:200",
        "--limit",
        "core=unlimited:unlimited",
        "--ionice",
        "idle",
        "--oom-score-adj",
        "500",
        "--no-new-privileges",
    ];
    let user: &[&str] = if is_root() { &["--user", "nobody"] } else { &[] };
    let mut args = vec!["start", "--pidfile", &pidfile];
    args.extend_from_slice(user);
    args.extend_from_slice(&settings);
    args.extend_from_slice(&["--", "sleep", "600"]);
    let core_before = std::fs::read_to_string("/proc/self/limits").unwrap();
    if !core_before.lines().any(|l| l.starts_with("Max core file size") && l.contains("unlimited")) && !is_root() {
        eprintln!("skipped: raising the core limit needs root here");
        return;
    }
    let supervisor = started_pid(&s.cli(&args));
    let _stop = StopOnDrop(supervisor);
    let program = program_of(supervisor);
    let limits = std::fs::read_to_string(format!("/proc/{program}/limits")).unwrap();
    let line = |name: &str| {
        limits.lines().find(|l| l.starts_with(name)).unwrap().split_whitespace().collect::<Vec<_>>().join(" ")
    };
    assert_eq!(line("Max open files"), "Max open files 100 200 files");
    assert_eq!(line("Max core file size"), "Max core file size unlimited unlimited bytes");
    assert_eq!(std::fs::read_to_string(format!("/proc/{program}/oom_score_adj")).unwrap().trim(), "500");
    assert_eq!(daemonic_tests::proc_status(program, "NoNewPrivs"), "1");
    if let Ok(out) = Command::new("ionice").args(["-p", &program.to_string()]).output() {
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "idle");
    }
    // The supervisor keeps its own.
    assert_eq!(daemonic_tests::proc_status(supervisor, "NoNewPrivs"), "0");
    assert_ne!(std::fs::read_to_string(format!("/proc/{supervisor}/oom_score_adj")).unwrap().trim(), "500");
    let (status, out) = s.cli(&["stop", "--pidfile", &pidfile]);
    assert!(status.success(), "{out}");
    let _ = reap(supervisor);

    // --no-supervise: the daemon is PROGRAM.
    let mut args = vec!["start", "--no-supervise", "--pidfile", &pidfile];
    args.extend_from_slice(user);
    args.extend_from_slice(&["--limit", "nofile=50", "--oom-score-adj", "300", "--", "sleep", "600"]);
    let daemon = started_pid(&s.cli(&args));
    let _stop = StopOnDrop(daemon);
    wait_until("the daemon runs sleep", || {
        std::fs::read_to_string(format!("/proc/{daemon}/comm")).is_ok_and(|c| c.trim() == "sleep")
    });
    let limits = std::fs::read_to_string(format!("/proc/{daemon}/limits")).unwrap();
    assert!(
        limits
            .lines()
            .any(|l| l.starts_with("Max open files") && l.split_whitespace().filter(|w| *w == "50").count() == 2),
        "{limits}"
    );
    assert_eq!(std::fs::read_to_string(format!("/proc/{daemon}/oom_score_adj")).unwrap().trim(), "300");
    let (status, out) = s.cli(&["stop", "--pidfile", &pidfile]);
    assert!(status.success(), "{out}");

    // A limit the caller may not raise is named.
    if is_root() {
        let (status, out) =
            s.cli_as(&["start", "--pidfile", &pidfile, "--oom-score-adj", "-500", "--", "sleep", "600"], Some(65534));
        assert_eq!(status.code(), Some(1), "{out}");
        assert!(out.contains("daemonic: cannot set --oom-score-adj -500: Permission denied"), "{out}");
    }
    for bad in [&["--limit", "files=1"][..], &["--ionice", "fast"], &["--oom-score-adj", "2000"]] {
        let mut args = vec!["start", "--pidfile", &pidfile];
        args.extend_from_slice(bad);
        args.extend_from_slice(&["--", "true"]);
        let (status, out) = s.cli(&args);
        assert_eq!(status.code(), Some(2), "{bad:?}: {out}");
    }
}

/// `--env-file`: PROGRAM gets the variables; the secret appears in neither the supervisor's
/// nor PROGRAM's command line; a file others could have written is refused.
#[test]
fn env_file_gives_secrets_without_the_command_line() {
    let s = Service::new();
    let pidfile = s.pidfile();
    let env = s.path("secrets.env");
    std::fs::write(&env, "# database\nexport DB_PASSWORD='s3cr3t-Value'\nGREETING=\"hello world\"\n").unwrap();
    std::fs::set_permissions(&env, std::fs::Permissions::from_mode(0o600)).unwrap();
    let seen = s.path("seen.txt");
    let script =
        s.script("env.sh", &format!("echo \"$DB_PASSWORD|$GREETING|$PLAIN\" > {}\nexec sleep 600", seen.display()));
    let supervisor = started_pid(&s.cli(&[
        "start",
        "--pidfile",
        &pidfile,
        "--env-file",
        env.to_str().unwrap(),
        "--env",
        "PLAIN=visible",
        "--",
        &script,
    ]));
    let _stop = StopOnDrop(supervisor);
    wait_until("PROGRAM saw its environment", || s.read("seen.txt").ends_with('\n'));
    assert_eq!(s.read("seen.txt"), "s3cr3t-Value|hello world|visible\n");
    let program = program_of(supervisor);
    for pid in [supervisor, program] {
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
        assert!(!String::from_utf8_lossy(&cmdline).contains("s3cr3t"), "pid {pid}");
    }
    let (status, out) = s.cli(&["stop", "--pidfile", &pidfile]);
    assert!(status.success(), "{out}");
    let _ = reap(supervisor);

    std::fs::set_permissions(&env, std::fs::Permissions::from_mode(0o620)).unwrap();
    let (status, out) = s.cli(&["start", "--pidfile", &pidfile, "--env-file", env.to_str().unwrap(), "--", "true"]);
    assert_eq!(status.code(), Some(1), "{out}");
    assert!(out.contains("writable by its group or others (mode 620); refused"), "{out}");
    let link = s.path("link.env");
    std::os::unix::fs::symlink(&env, &link).unwrap();
    let (status, out) = s.cli(&["start", "--pidfile", &pidfile, "--env-file", link.to_str().unwrap(), "--", "true"]);
    assert_eq!(status.code(), Some(1), "{out}");
    assert!(out.contains("a symbolic link; refused"), "{out}");
    if is_root() {
        std::fs::set_permissions(&env, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::os::unix::fs::chown(&env, Some(65534), None).unwrap();
        let (status, out) = s.cli(&["start", "--pidfile", &pidfile, "--env-file", env.to_str().unwrap(), "--", "true"]);
        assert_eq!(status.code(), Some(1), "{out}");
        assert!(out.contains("owned by uid 65534, neither root nor the caller; refused"), "{out}");
    }
    std::fs::write(s.path("bad.env"), "A=1\nnot a pair\n").unwrap();
    let (status, out) =
        s.cli(&["start", "--pidfile", &pidfile, "--env-file", &s.path("bad.env").to_string_lossy(), "--", "true"]);
    assert_eq!(status.code(), Some(1), "{out}");
    assert!(out.contains("line 2: expected NAME=VALUE"), "{out}");
}

/// Socket activation: `--listen-fd` descriptors reach PROGRAM as 3, 4, … in the order given,
/// with `LISTEN_FDS`, `LISTEN_FDNAMES` and `LISTEN_PID` naming PROGRAM itself (filled in after
/// the fork), supervised and not.
#[test]
fn listen_fds_are_what_sd_listen_fds_expects() {
    let s = Service::new();
    let pidfile = s.pidfile();
    let (a, b) = (s.path("a.sock-standin"), s.path("b.sock-standin"));
    std::fs::write(&a, "").unwrap();
    std::fs::write(&b, "").unwrap();
    let seen = s.path("seen.txt");
    let script = s.script(
        "activated.sh",
        &format!(
            // Descriptor 7 is looked at first, before a command substitution's pipe could
            // take that number in the shell: open, it must not be the caller's 7 (b) but may
            // be the PID file's read-only descriptor, which `--no-supervise` passes on.
            "seven=; if [ -e /proc/$$/fd/7 ]; then seven=\"seven:$(readlink /proc/$$/fd/7)\"; fi\n\
             echo \"$LISTEN_PID $$ $LISTEN_FDS $LISTEN_FDNAMES $(readlink /proc/$$/fd/3) $(readlink /proc/$$/fd/4) \
             $seven\" > {}\nexec sleep 600",
            seen.display()
        ),
    );
    for supervise in [true, false] {
        let _ = std::fs::remove_file(&seen);
        // The shell opens b as 7 and a as 5, then becomes the command: 7 is to be 3, 5 is to be 4.
        let mode = if supervise { "" } else { "--no-supervise" };
        let mut command = Command::new("sh");
        command.arg("-c").arg(format!(
            "exec 7<'{}' 5<'{}'; exec '{CLI}' start {mode} --pidfile '{pidfile}' --listen-fd 7:web --listen-fd 5 -- '{script}'",
            b.display(),
            a.display()
        ));
        let (status, out, err) = run(command);
        let pid = started_pid(&(status, format!("{out}{err}")));
        let _stop = StopOnDrop(pid);
        wait_until("PROGRAM wrote what it saw", || s.read("seen.txt").ends_with('\n'));
        let program = if supervise { program_of(pid) } else { pid };
        let seen = s.read("seen.txt");
        let words: Vec<&str> = seen.split_whitespace().collect();
        assert_eq!(words[0], program.to_string(), "LISTEN_PID is PROGRAM's own pid: {seen}");
        assert_eq!(words[1], program.to_string(), "{seen}");
        assert_eq!(&words[2..6], ["2", "web:unknown", b.to_str().unwrap(), a.to_str().unwrap()], "{seen}");
        let lock = format!("seven:{pidfile}");
        assert!(words[6..].is_empty() || (!supervise && words[6..] == [lock.as_str()]), "{seen}");
        let (status, out) = s.cli(&["stop", "--pidfile", &pidfile]);
        assert!(status.success(), "{out}");
        let _ = reap(pid);
    }
    let (status, out) = s.cli(&["start", "--pidfile", &pidfile, "--listen-fd", "5", "--keep-fd", "3", "--", "true"]);
    assert_eq!(status.code(), Some(2), "{out}");
    assert!(out.contains("other descriptors must be above 3"), "{out}");
}

/// Whether python3 can parse `text` as JSON (the check is skipped without python3: no JSON
/// dependency for one test).
fn json_parses(text: &str) -> bool {
    use std::io::Write as _;
    let Ok(mut child) = Command::new("python3")
        .args(["-c", "import json,sys; json.load(sys.stdin)"])
        .stdin(std::process::Stdio::piped())
        .spawn()
    else {
        return true;
    };
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    child.wait().unwrap().success()
}

/// `status` tells running, failed and stopped apart: PROGRAM's pid, uptime and restarts while
/// it runs; after `--restart` gave up, "failed" with LSB 1 until the next stop; `--json` for
/// monitoring.
#[test]
fn status_says_what_happened() {
    let s = Service::new();
    let pidfile = s.pidfile();
    let supervisor = started_pid(&s.cli(&["start", "--pidfile", &pidfile, "--", "sleep", "600"]));
    let _stop = StopOnDrop(supervisor);
    let program = program_of(supervisor);
    let (status, out) = s.cli(&["status", "--pidfile", &pidfile]);
    assert_eq!(status.code(), Some(0), "{out}");
    assert!(out.starts_with(&format!("daemonic: running (pid {supervisor}; program pid {program}, up ")), "{out}");
    let (status, json) = s.cli(&["status", "--json", "--pidfile", &pidfile]);
    assert_eq!(status.code(), Some(0), "{json}");
    assert!(json.starts_with(&format!("{{\"state\": \"running\", \"pidfile\": \"{pidfile}\", \"pid\": {supervisor}, \"program_pid\": {program}, \"uptime_seconds\": ")), "{json}");
    assert!(json.contains("\"restarts\": 0"), "{json}");
    assert!(json_parses(&json), "{json}");
    assert!(s.cli(&["stop", "--pidfile", &pidfile]).0.success());
    let _ = reap(supervisor);
    let (status, json) = s.cli(&["status", "--json", "--pidfile", &pidfile]);
    assert_eq!(status.code(), Some(3), "{json}");
    assert!(json.starts_with("{\"state\": \"stopped\""), "{json}");
    assert!(json_parses(&json), "{json}");

    // A program that keeps failing: the supervisor gives up; the PID file and the state stay.
    let script = s.script("fails.sh", "exit 3");
    let supervisor = started_pid(&s.cli(&[
        "start",
        "--pidfile",
        &pidfile,
        "--restart",
        "on-failure",
        "--restart-delay",
        "0.05",
        "--restart-limit",
        "2/60",
        "--",
        &script,
    ]));
    let _stop = StopOnDrop(supervisor);
    let _ = reap(supervisor);
    let (status, out) = s.cli(&["status", "--pidfile", &pidfile]);
    assert_eq!(status.code(), Some(1), "{out}");
    assert!(out.starts_with("daemonic: failed: gave up after 2 restarts at "), "{out}");
    assert!(out.trim_end().ends_with(" UTC (last: exit status 3)"), "{out}");
    let (status, json) = s.cli(&["status", "--json", "--pidfile", &pidfile]);
    assert_eq!(status.code(), Some(1), "{json}");
    assert!(json.contains("\"state\": \"failed\"") && json.contains("\"last_exit\": \"exit status 3\""), "{json}");
    assert!(json_parses(&json), "{json}");
    // A stop clears it.
    let (status, out) = s.cli(&["stop", "--pidfile", &pidfile]);
    assert_eq!(status.code(), Some(0), "{out}");
    assert_eq!(s.cli(&["status", "--pidfile", &pidfile]).0.code(), Some(3));
    assert!(!s.path("service.pid.state").exists());

    // Unknown: a reason, escaped.
    std::fs::write(s.path("service.pid"), "garbage \"quoted\"\n").unwrap();
    let (status, json) = s.cli(&["status", "--json", "--pidfile", &pidfile]);
    assert_eq!(status.code(), Some(4), "{json}");
    assert!(json.starts_with("{\"state\": \"unknown\""), "{json}");
    assert!(json_parses(&json), "{json}");
}

/// `daemonic run` as PID 1 of a new PID namespace (`unshare --pid --fork --mount-proc`), as in a
/// container: orphans are reaped, what PROGRAM left is ended, the exit status is PROGRAM's
/// (128+N after signal N), and a TERM is passed on.
#[test]
fn run_is_a_containers_init() {
    if !is_root() || Command::new("unshare").arg("--version").output().is_err() {
        eprintln!("skipped: needs root and unshare(1)");
        return;
    }
    let s = Service::new();
    let report = s.path("zombies.txt");
    let script = s.script(
        "init.sh",
        &format!(
            "sh -c 'sleep 0.2 &'\nsleep 600 &\nsleep 1\necho \"$$ $(grep -l '^State:.Z' /proc/[0-9]*/status 2>/dev/null | wc -l)\" > {}\nexit 7",
            report.display()
        ),
    );
    let started = std::time::Instant::now();
    let mut command = Command::new("unshare");
    command.args(["--pid", "--fork", "--mount-proc", CLI, "run", "--", &script]);
    let (status, out, err) = run(command);
    assert_eq!(status.code(), Some(7), "PROGRAM's status: {out}{err}");
    assert!(started.elapsed() < std::time::Duration::from_secs(30), "the leftover sleep 600 was ended");
    assert_eq!(s.read("zombies.txt").trim(), "2 0", "PROGRAM is pid 2 under init 1; the orphan was reaped");
    assert!(err.contains("init.sh exited with status 7"), "{err}");

    let mut command = Command::new("unshare");
    command.args(["--pid", "--fork", "--mount-proc", CLI, "run", "--", "sh", "-c", "kill -USR1 $$"]);
    let (status, _, err) = run(command);
    assert_eq!(status.code(), Some(128 + libc::SIGUSR1), "{err}");

    // TERM to the init (from outside the namespace, as `docker stop` does) reaches PROGRAM.
    let mut child = daemonic_tests::spawn(
        Command::new("unshare")
            .args(["--pid", "--fork", "--mount-proc", CLI, "run", "--", "sleep", "600"])
            .stderr(std::process::Stdio::null()),
    );
    let mut init = 0;
    wait_until("the namespace's init", || match daemonic_tests::children_of(child.id())[..] {
        [pid] if daemonic_tests::children_of(pid).len() == 1 => {
            init = pid;
            true
        }
        _ => false,
    });
    let _stop = StopOnDrop(init);
    rustix::process::kill_process(rustix::process::Pid::from_raw(init as i32).unwrap(), rustix::process::Signal::TERM)
        .unwrap();
    let status = daemonic_tests::wait_timeout(&mut child);
    assert_eq!(status.code(), Some(128 + libc::SIGTERM));
}

/// In syslog too, PROGRAM's unterminated last line is a message of its own, not the start of
/// the supervisor's.
#[test]
fn syslog_gets_the_unterminated_line_apart() {
    let s = Service::new();
    let socket_path = s.path("log.sock");
    let syslog = std::os::unix::net::UnixDatagram::bind(&socket_path).unwrap();
    syslog.set_read_timeout(Some(std::time::Duration::from_secs(60))).unwrap();
    let supervisor = started_pid(&s.cli(&[
        "start",
        "--pidfile",
        &s.pidfile(),
        "--syslog-socket",
        socket_path.to_str().unwrap(),
        "--syslog-tag",
        "web",
        "--",
        "sh",
        "-c",
        "sleep 0.2; printf partial; exit 3",
    ]));
    let _stop = StopOnDrop(supervisor);
    let _ = reap(supervisor);
    let mut messages = Vec::new();
    while messages.len() < 2 {
        let mut buffer = [0u8; 2048];
        let n = syslog.recv(&mut buffer).unwrap();
        let message = String::from_utf8_lossy(&buffer[..n]).into_owned();
        messages.push(message.split_once("]: ").map(|(_, text)| text.to_owned()).unwrap_or(message));
    }
    assert_eq!(messages[0], "partial", "{messages:?}");
    assert!(messages[1].starts_with("daemonic[") && messages[1].ends_with("sh exited with status 3"), "{messages:?}");
}
