//! Fallible allocation: absurd sizes become [`Error::TooLarge`], never an
//! abort.
//!
//! `Vec::with_capacity` aborts the process when the allocator refuses, and
//! on Linux an over-committed allocation succeeds and is killed later, when
//! its pages are touched. So before allocating we compare the request with
//! the machine's physical memory (from `/proc/meminfo` where it exists) and
//! then use `try_reserve_exact`.

use crate::error::{Error, Result};
use std::sync::OnceLock;

/// Physical memory in bytes, if the platform tells us.
pub(crate) fn physical_memory() -> Option<u64> {
    static MEM: OnceLock<Option<u64>> = OnceLock::new();
    *MEM.get_or_init(|| {
        let s = std::fs::read_to_string("/proc/meminfo").ok()?;
        let line = s.lines().find(|l| l.starts_with("MemTotal:"))?;
        let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        kb.checked_mul(1024)
    })
}

/// Checks that `count` elements of `elem_bytes` each fit in memory.
pub(crate) fn check_bytes(what: &'static str, count: u128, elem_bytes: u128) -> Result<()> {
    let bytes = count.saturating_mul(elem_bytes);
    let avail = physical_memory();
    let limit = avail.map(u128::from).unwrap_or(isize::MAX as u128).min(isize::MAX as u128);
    if bytes > limit {
        return Err(Error::TooLarge { what, bytes, available: avail });
    }
    Ok(())
}

/// `vec![value; len]`, or [`Error::TooLarge`].
pub(crate) fn try_vec<T: Clone>(len: usize, value: T, what: &'static str) -> Result<Vec<T>> {
    check_bytes(what, len as u128, std::mem::size_of::<T>() as u128)?;
    let mut v = Vec::new();
    v.try_reserve_exact(len).map_err(|_| Error::TooLarge {
        what,
        bytes: (len as u128) * std::mem::size_of::<T>() as u128,
        available: physical_memory(),
    })?;
    v.resize(len, value);
    Ok(v)
}
