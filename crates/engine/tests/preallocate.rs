//! The zeros the writer preallocates in the active file (`writer.rs`), under every sync
//! policy: never read as records or reported as damage, trimmed when the file is sealed,
//! closed, or found after a crash, not counted in `stats`, and a write torn inside them
//! is cut like any torn tail.

mod support;

use ccbitcask_engine::format::header::HEADER_LEN;
use ccbitcask_engine::fs::data_path;
use ccbitcask_engine::{check, Bitcask, Durability, SyncPolicy, WriteBatch};
use std::path::{Path, PathBuf};
use support::{assert_clean, boot, data_ids, fresh};

/// The data files in `dir`, oldest first, with their lengths.
fn data_files(dir: &Path) -> Vec<(PathBuf, u64)> {
    data_ids(dir)
        .into_iter()
        .map(|id| {
            let path = data_path(dir, id);
            let len = std::fs::metadata(&path).unwrap().len();
            (path, len)
        })
        .collect()
}

const POLICIES: [SyncPolicy; 3] = [
    SyncPolicy::None,
    SyncPolicy::Interval(std::time::Duration::from_millis(1000)),
    SyncPolicy::Always,
];

#[test]
fn the_active_file_runs_into_zeros_until_close_trims_them() {
    for policy in POLICIES {
        let dir = tempfile::tempdir().unwrap();
        let db = Bitcask::builder(dir.path()).sync(policy).open().unwrap();
        for n in 0..100u32 {
            db.put(format!("key{n}").as_bytes(), b"value").unwrap();
        }
        let [(path, running)] = &data_files(dir.path())[..] else {
            panic!("{policy}: one data file expected");
        };
        assert_eq!(
            running % (1 << 20),
            0,
            "{policy}: zero-filled to the next MiB"
        );
        // `stats` counts the records, not the zeros after them.
        let stats = db.stats();
        let active = stats.files.iter().find(|f| f.active).unwrap();
        assert!(active.bytes < *running, "{policy}: {active:?}");
        assert_eq!(
            active.bytes,
            HEADER_LEN as u64 + active.live_bytes,
            "{policy}"
        );

        // A reader opening now sees the records and takes the zeros for the end of the log.
        let reader = Bitcask::builder(dir.path()).read_only(true).open().unwrap();
        assert_eq!(reader.len(), 100);
        assert!(reader.open_report().damage.is_empty());
        assert_eq!(reader.open_report().truncated_tail, None);
        drop(reader);
        assert_clean(&check(dir.path()).unwrap(), "a live database");

        db.close().unwrap();
        let closed = std::fs::metadata(path).unwrap().len();
        assert_eq!(
            closed, active.bytes,
            "{policy}: the zeros are trimmed at close"
        );
        let bytes = std::fs::read(path).unwrap();
        assert_ne!(bytes.last(), Some(&0), "the file ends at its last record");

        let db = Bitcask::builder(dir.path())
            .sync(SyncPolicy::None)
            .open()
            .unwrap();
        assert_eq!(db.len(), 100);
        assert_eq!(db.open_report().trimmed_zeros, None, "closed cleanly");
        assert_eq!(db.get(b"key99").unwrap().as_deref(), Some(&b"value"[..]));
    }
}

/// Under `none` the zeros are not synced either: a power cut can keep any prefix of
/// what was written since the last sync, zeros and records alike. Whatever it keeps,
/// the synced keys survive, the open reports no damage (`boot` checks), and the
/// survivor is a state the database really passed through.
#[test]
fn unsynced_zeros_and_records_cut_at_every_length_keep_a_prefix() {
    let (sim, db) = fresh(8 << 20, SyncPolicy::None);
    let value = vec![b'v'; 100 << 10];
    for n in 0..4u32 {
        db.put(format!("synced{n}").as_bytes(), &value).unwrap();
    }
    db.sync().unwrap();
    let mut history = vec![support::dump(&db)];
    // Twelve 100 KiB records cross the next MiB boundary, so zeros are laid down
    // between them, unsynced.
    for n in 0..12u32 {
        db.put(format!("late{n}").as_bytes(), &value).unwrap();
        history.push(support::dump(&db));
    }
    // How many bytes are unsynced: the image code asks each file how many to keep.
    let mut written = 0;
    drop(sim.power_loss_partial(|n| {
        written = written.max(n);
        n
    }));
    assert!(written > 12 * value.len(), "{written} bytes unsynced");
    let mut seen = std::collections::BTreeSet::new();
    for keep in (0..=written).step_by(4099).chain([written]) {
        let img = sim.power_loss_partial(|n| keep.min(n));
        let (_, db) = boot(&img, SyncPolicy::None);
        let got = support::dump(&db);
        let Some(at) = history.iter().position(|h| *h == got) else {
            panic!(
                "keep {keep}: {} keys, not a state the database passed through",
                got.len()
            );
        };
        seen.insert(at);
    }
    assert_eq!(
        seen.len(),
        history.len(),
        "every state is some cut's survivor"
    );
    let (_, db) = boot(&sim.power_loss_partial(|n| n), SyncPolicy::None);
    assert_eq!(db.len(), 16, "everything written back: everything kept");
}

#[test]
fn sealed_files_are_trimmed_before_the_next_one_starts() {
    let dir = tempfile::tempdir().unwrap();
    let db = Bitcask::builder(dir.path())
        .sync(SyncPolicy::Always)
        .max_file_size(4096)
        .open()
        .unwrap();
    for n in 0..400u32 {
        db.put(format!("key{n}").as_bytes(), &[b'v'; 40]).unwrap();
    }
    let files = data_files(dir.path());
    assert!(files.len() > 5);
    for (path, len) in &files[..files.len() - 1] {
        assert!(*len <= 4096);
        let bytes = std::fs::read(path).unwrap();
        assert_ne!(bytes.last(), Some(&0), "{} ends in zeros", path.display());
    }
    // Zeros anywhere but at the end of the newest log file would be damage.
    assert_clean(
        &check(dir.path()).unwrap(),
        "a live database with sealed files",
    );
    drop(db);
    let db = Bitcask::open(dir.path()).unwrap();
    assert_eq!(db.len(), 400);
}

#[test]
fn after_power_loss_the_zeros_are_trimmed_quietly_and_nothing_is_lost() {
    let (sim, db) = fresh(1 << 20, SyncPolicy::Always);
    for n in 0..50u32 {
        db.put(format!("key{n}").as_bytes(), b"value").unwrap();
    }
    let img = sim.power_loss();
    drop(db);
    let (_, db) = boot(&img, SyncPolicy::Always);
    assert_eq!(db.len(), 50);
    let report = db.open_report();
    assert_eq!(report.truncated_tail, None, "zeros are not a torn tail");
    let (_, cut, removed) = report.trimmed_zeros.expect("zeros trimmed");
    assert_eq!(cut + removed, 1 << 20);
}

#[test]
fn a_write_torn_inside_the_zeros_is_cut_at_every_length() {
    let (sim, db) = fresh(1 << 20, SyncPolicy::Always);
    for n in 0..20u32 {
        db.put(format!("key{n}").as_bytes(), b"value").unwrap();
    }
    // Written but not yet synced when the power goes.
    let mut batch = WriteBatch::new();
    batch.put(b"torn", b"a value long enough to be torn in many places");
    db.write_batch_with(&batch, Durability::Deferred).unwrap();
    let mut whole = None;
    for keep in 0..120 {
        let img = sim.power_loss_partial(|n| keep.min(n));
        let (_, db) = boot(&img, SyncPolicy::Always);
        for n in 0..20u32 {
            assert!(db.exists(format!("key{n}").as_bytes()), "keep {keep}");
        }
        let report = db.open_report().clone();
        match db.get(b"torn").unwrap() {
            Some(v) => {
                assert_eq!(&v[..], b"a value long enough to be torn in many places");
                whole.get_or_insert(keep);
            }
            None => {
                assert!(
                    whole.is_none(),
                    "keep {keep}: a longer prefix lost the record"
                );
                // Some of the record's bytes survived: that is a torn tail, reported.
                if keep > 0 {
                    assert!(report.truncated_tail.is_some(), "keep {keep}: {report:?}");
                }
            }
        }
        assert!(
            report.truncated_tail.is_some() || report.trimmed_zeros.is_some(),
            "keep {keep}: the tail must be cut"
        );
    }
    assert!(
        whole.is_some(),
        "the whole record survives when it was written back"
    );
}

#[test]
fn a_write_larger_than_a_preallocation_step_appends_past_the_zeros() {
    let (sim, db) = fresh(64 << 20, SyncPolicy::Always);
    db.put(b"small", b"before").unwrap();
    let big = vec![7u8; 3 << 20];
    db.put(b"big", &big).unwrap();
    db.put(b"after", b"small again").unwrap();
    assert_eq!(db.get(b"big").unwrap().as_deref(), Some(&big[..]));
    let img = sim.power_loss();
    drop(db);
    let (_, db) = boot(&img, SyncPolicy::Always);
    assert_eq!(db.len(), 3);
    assert_eq!(db.get(b"big").unwrap().as_deref(), Some(&big[..]));
    assert_eq!(
        db.get(b"after").unwrap().as_deref(),
        Some(&b"small again"[..])
    );
}
