//! `cargo xtask man --out DIR`: the `daemonic` command's manual pages and completions, made by
//! the command itself from its `--help` texts (`daemonic --generate`), so they cannot drift.
//! The `manual` check of `cargo xtask ci` renders them (`man -l`) and loads the completions
//! (`bash -n`, and `zsh -n`/`fish -n` where those shells are installed).

use std::path::Path;
use std::process::{Command, ExitCode};

/// Builds the command, then writes into `$1`: `daemonic*.1`, `daemonic.bash`, `_daemonic`
/// (zsh), `daemonic.fish`; with `$2` = `check`, also renders and parses them.
pub(crate) const SCRIPT: &str = r#"
set -e
"$CARGO" build -q -p daemonic --features cli
rm -rf "$1"
mkdir -p "$1"
target/debug/daemonic --generate man --out "$1"
target/debug/daemonic --generate bash > "$1/daemonic.bash"
target/debug/daemonic --generate zsh > "$1/_daemonic"
target/debug/daemonic --generate fish > "$1/daemonic.fish"
echo "$1/daemonic.bash $1/_daemonic $1/daemonic.fish"
if [ "$2" = check ]; then
    for page in "$1"/*.1; do
        MANWIDTH=80 man -l "$page" > /dev/null 2> "$1/man.err"
        if [ -s "$1/man.err" ]; then echo "$page:"; cat "$1/man.err"; exit 1; fi
    done
    rm -f "$1/man.err"
    bash -n "$1/daemonic.bash"
    if command -v zsh > /dev/null; then zsh -n "$1/_daemonic"; else echo "zsh not installed: _daemonic not parsed"; fi
    if command -v fish > /dev/null; then fish -n "$1/daemonic.fish"; else echo "fish not installed: daemonic.fish not parsed"; fi
fi
"#;

/// The command that generates (and, with `check`, checks) the manual into `out`.
pub(crate) fn command(root: &Path, out: &Path, check: bool) -> Command {
    let mut command = Command::new("sh");
    command
        .args(["-c", SCRIPT, "sh"])
        .arg(out)
        .arg(if check { "check" } else { "" })
        .env("CARGO", std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .current_dir(root);
    command
}

pub(crate) fn run(out: &Path) -> ExitCode {
    let root = crate::ci::workspace_root();
    let out = if out.is_absolute() { out.to_path_buf() } else { std::env::current_dir().unwrap_or_default().join(out) };
    match command(&root, &out, false).status() {
        Ok(status) if status.success() => {
            println!(
                "install: man pages into a man1 directory (e.g. /usr/local/share/man/man1), daemonic.bash into \
                 /usr/share/bash-completion/completions/daemonic, _daemonic into a $fpath directory, daemonic.fish \
                 into ~/.config/fish/completions/"
            );
            ExitCode::SUCCESS
        }
        Ok(_) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("xtask man: cannot run sh: {e}");
            ExitCode::FAILURE
        }
    }
}
