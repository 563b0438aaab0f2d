//! Hint files: a compact index of one sealed data file, read at open instead of the data.
//!
//! A hint file is a [`super::header`] (magic `CCBH`, version [`HINT_VERSION`], same file id
//! as its data file) followed by entries, one per record of the data file that recovery
//! needs, and a trailer:
//!
//! ```text
//! entry
//! offset             size  field
//! SEQ     = 0           8  seq       u64, the record's sequence number
//! EXPIRY  = SEQ + 8     8  expiry    u64, ms since the epoch, 0 = none
//! OFFSET  = EXPIRY + 8  4  offset    u32, the record's offset in the data file
//! SIZE    = OFFSET + 4  4  size      u32, the record's total length
//! FLAGS   = SIZE + 4    1  flags     bit 0 tombstone; others 0
//! KEY_LEN = FLAGS + 1   4  key_len   u32
//! KEY     = KEY_LEN + 4    key       key_len bytes
//!
//! trailer (same 29-byte shape, no key)
//!      0  8  count     u64, entries before the trailer
//!      8  8  data_len  u64, the data file's length when the hint was written
//!     16  4  crc       CRC-32 of every byte of the file before this field
//!     20  4  0
//!     24  1  flags     0x80
//!     25  4  0
//! ```
//!
//! One CRC covers the whole file instead of one per entry: a hint file is written whole,
//! under a temporary name, and is used all or nothing, so per-entry checksums bought
//! nothing but 4 bytes an entry and a CRC call per key on the open path. A hint file
//! without a valid trailer, with any bad entry, or whose data file has another length,
//! is ignored and the data file is scanned instead.

use super::record::MAX_KEY_SIZE;
use super::{le_u32, le_u64};

/// The hint file format version (in the file header; data files have their own).
pub const HINT_VERSION: u16 = 2;

const SEQ: usize = 0;
const EXPIRY: usize = SEQ + 8;
const OFFSET: usize = EXPIRY + 8;
const SIZE: usize = OFFSET + 4;
const FLAGS: usize = SIZE + 4;
const KEY_LEN: usize = FLAGS + 1;
/// Bytes before the key.
pub const HINT_HEADER_LEN: usize = KEY_LEN + 4;
/// Length of the trailer.
pub const TRAILER_LEN: usize = HINT_HEADER_LEN;
/// Offset of the CRC inside the trailer: the CRC covers every byte of the file before it.
pub const TRAILER_CRC_AT: usize = OFFSET;

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
    /// The trailer ([`TRAILER_LEN`] bytes).
    Trailer {
        /// Entries before it.
        count: u64,
        /// Length of the data file the hint describes.
        data_len: u64,
        /// CRC-32 of every byte of the file before the trailer's CRC field.
        crc: u32,
    },
}

/// Appends an entry to `out`.
pub fn encode_entry(out: &mut Vec<u8>, entry: &HintEntry, key: &[u8]) {
    let flags = if entry.tombstone { TOMBSTONE } else { 0 };
    out.extend_from_slice(&entry.seq.to_le_bytes());
    out.extend_from_slice(&entry.expiry.to_le_bytes());
    out.extend_from_slice(&entry.offset.to_le_bytes());
    out.extend_from_slice(&entry.size.to_le_bytes());
    out.push(flags);
    // Keys are bounded by MAX_KEY_SIZE before they ever reach a hint.
    out.extend_from_slice(&u32::try_from(key.len()).unwrap_or(u32::MAX).to_le_bytes());
    out.extend_from_slice(key);
}

/// Appends the trailer to `out`, which must hold the whole hint file so far, header
/// included: the trailer's CRC covers all of it.
pub fn encode_trailer(out: &mut Vec<u8>, count: u64, data_len: u64) {
    let mut crc = crc32fast::Hasher::new();
    crc.update(out);
    crc.update(&count.to_le_bytes());
    crc.update(&data_len.to_le_bytes());
    out.extend_from_slice(&trailer_bytes(count, data_len, crc.finalize()));
}

/// The bytes of a trailer with these fields.
#[must_use]
pub fn trailer_bytes(count: u64, data_len: u64, crc: u32) -> [u8; TRAILER_LEN] {
    let mut out = [0u8; TRAILER_LEN];
    out[SEQ..SEQ + 8].copy_from_slice(&count.to_le_bytes());
    out[EXPIRY..EXPIRY + 8].copy_from_slice(&data_len.to_le_bytes());
    out[TRAILER_CRC_AT..TRAILER_CRC_AT + 4].copy_from_slice(&crc.to_le_bytes());
    out[FLAGS] = TRAILER;
    out
}

/// Decodes the entry at the start of `buf`, or `None` if it is truncated or malformed.
/// Entries carry no checksum of their own: callers check the trailer's CRC over the
/// whole file before they trust any entry.
#[must_use]
pub fn decode(buf: &[u8]) -> Option<Decoded<'_>> {
    let head = buf.get(..HINT_HEADER_LEN)?;
    let key_len = le_u32(head, KEY_LEN) as usize;
    if key_len > MAX_KEY_SIZE {
        return None;
    }
    let flags = head[FLAGS];
    if flags == TRAILER {
        if key_len != 0 || le_u32(head, SIZE) != 0 {
            return None;
        }
        return Some(Decoded::Trailer {
            count: le_u64(head, SEQ),
            data_len: le_u64(head, EXPIRY),
            crc: le_u32(head, TRAILER_CRC_AT),
        });
    }
    if flags & !TOMBSTONE != 0 {
        return None;
    }
    let len = HINT_HEADER_LEN + key_len;
    Some(Decoded::Entry {
        entry: HintEntry {
            seq: le_u64(head, SEQ),
            expiry: le_u64(head, EXPIRY),
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
        let Some(Decoded::Trailer {
            count,
            data_len,
            crc,
        }) = decode(&buf[first..])
        else {
            panic!("no trailer");
        };
        assert_eq!((count, data_len), (1, 66));
        assert_eq!(crc, crc32fast::hash(&buf[..first + TRAILER_CRC_AT]));
    }

    proptest! {
        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..128)) {
            let _ = decode(&bytes);
        }
    }
}
