//! Data files: the open handles readers share, their live/dead counters, and the
//! sequential scanner recovery, hint writing, merge and `check` are built on.

pub mod scan;
pub mod table;

use crate::format::header::FileKind;
use crate::vfs::VfsFile;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

/// An open data file. Readers hold an `Arc` to it only for the length of one read, so
/// once merge drops it from the file table its descriptor closes promptly.
#[derive(Debug)]
pub struct DataFile {
    /// The id in its name.
    pub id: u32,
    /// Who wrote it.
    pub kind: FileKind,
    /// The handle, shared by positioned reads.
    pub file: Arc<dyn VfsFile>,
    /// Live/dead accounting, kept up to date on every overwrite and delete.
    pub counters: Counters,
    /// Size of the valid hint file beside it, 0 without one: recorded when the hint is
    /// written or loaded, so statistics never need to open hint files.
    hint_bytes: AtomicU64,
}

impl DataFile {
    /// What the file takes on disk, not counting the zeros preallocated after the
    /// active file's last record (`active`, from `Inner::active_end`): they are trimmed
    /// when the file is sealed, so counting them would make a merge seem to reclaim
    /// them.
    pub fn bytes(&self, active: Option<(u32, u64)>) -> u64 {
        let len = self.file.len().unwrap_or(0);
        match active {
            Some((id, end)) if id == self.id => len.min(end),
            _ => len,
        }
    }
}

/// Per-file statistics. Every record ever appended is counted in `total_*`; it moves to
/// `dead_*` when it is overwritten, deleted, expires, or is a tombstone itself.
#[derive(Debug)]
pub struct Counters {
    total_keys: AtomicU64,
    total_bytes: AtomicU64,
    dead_keys: AtomicU64,
    dead_bytes: AtomicU64,
    min_seq: AtomicU64,
    max_seq: AtomicU64,
}

impl Default for Counters {
    fn default() -> Self {
        Self {
            total_keys: AtomicU64::new(0),
            total_bytes: AtomicU64::new(0),
            dead_keys: AtomicU64::new(0),
            dead_bytes: AtomicU64::new(0),
            min_seq: AtomicU64::new(u64::MAX),
            max_seq: AtomicU64::new(0),
        }
    }
}

/// A consistent-enough copy of [`Counters`] for reporting and merge planning.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CounterSnapshot {
    /// Records appended.
    pub total_keys: u64,
    /// Record bytes appended.
    pub total_bytes: u64,
    /// Records no longer needed by the keydir.
    pub dead_keys: u64,
    /// Their bytes.
    pub dead_bytes: u64,
    /// Lowest sequence number in the file (`u64::MAX` if empty).
    pub min_seq: u64,
    /// Highest sequence number in the file.
    pub max_seq: u64,
}

impl Counters {
    /// Counts a record appended (or found at open) with sequence number `seq`.
    ///
    /// Only one thread ever appends to a given file (the writer, under its lock, or the
    /// merge or recovery thread that created it), so plain load-then-store suffices
    /// here and keeps locked read-modify-writes off the put path. Dead counts, which
    /// several threads update, use `fetch_add` in [`Counters::kill`].
    pub fn add(&self, bytes: u64, seq: u64) {
        self.total_keys
            .store(self.total_keys.load(Relaxed) + 1, Relaxed);
        self.total_bytes
            .store(self.total_bytes.load(Relaxed) + bytes, Relaxed);
        if seq < self.min_seq.load(Relaxed) {
            self.min_seq.store(seq, Relaxed);
        }
        if seq > self.max_seq.load(Relaxed) {
            self.max_seq.store(seq, Relaxed);
        }
    }

    /// Counts a record of `bytes` as dead.
    pub fn kill(&self, bytes: u64) {
        self.dead_keys.fetch_add(1, Relaxed);
        self.dead_bytes.fetch_add(bytes, Relaxed);
    }

    /// Counts `keys` records of `bytes` in all as dead.
    pub fn kill_many(&self, keys: u64, bytes: u64) {
        if keys > 0 {
            self.dead_keys.fetch_add(keys, Relaxed);
            self.dead_bytes.fetch_add(bytes, Relaxed);
        }
    }

    /// Copies counters gathered on another handle of the same file.
    pub fn restore(&self, s: &CounterSnapshot) {
        self.total_keys.store(s.total_keys, Relaxed);
        self.total_bytes.store(s.total_bytes, Relaxed);
        self.dead_keys.store(s.dead_keys, Relaxed);
        self.dead_bytes.store(s.dead_bytes, Relaxed);
        self.min_seq.store(s.min_seq, Relaxed);
        self.max_seq.store(s.max_seq, Relaxed);
    }

    /// Reads every counter.
    pub fn snapshot(&self) -> CounterSnapshot {
        CounterSnapshot {
            total_keys: self.total_keys.load(Relaxed),
            total_bytes: self.total_bytes.load(Relaxed),
            dead_keys: self.dead_keys.load(Relaxed),
            dead_bytes: self.dead_bytes.load(Relaxed),
            min_seq: self.min_seq.load(Relaxed),
            max_seq: self.max_seq.load(Relaxed),
        }
    }
}

impl DataFile {
    /// Wraps an open file.
    pub fn new(id: u32, kind: FileKind, file: Arc<dyn VfsFile>) -> Self {
        Self {
            id,
            kind,
            file,
            counters: Counters::default(),
            hint_bytes: AtomicU64::new(0),
        }
    }

    /// Whether a valid hint file sits beside it.
    pub fn has_hint(&self) -> bool {
        self.hint_bytes() > 0
    }

    /// Size of its hint file (0 without one).
    pub fn hint_bytes(&self) -> u64 {
        self.hint_bytes.load(Relaxed)
    }

    /// Records that a valid hint file of `bytes` now sits beside it.
    pub fn set_hint(&self, bytes: u64) {
        self.hint_bytes.store(bytes, Relaxed);
    }
}
