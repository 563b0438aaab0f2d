//! An engine operation sequence against a model, on the simulated file system: puts,
//! deletes, batches, TTLs with a moving clock, reopen, power loss (sync always, so
//! nothing acknowledged may be lost), full and partial merges. Any difference panics.
#![no_main]

#[path = "../../crates/engine/tests/support/mod.rs"]
mod support;

use ccbitcask_engine::{Bitcask, MergeOptions, SyncPolicy, WriteBatch};
use libfuzzer_sys::fuzz_target;
use std::sync::Arc;
use support::{assert_model, ManualClock, Model, SimFs};

fn open(sim: &SimFs, clock: &Arc<ManualClock>, size: u64) -> Bitcask {
    Bitcask::builder(support::sim_dir())
        .vfs(Arc::new(sim.clone()))
        .clock(clock.clone())
        .max_file_size(size)
        .sync(SyncPolicy::Always)
        .merge_options(MergeOptions {
            auto: false,
            ..MergeOptions::default()
        })
        .open()
        .expect("open")
}

fuzz_target!(|data: &[u8]| {
    let Some((&size, mut data)) = data.split_first() else {
        return;
    };
    let size = 96 + u64::from(size) * 4;
    let clock = ManualClock::new();
    let mut sim = SimFs::new();
    let mut db = open(&sim, &clock, size);
    let mut model = Model::default();
    let key = |b: u8| format!("k{}", b % 16).into_bytes();
    while let [op, a, b, rest @ ..] = data {
        data = rest;
        let value = vec![*b; usize::from(*b % 40)];
        match op % 11 {
            0..=3 => {
                db.put(&key(*a), &value).unwrap();
                model.put(&key(*a), &value, None);
            }
            4 => {
                let at = clock.now() + u64::from(*b) * 10;
                db.put_with_expiry(&key(*a), &value, Some(at)).unwrap();
                model.put(&key(*a), &value, Some(at));
            }
            5 => {
                db.delete(&key(*a)).unwrap();
                model.delete(&key(*a));
            }
            6 => {
                let mut batch = WriteBatch::new();
                for i in 0..(b % 4 + 1) {
                    let k = key(a.wrapping_add(i * 5));
                    if (b >> i) & 1 == 1 {
                        batch.delete(&k);
                        model.delete(&k);
                    } else {
                        batch.put(&k, &value);
                        model.put(&k, &value, None);
                    }
                }
                db.write_batch(&batch).unwrap();
            }
            7 => clock.advance(u64::from(*a) * 20),
            8 => {
                let image = if a & 1 == 0 {
                    drop(db);
                    sim.power_loss()
                } else {
                    let img = sim.power_loss();
                    drop(db);
                    img
                };
                sim = SimFs::from_image(&image);
                db = open(&sim, &clock, size);
            }
            9 => {
                db.merge().unwrap();
            }
            _ => {
                let ids: Vec<u32> = db
                    .stats()
                    .files
                    .iter()
                    .filter(|f| !f.active)
                    .map(|f| f.id)
                    .collect();
                let pick: Vec<u32> = ids
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| (a >> (i % 8)) & 1 == 1)
                    .map(|(_, id)| *id)
                    .collect();
                db.merge_files(&pick).unwrap();
            }
        }
        assert_model(&db, &model, clock.now(), "after op");
    }
});
