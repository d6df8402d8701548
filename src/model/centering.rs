//! Centered parameterisation of an RBM (Montavon & Müller 2012; Melchior,
//! Fischer & Wiskott, JMLR 2016):
//!
//! ```text
//! E(v, h) = −(v − μ)ᵀb′ − c′ᵀ(h − λ) − (v − μ)ᵀW(h − λ)
//! ```
//!
//! with offsets `μ` (visible) and `λ` (hidden). Expanding it gives a plain
//! RBM with the same `W`, `b = b′ − Wλ` and `c = c′ − Wᵀμ`, plus a constant:
//! both define the same distribution, so centering changes the gradient
//! (and how well it learns), never the model. The trainer
//! ([`crate::train::Centering`]) stores plain parameters and converts with
//! these functions.
//!
//! ```
//! use boltzmann::{Rbm, model::centering};
//! let rbm = Rbm::random(6, 4, 0.5, 0.3, 1).unwrap();
//! let (mu, lambda) = (vec![0.3f32; 6], vec![0.6f32; 4]);
//! let (mut cb, mut cc) = (Vec::new(), Vec::new());
//! centering::centered_biases(&rbm, &mu, &lambda, &mut cb, &mut cc);
//! let (v1, h1) = ([1.0, 0.0, 1.0, 1.0, 0.0, 0.0], [0.0, 1.0, 1.0, 0.0]);
//! let (v2, h2) = ([0.0, 0.0, 1.0, 0.0, 1.0, 1.0], [1.0, 1.0, 0.0, 1.0]);
//! let ec = |v: &[f32], h: &[f32]| centering::centered_energy(rbm.weights(), &cb, &cc, &mu, &lambda, v, h);
//! // Energy differences (hence probabilities) agree.
//! let d_plain = rbm.energy(&v1, &h1).unwrap() - rbm.energy(&v2, &h2).unwrap();
//! assert!((d_plain - (ec(&v1, &h1) - ec(&v2, &h2))).abs() < 1e-5);
//! ```

use crate::model::Rbm;
use rayon::prelude::*;

/// The centered energy of `(v, h)` for weights `w` (`D × H`), centered
/// biases `cb`, `cc` and offsets `mu`, `lambda`, in f64.
///
/// # Panics
/// If the lengths disagree.
pub fn centered_energy(
    w: &[f32],
    cb: &[f32],
    cc: &[f32],
    mu: &[f32],
    lambda: &[f32],
    v: &[f32],
    h: &[f32],
) -> f64 {
    let (d, nh) = (cb.len(), cc.len());
    assert!(w.len() == d * nh && mu.len() == d && lambda.len() == nh && v.len() == d && h.len() == nh);
    let mut e = 0.0f64;
    for i in 0..d {
        let x = v[i] as f64 - mu[i] as f64;
        e -= x * cb[i] as f64;
        for j in 0..nh {
            e -= x * w[i * nh + j] as f64 * (h[j] as f64 - lambda[j] as f64);
        }
    }
    for j in 0..nh {
        e -= cc[j] as f64 * (h[j] as f64 - lambda[j] as f64);
    }
    e
}

/// `(Wλ)_i` of one row of `W`, in f64.
fn row_dot(row: &[f32], lambda: &[f32]) -> f64 {
    row.iter().zip(lambda).map(|(&x, &l)| x as f64 * l as f64).sum()
}

/// `Wᵀμ` in f64, rows added in order (the same bits for any thread count).
fn wt_mu(w: &[f32], h: usize, mu: &[f32]) -> Vec<f64> {
    let mut acc = vec![0.0f64; h];
    for (row, &m) in w.chunks_exact(h).zip(mu) {
        for (a, &x) in acc.iter_mut().zip(row) {
            *a += x as f64 * m as f64;
        }
    }
    acc
}

/// The centered biases of `rbm` for offsets `μ`, `λ`: `b′ = b + Wλ`,
/// `c′ = c + Wᵀμ` into `cb`, `cc` (f64 sums in a fixed order: the same bits
/// for any thread count).
pub fn centered_biases(rbm: &Rbm, mu: &[f32], lambda: &[f32], cb: &mut Vec<f32>, cc: &mut Vec<f32>) {
    let (d, h) = (rbm.n_visible(), rbm.n_hidden());
    let w = rbm.weights();
    cb.clear();
    cb.resize(d, 0.0);
    cb.par_iter_mut()
        .zip(w.par_chunks(h))
        .zip(rbm.visible_bias().par_iter())
        .for_each(|((o, row), &b)| *o = (b as f64 + row_dot(row, lambda)) as f32);
    cc.clear();
    cc.extend(wt_mu(w, h, mu).iter().zip(rbm.hidden_bias()).map(|(&a, &c)| (c as f64 + a) as f32));
}

/// The inverse of [`centered_biases`]: `b = b′ − Wλ`, `c = c′ − Wᵀμ` into `rbm`.
pub fn plain_biases(rbm: &mut Rbm, mu: &[f32], lambda: &[f32], cb: &[f32], cc: &[f32]) {
    let h = rbm.n_hidden();
    let (w, b, c) = rbm.params_mut();
    b.par_iter_mut()
        .zip(w.par_chunks(h))
        .zip(cb.par_iter())
        .for_each(|((b, row), &cbi)| *b = (cbi as f64 - row_dot(row, lambda)) as f32);
    for ((c, &a), &cci) in c.iter_mut().zip(&wt_mu(w, h, mu)).zip(cc) {
        *c = (cci as f64 - a) as f32;
    }
}
