//! Data-file records.
//!
//! A data file is a [`super::header`] followed by records back to back:
//!
//! ```text
//! offset              size  field
//! CRC      = 0           4  crc        CRC-32 of every byte after it: header fields, key, value
//! SEQ      = CRC + 4     8  seq        u64, per-database monotonic sequence number
//! TSTAMP   = SEQ + 8     8  timestamp  u64, write time, ms since the UNIX epoch
//! EXPIRY   = TSTAMP + 8  8  expiry     u64, absolute expiry in ms since the epoch, 0 = none
//! FLAGS    = EXPIRY + 8  1  flags      bit 0 tombstone, bit 1 batch member, bit 2 batch end;
//!                                      other bits must be 0
//! KEY_LEN  = FLAGS + 1   4  key_len    u32
//! VAL_LEN  = KEY_LEN + 4 4  value_len  u32 (0 for a tombstone)
//! KEY      = VAL_LEN + 4    key        key_len bytes
//!            KEY+key_len    value      value_len bytes
//! ```
//!
//! The sequence number, not the file order, decides which record of a key is the newest:
//! merge output keeps the original numbers, so recovery can replay files in any order.
//! A tombstone is a flag, never a magic value, so no user value can be mistaken for one.

use super::{le_u32, le_u64};

const CRC: usize = 0;
const SEQ: usize = CRC + 4;
const TSTAMP: usize = SEQ + 8;
const EXPIRY: usize = TSTAMP + 8;
const FLAGS: usize = EXPIRY + 8;
const KEY_LEN: usize = FLAGS + 1;
const VAL_LEN: usize = KEY_LEN + 4;
/// Bytes before the key.
pub const RECORD_HEADER_LEN: usize = VAL_LEN + 4;

/// Largest key accepted, in bytes.
pub const MAX_KEY_SIZE: usize = 64 * 1024;
/// Largest value accepted, in bytes.
pub const MAX_VALUE_SIZE: usize = 1 << 30;

/// Record flag bits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flags(u8);

impl Flags {
    /// The record deletes its key.
    pub const TOMBSTONE: Self = Self(1);
    /// The record belongs to a write batch that is not complete until its end record.
    pub const BATCH: Self = Self(2);
    /// The last record of a write batch; it commits the batch.
    pub const BATCH_END: Self = Self(4);
    const KNOWN: u8 = 7;

    /// The raw byte.
    #[must_use]
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// Whether every bit of `other` is set.
    #[must_use]
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// Union of two flag sets.
    #[must_use]
    pub const fn with(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }
}

/// Everything in a record except the key and value bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordMeta {
    /// Sequence number.
    pub seq: u64,
    /// Write time, ms since the epoch.
    pub timestamp: u64,
    /// Absolute expiry in ms since the epoch, 0 for none.
    pub expiry: u64,
    /// Tombstone and batch bits.
    pub flags: Flags,
    /// Key length.
    pub key_len: u32,
    /// Value length.
    pub value_len: u32,
}

/// Encoded length of a record with a key and a value of these lengths.
#[must_use]
pub const fn encoded_len(key_len: usize, value_len: usize) -> u64 {
    (RECORD_HEADER_LEN + key_len + value_len) as u64
}

impl RecordMeta {
    /// Total encoded length of the record.
    #[must_use]
    pub fn record_len(&self) -> u64 {
        encoded_len(self.key_len as usize, self.value_len as usize)
    }

    /// Whether this record deletes its key.
    #[must_use]
    pub const fn is_tombstone(&self) -> bool {
        self.flags.contains(Flags::TOMBSTONE)
    }

    /// The expiry as an option.
    #[must_use]
    pub const fn expiry(&self) -> Option<u64> {
        if self.expiry == 0 {
            None
        } else {
            Some(self.expiry)
        }
    }
}

/// Why bytes are not a valid record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecordError {
    /// The buffer ends before the record does; `need` is the full record length if known.
    Truncated {
        /// Bytes the record would need, when the header could be read.
        need: Option<u64>,
    },
    /// A field holds an impossible value.
    Invalid(&'static str),
    /// The stored CRC does not match the bytes.
    Checksum {
        /// CRC in the record.
        stored: u32,
        /// CRC of the bytes.
        computed: u32,
    },
}

impl std::fmt::Display for RecordError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Truncated { need: Some(n) } => write!(f, "record truncated (needs {n} bytes)"),
            Self::Truncated { need: None } => f.write_str("record header truncated"),
            Self::Invalid(what) => write!(f, "invalid record: {what}"),
            Self::Checksum { stored, computed } => write!(
                f,
                "checksum mismatch (stored {stored:#010x}, computed {computed:#010x})"
            ),
        }
    }
}

/// CRC state over key then value. It is computed before the writer lock is taken and
/// combined with the header's CRC by [`encode_header`].
#[must_use]
pub fn payload_crc(key: &[u8], value: &[u8]) -> crc32fast::Hasher {
    let mut h = crc32fast::Hasher::new();
    h.update(key);
    h.update(value);
    h
}

fn header_fields(meta: &RecordMeta) -> [u8; RECORD_HEADER_LEN] {
    let mut buf = [0u8; RECORD_HEADER_LEN];
    buf[SEQ..TSTAMP].copy_from_slice(&meta.seq.to_le_bytes());
    buf[TSTAMP..EXPIRY].copy_from_slice(&meta.timestamp.to_le_bytes());
    buf[EXPIRY..FLAGS].copy_from_slice(&meta.expiry.to_le_bytes());
    buf[FLAGS] = meta.flags.bits();
    buf[KEY_LEN..VAL_LEN].copy_from_slice(&meta.key_len.to_le_bytes());
    buf[VAL_LEN..RECORD_HEADER_LEN].copy_from_slice(&meta.value_len.to_le_bytes());
    buf
}

/// Encodes a record header whose CRC covers the header fields, `key` and `value`.
#[must_use]
pub fn encode_header_for(meta: &RecordMeta, key: &[u8], value: &[u8]) -> [u8; RECORD_HEADER_LEN] {
    let mut buf = header_fields(meta);
    let mut h = crc32fast::Hasher::new();
    h.update(&buf[SEQ..]);
    h.update(key);
    h.update(value);
    buf[CRC..SEQ].copy_from_slice(&h.finalize().to_le_bytes());
    buf
}

/// Encodes a record header whose CRC covers the header fields and the payload hashed
/// earlier into `payload` (by [`payload_crc`]).
#[must_use]
pub fn encode_header(meta: &RecordMeta, payload: &crc32fast::Hasher) -> [u8; RECORD_HEADER_LEN] {
    let mut buf = header_fields(meta);
    let mut h = crc32fast::Hasher::new();
    h.update(&buf[SEQ..]);
    h.combine(payload);
    buf[CRC..SEQ].copy_from_slice(&h.finalize().to_le_bytes());
    buf
}

/// Encodes a whole record into one buffer (merge and tests; the writer uses vectored I/O).
#[must_use]
pub fn encode(meta: &RecordMeta, key: &[u8], value: &[u8]) -> Vec<u8> {
    let header = encode_header_for(meta, key, value);
    let mut out = Vec::with_capacity(RECORD_HEADER_LEN + key.len() + value.len());
    out.extend_from_slice(&header);
    out.extend_from_slice(key);
    out.extend_from_slice(value);
    out
}

/// Parses and sanity-checks a header without verifying the CRC. Returns the metadata and
/// the stored CRC. Lengths are checked against the format limits, so a corrupt length can
/// never make a reader allocate gigabytes.
pub fn decode_header(buf: &[u8]) -> Result<(RecordMeta, u32), RecordError> {
    if buf.len() < RECORD_HEADER_LEN {
        return Err(RecordError::Truncated { need: None });
    }
    let flags = buf[FLAGS];
    if flags & !Flags::KNOWN != 0 {
        return Err(RecordError::Invalid("unknown flag bits"));
    }
    let meta = RecordMeta {
        seq: le_u64(buf, SEQ),
        timestamp: le_u64(buf, TSTAMP),
        expiry: le_u64(buf, EXPIRY),
        flags: Flags(flags),
        key_len: le_u32(buf, KEY_LEN),
        value_len: le_u32(buf, VAL_LEN),
    };
    if meta.key_len as usize > MAX_KEY_SIZE {
        return Err(RecordError::Invalid("key length over the limit"));
    }
    if meta.value_len as usize > MAX_VALUE_SIZE {
        return Err(RecordError::Invalid("value length over the limit"));
    }
    if meta.is_tombstone() && meta.value_len != 0 {
        return Err(RecordError::Invalid("tombstone with a value"));
    }
    Ok((meta, le_u32(buf, CRC)))
}

/// Decodes and verifies a complete record at the start of `buf`.
/// Returns the metadata; the key is `buf[RECORD_HEADER_LEN..][..key_len]`, then the value.
pub fn decode(buf: &[u8]) -> Result<RecordMeta, RecordError> {
    let (meta, stored) = decode_header(buf)?;
    let len = meta.record_len();
    let Some(body) = usize::try_from(len).ok().and_then(|l| buf.get(SEQ..l)) else {
        return Err(RecordError::Truncated { need: Some(len) });
    };
    let computed = crc32fast::hash(body);
    if computed != stored {
        return Err(RecordError::Checksum { stored, computed });
    }
    Ok(meta)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn meta(key: &[u8], value: &[u8], flags: Flags) -> RecordMeta {
        RecordMeta {
            seq: 7,
            timestamp: 1_700_000_000_000,
            expiry: 0,
            flags,
            key_len: key.len() as u32,
            value_len: value.len() as u32,
        }
    }

    #[test]
    fn header_is_37_bytes_and_round_trips() {
        assert_eq!(RECORD_HEADER_LEN, 37);
        let m = meta(b"key", b"value", Flags::default());
        let rec = encode(&m, b"key", b"value");
        assert_eq!(rec.len(), 45);
        assert_eq!(decode(&rec), Ok(m));
        assert_eq!(&rec[37..40], b"key");
        assert_eq!(&rec[40..], b"value");
    }

    #[test]
    fn tombstone_flag_not_value_prefix() {
        // Riak treats any value starting with "bitcask_tombstone" as a delete; we do not.
        let v = b"bitcask_tombstone2\0\0\0\0";
        let m = meta(b"k", v, Flags::default());
        assert!(!decode(&encode(&m, b"k", v)).unwrap().is_tombstone());
    }

    #[test]
    fn combined_and_direct_crc_agree() {
        let m = meta(b"key", b"value", Flags::default());
        assert_eq!(
            encode_header(&m, &payload_crc(b"key", b"value")),
            encode_header_for(&m, b"key", b"value")
        );
    }

    #[test]
    fn every_single_bit_flip_is_detected() {
        let m = meta(b"abc", b"0123456789", Flags::BATCH.with(Flags::BATCH_END));
        let rec = encode(&m, b"abc", b"0123456789");
        for byte in 0..rec.len() {
            for bit in 0..8 {
                let mut bad = rec.clone();
                bad[byte] ^= 1 << bit;
                assert!(
                    decode(&bad).is_err(),
                    "flip at byte {byte} bit {bit} undetected"
                );
            }
        }
    }

    #[test]
    fn oversized_lengths_rejected_before_allocation() {
        let m = meta(b"k", b"v", Flags::default());
        let mut rec = encode(&m, b"k", b"v");
        rec[VAL_LEN..VAL_LEN + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(
            decode(&rec),
            Err(RecordError::Invalid("value length over the limit"))
        );
    }

    proptest! {
        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode(&bytes);
        }

        #[test]
        fn round_trip(key in proptest::collection::vec(any::<u8>(), 0..64),
                      value in proptest::collection::vec(any::<u8>(), 0..256),
                      seq: u64, expiry: u64, tomb: bool) {
            let value = if tomb { Vec::new() } else { value };
            let flags = if tomb { Flags::TOMBSTONE } else { Flags::default() };
            let m = RecordMeta { seq, timestamp: 1, expiry, flags,
                key_len: key.len() as u32, value_len: value.len() as u32 };
            let rec = encode(&m, &key, &value);
            prop_assert_eq!(decode(&rec), Ok(m));
            prop_assert_eq!(decode(&rec[..rec.len() - 1]).is_err(), true);
        }
    }
}
