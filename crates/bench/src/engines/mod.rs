//! One trait over every store under test, and the factory that opens them.
//!
//! Each adapter uses its engine the way its own documentation recommends for a
//! single-key write, so the comparison is of engines, not of how cleverly the harness
//! batches:
//!
//! | engine    | one `put` is                          | durable `put` adds                |
//! |-----------|---------------------------------------|-----------------------------------|
//! | ccbitcask | `Bitcask::put` (one `write()`)        | `SyncPolicy::Always` (group commit) |
//! | redb      | one write transaction, `Durability::None` | `Durability::Immediate`       |
//! | fjall     | `Keyspace::insert` (journal flushed to the OS) | `Database::persist(SyncData)` |
//! | sled      | `Db::insert`                          | `Db::flush()`                     |
//! | rocksdb   | `DB::put_opt` (WAL, no sync)          | `WriteOptions::set_sync(true)`    |
//!
//! Every non-durable `put` reaches at least the OS page cache (or the engine's own
//! log buffer, for sled) before it returns; `sync` makes everything durable.
//! `get` returns the value's length after the engine has produced the value in its
//! natural zero-copy form (`Bytes`, `AccessGuard`, `Slice`, `IVec`), so no adapter pays
//! for a copy the engine would not make.

#[cfg(any(
    feature = "redb",
    feature = "fjall",
    feature = "sled",
    feature = "rocksdb"
))]
mod peers;

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::{bail, Result};
use ccbitcask_engine::{Bitcask, SyncPolicy};

/// The operations every workload needs. `&self` methods are called from many threads
/// at once (through `std::thread::scope`), so every adapter is `Send + Sync`.
pub trait Engine: Send + Sync {
    /// Writes one key. Durable or not depends on [`OpenOptions::durable`].
    fn put(&self, key: &[u8], value: &[u8]) -> Result<()>;
    /// Reads one key; `Some(len)` of the value if present.
    fn get(&self, key: &[u8]) -> Result<Option<usize>>;
    /// Removes one key.
    fn delete(&self, key: &[u8]) -> Result<()>;
    /// Makes every write so far durable (fsync or the engine's equivalent).
    fn sync(&self) -> Result<()>;
    /// Runs the engine's space reclamation to completion where it offers one
    /// (ccbitcask `merge`, redb `compact`, fjall `major_compact`, rocksdb
    /// `compact_range`). sled has no such call and does nothing here.
    fn compact(&mut self) -> Result<()>;
    /// Closes cleanly, releasing files and locks before returning.
    fn close(self: Box<Self>) -> Result<()>;
    /// The directory the store lives in.
    fn dir(&self) -> &Path;
    /// Bytes the store occupies on disk now, as `du` counts them (allocated blocks,
    /// so preallocated or sparse files count for what they really hold).
    fn disk_bytes(&self) -> Result<u64> {
        Ok(crate::raw::disk_usage(self.dir())?.0)
    }
}

/// How a store is opened for a workload.
#[derive(Clone, Copy, Debug, Default)]
pub struct OpenOptions {
    /// Every `put` is durable when it returns.
    pub durable: bool,
    /// ccbitcask only: data file size limit (`None` keeps the engine's default).
    pub max_file_size: Option<u64>,
}

/// The engines the harness knows; `Rocksdb` exists only with the `rocksdb` feature.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EngineKind {
    /// This project.
    Ccbitcask,
    /// Copy-on-write B-tree (redb 4).
    Redb,
    /// LSM-tree (fjall 3).
    Fjall,
    /// Bw-tree-like log-structured B+ tree (sled 0.34).
    Sled,
    /// LSM-tree in C++ (rocksdb), behind the `rocksdb` feature.
    Rocksdb,
}

impl EngineKind {
    /// Every engine the harness knows, ccbitcask first.
    pub const ALL: [EngineKind; 5] = [
        Self::Ccbitcask,
        Self::Redb,
        Self::Fjall,
        Self::Sled,
        Self::Rocksdb,
    ];

    /// Every engine compiled into this binary (peers are cargo features).
    pub fn available() -> Vec<EngineKind> {
        Self::ALL.into_iter().filter(|k| k.compiled_in()).collect()
    }

    /// Whether this binary was built with the engine's cargo feature.
    pub fn compiled_in(self) -> bool {
        match self {
            Self::Ccbitcask => true,
            Self::Redb => cfg!(feature = "redb"),
            Self::Fjall => cfg!(feature = "fjall"),
            Self::Sled => cfg!(feature = "sled"),
            Self::Rocksdb => cfg!(feature = "rocksdb"),
        }
    }

    /// The name used on the command line and in tables.
    pub fn name(self) -> &'static str {
        match self {
            Self::Ccbitcask => "ccbitcask",
            Self::Redb => "redb",
            Self::Fjall => "fjall",
            Self::Sled => "sled",
            Self::Rocksdb => "rocksdb",
        }
    }

    /// Opens (creating if needed) a store of this kind in `dir`.
    pub fn open(self, dir: &Path, opts: OpenOptions) -> Result<Box<dyn Engine>> {
        std::fs::create_dir_all(dir)?;
        Ok(match self {
            Self::Ccbitcask => Box::new(CcbitcaskEngine::open(dir, opts)?),
            #[cfg(feature = "redb")]
            Self::Redb => Box::new(peers::RedbEngine::open(dir, opts)?),
            #[cfg(feature = "fjall")]
            Self::Fjall => Box::new(peers::FjallEngine::open(dir, opts)?),
            #[cfg(feature = "sled")]
            Self::Sled => Box::new(peers::SledEngine::open(dir, opts)?),
            #[cfg(feature = "rocksdb")]
            Self::Rocksdb => Box::new(peers::RocksdbEngine::open(dir, opts)?),
            #[allow(unreachable_patterns, reason = "reachable when a peer feature is off")]
            other => bail!("{other} is not compiled in: build with `--features {other}`"),
        })
    }
}

impl fmt::Display for EngineKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for EngineKind {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> Result<Self> {
        let Some(kind) = Self::ALL.into_iter().find(|k| k.name() == s) else {
            bail!("unknown engine {s:?} (ccbitcask, redb, fjall, sled, rocksdb)");
        };
        if !kind.compiled_in() {
            bail!("{s} is not compiled in: build with `--features {s}`");
        }
        Ok(kind)
    }
}

/// ccbitcask through its public API. The handle is an `Arc` inside, so threads that
/// share `&CcbitcaskEngine` share exactly what cloned handles would.
pub struct CcbitcaskEngine {
    db: Bitcask,
    dir: PathBuf,
}

impl CcbitcaskEngine {
    /// Opens with `SyncPolicy::Always` when durable, `SyncPolicy::None` otherwise.
    pub fn open(dir: &Path, opts: OpenOptions) -> Result<Self> {
        let policy = if opts.durable {
            SyncPolicy::Always
        } else {
            SyncPolicy::None
        };
        let mut builder = Bitcask::builder(dir).sync(policy);
        if let Some(limit) = opts.max_file_size {
            builder = builder.max_file_size(limit);
        }
        Ok(Self {
            db: builder.open()?,
            dir: dir.to_path_buf(),
        })
    }

    /// Wraps a handle opened with options the generic [`OpenOptions`] do not cover.
    pub fn from_handle(db: Bitcask, dir: &Path) -> Self {
        Self {
            db,
            dir: dir.to_path_buf(),
        }
    }

    /// The underlying handle, for the ccbitcask-only workloads.
    pub fn handle(&self) -> &Bitcask {
        &self.db
    }
}

impl Engine for CcbitcaskEngine {
    fn put(&self, key: &[u8], value: &[u8]) -> Result<()> {
        Ok(self.db.put(key, value)?)
    }

    fn get(&self, key: &[u8]) -> Result<Option<usize>> {
        Ok(self.db.get(key)?.map(|v| v.len()))
    }

    fn delete(&self, key: &[u8]) -> Result<()> {
        self.db.delete(key)?;
        Ok(())
    }

    fn sync(&self) -> Result<()> {
        Ok(self.db.sync()?)
    }

    fn compact(&mut self) -> Result<()> {
        self.db.merge()?;
        Ok(())
    }

    fn close(self: Box<Self>) -> Result<()> {
        Ok(self.db.close()?)
    }

    fn dir(&self) -> &Path {
        &self.dir
    }
}
