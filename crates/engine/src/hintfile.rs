//! Writing hint files, and reading them back only when they prove themselves valid.

use crate::datafile::scan::scan_committed;
use crate::datafile::DataFile;
use crate::db::Inner;
use crate::error::{Error, Result};
use crate::format::header::{FileHeader, FileKind, Magic, HEADER_LEN};
use crate::format::hint::{self, Decoded, HintEntry, HINT_HEADER_LEN};
use crate::fs;
use crate::vfs::{OpenMode, Vfs, VfsFile};
use std::io::{self, IoSlice};
use std::path::Path;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

/// Starts a hint file's bytes: the header for data file `id`.
pub(crate) fn begin(id: u32) -> Vec<u8> {
    FileHeader {
        magic: Magic::Hint,
        kind: FileKind::Log,
        file_id: id,
    }
    .encode()
    .to_vec()
}

/// Writes `bytes` to `path` so that the name only ever refers to complete, durable
/// content: write a temporary file, fsync it, rename it over, fsync the directory.
pub(crate) fn write_atomically(fs: &dyn Vfs, dir: &Path, path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = fs::tmp_path(path);
    let _ = fs.remove(&tmp);
    let file = fs
        .open(&tmp, OpenMode::CreateNew)
        .map_err(|e| Error::io("create", &tmp, e))?;
    file.append_all(&mut [IoSlice::new(bytes)])
        .and_then(|()| file.sync_data())
        .map_err(|e| Error::io("write", &tmp, e))?;
    drop(file);
    fs.rename(&tmp, path)
        .map_err(|e| Error::io("rename", &tmp, e))?;
    fs.sync_dir(dir)
        .map_err(|e| Error::io("fsync directory", dir, e))
}

/// Scans a sealed data file and writes its hint file.
pub(crate) fn write_for_data_file(inner: &Inner, df: &DataFile) -> Result<()> {
    let data_path = fs::data_path(&inner.opts.dir, df.id);
    let len = df
        .file
        .len()
        .map_err(|e| Error::io("stat", &data_path, e))?;
    let mut buf = begin(df.id);
    let mut count = 0u64;
    scan_committed(
        Arc::clone(&df.file),
        len,
        |rec| {
            hint::encode_entry(
                &mut buf,
                &HintEntry {
                    seq: rec.meta.seq,
                    expiry: rec.meta.expiry,
                    offset: rec.offset as u32,
                    size: rec.meta.record_len() as u32,
                    tombstone: rec.meta.is_tombstone(),
                },
                rec.key,
            );
            count += 1;
        },
        |_| {},
    )
    .map_err(|e| Error::io("scan", &data_path, e))?;
    hint::encode_trailer(&mut buf, count, len);
    let path = fs::hint_path(&inner.opts.dir, df.id);
    write_atomically(inner.opts.fs.as_ref(), &inner.opts.dir, &path, &buf)?;
    df.has_hint.store(true, Relaxed);
    Ok(())
}

/// Damage to report when a data file is shorter than its hint file's trailer says it
/// was when sealed. A sealed file cut at a record boundary still scans as valid records,
/// so this recorded length is the only witness that its end was lost; without it the
/// missing records would vanish silently.
pub(crate) fn truncation_damage(
    fsys: &dyn Vfs,
    dir: &Path,
    id: u32,
    data_len: u64,
) -> Option<crate::datafile::scan::Damage> {
    let file = fsys.open(&fs::hint_path(dir, id), OpenMode::Read).ok()?;
    let at = file.len().ok()?.checked_sub(HINT_HEADER_LEN as u64)?;
    if at < HEADER_LEN as u64 {
        return None;
    }
    let mut buf = [0u8; HINT_HEADER_LEN];
    file.read_exact_at(&mut buf, at).ok()?;
    match hint::decode(&buf)? {
        Decoded::Trailer { data_len: was, .. } if was > data_len => {
            Some(crate::datafile::scan::Damage {
                offset: data_len,
                reason: format!(
                    "data file truncated: {data_len} bytes, its hint file describes {was}"
                ),
                at_tail: false,
            })
        }
        _ => None,
    }
}

/// Streams the entries of a hint file through `f`. Returns `Ok(false)` as soon as
/// anything is wrong: bad header, a bad entry, an entry pointing outside the data file,
/// no trailer, or a trailer that disagrees with the entries or the data file's length.
pub(crate) fn for_each_entry(
    file: &Arc<dyn VfsFile>,
    id: u32,
    data_len: u64,
    mut f: impl FnMut(&HintEntry, &[u8]),
) -> io::Result<bool> {
    let len = file.len()?;
    let mut head = [0u8; HEADER_LEN];
    if len < HEADER_LEN as u64 {
        return Ok(false);
    }
    file.read_exact_at(&mut head, 0)?;
    match FileHeader::decode(&head, Magic::Hint) {
        Ok(h) if h.file_id == id => {}
        _ => return Ok(false),
    }
    let mut buf: Vec<u8> = Vec::new();
    let mut buf_off = HEADER_LEN as u64;
    let mut pos = 0usize;
    let mut count = 0u64;
    loop {
        if buf.len() - pos < HINT_HEADER_LEN + crate::MAX_KEY_SIZE {
            let at = buf_off + buf.len() as u64;
            let want = usize::try_from((len - at).min(1 << 20)).unwrap_or(1 << 20);
            if want > 0 {
                buf.drain(..pos);
                buf_off += pos as u64;
                pos = 0;
                let old = buf.len();
                buf.resize(old + want, 0);
                file.read_exact_at(&mut buf[old..], at)?;
            }
        }
        match hint::decode(&buf[pos..]) {
            None => return Ok(false),
            Some(Decoded::Trailer {
                count: c,
                data_len: l,
            }) => {
                let end = buf_off + pos as u64 + HINT_HEADER_LEN as u64;
                return Ok(c == count && l == data_len && end == len);
            }
            Some(Decoded::Entry { entry, key, len: n }) => {
                let end = u64::from(entry.offset) + u64::from(entry.size);
                if u64::from(entry.offset) < HEADER_LEN as u64 || end > data_len {
                    return Ok(false);
                }
                f(&entry, key);
                count += 1;
                pos += n;
            }
        }
    }
}
