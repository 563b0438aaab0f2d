//! Simulated power loss: each sync policy keeps exactly its promise.
//!
//! `SimFs` keeps, per file, the bytes as of the last `sync_data` and, per directory, the
//! names as of the last `sync_dir`; a power loss boots from only that. Optionally a
//! random prefix of the bytes written since the last fsync survives too (the OS had
//! written part of them back), which produces torn records and torn batches.
//!
//! - `always`: nothing acknowledged is lost, with concurrent writers sharing fsyncs.
//! - `interval:MS`: only writes acknowledged within the last window can be lost.
//! - `none`: anything since the last fsync may be lost, but what survives is a prefix
//!   of the history: no half batch, no resurrected key, and it opens cleanly.

mod support;

use ccbitcask_engine::{check_with, SyncPolicy, WriteBatch};
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::{boot, diff, dump, env_count, fresh, open_tiny, sim_dir, ManualClock, SimFs};

#[test]
fn always_loses_nothing_acknowledged_with_concurrent_writers() {
    let rounds = env_count("CCB_POWER_ROUNDS", 4);
    let mut losses = 0;
    for round in 0..rounds {
        let (sim, db) = fresh(300, SyncPolicy::Always);
        let threads = 4u64;
        let acked: Arc<Vec<AtomicU64>> =
            Arc::new((0..threads).map(|_| AtomicU64::new(0)).collect());
        let stop = Arc::new(AtomicBool::new(false));
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let db = db.clone();
                let acked = Arc::clone(&acked);
                let stop = Arc::clone(&stop);
                std::thread::spawn(move || {
                    let mut n = 0u64;
                    while !stop.load(SeqCst) {
                        let k = format!("t{t}-{n}");
                        if n % 10 == 9 {
                            // A batch: this key and a marker, together or not at all.
                            let mut b = WriteBatch::new();
                            b.put(k.clone(), n.to_le_bytes())
                                .put(format!("{k}-pair"), b"pair");
                            db.write_batch(&b).unwrap();
                        } else {
                            db.put(k.as_bytes(), &n.to_le_bytes()).unwrap();
                        }
                        n += 1;
                        acked[t as usize].store(n, SeqCst);
                    }
                })
            })
            .collect();
        let mut images = Vec::new();
        for _ in 0..8 {
            std::thread::sleep(Duration::from_millis(15));
            // Everything acknowledged before the cut must be in the image.
            let before: Vec<u64> = acked.iter().map(|a| a.load(SeqCst)).collect();
            images.push((before, sim.power_loss()));
            losses += 1;
        }
        stop.store(true, SeqCst);
        for h in handles {
            h.join().unwrap();
        }
        drop(db);
        for (before, img) in images {
            let (_, db) = boot(&img, SyncPolicy::Always);
            for t in 0..threads {
                for n in 0..before[t as usize] {
                    let k = format!("t{t}-{n}");
                    assert_eq!(
                        db.get(k.as_bytes()).unwrap().as_deref(),
                        Some(&n.to_le_bytes()[..]),
                        "round {round}: acknowledged {k} lost"
                    );
                    if n % 10 == 9 {
                        assert!(db.exists(format!("{k}-pair").as_bytes()));
                    }
                }
            }
            // And no half batch anywhere in what survived.
            for k in db.keys() {
                let k = String::from_utf8(k.to_vec()).unwrap();
                if let Some(base) = k.strip_suffix("-pair") {
                    assert!(db.exists(base.as_bytes()), "half batch: {k} without {base}");
                } else {
                    let n: u64 = k.rsplit('-').next().unwrap().parse().unwrap();
                    if n % 10 == 9 {
                        assert!(db.exists(format!("{k}-pair").as_bytes()), "half batch: {k}");
                    }
                }
            }
        }
    }
    eprintln!("figures: {losses} power losses under always with 4 writers");
    assert!(losses > 0);
}

#[test]
fn interval_loses_at_most_the_window() {
    let window = Duration::from_millis(40);
    // Scheduling slack for a loaded CI machine; the measured worst case is printed.
    let slack = Duration::from_millis(400);
    let mut worst = Duration::ZERO;
    for round in 0..env_count("CCB_POWER_ROUNDS", 4) {
        let (sim, db) = fresh(1 << 20, SyncPolicy::Interval(window));
        let acks: Arc<Mutex<Vec<Instant>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let writer = {
            let db = db.clone();
            let acks = Arc::clone(&acks);
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                let mut n = 0u64;
                while !stop.load(SeqCst) {
                    db.put(format!("k{n:08}").as_bytes(), &n.to_le_bytes())
                        .unwrap();
                    acks.lock().unwrap().push(Instant::now());
                    n += 1;
                    if n.is_multiple_of(64) {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                }
            })
        };
        std::thread::sleep(Duration::from_millis(120 + 37 * round as u64));
        let cut = Instant::now();
        let img = sim.power_loss();
        stop.store(true, SeqCst);
        writer.join().unwrap();
        let acks = acks.lock().unwrap().clone();
        drop(db);
        let (_, db) = boot(&img, SyncPolicy::None);
        let survived = db.len() as u64;
        // What survives is a prefix of the writes.
        for n in 0..survived {
            assert!(
                db.exists(format!("k{n:08}").as_bytes()),
                "round {round}: hole at {n}"
            );
        }
        // Every write acknowledged more than a window (plus slack) before the cut survived.
        for (n, at) in acks.iter().enumerate() {
            if *at < cut && n as u64 >= survived {
                let age = cut - *at;
                worst = worst.max(age);
                assert!(
                    age <= window + slack,
                    "round {round}: write {n} acknowledged {age:?} before power loss was lost (window {window:?})"
                );
            }
        }
        assert!(survived > 0, "round {round}: nothing survived");
    }
    eprintln!("interval {window:?}: oldest lost acknowledged write was {worst:?} old");
}

#[test]
fn interval_after_a_quiet_window_loses_nothing() {
    let (sim, db) = fresh(4096, SyncPolicy::Interval(Duration::from_millis(20)));
    for n in 0..200u32 {
        db.put(format!("k{n}").as_bytes(), b"v").unwrap();
    }
    std::thread::sleep(Duration::from_millis(300));
    let img = sim.power_loss();
    drop(db);
    let (_, db) = boot(&img, SyncPolicy::None);
    assert_eq!(db.len(), 200);
}

#[test]
fn none_survivor_is_a_consistent_prefix_of_history() {
    let seed = support::seed();
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut cuts = 0;
    for round in 0..env_count("CCB_POWER_ROUNDS", 4) * 5 {
        let (sim, db) = fresh(300, SyncPolicy::None);
        let mut state: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
        let mut history = vec![state.clone()];
        let mut durable_at = 0usize;
        let mut images = Vec::new();
        for step in 0..200u32 {
            let k = format!("k{}", rng.gen_range(0..15)).into_bytes();
            match rng.gen_range(0..100) {
                0..=54 => {
                    let v = format!("v{step}").into_bytes();
                    db.put(&k, &v).unwrap();
                    state.insert(k, v);
                }
                55..=74 => {
                    db.delete(&k).unwrap();
                    state.remove(&k);
                }
                75..=89 => {
                    let mut b = WriteBatch::new();
                    for _ in 0..rng.gen_range(2..5) {
                        let k = format!("k{}", rng.gen_range(0..15)).into_bytes();
                        if rng.gen_bool(0.7) {
                            let v = format!("b{step}").into_bytes();
                            b.put(k.clone(), v.clone());
                            state.insert(k, v);
                        } else {
                            b.delete(k.clone());
                            state.remove(&k);
                        }
                    }
                    db.write_batch(&b).unwrap();
                }
                90..=93 => {
                    db.sync().unwrap();
                    durable_at = history.len();
                }
                94..=95 => {
                    // A merge that commits makes everything before it durable (step 2 of
                    // its protocol); one with no sealed input commits nothing and syncs
                    // nothing (seed 29825482 caught the test assuming otherwise).
                    let committed = !db.merge().unwrap().inputs.is_empty();
                    if committed {
                        durable_at = history.len();
                    }
                }
                _ => {}
            }
            history.push(state.clone());
            if rng.gen_bool(0.08) {
                let img = if rng.gen_bool(0.5) {
                    sim.power_loss()
                } else {
                    let mut r = rand::rngs::StdRng::seed_from_u64(rng.gen());
                    sim.power_loss_partial(move |n| r.gen_range(0..=n))
                };
                images.push((img, durable_at, history.len()));
            }
        }
        drop(db);
        for (img, durable_at, len) in images {
            cuts += 1;
            let (_, db) = boot(&img, SyncPolicy::None);
            let got = dump(&db);
            let found = (durable_at..len).rev().find(|&j| history[j] == got);
            assert!(
                found.is_some(),
                "seed {seed} round {round}: survivor is not a prefix of history at or after the last fsync ({durable_at}); vs. last: {}",
                diff(&got, &history[len - 1])
            );
        }
    }
    eprintln!("figures: {cuts} power losses under none (half with torn unsynced tails)");
    assert!(cuts > 0);
}

/// The simulation really discriminates: under `none`, writes not yet fsynced are gone
/// after a power loss (a `kill -9` would have kept them in the page cache).
#[test]
fn none_loses_unsynced_writes_and_keeps_synced_ones() {
    let (sim, db) = fresh(1 << 20, SyncPolicy::None);
    db.put(b"synced", b"1").unwrap();
    db.sync().unwrap();
    for n in 0..10u32 {
        db.put(format!("unsynced{n}").as_bytes(), b"v").unwrap();
    }
    let img = sim.power_loss();
    drop(db);
    let (_, db) = boot(&img, SyncPolicy::None);
    assert_eq!(db.get(b"synced").unwrap().as_deref(), Some(&b"1"[..]));
    assert_eq!(db.len(), 1);
}

/// Regression: a power loss just after a rollover created the next data file, when
/// another file's directory fsync (a hint writer's) had made its name durable but not
/// its header, left a header-less file after the newest log file. Open deletes it, but
/// `check` reported it as corruption. Found by
/// `always_loses_nothing_acknowledged_with_concurrent_writers` (long run).
#[test]
fn regression_power_loss_during_rollover_reported_as_corruption() {
    let (sim, db) = fresh(300, SyncPolicy::Always);
    for n in 0..40u32 {
        db.put(format!("k{n}").as_bytes(), b"value").unwrap();
    }
    // Closed first: a rollover trims the active file's preallocated zeros and syncs
    // that before it creates the next file, as closing does.
    drop(db);
    let mut img = sim.power_loss();
    let next = img
        .paths()
        .iter()
        .filter_map(
            |p| match ccbitcask_engine::fs::classify(p.file_name()?.to_str()?) {
                ccbitcask_engine::fs::Entry::Data(id) => Some(id),
                _ => None,
            },
        )
        .max()
        .unwrap()
        + 1;
    for partial_header in [0usize, 7] {
        let mut img = img.clone();
        img.insert(
            ccbitcask_engine::fs::data_path(&sim_dir(), next),
            vec![b'C'; partial_header],
        );
        let (_, db) = boot(&img, SyncPolicy::Always);
        assert_eq!(db.len(), 40);
    }
    // A header-less file *before* the newest log file is real damage.
    img.insert(ccbitcask_engine::fs::data_path(&sim_dir(), 1), Vec::new());
    let report = check_with(&SimFs::from_image(&img), &sim_dir()).unwrap();
    assert!(!report.is_clean());
}

/// If the OS writes unsynced pages back out of order (a page after a hole reaches the
/// disk, the one before does not), a power cut under `none` leaves a zero-filled hole in
/// the active file followed by valid records. Recovery reads the newest log only up to
/// its first damage (point-in-time recovery, as RocksDB's WAL does), so the survivor is
/// still a prefix of history; the cut bytes are kept beside the file for an operator.
/// Before that change this test failed in 40 of 40 images.
#[test]
fn none_with_out_of_order_writeback_keeps_a_prefix() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(support::seed());
    for round in 0..20 {
        let (sim, db) = fresh(1 << 20, SyncPolicy::None);
        let mut state: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
        let mut history = vec![state.clone()];
        for step in 0..120u32 {
            let k = format!("k{}", rng.gen_range(0..10)).into_bytes();
            if rng.gen_bool(0.6) {
                let v = format!("v{step}").into_bytes();
                db.put(&k, &v).unwrap();
                state.insert(k, v);
            } else {
                db.delete(&k).unwrap();
                state.remove(&k);
            }
            history.push(state.clone());
        }
        let mut r = rand::rngs::StdRng::seed_from_u64(rng.gen());
        let img = sim.power_loss_reordered(64, move |_| r.gen_bool(0.5));
        drop(db);
        let db = open_tiny(
            &sim_dir(),
            Arc::new(SimFs::from_image(&img)),
            ManualClock::new(),
            1 << 20,
            SyncPolicy::None,
        )
        .unwrap();
        let got = dump(&db);
        assert!(
            history.contains(&got),
            "round {round}: survivor is not a prefix of history"
        );
    }
}
