//! The rules of issue 20, with real processes, as root: a `stop` (whatever its signal or
//! escalation) or a KILLed supervisor leaves nothing of PROGRAM's tree running; no signal to a
//! restarting supervisor is lost; `daemonic signal` never ends or stops the supervisor;
//! `status` decides as `stop` decides; a `--child-pidfile` renamed over the PID file is not
//! believed; and the smaller holes (the caller's umask 0, a file that is not a program,
//! `--chroot` with `--notify-await`, a syslog peer that never reads).
//!
//! Root only (PROGRAM runs as `nobody`, and the attacker is `nobody`); Linux only (`/proc`,
//! `PR_SET_CHILD_SUBREAPER`). Every test works in its own sticky, world-writable directory
//! (like `/tmp`), whose path is in the command line of everything the test starts (the PID
//! file's path in the supervisor's, `DIR/bin/sleep` and friends in PROGRAM's), so that what a
//! test leaves running is found in `/proc/*/cmdline`, checked for at its end, and killed when
//! it is dropped, even after a failure.
#![cfg(target_os = "linux")]

use std::cell::RefCell;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

use daemonic_tests::{
    as_nobody, become_subreaper, children_of, cmdline, comm, is_root, nobody_sh, proc_stat_field, proc_status,
    process_exists, process_tree, processes_mentioning, program_of, run, run_joined, sleeping, started_pid, wait_until,
    NOBODY, TIMEOUT,
};
use rustix::process::{kill_process, waitpid, Pid, Signal, WaitOptions, WaitStatus};

const CLI: &str = env!("CARGO_BIN_EXE_daemonic-command");

/// The programs the tests run, linked into the test's directory so that their command lines
/// name it.
const PROGRAMS: [&str; 5] = ["sleep", "sh", "yes", "head", "true"];

/// A process as it was when seen: its pid and start time (`/proc/PID/stat` field 22), so that
/// a pid reused by another process (`pid_max` may be small) is never signalled or reaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Seen {
    pid: u32,
    started: u64,
}

impl Seen {
    fn now(pid: u32) -> Option<Seen> {
        Some(Seen { pid, started: proc_stat_field(pid, 22)?.parse().ok()? })
    }
    /// Still the same process (a zombie counts).
    fn is_same(&self) -> bool {
        Seen::now(self.pid) == Some(*self)
    }
}

/// A sticky, world-writable directory (like `/tmp`) shared by root and `nobody`, with the
/// programs the test runs linked into `bin/`, and the sweep that kills and reaps whatever of the
/// test is left when it is dropped.
struct World {
    dir: tempfile::TempDir,
    /// The directory's path and a slash: in the command line of everything the test starts.
    needle: String,
    /// Processes to reap at the end (orphans reparented to the test process, its subreaper).
    tracked: RefCell<Vec<Seen>>,
}

impl World {
    /// `None` (the test is skipped, and says so) unless we are root.
    fn new(test: &str) -> Option<World> {
        if !is_root() {
            eprintln!("{test} needs root (PROGRAM runs as nobody, the attacker is nobody); skipped");
            return None;
        }
        become_subreaper();
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o1777)).unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
        for program in PROGRAMS {
            let target = ["/bin", "/usr/bin"]
                .iter()
                .map(|dir| PathBuf::from(dir).join(program))
                .find(|path| path.exists())
                .unwrap_or_else(|| panic!("no {program} in /bin or /usr/bin"));
            std::os::unix::fs::symlink(target, bin.join(program)).unwrap();
        }
        // With the slash: no other directory's path starts with it.
        let needle = format!("{}/", dir.path().to_str().unwrap());
        Some(World { dir, needle, tracked: RefCell::new(Vec::new()) })
    }
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    fn pidfile(&self) -> PathBuf {
        self.path("app.pid")
    }
    fn pidfile_arg(&self) -> String {
        self.pidfile().to_str().unwrap().to_owned()
    }
    /// The tree record a supervisor writes beside its PID file.
    fn tree_record(&self) -> PathBuf {
        self.path("app.pid.tree")
    }
    /// A program, by its path in the test's directory.
    fn bin(&self, program: &str) -> String {
        format!("{}bin/{program}", self.needle)
    }
    /// The `daemonic` command, run by root.
    fn cli(&self, args: &[&str]) -> (ExitStatus, String) {
        let mut command = Command::new(CLI);
        command.args(args);
        run_joined(command)
    }
    fn start(&self, extra: &[&str], program: &[&str]) -> (ExitStatus, String) {
        let pidfile = self.pidfile_arg();
        let mut args = vec!["start", "--pidfile", &pidfile];
        args.extend_from_slice(extra);
        args.push("--");
        args.extend_from_slice(program);
        self.cli(&args)
    }
    fn stop(&self, extra: &[&str]) -> (ExitStatus, String) {
        let pidfile = self.pidfile_arg();
        let mut args = vec!["stop", "--pidfile", &pidfile];
        args.extend_from_slice(extra);
        if !extra.contains(&"--timeout") {
            args.extend_from_slice(&["--timeout", "30"]);
        }
        self.cli(&args)
    }
    fn status(&self) -> (ExitStatus, String) {
        self.cli(&["status", "--pidfile", &self.pidfile_arg()])
    }
    fn signal(&self, signal: &str) -> (ExitStatus, String) {
        self.cli(&["signal", "--pidfile", &self.pidfile_arg(), signal])
    }
    /// Remembers processes to reap at the end (if they became ours).
    fn track(&self, pids: &[u32]) {
        self.tracked.borrow_mut().extend(pids.iter().filter_map(|&pid| Seen::now(pid)));
    }
    /// The supervisor's tree once PROGRAM's shell has started its `sleeps` sleeps: the
    /// supervisor, the shell, the sleeps.
    fn tree_with_sleeps(&self, supervisor: u32, sleeps: usize) -> Vec<u32> {
        let mut tree = Vec::new();
        wait_until("PROGRAM's shell and its sleeps", || {
            tree = process_tree(supervisor);
            tree.iter().filter(|&&pid| comm(pid) == "sleep" && sleeping(pid)).count() == sleeps
        });
        self.track(&tree);
        tree
    }
    /// Nothing the test started is left running: no supervisor, no PROGRAM, no leftover.
    fn assert_nothing_left(&self) {
        let start = Instant::now();
        loop {
            let left = processes_mentioning(&self.needle);
            if left.is_empty() {
                return;
            }
            if start.elapsed() > TIMEOUT {
                let described: Vec<String> = left.iter().map(|&pid| format!("{pid} ({})", cmdline(pid))).collect();
                panic!("processes of the test survived it: {described:?}");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for World {
    /// Kills whatever of the test still runs (found by the directory in its command line) and
    /// reaps what became ours; never panics.
    fn drop(&mut self) {
        let me = std::process::id().to_string();
        let start = Instant::now();
        loop {
            let found: Vec<Seen> = processes_mentioning(&self.needle).into_iter().filter_map(Seen::now).collect();
            let mut all = found.clone();
            all.extend(self.tracked.borrow().iter().copied());
            for seen in &found {
                if seen.is_same() && cmdline(seen.pid).contains(&self.needle) {
                    if let Some(pid) = Pid::from_raw(seen.pid as i32) {
                        let _ = kill_process(pid, Signal::KILL);
                    }
                }
            }
            for seen in &all {
                // Only our own children, and only the very process seen: a pid reused since
                // could be another test's child, which its `Child` must reap.
                if seen.is_same() && proc_stat_field(seen.pid, 4).as_deref() == Some(me.as_str()) {
                    if let Some(pid) = Pid::from_raw(seen.pid as i32) {
                        let _ = waitpid(Some(pid), WaitOptions::NOHANG);
                    }
                }
            }
            let pending = found.iter().any(Seen::is_same)
                || self
                    .tracked
                    .borrow()
                    .iter()
                    .any(|seen| seen.is_same() && proc_stat_field(seen.pid, 4).as_deref() == Some(me.as_str()));
            if !pending || start.elapsed() > Duration::from_secs(20) {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// A supervisor (a child of the test process, its subreaper): stopped when dropped (TERM, KILL
/// after 10 s) and reaped, unless the test reaped it; never a pid reused meanwhile.
struct Supervisor {
    seen: Seen,
    reaped: bool,
}

impl Supervisor {
    fn new(pid: u32) -> Supervisor {
        Supervisor { seen: Seen::now(pid).unwrap_or_else(|| panic!("supervisor {pid} is not running")), reaped: false }
    }
    fn pid(&self) -> u32 {
        self.seen.pid
    }
    /// Waits (at most [`TIMEOUT`]) for its exit and reaps it.
    fn reap(&mut self) -> WaitStatus {
        let pid = Pid::from_raw(self.seen.pid as i32).unwrap();
        let start = Instant::now();
        loop {
            match waitpid(Some(pid), WaitOptions::NOHANG) {
                Ok(Some((_, status))) => {
                    self.reaped = true;
                    return status;
                }
                Ok(None) => {}
                Err(e) => panic!("waitpid({pid:?}): {e}"),
            }
            assert!(start.elapsed() < TIMEOUT, "supervisor {pid:?} did not exit");
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    /// Its `/proc/PID/stat` state, `None` once gone.
    fn state(&self) -> Option<String> {
        proc_stat_field(self.seen.pid, 3)
    }
    fn alive(&self) -> bool {
        !self.reaped && self.seen.is_same() && self.state().as_deref() != Some("Z")
    }
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        if self.reaped || !self.seen.is_same() {
            return;
        }
        // TERM (and CONT), KILL ten seconds later, reaped either way.
        drop(daemonic_tests::StopOnDrop(self.seen.pid));
    }
}

/// A process of root's that the test started directly: killed and reaped when dropped.
struct Victim(Child);

impl Victim {
    fn spawn(program: &str, args: &[&str]) -> Victim {
        Victim(daemonic_tests::spawn(Command::new(program).args(args)))
    }
    fn id(&self) -> u32 {
        self.0.id()
    }
    fn alive(&mut self) -> bool {
        self.0.try_wait().unwrap().is_none() && proc_stat_field(self.id(), 3).as_deref() != Some("Z")
    }
}

impl Drop for Victim {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Gone, or a zombie (dead, not yet reaped by the test, its subreaper).
fn ended(pid: u32) -> bool {
    !process_exists(pid) || proc_stat_field(pid, 3).as_deref() == Some("Z")
}

/// Every process of `tree` but the supervisor (its first) has ended.
fn assert_tree_ended(tree: &[u32], what: &str) {
    for &pid in &tree[1..] {
        assert!(ended(pid), "{what}: pid {pid} ({}) of the tree survived", cmdline(pid));
    }
}

/// What follows `prefix` on the output's first line that has it.
fn after<'a>(output: &'a str, prefix: &str) -> &'a str {
    output
        .lines()
        .find_map(|line| line.strip_prefix(prefix))
        .unwrap_or_else(|| panic!("no line starting with {prefix:?} in {output:?}"))
}

/// `sh -c SCRIPT` running PROGRAM's two sleeps in the background and waiting for them.
fn two_sleeps(w: &World, prelude: &str) -> String {
    format!("{prelude}{s} 1000 & {s} 1001 & wait", s = w.bin("sleep"))
}

/// Rule 1 (the tree never outlives a stop), `stop --signal KILL`: KILL is asked of the
/// supervisor, which KILLs PROGRAM's whole tree (a shell and its two background sleeps, as
/// `nobody`) and then exits by itself. Were the supervisor KILLed instead, the sleeps would
/// run on, orphaned, beside the next instance of the service.
#[test]
fn stop_signal_kill_ends_the_whole_tree_and_the_supervisor_exits() {
    let Some(w) = World::new("stop_signal_kill_ends_the_whole_tree_and_the_supervisor_exits") else { return };
    let script = two_sleeps(&w, "");
    let mut supervisor = Supervisor::new(started_pid(&w.start(&["--user", "nobody"], &[&w.bin("sh"), "-c", &script])));
    let tree = w.tree_with_sleeps(supervisor.pid(), 2);
    assert_eq!(tree.len(), 4, "supervisor, sh, two sleeps: {tree:?}");
    for &pid in &tree[1..] {
        assert_eq!(proc_status(pid, "Uid"), "65534\t65534\t65534\t65534", "pid {pid} runs as nobody");
    }
    assert!(w.tree_record().exists(), "the supervisor records its tree");
    let (status, said) = w.stop(&["--signal", "KILL"]);
    assert!(status.success(), "{said}");
    assert!(said.contains(&format!("stopped (pid {})", supervisor.pid())), "{said}");
    assert_tree_ended(&tree, "stop --signal KILL");
    let exit = supervisor.reap();
    assert_eq!(exit.terminating_signal(), None, "the supervisor was KILLed itself: {exit:?}");
    assert_eq!(exit.exit_status(), Some(0), "it exited, as after any stop request: {exit:?}");
    assert!(!w.pidfile().exists(), "the PID file is removed");
    assert!(!w.tree_record().exists(), "the tree record is removed");
    w.assert_nothing_left();
}

/// Rule 1, `daemonic signal KILL`: the same request as `stop --signal KILL` (the supervisor
/// KILLs the tree and exits; it is never KILLed itself), said as such, and the PID file goes.
#[test]
fn signal_kill_asks_the_supervisor_to_kill_the_tree() {
    let Some(w) = World::new("signal_kill_asks_the_supervisor_to_kill_the_tree") else { return };
    let script = two_sleeps(&w, "");
    let mut supervisor = Supervisor::new(started_pid(&w.start(&["--user", "nobody"], &[&w.bin("sh"), "-c", &script])));
    let tree = w.tree_with_sleeps(supervisor.pid(), 2);
    assert_eq!(tree.len(), 4, "supervisor, sh, two sleeps: {tree:?}");
    let (status, said) = w.signal("KILL");
    assert!(status.success(), "{said}");
    assert!(said.contains(&format!("asked the supervisor (pid {}) to KILL the service", supervisor.pid())), "{said}");
    // `signal` returns at once: the supervisor's exit is the end of the request.
    let exit = supervisor.reap();
    assert_eq!(exit.terminating_signal(), None, "the supervisor was KILLed itself: {exit:?}");
    assert_eq!(exit.exit_status(), Some(0), "{exit:?}");
    assert_tree_ended(&tree, "signal KILL");
    assert!(!w.pidfile().exists(), "the PID file is removed");
    assert!(!w.tree_record().exists(), "the tree record is removed");
    w.assert_nothing_left();
}

/// Rule 1, `stop --timeout 1 --kill` against a tree that ignores TERM (and a supervisor told
/// to wait 60 s before its own KILL): after the timeout `stop` asks the supervisor to KILL the
/// service instead of KILLing the supervisor, which would orphan the sleeps.
#[test]
fn stop_kill_after_the_timeout_is_asked_of_the_supervisor() {
    let Some(w) = World::new("stop_kill_after_the_timeout_is_asked_of_the_supervisor") else { return };
    let script = two_sleeps(&w, "trap '' TERM; ");
    let mut supervisor = Supervisor::new(started_pid(
        &w.start(&["--timeout", "60", "--user", "nobody"], &[&w.bin("sh"), "-c", &script]),
    ));
    let tree = w.tree_with_sleeps(supervisor.pid(), 2);
    assert_eq!(tree.len(), 4, "supervisor, sh, two sleeps: {tree:?}");
    let (status, said) = w.stop(&["--timeout", "1", "--kill"]);
    assert!(status.success(), "{said}");
    assert!(said.contains("asking it to KILL the service"), "{said}");
    assert!(!said.contains("sending KILL"), "the supervisor itself was KILLed: {said}");
    assert!(said.contains(&format!("stopped (pid {})", supervisor.pid())), "{said}");
    assert_tree_ended(&tree, "stop --kill");
    let exit = supervisor.reap();
    assert_eq!((exit.terminating_signal(), exit.exit_status()), (None, Some(0)), "{exit:?}");
    assert!(!w.pidfile().exists());
    assert!(!w.tree_record().exists());
    w.assert_nothing_left();
}

/// A supervised shell with two background sleeps whose supervisor the test KILLs by hand (as
/// the OOM killer would): PROGRAM dies with it (its parent-death signal), the sleeps live on,
/// reparented (to the test, their subreaper), and the PID file and the tree record stay.
/// Returns the supervisor's tree as it was, and the sleeps.
fn a_killed_supervisor_leaves_its_sleeps(w: &World) -> (Vec<u32>, Vec<u32>) {
    let script = two_sleeps(w, "");
    let mut supervisor = Supervisor::new(started_pid(&w.start(&["--user", "nobody"], &[&w.bin("sh"), "-c", &script])));
    let tree = w.tree_with_sleeps(supervisor.pid(), 2);
    assert_eq!(tree.len(), 4, "supervisor, sh, two sleeps: {tree:?}");
    let program = program_of(supervisor.pid());
    let sleeps: Vec<u32> = tree.iter().copied().filter(|&pid| comm(pid) == "sleep").collect();
    assert!(w.tree_record().exists(), "the supervisor records its tree");
    kill_process(Pid::from_raw(supervisor.pid() as i32).unwrap(), Signal::KILL).unwrap();
    let exit = supervisor.reap();
    assert_eq!(exit.terminating_signal(), Some(libc::SIGKILL), "{exit:?}");
    wait_until("PROGRAM to die with its supervisor", || ended(program));
    let me = std::process::id().to_string();
    for &pid in &sleeps {
        wait_until("the sleep to be reparented", || proc_stat_field(pid, 4).as_deref() == Some(me.as_str()));
        assert!(!ended(pid), "the sleep {pid} lives on after its supervisor's KILL");
        assert_eq!(comm(pid), "sleep");
    }
    assert!(w.pidfile().exists(), "a KILLed supervisor cannot remove its PID file");
    assert!(w.tree_record().exists(), "nor its tree record: the next stop or start needs it");
    (tree, sleeps)
}

/// Rule 1, a supervisor KILLed by hand: what it could not end (PROGRAM's sleeps, reparented)
/// is ended by the next `stop`, from the tree record the supervisor left, which also removes the
/// stale PID file and the record. Otherwise the orphans would run forever, unseen by
/// `status` and unstoppable by any command.
#[test]
fn stop_ends_what_a_killed_supervisor_left_running() {
    let Some(w) = World::new("stop_ends_what_a_killed_supervisor_left_running") else { return };
    let (tree, sleeps) = a_killed_supervisor_leaves_its_sleeps(&w);
    let (status, said) = w.stop(&[]);
    assert!(status.success(), "{said}");
    assert!(said.contains("not running"), "{said}");
    assert!(said.contains("ended 2 process(es)"), "{said}");
    assert!(said.contains(&format!("removed the stale {}", w.pidfile().display())), "{said}");
    for &pid in &sleeps {
        assert!(ended(pid), "the sleep {pid} survived the stop: {said}");
    }
    assert_tree_ended(&tree, "stop after a KILLed supervisor");
    assert!(!w.pidfile().exists(), "the stale PID file is removed: {said}");
    assert!(!w.tree_record().exists(), "the tree record is removed: {said}");
    w.assert_nothing_left();
}

/// Rule 1, a supervisor KILLed by hand, then a new `start`: the new supervisor (holding the
/// lock, so no supervisor of that file runs) ends the old tree's leftovers before it runs its
/// PROGRAM. A new instance must never run beside leftovers of the old one.
#[test]
fn start_ends_what_a_killed_supervisor_left_running() {
    let Some(w) = World::new("start_ends_what_a_killed_supervisor_left_running") else { return };
    let (tree, sleeps) = a_killed_supervisor_leaves_its_sleeps(&w);
    let log = w.path("service.log");
    let started = w.start(&["--user", "nobody", "--stdout", log.to_str().unwrap()], &[&w.bin("sleep"), "1002"]);
    let mut supervisor = Supervisor::new(started_pid(&started));
    for &pid in &sleeps {
        assert!(ended(pid), "the old sleep {pid} runs beside the new instance");
    }
    assert_tree_ended(&tree, "start after a KILLed supervisor");
    let program = program_of(supervisor.pid());
    w.track(&[program]);
    wait_until("the new PROGRAM to sleep", || comm(program) == "sleep" && sleeping(program));
    assert_eq!(cmdline(program), format!("{} 1002", w.bin("sleep")), "the new PROGRAM runs");
    let logged = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(logged.contains("ended 2 process(es) a killed supervisor"), "the new supervisor says so: {logged:?}");
    assert!(w.tree_record().exists(), "the new supervisor's record");
    let (status, said) = w.stop(&[]);
    assert!(status.success() && said.contains(&format!("stopped (pid {})", supervisor.pid())), "{said}");
    assert_eq!(supervisor.reap().exit_status(), Some(0));
    assert!(ended(program));
    assert!(!w.pidfile().exists());
    assert!(!w.tree_record().exists());
    w.assert_nothing_left();
}

/// Two CPU burners (killed when dropped): on a busy machine the races below are far likelier
/// to be hit than on an idle one.
fn burners(w: &World) -> [Victim; 2] {
    let burn = || {
        let mut command = Command::new(w.bin("yes"));
        command.stdout(std::process::Stdio::null());
        Victim(daemonic_tests::spawn(&mut command))
    };
    [burn(), burn()]
}

/// Rule 2 (no signal is lost): a service that exits at once and is restarted at once, over and
/// over (with a restart limit it never reaches), receives the stop's TERM at every point of its
/// restart loop (while forking, while reaping, between two runs), on a busy machine. Every stop
/// succeeds and leaves no process and no PID file; a TERM lost among the SIGCHLDs would leave
/// the service running and the stop failing.
#[test]
fn no_stop_is_lost_while_the_service_restarts() {
    let Some(w) = World::new("no_stop_is_lost_while_the_service_restarts") else { return };
    let truth = w.bin("true");
    let burners = burners(&w);
    for round in 0..12u64 {
        let started =
            w.start(&["--restart", "always", "--restart-delay", "0", "--restart-limit", "1000000/60"], &[&truth]);
        let mut supervisor = Supervisor::new(started_pid(&started));
        // Let it go round a few times; the stop lands at a different point each round.
        std::thread::sleep(Duration::from_millis(round % 4 * 3));
        let (status, said) = w.stop(&[]);
        assert!(status.success(), "round {round}: {said}");
        assert!(said.contains(&format!("stopped (pid {})", supervisor.pid())), "round {round}: {said}");
        let exit = supervisor.reap();
        assert_eq!(exit.exit_status(), Some(0), "round {round}: stopped on request: {exit:?}");
        assert!(!w.pidfile().exists(), "round {round}: the PID file is left");
        assert!(!w.tree_record().exists(), "round {round}: the tree record is left");
        let left =
            processes_mentioning(&format!("{}\u{0}", truth)).len() + processes_mentioning(&w.pidfile_arg()).len();
        assert_eq!(left, 0, "round {round}: left running");
    }
    drop(burners);
    w.assert_nothing_left();
}

/// Rule 2 as the issue states it, `start --restart always --restart-delay 0 -- true` then
/// `stop`, under the default restart limit (5/60): the supervisor gives up within
/// milliseconds, so the stop races the service ending by itself. Whichever wins, the stop
/// must succeed ("stopped", or "not running": exit 0, as its help says for a service that is
/// not running) and leave no process and no PID file. A stop that exits 1 with "no longer
/// holds" or "does not have FILE open" for a service that is gone makes a service manager
/// report a failed stop of a stopped service.
#[test]
fn a_stop_racing_the_restart_limit_succeeds() {
    let Some(w) = World::new("a_stop_racing_the_restart_limit_succeeds") else { return };
    let truth = w.bin("true");
    let burners = burners(&w);
    let mut failures = Vec::new();
    const ROUNDS: u64 = 200;
    for round in 0..ROUNDS {
        let mut supervisor =
            Supervisor::new(started_pid(&w.start(&["--restart", "always", "--restart-delay", "0"], &[&truth])));
        let (status, said) = w.stop(&[]);
        let stopped = said.contains(&format!("stopped (pid {})", supervisor.pid())) || said.contains("not running");
        if !status.success() || !stopped {
            failures.push(format!("round {round}: {status}: {}", said.trim_end()));
        }
        supervisor.reap();
        assert!(!w.pidfile().exists(), "round {round}: the PID file is left");
        let left =
            processes_mentioning(&format!("{}\u{0}", truth)).len() + processes_mentioning(&w.pidfile_arg()).len();
        assert_eq!(left, 0, "round {round}: left running");
    }
    drop(burners);
    assert!(failures.is_empty(), "{} of {ROUNDS} stops failed: {failures:#?}", failures.len());
    w.assert_nothing_left();
}

/// Rule 3 (`daemonic signal` never ends or stops the supervisor): what the supervisor passes
/// on reaches PROGRAM (ALRM, USR1, TSTP, which stops PROGRAM and not the supervisor); STOP,
/// ABRT and BUS, which it cannot pass on and which would stop or end it by their default
/// action (leaving PROGRAM's tree without its supervisor), are refused. After each refusal the
/// supervisor still forwards signals, and a stop still stops a stopped PROGRAM.
#[test]
fn signal_never_ends_or_stops_the_supervisor() {
    let Some(w) = World::new("signal_never_ends_or_stops_the_supervisor") else { return };
    let record = w.path("signals");
    let script = format!(
        "trap 'echo ALRM >> {r}' ALRM\ntrap 'echo USR1 >> {r}' USR1\necho ready >> {r}\nwhile :; do {s} 0.05; done",
        r = record.display(),
        s = w.bin("sleep")
    );
    let mut supervisor = Supervisor::new(started_pid(&w.start(&["--user", "nobody"], &[&w.bin("sh"), "-c", &script])));
    let sup = supervisor.pid();
    let program = program_of(sup);
    w.track(&[program]);
    let recorded = || std::fs::read_to_string(&record).unwrap_or_default();
    let count = |what: &str| recorded().lines().filter(|line| *line == what).count();
    wait_until("PROGRAM's traps", || count("ready") == 1);
    let not_stopped = |when: &str| {
        assert!(supervisor_state_ok(sup), "{when}: the supervisor is {:?}", proc_stat_field(sup, 3));
    };
    let mut sent = [("ALRM", 0), ("USR1", 0)];
    // Each passed-on signal is recorded by PROGRAM: the supervisor is alive and forwarding.
    let mut forwarded = |when: &str| {
        for (name, times) in sent.iter_mut() {
            let (status, said) = w.signal(name);
            assert!(status.success(), "{when}: {said}");
            assert!(said.contains(&format!("sent SIG{name} to pid {sup} (passed on to the program)")), "{said}");
            *times += 1;
            wait_until("PROGRAM to record the signal", || count(name) == *times);
        }
    };
    forwarded("at first");
    not_stopped("after ALRM and USR1");

    let (status, said) = w.signal("STOP");
    assert_eq!(status.code(), Some(1), "{said}");
    assert!(said.contains("refusing to send SIGSTOP"), "{said}");
    forwarded("after STOP was refused");
    not_stopped("after STOP was refused");

    for (number, name) in [("6", "SIGABRT"), ("7", "SIGBUS")] {
        let (status, said) = w.signal(number);
        assert_eq!(status.code(), Some(1), "signal {number}: {said}");
        assert!(said.contains(&format!("refusing to send {name}")), "signal {number}: {said}");
        forwarded(&format!("after {name} was refused"));
        assert!(supervisor.alive(), "signal {number} ended the supervisor");
        not_stopped(&format!("after {name} was refused"));
    }

    let (status, said) = w.signal("TSTP");
    assert!(status.success(), "{said}");
    assert!(said.contains(&format!("sent SIGTSTP to pid {sup} (passed on to the program)")), "{said}");
    wait_until("PROGRAM to be stopped by TSTP", || proc_stat_field(program, 3).as_deref() == Some("T"));
    not_stopped("after TSTP");

    let tree = process_tree(sup);
    w.track(&tree);
    let (status, said) = w.stop(&[]);
    assert!(status.success(), "a stopped PROGRAM is still stopped by `stop`: {said}");
    assert!(said.contains(&format!("stopped (pid {sup})")), "{said}");
    assert_eq!(supervisor.reap().exit_status(), Some(0));
    assert!(ended(program));
    assert_tree_ended(&tree, "stop after TSTP");
    assert!(!w.pidfile().exists());
    w.assert_nothing_left();
}

/// The supervisor lives, and is neither stopped (`T`) nor a zombie.
fn supervisor_state_ok(pid: u32) -> bool {
    matches!(proc_stat_field(pid, 3).as_deref(), Some(state) if state != "T" && state != "t" && state != "Z")
}

/// Rule 4 (`status` decides as `stop` decides), a PID file `nobody` wrote in a sticky
/// directory naming a live root process: `status` does not call it running (4, "unknown", with
/// the reason) and `stop` and `signal` refuse it for the very same reason; the root process is
/// never signalled. A `status` that said "running" would make a script go on to `stop`.
#[test]
fn status_refuses_a_foreign_file_as_stop_does() {
    let Some(w) = World::new("status_refuses_a_foreign_file_as_stop_does") else { return };
    let mut victim = Victim::spawn(&w.bin("sleep"), &["1000"]);
    wait_until("the victim to sleep", || sleeping(victim.id()));
    nobody_sh(&format!("echo {} > {}", victim.id(), w.pidfile().display()));
    assert_eq!(std::fs::metadata(w.pidfile()).unwrap().uid(), NOBODY);
    let (status, said) = w.status();
    assert_eq!(status.code(), Some(4), "{said}");
    let reason = after(&said, "daemonic: status unknown: ");
    assert!(reason.contains("refusing to act on"), "{said}");
    let (stop_status, stop_said) = w.stop(&[]);
    assert_eq!(stop_status.code(), Some(1), "{stop_said}");
    assert!(stop_said.contains(&format!("daemonic: {reason}")), "stop's reason differs: {stop_said} / {said}");
    let (signal_status, signal_said) = w.signal("HUP");
    assert_eq!(signal_status.code(), Some(1), "{signal_said}");
    assert!(signal_said.contains(&format!("daemonic: {reason}")), "signal's reason differs: {signal_said}");
    assert!(victim.alive(), "root's process was signalled");
    assert_eq!(std::fs::read_to_string(w.pidfile()).unwrap(), format!("{}\n", victim.id()), "left alone");
    drop(victim);
    w.assert_nothing_left();
}

/// Rule 4, a root-owned PID file naming PID 1: `status` says why it will not act (4, "refusing
/// to signal PID 1"), as `stop` and `signal` refuse with the same words: init is never
/// signalled, and never reported as the service.
#[test]
fn status_refuses_a_file_naming_pid_1_as_stop_does() {
    let Some(w) = World::new("status_refuses_a_file_naming_pid_1_as_stop_does") else { return };
    std::fs::write(w.pidfile(), "1\n").unwrap();
    std::fs::set_permissions(w.pidfile(), std::fs::Permissions::from_mode(0o644)).unwrap();
    let (status, said) = w.status();
    assert_eq!(status.code(), Some(4), "{said}");
    let reason = after(&said, "daemonic: status unknown: ");
    assert!(reason.contains("refusing to signal PID 1"), "{said}");
    let (stop_status, stop_said) = w.stop(&[]);
    assert_eq!(stop_status.code(), Some(1), "{stop_said}");
    assert!(stop_said.contains(&format!("daemonic: {reason}")), "stop's reason differs: {stop_said} / {said}");
    let (signal_status, signal_said) = w.signal("HUP");
    assert_eq!(signal_status.code(), Some(1), "{signal_said}");
    assert!(signal_said.contains(&format!("daemonic: {reason}")), "signal's reason differs: {signal_said}");
    assert_eq!(std::fs::read_to_string(w.pidfile()).unwrap(), "1\n", "left alone");
    w.assert_nothing_left();
}

/// Rule 4 with the security model's "Paths": the service user owns the PID file's directory
/// and renames root's `--child-pidfile` (a root-owned file naming a live process: PROGRAM) over
/// the PID file. The file is not locked and its directory is not root's, so it proves nothing:
/// `status` says so (4, "not locked"), `stop` and `signal` refuse it, and neither PROGRAM nor
/// the supervisor is signalled.
#[test]
fn a_child_pidfile_renamed_over_the_pid_file_is_not_believed() {
    let Some(w) = World::new("a_child_pidfile_renamed_over_the_pid_file_is_not_believed") else { return };
    let run_dir = w.path("run");
    nobody_sh(&format!("mkdir -m 755 {}", run_dir.display()));
    let (pidfile, child_pidfile) = (run_dir.join("app.pid"), run_dir.join("child.pid"));
    let (pidfile_arg, child_arg) = (pidfile.to_str().unwrap(), child_pidfile.to_str().unwrap());
    let started = w.cli(&[
        "start",
        "--user",
        "nobody",
        "--pidfile",
        pidfile_arg,
        "--child-pidfile",
        child_arg,
        "--",
        &w.bin("sleep"),
        "1000",
    ]);
    let mut supervisor = Supervisor::new(started_pid(&started));
    let program = program_of(supervisor.pid());
    w.track(&[program]);
    wait_until("PROGRAM to sleep", || comm(program) == "sleep" && sleeping(program));
    assert_eq!(std::fs::read_to_string(&child_pidfile).unwrap(), format!("{program}\n"));
    assert_eq!(std::fs::read_to_string(&pidfile).unwrap(), format!("{}\n", supervisor.pid()));
    nobody_sh(&format!("mv {child_arg} {pidfile_arg}"));
    assert_eq!(std::fs::read_to_string(&pidfile).unwrap(), format!("{program}\n"), "the rename happened");

    let (status, said) = w.cli(&["status", "--pidfile", pidfile_arg]);
    assert_eq!(status.code(), Some(4), "{said}");
    let reason = after(&said, "daemonic: status unknown: ");
    assert!(reason.contains("not locked"), "{said}");
    let (stop_status, stop_said) = w.cli(&["stop", "--pidfile", pidfile_arg, "--timeout", "30"]);
    assert_eq!(stop_status.code(), Some(1), "{stop_said}");
    assert!(stop_said.contains(&format!("daemonic: {reason}")), "stop's reason differs: {stop_said} / {said}");
    let (signal_status, signal_said) = w.cli(&["signal", "--pidfile", pidfile_arg, "HUP"]);
    assert_eq!(signal_status.code(), Some(1), "{signal_said}");
    assert!(signal_said.contains(&format!("daemonic: {reason}")), "signal's reason differs: {signal_said}");
    assert!(!ended(program) && sleeping(program), "PROGRAM was signalled");
    assert!(supervisor.alive() && supervisor_state_ok(supervisor.pid()), "the supervisor was signalled");
    assert_eq!(children_of(supervisor.pid()), [program], "PROGRAM was not restarted either");
    // The test ends them: TERM to the supervisor, which ends PROGRAM.
    kill_process(Pid::from_raw(supervisor.pid() as i32).unwrap(), Signal::TERM).unwrap();
    assert_eq!(supervisor.reap().exit_status(), Some(0));
    assert!(ended(program));
    w.assert_nothing_left();
}

/// Rule 6 (smaller holes), umask: a caller's umask 0 never reaches the daemon (its files and
/// PROGRAM's would be world-writable): it becomes 022; any other umask is kept (027).
#[test]
fn a_callers_umask_0_becomes_022_and_others_are_kept() {
    let Some(w) = World::new("a_callers_umask_0_becomes_022_and_others_are_kept") else { return };
    for (umask, expect) in [("000", "0022"), ("027", "0027")] {
        let mut command = Command::new("sh");
        command
            .args(["-c", &format!("umask {umask}; exec \"$@\""), "sh", CLI, "start", "--pidfile", &w.pidfile_arg()])
            .args(["--user", "nobody", "--", &w.bin("sleep"), "1000"]);
        let (status, out, err) = run(command);
        let mut supervisor = Supervisor::new(started_pid(&(status, format!("{out}{err}"))));
        let program = program_of(supervisor.pid());
        w.track(&[program]);
        wait_until("PROGRAM to sleep", || comm(program) == "sleep" && sleeping(program));
        assert_eq!(proc_status(program, "Umask"), expect, "PROGRAM under the caller's umask {umask}");
        assert_eq!(proc_status(supervisor.pid(), "Umask"), expect, "the supervisor under umask {umask}");
        let (status, said) = w.stop(&[]);
        assert!(status.success(), "{said}");
        assert_eq!(supervisor.reap().exit_status(), Some(0));
        assert!(ended(program));
    }
    w.assert_nothing_left();
}

/// Rule 6, a file with the execute bit that is not a program (text without `#!`): `start`
/// fails with the kernel's reason (ENOEXEC), leaving no PID file and no process. `execvp`
/// would have run it through `/bin/sh` (as root, or as the service user) and reported success.
#[test]
fn a_file_that_is_not_a_program_is_not_run_through_a_shell() {
    let Some(w) = World::new("a_file_that_is_not_a_program_is_not_run_through_a_shell") else { return };
    let pwned = w.path("pwned");
    let text = w.path("not-a-program");
    std::fs::write(&text, format!("touch {}\n{} 1000\n", pwned.display(), w.bin("sleep"))).unwrap();
    std::fs::set_permissions(&text, std::fs::Permissions::from_mode(0o755)).unwrap();
    for user in [&[][..], &["--user", "nobody"][..]] {
        let (status, said) = w.start(user, &[text.to_str().unwrap()]);
        assert!(!status.success(), "{user:?}: {said}");
        assert!(said.contains("cannot execute") && said.contains("Exec format error"), "{user:?}: {said}");
        assert!(!w.pidfile().exists(), "{user:?}: the PID file is left");
        assert!(!w.tree_record().exists(), "{user:?}: the tree record is left");
        assert!(!pwned.exists(), "{user:?}: the text was run by a shell");
        w.assert_nothing_left();
    }
}

/// Rule 6, `--chroot` with `--notify-await`: PROGRAM could never reach the notification
/// socket outside its root, so the start would always time out; it is a usage error (2)
/// naming both options, before anything is started.
#[test]
fn chroot_with_notify_await_is_a_usage_error() {
    let Some(w) = World::new("chroot_with_notify_await_is_a_usage_error") else { return };
    let jail = w.path("jail");
    std::fs::create_dir(&jail).unwrap();
    let (status, said) = w.start(&["--chroot", jail.to_str().unwrap(), "--notify-await"], &[&w.bin("sleep"), "1000"]);
    assert_eq!(status.code(), Some(2), "{said}");
    assert!(said.contains("--chroot") && said.contains("--notify-await"), "{said}");
    assert!(!w.pidfile().exists());
    assert!(!w.tree_record().exists());
    w.assert_nothing_left();
}

/// Rule 6 (no peer can stall the supervisor), a syslog socket that never reads while PROGRAM
/// (`yes`, as `nobody`) floods it: the supervisor's sends never block, so a `stop` is answered
/// at once, not after the peer reads (which may be never).
#[test]
fn a_syslog_peer_that_never_reads_cannot_stall_a_stop() {
    let Some(w) = World::new("a_syslog_peer_that_never_reads_cannot_stall_a_stop") else { return };
    let socket_path = w.path("log.sock");
    let _socket = std::os::unix::net::UnixDatagram::bind(&socket_path).unwrap();
    let started =
        w.start(&["--user", "nobody", "--syslog", "--syslog-socket", socket_path.to_str().unwrap()], &[&w.bin("yes")]);
    let mut supervisor = Supervisor::new(started_pid(&started));
    let program = program_of(supervisor.pid());
    w.track(&[program]);
    assert_eq!(comm(program), "yes");
    std::thread::sleep(Duration::from_secs(1));
    let (status, said) = w.stop(&["--timeout", "10"]);
    assert!(status.success(), "{said}");
    assert!(said.contains(&format!("stopped (pid {})", supervisor.pid())), "{said}");
    assert_eq!(supervisor.reap().exit_status(), Some(0));
    assert!(ended(program));
    assert!(!w.pidfile().exists());
    w.assert_nothing_left();
}

/// Rule 6, what a full syslog socket did not take is counted and reported, never waited for:
/// after a flood (3 MB of `y` lines, as `nobody`) into a socket the test does not read, the
/// datagrams it reads afterwards include the count of those dropped, before the line PROGRAM
/// wrote after the flood (`sh -c 'yes | head -c 3000000; sleep 1; echo after-flood'`).
///
/// The test must start reading during PROGRAM's pause after the flood (else `after-flood`
/// itself finds the socket full and is dropped, rightly). A run where the test was too slow
/// for that (a loaded machine) proves nothing either way: it is said, and the run is repeated
/// with a longer pause, never counted as a pass.
#[test]
fn syslog_reports_what_it_dropped_before_the_next_line() {
    let Some(w) = World::new("syslog_reports_what_it_dropped_before_the_next_line") else { return };
    for pause in [1, 5, 20] {
        if let Some(messages) = flood(&w, pause) {
            let dropped = messages.iter().position(|m| m.contains("dropped"));
            let after = messages.len() - 1;
            assert!(
                dropped.is_some_and(|at| at < after),
                "no datagram reports the dropped ones before `after-flood`: {:?}",
                messages.iter().filter(|m| !m.ends_with(": y")).collect::<Vec<_>>()
            );
            eprintln!(
                "{} datagrams read after the flood; the report: {:?}",
                messages.len(),
                messages[dropped.unwrap()]
            );
            w.assert_nothing_left();
            return;
        }
        eprintln!("the test did not read within the {pause}s pause after the flood; again with a longer one");
    }
    panic!("the test never managed to read during the pause after the flood");
}

/// One run of the flood with a pause of `pause` seconds after it: the datagrams up to and
/// including `after-flood`, or `None` when the test was too slow to read during the pause.
fn flood(w: &World, pause: u32) -> Option<Vec<String>> {
    let socket_path = w.path(&format!("log-{pause}.sock"));
    let socket = std::os::unix::net::UnixDatagram::bind(&socket_path).unwrap();
    socket.set_nonblocking(true).unwrap();
    let script = format!(
        "{yes} | {head} -c 3000000; {sleep} {pause}; echo after-flood",
        yes = w.bin("yes"),
        head = w.bin("head"),
        sleep = w.bin("sleep")
    );
    let started = w.start(
        &["--user", "nobody", "--syslog", "--syslog-socket", socket_path.to_str().unwrap()],
        &[&w.bin("sh"), "-c", &script],
    );
    let mut supervisor = Supervisor::new(started_pid(&started));
    let program = program_of(supervisor.pid());
    w.track(&[program]);
    let mut messages = Vec::new();
    let receive = |messages: &mut Vec<String>| loop {
        let mut buffer = [0u8; 2048];
        match socket.recv(&mut buffer) {
            Ok(n) => messages.push(String::from_utf8_lossy(&buffer[..n]).into_owned()),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
            Err(e) => panic!("recv: {e}"),
        }
    };
    // The flood is over once the shell runs its `sleep`: only then does the test read.
    let pausing = format!("{}\u{0}{pause}\u{0}", w.bin("sleep"));
    wait_until("the flood to end (the shell's pause)", || !processes_mentioning(&pausing).is_empty() || ended(program));
    receive(&mut messages);
    // Read while the pause still ran: the socket had room when `after-flood` was sent.
    let in_time = !processes_mentioning(&pausing).is_empty();
    let start = Instant::now();
    let is_after = |m: &String| m.ends_with(": after-flood");
    while in_time && !messages.iter().any(is_after) {
        assert!(
            start.elapsed() < TIMEOUT,
            "no `after-flood` datagram; {} received, the last: {:?}",
            messages.len(),
            messages.last()
        );
        std::thread::sleep(Duration::from_millis(1));
        receive(&mut messages);
    }
    let exit = supervisor.reap();
    assert_eq!(exit.exit_status(), Some(0), "the shell's status: {exit:?}");
    assert!(!w.pidfile().exists());
    // Up to and including `after-flood` (the supervisor's own last lines may follow it).
    let end = messages.iter().position(is_after).map_or(messages.len(), |at| at + 1);
    messages.truncate(end);
    in_time.then_some(messages)
}

/// Rule 1's limit, made safe: under `--foreground` the supervisor runs in its caller's session
/// (a login shell's, a service manager's), whose other processes are not the service's. Its
/// record names no session, so a `stop` after it was KILLed never touches the caller's
/// processes (here: a sibling in the same session, which must survive), while it still removes
/// the stale PID file.
#[test]
fn a_foreground_supervisor_never_records_its_callers_session() {
    let Some(w) = World::new("a_foreground_supervisor_never_records_its_callers_session") else { return };
    // A shell (the "caller", a session leader of its own via setsid) runs a bystander and the
    // foreground supervisor in its session.
    let script = format!(
        "{sleep} 1003 & exec {cli} start --foreground --pidfile {pidfile} -- {sleep} 1004",
        sleep = w.bin("sleep"),
        cli = CLI,
        pidfile = w.pidfile_arg()
    );
    let mut caller = Command::new("setsid");
    caller.args(["--wait", &w.bin("sh"), "-c", &script, w.needle.as_str()]);
    let mut child = daemonic_tests::spawn(&mut caller);
    let _caller = daemonic_tests::KillOnDrop(child.id());
    wait_until("the record of the foreground supervisor", || w.tree_record().exists());
    let record = std::fs::read_to_string(w.tree_record()).unwrap();
    assert!(record.contains("supervisor=") && !record.contains("session="), "{record}");
    let supervisor = std::fs::read_to_string(w.pidfile()).unwrap().trim().parse::<u32>().unwrap();
    let bystanders: Vec<u32> = processes_mentioning("1003").into_iter().filter(|&pid| comm(pid) == "sleep").collect();
    assert_eq!(bystanders.len(), 1, "{bystanders:?}");
    w.track(&bystanders);
    // The caller exec'd into the supervisor: it is the test's child, and a session leader.
    assert_eq!(supervisor, child.id());
    kill_process(Pid::from_raw(supervisor as i32).unwrap(), Signal::KILL).unwrap();
    // Reaped: no zombie keeps the session's leader visible.
    assert_eq!(child.wait().unwrap().signal(), Some(libc::SIGKILL));
    let (status, said) = w.stop(&[]);
    assert!(status.success() && said.contains("not running"), "{said}");
    assert!(!said.contains("ended"), "{said}");
    assert!(!ended(bystanders[0]), "a process of the caller's session was ended: {said}");
    let _ = kill_process(Pid::from_raw(bystanders[0] as i32).unwrap(), Signal::KILL);
}

/// A failure in PROGRAM's process between `fork` and `exec` names the step that failed, not
/// "cannot execute": `nobody` asking for `--user root` gets `cannot switch to user root:
/// Operation not permitted`, exit 1, and nothing is left (no PID file, no tree record).
#[test]
fn a_failed_step_before_exec_is_named() {
    let Some(w) = World::new("a_failed_step_before_exec_is_named") else { return };
    let mut command = Command::new(CLI);
    as_nobody(
        command.args(["start", "--pidfile", &w.pidfile_arg(), "--user", "root", "--"]).arg(w.bin("sleep")).arg("1005"),
    );
    let (status, out, err) = run(command);
    assert_eq!(status.code(), Some(1), "{out}{err}");
    assert_eq!(err, "daemonic: cannot switch to user root: Operation not permitted\n", "{out}");
    assert!(!w.pidfile().exists() && !w.tree_record().exists());
    w.assert_nothing_left();
}
