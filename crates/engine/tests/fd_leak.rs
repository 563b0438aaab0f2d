//! Descriptor leaks: after merges retire files, no descriptor of this process points at
//! a deleted file, and closing the database returns the descriptor count to where it was.
//! One test per binary, so no other test's descriptors interfere.

mod support;

use ccbitcask_engine::{Bitcask, MergeOptions, SyncPolicy};
use std::path::Path;

fn fds() -> Vec<String> {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .map(|p| p.to_string_lossy().into_owned())
        .collect()
}

fn deleted_in(dir: &Path) -> Vec<String> {
    let dir = dir.to_string_lossy().into_owned();
    fds()
        .into_iter()
        .filter(|p| p.starts_with(&dir) && p.ends_with("(deleted)"))
        .collect()
}

#[test]
fn merges_and_close_leak_no_descriptors() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let before = fds().len();
    let db = Bitcask::builder(&dir)
        .max_file_size(512)
        .sync(SyncPolicy::None)
        .merge_options(MergeOptions {
            auto: false,
            ..MergeOptions::default()
        })
        .open()
        .unwrap();
    let mut peak = 0;
    for round in 0..20u32 {
        for i in 0..60u32 {
            db.put(
                format!("k{i}").as_bytes(),
                format!("{round}-{}", "x".repeat(20)).as_bytes(),
            )
            .unwrap();
            // Reads keep files busy while merges retire them.
            let _ = db.get(format!("k{}", (i * 7) % 60).as_bytes()).unwrap();
        }
        let ids: Vec<u32> = db
            .stats()
            .files
            .iter()
            .filter(|f| !f.active)
            .map(|f| f.id)
            .collect();
        if round % 2 == 0 {
            db.merge().unwrap();
        } else {
            db.merge_files(&ids[..ids.len() / 2]).unwrap();
        }
        let leaked = deleted_in(&dir);
        assert!(
            leaked.is_empty(),
            "round {round}: descriptors of deleted files: {leaked:?}"
        );
        let open_files = db.stats().files.len();
        let ours = fds()
            .iter()
            .filter(|p| p.starts_with(&*dir.to_string_lossy()))
            .count();
        // One descriptor per data file plus the lock (hint writers may hold one more
        // for a moment).
        assert!(
            ours <= open_files + 3,
            "round {round}: {ours} descriptors for {open_files} files"
        );
        peak = peak.max(ours);
    }
    drop(db);
    // The background hint writer is joined at close.
    let after = fds().len();
    assert_eq!(
        after, before,
        "descriptors before {before}, after close {after}"
    );
    assert!(deleted_in(&dir).is_empty());
    assert!(peak > 0);
    // Reopening and closing again leaks nothing either.
    let db = Bitcask::open(&dir).unwrap();
    assert_eq!(db.len(), 60);
    drop(db);
    assert_eq!(fds().len(), before);
}
