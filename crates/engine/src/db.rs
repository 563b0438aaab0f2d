//! The database handle and its read path.

use crate::background::Background;
use crate::batch::{BatchOp, WriteBatch};
use crate::config::{Builder, Clock, Durability, Options};
use crate::datafile::table::FileTable;
use crate::datafile::DataFile;
use crate::error::{Error, Result};
use crate::format::record::{self, RECORD_HEADER_LEN};
use crate::keydir::{Keydir, Loc};
use crate::merge::MergeHistory;
use crate::vfs::VfsLock;
use crate::writer::{Op, Writer};
use bytes::{Buf, Bytes};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, Mutex};

/// Shared state behind every clone of a [`Bitcask`] handle and its background threads.
#[derive(Debug)]
pub(crate) struct Inner {
    pub opts: Options,
    pub clock: Arc<dyn Clock>,
    pub keydir: Keydir,
    /// Every readable data file.
    pub files: FileTable,
    /// `None` for a read-only handle.
    pub writer: Option<Mutex<Writer>>,
    /// Highest sequence number appended.
    pub written_seq: AtomicU64,
    /// Highest sequence number known durable.
    pub synced_seq: AtomicU64,
    /// Whether a group-commit leader is fsyncing now; see [`Inner::sync_upto`].
    pub sync_lock: Mutex<bool>,
    /// Signalled when a group-commit fsync ends.
    pub sync_done: std::sync::Condvar,
    /// Set after a failed write or fsync; see [`Error::Poisoned`].
    pub poisoned: AtomicBool,
    pub next_file_id: AtomicU32,
    /// Held for the whole of a merge and while a hint file is written, so neither ever
    /// sees a file disappear under it.
    pub merge_lock: Mutex<()>,
    pub merge_history: Mutex<MergeHistory>,
    /// Where `purge_expired` resumes, so repeated sweeps cover the whole keydir.
    pub expiry_cursor: AtomicU64,
    pub background: Background,
    /// The writer's `flock`; released when the last handle is gone.
    pub lock: Mutex<Option<Box<dyn VfsLock>>>,
    /// A weak pointer to this `Inner`, for threads spawned from `&self` methods.
    pub me: std::sync::OnceLock<std::sync::Weak<Inner>>,
    /// What opening found.
    pub open_report: crate::recovery::OpenReport,
}

impl Inner {
    pub(crate) fn self_arc(&self) -> Option<Arc<Inner>> {
        self.me.get().and_then(std::sync::Weak::upgrade)
    }

    /// The active file's id; `None` for a read-only handle.
    ///
    /// A poisoned writer lock still names its active file: merge planning and hint
    /// restoration must go on treating that file as active, never as a sealed one they
    /// may rewrite or hint.
    pub(crate) fn active_id(&self) -> Option<u32> {
        self.active_end().map(|(id, _)| id)
    }

    /// The active file's id and where its last record ends.
    pub(crate) fn active_end(&self) -> Option<(u32, u64)> {
        self.writer.as_ref().map(|w| {
            let w = w.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            (w.active.id, w.offset)
        })
    }

    pub(crate) fn file(&self, id: u32) -> Option<Arc<DataFile>> {
        self.files.get(id)
    }

    pub(crate) fn publish_file(&self, f: Arc<DataFile>) {
        self.files.insert(f);
    }

    pub(crate) fn is_expired(&self, expiry: Option<u64>) -> bool {
        expiry.is_some_and(|at| at <= self.clock.now_ms())
    }

    /// Reads and verifies the record at `loc`, which should hold `key`.
    pub(crate) fn read_record(&self, key: &[u8], loc: Loc) -> Result<Read> {
        let mut buf = vec![0u8; loc.size as usize];
        let Some(read) = self.files.with(loc.file_id, |file| {
            file.file.read_exact_at(&mut buf, u64::from(loc.offset))
        }) else {
            return Ok(Read::FileGone);
        };
        read.map_err(|e| Error::io("read", crate::fs::data_path(&self.opts.dir, loc.file_id), e))?;
        let meta = record::decode(&buf)
            .map_err(|e| Error::corrupt(loc.file_id, u64::from(loc.offset), e.to_string()))?;
        let key_end = RECORD_HEADER_LEN + meta.key_len as usize;
        if meta.is_tombstone() {
            return Err(Error::corrupt(
                loc.file_id,
                u64::from(loc.offset),
                "keydir points at a tombstone",
            ));
        }
        if buf.get(RECORD_HEADER_LEN..key_end) != Some(key) {
            return Ok(Read::OtherKey);
        }
        // The buffer is exactly the record's size, so it becomes a `Bytes` without a copy
        // or a second allocation, and advancing past the header and key only moves a
        // pointer (`slice` would allocate a shared header).
        let mut value = Bytes::from(buf);
        value.advance(key_end);
        Ok(Read::Value(value))
    }
}

/// What [`Inner::read_record`] found.
pub(crate) enum Read {
    /// The value.
    Value(Bytes),
    /// The record is valid but belongs to another key whose hash tag collides.
    OtherKey,
    /// The file was retired by a merge after the keydir lookup: look again.
    FileGone,
}

/// A handle to an open database: synchronous, `Send + Sync`, and cheap to clone.
///
/// The database is closed (background threads stopped, data synced, the lock released)
/// when the last clone is dropped or [`Bitcask::close`] is called on it.
#[derive(Clone, Debug)]
pub struct Bitcask {
    handle: Arc<Handle>,
}

/// Closing happens when this is dropped; background threads hold `Arc<Inner>`, not this,
/// so they never keep a database open that its users have let go of.
#[derive(Debug)]
struct Handle {
    inner: Arc<Inner>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        if let Err(e) = self.inner.shutdown() {
            tracing::error!(error = %e, "closing the database failed");
        }
    }
}

impl Bitcask {
    /// Opens (creating if needed) the database in `dir` with default options.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self> {
        Self::builder(dir).open()
    }

    /// A builder for opening `dir` with options.
    pub fn builder(dir: impl AsRef<Path>) -> Builder {
        Builder::new(dir.as_ref().to_path_buf())
    }

    pub(crate) fn open_with(opts: Options) -> Result<Self> {
        let inner = Arc::new(crate::recovery::open(opts)?);
        let _ = inner.me.set(Arc::downgrade(&inner));
        crate::background::start(&inner);
        Ok(Self {
            handle: Arc::new(Handle { inner }),
        })
    }

    pub(crate) fn inner(&self) -> &Arc<Inner> {
        &self.handle.inner
    }

    /// The value of `key`, or `None` if it is missing or expired.
    pub fn get(&self, key: &[u8]) -> Result<Option<Bytes>> {
        Ok(self.get_entry(key)?.map(|(v, _)| v))
    }

    /// The value of `key` and its expiry (ms since the epoch), if live.
    /// One keydir lookup, one positioned read of exactly the record, one CRC check.
    pub fn get_entry(&self, key: &[u8]) -> Result<Option<(Bytes, Option<u64>)>> {
        let inner = self.inner();
        // A merge can retire a file between the lookup and the read; the keydir then
        // already points at the merged copy, so looking again always makes progress.
        for _ in 0..16 {
            let found = inner.keydir.candidates(key);
            let mut retry = found.overflow;
            for &(loc, expiry) in &found.items[..found.len] {
                // A candidate may belong to another key whose tag collides. If its record
                // cannot be read we cannot tell whose it is, and one damaged record must
                // not make unrelated keys unreadable: decide by the exact lookup below.
                let Ok(read) = inner.read_record(key, loc) else {
                    retry = true;
                    continue;
                };
                match read {
                    Read::OtherKey => {}
                    Read::FileGone => retry = true,
                    Read::Value(v) => {
                        if inner.is_expired(expiry) {
                            if inner.writer.is_some() && inner.keydir.remove_if_at(key, loc) {
                                inner.kill(loc);
                            }
                            return Ok(None);
                        }
                        return Ok(Some((v, expiry)));
                    }
                }
            }
            if !retry {
                return Ok(None);
            }
            // Pathological tag collisions, a retired file or an unreadable candidate:
            // the exact lookup decides, and its errors are this key's own.
            let Some((loc, expiry)) = inner.keydir.get(key) else {
                return Ok(None);
            };
            if inner.is_expired(expiry) {
                return Ok(None);
            }
            if let Read::Value(v) = inner.read_record(key, loc)? {
                return Ok(Some((v, expiry)));
            }
        }
        Err(Error::corrupt(
            0,
            0,
            "keydir points at a file that no longer exists",
        ))
    }

    /// Prepares reads of `keys` that follow at once (a pipeline of `GET`s, an `MGET`):
    /// fetches their keydir entries into the CPU cache together, so the cache misses of
    /// all the lookups overlap instead of queueing. A performance hint only: it reads no
    /// file, changes nothing, and the reads that follow answer exactly as without it.
    /// One key alone is not worth it and is skipped.
    pub fn prefetch<K: AsRef<[u8]>>(&self, keys: impl IntoIterator<Item = K>) {
        self.inner().keydir.prefetch_many(keys);
    }

    /// Whether `key` is live. Answered from RAM.
    pub fn exists(&self, key: &[u8]) -> bool {
        self.expiry(key).is_some()
    }

    /// `None` if `key` is missing or expired, else its expiry (`Some(None)`: never).
    pub fn expiry(&self, key: &[u8]) -> Option<Option<u64>> {
        let inner = self.inner();
        let (_, expiry) = inner.keydir.get(key)?;
        (!inner.is_expired(expiry)).then_some(expiry)
    }

    /// Sets `key` to `value`.
    pub fn put(&self, key: &[u8], value: &[u8]) -> Result<()> {
        self.put_with_expiry(key, value, None)
    }

    /// Sets `key` to `value`, expiring at `expiry_ms` (ms since the epoch) if given.
    pub fn put_with_expiry(&self, key: &[u8], value: &[u8], expiry_ms: Option<u64>) -> Result<()> {
        self.inner()
            .write_ops(
                &[Op::Put {
                    key,
                    value,
                    expiry: expiry_ms,
                }],
                false,
                Durability::Policy,
            )
            .map(drop)
    }

    /// Deletes `key`. Returns whether it was live; deleting a missing key writes nothing.
    pub fn delete(&self, key: &[u8]) -> Result<bool> {
        self.inner()
            .write_ops(&[Op::Delete { key }], false, Durability::Policy)
    }

    /// Applies every operation of `batch` atomically.
    pub fn write_batch(&self, batch: &WriteBatch) -> Result<()> {
        self.write_batch_with(batch, Durability::Policy)
    }

    /// Applies `batch` atomically, choosing whether to wait for the sync policy.
    pub fn write_batch_with(&self, batch: &WriteBatch, durability: Durability) -> Result<()> {
        let ops: Vec<Op<'_>> = batch
            .ops
            .iter()
            .map(|op| match op {
                BatchOp::Put { key, value, expiry } => Op::Put {
                    key,
                    value,
                    expiry: *expiry,
                },
                BatchOp::Delete { key } => Op::Delete { key },
            })
            .collect();
        self.inner().write_ops(&ops, true, durability).map(drop)
    }

    /// Makes everything written so far durable.
    pub fn sync(&self) -> Result<()> {
        self.inner().sync_all()
    }

    /// Live keys, not counting expired ones.
    pub fn len(&self) -> usize {
        let inner = self.inner();
        inner.keydir.len() - inner.keydir.count_expired(inner.clock.now_ms())
    }

    /// Whether there are no live keys.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every live key, in no particular order.
    pub fn keys(&self) -> Vec<Bytes> {
        let mut out = Vec::new();
        let now = self.inner().clock.now_ms();
        self.inner().keydir.scan(0, |k, _, exp| {
            if exp.is_none_or(|at| at > now) {
                out.push(Bytes::copy_from_slice(k));
            }
            true
        });
        out
    }

    /// Redis-style incremental iteration: returns up to about `count` keys and the cursor
    /// to continue from (0 when done). Keys live for the whole iteration are returned at
    /// least once.
    pub fn scan(&self, cursor: u64, count: usize) -> (u64, Vec<Bytes>) {
        let now = self.inner().clock.now_ms();
        let mut out = Vec::new();
        let mut visited = 0usize;
        let next = self.inner().keydir.scan(cursor, |k, _, exp| {
            if exp.is_none_or(|at| at > now) {
                out.push(Bytes::copy_from_slice(k));
            }
            visited += 1;
            visited < count.max(1)
        });
        (next, out)
    }

    /// Folds over every live entry. Keys written during the fold may or may not be seen.
    pub fn fold<B>(&self, init: B, mut f: impl FnMut(B, &[u8], &[u8]) -> B) -> Result<B> {
        let mut acc = init;
        let mut cursor = 0;
        loop {
            let (next, keys) = self.scan(cursor, 1024);
            for key in keys {
                if let Some(value) = self.get(&key)? {
                    acc = f(acc, &key, &value);
                }
            }
            if next == 0 {
                return Ok(acc);
            }
            cursor = next;
        }
    }

    /// Drops up to `max` expired keys from RAM (Redis's active expiry). Their records
    /// stay on disk until merge, where they shadow older versions like tombstones do.
    pub fn purge_expired(&self, max: usize) -> usize {
        let inner = self.inner();
        if inner.writer.is_none() {
            return 0;
        }
        let now = inner.clock.now_ms();
        let mut expired = Vec::new();
        let mut visited = 0usize;
        let start = inner.expiry_cursor.load(SeqCst);
        let next = inner.keydir.scan(start, |k, loc, exp| {
            if exp.is_some_and(|at| at <= now) {
                expired.push((k.to_vec(), loc));
            }
            visited += 1;
            expired.len() < max && visited < max.saturating_mul(20).max(1000)
        });
        inner.expiry_cursor.store(next, SeqCst);
        let mut n = 0;
        for (key, loc) in expired {
            if inner.keydir.remove_if_at(&key, loc) {
                inner.kill(loc);
                n += 1;
            }
        }
        n
    }

    /// Deletes every key; returns how many there were.
    pub fn clear(&self) -> Result<u64> {
        let mut n = 0;
        for chunk in self.keys().chunks(1024) {
            let ops: Vec<Op<'_>> = chunk.iter().map(|k| Op::Delete { key: k }).collect();
            self.inner().write_ops(&ops, true, Durability::Policy)?;
            n += chunk.len() as u64;
        }
        Ok(n)
    }

    /// The engine's clock, in ms since the epoch.
    pub fn now_ms(&self) -> u64 {
        self.inner().clock.now_ms()
    }

    /// The database directory.
    pub fn path(&self) -> &Path {
        &self.inner().opts.dir
    }

    /// Syncs, and if this is the last handle, closes the database and reports any error
    /// that closing hits (dropping the last handle closes too, but can only log them).
    pub fn close(self) -> Result<()> {
        self.sync()?;
        match Arc::try_unwrap(self.handle) {
            Ok(handle) => {
                let inner = Arc::clone(&handle.inner);
                let result = inner.shutdown();
                drop(handle);
                result
            }
            Err(_) => Ok(()),
        }
    }
}

impl Inner {
    /// Stops background work, syncs and releases the lock. Idempotent.
    pub(crate) fn shutdown(&self) -> Result<()> {
        if !self.background.stop_and_join() {
            return Ok(());
        }
        let result = if self.writer.is_some() && !self.poisoned.load(SeqCst) {
            self.sync_all().and_then(|()| self.trim_active())
        } else {
            Ok(())
        };
        *self
            .lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_poisoned_writer_lock_still_names_the_active_file() {
        let dir = tempfile::tempdir().unwrap();
        let db = Bitcask::builder(dir.path()).open().unwrap();
        db.put(b"k", b"v").unwrap();
        let inner = Arc::clone(&db.handle.inner);
        let active = inner.active_id();
        assert!(active.is_some());
        let poisoner = Arc::clone(&inner);
        let panicked = std::thread::spawn(move || {
            let _held = poisoner.writer.as_ref().unwrap().lock();
            panic!("poisoning the writer lock on purpose");
        })
        .join();
        assert!(panicked.is_err());
        assert!(inner.writer.as_ref().unwrap().is_poisoned());
        // Otherwise merge planning would count the active file among the sealed ones.
        assert_eq!(inner.active_id(), active);
    }
}
