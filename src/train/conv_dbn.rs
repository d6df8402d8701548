//! Greedy training of a convolutional DBN an epoch at a time, so that a
//! multi-layer run can be saved after every epoch and resumed bit-exactly
//! (`io::save_conv_dbn_checkpoint`), as a single-layer run can with
//! [`ConvTrainer`].
//!
//! The layers are trained as [`super::conv::train_conv_dbn`] trains them
//! (it runs a [`ConvDbnTrainer`] to the end): layer 1 on the data, layer
//! `l + 1` on binary samples of layer `l`'s pooling units given the
//! up-pass probabilities, drawn from streams of `rng::derive(seed of layer
//! l, ConvLayers)`. A layer's input is a deterministic function of the data
//! and the finished layers, so a checkpoint holds the finished layers and
//! the current layer's [`ConvTrainState`], not the input itself: resuming
//! recomputes it and checks it against the fingerprint in that state.

use super::conv::{ConvEpochReport, ConvTrainConfig, ConvTrainState, ConvTrainer, ImageShape, layer_shapes};
use crate::data::{Dataset, Fingerprint};
use crate::error::{Error, Result};
use crate::model::{ConvDbn, ConvRbm};
use crate::rng;
use rayon::prelude::*;

/// Everything a greedy convolutional-DBN run needs to continue exactly where
/// it stopped: every layer's settings, the data's image shape and
/// fingerprint, the finished layers and the current layer's state.
#[derive(Debug, Clone, PartialEq)]
pub struct ConvDbnTrainState {
    /// Settings of every layer, bottom first.
    pub configs: Vec<ConvTrainConfig>,
    /// `(height, width, channels)` of the data's images.
    pub image: ImageShape,
    /// Fingerprint of the data of layer 1.
    pub data: Fingerprint,
    /// The finished layers, bottom first (fewer than `configs`).
    pub done: Vec<ConvRbm>,
    /// The state of layer `done.len() + 1`, on its input.
    pub current: ConvTrainState,
}

/// A greedy convolutional-DBN run (see the [module documentation](self)).
///
/// # Examples
/// ```
/// use boltzmann::data::Dataset;
/// use boltzmann::train::conv::{ConvTrainConfig, train_conv_dbn};
/// use boltzmann::train::conv_dbn::ConvDbnTrainer;
/// let x: Vec<f32> = (0..40 * 144).map(|i| (((i % 12) + i / 144) % 4 == 0) as u8 as f32).collect();
/// let data = Dataset::new(x, 144)?; // 40 images of 12 × 12
/// let one = ConvTrainConfig::default().filters(4).filter_size(5).pool(2).epochs(2).batch_size(10).chains(10);
/// let cfgs = [one.clone(), one.filters(3).filter_size(3)];
/// // Three epochs, a checkpoint (here: a clone of the state), the rest.
/// let mut t = ConvDbnTrainer::new(&data, (12, 12, 1), &cfgs)?;
/// for _ in 0..3 {
///     t.run_epoch(&data)?;
/// }
/// assert_eq!(t.layer(), 2);
/// let mut resumed = ConvDbnTrainer::resume(t.state(), &data)?;
/// while !resumed.is_done() {
///     resumed.run_epoch(&data)?;
/// }
/// let whole = train_conv_dbn(&data, (12, 12, 1), &cfgs, |_, _| {})?;
/// assert_eq!(resumed.into_model()?, whole);
/// # Ok::<(), boltzmann::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct ConvDbnTrainer {
    configs: Vec<ConvTrainConfig>,
    image: ImageShape,
    data: Fingerprint,
    done: Vec<ConvRbm>,
    current: ConvTrainer,
    /// The current layer's input; `None` for layer 1 (the data itself).
    input: Option<Dataset>,
}

impl ConvDbnTrainer {
    /// A new run of the stack `configs` on `data` (images of shape `image`);
    /// every layer's geometry is checked first ([`layer_shapes`]).
    ///
    /// # Errors
    /// As [`layer_shapes`] and [`ConvTrainer::new`].
    pub fn new(data: &Dataset, image: ImageShape, configs: &[ConvTrainConfig]) -> Result<ConvDbnTrainer> {
        layer_shapes(image, configs)?;
        Ok(ConvDbnTrainer {
            current: ConvTrainer::new(data, image, &configs[0])?,
            configs: configs.to_vec(),
            image,
            data: data.fingerprint(),
            done: Vec::new(),
            input: None,
        })
    }

    /// Continues a saved run on the same data: the finished layers' inputs
    /// are recomputed from `data`, and the current layer resumes on its
    /// input ([`ConvTrainer::resume`] checks it against its fingerprint).
    ///
    /// # Errors
    /// [`Error::InvalidParam`] when `data` is not the run's data, the
    /// finished layers do not have their settings' shapes, or the current
    /// state is not the next layer's; as [`ConvTrainer::resume`].
    pub fn resume(state: ConvDbnTrainState, data: &Dataset) -> Result<ConvDbnTrainer> {
        let shapes = layer_shapes(state.image, &state.configs)?;
        let bad = |reason: &str| Error::InvalidParam { name: "checkpoint", reason: reason.into() };
        if data.fingerprint() != state.data {
            return Err(Error::InvalidParam {
                name: "data",
                reason: "not the data this run was trained on (rows, size or contents differ)".into(),
            });
        }
        let l = state.done.len();
        if l >= state.configs.len() {
            return Err(bad("no layer left to train"));
        }
        let done_ok = state
            .done
            .iter()
            .zip(&state.configs)
            .zip(&shapes)
            .all(|((m, c), s)| m.shape() == *s && m.visible_units() == c.visible);
        if !done_ok {
            return Err(bad("a finished layer does not match its settings"));
        }
        // The current layer's settings may differ from the stack's only in
        // `epochs` (a resume may extend the run).
        if state.current.config.clone().epochs(state.configs[l].optim.epochs) != state.configs[l] {
            return Err(bad("the current layer's settings are not the stack's"));
        }
        let mut input: Option<Dataset> = None;
        for (m, c) in state.done.iter().zip(&state.configs) {
            input = Some(layer_input(input.as_ref().unwrap_or(data), m, c)?);
        }
        let current = ConvTrainer::resume(state.current, input.as_ref().unwrap_or(data))?;
        Ok(ConvDbnTrainer {
            configs: state.configs,
            image: state.image,
            data: state.data,
            done: state.done,
            current,
            input,
        })
    }

    /// The layer being trained, from 1.
    pub fn layer(&self) -> usize {
        self.done.len() + 1
    }

    /// Whether every epoch of every layer has run.
    pub fn is_done(&self) -> bool {
        self.layer() == self.configs.len() && self.current.is_done()
    }

    /// One epoch of the current layer; when that finishes the layer (and it
    /// is not the last), the next layer's input is drawn and its run set up.
    /// Returns the layer (from 1) and its epoch report.
    ///
    /// # Errors
    /// As [`ConvTrainer::run_epoch`] (`data` must be the run's data).
    pub fn run_epoch(&mut self, data: &Dataset) -> Result<(usize, ConvEpochReport)> {
        let layer = self.layer();
        let input = self.input.as_ref().unwrap_or(data);
        let report = self.current.run_epoch(input)?;
        if self.current.is_done() && layer < self.configs.len() {
            let m = self.current.model().clone();
            let next = layer_input(input, &m, &self.configs[layer - 1])?;
            let s = m.shape();
            let shape = (s.hidden_height() / s.pool, s.hidden_width() / s.pool, s.filters);
            self.current = ConvTrainer::new(&next, shape, &self.configs[layer])?;
            self.done.push(m);
            self.input = Some(next);
        }
        Ok((layer, report))
    }

    /// The state to save.
    pub fn state(&self) -> ConvDbnTrainState {
        ConvDbnTrainState {
            configs: self.configs.clone(),
            image: self.image,
            data: self.data,
            done: self.done.clone(),
            current: self.current.state(),
        }
    }

    /// The stack so far: the finished layers and the current one.
    ///
    /// # Errors
    /// As [`ConvDbn::new`] (not for a stack built by this trainer).
    pub fn into_model(self) -> Result<ConvDbn> {
        let mut layers = self.done;
        layers.push(self.current.into_model());
        ConvDbn::new(layers)
    }
}

/// The input of the layer above `m` (trained with `c` on `input`): binary
/// samples of its pooling units given the up-pass probabilities, image `i`
/// drawing from stream `i` of `derive(c.seed, ConvLayers)`.
pub(crate) fn layer_input(input: &Dataset, m: &ConvRbm, c: &ConvTrainConfig) -> Result<Dataset> {
    let np = m.shape().n_pooled();
    let mut p = crate::alloc::try_vec(input.len() * np, 0.0f32, "pooling probabilities")?;
    m.hidden_probs(input.features(), &mut [], &mut p)?;
    let mut streams = rng::chain_streams(rng::derive(c.seed, rng::Purpose::ConvLayers), input.len())?;
    p.par_chunks_mut(np).zip(streams.par_iter_mut()).try_for_each(|(row, st)| -> Result<()> {
        let mut u = vec![0.0f32; np];
        rng::fill_uniform(std::slice::from_mut(st), np, &mut u)?;
        row.iter_mut().zip(&u).for_each(|(x, &u)| *x = if u < *x { 1.0 } else { 0.0 });
        Ok(())
    })?;
    Dataset::new(p, np)
}
