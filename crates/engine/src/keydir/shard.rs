//! One shard of the keydir: a hash index of slot ids, a slab of slots, and a key arena.
//!
//! Memory per key, counted in `stats` from real allocations:
//! - 20 bytes of [`Slot`] in the slab (no 64-bit field where 32 bits suffice);
//! - 5.3 bytes per index position (a `u32` slot id and a one-byte tag, 12 to a cache
//!   line; see [`super::index`]), at a load factor between 7/16 and 7/8;
//! - the key bytes in the arena, with no per-key allocation header.
//!
//! The sequence number stays on disk. Recovery is the one place that needs it in RAM, to
//! pick the newest record of a key whatever order files are replayed in, so it lives in
//! a side vector that only exists while the database is being opened.

use super::arena::{Arena, KeyRef};
use super::index::{Entry, Index};
use super::Loc;
use foldhash::fast::RandomState;
use hashbrown::HashMap;
use std::hash::BuildHasher;

const SLOT_CHUNK: usize = 1024;
/// Marks a free slot (file ids stay below 2^31).
const FREE: u32 = u32::MAX;
/// File-id bit that says the key has an expiry in the side map.
const HAS_EXPIRY: u32 = 1 << 31;

/// Where a slot's `key_hi` keeps the key's check byte, above the [`KeyRef`] bits
/// (whose top byte is always zero).
const CHECK_SHIFT: u32 = 24;

/// The [`KeyRef`] bits of a slot's `key_hi`, below the check byte.
const KEY_HI_BITS: u32 = (1 << CHECK_SHIFT) - 1;

/// A key's check byte: eight hash bits that neither the index tag (bits 56..64), the
/// shard (bits 40..45) nor group selection (the low bits) use. The slot has to be read
/// for a tag match anyway; the check byte then settles 255 of 256 tag collisions
/// without the key's bytes (one more dependent cache miss into the arena) and, on the
/// read path, without reading the other key's record from disk.
fn check_of(hash: u64) -> u8 {
    (hash >> 32) as u8
}

/// A keydir entry: where the newest record of a key lives, in 20 bytes.
#[derive(Clone, Copy, Debug)]
struct Slot {
    /// File id, with [`HAS_EXPIRY`] as its top bit; [`FREE`] for an unused slot.
    file: u32,
    offset: u32,
    /// Record length; 0 marks a tombstone during recovery only.
    size: u32,
    key_lo: u32,
    /// The key's [`KeyRef`] high half, and its check byte from [`CHECK_SHIFT`] up.
    key_hi: u32,
}

impl Slot {
    fn new(loc: Loc, key: KeyRef, check: u8) -> Self {
        let mut slot = Self {
            file: loc.file_id,
            offset: loc.offset,
            size: loc.size,
            key_lo: 0,
            key_hi: u32::from(check) << CHECK_SHIFT,
        };
        slot.set_key(key);
        slot
    }
    fn key(&self) -> KeyRef {
        KeyRef::from_parts(self.key_lo, self.key_hi & KEY_HI_BITS)
    }
    /// Moves the key (arena compaction), keeping its check byte.
    fn set_key(&mut self, key: KeyRef) {
        let (lo, hi) = key.parts();
        self.key_lo = lo;
        self.key_hi = (self.key_hi & !KEY_HI_BITS) | hi;
    }
    fn check(&self) -> u8 {
        (self.key_hi >> CHECK_SHIFT) as u8
    }
    fn loc(&self) -> Loc {
        Loc {
            file_id: self.file & !HAS_EXPIRY,
            offset: self.offset,
            size: self.size,
        }
    }
    fn has_expiry(&self) -> bool {
        self.file != FREE && self.file & HAS_EXPIRY != 0
    }
}

/// A record offered during recovery.
#[derive(Debug, Clone, Copy)]
pub struct Offer {
    /// Where it is.
    pub loc: Loc,
    /// Its expiry.
    pub expiry: Option<u64>,
    /// Its sequence number.
    pub seq: u64,
    /// Whether it deletes the key (a tombstone or an expired record).
    pub tombstone: bool,
}

/// Candidate locations for a key (see [`Shard::candidates`]).
#[derive(Debug, Default)]
pub struct Candidates {
    /// (location, expiry) of each candidate; the first `len` are set.
    pub items: [(Loc, Option<u64>); 4],
    /// Number of candidates.
    pub len: usize,
    /// More than four candidates matched: the caller must use an exact lookup.
    pub overflow: bool,
}

/// How a record offered during recovery compared with what the shard already had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recovered {
    /// The key was new.
    Inserted,
    /// The record replaced an older one at this location (size 0: an older tombstone).
    Replaced(Loc),
    /// The shard already had a newer record; the offered one is dead.
    Stale,
}

/// One shard.
#[derive(Debug, Default)]
pub struct Shard {
    table: Index,
    slots: Vec<Vec<Slot>>,
    free: Vec<u32>,
    arena: Arena,
    expiry: HashMap<u32, u64, RandomState>,
    /// Sequence numbers by slot id; `Some` only while recovering.
    seqs: Option<Vec<u64>>,
    live: usize,
}

// Slots live in fixed-size chunks so that growing the slab never copies it (and never
// doubles its allocation); these two helpers are the only place that splits an id.
fn slot_at(slots: &[Vec<Slot>], id: u32) -> &Slot {
    &slots[id as usize / SLOT_CHUNK][id as usize % SLOT_CHUNK]
}

fn slot_at_mut(slots: &mut [Vec<Slot>], id: u32) -> &mut Slot {
    &mut slots[id as usize / SLOT_CHUNK][id as usize % SLOT_CHUNK]
}

fn alloc_slot(slots: &mut Vec<Vec<Slot>>, free: &mut Vec<u32>, slot: Slot) -> u32 {
    if let Some(id) = free.pop() {
        *slot_at_mut(slots, id) = slot;
        return id;
    }
    if slots.last().is_none_or(|c| c.len() == SLOT_CHUNK) {
        slots.push(Vec::with_capacity(SLOT_CHUNK));
    }
    let chunk = slots.len() - 1;
    slots[chunk].push(slot);
    // Slot ids are u32: a shard holds far fewer than 4G keys (the table would not fit).
    u32::try_from(chunk * SLOT_CHUNK + slots[chunk].len() - 1).unwrap_or(u32::MAX)
}

impl Shard {
    fn slot(&self, id: u32) -> &Slot {
        slot_at(&self.slots, id)
    }

    fn slot_mut(&mut self, id: u32) -> &mut Slot {
        slot_at_mut(&mut self.slots, id)
    }

    fn find(&self, hash: u64, key: &[u8]) -> Option<u32> {
        match self.lookup(hash, key) {
            Entry::Occupied(_, id) => Some(id),
            Entry::Vacant(_) => None,
        }
    }

    fn lookup(&self, hash: u64, key: &[u8]) -> Entry {
        let check = check_of(hash);
        self.table.entry(hash, |id| {
            let slot = slot_at(&self.slots, id);
            slot.check() == check && self.arena.get(slot.key()) == key
        })
    }

    /// Stores `key` and a slot pointing at `loc`, and indexes it at `pos`, which
    /// [`Shard::lookup`] returned vacant; returns the slot id. The index always has room
    /// (callers run [`Shard::make_room`] first); if it somehow had not, it is rebuilt
    /// bigger from the slab, which indexes the new slot too, rather than the key lost.
    fn insert(
        &mut self,
        hasher: &RandomState,
        pos: super::index::Pos,
        hash: u64,
        key: &[u8],
        loc: Loc,
    ) -> u32 {
        let slot = Slot::new(loc, self.arena.alloc(key), check_of(hash));
        self.live += 1;
        let id = alloc_slot(&mut self.slots, &mut self.free, slot);
        if !self.table.insert_at(pos, hash, id) {
            self.rebuild(hasher, (self.table.capacity() * 2).max(16));
        }
        id
    }

    /// Points slot `id` at `loc`, keeping its expiry flag; returns where it pointed.
    fn repoint(&mut self, id: u32, loc: Loc) -> Loc {
        let slot = self.slot_mut(id);
        let old = slot.loc();
        slot.file = loc.file_id | (slot.file & HAS_EXPIRY);
        slot.offset = loc.offset;
        slot.size = loc.size;
        old
    }

    /// Replaces the index by one of `capacity` holding every live slot, reading the slab
    /// and the keys in id order.
    fn rebuild(&mut self, hasher: &RandomState, capacity: usize) {
        let mut table = Index::with_capacity(capacity.max(self.live));
        for (id, slot) in (0u32..).zip(self.slots.iter().flatten()) {
            if slot.file != FREE {
                table.insert_unique(hasher.hash_one(self.arena.get(slot.key())), id);
            }
        }
        self.table = table;
    }

    /// Grows the index (or, after many deletions, rebuilds it clean) before an insert
    /// would find it full. The bigger index is built by walking the slab in id order, so
    /// slots and keys are read sequentially rather than in the index's random order.
    fn make_room(&mut self, hasher: &RandomState) {
        self.make_room_for(hasher, 1);
    }

    /// Like [`Shard::make_room`], for `n` inserts.
    pub fn make_room_for(&mut self, hasher: &RandomState, n: usize) {
        if self.table.len() + n <= self.table.capacity() {
            return;
        }
        // Twice the current capacity doubles the group count exactly (asking for one
        // more would quadruple it); when deletions have eaten the capacity, the same size
        // comes back, cleaned.
        let want = (self.table.capacity() * 2)
            .max(self.table.len() + n)
            .max(16);
        self.rebuild(hasher, want);
    }

    fn set_expiry(&mut self, id: u32, expiry: Option<u64>) {
        let slot = self.slot_mut(id);
        match expiry {
            Some(at) => {
                slot.file |= HAS_EXPIRY;
                self.expiry.insert(id, at);
            }
            None => {
                if slot.has_expiry() {
                    slot.file &= !HAS_EXPIRY;
                    self.expiry.remove(&id);
                }
            }
        }
    }

    fn expiry_of(&self, id: u32) -> Option<u64> {
        if self.slot(id).has_expiry() {
            self.expiry.get(&id).copied()
        } else {
            None
        }
    }

    /// Locations of every entry whose hash tag and check byte match, without comparing
    /// keys: the read path verifies the key in the record it reads anyway, so skipping
    /// the key arena saves a dependent cache miss per get. Almost always one candidate.
    pub fn candidates(&self, hash: u64, out: &mut Candidates) {
        let check = check_of(hash);
        for id in self.table.candidates(hash) {
            if self.slot(id).check() != check {
                continue;
            }
            if out.len == out.items.len() {
                out.overflow = true;
                return;
            }
            out.items[out.len] = (self.slot(id).loc(), self.expiry_of(id));
            out.len += 1;
        }
    }

    /// Looks a key up.
    pub fn get(&self, hash: u64, key: &[u8]) -> Option<(Loc, Option<u64>)> {
        let id = self.find(hash, key)?;
        Some((self.slot(id).loc(), self.expiry_of(id)))
    }

    /// Points `key` at `loc`, returning where it pointed before. One probe of the table
    /// whether the key is new or not.
    pub fn upsert(
        &mut self,
        hasher: &RandomState,
        hash: u64,
        key: &[u8],
        loc: Loc,
        expiry: Option<u64>,
    ) -> Option<Loc> {
        self.make_room(hasher);
        let (id, old) = match self.lookup(hash, key) {
            Entry::Occupied(_, id) => (id, Some(self.repoint(id, loc))),
            Entry::Vacant(pos) => (self.insert(hasher, pos, hash, key, loc), None),
        };
        if expiry.is_some() || old.is_some() {
            self.set_expiry(id, expiry);
        }
        old
    }

    /// Removes `key`, returning where it pointed.
    pub fn remove(&mut self, hash: u64, key: &[u8]) -> Option<Loc> {
        let Entry::Occupied(pos, id) = self.lookup(hash, key) else {
            return None;
        };
        self.table.remove(pos);
        Some(self.release(id))
    }

    fn release(&mut self, id: u32) -> Loc {
        let slot = *self.slot(id);
        if slot.has_expiry() {
            self.expiry.remove(&id);
        }
        self.arena.free(slot.key());
        self.slot_mut(id).file = FREE;
        self.free.push(id);
        self.live -= 1;
        if self.arena.wants_compaction() {
            self.compact_arena();
        }
        slot.loc()
    }

    /// Re-points `key` from `from` (file and offset) to `to`, only if it still points at
    /// `from`: merge's compare-and-set, so a write that landed meanwhile always wins.
    pub fn compare_and_move(&mut self, hash: u64, key: &[u8], from: Loc, to: Loc) -> bool {
        let Some(id) = self.find(hash, key) else {
            return false;
        };
        let cur = self.slot(id).loc();
        if cur.file_id != from.file_id || cur.offset != from.offset {
            return false;
        }
        self.repoint(id, to);
        true
    }

    /// Offers a record found while opening. `loc.size == 0` with `tombstone` marks a
    /// delete (or an expired record), which must shadow older records until recovery ends.
    pub fn recover(
        &mut self,
        hasher: &RandomState,
        hash: u64,
        key: &[u8],
        offer: Offer,
    ) -> Recovered {
        let Offer {
            mut loc,
            expiry,
            seq,
            tombstone,
        } = offer;
        if tombstone {
            loc.size = 0;
        }
        let expiry = if tombstone { None } else { expiry };
        self.make_room(hasher);
        // One probe whether the key is new or not: recovery offers every record of the
        // database, so this is the loop that decides how long an open takes.
        let (id, outcome) = match self.lookup(hash, key) {
            Entry::Occupied(_, id) => {
                let cur = self.seqs.as_ref().and_then(|s| s.get(id as usize)).copied();
                if cur.is_some_and(|cur| cur >= seq) {
                    return Recovered::Stale;
                }
                (id, Recovered::Replaced(self.repoint(id, loc)))
            }
            Entry::Vacant(pos) => (
                self.insert(hasher, pos, hash, key, loc),
                Recovered::Inserted,
            ),
        };
        if expiry.is_some() || outcome != Recovered::Inserted {
            self.set_expiry(id, expiry);
        }
        self.set_seq(id, seq);
        outcome
    }

    /// See [`Index::prefetch`].
    pub fn prefetch(&self, hash: u64) {
        self.table.prefetch(hash);
    }

    /// Prefetches the slots whose tags match `hash` (reading the index line, which
    /// should already be cached: see [`super::Keydir::prefetch_many`]).
    pub fn prefetch_entries(&self, hash: u64) {
        for id in self.table.candidates(hash).take(2) {
            super::prefetch(self.slot(id));
        }
    }

    /// Makes room for `additional` more keys, so that loading a database of known size
    /// never rehashes (a rehash re-reads every key from the arena: a cache miss each).
    pub fn reserve(&mut self, hasher: &RandomState, additional: usize) {
        self.make_room_for(hasher, additional);
        self.slots.reserve(additional.div_ceil(SLOT_CHUNK));
        if let Some(seqs) = self.seqs.as_mut() {
            seqs.reserve(additional);
        } else {
            self.seqs = Some(Vec::with_capacity(additional));
        }
    }

    /// Gives back table memory a reservation overestimated (hint counts include stale
    /// records and tombstones), once the real number of keys is known.
    fn shrink_if_oversized(&mut self, hasher: &RandomState) {
        if self.table.capacity() > 4 * self.live.max(64) {
            self.rebuild(hasher, self.live);
        }
        self.slots.shrink_to_fit();
    }

    fn set_seq(&mut self, id: u32, seq: u64) {
        let seqs = self.seqs.get_or_insert_with(Vec::new);
        let i = id as usize;
        if seqs.len() <= i {
            seqs.resize(i + 1, 0);
        }
        seqs[i] = seq;
    }

    /// Ends recovery: drops tombstones and the sequence numbers. Returns the highest
    /// sequence number seen.
    pub fn finish_recovery(&mut self, hasher: &RandomState) -> u64 {
        let max = self
            .seqs
            .take()
            .map_or(0, |s| s.into_iter().max().unwrap_or(0));
        // Walk the slab in order rather than the table: sequential reads, not a cache
        // miss per key.
        let dead: Vec<(u32, u64)> = (0u32..)
            .zip(self.slots.iter().flatten())
            .filter(|(_, slot)| slot.file != FREE && slot.size == 0)
            .map(|(id, slot)| (id, hasher.hash_one(self.arena.get(slot.key()))))
            .collect();
        for (id, hash) in dead {
            if let Some(pos) = self.table.find(hash, id) {
                self.table.remove(pos);
                self.release(id);
            }
        }
        self.shrink_if_oversized(hasher);
        max
    }

    /// Keys whose expiry has passed but that are still indexed.
    pub fn count_expired(&self, now: u64) -> usize {
        self.expiry.values().filter(|&&at| at <= now).count()
    }

    /// (keys, keys with a TTL, key bytes, value bytes) over unexpired entries.
    pub fn totals(&self, now: u64) -> (u64, u64, u64, u64) {
        let mut t = (0, 0, 0, 0);
        self.for_each_from(0, |key, loc, expiry| {
            if expiry.is_none_or(|at| at > now) {
                t.0 += 1;
                t.1 += u64::from(expiry.is_some());
                t.2 += key.len() as u64;
                t.3 += u64::from(loc.size)
                    .saturating_sub((crate::format::record::RECORD_HEADER_LEN + key.len()) as u64);
            }
            true
        });
        t
    }

    /// Live keys in this shard.
    pub fn len(&self) -> usize {
        self.live
    }

    /// Bytes allocated by this shard.
    pub fn allocated_bytes(&self) -> usize {
        self.table.allocation_size()
            + self.slots.iter().map(Vec::capacity).sum::<usize>() * std::mem::size_of::<Slot>()
            + self.free.capacity() * 4
            + self.arena.allocated()
            + self.expiry.allocation_size()
            + self.slots.capacity() * std::mem::size_of::<Vec<Slot>>()
    }

    fn compact_arena(&mut self) {
        let mut fresh = Arena::default();
        for chunk in &mut self.slots {
            for slot in chunk.iter_mut().filter(|s| s.file != FREE) {
                slot.set_key(fresh.alloc(self.arena.get(slot.key())));
            }
        }
        self.arena = fresh;
    }

    /// Calls `f` for live entries from slot `start` on, until it returns false.
    /// Returns the slot id to resume from, or `None` at the end.
    pub fn for_each_from(
        &self,
        start: u32,
        mut f: impl FnMut(&[u8], Loc, Option<u64>) -> bool,
    ) -> Option<u32> {
        let total = self.slots.iter().map(Vec::len).sum::<usize>();
        let mut id = start as usize;
        while id < total {
            let slot = &self.slots[id / SLOT_CHUNK][id % SLOT_CHUNK];
            id += 1;
            if slot.file == FREE || slot.size == 0 {
                continue;
            }
            let key = self.arena.get(slot.key());
            let expiry = self.expiry_of(u32::try_from(id - 1).unwrap_or(u32::MAX));
            if !f(key, slot.loc(), expiry) {
                return u32::try_from(id).ok();
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(offset: u32) -> Loc {
        Loc {
            file_id: 1,
            offset,
            size: 10,
        }
    }

    #[test]
    fn the_check_byte_settles_tag_collisions_and_survives_arena_compaction() {
        let hasher = RandomState::default();
        let mut shard = Shard::default();
        let fillers: Vec<_> = (0..40_000u32)
            .map(|i| format!("filler-{i:08}").into_bytes())
            .collect();
        for (i, key) in (0..).zip(&fillers) {
            shard.upsert(&hasher, hasher.hash_one(key), key, at(i), None);
        }
        // This hash is chosen, not computed (and nothing below rebuilds the index, which
        // would rehash the key): `h` and `h ^ 1 << 32` share the tag, the group and the
        // shard, and differ only in the check byte.
        let h = 0xAB00_0000_0000_0005u64;
        shard.upsert(&hasher, h, b"key", at(7), None);
        let mut found = Candidates::default();
        shard.candidates(h ^ (1 << 32), &mut found);
        assert_eq!(found.len, 0, "a different check byte is no candidate");
        shard.candidates(h, &mut found);
        assert_eq!((found.len, found.items[0].0), (1, at(7)));
        // Same hash, other key: the key bytes still decide.
        assert_eq!(shard.get(h, b"other"), None);
        // Deleting the fillers compacts the arena, which moves every key left.
        let before = shard.arena.allocated();
        for key in &fillers {
            assert!(shard.remove(hasher.hash_one(key), key).is_some());
        }
        assert!(shard.arena.allocated() < before, "the arena was compacted");
        let mut found = Candidates::default();
        shard.candidates(h, &mut found);
        assert_eq!((found.len, found.items[0].0), (1, at(7)));
        assert_eq!(shard.get(h, b"key").map(|(loc, _)| loc), Some(at(7)));
    }

    #[test]
    fn the_index_grows_by_doubling() {
        let hasher = RandomState::default();
        let mut shard = Shard::default();
        let mut bytes = 0;
        for i in 0..100_000u32 {
            let key = i.to_le_bytes();
            shard.upsert(&hasher, hasher.hash_one(key), &key, at(i), None);
            let now = shard.table.allocation_size();
            if now != bytes {
                assert!(
                    bytes == 0 || now == 2 * bytes,
                    "{bytes} -> {now} bytes at {i}"
                );
                bytes = now;
            }
        }
        assert_eq!(shard.len(), 100_000);
    }
}
