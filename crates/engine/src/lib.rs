//! # ccbitcask-engine
//!
//! A Bitcask-style log-structured hash table: writes append CRC-checked records to one
//! active data file; an in-RAM *keydir* maps every key to its newest record, so a read is
//! one positioned read; deletes append tombstones; *merge* rewrites sealed files into
//! compact ones with *hint files* for fast restarts, while reads and writes go on.
//!
//! What it is not: there is no ordered iteration (the keydir is a hash), every key must
//! fit in RAM (about key length + 30 bytes each, see [`KEYDIR_BYTES_PER_KEY_OVERHEAD`]),
//! and one process writes at a time (others may open read-only).
//!
//! ```
//! # fn main() -> ccbitcask_engine::Result<()> {
//! # let dir = tempfile::tempdir().unwrap();
//! use ccbitcask_engine::{Bitcask, SyncPolicy};
//! let db = Bitcask::builder(dir.path()).sync(SyncPolicy::Always).open()?;
//! db.put(b"Key", b"Value")?;
//! assert_eq!(db.get(b"Key")?.as_deref(), Some(&b"Value"[..]));
//! db.delete(b"Key")?;
//! assert_eq!(db.get(b"Key")?, None);
//! # Ok(()) }
//! ```
//!
//! The on-disk format is specified byte by byte in `docs/FORMAT.md`; durability promises
//! per [`SyncPolicy`] are in the README.

#![deny(unsafe_code, missing_docs)]
#![warn(clippy::unwrap_used)]

mod background;
mod batch;
mod check;
mod config;
mod datafile;
mod db;
mod error;
pub mod format;
pub mod fs;
mod hintfile;
mod keydir;
mod merge;
mod recovery;
mod stats;
pub mod vfs;
mod writer;

pub use batch::WriteBatch;
pub use bytes::Bytes;
pub use check::{check, check_with, CheckReport, FileCheck, HintState};
pub use config::{
    Builder, Clock, Durability, MergeOptions, MergeWindow, SyncPolicy, SystemClock, MAX_FILE_SIZE,
    MIN_FILE_SIZE,
};
pub use datafile::scan::Damage;
pub use db::Bitcask;
pub use error::{Error, Result};
pub use format::record::{MAX_KEY_SIZE, MAX_VALUE_SIZE};
pub use merge::{MergePlan, MergeReason, MergeReport};
pub use recovery::OpenReport;
pub use stats::{FileStats, Stats};
pub use writer::ZERO_PIECE;

/// Keydir bytes per key beyond the key itself that this engine's layout is designed to
/// stay at or under at any table load: a 20-byte slot plus, for the hash index, 5.3
/// bytes per position (12 to a 64-byte line) at a load factor of 7/16 to 7/8 (6.1 to
/// 12.2 bytes per key, so 26 to 32 in all). The benchmark
/// `ccbitcask-bench keydir` measures real allocations against it, and the planner uses it.
pub const KEYDIR_BYTES_PER_KEY_OVERHEAD: f64 = 32.0;
