//! The tree record: what a supervisor writes next to its PID file (`FILE.tree`) so that
//! `stop` and `signal` know the holder is a supervisor (and ask it, rather than KILL it,
//! when the whole tree must go), and so that what a KILLed supervisor left behind is ended by
//! the next `stop` or `start`.
//!
//! A supervisor that is KILLed (by hand, by the OOM killer) cannot end PROGRAM's tree. PROGRAM
//! dies with it (its parent-death signal), but what PROGRAM started is reparented to init. On
//! Linux every process of the tree stays in the supervisor's session unless it leaves it
//! (`setsid`), and a session's id cannot be given to a new session while one of its members
//! lives; the record keeps that id (with the boot, and the supervisor's pid and start time;
//! only for a session of the daemon's own, never the caller's under `--foreground`),
//! and the next `start` (holding the PID file's lock, so no supervisor of that file runs) or
//! `stop` ends those processes. A PID namespace would also catch a program that leaves the
//! session, but would make PROGRAM see other pids than the rest of the system (its own PID
//! file, `kill $(cat …)`), and needs privileges; so a record it is.
//!
//! The record is believed only if it is the caller's own file (owned by the caller, one link,
//! writable by nobody else: `files::read_own`) and names the PID file's inode.

use std::io;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::files::{read_beside, with_suffix, write_beside, OwnFile, WrittenFile};

/// The record's suffix, after the PID file's name.
const SUFFIX: &str = ".tree";

/// What a supervisor records.
pub(crate) struct Record {
    supervisor: u32,
    /// The PID file's (device, inode).
    pidfile: (u64, u64),
    /// Linux: the supervisor's start time (clock ticks after boot), its session, the boot.
    started: Option<u64>,
    session: Option<u32>,
    boot: Option<String>,
    /// The file it was read from, to remove it once nothing it records is left.
    file: Option<OwnFile>,
}

/// A PID file's (device, inode).
pub(crate) fn identity(fd: impl AsFd) -> io::Result<(u64, u64)> {
    let stat = rustix::fs::fstat(fd)?;
    #[allow(clippy::unnecessary_cast)] // `dev_t`/`ino_t` widths differ per platform.
    Ok((stat.st_dev as u64, stat.st_ino as u64))
}

/// Where the record of the PID file at `pidfile` is.
pub(crate) fn path(pidfile: &Path) -> PathBuf {
    with_suffix(pidfile, SUFFIX)
}

impl Record {
    /// The calling supervisor's record, for the PID file it holds through `pidfile`.
    /// `own_session`: the supervisor was daemonized, so its session is its own (created by
    /// `daemonize`'s `setsid`, holding nothing but the service); under `--foreground` it is the
    /// caller's (a login shell's, a service manager's), whose other processes are not the
    /// service's, and is not recorded.
    pub(crate) fn of_this_supervisor(pidfile: impl AsFd, own_session: bool) -> io::Result<Record> {
        let me = std::process::id();
        let facts = proc_stat(me);
        let session = facts.as_ref().map(|f| f.session).filter(|&session| own_session && session != me);
        Ok(Record {
            supervisor: me,
            pidfile: identity(pidfile)?,
            started: facts.as_ref().map(|f| f.started),
            session,
            boot: boot_id(),
            file: None,
        })
    }

    /// Writes it next to the PID file (`files::write_beside`); removed when the returned file
    /// is dropped.
    pub(crate) fn write(&self, pidfile: &pidfile::PidFile) -> io::Result<WrittenFile> {
        write_beside(pidfile, SUFFIX, self.encode().as_bytes())
    }

    /// The record next to the PID file whose directory is `dir` (the descriptor the PID file
    /// was opened through), if there is one to believe for the PID file `identity`.
    pub(crate) fn read(dir: &pidfile::ParentDir, identity: (u64, u64)) -> Option<Record> {
        let file = read_beside(dir, SUFFIX, 512)?;
        let record = Record::decode(std::str::from_utf8(&file.content).ok()?)?;
        (record.pidfile == identity).then_some(Record { file: Some(file), ..record })
    }

    /// Removes the record's file (the one [`read`](Record::read) believed), once nothing it
    /// records is left.
    pub(crate) fn remove(&self) {
        if let Some(file) = &self.file {
            file.remove();
        }
    }

    fn encode(&self) -> String {
        let mut text = String::from("# daemonic: the supervisor of the PID file beside this one\n");
        text.push_str(&format!("supervisor={}\npidfile={}:{}\n", self.supervisor, self.pidfile.0, self.pidfile.1));
        if let Some(started) = self.started {
            text.push_str(&format!("started={started}\n"));
        }
        if let Some(session) = self.session {
            text.push_str(&format!("session={session}\n"));
        }
        if let Some(boot) = &self.boot {
            text.push_str(&format!("boot={boot}\n"));
        }
        text
    }

    fn decode(text: &str) -> Option<Record> {
        let (mut supervisor, mut pidfile, mut started, mut session, mut boot) = (None, None, None, None, None);
        for line in text.lines().filter(|line| !line.starts_with('#')) {
            let (key, value) = line.split_once('=')?;
            match key {
                "supervisor" => supervisor = Some(value.parse().ok()?),
                "pidfile" => {
                    let (dev, ino) = value.split_once(':')?;
                    pidfile = Some((dev.parse().ok()?, ino.parse().ok()?));
                }
                "started" => started = Some(value.parse().ok()?),
                "session" => session = Some(value.parse().ok()?),
                "boot" => boot = Some(value.to_owned()),
                _ => {}
            }
        }
        Some(Record { supervisor: supervisor?, pidfile: pidfile?, started, session, boot, file: None })
    }

    /// Whether `pid` is the supervisor that wrote this record, alive (Linux: not a zombie, and
    /// the same start time, so not a process that reused its pid).
    pub(crate) fn is_supervisor(&self, pid: u32) -> bool {
        pid == self.supervisor
            && match self.started {
                Some(started) => proc_stat(pid).is_some_and(|facts| facts.started == started && !facts.zombie),
                None => true,
            }
    }

    /// What the recorded supervisor left running, once it is gone: on Linux the processes
    /// still in its session. Empty while it runs, after a reboot, when the session's id
    /// belongs to a live process (then the id was reused: not ours), and elsewhere.
    pub(crate) fn leftovers(&self) -> Vec<u32> {
        let (Some(session), Some(boot)) = (self.session, &self.boot) else { return Vec::new() };
        if boot_id().as_ref() != Some(boot) || self.is_supervisor(self.supervisor) || proc_stat(session).is_some() {
            return Vec::new();
        }
        session_members(session)
    }

    /// Ends [`leftovers`](Record::leftovers): TERM (and CONT), KILL after `timeout`. Each
    /// process is pinned by a pidfd and checked to be in the session again before each
    /// signal, so a pid reused meanwhile is never hit. Returns how many there were.
    pub(crate) fn end_leftovers(&self, timeout: Duration) -> usize {
        let pids = self.leftovers();
        let Some(session) = self.session else { return 0 };
        end_session_members(session, &pids, timeout);
        pids.len()
    }
}

/// From `/proc/PID/stat`: the session, the start time, and whether it is a zombie.
struct ProcFacts {
    session: u32,
    started: u64,
    zombie: bool,
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn proc_stat(pid: u32) -> Option<ProcFacts> {
    let text = read_proc(&format!("/proc/{pid}/stat"))?;
    // Fields counted after the last ')': the command name may hold spaces and parentheses.
    let mut fields = text[text.rfind(')')? + 1..].split_whitespace();
    // After ')': state, ppid, pgrp, session (index 3), ..., starttime (index 19).
    let zombie = fields.next()? == "Z";
    let session = fields.nth(2)?.parse().ok()?;
    let started = fields.nth(15)?.parse().ok()?;
    Some(ProcFacts { session, started, zombie })
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn proc_stat(_pid: u32) -> Option<ProcFacts> {
    None
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn boot_id() -> Option<String> {
    Some(read_proc("/proc/sys/kernel/random/boot_id")?.trim().to_owned())
}

/// A small `/proc` file whole: one `read` into a page-sized buffer, and the one that says end
/// of file. (`read_to_string` starts at 32 bytes and doubles: six reads for
/// `/proc/PID/stat`, on the way to every start.) `None` if it is larger than a page.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn read_proc(path: &str) -> Option<String> {
    use rustix::fs::{Mode, OFlags};
    let fd = rustix::fs::open(path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()).ok()?;
    let (mut buf, mut len) = ([0u8; 4096], 0);
    loop {
        match rustix::io::read(&fd, &mut buf[len..]) {
            Ok(0) => break,
            Ok(n) if len + n < buf.len() => len += n,
            Err(rustix::io::Errno::INTR) => {}
            Ok(_) | Err(_) => return None,
        }
    }
    String::from_utf8(buf[..len].to_vec()).ok()
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn boot_id() -> Option<String> {
    None
}

/// Every process in `session` but the caller (there is no system call for it: `/proc`).
fn session_members(session: u32) -> Vec<u32> {
    let me = std::process::id();
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| pid != me && proc_stat(pid).is_some_and(|facts| facts.session == session && !facts.zombie))
        .collect()
}

#[cfg(target_os = "linux")]
fn end_session_members(session: u32, pids: &[u32], timeout: Duration) {
    use rustix::process::{pidfd_open, pidfd_send_signal, PidfdFlags, Signal};
    let pinned: Vec<_> = pids
        .iter()
        .filter_map(|&pid| {
            let fd = pidfd_open(rustix::process::Pid::from_raw(pid as i32)?, PidfdFlags::empty()).ok()?;
            // Pinned: still in the session, so still one of ours.
            proc_stat(pid).is_some_and(|facts| facts.session == session).then_some(fd)
        })
        .collect();
    for fd in &pinned {
        let _ = pidfd_send_signal(fd, Signal::TERM);
        let _ = pidfd_send_signal(fd, Signal::CONT);
    }
    let deadline = std::time::Instant::now() + timeout;
    loop {
        // A pidfd is readable once its process exited.
        let mut fds: Vec<_> =
            pinned.iter().map(|fd| rustix::event::PollFd::new(fd, rustix::event::PollFlags::IN)).collect();
        let _ = rustix::event::poll(&mut fds, Some(&rustix::event::Timespec { tv_sec: 0, tv_nsec: 0 }));
        let running: Vec<usize> =
            fds.iter().enumerate().filter(|(_, fd)| fd.revents().is_empty()).map(|(i, _)| i).collect();
        drop(fds);
        if running.is_empty() {
            return;
        }
        if std::time::Instant::now() >= deadline {
            for i in running {
                let _ = pidfd_send_signal(&pinned[i], Signal::KILL);
            }
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[cfg(not(target_os = "linux"))]
fn end_session_members(_session: u32, _pids: &[u32], _timeout: Duration) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_survives_encoding_and_nothing_else_decodes() {
        let record = Record {
            supervisor: 42,
            pidfile: (1, 2),
            started: Some(7),
            session: Some(40),
            boot: Some("abc".into()),
            file: None,
        };
        assert_eq!(Record::decode(&record.encode()).map(|r| r.encode()), Some(record.encode()));
        assert!(Record::decode("supervisor=1\n").is_none());
        assert!(Record::decode("supervisor=x\npidfile=1:2\n").is_none());
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_is_the_supervisor_its_record_names() {
        let file = tempfile::tempfile().unwrap();
        let record = Record::of_this_supervisor(&file, true).unwrap();
        assert!(record.is_supervisor(std::process::id()));
        assert!(!record.is_supervisor(1));
        assert!(record.leftovers().is_empty(), "the supervisor runs: nothing is left over");
    }
}
