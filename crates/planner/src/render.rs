//! The text rendering of a [`Report`]: inputs, one verdict per check with its
//! numbers, trade-offs, warnings, the recommendation and the exit status.
//!
//! Everything printed comes from the report itself (summaries and notes were
//! written by the checks), so the text can never say something the JSON does
//! not.

use crate::checks::Verdict;
use crate::config::Config;
use crate::hardware::Hardware;
use crate::report::Report;
use crate::units::{fmt_bytes, fmt_count, fmt_rate, fmt_secs, fmt_thousands};
use crate::workload::Workload;
use std::fmt::Write as _;

/// Renders the report as text, ending with a newline.
pub fn text(report: &Report) -> String {
    let mut out = String::new();
    // `write!` into a String cannot fail; the results are ignored on purpose.
    let _ = writeln!(out, "ccbitcask plan · {}", report.name);
    for source in &report.sources {
        let _ = writeln!(out, "  source    {source}");
    }
    inputs(&mut out, report);
    let _ = writeln!(out, "\nchecks, in dependency order");
    for check in &report.checks {
        let _ = writeln!(
            out,
            "  {:<6}  {}",
            verdict_tag(check.verdict),
            check.summary
        );
        for note in &check.notes {
            let _ = writeln!(out, "          · {note}");
        }
    }
    let s = &report.scores;
    let _ = writeln!(
        out,
        "\ntrade-offs  throughput {}/5 · durability {}/5 · complexity {}/5",
        s.throughput.value, s.durability.value, s.complexity.value
    );
    for (name, score) in [
        ("throughput", &s.throughput),
        ("durability", &s.durability),
        ("complexity", &s.complexity),
    ] {
        let _ = writeln!(out, "  {name:<10}  {}/5  {}", score.value, score.why);
    }
    let _ = writeln!(out, "\nwarnings");
    if report.warnings.is_empty() {
        let _ = writeln!(out, "  (none)");
    }
    for warning in &report.warnings {
        let _ = writeln!(out, "  ! {warning}");
    }
    let r = &report.recommendation;
    let _ = writeln!(out, "\nrecommendation: {}", r.headline);
    for reason in &r.reasons {
        let _ = writeln!(out, "  why     {reason}");
    }
    for change in &r.changes {
        let _ = writeln!(
            out,
            "  change  {} {} → {} ({})",
            change.knob, change.from, change.to, change.why
        );
    }
    if let Some(after) = &r.after_changes {
        let _ = writeln!(
            out,
            "  after   these changes the plan {}",
            after_text(after.verdict)
        );
        for line in &after.remaining {
            let _ = writeln!(out, "          still: {line}");
        }
    }
    let _ = writeln!(
        out,
        "\nexit status {} ({})",
        report.exit_code,
        exit_meaning(report.verdict)
    );
    out
}

/// The tag printed before each check's summary.
fn verdict_tag(v: Verdict) -> &'static str {
    match v {
        Verdict::Fits => "fits",
        Verdict::Warn => "WARN",
        Verdict::Reject => "REJECT",
    }
}

fn exit_meaning(v: Verdict) -> &'static str {
    match v {
        Verdict::Fits => "fits",
        Verdict::Warn => "warn: Bitcask with changes",
        Verdict::Reject => "reject: use an LSM",
    }
}

fn after_text(v: Verdict) -> &'static str {
    match v {
        Verdict::Fits => "fits",
        Verdict::Warn => "still warns",
        Verdict::Reject => "rejects",
    }
}

fn opt_ms(v: Option<f64>) -> String {
    v.map_or("none".to_string(), |ms| fmt_secs(ms / 1000.0))
}

fn inputs(out: &mut String, report: &Report) {
    let w: &Workload = &report.inputs.workload;
    let c: &Config = &report.inputs.config;
    let h: &Hardware = &report.inputs.hardware;
    let _ = writeln!(
        out,
        "  workload  {} keys × ({} B key + {} value) · writes {} ×{} burst · reads {} ×{} burst · RF {}",
        fmt_count(w.key_count()),
        w.avg_key_bytes,
        fmt_bytes(w.avg_value_bytes.0 as f64),
        fmt_rate(w.write_rate),
        w.write_burst,
        fmt_rate(w.read_rate),
        w.read_burst,
        w.replication_factor
    );
    let _ = writeln!(
        out,
        "            overwrites {:.0} % · deletes {:.0} % · TTL {} · delete-then-recreate {} · range/prefix {}",
        w.overwrite_fraction * 100.0,
        w.delete_fraction * 100.0,
        w.ttl_secs.map_or("none".to_string(), |s| fmt_secs(s as f64)),
        yes_no(w.delete_then_recreate),
        yes_no(w.range_or_prefix)
    );
    let _ = writeln!(
        out,
        "  SLOs      read p99 {} · crash loss ≤ {} · restart ≤ {}",
        w.read_p99_ms
            .map_or("none".to_string(), |ms| format!("{ms} ms")),
        opt_ms(w.max_loss_ms),
        w.restart_slo_secs.map_or("none".to_string(), fmt_secs)
    );
    let _ = writeln!(
        out,
        "  config    {} vnodes (max {}) · keydir budget {}/vnode ({} model) · max_file_size {} · sync_strategy {}{}",
        c.vnodes,
        c.max_vnodes,
        fmt_bytes(c.ram_budget_per_vnode.0 as f64),
        c.keydir_model,
        fmt_bytes(c.max_file_size.0 as f64),
        c.sync_strategy,
        if c.group_commit { " + group commit" } else { "" }
    );
    let _ = writeln!(
        out,
        "            merge window {} · triggers {} % / {} · thresholds {} % / {} · hints {} · delete_mode {}",
        c.merge_window,
        c.frag_merge_trigger,
        fmt_bytes(c.dead_bytes_merge_trigger.0 as f64),
        c.frag_threshold,
        fmt_bytes(c.dead_bytes_threshold.0 as f64),
        if c.hint_files { "on" } else { "off" },
        c.delete_mode
    );
    let _ = writeln!(
        out,
        "  hardware  disk {}/s · fsync {} ms · read {} ms · open files {} · writeback {} · free disk {}",
        fmt_bytes(h.bandwidth()),
        h.fsync_latency_ms,
        h.read_latency_ms,
        fmt_thousands(h.open_files_limit),
        fmt_secs(h.dirty_expire_secs),
        h.disk_free
            .map_or("unknown".to_string(), |b| fmt_bytes(b.0 as f64))
    );
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

#[cfg(test)]
mod tests {
    use crate::presets;
    use crate::report::plan;

    #[test]
    fn text_has_every_section_and_the_scene_line() {
        let text = plan(&presets::get("photo-blobs").unwrap())
            .unwrap()
            .to_text();
        for section in [
            "checks, in dependency order",
            "trade-offs",
            "warnings",
            "recommendation:",
            "exit status",
        ] {
            assert!(text.contains(section), "missing {section}:\n{text}");
        }
        assert!(text
            .contains("keydir RAM 730 MB total · 182 MB/vnode — fits 256 MB budget (bitcask-04)"));
        assert!(text.ends_with('\n'));
    }
}
