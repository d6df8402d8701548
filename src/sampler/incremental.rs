//! Block Gibbs with the two products of each chain's states kept between
//! sweeps and brought up to date by the units that changed
//! ([`crate::kernels::incremental`]): the body of [`crate::Chains::sweep_incremental`]
//! (at β = 1) and of the annealing chains of [`crate::eval::ais`] (at every
//! β of the schedule).
//!
//! The uniforms are drawn exactly as the plain sweep draws them (per chain,
//! `⌈n/2⌉` words per half-step, the same Bernoulli kernel), so the two
//! samplers differ only by the rounding of the products: on a model whose
//! products are exact in f32 (small integer weights) they give the same
//! states, bit for bit (`tests/determinism.rs`).

use super::gibbs;
use crate::kernels::gemm::HalfStepProducts;
use crate::kernels::incremental::IncrementalProduct;
use crate::rng::StreamState;
use crate::simd::Isa;

/// The per-chain state of a block of chains, borrowed: states, streams,
/// the kept products `vW` and `hWᵀ` and the states (as bits) each product
/// belongs to.
pub(crate) struct Rows<'s> {
    pub(crate) v: &'s mut [f32],
    pub(crate) h: &'s mut [f32],
    pub(crate) streams: &'s mut [StreamState],
    pub(crate) vw: &'s mut [f32],
    pub(crate) hwt: &'s mut [f32],
    pub(crate) bits_v: &'s mut [u64],
    pub(crate) bits_h: &'s mut [u64],
}

/// Scratch of one thread.
#[derive(Debug)]
pub(crate) struct Scratch {
    of_v: IncrementalProduct,
    of_h: IncrementalProduct,
    pre: Vec<f32>,
    uniforms: Vec<u64>,
}

impl Scratch {
    pub(crate) fn new(d: usize, h: usize) -> Self {
        Scratch {
            of_v: IncrementalProduct::new(d, h),
            of_h: IncrementalProduct::new(h, d),
            pre: Vec::new(),
            uniforms: Vec::new(),
        }
    }
}

/// Brings `vW` up to date with `v` (`valid`: `vw` is the product of
/// `bits_v`; `exact`: recompute every row).
pub(crate) fn update_vw(
    isa: Isa,
    products: &HalfStepProducts<'_>,
    r: &mut Rows<'_>,
    valid: bool,
    exact: bool,
    s: &mut Scratch,
) {
    let w = products.binary_weights().map(|(pw, _)| pw);
    let dense = |m: usize, x: &[f32], o: &mut [f32]| products.visible_to_hidden(m, x, o);
    s.of_v.update(isa, r.v, r.vw, r.bits_v, valid, w, exact, &dense);
}

/// Brings `hWᵀ` up to date with `h`, as [`update_vw`].
pub(crate) fn update_hwt(
    isa: Isa,
    products: &HalfStepProducts<'_>,
    r: &mut Rows<'_>,
    valid: bool,
    exact: bool,
    s: &mut Scratch,
) {
    let w = products.binary_weights().map(|(_, pwt)| pwt);
    let dense = |m: usize, x: &[f32], o: &mut [f32]| products.hidden_to_visible(m, x, o);
    s.of_h.update(isa, r.h, r.hwt, r.bits_h, valid, w, exact, &dense);
}

/// One sweep at inverse temperature `beta`: `h ~ σ(β·vW + hbias)`, then
/// `hWᵀ` brought up to date (`valid_h`, `exact` as in [`update_vw`]), then
/// `v ~ σ(β·hWᵀ + vbias)`. `vw` must be current for `v` on entry
/// ([`update_vw`]); on exit it is stale (the next [`update_vw`] updates it
/// by the visible units that changed). At `beta == 1` the products are used
/// as they are.
#[allow(clippy::too_many_arguments)]
pub(crate) fn sweep(
    isa: Isa,
    products: &HalfStepProducts<'_>,
    r: &mut Rows<'_>,
    beta: f32,
    hbias: &[f32],
    vbias: &[f32],
    valid_h: bool,
    exact: bool,
    s: &mut Scratch,
) {
    sample(isa, r.vw, beta, hbias, r.h, r.streams, s);
    update_hwt(isa, products, r, valid_h, exact, s);
    sample(isa, r.hwt, beta, vbias, r.v, r.streams, s);
}

/// `out ~ Bernoulli(σ(β·acc + bias))`, one stream per row, uniforms drawn as
/// the plain sweep draws them ([`gibbs::sample_rows_seq`]).
fn sample(
    isa: Isa,
    acc: &[f32],
    beta: f32,
    bias: &[f32],
    out: &mut [f32],
    streams: &mut [StreamState],
    s: &mut Scratch,
) {
    let pre: &[f32] = if beta == 1.0 {
        acc
    } else {
        s.pre.clear();
        s.pre.extend(acc.iter().map(|&x| beta * x));
        &s.pre
    };
    gibbs::sample_rows_seq(isa, pre, bias, out, streams, &mut s.uniforms);
}
