//! The service's state record: what the supervisor writes next to its PID file (`FILE.state`)
//! so that `status` can tell running, stopped and failed apart, and say how PROGRAM has fared:
//! its pid, since when it runs, how often it was restarted, how it last ended, and, after
//! `--restart` gave up, when. Written the way the tree record is (`files::WrittenFile` in the
//! PID file's directory, through its descriptor), believed only when `files::read_own` trusts
//! it and it names the PID file's inode.

use std::io;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::files::{read_beside, write_beside, OwnFile, WrittenFile};

/// The record's suffix, after the PID file's name.
const SUFFIX: &str = ".state";

/// What the supervisor records about PROGRAM.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct State {
    /// The PID file's (device, inode).
    pub(crate) pidfile: (u64, u64),
    /// PROGRAM's pid while it runs.
    pub(crate) program: Option<u32>,
    /// When PROGRAM (its current run) started, in seconds since the epoch.
    pub(crate) since: Option<u64>,
    /// Restarts so far.
    pub(crate) restarts: u32,
    /// How PROGRAM last ended: `exit status 3`, `killed by SIGSEGV`.
    pub(crate) last: Option<String>,
    /// When `--restart` gave up, in seconds since the epoch.
    pub(crate) gave_up: Option<u64>,
}

/// Where the record of the PID file at `pidfile` is.
pub(crate) fn path(pidfile: &std::path::Path) -> std::path::PathBuf {
    crate::files::with_suffix(pidfile, SUFFIX)
}

/// Now, in seconds since the epoch.
pub(crate) fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl State {
    /// Writes it next to the PID file, in the directory `pidfile` keeps open.
    pub(crate) fn write(&self, pidfile: &pidfile::PidFile) -> io::Result<WrittenFile> {
        write_beside(pidfile, SUFFIX, self.encode().as_bytes())
    }

    /// The record next to the PID file whose directory is `dir`, if there is one to believe for
    /// the PID file `identity`; with the file, to remove it.
    pub(crate) fn read(dir: &pidfile::ParentDir, identity: (u64, u64)) -> Option<(State, OwnFile)> {
        let file = read_beside(dir, SUFFIX, 1024)?;
        let state = State::decode(std::str::from_utf8(&file.content).ok()?)?;
        (state.pidfile == identity).then_some((state, file))
    }

    pub(crate) fn encode(&self) -> String {
        let mut text = String::from("# daemonic: the state of the service whose PID file is beside this one\n");
        text.push_str(&format!("pidfile={}:{}\nrestarts={}\n", self.pidfile.0, self.pidfile.1, self.restarts));
        if let Some(program) = self.program {
            text.push_str(&format!("program={program}\n"));
        }
        if let Some(since) = self.since {
            text.push_str(&format!("since={since}\n"));
        }
        if let Some(last) = &self.last {
            text.push_str(&format!("last={}\n", last.replace('\n', " ")));
        }
        if let Some(at) = self.gave_up {
            text.push_str(&format!("gave_up={at}\n"));
        }
        text
    }

    pub(crate) fn decode(text: &str) -> Option<State> {
        let mut state = State::default();
        let mut pidfile = None;
        for line in text.lines().filter(|line| !line.starts_with('#')) {
            let (key, value) = line.split_once('=')?;
            match key {
                "pidfile" => {
                    let (dev, ino) = value.split_once(':')?;
                    pidfile = Some((dev.parse().ok()?, ino.parse().ok()?));
                }
                "restarts" => state.restarts = value.parse().ok()?,
                "program" => state.program = Some(value.parse().ok()?),
                "since" => state.since = Some(value.parse().ok()?),
                "last" => state.last = Some(value.to_owned()),
                "gave_up" => state.gave_up = Some(value.parse().ok()?),
                _ => {}
            }
        }
        state.pidfile = pidfile?;
        Some(state)
    }
}

/// `2026-12-02 12:50:03 UTC` for seconds since the epoch (the proleptic Gregorian calendar).
pub(crate) fn utc(seconds: u64) -> String {
    let days = (seconds / 86_400) as i64;
    let rest = seconds % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC", rest / 3600, rest % 3600 / 60, rest % 60)
}

/// `3d4h`, `1h2m3s`, `42s`.
pub(crate) fn duration(seconds: u64) -> String {
    let (d, h, m, s) = (seconds / 86_400, seconds % 86_400 / 3600, seconds % 3600 / 60, seconds % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) => format!("{m}m{s}s"),
        (0, _, _) => format!("{h}h{m}m{s}s"),
        _ => format!("{d}d{h}h"),
    }
}

/// A JSON string literal: `"` and `\` escaped, control characters as `\uXXXX`.
pub(crate) fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_survives_encoding() {
        let state = State {
            pidfile: (1, 2),
            program: Some(42),
            since: Some(1_700_000_000),
            restarts: 3,
            last: Some("exit status 3".into()),
            gave_up: Some(1_700_000_100),
        };
        assert_eq!(State::decode(&state.encode()), Some(state));
        assert_eq!(State::decode("restarts=1\n"), None, "no PID file identity");
        assert_eq!(State::decode("pidfile=1:2\nrestarts=x\n"), None);
    }

    #[test]
    fn times_and_durations() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(1_709_210_096), "2024-02-29 12:34:56 UTC");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(duration(42), "42s");
        assert_eq!(duration(3723), "1h2m3s");
        assert_eq!(duration(3 * 86_400 + 4 * 3600 + 5), "3d4h");
    }

    #[test]
    fn json_strings_are_escaped() {
        assert_eq!(json_string("a\"b\\c\nd\u{1}é"), "\"a\\\"b\\\\c\\nd\\u0001é\"");
    }

    #[test]
    fn the_record_as_written() {
        let state = State {
            pidfile: (8, 9),
            program: Some(42),
            since: Some(100),
            restarts: 2,
            last: Some("exit status 3\nsecond line".into()),
            gave_up: Some(200),
        };
        assert_eq!(
            state.encode(),
            "# daemonic: the state of the service whose PID file is beside this one\n\
             pidfile=8:9\nrestarts=2\nprogram=42\nsince=100\nlast=exit status 3 second line\ngave_up=200\n"
        );
        let bare = State { pidfile: (1, 2), ..State::default() };
        assert_eq!(bare.encode().lines().skip(1).collect::<Vec<_>>(), ["pidfile=1:2", "restarts=0"]);
        assert_eq!(State::decode(&bare.encode()), Some(bare));
    }

    #[test]
    fn only_a_whole_record_is_believed() {
        let decoded = State::decode("#x=y\npidfile=3:4\nfuture=1\nlast=a=b\nrestarts=7\n").unwrap();
        assert_eq!(decoded, State { pidfile: (3, 4), restarts: 7, last: Some("a=b".into()), ..State::default() });
        for bad in [
            "pidfile=3:4\nno equals sign\n",
            "pidfile=3\n",
            "pidfile=x:4\n",
            "pidfile=3:y\n",
            "pidfile=3:4\nprogram=p\n",
            "pidfile=3:4\nsince=-1\n",
            "pidfile=3:4\ngave_up=later\n",
            "",
        ] {
            assert_eq!(State::decode(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn written_beside_the_pid_file_and_read_back_for_that_file_only() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile_path = dir.path().join("app.pid");
        let pidfile = pidfile::PidFile::create(&pidfile_path).unwrap();
        assert_eq!(path(&pidfile_path), dir.path().join("app.pid.state"));
        let identity = crate::tree::identity(&pidfile).unwrap();
        let state = State { pidfile: identity, program: Some(7), restarts: 1, ..State::default() };
        let written = state.write(&pidfile).unwrap();
        let on_disk = std::fs::read_to_string(dir.path().join("app.pid.state")).unwrap();
        assert!(on_disk.contains("program=7\n"), "{on_disk}");
        let parent = pidfile::ParentDir::open(&pidfile_path).unwrap();
        let (read, _file) = State::read(&parent, identity).unwrap();
        assert_eq!(read, state);
        assert!(State::read(&parent, (identity.0, identity.1 + 1)).is_none(), "another PID file's record");
        drop(written);
        assert!(State::read(&parent, identity).is_none(), "removed with its file");
        pidfile.remove().unwrap();
    }

    #[test]
    fn dates_across_months_years_and_centuries() {
        assert_eq!(utc(86_399), "1970-01-01 23:59:59 UTC");
        assert_eq!(utc(86_400), "1970-01-02 00:00:00 UTC");
        assert_eq!(utc(2_678_400), "1970-02-01 00:00:00 UTC");
        assert_eq!(utc(5_097_600), "1970-03-01 00:00:00 UTC");
        assert_eq!(utc(946_684_799), "1999-12-31 23:59:59 UTC");
        assert_eq!(utc(1_709_251_199), "2024-02-29 23:59:59 UTC");
        assert_eq!(utc(1_709_251_200), "2024-03-01 00:00:00 UTC");
        assert_eq!(utc(1_798_761_599), "2026-12-31 23:59:59 UTC");
        assert_eq!(utc(4_107_542_400), "2100-03-01 00:00:00 UTC", "2100 is not a leap year");
        assert_eq!(utc(4_107_542_399), "2100-02-28 23:59:59 UTC");
        assert_eq!(utc(13_574_563_200), "2400-02-29 00:00:00 UTC", "2400 is");
        assert_eq!(utc(1_785_001_385), "2026-07-25 17:43:05 UTC");
        assert!(now() > 1_700_000_000, "now is after 2023");
    }

    #[test]
    fn every_kind_of_duration() {
        assert_eq!(duration(0), "0s");
        assert_eq!(duration(59), "59s");
        assert_eq!(duration(60), "1m0s");
        assert_eq!(duration(3599), "59m59s");
        assert_eq!(duration(3600), "1h0m0s");
        assert_eq!(duration(86_399), "23h59m59s");
        assert_eq!(duration(86_400), "1d0h");
        assert_eq!(duration(90_061), "1d1h");
    }

    #[test]
    fn every_json_escape() {
        assert_eq!(json_string(""), "\"\"");
        assert_eq!(json_string("\r\t\u{1f}\u{7f} ~"), "\"\\r\\t\\u001f\\u007f ~\"");
    }
}
