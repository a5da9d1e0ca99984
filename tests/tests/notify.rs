//! Readiness for service managers: a Unix datagram socket standing in for systemd's
//! `NOTIFY_SOCKET` (path and abstract), and an s6-style readiness fd. Linux: abstract sockets,
//! /proc and the subreaper.
#![cfg(target_os = "linux")]

use std::io::Read;
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use daemonic_tests::{become_subreaper, processes_mentioning, reap, run, wait_until, KillOnDrop, Spawned};
use pidfile::read_pid;

const FIXTURE: &str = env!("CARGO_BIN_EXE_daemon-fixture");

struct Manager {
    dir: tempfile::TempDir,
    socket: UnixDatagram,
    address: String,
}

impl Manager {
    fn with_path() -> Manager {
        become_subreaper();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify.sock");
        let socket = UnixDatagram::bind(&path).unwrap();
        Manager::finish(dir, socket, path.to_string_lossy().into_owned())
    }

    fn with_abstract_name() -> Manager {
        use std::os::linux::net::SocketAddrExt;
        become_subreaper();
        let dir = tempfile::tempdir().unwrap();
        let name = format!("daemonic-test-{}-{}", std::process::id(), dir.path().display()).replace('/', "-");
        let address = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let socket = UnixDatagram::bind_addr(&address).unwrap();
        Manager::finish(dir, socket, format!("@{name}"))
    }

    fn finish(dir: tempfile::TempDir, socket: UnixDatagram, address: String) -> Manager {
        socket.set_read_timeout(Some(daemonic_tests::TIMEOUT)).unwrap();
        Manager { dir, socket, address }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn launcher(&self, extra: &[&str]) -> Command {
        let mut command = Command::new(FIXTURE);
        command
            .env("NOTIFY_SOCKET", &self.address)
            .arg("--pidfile")
            .arg(self.path("d.pid"))
            .arg("--stop-file")
            .arg(self.path("stop"))
            .arg("--stdout")
            .arg(self.path("out.log"))
            .args(extra);
        command
    }

    fn datagram(&self) -> String {
        let mut buf = [0u8; 4096];
        let n = self.socket.recv(&mut buf).expect("a datagram from the daemon");
        String::from_utf8(buf[..n].to_vec()).unwrap()
    }

    fn assert_no_more_datagrams(&self) {
        self.socket.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
        let mut buf = [0u8; 64];
        assert!(self.socket.recv(&mut buf).is_err(), "unexpected datagram {:?}", String::from_utf8_lossy(&buf));
    }

    fn log_line(&self, prefix: &str) -> String {
        let mut line = None;
        wait_until(prefix, || {
            let log = std::fs::read_to_string(self.path("out.log")).unwrap_or_default();
            line = log.lines().find_map(|l| l.strip_prefix(prefix).map(str::to_owned));
            line.is_some()
        });
        line.unwrap()
    }
}

fn forking_daemon_notifies(manager: Manager) {
    let (status, _, err) = run(manager.launcher(&["--status", "serving tests"]));
    assert!(status.success(), "{err}");
    let daemon = read_pid(manager.path("d.pid")).unwrap().get();
    let _kill = KillOnDrop(daemon);
    let ready = manager.datagram();
    eprintln!("received: {ready:?}");
    assert_eq!(ready, format!("READY=1\nMAINPID={daemon}"), "MAINPID matches the PID file");
    let status_line = manager.datagram();
    eprintln!("received: {status_line:?}");
    assert_eq!(status_line, "STATUS=serving tests");
    assert_eq!(manager.log_line("notify_env="), "unset", "NOTIFY_SOCKET removed from the daemon's environment");
    std::fs::write(manager.path("stop"), b"").unwrap();
    let stopping = manager.datagram();
    eprintln!("received: {stopping:?}");
    assert_eq!(stopping, "STOPPING=1");
    reap(daemon);
    manager.assert_no_more_datagrams();
    assert!(!manager.path("d.pid").exists());
}

#[test]
fn forking_daemon_notifies_a_path_socket() {
    forking_daemon_notifies(Manager::with_path());
}

#[test]
fn forking_daemon_notifies_an_abstract_socket() {
    forking_daemon_notifies(Manager::with_abstract_name());
}

#[test]
fn foreground_daemon_notifies_without_forking() {
    let manager = Manager::with_path();
    let mut launcher = manager.launcher(&["--foreground"]);
    let mut child = Spawned::new(&mut launcher);
    let pid = child.id();
    assert_eq!(child.line(), format!("launcher pid={pid}"));
    child.close_stdin();
    assert_eq!(manager.datagram(), "READY=1", "no MAINPID: the service's own pid is the main pid");
    assert_eq!(read_pid(manager.path("d.pid")).unwrap().get(), pid, "same pid, no fork");
    let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap();
    assert_eq!(children.trim(), "", "no child process");
    std::fs::write(manager.path("stop"), b"").unwrap();
    assert_eq!(manager.datagram(), "STOPPING=1");
    assert!(child.wait().success());
}

#[test]
fn missing_notify_socket_is_a_clear_error() {
    let manager = Manager::with_path();
    let missing = manager.path("missing.sock");
    let mut launcher = manager.launcher(&[]);
    launcher.env("NOTIFY_SOCKET", &missing);
    let (status, _, err) = run(launcher);
    assert!(!status.success());
    let expected = format!("sd_notify to {} in the daemon: No such file or directory", missing.display());
    assert!(err.contains(&expected), "{err}");
    assert!(!manager.path("d.pid").exists());
    assert_eq!(processes_mentioning(&manager.dir.path().to_string_lossy()), Vec::<u32>::new());
}

#[test]
fn invalid_notify_socket_is_refused_before_forking() {
    let manager = Manager::with_path();
    let mut launcher = manager.launcher(&[]);
    launcher.env("NOTIFY_SOCKET", "relative/notify.sock");
    let (status, _, err) = run(launcher);
    assert!(!status.success());
    assert!(err.contains("NOTIFY_SOCKET must be an absolute path or an @abstract name"), "{err}");
    assert!(!manager.path("d.pid").exists());
}

#[test]
fn ready_fd_gets_its_newline_after_the_pid_file_is_written() {
    let manager = Manager::with_path();
    let fifo = manager.path("ready.fifo");
    let c_path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
    // The supervisor's end: open before the daemon opens its end.
    let mut reader = std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK).open(&fifo).unwrap();
    let mut launcher = manager.launcher(&["--manual", "--ready-fifo", fifo.to_str().unwrap()]);
    launcher.env_remove("NOTIFY_SOCKET");
    let mut child = launcher.spawn().unwrap();
    let mut got = Vec::new();
    wait_until("the readiness newline", || {
        let mut buf = [0u8; 16];
        if let Ok(n) = reader.read(&mut buf) {
            got.extend_from_slice(&buf[..n]);
        }
        !got.is_empty()
    });
    // The newline came only after the PID file names the daemon and the daemon said so.
    let daemon = read_pid(manager.path("d.pid")).expect("PID file written before readiness").get();
    let _kill = KillOnDrop(daemon);
    assert_eq!(got, b"\n");
    assert!(std::fs::read_to_string(manager.path("out.log")).unwrap().contains("calling ready"));
    assert!(daemonic_tests::wait_timeout(&mut child).success());
    // The daemon closed its end: end of file once every writer is gone.
    wait_until("the readiness fd to be closed", || {
        let mut buf = [0u8; 1];
        matches!(reader.read(&mut buf), Ok(0))
    });
    std::fs::write(manager.path("stop"), b"").unwrap();
    reap(daemon);
}

use std::os::unix::fs::OpenOptionsExt;
