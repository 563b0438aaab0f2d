//! `check`: verify every CRC without changing anything.

use crate::exit;
use ccbitcask_engine::{HintState, Result};
use std::path::Path;

/// Prints every file's verdict; exits 6 if any record is corrupt.
pub fn run(db_dir: &Path) -> Result<i32> {
    let report = ccbitcask_engine::check(db_dir)?;
    let mut records = 0;
    for f in &report.files {
        records += f.records;
        let hint = match f.hint {
            HintState::Missing => "no hint",
            HintState::Valid => "hint ok",
            HintState::Invalid => "hint INVALID (open will scan)",
        };
        if f.damage.is_empty() {
            println!("file {:>10}: {} records ok, {hint}", f.id, f.records);
        }
        for d in &f.damage {
            let kind = if f.newest_log && d.at_tail {
                "torn tail (open will truncate it)"
            } else {
                "CORRUPT"
            };
            println!(
                "file {:>10}: {kind} at offset {}: {} ({} good records)",
                f.id, d.offset, d.reason, f.records
            );
        }
    }
    let bad = report.corruption().count();
    println!(
        "{} files, {records} records verified, {bad} damaged ranges",
        report.files.len()
    );
    Ok(if report.is_clean() {
        exit::OK
    } else {
        exit::CORRUPT
    })
}
