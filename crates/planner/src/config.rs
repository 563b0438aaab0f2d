//! The configuration: the Bitcask knobs of scene 08's palette (`max_file_size`,
//! keydir RAM budget, `sync_strategy`, merge window and triggers, hint files,
//! vnode count, `delete_mode`).
//!
//! Defaults follow Riak's bitcask defaults where one exists (sync `none`,
//! merge window `always`, 2 GiB files, 60 % / 512 MiB triggers, 40 % / 128 MiB
//! thresholds, `delete_mode` 3000 ms), so a plan without a config reads like an
//! untuned Riak node.

use crate::error::PlanError;
use crate::knobs::{check_range, from_flag_via_from_str, knobs};
use crate::units::ByteSize;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// When appended data is fsynced (the engine's `SyncPolicy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncStrategy {
    /// Never fsync; the kernel writes back dirty pages when it likes.
    None,
    /// fsync at most every this many milliseconds.
    Interval(u64),
    /// fsync before acknowledging each write (or batch).
    Always,
}

/// When merges may run. Hours are local, half-open: `1-5` is 01:00 to 05:00.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MergeWindow {
    /// Any time.
    Always,
    /// Merges never run (dead bytes are never reclaimed).
    Never,
    /// Between these hours; `22-6` wraps midnight.
    Hours {
        /// First hour (0..=23).
        start: u8,
        /// Hour the window closes (0..=23), not equal to `start`.
        end: u8,
    },
}

/// What a delete leaves behind (Riak KV's `delete_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteMode {
    /// Keep the tombstone for good: it guards against older copies resurrecting.
    Keep,
    /// Reap the tombstone as soon as the delete is done.
    Immediate,
    /// Reap the tombstone after this many milliseconds.
    DelayMs(u64),
}

/// Which per-key keydir model decides the RAM verdict; the other is shown beside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeydirModel {
    /// Riak's documented 44.5 bytes + key length.
    Riak,
    /// This engine's exported constant + key length.
    Engine,
}

impl SyncStrategy {
    /// Milliseconds of acknowledged writes a crash can lose under this strategy;
    /// `none` is bounded by kernel writeback (`dirty_expire_secs`).
    pub fn loss_window_ms(self, dirty_expire_secs: f64) -> f64 {
        match self {
            SyncStrategy::None => dirty_expire_secs * 1000.0,
            SyncStrategy::Interval(ms) => ms as f64,
            SyncStrategy::Always => 0.0,
        }
    }
}

impl MergeWindow {
    /// Hours per day merges may run.
    pub fn hours_per_day(self) -> f64 {
        match self {
            MergeWindow::Always => 24.0,
            MergeWindow::Never => 0.0,
            MergeWindow::Hours { start, end } => f64::from((24 + end - start) % 24),
        }
    }
}

impl fmt::Display for SyncStrategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SyncStrategy::None => f.write_str("none"),
            SyncStrategy::Interval(ms) => write!(f, "interval:{ms}"),
            SyncStrategy::Always => f.write_str("always"),
        }
    }
}

impl FromStr for SyncStrategy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let lower = s.trim().to_ascii_lowercase();
        match lower.as_str() {
            "none" => Ok(SyncStrategy::None),
            "always" => Ok(SyncStrategy::Always),
            _ => match lower
                .strip_prefix("interval:")
                .map(|ms| ms.trim().parse::<u64>())
            {
                Some(Ok(ms)) if ms > 0 => Ok(SyncStrategy::Interval(ms)),
                _ => Err(format!(
                    "`{s}` is not a sync strategy (none, always or interval:MS with MS > 0)"
                )),
            },
        }
    }
}

impl fmt::Display for MergeWindow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MergeWindow::Always => f.write_str("always"),
            MergeWindow::Never => f.write_str("never"),
            MergeWindow::Hours { start, end } => write!(f, "{start}-{end}"),
        }
    }
}

impl FromStr for MergeWindow {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad =
            || format!("`{s}` is not a merge window (always, never or START-END hours, e.g. 1-5)");
        let lower = s.trim().to_ascii_lowercase();
        match lower.as_str() {
            "always" => Ok(MergeWindow::Always),
            "never" => Ok(MergeWindow::Never),
            _ => {
                let (a, b) = lower.split_once('-').ok_or_else(bad)?;
                let start: u8 = a.trim().parse().map_err(|_| bad())?;
                let end: u8 = b.trim().parse().map_err(|_| bad())?;
                // start == end is ambiguous (no hours or all of them): say which.
                if start > 23 || end > 23 || start == end {
                    return Err(bad());
                }
                Ok(MergeWindow::Hours { start, end })
            }
        }
    }
}

impl fmt::Display for DeleteMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeleteMode::Keep => f.write_str("keep"),
            DeleteMode::Immediate => f.write_str("immediate"),
            DeleteMode::DelayMs(ms) => write!(f, "{ms}"),
        }
    }
}

impl FromStr for DeleteMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "keep" => Ok(DeleteMode::Keep),
            "immediate" => Ok(DeleteMode::Immediate),
            other => other.parse().map(DeleteMode::DelayMs).map_err(|_| {
                format!("`{s}` is not a delete_mode (keep, immediate or a delay in ms)")
            }),
        }
    }
}

impl fmt::Display for KeydirModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KeydirModel::Riak => "riak",
            KeydirModel::Engine => "engine",
        })
    }
}

impl FromStr for KeydirModel {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "riak" => Ok(KeydirModel::Riak),
            "engine" => Ok(KeydirModel::Engine),
            _ => Err(format!("`{s}` is not a keydir model (riak or engine)")),
        }
    }
}

/// Serializes the knob enums as their text form (`"interval:1000"`), so files,
/// flags and `--json` all spell them the same way.
macro_rules! serde_as_text {
    ($($ty:ty),*) => {$(
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                // delete_mode may be written as a bare number of milliseconds.
                let text = match serde_json::Value::deserialize(d)? {
                    serde_json::Value::String(s) => s,
                    serde_json::Value::Number(n) => n.to_string(),
                    other => other.to_string(),
                };
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    )*};
}
serde_as_text!(SyncStrategy, MergeWindow, DeleteMode, KeydirModel);
from_flag_via_from_str!(
    SyncStrategy => "none|always|interval:MS",
    MergeWindow => "always|never|H-H",
    DeleteMode => "keep|immediate|MS",
    KeydirModel => "riak|engine",
);

knobs! {
    /// The Bitcask configuration being checked.
    pub struct Config, patch ConfigPatch, flags ConfigFlags {
        /// Independent Bitcask stores (vnodes) the keys are spread over. Default = 1.
        vnodes: u32 = 1,
        /// Keydir RAM budget per vnode (MB = 10^6 bytes). Default = 256MB.
        ram_budget_per_vnode: ByteSize = ByteSize(256_000_000),
        /// Most vnodes the deployment can run; beyond it, "use LSM". Default = 64.
        max_vnodes: u32 = 64,
        /// Size at which the active data file is closed and a new one opened. Default = 2GiB.
        max_file_size: ByteSize = ByteSize(2 * 1024 * 1024 * 1024),
        /// sync_strategy: none, always or interval:MS. Default = none.
        sync_strategy: SyncStrategy = SyncStrategy::None,
        /// Whether concurrent writes share one fsync under `always` (write_batch or Deferred + sync). Default = false.
        group_commit: bool = false,
        /// Merge window: always, never or START-END hours (e.g. 1-5). Default = always.
        merge_window: MergeWindow = MergeWindow::Always,
        /// Merge when a file's dead fraction reaches this percentage. Default = 60.
        frag_merge_trigger: f64 = 60.0,
        /// Merge when a file holds this many dead bytes. Default = 512MiB.
        dead_bytes_merge_trigger: ByteSize = ByteSize(512 * 1024 * 1024),
        /// A merge includes files at least this percent dead. Default = 40.
        frag_threshold: f64 = 40.0,
        /// A merge includes files with at least this many dead bytes. Default = 128MiB.
        dead_bytes_threshold: ByteSize = ByteSize(128 * 1024 * 1024),
        /// Whether data files get hint files for fast restarts. Default = true.
        hint_files: bool = true,
        /// delete_mode: keep, immediate or a delay in ms. Default = 3000.
        delete_mode: DeleteMode = DeleteMode::DelayMs(3000),
        /// Per-key model that decides the keydir verdict: riak or engine. Default = riak.
        keydir_model: KeydirModel = KeydirModel::Riak,
    }
}

impl Config {
    /// Rejects values no planner could reason about, naming the field.
    pub fn validate(&self) -> Result<(), PlanError> {
        let positive = |field: &str, v: u64| {
            if v == 0 {
                Err(PlanError::Invalid {
                    field: field.to_string(),
                    reason: "must be greater than 0".into(),
                })
            } else {
                Ok(())
            }
        };
        positive("vnodes", u64::from(self.vnodes))?;
        positive("max_vnodes", u64::from(self.max_vnodes))?;
        positive("ram_budget_per_vnode", self.ram_budget_per_vnode.0)?;
        let (lo, hi) = (
            ccbitcask_engine::MIN_FILE_SIZE,
            crate::model::ENGINE_MAX_FILE_SIZE,
        );
        if !(lo..=hi).contains(&self.max_file_size.0) {
            return Err(PlanError::Invalid {
                field: "max_file_size".into(),
                reason: format!(
                    "{} is outside the engine's {lo}..={hi}",
                    self.max_file_size.0
                ),
            });
        }
        // A zero trigger would merge without pause; the cadence model needs f > 0.
        if !(self.frag_merge_trigger > 0.0 && self.frag_merge_trigger <= 100.0) {
            return Err(PlanError::Invalid {
                field: "frag_merge_trigger".into(),
                reason: format!("{} is outside (0, 100]", self.frag_merge_trigger),
            });
        }
        positive("dead_bytes_merge_trigger", self.dead_bytes_merge_trigger.0)?;
        check_range("frag_threshold", self.frag_threshold, 0.0, 100.0)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sync_strategy_text_round_trips() {
        for s in ["none", "always", "interval:1000"] {
            assert_eq!(s.parse::<SyncStrategy>().unwrap().to_string(), s);
        }
        assert!("interval:0".parse::<SyncStrategy>().is_err());
        assert!("sometimes".parse::<SyncStrategy>().is_err());
        assert_eq!(SyncStrategy::None.loss_window_ms(30.0), 30_000.0);
        assert_eq!(SyncStrategy::Interval(1000).loss_window_ms(30.0), 1000.0);
    }

    #[test]
    fn merge_window_hours() {
        assert_eq!("0-6".parse::<MergeWindow>().unwrap().hours_per_day(), 6.0);
        assert_eq!("22-6".parse::<MergeWindow>().unwrap().hours_per_day(), 8.0);
        assert_eq!(MergeWindow::Never.hours_per_day(), 0.0);
        assert!("5-5".parse::<MergeWindow>().is_err());
        assert!("1-25".parse::<MergeWindow>().is_err());
        assert!("off-peak".parse::<MergeWindow>().is_err());
    }

    #[test]
    fn delete_mode_accepts_numbers_in_files() {
        let p: ConfigPatch = toml::from_str("delete_mode = 3000").unwrap();
        assert_eq!(p.delete_mode, Some(DeleteMode::DelayMs(3000)));
        let p: ConfigPatch = toml::from_str("delete_mode = \"keep\"").unwrap();
        assert_eq!(p.delete_mode, Some(DeleteMode::Keep));
        assert!(toml::from_str::<ConfigPatch>("delete_mode = \"maybe\"").is_err());
    }

    #[test]
    fn defaults_are_valid_and_zero_vnodes_is_not() {
        assert!(Config::default().validate().is_ok());
        let c = Config {
            vnodes: 0,
            ..Config::default()
        };
        assert!(c.validate().unwrap_err().to_string().contains("vnodes"));
    }
}
