//! The three SLO cards of scene 08 as built-in presets: `photo-blobs`,
//! `event-tags` and `idempotency-keys`.
//!
//! The photo-blob card's numbers are the scene's: 10M photo URLs (average key
//! 28.5 bytes) to 2 MB blobs on 4 vnodes, bursty writes, sub-5 ms reads, at
//! most 1 s lost on a crash, RF 4, an off-peak merge window, hint files and
//! `delete_mode = keep`. With 2 MiB values and 2 GiB files it reproduces the
//! scene's "~2,442 files" per vnode (9,768 in all). The other two cards are
//! described in words only by the scene; their rates and sizes here are
//! plausible for what they name, chosen so each shows its ceiling: event tags
//! need prefix scans (bitcask-01), idempotency keys come in billions
//! (bitcask-04).

use crate::config::{Config, DeleteMode, KeydirModel, MergeWindow, SyncStrategy};
use crate::hardware::Hardware;
use crate::model::Inputs;
use crate::units::{ByteSize, Count};
use crate::workload::Workload;

/// One built-in preset: its name, one line about it, and its inputs.
struct Preset {
    name: &'static str,
    about: &'static str,
    build: fn() -> (Workload, Config),
}

/// The built-in presets, in the scene's order: the one table [`names`],
/// [`get`] and [`describe`] read.
const PRESETS: [Preset; 3] = [
    Preset {
        name: "photo-blobs",
        about:
            "10M photo URLs → 2 MB blobs, bursty writes, p99 < 5 ms, lose ≤ 1 s (scene 08's card)",
        build: photo_blobs,
    },
    Preset {
        name: "event-tags",
        about: "20M tag/time/event keys read by prefix: the ordered-access ceiling",
        build: event_tags,
    },
    Preset {
        name: "idempotency-keys",
        about: "2G request ids kept 24 h, nothing lost: the keydir RAM ceiling",
        build: idempotency_keys,
    },
];

/// Names of the built-in presets, in the scene's order.
pub fn names() -> impl Iterator<Item = &'static str> {
    PRESETS.iter().map(|p| p.name)
}

fn find(name: &str) -> Option<&'static Preset> {
    PRESETS.iter().find(|p| p.name == name)
}

/// The preset's inputs, with default hardware; `None` for an unknown name.
pub fn get(name: &str) -> Option<Inputs> {
    let (workload, config) = (find(name)?.build)();
    Some(Inputs {
        name: name.to_string(),
        workload,
        config,
        hardware: Hardware::default(),
    })
}

/// One line about each preset, for `--help` and the docs.
pub fn describe(name: &str) -> Option<&'static str> {
    find(name).map(|p| p.about)
}

fn photo_blobs() -> (Workload, Config) {
    let workload = Workload {
        keys: Count(10_000_000),
        avg_key_bytes: 28.5,
        avg_value_bytes: ByteSize(2 * 1024 * 1024),
        write_rate: 20.0,
        write_burst: 5.0,
        read_rate: 50.0,
        read_burst: 2.0,
        overwrite_fraction: 0.05,
        delete_fraction: 0.02,
        ttl_secs: None,
        read_p99_ms: Some(5.0),
        max_loss_ms: Some(1000.0),
        restart_slo_secs: Some(60.0),
        range_or_prefix: false,
        delete_then_recreate: true,
        replication_factor: 4,
    };
    let config = Config {
        vnodes: 4,
        sync_strategy: SyncStrategy::Interval(1000),
        merge_window: MergeWindow::Hours { start: 0, end: 6 },
        hint_files: true,
        delete_mode: DeleteMode::Keep,
        keydir_model: KeydirModel::Riak,
        ..Config::default()
    };
    (workload, config)
}

fn event_tags() -> (Workload, Config) {
    let workload = Workload {
        keys: Count(20_000_000),
        // "tag:<name>:<unix-ms>:<event-id>"
        avg_key_bytes: 40.0,
        avg_value_bytes: ByteSize(200),
        write_rate: 500.0,
        write_burst: 4.0,
        read_rate: 2000.0,
        read_burst: 2.0,
        overwrite_fraction: 0.0,
        delete_fraction: 0.05,
        ttl_secs: None,
        read_p99_ms: Some(10.0),
        max_loss_ms: Some(5000.0),
        restart_slo_secs: Some(120.0),
        range_or_prefix: true,
        delete_then_recreate: false,
        replication_factor: 3,
    };
    let config = Config {
        vnodes: 8,
        sync_strategy: SyncStrategy::Interval(1000),
        ..Config::default()
    };
    (workload, config)
}

fn idempotency_keys() -> (Workload, Config) {
    let workload = Workload {
        keys: Count(2_000_000_000),
        // A UUID in text form.
        avg_key_bytes: 36.0,
        avg_value_bytes: ByteSize(64),
        write_rate: 25_000.0,
        write_burst: 4.0,
        read_rate: 25_000.0,
        read_burst: 4.0,
        overwrite_fraction: 0.0,
        delete_fraction: 0.0,
        ttl_secs: Some(86_400),
        read_p99_ms: Some(2.0),
        max_loss_ms: Some(0.0),
        restart_slo_secs: Some(300.0),
        range_or_prefix: false,
        delete_then_recreate: false,
        replication_factor: 3,
    };
    let config = Config {
        vnodes: 64,
        sync_strategy: SyncStrategy::Always,
        group_commit: true,
        delete_mode: DeleteMode::Immediate,
        ..Config::default()
    };
    (workload, config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_is_valid_and_described() {
        for name in names() {
            let inputs = get(name).unwrap();
            inputs.validate().unwrap();
            assert_eq!(inputs.name, name);
            assert!(describe(name).is_some());
        }
        assert!(get("photos").is_none());
        assert!(describe("photos").is_none());
    }
}
