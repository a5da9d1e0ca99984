//! A single-instance program: holds its PID file while it runs.
//!
//! ```text
//! cargo run -p daemonic-pidfile --example single_instance -- [PATH] [SECONDS]
//! ```
//!
//! A second copy started meanwhile prints `already running (pid N)` and exits with status 1.
//! Kill the first with `kill -9`: the next copy starts at once, taking over the leftover file.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use pidfile::{PidFile, PidFileError};

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let path = args.next().map(PathBuf::from).unwrap_or_else(|| std::env::temp_dir().join("single_instance.pid"));
    let seconds: u64 = match args.next().map(|s| s.to_string_lossy().parse()) {
        None => 60,
        Some(Ok(seconds)) => seconds,
        Some(Err(e)) => {
            eprintln!("single_instance: SECONDS: {e}");
            return ExitCode::from(2);
        }
    };

    let guard = match PidFile::create(&path) {
        Ok(guard) => guard,
        Err(PidFileError::AlreadyRunning { pid: Some(pid), .. }) => {
            eprintln!("already running (pid {pid})");
            return ExitCode::from(1);
        }
        Err(PidFileError::AlreadyRunning { pid: None, .. }) => {
            eprintln!("already running (pid unknown)");
            return ExitCode::from(1);
        }
        Err(e) => {
            eprintln!("single_instance: {e}");
            return ExitCode::from(2);
        }
    };
    println!("running as pid {} for {seconds} s, holding {}", guard.pid(), guard.path().display());
    std::thread::sleep(Duration::from_secs(seconds));
    if let Err(e) = guard.remove() {
        eprintln!("single_instance: {e}");
        return ExitCode::from(2);
    }
    println!("done, {} removed", path.display());
    ExitCode::SUCCESS
}
