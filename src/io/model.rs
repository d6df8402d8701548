//! RBM and DBN model files in safetensors.
//!
//! Tensors: `weights` (F32, `[n_visible, n_hidden]`, row-major),
//! `visible_bias` (F32, `[n_visible]`), `hidden_bias` (F32, `[n_hidden]`).
//! Metadata: `format = "boltzmann"`, `format_version = "1"`, `kind = "rbm"`,
//! `visible_units = "bernoulli"`, `hidden_units = "bernoulli"`, `n_visible`,
//! `n_hidden`. In Python:
//!
//! ```python
//! from safetensors.numpy import load_file
//! t = load_file("model.safetensors")   # t["weights"].shape == (784, 500)
//! ```

use super::safetensors::{SafeTensors, Tensor};
use super::{read_file, write_atomic};
use crate::error::{Error, Result};
use crate::model::{Dbn, GaussianDbn, LabelledDbn, LabelledRbm, Rbm, UntiedDbn};
use std::path::Path;

/// The newest model-file version this build reads and writes.
pub const FORMAT_VERSION: u32 = 1;

pub(crate) fn rbm_tensors(rbm: &Rbm, prefix: &str, st: &mut SafeTensors) {
    let (d, h) = (rbm.n_visible(), rbm.n_hidden());
    st.tensors.insert(format!("{prefix}weights"), Tensor::f32(vec![d, h], rbm.weights()));
    st.tensors.insert(format!("{prefix}visible_bias"), Tensor::f32(vec![d], rbm.visible_bias()));
    st.tensors.insert(format!("{prefix}hidden_bias"), Tensor::f32(vec![h], rbm.hidden_bias()));
}

pub(crate) fn common_metadata(st: &mut SafeTensors, kind: &str, rbm: &Rbm) {
    for (k, v) in [
        ("format", "boltzmann".to_string()),
        ("format_version", FORMAT_VERSION.to_string()),
        ("kind", kind.to_string()),
        ("visible_units", "bernoulli".into()),
        ("hidden_units", "bernoulli".into()),
        ("n_visible", rbm.n_visible().to_string()),
        ("n_hidden", rbm.n_hidden().to_string()),
    ] {
        st.metadata.insert(k.into(), v);
    }
}

/// Checks format, version, kind and that both unit types are Bernoulli.
pub(crate) fn common_header_checks(st: &SafeTensors, kind: &str, what: &str) -> Result<()> {
    check_format_and_kind(st, kind, what)?;
    for key in ["visible_units", "hidden_units"] {
        let u = st.meta(key, what)?;
        if u != "bernoulli" {
            return Err(Error::Io {
                path: what.to_string(),
                reason: format!("{key} = {u:?} is not supported by this model type"),
            });
        }
    }
    Ok(())
}

/// Checks format, version and kind.
pub(crate) fn check_format_and_kind(st: &SafeTensors, kind: &str, what: &str) -> Result<()> {
    let bad = |r: String| Error::Io { path: what.to_string(), reason: r };
    if st.meta("format", what)? != "boltzmann" {
        return Err(bad("not a boltzmann file (metadata format is not \"boltzmann\")".into()));
    }
    let v: u32 = st.meta("format_version", what)?.parse().map_err(|_| bad("bad format_version".into()))?;
    if v > FORMAT_VERSION {
        return Err(bad(format!(
            "format version {v} is newer than this build reads ({FORMAT_VERSION}); upgrade boltzmann"
        )));
    }
    let k = st.meta("kind", what)?;
    if k != kind {
        return Err(bad(format!("this file holds a {k:?}, expected a {kind:?}")));
    }
    Ok(())
}

/// Checks format, version and kind, and returns `(n_visible, n_hidden)`
/// from the metadata.
pub(crate) fn check_header(st: &SafeTensors, kind: &str, what: &str) -> Result<(usize, usize)> {
    let bad = |r: String| Error::Io { path: what.to_string(), reason: r };
    common_header_checks(st, kind, what)?;
    let num =
        |key: &str| -> Result<usize> { st.meta(key, what)?.parse().map_err(|_| bad(format!("bad {key}"))) };
    Ok((num("n_visible")?, num("n_hidden")?))
}

pub(crate) fn rbm_from(st: &SafeTensors, prefix: &str, d: usize, h: usize, what: &str) -> Result<Rbm> {
    let get = |name: &str, shape: &[usize]| -> Result<Vec<f32>> {
        let t = st.get(&format!("{prefix}{name}"), what)?;
        if t.shape != shape {
            return Err(Error::Io {
                path: what.to_string(),
                reason: format!("tensor {name:?} has shape {:?}, metadata says {shape:?}", t.shape),
            });
        }
        t.to_f32(what)
    };
    let w = get("weights", &[d, h])?;
    let b = get("visible_bias", &[d])?;
    let c = get("hidden_bias", &[h])?;
    Rbm::new(d, h, w, b, c)
        .map_err(|e| Error::Io { path: what.to_string(), reason: format!("invalid parameters: {e}") })
}

/// The bytes of an RBM's model file: what [`save_rbm`] writes and
/// [`parse_rbm`] reads, for models kept in memory, a database or a socket.
///
/// ```
/// # fn main() -> boltzmann::Result<()> {
/// let rbm = boltzmann::Rbm::random(6, 4, 0.1, 0.0, 1)?;
/// let bytes = boltzmann::io::rbm_bytes(&rbm);
/// assert_eq!(boltzmann::io::parse_rbm(&bytes)?, rbm);
/// # Ok(())
/// # }
/// ```
pub fn rbm_bytes(rbm: &Rbm) -> Vec<u8> {
    let mut st = SafeTensors::default();
    common_metadata(&mut st, "rbm", rbm);
    rbm_tensors(rbm, "", &mut st);
    st.to_bytes()
}

/// Saves an RBM (atomically).
///
/// # Errors
/// [`Error::Os`] if the file cannot be written.
pub fn save_rbm(rbm: &Rbm, path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    write_atomic(path, &rbm_bytes(rbm))
}

/// Loads an RBM, checking everything: format and version, kind, unit types,
/// shapes against the metadata, finite parameters, the checksum.
///
/// # Errors
/// [`Error::Io`] naming the file and the problem ([`Error::Os`] when it cannot be read).
pub fn load_rbm(path: impl AsRef<Path>) -> Result<Rbm> {
    let path = path.as_ref();
    parse_rbm_named(&read_file(path)?, &path.display().to_string())
}

/// Parses model-file bytes (what [`load_rbm`] does after reading).
///
/// # Errors
/// As [`load_rbm`].
pub fn parse_rbm(bytes: &[u8]) -> Result<Rbm> {
    parse_rbm_named(bytes, "model")
}

pub(super) fn parse_rbm_named(bytes: &[u8], what: &str) -> Result<Rbm> {
    let st = SafeTensors::from_bytes(bytes, what)?;
    let (d, h) = check_header(&st, "rbm", what)?;
    if st.tensors.len() != 3 {
        return Err(Error::Io {
            path: what.to_string(),
            reason: format!("expected 3 tensors, found {}", st.tensors.len()),
        });
    }
    rbm_from(&st, "", d, h, what)
}

/// Most layers a DBN file may declare (a corrupt count must not make the
/// loader allocate or loop without bound).
const MAX_DBN_LAYERS: usize = 64;

/// Saves a DBN as one safetensors file (atomically): metadata `kind =
/// "dbn"`, `layers` (count), `sizes` (`"784,500,500"`), and per layer `l`
/// (from 1) the tensors `layer{l}.weights`, `layer{l}.visible_bias`,
/// `layer{l}.hidden_bias` as in an RBM file. An untied DBN
/// ([`save_untied_dbn`]) also has `recognition = "untied"` and, for each
/// layer below the top, `recognition{l}.weights` and
/// `recognition{l}.hidden_bias`.
///
/// # Errors
/// [`Error::Os`] if the file cannot be written.
pub fn save_dbn(dbn: &Dbn, path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    write_atomic(path, &dbn_bytes(dbn))
}

/// Saves a DBN with separate recognition weights (after up-down
/// fine-tuning); see [`save_dbn`] for the format. The recognition layers'
/// visible biases are not used and not stored: loaded, they equal the
/// generative ones.
///
/// # Errors
/// [`Error::Os`] if the file cannot be written.
pub fn save_untied_dbn(net: &UntiedDbn, path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    write_atomic(path, &untied_dbn_bytes(net))
}

/// The bytes [`save_untied_dbn`] writes.
pub fn untied_dbn_bytes(net: &UntiedDbn) -> Vec<u8> {
    let g = net.generative();
    let mut st = dbn_st(g.layers(), &g.sizes());
    st.metadata.insert("recognition".into(), "untied".into());
    for (l, r) in net.recognition().iter().enumerate() {
        let (d, h) = (r.n_visible(), r.n_hidden());
        st.tensors.insert(format!("recognition{}.weights", l + 1), Tensor::f32(vec![d, h], r.weights()));
        st.tensors.insert(format!("recognition{}.hidden_bias", l + 1), Tensor::f32(vec![h], r.hidden_bias()));
    }
    st.to_bytes()
}

/// The bytes [`save_dbn`] writes.
pub fn dbn_bytes(dbn: &Dbn) -> Vec<u8> {
    dbn_st(dbn.layers(), &dbn.sizes()).to_bytes()
}

/// Saves a DBN with a label-joined top RBM (atomically): the format of
/// [`save_dbn`] with `sizes` the widths `[D, …, Hᴸ]` (labels not counted),
/// the metadata `label_units = K`, and the top layer's tensors of
/// `n_visible = Hᴸ⁻¹ + K` rows, the last `K` being the label units.
///
/// # Errors
/// [`Error::Os`] if the file cannot be written.
pub fn save_labelled_dbn(net: &LabelledDbn, path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    write_atomic(path, &labelled_dbn_bytes(net))
}

/// The bytes [`save_labelled_dbn`] writes.
pub fn labelled_dbn_bytes(net: &LabelledDbn) -> Vec<u8> {
    let layers: Vec<Rbm> =
        net.lower().layers().iter().chain(std::iter::once(net.top().rbm())).cloned().collect();
    let mut st = dbn_st(&layers, &net.sizes());
    st.metadata.insert("label_units".into(), net.n_labels().to_string());
    st.to_bytes()
}

fn dbn_st(layers: &[Rbm], sizes: &[usize]) -> SafeTensors {
    let mut st = dbn_header("dbn", "bernoulli", sizes);
    for (l, rbm) in layers.iter().enumerate() {
        rbm_tensors(rbm, &format!("layer{}.", l + 1), &mut st);
    }
    st
}

/// The common header of DBN files, with the outer sizes (D and the top
/// width) and the layer count (`sizes.len() − 1`).
fn dbn_header(kind: &str, visible_units: &str, sizes: &[usize]) -> SafeTensors {
    let mut st = SafeTensors::default();
    for (k, v) in [
        ("format", "boltzmann".to_string()),
        ("format_version", FORMAT_VERSION.to_string()),
        ("kind", kind.to_string()),
        ("visible_units", visible_units.into()),
        ("hidden_units", "bernoulli".into()),
        ("n_visible", sizes[0].to_string()),
        ("n_hidden", sizes[sizes.len() - 1].to_string()),
        ("layers", (sizes.len() - 1).to_string()),
        ("sizes", sizes.iter().map(|s| s.to_string()).collect::<Vec<_>>().join(",")),
    ] {
        st.metadata.insert(k.into(), v);
    }
    st
}

/// Any DBN file: what [`load_any_dbn`] returns.
#[derive(Debug, Clone, PartialEq)]
pub enum DbnFile {
    /// Tied recognition and generative weights ([`save_dbn`]).
    Tied(Dbn),
    /// Separate recognition weights ([`save_untied_dbn`]).
    Untied(UntiedDbn),
    /// A label-joined top RBM ([`save_labelled_dbn`]).
    Labelled(LabelledDbn),
    /// A Gaussian bottom layer ([`save_gaussian_dbn`]).
    Gaussian(GaussianDbn),
}

/// Saves a DBN with a Gaussian bottom layer (atomically): metadata
/// `kind = "gaussian-dbn"`, `visible_units = "gaussian"`, `layers`,
/// `sizes`; tensors `layer1.weights`, `layer1.visible_bias`,
/// `layer1.hidden_bias`, `layer1.sigma` (the GB-RBM) and, for the binary
/// layers above, `layer{l}.*` as in [`save_dbn`].
///
/// # Errors
/// [`Error::Os`] if the file cannot be written.
pub fn save_gaussian_dbn(net: &GaussianDbn, path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    write_atomic(path, &gaussian_dbn_bytes(net))
}

/// The bytes [`save_gaussian_dbn`] writes.
pub fn gaussian_dbn_bytes(net: &GaussianDbn) -> Vec<u8> {
    let mut st = dbn_header("gaussian-dbn", "gaussian", &net.sizes());
    let g = net.bottom();
    let (d, h) = (g.n_visible(), g.n_hidden());
    st.tensors.insert("layer1.weights".into(), Tensor::f32(vec![d, h], g.weights()));
    st.tensors.insert("layer1.visible_bias".into(), Tensor::f32(vec![d], g.visible_bias()));
    st.tensors.insert("layer1.hidden_bias".into(), Tensor::f32(vec![h], g.hidden_bias()));
    st.tensors.insert("layer1.sigma".into(), Tensor::f32(vec![d], g.sigma()));
    if let Some(u) = net.upper() {
        for (l, rbm) in u.layers().iter().enumerate() {
            rbm_tensors(rbm, &format!("layer{}.", l + 2), &mut st);
        }
    }
    st.to_bytes()
}

fn parse_gaussian(st: &SafeTensors, what: &str) -> Result<DbnFile> {
    let bad = |r: String| Error::Io { path: what.to_string(), reason: r };
    let v: u32 = st.meta("format_version", what)?.parse().map_err(|_| bad("bad format_version".into()))?;
    if v > FORMAT_VERSION {
        return Err(bad(format!("format version {v} is newer than this build reads ({FORMAT_VERSION})")));
    }
    if st.meta("visible_units", what)? != "gaussian" || st.meta("hidden_units", what)? != "bernoulli" {
        return Err(bad("a gaussian-dbn has gaussian visible and bernoulli hidden units".into()));
    }
    let layers: usize = st.meta("layers", what)?.parse().map_err(|_| bad("bad layers".into()))?;
    if layers == 0 || layers > MAX_DBN_LAYERS {
        return Err(bad(format!("layers = {layers} is not in 1..={MAX_DBN_LAYERS}")));
    }
    let sizes: Vec<usize> = st
        .meta("sizes", what)?
        .split(',')
        .map(|s| s.trim().parse().map_err(|_| bad(format!("bad sizes entry {s:?}"))))
        .collect::<Result<_>>()?;
    if sizes.len() != layers + 1 {
        return Err(bad(format!("sizes {sizes:?} do not match layers = {layers}")));
    }
    if st.tensors.len() != 4 + 3 * (layers - 1) {
        return Err(bad(format!("expected {} tensors, found {}", 4 + 3 * (layers - 1), st.tensors.len())));
    }
    let (d, h) = (sizes[0], sizes[1]);
    let get = |name: &str, shape: &[usize]| -> Result<Vec<f32>> {
        let t = st.get(name, what)?;
        if t.shape != shape {
            return Err(bad(format!("tensor {name:?} has shape {:?}, expected {shape:?}", t.shape)));
        }
        t.to_f32(what)
    };
    let g = crate::model::GaussianRbm::new(
        d,
        h,
        get("layer1.weights", &[d, h])?,
        get("layer1.visible_bias", &[d])?,
        get("layer1.hidden_bias", &[h])?,
        get("layer1.sigma", &[d])?,
    )
    .map_err(|e| bad(format!("invalid layer 1: {e}")))?;
    let upper = if layers == 1 {
        None
    } else {
        let mut rbms = Vec::with_capacity(layers - 1);
        for l in 1..layers {
            rbms.push(rbm_from(st, &format!("layer{}.", l + 1), sizes[l], sizes[l + 1], what)?);
        }
        Some(Dbn::new(rbms).map_err(|e| bad(format!("invalid layers: {e}")))?)
    };
    GaussianDbn::new(g, upper).map(DbnFile::Gaussian).map_err(|e| bad(format!("invalid layers: {e}")))
}

/// Loads any DBN file (tied, untied or labelled), with the checks of
/// [`load_dbn`].
///
/// # Errors
/// As [`load_dbn`].
pub fn load_any_dbn(path: impl AsRef<Path>) -> Result<DbnFile> {
    let path = path.as_ref();
    let what = path.display().to_string();
    parse_any_named(&read_file(path)?, &what)
}

/// Parses any DBN file's bytes (as [`load_any_dbn`]).
///
/// # Errors
/// As [`load_dbn`].
pub fn parse_any_dbn(bytes: &[u8]) -> Result<DbnFile> {
    parse_any_named(bytes, "model")
}

/// Loads a DBN with a label-joined top ([`save_labelled_dbn`]).
///
/// # Errors
/// As [`load_dbn`]; a file without labels is refused.
pub fn load_labelled_dbn(path: impl AsRef<Path>) -> Result<LabelledDbn> {
    let path = path.as_ref();
    let what = path.display().to_string();
    labelled_only(parse_any_named(&read_file(path)?, &what)?, &what)
}

/// Parses labelled-DBN bytes (as [`load_labelled_dbn`]).
///
/// # Errors
/// As [`load_labelled_dbn`].
pub fn parse_labelled_dbn(bytes: &[u8]) -> Result<LabelledDbn> {
    labelled_only(parse_any_named(bytes, "model")?, "model")
}

fn labelled_only(f: DbnFile, what: &str) -> Result<LabelledDbn> {
    match f {
        DbnFile::Labelled(n) => Ok(n),
        _ => Err(Error::Io {
            path: what.to_string(),
            reason: "this DBN has no label units (train it with a labelled top)".into(),
        }),
    }
}

/// Loads a tied DBN, with the checks of [`load_rbm`] on every layer, the
/// layer count and sizes against the metadata, and sizes that chain.
///
/// # Errors
/// [`Error::Io`] naming the file and the problem (e.g. a missing layer, or
/// an untied file: use [`load_untied_dbn`]); [`Error::Os`] when it cannot
/// be read.
pub fn load_dbn(path: impl AsRef<Path>) -> Result<Dbn> {
    let path = path.as_ref();
    let what = path.display().to_string();
    tied_only(parse_any_named(&read_file(path)?, &what)?, &what)
}

/// Loads a DBN file, tied or untied (a tied one comes back with its lower
/// layers as the recognition weights, [`UntiedDbn::from_tied`]).
///
/// # Errors
/// As [`load_dbn`].
pub fn load_untied_dbn(path: impl AsRef<Path>) -> Result<UntiedDbn> {
    let path = path.as_ref();
    let what = path.display().to_string();
    untied_or_tied(parse_any_named(&read_file(path)?, &what)?, &what)
}

/// Parses DBN-file bytes (what [`load_dbn`] does after reading).
///
/// # Errors
/// As [`load_dbn`].
pub fn parse_dbn(bytes: &[u8]) -> Result<Dbn> {
    tied_only(parse_any_named(bytes, "model")?, "model")
}

/// Parses DBN-file bytes, tied or untied (as [`load_untied_dbn`]).
///
/// # Errors
/// As [`load_dbn`].
pub fn parse_untied_dbn(bytes: &[u8]) -> Result<UntiedDbn> {
    untied_or_tied(parse_any_named(bytes, "model")?, "model")
}

fn labelled_refused(what: &str) -> Error {
    Error::Io {
        path: what.to_string(),
        reason: "this DBN has a label-joined top RBM; load it as a labelled DBN".into(),
    }
}

fn gaussian_refused(what: &str) -> Error {
    Error::Io {
        path: what.to_string(),
        reason: "this DBN has a Gaussian bottom layer; load it with load_any_dbn".into(),
    }
}

fn tied_only(f: DbnFile, what: &str) -> Result<Dbn> {
    match f {
        DbnFile::Tied(d) => Ok(d),
        DbnFile::Untied(_) => Err(Error::Io {
            path: what.to_string(),
            reason: "this DBN has untied recognition weights (after up-down); load it as an untied DBN"
                .into(),
        }),
        DbnFile::Labelled(_) => Err(labelled_refused(what)),
        DbnFile::Gaussian(_) => Err(gaussian_refused(what)),
    }
}

fn untied_or_tied(f: DbnFile, what: &str) -> Result<UntiedDbn> {
    match f {
        DbnFile::Tied(d) => Ok(UntiedDbn::from_tied(d)),
        DbnFile::Untied(n) => Ok(n),
        DbnFile::Labelled(_) => Err(labelled_refused(what)),
        DbnFile::Gaussian(_) => Err(gaussian_refused(what)),
    }
}

/// Most label units a file may declare (as [`LabelledRbm::new`]).
const MAX_LABEL_UNITS: usize = 256;

pub(super) fn parse_any_named(bytes: &[u8], what: &str) -> Result<DbnFile> {
    let bad = |r: String| Error::Io { path: what.to_string(), reason: r };
    let st = SafeTensors::from_bytes(bytes, what)?;
    if st.metadata.get("kind").map(String::as_str) == Some("gaussian-dbn")
        && st.metadata.get("format").map(String::as_str) == Some("boltzmann")
    {
        return parse_gaussian(&st, what);
    }
    let (d, top_h) = check_header(&st, "dbn", what)?;
    let layers: usize = st.meta("layers", what)?.parse().map_err(|_| bad("bad layers".into()))?;
    if layers == 0 || layers > MAX_DBN_LAYERS {
        return Err(bad(format!("layers = {layers} is not in 1..={MAX_DBN_LAYERS}")));
    }
    let sizes: Vec<usize> = st
        .meta("sizes", what)?
        .split(',')
        .map(|s| s.trim().parse().map_err(|_| bad(format!("bad sizes entry {s:?}"))))
        .collect::<Result<_>>()?;
    if sizes.len() != layers + 1 || sizes[0] != d || sizes[layers] != top_h {
        return Err(bad(format!(
            "sizes {sizes:?} do not match layers = {layers}, n_visible = {d}, n_hidden = {top_h}"
        )));
    }
    let untied = match st.metadata.get("recognition").map(String::as_str) {
        None => false,
        Some("untied") => true,
        Some(o) => return Err(bad(format!("recognition = {o:?} is not supported"))),
    };
    let labels: usize = match st.metadata.get("label_units") {
        None => 0,
        Some(k) => match k.parse() {
            Ok(k) if (2..=MAX_LABEL_UNITS).contains(&k) && layers >= 2 && !untied => k,
            _ => {
                return Err(bad(format!(
                    "label_units = {k:?}: need 2..={MAX_LABEL_UNITS} labels, at least two layers and tied \
                     recognition weights"
                )));
            }
        },
    };
    let expected = 3 * layers + if untied { 2 * (layers - 1) } else { 0 };
    if st.tensors.len() != expected {
        return Err(bad(format!(
            "expected {expected} tensors for {layers} layers, found {}",
            st.tensors.len()
        )));
    }
    let mut rbms = Vec::with_capacity(layers);
    for l in 0..layers {
        let d = sizes[l] + if l + 1 == layers { labels } else { 0 };
        rbms.push(rbm_from(&st, &format!("layer{}.", l + 1), d, sizes[l + 1], what)?);
    }
    if labels > 0 {
        let top = rbms.pop().expect("at least two layers");
        let top = LabelledRbm::new(top, labels).map_err(|e| bad(format!("invalid labelled top: {e}")))?;
        let lower = Dbn::new(rbms).map_err(|e| bad(format!("invalid layers: {e}")))?;
        let net = LabelledDbn::new(lower, top).map_err(|e| bad(format!("invalid labelled top: {e}")))?;
        return Ok(DbnFile::Labelled(net));
    }
    let mut rec = Vec::with_capacity(layers - 1);
    for (l, g) in rbms[..layers - 1].iter().enumerate() {
        if !untied {
            break;
        }
        let (d, h) = (sizes[l], sizes[l + 1]);
        let get = |name: &str, shape: &[usize]| -> Result<Vec<f32>> {
            let t = st.get(&format!("recognition{}.{name}", l + 1), what)?;
            if t.shape != shape {
                return Err(bad(format!(
                    "tensor recognition{}.{name} has shape {:?}, expected {shape:?}",
                    l + 1,
                    t.shape
                )));
            }
            t.to_f32(what)
        };
        let r =
            Rbm::new(d, h, get("weights", &[d, h])?, g.visible_bias().to_vec(), get("hidden_bias", &[h])?)
                .map_err(|e| bad(format!("invalid recognition layer {}: {e}", l + 1)))?;
        rec.push(r);
    }
    let dbn = Dbn::new(rbms).map_err(|e| bad(format!("invalid layers: {e}")))?;
    if !untied {
        return Ok(DbnFile::Tied(dbn));
    }
    let net = UntiedDbn::new(dbn, rec).map_err(|e| bad(format!("invalid recognition layers: {e}")))?;
    Ok(DbnFile::Untied(net))
}
