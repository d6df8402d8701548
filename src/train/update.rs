//! One update of the CD-k / PCD / PT trainer on a mini-batch — the steps
//! listed in [`super::trainer`]:
//!
//! * [`update`] runs them in order;
//! * [`cd_phases`], [`sampled_phases`] and [`pcd_phases`] fill
//!   `[V⁺; V⁻]` and `[P⁺; P⁻]` (steps 1 and 2); [`cd_phases_split`] and
//!   [`pcd_phases_split`] do it for an update split over processes
//!   ([`super::split`]), whose [`optimizer_step`] then steps its share of
//!   the rows of `W` and gathers the rest;
//! * [`statistics`] takes the bias gradients and scales `P` (step 3);
//! * [`optimizer_step`] with [`sgd_weights`] / [`adam_weights`] moves the
//!   parameters (step 4), [`after_step`] converts centered biases back,
//!   moves the offsets and the fast weights, and checks for divergence
//!   (step 5).
//!
//! Every reduction runs in a fixed order, so the bits do not depend on the
//! thread count.

use super::config::{Algorithm, Optimizer};
use super::split::{self, Split};
use super::trainer::TrainState;
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::kernels::SendPtr;
use crate::kernels::binary::{self, BinaryRows, PackedWeights};
use crate::kernels::gemm::HalfStepProducts;
use crate::kernels::{activation, gemm};
use crate::model::{Rbm, centering};
use crate::sampler::gibbs;
use crate::simd::{self, Isa};
use rayon::prelude::*;

/// Per-batch scratch.
#[derive(Debug)]
pub(super) struct Scratch {
    /// `[V⁺; V⁻]`, `(batch + n) × D`.
    a: Vec<f32>,
    /// `[P⁺/m; −P⁻/n]`, `(batch + n) × H`.
    b: Vec<f32>,
    /// Visible pre-activations of the PCD chains.
    pre_v: Vec<f32>,
    /// Hidden pre-activations of `[V⁺; V⁻]`.
    pre_h: Vec<f32>,
    grad_w: Vec<f32>,
    grad_b: Vec<f64>,
    grad_c: Vec<f64>,
    /// Set positions of `[V⁺; V⁻]` (or of `V⁺` before the negative phase of
    /// CD) for the binary products, and their transpose for the weight
    /// gradient as sums of rows of `b`.
    vrows: BinaryRows,
    vt: BinaryRows,
    /// Whether `vt` already holds the transpose of `vrows` (written beside
    /// the last product by [`pcd_phases`]).
    vt_current: bool,
    /// Set positions of the PCD chains' hidden states.
    hrows: BinaryRows,
    /// The model the persistent chains sample with fast weights, `θ + θ_f`.
    fast_rbm: Option<Rbm>,
    /// Centered biases `b′ = b + Wλ`, `c′ = c + Wᵀμ` during an update.
    cb: Vec<f32>,
    cc: Vec<f32>,
    /// Mean `p(h|v⁺)` of the batch (centering, sparsity).
    mean_hpos: Vec<f64>,
    /// Softplus terms of the chains' free energies.
    free_energy: Vec<f32>,
    /// `W` and `Wᵀ` packed for the binary products: written by the SGD
    /// step together with the new `W` (see [`PackTargets`]) or else
    /// repacked before each use (the weights change with every update).
    pw: Option<PackedWeights>,
    pwt: Option<PackedWeights>,
    /// The update count `s.step` after whose step `pw` / `pwt` hold the
    /// current `W` (the trainer's `W` changes only in updates).
    pw_at: Option<u64>,
    pwt_at: Option<u64>,
    /// `[P⁺/m; −P⁻/n]` packed for the weight gradient.
    pp: Option<PackedWeights>,
    /// This process's rows of `[V⁺; V⁻]` and `[P⁺; P⁻]` when an update is
    /// split over processes, and its chains' free energies.
    la: Vec<f32>,
    lb: Vec<f32>,
    lf: Vec<f64>,
}

impl Scratch {
    fn new(d: usize, h: usize, cap: usize, n_chains: usize) -> Scratch {
        Scratch {
            a: vec![0.0; cap * d],
            b: vec![0.0; cap * h],
            pre_v: vec![0.0; n_chains * d],
            pre_h: vec![0.0; cap.max(n_chains) * h],
            // ∇W of the dense product (see `optimizer_step` for why it is
            // not accumulated into the velocity by the product itself).
            grad_w: vec![0.0; d * h],
            grad_b: vec![0.0; d],
            grad_c: vec![0.0; h],
            vrows: BinaryRows::new(d),
            vt: BinaryRows::new(1),
            vt_current: false,
            hrows: BinaryRows::new(h),
            fast_rbm: None,
            cb: Vec::new(),
            cc: Vec::new(),
            mean_hpos: Vec::new(),
            free_energy: Vec::new(),
            pw: None,
            pwt: None,
            pw_at: None,
            pwt_at: None,
            pp: None,
            la: Vec::new(),
            lb: Vec::new(),
            lf: Vec::new(),
        }
    }
}

/// Sizes and choices of one update.
struct Batch {
    d: usize,
    h: usize,
    /// Data rows.
    m: usize,
    /// Negative rows (`m` for CD, the chain count otherwise).
    n_neg: usize,
    /// `m + n_neg`.
    rows: usize,
    isa: Isa,
    threads: usize,
    /// Binary × dense products allowed (see [`update`]).
    binary_ok: bool,
    lr: f32,
    /// Whether the SGD step must write the weights' velocities even at
    /// momentum 0 (where no step reads them): on the last update of an
    /// epoch, so that the state between epochs (checkpoints, a momentum
    /// that switches on) holds them; and split over processes.
    keep_velocity: bool,
}

/// One update on the examples `idx` of `data` at learning rate `lr`
/// (`last`: the last update of its epoch); appends the persistent chains'
/// free energies to `trace`.
#[allow(clippy::too_many_arguments)]
pub(super) fn update(
    s: &mut TrainState,
    scratch: &mut Option<Scratch>,
    trace: &mut Vec<f64>,
    isa: Isa,
    data: &Dataset,
    idx: &[u32],
    (lr, last): (f32, bool),
    split: &dyn Split,
) -> Result<()> {
    let (d, h) = (s.rbm.n_visible(), s.rbm.n_hidden());
    let m = idx.len();
    let cd = matches!(s.config.algorithm, Algorithm::Cd { .. });
    let n_neg = if cd { m } else { s.config.n_chains() };
    let cap = s.config.optim.batch_size + s.config.n_chains();
    let sc = scratch.get_or_insert_with(|| Scratch::new(d, h, cap, n_neg.max(s.chains.batch())));
    // Binary × dense products where the states are sparse enough (decided
    // from the batch's overall density: the same choice for any thread
    // count); not for the small models of the no-packing dense kernel.
    let binary_ok =
        binary::enabled() && !HalfStepProducts::nopack_for(isa, d, h) && !s.config.probability_data;
    let threads = rayon::current_num_threads();
    let keep_velocity = last || !split.whole();
    let b = Batch { d, h, m, n_neg, rows: m + n_neg, isa, threads, binary_ok, lr, keep_velocity };
    sc.vt_current = false;
    sc.a[..m * d]
        .par_chunks_exact_mut(d)
        .zip(idx.par_iter())
        .with_min_len(COPY_ROWS)
        .for_each(|(dst, &i)| dst.copy_from_slice(data.row(i as usize)));
    // 1–2. Afterwards sc.a = [V⁺; V⁻], sc.b = [P⁺; P⁻] and sc.vrows holds
    // [V⁺; V⁻]; in one process, for the persistent algorithms, sc.pre_h =
    // [V⁺; V⁻]·W (split over processes it holds this process's rows, and
    // the chains' free energies are recorded by the split phases).
    if !split.whole() {
        if cd {
            cd_phases_split(s, sc, &b, split)?;
        } else {
            pcd_phases_split(s, sc, &b, split, trace)?;
        }
        sc.vrows.reset(d);
        sc.vrows.fill_from(&sc.a[..b.rows * d]);
    } else if cd {
        cd_phases(s, sc, &b)?;
        sc.vrows.reset(d);
        sc.vrows.fill_from(&sc.a[..b.rows * d]);
    } else {
        if !s.fast.is_empty() || s.tempering.is_some() {
            sampled_phases(s, sc, &b)?;
            let (v, pre) = (&sc.a[m * d..b.rows * d], &sc.pre_h[m * h..b.rows * h]);
            record_free_energies(isa, &s.rbm, (v, None), pre, &mut sc.free_energy, trace);
        } else {
            pcd_phases(s, sc, &b, trace)?;
        }
    }
    // Where V = [V⁺; V⁻] is sparse enough, the weight gradient is taken as
    // sums of the rows of [P⁺/m; −P⁻/n] (packed) selected by each column of
    // V (the rows of Vᵀ); `pcd_phases` transposes beside its last product.
    let sparse_grad = sparse_gradient(&b, &sc.vrows);
    if sparse_grad && !sc.vt_current {
        sc.vrows.transpose_into(&mut sc.vt);
    }
    let extra = statistics(s, sc, &b, sparse_grad)?;
    s.step += 1;
    let weights_bad = optimizer_step(s, sc, &b, sparse_grad, &extra, split)?;
    after_step(s, sc, &b, weights_bad)
}

/// Whether the weight gradient is taken from the set positions of `V`
/// (`vrows` = `[V⁺; V⁻]`) — sparse enough for the binary kernel to win.
fn sparse_gradient(b: &Batch, vrows: &BinaryRows) -> bool {
    b.binary_ok && binary::sparse_wins(b.isa, vrows.density())
}

/// CD: 1. the positive phase `P⁺` (output columns split over threads: few
/// rows); 2. chains start at the data with `h ~ P⁺` and run `k` sweeps.
fn cd_phases(s: &mut TrainState, sc: &mut Scratch, b: &Batch) -> Result<()> {
    let products = HalfStepProducts::new(b.isa, s.rbm.weights(), b.d, b.h);
    let (d, h, m, isa, threads) = (b.d, b.h, b.m, b.isa, b.threads);
    let (vpos, vneg) = sc.a[..b.rows * d].split_at_mut(m * d);
    let (ppos, pneg) = sc.b[..b.rows * h].split_at_mut(m * h);
    sc.vrows.reset(d);
    sc.vrows.fill_from(vpos);
    let w = s.rbm.weights();
    if !binary_product(
        isa,
        b.binary_ok,
        sc.vrows.density(),
        &sc.vrows,
        (&mut sc.pw, sc.pw_at == Some(s.step)),
        w,
        d,
        h,
        false,
        ppos,
        threads,
    ) {
        products.visible_to_hidden_cols(m, vpos, ppos, threads);
    }
    let br = gibbs::block_rows(b.rows, d, h, threads);
    ppos.par_chunks_mut(br * h)
        .for_each(|p| activation::sigmoid_rows_bias_in_place(isa, p, s.rbm.hidden_bias()));
    s.chains.contrastive(&s.rbm, ppos, s.config.k(), pneg)?;
    vneg.copy_from_slice(&s.chains.visible()[..m * d]);
    Ok(())
}

/// Fast weights or tempering: 2. the negative samples from the persistent
/// chains of the sampling model (`θ + θ_f` with fast weights), tempered or
/// not; then 1 + 2b as in [`pcd_phases`], with the regular `θ`.
fn sampled_phases(s: &mut TrainState, sc: &mut Scratch, b: &Batch) -> Result<()> {
    let (d, h, m, rows, k) = (b.d, b.h, b.m, b.rows, s.config.k());
    let neg_rbm = match s.config.fast_weights {
        Some(_) => {
            let f = sc.fast_rbm.get_or_insert_with(|| s.rbm.clone());
            fast_model(&s.rbm, &s.fast, f);
            &*f
        }
        None => &s.rbm,
    };
    match &mut s.tempering {
        Some(t) => {
            t.sweep(&mut s.chains, neg_rbm, k)?;
            let top = s.chains.batch() * d - b.n_neg * d;
            sc.a[m * d..rows * d].copy_from_slice(&s.chains.visible()[top..]);
        }
        None => {
            s.chains.sweep_vh(neg_rbm, k, &mut sc.pre_h[..b.n_neg * h])?;
            sc.a[m * d..rows * d].copy_from_slice(s.chains.visible());
        }
    }
    let products = HalfStepProducts::new(b.isa, s.rbm.weights(), d, h);
    let pre = &mut sc.pre_h[..rows * h];
    sc.vrows.reset(d);
    sc.vrows.fill_from(&sc.a[..rows * d]);
    if !binary_product(
        b.isa,
        b.binary_ok,
        sc.vrows.density(),
        &sc.vrows,
        (&mut sc.pw, sc.pw_at == Some(s.step)),
        s.rbm.weights(),
        d,
        h,
        false,
        pre,
        b.threads,
    ) {
        products.visible_to_hidden_cols(rows, &sc.a[..rows * d], pre, b.threads);
    }
    activation::sigmoid_rows_bias(b.isa, pre, s.rbm.hidden_bias(), &mut sc.b[..rows * h]);
    Ok(())
}

/// PCD: 2a. the first `k − 1` sweeps, then the visible half-step of the
/// last one; 1 + 2b. one product for both phases, `[V⁺; V⁻]·W` (W packed
/// once for both), then `P⁺` and the chains' hidden states `~ P⁻`. Beside
/// the product, `Vᵀ` for the sparse gradient; beside the hidden states, the
/// chains' free energies (appended to `trace`).
fn pcd_phases(s: &mut TrainState, sc: &mut Scratch, b: &Batch, trace: &mut Vec<f64>) -> Result<()> {
    let (d, h, m, rows, n_neg, isa, threads) = (b.d, b.h, b.m, b.rows, b.n_neg, b.isa, b.threads);
    let k = s.config.k();
    if k > 1 {
        s.chains.sweep_vh(&s.rbm, k - 1, &mut sc.pre_h[..n_neg * h])?;
    }
    let products = HalfStepProducts::new(isa, s.rbm.weights(), d, h);
    let ch = &s.chains.hidden()[..n_neg * h];
    sc.hrows.reset(h);
    sc.hrows.fill_from(ch);
    let w = s.rbm.weights();
    let pre_v = &mut sc.pre_v[..n_neg * d];
    if !binary_product(
        isa,
        b.binary_ok,
        sc.hrows.density(),
        &sc.hrows,
        (&mut sc.pwt, sc.pwt_at == Some(s.step)),
        w,
        h,
        d,
        true,
        pre_v,
        threads,
    ) {
        products.hidden_to_visible_cols(n_neg, ch, pre_v, threads);
    }
    s.chains.visible_step_from(&s.rbm, pre_v)?;
    let vneg = &mut sc.a[m * d..rows * d];
    vneg.par_chunks_mut(COPY_ROWS * d).zip(s.chains.visible().par_chunks(COPY_ROWS * d)).for_each(
        |(a, v)| {
            a.copy_from_slice(v);
        },
    );
    let pre = &mut sc.pre_h[..rows * h];
    sc.vrows.reset(d);
    sc.vrows.fill_from(&sc.a[..rows * d]);
    let (vrows, vt, transpose) = (&sc.vrows, &mut sc.vt, sparse_gradient(b, &sc.vrows));
    let (dense, ()) = rayon::join(
        || {
            !binary_product(
                isa,
                b.binary_ok,
                vrows.density(),
                vrows,
                (&mut sc.pw, sc.pw_at == Some(s.step)),
                w,
                d,
                h,
                false,
                pre,
                threads,
            )
        },
        || {
            if transpose {
                vrows.transpose_into(vt);
            }
        },
    );
    sc.vt_current = transpose;
    if dense {
        products.visible_to_hidden_cols(rows, &sc.a[..rows * d], pre, threads);
    }
    let (ppos, pneg) = sc.b[..rows * h].split_at_mut(m * h);
    let (pre_pos, pre_neg) = pre.split_at(m * h);
    let (rbm, chains) = (&s.rbm, &mut s.chains);
    let (vneg, fe) = (&sc.a[m * d..rows * d], &mut sc.free_energy);
    let ((), sampled) = rayon::join(
        || {
            activation::sigmoid_rows_bias(isa, pre_pos, rbm.hidden_bias(), ppos);
            record_free_energies(isa, rbm, (vneg, Some((vrows, m))), pre_neg, fe, trace);
        },
        || chains.hidden_step_from(rbm, pre_neg, Some(pneg)),
    );
    sampled
}

/// The density of `ones` in `cells` (0 for none), as [`BinaryRows::density`].
fn density_of((ones, cells): (u64, u64)) -> f64 {
    if cells == 0 { 0.0 } else { ones as f64 / cells as f64 }
}

/// PCD split over processes ([`super::split`]): [`pcd_phases`] on this
/// process's chains and share of the positive rows, each product chosen
/// from the whole update's density, then `[V⁻]`, `[P⁺; P⁻]` and the chains'
/// free energies (appended to `trace`) gathered in order.
fn pcd_phases_split(
    s: &mut TrainState,
    sc: &mut Scratch,
    b: &Batch,
    split: &dyn Split,
    trace: &mut Vec<f64>,
) -> Result<()> {
    let (d, h, m, rows, n_neg, isa, threads) = (b.d, b.h, b.m, b.rows, b.n_neg, b.isa, b.threads);
    let (rank, size) = split.rank_size();
    let (pos, nl) = (split::shard(m, rank, size), s.chains.batch());
    let k = s.config.k();
    if k > 1 {
        s.chains.sweep_vh(&s.rbm, k - 1, &mut sc.pre_h[..nl * h])?;
    }
    let products = HalfStepProducts::new(isa, s.rbm.weights(), d, h);
    let w = s.rbm.weights();
    let ch = s.chains.hidden();
    sc.hrows.reset(h);
    sc.hrows.fill_from(ch);
    let dens = density_of(split.counts(sc.hrows.nnz() as u64, ch.len() as u64));
    let pre_v = &mut sc.pre_v[..nl * d];
    if !binary_product(isa, b.binary_ok, dens, &sc.hrows, (&mut sc.pwt, false), w, h, d, true, pre_v, threads)
    {
        products.hidden_to_visible_cols(nl, ch, pre_v, threads);
    }
    s.chains.visible_step_from(&s.rbm, pre_v)?;
    let lrows = pos.len() + nl;
    sc.la.clear();
    sc.la.extend_from_slice(&sc.a[pos.start * d..pos.end * d]);
    sc.la.extend_from_slice(s.chains.visible());
    sc.vrows.reset(d);
    sc.vrows.fill_from(&sc.la);
    let dens = density_of(split.counts(sc.vrows.nnz() as u64, sc.la.len() as u64));
    let pre = &mut sc.pre_h[..lrows * h];
    if !binary_product(isa, b.binary_ok, dens, &sc.vrows, (&mut sc.pw, false), w, d, h, false, pre, threads) {
        products.visible_to_hidden_cols(lrows, &sc.la, pre, threads);
    }
    sc.lb.resize(lrows * h, 0.0);
    let (ppos, pneg) = sc.lb.split_at_mut(pos.len() * h);
    let (pre_pos, pre_neg) = pre.split_at(pos.len() * h);
    let (rbm, chains) = (&s.rbm, &mut s.chains);
    let (_, sampled) = rayon::join(
        || activation::sigmoid_rows_bias(isa, pre_pos, rbm.hidden_bias(), ppos),
        || chains.hidden_step_from(rbm, pre_neg, Some(pneg)),
    );
    sampled?;
    sc.lf.clear();
    record_free_energies(
        isa,
        &s.rbm,
        (&sc.la[pos.len() * d..], None),
        pre_neg,
        &mut sc.free_energy,
        &mut sc.lf,
    );
    let (chain_parts, pos_parts) = (split::parts(n_neg, size), split::parts(m, size));
    split.gather_values(&sc.lf, &chain_parts, trace)?;
    split.gather_rows(&sc.la[pos.len() * d..], d, &chain_parts, &mut sc.a[m * d..rows * d])?;
    let (gpos, gneg) = sc.b[..rows * h].split_at_mut(m * h);
    split.gather_rows(ppos, h, &pos_parts, gpos)?;
    split.gather_rows(pneg, h, &chain_parts, gneg)
}

/// CD split over processes: [`cd_phases`] on this process's chains, whose
/// indices are the examples of the batch it takes (chain `i` starts at
/// example `i`), the positive product chosen from the whole batch's
/// density; then `[V⁻]` and `[P⁺; P⁻]` gathered in order.
fn cd_phases_split(s: &mut TrainState, sc: &mut Scratch, b: &Batch, split: &dyn Split) -> Result<()> {
    let (d, h, m, rows, isa, threads) = (b.d, b.h, b.m, b.rows, b.isa, b.threads);
    let (rank, size) = split.rank_size();
    let clip = |r: std::ops::Range<usize>| r.start.min(m)..r.end.min(m);
    let parts: Vec<_> = split::parts(s.config.n_chains(), size).into_iter().map(clip).collect();
    let pos = parts[rank].clone();
    let ml = pos.len();
    let products = HalfStepProducts::new(isa, s.rbm.weights(), d, h);
    sc.la.clear();
    sc.la.extend_from_slice(&sc.a[pos.start * d..pos.end * d]);
    sc.vrows.reset(d);
    sc.vrows.fill_from(&sc.la);
    let dens = density_of(split.counts(sc.vrows.nnz() as u64, sc.la.len() as u64));
    sc.lb.resize(2 * ml * h, 0.0);
    let (ppos, pneg) = sc.lb.split_at_mut(ml * h);
    let w = s.rbm.weights();
    if !binary_product(isa, b.binary_ok, dens, &sc.vrows, (&mut sc.pw, false), w, d, h, false, ppos, threads)
    {
        products.visible_to_hidden_cols(ml, &sc.la, ppos, threads);
    }
    let br = gibbs::block_rows(ml.max(1), d, h, threads);
    ppos.par_chunks_mut(br * h)
        .for_each(|p| activation::sigmoid_rows_bias_in_place(isa, p, s.rbm.hidden_bias()));
    if ml > 0 {
        s.chains.contrastive(&s.rbm, ppos, s.config.k(), pneg)?;
    }
    let (gpos, gneg) = sc.b[..rows * h].split_at_mut(m * h);
    split.gather_rows(ppos, h, &parts, gpos)?;
    split.gather_rows(pneg, h, &parts, gneg)?;
    let vneg = &s.chains.visible()[..ml * d];
    split.gather_rows(vneg, d, &parts, &mut sc.a[m * d..rows * d])
}

/// The per-weight terms of the gradient besides the data: L1, L2, the
/// sparsity pull `pull_j · mean_v_i` and centering's `−μ_i ∇c_j − ∇b_i λ_j`.
struct Extra {
    /// Mean `V⁺` (sparsity only).
    mean_v: Vec<f64>,
    /// `cost · (target − q_j)` (sparsity only).
    pull: Vec<f32>,
    /// `∇b`, `∇c` in f32 (centering only).
    gb: Vec<f32>,
    gc: Vec<f32>,
}

/// Step 3, gradient statistics in fixed-order sums: `∇b`, `∇c` (with the
/// sparsity pull) into `sc.grad_b` / `sc.grad_c`, the batch's mean `P⁺`
/// into `sc.mean_hpos` (centering, sparsity), and `P` scaled to
/// `[P⁺/m; −P⁻/n]` so that one product gives `∇W`: packed into `sc.pp`
/// for the sparse gradient (one pass over `P`, panels in parallel), else in
/// place. Scaled terms below [`TINY`] are dropped: they change nothing
/// measurable, and subnormal numbers would slow the product severalfold.
fn statistics(s: &mut TrainState, sc: &mut Scratch, b: &Batch, sparse_grad: bool) -> Result<Extra> {
    let (d, h, m) = (b.d, b.h, b.m);
    let (vpos, vneg) = sc.a[..b.rows * d].split_at(m * d);
    let vt = &sc.vt;
    let (inv_m, inv_n) = (1.0 / m as f64, 1.0 / b.n_neg as f64);
    let (gb, gc) = (&mut sc.grad_b, &mut sc.grad_c);
    gb.fill(0.0);
    gc.fill(0.0);
    let sparsity = s.config.sparsity;
    let q = &mut s.sparsity_q;
    let centered = s.config.centering.is_some();
    let mean_hpos = &mut sc.mean_hpos;
    mean_hpos.clear();
    if centered || sparsity.is_some() {
        mean_hpos.resize(h, 0.0);
    }
    let pp = if sparse_grad { Some(packed_slot(&mut sc.pp, b.rows, h)?) } else { None };
    let p = &mut sc.b[..b.rows * h];
    let (mut mean_v, mut pull) = (Vec::new(), Vec::new());
    rayon::join(
        || {
            if sparse_grad {
                // Binary V: the column sums are counts, read off the rows of
                // Vᵀ (positions < m are the data rows).
                for (i, g) in gb.iter_mut().enumerate() {
                    let col = vt.row(i);
                    let pos = col.partition_point(|&r| (r as usize) < m);
                    *g = pos as f64 * inv_m - (col.len() - pos) as f64 * inv_n;
                }
            } else {
                add_column_sums(vpos, d, inv_m, gb);
                add_column_sums(vneg, d, -inv_n, gb);
            }
            if sparsity.is_some() {
                mean_v = vec![0.0f64; d];
                add_column_sums(vpos, d, inv_m, &mut mean_v);
            }
        },
        || {
            match pp {
                Some(pp) => scale_into_panels(b.isa, p, (m, h), (inv_m, inv_n), gc, mean_hpos, pp),
                None => {
                    let (ppos, pneg) = p.split_at_mut(m * h);
                    add_column_sums(ppos, h, inv_m, gc);
                    add_column_sums(pneg, h, -inv_n, gc);
                    if !mean_hpos.is_empty() {
                        add_column_sums(ppos, h, inv_m, mean_hpos);
                    }
                    let (sm, sn) = (inv_m as f32, -(inv_n as f32));
                    ppos.iter_mut().for_each(|x| *x = flush(*x * sm));
                    pneg.iter_mut().for_each(|x| *x = flush(*x * sn));
                }
            }
            if let Some(sp) = sparsity {
                pull = vec![0.0f32; h];
                for j in 0..h {
                    q[j] = sp.decay * q[j] + (1.0 - sp.decay) * mean_hpos[j] as f32;
                    pull[j] = sp.cost * (sp.target - q[j]);
                    gc[j] += pull[j] as f64;
                }
            }
        },
    );
    let (gbf, gcf) = if centered {
        (sc.grad_b.iter().map(|&g| g as f32).collect(), sc.grad_c.iter().map(|&g| g as f32).collect())
    } else {
        (Vec::new(), Vec::new())
    };
    Ok(Extra { mean_v, pull, gb: gbf, gc: gcf })
}

/// `[P⁺/m; −P⁻/n]` (`p` = `[P⁺; P⁻]`, `m` rows of `P⁺`, flushed as in
/// place) written into the panels of `pp`, with the column sums of the
/// scaled rows added to `gc` and, unless `mean_hpos` is empty, those of
/// `P⁺/m` to it — in f64, rows in order within each column, as
/// [`add_column_sums`] sums them (the same bits). Panels in parallel.
fn scale_into_panels(
    isa: Isa,
    p: &[f32],
    (m, h): (usize, usize),
    (inv_m, inv_n): (f64, f64),
    gc: &mut [f64],
    mean_hpos: &mut [f64],
    pp: &mut PackedWeights,
) {
    const PN: usize = simd::PANEL;
    let rows = p.len() / h;
    let (sm, sn) = (inv_m as f32, -(inv_n as f32));
    let want_mean = !mean_hpos.is_empty();
    let sums: Vec<([f64; PN], [f64; PN])> = pp
        .panels_mut()
        .par_chunks_mut(rows * PN)
        .enumerate()
        .map(|(pi, panel)| {
            let (j0, mut g, mut mh) = (pi * PN, [0.0f64; PN], [0.0f64; PN]);
            let nc = PN.min(h - j0);
            let scales = [(inv_m, sm), (-inv_n, sn)];
            let mean = want_mean.then_some(&mut mh);
            simd::scale_panel(isa, &p[j0..], h, nc, m, scales, TINY, panel, &mut g, mean);
            (g, mh)
        })
        .collect();
    for ((j0, (g, mh)), gc) in (0..h).step_by(PN).zip(&sums).zip(gc.chunks_mut(PN)) {
        gc.iter_mut().zip(g).for_each(|(a, &g)| *a += g);
        if want_mean {
            mean_hpos[j0..(j0 + PN).min(h)].iter_mut().zip(mh).for_each(|(a, &x)| *a += x);
        }
    }
}

/// Step 4, the optimizer step. With centering the weight gradient is the
/// centered one, `∇W − μ∇cᵀ − ∇b λᵀ`, and the optimizer moves the centered
/// biases `b′ = b + Wλ`, `c′ = c + Wᵀμ` (in `sc.cb`, `sc.cc`; converted back
/// by [`after_step`]). Returns whether a weight is out of bounds.
///
/// Split over processes, each one steps its share of the rows of `W` (the
/// visible units `split::shard(D, rank, size)`, with the momentum of those
/// rows only) and the rows are all-gathered after the step: every process
/// ends with the whole new `W`, the bits of one process.
fn optimizer_step(
    s: &mut TrainState,
    sc: &mut Scratch,
    b: &Batch,
    sparse_grad: bool,
    extra: &Extra,
    split: &dyn Split,
) -> Result<bool> {
    let (d, h) = (b.d, b.h);
    let (rank, size) = split.rank_size();
    let mine = split::shard(d, rank, size);
    let (r0, r1) = (mine.start, mine.end);
    let centered = s.config.centering.is_some();
    if centered {
        let (mu, lambda) = &s.offsets;
        centering::centered_biases(&s.rbm, mu, lambda, &mut sc.cb, &mut sc.cc);
    }
    // SGD on sparse V without fast weights takes ∇W 64 rows at a time from
    // the packed P, fused with the step; otherwise ∇W is computed in full
    // (FPCD needs it for the fast weights): by the binary kernel on sparse
    // V, else one dense product with alpha = 1, beta = 0. (Letting
    // matrixmultiply fold `μΔ + lr·∇W` in with alpha = lr, beta = μ gave
    // bits that depended on the row blocks, i.e. on the thread count, once
    // V was not binary.)
    let fused =
        sparse_grad && s.config.fast_weights.is_none() && matches!(s.config.optimizer, Optimizer::Sgd { .. });
    let pp = if fused {
        Some(packed_p(&sc.pp))
    } else {
        full_weight_gradient(sc, b, sparse_grad, (r0, r1), split)?;
        None
    };
    let (w, vb, hb) = s.rbm.params_mut();
    let (vb, hb) = if centered { (&mut sc.cb[..], &mut sc.cc[..]) } else { (vb, hb) };
    let o = &mut s.optimizer;
    let terms = Terms {
        l1: s.config.l1,
        l2: s.config.optim.l2,
        extra,
        offsets: (&s.offsets.0, &s.offsets.1),
        centered,
        maxw: s.config.max_weight,
    };
    let (gb, gc) = (&sc.grad_b, &sc.grad_c);
    let lr = b.lr;
    let bad = match s.config.optimizer {
        Optimizer::Sgd { initial, final_, switch_epoch } => {
            let mu = if s.epoch < switch_epoch { initial } else { final_ };
            let grad = match pp {
                Some(pp) => RowGradient::Packed(b.isa, &sc.vt, pp),
                None => RowGradient::Dense(&sc.grad_w),
            };
            let (wr, mr) = (&mut w[r0 * h..r1 * h], &mut o.m_w[r0 * h..r1 * h]);
            // In one process the step writes the next update's packed W and
            // Wᵀ (where their binary products have been used) as it goes.
            let pack = split.whole().then(|| PackTargets::new(b.isa, d, h, &mut sc.pw, &mut sc.pwt));
            let velocity = mu != 0.0 || b.keep_velocity;
            let bad = sgd_weights(
                wr,
                mr,
                r0,
                grad,
                &terms,
                (b.isa, h, b.threads),
                (mu, lr, velocity),
                pack.as_ref(),
            );
            let written = |p: Option<SendPtr>| p.map(|_| s.step);
            (sc.pw_at, sc.pwt_at) = match &pack {
                Some(p) => (written(p.pw), written(p.pwt)),
                None => (None, None),
            };
            for (p, (m, g)) in vb
                .iter_mut()
                .zip(o.m_b.iter_mut().zip(gb.iter()))
                .chain(hb.iter_mut().zip(o.m_c.iter_mut().zip(gc.iter())))
            {
                *m = flush(mu * *m + lr * *g as f32);
                *p += *m;
            }
            bad
        }
        Optimizer::Adam { beta1, beta2, eps } => {
            o.t += 1;
            let c1 = 1.0 - beta1.powi(o.t.min(i32::MAX as u64) as i32);
            let c2 = 1.0 - beta2.powi(o.t.min(i32::MAX as u64) as i32);
            let adam = Adam { beta1, beta2, eps, c1, c2, lr };
            let rs = r0 * h..r1 * h;
            let (wr, m1, m2) = (&mut w[rs.clone()], &mut o.m_w[rs.clone()], &mut o.v_w[rs.clone()]);
            let bad = adam_weights(wr, m1, m2, r0, &sc.grad_w[rs], &terms, (b.isa, h, b.threads), &adam);
            for (p, ((m, v), g)) in vb
                .iter_mut()
                .zip(o.m_b.iter_mut().zip(o.v_b.iter_mut()).zip(gb.iter()))
                .chain(hb.iter_mut().zip(o.m_c.iter_mut().zip(o.v_c.iter_mut()).zip(gc.iter())))
            {
                adam.step(p, m, v, *g as f32);
            }
            bad
        }
    };
    if split.whole() {
        return Ok(bad);
    }
    // Every process's rows of the new W, and whether any was out of bounds.
    sc.la.clear();
    sc.la.extend_from_slice(&w[r0 * h..r1 * h]);
    split.gather_rows(&sc.la, h, &split::parts(d, size), w)?;
    Ok(split.counts(bad as u64, 1).0 > 0)
}

/// The packed `[P⁺/m; −P⁻/n]` that [`statistics`] wrote for the sparse
/// gradient.
fn packed_p(pp: &Option<PackedWeights>) -> &PackedWeights {
    pp.as_ref().expect("packed by `statistics` for the sparse gradient")
}

/// Rows `r0..r1` of `∇W` in full into `sc.grad_w`: by the binary kernel
/// from the packed `P` on sparse `V` (`sparse_grad`), else one dense product
/// `[V⁺; V⁻]ᵀ·[P⁺/m; −P⁻/n]` with alpha = 1, beta = 0.
fn full_weight_gradient(
    sc: &mut Scratch,
    b: &Batch,
    sparse_grad: bool,
    (r0, r1): (usize, usize),
    split: &dyn Split,
) -> Result<()> {
    let (d, h, rows) = (b.d, b.h, b.rows);
    let gw = &mut sc.grad_w[r0 * h..r1 * h];
    if sparse_grad {
        let pp = packed_p(&sc.pp);
        if split.whole() {
            binary::packed_unchecked(b.isa, &sc.vt, pp, gw, b.threads);
        } else {
            let (isa, vt, per) = (b.isa, &sc.vt, (r1 - r0).div_ceil(b.threads).max(1));
            gw.par_chunks_mut(per * h).enumerate().for_each(|(k, g)| {
                let i = r0 + k * per;
                binary::packed_rows_unchecked(isa, vt, i, i + g.len() / h, pp, g);
            });
        }
        return Ok(());
    }
    let (ab, bb) = (&sc.a[..rows * d], &sc.b[..rows * h]);
    if split.whole() {
        gemm::par_gemm_tn(d, rows, h, ab, bb, gw, d.div_ceil(b.threads))
    } else {
        gemm::par_gemm_tn_rows((d, rows, h), ab, bb, r0, gw, d.div_ceil(b.threads))
    }
}

/// What the weight rows need besides their gradient.
struct Terms<'a> {
    l1: f32,
    l2: f32,
    extra: &'a Extra,
    /// Centering offsets `(μ, λ)`.
    offsets: (&'a [f32], &'a [f32]),
    centered: bool,
    maxw: f32,
}

impl Terms<'_> {
    /// Whether the step has no term beyond L2 and L1 decay (no sparsity
    /// pull, no centering): [`simd::momentum_step`] on whole row groups.
    fn plain(&self) -> bool {
        self.extra.pull.is_empty() && !self.centered
    }

    /// Whether [`simd::momentum_step`] takes the terms, row by row, as
    /// [`Self::row_terms`]: sparsity or centering, not both.
    fn vectorized(&self) -> bool {
        self.extra.pull.is_empty() == self.centered
    }

    /// The extra terms of row `i` in [`Self::sgd_row`]'s order, as
    /// `simd::momentum_step` adds them: sparsity `− pull_j·v̄_i` as
    /// `(−v̄_i)·pull_j` (the same bits: negation and the product's operand
    /// order are exact); centering `+ μ_i ∇c_j + ∇b_i λ_j`.
    fn row_terms(&self, i: usize) -> ([(&[f32], f32); 2], usize) {
        let e = self.extra;
        if self.centered {
            ([(&e.gc[..], self.offsets.0[i]), (self.offsets.1, e.gb[i])], 2)
        } else {
            ([(&e.pull[..], -(e.mean_v[i] as f32)), (&[], 0.0)], 1)
        }
    }

    /// Sparsity pull and centering terms of weight `(i, j)`.
    #[inline(always)]
    fn extra(&self, i: usize, j: usize) -> f32 {
        let e = self.extra;
        let sp = if e.pull.is_empty() { 0.0 } else { e.pull[j] * e.mean_v[i] as f32 };
        let ce =
            if self.centered { -(self.offsets.0[i] * e.gc[j] + e.gb[i] * self.offsets.1[j]) } else { 0.0 };
        sp + ce
    }

    /// `m −= lr·(λ₂w + λ₁ sign w − extra)` over row `i` of the velocity,
    /// in branch-free loops (they vectorize).
    fn sgd_row(&self, i: usize, lr: f32, mr: &mut [f32], wr: &[f32]) {
        let (l1, l2, e) = (self.l1, self.l2, self.extra);
        let decay = l1 != 0.0 || l2 != 0.0 || !e.pull.is_empty() || self.centered;
        if !decay {
        } else if e.pull.is_empty() && !self.centered {
            for (m, &w) in mr.iter_mut().zip(wr.iter()) {
                *m -= lr * (l2 * w + l1 * sign(w));
            }
        } else if !self.centered {
            let mv = e.mean_v[i] as f32;
            for ((m, &w), &sp) in mr.iter_mut().zip(wr.iter()).zip(&e.pull) {
                *m -= lr * (l2 * w + l1 * sign(w) - sp * mv);
            }
        } else if e.pull.is_empty() {
            let (mi, gi) = (self.offsets.0[i], e.gb[i]);
            for ((m, &w), (&gc, &l)) in mr.iter_mut().zip(wr.iter()).zip(e.gc.iter().zip(self.offsets.1)) {
                *m -= lr * (l2 * w + l1 * sign(w) + mi * gc + gi * l);
            }
        } else {
            for (j, (m, &w)) in mr.iter_mut().zip(wr.iter()).enumerate() {
                *m -= lr * (l2 * w + l1 * sign(w) - self.extra(i, j));
            }
        }
    }
}

/// Where the SGD step reads the rows of `∇W`.
enum RowGradient<'a> {
    /// Computed in full.
    Dense(&'a [f32]),
    /// Rows of `Vᵀ·[P⁺/m; −P⁻/n]` from the packed `P`, 64 at a time.
    Packed(Isa, &'a BinaryRows, &'a PackedWeights),
}

/// SGD with momentum on the weights `w` — rows `row0 ..` of `W`, whole
/// rows per parallel piece (so the row index is known), 16 rows at a time
/// (their gradient rows taken from the packed `P` 64 at a time):
/// `Δ ← μΔ + lr·∇W − lr·(λ₂W + λ₁ sign W − extra)`, `W ← W + Δ`; with
/// `pack`, each group of 16 new rows is also written into the packed `W`
/// and `Wᵀ` of the next update's binary products while it is in cache.
/// Without `velocity` (only at `μ = 0`) the vectorized steps neither read
/// nor write `vel` (the same weights: [`simd::MomentumStep::velocity`]).
/// Returns whether a weight is out of bounds.
#[allow(clippy::too_many_arguments)]
fn sgd_weights(
    w: &mut [f32],
    vel: &mut [f32],
    row0: usize,
    grad: RowGradient<'_>,
    terms: &Terms<'_>,
    (isa, h, threads): (Isa, usize, usize),
    (mu, lr, velocity): (f32, f32, bool),
    pack: Option<&PackTargets>,
) -> bool {
    const GB: usize = simd::PANEL;
    // Rows of ∇W taken from the packed P together: each panel of P (one
    // cache line per row of `[V⁺; V⁻]`) is then read once per 64 rows of
    // ∇W, while it is in L1, instead of once per group of 16.
    const GRAD_ROWS: usize = 4 * GB;
    // Blocks of whole groups: a group is one panel of the packed `Wᵀ`.
    let rows_per = (w.len() / h).div_ceil(threads).max(1).next_multiple_of(GB);
    let (l2, l1, max) = (terms.l2, terms.l1, terms.maxw);
    let step = simd::MomentumStep { mu, lr, l2, l1, tiny: TINY, max, velocity };
    w.par_chunks_mut(rows_per * h)
        .zip(vel.par_chunks_mut(rows_per * h))
        .enumerate()
        .map(|(blk, (w, m))| {
            let mut bad = false;
            let mut g = vec![0.0f32; if matches!(grad, RowGradient::Packed(..)) { GRAD_ROWS * h } else { 0 }];
            let blocks = w.chunks_mut(GRAD_ROWS * h).zip(m.chunks_mut(GRAD_ROWS * h));
            for (gb, (w, m)) in blocks.enumerate() {
                let b0 = row0 + blk * rows_per + gb * GRAD_ROWS;
                if let RowGradient::Packed(isa, vt, pp) = grad {
                    let nb = w.len() / h;
                    binary::packed_rows_unchecked(isa, vt, b0, b0 + nb, pp, &mut g[..nb * h]);
                }
                for (gi, (wg, mg)) in w.chunks_mut(GB * h).zip(m.chunks_mut(GB * h)).enumerate() {
                    let (i0, n) = (b0 + gi * GB, wg.len() / h);
                    let gg = match grad {
                        RowGradient::Packed(..) => &g[gi * GB * h..(gi * GB + n) * h],
                        RowGradient::Dense(gw) => &gw[i0 * h..(i0 + n) * h],
                    };
                    if terms.plain() {
                        // The operations of `Terms::sgd_row`, vectorized (same bits).
                        bad |= simd::momentum_step(isa, wg, mg, gg, &step, &[]);
                    } else if terms.vectorized() {
                        let rows = wg.chunks_exact_mut(h).zip(mg.chunks_exact_mut(h)).zip(gg.chunks_exact(h));
                        for (r, ((wr, mr), gr)) in rows.enumerate() {
                            let (t, n) = terms.row_terms(i0 + r);
                            bad |= simd::momentum_step(isa, wr, mr, gr, &step, &t[..n]);
                        }
                    } else {
                        for (r, ((wr, mr), gr)) in wg
                            .chunks_exact_mut(h)
                            .zip(mg.chunks_exact_mut(h))
                            .zip(gg.chunks_exact(h))
                            .enumerate()
                        {
                            for (m, &g) in mr.iter_mut().zip(gr) {
                                *m = mu * *m + lr * g;
                            }
                            terms.sgd_row(i0 + r, lr, mr, wr);
                            for (w, m) in wr.iter_mut().zip(mr.iter_mut()) {
                                *m = flush(*m);
                                *w += *m;
                            }
                            bad |= wr.iter().fold(false, |b, &w| b | out_of_bounds(w, terms.maxw));
                        }
                    }
                    if let Some(p) = pack {
                        p.write_group(wg, i0);
                    }
                }
            }
            bad
        })
        .reduce(|| false, |a, b| a || b)
}

/// The packed `W` (`D × H`, panels of 16 hidden units) and `Wᵀ` (panels of
/// 16 visible units) that the SGD step writes as it makes the new rows of
/// `W` (one process only: all of `W`'s rows are stepped here), so that the
/// next update's binary products need no repacking pass.
struct PackTargets {
    isa: Isa,
    d: usize,
    h: usize,
    pw: Option<SendPtr>,
    pwt: Option<SendPtr>,
}

impl PackTargets {
    /// Pointers to the slots that are allocated for `d × h` (a slot is
    /// allocated once the binary product has been chosen for it).
    fn new(
        isa: Isa,
        d: usize,
        h: usize,
        pw: &mut Option<PackedWeights>,
        pwt: &mut Option<PackedWeights>,
    ) -> Self {
        let ptr = |p: &mut Option<PackedWeights>, k: usize, n: usize| {
            p.as_mut().filter(|p| p.k() == k && p.n() == n).map(|p| SendPtr(p.panels_mut().as_mut_ptr()))
        };
        PackTargets { isa, d, h, pw: ptr(pw, d, h), pwt: ptr(pwt, h, d) }
    }

    /// Writes rows `i0 .. i0 + n` of `W` (`wg`, `n ≤ 16` rows, `i0` a
    /// multiple of 16) into both packings.
    fn write_group(&self, wg: &[f32], i0: usize) {
        let (d, h, pn) = (self.d, self.h, simd::PANEL);
        let n = wg.len() / h;
        debug_assert!(i0.is_multiple_of(pn) && n <= pn && i0 + n <= d);
        if let Some(pw) = self.pw {
            for (p, j0) in (0..h).step_by(pn).enumerate() {
                let nc = pn.min(h - j0);
                for (r, row) in wg.chunks_exact(h).enumerate() {
                    // SAFETY: panel `p` of the packed W (`d·16` floats, the
                    // slot holds `h.div_ceil(16)` of them) at row `i0 + r < d`:
                    // within the allocation; the rows `i0..i0+n` belong to
                    // this group alone, so no other task writes them, and
                    // nothing reads the slot until the step's parallel region
                    // has ended.
                    let dst = unsafe {
                        std::slice::from_raw_parts_mut(pw.get().add(p * d * pn + (i0 + r) * pn), nc)
                    };
                    match (
                        <&mut [f32; simd::PANEL]>::try_from(&mut *dst),
                        row[j0..].first_chunk::<{ simd::PANEL }>(),
                    ) {
                        // Whole panels as one 64-byte move, not a memcpy call.
                        (Ok(dst), Some(src)) => *dst = *src,
                        _ => dst.copy_from_slice(&row[j0..j0 + nc]),
                    }
                }
            }
        }
        if let Some(pwt) = self.pwt {
            // SAFETY: panel `i0 / 16` of the packed Wᵀ (`h·16` floats, within
            // the `d.div_ceil(16)` panels of the slot) is this group's alone;
            // nothing reads it until the parallel region has ended.
            let panel = unsafe { std::slice::from_raw_parts_mut(pwt.get().add(i0 / pn * h * pn), h * pn) };
            simd::pack_transposed_panel(self.isa, wg, h, 0, n, panel);
        }
    }
}

/// Adam's constants for one step.
struct Adam {
    beta1: f32,
    beta2: f32,
    eps: f32,
    /// Bias corrections `1 − β₁ᵗ`, `1 − β₂ᵗ`.
    c1: f32,
    c2: f32,
    lr: f32,
}

impl Adam {
    #[inline(always)]
    fn step(&self, x: &mut f32, m: &mut f32, v: &mut f32, g: f32) {
        *m = flush(self.beta1 * *m + (1.0 - self.beta1) * g);
        *v = flush(self.beta2 * *v + (1.0 - self.beta2) * g * g);
        *x += self.lr * (*m / self.c1) / ((*v / self.c2).sqrt() + self.eps);
    }
}

/// Adam on the weights `w` (rows `row0 ..` of `W`, their gradient rows in
/// `grad`), row by row (whole rows per parallel piece). Returns
/// whether a weight is out of bounds.
#[allow(clippy::too_many_arguments)]
fn adam_weights(
    w: &mut [f32],
    m1: &mut [f32],
    m2: &mut [f32],
    row0: usize,
    grad: &[f32],
    terms: &Terms<'_>,
    (isa, h, threads): (Isa, usize, usize),
    adam: &Adam,
) -> bool {
    let (l1, l2) = (terms.l1, terms.l2);
    let step = simd::AdamStep {
        beta1: adam.beta1,
        beta2: adam.beta2,
        eps: adam.eps,
        c1: adam.c1,
        c2: adam.c2,
        lr: adam.lr,
        l2,
        l1,
        tiny: TINY,
        max: terms.maxw,
    };
    let rows_per = (w.len() / h).div_ceil(threads).max(1);
    w.par_chunks_mut(rows_per * h)
        .zip(m1.par_chunks_mut(rows_per * h))
        .zip(m2.par_chunks_mut(rows_per * h))
        .zip(grad.par_chunks(rows_per * h))
        .enumerate()
        .map(|(blk, (((w, m), v), g))| {
            if terms.plain() {
                // The operations of the loop below, vectorized (same bits).
                return simd::adam_step(isa, w, m, v, g, &step);
            }
            let mut bad = false;
            let rows = w.chunks_exact_mut(h).zip(m.chunks_exact_mut(h)).zip(v.chunks_exact_mut(h));
            for (r, (((wr, mr), vr), g)) in rows.zip(g.chunks_exact(h)).enumerate() {
                let i = row0 + blk * rows_per + r;
                for (j, (((w, m), v), &g)) in
                    wr.iter_mut().zip(mr.iter_mut()).zip(vr.iter_mut()).zip(g).enumerate()
                {
                    let g = g - l2 * *w - l1 * sign(*w) + terms.extra(i, j);
                    adam.step(w, m, v, g);
                }
                bad |= wr.iter().fold(false, |b, &w| b | out_of_bounds(w, terms.maxw));
            }
            bad
        })
        .reduce(|| false, |a, b| a || b)
}

/// Step 5, after the step: centered biases back to plain ones with the new `W`
/// and the hidden offsets moved (a reparameterisation: the model does not
/// change); the fast weights `θ_f ← decay·θ_f + lr_f·∇` (the plain
/// likelihood gradient); the divergence check (the weight loops flagged any
/// weight that is not finite or beyond the bound; biases are few).
fn after_step(s: &mut TrainState, sc: &Scratch, b: &Batch, weights_bad: bool) -> Result<()> {
    if let Some(c) = s.config.centering {
        let (mu, lambda) = &mut s.offsets;
        centering::plain_biases(&mut s.rbm, mu, lambda, &sc.cb, &sc.cc);
        let nu = c.hidden_rate;
        for (l, &p) in lambda.iter_mut().zip(sc.mean_hpos.iter()) {
            *l = (1.0 - nu) * *l + nu * p as f32;
        }
    }
    if let Some(f) = s.config.fast_weights {
        let (fw, rest) = s.fast.split_at_mut(b.d * b.h);
        let (fb, fc) = rest.split_at_mut(b.d);
        fw.par_chunks_mut(4096).zip(sc.grad_w.par_chunks(4096)).for_each(|(x, g)| {
            x.iter_mut().zip(g).for_each(|(x, &g)| *x = flush(f.decay * *x + f.learning_rate * g))
        });
        for (x, &g) in fb.iter_mut().zip(sc.grad_b.iter()).chain(fc.iter_mut().zip(sc.grad_c.iter())) {
            *x = flush(f.decay * *x + f.learning_rate * g as f32);
        }
    }
    let maxw = s.config.max_weight;
    let bad = |x: &[f32], what: &str| -> Option<String> {
        x.iter().position(|&v| out_of_bounds(v, maxw)).map(|i| format!("{what}[{i}] = {}", x[i]))
    };
    let found = if weights_bad { bad(s.rbm.weights(), "weight") } else { None };
    let found = found
        .or_else(|| bad(s.rbm.visible_bias(), "visible bias"))
        .or_else(|| bad(s.rbm.hidden_bias(), "hidden bias"))
        .or_else(|| bad(&s.fast, "fast parameter"));
    if let Some(reason) = found {
        return Err(Error::Diverged {
            epoch: s.epoch,
            step: s.step,
            reason: format!("{reason} (bound {maxw})"),
        });
    }
    if let Some(a) = s.config.averaging
        && s.epoch >= a.from_epoch
    {
        average_step(s, a.decay);
    }
    Ok(())
}

/// Parameter averaging: `θ̄ ← decay·θ̄ + (1 − decay)·θ`, or `θ̄ = θ` at the
/// first averaged update (element-wise: the same bits for any thread count).
fn average_step(s: &mut TrainState, decay: f32) {
    let (d, h) = (s.rbm.n_visible(), s.rbm.n_hidden());
    let first = s.averaged_updates == 0;
    let (aw, rest) = s.average.split_at_mut(d * h);
    let (ab, ac) = rest.split_at_mut(d);
    let mix = move |a: &mut f32, x: f32| *a = if first { x } else { flush(decay * *a + (1.0 - decay) * x) };
    aw.par_chunks_mut(4096)
        .zip(s.rbm.weights().par_chunks(4096))
        .for_each(|(a, x)| a.iter_mut().zip(x).for_each(|(a, &x)| mix(a, x)));
    for (a, &x) in ab.iter_mut().zip(s.rbm.visible_bias()).chain(ac.iter_mut().zip(s.rbm.hidden_bias())) {
        mix(a, x);
    }
    s.averaged_updates += 1;
}

/// Appends `F(v) = −bᵀv − Σⱼ softplus(cⱼ + (vᵀW)ⱼ)` of each row of `v`
/// (binary; `pre` = `VW` without bias) to `trace`, in f64. Each row's two
/// sums run in index order (the same bits for any thread count); rows in
/// parallel, four at a time so that four sums are in flight. With `ones` =
/// `(rows, r0)`, row `r` of `v` has its set positions in row `r0 + r` of
/// `rows` (read instead of scanning `v`). `sp` is scratch.
fn record_free_energies(
    isa: Isa,
    rbm: &Rbm,
    (v, ones): (&[f32], Option<(&BinaryRows, usize)>),
    pre: &[f32],
    sp: &mut Vec<f32>,
    trace: &mut Vec<f64>,
) {
    const G: usize = 4;
    let (d, h) = (rbm.n_visible(), rbm.n_hidden());
    sp.clear();
    sp.extend_from_slice(pre);
    let (b, c) = (rbm.visible_bias(), rbm.hidden_bias());
    let at = trace.len();
    trace.resize(at + v.len() / d.max(1), 0.0);
    trace[at..]
        .par_chunks_mut(G)
        .zip(v.par_chunks(G * d))
        .zip(sp.par_chunks_mut(G * h))
        .enumerate()
        .with_min_len(2)
        .for_each(|(gi, ((f, vg), sg))| {
            activation::softplus_rows_bias_in_place(isa, sg, c);
            // `Sum` for f64 starts at −0.0; so do these sums.
            let mut acc = [-0.0f64; G];
            for j in 0..h {
                for (a, r) in acc.iter_mut().zip(0..f.len()) {
                    *a += sg[r * h + j] as f64;
                }
            }
            for (r, (f, vr)) in f.iter_mut().zip(vg.chunks_exact(d)).enumerate() {
                let vb: f64 = match ones {
                    Some((rows, r0)) => rows.row(r0 + gi * G + r).iter().map(|&i| b[i as usize] as f64).sum(),
                    None => vr.iter().zip(b).filter(|(x, _)| **x != 0.0).map(|(_, &b)| b as f64).sum(),
                };
                *f = -vb - acc[r];
            }
        });
}

/// The model the persistent chains sample under fast weights: `θ + θ_f`
/// (`fast` = `[W_f, b_f, c_f]` flat) written into `out`.
fn fast_model(rbm: &Rbm, fast: &[f32], out: &mut Rbm) {
    let (d, h) = (rbm.n_visible(), rbm.n_hidden());
    let (fw, rest) = fast.split_at(d * h);
    let (fb, fc) = rest.split_at(d);
    let (w, b, c) = out.params_mut();
    w.par_chunks_mut(4096)
        .zip(rbm.weights().par_chunks(4096))
        .zip(fw.par_chunks(4096))
        .for_each(|((o, x), f)| o.iter_mut().zip(x).zip(f).for_each(|((o, &x), &f)| *o = x + f));
    for ((o, &x), &f) in
        b.iter_mut().zip(rbm.visible_bias()).zip(fb).chain(c.iter_mut().zip(rbm.hidden_bias()).zip(fc))
    {
        *o = x + f;
    }
}

/// `out = A·W` (or `A·Wᵀ` if `transposed`, with `w` stored `n × k`) for
/// the binary `a` (`rows × k`) by the binary kernel, packing `w` into `slot`
/// first unless `current` says the slot already holds it, if `allowed` and
/// `a` is sparse enough for it to win; returns whether it did (otherwise the
/// caller takes the dense product). The output columns are split over
/// `parts` tasks (the same bits for any split).
#[allow(clippy::too_many_arguments)]
fn binary_product(
    isa: Isa,
    allowed: bool,
    density: f64,
    a: &BinaryRows,
    (slot, current): (&mut Option<PackedWeights>, bool),
    w: &[f32],
    k: usize,
    n: usize,
    transposed: bool,
    out: &mut [f32],
    parts: usize,
) -> bool {
    if !allowed || !binary::sparse_wins(isa, density) {
        return false;
    }
    let packed = match slot {
        Some(_) if current => true,
        Some(p) => if transposed { p.repack_transposed(w) } else { p.repack(w) }.is_ok(),
        None => {
            let p = if transposed { PackedWeights::transposed(w, n, k) } else { PackedWeights::new(w, k, n) };
            // Packing fails only on allocation; then the dense product runs.
            p.map(|p| *slot = Some(p)).is_ok()
        }
    };
    match slot {
        Some(p) if packed => {
            binary::packed_unchecked(isa, a, p, out, parts);
            true
        }
        _ => false,
    }
}

/// `slot` holding a packing of the shape `k × n` (contents left as they
/// are when the shape matches: the last batch of an epoch may be smaller),
/// for [`scale_into_panels`]; a new slot starts zeroed, and only the
/// padding columns of the last panel are never written.
fn packed_slot(slot: &mut Option<PackedWeights>, k: usize, n: usize) -> Result<&mut PackedWeights> {
    if !matches!(slot, Some(p) if p.k() == k && p.n() == n) {
        *slot = Some(PackedWeights::zeroed(k, n)?);
    }
    Ok(slot.as_mut().expect("allocated above"))
}

/// `out[j] += scale · Σ_r x[r][j]` over the rows of a row-major matrix of
/// `width` columns, rows summed in order (fixed, thread-independent).
fn add_column_sums(x: &[f32], width: usize, scale: f64, out: &mut [f64]) {
    for r in x.chunks_exact(width) {
        for (acc, &v) in out.iter_mut().zip(r) {
            *acc += v as f64 * scale;
        }
    }
}

/// Rows per parallel piece of the copies into `[V⁺; V⁻]`.
const COPY_ROWS: usize = 16;

/// Values this small are set to 0 in the gradient terms and optimizer
/// moments, so that they never decay into subnormal numbers.
const TINY: f32 = 1e-30;

#[inline(always)]
fn flush(x: f32) -> f32 {
    if x.abs() < TINY { 0.0 } else { x }
}

/// True for NaN, ±inf and values beyond `±max`.
#[inline(always)]
fn out_of_bounds(x: f32, max: f32) -> bool {
    x.is_nan() | (x.abs() > max)
}

/// −1, 0 or 1, without branches.
#[inline(always)]
fn sign(x: f32) -> f32 {
    ((x > 0.0) as u8 as f32) - ((x < 0.0) as u8 as f32)
}

#[cfg(test)]
impl Scratch {
    /// Whether the last step (update count `step`) wrote the packed `W`
    /// and `Wᵀ` for the next update, each asserted equal to a fresh packing
    /// of `w` (`d × h`) when it did.
    pub(super) fn packs_written_at(&self, step: u64, w: &[f32], d: usize, h: usize) -> (bool, bool) {
        let check = |slot: &Option<PackedWeights>, at: Option<u64>, transposed: bool| match slot {
            Some(p) if at == Some(step) => {
                let fresh =
                    if transposed { PackedWeights::transposed(w, d, h) } else { PackedWeights::new(w, d, h) };
                assert!(
                    p.panels() == fresh.unwrap().panels(),
                    "packed W (transposed: {transposed}) is stale"
                );
                true
            }
            _ => false,
        };
        (check(&self.pw, self.pw_at, false), check(&self.pwt, self.pwt_at, true))
    }
}
