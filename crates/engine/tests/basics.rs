//! The basic contract: put, get, delete, overwrite, reopen, rollover, batches, TTL.

use ccbitcask_engine::{Bitcask, Error, SyncPolicy, WriteBatch, MAX_KEY_SIZE};

fn small(dir: &std::path::Path) -> Bitcask {
    Bitcask::builder(dir)
        .max_file_size(256)
        .sync(SyncPolicy::None)
        .open()
        .unwrap()
}

#[test]
fn set_get_delete_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = small(dir.path());
        db.put(b"Key", b"Value").unwrap();
        assert_eq!(db.get(b"Key").unwrap().as_deref(), Some(&b"Value"[..]));
        for i in 0..100u32 {
            db.put(format!("k{i}").as_bytes(), format!("v{i}").as_bytes())
                .unwrap();
        }
        db.put(b"k7", b"seven").unwrap();
        assert!(db.delete(b"k8").unwrap());
        assert!(!db.delete(b"k8").unwrap());
        assert!(!db.delete(b"never").unwrap());
        assert!(db.stats().files.len() > 10, "tiny files must roll over");
        db.close().unwrap();
    }
    let db = small(dir.path());
    assert_eq!(db.get(b"Key").unwrap().as_deref(), Some(&b"Value"[..]));
    assert_eq!(db.get(b"k7").unwrap().as_deref(), Some(&b"seven"[..]));
    assert_eq!(db.get(b"k8").unwrap(), None);
    assert_eq!(db.get(b"k9").unwrap().as_deref(), Some(&b"v9"[..]));
    assert_eq!(db.len(), 100);
}

#[test]
fn merge_keeps_live_data_and_deletes() {
    let dir = tempfile::tempdir().unwrap();
    let db = small(dir.path());
    for round in 0..5u32 {
        for i in 0..50u32 {
            db.put(
                format!("k{i}").as_bytes(),
                format!("v{i}-{round}").as_bytes(),
            )
            .unwrap();
        }
    }
    for i in 0..10u32 {
        db.delete(format!("k{i}").as_bytes()).unwrap();
    }
    let before = db.stats();
    let report = db.merge().unwrap();
    assert!(report.reclaimed_bytes > 0, "{report:?}");
    let after = db.stats();
    assert!(after.disk_bytes < before.disk_bytes);
    for i in 0..50u32 {
        let got = db.get(format!("k{i}").as_bytes()).unwrap();
        if i < 10 {
            assert_eq!(got, None);
        } else {
            assert_eq!(got.as_deref(), Some(format!("v{i}-4").as_bytes()));
        }
    }
    drop(db);
    let db = small(dir.path());
    assert_eq!(db.len(), 40);
    assert_eq!(db.get(b"k3").unwrap(), None);
    assert_eq!(db.get(b"k33").unwrap().as_deref(), Some(&b"v33-4"[..]));
    assert!(db.open_report().files_from_hints > 0);
}

#[test]
fn batch_and_ttl() {
    let dir = tempfile::tempdir().unwrap();
    let db = small(dir.path());
    let mut b = WriteBatch::new();
    b.put("a", "1").put("b", "2").delete("a");
    db.write_batch(&b).unwrap();
    assert_eq!(db.get(b"a").unwrap(), None);
    assert_eq!(db.get(b"b").unwrap().as_deref(), Some(&b"2"[..]));
    let past = db.now_ms() - 1;
    db.put_with_expiry(b"old", b"x", Some(past)).unwrap();
    assert_eq!(db.get(b"old").unwrap(), None);
    db.put_with_expiry(b"new", b"y", Some(db.now_ms() + 60_000))
        .unwrap();
    assert!(db.exists(b"new"));
}

#[test]
fn oversized_key_is_a_typed_error_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = small(dir.path());
    let before = db.stats().disk_bytes;
    let key = vec![1u8; MAX_KEY_SIZE + 1];
    assert!(matches!(db.put(&key, b"v"), Err(Error::KeyTooLarge { .. })));
    assert_eq!(db.stats().disk_bytes, before);
    db.put(&vec![2u8; MAX_KEY_SIZE], b"max").unwrap();
}

#[test]
fn second_writer_is_refused_with_pid_and_read_only_works() {
    let dir = tempfile::tempdir().unwrap();
    let db = small(dir.path());
    db.put(b"k", b"v").unwrap();
    match Bitcask::open(dir.path()) {
        Err(Error::Locked { pid, .. }) => assert_eq!(pid, Some(std::process::id())),
        other => panic!("expected Locked, got {other:?}"),
    }
    let ro = Bitcask::builder(dir.path()).read_only(true).open().unwrap();
    assert_eq!(ro.get(b"k").unwrap().as_deref(), Some(&b"v"[..]));
    assert!(matches!(ro.put(b"x", b"y"), Err(Error::ReadOnly)));
    drop(db);
    Bitcask::open(dir.path()).unwrap();
}

#[test]
fn explicit_merge_reclaims_garbage_in_the_active_file() {
    // With the default 2 GiB files everything sits in the active file; `merge()` seals it
    // first so the garbage is reclaimed anyway.
    let dir = tempfile::tempdir().unwrap();
    let db = Bitcask::open(dir.path()).unwrap();
    for round in 0..5u32 {
        for i in 0..200u32 {
            db.put(
                format!("k{i}").as_bytes(),
                format!("{round}").repeat(100).as_bytes(),
            )
            .unwrap();
        }
    }
    let before = db.stats();
    assert_eq!(before.files.len(), 1);
    let report = db.merge().unwrap();
    let after = db.stats();
    assert!(report.reclaimed_bytes > 0, "{report:?}");
    // `stats` and the report count the same bytes (data and hint files). The merge
    // sealed the active file first, so its "before" also counts the new, empty one.
    let fresh = after.files.iter().find(|f| f.active).unwrap();
    assert_eq!(fresh.live_keys + fresh.dead_keys, 0);
    assert_eq!(
        before.disk_bytes + before.hint_bytes + fresh.bytes,
        report.bytes_before
    );
    assert_eq!(after.disk_bytes + after.hint_bytes, report.bytes_after);
    assert!(after.hint_bytes > 0, "merge output has hint files");
    assert_eq!(
        after.hint_bytes,
        after.files.iter().map(|f| f.hint_bytes).sum::<u64>()
    );
    assert_eq!(after.dead_bytes, 0);
    assert!(
        after.disk_bytes * 4 < before.disk_bytes,
        "{} vs {}",
        after.disk_bytes,
        before.disk_bytes
    );
    assert_eq!(
        db.get(b"k7").unwrap().as_deref(),
        Some("4".repeat(100).as_bytes())
    );
    drop(db);
    let db = Bitcask::open(dir.path()).unwrap();
    assert_eq!(db.len(), 200);
    assert_eq!(
        db.get(b"k199").unwrap().as_deref(),
        Some("4".repeat(100).as_bytes())
    );
}
