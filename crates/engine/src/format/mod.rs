//! The on-disk format: file headers, data records and hint entries.
//!
//! Everything here is pure encoding and decoding over byte slices; no I/O. The byte-level
//! layout is documented in `docs/FORMAT.md` and repeated at the top of each codec.
//! All integers are fixed-width little-endian, and every checksum is CRC-32 (ISO-HDLC,
//! the zlib/Ethernet polynomial) as computed by `crc32fast`.

pub mod header;
pub mod hint;
pub mod manifest;
pub mod record;

/// Reads a little-endian `u32` at `at`; the caller has checked the length.
pub(crate) fn le_u32(buf: &[u8], at: usize) -> u32 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&buf[at..at + 4]);
    u32::from_le_bytes(b)
}

/// Reads a little-endian `u64` at `at`; the caller has checked the length.
pub(crate) fn le_u64(buf: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&buf[at..at + 8]);
    u64::from_le_bytes(b)
}
