//! `cargo xtask mutants`: cargo-mutants over the code that decides, as root, which process to
//! signal and which file to unlink, in two passes with their own targets:
//!
//! - `pidfile`: `crates/pidfile/src`, tested by the crate's own unit and integration tests
//!   only (`cargo test -p daemonic-pidfile --lib --tests`), the tests that ship in the `.crate`
//!   and guard it where distributions test it alone. Target: no surviving mutant; an
//!   equivalent one is excluded in `.cargo/mutants.toml` with its reason.
//! - `command`: the `daemonic` command's decision code ([`COMMAND_FILES`]), tested by the
//!   command's unit tests and `crates/daemonic/tests/cli.rs`. Target: a score of at least 95%.
//!
//! `--jobserver false`: cargo-mutants' jobserver leaves a descriptor open in the tests it runs,
//! and the command's test that refuses descriptor arguments it did not open fails for every
//! mutant.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

/// The `daemonic` command's decision code, in `crates/daemonic/src/bin/daemonic/`: how `stop`,
/// `status` and `signal` judge a PID file, option and schedule parsing, the restart policy and
/// its back-off, the relay's line handling.
pub(crate) const COMMAND_FILES: &[&str] = &[
    "holder.rs",
    "retry.rs",
    "restart.rs",
    "restart_policy.rs",
    "options.rs",
    "start_options.rs",
    "signal.rs",
    "limits.rs",
    "env_file.rs",
    "relay.rs",
    "state.rs",
];
const COMMAND_DIR: &str = "crates/daemonic/src/bin/daemonic";

/// The command pass's least score, in percent.
pub(crate) const COMMAND_TARGET: f64 = 95.0;

/// Seconds a mutant's tests may run at least; cargo-mutants raises it to 5 × the unmutated
/// run's time. A mutant that makes a test loop forever costs this much.
const MINIMUM_TEST_TIMEOUT: u32 = 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pass {
    Pidfile,
    Command,
}

impl Pass {
    pub(crate) const ALL: [Pass; 2] = [Pass::Pidfile, Pass::Command];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Pass::Pidfile => "pidfile",
            Pass::Command => "command",
        }
    }

    /// cargo-mutants' arguments for this pass (besides the shared ones): the package, the
    /// files mutated, the tests run.
    pub(crate) fn args(self) -> Vec<String> {
        let mut args: Vec<String> = Vec::new();
        match self {
            Pass::Pidfile => {
                args.extend(["--package", "daemonic-pidfile", "--test-package", "daemonic-pidfile"].map(String::from));
                args.extend(["--file", "crates/pidfile/src/**/*.rs"].map(String::from));
                // The crate's unit and integration tests (crates/pidfile/tests), not its doc
                // examples: examples show, tests check (and 64 doctests would cost 30 s a mutant).
                // For the build too (`--cargo-arg`): no example is linked for each mutant.
                args.extend(["--cargo-arg=--lib", "--cargo-arg=--tests"].map(String::from));
            }
            Pass::Command => {
                args.extend(
                    ["--package", "daemonic", "--test-package", "daemonic", "--all-features"].map(String::from),
                );
                for file in COMMAND_FILES {
                    args.push("--file".into());
                    args.push(format!("{COMMAND_DIR}/{file}"));
                }
                // The command's unit tests and crates/daemonic/tests/cli.rs, built and run
                // (`--cargo-arg`: the build too, with the `cli` feature the binary needs).
                args.extend(["--cargo-arg=--bin=daemonic", "--cargo-arg=--test=cli"].map(String::from));
                // A mutant that hangs costs the timeout: 60 s, not 5 × the unmutated run.
                args.extend(["--timeout", "60"].map(String::from));
                // Two tests of stop's races (2–3 s each), which exercise none of these files:
                // after cargo-mutants' `--`, `cargo test`'s own `--` for the test binaries.
                args.extend(
                    ["--", "--", "--skip", "stop_racing_start", "--skip", "program_ignoring_sigterm"].map(String::from),
                );
            }
        }
        args
    }
}

/// Command-line options of `cargo xtask mutants`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Options {
    /// Only the mutants in `git diff REV` (the working tree against REV).
    pub(crate) in_diff: Option<String>,
    pub(crate) passes: Vec<Pass>,
    /// cargo-mutants' `--jobs`.
    pub(crate) jobs: u32,
}

impl Default for Options {
    fn default() -> Options {
        Options { in_diff: None, passes: Pass::ALL.to_vec(), jobs: 2 }
    }
}

impl Options {
    pub(crate) fn parse(args: &[String]) -> Result<Options, String> {
        let mut options = Options::default();
        let mut passes = Vec::new();
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            let mut value = || args.next().cloned().ok_or(format!("{arg} needs a value"));
            match arg.as_str() {
                "--in-diff" => options.in_diff = Some(value()?),
                "--pass" => {
                    let name = value()?;
                    let pass = Pass::ALL
                        .into_iter()
                        .find(|p| p.name() == name)
                        .ok_or(format!("unknown pass {name:?} (pidfile or command)"))?;
                    if !passes.contains(&pass) {
                        passes.push(pass);
                    }
                }
                "--jobs" => {
                    let jobs = value()?;
                    options.jobs =
                        jobs.parse().ok().filter(|&n| n > 0).ok_or(format!("--jobs {jobs:?}: a positive number"))?;
                }
                other => return Err(format!("unknown option {other:?}")),
            }
        }
        if !passes.is_empty() {
            options.passes = passes;
        }
        Ok(options)
    }
}

/// What one pass found, from the lists cargo-mutants writes (`mutants.out/*.txt`, one mutant
/// a line).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Counts {
    pub(crate) caught: Vec<String>,
    pub(crate) missed: Vec<String>,
    pub(crate) timeout: Vec<String>,
    pub(crate) unviable: Vec<String>,
}

impl Counts {
    pub(crate) fn read(out: &Path) -> Counts {
        let list = |name: &str| -> Vec<String> {
            std::fs::read_to_string(out.join(name))
                .unwrap_or_default()
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(str::to_owned)
                .collect()
        };
        Counts {
            caught: list("caught.txt"),
            missed: list("missed.txt"),
            timeout: list("timeout.txt"),
            unviable: list("unviable.txt"),
        }
    }

    pub(crate) fn total(&self) -> usize {
        self.caught.len() + self.missed.len() + self.timeout.len() + self.unviable.len()
    }

    /// caught / (caught + missed) in percent, a timeout counting as caught (the mutant made a
    /// test hang, which fails it); `None` when there was nothing viable to test.
    pub(crate) fn score(&self) -> Option<f64> {
        let caught = self.caught.len() + self.timeout.len();
        let tested = caught + self.missed.len();
        (tested > 0).then(|| 100.0 * caught as f64 / tested as f64)
    }

    /// Whether `pass` met its target: no survivor in `pidfile`, [`COMMAND_TARGET`] in `command`.
    pub(crate) fn meets_target(&self, pass: Pass) -> bool {
        match pass {
            Pass::Pidfile => self.missed.is_empty(),
            Pass::Command => self.score().is_none_or(|score| score >= COMMAND_TARGET),
        }
    }

    /// The pass's report: counts, score, target, and every surviving mutant.
    pub(crate) fn report(&self, pass: Pass) -> String {
        if self.total() == 0 {
            return format!("{}: no mutants (none of the code this pass mutates was changed)\n", pass.name());
        }
        let score = match self.score() {
            Some(score) => format!("{score:.1}%"),
            None => "n/a (no viable mutant)".to_owned(),
        };
        let target = match pass {
            Pass::Pidfile => "target: no survivor".to_owned(),
            Pass::Command => format!("target: {COMMAND_TARGET}%"),
        };
        let verdict = if self.meets_target(pass) { "met" } else { "NOT MET" };
        let mut out = format!(
            "{}: {} mutants: {} caught, {} missed, {} timeouts, {} unviable; score {score} \
             (caught / (caught + missed), the {} timeouts counted as caught); {target}: {verdict}\n",
            pass.name(),
            self.total(),
            self.caught.len(),
            self.missed.len(),
            self.timeout.len(),
            self.unviable.len(),
            self.timeout.len(),
        );
        if !self.missed.is_empty() {
            out.push_str("surviving mutants:\n");
            for mutant in &self.missed {
                out.push_str(&format!("  {mutant}\n"));
            }
        }
        if !self.timeout.is_empty() {
            out.push_str("timeouts (counted as caught):\n");
            for mutant in &self.timeout {
                out.push_str(&format!("  {mutant}\n"));
            }
        }
        out
    }
}

/// Whether cargo-mutants is installed, and if not, why the check is skipped.
pub(crate) fn unavailable() -> Option<String> {
    let installed = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args(["mutants", "--version"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    (!installed)
        .then(|| "cargo-mutants not installed; `cargo install --locked cargo-mutants@27.1.0` (.ci/run does)".to_owned())
}

/// Whether `rev` names a commit in the repository at `root`.
pub(crate) fn commit_exists(root: &Path, rev: &str) -> bool {
    Command::new("git")
        .args(["rev-parse", "--verify", "--quiet", &format!("{rev}^{{commit}}")])
        .current_dir(root)
        .stdout(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// cargo-mutants for `pass`, its results in `out` (`OUT/mutants.out`), restricted to the
/// mutants in `diff` if given.
fn command(pass: Pass, options: &Options, root: &Path, out: &Path, diff: Option<&Path>) -> Command {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command
        .args(["mutants", "--jobserver", "false", "--colors", "never", "--no-times"])
        .args(["--jobs", &options.jobs.to_string()])
        .args(["--minimum-test-timeout", &MINIMUM_TEST_TIMEOUT.to_string()])
        .arg("--output")
        .arg(out)
        .current_dir(root);
    if let Some(diff) = diff {
        command.arg("--in-diff").arg(diff);
    }
    // Last: a pass's arguments may end with `-- ARGS` for the test binaries.
    command.args(pass.args());
    command
}

pub(crate) fn run(options: &Options) -> ExitCode {
    let root = crate::ci::workspace_root();
    if let Some(reason) = unavailable() {
        eprintln!("xtask mutants: {reason}");
        return ExitCode::FAILURE;
    }
    // An in-diff run (`cargo xtask ci`) has its own directory: it must not delete the lists
    // of a full run going on beside it.
    let work = root.join(if options.in_diff.is_some() { "target/mutants/in-diff" } else { "target/mutants" });
    if let Err(e) = std::fs::create_dir_all(&work) {
        eprintln!("xtask mutants: cannot create {}: {e}", work.display());
        return ExitCode::FAILURE;
    }
    let diff = match &options.in_diff {
        None => None,
        Some(rev) => match write_diff(&root, rev, &work.join("in-diff.patch")) {
            Ok(Some(path)) => Some(path),
            Ok(None) => {
                println!("xtask mutants: `git diff {rev}` is empty: no mutant to test");
                return ExitCode::SUCCESS;
            }
            Err(e) => {
                eprintln!("xtask mutants: {e}");
                return ExitCode::FAILURE;
            }
        },
    };
    let mut reports = Vec::new();
    let mut failed = false;
    for &pass in &options.passes {
        let out = work.join(pass.name());
        let _ = std::fs::remove_dir_all(out.join("mutants.out"));
        let mut command = command(pass, options, &root, &out, diff.as_deref());
        println!("\n==> mutants: {}\n    $ {}", pass.name(), describe(&command));
        let start = Instant::now();
        let status = command.status();
        let time = start.elapsed();
        let counts = Counts::read(&out.join("mutants.out"));
        // cargo-mutants: 0 all caught, 2 some missed, 3 some timed out; anything else (1 usage,
        // 4 the unmutated tree fails its tests) means the pass did not run.
        let ran = match &status {
            Ok(status) => matches!(status.code(), Some(0 | 2 | 3)),
            Err(e) => {
                eprintln!("xtask mutants: cannot run cargo mutants: {e}");
                false
            }
        };
        let mut report = if ran {
            counts.report(pass)
        } else {
            let status = match &status {
                Ok(status) => status.to_string(),
                Err(e) => e.to_string(),
            };
            format!(
                "{}: cargo mutants failed ({status}); see {}\n",
                pass.name(),
                out.join("mutants.out/debug.log").display()
            )
        };
        report.push_str(&format!("{}: {:.0} s\n", pass.name(), time.as_secs_f64()));
        failed |= !ran || !counts.meets_target(pass);
        println!("<== {report}");
        reports.push(report);
    }
    println!("\n{}", reports.join("\n"));
    if let Some(rev) = &options.in_diff {
        println!("(only the mutants in `git diff {rev}`)");
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// `git diff REV` (the working tree against it) into `path`; `None` when empty.
fn write_diff(root: &Path, rev: &str, path: &Path) -> Result<Option<PathBuf>, String> {
    if !commit_exists(root, rev) {
        return Err(format!("{rev:?} is not a commit here"));
    }
    let out = Command::new("git")
        .args(["diff", rev, "--"])
        .current_dir(root)
        .output()
        .map_err(|e| format!("cannot run git diff: {e}"))?;
    if !out.status.success() {
        return Err(format!("git diff {rev} failed: {}", String::from_utf8_lossy(&out.stderr).trim()));
    }
    if out.stdout.is_empty() {
        return Ok(None);
    }
    std::fs::write(path, &out.stdout).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(Some(path.to_path_buf()))
}

fn describe(command: &Command) -> String {
    let mut words = vec![command.get_program().to_string_lossy().into_owned()];
    words.extend(command.get_args().map(|a| a.to_string_lossy().into_owned()));
    words.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn options() {
        assert_eq!(Options::parse(&[]).unwrap(), Options::default());
        assert_eq!(Options::default().passes, [Pass::Pidfile, Pass::Command]);
        let options = Options::parse(&args(&["--in-diff", "HEAD~1", "--pass", "command", "--jobs", "1"])).unwrap();
        assert_eq!(options, Options { in_diff: Some("HEAD~1".into()), passes: vec![Pass::Command], jobs: 1 });
        let both = Options::parse(&args(&["--pass", "command", "--pass", "pidfile", "--pass", "command"])).unwrap();
        assert_eq!(both.passes, [Pass::Command, Pass::Pidfile]);
        assert!(Options::parse(&args(&["--pass", "all"])).unwrap_err().contains("unknown pass"));
        assert!(Options::parse(&args(&["--in-diff"])).unwrap_err().contains("needs a value"));
        assert!(Options::parse(&args(&["--jobs", "0"])).is_err());
        assert!(Options::parse(&args(&["--bogus"])).unwrap_err().contains("unknown option"));
    }

    #[test]
    fn pass_arguments() {
        let pidfile = Pass::Pidfile.args().join(" ");
        assert!(pidfile.contains("--package daemonic-pidfile --test-package daemonic-pidfile"), "{pidfile}");
        assert!(pidfile.contains("--cargo-arg=--lib --cargo-arg=--tests"), "{pidfile}");
        let command = Pass::Command.args().join(" ");
        assert!(command.contains("--file crates/daemonic/src/bin/daemonic/holder.rs"), "{command}");
        assert_eq!(command.matches("--file ").count(), COMMAND_FILES.len());
        assert!(command.contains("--all-features"), "{command}");
        assert!(
            command.ends_with(
                "--cargo-arg=--bin=daemonic --cargo-arg=--test=cli --timeout 60 \
                 -- -- --skip stop_racing_start --skip program_ignoring_sigterm"
            ),
            "{command}"
        );
    }

    fn counts(caught: usize, missed: usize, timeout: usize, unviable: usize) -> Counts {
        let n = |k: usize, what: &str| (0..k).map(|i| format!("src/x.rs:{i}:1: {what}")).collect();
        Counts {
            caught: n(caught, "caught"),
            missed: n(missed, "missed"),
            timeout: n(timeout, "timeout"),
            unviable: n(unviable, "unviable"),
        }
    }

    #[test]
    fn score_counts_timeouts_as_caught_and_ignores_unviable() {
        assert_eq!(counts(0, 0, 0, 0).score(), None);
        assert_eq!(counts(0, 0, 0, 7).score(), None);
        assert_eq!(counts(3, 1, 0, 9).score(), Some(75.0));
        assert_eq!(counts(2, 1, 1, 0).score(), Some(75.0));
        assert_eq!(counts(19, 1, 0, 0).score(), Some(95.0));
        assert_eq!(counts(3, 1, 0, 9).total(), 13);
    }

    #[test]
    fn targets() {
        assert!(counts(10, 0, 2, 5).meets_target(Pass::Pidfile));
        assert!(!counts(99, 1, 0, 0).meets_target(Pass::Pidfile), "one survivor fails the pidfile pass");
        assert!(counts(19, 1, 0, 0).meets_target(Pass::Command), "95% is enough");
        assert!(!counts(18, 1, 0, 0).meets_target(Pass::Command), "94.7% is not");
        assert!(counts(0, 0, 0, 0).meets_target(Pass::Command), "nothing to test in the diff");
    }

    #[test]
    fn the_report_lists_every_survivor() {
        let report = counts(3, 2, 1, 4).report(Pass::Pidfile);
        assert!(
            report.starts_with("pidfile: 10 mutants: 3 caught, 2 missed, 1 timeouts, 4 unviable; score 66.7%"),
            "{report}"
        );
        assert!(report.contains("target: no survivor: NOT MET"), "{report}");
        assert!(report.contains("  src/x.rs:0:1: missed\n  src/x.rs:1:1: missed\n"), "{report}");
        assert!(report.contains("timeouts (counted as caught):\n  src/x.rs:0:1: timeout\n"), "{report}");
        let report = counts(19, 1, 0, 0).report(Pass::Command);
        assert!(report.contains("score 95.0%") && report.contains("target: 95%: met"), "{report}");
        assert!(counts(0, 0, 0, 2).report(Pass::Command).contains("n/a (no viable mutant)"));
        assert!(counts(0, 0, 0, 0).report(Pass::Pidfile).starts_with("pidfile: no mutants"));
    }

    #[test]
    fn counts_are_read_from_the_lists() {
        let dir = std::env::temp_dir().join(format!("xtask-mutants-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("caught.txt"), "a\nb\n").unwrap();
        std::fs::write(dir.join("missed.txt"), "c\n\n").unwrap();
        let read = Counts::read(&dir);
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(read.caught, ["a", "b"]);
        assert_eq!(read.missed, ["c"]);
        assert!(read.timeout.is_empty() && read.unviable.is_empty(), "missing lists are empty");
    }
}
