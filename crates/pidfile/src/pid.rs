//! The [`Pid`] type and the strict parser shared by [`Pid::from_str`] and
//! [`read_pid`](crate::read_pid).

use std::fmt;
use std::num::NonZeroU32;
use std::str::FromStr;

/// A valid process id: an integer in `1..=i32::MAX`.
///
/// A `Pid` can never be `0` or negative, so the process-group and broadcast forms of
/// `kill(2)` (`kill(0, sig)`, `kill(-1, sig)`) cannot be reached through this crate, whatever a
/// PID file contains.
///
/// # Examples
///
/// ```
/// use pidfile::Pid;
///
/// let pid: Pid = "1234\n".parse()?;
/// assert_eq!(pid.get(), 1234);
/// assert_eq!(Pid::new(0), None);
/// assert!("-1".parse::<Pid>().is_err());
/// assert!(Pid::current().get() > 0);
/// # Ok::<(), pidfile::ParsePidError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Pid(NonZeroU32);

impl Pid {
    /// The largest process id any Unix kernel hands out (`pid_t` is a signed 32-bit integer).
    pub const MAX: u32 = i32::MAX as u32;

    /// Returns `Some(pid)` if `raw` is in `1..=i32::MAX`, else `None`.
    ///
    /// # Examples
    ///
    /// ```
    /// use pidfile::Pid;
    ///
    /// assert_eq!(Pid::new(42).map(Pid::get), Some(42));
    /// assert_eq!(Pid::new(0), None);
    /// assert_eq!(Pid::new(1 << 31), None);
    /// ```
    pub const fn new(raw: u32) -> Option<Pid> {
        if raw > Self::MAX {
            return None;
        }
        match NonZeroU32::new(raw) {
            Some(raw) => Some(Pid(raw)),
            None => None,
        }
    }

    /// `getpid()` — the id of the calling process.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(pidfile::Pid::current().get(), std::process::id());
    /// ```
    ///
    /// # References
    ///  - [POSIX](https://pubs.opengroup.org/onlinepubs/9799919799/functions/getpid.html)
    ///  - [Linux](https://man7.org/linux/man-pages/man2/getpid.2.html)
    #[doc(alias = "getpid")]
    pub fn current() -> Pid {
        Pid::from_rustix(rustix::process::getpid())
    }

    /// The process id as an integer, always in `1..=i32::MAX`.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(pidfile::Pid::new(7).unwrap().get(), 7);
    /// ```
    pub const fn get(self) -> u32 {
        self.0.get()
    }

    pub(crate) fn from_rustix(pid: rustix::process::Pid) -> Pid {
        // A kernel-provided pid is positive, so this never falls back; `Pid::MAX` keeps the
        // invariant without a panic path.
        Pid::new(pid.as_raw_nonzero().get().unsigned_abs()).unwrap_or(Pid(NonZeroU32::MIN))
    }

    pub(crate) fn to_rustix(self) -> rustix::process::Pid {
        // `self.get()` is in 1..=i32::MAX, which is exactly what rustix accepts.
        match rustix::process::Pid::from_raw(self.get() as i32) {
            Some(pid) => pid,
            None => unreachable!("Pid invariant: 1..=i32::MAX"),
        }
    }
}

impl fmt::Display for Pid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl TryFrom<u32> for Pid {
    type Error = ParsePidError;

    /// Fails for `0` and for values above `i32::MAX`.
    fn try_from(raw: u32) -> Result<Pid, ParsePidError> {
        match raw {
            0 => Err(ParsePidError::new(ParsePidErrorKind::Zero)),
            raw => Pid::new(raw).ok_or(ParsePidError::new(ParsePidErrorKind::TooLarge)),
        }
    }
}

impl From<Pid> for u32 {
    fn from(pid: Pid) -> u32 {
        pid.get()
    }
}

impl FromStr for Pid {
    type Err = ParsePidError;

    /// Parses a PID the way PID files are read: ASCII decimal digits, optionally surrounded by
    /// ASCII spaces or tabs and ended by one `\n` (or `\r\n`).
    ///
    /// Rejected: empty input, `0`, signs, `0x` prefixes, exponents, non-ASCII digits, several
    /// numbers or lines, NUL bytes, and values above `i32::MAX`.
    fn from_str(s: &str) -> Result<Pid, ParsePidError> {
        parse_pid(s.as_bytes())
    }
}

/// Why a string is not a valid [`Pid`].
///
/// # Examples
///
/// ```
/// use pidfile::{ParsePidErrorKind, Pid};
///
/// let err = "0x10".parse::<Pid>().unwrap_err();
/// assert_eq!(err.kind(), ParsePidErrorKind::InvalidDigit);
/// assert_eq!(err.to_string(), "not a decimal process id");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParsePidError {
    kind: ParsePidErrorKind,
}

/// The reason carried by a [`ParsePidError`].
///
/// # Examples
///
/// ```
/// use pidfile::{ParsePidErrorKind, Pid};
///
/// assert_eq!("".parse::<Pid>().unwrap_err().kind(), ParsePidErrorKind::Empty);
/// assert_eq!("2147483648".parse::<Pid>().unwrap_err().kind(), ParsePidErrorKind::TooLarge);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ParsePidErrorKind {
    /// Nothing but whitespace.
    Empty,
    /// A byte other than an ASCII digit (signs, `0x`, exponents, Unicode digits, NUL, a second
    /// number or line).
    InvalidDigit,
    /// The value `0`, which names the caller's process group, not a process.
    Zero,
    /// A value above `i32::MAX`.
    TooLarge,
    /// More bytes than any PID file holds ([`MAX_PID_FILE_LEN`](crate::MAX_PID_FILE_LEN)); the
    /// rest was not read.
    TooLong,
}

impl ParsePidError {
    pub(crate) const fn new(kind: ParsePidErrorKind) -> ParsePidError {
        ParsePidError { kind }
    }

    /// What was wrong with the input.
    ///
    /// # Examples
    ///
    /// ```
    /// use pidfile::{ParsePidErrorKind, Pid};
    ///
    /// assert_eq!("0".parse::<Pid>().unwrap_err().kind(), ParsePidErrorKind::Zero);
    /// ```
    pub const fn kind(&self) -> ParsePidErrorKind {
        self.kind
    }
}

impl fmt::Display for ParsePidError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.kind {
            ParsePidErrorKind::Empty => "empty, no process id",
            ParsePidErrorKind::InvalidDigit => "not a decimal process id",
            ParsePidErrorKind::Zero => "0 is not a process id",
            ParsePidErrorKind::TooLarge => "process id out of range (largest is 2147483647)",
            ParsePidErrorKind::TooLong => "too long to be a PID file",
        })
    }
}

impl std::error::Error for ParsePidError {}

fn trim_blanks(mut bytes: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = bytes {
        bytes = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = bytes {
        bytes = rest;
    }
    bytes
}

/// The single parser behind `Pid::from_str`, `read_pid` and every PID-file read.
pub(crate) fn parse_pid(bytes: &[u8]) -> Result<Pid, ParsePidError> {
    if bytes.len() > crate::MAX_PID_FILE_LEN {
        return Err(ParsePidError::new(ParsePidErrorKind::TooLong));
    }
    let bytes = trim_blanks(bytes);
    let bytes = match bytes.strip_suffix(b"\n") {
        Some(line) => line.strip_suffix(b"\r").unwrap_or(line),
        None => bytes,
    };
    let digits = trim_blanks(bytes);
    if digits.is_empty() {
        return Err(ParsePidError::new(ParsePidErrorKind::Empty));
    }
    let mut value: u32 = 0;
    for &byte in digits {
        if !byte.is_ascii_digit() {
            return Err(ParsePidError::new(ParsePidErrorKind::InvalidDigit));
        }
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(u32::from(byte - b'0')))
            .filter(|&v| v <= Pid::MAX)
            .ok_or(ParsePidError::new(ParsePidErrorKind::TooLarge))?;
    }
    Pid::try_from(value)
}

/// A short, escaped excerpt of a file's bytes for error messages.
pub(crate) fn excerpt(bytes: &[u8]) -> String {
    const SHOWN: usize = 32;
    let mut out: String = bytes.iter().take(SHOWN).flat_map(|b| b.escape_ascii()).map(char::from).collect();
    if bytes.len() > SHOWN {
        out.push_str("...");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(s: &[u8]) -> ParsePidErrorKind {
        parse_pid(s).unwrap_err().kind()
    }

    #[test]
    fn accepts_plain_and_line_forms() {
        for (input, want) in [
            (&b"1"[..], 1),
            (b"1234\n", 1234),
            (b"1234\r\n", 1234),
            (b"  1234  \n", 1234),
            (b"\t77\t", 77),
            (b"1234 \n ", 1234),
            (b"007", 7),
            (b"2147483647", 2_147_483_647),
        ] {
            assert_eq!(parse_pid(input).map(Pid::get), Ok(want), "{input:?}");
        }
    }

    #[test]
    fn rejects_everything_else() {
        use ParsePidErrorKind::*;
        let cases: &[(&[u8], ParsePidErrorKind)] = &[
            (b"", Empty),
            (b"   ", Empty),
            (b"\n", Empty),
            (b"0", Zero),
            (b"000\n", Zero),
            (b"-1", InvalidDigit),
            (b"+1", InvalidDigit),
            (b"1e3", InvalidDigit),
            (b"0x10", InvalidDigit),
            ("٣".as_bytes(), InvalidDigit),
            ("１２".as_bytes(), InvalidDigit),
            (b"12\n34", InvalidDigit),
            (b"12 34", InvalidDigit),
            (b"12\n\n", InvalidDigit),
            (b"12\0", InvalidDigit),
            (b"\r12", InvalidDigit),
            (b"12\r", InvalidDigit),
            (b"2147483648", TooLarge),
            (b"4294967301", TooLarge),
            (b"99999999999999999999", TooLarge),
        ];
        for &(input, want) in cases {
            assert_eq!(kind(input), want, "{input:?}");
        }
        assert_eq!(kind(&[b'1'; crate::MAX_PID_FILE_LEN + 1]), TooLong);
    }

    /// The length limit is `MAX_PID_FILE_LEN` bytes, not one less: a pid padded with blanks to
    /// exactly the limit is still read, one byte more is `TooLong` whatever it holds.
    #[test]
    fn the_length_limit_is_exact() {
        let mut padded = vec![b' '; crate::MAX_PID_FILE_LEN - 3];
        padded.extend_from_slice(b"42\n");
        assert_eq!(padded.len(), crate::MAX_PID_FILE_LEN);
        assert_eq!(parse_pid(&padded).map(Pid::get), Ok(42));
        padded.insert(0, b' ');
        assert_eq!(kind(&padded), ParsePidErrorKind::TooLong);
    }

    #[test]
    fn conversions_keep_the_range() {
        assert_eq!(Pid::try_from(0).unwrap_err().kind(), ParsePidErrorKind::Zero);
        assert_eq!(Pid::try_from(Pid::MAX + 1).unwrap_err().kind(), ParsePidErrorKind::TooLarge);
        assert_eq!(u32::from(Pid::try_from(9).unwrap()), 9);
        assert_eq!(Pid::new(Pid::MAX).unwrap().to_rustix().as_raw_nonzero().get(), i32::MAX);
        assert_eq!(Pid::from_rustix(rustix::process::getpid()), Pid::current());
    }

    #[test]
    fn errors_say_what_is_wrong() {
        use ParsePidErrorKind::*;
        for (kind, text) in [
            (Empty, "empty, no process id"),
            (InvalidDigit, "not a decimal process id"),
            (Zero, "0 is not a process id"),
            (TooLarge, "process id out of range (largest is 2147483647)"),
            (TooLong, "too long to be a PID file"),
        ] {
            assert_eq!(ParsePidError::new(kind).to_string(), text);
        }
    }

    #[test]
    fn excerpt_escapes_and_truncates() {
        assert_eq!(excerpt(b"12\0\n"), "12\\x00\\n");
        assert_eq!(excerpt(&[b'9'; 40]), format!("{}...", "9".repeat(32)));
        // Exactly the 32 bytes shown: nothing was left out, so no "...".
        assert_eq!(excerpt(&[b'9'; 32]), "9".repeat(32));
        assert_eq!(excerpt(&[b'9'; 33]), format!("{}...", "9".repeat(32)));
    }
}
