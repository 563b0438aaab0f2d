//! Statistics for operators and the planner.

use crate::config::SyncPolicy;
use crate::db::Bitcask;
use crate::merge::{MergePlan, MergeReport};
use std::sync::atomic::Ordering::Relaxed;

/// One data file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileStats {
    /// File id.
    pub id: u32,
    /// Size on disk; for the active file, up to its last record (the zeros the writer
    /// preallocates after it are not counted).
    pub bytes: u64,
    /// Records the keydir still points at.
    pub live_keys: u64,
    /// Records overwritten, deleted, expired, or tombstones.
    pub dead_keys: u64,
    /// Bytes of live records.
    pub live_bytes: u64,
    /// Bytes of dead records.
    pub dead_bytes: u64,
    /// Whether a hint file sits beside it.
    pub has_hint: bool,
    /// Size of that hint file (0 without one).
    pub hint_bytes: u64,
    /// Whether it is the active file.
    pub active: bool,
}

impl FileStats {
    /// Dead records as a fraction of all records (0..=1).
    #[must_use]
    pub fn fragmentation(&self) -> f64 {
        let total = self.live_keys + self.dead_keys;
        if total == 0 {
            0.0
        } else {
            self.dead_keys as f64 / total as f64
        }
    }
}

/// A snapshot of the database.
#[derive(Clone, Debug)]
pub struct Stats {
    /// Live keys.
    pub keys: u64,
    /// Live keys with a TTL.
    pub keys_with_expiry: u64,
    /// Sum of live key lengths.
    pub key_bytes: u64,
    /// Sum of live value lengths.
    pub value_bytes: u64,
    /// Bytes the keydir really has allocated (tables, slots, key arena, expiry map).
    pub keydir_bytes: u64,
    /// `keydir_bytes / keys` (0 when empty).
    pub keydir_bytes_per_key: f64,
    /// Every data file, oldest id first.
    pub files: Vec<FileStats>,
    /// Bytes of data files.
    pub disk_bytes: u64,
    /// Bytes of hint files: with [`Stats::disk_bytes`], what the database takes on disk
    /// and what [`MergeReport::bytes_before`] counts.
    pub hint_bytes: u64,
    /// Dead bytes over all files.
    pub dead_bytes: u64,
    /// Merges completed since open.
    pub merges_completed: u64,
    /// The last merge since open.
    pub last_merge: Option<MergeReport>,
    /// The last merge's error, if it failed.
    pub last_merge_error: Option<String>,
    /// Whether a merge is running now.
    pub merge_running: bool,
    /// What an automatic merge would do now.
    pub merge_plan: MergePlan,
    /// The sync policy.
    pub sync_policy: SyncPolicy,
    /// The rollover size.
    pub max_file_size: u64,
    /// Whether writes are refused after an I/O failure.
    pub poisoned: bool,
}

impl Bitcask {
    /// Gathers statistics. Walks the keydir once, so it costs O(keys).
    pub fn stats(&self) -> Stats {
        let inner = self.inner();
        let now = inner.clock.now_ms();
        let (keys, keys_with_expiry, key_bytes, value_bytes) = inner.keydir.totals(now);
        let active = inner.active_end();
        let files: Vec<FileStats> = inner
            .files
            .snapshot()
            .values()
            .map(|f| {
                let s = f.counters.snapshot();
                FileStats {
                    id: f.id,
                    bytes: f.bytes(active),
                    live_keys: s.total_keys - s.dead_keys.min(s.total_keys),
                    dead_keys: s.dead_keys,
                    live_bytes: s.total_bytes - s.dead_bytes.min(s.total_bytes),
                    dead_bytes: s.dead_bytes,
                    has_hint: f.has_hint(),
                    hint_bytes: f.hint_bytes(),
                    active: active.is_some_and(|(id, _)| id == f.id),
                }
            })
            .collect();
        let keydir_bytes = inner.keydir.allocated_bytes() as u64;
        let history = inner
            .merge_history
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        Stats {
            keys,
            keys_with_expiry,
            key_bytes,
            value_bytes,
            keydir_bytes,
            keydir_bytes_per_key: if keys == 0 {
                0.0
            } else {
                keydir_bytes as f64 / keys as f64
            },
            disk_bytes: files.iter().map(|f| f.bytes).sum(),
            hint_bytes: files.iter().map(|f| f.hint_bytes).sum(),
            dead_bytes: files.iter().map(|f| f.dead_bytes).sum(),
            files,
            merges_completed: history.completed,
            last_merge: history.last,
            last_merge_error: history.last_error,
            merge_running: history.running,
            merge_plan: self.needs_merge(),
            sync_policy: inner.opts.sync,
            max_file_size: inner.opts.max_file_size,
            poisoned: inner.poisoned.load(Relaxed),
        }
    }

    /// Whether the merge triggers fire now, and which files a merge would take and why.
    pub fn needs_merge(&self) -> MergePlan {
        crate::merge::plan::needs_merge(self.inner())
    }

    /// Merges every sealed file now, on this thread.
    pub fn merge(&self) -> crate::Result<MergeReport> {
        self.merge_with_progress(&|_, _| {})
    }

    /// [`Bitcask::merge`], calling `progress(bytes_done, bytes_total)` as input is read.
    pub fn merge_with_progress(&self, progress: &dyn Fn(u64, u64)) -> crate::Result<MergeReport> {
        crate::merge::run(self.inner(), crate::merge::Selection::All, progress)
    }

    /// Merges only the files [`Bitcask::needs_merge`] selects (what the background
    /// merger does). Returns `None` when no trigger fires.
    pub fn merge_if_needed(&self) -> crate::Result<Option<MergeReport>> {
        let plan = self.needs_merge();
        if !plan.needed {
            return Ok(None);
        }
        let ids = plan.files.iter().map(|(id, _)| *id).collect();
        crate::merge::run(self.inner(), crate::merge::Selection::Ids(ids), &|_, _| {}).map(Some)
    }

    /// Merges exactly these sealed files (a partial merge).
    pub fn merge_files(&self, ids: &[u32]) -> crate::Result<MergeReport> {
        let ids = ids.iter().copied().collect();
        crate::merge::run(self.inner(), crate::merge::Selection::Ids(ids), &|_, _| {})
    }

    /// What opening this database found and repaired.
    pub fn open_report(&self) -> &crate::OpenReport {
        &self.inner().open_report
    }
}
