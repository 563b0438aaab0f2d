//! The keydir: the in-RAM hash index from every live key to its newest record.
//!
//! It is split into [`SHARDS`] shards, each behind its own `RwLock`, so a reader waits
//! only for a writer touching the same shard, and a table resize stalls one shard
//! instead of the whole index. Which shard a key belongs to comes from hash bits that
//! the shard's index uses neither to pick a group (low bits) nor for its tag (top byte).

mod arena;
mod index;
mod shard;

pub use shard::{Candidates, Offer, Recovered};

use foldhash::fast::RandomState;
use shard::Shard;
use std::hash::BuildHasher;
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

/// Number of shards.
pub const SHARDS: usize = 32;
const SHARD_SHIFT: u32 = 40;

/// Asks the CPU to start loading the cache line at `x` and returns at once. Lookups are
/// cache misses (the keydir is far bigger than the CPU caches), and a miss started
/// before a syscall, or together with the misses of other keys, is paid in parallel.
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
fn prefetch<T>(x: &T) {
    use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
    // SAFETY: a prefetch is a hint: it never faults, never writes, and has no effect a
    // program can observe but timing. The address is a live reference's. SSE, which the
    // instruction needs, is part of the x86_64 baseline.
    unsafe { _mm_prefetch::<_MM_HINT_T0>(std::ptr::from_ref(x).cast()) }
}

/// Elsewhere there is no stable prefetch, and a plain load would wait for the miss.
#[cfg(not(target_arch = "x86_64"))]
fn prefetch<T>(_x: &T) {}

/// Keys [`Keydir::prefetch_many`] works on at a time: about as many misses as a core
/// keeps in flight.
const PREFETCH_RUN: usize = 16;

/// Where a record lives: one positioned read of `size` bytes at `offset` of `file_id`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Loc {
    /// Data file id.
    pub file_id: u32,
    /// Offset of the record in the file.
    pub offset: u32,
    /// Total record length.
    pub size: u32,
}

/// The sharded index.
#[derive(Debug)]
pub struct Keydir {
    shards: Box<[RwLock<Shard>]>,
    hasher: RandomState,
}

impl Default for Keydir {
    fn default() -> Self {
        Self {
            shards: (0..SHARDS).map(|_| RwLock::default()).collect(),
            hasher: RandomState::default(),
        }
    }
}

impl Keydir {
    fn locate(&self, key: &[u8]) -> (u64, usize) {
        let hash = self.hasher.hash_one(key);
        (hash, (hash >> SHARD_SHIFT) as usize % SHARDS)
    }

    // A poisoned lock means a panic elsewhere while holding it; every mutation of a shard
    // is a handful of assignments that cannot leave it half-updated, so the data is still
    // consistent and we keep serving instead of propagating the panic.
    fn read(&self, i: usize) -> RwLockReadGuard<'_, Shard> {
        self.shards[i]
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self, i: usize) -> RwLockWriteGuard<'_, Shard> {
        self.shards[i]
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Where `key` lives and its expiry.
    pub fn get(&self, key: &[u8]) -> Option<(Loc, Option<u64>)> {
        let (hash, i) = self.locate(key);
        self.read(i).get(hash, key)
    }

    /// Locations that may hold `key`; see [`Shard::candidates`].
    pub fn candidates(&self, key: &[u8]) -> Candidates {
        let (hash, i) = self.locate(key);
        let mut out = Candidates::default();
        self.read(i).candidates(hash, &mut out);
        out
    }

    /// Starts loading the cache line a lookup of `key` reads first, so that a lookup
    /// made after a syscall (the writer's append) finds it in cache.
    pub fn prefetch(&self, key: &[u8]) {
        let (hash, i) = self.locate(key);
        self.read(i).prefetch(hash);
    }

    /// Brings everything a lookup of each of `keys` reads into the CPU cache, so that
    /// lookups made right after hit it: first every key's index line, then, once those
    /// have arrived, the entries their tags point at. The misses of a run of keys
    /// overlap instead of each lookup waiting for two in turn. A lone key has nothing
    /// to overlap with, so it is left to its lookup.
    pub fn prefetch_many<K: AsRef<[u8]>>(&self, keys: impl IntoIterator<Item = K>) {
        let mut keys = keys.into_iter().peekable();
        let Some(first) = keys.next() else {
            return;
        };
        if keys.peek().is_none() {
            return;
        }
        let mut keys = std::iter::once(first).chain(keys);
        loop {
            let mut located = [(0u64, 0usize); PREFETCH_RUN];
            let mut n = 0;
            for (at, key) in located.iter_mut().zip(keys.by_ref()) {
                *at = self.locate(key.as_ref());
                self.read(at.1).prefetch(at.0);
                n += 1;
            }
            for &(hash, i) in &located[..n] {
                self.read(i).prefetch_entries(hash);
            }
            if n < PREFETCH_RUN {
                return;
            }
        }
    }

    /// Points `key` at `loc`; returns the previous location.
    pub fn upsert(&self, key: &[u8], loc: Loc, expiry: Option<u64>) -> Option<Loc> {
        let (hash, i) = self.locate(key);
        self.write(i).upsert(&self.hasher, hash, key, loc, expiry)
    }

    /// Removes `key`; returns its location.
    pub fn remove(&self, key: &[u8]) -> Option<Loc> {
        let (hash, i) = self.locate(key);
        self.write(i).remove(hash, key)
    }

    /// Removes `key` only if it still points at `at` (used by expiry, which must not
    /// remove a value written after the expired one was seen).
    pub fn remove_if_at(&self, key: &[u8], at: Loc) -> bool {
        let (hash, i) = self.locate(key);
        let mut shard = self.write(i);
        match shard.get(hash, key) {
            Some((cur, _)) if cur.file_id == at.file_id && cur.offset == at.offset => {
                shard.remove(hash, key);
                true
            }
            _ => false,
        }
    }

    /// Merge's compare-and-set; see [`Shard::compare_and_move`].
    pub fn compare_and_move(&self, key: &[u8], from: Loc, to: Loc) -> bool {
        let (hash, i) = self.locate(key);
        self.write(i).compare_and_move(hash, key, from, to)
    }

    /// Offers one record found during recovery; see [`Shard::recover`].
    #[cfg(test)]
    pub fn recover(
        &self,
        key: &[u8],
        loc: Loc,
        expiry: Option<u64>,
        seq: u64,
        tombstone: bool,
    ) -> Recovered {
        let (hash, i) = self.locate(key);
        let offer = Offer {
            loc,
            expiry,
            seq,
            tombstone,
        };
        self.write(i).recover(&self.hasher, hash, key, offer)
    }

    /// Offers many records found while opening, laid out as a loader batches them: the
    /// keys back to back in `keys`, and for each record the end of its key there and its
    /// offer. `out[i]` becomes the outcome of `records[i]`. Each shard's lock is taken
    /// once per call rather than once per record: with loader threads on every core, a
    /// lock per record bounces each lock word between the cores.
    pub fn recover_many(&self, keys: &[u8], records: &[(usize, Offer)], out: &mut Vec<Recovered>) {
        let key = |i: usize| {
            let start = i.checked_sub(1).map_or(0, |p| records[p].0);
            &keys[start..records[i].0]
        };
        out.clear();
        out.resize(records.len(), Recovered::Stale);
        // Counting sort of the records by shard, keeping file order within a shard.
        let mut located = Vec::with_capacity(records.len());
        let mut starts = [0usize; SHARDS + 1];
        for i in 0..records.len() {
            let (hash, shard) = self.locate(key(i));
            located.push((hash, shard));
            starts[shard + 1] += 1;
        }
        for i in 0..SHARDS {
            starts[i + 1] += starts[i];
        }
        let mut order = vec![0u32; records.len()];
        let mut next = starts;
        for (i, &(_, shard)) in located.iter().enumerate() {
            order[next[shard]] = u32::try_from(i).unwrap_or(u32::MAX);
            next[shard] += 1;
        }
        for shard in 0..SHARDS {
            let group = &order[starts[shard]..starts[shard + 1]];
            if group.is_empty() {
                continue;
            }
            let mut guard = self.write(shard);
            guard.make_room_for(&self.hasher, group.len());
            for &i in group {
                guard.prefetch(located[i as usize].0);
            }
            for &i in group {
                let i = i as usize;
                out[i] = guard.recover(&self.hasher, located[i].0, key(i), records[i].1);
            }
        }
    }

    /// Makes room for about `keys` more keys, spread evenly over the shards as the hash
    /// spreads them.
    pub fn reserve(&self, keys: usize) {
        let per_shard = keys.div_ceil(SHARDS);
        for i in 0..SHARDS {
            self.write(i).reserve(&self.hasher, per_shard);
        }
    }

    /// Ends recovery; returns the highest sequence number seen (0 if none).
    pub fn finish_recovery(&self) -> u64 {
        (0..SHARDS)
            .map(|i| self.write(i).finish_recovery(&self.hasher))
            .max()
            .unwrap_or(0)
    }

    /// Live keys (including expired ones not yet purged).
    pub fn len(&self) -> usize {
        (0..SHARDS).map(|i| self.read(i).len()).sum()
    }

    /// Indexed keys whose expiry has passed.
    pub fn count_expired(&self, now: u64) -> usize {
        (0..SHARDS).map(|i| self.read(i).count_expired(now)).sum()
    }

    /// (keys, keys with a TTL, key bytes, value bytes) over unexpired entries.
    pub fn totals(&self, now: u64) -> (u64, u64, u64, u64) {
        (0..SHARDS).fold((0, 0, 0, 0), |acc, i| {
            let t = self.read(i).totals(now);
            (acc.0 + t.0, acc.1 + t.1, acc.2 + t.2, acc.3 + t.3)
        })
    }

    /// Bytes really allocated by the index.
    pub fn allocated_bytes(&self) -> usize {
        (0..SHARDS)
            .map(|i| self.read(i).allocated_bytes())
            .sum::<usize>()
            + std::mem::size_of::<Self>()
            + SHARDS * std::mem::size_of::<RwLock<Shard>>()
    }

    /// Visits entries in a stable order, starting at `cursor` (0 = the beginning), until
    /// `f` returns false. Returns the cursor to resume from, 0 when the walk is complete.
    /// Entries present for the whole walk are visited at least once (Redis SCAN rules).
    pub fn scan(&self, cursor: u64, mut f: impl FnMut(&[u8], Loc, Option<u64>) -> bool) -> u64 {
        let mut shard = (cursor >> 32) as usize;
        let mut start = cursor as u32;
        while shard < SHARDS {
            if let Some(next) = self.read(shard).for_each_from(start, &mut f) {
                return ((shard as u64) << 32) | u64::from(next);
            }
            shard += 1;
            start = 0;
        }
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn loc(n: u32) -> Loc {
        Loc {
            file_id: 1,
            offset: n,
            size: 40,
        }
    }

    #[test]
    fn upsert_get_remove_against_a_model() {
        let kd = Keydir::default();
        let mut model = HashMap::new();
        for i in 0..20_000u32 {
            let key = format!("k{}", i % 7_000).into_bytes();
            match i % 5 {
                0 => {
                    assert_eq!(kd.remove(&key), model.remove(&key));
                }
                _ => {
                    let exp = (i % 3 == 0).then_some(u64::from(i));
                    assert_eq!(
                        kd.upsert(&key, loc(i), exp),
                        model.insert(key.clone(), loc(i))
                    );
                    assert_eq!(kd.get(&key), Some((loc(i), exp)));
                }
            }
        }
        assert_eq!(kd.len(), model.len());
        for (k, v) in &model {
            assert_eq!(kd.get(k).map(|x| x.0), Some(*v));
        }
        let mut seen = 0;
        assert_eq!(
            kd.scan(0, |_, _, _| {
                seen += 1;
                true
            }),
            0
        );
        assert_eq!(seen, model.len());
    }

    #[test]
    fn compare_and_move_loses_to_a_newer_write() {
        let kd = Keydir::default();
        kd.upsert(b"a", loc(1), None);
        kd.upsert(b"a", loc(2), None);
        assert!(!kd.compare_and_move(b"a", loc(1), loc(9)));
        assert!(kd.compare_and_move(b"a", loc(2), loc(9)));
        assert_eq!(kd.get(b"a").map(|x| x.0), Some(loc(9)));
    }

    #[test]
    fn growth_with_deletions_keeps_every_key() {
        let kd = Keydir::default();
        let mut model = std::collections::HashMap::new();
        for i in 0..200_000u32 {
            let key = format!("key{i:013}").into_bytes();
            kd.upsert(&key, loc(i), None);
            model.insert(key, i);
            if i % 3 == 0 {
                let gone = format!("key{:013}", i / 2).into_bytes();
                assert_eq!(kd.remove(&gone).is_some(), model.remove(&gone).is_some());
            }
        }
        assert_eq!(kd.len(), model.len());
        for (key, &i) in &model {
            assert_eq!(kd.get(key), Some((loc(i), None)));
        }
    }

    #[test]
    fn an_overestimated_reservation_is_given_back_after_recovery() {
        let load = |kd: &Keydir| {
            for i in 0..100u32 {
                kd.recover(
                    format!("k{i}").as_bytes(),
                    loc(i),
                    None,
                    u64::from(i),
                    i % 2 == 0,
                );
            }
            assert_eq!(kd.finish_recovery(), 99);
        };
        let reserved = Keydir::default();
        reserved.reserve(2_000_000);
        let before = reserved.allocated_bytes();
        assert!(before > 8_000_000);
        load(&reserved);
        assert_eq!(reserved.len(), 50);
        // What is left is the 50 keys' slots, arena chunks and small tables.
        assert!(
            reserved.allocated_bytes() < 1_500_000,
            "{}",
            reserved.allocated_bytes()
        );
        for i in 0..100u32 {
            let want = (i % 2 == 1).then_some((loc(i), None));
            assert_eq!(reserved.get(format!("k{i}").as_bytes()), want);
        }
    }

    #[test]
    fn recovery_keeps_newest_by_seq_and_tombstones_shadow() {
        let kd = Keydir::default();
        assert_eq!(
            kd.recover(b"a", loc(1), None, 5, false),
            Recovered::Inserted
        );
        assert_eq!(kd.recover(b"a", loc(2), None, 3, false), Recovered::Stale);
        assert_eq!(
            kd.recover(b"a", loc(3), None, 9, true),
            Recovered::Replaced(loc(1))
        );
        // An older value replayed after the tombstone must stay dead.
        assert_eq!(kd.recover(b"a", loc(4), None, 7, false), Recovered::Stale);
        assert_eq!(
            kd.recover(b"b", loc(5), Some(77), 2, false),
            Recovered::Inserted
        );
        assert_eq!(kd.finish_recovery(), 9);
        assert_eq!(kd.get(b"a"), None);
        assert_eq!(kd.get(b"b"), Some((loc(5), Some(77))));
        assert_eq!(kd.len(), 1);
    }

    #[test]
    fn scan_resumes_from_cursor() {
        let kd = Keydir::default();
        for i in 0..1000u32 {
            kd.upsert(format!("{i}").as_bytes(), loc(i), None);
        }
        let mut all = Vec::new();
        let mut cursor = 0;
        loop {
            let mut n = 0;
            cursor = kd.scan(cursor, |k, _, _| {
                all.push(k.to_vec());
                n += 1;
                n < 10
            });
            if cursor == 0 {
                break;
            }
        }
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 1000);
    }
}
