//! Property tests of the command's parsers of what another process or the caller controls:
//! syslog splitting of PROGRAM's output, notification datagrams, environment files, and every
//! option value (seconds, signals, `--retry` schedules, limits, I/O classes, descriptors,
//! facilities), also through whole `start`/`stop` command lines. `PROPTEST_CASES=N` changes the
//! number of cases.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt as _;
use std::time::Duration;

use proptest::prelude::*;
use rustix::process::Signal;

use crate::env_file;
use crate::limits::{parse_ionice, parse_limit, parse_oom_score_adj};
use crate::notify_socket;
use crate::options::{parse_fd, parse_seconds, parse_signal, signal_name};
use crate::relay::{parse_facility, parse_priority, syslog_messages, syslog_parts, SYSLOG_LINE};
use crate::retry::{Item, Schedule};
use crate::start_options::{self, Command};
use crate::state::{self, State};

/// `cases` cases, unless `PROPTEST_CASES` says otherwise.
fn config(cases: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(cases);
    ProptestConfig::with_cases(cases)
}

/// The longest duration an option takes (`options::LONGEST`).
const YEAR: Duration = Duration::from_secs(366 * 24 * 3600);

/// The signal names `parse_signal` knows, without `SIG`.
const SIGNAL_NAMES: [&str; 15] = [
    "HUP", "INT", "QUIT", "KILL", "USR1", "USR2", "ALRM", "TERM", "CONT", "STOP", "TSTP", "TTIN", "TTOU", "URG",
    "WINCH",
];

/// Mostly short output lines with a few long ones, of one- to four-byte characters, so that
/// lines cross the 960-byte limit and characters cross it.
fn output_text() -> impl Strategy<Value = String> {
    let line = prop_oneof![
        4 => "[a-zé€𝄞 ]{0,40}",
        1 => (prop_oneof![Just("a"), Just("é"), Just("€"), Just("𝄞")], 300usize..1300)
            .prop_map(|(c, n)| c.repeat(n / c.len())),
        1 => proptest::collection::vec(any::<char>(), 0..1500).prop_map(String::from_iter),
    ];
    proptest::collection::vec((line, any::<bool>()), 0..6)
        .prop_map(|lines| lines.into_iter().map(|(line, end)| if end { line + "\n" } else { line }).collect())
}

/// Cuts `bytes` into reads at the given positions (what a pipe may hand the relay).
fn reads<'a>(bytes: &'a [u8], cuts: &[prop::sample::Index]) -> Vec<&'a [u8]> {
    let mut at: Vec<usize> = cuts.iter().map(|cut| cut.index(bytes.len() + 1)).collect();
    at.push(0);
    at.push(bytes.len());
    at.sort_unstable();
    at.windows(2).map(|w| &bytes[w[0]..w[1]]).collect()
}

/// The relay's syslog path for `bytes` arriving in `reads`: the messages, each as its
/// datagram parts, and what is left pending at the end.
fn relay_syslog(reads: &[&[u8]]) -> (Vec<Vec<Vec<u8>>>, Vec<u8>) {
    let mut pending = Vec::new();
    let mut messages = Vec::new();
    for bytes in reads {
        syslog_messages(&mut pending, bytes, |message| {
            messages.push(syslog_parts(message).map(<[u8]>::to_vec).collect());
        });
    }
    (messages, pending)
}

/// Checks the relay's messages against the output: each complete line is one message or
/// several non-empty ones that concatenate to it, the unterminated tail is further messages
/// plus what is pending, and every datagram part is at most 960 bytes, valid UTF-8 when the
/// output is, and concatenates to its message.
fn check_syslog(output: &[u8], messages: &[Vec<Vec<u8>>], pending: &[u8]) -> Result<(), TestCaseError> {
    let utf8 = std::str::from_utf8(output).is_ok();
    let mut joined = Vec::new();
    for parts in messages {
        prop_assert!(!parts.is_empty());
        let message = parts.concat();
        for part in parts {
            prop_assert!(part.len() <= SYSLOG_LINE, "a part of {} bytes", part.len());
            prop_assert!(part.len() == message.len() || !part.is_empty(), "an empty part of a message");
            if utf8 {
                prop_assert!(
                    std::str::from_utf8(part).is_ok(),
                    "a part of {} bytes cuts a character: ...{:?}",
                    part.len(),
                    &part[part.len().saturating_sub(4)..]
                );
            }
        }
        joined.push(message);
    }
    let mut lines: Vec<&[u8]> = output.split(|&b| b == b'\n').collect();
    let tail = lines.pop().unwrap_or_default();
    let mut messages = joined.iter();
    for line in lines {
        let mut got = messages.next().ok_or_else(|| TestCaseError::fail(format!("line {line:?} not sent")))?.clone();
        while got.len() < line.len() {
            let next = messages.next().ok_or_else(|| TestCaseError::fail("a line's end not sent"))?;
            prop_assert!(!next.is_empty(), "an empty message inside a line");
            got.extend_from_slice(next);
        }
        prop_assert_eq!(&got[..], line);
    }
    let mut rest: Vec<u8> = messages.flatten().copied().collect();
    rest.extend_from_slice(pending);
    prop_assert_eq!(&rest[..], tail);
    prop_assert!(pending.len() <= SYSLOG_LINE, "{} bytes pending", pending.len());
    Ok(())
}

/// An environment variable's name as the file format takes it.
fn env_name() -> impl Strategy<Value = String> {
    "[A-Za-z_][A-Za-z0-9_]{0,12}"
}

/// One `NAME=VALUE` line that means exactly (name, value), in one of the format's spellings.
fn env_line(name: &str, value: &[u8], style: u8, export: bool) -> Vec<u8> {
    let mut line = Vec::new();
    if export {
        line.extend_from_slice(b"export ");
    }
    line.extend_from_slice(name.as_bytes());
    line.extend_from_slice(if style % 2 == 0 { b"=" } else { b" = " });
    match style % 3 {
        // Single quotes: literal, when the value has none.
        0 if !value.contains(&b'\'') => {
            line.push(b'\'');
            line.extend_from_slice(value);
            line.push(b'\'');
        }
        // Unquoted, every special byte escaped, when the value has no newline (a `\` before a
        // newline continues the line).
        1 if !value.contains(&b'\n') => {
            for &b in value {
                if matches!(b, b'\\' | b'\'' | b'"' | b' ' | b'\t' | b'\r' | b'#' | b';') {
                    line.push(b'\\');
                }
                line.push(b);
            }
        }
        // Double quotes: `\` escapes `"` and `\`.
        _ => {
            line.push(b'"');
            for &b in value {
                if matches!(b, b'"' | b'\\') {
                    line.push(b'\\');
                }
                line.push(b);
            }
            line.push(b'"');
        }
    }
    line
}

/// Option names of `start`, `run` and `restart`, and values that are sometimes valid for
/// them; `--help`, `--quiet` (which print or set global state) and `--env-file` (which reads a
/// file) are left out.
fn start_argument() -> impl Strategy<Value = OsString> {
    const OPTIONS: &[&str] = &[
        "--pidfile",
        "--pidfile-mode",
        "--chdir",
        "--umask",
        "--stdout",
        "--stderr",
        "--append",
        "--user",
        "--group",
        "--listen-fd",
        "--keep-fd",
        "--notify-fd",
        "--notify-await",
        "--notify-timeout",
        "--child-pidfile",
        "--timeout",
        "--restart",
        "--restart-delay",
        "--restart-limit",
        "--no-supervise",
        "--env",
        "--clear-env",
        "--nice",
        "--limit",
        "--ionice",
        "--oom-score-adj",
        "--no-new-privileges",
        "--chroot",
        "--syslog",
        "--syslog-tag",
        "--syslog-facility",
        "--syslog-priority",
        "--syslog-socket",
        "--signal",
        "--kill",
        "--retry",
        "--oknodo",
        "--foreground",
        "--",
        "-x",
        "--bogus",
    ];
    prop_oneof![
        3 => proptest::sample::select(OPTIONS).prop_map(OsString::from),
        1 => "[0-9]{1,3}(:[a-z]{0,4})?".prop_map(OsString::from),
        1 => "[a-z]{1,6}=[0-9a-z:]{0,8}".prop_map(OsString::from),
        1 => "(/[a-z]{1,4}){1,2}".prop_map(OsString::from),
        1 => "[0-9./a-zA-Z-]{0,8}".prop_map(OsString::from),
        1 => proptest::collection::vec(any::<u8>(), 0..12).prop_map(OsString::from_vec),
    ]
}

proptest! {
    #![proptest_config(config(256))]

    /// PROGRAM's output, in reads cut anywhere: syslog gets every byte, line by line, in
    /// datagram parts of at most 960 bytes that never cut a UTF-8 character.
    #[test]
    fn syslog_parts_rebuild_the_output(text in output_text(), cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..8)) {
        let output = text.as_bytes();
        let (messages, pending) = relay_syslog(&reads(output, &cuts));
        check_syslog(output, &messages, &pending)?;
    }

    /// The same for output that is not UTF-8: nothing lost, parts of at most 960 bytes.
    #[test]
    fn syslog_parts_of_any_bytes(output in proptest::collection::vec(any::<u8>(), 0..3000), cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..8)) {
        let (messages, pending) = relay_syslog(&reads(&output, &cuts));
        check_syslog(&output, &messages, &pending)?;
    }

    /// A notification datagram: `READY=1` exactly, the last `STATUS=`, and only the allowed
    /// assignments passed on (never `MAINPID=`, `READY=`, `FDSTORE=`), each a line it sent.
    #[test]
    fn notification_datagrams(lines in proptest::collection::vec(prop_oneof![
        Just("READY=1".to_owned()), Just("READY=0".to_owned()), Just("MAINPID=1".to_owned()),
        Just("FDSTORE=1".to_owned()), "STATUS=[a-z \r]{0,8}", "(WATCHDOG|STOPPING|ERRNO|RELOADING)=[0-9]",
        any::<String>(),
    ], 0..6), crlf in any::<bool>()) {
        let text = lines.join(if crlf { "\r\n" } else { "\n" });
        let message = notify_socket::parse(&text);
        let sent: Vec<&str> = text.lines().collect();
        prop_assert_eq!(message.ready, sent.contains(&"READY=1"));
        let status = sent.iter().rev().find_map(|line| line.strip_prefix("STATUS="));
        prop_assert_eq!(message.status.as_deref(), status);
        const ALLOWED: [&str; 7] =
            ["STATUS=", "RELOADING=", "STOPPING=", "WATCHDOG=", "ERRNO=", "EXTEND_TIMEOUT_USEC=", "MONOTONIC_USEC="];
        let expected: Vec<&str> =
            sent.iter().copied().filter(|line| ALLOWED.iter().any(|prefix| line.starts_with(prefix))).collect();
        prop_assert_eq!(message.passed_on, expected.join("\n"));
    }

    /// Variables written in any of the file format's spellings (quotes, escapes, `export`,
    /// comments, blank lines, CRLF) read back as they were.
    #[test]
    fn env_file_pairs_survive(
        pairs in proptest::collection::vec((env_name(), proptest::collection::vec(1u8..=255, 0..20), any::<u8>(), any::<bool>()), 0..6),
        comments in proptest::collection::vec(any::<bool>(), 6),
        crlf in any::<bool>(),
    ) {
        let mut file = Vec::new();
        for ((name, value, style, export), comment) in pairs.iter().zip(comments.iter().chain(std::iter::repeat(&false))) {
            if *comment {
                file.extend_from_slice(b"# a comment = 'x\n\n ; another\n");
            }
            file.extend_from_slice(&env_line(name, value, *style, *export));
            file.extend_from_slice(if crlf { b"\r\n" } else { b"\n" });
        }
        let read = env_file::parse(&file).map_err(|(line, why)| TestCaseError::fail(format!("line {line}: {why}: {:?}", String::from_utf8_lossy(&file))))?;
        let written: Vec<(OsString, OsString)> =
            pairs.iter().map(|(name, value, ..)| (OsString::from(name), OsString::from_vec(value.clone()))).collect();
        prop_assert_eq!(read, written, "{:?}", String::from_utf8_lossy(&file));
    }

    /// Any bytes as an environment file: no panic; variables have valid names and no NUL; an
    /// error names a line of the file.
    #[test]
    fn env_file_of_any_bytes(file in proptest::collection::vec(any::<u16>(), 0..200).prop_map(|draws| {
        // Any byte, and the format's special ones more often.
        draws.into_iter().map(|draw| match draw % 10 {
            0 => b'\n', 1 => b'=', 2 => b'"', 3 => b'\'', 4 => b'\\', _ => (draw >> 8) as u8,
        }).collect::<Vec<u8>>()
    })) {
        match env_file::parse(&file) {
            Ok(vars) => {
                for (name, value) in vars {
                    let (name, value) = (name.into_vec(), value.into_vec());
                    prop_assert!(!name.is_empty() && !name[0].is_ascii_digit(), "{:?}", name);
                    prop_assert!(name.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_'), "{:?}", name);
                    prop_assert!(!value.contains(&0));
                }
            }
            Err((line, _)) => {
                let lines = file.iter().filter(|&&b| b == b'\n').count() + 1;
                prop_assert!((1..=lines).contains(&line), "line {} of {}", line, lines);
            }
        }
    }

    /// Seconds: any text gives a duration from 0 to a year or an error; a number of
    /// milliseconds written as seconds reads back.
    #[test]
    fn seconds(text in any::<String>(), millis in 0..=YEAR.as_millis() as u64) {
        if let Ok(duration) = parse_seconds(&text, "--timeout") {
            prop_assert!(duration <= YEAR);
        }
        let duration = Duration::from_millis(millis);
        let read = parse_seconds(&duration.as_secs_f64().to_string(), "--timeout").unwrap();
        prop_assert!(read.abs_diff(duration) < Duration::from_micros(1), "{:?} read as {:?}", duration, read);
        let read = parse_seconds(&format!("{}.{:03}", millis / 1000, millis % 1000), "--timeout").unwrap();
        prop_assert!(read.abs_diff(duration) < Duration::from_micros(1), "{:?} read as {:?}", duration, read);
    }

    /// Signals: every name in any case, with or without `SIG`, and every number the platform
    /// names; what `signal_name` prints reads back; anything else is an error, not a panic.
    #[test]
    fn signals(text in any::<String>(), index in 0..SIGNAL_NAMES.len(), prefix in any::<bool>(), lower in any::<bool>(), number in any::<i32>()) {
        let _ = parse_signal(&text, "--signal");
        let name = format!("{}{}", if prefix { "SIG" } else { "" }, SIGNAL_NAMES[index]);
        let name = if lower { name.to_ascii_lowercase() } else { name };
        let signal = parse_signal(&name, "--signal").unwrap();
        prop_assert_eq!(parse_signal(&signal_name(signal.as_raw()), "--signal"), Ok(signal));
        prop_assert_eq!(parse_signal(&number.to_string(), "--signal").ok(), Signal::from_named_raw(number));
    }

    /// A schedule with any signal given by number prints (`describe`) as one that reads back.
    #[test]
    fn retry_schedules_by_number(number in 1..=64i32, wait in 1..100u64) {
        let Ok(schedule) = Schedule::parse(&format!("-{number}/{wait}"), Signal::TERM) else { return Ok(()) };
        prop_assert_eq!(Schedule::parse(&schedule.describe(), Signal::TERM), Ok(schedule));
    }

    /// `--retry`: any text gives a schedule that ends or waits while it repeats, or an error;
    /// a schedule printed in a message (`describe`) reads back as the same schedule.
    #[test]
    fn retry_schedules(
        text in "[A-Za-z0-9./-]{0,24}|(TERM|KILL|-9|forever|[0-9.]{1,4}|x)(/(TERM|HUP|-1|forever|[0-9.]{1,4}|x)){0,5}",
        items in proptest::collection::vec(prop_oneof![
            (0..SIGNAL_NAMES.len()).prop_map(|i| Item::Signal(parse_signal(SIGNAL_NAMES[i], "").unwrap())),
            (0..=YEAR.as_millis() as u64).prop_map(|ms| Item::Wait(Duration::from_millis(ms))),
        ], 2..6),
        forever in proptest::option::of(any::<prop::sample::Index>()),
    ) {
        if let Ok(schedule) = Schedule::parse(&text, Signal::TERM) {
            prop_assert!(schedule.items.len() >= 2);
            if let Some(at) = schedule.repeat {
                prop_assert!(schedule.items[at..].iter().any(|item| matches!(item, Item::Wait(d) if !d.is_zero())));
            }
            prop_assert!(schedule.items.iter().all(|item| matches!(item, Item::Signal(_)) || matches!(item, Item::Wait(d) if *d <= YEAR)));
        }
        let repeat = forever.map(|at| at.index(items.len()));
        let schedule = Schedule { items, repeat };
        let repeats_a_wait = repeat.is_none_or(|at| schedule.items[at..].iter().any(|i| matches!(i, Item::Wait(d) if !d.is_zero())));
        match Schedule::parse(&schedule.describe(), Signal::TERM) {
            Ok(read) => {
                prop_assert!(repeats_a_wait);
                prop_assert_eq!(read.repeat, schedule.repeat);
                prop_assert_eq!(read.items.len(), schedule.items.len());
                for (read, written) in read.items.iter().zip(&schedule.items) {
                    match (read, written) {
                        (Item::Wait(a), Item::Wait(b)) => prop_assert!(a.abs_diff(*b) < Duration::from_micros(1)),
                        (a, b) => prop_assert_eq!(a, b),
                    }
                }
            }
            Err(why) => prop_assert!(!repeats_a_wait, "{}: {}", schedule.describe(), why),
        }
    }

    /// `--limit`: any text is a limit whose soft value is within the hard one, or an error;
    /// `NAME=SOFT:HARD` reads back.
    #[test]
    fn limits(text in "[a-zA-Z_]{0,12}=?[0-9a-z:]{0,24}", any_text in any::<String>(), soft in proptest::option::of(any::<u64>()), hard in proptest::option::of(any::<u64>())) {
        if let Ok(limit) = parse_limit(&text) {
            if let (Some(soft), Some(hard)) = (limit.soft, limit.hard) {
                prop_assert!(soft <= hard);
            }
            prop_assert!(!(limit.soft.is_none() && limit.hard.is_some()));
        }
        let _ = parse_limit(&any_text);
        let show = |v: Option<u64>| v.map_or("unlimited".to_owned(), |v| v.to_string());
        let read = parse_limit(&format!("NOFILE={}:{}", show(soft), show(hard)));
        let valid = match (soft, hard) {
            (Some(soft), Some(hard)) => soft <= hard,
            (None, Some(_)) => false,
            _ => true,
        };
        match read {
            Ok(limit) => {
                prop_assert!(valid);
                prop_assert_eq!((limit.name, limit.soft, limit.hard), ("nofile", soft, hard));
            }
            Err(_) => prop_assert!(!valid),
        }
    }

    /// The other option values: any text is a value in range or an error, never a panic.
    #[test]
    fn other_option_values(text in any::<String>(), n in any::<i64>()) {
        for text in [text.as_str(), &n.to_string()] {
            if let Ok(fd) = parse_fd(text, "--keep-fd") {
                prop_assert!(fd >= 3);
            }
            if cfg!(target_os = "linux") {
                if let Ok(priority) = parse_ionice(text) {
                    prop_assert!((1..=3).contains(&priority.class) && priority.level <= 7);
                }
                if let Ok(score) = parse_oom_score_adj(text) {
                    prop_assert!((-1000..=1000).contains(&score));
                }
            }
            if let Some(facility) = parse_facility(text) {
                prop_assert!(facility <= 23);
            }
            if let Some(priority) = parse_priority(text) {
                prop_assert!(priority <= 7);
            }
        }
        if cfg!(target_os = "linux") {
            prop_assert_eq!(parse_oom_score_adj(&n.to_string()).is_ok(), (-1000..=1000).contains(&n));
        }
        prop_assert_eq!(parse_fd(&n.to_string(), "--keep-fd").ok().map(i64::from), Some(n).filter(|n| (3..=i64::from(i32::MAX)).contains(n)));
    }

    /// Whole `start`, `run` and `restart` command lines: a usage error or arguments that keep
    /// the parser's promises (a PROGRAM, a PID file unless foreground, values in range,
    /// descriptors that do not collide); `stop` likewise. Never a panic.
    #[test]
    fn command_lines(args in proptest::collection::vec(start_argument(), 0..10), program in any::<bool>()) {
        let mut args = args;
        if program {
            args.extend(["--".into(), "prog".into()]);
        }
        for command in [Command::Start, Command::Run, Command::Restart] {
            let Ok(Some(parsed)) = start_options::parse(args.clone(), start_options::USAGE, command) else { continue };
            prop_assert!(!parsed.program.is_empty() || args.iter().any(|a| a.is_empty()));
            prop_assert!(parsed.pidfile.is_some() || parsed.foreground);
            prop_assert!(parsed.umask.is_none_or(|m| m <= 0o777));
            prop_assert!(parsed.pidfile_mode.is_none_or(|m| m <= 0o666 && m & 0o600 == 0o600));
            prop_assert!(parsed.nice.is_none_or(|n| (-20..=19).contains(&n)));
            prop_assert!(parsed.restart_limit.restarts > 0 && !parsed.restart_limit.interval.is_zero());
            prop_assert!(parsed.restart_limit.interval <= YEAR && parsed.timeout <= YEAR && parsed.restart_delay <= YEAR);
            let listened = parsed.listen_fds.len() as i32;
            for (n, (fd, _)) in parsed.listen_fds.iter().enumerate() {
                prop_assert!(*fd >= 3 && parsed.listen_fds[..n].iter().all(|(other, _)| other != fd));
            }
            for fd in parsed.keep_fds.iter().chain(&parsed.notify_fd) {
                prop_assert!(*fd >= 3 + listened && parsed.listen_fds.iter().all(|(listen, _)| listen != fd));
            }
        }
        let _ = crate::stop::parse(args);
    }
}

/// Reads a JSON string literal as `state::json_string` writes them (the escapes it uses).
fn json_unquote(literal: &str) -> Option<String> {
    let mut chars = literal.strip_prefix('"')?.strip_suffix('"')?.chars();
    let mut text = String::new();
    while let Some(c) = chars.next() {
        match c {
            '"' => return None,
            c if (c as u32) < 0x20 => return None,
            '\\' => text.push(match chars.next()? {
                '"' => '"',
                '\\' => '\\',
                'n' => '\n',
                'r' => '\r',
                't' => '\t',
                'u' => char::from_u32(u32::from_str_radix(&chars.by_ref().take(4).collect::<String>(), 16).ok()?)?,
                _ => return None,
            }),
            c => text.push(c),
        }
    }
    Some(text)
}

proptest! {
    #![proptest_config(config(256))]

    /// `--restart-limit N/SECS`: N above 0 and SECS above 0 read back; anything else is a usage
    /// error.
    #[test]
    fn restart_limits(restarts in 0u32..1000, millis in 0u64..100_000_000, text in "[0-9./a-z]{0,10}") {
        let start = |value: String| {
            let args = ["--pidfile", "/run/x.pid", "--restart-limit", &value, "--", "prog"].map(OsString::from).to_vec();
            start_options::parse(args, start_options::USAGE, Command::Start).ok().flatten().map(|parsed| parsed.restart_limit)
        };
        let interval = Duration::from_millis(millis);
        let read = start(format!("{restarts}/{}", interval.as_secs_f64()));
        match read {
            Some(limit) => {
                prop_assert!(restarts > 0 && millis > 0);
                prop_assert_eq!(limit.restarts, restarts);
                prop_assert!(limit.interval.abs_diff(interval) < Duration::from_micros(1));
            }
            None => prop_assert!(restarts == 0 || millis == 0),
        }
        if let Some(limit) = start(text) {
            prop_assert!(limit.restarts > 0 && !limit.interval.is_zero() && limit.interval <= YEAR);
        }
    }

    /// The state record `status` reads beside a PID file: what the supervisor writes reads
    /// back; any text is a state or nothing, never a panic; its times and `--json` strings
    /// print for any value.
    #[test]
    fn state_records(
        pidfile in any::<(u64, u64)>(),
        program in proptest::option::of(any::<u32>()),
        since in proptest::option::of(any::<u64>()),
        restarts in any::<u32>(),
        last in proptest::option::of("[ -~]{0,30}"),
        gave_up in proptest::option::of(any::<u64>()),
        text in "(#[a-z ]{0,5}\n|(pidfile|restarts|program|since|last|gave_up|x)=[0-9:a-z -]{0,12}\n){0,6}",
        any_text in any::<String>(),
    ) {
        let written = State { pidfile, program, since, restarts, last, gave_up };
        prop_assert_eq!(State::decode(&written.encode()), Some(written));
        if let Some(read) = State::decode(&text) {
            prop_assert!(text.contains("pidfile="));
            prop_assert!(read.last.is_none_or(|last| !last.contains('\n')));
        }
        let _ = State::decode(&any_text);
        for seconds in [since.unwrap_or_default(), gave_up.unwrap_or(u64::MAX)] {
            let utc = state::utc(seconds);
            prop_assert!(utc.ends_with(" UTC") && utc.is_ascii(), "{}", utc);
            prop_assert!(!state::duration(seconds).is_empty());
        }
        prop_assert_eq!(json_unquote(&state::json_string(&any_text)), Some(any_text));
    }
}

/// Found by the fuzz target: `signal_name` printed names (`SIGABRT`, `SIGSEGV`, …) that
/// `parse_signal` refused, so `--retry -6/5` was described as `ABRT/5`, which `stop` refused.
#[test]
fn every_printed_signal_name_reads_back() {
    for raw in 1..=64 {
        let name = signal_name(raw);
        if let Some(bare) = name.strip_prefix("SIG") {
            for name in [name.as_str(), bare] {
                assert_eq!(parse_signal(name, "--signal").map(|s| s.as_raw()), Ok(raw), "{name}");
            }
        }
    }
}

/// Found by the property tests: a partial line of exactly 960 bytes ending inside a character
/// was sent whole, the character's other bytes starting the next part (and a line of exactly
/// 960 bytes arriving without its newline became two messages, the second one empty).
#[test]
fn a_partial_line_of_960_bytes_waits_for_more() {
    let line = format!("{}é\n", "a".repeat(SYSLOG_LINE - 1));
    let (first, second) = line.as_bytes().split_at(SYSLOG_LINE);
    let (messages, pending) = relay_syslog(&[first, second]);
    check_syslog(line.as_bytes(), &messages, &pending).unwrap();
    let line = format!("{}\n", "a".repeat(SYSLOG_LINE));
    let (messages, pending) = relay_syslog(&[&line.as_bytes()[..SYSLOG_LINE], b"\n"]);
    assert_eq!(messages, [vec![line.trim_end().as_bytes().to_vec()]]);
    assert!(pending.is_empty());
}
