//! The Gaussian–Bernoulli RBM: real visible units `v ∈ ℝᴰ` with standard
//! deviations `σᵢ`, binary hidden units `h ∈ {0,1}ᴴ` (Hinton, "A Practical
//! Guide to Training RBMs", §13.2; Cho, Ilin & Raiko 2011 for learning σ):
//!
//! * `E(v, h) = Σᵢ (vᵢ − bᵢ)²/(2σᵢ²) − Σⱼ cⱼhⱼ − Σᵢⱼ (vᵢ/σᵢ) Wᵢⱼ hⱼ`;
//! * free energy `F(v) = Σᵢ (vᵢ − bᵢ)²/(2σᵢ²) − Σⱼ softplus(cⱼ + Σᵢ (vᵢ/σᵢ)Wᵢⱼ)`;
//! * `∇ᵥF = (v − b)/σ² − (1/σ) ⊙ (W·p)`, `pⱼ = σ(cⱼ + Σᵢ (vᵢ/σᵢ)Wᵢⱼ)`;
//! * conditionals `p(hⱼ = 1 | v) = pⱼ`, `p(vᵢ | h) = N(bᵢ + σᵢ (Wh)ᵢ, σᵢ²)`.
//!
//! As an [`Energy`] it is `F`, so Langevin samplers draw from `p(v)`;
//! block Gibbs uses the conditionals ([`GaussianRbm::gibbs`]); training by
//! CD/PCD is in [`crate::train::gaussian`]. With `σ = 1` the Langevin step
//! is the one `../shared/refbench/jax_gibbs.py` times.

use crate::energy::{Energy, TrainableEnergy, Workspace, rows};
use crate::error::{Error, Result};
use crate::kernels::binary::PackedWeights;
use crate::kernels::{activation, check_len, dense, gemm, mul_dims};
use crate::rng::{self, StreamState};
use crate::simd;
use rayon::prelude::*;
use std::sync::OnceLock;

/// A Gaussian–Bernoulli RBM (module docs). Weights `D × H` row-major.
#[derive(Debug, Clone)]
pub struct GaussianRbm {
    n_visible: usize,
    n_hidden: usize,
    weights: Vec<f32>,
    visible_bias: Vec<f32>,
    hidden_bias: Vec<f32>,
    sigma: Vec<f32>,
    /// All σᵢ = 1: the products skip the scaling.
    unit_sigma: bool,
    /// `W` and `Wᵀ` packed for the dense tile kernels, made on the first
    /// product of at least [`PACK_MIN_ROWS`] rows (a sampler's, typically)
    /// and used by such products only; the parameters never change in
    /// place (`set_params` builds a new model), so the packing stays valid.
    /// `None` inside: the packing could not be allocated.
    packed: OnceLock<Option<Box<(PackedWeights, PackedWeights)>>>,
}

/// Fewest rows in one product for which the tile kernels are used (and the
/// weights packed for them, once): packing `W` and `Wᵀ` costs about as
/// much as 50 rows of the two products, so from 512 rows on it costs at
/// most ≈ 10 % once and pays from the second product on. Smaller products
/// use matrixmultiply (other rounding: the same rows can differ in the last
/// bits between a small and a large call).
const PACK_MIN_ROWS: usize = 512;

impl PartialEq for GaussianRbm {
    /// The parameters (whether the weights were packed yet does not count).
    fn eq(&self, o: &Self) -> bool {
        (self.n_visible, self.n_hidden) == (o.n_visible, o.n_hidden)
            && self.weights == o.weights
            && self.visible_bias == o.visible_bias
            && self.hidden_bias == o.hidden_bias
            && self.sigma == o.sigma
    }
}

fn check_finite(what: &'static str, x: &[f32]) -> Result<()> {
    match x.iter().position(|v| !v.is_finite()) {
        Some(index) => Err(Error::NonFinite { what, index }),
        None => Ok(()),
    }
}

/// Rows per parallel block of `n` rows on the current pool (results do not
/// depend on it: the products are row-split invariant).
fn block_rows(n: usize) -> usize {
    n.div_ceil(rayon::current_num_threads().max(1)).max(1)
}

impl GaussianRbm {
    /// From its parameters.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] for a zero size or `σᵢ ≤ 0`,
    /// [`Error::ShapeMismatch`], [`Error::NonFinite`].
    ///
    /// # Examples
    /// ```
    /// use boltzmann::model::GaussianRbm;
    /// let m = GaussianRbm::new(2, 1, vec![0.5, -0.5], vec![0.0; 2], vec![0.1], vec![1.0, 2.0])?;
    /// assert_eq!(m.sigma(), &[1.0, 2.0]);
    /// assert!(GaussianRbm::new(2, 1, vec![0.5, -0.5], vec![0.0; 2], vec![0.1], vec![1.0, 0.0]).is_err());
    /// # Ok::<(), boltzmann::Error>(())
    /// ```
    pub fn new(
        n_visible: usize,
        n_hidden: usize,
        weights: Vec<f32>,
        visible_bias: Vec<f32>,
        hidden_bias: Vec<f32>,
        sigma: Vec<f32>,
    ) -> Result<Self> {
        if n_visible == 0 || n_hidden == 0 {
            return Err(Error::InvalidParam {
                name: "n_visible / n_hidden",
                reason: format!("{n_visible} × {n_hidden}: sizes must be ≥ 1"),
            });
        }
        check_len(
            "weights (n_visible × n_hidden)",
            mul_dims("weights", n_visible, n_hidden)?,
            weights.len(),
        )?;
        check_len("visible bias", n_visible, visible_bias.len())?;
        check_len("hidden bias", n_hidden, hidden_bias.len())?;
        check_len("sigma (one per visible unit)", n_visible, sigma.len())?;
        check_finite("weights", &weights)?;
        check_finite("visible bias", &visible_bias)?;
        check_finite("hidden bias", &hidden_bias)?;
        check_finite("sigma", &sigma)?;
        if let Some(i) = sigma.iter().position(|&s| s <= 0.0 || s < 1e-6) {
            return Err(Error::InvalidParam {
                name: "sigma",
                reason: format!("σ[{i}] = {} (need ≥ 1e-6)", sigma[i]),
            });
        }
        let unit_sigma = sigma.iter().all(|&s| s == 1.0);
        Ok(GaussianRbm {
            n_visible,
            n_hidden,
            weights,
            visible_bias,
            hidden_bias,
            sigma,
            unit_sigma,
            packed: OnceLock::new(),
        })
    }

    /// Weights `N(0, std²)`, zero biases, all `σᵢ = sigma`, from `seed`.
    ///
    /// # Errors
    /// As [`GaussianRbm::new`], and for `std < 0`.
    pub fn random(n_visible: usize, n_hidden: usize, std: f32, sigma: f32, seed: u64) -> Result<Self> {
        if !(std.is_finite() && std >= 0.0) {
            return Err(Error::InvalidParam { name: "std", reason: format!("{std} is not ≥ 0") });
        }
        let len = mul_dims("weights", n_visible, n_hidden)?;
        let mut w = crate::alloc::try_vec(len, 0.0f32, "weights")?;
        let mut st = rng::chain_streams(seed, 1)?;
        rng::fill_normal(&mut st, len, &mut w)?;
        w.iter_mut().for_each(|x| *x *= std);
        Self::new(n_visible, n_hidden, w, vec![0.0; n_visible], vec![0.0; n_hidden], vec![sigma; n_visible])
    }

    /// Visible units `D`.
    pub fn n_visible(&self) -> usize {
        self.n_visible
    }

    /// Hidden units `H`.
    pub fn n_hidden(&self) -> usize {
        self.n_hidden
    }

    /// Weights `W` (`D × H`).
    pub fn weights(&self) -> &[f32] {
        &self.weights
    }

    /// Visible biases `b` (the means of `v` at `h = 0`).
    pub fn visible_bias(&self) -> &[f32] {
        &self.visible_bias
    }

    /// Hidden biases `c`.
    pub fn hidden_bias(&self) -> &[f32] {
        &self.hidden_bias
    }

    /// Standard deviations `σ`.
    pub fn sigma(&self) -> &[f32] {
        &self.sigma
    }

    /// `(W, b, c, σ)` by value.
    pub fn into_parts(self) -> (Vec<f32>, Vec<f32>, Vec<f32>, Vec<f32>) {
        (self.weights, self.visible_bias, self.hidden_bias, self.sigma)
    }

    /// `v/σ` into `out` (a copy when σ = 1).
    fn scaled(&self, v: &[f32], out: &mut [f32]) {
        if self.unit_sigma {
            out.copy_from_slice(v);
            return;
        }
        let d = self.n_visible;
        out.par_chunks_mut(d * 64).zip(v.par_chunks(d * 64)).for_each(|(o, v)| {
            for (o, v) in o.chunks_exact_mut(d).zip(v.chunks_exact(d)) {
                for ((o, &v), &s) in o.iter_mut().zip(v).zip(&self.sigma) {
                    *o = v / s;
                }
            }
        });
    }

    /// Products `(v/σ)·W` of `n` rows into `pre` (`n × H`), without the
    /// hidden bias (the activations add it in the same pass); `tmp`
    /// (`n × D`) is scratch when σ ≠ 1.
    pub(crate) fn pre_hidden(&self, v: &[f32], n: usize, tmp: &mut [f32], pre: &mut [f32]) -> Result<()> {
        let (d, h) = (self.n_visible, self.n_hidden);
        let a: &[f32] = if self.unit_sigma {
            v
        } else {
            self.scaled(v, tmp);
            tmp
        };
        if let Some((pw, _)) = self.packed_for(n) {
            check_len("pre (rows × n_hidden)", mul_dims("pre", n, h)?, pre.len())?;
            if dense::par_product_rows(simd::active_isa(), n, a, pw, pre, block_rows(n)) {
                return Ok(());
            }
        }
        gemm::par_gemm_nn(n, d, h, a, &self.weights, pre, block_rows(n))
    }

    /// `out (n × D) = P · Wᵀ` for `p` (`n × H`): by the tile kernels once
    /// the weights are packed ([`Self::packed_for`]), else matrixmultiply.
    fn times_wt(&self, n: usize, p: &[f32], out: &mut [f32]) -> Result<()> {
        let (d, h) = (self.n_visible, self.n_hidden);
        if let Some((_, pwt)) = self.packed_for(n) {
            check_len("P (rows × n_hidden)", mul_dims("P", n, h)?, p.len())?;
            check_len("out (rows × n_visible)", mul_dims("out", n, d)?, out.len())?;
            if dense::par_product_rows(simd::active_isa(), n, p, pwt, out, block_rows(n)) {
                return Ok(());
            }
        }
        gemm::par_gemm_nt(n, h, d, p, &self.weights, out, block_rows(n))
    }

    /// The packed weights for a product of `n` rows: from [`PACK_MIN_ROWS`]
    /// rows on (packing them on first use) where the CPU has the tile
    /// kernels, else `None`. Decided by `n` alone, never by earlier calls,
    /// so a call's bits do not depend on what ran before it.
    fn packed_for(&self, n: usize) -> Option<&(PackedWeights, PackedWeights)> {
        if n < PACK_MIN_ROWS || !simd::has_dense_tiles(simd::active_isa()) {
            return None;
        }
        let (d, h) = (self.n_visible, self.n_hidden);
        self.packed
            .get_or_init(|| {
                let w = PackedWeights::new(&self.weights, d, h).ok()?;
                let wt = PackedWeights::transposed(&self.weights, d, h).ok()?;
                Some(Box::new((w, wt)))
            })
            .as_deref()
    }

    /// `p(hⱼ = 1 | v)` for the rows of `v` (`n × D`) into `out` (`n × H`).
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] for wrong lengths.
    pub fn hidden_probs(&self, v: &[f32], out: &mut [f32]) -> Result<()> {
        let n = rows(self.n_visible, v, out.len() / self.n_hidden)?;
        check_len("out (rows × n_hidden)", mul_dims("out", n, self.n_hidden)?, out.len())?;
        let mut tmp =
            if self.unit_sigma { Vec::new() } else { crate::alloc::try_vec(v.len(), 0.0, "scratch")? };
        self.pre_hidden(v, n, &mut tmp, out)?;
        let isa = simd::active_isa();
        let c = &self.hidden_bias;
        out.par_chunks_mut(self.n_hidden * 64)
            .for_each(|o| activation::sigmoid_rows_bias_in_place(isa, o, c));
        Ok(())
    }

    /// The means `b + σ ⊙ (W h)` of `p(v | h)` for the rows of `h` into
    /// `out` (`n × D`).
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] for wrong lengths.
    pub fn visible_means(&self, h: &[f32], out: &mut [f32]) -> Result<()> {
        let (d, hh) = (self.n_visible, self.n_hidden);
        let n = rows(hh, h, out.len() / d)?;
        check_len("out (rows × n_visible)", mul_dims("out", n, d)?, out.len())?;
        self.times_wt(n, h, out)?;
        out.par_chunks_mut(d * 64).for_each(|o| {
            for row in o.chunks_exact_mut(d) {
                for ((x, &b), &s) in row.iter_mut().zip(&self.visible_bias).zip(&self.sigma) {
                    *x = b + s * *x;
                }
            }
        });
        Ok(())
    }

    /// `sweeps` block-Gibbs sweeps on chains `v` (`n × D`, one stream per
    /// chain): `h ~ p(h | v)`, then `v ~ N(b + σ ⊙ Wh, σ²)`. Returns the
    /// last hidden states (`n × H`). Deterministic per stream states,
    /// whatever the thread count.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] if `streams.len()` is not the chain count.
    pub fn gibbs(&self, v: &mut [f32], streams: &mut [StreamState], sweeps: usize) -> Result<Vec<f32>> {
        let (d, hh) = (self.n_visible, self.n_hidden);
        let n = rows(d, v, streams.len())?;
        let mut hid = crate::alloc::try_vec(mul_dims("hidden", n, hh)?, 0.0f32, "hidden states")?;
        let mut u = crate::alloc::try_vec(n * hh, 0.0f32, "uniforms")?;
        let mut z = crate::alloc::try_vec(n * d, 0.0f32, "normals")?;
        for _ in 0..sweeps {
            self.hidden_probs(v, &mut hid)?;
            fill_parallel(streams, hh, &mut u, false)?;
            hid.par_iter_mut().zip(u.par_iter()).for_each(|(p, &u)| *p = (u < *p) as u8 as f32);
            self.visible_means(&hid, v)?;
            fill_parallel(streams, d, &mut z, true)?;
            v.par_chunks_mut(d * 64).zip(z.par_chunks(d * 64)).for_each(|(v, z)| {
                for (v, z) in v.chunks_exact_mut(d).zip(z.chunks_exact(d)) {
                    for ((x, &z), &s) in v.iter_mut().zip(z).zip(&self.sigma) {
                        *x += s * z;
                    }
                }
            });
        }
        Ok(hid)
    }

    /// `F(v)` and/or `∇ᵥF` for `n` rows.
    fn evaluate(
        &self,
        x: &[f32],
        energy: Option<&mut [f64]>,
        grad: Option<&mut [f32]>,
        ws: &mut Workspace,
    ) -> Result<()> {
        let (d, h) = (self.n_visible, self.n_hidden);
        let n = x.len() / d;
        let (tmp, pre) = ws.two(if self.unit_sigma { 0 } else { n * d }, n * h)?;
        self.pre_hidden(x, n, tmp, pre)?;
        let isa = simd::active_isa();
        let chunk = 64;
        if let Some(e) = energy {
            // −Σ softplus(pre) per row, plus the quadratic term.
            let (b, s) = (&self.visible_bias, &self.sigma);
            e.par_chunks_mut(chunk).zip(pre.par_chunks(chunk * h)).zip(x.par_chunks(chunk * d)).for_each(
                |((e, pre), x)| {
                    let mut sp = vec![0.0f32; h];
                    for ((e, p), x) in e.iter_mut().zip(pre.chunks_exact(h)).zip(x.chunks_exact(d)) {
                        simd::unary::<simd::Flush<simd::Softplus>>(isa, p, Some(&self.hidden_bias), &mut sp);
                        let soft: f64 = sp.iter().map(|&v| v as f64).sum();
                        *e = quadratic(x, b, s) - soft;
                    }
                },
            );
        }
        if let Some(g) = grad {
            let c = &self.hidden_bias;
            pre.par_chunks_mut(h * chunk).for_each(|p| activation::sigmoid_rows_bias_in_place(isa, p, c));
            self.times_wt(n, pre, g)?;
            let (b, s) = (&self.visible_bias, &self.sigma);
            let unit = self.unit_sigma;
            g.par_chunks_mut(d * chunk).zip(x.par_chunks(d * chunk)).for_each(|(g, x)| {
                for (g, x) in g.chunks_exact_mut(d).zip(x.chunks_exact(d)) {
                    if unit {
                        for ((g, &x), &b) in g.iter_mut().zip(x).zip(b) {
                            *g = (x - b) - *g;
                        }
                    } else {
                        for (((g, &x), &b), &s) in g.iter_mut().zip(x).zip(b).zip(s) {
                            *g = (x - b) / (s * s) - *g / s;
                        }
                    }
                }
            });
        }
        Ok(())
    }
}

/// The visible term of the energy, `Σᵢ (xᵢ − bᵢ)²/(2σᵢ²)`, in f64.
pub(crate) fn quadratic(x: &[f32], b: &[f32], s: &[f32]) -> f64 {
    x.iter()
        .zip(b)
        .zip(s)
        .map(|((&x, &b), &s)| {
            let t = (x - b) as f64 / s as f64;
            0.5 * t * t
        })
        .sum()
}

/// Uniforms (or normals) for every chain in parallel blocks: row `c` from
/// stream `c`, independent of the split.
pub(crate) fn fill_parallel(
    streams: &mut [StreamState],
    n: usize,
    out: &mut [f32],
    normal: bool,
) -> Result<()> {
    check_len("random buffer (chains × n)", mul_dims("random buffer", streams.len(), n)?, out.len())?;
    if n == 0 {
        return Ok(());
    }
    let per = 64;
    streams
        .par_chunks_mut(per)
        .zip(out.par_chunks_mut(per * n))
        .try_for_each(|(s, o)| if normal { rng::fill_normal(s, n, o) } else { rng::fill_uniform(s, n, o) })
}

impl Energy for GaussianRbm {
    fn dim(&self) -> usize {
        self.n_visible
    }

    fn energy(&self, x: &[f32], out: &mut [f64], ws: &mut Workspace) -> Result<()> {
        rows(self.n_visible, x, out.len())?;
        self.evaluate(x, Some(out), None, ws)
    }

    fn grad(&self, x: &[f32], grad: &mut [f32], ws: &mut Workspace) -> Result<()> {
        check_len("grad (rows × dim)", x.len(), grad.len())?;
        rows(self.n_visible, x, x.len() / self.n_visible)?;
        self.evaluate(x, None, Some(grad), ws)
    }

    fn energy_grad(&self, x: &[f32], energy: &mut [f64], grad: &mut [f32], ws: &mut Workspace) -> Result<()> {
        rows(self.n_visible, x, energy.len())?;
        check_len("grad (rows × dim)", x.len(), grad.len())?;
        self.evaluate(x, Some(energy), Some(grad), ws)
    }
}

impl TrainableEnergy for GaussianRbm {
    /// `D·H + D + H + D`: `W` (row-major), `b`, `c`, then `log σ`.
    fn n_params(&self) -> usize {
        self.weights.len() + 2 * self.n_visible + self.n_hidden
    }

    fn params(&self) -> Vec<f32> {
        let mut p = Vec::with_capacity(self.n_params());
        p.extend_from_slice(&self.weights);
        p.extend_from_slice(&self.visible_bias);
        p.extend_from_slice(&self.hidden_bias);
        p.extend(self.sigma.iter().map(|s| s.ln()));
        p
    }

    fn set_params(&mut self, p: &[f32]) -> Result<()> {
        check_len("parameters", self.n_params(), p.len())?;
        let (d, h) = (self.n_visible, self.n_hidden);
        let (w, rest) = p.split_at(d * h);
        let (b, rest) = rest.split_at(d);
        let (c, ls) = rest.split_at(h);
        *self = Self::new(d, h, w.to_vec(), b.to_vec(), c.to_vec(), ls.iter().map(|l| l.exp()).collect())?;
        Ok(())
    }

    fn add_param_grad(&self, x: &[f32], coef: &[f32], out: &mut [f64], ws: &mut Workspace) -> Result<()> {
        let (d, h) = (self.n_visible, self.n_hidden);
        let n = rows(d, x, coef.len())?;
        check_len("parameter gradient", self.n_params(), out.len())?;
        let (tmp, pre) = ws.two(n * d, n * h)?;
        self.pre_hidden(x, n, tmp, pre)?;
        let isa = simd::active_isa();
        let c = &self.hidden_bias;
        pre.par_chunks_mut(h * 64).for_each(|p| activation::sigmoid_rows_bias_in_place(isa, p, c));
        // ∂F/∂W = −(v/σ) pᵀ, ∂F/∂c = −p, ∂F/∂b = −(v − b)/σ²,
        // ∂F/∂log σ = −(v − b)²/σ² + (v/σ) ⊙ (W p).
        self.scaled(x, tmp);
        // Rows weighted by −coef, then one product for W.
        let mut wp = crate::alloc::try_vec(n * h, 0.0f32, "weighted probabilities")?;
        for ((o, p), &a) in wp.chunks_exact_mut(h).zip(pre.chunks_exact(h)).zip(coef) {
            o.iter_mut().zip(p).for_each(|(o, &p)| *o = -a * p);
        }
        let mut gw = crate::alloc::try_vec(d * h, 0.0f32, "weight gradient")?;
        gemm::par_gemm_tn(d, n, h, tmp, &wp, &mut gw, 64)?;
        let (ow, rest) = out.split_at_mut(d * h);
        let (ob, rest) = rest.split_at_mut(d);
        let (oc, os) = rest.split_at_mut(h);
        ow.iter_mut().zip(&gw).for_each(|(o, &g)| *o += g as f64);
        let mut back = crate::alloc::try_vec(n * d, 0.0f32, "W p")?;
        self.times_wt(n, pre, &mut back)?;
        for r in 0..n {
            let a = coef[r] as f64;
            let (xr, pr, br, sr) = (
                &x[r * d..(r + 1) * d],
                &pre[r * h..(r + 1) * h],
                &back[r * d..(r + 1) * d],
                &tmp[r * d..(r + 1) * d],
            );
            for j in 0..h {
                oc[j] -= a * pr[j] as f64;
            }
            for i in 0..d {
                let s = self.sigma[i] as f64;
                let t = (xr[i] - self.visible_bias[i]) as f64;
                ob[i] -= a * t / (s * s);
                os[i] += a * (-t * t / (s * s) + sr[i] as f64 * br[i] as f64);
            }
        }
        Ok(())
    }
}
