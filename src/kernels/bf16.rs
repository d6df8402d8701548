//! Opt-in reduced-precision products: `C = A·B` with both operands rounded
//! to bf16 (8 significant bits) and products accumulated in f32, on
//! AVX512-BF16 (`vdpbf16ps`). `B` (e.g. a model's weights) is packed once
//! ([`Bf16Matrix`]); `A` is rounded row by row per call. Each element of
//! `C` is the same whatever the thread count or row split.
//!
//! Accuracy: each product carries the relative rounding error of two bf16
//! values (≤ 2⁻⁸ each), so `|C − A·B| ≲ 2⁻⁷ Σₖ |A_ik B_kj|` plus f32
//! accumulation error; [`crate::model::GaussianRbm::with_bf16_products`]
//! uses it for the Langevin step (see perf-notes.md for speed and sample
//! quality).

use crate::error::{Error, Result};
use crate::kernels::{check_len, mul_dims};
use crate::simd::bf16 as imp;
use rayon::prelude::*;

/// Whether this CPU runs the bf16 products (AVX-512F and AVX512-BF16).
pub fn bf16_available() -> bool {
    imp::available()
}

/// A `k × n` matrix rounded to bf16 and packed for [`bf16_gemm`].
#[derive(Debug, Clone, PartialEq)]
pub struct Bf16Matrix {
    k: usize,
    n: usize,
    packed: Vec<u32>,
}

impl Bf16Matrix {
    /// Packs `b` (`k × n`, row-major f32), rounding to nearest even.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] for a wrong length, [`Error::InvalidParam`]
    /// for a zero size.
    ///
    /// # Examples
    /// ```
    /// use boltzmann::kernels::bf16::{Bf16Matrix, bf16_available, bf16_gemm};
    /// let b = Bf16Matrix::pack(&[1.0, 2.0, 3.0, 4.0], 2, 2)?; // [[1, 2], [3, 4]]
    /// if bf16_available() {
    ///     let mut c = [0.0f32; 2];
    ///     bf16_gemm(1, &[1.0, 1.0], &b, &mut c)?;
    ///     assert_eq!(c, [4.0, 6.0]); // small integers are exact in bf16
    /// }
    /// # Ok::<(), boltzmann::Error>(())
    /// ```
    pub fn pack(b: &[f32], k: usize, n: usize) -> Result<Self> {
        if k == 0 || n == 0 {
            return Err(Error::InvalidParam { name: "bf16 matrix", reason: format!("{k} × {n}") });
        }
        check_len("B (k × n)", mul_dims("B", k, n)?, b.len())?;
        Ok(Bf16Matrix { k, n, packed: imp::pack_b(b, k, n) })
    }

    /// Rows `k`.
    pub fn rows(&self) -> usize {
        self.k
    }

    /// Columns `n`.
    pub fn cols(&self) -> usize {
        self.n
    }
}

/// `C = A·B` for `A` (`m × k`, f32, rounded to bf16 here) and a packed `B`,
/// into `C` (`m × n`, overwritten), rows in parallel blocks on the current
/// rayon pool.
///
/// # Errors
/// [`Error::IsaUnavailable`] (`"avx512bf16"`) when the CPU lacks
/// AVX512-BF16; [`Error::ShapeMismatch`] for wrong lengths.
pub fn bf16_gemm(m: usize, a: &[f32], b: &Bf16Matrix, c: &mut [f32]) -> Result<()> {
    if !bf16_available() {
        return Err(Error::IsaUnavailable { isa: "avx512bf16" });
    }
    let (k, n) = (b.k, b.n);
    check_len("A (m × k)", mul_dims("A", m, k)?, a.len())?;
    check_len("C (m × n)", mul_dims("C", m, n)?, c.len())?;
    if m == 0 {
        return Ok(());
    }
    #[cfg(target_arch = "x86_64")]
    {
        let kp = k.div_ceil(2);
        let block = 64usize;
        c.par_chunks_mut(block * n).zip(a.par_chunks(block * k)).for_each(|(cb, ab)| {
            let rows = ab.len() / k;
            let mut a2 = vec![0u32; rows * kp];
            // SAFETY: availability checked above; `ab` holds `rows·k`
            // floats, `a2` `rows·kp` words, `cb` `rows·n` floats, and each
            // kernel call gets at most 8 rows of each.
            unsafe {
                imp::convert_a(ab, rows, k, &mut a2);
                let mut r = 0;
                while r < rows {
                    let mr = (rows - r).min(imp::MR);
                    imp::kernel_rows(&a2[r * kp..], mr, kp, &b.packed, n, &mut cb[r * n..], n);
                    r += mr;
                }
            }
        });
        Ok(())
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (a, c, n, k);
        Err(Error::IsaUnavailable { isa: "avx512bf16" })
    }
}

/// `x` rounded to bf16 and back (round to nearest even): what the products
/// see of each operand; for references and tests.
pub fn round_to_bf16(x: f32) -> f32 {
    imp::from_bf16(imp::to_bf16(x))
}
