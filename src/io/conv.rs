//! Convolutional RBM files, safetensors like the RBM files: `kind =
//! "conv-rbm"`, `visible_units = hidden_units = "bernoulli"`, metadata
//! `height`, `width`, `channels`, `filters`, `filter_size`, `pool`; tensors
//! `weights` `[r, r, C, K]` (channel-last filters, the layout of
//! [`crate::kernels::conv`]), `hidden_bias` `[K]`, `visible_bias` `[C]`.
//!
//! ```python
//! from safetensors.numpy import load_file
//! t = load_file("crbm.safetensors")   # t["weights"].shape == (9, 9, 1, 24)
//! ```

use super::model::{FORMAT_VERSION, common_header_checks};
use super::safetensors::{SafeTensors, Tensor};
use super::{read_file, write_atomic};
use crate::error::{Error, Result};
use crate::kernels::conv::ConvShape;
use crate::model::ConvRbm;
use std::path::Path;

/// The bytes of a convolutional RBM file.
pub fn conv_rbm_bytes(m: &ConvRbm) -> Vec<u8> {
    let s = m.shape();
    let mut st = SafeTensors::default();
    for (k, v) in [
        ("format", "boltzmann".to_string()),
        ("format_version", FORMAT_VERSION.to_string()),
        ("kind", "conv-rbm".into()),
        ("visible_units", "bernoulli".into()),
        ("hidden_units", "bernoulli".into()),
        ("height", s.height.to_string()),
        ("width", s.width.to_string()),
        ("channels", s.channels.to_string()),
        ("filters", s.filters.to_string()),
        ("filter_size", s.filter_size.to_string()),
        ("pool", s.pool.to_string()),
    ] {
        st.metadata.insert(k.into(), v);
    }
    let r = s.filter_size;
    st.tensors.insert("weights".into(), Tensor::f32(vec![r, r, s.channels, s.filters], m.weights()));
    st.tensors.insert("hidden_bias".into(), Tensor::f32(vec![s.filters], m.hidden_bias()));
    st.tensors.insert("visible_bias".into(), Tensor::f32(vec![s.channels], m.visible_bias()));
    st.to_bytes()
}

/// Writes a convolutional RBM file atomically.
///
/// # Errors
/// [`Error::Os`] if it cannot be written, [`Error::Io`] for a directory.
pub fn save_conv_rbm(m: &ConvRbm, path: impl AsRef<Path>) -> Result<()> {
    write_atomic(path.as_ref(), &conv_rbm_bytes(m))
}

/// Reads a convolutional RBM file.
///
/// # Errors
/// [`Error::Os`] when it cannot be read; [`Error::Io`] for anything that is
/// not a valid convolutional RBM file of this library.
pub fn load_conv_rbm(path: impl AsRef<Path>) -> Result<ConvRbm> {
    let path = path.as_ref();
    parse_named(&read_file(path)?, &path.display().to_string())
}

/// [`load_conv_rbm`] from bytes.
///
/// # Errors
/// As [`load_conv_rbm`].
///
/// # Examples
/// ```
/// use boltzmann::io::{conv_rbm_bytes, parse_conv_rbm};
/// use boltzmann::model::{ConvRbm, ConvShape};
/// let s = ConvShape { height: 6, width: 6, channels: 1, filters: 2, filter_size: 3, pool: 2 };
/// let m = ConvRbm::random(s, 0.1, -1.0, 3)?;
/// assert_eq!(parse_conv_rbm(&conv_rbm_bytes(&m))?, m);
/// assert!(parse_conv_rbm(b"junk").is_err());
/// # Ok::<(), boltzmann::Error>(())
/// ```
pub fn parse_conv_rbm(bytes: &[u8]) -> Result<ConvRbm> {
    parse_named(bytes, "convolutional RBM")
}

pub(super) fn parse_named(bytes: &[u8], what: &str) -> Result<ConvRbm> {
    let st = SafeTensors::from_bytes(bytes, what)?;
    let bad = |reason: String| Error::Io { path: what.to_string(), reason };
    common_header_checks(&st, "conv-rbm", what)?;
    let num = |k: &str| -> Result<usize> { st.meta(k, what)?.parse().map_err(|_| bad(format!("bad {k}"))) };
    let s = ConvShape {
        height: num("height")?,
        width: num("width")?,
        channels: num("channels")?,
        filters: num("filters")?,
        filter_size: num("filter_size")?,
        pool: num("pool")?,
    };
    s.check().map_err(|e| bad(format!("{e}")))?;
    let r = s.filter_size;
    let get = |name: &str, shape: &[usize]| -> Result<Vec<f32>> {
        let t = st.get(name, what)?;
        if t.shape != shape {
            return Err(bad(format!("tensor {name:?} has shape {:?}, metadata says {shape:?}", t.shape)));
        }
        t.to_f32(what)
    };
    let w = get("weights", &[r, r, s.channels, s.filters])?;
    let b = get("hidden_bias", &[s.filters])?;
    let c = get("visible_bias", &[s.channels])?;
    ConvRbm::new(s, w, b, c).map_err(|e| bad(format!("{e}")))
}
