//! `cargo xtask faults`: a fault sweep of the `daemonic` command under `strace -e inject`
//! (Linux, root).
//!
//! Each scenario is first run clean under `strace -f -o TRACE`; the system calls our code makes
//! there (not the dynamic loader's, not PROGRAM's after its `exec`) are then made to fail, one
//! syscall × errno × invocation number per run, each run in a fresh directory with its own
//! TMPDIR and a marker in the environment of every process it starts. After each run the
//! invariant is checked: a started service that `status` confirms and `stop` ends without a
//! trace, or a clear error and nothing left behind (no process, no PID file, no notification
//! directory); never a hang. The sweep follows the code: add a system call to `start` and it is
//! swept on the next run.
//!
//! strace counts `when=N` per tracee (checked: each process, and each thread, counts its own
//! calls of the syscall from 1; a forked child starts again at 1, an `exec` does not reset the
//! count, and the `execve` strace starts its first tracee with is not counted). So one run hits
//! the N-th call in the launcher, the daemon, the supervisor and PROGRAM's child alike: the
//! invocation numbers swept are, for each process, those of its own first
//! [`plan::CALLS_PER_PROCESS`] calls. In the launcher the first calls of some syscalls
//! (`openat`, `read`, `rt_sigaction`, ...) are the dynamic loader's and the Rust runtime's
//! start-up: a number that lands there would only test ld.so, so for the processes it forks the
//! first calls beyond those numbers are taken instead (the numbers left out are printed as
//! start-up collisions).
//!
//! Files: `trace.rs` reads strace's output, `plan.rs` turns a clean trace into faults,
//! `judge.rs` holds the scenarios and the invariant (all three pure, unit-tested); this file
//! runs them.

mod judge;
mod plan;
mod trace;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use judge::{judge, violation_class, Finished, Observation, Scenario, SCENARIOS};
use plan::{plan, Fault};
use trace::{Ended, Trace, Traced, RUN_TIMEOUT};

/// Every process a run starts carries `DAEMONIC_FAULTS_RUN=<marker>` in its environment (PROGRAM
/// too: the command passes its environment on), so leftovers are found whatever their argv.
const MARKER_VARIABLE: &str = "DAEMONIC_FAULTS_RUN";

/// How long processes of a finished run may take to disappear (an exit in progress).
const GRACE: Duration = Duration::from_millis(1500);

/// At most two runs at once: the CI machine has two cores, and other builds run beside.
const MAX_JOBS: usize = 2;

/// Command-line options of `cargo xtask faults`.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Options {
    /// Scenarios to run; empty: all.
    pub(crate) only: Vec<Scenario>,
    /// Only this system call.
    pub(crate) syscall: Option<String>,
    /// Go on after the first violation (CI does, to list them all).
    pub(crate) keep_going: bool,
    /// Concurrent runs (1 or 2).
    pub(crate) jobs: usize,
}

impl Options {
    pub(crate) fn parse(args: &[String]) -> Result<Options, String> {
        let mut options = Options { jobs: MAX_JOBS, ..Options::default() };
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            let mut value = || args.next().cloned().ok_or(format!("{arg} needs a value"));
            match arg.as_str() {
                "--only" => {
                    let name = value()?;
                    let scenario = Scenario::from_name(&name).ok_or_else(|| {
                        let names: Vec<&str> = SCENARIOS.iter().map(|s| s.name()).collect();
                        format!("unknown scenario {name:?} (one of {})", names.join(", "))
                    })?;
                    options.only.push(scenario);
                }
                "--syscall" => options.syscall = Some(value()?),
                "--keep-going" => options.keep_going = true,
                "--jobs" => {
                    let jobs = value()?;
                    options.jobs = jobs
                        .parse()
                        .ok()
                        .filter(|n| (1..=MAX_JOBS).contains(n))
                        .ok_or(format!("--jobs {jobs:?}: 1 or {MAX_JOBS}"))?;
                }
                other => return Err(format!("unknown option {other:?}")),
            }
        }
        Ok(options)
    }

    fn scenarios(&self) -> Vec<Scenario> {
        if self.only.is_empty() {
            SCENARIOS.to_vec()
        } else {
            SCENARIOS.iter().copied().filter(|s| self.only.contains(s)).collect()
        }
    }
}

/// Why the sweep cannot run here (`None`: it can): Linux, root and strace are needed.
pub(crate) fn unavailable() -> Option<String> {
    if !cfg!(target_os = "linux") {
        return Some("Linux only (strace -e inject)".into());
    }
    let root = fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix("Uid:").map(|u| u.split_whitespace().nth(1) == Some("0"))))
        .unwrap_or(false);
    if !root {
        return Some("needs root (it scans every process's environment for leftovers)".into());
    }
    let strace = Command::new("strace").arg("-V").stdout(Stdio::null()).stderr(Stdio::null()).status();
    if !strace.is_ok_and(|s| s.success()) {
        return Some("strace not installed; `apt-get install strace` (.ci/run does)".into());
    }
    None
}

// ---------------------------------------------------------------------------------------------
// Running.

/// What every run needs: the binaries.
#[derive(Debug)]
struct Tools {
    daemonic: PathBuf,
    sleep: PathBuf,
    /// This binary: PROGRAM of `start-notify`.
    xtask: PathBuf,
    /// Where each run's directory is made.
    base: PathBuf,
}

/// One run's directory, marker and commands.
struct RunDir<'a> {
    tools: &'a Tools,
    dir: PathBuf,
    marker: String,
}

impl RunDir<'_> {
    fn pidfile(&self) -> PathBuf {
        self.dir.join("p.pid")
    }

    fn start_args(&self, notify: bool) -> Vec<String> {
        let log = self.dir.join("out.log");
        start_args(self.tools, &self.pidfile().display().to_string(), &log.display().to_string(), notify)
    }

    fn command_args(&self, scenario: Scenario) -> Vec<String> {
        let pidfile = self.pidfile().display().to_string();
        match scenario {
            Scenario::Start => self.start_args(false),
            Scenario::StartNotify => self.start_args(true),
            Scenario::Stop => vec!["stop".into(), "--pidfile".into(), pidfile, "--timeout".into(), "5".into()],
            Scenario::Status => vec!["status".into(), "--pidfile".into(), pidfile],
            Scenario::Reopen | Scenario::SupervisorStop | Scenario::SupervisorExit => {
                vec!["reopen".into(), "--pidfile".into(), pidfile]
            }
        }
    }

    /// A command of this run: its own TMPDIR, the marker, output to files.
    fn command(&self, program: &Path, args: &[String], output: &str) -> io::Result<Command> {
        let mut command = Command::new(program);
        command
            .args(args)
            .current_dir(&self.dir)
            .env("TMPDIR", &self.dir)
            // `cargo run` adds the toolchain's directories: dozens more loader calls at start-up.
            .env_remove("LD_LIBRARY_PATH")
            .env(MARKER_VARIABLE, &self.marker)
            .stdin(Stdio::null())
            .stdout(File::create(self.dir.join(format!("{output}.out")))?)
            .stderr(File::create(self.dir.join(format!("{output}.err")))?);
        Ok(command)
    }

    fn outputs(&self, output: &str) -> (String, String) {
        let read = |ext: &str| fs::read_to_string(self.dir.join(format!("{output}.{ext}"))).unwrap_or_default();
        (read("out"), read("err"))
    }

    /// Runs `daemonic ARGS` untraced, within the timeout (killed and reported as a hang after).
    fn daemonic(&self, args: &[String], output: &str) -> Finished {
        let ended = match self.command(&self.tools.daemonic, args, output).and_then(|mut c| c.spawn()) {
            Ok(mut child) => wait_timeout(&mut child, RUN_TIMEOUT),
            Err(e) => return Finished { ended: Ended::Code(-1), stdout: String::new(), stderr: e.to_string() },
        };
        let (stdout, stderr) = self.outputs(output);
        Finished { ended, stdout, stderr }
    }

    fn strace(&self, fault: Option<&Fault>, target: StraceTarget<'_>) -> io::Result<Child> {
        // -I2: strace can be told to detach (SIGTERM) while it waits; with `-o FILE PROG` it
        // would otherwise block fatal signals until every tracee is gone.
        let mut args: Vec<String> = vec!["-f".into(), "-q".into(), "-I2".into(), "-o".into()];
        args.push(self.dir.join("trace").display().to_string());
        if let Some(fault) = fault {
            args.extend(["-e".into(), fault.inject()]);
        }
        match target {
            StraceTarget::Command(command) => {
                args.push("--".into());
                args.push(self.tools.daemonic.display().to_string());
                args.extend(command.iter().cloned());
            }
            StraceTarget::Attach(pid) => args.extend(["-p".into(), pid.to_string()]),
        }
        self.command(Path::new("strace"), &args, "traced")?.spawn()
    }

    fn trace(&self, traced: Traced) -> Trace {
        Trace::parse(&fs::read_to_string(self.dir.join("trace")).unwrap_or_default(), traced)
    }

    /// The run's processes still alive after the grace period, as `pid cmdline`.
    fn leftovers(&self) -> Vec<String> {
        let deadline = Instant::now() + GRACE;
        loop {
            let left = marked_processes(&self.marker);
            if left.is_empty() || Instant::now() >= deadline {
                return left.into_iter().map(|(pid, cmdline)| format!("{pid} {cmdline}")).collect();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn notify_dirs(&self) -> Vec<String> {
        fs::read_dir(&self.dir)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|name| name.starts_with("daemonic-notify-"))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Status, stop if running, and what is left: the end of every run.
    fn settle(&self, seen: &mut Observation) {
        let pidfile = self.pidfile().display().to_string();
        let status = self.daemonic(&["status".into(), "--pidfile".into(), pidfile.clone()], "status");
        if status.ended == Ended::Code(0) {
            let stop = ["stop", "--pidfile", &pidfile, "--timeout", "5"].map(String::from);
            seen.stop = Some(self.daemonic(&stop, "stop"));
        }
        seen.status = Some(status);
        seen.leftovers = self.leftovers();
        seen.pidfile_left = self.pidfile().exists();
        seen.notify_dirs_left = self.notify_dirs();
    }

    /// Kills whatever the run left, removes its directory.
    fn clean_up(&self) {
        for _ in 0..50 {
            let left = marked_processes(&self.marker);
            if left.is_empty() {
                break;
            }
            for (pid, _) in left {
                send_signal(pid, "KILL");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// `start`'s arguments: PROGRAM is `sleep 1000`, or with `notify` this binary sending READY=1.
fn start_args(tools: &Tools, pidfile: &str, log: &str, notify: bool) -> Vec<String> {
    let mut args: Vec<String> = ["start", "--pidfile", pidfile, "--stdout", log].map(String::from).to_vec();
    // A short kill timeout keeps a run that must end PROGRAM short.
    args.extend(["--timeout", "2"].map(String::from));
    if notify {
        args.extend(["--notify-await", "--notify-timeout", "5", "--"].map(String::from));
        args.extend([tools.xtask.display().to_string(), NOTIFY_PROGRAM.into()]);
    } else {
        args.extend(["--".into(), tools.sleep.display().to_string(), "1000".into()]);
    }
    args
}

/// PROGRAM of the `start-notify` scenario: `xtask faults-notify-program` sends READY=1 to
/// `$NOTIFY_SOCKET` (as `systemd-notify --ready` would, which may not be installed), then sleeps.
pub(crate) const NOTIFY_PROGRAM: &str = "faults-notify-program";

pub(crate) fn notify_program() -> ExitCode {
    let Some(socket) = std::env::var_os("NOTIFY_SOCKET") else {
        eprintln!("xtask {NOTIFY_PROGRAM}: no NOTIFY_SOCKET");
        return ExitCode::FAILURE;
    };
    let sent = std::os::unix::net::UnixDatagram::unbound().and_then(|s| s.send_to(b"READY=1", &socket));
    if let Err(e) = sent {
        eprintln!("xtask {NOTIFY_PROGRAM}: cannot send READY=1: {e}");
        return ExitCode::FAILURE;
    }
    loop {
        std::thread::sleep(Duration::from_secs(1000));
    }
}

#[derive(Clone, Copy)]
enum StraceTarget<'a> {
    Command(&'a [String]),
    Attach(u32),
}

/// Waits for `child` at most `timeout`; kills it then (a hang).
fn wait_timeout(child: &mut Child, timeout: Duration) -> Ended {
    match wait_timeout_or_keep(child, timeout) {
        Some(status) => Ended::from_status(status),
        None => {
            let _ = child.kill();
            let _ = child.wait();
            Ended::Hang
        }
    }
}

/// Waits for `child` at most `timeout`; `None` (still running) after.
fn wait_timeout_or_keep(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
            Ok(status) => return status,
            Err(_) => return None,
        }
    }
}

/// `kill -s SIG PID` (std has no `kill(2)` but SIGKILL for its own children).
fn send_signal(pid: u32, signal: &str) {
    let _ = Command::new("kill")
        .args(["-s", signal, &pid.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Ends strace: SIGTERM makes it detach from its tracees (they run on); SIGKILL if it will not.
fn detach(strace: &mut Child) {
    if matches!(strace.try_wait(), Ok(Some(_))) {
        return;
    }
    send_signal(strace.id(), "TERM");
    if wait_timeout(strace, Duration::from_secs(5)) == Ended::Hang {
        eprintln!("xtask faults: strace {} did not detach; killed", strace.id());
    }
}

/// Live (not zombie) processes whose environment holds the run's marker: `(pid, cmdline)`.
fn marked_processes(marker: &str) -> Vec<(u32, String)> {
    let needle = format!("{MARKER_VARIABLE}={marker}\0").into_bytes();
    let me = std::process::id();
    let Ok(entries) = fs::read_dir("/proc") else { return Vec::new() };
    let mut found = Vec::new();
    for entry in entries.filter_map(Result::ok) {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        if pid == me {
            continue;
        }
        let Ok(environ) = fs::read(entry.path().join("environ")) else { continue };
        if !environ.windows(needle.len()).any(|w| w == needle.as_slice()) {
            continue;
        }
        if !alive(pid) {
            continue;
        }
        let cmdline = fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ").trim().to_owned();
        found.push((pid, cmdline));
    }
    found
}

/// Waits until `path` shows the first process's exit (strace goes on tracing the daemon); a
/// hang after [`RUN_TIMEOUT`]; `None` when strace ended without it (it could not start it).
fn wait_for_first_exit(strace: &mut Child, path: &Path, traced: Traced) -> Option<(Ended, Trace)> {
    let deadline = Instant::now() + RUN_TIMEOUT;
    loop {
        let done = matches!(strace.try_wait(), Ok(Some(_)));
        let trace = Trace::parse(&fs::read_to_string(path).unwrap_or_default(), traced);
        if let Some(ended) = trace.first_exit() {
            return Some((ended.clone(), trace));
        }
        if done {
            return None;
        }
        if Instant::now() >= deadline {
            return Some((Ended::Hang, trace));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Whether `pid` exists and is not a zombie (its state in `/proc/PID/stat`, after the command
/// name, which may itself hold `) `).
fn alive(pid: u32) -> bool {
    let state = fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(") ").and_then(|(_, rest)| rest.chars().next()));
    !matches!(state, None | Some('Z' | 'X'))
}

/// Waits until `pid` is gone (or a zombie), at most `timeout`.
fn wait_gone(pid: u32, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if !alive(pid) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Waits until strace is attached to `pid` (its `TracerPid`).
fn wait_traced(pid: u32, tracer: u32) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let traced_by = status.lines().find_map(|l| l.strip_prefix("TracerPid:")).map(str::trim);
        if traced_by == Some(tracer.to_string().as_str()) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    false
}

/// The outcome of one run.
#[derive(Debug)]
struct Outcome {
    scenario: Scenario,
    fault: Option<Fault>,
    verdict: Result<(), String>,
    /// The clean run's trace (for the plan).
    trace: Option<Trace>,
    injected: bool,
    program_faulted: bool,
    repro: String,
}

/// One run: setup, the traced part, the invariant, clean-up whatever happened.
fn run_one(tools: &Tools, id: usize, scenario: Scenario, fault: Option<&Fault>) -> Outcome {
    let marker = format!("{}-{id}", std::process::id());
    let run = RunDir { tools, dir: tools.base.join(format!("r{id}")), marker };
    let mut outcome = Outcome {
        scenario,
        fault: fault.cloned(),
        verdict: Ok(()),
        trace: None,
        injected: false,
        program_faulted: false,
        repro: repro(tools, scenario, fault),
    };
    let _ = fs::remove_dir_all(&run.dir);
    if let Err(e) = fs::create_dir_all(&run.dir) {
        outcome.verdict = Err(format!("harness: cannot create {}: {e}", run.dir.display()));
        return outcome;
    }
    let result = exercise(&run, scenario, fault);
    run.clean_up();
    match result {
        Ok((seen, trace)) => {
            outcome.injected = seen.injected;
            outcome.program_faulted = seen.program_faulted;
            outcome.verdict = judge(scenario, &seen);
            outcome.trace = Some(trace);
        }
        Err(e) => outcome.verdict = Err(format!("harness: {e}")),
    }
    outcome
}

fn exercise(run: &RunDir<'_>, scenario: Scenario, fault: Option<&Fault>) -> Result<(Observation, Trace), String> {
    let mut seen = Observation::default();
    let traced = if scenario.attaches() { Traced::Attached } else { Traced::Started };
    if !scenario.starts() {
        let started = run.daemonic(&run.start_args(false), "setup");
        if started.ended != Ended::Code(0) {
            return Err(format!("setup: start {}: {}", started.ended.describe(), started.stderr.trim()));
        }
    }
    let trace = if scenario.attaches() {
        let supervisor = fs::read_to_string(run.pidfile())
            .ok()
            .and_then(|s| s.trim().parse::<u32>().ok())
            .ok_or("setup: no pid in the PID file")?;
        let mut strace = run.strace(fault, StraceTarget::Attach(supervisor)).map_err(|e| format!("strace: {e}"))?;
        if !wait_traced(supervisor, strace.id()) {
            detach(&mut strace);
            return Err("strace did not attach".into());
        }
        if scenario == Scenario::SupervisorStop {
            let _ = run.daemonic(&run.command_args(Scenario::Reopen), "reopen");
            let stop = ["stop", "--pidfile", &run.pidfile().display().to_string(), "--timeout", "5"].map(String::from);
            seen.command = Some(run.daemonic(&stop, "command"));
        } else {
            // PROGRAM exits by itself: the supervisor must clean up and exit.
            let children =
                fs::read_to_string(format!("/proc/{supervisor}/task/{supervisor}/children")).unwrap_or_default();
            for child in children.split_whitespace().filter_map(|p| p.parse::<u32>().ok()) {
                send_signal(child, "TERM");
            }
            let ended = if wait_gone(supervisor, RUN_TIMEOUT) { Ended::Code(0) } else { Ended::Hang };
            seen.command = Some(Finished { ended, stdout: String::new(), stderr: String::new() });
        }
        // strace ends with the supervisor; if that still runs, strace detaches from it (never
        // SIGKILL: the supervisor must outlive its tracer for the checks that follow).
        if wait_timeout_or_keep(&mut strace, Duration::from_millis(500)).is_none() {
            detach(&mut strace);
        }
        run.trace(traced)
    } else {
        let args = run.command_args(scenario);
        let mut strace = run.strace(fault, StraceTarget::Command(&args)).map_err(|e| format!("strace: {e}"))?;
        let waited = wait_for_first_exit(&mut strace, &run.dir.join("trace"), traced);
        // Read before strace is told to detach: it shares the command's stderr.
        let (stdout, stderr) = run.outputs("traced");
        let Some((ended, trace)) = waited else {
            return Err(format!("strace ended without the command's exit: {}", stderr.trim()));
        };
        detach(&mut strace);
        seen.command = Some(Finished { ended, stdout, stderr });
        trace
    };
    seen.injected = !trace.injected.is_empty();
    seen.program_faulted = trace.program_faulted();
    seen.message_lost = !scenario.attaches() && trace.message_write_faulted();
    run.settle(&mut seen);
    Ok((seen, run.trace(traced)))
}

/// A shell command that reproduces one run by hand.
fn repro(tools: &Tools, scenario: Scenario, fault: Option<&Fault>) -> String {
    let d = tools.daemonic.display();
    let inject = fault.map(|f| format!(" -e {}", f.inject())).unwrap_or_default();
    let start = start_args(tools, "$d/p.pid", "$d/out.log", scenario == Scenario::StartNotify).join(" ");
    let start = format!("{d} {start}");
    let status = format!("{d} status --pidfile $d/p.pid");
    let prefix = "d=$(mktemp -d); export TMPDIR=$d; ";
    let strace = format!("strace -f -q -I2 -o $d/trace{inject}");
    match scenario {
        Scenario::Start | Scenario::StartNotify => format!(
            "{prefix}{strace} {start} & sleep 3; l=$(head -1 $d/trace | cut -d' ' -f1); \
             grep -e \"^$l .*+++\" -e INJECTED $d/trace; {status}; ls $d"
        ),
        Scenario::Stop | Scenario::Status | Scenario::Reopen => {
            let command = match scenario {
                Scenario::Stop => format!("{d} stop --pidfile $d/p.pid --timeout 5"),
                Scenario::Status => format!("{d} status --pidfile $d/p.pid"),
                _ => format!("{d} reopen --pidfile $d/p.pid"),
            };
            format!("{prefix}{start} && {strace} {command}; echo \"exit $?\"; {status}; ls $d")
        }
        Scenario::SupervisorStop => format!(
            "{prefix}{start} && {{ {strace} -p $(cat $d/p.pid) & sleep 1; }}; {d} reopen --pidfile $d/p.pid; \
             {d} stop --pidfile $d/p.pid --timeout 5; echo \"exit $?\"; {status}; ls $d"
        ),
        Scenario::SupervisorExit => format!(
            "{prefix}{start} && {{ {strace} -p $(cat $d/p.pid) & sleep 1; }}; \
             kill $(cat /proc/$(cat $d/p.pid)/task/*/children); sleep 3; {status}; ls $d"
        ),
    }
}

// ---------------------------------------------------------------------------------------------
// The sweep.

pub(crate) fn run(options: &Options) -> ExitCode {
    if let Some(reason) = unavailable() {
        eprintln!("xtask faults: cannot run: {reason}");
        return ExitCode::FAILURE;
    }
    let started = Instant::now();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_default();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    println!("xtask faults: building the daemonic command");
    let built = Command::new(&cargo)
        .args(["build", "--quiet", "-p", "daemonic", "--features", "cli", "--bin", "daemonic"])
        .current_dir(&root)
        .status();
    if !built.is_ok_and(|s| s.success()) {
        eprintln!("xtask faults: cannot build the daemonic command");
        return ExitCode::FAILURE;
    }
    let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root.join("target"));
    let sleep = ["/usr/bin/sleep", "/bin/sleep"].iter().map(PathBuf::from).find(|p| p.exists());
    let Some(sleep) = sleep else {
        eprintln!("xtask faults: no sleep(1) in /usr/bin or /bin");
        return ExitCode::FAILURE;
    };
    let base = std::env::temp_dir().join(format!("daemonic-faults-{}", std::process::id()));
    let xtask = match std::env::current_exe() {
        Ok(xtask) => xtask,
        Err(e) => {
            eprintln!("xtask faults: cannot find xtask itself: {e}");
            return ExitCode::FAILURE;
        }
    };
    let tools = Tools { daemonic: target.join("debug/daemonic"), sleep, xtask, base };
    let outcome = sweep(&tools, options);
    let _ = fs::remove_dir_all(&tools.base);
    println!("\nxtask faults: {} (wall time {:.0} s)", outcome.1, started.elapsed().as_secs_f64());
    if outcome.0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Discovers, plans and runs every scenario; prints the tables. `(passed, totals line)`.
fn sweep(tools: &Tools, options: &Options) -> (bool, String) {
    let next_id = AtomicUsize::new(0);
    let mut outcomes: Vec<Outcome> = Vec::new();
    let mut jobs: Vec<(Scenario, Fault)> = Vec::new();
    let mut clean_failures = 0;
    for scenario in options.scenarios() {
        let clean = run_one(tools, next_id.fetch_add(1, Ordering::Relaxed), scenario, None);
        let Some(trace) = clean.trace.as_ref().filter(|_| clean.verdict.is_ok()) else {
            println!(
                "{}: the clean run fails: {}\n    {}",
                scenario.name(),
                clean.verdict.as_ref().err().map(String::as_str).unwrap_or("no trace"),
                clean.repro
            );
            clean_failures += 1;
            outcomes.push(clean);
            continue;
        };
        let plan = plan(trace, options.syscall.as_deref());
        let syscalls: BTreeSet<&str> = plan.faults.iter().map(|f| f.syscall.as_str()).collect();
        let numbered = |list: &[(String, u32)]| list.iter().map(|(s, n)| format!("{s}#{n}")).collect::<Vec<_>>();
        let mut line = format!(
            "{}: {} runs over {} system calls ({})",
            scenario.name(),
            plan.faults.len(),
            syscalls.len(),
            syscalls.iter().copied().collect::<Vec<_>>().join(" ")
        );
        if !plan.excluded.is_empty() {
            line.push_str(&format!("; not injected: {}", plan.excluded.join(" ")));
        }
        if !plan.collisions.is_empty() {
            line.push_str(&format!("; start-up collisions not run: {}", numbered(&plan.collisions).join(" ")));
        }
        if !plan.pointless.is_empty() {
            line.push_str(&format!("; no real error to inject: {}", numbered(&plan.pointless).join(" ")));
        }
        println!("{line}");
        jobs.extend(plan.faults.into_iter().map(|fault| (scenario, fault)));
    }
    let total = jobs.len();
    println!("xtask faults: {total} runs, {} at a time\n", options.jobs);
    let queue = Arc::new(Mutex::new(jobs.into_iter().collect::<VecDeque<_>>()));
    let stop = Arc::new(AtomicBool::new(false));
    let (tell, told) = mpsc::channel();
    std::thread::scope(|scope| {
        for _ in 0..options.jobs {
            let (queue, stop, tell, next_id) = (Arc::clone(&queue), Arc::clone(&stop), tell.clone(), &next_id);
            scope.spawn(move || loop {
                if stop.load(Ordering::Relaxed) {
                    return;
                }
                let Some((scenario, fault)) = queue.lock().ok().and_then(|mut q| q.pop_front()) else { return };
                let outcome = run_one(tools, next_id.fetch_add(1, Ordering::Relaxed), scenario, Some(&fault));
                if outcome.verdict.is_err() && !options.keep_going {
                    stop.store(true, Ordering::Relaxed);
                }
                if tell.send(outcome).is_err() {
                    return;
                }
            });
        }
        drop(tell);
        let mut done = 0;
        for outcome in told {
            done += 1;
            if let Err(reason) = &outcome.verdict {
                let fault = outcome.fault.as_ref().map(describe_fault).unwrap_or_default();
                println!("[{done}/{total}] VIOLATION {} {fault}: {reason}", outcome.scenario.name());
                println!("    reproduce: {}", outcome.repro);
            } else if done % 50 == 0 {
                println!("[{done}/{total}] ...");
            }
            outcomes.push(outcome);
        }
    });
    let (table, passed) = report(&outcomes, total, clean_failures);
    println!("\n{table}");
    let violations = outcomes.iter().filter(|o| o.verdict.is_err()).count();
    let clean = options.scenarios().len();
    let line = format!(
        "{} fault runs (after {clean} clean discovery runs), {} violations{}",
        outcomes.iter().filter(|o| o.fault.is_some()).count(),
        violations,
        if !options.keep_going && violations > 0 { " (stopped at the first; --keep-going for all)" } else { "" }
    );
    (passed, line)
}

fn describe_fault(fault: &Fault) -> String {
    format!("{} {} when={}", fault.syscall, fault.errno, fault.when)
}

/// The summary: per scenario × syscall × errno, each invocation number's verdict; then each
/// violation class with one reproduction.
fn report(outcomes: &[Outcome], planned: usize, clean_failures: usize) -> (String, bool) {
    let mut rows: BTreeMap<(Scenario, String, &str), Vec<String>> = BTreeMap::new();
    let mut classes: BTreeMap<(Scenario, String), Vec<&Outcome>> = BTreeMap::new();
    let (mut ok, mut not_reached, mut program) = (0, 0, 0);
    for outcome in outcomes {
        let Some(fault) = &outcome.fault else {
            if let Err(reason) = &outcome.verdict {
                classes.entry((outcome.scenario, format!("clean run: {}", violation_class(reason)))).or_default();
            }
            continue;
        };
        let cell = match &outcome.verdict {
            Ok(()) if !outcome.injected => {
                not_reached += 1;
                format!("{}:-", fault.when)
            }
            Ok(()) if outcome.program_faulted => {
                program += 1;
                format!("{}:ok(P)", fault.when)
            }
            Ok(()) => {
                ok += 1;
                format!("{}:ok", fault.when)
            }
            Err(reason) => {
                classes.entry((outcome.scenario, violation_class(reason))).or_default().push(outcome);
                format!("{}:VIOLATION", fault.when)
            }
        };
        rows.entry((outcome.scenario, fault.syscall.clone(), fault.errno)).or_default().push(cell);
    }
    let mut table = String::from(
        "scenario         syscall            errno    when=N: ok, ok(P) = PROGRAM itself faulted, - = not reached\n",
    );
    for ((scenario, syscall, errno), mut cells) in rows {
        cells.sort_by_key(|c| c.split(':').next().and_then(|n| n.parse::<u32>().ok()));
        table.push_str(&format!("{:<16} {syscall:<18} {errno:<8} {}\n", scenario.name(), cells.join(" ")));
    }
    let violations: usize = outcomes.iter().filter(|o| o.verdict.is_err()).count();
    if !classes.is_empty() {
        table.push_str(&format!("\n{} violation classes:\n", classes.len()));
        for ((scenario, class), members) in &classes {
            table.push_str(&format!("\n* {} ({} runs): {class}\n", scenario.name(), members.len()));
            if let Some(first) = members.first() {
                let fault = first.fault.as_ref().map(describe_fault).unwrap_or_default();
                table.push_str(&format!(
                    "  e.g. {fault}: {}\n",
                    first.verdict.as_ref().err().cloned().unwrap_or_default()
                ));
                let faults: Vec<String> = members.iter().filter_map(|m| m.fault.as_ref()).map(describe_fault).collect();
                if faults.len() > 1 {
                    let shown: Vec<&str> = faults.iter().take(12).map(String::as_str).collect();
                    table.push_str(&format!(
                        "  also: {}{}\n",
                        shown[1..].join(", "),
                        if faults.len() > 12 { ", ..." } else { "" }
                    ));
                }
                table.push_str(&format!("  reproduce: {}\n", first.repro));
            }
        }
    }
    table.push_str(&format!(
        "\n{planned} fault runs planned, {} run: {ok} ok, {program} ok with PROGRAM faulted, {not_reached} fault not \
         reached, {violations} violations; {clean_failures} clean runs failed\n",
        outcomes.iter().filter(|o| o.fault.is_some()).count()
    ));
    (table, violations == 0 && clean_failures == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options() {
        let options =
            Options::parse(&["--only", "stop", "--syscall", "flock", "--keep-going"].map(String::from)).unwrap();
        assert_eq!(options.scenarios(), [Scenario::Stop]);
        assert_eq!(options.syscall.as_deref(), Some("flock"));
        assert!(options.keep_going && options.jobs == MAX_JOBS);
        assert!(Options::parse(&["--only", "x"].map(String::from)).unwrap_err().contains("one of start"));
        assert!(Options::parse(&["--jobs", "3"].map(String::from)).is_err());
        assert_eq!(Options::parse(&[]).unwrap().scenarios(), SCENARIOS);
    }
}
