//! `daemonic start`: daemonize, then supervise PROGRAM (or, with `--no-supervise`, become it).

use std::os::fd::{AsFd, AsRawFd as _, BorrowedFd, OwnedFd, RawFd};
use std::path::Path;
use std::process::ExitCode;

use daemonic::{Daemon, DaemonError, DaemonGuard};
use rustix::fs::{FlockOperation, OFlags};

use crate::descriptors::clear_cloexec;
use crate::program::{SpawnError, Step};
use crate::report::{chain, errno_message, esay, inform, os_message};
use crate::spawn::{change_root, inside_root, program, set_nice};
use crate::start_options::{StartArgs, USAGE};
use crate::supervise;
use crate::Failure;

pub(crate) fn run(args: &StartArgs) -> Result<ExitCode, Failure> {
    if args.chroot.is_some() && args.notify_await {
        // The notification socket is the supervisor's, outside the jail: PROGRAM could never
        // reach it, and the start would always time out.
        return Err(Failure::Usage(
            "--notify-await cannot be used with --chroot: PROGRAM could not reach the notification socket".into(),
            USAGE,
        ));
    }
    if let Some(root) = &args.chroot {
        // PROGRAM's chroot and chdir happen between fork and exec, where a failure can only be
        // reported as an errno: check the directories here, by name, to say what is wrong.
        let inside = args.chdir.as_deref().unwrap_or(Path::new("/"));
        let target = root.join(inside.strip_prefix("/").unwrap_or(inside));
        if !root.is_dir() {
            return Err(Failure::Error(format!("--chroot {}: not a directory", root.display())));
        }
        if !target.is_dir() {
            return Err(Failure::Error(format!(
                "--chdir {}: not a directory inside --chroot {}",
                inside.display(),
                root.display()
            )));
        }
    }
    if let Some(syslog) = &args.syslog {
        // Lines sent while no syslog daemon listens are lost (as with syslog(3)); a daemon may
        // start later, so this is not an error, but a mistyped --syslog-socket, or a container
        // without /dev/log, should not lose every line silently.
        if let Err(e) = crate::relay::syslog_listens(&syslog.socket) {
            crate::report::warn(&format!(
                "no syslog daemon receives on {}: {}; PROGRAM's lines are lost until one does",
                syslog.socket.display(),
                os_message(&e)
            ));
        }
    }
    // Without a supervisor, a program that dropped privileges takes the lock over by reopening
    // root's file read-only (`read_only_lock`): others must be able to read it.
    let unsupervised_user = !args.supervise && args.user.is_some();
    let pidfile_mode = match args.pidfile_mode {
        Some(mode) if unsupervised_user && mode & 0o004 == 0 => {
            return Err(Failure::Usage(
                format!(
                    "--pidfile-mode {mode:o} with --no-supervise --user: the program could not reopen the file \
                     to hold its lock (it needs others' read permission, e.g. 644)"
                ),
                USAGE,
            ))
        }
        Some(mode) => mode,
        None if unsupervised_user => 0o644,
        None => 0o600,
    };
    if !args.supervise {
        // The daemon is PROGRAM: limits, I/O priority, OOM score and no-new-privileges are
        // inherited across fork, so they are set here, as root, before the daemon drops
        // privileges (PROGRAM's `--user`).
        let settings = &args.settings;
        let applied =
            settings.apply_before_drop(settings.oom_text().as_deref()).and_then(|()| settings.apply_before_exec());
        if let Err((failed, error)) = applied {
            return Err(Failure::Error(format!("{}: {}", settings.describe(failed), os_message(&error))));
        }
    }
    let mut daemon = Daemon::new().pidfile_mode(pidfile_mode).manual_readiness().foreground(args.foreground);
    if let Some(pidfile) = &args.pidfile {
        daemon = daemon.pidfile(pidfile);
    }
    // Under --chroot, --chdir is a directory inside the new root: PROGRAM changes to it there
    // (supervise.rs; without a supervisor `enter_root`); the supervisor itself stays in `/`.
    if let Some(dir) = args.chdir.as_ref().filter(|_| args.chroot.is_none()) {
        daemon = daemon.working_dir(dir);
    } else if args.foreground && args.chroot.is_none() {
        // Under a service manager, a run script or a container, the working directory is the
        // one it chose (a run script's own directory, a container's WORKDIR): kept, unless
        // --chdir says otherwise. Only a forking daemon moves to `/` (it must not pin a mount).
        if let Ok(dir) = std::env::current_dir() {
            daemon = daemon.working_dir(dir);
        }
    }
    // The caller's umask unless one is given: never 0 (world-writable files) by default, so a
    // caller's 0 becomes 022.
    let mask = args.umask.unwrap_or_else(|| {
        let current = rustix::process::umask(rustix::fs::Mode::empty());
        rustix::process::umask(current);
        match current.bits() as u32 {
            0 => 0o022,
            mask => mask,
        }
    });
    daemon = daemon.umask(mask);
    // Opened by `daemonize` (append mode, never following a symlink), after it checked the
    // descriptors named by --keep-fd/--notify-fd: a file opened here first could take the
    // number of one the caller does not have open. Never truncated there: the file may be a
    // running daemon's log, and whether we may start is only known once the PID file is
    // locked; truncation (without --append) happens in the daemon.
    if let Some(path) = &args.stdout {
        daemon = daemon.stdout_path(path);
    }
    if let Some(path) = &args.stderr {
        daemon = daemon.stderr_path(path);
    }
    if let Some(user) = &args.user {
        daemon = daemon.user(user.clone());
    }
    if let Some(group) = &args.group {
        daemon = daemon.group(group.clone());
    }
    if args.supervise || args.chroot.is_some() {
        // The supervisor stays root: see `Daemon::keep_privileges`. Without a supervisor the
        // daemon itself is PROGRAM, and under --chroot it hands its lock over outside the new
        // root (where the PID file's directory and /proc are), then changes root and drops
        // privileges itself (`enter_root`); otherwise the library drops them.
        daemon = daemon.keep_privileges();
    }
    if let Some(fd) = args.notify_fd {
        daemon = daemon.ready_fd(fd);
    }
    if !args.listen_fds.is_empty() {
        move_listen_fds(args)?;
    }
    daemon = daemon.keep_fds(args.passed_fds());
    if !args.foreground {
        daemon = daemon.on_launched(|pid| inform(&format!("daemonic: started (pid {pid})\n")));
    }

    let guard = match daemon.daemonize() {
        Ok(guard) => guard,
        Err(DaemonError::PidFile { source: pidfile::PidFileError::AlreadyRunning { pid, .. } }) if args.oknodo => {
            let holder = pid.map(|pid| format!(" (pid {pid})")).unwrap_or_default();
            inform(&format!("daemonic: already running{holder}; nothing done (--oknodo)\n"));
            return Ok(ExitCode::SUCCESS);
        }
        Err(DaemonError::Failed { message, .. }) => return Err(Failure::Error(message)),
        Err(e) => return Err(Failure::Error(chain(&e))),
    };
    // In the daemon (or, in foreground mode, the same process).
    if let Err(message) = truncate_outputs(args) {
        return Err(fail(guard, message));
    }
    if args.supervise {
        return Ok(supervise::run(guard, args));
    }
    Err(exec_unsupervised(guard, args))
}

/// Reports `message` to the launcher (which prints it and exits non-zero) and removes the PID
/// file; `main` prints it here too (the log; in foreground mode, the caller's stderr).
pub(crate) fn fail(guard: DaemonGuard, message: String) -> Failure {
    let _ = guard.fail(&message);
    Failure::Error(message)
}

/// `--no-supervise`: PROGRAM becomes the daemon. The lock moves to a read-only descriptor that
/// survives `exec`; the read-write one closes on `exec`. Only returns on failure.
fn exec_unsupervised(mut guard: DaemonGuard, args: &StartArgs) -> Failure {
    let prepared = (|| {
        if let Some(pidfile) = guard.pidfile() {
            let read_only = read_only_lock(pidfile)?;
            // Deliberately leaked: it must stay open (and locked) through `exec`.
            std::mem::forget(read_only);
        }
        for fd in args.passed_fds() {
            // SAFETY: the user asked for this descriptor to be kept; it is open (daemonize
            // kept it) or fcntl reports EBADF.
            let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
            clear_cloexec(borrowed).map_err(|e| format!("--keep-fd {fd}: {}", os_message(&e)))?;
        }
        if let Some(root) = &args.chroot {
            enter_root(root, args, guard.credentials())?;
        }
        Ok::<(), String>(())
    })();
    let error = match prepared {
        Err(message) => message,
        Ok(()) => match guard.ready_on_exec() {
            Err(e) => chain(&e),
            Ok(()) => match set_nice(args.nice) {
                Err(e) => format!("--nice: {}", os_message(&e)),
                Ok(()) => {
                    let error = match program(args, &[]) {
                        Ok(mut program) => {
                            program.set_listen_pid(rustix::process::getpid().as_raw_nonzero().get() as u32);
                            program.exec()
                        }
                        Err(e) => e,
                    };
                    format!("cannot execute {}: {}", args.program.to_string_lossy(), os_message(&error))
                }
            },
        },
    };
    // Only reached when PROGRAM could not be executed: tell the launcher, remove the PID file.
    if guard.is_ready() {
        // Foreground: there is no launcher; say it here.
        esay(&format!("daemonic: {error}\n"));
    }
    let _ = guard.fail(&error);
    Failure::Error(error)
}

/// `--no-supervise --chroot`: the daemon, about to become PROGRAM, changes root to `root` and
/// directory to `--chdir` inside it, then drops privileges (`--user`, `--group`): after the
/// lock's hand-over, which needs the PID file's directory and `/proc` outside the new root.
/// The PID file's descriptors stay open (the read-only one for PROGRAM, the others close on
/// `exec`).
fn enter_root(root: &Path, args: &StartArgs, credentials: Option<&daemonic::Credentials>) -> Result<(), String> {
    let at = |step: Step| move |error: std::io::Error| SpawnError { step, detail: 0, error }.describe(args);
    change_root(root, &inside_root(args.chdir.as_deref())).map_err(|(step, e)| at(step)(e))?;
    if let Some(credentials) = credentials {
        credentials.apply().map_err(at(Step::SwitchUser))?;
    }
    Ok(())
}

/// A second, read-only open file description of the locked PID file, holding its lock in
/// place of the read-write one, for a program that must not be able to write the file.
///
/// Reopened through procfs on Linux ([`reopen`](crate::descriptors::reopen): the same inode,
/// no lookup of the PID file's name); elsewhere by name in the PID file's directory (its
/// descriptor), and refused unless it is the same inode. Under `--chroot` this runs before the
/// change of root (`enter_root`), where the directory and `/proc` are. `flock` cannot move a
/// lock between descriptions, so the read-write one is unlocked first; in that instant another
/// `start` may take the lock, and then this one fails (one instance runs, as it must). The
/// protocol, proven by the model (`crates/pidfile/model`, configuration `WITH_HANDOFF`):
/// empty the file (it must not name us while we do not hold it), unlock, lock the read-only
/// description, check that the path still names the inode (another start may have taken the
/// file over and removed it meanwhile), and only then write our pid again.
fn read_only_lock(pidfile: &pidfile::PidFile) -> Result<OwnedFd, String> {
    let (read_write, path) = (pidfile.as_fd(), pidfile.path());
    let flags = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOCTTY;
    let fail = |what: &str, e: rustix::io::Errno| {
        format!("cannot hand the lock of {} to a read-only descriptor: {what}: {}", path.display(), errno_message(e))
    };
    #[cfg(any(target_os = "linux", target_os = "android"))]
    let read_only = crate::descriptors::reopen(read_write, flags).map_err(|e| {
        format!("cannot hand the lock of {} to a read-only descriptor: open: {}", path.display(), os_message(&e))
    })?;
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let read_only = match pidfile.parent_dir() {
        Some(dir) => {
            rustix::fs::openat(dir, dir.name(), flags | OFlags::NOFOLLOW | OFlags::NONBLOCK, rustix::fs::Mode::empty())
        }
        None => rustix::fs::open(path, flags | OFlags::NOFOLLOW | OFlags::NONBLOCK, rustix::fs::Mode::empty()),
    }
    .map_err(|e| fail("open", e))?;
    let (ours, reopened) = (
        rustix::fs::fstat(read_write).map_err(|e| fail("fstat", e))?,
        rustix::fs::fstat(&read_only).map_err(|e| fail("fstat", e))?,
    );
    if (ours.st_dev, ours.st_ino) != (reopened.st_dev, reopened.st_ino) {
        return Err(format!("{} was replaced while it was locked; not starting", path.display()));
    }
    let lost =
        || format!("{}: another start took the file while its lock was handed over; not starting", path.display());
    rustix::fs::ftruncate(read_write, 0).map_err(|e| fail("ftruncate", e))?;
    rustix::fs::flock(read_write, FlockOperation::Unlock).map_err(|e| fail("unlock", e))?;
    match rustix::fs::flock(&read_only, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => {}
        Err(rustix::io::Errno::WOULDBLOCK) => return Err(lost()),
        Err(e) => return Err(fail("lock", e)),
    }
    // The name, looked up in the directory the PID file was created in (its descriptor), not
    // by a second walk of the path.
    let named = match pidfile.parent_dir() {
        Some(dir) => rustix::fs::statat(dir, dir.name(), rustix::fs::AtFlags::SYMLINK_NOFOLLOW),
        None => rustix::fs::lstat(path),
    };
    match named {
        Ok(named) if (named.st_dev, named.st_ino) == (ours.st_dev, ours.st_ino) => {}
        Ok(_) | Err(rustix::io::Errno::NOENT) => return Err(lost()),
        Err(e) => return Err(fail("lstat", e)),
    }
    let record = format!("{}\n", rustix::process::getpid().as_raw_nonzero());
    rustix::io::pwrite(read_write, record.as_bytes(), 0).map_err(|e| fail("pwrite", e))?;
    clear_cloexec(read_only.as_fd()).map_err(|e| format!("cannot keep the PID file open: {}", os_message(&e)))?;
    Ok(read_only)
}

/// In the daemon: empty the output files unless `--append`.
fn truncate_outputs(args: &StartArgs) -> Result<(), String> {
    if !args.append {
        if args.stdout.is_some() {
            truncate(std::io::stdout().as_fd(), args.stdout.as_deref())?;
        }
        if args.stderr.is_some() {
            truncate(std::io::stderr().as_fd(), args.stderr.as_deref())?;
        }
    }
    Ok(())
}

/// Empties a regular output file; a character device (`--stdout /dev/null`, a terminal) has
/// nothing to truncate and is left alone, and so is a file that is empty already (a new one):
/// on ext4, truncating to 0 marks the file for "replace by truncate" (`auto_da_alloc`), and
/// the last `close` then writes out the whole file there and then — for a log of a gigabyte,
/// a tenth of a second of the supervisor's CPU at its exit, or in the middle of a `reopen`.
fn truncate(fd: BorrowedFd<'_>, path: Option<&Path>) -> Result<(), String> {
    let nonempty_regular = rustix::fs::fstat(fd).is_ok_and(|stat| {
        #[allow(clippy::unnecessary_cast)] // `mode_t` is u16 on macOS and the BSDs.
        let file_type = rustix::fs::FileType::from_raw_mode(stat.st_mode as _);
        file_type == rustix::fs::FileType::RegularFile && stat.st_size > 0
    });
    if !nonempty_regular {
        return Ok(());
    }
    rustix::fs::ftruncate(fd, 0).map_err(|e| {
        format!("cannot truncate {}: {}", path.map(|p| p.display().to_string()).unwrap_or_default(), errno_message(e))
    })
}

/// `--listen-fd`: moves the descriptors to 3, 4, … in the order given, as sd_listen_fds(3)
/// expects, in the launcher before anything of ours is open (so nothing of ours is clobbered;
/// `start_options` made sure no `--keep-fd`/`--notify-fd` is in that range). Each is first
/// duplicated above the range, so that moving one never overwrites another not yet moved.
fn move_listen_fds(args: &StartArgs) -> Result<(), Failure> {
    let first_free = 3 + args.listen_fds.len() as RawFd;
    let mut copies = Vec::new();
    for (fd, _) in &args.listen_fds {
        // SAFETY: only borrowed for `fcntl(F_DUPFD_CLOEXEC)`, which fails with EBADF if the
        // caller did not pass it.
        let borrowed = unsafe { BorrowedFd::borrow_raw(*fd) };
        let copy = rustix::io::fcntl_dupfd_cloexec(borrowed, first_free)
            .map_err(|e| Failure::Error(format!("--listen-fd {fd}: {}", errno_message(e))))?;
        copies.push(copy);
    }
    for (target, copy) in (3..).zip(&copies) {
        // SAFETY: `dup2` of a descriptor we own onto a number in the range this function owns;
        // rustix's `dup2` needs an `OwnedFd` for the target, which a number another part of the
        // caller may hold is not. The copy is closed after; the target is inheritable.
        if unsafe { libc::dup2(copy.as_raw_fd(), target) } < 0 {
            return Err(Failure::Error(format!("--listen-fd: dup2: {}", os_message(&std::io::Error::last_os_error()))));
        }
    }
    Ok(())
}
