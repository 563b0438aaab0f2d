//! Sync strategy against the crash-loss window (bitcask-06a).
//!
//! `none` loses whatever the kernel has not yet written back (bounded by
//! `dirty_expire_centisecs`, 30 s by default); `interval:N` loses at most N ms;
//! `always` loses nothing acknowledged but pays an fsync per write, or, with
//! group commit, an fsync per batch plus the wait for it. That is the
//! trilemma: throughput, durability and latency, pick two.

use super::{Check, CheckId, Details, KnobChange, Verdict};
use crate::config::SyncStrategy;
use crate::model::Inputs;
use crate::units::{fmt_bytes, fmt_num, fmt_secs};
use serde::{Deserialize, Serialize};

/// The scene's lesson id.
pub const LESSON: &str = "bitcask-06a";

/// The numbers behind the sync verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncCheck {
    /// The configured strategy.
    pub strategy: SyncStrategy,
    /// Acknowledged writes a crash can lose under it, ms.
    pub loss_window_ms: f64,
    /// The workload's loss SLO, ms.
    pub max_loss_ms: Option<f64>,
    /// The cheapest strategy that meets the SLO, if there is an SLO.
    pub cheapest_meeting: Option<SyncStrategy>,
    /// Writes per second at peak.
    pub peak_writes_per_sec: f64,
    /// fsyncs per second the configured strategy issues at peak.
    pub fsyncs_per_sec: f64,
    /// fsyncs per second the disk completes back to back.
    pub disk_fsyncs_per_sec: f64,
    /// fsyncs per second `always` needs without group commit (one per write).
    pub always_fsyncs_per_sec: f64,
    /// fsyncs per second `always` issues with group commit (at most the disk's rate).
    pub always_group_fsyncs_per_sec: f64,
    /// Writes sharing one fsync under `always` with group commit.
    pub always_group_batch: f64,
    /// Bytes per second written at peak.
    pub peak_write_bytes_per_sec: f64,
    /// The disk's sequential bandwidth, bytes per second.
    pub disk_bandwidth: u64,
}

/// The cheapest strategy whose loss window is within `max_loss_ms`: `none` if
/// writeback is soon enough, else the longest interval the disk can sustain,
/// else `always`.
pub fn cheapest_meeting(max_loss_ms: f64, dirty_expire_secs: f64, fsync_ms: f64) -> SyncStrategy {
    if SyncStrategy::None.loss_window_ms(dirty_expire_secs) <= max_loss_ms {
        return SyncStrategy::None;
    }
    // An interval shorter than one fsync cannot be kept: fsyncs would queue.
    let interval = max_loss_ms.floor();
    if interval >= 1.0 && interval >= fsync_ms {
        SyncStrategy::Interval(interval as u64)
    } else {
        SyncStrategy::Always
    }
}

/// Runs the sync-strategy check.
pub fn check(inputs: &Inputs) -> Check {
    let w = &inputs.workload;
    let c = &inputs.config;
    let h = &inputs.hardware;
    let strategy = c.sync_strategy;
    let window = strategy.loss_window_ms(h.dirty_expire_secs);
    let peak = w.peak_write_rate();
    let disk = h.fsyncs_per_sec();
    let fsyncs = match strategy {
        SyncStrategy::None => 0.0,
        SyncStrategy::Interval(ms) => 1000.0 / ms as f64,
        SyncStrategy::Always if c.group_commit => peak.min(disk),
        SyncStrategy::Always => peak,
    };
    let group_fsyncs = peak.min(disk);
    let batch = if group_fsyncs > 0.0 {
        peak / group_fsyncs
    } else {
        1.0
    };
    let cheapest = w
        .max_loss_ms
        .map(|slo| cheapest_meeting(slo, h.dirty_expire_secs, h.fsync_latency_ms));
    let peak_bytes = peak * w.record_bytes();
    let details = SyncCheck {
        strategy,
        loss_window_ms: window,
        max_loss_ms: w.max_loss_ms,
        cheapest_meeting: cheapest,
        peak_writes_per_sec: peak,
        fsyncs_per_sec: fsyncs,
        disk_fsyncs_per_sec: disk,
        always_fsyncs_per_sec: peak,
        always_group_fsyncs_per_sec: group_fsyncs,
        always_group_batch: batch,
        peak_write_bytes_per_sec: peak_bytes,
        disk_bandwidth: h.disk_bandwidth.0,
    };

    let head = if window == 0.0 {
        format!("sync {strategy} loses nothing acknowledged on crash")
    } else {
        format!(
            "sync {strategy} loses ≤ {} on crash",
            fmt_secs(window / 1000.0)
        )
    };
    let mut changes = Vec::new();
    let (mut verdict, summary) = match (w.max_loss_ms, cheapest) {
        (Some(slo), Some(best)) if window > slo => {
            changes.push(KnobChange {
                knob: "sync_strategy".into(),
                from: strategy.to_string(),
                to: best.to_string(),
                why: format!(
                    "loses ≤ {} ≤ {} SLO",
                    fmt_secs(best.loss_window_ms(h.dirty_expire_secs) / 1000.0),
                    fmt_secs(slo / 1000.0)
                ),
            });
            (
                Verdict::Warn,
                format!(
                    "{head} — violates {} loss SLO: use {best} ({LESSON})",
                    fmt_secs(slo / 1000.0)
                ),
            )
        }
        (Some(slo), _) => (
            Verdict::Fits,
            format!(
                "{head} — meets {} loss SLO ({LESSON})",
                fmt_secs(slo / 1000.0)
            ),
        ),
        (None, _) => (
            Verdict::Fits,
            format!("{head} — no loss SLO given ({LESSON})"),
        ),
    };

    let mut notes = vec![format!(
        "trilemma (throughput · durability · latency, pick two): none is fastest and loses ≤ {}; \
         interval:N keeps throughput and latency, loses ≤ N ms; always loses nothing acknowledged \
         but costs throughput, or latency with group commit",
        fmt_secs(h.dirty_expire_secs)
    )];
    notes.push(format!(
        "always at peak: {} fsyncs/s without group commit vs the disk's {}/s ({} ms each); \
         with group commit {} fsyncs/s of {:.1} writes, each write waiting {}–{} ms",
        fmt_num(peak),
        fmt_num(disk),
        h.fsync_latency_ms,
        fmt_num(group_fsyncs),
        batch,
        h.fsync_latency_ms,
        2.0 * h.fsync_latency_ms
    ));
    // The configured strategy must also be sustainable, not only durable enough.
    let chosen = changes
        .first()
        .map_or(strategy, |_| cheapest.unwrap_or(strategy));
    let chosen_fsyncs = match chosen {
        SyncStrategy::Always if !c.group_commit => peak,
        SyncStrategy::Interval(ms) => 1000.0 / ms as f64,
        _ => 0.0,
    };
    if chosen_fsyncs > disk {
        verdict = Verdict::Warn;
        if chosen == SyncStrategy::Always {
            notes.push(format!(
                "always without group commit needs {} fsyncs/s, more than the disk's {}/s",
                fmt_num(peak),
                fmt_num(disk)
            ));
            changes.push(KnobChange {
                knob: "group_commit".into(),
                from: c.group_commit.to_string(),
                to: "true".into(),
                why: format!(
                    "{:.1} writes share each of {} fsyncs/s instead of {}",
                    batch,
                    fmt_num(group_fsyncs),
                    fmt_num(peak)
                ),
            });
        } else {
            notes.push(format!(
                "{chosen} asks for {} fsyncs/s, more than the disk's {}/s: fsyncs queue and the window grows",
                fmt_num(chosen_fsyncs),
                fmt_num(disk)
            ));
        }
    }
    if peak_bytes > h.bandwidth() {
        verdict = Verdict::Warn;
        notes.push(format!(
            "peak writes need {}/s but the disk writes {}/s: no sync strategy helps; \
             put vnodes on more disks or smooth the bursts",
            fmt_bytes(peak_bytes),
            fmt_bytes(h.bandwidth())
        ));
    }
    let mut check = Check::new(
        CheckId::SyncStrategy,
        Some(LESSON),
        verdict,
        summary,
        Details::SyncStrategy(details),
    );
    check.notes = notes;
    check.changes = changes;
    check
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::preset;

    fn with_sync(sync: &str, loss_ms: f64) -> Check {
        check(&preset("photo-blobs", |i| {
            i.config.sync_strategy = sync.parse().unwrap();
            i.workload.max_loss_ms = Some(loss_ms);
        }))
    }

    #[test]
    fn one_second_loss_window_with_sync_none_is_a_violation() {
        let c = with_sync("none", 1000.0);
        assert_eq!(c.verdict, Verdict::Warn);
        assert!(c.summary.contains("violates"), "{}", c.summary);
        assert_eq!(c.changes[0].knob, "sync_strategy");
        assert_eq!(c.changes[0].to, "interval:1000");
    }

    #[test]
    fn one_second_loss_window_is_met_by_interval_and_always() {
        for sync in ["interval:1000", "always"] {
            let c = with_sync(sync, 1000.0);
            assert_eq!(c.verdict, Verdict::Fits, "{sync}: {}", c.summary);
            assert!(c.summary.contains("meets"));
        }
    }

    #[test]
    fn cheapest_strategy_follows_the_slo() {
        assert_eq!(cheapest_meeting(60_000.0, 30.0, 2.0), SyncStrategy::None);
        assert_eq!(
            cheapest_meeting(1000.0, 30.0, 2.0),
            SyncStrategy::Interval(1000)
        );
        assert_eq!(cheapest_meeting(1.0, 30.0, 2.0), SyncStrategy::Always);
        assert_eq!(cheapest_meeting(0.0, 30.0, 2.0), SyncStrategy::Always);
    }

    #[test]
    fn always_without_group_commit_beyond_the_disk_suggests_group_commit() {
        let c = check(&preset("idempotency-keys", |i| {
            i.config.group_commit = false
        }));
        assert_eq!(c.verdict, Verdict::Warn);
        assert!(c.changes.iter().any(|k| k.knob == "group_commit"));
        let c = check(&preset("idempotency-keys", |_| {}));
        assert_eq!(c.verdict, Verdict::Fits, "{}", c.summary);
    }

    #[test]
    fn no_slo_fits_and_still_names_the_trilemma() {
        let c = check(&preset("photo-blobs", |i| i.workload.max_loss_ms = None));
        assert_eq!(c.verdict, Verdict::Fits);
        assert!(c.notes[0].contains("trilemma"));
    }
}
