//! Adapters for the peer engines: redb, fjall, sled and (behind the `rocksdb` feature)
//! rocksdb.
//!
//! Each is opened with its defaults (cache sizes, compression, compaction strategy),
//! because those are what a user gets; the only knob we turn is durability, mapped to
//! each engine's own notion of it (see the table in the parent module). Values are
//! random bytes, so fjall's default LZ4 and rocksdb's Snappy gain nothing and cost
//! little.

use std::path::{Path, PathBuf};

use anyhow::Result;
#[cfg(feature = "redb")]
use redb::ReadableDatabase;

use super::{Engine, OpenOptions};

#[cfg(feature = "redb")]
/// The one table every redb workload uses.
const REDB_TABLE: redb::TableDefinition<&[u8], &[u8]> = redb::TableDefinition::new("bench");

#[cfg(feature = "redb")]
/// redb: a copy-on-write B-tree in one file. Each `put` is its own write transaction,
/// as a single-key write would be in an application.
pub struct RedbEngine {
    dir: PathBuf,
    db: redb::Database,
    durability: redb::Durability,
}

#[cfg(feature = "redb")]
impl RedbEngine {
    /// Creates or opens `dir/bench.redb` and makes sure the table exists.
    pub fn open(dir: &Path, opts: OpenOptions) -> Result<Self> {
        let db = redb::Database::create(dir.join("bench.redb"))?;
        let tx = db.begin_write()?;
        tx.open_table(REDB_TABLE)?;
        tx.commit()?;
        let durability = if opts.durable {
            redb::Durability::Immediate
        } else {
            redb::Durability::None
        };
        Ok(Self {
            db,
            durability,
            dir: dir.to_path_buf(),
        })
    }

    fn write(
        &self,
        durability: redb::Durability,
        op: impl FnOnce(&mut redb::Table<'_, &[u8], &[u8]>) -> Result<()>,
    ) -> Result<()> {
        let mut tx = self.db.begin_write()?;
        tx.set_durability(durability)?;
        {
            let mut table = tx.open_table(REDB_TABLE)?;
            op(&mut table)?;
        }
        tx.commit()?;
        Ok(())
    }
}

#[cfg(feature = "redb")]
impl Engine for RedbEngine {
    fn put(&self, key: &[u8], value: &[u8]) -> Result<()> {
        self.write(self.durability, |t| {
            t.insert(key, value)?;
            Ok(())
        })
    }

    fn get(&self, key: &[u8]) -> Result<Option<usize>> {
        let tx = self.db.begin_read()?;
        let table = tx.open_table(REDB_TABLE)?;
        Ok(table.get(key)?.map(|guard| guard.value().len()))
    }

    fn delete(&self, key: &[u8]) -> Result<()> {
        self.write(self.durability, |t| {
            t.remove(key)?;
            Ok(())
        })
    }

    fn sync(&self) -> Result<()> {
        // An empty durable commit persists every earlier non-durable one.
        self.write(redb::Durability::Immediate, |_| Ok(()))
    }

    fn compact(&mut self) -> Result<()> {
        // `compact` returns whether it made progress; a handful of passes reaches the
        // fixed point, and the bound keeps a pathological case from spinning forever.
        for _ in 0..64 {
            if !self.db.compact()? {
                break;
            }
        }
        Ok(())
    }

    fn close(self: Box<Self>) -> Result<()> {
        // Commits made with `Durability::None` are only kept if a durable commit follows;
        // an application closing cleanly makes that commit, so the harness does too.
        self.sync()?;
        drop(self);
        Ok(())
    }

    fn dir(&self) -> &Path {
        &self.dir
    }
}

#[cfg(feature = "fjall")]
/// fjall: an LSM-tree with a journal. One keyspace, default options.
pub struct FjallEngine {
    dir: PathBuf,
    db: fjall::Database,
    keyspace: fjall::Keyspace,
    durable: bool,
}

#[cfg(feature = "fjall")]
impl FjallEngine {
    /// Opens the database in `dir` with one keyspace named `bench`.
    pub fn open(dir: &Path, opts: OpenOptions) -> Result<Self> {
        let db = fjall::Database::builder(dir).open()?;
        let keyspace = db.keyspace("bench", fjall::KeyspaceCreateOptions::default)?;
        Ok(Self {
            db,
            keyspace,
            durable: opts.durable,
            dir: dir.to_path_buf(),
        })
    }
}

#[cfg(feature = "fjall")]
impl Engine for FjallEngine {
    fn put(&self, key: &[u8], value: &[u8]) -> Result<()> {
        self.keyspace.insert(key, value)?;
        if self.durable {
            self.db.persist(fjall::PersistMode::SyncData)?;
        }
        Ok(())
    }

    fn get(&self, key: &[u8]) -> Result<Option<usize>> {
        Ok(self.keyspace.get(key)?.map(|v| v.len()))
    }

    fn delete(&self, key: &[u8]) -> Result<()> {
        self.keyspace.remove(key)?;
        if self.durable {
            self.db.persist(fjall::PersistMode::SyncData)?;
        }
        Ok(())
    }

    fn sync(&self) -> Result<()> {
        Ok(self.db.persist(fjall::PersistMode::SyncData)?)
    }

    fn compact(&mut self) -> Result<()> {
        // Flush the memtable first so the major compaction sees every version.
        self.keyspace.rotate_memtable_and_wait()?;
        Ok(self.keyspace.major_compact()?)
    }

    fn close(self: Box<Self>) -> Result<()> {
        self.db.persist(fjall::PersistMode::SyncAll)?;
        drop(self);
        Ok(())
    }

    fn dir(&self) -> &Path {
        &self.dir
    }
}

#[cfg(feature = "sled")]
/// sled 0.34: a lock-free B+ tree over a log-structured page store.
pub struct SledEngine {
    dir: PathBuf,
    db: sled::Db,
    durable: bool,
}

#[cfg(feature = "sled")]
impl SledEngine {
    /// Opens the tree in `dir` with the default configuration.
    pub fn open(dir: &Path, opts: OpenOptions) -> Result<Self> {
        Ok(Self {
            db: sled::open(dir)?,
            durable: opts.durable,
            dir: dir.to_path_buf(),
        })
    }
}

#[cfg(feature = "sled")]
impl Engine for SledEngine {
    fn put(&self, key: &[u8], value: &[u8]) -> Result<()> {
        self.db.insert(key, value)?;
        if self.durable {
            self.db.flush()?;
        }
        Ok(())
    }

    fn get(&self, key: &[u8]) -> Result<Option<usize>> {
        Ok(self.db.get(key)?.map(|v| v.len()))
    }

    fn delete(&self, key: &[u8]) -> Result<()> {
        self.db.remove(key)?;
        if self.durable {
            self.db.flush()?;
        }
        Ok(())
    }

    fn sync(&self) -> Result<()> {
        self.db.flush()?;
        Ok(())
    }

    fn compact(&mut self) -> Result<()> {
        // sled reclaims segments in the background and exposes no compaction call;
        // a flush is the most we can ask for.
        self.db.flush()?;
        Ok(())
    }

    fn close(self: Box<Self>) -> Result<()> {
        self.db.flush()?;
        drop(self);
        Ok(())
    }

    fn dir(&self) -> &Path {
        &self.dir
    }
}

/// rocksdb through the `rocksdb` crate, default options plus `create_if_missing`.
#[cfg(feature = "rocksdb")]
pub struct RocksdbEngine {
    dir: PathBuf,
    db: rocksdb::DB,
    write: rocksdb::WriteOptions,
}

#[cfg(feature = "rocksdb")]
impl RocksdbEngine {
    /// Opens the database in `dir`; durable puts set `sync` on the WAL write.
    pub fn open(dir: &Path, opts: OpenOptions) -> Result<Self> {
        let mut options = rocksdb::Options::default();
        options.create_if_missing(true);
        let db = rocksdb::DB::open(&options, dir)?;
        let mut write = rocksdb::WriteOptions::default();
        write.set_sync(opts.durable);
        Ok(Self {
            db,
            write,
            dir: dir.to_path_buf(),
        })
    }
}

#[cfg(feature = "rocksdb")]
impl Engine for RocksdbEngine {
    fn put(&self, key: &[u8], value: &[u8]) -> Result<()> {
        Ok(self.db.put_opt(key, value, &self.write)?)
    }

    fn get(&self, key: &[u8]) -> Result<Option<usize>> {
        Ok(self.db.get_pinned(key)?.map(|v| v.len()))
    }

    fn delete(&self, key: &[u8]) -> Result<()> {
        Ok(self.db.delete_opt(key, &self.write)?)
    }

    fn sync(&self) -> Result<()> {
        Ok(self.db.flush_wal(true)?)
    }

    fn compact(&mut self) -> Result<()> {
        self.db.compact_range(None::<&[u8]>, None::<&[u8]>);
        Ok(())
    }

    fn close(self: Box<Self>) -> Result<()> {
        self.db.flush_wal(true)?;
        drop(self);
        Ok(())
    }

    fn dir(&self) -> &Path {
        &self.dir
    }
}
