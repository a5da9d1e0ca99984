//! PROGRAM's process: its `execve` prepared from the options, and the steps between `fork` and
//! `exec` that apply to PROGRAM only.

use std::ffi::OsString;
use std::io;
use std::os::fd::BorrowedFd;
use std::os::unix::process::CommandExt;
use std::process::Stdio;

use daemonic::Credentials;
use rustix::process::Pid;

use crate::descriptors::clear_cloexec;
use crate::program::Program;
use crate::start_options::StartArgs;
use crate::sys;

/// Forks and executes PROGRAM: in its own process group, with no descriptor of ours
/// (everything the supervisor holds is close-on-exec; only stdio and `--keep-fd` ones are
/// inherited), as the service user (`credentials`), dying with the `supervisor`; `extra`
/// variables join its environment, `stdio` (its standard output and error) replaces the
/// supervisor's. `Ok` means the `exec` succeeded (the standard library's close-on-exec pipe
/// said so).
pub(crate) fn spawn(
    args: &StartArgs,
    extra: &[(OsString, OsString)],
    credentials: Option<Credentials>,
    supervisor: Pid,
    stdio: Option<(Stdio, Stdio)>,
) -> io::Result<Pid> {
    let program = program(args, extra)?;
    // std's `Command` forks and sets up stdio and the process group; the last step before
    // its own `execvp` is ours, `program.exec()`, which replaces the process (see
    // `program.rs` for why not `execvp`). Its error is what `spawn` returns.
    let mut command = std::process::Command::new(&args.program);
    command.process_group(0);
    let keep = args.keep_fds.clone();
    let nice = args.nice;
    // Under --chroot, --chdir is inside the new root.
    let chroot = args.chroot.clone();
    let chdir = args.chdir.clone().unwrap_or_else(|| "/".into());
    // SAFETY: the closure runs between fork and exec in a copy of this single-threaded
    // process (no other thread can have held a lock at the fork) and makes system calls
    // only: chroot, chdir, setpriority, fcntl, setgroups/setgid/setuid, prctl, getppid,
    // execve. rustix passes the two paths through a stack buffer (it allocates only for
    // paths of 256 bytes or more, which is safe here too: nothing else runs in the child).
    unsafe {
        command.pre_exec(move || {
            if let Some(root) = &chroot {
                rustix::process::chroot(root)?;
                rustix::process::chdir(&chdir)?;
            }
            set_nice(nice)?;
            for &fd in &keep {
                clear_cloexec(BorrowedFd::borrow_raw(fd))?;
            }
            if let Some(credentials) = &credentials {
                credentials.apply()?;
            }
            sys::die_with_supervisor(supervisor)?;
            Err(program.exec())
        })
    };
    if let Some((out, err)) = stdio {
        command.stdout(out).stderr(err);
    }
    let child = command.spawn()?;
    Pid::from_raw(child.id() as i32).ok_or_else(|| io::Error::other("no child pid"))
}

/// PROGRAM, its arguments and its environment: the caller's (none with `--clear-env`), then
/// `--env`, then `extra` (the supervisor's `NOTIFY_SOCKET`). A bare program name is looked up
/// in `--env PATH=` if given, else in the caller's `PATH` (so that `--clear-env` does not hide
/// it); under `--chroot` in those directories inside the new root.
pub(crate) fn program(args: &StartArgs, extra: &[(OsString, OsString)]) -> std::io::Result<Program> {
    let mut vars: Vec<(OsString, OsString)> = if args.clear_env { Vec::new() } else { std::env::vars_os().collect() };
    for (name, value) in args.env.iter().chain(extra) {
        vars.retain(|(existing, _)| existing != name);
        vars.push((name.clone(), value.clone()));
    }
    let path = args.env.iter().rev().find(|(name, _)| name == "PATH").map(|(_, value)| value.clone());
    let path = path.or_else(|| std::env::var_os("PATH"));
    Program::new(&args.program, &args.args, vars, path.as_deref())
}

/// `setpriority(PRIO_PROCESS, 0, n)` for `--nice`. Async-signal-safe.
pub(crate) fn set_nice(nice: Option<i32>) -> std::io::Result<()> {
    if let Some(nice) = nice {
        rustix::process::setpriority_process(None, nice)?;
    }
    Ok(())
}
