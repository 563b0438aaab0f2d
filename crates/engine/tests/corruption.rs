//! Corruption of sealed data files and hint files: bit flips, zeroed ranges, truncation.
//!
//! Whatever the damage: `open` and `get` never panic and never return bytes that were
//! not written as that key's value; keys with no record in a damaged file read exactly
//! as before; `check` names each damaged record by file and offset; and a damaged hint
//! file only costs a scan.
//!
//! `CCB_CORRUPT_CASES=5000` for a long run (default 150).

mod support;

use ccbitcask_engine::format::header::HEADER_LEN;
use ccbitcask_engine::format::record::{decode_header, RECORD_HEADER_LEN};
use ccbitcask_engine::fs::{data_path, hint_path};
use ccbitcask_engine::{check, Bitcask, Error, MergeOptions, SyncPolicy, WriteBatch};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use support::{copy_dir, data_ids, dump, env_count};

fn open(dir: &Path) -> Result<Bitcask, Error> {
    Bitcask::builder(dir)
        .max_file_size(700)
        .sync(SyncPolicy::None)
        .merge_options(MergeOptions {
            auto: false,
            ..MergeOptions::default()
        })
        .open()
}

type History = BTreeMap<Vec<u8>, BTreeSet<Vec<u8>>>;

/// A database with many sealed files (some merged, all with hints) and every value
/// each key ever had.
fn build(dir: &Path) -> (BTreeMap<Vec<u8>, Vec<u8>>, History) {
    let db = open(dir).unwrap();
    let mut history: History = BTreeMap::new();
    let put = |history: &mut History, db: &Bitcask, k: String, v: String| {
        db.put(k.as_bytes(), v.as_bytes()).unwrap();
        history
            .entry(k.into_bytes())
            .or_default()
            .insert(v.into_bytes());
    };
    for round in 0..3u32 {
        for i in 0..40u32 {
            put(
                &mut history,
                &db,
                format!("key{i:02}"),
                format!("value-{i}-{round}-{}", "x".repeat((i % 9) as usize)),
            );
        }
        if round == 1 {
            db.merge().unwrap();
        }
        for i in (round..40).step_by(6) {
            db.delete(format!("key{i:02}").as_bytes()).unwrap();
        }
    }
    let mut b = WriteBatch::new();
    b.put("batch1", "b1").put("batch2", "b2");
    db.write_batch(&b).unwrap();
    history
        .entry(b"batch1".to_vec())
        .or_default()
        .insert(b"b1".to_vec());
    history
        .entry(b"batch2".to_vec())
        .or_default()
        .insert(b"b2".to_vec());
    for i in 0..20u32 {
        put(
            &mut history,
            &db,
            format!("late{i:02}"),
            format!("late-{i}"),
        );
    }
    let state = dump(&db);
    db.close().unwrap();
    (state, history)
}

/// (offset, length, key) of every record of a pristine data file.
fn records(bytes: &[u8]) -> Vec<(usize, usize, Vec<u8>)> {
    let mut out = Vec::new();
    let mut at = HEADER_LEN;
    while at + RECORD_HEADER_LEN <= bytes.len() {
        let (meta, _) = decode_header(&bytes[at..]).unwrap();
        let len = meta.record_len() as usize;
        let key =
            bytes[at + RECORD_HEADER_LEN..at + RECORD_HEADER_LEN + meta.key_len as usize].to_vec();
        out.push((at, len, key));
        at += len;
    }
    out
}

#[derive(Debug, Clone, Copy)]
enum Damage {
    Flip { at: usize, bit: u8 },
    Zero { at: usize, len: usize },
    Truncate { at: usize },
}

fn apply(bytes: &mut Vec<u8>, d: Damage) {
    match d {
        Damage::Flip { at, bit } => bytes[at] ^= 1 << bit,
        Damage::Zero { at, len } => {
            let end = (at + len).min(bytes.len());
            bytes[at..end].fill(0);
        }
        Damage::Truncate { at } => bytes.truncate(at),
    }
}

fn random_damage(rng: &mut StdRng, len: usize) -> Damage {
    match rng.gen_range(0..3) {
        0 => Damage::Flip {
            at: rng.gen_range(0..len),
            bit: rng.gen_range(0..8),
        },
        1 => Damage::Zero {
            at: rng.gen_range(0..len),
            len: rng.gen_range(1..64),
        },
        _ => Damage::Truncate {
            at: rng.gen_range(0..len),
        },
    }
}

/// Checks the promises on a damaged copy. `clean_keys` must read exactly as before.
fn verify(
    dir: &Path,
    state: &BTreeMap<Vec<u8>, Vec<u8>>,
    history: &History,
    clean_keys: &BTreeSet<Vec<u8>>,
    ctx: &str,
) {
    let db = match open(dir) {
        Ok(db) => db,
        // Refusing to open is allowed only as a typed error (never for sealed-file damage
        // in practice, but the promise is "no panic, no wrong bytes").
        Err(e) => panic!("{ctx}: open failed: {e}"),
    };
    for key in history.keys() {
        match db.get(key) {
            Ok(Some(v)) => assert!(
                history[key].contains(v.as_ref()),
                "{ctx}: {} returned bytes never written for it: {:?}",
                String::from_utf8_lossy(key),
                String::from_utf8_lossy(&v)
            ),
            Ok(None) | Err(Error::Corrupt { .. }) => {}
            Err(e) => panic!("{ctx}: unexpected error {e}"),
        }
        if clean_keys.contains(key) {
            assert_eq!(
                db.get(key)
                    .unwrap_or_else(|e| panic!("{ctx}: {}: {e}", String::from_utf8_lossy(key)))
                    .as_deref(),
                state.get(key).map(Vec::as_slice),
                "{ctx}: {} has no record in the damaged file but changed",
                String::from_utf8_lossy(key)
            );
        }
    }
    let _ = db.keys();
    let _ = db.stats();
}

#[test]
fn random_damage_to_sealed_files_never_returns_wrong_bytes() {
    let src = tempfile::tempdir().unwrap();
    let (state, history) = build(src.path());
    let ids = data_ids(src.path());
    let active = *ids.last().unwrap();
    let sealed: Vec<u32> = ids.into_iter().filter(|&id| id != active).collect();
    assert!(sealed.len() > 5);
    let seed = support::seed();
    let mut rng = StdRng::seed_from_u64(seed);
    let cases = env_count("CCB_CORRUPT_CASES", 150);
    let mut reported = 0;
    for case in 0..cases {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("db");
        copy_dir(src.path(), &dir);
        let id = sealed[rng.gen_range(0..sealed.len())];
        let hint = rng.gen_bool(0.3) && hint_path(src.path(), id).exists();
        let path = if hint {
            hint_path(&dir, id)
        } else {
            data_path(&dir, id)
        };
        let pristine = std::fs::read(&path).unwrap();
        let mut bytes = pristine.clone();
        let damages: Vec<Damage> = (0..rng.gen_range(1..4))
            .map(|_| random_damage(&mut rng, bytes.len().max(1)))
            .collect();
        for d in &damages {
            if !bytes.is_empty() {
                let d = match *d {
                    Damage::Flip { at, bit } => Damage::Flip {
                        at: at % bytes.len(),
                        bit,
                    },
                    Damage::Zero { at, len } => Damage::Zero {
                        at: at % bytes.len(),
                        len,
                    },
                    Damage::Truncate { at } => Damage::Truncate {
                        at: at % bytes.len(),
                    },
                };
                apply(&mut bytes, d);
            }
        }
        if bytes == pristine {
            continue;
        }
        std::fs::write(&path, &bytes).unwrap();
        let ctx = format!(
            "seed {seed} case {case}: {} of file {id} (has hint: {}): {damages:?}",
            if hint { "hint" } else { "data" },
            hint_path(src.path(), id).exists()
        );
        // Keys without any record in the damaged data file must be untouched. (A damaged
        // hint file must not change anything at all.)
        let clean: BTreeSet<Vec<u8>> = if hint {
            history.keys().cloned().collect()
        } else {
            let in_file: BTreeSet<Vec<u8>> =
                records(&std::fs::read(data_path(src.path(), id)).unwrap())
                    .into_iter()
                    .map(|(_, _, k)| k)
                    .collect();
            history
                .keys()
                .filter(|k| !in_file.contains(*k))
                .cloned()
                .collect()
        };
        let report = check(&dir).unwrap();
        // A sealed file cut at a record boundary is made only of valid records: only its
        // hint's recorded length can reveal the loss.
        let undetectable = !hint
            && !hint_path(&dir, id).exists()
            && pristine.starts_with(&bytes)
            && (bytes.len() == HEADER_LEN
                || records(&pristine)
                    .iter()
                    .any(|(o, l, _)| o + l == bytes.len()));
        if !hint && !undetectable {
            assert!(!report.is_clean(), "{ctx}: check missed the damage");
            reported += 1;
        } else if hint {
            let f = report.files.iter().find(|f| f.id == id).unwrap();
            assert_eq!(f.hint, ccbitcask_engine::HintState::Invalid, "{ctx}");
            assert!(
                report.is_clean(),
                "{ctx}: a bad hint is not data corruption"
            );
        }
        verify(&dir, &state, &history, &clean, &ctx);
    }
    eprintln!(
        "figures: {cases} damaged copies, {reported} with data-file damage reported by check"
    );
    assert!(reported > 0);
}

#[test]
fn every_single_bit_flip_is_reported_at_its_record() {
    let src = tempfile::tempdir().unwrap();
    let (state, history) = build(src.path());
    let ids = data_ids(src.path());
    let id = ids[ids.len() / 2];
    let pristine = std::fs::read(data_path(src.path(), id)).unwrap();
    let recs = records(&pristine);
    let seed = support::seed();
    let mut rng = StdRng::seed_from_u64(seed);
    // Every byte of one sealed file (step CCB_FLIP_STEP), one random bit each, on a
    // fresh copy each time (an open may write hint files).
    let step = env_count("CCB_FLIP_STEP", 3);
    for at in (0..pristine.len()).step_by(step) {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("db");
        copy_dir(src.path(), &dir);
        let _ = std::fs::remove_file(hint_path(&dir, id));
        let mut bytes = pristine.clone();
        let bit = rng.gen_range(0..8);
        bytes[at] ^= 1 << bit;
        std::fs::write(data_path(&dir, id), &bytes).unwrap();
        let ctx = format!("seed {seed}: flip bit {bit} of byte {at} in file {id}");
        let report = check(&dir).unwrap();
        let file = report.files.iter().find(|f| f.id == id).unwrap();
        let want = if at < HEADER_LEN {
            0
        } else {
            recs.iter()
                .find(|(o, l, _)| (*o..o + l).contains(&at))
                .unwrap()
                .0 as u64
        };
        assert!(
            file.damage.iter().any(|d| d.offset == want),
            "{ctx}: expected damage at {want}, got {:?}",
            file.damage
        );
        if at >= HEADER_LEN {
            // Only the damaged record's key may change (to an older version, or gone).
            let damaged: Vec<u8> = recs
                .iter()
                .find(|(o, l, _)| (*o..o + l).contains(&at))
                .map(|(_, _, k)| k.clone())
                .unwrap();
            let clean: BTreeSet<Vec<u8>> = history
                .keys()
                .filter(|k| k.as_slice() != damaged.as_slice())
                .cloned()
                .collect();
            verify(
                &dir,
                &state,
                &history,
                &clean,
                &format!("{ctx} (record of {})", String::from_utf8_lossy(&damaged)),
            );
        } else {
            verify(&dir, &state, &history, &BTreeSet::new(), &ctx);
        }
    }
}

#[test]
fn rot_under_an_open_database_is_an_error_never_wrong_bytes() {
    let src = tempfile::tempdir().unwrap();
    let (_state, history) = build(src.path());
    let db = open(src.path()).unwrap();
    let seed = support::seed();
    let mut rng = StdRng::seed_from_u64(seed);
    let mut errors = 0;
    for id in data_ids(src.path()) {
        let path = data_path(src.path(), id);
        let mut bytes = std::fs::read(&path).unwrap();
        for _ in 0..5 {
            let at = rng.gen_range(HEADER_LEN..bytes.len());
            bytes[at] ^= 1 << rng.gen_range(0..8);
        }
        // Rewrite in place (same inode, so the open handles see it).
        use std::os::unix::fs::FileExt;
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .write_all_at(&bytes, 0)
            .unwrap();
    }
    for key in history.keys() {
        match db.get(key) {
            Ok(Some(v)) => assert!(
                history[key].contains(v.as_ref()),
                "seed {seed}: wrong bytes for {key:?}"
            ),
            Ok(None) => {}
            Err(Error::Corrupt { file_id, .. }) => {
                assert!(file_id > 0);
                errors += 1;
            }
            Err(e) => panic!("seed {seed}: {e}"),
        }
    }
    assert!(errors > 0, "seed {seed}: no rot detected");
}

fn sealed_with_hint(dir: &Path) -> u32 {
    let ids = data_ids(dir);
    *ids[..ids.len() - 1]
        .iter()
        .rev()
        .find(|&&id| hint_path(dir, id).exists())
        .unwrap()
}

/// Regression: a bit flip in the version field of a sealed file's header was read as
/// "format version N, which this build cannot read" and the whole database refused to
/// open. The header CRC is now checked first: it is damage, reported at offset 0, and
/// the file's CRC-checked records are still served. Found by
/// `random_damage_to_sealed_files_never_returns_wrong_bytes`.
#[test]
fn regression_bit_flip_in_header_version_refused_to_open() {
    let src = tempfile::tempdir().unwrap();
    let (state, history) = build(src.path());
    let id = data_ids(src.path())[2];
    let path = data_path(src.path(), id);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[5] ^= 0x02;
    std::fs::write(&path, &bytes).unwrap();
    let _ = std::fs::remove_file(hint_path(src.path(), id));
    let report = check(src.path()).unwrap();
    let f = report.files.iter().find(|f| f.id == id).unwrap();
    assert!(f.damage.iter().any(|d| d.offset == 0), "{f:?}");
    let all: BTreeSet<Vec<u8>> = history.keys().cloned().collect();
    verify(src.path(), &state, &history, &all, "version byte flipped");
}

/// Regression: a sealed data file cut at a record boundary (a lost end) was accepted
/// silently by `check` and by open, although its hint file recorded the longer
/// length. Found by `random_damage_to_sealed_files_never_returns_wrong_bytes`.
#[test]
fn regression_sealed_file_truncated_at_record_boundary_went_unreported() {
    let src = tempfile::tempdir().unwrap();
    build(src.path());
    let id = sealed_with_hint(src.path());
    let path = data_path(src.path(), id);
    let bytes = std::fs::read(&path).unwrap();
    let recs = records(&bytes);
    let (o, _, _) = recs[recs.len() / 2];
    std::fs::write(&path, &bytes[..o]).unwrap();
    let report = check(src.path()).unwrap();
    assert!(
        !report.is_clean(),
        "{:?}",
        report.files.iter().find(|f| f.id == id)
    );
    let db = open(src.path()).unwrap();
    assert!(
        db.open_report()
            .damage
            .iter()
            .any(|(i, d)| *i == id && d.offset == o as u64),
        "{:?}",
        db.open_report()
    );
}

/// Regression: reads take every keydir location whose 7-bit hash tag matches and let
/// the record's own key decide; when one of them was damaged, its error was returned
/// for every key sharing the tag, making intact keys unreadable. Found by
/// `every_single_bit_flip_is_reported_at_its_record`.
#[test]
fn regression_damaged_record_made_tag_colliding_keys_unreadable() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let db = Bitcask::builder(dir).max_file_size(1 << 20).open().unwrap();
    let n = 4_000u32;
    for i in 0..n {
        db.put(format!("key{i}").as_bytes(), format!("value{i}").as_bytes())
            .unwrap();
    }
    db.close().unwrap();
    let db = open(dir).unwrap();
    // Rot the value of every 7th record under the open database.
    let path = data_path(dir, data_ids(dir)[0]);
    let mut bytes = std::fs::read(&path).unwrap();
    let recs = records(&bytes);
    let mut rotten = BTreeSet::new();
    for (o, l, k) in recs.iter().step_by(7) {
        bytes[o + l - 1] ^= 0x40;
        rotten.insert(k.clone());
    }
    use std::os::unix::fs::FileExt;
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .write_all_at(&bytes, 0)
        .unwrap();
    for i in 0..n {
        let k = format!("key{i}").into_bytes();
        let got = db.get(&k);
        if rotten.contains(&k) {
            assert!(matches!(got, Err(Error::Corrupt { .. })), "key{i}: {got:?}");
        } else {
            assert_eq!(
                got.unwrap_or_else(|e| panic!("intact key{i} unreadable: {e}"))
                    .as_deref(),
                Some(format!("value{i}").as_bytes())
            );
        }
    }
}

/// Regression: the background writer of missing hint files also wrote one for a file
/// found damaged at open, built from what survived; every later open then loaded it and
/// no longer reported the damage (and a truncated file's recorded length was lost).
/// Found by `every_single_bit_flip_is_reported_at_its_record`.
#[test]
fn regression_hint_written_for_damaged_file_hid_the_damage() {
    let src = tempfile::tempdir().unwrap();
    build(src.path());
    let id = data_ids(src.path())[3];
    let path = data_path(src.path(), id);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[HEADER_LEN + 3] ^= 1;
    std::fs::write(&path, &bytes).unwrap();
    let _ = std::fs::remove_file(hint_path(src.path(), id));
    for round in 0..2 {
        let db = open(src.path()).unwrap();
        assert!(
            db.open_report().damage.iter().any(|(i, _)| *i == id),
            "open {round} did not report the damage: {:?}",
            db.open_report()
        );
        // Give the background hint writer time to run.
        std::thread::sleep(std::time::Duration::from_millis(300));
        db.close().unwrap();
    }
    assert!(!hint_path(src.path(), id).exists());
}
