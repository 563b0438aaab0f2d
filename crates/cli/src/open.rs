//! Opening the database the way each command needs it.

use crate::args::EngineOpts;
use ccbitcask_engine::{Bitcask, MergeOptions, Result};
use std::path::Path;

/// Opens for writing (creating the directory if missing). The background merger is off:
/// a CLI process lives for one command; `ccbitcask merge` is the explicit way.
pub fn writer(db: &Path, opts: &EngineOpts) -> Result<Bitcask> {
    let mut b = Bitcask::builder(db).merge_options(MergeOptions {
        auto: false,
        ..MergeOptions::default()
    });
    if let Some(size) = opts.max_file_size {
        b = b.max_file_size(size);
    }
    if let Some(sync) = opts.sync {
        b = b.sync(sync);
    }
    b.open()
}

/// Opens for reading. Read-only when the database exists, so reads work while a server
/// holds the writer lock; a missing directory is created, as the default `./database` is.
pub fn reader(db: &Path) -> Result<Bitcask> {
    if db.is_dir() {
        Bitcask::builder(db).read_only(true).open()
    } else {
        writer(db, &EngineOpts::default())
    }
}
