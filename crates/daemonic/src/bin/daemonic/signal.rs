//! `daemonic signal`: send a signal to the service without stopping it (reload, log reopening).

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use rustix::process::Signal;

use crate::options::{parse_signal, signal_name};
use crate::report::{inform, say};
use crate::stop::{running_holder, Target};
use crate::{usage, Failure};

pub(crate) const USAGE: &str = "\
usage: daemonic signal --pidfile FILE SIG

Sends SIG (a name such as HUP or SIGUSR1, or a number) to the process holding FILE, decided as
`daemonic stop` decides (one open of FILE; never PID 1, a kernel thread, a pid the file does
not credibly name, or a file someone else could have written), and returns at once. For a
service started by `daemonic start`, that process is the supervisor: it passes the signal on
to PROGRAM (TERM, INT and QUIT stop the service: use `daemonic stop`).

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
            Long("pidfile") => pidfile = Some(PathBuf::from(parser.value()?)),
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
    let Some((inspection, pid)) = running_holder(&args.pidfile)? else {
        return Ok(ExitCode::from(7));
    };
    Target::open(pid, &inspection)?.signal(args.signal)?;
    if args.signal == Signal::URG {
        inform(&format!("daemonic: asked pid {pid} to reopen its log files\n"));
    } else {
        inform(&format!("daemonic: sent {} to pid {pid}\n", signal_name(args.signal.as_raw())));
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) const REOPEN_USAGE: &str = "\
usage: daemonic reopen --pidfile FILE

Log rotation: the service's supervisor reopens its --stdout/--stderr files by path (after
`mv app.log app.log.1`, new lines go to a new app.log, none lost). PROGRAM is not signalled
(the supervisor is sent SIGURG, which it takes to mean just this). SIGHUP to the supervisor
(`daemonic signal --pidfile FILE HUP`) reopens them too, and is passed on to PROGRAM.

exit status (LSB): 0 sent; 1 refused or failed; 2 usage error; 7 not running.
";

/// `daemonic reopen --pidfile FILE`: SIGURG to the supervisor.
pub(crate) fn parse_reopen(args: Vec<OsString>) -> Result<Option<SignalArgs>, Failure> {
    Ok(crate::options::parse_pidfile(args, REOPEN_USAGE)?.map(|pidfile| SignalArgs { pidfile, signal: Signal::URG }))
}
