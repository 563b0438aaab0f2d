//! The merge commit manifest, `MERGE`.
//!
//! ```text
//! offset      size  field
//!      0         4  magic    b"CCBM"
//!      4         2  version  u16 = 1
//!      6         2  reserved 0
//!      8         4  count    u32, number of input file ids
//!     12   4*count  inputs   u32 each: data files the merge replaced
//! 12+4*count     4  crc      CRC-32 of every byte before it
//! ```
//!
//! The manifest is written under a temporary name, fsynced and renamed into place only
//! after every merge output is durable: its appearance is the commit point. Open deletes
//! the listed inputs before it loads anything, then removes the manifest.

use super::le_u32;

const MAGIC: &[u8; 4] = b"CCBM";
const VERSION: u16 = 1;

/// Encodes a manifest listing `inputs`.
#[must_use]
pub fn encode(inputs: &[u32]) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + inputs.len() * 4);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(
        &u32::try_from(inputs.len())
            .unwrap_or(u32::MAX)
            .to_le_bytes(),
    );
    for id in inputs {
        out.extend_from_slice(&id.to_le_bytes());
    }
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// Decodes a manifest, or `None` if it is not a complete, valid one.
#[must_use]
pub fn decode(buf: &[u8]) -> Option<Vec<u32>> {
    if buf.len() < 16 || &buf[0..4] != MAGIC || buf[4..6] != VERSION.to_le_bytes() {
        return None;
    }
    let count = le_u32(buf, 8) as usize;
    let end = count.checked_mul(4)?.checked_add(12)?;
    if buf.len() != end + 4 || crc32fast::hash(&buf[..end]) != le_u32(buf, end) {
        return None;
    }
    Some((0..count).map(|i| le_u32(buf, 12 + i * 4)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_torn() {
        let m = encode(&[3, 5, 8]);
        assert_eq!(decode(&m), Some(vec![3, 5, 8]));
        for cut in 0..m.len() {
            assert_eq!(decode(&m[..cut]), None);
        }
        let mut bad = m.clone();
        bad[13] ^= 1;
        assert_eq!(decode(&bad), None);
    }
}
