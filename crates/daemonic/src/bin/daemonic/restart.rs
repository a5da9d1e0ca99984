//! `daemonic restart`: stop, then start with the same arguments.

use std::process::ExitCode;
use std::time::Duration;

use rustix::process::Signal;

use crate::start::StartArgs;
use crate::stop::{stop_holder, StopArgs};
use crate::Failure;

pub(crate) const USAGE: &str = "\
usage: daemonic restart --pidfile FILE [start options] -- PROGRAM [ARGS...]

`daemonic stop --pidfile FILE` (TERM, 10 s timeout), then `daemonic start` with the same
arguments. Exit status as for start.
";

pub(crate) fn run(args: &StartArgs) -> Result<ExitCode, Failure> {
    let stop_args =
        StopArgs { pidfile: args.pidfile.clone(), signal: Signal::TERM, timeout: Duration::from_secs(10), kill: false };
    stop_holder(&stop_args)?;
    crate::start::run(args)
}
