//! `boltzmann train` and `boltzmann bench train`: parse, load, call the
//! trainer, report, write files.

use crate::CliResult;
use boltzmann::data::{Binarization, Dataset};
use boltzmann::eval;
use boltzmann::io::{self, CsvLabels, Format};
use boltzmann::rng::{Purpose, derive};
use boltzmann::train::{
    self, Algorithm, Averaging, Centering, FastWeights, Optimizer, Schedule, Sparsity, TrainConfig, Trainer,
};
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum AlgoArg {
    Cd,
    Pcd,
    Pt,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum OptArg {
    Sgd,
    Adam,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum FormatArg {
    Idx,
    Amat,
    Csv,
    Npy,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum CsvLabelArg {
    None,
    First,
    Last,
}

/// Options of `train` (and `bench train`).
#[derive(Args, Debug)]
pub(crate) struct TrainArgs {
    /// Data-parallel training over the ranks of `mpirun -np N` (build with
    /// `--features mpi`): chains and batch rows split over the ranks, the
    /// same model and checkpoint, bit for bit, as one process; rank 0
    /// prints and writes. CD and PCD (not PT or fast weights).
    #[arg(long)]
    pub(crate) mpi: bool,
    /// Training data (IDX *-ubyte[.gz], .amat[.gz], .csv[.gz], .npy); default:
    /// the embedded binarized MNIST subset (10,000 train / 2,000 validation).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Format of --data (default: from the file name).
    #[arg(long, value_enum)]
    format: Option<FormatArg>,
    /// IDX labels for --data (checked against the image count).
    #[arg(long)]
    labels: Option<PathBuf>,
    /// Label column of a CSV file.
    #[arg(long, value_enum, default_value = "last")]
    csv_labels: CsvLabelArg,
    /// Multiply CSV values by this (e.g. 0.00392156862745098 for 0–255 pixels).
    #[arg(long, allow_negative_numbers = true, default_value_t = 1.0)]
    scale: f32,
    /// Binarize non-binary data: "threshold" (> 0.5), "threshold:T" or
    /// "stochastic" (values in [0,1] as probabilities). Without it,
    /// non-binary data is an error.
    #[arg(long)]
    binarize: Option<Binarization>,
    /// Validation data (same format); default: the embedded validation split,
    /// or the last --valid-fraction of --data.
    #[arg(long)]
    valid: Option<PathBuf>,
    /// Fraction of --data held out for validation when --valid is not given.
    #[arg(long, allow_negative_numbers = true, default_value_t = 0.1)]
    valid_fraction: f64,
    /// Use only the first N training examples.
    #[arg(long, value_parser = crate::limits::count)]
    limit: Option<usize>,
    /// Hidden units.
    #[arg(long, value_parser = crate::limits::count, default_value_t = 500)]
    pub(crate) hidden: usize,
    /// cd (chains restart at the data) or pcd (persistent chains).
    #[arg(long, value_enum, default_value = "pcd")]
    algorithm: AlgoArg,
    /// Gibbs sweeps per update.
    #[arg(long, value_parser = crate::limits::k, default_value_t = 1)]
    k: usize,
    /// Persistent chains (PCD; for PT, the chains at β = 1) [default: 200;
    /// 100 for the layers of `dbn train`].
    #[arg(long, value_parser = crate::limits::count)]
    chains: Option<usize>,
    /// Temperatures per chain for --algorithm pt (geometric ladder, ≥ 2).
    #[arg(long, value_parser = crate::limits::count, default_value_t = 10)]
    replicas: usize,
    /// Lowest inverse temperature of the PT ladder, in (0, 1).
    #[arg(long, allow_negative_numbers = true, default_value_t = 0.1)]
    beta_min: f32,
    /// Parallel tempering: after every epoch, move the inner temperatures
    /// toward equal swap acceptance with this step in (0, 1] (e.g. 0.5;
    /// default: keep the geometric ladder).
    #[arg(long, allow_negative_numbers = true)]
    adapt_ladder: Option<f32>,
    /// Centering (Melchior et al. 2016): "off", or the sliding-average rate
    /// of the hidden offsets in (0, 1].
    #[arg(long, default_value = "off")]
    centering: String,
    /// Fast weights (FPCD, Tieleman & Hinton 2009) with this learning rate;
    /// needs persistent chains (pcd or pt).
    #[arg(long, allow_negative_numbers = true)]
    fast_lr: Option<f32>,
    /// Shrink factor of the fast weights per update, in [0, 1).
    #[arg(long, allow_negative_numbers = true, default_value_t = 0.95)]
    fast_decay: f32,
    /// Parameter averaging: save (and monitor) an exponential moving
    /// average of the parameters with this decay per update in (0, 1)
    /// (e.g. 0.999); default: the last parameters.
    #[arg(long, allow_negative_numbers = true)]
    average: Option<f32>,
    /// With --average: the epoch (from 0) whose first update starts the
    /// average.
    #[arg(long, value_parser = crate::limits::epochs_or_none, default_value_t = 0, requires = "average")]
    average_from: usize,
    /// Learning rate.
    #[arg(long, allow_negative_numbers = true, default_value_t = 0.05)]
    lr: f32,
    /// Learning-rate schedule: "constant", "exp:DECAY" (lr·DECAY^epoch) or
    /// "linear:FINAL" [default: linear:0.0005; constant for the layers of
    /// `dbn train`].
    #[arg(long)]
    lr_schedule: Option<String>,
    /// sgd (with momentum) or adam.
    #[arg(long, value_enum, default_value = "sgd")]
    optimizer: OptArg,
    /// Momentum for the first --momentum-switch epochs.
    #[arg(long, allow_negative_numbers = true, default_value_t = 0.5)]
    momentum: f32,
    /// Momentum afterwards (0.9 is Hinton's choice for CD; it made PCD
    /// unstable in our runs).
    #[arg(long, allow_negative_numbers = true, default_value_t = 0.5)]
    final_momentum: f32,
    /// Epoch at which the momentum switches.
    #[arg(long, value_parser = crate::limits::epochs_or_none, default_value_t = 5)]
    momentum_switch: usize,
    /// L2 weight decay [default: 2e-4; 1e-4 for the layers of `dbn train`].
    #[arg(long)]
    l2: Option<f32>,
    /// L1 weight decay.
    #[arg(long, default_value_t = 0.0)]
    l1: f32,
    /// Mini-batch size.
    #[arg(long, value_parser = crate::limits::count, default_value_t = 100)]
    batch: usize,
    /// Epochs (with --resume: the total to reach) [default: 100; 30 per
    /// layer for `dbn train`].
    #[arg(long, value_parser = crate::limits::epochs)]
    epochs: Option<usize>,
    /// Keep the data order (no shuffling).
    #[arg(long)]
    no_shuffle: bool,
    /// Start visible biases at 0 instead of log(p/(1-p)) of the data.
    #[arg(long)]
    no_vbias_init: bool,
    /// Standard deviation of the initial weights.
    #[arg(long, allow_negative_numbers = true, default_value_t = 0.01)]
    init_std: f32,
    /// Hidden sparsity target (e.g. 0.05); enables the sparsity penalty.
    #[arg(long, allow_negative_numbers = true)]
    sparsity_target: Option<f32>,
    /// Sparsity penalty weight.
    #[arg(long, allow_negative_numbers = true, default_value_t = 0.01)]
    sparsity_cost: f32,
    /// Decay of the running activation average.
    #[arg(long, allow_negative_numbers = true, default_value_t = 0.95)]
    sparsity_decay: f32,
    /// Seed of weights, shuffles and chains.
    #[arg(long, default_value_t = 0)]
    pub(crate) seed: u64,
    #[command(flatten)]
    pub(crate) threads: crate::limits::Threads,
    /// Output directory for model.safetensors, checkpoint.safetensors,
    /// filters.png and samples.png.
    #[arg(long, default_value = "boltzmann-out")]
    pub(crate) out: PathBuf,
    /// Continue from this checkpoint: on the same data (pass the same
    /// --data, --limit, --binarize, … as the first run), with the
    /// checkpoint's settings (training options given again must equal
    /// them); --epochs sets the total.
    #[arg(long)]
    pub(crate) resume: Option<PathBuf>,
    /// With --resume: accept other data and use the training options given
    /// here instead of the checkpoint's (the run then differs from an
    /// uninterrupted one).
    #[arg(long, requires = "resume")]
    resume_anyway: bool,
    /// Examples of each split used for the per-epoch monitors (0: none)
    /// [default: 100; 500 for `dbn train`].
    #[arg(long, value_parser = crate::limits::count_or_none)]
    monitor: Option<usize>,
    /// Every N epochs, estimate log Z by a cheap AIS (--ais-runs runs over
    /// --ais-steps linear steps) and report the average log-probability of
    /// the validation subset (0: never).
    #[arg(long, value_parser = crate::limits::epochs_or_none, default_value_t = 0)]
    pub(crate) ais_every: usize,
    /// AIS runs for --ais-every.
    #[arg(long, value_parser = crate::limits::runs, default_value_t = 32)]
    ais_runs: usize,
    /// Linear AIS steps for --ais-every.
    #[arg(long, value_parser = crate::limits::ais_steps, default_value_t = 1000)]
    ais_steps: usize,
    /// One JSON object per epoch on stdout instead of text.
    #[arg(long)]
    pub(crate) json: bool,
    /// No progress bar.
    #[arg(long)]
    pub(crate) quiet: bool,
}

/// The defaults of the options whose best value differs between a single
/// RBM and the layers of a DBN: `train` uses [`TRAIN_DEFAULTS`], chosen by
/// measurement (docs/results.md, "Learning well"); `dbn train` keeps
/// [`LAYER_DEFAULTS`], with which its documented results were obtained.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Defaults {
    chains: usize,
    lr_schedule: &'static str,
    l2: f32,
    epochs: usize,
    monitor: usize,
}

/// `boltzmann train` and `bench train`.
pub(crate) const TRAIN_DEFAULTS: Defaults =
    Defaults { chains: 200, lr_schedule: "linear:0.0005", l2: 2e-4, epochs: 100, monitor: 100 };
/// The layers of `boltzmann dbn train`.
pub(crate) const LAYER_DEFAULTS: Defaults =
    Defaults { chains: 100, lr_schedule: "constant", l2: 1e-4, epochs: 30, monitor: 500 };

impl TrainArgs {
    /// Fills the options not given on the command line from `d` (before
    /// this, the accessors give [`TRAIN_DEFAULTS`]).
    pub(crate) fn use_defaults(&mut self, d: &Defaults) {
        self.chains.get_or_insert(d.chains);
        self.lr_schedule.get_or_insert_with(|| d.lr_schedule.to_string());
        self.l2.get_or_insert(d.l2);
        self.epochs.get_or_insert(d.epochs);
        self.monitor.get_or_insert(d.monitor);
    }
    pub(crate) fn epochs(&self) -> usize {
        self.epochs.unwrap_or(TRAIN_DEFAULTS.epochs)
    }
    fn chains(&self) -> usize {
        self.chains.unwrap_or(TRAIN_DEFAULTS.chains)
    }
    fn lr_schedule(&self) -> &str {
        self.lr_schedule.as_deref().unwrap_or(TRAIN_DEFAULTS.lr_schedule)
    }
    fn l2(&self) -> f32 {
        self.l2.unwrap_or(TRAIN_DEFAULTS.l2)
    }
    fn monitor(&self) -> usize {
        self.monitor.unwrap_or(TRAIN_DEFAULTS.monitor)
    }
}

pub(crate) fn parse_schedule(s: &str) -> CliResult<Schedule> {
    match s.split_once(':') {
        None if s == "constant" => Ok(Schedule::Constant),
        Some(("exp", v)) => {
            Ok(Schedule::Exponential { decay: v.parse().map_err(|_| format!("bad decay {v:?}"))? })
        }
        Some(("linear", v)) => {
            Ok(Schedule::Linear { final_lr: v.parse().map_err(|_| format!("bad final lr {v:?}"))? })
        }
        _ => Err(format!("--lr-schedule {s:?}: use constant, exp:DECAY or linear:FINAL").into()),
    }
}

/// The data options that can be checked without reading any file.
fn check_data_args(a: &TrainArgs) -> CliResult<()> {
    if !(a.scale.is_finite() && a.scale > 0.0) {
        return Err(format!("--scale {}: use a finite factor > 0", a.scale).into());
    }
    if !(a.valid_fraction.is_finite() && (0.0..1.0).contains(&a.valid_fraction)) {
        return Err(format!("--valid-fraction {}: use a fraction in [0, 1)", a.valid_fraction).into());
    }
    if a.data.is_none() {
        for (flag, set) in [
            ("--valid", a.valid.is_some()),
            ("--labels", a.labels.is_some()),
            ("--format", a.format.is_some()),
            ("--valid-fraction", crate::given("valid_fraction")),
            ("--binarize", a.binarize.is_some()),
            ("--scale", crate::given("scale")),
            ("--csv-labels", crate::given("csv_labels")),
        ] {
            if set {
                return Err(format!(
                    "{flag} applies to --data; the embedded MNIST subset is binary and has its own validation split"
                ).into());
            }
        }
    }
    if a.valid.is_some() && crate::given("valid_fraction") {
        return Err("--valid-fraction applies only without --valid".into());
    }
    Ok(())
}

fn load(a: &TrainArgs, path: &Path, labels: Option<&Path>) -> CliResult<Dataset> {
    let fmt = a.format.map(|f| match f {
        FormatArg::Idx => Format::Idx,
        FormatArg::Amat => Format::Amat,
        FormatArg::Csv => Format::Csv,
        FormatArg::Npy => Format::Npy,
    });
    let fmt = fmt.or_else(|| Format::from_path(path));
    let d = match fmt {
        Some(Format::Idx) => io::read_idx(path, labels),
        Some(Format::Csv) => {
            let l = match a.csv_labels {
                CsvLabelArg::None => CsvLabels::None,
                CsvLabelArg::First => CsvLabels::First,
                CsvLabelArg::Last => CsvLabels::Last,
            };
            io::read_csv(path, l, a.scale)
        }
        f => io::read_dataset(path, f),
    }?;
    match a.binarize {
        Some(how) => Ok(d.binarize(how, derive(a.seed, Purpose::Binarize))?),
        None => Ok(d),
    }
}

/// Training and validation sets as the options say.
pub(crate) fn datasets(a: &TrainArgs) -> CliResult<(Dataset, Option<Dataset>, String)> {
    check_data_args(a)?;
    let (mut train, valid, name) = match &a.data {
        None => {
            let s = io::embedded_mnist()?;
            (s.train, Some(s.valid), "embedded binarized MNIST (10,000 train / 2,000 valid)".to_string())
        }
        Some(p) => {
            let d = load(a, p, a.labels.as_deref())?;
            match &a.valid {
                Some(v) => {
                    let valid = load(a, v, None)?;
                    if valid.dim() != d.dim() {
                        return Err(format!(
                            "--valid {}: {} features, --data has {}",
                            v.display(),
                            valid.dim(),
                            d.dim()
                        )
                        .into());
                    }
                    if d.check_binary().is_ok()
                        && let Err(e) = valid.check_binary()
                    {
                        return Err(format!(
                            "--valid {}: {e} (the training data is binary; add --binarize)",
                            v.display()
                        )
                        .into());
                    }
                    (d, Some(valid), p.display().to_string())
                }
                None if a.valid_fraction > 0.0 && a.valid_fraction < 1.0 && d.len() >= 2 => {
                    let nv = ((d.len() as f64 * a.valid_fraction).round() as usize).clamp(1, d.len() - 1);
                    let (t, v) = d.split(d.len() - nv)?;
                    (t, Some(v), format!("{} (last {nv} held out)", p.display()))
                }
                None => (d, None, p.display().to_string()),
            }
        }
    };
    if let Some(n) = a.limit {
        if n == 0 || n > train.len() {
            return Err(format!("--limit {n}: the training set has {} examples", train.len()).into());
        }
        train = train.subset(0..n)?;
    }
    Ok((train, valid, name))
}

pub(crate) fn config(a: &TrainArgs) -> CliResult<TrainConfig> {
    Ok(TrainConfig::default()
        .n_hidden(a.hidden)
        .algorithm(match a.algorithm {
            AlgoArg::Cd => Algorithm::Cd { k: a.k },
            AlgoArg::Pcd => Algorithm::Pcd { k: a.k, chains: a.chains() },
            AlgoArg::Pt => {
                Algorithm::Pt { k: a.k, chains: a.chains(), replicas: a.replicas, beta_min: a.beta_min }
            }
        })
        .learning_rate(a.lr)
        .schedule(parse_schedule(a.lr_schedule())?)
        .optimizer(match a.optimizer {
            OptArg::Sgd => Optimizer::Sgd {
                initial: a.momentum,
                final_: a.final_momentum,
                switch_epoch: a.momentum_switch,
            },
            OptArg::Adam => Optimizer::Adam { beta1: 0.9, beta2: 0.999, eps: 1e-8 },
        })
        .l2(a.l2())
        .l1(a.l1)
        .batch_size(a.batch)
        .epochs(a.epochs())
        .shuffle(!a.no_shuffle)
        .visible_bias_from_data(!a.no_vbias_init)
        .weight_init_std(a.init_std)
        .sparsity(a.sparsity_target.map(|t| Sparsity {
            target: t,
            cost: a.sparsity_cost,
            decay: a.sparsity_decay,
        }))
        .max_weight(1e4)
        .probability_data(false)
        .centering(match a.centering.as_str() {
            "off" => None,
            r => Some(Centering {
                hidden_rate: r
                    .parse()
                    .map_err(|_| format!("--centering {r:?}: use off or a rate in (0, 1]"))?,
            }),
        })
        .fast_weights(a.fast_lr.map(|learning_rate| FastWeights { learning_rate, decay: a.fast_decay }))
        .ladder_step(a.adapt_ladder)
        .averaging(a.average.map(|decay| Averaging { decay, from_epoch: a.average_from }))
        .seed(a.seed))
}

/// `--resume`: the checkpoint's state, refusing other data and training
/// options given on the command line that differ from the checkpoint's
/// (unless --resume-anyway, which applies them).
fn resume(a: &TrainArgs, path: &Path, train_set: &Dataset) -> CliResult<train::TrainState> {
    let mut st = io::load_checkpoint(path)?;
    let asked = config(a)?;
    let (merged, changes) = merge_given(&st.config, &asked);
    if !changes.is_empty() && !a.resume_anyway {
        return Err(format!(
            "--resume: options given differ from the checkpoint's settings: {}; leave them out to continue \
             with the checkpoint's, or add --resume-anyway to change them",
            changes.join(", ")
        )
        .into());
    }
    st.config = merged;
    if a.resume_anyway {
        st.data = Some(train_set.fingerprint());
    }
    let done = st.epoch;
    let epochs = if crate::given("epochs") { a.epochs() } else { st.config.optim.epochs };
    if epochs < done {
        return Err(format!(
            "--resume: the checkpoint has already trained {done} epochs, more than --epochs {epochs}; pass \
             --epochs N with N ≥ {done}"
        )
        .into());
    }
    st.config.optim.epochs = epochs;
    Ok(st)
}

/// The message of a checkpoint that does not continue on this data.
fn resume_error(e: boltzmann::Error) -> String {
    format!("--resume: {e} (pass the --data, --limit and data options of the first run, or --resume-anyway)")
}

/// `train`'s trainer: this process's, or this rank's share of a `--mpi`
/// run (then every method is collective).
enum Run<'c> {
    One(Trainer, std::marker::PhantomData<&'c ()>),
    #[cfg(feature = "mpi")]
    Mpi(boltzmann::distributed::ShardedTrainer<'c, mpi::topology::SimpleCommunicator>),
}

impl<'c> Run<'c> {
    /// A fresh or resumed run, split over `world`'s ranks when given.
    fn start(
        a: &TrainArgs,
        train_set: &Dataset,
        #[cfg(feature = "mpi")] world: Option<&'c mpi::topology::SimpleCommunicator>,
    ) -> CliResult<Run<'c>> {
        let state = match &a.resume {
            None => None,
            Some(p) => Some(resume(a, p, train_set)?),
        };
        #[cfg(feature = "mpi")]
        if let Some(w) = world {
            use boltzmann::distributed::ShardedTrainer;
            return Ok(Run::Mpi(match state {
                None => ShardedTrainer::new(w, config(a)?, train_set)?,
                Some(st) => ShardedTrainer::resume(w, st, train_set).map_err(resume_error)?,
            }));
        }
        let t = match state {
            None => Trainer::new(config(a)?, train_set)?,
            Some(st) => Trainer::resume(st, train_set).map_err(resume_error)?,
        };
        Ok(Run::One(t, std::marker::PhantomData))
    }

    fn is_done(&self) -> bool {
        match self {
            Run::One(t, _) => t.is_done(),
            #[cfg(feature = "mpi")]
            Run::Mpi(t) => t.is_done(),
        }
    }

    fn epoch(&self) -> usize {
        match self {
            Run::One(t, _) => t.epoch(),
            #[cfg(feature = "mpi")]
            Run::Mpi(t) => t.epoch(),
        }
    }

    fn config(&self) -> &TrainConfig {
        match self {
            Run::One(t, _) => t.config(),
            #[cfg(feature = "mpi")]
            Run::Mpi(t) => t.config(),
        }
    }

    fn model(&self) -> std::borrow::Cow<'_, boltzmann::Rbm> {
        match self {
            Run::One(t, _) => t.model(),
            #[cfg(feature = "mpi")]
            Run::Mpi(t) => t.model(),
        }
    }

    fn run_epoch(
        &mut self,
        data: &Dataset,
        on_batch: impl FnMut(usize, usize),
    ) -> boltzmann::Result<train::EpochReport> {
        match self {
            Run::One(t, _) => t.run_epoch(data, on_batch),
            #[cfg(feature = "mpi")]
            Run::Mpi(t) => t.run_epoch(data, on_batch),
        }
    }

    /// The tempering ladder (PT only).
    fn ladder(&self) -> Option<Vec<f32>> {
        match self {
            Run::One(t, _) => t.state().tempering.as_ref().map(|t| t.betas().to_vec()),
            #[cfg(feature = "mpi")]
            Run::Mpi(_) => None,
        }
    }

    /// Writes the whole run's checkpoint (under `--mpi`: gathered to rank
    /// 0, which writes it).
    fn save_checkpoint(&self, path: &Path) -> CliResult<()> {
        match self {
            Run::One(t, _) => io::save_checkpoint(t.state(), path)?,
            #[cfg(feature = "mpi")]
            Run::Mpi(t) => {
                if let Some(st) = t.gather_state()? {
                    io::save_checkpoint(&st, path)?;
                }
            }
        }
        Ok(())
    }
}

/// The checkpoint's configuration with the training options given on the
/// command line that differ from it replaced, and those changes as
/// `--option old → new`.
fn merge_given(was: &TrainConfig, asked: &TrainConfig) -> (TrainConfig, Vec<String>) {
    let mut merged = was.clone();
    let mut changes = Vec::new();
    macro_rules! field {
        ($($field:ident).+, [$($flag:literal),+]) => {
            if was.$($field).+ != asked.$($field).+ && [$($flag),+].iter().any(|f| crate::given(f)) {
                let flags = [$(concat!("--", $flag)),+].join("/").replace('_', "-");
                changes.push(format!("{flags} ({:?} → {:?})", was.$($field).+, asked.$($field).+));
                merged.$($field).+ = asked.$($field).+.clone();
            }
        };
    }
    field!(n_hidden, ["hidden"]);
    field!(algorithm, ["algorithm", "k", "chains", "replicas", "beta_min"]);
    field!(optim.learning_rate, ["lr"]);
    field!(optim.schedule, ["lr_schedule"]);
    field!(optimizer, ["optimizer", "momentum", "final_momentum", "momentum_switch"]);
    field!(optim.l2, ["l2"]);
    field!(l1, ["l1"]);
    field!(optim.batch_size, ["batch"]);
    field!(shuffle, ["no_shuffle"]);
    field!(visible_bias_from_data, ["no_vbias_init"]);
    field!(weight_init_std, ["init_std"]);
    field!(sparsity, ["sparsity_target", "sparsity_cost", "sparsity_decay"]);
    field!(centering, ["centering"]);
    field!(fast_weights, ["fast_lr", "fast_decay"]);
    field!(ladder_step, ["adapt_ladder"]);
    field!(averaging, ["average", "average_from"]);
    field!(seed, ["seed"]);
    (merged, changes)
}

/// `curves.png` (panels top to bottom: pseudo-log-likelihood of the
/// training (blue) and validation (orange) monitors; reconstruction error;
/// free-energy gap valid − train; AIS log-probability (green, with
/// --ais-every); the persistent chains' autocorrelation time in updates
/// (red) and split R-hat (grey)) and `curves.csv` with the same numbers.
fn write_curves(history: &[[f64; 8]], first_epoch: usize, png: &Path, csv: &Path) -> CliResult<()> {
    let col = |k: usize| history.iter().map(|r| r[k]).collect::<Vec<f64>>();
    let cols: Vec<Vec<f64>> = (0..8).map(col).collect();
    let c = |k: usize, color: [u8; 3]| io::Curve { values: &cols[k], color };
    let has = |k: usize| cols[k].iter().any(|v| v.is_finite());
    let mut panels = Vec::new();
    if has(1) {
        panels.push(vec![c(1, [40, 90, 200]), c(2, [230, 130, 20])]);
    }
    if has(0) {
        panels.push(vec![c(0, [40, 90, 200])]);
    }
    if has(3) {
        panels.push(vec![c(3, [130, 50, 160])]);
    }
    if has(4) {
        panels.push(vec![c(4, [30, 150, 60])]);
    }
    if has(5) {
        panels.push(vec![c(5, [200, 40, 40])]);
        panels.push(vec![c(6, [120, 120, 120])]);
    }
    if panels.is_empty() {
        panels.push(vec![c(7, [40, 90, 200])]);
    }
    io::curves_png(png, &panels, 600, 150)?;
    let mut text = String::from(
        "epoch,recon_error,pseudo_ll,pseudo_ll_valid,free_energy_gap,ais_avg_log_prob,chain_iat,chain_split_rhat,learning_rate\n",
    );
    for (i, r) in history.iter().enumerate() {
        let f = |x: f64| if x.is_finite() { x.to_string() } else { String::new() };
        text += &format!("{}", first_epoch + i + 1);
        for &x in r {
            text += &format!(",{}", f(x));
        }
        text.push('\n');
    }
    Ok(io::write_atomic(csv, text.as_bytes())?)
}

fn head(d: &Dataset, n: usize) -> Option<Dataset> {
    (n > 0).then(|| d.subset(0..n.min(d.len())).ok()).flatten()
}

pub(crate) fn run(a: TrainArgs, bench: bool) -> CliResult<()> {
    let threads = a.threads.n;
    let ranks = crate::ranks::Ranks::new(a.mpi)?;
    let r = &ranks;
    ranks.finish(crate::with_threads(threads, move || run_in_pool(a, bench, r)))
}

/// Under `--mpi`: every rank must train the same run — settings, data and
/// checkpoint (an error on every rank otherwise).
fn agree_on_run(a: &TrainArgs, train_set: &Dataset, ranks: &crate::ranks::Ranks) -> CliResult<()> {
    let mut digest = format!("{:?} {:?}", config(a)?, train_set.fingerprint()).into_bytes();
    if let Some(p) = &a.resume {
        digest.extend(std::fs::read(p).map_err(|e| format!("--resume {}: {e}", p.display()))?);
    }
    ranks.agree("settings, data or checkpoint", boltzmann::checksum::checksum64(&digest))
}

/// The message of an epoch that failed, pointing to the last good
/// checkpoint when there is one.
fn failed_epoch(e: &boltzmann::Error, ckpt: Option<&PathBuf>) -> String {
    match ckpt.filter(|c| c.exists()) {
        Some(c) => format!(
            "{e}. The last good checkpoint is {0}: continue from it with --resume {0} --lr LOWER --resume-anyway.",
            c.display()
        ),
        None => format!("{e}."),
    }
}

fn run_in_pool(a: TrainArgs, bench: bool, ranks: &crate::ranks::Ranks) -> CliResult<()> {
    let ckpt = a.out.join("checkpoint.safetensors");
    let root = ranks.is_root();
    if !bench && root {
        crate::out::dir(&a.out)?;
        crate::out::checkpoint(&ckpt)?;
        for f in ["model.safetensors", "curves.png", "curves.csv", "filters.png", "samples.png"] {
            crate::out::file(&a.out.join(f))?;
        }
    }
    let (train_set, valid, data_name) = datasets(&a)?;
    if a.mpi {
        agree_on_run(&a, &train_set, ranks)?;
    }
    #[cfg(feature = "mpi")]
    let world = ranks.world();
    let mut trainer = Run::start(
        &a,
        &train_set,
        #[cfg(feature = "mpi")]
        world.as_ref(),
    )?;
    let mon_train = head(&train_set, a.monitor());
    let mon_valid = valid.as_ref().and_then(|v| head(v, a.monitor()));
    let threads = rayon::current_num_threads();
    if !a.json && root {
        let c = trainer.config();
        let ranks = if ranks.ranks() > 1 { format!(" × {} ranks", ranks.ranks()) } else { String::new() };
        note!(
            "training {}×{} RBM on {data_name}: {} examples, {:?}, lr {}, batch {}, {} threads{ranks}, {}",
            train_set.dim(),
            c.n_hidden,
            train_set.len(),
            c.algorithm,
            c.optim.learning_rate,
            c.optim.batch_size,
            threads,
            boltzmann::active_isa()
        );
    }
    let show_bar = !a.quiet && !a.json && root && std::io::stderr().is_terminal();
    let mut epoch_times = Vec::new();
    let mut history: Vec<[f64; 8]> = Vec::new();
    let mut last = String::new();
    let mut ais_base: Option<boltzmann::Result<Vec<f32>>> = None;
    let t_all = Instant::now();
    while !trainer.is_done() {
        let bar = progress_bar(show_bar);
        bar.set_message(format!("{}/{}{last}", trainer.epoch() + 1, trainer.config().optim.epochs));
        let report = trainer.run_epoch(&train_set, |done, total| {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        });
        bar.finish_and_clear();
        let report = report.map_err(|e| failed_epoch(&e, (!bench).then_some(&ckpt)))?;
        epoch_times.push(report.seconds);
        if !root {
            if !bench {
                trainer.save_checkpoint(&ckpt)?;
            }
            continue;
        }
        let metrics = match &mon_train {
            Some(mt) => Some(train::metrics::evaluate(&trainer.model(), mt, mon_valid.as_ref())?),
            None => None,
        };
        if let Some(m) = &metrics {
            last = format!(" (last: recon {:.1}, pseudo-LL {:.1})", m.recon_error, m.pseudo_ll);
        }
        let ais = if a.ais_every > 0 && (report.epoch + 1) % a.ais_every == 0 {
            let base = ais_base.get_or_insert_with(|| eval::base_rate_biases(&train_set));
            let on = mon_valid.as_ref().or(mon_train.as_ref()).unwrap_or(&train_set);
            Some(ais_monitor(&a, &trainer.model(), base.as_ref().map_err(|e| e.clone())?, on)?)
        } else {
            None
        };
        let pl_sklearn = match &mon_train {
            Some(mt) if bench => {
                Some(train::metrics::pseudo_log_likelihood_stochastic(&trainer.model(), mt, 0)?)
            }
            _ => None,
        };
        let ladder = trainer.ladder();
        let line = EpochLine { report: &report, metrics: metrics.as_ref(), pl_sklearn, ais, threads, ladder };
        history.push(line.history_row());
        outln!("{}", if a.json { line.json() } else { line.text() });
        if !bench {
            trainer.save_checkpoint(&ckpt)?;
        }
    }
    if !root {
        return Ok(());
    }
    if bench {
        print_bench(&epoch_times, a.json, threads, train_set.len())?;
        return Ok(());
    }
    let first = trainer.epoch() - history.len();
    let mut written = write_outputs(&a, &trainer.model(), &train_set, &history, first)?;
    if !history.is_empty() {
        written.insert(1, ckpt.display().to_string());
    }
    if !a.json {
        note!("done in {:.1} s; wrote:", t_all.elapsed().as_secs_f64());
        for w in written {
            note!("  {w}");
        }
    }
    Ok(())
}

fn progress_bar(show: bool) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(
        None,
        if show { ProgressDrawTarget::stderr() } else { ProgressDrawTarget::hidden() },
    );
    bar.set_style(
        ProgressStyle::with_template("epoch {msg} [{bar:30}] {pos}/{len} batches {elapsed}<{eta}")
            .expect("static template")
            .progress_chars("=> "),
    );
    bar
}

/// `--ais-every`: a cheap AIS estimate of log Z and the average
/// log-probability of `on`.
fn ais_monitor(a: &TrainArgs, rbm: &boltzmann::Rbm, base: &[f32], on: &Dataset) -> CliResult<(f64, f64)> {
    let cfg =
        eval::AisConfig::default().runs(a.ais_runs).schedule(eval::linear_schedule(a.ais_steps)).seed(a.seed);
    let est = eval::ais(rbm, base, &cfg)?;
    let avg = eval::average_log_prob(rbm, on, est.log_z)?;
    Ok((est.log_z, avg))
}

/// What one epoch reports, as a JSON object, a text line and a row of the
/// learning curves.
struct EpochLine<'a> {
    report: &'a train::EpochReport,
    metrics: Option<&'a train::Metrics>,
    pl_sklearn: Option<f64>,
    /// AIS `(log Z, average log-probability)`.
    ais: Option<(f64, f64)>,
    threads: usize,
    /// Parallel tempering: the inverse temperatures for the next epoch.
    ladder: Option<Vec<f32>>,
}

impl EpochLine<'_> {
    /// Recon, pseudo-LL train, pseudo-LL valid, free-energy gap, AIS
    /// log-prob, chain τ, chain split R-hat, learning rate (NaN where absent).
    fn history_row(&self) -> [f64; 8] {
        let (nan, m, r) = (f64::NAN, self.metrics, self.report);
        [
            m.map_or(nan, |m| m.recon_error),
            m.map_or(nan, |m| m.pseudo_ll),
            m.and_then(|m| m.pseudo_ll_valid).unwrap_or(nan),
            m.and_then(|m| m.free_energy_gap()).unwrap_or(nan),
            self.ais.map_or(nan, |(_, lp)| lp),
            r.chains.map_or(nan, |d| d.iat_mean),
            r.chains.map_or(nan, |d| d.split_rhat),
            r.learning_rate as f64,
        ]
    }

    fn json(&self) -> String {
        let (report, m) = (self.report, self.metrics);
        let valid = m.and_then(|m| Some((m.free_energy_valid?, m.free_energy_gap()?, m.pseudo_ll_valid?)));
        let chains = report.chains.as_ref().map(|d| {
            crate::out::raw(jobj!(
                "chains" = d.chains,
                "length" = d.length,
                "iat_mean" = d.iat_mean,
                "iat_max" = d.iat_max,
                "ess" = d.ess,
                "split_rhat" = d.split_rhat,
            ))
        });
        let tempering = (!report.swap_rates.is_empty()).then(|| {
            let (trips, mean) = report.round_trips;
            crate::out::raw(jobj!(
                "swap_rates" = report.swap_rates,
                "ladder_next_epoch" = self.ladder,
                "round_trips" = trips,
                "mean_round_trip_sweeps" = mean,
            ))
        });
        jobj!(
            "epoch" = report.epoch + 1,
            "seconds" = report.seconds,
            "learning_rate" = report.learning_rate,
            "threads" = self.threads,
            "recon_error"? = m.map(|m| m.recon_error),
            "free_energy_train"? = m.map(|m| m.free_energy_train),
            "pseudo_ll"? = m.map(|m| m.pseudo_ll),
            "free_energy_valid"? = valid.map(|v| v.0),
            "free_energy_gap"? = valid.map(|v| v.1),
            "pseudo_ll_valid"? = valid.map(|v| v.2),
            "pseudo_ll_sklearn"? = self.pl_sklearn,
            "ais_log_z"? = self.ais.map(|a| a.0),
            "ais_avg_log_prob"? = self.ais.map(|a| a.1),
            "chain_diagnostics"? = chains,
            "tempering"? = tempering,
        )
    }

    fn text(&self) -> String {
        let report = self.report;
        let mut line = format!("epoch {:>3}: {:.3} s", report.epoch + 1, report.seconds);
        if let Some(m) = self.metrics {
            line += &format!(", recon {:.2}, pseudo-LL {:.2}", m.recon_error, m.pseudo_ll);
            if let (Some(gap), Some(plv)) = (m.free_energy_gap(), m.pseudo_ll_valid) {
                line += &format!(" (valid {plv:.2}), free-energy gap {gap:.2}");
            }
        }
        if let Some(p) = self.pl_sklearn {
            line += &format!(", sklearn-style PL {p:.2}");
        }
        if let Some((z, lp)) = self.ais {
            line += &format!(", AIS log Z {z:.2}, log-prob {lp:.2}");
        }
        if let Some(d) = &report.chains {
            line += &format!(", chains: τ {:.1} updates, R̂ {:.3}", d.iat_mean, d.split_rhat);
        }
        if !report.swap_rates.is_empty() {
            let lo = report.swap_rates.iter().cloned().fold(f64::INFINITY, f64::min);
            line += &format!(", swaps ≥ {:.0} %, {} round trips", 100.0 * lo, report.round_trips.0);
        }
        line
    }
}

fn print_bench(epoch_times: &[f64], json: bool, threads: usize, examples: usize) -> CliResult<()> {
    let mut t = epoch_times.to_vec();
    t.sort_by(|x, y| x.total_cmp(y));
    let med = t[t.len() / 2];
    if json {
        outln!(
            "{}",
            jobj!(
                "bench" = "train",
                "epochs" = t.len(),
                "median_epoch_s" = med,
                "min_epoch_s" = t[0],
                "threads" = threads,
                "isa" = boltzmann::active_isa().name(),
            )
        );
    } else {
        outln!(
            "bench train: median {:.4} s/epoch (min {:.4}) over {} epochs, {examples} examples, {threads} threads, {}",
            med,
            t[0],
            t.len(),
            boltzmann::active_isa()
        );
    }
    Ok(())
}

/// The model, the learning curves (of the epochs of this run, the first
/// being `first_epoch + 1`), filters and samples; returns the paths written.
fn write_outputs(
    a: &TrainArgs,
    rbm: &boltzmann::Rbm,
    train_set: &Dataset,
    history: &[[f64; 8]],
    first_epoch: usize,
) -> CliResult<Vec<String>> {
    let model_path = a.out.join("model.safetensors");
    io::save_rbm(rbm, &model_path)?;
    let mut written = vec![model_path.display().to_string()];
    if !history.is_empty() {
        let (cpath, tpath) = (a.out.join("curves.png"), a.out.join("curves.csv"));
        write_curves(history, first_epoch, &cpath, &tpath)?;
        written.push(cpath.display().to_string());
        written.push(tpath.display().to_string());
    }
    if let Some((r, c)) = train_set.image_shape() {
        let fpath = a.out.join("filters.png");
        io::filters_png(&fpath, rbm, r, c, 100, 10)?;
        let spath = a.out.join("samples.png");
        crate::sample::sample_grid(rbm, (r, c), 10, 10, 1000, a.seed, &spath, None, None, false)?;
        written.push(fpath.display().to_string());
        written.push(spath.display().to_string());
    }
    Ok(written)
}
