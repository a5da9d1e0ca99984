//! Which faults a scenario's clean trace calls for: each syscall our code makes, at each
//! process's first calls, with the errors that call can return.

use std::collections::BTreeSet;

use super::trace::Trace;

/// The first calls of each syscall, per process, that are made to fail.
pub(crate) const CALLS_PER_PROCESS: usize = 4;

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

/// The errors worth injecting at one invocation number, given what each process's call there
/// was (`calls`, as strace printed them).
pub(crate) fn errnos_at(syscall: &str, calls: &[String]) -> &'static [&'static str] {
    // `wait4(.., WNOHANG)` cannot be interrupted and fails with ECHILD only when there is no
    // child at all: an injected error would fake a state no real one produces (a zombie child
    // the supervisor is told is not there, its exit lost).
    if matches!(syscall, "wait4" | "waitid") && !calls.is_empty() && calls.iter().all(|c| c.contains("WNOHANG")) {
        return &[];
    }
    errnos(syscall)
}

/// The errors worth injecting into a system call: what it can really return, from the sweep's
/// list (EIO, ENOSPC, EMFILE, EINTR, ENOLCK, EAGAIN, EPERM) and a few others it documents.
/// A short list per call keeps the run count bounded.
pub(crate) fn errnos(syscall: &str) -> &'static [&'static str] {
    match syscall {
        "open" | "openat" | "openat2" | "creat" => &["EIO", "EMFILE", "ENOSPC", "EPERM", "EINTR"],
        "read" | "pread64" | "readv" | "readlink" | "readlinkat" | "getdents64" => &["EIO", "EINTR", "EAGAIN"],
        // A socket's receive has no EIO; the kernel can run out of memory for it.
        "recvfrom" | "recvmsg" => &["ENOMEM", "EINTR", "EAGAIN"],
        "write" | "pwrite64" | "writev" | "sendto" | "sendmsg" | "splice" => &["EIO", "ENOSPC", "EINTR", "EAGAIN"],
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

/// One fault: the `when`-th call of `syscall` (in each process) fails with `errno`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Fault {
    pub(crate) syscall: String,
    pub(crate) errno: &'static str,
    pub(crate) when: u32,
}

impl Fault {
    pub(crate) fn inject(&self) -> String {
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
    /// `syscall when=N` not run: no error the call can really return there ([`errnos_at`]).
    pub(crate) pointless: Vec<(String, u32)>,
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
            let calls = trace.calls.get(&(syscall.clone(), when)).map(Vec::as_slice).unwrap_or_default();
            let errnos = errnos_at(syscall, calls);
            if errnos.is_empty() {
                plan.pointless.push((syscall.clone(), when));
            }
            for errno in errnos {
                plan.faults.push(Fault { syscall: syscall.clone(), errno, when });
            }
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faults::trace::tests::START;
    use crate::faults::trace::Traced;

    #[test]
    fn a_non_blocking_wait_gets_no_fault() {
        let text = "7 wait4(-1, 0x7ffd, WNOHANG, NULL) = 0\n7 wait4(12, 0x7ffd, 0, NULL) = 12\n";
        let plan = plan(&Trace::parse(text, Traced::Attached), None);
        assert_eq!(plan.pointless, [("wait4".to_owned(), 1)]);
        assert!(plan.faults.iter().all(|f| f.when == 2) && !plan.faults.is_empty(), "{:?}", plan.faults);
    }

    #[test]
    fn the_first_calls_of_each_process_are_swept() {
        let text: String = (0..10).map(|_| "7 fcntl(3, F_GETFD) = 1\n").collect();
        let trace = Trace::parse(&text, Traced::Attached);
        let fcntl: BTreeSet<u32> = plan(&trace, None).faults.iter().map(|f| f.when).collect();
        assert_eq!(fcntl, (1..=CALLS_PER_PROCESS as u32).collect());
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
}
