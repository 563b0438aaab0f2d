//! Hint files: restart time, and files per vnode against the open-files limit.
//!
//! On open, Bitcask rebuilds the keydir. With hint files it reads one small
//! entry per record (header + key); without them it reads every data byte.
//! Either way the active file has no hint and is scanned whole. Restart time
//! is estimated as bytes read ÷ sequential bandwidth, all vnodes sharing one
//! disk, with the data at its largest (just before a merge fires). The open
//! files needed are every vnode's data files at that point, plus one merge
//! output file per vnode.
//!
//! Scene 08 numbers no lesson for this check, so it carries none.

use super::merge_cadence::data_to_live_at_trigger;
use super::{Check, CheckId, Details, KnobChange, Verdict};
use crate::model::{Inputs, ENGINE_MAX_FILE_SIZE, HINT_ENTRY_HEADER_BYTES};
use crate::units::{fmt_bytes, fmt_secs, fmt_thousands};
use serde::{Deserialize, Serialize};

/// The numbers behind the hint-files verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HintFiles {
    /// Whether hint files are on.
    pub hint_files: bool,
    /// Bytes of hint entries across all vnodes at the merge trigger.
    pub hint_bytes: f64,
    /// Bytes of data files across all vnodes at the merge trigger.
    pub data_bytes: f64,
    /// Bytes of the active files, scanned whole on open.
    pub active_bytes: f64,
    /// Restart with hints: (hints + active files) ÷ bandwidth, seconds.
    pub restart_with_hints_secs: f64,
    /// Restart without hints: data ÷ bandwidth, seconds.
    pub restart_without_hints_secs: f64,
    /// The workload's restart SLO, seconds.
    pub restart_slo_secs: Option<f64>,
    /// Data files per vnode holding the live data.
    pub files_per_vnode: u64,
    /// Data files per vnode just before a merge fires.
    pub files_per_vnode_at_trigger: u64,
    /// Open files the store needs at that point.
    pub open_files_needed: u64,
    /// The process's open-files limit.
    pub open_files_limit: u64,
}

/// Runs the hint-files check.
pub fn check(inputs: &Inputs) -> Check {
    let w = &inputs.workload;
    let c = &inputs.config;
    let h = &inputs.hardware;
    let vnodes = f64::from(c.vnodes);
    let bw = h.bandwidth();
    let file = c.max_file_size.0 as f64;
    let live = w.live_bytes();
    let Restart { data, active, hint } = restart_bytes(inputs, c.max_file_size.0);
    let with_hints = (hint + active) / bw;
    let without = data / bw;
    // Saturating casts: absurd inputs give huge counts, never a panic.
    let files_live = (live / vnodes / file).ceil() as u64;
    let files_peak = (data / vnodes / file).ceil() as u64;
    let needed = u64::from(c.vnodes).saturating_mul(files_peak.saturating_add(1));
    let limit = h.open_files_limit;
    let details = HintFiles {
        hint_files: c.hint_files,
        hint_bytes: hint,
        data_bytes: data,
        active_bytes: active,
        restart_with_hints_secs: with_hints,
        restart_without_hints_secs: without,
        restart_slo_secs: w.restart_slo_secs,
        files_per_vnode: files_live,
        files_per_vnode_at_trigger: files_peak,
        open_files_needed: needed,
        open_files_limit: limit,
    };

    let mut verdict = Verdict::Fits;
    let mut notes = Vec::new();
    let mut changes = Vec::new();
    let times = format!(
        "restart {} with hints vs {} without",
        fmt_secs(with_hints),
        fmt_secs(without)
    );
    let restart = match w.restart_slo_secs {
        None => format!(
            "{times} (hints {}) — no restart SLO given",
            on_off(c.hint_files)
        ),
        Some(slo) => {
            let slo_text = fmt_secs(slo);
            let actual = if c.hint_files { with_hints } else { without };
            if actual <= slo {
                format!(
                    "{times} — hints {} meets {slo_text} SLO",
                    on_off(c.hint_files)
                )
            } else if !c.hint_files && with_hints <= slo {
                verdict = Verdict::Warn;
                changes.push(KnobChange {
                    knob: "hint_files".into(),
                    from: "false".into(),
                    to: "true".into(),
                    why: format!("restart {} ≤ {slo_text} SLO", fmt_secs(with_hints)),
                });
                format!("{times} — hints off misses {slo_text} SLO: turn hint files on")
            } else if let Some(size) = smaller_files_for(inputs, slo) {
                // The active files dominate: smaller files shorten the unhinted scan.
                verdict = Verdict::Warn;
                if !c.hint_files {
                    changes.push(KnobChange {
                        knob: "hint_files".into(),
                        from: "false".into(),
                        to: "true".into(),
                        why: "the keydir then loads from hints".into(),
                    });
                }
                changes.push(KnobChange {
                    knob: "max_file_size".into(),
                    from: c.max_file_size.0.to_string(),
                    to: size.to_string(),
                    why: format!(
                        "with hints, restart scans at most {} of active files",
                        fmt_bytes(size as f64 * vnodes)
                    ),
                });
                format!("{times} — misses {slo_text} SLO: smaller data files shorten the active-file scan")
            } else {
                verdict = Verdict::Warn;
                notes.push(
                    "no Bitcask knob shortens this: the keydir is rebuilt on every open; \
                     fewer keys per node (more nodes) or an LSM, which opens without rebuilding an index"
                        .into(),
                );
                format!("{times} — misses {slo_text} SLO even with hints")
            }
        }
    };
    notes.push(format!(
        "reads {} of hints + {} of active files (assumed full) vs {} of data, at {}/s",
        fmt_bytes(hint),
        fmt_bytes(active),
        fmt_bytes(data),
        fmt_bytes(bw)
    ));
    let files = format!(
        "{} data file{}/vnode ({} at merge trigger) → {} open files {} limit {}",
        fmt_thousands(files_live),
        if files_live == 1 { "" } else { "s" },
        fmt_thousands(files_peak),
        fmt_thousands(needed),
        if needed <= limit { "≤" } else { ">" },
        fmt_thousands(limit)
    );
    if needed > limit {
        verdict = Verdict::Warn;
        changes.push(KnobChange {
            knob: "open_files_limit".into(),
            from: limit.to_string(),
            to: needed.to_string(),
            why: format!(
                "{} vnodes × ({} data files + 1 merge output)",
                c.vnodes,
                fmt_thousands(files_peak)
            ),
        });
        // Bigger files are the other way out, if the engine can address them.
        let per_vnode = limit / u64::from(c.vnodes);
        if per_vnode >= 2 {
            let size = (data / vnodes / (per_vnode - 1) as f64).ceil();
            if size <= ENGINE_MAX_FILE_SIZE as f64 {
                notes.push(format!(
                    "or raise max_file_size to {} to stay under {}",
                    fmt_bytes(size),
                    fmt_thousands(limit)
                ));
            }
        }
    }
    let mut check = Check::new(
        CheckId::HintFiles,
        None,
        verdict,
        format!("hint files: {restart}; {files}"),
        Details::HintFiles(details),
    );
    check.notes = notes;
    check.changes = changes;
    check
}

/// Bytes a restart with hints reads, at the merge trigger.
struct Restart {
    /// All data files.
    data: f64,
    /// The active files: no hint yet, scanned whole (assumed full).
    active: f64,
    /// Hint entries of the sealed files, dead records included.
    hint: f64,
}

/// What a restart reads with `max_file_size = file`. The file size matters
/// twice: it bounds the active files, and it moves the dead-bytes trigger.
fn restart_bytes(inputs: &Inputs, file: u64) -> Restart {
    let w = &inputs.workload;
    let mut sized = inputs.clone();
    sized.config.max_file_size.0 = file;
    let vnodes = f64::from(inputs.config.vnodes);
    let growth = data_to_live_at_trigger(&sized);
    let data = w.live_bytes() * growth;
    let active = vnodes * (file as f64).min(data / vnodes);
    let sealed_share = if data > 0.0 {
        (data - active) / data
    } else {
        0.0
    };
    // One entry per record, live or dead, so hints grow with the data.
    let records = w.key_count() * growth;
    let hint = records * (HINT_ENTRY_HEADER_BYTES + w.avg_key_bytes) * sealed_share;
    Restart { data, active, hint }
}

/// The largest `max_file_size` (whole MB, at least 1 MB, smaller than the
/// current one) under which a restart with hints meets `slo`; `None` when
/// even 1 MB files cannot. Sizes are tried from the current one down in 10 %
/// steps, because the restart time is not monotonic in the size: the
/// dead-bytes trigger moves with it.
fn smaller_files_for(inputs: &Inputs, slo: f64) -> Option<u64> {
    let bw = inputs.hardware.bandwidth();
    let mut size = inputs.config.max_file_size.0 as f64 * 0.9;
    while size >= 1e6 {
        let mb = (size / 1e6).floor() as u64 * 1_000_000;
        let r = restart_bytes(inputs, mb);
        if (r.hint + r.active) / bw <= slo {
            return Some(mb);
        }
        size *= 0.9;
    }
    None
}

fn on_off(on: bool) -> &'static str {
    if on {
        "on"
    } else {
        "off"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::preset;

    #[test]
    fn photo_blobs_have_the_scene_file_count() {
        let c = check(&preset("photo-blobs", |_| {}));
        let d = details!(c, HintFiles);
        // Scene 08: "vnode 1 (~2,442 files)", partitions = 9768 = 4 × 2442.
        assert_eq!(d.files_per_vnode, 2442);
        assert!(d.restart_with_hints_secs < d.restart_without_hints_secs);
        assert!(
            c.summary.contains("2,442 data files/vnode"),
            "{}",
            c.summary
        );
    }

    #[test]
    fn too_many_files_for_the_limit_suggest_raising_it() {
        let c = check(&preset("photo-blobs", |i| {
            i.hardware.open_files_limit = 1024
        }));
        assert_eq!(c.verdict, Verdict::Warn);
        let change = c
            .changes
            .iter()
            .find(|k| k.knob == "open_files_limit")
            .unwrap();
        assert_eq!(
            change.to,
            details!(c, HintFiles).open_files_needed.to_string()
        );
    }

    #[test]
    fn hints_off_that_miss_the_slo_suggest_hints() {
        let c = check(&preset("photo-blobs", |i| {
            i.config.hint_files = false;
            i.hardware.open_files_limit = 1 << 20;
        }));
        assert_eq!(c.verdict, Verdict::Warn);
        assert!(c.changes.iter().any(|k| k.knob == "hint_files"));
    }

    #[test]
    fn a_restart_dominated_by_active_files_suggests_smaller_files() {
        // 7.4 GB of data on 8 vnodes: every byte sits in an unhinted active file.
        let tight = |i: &mut Inputs| i.workload.restart_slo_secs = Some(10.0);
        let c = check(&preset("event-tags", tight));
        assert_eq!(c.verdict, Verdict::Warn);
        let change = c
            .changes
            .iter()
            .find(|k| k.knob == "max_file_size")
            .expect("a smaller max_file_size");
        let mut fixed = preset("event-tags", tight);
        fixed.config.max_file_size.0 = change.to.parse().unwrap();
        let d = check(&fixed);
        assert!(
            details!(d, HintFiles).restart_with_hints_secs <= 10.0,
            "{}",
            d.summary
        );
    }

    #[test]
    fn a_slo_beyond_even_hints_says_so() {
        let c = check(&preset("photo-blobs", |i| {
            i.workload.restart_slo_secs = Some(0.001)
        }));
        assert_eq!(c.verdict, Verdict::Warn);
        assert!(c.summary.contains("even with hints"));
    }
}
