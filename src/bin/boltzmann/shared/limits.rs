//! Upper bounds on the counts that size memory or work, checked when the
//! command line is parsed, before any work: a mistyped count fails at once
//! with its bound instead of allocating until the process aborts or running
//! for days. The bounds are far above any run we know of; each is stated
//! in the option's help and in the README ("Limits").

/// Gibbs sweeps, Langevin steps, training iterations (per run).
pub(crate) const MAX_STEPS: usize = 10_000_000;
/// Gibbs steps per update (CD-k / PCD-k) and per intermediate distribution.
pub(crate) const MAX_K: usize = 10_000;
/// Intermediate distributions of an AIS or RAISE schedule.
pub(crate) const MAX_AIS_STEPS: usize = 10_000_000;
/// Annealing runs, chains per example, noise levels.
pub(crate) const MAX_RUNS: usize = 1_000_000;
/// Timed repetitions of a benchmark.
pub(crate) const MAX_REPEATS: usize = 1_000;
/// Training epochs.
pub(crate) const MAX_EPOCHS: usize = 1_000_000;
/// Chains, batch sizes, examples, units: memory checks follow where they
/// are allocated; this bounds the arithmetic before them.
pub(crate) const MAX_COUNT: usize = 1 << 40;

fn parse(s: &str, lo: usize, hi: usize) -> Result<usize, String> {
    let v: usize = s.trim().parse().map_err(|e| format!("{e} (a whole number is expected)"))?;
    if v < lo || v > hi {
        return Err(format!("must be in {lo}..={hi}"));
    }
    Ok(v)
}

/// Counts of steps or sweeps, ≥ 1.
pub(crate) fn steps(s: &str) -> Result<usize, String> {
    parse(s, 1, MAX_STEPS)
}
/// Counts of steps or sweeps where 0 means "choose for me".
pub(crate) fn steps_or_auto(s: &str) -> Result<usize, String> {
    parse(s, 0, MAX_STEPS)
}
/// Gibbs steps per update.
pub(crate) fn k(s: &str) -> Result<usize, String> {
    parse(s, 1, MAX_K)
}
/// Schedule lengths.
pub(crate) fn ais_steps(s: &str) -> Result<usize, String> {
    parse(s, 1, MAX_AIS_STEPS)
}
/// Runs, ≥ 1.
pub(crate) fn runs(s: &str) -> Result<usize, String> {
    parse(s, 1, MAX_RUNS)
}
/// Runs or examples where 0 means "none".
pub(crate) fn runs_or_none(s: &str) -> Result<usize, String> {
    parse(s, 0, MAX_RUNS)
}
/// Benchmark repetitions.
pub(crate) fn repeats(s: &str) -> Result<usize, String> {
    parse(s, 1, MAX_REPEATS)
}
/// Epochs, ≥ 1.
pub(crate) fn epochs(s: &str) -> Result<usize, String> {
    parse(s, 1, MAX_EPOCHS)
}
/// Epochs where 0 means "none".
pub(crate) fn epochs_or_none(s: &str) -> Result<usize, String> {
    parse(s, 0, MAX_EPOCHS)
}
/// Sizes (chains, batch, units, examples), ≥ 1.
pub(crate) fn count(s: &str) -> Result<usize, String> {
    parse(s, 1, MAX_COUNT)
}
/// Sizes where 0 means "none".
pub(crate) fn count_or_none(s: &str) -> Result<usize, String> {
    parse(s, 0, MAX_COUNT)
}

/// `--threads`, shared by every command that runs in parallel.
#[derive(clap::Args, Debug, Clone, Copy)]
pub(crate) struct Threads {
    /// Threads (default: all cores; at most 4 × the cores, and at least 64
    /// are always allowed).
    #[arg(long = "threads", id = "threads", value_name = "THREADS", value_parser = threads)]
    pub(crate) n: Option<usize>,
}

/// Thread counts: 1..=[`max_threads`].
pub(crate) fn threads(s: &str) -> Result<usize, String> {
    parse(s, 1, max_threads())
}

/// Most threads a pool may have: 4 × the cores this process may use, and
/// at least 64 (more threads than that only add switching: 4,096 threads
/// on 2 cores made a 2 ms epoch take 94 s).
pub(crate) fn max_threads() -> usize {
    (4 * std::thread::available_parallelism().map_or(1, |n| n.get())).max(64)
}
