//! File formats (feature `io`): data sets, safetensors model files and
//! checkpoints, PNG pictures, and atomic writes.
//!
//! Every writer goes through [`write_atomic`]: the bytes go to a temporary
//! file in the same directory, are flushed to disk, and the file is renamed
//! over the target, so a crash leaves the old file or the new one, never a
//! torn one, and a failed run never leaves a half-written output.

pub mod checkpoint;
pub mod datasets;
pub mod energy;
pub mod model;
pub mod picture;
pub mod safetensors;

pub use checkpoint::{checkpoint_bytes, load_checkpoint, parse_checkpoint, save_checkpoint};
pub use datasets::{
    CsvLabels, Format, Splits, embedded_mnist, read_amat, read_csv, read_dataset, read_idx, read_npy,
};
pub use energy::{EnergyModel, load_energy_model, parse_energy_model, save_energy_model};
pub use model::{
    DbnFile, dbn_bytes, gaussian_dbn_bytes, labelled_dbn_bytes, load_any_dbn, load_dbn, load_labelled_dbn,
    load_rbm, load_untied_dbn, parse_any_dbn, parse_dbn, parse_labelled_dbn, parse_rbm, parse_untied_dbn,
    save_dbn, save_gaussian_dbn, save_labelled_dbn, save_rbm, save_untied_dbn, untied_dbn_bytes,
};
pub use picture::{
    Curve, curves_png, curves_png_bytes, filters_png, grid_png, scatter_png, scatter_png_bytes,
};

use crate::error::{Error, Result};
use std::io::Write;
use std::path::Path;

pub(crate) fn io_err(path: &Path, reason: impl Into<String>) -> Error {
    Error::Io { path: path.display().to_string(), reason: reason.into() }
}

/// Reads a whole file, refusing files larger than half the machine's memory.
pub(crate) fn read_file(path: &Path) -> Result<Vec<u8>> {
    let meta = std::fs::metadata(path).map_err(|e| io_err(path, e.to_string()))?;
    if !meta.is_file() {
        return Err(io_err(path, "not a regular file"));
    }
    crate::alloc::check_bytes("file contents", meta.len() as u128 * 2, 1)
        .map_err(|_| io_err(path, format!("{} bytes is more than this machine can load", meta.len())))?;
    std::fs::read(path).map_err(|e| io_err(path, e.to_string()))
}

/// Writes `bytes` to `path` atomically: temporary file in the same
/// directory, `fsync`, rename over `path`, `fsync` of the directory.
///
/// # Errors
/// [`Error::Io`] if the directory is not writable or the disk is full; the
/// target is then untouched and the temporary file removed.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let name = path.file_name().ok_or_else(|| io_err(path, "not a file path"))?;
    let tmp = dir.join(format!(".{}.tmp-{}", name.to_string_lossy(), std::process::id()));
    let result = (|| -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)?;
        if let Ok(d) = std::fs::File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io_err(path, format!("cannot write: {e}"))
    })
}
