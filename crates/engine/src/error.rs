//! The engine's one error type.
//!
//! Every variant says what failed and where: the operation and path for I/O, the file id
//! and offset for corruption. Callers match on variants; the `Display` text is a single
//! line meant for an operator.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// Result alias used throughout the engine.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the engine.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// An operating-system call failed.
    Io {
        /// What the engine was doing (`"open"`, `"write"`, `"fsync"`, ...).
        op: &'static str,
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error, also exposed through `source()`.
        source: io::Error,
    },
    /// Bytes on disk do not form what the format promises (bad CRC, impossible length...).
    Corrupt {
        /// Data or hint file id.
        file_id: u32,
        /// Byte offset of the damaged record inside that file.
        offset: u64,
        /// What exactly is wrong.
        reason: String,
    },
    /// A file starts with the right magic but a format version we cannot read.
    UnsupportedVersion {
        /// The file that carries it.
        path: PathBuf,
        /// The version found.
        version: u16,
    },
    /// Another process holds the write lock on the database directory.
    Locked {
        /// The lock file.
        path: PathBuf,
        /// The holder's pid, as it recorded it (informational only; the lock is the `flock`).
        pid: Option<u32>,
    },
    /// The key is longer than [`crate::MAX_KEY_SIZE`]; nothing was written.
    KeyTooLarge {
        /// Length given.
        len: usize,
        /// Largest length accepted.
        max: usize,
    },
    /// The value is longer than [`crate::MAX_VALUE_SIZE`]; nothing was written.
    ValueTooLarge {
        /// Length given.
        len: usize,
        /// Largest length accepted.
        max: usize,
    },
    /// The handle was opened read-only.
    ReadOnly,
    /// An earlier write or fsync failed, so the state of the active file is unknown;
    /// writes are refused until the database is reopened (reads still work).
    Poisoned,
    /// A merge is already running on this database.
    MergeInProgress,
    /// The path given as a database is not a directory.
    NotADirectory(PathBuf),
    /// An option value is out of range.
    InvalidOption(String),
}

impl Error {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        Self::Io {
            op,
            path: path.into(),
            source,
        }
    }

    pub(crate) fn corrupt(file_id: u32, offset: u64, reason: impl Into<String>) -> Self {
        Self::Corrupt {
            file_id,
            offset,
            reason: reason.into(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io { op, path, source } => {
                write!(f, "{op} {}: {source}", path.display())
            }
            Self::Corrupt {
                file_id,
                offset,
                reason,
            } => write!(f, "corrupt data in file {file_id} at offset {offset}: {reason}"),
            Self::UnsupportedVersion { path, version } => write!(
                f,
                "{} has format version {version}, which this build cannot read",
                path.display()
            ),
            Self::Locked { path, pid: Some(pid) } => {
                write!(f, "database is locked by pid {pid} ({})", path.display())
            }
            Self::Locked { path, pid: None } => {
                write!(f, "database is locked by another process ({})", path.display())
            }
            Self::KeyTooLarge { len, max } => {
                write!(f, "key of {len} bytes is larger than the {max}-byte limit")
            }
            Self::ValueTooLarge { len, max } => {
                write!(f, "value of {len} bytes is larger than the {max}-byte limit")
            }
            Self::ReadOnly => f.write_str("database was opened read-only"),
            Self::Poisoned => f.write_str(
                "an earlier write or fsync failed; writes are refused until the database is reopened",
            ),
            Self::MergeInProgress => f.write_str("a merge is already running"),
            Self::NotADirectory(p) => write!(f, "{} is not a directory", p.display()),
            Self::InvalidOption(s) => write!(f, "invalid option: {s}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}
