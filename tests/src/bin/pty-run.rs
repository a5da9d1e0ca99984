//! Runs a command as a session leader whose controlling terminal is a fresh pseudo-terminal
//! (as if typed in a terminal), and copies the terminal's output to stdout. Exits with the
//! command's status.

#[cfg(target_os = "linux")]
use std::io::{Read, Write};
#[cfg(target_os = "linux")]
use std::os::fd::AsRawFd;
#[cfg(target_os = "linux")]
use std::os::unix::process::CommandExt;

/// Only the Linux tests use this fixture.
#[cfg(not(target_os = "linux"))]
fn main() {
    eprintln!("pty-run: only used by the Linux tests");
    std::process::exit(2);
}

#[cfg(target_os = "linux")]
fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let master = rustix::pty::openpt(rustix::pty::OpenptFlags::RDWR | rustix::pty::OpenptFlags::NOCTTY).unwrap();
    rustix::pty::grantpt(&master).unwrap();
    rustix::pty::unlockpt(&master).unwrap();
    let slave_name = rustix::pty::ptsname(&master, Vec::new()).unwrap();
    // SAFETY: this fixture is single-threaded.
    let child = unsafe { libc::fork() };
    assert!(child >= 0);
    if child == 0 {
        rustix::process::setsid().unwrap();
        let slave =
            rustix::fs::open(slave_name.as_c_str(), rustix::fs::OFlags::RDWR, rustix::fs::Mode::empty()).unwrap();
        rustix::process::ioctl_tiocsctty(&slave).unwrap();
        for fd in 0..3 {
            // SAFETY: dup2 onto the standard descriptors.
            unsafe { libc::dup2(slave.as_raw_fd(), fd) };
        }
        drop(master);
        let err = std::process::Command::new(&args[0]).args(&args[1..]).exec();
        eprintln!("pty-run: cannot execute {}: {err}", args[0]);
        // SAFETY: leaving the child without running the parent's destructors.
        unsafe { libc::_exit(127) };
    }
    let mut master = std::fs::File::from(master);
    let mut output = Vec::new();
    let mut buf = [0u8; 4096];
    // Read until the slave side is closed by everyone (EIO on Linux).
    while let Ok(n) = master.read(&mut buf) {
        if n == 0 {
            break;
        }
        output.extend_from_slice(&buf[..n]);
    }
    let mut status = 0;
    // SAFETY: waiting for our own child.
    unsafe { libc::waitpid(child, &mut status, 0) };
    std::io::stdout().write_all(&output).unwrap();
    std::process::exit(if libc::WIFEXITED(status) { libc::WEXITSTATUS(status) } else { 128 });
}
