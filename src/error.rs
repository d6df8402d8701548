//! The crate's one error type.
//!
//! Everything that can go wrong because of what a caller passed in (shapes,
//! non-finite numbers, non-binary states, absurd sizes, an unavailable SIMD
//! path) is reported as an [`Error`] value. Hot loops are infallible: inputs
//! are validated once, at construction or at the top of a public call.

use std::fmt;
use std::sync::Arc;

/// Errors returned by `boltzmann`.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq)]
pub enum Error {
    /// A buffer or dimension does not have the size the operation needs.
    ShapeMismatch {
        /// What was being checked, e.g. `"weights"`.
        what: &'static str,
        /// The length or size that was required.
        expected: usize,
        /// The length or size that was passed.
        got: usize,
    },
    /// A value that must be finite is NaN or infinite.
    NonFinite {
        /// What held the value, e.g. `"weights"`.
        what: &'static str,
        /// Its position (flat, row-major).
        index: usize,
    },
    /// A state of binary units holds something other than 0 or 1.
    NotBinary {
        /// What held the value.
        what: &'static str,
        /// Its position (flat, row-major).
        index: usize,
        /// The offending value.
        value: f32,
    },
    /// A parameter is outside the range the operation accepts.
    InvalidParam {
        /// The parameter's name.
        name: &'static str,
        /// Why it was rejected.
        reason: String,
    },
    /// A request would need more memory than this machine has (or than
    /// `usize` can address).
    TooLarge {
        /// What was being allocated.
        what: &'static str,
        /// Bytes that would be needed (saturated at `u128::MAX` is not possible,
        /// so this is the exact count).
        bytes: u128,
        /// Bytes of physical memory on this machine, when known.
        available: Option<u64>,
    },
    /// Training diverged: a parameter became NaN/inf or exceeded the
    /// configured bound. Parameters are not usable; resume from the last
    /// checkpoint with a smaller learning rate.
    Diverged {
        /// Epoch (from 0) in which it happened.
        epoch: usize,
        /// Update count at that point.
        step: u64,
        /// What was found.
        reason: String,
    },
    /// A file's contents are invalid, or it cannot be used for what was
    /// asked (e.g. an output path that is a directory).
    Io {
        /// The file.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// The operating system refused a read or write: a missing file, no
    /// permission, a full disk. [`std::error::Error::source`] gives the
    /// [`std::io::Error`], [`OsError::kind`] its kind.
    Os {
        /// The file.
        path: String,
        /// What was being done, e.g. `"cannot write"` (may be empty).
        doing: String,
        /// The error the system reported.
        source: OsError,
    },
    /// A SIMD path was requested that this CPU (or this build) cannot run.
    IsaUnavailable {
        /// The requested path, e.g. `"avx512"`.
        isa: &'static str,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::ShapeMismatch { what, expected, got } => {
                write!(f, "shape mismatch for {what}: expected {expected}, got {got}")
            }
            Error::NonFinite { what, index } => {
                write!(f, "{what} holds a non-finite value (NaN or inf) at index {index}")
            }
            Error::NotBinary { what, index, value } => {
                write!(f, "{what} must hold binary values (0 or 1), but index {index} is {value}")
            }
            Error::InvalidParam { name, reason } => write!(f, "invalid {name}: {reason}"),
            Error::TooLarge { what, bytes, available } => {
                write!(f, "{what} would need {bytes} bytes")?;
                match available {
                    Some(a) => write!(f, ", but this machine has {a} bytes of memory"),
                    None => write!(f, ", more than can be allocated"),
                }
            }
            Error::Diverged { epoch, step, reason } => write!(
                f,
                "training diverged in epoch {} (update {step}): {reason}; lower the learning rate",
                epoch + 1
            ),
            Error::Io { path, reason } => write!(f, "{path}: {reason}"),
            Error::Os { path, doing, source } if doing.is_empty() => write!(f, "{path}: {source}"),
            Error::Os { path, doing, source } => write!(f, "{path}: {doing}: {source}"),
            Error::IsaUnavailable { isa } => {
                write!(f, "the {isa} code path is not available on this CPU")
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Os { source, .. } => Some(source.get()),
            _ => None,
        }
    }
}

impl Error {
    /// An [`Error::Os`] for `path`: `doing` says what failed (or `""`).
    pub fn os(path: impl fmt::Display, doing: impl Into<String>, e: std::io::Error) -> Error {
        Error::Os { path: path.to_string(), doing: doing.into(), source: OsError(Arc::new(e)) }
    }

    /// The kind of the operating-system error behind this one, if any.
    pub fn io_kind(&self) -> Option<std::io::ErrorKind> {
        match self {
            Error::Os { source, .. } => Some(source.kind()),
            _ => None,
        }
    }
}

/// A shared [`std::io::Error`], so that [`Error`] stays `Clone`; two are
/// equal when their kinds and messages are.
#[derive(Debug, Clone)]
pub struct OsError(Arc<std::io::Error>);

impl OsError {
    /// The error.
    pub fn get(&self) -> &std::io::Error {
        &self.0
    }
    /// Its kind.
    pub fn kind(&self) -> std::io::ErrorKind {
        self.0.kind()
    }
}

impl PartialEq for OsError {
    fn eq(&self, o: &OsError) -> bool {
        self.kind() == o.kind() && self.0.to_string() == o.0.to_string()
    }
}

impl fmt::Display for OsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl From<std::io::Error> for OsError {
    fn from(e: std::io::Error) -> OsError {
        OsError(Arc::new(e))
    }
}

/// `Result` with [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
