//! `sample --mpi`: the picture grid's chains split over the ranks of
//! `mpirun` ([`boltzmann::distributed::ShardedChains`]); rank 0 gathers the
//! images (and, with `--diagnostics`, the free-energy traces) in chain
//! order and writes the same PNG, and prints the same numbers, as one
//! process.

use crate::CliResult;
use crate::ranks::Ranks;
use boltzmann::Rbm;
use std::path::Path;

/// [`crate::sample::sample_grid`] over the ranks: `Ok(true)` on rank 0
/// (which wrote `out` and filled `trace`, sweep-major), `Ok(false)` on the
/// others.
#[cfg(feature = "mpi")]
#[allow(clippy::too_many_arguments)]
pub(crate) fn sample_grid(
    ranks: &Ranks,
    rbm: &Rbm,
    (r, c): (usize, usize),
    chains: usize,
    rows: usize,
    steps: usize,
    seed: u64,
    out: &Path,
    trace: Option<&mut Vec<f64>>,
) -> CliResult<bool> {
    use boltzmann::distributed::{ShardedChains, all_gather_in_order, shard_bounds};
    use mpi::traits::*;
    crate::sample::check_grid(chains, rows, steps)?;
    let world = ranks.world().ok_or("--mpi: MPI is not initialized")?;
    let (rank, size) = (world.rank() as usize, world.size() as usize);
    let d = rbm.n_visible();
    let mut shard = ShardedChains::new(&world, rbm, chains, seed)?;
    let local = shard.local().batch();
    let (mut imgs, mut mine) = (Vec::with_capacity(rows * local * d), Vec::new());
    let mut pv = vec![0.0f32; local * d];
    let mut fe = vec![0.0f64; local];
    for _ in 0..rows {
        match trace.is_some() {
            false => shard.sweep(rbm, steps)?,
            true => {
                for _ in 0..steps {
                    shard.sweep(rbm, 1)?;
                    rbm.free_energy_batch(shard.local().visible(), &mut fe)?;
                    mine.extend_from_slice(&fe);
                }
            }
        }
        rbm.visible_probs(shard.local().hidden(), &mut pv)?;
        imgs.extend(pv.iter().map(|&x| x as f64));
    }
    // Every rank's rows × its chains, then put in grid order on rank 0.
    let all_imgs = all_gather_in_order(&world, &imgs)?;
    let all_trace = all_gather_in_order(&world, &mine)?;
    if rank != 0 {
        return Ok(false);
    }
    let sweeps = if trace.is_some() { rows * steps } else { 0 };
    let mut grid = vec![0.0f32; rows * chains * d];
    let mut ordered = vec![0.0f64; sweeps * chains];
    let (mut at_img, mut at_tr) = (0, 0);
    for q in 0..size {
        let (a, b) = shard_bounds(chains, q, size);
        let n = b - a;
        for row in 0..rows {
            for ch in 0..n {
                let src = &all_imgs[at_img + (row * n + ch) * d..at_img + (row * n + ch + 1) * d];
                let dst = &mut grid[(row * chains + a + ch) * d..(row * chains + a + ch + 1) * d];
                dst.iter_mut().zip(src).for_each(|(o, &x)| *o = x as f32);
            }
        }
        for s in 0..sweeps {
            ordered[s * chains + a..s * chains + b]
                .copy_from_slice(&all_trace[at_tr + s * n..at_tr + (s + 1) * n]);
        }
        at_img += rows * n * d;
        at_tr += sweeps * n;
    }
    if let Some(t) = trace {
        t.extend_from_slice(&ordered);
    }
    boltzmann::io::grid_png(out, &grid, r, c, chains, 2)?;
    Ok(true)
}

#[cfg(not(feature = "mpi"))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn sample_grid(
    _: &Ranks,
    _: &Rbm,
    _: (usize, usize),
    _: usize,
    _: usize,
    _: usize,
    _: u64,
    _: &Path,
    _: Option<&mut Vec<f64>>,
) -> CliResult<bool> {
    Err(crate::bench::mpi::NO_MPI.into())
}
