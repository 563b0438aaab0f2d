//! Opening the database the way each command needs it.

use crate::args::Cli;
use ccbitcask_engine::{Bitcask, MergeOptions, Result};

/// Opens for writing (creating the directory if missing). The background merger is off:
/// a CLI process lives for one command; `ccbitcask merge` is the explicit way.
pub fn writer(cli: &Cli) -> Result<Bitcask> {
    let mut b = Bitcask::builder(&cli.db).merge_options(MergeOptions {
        auto: false,
        ..MergeOptions::default()
    });
    if let Some(size) = cli.max_file_size {
        b = b.max_file_size(size);
    }
    if let Some(sync) = cli.sync {
        b = b.sync(sync);
    }
    b.open()
}

/// Opens for reading. Read-only when the database exists, so reads work while a server
/// holds the writer lock; a missing directory is created, as the default `./database` is.
pub fn reader(cli: &Cli) -> Result<Bitcask> {
    if cli.db.is_dir() {
        Bitcask::builder(&cli.db).read_only(true).open()
    } else {
        writer(cli)
    }
}
