//! What the command prints: each message once, never a panic on a closed stream.

use daemonic::ErrorChain;

use std::sync::atomic::{AtomicBool, Ordering};

/// `--quiet`: informational messages are not printed; errors still are.
static QUIET: AtomicBool = AtomicBool::new(false);

/// Turns informational messages off (`--quiet`).
pub(crate) fn set_quiet() {
    QUIET.store(true, Ordering::Relaxed);
}

/// An informational message on stdout (`started`, `stopped`, `not running`), unless `--quiet`.
pub(crate) fn inform(text: &str) {
    if !QUIET.load(Ordering::Relaxed) {
        say(text);
    }
}

/// A warning on stderr (`daemonic: warning: …`), unless `--quiet`: something that does not stop
/// the command but that its user would want to know.
pub(crate) fn warn(text: &str) {
    if !QUIET.load(Ordering::Relaxed) {
        esay(&format!("daemonic: warning: {text}\n"));
    }
}

/// Writes to stdout, ignoring errors: a closed pipe (`daemonic start | true`) must not turn a
/// started service into a panic or a failure status.
pub(crate) fn say(text: &str) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

/// Writes to stderr, ignoring errors (see [`say`]).
pub(crate) fn esay(text: &str) {
    use std::io::Write as _;
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

/// An error and its causes, each once, without Rust's " (os error N)" suffixes:
/// `cannot lock PID file /x.pid: No locks available` ([`ErrorChain`] with the OS errors' own
/// text).
pub(crate) fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = String::new();
    for (n, error) in ErrorChain::new(error).iter().enumerate() {
        if n > 0 {
            text.push_str(": ");
        }
        match error.downcast_ref::<std::io::Error>() {
            Some(io) => text.push_str(&os_message(io)),
            None => text.push_str(&error.to_string()),
        }
    }
    text
}

/// An OS error's text without Rust's " (os error N)" suffix.
pub(crate) fn os_message(error: &std::io::Error) -> String {
    let text = error.to_string();
    match text.rfind(" (os error ") {
        Some(at) if text.ends_with(')') => text[..at].to_owned(),
        _ => text,
    }
}

/// [`os_message`] for a rustix error.
pub(crate) fn errno_message(error: rustix::io::Errno) -> String {
    os_message(&error.into())
}
