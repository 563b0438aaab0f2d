//! Hint files: a compact index of one sealed data file, read at open instead of the data.
//!
//! A hint file is a [`super::header`] (magic `CCBH`, same file id as its data file)
//! followed by entries, one per record of the data file that recovery needs:
//!
//! ```text
//! offset             size  field
//! CRC     = 0           4  crc       CRC-32 of every byte after it in the entry
//! SEQ     = CRC + 4     8  seq       u64, the record's sequence number
//! EXPIRY  = SEQ + 8     8  expiry    u64, ms since the epoch, 0 = none
//! OFFSET  = EXPIRY + 8  4  offset    u32, the record's offset in the data file
//! SIZE    = OFFSET + 4  4  size      u32, the record's total length
//! FLAGS   = SIZE + 4    1  flags     bit 0 tombstone, bit 7 trailer; others 0
//! KEY_LEN = FLAGS + 1   4  key_len   u32
//! KEY     = KEY_LEN + 4    key       key_len bytes
//! ```
//!
//! The last entry is a trailer: flags bit 7, key_len 0, `seq` = number of entries before
//! it, `expiry` = the data file's length when the hint was written. A hint file without a
//! valid trailer, with any bad entry, or whose data file has another length, is ignored
//! and the data file is scanned instead.

use super::record::MAX_KEY_SIZE;
use super::{le_u32, le_u64};

const CRC: usize = 0;
const SEQ: usize = CRC + 4;
const EXPIRY: usize = SEQ + 8;
const OFFSET: usize = EXPIRY + 8;
const SIZE: usize = OFFSET + 4;
const FLAGS: usize = SIZE + 4;
const KEY_LEN: usize = FLAGS + 1;
/// Bytes before the key.
pub const HINT_HEADER_LEN: usize = KEY_LEN + 4;

const TOMBSTONE: u8 = 1;
const TRAILER: u8 = 0x80;

/// One decoded hint entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HintEntry {
    /// Sequence number of the record.
    pub seq: u64,
    /// Absolute expiry, 0 for none.
    pub expiry: u64,
    /// Offset of the record in the data file.
    pub offset: u32,
    /// Total length of the record.
    pub size: u32,
    /// Whether the record is a tombstone.
    pub tombstone: bool,
}

/// What one step of decoding produced.
#[derive(Debug, PartialEq, Eq)]
pub enum Decoded<'a> {
    /// An entry and its key; `len` bytes were consumed.
    Entry {
        /// The entry.
        entry: HintEntry,
        /// The key bytes.
        key: &'a [u8],
        /// Encoded length.
        len: usize,
    },
    /// The trailer.
    Trailer {
        /// Entries before it.
        count: u64,
        /// Length of the data file the hint describes.
        data_len: u64,
    },
}

/// Appends an entry to `out`.
pub fn encode_entry(out: &mut Vec<u8>, entry: &HintEntry, key: &[u8]) {
    let flags = if entry.tombstone { TOMBSTONE } else { 0 };
    encode_raw(
        out,
        entry.seq,
        entry.expiry,
        entry.offset,
        entry.size,
        flags,
        key,
    );
}

/// Appends the trailer to `out`.
pub fn encode_trailer(out: &mut Vec<u8>, count: u64, data_len: u64) {
    encode_raw(out, count, data_len, 0, 0, TRAILER, &[]);
}

fn encode_raw(
    out: &mut Vec<u8>,
    seq: u64,
    expiry: u64,
    offset: u32,
    size: u32,
    flags: u8,
    key: &[u8],
) {
    let start = out.len();
    out.extend_from_slice(&[0u8; 4]);
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(&expiry.to_le_bytes());
    out.extend_from_slice(&offset.to_le_bytes());
    out.extend_from_slice(&size.to_le_bytes());
    out.push(flags);
    // Keys are bounded by MAX_KEY_SIZE before they ever reach a hint.
    out.extend_from_slice(&u32::try_from(key.len()).unwrap_or(u32::MAX).to_le_bytes());
    out.extend_from_slice(key);
    let crc = crc32fast::hash(&out[start + SEQ..]);
    out[start..start + 4].copy_from_slice(&crc.to_le_bytes());
}

/// Decodes the entry at the start of `buf`, or `None` if it is truncated or invalid.
#[must_use]
pub fn decode(buf: &[u8]) -> Option<Decoded<'_>> {
    let head = buf.get(..HINT_HEADER_LEN)?;
    let key_len = le_u32(head, KEY_LEN) as usize;
    if key_len > MAX_KEY_SIZE {
        return None;
    }
    let len = HINT_HEADER_LEN + key_len;
    let body = buf.get(SEQ..len)?;
    if crc32fast::hash(body) != le_u32(head, CRC) {
        return None;
    }
    let flags = head[FLAGS];
    let seq = le_u64(head, SEQ);
    let expiry = le_u64(head, EXPIRY);
    if flags == TRAILER && key_len == 0 {
        return Some(Decoded::Trailer {
            count: seq,
            data_len: expiry,
        });
    }
    if flags & !TOMBSTONE != 0 {
        return None;
    }
    Some(Decoded::Entry {
        entry: HintEntry {
            seq,
            expiry,
            offset: le_u32(head, OFFSET),
            size: le_u32(head, SIZE),
            tombstone: flags & TOMBSTONE != 0,
        },
        key: buf.get(HINT_HEADER_LEN..len)?,
        len,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn entry_and_trailer_round_trip() {
        let e = HintEntry {
            seq: 9,
            expiry: 0,
            offset: 16,
            size: 50,
            tombstone: true,
        };
        let mut buf = Vec::new();
        encode_entry(&mut buf, &e, b"key");
        let first = buf.len();
        encode_trailer(&mut buf, 1, 66);
        assert_eq!(
            decode(&buf),
            Some(Decoded::Entry {
                entry: e,
                key: b"key",
                len: first
            })
        );
        assert_eq!(
            decode(&buf[first..]),
            Some(Decoded::Trailer {
                count: 1,
                data_len: 66
            })
        );
        for i in 0..first {
            let mut bad = buf.clone();
            bad[i] ^= 0x10;
            assert_ne!(
                decode(&bad),
                Some(Decoded::Entry {
                    entry: e,
                    key: b"key",
                    len: first
                })
            );
        }
    }

    proptest! {
        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..128)) {
            let _ = decode(&bytes);
        }
    }
}
