//! `--probe-disk DIR`: measure the disk the store would live on, in a few
//! seconds, instead of trusting the hardware defaults.
//!
//! It measures sequential write bandwidth (1 MiB appends until 256 MiB or 2 s,
//! then one fsync, all timed: the fsync is counted because a store that syncs
//! pays for the page cache's backlog too) and fsync latency (the median of up
//! to 100 fdatasyncs of a 4 KiB append, within 1.5 s; fdatasync is what an
//! append-only log needs). It reads `vm.dirty_expire_centisecs` (how long
//! `sync none` data can sit unwritten) and the soft open-files limit from
//! `/proc/self/limits` (read as text to avoid a libc dependency). Files it
//! writes are removed, also on error.

use crate::error::PlanError;
use crate::hardware::HardwarePatch;
use crate::units::{fmt_bytes, fmt_thousands, ByteSize};
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long and how much the probe may write.
#[derive(Debug, Clone)]
pub struct ProbeOptions {
    /// Stop the bandwidth test after this many bytes.
    pub max_bytes: u64,
    /// ... or after this long.
    pub max_bandwidth_time: Duration,
    /// Most fsync samples.
    pub fsync_samples: usize,
    /// Stop sampling fsyncs after this long.
    pub max_fsync_time: Duration,
}

impl Default for ProbeOptions {
    fn default() -> Self {
        ProbeOptions {
            max_bytes: 256 * 1024 * 1024,
            max_bandwidth_time: Duration::from_secs(2),
            fsync_samples: 100,
            max_fsync_time: Duration::from_millis(1500),
        }
    }
}

/// What the probe measured.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeResult {
    /// The directory probed.
    pub dir: PathBuf,
    /// Sequential write bandwidth including the final fsync, bytes/s.
    pub bandwidth: f64,
    /// Bytes written for it.
    pub bytes_written: u64,
    /// Median fsync latency, ms.
    pub fsync_ms: f64,
    /// fsyncs sampled.
    pub fsync_samples: usize,
    /// `vm.dirty_expire_centisecs` / 100, if readable.
    pub dirty_expire_secs: Option<f64>,
    /// Soft open-files limit, if readable (`u64::MAX` for unlimited).
    pub open_files_limit: Option<u64>,
}

/// Removes the probe's file when dropped, so an error midway leaves nothing behind.
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        // Best effort: the probe's result does not depend on the cleanup.
        let _ = fs::remove_file(&self.0);
    }
}

fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> PlanError + 'a {
    move |source| PlanError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

fn create(path: &Path) -> Result<File, PlanError> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(io_err("create probe file in", path))
}

/// Probes `dir`.
///
/// # Errors
/// [`PlanError::Io`] if the directory cannot be written or synced.
pub fn probe_disk(dir: &Path, opts: &ProbeOptions) -> Result<ProbeResult, PlanError> {
    let pid = std::process::id();
    let bw_path = TempFile(dir.join(format!(".ccbitcask-probe-{pid}.bw")));
    let (bandwidth, bytes_written) = {
        let mut file = create(&bw_path.0)?;
        // A non-zero pattern, so no filesystem can shortcut zeroed blocks.
        let chunk: Vec<u8> = (0..1024 * 1024).map(|i| (i % 251) as u8).collect();
        let start = Instant::now();
        let mut written = 0u64;
        while written < opts.max_bytes && start.elapsed() < opts.max_bandwidth_time {
            file.write_all(&chunk)
                .map_err(io_err("write probe file in", &bw_path.0))?;
            written += chunk.len() as u64;
        }
        file.sync_all()
            .map_err(io_err("fsync probe file in", &bw_path.0))?;
        let secs = start.elapsed().as_secs_f64().max(1e-6);
        (written as f64 / secs, written)
    };
    drop(bw_path);

    let fs_path = TempFile(dir.join(format!(".ccbitcask-probe-{pid}.fsync")));
    let mut samples = Vec::with_capacity(opts.fsync_samples);
    {
        let mut file = create(&fs_path.0)?;
        let block = [0x5au8; 4096];
        let start = Instant::now();
        while samples.len() < opts.fsync_samples.max(1)
            && (samples.is_empty() || start.elapsed() < opts.max_fsync_time)
        {
            file.write_all(&block)
                .map_err(io_err("write probe file in", &fs_path.0))?;
            let t = Instant::now();
            file.sync_data()
                .map_err(io_err("fsync probe file in", &fs_path.0))?;
            samples.push(t.elapsed().as_secs_f64() * 1000.0);
        }
    }
    drop(fs_path);
    samples.sort_by(f64::total_cmp);
    let fsync_ms = samples
        .get(samples.len() / 2)
        .copied()
        .unwrap_or(0.0)
        // A RAM-backed filesystem can report 0; the plan divides by it.
        .max(0.001);

    Ok(ProbeResult {
        dir: dir.to_path_buf(),
        bandwidth,
        bytes_written,
        fsync_ms,
        fsync_samples: samples.len(),
        dirty_expire_secs: fs::read_to_string("/proc/sys/vm/dirty_expire_centisecs")
            .ok()
            .and_then(|t| parse_dirty_expire(&t)),
        open_files_limit: fs::read_to_string("/proc/self/limits")
            .ok()
            .and_then(|t| parse_open_files_limit(&t)),
    })
}

/// `3000\n` → 30 s.
pub fn parse_dirty_expire(text: &str) -> Option<f64> {
    let centis: u64 = text.trim().parse().ok()?;
    (centis > 0).then(|| centis as f64 / 100.0)
}

/// The soft limit from `/proc/self/limits`' "Max open files" line.
pub fn parse_open_files_limit(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    let soft = line
        .trim_start_matches("Max open files")
        .split_whitespace()
        .next()?;
    if soft == "unlimited" {
        Some(u64::MAX)
    } else {
        soft.parse().ok()
    }
}

impl ProbeResult {
    /// The hardware fields the probe measured, to layer over defaults.
    pub fn patch(&self) -> HardwarePatch {
        HardwarePatch {
            disk_bandwidth: Some(ByteSize(self.bandwidth.round().max(1.0) as u64)),
            fsync_latency_ms: Some(self.fsync_ms),
            open_files_limit: self.open_files_limit,
            dirty_expire_secs: self.dirty_expire_secs,
            ..HardwarePatch::default()
        }
    }

    /// One line for the report's sources.
    pub fn describe(&self) -> String {
        format!(
            "probed {}: {}/s sequential ({} written), fsync {:.2} ms (median of {}), \
             writeback {}, open files {}",
            self.dir.display(),
            fmt_bytes(self.bandwidth),
            fmt_bytes(self.bytes_written as f64),
            self.fsync_ms,
            self.fsync_samples,
            self.dirty_expire_secs
                .map_or("unreadable (default kept)".to_string(), |s| format!(
                    "{s} s"
                )),
            self.open_files_limit
                .map_or("unreadable (default kept)".to_string(), fmt_thousands)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_files() {
        assert_eq!(parse_dirty_expire("3000\n"), Some(30.0));
        assert_eq!(parse_dirty_expire("junk"), None);
        let limits = "Limit                     Soft Limit           Hard Limit           Units\n\
                      Max open files            1024                 1048576              files\n";
        assert_eq!(parse_open_files_limit(limits), Some(1024));
        let unlimited =
            "Max open files            unlimited            unlimited            files\n";
        assert_eq!(parse_open_files_limit(unlimited), Some(u64::MAX));
        assert_eq!(parse_open_files_limit("nothing here"), None);
    }

    #[test]
    fn a_quick_probe_measures_and_cleans_up() {
        let dir = tempfile::tempdir().unwrap();
        let opts = ProbeOptions {
            max_bytes: 4 * 1024 * 1024,
            max_bandwidth_time: Duration::from_millis(200),
            fsync_samples: 5,
            max_fsync_time: Duration::from_millis(200),
        };
        let r = probe_disk(dir.path(), &opts).unwrap();
        assert!(r.bandwidth > 0.0 && r.fsync_ms > 0.0);
        assert!(r.fsync_samples >= 1);
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            0,
            "probe files removed"
        );
        assert!(r.describe().contains("fsync"));
        assert!(r.patch().fsync_latency_ms.is_some());
    }

    #[test]
    fn a_missing_directory_is_an_io_error() {
        let e = probe_disk(
            Path::new("/nonexistent/ccbitcask"),
            &ProbeOptions::default(),
        )
        .unwrap_err();
        assert_eq!(e.exit_code(), crate::error::EXIT_IO);
        assert!(!e.to_string().contains('\n'));
    }
}
