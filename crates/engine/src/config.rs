//! Options, the builder that takes them, and the durability types.

use crate::error::{Error, Result};
use crate::vfs::{StdFs, Vfs};
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// When appended records are made durable with `fdatasync`.
///
/// Under every policy a write has reached the OS page cache before it returns, so it
/// survives the process being killed; the policies differ in what survives power loss or
/// an OS crash.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SyncPolicy {
    /// The OS decides (Linux writes dirty pages back within about 30 s). The engine
    /// fsyncs only when it seals a file and on close.
    #[default]
    None,
    /// Every write returns only after its record is on stable storage. Writers that
    /// arrive while an fsync is running share the next one (group commit).
    Always,
    /// A background thread fsyncs every interval, so at most that window is lost.
    Interval(Duration),
}

impl fmt::Display for SyncPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::None => f.write_str("none"),
            Self::Always => f.write_str("always"),
            Self::Interval(d) => write!(f, "interval:{}", d.as_millis()),
        }
    }
}

impl FromStr for SyncPolicy {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "none" => Ok(Self::None),
            "always" => Ok(Self::Always),
            _ => s
                .strip_prefix("interval:")
                .and_then(|ms| ms.parse::<u64>().ok())
                .filter(|&ms| ms > 0)
                .map(|ms| Self::Interval(Duration::from_millis(ms)))
                .ok_or_else(|| {
                    Error::InvalidOption(format!(
                        "sync policy {s:?}: expected none, always or interval:MS (MS > 0)"
                    ))
                }),
        }
    }
}

/// Whether one write waits for the sync policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Durability {
    /// Follow the database's [`SyncPolicy`].
    #[default]
    Policy,
    /// Write to the OS now; durability comes with a later [`crate::Bitcask::sync`].
    /// Servers use it to fsync once for a whole group of commands.
    Deferred,
}

/// When an automatic merge may run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum MergeWindow {
    /// Any time.
    #[default]
    Always,
    /// Never automatically (explicit `merge()` still works).
    Never,
    /// Between these UTC hours, start inclusive, end exclusive; may wrap midnight.
    Hours(u8, u8),
}

impl FromStr for MergeWindow {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "always" => Ok(Self::Always),
            "never" => Ok(Self::Never),
            _ => {
                let bad = || {
                    Error::InvalidOption(format!(
                        "merge window {s:?}: expected always, never or START-END hours (0-23)"
                    ))
                };
                let (a, b) = s.split_once('-').ok_or_else(bad)?;
                let a: u8 = a.trim().parse().map_err(|_| bad())?;
                let b: u8 = b.trim().parse().map_err(|_| bad())?;
                if a > 23 || b > 23 {
                    return Err(bad());
                }
                Ok(Self::Hours(a, b))
            }
        }
    }
}

impl MergeWindow {
    /// Whether `hour` (0-23, UTC) is inside the window.
    #[must_use]
    pub fn contains(self, hour: u8) -> bool {
        match self {
            Self::Always => true,
            Self::Never => false,
            Self::Hours(a, b) if a <= b => (a..b).contains(&hour) || a == b,
            Self::Hours(a, b) => hour >= a || hour < b,
        }
    }
}

/// Riak-style merge triggers and thresholds. Defaults are Riak's.
#[derive(Clone, Debug, PartialEq)]
pub struct MergeOptions {
    /// A merge is needed once any file has this percentage of dead keys. Default = 60.
    pub frag_merge_trigger: u8,
    /// ... or this many dead bytes. Default = 512 MiB.
    pub dead_bytes_merge_trigger: u64,
    /// Once needed, files with at least this percentage of dead keys are merged. Default = 40.
    pub frag_threshold: u8,
    /// ... or at least this many dead bytes. Default = 128 MiB.
    pub dead_bytes_threshold: u64,
    /// ... or smaller than this (small files are cheap to fold in). Default = 10 MiB.
    pub small_file_threshold: u64,
    /// When automatic merges may run. Default = always.
    pub window: MergeWindow,
    /// How often the background merger checks, ± 25 % jitter. Default = 3 min.
    pub check_interval: Duration,
    /// Most input bytes one automatic merge takes on. Default = unlimited.
    pub max_merge_size: Option<u64>,
    /// Whether the background merger runs at all. Default = true.
    pub auto: bool,
}

impl Default for MergeOptions {
    fn default() -> Self {
        Self {
            frag_merge_trigger: 60,
            dead_bytes_merge_trigger: 512 << 20,
            frag_threshold: 40,
            dead_bytes_threshold: 128 << 20,
            small_file_threshold: 10 << 20,
            window: MergeWindow::Always,
            check_interval: Duration::from_secs(180),
            max_merge_size: None,
            auto: true,
        }
    }
}

/// A source of wall-clock time in ms since the epoch; injectable so TTL tests are
/// deterministic.
pub trait Clock: Send + Sync + fmt::Debug {
    /// Now, in ms since the UNIX epoch.
    fn now_ms(&self) -> u64;
}

/// The system clock.
#[derive(Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }
}

/// Smallest `max_file_size` accepted: a header plus a little data.
pub const MIN_FILE_SIZE: u64 = 64;
/// Largest `max_file_size`: every byte of a file, including one maximal record appended
/// just below the limit, stays addressable by the keydir's 32-bit offsets.
pub const MAX_FILE_SIZE: u64 = u32::MAX as u64
    - (crate::format::record::MAX_VALUE_SIZE
        + crate::format::record::MAX_KEY_SIZE
        + crate::format::record::RECORD_HEADER_LEN) as u64;

/// Everything [`Builder`] collects.
#[derive(Clone, Debug)]
pub(crate) struct Options {
    pub dir: PathBuf,
    pub sync: SyncPolicy,
    pub max_file_size: u64,
    pub read_only: bool,
    pub merge: MergeOptions,
    pub fs: Arc<dyn Vfs>,
    pub clock: Arc<dyn Clock>,
}

/// Opens a database with options. Every setter consumes and returns the builder.
#[derive(Debug)]
#[must_use]
pub struct Builder {
    opts: Options,
}

impl Builder {
    pub(crate) fn new(dir: PathBuf) -> Self {
        Self {
            opts: Options {
                dir,
                sync: SyncPolicy::None,
                max_file_size: 2 << 30,
                read_only: false,
                merge: MergeOptions::default(),
                fs: Arc::new(StdFs),
                clock: Arc::new(SystemClock),
            },
        }
    }

    /// Durability policy. Default = [`SyncPolicy::None`].
    pub fn sync(mut self, policy: SyncPolicy) -> Self {
        self.opts.sync = policy;
        self
    }

    /// Size at which the active file is sealed and a new one started. Default = 2 GiB
    /// (Riak's). Values outside [`MIN_FILE_SIZE`]..=[`MAX_FILE_SIZE`] make `open` fail.
    pub fn max_file_size(mut self, bytes: u64) -> Self {
        self.opts.max_file_size = bytes;
        self
    }

    /// Open without the writer lock, for inspection while a writer runs. Writes fail
    /// with [`Error::ReadOnly`]; nothing on disk is changed. Default = false.
    pub fn read_only(mut self, yes: bool) -> Self {
        self.opts.read_only = yes;
        self
    }

    /// Merge triggers, thresholds and scheduling. Default = [`MergeOptions::default`].
    pub fn merge_options(mut self, merge: MergeOptions) -> Self {
        self.opts.merge = merge;
        self
    }

    /// Replaces the file system (fault injection and power-loss simulation in tests).
    #[doc(hidden)]
    pub fn vfs(mut self, fs: Arc<dyn Vfs>) -> Self {
        self.opts.fs = fs;
        self
    }

    /// Replaces the clock (deterministic TTL tests).
    #[doc(hidden)]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.opts.clock = clock;
        self
    }

    /// Opens (creating if needed) the database.
    pub fn open(self) -> Result<crate::Bitcask> {
        let o = &self.opts;
        if !(MIN_FILE_SIZE..=MAX_FILE_SIZE).contains(&o.max_file_size) {
            return Err(Error::InvalidOption(format!(
                "max_file_size {} is outside {MIN_FILE_SIZE}..={MAX_FILE_SIZE}",
                o.max_file_size
            )));
        }
        crate::db::Bitcask::open_with(self.opts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sync_policy_parses_and_prints() {
        for s in ["none", "always", "interval:250"] {
            assert_eq!(s.parse::<SyncPolicy>().unwrap().to_string(), s);
        }
        for bad in ["", "sometimes", "interval:", "interval:0", "interval:-1"] {
            assert!(bad.parse::<SyncPolicy>().is_err(), "{bad}");
        }
    }

    #[test]
    fn merge_window_hours_wrap() {
        let w: MergeWindow = "22-3".parse().unwrap();
        assert!(w.contains(23) && w.contains(0) && !w.contains(12));
        let w: MergeWindow = "2-5".parse().unwrap();
        assert!(w.contains(2) && w.contains(4) && !w.contains(5));
        assert!("25-3".parse::<MergeWindow>().is_err());
    }
}
