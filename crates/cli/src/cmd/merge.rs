//! `merge [--dry-run]`.

use super::human;
use crate::args::EngineOpts;
use crate::{exit, open};
use ccbitcask_engine::Result;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::path::Path;

/// Merges every sealed file, printing before/after; or lists what it would do.
pub fn run(db_dir: &Path, opts: &EngineOpts, dry_run: bool) -> Result<i32> {
    let db = open::writer(db_dir, opts)?;
    let stats = db.stats();
    let sealed: Vec<_> = stats.files.iter().filter(|f| !f.active).collect();
    if dry_run {
        println!(
            "would merge {} sealed files ({}), {} dead:",
            sealed.len(),
            human(sealed.iter().map(|f| f.bytes).sum()),
            human(sealed.iter().map(|f| f.dead_bytes).sum())
        );
        for f in &sealed {
            let why = stats
                .merge_plan
                .files
                .iter()
                .find(|(id, _)| *id == f.id)
                .map(|(_, why)| {
                    why.iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_else(|| "below every threshold (full merge takes it anyway)".into());
            println!(
                "  file {:>10}: {:>10}, {:>5.1}% dead keys, {} dead: {why}",
                f.id,
                human(f.bytes),
                f.fragmentation() * 100.0,
                human(f.dead_bytes)
            );
        }
        if let Some(active) = stats.files.iter().find(|f| f.active && f.dead_bytes > 0) {
            println!(
                "  file {:>10}: {:>10}, {:>5.1}% dead keys, {} dead: active file, sealed first",
                active.id,
                human(active.bytes),
                active.fragmentation() * 100.0,
                human(active.dead_bytes)
            );
        }
        if stats.merge_plan.needed {
            println!("automatic merge: triggered");
        } else {
            println!("automatic merge: not triggered");
        }
        return Ok(exit::OK);
    }
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template(
                "merging {bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar
    });
    let report = db.merge_with_progress(&|done, total| {
        if let Some(bar) = &bar {
            bar.set_length(total);
            bar.set_position(done);
        }
    })?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    // Both lines come from the report, which counts data and hint files the same way
    // before and after (and "before" includes the fresh active file the merge opened
    // when it sealed the old one), so before minus after is what was reclaimed.
    println!(
        "before: {} files, {} (data and hints), {} dead",
        report.files_before,
        human(report.bytes_before),
        human(stats.dead_bytes)
    );
    println!(
        "after:  {} files, {} (data and hints), reclaimed {} in {:.2?} ({} records copied, {} tombstones kept)",
        report.files_after,
        human(report.bytes_after),
        human(report.reclaimed_bytes),
        report.duration,
        report.records_copied,
        report.tombstones_kept
    );
    db.close()?;
    Ok(exit::OK)
}
