//! PROGRAM's process: its `execve` prepared from the options, and the steps between `fork` and
//! `exec` that apply to PROGRAM only.

use std::ffi::OsString;
use std::io;
use std::os::fd::BorrowedFd;
use std::path::Path;

use daemonic::Credentials;
use rustix::process::Pid;

use crate::descriptors::clear_cloexec;
use crate::limits::Failed;
use crate::program::{Forked, Program, SpawnError, Step};
use crate::report::os_message;
use crate::start_options::StartArgs;
use crate::sys;

/// The detail byte of [`Step::Setting`]: which setting failed.
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

impl SpawnError {
    /// The message: `cannot switch to user root: Operation not permitted`, `cannot execute
    /// sleep: No such file or directory`.
    pub(crate) fn describe(&self, args: &StartArgs) -> String {
        let error = os_message(&self.error);
        let root = || args.chroot.as_deref().unwrap_or(Path::new("/")).display().to_string();
        match self.step {
            Step::ProcessGroup => {
                format!("cannot give {} a process group of its own: {error}", args.program.to_string_lossy())
            }
            Step::Stdio => {
                format!("cannot connect {}'s output to the log relay: {error}", args.program.to_string_lossy())
            }
            Step::Signals => format!("cannot reset {}'s signal handling: {error}", args.program.to_string_lossy()),
            Step::Chroot => format!("cannot change root to {}: {error}", root()),
            Step::Chdir => format!(
                "cannot change directory to {} inside {}: {error}",
                args.chdir.as_deref().unwrap_or(Path::new("/")).display(),
                root()
            ),
            Step::Nice => format!("cannot set nice value {}: {error}", args.nice.unwrap_or_default()),
            Step::KeepFd => format!("cannot pass on the --keep-fd descriptors: {error}"),
            Step::SwitchUser => match (&args.user, &args.group) {
                (Some(user), Some(group)) => format!("cannot switch to user {user} and group {group}: {error}"),
                (Some(user), None) => format!("cannot switch to user {user}: {error}"),
                (None, Some(group)) => format!("cannot switch to group {group}: {error}"),
                (None, None) => format!("cannot switch user: {error}"),
            },
            Step::TieToSupervisor => {
                format!("cannot tie {} to the supervisor's life: {error}", args.program.to_string_lossy())
            }
            Step::Setting => format!("{}: {error}", args.settings.describe(setting_from_byte(self.detail))),
            Step::Exec => format!("cannot execute {}: {error}", args.program.to_string_lossy()),
            Step::Affinity => {
                format!("cannot give {} the supervisor's CPU affinity: {error}", args.program.to_string_lossy())
            }
        }
    }
}

/// Starts and executes PROGRAM (`program::spawn`): in its own process group, with no
/// descriptor of ours (everything the supervisor holds is close-on-exec; only stdio and
/// `--keep-fd` ones are inherited), as the service user (`credentials`), dying with the
/// `supervisor`; `extra` variables join its environment, `stdio` (its standard output and
/// error) replaces the supervisor's. Returns once PROGRAM's process is started (on Linux once
/// it has exec'd or failed: `program::spawn`): [`Forked::wait_exec`] says whether its `exec`
/// succeeded, or names the step that failed.
pub(crate) fn spawn(
    args: &StartArgs,
    extra: &[(OsString, OsString)],
    credentials: Option<&Credentials>,
    supervisor: Pid,
    stdio: Option<(BorrowedFd<'_>, BorrowedFd<'_>)>,
) -> Result<Forked, SpawnError> {
    let mut program = program(args, extra)?;
    let keep = args.passed_fds();
    let nice = args.nice;
    // Under --chroot, --chdir is inside the new root.
    let chroot = args.chroot.as_deref();
    let chdir = inside_root(args.chdir.as_deref());
    let settings = &args.settings;
    let oom_text = settings.oom_text();
    // Runs in PROGRAM's process between fork (Linux: `clone` with CLONE_VM, in the
    // supervisor's memory) and exec: system calls only (chroot, chdir,
    // setpriority, setrlimit, ioprio_set, prctl, the oom_score_adj write, fcntl,
    // setgroups/setgid/setuid, getppid). rustix passes the two paths through a stack buffer (it
    // allocates only for paths of 256 bytes or more, which is safe here too: nothing else runs
    // in the child, and with CLONE_VM the single-threaded supervisor waits in `clone`, not
    // inside the allocator, whose state the child then finds whole and leaves whole).
    let setup = || {
        let at = |step: Step| move |e: io::Error| (step, 0, e);
        let setting_failed = |(which, error): (Failed, io::Error)| (Step::Setting, setting_byte(which), error);
        if let Some(root) = chroot {
            change_root(root, &chdir).map_err(|(step, e)| (step, 0, e))?;
        }
        set_nice(nice).map_err(at(Step::Nice))?;
        // Before the privilege drop: raising a hard limit, lowering the OOM score and the
        // realtime I/O class need root.
        settings.apply_before_drop(oom_text.as_deref()).map_err(setting_failed)?;
        for &fd in &keep {
            // SAFETY: `daemonize` checked the descriptor is open, and the supervisor keeps it
            // open (close-on-exec) across restarts.
            clear_cloexec(unsafe { BorrowedFd::borrow_raw(fd) }).map_err(at(Step::KeepFd))?;
        }
        if let Some(credentials) = credentials {
            credentials.apply().map_err(at(Step::SwitchUser))?;
        }
        sys::die_with_supervisor(supervisor).map_err(at(Step::TieToSupervisor))?;
        settings.apply_before_exec().map_err(setting_failed)
    };
    // A process that becomes the service user gets memory of its own (`fork`): never the
    // supervisor's (see `program::spawn`).
    crate::program::spawn(&mut program, stdio, credentials.is_some(), setup)
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

/// The directory to change to after `chroot`: `--chdir` taken from the new root (a relative
/// one too, as start-stop-daemon takes it, and as `start` checked it beforehand), `/` without
/// one. Never relative: the working directory after `chroot` is still the old root's, so a
/// relative path would resolve outside the new root and leave PROGRAM there.
pub(crate) fn inside_root(chdir: Option<&Path>) -> std::path::PathBuf {
    Path::new("/").join(chdir.unwrap_or(Path::new("/")))
}

/// `chroot` to `root`, then `chdir` to `dir` (from [`inside_root`], made before: absolute, so
/// taken from the new root), for PROGRAM's process, supervised or not; the failed step on
/// error. Async-signal-safe (paths under 256 bytes pass through a stack buffer).
pub(crate) fn change_root(root: &Path, dir: &Path) -> Result<(), (Step, io::Error)> {
    rustix::process::chroot(root).map_err(|e| (Step::Chroot, e.into()))?;
    rustix::process::chdir(dir).map_err(|e| (Step::Chdir, e.into()))
}

/// `setpriority(PRIO_PROCESS, 0, n)` for `--nice`. Async-signal-safe.
pub(crate) fn set_nice(nice: Option<i32>) -> std::io::Result<()> {
    if let Some(nice) = nice {
        rustix::process::setpriority_process(None, nice)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chdir_after_chroot_is_taken_from_the_new_root() {
        assert_eq!(inside_root(Some(Path::new("srv/app"))), Path::new("/srv/app"));
        assert_eq!(inside_root(Some(Path::new("/srv/app"))), Path::new("/srv/app"));
        assert_eq!(inside_root(None), Path::new("/"));
    }
}
