//! Files of continuous energy models, safetensors like the RBM files:
//!
//! * Gaussian–Bernoulli RBM: `kind = "gb-rbm"`, `visible_units =
//!   "gaussian"`, `hidden_units = "bernoulli"`, `n_visible`, `n_hidden`;
//!   tensors `weights` `[D, H]`, `visible_bias` `[D]`, `hidden_bias` `[H]`,
//!   `sigma` `[D]`.
//! * MLP energy: `kind = "mlp-energy"`, `sizes = "2,64,64,1"`,
//!   `activation = "swish" | "softplus"`; tensors `layer{l}.weight`
//!   `[in, out]` and `layer{l}.bias` `[out]`, `l` from 1 (`x·W + b`).
//! * Noise-conditional score MLP (denoising score matching):
//!   `kind = "score-mlp"`, `sizes` (input `d + 1`: the last input is
//!   `log σ`), `activation`, `sigmas` (the training noise levels, comma
//!   separated, decreasing); tensors as the MLP energy.
//!
//! ```python
//! from safetensors.numpy import load_file
//! t = load_file("ebm.safetensors")   # t["layer1.weight"].shape == (2, 64)
//! ```

use super::model::FORMAT_VERSION;
use super::safetensors::{SafeTensors, Tensor};
use super::{read_file, write_atomic};
use crate::energy::{Activation, Mlp, MlpEnergy, ScoreMlp};
use crate::error::{Error, Result};
use crate::model::GaussianRbm;
use std::path::Path;

/// A continuous-model file, whatever its kind ([`load_energy_model`]).
#[derive(Debug, Clone, PartialEq)]
pub enum EnergyModel {
    /// A Gaussian–Bernoulli RBM.
    GaussianRbm(GaussianRbm),
    /// An MLP energy.
    Mlp(MlpEnergy),
    /// A noise-conditional score network.
    Score(ScoreMlp),
}

fn header(st: &mut SafeTensors, kind: &str) {
    st.metadata.insert("format".into(), "boltzmann".into());
    st.metadata.insert("format_version".into(), FORMAT_VERSION.to_string());
    st.metadata.insert("kind".into(), kind.into());
}

/// The bytes of a GB-RBM file.
pub fn gaussian_rbm_bytes(m: &GaussianRbm) -> Vec<u8> {
    let mut st = SafeTensors::default();
    header(&mut st, "gb-rbm");
    let (d, h) = (m.n_visible(), m.n_hidden());
    for (k, v) in [
        ("visible_units", "gaussian".to_string()),
        ("hidden_units", "bernoulli".into()),
        ("n_visible", d.to_string()),
        ("n_hidden", h.to_string()),
    ] {
        st.metadata.insert(k.into(), v);
    }
    st.tensors.insert("weights".into(), Tensor::f32(vec![d, h], m.weights()));
    st.tensors.insert("visible_bias".into(), Tensor::f32(vec![d], m.visible_bias()));
    st.tensors.insert("hidden_bias".into(), Tensor::f32(vec![h], m.hidden_bias()));
    st.tensors.insert("sigma".into(), Tensor::f32(vec![d], m.sigma()));
    st.to_bytes()
}

fn mlp_st(mlp: &Mlp, kind: &str) -> SafeTensors {
    let mut st = SafeTensors::default();
    header(&mut st, kind);
    let sizes = mlp.sizes();
    st.metadata.insert("sizes".into(), sizes.iter().map(|s| s.to_string()).collect::<Vec<_>>().join(","));
    st.metadata.insert("activation".into(), mlp.activation().name().into());
    let mut off = 0;
    for l in 0..sizes.len() - 1 {
        let (fi, fo) = (sizes[l], sizes[l + 1]);
        let p = mlp.params();
        st.tensors
            .insert(format!("layer{}.weight", l + 1), Tensor::f32(vec![fi, fo], &p[off..off + fi * fo]));
        st.tensors.insert(
            format!("layer{}.bias", l + 1),
            Tensor::f32(vec![fo], &p[off + fi * fo..off + fi * fo + fo]),
        );
        off += fi * fo + fo;
    }
    st
}

/// The bytes of an MLP-energy file.
pub fn mlp_energy_bytes(e: &MlpEnergy) -> Vec<u8> {
    mlp_st(e.mlp(), "mlp-energy").to_bytes()
}

/// The bytes of a score-network file.
pub fn score_mlp_bytes(s: &ScoreMlp) -> Vec<u8> {
    let mut st = mlp_st(s.mlp(), "score-mlp");
    st.metadata
        .insert("sigmas".into(), s.sigmas().iter().map(|v| v.to_string()).collect::<Vec<_>>().join(","));
    st.to_bytes()
}

/// Saves a continuous model (atomically).
///
/// # Errors
/// [`Error::Os`] if the file cannot be written.
pub fn save_energy_model(m: &EnergyModel, path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    let bytes = match m {
        EnergyModel::GaussianRbm(g) => gaussian_rbm_bytes(g),
        EnergyModel::Mlp(e) => mlp_energy_bytes(e),
        EnergyModel::Score(s) => score_mlp_bytes(s),
    };
    write_atomic(path, &bytes)
}

/// Loads a continuous model of any kind, checking format, version, kind,
/// sizes against the tensors and finite parameters.
///
/// # Errors
/// [`Error::Io`] naming the file and the problem ([`Error::Os`] when it cannot be read).
pub fn load_energy_model(path: impl AsRef<Path>) -> Result<EnergyModel> {
    let path = path.as_ref();
    let what = path.display().to_string();
    parse_named(&read_file(path)?, &what)
}

/// Parses continuous-model bytes (as [`load_energy_model`]).
///
/// # Errors
/// As [`load_energy_model`].
pub fn parse_energy_model(bytes: &[u8]) -> Result<EnergyModel> {
    parse_named(bytes, "model")
}

/// Most layers an MLP file may declare.
const MAX_LAYERS: usize = 64;

pub(super) fn parse_named(bytes: &[u8], what: &str) -> Result<EnergyModel> {
    let bad = |r: String| Error::Io { path: what.to_string(), reason: r };
    let st = SafeTensors::from_bytes(bytes, what)?;
    if st.meta("format", what)? != "boltzmann" {
        return Err(bad("not a boltzmann file (metadata format is not \"boltzmann\")".into()));
    }
    let v: u32 = st.meta("format_version", what)?.parse().map_err(|_| bad("bad format_version".into()))?;
    if v > FORMAT_VERSION {
        return Err(bad(format!("format version {v} is newer than this build reads ({FORMAT_VERSION})")));
    }
    let get = |name: &str, shape: &[usize]| -> Result<Vec<f32>> {
        let t = st.get(name, what)?;
        if t.shape != shape {
            return Err(bad(format!("tensor {name:?} has shape {:?}, expected {shape:?}", t.shape)));
        }
        t.to_f32(what)
    };
    match st.meta("kind", what)? {
        "gb-rbm" => {
            if st.meta("visible_units", what)? != "gaussian" || st.meta("hidden_units", what)? != "bernoulli"
            {
                return Err(bad("a gb-rbm has gaussian visible and bernoulli hidden units".into()));
            }
            let num =
                |k: &str| -> Result<usize> { st.meta(k, what)?.parse().map_err(|_| bad(format!("bad {k}"))) };
            let (d, h) = (num("n_visible")?, num("n_hidden")?);
            if st.tensors.len() != 4 {
                return Err(bad(format!("expected 4 tensors, found {}", st.tensors.len())));
            }
            let w = get("weights", &[d, h])?;
            let m = GaussianRbm::new(
                d,
                h,
                w,
                get("visible_bias", &[d])?,
                get("hidden_bias", &[h])?,
                get("sigma", &[d])?,
            )
            .map_err(|e| bad(format!("invalid parameters: {e}")))?;
            Ok(EnergyModel::GaussianRbm(m))
        }
        kind @ ("mlp-energy" | "score-mlp") => {
            let sizes: Vec<usize> = st
                .meta("sizes", what)?
                .split(',')
                .map(|s| s.trim().parse().map_err(|_| bad(format!("bad sizes entry {s:?}"))))
                .collect::<Result<_>>()?;
            if sizes.len() < 2 || sizes.len() > MAX_LAYERS + 1 {
                return Err(bad(format!("{} sizes (need 2..={})", sizes.len(), MAX_LAYERS + 1)));
            }
            let act = Activation::from_name(st.meta("activation", what)?)
                .ok_or_else(|| bad("unknown activation".into()))?;
            if st.tensors.len() != 2 * (sizes.len() - 1) {
                return Err(bad(format!(
                    "expected {} tensors, found {}",
                    2 * (sizes.len() - 1),
                    st.tensors.len()
                )));
            }
            // Shapes are checked against the sizes before anything is
            // allocated from them.
            let mut params = Vec::new();
            for l in 0..sizes.len() - 1 {
                let (fi, fo) = (sizes[l], sizes[l + 1]);
                let wshape = [fi, fo];
                params.extend(get(&format!("layer{}.weight", l + 1), &wshape)?);
                params.extend(get(&format!("layer{}.bias", l + 1), &[fo])?);
            }
            let mlp =
                Mlp::from_params(&sizes, act, params).map_err(|e| bad(format!("invalid network: {e}")))?;
            if kind == "mlp-energy" {
                return MlpEnergy::from_mlp(mlp).map(EnergyModel::Mlp).map_err(|e| bad(e.to_string()));
            }
            let sigmas: Vec<f32> = st
                .meta("sigmas", what)?
                .split(',')
                .map(|s| s.trim().parse().map_err(|_| bad(format!("bad sigmas entry {s:?}"))))
                .collect::<Result<_>>()?;
            ScoreMlp::from_mlp(mlp, sigmas).map(EnergyModel::Score).map_err(|e| bad(e.to_string()))
        }
        k => Err(bad(format!(
            "this file holds a {k:?}, not a continuous model (gb-rbm, mlp-energy, score-mlp)"
        ))),
    }
}
