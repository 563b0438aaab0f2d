//! Readers and writers on many threads with merges running: every key's history is
//! checked for a linearizability property. Each key has one writer, which writes an
//! increasing counter into the value; a `get` that starts after a put of counter `n`
//! completed, or after another `get` returned `n`, must return at least `n`.
//!
//! `CCB_CONCURRENCY_MS=60000` for a long run (default 1500 ms).

mod support;

use ccbitcask_engine::{Bitcask, Error, MergeOptions, SyncPolicy};
use rand::{Rng, SeedableRng};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::env_count;

const KEYS_PER_WRITER: u64 = 16;
const WRITERS: u64 = 3;
const READERS: u64 = 3;

fn key(k: u64) -> Vec<u8> {
    format!("key{k:03}").into_bytes()
}

/// The counter, padded so records vary in size and files roll over often.
fn value(n: u64) -> Vec<u8> {
    let mut v = format!("{n:020}").into_bytes();
    v.extend(std::iter::repeat_n(b'.', (n % 37) as usize));
    v
}

fn counter(v: &[u8]) -> u64 {
    std::str::from_utf8(&v[..20]).unwrap().parse().unwrap()
}

#[test]
fn gets_never_go_back_in_time_while_merges_run() {
    let tmp = tempfile::tempdir().unwrap();
    let open = || {
        Bitcask::builder(tmp.path())
            .max_file_size(2_048)
            .sync(SyncPolicy::None)
            .merge_options(MergeOptions {
                auto: false,
                ..MergeOptions::default()
            })
            .open()
            .unwrap()
    };
    let db = open();
    let keys = KEYS_PER_WRITER * WRITERS;
    // The highest counter known to be visible per key: acknowledged puts and observed
    // gets raise it; a get must never return less than it was when the get started.
    let floor: Arc<Vec<AtomicU64>> = Arc::new((0..keys).map(|_| AtomicU64::new(0)).collect());
    let stop = Arc::new(AtomicBool::new(false));
    let ms = env_count("CCB_CONCURRENCY_MS", 1_500) as u64;
    let puts = Arc::new(AtomicU64::new(0));
    let mut handles = Vec::new();
    for w in 0..WRITERS {
        let (db, floor, stop) = (db.clone(), Arc::clone(&floor), Arc::clone(&stop));
        let puts = Arc::clone(&puts);
        handles.push(std::thread::spawn(move || {
            let mut n = 0u64;
            let mut rng = rand::rngs::StdRng::seed_from_u64(w);
            while !stop.load(SeqCst) {
                n += 1;
                let k = w * KEYS_PER_WRITER + rng.gen_range(0..KEYS_PER_WRITER);
                db.put(&key(k), &value(n)).unwrap();
                floor[k as usize].fetch_max(n, SeqCst);
                puts.fetch_add(1, SeqCst);
            }
            n
        }));
    }
    let mut readers = Vec::new();
    for r in 0..READERS {
        let (db, floor, stop) = (db.clone(), Arc::clone(&floor), Arc::clone(&stop));
        readers.push(std::thread::spawn(move || {
            let mut rng = rand::rngs::StdRng::seed_from_u64(100 + r);
            let mut reads = 0u64;
            while !stop.load(SeqCst) {
                let k = rng.gen_range(0..keys);
                let before = floor[k as usize].load(SeqCst);
                let got = db.get(&key(k)).unwrap();
                let n = got.as_deref().map_or(0, counter);
                assert!(
                    n >= before,
                    "key{k:03}: get returned {n} after {before} was already visible"
                );
                floor[k as usize].fetch_max(n, SeqCst);
                reads += 1;
            }
            reads
        }));
    }
    // Merges of every kind, back to back.
    let started = Instant::now();
    let mut merges = 0u64;
    // Run for the time asked, and on a loaded machine on until enough has happened.
    let busy =
        |merges: u64| merges >= 5 && floor.iter().map(|f| f.load(SeqCst)).sum::<u64>() >= 300;
    while started.elapsed() < Duration::from_millis(ms)
        || (!busy(merges) && started.elapsed() < Duration::from_secs(60))
    {
        let ids: Vec<u32> = db
            .stats()
            .files
            .iter()
            .filter(|f| !f.active)
            .map(|f| f.id)
            .collect();
        let r = match merges % 3 {
            0 => db.merge().map(drop),
            1 => db.merge_files(&ids[..ids.len() / 2]).map(drop),
            _ => db.merge_if_needed().map(drop),
        };
        match r {
            Ok(()) => merges += 1,
            Err(Error::MergeInProgress) => {}
            Err(e) => panic!("merge failed: {e}"),
        }
    }
    stop.store(true, SeqCst);
    let written: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    let reads: u64 = readers.into_iter().map(|h| h.join().unwrap()).sum();
    eprintln!("{written} puts, {reads} gets, {merges} merges");
    assert!(merges >= 5 && reads > 100 && written >= 300);
    // The final values are the last acknowledged ones, before and after a reopen.
    let last: Vec<u64> = floor.iter().map(|f| f.load(SeqCst)).collect();
    for k in 0..keys {
        let got = db.get(&key(k)).unwrap().as_deref().map_or(0, counter);
        assert_eq!(got, last[k as usize], "key{k:03}");
    }
    drop(db);
    let db = open();
    for k in 0..keys {
        let got = db.get(&key(k)).unwrap().as_deref().map_or(0, counter);
        assert_eq!(got, last[k as usize], "key{k:03} after reopen");
    }
}
