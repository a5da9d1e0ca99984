//! PROGRAM's process: its `execve` prepared from the options, and the steps between `fork` and
//! `exec` that apply to PROGRAM only.

use std::ffi::OsString;
use std::io;
use std::os::fd::{AsFd as _, AsRawFd as _, BorrowedFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Stdio;

use daemonic::Credentials;
use rustix::process::Pid;

use crate::descriptors::{clear_cloexec, set_cloexec};
use crate::limits::Failed;
use crate::program::Program;
use crate::report::os_message;
use crate::start_options::StartArgs;
use crate::sys;

/// The step between `fork` and `exec` that failed, as the child reports it: one byte, written
/// to a close-on-exec pipe just before the error goes back through the standard library's
/// (which carries only the errno).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Step {
    Chroot = 1,
    Chdir,
    Nice,
    KeepFd,
    SwitchUser,
    TieToSupervisor,
    /// `--limit`, `--ionice`, `--oom-score-adj`, `--no-new-privileges`: a second byte says
    /// which (`setting_byte`).
    Setting,
}

/// The second byte after [`Step::Setting`].
fn setting_byte(failed: Failed) -> u8 {
    match failed {
        Failed::Limit(index) => index.min(199) as u8,
        Failed::Ionice => 250,
        Failed::OomScoreAdj => 251,
        Failed::NoNewPrivileges => 252,
    }
}

fn setting_from_byte(byte: u8) -> Failed {
    match byte {
        250 => Failed::Ionice,
        251 => Failed::OomScoreAdj,
        252 => Failed::NoNewPrivileges,
        index => Failed::Limit(usize::from(index)),
    }
}

impl Step {
    fn from_byte(byte: u8) -> Option<Step> {
        [Step::Chroot, Step::Chdir, Step::Nice, Step::KeepFd, Step::SwitchUser, Step::TieToSupervisor, Step::Setting]
            .into_iter()
            .find(|step| *step as u8 == byte)
    }
}

/// Why PROGRAM did not run: the step that failed and its OS error.
#[derive(Debug)]
pub(crate) struct SpawnError {
    step: Option<Step>,
    /// Which setting, after [`Step::Setting`].
    setting: Option<Failed>,
    pub(crate) error: io::Error,
}

impl From<io::Error> for SpawnError {
    fn from(error: io::Error) -> SpawnError {
        SpawnError { step: None, setting: None, error }
    }
}

impl SpawnError {
    /// The message: `cannot switch to user root: Operation not permitted`, `cannot execute
    /// sleep: No such file or directory`.
    pub(crate) fn describe(&self, args: &StartArgs) -> String {
        let error = os_message(&self.error);
        let root = || args.chroot.as_deref().unwrap_or(Path::new("/")).display().to_string();
        match self.step {
            Some(Step::Chroot) => format!("cannot change root to {}: {error}", root()),
            Some(Step::Chdir) => format!(
                "cannot change directory to {} inside {}: {error}",
                args.chdir.as_deref().unwrap_or(Path::new("/")).display(),
                root()
            ),
            Some(Step::Nice) => format!("cannot set nice value {}: {error}", args.nice.unwrap_or_default()),
            Some(Step::KeepFd) => format!("cannot pass on the --keep-fd descriptors: {error}"),
            Some(Step::SwitchUser) => match (&args.user, &args.group) {
                (Some(user), Some(group)) => format!("cannot switch to user {user} and group {group}: {error}"),
                (Some(user), None) => format!("cannot switch to user {user}: {error}"),
                (None, Some(group)) => format!("cannot switch to group {group}: {error}"),
                (None, None) => format!("cannot switch user: {error}"),
            },
            Some(Step::TieToSupervisor) => {
                format!("cannot tie {} to the supervisor's life: {error}", args.program.to_string_lossy())
            }
            Some(Step::Setting) => match self.setting {
                Some(failed) => format!("{}: {error}", args.settings.describe(failed)),
                None => format!("cannot apply PROGRAM's limits: {error}"),
            },
            None => format!("cannot execute {}: {error}", args.program.to_string_lossy()),
        }
    }
}

/// Forks and executes PROGRAM: in its own process group, with no descriptor of ours
/// (everything the supervisor holds is close-on-exec; only stdio and `--keep-fd` ones are
/// inherited), as the service user (`credentials`), dying with the `supervisor`; `extra`
/// variables join its environment, `stdio` (its standard output and error) replaces the
/// supervisor's. `Ok` means the `exec` succeeded (the standard library's close-on-exec pipe
/// said so); an error names the step that failed.
pub(crate) fn spawn(
    args: &StartArgs,
    extra: &[(OsString, OsString)],
    credentials: Option<Credentials>,
    supervisor: Pid,
    stdio: Option<(Stdio, Stdio)>,
) -> Result<Pid, SpawnError> {
    let mut program = program(args, extra)?;
    // std's `Command` forks and sets up stdio and the process group; the last step before
    // its own `execvp` is ours, `program.exec()`, which replaces the process (see
    // `program.rs` for why not `execvp`). Its error is what `spawn` returns.
    let mut command = std::process::Command::new(&args.program);
    command.process_group(0);
    let keep = args.passed_fds();
    let nice = args.nice;
    // Under --chroot, --chdir is inside the new root.
    let chroot = args.chroot.clone();
    let chdir = args.chdir.clone().unwrap_or_else(|| "/".into());
    let settings = args.settings.clone();
    let oom_text = settings.oom_text();
    // The step pipe: the child writes the failed step's byte before returning the error; on
    // `exec` the write end closes unread.
    // (`pipe`, then the flags: macOS has no `pipe2`, and the supervisor has no other thread
    // that could fork in between.)
    let (step_read, step_write) = rustix::pipe::pipe().map_err(io::Error::from)?;
    set_cloexec(step_read.as_fd())?;
    set_cloexec(step_write.as_fd())?;
    rustix::fs::fcntl_setfl(&step_read, rustix::fs::OFlags::NONBLOCK).map_err(io::Error::from)?;
    let step_fd = step_write.as_raw_fd();
    // SAFETY: the closure runs between fork and exec in a copy of this single-threaded
    // process (no other thread can have held a lock at the fork) and makes system calls
    // only: chroot, chdir, setpriority, fcntl, setgroups/setgid/setuid, prctl, getppid,
    // write, execve. rustix passes the two paths through a stack buffer (it allocates only for
    // paths of 256 bytes or more, which is safe here too: nothing else runs in the child).
    unsafe {
        command.pre_exec(move || {
            let failed = |step: Step| {
                move |error: io::Error| {
                    // SAFETY: `step_fd` is the step pipe's write end, open in the child
                    // until `exec`. One byte to a pipe: atomic, never partial.
                    let _ = rustix::io::write(BorrowedFd::borrow_raw(step_fd), &[step as u8]);
                    error
                }
            };
            if let Some(root) = &chroot {
                rustix::process::chroot(root).map_err(io::Error::from).map_err(failed(Step::Chroot))?;
                rustix::process::chdir(&chdir).map_err(io::Error::from).map_err(failed(Step::Chdir))?;
            }
            set_nice(nice).map_err(failed(Step::Nice))?;
            // Before the privilege drop: raising a hard limit, lowering the OOM score and the
            // realtime I/O class need root.
            let setting_failed = |(which, error): (Failed, io::Error)| {
                // SAFETY: as above; two bytes to a pipe in one write: atomic.
                let _ = rustix::io::write(BorrowedFd::borrow_raw(step_fd), &[Step::Setting as u8, setting_byte(which)]);
                error
            };
            settings.apply_before_drop(oom_text.as_deref()).map_err(setting_failed)?;
            for &fd in &keep {
                clear_cloexec(BorrowedFd::borrow_raw(fd)).map_err(failed(Step::KeepFd))?;
            }
            if let Some(credentials) = &credentials {
                credentials.apply().map_err(failed(Step::SwitchUser))?;
            }
            sys::die_with_supervisor(supervisor).map_err(failed(Step::TieToSupervisor))?;
            settings.apply_before_exec().map_err(setting_failed)?;
            program.set_listen_pid(rustix::process::getpid().as_raw_nonzero().get() as u32);
            Err(program.exec())
        })
    };
    if let Some((out, err)) = stdio {
        command.stdout(out).stderr(err);
    }
    let spawned = command.spawn();
    drop(command);
    drop(step_write);
    match spawned {
        Ok(child) => Pid::from_raw(child.id() as i32).ok_or_else(|| io::Error::other("no child pid").into()),
        Err(error) => {
            // `spawn` returns once the child exec'd or exited: its byte, if any, is there.
            let mut bytes = [0u8; 2];
            let (step, setting) = match rustix::io::read(&step_read, &mut bytes) {
                Ok(2) if bytes[0] == Step::Setting as u8 => (Some(Step::Setting), Some(setting_from_byte(bytes[1]))),
                Ok(1..) => (Step::from_byte(bytes[0]), None),
                _ => (None, None),
            };
            Err(SpawnError { step, setting, error })
        }
    }
}

/// PROGRAM, its arguments and its environment: the caller's (none with `--clear-env`), then
/// the `--env-file`s', then `--env`, then `extra` (the supervisor's `NOTIFY_SOCKET`). A bare program name is looked up
/// in `PATH` from `--env`/`--env-file` if given, else in the caller's `PATH` (so that `--clear-env` does not hide
/// it); under `--chroot` in those directories inside the new root.
pub(crate) fn program(args: &StartArgs, extra: &[(OsString, OsString)]) -> std::io::Result<Program> {
    let mut vars: Vec<(OsString, OsString)> = if args.clear_env { Vec::new() } else { std::env::vars_os().collect() };
    for (name, value) in args.file_env.iter().chain(&args.env).chain(extra) {
        vars.retain(|(existing, _)| existing != name);
        vars.push((name.clone(), value.clone()));
    }
    let path =
        args.file_env.iter().chain(&args.env).rev().find(|(name, _)| name == "PATH").map(|(_, value)| value.clone());
    let path = path.or_else(|| std::env::var_os("PATH"));
    if args.listen_fds.is_empty() {
        return Program::new(&args.program, &args.args, vars, path.as_deref());
    }
    // Socket activation (sd_listen_fds(3)): the count, the names, and the pid, filled in the
    // child (`set_listen_pid`). A variable of the caller's of the same name never gets through.
    vars.retain(|(name, _)| !["LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"].iter().any(|n| name == n));
    vars.push(("LISTEN_FDS".into(), args.listen_fds.len().to_string().into()));
    if args.listen_fds.iter().any(|(_, name)| name.is_some()) {
        let names: Vec<&str> = args.listen_fds.iter().map(|(_, name)| name.as_deref().unwrap_or("unknown")).collect();
        vars.push(("LISTEN_FDNAMES".into(), names.join(":").into()));
    }
    Ok(Program::new(&args.program, &args.args, vars, path.as_deref())?.with_listen_pid())
}

/// `setpriority(PRIO_PROCESS, 0, n)` for `--nice`. Async-signal-safe.
pub(crate) fn set_nice(nice: Option<i32>) -> std::io::Result<()> {
    if let Some(nice) = nice {
        rustix::process::setpriority_process(None, nice)?;
    }
    Ok(())
}
