//! `start`'s (and `restart`'s) options: what the user asked for, checked, before anything runs.

use std::ffi::OsString;
use std::os::fd::RawFd;
use std::path::PathBuf;
use std::time::Duration;

use daemonic::Account;

use crate::limits::{check_no_new_privileges, parse_ionice, parse_limit, parse_oom_score_adj, ProgramSettings};
use crate::options::{parse_fd, parse_seconds, path_value};
use crate::report::say;
use crate::{usage, Failure};

pub(crate) const USAGE: &str = "\
usage: daemonic start --pidfile FILE [options] -- PROGRAM [ARGS...]

Daemonizes (double fork, new session, stdio, umask, working directory, fd hygiene, signals
reset) into a supervisor that holds the PID file's lock and runs PROGRAM (looked up in PATH)
as its child. Exits 0 only once PROGRAM was really executed (with --notify-await: once it
reported READY=1), with the PID file naming the supervisor and locked for as long as the
service runs. PROGRAM gets no descriptor of the PID file and none of the supervisor's: only
stdio and --keep-fd descriptors.

The supervisor forwards TERM, INT, QUIT, HUP, USR1, USR2, ALRM, WINCH, CONT, TSTP, TTIN and
TTOU to PROGRAM (HUP also reopens its log files; URG, from `daemonic reopen`, only does that;
VTALRM, from `daemonic stop`/`signal` for KILL, makes it KILL PROGRAM's tree and exit). When
PROGRAM exits, whatever it left running is ended too (TERM, then KILL after --timeout): on
Linux the supervisor is their subreaper, on FreeBSD their reaper, elsewhere PROGRAM's process
group is signalled. Then the PID file is removed and the supervisor exits with PROGRAM's
status (after a stop request: 0), unless --restart says otherwise. Beside the PID file the
supervisor keeps FILE.tree (its pid, start time and session), so that what a KILLed
supervisor left running is ended by the next `stop` or `start` (Linux).

options:
  --pidfile FILE          the PID file (required, except with --foreground)
  --pidfile-mode MODE     its mode (octal, default 600: no other user can open it, so none
                          can hold its lock; 644 lets others read it, and is the default
                          with --no-supervise --user, whose program must reopen it)
  --chdir DIR             working directory (default /, under --foreground the caller's;
                          inside --chroot if set)
  --umask MODE            octal file-mode creation mask (default: the caller's; 022 if
                          the caller's is 0)
  --stdout FILE           standard output (default /dev/null); standard error follows unless set
  --stderr FILE           standard error
  --append                append to --stdout/--stderr files instead of truncating them,
                          every write O_APPEND (for a file other processes write too);
                          the supervisor writes PROGRAM's output to them and reopens them on
                          `daemonic reopen` or SIGHUP (log rotation)
  --syslog                also send PROGRAM's output to syslog, one message per line (longer
                          lines in parts); --syslog-* imply it
  --syslog-tag TAG        the tag (default: PROGRAM's file name)
  --syslog-facility F     daemon (default), user, local0 .. local7, ...
  --syslog-priority P     notice (default), info, warning, err, ...
  --syslog-socket PATH    the syslog socket (default /dev/log); a warning when no syslog
                          daemon receives there (lines are lost until one does)
  --user U                run PROGRAM as this user (name or id), with its groups; the
                          supervisor stays root, out of PROGRAM's reach (an id without a
                          passwd entry: --group, else the same number, no other groups)
  --group G               run PROGRAM with this primary group (name or id)
  --env NAME=VALUE        set a variable in PROGRAM's environment (repeatable)
  --env-file FILE         variables from FILE (repeatable; --env wins): NAME=VALUE lines as
                          systemd's EnvironmentFile= (# and ; comments, `export `, quotes).
                          Refused unless owned by root or the caller and writable by no
                          one else. For secrets: --env values are in the supervisor's
                          command line, which every local user can read (ps)
  --clear-env             PROGRAM starts with no inherited environment: only --env variables
                          (PROGRAM itself is still looked up in the caller's PATH)
  --nice N                run PROGRAM at this nice value (-20..19)
  --limit RES=SOFT[:HARD] PROGRAM's resource limit (repeatable): nofile, core, nproc, as,
                          cpu (seconds), data, fsize, memlock, stack (bytes), on Linux
                          also rss, locks, sigpending, msgqueue, nice, rtprio, rttime;
                          a number or `unlimited`; SOFT alone sets both
  --ionice CLASS[:LEVEL]  PROGRAM's I/O scheduling: realtime, best-effort or idle, level
                          0 (first) .. 7, default 4 (Linux)
  --oom-score-adj N       PROGRAM's OOM-killer adjustment, -1000 .. 1000 (Linux)
  --no-new-privileges     PROGRAM and its children can never gain privileges through
                          exec (set-user-id files, file capabilities) (Linux, FreeBSD 14)
  --chroot DIR            run PROGRAM inside DIR (the supervisor, which holds and removes the
                          PID file, stays outside); PROGRAM is looked up inside
  --keep-fd N             keep descriptor N open for PROGRAM, as N (repeatable)
  --listen-fd N[:NAME]    socket activation (sd_listen_fds): PROGRAM gets these descriptors
                          as 3, 4, ... in the order given, with LISTEN_FDS, LISTEN_PID (its
                          own pid) and, if any NAME is given, LISTEN_FDNAMES (repeatable)
  --notify-fd N           write a newline to descriptor N once PROGRAM is ready, then close it
                          (s6 notification-fd)
  --notify-await          give PROGRAM a NOTIFY_SOCKET and wait for READY=1 (systemd
                          Type=notify, start-stop-daemon --notify-await); STATUS= lines are
                          logged and shown if PROGRAM fails first
  --notify-timeout SECS   how long to wait for READY=1 (default 60)
  --child-pidfile FILE    also write PROGRAM's pid to FILE (a plain file, for tools that
                          need the program's own pid; removed when PROGRAM exits)
  --timeout SECS          after forwarding a stop signal, and for what PROGRAM left running,
                          how long to wait before KILL (default 5)
  --restart WHEN          no (default), on-failure (non-zero exit or a signal), always
  --restart-delay SECS    delay before the first restart (default 1), doubled after each
                          quick failure up to 60 s, reset once PROGRAM ran for the limit's
                          interval
  --restart-limit N/SECS  give up after N restarts within SECS seconds: the supervisor
                          exits non-zero and leaves the PID file, unlocked, with its state
                          record: `status` says failed (1) until the next start or stop
                          (default 5/60)
  --no-supervise          no supervisor: PROGRAM becomes the daemon and holds the lock
                          itself, through a read-only descriptor (see README); --restart,
                          --notify-await, --notify-fd and --child-pidfile need the supervisor
  --foreground            do not fork (for service managers); everything else applies;
                          NOTIFY_SOCKET gets READY=1 once PROGRAM is ready
  --oknodo                exit 0 when the service is already running (it is left alone;
                          the message says so), as start-stop-daemon's --oknodo
  --quiet                 print errors only, not the started message

exit status (an init script's `start` is `daemonic start --oknodo ...`):
  0 started (with --oknodo: or already running)
  1 failed (the reason is printed; no process and no PID file remain), or already running
  2 usage error
";

/// `--restart`: when PROGRAM is started again after it exited by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Restart {
    /// Never (the default): the supervisor exits with PROGRAM's status.
    No,
    /// After a non-zero exit status or death by a signal.
    OnFailure,
    /// Whenever it exits.
    Always,
}

/// `--restart-limit N/SECS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RestartLimit {
    pub(crate) restarts: u32,
    pub(crate) interval: Duration,
}

pub(crate) struct StartArgs {
    /// Required, except for `run`.
    pub(crate) pidfile: Option<PathBuf>,
    /// `daemonic run`: a container's init (or a run script's): in the foreground, the PID file
    /// optional, and the exit status PROGRAM's even after a stop signal.
    pub(crate) run: bool,
    pub(crate) chdir: Option<PathBuf>,
    pub(crate) umask: Option<u32>,
    /// `--pidfile-mode`; `None`: 0600, or 0644 under `--no-supervise --user` (see `run`).
    pub(crate) pidfile_mode: Option<u32>,
    pub(crate) stdout: Option<PathBuf>,
    pub(crate) stderr: Option<PathBuf>,
    pub(crate) append: bool,
    pub(crate) user: Option<Account>,
    pub(crate) group: Option<Account>,
    pub(crate) keep_fds: Vec<RawFd>,
    /// `--listen-fd N[:NAME]`: socket activation; PROGRAM gets them as 3, 4, … in order.
    pub(crate) listen_fds: Vec<(RawFd, Option<String>)>,
    pub(crate) notify_fd: Option<RawFd>,
    pub(crate) notify_await: bool,
    pub(crate) notify_timeout: Duration,
    pub(crate) child_pidfile: Option<PathBuf>,
    pub(crate) timeout: Duration,
    pub(crate) restart: Restart,
    pub(crate) restart_delay: Duration,
    pub(crate) restart_limit: RestartLimit,
    pub(crate) supervise: bool,
    pub(crate) foreground: bool,
    pub(crate) env: Vec<(OsString, OsString)>,
    pub(crate) clear_env: bool,
    /// The variables of the `--env-file`s, read (and checked) while parsing; `--env` wins.
    pub(crate) file_env: Vec<(OsString, OsString)>,
    pub(crate) nice: Option<i32>,
    /// `--limit`, `--ionice`, `--oom-score-adj`, `--no-new-privileges`.
    pub(crate) settings: ProgramSettings,
    pub(crate) chroot: Option<PathBuf>,
    pub(crate) syslog: Option<crate::relay::SyslogOptions>,
    /// `restart` only: how the running service is stopped.
    pub(crate) stop_signal: Option<rustix::process::Signal>,
    pub(crate) stop_kill: bool,
    /// `restart` only: `--retry SCHEDULE` for the stop.
    pub(crate) stop_retry: Option<String>,
    /// `--oknodo`: an already running service is not an error (`start` exits 0).
    pub(crate) oknodo: bool,
    /// Whether `--timeout` was given (`restart` then uses it for the stop as well).
    pub(crate) timeout_given: bool,
    pub(crate) program: OsString,
    pub(crate) args: Vec<OsString>,
}

/// Which command's options these are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Command {
    Start,
    /// `start`'s, and `stop`'s `--signal`, `--kill` and `--retry`.
    Restart,
    /// `start`'s, in the foreground, the PID file optional.
    Run,
}

/// The arguments of `command`; `Ok(None)` after printing `help`.
pub(crate) fn parse(args: Vec<OsString>, help: &'static str, command: Command) -> Result<Option<StartArgs>, Failure> {
    let stop_options = command == Command::Restart;
    use lexopt::prelude::*;
    let bad = usage(help);
    let mut parser = lexopt::Parser::from_args(args);
    let mut parsed = StartArgs {
        pidfile: None,
        run: command == Command::Run,
        foreground: command == Command::Run,
        chdir: None,
        umask: None,
        pidfile_mode: None,
        stdout: None,
        stderr: None,
        append: false,
        user: None,
        group: None,
        keep_fds: Vec::new(),
        listen_fds: Vec::new(),
        notify_fd: None,
        notify_await: false,
        notify_timeout: Duration::from_secs(60),
        child_pidfile: None,
        timeout: Duration::from_secs(5),
        restart: Restart::No,
        restart_delay: Duration::from_secs(1),
        restart_limit: RestartLimit { restarts: 5, interval: Duration::from_secs(60) },
        supervise: true,
        env: Vec::new(),
        clear_env: false,
        file_env: Vec::new(),
        nice: None,
        settings: ProgramSettings::default(),
        chroot: None,
        syslog: None,
        stop_signal: None,
        stop_kill: false,
        stop_retry: None,
        oknodo: false,
        timeout_given: false,
        program: OsString::new(),
        args: Vec::new(),
    };
    let mut pidfile = None;
    let mut restart_options = Vec::new();
    let mut env_files = Vec::new();
    let mut program = Vec::new();
    while let Some(arg) = parser.next().map_err(|e| bad(e.to_string()))? {
        match arg {
            Long("pidfile") => pidfile = Some(path_value(parser.value()?, "--pidfile").map_err(&bad)?),
            Long("chdir") => parsed.chdir = Some(PathBuf::from(parser.value()?)),
            Long("pidfile-mode") => {
                let value = parser.value()?.string()?;
                let mode = u32::from_str_radix(&value, 8).ok().filter(|m| *m <= 0o666 && *m & 0o600 == 0o600);
                parsed.pidfile_mode = Some(mode.ok_or_else(|| {
                    bad(format!("--pidfile-mode {value:?}: not an octal mode from 600 to 666 (e.g. 644)"))
                })?);
            }
            Long("umask") => {
                let value = parser.value()?.string()?;
                parsed.umask = Some(
                    u32::from_str_radix(&value, 8)
                        .ok()
                        .filter(|m| *m <= 0o777)
                        .ok_or_else(|| bad(format!("--umask {value:?}: not an octal mode (e.g. 027)")))?,
                );
            }
            Long("stdout") => parsed.stdout = Some(PathBuf::from(parser.value()?)),
            Long("stderr") => parsed.stderr = Some(PathBuf::from(parser.value()?)),
            Long("append") => parsed.append = true,
            Long("user") => parsed.user = Some(parser.value()?.string()?.parse().unwrap_or_else(|e| match e {})),
            Long("group") => parsed.group = Some(parser.value()?.string()?.parse().unwrap_or_else(|e| match e {})),
            Long("listen-fd") => {
                let value = parser.value()?.string()?;
                let (fd, name) = value.split_once(':').map_or((value.as_str(), None), |(fd, name)| (fd, Some(name)));
                let fd = parse_fd(fd, "--listen-fd").map_err(&bad)?;
                if let Some(name) = name {
                    if name.is_empty() || name.len() > 255 || !name.bytes().all(|b| b.is_ascii_graphic() && b != b':') {
                        return Err(bad(format!(
                            "--listen-fd {value:?}: a NAME is 1 to 255 printable characters, no ':'"
                        )));
                    }
                }
                parsed.listen_fds.push((fd, name.map(str::to_owned)));
            }
            Long("keep-fd") => parsed.keep_fds.push(parse_fd(&parser.value()?.string()?, "--keep-fd").map_err(&bad)?),
            Long("notify-fd") => {
                parsed.notify_fd = Some(parse_fd(&parser.value()?.string()?, "--notify-fd").map_err(&bad)?);
                restart_options.push("--notify-fd");
            }
            Long("notify-await") => {
                parsed.notify_await = true;
                restart_options.push("--notify-await");
            }
            Long("notify-timeout") => {
                parsed.notify_timeout = parse_seconds(&parser.value()?.string()?, "--notify-timeout").map_err(&bad)?;
            }
            Long("child-pidfile") => {
                parsed.child_pidfile = Some(path_value(parser.value()?, "--child-pidfile").map_err(&bad)?);
                restart_options.push("--child-pidfile");
            }
            Long("timeout") => {
                parsed.timeout = parse_seconds(&parser.value()?.string()?, "--timeout").map_err(&bad)?;
                parsed.timeout_given = true;
            }
            Long("restart") => {
                let value = parser.value()?.string()?;
                parsed.restart = match value.as_str() {
                    "no" => Restart::No,
                    "on-failure" => Restart::OnFailure,
                    "always" => Restart::Always,
                    _ => return Err(bad(format!("--restart {value:?}: expected no, on-failure or always"))),
                };
                if parsed.restart != Restart::No {
                    restart_options.push("--restart");
                }
            }
            Long("restart-delay") => {
                parsed.restart_delay = parse_seconds(&parser.value()?.string()?, "--restart-delay").map_err(&bad)?;
            }
            Long("restart-limit") => {
                let value = parser.value()?.string()?;
                parsed.restart_limit = value
                    .split_once('/')
                    .and_then(|(n, secs)| {
                        let restarts = n.parse::<u32>().ok().filter(|n| *n > 0)?;
                        let interval = parse_seconds(secs, "").ok().filter(|d| !d.is_zero())?;
                        Some(RestartLimit { restarts, interval })
                    })
                    .ok_or_else(|| bad(format!("--restart-limit {value:?}: expected N/SECS, e.g. 5/60")))?;
            }
            Long("no-supervise") => parsed.supervise = false,
            Long("env") => {
                let value = parser.value()?;
                let bytes = std::os::unix::ffi::OsStrExt::as_bytes(value.as_os_str());
                let (name, assigned) = match bytes.iter().position(|&b| b == b'=') {
                    Some(at) if at > 0 => (&bytes[..at], &bytes[at + 1..]),
                    _ => return Err(bad(format!("--env {value:?}: expected NAME=VALUE"))),
                };
                use std::os::unix::ffi::OsStrExt as _;
                parsed.env.push((
                    OsString::from(std::ffi::OsStr::from_bytes(name)),
                    OsString::from(std::ffi::OsStr::from_bytes(assigned)),
                ));
            }
            Long("clear-env") => parsed.clear_env = true,
            Long("env-file") => env_files.push(path_value(parser.value()?, "--env-file").map_err(&bad)?),
            Long("nice") => {
                let value = parser.value()?.string()?;
                parsed.nice = Some(
                    value
                        .parse::<i32>()
                        .ok()
                        .filter(|n| (-20..=19).contains(n))
                        .ok_or_else(|| bad(format!("--nice {value:?}: not a nice value from -20 to 19")))?,
                );
            }
            Long("limit") => parsed.settings.limits.push(parse_limit(&parser.value()?.string()?).map_err(&bad)?),
            Long("ionice") => parsed.settings.ionice = Some(parse_ionice(&parser.value()?.string()?).map_err(&bad)?),
            Long("oom-score-adj") => {
                parsed.settings.oom_score_adj = Some(parse_oom_score_adj(&parser.value()?.string()?).map_err(&bad)?);
            }
            Long("no-new-privileges") => {
                check_no_new_privileges().map_err(&bad)?;
                parsed.settings.no_new_privileges = true;
            }
            Long("chroot") => parsed.chroot = Some(PathBuf::from(parser.value()?)),
            // Each --syslog-* option implies --syslog, as daemon(8)'s -T, -l and -s imply -S.
            Long("syslog") => {
                parsed.syslog.get_or_insert_with(Default::default);
                restart_options.push("--syslog");
            }
            Long("syslog-tag") => {
                let tag = parser.value()?.string()?;
                if tag.is_empty() || tag.contains(|c: char| c.is_whitespace() || c == '[' || c == ':') {
                    return Err(bad(format!("--syslog-tag {tag:?}: no spaces, '[' or ':'")));
                }
                parsed.syslog.get_or_insert_with(Default::default).tag = Some(tag);
                restart_options.push("--syslog");
            }
            Long("syslog-facility") => {
                let name = parser.value()?.string()?;
                parsed.syslog.get_or_insert_with(Default::default).facility = crate::relay::parse_facility(&name)
                    .ok_or_else(|| {
                        bad(format!("--syslog-facility {name:?}: expected daemon, user, local0..local7, ..."))
                    })?;
                restart_options.push("--syslog");
            }
            Long("syslog-priority") => {
                let name = parser.value()?.string()?;
                parsed.syslog.get_or_insert_with(Default::default).priority = crate::relay::parse_priority(&name)
                    .ok_or_else(|| {
                        bad(format!("--syslog-priority {name:?}: expected emerg .. debug (notice, info, err, ...)"))
                    })?;
                restart_options.push("--syslog");
            }
            Long("syslog-socket") => {
                parsed.syslog.get_or_insert_with(Default::default).socket = PathBuf::from(parser.value()?);
                restart_options.push("--syslog");
            }
            Long("quiet") | Short('q') => crate::report::set_quiet(),
            // `restart`'s stop options (with `--timeout`, which applies to both halves).
            Long("signal") if stop_options => {
                parsed.stop_signal =
                    Some(crate::options::parse_signal(&parser.value()?.string()?, "--signal").map_err(&bad)?);
            }
            Long("kill") if stop_options => parsed.stop_kill = true,
            Long("retry") if stop_options => parsed.stop_retry = Some(parser.value()?.string()?),
            Long("oknodo") if command == Command::Start => parsed.oknodo = true,
            Long("foreground") => parsed.foreground = true,
            Long("help") | Short('h') => {
                say(help);
                return Ok(None);
            }
            Value(value) => {
                program.push(value);
                program.extend(parser.raw_args()?);
            }
            _ => return Err(bad(arg.unexpected().to_string())),
        }
    }
    parsed.pidfile = match pidfile {
        Some(pidfile) => Some(pidfile),
        // A container's init, or a service manager's child, need not have one.
        None if command == Command::Run || (command == Command::Start && parsed.foreground) => None,
        None => return Err(bad("--pidfile FILE is required".into())),
    };
    if command == Command::Run && !parsed.supervise {
        return Err(bad("run is the supervisor: --no-supervise is for start".into()));
    }
    if program.is_empty() {
        return Err(bad("a PROGRAM to run is required after --".into()));
    }
    if !parsed.supervise {
        if let Some(option) = restart_options.first() {
            return Err(bad(format!("{option} needs the supervisor; it cannot be used with --no-supervise")));
        }
    }
    let listened = parsed.listen_fds.len() as RawFd;
    for (n, (fd, _)) in parsed.listen_fds.iter().enumerate() {
        if parsed.listen_fds[..n].iter().any(|(other, _)| other == fd) {
            return Err(bad(format!("--listen-fd {fd} is given twice")));
        }
    }
    for (option, fd) in
        parsed.keep_fds.iter().map(|fd| ("--keep-fd", fd)).chain(parsed.notify_fd.iter().map(|fd| ("--notify-fd", fd)))
    {
        if *fd < 3 + listened || parsed.listen_fds.iter().any(|(listen, _)| listen == fd) {
            return Err(bad(format!(
                "{option} {fd}: with {listened} --listen-fd descriptor(s), which PROGRAM gets as 3..{}, other descriptors must be above {}",
                2 + listened,
                2 + listened
            )));
        }
    }
    for path in &env_files {
        parsed.file_env.extend(crate::env_file::read(path).map_err(Failure::Error)?);
    }
    parsed.program = program.remove(0);
    parsed.args = program;
    Ok(Some(parsed))
}

impl StartArgs {
    /// The descriptors PROGRAM inherits: the `--listen-fd` ones (moved to 3, 4, … by `start`
    /// before daemonizing), then the `--keep-fd` ones.
    pub(crate) fn passed_fds(&self) -> Vec<RawFd> {
        (3..3 + self.listen_fds.len() as RawFd).chain(self.keep_fds.iter().copied()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::IoPriority;

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    fn parsed(command: Command, list: &[&str]) -> StartArgs {
        match parse(args(list), USAGE, command) {
            Ok(Some(parsed)) => parsed,
            Ok(None) => panic!("{list:?}: help"),
            Err(Failure::Usage(message, _) | Failure::StatusUsage(message, _) | Failure::Error(message)) => {
                panic!("{list:?}: {message}")
            }
        }
    }

    fn start(list: &[&str]) -> StartArgs {
        parsed(Command::Start, list)
    }

    /// The usage error for `list` (start's, unless `command`).
    fn refused_by(command: Command, list: &[&str]) -> String {
        match parse(args(list), USAGE, command) {
            Err(Failure::Usage(message, usage)) => {
                assert!(usage == USAGE || usage.is_empty(), "{message}");
                message
            }
            Err(Failure::StatusUsage(message, _) | Failure::Error(message)) => panic!("{list:?}: not usage: {message}"),
            Ok(_) => panic!("{list:?}: accepted"),
        }
    }

    fn refused(list: &[&str]) -> String {
        refused_by(Command::Start, list)
    }

    #[test]
    fn the_defaults() {
        let a = start(&["--pidfile", "/run/p.pid", "--", "prog", "a", "--b"]);
        assert_eq!(a.pidfile, Some(PathBuf::from("/run/p.pid")));
        assert_eq!((a.program.as_os_str(), a.args.as_slice()), ("prog".as_ref(), &args(&["a", "--b"])[..]));
        assert!(!a.run && !a.foreground && a.supervise && !a.append && !a.clear_env && !a.oknodo);
        assert!(!a.notify_await && !a.timeout_given && !a.stop_kill);
        assert_eq!((a.chdir, a.umask, a.pidfile_mode, a.nice), (None, None, None, None));
        assert_eq!((a.stdout, a.stderr, a.child_pidfile, a.chroot), (None, None, None, None));
        assert_eq!((a.user, a.group, a.notify_fd), (None, None, None));
        assert_eq!(a.notify_timeout, Duration::from_secs(60));
        assert_eq!(a.timeout, Duration::from_secs(5));
        assert_eq!(a.restart, Restart::No);
        assert_eq!(a.restart_delay, Duration::from_secs(1));
        assert_eq!(a.restart_limit, RestartLimit { restarts: 5, interval: Duration::from_secs(60) });
        assert!(a.keep_fds.is_empty() && a.listen_fds.is_empty() && a.env.is_empty() && a.file_env.is_empty());
        assert!(a.settings.limits.is_empty() && a.settings.ionice.is_none() && a.settings.oom_score_adj.is_none());
        assert!(!a.settings.no_new_privileges);
        assert_eq!(a.syslog, None);
        assert_eq!((a.stop_signal, a.stop_retry), (None, None));
        // A program without `--`.
        assert_eq!(start(&["--pidfile", "p", "prog", "--x"]).args, args(&["--x"]));
    }

    #[test]
    fn every_option_is_taken() {
        let a = start(&[
            "--pidfile=p",
            "--chdir=/srv",
            "--pidfile-mode=644",
            "--umask=027",
            "--stdout=/o",
            "--stderr=/e",
            "--append",
            "--user=nobody",
            "--group=65534",
            "--listen-fd=3:web",
            "--listen-fd=4",
            "--keep-fd=7",
            "--notify-fd=8",
            "--notify-await",
            "--notify-timeout=2.5",
            "--child-pidfile=/c.pid",
            "--timeout=7",
            "--restart=on-failure",
            "--restart-delay=0.5",
            "--restart-limit=3/10",
            "--env=A=1=2",
            "--env=B=",
            "--clear-env",
            "--nice=-5",
            "--limit=nofile=10:20",
            "--ionice=idle",
            "--oom-score-adj=-17",
            "--no-new-privileges",
            "--chroot=/jail",
            "--syslog-tag=web",
            "--syslog-facility=local3",
            "--syslog-priority=info",
            "--syslog-socket=/s",
            "--oknodo",
            "--foreground",
            "--",
            "prog",
        ]);
        assert_eq!(a.chdir, Some("/srv".into()));
        assert_eq!((a.pidfile_mode, a.umask), (Some(0o644), Some(0o027)));
        assert_eq!((a.stdout, a.stderr, a.append), (Some("/o".into()), Some("/e".into()), true));
        assert_eq!((a.user, a.group), (Some(Account::Name("nobody".into())), Some(Account::Id(65534))));
        assert_eq!(a.listen_fds, [(3, Some("web".to_owned())), (4, None)]);
        assert_eq!((a.keep_fds, a.notify_fd), (vec![7], Some(8)));
        assert!(a.notify_await);
        assert_eq!(a.notify_timeout, Duration::from_millis(2500));
        assert_eq!(a.child_pidfile, Some("/c.pid".into()));
        assert_eq!((a.timeout, a.timeout_given), (Duration::from_secs(7), true));
        assert_eq!(a.restart, Restart::OnFailure);
        assert_eq!(a.restart_delay, Duration::from_millis(500));
        assert_eq!(a.restart_limit, RestartLimit { restarts: 3, interval: Duration::from_secs(10) });
        assert_eq!(a.env, [("A".into(), "1=2".into()), ("B".into(), "".into())]);
        assert!(a.clear_env);
        assert_eq!(a.nice, Some(-5));
        assert_eq!(a.settings.limits, [crate::limits::parse_limit("nofile=10:20").unwrap()]);
        assert_eq!(a.settings.ionice, Some(IoPriority { class: 3, level: 0 }));
        assert_eq!(a.settings.oom_score_adj, Some(-17));
        assert!(a.settings.no_new_privileges);
        assert_eq!(a.chroot, Some("/jail".into()));
        let syslog = a.syslog.unwrap();
        assert_eq!((syslog.tag.as_deref(), syslog.facility, syslog.priority), (Some("web"), 19, 6));
        assert_eq!(syslog.socket, PathBuf::from("/s"));
        assert!(a.oknodo && a.foreground && !a.run);
        assert_eq!(start(&["--pidfile=p", "--restart=always", "x"]).restart, Restart::Always);
        assert_eq!(start(&["--pidfile=p", "--restart=on-failure", "--restart=no", "x"]).restart, Restart::No);
        assert_eq!(start(&["--pidfile=p", "--syslog", "x"]).syslog, Some(crate::relay::SyslogOptions::default()));
        assert!(!start(&["--pidfile=p", "--no-supervise", "x"]).supervise);
    }

    #[test]
    fn a_pid_file_and_a_program_are_required() {
        assert!(refused(&["--", "prog"]).contains("--pidfile FILE is required"));
        assert!(refused_by(Command::Restart, &["prog"]).contains("--pidfile FILE is required"));
        assert!(refused(&["--pidfile", "p"]).contains("a PROGRAM to run is required"));
        assert!(refused(&["--pidfile", "p", "--"]).contains("a PROGRAM to run is required"));
        assert!(refused(&["--pidfile", "", "x"]).contains("--pidfile needs a path"));
        // `run`, and `start --foreground`, need no PID file.
        let run = parsed(Command::Run, &["prog"]);
        assert!(run.run && run.foreground && run.pidfile.is_none());
        assert!(start(&["--foreground", "prog"]).pidfile.is_none());
        assert!(refused_by(Command::Restart, &["--foreground", "prog"]).contains("--pidfile FILE is required"));
        assert!(refused_by(Command::Run, &["--no-supervise", "prog"]).contains("run is the supervisor"));
    }

    #[test]
    fn bad_values_name_the_option() {
        for (list, expected) in [
            (&["--pidfile-mode=700"][..], "--pidfile-mode \"700\""),
            (&["--pidfile-mode=400"], "--pidfile-mode \"400\""),
            (&["--pidfile-mode=9"], "--pidfile-mode \"9\""),
            (&["--umask=1000"], "--umask \"1000\""),
            (&["--umask=8"], "--umask \"8\""),
            (&["--listen-fd=2"], "--listen-fd \"2\""),
            (&["--listen-fd=3:"], "--listen-fd \"3:\""),
            (&["--listen-fd=3:a b"], "--listen-fd \"3:a b\""),
            (&["--listen-fd=3:a:b"], "--listen-fd \"3:a:b\""),
            (&["--keep-fd=1"], "--keep-fd \"1\""),
            (&["--notify-fd=x"], "--notify-fd \"x\""),
            (&["--notify-timeout=-1"], "--notify-timeout \"-1\""),
            (&["--child-pidfile="], "--child-pidfile needs a path"),
            (&["--timeout=x"], "--timeout \"x\""),
            (&["--restart=sometimes"], "--restart \"sometimes\""),
            (&["--restart-delay=soon"], "--restart-delay \"soon\""),
            (&["--restart-limit=5"], "--restart-limit \"5\""),
            (&["--restart-limit=0/60"], "--restart-limit \"0/60\""),
            (&["--restart-limit=5/0"], "--restart-limit \"5/0\""),
            (&["--restart-limit=x/60"], "--restart-limit \"x/60\""),
            (&["--restart-limit=5/x"], "--restart-limit \"5/x\""),
            (&["--env=A"], "--env \"A\""),
            (&["--env==1"], "--env \"=1\""),
            (&["--env-file="], "--env-file needs a path"),
            (&["--nice=20"], "--nice \"20\""),
            (&["--nice=-21"], "--nice \"-21\""),
            (&["--limit=bogus=1"], "--limit \"bogus=1\""),
            (&["--ionice=fast"], "--ionice \"fast\""),
            (&["--oom-score-adj=1001"], "--oom-score-adj \"1001\""),
            (&["--syslog-tag="], "--syslog-tag \"\""),
            (&["--syslog-tag=a b"], "--syslog-tag \"a b\""),
            (&["--syslog-tag=a[1]"], "--syslog-tag \"a[1]\""),
            (&["--syslog-tag=a:"], "--syslog-tag \"a:\""),
            (&["--syslog-facility=local8"], "--syslog-facility \"local8\""),
            (&["--syslog-priority=loud"], "--syslog-priority \"loud\""),
            (&["--bogus"], "--bogus"),
        ] {
            let mut all = vec!["--pidfile=p"];
            all.extend_from_slice(list);
            all.push("prog");
            let message = refused(&all);
            assert!(message.contains(expected), "{all:?}: {message}");
        }
        assert_eq!(start(&["--pidfile=p", "--pidfile-mode=600", "x"]).pidfile_mode, Some(0o600));
        assert_eq!(start(&["--pidfile=p", "--pidfile-mode=666", "x"]).pidfile_mode, Some(0o666));
        assert_eq!(start(&["--pidfile=p", "--umask=777", "x"]).umask, Some(0o777));
        assert_eq!(start(&["--pidfile=p", "--nice=19", "x"]).nice, Some(19));
        assert_eq!(start(&["--pidfile=p", "--nice=-20", "x"]).nice, Some(-20));
        let name = "n".repeat(255);
        assert_eq!(start(&["--pidfile=p", &format!("--listen-fd=3:{name}"), "x"]).listen_fds[0].1, Some(name.clone()));
        assert!(refused(&["--pidfile=p", &format!("--listen-fd=3:{name}n"), "x"]).contains("a NAME is 1 to 255"));
        assert!(refused(&["--pidfile=p", "--syslog-tag=a\tb", "x"]).contains("--syslog-tag"));
    }

    #[test]
    fn options_that_need_the_supervisor_are_refused_without_it() {
        for option in ["--notify-fd=5", "--notify-await", "--child-pidfile=c", "--restart=always", "--syslog"] {
            let message = refused(&["--pidfile=p", "--no-supervise", option, "x"]);
            let name = option.split('=').next().unwrap();
            assert!(message.contains(&format!("{name} needs the supervisor")), "{message}");
        }
        for option in ["--syslog-tag=t", "--syslog-facility=user", "--syslog-priority=err", "--syslog-socket=/s"] {
            assert!(refused(&["--pidfile=p", "--no-supervise", option, "x"]).contains("--syslog needs the supervisor"));
        }
        // `--restart no` is no restart: allowed.
        assert!(!start(&["--pidfile=p", "--no-supervise", "--restart=no", "x"]).supervise);
        // The first such option is named.
        let message = refused(&["--pidfile=p", "--notify-await", "--syslog", "--no-supervise", "x"]);
        assert!(message.starts_with("--notify-await needs"), "{message}");
    }

    #[test]
    fn passed_descriptors_do_not_collide() {
        let a = start(&["--pidfile=p", "--listen-fd=9", "--listen-fd=7:b", "--keep-fd=5", "--keep-fd=12", "x"]);
        assert_eq!(a.passed_fds(), [3, 4, 5, 12]);
        assert_eq!(start(&["--pidfile=p", "--keep-fd=3", "x"]).passed_fds(), [3]);
        assert!(
            refused(&["--pidfile=p", "--listen-fd=5", "--listen-fd=5:x", "x"]).contains("--listen-fd 5 is given twice")
        );
        // With two listened descriptors (3 and 4 for PROGRAM), 4 is taken, 5 is free.
        let message = refused(&["--pidfile=p", "--listen-fd=8", "--listen-fd=9", "--keep-fd=4", "x"]);
        assert!(message.starts_with("--keep-fd 4: with 2 --listen-fd descriptor(s)"), "{message}");
        assert!(message.contains("as 3..4, other descriptors must be above 4"), "{message}");
        assert_eq!(start(&["--pidfile=p", "--listen-fd=8", "--listen-fd=9", "--keep-fd=5", "x"]).keep_fds, [5]);
        // Nor may a kept descriptor be one that is moved.
        assert_eq!(
            refused(&["--pidfile=p", "--listen-fd=8", "--keep-fd=8", "x"]),
            "--keep-fd 8: with 1 --listen-fd descriptor(s), which PROGRAM gets as 3..3, other descriptors must be above 3"
        );
        assert!(refused(&["--pidfile=p", "--listen-fd=8", "--notify-fd=3", "x"]).starts_with("--notify-fd 3:"));
        assert_eq!(start(&["--pidfile=p", "--listen-fd=8", "--notify-fd=4", "x"]).notify_fd, Some(4));
    }

    #[test]
    fn stop_options_belong_to_restart_and_oknodo_to_start() {
        let a = parsed(Command::Restart, &["--pidfile=p", "--signal=HUP", "--kill", "--retry=TERM/5", "x"]);
        assert_eq!(a.stop_signal, Some(rustix::process::Signal::HUP));
        assert!(a.stop_kill);
        assert_eq!(a.stop_retry.as_deref(), Some("TERM/5"));
        assert!(refused_by(Command::Restart, &["--pidfile=p", "--signal=BOGUS", "x"]).contains("--signal \"BOGUS\""));
        for option in ["--signal=HUP", "--kill", "--retry=5"] {
            assert!(refused(&["--pidfile=p", option, "x"]).contains(option.split('=').next().unwrap()));
            assert!(refused_by(Command::Run, &[option, "x"]).contains(option.split('=').next().unwrap()));
        }
        assert!(refused_by(Command::Restart, &["--pidfile=p", "--oknodo", "x"]).contains("--oknodo"));
        assert!(refused_by(Command::Run, &["--oknodo", "x"]).contains("--oknodo"));
    }

    #[test]
    fn env_files_are_read_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let (first, second) = (dir.path().join("a.env"), dir.path().join("b.env"));
        std::fs::write(&first, "A=1\nB=2\n").unwrap();
        std::fs::write(&second, "B=3\n").unwrap();
        let a =
            start(&["--pidfile=p", "--env-file", first.to_str().unwrap(), "--env-file", second.to_str().unwrap(), "x"]);
        assert_eq!(a.file_env, [("A".into(), "1".into()), ("B".into(), "2".into()), ("B".into(), "3".into())]);
        let missing = dir.path().join("missing.env");
        match parse(args(&["--pidfile=p", "--env-file", missing.to_str().unwrap(), "x"]), USAGE, Command::Start) {
            Err(Failure::Error(message)) => assert!(message.starts_with("--env-file "), "{message}"),
            _ => panic!("a missing --env-file is an error, not a usage error"),
        }
    }
}
