//! Convolutional RBM files, safetensors like the RBM files: `kind =
//! "conv-rbm"`, `visible_units = "bernoulli" | "gaussian"`, `hidden_units =
//! "bernoulli"`, metadata
//! `height`, `width`, `channels`, `filters`, `filter_size`, `pool`; tensors
//! `weights` `[r, r, C, K]` (channel-last filters, the layout of
//! [`crate::kernels::conv`]), `hidden_bias` `[K]`, `visible_bias` `[C]`.
//!
//! ```python
//! from safetensors.numpy import load_file
//! t = load_file("crbm.safetensors")   # t["weights"].shape == (9, 9, 1, 24)
//! ```

use super::model::{FORMAT_VERSION, check_format_and_kind};
use super::safetensors::{SafeTensors, Tensor};
use super::{read_file, write_atomic};
use crate::error::{Error, Result};
use crate::kernels::conv::ConvShape;
use crate::model::{ConvDbn, ConvRbm, ConvVisible};
use std::path::Path;

fn header(st: &mut SafeTensors, kind: &str, visible: ConvVisible) {
    for (k, v) in [
        ("format", "boltzmann".to_string()),
        ("format_version", FORMAT_VERSION.to_string()),
        ("kind", kind.into()),
        ("visible_units", visible.name().into()),
        ("hidden_units", "bernoulli".into()),
    ] {
        st.metadata.insert(k.into(), v);
    }
}

/// One layer's metadata and tensors, names prefixed by `prefix`.
fn put_layer(st: &mut SafeTensors, m: &ConvRbm, prefix: &str) {
    let s = m.shape();
    for (k, v) in [
        ("height", s.height),
        ("width", s.width),
        ("channels", s.channels),
        ("filters", s.filters),
        ("filter_size", s.filter_size),
        ("pool", s.pool),
    ] {
        st.metadata.insert(format!("{prefix}{k}"), v.to_string());
    }
    let r = s.filter_size;
    st.tensors
        .insert(format!("{prefix}weights"), Tensor::f32(vec![r, r, s.channels, s.filters], m.weights()));
    st.tensors.insert(format!("{prefix}hidden_bias"), Tensor::f32(vec![s.filters], m.hidden_bias()));
    st.tensors.insert(format!("{prefix}visible_bias"), Tensor::f32(vec![s.channels], m.visible_bias()));
}

/// Format, version, kind, and the unit types: hidden Bernoulli, visible
/// Bernoulli or Gaussian.
fn check_header(st: &SafeTensors, kind: &str, what: &str) -> Result<ConvVisible> {
    check_format_and_kind(st, kind, what)?;
    let bad = |reason: String| Error::Io { path: what.to_string(), reason };
    let h = st.meta("hidden_units", what)?;
    if h != "bernoulli" {
        return Err(bad(format!("hidden_units = {h:?} is not supported by this model type")));
    }
    match st.meta("visible_units", what)? {
        "bernoulli" => Ok(ConvVisible::Bernoulli),
        "gaussian" => Ok(ConvVisible::Gaussian),
        v => Err(bad(format!("visible_units = {v:?} is not supported by this model type"))),
    }
}

fn get_layer(st: &SafeTensors, prefix: &str, what: &str) -> Result<ConvRbm> {
    let bad = |reason: String| Error::Io { path: what.to_string(), reason };
    let num = |k: &str| -> Result<usize> {
        st.meta(&format!("{prefix}{k}"), what)?.parse().map_err(|_| bad(format!("bad {prefix}{k}")))
    };
    let s = ConvShape {
        height: num("height")?,
        width: num("width")?,
        channels: num("channels")?,
        filters: num("filters")?,
        filter_size: num("filter_size")?,
        pool: num("pool")?,
    };
    s.check().map_err(|e| bad(format!("{prefix}{e}")))?;
    let r = s.filter_size;
    let get = |name: &str, shape: &[usize]| -> Result<Vec<f32>> {
        let name = format!("{prefix}{name}");
        let t = st.get(&name, what)?;
        if t.shape != shape {
            return Err(bad(format!("tensor {name:?} has shape {:?}, metadata says {shape:?}", t.shape)));
        }
        t.to_f32(what)
    };
    let w = get("weights", &[r, r, s.channels, s.filters])?;
    let b = get("hidden_bias", &[s.filters])?;
    let c = get("visible_bias", &[s.channels])?;
    ConvRbm::new(s, w, b, c).map_err(|e| bad(format!("{prefix}{e}")))
}

/// The bytes of a convolutional RBM file.
pub fn conv_rbm_bytes(m: &ConvRbm) -> Vec<u8> {
    let mut st = SafeTensors::default();
    header(&mut st, "conv-rbm", m.visible_units());
    put_layer(&mut st, m, "");
    st.to_bytes()
}

/// The bytes of a convolutional DBN file: `kind = "conv-dbn"`, `layers`,
/// and each layer's metadata and tensors as a convolutional RBM's, prefixed
/// `layer{l}.` (`l` from 1).
pub fn conv_dbn_bytes(net: &ConvDbn) -> Vec<u8> {
    let mut st = SafeTensors::default();
    header(&mut st, "conv-dbn", net.layers()[0].visible_units());
    st.metadata.insert("layers".into(), net.layers().len().to_string());
    for (l, m) in net.layers().iter().enumerate() {
        put_layer(&mut st, m, &format!("layer{}.", l + 1));
    }
    st.to_bytes()
}

/// Writes a convolutional DBN file atomically.
///
/// # Errors
/// [`Error::Os`] if it cannot be written, [`Error::Io`] for a directory.
pub fn save_conv_dbn(net: &ConvDbn, path: impl AsRef<Path>) -> Result<()> {
    write_atomic(path.as_ref(), &conv_dbn_bytes(net))
}

/// Reads a convolutional DBN file.
///
/// # Errors
/// [`Error::Os`] when it cannot be read; [`Error::Io`] for anything that is
/// not a valid convolutional DBN file of this library.
pub fn load_conv_dbn(path: impl AsRef<Path>) -> Result<ConvDbn> {
    let path = path.as_ref();
    parse_dbn_named(&read_file(path)?, &path.display().to_string())
}

/// [`load_conv_dbn`] from bytes.
///
/// # Errors
/// As [`load_conv_dbn`].
pub fn parse_conv_dbn(bytes: &[u8]) -> Result<ConvDbn> {
    parse_dbn_named(bytes, "convolutional DBN")
}

pub(super) fn parse_dbn_named(bytes: &[u8], what: &str) -> Result<ConvDbn> {
    let st = SafeTensors::from_bytes(bytes, what)?;
    let bad = |reason: String| Error::Io { path: what.to_string(), reason };
    let visible = check_header(&st, "conv-dbn", what)?;
    let n: usize = st.meta("layers", what)?.parse().map_err(|_| bad("bad layers".into()))?;
    if n == 0 || n > 64 {
        return Err(bad(format!("layers = {n}: need 1..=64")));
    }
    let mut layers =
        (1..=n).map(|l| get_layer(&st, &format!("layer{l}."), what)).collect::<Result<Vec<_>>>()?;
    layers[0] = layers[0].clone().with_visible(visible);
    ConvDbn::new(layers).map_err(|e| bad(format!("{e}")))
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
    let visible = check_header(&st, "conv-rbm", what)?;
    Ok(get_layer(&st, "", what)?.with_visible(visible))
}
