//! `stats [--json]`.

use super::human;
use crate::{exit, open};
use ccbitcask_engine::{Result, Stats};
use serde_json::json;
use std::path::Path;

/// Prints keys, per-file live/dead bytes and fragmentation, keydir memory, merge state.
pub fn run(db_dir: &Path, as_json: bool) -> Result<i32> {
    let db = open::reader(db_dir)?;
    let s = db.stats();
    if as_json {
        println!("{}", to_json(&s));
    } else {
        print_text(&s);
    }
    Ok(exit::OK)
}

fn to_json(s: &Stats) -> serde_json::Value {
    json!({
        "keys": s.keys,
        "keys_with_expiry": s.keys_with_expiry,
        "key_bytes": s.key_bytes,
        "value_bytes": s.value_bytes,
        "keydir_bytes": s.keydir_bytes,
        "keydir_bytes_per_key": s.keydir_bytes_per_key,
        "disk_bytes": s.disk_bytes,
        "hint_bytes": s.hint_bytes,
        "dead_bytes": s.dead_bytes,
        "sync_policy": s.sync_policy.to_string(),
        "max_file_size": s.max_file_size,
        "poisoned": s.poisoned,
        "files": s.files.iter().map(|f| json!({
            "id": f.id,
            "bytes": f.bytes,
            "live_keys": f.live_keys,
            "dead_keys": f.dead_keys,
            "live_bytes": f.live_bytes,
            "dead_bytes": f.dead_bytes,
            "fragmentation": f.fragmentation(),
            "has_hint": f.has_hint,
            "hint_bytes": f.hint_bytes,
            "active": f.active,
        })).collect::<Vec<_>>(),
        "merge": {
            "needed": s.merge_plan.needed,
            "running": s.merge_running,
            "completed_since_open": s.merges_completed,
            "triggers": s.merge_plan.triggers.iter()
                .map(|(id, why)| json!({"file": id, "reason": why.to_string()}))
                .collect::<Vec<_>>(),
            "candidates": s.merge_plan.files.iter()
                .map(|(id, why)| json!({
                    "file": id,
                    "reasons": why.iter().map(ToString::to_string).collect::<Vec<_>>(),
                }))
                .collect::<Vec<_>>(),
        },
    })
}

fn print_text(s: &Stats) {
    let avg_key = if s.keys == 0 {
        0.0
    } else {
        s.key_bytes as f64 / s.keys as f64
    };
    println!(
        "keys:            {} ({} with TTL)",
        s.keys, s.keys_with_expiry
    );
    println!(
        "keydir:          {} ({:.1} bytes/key, of which {avg_key:.1} key bytes)",
        human(s.keydir_bytes),
        s.keydir_bytes_per_key
    );
    println!(
        "disk:            {} in {} files, {} dead, plus {} of hint files",
        human(s.disk_bytes),
        s.files.len(),
        human(s.dead_bytes),
        human(s.hint_bytes)
    );
    println!(
        "live data:       {} keys + {} values",
        human(s.key_bytes),
        human(s.value_bytes)
    );
    println!("sync policy:     {}", s.sync_policy);
    println!("max file size:   {}", human(s.max_file_size));
    println!();
    println!(
        "{:>10}  {:>10}  {:>9}  {:>9}  {:>10}  {:>6}  {:>4}",
        "file", "bytes", "live keys", "dead keys", "dead bytes", "frag", "hint"
    );
    for f in &s.files {
        println!(
            "{:>10}  {:>10}  {:>9}  {:>9}  {:>10}  {:>5.1}%  {:>4}{}",
            f.id,
            human(f.bytes),
            f.live_keys,
            f.dead_keys,
            human(f.dead_bytes),
            f.fragmentation() * 100.0,
            if f.has_hint { "yes" } else { "no" },
            if f.active { "  (active)" } else { "" }
        );
    }
    println!();
    let plan = &s.merge_plan;
    if plan.needed {
        println!(
            "merge:           needed ({} files would be merged)",
            plan.files.len()
        );
        for (id, why) in &plan.triggers {
            println!("  trigger: file {id}: {why}");
        }
    } else {
        println!("merge:           not needed (no file crosses a trigger)");
    }
}
