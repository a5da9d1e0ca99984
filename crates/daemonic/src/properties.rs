//! Property tests of what the library reads from another process: the readiness pipe's
//! records (written by the daemon, read by the launcher) and `NOTIFY_SOCKET` (the caller's
//! environment). `PROPTEST_CASES=N` changes the number of cases.

use std::ffi::OsString;
use std::io;
use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;

use pidfile::Pid;
use proptest::prelude::*;

use crate::notify::Notifier;
use crate::readiness::{await_report, parse, Report, Reporter};
use crate::{DaemonError, Step};

/// `cases` cases, unless `PROPTEST_CASES` says otherwise.
fn config(cases: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(cases);
    ProptestConfig::with_cases(cases)
}

fn any_pid() -> impl Strategy<Value = Pid> {
    (1..=Pid::MAX).prop_map(|n| Pid::new(n).expect("in range"))
}

fn any_path() -> impl Strategy<Value = PathBuf> {
    proptest::collection::vec(any::<u8>(), 0..300).prop_map(|bytes| PathBuf::from(OsString::from_vec(bytes)))
}

/// Every step the daemon can report through the pipe (the launcher's own never travel).
fn daemon_step() -> impl Strategy<Value = Step> {
    prop_oneof![
        Just(Step::Setsid),
        Just(Step::SecondFork),
        any_path().prop_map(Step::Chroot),
        any_path().prop_map(Step::Chdir),
        Just(Step::ResetSignals),
        prop_oneof![Just("stdin"), Just("stdout"), Just("stderr")].prop_map(Step::RedirectStdio),
        Just(Step::CloseFds),
        Just(Step::WritePidFile),
        Just(Step::SetGroups),
        any::<u32>().prop_map(Step::SetGid),
        any::<u32>().prop_map(Step::SetUid),
        Just(Step::VerifyPrivilegeDrop),
        any::<String>().prop_map(Step::Notify),
        Just(Step::ReadyFd),
        Just(Step::SignalReady),
    ]
}

/// How a daemon's report ends.
#[derive(Debug, Clone)]
enum Outcome {
    Ready,
    Error(Step, i32),
    Failed(String),
    Exit,
}

fn outcome() -> impl Strategy<Value = Outcome> {
    prop_oneof![
        Just(Outcome::Ready),
        (daemon_step(), 1..200i32).prop_map(|(step, errno)| Outcome::Error(step, errno)),
        // A pipe holds 64 KiB: nobody reads while the test writes.
        proptest::collection::vec(any::<char>(), 0..2000).prop_map(String::from_iter).prop_map(Outcome::Failed),
        Just(Outcome::Exit),
    ]
}

/// Writes what a daemon writes through a real pipe and reads it as the launcher does.
fn through_pipe(pid: Option<Pid>, exec: bool, outcome: &Outcome) -> Report {
    let (read, write) = rustix::pipe::pipe().unwrap();
    let reporter = Reporter::new(write);
    if let Some(pid) = pid {
        reporter.pid(pid).unwrap();
    }
    if exec {
        reporter.ready_on_exec().unwrap();
    }
    match outcome {
        Outcome::Ready => reporter.ready().unwrap(),
        Outcome::Error(step, errno) => reporter.error(step, &io::Error::from_raw_os_error(*errno)),
        Outcome::Failed(message) => reporter.failed(message),
        Outcome::Exit => {}
    }
    drop(reporter);
    await_report(read).unwrap()
}

proptest! {
    #![proptest_config(config(256))]

    /// What the daemon reports is what the launcher learns: its pid, and ready (also: an
    /// `exec` pending and then end of file), the step and errno that failed, its message, or
    /// an exit before ready.
    #[test]
    fn reports_round_trip(pid in proptest::option::of(any_pid()), exec in any::<bool>(), outcome in outcome()) {
        let expected = match outcome.clone() {
            Outcome::Ready => Report::Ready { pid },
            Outcome::Error(step, errno) => Report::Error { pid, step, errno },
            Outcome::Failed(message) => Report::Failed { pid, message },
            Outcome::Exit if exec => Report::Ready { pid },
            Outcome::Exit => Report::Exited { pid },
        };
        prop_assert_eq!(through_pipe(pid, exec, &outcome), expected);
    }

    /// Any bytes (a daemon killed mid-record, or garbage): no panic, and at end of file always
    /// an outcome. While the pipe is open, only "ready" ends the wait early, and nothing read
    /// after it changes that.
    #[test]
    fn any_bytes_make_an_outcome(bytes in proptest::collection::vec(any::<u8>(), 0..200), more in proptest::collection::vec(any::<u8>(), 0..50)) {
        prop_assert!(parse(&bytes, true).is_some());
        if let Some(early) = parse(&bytes, false) {
            prop_assert!(matches!(early, Report::Ready { .. }), "{:?}", early);
            let mut longer = bytes.clone();
            longer.extend_from_slice(&more);
            prop_assert_eq!(parse(&longer, false), parse(&bytes, false));
            prop_assert_eq!(parse(&longer, true), Some(early));
        }
    }

    /// Records cut anywhere: the prefix of a valid report never yields a failure that the
    /// whole report did not contain, and never an earlier "ready" than the daemon sent.
    #[test]
    fn a_cut_report_does_not_invent(pid in any_pid(), step in daemon_step(), errno in 1..200i32, cut in any::<prop::sample::Index>()) {
        let mut bytes = vec![b'P'];
        bytes.extend_from_slice(&pid.get().to_le_bytes());
        let (read, write) = rustix::pipe::pipe().unwrap();
        Reporter::new(write).error(&step, &io::Error::from_raw_os_error(errno));
        let mut record = vec![0u8; 70_000];
        let n = rustix::io::read(&read, &mut record).unwrap();
        bytes.extend_from_slice(&record[..n]);
        let cut = cut.index(bytes.len() + 1);
        match parse(&bytes[..cut], true) {
            Some(Report::Exited { pid: seen }) => prop_assert!(seen.is_none() || seen == Some(pid)),
            Some(Report::Error { pid: seen, step: got, errno: e }) => {
                prop_assert_eq!(cut, bytes.len(), "an error only once its record is whole");
                prop_assert_eq!((seen, got, e), (Some(pid), step, errno));
            }
            other => prop_assert!(false, "{:?}", other),
        }
    }

    /// `NOTIFY_SOCKET`: an absolute path or an `@abstract` name that fits is taken, anything
    /// else is refused with `Step::Notify` naming the value; never a panic.
    #[test]
    fn notify_socket_values(value in proptest::collection::vec(any::<u8>(), 0..200)) {
        let lossy = String::from_utf8_lossy(&value).into_owned();
        // `sun_path`'s size; a path may fill it without a final NUL (as Linux and the BSDs
        // accept, and rustix allows), an abstract name (Linux) after its leading NUL.
        let sun_path = if cfg!(any(target_os = "linux", target_os = "android")) { 108 } else { 104 };
        let fits = value.len() <= sun_path && !value.contains(&0);
        let abstract_fits = cfg!(any(target_os = "linux", target_os = "android")) && value.len() <= sun_path;
        let expected = match value.first() {
            Some(b'/') => fits,
            Some(b'@') => abstract_fits,
            _ => false,
        };
        match Notifier::parse(OsString::from_vec(value.clone())) {
            Ok(_) => prop_assert!(expected, "{:?} taken", lossy),
            Err(DaemonError::Launcher { step: Step::Notify(name), source }) => {
                prop_assert!(!expected, "{:?} refused: {}", lossy, source);
                prop_assert_eq!(name, lossy);
                prop_assert_eq!(source.kind(), io::ErrorKind::InvalidInput);
            }
            Err(other) => prop_assert!(false, "{other}"),
        }
    }
}

/// Found by the fuzz target (a wrong oracle, not a bug): a path that fills `sun_path` without a
/// final NUL is taken, one byte more is refused.
#[cfg(any(target_os = "linux", target_os = "android"))]
#[test]
fn notify_socket_path_of_sun_path_size() {
    let path = |len: usize| OsString::from(format!("/{}", "a".repeat(len - 1)));
    assert!(Notifier::parse(path(108)).is_ok());
    assert!(Notifier::parse(path(109)).is_err());
}
