//! The C ABI of `boltzmann`: models, chain ensembles and trainers behind
//! opaque handles, every function returning a [`BzStatus`].
//!
//! # Contract (also in the generated header, `include/boltzmann.h`)
//!
//! * **Handles** ([`BzRbm`], [`BzChains`], [`BzTrainer`]) are 64-bit ids
//!   into a registry, never reused: a handle that was freed, never created,
//!   or of another kind gives `BZ_STATUS_INVALID_HANDLE`, never a crash.
//!   Every handle a function creates must be released with its `*_free`
//!   function; freeing the zero handle is a no-op. Handles may be used from
//!   several threads; calls on one chain ensemble or trainer are serialized.
//! * **Buffers** are always the caller's: the library reads inputs and
//!   writes outputs during the call and keeps no pointer afterwards. Sizes
//!   are given in elements; an output buffer of the wrong length is an
//!   error (`BZ_STATUS_INVALID_ARGUMENT`), nothing is written then.
//! * **Errors**: any status but `BZ_STATUS_OK` leaves a message for the
//!   calling thread, read with [`bz_last_error`] (valid until this thread's
//!   next call). A Rust panic never crosses the boundary: it is caught and
//!   reported as `BZ_STATUS_PANIC`; the object it happened in then refuses
//!   further use (`BZ_STATUS_POISONED`).
//! * **Threads**: computations run on all cores, or on the pool set by
//!   [`bz_set_threads`]; the results are the same bits for any thread count.

#![allow(clippy::missing_safety_doc)] // every function's safety contract is in its doc comment and the module docs

use boltzmann::data::Dataset;
use boltzmann::io;
use boltzmann::sampler::Chains;
use boltzmann::train::{Algorithm, Centering, Optimizer, Schedule, TrainConfig, Trainer};
use boltzmann::{Error, Rbm};
use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::{CStr, CString, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex, OnceLock, RwLock};

/// What a call did.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BzStatus {
    /// Success.
    Ok = 0,
    /// A value out of range, sizes that do not match, non-binary or
    /// non-finite data, a bad configuration.
    InvalidArgument = 1,
    /// A required pointer was NULL (or misaligned).
    NullPointer = 2,
    /// A handle that is not live (freed, never created, or of another kind).
    InvalidHandle = 3,
    /// A file could not be read or written, or is not a valid model file.
    Io = 4,
    /// Training diverged (non-finite or too large parameters).
    Diverged = 5,
    /// A panic inside the library, caught at the boundary (a bug: please
    /// report it with the message).
    Panic = 6,
    /// The object was left in an unknown state by an earlier panic.
    Poisoned = 7,
}

/// A model (Bernoulli–Bernoulli RBM). Zero is the null handle.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BzRbm {
    /// Registry id.
    pub id: u64,
}

/// A chain ensemble. Zero is the null handle.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BzChains {
    /// Registry id.
    pub id: u64,
}

/// A CD-k / PCD trainer. Zero is the null handle.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BzTrainer {
    /// Registry id.
    pub id: u64,
}

/// Training settings ([`bz_train_config_default`] fills the library's
/// `boltzmann train` defaults).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BzTrainConfig {
    /// Hidden units (≥ 1).
    pub n_hidden: usize,
    /// 0: CD-k; 1: PCD.
    pub persistent: i32,
    /// Gibbs sweeps per update (≥ 1).
    pub k: usize,
    /// Persistent chains (PCD).
    pub n_chains: usize,
    /// Learning rate (> 0).
    pub learning_rate: f32,
    /// Learning rate of the last epoch (linear decay); negative: constant.
    pub final_learning_rate: f32,
    /// SGD momentum in [0, 1).
    pub momentum: f32,
    /// L2 weight decay (≥ 0).
    pub l2: f32,
    /// Centering rate of the hidden offsets in (0, 1]; 0: no centering.
    pub centering: f32,
    /// Examples per mini-batch (≥ 1).
    pub batch_size: usize,
    /// Epochs (≥ 1).
    pub epochs: usize,
    /// Non-zero: data rows are probabilities in [0, 1]; zero: binary.
    pub probability_data: i32,
    /// Seed of the weights, shuffles and chains.
    pub seed: u64,
}

// ------------------------------------------------------------- errors

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

struct Fail {
    status: BzStatus,
    message: String,
}

fn fail(status: BzStatus, message: impl Into<String>) -> Fail {
    Fail { status, message: message.into() }
}

impl From<Error> for Fail {
    fn from(e: Error) -> Fail {
        let status = match e {
            Error::Os { .. } | Error::Io { .. } => BzStatus::Io,
            Error::Diverged { .. } => BzStatus::Diverged,
            _ => BzStatus::InvalidArgument,
        };
        fail(status, e.to_string())
    }
}

fn set_error(msg: &str) {
    let c = CString::new(msg.replace('\0', " ")).unwrap_or_default();
    LAST_ERROR.with(|e| *e.borrow_mut() = c);
}

/// Runs `f`, turning its failure or panic into a status and the thread's
/// message.
fn guard(f: impl FnOnce() -> Result<(), Fail>) -> BzStatus {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => {
            set_error("");
            BzStatus::Ok
        }
        Ok(Err(e)) => {
            set_error(&e.message);
            e.status
        }
        Err(p) => {
            let what = p
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            set_error(&format!("internal error (panic): {what}"));
            BzStatus::Panic
        }
    }
}

/// The message of the calling thread's last failed call ("" after a
/// success). The string is owned by the library and valid until this
/// thread's next call into it.
#[unsafe(no_mangle)]
pub extern "C" fn bz_last_error() -> *const c_char {
    LAST_ERROR.with(|e| e.borrow().as_ptr())
}

/// The library version, a static string.
#[unsafe(no_mangle)]
pub extern "C" fn bz_version() -> *const c_char {
    c"0.1.0".as_ptr()
}

// ----------------------------------------------------------- registry

enum Obj {
    Rbm(Arc<Rbm>),
    Chains(Arc<Mutex<Chains>>),
    Trainer(Arc<Mutex<Trainer>>),
}

#[derive(Default)]
struct Registry {
    last: u64,
    live: HashMap<u64, Obj>,
}

fn registry() -> &'static Mutex<Registry> {
    static R: OnceLock<Mutex<Registry>> = OnceLock::new();
    R.get_or_init(Default::default)
}

fn with_registry<T>(f: impl FnOnce(&mut Registry) -> T) -> T {
    // The registry is only touched by code that cannot panic while holding
    // it; recover it even if poisoned.
    let mut r = registry().lock().unwrap_or_else(|p| p.into_inner());
    f(&mut r)
}

fn insert(o: Obj) -> u64 {
    with_registry(|r| {
        r.last += 1;
        r.live.insert(r.last, o);
        r.last
    })
}

fn dead(kind: &str, id: u64) -> Fail {
    fail(
        BzStatus::InvalidHandle,
        format!("{kind} handle {id} is not live (freed, never created, or another kind)"),
    )
}

fn get_rbm(h: BzRbm) -> Result<Arc<Rbm>, Fail> {
    with_registry(|r| match r.live.get(&h.id) {
        Some(Obj::Rbm(m)) => Ok(m.clone()),
        _ => Err(dead("model", h.id)),
    })
}

fn get_chains(h: BzChains) -> Result<Arc<Mutex<Chains>>, Fail> {
    with_registry(|r| match r.live.get(&h.id) {
        Some(Obj::Chains(c)) => Ok(c.clone()),
        _ => Err(dead("chains", h.id)),
    })
}

fn get_trainer(h: BzTrainer) -> Result<Arc<Mutex<Trainer>>, Fail> {
    with_registry(|r| match r.live.get(&h.id) {
        Some(Obj::Trainer(t)) => Ok(t.clone()),
        _ => Err(dead("trainer", h.id)),
    })
}

fn lock<T>(m: &Mutex<T>) -> Result<std::sync::MutexGuard<'_, T>, Fail> {
    m.lock()
        .map_err(|_| fail(BzStatus::Poisoned, "the object was left in an unknown state by an earlier panic"))
}

fn free(id: u64, kind: &str, is: fn(&Obj) -> bool) -> BzStatus {
    guard(|| {
        if id == 0 {
            return Ok(());
        }
        with_registry(|r| match r.live.get(&id) {
            Some(o) if is(o) => {
                r.live.remove(&id);
                Ok(())
            }
            _ => Err(dead(kind, id)),
        })
    })
}

// ------------------------------------------------------------ threads

fn pool() -> &'static RwLock<Option<Arc<rayon::ThreadPool>>> {
    static P: OnceLock<RwLock<Option<Arc<rayon::ThreadPool>>>> = OnceLock::new();
    P.get_or_init(Default::default)
}

/// Runs `f` inside the pool of [`bz_set_threads`] (by default one thread
/// per core, built on first use): the call itself runs on a worker thread,
/// so parallel regions start without a hand-off from the caller's thread
/// (measured: 8 % of a sweep of 10,000 chains when run from outside).
fn run<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    let current = pool().read().unwrap_or_else(|p| p.into_inner()).clone();
    let p = match current {
        Some(p) => p,
        None => {
            let mut w = pool().write().unwrap_or_else(|p| p.into_inner());
            match &*w {
                Some(p) => p.clone(),
                None => match rayon::ThreadPoolBuilder::new().build() {
                    Ok(p) => w.insert(Arc::new(p)).clone(),
                    // No threads could be started: run on the caller's thread.
                    Err(_) => return f(),
                },
            }
        }
    };
    p.install(f)
}

/// Use `n` threads for every later computation (0: one per core again).
#[unsafe(no_mangle)]
pub extern "C" fn bz_set_threads(n: usize) -> BzStatus {
    guard(|| {
        if n > 4096 {
            return Err(fail(BzStatus::InvalidArgument, format!("threads: {n} is more than 4096")));
        }
        let new =
            if n == 0 {
                None
            } else {
                Some(Arc::new(rayon::ThreadPoolBuilder::new().num_threads(n).build().map_err(|e| {
                    fail(BzStatus::InvalidArgument, format!("cannot start {n} threads: {e}"))
                })?))
            };
        *pool().write().unwrap_or_else(|p| p.into_inner()) = new;
        Ok(())
    })
}

// ------------------------------------------------------- raw pointers

fn elems(rows: usize, cols: usize, what: &str) -> Result<usize, Fail> {
    rows.checked_mul(cols)
        .filter(|&n| n <= isize::MAX as usize / 8)
        .ok_or_else(|| fail(BzStatus::InvalidArgument, format!("{what}: {rows} × {cols} elements overflow")))
}

fn check_ptr<T>(p: *const T, what: &str) -> Result<(), Fail> {
    if p.is_null() {
        return Err(fail(BzStatus::NullPointer, format!("{what} is NULL")));
    }
    if !(p as usize).is_multiple_of(std::mem::align_of::<T>()) {
        return Err(fail(BzStatus::NullPointer, format!("{what} is not aligned for its type")));
    }
    Ok(())
}

/// # Safety
/// `p` must point to `len` readable elements (checked: not NULL, aligned).
unsafe fn input<'a, T>(p: *const T, len: usize, what: &str) -> Result<&'a [T], Fail> {
    check_ptr(p, what)?;
    // SAFETY: not NULL and aligned (checked); the caller guarantees `len`
    // readable elements for the duration of the call.
    Ok(unsafe { std::slice::from_raw_parts(p, len) })
}

/// # Safety
/// `p` must point to `len` writable elements (checked: not NULL, aligned).
unsafe fn output<'a, T>(p: *mut T, len: usize, what: &str) -> Result<&'a mut [T], Fail> {
    check_ptr(p as *const T, what)?;
    // SAFETY: as in `input`, for writable memory not aliased during the call.
    Ok(unsafe { std::slice::from_raw_parts_mut(p, len) })
}

/// # Safety
/// `p` must be NULL or point to one writable `T`.
unsafe fn out_one<T>(p: *mut T, value: T, what: &str) -> Result<(), Fail> {
    check_ptr(p as *const T, what)?;
    // SAFETY: not NULL and aligned (checked); the caller guarantees it is writable.
    unsafe { p.write(value) };
    Ok(())
}

/// # Safety
/// `p` must be NULL or a NUL-terminated string.
unsafe fn path<'a>(p: *const c_char) -> Result<&'a str, Fail> {
    check_ptr(p, "path")?;
    // SAFETY: not NULL (checked); the caller guarantees a NUL-terminated string.
    unsafe { CStr::from_ptr(p) }
        .to_str()
        .map_err(|_| fail(BzStatus::InvalidArgument, "path is not valid UTF-8"))
}

fn same_len(what: &str, got: usize, want: usize) -> Result<(), Fail> {
    if got != want {
        return Err(fail(BzStatus::InvalidArgument, format!("{what} has {got} elements, expected {want}")));
    }
    Ok(())
}

// -------------------------------------------------------------- models

/// A model from its parameters: `weights` is `n_visible × n_hidden`
/// row-major, then the visible and hidden biases. The arrays are copied.
///
/// # Safety
/// The arrays must hold the stated numbers of floats; `out` must be
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bz_rbm_new(
    n_visible: usize,
    n_hidden: usize,
    weights: *const f32,
    visible_bias: *const f32,
    hidden_bias: *const f32,
    out: *mut BzRbm,
) -> BzStatus {
    guard(|| {
        let nw = elems(n_visible, n_hidden, "weights")?;
        // SAFETY: the caller's contract for each array.
        let (w, b, c) = unsafe {
            (
                input(weights, nw, "weights")?,
                input(visible_bias, n_visible, "visible_bias")?,
                input(hidden_bias, n_hidden, "hidden_bias")?,
            )
        };
        check_ptr(out as *const BzRbm, "out")?;
        let rbm = Rbm::new(n_visible, n_hidden, w.to_vec(), b.to_vec(), c.to_vec())?;
        // SAFETY: checked above.
        unsafe { out_one(out, BzRbm { id: insert(Obj::Rbm(Arc::new(rbm))) }, "out") }
    })
}

/// A model with weights N(0, std²) and zero biases, from `seed`.
///
/// # Safety
/// `out` must be writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bz_rbm_random(
    n_visible: usize,
    n_hidden: usize,
    std: f32,
    seed: u64,
    out: *mut BzRbm,
) -> BzStatus {
    guard(|| {
        check_ptr(out as *const BzRbm, "out")?;
        let rbm = Rbm::random(n_visible, n_hidden, std, 0.0, seed)?;
        // SAFETY: checked above.
        unsafe { out_one(out, BzRbm { id: insert(Obj::Rbm(Arc::new(rbm))) }, "out") }
    })
}

/// Reads a model file (`boltzmann train`'s `model.safetensors`).
///
/// # Safety
/// `path` must be a NUL-terminated string; `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bz_rbm_load(path_: *const c_char, out: *mut BzRbm) -> BzStatus {
    guard(|| {
        // SAFETY: the caller's contract.
        let p = unsafe { path(path_)? };
        check_ptr(out as *const BzRbm, "out")?;
        let rbm = io::load_rbm(p)?;
        // SAFETY: checked above.
        unsafe { out_one(out, BzRbm { id: insert(Obj::Rbm(Arc::new(rbm))) }, "out") }
    })
}

/// Writes the model file atomically (the previous file stays whole until
/// the new one is complete).
///
/// # Safety
/// `path` must be a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bz_rbm_save(rbm: BzRbm, path_: *const c_char) -> BzStatus {
    guard(|| {
        // SAFETY: the caller's contract.
        let p = unsafe { path(path_)? };
        let m = get_rbm(rbm)?;
        Ok(io::save_rbm(&m, p)?)
    })
}

/// The model's numbers of visible and hidden units.
///
/// # Safety
/// `n_visible` and `n_hidden` must be writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bz_rbm_sizes(rbm: BzRbm, n_visible: *mut usize, n_hidden: *mut usize) -> BzStatus {
    guard(|| {
        let m = get_rbm(rbm)?;
        check_ptr(n_hidden as *const usize, "n_hidden")?;
        // SAFETY: the caller's contract.
        unsafe {
            out_one(n_visible, m.n_visible(), "n_visible")?;
            out_one(n_hidden, m.n_hidden(), "n_hidden")
        }
    })
}

/// Copies the weights (`n_visible × n_hidden`, row-major) into `out`, which
/// must hold exactly `len` = n_visible·n_hidden floats.
///
/// # Safety
/// `out` must hold `len` writable floats.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bz_rbm_weights(rbm: BzRbm, out: *mut f32, len: usize) -> BzStatus {
    guard(|| {
        let m = get_rbm(rbm)?;
        same_len("out", len, m.weights().len())?;
        // SAFETY: the caller's contract.
        unsafe { output(out, len, "out")? }.copy_from_slice(m.weights());
        Ok(())
    })
}

/// `p(h = 1 | v)` of `rows` visible rows (`rows × n_visible`) into `out`
/// (`rows × n_hidden`).
///
/// # Safety
/// `v` and `out` must hold the stated numbers of floats.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bz_rbm_hidden_probs(
    rbm: BzRbm,
    v: *const f32,
    rows: usize,
    out: *mut f32,
) -> BzStatus {
    guard(|| {
        let m = get_rbm(rbm)?;
        let (nv, nh) = (elems(rows, m.n_visible(), "v")?, elems(rows, m.n_hidden(), "out")?);
        // SAFETY: the caller's contract.
        let (v, o) = unsafe { (input(v, nv, "v")?, output(out, nh, "out")?) };
        Ok(run(|| m.hidden_probs(v, o))?)
    })
}

/// Free energies `F(v)` of `rows` visible rows into `out` (`rows` doubles).
///
/// # Safety
/// `v` and `out` must hold the stated numbers of elements.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bz_rbm_free_energy(
    rbm: BzRbm,
    v: *const f32,
    rows: usize,
    out: *mut f64,
) -> BzStatus {
    guard(|| {
        let m = get_rbm(rbm)?;
        let nv = elems(rows, m.n_visible(), "v")?;
        // SAFETY: the caller's contract.
        let (v, o) = unsafe { (input(v, nv, "v")?, output(out, rows, "out")?) };
        Ok(run(|| m.free_energy_batch(v, o))?)
    })
}

/// Releases a model (chains and trainers made from it do not depend on it).
#[unsafe(no_mangle)]
pub extern "C" fn bz_rbm_free(rbm: BzRbm) -> BzStatus {
    free(rbm.id, "model", |o| matches!(o, Obj::Rbm(_)))
}

// -------------------------------------------------------------- chains

/// `n_chains` chains for models of `rbm`'s size, visible states uniformly
/// random, streams from `seed`.
///
/// # Safety
/// `out` must be writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bz_chains_new(
    rbm: BzRbm,
    n_chains: usize,
    seed: u64,
    out: *mut BzChains,
) -> BzStatus {
    guard(|| {
        let m = get_rbm(rbm)?;
        check_ptr(out as *const BzChains, "out")?;
        let c = run(|| Chains::new(&m, n_chains, seed))?;
        // SAFETY: checked above.
        unsafe { out_one(out, BzChains { id: insert(Obj::Chains(Arc::new(Mutex::new(c)))) }, "out") }
    })
}

/// `k` block-Gibbs sweeps (`h ~ p(h|v)`, `v ~ p(v|h)`) of every chain under
/// `rbm`.
#[unsafe(no_mangle)]
pub extern "C" fn bz_chains_sweep(chains: BzChains, rbm: BzRbm, k: usize) -> BzStatus {
    guard(|| {
        let (c, m) = (get_chains(chains)?, get_rbm(rbm)?);
        let mut c = lock(&c)?;
        let c: &mut Chains = &mut c;
        Ok(run(|| c.sweep(&m, k))?)
    })
}

/// [`bz_chains_sweep`] with each chain's products kept between sweeps (and
/// calls, while `rbm`'s weights are unchanged) and updated by the units that
/// changed: the same transition up to the rounding of the products, faster
/// on trained models (`Chains::sweep_incremental`).
#[unsafe(no_mangle)]
pub extern "C" fn bz_chains_sweep_incremental(chains: BzChains, rbm: BzRbm, k: usize) -> BzStatus {
    guard(|| {
        let (c, m) = (get_chains(chains)?, get_rbm(rbm)?);
        let mut c = lock(&c)?;
        let c: &mut Chains = &mut c;
        Ok(run(|| c.sweep_incremental(&m, k))?)
    })
}

/// The number of chains and of visible and hidden units.
///
/// # Safety
/// The three pointers must be writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bz_chains_sizes(
    chains: BzChains,
    n_chains: *mut usize,
    n_visible: *mut usize,
    n_hidden: *mut usize,
) -> BzStatus {
    guard(|| {
        let c = get_chains(chains)?;
        let c = lock(&c)?;
        check_ptr(n_visible as *const usize, "n_visible")?;
        check_ptr(n_hidden as *const usize, "n_hidden")?;
        // SAFETY: the caller's contract.
        unsafe {
            out_one(n_chains, c.batch(), "n_chains")?;
            out_one(n_visible, c.n_visible(), "n_visible")?;
            out_one(n_hidden, c.n_hidden(), "n_hidden")
        }
    })
}

/// Copies the visible states (`n_chains × n_visible`, 0.0 or 1.0) into
/// `out`, which must hold exactly `len` floats.
///
/// # Safety
/// `out` must hold `len` writable floats.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bz_chains_visible(chains: BzChains, out: *mut f32, len: usize) -> BzStatus {
    guard(|| {
        let c = get_chains(chains)?;
        let c = lock(&c)?;
        same_len("out", len, c.visible().len())?;
        // SAFETY: the caller's contract.
        unsafe { output(out, len, "out")? }.copy_from_slice(c.visible());
        Ok(())
    })
}

/// Copies the hidden states (`n_chains × n_hidden`) into `out` (`len`
/// floats).
///
/// # Safety
/// `out` must hold `len` writable floats.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bz_chains_hidden(chains: BzChains, out: *mut f32, len: usize) -> BzStatus {
    guard(|| {
        let c = get_chains(chains)?;
        let c = lock(&c)?;
        same_len("out", len, c.hidden().len())?;
        // SAFETY: the caller's contract.
        unsafe { output(out, len, "out")? }.copy_from_slice(c.hidden());
        Ok(())
    })
}

/// Releases a chain ensemble.
#[unsafe(no_mangle)]
pub extern "C" fn bz_chains_free(chains: BzChains) -> BzStatus {
    free(chains.id, "chains", |o| matches!(o, Obj::Chains(_)))
}

// ------------------------------------------------------------ training

/// Fills `out` with the defaults of `boltzmann train`: 500 hidden units,
/// PCD-1 with 200 chains, learning rate 0.05 decaying linearly to 0.0005,
/// momentum 0.5, L2 2e-4, no centering, batch 100, 100 epochs, binary data,
/// seed 0.
///
/// # Safety
/// `out` must be writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bz_train_config_default(out: *mut BzTrainConfig) -> BzStatus {
    guard(|| {
        let c = BzTrainConfig {
            n_hidden: 500,
            persistent: 1,
            k: 1,
            n_chains: 200,
            learning_rate: 0.05,
            final_learning_rate: 5e-4,
            momentum: 0.5,
            l2: 2e-4,
            centering: 0.0,
            batch_size: 100,
            epochs: 100,
            probability_data: 0,
            seed: 0,
        };
        // SAFETY: the caller's contract.
        unsafe { out_one(out, c, "out") }
    })
}

fn train_config(c: &BzTrainConfig) -> Result<TrainConfig, Fail> {
    let bad = |m: String| fail(BzStatus::InvalidArgument, m);
    let algorithm = match c.persistent {
        0 => Algorithm::Cd { k: c.k },
        1 => Algorithm::Pcd { k: c.k, chains: c.n_chains },
        p => return Err(bad(format!("persistent must be 0 (CD) or 1 (PCD), got {p}"))),
    };
    if !(c.centering >= 0.0 && c.centering <= 1.0) {
        return Err(bad(format!("centering must be 0 (off) or in (0, 1], got {}", c.centering)));
    }
    if c.final_learning_rate.is_nan() {
        return Err(bad("final_learning_rate is NaN".into()));
    }
    let config = TrainConfig::default()
        .n_hidden(c.n_hidden)
        .algorithm(algorithm)
        .learning_rate(c.learning_rate)
        .schedule(if c.final_learning_rate < 0.0 {
            Schedule::Constant
        } else {
            Schedule::Linear { final_lr: c.final_learning_rate }
        })
        .optimizer(Optimizer::Sgd { initial: c.momentum, final_: c.momentum, switch_epoch: 0 })
        .l2(c.l2)
        .batch_size(c.batch_size)
        .epochs(c.epochs)
        .centering((c.centering > 0.0).then_some(Centering { hidden_rate: c.centering }))
        .probability_data(c.probability_data != 0)
        .seed(c.seed);
    config.validate()?;
    Ok(config)
}

/// # Safety
/// `data` must hold `rows × cols` floats.
unsafe fn dataset(data: *const f32, rows: usize, cols: usize) -> Result<Dataset, Fail> {
    let n = elems(rows, cols, "data")?;
    // SAFETY: the caller's contract.
    let x = unsafe { input(data, n, "data")? };
    Ok(Dataset::new(x.to_vec(), cols)?)
}

/// A trainer on `rows × cols` data (binary, or probabilities with
/// `config->probability_data`), with random initial weights. The data is
/// read during the call only; pass it again to each epoch.
///
/// # Safety
/// `data` must hold `rows × cols` floats, `config` be readable, `out`
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bz_trainer_new(
    data: *const f32,
    rows: usize,
    cols: usize,
    config: *const BzTrainConfig,
    out: *mut BzTrainer,
) -> BzStatus {
    guard(|| {
        // SAFETY: the caller's contract.
        let cfg = unsafe { input(config, 1, "config")? }[0];
        let cfg = train_config(&cfg)?;
        check_ptr(out as *const BzTrainer, "out")?;
        // SAFETY: the caller's contract.
        let d = unsafe { dataset(data, rows, cols)? };
        let t = run(|| Trainer::new(cfg, &d))?;
        // SAFETY: checked above.
        unsafe { out_one(out, BzTrainer { id: insert(Obj::Trainer(Arc::new(Mutex::new(t)))) }, "out") }
    })
}

/// One epoch over `rows × cols` data (shuffled); writes its wall time in
/// seconds to `seconds` unless it is NULL. After `BZ_STATUS_DIVERGED` the
/// trainer must not be used further.
///
/// # Safety
/// `data` must hold `rows × cols` floats; `seconds` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bz_trainer_run_epoch(
    trainer: BzTrainer,
    data: *const f32,
    rows: usize,
    cols: usize,
    seconds: *mut f64,
) -> BzStatus {
    guard(|| {
        let t = get_trainer(trainer)?;
        // SAFETY: the caller's contract.
        let d = unsafe { dataset(data, rows, cols)? };
        let mut t = lock(&t)?;
        let t: &mut Trainer = &mut t;
        let r = run(|| t.run_epoch(&d, |_, _| {}))?;
        if !seconds.is_null() {
            // SAFETY: not NULL; the caller's contract.
            unsafe { out_one(seconds, r.seconds, "seconds")? };
        }
        Ok(())
    })
}

/// Epochs completed and whether all configured epochs are done (1 or 0).
///
/// # Safety
/// Both pointers must be writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bz_trainer_progress(
    trainer: BzTrainer,
    epoch: *mut usize,
    done: *mut i32,
) -> BzStatus {
    guard(|| {
        let t = get_trainer(trainer)?;
        let t = lock(&t)?;
        check_ptr(done as *const i32, "done")?;
        // SAFETY: the caller's contract.
        unsafe {
            out_one(epoch, t.epoch(), "epoch")?;
            out_one(done, t.is_done() as i32, "done")
        }
    })
}

/// A new model handle holding the trainer's current model.
///
/// # Safety
/// `out` must be writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bz_trainer_model(trainer: BzTrainer, out: *mut BzRbm) -> BzStatus {
    guard(|| {
        let t = get_trainer(trainer)?;
        check_ptr(out as *const BzRbm, "out")?;
        let m = lock(&t)?.model().into_owned();
        // SAFETY: checked above.
        unsafe { out_one(out, BzRbm { id: insert(Obj::Rbm(Arc::new(m))) }, "out") }
    })
}

/// Writes the whole training state as a checkpoint file (the CLI's format:
/// `boltzmann train --resume PATH` continues it), atomically.
///
/// # Safety
/// `path` must be a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bz_trainer_save_checkpoint(trainer: BzTrainer, path_: *const c_char) -> BzStatus {
    guard(|| {
        // SAFETY: the caller's contract.
        let p = unsafe { path(path_)? };
        let t = get_trainer(trainer)?;
        let t = lock(&t)?;
        Ok(io::save_checkpoint(t.state(), p)?)
    })
}

/// Releases a trainer.
#[unsafe(no_mangle)]
pub extern "C" fn bz_trainer_free(trainer: BzTrainer) -> BzStatus {
    free(trainer.id, "trainer", |o| matches!(o, Obj::Trainer(_)))
}

/// The panic path, which no input reaches through the public functions (a
/// panic there would be a bug): a panic inside `guard` becomes
/// `BZ_STATUS_PANIC` with its message, and an object left locked by it
/// answers `BZ_STATUS_POISONED` afterwards instead of panicking again.
#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    fn last_error() -> String {
        // SAFETY: bz_last_error returns a NUL-terminated string owned by
        // this thread's slot, valid until the next call.
        unsafe { CStr::from_ptr(bz_last_error()) }.to_string_lossy().into_owned()
    }

    #[test]
    fn a_panic_becomes_a_status_and_a_message() {
        let quiet = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let s = guard(|| panic!("boom {}", 7));
        let t = guard(|| std::panic::panic_any(42u8));
        std::panic::set_hook(quiet);
        assert_eq!(s, BzStatus::Panic);
        assert_eq!(t, BzStatus::Panic);
        assert_eq!(last_error(), "internal error (panic): unknown panic");
        assert_eq!(guard(|| Ok(())), BzStatus::Ok);
        assert_eq!(last_error(), "");
    }

    #[test]
    fn an_object_poisoned_by_a_panic_is_an_error_not_a_crash() {
        let (mut rbm, mut chains) = (BzRbm { id: 0 }, BzChains { id: 0 });
        // SAFETY: the out pointers are valid locals.
        unsafe {
            assert_eq!(bz_rbm_random(6, 4, 0.1, 1, &mut rbm), BzStatus::Ok);
            assert_eq!(bz_chains_new(rbm, 3, 1, &mut chains), BzStatus::Ok);
        }
        let quiet = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let s = guard(|| {
            let c = get_chains(chains)?;
            let _held = lock(&c)?;
            panic!("while holding the chains");
        });
        std::panic::set_hook(quiet);
        assert_eq!(s, BzStatus::Panic);
        assert!(last_error().contains("while holding the chains"), "{}", last_error());
        assert_eq!(bz_chains_sweep(chains, rbm, 1), BzStatus::Poisoned);
        assert!(last_error().contains("earlier panic"), "{}", last_error());
        assert_eq!(bz_chains_free(chains), BzStatus::Ok);
        assert_eq!(bz_rbm_free(rbm), BzStatus::Ok);
        assert_eq!(bz_chains_sweep(chains, rbm, 1), BzStatus::InvalidHandle);
    }
}
