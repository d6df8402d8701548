//! `boltzmann eval`: log Z (exact when one side is small, otherwise AIS
//! with its interval and a conservative RAISE estimate beside it), average
//! log-probability, pseudo-likelihood and reconstruction error of a model on
//! a data set.

use crate::CliResult;
use crate::ranks::Ranks;
use boltzmann::data::Dataset;
use boltzmann::eval::{self, AisConfig, RaiseConfig};
use boltzmann::io;
use boltzmann::rng::{Purpose, derive};
use boltzmann::train::metrics;
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Instant;

/// Options of `eval`.
#[derive(Args, Debug)]
pub(crate) struct EvalArgs {
    /// Model file (safetensors).
    #[arg(long)]
    model: PathBuf,
    /// Test data (binary; same formats as `train --data`); default: the
    /// embedded test split (2,000 digits).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Data for the AIS base-rate model (default: the embedded training
    /// split, or --data).
    #[arg(long)]
    base_data: Option<PathBuf>,
    /// Binarize non-binary data at 0.5.
    #[arg(long)]
    binarize: bool,
    /// AIS runs.
    #[arg(long, value_parser = crate::limits::runs, default_value_t = 100)]
    ais_runs: usize,
    /// AIS schedule: "default" (Salakhutdinov & Murray, 14,500 βs),
    /// "default:F" (the same shape with F × 14,500 βs) or "linear:N".
    #[arg(long, default_value = "default")]
    schedule: String,
    /// Examples (the first N of --data) for the conservative RAISE estimate
    /// (reverse annealing; one chain per example; 0: skip). Run with AIS
    /// only: exact log Z needs no bound.
    #[arg(long, value_parser = crate::limits::runs_or_none, default_value_t = 500)]
    raise_examples: usize,
    /// RAISE chains per example.
    #[arg(long, value_parser = crate::limits::runs, default_value_t = 1)]
    raise_runs: usize,
    /// RAISE schedule (same forms as --schedule; default: --schedule).
    #[arg(long)]
    raise_schedule: Option<String>,
    /// No progress bars.
    #[arg(long)]
    quiet: bool,
    /// Use AIS even when exact log Z is feasible.
    #[arg(long)]
    force_ais: bool,
    /// Largest smaller side for exact log Z (2^N states).
    #[arg(long, value_parser = crate::limits::count_or_none, default_value_t = 25)]
    exact_max: usize,
    /// Examples used for pseudo-likelihood and reconstruction error.
    #[arg(long, value_parser = crate::limits::count, default_value_t = 1000)]
    monitor: usize,
    /// Seed of AIS and the stochastic pseudo-likelihood.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[command(flatten)]
    threads: crate::limits::Threads,
    /// One JSON object instead of text.
    #[arg(long)]
    json: bool,
    /// Split the AIS runs and the RAISE examples over the ranks of
    /// `mpirun -np N` (build with `--features mpi`): the same estimates, bit
    /// for bit, as one process; rank 0 prints.
    #[arg(long)]
    mpi: bool,
}

pub(crate) fn parse_schedule(s: &str) -> CliResult<Vec<f64>> {
    match s.split_once(':') {
        None if s == "default" => Ok(eval::default_schedule()),
        Some(("linear", n)) => match n.parse::<usize>() {
            Ok(n) if (1..=crate::limits::MAX_AIS_STEPS).contains(&n) => Ok(eval::linear_schedule(n)),
            _ => Err(format!("bad schedule {s:?}: linear:N needs N in 1..={}", crate::limits::MAX_AIS_STEPS)
                .into()),
        },
        Some(("default", f)) => match f.parse::<usize>() {
            Ok(f) if (1..=100).contains(&f) => Ok(eval::scaled_default_schedule(f)),
            _ => Err(format!("bad schedule {s:?}: default:F needs F in 1..=100").into()),
        },
        _ => Err(format!("schedule {s:?}: use default, default:F (F × 14,500 βs) or linear:N").into()),
    }
}

/// Mean and standard error of the mean.
fn mean_se(x: &[f64]) -> (f64, f64) {
    let n = x.len() as f64;
    let m = x.iter().sum::<f64>() / n;
    let se = if x.len() > 1 {
        (x.iter().map(|y| (y - m).powi(2)).sum::<f64>() / (n - 1.0)).sqrt() / n.sqrt()
    } else {
        0.0
    };
    (m, se)
}

pub(crate) fn bar(show: bool, len: u64, what: &str) -> ProgressBar {
    let b = ProgressBar::with_draw_target(
        Some(len),
        if show { ProgressDrawTarget::stderr() } else { ProgressDrawTarget::hidden() },
    );
    b.set_style(
        ProgressStyle::with_template(&format!("{what} [{{bar:30}}] {{percent}}% {{elapsed}}<{{eta}}"))
            .expect("valid template"),
    );
    b
}

pub(crate) fn load(p: &std::path::Path, binarize: bool) -> CliResult<Dataset> {
    let d = io::read_dataset(p, None)?;
    let d = if binarize { d.binarize_threshold(0.5)? } else { d };
    d.check_binary().map_err(|e| format!("{}: {e} (pass --binarize)", p.display()))?;
    Ok(d)
}

pub(crate) fn run(a: EvalArgs) -> CliResult<()> {
    let threads = a.threads.n;
    let ranks = Ranks::new(a.mpi)?;
    let ann = &ranks;
    ranks.finish(crate::with_threads(threads, move || run_in_pool(a, ann)))
}

/// The test examples and the data whose base rates start AIS.
fn eval_data(a: &EvalArgs) -> CliResult<(Dataset, Dataset)> {
    Ok(match &a.data {
        Some(p) => {
            let t = load(p, a.binarize)?;
            let b = match &a.base_data {
                Some(bp) => load(bp, a.binarize)?,
                None => t.clone(),
            };
            (t, b)
        }
        None => {
            let s = io::embedded_mnist()?;
            let b = match &a.base_data {
                Some(bp) => load(bp, a.binarize)?,
                None => s.train,
            };
            (s.test, b)
        }
    })
}

/// What `eval` computed.
struct EvalReport {
    log_z: f64,
    /// AIS: the ±3σ interval and `log` of the standard error of `Ẑ`.
    interval: Option<(f64, f64, f64)>,
    method: String,
    z_seconds: f64,
    avg: f64,
    examples: usize,
    /// RAISE: examples, estimate, AIS on the same examples, distributions,
    /// seconds.
    raise: Option<RaiseReport>,
    pl: f64,
    pl_sk: f64,
    recon: f64,
    n_visible: usize,
}

/// Under `--mpi`: every rank must evaluate the same model on the same data
/// with the same settings (an error on every rank otherwise).
fn agree_on_eval(
    a: &EvalArgs,
    rbm: &boltzmann::Rbm,
    test: &Dataset,
    base: &Dataset,
    ann: &Ranks,
) -> CliResult<()> {
    let digest = format!(
        "{:?} {:?} {:?} {} {} {} {} {} {:?}",
        boltzmann::checksum::checksum64(&io::rbm_bytes(rbm)),
        test.fingerprint(),
        base.fingerprint(),
        a.ais_runs,
        a.schedule,
        a.raise_examples,
        a.raise_runs,
        a.seed,
        a.raise_schedule
    );
    ann.agree("model, data or settings", boltzmann::checksum::checksum64(digest.as_bytes()))?;
    Ok(())
}

fn run_in_pool(a: EvalArgs, ann: &Ranks) -> CliResult<()> {
    let rbm = match io::ModelFile::load(&a.model)? {
        io::ModelFile::Rbm(r) => r,
        io::ModelFile::Energy(io::EnergyModel::GaussianRbm(_)) if a.mpi => {
            return Err("--mpi: AIS of Gaussian–Bernoulli RBMs runs in one process (drop --mpi)".into());
        }
        io::ModelFile::Energy(io::EnergyModel::GaussianRbm(m)) => return gaussian(&a, &m),
        other => {
            return Err(format!(
                "{}: a {:?} file, expected an RBM (kind \"rbm\", from `train`) or a Gaussian–Bernoulli RBM \
                 (kind \"gb-rbm\", from `ebm train --model gb-rbm`){}",
                a.model.display(),
                other.kind(),
                if other.kind().ends_with("dbn") { "; for DBNs use `dbn eval`" } else { "" }
            )
            .into());
        }
    };
    let (test, base) = eval_data(&a)?;
    if a.mpi {
        agree_on_eval(&a, &rbm, &test, &base, ann)?;
    }
    if test.dim() != rbm.n_visible() {
        return Err(format!(
            "data has {} features but the model's n_visible is {}",
            test.dim(),
            rbm.n_visible()
        )
        .into());
    }
    let small = rbm.n_visible().min(rbm.n_hidden());
    let use_ais = small > a.exact_max || a.force_ais;
    // Parse everything before the long computations start.
    let schedule = parse_schedule(&a.schedule).map_err(|e| format!("--schedule: {e}"))?;
    let raise_schedule = match &a.raise_schedule {
        Some(s) => parse_schedule(s).map_err(|e| format!("--raise-schedule: {e}"))?,
        None => schedule.clone(),
    };
    if use_ais && a.raise_examples > 0 && a.raise_runs == 0 {
        return Err("--raise-runs: invalid runs_per_example: need at least one".into());
    }
    if use_ais && a.ais_runs < ann.ranks() {
        return Err(format!(
            "--mpi: {} AIS runs over {} ranks: need at least one per rank",
            a.ais_runs,
            ann.ranks()
        )
        .into());
    }
    let show = !a.quiet && !a.json && ann.is_root() && std::io::stderr().is_terminal();
    let t0 = Instant::now();
    let mut base_bias = Vec::new();
    let (log_z, interval, method) = if !use_ais {
        let pb = bar(show, 1u64 << small.min(63), "exact");
        let z = eval::log_partition_exact_with_progress(&rbm, &|k| pb.set_position(k))?;
        pb.finish_and_clear();
        (z, None, "exact".to_string())
    } else {
        base_bias = eval::base_rate_biases(&base)?;
        let n = schedule.len() - 1;
        let pb = bar(show, n as u64, "AIS  ");
        let cfg = AisConfig::default().runs(a.ais_runs).schedule(schedule).seed(a.seed);
        let est = ann.ais(&rbm, &base_bias, &cfg, &|k| pb.set_position(k))?;
        pb.finish_and_clear();
        let ranks = if ann.ranks() > 1 { format!(", {} ranks", ann.ranks()) } else { String::new() };
        (
            est.log_z,
            Some((est.log_z_low, est.log_z_high, est.log_std_err)),
            format!("AIS ({} runs, {n} distributions{ranks})", a.ais_runs),
        )
    };
    let z_seconds = t0.elapsed().as_secs_f64();
    let avg = eval::average_log_prob(&rbm, &test, log_z)?;
    // The conservative side: RAISE on the first N examples, with the forward
    // estimate on the same examples beside it.
    let raise = if use_ais && a.raise_examples > 0 {
        let t1 = Instant::now();
        let sub = test.subset(0..a.raise_examples.min(test.len()))?;
        let k = raise_schedule.len() as u64 - 1;
        let pb = bar(show, k * (sub.len() * a.raise_runs.max(1)) as u64, "RAISE");
        let cfg = RaiseConfig::default()
            .runs_per_example(a.raise_runs)
            .schedule(raise_schedule)
            .seed(derive(a.seed, Purpose::Raise));
        let est = ann.raise(&rbm, &base_bias, &sub, &cfg, &|d| pb.set_position(d))?;
        pb.finish_and_clear();
        let fwd_same = eval::average_log_prob(&rbm, &sub, log_z)?;
        Some((sub.len(), est, fwd_same, k, t1.elapsed().as_secs_f64()))
    } else {
        None
    };
    if !ann.is_root() {
        return Ok(());
    }
    let mon = test.subset(0..a.monitor.clamp(1, test.len()))?;
    let report = EvalReport {
        log_z,
        interval,
        method,
        z_seconds,
        avg,
        examples: test.len(),
        raise,
        pl: metrics::pseudo_log_likelihood(&rbm, &mon)?,
        pl_sk: metrics::pseudo_log_likelihood_stochastic(&rbm, &mon, a.seed)?,
        recon: metrics::reconstruction_error(&rbm, &mon)?,
        n_visible: rbm.n_visible(),
    };
    print_report(&a, &report)
}

/// RAISE on the first examples: their count, the estimate, the forward
/// estimate on the same examples, the distributions and the seconds.
type RaiseReport = (usize, eval::RaiseEstimate, f64, u64, f64);

/// The `raise` object of `eval --json`.
fn raise_json(a: &EvalArgs, (n, est, fwd, k, secs): &RaiseReport) -> Box<serde_json::value::RawValue> {
    let (reverse, reverse_se) = mean_se(&est.log_z);
    crate::out::raw(jobj!(
        "examples" = n,
        "runs_per_example" = a.raise_runs,
        "distributions" = k,
        "mean" = est.mean,
        "std_err" = est.std_err,
        "reverse_log_z" = reverse,
        "reverse_log_z_std_err" = reverse_se,
        "ais_same_examples" = fwd,
        "seconds" = secs,
    ))
}

/// The RAISE lines of `eval`'s text output.
fn print_raise((n, est, fwd, k, secs): &RaiseReport, log_z: f64) -> CliResult<()> {
    let (rz, rz_se) = mean_se(&est.log_z);
    outln!(
        "conservative estimate (RAISE, {n} examples, {k} distributions, {secs:.1} s): {:.3} ± {:.3} s.e.; \
         AIS on the same examples: {fwd:.3}",
        est.mean,
        est.std_err
    );
    outln!("  reverse log Z estimate from those examples: {rz:.4} ± {rz_se:.4} s.e. (forward: {log_z:.4})");
    Ok(())
}

/// What `eval` prints: one JSON object or text lines.
fn print_report(a: &EvalArgs, r: &EvalReport) -> CliResult<()> {
    let EvalReport { log_z, interval, method, z_seconds, avg, examples, raise, pl, pl_sk, recon, n_visible } =
        r;
    let (log_z, z_seconds, avg, pl, pl_sk, recon) = (*log_z, *z_seconds, *avg, *pl, *pl_sk, *recon);
    if a.json {
        let raise = raise.as_ref().map(|r| raise_json(a, r));
        // A bound that is not finite is null (JSON has no infinities).
        outln!(
            "{}",
            jobj!(
                "log_z" = log_z,
                "log_z_low" = interval.map(|i| i.0),
                "log_z_high" = interval.map(|i| i.1),
                "log_std_err" = interval.map(|i| i.2),
                "method" = method,
                "log_z_seconds" = z_seconds,
                "avg_log_prob" = avg,
                "examples" = examples,
                "raise" = raise,
                "pseudo_ll" = pl,
                "pseudo_ll_sklearn" = pl_sk,
                "recon_error" = recon,
            )
        );
    } else {
        match interval {
            None => outln!("log Z = {log_z:.4} ({method}, {z_seconds:.1} s)"),
            Some((lo, hi, lse)) => {
                // σ̂/Ẑ: the standard deviation of log Ẑ to first order.
                let rel = (lse - log_z).exp();
                outln!(
                    "log Z = {log_z:.4} (σ̂/Ẑ = {rel:.4}), ±3σ interval [{lo:.4}, {hi:.4}] ({method}, {z_seconds:.1} s)"
                )
            }
        }
        outln!("average log-probability of {examples} test examples: {avg:.3}");
        if let Some(r) = &raise {
            print_raise(r, log_z)?;
        }
        outln!("pseudo-log-likelihood (all {} flips): {pl:.3}; scikit-learn-style: {pl_sk:.3}", n_visible);
        outln!("reconstruction error: {recon:.3}");
    }
    Ok(())
}

/// `eval` of a Gaussian–Bernoulli RBM: `log Z` exactly (few hidden units)
/// or by AIS, the average log-density of `--data` (real values, e.g. IDX
/// pixels scaled to [0, 1]) and, as the yardstick, that of the model's
/// base `N(b, σ²)` without hidden units; under AIS, RAISE on the first
/// `--raise-examples` examples beside it, as for binary RBMs.
fn gaussian(a: &EvalArgs, m: &boltzmann::model::GaussianRbm) -> CliResult<()> {
    use boltzmann::eval::gaussian_rbm as g;
    let Some(p) = &a.data else {
        return Err("a Gaussian–Bernoulli RBM needs --data (real-valued, as it was trained on)".into());
    };
    if a.binarize {
        return Err("--binarize is for binary models; a Gaussian–Bernoulli RBM takes real values".into());
    }
    let test = io::read_dataset(p, None)?;
    if test.dim() != m.n_visible() {
        return Err(format!(
            "data has {} features but the model's n_visible is {}",
            test.dim(),
            m.n_visible()
        )
        .into());
    }
    let schedule = parse_schedule(&a.schedule).map_err(|e| format!("--schedule: {e}"))?;
    let raise_schedule = match &a.raise_schedule {
        Some(s) => parse_schedule(s).map_err(|e| format!("--raise-schedule: {e}"))?,
        None => schedule.clone(),
    };
    let exact = m.n_hidden() <= a.exact_max.min(g::MAX_EXACT_HIDDEN) && !a.force_ais;
    if !exact && a.raise_examples > 0 && a.raise_runs == 0 {
        return Err("--raise-runs: invalid runs_per_example: need at least one".into());
    }
    let show = !a.quiet && !a.json && std::io::stderr().is_terminal();
    let t0 = Instant::now();
    let (log_z, interval, method) = if exact {
        (g::log_partition_exact(m)?, None, "exact".to_string())
    } else {
        let n = schedule.len() - 1;
        let pb = bar(show, n as u64, "AIS  ");
        let cfg = AisConfig::default().runs(a.ais_runs).schedule(schedule).seed(a.seed);
        let est = g::ais_with_progress(m, &cfg, &|k| pb.set_position(k))?;
        pb.finish_and_clear();
        (
            est.log_z,
            Some((est.log_z_low, est.log_z_high, est.log_std_err)),
            format!("AIS ({} runs, {n} distributions)", a.ais_runs),
        )
    };
    let secs = t0.elapsed().as_secs_f64();
    let avg = g::average_log_density(m, &test, log_z)?;
    let base = g::base_log_density(m, &test)?;
    let raise = if !exact && a.raise_examples > 0 {
        let t1 = Instant::now();
        let sub = test.subset(0..a.raise_examples.min(test.len()))?;
        let k = raise_schedule.len() as u64 - 1;
        let pb = bar(show, k * (sub.len() * a.raise_runs) as u64, "RAISE");
        let cfg = RaiseConfig::default()
            .runs_per_example(a.raise_runs)
            .schedule(raise_schedule)
            .seed(derive(a.seed, Purpose::Raise));
        let est = g::raise_with_progress(m, &sub, &cfg, &|d| pb.set_position(d))?;
        pb.finish_and_clear();
        let fwd_same = g::average_log_density(m, &sub, log_z)?;
        Some((sub.len(), est, fwd_same, k, t1.elapsed().as_secs_f64()))
    } else {
        None
    };
    if a.json {
        outln!(
            "{}",
            jobj!(
                "model" = "gb-rbm",
                "log_z" = log_z,
                "log_z_low" = interval.map(|i| i.0),
                "log_z_high" = interval.map(|i| i.1),
                "log_std_err" = interval.map(|i| i.2),
                "method" = method,
                "log_z_seconds" = secs,
                "avg_log_density" = avg,
                "base_avg_log_density" = base,
                "examples" = test.len(),
                "raise"? = raise.as_ref().map(|r| raise_json(a, r)),
            )
        );
    } else {
        match interval {
            None => outln!("log Z = {log_z:.4} ({method}, {secs:.1} s)"),
            Some((lo, hi, _)) => {
                outln!("log Z = {log_z:.4}, ±3σ interval [{lo:.4}, {hi:.4}] ({method}, {secs:.1} s)")
            }
        }
        outln!("average log-density of {} examples: {avg:.3} nats", test.len());
        outln!("the model's base N(b, σ²) without hidden units: {base:.3} nats");
        if let Some(r) = &raise {
            print_raise(r, log_z)?;
        }
    }
    Ok(())
}
