//! `boltzmann bench conv`: block-Gibbs sweeps of a random convolutional RBM
//! with probabilistic max-pooling over many chains, beside its naive f64
//! twin (`reference::conv_gibbs_sweep`) with `--naive`.

use crate::CliResult;
use boltzmann::kernels::conv::ConvShape;
use boltzmann::model::ConvRbm;
use boltzmann::reference;
use boltzmann::rng;
use boltzmann::sampler::ConvChains;
use clap::Args;
use std::time::Instant;

/// Options of `bench conv`.
#[derive(Args, Debug)]
pub(crate) struct BenchConvArgs {
    /// Image side (square images).
    #[arg(long, value_parser = crate::limits::count, default_value_t = 28)]
    size: usize,
    /// Image channels.
    #[arg(long, value_parser = crate::limits::count, default_value_t = 1)]
    channels: usize,
    /// Filters K.
    #[arg(long, value_parser = crate::limits::count, default_value_t = 24)]
    filters: usize,
    /// Filter side r.
    #[arg(long, value_parser = crate::limits::count, default_value_t = 7)]
    filter_size: usize,
    /// Pooling block side P.
    #[arg(long, value_parser = crate::limits::count, default_value_t = 2)]
    pool: usize,
    /// Chains (images swept together).
    #[arg(long, value_parser = crate::limits::count, default_value_t = 256)]
    chains: usize,
    /// Sweeps per timed run (default: about 0.5 s worth).
    #[arg(long, value_parser = crate::limits::steps_or_auto, default_value_t = 0)]
    sweeps: usize,
    /// Timed runs; the median is reported.
    #[arg(long, value_parser = crate::limits::repeats, default_value_t = 5)]
    repeats: usize,
    /// Also time the naive f64 sweep (one thread, one timed sweep of all
    /// chains) and report the ratio.
    #[arg(long)]
    naive: bool,
    /// Seed of the model and the chains.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[command(flatten)]
    threads: crate::limits::Threads,
    /// One JSON object instead of text.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(a: BenchConvArgs) -> CliResult<()> {
    let s = ConvShape {
        height: a.size,
        width: a.size,
        channels: a.channels,
        filters: a.filters,
        filter_size: a.filter_size,
        pool: a.pool,
    };
    // Filters N(0, 0.05²) and hidden biases −2: sparse detection maps, as in
    // a trained model.
    let m = ConvRbm::random(s, 0.05, -2.0, a.seed)?;
    let threads = a.threads.n.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let (rate, sweeps) = crate::with_threads(Some(threads), || timed(&m, &a))?;
    let naive = if a.naive { Some(naive_rate(&m, a.chains, a.seed)?) } else { None };
    let ratio = naive.map(|n| rate / n);
    if a.json {
        outln!(
            "{}",
            jobj!(
                "bench" = "conv",
                "shape" = s.to_string(),
                "chains" = a.chains,
                "threads" = threads,
                "isa" = boltzmann::simd::active_isa().name(),
                "sweeps" = sweeps,
                "repeats" = a.repeats,
                "sweeps_per_s" = rate,
                "chain_sweeps_per_s" = rate * a.chains as f64,
                "naive_sweeps_per_s" = naive,
                "speedup_vs_naive" = ratio,
            )
        );
    } else {
        outln!("{s}, {} chains, {threads} threads ({})", a.chains, boltzmann::simd::active_isa());
        outln!(
            "  {rate:.2} sweeps/s ({:.0} chain-sweeps/s; median of {} runs × {sweeps} sweeps)",
            rate * a.chains as f64,
            a.repeats
        );
        if let (Some(n), Some(r)) = (naive, ratio) {
            outln!("  naive f64 twin, 1 thread: {n:.4} sweeps/s → {r:.1}× faster");
        }
    }
    Ok(())
}

/// Median sweeps/s of `a.repeats` timed runs (after one warm-up sweep),
/// and the sweeps per run.
fn timed(m: &ConvRbm, a: &BenchConvArgs) -> CliResult<(f64, usize)> {
    let mut chains = ConvChains::new(m, a.chains, a.seed)?;
    let t0 = Instant::now();
    chains.sweep(m, 1)?;
    let one = t0.elapsed().as_secs_f64().max(1e-6);
    let sweeps = if a.sweeps > 0 { a.sweeps } else { ((0.5 / one).ceil() as usize).clamp(1, 10_000) };
    let mut rates = Vec::with_capacity(a.repeats);
    for _ in 0..a.repeats {
        let t = Instant::now();
        chains.sweep(m, sweeps)?;
        rates.push(sweeps as f64 / t.elapsed().as_secs_f64().max(1e-9));
    }
    rates.sort_by(f64::total_cmp);
    Ok((rates[rates.len() / 2], sweeps))
}

/// Sweeps/s of the naive f64 twin over all chains on one thread (one
/// sweep of each chain, timed).
fn naive_rate(m: &ConvRbm, chains: usize, seed: u64) -> CliResult<f64> {
    let d = m.shape().n_visible();
    let streams = rng::chain_streams(seed, chains)?;
    let mut v = vec![0.0f32; d];
    let t = Instant::now();
    for st in streams {
        let mut u = reference::Uniforms::new(st);
        v.iter_mut().zip(u.take(d)).for_each(|(x, r)| *x = (r < 0.5) as u8 as f32);
        let (v2, _) = reference::conv_gibbs_sweep(m, &v, &mut u);
        v = v2;
    }
    Ok(1.0 / t.elapsed().as_secs_f64().max(1e-9))
}
