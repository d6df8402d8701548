//! Training checkpoints: everything [`TrainState`] holds, in one
//! safetensors file written atomically.
//!
//! Tensors: `model.weights`, `model.visible_bias`, `model.hidden_bias`;
//! `opt.m_w`, `opt.m_b`, `opt.m_c` (and `opt.v_*` for Adam);
//! `chains.visible`, `chains.hidden` (U8 0/1), `chains.streams` (U64
//! `[B, 4]`; for parallel tempering every replica, replica-major);
//! `order_stream` (U64 `[4]`); `sparsity_q` when used;
//! `centering.visible_offset` / `centering.hidden_offset` with centering;
//! `fast` (`[W_f, b_f, c_f]` flat) with fast weights; `average`
//! (`[W̄, b̄, c̄]` flat) with parameter averaging; `tempering.betas` and
//! `tempering.base` with parallel tempering. Metadata
//! as for model files with `kind = "rbm-checkpoint"`, plus `config` (JSON),
//! `epoch`, `step`, `adam_t`, `sweeps`, `averaged_updates` and `isa`, and the training data's
//! [`Fingerprint`] as `data.rows`, `data.dim`, `data.checksum` (hex).

use super::model::{check_header, common_metadata, rbm_from, rbm_tensors};
use super::safetensors::{SafeTensors, Tensor};
use super::{read_file, write_atomic};
use crate::data::Fingerprint;
use crate::error::{Error, Result};
use crate::sampler::Chains;
use crate::sampler::Tempering;
use crate::train::{
    Algorithm, Averaging, Centering, FastWeights, Optim, Optimizer, OptimizerState, Schedule, Sparsity,
    TrainConfig, TrainState,
};
use serde_json::{Value, json};
use std::path::Path;

fn config_json(c: &TrainConfig) -> Value {
    let algorithm = match c.algorithm {
        Algorithm::Cd { k } => json!({"kind": "cd", "k": k}),
        Algorithm::Pcd { k, chains } => json!({"kind": "pcd", "k": k, "chains": chains}),
        Algorithm::Pt { k, chains, replicas, beta_min } => {
            json!({"kind": "pt", "k": k, "chains": chains, "replicas": replicas, "beta_min": beta_min})
        }
    };
    let optimizer = match c.optimizer {
        Optimizer::Sgd { initial, final_, switch_epoch } => {
            json!({"kind": "sgd", "initial": initial, "final": final_, "switch_epoch": switch_epoch})
        }
        Optimizer::Adam { beta1, beta2, eps } => {
            json!({"kind": "adam", "beta1": beta1, "beta2": beta2, "eps": eps})
        }
    };
    let schedule = schedule_json(&c.optim.schedule);
    let sparsity = c.sparsity.map(|s| json!({"target": s.target, "cost": s.cost, "decay": s.decay}));
    let centering = c.centering.map(|s| json!({"hidden_rate": s.hidden_rate}));
    let fast = c.fast_weights.map(|f| json!({"learning_rate": f.learning_rate, "decay": f.decay}));
    let averaging = c.averaging.map(|a| json!({"decay": a.decay, "from_epoch": a.from_epoch}));
    json!({
        "n_hidden": c.n_hidden, "algorithm": algorithm, "learning_rate": c.optim.learning_rate,
        "schedule": schedule, "optimizer": optimizer, "l2": c.optim.l2, "l1": c.l1,
        "batch_size": c.optim.batch_size, "epochs": c.optim.epochs, "shuffle": c.shuffle,
        "visible_bias_from_data": c.visible_bias_from_data, "weight_init_std": c.weight_init_std,
        "sparsity": sparsity, "max_weight": c.max_weight, "seed": c.seed.to_string(),
        "probability_data": c.probability_data, "any_real_data": c.any_real_data, "centering": centering, "fast_weights": fast,
        "ladder_step": c.ladder_step, "averaging": averaging,
    })
}

/// A learning-rate schedule as checkpoints store it.
pub(super) fn schedule_json(s: &Schedule) -> Value {
    match *s {
        Schedule::Constant => json!({"kind": "constant"}),
        Schedule::Exponential { decay } => json!({"kind": "exponential", "decay": decay}),
        Schedule::Linear { final_lr } => json!({"kind": "linear", "final_lr": final_lr}),
        Schedule::InverseTime { scale } => json!({"kind": "inverse_time", "scale": scale}),
    }
}

/// The schedule [`schedule_json`] wrote; `None` for anything else.
pub(super) fn schedule_from_json(s: &Value) -> Option<Schedule> {
    let f = |k: &str| s.get(k).and_then(Value::as_f64).map(|x| x as f32);
    Some(match s.get("kind").and_then(Value::as_str)? {
        "constant" => Schedule::Constant,
        "exponential" => Schedule::Exponential { decay: f("decay")? },
        "linear" => Schedule::Linear { final_lr: f("final_lr")? },
        "inverse_time" => Schedule::InverseTime { scale: f("scale")? },
        _ => return None,
    })
}

fn config_from_json(v: &Value, what: &str) -> Result<TrainConfig> {
    let bad = |k: &str| Error::Io {
        path: what.to_string(),
        reason: format!("checkpoint config: bad or missing {k:?}"),
    };
    let f = |o: &Value, k: &str| o.get(k).and_then(Value::as_f64).map(|x| x as f32).ok_or_else(|| bad(k));
    let u = |o: &Value, k: &str| o.get(k).and_then(Value::as_u64).map(|x| x as usize).ok_or_else(|| bad(k));
    let b = |o: &Value, k: &str| o.get(k).and_then(Value::as_bool).ok_or_else(|| bad(k));
    let kind =
        |o: &Value| o.get("kind").and_then(Value::as_str).map(str::to_owned).ok_or_else(|| bad("kind"));
    let a = v.get("algorithm").ok_or_else(|| bad("algorithm"))?;
    let algorithm = match kind(a)?.as_str() {
        "cd" => Algorithm::Cd { k: u(a, "k")? },
        "pcd" => Algorithm::Pcd { k: u(a, "k")?, chains: u(a, "chains")? },
        "pt" => Algorithm::Pt {
            k: u(a, "k")?,
            chains: u(a, "chains")?,
            replicas: u(a, "replicas")?,
            beta_min: f(a, "beta_min")?,
        },
        _ => return Err(bad("algorithm")),
    };
    let o = v.get("optimizer").ok_or_else(|| bad("optimizer"))?;
    let optimizer = match kind(o)?.as_str() {
        "sgd" => Optimizer::Sgd {
            initial: f(o, "initial")?,
            final_: f(o, "final")?,
            switch_epoch: u(o, "switch_epoch")?,
        },
        "adam" => Optimizer::Adam { beta1: f(o, "beta1")?, beta2: f(o, "beta2")?, eps: f(o, "eps")? },
        _ => return Err(bad("optimizer")),
    };
    let schedule = v.get("schedule").and_then(schedule_from_json).ok_or_else(|| bad("schedule"))?;
    let sparsity = match v.get("sparsity") {
        None | Some(Value::Null) => None,
        Some(sp) => Some(Sparsity { target: f(sp, "target")?, cost: f(sp, "cost")?, decay: f(sp, "decay")? }),
    };
    let centering = match v.get("centering") {
        None | Some(Value::Null) => None,
        Some(c) => Some(Centering { hidden_rate: f(c, "hidden_rate")? }),
    };
    let fast_weights = match v.get("fast_weights") {
        None | Some(Value::Null) => None,
        Some(x) => Some(FastWeights { learning_rate: f(x, "learning_rate")?, decay: f(x, "decay")? }),
    };
    let averaging = match v.get("averaging") {
        None | Some(Value::Null) => None,
        Some(x) => Some(Averaging { decay: f(x, "decay")?, from_epoch: u(x, "from_epoch")? }),
    };
    let seed =
        v.get("seed").and_then(Value::as_str).and_then(|s| s.parse().ok()).ok_or_else(|| bad("seed"))?;
    let c = TrainConfig {
        n_hidden: u(v, "n_hidden")?,
        algorithm,
        optim: Optim::new(
            f(v, "learning_rate")?,
            schedule,
            f(v, "l2")?,
            u(v, "batch_size")?,
            u(v, "epochs")?,
        ),
        optimizer,
        l1: f(v, "l1")?,
        shuffle: b(v, "shuffle")?,
        visible_bias_from_data: b(v, "visible_bias_from_data")?,
        weight_init_std: f(v, "weight_init_std")?,
        sparsity,
        max_weight: f(v, "max_weight")?,
        seed,
        // Absent in checkpoints written before the option existed.
        probability_data: match v.get("probability_data") {
            None => false,
            Some(x) => x.as_bool().ok_or_else(|| bad("probability_data"))?,
        },
        // Absent in checkpoints written before the option existed.
        any_real_data: match v.get("any_real_data") {
            None => false,
            Some(x) => x.as_bool().ok_or_else(|| bad("any_real_data"))?,
        },
        centering,
        fast_weights,
        // Absent in checkpoints written before the option existed.
        ladder_step: match v.get("ladder_step") {
            None | Some(Value::Null) => None,
            Some(x) => Some(x.as_f64().ok_or_else(|| bad("ladder_step"))? as f32),
        },
        averaging,
    };
    c.validate()
        .map_err(|e| Error::Io { path: what.to_string(), reason: format!("checkpoint config: {e}") })?;
    Ok(c)
}

/// Serializes a training state.
pub fn checkpoint_bytes(s: &TrainState) -> Vec<u8> {
    let mut st = SafeTensors::default();
    common_metadata(&mut st, "rbm-checkpoint", &s.rbm);
    let (d, h) = (s.rbm.n_visible(), s.rbm.n_hidden());
    for (k, v) in [
        ("config", config_json(&s.config).to_string()),
        ("epoch", s.epoch.to_string()),
        ("step", s.step.to_string()),
        ("adam_t", s.optimizer.t.to_string()),
        ("sweeps", s.chains.sweeps_done().to_string()),
        ("averaged_updates", s.averaged_updates.to_string()),
        ("isa", s.isa.clone()),
    ] {
        st.metadata.insert(k.into(), v);
    }
    if let Some(fp) = &s.data {
        st.metadata.insert("data.rows".into(), fp.rows.to_string());
        st.metadata.insert("data.dim".into(), fp.dim.to_string());
        st.metadata.insert("data.checksum".into(), format!("{:016x}", fp.checksum));
    }
    rbm_tensors(&s.rbm, "model.", &mut st);
    let o = &s.optimizer;
    let mut put = |name: &str, shape: Vec<usize>, v: &[f32]| {
        st.tensors.insert(name.into(), Tensor::f32(shape, v));
    };
    put("opt.m_w", vec![d, h], &o.m_w);
    put("opt.m_b", vec![d], &o.m_b);
    put("opt.m_c", vec![h], &o.m_c);
    if !o.v_w.is_empty() {
        put("opt.v_w", vec![d, h], &o.v_w);
        put("opt.v_b", vec![d], &o.v_b);
        put("opt.v_c", vec![h], &o.v_c);
    }
    if !s.sparsity_q.is_empty() {
        put("sparsity_q", vec![h], &s.sparsity_q);
    }
    if !s.offsets.0.is_empty() {
        put("centering.visible_offset", vec![d], &s.offsets.0);
        put("centering.hidden_offset", vec![h], &s.offsets.1);
    }
    if !s.fast.is_empty() {
        put("fast", vec![d * h + d + h], &s.fast);
    }
    if !s.average.is_empty() {
        put("average", vec![d * h + d + h], &s.average);
    }
    if let Some(t) = &s.tempering {
        put("tempering.betas", vec![t.betas().len()], t.betas());
        put("tempering.base", vec![d], t.base());
    }
    let b = s.chains.batch();
    let bits = |x: &[f32]| x.iter().map(|&v| v as u8).collect::<Vec<u8>>();
    st.tensors.insert("chains.visible".into(), Tensor::u8(vec![b, d], &bits(s.chains.visible())));
    st.tensors.insert("chains.hidden".into(), Tensor::u8(vec![b, h], &bits(s.chains.hidden())));
    let streams: Vec<u64> = s.chains.streams().iter().flatten().copied().collect();
    st.tensors.insert("chains.streams".into(), Tensor::u64(vec![b, 4], &streams));
    st.tensors.insert("order_stream".into(), Tensor::u64(vec![4], &s.order_stream));
    st.to_bytes()
}

/// Saves a checkpoint atomically (the previous file stays intact until the
/// new one is complete on disk).
///
/// # Errors
/// [`Error::Os`] if it cannot be written.
pub fn save_checkpoint(s: &TrainState, path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    write_atomic(path, &checkpoint_bytes(s))
}

/// Parses checkpoint bytes, checking every part.
///
/// # Errors
/// [`Error::Io`] for anything missing, inconsistent or corrupt.
pub fn parse_checkpoint(bytes: &[u8], what: &str) -> Result<TrainState> {
    let st = SafeTensors::from_bytes(bytes, what)?;
    let (d, h) = check_header(&st, "rbm-checkpoint", what)?;
    let bad = |r: String| Error::Io { path: what.to_string(), reason: r };
    let config: Value =
        serde_json::from_str(st.meta("config", what)?).map_err(|e| bad(format!("config: {e}")))?;
    let config = config_from_json(&config, what)?;
    // Counters beyond 2⁵³ cannot come from a real run.
    let num = |k: &str| -> Result<u64> {
        st.meta(k, what)?.parse().ok().filter(|&x: &u64| x < 1 << 53).ok_or_else(|| bad(format!("bad {k}")))
    };
    let rbm = rbm_from(&st, "model.", d, h, what)?;
    let f32s = |name: &str, len: usize| -> Result<Vec<f32>> {
        let v = st.get(name, what)?.to_f32(what)?;
        if v.len() != len {
            return Err(bad(format!("{name} has {} values, expected {len}", v.len())));
        }
        if v.iter().any(|x| !x.is_finite()) {
            return Err(bad(format!("{name} holds NaN or inf")));
        }
        Ok(v)
    };
    let adam = st.tensors.contains_key("opt.v_w");
    let optimizer = OptimizerState {
        m_w: f32s("opt.m_w", d * h)?,
        m_b: f32s("opt.m_b", d)?,
        m_c: f32s("opt.m_c", h)?,
        v_w: if adam { f32s("opt.v_w", d * h)? } else { Vec::new() },
        v_b: if adam { f32s("opt.v_b", d)? } else { Vec::new() },
        v_c: if adam { f32s("opt.v_c", h)? } else { Vec::new() },
        t: num("adam_t")?,
    };
    let sparsity_q = if st.tensors.contains_key("sparsity_q") { f32s("sparsity_q", h)? } else { Vec::new() };
    let streams_t = st.get("chains.streams", what)?;
    if streams_t.shape.len() != 2 || streams_t.shape[1] != 4 {
        return Err(bad(format!("chains.streams has shape {:?}, expected [B, 4]", streams_t.shape)));
    }
    let raw = streams_t.to_u64(what)?;
    let streams: Vec<[u64; 4]> = raw.chunks_exact(4).map(|c| [c[0], c[1], c[2], c[3]]).collect();
    let states = |name: &str| -> Result<Vec<f32>> {
        let t = st.get(name, what)?;
        if t.dtype != super::safetensors::Dtype::U8 {
            return Err(bad(format!("{name} must be U8")));
        }
        Ok(t.data.iter().map(|&x| x as f32).collect())
    };
    let chains = Chains::from_parts(
        &rbm,
        states("chains.visible")?,
        states("chains.hidden")?,
        streams,
        num("sweeps")?,
    )
    .map_err(|e| bad(format!("chains: {e}")))?;
    let (centered, fast_on) = (config.centering.is_some(), config.fast_weights.is_some());
    let offsets = if centered {
        (f32s("centering.visible_offset", d)?, f32s("centering.hidden_offset", h)?)
    } else {
        (Vec::new(), Vec::new())
    };
    let fast = if fast_on { f32s("fast", d * h + d + h)? } else { Vec::new() };
    let average = if config.averaging.is_some() { f32s("average", d * h + d + h)? } else { Vec::new() };
    // Absent in checkpoints written before averaging existed.
    let averaged_updates =
        if st.metadata.contains_key("averaged_updates") { num("averaged_updates")? } else { 0 };
    let tempering = match config.algorithm {
        Algorithm::Pt { chains: n, replicas, .. } => {
            let betas = f32s("tempering.betas", replicas)?;
            let mut t = Tempering::new(&chains, n, betas).map_err(|e| bad(format!("tempering: {e}")))?;
            t.set_base(&f32s("tempering.base", d)?).map_err(|e| bad(format!("tempering: {e}")))?;
            Some(t)
        }
        _ => None,
    };
    let isa = st.meta("isa", what)?.to_string();
    if crate::Isa::from_name(&isa).is_none() {
        return Err(bad(format!("unknown isa {isa:?}")));
    }
    let data = data_fingerprint(&st, d, what)?;
    let (epoch, step) = (num("epoch")?, num("step")?);
    if epoch > config.optim.epochs as u64 {
        return Err(bad(format!("epoch {epoch} is past the configured {} epochs", config.optim.epochs)));
    }
    // (No bound of `step` by the epochs: a resume with other data or batch
    // size, allowed by `--resume-anyway`, changes the updates per epoch.)
    if averaged_updates > step {
        return Err(bad(format!("averaged_updates {averaged_updates} is past step {step}")));
    }
    if averaged_updates > 0 {
        // The average must itself be a valid model (it is what gets saved).
        crate::train::trainer::flat_rbm(d, h, &average).map_err(|e| bad(format!("average: {e}")))?;
    }
    if optimizer.t > step {
        return Err(bad(format!("adam_t {} is past step {step}", optimizer.t)));
    }
    let os = st.get("order_stream", what)?.to_u64(what)?;
    if os.len() != 4 || os == [0; 4] {
        return Err(bad("order_stream must be 4 words, not all zero".into()));
    }
    Ok(TrainState {
        config,
        rbm,
        optimizer,
        chains,
        order_stream: [os[0], os[1], os[2], os[3]],
        epoch: epoch as usize,
        step,
        sparsity_q,
        offsets,
        fast,
        average,
        averaged_updates,
        tempering,
        isa,
        data,
    })
}

/// The training data's fingerprint (`None` in checkpoints written before the
/// data was recorded), checked against the model's width `d`.
fn data_fingerprint(st: &SafeTensors, d: usize, what: &str) -> Result<Option<Fingerprint>> {
    let bad = |r: String| Error::Io { path: what.to_string(), reason: r };
    if !st.metadata.contains_key("data.rows") {
        return Ok(None);
    }
    let checksum = u64::from_str_radix(st.meta("data.checksum", what)?, 16)
        .map_err(|_| bad("bad data.checksum".into()))?;
    let n = |k: &str| st.meta(k, what)?.parse::<usize>().map_err(|_| bad(format!("bad {k}")));
    let fp = Fingerprint { rows: n("data.rows")?, dim: n("data.dim")?, checksum };
    if fp.dim != d {
        return Err(bad("data.dim differs from the model's n_visible".into()));
    }
    Ok(Some(fp))
}

/// Loads a checkpoint.
///
/// # Errors
/// As [`parse_checkpoint`], plus unreadable files.
pub fn load_checkpoint(path: impl AsRef<Path>) -> Result<TrainState> {
    let path = path.as_ref();
    let what = path.display().to_string();
    parse_checkpoint(&read_file(path)?, &what)
}
