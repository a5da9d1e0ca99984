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
//! invocation numbers swept are, for each process, those of its own first [`CALLS_PER_PROCESS`]
//! calls. In the launcher the first calls of some syscalls (`openat`, `read`, `close`, ...) are
//! the dynamic loader's and the Rust runtime's start-up: a number that lands there in the
//! launcher would only test ld.so, so it is not run (listed as a start-up collision).

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::fs::{self, File};
use std::io;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

/// Every process a run starts carries `DAEMONIC_FAULTS_RUN=<marker>` in its environment (PROGRAM
/// too: the command passes its environment on), so leftovers are found whatever their argv.
const MARKER_VARIABLE: &str = "DAEMONIC_FAULTS_RUN";

/// The first calls of each syscall, per process, that are made to fail.
pub(crate) const CALLS_PER_PROCESS: usize = 4;

/// Own calls remembered per process and syscall: enough to find [`CALLS_PER_PROCESS`] of them
/// beyond the launcher's start-up calls.
const OWN_CALLS_KEPT: usize = 64;

/// How long a traced command (or the supervisor's reaction) may take before it is a HANG.
const RUN_TIMEOUT: Duration = Duration::from_secs(10);

/// How long processes of a finished run may take to disappear (an exit in progress).
const GRACE: Duration = Duration::from_millis(1500);

/// At most two runs at once: the CI machine has two cores, and other builds run beside.
const MAX_JOBS: usize = 2;

/// System calls never made to fail, and why.
const EXCLUDED: &[(&str, &str)] = &[
    // A failing exit leaves the C library's `_exit` spinning: a hang of the harness's making.
    ("exit_group", "cannot fail"),
    ("exit", "cannot fail"),
    // Returning from a signal handler with an error corrupts the interrupted context.
    ("rt_sigreturn", "injecting breaks the signal frame"),
    ("restart_syscall", "kernel-internal"),
    // Linux frees the descriptor even when close fails (EIO, EINTR), but an injected failure
    // skips the call and leaves it open: a state no real error produces (std's spawn then
    // waits forever on its own pipe's write end). close_range, which really can fail without
    // closing, is swept.
    ("close", "an injected failure leaves the descriptor open, unlike any real one"),
    // Cannot fail (POSIX: "always successful"); an error there tests the C library, not us.
    ("getpid", "cannot fail"),
    ("getppid", "cannot fail"),
    ("gettid", "cannot fail"),
    ("getuid", "cannot fail"),
    ("geteuid", "cannot fail"),
    ("getgid", "cannot fail"),
    ("getegid", "cannot fail"),
    ("umask", "cannot fail"),
    // Memory: Rust aborts on allocation failure by design (`handle_alloc_error`).
    ("brk", "allocator"),
    ("mmap", "allocator"),
    ("munmap", "allocator"),
    ("mprotect", "allocator"),
    ("mremap", "allocator"),
    ("madvise", "allocator"),
    // The C library's and std's own locks and thread bookkeeping.
    ("futex", "C library locks"),
    ("set_robust_list", "C library start-up"),
    ("set_tid_address", "C library start-up"),
    ("rseq", "C library start-up"),
    ("arch_prctl", "C library start-up"),
];

/// The errors worth injecting into a system call: what it can really return, from the sweep's
/// list (EIO, ENOSPC, EMFILE, EINTR, ENOLCK, EAGAIN, EPERM) and a few others it documents.
/// A short list per call keeps the run count bounded.
pub(crate) fn errnos(syscall: &str) -> &'static [&'static str] {
    match syscall {
        "open" | "openat" | "openat2" | "creat" => &["EIO", "EMFILE", "ENOSPC", "EPERM", "EINTR"],
        "read" | "pread64" | "readv" | "recvfrom" | "recvmsg" | "readlink" | "readlinkat" | "getdents64" => {
            &["EIO", "EINTR", "EAGAIN"]
        }
        "write" | "pwrite64" | "writev" | "sendto" | "sendmsg" => &["EIO", "ENOSPC", "EINTR", "EAGAIN"],
        "flock" => &["ENOLCK", "EINTR", "EAGAIN"],
        "fcntl" => &["EMFILE", "EPERM"],
        "close_range" => &["EINVAL", "ENOSYS"],
        "dup" | "dup2" | "dup3" => &["EMFILE", "EINTR"],
        "pipe" | "pipe2" | "socket" | "socketpair" | "pidfd_open" | "eventfd2" | "signalfd4" => &["EMFILE", "ENFILE"],
        "clone" | "clone3" | "fork" | "vfork" => &["EAGAIN", "ENOMEM"],
        "execve" | "execveat" => &["EIO", "EACCES", "ENOMEM"],
        "wait4" | "waitid" => &["EINTR", "ECHILD"],
        "kill" | "tgkill" | "tkill" | "pidfd_send_signal" => &["EPERM", "ESRCH"],
        "poll" | "ppoll" | "epoll_wait" | "epoll_pwait" | "select" | "pselect6" => &["EINTR", "ENOMEM"],
        "clock_nanosleep" | "nanosleep" => &["EINTR"],
        "unlink" | "unlinkat" | "rename" | "renameat" | "renameat2" | "rmdir" => &["EIO", "EPERM", "EBUSY"],
        "mkdir" | "mkdirat" => &["ENOSPC", "EACCES"],
        "ftruncate" | "truncate" | "fchmod" | "fchmodat" | "fchown" | "fchownat" | "chmod" | "chown" => {
            &["EIO", "EPERM"]
        }
        "stat" | "lstat" | "fstat" | "newfstatat" | "statx" | "access" | "faccessat" | "faccessat2" => {
            &["EIO", "EACCES"]
        }
        "bind" | "connect" => &["EACCES", "EADDRINUSE", "ENOSPC"],
        "rt_sigaction" | "rt_sigprocmask" | "sigaltstack" | "close_on_exec" => &["EINVAL"],
        "setsid" | "setpgid" | "setgroups" | "setgid" | "setuid" | "setresuid" | "setresgid" | "prctl" => {
            &["EPERM", "EINVAL"]
        }
        "getrandom" => &["EAGAIN", "EINTR"],
        _ => &["EIO", "EPERM"],
    }
}

/// What a run exercises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Scenario {
    /// `start` traced (the launcher, the daemon, the supervisor, PROGRAM's child until `exec`).
    Start,
    /// `start --notify-await` traced: PROGRAM (`xtask faults-notify-program`) sends READY=1.
    StartNotify,
    /// `stop` traced, against a service started normally.
    Stop,
    /// `status` traced.
    Status,
    /// `reopen` traced.
    Reopen,
    /// The supervisor traced (`strace -p`) while `reopen` and `stop` arrive.
    SupervisorStop,
    /// The supervisor traced while PROGRAM exits by itself.
    SupervisorExit,
}

pub(crate) const SCENARIOS: &[Scenario] = &[
    Scenario::Start,
    Scenario::StartNotify,
    Scenario::Stop,
    Scenario::Status,
    Scenario::Reopen,
    Scenario::SupervisorStop,
    Scenario::SupervisorExit,
];

impl Scenario {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Scenario::Start => "start",
            Scenario::StartNotify => "start-notify",
            Scenario::Stop => "stop",
            Scenario::Status => "status",
            Scenario::Reopen => "reopen",
            Scenario::SupervisorStop => "supervisor-stop",
            Scenario::SupervisorExit => "supervisor-exit",
        }
    }

    fn starts(self) -> bool {
        matches!(self, Scenario::Start | Scenario::StartNotify)
    }

    fn from_name(name: &str) -> Option<Scenario> {
        SCENARIOS.iter().copied().find(|s| s.name() == name)
    }

    /// Whether strace attaches to a running supervisor rather than starting the command.
    fn attaches(self) -> bool {
        matches!(self, Scenario::SupervisorStop | Scenario::SupervisorExit)
    }
}

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
// The trace: what strace -f -o FILE wrote.

/// How a process (or a whole traced command) ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Ended {
    Code(i32),
    Signal(String),
    /// Did not end within [`RUN_TIMEOUT`].
    Hang,
}

impl Ended {
    fn from_status(status: ExitStatus) -> Ended {
        match (status.code(), status.signal()) {
            (Some(code), _) => Ended::Code(code),
            (None, Some(signal)) => Ended::Signal(format!("signal {signal}")),
            _ => Ended::Code(-1),
        }
    }

    fn describe(&self) -> String {
        match self {
            Ended::Code(code) => format!("exit {code}"),
            Ended::Signal(signal) => format!("killed by {signal}"),
            Ended::Hang => format!("HANG (still running after {} s)", RUN_TIMEOUT.as_secs()),
        }
    }
}

/// A call into which strace injected the fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Injected {
    pub(crate) pid: u32,
    /// The call as strace printed it (first line).
    pub(crate) call: String,
    /// Made by PROGRAM after its `exec` (not our code).
    pub(crate) program: bool,
    /// Made by the launcher before `main` (the loader, Rust's runtime).
    pub(crate) startup: bool,
}

/// How the trace was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Traced {
    /// strace started the command: the first process's first calls are the loader's and the
    /// Rust runtime's start-up, up to std's SIGBUS handler (the last thing it sets up).
    Started,
    /// strace attached to a running process (`-p`): every call is ours.
    Attached,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Startup,
    Own,
    Program,
}

/// What a trace says.
#[derive(Debug, Default)]
pub(crate) struct Trace {
    /// The first process in the trace (the launcher, or the traced command).
    pub(crate) first: Option<u32>,
    /// Per syscall and process, the invocation numbers (strace's `when=`) of the calls our
    /// code made (at most [`OWN_CALLS_KEPT`]).
    pub(crate) own: BTreeMap<String, BTreeMap<u32, Vec<u32>>>,
    /// Per syscall, how many calls the first process made before `main` (start-up).
    pub(crate) startup: BTreeMap<String, u32>,
    /// How each process ended.
    pub(crate) exits: HashMap<u32, Ended>,
    pub(crate) injected: Vec<Injected>,
}

impl Trace {
    pub(crate) fn parse(text: &str, traced: Traced) -> Trace {
        let mut trace = Trace::default();
        let mut phase: HashMap<u32, Phase> = HashMap::new();
        let mut counts: HashMap<(u32, String), u32> = HashMap::new();
        // Calls printed `<unfinished ...>`: their result comes on a `<... NAME resumed>` line.
        let mut pending: HashMap<u32, (String, String, Phase)> = HashMap::new();
        let mut parent_of: HashMap<u32, u32> = HashMap::new();
        for line in text.lines() {
            let Some((pid, rest)) = line.split_once(char::is_whitespace) else { continue };
            let Ok(pid) = pid.parse::<u32>() else { continue };
            let rest = rest.trim_start();
            let first = *trace.first.get_or_insert(pid);
            if !phase.contains_key(&pid) {
                // A new process: PROGRAM's child is PROGRAM's; the started command begins
                // with its start-up; anything else (forked by our code, attached) is ours.
                let inherited = parent_of.get(&pid).and_then(|parent| phase.get(parent)).copied();
                let begins = match inherited {
                    Some(Phase::Program) => Phase::Program,
                    _ if pid == first && traced == Traced::Started => Phase::Startup,
                    _ => Phase::Own,
                };
                phase.insert(pid, begins);
            }
            let current = phase[&pid];
            if let Some(status) = rest.strip_prefix("+++ ") {
                if let Some(code) = status.strip_prefix("exited with ") {
                    let code = code.trim_end_matches(" +++").trim().parse().unwrap_or(-1);
                    trace.exits.insert(pid, Ended::Code(code));
                } else if let Some(signal) = status.strip_prefix("killed by ") {
                    let signal = signal.split_whitespace().next().unwrap_or("?").to_owned();
                    trace.exits.insert(pid, Ended::Signal(signal));
                }
                continue;
            }
            if rest.starts_with("---") {
                continue;
            }
            // The call's name and phase, and the text holding its result.
            let (name, call, call_phase) = if let Some(resumed) = rest.strip_prefix("<... ") {
                let name = resumed.split_whitespace().next().unwrap_or_default().to_owned();
                match pending.remove(&pid) {
                    Some((pending_name, call, call_phase)) if pending_name == name => (name, call, call_phase),
                    _ => (name, rest.to_owned(), current),
                }
            } else {
                let Some(open) = rest.find('(') else { continue };
                let name = &rest[..open];
                if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                    continue;
                }
                // strace does not count the `execve` it starts its first tracee with.
                if current == Phase::Startup && name == "execve" && !counts.contains_key(&(pid, name.to_owned())) {
                    counts.insert((pid, name.to_owned()), 0);
                    continue;
                }
                let count = counts.entry((pid, name.to_owned())).or_insert(0);
                *count += 1;
                match current {
                    Phase::Startup => *trace.startup.entry(name.to_owned()).or_insert(0) += 1,
                    Phase::Own => {
                        let numbers = trace.own.entry(name.to_owned()).or_default().entry(pid).or_default();
                        if numbers.len() < OWN_CALLS_KEPT {
                            numbers.push(*count);
                        }
                    }
                    Phase::Program => {}
                }
                // std's SIGBUS handler is the last thing Rust's runtime installs before `main`.
                if current == Phase::Startup && rest.starts_with("rt_sigaction(SIGBUS, {") {
                    phase.insert(pid, Phase::Own);
                }
                if rest.ends_with("<unfinished ...>") {
                    pending.insert(pid, (name.to_owned(), rest.to_owned(), current));
                    continue;
                }
                (name.to_owned(), rest.to_owned(), current)
            };
            let result = rest.rsplit_once(" = ").map(|(_, r)| r).unwrap_or_default();
            if rest.contains("(INJECTED)") {
                trace.injected.push(Injected {
                    pid,
                    call: call.clone(),
                    program: call_phase == Phase::Program,
                    startup: call_phase == Phase::Startup,
                });
            }
            // A successful `execve` after start-up is PROGRAM's (the command never re-executes
            // itself): what follows in that process is not ours.
            if name == "execve" && result.starts_with('0') && call_phase == Phase::Own {
                phase.insert(pid, Phase::Program);
            }
            if matches!(name.as_str(), "clone" | "clone3" | "fork" | "vfork") {
                if let Ok(child) = result.split_whitespace().next().unwrap_or_default().parse::<u32>() {
                    parent_of.insert(child, pid);
                    if call_phase == Phase::Program {
                        phase.insert(child, Phase::Program);
                    }
                }
            }
        }
        trace
    }

    /// How the first process (the launcher, the traced command) ended, if it did.
    pub(crate) fn first_exit(&self) -> Option<&Ended> {
        self.exits.get(&self.first?)
    }

    /// Whether the fault hit PROGRAM after its `exec` (its own failure, not ours).
    pub(crate) fn program_faulted(&self) -> bool {
        self.injected.iter().any(|i| i.program)
    }

    /// Whether the fault hit a write of the first process to its stdout or stderr: its
    /// message may be lost.
    pub(crate) fn message_write_faulted(&self) -> bool {
        self.injected
            .iter()
            .any(|i| Some(i.pid) == self.first && (i.call.starts_with("write(1,") || i.call.starts_with("write(2,")))
    }
}

// ---------------------------------------------------------------------------------------------
// The plan: which faults a scenario's clean trace calls for.

/// One fault: the `when`-th call of `syscall` (in each process) fails with `errno`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Fault {
    pub(crate) syscall: String,
    pub(crate) errno: &'static str,
    pub(crate) when: u32,
}

impl Fault {
    fn inject(&self) -> String {
        format!("inject={}:error={}:when={}", self.syscall, self.errno, self.when)
    }
}

#[derive(Debug, Default)]
pub(crate) struct Plan {
    pub(crate) faults: Vec<Fault>,
    /// `syscall when=N` not run: in the launcher, the N-th call is the loader's or the runtime's.
    pub(crate) collisions: Vec<(String, u32)>,
    /// System calls made but never failed ([`EXCLUDED`]).
    pub(crate) excluded: Vec<String>,
}

pub(crate) fn plan(trace: &Trace, only: Option<&str>) -> Plan {
    let mut plan = Plan::default();
    for (syscall, numbers) in &trace.own {
        if only.is_some_and(|only| only != syscall) {
            continue;
        }
        if EXCLUDED.iter().any(|(name, _)| name == syscall) {
            plan.excluded.push(syscall.clone());
            continue;
        }
        // A number the launcher's start-up also reaches would fail ld.so there, not our
        // code: each process's first calls beyond it are taken instead.
        let startup = trace.startup.get(syscall).copied().unwrap_or(0);
        let mut chosen = BTreeSet::new();
        for calls in numbers.values() {
            for (index, &when) in calls.iter().enumerate() {
                if when > startup {
                    chosen.extend(calls[index..].iter().take(CALLS_PER_PROCESS));
                    break;
                }
                if index < CALLS_PER_PROCESS {
                    plan.collisions.push((syscall.clone(), when));
                }
            }
        }
        plan.collisions.sort();
        plan.collisions.dedup();
        for when in chosen {
            for errno in errnos(syscall) {
                plan.faults.push(Fault { syscall: syscall.clone(), errno, when });
            }
        }
    }
    plan
}

// ---------------------------------------------------------------------------------------------
// The invariant.

/// A command the harness ran (untraced) to check the service afterwards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Finished {
    pub(crate) ended: Ended,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

/// Everything observed in one run, judged by [`judge`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Observation {
    /// The command the fault was aimed at (for the supervisor scenarios: the `stop` that
    /// arrived, or PROGRAM's exit as `Code(0)` once the supervisor exited).
    pub(crate) command: Option<Finished>,
    /// The fault hit PROGRAM after its `exec`.
    pub(crate) program_faulted: bool,
    /// The fault hit the command's write of its message.
    pub(crate) message_lost: bool,
    /// Whether strace injected at all.
    pub(crate) injected: bool,
    /// `status` afterwards, untraced.
    pub(crate) status: Option<Finished>,
    /// `stop` afterwards, untraced, when `status` said running.
    pub(crate) stop: Option<Finished>,
    /// Processes of the run still alive at the end (after the grace period).
    pub(crate) leftovers: Vec<String>,
    pub(crate) pidfile_left: bool,
    pub(crate) notify_dirs_left: Vec<String>,
}

/// The `daemonic: ...` error lines of a command's output (warnings aside).
fn error_lines(text: &str) -> Vec<&str> {
    text.lines().filter(|l| l.starts_with("daemonic: ") && !l.starts_with("daemonic: warning:")).collect()
}

/// The pid `status` names: `daemonic: running (pid N...`.
pub(crate) fn running_pid(status_stdout: &str) -> Option<u32> {
    let rest = status_stdout.split("running (pid ").nth(1)?;
    rest.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
}

/// Checks the invariant; `Err` is the violation.
pub(crate) fn judge(scenario: Scenario, seen: &Observation) -> Result<(), String> {
    let Some(command) = &seen.command else { return Err("the command did not run".into()) };
    let mut problems: Vec<String> = Vec::new();
    let output = format!("{}{}", command.stdout, command.stderr);
    // Rust's panic message: `thread 'main' (42) panicked at FILE:LINE:COL:` and the payload.
    let panic = output.lines().position(|l| l.contains("panicked at")).map(|at| {
        let mut lines = output.lines().skip(at);
        let place = lines.next().and_then(|l| l.split("panicked at ").nth(1)).unwrap_or_default();
        format!("panicked at {place} {}", lines.next().unwrap_or_default().trim())
    });
    let what = match scenario {
        Scenario::Start | Scenario::StartNotify => "the launcher",
        Scenario::Stop | Scenario::SupervisorStop => "stop",
        Scenario::Status => "status",
        Scenario::Reopen => "reopen",
        Scenario::SupervisorExit => "the supervisor",
    };
    // One clear message for a failure.
    let clear_error = |stream: &str| -> Option<String> {
        let lines = error_lines(stream);
        match lines.len() {
            1 => None,
            0 if seen.message_lost => None,
            0 => Some(format!("{what} failed without a `daemonic:` message")),
            n => Some(format!("{what} printed {n} error messages: {}", lines.join(" | "))),
        }
    };
    let status_code = seen.status.as_ref().map(|s| s.ended.clone());
    let running_after = status_code == Some(Ended::Code(0));
    match &command.ended {
        Ended::Code(_) if panic.is_some() => problems.extend(panic),
        Ended::Hang => problems.push(format!("HANG: {what} still running after {} s", RUN_TIMEOUT.as_secs())),
        Ended::Signal(signal) => problems.push(format!("{what} killed by {signal}")),
        Ended::Code(code) => match (scenario, code) {
            (Scenario::Start | Scenario::StartNotify, 0) => {
                let pid = seen.status.as_ref().and_then(|s| running_pid(&s.stdout));
                let confirmed = running_after && pid.is_some();
                if !confirmed && !seen.program_faulted {
                    problems.push(format!(
                        "the launcher exited 0 but status says: {}",
                        seen.status.as_ref().map(|s| s.stdout.trim().to_owned()).unwrap_or_default()
                    ));
                }
            }
            (Scenario::Start | Scenario::StartNotify, _) => {
                problems.extend(clear_error(&command.stderr));
                if running_after {
                    problems.push(format!("the launcher failed ({}) but the service runs", command.ended.describe()));
                }
            }
            (Scenario::Stop | Scenario::SupervisorStop, 0) => {
                if running_after {
                    problems.push("stop exited 0 but the service still runs".into());
                }
            }
            (Scenario::Stop | Scenario::SupervisorStop, _) => problems.extend(clear_error(&command.stderr)),
            (Scenario::Status, 0) => {
                if running_pid(&command.stdout).is_none() && !seen.message_lost {
                    problems.push(format!("status exited 0 without naming a pid: {}", command.stdout.trim()));
                }
            }
            (Scenario::Status, 4) => problems.extend(clear_error(&output)),
            (Scenario::Status, code) => {
                problems.push(format!("status says not running (exit {code}) while the service runs"));
            }
            (Scenario::Reopen, 0) => {}
            (Scenario::Reopen, 7) => problems.push("reopen says not running (exit 7) while the service runs".into()),
            (Scenario::Reopen, _) => problems.extend(clear_error(&command.stderr)),
            (Scenario::SupervisorExit, _) => {
                if running_after {
                    problems.push("PROGRAM exited but status still says running".into());
                }
            }
        },
    }
    // Whatever happened, the service is left consistent: running (then `stop` works) or not.
    match (&seen.status, &seen.stop) {
        (None, _) => problems.push("status afterwards did not run".into()),
        (Some(status), _) if status.ended == Ended::Hang => problems.push("HANG: status afterwards".into()),
        (Some(_), Some(stop)) if stop.ended != Ended::Code(0) => {
            problems.push(format!("stop afterwards failed ({}): {}", stop.ended.describe(), stop.stderr.trim()))
        }
        (Some(status), None) if !matches!(status.ended, Ended::Code(0 | 3)) => problems.push(format!(
            "status afterwards: {} {}",
            status.ended.describe(),
            format!("{}{}", status.stdout, status.stderr).trim()
        )),
        _ => {}
    }
    if !seen.leftovers.is_empty() {
        problems.push(format!("left running: {}", seen.leftovers.join("; ")));
    }
    if seen.pidfile_left {
        problems.push("PID file left".into());
    }
    if !seen.notify_dirs_left.is_empty() {
        problems.push(format!("left in TMPDIR: {}", seen.notify_dirs_left.join(", ")));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

/// A violation's class: its reason with paths and numbers (pids, counts, the random part of
/// a directory name: runs of hex digits holding a digit) replaced, for grouping.
pub(crate) fn violation_class(reason: &str) -> String {
    let mut class = String::new();
    for (index, word) in reason.split(' ').enumerate() {
        if index > 0 {
            class.push(' ');
        }
        if word.contains('/') {
            class.push_str("PATH");
            continue;
        }
        let mut run = String::new();
        let flush = |run: &mut String, class: &mut String| {
            if run.bytes().any(|b| b.is_ascii_digit()) {
                class.push('N');
            } else {
                class.push_str(run);
            }
            run.clear();
        };
        for c in word.chars() {
            if c.is_ascii_hexdigit() {
                run.push(c);
            } else {
                flush(&mut run, &mut class);
                class.push(c);
            }
        }
        flush(&mut run, &mut class);
    }
    class
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
        let state = fs::read_to_string(entry.path().join("stat"))
            .ok()
            .and_then(|s| s.rsplit_once(") ").and_then(|(_, rest)| rest.chars().next()));
        if matches!(state, Some('Z' | 'X') | None) {
            continue;
        }
        let cmdline = fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ").trim().to_owned();
        found.push((pid, cmdline));
    }
    found
}

/// Waits until `path` shows the first process's exit (strace goes on tracing the daemon), or
/// strace itself exits; a hang after [`RUN_TIMEOUT`].
fn wait_for_first_exit(strace: &mut Child, path: &Path, traced: Traced) -> (Ended, Trace) {
    let deadline = Instant::now() + RUN_TIMEOUT;
    loop {
        let done = matches!(strace.try_wait(), Ok(Some(_)));
        let trace = Trace::parse(&fs::read_to_string(path).unwrap_or_default(), traced);
        if let Some(ended) = trace.first_exit() {
            return (ended.clone(), trace);
        }
        if done {
            return (Ended::Code(-1), trace);
        }
        if Instant::now() >= deadline {
            return (Ended::Hang, trace);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Waits until `pid` is gone (or a zombie), at most `timeout`.
fn wait_gone(pid: u32, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        let state = fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| s.rsplit_once(") ").and_then(|(_, rest)| rest.chars().next()));
        if matches!(state, None | Some('Z' | 'X')) {
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
        let (ended, trace) = wait_for_first_exit(&mut strace, &run.dir.join("trace"), traced);
        // Read before strace is told to detach: it shares the command's stderr.
        let (stdout, stderr) = run.outputs("traced");
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
        println!(
            "{}: {} runs over {} system calls ({}){}{}",
            scenario.name(),
            plan.faults.len(),
            syscalls.len(),
            syscalls.iter().copied().collect::<Vec<_>>().join(" "),
            if plan.excluded.is_empty() {
                String::new()
            } else {
                format!("; not injected: {}", plan.excluded.join(" "))
            },
            if plan.collisions.is_empty() {
                String::new()
            } else {
                let list: Vec<String> = plan.collisions.iter().map(|(s, n)| format!("{s}#{n}")).collect();
                format!("; start-up collisions not run: {}", list.join(" "))
            }
        );
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
    let line = format!(
        "{} runs, {} violations{}",
        outcomes.len(),
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

    const START: &str = "\
100 execve(\"/x/daemonic\", [\"daemonic\", \"start\"], 0x7ff /* 3 vars */) = 0
100 openat(AT_FDCWD, \"/etc/ld.so.cache\", O_RDONLY|O_CLOEXEC) = 3
100 close(3)                          = 0
100 rt_sigaction(SIGBUS, NULL, {sa_handler=SIG_DFL, sa_mask=[], sa_flags=0}, 8) = 0
100 rt_sigaction(SIGBUS, {sa_handler=0x1, sa_mask=[], sa_flags=SA_ONSTACK}, NULL, 8) = 0
100 openat(AT_FDCWD, \"/dev/null\", O_RDWR|O_CLOEXEC) = 3
100 openat(AT_FDCWD, \"/tmp/p.pid\", O_RDWR|O_CREAT, 0644) = 4
100 clone(child_stack=NULL, flags=SIGCHLD <unfinished ...>
101 close(3 <unfinished ...>
100 <... clone resumed>, child_tidptr=0x7f) = 101
101 <... close resumed>)              = -1 EIO (Input/output error) (INJECTED)
101 openat(AT_FDCWD, \"/dev/null\", O_RDWR) = 5
101 execve(\"/usr/bin/sleep\", [\"sleep\", \"1000\"], 0x7f /* 3 vars */) = 0
101 openat(AT_FDCWD, \"/etc/ld.so.cache\", O_RDONLY|O_CLOEXEC) = -1 EIO (Input/output error) (INJECTED)
100 write(2, \"daemonic: cannot\"..., 30) = -1 EIO (Input/output error) (INJECTED)
101 --- SIGTERM {si_signo=SIGTERM, si_code=SI_USER, si_pid=1, si_uid=0} ---
101 +++ killed by SIGTERM +++
100 exit_group(1)                     = ?
100 +++ exited with 1 +++
";

    #[test]
    fn trace_separates_startup_own_and_program_calls() {
        let trace = Trace::parse(START, Traced::Started);
        assert_eq!(trace.first, Some(100));
        assert_eq!(trace.first_exit(), Some(&Ended::Code(1)));
        assert_eq!(trace.exits.get(&101), Some(&Ended::Signal("SIGTERM".into())));
        // The launcher: openat #1 is the loader's, #2 and #3 its own; the child: #1 own, #2 PROGRAM's.
        assert_eq!(trace.startup.get("openat"), Some(&1));
        assert_eq!(trace.own["openat"], BTreeMap::from([(100, vec![2, 3]), (101, vec![1])]));
        assert_eq!(trace.own["close"], BTreeMap::from([(101, vec![1])]));
        assert_eq!(trace.own["execve"], BTreeMap::from([(101, vec![1])]));
        assert!(!trace.own.contains_key("rt_sigaction"), "start-up only");
        assert_eq!(trace.injected.len(), 3);
        assert!(trace.injected[0].call.starts_with("close(3"), "{:?}", trace.injected[0]);
        assert!(!trace.injected[0].program);
        assert!(trace.injected[1].program, "after its exec, the child is PROGRAM");
        assert!(trace.program_faulted());
        assert!(trace.message_write_faulted());
    }

    #[test]
    fn own_calls_are_limited_per_process() {
        let text: String = (0..10).map(|_| "7 fcntl(3, F_GETFD) = 1\n").collect();
        let trace = Trace::parse(&text, Traced::Attached);
        assert_eq!(trace.own["fcntl"][&7], (1..=10).collect::<Vec<u32>>());
        let fcntl: BTreeSet<u32> = plan(&trace, None).faults.iter().map(|f| f.when).collect();
        assert_eq!(fcntl, (1..=CALLS_PER_PROCESS as u32).collect(), "the first calls of each process");
        assert!(trace.startup.is_empty());
        assert_eq!(trace.first_exit(), None);
    }

    #[test]
    fn plan_skips_exclusions_and_startup_collisions() {
        let trace = Trace::parse(START, Traced::Started);
        let plan = plan(&trace, None);
        assert_eq!(plan.collisions, [("openat".to_owned(), 1)]);
        assert_eq!(plan.excluded, ["close", "exit_group"]);
        let openat: Vec<u32> = plan.faults.iter().filter(|f| f.syscall == "openat").map(|f| f.when).collect();
        assert_eq!(openat.len(), 2 * errnos("openat").len());
        assert!(!openat.contains(&1));
        assert!(!plan.faults.iter().any(|f| f.syscall == "flock"));
        let only = super::plan(&trace, Some("execve"));
        assert!(only.faults.iter().all(|f| f.syscall == "execve" && f.when == 1) && !only.faults.is_empty());
        let exiting = Trace::parse("5 exit_group(0) = ?\n5 getpid() = 5\n", Traced::Attached);
        assert_eq!(super::plan(&exiting, None).excluded, ["exit_group", "getpid"]);
        assert_eq!(
            Fault { syscall: "flock".into(), errno: "ENOLCK", when: 2 }.inject(),
            "inject=flock:error=ENOLCK:when=2"
        );
    }

    #[test]
    fn a_childs_calls_beyond_the_launchers_startup_are_taken() {
        let mut text = String::from("1 execve(\"/x/daemonic\", [], 0x1 /* 0 vars */) = 0\n");
        text.push_str("1 read(3) = 0\n1 read(3) = 0\n1 rt_sigaction(SIGBUS, {sa_handler=0x1}, NULL, 8) = 0\n");
        text.push_str("1 read(4) = 0\n");
        text.extend((0..6).map(|_| "2 read(5) = 0\n"));
        let plan = plan(&Trace::parse(&text, Traced::Started), Some("read"));
        assert_eq!(plan.collisions, [("read".to_owned(), 1), ("read".to_owned(), 2)]);
        let numbers: BTreeSet<u32> = plan.faults.iter().map(|f| f.when).collect();
        assert_eq!(numbers, BTreeSet::from([3, 4, 5, 6]), "the launcher's 3rd, the child's 3rd to 6th");
    }

    fn finished(code: i32, stdout: &str, stderr: &str) -> Finished {
        Finished { ended: Ended::Code(code), stdout: stdout.into(), stderr: stderr.into() }
    }

    fn not_running() -> Option<Finished> {
        Some(finished(3, "daemonic: not running\n", ""))
    }

    #[test]
    fn a_failed_start_needs_one_message_and_nothing_left() {
        let clean = Observation {
            command: Some(finished(1, "", "daemonic: cannot lock PID file /p.pid: No locks available\n")),
            status: not_running(),
            ..Observation::default()
        };
        assert_eq!(judge(Scenario::Start, &clean), Ok(()));
        let silent = Observation { command: Some(finished(1, "", "")), ..clean.clone() };
        assert!(judge(Scenario::Start, &silent).unwrap_err().contains("without a `daemonic:` message"));
        let lost = Observation { message_lost: true, ..silent };
        assert_eq!(judge(Scenario::Start, &lost), Ok(()));
        let twice = Observation { command: Some(finished(1, "", "daemonic: a\ndaemonic: b\n")), ..clean.clone() };
        assert!(judge(Scenario::Start, &twice).unwrap_err().contains("2 error messages"));
        let left = Observation {
            leftovers: vec!["42 daemonic start".into()],
            pidfile_left: true,
            notify_dirs_left: vec!["daemonic-notify-1-ab".into()],
            ..clean.clone()
        };
        let reason = judge(Scenario::Start, &left).unwrap_err();
        assert!(reason.contains("left running: 42") && reason.contains("PID file left"), "{reason}");
        assert!(reason.contains("daemonic-notify-1-ab"), "{reason}");
        let hang = Observation { command: Some(Finished { ended: Ended::Hang, ..finished(0, "", "") }), ..clean };
        assert!(judge(Scenario::Start, &hang).unwrap_err().starts_with("HANG"));
    }

    #[test]
    fn a_started_service_must_be_running_and_stoppable() {
        let running = Some(finished(0, "daemonic: running (pid 42; program pid 43)\n", ""));
        let good = Observation {
            command: Some(finished(0, "daemonic: started (pid 42)\n", "")),
            status: running.clone(),
            stop: Some(finished(0, "daemonic: stopped (pid 42)\n", "")),
            ..Observation::default()
        };
        assert_eq!(judge(Scenario::Start, &good), Ok(()));
        let gone = Observation { status: not_running(), stop: None, ..good.clone() };
        assert!(judge(Scenario::Start, &gone).unwrap_err().contains("exited 0 but status says"));
        assert_eq!(judge(Scenario::Start, &Observation { program_faulted: true, ..gone }), Ok(()));
        let unstoppable = Observation { stop: Some(finished(1, "", "daemonic: pid 42 still running\n")), ..good };
        assert!(judge(Scenario::Start, &unstoppable).unwrap_err().contains("stop afterwards failed"));
    }

    #[test]
    fn status_and_reopen_must_not_say_not_running() {
        let running = Some(finished(0, "daemonic: running (pid 42)\n", ""));
        let settled = |command| Observation {
            command: Some(command),
            status: running.clone(),
            stop: Some(finished(0, "", "")),
            ..Observation::default()
        };
        assert_eq!(judge(Scenario::Status, &settled(finished(0, "daemonic: running (pid 42)\n", ""))), Ok(()));
        assert_eq!(judge(Scenario::Status, &settled(finished(4, "daemonic: status unknown: x\n", ""))), Ok(()));
        assert!(judge(Scenario::Status, &settled(finished(3, "daemonic: not running\n", ""))).is_err());
        assert_eq!(judge(Scenario::Reopen, &settled(finished(1, "", "daemonic: cannot signal pid 42: x\n"))), Ok(()));
        assert!(judge(Scenario::Reopen, &settled(finished(7, "daemonic: not running\n", ""))).is_err());
        assert!(judge(Scenario::Stop, &settled(finished(0, "daemonic: stopped\n", ""))).is_err(), "still running");
    }

    #[test]
    fn a_panic_is_a_violation_whatever_the_exit_code() {
        let stderr = "thread 'main' (7) panicked at library/std/src/thread/functions.rs:131:29:\n\
                      failed to spawn thread: Os { code: 11 }\nstack backtrace:\n";
        let seen =
            Observation { command: Some(finished(101, "", stderr)), status: not_running(), ..Observation::default() };
        let reason = judge(Scenario::Stop, &seen).unwrap_err();
        assert_eq!(
            reason,
            "panicked at library/std/src/thread/functions.rs:131:29: failed to spawn thread: Os { code: 11 }"
        );
        assert!(judge(Scenario::Status, &seen).unwrap_err().starts_with("panicked"), "not `says not running`");
    }

    #[test]
    fn helpers() {
        assert_eq!(running_pid("daemonic: running (pid 4242; program pid 4243)\n"), Some(4242));
        assert_eq!(running_pid("daemonic: not running\n"), None);
        assert_eq!(violation_class("left running: 4242 /x/daemonic start"), "left running: N PATH start");
        assert_eq!(violation_class("HANG: stop still running after 10 s"), "HANG: stop still running after N s");
        assert_eq!(
            violation_class("left in TMPDIR: daemonic-notify-14366-7a3aa93b4a73a2e8; exit 101"),
            "left in TMPDIR: daemonic-notify-N-N; exit N"
        );
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
