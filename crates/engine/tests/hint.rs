//! Hint files: opening from hints gives exactly what opening by scanning gives, and a
//! damaged, stale or missing hint only costs a scan.

mod support;

use ccbitcask_engine::fs::{data_path, hint_path};
use ccbitcask_engine::vfs::StdFs;
use ccbitcask_engine::{Bitcask, SyncPolicy};
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use support::{copy_dir, data_ids, dump, open_tiny, FaultyFs, ManualClock};

/// The real file system (the builder's default), 600-byte files, no automatic merge.
fn open(dir: &Path, clock: &Arc<ManualClock>) -> Bitcask {
    open_tiny(dir, Arc::new(StdFs), clock.clone(), 600, SyncPolicy::None).unwrap()
}

/// Everything the keydir says: value and expiry per live key.
fn keydir(db: &Bitcask) -> BTreeMap<Vec<u8>, (Vec<u8>, Option<u64>)> {
    db.keys()
        .into_iter()
        .map(|k| {
            let (v, e) = db.get_entry(&k).unwrap().unwrap();
            (k.to_vec(), (v.to_vec(), e))
        })
        .collect()
}

/// A database with log files, merged files, tombstones, TTLs (live and expired) and
/// batches, all sealed files with hints.
fn build(dir: &Path, clock: &Arc<ManualClock>) {
    let db = open(dir, clock);
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    for step in 0..1_500u32 {
        let k = format!("k{}", rng.gen_range(0..120));
        match rng.gen_range(0..10) {
            0..=5 => db.put(k.as_bytes(), format!("v{step}").as_bytes()).unwrap(),
            6 => {
                db.delete(k.as_bytes()).unwrap();
            }
            7 => db
                .put_with_expiry(
                    k.as_bytes(),
                    b"ttl",
                    Some(clock.now() + rng.gen_range(1..5_000)),
                )
                .unwrap(),
            8 => clock.advance(rng.gen_range(0..1_000)),
            _ => {
                let mut b = ccbitcask_engine::WriteBatch::new();
                b.put(k.clone(), "b")
                    .delete(format!("k{}", rng.gen_range(0..120)));
                db.write_batch(&b).unwrap();
            }
        }
        if step % 500 == 499 {
            let ids = data_ids(dir);
            db.merge_files(&ids[..ids.len() / 3]).unwrap();
        }
    }
    // Let the hint writers finish before closing.
    std::thread::sleep(std::time::Duration::from_millis(300));
    db.close().unwrap();
}

#[test]
fn open_from_hints_equals_open_by_scan() {
    let clock = ManualClock::new();
    let src = tempfile::tempdir().unwrap();
    build(src.path(), &clock);
    let with = tempfile::tempdir().unwrap();
    let without = tempfile::tempdir().unwrap();
    copy_dir(src.path(), with.path());
    copy_dir(src.path(), without.path());
    for id in data_ids(without.path()) {
        let _ = std::fs::remove_file(hint_path(without.path(), id));
    }
    let a = open(with.path(), &clock);
    let b = open(without.path(), &clock);
    assert!(
        a.open_report().files_from_hints > 5,
        "{:?}",
        a.open_report()
    );
    assert_eq!(b.open_report().files_from_hints, 0);
    assert_eq!(keydir(&a), keydir(&b));
    assert_eq!(a.len(), b.len());
    let (sa, sb) = (a.stats(), b.stats());
    assert_eq!(sa.keys, sb.keys);
    assert_eq!(sa.keys_with_expiry, sb.keys_with_expiry);
    // Expiring later changes both the same way.
    clock.advance(10_000);
    assert_eq!(dump(&a), dump(&b));
}

#[test]
fn damaged_or_stale_hint_falls_back_to_scan_with_the_same_keydir() {
    let clock = ManualClock::new();
    let src = tempfile::tempdir().unwrap();
    build(src.path(), &clock);
    let want = keydir(&open(src.path(), &clock));
    let ids: Vec<u32> = data_ids(src.path())
        .into_iter()
        .filter(|&id| hint_path(src.path(), id).exists())
        .collect();
    assert!(ids.len() > 5);
    let mut rng = rand::rngs::StdRng::seed_from_u64(support::seed());
    for (case, &id) in ids.iter().enumerate() {
        let tmp = tempfile::tempdir().unwrap();
        copy_dir(src.path(), tmp.path());
        let hint = hint_path(tmp.path(), id);
        let mut bytes = std::fs::read(&hint).unwrap();
        match case % 4 {
            0 => {
                let at = rng.gen_range(0..bytes.len());
                bytes[at] ^= 1 << rng.gen_range(0..8);
            }
            1 => bytes.truncate(rng.gen_range(0..bytes.len())),
            2 => {
                let at = rng.gen_range(0..bytes.len());
                let end = (at + 40).min(bytes.len());
                bytes[at..end].fill(0);
            }
            _ => {
                // Stale: the hint of another file under this name.
                let other = ids[(case + 1) % ids.len()];
                bytes = std::fs::read(hint_path(src.path(), other)).unwrap();
            }
        }
        let original = std::fs::read(&hint).unwrap();
        if bytes == original {
            // Zeroing bytes that were already zero is no damage at all.
            bytes[0] ^= 1;
        }
        std::fs::write(&hint, &bytes).unwrap();
        let db = open(tmp.path(), &clock);
        assert!(
            db.open_report().files_scanned >= 2,
            "case {case}: damaged hint of {id} was trusted: {:?}",
            db.open_report()
        );
        assert_eq!(keydir(&db), want, "case {case}: hint of file {id} damaged");
    }
}

#[test]
fn hint_describing_another_length_is_ignored() {
    let clock = ManualClock::new();
    let src = tempfile::tempdir().unwrap();
    build(src.path(), &clock);
    let want = keydir(&open(src.path(), &clock));
    let id = data_ids(src.path())
        .into_iter()
        .find(|&id| hint_path(src.path(), id).exists())
        .unwrap();
    // Append garbage to the data file: the hint no longer describes it.
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(data_path(src.path(), id))
        .unwrap();
    std::io::Write::write_all(&mut f, &[0xAB; 50]).unwrap();
    drop(f);
    let db = open(src.path(), &clock);
    assert_eq!(keydir(&db), want);
    assert!(db.open_report().damage.iter().any(|(i, _)| *i == id));
    // No hint is written again for a file open found damaged, so the damage stays
    // visible to every later open instead of hiding behind a fresh hint.
    std::thread::sleep(std::time::Duration::from_millis(300));
    db.close().unwrap();
    let db = open(src.path(), &clock);
    assert!(db.open_report().damage.iter().any(|(i, _)| *i == id));
}

#[test]
fn hints_lost_damaged_or_of_an_older_format_are_written_again_after_open() {
    let clock = ManualClock::new();
    let dir = tempfile::tempdir().unwrap();
    build(dir.path(), &clock);
    let db = open(dir.path(), &clock);
    let want = keydir(&db);
    let scanned = db.open_report().files_scanned;
    db.close().unwrap();
    let hinted: Vec<u32> = data_ids(dir.path())
        .into_iter()
        .filter(|&id| hint_path(dir.path(), id).exists())
        .collect();
    assert!(hinted.len() >= 3);
    // One hint lost (a crash between sealing a file and writing its hint), one written
    // by an older build (header version 1, with a valid header CRC), one damaged.
    std::fs::remove_file(hint_path(dir.path(), hinted[0])).unwrap();
    let old_path = hint_path(dir.path(), hinted[1]);
    let mut old = std::fs::read(&old_path).unwrap();
    old[4..6].copy_from_slice(&1u16.to_le_bytes());
    let crc = crc32fast::hash(&old[0..12]);
    old[12..16].copy_from_slice(&crc.to_le_bytes());
    std::fs::write(&old_path, &old).unwrap();
    let bad_path = hint_path(dir.path(), hinted[2]);
    let mut bad = std::fs::read(&bad_path).unwrap();
    bad[20] ^= 1;
    std::fs::write(&bad_path, &bad).unwrap();

    // A handle closed at once (one CLI command) leaves the work to a longer-lived one.
    let db = open(dir.path(), &clock);
    db.close().unwrap();
    assert!(!hint_path(dir.path(), hinted[0]).exists());

    let db = open(dir.path(), &clock);
    assert_eq!(db.open_report().files_scanned, scanned + 3);
    assert_eq!(keydir(&db), want);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !(hint_path(dir.path(), hinted[0]).exists()
        && std::fs::read(&old_path).unwrap()[4..6] == 2u16.to_le_bytes()
        && std::fs::read(&bad_path).unwrap() != bad)
    {
        assert!(
            std::time::Instant::now() < deadline,
            "hints not written again"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    db.close().unwrap();
    let db = open(dir.path(), &clock);
    assert_eq!(db.open_report().files_scanned, scanned);
    assert_eq!(keydir(&db), want);
}

/// Regression: the load re-read a hint file without its CRC, so bytes that changed after
/// open had checked them went into the keydir, where a bogus newer entry could shadow a
/// key's real record. Now the load checks the CRC again and the open fails loudly.
#[test]
fn a_hint_that_changes_between_check_and_load_fails_the_open() {
    let clock = ManualClock::new();
    let dir = tempfile::tempdir().unwrap();
    build(dir.path(), &clock);
    let want = keydir(&open(dir.path(), &clock));
    let flaky = FaultyFs::new();
    flaky.change_on_reread(".hint");
    let opened = open_tiny(
        dir.path(),
        Arc::new(flaky),
        clock.clone(),
        600,
        SyncPolicy::None,
    );
    let Err(err) = opened else {
        panic!("a hint file that changed after its check was loaded");
    };
    let msg = err.to_string();
    assert!(msg.contains(".hint") && msg.contains("changed"), "{msg}");
    // Nothing was lost: on a disk that reads back what it holds, the hints load.
    let db = open(dir.path(), &clock);
    assert!(db.open_report().files_from_hints > 5);
    assert_eq!(keydir(&db), want);
}
