//! Convolutional RBM files, safetensors like the RBM files: `kind =
//! "conv-rbm"`, `visible_units = "bernoulli" | "gaussian"`, `hidden_units =
//! "bernoulli"`, metadata
//! `height`, `width`, `channels`, `filters`, `filter_size`, `pool`; tensors
//! `weights` `[r, r, C, K]` (channel-last filters, the layout of
//! [`crate::kernels::conv`]), `hidden_bias` `[K]`, `visible_bias` `[C]`.
//!
//! Training checkpoints: `conv-checkpoint` (one layer) and
//! `conv-dbn-checkpoint` (a greedy stack: the finished layers and the
//! current layer's state).
//!
//! ```python
//! from safetensors.numpy import load_file
//! t = load_file("crbm.safetensors")   # t["weights"].shape == (9, 9, 1, 24)
//! ```

use super::checkpoint::{schedule_from_json, schedule_json};
use super::model::{FORMAT_VERSION, check_format_and_kind};
use super::safetensors::{SafeTensors, Tensor};
use super::{read_file, write_atomic};
use crate::data::Fingerprint;
use crate::error::{Error, Result};
use crate::kernels::conv::ConvShape;
use crate::model::{ConvDbn, ConvRbm, ConvVisible};
use crate::rng::StreamState;
use crate::sampler::ConvChains;
use crate::train::conv::{ConvTrainConfig, ConvTrainState};
use crate::train::conv_dbn::ConvDbnTrainState;
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

fn config_json(c: &ConvTrainConfig) -> String {
    serde_json::json!({
        "filters": c.filters, "filter_size": c.filter_size, "pool": c.pool,
        "visible": c.visible.name(), "k": c.k, "persistent": c.persistent, "chains": c.chains,
        "learning_rate": c.optim.learning_rate, "schedule": schedule_json(&c.optim.schedule), "momentum": c.momentum,
        "l2": c.optim.l2, "sparsity_target": c.sparsity_target, "sparsity_cost": c.sparsity_cost,
        "batch_size": c.optim.batch_size, "epochs": c.optim.epochs, "weight_init_std": c.weight_init_std,
        "initial_hidden_bias": c.initial_hidden_bias, "center_visible": c.center_visible, "seed": c.seed,
    })
    .to_string()
}

fn config_from(text: &str, what: &str) -> Result<ConvTrainConfig> {
    let bad = |k: &str| Error::Io {
        path: what.to_string(),
        reason: format!("checkpoint config: bad or missing {k:?}"),
    };
    let v: serde_json::Value = serde_json::from_str(text).map_err(|_| bad("config"))?;
    let n = |k: &str| v.get(k).and_then(serde_json::Value::as_u64).map(|x| x as usize).ok_or_else(|| bad(k));
    let f = |v: &serde_json::Value, k: &str| {
        v.get(k).and_then(serde_json::Value::as_f64).map(|x| x as f32).ok_or_else(|| bad(k))
    };
    let schedule = v.get("schedule").and_then(schedule_from_json).ok_or_else(|| bad("schedule"))?;
    let visible = match v.get("visible").and_then(serde_json::Value::as_str) {
        Some("bernoulli") => ConvVisible::Bernoulli,
        Some("gaussian") => ConvVisible::Gaussian,
        _ => return Err(bad("visible")),
    };
    Ok(ConvTrainConfig::default()
        .filters(n("filters")?)
        .filter_size(n("filter_size")?)
        .pool(n("pool")?)
        .visible(visible)
        .k(n("k")?)
        .persistent(
            v.get("persistent").and_then(serde_json::Value::as_bool).ok_or_else(|| bad("persistent"))?,
        )
        .chains(n("chains")?)
        .learning_rate(f(&v, "learning_rate")?)
        .schedule(schedule)
        .momentum(f(&v, "momentum")?)
        .l2(f(&v, "l2")?)
        .sparsity_target(f(&v, "sparsity_target")?)
        .sparsity_cost(f(&v, "sparsity_cost")?)
        .batch_size(n("batch_size")?)
        .epochs(n("epochs")?)
        .weight_init_std(f(&v, "weight_init_std")?)
        .initial_hidden_bias(f(&v, "initial_hidden_bias")?)
        // Absent in checkpoints written before the option existed.
        .center_visible(v.get("center_visible").and_then(serde_json::Value::as_bool).unwrap_or(false))
        .seed(v.get("seed").and_then(serde_json::Value::as_u64).ok_or_else(|| bad("seed"))?))
}

fn streams_flat(s: &[StreamState]) -> Vec<u64> {
    s.iter().flatten().copied().collect()
}

fn streams_from(v: Vec<u64>) -> Vec<StreamState> {
    v.chunks_exact(4).map(|c| [c[0], c[1], c[2], c[3]]).collect()
}

/// The bytes of a convolutional-RBM training checkpoint
/// (`kind = "conv-checkpoint"`): the settings as JSON (`config`), the image
/// shape, `epoch`, `step`, the data fingerprint (`data.rows`, `data.dim`,
/// `data.checksum`), the model (`model.*` as in a model file), the
/// velocities, the chains' states and streams, the CD streams, the order of
/// the examples and the shuffle's stream.
pub fn conv_checkpoint_bytes(s: &ConvTrainState) -> Vec<u8> {
    let mut st = SafeTensors::default();
    header(&mut st, "conv-checkpoint", s.model.visible_units());
    put_state(&mut st, s, "");
    st.to_bytes()
}

/// A training state's metadata and tensors (those of a `conv-checkpoint`
/// file), names prefixed by `prefix`.
fn put_state(st: &mut SafeTensors, s: &ConvTrainState, prefix: &str) {
    let (h, w, c) = s.image;
    for (k, v) in [
        ("config", config_json(&s.config)),
        ("image", format!("{h}x{w}x{c}")),
        ("epoch", s.epoch.to_string()),
        ("step", s.step.to_string()),
        ("data.rows", s.data.rows.to_string()),
        ("data.dim", s.data.dim.to_string()),
        ("data.checksum", format!("{:016x}", s.data.checksum)),
    ] {
        st.metadata.insert(format!("{prefix}{k}"), v);
    }
    put_layer(st, &s.model, &format!("{prefix}model."));
    for (name, v) in
        ["velocity.weights", "velocity.hidden_bias", "velocity.visible_bias"].iter().zip(&s.velocity)
    {
        st.tensors.insert(format!("{prefix}{name}"), Tensor::f32(vec![v.len()], v));
    }
    if let Some(ch) = &s.chains {
        let n = ch.len();
        let sh = s.model.shape();
        st.metadata.insert(format!("{prefix}chains.sweeps"), ch.sweeps_done().to_string());
        let t = &mut st.tensors;
        t.insert(format!("{prefix}chains.visible"), Tensor::f32(vec![n, sh.n_visible()], ch.visible()));
        t.insert(format!("{prefix}chains.hidden"), Tensor::f32(vec![n, sh.n_hidden()], ch.hidden()));
        t.insert(format!("{prefix}chains.pooled"), Tensor::f32(vec![n, sh.n_pooled()], ch.pooled()));
        t.insert(format!("{prefix}chains.streams"), Tensor::u64(vec![n, 4], &streams_flat(ch.streams())));
    }
    let cd = streams_flat(&s.cd_streams);
    st.tensors.insert(format!("{prefix}cd_streams"), Tensor::u64(vec![s.cd_streams.len(), 4], &cd));
    let order: Vec<u64> = s.order.iter().map(|&i| i as u64).collect();
    st.tensors.insert(format!("{prefix}order"), Tensor::u64(vec![order.len()], &order));
    st.tensors.insert(format!("{prefix}shuffle"), Tensor::u64(vec![4], &s.shuffle));
}

/// The bytes of a convolutional-DBN training checkpoint (`kind =
/// "conv-dbn-checkpoint"`): `layers` (the stack's size) and `done` (layers
/// finished), `configs` (every layer's settings, a JSON array), `image` and
/// the fingerprint (`data.*`) of layer 1's data, the finished layers
/// (`layer{l}.*`, as in a `conv-dbn` file) and the current layer's state
/// (`current.*`, as in a `conv-checkpoint` file).
pub fn conv_dbn_checkpoint_bytes(s: &ConvDbnTrainState) -> Vec<u8> {
    let mut st = SafeTensors::default();
    header(&mut st, "conv-dbn-checkpoint", s.configs.first().map_or(ConvVisible::Bernoulli, |c| c.visible));
    let (h, w, c) = s.image;
    let configs: Vec<serde_json::Value> =
        s.configs.iter().map(|c| serde_json::from_str(&config_json(c)).expect("our own JSON")).collect();
    for (k, v) in [
        ("layers", s.configs.len().to_string()),
        ("done", s.done.len().to_string()),
        ("configs", serde_json::Value::Array(configs).to_string()),
        ("image", format!("{h}x{w}x{c}")),
        ("data.rows", s.data.rows.to_string()),
        ("data.dim", s.data.dim.to_string()),
        ("data.checksum", format!("{:016x}", s.data.checksum)),
    ] {
        st.metadata.insert(k.into(), v);
    }
    for (l, m) in s.done.iter().enumerate() {
        put_layer(&mut st, m, &format!("layer{}.", l + 1));
    }
    put_state(&mut st, &s.current, "current.");
    st.to_bytes()
}

/// Writes a convolutional-DBN checkpoint atomically.
///
/// # Errors
/// [`Error::Os`] if it cannot be written, [`Error::Io`] for a directory.
pub fn save_conv_dbn_checkpoint(s: &ConvDbnTrainState, path: impl AsRef<Path>) -> Result<()> {
    write_atomic(path.as_ref(), &conv_dbn_checkpoint_bytes(s))
}

/// Reads a convolutional-DBN checkpoint.
///
/// # Errors
/// [`Error::Os`] when it cannot be read; [`Error::Io`] for anything that is
/// not a valid convolutional-DBN checkpoint of this library.
pub fn load_conv_dbn_checkpoint(path: impl AsRef<Path>) -> Result<ConvDbnTrainState> {
    let path = path.as_ref();
    parse_dbn_checkpoint_named(&read_file(path)?, &path.display().to_string())
}

/// [`load_conv_dbn_checkpoint`] from bytes.
///
/// # Errors
/// As [`load_conv_dbn_checkpoint`].
pub fn parse_conv_dbn_checkpoint(bytes: &[u8]) -> Result<ConvDbnTrainState> {
    parse_dbn_checkpoint_named(bytes, "convolutional-DBN checkpoint")
}

pub(super) fn parse_dbn_checkpoint_named(bytes: &[u8], what: &str) -> Result<ConvDbnTrainState> {
    let st = SafeTensors::from_bytes(bytes, what)?;
    let bad = |reason: String| Error::Io { path: what.to_string(), reason };
    let visible = check_header(&st, "conv-dbn-checkpoint", what)?;
    let num = |k: &str| -> Result<usize> { st.meta(k, what)?.parse().map_err(|_| bad(format!("bad {k}"))) };
    let (layers, done) = (num("layers")?, num("done")?);
    if layers == 0 || layers > 64 || done >= layers {
        return Err(bad(format!("layers = {layers}, done = {done}: need 1 ≤ layers ≤ 64 and done < layers")));
    }
    let list: Vec<serde_json::Value> =
        serde_json::from_str(st.meta("configs", what)?).map_err(|_| bad("bad configs".into()))?;
    if list.len() != layers {
        return Err(bad(format!("{} configs for {layers} layers", list.len())));
    }
    let configs = list.iter().map(|v| config_from(&v.to_string(), what)).collect::<Result<Vec<_>>>()?;
    if configs[0].visible != visible {
        return Err(bad("visible_units does not match layer 1's settings".into()));
    }
    let (image, data) = image_and_data(&st, "", what)?;
    let mut done_layers = Vec::with_capacity(done);
    for (l, c) in configs.iter().enumerate().take(done) {
        done_layers.push(get_layer(&st, &format!("layer{}.", l + 1), what)?.with_visible(c.visible));
    }
    Ok(ConvDbnTrainState {
        configs,
        image,
        data,
        done: done_layers,
        current: get_state(&st, "current.", None, what)?,
    })
}

/// Writes a checkpoint atomically.
///
/// # Errors
/// [`Error::Os`] if it cannot be written, [`Error::Io`] for a directory.
pub fn save_conv_checkpoint(s: &ConvTrainState, path: impl AsRef<Path>) -> Result<()> {
    write_atomic(path.as_ref(), &conv_checkpoint_bytes(s))
}

/// Reads a checkpoint.
///
/// # Errors
/// [`Error::Os`] when it cannot be read; [`Error::Io`] for anything that is
/// not a valid convolutional-RBM checkpoint of this library.
pub fn load_conv_checkpoint(path: impl AsRef<Path>) -> Result<ConvTrainState> {
    let path = path.as_ref();
    parse_checkpoint_named(&read_file(path)?, &path.display().to_string())
}

/// [`load_conv_checkpoint`] from bytes.
///
/// # Errors
/// As [`load_conv_checkpoint`].
pub fn parse_conv_checkpoint(bytes: &[u8]) -> Result<ConvTrainState> {
    parse_checkpoint_named(bytes, "convolutional-RBM checkpoint")
}

pub(super) fn parse_checkpoint_named(bytes: &[u8], what: &str) -> Result<ConvTrainState> {
    let st = SafeTensors::from_bytes(bytes, what)?;
    let visible = check_header(&st, "conv-checkpoint", what)?;
    get_state(&st, "", Some(visible), what)
}

/// The training state [`put_state`] wrote with `prefix`; its visible units
/// are `visible` (the file's header) or, for `None`, its settings'.
fn get_state(
    st: &SafeTensors,
    prefix: &str,
    visible: Option<ConvVisible>,
    what: &str,
) -> Result<ConvTrainState> {
    let bad = |reason: String| Error::Io { path: what.to_string(), reason };
    let key = |k: &str| format!("{prefix}{k}");
    let config = config_from(st.meta(&key("config"), what)?, what)?;
    let visible = visible.unwrap_or(config.visible);
    let num = |k: &str| -> Result<u64> {
        st.meta(&key(k), what)?.parse().map_err(|_| bad(format!("bad {prefix}{k}")))
    };
    let (image, data) = image_and_data(st, prefix, what)?;
    let model = get_layer(st, &key("model."), what)?.with_visible(visible);
    if model.shape() != config.shape(image) || visible != config.visible {
        return Err(bad("the model does not match the checkpoint's settings".into()));
    }
    let sh = model.shape();
    let f32s = |name: &str, shape: &[usize]| -> Result<Vec<f32>> {
        let name = &key(name);
        let t = st.get(name, what)?;
        if t.shape != shape {
            return Err(bad(format!("tensor {name:?} has shape {:?}, expected {shape:?}", t.shape)));
        }
        t.to_f32(what)
    };
    let u64s = |name: &str, shape: &[usize]| -> Result<Vec<u64>> {
        let name = &key(name);
        let t = st.get(name, what)?;
        if t.shape != shape {
            return Err(bad(format!("tensor {name:?} has shape {:?}, expected {shape:?}", t.shape)));
        }
        t.to_u64(what)
    };
    let velocity = [
        f32s("velocity.weights", &[sh.n_weights()])?,
        f32s("velocity.hidden_bias", &[sh.filters])?,
        f32s("velocity.visible_bias", &[sh.channels])?,
    ];
    let rows = data.rows;
    let chains = if config.persistent {
        let n = config.chains;
        let visible = f32s("chains.visible", &[n, sh.n_visible()])?;
        let hidden = f32s("chains.hidden", &[n, sh.n_hidden()])?;
        let pooled = f32s("chains.pooled", &[n, sh.n_pooled()])?;
        let streams = streams_from(u64s("chains.streams", &[n, 4])?);
        let sweeps = num("chains.sweeps")?;
        let ch = ConvChains::from_state(&model, visible, hidden, pooled, streams, sweeps)
            .map_err(|e| bad(format!("chains: {e}")))?;
        Some(ch)
    } else {
        None
    };
    let bs = config.optim.batch_size.min(rows);
    let cd_streams = streams_from(u64s("cd_streams", &[bs, 4])?);
    let order: Vec<u32> = u64s("order", &[rows])?
        .into_iter()
        .map(|i| u32::try_from(i).map_err(|_| bad("bad order".into())))
        .collect::<Result<_>>()?;
    let sv = u64s("shuffle", &[4])?;
    Ok(ConvTrainState {
        config,
        image,
        model,
        velocity,
        chains,
        cd_streams,
        order,
        shuffle: [sv[0], sv[1], sv[2], sv[3]],
        epoch: num("epoch")? as usize,
        step: num("step")?,
        data,
    })
}

/// The image shape (`{prefix}image`, `HxWxC`) and the data fingerprint
/// (`{prefix}data.rows`, `.dim`, `.checksum`) of a checkpoint.
fn image_and_data(
    st: &SafeTensors,
    prefix: &str,
    what: &str,
) -> Result<((usize, usize, usize), Fingerprint)> {
    let bad = |k: &str| Error::Io { path: what.to_string(), reason: format!("bad {prefix}{k}") };
    let meta = |k: &str| st.meta(&format!("{prefix}{k}"), what);
    let dims: Vec<usize> = meta("image")?.split('x').filter_map(|t| t.parse().ok()).collect();
    let image = match dims[..] {
        [h, w, c] => (h, w, c),
        _ => return Err(bad("image")),
    };
    let num = |k: &str| -> Result<usize> { meta(k)?.parse().map_err(|_| bad(k)) };
    let checksum = u64::from_str_radix(meta("data.checksum")?, 16).map_err(|_| bad("data.checksum"))?;
    Ok((image, Fingerprint { rows: num("data.rows")?, dim: num("data.dim")?, checksum }))
}
