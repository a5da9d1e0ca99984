//! `cargo xtask model`: the lock protocol's Spin model (`crates/pidfile/model/lock.pml`),
//! checked exhaustively in each configuration, and each deliberate bug checked to be caught.
//! Fails when a property is violated by the real protocol, or when a mutation is not caught
//! (or caught as the wrong property).

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

/// One run of the checker.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Run {
    pub(crate) name: &'static str,
    /// `-D` definitions for `spin -a`.
    pub(crate) defines: &'static [&'static str],
    /// `None`: every property must hold. `Some(property)`: a mutation that must violate it.
    pub(crate) violates: Option<&'static str>,
}

pub(crate) const RUNS: &[Run] = &[
    Run {
        name: "3 creators x 1 round, admin rm, hostile user",
        defines: &["CREATORS=3", "ROUNDS=1"],
        violates: None,
    },
    Run {
        name: "2 creators x 2 rounds, reader + stop, admin rm, hostile user",
        defines: &["CREATORS=2", "ROUNDS=2"],
        violates: None,
    },
    Run {
        name: "launcher + daemon, creator x 2 rounds, reader + stop, admin rm, hostile user",
        defines: &["WITH_LAUNCHER", "ROUNDS=2"],
        violates: None,
    },
    Run {
        name:
            "launcher + daemon handing the lock to a read-only descriptor (--no-supervise), creator, reader + stop, admin rm, hostile user",
        defines: &["WITH_LAUNCHER", "WITH_HANDOFF", "ROUNDS=1"],
        violates: None,
    },
    Run {
        name: "mutation: no path re-check",
        defines: &["CREATORS=2", "ROUNDS=2", "NO_RECHECK"],
        violates: Some("mutual_exclusion"),
    },
    Run {
        name: "mutation: unlink after unlocking",
        defines: &["CREATORS=2", "ROUNDS=2", "UNLINK_AFTER_UNLOCK"],
        violates: Some("no_lost_owner"),
    },
    Run {
        name: "mutation: writing before locking",
        defines: &["CREATORS=2", "ROUNDS=2", "WRITE_BEFORE_LOCK"],
        violates: Some("no_lost_owner"),
    },
    Run {
        name: "mutation: an empty locked file is stale",
        defines: &["CREATORS=2", "ROUNDS=2", "EMPTY_IS_STALE"],
        violates: Some("no_lost_owner"),
    },
    Run {
        name: "mutation: the launcher writes its own pid",
        defines: &["WITH_LAUNCHER", "ROUNDS=2", "LAUNCHER_WRITES_OWN_PID"],
        violates: Some("truthful_reports"),
    },
    Run {
        name: "mutation: stop without re-reading after the pidfd",
        defines: &["WITH_LAUNCHER", "ROUNDS=2", "NO_STILL_NAMES"],
        violates: Some("truthful_reports"),
    },
    Run {
        name: "mutation: a PID file others can open (0644), locked by another user",
        defines: &["CREATORS=2", "ROUNDS=2", "PUBLIC_MODE"],
        violates: Some("progress"),
    },
    Run {
        name: "mutation: stop decides on the lock's release, not on the process's exit",
        defines: &["WITH_LAUNCHER", "ROUNDS=2", "STOP_WAITS_ON_LOCK"],
        violates: Some("truthful_reports"),
    },
    Run {
        name: "mutation: hand-over without the path re-check",
        defines: &["WITH_LAUNCHER", "WITH_HANDOFF", "ROUNDS=1", "NO_HANDOFF_RECHECK"],
        violates: Some("mutual_exclusion"),
    },
    Run {
        name: "mutation: hand-over keeping the pid in the file",
        defines: &["WITH_LAUNCHER", "WITH_HANDOFF", "ROUNDS=1", "HANDOFF_KEEPS_CONTENT"],
        violates: Some("truthful_reports"),
    },
];

/// What pan said.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct PanReport {
    pub(crate) errors: u64,
    pub(crate) states: u64,
    pub(crate) depth: u64,
    pub(crate) seconds: f64,
    /// `assertion violated ...` or `invalid end state ...`, if any.
    pub(crate) violation: Option<String>,
}

pub(crate) fn parse_pan(output: &str) -> PanReport {
    let mut report = PanReport::default();
    let number = |text: &str| text.split_whitespace().next().and_then(|n| n.parse::<f64>().ok());
    for line in output.lines() {
        let line = line.trim();
        if let Some(at) = line.find("depth reached ") {
            let rest = &line[at + "depth reached ".len()..];
            report.depth = rest.split(',').next().and_then(|n| n.trim().parse().ok()).unwrap_or(0);
            if let Some(errors) = rest.split("errors: ").nth(1) {
                report.errors = errors.trim().parse().unwrap_or(0);
            }
        } else if let Some(states) = line.strip_suffix("states, stored") {
            report.states = number(states).unwrap_or(0.0) as u64;
        } else if let Some(time) = line.strip_prefix("pan: elapsed time ") {
            report.seconds = number(time).unwrap_or(0.0);
        } else if report.violation.is_none()
            && line.starts_with("pan:")
            && (line.contains("assertion violated") || line.contains("invalid end state"))
        {
            report.violation = Some(line.to_owned());
        }
    }
    report
}

/// The property an assertion at `line` of the model checks: the `/* name */` comment there.
pub(crate) fn property_at(model: &str, line: usize) -> Option<String> {
    let text = model.lines().nth(line.checked_sub(1)?)?;
    let comment = text.split("/*").nth(1)?;
    let name: String = comment.trim_start().chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
    (!name.is_empty()).then_some(name)
}

fn defines(run: &Run) -> Vec<String> {
    run.defines.iter().map(|d| format!("-D{d}")).collect()
}

fn command_output(command: &mut Command) -> Result<String, String> {
    let out = command.output().map_err(|e| format!("cannot run {:?}: {e}", command.get_program()))?;
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    if out.status.success() {
        Ok(text)
    } else {
        Err(format!("{:?} failed ({}):\n{text}", command.get_program(), out.status))
    }
}

/// Generates, compiles and runs the verifier for one run, in `dir`.
fn check_one(model_path: &Path, dir: &Path, run: &Run) -> Result<(PanReport, Option<(String, String)>), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    std::fs::copy(model_path, dir.join("lock.pml")).map_err(|e| format!("copy the model: {e}"))?;
    command_output(Command::new("spin").arg("-a").args(defines(run)).arg("lock.pml").current_dir(dir))?;
    // Safety properties (assertions, invalid end states), exhaustive, compressed state storage.
    // A mutation stops at its first counterexample, after few states: compiling the verifier
    // without optimisation saves most of its time (1 s instead of 8).
    let optimise = if run.violates.is_some() { "-O0" } else { "-O2" };
    command_output(
        Command::new("cc").args([optimise, "-DSAFETY", "-DCOLLAPSE", "-w", "-o", "pan", "pan.c"]).current_dir(dir),
    )?;
    let out = Command::new("./pan").arg("-m200000").current_dir(dir).output().map_err(|e| format!("pan: {e}"))?;
    let report = parse_pan(&String::from_utf8_lossy(&out.stdout));
    if report.errors == 0 {
        return Ok((report, None));
    }
    // Replay the counterexample: the failing line names the property; the last steps are the trace.
    let trail =
        command_output(Command::new("spin").args(["-t", "-p"]).args(defines(run)).arg("lock.pml").current_dir(dir))
            .unwrap_or_else(|e| e);
    let model = std::fs::read_to_string(dir.join("lock.pml")).unwrap_or_default();
    let property = if report.violation.as_deref().is_some_and(|v| v.contains("invalid end state")) {
        "progress".to_owned()
    } else {
        trail
            .lines()
            .find_map(|l| l.strip_prefix("spin: lock.pml:")?.split(',').next()?.parse::<usize>().ok())
            .and_then(|line| property_at(&model, line))
            .unwrap_or_else(|| "an unnamed assertion".to_owned())
    };
    Ok((report, Some((property, short_trace(&trail)))))
}

/// The counterexample's steps up to the violation, one per line (`Creator 2: lock[i] = me`),
/// the last 14.
pub(crate) fn short_trace(trail: &str) -> String {
    let steps: Vec<String> = trail
        .lines()
        .take_while(|line| !line.contains(", Error: "))
        .filter_map(|line| {
            let line = line.trim();
            let rest = line.split_once("proc ")?.1.trim_start();
            let (number, rest) = rest.split_once(' ')?;
            let name = rest.split_once('(')?.1.split_once(')')?.0;
            let who = format!("{} {number}", name.split(':').next()?);
            let after_state = line.split_once("(state ")?.1;
            let statement = after_state.split_once('[')?.1.strip_suffix(']')?;
            // Guards without effect, and the invariants' long assertion, say nothing.
            if who.starts_with("never") || matches!(statement, "(1)" | "else" | "skip") || statement.len() > 100 {
                return None;
            }
            Some(format!("      {who}: {statement}"))
        })
        .collect();
    let mut compact: Vec<String> = Vec::new();
    for step in steps {
        if compact.last() != Some(&step) {
            compact.push(step);
        }
    }
    let skip = compact.len().saturating_sub(14);
    let mut text = if skip > 0 { format!("      ... {skip} earlier steps\n") } else { String::new() };
    text.push_str(&compact[skip..].join("\n"));
    text
}

pub(crate) fn run() -> ExitCode {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_default();
    let model = root.join("crates/pidfile/model/lock.pml");
    let work: PathBuf = root.join("target/model");
    if Command::new("spin").arg("-V").output().is_err() {
        eprintln!("xtask model: `spin` is not installed (`apt-get install spin`; .ci/run does)");
        return ExitCode::FAILURE;
    }
    let start = Instant::now();
    let mut failed = 0;
    for (n, run) in RUNS.iter().enumerate() {
        let dir = work.join(format!("run-{n}"));
        let flags = defines(run).join(" ");
        match (check_one(&model, &dir, run), run.violates) {
            (Err(e), _) => {
                failed += 1;
                println!("model: {} ({flags}): cannot check: {e}", run.name);
            }
            (Ok((report, None)), None) => println!(
                "model: {} ({flags}): all properties hold — {} states, depth {}, {:.1}s",
                run.name, report.states, report.depth, report.seconds
            ),
            (Ok((report, Some((property, trace)))), None) => {
                failed += 1;
                println!(
                    "model: {} ({flags}): VIOLATED {property}: {}\n{trace}",
                    run.name,
                    report.violation.unwrap_or_default()
                );
            }
            (Ok((_, None)), Some(expected)) => {
                failed += 1;
                println!("model: {} ({flags}): NOT CAUGHT: {expected} should be violated", run.name);
            }
            (Ok((report, Some((property, trace)))), Some(expected)) => {
                if property != expected {
                    failed += 1;
                }
                println!(
                    "model: {} ({flags}): {} {property} (expected {expected}) at depth {}:\n{trace}",
                    run.name,
                    if property == expected { "caught, violates" } else { "WRONG PROPERTY:" },
                    report.depth
                );
            }
        }
    }
    println!("model: {} runs in {:.1}s, {failed} failed", RUNS.len(), start.elapsed().as_secs_f64());
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pan_output_is_parsed() {
        let out = "pan:1: assertion violated (named!=4) (at depth 79)\n\
                   State-vector 132 byte, depth reached 176, errors: 1\n\
                   \x20 4426748 states, stored\n\
                   pan: elapsed time 6.21 seconds\n";
        let report = parse_pan(out);
        assert_eq!(report.errors, 1);
        assert_eq!(report.depth, 176);
        assert_eq!(report.states, 4426748);
        assert_eq!(report.seconds, 6.21);
        assert_eq!(report.violation.as_deref(), Some("pan:1: assertion violated (named!=4) (at depth 79)"));
    }

    #[test]
    fn the_property_comes_from_the_failing_line() {
        let model = "a\n    assert(x); /* no_lost_owner */\n";
        assert_eq!(property_at(model, 2).as_deref(), Some("no_lost_owner"));
        assert_eq!(property_at(model, 1), None);
    }

    #[test]
    fn every_mutation_is_in_the_model() {
        let model = include_str!("../../crates/pidfile/model/lock.pml");
        for run in RUNS {
            for define in run.defines.iter().filter(|d| !d.contains('=')) {
                assert!(
                    model.contains(&format!("#ifdef {define}")) || model.contains(&format!("#ifndef {define}")),
                    "{define}"
                );
            }
        }
    }

    #[test]
    fn trace_lines_are_compact() {
        let trail = "  3:\tproc  2 (Creator:1) lock.pml:121 (state 5)\t[round = (round+1)]\n\
                     \x20 4:\tproc  2 (Creator:1) lock.pml:124 (state 12)\t[(1)]\n";
        assert_eq!(short_trace(trail), "      Creator 2: round = (round+1)");
    }
}
