//! `daemonic restart`: stop, then start with the same arguments.

use std::process::ExitCode;
use std::time::Duration;

use crate::start_options::StartArgs;
use crate::stop::{stop_holder, StopArgs};
use crate::Failure;

pub(crate) const USAGE: &str = "\
usage: daemonic restart --pidfile FILE [start options] -- PROGRAM [ARGS...]

Stops the service holding FILE as `daemonic stop` does, then starts it with the same
arguments as `daemonic start`. Takes every start option, and stop's:

  --signal SIG      the stop signal (default TERM)
  --timeout SECS    how long the stop waits (default 10), and the new supervisor's --timeout
  --kill            send KILL if the service is still running after the timeout

exit status: as for start; 1 if the running service could not be stopped.
";

pub(crate) fn run(args: &StartArgs) -> Result<ExitCode, Failure> {
    let timeout = if args.timeout_given { args.timeout } else { Duration::from_secs(10) };
    let stop_args = StopArgs { pidfile: args.pidfile.clone(), signal: args.stop_signal, timeout, kill: args.stop_kill };
    stop_holder(&stop_args)?;
    crate::start::run(args)
}
