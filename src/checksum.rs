//! A fast 64-bit checksum of bytes, to detect corrupted files and to
//! recognise a data set again (not a cryptographic hash).
//!
//! The algorithm, so that other languages can compute it: start from
//! `h = 0xcbf2_9ce4_8422_2325 ^ len` (FNV-1a's offset basis xored with the
//! length in bytes); for each 8-byte little-endian word `w` of the input
//! (the last one padded with zero bytes), `h = rotl64((h ^ w) ·
//! 0x0000_0100_0000_01b3 mod 2⁶⁴, 31)`; finally
//! `h ^= h >> 32; h = h · 0x9e37_79b9_7f4a_7c15 mod 2⁶⁴; h ^= h >> 29`.
//! Each step is a bijection of `h` for a fixed word and of the word for a
//! fixed `h`, so inputs of the same length that differ in one word (any
//! number of flipped bits within 8 aligned bytes) always get different
//! checksums; other corruptions collide with probability about 2⁻⁶⁴.

const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const PRIME: u64 = 0x0000_0100_0000_01b3;

/// The checksum of `bytes` (see the module documentation).
///
/// ```
/// use boltzmann::checksum::checksum64;
/// let a = checksum64(b"model bytes");
/// assert_eq!(a, checksum64(b"model bytes"));
/// assert_ne!(a, checksum64(b"model bytez"));
/// ```
pub fn checksum64(bytes: &[u8]) -> u64 {
    let mut h = OFFSET ^ bytes.len() as u64;
    let mut words = bytes.chunks_exact(8);
    for w in &mut words {
        let w = u64::from_le_bytes(w.try_into().expect("8 bytes"));
        h = (h ^ w).wrapping_mul(PRIME).rotate_left(31);
    }
    let tail = words.remainder();
    if !tail.is_empty() {
        let mut last = [0u8; 8];
        last[..tail.len()].copy_from_slice(tail);
        h = (h ^ u64::from_le_bytes(last)).wrapping_mul(PRIME).rotate_left(31);
    }
    h ^= h >> 32;
    h = h.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    h ^ (h >> 29)
}

/// The checksum as the 16 lower-case hexadecimal digits stored in files.
pub fn checksum_hex(bytes: &[u8]) -> String {
    format!("{:016x}", checksum64(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_single_bit_flip_changes_the_checksum() {
        let bytes: Vec<u8> = (0..67u32).map(|i| (i * 37 % 251) as u8).collect();
        let c = checksum64(&bytes);
        for i in 0..bytes.len() * 8 {
            let mut b = bytes.clone();
            b[i / 8] ^= 1 << (i % 8);
            assert_ne!(checksum64(&b), c, "bit {i}");
        }
        // Length matters, also for trailing zeros.
        assert_ne!(checksum64(&[0u8; 3]), checksum64(&[0u8; 4]));
        assert_ne!(checksum64(&[]), checksum64(&[0u8]));
    }
}
