//! Merge correctness: no resurrection through tombstones dropped too early, writes that
//! race a merge always win, and the regressions found by the crash tests.

mod support;

use ccbitcask_engine::{Bitcask, Error, SyncPolicy};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;
use support::{assert_model, data_ids, open_tiny, FaultMode, FaultyFs, ManualClock, Model, OpKind};

const FILE: u64 = 256;

fn open(dir: &Path, clock: &Arc<ManualClock>) -> Bitcask {
    open_on(dir, &FaultyFs::new(), clock)
}

fn open_on(dir: &Path, fs: &FaultyFs, clock: &Arc<ManualClock>) -> Bitcask {
    open_tiny(
        dir,
        Arc::new(fs.clone()),
        clock.clone(),
        FILE,
        SyncPolicy::None,
    )
    .unwrap()
}

/// Writes `victim0..9` = "old" on `fs`, seals their file, closes and reopens: the
/// victims sit in a sealed file a merge will take as input. No fault is armed yet.
fn sealed_victims(dir: &Path, fs: &FaultyFs, clock: &Arc<ManualClock>) -> Bitcask {
    let db = open_on(dir, fs, clock);
    for i in 0..10u32 {
        db.put(format!("victim{i}").as_bytes(), b"old").unwrap();
    }
    seal(&db, dir, "a");
    db.close().unwrap();
    open_on(dir, fs, clock)
}

/// Seals the active file by writing filler until a new one starts; returns the id of
/// the file that was active.
fn seal(db: &Bitcask, dir: &Path, tag: &str) -> u32 {
    let active = *data_ids(dir).last().unwrap();
    let mut i = 0;
    while *data_ids(dir).last().unwrap() == active {
        db.put(format!("filler-{tag}-{i}").as_bytes(), b"f")
            .unwrap();
        i += 1;
    }
    active
}

#[test]
fn delete_then_partial_merge_then_reopen_stays_deleted() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let clock = ManualClock::new();
    let db = open(dir, &clock);
    db.put(b"K", b"old").unwrap();
    let f1 = seal(&db, dir, "a");
    assert!(db.delete(b"K").unwrap());
    let f2 = seal(&db, dir, "b");
    assert!(f2 > f1);
    // Merge only the file with the tombstone: the old value in f1 survives the merge,
    // so the tombstone must too.
    let r = db.merge_files(&[f2]).unwrap();
    assert_eq!(r.inputs, vec![f2]);
    assert!(r.tombstones_kept >= 1, "{r:?}");
    assert_eq!(db.get(b"K").unwrap(), None);
    drop(db);
    let db = open(dir, &clock);
    assert_eq!(
        db.get(b"K").unwrap(),
        None,
        "resurrected by a partial merge"
    );
    // Merging the old file alone now, then everything, still keeps it deleted.
    db.merge_files(&[f1]).unwrap();
    drop(db);
    let db = open(dir, &clock);
    assert_eq!(db.get(b"K").unwrap(), None);
    db.merge().unwrap();
    drop(db);
    let db = open(dir, &clock);
    assert_eq!(db.get(b"K").unwrap(), None);
}

/// Riak's `update_tombstones_test`: put K in file 1, again in file 3, delete it in file
/// 5, merge files 3 and 5: the tombstone must still reach file 1.
#[test]
fn update_then_delete_then_merge_of_later_files_stays_deleted() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let clock = ManualClock::new();
    let db = open(dir, &clock);
    db.put(b"K", b"v1").unwrap();
    let _f1 = seal(&db, dir, "a");
    let _f2 = seal(&db, dir, "b");
    db.put(b"K", b"v2").unwrap();
    let f3 = seal(&db, dir, "c");
    let _f4 = seal(&db, dir, "d");
    db.delete(b"K").unwrap();
    let f5 = seal(&db, dir, "e");
    db.merge_files(&[f3, f5]).unwrap();
    drop(db);
    let db = open(dir, &clock);
    assert_eq!(db.get(b"K").unwrap(), None);
}

#[test]
fn delete_then_recreate_during_merge_then_reopen_keeps_new_value() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let clock = ManualClock::new();
    let db = open(dir, &clock);
    db.put(b"K", b"old").unwrap();
    seal(&db, dir, "a");
    db.delete(b"K").unwrap();
    seal(&db, dir, "b");
    seal(&db, dir, "c");
    let done = AtomicBool::new(false);
    let db2 = db.clone();
    // The recreate lands after the first input is copied, so the merge has already
    // seen (and perhaps forwarded) the tombstone.
    db.merge_with_progress(&|done_bytes, _total| {
        if done_bytes > 0 && !done.swap(true, SeqCst) {
            db2.put(b"K", b"new").unwrap();
        }
    })
    .unwrap();
    assert!(done.load(SeqCst));
    assert_eq!(db.get(b"K").unwrap().as_deref(), Some(&b"new"[..]));
    drop(db2);
    drop(db);
    let db = open(dir, &clock);
    assert_eq!(db.get(b"K").unwrap().as_deref(), Some(&b"new"[..]));
    // And after a second merge that forwards or drops whatever is left.
    seal(&db, dir, "d");
    db.merge().unwrap();
    drop(db);
    let db = open(dir, &clock);
    assert_eq!(db.get(b"K").unwrap().as_deref(), Some(&b"new"[..]));
}

#[test]
fn delete_racing_a_merge_copy_stays_deleted() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let clock = ManualClock::new();
    let db = open(dir, &clock);
    for i in 0..40u32 {
        db.put(format!("k{i}").as_bytes(), b"live").unwrap();
    }
    seal(&db, dir, "a");
    let db2 = db.clone();
    let fired = AtomicBool::new(false);
    // Delete every key while the merge is copying them.
    db.merge_with_progress(&|done_bytes, _| {
        if done_bytes > 0 && !fired.swap(true, SeqCst) {
            for i in 0..40u32 {
                db2.delete(format!("k{i}").as_bytes()).unwrap();
            }
        }
    })
    .unwrap();
    for i in 0..40u32 {
        assert_eq!(db.get(format!("k{i}").as_bytes()).unwrap(), None);
    }
    drop(db2);
    seal(&db, dir, "b");
    db.merge().unwrap();
    drop(db);
    let db = open(dir, &clock);
    for i in 0..40u32 {
        assert_eq!(db.get(format!("k{i}").as_bytes()).unwrap(), None, "k{i}");
    }
}

#[test]
fn expired_record_then_partial_merge_does_not_resurrect_older_value() {
    for purge_first in [false, true] {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let clock = ManualClock::new();
        let db = open(dir, &clock);
        db.put(b"K", b"forever").unwrap();
        let f1 = seal(&db, dir, "a");
        db.put_with_expiry(b"K", b"short-lived", Some(clock.now() + 1_000))
            .unwrap();
        let f2 = seal(&db, dir, "b");
        clock.advance(2_000);
        assert_eq!(db.get(b"K").unwrap(), None);
        if purge_first {
            // Active expiry drops it from RAM; the disk record must still shadow.
            db.purge_expired(100);
        }
        db.merge_files(&[f2]).unwrap();
        assert_eq!(db.get(b"K").unwrap(), None);
        drop(db);
        let db = open(dir, &clock);
        assert_eq!(
            db.get(b"K").unwrap(),
            None,
            "older value resurrected (purge {purge_first})"
        );
        db.merge_files(&[f1]).unwrap();
        drop(db);
        let db = open(dir, &clock);
        assert_eq!(db.get(b"K").unwrap(), None);
        db.merge().unwrap();
        drop(db);
        let db = open(dir, &clock);
        assert_eq!(db.get(b"K").unwrap(), None);
    }
}

#[test]
fn writes_during_merge_win() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let clock = ManualClock::new();
    let db = open(dir, &clock);
    let keys = 60u32;
    for round in 0..5u32 {
        for i in 0..keys {
            db.put(format!("k{i}").as_bytes(), format!("{round}").as_bytes())
                .unwrap();
        }
    }
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let db = db.clone();
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut model = Model::default();
            let mut n = 0u64;
            while !stop.load(SeqCst) || n < 2_000 {
                let i = (n * 7) % u64::from(keys);
                let k = format!("k{i}");
                if n % 5 == 4 {
                    db.delete(k.as_bytes()).unwrap();
                    model.delete(k.as_bytes());
                } else {
                    let v = format!("w{n}");
                    db.put(k.as_bytes(), v.as_bytes()).unwrap();
                    model.put(k.as_bytes(), v.as_bytes(), None);
                }
                n += 1;
            }
            model
        })
    };
    let mut merges = 0;
    while merges < 15 {
        match db.merge() {
            Ok(_) => merges += 1,
            Err(Error::MergeInProgress) => {}
            Err(e) => panic!("merge failed: {e}"),
        }
        let ids = data_ids(dir);
        if ids.len() > 3 {
            let _ = db.merge_files(&ids[..ids.len() / 2]);
        }
    }
    stop.store(true, SeqCst);
    // The writer visits every key (7 is coprime with 60), so its model is the state.
    let model = writer.join().unwrap();
    assert_model(&db, &model, clock.now(), "after merges racing writes");
    drop(db);
    let db = open(dir, &clock);
    assert_model(&db, &model, clock.now(), "after reopen");
}

/// Regression: `merge()` failed with `MergeInProgress` whenever a hint writer (started
/// by every rollover) held the merge lock, although no merge was running. Found by
/// `crash_merge::merge_failing_at_every_step_leaves_old_files_usable`.
#[test]
fn merge_right_after_rollover_is_not_refused_as_in_progress() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let clock = ManualClock::new();
    let fs = FaultyFs::new();
    let db = open_tiny(dir, Arc::new(fs.clone()), clock, FILE, SyncPolicy::None).unwrap();
    // Slow hint writes keep the hint writer of a just-sealed file busy (holding the
    // merge lock) for a while after each rollover.
    fs.delay_creates(".hint.tmp", Duration::from_millis(100));
    // This thread is the only one that merges, so no merge can be in progress.
    for round in 0..3 {
        seal(&db, dir, &format!("r{round}"));
        std::thread::sleep(Duration::from_millis(20));
        db.merge().expect("a hint writer is not a merge");
    }
    assert_eq!(db.stats().merges_completed, 3);
}

/// Regression: a merge failing between renaming an output to its final name and
/// publishing it (here: the hint rename) left an unknown data file behind. A later
/// merge dropped the tombstones shadowing its records and the next open resurrected
/// them. Found by `crash_merge::merge_failing_at_every_step_leaves_old_files_usable`.
#[test]
fn regression_unpublished_merge_output_resurrects_deleted_keys() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let clock = ManualClock::new();
    let fs = FaultyFs::new();
    let db = sealed_victims(dir, &fs, &clock);
    // Renames of a merge: output data, then output hint. Fail the hint's.
    fs.fail_nth(OpKind::Rename, 1, FaultMode::Eio);
    assert!(db.merge().is_err());
    assert!(fs.fired());
    for i in 0..10u32 {
        db.delete(format!("victim{i}").as_bytes()).unwrap();
    }
    seal(&db, dir, "b");
    db.merge().unwrap();
    drop(db);
    let db = open(dir, &clock);
    for i in 0..10u32 {
        assert_eq!(
            db.get(format!("victim{i}").as_bytes()).unwrap(),
            None,
            "victim{i}"
        );
    }
}

/// Regression: a merge whose commit failed after the manifest was written (here: while
/// removing the inputs) let the process go on merging; the next merge overwrote the
/// manifest, the leftover inputs were loaded again at open and resurrected keys. Now
/// the handle latches until reopen, which completes the commit. Found by
/// `crash_merge::merge_failing_at_every_step_leaves_old_files_usable`.
#[test]
fn regression_failed_merge_commit_then_merge_resurrects_deleted_keys() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let clock = ManualClock::new();
    let fs = FaultyFs::new();
    let db = sealed_victims(dir, &fs, &clock);
    // Removes of a merge: the stale manifest temp (ignored), then each input's hint.
    fs.fail_nth(OpKind::Remove, 1, FaultMode::Eio);
    assert!(db.merge().is_err());
    assert!(fs.fired());
    let mut model_deleted = false;
    match db.delete(b"victim0") {
        Err(Error::Poisoned) => {}
        Ok(_) => {
            model_deleted = true;
            seal(&db, dir, "b");
            db.merge().unwrap();
        }
        Err(e) => panic!("{e}"),
    }
    drop(db);
    let db = open(dir, &clock);
    let got = db.get(b"victim0").unwrap();
    if model_deleted {
        assert_eq!(got, None, "resurrected");
    } else {
        assert_eq!(got.as_deref(), Some(&b"old"[..]));
    }
}
