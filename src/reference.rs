//! Naive twins of every fast kernel: obviously correct, slow, in f64 where
//! it matters. Tests, fuzz targets and benchmarks compare against these.

use crate::model::Rbm;
use crate::rng::{self, StreamState};
use rand_core::Rng;

/// `1 / (1 + exp(-x))` in f64, stable for all x.
pub fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// `log(1 + exp(x))` in f64, stable for all x.
pub fn softplus(x: f64) -> f64 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

/// `log σ(x) = -softplus(-x)` in f64.
pub fn log_sigmoid(x: f64) -> f64 {
    -softplus(-x)
}

/// Triple-loop `C = A·B` (`m × k` times `k × n`), accumulated in f64.
pub fn gemm_nn(m: usize, k: usize, n: usize, a: &[f32], b: &[f32]) -> Vec<f64> {
    let mut c = vec![0.0f64; m * n];
    for i in 0..m {
        for j in 0..n {
            let mut s = 0.0f64;
            for p in 0..k {
                s += a[i * k + p] as f64 * b[p * n + j] as f64;
            }
            c[i * n + j] = s;
        }
    }
    c
}

/// Triple-loop `C = A·Bᵀ` (`A` is `m × k`, `B` is `n × k`), in f64.
pub fn gemm_nt(m: usize, k: usize, n: usize, a: &[f32], b: &[f32]) -> Vec<f64> {
    let mut c = vec![0.0f64; m * n];
    for i in 0..m {
        for j in 0..n {
            let mut s = 0.0f64;
            for p in 0..k {
                s += a[i * k + p] as f64 * b[j * k + p] as f64;
            }
            c[i * n + j] = s;
        }
    }
    c
}

/// The uniform that the `i`-th 32-bit word of a stream maps to, taken from
/// `rand_xoshiro` one `next_u64` at a time (low half first).
#[derive(Debug)]
pub struct Uniforms {
    g: rand_xoshiro::Xoshiro256PlusPlus,
}

impl Uniforms {
    /// A reader over the stream with this raw state.
    pub fn new(s: StreamState) -> Uniforms {
        Uniforms { g: rng::to_generator(s) }
    }
    /// The next `n` uniforms, consuming `⌈n/2⌉` outputs.
    pub fn take(&mut self, n: usize) -> Vec<f64> {
        let mut out = Vec::with_capacity(n + 1);
        for _ in 0..n.div_ceil(2) {
            let x = self.g.next_u64();
            out.push(rng::uniform_from_bits(x as u32) as f64);
            out.push(rng::uniform_from_bits((x >> 32) as u32) as f64);
        }
        out.truncate(n);
        out
    }
    /// The stream's current raw state.
    pub fn state(&self) -> StreamState {
        rng::from_generator(&self.g)
    }
}

/// One naive Gibbs sweep of a single chain, in f64: `h ~ p(h|v)` then
/// `v ~ p(v|h)`, drawing uniforms from `u` in the same order as the fast
/// sampler. Returns the new `(v, h)`.
pub fn gibbs_sweep(rbm: &Rbm, v: &[f32], u: &mut Uniforms) -> (Vec<f32>, Vec<f32>) {
    let (d, nh) = (rbm.n_visible(), rbm.n_hidden());
    let w = rbm.weights();
    let uh = u.take(nh);
    let h: Vec<f32> = (0..nh)
        .map(|j| {
            let x =
                rbm.hidden_bias()[j] as f64 + (0..d).map(|i| v[i] as f64 * w[i * nh + j] as f64).sum::<f64>();
            (uh[j] < sigmoid(x)) as u8 as f32
        })
        .collect();
    let uv = u.take(d);
    let v2: Vec<f32> = (0..d)
        .map(|i| {
            let x = rbm.visible_bias()[i] as f64
                + (0..nh).map(|j| h[j] as f64 * w[i * nh + j] as f64).sum::<f64>();
            (uv[i] < sigmoid(x)) as u8 as f32
        })
        .collect();
    (v2, h)
}

/// Exact `log Z` and `p(v)` of a small RBM by enumerating all `2^D` visible
/// states (`p(v) ∝ exp(−F(v))`, free energies in f64). Intended for `D ≤ 20`.
///
/// # Panics
/// If `D > 24` (the table would be unreasonably large for a reference).
pub fn exact_visible_distribution(rbm: &Rbm) -> (f64, Vec<f64>) {
    let d = rbm.n_visible();
    assert!(d <= 24, "exact enumeration is for tiny models");
    let mut neg_f = Vec::with_capacity(1 << d);
    let mut v = vec![0.0f32; d];
    for s in 0..(1usize << d) {
        for (i, x) in v.iter_mut().enumerate() {
            *x = ((s >> i) & 1) as f32;
        }
        neg_f.push(-rbm.free_energy(&v).expect("valid state"));
    }
    let m = neg_f.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let log_z = m + neg_f.iter().map(|x| (x - m).exp()).sum::<f64>().ln();
    let p = neg_f.iter().map(|x| (x - log_z).exp()).collect();
    (log_z, p)
}

/// The index of a binary visible vector in [`exact_visible_distribution`]'s
/// table (unit `i` is bit `i`).
pub fn state_index(v: &[f32]) -> usize {
    v.iter().enumerate().fold(0, |acc, (i, &x)| acc | (((x != 0.0) as usize) << i))
}

/// The exact marginal `p_ann(v_K)` of the forward annealing chain that AIS
/// and RAISE use ([`crate::eval::raise`]): `v₀ ~ Π Bernoulli(σ(b_A))`, then
/// one Gibbs sweep `v → h → v` of the intermediate RBM at each `β_k`,
/// `k = 1 … K` (weights `βW`, hidden biases `βc`, visible biases
/// `(1−β)b_A + βb`), computed by multiplying `2^D × 2^D` transition matrices
/// built from enumerated hidden states. For tiny models (`D, H ≤ 10`).
///
/// # Panics
/// If `D > 10` or `H > 10`, or the sizes disagree.
pub fn annealed_visible_distribution(rbm: &Rbm, base_bias: &[f32], schedule: &[f64]) -> Vec<f64> {
    let (d, h) = (rbm.n_visible(), rbm.n_hidden());
    assert!(d <= 10 && h <= 10 && base_bias.len() == d, "annealing reference is for tiny models");
    let (w, b, c) = (rbm.weights(), rbm.visible_bias(), rbm.hidden_bias());
    let nv = 1usize << d;
    let bits = |s: usize, n: usize| (0..n).map(move |i| (s >> i) & 1 == 1);
    // Bernoulli probability of a state given per-unit logits.
    let prob = |s: usize, logits: &[f64]| -> f64 {
        logits
            .iter()
            .enumerate()
            .map(|(i, &l)| if (s >> i) & 1 == 1 { sigmoid(l) } else { sigmoid(-l) })
            .product()
    };
    let a: Vec<f64> = base_bias.iter().map(|&x| x as f64).collect();
    let mut p: Vec<f64> = (0..nv).map(|s| prob(s, &a)).collect();
    for &beta in &schedule[1..] {
        // p(h | v) and p(v' | h) at β.
        let hid_logits = |s: usize| -> Vec<f64> {
            (0..h)
                .map(|j| {
                    let x: f64 =
                        bits(s, d).enumerate().filter(|&(_, on)| on).map(|(i, _)| w[i * h + j] as f64).sum();
                    beta * (c[j] as f64 + x)
                })
                .collect()
        };
        let vis_logits = |t: usize| -> Vec<f64> {
            (0..d)
                .map(|i| {
                    let x: f64 =
                        bits(t, h).enumerate().filter(|&(_, on)| on).map(|(j, _)| w[i * h + j] as f64).sum();
                    (1.0 - beta) * a[i] + beta * (b[i] as f64 + x)
                })
                .collect()
        };
        let pv_given_h: Vec<Vec<f64>> = (0..1usize << h)
            .map(|t| {
                let l = vis_logits(t);
                (0..nv).map(|s| prob(s, &l)).collect()
            })
            .collect();
        let mut next = vec![0.0f64; nv];
        for (s, &ps) in p.iter().enumerate() {
            if ps == 0.0 {
                continue;
            }
            let l = hid_logits(s);
            for (t, row) in pv_given_h.iter().enumerate() {
                let pt = ps * prob(t, &l);
                for (n, &q) in next.iter_mut().zip(row) {
                    *n += pt * q;
                }
            }
        }
        p = next;
    }
    p
}

/// Naive twin of [`crate::kernels::binary::binary_times`]: `A · W` for a
/// binary row-major `A` (`rows × k`, nonzero = 1) and row-major `W`
/// (`k × n`), summing each column in the kernel's documented order
/// (`a[t mod 8] += w(idx[t])` over the row's set positions, then
/// `((a0+a1)+(a2+a3))+((a4+a5)+(a6+a7))`) in plain f32, so the fast paths
/// must match it bit for bit.
pub fn binary_times(a: &[f32], k: usize, w: &[f32], n: usize) -> Vec<f32> {
    let rows = a.len() / k.max(1);
    let mut out = vec![0.0f32; rows * n];
    for r in 0..rows {
        let idx: Vec<usize> = (0..k).filter(|&i| a[r * k + i] != 0.0).collect();
        for c in 0..n {
            let mut acc = [0.0f32; 8];
            for (t, &i) in idx.iter().enumerate() {
                acc[t % 8] += w[i * n + c];
            }
            out[r * n + c] =
                ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
        }
    }
    out
}

/// Naive twin of [`crate::kernels::binary::pack_rows`]: bit `b` of word
/// `w` of row `r` is set iff `x[r·k + 64w + b] != 0.0`.
pub fn pack_rows(x: &[f32], k: usize) -> Vec<u64> {
    let wpr = k.div_ceil(64);
    let rows = x.len() / k.max(1);
    let mut out = vec![0u64; rows * wpr];
    for r in 0..rows {
        for i in 0..k {
            if x[r * k + i] != 0.0 {
                out[r * wpr + i / 64] |= 1 << (i % 64);
            }
        }
    }
    out
}

/// Naive twin of [`crate::kernels::activation::softplus_step_sum_on`] in
/// f64: `Σᵢ softplus((β₀+Δβ)(x[i]+bias[i])) − softplus(β₀(x[i]+bias[i]))`,
/// each difference as `log1p(σ(β₀x)·expm1(Δβ·x))` (exact in real
/// arithmetic, and free of cancellation in f64).
pub fn softplus_step_sum(x: &[f32], bias: &[f32], beta0: f64, dbeta: f64) -> f64 {
    x.iter()
        .zip(bias)
        .map(|(&a, &b)| {
            let v = a as f64 + b as f64;
            (sigmoid(beta0 * v) * (dbeta * v).exp_m1()).ln_1p()
        })
        .sum()
}

/// One naive unadjusted-Langevin step of a single chain on the free energy
/// of a Gaussian–Bernoulli RBM, in f64: `x − (ε/2)∇F(x) + noise·z` with the
/// given normals `z` (`∇F = (x − b)/σ² − (1/σ)⊙(W·σ(c + (x/σ)W))`).
pub fn gaussian_rbm_langevin_step(
    m: &crate::model::GaussianRbm,
    x: &[f32],
    z: &[f32],
    step: f64,
    noise: f64,
) -> Vec<f32> {
    let (d, nh) = (m.n_visible(), m.n_hidden());
    let (w, b, c, s) = (m.weights(), m.visible_bias(), m.hidden_bias(), m.sigma());
    let p: Vec<f64> = (0..nh)
        .map(|j| {
            sigmoid(
                c[j] as f64 + (0..d).map(|i| x[i] as f64 / s[i] as f64 * w[i * nh + j] as f64).sum::<f64>(),
            )
        })
        .collect();
    (0..d)
        .map(|i| {
            let si = s[i] as f64;
            let wp: f64 = (0..nh).map(|j| w[i * nh + j] as f64 * p[j]).sum();
            let g = (x[i] as f64 - b[i] as f64) / (si * si) - wp / si;
            (x[i] as f64 - 0.5 * step * g + noise * z[i] as f64) as f32
        })
        .collect()
}

/// Naive valid cross-correlation of a channel-last image with `r × r × C × K`
/// filters (layouts of [`crate::kernels::conv`]), in f64, without bias.
pub fn conv_correlate(s: &crate::kernels::conv::ConvShape, v: &[f32], w: &[f32]) -> Vec<f64> {
    let (r, c, kk, wv) = (s.filter_size, s.channels, s.filters, s.width);
    let (hh, wh) = (s.hidden_height(), s.hidden_width());
    let mut out = vec![0.0f64; hh * wh * kk];
    for y in 0..hh {
        for x in 0..wh {
            for k in 0..kk {
                let mut acc = 0.0f64;
                for a in 0..r {
                    for b in 0..r {
                        for ch in 0..c {
                            let pix = v[((y + a) * wv + x + b) * c + ch] as f64;
                            acc += pix * w[((a * r + b) * c + ch) * kk + k] as f64;
                        }
                    }
                }
                out[(y * wh + x) * kk + k] = acc;
            }
        }
    }
    out
}

/// Naive full convolution of detection maps back to the image (the
/// transpose of [`conv_correlate`]), in f64, without bias.
pub fn conv_full(s: &crate::kernels::conv::ConvShape, h: &[f32], w: &[f32]) -> Vec<f64> {
    let (r, c, kk, wv) = (s.filter_size, s.channels, s.filters, s.width);
    let (hh, wh) = (s.hidden_height(), s.hidden_width());
    let mut out = vec![0.0f64; s.n_visible()];
    for y in 0..hh {
        for x in 0..wh {
            for k in 0..kk {
                let hk = h[(y * wh + x) * kk + k] as f64;
                for a in 0..r {
                    for b in 0..r {
                        for ch in 0..c {
                            out[((y + a) * wv + x + b) * c + ch] +=
                                hk * w[((a * r + b) * c + ch) * kk + k] as f64;
                        }
                    }
                }
            }
        }
    }
    out
}

/// The energy of a convolutional RBM state by its definition (Lee et al.
/// 2009, eq. 1 with binary visible units), in f64:
/// `E = −Σ h·(W̃*v) − Σ_k b_k Σ h_k − Σ_c c_c Σ v_c` (`+ ½ Σ (v − c)²`
/// instead of the last term for Gaussian visible units); `None` if a pooling
/// block has two units on (probability 0).
pub fn conv_energy(m: &crate::model::ConvRbm, v: &[f32], h: &[f32]) -> Option<f64> {
    let s = m.shape();
    let (p, kk, wh) = (s.pool, s.filters, s.hidden_width());
    for py in 0..s.hidden_height() / p {
        for px in 0..wh / p {
            for k in 0..kk {
                let on: usize = (0..p * p)
                    .filter(|i| h[((py * p + i / p) * wh + px * p + i % p) * kk + k] != 0.0)
                    .count();
                if on > 1 {
                    return None;
                }
            }
        }
    }
    let pre = conv_correlate(&s, v, m.weights());
    let mut e = 0.0f64;
    for (i, (&hi, &x)) in h.iter().zip(&pre).enumerate() {
        e -= hi as f64 * (x + m.hidden_bias()[i % kk] as f64);
    }
    for (i, &vi) in v.iter().enumerate() {
        let c = m.visible_bias()[i % s.channels] as f64;
        e += match m.visible_units() {
            crate::model::ConvVisible::Bernoulli => -(vi as f64) * c,
            crate::model::ConvVisible::Gaussian => 0.5 * (vi as f64 - c).powi(2),
        };
    }
    Some(e)
}

/// One naive block-Gibbs sweep of one chain of a binary-visible
/// convolutional RBM, in f64: detection logits by [`conv_correlate`],
/// each pooling block drawn from its `P² + 1` states with one uniform (off
/// first, then the units in raster order, as the fast sampler orders them),
/// then the pixels by [`conv_full`]. Uniforms from `u` in the fast
/// sampler's order (one per block, then one per pixel). Returns the new
/// `(v, h)`. The naive twin of [`crate::sampler::ConvChains::sweep`] (the
/// same law; the draws can differ where f32 and f64 round differently).
pub fn conv_gibbs_sweep(m: &crate::model::ConvRbm, v: &[f32], u: &mut Uniforms) -> (Vec<f32>, Vec<f32>) {
    let s = m.shape();
    let (p, wh, kk) = (s.pool, s.hidden_width(), s.filters);
    let mut logits = conv_correlate(&s, v, m.weights());
    for (x, &b) in logits.iter_mut().zip(m.hidden_bias().iter().cycle()) {
        *x += b as f64;
    }
    let ub = u.take(s.n_pooled());
    let mut h = vec![0.0f32; s.n_hidden()];
    let wp = wh / p;
    for bp in 0..s.blocks() {
        let (py, px) = (bp / wp, bp % wp);
        let rows: Vec<usize> = (0..p * p).map(|i| ((py * p + i / p) * wh + px * p + i % p) * kk).collect();
        for k in 0..kk {
            let z: f64 = 1.0 + rows.iter().map(|&r| logits[r + k].exp()).sum::<f64>();
            let mut acc = 1.0 / z;
            let target = ub[bp * kk + k];
            if target < acc {
                continue;
            }
            for &r in &rows {
                acc += logits[r + k].exp() / z;
                if target < acc {
                    h[r + k] = 1.0;
                    break;
                }
            }
        }
    }
    let back = conv_full(&s, &h, m.weights());
    let uv = u.take(s.n_visible());
    let v2 = back
        .iter()
        .zip(m.visible_bias().iter().cycle())
        .zip(&uv)
        .map(|((&x, &c), &ui)| (ui < sigmoid(x + c as f64)) as u8 as f32)
        .collect();
    (v2, h)
}
