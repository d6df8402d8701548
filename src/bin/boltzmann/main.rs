//! The `boltzmann` command-line tool: parses arguments, calls the library,
//! prints results or a one-line error, and sets the exit code.

// One folder or file per command family; `shared` holds what several use
// (argument groups, output and error handling, MPI ranks, the classifier
// read-out), re-exported here as `crate::limits`, `crate::out`, ….
#[macro_use]
mod shared;
mod bench;
mod crbm;
mod dbn;
mod ebm;
mod evaluate;
mod langevin;
mod sample;
mod train;

use shared::{classifier, error, limits, out, ranks};

use bench::{GibbsBenchConfig, GibbsBenchReport};
use boltzmann::{Isa, simd};
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
pub(crate) use error::CliResult;
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(name = "boltzmann", version, about = "Learning and sampling energy-based models, fast")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Throughput benchmarks.
    Bench {
        #[command(subcommand)]
        what: BenchCmd,
    },
    /// Print the CPU features and the SIMD path in use.
    Info,
    /// Train an RBM by CD-k or PCD (embedded MNIST subset by default).
    Train(Box<train::TrainArgs>),
    /// Run chains from a model and write a PNG grid of samples.
    Sample(sample::SampleArgs),
    /// Write a PNG grid of each hidden unit's weights.
    Filters(sample::FiltersArgs),
    /// log Z (exact or AIS), test log-probability, pseudo-likelihood.
    Eval(evaluate::EvalArgs),
    /// Convolutional RBMs with probabilistic max-pooling: training,
    /// sampling, filter pictures.
    Crbm {
        #[command(subcommand)]
        what: crbm::CrbmCmd,
    },
    /// Deep Belief Networks: greedy training, sampling, variational bound.
    Dbn {
        #[command(subcommand)]
        what: dbn::DbnCmd,
    },
    /// Langevin, MALA, Du & Mordatch or annealed Langevin sampling of a
    /// built-in 2-D energy or a trained continuous model; PNG of samples.
    Langevin(langevin::LangevinArgs),
    /// Continuous energy models: MLP energies (Langevin + replay buffer),
    /// score networks (denoising score matching), Gaussian–Bernoulli RBMs.
    Ebm {
        #[command(subcommand)]
        what: ebm::EbmCmd,
    },
}

#[derive(Subcommand, Debug)]
enum BenchCmd {
    /// Training throughput (s/epoch) and pseudo-likelihood, e.g. against
    /// scikit-learn's BernoulliRBM on the same data.
    Train(Box<train::TrainArgs>),
    /// Langevin steps on a random Gaussian–Bernoulli RBM over many chains
    /// (the step `../shared/refbench/jax_gibbs.py` times).
    Langevin(langevin::BenchLangevinArgs),
    /// Block-Gibbs sweeps of a random convolutional RBM with probabilistic
    /// max-pooling over many chains (`--naive`: beside its f64 twin).
    Conv(bench::conv::BenchConvArgs),
    /// Block-Gibbs sweeps of a random RBM over an ensemble of chains.
    Gibbs {
        /// Visible units D.
        #[arg(long, value_parser = crate::limits::count, default_value_t = 784)]
        visible: usize,
        /// Hidden units H.
        #[arg(long, value_parser = crate::limits::count, default_value_t = 500)]
        hidden: usize,
        /// Number of chains B.
        #[arg(long, value_parser = crate::limits::count, default_value_t = 1000)]
        chains: usize,
        #[command(flatten)]
        threads: crate::limits::Threads,
        /// Sweeps per timed run (default: about 0.3 s worth).
        #[arg(long, value_parser = crate::limits::steps_or_auto, default_value_t = 0)]
        sweeps: usize,
        /// Timed runs; the median is reported.
        #[arg(long, value_parser = crate::limits::repeats, default_value_t = 7)]
        repeats: usize,
        /// Also time the products, RNG and sampling stages alone.
        #[arg(long)]
        breakdown: bool,
        /// SIMD path for the element-wise kernels: scalar, avx2, avx512.
        #[arg(long)]
        isa: Option<String>,
        /// Seed for the model and chains.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
        /// Sweep this model (safetensors) instead of a random one.
        #[arg(long)]
        model: Option<std::path::PathBuf>,
        /// Start the chains from these binary rows (cycled; same formats as
        /// `train --data`).
        #[arg(long)]
        data: Option<std::path::PathBuf>,
        /// Bit-packed chains (136 bytes per chain at 784 visible units):
        /// for millions of chains; reports the peak resident memory.
        #[arg(long)]
        packed: bool,
        /// Keep each chain's products between sweeps and update them by the
        /// units that changed (`Chains::sweep_incremental`): faster on
        /// trained models; f32 chains only.
        #[arg(long)]
        incremental: bool,
        /// Parallel tempering with this many temperatures per chain (--chains
        /// at each; with --packed on bit-packed replicas); compare with plain
        /// sweeps of chains × replicas chains.
        #[arg(long, value_parser = crate::limits::count_or_none, default_value_t = 0)]
        replicas: usize,
        /// Lowest inverse temperature of the tempering ladder.
        #[arg(long, allow_negative_numbers = true, default_value_t = 0.1)]
        beta_min: f32,
        /// Split the --chains over MPI ranks (run under `mpirun -np N`; a
        /// build with `--features mpi`): the same ensemble as one process,
        /// each rank sweeping its share with --threads threads; rank 0
        /// prints the rate of the slowest rank.
        #[arg(long)]
        mpi: bool,
    },
}

/// The parsed command line, to tell options given from defaults.
static MATCHES: std::sync::OnceLock<clap::ArgMatches> = std::sync::OnceLock::new();

/// Whether option `id` (a field name of the command's arguments) was given
/// on the command line rather than taken from its default.
pub(crate) fn given(id: &str) -> bool {
    let Some(mut m) = MATCHES.get() else { return false };
    while let Some((_, sub)) = m.subcommand() {
        m = sub;
    }
    m.try_contains_id(id).unwrap_or(false)
        && m.value_source(id) == Some(clap::parser::ValueSource::CommandLine)
}

fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(c) => c,
        Err(e) => e.exit(),
    };
    let _ = MATCHES.set(matches);
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            out::roll_back();
            let (code, message) = out::failure_exit(e.message());
            if let Some(m) = message {
                note!("boltzmann: error: {m}");
            }
            ExitCode::from(code)
        }
    }
}

/// Runs `f` on a rayon pool of `threads` threads (all cores if `None`).
pub(crate) fn with_threads<T>(threads: Option<usize>, f: impl FnOnce() -> CliResult<T> + Send) -> CliResult<T>
where
    T: Send,
{
    let n = threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let max = limits::max_threads();
    if n == 0 || n > max {
        return Err(format!("--threads {n}: use 1..={max} (4 × the cores, at least 64)").into());
    }
    let pool = rayon::ThreadPoolBuilder::new().num_threads(n).build()?;
    pool.install(f)
}

fn run(cli: Cli) -> CliResult<()> {
    match cli.cmd {
        Cmd::Train(a) => train::run(*a, false),
        Cmd::Bench { what: BenchCmd::Train(a) } => train::run(*a, true),
        Cmd::Sample(a) => sample::sample(a),
        Cmd::Filters(a) => sample::filters(a),
        Cmd::Eval(a) => evaluate::run(a),
        Cmd::Dbn { what } => dbn::run(what),
        Cmd::Crbm { what } => crbm::run(what),
        Cmd::Langevin(a) => langevin::run(a),
        Cmd::Ebm { what } => ebm::run(what),
        Cmd::Bench { what: BenchCmd::Langevin(a) } => langevin::bench(a),
        Cmd::Bench { what: BenchCmd::Conv(a) } => bench::conv::run(a),
        Cmd::Info => {
            outln!("detected: {}", simd::detected_isa());
            outln!("active:   {}", simd::active_isa());
            let avail: Vec<_> = Isa::available().iter().map(|i| i.name()).collect();
            outln!("available: {}", avail.join(", "));
            Ok(())
        }
        Cmd::Bench {
            what:
                BenchCmd::Gibbs {
                    visible,
                    hidden,
                    chains,
                    threads,
                    sweeps,
                    repeats,
                    breakdown,
                    isa,
                    seed,
                    json,
                    model,
                    data,
                    packed,
                    incremental,
                    replicas,
                    beta_min,
                    mpi,
                },
        } => {
            let isa = match isa {
                None => None,
                Some(name) => Some(
                    Isa::from_name(&name)
                        .ok_or_else(|| format!("unknown --isa {name:?} (use scalar, avx2 or avx512)"))?,
                ),
            };
            let mut cfg = GibbsBenchConfig {
                n_visible: visible,
                n_hidden: hidden,
                chains,
                sweeps,
                repeats,
                breakdown,
                seed,
                isa,
                packed,
                incremental,
                replicas,
                beta_min,
                ..GibbsBenchConfig::default()
            };
            if let Some(p) = &model {
                cfg.model = Some(boltzmann::io::load_rbm(p)?);
            }
            if let Some(p) = &data {
                cfg.start = Some(boltzmann::io::read_dataset(p, None)?);
            }
            if let Some(t) = threads.n {
                cfg.threads = t;
            }
            if mpi {
                return bench::mpi::gibbs(&cfg, json);
            }
            let r = bench::gibbs(&cfg)?;
            if json {
                outln!("{}", to_json(&r));
            } else {
                print_text(&r)?;
            }
            Ok(())
        }
    }
}

fn print_text(r: &GibbsBenchReport) -> CliResult<()> {
    let (d, h, b) = r.shape;
    outln!("gibbs D={d} H={h} B={b}  threads={} isa={} block_rows={}", r.threads, r.isa, r.block_rows);
    outln!(
        "  {:.2} sweeps/s (range {:.2}–{:.2}, {} runs × {} sweeps)",
        r.sweeps_per_s,
        r.range.0,
        r.range.1,
        r.repeats,
        r.sweeps
    );
    outln!("  {:.3} M chain-sweeps/s", r.chain_sweeps_per_s() / 1e6);
    outln!("  {:.1} M unit-updates/s", r.unit_updates_per_s() / 1e6);
    outln!("  {:.1} effective GFLOP/s (4·B·D·H per sweep)", r.gflops());
    outln!("  {} bytes of state per chain", r.bytes_per_chain);
    if r.replicas > 1 {
        let (lo, hi) = r.swap_rates.iter().fold((1.0f64, 0.0f64), |(a, b), &x| (a.min(x), b.max(x)));
        outln!(
            "  tempering: {} temperatures × {} chains, swap acceptance {lo:.3}–{hi:.3}",
            r.replicas,
            b / r.replicas
        );
    }
    if r.packed {
        outln!("  bit-packed states; visible density {:.3}", r.densities.0);
    } else {
        outln!("  state densities: visible {:.3}, hidden {:.3}", r.densities.0, r.densities.1);
    }
    if let Some(b) = r.peak_rss_bytes {
        outln!("  peak resident memory {:.1} MB", b as f64 / 1e6);
    }
    if let Some(bd) = &r.breakdown {
        let ms = 1e3 / r.sweeps_per_s;
        outln!(
            "  time per sweep {:.3} ms: products {:.1}%, rng {:.1}%, sampling (bias+sigmoid+compare) {:.1}%",
            ms,
            100.0 * bd.products,
            100.0 * bd.rng,
            100.0 * bd.sampling
        );
    }
    Ok(())
}

fn to_json(r: &GibbsBenchReport) -> String {
    let (d, h, b) = r.shape;
    let tempered = r.replicas > 1;
    let breakdown = r
        .breakdown
        .as_ref()
        .map(|bd| out::raw(jobj!("products" = bd.products, "rng" = bd.rng, "sampling" = bd.sampling)));
    jobj!(
        "bench" = "gibbs",
        "n_visible" = d,
        "n_hidden" = h,
        "chains" = b,
        "threads" = r.threads,
        "isa" = r.isa.name(),
        "block_rows" = r.block_rows,
        "sweeps" = r.sweeps,
        "repeats" = r.repeats,
        "sweeps_per_s" = r.sweeps_per_s,
        "sweeps_per_s_min" = r.range.0,
        "sweeps_per_s_max" = r.range.1,
        "chain_sweeps_per_s" = r.chain_sweeps_per_s(),
        "unit_updates_per_s" = r.unit_updates_per_s(),
        "gflops" = r.gflops(),
        "bytes_per_chain" = r.bytes_per_chain,
        "packed" = r.packed,
        "incremental" = r.incremental,
        "density_visible" = r.densities.0,
        "density_hidden" = r.densities.1,
        "peak_rss_bytes" = r.peak_rss_bytes,
        "breakdown_fraction"? = breakdown,
        "replicas"? = tempered.then_some(r.replicas),
        "swap_rates"? = tempered.then_some(&r.swap_rates),
    )
}
