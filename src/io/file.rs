//! One pair of functions for every file the library writes: [`ModelFile`]
//! holds any model (RBM, any DBN, any continuous model, a convolutional
//! RBM) or a training
//! checkpoint; [`ModelFile::save`] / [`ModelFile::load`] and
//! [`ModelFile::to_bytes`] / [`ModelFile::from_bytes`] read and write all
//! of them, telling them apart by the file's `kind` metadata. The
//! per-kind functions (`save_rbm`, `load_any_dbn`, …) remain for callers
//! that know what they expect; both paths run the same checks.

use super::conv;
use super::energy::{self, EnergyModel};
use super::model::{self, DbnFile};
use super::safetensors;
use super::{checkpoint, read_file, write_atomic};
use crate::error::{Error, Result};
use crate::model::{ConvDbn, ConvRbm, Rbm};
use crate::train::TrainState;
use crate::train::conv::ConvTrainState;
use crate::train::conv_dbn::ConvDbnTrainState;
use std::path::Path;

/// Any file of this library, by what it holds.
///
/// # Examples
/// ```
/// use boltzmann::{Rbm, io::ModelFile};
/// let rbm = Rbm::random(6, 4, 0.1, 0.0, 1)?;
/// let bytes = ModelFile::from(rbm.clone()).to_bytes();
/// match ModelFile::from_bytes(&bytes)? {
///     ModelFile::Rbm(back) => assert_eq!(back, rbm),
///     other => panic!("read back a {}", other.kind()),
/// }
/// // Not a model file: an error naming the problem, never a panic.
/// assert!(ModelFile::from_bytes(b"not safetensors").is_err());
/// # Ok::<(), boltzmann::Error>(())
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq)]
pub enum ModelFile {
    /// A Bernoulli–Bernoulli RBM (`kind = "rbm"`).
    Rbm(Rbm),
    /// A DBN of any kind: tied, untied, label-joined top, Gaussian bottom.
    Dbn(DbnFile),
    /// A continuous model: Gaussian–Bernoulli RBM, MLP energy, score network.
    Energy(EnergyModel),
    /// A training checkpoint of the RBM trainer (`kind = "rbm-checkpoint"`).
    Checkpoint(Box<TrainState>),
    /// A convolutional RBM (`kind = "conv-rbm"`).
    ConvRbm(ConvRbm),
    /// A convolutional DBN (`kind = "conv-dbn"`).
    ConvDbn(ConvDbn),
    /// A training checkpoint of the convolutional-RBM trainer
    /// (`kind = "conv-checkpoint"`).
    ConvCheckpoint(Box<ConvTrainState>),
    /// A training checkpoint of a greedy convolutional-DBN run
    /// (`kind = "conv-dbn-checkpoint"`).
    ConvDbnCheckpoint(Box<ConvDbnTrainState>),
}

impl ModelFile {
    /// The file's `kind` metadata value: `"rbm"`, `"dbn"`, `"gaussian-dbn"`,
    /// `"gb-rbm"`, `"mlp-energy"`, `"score-mlp"`, `"rbm-checkpoint"`,
    /// `"conv-rbm"`, `"conv-dbn"`, `"conv-checkpoint"` or
    /// `"conv-dbn-checkpoint"`.
    pub fn kind(&self) -> &'static str {
        match self {
            ModelFile::Rbm(_) => "rbm",
            ModelFile::Dbn(DbnFile::Gaussian(_)) => "gaussian-dbn",
            ModelFile::Dbn(_) => "dbn",
            ModelFile::Energy(EnergyModel::GaussianRbm(_)) => "gb-rbm",
            ModelFile::Energy(EnergyModel::Mlp(_)) => "mlp-energy",
            ModelFile::Energy(EnergyModel::Score(_)) => "score-mlp",
            ModelFile::Checkpoint(_) => "rbm-checkpoint",
            ModelFile::ConvRbm(_) => "conv-rbm",
            ModelFile::ConvDbn(_) => "conv-dbn",
            ModelFile::ConvCheckpoint(_) => "conv-checkpoint",
            ModelFile::ConvDbnCheckpoint(_) => "conv-dbn-checkpoint",
        }
    }

    /// The bytes [`ModelFile::save`] writes (a safetensors file with the
    /// metadata and checksum of its kind).
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            ModelFile::Rbm(r) => model::rbm_bytes(r),
            ModelFile::Dbn(DbnFile::Tied(d)) => model::dbn_bytes(d),
            ModelFile::Dbn(DbnFile::Untied(d)) => model::untied_dbn_bytes(d),
            ModelFile::Dbn(DbnFile::Labelled(d)) => model::labelled_dbn_bytes(d),
            ModelFile::Dbn(DbnFile::Gaussian(d)) => model::gaussian_dbn_bytes(d),
            ModelFile::Energy(EnergyModel::GaussianRbm(g)) => energy::gaussian_rbm_bytes(g),
            ModelFile::Energy(EnergyModel::Mlp(e)) => energy::mlp_energy_bytes(e),
            ModelFile::Energy(EnergyModel::Score(s)) => energy::score_mlp_bytes(s),
            ModelFile::Checkpoint(s) => checkpoint::checkpoint_bytes(s),
            ModelFile::ConvRbm(m) => conv::conv_rbm_bytes(m),
            ModelFile::ConvDbn(d) => conv::conv_dbn_bytes(d),
            ModelFile::ConvCheckpoint(s) => conv::conv_checkpoint_bytes(s),
            ModelFile::ConvDbnCheckpoint(s) => conv::conv_dbn_checkpoint_bytes(s),
        }
    }

    /// Reads any file of this library from its bytes, with every check of
    /// the per-kind parser.
    ///
    /// # Errors
    /// [`Error::Io`] for bytes that are not a safetensors file of this
    /// library, an unknown `kind`, or anything the per-kind parser refuses.
    pub fn from_bytes(bytes: &[u8]) -> Result<ModelFile> {
        parse_named(bytes, "model")
    }

    /// Writes the file atomically (see [`super::write_atomic`]).
    ///
    /// # Errors
    /// [`Error::Os`] if it cannot be written, [`Error::Io`] for a path that
    /// is a directory.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        write_atomic(path.as_ref(), &self.to_bytes())
    }

    /// Reads any file of this library.
    ///
    /// # Errors
    /// As [`ModelFile::from_bytes`], naming the file; [`Error::Os`] when it
    /// cannot be read.
    pub fn load(path: impl AsRef<Path>) -> Result<ModelFile> {
        let path = path.as_ref();
        parse_named(&read_file(path)?, &path.display().to_string())
    }
}

fn parse_named(bytes: &[u8], what: &str) -> Result<ModelFile> {
    // The header alone tells the kind; the per-kind parser then checks
    // everything, the checksum included.
    let meta = safetensors::metadata_of(bytes, what)?;
    let bad = |reason: String| Error::Io { path: what.to_string(), reason };
    if meta.get("format").map(String::as_str) != Some("boltzmann") {
        return Err(bad("not a boltzmann file (metadata format is not \"boltzmann\")".into()));
    }
    let kind = meta.get("kind").ok_or_else(|| bad("missing metadata \"kind\"".into()))?;
    match kind.as_str() {
        "rbm" => model::parse_rbm_named(bytes, what).map(ModelFile::Rbm),
        "dbn" | "gaussian-dbn" => model::parse_any_named(bytes, what).map(ModelFile::Dbn),
        "gb-rbm" | "mlp-energy" | "score-mlp" => energy::parse_named(bytes, what).map(ModelFile::Energy),
        "rbm-checkpoint" => {
            checkpoint::parse_checkpoint(bytes, what).map(|s| ModelFile::Checkpoint(Box::new(s)))
        }
        "conv-rbm" => conv::parse_named(bytes, what).map(ModelFile::ConvRbm),
        "conv-dbn" => conv::parse_dbn_named(bytes, what).map(ModelFile::ConvDbn),
        "conv-checkpoint" => {
            conv::parse_checkpoint_named(bytes, what).map(|s| ModelFile::ConvCheckpoint(Box::new(s)))
        }
        "conv-dbn-checkpoint" => {
            conv::parse_dbn_checkpoint_named(bytes, what).map(|s| ModelFile::ConvDbnCheckpoint(Box::new(s)))
        }
        k => Err(bad(format!("unknown kind {k:?}"))),
    }
}

impl From<Rbm> for ModelFile {
    fn from(r: Rbm) -> ModelFile {
        ModelFile::Rbm(r)
    }
}

impl From<DbnFile> for ModelFile {
    fn from(d: DbnFile) -> ModelFile {
        ModelFile::Dbn(d)
    }
}

impl From<EnergyModel> for ModelFile {
    fn from(e: EnergyModel) -> ModelFile {
        ModelFile::Energy(e)
    }
}

impl From<ConvRbm> for ModelFile {
    fn from(m: ConvRbm) -> ModelFile {
        ModelFile::ConvRbm(m)
    }
}

impl From<ConvDbn> for ModelFile {
    fn from(d: ConvDbn) -> ModelFile {
        ModelFile::ConvDbn(d)
    }
}

impl From<ConvDbnTrainState> for ModelFile {
    fn from(s: ConvDbnTrainState) -> ModelFile {
        ModelFile::ConvDbnCheckpoint(Box::new(s))
    }
}

impl From<ConvTrainState> for ModelFile {
    fn from(s: ConvTrainState) -> ModelFile {
        ModelFile::ConvCheckpoint(Box::new(s))
    }
}

impl From<TrainState> for ModelFile {
    fn from(s: TrainState) -> ModelFile {
        ModelFile::Checkpoint(Box::new(s))
    }
}
