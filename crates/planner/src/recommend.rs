//! The closing part of the report: trade-off scores, warnings and the final
//! recommendation, Bitcask or "use an LSM (LevelDB/RocksDB)".
//!
//! As in scene 08's `recommend_engine`, only the two ceilings no knob moves
//! (ordered access, bitcask-01; keydir RAM at the maximum vnode count,
//! bitcask-04) send a workload to an LSM. Everything else is a Bitcask with
//! knob changes.
//!
//! Scores run from 1 to 5. Throughput and durability: higher is better.
//! Complexity: higher means more to operate. The formulas are in each
//! function's docs and printed with the score, so a score is never a bare
//! number.

use crate::checks::{Check, Details, KnobChange, Verdict};
use crate::config::{ConfigFlags, MergeWindow, SyncStrategy};
use crate::hardware::HardwareFlags;
use crate::model::Inputs;
use crate::units::{fmt_bytes, fmt_pct, fmt_rate, fmt_secs};
use crate::workload::WorkloadFlags;
use serde::{Deserialize, Serialize};

/// One trade-off score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Score {
    /// 1 to 5.
    pub value: u8,
    /// The numbers the score comes from.
    pub why: String,
}

/// The three trade-off scores of scene 08's card.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scores {
    /// Headroom of the disk over peak writes, merges and fsyncs (5 = most).
    pub throughput: Score,
    /// How little a crash loses (5 = nothing acknowledged).
    pub durability: Score,
    /// How much there is to operate (1 = least).
    pub complexity: Score,
}

/// The storage engine recommended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    /// A Bitcask, possibly with knob changes.
    Bitcask,
    /// An LSM tree (LevelDB/RocksDB): no Bitcask knob meets the workload.
    Lsm,
}

/// What the plan looks like once the suggested changes are applied.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AfterChanges {
    /// The verdict of the changed configuration.
    pub verdict: Verdict,
    /// Summaries of the checks (and cross-cutting warnings) that still do not fit.
    pub remaining: Vec<String>,
}

/// The final recommendation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recommendation {
    /// Which engine.
    pub engine: Engine,
    /// One line: `Bitcask` or `use an LSM (LevelDB/RocksDB)`, and why in brief.
    pub headline: String,
    /// The reasons, with their numbers.
    pub reasons: Vec<String>,
    /// Knob changes that turn the warnings into fits (empty for an LSM).
    pub changes: Vec<KnobChange>,
    /// The plan re-run with every change applied, since one change can
    /// disturb another check (more vnodes, more open files); `None` when
    /// there are no changes.
    pub after_changes: Option<AfterChanges>,
}

/// `inputs` with every change applied, through the same parsers as flags;
/// `None` if a change names no knob or yields invalid inputs.
pub fn apply_changes(inputs: &Inputs, changes: &[KnobChange]) -> Option<Inputs> {
    let mut w = WorkloadFlags::default();
    let mut c = ConfigFlags::default();
    let mut h = HardwareFlags::default();
    for change in changes {
        let (knob, to) = (change.knob.as_str(), change.to.as_str());
        if !(w.set(knob, to) || c.set(knob, to) || h.set(knob, to)) {
            return None;
        }
    }
    let mut out = inputs.clone();
    w.to_patch().ok()?.apply(&mut out.workload);
    c.to_patch().ok()?.apply(&mut out.config);
    h.to_patch().ok()?.apply(&mut out.hardware);
    out.validate().ok()?;
    Some(out)
}

/// Re-runs the checks on `inputs` with `changes` applied.
pub fn after_changes(inputs: &Inputs, changes: &[KnobChange]) -> Option<AfterChanges> {
    if changes.is_empty() {
        return None;
    }
    let changed = apply_changes(inputs, changes)?;
    let evaluation = evaluate(&changed);
    Some(AfterChanges {
        verdict: evaluation.verdict,
        remaining: evaluation.warnings,
    })
}

/// The checks run on one set of inputs, with their overall verdict.
#[derive(Debug)]
pub(crate) struct Evaluation {
    /// The checks, in dependency order.
    pub(crate) checks: Vec<Check>,
    /// The worst verdict, counting cross-cutting warnings (see [`overall`]).
    pub(crate) verdict: Verdict,
    /// Every warn or reject summary, then the warnings no single check owns.
    pub(crate) warnings: Vec<String>,
}

/// Runs the checks, the cross-cutting warnings and the overall verdict: the
/// pipeline both the report and the re-run after changes go through.
pub(crate) fn evaluate(inputs: &Inputs) -> Evaluation {
    let checks = crate::checks::run_all(inputs);
    let cross = cross_warnings(inputs, &checks);
    let verdict = overall(&checks, &cross);
    let mut warnings: Vec<String> = checks
        .iter()
        .filter(|c| c.verdict != Verdict::Fits)
        .map(|c| c.summary.clone())
        .collect();
    warnings.extend(cross);
    Evaluation {
        checks,
        verdict,
        warnings,
    }
}

/// Milliseconds one uncached read takes: a seek plus the value at bandwidth.
pub fn read_ms(inputs: &Inputs) -> f64 {
    let h = &inputs.hardware;
    h.read_latency_ms + 1000.0 * inputs.workload.avg_value_bytes.0 as f64 / h.bandwidth()
}

/// Merge hours per day, from the merge-cadence check.
fn merge_hours(checks: &[Check]) -> f64 {
    checks
        .iter()
        .find_map(|c| match &c.details {
            Details::MergeCadence(m) => Some(m.merge_hours_per_day),
            _ => None,
        })
        .unwrap_or(0.0)
}

/// Throughput: the disk's headroom, the smaller of bandwidth ÷ (peak writes +
/// average merge I/O) and fsync rate ÷ fsyncs needed; ≥10× scores 5, ≥4× 4,
/// ≥2× 3, ≥1× 2, below 1× 1. `always` with group commit batches to the disk's
/// fsync rate, so it costs latency rather than throughput and loses one point.
fn throughput(inputs: &Inputs, checks: &[Check]) -> Score {
    let w = &inputs.workload;
    let c = &inputs.config;
    let h = &inputs.hardware;
    let write_share = w.peak_write_rate() * w.record_bytes() / h.bandwidth();
    let merge_share = merge_hours(checks) / 24.0;
    let demand = write_share + merge_share;
    let bw_headroom = if demand > 0.0 { 1.0 / demand } else { f64::MAX };
    let fsyncs = match c.sync_strategy {
        SyncStrategy::None => 0.0,
        SyncStrategy::Interval(ms) => 1000.0 / ms as f64,
        SyncStrategy::Always if c.group_commit => 0.0,
        SyncStrategy::Always => w.peak_write_rate(),
    };
    let fsync_headroom = if fsyncs > 0.0 {
        h.fsyncs_per_sec() / fsyncs
    } else {
        f64::MAX
    };
    let headroom = bw_headroom.min(fsync_headroom);
    let mut value: u8 = match headroom {
        x if x >= 10.0 => 5,
        x if x >= 4.0 => 4,
        x if x >= 2.0 => 3,
        x if x >= 1.0 => 2,
        _ => 1,
    };
    let group_commit_cost = c.sync_strategy == SyncStrategy::Always && c.group_commit;
    if group_commit_cost {
        value = value.saturating_sub(1).max(1);
    }
    let headroom_text = if headroom >= 1000.0 {
        "≥1000×".to_string()
    } else {
        format!("{headroom:.1}×")
    };
    Score {
        value,
        why: format!(
            "peak writes use {} and merges {} of {}/s; fsyncs {} of {}; headroom {headroom_text}{}",
            fmt_pct(write_share),
            fmt_pct(merge_share),
            fmt_bytes(h.bandwidth()),
            fmt_rate(fsyncs),
            fmt_rate(h.fsyncs_per_sec()),
            if group_commit_cost {
                "; −1 for group-commit waits"
            } else {
                ""
            }
        ),
    }
}

/// Durability: `always` 5; `interval:N` 4 up to 100 ms, 3 up to 1 s, else 2;
/// `none` 1.
fn durability(inputs: &Inputs) -> Score {
    let c = &inputs.config;
    let value = match c.sync_strategy {
        SyncStrategy::Always => 5,
        SyncStrategy::Interval(ms) if ms <= 100 => 4,
        SyncStrategy::Interval(ms) if ms <= 1000 => 3,
        SyncStrategy::Interval(_) => 2,
        SyncStrategy::None => 1,
    };
    let window = c
        .sync_strategy
        .loss_window_ms(inputs.hardware.dirty_expire_secs);
    let why = if window == 0.0 {
        format!(
            "sync {} loses nothing acknowledged on a crash",
            c.sync_strategy
        )
    } else {
        format!(
            "sync {} loses ≤ {} of acknowledged writes on a crash",
            c.sync_strategy,
            fmt_secs(window / 1000.0)
        )
    };
    Score { value, why }
}

/// Complexity: 1, plus one for each thing to operate beyond a single store:
/// several vnodes to route between, a merge window to schedule, group commit
/// to batch writes for, and hint files switched off (slow restarts to plan for).
fn complexity(inputs: &Inputs) -> Score {
    let c = &inputs.config;
    let mut parts = Vec::new();
    if c.vnodes > 1 {
        parts.push(format!("{} vnodes", c.vnodes));
    }
    if matches!(c.merge_window, MergeWindow::Hours { .. }) {
        parts.push(format!("merge window {}", c.merge_window));
    }
    if c.group_commit {
        parts.push("group commit".to_string());
    }
    if !c.hint_files {
        parts.push("no hint files".to_string());
    }
    let value = (1 + parts.len()).min(5) as u8;
    Score {
        value,
        why: if parts.is_empty() {
            "one store, merges any time, hint files on".into()
        } else {
            format!("1 + {}", parts.join(" + "))
        },
    }
}

/// All three scores.
pub fn scores(inputs: &Inputs, checks: &[Check]) -> Scores {
    Scores {
        throughput: throughput(inputs, checks),
        durability: durability(inputs),
        complexity: complexity(inputs),
    }
}

/// Warnings that belong to no single check: the read SLO against one disk
/// read, the two keydir models disagreeing, more vnodes than the maximum.
pub fn cross_warnings(inputs: &Inputs, checks: &[Check]) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(slo) = inputs.workload.read_p99_ms {
        let ms = read_ms(inputs);
        if ms > slo {
            out.push(format!(
                "an uncached read takes {ms:.2} ms (one seek + value at disk bandwidth) > p99 SLO \
                 {slo} ms: only page-cache hits meet it"
            ));
        }
    }
    for check in checks {
        if let Details::KeydirRam(k) = &check.details {
            if k.other.verdict > k.deciding.verdict {
                out.push(format!(
                    "under {} model the keydir would {} ({}/vnode)",
                    k.other.model.label(),
                    k.other.verdict,
                    fmt_bytes(k.other.per_vnode_bytes)
                ));
            }
        }
    }
    let c = &inputs.config;
    if c.vnodes > c.max_vnodes {
        out.push(format!(
            "vnodes {} exceed max_vnodes {}",
            c.vnodes, c.max_vnodes
        ));
    }
    out
}

/// The final recommendation from the checks and the overall verdict.
pub fn recommend(inputs: &Inputs, checks: &[Check], verdict: Verdict) -> Recommendation {
    let rejects: Vec<&Check> = checks
        .iter()
        .filter(|c| c.verdict == Verdict::Reject)
        .collect();
    if !rejects.is_empty() {
        let mut reasons: Vec<String> = rejects.iter().map(|c| c.summary.clone()).collect();
        reasons.push("no Bitcask knob moves these ceilings".into());
        let lessons: Vec<&str> = rejects.iter().filter_map(|c| c.lesson.as_deref()).collect();
        return Recommendation {
            engine: Engine::Lsm,
            headline: format!("use an LSM (LevelDB/RocksDB) — {}", lessons.join(", ")),
            reasons,
            changes: Vec::new(),
            after_changes: None,
        };
    }
    let w = &inputs.workload;
    let mut reasons = Vec::new();
    for check in checks {
        if let Details::KeydirRam(k) = &check.details {
            let vnodes = if check.verdict == Verdict::Fits {
                u64::from(k.vnodes)
            } else {
                k.deciding.min_vnodes
            };
            reasons.push(format!(
                "every key fits in RAM: {}/vnode at {vnodes} vnodes within the {} budget",
                fmt_bytes(k.deciding.total_bytes / vnodes as f64),
                fmt_bytes(k.budget_per_vnode_bytes as f64)
            ));
        }
    }
    reasons.push(format!(
        "point lookups only: one seek per get, about {:.2} ms uncached",
        read_ms(inputs)
    ));
    reasons.push(format!(
        "writes are sequential appends: {}/s at peak",
        fmt_bytes(w.peak_write_rate() * w.record_bytes())
    ));
    let mut changes: Vec<KnobChange> = Vec::new();
    for change in checks.iter().flat_map(|c| c.changes.iter()) {
        if !changes.iter().any(|k| k.knob == change.knob) {
            changes.push(change.clone());
        }
    }
    let headline = match verdict {
        Verdict::Fits => "Bitcask — the configuration fits".to_string(),
        _ if changes.is_empty() => "Bitcask — with the warnings below in mind".to_string(),
        _ => "Bitcask — with the knob changes below".to_string(),
    };
    Recommendation {
        engine: Engine::Bitcask,
        headline,
        reasons,
        after_changes: after_changes(inputs, &changes),
        changes,
    }
}

/// The worst verdict: the checks', and warn if there are cross-cutting warnings.
pub fn overall(checks: &[Check], cross: &[String]) -> Verdict {
    let worst = checks
        .iter()
        .map(|c| c.verdict)
        .max()
        .unwrap_or(Verdict::Fits);
    if cross.is_empty() {
        worst
    } else {
        worst.max(Verdict::Warn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::{preset, run_all};

    #[test]
    fn photo_blobs_score_like_the_scene_card() {
        let inputs = preset("photo-blobs", |_| {});
        let s = scores(&inputs, &run_all(&inputs));
        // Scene 08 shows throughput 3/5 and durability 3/5.
        assert_eq!(s.throughput.value, 3, "{}", s.throughput.why);
        assert_eq!(s.durability.value, 3);
        assert!((1..=5).contains(&s.complexity.value));
    }

    #[test]
    fn ceilings_recommend_an_lsm_and_no_knobs() {
        for name in ["event-tags", "idempotency-keys"] {
            let inputs = preset(name, |_| {});
            let checks = run_all(&inputs);
            let r = recommend(&inputs, &checks, Verdict::Reject);
            assert_eq!(r.engine, Engine::Lsm, "{name}");
            assert!(r.headline.contains("LevelDB/RocksDB"));
            assert!(r.changes.is_empty());
        }
    }

    #[test]
    fn photo_blobs_recommend_bitcask() {
        let inputs = preset("photo-blobs", |_| {});
        let checks = run_all(&inputs);
        let r = recommend(&inputs, &checks, Verdict::Fits);
        assert_eq!(r.engine, Engine::Bitcask);
    }

    #[test]
    fn suggested_changes_are_replanned() {
        let inputs = preset("photo-blobs", |i| {
            i.config.vnodes = 1;
            i.config.sync_strategy = SyncStrategy::None;
        });
        let checks = run_all(&inputs);
        let r = recommend(&inputs, &checks, Verdict::Warn);
        let knobs: Vec<&str> = r.changes.iter().map(|c| c.knob.as_str()).collect();
        assert!(
            knobs.contains(&"vnodes") && knobs.contains(&"sync_strategy"),
            "{knobs:?}"
        );
        let changed = apply_changes(&inputs, &r.changes).unwrap();
        assert_eq!(changed.config.vnodes, 3);
        assert_eq!(changed.config.sync_strategy, SyncStrategy::Interval(1000));
        let after = r.after_changes.unwrap();
        assert!(after.verdict <= Verdict::Warn);
        let unknown = KnobChange {
            knob: "warp_drive".into(),
            from: "off".into(),
            to: "on".into(),
            why: String::new(),
        };
        assert!(apply_changes(&inputs, &[unknown]).is_none());
    }

    #[test]
    fn a_read_slo_below_one_seek_warns() {
        let inputs = preset("photo-blobs", |i| i.workload.read_p99_ms = Some(0.1));
        let cross = cross_warnings(&inputs, &run_all(&inputs));
        assert!(cross.iter().any(|w| w.contains("p99")));
        assert_eq!(overall(&[], &cross), Verdict::Warn);
    }
}
