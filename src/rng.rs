//! Per-chain random streams and bulk uniform generation.
//!
//! Every chain owns one xoshiro256++ generator (Blackman & Vigna), the same
//! generator as [`rand_xoshiro::Xoshiro256PlusPlus`]. Stream `c` of a seed is
//! `Xoshiro256PlusPlus::seed_from_u64(seed)` advanced by `c` calls of
//! [`jump`](rand_xoshiro::Xoshiro256PlusPlus::jump) (2¹²⁸ steps each), so
//! streams never overlap for any realistic run and chain `c`'s numbers depend
//! on the seed and `c` only, never on threads or block sizes.
//!
//! The generator is *vectorized across chains*: AVX2 advances 4 chains' states
//! per instruction, AVX-512 8, each lane computing exactly the scalar
//! xoshiro256++ sequence (tests compare every path with `rand_xoshiro`).
//!
//! # Mapping bits to uniforms
//!
//! Each 64-bit output gives two 32-bit words, low half first. A word `r`
//! becomes `u = (r >> 9)·2⁻²³ + 2⁻²⁴`: 2²³ equally spaced values, symmetric
//! in (0, 1), never 0 or 1, computed exactly. A row of `n` uniforms consumes
//! `⌈n/2⌉` outputs of its chain's stream.

use crate::error::{Error, Result};
use crate::simd::{self, Isa};
use rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

/// The raw state of one xoshiro256++ generator, `s[0..4]`.
pub type StreamState = [u64; 4];

/// The states of `n` independent streams for `seed`: stream `c` is the
/// seeded generator jumped `c` times.
///
/// # Errors
/// [`Error::TooLarge`] if `n` states cannot be allocated.
///
/// # Examples
/// ```
/// use rand_core::{Rng, SeedableRng};
/// let states = boltzmann::rng::chain_streams(7, 3).unwrap();
/// let mut g = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(7);
/// g.jump();
/// let mut s1 = boltzmann::rng::to_generator(states[1]);
/// assert_eq!(s1.next_u64(), g.next_u64());
/// ```
pub fn chain_streams(seed: u64, n: usize) -> Result<Vec<StreamState>> {
    let mut out = crate::alloc::try_vec(n, [0u64; 4], "random stream states")?;
    let mut g = Xoshiro256PlusPlus::seed_from_u64(seed);
    for s in out.iter_mut() {
        *s = from_generator(&g);
        g.jump();
    }
    Ok(out)
}

/// Streams `start .. start + n` of [`chain_streams`]`(seed, start + n)`,
/// without making the first `start` (it jumps past them: O(start) jumps of
/// 2¹²⁸ steps, ≈ 0.1 µs each). A shard of an ensemble split over processes
/// gets the same streams as in one process.
///
/// # Errors
/// As [`chain_streams`].
///
/// # Examples
/// ```
/// use boltzmann::rng;
/// let all = rng::chain_streams(7, 10).unwrap();
/// assert_eq!(rng::chain_streams_range(7, 4, 3).unwrap(), all[4..7].to_vec());
/// ```
pub fn chain_streams_range(seed: u64, start: usize, n: usize) -> Result<Vec<StreamState>> {
    let mut out = crate::alloc::try_vec(n, [0u64; 4], "random stream states")?;
    let mut g = Xoshiro256PlusPlus::seed_from_u64(seed);
    for _ in 0..start {
        g.jump();
    }
    for s in out.iter_mut() {
        *s = from_generator(&g);
        g.jump();
    }
    Ok(out)
}

/// Checks streams handed in by a caller: an all-zero xoshiro256++ state
/// never leaves zero (its chain would draw only zeros).
///
/// # Errors
/// [`Error::InvalidParam`] naming the problem.
pub fn check_streams(streams: &[StreamState]) -> Result<()> {
    match streams.contains(&[0; 4]) {
        true => Err(Error::InvalidParam { name: "streams", reason: "an all-zero xoshiro state".into() }),
        false => Ok(()),
    }
}

/// What a secondary seed is for. [`derive()`] maps a user's seed and a
/// purpose to the seed of that purpose's streams, so that the streams one
/// seed drives (chains, shuffles, recognition samples, …) are distinct and
/// every derivation is written once, here. The tags are the values earlier
/// versions used, so results stay bit-identical.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Purpose {
    /// The RBM trainer's chains (`seed + φ`, φ = 2⁶⁴/golden ratio).
    TrainerChains,
    /// The RBM trainer's shuffle of the examples.
    TrainerOrder,
    /// Chains of the label-joined RBM trainer.
    LabelledChains,
    /// Chains of the up-down fine-tuning of a DBN.
    UpDownChains,
    /// Its shuffle.
    UpDownOrder,
    /// Chains of the Gaussian–Bernoulli RBM trainer.
    GaussianChains,
    /// Shuffle of the small trainers (label-joined RBM, GB-RBM).
    SmallTrainerOrder,
    /// Shuffle of softmax regression.
    SoftmaxOrder,
    /// The EBM trainer's generator.
    EbmTraining,
    /// The denoising-score-matching trainer's generator.
    DsmTraining,
    /// Ancestral sampling of a DBN.
    DbnSampling,
    /// Ancestral sampling of a Gaussian-bottom DBN.
    GaussianDbnSampling,
    /// Recognition samples below the top of a Gaussian-bottom DBN.
    GaussianDbnRecognition,
    /// Samples of a built-in 2-D energy.
    ToySampling,
    /// Uniform chain starts of Langevin chains.
    LangevinStarts,
    /// Chains of a benchmark ensemble.
    BenchChains,
    /// Langevin chains of a benchmark.
    BenchLangevin,
    /// Stochastic binarization of data (CLI).
    Binarize,
    /// RAISE (CLI `eval`).
    Raise,
    /// The DBN's layer seeds (CLI `dbn train`).
    DbnLayers,
    /// Up-down fine-tuning seed (CLI `dbn train`).
    UpDown,
    /// The label-joined top's recognition samples (CLI `dbn train`).
    LabelledTop,
    /// Recognition samples for a DBN's bound (CLI `dbn eval`).
    BoundRecognition,
    /// The down pass of a convolutional DBN's samples (each layer below
    /// the top, its layer number added).
    ConvDbnDownPass,
    /// Recognition samples for the joint classifier (CLI `dbn classify`).
    JointRecognition,
    /// Training data drawn from a built-in 2-D set (CLI `ebm train`).
    ToyData,
    /// Chains of the samples picture (CLI `ebm train`).
    PictureChains,
    /// Fresh data for the picture's MMD (CLI `ebm train`).
    PictureData,
    /// The second fresh sample for the data-vs-data MMD (CLI `ebm train`).
    PictureReference,
    /// Visiting order of the linear SVM's coordinate descent (one stream
    /// per class).
    SvmOrder,
    /// Chains of the convolutional RBM trainer.
    ConvChains,
    /// Its shuffle of the images.
    ConvOrder,
    /// Chains sampling a convolutional RBM (CLI `crbm sample`).
    ConvSampling,
    /// Binary pooling states passed up between the layers of a
    /// convolutional DBN.
    ConvLayers,
}

/// The seed of `purpose`'s streams for a user's `seed` (see [`Purpose`]).
///
/// ```
/// use boltzmann::rng::{Purpose, derive};
/// assert_ne!(derive(1, Purpose::TrainerChains), derive(1, Purpose::TrainerOrder));
/// assert_eq!(derive(1, Purpose::TrainerOrder), derive(1, Purpose::TrainerOrder));
/// ```
pub fn derive(seed: u64, purpose: Purpose) -> u64 {
    use Purpose::*;
    match purpose {
        TrainerChains => seed.wrapping_add(0x9E37_79B9_7F4A_7C15),
        TrainerOrder => seed ^ 0x0DDE_5EED,
        LabelledChains => seed.wrapping_add(0x1AB),
        UpDownChains => seed.wrapping_add(0x0D0E),
        UpDownOrder => seed ^ 0x005E_EDD0,
        GaussianChains => seed.wrapping_add(0x6B),
        SmallTrainerOrder => seed ^ 0x5417,
        SoftmaxOrder => seed ^ 0x50F7,
        EbmTraining => seed ^ 0xEB3,
        DsmTraining => seed ^ 0xD5A,
        DbnSampling => seed ^ 0xD0B5_A3C1_E5F7_0911,
        GaussianDbnSampling => seed ^ 0x6A55_1A4D,
        GaussianDbnRecognition => seed ^ 0x9E37_79B9_7F4A_7C15,
        ToySampling => seed ^ 0x6A55,
        LangevinStarts => seed ^ 0x5EED_0F57_A27E,
        BenchChains => seed ^ 0x5EED,
        BenchLangevin => seed ^ 0x1A,
        Binarize => seed ^ 0xB1,
        Raise => seed ^ 0x5241_4953,
        DbnLayers => seed ^ 0xDB,
        UpDown => seed ^ 0x0D,
        LabelledTop => seed ^ 0x1AB,
        BoundRecognition => seed ^ 0xBA5E,
        ConvDbnDownPass => seed ^ 0xC0DB_D0A1,
        JointRecognition => seed ^ 0x10B,
        ToyData => seed ^ 0xDA7A,
        PictureChains => seed ^ 0x5A,
        PictureData => seed ^ 0xF2E5,
        PictureReference => seed ^ 0x0DD,
        ConvChains => seed ^ 0xC0_4C4A,
        ConvOrder => seed ^ 0xC0_0D3E,
        ConvSampling => seed ^ 0xC0_5A3F,
        ConvLayers => seed ^ 0xC0_1A7E,
        SvmOrder => seed ^ 0x5_7A0D,
    }
}

/// The raw state of a `rand_xoshiro` generator.
pub fn from_generator(g: &Xoshiro256PlusPlus) -> StreamState {
    let b = g.state();
    let w = |i: usize| u64::from_le_bytes(b[8 * i..8 * i + 8].try_into().expect("8 bytes"));
    [w(0), w(1), w(2), w(3)]
}

/// A `rand_xoshiro` generator continuing a raw state exactly.
pub fn to_generator(s: StreamState) -> Xoshiro256PlusPlus {
    let mut b = [0u8; 32];
    for (i, w) in s.iter().enumerate() {
        b[8 * i..8 * i + 8].copy_from_slice(&w.to_le_bytes());
    }
    Xoshiro256PlusPlus::from_seed(b)
}

/// Writes `words` raw 64-bit outputs of each stream to `out` (row-major,
/// `states.len() × words`) and advances the streams, on the active ISA.
///
/// # Errors
/// [`Error::ShapeMismatch`] if `out.len() != states.len() * words`.
pub fn fill_u64(states: &mut [StreamState], words: usize, out: &mut [u64]) -> Result<()> {
    fill_u64_on(simd::active_isa(), states, words, out)
}

/// [`fill_u64`] on a chosen ISA.
///
/// # Errors
/// As [`fill_u64`], plus [`Error::IsaUnavailable`].
pub fn fill_u64_on(isa: Isa, states: &mut [StreamState], words: usize, out: &mut [u64]) -> Result<()> {
    isa.check()?;
    let need = states
        .len()
        .checked_mul(words)
        .ok_or(Error::InvalidParam { name: "words", reason: "size overflows usize".into() })?;
    if out.len() != need {
        return Err(Error::ShapeMismatch { what: "output buffer", expected: need, got: out.len() });
    }
    simd::xoshiro_fill(isa, states, words, out);
    Ok(())
}

/// Bulk uniform generation: row `c` of `out` (`states.len()` rows of `n`)
/// receives the next `n` uniforms in (0, 1) of stream `c` (see the module
/// docs for the mapping; `⌈n/2⌉` outputs are consumed per stream).
///
/// # Errors
/// [`Error::ShapeMismatch`] if `out.len() != states.len() * n`.
///
/// # Examples
/// ```
/// let mut states = boltzmann::rng::chain_streams(1, 4).unwrap();
/// let mut u = vec![0.0f32; 4 * 5];
/// boltzmann::rng::fill_uniform(&mut states, 5, &mut u).unwrap();
/// assert!(u.iter().all(|&x| x > 0.0 && x < 1.0));
/// ```
pub fn fill_uniform(states: &mut [StreamState], n: usize, out: &mut [f32]) -> Result<()> {
    let need = states
        .len()
        .checked_mul(n)
        .ok_or(Error::InvalidParam { name: "n", reason: "size overflows usize".into() })?;
    if out.len() != need {
        return Err(Error::ShapeMismatch { what: "output buffer", expected: need, got: out.len() });
    }
    let words = n.div_ceil(2);
    let mut raw = crate::alloc::try_vec(states.len() * words, 0u64, "uniform scratch")?;
    simd::xoshiro_fill(simd::active_isa(), states, words, &mut raw);
    let bits: &[u32] = bytemuck::cast_slice(&raw);
    for (row, src) in out.chunks_exact_mut(n.max(1)).zip(bits.chunks_exact(2 * words.max(1))) {
        for (o, &r) in row.iter_mut().zip(src) {
            *o = uniform_from_bits(r);
        }
    }
    Ok(())
}

/// The uniform in (0, 1) that a 32-bit word maps to (see the module docs).
#[inline]
pub fn uniform_from_bits(r: u32) -> f32 {
    f32::from_bits((r >> 9) | 0x3F80_0000) - (1.0 - 1.0 / 16_777_216.0)
}

/// Bulk standard-normal generation: row `c` of `out` (`states.len()` rows
/// of `n`) receives `n` draws of N(0, 1) from stream `c`, by Box–Muller
/// vectorized across each row (AVX-512 / AVX2 / scalar, the same pairing of
/// words on every ISA). A row consumes `16·⌈n/32⌉` outputs of its stream:
/// per block of 32 normals, 16 outputs give 16 radius and 16 angle
/// uniforms (module docs' mapping), so chain `c`'s normals depend only on
/// the seed and `c`. Values lie in [−5.77, 5.77] (the uniforms' grid stops
/// at 2⁻²⁴): tails beyond 5.77σ (probability 8e-9) are cut.
///
/// # Errors
/// [`Error::ShapeMismatch`] if `out.len() != states.len() * n`.
///
/// # Examples
/// ```
/// let mut states = boltzmann::rng::chain_streams(1, 3).unwrap();
/// let mut z = vec![0.0f32; 3 * 1000];
/// boltzmann::rng::fill_normal(&mut states, 1000, &mut z).unwrap();
/// let mean = z.iter().sum::<f32>() / z.len() as f32;
/// assert!(mean.abs() < 0.1);
/// ```
pub fn fill_normal(states: &mut [StreamState], n: usize, out: &mut [f32]) -> Result<()> {
    fill_normal_on(simd::active_isa(), states, n, out)
}

/// [`fill_normal`] on a chosen ISA.
///
/// # Errors
/// As [`fill_normal`], plus [`Error::IsaUnavailable`].
pub fn fill_normal_on(isa: Isa, states: &mut [StreamState], n: usize, out: &mut [f32]) -> Result<()> {
    isa.check()?;
    let need = states
        .len()
        .checked_mul(n)
        .ok_or(Error::InvalidParam { name: "n", reason: "size overflows usize".into() })?;
    if out.len() != need {
        return Err(Error::ShapeMismatch { what: "output buffer", expected: need, got: out.len() });
    }
    if n == 0 {
        return Ok(());
    }
    const BLOCK: usize = simd::NORMAL_BLOCK;
    let padded = n.div_ceil(BLOCK) * BLOCK;
    let words = padded / 2;
    // Rows in groups so the scratch stays in cache.
    let group = (16_384 / padded).clamp(1, 64);
    let mut raw = crate::alloc::try_vec(group * words, 0u64, "normal scratch")?;
    let mut z = crate::alloc::try_vec(padded, 0.0f32, "normal scratch")?;
    for (st, rows) in states.chunks_mut(group).zip(out.chunks_mut(group * n)) {
        let raw = &mut raw[..st.len() * words];
        simd::xoshiro_fill(isa, st, words, raw);
        let bits: &[u32] = bytemuck::cast_slice(raw);
        for (row, src) in rows.chunks_exact_mut(n).zip(bits.chunks_exact(padded)) {
            if n == padded {
                simd::normals(isa, src, row);
            } else {
                simd::normals(isa, src, &mut z);
                row.copy_from_slice(&z[..n]);
            }
        }
    }
    Ok(())
}
