//! `boltzmann eval`: log Z (exact when one side is small, otherwise AIS
//! with its interval), average log-probability, pseudo-likelihood and
//! reconstruction error of a model on a data set.

use boltzmann::data::Dataset;
use boltzmann::eval::{self, AisConfig};
use boltzmann::io;
use boltzmann::train::metrics;
use clap::Args;
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
    #[arg(long, default_value_t = 100)]
    ais_runs: usize,
    /// AIS schedule: "default" (Salakhutdinov & Murray, 14,500 βs) or
    /// "linear:N".
    #[arg(long, default_value = "default")]
    schedule: String,
    /// Use AIS even when exact log Z is feasible.
    #[arg(long)]
    force_ais: bool,
    /// Largest smaller side for exact log Z (2^N states).
    #[arg(long, default_value_t = 25)]
    exact_max: usize,
    /// Examples used for pseudo-likelihood and reconstruction error.
    #[arg(long, default_value_t = 1000)]
    monitor: usize,
    /// Seed of AIS and the stochastic pseudo-likelihood.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Threads (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// One JSON object instead of text.
    #[arg(long)]
    json: bool,
}

fn load(p: &std::path::Path, binarize: bool) -> Result<Dataset, String> {
    let d = io::read_dataset(p, None).map_err(|e| e.to_string())?;
    if binarize { d.binarize_threshold(0.5).map_err(|e| e.to_string()) } else { Ok(d) }
}

pub(crate) fn run(a: EvalArgs) -> Result<(), String> {
    let threads = a.threads;
    crate::with_threads(threads, move || run_in_pool(a))
}

fn run_in_pool(a: EvalArgs) -> Result<(), String> {
    let rbm = io::load_rbm(&a.model).map_err(|e| e.to_string())?;
    let (test, base) = match &a.data {
        Some(p) => {
            let t = load(p, a.binarize)?;
            let b = match &a.base_data {
                Some(bp) => load(bp, a.binarize)?,
                None => t.clone(),
            };
            (t, b)
        }
        None => {
            let s = io::embedded_mnist().map_err(|e| e.to_string())?;
            let b = match &a.base_data {
                Some(bp) => load(bp, a.binarize)?,
                None => s.train,
            };
            (s.test, b)
        }
    };
    test.check_binary().map_err(|e| format!("{e} (pass --binarize)"))?;
    let small = rbm.n_visible().min(rbm.n_hidden());
    let t0 = Instant::now();
    let (log_z, interval, method) = if small <= a.exact_max && !a.force_ais {
        (eval::log_partition_exact(&rbm).map_err(|e| e.to_string())?, None, "exact".to_string())
    } else {
        let schedule = match a.schedule.split_once(':') {
            None if a.schedule == "default" => eval::default_schedule(),
            Some(("linear", n)) => {
                eval::linear_schedule(n.parse().map_err(|_| format!("bad schedule {:?}", a.schedule))?)
            }
            _ => return Err(format!("--schedule {:?}: use default or linear:N", a.schedule)),
        };
        let base_bias = eval::base_rate_biases(&base).map_err(|e| e.to_string())?;
        let n = schedule.len() - 1;
        let est = eval::ais(&rbm, &base_bias, &AisConfig { runs: a.ais_runs, schedule, seed: a.seed })
            .map_err(|e| e.to_string())?;
        (
            est.log_z,
            Some((est.log_z_low, est.log_z_high)),
            format!("AIS ({} runs, {n} distributions)", a.ais_runs),
        )
    };
    let z_seconds = t0.elapsed().as_secs_f64();
    let avg = eval::average_log_prob(&rbm, &test, log_z).map_err(|e| e.to_string())?;
    let mon = test.subset(0..a.monitor.clamp(1, test.len())).map_err(|e| e.to_string())?;
    let pl = metrics::pseudo_log_likelihood(&rbm, &mon).map_err(|e| e.to_string())?;
    let pl_sk = metrics::pseudo_log_likelihood_stochastic(&rbm, &mon, a.seed).map_err(|e| e.to_string())?;
    let recon = metrics::reconstruction_error(&rbm, &mon).map_err(|e| e.to_string())?;
    if a.json {
        // JSON has no infinities: a bound that is not finite is null.
        let num = |x: f64| if x.is_finite() { x.to_string() } else { String::from("null") };
        let (lo, hi) =
            interval.map_or((String::from("null"), String::from("null")), |(l, h)| (num(l), num(h)));
        println!(
            "{{\"log_z\":{log_z},\"log_z_low\":{lo},\"log_z_high\":{hi},\"method\":\"{method}\",\"log_z_seconds\":{z_seconds},\
             \"avg_log_prob\":{avg},\"examples\":{},\"pseudo_ll\":{pl},\"pseudo_ll_sklearn\":{pl_sk},\"recon_error\":{recon}}}",
            test.len()
        );
    } else {
        match interval {
            None => println!("log Z = {log_z:.4} ({method}, {z_seconds:.1} s)"),
            Some((lo, hi)) => {
                println!("log Z = {log_z:.4}, ±3σ interval [{lo:.4}, {hi:.4}] ({method}, {z_seconds:.1} s)")
            }
        }
        println!("average log-probability of {} test examples: {avg:.3}", test.len());
        println!(
            "pseudo-log-likelihood (all {} flips): {pl:.3}; scikit-learn-style: {pl_sk:.3}",
            rbm.n_visible()
        );
        println!("reconstruction error: {recon:.3}");
    }
    Ok(())
}
