//! `cargo xtask ci`: the checks, the cross-target detection and the summary table.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

/// The checks `--skip` can leave out.
pub(crate) const CHECK_NAMES: &[&str] = &[
    "fmt",
    "clippy",
    "test",
    "test-libc",
    "doc",
    "manual",
    "deny",
    "package",
    "model",
    "faults",
    "mutants",
    "msrv",
    "cross",
];

/// Command-line options of `cargo xtask ci`.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Options {
    /// Every SKIPPED check counts as a failure.
    pub(crate) strict: bool,
    /// Cross targets to check (`host` = this machine's); empty: all of [`TARGETS`].
    pub(crate) targets: Vec<String>,
    /// Checks not to run at all (a CI job that runs them elsewhere); listed as omitted.
    pub(crate) skip: Vec<String>,
}

impl Options {
    pub(crate) fn parse(args: &[String]) -> Result<Options, String> {
        let mut options = Options::default();
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            let mut value = || args.next().cloned().ok_or(format!("{arg} needs a value"));
            match arg.as_str() {
                "--strict" => options.strict = true,
                "--target" => options.targets.push(value()?),
                "--skip" => {
                    let check = value()?;
                    if !CHECK_NAMES.contains(&check.as_str()) {
                        return Err(format!("unknown check {check:?} (one of {})", CHECK_NAMES.join(", ")));
                    }
                    options.skip.push(check);
                }
                other => return Err(format!("unknown option {other:?}")),
            }
        }
        Ok(options)
    }

    fn runs(&self, check: &str) -> bool {
        !self.skip.iter().any(|s| s == check)
    }

    /// The targets to check: all, or those named (`host` resolved to `host_triple`).
    pub(crate) fn selected_targets(&self, host_triple: &str) -> Vec<Target> {
        if self.targets.is_empty() {
            return TARGETS.to_vec();
        }
        self.targets
            .iter()
            .map(|name| {
                let triple = if name == "host" { host_triple } else { name.as_str() };
                TARGETS
                    .iter()
                    .copied()
                    .find(|t| t.triple == triple)
                    .unwrap_or(Target { triple: Box::leak(triple.to_owned().into_boxed_str()), tier3: false })
            })
            .collect()
    }
}

/// How a check ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    Passed,
    Failed(String),
    Skipped(String),
    /// Left out with `--skip`: not a failure, even with `--strict`.
    Omitted,
}

#[derive(Debug)]
pub(crate) struct Record {
    pub(crate) name: String,
    pub(crate) outcome: Outcome,
    pub(crate) time: Duration,
}

/// A cross-compilation target checked by `ci`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Target {
    pub(crate) triple: &'static str,
    /// Tier-3 targets have no prebuilt standard library; they need nightly `-Zbuild-std`.
    pub(crate) tier3: bool,
}

pub(crate) const TARGETS: &[Target] = &[
    Target { triple: "x86_64-unknown-linux-gnu", tier3: false },
    Target { triple: "aarch64-unknown-linux-gnu", tier3: false },
    Target { triple: "x86_64-unknown-linux-musl", tier3: false },
    Target { triple: "i686-unknown-linux-gnu", tier3: false },
    Target { triple: "x86_64-apple-darwin", tier3: false },
    Target { triple: "aarch64-apple-darwin", tier3: false },
    Target { triple: "x86_64-unknown-freebsd", tier3: false },
    Target { triple: "x86_64-unknown-netbsd", tier3: false },
    Target { triple: "x86_64-unknown-openbsd", tier3: true },
    Target { triple: "x86_64-unknown-dragonfly", tier3: true },
];

/// How a target can be checked on this machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Availability {
    /// Its standard library is installed for the stable toolchain.
    Installed,
    /// Tier 3: nightly builds the standard library from `rust-src`.
    BuildStd,
    /// Debian's `rustc-web` toolchain builds the standard library from `rust-web-src`
    /// (`-Zbuild-std`, with `RUSTC_BOOTSTRAP=1`): any target, tier 2 or 3.
    DebianBuildStd,
    /// Cannot be checked here; why, and how to fix it.
    Missing(String),
}

/// What the detection looked at, gathered by [`Facts::probe`] (kept apart so the decision logic
/// is unit-tested without a toolchain).
#[derive(Debug, Default)]
pub(crate) struct Facts {
    /// `rustc --print target-libdir --target T` for the stable toolchain, if it answered.
    pub(crate) libdir: Option<PathBuf>,
    /// Whether that directory exists and holds a `libstd-*.rlib`. rustc prints the path even
    /// when the target is not installed, so the path alone proves nothing.
    pub(crate) libdir_has_std: bool,
    /// Whether a nightly toolchain with the `rust-src` component is installed.
    pub(crate) nightly_rust_src: bool,
    /// Whether Debian's `rustc-web`, `cargo-web`, `rust-web-clippy` and `rust-web-src` are
    /// installed ([`DebianToolchain::find`]).
    pub(crate) debian_web: bool,
}

impl Facts {
    fn probe(target: &Target, nightly_rust_src: bool, debian_web: bool) -> Facts {
        let libdir = output(Command::new("rustc").args(["--print", "target-libdir", "--target", target.triple]))
            .map(|s| PathBuf::from(s.trim()));
        let libdir_has_std = libdir.as_deref().is_some_and(dir_has_std);
        Facts { libdir, libdir_has_std, nightly_rust_src, debian_web }
    }
}

/// Debian's `rustc-web` toolchain (bookworm-security: Rust 1.96 with the standard library's
/// source), used by full path: rustup's `cargo`/`cargo-clippy` earlier on `PATH` (and in
/// `~/.cargo/bin`, where cargo looks for subcommands first) would silently win, and the
/// `CARGO`/`RUSTC` that `cargo xtask` inherits point at rustup's toolchain.
pub(crate) struct DebianToolchain;

impl DebianToolchain {
    const CARGO: &'static str = "/usr/bin/cargo";
    const CARGO_CLIPPY: &'static str = "/usr/bin/cargo-clippy";
    const STD_SOURCE: &'static str = "/usr/lib/rustlib/src/rust/library/Cargo.lock";

    pub(crate) fn find() -> bool {
        [Self::CARGO, Self::CARGO_CLIPPY, "/usr/bin/clippy-driver", "/usr/bin/rustc", Self::STD_SOURCE]
            .iter()
            .all(|path| Path::new(path).exists())
    }

    /// `cargo clippy -Zbuild-std` for `triple`, in its own target directory.
    fn clippy(root: &Path, triple: &str, rustix_libc: bool) -> Command {
        let mut command = Command::new(Self::CARGO_CLIPPY);
        command
            .args(["clippy", "-Zbuild-std=std,panic_abort", "--workspace", "--all-targets", "--all-features"])
            .args(["--target", triple, "--target-dir"])
            .arg(root.join(if rustix_libc { "target/debian-web-libc" } else { "target/debian-web" }))
            .args(["--", "-D", "warnings"]);
        for variable in ["CARGO", "RUSTC", "RUSTDOC", "RUSTUP_TOOLCHAIN", "RUSTC_WRAPPER", "RUSTFLAGS"] {
            command.env_remove(variable);
        }
        command.env("CARGO", Self::CARGO).env("PATH", "/usr/bin:/bin").env("RUSTC_BOOTSTRAP", "1");
        if rustix_libc {
            command.env("RUSTFLAGS", "--cfg rustix_use_libc");
        }
        command
    }
}

fn dir_has_std(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries.filter_map(Result::ok).any(|entry| {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            name.starts_with("libstd-") && name.ends_with(".rlib")
        })
    })
}

pub(crate) fn availability(target: &Target, facts: &Facts) -> Availability {
    if facts.libdir_has_std {
        return Availability::Installed;
    }
    if target.tier3 && facts.nightly_rust_src {
        return Availability::BuildStd;
    }
    if facts.debian_web {
        return Availability::DebianBuildStd;
    }
    if target.tier3 {
        return Availability::Missing("tier-3 target, needs -Zbuild-std: `rustup component add rust-src --toolchain nightly`, or Debian's rustc-web, cargo-web, rust-web-clippy and rust-web-src (.ci/run installs them)".to_owned());
    }
    let where_ = match &facts.libdir {
        Some(dir) => format!("{} does not exist or has no libstd", dir.display()),
        None => "rustc does not know the target".to_owned(),
    };
    Availability::Missing(format!(
        "standard library not installed ({where_}); install with `rustup target add {}`, or Debian's \
         rustc-web, cargo-web, rust-web-clippy and rust-web-src (.ci/run installs them)",
        target.triple
    ))
}

fn nightly_has_rust_src() -> bool {
    output(Command::new("rustup").args(["run", "nightly", "rustc", "--print", "sysroot"]))
        .is_some_and(|sysroot| Path::new(sysroot.trim()).join("lib/rustlib/src/rust/library/std").is_dir())
}

fn output(command: &mut Command) -> Option<String> {
    let out = command.stderr(std::process::Stdio::null()).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// Runs one command as a check, streaming its output, and records the outcome.
fn check(records: &mut Vec<Record>, name: impl Into<String>, mut command: Command) {
    let name = name.into();
    println!("\n==> {name}\n    $ {}", describe(&command));
    let start = Instant::now();
    let outcome = match command.status() {
        Ok(status) if status.success() => Outcome::Passed,
        Ok(status) => Outcome::Failed(format!("exit {status}")),
        Err(e) => Outcome::Failed(format!("cannot run: {e}")),
    };
    let time = start.elapsed();
    println!("<== {name}: {}", label(&outcome));
    records.push(Record { name, outcome, time });
}

fn skip(records: &mut Vec<Record>, name: impl Into<String>, reason: impl Into<String>) {
    let name = name.into();
    let reason = reason.into();
    println!("\n==> {name}: SKIPPED ({reason})");
    records.push(Record { name, outcome: Outcome::Skipped(reason), time: Duration::ZERO });
}

fn describe(command: &Command) -> String {
    let envs: Vec<String> = command
        .get_envs()
        .filter_map(|(k, v)| Some(format!("{}={}", k.to_string_lossy(), v?.to_string_lossy())))
        .collect();
    let args: Vec<String> = command.get_args().map(|a| a.to_string_lossy().into_owned()).collect();
    let mut words = envs;
    words.push(command.get_program().to_string_lossy().into_owned());
    words.extend(args);
    words.join(" ")
}

fn label(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Passed => "ok".to_owned(),
        Outcome::Failed(why) => format!("FAILED ({why})"),
        Outcome::Skipped(why) => format!("SKIPPED ({why})"),
        Outcome::Omitted => "omitted (--skip)".to_owned(),
    }
}

/// The summary table, and whether the run failed.
pub(crate) fn summary(records: &[Record], strict: bool) -> (String, bool) {
    let width = records.iter().map(|r| r.name.len()).max().unwrap_or(5).max(5);
    let mut table = format!("{:<width$}  {:<7}  {:>8}  detail\n", "check", "result", "time");
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    for record in records {
        let (result, detail) = match &record.outcome {
            Outcome::Passed => {
                passed += 1;
                ("ok", String::new())
            }
            Outcome::Failed(why) => {
                failed += 1;
                ("FAILED", why.clone())
            }
            Outcome::Skipped(why) => {
                skipped += 1;
                (if strict { "FAILED" } else { "SKIPPED" }, why.clone())
            }
            Outcome::Omitted => ("omitted", "--skip".to_owned()),
        };
        let secs = format!("{:.1}s", record.time.as_secs_f64());
        table.push_str(&format!("{:<width$}  {result:<7}  {secs:>8}  {detail}\n", record.name));
    }
    let failing = failed > 0 || (strict && skipped > 0);
    table.push_str(&format!(
        "\nxtask: {passed} passed, {failed} failed, {skipped} skipped{}\n",
        if strict && skipped > 0 { " (--strict: skipped checks fail)" } else { "" }
    ));
    (table, failing)
}

/// A compiler unpacked from Debian packages (`dpkg -x`) into a private directory.
pub(crate) struct UnpackedToolchain {
    pub(crate) rustc: PathBuf,
    /// Its shared libraries (`librustc_driver`, `libLLVM`): the unpacked `usr/lib/*-linux-*`.
    pub(crate) library_path: std::ffi::OsString,
}

/// Debian's rustc-web of version `msrv` in `target/toolchains/rust-MSRV`, if it is there and
/// says it is that version.
pub(crate) fn debian_toolchain(root: &Path, msrv: &str) -> Option<UnpackedToolchain> {
    let dir = root.join(format!("target/toolchains/rust-{msrv}/usr"));
    let rustc = dir.join("bin/rustc");
    let libraries: Vec<PathBuf> = std::fs::read_dir(dir.join("lib"))
        .ok()?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.file_name().is_some_and(|n| n.to_string_lossy().contains("-linux-")))
        .collect();
    let library_path = std::env::join_paths(&libraries).ok()?;
    let version = output(Command::new(&rustc).arg("--version").env("LD_LIBRARY_PATH", &library_path))?;
    version.starts_with(&format!("rustc {msrv}.")).then_some(UnpackedToolchain { rustc, library_path })
}

fn toolchain_installed(name: &str) -> bool {
    output(Command::new("rustup").args(["run", name, "rustc", "--version"])).is_some()
}

pub(crate) fn workspace_root() -> PathBuf {
    // xtask/ is one level below the workspace root.
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_default()
}

fn rust_version(root: &Path) -> Option<String> {
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).ok()?;
    parse_rust_version(&manifest)
}

pub(crate) fn parse_rust_version(manifest: &str) -> Option<String> {
    manifest.lines().find_map(|line| {
        let value = line.trim().strip_prefix("rust-version")?.trim_start().strip_prefix('=')?;
        Some(value.trim().trim_matches('"').to_owned())
    })
}

fn omit(records: &mut Vec<Record>, name: impl Into<String>) {
    records.push(Record { name: name.into(), outcome: Outcome::Omitted, time: Duration::ZERO });
}

fn host_triple() -> String {
    output(Command::new("rustc").arg("-vV"))
        .and_then(|v| v.lines().find_map(|l| l.strip_prefix("host: ").map(str::to_owned)))
        .unwrap_or_default()
}

pub(crate) fn run(options: &Options) -> ExitCode {
    let root = workspace_root();
    let mut records = Vec::new();
    let in_root = |mut command: Command| {
        command.current_dir(&root);
        command
    };

    if options.runs("fmt") {
        let mut fmt = cargo();
        fmt.args(["fmt", "--all", "--", "--check"]);
        check(&mut records, "fmt", in_root(fmt));
    } else {
        omit(&mut records, "fmt");
    }

    if options.runs("clippy") {
        let mut clippy = cargo();
        clippy.args(["clippy", "--workspace", "--all-targets", "--all-features", "--", "-D", "warnings"]);
        check(&mut records, "clippy", in_root(clippy));
    } else {
        omit(&mut records, "clippy");
    }

    if options.runs("test") {
        let mut test = cargo();
        test.args(["test", "--workspace", "--all-features"]);
        check(&mut records, "test", in_root(test));
    } else {
        omit(&mut records, "test");
    }

    // The backend macOS and the BSDs always use; on Linux only this flag selects it.
    if options.runs("test-libc") {
        let mut test_libc = cargo();
        test_libc
            .args(["test", "--workspace", "--all-features", "--target-dir"])
            .arg(root.join("target/rustix-libc"))
            .env("RUSTFLAGS", "--cfg rustix_use_libc");
        check(&mut records, "test (rustix libc backend)", in_root(test_libc));
    } else {
        omit(&mut records, "test (rustix libc backend)");
    }

    if options.runs("doc") {
        let mut doc = cargo();
        doc.args(["doc", "--workspace", "--no-deps", "--all-features"]).env("RUSTDOCFLAGS", "-D warnings");
        check(&mut records, "doc", in_root(doc));
    } else {
        omit(&mut records, "doc");
    }

    // The command's manual pages and completions, generated from its --help: `man -l` renders
    // each page, the shells parse the completions.
    if !options.runs("manual") {
        omit(&mut records, "manual");
    } else if output(Command::new("man").arg("--version")).is_some() {
        check(&mut records, "manual", crate::man::command(&root, &root.join("target/manual"), true));
    } else {
        skip(&mut records, "manual", "man(1) not installed (Debian: `apt-get install man-db`)");
    }

    if !options.runs("deny") {
        omit(&mut records, "cargo deny");
    } else if output(cargo().args(["deny", "--version"])).is_some() {
        let mut deny = cargo();
        deny.args(["deny", "check", "licenses", "bans", "sources"]);
        check(&mut records, "cargo deny", in_root(deny));
    } else {
        skip(
            &mut records,
            "cargo deny",
            "cargo-deny not installed; `cargo install --locked cargo-deny` (.ci/run does)",
        );
    }

    // Packages both crates and builds each against the other as the registry would see them
    // (cargo's `--workspace` publishing overlays a local registry): a missing file, a broken
    // dependency name or a manifest error fails here, before a release. `--allow-dirty`: the
    // check is about what would ship, not about the state of the working tree.
    if options.runs("package") {
        let mut package = cargo();
        package.args(["publish", "--dry-run", "--workspace", "--allow-dirty"]);
        check(&mut records, "cargo publish --dry-run --workspace", in_root(package));
    } else {
        omit(&mut records, "cargo publish --dry-run --workspace");
    }

    // The lock protocol's model (Spin): `cargo xtask model`, run by this very binary.
    if !options.runs("model") {
        omit(&mut records, "model (Spin)");
    } else if output(Command::new("spin").arg("-V")).is_some() {
        match std::env::current_exe() {
            Ok(xtask) => {
                let mut model = Command::new(xtask);
                model.arg("model");
                check(&mut records, "model (Spin)", in_root(model));
            }
            Err(e) => records.push(Record {
                name: "model (Spin)".into(),
                outcome: Outcome::Failed(format!("cannot find xtask itself: {e}")),
                time: Duration::ZERO,
            }),
        }
    } else {
        skip(&mut records, "model (Spin)", "spin not installed; `apt-get install spin` (.ci/run does)");
    }

    // The fault sweep (`cargo xtask faults`, this very binary): every run, listing every
    // violation (`--keep-going`); Linux, root and strace only.
    if !options.runs("faults") {
        omit(&mut records, "faults (strace -e inject)");
    } else if let Some(reason) = crate::faults::unavailable() {
        skip(&mut records, "faults (strace -e inject)", reason);
    } else {
        match std::env::current_exe() {
            Ok(xtask) => {
                let mut faults = Command::new(xtask);
                faults.args(["faults", "--keep-going"]);
                check(&mut records, "faults (strace -e inject)", in_root(faults));
            }
            Err(e) => records.push(Record {
                name: "faults (strace -e inject)".into(),
                outcome: Outcome::Failed(format!("cannot find xtask itself: {e}")),
                time: Duration::ZERO,
            }),
        }
    }

    // Mutation testing of the last commit's change only (`cargo xtask mutants --in-diff
    // HEAD~1`, this very binary): the full run is `cargo xtask mutants` (see the README).
    let mutants = "mutants (in diff)";
    if !options.runs("mutants") {
        omit(&mut records, mutants);
    } else if let Some(reason) = crate::mutants::unavailable() {
        skip(&mut records, mutants, reason);
    } else if !crate::mutants::commit_exists(&root, "HEAD~1") {
        println!("\n==> {mutants}: no previous commit (HEAD~1), so no change to test: passes");
        records.push(Record { name: mutants.into(), outcome: Outcome::Passed, time: Duration::ZERO });
    } else {
        match std::env::current_exe() {
            Ok(xtask) => {
                let mut command = Command::new(xtask);
                command.args(["mutants", "--in-diff", "HEAD~1"]);
                check(&mut records, mutants, in_root(command));
            }
            Err(e) => records.push(Record {
                name: mutants.into(),
                outcome: Outcome::Failed(format!("cannot find xtask itself: {e}")),
                time: Duration::ZERO,
            }),
        }
    }

    // The declared rust-version builds the libraries and the command (the tests' dev-dependencies
    // need a newer compiler): with rustup's toolchain of that version, or Debian's rustc-web of
    // that version unpacked into target/toolchains (.ci/run does; no rustup download needed).
    match rust_version(&root) {
        _ if !options.runs("msrv") => omit(&mut records, "build at rust-version"),
        Some(msrv) => {
            let scope = ["check", "-p", "daemonic-pidfile", "-p", "daemonic", "--lib", "--bins", "--all-features"];
            if toolchain_installed(&msrv) {
                let mut build = Command::new("rustup");
                build.args(["run", &msrv, "cargo"]).args(scope).arg("--target-dir").arg(root.join("target/msrv"));
                check(&mut records, format!("build at rust-version {msrv}"), in_root(build));
            } else if let Some(toolchain) = debian_toolchain(&root, &msrv) {
                let mut build = cargo();
                build
                    .args(scope)
                    .arg("--target-dir")
                    .arg(root.join("target/msrv"))
                    .env("RUSTC", toolchain.rustc)
                    .env("LD_LIBRARY_PATH", toolchain.library_path)
                    .env_remove("RUSTC_WRAPPER");
                check(&mut records, format!("build at rust-version {msrv} (Debian rustc-web {msrv})"), in_root(build));
            } else {
                skip(
                    &mut records,
                    format!("build at rust-version {msrv}"),
                    format!(
                        "no Rust {msrv}: `rustup toolchain install {msrv}`, or Debian's rustc-web {msrv} \
                         unpacked into target/toolchains/rust-{msrv} (.ci/run does)"
                    ),
                );
            }
        }
        None => records.push(Record {
            name: "build at rust-version".into(),
            outcome: Outcome::Failed("no rust-version in Cargo.toml".into()),
            time: Duration::ZERO,
        }),
    }

    if options.runs("cross") {
        let nightly_rust_src = nightly_has_rust_src();
        let debian_web = DebianToolchain::find();
        for target in options.selected_targets(&host_triple()) {
            let name = format!("clippy --target {}", target.triple);
            match availability(&target, &Facts::probe(&target, nightly_rust_src, debian_web)) {
                Availability::Installed => {
                    let mut command = cargo();
                    command.args([
                        "clippy",
                        "--workspace",
                        "--all-targets",
                        "--all-features",
                        "--target",
                        target.triple,
                    ]);
                    command.args(["--", "-D", "warnings"]);
                    check(&mut records, name, in_root(command));
                }
                Availability::BuildStd => {
                    let mut command = Command::new("rustup");
                    command
                        .args(["run", "nightly", "cargo", "clippy", "-Zbuild-std=std,panic_abort", "--workspace"])
                        .arg("--all-features")
                        .args(["--all-targets", "--target", target.triple, "--", "-D", "warnings"]);
                    check(&mut records, name, in_root(command));
                }
                Availability::DebianBuildStd => {
                    let name = format!("{name} (Debian rustc-web, -Zbuild-std)");
                    check(&mut records, name, in_root(DebianToolchain::clippy(&root, target.triple, false)));
                    // rustix's other backend, where the target has two (Linux: linux_raw by
                    // default; everywhere else libc is the only one).
                    if target.triple.contains("-linux-") {
                        let name = format!("clippy --target {} (rustix libc backend, Debian rustc-web)", target.triple);
                        check(&mut records, name, in_root(DebianToolchain::clippy(&root, target.triple, true)));
                    }
                }
                Availability::Missing(reason) => skip(&mut records, name, reason),
            }
        }
    } else {
        omit(&mut records, "cross-target clippy");
    }

    let (table, failing) = summary(&records, options.strict);
    println!("\n{table}");
    if failing {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(triple: &'static str, tier3: bool) -> Target {
        Target { triple, tier3 }
    }

    #[test]
    fn printed_libdir_without_std_is_missing() {
        let facts = Facts {
            libdir: Some("/nonexistent/lib/rustlib/aarch64-apple-darwin/lib".into()),
            libdir_has_std: false,
            nightly_rust_src: true,
            debian_web: false,
        };
        match availability(&target("aarch64-apple-darwin", false), &facts) {
            Availability::Missing(reason) => {
                assert!(reason.contains("rustup target add aarch64-apple-darwin"), "{reason}");
                assert!(reason.contains("/nonexistent/lib/rustlib"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn installed_std_is_checked() {
        let facts =
            Facts { libdir: Some("/x".into()), libdir_has_std: true, nightly_rust_src: false, debian_web: true };
        assert_eq!(availability(&target("x86_64-unknown-freebsd", false), &facts), Availability::Installed);
    }

    #[test]
    fn tier3_needs_nightly_rust_src() {
        let without = Facts { libdir: Some("/x".into()), libdir_has_std: false, ..Facts::default() };
        let with = Facts { nightly_rust_src: true, ..Facts::default() };
        let openbsd = target("x86_64-unknown-openbsd", true);
        assert!(matches!(availability(&openbsd, &without), Availability::Missing(r) if r.contains("rust-src")));
        assert_eq!(availability(&openbsd, &with), Availability::BuildStd);
    }

    #[test]
    fn debian_web_checks_every_target_without_std() {
        let debian = Facts { debian_web: true, ..Facts::default() };
        for target in TARGETS {
            assert_eq!(availability(target, &debian), Availability::DebianBuildStd, "{}", target.triple);
        }
        let installed = Facts { libdir_has_std: true, debian_web: true, ..Facts::default() };
        assert_eq!(availability(&TARGETS[0], &installed), Availability::Installed, "rustup's route first");
    }

    #[test]
    fn dir_has_std_looks_for_the_rlib() {
        let dir = std::env::temp_dir().join(format!("xtask-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        assert!(!dir_has_std(&dir));
        std::fs::write(dir.join("libstd-0123abcd.rlib"), b"").unwrap();
        assert!(dir_has_std(&dir));
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(!dir_has_std(&dir));
    }

    #[test]
    fn host_target_is_detected_as_installed() {
        // The toolchain running this test has its own standard library.
        let host = TARGETS.iter().find(|t| t.triple == "x86_64-unknown-linux-gnu").unwrap();
        if cfg!(all(target_arch = "x86_64", target_os = "linux", target_env = "gnu")) {
            assert_eq!(availability(host, &Facts::probe(host, false, false)), Availability::Installed);
        }
    }

    fn record(name: &str, outcome: Outcome) -> Record {
        Record { name: name.into(), outcome, time: Duration::from_millis(1500) }
    }

    #[test]
    fn summary_fails_on_failure_and_on_skips_only_when_strict() {
        let ok = [record("fmt", Outcome::Passed), record("clippy --target x", Outcome::Skipped("no std".into()))];
        let (table, failing) = summary(&ok, false);
        assert!(!failing);
        assert!(table.contains("SKIPPED") && table.contains("no std") && table.contains("1.5s"), "{table}");
        assert!(table.contains("1 passed, 0 failed, 1 skipped"), "{table}");

        let (table, failing) = summary(&ok, true);
        assert!(failing);
        assert!(table.contains("--strict"), "{table}");

        let bad = [record("test", Outcome::Failed("exit status: 101".into()))];
        let (table, failing) = summary(&bad, false);
        assert!(failing);
        assert!(table.contains("FAILED") && table.contains("exit status: 101"), "{table}");
    }

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn options_and_manifest_parsing() {
        assert_eq!(Options::parse(&[]).unwrap(), Options::default());
        let options = Options::parse(&args(&["--strict", "--target", "host", "--skip", "msrv"])).unwrap();
        assert!(options.strict);
        assert_eq!(options.targets, ["host"]);
        assert!(!options.runs("msrv") && options.runs("test"));
        assert!(!Options::parse(&args(&["--skip", "faults"])).unwrap().runs("faults"));
        assert!(!Options::parse(&args(&["--skip", "mutants"])).unwrap().runs("mutants"));
        assert!(Options::parse(&args(&["--bogus"])).is_err());
        assert!(Options::parse(&args(&["--skip", "everything"])).unwrap_err().contains("unknown check"));
        assert!(Options::parse(&args(&["--target"])).unwrap_err().contains("needs a value"));
        let manifest = "[workspace.package]\nedition = \"2021\"\nrust-version = \"1.85\"\n";
        assert_eq!(parse_rust_version(manifest).as_deref(), Some("1.85"));
        assert_eq!(parse_rust_version("[package]\n"), None);
    }

    #[test]
    fn target_selection() {
        assert_eq!(Options::default().selected_targets("x86_64-unknown-linux-gnu").len(), TARGETS.len());
        let options = Options::parse(&args(&["--target", "host", "--target", "x86_64-unknown-openbsd"])).unwrap();
        let selected = options.selected_targets("x86_64-unknown-freebsd");
        assert_eq!(selected, vec![target("x86_64-unknown-freebsd", false), target("x86_64-unknown-openbsd", true)]);
        let unknown = Options::parse(&args(&["--target", "riscv64gc-unknown-linux-gnu"])).unwrap();
        assert_eq!(unknown.selected_targets("x")[0].triple, "riscv64gc-unknown-linux-gnu");
    }

    #[test]
    fn omitted_checks_do_not_fail_strict_runs() {
        let records = [record("fmt", Outcome::Passed), record("msrv", Outcome::Omitted)];
        let (table, failing) = summary(&records, true);
        assert!(!failing, "{table}");
        assert!(table.contains("omitted"), "{table}");
    }

    #[test]
    fn every_documented_target_is_listed() {
        for triple in [
            "x86_64-unknown-linux-gnu",
            "aarch64-unknown-linux-gnu",
            "x86_64-unknown-linux-musl",
            "i686-unknown-linux-gnu",
            "x86_64-apple-darwin",
            "aarch64-apple-darwin",
            "x86_64-unknown-freebsd",
            "x86_64-unknown-netbsd",
            "x86_64-unknown-openbsd",
            "x86_64-unknown-dragonfly",
        ] {
            assert!(TARGETS.iter().any(|t| t.triple == triple), "{triple}");
        }
    }
}
