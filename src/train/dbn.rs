//! Greedy layer-wise training of Deep Belief Networks (Hinton, Osindero &
//! Teh 2006): layer 1 is an RBM trained on the data; each next layer is an
//! RBM trained on what the layers below make of the data ([`Propagate`]):
//! binary samples of the recognition distribution `Q(hˡ | hˡ⁻¹)` (drawn
//! once per layer, [`Dbn::recognize`]) or its probabilities (posterior
//! means, [`Dbn::transform`], used as mean-field data as in Hinton's own
//! code), with every option of [`TrainConfig`] per layer.
//! Optionally a new layer starts from the transpose of the layer below
//! ([`tied_layer`]), where the variational bound on `log p(v)` equals the
//! log-likelihood of the network below; training it can then only raise the
//! bound's top term (Hinton et al. 2006, section 4).

use super::{EpochReport, TrainConfig, Trainer};
use crate::data::Dataset;
use crate::data::shuffle_indices;
use crate::error::{Error, Result};
use crate::model::dbn::tied_layer;
use crate::model::{Dbn, Rbm, UntiedDbn};

/// What the layers below pass up as the next layer's training data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Propagate {
    /// One binary sample of `Q(hˡ | hˡ⁻¹)` per example, drawn once per layer.
    #[default]
    Samples,
    /// The probabilities (posterior means), as mean-field data
    /// ([`TrainConfig::probability_data`]).
    Probabilities,
}

/// Greedy training settings: one [`TrainConfig`] per layer (its `n_hidden`
/// is the layer's width).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq)]
pub struct DbnConfig {
    /// Per-layer training configurations, bottom first.
    pub layers: Vec<TrainConfig>,
    /// Start each layer above the first from the transpose of the layer
    /// below (needs `n_hidden` of layer `l + 1` equal to the width of the
    /// layer below layer `l`); otherwise from the usual random initialisation.
    pub tied_init: bool,
    /// Seed of the recognition samples that become the next layer's data.
    pub seed: u64,
    /// Samples or probabilities as the data of the layers above the first.
    pub propagate: Propagate,
}

impl DbnConfig {
    /// Greedy training of `layers` (bottom first), each from its own random
    /// initialisation, passing samples up, recognition seed 0; change these
    /// with the setters.
    pub fn new(layers: Vec<TrainConfig>) -> DbnConfig {
        DbnConfig { layers, tied_init: false, seed: 0, propagate: Propagate::Samples }
    }
}

setters!(DbnConfig {
    layers: Vec<TrainConfig>,
    tied_init: bool,
    seed: u64,
    propagate: Propagate,
});

/// Trains the layers of `config` bottom-up on `data`, calling
/// `on_epoch(layer, report)` (layer counted from 1) after every epoch.
/// Continuing an existing network: [`train_layer_on_top`].
///
/// # Errors
/// [`Error::InvalidParam`] for no layers, or `tied_init` with a width that
/// does not match; the errors of [`Trainer::new`] and
/// [`Trainer::run_epoch`] (e.g. non-binary data, divergence).
///
/// # Examples
/// ```
/// use boltzmann::data::Dataset;
/// use boltzmann::train::{TrainConfig, dbn::{DbnConfig, Propagate, train_greedy}};
/// let x: Vec<f32> = (0..40 * 6).map(|i| ((i * 7) % 3 == 0) as u8 as f32).collect();
/// let data = Dataset::new(x, 6)?;
/// let layer = |h| TrainConfig::default().n_hidden(h).batch_size(10).epochs(2);
/// let config = DbnConfig::new(vec![layer(4), layer(3)]).seed(1);
/// let dbn = train_greedy(&config, &data, |_, _| {})?;
/// assert_eq!(dbn.sizes(), vec![6, 4, 3]);
/// # Ok::<(), boltzmann::Error>(())
/// ```
pub fn train_greedy(
    config: &DbnConfig,
    data: &Dataset,
    mut on_epoch: impl FnMut(usize, &EpochReport),
) -> Result<Dbn> {
    let Some((first, rest)) = config.layers.split_first() else {
        return Err(Error::InvalidParam { name: "layers", reason: "a DBN needs at least one layer".into() });
    };
    let mut t = Trainer::new(first.clone(), data)?;
    while !t.is_done() {
        let r = t.run_epoch(data, |_, _| {})?;
        on_epoch(1, &r);
    }
    let mut dbn = Dbn::new(vec![t.into_rbm()])?;
    for layer in rest {
        let l = dbn.depth() + 1;
        train_layer_on_top(&mut dbn, layer, config.tied_init, config.propagate, data, config.seed, |r| {
            on_epoch(l, r)
        })?;
    }
    Ok(dbn)
}

/// Trains one more layer on top of `dbn` on recognition samples (streams
/// from `seed`) or probabilities of `data`, optionally starting from the
/// transpose of the current top layer, and adds it.
///
/// # Errors
/// As [`train_greedy`].
pub fn train_layer_on_top(
    dbn: &mut Dbn,
    config: &TrainConfig,
    tied_init: bool,
    propagate: Propagate,
    data: &Dataset,
    seed: u64,
    mut on_epoch: impl FnMut(&EpochReport),
) -> Result<()> {
    let l = dbn.depth();
    let mut config = config.clone();
    let x = match propagate {
        Propagate::Samples => dbn.recognize(data.features(), l, seed.wrapping_add(l as u64))?,
        Propagate::Probabilities => {
            config.probability_data = true;
            dbn.transform(data.features(), l)?
        }
    };
    let below = Dataset::new(x, dbn.top().n_hidden())?;
    let mut t = if tied_init {
        let init = tied_layer(dbn.top())?;
        if init.n_hidden() != config.n_hidden {
            return Err(Error::InvalidParam {
                name: "tied_init",
                reason: format!(
                    "layer {} has {} hidden units; a tied start needs {} (the width below layer {l})",
                    l + 1,
                    config.n_hidden,
                    init.n_hidden()
                ),
            });
        }
        Trainer::starting_from(config, &below, init)?
    } else {
        Trainer::new(config, &below)?
    };
    while !t.is_done() {
        let r = t.run_epoch(&below, |_, _| {})?;
        on_epoch(&r);
    }
    dbn.push(t.into_rbm())
}

/// Greedy training of a DBN over real-valued data
/// ([`crate::model::GaussianDbn`]): a Gaussian–Bernoulli RBM on the data
/// ([`crate::train::gaussian::train_gaussian_rbm`] with `bottom`), then, if
/// `upper` is given, its layers greedily ([`train_greedy`]) on the bottom
/// layer's hidden samples or probabilities (`upper.propagate`, samples
/// drawn once from `upper.seed`). `on_bottom` sees the bottom's epochs,
/// `on_upper(layer, report)` the upper layers' (layer counted from 2).
///
/// # Errors
/// As [`crate::train::gaussian::train_gaussian_rbm`] and [`train_greedy`].
///
/// # Examples
/// ```
/// use boltzmann::data::Toy2d;
/// use boltzmann::train::{TrainConfig, dbn::{DbnConfig, Propagate, train_gaussian_greedy}};
/// use boltzmann::train::gaussian::GaussianTrainConfig;
/// let data = Toy2d::Moons.sample(300, 1)?;
/// let bottom = GaussianTrainConfig::default().n_hidden(8).epochs(2).batch_size(20).learning_rate(0.01);
/// let layer = TrainConfig::default().n_hidden(4).epochs(2).batch_size(20);
/// let upper = DbnConfig::new(vec![layer]).seed(3);
/// let net = train_gaussian_greedy(&data, &bottom, Some(&upper), |_| {}, |_, _| {})?;
/// assert_eq!(net.sizes(), vec![2, 8, 4]);
/// # Ok::<(), boltzmann::Error>(())
/// ```
pub fn train_gaussian_greedy(
    data: &Dataset,
    bottom: &crate::train::gaussian::GaussianTrainConfig,
    upper: Option<&DbnConfig>,
    on_bottom: impl FnMut(&crate::train::gaussian::GaussianEpochReport),
    mut on_upper: impl FnMut(usize, &EpochReport),
) -> Result<crate::model::GaussianDbn> {
    if let Some(u) = upper
        && u.layers.is_empty()
    {
        return Err(Error::InvalidParam {
            name: "layers",
            reason: "an upper network needs at least one layer".into(),
        });
    }
    let g = crate::train::gaussian::train_gaussian_rbm(data, bottom, on_bottom)?;
    let Some(cfg) = upper else {
        return crate::model::GaussianDbn::new(g, None);
    };
    let h = g.n_hidden();
    let mut p =
        crate::alloc::try_vec(crate::kernels::mul_dims("features", data.len(), h)?, 0.0f32, "features")?;
    g.hidden_probs(data.features(), &mut p)?;
    let mut cfg = cfg.clone();
    match cfg.propagate {
        Propagate::Samples => {
            let mut st = crate::rng::chain_streams(cfg.seed, data.len())?;
            crate::model::dbn::bernoulli_in_place(&mut st, h, &mut p)?;
        }
        Propagate::Probabilities => cfg.layers[0].probability_data = true,
    }
    let hidden = Dataset::new(p, h)?;
    let upper = train_greedy(&cfg, &hidden, |l, r| on_upper(l + 1, r))?;
    crate::model::GaussianDbn::new(g, Some(upper))
}

/// Puts a label-joined top RBM on `lower` (Hinton et al. 2006): trains a
/// [`crate::model::LabelledRbm`] with `config` on one binary recognition
/// sample of `lower`'s top layer per example (streams from `seed`) joined
/// to the example's label (`0..n_labels`), and returns the labelled DBN.
/// `lower` becomes the directed part; to reproduce the paper's
/// 784-500-500-2000 network train `lower` as 784-500-500 with
/// [`train_greedy`] and use `config.n_hidden = 2000`.
///
/// # Errors
/// As [`crate::train::labelled::fit_labelled`] (no labels, a label out of
/// range, bad settings), and [`Error::ShapeMismatch`] / [`Error::NotBinary`]
/// for data `lower` cannot take.
///
/// # Examples
/// ```
/// use boltzmann::data::Dataset;
/// use boltzmann::model::{Dbn, Rbm};
/// use boltzmann::train::{dbn::train_labelled_top, labelled::LabelledConfig};
/// let x: Vec<f32> = (0..60).flat_map(|i| (0..8).map(move |j| ((j < 4) == (i % 2 == 0)) as u8 as f32)).collect();
/// let labels: Vec<u8> = (0..60).map(|i| (i % 2) as u8).collect();
/// let data = Dataset::new(x, 8)?.with_labels(labels.clone())?;
/// let lower = Dbn::new(vec![Rbm::random(8, 6, 0.5, 0.0, 1)?])?;
/// let config = LabelledConfig::default().n_hidden(5).batch_size(10).epochs(5);
/// let net = train_labelled_top(&lower, &data, 2, &config, 3, |_| {})?;
/// assert_eq!(net.sizes(), vec![8, 6, 5]);
/// assert_eq!(net.predict(data.features())?.len(), 60);
/// # Ok::<(), boltzmann::Error>(())
/// ```
pub fn train_labelled_top(
    lower: &Dbn,
    data: &Dataset,
    n_labels: usize,
    config: &crate::train::labelled::LabelledConfig,
    seed: u64,
    on_epoch: impl FnMut(usize),
) -> Result<crate::model::LabelledDbn> {
    lower.check_data(data)?;
    let labels = data
        .labels()
        .ok_or_else(|| Error::InvalidParam { name: "labels", reason: "the data set has no labels".into() })?;
    let l = lower.depth();
    let x = lower.recognize(data.features(), l, seed)?;
    let below = Dataset::new(x, lower.top().n_hidden())?.with_labels(labels.to_vec())?;
    let top = crate::train::labelled::fit_labelled(&below, n_labels, config, on_epoch)?;
    crate::model::LabelledDbn::new(lower.clone(), top)
}

/// Settings of [`up_down`].
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq)]
pub struct UpDownConfig {
    /// Passes over the data (default 10).
    pub epochs: usize,
    /// Learning rate of every update (default 0.001).
    pub learning_rate: f32,
    /// Gibbs steps of the top-level CD (default 3).
    pub k: usize,
    /// Mini-batch size (default 100).
    pub batch_size: usize,
    /// Seed of the samples and shuffles (default 0).
    pub seed: u64,
}

setters!(UpDownConfig { epochs: usize, learning_rate: f32, k: usize, batch_size: usize, seed: u64 });

impl Default for UpDownConfig {
    fn default() -> Self {
        UpDownConfig { epochs: 10, learning_rate: 0.001, k: 3, batch_size: 100, seed: 0 }
    }
}

/// Up-down fine-tuning, the contrastive wake-sleep algorithm of Hinton,
/// Osindero & Teh (2006, appendix B), starting from a greedily trained
/// `dbn` whose recognition and generative weights are then untied. Per
/// mini-batch:
///
/// 1. *up*: binary states `sˡ⁺¹ ~ σ(sˡRₗ + rₗ)` with the recognition weights
///    from `s⁰ = v` to the top RBM's visible layer;
/// 2. *top*: CD-k on the top RBM from that state;
/// 3. *down*: from the top chain's final visible state, binary states
///    `dˡ ~ σ(dˡ⁺¹Gₗᵀ + bₗ)` with the generative weights down to `d⁰`;
/// 4. generative weights learn to reconstruct the up states
///    (`ΔGₗ ∝ (sˡ − σ(sˡ⁺¹Gₗᵀ + bₗ))ᵀ sˡ⁺¹`), recognition weights to
///    recognise the down states (`ΔRₗ ∝ dˡᵀ (dˡ⁺¹ − σ(dˡRₗ + rₗ))`).
///
/// Calls `on_epoch(epoch)` (from 1) after every epoch. The result is the
/// same for any thread count.
///
/// # Errors
/// [`Error::InvalidParam`] for a one-layer `dbn` (nothing to untie), bad
/// settings or an empty data set; [`Error::NotBinary`], [`Error::ShapeMismatch`]
/// for data that does not fit; [`Error::NonFinite`] if it diverges.
pub fn up_down(
    dbn: &Dbn,
    data: &Dataset,
    config: &UpDownConfig,
    mut on_epoch: impl FnMut(usize),
) -> Result<UntiedDbn> {
    use crate::rng;
    let bad = |name: &'static str, reason: String| Error::InvalidParam { name, reason };
    if dbn.depth() < 2 {
        return Err(bad("dbn", "up-down needs at least two layers".into()));
    }
    dbn.check_data(data)?;
    let c = config;
    for (name, value) in [("epochs", c.epochs), ("k", c.k), ("batch_size", c.batch_size)] {
        if value == 0 {
            return Err(bad(name, "must be ≥ 1".into()));
        }
    }
    if !(c.learning_rate.is_finite() && c.learning_rate > 0.0) {
        return Err(bad("learning_rate", format!("{} must be finite and > 0", c.learning_rate)));
    }
    let depth = dbn.depth();
    let gen_layers = &dbn.layers()[..depth - 1];
    let mut params = UpDownParams::new(dbn);
    let sizes = dbn.sizes();
    let bs = c.batch_size.min(data.len());
    let mut streams = rng::chain_streams(rng::derive(c.seed, rng::Purpose::UpDownChains), bs)?;
    let mut order: Vec<u32> = (0..data.len() as u32).collect();
    let mut shuffle =
        rng::to_generator(rng::chain_streams(rng::derive(c.seed, rng::Purpose::UpDownOrder), 1)?[0]);
    for epoch in 0..c.epochs {
        shuffle_indices(&mut order, &mut shuffle);
        for idx in order.chunks(bs) {
            let batch: Vec<f32> = idx.iter().flat_map(|&i| data.row(i as usize).iter().copied()).collect();
            let scale = c.learning_rate / idx.len() as f32;
            params.batch(batch, &sizes, c.k, &mut streams[..idx.len()], scale)?;
            params.check_finite()?;
        }
        on_epoch(epoch + 1);
    }
    // Generative lower layers keep their (unused) hidden biases; recognition
    // layers carry the generative visible biases (unused, and what a file
    // stores for them).
    let UpDownParams { generative: gen_p, rec, tw, tb, tc } = params;
    let mut g_layers = Vec::with_capacity(depth);
    let mut r_layers = Vec::with_capacity(depth - 1);
    for (l, ((gw, gb), (rw, rc))) in gen_p.into_iter().zip(rec).enumerate() {
        let base = &gen_layers[l];
        r_layers.push(Rbm::new(sizes[l], sizes[l + 1], rw, gb.clone(), rc)?);
        g_layers.push(Rbm::new(sizes[l], sizes[l + 1], gw, gb, base.hidden_bias().to_vec())?);
    }
    g_layers.push(Rbm::new(sizes[depth - 1], sizes[depth], tw, tb, tc)?);
    UntiedDbn::new(Dbn::new(g_layers)?, r_layers)
}

/// The parameters up-down fine-tuning changes, as plain vectors:
/// generative `(W, b)` and recognition `(W, c)` of every layer below the
/// top, and the top RBM.
struct UpDownParams {
    generative: Vec<(Vec<f32>, Vec<f32>)>,
    rec: Vec<(Vec<f32>, Vec<f32>)>,
    tw: Vec<f32>,
    tb: Vec<f32>,
    tc: Vec<f32>,
}

impl UpDownParams {
    fn new(dbn: &Dbn) -> UpDownParams {
        let (below, top) = dbn.layers().split_at(dbn.depth() - 1);
        let top = &top[0];
        UpDownParams {
            generative: below.iter().map(|r| (r.weights().to_vec(), r.visible_bias().to_vec())).collect(),
            rec: below.iter().map(|r| (r.weights().to_vec(), r.hidden_bias().to_vec())).collect(),
            tw: top.weights().to_vec(),
            tb: top.visible_bias().to_vec(),
            tc: top.hidden_bias().to_vec(),
        }
    }

    /// One mini-batch (`m` rows of `batch`): up pass, CD-k in the top RBM,
    /// down pass, then the wake-sleep and CD updates scaled by `scale`.
    fn batch(
        &mut self,
        batch: Vec<f32>,
        sizes: &[usize],
        k: usize,
        st: &mut [crate::rng::StreamState],
        scale: f32,
    ) -> Result<()> {
        let (m, depth) = (st.len(), sizes.len() - 1);
        // 1. Up.
        let mut up = vec![batch];
        for (l, (w, r)) in self.rec.iter().enumerate() {
            let p = sigmoid_probs(&up[l], w, r, m, sizes[l], sizes[l + 1], false)?;
            up.push(sample_bits(st, &p, sizes[l + 1])?);
        }
        // 2. CD-k on the top RBM from the up state.
        let (nv, nh) = (sizes[depth - 1], sizes[depth]);
        let vpos = up[depth - 1].clone();
        let ppos = sigmoid_probs(&vpos, &self.tw, &self.tc, m, nv, nh, false)?;
        let mut hs = sample_bits(st, &ppos, nh)?;
        let (mut vneg, mut pneg) = (Vec::new(), Vec::new());
        for s in 0..k {
            let pv = sigmoid_probs(&hs, &self.tw, &self.tb, m, nh, nv, true)?;
            vneg = sample_bits(st, &pv, nv)?;
            pneg = sigmoid_probs(&vneg, &self.tw, &self.tc, m, nv, nh, false)?;
            if s + 1 < k {
                hs = sample_bits(st, &pneg, nh)?;
            }
        }
        // 3. Down from the top chain's visible state.
        let mut down = vec![Vec::new(); depth];
        down[depth - 1] = vneg.clone();
        for l in (0..depth - 1).rev() {
            let (w, b) = &self.generative[l];
            let p = sigmoid_probs(&down[l + 1], w, b, m, sizes[l + 1], sizes[l], true)?;
            down[l] = sample_bits(st, &p, sizes[l])?;
        }
        // 4. Updates. Top: CD statistics.
        add_outer(&mut self.tw, &vpos, &ppos, m, nv, nh, scale)?;
        add_outer(&mut self.tw, &vneg, &pneg, m, nv, nh, -scale)?;
        add_rows(&mut self.tb, &vpos, nv, scale);
        add_rows(&mut self.tb, &vneg, nv, -scale);
        add_rows(&mut self.tc, &ppos, nh, scale);
        add_rows(&mut self.tc, &pneg, nh, -scale);
        for l in 0..depth - 1 {
            // Generative: reconstruct up state l from up state l + 1.
            let (w, b) = &mut self.generative[l];
            let pred = sigmoid_probs(&up[l + 1], w, b, m, sizes[l + 1], sizes[l], true)?;
            let err: Vec<f32> = up[l].iter().zip(&pred).map(|(s, p)| s - p).collect();
            add_outer(w, &err, &up[l + 1], m, sizes[l], sizes[l + 1], scale)?;
            add_rows(b, &err, sizes[l], scale);
            // Recognition: recognise down state l + 1 from down state l.
            let (w, r) = &mut self.rec[l];
            let q = sigmoid_probs(&down[l], w, r, m, sizes[l], sizes[l + 1], false)?;
            let err: Vec<f32> = down[l + 1].iter().zip(&q).map(|(s, q)| s - q).collect();
            add_outer(w, &down[l], &err, m, sizes[l], sizes[l + 1], scale)?;
            add_rows(r, &err, sizes[l + 1], scale);
        }
        Ok(())
    }

    fn check_finite(&self) -> Result<()> {
        let mut all = self
            .generative
            .iter()
            .chain(&self.rec)
            .flat_map(|(w, b)| w.iter().chain(b))
            .chain(&self.tw)
            .chain(&self.tb)
            .chain(&self.tc);
        match all.position(|x| !x.is_finite()) {
            Some(i) => Err(Error::NonFinite {
                what: "up-down parameters (diverged; lower the learning rate)",
                index: i,
            }),
            None => Ok(()),
        }
    }
}

/// `σ(x·W + bias)` (`x`: `m × a`, `W`: `a × b`) or, `transposed`,
/// `σ(x·Wᵀ + bias)` (`W`: `b × a`).
fn sigmoid_probs(
    x: &[f32],
    w: &[f32],
    bias: &[f32],
    m: usize,
    a: usize,
    b: usize,
    transposed: bool,
) -> Result<Vec<f32>> {
    use crate::kernels::gemm;
    let mut out = vec![0.0f32; m * b];
    if transposed {
        gemm::par_gemm_nt(m, a, b, x, w, &mut out, 256)?;
    } else {
        gemm::par_gemm_nn(m, a, b, x, w, &mut out, 256)?;
    }
    for row in out.chunks_exact_mut(b) {
        for (o, &c) in row.iter_mut().zip(bias) {
            *o = 1.0 / (1.0 + (-(*o + c)).exp());
        }
    }
    Ok(out)
}

/// Binary samples of the probabilities `p` (rows of `n`), one stream per row.
fn sample_bits(streams: &mut [crate::rng::StreamState], p: &[f32], n: usize) -> Result<Vec<f32>> {
    let mut u = vec![0.0f32; p.len()];
    crate::rng::fill_uniform(streams, n, &mut u)?;
    Ok(p.iter().zip(&u).map(|(&p, &u)| (u < p) as u8 as f32).collect())
}

/// `W += scale · Aᵀ·B` (`A`: `m × na`, `B`: `m × nb`).
fn add_outer(w: &mut [f32], a: &[f32], b: &[f32], m: usize, na: usize, nb: usize, scale: f32) -> Result<()> {
    let mut g = vec![0.0f32; na * nb];
    crate::kernels::gemm::par_gemm_tn(na, m, nb, a, b, &mut g, 256)?;
    w.iter_mut().zip(&g).for_each(|(w, g)| *w += scale * g);
    Ok(())
}

/// `bias += scale · (sum of the rows of d)`, row by row.
fn add_rows(bias: &mut [f32], d: &[f32], n: usize, scale: f32) {
    for row in d.chunks_exact(n) {
        bias.iter_mut().zip(row).for_each(|(b, x)| *b += scale * x);
    }
}
