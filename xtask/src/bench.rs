//! `cargo xtask bench`: builds and runs the benchmark binary (`tests/src/bin/bench.rs`) in
//! release mode. A benchmark, not a test: its exit status only says whether it ran.

use std::process::{Command, ExitCode};

/// Options passed through to the benchmark binary, checked here first.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Options {
    pub(crate) args: Vec<String>,
}

const OPERATIONS: &[&str] = &["create", "kill", "running", "read", "start", "supervise", "alternatives", "relay"];

impl Options {
    pub(crate) fn parse(args: &[String]) -> Result<Options, String> {
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            let value = it.next().ok_or(format!("{arg} needs a value"))?;
            match arg.as_str() {
                "--reps" | "--iters" | "--starts" | "--relay-mib" => {
                    if !value.parse::<u32>().is_ok_and(|n| n > 0) {
                        return Err(format!("{arg} {value:?}: not a positive number"));
                    }
                }
                "--only" if OPERATIONS.contains(&value.as_str()) => {}
                "--only" => return Err(format!("--only {value:?}: one of {}", OPERATIONS.join(", "))),
                other => return Err(format!("unknown option {other:?}")),
            }
        }
        Ok(Options { args: args.to_vec() })
    }
}

pub(crate) fn run(options: &Options) -> ExitCode {
    let root =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(std::path::Path::to_path_buf).unwrap_or_default();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    // The `daemonic` command too: the supervisor rows run its release build.
    let built = Command::new(&cargo)
        .args(["build", "--quiet", "--release", "-p", "daemonic-tests", "--bin", "daemonic-command"])
        .current_dir(&root)
        .status();
    if !built.is_ok_and(|status| status.success()) {
        eprintln!("xtask bench: cannot build the daemonic command");
        return ExitCode::FAILURE;
    }
    let status = Command::new(&cargo)
        .args(["run", "--quiet", "--release", "-p", "daemonic-tests", "--bin", "bench", "--"])
        .args(&options.args)
        .current_dir(root)
        .status();
    match status {
        Ok(status) if status.success() => ExitCode::SUCCESS,
        Ok(status) => {
            eprintln!("xtask bench: the benchmark failed ({status})");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("xtask bench: cannot run cargo: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn arguments_are_checked_before_building() {
        assert_eq!(Options::parse(&[]).unwrap(), Options::default());
        let ok = args(&["--reps", "5", "--only", "start"]);
        assert_eq!(Options::parse(&ok).unwrap().args, ok);
        assert!(Options::parse(&args(&["--reps", "0"])).unwrap_err().contains("positive"));
        assert!(Options::parse(&args(&["--reps"])).unwrap_err().contains("needs a value"));
        assert!(Options::parse(&args(&["--only", "everything"])).unwrap_err().contains("one of"));
        assert!(Options::parse(&args(&["--fast", "1"])).unwrap_err().contains("unknown option"));
    }
}
