//! `get`, `set`, `del` and `keys`. Keys and values are raw bytes end to end.

use crate::args::EngineOpts;
use crate::{exit, open};
use ccbitcask_engine::{Error, Result};
use std::ffi::OsStr;
use std::io::{Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

fn write_line(bytes: &[u8]) -> Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush())
        .or_else(|e| {
            // A closed pipe (`| head`) is the reader's choice, not our failure.
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                Ok(())
            } else {
                Err(e)
            }
        })
        .map_err(|e| Error::Io {
            op: "write",
            path: "<stdout>".into(),
            source: e,
        })
}

/// `get KEY`: the value, or `(nil)`.
pub fn get(db_dir: &Path, key: &OsStr) -> Result<i32> {
    let db = open::reader(db_dir)?;
    match db.get(key.as_bytes())? {
        Some(v) => write_line(&v)?,
        None => write_line(b"(nil)")?,
    }
    Ok(exit::OK)
}

/// `set KEY VALUE`, or `set KEY -` to read the value from stdin.
pub fn set(db_dir: &Path, opts: &EngineOpts, key: &OsStr, value: &OsStr) -> Result<i32> {
    let stdin_value;
    let value = if value == "-" {
        let mut buf = Vec::new();
        // Read one byte past the limit so an oversized value is refused, not truncated.
        std::io::stdin()
            .lock()
            .take(ccbitcask_engine::MAX_VALUE_SIZE as u64 + 1)
            .read_to_end(&mut buf)
            .map_err(|e| Error::Io {
                op: "read",
                path: "<stdin>".into(),
                source: e,
            })?;
        stdin_value = buf;
        &stdin_value[..]
    } else {
        value.as_bytes()
    };
    let db = open::writer(db_dir, opts)?;
    db.put(key.as_bytes(), value)?;
    db.close()?;
    Ok(exit::OK)
}

/// `del KEY`.
pub fn del(db_dir: &Path, opts: &EngineOpts, key: &OsStr) -> Result<i32> {
    let db = open::writer(db_dir, opts)?;
    db.delete(key.as_bytes())?;
    db.close()?;
    Ok(exit::OK)
}

/// `keys [GLOB]`, one per line.
pub fn keys(db_dir: &Path, glob: Option<&OsStr>) -> Result<i32> {
    let db = open::reader(db_dir)?;
    let mut keys = db.keys();
    keys.sort();
    for k in keys {
        if glob.is_none_or(|g| ccbitcask_server::glob::matches(g.as_bytes(), &k)) {
            write_line(&k)?;
        }
    }
    Ok(exit::OK)
}
