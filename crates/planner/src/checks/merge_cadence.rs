//! Merge cadence: how fast dead bytes grow, when the triggers fire, how long a
//! merge takes at disk bandwidth, the disk headroom it needs, and whether the
//! merge window gives merges enough hours to keep up.
//!
//! Scene 08 numbers no lesson for this check, so it carries none. The model
//! assumes dead bytes spread evenly over each vnode's files (overwrites and
//! deletes hit keys at random) and that a merge reads every selected file and
//! rewrites its live records. Under that model a merge triggered at dead
//! fraction `f` reads `1/(1-f)` and writes `1` per live byte, so each dead byte
//! reclaimed costs `1 + 2(1-f)/f` bytes of merge I/O: the merge duty cycle is
//! that amplification × the dead-byte rate ÷ the disk bandwidth.

use super::{Check, CheckId, Details, KnobChange, Verdict};
use crate::config::MergeWindow;
use crate::model::Inputs;
use crate::units::{fmt_bytes, fmt_secs};
use serde::{Deserialize, Serialize};

/// Which trigger fires first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MergeTrigger {
    /// `frag_merge_trigger` (percent dead per file).
    Fragmentation,
    /// `dead_bytes_merge_trigger` (dead bytes per file).
    DeadBytes,
}

/// The numbers behind the merge-cadence verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MergeCadence {
    /// Bytes per second that become dead across the store (one replica).
    pub dead_bytes_per_sec: f64,
    /// Live record bytes per vnode.
    pub live_bytes_per_vnode: f64,
    /// Per-file dead fraction at which the first trigger fires (0..=1).
    pub trigger_dead_fraction: f64,
    /// Which trigger that is.
    pub trigger: MergeTrigger,
    /// Dead bytes per vnode when it fires; `None` if it never can.
    pub dead_bytes_at_trigger_per_vnode: Option<f64>,
    /// Seconds between merges of one vnode; `None` without churn or trigger.
    pub secs_between_merges: Option<f64>,
    /// Seconds one vnode's merge takes at disk bandwidth.
    pub merge_secs_per_vnode: Option<f64>,
    /// Bytes of merge I/O per dead byte reclaimed.
    pub io_per_dead_byte: Option<f64>,
    /// Hours per day the disk spends merging, all vnodes, one at a time.
    pub merge_hours_per_day: f64,
    /// Hours per day the merge window allows.
    pub window_hours_per_day: f64,
    /// Disk needed at the trigger: every vnode's live + dead bytes, plus one
    /// vnode's merge output in flight. One replica.
    pub peak_disk_bytes: Option<f64>,
    /// Free disk given in the hardware, if any.
    pub disk_free: Option<u64>,
    /// Whether the merge thresholds select the files when the trigger fires.
    pub thresholds_select_files: bool,
}

/// The per-file dead fraction at which the first trigger fires, and which one.
pub(crate) fn trigger_fraction(c: &crate::config::Config) -> (f64, MergeTrigger) {
    let by_frag = c.frag_merge_trigger / 100.0;
    let by_bytes = c.dead_bytes_merge_trigger.0 as f64 / c.max_file_size.0 as f64;
    if by_bytes < by_frag {
        (by_bytes, MergeTrigger::DeadBytes)
    } else {
        (by_frag, MergeTrigger::Fragmentation)
    }
}

/// Data bytes on disk ÷ live bytes just before a merge fires: `1/(1-f)` with
/// churn and a trigger that can fire, else 1.
pub(crate) fn data_to_live_at_trigger(inputs: &Inputs) -> f64 {
    let (f, _) = trigger_fraction(&inputs.config);
    if inputs.workload.dead_bytes_rate() > 0.0 && f > 0.0 && f < 1.0 {
        1.0 / (1.0 - f)
    } else {
        1.0
    }
}

/// The smallest window, in whole hours, that fits `needed` hours of merging,
/// starting where the current window starts.
fn suggest_window(current: MergeWindow, needed: f64) -> MergeWindow {
    let hours = needed.ceil().max(1.0);
    if hours >= 24.0 {
        return MergeWindow::Always;
    }
    let start = match current {
        MergeWindow::Hours { start, .. } => start,
        _ => 0,
    };
    // `hours` is 1..=23 here, so the cast is exact and the end differs from the start.
    let end = (u32::from(start) + hours as u32) % 24;
    MergeWindow::Hours {
        start,
        end: end as u8,
    }
}

/// Runs the merge-cadence check.
pub fn check(inputs: &Inputs) -> Check {
    let w = &inputs.workload;
    let c = &inputs.config;
    let h = &inputs.hardware;
    let vnodes = f64::from(c.vnodes);
    let bw = h.bandwidth();
    let file = c.max_file_size.0 as f64;
    let live_v = w.live_bytes() / vnodes;
    let dead_rate = w.dead_bytes_rate();
    let (f, trigger) = trigger_fraction(c);
    // f is in (0, 1) when a trigger can fire; 0 or ≥ 1 leave nothing sensible to model.
    let fires = f > 0.0 && f < 1.0;
    let dead_at = fires.then(|| live_v * f / (1.0 - f));
    let amplification = fires.then(|| 1.0 + 2.0 * (1.0 - f) / f);
    let merge_secs = dead_at.map(|d| (2.0 * live_v + d) / bw);
    let secs_between = match dead_at {
        Some(d) if dead_rate > 0.0 && d > 0.0 => Some(d / (dead_rate / vnodes)),
        _ => None,
    };
    let merge_hours = amplification.map_or(0.0, |a| 24.0 * dead_rate * a / bw);
    let window_hours = c.merge_window.hours_per_day();
    let peak_disk = dead_at.map(|d| vnodes * (live_v + d) + live_v);
    let selected = f * 100.0 >= c.frag_threshold || f * file >= c.dead_bytes_threshold.0 as f64;
    let details = MergeCadence {
        dead_bytes_per_sec: dead_rate,
        live_bytes_per_vnode: live_v,
        trigger_dead_fraction: f,
        trigger,
        dead_bytes_at_trigger_per_vnode: dead_at,
        secs_between_merges: secs_between,
        merge_secs_per_vnode: merge_secs,
        io_per_dead_byte: amplification,
        merge_hours_per_day: merge_hours,
        window_hours_per_day: window_hours,
        peak_disk_bytes: peak_disk,
        disk_free: h.disk_free.map(|b| b.0),
        thresholds_select_files: selected,
    };

    let mut verdict = Verdict::Fits;
    let mut notes = Vec::new();
    let mut changes = Vec::new();
    let trigger_name = match trigger {
        MergeTrigger::Fragmentation => "frag_merge_trigger",
        MergeTrigger::DeadBytes => "dead_bytes_merge_trigger",
    };
    let per_day = fmt_bytes(dead_rate * 86400.0);
    let summary = if dead_rate <= 0.0 {
        "merge cadence: no overwrites, deletes or TTL — nothing to reclaim".to_string()
    } else if !fires {
        verdict = Verdict::Warn;
        changes.push(KnobChange {
            knob: "frag_merge_trigger".into(),
            from: c.frag_merge_trigger.to_string(),
            to: "60".into(),
            why: "a trigger below 100 % lets merges start".into(),
        });
        format!("merge cadence: {per_day}/day turns dead but no trigger can fire — disk grows without bound")
    } else if window_hours <= 0.0 {
        verdict = Verdict::Warn;
        let to = suggest_window(c.merge_window, merge_hours);
        changes.push(KnobChange {
            knob: "merge_window".into(),
            from: c.merge_window.to_string(),
            to: to.to_string(),
            why: format!("merges need {:.1} h/day", merge_hours),
        });
        format!("merge cadence: {per_day}/day turns dead and merge_window is never — disk grows without bound")
    } else {
        let cadence = format!(
            "{per_day}/day turns dead; merges fire at {:.0} % dead ({trigger_name}) every {} per vnode, \
             {} each; {:.1} h/day of merging in a {:.0} h/day window",
            f * 100.0,
            secs_between.map_or("—".to_string(), fmt_secs),
            merge_secs.map_or("—".to_string(), fmt_secs),
            merge_hours,
            window_hours
        );
        if merge_hours > window_hours {
            verdict = Verdict::Warn;
            let to = suggest_window(c.merge_window, merge_hours);
            if to != c.merge_window {
                changes.push(KnobChange {
                    knob: "merge_window".into(),
                    from: c.merge_window.to_string(),
                    to: to.to_string(),
                    why: format!("merges need {:.1} h/day", merge_hours),
                });
            }
            if merge_hours > 24.0 {
                notes.push(format!(
                    "even merging all day cannot keep up: churn needs {:.1}× this disk's bandwidth; \
                     spread vnodes over more disks or reduce overwrites",
                    merge_hours / 24.0
                ));
            }
            format!("merge cadence: {cadence} — cannot keep up")
        } else {
            format!("merge cadence: {cadence} — keeps up")
        }
    };
    if let (Some(a), true) = (amplification, dead_rate > 0.0) {
        notes.push(format!(
            "each dead byte reclaimed costs {a:.1} bytes of merge I/O at {:.0} % dead per file",
            f * 100.0
        ));
    }
    if let Some(secs) = merge_secs {
        if dead_rate > 0.0 && window_hours > 0.0 && secs / 3600.0 > window_hours {
            notes.push(format!(
                "one vnode's merge ({}) outlasts the {:.0} h window: it must span windows",
                fmt_secs(secs),
                window_hours
            ));
        }
    }
    if dead_rate > 0.0 && fires && !selected {
        verdict = Verdict::Warn;
        notes.push(format!(
            "at the trigger files are {:.0} % dead, below frag_threshold {} % and dead_bytes_threshold {}: \
             merges would select no file",
            f * 100.0,
            c.frag_threshold,
            fmt_bytes(c.dead_bytes_threshold.0 as f64)
        ));
    }
    if let Some(peak) = peak_disk {
        notes.push(format!(
            "disk at the trigger: {} (live {} + dead {} + one vnode's merge output){}",
            fmt_bytes(peak),
            fmt_bytes(live_v * vnodes),
            fmt_bytes(dead_at.unwrap_or(0.0) * vnodes),
            if w.replication_factor > 1 {
                format!(
                    "; {} across RF {}",
                    fmt_bytes(peak * f64::from(w.replication_factor)),
                    w.replication_factor
                )
            } else {
                String::new()
            }
        ));
        if let Some(free) = h.disk_free {
            if peak > free.0 as f64 {
                verdict = Verdict::Warn;
                notes.push(format!(
                    "that is more than the {} free: lower the merge triggers or add disk",
                    fmt_bytes(free.0 as f64)
                ));
            }
        }
    }
    if w.ttl_secs.is_some() {
        notes
            .push("with a TTL every record dies: the whole write stream becomes dead bytes".into());
    }
    let mut check = Check::new(
        CheckId::MergeCadence,
        None,
        verdict,
        summary,
        Details::MergeCadence(details),
    );
    check.notes = notes;
    check.changes = changes;
    check
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::preset;
    use crate::units::ByteSize;

    #[test]
    fn photo_blobs_merge_on_the_dead_bytes_trigger_and_keep_up() {
        let c = check(&preset("photo-blobs", |_| {}));
        let d = details!(c, MergeCadence);
        assert_eq!(d.trigger, MergeTrigger::DeadBytes);
        assert_eq!(d.trigger_dead_fraction, 0.25);
        assert!(d.merge_hours_per_day < d.window_hours_per_day);
        assert_eq!(c.verdict, Verdict::Fits, "{}", c.summary);
        assert!(c.summary.contains("keeps up"));
    }

    #[test]
    fn no_churn_means_nothing_to_merge() {
        let c = check(&preset("photo-blobs", |i| {
            i.workload.overwrite_fraction = 0.0;
            i.workload.delete_fraction = 0.0;
        }));
        assert_eq!(c.verdict, Verdict::Fits);
        assert_eq!(details!(c, MergeCadence).secs_between_merges, None);
    }

    #[test]
    fn a_narrow_window_that_cannot_keep_up_is_widened() {
        let c = check(&preset("photo-blobs", |i| {
            i.workload.overwrite_fraction = 0.9;
            i.workload.delete_fraction = 0.0;
            i.workload.write_rate = 200.0;
            i.config.merge_window = "1-2".parse().unwrap();
        }));
        assert_eq!(c.verdict, Verdict::Warn);
        assert!(c.summary.contains("cannot keep up"));
        assert_eq!(c.changes[0].knob, "merge_window");
    }

    #[test]
    fn never_merging_grows_the_disk() {
        let c = check(&preset("photo-blobs", |i| {
            i.config.merge_window = MergeWindow::Never
        }));
        assert_eq!(c.verdict, Verdict::Warn);
        assert!(c.summary.contains("without bound"));
    }

    #[test]
    fn too_little_free_disk_warns() {
        let c = check(&preset("photo-blobs", |i| {
            i.hardware.disk_free = Some(ByteSize(1_000_000_000_000));
        }));
        assert_eq!(c.verdict, Verdict::Warn);
    }

    #[test]
    fn window_suggestions_keep_the_start_hour() {
        let w = suggest_window("1-2".parse().unwrap(), 4.2);
        assert_eq!(w.to_string(), "1-6");
        assert_eq!(
            suggest_window(MergeWindow::Never, 30.0),
            MergeWindow::Always
        );
        assert_eq!(
            suggest_window("22-23".parse().unwrap(), 3.0).to_string(),
            "22-1"
        );
    }
}
