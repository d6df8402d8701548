//! CPU-feature detection, the `BOLTZMANN_FORCE_ISA` override, and the only
//! home of `core::arch` in the crate.
//!
//! A plain `cargo build --release` (no `-C target-cpu`) reaches the AVX2 and
//! AVX-512 code: each kernel body is compiled three times, inside functions
//! marked `#[target_feature(enable = ...)]`, and the path is picked at run
//! time with `is_x86_feature_detected!`. The choice is made once per process
//! ([`active_isa`]) and can be forced for tests and benchmarks:
//!
//! * `BOLTZMANN_FORCE_ISA=scalar|avx2|avx512` forces a path. If the CPU lacks
//!   it, the best available path is used instead and a warning is printed to
//!   stderr once, unless
//! * `BOLTZMANN_ENSURE_ISA=1` is also set, in which case [`active_isa`] panics
//!   with a clear message (meant for CI jobs that must exercise one path).
//!
//! Layers above this module never see intrinsics: they call the safe
//! dispatchers below with an [`Isa`] value.

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;
mod bodies;
mod entry;
#[cfg(target_arch = "x86_64")]
mod gemm_avx512;
mod scalar;
mod tiles;
mod vector;

use std::sync::OnceLock;

pub(crate) use bodies::{
    AdamStep, ExpFlush, Flush, LogSigmoid, MomentumStep, NORMAL_BLOCK, PANEL, Sigmoid, Softplus, Unary,
};
pub(crate) use tiles::{Tiles, out as tile_out};

/// An instruction-set path for the element-wise kernels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Isa {
    /// Portable one-lane code; always available.
    Scalar,
    /// AVX2 + FMA, 8 × f32 per vector.
    Avx2,
    /// AVX-512F (+ AVX2, FMA), 16 × f32 per vector.
    Avx512,
}

impl Isa {
    /// Every path, slowest first.
    pub const ALL: [Isa; 3] = [Isa::Scalar, Isa::Avx2, Isa::Avx512];

    /// The lower-case name used by `BOLTZMANN_FORCE_ISA` and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Isa::Scalar => "scalar",
            Isa::Avx2 => "avx2",
            Isa::Avx512 => "avx512",
        }
    }

    /// Parses a name as accepted by `BOLTZMANN_FORCE_ISA`.
    pub fn from_name(s: &str) -> Option<Isa> {
        match s.trim().to_ascii_lowercase().as_str() {
            "scalar" => Some(Isa::Scalar),
            "avx2" => Some(Isa::Avx2),
            "avx512" | "avx-512" => Some(Isa::Avx512),
            _ => None,
        }
    }

    /// Whether this CPU can run the path. The CPU is asked once per process;
    /// later calls read the cached answer (one atomic load).
    #[inline]
    pub fn is_available(self) -> bool {
        available_mask() & (1 << self as u8) != 0
    }

    /// `Ok(self)` if available, otherwise [`crate::Error::IsaUnavailable`].
    pub fn check(self) -> crate::Result<Isa> {
        if self.is_available() { Ok(self) } else { Err(crate::Error::IsaUnavailable { isa: self.name() }) }
    }

    /// The paths this CPU can run, slowest first.
    pub fn available() -> Vec<Isa> {
        Isa::ALL.into_iter().filter(|i| i.is_available()).collect()
    }
}

impl std::fmt::Display for Isa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The best path this CPU supports, ignoring the environment.
///
/// AVX-512 is preferred over AVX2 where both exist: on the machines measured
/// so far it is faster for every kernel here (see perf-notes.md).
pub fn detected_isa() -> Isa {
    if Isa::Avx512.is_available() {
        Isa::Avx512
    } else if Isa::Avx2.is_available() {
        Isa::Avx2
    } else {
        Isa::Scalar
    }
}

/// The path the crate uses by default: [`detected_isa`], unless overridden
/// by `BOLTZMANN_FORCE_ISA` (see the module docs). Decided once per process.
///
/// # Panics
/// When `BOLTZMANN_ENSURE_ISA` is set and the forced path is unknown or not
/// available on this CPU (a CI configuration error, not a user-input error).
pub fn active_isa() -> Isa {
    static ACTIVE: OnceLock<Isa> = OnceLock::new();
    *ACTIVE.get_or_init(|| {
        let ensure = std::env::var_os("BOLTZMANN_ENSURE_ISA").is_some_and(|v| v != "0");
        match std::env::var("BOLTZMANN_FORCE_ISA") {
            Ok(name) if !name.trim().is_empty() => match Isa::from_name(&name) {
                Some(isa) if isa.is_available() => isa,
                found => {
                    let msg = match found {
                        Some(isa) => format!("BOLTZMANN_FORCE_ISA={isa}: not available on this CPU"),
                        None => format!("BOLTZMANN_FORCE_ISA={name}: unknown (use scalar, avx2 or avx512)"),
                    };
                    assert!(!ensure, "{msg} (BOLTZMANN_ENSURE_ISA is set)");
                    let best = detected_isa();
                    eprintln!("boltzmann: {msg}; using {best}");
                    best
                }
            },
            _ => detected_isa(),
        }
    })
}

/// Bit `i` set iff `Isa::ALL[i]` runs on this CPU, detected on first use.
fn available_mask() -> u8 {
    static MASK: OnceLock<u8> = OnceLock::new();
    *MASK.get_or_init(|| {
        let mut mask = 1 << Isa::Scalar as u8;
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::is_x86_feature_detected as has;
            let avx2 = (cfg!(target_feature = "avx2") && cfg!(target_feature = "fma"))
                || (has!("avx2") && has!("fma"));
            if avx2 {
                mask |= 1 << Isa::Avx2 as u8;
                if cfg!(target_feature = "avx512f") || has!("avx512f") {
                    mask |= 1 << Isa::Avx512 as u8;
                }
            }
        }
        mask
    })
}

/// Falls back to scalar for a path the CPU lacks, so the dispatchers below
/// can never execute an unsupported instruction.
#[inline]
fn usable(isa: Isa) -> Isa {
    if isa.is_available() { isa } else { Isa::Scalar }
}

/// Calls the entry point `f` of [`entry`]'s module for `isa` (scalar when
/// the CPU lacks it): the one place where an ISA becomes a function.
/// Expands to an `unsafe` call; the caller's `unsafe` block states the
/// pointer contract, availability is guaranteed here.
macro_rules! dispatch {
    ($isa:expr, $f:ident $(::<$($g:tt),*>)? ($($arg:expr),* $(,)?)) => {
        match usable($isa) {
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => entry::avx512::$f$(::<$($g),*>)?($($arg),*),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => entry::avx2::$f$(::<$($g),*>)?($($arg),*),
            _ => entry::scalar::$f$(::<$($g),*>)?($($arg),*),
        }
    };
}

/// `out[i] = F(x[i] + bias[i])`.
///
/// # Panics
/// If the lengths differ (callers validate first).
pub(crate) fn unary<F: Unary>(isa: Isa, x: &[f32], bias: Option<&[f32]>, out: &mut [f32]) {
    assert_eq!(x.len(), out.len());
    let n = x.len();
    let b = match bias {
        Some(b) => {
            assert_eq!(b.len(), n);
            b.as_ptr()
        }
        None => std::ptr::null(),
    };
    // SAFETY: lengths checked above; `usable` guarantees the CPU has the ISA.
    unsafe { unary_raw::<F>(isa, x.as_ptr(), b, out.as_mut_ptr(), n) }
}

/// In-place `x[i] = F(x[i] + bias[i])`.
///
/// # Panics
/// If the lengths differ (callers validate first).
pub(crate) fn unary_in_place<F: Unary>(isa: Isa, x: &mut [f32], bias: Option<&[f32]>) {
    let n = x.len();
    let b = match bias {
        Some(b) => {
            assert_eq!(b.len(), n);
            b.as_ptr()
        }
        None => std::ptr::null(),
    };
    let p = x.as_mut_ptr();
    // SAFETY: the bodies load each vector before storing it, so `out == x` is
    // allowed; `usable` guarantees the ISA.
    unsafe { unary_raw::<F>(isa, p, b, p, n) }
}

/// # Safety
/// Pointer validity as in `bodies::unary_body` (`dispatch!` makes sure the
/// CPU runs the chosen path).
unsafe fn unary_raw<F: Unary>(isa: Isa, x: *const f32, b: *const f32, out: *mut f32, n: usize) {
    // SAFETY: forwarded.
    unsafe { dispatch!(isa, unary::<F>(x, b, out, n)) }
}

/// `Σᵢ softplus((β₀+Δβ)(x[i]+bias[i])) − softplus(β₀(x[i]+bias[i]))`,
/// accurate relative to each difference (see `bodies::softplus_step_sum_body`).
///
/// # Panics
/// If the lengths differ (callers validate first).
pub(crate) fn softplus_step_sum(isa: Isa, x: &[f32], bias: &[f32], b0: f32, db: f32) -> f64 {
    assert_eq!(x.len(), bias.len());
    let (xp, bp, n) = (x.as_ptr(), bias.as_ptr(), x.len());
    // SAFETY: lengths checked; `usable` guarantees the CPU has the ISA.
    unsafe { dispatch!(isa, softplus_step_sum(xp, bp, n, b0, db)) }
}

/// One weight panel (`k × PANEL`) times binary rows given by set positions:
/// see `bodies::binary_panel_body`. Writes `out[r·ldo + c]`, `c < ncols`.
///
/// # Safety
/// Every index `< k`, `panel.len() ≥ k·PANEL`, `offsets.len() == rows + 1`
/// with valid ranges into `indices`, `out` writable at `r·ldo + c` for
/// `r < rows`, `c < ncols ≤ PANEL`.
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn binary_panel(
    isa: Isa,
    panel: &[f32],
    offsets: &[usize],
    indices: &[u32],
    rows: usize,
    ncols: usize,
    out: *mut f32,
    ldo: usize,
) {
    let p = panel.as_ptr();
    // SAFETY: forwarded from the caller; `usable` guarantees the ISA.
    unsafe { dispatch!(isa, binary_panel(p, offsets, indices, rows, ncols, out, ldo)) }
}

/// The update of binary products after their rows changed (see
/// `bodies::binary_panel_delta_body`): `out[out_rows[r]·ldo + c] += Σ_on −
/// Σ_off` over one weight panel, for the rows of the two index lists.
///
/// # Safety
/// Every index `< k`, `panel.len() ≥ k·PANEL`, both offset lists
/// `out_rows.len() + 1` long with valid ranges into their indices, `out`
/// readable and writable at `out_rows[r]·ldo + c` for `c < ncols ≤ PANEL`.
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn binary_panel_delta(
    isa: Isa,
    panel: &[f32],
    on: (&[usize], &[u32]),
    off: (&[usize], &[u32]),
    out_rows: &[u32],
    ncols: usize,
    out: *mut f32,
    ldo: usize,
) {
    let p = panel.as_ptr();
    // SAFETY: forwarded from the caller; `usable` guarantees the ISA.
    unsafe { dispatch!(isa, binary_panel_delta(p, on.0, on.1, off.0, off.1, out_rows, ncols, out, ldo)) }
}

/// One momentum-SGD step over the weights `w` with velocities `m` and
/// gradients `g`, with up to two extra terms `a·u + b·v` (`terms`: `(u, a)`
/// pairs, `u` as long as `w`) inside the decay (see
/// `bodies::momentum_step_body`: the same bits on every instruction set;
/// `m` neither read nor written unless `s.velocity`); returns whether a new
/// weight is NaN or out of bounds.
///
/// # Panics
/// If the lengths differ or more than two terms are given.
pub(crate) fn momentum_step(
    isa: Isa,
    w: &mut [f32],
    m: &mut [f32],
    g: &[f32],
    s: &MomentumStep,
    terms: &[(&[f32], f32)],
) -> bool {
    let n = w.len();
    assert!(m.len() == n && g.len() == n && terms.len() <= 2 && terms.iter().all(|(u, _)| u.len() == n));
    let mut t = bodies::StepTerms::NONE;
    if let Some(&(u, a)) = terms.first() {
        (t.u, t.a) = (u.as_ptr(), a);
    }
    if let Some(&(v, b)) = terms.get(1) {
        (t.v, t.b) = (v.as_ptr(), b);
    }
    let (wp, mp, gp) = (w.as_mut_ptr(), m.as_mut_ptr(), g.as_ptr());
    // SAFETY: `w` and `m` are distinct mutable borrows of n floats, the
    // read-only inputs shared borrows of n floats (so none aliases `w` or
    // `m`); `usable` guarantees the ISA.
    unsafe { dispatch!(isa, momentum_step(wp, mp, gp, n, s, t)) }
}

/// One Adam step over the weights `w` with moments `m`, `v` and gradients
/// `g` (see `bodies::adam_step_body`: the same bits on every instruction
/// set); returns whether a new weight is NaN or out of bounds.
///
/// # Panics
/// If the lengths differ.
pub(crate) fn adam_step(
    isa: Isa,
    w: &mut [f32],
    m: &mut [f32],
    v: &mut [f32],
    g: &[f32],
    s: &AdamStep,
) -> bool {
    let n = w.len();
    assert!(m.len() == n && v.len() == n && g.len() == n);
    let (wp, mp, vp, gp) = (w.as_mut_ptr(), m.as_mut_ptr(), v.as_mut_ptr(), g.as_ptr());
    // SAFETY: three distinct mutable borrows and one shared borrow of n
    // floats each (none can alias another); `usable` guarantees the ISA.
    unsafe { dispatch!(isa, adam_step(wp, mp, vp, gp, n, s)) }
}

/// Packs `x` into bits: `out[w]` bit `b` set iff `x[64w + b] != 0.0`
/// (NaN counts as set), one compare instruction per vector.
///
/// # Panics
/// If `out.len() != x.len().div_ceil(64)`.
pub(crate) fn pack_bits(isa: Isa, x: &[f32], out: &mut [u64]) {
    assert_eq!(out.len(), x.len().div_ceil(64));
    let (xp, n, op) = (x.as_ptr(), x.len(), out.as_mut_ptr());
    // SAFETY: x holds n floats, out n.div_ceil(64) words; `usable`
    // guarantees the ISA.
    unsafe { dispatch!(isa, pack_bits(xp, n, op)) }
}

/// Rows of `x` scaled into one packed panel with f64 column sums (see
/// `bodies::scale_panel_body`: the same bits on every instruction set):
/// `panel` holds `panel.len() / PANEL` rows, row `r` of `x` starts at
/// `r·ldx`, rows before `split` take `scales[0]`, the others
/// `scales[1]`; `mean` (if given) sums the rows before `split` with
/// `scales[0].0`.
///
/// # Panics
/// If `ncols > PANEL`, `panel.len()` is not a multiple of `PANEL`, or `x`
/// lacks a row.
#[allow(clippy::too_many_arguments)]
pub(crate) fn scale_panel(
    isa: Isa,
    x: &[f32],
    ldx: usize,
    ncols: usize,
    split: usize,
    scales: [(f64, f32); 2],
    tiny: f32,
    panel: &mut [f32],
    sums: &mut [f64; PANEL],
    mean: Option<&mut [f64; PANEL]>,
) {
    let rows = panel.len() / PANEL;
    assert!(ncols <= PANEL && panel.len().is_multiple_of(PANEL));
    assert!(rows == 0 || (ncols <= ldx && (rows - 1) * ldx + ncols <= x.len()));
    // SAFETY: `usable` guarantees the ISA; the body is safe code.
    unsafe { dispatch!(isa, scale_panel(x, ldx, ncols, split, scales, tiny, panel, sums, mean)) }
}

/// Fills one panel of a transposed packing: `panel[i·PANEL + c] =
/// w[(j0 + c)·k + i]` for `c < nc ≤ PANEL`, `i < k` (`w` row-major, rows of
/// `k`); other entries are left as they are. In-register 8 × 8 transposes
/// where AVX is available, a copy loop otherwise (same values).
///
/// # Panics
/// If `nc > PANEL`, `panel.len() < k·PANEL` or `w` lacks rows `j0..j0+nc`.
pub(crate) fn pack_transposed_panel(isa: Isa, w: &[f32], k: usize, j0: usize, nc: usize, panel: &mut [f32]) {
    assert!(nc <= PANEL && panel.len() >= k * PANEL && (j0 + nc) * k <= w.len());
    match usable(isa) {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: AVX2 implies AVX, checked by `usable`; bounds asserted above.
        Isa::Avx512 | Isa::Avx2 => unsafe {
            avx2::pack_transposed_panel_avx(w.as_ptr(), k, j0, nc, panel.as_mut_ptr())
        },
        _ => {
            for c in 0..nc {
                let src = &w[(j0 + c) * k..(j0 + c + 1) * k];
                for (row, &x) in panel.chunks_exact_mut(PANEL).zip(src) {
                    row[c] = x;
                }
            }
        }
    }
}

/// The fused half-step on one panel (see `bodies::binary_panel_sample_body`):
/// the binary product's sums for the panel's `ncols` columns, `+ bias`,
/// Bernoulli samples `u < σ(·)` from `bits` (row `r` at `bits[r·stride..]`,
/// this panel's uniforms first), ORed as bits into `out[r·wpr + word]` at
/// `shift`.
///
/// # Safety
/// As [`binary_panel`] for the sums; `bias.len() ≥ PANEL`; `bits` readable
/// at `r·stride + c` for `c < ncols`; `out` writable at `r·wpr + word`;
/// `shift + ncols ≤ 64`.
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn binary_panel_sample(
    isa: Isa,
    panel: &[f32],
    offsets: &[usize],
    indices: &[u32],
    rows: usize,
    ncols: usize,
    bias: &[f32],
    bits: *const u32,
    stride: usize,
    out: *mut u64,
    wpr: usize,
    word: usize,
    shift: u32,
) {
    let (p, b) = (panel.as_ptr(), bias.as_ptr());
    // SAFETY: forwarded from the caller; `usable` guarantees the ISA.
    unsafe {
        dispatch!(
            isa,
            binary_panel_sample(p, offsets, indices, rows, ncols, b, bits, stride, out, wpr, word, shift)
        )
    }
}

/// Fused Bernoulli sampling of a `rows × n` matrix (`n = bias.len()`):
/// `out[r][i] = (u(bits[r·stride + i]) < σ(pre[r][i] + bias[i])) as f32`.
///
/// # Panics
/// If the lengths are inconsistent (callers validate first).
pub(crate) fn bernoulli(
    isa: Isa,
    pre: &[f32],
    bias: &[f32],
    bits: &[u32],
    bits_stride: usize,
    out: &mut [f32],
) {
    bernoulli_mode::<{ bodies::mode::LOGITS }>(
        isa,
        pre,
        Some(bias),
        bits,
        bits_stride,
        None,
        out,
        bias.len(),
    );
}

/// As [`bernoulli`], also writing `probs[r][i] = σ(pre[r][i] + bias[i])`;
/// the sample is `u < probs` on the stored value.
pub(crate) fn bernoulli_with_probs(
    isa: Isa,
    pre: &[f32],
    bias: &[f32],
    bits: &[u32],
    bits_stride: usize,
    probs: &mut [f32],
    out: &mut [f32],
) {
    bernoulli_mode::<{ bodies::mode::LOGITS_WITH_PROBS }>(
        isa,
        pre,
        Some(bias),
        bits,
        bits_stride,
        Some(probs),
        out,
        bias.len(),
    );
}

/// Samples from probabilities: `out[r][i] = (u < p[r][i]) as f32`, rows of `n`.
pub(crate) fn bernoulli_from_probs(
    isa: Isa,
    p: &[f32],
    n: usize,
    bits: &[u32],
    bits_stride: usize,
    out: &mut [f32],
) {
    bernoulli_mode::<{ bodies::mode::PROBS }>(isa, p, None, bits, bits_stride, None, out, n);
}

#[allow(clippy::too_many_arguments)]
fn bernoulli_mode<const MODE: u8>(
    isa: Isa,
    pre: &[f32],
    bias: Option<&[f32]>,
    bits: &[u32],
    bits_stride: usize,
    probs: Option<&mut [f32]>,
    out: &mut [f32],
    n: usize,
) {
    let len = out.len();
    assert!(pre.len() == len && bits_stride >= n);
    assert!(bias.is_none_or(|b| b.len() == n));
    if n == 0 || len == 0 {
        return;
    }
    let rows = len / n;
    assert!(rows * n == len && bits.len() >= (rows - 1) * bits_stride + n);
    let pp = match probs {
        Some(p) => {
            assert_eq!(p.len(), len);
            p.as_mut_ptr()
        }
        None => std::ptr::null_mut(),
    };
    let b = bias.map_or(std::ptr::null(), |b| b.as_ptr());
    // SAFETY: bounds checked above; `usable` guarantees the ISA.
    unsafe {
        let (p, u, o) = (pre.as_ptr(), bits.as_ptr(), out.as_mut_ptr());
        dispatch!(isa, bernoulli::<MODE>(p, b, u, bits_stride, pp, o, rows, n))
    }
}

/// Standard normals from random words by Box–Muller, in blocks of
/// [`bodies::NORMAL_BLOCK`] (see `bodies::normal_body` for the pairing and the
/// formulas): `out[..32·b]` from `bits[..32·b]`.
///
/// # Panics
/// If the lengths are not equal multiples of the block.
pub(crate) fn normals(isa: Isa, bits: &[u32], out: &mut [f32]) {
    assert!(bits.len() == out.len() && bits.len().is_multiple_of(bodies::NORMAL_BLOCK));
    let blocks = bits.len() / bodies::NORMAL_BLOCK;
    let (b, o) = (bits.as_ptr(), out.as_mut_ptr());
    // SAFETY: lengths checked; `usable` guarantees the ISA.
    unsafe { dispatch!(isa, normal(b, o, blocks)) }
}

/// Advances every chain's xoshiro256++ state by `words` steps, writing the
/// outputs row-major to `out` (`states.len() × words`).
///
/// # Panics
/// If `out` is shorter than `states.len() * words`.
pub(crate) fn xoshiro_fill(isa: Isa, states: &mut [[u64; 4]], words: usize, out: &mut [u64]) {
    assert!(out.len() >= states.len() * words);
    let o = out.as_mut_ptr();
    // SAFETY: length checked above; `usable` guarantees the ISA.
    unsafe { dispatch!(isa, xoshiro_fill(states, words, o)) }
}

/// `C = A·B` (row-major, `m × k` times `k × n`) with the no-packing AVX-512
/// kernel. Returns `false` (and does nothing) when the CPU lacks AVX-512.
///
/// # Panics
/// If a slice is shorter than its extent (callers validate first).
pub(crate) fn gemm_nn_nopack(m: usize, k: usize, n: usize, a: &[f32], b: &[f32], c: &mut [f32]) -> bool {
    assert!(a.len() >= m * k && b.len() >= k * n && c.len() >= m * n);
    if !Isa::Avx512.is_available() {
        return false;
    }
    #[cfg(target_arch = "x86_64")]
    // SAFETY: AVX-512 checked above; extents asserted above.
    unsafe {
        gemm_avx512::gemm_nn(m, k, n, a.as_ptr(), k, b.as_ptr(), n, c.as_mut_ptr(), n);
    }
    true
}

/// Whether [`dense_tiles`] has a kernel for `isa` on this CPU (AVX2+FMA or
/// AVX-512; the scalar path has none).
pub(crate) fn has_dense_tiles(isa: Isa) -> bool {
    matches!(usable(isa), Isa::Avx2 | Isa::Avx512)
}

/// The register-blocked product over packed panels with the epilogue `OUT`
/// ([`tile_out`]). Returns `false` (and does nothing) where
/// [`has_dense_tiles`] is false.
///
/// # Safety
/// The pointers and sizes of `t` as `tiles::dense_tiles_body` requires.
pub(crate) unsafe fn dense_tiles<const OUT: u8>(isa: Isa, t: &Tiles) -> bool {
    match usable(isa) {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the ISA is available (`usable`); pointers forwarded.
        Isa::Avx512 => unsafe { entry::avx512_tiles::dense_tiles::<OUT>(t) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        Isa::Avx2 => unsafe { entry::avx2_tiles::dense_tiles::<OUT>(t) },
        _ => return false,
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The in-register transposes fill a transposed panel exactly like the
    /// copy loop, on shapes around the 8 × 8 block edges and partial panels.
    #[test]
    fn transposed_panel_equals_copy_loop_on_every_isa() {
        for (n, k) in [(1usize, 1usize), (16, 8), (16, 9), (7, 23), (9, 16), (32, 784), (21, 500), (16, 7)] {
            let w: Vec<f32> = (0..n * k).map(|i| i as f32 * 0.5 - 7.0).collect();
            for p in 0..n.div_ceil(PANEL) {
                let (j0, nc) = (p * PANEL, PANEL.min(n - p * PANEL));
                let mut want = vec![-1.0f32; k * PANEL];
                for c in 0..nc {
                    for i in 0..k {
                        want[i * PANEL + c] = w[(j0 + c) * k + i];
                    }
                }
                for isa in Isa::available() {
                    let mut got = vec![-1.0f32; k * PANEL];
                    pack_transposed_panel(isa, &w, k, j0, nc, &mut got);
                    assert_eq!(got, want, "{isa} n={n} k={k} panel {p}");
                }
            }
        }
    }

    /// The naive twin of `bodies::momentum_step_body`: the step as scalar
    /// code, written from its documentation.
    fn momentum_step_naive(
        w: &mut [f32],
        m: &mut [f32],
        g: &[f32],
        s: &MomentumStep,
        t: &[(&[f32], f32)],
    ) -> bool {
        let mut bad = false;
        for (j, ((w, m), &g)) in w.iter_mut().zip(m.iter_mut()).zip(g).enumerate() {
            let mut d = if s.velocity { s.mu * *m + s.lr * g } else { s.lr * g };
            if s.l2 != 0.0 || s.l1 != 0.0 || !t.is_empty() {
                let sign = ((*w > 0.0) as u8 as f32) - ((*w < 0.0) as u8 as f32);
                let mut e = s.l2 * *w + s.l1 * sign;
                for &(u, a) in t {
                    e += a * u[j];
                }
                d -= s.lr * e;
            }
            if d.abs() < s.tiny {
                d = 0.0;
            }
            *w += d;
            if s.velocity {
                *m = d;
            }
            bad |= w.is_nan() || w.abs() > s.max;
        }
        bad
    }

    /// `scale_panel` against a plain loop, on every ISA: full and partial
    /// panels, the split at 0, inside and after the rows, with and without
    /// the mean, values that the scaling flushes to 0, and a NaN; all bits
    /// (sums, mean, panel, the unwritten padding) equal.
    #[test]
    fn scale_panel_equals_naive_twin_on_every_isa() {
        let (h, rows) = (21usize, 9usize);
        let mut x: Vec<f32> = (0..rows * h).map(|i| ((i * 37 % 23) as f32 - 11.0) * 0.013).collect();
        x[4] = 1e-29; // × 0.01 → below tiny: flushed
        x[h + 2] = -3e-29;
        x[2 * h + 7] = f32::NAN;
        x[3 * h] = 0.0;
        let scales = [(0.01f64, 0.01f32), (-1.0 / 3.0, -(1.0f64 / 3.0) as f32)];
        let naive = |j0: usize, nc: usize, split: usize, want_mean: bool| {
            let (mut panel, mut sums, mut mean) =
                (vec![-7.0f32; rows * PANEL], [0.5f64; PANEL], [0.25f64; PANEL]);
            for r in 0..rows {
                let (s, s32) = scales[usize::from(r >= split)];
                for c in 0..nc {
                    let v = x[r * h + j0 + c];
                    sums[c] += v as f64 * s;
                    let y = v * s32;
                    panel[r * PANEL + c] = if y.abs() < 1e-30 { 0.0 } else { y };
                    if want_mean && r < split {
                        mean[c] += v as f64 * scales[0].0;
                    }
                }
            }
            (panel, sums, mean)
        };
        let bits64 = |a: &[f64]| a.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        let bits32 = |a: &[f32]| a.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        for (j0, nc) in [(0, 16), (16, 5), (3, 16), (0, 0)] {
            for split in [0, 4, rows, rows + 3] {
                for want_mean in [false, true] {
                    let want = naive(j0, nc, split, want_mean);
                    for isa in Isa::available() {
                        let (mut panel, mut sums, mut mean) =
                            (vec![-7.0f32; rows * PANEL], [0.5f64; PANEL], [0.25f64; PANEL]);
                        let m = want_mean.then_some(&mut mean);
                        scale_panel(isa, &x[j0..], h, nc, split, scales, 1e-30, &mut panel, &mut sums, m);
                        let at = format!("{isa:?} j0 {j0} nc {nc} split {split} mean {want_mean}");
                        assert_eq!(bits32(&panel), bits32(&want.0), "panel, {at}");
                        assert_eq!(bits64(&sums), bits64(&want.1), "sums, {at}");
                        assert_eq!(bits64(&mean), bits64(&want.2), "mean, {at}");
                    }
                }
            }
        }
    }

    /// Every instruction set gives the naive twin's bits and bound report,
    /// across tail lengths, with and without decay and extra terms, on
    /// values that flush to zero, cross the bound or are NaN.
    #[test]
    fn momentum_step_equals_naive_twin_on_every_isa() {
        let steps = [
            MomentumStep { mu: 0.5, lr: 0.1, l2: 2e-4, l1: 0.0, tiny: 1e-30, max: 10.0, velocity: true },
            MomentumStep { mu: 0.0, lr: 0.1, l2: 0.0, l1: 0.0, tiny: 1e-30, max: 10.0, velocity: true },
            MomentumStep { mu: 0.9, lr: 0.05, l2: 1e-3, l1: 1e-4, tiny: 1e-30, max: 10.0, velocity: true },
            MomentumStep { mu: 0.0, lr: 0.1, l2: 0.0, l1: 0.0, tiny: 1e-30, max: 10.0, velocity: false },
            MomentumStep { mu: 0.0, lr: 0.05, l2: 1e-3, l1: 1e-4, tiny: 1e-30, max: 10.0, velocity: false },
        ];
        for n in [0usize, 1, 15, 16, 17, 40, 500] {
            let w0: Vec<f32> = (0..n).map(|i| ((i * 37 % 23) as f32 - 11.0) * 0.1).collect();
            let m0: Vec<f32> = (0..n).map(|i| ((i * 13 % 7) as f32 - 3.0) * 0.01).collect();
            let mut g: Vec<f32> = (0..n).map(|i| ((i * 29 % 19) as f32 - 9.0) * 0.3).collect();
            for (i, x) in g.iter_mut().enumerate() {
                match i % 11 {
                    3 => *x = 1e-35, // the step flushes to 0
                    5 => *x = 0.0,   // with w = 0 below: signed zeros
                    7 => *x = 1e3,   // crosses the bound
                    _ => {}
                }
            }
            for (k, s) in steps.iter().enumerate() {
                for poison in [None, Some(n / 2)] {
                    let mut gp = g.clone();
                    if let (Some(p), true) = (poison, n > 0) {
                        gp[p] = f32::NAN;
                    }
                    let (mut w_want, mut m_want) = (w0.clone(), m0.clone());
                    if n > 5 {
                        w_want[5] = 0.0;
                        m_want[5] = 0.0;
                    }
                    let (w_in, m_in) = (w_want.clone(), m_want.clone());
                    let u: Vec<f32> = (0..n).map(|j| ((j * 5 % 13) as f32 - 6.0) * 0.07).collect();
                    let v: Vec<f32> = (0..n).map(|j| ((j * 3 % 11) as f32) * 0.05).collect();
                    let terms = [(&u[..], -0.3f32), (&v[..], 1.7f32)];
                    let mut bad_plain = false;
                    for nt in 0..=2 {
                        let t = &terms[..nt];
                        let (mut w_want, mut m_want) = (w_in.clone(), m_in.clone());
                        let bad_want = momentum_step_naive(&mut w_want, &mut m_want, &gp, s, t);
                        for isa in Isa::available() {
                            let (mut w, mut m) = (w_in.clone(), m_in.clone());
                            let bad = momentum_step(isa, &mut w, &mut m, &gp, s, t);
                            let bits = |x: &[f32]| x.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
                            let at = format!("{isa} n={n} step {k} poison {poison:?} terms {nt}");
                            assert_eq!(bits(&w), bits(&w_want), "{at}: weights");
                            assert_eq!(bits(&m), bits(&m_want), "{at}: velocities");
                            assert_eq!(bad, bad_want, "{at}: bound");
                        }
                        if nt == 0 {
                            bad_plain = bad_want;
                        }
                        if !s.velocity {
                            // The same weights as the step that keeps the
                            // velocities at μ = 0; the velocities untouched.
                            let keep = MomentumStep { velocity: true, ..*s };
                            let (mut w_keep, mut m_keep) = (w_in.clone(), m_in.clone());
                            momentum_step_naive(&mut w_keep, &mut m_keep, &gp, &keep, t);
                            let bits = |x: &[f32]| x.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
                            assert_eq!(bits(&w_want), bits(&w_keep), "n={n} step {k} terms {nt}");
                            assert_eq!(bits(&m_want), bits(&m_in), "n={n} step {k} terms {nt}");
                        }
                    }
                    if n > 7 {
                        assert!(bad_plain, "n={n}: the 1e3 gradient must cross the bound");
                    }
                }
            }
        }
    }

    /// Every instruction set gives the bits of the Adam step written as
    /// scalar code from its documentation, across tail lengths, with and
    /// without decay, on moments that flush and on NaN and out-of-bound
    /// weights.
    #[test]
    fn adam_step_equals_naive_twin_on_every_isa() {
        let naive = |w: &mut [f32], m: &mut [f32], v: &mut [f32], g: &[f32], s: &AdamStep| {
            let flush = |x: f32| if x.abs() < s.tiny { 0.0 } else { x };
            let mut bad = false;
            for (((w, m), v), &g) in w.iter_mut().zip(m.iter_mut()).zip(v.iter_mut()).zip(g) {
                let sign = ((*w > 0.0) as u8 as f32) - ((*w < 0.0) as u8 as f32);
                let a = g - s.l2 * *w - s.l1 * sign + 0.0;
                *m = flush(s.beta1 * *m + (1.0 - s.beta1) * a);
                *v = flush(s.beta2 * *v + (1.0 - s.beta2) * a * a);
                *w += s.lr * (*m / s.c1) / ((*v / s.c2).sqrt() + s.eps);
                bad |= w.is_nan() || w.abs() > s.max;
            }
            bad
        };
        let base = AdamStep {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            c1: 0.19,
            c2: 0.002,
            lr: 1e-3,
            l2: 0.0,
            l1: 0.0,
            tiny: 1e-30,
            max: 10.0,
        };
        let steps = [base, AdamStep { l2: 2e-4, l1: 1e-4, lr: 3.0, max: 0.5, ..base }];
        for n in [0usize, 1, 15, 16, 17, 40, 500] {
            let w0: Vec<f32> = (0..n).map(|i| ((i * 37 % 23) as f32 - 11.0) * 0.1).collect();
            let m0: Vec<f32> =
                (0..n).map(|i| if i % 9 == 4 { 1e-31 } else { ((i * 13 % 7) as f32 - 3.0) * 0.01 }).collect();
            let v0: Vec<f32> = (0..n).map(|i| ((i * 11 % 5) as f32) * 1e-4).collect();
            let g: Vec<f32> =
                (0..n).map(|i| if i % 9 == 4 { 0.0 } else { ((i * 29 % 19) as f32 - 9.0) * 0.3 }).collect();
            for (k, s) in steps.iter().enumerate() {
                for poison in [None, Some(n / 2)] {
                    let mut gp = g.clone();
                    if let (Some(p), true) = (poison, n > 0) {
                        gp[p] = f32::NAN;
                    }
                    let (mut w1, mut m1, mut v1) = (w0.clone(), m0.clone(), v0.clone());
                    let bad_want = naive(&mut w1, &mut m1, &mut v1, &gp, s);
                    for isa in Isa::available() {
                        let (mut w, mut m, mut v) = (w0.clone(), m0.clone(), v0.clone());
                        let bad = adam_step(isa, &mut w, &mut m, &mut v, &gp, s);
                        let bits = |x: &[f32]| x.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
                        let at = format!("{isa} n={n} step {k} poison {poison:?}");
                        assert_eq!(bits(&w), bits(&w1), "{at}: weights");
                        assert_eq!(bits(&m), bits(&m1), "{at}: first moments");
                        assert_eq!(bits(&v), bits(&v1), "{at}: second moments");
                        assert_eq!(bad, bad_want, "{at}: bound");
                    }
                    if n > 17 && k == 1 {
                        assert!(bad_want, "n={n}: weights beyond 0.5 must be reported");
                    }
                }
            }
        }
    }
}
