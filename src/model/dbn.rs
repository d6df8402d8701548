//! Deep Belief Networks (Hinton, Osindero & Teh 2006).
//!
//! A DBN with layers `v = h⁰, h¹, …, hᴸ` is a stack of `L` RBMs: RBM `l`
//! (1-based) connects `hˡ⁻¹` (its visible units) to `hˡ` (its hidden
//! units). The top two layers form an undirected RBM; below it the network
//! is directed, top-down:
//!
//! `p(v, h¹, …, hᴸ) = p(hᴸ⁻¹, hᴸ) · Πₗ₌₁ᴸ⁻¹ p(hˡ⁻¹ | hˡ)`,
//! `p(hˡ⁻¹ | hˡ) = σ(Wₗ hˡ + bₗ)` (RBM `l`'s visible conditional).
//!
//! The recognition distribution used to train the next layer and to bound
//! `log p(v)` is `Q(hˡ | hˡ⁻¹) = σ(Wₗᵀ hˡ⁻¹ + cₗ)` (RBM `l`'s hidden
//! conditional). A one-layer DBN is its RBM.
//!
//! [`Dbn`] holds the layers and does the feature pass ([`Dbn::transform`]),
//! stochastic recognition ([`Dbn::recognize`]) and generative sampling
//! ([`Dbn::sample`]: Gibbs in the top RBM, then one ancestral pass down).
//! Training is in [`crate::train::dbn`], the variational bound in
//! [`crate::eval::dbn`], files in `io::save_dbn` / `io::load_dbn`.

use crate::error::{Error, Result};
use crate::kernels::mul_dims;
use crate::model::{LabelledRbm, Rbm};
use crate::rng;
use crate::sampler::Chains;

/// A stack of RBMs whose sizes chain (`layers[l].n_hidden() ==
/// layers[l + 1].n_visible()`), bottom first.
///
/// # Examples
/// ```
/// use boltzmann::{Rbm, model::Dbn};
/// let dbn = Dbn::new(vec![Rbm::random(16, 8, 0.1, 0.0, 1)?, Rbm::random(8, 4, 0.1, 0.0, 2)?])?;
/// assert_eq!(dbn.sizes(), vec![16, 8, 4]);
/// let samples = dbn.sample(10, 50, 7)?;
/// assert_eq!(samples.visible.len(), 10 * 16);
/// let features = dbn.transform(&samples.visible, 2)?;
/// assert_eq!(features.len(), 10 * 4);
/// # Ok::<(), boltzmann::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Dbn {
    layers: Vec<Rbm>,
}

/// Samples from [`Dbn::sample`]: binary visible states and the bottom
/// layer's probabilities `p(v = 1 | h¹)` they were drawn from (smoother for
/// pictures), both `n × D`.
#[derive(Debug, Clone, PartialEq)]
pub struct DbnSamples {
    /// Binary visible states.
    pub visible: Vec<f32>,
    /// `p(v = 1 | h¹)` of each sample.
    pub visible_probs: Vec<f32>,
}

impl Dbn {
    /// A DBN from its layers, bottom first.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] for an empty stack, [`Error::ShapeMismatch`]
    /// when a layer's visible units are not the hidden units below it.
    pub fn new(layers: Vec<Rbm>) -> Result<Dbn> {
        if layers.is_empty() {
            return Err(Error::InvalidParam {
                name: "layers",
                reason: "a DBN needs at least one layer".into(),
            });
        }
        for (l, pair) in layers.windows(2).enumerate() {
            if pair[1].n_visible() != pair[0].n_hidden() {
                return Err(Error::ShapeMismatch {
                    what: layer_name(l + 1),
                    expected: pair[0].n_hidden(),
                    got: pair[1].n_visible(),
                });
            }
        }
        Ok(Dbn { layers })
    }

    /// Adds a layer on top.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] if its visible units are not the top's
    /// hidden units.
    pub fn push(&mut self, rbm: Rbm) -> Result<()> {
        let top = self.top().n_hidden();
        if rbm.n_visible() != top {
            return Err(Error::ShapeMismatch {
                what: layer_name(self.layers.len()),
                expected: top,
                got: rbm.n_visible(),
            });
        }
        self.layers.push(rbm);
        Ok(())
    }

    /// The layers, bottom first.
    pub fn layers(&self) -> &[Rbm] {
        &self.layers
    }

    /// The layers, bottom first, by value.
    pub fn into_layers(self) -> Vec<Rbm> {
        self.layers
    }

    /// Number of RBMs `L`.
    pub fn depth(&self) -> usize {
        self.layers.len()
    }

    /// Visible units `D`.
    pub fn n_visible(&self) -> usize {
        self.layers[0].n_visible()
    }

    /// Layer widths `[D, H¹, …, Hᴸ]`.
    pub fn sizes(&self) -> Vec<usize> {
        std::iter::once(self.n_visible()).chain(self.layers.iter().map(Rbm::n_hidden)).collect()
    }

    /// The top RBM.
    pub fn top(&self) -> &Rbm {
        self.layers.last().expect("a DBN has at least one layer")
    }

    /// Checks that `data` can be modelled: binary, non-empty rows of `D`.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`], [`Error::InvalidParam`] (no examples),
    /// [`Error::NotBinary`].
    pub fn check_data(&self, data: &crate::data::Dataset) -> Result<()> {
        if data.dim() != self.n_visible() {
            return Err(Error::ShapeMismatch {
                what: "data features (DBN n_visible)",
                expected: self.n_visible(),
                got: data.dim(),
            });
        }
        if data.is_empty() {
            return Err(Error::InvalidParam { name: "data", reason: "no examples".into() });
        }
        data.check_binary()
    }

    fn rows_of(&self, x: &[f32]) -> Result<usize> {
        let d = self.n_visible();
        let n = x.len() / d;
        crate::kernels::check_len("input (rows × n_visible)", mul_dims("input", n, d)?, x.len())?;
        Ok(n)
    }

    fn check_layer(&self, layer: usize) -> Result<()> {
        if layer > self.depth() {
            return Err(Error::InvalidParam {
                name: "layer",
                reason: format!("{layer} is above the top layer ({})", self.depth()),
            });
        }
        Ok(())
    }

    /// Posterior means passed up to `layer` (0 = the input itself):
    /// `μ⁰ = x`, `μˡ = σ(Wₗᵀ μˡ⁻¹ + cₗ)` — the deterministic features of the
    /// rows of `x` (`n × D`), `n × Hˡ`.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] if `x` is not rows of `D`,
    /// [`Error::InvalidParam`] for a layer above the top, [`Error::NonFinite`].
    pub fn transform(&self, x: &[f32], layer: usize) -> Result<Vec<f32>> {
        self.check_layer(layer)?;
        let n = self.rows_of(x)?;
        let mut cur = x.to_vec();
        for rbm in &self.layers[..layer] {
            let mut next =
                crate::alloc::try_vec(mul_dims("features", n, rbm.n_hidden())?, 0.0f32, "features")?;
            rbm.hidden_probs(&cur, &mut next)?;
            cur = next;
        }
        Ok(cur)
    }

    /// Binary samples of the recognition distribution up to `layer`:
    /// `hˡ ~ Q(hˡ | hˡ⁻¹)` layer by layer from `h⁰ = x`, each row with its own
    /// stream from `seed` (thread-count independent). Used to train the next
    /// layer greedily on samples.
    ///
    /// # Errors
    /// As [`Dbn::transform`].
    pub fn recognize(&self, x: &[f32], layer: usize, seed: u64) -> Result<Vec<f32>> {
        self.check_layer(layer)?;
        let n = self.rows_of(x)?;
        let mut streams = rng::chain_streams(seed, n)?;
        let mut cur = x.to_vec();
        for rbm in &self.layers[..layer] {
            let mut p = crate::alloc::try_vec(mul_dims("samples", n, rbm.n_hidden())?, 0.0f32, "samples")?;
            rbm.hidden_probs(&cur, &mut p)?;
            bernoulli_in_place(&mut streams, rbm.n_hidden(), &mut p)?;
            cur = p;
        }
        Ok(cur)
    }

    /// `n` samples of `p(v)`: `n` Gibbs chains in the top RBM, started from
    /// uniform states and run `sweeps` sweeps (with kept products,
    /// [`Chains::sweep_incremental`]), then one ancestral pass down,
    /// `hˡ⁻¹ ~ p(hˡ⁻¹ | hˡ)`. Streams from `seed`; the same samples for any
    /// thread count. For a one-layer DBN this is Gibbs sampling of its RBM.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] for `n = 0` and sizes that do not fit in
    /// memory.
    pub fn sample(&self, n: usize, sweeps: usize, seed: u64) -> Result<DbnSamples> {
        let top = self.top();
        let mut chains = Chains::new(top, n, seed)?;
        chains.sweep_incremental(top, sweeps)?;
        let mut streams = rng::chain_streams(rng::derive(seed, rng::Purpose::DbnSampling), n)?;
        let mut h = chains.visible().to_vec();
        let mut probs = Vec::new();
        if self.depth() == 1 {
            probs = crate::alloc::try_vec(mul_dims("samples", n, top.n_visible())?, 0.0f32, "samples")?;
            top.visible_probs(chains.hidden(), &mut probs)?;
        }
        for rbm in self.layers[..self.depth() - 1].iter().rev() {
            probs = crate::alloc::try_vec(mul_dims("samples", n, rbm.n_visible())?, 0.0f32, "samples")?;
            rbm.visible_probs(&h, &mut probs)?;
            h.clone_from(&probs);
            bernoulli_in_place(&mut streams, rbm.n_visible(), &mut h)?;
        }
        Ok(DbnSamples { visible: h, visible_probs: probs })
    }
}

/// A DBN whose lower layers have separate recognition weights (after
/// up-down fine-tuning, [`crate::train::dbn::up_down`]): `generative`
/// defines `p(v)` (its lower layers' `W` and visible biases, and its top
/// RBM); `recognition[l]` (same shape as layer `l`, its `W` and hidden
/// biases; its visible biases are not used) defines `Q(hˡ⁺¹ | hˡ)` for the
/// bound.
#[derive(Debug, Clone, PartialEq)]
pub struct UntiedDbn {
    generative: Dbn,
    recognition: Vec<Rbm>,
}

/// A stack of binary layers as the evaluation of a DBN sees it: the
/// generative network `p` (directed layers below an RBM top) and the
/// recognition layers that define the approximate posterior `Q(hˡ⁺¹ | hˡ)`
/// for the variational bound. A [`Dbn`] recognizes with its own generative
/// weights (tied); an [`UntiedDbn`] with separate ones. The bounds and exact
/// sums of [`crate::eval::dbn`] take any `LayerStack`.
pub trait LayerStack {
    /// The generative network (its last layer is the top RBM).
    fn generative(&self) -> &Dbn;
    /// The recognition layers, bottom first: one per layer below the top.
    fn recognition(&self) -> &[Rbm];
}

impl LayerStack for Dbn {
    fn generative(&self) -> &Dbn {
        self
    }
    fn recognition(&self) -> &[Rbm] {
        &self.layers()[..self.depth() - 1]
    }
}

impl LayerStack for UntiedDbn {
    fn generative(&self) -> &Dbn {
        &self.generative
    }
    fn recognition(&self) -> &[Rbm] {
        &self.recognition
    }
}

impl UntiedDbn {
    /// From the generative network and one recognition layer per layer
    /// below the top.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] if the counts or shapes differ.
    pub fn new(generative: Dbn, recognition: Vec<Rbm>) -> Result<Self> {
        if recognition.len() != generative.depth() - 1 {
            return Err(Error::ShapeMismatch {
                what: "recognition layers (one per layer below the top)",
                expected: generative.depth() - 1,
                got: recognition.len(),
            });
        }
        for (r, g) in recognition.iter().zip(generative.layers()) {
            if (r.n_visible(), r.n_hidden()) != (g.n_visible(), g.n_hidden()) {
                return Err(Error::ShapeMismatch {
                    what: "recognition layer size (n_visible·n_hidden of its generative layer)",
                    expected: g.n_visible() * g.n_hidden(),
                    got: r.n_visible() * r.n_hidden(),
                });
            }
        }
        Ok(UntiedDbn { generative, recognition })
    }

    /// The tied starting point: recognition = the generative lower layers.
    pub fn from_tied(dbn: Dbn) -> Self {
        let recognition = dbn.layers()[..dbn.depth() - 1].to_vec();
        UntiedDbn { generative: dbn, recognition }
    }

    /// The generative network.
    pub fn generative(&self) -> &Dbn {
        &self.generative
    }

    /// The recognition layers, bottom first.
    pub fn recognition(&self) -> &[Rbm] {
        &self.recognition
    }

    /// Both parts, by value.
    pub fn into_parts(self) -> (Dbn, Vec<Rbm>) {
        (self.generative, self.recognition)
    }

    /// Posterior means up to `layer` as [`Dbn::transform`], with the
    /// recognition weights below the top and the generative top RBM for the
    /// top layer itself.
    ///
    /// # Errors
    /// As [`Dbn::transform`].
    pub fn transform(&self, x: &[f32], layer: usize) -> Result<Vec<f32>> {
        self.upward().transform(x, layer)
    }

    /// Binary recognition samples up to `layer` as [`Dbn::recognize`], with
    /// the recognition weights (and the generative top RBM for the top).
    ///
    /// # Errors
    /// As [`Dbn::recognize`].
    pub fn recognize(&self, x: &[f32], layer: usize, seed: u64) -> Result<Vec<f32>> {
        self.upward().recognize(x, layer, seed)
    }

    /// The stack that passes data upward: recognition layers, then the top.
    fn upward(&self) -> Dbn {
        let layers =
            self.recognition.iter().cloned().chain(std::iter::once(self.generative.top().clone())).collect();
        Dbn { layers }
    }
}

/// A DBN whose top RBM also has a softmax group of label units (Hinton,
/// Osindero & Teh 2006, fig. 1: 784-500-500 directed layers under a
/// (500 + 10)-2000 top RBM). `lower` holds the directed layers (all of them
/// used as recognition weights upward and generative weights downward);
/// `top` is a [`LabelledRbm`] over the top of `lower` and the labels.
///
/// It classifies by free energy (`p(y | x)` from the posterior means of
/// `lower`, [`LabelledDbn::predict`]) and generates images of a chosen
/// label ([`LabelledDbn::sample_given_labels`]: Gibbs in the top RBM with
/// the label units clamped, then one ancestral pass down).
///
/// # Examples
/// ```
/// use boltzmann::{Rbm, model::{Dbn, LabelledDbn, LabelledRbm}};
/// let lower = Dbn::new(vec![Rbm::random(16, 8, 0.1, 0.0, 1)?])?;
/// let top = LabelledRbm::new(Rbm::random(8 + 3, 6, 0.1, 0.0, 2)?, 3)?;
/// let net = LabelledDbn::new(lower, top)?;
/// let s = net.sample_given_labels(&[0, 2], 20, 7)?;
/// assert_eq!(s.visible.len(), 2 * 16);
/// assert_eq!(net.predict(&s.visible)?.len(), 2);
/// # Ok::<(), boltzmann::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct LabelledDbn {
    lower: Dbn,
    top: LabelledRbm,
}

impl LabelledDbn {
    /// From the directed layers and the label-joined top RBM.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] if the top's feature units are not the
    /// width of `lower`'s top layer.
    pub fn new(lower: Dbn, top: LabelledRbm) -> Result<Self> {
        let width = lower.top().n_hidden();
        if top.n_features() != width {
            return Err(Error::ShapeMismatch {
                what: "label-joined top RBM feature units (the width of the layer below)",
                expected: width,
                got: top.n_features(),
            });
        }
        Ok(LabelledDbn { lower, top })
    }

    /// The directed layers, as a DBN (its top RBM is used only as a
    /// directed layer here).
    pub fn lower(&self) -> &Dbn {
        &self.lower
    }

    /// The label-joined top RBM.
    pub fn top(&self) -> &LabelledRbm {
        &self.top
    }

    /// Visible units `D`.
    pub fn n_visible(&self) -> usize {
        self.lower.n_visible()
    }

    /// Label units `K`.
    pub fn n_labels(&self) -> usize {
        self.top.n_labels()
    }

    /// Layer widths `[D, H¹, …, Hᴸ⁻¹, Hᴸ]`, the last being the top RBM's
    /// hidden units (the labels are not counted).
    pub fn sizes(&self) -> Vec<usize> {
        let mut s = self.lower.sizes();
        s.push(self.top.rbm().n_hidden());
        s
    }

    /// The posterior means of the top of `lower`: the input of the top RBM.
    ///
    /// # Errors
    /// As [`Dbn::transform`].
    pub fn features(&self, x: &[f32]) -> Result<Vec<f32>> {
        self.lower.transform(x, self.lower.depth())
    }

    /// `p(y | x)` for every row of `x`, with the features passed up as
    /// posterior means: `n × K`.
    ///
    /// # Errors
    /// As [`Dbn::transform`].
    pub fn label_probs(&self, x: &[f32]) -> Result<Vec<f64>> {
        self.top.label_probs(&self.features(x)?)
    }

    /// The most probable label of each row.
    ///
    /// # Errors
    /// As [`Dbn::transform`].
    pub fn predict(&self, x: &[f32]) -> Result<Vec<u8>> {
        self.top.predict(&self.features(x)?)
    }

    /// Fraction of rows whose predicted label differs from `labels`.
    ///
    /// # Errors
    /// As [`LabelledDbn::predict`], and [`Error::ShapeMismatch`] for a label
    /// count that is not the row count.
    pub fn error_rate(&self, x: &[f32], labels: &[u8]) -> Result<f64> {
        super::error_rate(&self.predict(x)?, labels)
    }

    /// One sample of `p(v | y)` per entry of `labels`: a chain in the top
    /// RBM with its label units clamped to the one-hot `y`, its feature
    /// units started uniform and run `sweeps` Gibbs sweeps, then one
    /// ancestral pass down through `lower`. Streams from `seed`; the same
    /// samples for any thread count.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] for no labels or a label not below `K`.
    pub fn sample_given_labels(&self, labels: &[u8], sweeps: usize, seed: u64) -> Result<DbnSamples> {
        let (k, n) = (self.n_labels(), labels.len());
        if n == 0 {
            return Err(Error::InvalidParam { name: "labels", reason: "no labels to sample".into() });
        }
        if let Some(i) = labels.iter().position(|&y| y as usize >= k) {
            return Err(Error::InvalidParam {
                name: "labels",
                reason: format!("label {} (entry {i}) is not below {k}", labels[i]),
            });
        }
        let rbm = self.top.rbm();
        let (v, h, d) = (rbm.n_visible(), rbm.n_hidden(), self.top.n_features());
        let mut streams = rng::chain_streams(seed, n)?;
        let mut x = crate::alloc::try_vec(mul_dims("chains", n, v)?, 0.0f32, "chains")?;
        rng::fill_uniform(&mut streams, v, &mut x)?;
        x.iter_mut().for_each(|u| *u = (*u < 0.5) as u8 as f32);
        let clamp = |x: &mut [f32]| {
            for (row, &y) in x.chunks_exact_mut(v).zip(labels) {
                row[d..].fill(0.0);
                row[d + y as usize] = 1.0;
            }
        };
        clamp(&mut x);
        let mut hid = crate::alloc::try_vec(mul_dims("chains", n, h)?, 0.0f32, "chains")?;
        for _ in 0..sweeps {
            rbm.hidden_probs(&x, &mut hid)?;
            bernoulli_in_place(&mut streams, h, &mut hid)?;
            rbm.visible_probs(&hid, &mut x)?;
            bernoulli_in_place(&mut streams, v, &mut x)?;
            clamp(&mut x);
        }
        let mut cur: Vec<f32> = x.chunks_exact(v).flat_map(|r| r[..d].iter().copied()).collect();
        let mut probs = Vec::new();
        for layer in self.lower.layers().iter().rev() {
            probs = crate::alloc::try_vec(mul_dims("samples", n, layer.n_visible())?, 0.0f32, "samples")?;
            layer.visible_probs(&cur, &mut probs)?;
            cur.clone_from(&probs);
            bernoulli_in_place(&mut streams, layer.n_visible(), &mut cur)?;
        }
        Ok(DbnSamples { visible: cur, visible_probs: probs })
    }
}

/// The tied layer that can go on top of `below`: its transpose, with the
/// biases swapped (`W' = Wᵀ`, `b' = c`, `c' = b`). A two-layer DBN
/// `[rbm, tied_layer(rbm)]` defines the same `p(v)` as `rbm` alone, and the
/// variational bound is tight for it — the starting point of Hinton et al.'s
/// argument that greedy stacking improves the bound.
///
/// # Errors
/// Only if the sizes do not fit in memory.
///
/// # Examples
/// ```
/// use boltzmann::{Rbm, model::dbn::tied_layer};
/// let rbm = Rbm::random(6, 3, 0.5, 0.1, 1)?;
/// let t = tied_layer(&rbm)?;
/// assert_eq!((t.n_visible(), t.n_hidden()), (3, 6));
/// assert_eq!(t.weights()[1 * 6 + 4], rbm.weights()[4 * 3 + 1]);
/// assert_eq!(t.hidden_bias(), rbm.visible_bias());
/// # Ok::<(), boltzmann::Error>(())
/// ```
pub fn tied_layer(below: &Rbm) -> Result<Rbm> {
    let (d, h) = (below.n_visible(), below.n_hidden());
    let w = below.weights();
    let mut t = crate::alloc::try_vec(mul_dims("weights", d, h)?, 0.0f32, "weights")?;
    for i in 0..d {
        for j in 0..h {
            t[j * d + i] = w[i * h + j];
        }
    }
    Rbm::new(h, d, t, below.hidden_bias().to_vec(), below.visible_bias().to_vec())
}

fn layer_name(l: usize) -> &'static str {
    // ShapeMismatch wants a static name; the layer index goes in the
    // variants below (layers beyond 8 share the generic name).
    const NAMES: [&str; 8] = [
        "layer 1 visible units (the data width)",
        "layer 2 visible units (hidden units of layer 1)",
        "layer 3 visible units (hidden units of layer 2)",
        "layer 4 visible units (hidden units of layer 3)",
        "layer 5 visible units (hidden units of layer 4)",
        "layer 6 visible units (hidden units of layer 5)",
        "layer 7 visible units (hidden units of layer 6)",
        "layer 8 visible units (hidden units of layer 7)",
    ];
    NAMES.get(l).copied().unwrap_or("layer visible units (hidden units of the layer below)")
}

/// Replaces each probability `p` of the rows (width `n`, one stream per
/// row) by a sample `u < p`.
pub(crate) fn bernoulli_in_place(streams: &mut [rng::StreamState], n: usize, p: &mut [f32]) -> Result<()> {
    let mut u = crate::alloc::try_vec(p.len(), 0.0f32, "uniforms")?;
    rng::fill_uniform(streams, n, &mut u)?;
    for (x, &u) in p.iter_mut().zip(&u) {
        *x = (u < *x) as u8 as f32;
    }
    Ok(())
}
