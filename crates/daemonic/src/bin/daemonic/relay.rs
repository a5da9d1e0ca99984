//! The supervisor's log relay: PROGRAM's standard output and error arrive on pipes, and the
//! supervisor writes them to the log files (which it can reopen for rotation: `daemonic reopen`,
//! SIGHUP) and, with `--syslog`, to syslog, one datagram per line.

use std::io::{self, Write as _};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use std::path::PathBuf;

use daemonic::Credentials;
use rustix::io::Errno;
use rustix::net::{SendFlags, SocketAddrUnix};

use crate::report::os_message;

/// Longest message part of one syslog datagram: a longer line is sent in parts of at most this
/// many bytes (RFC 3164 allows 1024 bytes per datagram, header included).
pub(crate) const SYSLOG_LINE: usize = 960;

/// Syslog datagrams per `sendmmsg` (Linux), at most.
const SYSLOG_BATCH: usize = 64;

/// Reads (or moves, see [`Relay::splice`]) per pipe per wake-up, at most (see
/// [`Relay::drain`]).
const DRAIN_CHUNKS: usize = 8;

/// Bytes per read from a pipe whose lines go to a regular file (or another output that never
/// blocks) only, where they are not spliced (see [`Relay::splice`]): half of [`PIPE_SIZE`],
/// so that PROGRAM fills one half while the supervisor writes the other to the file.
/// Elsewhere pipes hold 64 KiB at most, and a read takes what they hold.
#[cfg(any(target_os = "linux", target_os = "android"))]
const READ_CHUNK: usize = PIPE_SIZE / 2;
#[cfg(not(any(target_os = "linux", target_os = "android")))]
const READ_CHUNK: usize = PIPE_READ_CHUNK;

/// Bytes per read from a pipe whose lines go to a pipe or a terminal (the caller's, in
/// `--foreground` mode): 64 KiB, what a default pipe downstream takes without waiting (the
/// supervisor never waits on it: what it does not take is counted as lost).
const PIPE_READ_CHUNK: usize = 64 * 1024;

/// Bytes per read from a pipe whose lines go to syslog too: one datagram per line costs far
/// more than a write, so the bound per wake-up stays what it was (8 × 8 KiB).
const SYSLOG_READ_CHUNK: usize = 8 * 1024;

/// The pipes' capacity (`F_SETPIPE_SZ`, Linux's default maximum for unprivileged processes):
/// PROGRAM can write a megabyte ahead before it waits for the supervisor, and each wake-up
/// of the supervisor moves that much.
#[cfg(any(target_os = "linux", target_os = "android"))]
const PIPE_SIZE: usize = 1 << 20;

/// `--syslog` and its settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyslogOptions {
    pub(crate) tag: Option<String>,
    pub(crate) facility: u8,
    pub(crate) priority: u8,
    pub(crate) socket: PathBuf,
}

impl Default for SyslogOptions {
    fn default() -> SyslogOptions {
        SyslogOptions { tag: None, facility: 3, priority: 5, socket: PathBuf::from("/dev/log") }
    }
}

/// `kern` … `local7`, as in syslog(3).
pub(crate) fn parse_facility(name: &str) -> Option<u8> {
    const NAMES: [&str; 12] =
        ["kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv", "ftp"];
    if let Some(n) = name.strip_prefix("local").and_then(|n| n.parse::<u8>().ok()).filter(|n| *n <= 7) {
        return Some(16 + n);
    }
    NAMES.iter().position(|n| *n == name).map(|n| n as u8)
}

/// `emerg` … `debug`, as in syslog(3).
pub(crate) fn parse_priority(name: &str) -> Option<u8> {
    const NAMES: [&str; 8] = ["emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"];
    NAMES
        .iter()
        .position(|n| *n == name || (*n == "err" && name == "error") || (*n == "warning" && name == "warn"))
        .map(|n| n as u8)
}

/// Where a stream goes: standard output's file is the supervisor's descriptor 1, standard
/// error's its descriptor 2 (the same file unless `--stderr` was given).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stream {
    Out,
    Err,
}

/// What the supervisor's descriptor 1 or 2 is, decided with `fstat` once when it is set up
/// (at start and at every reopen), not before every write.
#[derive(Debug, Default)]
struct Output {
    /// A regular file, or a character device that is not a terminal (`/dev/null`): a write
    /// never waits for a reader, so it needs no `poll` first. A pipe or a terminal (the
    /// caller's, in `--foreground` mode) may, and is polled before each part.
    never_blocks: bool,
    /// Linux, a regular file that is the service's own (no `--append`): a second descriptor
    /// of it, without `O_APPEND` (Linux refuses to splice into an append-only descriptor) and
    /// readable (for the last byte spliced), that PROGRAM's output is spliced into at the
    /// file's end as `fstat` gives it just before (see [`Relay::splice`]).
    #[cfg(any(target_os = "linux", target_os = "android"))]
    positioned: Option<OwnedFd>,
    /// The last byte written to it (`None`: nothing yet), so that the supervisor's own lines
    /// start on a line of their own.
    last_byte: Option<u8>,
}

impl Output {
    /// What `fd` is; `splice`: whether PROGRAM's output may be spliced into it, if it is a
    /// regular file (Linux).
    fn of(fd: BorrowedFd<'_>, splice: bool) -> Output {
        let Ok(stat) = rustix::fs::fstat(fd) else { return Output::default() };
        #[allow(clippy::unnecessary_cast)] // `mode_t` is u16 on macOS and the BSDs.
        let file_type = rustix::fs::FileType::from_raw_mode(stat.st_mode as _);
        let regular = file_type == rustix::fs::FileType::RegularFile;
        let never_blocks =
            regular || (file_type == rustix::fs::FileType::CharacterDevice && !rustix::termios::isatty(fd));
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        let _ = splice;
        Output {
            never_blocks,
            #[cfg(any(target_os = "linux", target_os = "android"))]
            positioned: (regular && splice).then(|| positioned(fd, &stat)).flatten(),
            last_byte: None,
        }
    }
}

/// A new open file description of the regular file `fd` is (whose `fstat` is `stat`), writable
/// without `O_APPEND` and readable, through procfs ([`reopen`](crate::descriptors::reopen)),
/// the identity checked. `None` without procfs or without read and write permission: the relay
/// then reads and writes.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn positioned(fd: BorrowedFd<'_>, stat: &rustix::fs::Stat) -> Option<OwnedFd> {
    use rustix::fs::OFlags;
    let flags = OFlags::RDWR | OFlags::CLOEXEC | OFlags::NOCTTY | OFlags::NONBLOCK;
    let second = crate::descriptors::reopen(fd, flags).ok()?;
    let reopened = rustix::fs::fstat(&second).ok()?;
    ((stat.st_dev, stat.st_ino) == (reopened.st_dev, reopened.st_ino)).then_some(second)
}

struct Pipe {
    stream: Stream,
    read: OwnedFd,
    write: OwnedFd,
    /// A line not yet complete, for syslog.
    pending: Vec<u8>,
}

pub(crate) struct Relay {
    pipes: Vec<Pipe>,
    syslog: Option<(OwnedFd, SocketAddrUnix, SyslogOptions, String)>,
    stdout_path: Option<PathBuf>,
    stderr_path: Option<PathBuf>,
    /// Whether PROGRAM's standard output goes to the supervisor's descriptor 1: a `--stdout`
    /// file, or in `--foreground` the caller's standard output. (Daemonized without
    /// `--stdout`, descriptor 1 is `/dev/null`, and the lines go to syslog only.)
    stdout_written: bool,
    service_user: Option<Credentials>,
    /// PROGRAM's pid, for syslog's `TAG[PID]`.
    pub(crate) pid: u32,
    /// Datagrams syslog did not take since the last one it did (full, or not listening).
    syslog_dropped: u64,
    /// Bytes the log files (or the supervisor's standard output and error) did not take, and
    /// the last error, since the last write they did take.
    file_dropped: [(u64, Option<Errno>); 2],
    /// The supervisor's descriptors 1 and 2.
    outputs: [Output; 2],
    /// Whether PROGRAM's output may be spliced into the `--stdout`/`--stderr` files (Linux):
    /// they are the service's own, emptied at start (no `--append`). Never into a file the
    /// caller passed as its own standard output or error (`--foreground`): that one may be
    /// shared.
    splice: bool,
    /// Linux: the supervisor's own pipe that PROGRAM's output is moved through on its way to
    /// a log file (see [`Relay::splice`]); made at the first splice (`None` before, or if it
    /// could not be made).
    #[cfg(any(target_os = "linux", target_os = "android"))]
    staging: Option<Option<(OwnedFd, OwnedFd)>>,
    /// Where reads from the pipes land (allocated at the first read that needs it).
    buffer: Vec<u8>,
    /// Syslog datagrams waiting to be sent: their bytes, one after the other, and where each
    /// ends.
    queued: (Vec<u8>, Vec<usize>),
}

impl Relay {
    /// The pipes (one, or two with a separate `--stderr`, or in `--foreground` without
    /// `--stdout`, where standard error does not follow standard output) and the syslog socket.
    /// `append`: `--append` (the log files may have other writers: every write goes through
    /// the `O_APPEND` descriptor, nothing is spliced).
    pub(crate) fn new(
        stdout_path: Option<PathBuf>,
        stderr_path: Option<PathBuf>,
        syslog: Option<(SyslogOptions, String)>,
        service_user: Option<Credentials>,
        foreground: bool,
        append: bool,
    ) -> io::Result<Relay> {
        // Large pipes only for files: ahead of syslog, a megabyte of lines (half a million
        // datagrams) would only delay every later line behind a syslog daemon that cannot keep
        // up, and be dropped anyway.
        let large = syslog.is_none();
        let mut pipes = vec![pipe(Stream::Out, large)?];
        if stderr_path.is_some() || (foreground && stdout_path.is_none()) {
            pipes.push(pipe(Stream::Err, large)?);
        }
        let stdout_written = stdout_path.is_some() || foreground;
        let syslog = match syslog {
            None => None,
            Some((options, tag)) => {
                // Non-blocking: a syslog daemon that stalls must never stall the supervisor.
                let socket = crate::notify_socket::datagram_socket()?;
                let address = SocketAddrUnix::new(options.socket.as_path())?;
                Some((socket, address, options, tag))
            }
        };
        let mut relay = Relay {
            pipes,
            syslog,
            stdout_path,
            stderr_path,
            stdout_written,
            service_user,
            pid: 0,
            syslog_dropped: 0,
            file_dropped: [(0, None); 2],
            outputs: [Output::default(), Output::default()],
            splice: !append,
            #[cfg(any(target_os = "linux", target_os = "android"))]
            staging: None,
            buffer: Vec::new(),
            queued: (Vec::new(), Vec::new()),
        };
        relay.outputs = relay.outputs();
        Ok(relay)
    }

    /// What the supervisor's descriptors 1 and 2 are now; a splice only into the files it
    /// opened itself (`--stdout`, `--stderr`).
    fn outputs(&self) -> [Output; 2] {
        [
            Output::of(rustix::stdio::stdout(), self.splice && self.stdout_path.is_some()),
            Output::of(rustix::stdio::stderr(), self.splice && self.stderr_path.is_some()),
        ]
    }

    /// PROGRAM's standard output and error: the pipes' write ends (the supervisor keeps its
    /// own, close-on-exec, for the next restart).
    pub(crate) fn program_stdio(&self) -> (BorrowedFd<'_>, BorrowedFd<'_>) {
        let out = self.pipes[0].write.as_fd();
        let err = self.pipes.last().map_or(out, |p| p.write.as_fd());
        (out, err)
    }

    /// The read ends, to poll.
    pub(crate) fn fds(&self) -> impl Iterator<Item = BorrowedFd<'_>> {
        self.pipes.iter().map(|p| p.read.as_fd())
    }

    /// Copies what is waiting on the pipes to the files and syslog, at most [`DRAIN_CHUNKS`]
    /// reads per pipe: a program that writes faster than the output can be forwarded must not
    /// keep the supervisor from its signals (a `stop` would go unanswered). Never blocks.
    pub(crate) fn drain(&mut self) {
        let mut buffer = std::mem::take(&mut self.buffer);
        for index in 0..self.pipes.len() {
            let slot = usize::from(self.pipes[index].stream == Stream::Err);
            let chunk = if self.syslog.is_some() {
                SYSLOG_READ_CHUNK
            } else if self.outputs[slot].never_blocks {
                READ_CHUNK
            } else {
                PIPE_READ_CHUNK
            };
            // The bound per pipe per wake-up, in bytes, for splices too (which move up to the
            // whole pipe at a time).
            #[cfg(any(target_os = "linux", target_os = "android"))]
            let mut budget = DRAIN_CHUNKS * chunk;
            for _ in 0..DRAIN_CHUNKS {
                #[cfg(any(target_os = "linux", target_os = "android"))]
                match self.splice(index, &mut buffer) {
                    Some(0) => break,
                    Some(moved) if moved >= budget => break,
                    Some(moved) => {
                        budget -= moved;
                        continue;
                    }
                    None => {}
                }
                // Into the buffer's spare capacity, never zeroed: its pages become resident
                // only as reads fill them (a quiet PROGRAM's supervisor stays small).
                buffer.clear();
                buffer.reserve_exact(chunk);
                match rustix::io::read(&self.pipes[index].read, rustix::buffer::spare_capacity(&mut buffer)) {
                    Ok(0) | Err(Errno::AGAIN) => break,
                    Ok(n) => self.write(index, &buffer[..n]),
                    Err(Errno::INTR) => {}
                    Err(_) => break,
                }
            }
        }
        self.buffer = buffer;
    }

    /// Linux: moves what waits on pipe `index` into its log file without copying it through
    /// the supervisor, when the pipe goes to a regular file of the service's own and nowhere
    /// else (no syslog), and no loss is waiting to be reported. `Some(bytes)`: moved that many
    /// (0: the pipe is empty); `None`: read and write instead.
    ///
    /// Two splices: PROGRAM's pipe into the supervisor's own (`staging`: references to the
    /// pipe's pages, no copy), then that pipe into the file at its end. Not one splice straight
    /// into the file: Linux holds the pipe's lock while a splice writes the file, and PROGRAM,
    /// writing its next lines into the pipe, would spin on that lock the whole time (measured:
    /// 3× PROGRAM's own CPU, and a relay slower than reads and writes). The file is written
    /// at the end `fstat` gives just before (Linux refuses to splice into an `O_APPEND`
    /// descriptor), which is why this is only for files no one else writes (no `--append`).
    /// What the file does not take is read back out of `staging` and written as a read would
    /// be (and counted as lost if it fails again), so nothing is left behind in it; that file
    /// is then read and written into until the next reopen.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    fn splice(&mut self, index: usize, buffer: &mut Vec<u8>) -> Option<usize> {
        use rustix::pipe::{splice, SpliceFlags};
        let stream = self.pipes[index].stream;
        let slot = usize::from(stream == Stream::Err);
        let to_file = stream == Stream::Err || self.stdout_written;
        if !to_file || self.syslog.is_some() || self.file_dropped[slot].0 > 0 {
            return None;
        }
        let file = self.outputs[slot].positioned.as_ref()?;
        let (staging_read, staging_write) = self.staging.get_or_insert_with(staging_pipe).as_ref()?;
        // All the pipe holds, at most (`drain` bounds the bytes per wake-up): against half of
        // it at a time, 1 GiB of lines took 0.51 s against 0.70 s (medians of 5, alternating;
        // a second batch on a noisier machine could not tell them apart).
        let moved = loop {
            match splice(&self.pipes[index].read, None, staging_write, None, PIPE_SIZE, SpliceFlags::NONBLOCK) {
                Ok(0) | Err(Errno::AGAIN) => return Some(0),
                Ok(n) => break n,
                Err(Errno::INTR) => {}
                Err(_) => return None,
            }
        };
        let (mut left, mut end, mut failed) = (moved, None, false);
        while left > 0 {
            let Ok(stat) = rustix::fs::fstat(file) else {
                failed = true;
                break;
            };
            let mut offset = stat.st_size as u64;
            match splice(staging_read, None, file, Some(&mut offset), left, SpliceFlags::NONBLOCK) {
                Ok(n) if n > 0 => (left, end) = (left - n, Some(offset)),
                Err(Errno::INTR) => {}
                Ok(_) | Err(_) => {
                    failed = true;
                    break;
                }
            }
        }
        if let Some(end) = end.filter(|&end| end > 0) {
            // Not read back (a truncation since, an error): not known to end a line, so the
            // supervisor's next line of its own starts with a newline.
            let mut last = [0u8];
            let read = rustix::io::pread(file, &mut last, end - 1);
            self.outputs[slot].last_byte = Some(if matches!(read, Ok(1)) { last[0] } else { 0 });
        }
        if failed {
            // A full disk, or a file system that cannot take a splice: reads and writes from
            // now on (until a reopen), which report the error and count what is lost.
            self.outputs[slot].positioned = None;
        }
        while left > 0 {
            buffer.clear();
            buffer.reserve_exact(left.min(READ_CHUNK));
            let staging_read = self.staging.as_ref().and_then(Option::as_ref).map(|(read, _)| read)?;
            match rustix::io::read(staging_read, rustix::buffer::spare_capacity(buffer)) {
                Ok(0) | Err(Errno::AGAIN) => break,
                Ok(n) => {
                    left -= n;
                    self.write(index, &buffer[..n]);
                }
                Err(Errno::INTR) => {}
                Err(_) => break,
            }
        }
        if left > 0 {
            // Not even read back out (no real error does this): counted and reported as lost,
            // and the pipe closed with them, so that they never reach another stream's file
            // (a new one is made at the next splice).
            let (dropped, error) = self.file_dropped[slot];
            self.file_dropped[slot] = (dropped + left as u64, error);
            self.staging = None;
        }
        Some(moved)
    }

    fn write(&mut self, index: usize, bytes: &[u8]) {
        let stream = self.pipes[index].stream;
        if (stream == Stream::Out && self.stdout_written) || stream == Stream::Err {
            self.write_file(stream, bytes);
        }
        if self.syslog.is_some() {
            let mut pending = std::mem::take(&mut self.pipes[index].pending);
            syslog_messages(&mut pending, bytes, |message| self.send(message));
            self.pipes[index].pending = pending;
            self.send_queued();
        }
    }

    /// Writes to the supervisor's descriptor 1 or 2 without ever waiting on it (a full disk, a
    /// pipe or terminal nobody reads in `--foreground` mode): what it does not take is counted,
    /// and reported in it once it takes writes again.
    fn write_file(&mut self, stream: Stream, bytes: &[u8]) {
        let (fd, slot) = match stream {
            Stream::Out => (rustix::stdio::stdout(), 0),
            Stream::Err => (rustix::stdio::stderr(), 1),
        };
        let poll = !self.outputs[slot].never_blocks;
        let (dropped, error) = self.file_dropped[slot];
        if dropped > 0 {
            let why = error.map_or_else(|| "not taken in time".to_owned(), |e| os_message(&e.into()));
            let notice = format!(
                "daemonic[{}]: {dropped} bytes of output were lost ({why})\n",
                rustix::process::getpid().as_raw_nonzero()
            );
            if write_parts(fd, notice.as_bytes(), poll).is_err() {
                self.file_dropped[slot].0 += bytes.len() as u64;
                return;
            }
            self.file_dropped[slot] = (0, None);
        }
        match write_parts(fd, bytes, poll) {
            Ok(()) => self.outputs[slot].last_byte = bytes.last().copied().or(self.outputs[slot].last_byte),
            Err((left, e)) => {
                self.file_dropped[slot] = (self.file_dropped[slot].0 + left as u64, e.or(self.file_dropped[slot].1));
            }
        }
    }

    /// A line of the supervisor's own (restarts, exits), to the same places as PROGRAM's stderr,
    /// after what PROGRAM wrote before it. An unterminated last line of PROGRAM's is ended first
    /// (in the file: a newline; in syslog: sent as a message of its own), so that the two never
    /// run together (`partialdaemonic[7611]: …`).
    pub(crate) fn own_line(&mut self, line: &str) {
        self.drain();
        let index = self.pipes.len() - 1;
        let stream = self.pipes[index].stream;
        let slot = usize::from(stream == Stream::Err);
        let to_file = (stream == Stream::Out && self.stdout_written) || stream == Stream::Err;
        if to_file && self.outputs[slot].last_byte.is_some_and(|b| b != b'\n') {
            self.write_file(stream, b"\n");
        }
        let pending = std::mem::take(&mut self.pipes[index].pending);
        if !pending.is_empty() {
            self.send(&pending);
        }
        self.write(index, format!("{line}\n").as_bytes());
    }

    /// One syslog datagram, `<PRI>TAG[PID]: MESSAGE`, in parts of at most [`SYSLOG_LINE`] bytes,
    /// queued for [`send_queued`](Relay::send_queued).
    fn send(&mut self, line: &[u8]) {
        let Some((_, _, options, tag)) = &self.syslog else { return };
        let priority = options.facility * 8 + options.priority;
        for part in syslog_parts(line) {
            let _ = write!(self.queued.0, "<{priority}>{tag}[{}]: ", self.pid);
            self.queued.0.extend_from_slice(part);
            self.queued.1.push(self.queued.0.len());
        }
    }

    /// Sends the queued datagrams, many per system call (`sendmmsg` on Linux). Never blocks: a
    /// datagram the socket does not take (a syslog daemon that is full, or not running) is
    /// dropped and counted, and the count is sent (as journald and rsyslog report suppressed
    /// messages) before the next datagram it takes — while a count is waiting, one datagram
    /// at a time, so that it goes first.
    fn send_queued(&mut self) {
        let (bytes, ends) = std::mem::take(&mut self.queued);
        let Some((socket, address, options, tag)) = &self.syslog else { return };
        let datagrams: Vec<&[u8]> =
            ends.iter().scan(0, |start, &end| Some(&bytes[std::mem::replace(start, end)..end])).collect();
        let mut next = 0;
        while next < datagrams.len() {
            if self.syslog_dropped > 0 {
                let notice = format!(
                    "<{}>{tag}[{}]: daemonic: {} message{} dropped: the syslog socket did not take them",
                    options.facility * 8 + options.priority,
                    self.pid,
                    self.syslog_dropped,
                    if self.syslog_dropped == 1 { " was" } else { "s were" }
                );
                if rustix::net::sendto(socket, notice.as_bytes(), SendFlags::DONTWAIT, address).is_ok() {
                    self.syslog_dropped = 0;
                }
            }
            let batch = if self.syslog_dropped > 0 { 1 } else { SYSLOG_BATCH };
            match send_datagrams(socket, address, &datagrams[next..datagrams.len().min(next + batch)]) {
                Ok(sent) if sent > 0 => next += sent,
                _ => {
                    self.syslog_dropped += 1;
                    next += 1;
                }
            }
        }
        self.queued = (bytes, ends);
        self.queued.0.clear();
        self.queued.1.clear();
    }

    /// Log rotation: reopens `--stdout`/`--stderr` by path (the same checks as at start) and
    /// makes them the supervisor's descriptors 1 and 2 again.
    /// Whatever happens, what descriptors 1 and 2 are is taken again at the end: after a
    /// reopen that failed half-way, descriptor 1 may be a new file already, and nothing may
    /// go on being spliced into the old one.
    pub(crate) fn reopen(&mut self) -> Result<(), String> {
        self.drain();
        let reopened = self.reopen_files();
        self.outputs = self.outputs();
        reopened
    }

    fn reopen_files(&self) -> Result<(), String> {
        let open = |path: &PathBuf| {
            daemonic::open_output(path, self.service_user.as_ref())
                .map_err(|e| format!("cannot reopen {}: {}", path.display(), os_message(&e)))
        };
        if let Some(path) = &self.stdout_path {
            let fd = open(path)?;
            rustix::stdio::dup2_stdout(&fd).map_err(|e| format!("dup2: {e}"))?;
            if self.stderr_path.is_none() {
                rustix::stdio::dup2_stderr(&fd).map_err(|e| format!("dup2: {e}"))?;
            }
        }
        if let Some(path) = &self.stderr_path {
            let fd = open(path)?;
            rustix::stdio::dup2_stderr(&fd).map_err(|e| format!("dup2: {e}"))?;
        }
        Ok(())
    }

    /// At the end: what is left on the pipes, and incomplete last lines.
    pub(crate) fn flush(&mut self) {
        // Everything still buffered in the pipes (bounded: a writer that is still running,
        // a leftover the supervisor could not end, must not keep it from exiting).
        for _ in 0..64 {
            self.drain();
        }
        for index in 0..self.pipes.len() {
            let pending = std::mem::take(&mut self.pipes[index].pending);
            if !pending.is_empty() {
                self.send(&pending);
            }
        }
        self.send_queued();
    }
}

/// Writes `bytes` to `fd` without waiting: `poll` must say it is writable before each part of
/// at most `PIPE_BUF` bytes (which a pipe then takes whole). `Err` with how many bytes were not
/// written, and the error if one (rather than no room) stopped it.
pub(crate) fn write_bounded(fd: BorrowedFd<'_>, bytes: &[u8]) -> Result<(), (usize, Option<Errno>)> {
    write_parts(fd, bytes, true)
}

/// [`write_bounded`], or without the `poll` (and in one part) for an output that never
/// blocks ([`Output::never_blocks`]).
fn write_parts(fd: BorrowedFd<'_>, mut bytes: &[u8], poll_first: bool) -> Result<(), (usize, Option<Errno>)> {
    use rustix::event::{poll, PollFd, PollFlags, Timespec};
    let part = if poll_first { 4096 } else { usize::MAX };
    while !bytes.is_empty() {
        if !poll_first {
            match rustix::io::write(fd, bytes) {
                Ok(0) => return Err((bytes.len(), None)),
                Ok(n) => bytes = &bytes[n..],
                Err(Errno::INTR) => {}
                Err(e) => return Err((bytes.len(), Some(e))),
            }
            continue;
        }
        let mut fds = [PollFd::new(&fd, PollFlags::OUT)];
        match poll(&mut fds, Some(&Timespec { tv_sec: 0, tv_nsec: 0 })) {
            Ok(1) if fds[0].revents().contains(PollFlags::OUT) => {}
            Ok(_) => return Err((bytes.len(), None)),
            Err(Errno::INTR) => continue,
            Err(e) => return Err((bytes.len(), Some(e))),
        }
        match rustix::io::write(fd, &bytes[..bytes.len().min(part)]) {
            Ok(0) => return Err((bytes.len(), None)),
            Ok(n) => bytes = &bytes[n..],
            Err(Errno::INTR) => {}
            Err(e) => return Err((bytes.len(), Some(e))),
        }
    }
    Ok(())
}

/// Sends `datagrams` to `address` without waiting, in order, one `sendmmsg` for all of them:
/// how many the socket took (those first), or the error of the first. Elsewhere one `sendto`.
#[cfg(target_os = "linux")]
fn send_datagrams(socket: &OwnedFd, address: &SocketAddrUnix, datagrams: &[&[u8]]) -> rustix::io::Result<usize> {
    use rustix::net::addr::SocketAddrArg as _;
    use rustix::net::{MMsgHdr, SendAncillaryBuffer};
    let address = address.as_any();
    let iovs: Vec<[io::IoSlice<'_>; 1]> = datagrams.iter().map(|d| [io::IoSlice::new(d)]).collect();
    let mut controls: Vec<SendAncillaryBuffer<'_, '_, '_>> = datagrams.iter().map(|_| Default::default()).collect();
    let mut messages: Vec<MMsgHdr<'_>> = iovs
        .iter()
        .zip(controls.iter_mut())
        .map(|(iov, control)| MMsgHdr::new_with_addr(&address, iov, control))
        .collect();
    rustix::net::sendmmsg(socket, &mut messages, SendFlags::DONTWAIT)
}

#[cfg(not(target_os = "linux"))]
fn send_datagrams(socket: &OwnedFd, address: &SocketAddrUnix, datagrams: &[&[u8]]) -> rustix::io::Result<usize> {
    rustix::net::sendto(socket, datagrams[0], SendFlags::DONTWAIT, address).map(|_| 1)
}

/// Whether a datagram socket listens at `path` (`connect` succeeds: it exists, is a socket, is
/// bound, and we may write to it); the error says why not.
pub(crate) fn syslog_listens(path: &std::path::Path) -> io::Result<()> {
    let socket = crate::notify_socket::datagram_socket()?;
    rustix::net::connect(&socket, &SocketAddrUnix::new(path)?)?;
    Ok(())
}

/// A pipe for one stream: the read end non-blocking, both close-on-exec; `large`: of
/// [`PIPE_SIZE`] where the system allows it.
fn pipe(stream: Stream, large: bool) -> io::Result<Pipe> {
    let (read, write) = rustix::pipe::pipe()?;
    for fd in [&read, &write] {
        rustix::io::fcntl_setfd(fd, rustix::io::FdFlags::CLOEXEC)?;
    }
    rustix::fs::fcntl_setfl(&read, rustix::fs::OFlags::NONBLOCK)?;
    // Larger than the default 64 KiB when allowed (`/proc/sys/fs/pipe-max-size`); the
    // default otherwise.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    if large {
        let _ = rustix::pipe::fcntl_setpipe_size(&read, PIPE_SIZE);
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let _ = large;
    Ok(Pipe { stream, read, write, pending: Vec::new() })
}

/// The supervisor's own pipe for [`Relay::splice`]: both ends close-on-exec and non-blocking,
/// of [`PIPE_SIZE`] where the system allows it, so that one splice takes all PROGRAM's pipe
/// holds. `None` if it cannot be made (the relay then reads and writes).
#[cfg(any(target_os = "linux", target_os = "android"))]
fn staging_pipe() -> Option<(OwnedFd, OwnedFd)> {
    use rustix::pipe::PipeFlags;
    let (read, write) = rustix::pipe::pipe_with(PipeFlags::CLOEXEC | PipeFlags::NONBLOCK).ok()?;
    let _ = rustix::pipe::fcntl_setpipe_size(&read, PIPE_SIZE);
    Some((read, write))
}

/// The syslog messages in `bytes`, which follow `pending` (PROGRAM's unterminated line so far),
/// passed to `message`: each complete line without its `\n`, and of a line longer than a
/// datagram its first [`SYSLOG_LINE`] bytes (cut between characters) once they are there; what
/// is left stays in `pending`.
pub(crate) fn syslog_messages(pending: &mut Vec<u8>, bytes: &[u8], mut message: impl FnMut(&[u8])) {
    pending.extend_from_slice(bytes);
    let mut start = 0;
    while let Some(end) = pending[start..].iter().position(|&b| b == b'\n') {
        message(&pending[start..start + end]);
        start += end + 1;
    }
    pending.drain(..start);
    // A line longer than a datagram goes in parts, none lost; a cut is made only once the byte
    // after it is there, so that it never splits a character whose other bytes are still
    // coming, and a line of exactly SYSLOG_LINE bytes waits for its newline.
    while pending.len() > SYSLOG_LINE {
        let cut = utf8_boundary(pending, SYSLOG_LINE);
        message(&pending[..cut]);
        pending.drain(..cut);
    }
}

/// One message's datagram parts: at most [`SYSLOG_LINE`] bytes each, cut between characters;
/// an empty message is one empty part.
pub(crate) fn syslog_parts(message: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = Some(message);
    std::iter::from_fn(move || {
        let left = rest?;
        let cut = utf8_boundary(left, SYSLOG_LINE);
        rest = Some(&left[cut..]).filter(|r| !r.is_empty());
        Some(&left[..cut])
    })
}

/// The largest cut at most `max` bytes into `bytes` that does not split a UTF-8 character
/// (`max` itself for bytes that are not UTF-8 there).
fn utf8_boundary(bytes: &[u8], max: usize) -> usize {
    if bytes.len() <= max {
        return bytes.len();
    }
    let mut cut = max;
    while cut > max.saturating_sub(3) && cut > 0 && bytes[cut] & 0xC0 == 0x80 {
        cut -= 1;
    }
    // Still inside a character 3 bytes back (or at the start): not UTF-8 there.
    if cut == 0 || bytes[cut] & 0xC0 == 0x80 {
        max
    } else {
        cut
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facility_and_priority_names() {
        assert_eq!(parse_facility("daemon"), Some(3));
        assert_eq!(parse_facility("local0"), Some(16));
        assert_eq!(parse_facility("local7"), Some(23));
        assert_eq!(parse_facility("local8"), None);
        assert_eq!(parse_priority("notice"), Some(5));
        assert_eq!(parse_priority("err"), Some(3));
        assert_eq!(parse_priority("error"), Some(3));
        assert_eq!(parse_priority("loud"), None);
    }

    #[test]
    fn long_lines_are_cut_between_characters() {
        let text = "é".repeat(600); // 1200 bytes, two per character
        let cut = utf8_boundary(text.as_bytes(), SYSLOG_LINE);
        assert!(cut <= SYSLOG_LINE && std::str::from_utf8(&text.as_bytes()[..cut]).is_ok());
        assert_eq!(utf8_boundary(b"short", SYSLOG_LINE), 5);
    }

    #[test]
    fn every_facility_and_priority() {
        let facilities =
            ["kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv", "ftp"];
        for (code, name) in facilities.iter().enumerate() {
            assert_eq!(parse_facility(name), Some(code as u8), "{name}");
        }
        for n in 0..=7u8 {
            assert_eq!(parse_facility(&format!("local{n}")), Some(16 + n));
        }
        for bad in ["", "local", "localx", "local-1", "Daemon", "security"] {
            assert_eq!(parse_facility(bad), None, "{bad}");
        }
        let priorities = ["emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"];
        for (code, name) in priorities.iter().enumerate() {
            assert_eq!(parse_priority(name), Some(code as u8), "{name}");
        }
        assert_eq!(parse_priority("warn"), Some(4));
        assert_eq!(parse_priority(""), None);
        assert_eq!(
            SyslogOptions::default(),
            SyslogOptions { tag: None, facility: 3, priority: 5, socket: PathBuf::from("/dev/log") }
        );
    }

    #[test]
    fn cuts_fall_before_a_character_never_inside_one() {
        // "aé€😀": 1, 2, 3 and 4 bytes.
        let text = "aé€😀".as_bytes();
        let cuts: Vec<usize> = (1..=10).map(|max| utf8_boundary(text, max)).collect();
        assert_eq!(cuts, [1, 1, 3, 3, 3, 6, 6, 6, 6, 10]);
        assert_eq!(utf8_boundary(b"abc", 3), 3);
        assert_eq!(utf8_boundary(b"abcd", 3), 3);
        // Not UTF-8 there (continuation bytes only): cut at `max`.
        assert_eq!(utf8_boundary(&[0x80; 10], 8), 8);
        assert_eq!(utf8_boundary(&[0xA9, 0xA9, 0xA9], 2), 2);
        assert_eq!(utf8_boundary(b"", 0), 0);
        // Four continuation bytes up to the cut, after an ASCII byte: no character is that
        // long, so this is not UTF-8 and the cut stays at `max`, not 4 bytes back.
        assert_eq!(utf8_boundary(b"abc\x80\x80\x80\x80", 6), 6);
    }
}
