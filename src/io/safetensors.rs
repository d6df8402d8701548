//! A small, strict reader and writer of the safetensors format
//! (<https://github.com/huggingface/safetensors>): an 8-byte little-endian
//! header length `N`, `N` bytes of JSON
//! `{"__metadata__": {..strings..}, "name": {"dtype", "shape", "data_offsets"}, ..}`,
//! then the tensor bytes, little-endian, row-major. Python reads our files
//! with `safetensors.numpy.load_file`.
//!
//! The reader checks everything a corrupt or hostile file could get wrong:
//! header length, JSON, dtypes, that each shape matches its byte range, that
//! ranges are in bounds, contiguous and cover the data exactly.
//!
//! **Checksum.** The writer stores `"checksum": "checksum64:HEX"` in the
//! metadata, where HEX (16 digits) is [`checksum64`] of the 16 bytes
//! `checksum64(H) ‖ checksum64(D)` (each little-endian): `D` is the tensor
//! bytes as stored and `H` the rest of the header in a canonical form — for
//! each metadata entry other than `checksum`, in key order, `key \0 value
//! \0`; then for each tensor in name order `name \0 DTYPE \0 d0,d1,… \0
//! start,end \0`. The reader verifies it when present (files written by
//! other tools, or by versions before it existed, have none) and calls a
//! file whose contents do not match it corrupt: a flipped bit anywhere in
//! the tensors or the metadata is caught.

use crate::checksum::checksum64;
use crate::error::{Error, Result};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Metadata key of the checksum.
const CHECKSUM_KEY: &str = "checksum";
/// How its value starts (the algorithm's name).
const CHECKSUM_PREFIX: &str = "checksum64:";

/// Element types used here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dtype {
    /// f32.
    F32,
    /// u64.
    U64,
    /// u8.
    U8,
}

impl Dtype {
    fn name(self) -> &'static str {
        match self {
            Dtype::F32 => "F32",
            Dtype::U64 => "U64",
            Dtype::U8 => "U8",
        }
    }
    fn size(self) -> usize {
        match self {
            Dtype::F32 => 4,
            Dtype::U64 => 8,
            Dtype::U8 => 1,
        }
    }
    fn parse(s: &str) -> Option<Dtype> {
        match s {
            "F32" => Some(Dtype::F32),
            "U64" => Some(Dtype::U64),
            "U8" => Some(Dtype::U8),
            _ => None,
        }
    }
}

/// One tensor: dtype, shape and raw little-endian bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    /// Element type.
    pub dtype: Dtype,
    /// Dimensions.
    pub shape: Vec<usize>,
    /// `shape.product() · dtype size` bytes.
    pub data: Vec<u8>,
}

impl Tensor {
    /// An f32 tensor.
    pub fn f32(shape: Vec<usize>, v: &[f32]) -> Tensor {
        Tensor { dtype: Dtype::F32, shape, data: v.iter().flat_map(|x| x.to_le_bytes()).collect() }
    }
    /// A u64 tensor.
    pub fn u64(shape: Vec<usize>, v: &[u64]) -> Tensor {
        Tensor { dtype: Dtype::U64, shape, data: v.iter().flat_map(|x| x.to_le_bytes()).collect() }
    }
    /// A u8 tensor.
    pub fn u8(shape: Vec<usize>, v: &[u8]) -> Tensor {
        Tensor { dtype: Dtype::U8, shape, data: v.to_vec() }
    }
    /// The values as f32.
    ///
    /// # Errors
    /// [`Error::Io`] if the dtype is not F32.
    pub fn to_f32(&self, what: &str) -> Result<Vec<f32>> {
        if self.dtype != Dtype::F32 {
            return Err(bad(what, format!("expected F32, found {}", self.dtype.name())));
        }
        Ok(self.data.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect())
    }
    /// The values as u64.
    ///
    /// # Errors
    /// [`Error::Io`] if the dtype is not U64.
    pub fn to_u64(&self, what: &str) -> Result<Vec<u64>> {
        if self.dtype != Dtype::U64 {
            return Err(bad(what, format!("expected U64, found {}", self.dtype.name())));
        }
        Ok(self.data.chunks_exact(8).map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes"))).collect())
    }
}

fn bad(what: &str, reason: impl Into<String>) -> Error {
    Error::Io { path: what.to_string(), reason: reason.into() }
}

/// A parsed file: string metadata and named tensors.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SafeTensors {
    /// `__metadata__`.
    pub metadata: BTreeMap<String, String>,
    /// Tensors by name.
    pub tensors: BTreeMap<String, Tensor>,
}

impl SafeTensors {
    /// Serializes (tensors in name order, header padded with spaces to a
    /// multiple of 8 bytes as the reference implementation does).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut header = Map::new();
        let mut m: Map<String, Value> = self
            .metadata
            .iter()
            .filter(|(k, _)| k.as_str() != CHECKSUM_KEY)
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        let data: Vec<u8> = self.tensors.values().flat_map(|t| t.data.iter().copied()).collect();
        m.insert(CHECKSUM_KEY.into(), Value::String(self.checksum(&data)));
        header.insert("__metadata__".into(), Value::Object(m));
        let mut off = 0usize;
        for (name, t) in &self.tensors {
            let mut e = Map::new();
            e.insert("dtype".into(), Value::String(t.dtype.name().into()));
            e.insert("shape".into(), Value::Array(t.shape.iter().map(|&d| Value::from(d)).collect()));
            e.insert(
                "data_offsets".into(),
                Value::Array(vec![Value::from(off), Value::from(off + t.data.len())]),
            );
            header.insert(name.clone(), Value::Object(e));
            off += t.data.len();
        }
        let mut h = serde_json::to_vec(&Value::Object(header)).expect("JSON of strings and numbers");
        while !(8 + h.len()).is_multiple_of(8) {
            h.push(b' ');
        }
        let mut out = Vec::with_capacity(8 + h.len() + off);
        out.extend_from_slice(&(h.len() as u64).to_le_bytes());
        out.extend_from_slice(&h);
        out.extend_from_slice(&data);
        out
    }

    /// `checksum64:HEX` of these metadata and tensors, `data` being the
    /// tensor bytes in name order (see the module documentation).
    fn checksum(&self, data: &[u8]) -> String {
        let mut canon = Vec::new();
        for (k, v) in self.metadata.iter().filter(|(k, _)| k.as_str() != CHECKSUM_KEY) {
            for part in [k.as_bytes(), v.as_bytes()] {
                canon.extend_from_slice(part);
                canon.push(0);
            }
        }
        let mut off = 0usize;
        for (name, t) in &self.tensors {
            let dims: Vec<String> = t.shape.iter().map(usize::to_string).collect();
            let range = format!("{off},{}", off + t.data.len());
            for part in
                [name.as_bytes(), t.dtype.name().as_bytes(), dims.join(",").as_bytes(), range.as_bytes()]
            {
                canon.extend_from_slice(part);
                canon.push(0);
            }
            off += t.data.len();
        }
        let mut both = [0u8; 16];
        both[..8].copy_from_slice(&checksum64(&canon).to_le_bytes());
        both[8..].copy_from_slice(&checksum64(data).to_le_bytes());
        format!("{CHECKSUM_PREFIX}{:016x}", checksum64(&both))
    }

    /// Parses and validates a file's bytes.
    ///
    /// # Errors
    /// [`Error::Io`] describing the first problem found.
    pub fn from_bytes(b: &[u8], what: &str) -> Result<SafeTensors> {
        let (obj, n) = header(b, what)?;
        let data = &b[8 + n..];
        let mut out = SafeTensors::default();
        let mut ranges = Vec::new();
        for (name, v) in obj {
            if name == "__metadata__" {
                out.metadata = metadata_strings(v, what)?;
                continue;
            }
            let e = v.as_object().ok_or_else(|| bad(what, format!("tensor {name:?}: not an object")))?;
            let dtype = e
                .get("dtype")
                .and_then(Value::as_str)
                .and_then(Dtype::parse)
                .ok_or_else(|| bad(what, format!("tensor {name:?}: missing or unsupported dtype")))?;
            let shape: Vec<usize> = e
                .get("shape")
                .and_then(Value::as_array)
                .ok_or_else(|| bad(what, format!("tensor {name:?}: missing shape")))?
                .iter()
                .map(|d| d.as_u64().and_then(|x| usize::try_from(x).ok()))
                .collect::<Option<_>>()
                .ok_or_else(|| bad(what, format!("tensor {name:?}: bad shape")))?;
            let offs = e
                .get("data_offsets")
                .and_then(Value::as_array)
                .filter(|a| a.len() == 2)
                .and_then(|a| Some((a[0].as_u64()?, a[1].as_u64()?)))
                .ok_or_else(|| bad(what, format!("tensor {name:?}: bad data_offsets")))?;
            let count = shape.iter().try_fold(1u64, |a, &d| a.checked_mul(d as u64));
            let bytes = count.and_then(|c| c.checked_mul(dtype.size() as u64));
            if offs.0 <= offs.1 && offs.1 > data.len() as u64 && bytes == Some(offs.1 - offs.0) {
                return Err(bad(
                    what,
                    format!(
                        "truncated: tensor {name:?} ends at byte {} of the data, which has {} bytes",
                        offs.1,
                        data.len()
                    ),
                ));
            }
            if offs.0 > offs.1 || offs.1 > data.len() as u64 || bytes != Some(offs.1 - offs.0) {
                return Err(bad(
                    what,
                    format!(
                        "tensor {name:?}: shape {shape:?} and byte range {offs:?} do not agree with the data ({} bytes)",
                        data.len()
                    ),
                ));
            }
            ranges.push((offs.0, offs.1));
            let t = Tensor { dtype, shape, data: data[offs.0 as usize..offs.1 as usize].to_vec() };
            out.tensors.insert(name, t);
        }
        ranges.sort_unstable();
        let mut at = 0u64;
        for (s, e) in ranges {
            if s != at {
                return Err(bad(what, "tensor byte ranges overlap or leave gaps"));
            }
            at = e;
        }
        if at != data.len() as u64 {
            return Err(bad(
                what,
                format!("{} bytes after the last tensor: corrupt or wrong file", data.len() as u64 - at),
            ));
        }
        let stored = out.metadata.remove(CHECKSUM_KEY);
        if stored.is_none() && out.metadata.values().any(|v| v.starts_with(CHECKSUM_PREFIX)) {
            return Err(bad(what, "corrupt: the checksum entry of its metadata is damaged"));
        }
        if let Some(stored) = stored {
            // The writer stores the tensors in name order, so the data as
            // stored is what it hashed.
            let computed = out.checksum(data);
            if stored != computed {
                return Err(bad(
                    what,
                    format!(
                        "corrupt: the checksum of its contents ({computed}) is not the one stored ({stored}); \
                         the file was damaged after it was written"
                    ),
                ));
            }
        }
        Ok(out)
    }

    /// A tensor by name.
    ///
    /// # Errors
    /// [`Error::Io`] when it is missing.
    pub fn get(&self, name: &str, what: &str) -> Result<&Tensor> {
        self.tensors.get(name).ok_or_else(|| bad(what, format!("missing tensor {name:?}")))
    }

    /// A metadata value by key.
    ///
    /// # Errors
    /// [`Error::Io`] when it is missing.
    pub fn meta(&self, key: &str, what: &str) -> Result<&str> {
        self.metadata
            .get(key)
            .map(String::as_str)
            .ok_or_else(|| bad(what, format!("missing metadata {key:?}")))
    }
}

/// The JSON header of a file's bytes and its length in bytes.
fn header(b: &[u8], what: &str) -> Result<(serde_json::Map<String, Value>, usize)> {
    if b.len() < 8 {
        return Err(bad(what, "truncated: shorter than the 8-byte header length"));
    }
    let n = u64::from_le_bytes(b[..8].try_into().expect("8 bytes"));
    if n > (b.len() - 8) as u64 || n > 100 << 20 {
        return Err(bad(
            what,
            format!("header length {n} exceeds the file ({} bytes): truncated or corrupt", b.len()),
        ));
    }
    let n = n as usize;
    let header: Value = serde_json::from_slice(&b[8..8 + n])
        .map_err(|e| bad(what, format!("header is not valid JSON: {e}")))?;
    let Value::Object(obj) = header else {
        return Err(bad(what, "header is not a JSON object"));
    };
    Ok((obj, n))
}

/// The `__metadata__` object as strings.
fn metadata_strings(v: Value, what: &str) -> Result<BTreeMap<String, String>> {
    let Value::Object(m) = v else { return Err(bad(what, "__metadata__ is not an object")) };
    let mut out = BTreeMap::new();
    for (k, v) in m {
        let Value::String(s) = v else {
            return Err(bad(what, format!("metadata {k:?} is not a string")));
        };
        out.insert(k, s);
    }
    Ok(out)
}

/// The metadata of a file's bytes, from its header alone (tensors and
/// checksum not read): for telling a file's kind before parsing it with
/// [`SafeTensors::from_bytes`].
///
/// # Errors
/// [`Error::Io`] for a missing or malformed header.
pub fn metadata_of(b: &[u8], what: &str) -> Result<BTreeMap<String, String>> {
    let (mut obj, _) = header(b, what)?;
    match obj.remove("__metadata__") {
        Some(v) => metadata_strings(v, what),
        None => Ok(BTreeMap::new()),
    }
}
