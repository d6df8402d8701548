//! File formats (feature `io`): data sets, safetensors model files and
//! checkpoints, PNG pictures, and atomic writes.
//!
//! [`ModelFile`] reads and writes every model and checkpoint file through
//! one pair, `save` / `load` (and `to_bytes` / `from_bytes`); the per-kind
//! functions (`save_rbm`, `load_any_dbn`, `load_energy_model`, …) do the
//! same for one kind.
//!
//! Every writer goes through [`write_atomic`] ([`output`] has the rules): the
//! bytes go to a temporary file in the same directory, are flushed to disk,
//! and the file is renamed over the target, so a crash leaves the old file or
//! the new one, never a torn one, and a failed run never leaves a
//! half-written output; devices and FIFOs are written in place, symbolic
//! links followed. [`check_output`] refuses an unwritable path before work.

pub mod checkpoint;
pub mod conv;
pub mod datasets;
pub mod energy;
pub mod file;
pub mod model;
pub mod output;
pub mod picture;
pub mod safetensors;

pub use checkpoint::{checkpoint_bytes, load_checkpoint, parse_checkpoint, save_checkpoint};
pub use conv::{
    conv_checkpoint_bytes, conv_dbn_bytes, conv_dbn_checkpoint_bytes, conv_rbm_bytes, load_conv_checkpoint,
    load_conv_dbn, load_conv_dbn_checkpoint, load_conv_rbm, parse_conv_checkpoint, parse_conv_dbn,
    parse_conv_dbn_checkpoint, parse_conv_rbm, save_conv_checkpoint, save_conv_dbn, save_conv_dbn_checkpoint,
    save_conv_rbm,
};
pub use datasets::{
    CsvLabels, Format, Splits, embedded_mnist, read_amat, read_csv, read_dataset, read_idx, read_npy,
};
pub use energy::{EnergyModel, load_energy_model, parse_energy_model, save_energy_model};
pub use file::ModelFile;
pub use model::{
    DbnFile, dbn_bytes, gaussian_dbn_bytes, labelled_dbn_bytes, load_any_dbn, load_dbn, load_labelled_dbn,
    load_rbm, load_untied_dbn, parse_any_dbn, parse_dbn, parse_labelled_dbn, parse_rbm, parse_untied_dbn,
    rbm_bytes, save_dbn, save_gaussian_dbn, save_labelled_dbn, save_rbm, save_untied_dbn, untied_dbn_bytes,
};
pub use output::{check_output, write_atomic};
pub use picture::{
    Curve, curves_png, curves_png_bytes, filters_png, grid_png, scatter_png, scatter_png_bytes,
};

use crate::error::{Error, Result};
use std::path::Path;

pub(crate) fn io_err(path: &Path, reason: impl Into<String>) -> Error {
    Error::Io { path: path.display().to_string(), reason: reason.into() }
}

pub(crate) fn os_err(path: &Path, doing: &str, e: std::io::Error) -> Error {
    Error::os(path.display(), doing, e)
}

/// Reads a whole file, refusing files larger than half the machine's memory.
pub(crate) fn read_file(path: &Path) -> Result<Vec<u8>> {
    let meta = std::fs::metadata(path).map_err(|e| os_err(path, "", e))?;
    if !meta.is_file() {
        return Err(io_err(path, "not a regular file"));
    }
    crate::alloc::check_bytes("file contents", meta.len() as u128 * 2, 1)
        .map_err(|_| io_err(path, format!("{} bytes is more than this machine can load", meta.len())))?;
    std::fs::read(path).map_err(|e| os_err(path, "", e))
}
