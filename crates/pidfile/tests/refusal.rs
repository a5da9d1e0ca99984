//! The trust rule of the security model (DESIGN.md): a hard-linked file is refused by
//! everyone; as root, a file owned by another user or writable by its group or others is never
//! believed nor written into. Checked on the file system: which inode the path names, who owns
//! it, and whether the untrusted inode was touched. The root-only tests say so on stderr and
//! return when not run as root.

mod common;

use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use common::{identity, line, mode, set_mode, skip_unless_root, tempdir, NOBODY};
use pidfile::{Pid, PidFile, PidFileError, PidFileLock, Refusal};

fn content_of(file: &mut std::fs::File) -> String {
    let mut content = String::new();
    use std::io::Seek;
    file.rewind().unwrap();
    file.read_to_string(&mut content).unwrap();
    content
}

/// Root finds a stale file at `path` that it must not trust (`refusal`): it reports why, and
/// `create` puts a fresh root-owned file in its place without ever writing the old inode.
fn root_replaces_untrusted(path: &Path, why: Refusal) {
    let seen = pidfile::inspect(path).unwrap().unwrap();
    assert_eq!(seen.refusal(), Some(why));
    drop(seen);
    let old_inode = identity(path);
    let mut old = std::fs::File::open(path).unwrap();
    let old_content = content_of(&mut old);
    let guard = PidFile::create(path).unwrap();
    let meta = std::fs::metadata(path).unwrap();
    assert_ne!((meta.dev(), meta.ino()), old_inode, "a new file, not the untrusted one");
    assert_eq!((meta.uid(), meta.mode() & 0o022, meta.nlink()), (0, 0, 1), "root's, writable by nobody else");
    assert_eq!(std::fs::read_to_string(path).unwrap(), line(Pid::current()));
    assert_eq!(content_of(&mut old), old_content, "the untrusted inode was never written");
    assert_eq!(old.metadata().unwrap().nlink(), 0, "and its name was taken from it");
    assert_eq!(pidfile::inspect(path).unwrap().unwrap().refusal(), None);
    drop(guard);
    assert!(!path.exists());
}

/// A root-owned file its group or others can write: any member could make it name any
/// process. The rule `==`/`!=` mutants of `refusal` broke.
#[test]
fn root_never_trusts_a_root_file_others_can_write() {
    if skip_unless_root("root_never_trusts_a_root_file_others_can_write") {
        return;
    }
    let dir = tempdir(false);
    let path = dir.path().join("app.pid");
    for writable in [0o664, 0o646, 0o620, 0o602] {
        std::fs::write(&path, "2147483646\n").unwrap();
        set_mode(&path, writable);
        root_replaces_untrusted(&path, Refusal::WritableByOthers { mode: writable });
    }
}

#[test]
fn root_never_trusts_another_users_file() {
    if skip_unless_root("root_never_trusts_another_users_file") {
        return;
    }
    let dir = tempdir(false);
    let path = dir.path().join("app.pid");
    for private in [0o644, 0o600] {
        std::fs::write(&path, "2147483646\n").unwrap();
        set_mode(&path, private);
        std::os::unix::fs::chown(&path, Some(NOBODY), Some(NOBODY)).unwrap();
        assert_eq!(pidfile::inspect(&path).unwrap().unwrap().owner(), NOBODY);
        root_replaces_untrusted(&path, Refusal::ForeignOwner { uid: NOBODY });
    }
}

/// Root's own file, writable by nobody else, is trusted and taken over in place, whatever else
/// its mode says.
#[test]
fn root_trusts_its_own_private_file() {
    if skip_unless_root("root_trusts_its_own_private_file") {
        return;
    }
    let dir = tempdir(false);
    let path = dir.path().join("app.pid");
    for private in [0o644, 0o600, 0o640, 0o4644, 0o444] {
        std::fs::write(&path, "2147483646\n").unwrap();
        set_mode(&path, private);
        let seen = pidfile::inspect(&path).unwrap().unwrap();
        assert_eq!((seen.refusal(), seen.owner(), seen.mode()), (None, 0, private));
        drop(seen);
        let inode = identity(&path);
        let guard = PidFile::create(&path).unwrap();
        assert_eq!(identity(&path), inode, "mode {private:o}: taken over in place");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), line(Pid::current()));
        guard.remove().unwrap();
    }
}

/// What an unprivileged process makes of the files in `dir` (as `refusal` and `owner` say).
fn unprivileged_view(dir: &Path) -> Vec<String> {
    let mut view: Vec<String> = ["roots-writable.pid", "foreign.pid"]
        .iter()
        .map(|name| {
            let seen = pidfile::inspect(dir.join(name)).unwrap().unwrap();
            format!("{name}: {:?} uid {} mode {:o}", seen.refusal(), seen.owner(), seen.mode())
        })
        .collect();
    // A file this caller may write but not `chmod` (another user's, 0666), asked for with the
    // mode it has: nothing to narrow, so no `fchmod` is tried (it would fail).
    let taken = PidFileLock::acquire_with_mode(dir.join("roots-writable.pid"), 0o666).map(|lock| lock.detach());
    view.push(format!("acquire_with_mode 0666: {taken:?}, mode {:o}", mode(&dir.join("roots-writable.pid"))));
    view
}

/// Not root: other users' files are not this process's business (it can only signal its own
/// processes), so only hard links are refused. As root, the files are made root's and another
/// user's, and the caller is a child running as `nobody`.
#[test]
fn an_unprivileged_caller_refuses_only_hard_links() {
    if common::role().as_deref() == Some("unprivileged") {
        let dir = std::env::var_os("PIDFILE_TEST_DIR").unwrap();
        for line in unprivileged_view(Path::new(&dir)) {
            common::say(line);
        }
        return;
    }
    let dir = tempdir(true);
    let (writable, foreign) = (dir.path().join("roots-writable.pid"), dir.path().join("foreign.pid"));
    std::fs::write(&writable, "").unwrap();
    set_mode(&writable, 0o666);
    std::fs::write(&foreign, "").unwrap();
    set_mode(&foreign, 0o644);
    let me = rustix::process::geteuid().as_raw();
    let view = if common::is_root() {
        std::os::unix::fs::chown(&foreign, Some(1234), Some(1234)).unwrap();
        let exe = common::PublicExe::new();
        let mut command = common::child(&exe.path(), "an_unprivileged_caller_refuses_only_hard_links", "unprivileged");
        command.env("PIDFILE_TEST_DIR", dir.path());
        let mut child = common::Spawned::new(common::as_nobody_if_root(&mut command));
        let view = vec![child.said(), child.said(), child.said()];
        assert!(child.finish().success());
        view
    } else {
        unprivileged_view(dir.path())
    };
    let foreign_owner = if common::is_root() { 1234 } else { me };
    assert_eq!(
        view,
        [
            format!("roots-writable.pid: None uid {me} mode 666"),
            format!("foreign.pid: None uid {foreign_owner} mode 644"),
            "acquire_with_mode 0666: Ok(()), mode 666".to_owned(),
        ]
    );
}

/// A file with a second name is refused by everyone, and neither name's content is touched:
/// writing it would write the other file too.
#[test]
fn a_hard_linked_file_is_refused_and_left_alone() {
    let dir = tempdir(false);
    let path = dir.path().join("app.pid");
    let other = dir.path().join("precious");
    std::fs::write(&other, "2147483646\n").unwrap();
    set_mode(&other, 0o644);
    std::fs::hard_link(&other, &path).unwrap();
    let refused = Refusal::HardLinked { links: 2 };
    for result in
        [PidFile::create(&path).map(drop), PidFileLock::acquire(&path).map(drop), pidfile::remove_pidfile(&path)]
    {
        match result {
            Err(PidFileError::Refused { reason, path: p }) => assert_eq!((reason, p), (refused, path.clone())),
            other => panic!("{other:?}"),
        }
    }
    let seen = pidfile::inspect(&path).unwrap().unwrap();
    assert_eq!((seen.links(), seen.refusal()), (2, Some(refused)));
    drop(seen);
    assert_eq!(std::fs::read_to_string(&other).unwrap(), "2147483646\n");
    assert_eq!(identity(&path), identity(&other));
    assert_eq!(mode(&other), 0o644);
    // One name again: an ordinary stale file.
    std::fs::remove_file(&other).unwrap();
    assert_eq!(pidfile::inspect(&path).unwrap().unwrap().links(), 1);
    assert_eq!(pidfile::inspect(&path).unwrap().unwrap().refusal(), None);
    pidfile::remove_pidfile(&path).unwrap();
    assert!(!path.exists());
}
