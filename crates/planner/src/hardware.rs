//! The hardware the store runs on: disk bandwidth, fsync latency and the
//! process limits that bound Bitcask.
//!
//! Defaults describe a commodity SATA SSD on a stock Linux host: 500 MB/s
//! sequential writes, 2 ms fsync, 0.2 ms random read, the usual soft limit of
//! 1024 open files and the kernel's 30 s `dirty_expire_centisecs`. They are
//! guesses about a machine we have not seen, so `--probe-disk DIR` replaces
//! the disk numbers and limits with measured ones.

use crate::error::PlanError;
use crate::knobs::{check_positive, knobs};
use crate::units::ByteSize;

knobs! {
    /// The machine under the store.
    pub struct Hardware, patch HardwarePatch, flags HardwareFlags {
        /// Sequential write bandwidth of the data disk, bytes/s (e.g. 500MB). Default = 500MB.
        disk_bandwidth: ByteSize = ByteSize(500_000_000),
        /// Latency of one fsync of a small append, in ms. Default = 2.
        fsync_latency_ms: f64 = 2.0,
        /// Latency of one random read that misses the page cache, in ms. Default = 0.2.
        read_latency_ms: f64 = 0.2,
        /// Open-files limit of the process (`ulimit -n`). Default = 1024.
        open_files_limit: u64 = 1024,
        /// Kernel writeback age (`vm.dirty_expire_centisecs` / 100), in s. Default = 30.
        dirty_expire_secs: f64 = 30.0,
        /// Free disk space for data and merge output, or `none` if unknown. Default = none.
        disk_free: Option<ByteSize> = None,
    }
}

impl Hardware {
    /// Rejects values no planner could reason about, naming the field.
    pub fn validate(&self) -> Result<(), PlanError> {
        check_positive("disk_bandwidth", self.disk_bandwidth.0 as f64)?;
        check_positive("fsync_latency_ms", self.fsync_latency_ms)?;
        check_positive("read_latency_ms", self.read_latency_ms)?;
        check_positive("open_files_limit", self.open_files_limit as f64)?;
        check_positive("dirty_expire_secs", self.dirty_expire_secs)?;
        Ok(())
    }

    /// fsyncs per second the disk can complete one after another.
    pub fn fsyncs_per_sec(&self) -> f64 {
        1000.0 / self.fsync_latency_ms
    }

    /// Disk bandwidth in bytes per second, as a float.
    pub fn bandwidth(&self) -> f64 {
        self.disk_bandwidth.0 as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        let h = Hardware::default();
        assert!(h.validate().is_ok());
        assert_eq!(h.fsyncs_per_sec(), 500.0);
    }

    #[test]
    fn zero_bandwidth_is_rejected() {
        let h = Hardware {
            disk_bandwidth: ByteSize(0),
            ..Hardware::default()
        };
        assert!(h
            .validate()
            .unwrap_err()
            .to_string()
            .contains("disk_bandwidth"));
    }

    #[test]
    fn flags_parse_units() {
        let flags = HardwareFlags {
            disk_bandwidth: Some("1GB/s".into()),
            disk_free: Some("none".into()),
            ..HardwareFlags::default()
        };
        let patch = flags.to_patch().unwrap();
        assert_eq!(patch.disk_bandwidth, Some(ByteSize(1_000_000_000)));
        assert_eq!(patch.disk_free, Some(None));
        let bad = HardwareFlags {
            fsync_latency_ms: Some("fast".into()),
            ..HardwareFlags::default()
        };
        let err = bad.to_patch().unwrap_err().to_string();
        assert!(err.contains("--fsync-latency-ms"), "{err}");
    }
}
