//! A real daemon: logs a heartbeat line every second until SIGTERM, then stops cleanly.
//!
//! ```text
//! cargo run -p daemonic --example daemon -- [--pidfile FILE] [--log FILE]
//! ```
//!
//! The PID file and log default to `$XDG_RUNTIME_DIR` (else the temp directory), so it works
//! without privileges. The launcher prints the daemon's pid, both paths and how to stop it, and
//! exits 0 only once the daemon runs with its PID file written; it exits 1 with the reason
//! otherwise (e.g. `already running (pid N)`).

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use daemonic::Daemon;

fn main() -> ExitCode {
    let (pidfile, log) = match paths() {
        Ok(paths) => paths,
        Err(e) => {
            eprintln!("daemon: {e}\nusage: daemon [--pidfile FILE] [--log FILE]");
            return ExitCode::from(2);
        }
    };

    let (shown_pidfile, shown_log) = (pidfile.clone(), log.clone());
    let daemon = Daemon::new().pidfile(&pidfile).stdout_path(&log).on_launched(move |pid| {
        println!("daemon running as pid {pid}");
        println!("  PID file: {}", shown_pidfile.display());
        println!("  log:      {}", shown_log.display());
        println!("  stop it:  kill {pid}    (or: kill $(cat {}))", shown_pidfile.display());
    });
    let guard = match daemon.daemonize() {
        Ok(guard) => guard,
        Err(e) => {
            eprintln!("daemon: {}", e.chain());
            return ExitCode::from(1);
        }
    };

    // In the daemon: stdout is the log. SIGTERM sets a flag (signal-hook installs the handler
    // after daemonize, which reset every disposition); the loop checks it ten times a second.
    let stop = Arc::new(AtomicBool::new(false));
    if let Err(e) = signal_hook::flag::register(signal_hook::consts::SIGTERM, Arc::clone(&stop)) {
        println!("{} cannot handle SIGTERM: {e}", timestamp());
        let _ = guard.stop();
        return ExitCode::from(1);
    }
    println!("{} started as pid {}", timestamp(), std::process::id());
    let mut beats = 0u64;
    'serve: loop {
        for _ in 0..10 {
            if stop.load(Ordering::Relaxed) {
                break 'serve;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        beats += 1;
        println!("{} heartbeat {beats}", timestamp());
        let _ = std::io::stdout().flush();
    }
    println!("{} SIGTERM after {beats} heartbeats; stopping", timestamp());
    match guard.stop() {
        Ok(()) => {
            println!("{} stopped; {} removed", timestamp(), pidfile.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            println!("{} {}", timestamp(), e.chain());
            ExitCode::from(1)
        }
    }
}

fn paths() -> Result<(PathBuf, PathBuf), String> {
    let base = std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from).unwrap_or_else(std::env::temp_dir);
    let (mut pidfile, mut log) = (base.join("daemonic-example.pid"), base.join("daemonic-example.log"));
    let mut args = std::env::args_os().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().map(PathBuf::from).ok_or(format!("{} needs a value", arg.to_string_lossy()));
        match arg.to_str() {
            Some("--pidfile") => pidfile = value()?,
            Some("--log") => log = value()?,
            _ => return Err(format!("unknown argument {}", arg.to_string_lossy())),
        }
    }
    // Absolute: the daemon's working directory is `/`.
    let cwd = std::env::current_dir().map_err(|e| format!("current directory: {e}"))?;
    Ok((cwd.join(pidfile), cwd.join(log)))
}

fn timestamp() -> String {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    format!("[{}.{:03}]", now.as_secs(), now.subsec_millis())
}
