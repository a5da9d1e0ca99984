//! [`ErrorChain`]: an error and its causes on one line, each once.

use std::fmt;

/// Displays an error and each of its [`source()`](std::error::Error::source)s once, joined by
/// `": "` — what `anyhow`'s `{:#}` prints, without the dependency.
///
/// The errors of this crate (and of `daemonic`) never repeat their source in their own message,
/// as the Rust convention asks, so `{e}` alone says what failed and where, and the chain adds
/// why.
///
/// # Examples
///
/// ```
/// use pidfile::ErrorChain;
///
/// let err = pidfile::read_pid("/nonexistent/app.pid").unwrap_err();
/// assert_eq!(err.to_string(), "cannot open PID file /nonexistent/app.pid");
/// let line = ErrorChain::new(&err).to_string();
/// assert!(line.starts_with("cannot open PID file /nonexistent/app.pid: /nonexistent: "), "{line}");
/// ```
#[derive(Debug, Clone, Copy)]
pub struct ErrorChain<'a>(&'a (dyn std::error::Error + 'static));

impl<'a> ErrorChain<'a> {
    /// The chain that starts at `error`.
    ///
    /// # Examples
    ///
    /// ```
    /// let err = std::io::Error::other("boom");
    /// assert_eq!(pidfile::ErrorChain::new(&err).to_string(), "boom");
    /// ```
    pub fn new(error: &'a (dyn std::error::Error + 'static)) -> ErrorChain<'a> {
        ErrorChain(error)
    }

    /// The errors of the chain, `error` first.
    ///
    /// # Examples
    ///
    /// ```
    /// let err = pidfile::read_pid("/nonexistent/app.pid").unwrap_err();
    /// assert!(pidfile::ErrorChain::new(&err).iter().any(|e| e.is::<std::io::Error>()));
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = &'a (dyn std::error::Error + 'static)> {
        std::iter::successors(Some(self.0), |error| error.source())
    }
}

impl fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (n, error) in self.iter().enumerate() {
            if n > 0 {
                f.write_str(": ")?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Outer(std::io::Error);
    impl fmt::Display for Outer {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("cannot do it")
        }
    }
    impl std::error::Error for Outer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn each_cause_once_in_order() {
        let err = Outer(std::io::Error::other("because"));
        assert_eq!(ErrorChain::new(&err).to_string(), "cannot do it: because");
        assert_eq!(ErrorChain::new(&err).iter().count(), 2);
    }
}
