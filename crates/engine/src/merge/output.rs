//! Merge output files: written under temporary names, finished one at a time.

use crate::datafile::DataFile;
use crate::db::Inner;
use crate::error::{Error, Result};
use crate::format::header::{FileHeader, FileKind, Magic, HEADER_LEN};
use crate::format::hint::{self, HintEntry};
use crate::format::record::{self, RecordMeta};
use crate::fs;
use crate::hintfile;
use crate::keydir::Loc;
use crate::vfs::{OpenMode, VfsFile};
use std::io::IoSlice;
use std::sync::Arc;

const FLUSH_AT: usize = 1 << 20;
/// Bound on the keys remembered for the compare-and-set of one output file; past it the
/// output is finished early, so merge memory stays bounded whatever the data size.
const MOVES_LIMIT: usize = 64 << 20;

/// A key moved from `from` to `to`; the key bytes live in `Current::move_keys`.
struct Move {
    key_end: usize,
    from: Loc,
    to: Loc,
}

struct Current {
    df: Arc<DataFile>,
    file: Arc<dyn VfsFile>,
    offset: u64,
    pending: Vec<u8>,
    hint: Vec<u8>,
    hint_count: u64,
    moves: Vec<Move>,
    move_keys: Vec<u8>,
}

/// The sequence of output files of one merge.
pub(super) struct Output<'a> {
    inner: &'a Inner,
    cur: Option<Current>,
    finished: Vec<u32>,
}

impl<'a> Output<'a> {
    pub fn new(inner: &'a Inner) -> Self {
        Self {
            inner,
            cur: None,
            finished: Vec::new(),
        }
    }

    pub fn finished_ids(&self) -> Vec<u32> {
        self.finished.clone()
    }

    fn start(&mut self) -> Result<()> {
        let inner = self.inner;
        let id = inner.allocate_file_id();
        let path = fs::tmp_path(&fs::data_path(&inner.opts.dir, id));
        let file = inner
            .opts
            .fs
            .open(&path, OpenMode::CreateNew)
            .map_err(|e| Error::io("create", &path, e))?;
        let header = FileHeader {
            magic: Magic::Data,
            kind: FileKind::Merged,
            file_id: id,
        }
        .encode();
        self.cur = Some(Current {
            df: Arc::new(DataFile::new(id, FileKind::Merged, Arc::clone(&file))),
            file,
            offset: HEADER_LEN as u64,
            pending: header.to_vec(),
            hint: hintfile::begin(id),
            hint_count: 0,
            moves: Vec::new(),
            move_keys: Vec::new(),
        });
        Ok(())
    }

    /// Appends a record; `from` is where the keydir pointed, for live records.
    pub fn append(
        &mut self,
        meta: &RecordMeta,
        key: &[u8],
        value: &[u8],
        from: Option<Loc>,
    ) -> Result<()> {
        let len = meta.record_len();
        let full = self.cur.as_ref().is_some_and(|c| {
            c.offset > HEADER_LEN as u64
                && (c.offset + len > self.inner.opts.max_file_size
                    || c.move_keys.len() > MOVES_LIMIT)
        });
        if full {
            self.finish_current()?;
        }
        if self.cur.is_none() {
            self.start()?;
        }
        let Some(c) = self.cur.as_mut() else {
            return Ok(());
        };
        let to = Loc {
            file_id: c.df.id,
            offset: c.offset as u32,
            size: len as u32,
        };
        c.pending
            .extend_from_slice(&record::encode(meta, key, value));
        hint::encode_entry(
            &mut c.hint,
            &HintEntry {
                seq: meta.seq,
                expiry: meta.expiry,
                offset: to.offset,
                size: to.size,
                tombstone: meta.is_tombstone(),
            },
            key,
        );
        c.hint_count += 1;
        c.df.counters.add(len, meta.seq);
        match from {
            Some(from) => {
                c.move_keys.extend_from_slice(key);
                c.moves.push(Move {
                    key_end: c.move_keys.len(),
                    from,
                    to,
                });
            }
            // A kept tombstone is dead weight from the start.
            None => c.df.counters.kill(len),
        }
        c.offset += len;
        if c.pending.len() >= FLUSH_AT {
            flush(self.inner, c)?;
        }
        Ok(())
    }

    /// Makes the current output durable under its final name, publishes it, and moves
    /// the keydir onto it where no newer write got there first.
    fn finish_current(&mut self) -> Result<()> {
        let Some(mut c) = self.cur.take() else {
            return Ok(());
        };
        let inner = self.inner;
        let dir = &inner.opts.dir;
        let id = c.df.id;
        let data_path = fs::data_path(dir, id);
        let result = (|| -> Result<()> {
            flush(inner, &mut c)?;
            c.file
                .sync_data()
                .map_err(|e| Error::io("fsync", fs::tmp_path(&data_path), e))?;
            hint::encode_trailer(&mut c.hint, c.hint_count, c.offset);
            let hint_path = fs::hint_path(dir, id);
            let hint_tmp = fs::tmp_path(&hint_path);
            let hf = inner
                .opts
                .fs
                .open(&hint_tmp, OpenMode::CreateNew)
                .map_err(|e| Error::io("create", &hint_tmp, e))?;
            hf.write_all_at(&mut [IoSlice::new(&c.hint)], 0)
                .and_then(|()| hf.sync_data())
                .map_err(|e| Error::io("write", &hint_tmp, e))?;
            inner
                .opts
                .fs
                .rename(&fs::tmp_path(&data_path), &data_path)
                .map_err(|e| Error::io("rename", &data_path, e))?;
            inner
                .opts
                .fs
                .rename(&hint_tmp, &hint_path)
                .map_err(|e| Error::io("rename", &hint_path, e))?;
            inner
                .opts
                .fs
                .sync_dir(dir)
                .map_err(|e| Error::io("fsync directory", dir, e))
        })();
        if let Err(e) = result {
            self.cur = Some(c);
            return Err(e);
        }
        c.df.set_hint(c.hint.len() as u64);
        inner.publish_file(Arc::clone(&c.df));
        let mut start = 0;
        for m in &c.moves {
            let key = &c.move_keys[start..m.key_end];
            start = m.key_end;
            if inner.keydir.compare_and_move(key, m.from, m.to) {
                inner.kill(m.from);
            } else {
                c.df.counters.kill(u64::from(m.to.size));
            }
        }
        self.finished.push(id);
        Ok(())
    }

    pub fn finish(&mut self) -> Result<()> {
        self.finish_current()
    }

    /// Removes the unfinished output after a failure. Finished outputs stay: they are
    /// valid files the keydir may already point into.
    pub fn abandon(&mut self) {
        if let Some(c) = self.cur.take() {
            let inner = self.inner;
            let dir = &inner.opts.dir;
            let id = c.df.id;
            drop(c);
            // A failure after the renames (say, the directory fsync) leaves the output
            // under its final names, yet it was never published. A later merge would not
            // know it, could drop tombstones that shadow its records, and the next open
            // would load it and resurrect those keys. So remove it under every name; if
            // that fails too, latch the handle so no merge runs before a reopen (which
            // sees every file, so the leftover is then harmless).
            let data = fs::data_path(dir, id);
            let hint = fs::hint_path(dir, id);
            for p in [fs::tmp_path(&data), fs::tmp_path(&hint), hint, data] {
                match inner.opts.fs.remove(&p) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => {
                        let _ = inner.poison(Error::io("remove unfinished merge output", p, e));
                    }
                }
            }
        }
    }
}

fn flush(inner: &Inner, c: &mut Current) -> Result<()> {
    if c.pending.is_empty() {
        return Ok(());
    }
    // `offset` counts the pending bytes too, so the file ends where they start.
    let at = c.offset - c.pending.len() as u64;
    c.file
        .write_all_at(&mut [IoSlice::new(&c.pending)], at)
        .map_err(|e| {
            Error::io(
                "write",
                fs::tmp_path(&fs::data_path(&inner.opts.dir, c.df.id)),
                e,
            )
        })?;
    c.pending.clear();
    Ok(())
}
