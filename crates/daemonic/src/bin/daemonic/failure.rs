//! How a command fails: a usage error (with the synopsis of the command being parsed) or an
//! error, for `main` to print and turn into the exit code. Its own file so that the fuzz
//! targets (`fuzz/src/lib.rs`) compile the parsers with this very type.

/// A command's failure, before `main` prints it.
pub(crate) enum Failure {
    Usage(String, &'static str),
    /// A usage error of `status`, whose LSB exit code for it is 4.
    StatusUsage(String, &'static str),
    Error(String),
}

/// An option parser's error (a missing value, a value that is not UTF-8): a usage error of the
/// command being parsed, whose synopsis `main` adds.
impl From<lexopt::Error> for Failure {
    fn from(e: lexopt::Error) -> Failure {
        Failure::Usage(e.to_string(), "")
    }
}

/// Makes a usage error of the command whose help is `usage` from a message.
pub(crate) fn usage(usage: &'static str) -> impl Fn(String) -> Failure {
    move |message| Failure::Usage(message, usage)
}
