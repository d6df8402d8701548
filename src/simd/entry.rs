//! The per-ISA entry points, all made by one macro.
//!
//! Each module below (`scalar`, `avx2`, `avx512`) holds the same functions
//! with the same signatures: the bodies of [`super::bodies`] instantiated on
//! that instruction set's vector types, inside functions compiled with its
//! `#[target_feature]` (none for `scalar`). The dispatchers of
//! [`super`] pick a module with one `match` written once (its `dispatch!`
//! macro), after checking the CPU has the instruction set.
//!
//! Instruction-set specific code that is not a generic body (the AVX-512
//! xoshiro transposes) lives in that ISA's own file and is named here as the
//! `xoshiro` argument of the macro.

/// Instantiates every kernel body for one instruction set.
///
/// * `$feat`: the `#[target_feature]` attributes (empty for scalar);
/// * `$fv`: the f32 vector type;
/// * `$g`: vectors per panel column group of the binary products
///   (`$g · LANES` must divide `PANEL`);
/// * `$xo`: the xoshiro fill (a body instantiation or an ISA-specific one).
macro_rules! instantiate {
    ($(#[$feat:meta])* $name:ident: $fv:ty, panel_groups = $g:literal, xoshiro = $xo:path) => {
        #[allow(clippy::too_many_arguments)]
        pub(super) mod $name {
            use crate::simd::bodies::{self, Unary};

            /// `out[i] = F(x[i] + bias[i])` (bias may be null).
            ///
            /// # Safety
            /// The CPU must support the instruction set; pointers as in
            /// `bodies::unary_body`.
            $(#[$feat])*
            pub(in crate::simd) unsafe fn unary<F: Unary>(x: *const f32, bias: *const f32, out: *mut f32, n: usize) {
                // SAFETY: features enabled by the attribute; pointer contract forwarded.
                unsafe { bodies::unary_body::<$fv, F>(x, bias, out, n) }
            }

            /// Fused Bernoulli sampling in the given mode.
            ///
            /// # Safety
            /// The CPU must support the instruction set; pointers as in
            /// `bodies::bernoulli_body`.
            $(#[$feat])*
            pub(in crate::simd) unsafe fn bernoulli<const MODE: u8>(
                pre: *const f32,
                bias: *const f32,
                bits: *const u32,
                bits_stride: usize,
                probs: *mut f32,
                out: *mut f32,
                rows: usize,
                n: usize,
            ) {
                // SAFETY: as above.
                unsafe { bodies::bernoulli_body::<$fv, MODE>(pre, bias, bits, bits_stride, probs, out, rows, n) }
            }

            /// The AIS softplus difference sum.
            ///
            /// # Safety
            /// The CPU must support the instruction set; pointers as in
            /// `bodies::softplus_step_sum_body`.
            $(#[$feat])*
            pub(in crate::simd) unsafe fn softplus_step_sum(
                x: *const f32,
                bias: *const f32,
                n: usize,
                b0: f32,
                db: f32,
            ) -> f64 {
                // SAFETY: as above.
                unsafe { bodies::softplus_step_sum_body::<$fv>(x, bias, n, b0, db) }
            }

            /// One weight panel times binary rows.
            ///
            /// # Safety
            /// The CPU must support the instruction set; pointers as in
            /// `bodies::binary_panel_body`.
            $(#[$feat])*
            pub(in crate::simd) unsafe fn binary_panel(
                panel: *const f32,
                offsets: &[usize],
                indices: &[u32],
                rows: usize,
                ncols: usize,
                out: *mut f32,
                ldo: usize,
            ) {
                // SAFETY: as above.
                unsafe { bodies::binary_panel_body::<$fv, $g>(panel, offsets, indices, rows, ncols, out, ldo) }
            }

            /// The update of binary products from changed rows.
            ///
            /// # Safety
            /// The CPU must support the instruction set; pointers as in
            /// `bodies::binary_panel_delta_body`.
            $(#[$feat])*
            pub(in crate::simd) unsafe fn binary_panel_delta(
                panel: *const f32,
                on_offsets: &[usize],
                on_indices: &[u32],
                off_offsets: &[usize],
                off_indices: &[u32],
                out_rows: &[u32],
                ncols: usize,
                out: *mut f32,
                ldo: usize,
            ) {
                // SAFETY: as above.
                unsafe {
                    bodies::binary_panel_delta_body::<$fv, $g>(
                        panel, on_offsets, on_indices, off_offsets, off_indices, out_rows, ncols, out, ldo,
                    )
                }
            }

            /// The fused binary half-step on one panel.
            ///
            /// # Safety
            /// The CPU must support the instruction set; pointers as in
            /// `bodies::binary_panel_sample_body`.
            $(#[$feat])*
            pub(in crate::simd) unsafe fn binary_panel_sample(
                panel: *const f32,
                offsets: &[usize],
                indices: &[u32],
                rows: usize,
                ncols: usize,
                bias: *const f32,
                bits: *const u32,
                stride: usize,
                out: *mut u64,
                wpr: usize,
                word: usize,
                shift: u32,
            ) {
                // SAFETY: as above.
                unsafe {
                    bodies::binary_panel_sample_body::<$fv, $g>(
                        panel, offsets, indices, rows, ncols, bias, bits, stride, out, wpr, word, shift,
                    )
                }
            }

            /// One momentum-SGD step over weights.
            ///
            /// # Safety
            /// The CPU must support the instruction set; pointers as in
            /// `bodies::momentum_step_body`.
            $(#[$feat])*
            pub(in crate::simd) unsafe fn momentum_step(
                w: *mut f32,
                m: *mut f32,
                g: *const f32,
                n: usize,
                s: &bodies::MomentumStep,
                t: bodies::StepTerms,
            ) -> bool {
                // SAFETY: as above.
                unsafe { bodies::momentum_step_body::<$fv>(w, m, g, n, s, t) }
            }

            /// One Adam step over weights.
            ///
            /// # Safety
            /// The CPU must support the instruction set; pointers as in
            /// `bodies::adam_step_body`.
            $(#[$feat])*
            pub(in crate::simd) unsafe fn adam_step(
                w: *mut f32,
                m: *mut f32,
                v: *mut f32,
                g: *const f32,
                n: usize,
                s: &bodies::AdamStep,
            ) -> bool {
                // SAFETY: as above.
                unsafe { bodies::adam_step_body::<$fv>(w, m, v, g, n, s) }
            }

            /// Rows scaled into one packed panel, with column sums.
            ///
            /// # Safety
            /// The CPU must support the instruction set (the body is plain
            /// Rust, vectorized by the compiler under these features).
            $(#[$feat])*
            pub(in crate::simd) unsafe fn scale_panel(
                x: &[f32],
                ldx: usize,
                ncols: usize,
                split: usize,
                scales: [(f64, f32); 2],
                tiny: f32,
                panel: &mut [f32],
                sums: &mut [f64; crate::simd::PANEL],
                mean: Option<&mut [f64; crate::simd::PANEL]>,
            ) {
                bodies::scale_panel_body(x, ldx, ncols, split, scales, tiny, panel, sums, mean)
            }

            /// Packs floats into bits (set iff non-zero).
            ///
            /// # Safety
            /// The CPU must support the instruction set; pointers as in
            /// `bodies::pack_bits_body`.
            $(#[$feat])*
            pub(in crate::simd) unsafe fn pack_bits(x: *const f32, n: usize, out: *mut u64) {
                // SAFETY: as above.
                unsafe { bodies::pack_bits_body::<$fv>(x, n, out) }
            }

            /// Standard normals by Box–Muller, `blocks` blocks.
            ///
            /// # Safety
            /// The CPU must support the instruction set; pointers as in
            /// `bodies::normal_body`.
            $(#[$feat])*
            pub(in crate::simd) unsafe fn normal(bits: *const u32, out: *mut f32, blocks: usize) {
                // SAFETY: as above.
                unsafe { bodies::normal_body::<$fv>(bits, out, blocks) }
            }


            /// Advances every chain's xoshiro256++ state `words` steps.
            ///
            /// # Safety
            /// The CPU must support the instruction set; `out` valid for
            /// `states.len() * words` writes.
            $(#[$feat])*
            pub(in crate::simd) unsafe fn xoshiro_fill(states: &mut [[u64; 4]], words: usize, out: *mut u64) {
                // SAFETY: as above.
                unsafe { $xo(states, words, out) }
            }
        }
    };
}

instantiate!(
    scalar: crate::simd::scalar::F1, panel_groups = 2,
    xoshiro = bodies::xoshiro_fill_body::<crate::simd::scalar::U1>
);

#[cfg(target_arch = "x86_64")]
instantiate!(
    #[target_feature(enable = "avx2,fma")]
    avx2: crate::simd::avx2::F8, panel_groups = 1,
    // An in-register 4 × 4 transpose was tried and was 4% slower (perf-notes.md).
    xoshiro = bodies::xoshiro_fill_body::<crate::simd::avx2::U4>
);

#[cfg(target_arch = "x86_64")]
instantiate!(
    #[target_feature(enable = "avx512f,avx2,fma")]
    avx512: crate::simd::avx512::F16, panel_groups = 1,
    // 8 chains per vector with in-register 8 × 8 transposes (in avx512.rs).
    xoshiro = crate::simd::avx512::xoshiro_fill
);

/// Instantiates the dense tile product (`tiles::dense_tiles_body`) for one
/// instruction set with `$mr` rows × `$nv` vectors per tile. Not for the
/// scalar path, which keeps matrixmultiply.
macro_rules! instantiate_tiles {
    ($(#[$feat:meta])* $name:ident: $fv:ty, rows = $mr:literal, vectors = $nv:literal) => {
        pub(super) mod $name {
            /// The dense product over packed panels with the epilogue `OUT`.
            ///
            /// # Safety
            /// The CPU must support the instruction set; pointers as in
            /// `tiles::dense_tiles_body`.
            $(#[$feat])*
            pub(in crate::simd) unsafe fn dense_tiles<const OUT: u8>(t: &crate::simd::tiles::Tiles) {
                // SAFETY: features enabled by the attribute; pointer contract forwarded.
                unsafe { crate::simd::tiles::dense_tiles_body::<$fv, $mr, $nv, OUT>(t) }
            }
        }
    };
}

#[cfg(target_arch = "x86_64")]
instantiate_tiles!(
    #[target_feature(enable = "avx2,fma")]
    avx2_tiles: crate::simd::avx2::F8, rows = 6, vectors = 2 // 12 of the 16 ymm registers accumulate
);

#[cfg(target_arch = "x86_64")]
instantiate_tiles!(
    #[target_feature(enable = "avx512f,avx2,fma")]
    // 16 of the 32 zmm registers accumulate. 12 rows (24 accumulators) ran as
    // fast in the default build but spilled under `-C target-cpu=native`
    // (znver4), which unrolls the k loop: 96 against 125 sweeps/s.
    avx512_tiles: crate::simd::avx512::F16, rows = 8, vectors = 2
);
