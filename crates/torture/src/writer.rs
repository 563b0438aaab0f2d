//! The child process of `crash` mode: a writer under load that announces every write
//! on stdout before it starts (`I n op`) and acknowledges it only after the engine
//! returned (`A n`). Merges are announced as `M start` / `M end`.

use crate::model::Op;
use ccbitcask_engine::{Bitcask, MergeOptions, SyncPolicy, WriteBatch};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::io::Write;
use std::path::Path;
use std::time::Duration;

/// Small files so rollovers happen all the time.
pub const MAX_FILE_SIZE: u64 = 16 << 10;
const KEYS: u32 = 300;

pub fn open(dir: &Path) -> ccbitcask_engine::Result<Bitcask> {
    Bitcask::builder(dir)
        .sync(SyncPolicy::Always)
        .max_file_size(MAX_FILE_SIZE)
        .merge_options(MergeOptions {
            frag_merge_trigger: 40,
            frag_threshold: 20,
            dead_bytes_merge_trigger: 32 << 10,
            dead_bytes_threshold: 8 << 10,
            small_file_threshold: 4 << 10,
            check_interval: Duration::from_millis(150),
            ..MergeOptions::default()
        })
        .open()
}

fn line(out: &mut impl Write, s: &str) {
    // A broken pipe means the parent is gone: stop.
    if writeln!(out, "{s}").and_then(|()| out.flush()).is_err() {
        std::process::exit(0);
    }
}

/// A random write.
pub fn random_op(rng: &mut StdRng, cycle: u64, n: u64, now_ms: u64) -> Op {
    let key = |rng: &mut StdRng| format!("k{}", rng.gen_range(0..KEYS));
    let value = |rng: &mut StdRng| {
        let pad = rng.gen_range(0..160);
        format!("v{cycle}.{n}.{}", "x".repeat(pad))
    };
    match rng.gen_range(0..100) {
        0..=54 => Op::Put(key(rng), value(rng), 0),
        55..=59 => Op::Put(key(rng), value(rng), now_ms + 3_600_000),
        60..=63 => Op::Put(key(rng), value(rng), now_ms.saturating_sub(1_000)),
        64..=84 => Op::Del(key(rng)),
        _ => {
            let items = (0..rng.gen_range(2..6))
                .map(|_| {
                    let k = key(rng);
                    (k, rng.gen_bool(0.75).then(|| value(rng)))
                })
                .collect();
            Op::Batch(items)
        }
    }
}

pub fn apply(db: &Bitcask, op: &Op) -> ccbitcask_engine::Result<()> {
    match op {
        Op::Put(k, v, 0) => db.put(k.as_bytes(), v.as_bytes()),
        Op::Put(k, v, e) => db.put_with_expiry(k.as_bytes(), v.as_bytes(), Some(*e)),
        Op::Del(k) => db.delete(k.as_bytes()).map(drop),
        Op::Batch(items) => {
            let mut b = WriteBatch::new();
            for (k, v) in items {
                match v {
                    Some(v) => b.put(k.as_bytes(), v.as_bytes()),
                    None => b.delete(k.as_bytes()),
                };
            }
            db.write_batch(&b)
        }
    }
}

/// Runs until killed.
pub fn run(dir: &Path, seed: u64, cycle: u64) -> ! {
    let mut out = std::io::stdout().lock();
    let db = match open(dir) {
        Ok(db) => db,
        Err(e) => {
            line(&mut out, &format!("E open: {e}"));
            std::process::exit(1);
        }
    };
    line(&mut out, "READY");
    let mut rng = StdRng::seed_from_u64(seed ^ cycle.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let mut n = 0u64;
    loop {
        n += 1;
        if rng.gen_range(0..100) < 2 {
            line(&mut out, "M start");
            let r = if rng.gen_bool(0.5) {
                db.merge().map(drop)
            } else {
                let ids: Vec<u32> = db
                    .stats()
                    .files
                    .iter()
                    .filter(|f| !f.active)
                    .map(|f| f.id)
                    .collect();
                let some: Vec<u32> = ids.into_iter().filter(|_| rng.gen_bool(0.5)).collect();
                db.merge_files(&some).map(drop)
            };
            match r {
                Ok(()) | Err(ccbitcask_engine::Error::MergeInProgress) => line(&mut out, "M end"),
                Err(e) => {
                    line(&mut out, &format!("E merge: {e}"));
                    std::process::exit(1);
                }
            }
            continue;
        }
        let op = random_op(&mut rng, cycle, n, db.now_ms());
        line(&mut out, &format!("I {n} {}", op.encode()));
        if let Err(e) = apply(&db, &op) {
            line(&mut out, &format!("E write: {e}"));
            std::process::exit(1);
        }
        line(&mut out, &format!("A {n}"));
    }
}
