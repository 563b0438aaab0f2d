//! The 16-byte header at the start of every data and hint file.
//!
//! ```text
//! offset  size  field
//!      0     4  magic     b"CCBD" for data files, b"CCBH" for hint files
//!      4     2  version   u16: 1 for data files, 2 for hint files
//!      6     1  kind      0 = written by the writer (log), 1 = written by merge
//!      7     1  reserved  0
//!      8     4  file_id   u32, the id in the file's name (catches renamed/copied files)
//!     12     4  crc       CRC-32 of bytes 0..12
//! ```

use super::le_u32;

/// Length of every file header.
pub const HEADER_LEN: usize = 16;
/// The only data file format version this build writes and reads.
pub const FORMAT_VERSION: u16 = 1;

/// Which kind of file a header introduces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Magic {
    /// A data file (`NNNNNNNNNN.data`).
    Data,
    /// A hint file (`NNNNNNNNNN.hint`).
    Hint,
}

impl Magic {
    const fn bytes(self) -> [u8; 4] {
        match self {
            Self::Data => *b"CCBD",
            Self::Hint => *b"CCBH",
        }
    }

    /// Each kind of file has its own version, so the hint format can change without
    /// making older data files unreadable.
    const fn version(self) -> u16 {
        match self {
            Self::Data => FORMAT_VERSION,
            Self::Hint => super::hint::HINT_VERSION,
        }
    }
}

/// Who wrote a data file. Recovery only ever appends to a `Log` file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    /// Written by the single writer, in sequence-number order.
    Log,
    /// Written by merge; records keep their original sequence numbers.
    Merged,
}

/// A decoded file header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileHeader {
    /// Data or hint.
    pub magic: Magic,
    /// Writer or merge.
    pub kind: FileKind,
    /// The file id recorded at creation.
    pub file_id: u32,
}

/// Why a header was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderError {
    /// Fewer than [`HEADER_LEN`] bytes.
    Short,
    /// Not our magic (or the wrong file type).
    BadMagic,
    /// Our magic, an unknown version.
    Version(u16),
    /// The header's own CRC does not match.
    Checksum,
    /// An unknown kind byte.
    BadKind(u8),
}

impl FileHeader {
    /// Encodes the header.
    #[must_use]
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[0..4].copy_from_slice(&self.magic.bytes());
        out[4..6].copy_from_slice(&self.magic.version().to_le_bytes());
        out[6] = match self.kind {
            FileKind::Log => 0,
            FileKind::Merged => 1,
        };
        out[8..12].copy_from_slice(&self.file_id.to_le_bytes());
        let crc = crc32fast::hash(&out[0..12]);
        out[12..16].copy_from_slice(&crc.to_le_bytes());
        out
    }

    /// Decodes and validates a header of the expected `magic`.
    pub fn decode(buf: &[u8], magic: Magic) -> Result<Self, HeaderError> {
        let buf = buf.get(..HEADER_LEN).ok_or(HeaderError::Short)?;
        if buf[0..4] != magic.bytes() {
            return Err(HeaderError::BadMagic);
        }
        // The CRC is checked before the version: a bit flip in the version field is
        // damage (recovery skips the header and still reads the CRC-checked records),
        // not a file from a newer build, which would make the whole database refuse
        // to open. A newer build's header carries a valid CRC.
        if crc32fast::hash(&buf[0..12]) != le_u32(buf, 12) {
            return Err(HeaderError::Checksum);
        }
        let version = u16::from_le_bytes([buf[4], buf[5]]);
        if version != magic.version() {
            return Err(HeaderError::Version(version));
        }
        let kind = match buf[6] {
            0 => FileKind::Log,
            1 => FileKind::Merged,
            other => return Err(HeaderError::BadKind(other)),
        };
        Ok(Self {
            magic,
            kind,
            file_id: le_u32(buf, 8),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_rejections() {
        let h = FileHeader {
            magic: Magic::Data,
            kind: FileKind::Merged,
            file_id: 42,
        };
        let bytes = h.encode();
        assert_eq!(FileHeader::decode(&bytes, Magic::Data), Ok(h));
        assert_eq!(
            FileHeader::decode(&bytes, Magic::Hint),
            Err(HeaderError::BadMagic)
        );
        assert_eq!(
            FileHeader::decode(&bytes[..10], Magic::Data),
            Err(HeaderError::Short)
        );
        let mut bad = bytes;
        bad[9] ^= 1;
        assert_eq!(
            FileHeader::decode(&bad, Magic::Data),
            Err(HeaderError::Checksum)
        );
        let mut v2 = bytes;
        v2[4] = 2;
        // A damaged version field is a checksum error...
        assert_eq!(
            FileHeader::decode(&v2, Magic::Data),
            Err(HeaderError::Checksum)
        );
        // ...a header a newer build wrote is a version error.
        let crc = crc32fast::hash(&v2[0..12]);
        v2[12..16].copy_from_slice(&crc.to_le_bytes());
        assert_eq!(
            FileHeader::decode(&v2, Magic::Data),
            Err(HeaderError::Version(2))
        );
    }
}
