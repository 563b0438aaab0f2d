//! Model-based property test: random sequences of puts, deletes, batches, TTL writes,
//! clock jumps, reopens, power losses, full, partial and planned merges, checked
//! against a `BTreeMap` model after every step. Files are tiny, so nearly every few
//! writes roll the active file over.
//!
//! `PROPTEST_CASES=2000 cargo test -p ccbitcask-engine --test model` for a long run.

mod support;

use ccbitcask_engine::{Bitcask, MergeOptions, SyncPolicy, WriteBatch};
use proptest::prelude::*;
use std::sync::Arc;
use support::{assert_model, env_count, ManualClock, Model, SimFs, SimImage};

const KEYS: u8 = 12;

#[derive(Clone, Debug)]
enum Op {
    Put(u8, Vec<u8>),
    PutTtl(u8, Vec<u8>, u64),
    Delete(u8),
    Batch(Vec<(u8, Option<Vec<u8>>)>),
    Advance(u64),
    Reopen,
    PowerLoss,
    Merge,
    MergeFiles(u32),
    MergeIfNeeded,
    PurgeExpired,
}

fn value() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..48)
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        30 => (0..KEYS, value()).prop_map(|(k, v)| Op::Put(k, v)),
        6 => (0..KEYS, value(), 1..3_000u64).prop_map(|(k, v, t)| Op::PutTtl(k, v, t)),
        10 => (0..KEYS).prop_map(Op::Delete),
        6 => prop::collection::vec((0..KEYS, prop::option::weighted(0.7, value())), 1..6)
            .prop_map(Op::Batch),
        4 => (0..2_500u64).prop_map(Op::Advance),
        3 => Just(Op::Reopen),
        3 => Just(Op::PowerLoss),
        3 => Just(Op::Merge),
        4 => any::<u32>().prop_map(Op::MergeFiles),
        3 => Just(Op::MergeIfNeeded),
        2 => Just(Op::PurgeExpired),
    ]
}

fn key(k: u8) -> Vec<u8> {
    format!("key-{k}").into_bytes()
}

struct Harness {
    sim: SimFs,
    clock: Arc<ManualClock>,
    max_file_size: u64,
    db: Option<Bitcask>,
}

impl Harness {
    fn open(sim: SimFs, clock: Arc<ManualClock>, max_file_size: u64) -> Self {
        let mut h = Self {
            sim,
            clock,
            max_file_size,
            db: None,
        };
        h.reopen_on(None);
        h
    }

    fn reopen_on(&mut self, image: Option<SimImage>) {
        self.db = None;
        if let Some(img) = image {
            self.sim = SimFs::from_image(&img);
        }
        let db = Bitcask::builder(support::sim_dir())
            .vfs(Arc::new(self.sim.clone()))
            .clock(self.clock.clone())
            .max_file_size(self.max_file_size)
            // Every acknowledged write is durable, so a power loss loses nothing.
            .sync(SyncPolicy::Always)
            .merge_options(MergeOptions {
                auto: false,
                frag_merge_trigger: 50,
                frag_threshold: 25,
                dead_bytes_merge_trigger: 2_048,
                dead_bytes_threshold: 512,
                small_file_threshold: 96,
                ..MergeOptions::default()
            })
            .open()
            .unwrap();
        assert!(db.open_report().damage.is_empty(), "{:?}", db.open_report());
        self.db = Some(db);
    }

    fn db(&self) -> &Bitcask {
        self.db.as_ref().unwrap()
    }
}

fn run(ops: &[Op], max_file_size: u64) {
    let clock = ManualClock::new();
    let mut h = Harness::open(SimFs::new(), clock.clone(), max_file_size);
    let mut model = Model::default();
    for (step, op) in ops.iter().enumerate() {
        let now = clock.now();
        match op {
            Op::Put(k, v) => {
                h.db().put(&key(*k), v).unwrap();
                model.put(&key(*k), v, None);
            }
            Op::PutTtl(k, v, ttl) => {
                h.db()
                    .put_with_expiry(&key(*k), v, Some(now + ttl))
                    .unwrap();
                model.put(&key(*k), v, Some(now + ttl));
            }
            Op::Delete(k) => {
                let was_live = model.live(now).contains_key(&key(*k));
                assert_eq!(
                    h.db().delete(&key(*k)).unwrap(),
                    was_live,
                    "step {step}: {op:?}"
                );
                model.delete(&key(*k));
            }
            Op::Batch(items) => {
                let mut b = WriteBatch::new();
                for (k, v) in items {
                    match v {
                        Some(v) => {
                            b.put(key(*k), v.clone());
                            model.put(&key(*k), v, None);
                        }
                        None => {
                            b.delete(key(*k));
                            model.delete(&key(*k));
                        }
                    }
                }
                h.db().write_batch(&b).unwrap();
            }
            Op::Advance(ms) => clock.advance(*ms),
            Op::Reopen => h.reopen_on(None),
            Op::PowerLoss => {
                let img = h.sim.power_loss();
                h.reopen_on(Some(img));
            }
            Op::Merge => {
                h.db().merge().unwrap();
            }
            Op::MergeFiles(mask) => {
                let sealed: Vec<u32> = h
                    .db()
                    .stats()
                    .files
                    .iter()
                    .filter(|f| !f.active)
                    .map(|f| f.id)
                    .collect();
                let pick: Vec<u32> = sealed
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| mask & (1 << (i % 32)) != 0)
                    .map(|(_, id)| *id)
                    .collect();
                h.db().merge_files(&pick).unwrap();
            }
            Op::MergeIfNeeded => {
                h.db().merge_if_needed().unwrap();
            }
            Op::PurgeExpired => {
                h.db().purge_expired(100);
            }
        }
        let now = clock.now();
        let live = model.live(now);
        // Prefetching is a hint: every other step it runs first, over every key twice
        // (more than one run of 16), and the answers must not change.
        if step % 2 == 1 {
            let keys: Vec<Vec<u8>> = (0..KEYS).chain(0..KEYS).map(key).collect();
            h.db().prefetch(&keys);
        }
        for k in 0..KEYS {
            let got = h.db().get(&key(k)).unwrap();
            assert_eq!(
                got.as_deref(),
                live.get(&key(k)).map(Vec::as_slice),
                "step {step} after {op:?}: key-{k}"
            );
            assert_eq!(h.db().exists(&key(k)), live.contains_key(&key(k)));
        }
        assert_eq!(h.db().len(), live.len(), "step {step} after {op:?}: len");
    }
    // Finally: a clean reopen and a power loss both give the model exactly.
    let now = clock.now();
    assert_model(h.db(), &model, now, "end");
    h.reopen_on(None);
    assert_model(h.db(), &model, now, "end, reopened");
    let img = h.sim.power_loss();
    h.reopen_on(Some(img));
    assert_model(h.db(), &model, now, "end, after power loss");
    let report = ccbitcask_engine::check_with(&h.sim, &support::sim_dir()).unwrap();
    support::assert_clean(&report, "end, check");
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: u32::try_from(env_count("PROPTEST_CASES", 48)).unwrap_or(48),
        ..ProptestConfig::default()
    })]

    #[test]
    fn engine_matches_model(ops in prop::collection::vec(op(), 1..80), size in 96u64..600) {
        run(&ops, size);
    }
}

/// A fixed long sequence on the real file system, so the model also covers `StdFs`.
#[test]
fn engine_matches_model_on_real_files() {
    use rand::{Rng, SeedableRng};
    let seed = support::seed();
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let tmp = tempfile::tempdir().unwrap();
    let clock = ManualClock::new();
    let open = || {
        support::open_tiny(
            tmp.path(),
            Arc::new(ccbitcask_engine::vfs::StdFs),
            clock.clone(),
            200,
            SyncPolicy::None,
        )
        .unwrap()
    };
    let mut db = open();
    let mut model = Model::default();
    for step in 0..1_500u32 {
        let k = key(rng.gen_range(0..20));
        match rng.gen_range(0..100) {
            0..=59 => {
                let v = format!("v{step}").into_bytes();
                db.put(&k, &v).unwrap();
                model.put(&k, &v, None);
            }
            60..=79 => {
                db.delete(&k).unwrap();
                model.delete(&k);
            }
            80..=84 => {
                let at = clock.now() + rng.gen_range(1..500);
                db.put_with_expiry(&k, b"ttl", Some(at)).unwrap();
                model.put(&k, b"ttl", Some(at));
            }
            85..=89 => clock.advance(rng.gen_range(0..400)),
            90..=93 => {
                db.merge().unwrap();
            }
            94..=96 => {
                let ids: Vec<u32> = db
                    .stats()
                    .files
                    .iter()
                    .filter(|f| !f.active)
                    .map(|f| f.id)
                    .collect();
                let half: Vec<u32> = ids.into_iter().filter(|_| rng.gen_bool(0.5)).collect();
                db.merge_files(&half).unwrap();
            }
            _ => {
                drop(db);
                db = open();
            }
        }
    }
    assert_model(&db, &model, clock.now(), &format!("seed {seed}"));
    drop(db);
    let db = open();
    assert_model(&db, &model, clock.now(), &format!("seed {seed}, reopened"));
}
