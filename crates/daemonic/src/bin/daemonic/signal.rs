//! `daemonic signal`: send a signal to the service without stopping it (reload, log reopening).

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use rustix::process::Signal;

use crate::holder::{judge, judge_settled, Judged};
use crate::options::{parse_signal, path_value, signal_name};
use crate::report::{inform, say};
use crate::signals::{KILL_REQUEST, PASSED_ON};
use crate::stop::Target;
use crate::{usage, Failure};

pub(crate) const USAGE: &str = "\
usage: daemonic signal --pidfile FILE SIG

Sends SIG (a name such as HUP or SIGUSR1, or a number) to the process holding FILE, decided as
`daemonic stop` decides (one open of FILE; never PID 1, a kernel thread, a pid the file does
not credibly name, or a file someone else could have written), and returns at once. For a
service started by `daemonic start`, that process is the supervisor, and only what it passes on
to PROGRAM is sent: HUP, INT, QUIT, TERM, USR1, USR2, ALRM, CONT, TSTP, TTIN, TTOU, WINCH
(TERM, INT and QUIT stop the service: use `daemonic stop`); KILL makes the supervisor KILL
PROGRAM's whole tree and exit. Anything else (STOP, or a signal whose default action would end
the supervisor and leave PROGRAM's processes behind) is refused.

options:
  --pidfile FILE    the PID file (required)
  --quiet           print errors only

exit status (LSB): 0 sent; 1 refused or failed; 2 usage error; 7 not running.
";

pub(crate) struct SignalArgs {
    pidfile: PathBuf,
    signal: Signal,
}

pub(crate) fn parse(args: Vec<OsString>) -> Result<Option<SignalArgs>, Failure> {
    use lexopt::prelude::*;
    let bad = usage(USAGE);
    let mut parser = lexopt::Parser::from_args(args);
    let (mut pidfile, mut signal) = (None, None);
    while let Some(arg) = parser.next().map_err(|e| bad(e.to_string()))? {
        match arg {
            Long("pidfile") => pidfile = Some(path_value(parser.value()?, "--pidfile").map_err(&bad)?),
            Long("quiet") | Short('q') => crate::report::set_quiet(),
            Long("help") | Short('h') => {
                say(USAGE);
                return Ok(None);
            }
            Value(value) if signal.is_none() => {
                signal = Some(parse_signal(&value.string()?, "signal").map_err(&bad)?);
            }
            _ => return Err(bad(arg.unexpected().to_string())),
        }
    }
    let pidfile = pidfile.ok_or_else(|| bad("--pidfile FILE is required".into()))?;
    let signal = signal.ok_or_else(|| bad("a signal to send is required (e.g. HUP)".into()))?;
    Ok(Some(SignalArgs { pidfile, signal }))
}

pub(crate) fn run(args: &SignalArgs) -> Result<ExitCode, Failure> {
    let service = match judge_settled(&args.pidfile).map_err(Failure::Error)? {
        Judged::Missing | Judged::Stale(_) => {
            inform("daemonic: not running\n");
            return Ok(ExitCode::from(7));
        }
        Judged::Running(service) => service,
    };
    let pid = service.pid;
    let target = match Target::open(pid, &service.inspection) {
        Ok(target) => target,
        // Exited by itself since the judgement: judged again, that is "not running".
        Err(e) => match judge(&args.pidfile) {
            Ok(Judged::Missing | Judged::Stale(_)) => {
                inform("daemonic: not running\n");
                return Ok(ExitCode::from(7));
            }
            _ => return Err(e),
        },
    };
    let name = signal_name(args.signal.as_raw());
    if !service.is_supervisor() {
        // Not a supervisor (a library daemon, a `--no-supervise` program): the signal is for it.
        target.signal(args.signal)?;
        inform(&format!("daemonic: sent {name} to pid {pid}\n"));
        return Ok(ExitCode::SUCCESS);
    }
    // A supervisor: only what it acts on is sent, so that no signal ends or stops it by its
    // default action and leaves PROGRAM's processes without it.
    match args.signal {
        Signal::KILL => {
            target.signal(KILL_REQUEST)?;
            inform(&format!("daemonic: asked the supervisor (pid {pid}) to KILL the service\n"));
        }
        Signal::URG => {
            target.signal(Signal::URG)?;
            inform(&format!("daemonic: asked pid {pid} to reopen its log files\n"));
        }
        Signal::STOP => {
            return Err(Failure::Error(format!(
                "refusing to send SIGSTOP: it would stop the supervisor (pid {pid}), not the service; \
                 send TSTP, which it passes on"
            )))
        }
        signal if PASSED_ON.contains(&signal.as_raw()) => {
            target.signal(signal)?;
            inform(&format!("daemonic: sent {name} to pid {pid} (passed on to the program)\n"));
        }
        _ => {
            let passed: Vec<String> = PASSED_ON.iter().map(|&raw| signal_name(raw)).collect();
            return Err(Failure::Error(format!(
                "refusing to send {name}: the supervisor (pid {pid}) does not pass it on, and it would end \
                 the supervisor; it passes on {}, and KILL ends the service",
                passed.join(", ")
            )));
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) const REOPEN_USAGE: &str = "\
usage: daemonic reopen --pidfile FILE

Log rotation: the service's supervisor reopens its --stdout/--stderr files by path (after
`mv app.log app.log.1`, new lines go to a new app.log, none lost). PROGRAM is not signalled
(the supervisor is sent SIGURG, which it takes to mean just this). SIGHUP to the supervisor
(`daemonic signal --pidfile FILE HUP`) reopens them too, and is passed on to PROGRAM.

options:
  --pidfile FILE    the PID file (required)
  --quiet           print errors only

exit status (LSB): 0 sent; 1 refused or failed; 2 usage error; 7 not running.
";

/// `daemonic reopen --pidfile FILE`: SIGURG to the supervisor.
pub(crate) fn parse_reopen(args: Vec<OsString>) -> Result<Option<SignalArgs>, Failure> {
    Ok(crate::options::parse_pidfile(args, REOPEN_USAGE)?.map(|pidfile| SignalArgs { pidfile, signal: Signal::URG }))
}
