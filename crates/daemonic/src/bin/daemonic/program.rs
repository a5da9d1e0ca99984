//! PROGRAM's `execve`, prepared before `fork`: the files to try, the arguments and the
//! environment, so that the child only makes system calls.
//!
//! Not `execvp`: glibc's (and musl's) run a file the kernel refuses with `ENOEXEC` through
//! `/bin/sh`, so `start` would report success for a file that is not a program at all (a
//! data file with the executable bit, a script without `#!`). Here `ENOEXEC` is reported.

use std::ffi::{CString, OsStr, OsString};
use std::io;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt as _, OsStringExt as _};
use std::path::Path;

/// PROGRAM, ready to execute. Build it before `fork`; [`exec`](Program::exec) is
/// async-signal-safe.
pub(crate) struct Program {
    /// The paths to try in turn: PROGRAM itself when it holds a `/`, else PROGRAM in each
    /// directory of `PATH`.
    candidates: Vec<CString>,
    _argv: Vec<CString>,
    _envp: Vec<CString>,
    argv: Pointers,
    envp: Pointers,
    /// `LISTEN_PID=` and room for any pid, at the end of `envp` (see
    /// [`with_listen_pid`](Program::with_listen_pid)).
    listen_pid: Option<Box<[u8]>>,
}

/// `LISTEN_PID=`, then up to 10 digits (`i32::MAX` has 10) and a NUL.
const LISTEN_PID: &[u8] = b"LISTEN_PID=";
const LISTEN_PID_LEN: usize = LISTEN_PID.len() + 11;

/// A null-terminated array of pointers into the `CString`s of the same [`Program`].
struct Pointers(Vec<*const libc::c_char>);

// SAFETY: the pointers point into `CString`s that the same `Program` owns and never changes or
// drops before itself; they are only read (by `execve`).
unsafe impl Send for Pointers {}
// SAFETY: as above: shared reads of immutable data.
unsafe impl Sync for Pointers {}

impl Program {
    /// `program` with `args`, and the environment `vars` (exactly these). A bare name is looked
    /// up in `path` (the value of `PATH`; the default search path without one), as `execvp`
    /// does; under `chroot` the lookup happens inside the new root, after `chroot`.
    pub(crate) fn new(
        program: &OsStr,
        args: &[OsString],
        vars: impl IntoIterator<Item = (OsString, OsString)>,
        path: Option<&OsStr>,
    ) -> io::Result<Program> {
        let c = |bytes: Vec<u8>| {
            CString::new(bytes).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a NUL byte in an argument"))
        };
        if program.is_empty() {
            return Err(io::Error::new(io::ErrorKind::NotFound, "an empty program name"));
        }
        let candidates = if program.as_bytes().contains(&b'/') {
            vec![c(program.as_bytes().to_vec())?]
        } else {
            let search = path.unwrap_or(OsStr::new("/usr/local/bin:/usr/bin:/bin"));
            std::env::split_paths(search)
                .map(|dir| {
                    // An empty entry is the current directory, as for execvp.
                    let dir = if dir.as_os_str().is_empty() { Path::new(".").to_path_buf() } else { dir };
                    c(dir.join(program).into_os_string().into_vec())
                })
                .collect::<io::Result<_>>()?
        };
        let argv_strings: Vec<CString> = std::iter::once(program.to_owned())
            .chain(args.iter().cloned())
            .map(|arg| c(arg.into_vec()))
            .collect::<io::Result<_>>()?;
        let envp_strings: Vec<CString> = vars
            .into_iter()
            .map(|(name, value)| {
                let mut pair = name.into_vec();
                pair.push(b'=');
                pair.extend(value.into_vec());
                c(pair)
            })
            .collect::<io::Result<_>>()?;
        let pointers = |strings: &[CString]| {
            Pointers(strings.iter().map(|s| s.as_ptr()).chain(std::iter::once(std::ptr::null())).collect())
        };
        Ok(Program {
            argv: pointers(&argv_strings),
            envp: pointers(&envp_strings),
            candidates,
            _argv: argv_strings,
            _envp: envp_strings,
            listen_pid: None,
        })
    }

    /// Adds `LISTEN_PID=` to the environment (sd_listen_fds(3)), to be filled in the child with
    /// its own pid by [`set_listen_pid`](Program::set_listen_pid): the pid is known only after
    /// `fork`, where nothing may allocate, so the room for it is made here.
    pub(crate) fn with_listen_pid(mut self) -> Program {
        let mut slot = vec![0u8; LISTEN_PID_LEN].into_boxed_slice();
        slot[..LISTEN_PID.len()].copy_from_slice(LISTEN_PID);
        // Before the terminating null pointer; filled (and pointed to again) in the child.
        let at = self.envp.0.len() - 1;
        self.envp.0.insert(at, slot.as_ptr().cast());
        self.listen_pid = Some(slot);
        self
    }

    /// Writes `pid` into the `LISTEN_PID=` entry. Async-signal-safe: no allocation, only
    /// writes into memory prepared by [`with_listen_pid`](Program::with_listen_pid).
    pub(crate) fn set_listen_pid(&mut self, pid: u32) {
        let Some(slot) = self.listen_pid.as_mut() else { return };
        let mut digits = [0u8; 10];
        let mut n = pid;
        let mut len = 0;
        loop {
            digits[len] = b'0' + (n % 10) as u8;
            len += 1;
            n /= 10;
            if n == 0 || len == digits.len() {
                break;
            }
        }
        for i in 0..len {
            slot[LISTEN_PID.len() + i] = digits[len - 1 - i];
        }
        slot[LISTEN_PID.len() + len] = 0;
        // The pointer taken in `with_listen_pid` predates this write: take it again.
        let at = self.envp.0.len() - 2;
        self.envp.0[at] = slot.as_ptr().cast();
    }

    /// `execve` of each candidate in turn; returns only on failure: the first error other
    /// than "not there" (`ENOEXEC` among them), else `EACCES` if a candidate was not
    /// executable, else `ENOENT`. Async-signal-safe (no allocation, only `execve`).
    pub(crate) fn exec(&self) -> io::Error {
        let mut denied = false;
        for candidate in &self.candidates {
            // SAFETY: `candidate`, `argv` and `envp` are NUL-terminated strings and
            // null-terminated arrays of them, owned by `self`, alive for the call.
            unsafe { libc::execve(candidate.as_ptr(), self.argv.0.as_ptr(), self.envp.0.as_ptr()) };
            let error = io::Error::last_os_error();
            match error.raw_os_error() {
                Some(libc::EACCES) => denied = true,
                Some(libc::ENOENT | libc::ENOTDIR) => {}
                _ => return error,
            }
        }
        io::Error::from_raw_os_error(if denied { libc::EACCES } else { libc::ENOENT })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_name_is_tried_in_each_directory_of_the_path() {
        let program = Program::new(OsStr::new("sh"), &[], [], Some(OsStr::new("/a:/b::/c"))).unwrap();
        let tried: Vec<&[u8]> = program.candidates.iter().map(|c| c.as_bytes()).collect();
        assert_eq!(tried, [&b"/a/sh"[..], b"/b/sh", b"./sh", b"/c/sh"]);
        let program = Program::new(OsStr::new("./run"), &[], [], None).unwrap();
        assert_eq!(program.candidates.len(), 1);
        assert!(Program::new(OsStr::new("a\0b"), &[], [], None).is_err());
        assert!(Program::new(OsStr::new(""), &[], [], None).is_err());
    }

    #[test]
    fn listen_pid_is_written_into_prepared_room() {
        let mut program =
            Program::new(OsStr::new("sh"), &[], [("A".into(), "1".into())], None).unwrap().with_listen_pid();
        program.set_listen_pid(2147483647);
        let entry = |p: &Program| {
            // SAFETY: the entry before the null pointer is the NUL-terminated LISTEN_PID slot.
            unsafe { std::ffi::CStr::from_ptr(p.envp.0[p.envp.0.len() - 2]) }.to_bytes().to_vec()
        };
        assert_eq!(entry(&program), b"LISTEN_PID=2147483647");
        program.set_listen_pid(7);
        assert_eq!(entry(&program), b"LISTEN_PID=7");
        assert!(program.envp.0.last().unwrap().is_null());
        assert_eq!(program.envp.0.len(), 3);
    }
}

/// A step between `fork` and `exec` that can fail in PROGRAM's process, for the message
/// (`spawn.rs` says it in words).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Step {
    ProcessGroup = 1,
    Stdio,
    Signals,
    Chroot,
    Chdir,
    Nice,
    KeepFd,
    SwitchUser,
    TieToSupervisor,
    /// `--limit`, `--ionice`, `--oom-score-adj`, `--no-new-privileges`: the record's detail
    /// byte says which (`spawn.rs`).
    Setting,
    /// The `execve` itself (or, in the supervisor, what comes before the `fork`).
    Exec,
    /// Linux: giving back the CPU affinity that PROGRAM's process was started with on the
    /// supervisor's CPU (`program.rs`, `vfork`).
    Affinity,
}

impl Step {
    fn from_byte(byte: u8) -> Option<Step> {
        use Step::*;
        [
            ProcessGroup,
            Stdio,
            Signals,
            Chroot,
            Chdir,
            Nice,
            KeepFd,
            SwitchUser,
            TieToSupervisor,
            Setting,
            Exec,
            Affinity,
        ]
        .into_iter()
        .find(|step| *step as u8 == byte)
    }
}

/// Why PROGRAM could not be started: the step, and the OS error.
#[derive(Debug)]
pub(crate) struct SpawnError {
    pub(crate) step: Step,
    /// What the step was about, when it can be one of several (`Step::Setting`).
    pub(crate) detail: u8,
    pub(crate) error: io::Error,
}

impl From<rustix::io::Errno> for SpawnError {
    /// A failure in the supervisor itself (its pipe, `fork`).
    fn from(error: rustix::io::Errno) -> SpawnError {
        SpawnError { step: Step::Exec, detail: 0, error: error.into() }
    }
}

impl From<io::Error> for SpawnError {
    /// A failure in the supervisor itself (before `fork`, or `fork`).
    fn from(error: io::Error) -> SpawnError {
        SpawnError { step: Step::Exec, detail: 0, error }
    }
}

/// PROGRAM's process, started, its `exec` perhaps not yet known to have succeeded: the caller
/// can do its own work meanwhile, then [`wait_exec`](Forked::wait_exec).
pub(crate) struct Forked {
    pid: rustix::process::Pid,
    report: Report,
}

/// How PROGRAM's process tells the supervisor the step that failed before `exec`.
enum Report {
    /// Linux: the child shared the supervisor's memory until its `exec` or `_exit`, and the
    /// supervisor waited for that: the record of the failed step, if any, is already here.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    Known(Option<[u8; RECORD]>),
    /// After `fork`: the read end of the exec-status pipe: end of file once `execve`
    /// succeeded, a record of the failed step before that.
    Pipe(OwnedFd),
}

/// The failure record: the step, its detail byte, the errno (little-endian).
const RECORD: usize = 6;

fn record((step, detail, error): (Step, u8, io::Error)) -> [u8; RECORD] {
    let errno = error.raw_os_error().unwrap_or(libc::EIO);
    let mut record = [0u8; RECORD];
    record[0] = step as u8;
    record[1] = detail;
    record[2..].copy_from_slice(&errno.to_le_bytes());
    record
}

/// Starts PROGRAM's process: in its own process group, its standard output and error on
/// `stdio` (else the supervisor's), SIGPIPE back to its default, then `setup` (the
/// supervisor's steps: chroot, nice, privileges, …), then [`Program::exec`].
/// [`Forked::wait_exec`] says whether the `exec` succeeded.
///
/// On Linux, unless `setup` changes credentials, the process is made as `posix_spawn` makes it
/// (`clone` with `CLONE_VM | CLONE_VFORK`, on a stack of its own): no copy of the
/// supervisor's page tables and no copy-on-write faults afterwards, the supervisor suspended
/// until the `exec` (or the child's exit), which is then known when this returns. Elsewhere,
/// and when `setup` makes the process another user's (`changes_credentials`), `fork` and an
/// exec-status pipe: a process that shares the supervisor's memory must never belong to
/// another user, who could reach that memory through it (`ptrace`, `/proc/PID/mem`) wherever
/// `fs.suid_dumpable` is 1 (the credential change then leaves it dumpable; no
/// `PR_SET_DUMPABLE` afterwards can close the instant before).
pub(crate) fn spawn(
    program: &mut Program,
    stdio: Option<(BorrowedFd<'_>, BorrowedFd<'_>)>,
    changes_credentials: bool,
    mut setup: impl FnMut() -> Result<(), (Step, u8, io::Error)>,
) -> Result<Forked, SpawnError> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    if !changes_credentials {
        return vfork::spawn(program, stdio, &mut setup);
    }
    let _ = changes_credentials;
    fork_spawn(program, stdio, &mut setup)
}

/// [`spawn`] with `fork`, the outcome on a close-on-exec pipe.
fn fork_spawn(
    program: &mut Program,
    stdio: Option<(BorrowedFd<'_>, BorrowedFd<'_>)>,
    setup: &mut impl FnMut() -> Result<(), (Step, u8, io::Error)>,
) -> Result<Forked, SpawnError> {
    let (report_read, report_write) = rustix::pipe::pipe()?;
    for fd in [&report_read, &report_write] {
        // Close-on-exec: a successful `execve` closes the write end, which is the report.
        rustix::io::fcntl_setfd(fd, rustix::io::FdFlags::CLOEXEC)?;
    }
    // SAFETY: the supervisor is single-threaded (no other thread can hold a lock the child
    // would need), and the child only makes async-signal-safe system calls until `execve` or
    // `_exit`: everything it uses (`program`, the descriptors, `setup`'s captures) was
    // prepared before the fork.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(io::Error::last_os_error().into());
    }
    if pid == 0 {
        let Err(failed) = in_child(program, stdio, setup);
        let _ = rustix::io::write(&report_write, &record(failed));
        // SAFETY: `_exit` in the forked child: no destructors, no flush of the supervisor's
        // buffers.
        unsafe { libc::_exit(127) };
    }
    drop(report_write);
    let child = rustix::process::Pid::from_raw(pid).ok_or_else(|| io::Error::other("fork returned no pid"))?;
    // Also here, so that the group exists before the supervisor may signal it, whichever of
    // the two runs first (EACCES once the child has exec'd: then it did it itself).
    let _ = rustix::process::setpgid(Some(child), Some(child));
    Ok(Forked { pid: child, report: Report::Pipe(report_read) })
}

#[cfg(any(target_os = "linux", target_os = "android"))]
mod vfork {
    use super::*;

    /// The child's stack: the steps before `exec` use a few KiB (no allocation, paths on the
    /// stack up to 256 bytes); a guard page below it.
    const STACK: usize = 256 * 1024;

    /// A stack mapped for the child, unmapped on drop.
    struct Stack {
        base: *mut libc::c_void,
        len: usize,
    }

    impl Stack {
        fn new() -> io::Result<Stack> {
            // SAFETY: `sysconf` reads a constant of the system.
            let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096);
            let len = STACK + page;
            // SAFETY: an anonymous private mapping at an address of the kernel's choosing
            // touches no existing memory.
            let base = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    len,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK | libc::MAP_NORESERVE,
                    -1,
                    0,
                )
            };
            if base == libc::MAP_FAILED {
                return Err(io::Error::last_os_error());
            }
            let stack = Stack { base, len };
            // The guard page: an overflow faults instead of writing below the mapping.
            // SAFETY: the lowest page of the mapping made above, which nothing uses yet.
            if unsafe { libc::mprotect(base, page, libc::PROT_NONE) } != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(stack)
        }

        /// The top of the stack (it grows down), 16-byte aligned as `clone` needs.
        fn top(&self) -> *mut libc::c_void {
            // SAFETY: one past the end of the mapping, which `clone` takes as the initial
            // stack pointer; the length is a multiple of the page size.
            unsafe { self.base.cast::<u8>().add(self.len).cast() }
        }
    }

    impl Drop for Stack {
        fn drop(&mut self) {
            // SAFETY: the mapping made in `new`; the child that ran on it has exec'd or
            // exited (CLONE_VFORK), so nothing uses it.
            unsafe { libc::munmap(self.base, self.len) };
        }
    }

    /// What the child gets: everything it uses, prepared before `clone`; it writes `failed`.
    struct Shared<'a, 'b, F> {
        program: &'a mut Program,
        stdio: Option<(BorrowedFd<'b>, BorrowedFd<'b>)>,
        setup: &'a mut F,
        /// The affinity to give back, when the supervisor pinned itself for the `clone`.
        affinity: Option<libc::cpu_set_t>,
        failed: Option<[u8; RECORD]>,
    }

    /// The child's entry point, on its own stack, in the supervisor's memory.
    extern "C" fn child<F: FnMut() -> Result<(), (Step, u8, io::Error)>>(arg: *mut libc::c_void) -> libc::c_int {
        // SAFETY: `arg` is the `Shared` of `spawn` below, alive and untouched by the
        // supervisor until this process has exec'd or exited (CLONE_VFORK).
        let shared = unsafe { &mut *arg.cast::<Shared<'_, '_, F>>() };
        let Err(failed) = restore_affinity(shared.affinity.as_ref())
            .map_err(|e| (Step::Affinity, 0, e))
            .and_then(|()| in_child(shared.program, shared.stdio, shared.setup));
        shared.failed = Some(record(failed));
        // SAFETY: `_exit`, as after `fork`: no destructors, no flush of the supervisor's
        // buffers (which are this process's memory too).
        unsafe { libc::_exit(127) }
    }

    /// Pins the supervisor to the CPU it runs on, for the `clone`; returns the affinity to give
    /// back (to itself and in the child), or `None` when it did not pin (one CPU already, or
    /// an error: then the `clone` goes ahead unpinned).
    ///
    /// Why: the kernel places a new process on the idlest CPU, not knowing that its parent is
    /// about to wait for it (CLONE_VFORK); on a virtual machine, waking an idle CPU takes from
    /// tens of microseconds to milliseconds, so the child could wait that long while the
    /// supervisor's own CPU, free the moment it waits, sits idle. The child inherits the
    /// pinned affinity, so it runs where its parent ran, and gives the affinity back as its
    /// first step (`Step::Affinity` if that fails: PROGRAM never runs pinned).
    fn pin() -> Option<libc::cpu_set_t> {
        let size = std::mem::size_of::<libc::cpu_set_t>();
        // SAFETY: an all-zero `cpu_set_t` is the empty set.
        let mut original: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        // SAFETY: `original` is a `cpu_set_t` of `size` bytes, written by the call. A machine
        // with more CPUs than it holds answers EINVAL: then no pinning.
        if unsafe { libc::sched_getaffinity(0, size, &mut original) } != 0 {
            return None;
        }
        // SAFETY: no arguments; glibc reads the CPU from the vDSO or rseq area.
        let cpu = usize::try_from(unsafe { libc::sched_getcpu() }).ok().filter(|&cpu| cpu < 8 * size)?;
        // SAFETY: as above.
        let mut one: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        // SAFETY: `cpu` is within the set (checked above); these only read and write its bits.
        let single = unsafe {
            libc::CPU_SET(cpu, &mut one);
            !libc::CPU_ISSET(cpu, &original) || libc::CPU_COUNT(&original) <= 1
        };
        if single {
            return None;
        }
        // SAFETY: `one` is a `cpu_set_t` of `size` bytes, read by the call.
        if unsafe { libc::sched_setaffinity(0, size, &one) } != 0 {
            return None;
        }
        Some(original)
    }

    /// `sched_setaffinity(0, affinity)`, if there is one to give back. Async-signal-safe.
    fn restore_affinity(affinity: Option<&libc::cpu_set_t>) -> io::Result<()> {
        let Some(affinity) = affinity else { return Ok(()) };
        // SAFETY: `affinity` is a `cpu_set_t`, read by the call.
        if unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), affinity) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    pub(super) fn spawn<F: FnMut() -> Result<(), (Step, u8, io::Error)>>(
        program: &mut Program,
        stdio: Option<(BorrowedFd<'_>, BorrowedFd<'_>)>,
        setup: &mut F,
    ) -> Result<Forked, SpawnError> {
        let stack = Stack::new()?;
        let affinity = pin();
        let mut shared = Shared { program, stdio, setup, affinity, failed: None };
        // SAFETY: `child` runs on `stack` (mapped above, alive until after this returns) with
        // `shared`, in this process's memory (CLONE_VM) while this thread waits (CLONE_VFORK)
        // until it has exec'd or exited; the supervisor is single-threaded, so no other
        // thread runs meanwhile. What it runs is what ran after `fork`: async-signal-safe
        // system calls on data prepared before, no allocation, no unwinding (`in_child`
        // returns its error). A signal handler of the supervisor's that runs in the child
        // (its own copy of the dispositions: no CLONE_SIGHAND) sees another pid, restores the
        // default and re-raises (`signals.rs`; glibc's `raise` asks the kernel for the tid,
        // for the sake of exactly this case). The child's errno is the supervisor's, read
        // below only when `clone` failed, when no child ran. The child changes no
        // credentials (`spawn`: then `fork`).
        let pid = unsafe {
            libc::clone(
                child::<F>,
                stack.top(),
                libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD,
                (&mut shared as *mut Shared<'_, '_, F>).cast(),
            )
        };
        let error = (pid < 0).then(io::Error::last_os_error);
        // The supervisor's own affinity back. It cannot fail but for a CPU taken offline or
        // out of the cpuset meanwhile, where the kernel has then moved it anyway.
        let _ = restore_affinity(affinity.as_ref());
        if let Some(error) = error {
            return Err(error.into());
        }
        drop(stack);
        let child = rustix::process::Pid::from_raw(pid).ok_or_else(|| io::Error::other("clone returned no pid"))?;
        Ok(Forked { pid: child, report: Report::Known(shared.failed) })
    }
}

impl Forked {
    /// The process's pid (PROGRAM's, once its `exec` succeeded).
    pub(crate) fn pid(&self) -> rustix::process::Pid {
        self.pid
    }

    /// Waits for the `exec`: the pid once it succeeded; else the step that failed and why, the
    /// process reaped.
    pub(crate) fn wait_exec(self) -> Result<rustix::process::Pid, SpawnError> {
        let child = self.pid;
        let record = match self.report {
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Report::Known(failed) => failed,
            Report::Pipe(report) => read_report(&report),
        };
        let Some(record) = record else {
            return Ok(child);
        };
        // The child failed and exits: reap it, so that its pid cannot be reused while we hold it.
        while let Err(rustix::io::Errno::INTR) =
            rustix::process::waitpid(Some(child), rustix::process::WaitOptions::empty())
        {}
        let step = Step::from_byte(record[0]).unwrap_or(Step::Exec);
        let errno = i32::from_le_bytes(record[2..].try_into().unwrap_or_default());
        Err(SpawnError { step, detail: record[1], error: io::Error::from_raw_os_error(errno) })
    }
}

/// Reads the exec-status pipe: `None` at end of file (`execve` closed it), else the record.
///
/// Not `std::process::Command`: when reading its exec-status pipe fails for a passing reason,
/// std waits for the child forever (it is PROGRAM by then); here a read error is retried, and
/// after a second of failures the child is taken as started (an `exec` that failed shows as
/// its exit status 127, reaped and logged as any exit).
fn read_report(report: &OwnedFd) -> Option<[u8; RECORD]> {
    let mut record = [0u8; RECORD];
    let mut len = 0;
    let mut failures = 0;
    loop {
        match rustix::io::read(report, &mut record[len..]) {
            Ok(0) => break,
            Ok(n) => {
                len += n;
                if len == record.len() {
                    return Some(record);
                }
            }
            Err(rustix::io::Errno::INTR) => {}
            Err(_) if failures < 100 => {
                failures += 1;
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            Err(_) => break,
        }
    }
    None // end of file: `execve` closed the pipe
}

/// The child's steps; returns only on failure.
fn in_child(
    program: &mut Program,
    stdio: Option<(BorrowedFd<'_>, BorrowedFd<'_>)>,
    setup: &mut impl FnMut() -> Result<(), (Step, u8, io::Error)>,
) -> Result<std::convert::Infallible, (Step, u8, io::Error)> {
    let at = |step: Step| move |e: rustix::io::Errno| (step, 0, io::Error::from(e));
    // SAFETY: `setpgid(0, 0)`, in the child, has no memory-safety preconditions.
    if unsafe { libc::setpgid(0, 0) } != 0 {
        return Err((Step::ProcessGroup, 0, io::Error::last_os_error()));
    }
    if let Some((out, err)) = stdio {
        rustix::stdio::dup2_stdout(out).map_err(at(Step::Stdio))?;
        rustix::stdio::dup2_stderr(err).map_err(at(Step::Stdio))?;
    }
    // The supervisor ignores SIGPIPE; an ignored disposition would survive `execve`.
    // SAFETY: restoring a default disposition has no preconditions.
    if unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) } == libc::SIG_ERR {
        return Err((Step::Signals, 0, io::Error::last_os_error()));
    }
    setup()?;
    // Socket activation: PROGRAM's own pid, known only now (no-op without `LISTEN_FDS`).
    program.set_listen_pid(rustix::process::getpid().as_raw_nonzero().get() as u32);
    Err((Step::Exec, 0, program.exec()))
}
