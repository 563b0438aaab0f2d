//! The write path: one writer appends to the active file, rolls it over at the size
//! limit, and makes records durable according to the sync policy.
//!
//! Locking: the writer mutex is held while a record is appended *and* while the keydir is
//! updated, so the keydir always reflects records in sequence order. Readers never take
//! this mutex; they only meet the writer on a keydir shard lock for the length of one
//! index update. The payload CRC is computed before the mutex is taken.

use crate::config::{Durability, SyncPolicy};
use crate::datafile::DataFile;
use crate::db::Inner;
use crate::error::{Error, Result};
use crate::format::header::{FileHeader, FileKind, Magic, HEADER_LEN};
use crate::format::record::{self, Flags, RecordMeta, MAX_KEY_SIZE, MAX_VALUE_SIZE};
use crate::fs;
use crate::keydir::Loc;
use crate::vfs::OpenMode;
use std::io::IoSlice;
use std::sync::atomic::Ordering::{Relaxed, SeqCst};
use std::sync::Arc;

/// The active file and the next sequence number.
#[derive(Debug)]
pub(crate) struct Writer {
    pub active: Arc<DataFile>,
    /// End of the active file (where the next record goes).
    pub offset: u64,
    pub next_seq: u64,
    /// Reused encoding buffer.
    pub scratch: Vec<u8>,
    /// End of the zeros preallocated after `offset` (at most `offset` when there are
    /// none): see [`Inner::preallocate`].
    pub zeroed: u64,
}

impl Writer {
    /// A writer appending to `active` at `offset`, with nothing preallocated.
    pub fn new(active: Arc<DataFile>, offset: u64, next_seq: u64) -> Self {
        Self {
            active,
            offset,
            next_seq,
            scratch: Vec::new(),
            zeroed: offset,
        }
    }
}

/// How far ahead the active file is zero-filled. Filling and syncing 1 MiB took 1.1 ms
/// on the benchmark machine, against 14.5 ms for 4 MiB; at 153-byte records it lasts
/// about 6,800 writes.
const PREALLOCATE: u64 = 1 << 20;

/// The size of the aligned writes that lay the active file's zeros down ahead of its
/// records (docs/FORMAT.md, "Preallocated zeros"). Why this size: Linux caches a file
/// in folios as large as the writes that created them (ext4 since 6.16; XFS earlier).
/// Small appends leave the page cache in 4 KiB pages, and every `pread` then walks
/// deeper into it. Measured with `examples/zero_piece_profile.rs` on the benchmark
/// machine, per random 130-byte read and per write into the file:
///
/// | zeros laid in | `pread` | 153-byte write | 2,448-byte write |
/// |---|---|---|---|
/// | none (appends) | 802–859 ns | 848 ns | 2,593 ns |
/// | 128 KiB pieces | 697–708 ns | 842 ns | 1,530 ns |
/// | 256 KiB pieces | 684–689 ns | 916 ns | 1,507 ns |
/// | 1 MiB pieces | 681–684 ns | 2,082 ns | 3,190 ns |
///
/// Larger folios make small writes dearer (the kernel walks all of a folio's blocks on
/// each one); 256 KiB is the knee. In the server it cut CPU per pipelined GET by
/// 0.13–0.2 µs (8–11 %) and raised pipelined SETs by a fifth; on one thread, gets rose
/// about 14 % and 153-byte puts fell about 5 % (docs/BENCHMARKS.md, fourteenth pass).
pub const ZERO_PIECE: u64 = 256 << 10;

/// What the zeros are copied from.
static ZEROS: [u8; ZERO_PIECE as usize] = [0; ZERO_PIECE as usize];

/// One operation handed to [`Inner::write_ops`].
#[derive(Clone, Copy, Debug)]
pub(crate) enum Op<'a> {
    Put {
        key: &'a [u8],
        value: &'a [u8],
        expiry: Option<u64>,
    },
    Delete {
        key: &'a [u8],
    },
}

impl<'a> Op<'a> {
    fn key(&self) -> &'a [u8] {
        match *self {
            Op::Put { key, .. } | Op::Delete { key } => key,
        }
    }
    fn value(&self) -> &'a [u8] {
        match *self {
            Op::Put { value, .. } => value,
            Op::Delete { .. } => &[],
        }
    }
    /// Encoded length of this operation's record.
    fn record_len(&self) -> u64 {
        record::encoded_len(self.key().len(), self.value().len())
    }
}

/// Values at least this large are checksummed outside the writer lock and written
/// from the caller's buffer.
const BIG_VALUE: usize = 64 * 1024;

/// Keys of a batch whose keydir lines are prefetched before the append: enough to cover
/// a typical batch, few enough that the first are still cached when the update runs.
const PREFETCH: usize = 16;

fn is_big(value: &[u8]) -> bool {
    value.len() >= BIG_VALUE
}

/// Rejects oversized keys and values before anything is written.
pub(crate) fn validate(key: &[u8], value: &[u8]) -> Result<()> {
    if key.len() > MAX_KEY_SIZE {
        return Err(Error::KeyTooLarge {
            len: key.len(),
            max: MAX_KEY_SIZE,
        });
    }
    if value.len() > MAX_VALUE_SIZE {
        return Err(Error::ValueTooLarge {
            len: value.len(),
            max: MAX_VALUE_SIZE,
        });
    }
    Ok(())
}

impl Inner {
    pub(crate) fn check_writable(&self) -> Result<()> {
        if self.opts.read_only {
            return Err(Error::ReadOnly);
        }
        if self.poisoned.load(SeqCst) {
            return Err(Error::Poisoned);
        }
        Ok(())
    }

    /// A failed write, fsync or truncation of data file `id`: [`Inner::poison`] with an
    /// error naming the file.
    fn data_io_failed(&self, op: &'static str, id: u32, e: std::io::Error) -> Error {
        self.poison(Error::io(op, fs::data_path(&self.opts.dir, id), e))
    }

    /// Latches the handle read-only after an I/O failure on the write path.
    pub(crate) fn poison(&self, err: Error) -> Error {
        self.poisoned.store(true, SeqCst);
        tracing::error!(error = %err, "write path failed; refusing writes until reopened");
        err
    }

    fn writer(&self) -> Result<std::sync::MutexGuard<'_, Writer>> {
        let w = self.writer.as_ref().ok_or(Error::ReadOnly)?;
        // A panic while holding the writer lock could leave the active file's state
        // unknown: treat it exactly like an I/O failure.
        w.lock().map_err(|_| self.poison(Error::Poisoned))
    }

    /// Appends `ops` (as one atomic batch when `batch`), updates the keydir, and waits for
    /// durability as the policy says. For a lone delete, returns whether the key was live;
    /// a delete of a missing key writes nothing.
    pub(crate) fn write_ops(
        &self,
        ops: &[Op<'_>],
        batch: bool,
        durability: Durability,
    ) -> Result<bool> {
        for op in ops {
            validate(op.key(), op.value())?;
        }
        self.check_writable()?;
        if ops.is_empty() {
            return Ok(false);
        }
        // Large values are checksummed before the lock is taken and combined with the
        // header's CRC under it; small ones are cheaper to hash in one pass (combining
        // costs more than hashing a few hundred bytes).
        let payloads: Vec<Option<crc32fast::Hasher>> = if ops.iter().any(|op| is_big(op.value())) {
            ops.iter()
                .map(|op| is_big(op.value()).then(|| record::payload_crc(op.key(), op.value())))
                .collect()
        } else {
            Vec::new()
        };
        let now = self.clock.now_ms();
        let mut w = self.writer()?;
        if self.poisoned.load(SeqCst) {
            return Err(Error::Poisoned);
        }
        if !batch {
            if let [Op::Delete { key }] = ops {
                match self.keydir.get(key) {
                    None => return Ok(false),
                    Some((loc, Some(exp))) if exp <= now => {
                        // Expired: its own record already shadows older versions on disk.
                        if self.keydir.remove_if_at(key, loc) {
                            self.kill(loc);
                        }
                        return Ok(false);
                    }
                    Some(_) => {}
                }
            }
        }
        let total: u64 = ops.iter().map(Op::record_len).sum();
        if w.offset > HEADER_LEN as u64 && w.offset + total > self.opts.max_file_size {
            self.rollover(&mut w)?;
        }
        self.preallocate(&mut w, total)?;
        let first_seq = w.next_seq;
        let last = ops.len() - 1;
        // Headers, keys and small values are copied into one reused buffer so a typical
        // put is a single write() with no allocation; large values go out as their own
        // iovec, without a copy.
        let mut scratch = std::mem::take(&mut w.scratch);
        scratch.clear();
        let mut big_at: Vec<(usize, &[u8])> = Vec::new();
        for (i, op) in ops.iter().enumerate() {
            let mut flags = Flags::default();
            if batch && ops.len() > 1 {
                flags = flags.with(Flags::BATCH);
                if i == last {
                    flags = flags.with(Flags::BATCH_END);
                }
            }
            let expiry = match *op {
                Op::Put { expiry, .. } => expiry.unwrap_or(0),
                Op::Delete { .. } => {
                    flags = flags.with(Flags::TOMBSTONE);
                    0
                }
            };
            let meta = RecordMeta {
                seq: first_seq + i as u64,
                timestamp: now,
                expiry,
                flags,
                key_len: op.key().len() as u32,
                value_len: op.value().len() as u32,
            };
            let header = match payloads.get(i).and_then(Option::as_ref) {
                Some(payload) => record::encode_header(&meta, payload),
                None => record::encode_header_for(&meta, op.key(), op.value()),
            };
            scratch.extend_from_slice(&header);
            scratch.extend_from_slice(op.key());
            if is_big(op.value()) {
                big_at.push((scratch.len(), op.value()));
            } else {
                scratch.extend_from_slice(op.value());
            }
        }
        // The common case, no large value, is one buffer and no allocation.
        let mut one;
        let mut many;
        let slices: &mut [IoSlice<'_>] = if big_at.is_empty() {
            one = [IoSlice::new(&scratch)];
            &mut one
        } else {
            many = Vec::with_capacity(big_at.len() * 2 + 1);
            let mut from = 0;
            for &(at, value) in &big_at {
                many.push(IoSlice::new(&scratch[from..at]));
                many.push(IoSlice::new(value));
                from = at;
            }
            many.push(IoSlice::new(&scratch[from..]));
            &mut many
        };
        // The keydir update after the append starts with a cache miss per key; started
        // now, the misses are paid while the kernel copies the records.
        for op in ops.iter().take(PREFETCH) {
            self.keydir.prefetch(op.key());
        }
        let appended = w.active.file.write_all_at(slices, w.offset);
        // Keep the buffer for the next write unless one huge batch inflated it.
        if scratch.capacity() <= 1 << 20 {
            w.scratch = scratch;
        }
        if let Err(e) = appended {
            return Err(self.data_io_failed("append to", w.active.id, e));
        }
        let mut existed = false;
        let mut offset = w.offset;
        for (i, op) in ops.iter().enumerate() {
            let size = op.record_len();
            let loc = Loc {
                file_id: w.active.id,
                offset: offset as u32,
                size: size as u32,
            };
            w.active.counters.add(size, first_seq + i as u64);
            match *op {
                Op::Put { key, expiry, .. } => {
                    if let Some(old) = self.keydir.upsert(key, loc, expiry) {
                        self.kill(old);
                    }
                }
                Op::Delete { key } => {
                    if let Some(old) = self.keydir.remove(key) {
                        existed = true;
                        self.kill(old);
                    }
                    w.active.counters.kill(size);
                }
            }
            offset += size;
        }
        w.offset = offset;
        w.next_seq = first_seq + ops.len() as u64;
        let last_seq = w.next_seq - 1;
        self.written_seq.store(last_seq, SeqCst);
        drop(w);
        if durability == Durability::Policy && self.opts.sync == SyncPolicy::Always {
            self.sync_upto(last_seq)?;
        }
        Ok(existed)
    }

    /// Counts the record at `loc` as dead in its file's statistics.
    pub(crate) fn kill(&self, loc: Loc) {
        self.files
            .with(loc.file_id, |f| f.counters.kill(u64::from(loc.size)));
    }

    /// Makes every record up to `seq` durable, sharing fsyncs between callers (group
    /// commit): one caller at a time leads, capturing everything appended so far and
    /// fsyncing it without holding any lock; the others wait on a condition variable and
    /// are all woken at once when it finishes. Those it covered return; one of the rest
    /// leads the next round, which covers everything they appended meanwhile.
    pub(crate) fn sync_upto(&self, seq: u64) -> Result<()> {
        if self.synced_seq.load(SeqCst) >= seq {
            return Ok(());
        }
        let mut leading = self.sync_state();
        loop {
            if self.synced_seq.load(SeqCst) >= seq {
                return Ok(());
            }
            // An fsync failed while this caller waited. The kernel may have dropped the
            // pages it failed to write, so a later fsync succeeding proves nothing about
            // records appended before it: refuse to acknowledge.
            if self.poisoned.load(SeqCst) {
                return Err(Error::Poisoned);
            }
            if !*leading {
                *leading = true;
                break;
            }
            leading = self
                .sync_done
                .wait(leading)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
        drop(leading);
        let result = self.writer().and_then(|w| {
            let (active, upto) = (Arc::clone(&w.active), w.next_seq.saturating_sub(1));
            drop(w);
            match active.file.sync_data() {
                Ok(()) => {
                    self.synced_seq.fetch_max(upto, SeqCst);
                    Ok(())
                }
                Err(e) => Err(self.data_io_failed("fsync", active.id, e)),
            }
        });
        *self.sync_state() = false;
        self.sync_done.notify_all();
        result
    }

    fn sync_state(&self) -> std::sync::MutexGuard<'_, bool> {
        self.sync_lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// fsyncs everything written so far.
    pub(crate) fn sync_all(&self) -> Result<()> {
        if self.writer.is_none() {
            return Ok(());
        }
        self.sync_upto(self.written_seq.load(SeqCst))
    }

    /// Makes sure the `len` bytes about to be appended land on zeros already written
    /// (and under [`SyncPolicy::Always`] synced), by writing the next [`PREALLOCATE`]
    /// bytes of zeros, in [`ZERO_PIECE`]s, when they would not.
    ///
    /// Why, under every policy: records written over zeros laid down in aligned pieces
    /// sit in large page-cache folios, so reading them back costs less (see
    /// [`ZERO_PIECE`]). Why the sync under `Always`: an `fdatasync` after an append
    /// must also journal the file's new size and block allocation; after an overwrite
    /// in place it flushes only the data. That made each sync about 1.4× faster here
    /// (128–144 µs against 174–227 µs for 153-byte writes) and the machine spend
    /// 20–25 µs less CPU on it, and under `Always` every acknowledged write waits for
    /// one. The zeros are never records: recovery and `check` read zeros running to the
    /// end of the newest log file as its end (see `datafile::scan`), and sealing and
    /// closing trim them off.
    fn preallocate(&self, w: &mut Writer, len: u64) -> Result<()> {
        let end = w.offset + len;
        // A write larger than one step appends past the zeros: filling its space first
        // would double its cost for one fsync's journal entry.
        if end <= w.zeroed || len > PREALLOCATE {
            return Ok(());
        }
        // Never past the file size limit, unless this record alone passes it.
        let to = end
            .next_multiple_of(PREALLOCATE)
            .min(self.opts.max_file_size.max(end));
        let mut at = w.zeroed.max(w.offset);
        while at < to {
            let piece_end = (at + 1).next_multiple_of(ZERO_PIECE).min(to);
            // At most ZERO_PIECE bytes by construction.
            let mut zeros = [IoSlice::new(&ZEROS[..(piece_end - at) as usize])];
            if let Err(e) = w.active.file.write_all_at(&mut zeros, at) {
                return Err(self.data_io_failed("preallocate", w.active.id, e));
            }
            at = piece_end;
        }
        if self.opts.sync == SyncPolicy::Always {
            if let Err(e) = w.active.file.sync_data() {
                return Err(self.data_io_failed("preallocate", w.active.id, e));
            }
        }
        w.zeroed = to;
        Ok(())
    }

    /// Cuts the preallocated zeros off the active file, so that a sealed or closed file
    /// ends at its last record; returns whether there were any. The caller syncs.
    pub(crate) fn trim(&self, w: &mut Writer) -> Result<bool> {
        if w.zeroed <= w.offset {
            return Ok(false);
        }
        if let Err(e) = w.active.file.set_len(w.offset) {
            return Err(self.data_io_failed("trim preallocated zeros of", w.active.id, e));
        }
        w.zeroed = w.offset;
        Ok(true)
    }

    /// Trims the active file's preallocated zeros and syncs that, at close.
    pub(crate) fn trim_active(&self) -> Result<()> {
        let mut w = self.writer()?;
        if !self.trim(&mut w)? {
            return Ok(());
        }
        w.active
            .file
            .sync_data()
            .map_err(|e| self.data_io_failed("fsync", w.active.id, e))
    }

    /// Seals the active file (fsync, hint in the background) and starts the next one.
    pub(crate) fn rollover(&self, w: &mut Writer) -> Result<()> {
        let sealed = Arc::clone(&w.active);
        // Trimmed and synced before the next file exists, so that only the newest log
        // file can ever end in zeros.
        self.trim(w)?;
        if let Err(e) = sealed.file.sync_data() {
            return Err(self.data_io_failed("fsync", sealed.id, e));
        }
        self.synced_seq
            .fetch_max(w.next_seq.saturating_sub(1), SeqCst);
        let next = self
            .create_data_file(FileKind::Log)
            .map_err(|e| self.poison(e))?;
        w.active = next;
        w.offset = HEADER_LEN as u64;
        w.zeroed = w.offset;
        self.spawn_hint_writer(vec![sealed.id], std::time::Duration::ZERO);
        Ok(())
    }

    /// Allocates the next file id.
    pub(crate) fn allocate_file_id(&self) -> u32 {
        self.next_file_id.fetch_add(1, Relaxed)
    }

    /// Creates, heads, fsyncs and publishes a new writer data file.
    pub(crate) fn create_data_file(&self, kind: FileKind) -> Result<Arc<DataFile>> {
        let id = self.allocate_file_id();
        let path = fs::data_path(&self.opts.dir, id);
        let file = self
            .opts
            .fs
            .open(&path, OpenMode::CreateNew)
            .map_err(|e| Error::io("create", &path, e))?;
        let header = FileHeader {
            magic: Magic::Data,
            kind,
            file_id: id,
        }
        .encode();
        file.write_all_at(&mut [IoSlice::new(&header)], 0)
            .and_then(|()| file.sync_data())
            .map_err(|e| Error::io("write header of", &path, e))?;
        self.opts
            .fs
            .sync_dir(&self.opts.dir)
            .map_err(|e| Error::io("fsync directory", &self.opts.dir, e))?;
        let df = Arc::new(DataFile::new(id, kind, file));
        self.publish_file(Arc::clone(&df));
        Ok(df)
    }
}
