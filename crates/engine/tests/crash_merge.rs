//! A crash at every step of a merge.
//!
//! Three ways to stop a merge at step `i` (every mutating file operation it performs):
//! - `FaultyFs`, one failure: the merge gets an I/O error at step `i` and the process
//!   goes on. The old files must stay fully usable: reads, writes, a later merge, and a
//!   reopen all agree with the model.
//! - `FaultyFs`, sticky failure: every operation from step `i` on fails, as if the
//!   process died there; the directory is then reopened on the real file system.
//! - `SimFs` power loss just before step `i`: the image keeps only what was fsynced
//!   (file data) and directory-fsynced (names); it is booted and compared.

mod support;

use ccbitcask_engine::{check, check_with, Bitcask, Error, SyncPolicy};
use std::path::Path;
use std::sync::Arc;
use support::{
    assert_model, copy_dir, open_tiny, populate, FaultMode, FaultPlan, FaultyFs, ManualClock,
    Model, SimFs, SimImage,
};

const FILE: u64 = 512;

/// Builds the populated database once; returns its model and the clock time after.
fn build_std(dir: &Path) -> (Model, Arc<ManualClock>) {
    let clock = ManualClock::new();
    let mut model = Model::default();
    let db = open_tiny(
        dir,
        Arc::new(FaultyFs::new()),
        clock.clone(),
        FILE,
        SyncPolicy::None,
    )
    .unwrap();
    populate(&db, &mut model, &clock);
    db.close().unwrap();
    (model, clock)
}

fn clock_at(t: u64) -> Arc<ManualClock> {
    let c = ManualClock::new();
    c.advance(t - c.now());
    c
}

/// How many mutating operations a merge of the populated database performs.
fn merge_ops(src: &Path, t: u64) -> u64 {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    copy_dir(src, &dir);
    let fs = FaultyFs::new();
    let db = open_tiny(
        &dir,
        Arc::new(fs.clone()),
        clock_at(t),
        FILE,
        SyncPolicy::None,
    )
    .unwrap();
    fs.disarm();
    let r = db.merge().unwrap();
    assert!(
        r.inputs.len() > 5 && r.outputs.len() > 1,
        "merge too small to test: {r:?}"
    );
    fs.total_ops()
}

/// Writes after the failed merge, so the next merge and reopen see a changed database.
/// Deletes come first so that their tombstones end up in sealed files, which the next
/// merge may drop: exactly where a forgotten file would resurrect the keys.
fn more_writes(db: &Bitcask, model: &mut Model) -> Result<(), Error> {
    let victims: Vec<String> = (0..30)
        .step_by(4)
        .map(|i| format!("key{i:02}"))
        .chain((0..30).step_by(5).map(|i| format!("tail{i:02}")))
        .collect();
    for k in &victims {
        db.delete(k.as_bytes())?;
        model.delete(k.as_bytes());
    }
    for i in 0..12u32 {
        let k = format!("key{:02}", i * 2 + 1);
        db.put(k.as_bytes(), b"after-fault")?;
        model.put(k.as_bytes(), b"after-fault", None);
    }
    Ok(())
}

#[test]
fn merge_failing_at_every_step_leaves_old_files_usable() {
    let src = tempfile::tempdir().unwrap();
    let (model0, clock) = build_std(src.path());
    let t = clock.now();
    let n = merge_ops(src.path(), t);
    let mut failed = 0;
    for mode in [FaultMode::Eio, FaultMode::Enospc] {
        for i in 0..n {
            let tmp = tempfile::tempdir().unwrap();
            let dir = tmp.path().join("db");
            copy_dir(src.path(), &dir);
            let fs = FaultyFs::new();
            let db = open_tiny(
                &dir,
                Arc::new(fs.clone()),
                clock_at(t),
                FILE,
                SyncPolicy::None,
            )
            .unwrap();
            let mut model = model0.clone();
            fs.fail_nth_any(i, mode);
            let result = db.merge();
            assert!(fs.fired(), "step {i} was never reached");
            let ctx = format!("{mode:?} at step {i} ({:?})", fs.log().get(i as usize));
            if result.is_err() {
                failed += 1;
            }
            // Reads never depend on how far the merge got.
            assert_model(
                &db,
                &model,
                t,
                &format!("{ctx}: right after the failed merge"),
            );
            // Writes go on unless the handle latched; either way nothing is lost.
            match more_writes(&db, &mut model) {
                Ok(()) => {
                    let m = db.merge();
                    assert!(
                        m.is_ok() || matches!(m, Err(Error::Poisoned)),
                        "{ctx}: merge after the fault: {m:?}"
                    );
                    assert_model(
                        &db,
                        &model,
                        t,
                        &format!("{ctx}: after writes and a second merge"),
                    );
                }
                Err(Error::Poisoned) => {}
                Err(e) => panic!("{ctx}: unexpected write error {e:?}"),
            }
            drop(db);
            let report = check(&dir).unwrap();
            support::assert_clean(&report, &ctx);
            let db = open_tiny(
                &dir,
                Arc::new(FaultyFs::new()),
                clock_at(t),
                FILE,
                SyncPolicy::None,
            )
            .unwrap();
            assert_model(&db, &model, t, &format!("{ctx}: after reopen"));
            // And a full merge of whatever the fault left behind, then reopen again.
            db.merge().unwrap();
            drop(db);
            let db = open_tiny(
                &dir,
                Arc::new(FaultyFs::new()),
                clock_at(t),
                FILE,
                SyncPolicy::None,
            )
            .unwrap();
            assert_model(
                &db,
                &model,
                t,
                &format!("{ctx}: after a clean merge and reopen"),
            );
        }
    }
    eprintln!(
        "figures: merge of {n} steps, {} faults injected, {failed} merges failed",
        2 * n
    );
    assert!(failed > 0);
}

#[test]
fn process_dying_at_every_merge_step_loses_nothing() {
    let src = tempfile::tempdir().unwrap();
    let (model, clock) = build_std(src.path());
    let t = clock.now();
    let n = merge_ops(src.path(), t);
    eprintln!("figures: process death at each of {} merge steps", n + 1);
    for i in 0..=n {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("db");
        copy_dir(src.path(), &dir);
        let fs = FaultyFs::new();
        let db = open_tiny(
            &dir,
            Arc::new(fs.clone()),
            clock_at(t),
            FILE,
            SyncPolicy::None,
        )
        .unwrap();
        fs.arm(FaultPlan {
            kind: None,
            nth: i,
            mode: FaultMode::Eio,
            sticky: true,
        });
        let _ = db.merge();
        // Dropping the handle cannot write either: the "process" is dead.
        drop(db);
        let ctx = format!("death at merge step {i} of {n}");
        let report = check(&dir).unwrap();
        support::assert_clean(&report, &ctx);
        let db = open_tiny(
            &dir,
            Arc::new(FaultyFs::new()),
            clock_at(t),
            FILE,
            SyncPolicy::None,
        )
        .unwrap();
        assert_model(&db, &model, t, &ctx);
        db.merge().unwrap();
        drop(db);
        let db = open_tiny(
            &dir,
            Arc::new(FaultyFs::new()),
            clock_at(t),
            FILE,
            SyncPolicy::None,
        )
        .unwrap();
        assert_model(&db, &model, t, &format!("{ctx}, then merge and reopen"));
    }
}

fn sim_build() -> (SimImage, Model, u64) {
    let sim = SimFs::new();
    let dir = support::sim_dir();
    let clock = ManualClock::new();
    let mut model = Model::default();
    let db = open_tiny(
        &dir,
        Arc::new(sim.clone()),
        clock.clone(),
        FILE,
        SyncPolicy::None,
    )
    .unwrap();
    populate(&db, &mut model, &clock);
    db.close().unwrap();
    (sim.power_loss(), model, clock.now())
}

fn sim_open(img: &SimImage, t: u64) -> (SimFs, Bitcask) {
    let sim = SimFs::from_image(img);
    let db = open_tiny(
        &support::sim_dir(),
        Arc::new(sim.clone()),
        clock_at(t),
        FILE,
        SyncPolicy::None,
    )
    .unwrap();
    (sim, db)
}

#[test]
fn power_loss_at_every_merge_step_loses_nothing() {
    let (base, model, t) = sim_build();
    // A clean close leaves everything durable.
    let (_, db) = sim_open(&base, t);
    assert_model(&db, &model, t, "base image");
    drop(db);
    let (sim, db) = sim_open(&base, t);
    sim.reset_ops();
    db.merge().unwrap();
    let n = sim.ops();
    drop(db);
    eprintln!("figures: power loss before each of {} merge steps", n + 1);
    assert!(n > 20, "merge performed only {n} operations");
    for i in 0..=n {
        let (sim, db) = sim_open(&base, t);
        sim.cut_before_op(i);
        db.merge().unwrap();
        let img = sim.take_captured().unwrap_or_else(|| sim.power_loss());
        drop(db);
        let ctx = format!("power loss before merge step {i} of {n}");
        let booted = SimFs::from_image(&img);
        let report = check_with(&booted, &support::sim_dir()).unwrap();
        support::assert_clean(&report, &ctx);
        let (sim2, db) = sim_open(&img, t);
        assert_model(&db, &model, t, &ctx);
        // The recovered database merges and survives another power loss.
        db.merge().unwrap();
        let img2 = sim2.power_loss();
        drop(db);
        let (_, db) = sim_open(&img2, t);
        assert_model(&db, &model, t, &format!("{ctx}, then merge and power loss"));
    }
}
