//! Writing hint files, and reading them back only when they prove themselves valid.

use crate::datafile::scan::{scan_committed, AtDamage, Damage};
use crate::datafile::DataFile;
use crate::db::Inner;
use crate::error::{Error, Result};
use crate::format::header::{FileHeader, FileKind, Magic, HEADER_LEN};
use crate::format::hint::{self, Decoded, HintEntry, HINT_HEADER_LEN, TRAILER_CRC_AT, TRAILER_LEN};
use crate::fs;
use crate::vfs::{OpenMode, Vfs, VfsFile};
use std::io::{self, IoSlice};
use std::path::Path;
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
    file.write_all_at(&mut [IoSlice::new(bytes)], 0)
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
        AtDamage::SkipPast,
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
    df.set_hint(buf.len() as u64);
    Ok(())
}

/// The entry count a hint file's trailer claims, unverified: good enough to size the
/// keydir before loading.
/// The count is capped by how many entries the file can hold, so a damaged trailer
/// cannot make the caller reserve more memory than the file's size justifies.
pub(crate) fn trailer_count(fsys: &dyn Vfs, dir: &Path, id: u32) -> Option<u64> {
    let file = fsys.open(&fs::hint_path(dir, id), OpenMode::Read).ok()?;
    let at = file.len().ok()?.checked_sub(TRAILER_LEN as u64)?;
    if at < HEADER_LEN as u64 {
        return None;
    }
    let mut buf = [0u8; TRAILER_LEN];
    file.read_exact_at(&mut buf, at).ok()?;
    match hint::decode(&buf)? {
        Decoded::Trailer { count, .. } => {
            Some(count.min((at - HEADER_LEN as u64) / HINT_HEADER_LEN as u64))
        }
        Decoded::Entry { .. } => None,
    }
}

/// A hint file that proved intact: header for its data file, well-formed entries, a
/// trailer counting them, and a whole-file CRC that matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Intact {
    /// The hint file's own length.
    bytes: u64,
    /// The data file's length when the hint was written.
    data_len: u64,
    /// Where the furthest record any entry points at ends.
    max_end: u64,
}

/// What a hint file can do for its data file as that file is now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Judgement {
    /// Intact, and describing the data file at its present length: its entries may
    /// stand in for a scan. `bytes` is the hint file's own size.
    Usable { bytes: u64 },
    /// Missing, damaged, another file's, or describing another length: scan the data
    /// file instead. An intact hint that describes a longer data file is the only
    /// witness that a sealed file lost its end (a file cut at a record boundary still
    /// scans as valid records), and names that damage; a damaged hint never does, so it
    /// cannot make a sound data file look truncated.
    Unusable(Option<Damage>),
}

/// Checks hint file `file` of data file `id` whole, in one streaming pass, against the
/// data file's present length `len`.
pub(crate) fn judge(file: &Arc<dyn VfsFile>, id: u32, len: u64) -> io::Result<Judgement> {
    let Some(intact) = walk(file, id, true, &mut |_, _| {})? else {
        return Ok(Judgement::Unusable(None));
    };
    if intact.data_len == len && intact.max_end <= len {
        return Ok(Judgement::Usable {
            bytes: intact.bytes,
        });
    }
    let lost_end = (intact.data_len > len).then(|| Damage {
        offset: len,
        reason: format!(
            "data file truncated: {len} bytes, its hint file describes {}",
            intact.data_len
        ),
        at_tail: false,
    });
    Ok(Judgement::Unusable(lost_end))
}

/// Streams the entries of a hint file [`judge`] found usable through `f`. Checking first
/// and applying second costs a second read (cheap: one CRC over large buffers), where
/// undoing keydir changes made from a hint that turned out bad would not be cheap.
///
/// The second read is checked against the CRC again: `false` means the bytes changed
/// since `judge` read them (a failing disk, or a file replaced underneath), and the
/// entries already handed to `f` cannot be trusted.
pub(crate) fn entries(
    file: &Arc<dyn VfsFile>,
    id: u32,
    mut f: impl FnMut(&HintEntry, &[u8]),
) -> io::Result<bool> {
    Ok(walk(file, id, true, &mut f)?.is_some())
}

/// Small enough that a chunk is still in the CPU cache when it is decoded.
const READ_CHUNK: u64 = 128 << 10;

/// One pass over a hint file in [`READ_CHUNK`] reads; `None` if it is malformed. With
/// `verify`, the bytes are fed to a CRC as they are consumed and the trailer's CRC must
/// match.
fn walk(
    file: &Arc<dyn VfsFile>,
    id: u32,
    verify: bool,
    f: &mut dyn FnMut(&HintEntry, &[u8]),
) -> io::Result<Option<Intact>> {
    let len = file.len()?;
    let mut head = [0u8; HEADER_LEN];
    if len < (HEADER_LEN + TRAILER_LEN) as u64 {
        return Ok(None);
    }
    file.read_exact_at(&mut head, 0)?;
    match FileHeader::decode(&head, Magic::Hint) {
        Ok(h) if h.file_id == id => {}
        _ => return Ok(None),
    }
    let mut crc = crc32fast::Hasher::new();
    if verify {
        crc.update(&head);
    }
    let mut buf: Vec<u8> = Vec::new();
    let mut buf_off = HEADER_LEN as u64;
    let mut pos = 0usize;
    let mut count = 0u64;
    let mut max_end = 0u64;
    loop {
        if buf.len() - pos < HINT_HEADER_LEN + crate::MAX_KEY_SIZE {
            let at = buf_off + buf.len() as u64;
            let want = usize::try_from((len - at).min(READ_CHUNK)).unwrap_or(0);
            if want > 0 {
                if verify {
                    crc.update(&buf[..pos]);
                }
                buf.drain(..pos);
                buf_off += pos as u64;
                pos = 0;
                let old = buf.len();
                buf.resize(old + want, 0);
                file.read_exact_at(&mut buf[old..], at)?;
            }
        }
        match hint::decode(&buf[pos..]) {
            None => return Ok(None),
            Some(Decoded::Trailer {
                count: c,
                data_len,
                crc: stored,
            }) => {
                let end = buf_off + pos as u64 + TRAILER_LEN as u64;
                if c != count || end != len {
                    return Ok(None);
                }
                if verify {
                    crc.update(&buf[..pos + TRAILER_CRC_AT]);
                    if crc.finalize() != stored {
                        return Ok(None);
                    }
                }
                return Ok(Some(Intact {
                    bytes: len,
                    data_len,
                    max_end,
                }));
            }
            Some(Decoded::Entry { entry, key, len: n }) => {
                if u64::from(entry.offset) < HEADER_LEN as u64 {
                    return Ok(None);
                }
                max_end = max_end.max(u64::from(entry.offset) + u64::from(entry.size));
                f(&entry, key);
                count += 1;
                pos += n;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vfs::StdFs;

    /// A hint file for a data file of `data_len` bytes with `n` entries.
    fn sample(id: u32, n: u32, data_len: u64) -> Vec<u8> {
        let mut buf = begin(id);
        for i in 0..n {
            let entry = HintEntry {
                seq: u64::from(i) + 1,
                expiry: if i % 3 == 0 { 1_700_000_000_000 } else { 0 },
                offset: HEADER_LEN as u32 + i * 60,
                size: 60,
                tombstone: i % 5 == 0,
            };
            hint::encode_entry(&mut buf, &entry, format!("key-{i}").as_bytes());
        }
        hint::encode_trailer(&mut buf, u64::from(n), data_len);
        buf
    }

    fn check(dir: &Path, bytes: &[u8], id: u32, data_len: u64) -> bool {
        let path = dir.join("h");
        std::fs::write(&path, bytes).unwrap();
        let file = StdFs.open(&path, OpenMode::Read).unwrap();
        let mut seen = 0;
        let valid = match judge(&file, id, data_len).unwrap() {
            Judgement::Usable { .. } => entries(&file, id, |_, _| seen += 1).unwrap(),
            Judgement::Unusable(_) => false,
        };
        assert!(valid || seen == 0, "entries applied from an invalid hint");
        valid
    }

    /// Truncation damage the hint at `path` reports for a data file of `len` bytes.
    fn truncation(path: &Path, id: u32, len: u64) -> Option<Damage> {
        let file = StdFs.open(path, OpenMode::Read).unwrap();
        match judge(&file, id, len).unwrap() {
            Judgement::Unusable(damage) => damage,
            Judgement::Usable { .. } => None,
        }
    }

    #[test]
    fn every_single_bit_flip_is_rejected_before_any_entry_is_applied() {
        let dir = tempfile::tempdir().unwrap();
        let data_len = u64::from(HEADER_LEN as u32 + 40 * 60);
        let good = sample(7, 40, data_len);
        assert!(check(dir.path(), &good, 7, data_len));
        assert!(
            !check(dir.path(), &good, 8, data_len),
            "another file's hint"
        );
        assert!(!check(dir.path(), &good, 7, data_len + 1), "data file grew");
        for at in 0..good.len() {
            for bit in [0, 3, 7] {
                let mut bad = good.clone();
                bad[at] ^= 1 << bit;
                assert!(
                    !check(dir.path(), &bad, 7, data_len),
                    "flip at {at} bit {bit}"
                );
            }
        }
        for cut in 0..good.len() {
            assert!(
                !check(dir.path(), &good[..cut], 7, data_len),
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn trailer_count_cannot_claim_more_entries_than_the_file_holds() {
        let dir = tempfile::tempdir().unwrap();
        let mut bytes = begin(3);
        hint::encode_trailer(&mut bytes, u64::MAX, 100);
        std::fs::write(fs::hint_path(dir.path(), 3), &bytes).unwrap();
        assert_eq!(trailer_count(&StdFs, dir.path(), 3), Some(0));
    }

    #[test]
    fn only_an_intact_hint_can_report_a_truncated_data_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = fs::hint_path(dir.path(), 5);
        let data_len = u64::from(HEADER_LEN as u32 + 10 * 60);
        let good = sample(5, 10, data_len);
        std::fs::write(&path, &good).unwrap();
        let damage = truncation(&path, 5, data_len - 60).unwrap();
        assert_eq!(damage.offset, data_len - 60);
        assert!(truncation(&path, 5, data_len).is_none());
        // A flipped bit in the trailer's data_len field, or anywhere else, is the hint's
        // damage, not the data file's.
        for at in [good.len() - TRAILER_LEN + 9, 20, good.len() - 1] {
            let mut bad = good.clone();
            bad[at] ^= 0x40;
            std::fs::write(&path, &bad).unwrap();
            assert!(truncation(&path, 5, data_len - 60).is_none(), "{at}");
        }
    }
}
