//! Test file systems and helpers shared by the reliability tests.
//!
//! - [`FaultyFs`] wraps the real file system and fails one chosen operation (the Nth
//!   write, fsync, rename, create, remove or directory fsync, or the Nth of any of them),
//!   optionally as a short write or `ENOSPC`, optionally for good ("the disk died");
//!   or makes a file read back changed on a second pass.
//! - [`SimFs`] is an in-memory file system that remembers, per file, which bytes are
//!   durable (as of the last `sync_data`) and, per directory, which names are durable (as
//!   of the last `sync_dir`). [`SimFs::power_loss`] returns the image a machine would boot
//!   with after losing power at that instant: file contents as of their last fsync, and
//!   directory entries (creates, renames, removes) as of the directory's last fsync, as
//!   POSIX promises and no more.
//!
//! Each integration test crate uses a different subset of this module.
#![allow(dead_code)]

use ccbitcask_engine::vfs::{OpenMode, StdFs, Vfs, VfsFile, VfsLock};
use ccbitcask_engine::{Bitcask, CheckReport, Clock};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, IoSlice};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, Mutex, MutexGuard};

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// A clock tests move by hand.
#[derive(Debug)]
pub struct ManualClock(AtomicU64);

impl ManualClock {
    /// A clock at a fixed, realistic time.
    pub fn new() -> Arc<Self> {
        Arc::new(Self(AtomicU64::new(1_700_000_000_000)))
    }
    pub fn advance(&self, ms: u64) {
        self.0.fetch_add(ms, SeqCst);
    }
    pub fn now(&self) -> u64 {
        self.0.load(SeqCst)
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> u64 {
        self.0.load(SeqCst)
    }
}

/// Every live key and its value, read through `get`.
pub fn dump(db: &Bitcask) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let mut out = BTreeMap::new();
    for k in db.keys() {
        if let Some(v) = db.get(&k).expect("get during dump") {
            out.insert(k.to_vec(), v.to_vec());
        }
    }
    out
}

/// Ids of the data files in `dir` on the real file system.
pub fn data_ids(dir: &Path) -> Vec<u32> {
    let mut ids: Vec<u32> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            match ccbitcask_engine::fs::classify(&name) {
                ccbitcask_engine::fs::Entry::Data(id) => Some(id),
                _ => None,
            }
        })
        .collect();
    ids.sort_unstable();
    ids
}

/// Copies every regular file of `from` into `to` (a snapshot of a database directory).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_file() {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

/// A deterministic seed for a test, overridable with `CCB_SEED` to replay a failure.
pub fn seed() -> u64 {
    std::env::var("CCB_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| rand::random::<u32>().into())
}

/// A count from the environment (long runs), else `default`.
pub fn env_count(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

// ---------------------------------------------------------------------------------------
// FaultyFs
// ---------------------------------------------------------------------------------------

/// The mutating operations [`FaultyFs`] counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OpKind {
    /// An append to a file.
    Write,
    /// `sync_data` on a file.
    Sync,
    /// A rename.
    Rename,
    /// Opening with `CreateNew`.
    Create,
    /// Removing a file.
    Remove,
    /// `sync_dir`.
    SyncDir,
    /// `set_len`.
    Truncate,
}

/// What happens at the chosen operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultMode {
    /// The call fails with EIO and does nothing.
    Eio,
    /// The call fails with ENOSPC and does nothing.
    Enospc,
    /// A write stores only the first half of its bytes and reports that, and the next
    /// write fails with ENOSPC: a disk filling up in the middle of a record.
    ShortThenEnospc,
}

/// Which operation to fail.
#[derive(Clone, Copy, Debug)]
pub struct FaultPlan {
    /// `None`: count every mutating operation together.
    pub kind: Option<OpKind>,
    /// 0-based index among the counted operations.
    pub nth: u64,
    pub mode: FaultMode,
    /// After the fault, every mutating operation fails too.
    pub sticky: bool,
}

#[derive(Debug, Default)]
struct FaultState {
    plan: Option<FaultPlan>,
    counts: BTreeMap<OpKind, u64>,
    total: u64,
    fired: bool,
    /// A short write happened; the next write fails.
    pending_enospc: bool,
    log: Vec<(OpKind, PathBuf)>,
    /// Creating a file whose name ends with this sleeps first (slow-disk races).
    delay: Option<(String, std::time::Duration)>,
    /// Every operation of this kind sleeps first (slow-disk races).
    delay_kind: Option<(OpKind, std::time::Duration)>,
    /// Only operations on paths containing this are counted and failed.
    only_paths: Option<String>,
    /// Files opened for reading whose name ends with this read back changed on a
    /// second pass (see [`FaultyFs::change_on_reread`]).
    reread_changes: Option<String>,
}

/// [`StdFs`] (or any [`Vfs`]) with one injected fault.
#[derive(Debug, Clone)]
pub struct FaultyFs {
    inner: Arc<dyn Vfs>,
    state: Arc<Mutex<FaultState>>,
}

fn errno(mode: FaultMode) -> io::Error {
    match mode {
        FaultMode::Eio => io::Error::from_raw_os_error(5),
        FaultMode::Enospc | FaultMode::ShortThenEnospc => io::Error::from_raw_os_error(28),
    }
}

/// What the fault check decided for one operation.
enum Verdict {
    Proceed,
    Fail(io::Error),
    Short,
}

impl FaultyFs {
    /// Wraps the real file system, with no fault armed.
    pub fn new() -> Self {
        Self::wrap(Arc::new(StdFs))
    }

    pub fn wrap(inner: Arc<dyn Vfs>) -> Self {
        Self {
            inner,
            state: Arc::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, FaultState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Arms a fault; resets the counters so `nth` counts from now.
    pub fn arm(&self, plan: FaultPlan) {
        let mut s = self.lock();
        s.plan = Some(plan);
        s.counts.clear();
        s.total = 0;
        s.fired = false;
        s.pending_enospc = false;
        s.log.clear();
    }

    /// Fails the `nth` operation of `kind` (0-based) with `mode`, once.
    pub fn fail_nth(&self, kind: OpKind, nth: u64, mode: FaultMode) {
        self.arm(FaultPlan {
            kind: Some(kind),
            nth,
            mode,
            sticky: false,
        });
    }

    /// Fails the `nth` mutating operation of any kind, once.
    pub fn fail_nth_any(&self, nth: u64, mode: FaultMode) {
        self.arm(FaultPlan {
            kind: None,
            nth,
            mode,
            sticky: false,
        });
    }

    /// Disarms and resets the counters (use it to count the operations of a step).
    pub fn disarm(&self) {
        let mut s = self.lock();
        *s = FaultState::default();
    }

    /// Makes every create of a file whose name ends with `suffix` take `d` longer.
    pub fn delay_creates(&self, suffix: &str, d: std::time::Duration) {
        self.lock().delay = Some((suffix.to_owned(), d));
    }

    /// Restricts counting and failing to paths containing `part` (e.g. `".hint"`).
    pub fn only_paths(&self, part: &str) {
        self.lock().only_paths = Some(part.to_owned());
    }

    /// Makes a file whose name ends with `suffix`, opened for reading, read back one
    /// byte changed (at file offset [`REREAD_FLIP_AT`]) once more bytes have been read
    /// through that handle than the file holds: its first full pass sees it intact, a
    /// second does not, as from a disk failing between two reads.
    pub fn change_on_reread(&self, suffix: &str) {
        self.lock().reread_changes = Some(suffix.to_owned());
    }

    /// Makes every operation of `kind` take `d` longer (it sleeps before the fault check).
    pub fn delay_ops(&self, kind: OpKind, d: std::time::Duration) {
        self.lock().delay_kind = Some((kind, d));
    }

    /// Whether the armed fault has fired.
    pub fn fired(&self) -> bool {
        self.lock().fired
    }

    /// Mutating operations seen since the last arm/disarm.
    pub fn total_ops(&self) -> u64 {
        self.lock().total
    }

    /// The operations seen since the last arm/disarm, in order.
    pub fn log(&self) -> Vec<(OpKind, PathBuf)> {
        self.lock().log.clone()
    }

    fn check(&self, kind: OpKind, path: &Path) -> Verdict {
        let delay = self.lock().delay_kind;
        if let Some((k, d)) = delay {
            if k == kind {
                std::thread::sleep(d);
            }
        }
        let mut s = self.lock();
        if let Some(part) = &s.only_paths {
            if !path.to_string_lossy().contains(part.as_str()) {
                return Verdict::Proceed;
            }
        }
        s.log.push((kind, path.to_path_buf()));
        let idx_kind = *s.counts.entry(kind).and_modify(|c| *c += 1).or_insert(1) - 1;
        let idx_any = s.total;
        s.total += 1;
        let Some(plan) = s.plan else {
            return Verdict::Proceed;
        };
        if s.pending_enospc && kind == OpKind::Write {
            s.pending_enospc = false;
            return Verdict::Fail(errno(FaultMode::Enospc));
        }
        if s.fired {
            return if plan.sticky {
                Verdict::Fail(errno(plan.mode))
            } else {
                Verdict::Proceed
            };
        }
        let hit = match plan.kind {
            Some(k) => k == kind && idx_kind == plan.nth,
            None => idx_any == plan.nth,
        };
        if !hit {
            return Verdict::Proceed;
        }
        s.fired = true;
        if plan.mode == FaultMode::ShortThenEnospc && kind == OpKind::Write {
            s.pending_enospc = true;
            return Verdict::Short;
        }
        Verdict::Fail(errno(plan.mode))
    }
}

impl Default for FaultyFs {
    fn default() -> Self {
        Self::new()
    }
}

/// Where [`FaultyFs::change_on_reread`] flips a byte: past a 16-byte file header.
pub const REREAD_FLIP_AT: u64 = 32;

#[derive(Debug)]
struct FaultyFile {
    fs: FaultyFs,
    path: PathBuf,
    inner: Arc<dyn VfsFile>,
    /// The file's length, when it reads back changed on a second pass.
    reread_len: Option<u64>,
    /// Bytes read through this handle.
    read: AtomicU64,
}

impl VfsFile for FaultyFile {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        let n = self.inner.read_at(buf, offset)?;
        if let Some(len) = self.reread_len {
            let before = self.read.fetch_add(n as u64, SeqCst);
            let at = usize::try_from(REREAD_FLIP_AT.saturating_sub(offset)).unwrap_or(usize::MAX);
            if before >= len && at < n {
                buf[at] ^= 0x5A;
            }
        }
        Ok(n)
    }
    fn write_at(&self, bufs: &[IoSlice<'_>], offset: u64) -> io::Result<usize> {
        match self.fs.check(OpKind::Write, &self.path) {
            Verdict::Proceed => self.inner.write_at(bufs, offset),
            Verdict::Fail(e) => Err(e),
            Verdict::Short => {
                let all: Vec<u8> = bufs.iter().flat_map(|b| b.iter().copied()).collect();
                let half = all.len() / 2;
                if half == 0 {
                    return Err(errno(FaultMode::Enospc));
                }
                self.inner.write_at(&[IoSlice::new(&all[..half])], offset)
            }
        }
    }
    fn sync_data(&self) -> io::Result<()> {
        match self.fs.check(OpKind::Sync, &self.path) {
            Verdict::Fail(e) => Err(e),
            _ => self.inner.sync_data(),
        }
    }
    fn len(&self) -> io::Result<u64> {
        self.inner.len()
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        match self.fs.check(OpKind::Truncate, &self.path) {
            Verdict::Fail(e) => Err(e),
            _ => self.inner.set_len(len),
        }
    }
}

impl Vfs for FaultyFs {
    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        self.inner.create_dir_all(path)
    }
    fn is_dir(&self, path: &Path) -> io::Result<bool> {
        self.inner.is_dir(path)
    }
    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        self.inner.list(dir)
    }
    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Arc<dyn VfsFile>> {
        if mode == OpenMode::CreateNew {
            let delay = self.lock().delay.clone();
            if let Some((suffix, d)) = delay {
                if path.to_string_lossy().ends_with(&suffix) {
                    std::thread::sleep(d);
                }
            }
            if let Verdict::Fail(e) = self.check(OpKind::Create, path) {
                return Err(e);
            }
        }
        let inner = self.inner.open(path, mode)?;
        let changes = self.lock().reread_changes.clone();
        let reread_len = match changes {
            Some(suffix) if mode == OpenMode::Read && path.to_string_lossy().ends_with(&suffix) => {
                Some(inner.len()?)
            }
            _ => None,
        };
        Ok(Arc::new(FaultyFile {
            fs: self.clone(),
            path: path.to_path_buf(),
            inner,
            reread_len,
            read: AtomicU64::new(0),
        }))
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        match self.check(OpKind::Rename, to) {
            Verdict::Fail(e) => Err(e),
            _ => self.inner.rename(from, to),
        }
    }
    fn remove(&self, path: &Path) -> io::Result<()> {
        match self.check(OpKind::Remove, path) {
            Verdict::Fail(e) => Err(e),
            _ => self.inner.remove(path),
        }
    }
    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        match self.check(OpKind::SyncDir, dir) {
            Verdict::Fail(e) => Err(e),
            _ => self.inner.sync_dir(dir),
        }
    }
    fn try_lock(&self, path: &Path, pid: u32) -> io::Result<Option<Box<dyn VfsLock>>> {
        self.inner.try_lock(path, pid)
    }
}

// ---------------------------------------------------------------------------------------
// SimFs
// ---------------------------------------------------------------------------------------

/// One file's contents: what a reader sees now, and what survives power loss.
#[derive(Debug, Default)]
struct Inode {
    data: Vec<u8>,
    durable: Vec<u8>,
}

impl Inode {
    /// The first byte written since the last fsync: where `data` and `durable` first
    /// differ (appends, or overwrites of preallocated zeros).
    fn unsynced_from(&self) -> usize {
        self.data
            .iter()
            .zip(&self.durable)
            .position(|(a, b)| a != b)
            .unwrap_or(self.data.len().min(self.durable.len()))
    }
}

/// Writes `src` over `bytes` at `at`, extending it (a hole of zeros before `at`, as an
/// unwritten page reads) where it is shorter.
fn overlay(bytes: &mut Vec<u8>, at: usize, src: &[u8]) {
    if bytes.len() < at + src.len() {
        bytes.resize(at + src.len(), 0);
    }
    bytes[at..at + src.len()].copy_from_slice(src);
}

type InodeRef = Arc<Mutex<Inode>>;

fn lock_inode(i: &InodeRef) -> MutexGuard<'_, Inode> {
    i.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[derive(Debug, Default)]
struct SimState {
    dirs: BTreeSet<PathBuf>,
    /// Names as the running system sees them.
    live: BTreeMap<PathBuf, InodeRef>,
    /// Names as of each directory's last fsync.
    durable: BTreeMap<PathBuf, InodeRef>,
    /// Mutating operations so far.
    ops: u64,
    /// Take a power-loss image just before mutating operation number `cut_at`.
    cut_at: Option<u64>,
    captured: Option<SimImage>,
}

/// A post-power-loss disk image: names and their surviving bytes.
#[derive(Debug, Clone, Default)]
pub struct SimImage {
    dirs: BTreeSet<PathBuf>,
    files: BTreeMap<PathBuf, Vec<u8>>,
}

/// An in-memory file system that can lose power. Clones share the same disk.
#[derive(Debug, Clone, Default)]
pub struct SimFs {
    state: Arc<Mutex<SimState>>,
}

#[derive(Debug)]
struct SimFile {
    fs: SimFs,
    inode: InodeRef,
}

#[derive(Debug)]
struct SimLock;
impl VfsLock for SimLock {}

fn not_found() -> io::Error {
    io::Error::from(io::ErrorKind::NotFound)
}

impl SimFs {
    pub fn new() -> Self {
        Self::default()
    }

    /// Boots a fresh file system from a power-loss image.
    pub fn from_image(img: &SimImage) -> Self {
        let fs = Self::new();
        {
            let mut s = fs.lock();
            s.dirs = img.dirs.clone();
            for (p, bytes) in &img.files {
                let inode = Arc::new(Mutex::new(Inode {
                    data: bytes.clone(),
                    durable: bytes.clone(),
                }));
                s.live.insert(p.clone(), Arc::clone(&inode));
                s.durable.insert(p.clone(), inode);
            }
        }
        fs
    }

    fn lock(&self) -> MutexGuard<'_, SimState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn image_locked(s: &SimState, torn: Option<&mut dyn FnMut(usize) -> usize>) -> SimImage {
        let mut torn = torn;
        let mut files = BTreeMap::new();
        for (p, inode) in &s.durable {
            let i = lock_inode(inode);
            let mut bytes = i.durable.clone();
            // Optionally, the OS had written back part of what was written since the
            // last fsync: a prefix of the bytes from the first one that changed (writes
            // reach the disk in order here).
            if let Some(pick) = torn.as_mut() {
                let from = i.unsynced_from();
                if i.data.len() > from {
                    let extra = i.data.len() - from;
                    let keep = pick(extra).min(extra);
                    overlay(&mut bytes, from, &i.data[from..from + keep]);
                }
            }
            files.insert(p.clone(), bytes);
        }
        SimImage {
            dirs: s.dirs.clone(),
            files,
        }
    }

    /// What survives if power is lost now: file bytes as of their last `sync_data`,
    /// names as of their directory's last `sync_dir`.
    pub fn power_loss(&self) -> SimImage {
        Self::image_locked(&self.lock(), None)
    }

    /// Like [`SimFs::power_loss`], but for each file a prefix of the bytes written since
    /// its last fsync also survives; `pick(n)` chooses how many of the `n`.
    pub fn power_loss_partial(&self, mut pick: impl FnMut(usize) -> usize) -> SimImage {
        Self::image_locked(&self.lock(), Some(&mut pick))
    }

    /// Like [`SimFs::power_loss`], but the OS had written back an arbitrary *subset*
    /// of each file's unsynced pages (`page` bytes each), not a prefix: pages not
    /// written back read as zeros if a later page was (a hole), as after out-of-order
    /// writeback on a real disk. `keep(page_index)` decides per page.
    pub fn power_loss_reordered(
        &self,
        page: usize,
        mut keep: impl FnMut(usize) -> bool,
    ) -> SimImage {
        let s = self.lock();
        let mut img = Self::image_locked(&s, None);
        for (p, inode) in &s.durable {
            let i = lock_inode(inode);
            let from = i.unsynced_from();
            if i.data.len() <= from {
                continue;
            }
            let mut bytes = i.durable.clone();
            let mut at = from;
            let mut n = 0;
            while at < i.data.len() {
                let end = (at + page).min(i.data.len());
                if keep(n) {
                    overlay(&mut bytes, at, &i.data[at..end]);
                }
                at = end;
                n += 1;
            }
            img.files.insert(p.clone(), bytes);
        }
        img
    }

    /// Arms a power cut just before mutating operation `n` (0-based from now); the image
    /// is kept for [`SimFs::take_captured`] while the system goes on running.
    pub fn cut_before_op(&self, n: u64) {
        let mut s = self.lock();
        s.ops = 0;
        s.cut_at = Some(n);
        s.captured = None;
    }

    /// Resets the operation counter (to count the operations of a step).
    pub fn reset_ops(&self) {
        let mut s = self.lock();
        s.ops = 0;
        s.cut_at = None;
        s.captured = None;
    }

    pub fn ops(&self) -> u64 {
        self.lock().ops
    }

    pub fn take_captured(&self) -> Option<SimImage> {
        self.lock().captured.take()
    }

    fn tick(&self) {
        let mut s = self.lock();
        if s.cut_at == Some(s.ops) {
            let img = Self::image_locked(&s, None);
            s.captured = Some(img);
        }
        s.ops += 1;
    }

    /// The current (not necessarily durable) contents of a file.
    pub fn read_file(&self, path: &Path) -> Option<Vec<u8>> {
        let s = self.lock();
        s.live.get(path).map(|i| lock_inode(i).data.clone())
    }

    /// Names currently in `dir`.
    pub fn names(&self, dir: &Path) -> Vec<String> {
        self.list(dir).unwrap_or_default()
    }
}

impl SimImage {
    /// Bytes of a surviving file.
    pub fn file(&self, path: &Path) -> Option<&Vec<u8>> {
        self.files.get(path)
    }
    pub fn file_mut(&mut self, path: &Path) -> Option<&mut Vec<u8>> {
        self.files.get_mut(path)
    }
    /// Adds (or replaces) a file in the image.
    pub fn insert(&mut self, path: PathBuf, bytes: Vec<u8>) {
        self.files.insert(path, bytes);
    }
    pub fn paths(&self) -> Vec<PathBuf> {
        self.files.keys().cloned().collect()
    }
}

impl VfsFile for SimFile {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        let i = lock_inode(&self.inode);
        let off = usize::try_from(offset).unwrap_or(usize::MAX);
        if off >= i.data.len() {
            return Ok(0);
        }
        let n = buf.len().min(i.data.len() - off);
        buf[..n].copy_from_slice(&i.data[off..off + n]);
        Ok(n)
    }
    fn write_at(&self, bufs: &[IoSlice<'_>], offset: u64) -> io::Result<usize> {
        self.fs.tick();
        let mut i = lock_inode(&self.inode);
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        let mut at = start;
        for b in bufs {
            overlay(&mut i.data, at, b);
            at += b.len();
        }
        Ok(at - start)
    }
    fn sync_data(&self) -> io::Result<()> {
        self.fs.tick();
        let mut i = lock_inode(&self.inode);
        i.durable = i.data.clone();
        Ok(())
    }
    fn len(&self) -> io::Result<u64> {
        Ok(lock_inode(&self.inode).data.len() as u64)
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        self.fs.tick();
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        lock_inode(&self.inode).data.resize(len, 0);
        Ok(())
    }
}

impl Vfs for SimFs {
    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        let mut s = self.lock();
        for a in path.ancestors() {
            s.dirs.insert(a.to_path_buf());
        }
        Ok(())
    }
    fn is_dir(&self, path: &Path) -> io::Result<bool> {
        Ok(self.lock().dirs.contains(path))
    }
    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let s = self.lock();
        if !s.dirs.contains(dir) {
            return Err(not_found());
        }
        Ok(s.live
            .keys()
            .filter(|p| p.parent() == Some(dir))
            .filter_map(|p| p.file_name()?.to_str().map(str::to_owned))
            .collect())
    }
    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Arc<dyn VfsFile>> {
        if mode == OpenMode::CreateNew {
            self.tick();
        }
        let mut s = self.lock();
        let inode = match mode {
            OpenMode::Read | OpenMode::Write => s.live.get(path).cloned().ok_or_else(not_found)?,
            OpenMode::CreateNew => {
                if s.live.contains_key(path) {
                    return Err(io::ErrorKind::AlreadyExists.into());
                }
                if !path.parent().is_some_and(|d| s.dirs.contains(d)) {
                    return Err(not_found());
                }
                let inode: InodeRef = Arc::default();
                s.live.insert(path.to_path_buf(), Arc::clone(&inode));
                inode
            }
        };
        Ok(Arc::new(SimFile {
            fs: self.clone(),
            inode,
        }))
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.tick();
        let mut s = self.lock();
        let inode = s.live.remove(from).ok_or_else(not_found)?;
        s.live.insert(to.to_path_buf(), inode);
        Ok(())
    }
    fn remove(&self, path: &Path) -> io::Result<()> {
        self.tick();
        self.lock()
            .live
            .remove(path)
            .map(drop)
            .ok_or_else(not_found)
    }
    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        self.tick();
        let mut s = self.lock();
        let s = &mut *s;
        s.durable.retain(|p, _| p.parent() != Some(dir));
        for (p, i) in &s.live {
            if p.parent() == Some(dir) {
                s.durable.insert(p.clone(), Arc::clone(i));
            }
        }
        Ok(())
    }
    fn try_lock(&self, _path: &Path, _pid: u32) -> io::Result<Option<Box<dyn VfsLock>>> {
        // One process: the lock always succeeds.
        Ok(Some(Box::new(SimLock)))
    }
}

/// A directory path for a simulated database that does not exist on the real disk
/// (recovery checks the real `Path::exists` only when the directory is missing).
pub fn sim_dir() -> PathBuf {
    PathBuf::from("/nonexistent-ccbitcask-sim/db")
}

// ---------------------------------------------------------------------------------------
// The model
// ---------------------------------------------------------------------------------------

/// What the database should hold: key -> (value, expiry in ms).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Model {
    pub map: BTreeMap<Vec<u8>, (Vec<u8>, Option<u64>)>,
}

impl Model {
    pub fn put(&mut self, k: &[u8], v: &[u8], expiry: Option<u64>) {
        self.map.insert(k.to_vec(), (v.to_vec(), expiry));
    }
    pub fn delete(&mut self, k: &[u8]) {
        self.map.remove(k);
    }
    /// Live, unexpired entries at `now`.
    pub fn live(&self, now: u64) -> BTreeMap<Vec<u8>, Vec<u8>> {
        self.map
            .iter()
            .filter(|(_, (_, e))| e.is_none_or(|at| at > now))
            .map(|(k, (v, _))| (k.clone(), v.clone()))
            .collect()
    }
}

/// Opens `dir` on `fs` with tiny files, no automatic merge, and the given clock.
pub fn open_tiny(
    dir: &Path,
    fs: Arc<dyn Vfs>,
    clock: Arc<ManualClock>,
    max_file_size: u64,
    sync: ccbitcask_engine::SyncPolicy,
) -> ccbitcask_engine::Result<Bitcask> {
    Bitcask::builder(dir)
        .vfs(fs)
        .clock(clock)
        .max_file_size(max_file_size)
        .sync(sync)
        .merge_options(ccbitcask_engine::MergeOptions {
            auto: false,
            ..ccbitcask_engine::MergeOptions::default()
        })
        .open()
}

/// A fresh, empty database on a new `SimFs` (whose handle is returned for power cuts):
/// tiny files of `max_file_size` bytes, no automatic merge.
pub fn fresh(max_file_size: u64, policy: ccbitcask_engine::SyncPolicy) -> (SimFs, Bitcask) {
    let sim = SimFs::new();
    let db = open_tiny(
        &sim_dir(),
        Arc::new(sim.clone()),
        ManualClock::new(),
        max_file_size,
        policy,
    )
    .unwrap();
    (sim, db)
}

/// Boots a power-loss image as the machine would after the cut: `check` must find
/// nothing but a torn tail, and the open must report no damage.
pub fn boot(img: &SimImage, policy: ccbitcask_engine::SyncPolicy) -> (SimFs, Bitcask) {
    let sim = SimFs::from_image(img);
    let report = ccbitcask_engine::check_with(&sim, &sim_dir()).unwrap();
    assert_clean(&report, "power loss left corruption, not just a torn tail");
    let db = open_tiny(
        &sim_dir(),
        Arc::new(sim.clone()),
        ManualClock::new(),
        300,
        policy,
    )
    .unwrap();
    assert!(db.open_report().damage.is_empty(), "{:?}", db.open_report());
    (sim, db)
}

/// Asserts `check` found no corruption; the failure message is `ctx` followed by
/// the corruption found.
#[track_caller]
pub fn assert_clean(report: &CheckReport, ctx: &str) {
    assert!(
        report.is_clean(),
        "{ctx}: {:?}",
        report.corruption().collect::<Vec<_>>()
    );
}

/// A deterministic history with overwrites, deletes, a batch and TTLs (some expired by
/// the end) over many small files; applied to `db` and `model` alike.
pub fn populate(db: &Bitcask, model: &mut Model, clock: &ManualClock) {
    for round in 0..4u32 {
        for i in 0..30u32 {
            let k = format!("key{i:02}");
            let v = format!("value-{i}-round-{round}");
            db.put(k.as_bytes(), v.as_bytes()).unwrap();
            model.put(k.as_bytes(), v.as_bytes(), None);
        }
        for i in (round..30).step_by(7) {
            let k = format!("key{i:02}");
            db.delete(k.as_bytes()).unwrap();
            model.delete(k.as_bytes());
        }
    }
    let mut b = ccbitcask_engine::WriteBatch::new();
    b.put("batch-a", "A")
        .delete("key05")
        .put("key06", "batched-6");
    db.write_batch(&b).unwrap();
    model.put(b"batch-a", b"A", None);
    model.delete(b"key05");
    model.put(b"key06", b"batched-6", None);
    // TTLs: one far in the future, and overwrites of live keys that then expire, which
    // must keep hiding the older values (they act as deletes).
    let now = clock.now();
    db.put_with_expiry(b"ttl-long", b"long", Some(now + 3_600_000))
        .unwrap();
    model.put(b"ttl-long", b"long", Some(now + 3_600_000));
    for k in ["key10", "key11", "key12"] {
        db.put_with_expiry(k.as_bytes(), b"short", Some(now + 1_000))
            .unwrap();
        model.put(k.as_bytes(), b"short", Some(now + 1_000));
    }
    for i in 0..30u32 {
        let k = format!("tail{i:02}");
        db.put(k.as_bytes(), b"tail-value").unwrap();
        model.put(k.as_bytes(), b"tail-value", None);
    }
    clock.advance(5_000);
}

/// A readable difference between two states (empty if equal).
pub fn diff(got: &BTreeMap<Vec<u8>, Vec<u8>>, want: &BTreeMap<Vec<u8>, Vec<u8>>) -> String {
    let s = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let mut out = Vec::new();
    for (k, v) in got {
        match want.get(k) {
            None => out.push(format!("extra {}={}", s(k), s(v))),
            Some(w) if w != v => out.push(format!("{}: got {} want {}", s(k), s(v), s(w))),
            Some(_) => {}
        }
    }
    for (k, w) in want {
        if !got.contains_key(k) {
            out.push(format!("missing {}={}", s(k), s(w)));
        }
    }
    out.join("; ")
}

/// Panics with a readable difference unless `db` holds exactly the model's live state.
pub fn assert_model(db: &Bitcask, model: &Model, now: u64, what: &str) {
    let got = dump(db);
    let want = model.live(now);
    assert!(got == want, "{what}: {}", diff(&got, &want));
}
