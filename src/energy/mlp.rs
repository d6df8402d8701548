//! A multilayer perceptron on our kernels, with hand-written
//! backpropagation: the building block of the MLP energy ([`MlpEnergy`]:
//! one scalar output) and of noise-conditional score models
//! ([`crate::train::dsm`]).
//!
//! Layer `l` maps `a_{l−1}` (`n × in`) to `z_l = a_{l−1}·W_l + b_l`
//! (`W_l` is `in × out`, row-major); hidden layers apply a smooth
//! activation, `a_l = φ(z_l)`, the last layer is linear. Backpropagation
//! of `δ_L = ∂L/∂z_L`: `∂L/∂a_{l−1} = δ_l·W_lᵀ`, `δ_{l−1} = ∂L/∂a_{l−1} ⊙
//! φ'(z_{l−1})`, `∂L/∂W_l = a_{l−1}ᵀ·δ_l`, `∂L/∂b_l = Σ_rows δ_l`; all
//! products are the row-split-invariant kernels of [`crate::kernels::gemm`],
//! so results do not depend on the thread count.

use super::{Energy, TrainableEnergy, Workspace};
use crate::error::{Error, Result};
use crate::kernels::{check_len, gemm, mul_dims};
use crate::rng;
use crate::simd::{self, Flush, Sigmoid};
use rayon::prelude::*;

/// Hidden-layer activation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// `log(1 + eˣ)`, derivative `σ(x)`.
    Softplus,
    /// `x·σ(x)` (SiLU), derivative `σ(x)(1 + x(1 − σ(x)))`.
    Swish,
}

impl Activation {
    /// Parses `softplus` or `swish`/`silu`.
    pub fn from_name(s: &str) -> Option<Self> {
        match s {
            "softplus" => Some(Activation::Softplus),
            "swish" | "silu" => Some(Activation::Swish),
            _ => None,
        }
    }

    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            Activation::Softplus => "softplus",
            Activation::Swish => "swish",
        }
    }
}

/// A multilayer perceptron (module docs). Parameters are one flat vector:
/// for each layer, `W_l` (`in × out`, row-major) then `b_l`.
#[derive(Debug, Clone, PartialEq)]
pub struct Mlp {
    sizes: Vec<usize>,
    act: Activation,
    params: Vec<f32>,
    offsets: Vec<usize>,
}

/// Largest total parameter count accepted (absurd sizes are an error, not
/// an allocation failure).
const MAX_PARAMS: usize = 1 << 30;

/// Rows per parallel block (the products are row-split invariant).
fn block_rows(n: usize) -> usize {
    n.div_ceil(rayon::current_num_threads().max(1)).max(1)
}

impl Mlp {
    /// Layer widths `sizes = [in, h₁, …, out]` (at least two entries), the
    /// activation, weights `N(0, 1/in)` (LeCun) and zero biases from `seed`.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] for fewer than two sizes, a zero width, or
    /// more than 2³⁰ parameters.
    ///
    /// # Examples
    /// ```
    /// use boltzmann::energy::{Activation, Mlp};
    /// let mlp = Mlp::new(&[2, 16, 1], Activation::Swish, 1)?;
    /// assert_eq!(mlp.n_params(), 2 * 16 + 16 + 16 + 1);
    /// # Ok::<(), boltzmann::Error>(())
    /// ```
    pub fn new(sizes: &[usize], act: Activation, seed: u64) -> Result<Self> {
        let offsets = Self::layout(sizes)?;
        let total = *offsets.last().expect("layout has an end");
        let mut params = crate::alloc::try_vec(total, 0.0f32, "MLP parameters")?;
        let mut st = rng::chain_streams(seed, 1)?;
        for l in 0..sizes.len() - 1 {
            let (fan_in, out) = (sizes[l], sizes[l + 1]);
            let w = &mut params[offsets[l]..offsets[l] + fan_in * out];
            rng::fill_normal(&mut st, w.len(), w)?;
            let scale = 1.0 / (fan_in as f32).sqrt();
            w.iter_mut().for_each(|x| *x *= scale);
        }
        Ok(Mlp { sizes: sizes.to_vec(), act, params, offsets })
    }

    /// From explicit parameters (layout as in the type's docs).
    ///
    /// # Errors
    /// As [`Mlp::new`], [`Error::ShapeMismatch`], [`Error::NonFinite`].
    pub fn from_params(sizes: &[usize], act: Activation, params: Vec<f32>) -> Result<Self> {
        let offsets = Self::layout(sizes)?;
        check_len("MLP parameters", *offsets.last().expect("layout has an end"), params.len())?;
        if let Some(i) = params.iter().position(|v| !v.is_finite()) {
            return Err(Error::NonFinite { what: "MLP parameters", index: i });
        }
        Ok(Mlp { sizes: sizes.to_vec(), act, params, offsets })
    }

    /// Start of each layer's `W` in the flat vector, then the total.
    fn layout(sizes: &[usize]) -> Result<Vec<usize>> {
        if sizes.len() < 2 || sizes.contains(&0) {
            return Err(Error::InvalidParam {
                name: "MLP sizes",
                reason: format!("{sizes:?}: need at least [in, out], all ≥ 1"),
            });
        }
        let mut offsets = vec![0usize];
        let mut total = 0usize;
        for w in sizes.windows(2) {
            let layer = w[0].checked_mul(w[1]).and_then(|x| x.checked_add(w[1]));
            total = match layer.and_then(|x| total.checked_add(x)) {
                Some(t) if t <= MAX_PARAMS => t,
                _ => {
                    return Err(Error::InvalidParam {
                        name: "MLP sizes",
                        reason: format!("{sizes:?}: more than {MAX_PARAMS} parameters"),
                    });
                }
            };
            offsets.push(total);
        }
        Ok(offsets)
    }

    /// Layer widths.
    pub fn sizes(&self) -> &[usize] {
        &self.sizes
    }

    /// The activation.
    pub fn activation(&self) -> Activation {
        self.act
    }

    /// Number of parameters.
    pub fn n_params(&self) -> usize {
        self.params.len()
    }

    /// The flat parameters.
    pub fn params(&self) -> &[f32] {
        &self.params
    }

    /// Replaces the parameters.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`], [`Error::NonFinite`].
    pub fn set_params(&mut self, p: &[f32]) -> Result<()> {
        check_len("MLP parameters", self.params.len(), p.len())?;
        if let Some(i) = p.iter().position(|v| !v.is_finite()) {
            return Err(Error::NonFinite { what: "MLP parameters", index: i });
        }
        self.params.copy_from_slice(p);
        Ok(())
    }

    fn w(&self, l: usize) -> &[f32] {
        &self.params[self.offsets[l]..self.offsets[l] + self.sizes[l] * self.sizes[l + 1]]
    }

    fn b(&self, l: usize) -> &[f32] {
        &self.params[self.offsets[l] + self.sizes[l] * self.sizes[l + 1]..self.offsets[l + 1]]
    }

    fn layers(&self) -> usize {
        self.sizes.len() - 1
    }

    /// Forward pass on `n` rows of `x`: returns the output (`n × out`) and
    /// keeps, in `ws`, what backpropagation needs (buffers `2l`: `z_l`
    /// pre-activations turned into `φ'(z_l)`, `2l + 1`: activations `a_l`,
    /// for hidden layers).
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] if `x` is not rows of `in`.
    pub fn forward(&self, x: &[f32], ws: &mut Workspace) -> Result<Vec<f32>> {
        let d = self.sizes[0];
        let n = x.len() / d;
        check_len("MLP input (rows × in)", mul_dims("MLP input", n, d)?, x.len())?;
        let isa = simd::active_isa();
        let act = self.act;
        let mut out = Vec::new();
        for l in 0..self.layers() {
            let (fi, fo) = (self.sizes[l], self.sizes[l + 1]);
            let prev = if l == 0 { None } else { Some(ws.take(2 * l - 1)) };
            let input: &[f32] = prev.as_deref().unwrap_or(x);
            let mut z = ws.take(2 * l);
            z.clear();
            z.resize(mul_dims("activations", n, fo)?, 0.0);
            gemm::par_gemm_nn(n, fi, fo, input, self.w(l), &mut z, block_rows(n))?;
            let b = self.b(l);
            let last = l + 1 == self.layers();
            if last {
                z.par_chunks_mut(fo * 64).for_each(|c| {
                    for row in c.chunks_exact_mut(fo) {
                        row.iter_mut().zip(b).for_each(|(v, &b)| *v += b);
                    }
                });
                out = z;
            } else {
                // a = φ(z + b); z becomes φ'(z + b).
                let mut a = ws.take(2 * l + 1);
                a.clear();
                a.resize(n * fo, 0.0);
                z.par_chunks_mut(fo * 64).zip(a.par_chunks_mut(fo * 64)).for_each(|(z, a)| {
                    let mut s = vec![0.0f32; fo];
                    for (z, a) in z.chunks_exact_mut(fo).zip(a.chunks_exact_mut(fo)) {
                        z.iter_mut().zip(b).for_each(|(v, &b)| *v += b);
                        simd::unary::<Flush<Sigmoid>>(isa, z, None, &mut s);
                        match act {
                            Activation::Softplus => {
                                simd::unary::<Flush<simd::Softplus>>(isa, z, None, a);
                                z.copy_from_slice(&s);
                            }
                            Activation::Swish => {
                                for ((z, a), &s) in z.iter_mut().zip(a.iter_mut()).zip(&s) {
                                    *a = *z * s;
                                    *z = s * (1.0 + *z * (1.0 - s));
                                }
                            }
                        }
                    }
                });
                ws.put(2 * l, z);
                ws.put(2 * l + 1, a);
            }
            if let Some(p) = prev {
                ws.put(2 * l - 1, p);
            }
        }
        Ok(out)
    }

    /// Backpropagation after [`Mlp::forward`] on the same `x` and `ws`:
    /// `delta` is `∂L/∂output` (`n × out`, consumed). Writes `∂L/∂x` into
    /// `dx` if given and adds `∂L/∂θ` into `dparams` if given.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] for wrong lengths.
    pub fn backward(
        &self,
        x: &[f32],
        mut delta: Vec<f32>,
        dx: Option<&mut [f32]>,
        mut dparams: Option<&mut [f64]>,
        ws: &mut Workspace,
    ) -> Result<()> {
        let d = self.sizes[0];
        let n = x.len() / d;
        check_len("MLP input (rows × in)", mul_dims("MLP input", n, d)?, x.len())?;
        check_len("output gradient (rows × out)", n * self.sizes[self.layers()], delta.len())?;
        if let Some(g) = &dparams {
            check_len("parameter gradient", self.params.len(), g.len())?;
        }
        if let Some(g) = &dx {
            check_len("input gradient (rows × in)", x.len(), g.len())?;
        }
        let mut dx = dx;
        for l in (0..self.layers()).rev() {
            let (fi, fo) = (self.sizes[l], self.sizes[l + 1]);
            let prev = if l == 0 { None } else { Some(ws.take(2 * l - 1)) };
            let input: &[f32] = prev.as_deref().unwrap_or(x);
            if let Some(g) = dparams.as_deref_mut() {
                let mut gw = crate::alloc::try_vec(fi * fo, 0.0f32, "weight gradient")?;
                gemm::par_gemm_tn(fi, n, fo, input, &delta, &mut gw, 64)?;
                let o = self.offsets[l];
                g[o..o + fi * fo].iter_mut().zip(&gw).for_each(|(g, &v)| *g += v as f64);
                let gb = &mut g[o + fi * fo..self.offsets[l + 1]];
                for row in delta.chunks_exact(fo) {
                    gb.iter_mut().zip(row).for_each(|(g, &v)| *g += v as f64);
                }
            }
            if l == 0 && dx.is_none() {
                if let Some(p) = prev {
                    ws.put(2 * l - 1, p);
                }
                break;
            }
            // ∂L/∂a_{l−1} = δ·Wᵀ.
            let mut back = ws.take(2 * self.layers() + 2);
            back.clear();
            back.resize(n * fi, 0.0);
            gemm::par_gemm_nt(n, fo, fi, &delta, self.w(l), &mut back, block_rows(n))?;
            if l == 0 {
                if let Some(g) = dx.as_deref_mut() {
                    g.copy_from_slice(&back);
                }
                ws.put(2 * self.layers() + 2, back);
            } else {
                let dphi = ws.take(2 * (l - 1));
                back.par_iter_mut().zip(dphi.par_iter()).for_each(|(b, &p)| *b *= p);
                ws.put(2 * (l - 1), dphi);
                ws.put(2 * self.layers() + 2, std::mem::replace(&mut delta, back));
            }
            if let Some(p) = prev {
                ws.put(2 * l - 1, p);
            }
        }
        Ok(())
    }
}

/// `E(x) =` the scalar output of an [`Mlp`] (`sizes = [d, …, 1]`): the
/// energy of Du & Mordatch-style EBMs.
///
/// # Examples
/// ```
/// use boltzmann::energy::{Activation, Energy, MlpEnergy, Workspace};
/// let e = MlpEnergy::new(2, &[32, 32], Activation::Swish, 7)?;
/// let (mut en, mut g) = (vec![0.0f64; 1], vec![0.0f32; 2]);
/// e.energy_grad(&[0.5, -0.5], &mut en, &mut g, &mut Workspace::default())?;
/// assert!(en[0].is_finite() && g.iter().all(|v| v.is_finite()));
/// # Ok::<(), boltzmann::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct MlpEnergy {
    mlp: Mlp,
}

impl MlpEnergy {
    /// An energy on `ℝ^dim` with the given hidden widths.
    ///
    /// # Errors
    /// As [`Mlp::new`].
    pub fn new(dim: usize, hidden: &[usize], act: Activation, seed: u64) -> Result<Self> {
        let sizes: Vec<usize> = std::iter::once(dim).chain(hidden.iter().copied()).chain([1]).collect();
        Ok(MlpEnergy { mlp: Mlp::new(&sizes, act, seed)? })
    }

    /// From an MLP whose output width is 1.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] otherwise.
    pub fn from_mlp(mlp: Mlp) -> Result<Self> {
        if *mlp.sizes().last().expect("≥ 2 sizes") != 1 {
            return Err(Error::InvalidParam { name: "MLP sizes", reason: "an energy has one output".into() });
        }
        Ok(MlpEnergy { mlp })
    }

    /// The network.
    pub fn mlp(&self) -> &Mlp {
        &self.mlp
    }
}

impl Energy for MlpEnergy {
    fn dim(&self) -> usize {
        self.mlp.sizes[0]
    }

    fn energy(&self, x: &[f32], out: &mut [f64], ws: &mut Workspace) -> Result<()> {
        super::rows(self.dim(), x, out.len())?;
        let y = self.mlp.forward(x, ws)?;
        out.iter_mut().zip(&y).for_each(|(o, &v)| *o = v as f64);
        Ok(())
    }

    fn grad(&self, x: &[f32], grad: &mut [f32], ws: &mut Workspace) -> Result<()> {
        let n = super::rows(self.dim(), x, grad.len() / self.dim().max(1))?;
        check_len("grad (rows × dim)", x.len(), grad.len())?;
        self.mlp.forward(x, ws)?;
        self.mlp.backward(x, vec![1.0; n], Some(grad), None, ws)
    }

    fn energy_grad(&self, x: &[f32], energy: &mut [f64], grad: &mut [f32], ws: &mut Workspace) -> Result<()> {
        let n = super::rows(self.dim(), x, energy.len())?;
        check_len("grad (rows × dim)", x.len(), grad.len())?;
        let y = self.mlp.forward(x, ws)?;
        energy.iter_mut().zip(&y).for_each(|(o, &v)| *o = v as f64);
        self.mlp.backward(x, vec![1.0; n], Some(grad), None, ws)
    }
}

impl TrainableEnergy for MlpEnergy {
    fn n_params(&self) -> usize {
        self.mlp.n_params()
    }

    fn params(&self) -> Vec<f32> {
        self.mlp.params.clone()
    }

    fn set_params(&mut self, p: &[f32]) -> Result<()> {
        self.mlp.set_params(p)
    }

    fn add_param_grad(&self, x: &[f32], coef: &[f32], out: &mut [f64], ws: &mut Workspace) -> Result<()> {
        super::rows(self.dim(), x, coef.len())?;
        self.mlp.forward(x, ws)?;
        self.mlp.backward(x, coef.to_vec(), None, Some(out), ws)
    }
}
