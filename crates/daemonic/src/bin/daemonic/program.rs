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
}

impl Step {
    fn from_byte(byte: u8) -> Option<Step> {
        use Step::*;
        [ProcessGroup, Stdio, Signals, Chroot, Chdir, Nice, KeepFd, SwitchUser, TieToSupervisor, Setting, Exec]
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

/// PROGRAM's process, forked, its `exec` not yet known to have succeeded: the caller can do
/// its own work meanwhile (the supervisor writes its state record while PROGRAM's process
/// execs), then [`wait_exec`](Forked::wait_exec).
pub(crate) struct Forked {
    pid: rustix::process::Pid,
    /// The read end of the exec-status pipe: end of file once `execve` succeeded, a record of
    /// the failed step before that.
    report: OwnedFd,
}

/// Forks PROGRAM's process: in its own process group, its standard output and error on
/// `stdio` (else the supervisor's), SIGPIPE back to its default, then `setup` (the
/// supervisor's steps: chroot, nice, privileges, …), then [`Program::exec`]. Returns once it
/// is forked; [`Forked::wait_exec`] says whether the `exec` succeeded.
pub(crate) fn spawn(
    program: &mut Program,
    stdio: Option<(BorrowedFd<'_>, BorrowedFd<'_>)>,
    mut setup: impl FnMut() -> Result<(), (Step, u8, io::Error)>,
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
        let Err((step, detail, error)) = in_child(program, stdio, &mut setup);
        let errno = error.raw_os_error().unwrap_or(libc::EIO);
        let mut record = [0u8; 6];
        record[0] = step as u8;
        record[1] = detail;
        record[2..].copy_from_slice(&errno.to_le_bytes());
        let _ = rustix::io::write(&report_write, &record);
        // SAFETY: `_exit` in the forked child: no destructors, no flush of the supervisor's
        // buffers.
        unsafe { libc::_exit(127) };
    }
    drop(report_write);
    let child = rustix::process::Pid::from_raw(pid).ok_or_else(|| io::Error::other("fork returned no pid"))?;
    // Also here, so that the group exists before the supervisor may signal it, whichever of
    // the two runs first (EACCES once the child has exec'd: then it did it itself).
    let _ = rustix::process::setpgid(Some(child), Some(child));
    Ok(Forked { pid: child, report: report_read })
}

impl Forked {
    /// The process's pid (PROGRAM's, once its `exec` succeeded).
    pub(crate) fn pid(&self) -> rustix::process::Pid {
        self.pid
    }

    /// Waits for the `exec`: the pid once it succeeded; else the step that failed and why, the
    /// process reaped.
    ///
    /// Not `std::process::Command`: when reading its exec-status pipe fails for a passing
    /// reason, std waits for the child forever (it is PROGRAM by then); here a read error is
    /// retried, and after a second of failures the child is taken as started (an `exec` that
    /// failed shows as its exit status 127, reaped and logged as any exit).
    pub(crate) fn wait_exec(self) -> Result<rustix::process::Pid, SpawnError> {
        let Forked { pid: child, report: report_read } = self;
        let mut record = [0u8; 6];
        let mut len = 0;
        let mut failures = 0;
        loop {
            match rustix::io::read(&report_read, &mut record[len..]) {
                Ok(0) => break,
                Ok(n) => {
                    len += n;
                    if len == record.len() {
                        break;
                    }
                }
                Err(rustix::io::Errno::INTR) => {}
                Err(_) if failures < 100 => {
                    failures += 1;
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                Err(_) => return Ok(child),
            }
        }
        if len < record.len() {
            return Ok(child); // end of file: `execve` closed the pipe
        }
        // The child failed and exits: reap it, so that its pid cannot be reused while we hold it.
        while let Err(rustix::io::Errno::INTR) =
            rustix::process::waitpid(Some(child), rustix::process::WaitOptions::empty())
        {}
        let step = Step::from_byte(record[0]).unwrap_or(Step::Exec);
        let errno = i32::from_le_bytes(record[2..].try_into().unwrap_or_default());
        Err(SpawnError { step, detail: record[1], error: io::Error::from_raw_os_error(errno) })
    }
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
