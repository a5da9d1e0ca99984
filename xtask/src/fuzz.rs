//! `cargo xtask fuzz [--time SECONDS] [--only TARGET]...`: every cargo-fuzz target in `fuzz/`
//! in turn (nightly, cargo-fuzz), each for the same time, then a table of the executions and
//! crashes per target. Skipped, with the reason and the fix, when nightly or cargo-fuzz is
//! missing. Not part of `cargo xtask ci`: fuzzing takes minutes and a nightly toolchain.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

/// What the command line asked for.
#[derive(Debug)]
pub(crate) struct Options {
    seconds: u64,
    only: Vec<String>,
}

impl Options {
    pub(crate) fn parse(args: &[String]) -> Result<Options, String> {
        let mut options = Options { seconds: 60, only: Vec::new() };
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--time" => {
                    let value = args.next().ok_or("--time needs a number of seconds")?;
                    options.seconds = value
                        .parse()
                        .ok()
                        .filter(|s| *s > 0)
                        .ok_or(format!("--time {value:?}: not a number of seconds above 0"))?;
                }
                "--only" => options.only.push(args.next().ok_or("--only needs a target's name")?.clone()),
                other => return Err(format!("unknown option {other:?}")),
            }
        }
        Ok(options)
    }
}

/// One target's run.
struct Run {
    target: String,
    executions: Option<u64>,
    /// The input that failed, when the target crashed (libFuzzer stops at the first).
    crash: Option<String>,
    log: PathBuf,
}

pub(crate) fn run(options: &Options) -> ExitCode {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask is in the workspace").to_path_buf();
    let fuzz = root.join("fuzz");
    if let Err(why) = tools_present(&fuzz) {
        println!("xtask fuzz: SKIPPED ({why})");
        return ExitCode::SUCCESS;
    }
    let targets = match list_targets(&fuzz) {
        Ok(all) if options.only.is_empty() => all,
        Ok(all) => match options.only.iter().find(|name| !all.contains(name)) {
            Some(unknown) => {
                eprintln!("xtask fuzz: no target {unknown:?} (there are: {})", all.join(", "));
                return ExitCode::from(2);
            }
            None => options.only.clone(),
        },
        Err(e) => {
            eprintln!("xtask fuzz: cannot list the targets: {e}");
            return ExitCode::FAILURE;
        }
    };
    let logs = fuzz.join("target").join("xtask-logs");
    if let Err(e) = std::fs::create_dir_all(&logs) {
        eprintln!("xtask fuzz: cannot create {}: {e}", logs.display());
        return ExitCode::FAILURE;
    }
    let mut runs = Vec::new();
    for target in &targets {
        println!("==> {target}: {} s", options.seconds);
        match run_target(&fuzz, &logs, target, options.seconds) {
            Ok(run) => runs.push(run),
            Err(e) => {
                eprintln!("xtask fuzz: cannot run {target}: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    println!("\n{:<16} {:>8} {:>14} {:>8}  result", "target", "seconds", "executions", "crashes");
    for run in &runs {
        let executions = run.executions.map_or_else(|| "?".to_owned(), |n| n.to_string());
        let (crashes, result) = match &run.crash {
            None => (0, "ok".to_owned()),
            Some(input) => (1, format!("CRASH: {input} (log: {})", run.log.display())),
        };
        println!("{:<16} {:>8} {executions:>14} {crashes:>8}  {result}", run.target, options.seconds);
    }
    let total: u64 = runs.iter().filter_map(|run| run.executions).sum();
    let crashed = runs.iter().filter(|run| run.crash.is_some()).count();
    println!("{} targets, {total} executions, {crashed} crashed", runs.len());
    if crashed > 0 {
        println!("reproduce: cd fuzz && cargo +nightly fuzz run TARGET INPUT");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// Nightly and cargo-fuzz, or why not.
fn tools_present(fuzz: &Path) -> Result<(), String> {
    let nightly = Command::new("rustup")
        .args(["run", "nightly", "rustc", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !nightly {
        return Err("no nightly toolchain (libFuzzer needs -Zsanitizer): `rustup toolchain install nightly`".into());
    }
    let cargo_fuzz = Command::new("cargo")
        .args(["+nightly", "fuzz", "--version"])
        .current_dir(fuzz)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !cargo_fuzz {
        return Err("`cargo +nightly fuzz` does not run: `cargo install --locked cargo-fuzz`".into());
    }
    Ok(())
}

/// `cargo fuzz list`: the targets `fuzz/Cargo.toml` declares.
fn list_targets(fuzz: &Path) -> Result<Vec<String>, String> {
    let output = Command::new("cargo")
        .args(["+nightly", "fuzz", "list"])
        .current_dir(fuzz)
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| e.to_string())?;
    if !output.status.success() {
        return Err(format!("cargo fuzz list: {}", output.status));
    }
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect())
}

/// `cargo fuzz run TARGET corpus/TARGET seeds/TARGET -- -max_total_time=SECONDS`: the corpus
/// grows in `fuzz/corpus` (not committed), the seeds in `fuzz/seeds` are read only; libFuzzer's
/// output goes to a log, of which the final statistics are kept.
fn run_target(fuzz: &Path, logs: &Path, target: &str, seconds: u64) -> std::io::Result<Run> {
    let corpus = fuzz.join("corpus").join(target);
    std::fs::create_dir_all(&corpus)?;
    let seeds = fuzz.join("seeds").join(target);
    let log = logs.join(format!("{target}.log"));
    let mut command = Command::new("cargo");
    command.args(["+nightly", "fuzz", "run", target]).arg(&corpus);
    if seeds.is_dir() {
        command.arg(&seeds);
    }
    // One open file for both streams: one offset, nothing overwritten.
    let output = std::fs::File::create(&log)?;
    let status = command
        .args(["--", &format!("-max_total_time={seconds}"), "-print_final_stats=1"])
        .current_dir(fuzz)
        .stdout(output.try_clone()?)
        .stderr(output)
        .status()?;
    let text = std::fs::read_to_string(&log)?;
    let executions = final_executions(&text);
    let crash = (!status.success()).then(|| failing_input(&text).unwrap_or_else(|| format!("exit {status}")));
    Ok(Run { target: target.to_owned(), executions, crash, log })
}

/// The executions libFuzzer ran: its final statistics, else its last progress line (`#N ...`).
fn final_executions(log: &str) -> Option<u64> {
    let stat = log.lines().find_map(|line| line.strip_prefix("stat::number_of_executed_units:"));
    stat.and_then(|n| n.trim().parse().ok()).or_else(|| {
        log.lines().filter_map(|line| line.strip_prefix('#')?.split_whitespace().next()?.parse().ok()).max()
    })
}

/// The input file libFuzzer saved for a crash (`Test unit written to PATH`).
fn failing_input(log: &str) -> Option<String> {
    log.lines().find_map(|line| line.split("Test unit written to ").nth(1)).map(|path| path.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options() {
        let args = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let options = Options::parse(&args(&["--time", "5", "--only", "pid"])).unwrap();
        assert_eq!((options.seconds, options.only), (5, vec!["pid".to_owned()]));
        assert_eq!(Options::parse(&[]).unwrap().seconds, 60);
        for bad in [&["--time"][..], &["--time", "0"], &["--time", "x"], &["--only"], &["--bogus"]] {
            assert!(Options::parse(&args(bad)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn reads_libfuzzer_output() {
        let done = "#1024\tpulse  cov: 5\n#2048\tpulse  cov: 6\nDone 2100 runs in 1 second(s)\nstat::number_of_executed_units: 2100\n";
        assert_eq!(final_executions(done), Some(2100));
        assert_eq!(final_executions("#10\tINITED\n#512\tpulse\n==1== ERROR: libFuzzer: deadly signal\n"), Some(512));
        let crash = "==7== ERROR: libFuzzer: deadly signal\nartifact_prefix='x/'; Test unit written to x/crash-ab12\n";
        assert_eq!(failing_input(crash).as_deref(), Some("x/crash-ab12"));
        assert_eq!(failing_input(done), None);
    }
}
