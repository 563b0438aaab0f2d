//! I/O faults on the write path: the caller gets a typed error, the handle latches
//! (writes and merges answer `Poisoned`, reads keep working), and after reopening on a
//! healthy disk every write acknowledged before the fault is there with its exact value.

mod support;

use ccbitcask_engine::{check, Bitcask, Error, SyncPolicy, WriteBatch};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use support::{open_tiny, FaultMode, FaultPlan, FaultyFs, ManualClock, Model, OpKind};

fn open(dir: &Path, fs: &FaultyFs, policy: SyncPolicy) -> Bitcask {
    open_tiny(dir, Arc::new(fs.clone()), ManualClock::new(), 400, policy).unwrap()
}

fn errno_of(e: &Error) -> Option<i32> {
    match e {
        Error::Io { source, .. } => source.raw_os_error(),
        _ => None,
    }
}

/// One write of the workload: a put, a delete or a batch, by step number. The model
/// gets the write whether or not the database call succeeds (the caller decides).
fn write(db: &Bitcask, model: &mut Model, step: u32) -> Result<(), Error> {
    let k = format!("k{}", step % 23);
    match step % 7 {
        3 => {
            model.delete(k.as_bytes());
            db.delete(k.as_bytes()).map(drop)
        }
        5 => {
            let mut b = WriteBatch::new();
            let v = format!("batch-{step}");
            let pair = format!("pair{}", step % 23);
            b.put(k.clone(), v.clone()).put(pair.clone(), v.clone());
            model.put(k.as_bytes(), v.as_bytes(), None);
            model.put(pair.as_bytes(), v.as_bytes(), None);
            db.write_batch(&b)
        }
        _ => {
            let v = format!("value-{step}-{}", "x".repeat((step % 13) as usize));
            model.put(k.as_bytes(), v.as_bytes(), None);
            db.put(k.as_bytes(), v.as_bytes())
        }
    }
}

/// Runs writes until the armed fault fires, then checks the latch and the reopen.
fn fault_case(kind: OpKind, nth: u64, mode: FaultMode, policy: SyncPolicy) -> bool {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let fs = FaultyFs::new();
    let db = open(dir, &fs, policy);
    let mut model = Model::default();
    let ctx = format!("{kind:?} #{nth} {mode:?} under {policy}");
    fs.fail_nth(kind, nth, mode);
    let mut err = None;
    for step in 0..400u32 {
        // What the model would be if this write succeeded.
        let mut next = model.clone();
        match write(&db, &mut next, step) {
            Ok(()) => model = next,
            Err(e) => {
                err = Some((e, next));
                break;
            }
        }
    }
    let Some((err, if_applied)) = err else {
        // The fault hit a background hint writer (harmless) or never came: no write
        // failed, so everything must be there after a reopen.
        drop(db);
        let db = open(dir, &FaultyFs::new(), policy);
        support::assert_model(&db, &model, db.now_ms(), &ctx);
        return false;
    };
    // The caller gets the OS error, typed.
    let want = if mode == FaultMode::Eio { 5 } else { 28 };
    assert_eq!(errno_of(&err), Some(want), "{ctx}: {err:?}");
    // The handle latches: no more writes or merges...
    assert!(
        matches!(db.put(b"after", b"x"), Err(Error::Poisoned)),
        "{ctx}"
    );
    assert!(matches!(db.delete(b"k1"), Err(Error::Poisoned)), "{ctx}");
    assert!(
        matches!(
            db.write_batch(WriteBatch::new().put("a", "b")),
            Err(Error::Poisoned)
        ),
        "{ctx}"
    );
    assert!(matches!(db.merge(), Err(Error::Poisoned)), "{ctx}");
    // ...but reads still work and still show every acknowledged write.
    let now = db.now_ms();
    let live = model.live(now);
    // (The failed write's outcome is unknown, so reads may show it applied or not.)
    let applied_now = if_applied.live(now);
    let seen = support::dump(&db);
    assert!(
        seen == live || seen == applied_now,
        "{ctx}: reads after the fault: {}",
        support::diff(&seen, &live)
    );
    drop(db);
    // Reopen on a healthy disk: every acknowledged write is there. The failed write was
    // never acknowledged, so it may or may not have landed, but never half of it.
    let report = check(dir).unwrap();
    support::assert_clean(&report, &ctx);
    let db = open(dir, &FaultyFs::new(), policy);
    let got = support::dump(&db);
    let applied = if_applied.live(now);
    assert!(
        got == live || got == applied,
        "{ctx}: after reopen: vs acknowledged: {}",
        support::diff(&got, &live)
    );
    // And the reopened database takes writes again.
    db.put(b"after", b"reopen").unwrap();
    true
}

#[test]
fn write_path_faults_latch_and_lose_nothing_acknowledged() {
    let mut fired = 0;
    for policy in [SyncPolicy::Always, SyncPolicy::None] {
        for (kind, modes) in [
            (
                OpKind::Write,
                &[
                    FaultMode::Eio,
                    FaultMode::Enospc,
                    FaultMode::ShortThenEnospc,
                ][..],
            ),
            (OpKind::Sync, &[FaultMode::Eio][..]),
            (OpKind::Create, &[FaultMode::Eio, FaultMode::Enospc][..]),
            (OpKind::SyncDir, &[FaultMode::Eio][..]),
        ] {
            for &mode in modes {
                for nth in [0, 1, 3, 8, 17, 40] {
                    if fault_case(kind, nth, mode, policy) {
                        fired += 1;
                    }
                }
            }
        }
    }
    eprintln!("figures: {fired} write-path faults fired");
    assert!(fired >= 50, "only {fired} faults fired");
}

#[test]
fn a_failed_disk_latches_and_reopen_on_it_fails_cleanly() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let fs = FaultyFs::new();
    let db = open(dir, &fs, SyncPolicy::Always);
    for i in 0..20u32 {
        db.put(format!("k{i}").as_bytes(), b"v").unwrap();
    }
    fs.arm(FaultPlan {
        kind: Some(OpKind::Write),
        nth: 0,
        mode: FaultMode::Enospc,
        sticky: true,
    });
    assert_eq!(errno_of(&db.put(b"x", b"y").unwrap_err()), Some(28));
    assert!(matches!(db.put(b"x", b"y"), Err(Error::Poisoned)));
    assert_eq!(db.get(b"k3").unwrap().as_deref(), Some(&b"v"[..]));
    drop(db);
    // Still full: opening may need to create a file; either it works or it is a typed
    // I/O error, never a panic or a half-open database.
    match open_tiny(
        dir,
        Arc::new(fs.clone()),
        ManualClock::new(),
        400,
        SyncPolicy::Always,
    ) {
        Ok(db) => assert_eq!(db.get(b"k3").unwrap().as_deref(), Some(&b"v"[..])),
        Err(e) => assert!(matches!(e, Error::Io { .. }), "{e:?}"),
    }
    fs.disarm();
    let db = open(dir, &fs, SyncPolicy::Always);
    assert_eq!(db.len(), 20);
}

/// Hint files are an optimisation: a failure writing one (any step, even a dead disk
/// for hint files only) is logged, changes nothing for the caller, and open falls
/// back to scanning.
#[test]
fn hint_writer_failure_is_harmless() {
    for kind in [OpKind::Create, OpKind::Write, OpKind::Sync, OpKind::Rename] {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let fs = FaultyFs::new();
        let db = open(dir, &fs, SyncPolicy::None);
        fs.arm(FaultPlan {
            kind: Some(kind),
            nth: 0,
            mode: FaultMode::Eio,
            sticky: true,
        });
        fs.only_paths(".hint");
        let mut model = Model::default();
        for step in 0..200u32 {
            write(&db, &mut model, step).unwrap();
        }
        let ctx = format!("hint {kind:?} failing");
        support::assert_model(&db, &model, db.now_ms(), &ctx);
        assert!(db.stats().files.len() > 5);
        drop(db);
        assert!(fs.fired(), "{ctx}: no hint file was written");
        fs.disarm();
        let db = open(dir, &fs, SyncPolicy::None);
        support::assert_model(&db, &model, db.now_ms(), &ctx);
        assert!(
            db.open_report().files_scanned > 1,
            "{ctx}: {:?}",
            db.open_report()
        );
    }
}

/// Regression (fsyncgate): after one writer's fsync failed and poisoned the handle, a
/// second writer queued behind it for the same group commit fsynced again, saw success
/// and acknowledged its write. After a failed fsync the kernel may have dropped the
/// dirty pages, so no later fsync proves anything: the second writer must fail too.
#[test]
fn write_waiting_on_a_failed_group_commit_is_not_acknowledged() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let fs = FaultyFs::new();
    let db = open_tiny(
        dir,
        Arc::new(fs.clone()),
        ManualClock::new(),
        1 << 20,
        SyncPolicy::Always,
    )
    .unwrap();
    db.put(b"before", b"1").unwrap();
    fs.fail_nth(OpKind::Sync, 0, FaultMode::Eio);
    fs.delay_ops(OpKind::Sync, Duration::from_millis(150));
    let a = {
        let db = db.clone();
        std::thread::spawn(move || db.put(b"a", b"1"))
    };
    std::thread::sleep(Duration::from_millis(40));
    let b = {
        let db = db.clone();
        std::thread::spawn(move || db.put(b"b", b"1"))
    };
    let ra = a.join().unwrap();
    let rb = b.join().unwrap();
    // Whichever writer reached the fsync first got EIO; the other must not be
    // acknowledged either (on a slow machine B may even get there first).
    assert!(
        ra.is_err() && rb.is_err(),
        "a write whose fsync came after a failed fsync was acknowledged: {ra:?} {rb:?}"
    );
    assert!(
        [&ra, &rb]
            .iter()
            .any(|r| r.as_ref().err().and_then(errno_of) == Some(5)),
        "{ra:?} {rb:?}"
    );
    assert_eq!(db.get(b"before").unwrap().as_deref(), Some(&b"1"[..]));
}
