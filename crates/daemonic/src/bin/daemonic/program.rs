//! PROGRAM's `execve`, prepared before `fork`: the files to try, the arguments and the
//! environment, so that the child only makes system calls.
//!
//! Not `execvp`: glibc's (and musl's) run a file the kernel refuses with `ENOEXEC` through
//! `/bin/sh`, so `start` would report success for a file that is not a program at all (a
//! data file with the executable bit, a script without `#!`). Here `ENOEXEC` is reported.

use std::ffi::{CString, OsStr, OsString};
use std::io;
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
