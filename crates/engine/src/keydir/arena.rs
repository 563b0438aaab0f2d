//! Key bytes, packed into chunks so that no key costs a heap allocation of its own.
//!
//! Chunks grow from 4 KiB to 1 MiB and are never reallocated, so a key's address is
//! stable and the allocated size is the sum of chunk capacities (what `stats` reports).
//! Deleted keys leave garbage; the shard compacts the arena when garbage dominates.

/// Where a key lives: chunk, offset and length packed into 56 bits of a `u64`.
///
/// ```text
/// bits  0..17  length   (0..=65_536, MAX_KEY_SIZE)
/// bits 17..37  offset   within the chunk (chunks are at most 1 MiB)
/// bits 37..56  chunk    index (512k chunks: 512 GiB of keys in one shard)
/// bits 56..64  zero     (the shard keeps a hash check byte there)
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct KeyRef(u64);

const LEN_BITS: u32 = 17;
const OFF_BITS: u32 = 20;
const MAX_CHUNK: usize = 1 << OFF_BITS;
const FIRST_CHUNK: usize = 4 * 1024;

impl KeyRef {
    fn new(chunk: usize, offset: usize, len: usize) -> Self {
        Self(((chunk as u64) << (LEN_BITS + OFF_BITS)) | ((offset as u64) << LEN_BITS) | len as u64)
    }
    fn chunk(self) -> usize {
        (self.0 >> (LEN_BITS + OFF_BITS)) as usize
    }
    fn offset(self) -> usize {
        ((self.0 >> LEN_BITS) & ((1 << OFF_BITS) - 1)) as usize
    }
    /// The two 32-bit halves stored in a slot (slots avoid 8-byte alignment).
    pub fn parts(self) -> (u32, u32) {
        (self.0 as u32, (self.0 >> 32) as u32)
    }
    /// Rebuilds a reference from [`Self::parts`].
    pub fn from_parts(lo: u32, hi: u32) -> Self {
        Self(u64::from(lo) | (u64::from(hi) << 32))
    }
    /// Key length.
    pub fn len(self) -> usize {
        (self.0 & ((1 << LEN_BITS) - 1)) as usize
    }
}

/// Chunked key storage.
#[derive(Debug, Default)]
pub struct Arena {
    chunks: Vec<Vec<u8>>,
    allocated: usize,
    used: usize,
    garbage: usize,
}

impl Arena {
    /// Copies `key` in and returns its address. Keys are at most `MAX_KEY_SIZE` (64 KiB),
    /// far below the 1 MiB chunk limit.
    pub fn alloc(&mut self, key: &[u8]) -> KeyRef {
        let fits = self
            .chunks
            .last()
            .is_some_and(|c| c.capacity() - c.len() >= key.len());
        if !fits {
            let next = self
                .chunks
                .last()
                .map_or(FIRST_CHUNK, |c| (c.capacity() * 2).min(MAX_CHUNK))
                .max(key.len());
            self.chunks.push(Vec::with_capacity(next));
            self.allocated += next;
        }
        let chunk = self.chunks.len() - 1;
        let buf = &mut self.chunks[chunk];
        let offset = buf.len();
        buf.extend_from_slice(key);
        self.used += key.len();
        KeyRef::new(chunk, offset, key.len())
    }

    /// The bytes of a key.
    pub fn get(&self, r: KeyRef) -> &[u8] {
        self.chunks
            .get(r.chunk())
            .and_then(|c| c.get(r.offset()..r.offset() + r.len()))
            .unwrap_or(&[])
    }

    /// Marks a key's bytes as garbage.
    pub fn free(&mut self, r: KeyRef) {
        self.garbage += r.len();
    }

    /// Whether compaction would pay for itself.
    pub fn wants_compaction(&self) -> bool {
        self.garbage > 64 * 1024 && self.garbage * 2 > self.used
    }

    /// Bytes of chunk capacity allocated.
    pub fn allocated(&self) -> usize {
        self.allocated
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_stable_across_chunk_growth() {
        let mut a = Arena::default();
        let refs: Vec<_> = (0..10_000u32)
            .map(|i| (i, a.alloc(format!("key-{i}").as_bytes())))
            .collect();
        for (i, r) in refs {
            assert_eq!(a.get(r), format!("key-{i}").as_bytes());
        }
        assert!(a.allocated() >= a.used);
        assert!(a.chunks.len() > 1);
    }

    #[test]
    fn max_key_fits() {
        let mut a = Arena::default();
        let big = vec![7u8; crate::MAX_KEY_SIZE];
        let r = a.alloc(&big);
        assert_eq!(r.len(), big.len());
        assert_eq!(a.get(r), &big[..]);
    }
}
