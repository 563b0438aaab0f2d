//! Torn tails: a crash in the middle of an append leaves part of a record (or of a batch)
//! at the end of the active file. Opening must cut exactly that part, keep everything
//! before it, report it, and leave a file that later appends extend cleanly.

mod support;

use ccbitcask_engine::{check, Bitcask, MergeOptions, SyncPolicy, WriteBatch};
use std::collections::BTreeMap;
use std::path::Path;
use support::{copy_dir, dump};

fn open(dir: &Path) -> Bitcask {
    Bitcask::builder(dir)
        .max_file_size(1 << 20)
        .sync(SyncPolicy::None)
        .merge_options(MergeOptions {
            auto: false,
            ..MergeOptions::default()
        })
        .open()
        .unwrap()
}

/// The active file's id and where its last record ends (the writer preallocates zeros
/// after it, so this is not the file's length until it is closed).
fn active_end(db: &Bitcask) -> (u32, u64) {
    let stats = db.stats();
    let active = stats.files.iter().find(|f| f.active).unwrap();
    (active.id, active.bytes)
}

/// Writes a history, then `last`; returns the state before `last`, the file id and the
/// offsets where `last` starts and ends.
fn build(dir: &Path, last: impl FnOnce(&Bitcask)) -> (BTreeMap<Vec<u8>, Vec<u8>>, u32, u64, u64) {
    let db = open(dir);
    for i in 0..20u32 {
        db.put(format!("key{i}").as_bytes(), format!("old-{i}").as_bytes())
            .unwrap();
    }
    db.delete(b"key3").unwrap();
    let before = dump(&db);
    let (id, start) = active_end(&db);
    last(&db);
    let (id2, end) = active_end(&db);
    assert_eq!(id, id2, "the last write must land in the same file");
    db.close().unwrap();
    (before, id, start, end)
}

/// Cuts a copy of `src` at every offset in `start..end` and checks each reopen.
fn cut_everywhere(src: &Path, before: &BTreeMap<Vec<u8>, Vec<u8>>, id: u32, start: u64, end: u64) {
    assert!(end > start);
    for cut in start..end {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("db");
        copy_dir(src, &dir);
        let path = ccbitcask_engine::fs::data_path(&dir, id);
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(cut)
            .unwrap();
        // Before repair, `check` sees only a torn tail on the newest log file.
        let report = check(&dir).unwrap();
        support::assert_clean(
            &report,
            &format!("cut at {cut}: check reports corruption for a torn tail"),
        );
        let db = open(&dir);
        let r = db.open_report().clone();
        if cut == start {
            assert_eq!(r.truncated_tail, None, "a clean cut is not a torn tail");
        } else {
            assert_eq!(
                r.truncated_tail,
                Some((id, start, cut - start)),
                "cut at {cut}"
            );
        }
        assert!(
            r.damage.is_empty(),
            "cut at {cut}: torn tail reported as damage: {r:?}"
        );
        assert_eq!(
            &dump(&db),
            before,
            "cut at {cut}: state differs from before the torn write"
        );
        assert_eq!(
            std::fs::metadata(&path).unwrap().len(),
            start,
            "cut at {cut}: not truncated"
        );
        // The repaired file takes new appends that survive another reopen.
        db.put(b"after", b"repair").unwrap();
        db.close().unwrap();
        let db = open(&dir);
        assert_eq!(db.open_report().truncated_tail, None);
        assert_eq!(db.get(b"after").unwrap().as_deref(), Some(&b"repair"[..]));
        let mut want = before.clone();
        want.insert(b"after".to_vec(), b"repair".to_vec());
        assert_eq!(dump(&db), want, "cut at {cut}: after repair and reopen");
        drop(db);
        assert!(check(&dir).unwrap().is_clean());
    }
}

#[test]
fn cut_inside_last_put_at_every_offset() {
    let tmp = tempfile::tempdir().unwrap();
    let (before, id, start, end) = build(tmp.path(), |db| {
        db.put(b"key5", b"a new value for key five").unwrap();
    });
    cut_everywhere(tmp.path(), &before, id, start, end);
}

#[test]
fn cut_inside_last_delete_at_every_offset() {
    let tmp = tempfile::tempdir().unwrap();
    let (before, id, start, end) = build(tmp.path(), |db| {
        assert!(db.delete(b"key7").unwrap());
    });
    assert_eq!(
        before.get(&b"key7"[..]).map(Vec::as_slice),
        Some(&b"old-7"[..])
    );
    cut_everywhere(tmp.path(), &before, id, start, end);
}

#[test]
fn cut_inside_a_batch_drops_the_whole_batch() {
    let tmp = tempfile::tempdir().unwrap();
    let (before, id, start, end) = build(tmp.path(), |db| {
        let mut b = WriteBatch::new();
        b.put("key1", "batch-1")
            .delete("key2")
            .put("brand-new", "batch-new")
            .put("key4", "batch-4");
        db.write_batch(&b).unwrap();
    });
    cut_everywhere(tmp.path(), &before, id, start, end);
}

#[test]
fn cut_inside_batch_after_earlier_batches_keeps_them() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let db = open(dir);
    let mut b = WriteBatch::new();
    b.put("x", "1").put("y", "1");
    db.write_batch(&b).unwrap();
    let mut b = WriteBatch::new();
    b.put("x", "2").delete("y");
    db.write_batch(&b).unwrap();
    let before = dump(&db);
    let (id, start) = active_end(&db);
    let mut b = WriteBatch::new();
    b.put("x", "3").put("y", "3").put("z", "3");
    db.write_batch(&b).unwrap();
    let (_, end) = active_end(&db);
    db.close().unwrap();
    cut_everywhere(dir, &before, id, start, end);
}

/// Regression: a batch whose last record was torn off was reported by `check` (and in
/// `open_report().damage`) as corruption with `at_tail: false`, although it is the torn
/// tail a crash leaves. Found by `cut_inside_a_batch_drops_the_whole_batch`.
#[test]
fn torn_batch_tail_is_not_reported_as_corruption() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let db = open(dir);
    db.put(b"a", b"1").unwrap();
    let (id, start) = active_end(&db);
    let mut b = WriteBatch::new();
    b.put("b", "2").put("c", "3");
    db.write_batch(&b).unwrap();
    let (_, end) = active_end(&db);
    db.close().unwrap();
    let path = ccbitcask_engine::fs::data_path(dir, id);
    let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    f.set_len(end - 1).unwrap();
    assert!(check(dir).unwrap().is_clean());
    let db = open(dir);
    assert_eq!(
        db.open_report().truncated_tail,
        Some((id, start, end - 1 - start))
    );
    assert!(db.open_report().damage.is_empty());
    assert_eq!(db.get(b"b").unwrap(), None);
    assert_eq!(db.get(b"a").unwrap().as_deref(), Some(&b"1"[..]));
}
