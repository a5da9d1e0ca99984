//! Bad contents and hostile paths: clear errors naming the path, nothing modified, no hang.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use daemonic_tests::{is_root, run};
use pidfile::{pidfile_is_stale, read_pid, running_pid, FileKind, Operation, PidFile, PidFileError};

const FIXTURE: &str = env!("CARGO_BIN_EXE_pidfile-fixture");

fn bad_contents() -> Vec<(&'static str, Vec<u8>)> {
    let mut random = Vec::with_capacity(256);
    let mut x: u32 = 0x2545_f491;
    for _ in 0..256 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        random.push(x as u8);
    }
    vec![
        ("empty", b"".to_vec()),
        ("spaces", b"    ".to_vec()),
        ("newline only", b"\n".to_vec()),
        ("zero", b"0\n".to_vec()),
        ("zeros", b"0000".to_vec()),
        ("minus one", b"-1\n".to_vec()),
        ("plus one", b"+1\n".to_vec()),
        ("exponent", b"1e3\n".to_vec()),
        ("hex", b"0x10\n".to_vec()),
        ("arabic-indic three", "٣\n".as_bytes().to_vec()),
        ("fullwidth digits", "１２３".as_bytes().to_vec()),
        ("i32 max + 1", b"2147483648\n".to_vec()),
        ("u32 wrap to 5", b"4294967301\n".to_vec()),
        ("u64 overflow", b"18446744073709551617".to_vec()),
        ("1 MiB of digits", vec![b'7'; 1 << 20]),
        ("embedded NUL", b"12\x0034\n".to_vec()),
        ("trailing NUL", b"1234\0".to_vec()),
        ("two lines", b"12\n34\n".to_vec()),
        ("two numbers", b"12 34\n".to_vec()),
        ("two newlines", b"1234\n\n".to_vec()),
        ("bare CR", b"1234\r".to_vec()),
        ("leading CR", b"\r1234\n".to_vec()),
        ("decimal point", b"12.0\n".to_vec()),
        ("negative zero", b"-0".to_vec()),
        ("word", b"pid\n".to_vec()),
        ("pid= prefix", b"pid=123\n".to_vec()),
        ("json", b"{\"pid\": 123}".to_vec()),
        ("UTF-8 BOM", b"\xef\xbb\xbf123\n".to_vec()),
        ("latin-1 byte", b"12\xe93\n".to_vec()),
        ("vertical tab", b"\x0b123".to_vec()),
        ("form feed", b"123\x0c".to_vec()),
        ("random binary", random),
        ("65 spaces then a pid", [vec![b' '; 65], b"42\n".to_vec()].concat()),
    ]
}

#[test]
fn bad_contents_are_malformed_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let cases = bad_contents();
    assert!(cases.len() >= 30);
    for (name, content) in cases {
        let path = dir.path().join(format!("{}.pid", name.replace(' ', "_")));
        std::fs::write(&path, &content).unwrap();
        let before = std::fs::metadata(&path).unwrap();
        match read_pid(&path) {
            Err(err @ PidFileError::Malformed { .. }) => {
                assert_eq!(err.path(), path, "{name}");
                let message = err.to_string();
                assert!(message.contains(&path.display().to_string()), "{name}: {message}");
                assert!(message.len() < 400, "{name}: message not truncated: {message}");
                assert_eq!(std::io::Error::from(err).kind(), std::io::ErrorKind::InvalidData);
            }
            other => panic!("{name}: expected Malformed, got {other:?}"),
        }
        // Unlocked garbage is stale (create would take it over); checking changes nothing.
        assert!(pidfile_is_stale(&path).unwrap(), "{name}");
        assert_eq!(running_pid(&path).unwrap(), None, "{name}");
        let after = std::fs::metadata(&path).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), content, "{name}: content changed");
        assert_eq!((after.mtime(), after.mtime_nsec()), (before.mtime(), before.mtime_nsec()), "{name}");
    }
}

#[test]
fn a_gigabyte_file_is_rejected_without_reading_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.pid");
    let file = std::fs::File::create(&path).unwrap();
    file.set_len(1 << 30).unwrap(); // sparse: reading it all would take seconds
    let err = read_pid(&path).unwrap_err();
    assert!(
        matches!(&err, PidFileError::Malformed { source, .. } if source.kind() == pidfile::ParsePidErrorKind::TooLong),
        "{err}"
    );
    assert!(err.to_string().contains("\\x00\\x00"), "{err}");
}

#[test]
fn stale_garbage_is_taken_over_by_create() {
    let dir = tempfile::tempdir().unwrap();
    for (name, content) in bad_contents() {
        let path = dir.path().join("takeover.pid");
        std::fs::write(&path, &content).unwrap();
        let guard = PidFile::create(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), format!("{}\n", std::process::id()), "{name}");
        guard.remove().unwrap();
    }
}

fn expect_not_regular(path: &Path, kind: FileKind) {
    for (what, err) in [
        ("create", PidFile::create(path).unwrap_err()),
        ("read_pid", read_pid(path).unwrap_err()),
        ("pidfile_is_stale", pidfile_is_stale(path).unwrap_err()),
        ("running_pid", running_pid(path).unwrap_err()),
        ("remove_pidfile", pidfile::remove_pidfile(path).unwrap_err()),
    ] {
        match &err {
            PidFileError::NotRegularFile { path: p, kind: k } => {
                assert_eq!((p.as_path(), *k), (path, kind), "{what}");
                assert!(err.to_string().contains(&path.display().to_string()), "{what}: {err}");
            }
            other => panic!("{what} on {kind:?}: expected NotRegularFile, got {other:?}"),
        }
    }
}

#[test]
fn symlink_is_never_followed_and_its_target_is_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("precious");
    std::fs::write(&target, b"do not touch\n").unwrap();
    let link = dir.path().join("app.pid");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    expect_not_regular(&link, FileKind::Symlink);
    assert_eq!(std::fs::read(&target).unwrap(), b"do not touch\n");
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink());

    // A dangling symlink: its target must not be created.
    let nowhere = dir.path().join("nowhere");
    let dangling = dir.path().join("dangling.pid");
    std::os::unix::fs::symlink(&nowhere, &dangling).unwrap();
    assert!(matches!(PidFile::create(&dangling), Err(PidFileError::NotRegularFile { kind: FileKind::Symlink, .. })));
    assert!(!nowhere.exists());
}

#[test]
fn fifo_is_an_error_and_never_hangs() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fifo.pid");
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    // `mkfifo(3)`: POSIX, where `mknodat` is not (macOS).
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o644) }, 0, "{}", std::io::Error::last_os_error());
    // In a child first: a hang there is a timeout failure, not a stuck test harness.
    let (status, out, _) = run({
        let mut c = Command::new(FIXTURE);
        c.arg("create").arg(&path);
        c
    });
    assert_eq!(status.code(), Some(2), "{out}");
    assert!(out.contains("is a FIFO, not a regular file"), "{out}");
    expect_not_regular(&path, FileKind::Fifo);
}

#[test]
fn directory_and_socket_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("dir.pid");
    std::fs::create_dir(&sub).unwrap();
    expect_not_regular(&sub, FileKind::Directory);
    assert!(sub.is_dir());

    let sock = dir.path().join("sock.pid");
    let _listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    expect_not_regular(&sock, FileKind::Socket);
}

#[test]
fn device_is_an_error() {
    expect_not_regular(Path::new("/dev/null"), FileKind::CharDevice);
}

#[test]
fn missing_parent_directory_is_a_clear_open_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no/such/dir/app.pid");
    let err = PidFile::create(&path).unwrap_err();
    match &err {
        PidFileError::Io { op: Operation::Open, source, path: p } => {
            assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
            assert_eq!(p, &path);
        }
        other => panic!("unexpected {other:?}"),
    }
    // The message names the step and the path; the OS error is the source, shown once.
    assert_eq!(err.to_string(), format!("cannot open PID file {}", path.display()));
    let chain = daemonic_tests::error_chain(&err);
    assert_eq!(chain.matches("No such file or directory").count(), 1, "{chain}");
    assert!(std::error::Error::source(&err).is_some());
    assert!(!dir.path().join("no").exists());
    // The seed: a missing file is not stale, and removing it is fine.
    assert!(!pidfile_is_stale(&path).unwrap());
    pidfile::remove_pidfile(&path).unwrap();
    assert_eq!(running_pid(&path).unwrap(), None);
    assert!(matches!(read_pid(&path), Err(PidFileError::Io { op: Operation::Open, .. })));
}

#[test]
fn unwritable_directory_is_a_permission_error() {
    let dir = tempfile::tempdir().unwrap();
    let locked_dir = dir.path().join("ro");
    std::fs::create_dir(&locked_dir).unwrap();
    std::fs::set_permissions(&locked_dir, std::fs::Permissions::from_mode(0o555)).unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = locked_dir.join("app.pid");
    // Root ignores directory permissions: run the attempt as nobody.
    let shared = daemonic_tests::SharedBinary::new(FIXTURE);
    let mut command = Command::new(shared.path());
    command.arg("create").arg(&path);
    if is_root() {
        use std::os::unix::process::CommandExt;
        command.uid(65534).gid(65534);
    }
    let (status, out, err) = run(command);
    assert_eq!(status.code(), Some(2), "{out}{err}");
    assert_eq!(out.trim(), format!("error cannot open PID file {}: Permission denied (os error 13)", path.display()));
    assert!(!path.exists());
}

#[test]
fn non_utf8_file_name_works() {
    let dir = tempfile::tempdir().unwrap();
    let path: PathBuf = dir.path().join(OsStr::from_bytes(b"caf\xe9-\xff.pid"));
    let guard = PidFile::create(&path).unwrap();
    assert_eq!(read_pid(&path).unwrap(), guard.pid());
    assert_eq!(running_pid(&path).unwrap(), Some(guard.pid()));
    assert_eq!(guard.path(), path);
    guard.remove().unwrap();
    assert!(!path.exists());
}

#[test]
fn relative_path_works() {
    let dir = tempfile::tempdir().unwrap();
    let rel = Path::new("relative-test.pid");
    let (status, out, err) = run({
        let mut c = Command::new(FIXTURE);
        c.arg("create").arg(rel).current_dir(dir.path());
        c
    });
    assert!(status.success(), "{out}{err}");
    assert!(out.starts_with("ok "), "{out}");
    assert!(!dir.path().join(rel).exists());
}

/// `Inspection::still_names` re-reads the same file: a pid the file named at inspection time
/// is no longer named once the file says something else (a new holder, or nothing).
#[test]
fn still_names_rereads_the_inspected_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.pid");
    let guard = PidFile::create(&path).unwrap();
    let seen = pidfile::inspect(&path).unwrap().unwrap();
    assert!(seen.still_names(guard.pid()).unwrap());
    // The same inode, rewritten (as a new holder would, after truncating it).
    std::fs::write(&path, "").unwrap();
    assert!(!seen.still_names(guard.pid()).unwrap(), "an empty file names nobody");
    std::fs::write(&path, format!("{}\n", guard.pid())).unwrap();
    assert!(seen.still_names(guard.pid()).unwrap());
    std::fs::write(&path, "1\n").unwrap();
    assert!(!seen.still_names(guard.pid()).unwrap(), "another pid");
    drop(guard);
}
