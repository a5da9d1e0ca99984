//! The security model, attacked for real: a local user (`nobody`) who can write the PID file's
//! directory (a sticky, world-writable one like `/tmp`) tries to make root — through the
//! `pidfile` crate or the `daemonic` command — signal another process, write or truncate another
//! file, or hang. Root only (the attacker must be another user); Linux only (`renameat2`,
//! `/proc`).
#![cfg(target_os = "linux")]

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus};

use daemonic_tests::{
    as_nobody, become_subreaper, is_root, nobody_sh, run, run_joined, KillOnDrop, SharedBinary, NOBODY,
};
use pidfile::{Holder, PidFile, PidFileError, Refusal};

const CLI: &str = env!("CARGO_BIN_EXE_daemonic-command");
const FIXTURE: &str = env!("CARGO_BIN_EXE_pidfile-fixture");
const DAEMON_FIXTURE: &str = env!("CARGO_BIN_EXE_daemon-fixture");

/// A sticky, world-writable directory (like `/tmp`) for the attacker and root to share.
struct World {
    dir: tempfile::TempDir,
}

impl World {
    /// `None` (the test is skipped, and says so) unless we are root.
    fn new(test: &str) -> Option<World> {
        if !is_root() {
            eprintln!("{test} needs root (the attacker is another user); skipped");
            return None;
        }
        become_subreaper();
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o1777)).unwrap();
        Some(World { dir })
    }
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    fn pidfile(&self) -> PathBuf {
        self.path("app.pid")
    }
    /// The `daemonic` command, run by root.
    fn cli(&self, args: &[&str]) -> (ExitStatus, String) {
        let mut command = Command::new(CLI);
        command.args(args);
        run_joined(command)
    }
    fn start(&self, extra: &[&str], program: &[&str]) -> (ExitStatus, String) {
        let pidfile = self.pidfile();
        let mut args = vec!["start", "--pidfile", pidfile.to_str().unwrap()];
        args.extend_from_slice(extra);
        args.push("--");
        args.extend_from_slice(program);
        self.cli(&args)
    }
    fn stop(&self) -> (ExitStatus, String) {
        self.cli(&["stop", "--pidfile", self.pidfile().to_str().unwrap(), "--timeout", "30"])
    }
    fn status(&self) -> (ExitStatus, String) {
        self.cli(&["status", "--pidfile", self.pidfile().to_str().unwrap()])
    }
}

/// A process of root's that an attacker would like root to kill.
fn victim() -> (Child, KillOnDrop) {
    let child = Command::new("sleep").arg("600").spawn().unwrap();
    let guard = KillOnDrop(child.id());
    (child, guard)
}

fn alive(child: &mut Child) -> bool {
    child.try_wait().unwrap().is_none()
}

fn started_pid(output: &str) -> u32 {
    output
        .lines()
        .find_map(|l| l.strip_prefix("daemonic: started (pid ")?.strip_suffix(')')?.parse().ok())
        .unwrap_or_else(|| panic!("no pid in {output:?}"))
}

/// Point 1 of the security issue: `stop` must decide on the descriptor it read. In a directory
/// the service user owns (a runtime directory; in a sticky one it could not rename root's
/// file), the attacker exchanges root's PID file with its own file naming a victim, as fast as
/// it can, while root stops the service, many times over. The victim is never signalled; every
/// stop either stops the service or refuses the attacker's file.
#[test]
fn stop_decides_on_one_descriptor_while_the_attacker_exchanges_files() {
    let Some(w) = World::new("stop_decides_on_one_descriptor_while_the_attacker_exchanges_files") else { return };
    let fixture = SharedBinary::new(FIXTURE);
    let (mut victim, _v) = victim();
    let run_dir = w.path("run");
    nobody_sh(&format!("mkdir -m 755 {}", run_dir.display()));
    let pidfile = run_dir.join("app.pid");
    let pidfile_arg = pidfile.to_str().unwrap();
    let decoy = run_dir.join("decoy");
    let mut exchanges = 0u64;
    let (mut stopped, mut refused) = (0, 0);
    for round in 0..100 {
        let _ = std::fs::remove_file(&pidfile);
        let _ = std::fs::remove_file(&decoy);
        nobody_sh(&format!("echo {} > {}", victim.id(), decoy.display()));
        let (status, out) = w.cli(&["start", "--pidfile", pidfile_arg, "--", "sleep", "600"]);
        assert!(status.success(), "round {round}: {out}");
        let service = started_pid(&out);
        let _service = KillOnDrop(service);
        let mut attacker = Command::new(fixture.path());
        as_nobody(attacker.arg("exchange").arg(&pidfile).arg(&decoy).arg("40"));
        let attacker = daemonic_tests::Spawned::new(&mut attacker);
        // Let it get going: the stop lands among the exchanges, not before them.
        std::thread::sleep(std::time::Duration::from_millis(round % 5 * 2));
        let (status, out) = w.cli(&["stop", "--pidfile", pidfile_arg, "--timeout", "30"]);
        let mut attacker = attacker;
        let report = attacker.line();
        attacker.wait();
        exchanges += report.strip_prefix("exchanged ").and_then(|n| n.parse::<u64>().ok()).unwrap_or(0);
        assert!(alive(&mut victim), "round {round}: root signalled the victim: {out}");
        if status.success() {
            assert!(out.contains(&format!("stopped (pid {service})")), "round {round}: {out}");
            stopped += 1;
        } else {
            assert!(out.contains("refusing to act on") && out.contains("owned by uid 65534"), "round {round}: {out}");
            refused += 1;
        }
    }
    eprintln!(
        "100 stops under attack ({exchanges} exchanges): {stopped} stopped the service, {refused} refused the \
         attacker's file"
    );
    assert!(exchanges > 0, "the attack really ran");
}

/// Point 2: a hard-linked PID file is refused by `create`, `remove_pidfile`, `inspect` and the
/// command; the file its other name belongs to keeps its content.
#[test]
fn a_hard_linked_pid_file_is_refused_and_the_other_file_untouched() {
    let Some(w) = World::new("a_hard_linked_pid_file_is_refused_and_the_other_file_untouched") else { return };
    let precious = w.path("precious");
    nobody_sh(&format!("echo 'nobody data' > {0} && ln {0} {1}", precious.display(), w.pidfile().display()));
    let expect = Refusal::HardLinked { links: 2 };
    assert!(matches!(PidFile::create(w.pidfile()), Err(PidFileError::Refused { reason, .. }) if reason == expect));
    assert!(matches!(pidfile::PidFileLock::acquire(w.pidfile()), Err(PidFileError::Refused { .. })));
    assert!(matches!(pidfile::remove_pidfile(w.pidfile()), Err(PidFileError::Refused { .. })));
    assert_eq!(pidfile::inspect(w.pidfile()).unwrap().unwrap().refusal(), Some(expect));
    let (status, out) = w.start(&[], &["sleep", "600"]);
    assert_eq!(status.code(), Some(1), "{out}");
    assert!(out.contains("hard link"), "{out}");
    let (status, out) = w.stop();
    assert_eq!(status.code(), Some(1), "{out}");
    assert_eq!(std::fs::read_to_string(&precious).unwrap(), "nobody data\n");
    assert!(w.pidfile().exists(), "the name is left alone too");
}

/// Point 3: root never writes into a file another user owns. A stale file the attacker made in
/// the sticky directory is replaced by a fresh root-owned one (the attacker's inode is never
/// written), which the attacker can then neither write nor swap for its own.
#[test]
fn root_replaces_a_foreign_stale_file_and_never_writes_into_it() {
    let Some(w) = World::new("root_replaces_a_foreign_stale_file_and_never_writes_into_it") else { return };
    let (mut victim, _v) = victim();
    // The attacker's file names a live victim, written "before" it started (a non-locking
    // writer, by rule 4): root must not believe a file it does not own.
    nobody_sh(&format!("echo {} > {1} && touch -d '2000-01-01' {1}", victim.id(), w.pidfile().display()));
    // The attacker keeps its file open, so its inode cannot be freed and reused: what root
    // writes can be told apart from it.
    let mut keeper = Command::new("sh");
    as_nobody(keeper.arg("-c").arg(format!("exec 3< {}; exec sleep 600", w.pidfile().display())));
    let keeper = daemonic_tests::Spawned::new(&mut keeper);
    let kept = PathBuf::from(format!("/proc/{}/fd/3", keeper.id()));
    daemonic_tests::wait_until("the attacker's descriptor", || kept.exists());
    let attacker_inode = std::fs::metadata(&kept).unwrap().ino();
    let (status, out) = w.start(&[], &["sleep", "600"]);
    assert!(status.success(), "{out}");
    let service = started_pid(&out);
    let _service = KillOnDrop(service);
    let meta = std::fs::metadata(w.pidfile()).unwrap();
    assert_ne!(meta.ino(), attacker_inode, "a fresh file, not the attacker's");
    assert_eq!(std::fs::read_to_string(&kept).unwrap(), format!("{}\n", victim.id()), "never written into");
    // The command's PID files are 0600: the attacker cannot even open it (nor hold its lock).
    assert_eq!((meta.uid(), meta.mode() & 0o777), (0, 0o600));
    assert_eq!(std::fs::read_to_string(w.pidfile()).unwrap(), format!("{service}\n"));
    let mut write = Command::new("sh");
    as_nobody(write.arg("-c").arg(format!("echo {} > {}", victim.id(), w.pidfile().display())));
    assert!(!run(write).0.success(), "nobody cannot write root's PID file");
    let (status, out) = w.stop();
    assert!(status.success() && out.contains(&format!("stopped (pid {service})")), "{out}");
    assert!(alive(&mut victim));
}

/// Point 4: a lock can be held by a process the file does not name (a reader's `flock`, a
/// child that inherited it). The holder is then unknown: never named, never signalled.
#[test]
fn an_unidentifiable_lock_holder_is_never_named_or_signalled() {
    let Some(w) = World::new("an_unidentifiable_lock_holder_is_never_named_or_signalled") else { return };
    let (mut victim, _v) = victim();
    // Root's own file (a leftover naming the victim, old enough to look like its writer)...
    std::fs::write(w.pidfile(), format!("{}\n", victim.id())).unwrap();
    daemonic_tests::age_file(&w.pidfile(), 3600);
    // ...which the attacker locks: readable by all, so `flock` can open it.
    for mode in ["-x", "-s"] {
        let mut holder = Command::new("flock");
        // `--no-fork`: the lock holder is the process we kill, not a child that would outlive it.
        as_nobody(holder.arg("--no-fork").arg(mode).arg(w.pidfile()).args(["sleep", "600"]));
        let _holder = daemonic_tests::Spawned::new(&mut holder);
        daemonic_tests::wait_until("the attacker's lock", || locked_by_anyone(&w.pidfile()));
        match PidFile::create(w.pidfile()) {
            Err(PidFileError::AlreadyRunning { pid: None, .. }) => {}
            other => panic!("flock {mode}: the holder must be unknown, not the victim: {other:?}"),
        }
        if mode == "-x" {
            assert!(matches!(pidfile::running_pid(w.pidfile()), Err(PidFileError::UnknownHolder { .. })));
            assert_eq!(pidfile::inspect(w.pidfile()).unwrap().unwrap().holder(), Holder::Unknown);
            let (status, out) = w.status();
            assert_eq!(status.code(), Some(4), "{out}");
            assert!(out.contains("cannot be identified"), "{out}");
            let (status, out) = w.stop();
            assert_eq!(status.code(), Some(1), "{out}");
            assert!(out.contains("refusing to signal"), "{out}");
        }
        assert!(alive(&mut victim), "flock {mode}: the victim was signalled");
    }
    assert_eq!(std::fs::read_to_string(w.pidfile()).unwrap(), format!("{}\n", victim.id()), "untouched");
}

/// Whether any process holds a lock, shared or exclusive, on the file: our own exclusive
/// attempt fails (it is released at once, with our private descriptor).
fn locked_by_anyone(path: &Path) -> bool {
    let fd =
        rustix::fs::open(path, rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::CLOEXEC, rustix::fs::Mode::empty())
            .unwrap();
    rustix::fs::flock(&fd, rustix::fs::FlockOperation::NonBlockingLockExclusive).is_err()
}

/// A kernel thread's pid, if this PID namespace shows one.
fn kernel_thread() -> Option<u32> {
    const PF_KTHREAD: u64 = 0x0020_0000;
    std::fs::read_dir("/proc").ok()?.filter_map(Result::ok).find_map(|entry| {
        let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
        let flags: u64 = daemonic_tests::proc_stat_field(pid, 9)?.parse().ok()?;
        (flags & PF_KTHREAD != 0).then_some(pid)
    })
}

/// Point 5: a kernel thread never wrote a PID file: an unlocked file naming one is stale, and
/// no command signals it.
#[test]
fn a_file_naming_a_kernel_thread_is_stale() {
    let Some(w) = World::new("a_file_naming_a_kernel_thread_is_stale") else { return };
    let Some(kthread) = kernel_thread() else {
        eprintln!("no kernel thread visible in this PID namespace; skipped");
        return;
    };
    std::fs::write(w.pidfile(), format!("{kthread}\n")).unwrap();
    daemonic_tests::age_file(&w.pidfile(), 3600);
    assert!(pidfile::pidfile_is_stale(w.pidfile()).unwrap(), "pid {kthread}");
    assert_eq!(pidfile::running_pid(w.pidfile()).unwrap(), None);
    let (status, out) = w.status();
    assert_eq!(status.code(), Some(1), "{out}");
    // `stop` signals nothing, and removes the stale file.
    let (status, out) = w.stop();
    assert!(status.success() && out.contains("not running") && out.contains("removed the stale"), "{out}");
    assert!(!w.pidfile().exists());
    std::fs::write(w.pidfile(), format!("{kthread}\n")).unwrap();
    daemonic_tests::age_file(&w.pidfile(), 3600);
    // And the attacker holding a lock on it does not make the kernel thread a holder.
    let mut holder = Command::new("flock");
    as_nobody(holder.args(["--no-fork", "-x"]).arg(w.pidfile()).args(["sleep", "600"]));
    let _holder = daemonic_tests::Spawned::new(&mut holder);
    daemonic_tests::wait_until("the attacker's lock", || locked_by_anyone(&w.pidfile()));
    assert!(matches!(pidfile::running_pid(w.pidfile()), Err(PidFileError::UnknownHolder { .. })));
    let guard = PidFile::create(w.path("other.pid")).unwrap(); // unrelated: still works
    drop(guard);
}

/// Point 6: a descriptor the caller names but does not have open is refused before anything is
/// opened — it would otherwise be the PID file's or the pipe's number in the daemon.
#[test]
fn descriptors_the_caller_does_not_have_are_refused_before_anything_is_opened() {
    let Some(w) = World::new("descriptors_the_caller_does_not_have_are_refused_before_anything_is_opened") else {
        return;
    };
    for option in ["--notify-fd", "--keep-fd"] {
        // `run` gives the command stdin, stdout and stderr only: 3 and up are free.
        let (status, out) = w.start(&[option, "3"], &["sleep", "600"]);
        assert_eq!(status.code(), Some(1), "{option}: {out}");
        assert!(out.contains("check descriptor 3: not open in the calling process"), "{option}: {out}");
        assert!(!w.pidfile().exists(), "{option}: nothing was created");
    }
    let mut fixture = Command::new(DAEMON_FIXTURE);
    fixture.arg("--pidfile").arg(w.pidfile()).args(["--ready-fd", "1"]);
    let (status, _, err) = run(fixture);
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(err.contains("check descriptor 1: a standard stream cannot be the readiness descriptor"), "{err}");
    assert!(!w.pidfile().exists());
}

/// Point 7: outputs never follow a symlink, and a root launcher dropping to a user refuses
/// files that user (or another) could have planted; a FIFO never hangs it.
#[test]
fn outputs_refuse_symlinks_fifos_and_planted_files() {
    let Some(w) = World::new("outputs_refuse_symlinks_fifos_and_planted_files") else { return };
    let secret = w.path("root-secret");
    std::fs::write(&secret, "root only\n").unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    let logs = w.path("logs");
    nobody_sh(&format!("mkdir {0} && ln -s {1} {0}/link.log && mkfifo {0}/fifo.log", logs.display(), secret.display()));
    let foreign = logs.join("foreign.log");
    std::fs::write(&foreign, "").unwrap();
    std::os::unix::fs::chown(&foreign, Some(1), Some(1)).unwrap();
    for (log, expect) in [
        ("link.log", "symbolic link"),
        ("fifo.log", "not a regular file"),
        ("foreign.log", "owned by uid 1, neither root nor the service user"),
    ] {
        let path = logs.join(log);
        let (status, out) =
            w.start(&["--user", "nobody", "--stdout", path.to_str().unwrap()], &["sh", "-c", "echo pwned"]);
        assert_eq!(status.code(), Some(1), "{log}: {out}");
        assert!(out.contains(expect), "{log}: {out}");
        assert!(!w.pidfile().exists(), "{log}");
    }
    assert_eq!(std::fs::read_to_string(&secret).unwrap(), "root only\n");
    // nobody's own log in nobody's directory is fine.
    let own = logs.join("own.log");
    let (status, out) = w.start(&["--user", "nobody", "--stdout", own.to_str().unwrap()], &["sleep", "600"]);
    assert!(status.success(), "{out}");
    let _service = KillOnDrop(started_pid(&out));
    assert!(w.stop().0.success());
}

/// Point 8: a device at the PID file's path is refused without being opened (opening one can
/// act: `/dev/ptmx` allocates a terminal, `/dev/watchdog` arms the watchdog). inotify sees
/// every open of the node.
#[test]
fn a_device_at_the_path_is_refused_without_being_opened() {
    let Some(w) = World::new("a_device_at_the_path_is_refused_without_being_opened") else { return };
    use rustix::fs::inotify;
    let node = w.path("device.pid");
    // A character device with /dev/null's numbers: harmless, and its opens are visible.
    rustix::fs::mknodat(
        rustix::fs::CWD,
        &node,
        rustix::fs::FileType::CharacterDevice,
        rustix::fs::Mode::from_raw_mode(0o666),
        rustix::fs::makedev(1, 3),
    )
    .unwrap();
    let watch = inotify::init(inotify::CreateFlags::NONBLOCK | inotify::CreateFlags::CLOEXEC).unwrap();
    inotify::add_watch(&watch, &node, inotify::WatchFlags::OPEN).unwrap();
    let opened = |what: &str| {
        let mut buf = [std::mem::MaybeUninit::uninit(); 1024];
        let mut events = inotify::Reader::new(&watch, &mut buf);
        assert!(events.next().is_err(), "{what} opened the device");
    };
    // The watch works: our own open is seen.
    drop(std::fs::File::open(&node).unwrap());
    let mut buf = [std::mem::MaybeUninit::uninit(); 1024];
    assert!(inotify::Reader::new(&watch, &mut buf).next().is_ok(), "inotify sees opens");
    for (what, err) in [
        ("create", PidFile::create(&node).err()),
        ("acquire", pidfile::PidFileLock::acquire(&node).err()),
        ("read_pid", pidfile::read_pid(&node).err()),
        ("inspect", pidfile::inspect(&node).err()),
        ("remove_pidfile", pidfile::remove_pidfile(&node).err()),
    ] {
        assert!(matches!(err, Some(PidFileError::NotRegularFile { .. })), "{what}: {err:?}");
        opened(what);
    }
    let (status, out) = w.cli(&["stop", "--pidfile", node.to_str().unwrap()]);
    assert_eq!(status.code(), Some(1), "{out}");
    opened("daemonic stop");
}

/// A root-owned directory in the world's sticky directory (mode 0755: nobody can write it),
/// optionally holding a root-owned `app.pid` with `content`.
fn root_dir(w: &World, name: &str, content: Option<&str>) -> PathBuf {
    let dir = w.path(name);
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    if let Some(content) = content {
        std::fs::write(dir.join("app.pid"), content).unwrap();
    }
    dir
}

/// What a root-owned `app.pid` must still be: the same inode with the same content.
fn untouched(path: &Path, ino: u64, content: &str) {
    let meta = std::fs::metadata(path).unwrap_or_else(|e| panic!("{} was unlinked: {e}", path.display()));
    assert_eq!(meta.ino(), ino, "{} was replaced", path.display());
    assert_eq!(std::fs::read_to_string(path).unwrap(), content, "{} was written", path.display());
}

/// Issue 20, point 1: root creates `a/b/app.pid` where `a/` is nobody's, while nobody keeps
/// replacing `a/b` with symbolic links to root's directories. Root's file never lands in a
/// directory of root's (a symlink in nobody's directory is not followed), and no root-owned
/// `app.pid` there is written or unlinked.
#[test]
fn a_symlinked_parent_directory_never_redirects_root() {
    let Some(w) = World::new("a_symlinked_parent_directory_never_redirects_root") else { return };
    let empty = root_dir(&w, "empty", None);
    let full = root_dir(&w, "full", Some("precious\n"));
    let full_ino = std::fs::metadata(full.join("app.pid")).unwrap().ino();
    let a = w.path("a");
    let stop = w.path("stop");
    nobody_sh(&format!("mkdir -m 755 {0} {0}/b", a.display()));
    // b: a directory, gone, a link to `empty`, gone, a link to `full`, gone, the directory again.
    let script = format!(
        "cd {a} || exit 1; n=0; while [ ! -e {stop} ]; do mv b b.d; ln -s {empty} b; rm b; ln -s {full} b; rm b; \
         mv b.d b; n=$((n+1)); done; echo swapped $n",
        a = a.display(),
        stop = stop.display(),
        empty = empty.display(),
        full = full.display()
    );
    let mut attacker = Command::new("sh");
    as_nobody(attacker.arg("-c").arg(script));
    let mut attacker = daemonic_tests::Spawned::new(&mut attacker);
    let pidfile = a.join("b/app.pid");
    let (mut created, mut failed) = (0u32, 0u32);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
    while std::time::Instant::now() < deadline {
        match PidFile::create(&pidfile) {
            Ok(guard) => {
                created += 1;
                assert!(!empty.join("app.pid").exists(), "root's PID file landed in root's directory");
                untouched(&full.join("app.pid"), full_ino, "precious\n");
                drop(guard);
            }
            Err(_) => failed += 1,
        }
        assert!(!empty.join("app.pid").exists(), "root's PID file landed in root's directory");
        untouched(&full.join("app.pid"), full_ino, "precious\n");
    }
    std::fs::write(&stop, "").unwrap();
    let report = attacker.line();
    attacker.wait();
    eprintln!("{created} creates, {failed} refused or not found, while nobody {report}");
    assert!(created > 0, "root could still create its file between the swaps");
    assert!(report.strip_prefix("swapped ").and_then(|n| n.parse::<u32>().ok()).is_some_and(|n| n > 0), "{report}");
}

/// Issue 20, point 1, after the open: root holds `d/app.pid` in nobody's directory `d`; nobody
/// renames `d` away and puts a link to root's directory (holding a root-owned `app.pid`) in
/// its place. Dropping the guard, and removing a stale file found by `inspect`, look in the
/// directory that was opened, never through the link.
#[test]
fn a_renamed_parent_directory_never_redirects_the_removal() {
    let Some(w) = World::new("a_renamed_parent_directory_never_redirects_the_removal") else { return };
    let target = root_dir(&w, "target", Some("999999999\n"));
    let target_ino = std::fs::metadata(target.join("app.pid")).unwrap().ino();
    let (d, d2) = (w.path("d"), w.path("d2"));
    let swap = format!("mv {0} {1} && ln -s {2} {0}", d.display(), d2.display(), target.display());

    nobody_sh(&format!("mkdir -m 755 {}", d.display()));
    let guard = PidFile::create(d.join("app.pid")).unwrap();
    nobody_sh(&swap);
    drop(guard);
    untouched(&target.join("app.pid"), target_ino, "999999999\n");
    assert!(!d2.join("app.pid").exists(), "the guard removed its own file, in the moved directory");

    // The same for Inspection::remove_if_stale: a stale file of root's in nobody's directory.
    nobody_sh(&format!("rm {0} && rmdir {1} && mkdir -m 755 {0}", d.display(), d2.display()));
    std::fs::write(d.join("app.pid"), "999999999\n").unwrap();
    let inspection = pidfile::inspect(d.join("app.pid")).unwrap().unwrap();
    assert!(inspection.is_stale());
    nobody_sh(&swap);
    assert!(inspection.remove_if_stale().unwrap(), "the inspected file, in the moved directory, is removed");
    untouched(&target.join("app.pid"), target_ino, "999999999\n");
    assert!(!d2.join("app.pid").exists());
}

/// Issue 20, point 2: a PID file created with mode 0600 cannot be opened by another user, so
/// nobody cannot `flock` it (and block every later start); a 0644 one can be.
#[test]
fn a_private_pid_file_cannot_be_locked_by_another_user() {
    let Some(w) = World::new("a_private_pid_file_cannot_be_locked_by_another_user") else { return };
    let nobody_locks = |path: &Path| {
        let mut flock = Command::new("flock");
        as_nobody(flock.args(["-n", "-s"]).arg(path).arg("true"));
        let (status, _, err) = run(flock);
        (status.success(), err)
    };
    let private = w.path("private.pid");
    let guard = PidFile::create_with_mode(&private, 0o600).unwrap();
    assert_eq!(std::fs::metadata(&private).unwrap().mode() & 0o777, 0o600);
    guard.detach(); // unlocked, and stale: only the mode keeps nobody out
    let (locked, err) = nobody_locks(&private);
    assert!(!locked && err.contains("Permission denied"), "nobody opened a 0600 file: {err}");

    let public = w.path("public.pid");
    PidFile::create(&public).unwrap().detach();
    assert_eq!(std::fs::metadata(&public).unwrap().mode() & 0o777, 0o644);
    let (locked, err) = nobody_locks(&public);
    assert!(locked, "nobody can open and lock a 0644 file: {err}");

    // A public stale file taken over with the private mode is narrowed once locked.
    PidFile::create_with_mode(&public, 0o600).unwrap().detach();
    assert_eq!(std::fs::metadata(&public).unwrap().mode() & 0o777, 0o600);
    let (locked, _) = nobody_locks(&public);
    assert!(!locked, "the narrowed file is closed to nobody");
}

/// Issue 20, point 1: a directory on the way to the service's log that the service user can
/// change is no way into root's files. `nobody` owns `logs/`; a symlink it plants for `logs/sub`
/// (to a root-only directory) is refused at `start`, and a swap after the start (the real
/// `logs/sub` moved away, the link put in its place) is refused at `reopen`: root never
/// creates or appends to a file in its own directory, and the service keeps logging to the
/// file it had.
#[test]
fn a_swapped_log_directory_never_redirects_root() {
    let Some(w) = World::new("a_swapped_log_directory_never_redirects_root") else { return };
    let secret = w.path("secret");
    std::fs::create_dir(&secret).unwrap(); // root's, 0755
    let logs = w.path("logs");
    nobody_sh(&format!("mkdir -m 755 {0} && ln -s {1} {0}/sub", logs.display(), secret.display()));
    let log = logs.join("sub/app.log");
    let log_arg = log.to_str().unwrap();
    let (status, out) = w.start(&["--user", "nobody", "--stdout", log_arg], &["sleep", "600"]);
    assert_eq!(status.code(), Some(1), "{out}");
    assert!(out.contains("symbolic link") && out.contains("not followed"), "{out}");
    assert!(!w.pidfile().exists(), "nothing left: {out}");
    assert_eq!(std::fs::read_dir(&secret).unwrap().count(), 0, "nothing created in root's directory");
    // A real directory this time; swapped for the link once the service runs.
    nobody_sh(&format!("rm {0}/sub && mkdir {0}/sub", logs.display()));
    let program = "i=0; while :; do i=$((i+1)); echo line $i; sleep 0.05; done";
    let (status, out) = w.start(&["--user", "nobody", "--stdout", log_arg], &["sh", "-c", program]);
    assert!(status.success(), "{out}");
    let supervisor = started_pid(&out);
    let _supervisor = KillOnDrop(supervisor);
    daemonic_tests::wait_until("the first lines", || std::fs::read_to_string(&log).is_ok_and(|t| t.contains("line 3")));
    nobody_sh(&format!("mv {0}/sub {0}/old && ln -s {1} {0}/sub", logs.display(), secret.display()));
    let (status, out) = w.cli(&["reopen", "--pidfile", w.pidfile().to_str().unwrap()]);
    assert!(status.success(), "{out}");
    let old = logs.join("old/app.log");
    daemonic_tests::wait_until("the refusal in the log", || {
        std::fs::read_to_string(&old).is_ok_and(|t| t.contains("cannot reopen") && t.contains("not followed"))
    });
    let lines = std::fs::read_to_string(&old).unwrap().lines().filter(|l| l.starts_with("line")).count();
    daemonic_tests::wait_until("more lines in the old file", || {
        std::fs::read_to_string(&old).unwrap().lines().filter(|l| l.starts_with("line")).count() > lines
    });
    assert_eq!(std::fs::read_dir(&secret).unwrap().count(), 0, "nothing created in root's directory");
    let (status, out) = w.stop();
    assert!(status.success(), "{out}");
    assert_eq!(std::fs::read_dir(&secret).unwrap().count(), 0);
}

/// A `reopen` the service user makes fail half-way (a symlink planted for the `--stderr` log
/// after both logs were rotated away) still moves standard output to its new file: what the
/// supervisor writes to, spliced or not, is taken again from the descriptors it now has, and
/// nothing more goes into the rotated-away file (which logrotate would compress and delete).
#[test]
fn a_half_failed_reopen_leaves_nothing_going_to_the_old_file() {
    let Some(w) = World::new("a_half_failed_reopen_leaves_nothing_going_to_the_old_file") else { return };
    let secret = w.path("secret");
    std::fs::write(&secret, "root's\n").unwrap();
    let logs = w.path("logs");
    nobody_sh(&format!("mkdir -m 755 {}", logs.display()));
    let (out_log, err_log) = (logs.join("out.log"), logs.join("err.log"));
    let program = "i=0; while :; do i=$((i+1)); echo out $i; echo err $i >&2; sleep 0.02; done";
    let args = ["--user", "nobody", "--stdout", out_log.to_str().unwrap(), "--stderr", err_log.to_str().unwrap()];
    let (status, out) = w.start(&args, &["sh", "-c", program]);
    assert!(status.success(), "{out}");
    let _supervisor = KillOnDrop(started_pid(&out));
    daemonic_tests::wait_until("the first lines", || {
        std::fs::read_to_string(&out_log).is_ok_and(|t| t.contains("out 3"))
    });
    nobody_sh(&format!(
        "cd {} && mv out.log out.log.1 && mv err.log err.log.1 && ln -s {} err.log",
        logs.display(),
        secret.display()
    ));
    let (status, out) = w.cli(&["reopen", "--pidfile", w.pidfile().to_str().unwrap()]);
    assert!(status.success(), "{out}");
    let old_out = logs.join("out.log.1");
    daemonic_tests::wait_until("the refusal in the old error log", || {
        std::fs::read_to_string(logs.join("err.log.1")).is_ok_and(|t| t.contains("cannot reopen"))
    });
    daemonic_tests::wait_until("lines in the new output log", || {
        std::fs::read_to_string(&out_log).is_ok_and(|t| t.lines().filter(|l| l.starts_with("out")).count() > 10)
    });
    let before = std::fs::read_to_string(&old_out).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(std::fs::read_to_string(&old_out).unwrap(), before, "output still went to the rotated-away file");
    assert_eq!(std::fs::read_to_string(&secret).unwrap(), "root's\n", "root's file untouched");
    let (status, out) = w.stop();
    assert!(status.success(), "{out}");
}

/// Issue 20, point 1: the notification directory is root's (0710, the service user's group),
/// so the service user, who can reach the socket, can neither rename the directory nor plant
/// anything in it, and `stop` removes exactly what the supervisor created.
#[test]
fn the_notification_directory_cannot_be_redirected_by_the_service_user() {
    let Some(w) = World::new("the_notification_directory_cannot_be_redirected_by_the_service_user") else { return };
    let binary = SharedBinary::new(env!("CARGO_BIN_EXE_notify-program"));
    let tmp = w.path("tmp");
    std::fs::create_dir(&tmp).unwrap();
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o1777)).unwrap();
    let pidfile = w.pidfile();
    let mut command = Command::new(CLI);
    command.env("TMPDIR", &tmp).args(["start", "--pidfile", pidfile.to_str().unwrap(), "--user", "nobody"]);
    command.args(["--notify-await", "--", binary.path().to_str().unwrap(), "--ready-after-ms", "10"]);
    let (status, out, err) = run(command);
    assert!(status.success(), "{out}{err}");
    let supervisor = started_pid(&out);
    let _supervisor = KillOnDrop(supervisor);
    let dirs: Vec<PathBuf> = std::fs::read_dir(&tmp).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    let meta = std::fs::symlink_metadata(&dirs[0]).unwrap();
    assert_eq!((meta.uid(), meta.gid(), meta.mode() & 0o7777), (0, NOBODY, 0o710), "root's, the user's group");
    let socket = std::fs::symlink_metadata(dirs[0].join("notify")).unwrap();
    assert_eq!((socket.uid(), socket.mode() & 0o777), (NOBODY, 0o600));
    // The service user can use the socket but not move or fill the directory.
    let mut attack = Command::new("sh");
    as_nobody(attack.arg("-c").arg(format!(
        "mv {0} {1}/moved || true; ln -s /etc {0}/planted || true; test -d {0}",
        dirs[0].display(),
        tmp.display()
    )));
    let (status, out, err) = run(attack);
    assert!(status.success(), "the directory was moved: {out}{err}");
    assert!(!dirs[0].join("planted").exists() && !tmp.join("moved").exists());
    let (status, out) = w.stop();
    assert!(status.success(), "{out}");
    assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 0, "the supervisor removed its directory");
}
