//! `--retry SCHEDULE` (`stop`, `restart`): start-stop-daemon's stop schedule, and the schedule
//! that `--signal`, `--timeout` and `--kill` stand for.

use std::time::Duration;

use rustix::process::Signal;

use crate::options::{parse_seconds, parse_signal, signal_name};

/// One step of a stop schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Item {
    /// Send this signal (KILL to a supervisor: asked of it first, see `stop.rs`).
    Signal(Signal),
    /// Wait this long for the holder to exit.
    Wait(Duration),
}

/// A stop schedule: `items`, then `items[repeat..]` again and again when `repeat` is set
/// (`forever`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Schedule {
    pub(crate) items: Vec<Item>,
    pub(crate) repeat: Option<usize>,
}

impl Schedule {
    /// `--signal S --timeout T [--kill]`: S, wait T; with `--kill`, KILL and wait
    /// `max(T, 5 s)`.
    pub(crate) fn from_options(signal: Signal, timeout: Duration, kill: bool) -> Schedule {
        let mut items = vec![Item::Signal(signal), Item::Wait(timeout)];
        if kill {
            items.extend([Item::Signal(Signal::KILL), Item::Wait(timeout.max(Duration::from_secs(5)))]);
        }
        Schedule { items, repeat: None }
    }

    /// `--retry VALUE` as start-stop-daemon reads it: a bare timeout `T` is `SIGNAL/T/KILL/T`
    /// (`signal` is `--signal`'s); otherwise at least two items separated by `/`, each a
    /// signal name (`TERM`, `SIGTERM`, `-TERM`), a signal number with a dash (`-9`), a timeout
    /// in seconds, or `forever` (once: repeat what follows it until the holder exits).
    pub(crate) fn parse(value: &str, signal: Signal) -> Result<Schedule, String> {
        let bad = |why: &str| format!("--retry {value:?}: {why}");
        if !value.contains('/') {
            let timeout = parse_seconds(value, "--retry")
                .map_err(|_| bad("expected a timeout in seconds or a schedule such as TERM/30/KILL/5"))?;
            return Ok(Schedule {
                items: vec![Item::Signal(signal), Item::Wait(timeout), Item::Signal(Signal::KILL), Item::Wait(timeout)],
                repeat: None,
            });
        }
        let mut items = Vec::new();
        let mut repeat = None;
        for part in value.split('/') {
            if part == "forever" {
                if repeat.is_some() {
                    return Err(bad("forever appears more than once"));
                }
                repeat = Some(items.len());
            } else if part.starts_with(|c: char| c.is_ascii_digit() || c == '.') {
                items.push(Item::Wait(
                    parse_seconds(part, "--retry").map_err(|_| bad(&format!("{part:?} is not a timeout")))?,
                ));
            } else {
                let name = part.strip_prefix('-').unwrap_or(part);
                items.push(Item::Signal(
                    parse_signal(name, "--retry").map_err(|_| bad(&format!("{part:?} is not a signal")))?,
                ));
            }
        }
        if items.len() < 2 {
            return Err(bad("a schedule needs at least two items, e.g. TERM/30/KILL/5"));
        }
        if repeat == Some(items.len()) {
            return Err(bad("forever must be followed by what to repeat"));
        }
        if let Some(at) = repeat {
            if !items[at..].iter().any(|item| matches!(item, Item::Wait(d) if !d.is_zero())) {
                return Err(bad("what forever repeats must wait a while"));
            }
        }
        Ok(Schedule { items, repeat })
    }

    /// The items in the order they are carried out (endless with `forever`).
    pub(crate) fn steps(&self) -> impl Iterator<Item = Item> + '_ {
        let again = self.repeat.map(|at| &self.items[at..]);
        self.items.iter().copied().chain(again.into_iter().flat_map(|items| items.iter().copied().cycle()))
    }

    /// For messages: `TERM/10/KILL/10`, a signal without a name as its number (`-24`); it
    /// reads back as the same schedule.
    pub(crate) fn describe(&self) -> String {
        let mut parts: Vec<String> = self
            .items
            .iter()
            .map(|item| match item {
                Item::Signal(signal) => match signal_name(signal.as_raw()).strip_prefix("SIG") {
                    Some(name) => name.to_owned(),
                    None => format!("-{}", signal.as_raw()),
                },
                Item::Wait(duration) => duration.as_secs_f64().to_string(),
            })
            .collect();
        if let Some(at) = self.repeat {
            parts.insert(at, "forever".to_owned());
        }
        parts.join("/")
    }
}

/// The stop schedule from `--signal`, `--timeout`, `--kill` and `--retry` (also `restart`'s):
/// `--retry` says when to KILL and how long to wait, so it excludes `--kill` and `--timeout`
/// (`restart` passes no timeout with `--retry`: its `--timeout` is also the new supervisor's,
/// and stays allowed), and a full schedule names its signals, so it excludes `--signal` too.
pub(crate) fn stop_schedule(
    signal: Option<Signal>,
    timeout: Option<Duration>,
    kill: bool,
    retry: Option<&str>,
) -> Result<Schedule, String> {
    let Some(retry) = retry else {
        return Ok(Schedule::from_options(
            signal.unwrap_or(Signal::TERM),
            timeout.unwrap_or(Duration::from_secs(10)),
            kill,
        ));
    };
    if kill {
        return Err("--retry and --kill cannot be combined: the schedule says when to KILL".into());
    }
    if timeout.is_some() {
        return Err("--retry and --timeout cannot be combined: the schedule says how long to wait".into());
    }
    if signal.is_some() && retry.contains('/') {
        return Err("--retry SCHEDULE and --signal cannot be combined: the schedule names its signals".into());
    }
    Schedule::parse(retry, signal.unwrap_or(Signal::TERM))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(n: u64) -> Item {
        Item::Wait(Duration::from_secs(n))
    }

    #[test]
    fn a_bare_timeout_is_signal_timeout_kill_timeout() {
        let schedule = Schedule::parse("30", Signal::INT).unwrap();
        assert_eq!(schedule.items, [Item::Signal(Signal::INT), secs(30), Item::Signal(Signal::KILL), secs(30)]);
        assert_eq!(schedule.repeat, None);
        assert_eq!(schedule.describe(), "INT/30/KILL/30");
    }

    #[test]
    fn signal_names_numbers_and_timeouts() {
        let schedule = Schedule::parse("TERM/30/KILL/5", Signal::TERM).unwrap();
        assert_eq!(schedule.items, [Item::Signal(Signal::TERM), secs(30), Item::Signal(Signal::KILL), secs(5)]);
        let schedule = Schedule::parse("-SIGHUP/0.5/-9/5", Signal::TERM).unwrap();
        assert_eq!(
            schedule.items,
            [Item::Signal(Signal::HUP), Item::Wait(Duration::from_millis(500)), Item::Signal(Signal::KILL), secs(5)]
        );
        assert_eq!(schedule.describe(), "HUP/0.5/KILL/5");
        assert_eq!(schedule.steps().count(), 4, "no forever: the schedule ends");
        // A wait first is allowed, as in start-stop-daemon.
        assert!(Schedule::parse("5/TERM/5", Signal::TERM).is_ok());
    }

    #[test]
    fn forever_repeats_what_follows_it() {
        let schedule = Schedule::parse("TERM/5/forever/KILL/1", Signal::TERM).unwrap();
        assert_eq!(schedule.repeat, Some(2));
        let steps: Vec<Item> = schedule.steps().take(8).collect();
        assert_eq!(
            steps,
            [
                Item::Signal(Signal::TERM),
                secs(5),
                Item::Signal(Signal::KILL),
                secs(1),
                Item::Signal(Signal::KILL),
                secs(1),
                Item::Signal(Signal::KILL),
                secs(1)
            ]
        );
        assert_eq!(schedule.describe(), "TERM/5/forever/KILL/1");
    }

    #[test]
    fn bad_schedules_are_refused() {
        for bad in [
            "",
            "TERM",
            "TERM/",
            "/5",
            "TERM/x",
            "BOGUS/5",
            "TERM/5/forever",
            "forever/TERM/5/forever/5",
            "x",
            "TERM/-1.5",
        ] {
            assert!(Schedule::parse(bad, Signal::TERM).is_err(), "{bad:?}");
        }
        assert!(Schedule::parse("TERM/forever/TERM/0", Signal::TERM).is_err(), "an endless loop without a wait");
    }

    #[test]
    fn the_options_make_the_same_schedule() {
        let schedule = Schedule::from_options(Signal::TERM, Duration::from_secs(2), true);
        assert_eq!(schedule.items, [Item::Signal(Signal::TERM), secs(2), Item::Signal(Signal::KILL), secs(5)]);
        assert_eq!(Schedule::from_options(Signal::HUP, Duration::from_secs(9), false).describe(), "HUP/9");
    }

    #[test]
    fn retry_excludes_the_options_it_replaces() {
        let ten = Some(Duration::from_secs(10));
        assert_eq!(stop_schedule(None, None, false, None), Ok(Schedule::from_options(Signal::TERM, secs_d(10), false)));
        assert_eq!(
            stop_schedule(Some(Signal::HUP), Some(secs_d(3)), true, None),
            Ok(Schedule::from_options(Signal::HUP, secs_d(3), true))
        );
        assert_eq!(
            stop_schedule(None, None, true, Some("TERM/5")),
            Err("--retry and --kill cannot be combined: the schedule says when to KILL".into())
        );
        assert_eq!(
            stop_schedule(None, ten, false, Some("TERM/5")),
            Err("--retry and --timeout cannot be combined: the schedule says how long to wait".into())
        );
        assert_eq!(
            stop_schedule(Some(Signal::HUP), None, false, Some("TERM/5")),
            Err("--retry SCHEDULE and --signal cannot be combined: the schedule names its signals".into())
        );
        // A bare timeout takes --signal's signal.
        assert_eq!(stop_schedule(Some(Signal::HUP), None, false, Some("3")).unwrap().describe(), "HUP/3/KILL/3");
        assert_eq!(stop_schedule(None, None, false, Some("3")).unwrap().describe(), "TERM/3/KILL/3");
        assert_eq!(stop_schedule(None, None, false, Some("INT/3")).unwrap().describe(), "INT/3");
        assert!(stop_schedule(None, None, false, Some("x")).is_err());
    }

    fn secs_d(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn refusals_say_why() {
        let why = |value: &str| Schedule::parse(value, Signal::TERM).unwrap_err();
        assert_eq!(why("x"), "--retry \"x\": expected a timeout in seconds or a schedule such as TERM/30/KILL/5");
        assert_eq!(why("TERM/x"), "--retry \"TERM/x\": \"x\" is not a signal");
        assert_eq!(why("TERM/5x"), "--retry \"TERM/5x\": \"5x\" is not a timeout");
        assert_eq!(why("TERM/.x"), "--retry \"TERM/.x\": \".x\" is not a timeout");
        assert_eq!(
            why("TERM/forever/5/forever/5"),
            "--retry \"TERM/forever/5/forever/5\": forever appears more than once"
        );
        assert_eq!(
            why("forever/TERM"),
            "--retry \"forever/TERM\": a schedule needs at least two items, e.g. TERM/30/KILL/5"
        );
        assert_eq!(why("TERM/5/forever"), "--retry \"TERM/5/forever\": forever must be followed by what to repeat");
        assert_eq!(why("TERM/5/forever/HUP"), "--retry \"TERM/5/forever/HUP\": what forever repeats must wait a while");
        // A wait before forever does not count for what it repeats.
        assert!(Schedule::parse("TERM/5/forever/HUP/0", Signal::TERM).is_err());
        assert!(Schedule::parse("TERM/forever/HUP/0/1", Signal::TERM).is_ok());
    }

    #[test]
    fn forever_at_the_start_repeats_everything() {
        let schedule = Schedule::parse("forever/TERM/0.5", Signal::TERM).unwrap();
        assert_eq!(schedule.repeat, Some(0));
        assert_eq!(schedule.describe(), "forever/TERM/0.5");
        let steps: Vec<Item> = schedule.steps().take(5).collect();
        let half = Item::Wait(Duration::from_millis(500));
        assert_eq!(
            steps,
            [Item::Signal(Signal::TERM), half, Item::Signal(Signal::TERM), half, Item::Signal(Signal::TERM)]
        );
        // Numbered signals are named in messages; other signals by their number.
        assert_eq!(Schedule::parse("-1/1/-5/1", Signal::TERM).unwrap().describe(), "HUP/1/-5/1");
    }
}
