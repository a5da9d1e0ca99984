//! The scenarios and the invariant each run must end in.

use super::trace::{Ended, RUN_TIMEOUT};

/// What a run exercises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Scenario {
    /// `start` traced (the launcher, the daemon, the supervisor, PROGRAM's child until `exec`).
    Start,
    /// `start --notify-await` traced: PROGRAM (`xtask faults-notify-program`) sends READY=1.
    StartNotify,
    /// `stop` traced, against a service started normally.
    Stop,
    /// `status` traced.
    Status,
    /// `reopen` traced.
    Reopen,
    /// The supervisor traced (`strace -p`) while `reopen` and `stop` arrive.
    SupervisorStop,
    /// The supervisor traced while PROGRAM exits by itself.
    SupervisorExit,
}

pub(crate) const SCENARIOS: &[Scenario] = &[
    Scenario::Start,
    Scenario::StartNotify,
    Scenario::Stop,
    Scenario::Status,
    Scenario::Reopen,
    Scenario::SupervisorStop,
    Scenario::SupervisorExit,
];

impl Scenario {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Scenario::Start => "start",
            Scenario::StartNotify => "start-notify",
            Scenario::Stop => "stop",
            Scenario::Status => "status",
            Scenario::Reopen => "reopen",
            Scenario::SupervisorStop => "supervisor-stop",
            Scenario::SupervisorExit => "supervisor-exit",
        }
    }

    pub(crate) fn starts(self) -> bool {
        matches!(self, Scenario::Start | Scenario::StartNotify)
    }

    pub(crate) fn from_name(name: &str) -> Option<Scenario> {
        SCENARIOS.iter().copied().find(|s| s.name() == name)
    }

    /// Whether strace attaches to a running supervisor rather than starting the command.
    pub(crate) fn attaches(self) -> bool {
        matches!(self, Scenario::SupervisorStop | Scenario::SupervisorExit)
    }
}

/// A command the harness ran (untraced) to check the service afterwards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Finished {
    pub(crate) ended: Ended,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

/// Everything observed in one run, judged by [`judge`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Observation {
    /// The command the fault was aimed at (for the supervisor scenarios: the `stop` that
    /// arrived, or PROGRAM's exit as `Code(0)` once the supervisor exited).
    pub(crate) command: Option<Finished>,
    /// The fault hit PROGRAM after its `exec`.
    pub(crate) program_faulted: bool,
    /// The fault hit the command's write of its message.
    pub(crate) message_lost: bool,
    /// Whether strace injected at all.
    pub(crate) injected: bool,
    /// `status` afterwards, untraced.
    pub(crate) status: Option<Finished>,
    /// `stop` afterwards, untraced, when `status` said running.
    pub(crate) stop: Option<Finished>,
    /// Processes of the run still alive at the end (after the grace period).
    pub(crate) leftovers: Vec<String>,
    pub(crate) pidfile_left: bool,
    pub(crate) notify_dirs_left: Vec<String>,
}

/// The `daemonic: ...` error lines of a command's output (warnings aside).
fn error_lines(text: &str) -> Vec<&str> {
    text.lines().filter(|l| l.starts_with("daemonic: ") && !l.starts_with("daemonic: warning:")).collect()
}

/// The pid `status` names: `daemonic: running (pid N...`.
pub(crate) fn running_pid(status_stdout: &str) -> Option<u32> {
    let rest = status_stdout.split("running (pid ").nth(1)?;
    rest.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
}

/// Checks the invariant; `Err` is the violation.
pub(crate) fn judge(scenario: Scenario, seen: &Observation) -> Result<(), String> {
    let Some(command) = &seen.command else { return Err("the command did not run".into()) };
    let mut problems: Vec<String> = Vec::new();
    let output = format!("{}{}", command.stdout, command.stderr);
    // Rust's panic message: `thread 'main' (42) panicked at FILE:LINE:COL:` and the payload.
    let panic = output.lines().position(|l| l.contains("panicked at")).map(|at| {
        let mut lines = output.lines().skip(at);
        let place = lines.next().and_then(|l| l.split("panicked at ").nth(1)).unwrap_or_default();
        format!("panicked at {place} {}", lines.next().unwrap_or_default().trim())
    });
    let what = match scenario {
        Scenario::Start | Scenario::StartNotify => "the launcher",
        Scenario::Stop | Scenario::SupervisorStop => "stop",
        Scenario::Status => "status",
        Scenario::Reopen => "reopen",
        Scenario::SupervisorExit => "the supervisor",
    };
    // One clear message for a failure.
    let clear_error = |stream: &str| -> Option<String> {
        let lines = error_lines(stream);
        match lines.len() {
            1 => None,
            0 if seen.message_lost => None,
            0 => Some(format!("{what} failed without a `daemonic:` message")),
            n => Some(format!("{what} printed {n} error messages: {}", lines.join(" | "))),
        }
    };
    let status_code = seen.status.as_ref().map(|s| s.ended.clone());
    let running_after = status_code == Some(Ended::Code(0));
    match &command.ended {
        Ended::Code(_) if panic.is_some() => problems.extend(panic),
        Ended::Hang => problems.push(format!("HANG: {what} still running after {} s", RUN_TIMEOUT.as_secs())),
        Ended::Signal(signal) => problems.push(format!("{what} killed by {signal}")),
        Ended::Code(code) => match (scenario, code) {
            (Scenario::Start | Scenario::StartNotify, 0) => {
                let pid = seen.status.as_ref().and_then(|s| running_pid(&s.stdout));
                let confirmed = running_after && pid.is_some();
                if !confirmed && !seen.program_faulted {
                    problems.push(format!(
                        "the launcher exited 0 but status says: {}",
                        seen.status.as_ref().map(|s| s.stdout.trim().to_owned()).unwrap_or_default()
                    ));
                }
            }
            (Scenario::Start | Scenario::StartNotify, _) => {
                problems.extend(clear_error(&command.stderr));
                if running_after {
                    problems.push(format!("the launcher failed ({}) but the service runs", command.ended.describe()));
                }
            }
            (Scenario::Stop | Scenario::SupervisorStop, 0) => {
                if running_after {
                    problems.push("stop exited 0 but the service still runs".into());
                }
            }
            (Scenario::Stop | Scenario::SupervisorStop, _) => problems.extend(clear_error(&command.stderr)),
            (Scenario::Status, 0) => {
                if running_pid(&command.stdout).is_none() && !seen.message_lost {
                    problems.push(format!("status exited 0 without naming a pid: {}", command.stdout.trim()));
                }
            }
            (Scenario::Status, 4) => problems.extend(clear_error(&output)),
            (Scenario::Status, code) => {
                problems.push(format!("status says not running (exit {code}) while the service runs"));
            }
            (Scenario::Reopen, 0) => {}
            (Scenario::Reopen, 7) => problems.push("reopen says not running (exit 7) while the service runs".into()),
            (Scenario::Reopen, _) => problems.extend(clear_error(&command.stderr)),
            (Scenario::SupervisorExit, _) => {
                if running_after {
                    problems.push("PROGRAM exited but status still says running".into());
                }
            }
        },
    }
    // Whatever happened, the service is left consistent: running (then `stop` works) or not.
    match (&seen.status, &seen.stop) {
        (None, _) => problems.push("status afterwards did not run".into()),
        (Some(status), _) if status.ended == Ended::Hang => problems.push("HANG: status afterwards".into()),
        (Some(_), Some(stop)) if stop.ended != Ended::Code(0) => {
            problems.push(format!("stop afterwards failed ({}): {}", stop.ended.describe(), stop.stderr.trim()))
        }
        (Some(status), None) if !matches!(status.ended, Ended::Code(0 | 3)) => problems.push(format!(
            "status afterwards: {} {}",
            status.ended.describe(),
            format!("{}{}", status.stdout, status.stderr).trim()
        )),
        _ => {}
    }
    if !seen.leftovers.is_empty() {
        problems.push(format!("left running: {}", seen.leftovers.join("; ")));
    }
    if seen.pidfile_left {
        problems.push("PID file left".into());
    }
    if !seen.notify_dirs_left.is_empty() {
        problems.push(format!("left in TMPDIR: {}", seen.notify_dirs_left.join(", ")));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

/// A violation's class: its reason with paths and numbers (pids, counts, the random part of
/// a directory name: runs of hex digits holding a digit) replaced, for grouping.
pub(crate) fn violation_class(reason: &str) -> String {
    let mut class = String::new();
    for (index, word) in reason.split(' ').enumerate() {
        if index > 0 {
            class.push(' ');
        }
        if word.contains('/') {
            class.push_str("PATH");
            continue;
        }
        let mut run = String::new();
        let flush = |run: &mut String, class: &mut String| {
            if run.bytes().any(|b| b.is_ascii_digit()) {
                class.push('N');
            } else {
                class.push_str(run);
            }
            run.clear();
        };
        for c in word.chars() {
            if c.is_ascii_hexdigit() {
                run.push(c);
            } else {
                flush(&mut run, &mut class);
                class.push(c);
            }
        }
        flush(&mut run, &mut class);
    }
    class
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finished(code: i32, stdout: &str, stderr: &str) -> Finished {
        Finished { ended: Ended::Code(code), stdout: stdout.into(), stderr: stderr.into() }
    }

    fn not_running() -> Option<Finished> {
        Some(finished(3, "daemonic: not running\n", ""))
    }

    #[test]
    fn a_failed_start_needs_one_message_and_nothing_left() {
        let clean = Observation {
            command: Some(finished(1, "", "daemonic: cannot lock PID file /p.pid: No locks available\n")),
            status: not_running(),
            ..Observation::default()
        };
        assert_eq!(judge(Scenario::Start, &clean), Ok(()));
        let silent = Observation { command: Some(finished(1, "", "")), ..clean.clone() };
        assert!(judge(Scenario::Start, &silent).unwrap_err().contains("without a `daemonic:` message"));
        let lost = Observation { message_lost: true, ..silent };
        assert_eq!(judge(Scenario::Start, &lost), Ok(()));
        let twice = Observation { command: Some(finished(1, "", "daemonic: a\ndaemonic: b\n")), ..clean.clone() };
        assert!(judge(Scenario::Start, &twice).unwrap_err().contains("2 error messages"));
        let left = Observation {
            leftovers: vec!["42 daemonic start".into()],
            pidfile_left: true,
            notify_dirs_left: vec!["daemonic-notify-1-ab".into()],
            ..clean.clone()
        };
        let reason = judge(Scenario::Start, &left).unwrap_err();
        assert!(reason.contains("left running: 42") && reason.contains("PID file left"), "{reason}");
        assert!(reason.contains("daemonic-notify-1-ab"), "{reason}");
        let hang = Observation { command: Some(Finished { ended: Ended::Hang, ..finished(0, "", "") }), ..clean };
        assert!(judge(Scenario::Start, &hang).unwrap_err().starts_with("HANG"));
    }

    #[test]
    fn a_started_service_must_be_running_and_stoppable() {
        let running = Some(finished(0, "daemonic: running (pid 42; program pid 43)\n", ""));
        let good = Observation {
            command: Some(finished(0, "daemonic: started (pid 42)\n", "")),
            status: running.clone(),
            stop: Some(finished(0, "daemonic: stopped (pid 42)\n", "")),
            ..Observation::default()
        };
        assert_eq!(judge(Scenario::Start, &good), Ok(()));
        let gone = Observation { status: not_running(), stop: None, ..good.clone() };
        assert!(judge(Scenario::Start, &gone).unwrap_err().contains("exited 0 but status says"));
        assert_eq!(judge(Scenario::Start, &Observation { program_faulted: true, ..gone }), Ok(()));
        let unstoppable = Observation { stop: Some(finished(1, "", "daemonic: pid 42 still running\n")), ..good };
        assert!(judge(Scenario::Start, &unstoppable).unwrap_err().contains("stop afterwards failed"));
    }

    #[test]
    fn status_and_reopen_must_not_say_not_running() {
        let running = Some(finished(0, "daemonic: running (pid 42)\n", ""));
        let settled = |command| Observation {
            command: Some(command),
            status: running.clone(),
            stop: Some(finished(0, "", "")),
            ..Observation::default()
        };
        assert_eq!(judge(Scenario::Status, &settled(finished(0, "daemonic: running (pid 42)\n", ""))), Ok(()));
        assert_eq!(judge(Scenario::Status, &settled(finished(4, "daemonic: status unknown: x\n", ""))), Ok(()));
        assert!(judge(Scenario::Status, &settled(finished(3, "daemonic: not running\n", ""))).is_err());
        assert_eq!(judge(Scenario::Reopen, &settled(finished(1, "", "daemonic: cannot signal pid 42: x\n"))), Ok(()));
        assert!(judge(Scenario::Reopen, &settled(finished(7, "daemonic: not running\n", ""))).is_err());
        assert!(judge(Scenario::Stop, &settled(finished(0, "daemonic: stopped\n", ""))).is_err(), "still running");
    }

    #[test]
    fn a_panic_is_a_violation_whatever_the_exit_code() {
        let stderr = "thread 'main' (7) panicked at library/std/src/thread/functions.rs:131:29:\n\
                      failed to spawn thread: Os { code: 11 }\nstack backtrace:\n";
        let seen =
            Observation { command: Some(finished(101, "", stderr)), status: not_running(), ..Observation::default() };
        let reason = judge(Scenario::Stop, &seen).unwrap_err();
        assert_eq!(
            reason,
            "panicked at library/std/src/thread/functions.rs:131:29: failed to spawn thread: Os { code: 11 }"
        );
        assert!(judge(Scenario::Status, &seen).unwrap_err().starts_with("panicked"), "not `says not running`");
    }

    #[test]
    fn helpers() {
        assert_eq!(running_pid("daemonic: running (pid 4242; program pid 4243)\n"), Some(4242));
        assert_eq!(running_pid("daemonic: not running\n"), None);
        assert_eq!(violation_class("left running: 4242 /x/daemonic start"), "left running: N PATH start");
        assert_eq!(violation_class("HANG: stop still running after 10 s"), "HANG: stop still running after N s");
        assert_eq!(
            violation_class("left in TMPDIR: daemonic-notify-14366-7a3aa93b4a73a2e8; exit 101"),
            "left in TMPDIR: daemonic-notify-N-N; exit N"
        );
    }
}
