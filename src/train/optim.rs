//! Optimizer steps shared by the trainers, with one sign convention: every
//! step *ascends* the log-likelihood (or descends a loss through the
//! negated gradient), `v ← μv + lr·a`, `θ ← θ + v` for momentum SGD.
//!
//! The RBM trainer ([`super::Trainer`]) fuses its SGD and Adam steps into
//! per-row loops with the weight-decay, sparsity and centering terms, in
//! f32 with subnormals flushed (its optimizer state lives in checkpoints);
//! the smaller trainers use the helpers here.

/// One momentum-SGD step of a parameter `p` with velocity `v` along the
/// ascent direction `ascent`: `v ← μv + lr·ascent`, `p ← p + v`.
#[inline(always)]
pub(crate) fn momentum_step(p: &mut f32, v: &mut f32, mu: f32, lr: f32, ascent: f32) {
    *v = mu * *v + lr * ascent;
    *p += *v;
}

/// Adam (Kingma & Ba 2015) in f64 over flat parameters, descending the
/// gradient `g` of a loss: `m ← β₁m + a₁g`, `v ← β₂v + a₂g²`,
/// `θ ← θ − lr·(m/(1−β₁ᵗ)) / (√(v/(1−β₂ᵗ)) + ε)`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Adam64 {
    b1: f64,
    a1: f64,
    b2: f64,
    a2: f64,
    eps: f64,
    lr: f64,
}

impl Adam64 {
    /// The usual coefficients `a₁ = 1 − β₁`, `a₂ = 1 − β₂`, ε = 1e-8.
    pub(crate) fn new(beta1: f64, beta2: f64, lr: f64) -> Adam64 {
        Adam64 { b1: beta1, a1: 1.0 - beta1, b2: beta2, a2: 1.0 - beta2, eps: 1e-8, lr }
    }

    /// β₁ = 0.9, β₂ = 0.999 with the coefficients written as the decimal
    /// literals 0.1 and 0.001 (not `1 − β`, which differ in the last bit),
    /// as the score-matching trainer has always used them.
    pub(crate) fn literal_defaults(lr: f64) -> Adam64 {
        Adam64 { b1: 0.9, a1: 0.1, b2: 0.999, a2: 0.001, eps: 1e-8, lr }
    }

    /// Step `t` (from 1) over every parameter.
    pub(crate) fn step(&self, t: i32, p: &mut [f32], g: &[f64], m: &mut [f64], v: &mut [f64]) {
        let (c1, c2) = (1.0 - self.b1.powi(t), 1.0 - self.b2.powi(t));
        for ((p, &gv), (m, v)) in p.iter_mut().zip(g).zip(m.iter_mut().zip(v.iter_mut())) {
            *m = self.b1 * *m + self.a1 * gv;
            *v = self.b2 * *v + self.a2 * gv * gv;
            *p -= (self.lr * (*m / c1) / ((*v / c2).sqrt() + self.eps)) as f32;
        }
    }
}
