//! `daemonic restart`: stop, then start with the same arguments.

use std::process::ExitCode;
use std::time::Duration;

use crate::retry::stop_schedule;
use crate::start_options::StartArgs;
use crate::stop::{stop_holder, StopArgs};
use crate::Failure;

pub(crate) const USAGE: &str = "\
usage: daemonic restart --pidfile FILE [start options] -- PROGRAM [ARGS...]

Stops the service holding FILE as `daemonic stop` does, then starts it with the same
arguments as `daemonic start`. Takes every start option (see `daemonic start --help`), and
stop's.

options:
  --signal SIG      the stop signal (default TERM)
  --timeout SECS    how long the stop waits (default 10), and the new supervisor's --timeout
  --kill            send KILL if the service is still running after the timeout
  --retry SCHEDULE  the stop's schedule instead (TERM/30/KILL/5; see `daemonic stop --help`)

exit status: as for start; 1 if the running service could not be stopped.
";

pub(crate) fn run(args: &StartArgs) -> Result<ExitCode, Failure> {
    let timeout = if args.timeout_given { args.timeout } else { Duration::from_secs(10) };
    // `--timeout` is also the new supervisor's, so it may go with `--retry` here.
    let schedule = stop_schedule(
        args.stop_signal,
        (args.stop_retry.is_none()).then_some(timeout),
        args.stop_kill,
        args.stop_retry.as_deref(),
    )
    .map_err(|message| Failure::Usage(message, USAGE))?;
    let pidfile = args.pidfile.clone().ok_or_else(|| Failure::Usage("--pidfile FILE is required".into(), USAGE))?;
    let stop_args = StopArgs { pidfile, schedule, timeout };
    stop_holder(&stop_args)?;
    crate::start::run(args)
}
