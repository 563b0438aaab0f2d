//! `--from-db DIR [--scale 10x]`: start the workload from a real database.
//!
//! The database is opened read-only through the engine and only its stats are
//! read: key count, key and value bytes, dead bytes, file count and the
//! keydir's really allocated bytes per key. The averages stay as measured; the
//! key count is multiplied by the scale, which is how "this store, ten times
//! bigger" is planned. Rates, SLOs and the configuration are not in a database
//! (a read-only handle reports its own sync policy and file size, not the
//! writer's), so they come from a preset, a file or flags as usual.
//!
//! Reading ([`read_profile`]) is I/O; projecting ([`DbProfile::project`]) is pure.

use crate::error::PlanError;
use crate::units::{fmt_bytes, fmt_count, ByteSize, Count};
use crate::workload::WorkloadPatch;
use ccbitcask_engine::Bitcask;
use std::path::{Path, PathBuf};

/// What a database's stats say about its workload.
#[derive(Debug, Clone, PartialEq)]
pub struct DbProfile {
    /// The database directory.
    pub dir: PathBuf,
    /// Live keys.
    pub keys: u64,
    /// Sum of live key lengths.
    pub key_bytes: u64,
    /// Sum of live value lengths.
    pub value_bytes: u64,
    /// Bytes of dead records on disk.
    pub dead_bytes: u64,
    /// Bytes of all data files.
    pub disk_bytes: u64,
    /// Data files.
    pub files: usize,
    /// Keydir bytes per key the engine really allocated.
    pub keydir_bytes_per_key: f64,
}

/// Opens `dir` read-only and reads its stats.
///
/// # Errors
/// [`PlanError::Db`] if the engine cannot open it (missing, locked, corrupt).
pub fn read_profile(dir: &Path) -> Result<DbProfile, PlanError> {
    let db = Bitcask::builder(dir)
        .read_only(true)
        .open()
        .map_err(|e| PlanError::Db {
            path: dir.to_path_buf(),
            message: e.to_string(),
        })?;
    let s = db.stats();
    Ok(DbProfile {
        dir: dir.to_path_buf(),
        keys: s.keys,
        key_bytes: s.key_bytes,
        value_bytes: s.value_bytes,
        dead_bytes: s.dead_bytes,
        disk_bytes: s.disk_bytes,
        files: s.files.len(),
        keydir_bytes_per_key: s.keydir_bytes_per_key,
    })
}

impl DbProfile {
    /// Average key length, if there are keys.
    pub fn avg_key_bytes(&self) -> Option<f64> {
        (self.keys > 0).then(|| self.key_bytes as f64 / self.keys as f64)
    }

    /// Average value size, if there are keys.
    pub fn avg_value_bytes(&self) -> Option<f64> {
        (self.keys > 0).then(|| self.value_bytes as f64 / self.keys as f64)
    }

    /// The workload fields this profile sets, with the key count multiplied
    /// by `scale`. An empty database sets only the key count.
    pub fn project(&self, scale: f64) -> WorkloadPatch {
        WorkloadPatch {
            keys: Some(Count((self.keys as f64 * scale).round() as u64)),
            // A zero-length average key would fail validation; keep at least 1 byte.
            avg_key_bytes: self.avg_key_bytes().map(|k| k.max(1.0)),
            avg_value_bytes: self.avg_value_bytes().map(|v| ByteSize(v.round() as u64)),
            ..WorkloadPatch::default()
        }
    }

    /// One line for the report's sources.
    pub fn describe(&self, scale: f64) -> String {
        let dead_pct = if self.disk_bytes > 0 {
            100.0 * self.dead_bytes as f64 / self.disk_bytes as f64
        } else {
            0.0
        };
        format!(
            "from db {}: {} keys, key {:.1} B, value {}, {} data file{}, {} on disk ({dead_pct:.0} % dead), \
             keydir {:.1} B/key measured at {} keys; projected ×{scale} → {} keys",
            self.dir.display(),
            fmt_count(self.keys as f64),
            self.avg_key_bytes().unwrap_or(0.0),
            fmt_bytes(self.avg_value_bytes().unwrap_or(0.0)),
            self.files,
            if self.files == 1 { "" } else { "s" },
            fmt_bytes(self.disk_bytes as f64),
            self.keydir_bytes_per_key,
            fmt_count(self.keys as f64),
            fmt_count((self.keys as f64 * scale).round())
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile() -> DbProfile {
        DbProfile {
            dir: "db".into(),
            keys: 1000,
            key_bytes: 28_500,
            value_bytes: 2_000_000,
            dead_bytes: 100_000,
            disk_bytes: 2_200_000,
            files: 3,
            keydir_bytes_per_key: 70.0,
        }
    }

    #[test]
    fn projection_scales_keys_and_keeps_averages() {
        let w = profile().project(10.0);
        assert_eq!(w.keys, Some(Count(10_000)));
        assert_eq!(w.avg_key_bytes, Some(28.5));
        assert_eq!(w.avg_value_bytes, Some(ByteSize(2000)));
        let line = profile().describe(10.0);
        assert!(
            line.contains("1,000 keys") && line.contains("10,000 keys"),
            "{line}"
        );
    }

    #[test]
    fn an_empty_database_sets_only_the_key_count() {
        let empty = DbProfile {
            keys: 0,
            key_bytes: 0,
            value_bytes: 0,
            ..profile()
        };
        let w = empty.project(10.0);
        assert_eq!(w.keys, Some(Count(0)));
        assert_eq!(w.avg_key_bytes, None);
        assert_eq!(w.avg_value_bytes, None);
    }

    #[test]
    fn a_missing_database_is_a_db_error() {
        let e = read_profile(Path::new("/nonexistent/ccbitcask-db")).unwrap_err();
        assert!(matches!(e, PlanError::Db { .. }), "{e}");
        assert_eq!(e.exit_code(), crate::error::EXIT_IO);
    }
}
