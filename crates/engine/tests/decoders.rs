//! Stable-toolchain versions of the fuzz targets in `fuzz/` (which run the same
//! properties coverage-guided on nightly): the record and hint decoders never panic and
//! accept only what re-encodes to the same bytes, and opening arbitrary files never
//! panics.
//!
//! `PROPTEST_CASES=20000 cargo test -p ccbitcask-engine --test decoders` for a long run.

mod support;

use ccbitcask_engine::format::header::{FileHeader, FileKind, Magic};
use ccbitcask_engine::format::hint::{self, Decoded, HintEntry};
use ccbitcask_engine::format::record::{self, Flags, RecordMeta, RECORD_HEADER_LEN};
use ccbitcask_engine::vfs::{OpenMode, Vfs};
use ccbitcask_engine::{check_with, Bitcask};
use proptest::prelude::*;
use std::io::IoSlice;
use std::sync::Arc;
use support::{env_count, SimFs};

fn config(default: usize) -> ProptestConfig {
    ProptestConfig {
        cases: u32::try_from(env_count("PROPTEST_CASES", default)).unwrap_or(256),
        ..ProptestConfig::default()
    }
}

/// A valid record, then mutated: most mutations must be rejected, and anything
/// accepted must re-encode to the same bytes.
fn record_bytes() -> impl Strategy<Value = Vec<u8>> {
    (
        prop::collection::vec(any::<u8>(), 0..24),
        prop::collection::vec(any::<u8>(), 0..64),
        any::<u64>(),
        0u8..8,
        prop::collection::vec((any::<usize>(), any::<u8>()), 0..3),
        0usize..8,
    )
        .prop_map(|(key, value, seq, flags, edits, cut)| {
            let tomb = flags & 1 == 1;
            let value = if tomb { Vec::new() } else { value };
            let meta = RecordMeta {
                seq,
                timestamp: 1,
                expiry: 0,
                flags: [Flags::TOMBSTONE, Flags::BATCH, Flags::BATCH_END]
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| flags >> i & 1 == 1)
                    .fold(Flags::default(), |f, (_, x)| f.with(*x)),
                key_len: key.len() as u32,
                value_len: value.len() as u32,
            };
            let mut b = record::encode(&meta, &key, &value);
            for (at, x) in edits {
                let n = b.len();
                b[at % n] ^= x;
            }
            b.truncate(b.len().saturating_sub(cut));
            b
        })
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn record_decoder_accepts_only_what_reencodes(bytes in prop_oneof![
        record_bytes(),
        prop::collection::vec(any::<u8>(), 0..128),
    ]) {
        if let Ok(meta) = record::decode(&bytes) {
            let len = usize::try_from(meta.record_len()).unwrap();
            let key_end = RECORD_HEADER_LEN + meta.key_len as usize;
            let again = record::encode(&meta, &bytes[RECORD_HEADER_LEN..key_end], &bytes[key_end..len]);
            prop_assert_eq!(&again[..], &bytes[..len]);
        }
    }

    #[test]
    fn hint_decoder_accepts_only_what_reencodes(
        seq: u64, expiry: u64, offset: u32, size: u32, tombstone: bool,
        key in prop::collection::vec(any::<u8>(), 0..32),
        edits in prop::collection::vec((any::<usize>(), any::<u8>()), 0..3),
        cut in 0usize..6,
    ) {
        let mut b = Vec::new();
        hint::encode_entry(&mut b, &HintEntry { seq, expiry, offset, size, tombstone }, &key);
        for (at, x) in edits {
            let n = b.len();
            b[at % n] ^= x;
        }
        b.truncate(b.len().saturating_sub(cut));
        match hint::decode(&b) {
            None => {}
            Some(Decoded::Entry { entry, key, len }) => {
                let mut again = Vec::new();
                hint::encode_entry(&mut again, &entry, key);
                prop_assert_eq!(&again[..], &b[..len]);
            }
            Some(Decoded::Trailer { count, data_len, crc }) => {
                let again = hint::trailer_bytes(count, data_len, crc);
                prop_assert_eq!(&again[..], &b[..again.len()]);
            }
        }
    }
}

proptest! {
    #![proptest_config(config(128))]

    /// Arbitrary bytes as data and hint files (with and without valid headers, records
    /// spliced in): open, check, get, stats and merge never panic.
    #[test]
    fn opening_arbitrary_files_never_panics(
        files in prop::collection::vec(
            (any::<bool>(), any::<bool>(), any::<bool>(), prop::collection::vec(any::<u8>(), 0..160), prop::option::of(record_bytes())),
            1..4,
        )
    ) {
        let sim = SimFs::new();
        let dir = support::sim_dir();
        sim.create_dir_all(&dir).unwrap();
        for (i, (hint, header, merged, junk, rec)) in files.into_iter().enumerate() {
            let id = i as u32 + 1;
            let path = if hint {
                ccbitcask_engine::fs::hint_path(&dir, id)
            } else {
                ccbitcask_engine::fs::data_path(&dir, id)
            };
            let f = sim.open(&path, OpenMode::CreateNew).unwrap();
            let mut bytes = Vec::new();
            if header {
                let h = FileHeader {
                    magic: if hint { Magic::Hint } else { Magic::Data },
                    kind: if merged { FileKind::Merged } else { FileKind::Log },
                    file_id: id,
                };
                bytes.extend_from_slice(&h.encode());
            }
            if let Some(r) = rec {
                bytes.extend_from_slice(&r);
            }
            bytes.extend_from_slice(&junk);
            f.write_all_at(&mut [IoSlice::new(&bytes)], 0).unwrap();
        }
        let _ = check_with(&sim, &dir);
        if let Ok(db) = Bitcask::builder(&dir).vfs(Arc::new(sim.clone())).open() {
            for k in db.keys() {
                let _ = db.get(&k);
            }
            let _ = db.stats();
            let _ = db.merge();
            for k in db.keys() {
                let _ = db.get(&k);
            }
        }
    }
}
