//! The supervisor: holds the PID file's lock, runs PROGRAM as its child, forwards signals, ends
//! what PROGRAM leaves behind, restarts it by policy, and removes the PID file last.
//!
//! It waits in one `poll` on the signal pipe (and the notification socket), with a timeout only
//! while a deadline runs (a restart delay, a kill timeout, the READY=1 timeout): an idle
//! supervisor never wakes up.

use std::ffi::OsString;
use std::os::fd::BorrowedFd;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use daemonic::DaemonGuard;
use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::io::Errno;
use rustix::process::{Pid, Signal, WaitOptions, WaitStatus};

use crate::descriptors::set_cloexec;
use crate::files::WrittenFile;
use crate::notify_socket::NotifySocket;
use crate::options::seconds;
use crate::program::{Forked, SpawnError};
use crate::relay::Relay;
use crate::report::{chain, esay, os_message};
use crate::restart_policy::{times, Decision, Ended, Restarts};
use crate::signals::SignalPipe;
use crate::spawn;
use crate::start_options::StartArgs;
use crate::state::{self, State};
use crate::sys;
use crate::tree::{self, Record};

struct Supervisor<'a> {
    args: &'a StartArgs,
    guard: Option<DaemonGuard>,
    signals: SignalPipe,
    notify: Option<NotifySocket>,
    me: Pid,
    /// The signal a stop was requested with, once it was.
    stop: Option<Signal>,
    /// A KILL was requested (`KILL_REQUEST`): no more TERM and waiting, KILL everything now.
    kill_now: bool,
    /// The last `STATUS=` PROGRAM sent, for a failure message.
    last_status: Option<String>,
    /// PROGRAM's pid in `--child-pidfile`, while it is written.
    child_pidfile: Option<WrittenFile>,
    /// The tree record next to the PID file (`tree.rs`), removed once the tree has ended.
    record: Option<WrittenFile>,
    /// Notifications for an outer service manager that arrived with READY=1: passed on after
    /// the supervisor's own READY=1.
    after_ready: Vec<String>,
    /// PROGRAM's output, through the supervisor to the log files and syslog (`relay.rs`).
    relay: Option<std::cell::RefCell<Relay>>,
    /// What `status` reads next to the PID file (`state.rs`), and its file.
    state: State,
    state_file: Option<WrittenFile>,
    /// `--restart` gave up: the PID file and the state record are left for `status` (LSB 1).
    gave_up: bool,
}

/// Runs in the daemon until the service ends; returns the supervisor's exit status.
pub(crate) fn run(guard: DaemonGuard, args: &StartArgs) -> ExitCode {
    let me = rustix::process::getpid();
    let signals = match SignalPipe::install() {
        Ok(signals) => signals,
        Err(e) => return failed(guard, format!("cannot install signal handlers: {}", os_message(&e))),
    };
    if let Err(e) = sys::become_reaper() {
        return failed(guard, format!("cannot become the reaper of the program's processes: {}", os_message(&e)));
    }
    // Descriptors the supervisor keeps for PROGRAM (again after each restart): close-on-exec
    // here, made inheritable in the child only. The readiness descriptor never reaches PROGRAM.
    for &fd in args.passed_fds().iter().chain(&args.notify_fd) {
        // SAFETY: `daemonize` checked these are open and kept them (the guard owns the
        // readiness one and keeps it open until ready).
        if let Err(e) = set_cloexec(unsafe { BorrowedFd::borrow_raw(fd) }) {
            return failed(guard, format!("descriptor {fd}: {}", os_message(&e)));
        }
    }
    let notify = if args.notify_await {
        let owner =
            guard.credentials().map(|c| (c.uid().unwrap_or_else(|| rustix::process::getuid().as_raw()), c.gid()));
        match NotifySocket::create(owner) {
            Ok(socket) => Some(socket),
            Err(e) => return failed(guard, format!("cannot create the notification socket: {}", os_message(&e))),
        }
    } else {
        None
    };
    // Relayed when there is somewhere to relay to: log files (so that they can be reopened) or
    // syslog. Otherwise PROGRAM inherits the supervisor's standard output and error.
    let relay = if args.syslog.is_some() || args.stdout.is_some() || args.stderr.is_some() {
        let tag = args.syslog.as_ref().map(|options| {
            let program = std::path::Path::new(&args.program);
            let default = program.file_name().unwrap_or(program.as_os_str()).to_string_lossy().into_owned();
            (options.clone(), options.tag.clone().unwrap_or(default))
        });
        match Relay::new(
            args.stdout.clone(),
            args.stderr.clone(),
            tag,
            guard.credentials().cloned(),
            args.foreground,
            args.append,
        ) {
            Ok(relay) => Some(std::cell::RefCell::new(relay)),
            Err(e) => return failed(guard, format!("cannot set up the log relay: {}", os_message(&e))),
        }
    } else {
        None
    };
    let mut supervisor = Supervisor {
        args,
        guard: Some(guard),
        signals,
        notify,
        me,
        stop: None,
        kill_now: false,
        last_status: None,
        child_pidfile: None,
        record: None,
        after_ready: Vec::new(),
        relay,
        state: State::default(),
        state_file: None,
        gave_up: false,
    };
    supervisor.take_over_tree();
    let code = supervisor.supervise();
    supervisor.finish();
    ExitCode::from(code)
}

/// A failure before PROGRAM ran: the launcher reports it, the PID file is removed.
fn failed(guard: DaemonGuard, message: String) -> ExitCode {
    let _ = guard.fail(&message);
    esay(&format!("daemonic: {message}\n"));
    ExitCode::from(1)
}

impl Supervisor<'_> {
    fn program(&self) -> String {
        self.args.program.to_string_lossy().into_owned()
    }

    fn log(&self, message: &str) {
        let line = format!("daemonic[{}]: {message}", self.me.as_raw_nonzero());
        match &self.relay {
            Some(relay) => relay.borrow_mut().own_line(&line),
            // Never waits on a standard error nobody reads (`--foreground` under a pipe).
            None => {
                let _ = crate::relay::write_bounded(rustix::stdio::stderr(), format!("{line}\n").as_bytes());
            }
        }
    }

    /// Before PROGRAM runs (the PID file locked, so no other supervisor of it runs): ends what
    /// a KILLed supervisor of the same PID file left running, then records this one's tree.
    fn take_over_tree(&mut self) {
        let Some(pidfile) = self.guard.as_ref().and_then(DaemonGuard::pidfile) else { return };
        let path = pidfile.path().to_path_buf();
        let identity = tree::identity(pidfile).ok();
        if let Some(identity) = identity {
            // For the state record too (`write_state`).
            self.state.pidfile = identity;
        }
        let old = pidfile.parent_dir().zip(identity);
        if let Some(old) = old.and_then(|(dir, identity)| Record::read(dir, identity)) {
            let ended = old.end_leftovers(self.args.timeout);
            if ended > 0 {
                self.log(&format!(
                    "ended {ended} process(es) a killed supervisor of {} had left running",
                    path.display()
                ));
            }
        }
        let Some(pidfile) = self.guard.as_ref().and_then(DaemonGuard::pidfile) else { return };
        // A failed predecessor's state record says nothing about this run.
        if let (Some(dir), Some(identity)) = (pidfile.parent_dir(), identity) {
            if let Some((_, file)) = State::read(dir, identity) {
                file.remove();
            }
        }
        match Record::of_this_supervisor(pidfile, !self.args.foreground).and_then(|record| record.write(pidfile)) {
            Ok(file) => self.record = Some(file),
            Err(e) => self.log(&format!("cannot write {}: {}", tree::path(&path).display(), os_message(&e))),
        }
    }

    fn is_ready(&self) -> bool {
        self.guard.as_ref().is_some_and(DaemonGuard::is_ready)
    }

    /// Before readiness: the launcher reports `message` and exits non-zero.
    fn fail_start(&mut self, message: String) -> u8 {
        self.log(&message);
        if let Some(guard) = self.guard.take() {
            let _ = guard.fail(&message);
        }
        1
    }

    /// Runs PROGRAM, again and again as the policy says; returns the exit code.
    fn supervise(&mut self) -> u8 {
        let mut restarts = Restarts::new(self.args.restart, self.args.restart_limit, self.args.restart_delay);
        loop {
            let started = Instant::now();
            // The state record names PROGRAM before readiness (on Linux its `exec` is known by
            // now; elsewhere this overlaps it); an exec that fails rewrites it below, or before
            // readiness removes it with the PID file.
            let spawned = self.spawn().and_then(|forked| {
                self.state.program = Some(forked.pid().as_raw_nonzero().get() as u32);
                self.state.since = Some(state::now());
                self.write_state();
                forked.wait_exec()
            });
            let ended = match spawned {
                Ok(child) => {
                    self.write_child_pidfile(child);
                    if !self.is_ready() {
                        if let Err((message, code)) = self.become_ready(child) {
                            return code.max(self.fail_start(message));
                        }
                    }
                    let ended = self.wait_for(child, false);
                    self.clean_up_after(child);
                    ended
                }
                Err(e) => {
                    let message = e.describe(self.args);
                    if !self.is_ready() {
                        return self.fail_start(message);
                    }
                    self.log(&message);
                    Ended::NotExecuted
                }
            };
            self.state.program = None;
            self.state.since = None;
            self.state.last = Some(ended.summary());
            if self.stop.is_some() {
                // As tini and dumb-init do, a container's init exits with PROGRAM's status
                // (128+N after signal N) even when it passed the stop signal on; a daemon's
                // supervisor reports the stop it was asked for as done.
                return if self.args.run { ended.code() } else { 0 };
            }
            self.write_state();
            match restarts.decide(ended, started.elapsed(), Instant::now()) {
                Decision::Exit(code) => {
                    self.log(&format!("{} {}", self.program(), ended.describe()));
                    return code;
                }
                Decision::GiveUp { code, restarts } => {
                    self.log(&format!(
                        "{} {}; restarted {} within {}: giving up",
                        self.program(),
                        ended.describe(),
                        times(restarts),
                        seconds(self.args.restart_limit.interval)
                    ));
                    self.state.gave_up = Some(state::now());
                    self.write_state();
                    self.gave_up = true;
                    return code;
                }
                Decision::Restart { delay, nth } => {
                    self.state.restarts += 1;
                    self.log(&format!("{} {}; restart {nth} in {}", self.program(), ended.describe(), seconds(delay)));
                    if !self.sleep(delay) {
                        return 0;
                    }
                }
            }
        }
    }

    /// Forks PROGRAM's process (`spawn.rs`), its output through the relay if there is one; its
    /// `exec` is yet to be waited for.
    fn spawn(&self) -> Result<Forked, SpawnError> {
        let extra: Vec<(OsString, OsString)> =
            self.notify.iter().map(|n| ("NOTIFY_SOCKET".into(), n.path().as_os_str().to_owned())).collect();
        let credentials = self.guard.as_ref().and_then(|g| g.credentials());
        let relay = self.relay.as_ref().map(|relay| relay.borrow());
        let stdio = relay.as_ref().map(|relay| relay.program_stdio());
        let forked = spawn::spawn(self.args, &extra, credentials, self.me, stdio)?;
        drop(relay);
        if let Some(relay) = &self.relay {
            relay.borrow_mut().pid = forked.pid().as_raw_nonzero().get() as u32;
        }
        Ok(forked)
    }

    /// Readiness: `exec` succeeded, or with `--notify-await` PROGRAM sent `READY=1`. Then the
    /// launcher exits 0. On failure: the message and the code to exit with; PROGRAM and what
    /// it started are ended.
    fn become_ready(&mut self, child: Pid) -> Result<(), (String, u8)> {
        if self.notify.is_some() {
            let deadline = Instant::now() + self.args.notify_timeout;
            loop {
                match self.next_event(Some(deadline), Some(child)) {
                    Event::Ready => break,
                    Event::Exited(ended) => {
                        self.clean_up_after(child);
                        return Err((
                            self.not_ready(&format!(
                                "{} {} before it reported READY=1",
                                self.program(),
                                ended.describe()
                            )),
                            1,
                        ));
                    }
                    Event::Deadline => {
                        let late = format!(
                            "{} did not report READY=1 within {}",
                            self.program(),
                            seconds(self.args.notify_timeout)
                        );
                        self.log(&format!("{late}; stopping it"));
                        self.terminate(child);
                        return Err((self.not_ready(&late), 1));
                    }
                    Event::Other => {}
                }
            }
        }
        // The guard is only taken when the supervisor ends (after a failed start, or in
        // `finish`): without one there is nobody left to tell.
        let Some(guard) = self.guard.as_mut() else { return Ok(()) };
        if let Err(e) = guard.ready() {
            // The launcher could not be told (or the readiness descriptor written): PROGRAM
            // runs for nobody; end it rather than leave it without its supervisor.
            self.terminate(child);
            return Err((chain(&e), 1));
        }
        for passed_on in std::mem::take(&mut self.after_ready) {
            let _ = guard.notify(&passed_on);
        }
        Ok(())
    }

    /// Ends PROGRAM: TERM, KILL `--timeout` later; then what it left.
    fn terminate(&mut self, child: Pid) {
        self.signal(child, Signal::TERM);
        let _ = self.wait_for(child, true);
        self.clean_up_after(child);
    }

    /// After PROGRAM exited: its `--child-pidfile` goes, and whatever it left running is ended.
    fn clean_up_after(&mut self, child: Pid) {
        self.child_pidfile = None;
        self.end_leftovers(child);
    }

    fn not_ready(&self, message: &str) -> String {
        match &self.last_status {
            Some(status) => format!("{message} (last status: {status})"),
            None => message.to_owned(),
        }
    }

    /// Waits until PROGRAM exits, forwarding signals; after a stop request (or when the caller
    /// just sent TERM itself: `terminated`), KILL follows `--timeout` later.
    fn wait_for(&mut self, child: Pid, terminated: bool) -> Ended {
        let mut kill_at: Option<Instant> =
            (terminated || self.stop.is_some()).then(|| Instant::now() + self.args.timeout);
        loop {
            let stop_before = self.stop.is_some();
            match self.next_event(kill_at, Some(child)) {
                Event::Exited(ended) => return ended,
                Event::Deadline => {
                    self.log(&format!(
                        "{} (pid {child}) still running {} after the stop signal; sending SIGKILL",
                        self.program(),
                        seconds(self.args.timeout)
                    ));
                    self.signal(child, Signal::KILL);
                    let _ = rustix::process::kill_process_group(child, Signal::KILL);
                    kill_at = None;
                }
                Event::Ready | Event::Other => {}
            }
            if !stop_before && self.stop.is_some() {
                kill_at = Some(Instant::now() + self.args.timeout);
            }
        }
    }

    /// Ends what PROGRAM left running: every process reparented to the supervisor (with a
    /// reaper), else PROGRAM's process group. TERM, then KILL after `--timeout` (at once after
    /// a KILL request).
    ///
    /// Only what is provably ours is signalled. With a reaper, the supervisor's children: a
    /// child's pid cannot be reused before it is reaped, and a child that leads a process group
    /// keeps that group's id ours too. PROGRAM itself is reaped by now, so its group id is not
    /// used there. Without a reaper (macOS, NetBSD, OpenBSD, DragonFly) the group is the only
    /// handle: it is signalled only while no process has the group's id as its pid (a new group
    /// with that id needs a new leader with that pid; while members of ours live, the id cannot
    /// be given to one).
    fn end_leftovers(&mut self, group: Pid) {
        let mut signal = Signal::TERM;
        let mut deadline = Instant::now() + self.args.timeout;
        loop {
            if self.kill_now && signal == Signal::TERM {
                signal = Signal::KILL;
                deadline = Instant::now() + Duration::from_secs(5);
            }
            reap_all();
            let children = sys::children();
            let group_alive = !sys::REAPER
                && rustix::process::test_kill_process(group) == Err(Errno::SRCH)
                && rustix::process::test_kill_process_group(group).is_ok();
            if children.is_empty() && !group_alive {
                return;
            }
            if group_alive {
                let _ = rustix::process::kill_process_group(group, signal);
                if signal == Signal::TERM {
                    let _ = rustix::process::kill_process_group(group, Signal::CONT);
                }
            }
            for &pid in &children {
                self.signal(pid, signal);
                // A leftover may lead a process group of its own (a shell's job).
                let _ = rustix::process::kill_process_group(pid, signal);
                if signal == Signal::TERM {
                    self.signal(pid, Signal::CONT);
                }
            }
            match self.next_event(Some(deadline), None) {
                Event::Deadline if signal == Signal::TERM => {
                    self.log(&format!(
                        "processes {} left are still running {} after SIGTERM; sending SIGKILL",
                        self.program(),
                        seconds(self.args.timeout)
                    ));
                    signal = Signal::KILL;
                    deadline = Instant::now() + Duration::from_secs(5);
                }
                Event::Deadline => {
                    self.log("processes survived SIGKILL; leaving them");
                    return;
                }
                _ => {}
            }
        }
    }

    /// Waits `delay` before a restart; `false` when a stop was requested meanwhile.
    fn sleep(&mut self, delay: Duration) -> bool {
        let deadline = Instant::now() + delay;
        while self.stop.is_none() {
            if let Event::Deadline = self.next_event(Some(deadline), None) {
                return true;
            }
        }
        false
    }

    /// Blocks until something happens: a signal (handled here: stop requests recorded and
    /// forwarded, other signals forwarded, children reaped), a notification, or `deadline`.
    fn next_event(&mut self, deadline: Option<Instant>, child: Option<Pid>) -> Event {
        loop {
            let timeout = deadline.map(|at| {
                let left = at.saturating_duration_since(Instant::now());
                Timespec { tv_sec: left.as_secs().min(i32::MAX as u64) as _, tv_nsec: left.subsec_nanos() as _ }
            });
            if timeout.as_ref().is_some_and(|t| t.tv_sec == 0 && t.tv_nsec == 0) {
                return Event::Deadline;
            }
            let relay = self.relay.as_ref().map(|relay| relay.borrow());
            let mut fds = vec![PollFd::new(&self.signals, PollFlags::IN)];
            if let Some(notify) = &self.notify {
                fds.push(PollFd::new(notify, PollFlags::IN));
            }
            if let Some(relay) = &relay {
                fds.extend(relay.fds().map(|fd| PollFd::from_borrowed_fd(fd, PollFlags::IN)));
            }
            let polled = rustix::event::poll(&mut fds, timeout.as_ref());
            // The relay's pipes come last; read them only when one is readable.
            let output = fds.iter().skip(1 + usize::from(self.notify.is_some())).any(|fd| !fd.revents().is_empty());
            drop(fds);
            drop(relay);
            if let (true, Some(relay)) = (output, &self.relay) {
                relay.borrow_mut().drain();
            }
            match polled {
                Ok(0) => return Event::Deadline,
                Ok(_) | Err(Errno::INTR) => {}
                Err(e) => {
                    self.log(&format!("poll: {}", os_message(&e.into())));
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
            let mut event = Event::Other;
            let (stopping, killing) = (self.stop.is_some(), self.kill_now);
            if let Some(notify) = &self.notify {
                for message in notify.receive() {
                    if let Some(status) = &message.status {
                        self.log(&format!("{}: {status}", self.program()));
                        self.last_status = Some(status.clone());
                    }
                    if message.passed_on.is_empty() {
                        // Nothing for an outer service manager.
                    } else if message.ready && !self.is_ready() {
                        self.after_ready.push(message.passed_on.clone());
                    } else if let Some(guard) = &self.guard {
                        // An outer service manager hears what PROGRAM says (STATUS=, ...).
                        let _ = guard.notify(&message.passed_on);
                    }
                    if message.ready && !self.is_ready() {
                        event = Event::Ready;
                    }
                }
            }
            // Every signal of the batch is handled, whatever came before it in the batch (a
            // child's exit must not drop a stop request or a `reopen` that arrived with it).
            let mut reaped = false;
            let mut child = child;
            for signal in self.signals.take() {
                match signal {
                    libc::SIGCHLD => {
                        let exited = reap_all();
                        reaped |= !exited.is_empty();
                        if let Some(ended) = exited.into_iter().find(|(pid, _)| Some(*pid) == child).map(|(_, s)| s) {
                            // Reaped: its pid may be reused from now on, so nothing more of
                            // this batch is sent to it.
                            child = None;
                            event = Event::Exited(Ended::from(ended));
                        }
                    }
                    libc::SIGTERM | libc::SIGINT | libc::SIGQUIT => {
                        let raw = Signal::from_named_raw(signal).unwrap_or(Signal::TERM);
                        self.request_stop(raw);
                        if let Some(child) = child {
                            self.signal(child, raw);
                            // A stopped program (TSTP passed on) acts on it only once
                            // continued, as systemd does after its kill signal.
                            self.signal(child, Signal::CONT);
                        }
                    }
                    libc::SIGURG => self.reopen_logs(),
                    libc::SIGVTALRM => {
                        // `KILL_REQUEST`: `stop --kill`, `stop --signal KILL`, `signal KILL`: the supervisor
                        // cannot be asked with KILL itself, which would leave the tree behind.
                        self.request_stop(Signal::KILL);
                        self.kill_now = true;
                        if let Some(child) = child {
                            self.signal(child, Signal::KILL);
                            // PROGRAM's group: `child` is not reaped, so its id is ours.
                            let _ = rustix::process::kill_process_group(child, Signal::KILL);
                        }
                        for pid in sys::children() {
                            self.signal(pid, Signal::KILL);
                        }
                    }
                    // Only so that a log over the file-size limit fails with EFBIG.
                    libc::SIGXFSZ => {}
                    other => {
                        // HUP: log rotation for the supervisor's files, and passed on (PROGRAM
                        // reopens or reloads its own, as under `kill -HUP` without us).
                        if other == libc::SIGHUP {
                            self.reopen_logs();
                        }
                        if let (Some(child), Some(raw)) = (child, Signal::from_named_raw(other)) {
                            self.signal(child, raw);
                        }
                    }
                }
            }
            // A new stop request returns too: the caller starts its kill timer or ends a
            // restart delay. Without a PROGRAM to wait for, so does a reaped process: the
            // caller ending leftovers looks again at what is left.
            let changed = self.stop.is_some() != stopping || self.kill_now != killing;
            if !matches!(event, Event::Other) || changed || (reaped && child.is_none()) {
                return event;
            }
        }
    }

    /// Records a stop request (the first one's signal) and tells an outer service manager.
    fn request_stop(&mut self, signal: Signal) {
        if self.stop.is_none() {
            self.stop = Some(signal);
            if let Some(guard) = &self.guard {
                let _ = guard.notify("STOPPING=1");
            }
        }
    }

    /// Log rotation: the relay reopens the log files (nothing to do without one).
    fn reopen_logs(&self) {
        let reopened = self.relay.as_ref().map(|relay| relay.borrow_mut().reopen());
        if let Some(Err(message)) = reopened {
            self.log(&message);
        }
    }

    /// Signals a child of ours (its pid cannot be reused before we reap it).
    fn signal(&self, pid: Pid, signal: Signal) {
        match rustix::process::kill_process(pid, signal) {
            Ok(()) | Err(Errno::SRCH) => {}
            Err(e) => self.log(&format!("cannot send {signal:?} to pid {pid}: {}", os_message(&e.into()))),
        }
    }

    /// Writes the state record next to the PID file (replacing the last one).
    fn write_state(&mut self) {
        let Some(pidfile) = self.guard.as_ref().and_then(DaemonGuard::pidfile) else { return };
        if self.state.pidfile == (0, 0) {
            match tree::identity(pidfile) {
                Ok(identity) => self.state.pidfile = identity,
                Err(_) => return,
            }
        }
        match self.state.write(pidfile) {
            Ok(file) => self.state_file = Some(file),
            Err(e) => self.log(&format!("cannot write {}: {}", state::path(pidfile.path()).display(), os_message(&e))),
        }
    }

    fn write_child_pidfile(&mut self, child: Pid) {
        if let Some(path) = &self.args.child_pidfile {
            match WrittenFile::write(path, format!("{child}\n").as_bytes()) {
                Ok(file) => self.child_pidfile = Some(file),
                Err(e) => self.log(&format!("cannot write {}: {}", path.display(), os_message(&e))),
            }
        }
    }

    /// Removes the PID files (STOPPING=1 to an outer service manager), the notification socket.
    fn finish(&mut self) {
        if let Some(relay) = &self.relay {
            relay.borrow_mut().flush();
        }
        self.child_pidfile = None;
        self.notify = None;
        // The tree has ended (`clean_up_after`): nothing is left for the record to tell.
        self.record = None;
        if let Some(guard) = self.guard.take() {
            if self.gave_up {
                // Failed for good: the PID file stays, unlocked once we exit, and the state
                // record beside it says why ("dead, PID file exists", LSB status 1), until the
                // next start or stop.
                let _ = guard.notify("STOPPING=1");
                if let Some(file) = self.state_file.take() {
                    file.keep();
                }
                if let Some(pidfile) = guard.into_pidfile() {
                    pidfile.detach();
                }
            } else if let Err(e) = guard.stop() {
                self.log(&chain(&e));
            }
        }
        self.state_file = None;
    }
}

enum Event {
    Exited(Ended),
    Ready,
    Deadline,
    Other,
}

/// Reaps every child that exited; returns them.
fn reap_all() -> Vec<(Pid, WaitStatus)> {
    let mut reaped = Vec::new();
    loop {
        match rustix::process::wait(WaitOptions::NOHANG) {
            Ok(Some((pid, status))) => reaped.push((pid, status)),
            Ok(None) | Err(Errno::CHILD) => return reaped,
            Err(Errno::INTR) => {}
            Err(_) => return reaped,
        }
    }
}
