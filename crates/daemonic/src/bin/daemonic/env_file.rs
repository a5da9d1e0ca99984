//! `--env-file FILE`: variables for PROGRAM from a file, as systemd's `EnvironmentFile=` reads
//! it — the way to give PROGRAM secrets, which `--env NAME=VALUE` would show to every local
//! user in the supervisor's command line (`/proc/PID/cmdline`, `ps`).

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt as _;
use std::path::Path;

use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;

use crate::report::{errno_message, os_message};

/// The largest file read (a secret store, not a database).
const LONGEST: usize = 1 << 20;

/// Reads `path`, refusing a file that anyone but root or the caller could have written: it
/// must be a regular file with one link, owned by root or the caller, writable by neither its
/// group nor others; the path is walked with `pidfile::ParentDir` (no symbolic link another
/// user could have planted), and the file opened without following a link.
pub(crate) fn read(path: &Path) -> Result<Vec<(OsString, OsString)>, String> {
    let what = |why: String| format!("--env-file {}: {why}", path.display());
    let parent = pidfile::ParentDir::open(path).map_err(|e| what(os_message(&e)))?;
    let fd = rustix::fs::openat(
        &parent,
        parent.name(),
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC | OFlags::NOCTTY,
        Mode::empty(),
    )
    .map_err(|e| match e {
        Errno::LOOP | Errno::MLINK => what("a symbolic link; refused".into()),
        e => what(errno_message(e)),
    })?;
    let stat = rustix::fs::fstat(&fd).map_err(|e| what(errno_message(e)))?;
    #[allow(clippy::unnecessary_cast)] // `mode_t`/`nlink_t` differ per platform.
    let (mode, links) = (stat.st_mode as u32, stat.st_nlink as u64);
    if rustix::fs::FileType::from_raw_mode(mode as _) != rustix::fs::FileType::RegularFile {
        return Err(what("not a regular file".into()));
    }
    if links != 1 {
        return Err(what("hard-linked; refused".into()));
    }
    let me = rustix::process::geteuid().as_raw();
    if stat.st_uid != 0 && stat.st_uid != me {
        return Err(what(format!("owned by uid {}, neither root nor the caller; refused", stat.st_uid)));
    }
    if mode & 0o022 != 0 {
        return Err(what(format!("writable by its group or others (mode {:o}); refused", mode & 0o777)));
    }
    let mut content = vec![0u8; LONGEST + 1];
    let mut len = 0;
    while len < content.len() {
        match rustix::io::read(&fd, &mut content[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(Errno::INTR) => {}
            Err(e) => return Err(what(errno_message(e))),
        }
    }
    if len > LONGEST {
        return Err(what("longer than 1 MiB".into()));
    }
    content.truncate(len);
    parse(&content).map_err(|(line, why)| what(format!("line {line}: {why}")))
}

/// systemd's `EnvironmentFile=` format: `NAME=VALUE` lines; blank lines and lines starting with
/// `#` or `;` are ignored; an optional `export ` before the name; whitespace around the name and
/// before the value is dropped; a value in single quotes is literal, in double quotes `\` escapes
/// the next character; unquoted, trailing whitespace is dropped and `\` escapes the next
/// character (at the end of a line: the value goes on on the next). Quoted values may span
/// lines. An error names the line.
pub(crate) fn parse(content: &[u8]) -> Result<Vec<(OsString, OsString)>, (usize, String)> {
    let mut vars = Vec::new();
    let mut line_number = 1;
    let mut rest = content;
    while !rest.is_empty() {
        let start_line = line_number;
        // Leading whitespace, then a comment or a blank line.
        let skipped = rest.iter().take_while(|b| matches!(b, b' ' | b'\t' | b'\r')).count();
        rest = &rest[skipped..];
        match rest.first() {
            None => break,
            Some(b'\n') => {
                rest = &rest[1..];
                line_number += 1;
                continue;
            }
            Some(b'#' | b';') => {
                let end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
                rest = &rest[(end + 1).min(rest.len())..];
                line_number += 1;
                continue;
            }
            Some(_) => {}
        }
        if let Some(after) = rest.strip_prefix(b"export").filter(|a| matches!(a.first(), Some(b' ' | b'\t'))) {
            rest = after.trim_ascii_start();
        }
        let name_len = rest.iter().take_while(|&&b| b.is_ascii_alphanumeric() || b == b'_').count();
        let name = &rest[..name_len];
        if name.is_empty() || name[0].is_ascii_digit() {
            return Err((start_line, "expected NAME=VALUE (a name of letters, digits and _)".into()));
        }
        rest = &rest[name_len..];
        let spaces = rest.iter().take_while(|b| matches!(b, b' ' | b'\t')).count();
        rest = &rest[spaces..];
        if rest.first() != Some(&b'=') {
            return Err((start_line, "expected NAME=VALUE".into()));
        }
        rest = &rest[1..];
        let spaces = rest.iter().take_while(|b| matches!(b, b' ' | b'\t')).count();
        rest = &rest[spaces..];
        let mut value = Vec::new();
        // Unquoted text after the last quoted part, whose trailing whitespace is dropped.
        let mut unquoted_end = 0;
        loop {
            match rest.first() {
                None => break,
                Some(b'\n') => {
                    rest = &rest[1..];
                    line_number += 1;
                    break;
                }
                Some(b'\r') if rest.get(1) == Some(&b'\n') => {
                    rest = &rest[2..];
                    line_number += 1;
                    break;
                }
                Some(b'\'') => {
                    let end = rest[1..]
                        .iter()
                        .position(|&b| b == b'\'')
                        .ok_or((start_line, "an unterminated ' quote".to_owned()))?;
                    line_number += rest[1..1 + end].iter().filter(|&&b| b == b'\n').count();
                    value.extend_from_slice(&rest[1..1 + end]);
                    rest = &rest[end + 2..];
                    unquoted_end = value.len();
                }
                Some(b'"') => {
                    rest = &rest[1..];
                    loop {
                        match rest.first() {
                            None => return Err((start_line, "an unterminated \" quote".into())),
                            Some(b'"') => {
                                rest = &rest[1..];
                                break;
                            }
                            Some(b'\\') if rest.len() >= 2 => {
                                if rest[1] == b'\n' {
                                    line_number += 1;
                                } else {
                                    value.push(rest[1]);
                                }
                                rest = &rest[2..];
                            }
                            Some(&b) => {
                                if b == b'\n' {
                                    line_number += 1;
                                }
                                value.push(b);
                                rest = &rest[1..];
                            }
                        }
                    }
                    unquoted_end = value.len();
                }
                Some(b'\\') if rest.len() >= 2 => {
                    if rest[1] == b'\n' {
                        line_number += 1;
                    } else {
                        value.push(rest[1]);
                        unquoted_end = value.len();
                    }
                    rest = &rest[2..];
                }
                Some(&b) => {
                    value.push(b);
                    if !matches!(b, b' ' | b'\t' | b'\r') {
                        unquoted_end = value.len();
                    }
                    rest = &rest[1..];
                }
            }
        }
        value.truncate(unquoted_end);
        if value.contains(&0) || name.contains(&0) {
            return Err((start_line, "a NUL byte".into()));
        }
        vars.push((OsString::from_vec(name.to_vec()), OsString::from_vec(value)));
    }
    Ok(vars)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(text: &str) -> Vec<(String, String)> {
        parse(text.as_bytes())
            .unwrap()
            .into_iter()
            .map(|(n, v)| (n.into_string().unwrap(), v.into_string().unwrap()))
            .collect()
    }

    fn pair(name: &str, value: &str) -> (String, String) {
        (name.to_owned(), value.to_owned())
    }

    #[test]
    fn the_systemd_environment_file_format() {
        let text = "# a comment\n; another\n\nA=1\n  export B = two words  \nC='single $quoted \\n'\nD=\"double \\\"q\\\" \\\\ x\"\nE=\nF=a\\\nb\nG=\"multi\nline\"\r\nH=x # not a comment\n";
        assert_eq!(
            pairs(text),
            [
                pair("A", "1"),
                pair("B", "two words"),
                pair("C", "single $quoted \\n"),
                pair("D", "double \"q\" \\ x"),
                pair("E", ""),
                pair("F", "ab"),
                pair("G", "multi\nline"),
                pair("H", "x # not a comment"),
            ]
        );
        assert_eq!(pairs("exportX=1"), [pair("exportX", "1")]);
        assert_eq!(pairs("K=v"), [pair("K", "v")], "no final newline");
    }

    #[test]
    fn errors_name_the_line() {
        assert_eq!(parse(b"A=1\nnot a pair\n").unwrap_err().0, 2);
        assert_eq!(parse(b"A=1\n\nB='open\n").unwrap_err().0, 3);
        assert_eq!(parse(b"1A=x").unwrap_err().0, 1);
        assert_eq!(parse(b"A=\"x\ny\"\nB").unwrap_err().0, 3);
    }

    #[test]
    fn comments_blanks_and_whitespace() {
        assert_eq!(pairs("  # indented comment\n\t; too\n \t \r\nA=1"), [pair("A", "1")]);
        assert_eq!(pairs("#last comment without newline"), []);
        assert_eq!(pairs("A=1\n#c\nB=2\n"), [pair("A", "1"), pair("B", "2")]);
        assert_eq!(pairs("export\tA=1\nexport  B=2"), [pair("A", "1"), pair("B", "2")]);
        assert_eq!(pairs("A\t=\t x\t \r\n"), [pair("A", "x")]);
        assert_eq!(pairs("A=x\r\nB=y\r\n"), [pair("A", "x"), pair("B", "y")]);
        assert_eq!(pairs("A=a\rb\r\n"), [pair("A", "a\rb")], "a carriage return alone ends no line");
        assert_eq!(pairs("A=a b\tc  \n"), [pair("A", "a b\tc")]);
        assert_eq!(pairs("A_1=v\n_B=w\nz9=q"), [pair("A_1", "v"), pair("_B", "w"), pair("z9", "q")]);
        assert_eq!(pairs("A=\\ x\\ "), [pair("A", " x ")], "escaped spaces are kept");
        assert_eq!(pairs("A=' x ' "), [pair("A", " x ")], "quoted spaces are kept, trailing ones not");
        assert_eq!(pairs("A=\" y \"z "), [pair("A", " y z")]);
        assert_eq!(pairs("A='a\nb'\nB=2"), [pair("A", "a\nb"), pair("B", "2")]);
        assert_eq!(pairs("A=\"a\\\nb\"\nB=2"), [pair("A", "ab"), pair("B", "2")]);
        assert_eq!(pairs("A=x\\"), [pair("A", "x\\")], "a lone backslash at the end");
        assert_eq!(pairs("A=\"x\\\"\""), [pair("A", "x\"")]);
    }

    #[test]
    fn line_numbers_count_every_kind_of_line() {
        // Comments, blank lines, continuations and quoted newlines all count.
        assert_eq!(parse(b"#c\n;c\n\nA=1\n!").unwrap_err().0, 5);
        assert_eq!(parse(b"A=a\\\nb\nB=\"x\ny\"\nC='p\nq'\n-").unwrap_err().0, 7);
        assert_eq!(parse(b"A=\"a\\\nb\"\n-").unwrap_err().0, 3);
        assert_eq!(parse(b"A=1\r\n-").unwrap_err().0, 2);
        assert_eq!(parse(b"A=1\nB=\"open").unwrap_err(), (2, "an unterminated \" quote".into()));
        assert_eq!(parse(b"A='open").unwrap_err(), (1, "an unterminated ' quote".into()));
        assert_eq!(parse(b"A=\"x\\").unwrap_err(), (1, "an unterminated \" quote".into()), "a backslash last");
        assert_eq!(parse(b"A='a\n'\n-").unwrap_err().0, 3, "a newline just before the closing quote counts");
        assert_eq!(parse(b"A=\"\\\"").unwrap_err(), (1, "an unterminated \" quote".into()), "an escaped quote");
        assert_eq!(parse(b"A 1").unwrap_err(), (1, "expected NAME=VALUE".into()));
        assert_eq!(parse(b"=1").unwrap_err(), (1, "expected NAME=VALUE (a name of letters, digits and _)".into()));
        assert_eq!(parse(b"A=a\0b").unwrap_err(), (1, "a NUL byte".into()));
        assert_eq!(parse(b"A=1\nB='\0'").unwrap_err(), (2, "a NUL byte".into()));
    }

    fn write(dir: &Path, name: &str, content: &[u8], mode: u32) -> std::path::PathBuf {
        use std::os::unix::fs::PermissionsExt as _;
        let path = dir.join(name);
        std::fs::write(&path, content).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        path
    }

    fn read_err(path: &Path) -> String {
        let message = read(path).unwrap_err();
        let prefix = format!("--env-file {}: ", path.display());
        assert!(message.starts_with(&prefix), "{message}");
        message[prefix.len()..].to_owned()
    }

    #[test]
    fn a_file_only_its_owner_can_write_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let good = write(dir.path(), "good", b"A=1\nB='two'\n", 0o600);
        let values: Vec<(OsString, OsString)> = vec![("A".into(), "1".into()), ("B".into(), "two".into())];
        assert_eq!(read(&good), Ok(values));
        assert_eq!(read(&write(dir.path(), "readable", b"C=3", 0o644)), Ok(vec![("C".into(), "3".into())]));
        assert_eq!(read_err(&write(dir.path(), "bad", b"A=1\nnope\n", 0o600)), "line 2: expected NAME=VALUE");
        let missing = dir.path().join("missing");
        assert!(read_err(&missing).contains("No such file"), "{}", read_err(&missing));
    }

    #[test]
    fn files_others_could_have_written_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        for mode in [0o620, 0o602, 0o660, 0o666] {
            let path = write(dir.path(), &format!("mode{mode:o}"), b"A=1", mode);
            assert_eq!(read_err(&path), format!("writable by its group or others (mode {mode:o}); refused"));
        }
        let target = write(dir.path(), "target", b"A=1", 0o600);
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert_eq!(read_err(&link), "a symbolic link; refused");
        let hard = dir.path().join("hard");
        std::fs::hard_link(&target, &hard).unwrap();
        assert_eq!(read_err(&hard), "hard-linked; refused");
        assert_eq!(read_err(&target), "hard-linked; refused");
        let sub = dir.path().join("sub");
        std::fs::create_dir(&sub).unwrap();
        assert_eq!(read_err(&sub), "not a regular file");
        // A FIFO is refused at once: its open does not wait for a writer.
        let fifo = dir.path().join("fifo");
        // mkfifo(1): POSIX, where `mknodat` is not (macOS).
        let made = std::process::Command::new("mkfifo").arg(&fifo).status().unwrap();
        assert!(made.success(), "mkfifo {}: {made}", fifo.display());
        let (sender, receiver) = std::sync::mpsc::channel();
        let path = fifo.clone();
        std::thread::spawn(move || sender.send(read(&path)));
        let judged =
            receiver.recv_timeout(std::time::Duration::from_secs(10)).expect("no answer: waiting for a writer");
        assert_eq!(judged, Err(format!("--env-file {}: not a regular file", fifo.display())));
        if rustix::process::geteuid().is_root() {
            let foreign = write(dir.path(), "foreign", b"A=1", 0o600);
            std::os::unix::fs::chown(&foreign, Some(65534), None).unwrap();
            assert_eq!(read_err(&foreign), "owned by uid 65534, neither root nor the caller; refused");
        }
    }

    #[test]
    fn at_most_a_mebibyte_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let mut content = b"A=".to_vec();
        content.resize(LONGEST - 1, b'x');
        content.push(b'\n');
        let read_whole = read(&write(dir.path(), "whole", &content, 0o600)).unwrap();
        assert_eq!(read_whole[0].1.len(), LONGEST - 3, "exactly 1 MiB is read whole");
        content.push(b'B');
        assert_eq!(read_err(&write(dir.path(), "long", &content, 0o600)), "longer than 1 MiB");
    }
}
