//! The sizing constants behind the checks, and [`Inputs`], everything a plan
//! is computed from.
//!
//! Two per-key keydir models sit side by side: Riak's published figure
//! (bitcask-04: 44.5 bytes + key length, which reproduces scene 08's card
//! exactly) and this engine's own constant, which the engine exports and a
//! benchmark keeps honest against measured allocation.

use crate::config::{Config, KeydirModel};
use crate::error::PlanError;
use crate::hardware::Hardware;
use crate::workload::Workload;
use serde::{Deserialize, Serialize};

/// Riak's documented keydir cost per key, excluding the key itself (bitcask-04).
pub const RIAK_KEYDIR_BYTES_PER_KEY: f64 = 44.5;

/// This engine's keydir cost per key, excluding the key itself.
pub const ENGINE_KEYDIR_BYTES_PER_KEY: f64 = ccbitcask_engine::KEYDIR_BYTES_PER_KEY_OVERHEAD;

/// Bytes of a data-file record before its key (crc, sequence, timestamp,
/// expiry, flags, key and value lengths), from the engine's format.
pub const RECORD_HEADER_BYTES: f64 = ccbitcask_engine::format::record::RECORD_HEADER_LEN as f64;

/// Bytes of a hint entry before its key (sequence, expiry, offset, size, flags, key
/// length), from the engine's format.
pub const HINT_ENTRY_HEADER_BYTES: f64 = ccbitcask_engine::format::hint::HINT_HEADER_LEN as f64;

/// Largest `max_file_size` the engine accepts (its keydir offsets are 32-bit).
pub const ENGINE_MAX_FILE_SIZE: u64 = ccbitcask_engine::MAX_FILE_SIZE;

/// Everything a plan is computed from. [`crate::plan`] is a pure function of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Inputs {
    /// What the report is titled: the preset name, the file name or `custom`.
    pub name: String,
    /// What the application asks of the store.
    pub workload: Workload,
    /// The Bitcask configuration under test.
    pub config: Config,
    /// The machine.
    pub hardware: Hardware,
}

impl Inputs {
    /// Validates all three parts; the first bad field is the error.
    pub fn validate(&self) -> Result<(), PlanError> {
        self.workload.validate()?;
        self.config.validate()?;
        self.hardware.validate()
    }
}

impl KeydirModel {
    /// Keydir bytes per key, excluding the key, under this model.
    pub fn overhead(self) -> f64 {
        match self {
            KeydirModel::Riak => RIAK_KEYDIR_BYTES_PER_KEY,
            KeydirModel::Engine => ENGINE_KEYDIR_BYTES_PER_KEY,
        }
    }

    /// The other model, shown beside the deciding one.
    pub fn other(self) -> KeydirModel {
        match self {
            KeydirModel::Riak => KeydirModel::Engine,
            KeydirModel::Engine => KeydirModel::Riak,
        }
    }

    /// How the report names the model.
    pub fn label(self) -> &'static str {
        match self {
            KeydirModel::Riak => "Riak",
            KeydirModel::Engine => "this engine's",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn riak_model_reproduces_the_scene_per_key_cost() {
        assert_eq!(KeydirModel::Riak.overhead() + 28.5, 73.0);
    }

    #[test]
    fn format_sizes_match_the_engine_layout() {
        // crc 4 + seq 8 + timestamp 8 + expiry 8 + flags 1 + key_len 4 + value_len 4.
        assert_eq!(RECORD_HEADER_BYTES, 37.0);
        // seq 8 + expiry 8 + offset 4 + size 4 + flags 1 + key_len 4 (one CRC per file).
        assert_eq!(HINT_ENTRY_HEADER_BYTES, 29.0);
    }

    #[test]
    fn engine_constant_is_plausible() {
        // A keydir entry needs at least a file id, an offset and a size; an
        // overhead outside this range would mean the constant is broken.
        assert!((8.0..200.0).contains(&ENGINE_KEYDIR_BYTES_PER_KEY));
        assert_eq!(KeydirModel::Engine.other(), KeydirModel::Riak);
    }
}
