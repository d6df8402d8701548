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
use crate::error::{Error, Result};
use crate::model::Dbn;
use crate::model::dbn::tied_layer;

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
/// let layer = |h| TrainConfig { n_hidden: h, batch_size: 10, epochs: 2, ..TrainConfig::default() };
/// let config = DbnConfig { layers: vec![layer(4), layer(3)], tied_init: false, seed: 1, propagate: Propagate::Samples };
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
