//! Data-set readers: MNIST IDX (plain or gzip), the `.amat` text format of
//! binarized MNIST, CSV, NumPy `.npy`, and the data set embedded in the
//! crate. Each reader has a `parse_*` twin over bytes (what the fuzz targets
//! call); none panics on any input.
//!
//! Byte-valued images (IDX, `uint8` npy) are scaled to [0, 1]; nothing is
//! binarized unless asked (see [`crate::data::Dataset::binarize_threshold`]).

use super::{io_err, read_file};
use crate::data::Dataset;
use crate::error::{Error, Result};
use std::path::Path;

fn bad(what: &str, reason: impl Into<String>) -> Error {
    Error::Io { path: what.to_string(), reason: reason.into() }
}

/// Largest decompressed size accepted from a gzip stream or a header's
/// claims: half the machine's memory, at most 16 GiB.
fn max_bytes() -> u64 {
    crate::alloc::physical_memory().map_or(1 << 34, |m| (m / 2).min(1 << 34))
}

/// Decompresses gzip data (detected by its magic bytes), or returns the
/// input unchanged.
pub fn maybe_gunzip(bytes: Vec<u8>, what: &str) -> Result<Vec<u8>> {
    if bytes.len() < 2 || bytes[0] != 0x1f || bytes[1] != 0x8b {
        return Ok(bytes);
    }
    use std::io::Read;
    let limit = max_bytes();
    let mut out = Vec::new();
    let mut dec = flate2::read::MultiGzDecoder::new(&bytes[..]).take(limit + 1);
    dec.read_to_end(&mut out).map_err(|e| bad(what, format!("corrupt gzip stream: {e}")))?;
    if out.len() as u64 > limit {
        return Err(bad(what, format!("decompresses to more than {limit} bytes")));
    }
    Ok(out)
}

fn be_u32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Parses an IDX file's header: returns the dimensions and the data offset.
fn idx_header(b: &[u8], what: &str) -> Result<(Vec<usize>, usize)> {
    if b.len() < 4 {
        return Err(bad(what, "truncated IDX header (shorter than 4 bytes)"));
    }
    if b[0] != 0 || b[1] != 0 {
        return Err(bad(what, format!("wrong IDX magic {:02x}{:02x}{:02x}{:02x}", b[0], b[1], b[2], b[3])));
    }
    if b[2] != 0x08 {
        return Err(bad(
            what,
            format!("IDX element type 0x{:02x} is not supported (only 0x08, unsigned byte)", b[2]),
        ));
    }
    let nd = b[3] as usize;
    if nd == 0 || nd > 4 {
        return Err(bad(what, format!("IDX with {nd} dimensions is not supported")));
    }
    let off = 4 + 4 * nd;
    if b.len() < off {
        return Err(bad(what, "truncated IDX header"));
    }
    let dims: Vec<usize> = (0..nd).map(|i| be_u32(b, 4 + 4 * i) as usize).collect();
    let total = dims.iter().try_fold(1u64, |a, &x| a.checked_mul(x as u64)).unwrap_or(u64::MAX);
    if total > max_bytes() {
        return Err(bad(
            what,
            format!("IDX header claims {dims:?} = {total} bytes, more than can be loaded"),
        ));
    }
    let have = (b.len() - off) as u64;
    if have != total {
        return Err(bad(
            what,
            format!("IDX header claims {dims:?} ({total} bytes) but the file holds {have} bytes of data"),
        ));
    }
    Ok((dims, off))
}

/// Parses IDX3 images (`n × rows × cols` bytes), scaled to [0, 1].
///
/// # Errors
/// [`Error::Io`] for a wrong magic number, type or dimension count, a
/// truncated or oversized file.
pub fn parse_idx_images(bytes: &[u8], what: &str) -> Result<Dataset> {
    let (dims, off) = idx_header(bytes, what)?;
    if dims.len() != 3 {
        return Err(bad(what, format!("expected images (3 dimensions), found {} dimensions", dims.len())));
    }
    let (n, r, c) = (dims[0], dims[1], dims[2]);
    if n == 0 || r == 0 || c == 0 {
        return Err(bad(what, format!("empty image set {dims:?}")));
    }
    let x = bytes[off..].iter().map(|&p| p as f32 * (1.0 / 255.0)).collect();
    Dataset::new(x, r * c)?.with_image_shape(r, c)
}

/// Parses IDX1 labels.
///
/// # Errors
/// As [`parse_idx_images`].
pub fn parse_idx_labels(bytes: &[u8], what: &str) -> Result<Vec<u8>> {
    let (dims, off) = idx_header(bytes, what)?;
    if dims.len() != 1 {
        return Err(bad(what, format!("expected labels (1 dimension), found {} dimensions", dims.len())));
    }
    Ok(bytes[off..].to_vec())
}

/// Reads MNIST-style IDX images, and their labels if a path is given
/// (plain or gzip).
///
/// # Errors
/// Unreadable files, invalid IDX contents, a label count that does not match
/// the image count.
pub fn read_idx(images: &Path, labels: Option<&Path>) -> Result<Dataset> {
    let what = images.display().to_string();
    let d = parse_idx_images(&maybe_gunzip(read_file(images)?, &what)?, &what)?;
    match labels {
        None => Ok(d),
        Some(lp) => {
            let lw = lp.display().to_string();
            let l = parse_idx_labels(&maybe_gunzip(read_file(lp)?, &lw)?, &lw)?;
            if l.len() != d.len() {
                return Err(bad(&lw, format!("{} labels for {} images", l.len(), d.len())));
            }
            d.with_labels(l)
        }
    }
}

/// Parses the `.amat` text format: one example per line, values separated
/// by whitespace, every line the same length.
///
/// # Errors
/// [`Error::Io`] for non-numeric tokens, ragged lines or an empty file.
pub fn parse_amat(bytes: &[u8], what: &str) -> Result<Dataset> {
    let text = std::str::from_utf8(bytes).map_err(|_| bad(what, "not UTF-8 text"))?;
    let mut x = Vec::new();
    let mut dim = 0usize;
    for (ln, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let before = x.len();
        for tok in line.split_ascii_whitespace() {
            let v: f32 =
                tok.parse().map_err(|_| bad(what, format!("line {}: {tok:?} is not a number", ln + 1)))?;
            if !v.is_finite() {
                return Err(bad(what, format!("line {}: non-finite value {tok}", ln + 1)));
            }
            x.push(v);
        }
        let len = x.len() - before;
        if dim == 0 {
            dim = len;
        } else if len != dim {
            return Err(bad(what, format!("line {} has {len} values, earlier lines {dim}", ln + 1)));
        }
    }
    if dim == 0 {
        return Err(bad(what, "no data"));
    }
    let d = Dataset::new(x, dim)?;
    if dim == 784 { d.with_image_shape(28, 28) } else { Ok(d) }
}

/// Reads an `.amat` file (plain or gzip).
///
/// # Errors
/// As [`parse_amat`], plus unreadable files.
pub fn read_amat(path: impl AsRef<Path>) -> Result<Dataset> {
    let path = path.as_ref();
    let what = path.display().to_string();
    parse_amat(&maybe_gunzip(read_file(path)?, &what)?, &what)
}

/// Where a CSV file keeps its labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CsvLabels {
    /// No label column.
    None,
    /// The first column is an integer label 0–255.
    First,
    /// The last column is an integer label 0–255.
    Last,
}

/// Parses CSV: one example per line, comma-separated numbers, optional label
/// column, an optional header line (skipped when none of its fields is a
/// number; it must name as many columns as the data has), values multiplied
/// by `scale`.
///
/// # Errors
/// [`Error::Io`] for non-numeric fields, ragged rows, bad labels, no data;
/// [`Error::InvalidParam`] for a `scale` that is not finite and > 0.
pub fn parse_csv(bytes: &[u8], labels: CsvLabels, scale: f32, what: &str) -> Result<Dataset> {
    let text = std::str::from_utf8(bytes).map_err(|_| bad(what, "not UTF-8 text"))?;
    if !(scale.is_finite() && scale > 0.0) {
        return Err(Error::InvalidParam { name: "scale", reason: format!("{scale} must be finite and > 0") });
    }
    let mut x = Vec::new();
    let mut lab = Vec::new();
    let mut dim = 0usize;
    let mut header_fields = None;
    for (ln, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split(',').map(|f| f.trim()).collect();
        // A header names every column: no field of it is a number. A first
        // line with some numbers is data, and a bad field in it an error.
        if ln == 0 && fields.iter().all(|f| f.parse::<f64>().is_err()) {
            header_fields = Some(fields.len());
            continue;
        }
        if let Some(h) = header_fields
            && h != fields.len()
        {
            return Err(bad(
                what,
                format!("line {}: {} fields but the header names {h}", ln + 1, fields.len()),
            ));
        }
        let (vals, label) = match labels {
            CsvLabels::None => (&fields[..], None),
            CsvLabels::First => (&fields[1.min(fields.len())..], fields.first()),
            CsvLabels::Last => (&fields[..fields.len().saturating_sub(1)], fields.last()),
        };
        if let Some(l) = label {
            let v: u8 = l
                .parse()
                .map_err(|_| bad(what, format!("line {}: label {l:?} is not an integer 0–255", ln + 1)))?;
            lab.push(v);
        }
        let before = x.len();
        for f in vals {
            let v: f32 =
                f.parse().map_err(|_| bad(what, format!("line {}: {f:?} is not a number", ln + 1)))?;
            let v = v * scale;
            if !v.is_finite() {
                return Err(bad(what, format!("line {}: non-finite value {f}", ln + 1)));
            }
            x.push(v);
        }
        let len = x.len() - before;
        if len == 0 {
            return Err(bad(
                what,
                format!(
                    "line {}: no values besides the label column (for a file without labels use CsvLabels::None, \
                     `--csv-labels none`)",
                    ln + 1
                ),
            ));
        }
        if dim == 0 {
            dim = len;
        }
        if len != dim {
            return Err(bad(what, format!("line {} has {len} values, expected {dim}", ln + 1)));
        }
    }
    if dim == 0 {
        return Err(bad(what, "no data"));
    }
    let d = Dataset::new(x, dim)?;
    let d = if dim == 784 { d.with_image_shape(28, 28)? } else { d };
    if labels == CsvLabels::None { Ok(d) } else { d.with_labels(lab) }
}

/// Reads a CSV file (plain or gzip); see [`parse_csv`].
///
/// # Errors
/// As [`parse_csv`], plus unreadable files.
pub fn read_csv(path: impl AsRef<Path>, labels: CsvLabels, scale: f32) -> Result<Dataset> {
    let path = path.as_ref();
    let what = path.display().to_string();
    parse_csv(&maybe_gunzip(read_file(path)?, &what)?, labels, scale, &what)
}

/// Parses a NumPy `.npy` array: 2-D `(n, d)` or 3-D `(n, rows, cols)`,
/// C order, dtype `u1` (scaled to [0, 1]), `b1`, `<f4` or `<f8`.
///
/// # Errors
/// [`Error::Io`] for a bad magic string or header, an unsupported dtype,
/// Fortran order, or a size that does not match the data.
pub fn parse_npy(bytes: &[u8], what: &str) -> Result<Dataset> {
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err(bad(what, "not a .npy file (bad magic)"));
    }
    let major = bytes[6];
    let (hlen, hstart): (usize, usize) = match major {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 => {
            if bytes.len() < 12 {
                return Err(bad(what, "truncated .npy header"));
            }
            (u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize, 12)
        }
        v => return Err(bad(what, format!(".npy format version {v} is not supported"))),
    };
    let end = hstart
        .checked_add(hlen)
        .filter(|&e| e <= bytes.len())
        .ok_or_else(|| bad(what, "truncated .npy header"))?;
    let header =
        std::str::from_utf8(&bytes[hstart..end]).map_err(|_| bad(what, ".npy header is not text"))?;
    let field = |key: &str| -> Option<&str> {
        let i = header.find(&format!("'{key}'"))?;
        Some(header[i + key.len() + 2..].trim_start().strip_prefix(':')?.trim_start())
    };
    let descr = field("descr").and_then(|s| s.strip_prefix('\'')).and_then(|s| s.split('\'').next());
    let descr = descr.ok_or_else(|| bad(what, ".npy header has no 'descr'"))?;
    let fortran = field("fortran_order").ok_or_else(|| bad(what, ".npy header has no 'fortran_order'"))?;
    if fortran.starts_with("True") {
        return Err(bad(
            what,
            "Fortran-order .npy arrays are not supported (save with np.ascontiguousarray)",
        ));
    }
    let shape_s = field("shape").and_then(|s| s.strip_prefix('(')).and_then(|s| s.split(')').next());
    let shape_s = shape_s.ok_or_else(|| bad(what, ".npy header has no 'shape'"))?;
    let shape: Vec<usize> = shape_s
        .split(',')
        .map(|t| t.trim())
        .filter(|t| !t.is_empty())
        .map(|t| t.parse::<usize>().map_err(|_| bad(what, format!("bad shape entry {t:?}"))))
        .collect::<Result<_>>()?;
    let (n, dim, img) = match shape[..] {
        [n, d] => (n, d, None),
        [n, r, c] => (n, r.checked_mul(c).ok_or_else(|| bad(what, "shape overflows"))?, Some((r, c))),
        _ => return Err(bad(what, format!("expected a 2-D or 3-D array, got shape {shape:?}"))),
    };
    let (size, conv): (usize, fn(&[u8]) -> f32) = match descr {
        "|u1" | "<u1" => (1, |b| b[0] as f32 / 255.0),
        "|b1" => (1, |b| (b[0] != 0) as u8 as f32),
        "<f4" => (4, |b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        "<f8" => (8, |b| f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) as f32),
        other => {
            return Err(bad(
                what,
                format!("dtype {other:?} is not supported (use uint8, bool, float32 or float64)"),
            ));
        }
    };
    let count = n.checked_mul(dim).ok_or_else(|| bad(what, "shape overflows"))?;
    let need = count.checked_mul(size).ok_or_else(|| bad(what, "shape overflows"))?;
    let data = &bytes[end..];
    if data.len() != need {
        return Err(bad(
            what,
            format!("shape {shape:?} needs {need} bytes of data, the file has {}", data.len()),
        ));
    }
    if n == 0 || dim == 0 {
        return Err(bad(what, format!("empty array {shape:?}")));
    }
    let x: Vec<f32> = data.chunks_exact(size).map(conv).collect();
    let d = Dataset::new(x, dim)?;
    match img {
        Some((r, c)) => d.with_image_shape(r, c),
        None if dim == 784 => d.with_image_shape(28, 28),
        None => Ok(d),
    }
}

/// Reads a `.npy` file; see [`parse_npy`].
///
/// # Errors
/// As [`parse_npy`], plus unreadable files.
pub fn read_npy(path: impl AsRef<Path>) -> Result<Dataset> {
    let path = path.as_ref();
    let what = path.display().to_string();
    parse_npy(&maybe_gunzip(read_file(path)?, &what)?, &what)
}

/// The three splits of a data set.
#[derive(Debug, Clone)]
pub struct Splits {
    /// Training examples.
    pub train: Dataset,
    /// Validation examples.
    pub valid: Dataset,
    /// Test examples.
    pub test: Dataset,
}

/// Parses the embedded-data format (`data/make_default.py` documents it).
///
/// # Errors
/// [`Error::Io`] for anything malformed.
pub fn parse_bzds(bytes: &[u8], what: &str) -> Result<Splits> {
    let b = maybe_gunzip(bytes.to_vec(), what)?;
    if b.len() < 28 || &b[..4] != b"BZDS" {
        return Err(bad(what, "not a BZDS data file"));
    }
    let u = |i: usize| u32::from_le_bytes([b[4 + 4 * i], b[5 + 4 * i], b[6 + 4 * i], b[7 + 4 * i]]) as usize;
    let (version, ntr, nva, nte, r, c) = (u(0), u(1), u(2), u(3), u(4), u(5));
    if version != 1 {
        return Err(bad(what, format!("BZDS version {version} is not supported")));
    }
    let n = ntr as u64 + nva as u64 + nte as u64;
    let d = r as u64 * c as u64;
    let nb = d.div_ceil(8);
    let total = n.checked_mul(nb).and_then(|x| x.checked_add(28 + n));
    if n == 0 || d == 0 || total != Some(b.len() as u64) {
        return Err(bad(what, "BZDS sizes do not match the file"));
    }
    let (n, d, nb) = (n as usize, d as usize, nb as usize);
    let labels = &b[28..28 + n];
    let bits = &b[28 + n..];
    let mut x = Vec::with_capacity(n * d);
    for img in bits.chunks_exact(nb) {
        x.extend((0..d).map(|k| ((img[k >> 3] >> (k & 7)) & 1) as f32));
    }
    let all = Dataset::new(x, d)?.with_labels(labels.to_vec())?.with_image_shape(r, c)?;
    let part = |a: usize, z: usize| -> Result<Dataset> {
        if a < z { all.subset(a..z) } else { Err(bad(what, "an empty split")) }
    };
    Ok(Splits { train: part(0, ntr)?, valid: part(ntr, ntr + nva)?, test: part(ntr + nva, n)? })
}

/// The data set embedded in the crate: binarized MNIST, 10,000 training,
/// 2,000 validation and 2,000 test images with labels (CC BY-SA 3.0; see
/// `data/LICENSE-MNIST.md`).
///
/// # Errors
/// Only if the embedded bytes were corrupted at build time.
///
/// # Examples
/// ```
/// let s = boltzmann::io::embedded_mnist().unwrap();
/// assert_eq!((s.train.len(), s.valid.len(), s.test.len()), (10_000, 2_000, 2_000));
/// assert!(s.train.check_binary().is_ok());
/// ```
pub fn embedded_mnist() -> Result<Splits> {
    static BYTES: &[u8] = include_bytes!("../../data/mnist-binarized-14k.bzds.gz");
    parse_bzds(BYTES, "embedded MNIST")
}

/// A file format for [`read_dataset`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// IDX images (labels not read).
    Idx,
    /// `.amat` text.
    Amat,
    /// CSV with the label in the last column, values as they are.
    Csv,
    /// NumPy `.npy`.
    Npy,
}

impl Format {
    /// Guesses from the file name: `*idx*ubyte*`, `.amat`, `.csv`, `.npy`
    /// (each optionally followed by `.gz`).
    pub fn from_path(p: &Path) -> Option<Format> {
        let name = p.file_name()?.to_string_lossy().to_ascii_lowercase();
        let name = name.strip_suffix(".gz").unwrap_or(&name);
        if name.ends_with(".amat") {
            Some(Format::Amat)
        } else if name.ends_with(".csv") {
            Some(Format::Csv)
        } else if name.ends_with(".npy") {
            Some(Format::Npy)
        } else if name.contains("ubyte") || name.ends_with(".idx") {
            Some(Format::Idx)
        } else {
            None
        }
    }
}

/// Reads a data set, choosing the reader from `format` or the file name.
///
/// # Errors
/// [`Error::Io`] when the format cannot be told, or from the reader.
pub fn read_dataset(path: impl AsRef<Path>, format: Option<Format>) -> Result<Dataset> {
    let path = path.as_ref();
    let f = format.or_else(|| Format::from_path(path)).ok_or_else(|| {
        io_err(path, "cannot tell the format from the name; use .amat, .csv, .npy or an IDX *-ubyte file")
    })?;
    match f {
        Format::Idx => read_idx(path, None),
        Format::Amat => read_amat(path),
        Format::Csv => read_csv(path, CsvLabels::Last, 1.0),
        Format::Npy => read_npy(path),
    }
}
