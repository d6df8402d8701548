//! Standard output and standard error that never panic, and the outputs
//! of a command that are checked before any work and removed again when the
//! command fails.
//!
//! `println!` panics when standard output is a closed pipe (`boltzmann …
//! | head -1`) or a full disk (`> /dev/full`). Every line the tool prints
//! goes through [`outln!`] instead: a write error becomes an `Err` that ends
//! the command, and [`failure_exit`] turns it into the exit status —
//! quietly 141 for a closed pipe (what a shell reports for a process killed
//! by SIGPIPE, so `set -o pipefail` scripts see the same as with other Unix
//! tools), 74 (`EX_IOERR`) with a message for any other error.
//! Messages to standard error ([`note!`]) ignore write errors: there is
//! nowhere left to report them.

use crate::CliResult;
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

/// The first error writing standard output, if any.
static STDOUT_ERROR: OnceLock<(ErrorKind, String)> = OnceLock::new();

/// Exit status after a closed pipe on standard output.
pub(crate) const EXIT_BROKEN_PIPE: u8 = 141;
/// Exit status after any other error writing standard output (`EX_IOERR`).
pub(crate) const EXIT_IO: u8 = 74;

/// Writes one line to standard output; on error records it and returns the
/// message that ends the command.
pub(crate) fn line(args: std::fmt::Arguments<'_>) -> CliResult<()> {
    let mut out = std::io::stdout().lock();
    out.write_fmt(args).and_then(|()| out.write_all(b"\n")).and_then(|()| out.flush()).map_err(|e| {
        let _ = STDOUT_ERROR.set((e.kind(), e.to_string()));
        format!("cannot write to standard output: {e}").into()
    })
}

/// The error of an earlier write to standard output (from [`outln_cb!`]).
pub(crate) fn check() -> CliResult<()> {
    match STDOUT_ERROR.get() {
        Some((_, e)) => Err(format!("cannot write to standard output: {e}").into()),
        None => Ok(()),
    }
}

/// A record as one line of JSON, fields in declaration order; NaN and
/// infinities become `null` (JSON has neither).
pub(crate) fn json<T: serde::Serialize + ?Sized>(record: &T) -> String {
    // Serializing plain records (numbers, strings, vectors) cannot fail.
    serde_json::to_string(record)
        .unwrap_or_else(|e| serde_json::json!({ "error": e.to_string() }).to_string())
}

/// An object written by [`jobj!`], to nest in another one as it is.
pub(crate) fn raw(object: String) -> Box<serde_json::value::RawValue> {
    use serde_json::value::RawValue;
    RawValue::from_string(object).unwrap_or_else(|_| RawValue::NULL.to_owned())
}

/// Appends `"key":value` to an object under construction ([`jobj!`]).
pub(crate) fn push_field<T: serde::Serialize + ?Sized>(s: &mut String, key: &str, value: &T) {
    if s.len() > 1 {
        s.push(',');
    }
    s.push_str(&json(key));
    s.push(':');
    s.push_str(&json(value));
}

/// Writes a line to standard error, ignoring errors.
pub(crate) fn note_line(args: std::fmt::Arguments<'_>) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_fmt(args).and_then(|()| err.write_all(b"\n"));
}

/// The exit status and message (if any) for a command that failed with
/// `error`.
pub(crate) fn failure_exit(error: &str) -> (u8, Option<String>) {
    match STDOUT_ERROR.get() {
        Some((ErrorKind::BrokenPipe, _)) => (EXIT_BROKEN_PIPE, None),
        Some((_, _)) => (EXIT_IO, Some(error.to_string())),
        None => (1, Some(error.to_string())),
    }
}

/// `println!` that returns `Err(String)` from the enclosing function when
/// standard output cannot be written.
macro_rules! outln {
    () => { $crate::out::line(format_args!(""))? };
    ($($t:tt)*) => { $crate::out::line(format_args!($($t)*))? };
}

/// [`outln!`] for callbacks that cannot return an error (per-epoch reports
/// of library trainers): the error is recorded and [`check`] after the call
/// returns it.
macro_rules! outln_cb {
    ($($t:tt)*) => { let _ = $crate::out::line(format_args!($($t)*)); };
}

/// One JSON object with its fields in the order written:
/// `jobj!("epoch" = e, "seconds" = s, "valid" ?= option)`. A field written
/// `?=` takes an `Option` and is left out when it is `None`. Values go
/// through serde: strings escaped, NaN and infinities as `null`.
macro_rules! jobj {
    (@acc $s:ident;) => {};
    (@acc $s:ident; $k:literal ?= $v:expr $(, $($rest:tt)*)?) => {
        if let Some(v) = &$v {
            $crate::out::push_field(&mut $s, $k, v);
        }
        jobj!(@acc $s; $($($rest)*)?);
    };
    (@acc $s:ident; $k:literal = $v:expr $(, $($rest:tt)*)?) => {
        $crate::out::push_field(&mut $s, $k, &$v);
        jobj!(@acc $s; $($($rest)*)?);
    };
    ($($t:tt)*) => {{
        let mut s = String::from("{");
        jobj!(@acc s; $($t)*);
        s.push('}');
        s
    }};
}

/// `eprintln!` that ignores write errors.
macro_rules! note {
    ($($t:tt)*) => { $crate::out::note_line(format_args!($($t)*)) };
}

/// An output file or directory this command declared.
struct Declared {
    path: PathBuf,
    /// It existed before the command (then it is never removed).
    existed: bool,
    /// Kept when the command fails (checkpoints: the point of them).
    keep: bool,
    dir: bool,
}

static DECLARED: Mutex<Vec<Declared>> = Mutex::new(Vec::new());

fn declare(path: &Path, keep: bool, dir: bool) {
    let existed = std::fs::symlink_metadata(path).is_ok();
    if let Ok(mut d) = DECLARED.lock() {
        d.push(Declared { path: path.to_path_buf(), existed, keep, dir });
    }
}

/// Declares an output file of this command: checks now that it can be
/// written (see `boltzmann::io::check_output`), and removes it again if the
/// command fails and it did not exist before.
pub(crate) fn file(path: &Path) -> CliResult<()> {
    boltzmann::io::check_output(path)?;
    declare(path, false, false);
    Ok(())
}

/// [`file`] for a checkpoint: kept when the command fails later, so that
/// the run can resume from it.
pub(crate) fn checkpoint(path: &Path) -> CliResult<()> {
    boltzmann::io::check_output(path)?;
    declare(path, true, false);
    Ok(())
}

/// Declares an output directory: creates it (and its missing parents) now,
/// checks that files can be written into it, and removes the directories it
/// created again if the command fails and they are empty by then.
pub(crate) fn dir(path: &Path) -> CliResult<()> {
    let mut missing = Vec::new();
    let mut p = Some(path);
    while let Some(d) = p {
        if d.as_os_str().is_empty() || std::fs::symlink_metadata(d).is_ok() {
            break;
        }
        missing.push(d.to_path_buf());
        p = d.parent();
    }
    for d in missing.iter().rev() {
        declare(d, false, true);
    }
    std::fs::create_dir_all(path)
        .map_err(|e| format!("{}: cannot create the directory: {e}", path.display()))?;
    Ok(boltzmann::io::check_output(path.join(".boltzmann-probe"))?)
}

/// Removes what a failed command created: declared files that did not exist
/// before (except checkpoints), then the directories it created, if empty.
pub(crate) fn roll_back() {
    let Ok(declared) = DECLARED.lock() else { return };
    for d in declared.iter().filter(|d| !d.existed && !d.keep && !d.dir) {
        if std::fs::symlink_metadata(&d.path).is_ok_and(|m| m.is_file()) {
            let _ = std::fs::remove_file(&d.path);
        }
    }
    for d in declared.iter().rev().filter(|d| !d.existed && d.dir) {
        let _ = std::fs::remove_dir(&d.path);
    }
}
