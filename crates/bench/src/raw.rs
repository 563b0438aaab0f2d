//! The raw baselines the engine is held against, and the filesystem helpers the
//! workloads share.
//!
//! - [`write_loop`]: one `write()` syscall per record, the ceiling for an append-only
//!   `put` that reaches the page cache on every call.
//! - [`pread_loop`]: one `pread` per record at a random record offset, the ceiling for
//!   a `get` that is one positioned read; [`pread_after_misses`] adds the cache misses
//!   of an ideal index lookup before each, the ceiling for an index of that many misses.
//!   Both read a copy laid down as the engine lays its files ([`relay`]).
//! - [`dd_fdatasync`]: `dd bs=1M conv=fdatasync` of a file of random bytes, the disk's
//!   sequential write bandwidth that merge throughput is compared with.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use ccbitcask_engine::fs::{classify, Entry};
use ccbitcask_engine::vfs::{OpenMode, StdFs, Vfs};
use ccbitcask_engine::ZERO_PIECE;

use crate::workload::{key_into, Rng, Values};

/// Appends `n` records of `record_len` bytes to `path`, one `write()` each. Each record
/// is assembled from the same key and value the engine gets (key, value, zero padding
/// standing in for the engine's header), so the loop pays the same copies.
pub fn write_loop(
    path: &Path,
    n: u64,
    key_size: usize,
    values: &Values,
    record_len: usize,
) -> Result<Duration> {
    let mut file = OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(path)
        .with_context(|| format!("create {}", path.display()))?;
    let mut key = Vec::with_capacity(key_size);
    let mut record = vec![0u8; record_len.max(key_size + values.size())];
    let body = key_size + values.size();
    let start = Instant::now();
    for i in 0..n {
        key_into(i, key_size, &mut key);
        record[..key_size].copy_from_slice(&key);
        record[key_size..body].copy_from_slice(values.get(i, 0));
        // `write_all` is one `write()` here: regular files take the whole buffer.
        file.write_all(&record[..record_len])?;
    }
    Ok(start.elapsed())
}

/// Copies `src` to `dst` in aligned writes of [`ZERO_PIECE`] bytes (not timed), so
/// that `dst` sits in the page cache in folios as large as the engine's data files do.
/// Appends of single records, as [`write_loop`] makes, leave `src` in 4 KiB pages, and
/// a `pread` from those costs more: reading `src` would hold the engine against a
/// slower read than it does itself.
pub fn relay(src: &Path, dst: &Path) -> Result<()> {
    let bytes = fs::read(src).with_context(|| format!("read {}", src.display()))?;
    let mut file = File::create(dst).with_context(|| format!("create {}", dst.display()))?;
    for piece in bytes.chunks(ZERO_PIECE as usize) {
        file.write_all(piece)?;
    }
    Ok(())
}

/// `n` random `pread`s of `record_len` bytes from a file of `records` records.
pub fn pread_loop(
    path: &Path,
    records: u64,
    n: u64,
    record_len: usize,
    seed: u64,
) -> Result<Duration> {
    timed_preads(path, n, record_len, seed, |rng| rng.below(records))
}

/// [`pread_loop`], but each record's index is first looked up through `misses`
/// dependent random reads of a table of `table_bytes` (the size of the engine's keydir):
/// what a `get` would cost with a perfect index that took exactly that many cache misses
/// and nothing else. It bounds what any in-RAM index bigger than the CPU caches can
/// reach against the bare `pread`.
pub fn pread_after_misses(
    path: &Path,
    records: u64,
    n: u64,
    record_len: usize,
    seed: u64,
    misses: u32,
    table_bytes: usize,
) -> Result<Duration> {
    let mut fill = Rng::new(seed ^ 0x7AB1E);
    let table: Vec<u32> = (0..(table_bytes / 4).max(1))
        .map(|_| fill.next_u64() as u32)
        .collect();
    let len = table.len() as u64;
    timed_preads(path, n, record_len, seed, |rng| {
        // Each read's address comes from the one before, and the record from the last,
        // so the misses are dependent, as a lookup's are.
        let mut at = rng.below(len);
        for _ in 0..misses {
            at = (u64::from(table[at as usize]) ^ at.wrapping_mul(0x9E37_79B9)) % len;
        }
        at % records
    })
}

/// Times `n` `pread`s of `record_len` bytes, the i-th at record `pick(rng)`. The file is
/// opened the way the engine opens its data files (`O_NOATIME` where allowed), so the
/// comparison is of the read paths, not of open flags.
fn timed_preads(
    path: &Path,
    n: u64,
    record_len: usize,
    seed: u64,
    mut pick: impl FnMut(&mut Rng) -> u64,
) -> Result<Duration> {
    let file = StdFs
        .open(path, OpenMode::Read)
        .with_context(|| format!("open {}", path.display()))?;
    let mut buf = vec![0u8; record_len];
    let mut rng = Rng::new(seed);
    let mut checksum = 0u64;
    let start = Instant::now();
    for _ in 0..n {
        let idx = pick(&mut rng);
        file.read_exact_at(&mut buf, idx * record_len as u64)?;
        checksum = checksum.wrapping_add(u64::from(buf[0]));
    }
    let elapsed = start.elapsed();
    std::hint::black_box(checksum);
    Ok(elapsed)
}

/// Writes `len` random bytes to `src` (once per run; not timed).
pub fn random_file(src: &Path, len: u64) -> Result<()> {
    let mut file = File::create(src).with_context(|| format!("create {}", src.display()))?;
    let mut rng = Rng::new(0x5EED);
    let mut chunk = vec![0u8; 1 << 20];
    let mut left = len;
    while left > 0 {
        for word in chunk.chunks_mut(8) {
            word.copy_from_slice(&rng.next_u64().to_le_bytes());
        }
        let take = left.min(chunk.len() as u64) as usize;
        file.write_all(&chunk[..take])?;
        left -= take as u64;
    }
    file.sync_all()?;
    Ok(())
}

/// Times `dd if=src of=dst bs=1M conv=fdatasync`, then removes `dst`.
pub fn dd_fdatasync(src: &Path, dst: &Path) -> Result<Duration> {
    let start = Instant::now();
    let out = Command::new("dd")
        .arg(format!("if={}", src.display()))
        .arg(format!("of={}", dst.display()))
        .args(["bs=1M", "conv=fdatasync", "status=none"])
        .output()
        .context("run dd")?;
    let elapsed = start.elapsed();
    if !out.status.success() {
        bail!("dd failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    fs::remove_file(dst)?;
    Ok(elapsed)
}

/// Disk usage of a directory tree: (allocated bytes as `du` counts them, apparent bytes).
pub fn disk_usage(dir: &Path) -> Result<(u64, u64)> {
    let mut allocated = 0;
    let mut apparent = 0;
    for entry in fs::read_dir(dir).with_context(|| format!("read {}", dir.display()))? {
        let entry = entry?;
        let meta = entry.metadata()?;
        if meta.is_dir() {
            let (a, b) = disk_usage(&entry.path())?;
            allocated += a;
            apparent += b;
        } else {
            allocated += meta.blocks() * 512;
            apparent += meta.len();
        }
    }
    Ok((allocated, apparent))
}

/// Total apparent size of the hint files in `dir`.
pub fn hint_bytes(dir: &Path) -> Result<u64> {
    let mut total = 0;
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if matches!(
            classify(&entry.file_name().to_string_lossy()),
            Entry::Hint(_)
        ) {
            total += entry.metadata()?.len();
        }
    }
    Ok(total)
}

/// Clones a closed ccbitcask directory into `dst` cheaply: files that are never
/// modified in place (sealed data files and hint files) are hard-linked; the newest
/// file of each kind (the active data file, which a writable open may append to) and
/// small files (lock, markers) are copied. With `skip_hints`, hint files are left
/// out, which forces a full scan at open.
pub fn clone_db(src: &Path, dst: &Path, skip_hints: bool) -> Result<()> {
    fs::create_dir_all(dst)?;
    let mut names: Vec<String> = fs::read_dir(src)?
        .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect::<std::io::Result<_>>()?;
    // Zero-padded ids: the last name of a kind is its newest file.
    names.sort();
    let kind = |n: &str| std::mem::discriminant(&classify(n));
    for (idx, name) in names.iter().enumerate() {
        if skip_hints && matches!(classify(name), Entry::Hint(_)) {
            continue;
        }
        let from = src.join(name);
        let to = dst.join(name);
        let meta = fs::metadata(&from)?;
        if meta.is_dir() {
            continue;
        }
        let newest_of_kind = !names[idx + 1..]
            .iter()
            .any(|later| kind(later) == kind(name));
        if newest_of_kind || meta.len() < (1 << 20) {
            fs::copy(&from, &to)?;
        } else {
            fs::hard_link(&from, &to)?;
        }
    }
    Ok(())
}

/// Drops the page cache (root only); a no-op returning `false` when not permitted.
pub fn drop_caches() -> bool {
    let synced = Command::new("sync").status().is_ok_and(|s| s.success());
    synced && fs::write("/proc/sys/vm/drop_caches", "3\n").is_ok()
}

/// The process's peak resident set (`VmHWM`) in bytes, from `/proc/self/status`.
pub fn peak_rss() -> Result<u64> {
    let status = fs::read_to_string("/proc/self/status")?;
    for line in status.lines() {
        if let Some(rest) = line.strip_prefix("VmHWM:") {
            let kib: u64 = rest.trim().trim_end_matches("kB").trim().parse()?;
            return Ok(kib * 1024);
        }
    }
    bail!("no VmHWM line in /proc/self/status")
}

/// A fresh, empty directory at `path` (removed first if present).
pub fn fresh_dir(path: &Path) -> Result<()> {
    if path.exists() {
        fs::remove_dir_all(path).with_context(|| format!("remove {}", path.display()))?;
    }
    fs::create_dir_all(path).with_context(|| format!("create {}", path.display()))?;
    Ok(())
}

/// Removes a directory tree if present.
pub fn remove_dir(path: &Path) -> Result<()> {
    if path.exists() {
        fs::remove_dir_all(path).with_context(|| format!("remove {}", path.display()))?;
    }
    Ok(())
}
