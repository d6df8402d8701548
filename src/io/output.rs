//! The one way outputs are written: [`write_atomic`], and
//! [`check_output`] to refuse an unwritable path before any work is done.
//!
//! Rules, in order:
//! - A **symbolic link** is followed (to any depth, at most 40 links): the
//!   file it points to is written, the link stays a link.
//! - A **directory** is refused.
//! - Any other existing **non-regular file** (a character device such as
//!   `/dev/null` or `/dev/full`, a FIFO, a socket) is opened and written in
//!   place: it is never replaced by a regular file, and a write error (a
//!   full device, a closed FIFO) is reported.
//! - A **regular file, or no file yet**: the bytes go to a temporary file
//!   `.NAME.tmp-PID` in the same directory, are flushed to disk, and the file
//!   is renamed over the target, so a crash leaves the old file or the new
//!   one, never a torn one. Temporary files of the same output left by a
//!   process that no longer runs (a `kill -9` during a write) are removed by
//!   the next write or check of that output.

use super::{io_err, os_err};
use crate::error::Result;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Where `path` leads: the final target after following symbolic links.
fn resolve(path: &Path) -> Result<PathBuf> {
    let mut p = path.to_path_buf();
    for _ in 0..40 {
        match std::fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_symlink() => {
                let target = std::fs::read_link(&p).map_err(|e| os_err(path, "", e))?;
                p = match p.parent() {
                    Some(dir) if target.is_relative() => dir.join(target),
                    _ => target,
                };
            }
            _ => return Ok(p),
        }
    }
    Err(io_err(path, "too many levels of symbolic links"))
}

/// The directory and file name of a resolved output path.
fn split(path: &Path, shown: &Path) -> Result<(PathBuf, String)> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path.file_name().ok_or_else(|| io_err(shown, "not a file path"))?;
    Ok((dir, name.to_string_lossy().into_owned()))
}

/// What is at a resolved path.
enum Target {
    /// Nothing yet, or a regular file: write-then-rename.
    Replaceable,
    /// A device, FIFO or socket: written in place.
    Special,
}

fn target(path: &Path, shown: &Path) -> Result<Target> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => Err(io_err(shown, "is a directory")),
        Ok(m) if m.is_file() => Ok(Target::Replaceable),
        Ok(_) => Ok(Target::Special),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Target::Replaceable),
        Err(e) => Err(os_err(shown, "", e)),
    }
}

/// Whether process `pid` is running (where the platform can tell; otherwise
/// assumed running, so nothing of another process is ever removed).
fn process_running(pid: u32) -> bool {
    let proc = Path::new("/proc");
    if !proc.join("self").exists() {
        return true;
    }
    proc.join(pid.to_string()).exists()
}

/// Removes `.NAME.tmp-PID` files in `dir` whose process has ended.
fn remove_stale_temporaries(dir: &Path, name: &str) {
    let prefix = format!(".{name}.tmp-");
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(rest) = file_name.to_str().and_then(|s| s.strip_prefix(&prefix)) else { continue };
        let Ok(pid) = rest.parse::<u32>() else { continue };
        if pid != std::process::id() && !process_running(pid) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

fn temporary(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!(".{name}.tmp-{}", std::process::id()))
}

/// Checks that [`write_atomic`] could write `path`, without changing it:
/// its directory exists and accepts a new file (a temporary one is created
/// and removed), it is not a directory. Call it before long work so that a
/// bad output path fails at once. Also removes stale temporary files of
/// this output.
///
/// # Errors
/// [`Error::Io`](crate::Error::Io) naming the path and the reason.
pub fn check_output(path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    let real = resolve(path)?;
    if let Target::Special = target(&real, path)? {
        return Ok(());
    }
    let (dir, name) = split(&real, path)?;
    match std::fs::metadata(&dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => return Err(io_err(path, format!("{} is not a directory", dir.display()))),
        Err(e) => return Err(os_err(path, &format!("cannot write into {}", dir.display()), e)),
    }
    remove_stale_temporaries(&dir, &name);
    let tmp = temporary(&dir, &name);
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp)
        .map_err(|e| os_err(path, &format!("cannot write into {}", dir.display()), e))?;
    let _ = std::fs::remove_file(&tmp);
    Ok(())
}

/// Writes `bytes` to `path` by the rules of this module: atomically
/// (temporary file, `fsync`, rename, `fsync` of the directory) for regular
/// files, in place for devices and FIFOs, through symbolic links.
///
/// # Errors
/// [`Error::Os`](crate::Error::Os) if the directory is not writable or the disk is full, [`Error::Io`](crate::Error::Io) if the
/// path is a directory; the target is then untouched (for a regular file)
/// and the temporary file removed.
///
/// # Example
/// ```
/// # fn main() -> boltzmann::Result<()> {
/// let dir = std::env::temp_dir().join(format!("boltzmann-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let path = dir.join("hello.txt");
/// boltzmann::io::write_atomic(&path, b"hello")?;
/// assert_eq!(std::fs::read(&path).unwrap(), b"hello");
/// // Writing through a directory is refused, and nothing changes.
/// assert!(boltzmann::io::write_atomic(&dir, b"x").is_err());
/// # std::fs::remove_dir_all(&dir).unwrap();
/// # Ok(())
/// # }
/// ```
pub fn write_atomic(path: impl AsRef<Path>, bytes: &[u8]) -> Result<()> {
    let path = path.as_ref();
    let real = resolve(path)?;
    if let Target::Special = target(&real, path)? {
        let result = std::fs::OpenOptions::new()
            .write(true)
            .open(&real)
            .and_then(|mut f| f.write_all(bytes).and_then(|()| f.flush()));
        return result.map_err(|e| os_err(path, "cannot write", e));
    }
    let (dir, name) = split(&real, path)?;
    remove_stale_temporaries(&dir, &name);
    let tmp = temporary(&dir, &name);
    let result = (|| -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, &real)?;
        if let Ok(d) = std::fs::File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        os_err(path, "cannot write", e)
    })
}
