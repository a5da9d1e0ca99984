//! Property tests of everything the crate reads from a file another process could have
//! written: `Pid::from_str` and `read_pid` (DESIGN rule 7), and what a PID file's content
//! makes of `pidfile_is_stale`, `running_pid` and `inspect`.
//!
//! Public API and this package's dev-dependencies only, so they run from the packaged crate.
//! `PROPTEST_CASES=N` changes the number of cases of every property (a few hundred by default:
//! the whole file runs in well under a second).

use std::str::FromStr;

use pidfile::{ParsePidErrorKind, Pid, PidFile, PidFileError, MAX_PID_FILE_LEN};
use proptest::prelude::*;

/// `cases` cases, unless `PROPTEST_CASES` says otherwise.
fn config(cases: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(cases);
    ProptestConfig::with_cases(cases)
}

/// Every valid pid, with short ones as likely as long ones (a uniform draw from
/// `1..=i32::MAX` is almost always ten digits).
fn any_pid() -> impl Strategy<Value = Pid> {
    (1u32..=10)
        .prop_flat_map(|digits| {
            let low = 10u32.pow(digits - 1);
            let high = 10u64.pow(digits).min(u64::from(Pid::MAX) + 1) as u32 - 1;
            low..=high
        })
        .prop_map(|n| Pid::new(n).expect("in range"))
}

/// Blanks as `Pid::from_str` tolerates them around the number: spaces and tabs.
fn blanks() -> impl Strategy<Value = String> {
    proptest::collection::vec(prop_oneof![Just(' '), Just('\t')], 0..4).prop_map(String::from_iter)
}

/// What `read_pid`'s error shows of the content: the first 32 bytes, escaped.
fn excerpt(bytes: &[u8]) -> String {
    let mut shown: String = bytes.iter().take(32).flat_map(|b| b.escape_ascii()).map(char::from).collect();
    if bytes.len() > 32 {
        shown.push_str("...");
    }
    shown
}

proptest! {
    #![proptest_config(config(512))]

    /// `Display` then `FromStr` gives the same pid back, and `Display` is plain decimal.
    #[test]
    fn pid_display_parse_round_trip(pid in any_pid()) {
        let text = pid.to_string();
        prop_assert_eq!(&text, &pid.get().to_string());
        prop_assert_eq!(text.parse::<Pid>(), Ok(pid));
        prop_assert_eq!(format!("{pid}\n").parse::<Pid>(), Ok(pid), "what PidFile writes");
    }

    /// `Pid::new`, `TryFrom<u32>` and `get` agree on the range `1..=i32::MAX`.
    #[test]
    fn pid_range(raw in any::<u32>()) {
        let valid = (1..=Pid::MAX).contains(&raw);
        prop_assert_eq!(Pid::new(raw).is_some(), valid);
        prop_assert_eq!(Pid::try_from(raw).ok(), Pid::new(raw));
        if let Some(pid) = Pid::new(raw) {
            prop_assert_eq!(pid.get(), raw);
            prop_assert_eq!(u32::from(pid), raw);
        }
    }

    /// Every form rule 7 tolerates parses to the number: blanks around it, leading zeros, one
    /// `\n` or `\r\n`; beyond `MAX_PID_FILE_LEN` bytes, nothing is.
    #[test]
    fn tolerated_forms_parse(
        pid in any_pid(),
        before in blanks(),
        zeros in 0usize..4,
        after in blanks(),
        ending in prop_oneof![Just(""), Just("\n"), Just("\r\n")],
        last in blanks(),
        padding in 0usize..60,
    ) {
        let text = format!("{before}{}{pid}{after}{ending}{last}", "0".repeat(zeros));
        prop_assert_eq!(text.parse::<Pid>(), Ok(pid), "{:?}", text);
        let long = format!("{}{text}", " ".repeat(padding));
        let parsed = long.parse::<Pid>();
        if long.len() > MAX_PID_FILE_LEN {
            prop_assert_eq!(parsed.map_err(|e| e.kind()), Err(ParsePidErrorKind::TooLong));
        } else {
            prop_assert_eq!(parsed, Ok(pid));
        }
    }

    /// A value above `i32::MAX` is `TooLarge`, however many digits, never wrapped around.
    #[test]
    fn out_of_range_is_too_large(raw in u64::from(Pid::MAX) + 1..=u64::MAX, zeros in 0usize..4) {
        let text = format!("{}{raw}", "0".repeat(zeros));
        prop_assert_eq!(text.parse::<Pid>().map_err(|e| e.kind()), Err(ParsePidErrorKind::TooLarge));
    }

    /// Zero in any spelling is `Zero`, never the caller's process group.
    #[test]
    fn zero_is_refused(zeros in 1usize..20, before in blanks(), after in blanks()) {
        let text = format!("{before}{}{after}\n", "0".repeat(zeros));
        prop_assert_eq!(text.parse::<Pid>().map_err(|e| e.kind()), Err(ParsePidErrorKind::Zero));
    }

    /// A sign, a prefix, a second number, or any other character inside the number is refused.
    #[test]
    fn a_foreign_character_is_refused(
        pid in any_pid(),
        at in any::<prop::sample::Index>(),
        foreign in any::<char>().prop_filter("not a digit or a blank", |c| !c.is_ascii_digit() && !matches!(c, ' ' | '\t')),
    ) {
        let digits = pid.to_string();
        for text in [format!("{foreign}{digits}"), format!("{digits}{foreign}1")] {
            prop_assert!(text.parse::<Pid>().is_err(), "{:?} parsed", text);
        }
        if digits.len() >= 2 {
            let at = 1 + at.index(digits.len() - 1);
            let text = format!("{}{foreign}{}", &digits[..at], &digits[at..]);
            prop_assert!(text.parse::<Pid>().is_err(), "{:?} parsed", text);
        }
    }

    /// Any string: no panic, and a pid only when the text is one decimal number (digits in one
    /// run, blanks, at most one line end) whose value it is.
    #[test]
    fn any_text_is_one_number_or_an_error(text in any::<String>(), tail in "[0-9 \t\r\n]{0,12}") {
        for text in [text.clone(), format!("{text}{tail}"), tail.clone()] {
            let Ok(pid) = text.parse::<Pid>() else { continue };
            prop_assert!(text.len() <= MAX_PID_FILE_LEN);
            prop_assert!(text.bytes().all(|b| b.is_ascii_digit() || b" \t\r\n".contains(&b)), "{:?}", text);
            prop_assert!(text.matches('\n').count() <= 1, "{:?}", text);
            let number = text.trim_matches(|c: char| c.is_ascii_whitespace());
            prop_assert!(number.bytes().all(|b| b.is_ascii_digit()), "one run of digits: {:?}", text);
            prop_assert_eq!(number.trim_start_matches('0'), pid.to_string());
        }
    }
}

proptest! {
    // Each case makes files: fewer of them.
    #![proptest_config(config(128))]

    /// What the guard writes reads back, also after a shorter pid replaced a longer one (the
    /// file is truncated, not overwritten in place).
    #[test]
    fn written_pids_read_back(first in any_pid(), second in any_pid()) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.pid");
        let mut guard = PidFile::create_with_pid(&path, first).unwrap();
        prop_assert_eq!(pidfile::read_pid(&path).unwrap(), first);
        prop_assert_eq!(std::fs::read(&path).unwrap(), format!("{first}\n").into_bytes());
        guard.write_pid(second).unwrap();
        prop_assert_eq!(pidfile::read_pid(&path).unwrap(), second);
        prop_assert_eq!(std::fs::read(&path).unwrap(), format!("{second}\n").into_bytes());
        guard.remove().unwrap();
        prop_assert!(!path.exists());
    }

    /// `read_pid` of any content: the same answer as `Pid::from_str` of the same text; an error
    /// is `Malformed`, names the path and shows at most 32 bytes of the content, escaped (no
    /// control character reaches a terminal).
    #[test]
    fn read_pid_of_any_content(content in proptest::collection::vec(any::<u8>(), 0..100), pid in any_pid()) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.pid");
        for content in [content.clone(), format!("{pid}\n").into_bytes()] {
            std::fs::write(&path, &content).unwrap();
            let parsed = std::str::from_utf8(&content).ok().and_then(|text| Pid::from_str(text).ok());
            match pidfile::read_pid(&path) {
                Ok(read) => prop_assert_eq!(Some(read), parsed),
                Err(PidFileError::Malformed { path: named, content: shown, source }) => {
                    prop_assert_eq!(parsed, None);
                    prop_assert_eq!(&named, &path);
                    prop_assert_eq!(&shown, &excerpt(&content));
                    prop_assert!(shown.bytes().all(|b| b.is_ascii_graphic() || b == b' '), "{:?}", shown);
                    if content.len() > MAX_PID_FILE_LEN {
                        prop_assert_eq!(source.kind(), ParsePidErrorKind::TooLong);
                    }
                }
                Err(other) => prop_assert!(false, "{other}"),
            }
        }
    }

    /// An unlocked file that names no pid is stale whatever it holds, has no running holder,
    /// and is not modified by being looked at.
    #[test]
    fn content_without_a_pid_is_stale(content in proptest::collection::vec(any::<u8>(), 0..100)) {
        let names_a_pid = std::str::from_utf8(&content).is_ok_and(|text| text.parse::<Pid>().is_ok());
        prop_assume!(!names_a_pid);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.pid");
        std::fs::write(&path, &content).unwrap();
        prop_assert!(pidfile::pidfile_is_stale(&path).unwrap());
        prop_assert_eq!(pidfile::running_pid(&path).unwrap(), None);
        let inspection = pidfile::inspect(&path).unwrap().expect("the file exists");
        prop_assert!(inspection.is_stale() && !inspection.is_locked());
        prop_assert_eq!(inspection.pid(), None);
        prop_assert_eq!(std::fs::read(&path).unwrap(), content);
    }
}
