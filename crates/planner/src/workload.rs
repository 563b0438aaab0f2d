//! The workload: what the application asks of the store, as on scene 08's SLO
//! cards (key count and sizes, rates with bursts, churn, TTL and the SLOs).
//!
//! Derived quantities that several checks share (record size, live bytes, the
//! rate at which records become dead) live here so every check computes them
//! the same way.

use crate::error::PlanError;
use crate::knobs::{check_positive, check_range, knobs};
use crate::model::RECORD_HEADER_BYTES;
use crate::units::{ByteSize, Count};

knobs! {
    /// What the application asks of the store. Defaults describe a small,
    /// read-mostly cache with no SLOs; presets and files override them.
    pub struct Workload, patch WorkloadPatch, flags WorkloadFlags {
        /// Live keys to hold (e.g. 10M). Default = 1M.
        keys: Count = Count(1_000_000),
        /// Average key length in bytes (e.g. 28.5). Default = 32.
        avg_key_bytes: f64 = 32.0,
        /// Average value size (e.g. 2MiB). Default = 1KiB.
        avg_value_bytes: ByteSize = ByteSize(1024),
        /// Average writes per second, counting puts, overwrites and deletes. Default = 1000.
        write_rate: f64 = 1000.0,
        /// Peak-to-average ratio of writes (bursts). Default = 1.
        write_burst: f64 = 1.0,
        /// Average reads per second. Default = 1000.
        read_rate: f64 = 1000.0,
        /// Peak-to-average ratio of reads. Default = 1.
        read_burst: f64 = 1.0,
        /// Fraction (0..=1) of writes that overwrite a live key. Default = 0.
        overwrite_fraction: f64 = 0.0,
        /// Fraction (0..=1) of writes that delete a key. Default = 0.
        delete_fraction: f64 = 0.0,
        /// Time to live of every key in seconds, or `none`. Default = none.
        ttl_secs: Option<u64> = None,
        /// Read latency SLO at p99 in milliseconds, or `none`. Default = none.
        read_p99_ms: Option<f64> = None,
        /// Most acknowledged writes a crash may lose, in milliseconds (0 = none), or `none`. Default = none.
        max_loss_ms: Option<f64> = None,
        /// Restart-time SLO in seconds (open until serving), or `none`. Default = none.
        restart_slo_secs: Option<f64> = None,
        /// Whether the application needs range or prefix access over keys. Default = false.
        range_or_prefix: bool = false,
        /// Whether keys are deleted and later recreated. Default = false.
        delete_then_recreate: bool = false,
        /// Copies of each key across the cluster. Default = 1.
        replication_factor: u32 = 1,
    }
}

impl Workload {
    /// Rejects values no planner could reason about, naming the field.
    pub fn validate(&self) -> Result<(), PlanError> {
        // The engine caps keys at 64 KiB (`MAX_KEY_SIZE`); a longer average is a typo.
        check_range("avg_key_bytes", self.avg_key_bytes, 1.0, 65_536.0)?;
        check_range("write_rate", self.write_rate, 0.0, 1e12)?;
        check_range("read_rate", self.read_rate, 0.0, 1e12)?;
        check_range("write_burst", self.write_burst, 1.0, 1e6)?;
        check_range("read_burst", self.read_burst, 1.0, 1e6)?;
        check_range("overwrite_fraction", self.overwrite_fraction, 0.0, 1.0)?;
        check_range("delete_fraction", self.delete_fraction, 0.0, 1.0)?;
        if self.overwrite_fraction + self.delete_fraction > 1.0 {
            return Err(PlanError::Invalid {
                field: "overwrite_fraction + delete_fraction".into(),
                reason: "together they exceed 1".into(),
            });
        }
        if self.ttl_secs == Some(0) {
            return Err(PlanError::Invalid {
                field: "ttl_secs".into(),
                reason: "0 would expire every key at once; use none for no TTL".into(),
            });
        }
        if let Some(ms) = self.read_p99_ms {
            check_positive("read_p99_ms", ms)?;
        }
        if let Some(ms) = self.max_loss_ms {
            check_range("max_loss_ms", ms, 0.0, 1e12)?;
        }
        if let Some(s) = self.restart_slo_secs {
            check_positive("restart_slo_secs", s)?;
        }
        if self.replication_factor == 0 {
            return Err(PlanError::Invalid {
                field: "replication_factor".into(),
                reason: "must be at least 1".into(),
            });
        }
        Ok(())
    }

    /// Key count as a float, for the arithmetic below.
    pub fn key_count(&self) -> f64 {
        self.keys.0 as f64
    }

    /// Bytes one record takes in a data file: header + key + value.
    pub fn record_bytes(&self) -> f64 {
        RECORD_HEADER_BYTES + self.avg_key_bytes + self.avg_value_bytes.0 as f64
    }

    /// Bytes of live records across all vnodes (one replica).
    pub fn live_bytes(&self) -> f64 {
        self.key_count() * self.record_bytes()
    }

    /// Writes per second at the top of a burst.
    pub fn peak_write_rate(&self) -> f64 {
        self.write_rate * self.write_burst
    }

    /// Fraction of written bytes that later become dead. An overwrite kills the
    /// record it replaces and a delete kills the record it removes; with a TTL
    /// every record dies once it expires, so in steady state all of them do.
    pub fn dead_fraction(&self) -> f64 {
        if self.ttl_secs.is_some() {
            1.0
        } else {
            (self.overwrite_fraction + self.delete_fraction).min(1.0)
        }
    }

    /// Bytes per second that become dead across the whole store (one replica).
    pub fn dead_bytes_rate(&self) -> f64 {
        self.write_rate * self.record_bytes() * self.dead_fraction()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        assert!(Workload::default().validate().is_ok());
    }

    #[test]
    fn invalid_values_name_their_field() {
        let mut w = Workload {
            overwrite_fraction: 0.7,
            delete_fraction: 0.5,
            ..Workload::default()
        };
        assert!(w.validate().unwrap_err().to_string().contains("exceed 1"));
        w.delete_fraction = 0.0;
        w.write_rate = f64::NAN;
        assert!(w.validate().unwrap_err().to_string().contains("write_rate"));
        w.write_rate = 1.0;
        w.write_burst = 0.5;
        assert!(w
            .validate()
            .unwrap_err()
            .to_string()
            .contains("write_burst"));
        w.write_burst = 1.0;
        w.ttl_secs = Some(0);
        assert!(w.validate().unwrap_err().to_string().contains("ttl_secs"));
    }

    #[test]
    fn dead_bytes_follow_churn_and_ttl() {
        let mut w = Workload {
            write_rate: 100.0,
            overwrite_fraction: 0.25,
            avg_key_bytes: 10.0,
            avg_value_bytes: ByteSize(953),
            ..Workload::default()
        };
        assert_eq!(w.record_bytes(), 1000.0);
        assert_eq!(w.dead_bytes_rate(), 25_000.0);
        w.ttl_secs = Some(60);
        assert_eq!(w.dead_bytes_rate(), 100_000.0);
    }

    #[test]
    fn patch_overrides_only_what_it_sets() {
        let mut w = Workload::default();
        let patch: WorkloadPatch = toml::from_str("keys = \"10M\"\nttl_secs = 60").unwrap();
        patch.apply(&mut w);
        assert_eq!(w.keys, Count(10_000_000));
        assert_eq!(w.ttl_secs, Some(60));
        assert_eq!(w.avg_key_bytes, 32.0);
    }
}
