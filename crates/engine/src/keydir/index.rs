//! The hash index of one keydir shard: key hash → slot id, in cache-line groups.
//!
//! A group is one 64-byte cache line holding 12 one-byte hash tags and the 12 `u32` slot
//! ids they belong to:
//!
//! ```text
//! bytes 0..12   tags     0 = empty, 1 = deleted, 2..=255 = top byte of the hash
//! bytes 12..16  unused
//! bytes 16..64  ids      u32 slot id of each occupied position
//! ```
//!
//! Why not hashbrown: its control bytes and its buckets are two separate arrays, so a
//! lookup costs a cache miss for the control group and another for the bucket, and an
//! insert a load miss and a store miss. With the tag beside the id, a probe is one miss
//! (then one more for the slot itself), at the same memory: 64 bytes per 12 positions is
//! 5.3 bytes a position against hashbrown's 5, at the same 7/8 maximum load. The keydir
//! probe is most of a `get`'s and a `put`'s cost beyond the syscall, and of an open.
//!
//! Groups are probed triangularly (1, 2, 3… groups on), which visits every group of a
//! power-of-two table; a probe ends at the first group with an empty position, so
//! deleting marks a position deleted unless its group already had an empty one.

const WIDTH: usize = 12;
const EMPTY: u8 = 0;
const DELETED: u8 = 1;

/// One cache line of the index.
#[derive(Clone, Copy, Debug)]
#[repr(C, align(64))]
struct Group {
    tags: [u8; WIDTH],
    _unused: [u8; 4],
    ids: [u32; WIDTH],
}

const EMPTY_GROUP: Group = Group {
    tags: [EMPTY; WIDTH],
    _unused: [0; 4],
    ids: [0; WIDTH],
};

/// The positions of the set bits of `mask`, lowest first.
fn bits(mut mask: u16) -> impl Iterator<Item = usize> {
    std::iter::from_fn(move || {
        let i = mask.trailing_zeros() as usize;
        mask &= mask.checked_sub(1)?;
        Some(i)
    })
}

impl Group {
    /// Bit `i` set where `tags[i] == tag`.
    fn matches(&self, tag: u8) -> u16 {
        self.tags
            .iter()
            .enumerate()
            .fold(0, |m, (i, &t)| m | (u16::from(t == tag) << i))
    }
}

/// Where an entry is: group and position in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pos {
    group: usize,
    slot: usize,
}

/// What [`Index::entry`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Entry {
    /// The id at this position satisfied the predicate.
    Occupied(Pos, u32),
    /// No id did; a new one may go here (see [`Index::insert_at`]).
    Vacant(Pos),
}

/// The index: groups, a power of two of them.
#[derive(Debug)]
pub struct Index {
    groups: Vec<Group>,
    len: usize,
    /// Positions that may still be filled before the load passes 7/8 (deleted positions
    /// count as filled until a rebuild).
    growth_left: usize,
}

impl Default for Index {
    fn default() -> Self {
        Self::with_capacity(0)
    }
}

fn tag_of(hash: u64) -> u8 {
    // The top byte: the shard uses bits 40.., group selection the low bits.
    ((hash >> 56) as u8).max(DELETED + 1)
}

/// Most positions a table of `groups` groups may fill.
fn max_load(groups: usize) -> usize {
    groups * WIDTH * 7 / 8
}

impl Index {
    /// An index that holds `capacity` entries without growing.
    pub fn with_capacity(capacity: usize) -> Self {
        let mut groups = 1;
        while max_load(groups) < capacity {
            groups *= 2;
        }
        Self {
            groups: vec![EMPTY_GROUP; groups],
            len: 0,
            growth_left: max_load(groups),
        }
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Entries it can hold before it must be rebuilt (bigger, or clean of deletions).
    pub fn capacity(&self) -> usize {
        self.len + self.growth_left
    }

    /// Bytes allocated.
    pub fn allocation_size(&self) -> usize {
        self.groups.capacity() * std::mem::size_of::<Group>()
    }

    /// The groups a probe for `hash` visits, in order, up to and including the first one
    /// with an empty position (where every probe for `hash` stops). Triangular steps
    /// visit every group of a power-of-two table once.
    fn probe(&self, hash: u64) -> impl Iterator<Item = (usize, &Group)> + '_ {
        let mask = self.groups.len() - 1;
        let mut g = self.home(hash);
        let mut stride = 0;
        let mut ended = false;
        std::iter::from_fn(move || {
            if ended {
                return None;
            }
            let here = g;
            stride += 1;
            g = (g + stride) & mask;
            ended = self.groups[here].matches(EMPTY) != 0;
            Some((here, &self.groups[here]))
        })
        .take(mask + 1)
    }

    /// Ids whose tag matches `hash`, in probe order: a superset of the ids whose key has
    /// this hash, almost always one.
    pub fn candidates(&self, hash: u64) -> impl Iterator<Item = u32> + '_ {
        let tag = tag_of(hash);
        self.probe(hash)
            .flat_map(move |(_, group)| bits(group.matches(tag)).map(|i| group.ids[i]))
    }

    /// Finds the id for which `eq` holds among those tagged like `hash`; if none does,
    /// the position a new id for `hash` should take.
    pub fn entry(&self, hash: u64, mut eq: impl FnMut(u32) -> bool) -> Entry {
        let tag = tag_of(hash);
        let mut free = None;
        for (g, group) in self.probe(hash) {
            for i in bits(group.matches(tag)) {
                if eq(group.ids[i]) {
                    return Entry::Occupied(Pos { group: g, slot: i }, group.ids[i]);
                }
            }
            if free.is_none() {
                free = bits(group.matches(EMPTY) | group.matches(DELETED))
                    .next()
                    .map(|slot| Pos { group: g, slot });
            }
        }
        // A table below 7/8 load always has an empty position, so `free` is set; the
        // fallback keeps this total.
        Entry::Vacant(free.unwrap_or(Pos { group: 0, slot: 0 }))
    }

    /// The position of `id` (tagged like `hash`), if present.
    pub fn find(&self, hash: u64, id: u32) -> Option<Pos> {
        match self.entry(hash, |x| x == id) {
            Entry::Occupied(pos, _) => Some(pos),
            Entry::Vacant(_) => None,
        }
    }

    /// Puts `id` at `pos`, which [`Index::entry`] returned as vacant for `hash` with no
    /// change to the index since. Returns false, changing nothing, if the index is full:
    /// callers make room first ([`Index::capacity`]).
    pub fn insert_at(&mut self, pos: Pos, hash: u64, id: u32) -> bool {
        let Some(group) = self.groups.get_mut(pos.group) else {
            return false;
        };
        let was = group.tags[pos.slot];
        if was == EMPTY {
            if self.growth_left == 0 {
                return false;
            }
            self.growth_left -= 1;
        } else if was != DELETED {
            return false;
        }
        group.tags[pos.slot] = tag_of(hash);
        group.ids[pos.slot] = id;
        self.len += 1;
        true
    }

    /// Adds `id`, known to be absent, for `hash`.
    pub fn insert_unique(&mut self, hash: u64, id: u32) -> bool {
        match self.entry(hash, |_| false) {
            Entry::Vacant(pos) => self.insert_at(pos, hash, id),
            Entry::Occupied(..) => false,
        }
    }

    /// Removes the entry at `pos`.
    pub fn remove(&mut self, pos: Pos) {
        let Some(group) = self.groups.get_mut(pos.group) else {
            return;
        };
        if group.tags[pos.slot] <= DELETED {
            return;
        }
        // A probe never passes a group with an empty position, so if this group has one,
        // no probe continued past it and this position can be empty too.
        if group.matches(EMPTY) != 0 {
            group.tags[pos.slot] = EMPTY;
            self.growth_left += 1;
        } else {
            group.tags[pos.slot] = DELETED;
        }
        self.len -= 1;
    }

    /// Starts loading the group a probe for `hash` starts at into the CPU cache, without
    /// waiting for it: started before a syscall, or for a run of keys before any of them
    /// is looked up, the misses are paid in parallel.
    pub fn prefetch(&self, hash: u64) {
        super::prefetch(&self.groups[self.home(hash)]);
    }

    /// The group a probe for `hash` starts at.
    fn home(&self, hash: u64) -> usize {
        hash as usize & (self.groups.len() - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    #[test]
    fn a_group_is_one_cache_line() {
        assert_eq!(std::mem::size_of::<Group>(), 64);
        assert_eq!(std::mem::align_of::<Group>(), 64);
    }

    #[test]
    fn capacity_doubles_with_the_groups() {
        let a = Index::with_capacity(1000);
        let b = Index::with_capacity(a.capacity() * 2);
        assert_eq!(b.groups.len(), a.groups.len() * 2);
        assert!(Index::with_capacity(0).capacity() >= 1);
    }

    #[derive(Debug, Clone)]
    enum Op {
        Upsert(u16),
        Remove(u16),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => (0u16..400).prop_map(Op::Upsert),
            2 => (0u16..400).prop_map(Op::Remove),
        ]
    }

    // Keys are ids here; the hash is deliberately poor (few distinct values, shared
    // tags) so that probes cross groups and deleted positions pile up.
    fn hash(key: u16, spread: u64) -> u64 {
        (u64::from(key) % spread).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (u64::from(key % 3) << 56)
    }

    proptest! {
        #[test]
        fn behaves_like_a_hash_map(ops in prop::collection::vec(op(), 1..600), spread in 1u64..200) {
            let mut index = Index::default();
            let mut model: HashMap<u16, ()> = HashMap::new();
            for op in ops {
                match op {
                    Op::Upsert(k) => {
                        if index.len() + 1 > index.capacity() {
                            let mut bigger = Index::with_capacity(index.capacity() * 2 + 1);
                            for &key in model.keys() {
                                prop_assert!(bigger.insert_unique(hash(key, spread), u32::from(key)));
                            }
                            index = bigger;
                        }
                        match index.entry(hash(k, spread), |id| id == u32::from(k)) {
                            Entry::Occupied(_, id) => {
                                prop_assert_eq!(id, u32::from(k));
                                prop_assert!(model.contains_key(&k));
                            }
                            Entry::Vacant(pos) => {
                                prop_assert!(!model.contains_key(&k));
                                prop_assert!(index.insert_at(pos, hash(k, spread), u32::from(k)));
                                model.insert(k, ());
                            }
                        }
                    }
                    Op::Remove(k) => {
                        let found = index.find(hash(k, spread), u32::from(k));
                        prop_assert_eq!(found.is_some(), model.remove(&k).is_some());
                        if let Some(pos) = found {
                            index.remove(pos);
                        }
                    }
                }
                prop_assert_eq!(index.len(), model.len());
            }
            for k in 0u16..400 {
                let listed = index.candidates(hash(k, spread)).any(|id| id == u32::from(k));
                prop_assert_eq!(listed, model.contains_key(&k));
                prop_assert_eq!(index.find(hash(k, spread), u32::from(k)).is_some(), model.contains_key(&k));
            }
        }
    }
}
