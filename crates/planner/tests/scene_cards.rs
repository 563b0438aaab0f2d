//! Issue 5's "Tests" list, one test each, through the public API: the scene's
//! three SLO cards, the sync loss window and the delete-then-recreate trap.

use ccbitcask_planner::checks::keydir_ram::KeydirRam;
use ccbitcask_planner::checks::Details;
use ccbitcask_planner::recommend::Engine;
use ccbitcask_planner::{
    plan, presets, CheckId, DeleteMode, Inputs, Report, SyncStrategy, Verdict,
};

fn card(name: &str, edit: impl FnOnce(&mut Inputs)) -> Report {
    let mut inputs = presets::get(name).expect("built-in preset");
    edit(&mut inputs);
    plan(&inputs).expect("valid inputs")
}

fn keydir(report: &Report) -> &KeydirRam {
    match &report
        .check(CheckId::KeydirRam)
        .expect("keydir check")
        .details
    {
        Details::KeydirRam(k) => k,
        other => panic!("wrong details {other:?}"),
    }
}

#[test]
fn photo_blob_card_is_730_mb_total_182_mb_per_vnode_and_fits_256_mb() {
    let report = card("photo-blobs", |_| {});
    let k = keydir(&report);
    assert_eq!(report.inputs.workload.keys.0, 10_000_000);
    assert_eq!(report.inputs.workload.avg_key_bytes, 28.5);
    assert_eq!(report.inputs.config.vnodes, 4);
    // MB = 10^6 bytes, as on the scene's card: 10M × (44.5 + 28.5) = 730e6.
    assert_eq!(k.deciding.total_bytes, 730e6);
    assert_eq!(k.deciding.per_vnode_bytes, 182.5e6);
    let check = report.check(CheckId::KeydirRam).unwrap();
    assert_eq!(check.verdict, Verdict::Fits);
    assert_eq!(
        check.summary,
        "keydir RAM 730 MB total · 182 MB/vnode — fits 256 MB budget (bitcask-04)"
    );
    assert!(report.to_text().contains(&check.summary));
    assert_eq!(report.recommendation.engine, Engine::Bitcask);
}

#[test]
fn photo_blob_card_on_one_vnode_says_add_vnodes_with_the_count() {
    let report = card("photo-blobs", |i| i.config.vnodes = 1);
    let check = report.check(CheckId::KeydirRam).unwrap();
    assert_eq!(check.verdict, Verdict::Warn);
    // 730 MB over a 256 MB budget needs ceil(730 / 256) = 3 vnodes.
    assert!(
        check.summary.contains("add vnodes, at least 3"),
        "{}",
        check.summary
    );
    let change = report
        .recommendation
        .changes
        .iter()
        .find(|c| c.knob == "vnodes")
        .expect("a vnodes change");
    assert_eq!((change.from.as_str(), change.to.as_str()), ("1", "3"));
    assert_eq!(report.recommendation.engine, Engine::Bitcask);
    assert!(report.exit_code >= 1);
}

#[test]
fn event_tags_use_an_lsm_because_of_range_access() {
    let report = card("event-tags", |_| {});
    let check = report.check(CheckId::RangeAccess).unwrap();
    assert_eq!(check.verdict, Verdict::Reject);
    assert_eq!(check.lesson.as_deref(), Some("bitcask-01"));
    // The keydir fits; ordered access alone sends it to an LSM.
    assert_eq!(
        report.check(CheckId::KeydirRam).unwrap().verdict,
        Verdict::Fits
    );
    assert_eq!(report.recommendation.engine, Engine::Lsm);
    assert!(report.recommendation.headline.contains("LevelDB/RocksDB"));
    assert_eq!(report.exit_code, 2);
}

#[test]
fn idempotency_keys_at_billions_use_an_lsm_at_any_vnode_count() {
    for vnodes in [1, 2, 4, 8, 16, 32, 64] {
        let report = card("idempotency-keys", |i| {
            i.config.vnodes = vnodes;
            i.config.max_vnodes = 64;
        });
        let check = report.check(CheckId::KeydirRam).unwrap();
        assert_eq!(
            check.verdict,
            Verdict::Reject,
            "{vnodes} vnodes: {}",
            check.summary
        );
        assert!(check.summary.contains("at any vnode count"));
        assert_eq!(report.recommendation.engine, Engine::Lsm);
        assert_eq!(report.exit_code, 2);
        // Both per-key models agree: it is not an artefact of Riak's figure.
        assert_eq!(keydir(&report).other.verdict, Verdict::Reject);
    }
}

#[test]
fn one_second_loss_window_with_sync_none_is_a_violation() {
    let report = card("photo-blobs", |i| {
        i.workload.max_loss_ms = Some(1000.0);
        i.config.sync_strategy = SyncStrategy::None;
    });
    let check = report.check(CheckId::SyncStrategy).unwrap();
    assert_eq!(check.verdict, Verdict::Warn);
    assert_eq!(check.lesson.as_deref(), Some("bitcask-06a"));
    assert!(check.summary.contains("violates"), "{}", check.summary);
    assert!(report.warnings.contains(&check.summary));
}

#[test]
fn one_second_loss_window_is_met_by_interval_1000_and_always() {
    for sync in [SyncStrategy::Interval(1000), SyncStrategy::Always] {
        let report = card("photo-blobs", |i| {
            i.workload.max_loss_ms = Some(1000.0);
            i.config.sync_strategy = sync;
        });
        let check = report.check(CheckId::SyncStrategy).unwrap();
        assert_eq!(check.verdict, Verdict::Fits, "{sync}: {}", check.summary);
        assert!(check.summary.contains("meets"));
    }
}

#[test]
fn delete_then_recreate_without_keep_is_flagged() {
    for mode in [DeleteMode::Immediate, DeleteMode::DelayMs(3000)] {
        let report = card("photo-blobs", |i| {
            i.workload.delete_then_recreate = true;
            i.config.delete_mode = mode;
        });
        let check = report.check(CheckId::DeleteRecreate).unwrap();
        assert_eq!(check.verdict, Verdict::Warn, "{mode}");
        assert_eq!(check.lesson.as_deref(), Some("bitcask-07"));
        assert!(report
            .recommendation
            .changes
            .iter()
            .any(|c| c.knob == "delete_mode" && c.to == "keep"));
    }
    let guarded = card("photo-blobs", |i| i.config.delete_mode = DeleteMode::Keep);
    assert_eq!(
        guarded.check(CheckId::DeleteRecreate).unwrap().verdict,
        Verdict::Fits
    );
}

#[test]
fn photo_blobs_fit_everywhere_once_the_open_files_limit_is_raised() {
    // With the default 1024 open files the card warns; the suggested change fixes it.
    let before = card("photo-blobs", |_| {});
    let change = before
        .recommendation
        .changes
        .iter()
        .find(|c| c.knob == "open_files_limit")
        .expect("an open-files change");
    let limit: u64 = change.to.parse().unwrap();
    let after = card("photo-blobs", |i| i.hardware.open_files_limit = limit);
    assert_eq!(after.verdict, Verdict::Fits, "{}", after.to_text());
    assert_eq!(after.exit_code, 0);
}
