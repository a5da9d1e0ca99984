//! The trace `strace -f -o FILE` writes: who made which call, which calls are our code's (not
//! the loader's start-up, not PROGRAM's after its `exec`), what was injected, how each process
//! ended.

use std::collections::{BTreeMap, HashMap};
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::time::Duration;

/// Own calls remembered per process and syscall: enough to find `plan::CALLS_PER_PROCESS` of them
/// beyond the launcher's start-up calls.
const OWN_CALLS_KEPT: usize = 64;

/// How long a traced command (or the supervisor's reaction) may take before it is a HANG.
pub(crate) const RUN_TIMEOUT: Duration = Duration::from_secs(10);

/// How a process (or a whole traced command) ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Ended {
    Code(i32),
    Signal(String),
    /// Did not end within [`RUN_TIMEOUT`].
    Hang,
}

impl Ended {
    pub(crate) fn from_status(status: ExitStatus) -> Ended {
        match (status.code(), status.signal()) {
            (Some(code), _) => Ended::Code(code),
            (None, Some(signal)) => Ended::Signal(format!("signal {signal}")),
            _ => Ended::Code(-1),
        }
    }

    pub(crate) fn describe(&self) -> String {
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
    /// The text of those calls (name, arguments, and the result when strace printed it on the
    /// same line), by syscall and invocation number: what every process did at that number.
    pub(crate) calls: BTreeMap<(String, u32), Vec<String>>,
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
                            trace.calls.entry((name.to_owned(), *count)).or_default().push(rest.to_owned());
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) const START: &str = "\
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
    fn own_calls_are_kept_per_process() {
        let text: String = (0..10).map(|_| "7 fcntl(3, F_GETFD) = 1\n").collect();
        let trace = Trace::parse(&text, Traced::Attached);
        assert_eq!(trace.own["fcntl"][&7], (1..=10).collect::<Vec<u32>>());
        assert!(trace.startup.is_empty());
        assert_eq!(trace.first_exit(), None);
    }
}
