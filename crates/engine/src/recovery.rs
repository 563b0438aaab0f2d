//! Opening a database: finish or roll back an interrupted merge, rebuild the keydir from
//! hint files or CRC-checked scans, and cut a torn tail off the active file.
//!
//! Replay order does not matter: each record carries a sequence number and the keydir
//! keeps the highest one per key, tombstones included, until the end of recovery.

use crate::background::Background;
use crate::config::Options;
use crate::datafile::scan::{scan_committed, AtDamage, Damage};
use crate::datafile::table::FileTable;
use crate::datafile::DataFile;
use crate::db::Inner;
use crate::error::{Error, Result};
use crate::format::header::{FileHeader, FileKind, Magic, HEADER_LEN};
use crate::format::manifest;
use crate::fs::{self, Entry};
use crate::hintfile::{self, Judgement};
use crate::keydir::{Keydir, Loc, Offer, Recovered};
use crate::vfs::{OpenMode, Vfs};
use crate::writer::Writer;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

/// What opening found, for operators (`stats`, logs) and tests.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OpenReport {
    /// Files loaded from their hint files.
    pub files_from_hints: usize,
    /// Files scanned record by record.
    pub files_scanned: usize,
    /// Damaged ranges skipped, as (file id, damage).
    pub damage: Vec<(u32, Damage)>,
    /// A torn tail cut off the active file: (file id, offset cut at, bytes removed).
    pub truncated_tail: Option<(u32, u64, u64)>,
    /// Zeros the writer had preallocated, cut off the end of the active file after it
    /// stopped without closing: (file id, offset cut at, bytes removed). Nothing is
    /// lost with them.
    pub trimmed_zeros: Option<(u32, u64, u64)>,
    /// An interrupted merge that was completed at open (its input file ids).
    pub completed_merge: Vec<u32>,
}

fn read_small(fs: &dyn Vfs, path: &Path) -> Option<Vec<u8>> {
    let f = fs.open(path, OpenMode::Read).ok()?;
    let len = usize::try_from(f.len().ok()?).ok()?.min(1 << 20);
    let mut buf = vec![0u8; len];
    f.read_exact_at(&mut buf, 0).ok()?;
    Some(buf)
}

fn prepare_dir(opts: &Options) -> Result<()> {
    let fs = opts.fs.as_ref();
    let dir = &opts.dir;
    if fs.is_dir(dir).map_err(|e| Error::io("stat", dir, e))? {
        return Ok(());
    }
    if dir.exists() {
        return Err(Error::NotADirectory(dir.clone()));
    }
    if opts.read_only {
        return Err(Error::io(
            "open",
            dir,
            std::io::Error::from(std::io::ErrorKind::NotFound),
        ));
    }
    fs.create_dir_all(dir)
        .map_err(|e| Error::io("create directory", dir, e))
}

/// Completes a committed merge: deletes its inputs, then the manifest.
/// Returns the ids to skip (read-only handles cannot delete them, only ignore them).
fn settle_merge(
    opts: &Options,
    names: &[String],
    report: &mut OpenReport,
) -> Result<BTreeSet<u32>> {
    let fs = opts.fs.as_ref();
    let dir = &opts.dir;
    if !names.iter().any(|n| n == fs::MERGE_MANIFEST) {
        return Ok(BTreeSet::new());
    }
    let path = dir.join(fs::MERGE_MANIFEST);
    let Some(inputs) = read_small(fs, &path).and_then(|b| manifest::decode(&b)) else {
        // The manifest is renamed into place complete, so this is damage. Keeping every
        // input is always safe: the outputs only duplicate what the inputs hold.
        tracing::warn!(path = %path.display(), "ignoring an invalid merge manifest");
        if !opts.read_only {
            let _ = fs.remove(&path);
        }
        return Ok(BTreeSet::new());
    };
    let skip: BTreeSet<u32> = inputs.iter().copied().collect();
    if opts.read_only {
        return Ok(skip);
    }
    for &id in &inputs {
        for p in [fs::hint_path(dir, id), fs::data_path(dir, id)] {
            match fs.remove(&p) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io("remove merged input", p, e)),
            }
        }
    }
    fs.sync_dir(dir)
        .map_err(|e| Error::io("fsync directory", dir, e))?;
    fs.remove(&path)
        .map_err(|e| Error::io("remove", &path, e))?;
    fs.sync_dir(dir)
        .map_err(|e| Error::io("fsync directory", dir, e))?;
    tracing::info!(inputs = ?inputs, "completed a merge interrupted by a crash");
    report.completed_merge = inputs;
    Ok(skip)
}

struct Loader<'a> {
    keydir: &'a Keydir,
    files: &'a BTreeMap<u32, Arc<DataFile>>,
    now: u64,
}

/// Records of one data file on their way into the keydir, applied in batches (see
/// [`Keydir::recover_many`]).
struct Batch<'a> {
    loader: &'a Loader<'a>,
    file: &'a DataFile,
    /// Keys of the pending records, back to back.
    keys: Vec<u8>,
    /// Pending records: (end of the key in `keys`, offer).
    pending: Vec<(usize, Offer)>,
    outcomes: Vec<Recovered>,
}

/// Records applied per batch: enough that each shard gets dozens per lock, few enough
/// that the batch stays in cache.
const BATCH: usize = 4096;

impl<'a> Batch<'a> {
    fn new(loader: &'a Loader<'a>, file: &'a DataFile) -> Self {
        Self {
            loader,
            file,
            keys: Vec::new(),
            pending: Vec::with_capacity(BATCH),
            outcomes: Vec::with_capacity(BATCH),
        }
    }

    fn push(&mut self, key: &[u8], loc: Loc, seq: u64, expiry: u64, tombstone: bool) {
        self.file.counters.add(u64::from(loc.size), seq);
        let expiry = (expiry != 0).then_some(expiry);
        self.keys.extend_from_slice(key);
        self.pending.push((
            self.keys.len(),
            Offer {
                loc,
                expiry,
                seq,
                // An expired record is a delete: it must still shadow older versions.
                tombstone: tombstone || expiry.is_some_and(|at| at <= self.loader.now),
            },
        ));
        if self.pending.len() == BATCH {
            self.flush();
        }
    }

    fn flush(&mut self) {
        self.loader
            .keydir
            .recover_many(&self.keys, &self.pending, &mut self.outcomes);
        let (mut dead_keys, mut dead_bytes) = (0, 0);
        for (&(_, offer), &outcome) in self.pending.iter().zip(&self.outcomes) {
            let dead = match outcome {
                Recovered::Inserted => offer.tombstone,
                Recovered::Replaced(old) => {
                    if old.size > 0 {
                        if let Some(f) = self.loader.files.get(&old.file_id) {
                            f.counters.kill(u64::from(old.size));
                        }
                    }
                    offer.tombstone
                }
                Recovered::Stale => true,
            };
            if dead {
                dead_keys += 1;
                dead_bytes += u64::from(offer.loc.size);
            }
        }
        self.file.counters.kill_many(dead_keys, dead_bytes);
        self.keys.clear();
        self.pending.clear();
    }
}

impl Drop for Batch<'_> {
    fn drop(&mut self) {
        if !self.pending.is_empty() {
            self.flush();
        }
    }
}

/// What loading one data file found.
struct Loaded {
    from_hint: bool,
    damage: Vec<(u32, Damage)>,
    /// What was cut off the end of the active file: (id, offset cut at, bytes
    /// removed), and whether it was only the writer's preallocated zeros.
    cut: Option<((u32, u64, u64), bool)>,
}

/// Everything loading one file needs; shared by the loader threads.
struct FileLoad<'a> {
    opts: &'a Options,
    loader: &'a Loader<'a>,
    hint_ids: &'a BTreeSet<u32>,
    active_id: Option<u32>,
    writable: bool,
}

impl FileLoad<'_> {
    /// Loads one data file into the keydir: from its hint file if that proves valid,
    /// else by a CRC-checked scan; truncates a torn tail off the active file.
    fn load(&self, id: u32, df: &Arc<DataFile>, len: u64) -> Result<Loaded> {
        let (opts, loader) = (self.opts, self.loader);
        let fs = &opts.fs;
        let dir = &opts.dir;
        let active_id = self.active_id;
        let writable = self.writable;
        let mut out = Loaded {
            from_hint: false,
            damage: Vec::new(),
            cut: None,
        };
        if Some(id) != active_id && self.hint_ids.contains(&id) {
            match load_hint(opts, loader, df, len)? {
                Judgement::Usable { bytes } => {
                    df.set_hint(bytes);
                    out.from_hint = true;
                    return Ok(out);
                }
                Judgement::Unusable(Some(d)) => {
                    tracing::warn!(file_id = id, reason = %d.reason, "sealed data file lost its end");
                    out.damage.push((id, d));
                }
                Judgement::Unusable(None) => {}
            }
        }
        let path = fs::data_path(dir, id);
        let mut damage = Vec::new();
        let mut batch = Batch::new(loader, df);
        let at_damage = AtDamage::for_file(Some(id) == active_id);
        let end = scan_committed(
            Arc::clone(&df.file),
            len,
            at_damage,
            |rec| {
                let loc = Loc {
                    file_id: id,
                    offset: rec.offset as u32,
                    size: rec.meta.record_len() as u32,
                };
                batch.push(
                    rec.key,
                    loc,
                    rec.meta.seq,
                    rec.meta.expiry,
                    rec.meta.is_tombstone(),
                );
            },
            |d| damage.push(d),
        )
        .map_err(|e| Error::io("scan", &path, e))?;
        drop(batch);
        let torn_active = Some(id) == active_id && end.has_tail;
        for d in damage {
            if torn_active && d.at_tail && !end.dropped_valid {
                continue;
            }
            tracing::warn!(file_id = id, offset = d.offset, reason = %d.reason, "skipped damaged records");
            out.damage.push((id, d));
        }
        if torn_active {
            let cut = end.committed_end;
            // Nothing but the writer's preallocated zeros after the last record: the
            // log ended cleanly there.
            let only_zeros = end.zero_tail == len - cut;
            if writable {
                if end.dropped_valid {
                    preserve_cut(fs.as_ref(), dir, &df.file, id, cut, len)?;
                }
                let f = fs
                    .open(&path, OpenMode::Write)
                    .map_err(|e| Error::io("open", &path, e))?;
                f.set_len(cut)
                    .and_then(|()| f.sync_data())
                    .map_err(|e| Error::io("truncate the tail of", &path, e))?;
                if only_zeros {
                    tracing::info!(file_id = id, offset = cut, bytes = len - cut, file = %path.display(), "trimmed preallocated zeros");
                } else {
                    tracing::warn!(file_id = id, offset = cut, bytes = len - cut, file = %path.display(), "truncated a torn tail");
                }
            }
            out.cut = Some(((id, cut, len - cut), only_zeros));
        }
        Ok(out)
    }
}

/// Opens the database described by `opts`.
#[allow(clippy::too_many_lines)]
pub(crate) fn open(opts: Options) -> Result<Inner> {
    prepare_dir(&opts)?;
    let fs = Arc::clone(&opts.fs);
    let dir = opts.dir.clone();
    let lock = if opts.read_only {
        None
    } else {
        let path = dir.join(fs::LOCK_FILE);
        match fs
            .try_lock(&path, std::process::id())
            .map_err(|e| Error::io("lock", &path, e))?
        {
            Some(l) => Some(l),
            None => {
                let pid = read_small(fs.as_ref(), &path)
                    .and_then(|b| String::from_utf8(b).ok())
                    .and_then(|s| s.trim().parse().ok());
                return Err(Error::Locked { path, pid });
            }
        }
    };
    let writable = !opts.read_only;
    let mut report = OpenReport::default();
    let names = fs.list(&dir).map_err(|e| Error::io("list", &dir, e))?;
    let skip = settle_merge(&opts, &names, &mut report)?;

    let mut data_ids = BTreeSet::new();
    let mut hint_ids = BTreeSet::new();
    let mut max_id = 0u32;
    for name in &names {
        match fs::classify(name) {
            Entry::Data(id) if !skip.contains(&id) => {
                data_ids.insert(id);
            }
            Entry::Hint(id) if !skip.contains(&id) => {
                hint_ids.insert(id);
            }
            Entry::Tmp if writable => {
                // Uncommitted merge output or hint: never part of the database.
                let _ = fs.remove(&dir.join(name));
            }
            _ => {}
        }
        if let Entry::Data(id) | Entry::Hint(id) = fs::classify(name) {
            max_id = max_id.max(id);
        }
    }
    for &id in hint_ids.difference(&data_ids) {
        if writable {
            let _ = fs.remove(&fs::hint_path(&dir, id));
        }
    }

    // Open every data file and read its header.
    let mut files: BTreeMap<u32, Arc<DataFile>> = BTreeMap::new();
    let mut lens: BTreeMap<u32, u64> = BTreeMap::new();
    for &id in &data_ids {
        let path = fs::data_path(&dir, id);
        let file = fs
            .open(&path, OpenMode::Read)
            .map_err(|e| Error::io("open", &path, e))?;
        let len = file.len().map_err(|e| Error::io("stat", &path, e))?;
        if len < HEADER_LEN as u64 {
            // Created but never given its header before a crash: holds nothing.
            if writable {
                drop(file);
                let _ = fs.remove(&path);
            }
            continue;
        }
        let mut head = [0u8; HEADER_LEN];
        file.read_exact_at(&mut head, 0)
            .map_err(|e| Error::io("read header of", &path, e))?;
        let kind = match FileHeader::decode(&head, Magic::Data) {
            Ok(h) => h.kind,
            Err(crate::format::header::HeaderError::Version(v)) => {
                return Err(Error::UnsupportedVersion { path, version: v });
            }
            Err(e) => {
                // Records carry their own CRCs, so they can still be read; such a file
                // is never chosen as the active one.
                report.damage.push((
                    id,
                    Damage {
                        offset: 0,
                        reason: format!("bad file header ({e:?})"),
                        at_tail: false,
                    },
                ));
                FileKind::Merged
            }
        };
        lens.insert(id, len);
        files.insert(id, Arc::new(DataFile::new(id, kind, file)));
    }
    let active_id = files
        .values()
        .filter(|f| f.kind == FileKind::Log)
        .map(|f| f.id)
        .max();

    let keydir = Keydir::default();
    // Sized from the hint trailers up front, so loading never rehashes the table.
    let hinted: u64 = hint_ids
        .iter()
        .filter(|&&id| Some(id) != active_id && files.contains_key(&id))
        .filter_map(|&id| hintfile::trailer_count(fs.as_ref(), &dir, id))
        .sum();
    keydir.reserve(usize::try_from(hinted).unwrap_or(0));
    let now = opts.clock.now_ms();
    let loader = Loader {
        keydir: &keydir,
        files: &files,
        now,
    };
    // Files are loaded on every core: sequence numbers, not replay order, decide which
    // record of a key wins, so any interleaving gives the same keydir and counts. The
    // active file starts first: it has no hint file, so scanning it is the longest task.
    let tasks: Vec<u32> = active_id
        .into_iter()
        .chain(files.keys().copied().filter(|&id| Some(id) != active_id))
        .collect();
    let ctx = FileLoad {
        opts: &opts,
        loader: &loader,
        hint_ids: &hint_ids,
        active_id,
        writable,
    };
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results = Mutex::new(Vec::new());
    let workers = std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .min(tasks.len())
        .max(1);
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Relaxed);
                let Some(&id) = tasks.get(i) else {
                    break;
                };
                let (Some(df), Some(&len)) = (files.get(&id), lens.get(&id)) else {
                    continue;
                };
                let outcome = ctx.load(id, df, len);
                let failed = outcome.is_err();
                results
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .push(outcome);
                if failed {
                    // Stop handing out work; the error is returned below.
                    next.store(tasks.len(), Relaxed);
                }
            });
        }
    });
    let outcomes = results
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    for outcome in outcomes {
        let o = outcome?;
        if o.from_hint {
            report.files_from_hints += 1;
        } else {
            report.files_scanned += 1;
        }
        report.damage.extend(o.damage);
        if let Some((cut @ (id, at, _), only_zeros)) = o.cut {
            if writable {
                lens.insert(id, at);
            }
            if only_zeros {
                report.trimmed_zeros = Some(cut);
            } else {
                report.truncated_tail = Some(cut);
            }
        }
    }
    report.damage.sort_by_key(|(id, d)| (*id, d.offset));
    let max_seq = keydir.finish_recovery().max(
        files
            .values()
            .map(|f| f.counters.snapshot().max_seq)
            .max()
            .unwrap_or(0),
    );

    let next_file_id = AtomicU32::new(max_id + 1);
    let inner_files = FileTable::new(files);
    let inner = Inner {
        clock: Arc::clone(&opts.clock),
        keydir,
        files: inner_files,
        writer: None,
        written_seq: AtomicU64::new(max_seq),
        synced_seq: AtomicU64::new(max_seq),
        sync_lock: Mutex::new(false),
        sync_done: std::sync::Condvar::new(),
        poisoned: AtomicBool::new(false),
        next_file_id,
        merge_lock: Mutex::new(()),
        merge_history: Mutex::default(),
        expiry_cursor: AtomicU64::new(0),
        background: Background::default(),
        lock: Mutex::new(lock),
        me: std::sync::OnceLock::new(),
        open_report: report,
        opts,
    };
    if !writable {
        return Ok(inner);
    }
    // Reuse the last log file as the active one while it has room; else start a new one.
    let reuse = active_id.and_then(|id| {
        let len = lens.get(&id).copied()?;
        (len < inner.opts.max_file_size).then_some((id, len))
    });
    let (active, offset) = match reuse {
        Some((id, len)) => {
            let path = fs::data_path(&dir, id);
            let file = fs
                .open(&path, OpenMode::Write)
                .map_err(|e| Error::io("open", &path, e))?;
            let old = inner.file(id);
            let df = Arc::new(DataFile::new(id, FileKind::Log, file));
            if let Some(old) = old {
                transfer_counters(&old, &df);
            }
            inner.publish_file(Arc::clone(&df));
            (df, len)
        }
        None => (inner.create_data_file(FileKind::Log)?, HEADER_LEN as u64),
    };
    let mut inner = inner;
    inner.writer = Some(Mutex::new(Writer::new(active, offset, max_seq + 1)));
    Ok(inner)
}

/// Copies the bytes recovery is about to cut off the active file, when valid records are
/// among them, to `NNNNNNNNNN.data.cut-OFFSET` beside it: dropping them keeps the
/// database a prefix of its history, but an operator may want them back. Open never
/// reads such a file.
fn preserve_cut(
    fs: &dyn Vfs,
    dir: &Path,
    file: &Arc<dyn crate::vfs::VfsFile>,
    id: u32,
    cut: u64,
    len: u64,
) -> Result<()> {
    let data = fs::data_path(dir, id);
    let mut name = data.as_os_str().to_owned();
    name.push(format!(".cut-{cut}"));
    let side = std::path::PathBuf::from(name);
    let n = usize::try_from(len - cut).unwrap_or(usize::MAX);
    let mut bytes = vec![0u8; n];
    file.read_exact_at(&mut bytes, cut)
        .map_err(|e| Error::io("read", &data, e))?;
    let _ = fs.remove(&side);
    crate::hintfile::write_atomically(fs, dir, &side, &bytes)?;
    tracing::error!(
        file_id = id,
        offset = cut,
        bytes = len - cut,
        saved = %side.display(),
        "valid records follow damage in the active file (out-of-order writeback at a power cut, or bit rot); \
         cutting them to keep a prefix of history"
    );
    Ok(())
}

fn transfer_counters(from: &DataFile, to: &DataFile) {
    let s = from.counters.snapshot();
    to.counters.restore(&s);
}

/// Loads a hint file if, and only if, it validates completely first. Returns the
/// judgement of the hint: when it is [`Judgement::Usable`], its entries are now in the
/// keydir; otherwise the data file must be scanned.
fn load_hint(
    opts: &Options,
    loader: &Loader<'_>,
    df: &Arc<DataFile>,
    data_len: u64,
) -> Result<Judgement> {
    let path = fs::hint_path(&opts.dir, df.id);
    let Ok(file) = opts.fs.open(&path, OpenMode::Read) else {
        return Ok(Judgement::Unusable(None));
    };
    let read_error = |e| Error::io("read", &path, e);
    let damage = match hintfile::judge(&file, df.id, data_len).map_err(read_error)? {
        Judgement::Usable { bytes } => {
            let mut batch = Batch::new(loader, df);
            let applied = hintfile::entries(&file, df.id, |e, key| {
                let loc = Loc {
                    file_id: df.id,
                    offset: e.offset,
                    size: e.size,
                };
                batch.push(key, loc, e.seq, e.expiry, e.tombstone);
            })
            .map_err(read_error)?;
            // Dropping the batch applies what it still holds.
            drop(batch);
            if applied {
                return Ok(Judgement::Usable { bytes });
            }
            // The keydir has taken entries that did not match the checked file, and
            // they cannot be picked out again: scanning now could leave a bogus newer
            // entry shadowing a key's real record. Refuse the open; nothing was served.
            return Err(Error::io(
                "load",
                &path,
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    "the hint file changed between its check and its load \
                     (reopen to check it again, or remove it to scan the data file)",
                ),
            ));
        }
        Judgement::Unusable(damage) => damage,
    };
    tracing::warn!(file = %path.display(), "hint file invalid; scanning the data file instead");
    Ok(Judgement::Unusable(damage))
}
