//! `boltzmann crbm train | sample | filters | classify | features | eval`: convolutional RBMs
//! with probabilistic max-pooling and their stacks (convolutional DBNs).

pub(crate) mod eval;

use crate::CliResult;
use crate::classifier::Scored;
use boltzmann::data::{Binarization, Dataset};
use boltzmann::io;
use boltzmann::model::{ConvDbn, ConvVisible};
use boltzmann::rng::{Purpose, derive};
use boltzmann::sampler::{ConvChains, ConvDbnChains};
use boltzmann::train::Schedule;
use boltzmann::train::conv::{ConvEpochReport, ConvTrainConfig, ConvTrainState, ConvTrainer, layer_shapes};
use boltzmann::train::conv_dbn::{ConvDbnTrainState, ConvDbnTrainer};
use clap::{Args, Subcommand};
use std::path::{Path, PathBuf};

#[derive(Subcommand, Debug)]
pub(crate) enum CrbmCmd {
    /// Train a convolutional RBM (embedded MNIST subset by default); writes
    /// OUT/model.safetensors, OUT/filters.png (and filtersL.png per higher
    /// layer), OUT/samples.png, and OUT/checkpoint.safetensors.
    Train(Box<CrbmTrainArgs>),
    /// Run Gibbs chains from random images and write a PNG grid of them.
    Sample(CrbmSampleArgs),
    /// Write a PNG grid of the filters (one tile per filter and channel;
    /// for layer 2 and up, each filter as a combination of layer-1 filters).
    Filters(CrbmFiltersArgs),
    /// Test error of softmax regression on the pooling features of one
    /// layer or several side by side, beside the same on the pixels.
    Classify(CrbmClassifyArgs),
    /// Write the pooling probabilities of a layer (or several side by side)
    /// for every image to a safetensors file (`features` [n, dim] f32, and
    /// `labels` [n] u8 when the data has labels).
    Features(CrbmFeaturesArgs),
    /// log Z of a one-layer binary convolutional RBM (exact up to 24
    /// pixels, else annealed importance sampling) and the average
    /// log-probability of test images.
    Eval(crate::crbm::eval::CrbmEvalArgs),
}

/// Options of `crbm features`.
#[derive(Args, Debug)]
pub(crate) struct CrbmFeaturesArgs {
    /// A convolutional RBM or DBN file.
    #[arg(long)]
    model: PathBuf,
    /// Layers whose pooling probabilities are the features, side by side
    /// (e.g. `1,2`; default: the top).
    #[arg(long, value_parser = crate::limits::count, value_delimiter = ',', num_args = 1)]
    layer: Option<Vec<usize>>,
    /// Images (IDX, AMAT, CSV without labels, NPY); default: the embedded
    /// training digits (with their labels).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Labels for IDX images (IDX).
    #[arg(long, requires = "data")]
    labels: Option<PathBuf>,
    /// Use only the first N images.
    #[arg(long, value_parser = crate::limits::count)]
    limit: Option<usize>,
    /// Binarize grey images: "threshold" (> 0.5), "threshold:T" or
    /// "stochastic" (values in [0,1] as probabilities).
    #[arg(long, conflicts_with = "grey")]
    binarize: Option<Binarization>,
    /// Read grey images as they are: values in [0, 1] are the visible
    /// units' probabilities (a mean-field up-pass).
    #[arg(long, requires = "data")]
    grey: bool,
    /// Seed (stochastic binarization).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    #[command(flatten)]
    threads: crate::limits::Threads,
    /// Output file.
    #[arg(long, default_value = "crbm-features.safetensors")]
    out: PathBuf,
}

/// Options of `crbm train`.
#[derive(Args, Debug)]
pub(crate) struct CrbmTrainArgs {
    /// Training images (IDX, AMAT, CSV without labels, NPY); default: the
    /// embedded binarized MNIST subset (10,000 digits).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Use only the first N images.
    #[arg(long, value_parser = crate::limits::count)]
    limit: Option<usize>,
    /// Binarize grey data: "threshold" (> 0.5), "threshold:T" or
    /// "stochastic" (values in [0,1] as probabilities).
    #[arg(long)]
    binarize: Option<Binarization>,
    /// Visible units of layer 1: bernoulli (binary images) or gaussian
    /// (real images, unit variance; the data are standardized per channel
    /// first, and the factors printed).
    #[arg(long, default_value = "bernoulli")]
    visible: String,
    /// Image shape HxWxC (channel last), e.g. 28x28x1; default: the data's
    /// own image shape (28 × 28 × 1 for MNIST files).
    #[arg(long)]
    image: Option<String>,
    /// Filters K, one value per layer (comma-separated; more than one value
    /// trains a convolutional DBN greedily).
    #[arg(long, value_parser = crate::limits::count, value_delimiter = ',', default_value = "24")]
    filters: Vec<usize>,
    /// Filter side r per layer (one value: the same for every layer).
    #[arg(long, value_parser = crate::limits::count, value_delimiter = ',', default_value = "9")]
    filter_size: Vec<usize>,
    /// Pooling block side P per layer (image side − r + 1 must be a
    /// multiple; one value: the same for every layer).
    #[arg(long, value_parser = crate::limits::count, value_delimiter = ',', default_value = "2")]
    pool: Vec<usize>,
    /// Epochs.
    #[arg(long, value_parser = crate::limits::epochs, default_value_t = 5)]
    epochs: usize,
    /// Images per update.
    #[arg(long, value_parser = crate::limits::count, default_value_t = 50)]
    batch: usize,
    /// Gibbs sweeps per update.
    #[arg(long, value_parser = crate::limits::k, default_value_t = 1)]
    k: usize,
    /// CD-k from the batch instead of persistent chains.
    #[arg(long)]
    cd: bool,
    /// Persistent chains (PCD).
    #[arg(long, value_parser = crate::limits::count, default_value_t = 100)]
    chains: usize,
    /// Learning rate at the first epoch.
    #[arg(long, allow_negative_numbers = true, default_value_t = 0.2)]
    lr: f32,
    /// Learning rate at the last epoch (linear decay; equal to --lr for a
    /// constant rate).
    #[arg(long, allow_negative_numbers = true, default_value_t = 0.02)]
    lr_final: f32,
    /// Momentum.
    #[arg(long, allow_negative_numbers = true, default_value_t = 0.5)]
    momentum: f32,
    /// L2 weight decay on the filters.
    #[arg(long, allow_negative_numbers = true, default_value_t = 1e-4)]
    l2: f32,
    /// Target mean activation of the detection units.
    #[arg(long, allow_negative_numbers = true, default_value_t = 0.02)]
    sparsity: f32,
    /// Strength of the sparsity term (0: off).
    #[arg(long, allow_negative_numbers = true, default_value_t = 0.1)]
    sparsity_cost: f32,
    /// Center the visible units on the data's mean per channel (the
    /// centered gradient of Melchior et al. 2016 with visible offsets; the
    /// model stays a plain convolutional RBM). Every layer of a stack.
    #[arg(long)]
    center_visible: bool,
    /// Continue the run saved in this checkpoint (written to
    /// OUT/checkpoint.safetensors after every epoch; for a stack it holds the
    /// finished layers and the current one): the same data, the
    /// checkpoint's settings (`--epochs` may extend the current layer and
    /// those above it).
    #[arg(long)]
    resume: Option<PathBuf>,
    /// Sweeps of the chains drawn for OUT/samples.png.
    #[arg(long, value_parser = crate::limits::steps, default_value_t = 1000)]
    sample_sweeps: usize,
    /// Seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    #[command(flatten)]
    threads: crate::limits::Threads,
    /// Output directory.
    #[arg(long, default_value = "crbm-out")]
    out: PathBuf,
    /// One JSON object per epoch and one at the end instead of text.
    #[arg(long)]
    json: bool,
}

/// Options of `crbm sample`.
#[derive(Args, Debug)]
pub(crate) struct CrbmSampleArgs {
    /// A convolutional RBM or DBN file (a DBN is sampled by joint Gibbs over
    /// all its layers, or with --down-sweeps as a DBN generates).
    #[arg(long)]
    model: PathBuf,
    /// Chains (tiles in the picture).
    #[arg(long, value_parser = crate::limits::count, default_value_t = 100)]
    chains: usize,
    /// Sweeps from uniformly random images.
    #[arg(long, value_parser = crate::limits::steps, default_value_t = 1000)]
    sweeps: usize,
    /// For a DBN: sample it as a DBN generates instead — `--sweeps` of the
    /// top layer's RBM alone, then this many sweeps of each layer below
    /// with its pooling units clamped to the maps from above (no prior
    /// counted twice, unlike joint Gibbs).
    #[arg(long, value_parser = crate::limits::steps)]
    down_sweeps: Option<usize>,
    /// Seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    #[command(flatten)]
    threads: crate::limits::Threads,
    /// Output PNG.
    #[arg(long, default_value = "crbm-samples.png")]
    out: PathBuf,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

/// Options of `crbm filters`.
#[derive(Args, Debug)]
pub(crate) struct CrbmFiltersArgs {
    /// A convolutional RBM or DBN file.
    #[arg(long)]
    model: PathBuf,
    /// Layer whose filters to draw (from 1).
    #[arg(long, value_parser = crate::limits::count, default_value_t = 1)]
    layer: usize,
    /// Output PNG.
    #[arg(long, default_value = "crbm-filters.png")]
    out: PathBuf,
}

/// Options of `crbm classify`.
#[derive(Args, Debug)]
pub(crate) struct CrbmClassifyArgs {
    /// A convolutional RBM or DBN file.
    #[arg(long)]
    model: PathBuf,
    /// Layers whose pooling probabilities are the features, side by side
    /// (e.g. `1,2`; default: the top).
    #[arg(long, value_parser = crate::limits::count, value_delimiter = ',', num_args = 1)]
    layer: Option<Vec<usize>>,
    /// Training images (IDX) with --labels; default: the embedded digits
    /// (10,000 train, 2,000 test).
    #[arg(long, requires_all = ["labels", "test_data", "test_labels"])]
    data: Option<PathBuf>,
    /// Training labels (IDX).
    #[arg(long)]
    labels: Option<PathBuf>,
    /// Test images (IDX).
    #[arg(long)]
    test_data: Option<PathBuf>,
    /// Test labels (IDX).
    #[arg(long)]
    test_labels: Option<PathBuf>,
    /// Use only the first N training images.
    #[arg(long, value_parser = crate::limits::count)]
    limit: Option<usize>,
    /// Binarize grey images: "threshold" (> 0.5), "threshold:T" or
    /// "stochastic" (values in [0,1] as probabilities).
    #[arg(long, conflicts_with = "grey")]
    binarize: Option<Binarization>,
    /// Read grey images as they are: each pixel's grey level in [0, 1] is
    /// the probability of its binary unit, and the features are the
    /// up-pass of those probabilities (no sampling noise in the inputs).
    #[arg(long, requires = "data")]
    grey: bool,
    #[command(flatten)]
    classifier: crate::classifier::ClassifierArgs,
    /// Seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    #[command(flatten)]
    threads: crate::limits::Threads,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(cmd: CrbmCmd) -> CliResult<()> {
    match cmd {
        CrbmCmd::Train(a) => crate::with_threads(a.threads.n, || train(&a)),
        CrbmCmd::Sample(a) => crate::with_threads(a.threads.n, || sample(&a)),
        CrbmCmd::Filters(a) => filters(&a),
        CrbmCmd::Classify(a) => crate::with_threads(a.threads.n, || classify(&a)),
        CrbmCmd::Features(a) => crate::with_threads(a.threads.n, || features(&a)),
        CrbmCmd::Eval(a) => crate::crbm::eval::run(&a),
    }
}

/// `layer` of `net`, or the message for `--layer`.
fn check_layer(net: &ConvDbn, layer: usize) -> CliResult<usize> {
    net.shape(layer)
        .map_err(|_| format!("--layer {layer}: the model has {} layer(s)", net.layers().len()))?;
    Ok(layer)
}

/// The network and layers whose features `command` reads: Gaussian-visible
/// models are refused (their files do not hold the standardization of the
/// training data); the layers default to the top one, and none may be
/// named twice.
fn feature_net(command: &str, path: &Path, layers: Option<&[usize]>) -> CliResult<(ConvDbn, Vec<usize>)> {
    let net = load_net(path)?;
    if net.layers()[0].visible_units() == ConvVisible::Gaussian {
        return Err(format!(
            "crbm {command}: Gaussian-visible models need the standardization of their training data, \
             which the model file does not hold; not supported"
        )
        .into());
    }
    let layers = layers.map_or_else(|| vec![net.layers().len()], <[usize]>::to_vec);
    for (i, &l) in layers.iter().enumerate() {
        check_layer(&net, l)?;
        if layers[..i].contains(&l) {
            return Err(format!("--layer: layer {l} named twice").into());
        }
    }
    Ok((net, layers))
}

/// A convolutional RBM file as a one-layer network, or a convolutional DBN.
fn load_net(path: &Path) -> CliResult<ConvDbn> {
    match io::ModelFile::load(path)? {
        io::ModelFile::ConvRbm(m) => Ok(ConvDbn::new(vec![m])?),
        io::ModelFile::ConvDbn(d) => Ok(d),
        other => Err(format!(
            "{}: holds a {:?}, expected a \"conv-rbm\" or \"conv-dbn\"",
            path.display(),
            other.kind()
        )
        .into()),
    }
}

/// `HxWxC` (or `HxW`, one channel).
fn parse_image(s: &str) -> CliResult<(usize, usize, usize)> {
    let parts: Vec<Option<usize>> = s.split(['x', 'X', '×']).map(|t| t.trim().parse().ok()).collect();
    match parts[..] {
        [Some(h), Some(w)] if h > 0 && w > 0 => Ok((h, w, 1)),
        [Some(h), Some(w), Some(c)] if h > 0 && w > 0 && c > 0 => Ok((h, w, c)),
        _ => Err(format!("--image {s:?}: use HxWxC with sizes ≥ 1, e.g. 28x28x1").into()),
    }
}

fn load_data_as(a: &CrbmTrainArgs, vis: ConvVisible) -> CliResult<(Dataset, String)> {
    let (d, name) = match &a.data {
        None => {
            if a.binarize.is_some() {
                return Err("--binarize applies to --data; the embedded MNIST subset is binary".into());
            }
            (io::embedded_mnist()?.train, "embedded binarized MNIST (10,000 digits)".to_string())
        }
        Some(p) => {
            // CSV rows are pixels only (no label column).
            let d = match io::Format::from_path(p) {
                Some(io::Format::Csv) => io::read_csv(p, io::CsvLabels::None, 1.0)?,
                f => io::read_dataset(p, f)?,
            };
            (binarize(d, a.binarize, a.seed)?, p.display().to_string())
        }
    };
    let d = match a.limit {
        Some(n) if n < d.len() => d.subset(0..n)?,
        _ => d,
    };
    if vis == ConvVisible::Bernoulli
        && let Err(e) = d.check_binary()
    {
        return Err(format!(
            "{name}: {e} (convolutional RBMs take binary images; add --binarize or --visible gaussian)"
        )
        .into());
    }
    Ok((d, name))
}

fn visible(a: &CrbmTrainArgs) -> CliResult<ConvVisible> {
    match a.visible.as_str() {
        "bernoulli" => Ok(ConvVisible::Bernoulli),
        "gaussian" => Ok(ConvVisible::Gaussian),
        v => Err(format!("--visible {v:?}: use bernoulli or gaussian").into()),
    }
}

/// `d` binarized as `--binarize` says (if given).
fn binarize(d: Dataset, how: Option<Binarization>, seed: u64) -> CliResult<Dataset> {
    Ok(match how {
        None => d,
        Some(how) => d.binarize(how, derive(seed, Purpose::Binarize))?,
    })
}

fn image_shape(a: &CrbmTrainArgs, d: &Dataset) -> CliResult<(usize, usize, usize)> {
    let shape = match (&a.image, d.image_shape()) {
        (Some(s), _) => parse_image(s)?,
        (None, Some((h, w))) => (h, w, 1),
        (None, None) => {
            return Err(format!("rows of {} values: give the image shape with --image HxWxC", d.dim()).into());
        }
    };
    if shape.0 * shape.1 * shape.2 != d.dim() {
        return Err(format!(
            "--image {}x{}x{} holds {} values, the data rows {}",
            shape.0,
            shape.1,
            shape.2,
            shape.0 * shape.1 * shape.2,
            d.dim()
        )
        .into());
    }
    Ok(shape)
}

/// One config per layer: the per-layer lists (one value is repeated) and
/// the shared options; layer `l`'s seed is `--seed + l − 1`.
fn configs(a: &CrbmTrainArgs) -> CliResult<Vec<ConvTrainConfig>> {
    let n = a.filters.len().max(a.filter_size.len()).max(a.pool.len());
    for (flag, v) in [("--filters", &a.filters), ("--filter-size", &a.filter_size), ("--pool", &a.pool)] {
        if v.len() != n && v.len() != 1 {
            return Err(
                format!("{flag}: give one value or one per layer ({n} layers), not {}", v.len()).into()
            );
        }
    }
    if n > 8 {
        return Err(format!("{n} layers: at most 8").into());
    }
    let at = |v: &[usize], l: usize| if v.len() == 1 { v[0] } else { v[l] };
    Ok((0..n)
        .map(|l| {
            config(a)
                .filters(at(&a.filters, l))
                .filter_size(at(&a.filter_size, l))
                .pool(at(&a.pool, l))
                .seed(a.seed.wrapping_add(l as u64))
        })
        .collect())
}

fn config(a: &CrbmTrainArgs) -> ConvTrainConfig {
    ConvTrainConfig::default()
        .epochs(a.epochs)
        .batch_size(a.batch)
        .k(a.k)
        .persistent(!a.cd)
        .chains(a.chains)
        .learning_rate(a.lr)
        .schedule(Schedule::Linear { final_lr: a.lr_final })
        .momentum(a.momentum)
        .l2(a.l2)
        .sparsity_target(a.sparsity)
        .sparsity_cost(a.sparsity_cost)
        .center_visible(a.center_visible)
        .seed(a.seed)
}

fn epoch_line(layer: usize, r: &ConvEpochReport, json: bool) -> CliResult<()> {
    if json {
        outln!(
            "{}",
            jobj!(
                "layer" = layer,
                "epoch" = r.epoch,
                "learning_rate" = r.learning_rate,
                "reconstruction_error" = r.reconstruction_error,
                "detection_mean" = r.detection_mean,
                "pooling_mean" = r.pooling_mean,
                "free_energy" = r.free_energy,
                "seconds" = r.seconds,
            )
        );
    } else {
        outln!(
            "layer {layer} epoch {:>3}  lr {:.4}  recon {:.3}  detection {:.4}  pooling {:.4}  F {:.2}  {:.2}s",
            r.epoch,
            r.learning_rate,
            r.reconstruction_error,
            r.detection_mean,
            r.pooling_mean,
            r.free_energy,
            r.seconds
        );
    }
    Ok(())
}

/// A checkpoint `--resume` names: one layer's run or a stack's.
enum Resumed {
    One(Box<ConvTrainState>),
    Stack(Box<ConvDbnTrainState>),
}

impl Resumed {
    /// Every layer's settings.
    fn configs(&self) -> Vec<ConvTrainConfig> {
        match self {
            Resumed::One(st) => vec![st.config.clone()],
            Resumed::Stack(st) => st.configs.clone(),
        }
    }
    /// The image shape of layer 1's data.
    fn image(&self) -> (usize, usize, usize) {
        match self {
            Resumed::One(st) => st.image,
            Resumed::Stack(st) => st.image,
        }
    }
}

/// The checkpoint `--resume` names, with `--epochs` applied when given (to
/// the current layer and, for a stack, every layer above it); its settings
/// replace the per-layer options.
fn resumed_state(a: &CrbmTrainArgs) -> CliResult<Option<Resumed>> {
    let Some(p) = &a.resume else { return Ok(None) };
    let mut r = match io::ModelFile::load(p)? {
        io::ModelFile::ConvCheckpoint(st) => Resumed::One(st),
        io::ModelFile::ConvDbnCheckpoint(st) => Resumed::Stack(st),
        f => {
            return Err(format!(
                "{}: a {:?} file; --resume takes a checkpoint of `crbm train` (conv-checkpoint or \
                 conv-dbn-checkpoint)",
                p.display(),
                f.kind()
            )
            .into());
        }
    };
    if crate::given("epochs") {
        let current = match &mut r {
            Resumed::One(st) => &mut **st,
            Resumed::Stack(st) => &mut st.current,
        };
        if a.epochs < current.epoch {
            return Err(format!(
                "--epochs {}: the checkpoint has already run {} epochs",
                a.epochs, current.epoch
            )
            .into());
        }
        current.config = current.config.clone().epochs(a.epochs);
        if let Resumed::Stack(st) = &mut r {
            let l = st.done.len();
            st.configs[l..].iter_mut().for_each(|c| *c = c.clone().epochs(a.epochs));
        }
    }
    Ok(Some(r))
}

/// Trains the layers with a checkpoint after every epoch: one layer through
/// `ConvTrainer`, a stack through `ConvDbnTrainer` (greedily); either may
/// resume.
fn fit(
    a: &CrbmTrainArgs,
    data: &Dataset,
    image: (usize, usize, usize),
    cfgs: &[ConvTrainConfig],
    resumed: Option<Resumed>,
    checkpoint_path: &Path,
) -> CliResult<ConvDbn> {
    match (cfgs, resumed) {
        ([cfg], r @ (None | Some(Resumed::One(_)))) => {
            let mut t = match r {
                Some(Resumed::One(st)) => ConvTrainer::resume(*st, data)?,
                _ => ConvTrainer::new(data, image, cfg)?,
            };
            while !t.is_done() {
                let r = t.run_epoch(data)?;
                io::save_conv_checkpoint(&t.state(), checkpoint_path)?;
                epoch_line(1, &r, a.json)?;
            }
            Ok(ConvDbn::new(vec![t.into_model()])?)
        }
        (_, r) => {
            let mut t = match r {
                Some(Resumed::Stack(st)) => ConvDbnTrainer::resume(*st, data)?,
                _ => ConvDbnTrainer::new(data, image, cfgs)?,
            };
            while !t.is_done() {
                let (layer, r) = t.run_epoch(data)?;
                io::save_conv_dbn_checkpoint(&t.state(), checkpoint_path)?;
                epoch_line(layer, &r, a.json)?;
            }
            Ok(t.into_model()?)
        }
    }
}

fn train(a: &CrbmTrainArgs) -> CliResult<()> {
    let mut cfgs = configs(a)?;
    let mut vis = visible(a)?;
    cfgs[0] = cfgs[0].clone().visible(vis);
    let resumed = resumed_state(a)?;
    if let Some(r) = &resumed {
        cfgs = r.configs();
        vis = cfgs[0].visible;
    }
    let (data, name) = load_data_as(a, vis)?;
    let image = match &resumed {
        Some(r) => r.image(),
        None => image_shape(a, &data)?,
    };
    let (data, scaling) = match vis {
        ConvVisible::Bernoulli => (data, None),
        ConvVisible::Gaussian => {
            let (d, st) = data.standardize(image.2)?;
            (d, Some(st))
        }
    };
    // Every layer's geometry, checked before anything is written.
    let shapes = layer_shapes(image, &cfgs)?;
    crate::out::dir(&a.out)?;
    let model_path = a.out.join("model.safetensors");
    let filter_paths: Vec<PathBuf> = (1..=cfgs.len())
        .map(|l| a.out.join(if l == 1 { "filters.png".to_string() } else { format!("filters{l}.png") }))
        .collect();
    let samples_path = a.out.join("samples.png");
    for f in filter_paths.iter().chain([&model_path, &samples_path]) {
        crate::out::file(f)?;
    }
    let checkpoint_path = a.out.join("checkpoint.safetensors");
    crate::out::checkpoint(&checkpoint_path)?;
    if !a.json {
        outln!("data: {name}, {} images of {}x{}x{}", data.len(), image.0, image.1, image.2);
        if let Some(st) = &scaling {
            let parts: Vec<String> = st.iter().map(|(m, s)| format!("(x − {m:.4}) / {s:.4}")).collect();
            outln!("standardized per channel: {}", parts.join(", "));
        }
        for (l, s) in shapes.iter().enumerate() {
            outln!("layer {}: {s}; {} by {}", l + 1, if a.cd { "CD" } else { "PCD" }, a.k);
        }
    }
    let t0 = std::time::Instant::now();
    let net = fit(a, &data, image, &cfgs, resumed, &checkpoint_path)?;
    let train_s = t0.elapsed().as_secs_f64();
    match net.layers() {
        [one] => io::save_conv_rbm(one, &model_path)?,
        _ => io::save_conv_dbn(&net, &model_path)?,
    }
    for (l, p) in filter_paths.iter().enumerate() {
        write_filters(&net, l + 1, p)?;
    }
    let seed = derive(a.seed, Purpose::ConvSampling);
    let density = write_samples(&net, (100, a.sample_sweeps, None), seed, &samples_path, scaling.as_deref())?;
    if a.json {
        outln!(
            "{}",
            jobj!(
                "model" = model_path.display().to_string(),
                "layers" = net.layers().len(),
                "visible" = vis.name(),
                "train_seconds" = train_s,
                "sample_density" = density,
            )
        );
    } else {
        outln!(
            "wrote {} and the pictures in {} ({train_s:.1}s of training)",
            model_path.display(),
            a.out.display()
        );
    }
    Ok(())
}

/// Layer 1: one tile per filter and channel; higher layers: each filter
/// as a combination of layer-1 filters ([`ConvDbn::filter_pictures`]).
/// Each tile scaled to its own range.
fn write_filters(net: &ConvDbn, layer: usize, path: &Path) -> CliResult<()> {
    let (mut tiles, side, per_row) = if layer == 1 {
        let m = &net.layers()[0];
        let s = m.shape();
        let (r, ch, kk) = (s.filter_size, s.channels, s.filters);
        let mut tiles = vec![0.0f32; kk * ch * r * r];
        for k in 0..kk {
            for c in 0..ch {
                let tile = &mut tiles[(k * ch + c) * r * r..(k * ch + c + 1) * r * r];
                for (q, t) in tile.iter_mut().enumerate() {
                    *t = m.weights()[(q * ch + c) * kk + k];
                }
            }
        }
        (tiles, r, (kk * ch).min(12 * ch))
    } else {
        let (pics, side) = net.filter_pictures(layer)?;
        let kk = net.layers()[layer - 1].shape().filters;
        (pics, side, kk.min(12))
    };
    for tile in tiles.chunks_exact_mut(side * side) {
        let (lo, hi) =
            tile.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &x| (a.min(x), b.max(x)));
        let span = if hi > lo { hi - lo } else { 1.0 };
        tile.iter_mut().for_each(|x| *x = (*x - lo) / span);
    }
    let zoom = (48 / side).clamp(2, 8);
    io::grid_png(path, &tiles, side, side, per_row, zoom)?;
    Ok(())
}

/// Runs `chains` chains `sweeps` sweeps from random images and writes the
/// first channel of each as a PNG grid; returns the mean pixel value of the
/// samples. Gaussian chains are drawn as the means of `p(v | h)`, through
/// `scaling` (the standardization, undone) or, without it, each scaled to
/// its own range.
fn write_samples(
    net: &ConvDbn,
    (chains, sweeps, down): (usize, usize, Option<usize>),
    seed: u64,
    path: &Path,
    scaling: Option<&[(f64, f64)]>,
) -> CliResult<f64> {
    let m = &net.layers()[0];
    let s = m.shape();
    // One layer: its own chains; a stack: joint Gibbs over every layer, or
    // the top layer's chains and a clamped pass down (`down`). Gaussian
    // chains are drawn as the means of p(v | h) at the last sweep (the
    // unit-variance noise of a sample would hide them).
    let gaussian = m.visible_units() == ConvVisible::Gaussian;
    let means_of = |h1: &[f32], n: usize| -> CliResult<Vec<f32>> {
        let mut out = vec![0.0f32; if gaussian { n } else { 0 }];
        if gaussian {
            m.visible_probs(h1, &mut out)?;
        }
        Ok(out)
    };
    let (v, means) = if let Some(down) = down {
        boltzmann::sampler::sample_conv_dbn(net, chains, (sweeps, down), seed)?
    } else if net.layers().len() == 1 {
        let mut c = ConvChains::new(m, chains, seed)?;
        c.sweep(m, sweeps)?;
        let means = means_of(c.hidden(), c.visible().len())?;
        (c.visible().to_vec(), means)
    } else {
        let mut c = ConvDbnChains::new(net, chains, seed)?;
        c.sweep(net, sweeps)?;
        let means = means_of(c.hidden(1), c.visible().len())?;
        (c.visible().to_vec(), means)
    };
    let shown = if gaussian { &means[..] } else { &v[..] };
    let mut first: Vec<f32> = shown.iter().step_by(s.channels).copied().collect();
    if m.visible_units() == ConvVisible::Gaussian {
        match scaling {
            Some(st) => {
                first.iter_mut().for_each(|x| *x = ((*x as f64) * st[0].1 + st[0].0).clamp(0.0, 1.0) as f32)
            }
            None => {
                for img in first.chunks_exact_mut(s.height * s.width) {
                    let (lo, hi) = img
                        .iter()
                        .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &x| (a.min(x), b.max(x)));
                    let span = if hi > lo { hi - lo } else { 1.0 };
                    img.iter_mut().for_each(|x| *x = (*x - lo) / span);
                }
            }
        }
    }
    io::grid_png(path, &first, s.height, s.width, 10, 2)?;
    Ok(v.iter().map(|&x| x as f64).sum::<f64>() / v.len() as f64)
}

fn sample(a: &CrbmSampleArgs) -> CliResult<()> {
    let net = load_net(&a.model)?;
    if a.down_sweeps.is_some() && net.layers().len() < 2 {
        return Err("--down-sweeps: the model has one layer (it applies to a convolutional DBN)".into());
    }
    crate::out::file(&a.out)?;
    let t0 = std::time::Instant::now();
    let density = write_samples(&net, (a.chains, a.sweeps, a.down_sweeps), a.seed, &a.out, None)?;
    let secs = t0.elapsed().as_secs_f64();
    if a.json {
        outln!(
            "{}",
            jobj!(
                "chains" = a.chains,
                "sweeps" = a.sweeps,
                "down_sweeps"? = a.down_sweeps,
                "seconds" = secs,
                "chain_sweeps_per_s" = (a.chains * a.sweeps) as f64 / secs.max(1e-9),
                "density" = density,
                "out" = a.out.display().to_string(),
            )
        );
    } else {
        outln!(
            "{} chains × {} sweeps in {secs:.2}s; pixel density {density:.3}; wrote {}",
            a.chains,
            a.sweeps,
            a.out.display()
        );
    }
    Ok(())
}

fn filters(a: &CrbmFiltersArgs) -> CliResult<()> {
    let net = load_net(&a.model)?;
    check_layer(&net, a.layer)?;
    crate::out::file(&a.out)?;
    write_filters(&net, a.layer, &a.out)?;
    outln!("wrote {}", a.out.display());
    Ok(())
}

fn classify(a: &CrbmClassifyArgs) -> CliResult<()> {
    a.classifier.check()?;
    let (net, layers) = feature_net("classify", &a.model, a.layer.as_deref())?;
    let (train, test) = classify_data(a)?;
    let d = net.layers()[0].shape().n_visible();
    for (what, set) in [("training", &train), ("test", &test)] {
        if set.dim() != d {
            return Err(format!("{what} images have {} pixels, the model's {d}", set.dim()).into());
        }
    }
    let (ytr, yte) = match (train.labels(), test.labels()) {
        (Some(a), Some(b)) => (a.to_vec(), b.to_vec()),
        _ => return Err("the data has no labels".into()),
    };
    let fit = |x: Vec<f32>, xt: Vec<f32>, width: usize| -> CliResult<Scored> {
        let ds = Dataset::new(x, width).and_then(|d| d.with_labels(ytr.clone()))?;
        a.classifier.fit(&ds, &xt, &yte, a.seed)
    };
    let t0 = std::time::Instant::now();
    let width = layers.iter().map(|&l| net.feature_len(l)).sum::<boltzmann::Result<usize>>()?;
    let feats = fit(
        net.features_of_layers(train.features(), &layers)?,
        net.features_of_layers(test.features(), &layers)?,
        width,
    )?;
    let pixels = fit(train.features().to_vec(), test.features().to_vec(), d)?;
    let secs = t0.elapsed().as_secs_f64();
    let names = layers.iter().map(|l| l.to_string()).collect::<Vec<_>>().join(",");
    if a.json {
        #[derive(serde::Serialize)]
        struct Candidate {
            c: f32,
            error: f64,
        }
        let validation = |s: &Scored| {
            (!s.validation.is_empty())
                .then(|| s.validation.iter().map(|&(c, error)| Candidate { c, error }).collect::<Vec<_>>())
        };
        outln!(
            "{}",
            jobj!(
                "layer" = names,
                "features" = width,
                "classifier" = a.classifier.name(),
                "train_error" = feats.train_error,
                "test_error" = feats.test_error,
                "svm_c"? = feats.c,
                "svm_validation"? = validation(&feats),
                "svm_passes"? = feats.passes.map(|p| p.0),
                "svm_converged"? = feats.passes.map(|p| p.1),
                "pixels_train_error" = pixels.train_error,
                "pixels_test_error" = pixels.test_error,
                "pixels_svm_c"? = pixels.c,
                "train_examples" = train.len(),
                "test_examples" = test.len(),
                "grey" = a.grey,
                "seconds" = secs,
            )
        );
    } else {
        for (what, s) in [
            (format!("layer {names} ({width} features)"), &feats),
            (format!("pixels ({d} features)"), &pixels),
        ] {
            let c = s.c.map(|c| format!(", SVM C = {c}")).unwrap_or_default();
            outln!(
                "{what}: train error {:.2} %, test error {:.2} %{c}",
                100.0 * s.train_error,
                100.0 * s.test_error
            );
        }
    }
    Ok(())
}

/// Binary images, or with `grey` values in [0, 1].
fn check_inputs(set: &Dataset, grey: bool) -> CliResult<()> {
    if grey {
        if let Some(i) = set.features().iter().position(|x| !(0.0..=1.0).contains(x)) {
            return Err(format!("value {} outside [0, 1] (--grey)", set.features()[i]).into());
        }
        Ok(())
    } else {
        Ok(set.check_binary().map_err(|e| format!("{e} (add --binarize or --grey)"))?)
    }
}

/// `crbm classify`'s training and test sets: binary images, or grey ones
/// in [0, 1] with `--grey`.
fn classify_data(a: &CrbmClassifyArgs) -> CliResult<(Dataset, Dataset)> {
    let (train, test) = match (&a.data, &a.labels, &a.test_data, &a.test_labels) {
        (Some(d), Some(l), Some(td), Some(tl)) => (
            binarize(io::read_idx(d, Some(l.as_path()))?, a.binarize, a.seed)?,
            binarize(io::read_idx(td, Some(tl.as_path()))?, a.binarize, a.seed.wrapping_add(1))?,
        ),
        _ => {
            if a.binarize.is_some() {
                return Err("--binarize applies to --data; the embedded MNIST subset is binary".into());
            }
            let s = io::embedded_mnist()?;
            (s.train, s.test)
        }
    };
    let train = match a.limit {
        Some(n) if n < train.len() => train.subset(0..n)?,
        _ => train,
    };
    for (what, set) in [("training", &train), ("test", &test)] {
        check_inputs(set, a.grey).map_err(|e| format!("{what} images: {e}"))?;
    }
    Ok((train, test))
}

fn features(a: &CrbmFeaturesArgs) -> CliResult<()> {
    use boltzmann::io::safetensors::{SafeTensors, Tensor};
    let (net, layers) = feature_net("features", &a.model, a.layer.as_deref())?;
    let data = match &a.data {
        None => {
            if a.binarize.is_some() {
                return Err("--binarize applies to --data; the embedded MNIST subset is binary".into());
            }
            io::embedded_mnist()?.train
        }
        Some(p) => {
            let d = match (io::Format::from_path(p), &a.labels) {
                (_, Some(l)) => io::read_idx(p, Some(l.as_path()))?,
                (Some(io::Format::Csv), None) => io::read_csv(p, io::CsvLabels::None, 1.0)?,
                (f, None) => io::read_dataset(p, f)?,
            };
            binarize(d, a.binarize, a.seed)?
        }
    };
    let data = match a.limit {
        Some(n) if n < data.len() => data.subset(0..n)?,
        _ => data,
    };
    let d = net.layers()[0].shape().n_visible();
    if data.dim() != d {
        return Err(format!("the images have {} pixels, the model's {d}", data.dim()).into());
    }
    check_inputs(&data, a.grey)?;
    crate::out::file(&a.out)?;
    let width = layers.iter().map(|&l| net.feature_len(l)).sum::<boltzmann::Result<usize>>()?;
    let f = net.features_of_layers(data.features(), &layers)?;
    let layer = layers.iter().map(|l| l.to_string()).collect::<Vec<_>>().join(",");
    let mut st = SafeTensors::default();
    st.metadata.insert("format".into(), "boltzmann".into());
    st.metadata.insert("kind".into(), "features".into());
    st.metadata.insert("layer".into(), layer.clone());
    st.tensors.insert("features".into(), Tensor::f32(vec![data.len(), width], &f));
    if let Some(l) = data.labels() {
        st.tensors.insert("labels".into(), Tensor::u8(vec![l.len()], l));
    }
    io::write_atomic(&a.out, &st.to_bytes())?;
    let what = if layers.len() > 1 { "layers" } else { "layer" };
    outln!("wrote {} ({} images × {width} features of {what} {layer})", a.out.display(), data.len());
    Ok(())
}
