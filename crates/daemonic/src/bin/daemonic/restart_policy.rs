//! `--restart`, `--restart-delay` and `--restart-limit`: how one run of PROGRAM ended, and
//! what the supervisor does then: exit with its status, restart it after a delay that doubles
//! after each quick failure, or give up after too many restarts in too short a time. Decisions
//! only: the supervisor (`supervise.rs`) waits, logs and records them.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use rustix::process::WaitStatus;

use crate::options::signal_name;
use crate::start_options::{Restart, RestartLimit};

/// The longest delay the backoff reaches (unless `--restart-delay` is longer).
const LONGEST_BACKOFF: Duration = Duration::from_secs(60);

/// How one run of PROGRAM ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ended {
    /// It exited with this status.
    Exited(i32),
    /// A signal (this number) ended it.
    Killed(i32),
    /// A wait status that is neither (not reported for a process that ended).
    Other,
    /// `fork` or `exec` failed (a restart after PROGRAM was removed, say).
    NotExecuted,
}

impl From<WaitStatus> for Ended {
    fn from(status: WaitStatus) -> Ended {
        match (status.exit_status(), status.terminating_signal()) {
            (Some(code), _) => Ended::Exited(code),
            (None, Some(signal)) => Ended::Killed(signal),
            _ => Ended::Other,
        }
    }
}

impl Ended {
    /// What `--restart on-failure` restarts after: a non-zero status, a signal, no `exec`.
    pub(crate) fn failed(self) -> bool {
        self != Ended::Exited(0)
    }

    /// The supervisor's exit code for it: the exit status, or 128 + the signal as a shell does.
    pub(crate) fn code(self) -> u8 {
        match self {
            Ended::Exited(code) => code as u8,
            Ended::Killed(signal) => (128 + signal) as u8,
            Ended::Other => 1,
            Ended::NotExecuted => 127,
        }
    }

    /// For the supervisor's lines: `exited with status 3`, `was killed by SIGSEGV`.
    pub(crate) fn describe(self) -> String {
        match self {
            Ended::Exited(code) => format!("exited with status {code}"),
            Ended::Killed(signal) => format!("was killed by {}", signal_name(signal)),
            Ended::Other => "ended".to_owned(),
            Ended::NotExecuted => "could not be executed".to_owned(),
        }
    }

    /// For the state record and `status`: `exit status 3`, `signal SIGSEGV`.
    pub(crate) fn summary(self) -> String {
        match self {
            Ended::Exited(code) => format!("exit status {code}"),
            Ended::Killed(signal) => format!("signal {}", signal_name(signal)),
            Ended::Other => "ended".to_owned(),
            Ended::NotExecuted => "not executed".to_owned(),
        }
    }
}

/// What the supervisor does after PROGRAM ended by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    /// No restart (the policy says no): exit with this code.
    Exit(u8),
    /// `restarts` restarts within the limit's interval already: give up, exit with this code
    /// (never 0: a service that gave up failed).
    GiveUp { code: u8, restarts: usize },
    /// Start it again after `delay`; this is restart number `nth` within the interval.
    Restart { delay: Duration, nth: usize },
}

/// The restart policy, and the restarts it made.
#[derive(Debug)]
pub(crate) struct Restarts {
    when: Restart,
    limit: RestartLimit,
    /// `--restart-delay`: the first delay, and the one after a run as long as the interval.
    first_delay: Duration,
    /// The next delay.
    delay: Duration,
    /// When each restart within the last interval was decided.
    recent: VecDeque<Instant>,
}

impl Restarts {
    pub(crate) fn new(when: Restart, limit: RestartLimit, first_delay: Duration) -> Restarts {
        Restarts { when, limit, first_delay, delay: first_delay, recent: VecDeque::new() }
    }

    /// After a run of PROGRAM that lasted `ran_for` and ended `ended`, at `now`: exit, give
    /// up, or restart after how long. A run as long as the limit's interval resets the delay
    /// to `--restart-delay`; otherwise each restart doubles it, up to a minute (or
    /// `--restart-delay`, if longer).
    pub(crate) fn decide(&mut self, ended: Ended, ran_for: Duration, now: Instant) -> Decision {
        let restart = match self.when {
            Restart::No => false,
            Restart::OnFailure => ended.failed(),
            Restart::Always => true,
        };
        if !restart {
            return Decision::Exit(ended.code());
        }
        if ran_for >= self.limit.interval {
            self.delay = self.first_delay;
        }
        while self.recent.front().is_some_and(|at| now.duration_since(*at) >= self.limit.interval) {
            self.recent.pop_front();
        }
        if self.recent.len() >= self.limit.restarts as usize {
            let code = match ended.code() {
                0 => 1,
                code => code,
            };
            return Decision::GiveUp { code, restarts: self.recent.len() };
        }
        self.recent.push_back(now);
        let delay = self.delay;
        self.delay = (delay * 2).min(LONGEST_BACKOFF.max(self.first_delay));
        Decision::Restart { delay, nth: self.recent.len() }
    }
}

/// `1 time`, `3 times`.
pub(crate) fn times(count: usize) -> String {
    if count == 1 {
        "1 time".to_owned()
    } else {
        format!("{count} times")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(restarts: u32, interval: u64) -> RestartLimit {
        RestartLimit { restarts, interval: Duration::from_secs(interval) }
    }

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    /// A real process's wait status: `sh -c SCRIPT` spawned (never forked in the harness),
    /// then reaped by `waitpid`.
    fn wait_status(script: &str) -> WaitStatus {
        #[allow(clippy::zombie_processes)] // reaped by `waitpid`, which gives the wait status
        let child = std::process::Command::new("sh").args(["-c", script]).spawn().unwrap();
        let pid = rustix::process::Pid::from_raw(child.id() as i32).unwrap();
        rustix::process::waitpid(Some(pid), rustix::process::WaitOptions::empty()).unwrap().unwrap().1
    }

    #[test]
    fn how_a_run_ended_is_read_from_its_wait_status() {
        assert_eq!(Ended::from(wait_status("exit 0")), Ended::Exited(0));
        assert_eq!(Ended::from(wait_status("exit 3")), Ended::Exited(3));
        assert_eq!(Ended::from(wait_status("kill -SEGV $$")), Ended::Killed(libc::SIGSEGV));
    }

    #[test]
    fn exit_codes_statuses_and_signals() {
        assert_eq!(Ended::Exited(0).code(), 0);
        assert_eq!(Ended::Exited(3).code(), 3);
        assert_eq!(Ended::Killed(libc::SIGKILL).code(), 137);
        assert_eq!(Ended::Killed(libc::SIGTERM).code(), 143);
        assert_eq!(Ended::Other.code(), 1);
        assert_eq!(Ended::NotExecuted.code(), 127);
        assert!(!Ended::Exited(0).failed());
        for failed in [Ended::Exited(1), Ended::Killed(libc::SIGTERM), Ended::Other, Ended::NotExecuted] {
            assert!(failed.failed(), "{failed:?}");
        }
    }

    #[test]
    fn how_a_run_ended_is_told() {
        assert_eq!(Ended::Exited(3).describe(), "exited with status 3");
        assert_eq!(Ended::Killed(libc::SIGSEGV).describe(), "was killed by SIGSEGV");
        assert_eq!(Ended::Other.describe(), "ended");
        assert_eq!(Ended::NotExecuted.describe(), "could not be executed");
        assert_eq!(Ended::Exited(3).summary(), "exit status 3");
        assert_eq!(Ended::Killed(libc::SIGSEGV).summary(), "signal SIGSEGV");
        assert_eq!(Ended::Other.summary(), "ended");
        assert_eq!(Ended::NotExecuted.summary(), "not executed");
        assert_eq!(times(1), "1 time");
        assert_eq!(times(0), "0 times");
        assert_eq!(times(3), "3 times");
    }

    #[test]
    fn the_policy_says_when_to_restart() {
        let now = Instant::now();
        let mut no = Restarts::new(Restart::No, limit(5, 60), secs(1));
        assert_eq!(no.decide(Ended::Exited(3), secs(0), now), Decision::Exit(3));
        assert_eq!(no.decide(Ended::Killed(libc::SIGKILL), secs(0), now), Decision::Exit(137));
        let mut on_failure = Restarts::new(Restart::OnFailure, limit(5, 60), secs(1));
        assert_eq!(on_failure.decide(Ended::Exited(0), secs(0), now), Decision::Exit(0));
        assert_eq!(on_failure.decide(Ended::Exited(2), secs(0), now), Decision::Restart { delay: secs(1), nth: 1 });
        assert_eq!(on_failure.decide(Ended::NotExecuted, secs(0), now), Decision::Restart { delay: secs(2), nth: 2 });
        let mut always = Restarts::new(Restart::Always, limit(5, 60), secs(1));
        assert_eq!(always.decide(Ended::Exited(0), secs(0), now), Decision::Restart { delay: secs(1), nth: 1 });
    }

    #[test]
    fn quick_failures_double_the_delay_up_to_a_minute() {
        let start = Instant::now();
        let mut restarts = Restarts::new(Restart::Always, limit(100, 1000), secs(1));
        let delays: Vec<u64> = (0..9)
            .map(|i| match restarts.decide(Ended::Exited(1), secs(1), start + secs(i)) {
                Decision::Restart { delay, nth } => {
                    assert_eq!(nth, i as usize + 1);
                    delay.as_secs()
                }
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
        // A longer --restart-delay is the ceiling itself.
        let mut slow = Restarts::new(Restart::Always, limit(100, 1000), secs(90));
        assert_eq!(slow.decide(Ended::Exited(1), secs(0), start), Decision::Restart { delay: secs(90), nth: 1 });
        assert_eq!(slow.decide(Ended::Exited(1), secs(0), start), Decision::Restart { delay: secs(90), nth: 2 });
    }

    #[test]
    fn a_run_as_long_as_the_interval_resets_the_delay() {
        let start = Instant::now();
        let mut restarts = Restarts::new(Restart::Always, limit(100, 10), secs(1));
        for expected in [1, 2, 4] {
            assert!(matches!(
                restarts.decide(Ended::Exited(1), secs(9), start),
                Decision::Restart { delay, .. } if delay == secs(expected)
            ));
        }
        assert!(matches!(
            restarts.decide(Ended::Exited(1), secs(10), start),
            Decision::Restart { delay, .. } if delay == secs(1)
        ));
        assert!(matches!(
            restarts.decide(Ended::Exited(1), secs(0), start),
            Decision::Restart { delay, .. } if delay == secs(2)
        ));
    }

    #[test]
    fn too_many_restarts_within_the_interval_give_up() {
        let start = Instant::now();
        let mut restarts = Restarts::new(Restart::Always, limit(2, 10), secs(1));
        assert!(matches!(restarts.decide(Ended::Exited(0), secs(0), start), Decision::Restart { nth: 1, .. }));
        assert!(matches!(
            restarts.decide(Ended::Exited(0), secs(0), start + secs(1)),
            Decision::Restart { nth: 2, .. }
        ));
        // The third within 10 s: given up, and never with exit code 0.
        assert_eq!(
            restarts.decide(Ended::Exited(0), secs(0), start + secs(2)),
            Decision::GiveUp { code: 1, restarts: 2 }
        );
        assert_eq!(
            restarts.decide(Ended::Exited(4), secs(0), start + secs(2)),
            Decision::GiveUp { code: 4, restarts: 2 }
        );
        // Exactly 10 s after the first, it no longer counts; 11 s after, neither does the second.
        assert!(matches!(
            restarts.decide(Ended::Exited(1), secs(0), start + secs(10)),
            Decision::Restart { nth: 2, .. }
        ));
        assert!(matches!(
            restarts.decide(Ended::Exited(1), secs(0), start + secs(19)),
            Decision::Restart { nth: 2, .. }
        ));
        assert!(matches!(
            restarts.decide(Ended::Exited(1), secs(0), start + secs(19)),
            Decision::GiveUp { restarts: 2, .. }
        ));
    }
}
