//! Opening a directory of arbitrary data and hint files (with or without valid headers)
//! never panics, and the database it opens keeps working: `check`, `keys`, `get`,
//! `stats` and a merge either succeed or return a typed error.
#![no_main]

#[path = "../../crates/engine/tests/support/mod.rs"]
mod support;

use ccbitcask_engine::format::header::{FileHeader, FileKind, Magic};
use ccbitcask_engine::vfs::{OpenMode, Vfs};
use ccbitcask_engine::{check_with, Bitcask};
use libfuzzer_sys::fuzz_target;
use std::io::IoSlice;
use std::sync::Arc;
use support::SimFs;

fuzz_target!(|data: &[u8]| {
    let sim = SimFs::new();
    let dir = support::sim_dir();
    sim.create_dir_all(&dir).unwrap();
    // Up to three files: [len_lo, len_hi, kind] then bytes; a valid header is
    // prepended to data files half of the time so the fuzzer reaches the records.
    let mut rest = data;
    for id in 1..=3u32 {
        let [lo, hi, kind, tail @ ..] = rest else {
            break;
        };
        let len = (usize::from(*lo) | usize::from(*hi) << 8).min(tail.len());
        let (body, tail) = tail.split_at(len);
        rest = tail;
        let hint = kind & 1 == 1;
        let path = if hint {
            ccbitcask_engine::fs::hint_path(&dir, id)
        } else {
            ccbitcask_engine::fs::data_path(&dir, id)
        };
        let f = sim.open(&path, OpenMode::CreateNew).unwrap();
        if kind & 2 == 2 {
            let h = FileHeader {
                magic: if hint { Magic::Hint } else { Magic::Data },
                kind: if kind & 4 == 4 {
                    FileKind::Merged
                } else {
                    FileKind::Log
                },
                file_id: id,
            };
            f.append_all(&mut [IoSlice::new(&h.encode())]).unwrap();
        }
        f.append_all(&mut [IoSlice::new(body)]).unwrap();
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
});
