//! `daemonic run`: `start`'s supervisor in the foreground, for a container's PID 1 (as tini,
//! dumb-init and catatonit) or a runit/s6 run script. The options and the work are `start`'s
//! (`start_options.rs`, `start.rs`, `supervise.rs`); this file holds the help.

pub(crate) const USAGE: &str = "\
usage: daemonic run [--pidfile FILE] [start options] -- PROGRAM [ARGS...]

Runs PROGRAM under the supervisor of `daemonic start`, without forking: as a container's
init (PID 1), a runit or s6 run script, or under systemd, Kubernetes or Nomad. The supervisor
reaps every orphan (as PID 1, or as the subreaper of what PROGRAM starts), passes TERM, INT,
QUIT, HUP, USR1, USR2, ALRM, WINCH, CONT, TSTP, TTIN and TTOU on to PROGRAM, ends what PROGRAM
left running when it exits (TERM, then KILL after --timeout), and exits with PROGRAM's status:
its exit status, or 128+N when it died of signal N, as tini and dumb-init do (also after a
stop signal it passed on). The working directory is the caller's unless --chdir is given.
Like `start --foreground`, but the PID file is optional (a PID file is per host; a container
rarely needs one).

Every option of `daemonic start` applies (see `daemonic start --help`) except --no-supervise
and --oknodo.

exit status: PROGRAM's (128+N after signal N); 1 when PROGRAM could not be started (the
reason is printed); 2 usage error.
";
