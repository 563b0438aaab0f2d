//! Merge: rewrite the live records of sealed files into new files with hint files, then
//! retire the inputs through a crash-safe commit.
//!
//! The protocol (also in `docs/FORMAT.md`):
//! 1. Outputs are written under `*.tmp` names, fsynced, given hint files, renamed to their
//!    final names and the directory fsynced. Each finished output is published to readers
//!    and the keydir is moved onto it by compare-and-set, so a write that landed during
//!    the merge always wins. Until step 3 the outputs only duplicate records the inputs
//!    still hold (same sequence numbers), so a crash here loses and resurrects nothing.
//! 2. The active file is fsynced, so every record that supersedes a dropped one is
//!    durable before anything is deleted.
//! 3. The `MERGE` manifest listing the inputs is written atomically: the commit point.
//! 4. The inputs leave the file table (their descriptors close once in-flight reads end),
//!    are unlinked, the directory is fsynced, and the manifest is removed.
//!
//! Open finishes step 4 when it finds a manifest, and deletes `*.tmp` files otherwise.
//!
//! Tombstones (and expired records, which act as deletes) are dropped only when no file
//! outside the merge can hold an older version of the key: every such file's lowest
//! sequence number must be above the tombstone's. Files written after the merge started
//! only hold newer records, so a merge of all sealed files drops every tombstone.

mod output;
pub(crate) mod plan;

pub use plan::{MergePlan, MergeReason};

use crate::datafile::scan::{scan_committed, AtDamage};
use crate::datafile::DataFile;
use crate::db::Inner;
use crate::error::{Error, Result};
use crate::format::manifest;
use crate::format::record::{Flags, RecordMeta};
use crate::fs;
use crate::hintfile;
use crate::keydir::Loc;
use output::Output;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What one merge did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MergeReport {
    /// Data files before.
    pub files_before: usize,
    /// Data files after.
    pub files_after: usize,
    /// Bytes of data and hint files before.
    pub bytes_before: u64,
    /// Bytes of data and hint files after.
    pub bytes_after: u64,
    /// `bytes_before - bytes_after`, or 0 if writes during the merge outgrew it.
    pub reclaimed_bytes: u64,
    /// Input file ids.
    pub inputs: Vec<u32>,
    /// Output file ids.
    pub outputs: Vec<u32>,
    /// Records copied.
    pub records_copied: u64,
    /// Tombstones kept because older versions may exist outside the merge.
    pub tombstones_kept: u64,
    /// Wall time.
    pub duration: Duration,
}

/// Merge statistics for `stats`.
#[derive(Clone, Debug, Default)]
pub(crate) struct MergeHistory {
    pub completed: u64,
    pub running: bool,
    pub last: Option<MergeReport>,
    pub last_error: Option<String>,
}

/// Which sealed files to merge.
pub(crate) enum Selection {
    All,
    Ids(BTreeSet<u32>),
}

/// Files, and bytes of data and hint files: what [`MergeReport`] compares.
fn disk_bytes(inner: &Inner) -> (usize, u64) {
    let files = inner.files.snapshot();
    let active = inner.active_end();
    let bytes = files
        .values()
        .map(|f| f.bytes(active) + f.hint_bytes())
        .sum();
    (files.len(), bytes)
}

/// Runs one merge now, on the calling thread.
pub(crate) fn run(
    inner: &Inner,
    selection: Selection,
    progress: &dyn Fn(u64, u64),
) -> Result<MergeReport> {
    // Only another merge makes this fail. `merge_lock` is also held by hint writers
    // for a moment after every rollover, so the flag, not `try_lock`, tells whether a
    // merge is running; a hint writer is simply waited for.
    {
        let mut h = inner
            .merge_history
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if h.running {
            return Err(Error::MergeInProgress);
        }
        h.running = true;
    }
    let result = {
        let _guard = inner
            .merge_lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match inner.check_writable() {
            Ok(()) => run_locked(inner, selection, progress),
            Err(e) => {
                set_running(inner, false);
                return Err(e);
            }
        }
    };
    let mut h = inner
        .merge_history
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    h.running = false;
    match &result {
        Ok(r) => {
            h.completed += 1;
            h.last = Some(r.clone());
            h.last_error = None;
        }
        Err(e) => h.last_error = Some(e.to_string()),
    }
    result
}

fn set_running(inner: &Inner, running: bool) {
    inner
        .merge_history
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .running = running;
}

fn run_locked(
    inner: &Inner,
    selection: Selection,
    progress: &dyn Fn(u64, u64),
) -> Result<MergeReport> {
    let started = Instant::now();
    let active_id = {
        let mut w = inner
            .writer
            .as_ref()
            .ok_or(Error::ReadOnly)?
            .lock()
            .map_err(|_| Error::Poisoned)?;
        // An explicit full merge also reclaims what is dead in the active file: seal it
        // first, so one `merge()` leaves no garbage behind whatever the file size.
        // (Automatic merges only ever take sealed files, as Riak's do.)
        if matches!(selection, Selection::All) && w.active.counters.snapshot().dead_bytes > 0 {
            inner.rollover(&mut w)?;
        }
        w.active.id
    };
    let sealed: Vec<Arc<DataFile>> = inner
        .files
        .snapshot()
        .values()
        .filter(|f| f.id != active_id)
        .cloned()
        .collect();
    let inputs: Vec<Arc<DataFile>> = match &selection {
        Selection::All => sealed.clone(),
        Selection::Ids(ids) => sealed
            .iter()
            .filter(|f| ids.contains(&f.id))
            .cloned()
            .collect(),
    };
    let input_ids: BTreeSet<u32> = inputs.iter().map(|f| f.id).collect();
    let (files_before, bytes_before) = disk_bytes(inner);
    let mut report = MergeReport {
        files_before,
        bytes_before,
        inputs: input_ids.iter().copied().collect(),
        ..MergeReport::default()
    };
    if inputs.is_empty() {
        report.files_after = files_before;
        report.bytes_after = bytes_before;
        report.duration = started.elapsed();
        return Ok(report);
    }
    let min_seq_outside = sealed
        .iter()
        .filter(|f| !input_ids.contains(&f.id))
        .map(|f| f.counters.snapshot().min_seq)
        .min()
        .unwrap_or(u64::MAX);
    let mut lens = Vec::with_capacity(inputs.len());
    for f in &inputs {
        let p = fs::data_path(&inner.opts.dir, f.id);
        lens.push(f.file.len().map_err(|e| Error::io("stat", p, e))?);
    }
    let total: u64 = lens.iter().sum();
    let mut done = 0u64;
    progress(0, total);

    let mut out = Output::new(inner);
    let result = (|| -> Result<()> {
        for (f, &len) in inputs.iter().zip(&lens) {
            copy_live(inner, &mut out, f, len, min_seq_outside, &mut report)?;
            done += len;
            progress(done, total);
        }
        out.finish()
    })();
    if let Err(e) = result {
        out.abandon();
        return Err(e);
    }
    report.outputs = out.finished_ids();

    // Step 2: what superseded the dropped records must be durable first.
    inner.sync_all()?;
    commit(inner, &inputs)?;
    let (files_after, bytes_after) = disk_bytes(inner);
    report.files_after = files_after;
    report.bytes_after = bytes_after;
    report.reclaimed_bytes = bytes_before.saturating_sub(bytes_after);
    report.duration = started.elapsed();
    tracing::info!(inputs = ?report.inputs, outputs = ?report.outputs, reclaimed = report.reclaimed_bytes, "merge complete");
    Ok(report)
}

/// Copies what must survive of one input file into the output.
fn copy_live(
    inner: &Inner,
    out: &mut Output<'_>,
    f: &Arc<DataFile>,
    len: u64,
    min_seq_outside: u64,
    report: &mut MergeReport,
) -> Result<()> {
    let now = inner.clock.now_ms();
    let mut failure = None;
    let path = fs::data_path(&inner.opts.dir, f.id);
    scan_committed(
        Arc::clone(&f.file),
        len,
        AtDamage::SkipPast,
        |rec| {
            if failure.is_some() {
                return;
            }
            let loc = Loc {
                file_id: f.id,
                offset: rec.offset as u32,
                size: rec.meta.record_len() as u32,
            };
            let live = inner
                .keydir
                .get(rec.key)
                .is_some_and(|(l, _)| l.file_id == loc.file_id && l.offset == loc.offset);
            let expired = rec.meta.expiry != 0 && rec.meta.expiry <= now;
            let deletes = rec.meta.is_tombstone() || expired;
            let copied = if live && !deletes {
                let meta = RecordMeta {
                    flags: Flags::default(),
                    ..rec.meta
                };
                report.records_copied += 1;
                out.append(&meta, rec.key, rec.value, Some(loc))
            } else if deletes && rec.meta.seq >= min_seq_outside {
                if live && inner.keydir.remove_if_at(rec.key, loc) {
                    inner.kill(loc);
                }
                let meta = RecordMeta {
                    flags: Flags::TOMBSTONE,
                    expiry: 0,
                    value_len: 0,
                    ..rec.meta
                };
                report.tombstones_kept += 1;
                out.append(&meta, rec.key, &[], None)
            } else {
                if live && inner.keydir.remove_if_at(rec.key, loc) {
                    inner.kill(loc);
                }
                Ok(())
            };
            if let Err(e) = copied {
                failure = Some(e);
            }
        },
        |d| {
            tracing::warn!(file_id = f.id, offset = d.offset, reason = %d.reason, "merge skipped damaged records");
        },
    )
    .map_err(|e| Error::io("scan", &path, e))?;
    failure.map_or(Ok(()), Err)
}

/// Steps 3 and 4 of the protocol.
fn commit(inner: &Inner, inputs: &[Arc<DataFile>]) -> Result<()> {
    let fsys = inner.opts.fs.as_ref();
    let dir = &inner.opts.dir;
    let ids: Vec<u32> = inputs.iter().map(|f| f.id).collect();
    let manifest_path = dir.join(fs::MERGE_MANIFEST);
    // Past the rename inside `write_atomically`, the merge is committed on disk: the next
    // open deletes the inputs. A failure from there on must latch the handle, or a later
    // merge in this process could overwrite the manifest and leave these inputs on disk,
    // unlisted, to be loaded again at the next open (resurrecting keys whose tombstones
    // that later merge dropped). Reopening finishes the commit.
    hintfile::write_atomically(fsys, dir, &manifest_path, &manifest::encode(&ids)).map_err(
        |e| {
            if fsys
                .open(&manifest_path, crate::vfs::OpenMode::Read)
                .is_ok()
            {
                inner.poison(e)
            } else {
                e
            }
        },
    )?;
    finish_commit(inner, &ids, &manifest_path).map_err(|e| inner.poison(e))
}

/// Step 4: retire the inputs of a committed merge.
fn finish_commit(inner: &Inner, ids: &[u32], manifest_path: &std::path::Path) -> Result<()> {
    let fsys = inner.opts.fs.as_ref();
    let dir = &inner.opts.dir;
    inner.files.remove(ids);
    for id in ids {
        for p in [fs::hint_path(dir, *id), fs::data_path(dir, *id)] {
            match fsys.remove(&p) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io("remove merged input", p, e)),
            }
        }
    }
    fsys.sync_dir(dir)
        .map_err(|e| Error::io("fsync directory", dir, e))?;
    fsys.remove(manifest_path)
        .map_err(|e| Error::io("remove", manifest_path, e))?;
    fsys.sync_dir(dir)
        .map_err(|e| Error::io("fsync directory", dir, e))
}

/// The automatic merger: checks every interval (with jitter) inside the merge window.
pub(crate) fn auto_merge_loop(db: &Arc<Inner>) {
    let base = db.opts.merge.check_interval;
    let mut seed = u64::from(std::process::id()) ^ db.clock.now_ms();
    loop {
        // xorshift: a few bits of jitter do not deserve a dependency.
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let jitter = 0.75 + (seed % 1000) as f64 / 2000.0;
        if !db.background.sleep(base.mul_f64(jitter)) {
            return;
        }
        let hour = ((db.clock.now_ms() / 3_600_000) % 24) as u8;
        if !db.opts.merge.window.contains(hour) {
            continue;
        }
        let plan = plan::needs_merge(db);
        if !plan.needed {
            continue;
        }
        let ids = plan.files.iter().map(|(id, _)| *id).collect();
        match run(db, Selection::Ids(ids), &|_, _| {}) {
            Ok(r) => tracing::info!(reclaimed = r.reclaimed_bytes, "automatic merge done"),
            Err(Error::MergeInProgress) => {}
            Err(e) => tracing::warn!(error = %e, "automatic merge failed; old files still in use"),
        }
    }
}
