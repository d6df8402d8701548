//! `boltzmann dbn train | sample | eval | classify`: parse, load, call the
//! library's DBN training, sampling, bound and classifiers, report, write
//! files.

use crate::CliResult;
use crate::train::TrainArgs;
use boltzmann::data::Dataset;
use boltzmann::eval::{self, AisConfig, RaiseConfig};
use boltzmann::io;
use boltzmann::io::DbnFile;
use boltzmann::model::{Dbn, GaussianDbn, LabelledDbn, UntiedDbn};
use boltzmann::rng::{Purpose, derive};
use boltzmann::train::dbn::{DbnConfig, Propagate, UpDownConfig, train_greedy, train_labelled_top, up_down};
use boltzmann::train::labelled::LabelledConfig;
use boltzmann::train::{EpochReport, TrainConfig};
use clap::{Args, Subcommand};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Subcommand, Debug)]
pub(crate) enum DbnCmd {
    /// Greedy layer-wise training (every `train` option applies to each
    /// layer; a validation split is held out but not used, so pass
    /// --valid-fraction 0 to train on all of --data); writes dbn.safetensors
    /// and samples.png.
    Train(Box<DbnTrainArgs>),
    /// Ancestral samples (Gibbs in the top RBM, one pass down) as a PNG grid.
    Sample(DbnSampleArgs),
    /// Variational lower bound on the test log-probability.
    Eval(DbnEvalArgs),
    /// Test error of softmax regression on a layer's features against the
    /// same classifier on the raw inputs.
    Classify(DbnClassifyArgs),
}

/// Options of `dbn classify`.
#[derive(Args, Debug)]
pub(crate) struct DbnClassifyArgs {
    /// DBN file (from `dbn train`).
    #[arg(long)]
    model: PathBuf,
    /// Labelled training images (IDX, with --labels); default: the embedded
    /// binarized MNIST subset (10,000 train, 2,000 test).
    #[arg(long)]
    data: Option<PathBuf>,
    /// IDX labels of --data.
    #[arg(long)]
    labels: Option<PathBuf>,
    /// Labelled test images (IDX, with --test-labels).
    #[arg(long)]
    test_data: Option<PathBuf>,
    /// IDX labels of --test-data.
    #[arg(long)]
    test_labels: Option<PathBuf>,
    /// Binarize the images at 0.5 (IDX pixels are 0–255 scaled to [0, 1]).
    #[arg(long)]
    binarize: bool,
    /// Layer whose posterior means are the features (default: the top).
    #[arg(long, value_parser = crate::limits::count)]
    layer: Option<usize>,
    #[command(flatten)]
    classifier: crate::classifier::ClassifierArgs,
    /// Seed of the classifier's shuffles.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Also train a label-joined top RBM (Hinton et al. 2006) on binary
    /// recognition samples of the layer below the DBN's top, in place of
    /// the top RBM, and classify by free energy.
    #[arg(long)]
    joint: bool,
    /// Hidden units of the label-joined RBM (default: the top's).
    #[arg(long, value_parser = crate::limits::count)]
    joint_hidden: Option<usize>,
    /// Epochs of the label-joined RBM (CD-1, lr 0.05, momentum 0.5).
    #[arg(long, value_parser = crate::limits::epochs, default_value_t = 10)]
    joint_epochs: usize,
    #[command(flatten)]
    threads: crate::limits::Threads,
    /// One JSON object instead of text.
    #[arg(long)]
    json: bool,
}

/// Options of `dbn train`.
#[derive(Args, Debug)]
pub(crate) struct DbnTrainArgs {
    #[command(flatten)]
    train: TrainArgs,
    /// Hidden-layer widths bottom-up, e.g. 500,500 (replaces --hidden).
    #[arg(long)]
    layers: String,
    /// Epochs per layer, e.g. 20,20 (default: --epochs for every layer).
    #[arg(long)]
    layer_epochs: Option<String>,
    /// Start each upper layer from the transpose of the layer below (its
    /// width must then equal the width below that layer).
    #[arg(long)]
    tied_init: bool,
    /// Data of the upper layers: "samples" (one binary recognition sample
    /// per example) or "probs" (the posterior means, as mean-field data).
    #[arg(long, default_value = "samples")]
    propagate: String,
    /// Epochs of up-down fine-tuning after the greedy stage (0: none); the
    /// saved DBN then has separate recognition weights.
    #[arg(long, value_parser = crate::limits::epochs_or_none, default_value_t = 0)]
    up_down_epochs: usize,
    /// Learning rate of up-down fine-tuning.
    #[arg(long, allow_negative_numbers = true, default_value_t = 0.001)]
    up_down_lr: f32,
    /// Gibbs steps of the top-level CD in up-down fine-tuning.
    #[arg(long, value_parser = crate::limits::k, default_value_t = 3)]
    up_down_k: usize,
    /// Put a label-joined top RBM with this many hidden units on the
    /// greedy layers (Hinton et al. 2006: --layers 500,500 --label-top 2000),
    /// trained on recognition samples of the top layer joined to the labels
    /// (the data must have labels; CD-1, lr 0.05, momentum 0.5, L2 1e-4,
    /// the --batch-size and --seed of the layers). The saved DBN then
    /// classifies (`dbn classify`) and samples digits of a chosen label
    /// (`dbn sample --label`).
    #[arg(long, value_parser = crate::limits::count)]
    label_top: Option<usize>,
    /// Epochs of the label-joined top RBM (default: --epochs).
    #[arg(long, value_parser = crate::limits::epochs)]
    label_epochs: Option<usize>,
    /// Real-valued data: a Gaussian–Bernoulli RBM as the bottom layer
    /// (CD-k with --k whatever --algorithm says, SGD with --gaussian-lr,
    /// momentum 0.9), binary layers above it as usual; data are used as
    /// they are (no binarization).
    #[arg(long)]
    gaussian: bool,
    /// Train the Gaussian bottom layer with persistent chains instead
    /// (unstable at momentum 0.9 in our trials; see docs/results.md).
    #[arg(long)]
    gaussian_pcd: bool,
    /// Learning rate of the Gaussian bottom layer.
    #[arg(long, allow_negative_numbers = true, default_value_t = 1e-3)]
    gaussian_lr: f32,
    /// Standard deviation σ of the Gaussian visible units (initial value
    /// with --learn-sigma).
    #[arg(long, allow_negative_numbers = true, default_value_t = 0.3)]
    sigma: f32,
    /// Learn σ (through log σ).
    #[arg(long)]
    learn_sigma: bool,
    /// Train the label-joined top with persistent chains (PCD) instead of
    /// CD-1: much sharper label-conditioned samples, slightly higher
    /// classification error (docs/results.md).
    #[arg(long)]
    label_pcd: bool,
    /// Learning-rate schedule of the label-joined top: "constant",
    /// "exp:DECAY" or "linear:FINAL" (from 0.05) [default: linear:0.0005
    /// with --label-pcd (measured: its label-clamped samples go from 30 % to
    /// 84 % of their own label), constant for CD-1].
    #[arg(long)]
    label_lr_schedule: Option<String>,
}

impl DbnTrainArgs {
    /// The label-joined top's schedule, given or by default.
    fn label_lr_schedule(&self) -> &str {
        match (&self.label_lr_schedule, self.label_pcd) {
            (Some(s), _) => s,
            (None, true) => "linear:0.0005",
            (None, false) => "constant",
        }
    }
}

/// Options of `dbn sample`.
#[derive(Args, Debug)]
pub(crate) struct DbnSampleArgs {
    /// DBN file (from `dbn train`).
    #[arg(long)]
    model: PathBuf,
    /// Output PNG.
    #[arg(long, default_value = "dbn-samples.png")]
    out: PathBuf,
    /// Number of samples (a grid of 10 per row).
    #[arg(long, value_parser = crate::limits::count, default_value_t = 100)]
    n: usize,
    /// Gibbs sweeps in the top RBM before the pass down.
    #[arg(long, value_parser = crate::limits::steps, default_value_t = 1000)]
    sweeps: usize,
    /// Image shape ROWSxCOLS (default: square, or 28x28 for 784 units).
    #[arg(long)]
    shape: Option<String>,
    /// Seed of the chains.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// For a DBN with a label-joined top: sample only this label (default:
    /// each row of the grid one label, 0, 1, …).
    #[arg(long)]
    label: Option<u8>,
    #[command(flatten)]
    threads: crate::limits::Threads,
}

/// Options of `dbn eval`.
#[derive(Args, Debug)]
pub(crate) struct DbnEvalArgs {
    /// DBN file (from `dbn train`).
    #[arg(long)]
    model: PathBuf,
    /// Test data (binary; same formats as `train --data`); default: the
    /// embedded test split (2,000 digits).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Binarize non-binary data at 0.5.
    #[arg(long)]
    binarize: bool,
    /// Evaluate the DBN made of the first K layers (default: all).
    #[arg(long, value_parser = crate::limits::count)]
    depth: Option<usize>,
    /// Use only the first N test examples.
    #[arg(long, value_parser = crate::limits::count)]
    limit: Option<usize>,
    /// Recognition samples per example for the bound.
    #[arg(long, value_parser = crate::limits::runs, default_value_t = 10)]
    samples: usize,
    /// AIS runs for the top RBM's log Z (when exact is not feasible).
    #[arg(long, value_parser = crate::limits::runs, default_value_t = 100)]
    ais_runs: usize,
    /// AIS schedule: "default", "default:F" or "linear:N" (as `eval`).
    #[arg(long, default_value = "default")]
    schedule: String,
    /// Largest smaller side of the top RBM for exact log Z (2^N states).
    #[arg(long, value_parser = crate::limits::count_or_none, default_value_t = 25)]
    exact_max: usize,
    /// With AIS: also a conservative bound on the first N examples (one
    /// recognition sample each), the top term by RAISE instead of the
    /// forward log Z, beside the forward one on the same samples (0: skip).
    #[arg(long, value_parser = crate::limits::runs_or_none, default_value_t = 500)]
    raise_examples: usize,
    /// Seed of the recognition samples and AIS.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[command(flatten)]
    threads: crate::limits::Threads,
    /// One JSON object instead of text.
    #[arg(long)]
    json: bool,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
}

pub(crate) fn run(cmd: DbnCmd) -> CliResult<()> {
    match cmd {
        DbnCmd::Train(a) => {
            let threads = a.train.threads.n;
            crate::with_threads(threads, move || train(*a))
        }
        DbnCmd::Sample(a) => {
            let threads = a.threads.n;
            crate::with_threads(threads, move || sample(a))
        }
        DbnCmd::Eval(a) => {
            let threads = a.threads.n;
            crate::with_threads(threads, move || evaluate(a))
        }
        DbnCmd::Classify(a) => {
            let threads = a.threads.n;
            crate::with_threads(threads, move || classify(a))
        }
    }
}

fn parse_list(what: &str, s: &str) -> CliResult<Vec<usize>> {
    let v: Vec<usize> = s
        .split(',')
        .map(|x| x.trim().parse::<usize>().map_err(|_| format!("--{what} {s:?}: use numbers like 500,500")))
        .collect::<Result<_, _>>()?;
    if v.is_empty() || v.contains(&0) {
        return Err(format!("--{what} {s:?}: every entry must be ≥ 1").into());
    }
    Ok(v)
}

/// Checks the options that need no data: the layer widths and epochs, and
/// the combinations `dbn train` does not support.
fn check_train_args(a: &DbnTrainArgs) -> CliResult<(Vec<usize>, Vec<usize>)> {
    if a.train.mpi {
        return Err("--mpi: `dbn train` runs in one process (data-parallel training is `train --mpi`)".into());
    }
    if a.train.resume.is_some() {
        return Err("--resume is not supported by `dbn train` (train the layers again)".into());
    }
    if a.train.ais_every != 0 {
        return Err("--ais-every is not supported by `dbn train` (use `dbn eval`)".into());
    }
    let widths = parse_list("layers", &a.layers)?;
    let epochs = match &a.layer_epochs {
        None => vec![a.train.epochs(); widths.len()],
        Some(s) => parse_list("layer-epochs", s)?,
    };
    if epochs.len() != widths.len() {
        return Err(format!("--layer-epochs has {} entries for {} layers", epochs.len(), widths.len()).into());
    }
    if a.up_down_epochs > 0 && !(a.up_down_lr.is_finite() && a.up_down_lr > 0.0 && a.up_down_k >= 1) {
        return Err(format!(
            "--up-down-lr {} / --up-down-k {}: need lr > 0 and k ≥ 1",
            a.up_down_lr, a.up_down_k
        )
        .into());
    }
    if a.label_top.is_some() && a.up_down_epochs > 0 {
        return Err(
            "--label-top with --up-down-epochs: up-down fine-tuning of a labelled DBN is not implemented"
                .into(),
        );
    }
    if a.label_top == Some(0) || a.label_epochs == Some(0) {
        return Err("--label-top / --label-epochs: need at least 1".into());
    }
    crate::train::parse_schedule(a.label_lr_schedule())
        .and_then(|s| Ok(s.check()?))
        .map_err(|e| format!("--label-lr-schedule: {e}"))?;
    if a.gaussian && (a.label_top.is_some() || a.up_down_epochs > 0 || a.tied_init) {
        return Err("--gaussian: --label-top, --up-down-epochs and --tied-init are not implemented for a Gaussian bottom layer".into());
    }
    if a.up_down_epochs > 0 && widths.len() < 2 {
        return Err("--up-down-epochs needs at least two --layers".into());
    }
    Ok((widths, epochs))
}

/// The greedy training configuration; checks a tied start against the
/// data width before any training.
fn dbn_config(
    a: &DbnTrainArgs,
    base: &TrainConfig,
    widths: &[usize],
    epochs: &[usize],
    data_dim: usize,
) -> CliResult<DbnConfig> {
    // A tied start needs each layer as wide as the one below its input.
    if a.tied_init {
        for l in 1..widths.len() {
            let want = if l == 1 { data_dim } else { widths[l - 2] };
            if widths[l] != want {
                return Err(format!(
                    "--tied-init: layer {} has {} hidden units; a tied start needs {want}",
                    l + 1,
                    widths[l]
                )
                .into());
            }
        }
    }
    let layers: Vec<TrainConfig> = widths
        .iter()
        .zip(epochs)
        .enumerate()
        .map(|(l, (&h, &e))| (base.clone()).n_hidden(h).epochs(e).seed(base.seed.wrapping_add(l as u64)))
        .collect();
    let propagate = match a.propagate.as_str() {
        "samples" => Propagate::Samples,
        "probs" | "probabilities" => Propagate::Probabilities,
        s => return Err(format!("--propagate {s:?}: use samples or probs").into()),
    };
    Ok(DbnConfig::new(layers)
        .tied_init(a.tied_init)
        .seed(derive(base.seed, Purpose::DbnLayers))
        .propagate(propagate))
}

fn train(mut a: DbnTrainArgs) -> CliResult<()> {
    a.train.use_defaults(&crate::train::LAYER_DEFAULTS);
    crate::out::dir(&a.train.out)?;
    crate::out::file(&a.train.out.join("dbn.safetensors"))?;
    crate::out::file(&a.train.out.join("samples.png"))?;
    let (widths, epochs) = check_train_args(&a)?;
    let (train_set, _valid, data_name) = crate::train::datasets(&a.train)?;
    // The label count of a labelled top, checked before any training.
    let n_labels = match (a.label_top, train_set.labels()) {
        (None, _) => 0,
        (Some(_), None) => {
            return Err("--label-top needs labelled data (e.g. IDX images with --labels)".into());
        }
        (Some(_), Some(l)) => label_classes(l, "the labels of --data")?.max(2),
    };
    let base = crate::train::config(&a.train)?;
    let config = dbn_config(&a, &base, &widths, &epochs, train_set.dim())?;
    let mut sizes: Vec<String> =
        std::iter::once(train_set.dim()).chain(widths.iter().copied()).map(|s| s.to_string()).collect();
    if !a.train.json {
        outln!(
            "DBN {} on {data_name}: {} examples, {} threads, {}",
            sizes.join("-"),
            train_set.len(),
            rayon::current_num_threads(),
            boltzmann::active_isa()
        );
    }
    let mut layer_seconds = vec![0.0f64; widths.len()];
    if let Some(h) = a.label_top {
        sizes.push(format!("{h}(+{n_labels} labels)"));
    }
    let json = a.train.json;
    let t0 = Instant::now();
    if a.gaussian {
        return train_gaussian(&a, &config, &train_set, &widths, &epochs, &sizes);
    }
    let dbn = train_greedy(&config, &train_set, |l, r: &EpochReport| {
        layer_seconds[l - 1] += r.seconds;
        if json {
            outln_cb!(
                "{}",
                jobj!(
                    "layer" = l,
                    "epoch" = r.epoch + 1,
                    "seconds" = r.seconds,
                    "learning_rate" = r.learning_rate
                )
            );
        } else {
            outln_cb!("layer {l}/{} epoch {:>3}: {:.2} s", widths.len(), r.epoch + 1, r.seconds);
        }
    })?;
    crate::out::check()?;
    let net = fine_tune(&a, &dbn, &train_set, &base)?;
    let labelled = match a.label_top {
        None => None,
        Some(hidden) => {
            let (net, secs) = labelled_top(&a, &dbn, &train_set, &base, hidden, n_labels)?;
            layer_seconds.push(secs);
            Some(net)
        }
    };
    let path = a.train.out.join("dbn.safetensors");
    write_dbn(&dbn, net.as_ref(), labelled.as_ref(), &train_set, &path, &a.train.out, base.seed)?;
    if json {
        outln!(
            "{}",
            jobj!(
                "done" = true,
                "sizes" = widths_of(&sizes),
                "labels" = n_labels,
                "layer_seconds" = layer_seconds,
                "seconds" = t0.elapsed().as_secs_f64(),
            )
        );
    } else {
        for (l, s) in layer_seconds.iter().enumerate() {
            outln!("layer {}: {:.2} s training", l + 1, s);
        }
        outln!("wrote {}", path.display());
    }
    Ok(())
}

/// `--up-down-epochs`: the fine-tuned (untied) network, if asked for.
fn fine_tune(
    a: &DbnTrainArgs,
    dbn: &Dbn,
    train_set: &Dataset,
    base: &TrainConfig,
) -> CliResult<Option<UntiedDbn>> {
    if a.up_down_epochs == 0 {
        return Ok(None);
    }
    let cfg = UpDownConfig::default()
        .epochs(a.up_down_epochs)
        .learning_rate(a.up_down_lr)
        .k(a.up_down_k)
        .batch_size(base.optim.batch_size)
        .seed(derive(base.seed, Purpose::UpDown));
    let (t, json) = (Instant::now(), a.train.json);
    let net = up_down(dbn, train_set, &cfg, |e| {
        if json {
            outln_cb!("{}", jobj!("up_down_epoch" = e, "seconds" = t.elapsed().as_secs_f64()));
        } else {
            outln_cb!("up-down epoch {e:>3}: {:.2} s since start", t.elapsed().as_secs_f64());
        }
    })?;
    crate::out::check()?;
    Ok(Some(net))
}

/// `--label-top`: the label-joined top trained on the greedy layers, and
/// its training time.
fn labelled_top(
    a: &DbnTrainArgs,
    dbn: &Dbn,
    train_set: &Dataset,
    base: &TrainConfig,
    hidden: usize,
    n_labels: usize,
) -> CliResult<(LabelledDbn, f64)> {
    let depth = dbn.depth();
    let cfg = LabelledConfig::default()
        .n_hidden(hidden)
        .epochs(a.label_epochs.unwrap_or(a.train.epochs()))
        .persistent(a.label_pcd)
        .schedule(
            crate::train::parse_schedule(a.label_lr_schedule())
                .map_err(|e| format!("--label-lr-schedule: {e}"))?,
        )
        .batch_size(base.optim.batch_size)
        .seed(base.seed.wrapping_add(depth as u64));
    let (l, t, json) = (depth + 1, Instant::now(), a.train.json);
    let net =
        train_labelled_top(dbn, train_set, n_labels, &cfg, derive(base.seed, Purpose::LabelledTop), |e| {
            let secs = t.elapsed().as_secs_f64();
            if json {
                outln_cb!(
                    "{}",
                    jobj!("layer" = l, "labelled" = true, "epoch" = e, "seconds_since_start" = secs)
                );
            } else {
                outln_cb!(
                    "layer {l}/{l} (labelled top, {n_labels} labels) epoch {e:>3}: {secs:.2} s since start"
                );
            }
        })?;
    crate::out::check()?;
    Ok((net, t.elapsed().as_secs_f64()))
}

/// The DBN file (labelled, fine-tuned or tied, whichever was trained) and
/// a picture of its samples.
fn write_dbn(
    dbn: &Dbn,
    net: Option<&UntiedDbn>,
    labelled: Option<&LabelledDbn>,
    train_set: &Dataset,
    path: &std::path::Path,
    out: &std::path::Path,
    seed: u64,
) -> CliResult<()> {
    match (net, labelled) {
        (_, Some(n)) => io::save_labelled_dbn(n, path),
        (None, None) => io::save_dbn(dbn, path),
        (Some(n), None) => io::save_untied_dbn(n, path),
    }?;
    if let Some((r, c)) = train_set.image_shape() {
        let s = match labelled {
            Some(n) => sample_labelled(n, None, 100, 1000, seed)?,
            None => net.map_or(dbn, |n| n.generative()).sample(100, 1000, seed)?,
        };
        io::grid_png(out.join("samples.png"), &s.visible_probs, r, c, 10, 2)?;
    }
    Ok(())
}

/// Samples of a labelled DBN: all of `label`, or row `i` of the 10-wide
/// grid of label `i mod K`.
fn sample_labelled(
    net: &LabelledDbn,
    label: Option<u8>,
    n: usize,
    sweeps: usize,
    seed: u64,
) -> CliResult<boltzmann::model::DbnSamples> {
    let k = net.n_labels();
    let labels: Vec<u8> = match label {
        Some(y) => vec![y; n],
        None => (0..n).map(|i| ((i / 10) % k) as u8).collect(),
    };
    Ok(net.sample_given_labels(&labels, sweeps, seed)?)
}

fn sample(a: DbnSampleArgs) -> CliResult<()> {
    crate::out::file(&a.out)?;
    let file = io::load_any_dbn(&a.model)?;
    let (n_visible, n_labels) = match &file {
        DbnFile::Gaussian(g) => (g.n_visible(), 0),
        DbnFile::Tied(d) => (d.n_visible(), 0),
        DbnFile::Untied(n) => (n.generative().n_visible(), 0),
        DbnFile::Labelled(n) => (n.n_visible(), n.n_labels()),
    };
    let (r, c) = crate::sample::shape(a.shape.as_deref(), n_visible)?;
    if a.n == 0 || a.n > 10_000 {
        return Err(format!("--n {}: use 1..=10000 samples", a.n).into());
    }
    match a.label {
        Some(_) if n_labels == 0 => {
            return Err("--label: this DBN has no label units (train it with --label-top)".into());
        }
        Some(y) if y as usize >= n_labels => {
            return Err(format!("--label {y}: the model has labels 0..{n_labels}").into());
        }
        _ => {}
    }
    let s = match &file {
        DbnFile::Gaussian(g) => g.sample(a.n, a.sweeps, a.seed)?,
        DbnFile::Tied(d) => d.sample(a.n, a.sweeps, a.seed)?,
        DbnFile::Untied(n) => n.generative().sample(a.n, a.sweeps, a.seed)?,
        DbnFile::Labelled(n) => sample_labelled(n, a.label, a.n, a.sweeps, a.seed)?,
    };
    io::grid_png(&a.out, &s.visible_probs, r, c, a.n.min(10), 2)?;
    note!("wrote {}", a.out.display());
    Ok(())
}

fn evaluate(a: DbnEvalArgs) -> CliResult<()> {
    // Checked before any work, also when the top's log Z turns out exact.
    crate::evaluate::parse_schedule(&a.schedule).map_err(|e| format!("--schedule: {e}"))?;
    let full = match io::load_any_dbn(&a.model)? {
        DbnFile::Gaussian(g) => return evaluate_gaussian(&a, &g),
        DbnFile::Tied(d) => UntiedDbn::from_tied(d),
        DbnFile::Untied(n) => n,
        DbnFile::Labelled(n) => {
            let below = n.lower().depth();
            if a.depth.is_none_or(|d| d > below) {
                return Err(format!(
                    "this DBN has a label-joined top RBM; its bound (log p(x) summed over the labels) is not \
                     implemented: pass --depth 1..={below} to bound the unlabelled network below it"
                )
                .into());
            }
            UntiedDbn::from_tied(n.lower().clone())
        }
    };
    let full_depth = full.generative().depth();
    let depth = a.depth.unwrap_or(full_depth);
    if depth == 0 || depth > full_depth {
        return Err(format!("--depth {depth}: the model has {full_depth} layers").into());
    }
    let untied = full.recognition().iter().zip(full.generative().layers()).any(|(r, g)| r != g);
    if untied && depth < full_depth {
        return Err(format!(
            "--depth {depth}: this DBN was fine-tuned (untied recognition weights); only the whole network ({full_depth} layers) has a bound"
        ).into());
    }
    // The network evaluated: the first `depth` generative layers, and the
    // recognition layers below its top.
    let (g, r) = full.into_parts();
    let net = UntiedDbn::new(
        Dbn::new(g.into_layers().into_iter().take(depth).collect())?,
        r.into_iter().take(depth - 1).collect(),
    )?;
    let dbn = net.generative();
    let test: Dataset = match &a.data {
        Some(p) => crate::evaluate::load(p, a.binarize)?,
        None => io::embedded_mnist()?.test,
    };
    let test = eval_set(test, dbn.n_visible(), &a)?;
    let top = dbn.top();
    let show = !a.quiet && !a.json && std::io::stderr().is_terminal();
    let t0 = Instant::now();
    let z = top_log_z(
        top,
        || Ok(net.recognize(test.features(), depth - 1, derive(a.seed, Purpose::BoundRecognition))?),
        &a,
        show,
    )?;
    let (log_z, log_z_se, how, raise_setup) = (z.log_z, z.std_err, z.how, z.ais);
    let b = eval::dbn::lower_bound(&net, &test, log_z, a.samples, a.seed)?;
    // Conservative check: the top term by RAISE on the first examples, and
    // the forward bound on the same recognition samples (same seed).
    let mut conservative = None;
    if let (Some((bias, schedule)), true) = (&raise_setup, a.raise_examples > 0) {
        let n = a.raise_examples.min(test.len());
        let sub = test.subset(0..n)?;
        let cfg = RaiseConfig::default().runs_per_example(1).schedule(schedule.clone()).seed(a.seed);
        let pb = crate::evaluate::bar(show, schedule.len() as u64, "RAISE");
        let cons = eval::dbn::lower_bound_with(&net, &sub, 1, a.seed, |h| {
            let hd = Dataset::new(h.to_vec(), top.n_visible())?;
            Ok(eval::raise_with_progress(top, bias, &hd, &cfg, &|k| pb.set_position(k))?.log_probs)
        })?;
        pb.finish_and_clear();
        let fwd = eval::dbn::lower_bound(&net, &sub, log_z, 1, a.seed)?;
        conservative = Some((n, cons, fwd));
    }
    let secs = t0.elapsed().as_secs_f64();
    let sizes: Vec<String> = dbn.sizes().iter().map(|s| s.to_string()).collect();
    if a.json {
        let raise = conservative.as_ref().map(|(n, c, f)| {
            crate::out::raw(jobj!(
                "examples" = n,
                "conservative_bound" = c.mean,
                "conservative_std_err" = c.std_err,
                "forward_bound" = f.mean,
                "forward_std_err" = f.std_err,
            ))
        });
        outln!(
            "{}",
            jobj!(
                "sizes" = dbn.sizes(),
                "examples" = test.len(),
                "samples" = a.samples,
                "lower_bound" = b.mean,
                "std_err" = b.std_err,
                "log_z_top" = log_z,
                "log_z_top_std_err" = log_z_se,
                "log_z_method" = if how == "exact" { "exact" } else { "ais" },
                "raise" = raise,
                "seconds" = secs,
            )
        );
    } else {
        outln!("DBN {} ({} layers), {} test examples", sizes.join("-"), depth, test.len());
        outln!("  top RBM log Z = {log_z:.4} ({how}, ±{log_z_se:.4})");
        outln!(
            "  lower bound on log p(v): {:.3} ± {:.3} nats per example ({} recognition samples each)",
            b.mean,
            b.std_err,
            a.samples
        );
        if let Some((n, c, f)) = &conservative {
            outln!(
                "  first {n} examples, one recognition sample each: bound {:.3} ± {:.3} with the top term by RAISE \
                 (conservative), {:.3} ± {:.3} with the forward log Z",
                c.mean,
                c.std_err,
                f.mean,
                f.std_err
            );
        }
        outln!("  {secs:.1} s");
    }
    Ok(())
}

/// The number of classes of `labels`, which must use every class from 0 to
/// their largest (a stray label would otherwise add empty classes).
pub(crate) fn label_classes(labels: &[u8], what: &str) -> CliResult<usize> {
    let mut seen = [false; 256];
    for &y in labels {
        seen[y as usize] = true;
    }
    let Some(max) = seen.iter().rposition(|&s| s) else {
        return Err(format!("{what}: no labels").into());
    };
    if let Some(gap) = seen[..max].iter().position(|&s| !s) {
        let n = labels.iter().filter(|&&y| y as usize == max).count();
        return Err(format!(
            "{what} go up to {max} ({n} examples) but label {gap} never occurs: labels must be 0..K−1 with every \
             class present"
        ).into());
    }
    Ok(max + 1)
}

fn labelled(
    images: &std::path::Path,
    labels: Option<&std::path::Path>,
    binarize: bool,
) -> CliResult<Dataset> {
    let labels = labels.ok_or_else(|| format!("{}: pass its labels too", images.display()))?;
    let d = io::read_idx(images, Some(labels))?;
    if binarize { Ok(d.binarize_threshold(0.5)?) } else { Ok(d) }
}

/// The labelled training and test images of `dbn classify`, checked
/// against the network: sizes, label sets, binary values for a binary DBN.
fn classify_data(a: &DbnClassifyArgs, net: &Features) -> CliResult<(Dataset, Dataset, Vec<u8>, Vec<u8>)> {
    let dbn = net;
    let (train, test) = match (&a.data, &a.test_data) {
        (None, None) => {
            let s = io::embedded_mnist()?;
            (s.train, s.test)
        }
        (Some(d), Some(t)) => (
            labelled(d, a.labels.as_deref(), a.binarize)?,
            labelled(t, a.test_labels.as_deref(), a.binarize)?,
        ),
        _ => return Err("pass both --data and --test-data (with their labels), or neither".into()),
    };
    if train.dim() != dbn.n_visible() || test.dim() != dbn.n_visible() {
        return Err(format!(
            "the images have {} pixels but the DBN's n_visible is {}",
            train.dim(),
            dbn.n_visible()
        )
        .into());
    }
    let labels =
        |d: &Dataset| d.labels().map(<[u8]>::to_vec).ok_or_else(|| "data without labels".to_string());
    let (ytr, yte) = (labels(&train)?, labels(&test)?);
    let classes = label_classes(&ytr, "the training labels")?;
    if let Some(&y) = yte.iter().find(|&&y| y as usize >= classes) {
        return Err(format!("test label {y}: the training labels are 0..={}", classes - 1).into());
    }
    if let Features::Binary(_) = &net {
        for (what, d) in [("training", &train), ("test", &test)] {
            d.check_binary().map_err(|e| format!("{what} images: {e} (pass --binarize)"))?;
        }
    }
    Ok((train, test, ytr, yte))
}

/// A label-joined classifier's hidden units, the layer it sits on, train
/// and test error, seconds.
type JointErrors = (usize, usize, f64, f64, f64);

/// The label-joined classifier's errors: the model's own top, or with
/// `--joint` one trained on the layer below the top.
#[allow(clippy::too_many_arguments)]
fn joint_errors(
    a: &DbnClassifyArgs,
    net: &Features,
    saved: Option<&LabelledDbn>,
    train: &Dataset,
    test: &Dataset,
    ytr: &[u8],
    yte: &[u8],
) -> CliResult<Option<JointErrors>> {
    let dbn = net;
    Ok(if let Some(n) = saved {
        let t0 = Instant::now();
        let test_err = n.error_rate(test.features(), yte)?;
        let train_err = n.error_rate(train.features(), ytr)?;
        Some((n.top().rbm().n_hidden(), n.lower().depth(), train_err, test_err, t0.elapsed().as_secs_f64()))
    } else if a.joint {
        use boltzmann::train::labelled::{LabelledConfig, fit_labelled};
        let t0 = Instant::now();
        let below = dbn.depth() - 1;
        let xs = net.recognize(train.features(), below, derive(a.seed, Purpose::JointRecognition))?;
        let xd = Dataset::new(xs, dbn.sizes()[below]).and_then(|d| d.with_labels(ytr.to_vec()))?;
        let cfg = LabelledConfig::default()
            .n_hidden(a.joint_hidden.unwrap_or(dbn.sizes()[dbn.depth()]))
            .epochs(a.joint_epochs)
            .seed(a.seed);
        let classes = ytr.iter().chain(yte).copied().max().map_or(2, |m| (m as usize + 1).max(2));
        let m = fit_labelled(&xd, classes, &cfg, |_| {})?;
        let means = net.transform(test.features(), below)?;
        let test_err = m.error_rate(&means, yte)?;
        let train_means = net.transform(train.features(), below)?;
        let train_err = m.error_rate(&train_means, ytr)?;
        Some((cfg.n_hidden, below, train_err, test_err, t0.elapsed().as_secs_f64()))
    } else {
        None
    })
}

/// What `dbn classify` prints: one JSON object or text lines.
#[allow(clippy::too_many_arguments)]
fn print_classify(
    a: &DbnClassifyArgs,
    (train, test): (&Dataset, &Dataset),
    layer: usize,
    width: usize,
    raw: (f64, f64, f64),
    feat: (f64, f64, f64),
    joint: Option<JointErrors>,
    own_top: bool,
) -> CliResult<()> {
    if a.json {
        let errors =
            |(tr, te, s): (f64, f64, f64)| jobj!("train_error" = tr, "test_error" = te, "seconds" = s);
        let joint = joint.map(|(h, l, tr, te, s)| {
            jobj!("hidden" = h, "on_layer" = l, "train_error" = tr, "test_error" = te, "seconds" = s)
        });
        outln!(
            "{}",
            jobj!(
                "layer" = layer,
                "features" = width,
                "classifier" = a.classifier.name(),
                "train" = train.len(),
                "test" = test.len(),
                "raw" = crate::out::raw(errors(raw)),
                "dbn" = crate::out::raw(errors(feat)),
                "joint" = joint.map(crate::out::raw),
            )
        );
    } else {
        outln!("{}, {} training / {} test examples", a.classifier.describe(), train.len(), test.len());
        outln!(
            "  raw inputs ({}):        train error {:.2} %, test error {:.2} %",
            train.dim(),
            100.0 * raw.0,
            100.0 * raw.1
        );
        outln!(
            "  DBN layer {layer} ({width} features): train error {:.2} %, test error {:.2} %",
            100.0 * feat.0,
            100.0 * feat.1
        );
        if let Some((h, l, tr, te, s)) = joint {
            outln!(
                "  label-joined RBM ({h} hidden) on layer {l}{}, by free energy: train error {:.2} %, test error {:.2} % ({s:.1} s)",
                if own_top { " (the model's own top)" } else { "" },
                100.0 * tr,
                100.0 * te
            );
        }
    }
    Ok(())
}

fn classify(a: DbnClassifyArgs) -> CliResult<()> {
    a.classifier.check()?;
    // A labelled DBN classifies itself; its directed layers give the
    // features for softmax regression.
    let (net, saved) = match io::load_any_dbn(&a.model)? {
        DbnFile::Tied(d) => (Features::Binary(UntiedDbn::from_tied(d)), None),
        DbnFile::Untied(n) => (Features::Binary(n), None),
        DbnFile::Labelled(n) => (Features::Binary(UntiedDbn::from_tied(n.lower().clone())), Some(n)),
        DbnFile::Gaussian(g) => (Features::Gaussian(g), None),
    };
    if saved.is_some() && a.joint {
        return Err(
            "--joint: this DBN already has a label-joined top RBM (it is evaluated without --joint)".into()
        );
    }
    let dbn = &net;
    let layer = a.layer.unwrap_or(dbn.depth());
    if layer == 0 || layer > dbn.depth() {
        return Err(format!("--layer {layer}: the model has layers 1..={}", dbn.depth()).into());
    }
    let (train, test, ytr, yte) = classify_data(&a, &net)?;
    if let Some(n) = &saved
        && let Some(&y) = ytr.iter().chain(&yte).find(|&&y| y as usize >= n.n_labels())
    {
        return Err(format!("label {y} in the data: the model has labels 0..{}", n.n_labels()).into());
    }
    let run = |x: Vec<f32>, xt: Vec<f32>, width: usize| -> CliResult<(f64, f64, f64)> {
        let t0 = Instant::now();
        let d = Dataset::new(x, width).and_then(|d| d.with_labels(ytr.clone()))?;
        let s = a.classifier.fit(&d, &xt, &yte, a.seed)?;
        Ok((s.train_error, s.test_error, t0.elapsed().as_secs_f64()))
    };
    let raw = run(train.features().to_vec(), test.features().to_vec(), train.dim())?;
    let width = dbn.sizes()[layer];
    let ft = net.transform(train.features(), layer)?;
    let fte = net.transform(test.features(), layer)?;
    let feat = run(ft, fte, width)?;
    let joint = joint_errors(&a, &net, saved.as_ref(), &train, &test, &ytr, &yte)?;
    print_classify(&a, (&train, &test), layer, width, raw, feat, joint, saved.is_some())
}

/// `dbn eval` of a DBN with a Gaussian bottom layer: the bound on the
/// log-density of real-valued test data (nats in the data's units), the
/// top RBM's log Z exact or by AIS.
fn evaluate_gaussian(a: &DbnEvalArgs, net: &GaussianDbn) -> CliResult<()> {
    let Some(upper) = net.upper() else {
        return Err("a one-layer Gaussian DBN is a GB-RBM: its log Z is not implemented, so no bound".into());
    };
    if a.depth.is_some_and(|d| d != net.depth()) {
        return Err(format!("--depth: a Gaussian DBN is bounded whole ({} layers)", net.depth()).into());
    }
    let test = match &a.data {
        Some(p) => eval_set(crate::evaluate::load(p, false)?, net.n_visible(), a)?,
        None => return Err("--data: pass the real-valued test data of this Gaussian DBN".into()),
    };
    let top = upper.top();
    let t0 = Instant::now();
    let show = !a.quiet && !a.json && std::io::stderr().is_terminal();
    let z = top_log_z(
        top,
        || Ok(net.recognize(test.features(), net.depth() - 1, derive(a.seed, Purpose::BoundRecognition))?),
        a,
        show,
    )?;
    let (log_z, how) = (z.log_z, z.how);
    let b = eval::gaussian_dbn::gaussian_lower_bound(net, &test, log_z, a.samples, a.seed)?;
    let secs = t0.elapsed().as_secs_f64();
    let sizes: Vec<String> = net.sizes().iter().map(|s| s.to_string()).collect();
    if a.json {
        outln!(
            "{}",
            jobj!(
                "sizes" = net.sizes(),
                "gaussian" = true,
                "examples" = test.len(),
                "samples" = a.samples,
                "lower_bound" = b.mean,
                "std_err" = b.std_err,
                "log_z_top" = log_z,
                "log_z_method" = if how == "exact" { "exact" } else { "ais" },
                "seconds" = secs,
            )
        );
    } else {
        outln!("Gaussian DBN {} ({} layers) on {} examples", sizes.join("-"), net.depth(), test.len());
        outln!("  top RBM log Z = {log_z:.4} ({how})");
        outln!(
            "  lower bound on the log-density: {:.3} ± {:.3} nats per example ({} recognition samples each)",
            b.mean,
            b.std_err,
            a.samples
        );
        outln!("  {secs:.1} s");
    }
    Ok(())
}

/// The feature maps `dbn classify` uses: a binary DBN (tied or untied) or
/// one with a Gaussian bottom layer.
enum Features {
    Binary(UntiedDbn),
    Gaussian(GaussianDbn),
}

impl Features {
    fn depth(&self) -> usize {
        match self {
            Features::Binary(n) => n.generative().depth(),
            Features::Gaussian(g) => g.depth(),
        }
    }

    fn n_visible(&self) -> usize {
        match self {
            Features::Binary(n) => n.generative().n_visible(),
            Features::Gaussian(g) => g.n_visible(),
        }
    }

    fn sizes(&self) -> Vec<usize> {
        match self {
            Features::Binary(n) => n.generative().sizes(),
            Features::Gaussian(g) => g.sizes(),
        }
    }

    fn transform(&self, x: &[f32], layer: usize) -> boltzmann::Result<Vec<f32>> {
        match self {
            Features::Binary(n) => n.transform(x, layer),
            Features::Gaussian(g) => g.transform(x, layer),
        }
    }

    fn recognize(&self, x: &[f32], layer: usize, seed: u64) -> boltzmann::Result<Vec<f32>> {
        match self {
            Features::Binary(n) => n.recognize(x, layer, seed),
            Features::Gaussian(g) => g.recognize(x, layer, seed),
        }
    }
}

/// `dbn train --gaussian`: a GB-RBM bottom layer, the binary layers of
/// `config` after the first above it.
fn train_gaussian(
    a: &DbnTrainArgs,
    config: &DbnConfig,
    train_set: &Dataset,
    widths: &[usize],
    epochs: &[usize],
    sizes: &[String],
) -> CliResult<()> {
    use boltzmann::train::dbn::train_gaussian_greedy;
    use boltzmann::train::gaussian::GaussianTrainConfig;
    let base = &config.layers[0];
    let k = base.k();
    let bottom = GaussianTrainConfig::default()
        .n_hidden(widths[0])
        .k(k)
        .persistent(a.gaussian_pcd)
        .learning_rate(a.gaussian_lr)
        .batch_size(base.optim.batch_size)
        .epochs(epochs[0])
        .init_sigma(a.sigma)
        .learn_sigma(a.learn_sigma)
        .seed(base.seed);
    let upper = (widths.len() > 1).then(|| (config.clone()).layers(config.layers[1..].to_vec()));
    let json = a.train.json;
    let t0 = Instant::now();
    let mut layer_seconds = vec![0.0f64; widths.len()];
    let mut first = 0.0;
    let net = train_gaussian_greedy(
        train_set,
        &bottom,
        upper.as_ref(),
        |r| {
            first += r.seconds;
            if json {
                outln_cb!(
                    "{}",
                    jobj!(
                        "layer" = 1,
                        "epoch" = r.epoch,
                        "seconds" = r.seconds,
                        "reconstruction_error" = r.reconstruction_error
                    )
                );
            } else {
                outln_cb!(
                    "layer 1/{} (Gaussian) epoch {:>3}: {:.2} s, reconstruction error {:.3}",
                    widths.len(),
                    r.epoch,
                    r.seconds,
                    r.reconstruction_error
                );
            }
        },
        |l, r| {
            layer_seconds[l - 1] += r.seconds;
            if json {
                outln_cb!("{}", jobj!("layer" = l, "epoch" = r.epoch + 1, "seconds" = r.seconds));
            } else {
                outln_cb!("layer {l}/{} epoch {:>3}: {:.2} s", widths.len(), r.epoch + 1, r.seconds);
            }
        },
    )?;
    crate::out::check()?;
    layer_seconds[0] = first;
    let path = a.train.out.join("dbn.safetensors");
    io::save_gaussian_dbn(&net, &path)?;
    if let Some((r, c)) = train_set.image_shape().or_else(|| crate::sample::shape(None, net.n_visible()).ok())
    {
        let s = net.sample(100, 1000, base.seed)?;
        let png = a.train.out.join("samples.png");
        io::grid_png(&png, &s.visible_probs, r, c, 10, 2)?;
    }
    if json {
        outln_cb!(
            "{}",
            jobj!(
                "done" = true,
                "gaussian" = true,
                "sizes" = widths_of(sizes),
                "layer_seconds" = layer_seconds,
                "seconds" = t0.elapsed().as_secs_f64(),
            )
        );
    } else {
        for (l, s) in layer_seconds.iter().enumerate() {
            outln!("layer {}: {:.2} s training", l + 1, s);
        }
        outln!("wrote {}", path.display());
    }
    Ok(())
}

/// The top RBM's log Z for `dbn eval`.
struct TopLogZ {
    log_z: f64,
    /// Standard error (0 when exact).
    std_err: f64,
    /// "exact" or a description of the AIS run.
    how: String,
    /// With AIS: the base-rate biases and the schedule (RAISE reuses them).
    ais: Option<(Vec<f32>, Vec<f64>)>,
}

/// Exact when the top's smaller side is at most `--exact-max`; otherwise AIS
/// from the base rates of `below()` (recognition samples of the test data
/// at the top's visible layer).
fn top_log_z(
    top: &boltzmann::Rbm,
    below: impl FnOnce() -> crate::CliResult<Vec<f32>>,
    a: &DbnEvalArgs,
    show: bool,
) -> CliResult<TopLogZ> {
    let small = top.n_visible().min(top.n_hidden());
    if small <= a.exact_max {
        let pb = crate::evaluate::bar(show, 1u64 << small.min(63), "exact log Z");
        let z = eval::log_partition_exact_with_progress(top, &|k| pb.set_position(k))?;
        pb.finish_and_clear();
        return Ok(TopLogZ { log_z: z, std_err: 0.0, how: "exact".into(), ais: None });
    }
    let base = Dataset::new(below()?, top.n_visible())?;
    let bias = eval::base_rate_biases(&base)?;
    let schedule = crate::evaluate::parse_schedule(&a.schedule)?;
    let cfg = AisConfig::default().runs(a.ais_runs).schedule(schedule.clone()).seed(a.seed);
    let pb = crate::evaluate::bar(show, schedule.len() as u64, "AIS");
    let est = eval::ais_with_progress(top, &bias, &cfg, &|k| pb.set_position(k))?;
    pb.finish_and_clear();
    // Standard error of log Ẑ by the delta method: σ̂/Ẑ.
    let se = (est.log_std_err - est.log_z).exp();
    let how = format!("AIS ({} runs, {} βs)", a.ais_runs, schedule.len());
    Ok(TopLogZ { log_z: est.log_z, std_err: se, how, ais: Some((bias, schedule)) })
}

/// The test set of `dbn eval`: the model's width, `--limit` applied, and
/// `--samples ≥ 1` checked.
fn eval_set(test: Dataset, n_visible: usize, a: &DbnEvalArgs) -> CliResult<Dataset> {
    if test.dim() != n_visible {
        return Err(format!("data has {} features but the DBN's n_visible is {n_visible}", test.dim()).into());
    }
    if a.samples == 0 {
        return Err("--samples must be ≥ 1".into());
    }
    match a.limit {
        None => Ok(test),
        Some(n) if n == 0 || n > test.len() => {
            Err(format!("--limit {n}: the test set has {} examples", test.len()).into())
        }
        Some(n) => Ok(test.subset(0..n)?),
    }
}

/// The layer widths of `sizes` entries such as `"500"` or `"500(+10 labels)"`.
fn widths_of(sizes: &[String]) -> Vec<usize> {
    sizes.iter().filter_map(|s| s.split('(').next()?.parse().ok()).collect()
}
