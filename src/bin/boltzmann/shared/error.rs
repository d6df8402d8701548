//! The command line's one error type: a message for the user. Library
//! errors keep their text (`boltzmann::Error`'s `Display`), and every
//! other failure converts with `?` or `.into()`, so commands need no
//! `map_err` to report one.

use std::fmt;

/// A failed command: the one-line message printed after `boltzmann: error:`.
#[derive(Debug)]
pub(crate) struct CliError(String);

/// What every command returns.
pub(crate) type CliResult<T> = Result<T, CliError>;

impl CliError {
    /// The message.
    pub(crate) fn message(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<String> for CliError {
    fn from(s: String) -> CliError {
        CliError(s)
    }
}

impl From<&str> for CliError {
    fn from(s: &str) -> CliError {
        CliError(s.to_string())
    }
}

/// Errors shown by their `Display` text.
macro_rules! shown {
    ($($t:ty),*) => {$(
        impl From<$t> for CliError {
            fn from(e: $t) -> CliError {
                CliError(e.to_string())
            }
        }
    )*};
}

shown!(boltzmann::Error, std::io::Error, rayon::ThreadPoolBuildError, serde_json::Error);
