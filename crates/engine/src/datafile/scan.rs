//! Sequential, CRC-checked reading of a data file.
//!
//! The scanner hands out each valid record in file order. When bytes do not form a valid
//! record it reports the damaged range and resynchronises: it searches forward for the
//! next offset where a complete record with a matching CRC begins. Callers decide what a
//! damaged range means: a torn tail of the active file is truncated, damage anywhere else
//! is reported and skipped, and no byte of it is ever served.
//!
//! Zeros from some offset to the end of the file are reported as such rather than
//! searched for records: the writer preallocates zeros after its last record (see
//! `writer.rs`), so in the newest log file they are its end.
//! An all-zero record header never has a valid CRC, so zeros are never a record.

use crate::format::header::HEADER_LEN;
use crate::format::record::{self, RecordMeta, RECORD_HEADER_LEN};
use crate::vfs::VfsFile;
use std::io;
use std::sync::Arc;

const READ_CHUNK: usize = 1 << 20;

/// One step of a scan.
#[derive(Debug)]
pub enum Item<'a> {
    /// A valid record.
    Record {
        /// Its offset in the file.
        offset: u64,
        /// Its header fields.
        meta: RecordMeta,
        /// Its key.
        key: &'a [u8],
        /// Its value (empty for tombstones).
        value: &'a [u8],
    },
    /// Bytes from `offset` that are not a valid record.
    Damaged {
        /// Where the damage starts.
        offset: u64,
        /// What was wrong with the first record there.
        reason: String,
        /// Where the next valid record starts, or `None` if none follows (a tail).
        resumed_at: Option<u64>,
    },
    /// Zeros from `offset` to the end of the file, where a record was expected.
    Zeros {
        /// Where they start.
        offset: u64,
    },
    /// The end of the file.
    End,
}

/// Reads records from `start` to `len`.
#[derive(Debug)]
pub struct Scanner {
    file: Arc<dyn VfsFile>,
    len: u64,
    buf: Vec<u8>,
    /// File offset of `buf[0]`.
    buf_off: u64,
    pos: usize,
    /// See [`Scanner::data_end`].
    data_end: Option<u64>,
}

enum Step {
    Record(RecordMeta, usize),
    Damaged(String, Option<u64>),
    Zeros,
    End,
}

impl Scanner {
    /// Scans the records of a data file, after its header.
    pub fn new(file: Arc<dyn VfsFile>, len: u64) -> Self {
        Self::from_offset(file, HEADER_LEN as u64, len)
    }

    /// Scans from an arbitrary offset.
    pub fn from_offset(file: Arc<dyn VfsFile>, start: u64, len: u64) -> Self {
        Self {
            file,
            len,
            buf: Vec::new(),
            buf_off: start,
            pos: 0,
            data_end: None,
        }
    }

    /// File offset of the next byte to look at.
    pub fn position(&self) -> u64 {
        self.buf_off + self.pos as u64
    }

    /// Makes at least `n` bytes from `pos` available, if the file has them.
    fn ensure(&mut self, n: usize) -> io::Result<bool> {
        let have = self.buf.len() - self.pos;
        if have >= n {
            return Ok(true);
        }
        let cur = self.position();
        if self.len.saturating_sub(cur) < n as u64 {
            return Ok(false);
        }
        self.buf.drain(..self.pos);
        self.buf_off = cur;
        self.pos = 0;
        let file_left = usize::try_from(self.len - cur).unwrap_or(usize::MAX);
        let want = n.max(READ_CHUNK).min(file_left);
        let old = self.buf.len();
        self.buf.resize(want, 0);
        let read_from = cur + old as u64;
        self.file.read_exact_at(&mut self.buf[old..], read_from)?;
        Ok(true)
    }

    /// Checks for a whole valid record at `pos`; returns its metadata and length.
    fn try_record(&mut self) -> io::Result<Result<(RecordMeta, usize), String>> {
        if !self.ensure(RECORD_HEADER_LEN)? {
            return Ok(Err("truncated record header".into()));
        }
        let meta = match record::decode_header(&self.buf[self.pos..]) {
            Ok((meta, _)) => meta,
            Err(e) => return Ok(Err(e.to_string())),
        };
        let Ok(need) = usize::try_from(meta.record_len()) else {
            return Ok(Err("record length does not fit in memory".into()));
        };
        if !self.ensure(need)? {
            return Ok(Err(format!(
                "record of {need} bytes runs past the end of the file"
            )));
        }
        match record::decode(&self.buf[self.pos..self.pos + need]) {
            Ok(meta) => Ok(Ok((meta, need))),
            Err(e) => Ok(Err(e.to_string())),
        }
    }

    /// Where the file's trailing zeros start (`len` if it does not end in a zero), read
    /// backwards from the end once, the first time damage needs it. No record lies
    /// wholly in zeros (an all-zero header fails its CRC), so none starts there.
    fn data_end(&mut self) -> io::Result<u64> {
        if let Some(end) = self.data_end {
            return Ok(end);
        }
        let mut end = self.len;
        let mut piece = vec![0u8; 64 * 1024];
        while end > 0 {
            let n = usize::try_from(end).map_or(piece.len(), |e| e.min(piece.len()));
            let from = end - n as u64;
            self.file.read_exact_at(&mut piece[..n], from)?;
            match piece[..n].iter().rposition(|&b| b != 0) {
                Some(i) => {
                    end = from + i as u64 + 1;
                    break;
                }
                None => end = from,
            }
        }
        self.data_end = Some(end);
        Ok(end)
    }

    /// Searches forward from the byte after the current position for a valid record.
    fn resync(&mut self) -> io::Result<Option<u64>> {
        let start = self.position();
        let data_end = self.data_end()?;
        let mut at = start + 1;
        while at < data_end && at + RECORD_HEADER_LEN as u64 <= self.len {
            self.seek(at);
            if let Ok((_, _)) = self.try_record()? {
                self.seek(at);
                return Ok(Some(at));
            }
            at += 1;
        }
        self.seek(self.len);
        Ok(None)
    }

    fn seek(&mut self, to: u64) {
        if to >= self.buf_off && to <= self.buf_off + self.buf.len() as u64 {
            self.pos = usize::try_from(to - self.buf_off).unwrap_or(usize::MAX);
        } else {
            self.buf.clear();
            self.buf_off = to;
            self.pos = 0;
        }
    }

    /// The next item.
    pub fn next_item(&mut self) -> io::Result<Item<'_>> {
        let offset = self.position();
        let step = if offset >= self.len {
            Step::End
        } else {
            match self.try_record()? {
                Ok((meta, len)) => Step::Record(meta, len),
                Err(reason) => {
                    if offset >= self.data_end()? {
                        self.seek(self.len);
                        Step::Zeros
                    } else {
                        self.seek(offset);
                        let resumed = self.resync()?;
                        Step::Damaged(reason, resumed)
                    }
                }
            }
        };
        Ok(match step {
            Step::End => Item::End,
            Step::Zeros => Item::Zeros { offset },
            Step::Damaged(reason, resumed_at) => Item::Damaged {
                offset,
                reason,
                resumed_at,
            },
            Step::Record(meta, len) => {
                let start = self.pos;
                self.pos += len;
                let rec = &self.buf[start..start + len];
                let (key, value) = rec[RECORD_HEADER_LEN..].split_at(meta.key_len as usize);
                Item::Record {
                    offset,
                    meta,
                    key,
                    value,
                }
            }
        })
    }
}

/// A committed record handed out by [`scan_committed`].
#[derive(Debug)]
pub struct Committed<'a> {
    /// Offset in the file.
    pub offset: u64,
    /// Header fields.
    pub meta: RecordMeta,
    /// Key.
    pub key: &'a [u8],
    /// Value.
    pub value: &'a [u8],
}

/// A damaged range found while scanning a data file (by recovery, merge or `check`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damage {
    /// Where it starts.
    pub offset: u64,
    /// What was wrong.
    pub reason: String,
    /// Whether it runs to the end of the file (a torn tail, if this is the active file).
    pub at_tail: bool,
}

/// How a [`scan_committed`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanEnd {
    /// End offset of the last committed record: where a torn tail would be cut.
    pub committed_end: u64,
    /// Whether anything (damage or an incomplete batch) follows `committed_end`.
    pub has_tail: bool,
    /// Committed records handed out.
    pub records: u64,
    /// Whether valid records after the damage were left unread to keep a prefix
    /// (only with [`AtDamage::EndsLog`]).
    pub dropped_valid: bool,
    /// Bytes of zeros the file ends with where a record was expected, 0 if none. In
    /// the newest log file, with nothing else after `committed_end`, they are the
    /// writer's preallocated space: its clean end, not damage.
    pub zero_tail: u64,
}

struct Pending {
    offset: u64,
    meta: RecordMeta,
    key: Vec<u8>,
    value: Vec<u8>,
}

/// What a scan does at damage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AtDamage {
    /// Reports it and resumes at the next valid record: sealed files, whose damage is
    /// corruption in place (bit rot), not a crash.
    SkipPast,
    /// Stops there: the damage and everything after it are the tail, however many valid
    /// records follow. Recovery reads the newest log file this way: after a power cut the
    /// OS may have written unsynced pages back out of order, leaving a hole with newer
    /// records after it, and replaying those would not be a prefix of the history
    /// (point-in-time recovery, as RocksDB's WAL does by default).
    EndsLog,
}

impl AtDamage {
    /// How recovery and `check` alike read a file: the newest log file up to its first
    /// damage, every other file past it.
    pub fn for_file(newest_log: bool) -> Self {
        if newest_log {
            Self::EndsLog
        } else {
            Self::SkipPast
        }
    }
}

/// Scans a data file and hands out only committed records: plain records at once, batch
/// members only when their batch's end record has been read. A batch cut short by damage
/// or by the end of the file is dropped whole, so a crash never leaves half a batch.
pub fn scan_committed(
    file: Arc<dyn VfsFile>,
    len: u64,
    at_damage: AtDamage,
    mut on_record: impl FnMut(Committed<'_>),
    mut on_damage: impl FnMut(Damage),
) -> io::Result<ScanEnd> {
    use crate::format::record::Flags;
    let mut scanner = Scanner::new(file, len);
    let mut pending: Vec<Pending> = Vec::new();
    let mut end = ScanEnd {
        committed_end: HEADER_LEN as u64,
        has_tail: false,
        records: 0,
        dropped_valid: false,
        zero_tail: 0,
    };
    loop {
        match scanner.next_item()? {
            Item::End => break,
            Item::Zeros { offset } => {
                // Only the newest log file is ever preallocated, and sealing trims it
                // first: anywhere else, zeros in place of records are lost data.
                if at_damage == AtDamage::SkipPast {
                    on_damage(Damage {
                        offset,
                        reason: format!("{} bytes of zeros to the end of the file", len - offset),
                        at_tail: true,
                    });
                }
                end.has_tail = true;
                end.zero_tail = len - offset;
                // An open batch before them is reported below, as at the end of a file.
                break;
            }
            Item::Damaged {
                offset,
                reason,
                resumed_at,
            } => {
                if at_damage == AtDamage::EndsLog {
                    // Everything from the earliest incomplete point on is the tail: an
                    // open batch, or else this damage.
                    let offset = pending.first().map_or(offset, |p| p.offset);
                    end.dropped_valid = resumed_at.is_some();
                    let reason = if end.dropped_valid {
                        format!("{reason}; the valid records after it are dropped to keep a prefix of history")
                    } else {
                        reason
                    };
                    on_damage(Damage {
                        offset,
                        reason,
                        at_tail: true,
                    });
                    end.has_tail = true;
                    return Ok(end);
                }
                if let Some(first) = pending.first() {
                    // When nothing valid follows, the batch is part of the torn tail:
                    // flag it so, or `check` and open report a crash as corruption.
                    on_damage(Damage {
                        offset: first.offset,
                        reason: "write batch cut short by damage; dropped whole".into(),
                        at_tail: resumed_at.is_none(),
                    });
                    pending.clear();
                }
                on_damage(Damage {
                    offset,
                    reason,
                    at_tail: resumed_at.is_none(),
                });
                if resumed_at.is_none() {
                    end.has_tail = true;
                    return Ok(end);
                }
            }
            Item::Record {
                offset,
                meta,
                key,
                value,
            } => {
                let in_batch = meta.flags.contains(Flags::BATCH);
                let batch_end = meta.flags.contains(Flags::BATCH_END);
                if !in_batch && !pending.is_empty() {
                    // A plain record after an open batch: that batch never completed.
                    on_damage(Damage {
                        offset: pending[0].offset,
                        reason: "write batch without its end record; dropped whole".into(),
                        at_tail: false,
                    });
                    pending.clear();
                }
                let rec_end = offset + meta.record_len();
                if !in_batch {
                    on_record(Committed {
                        offset,
                        meta,
                        key,
                        value,
                    });
                    end.records += 1;
                    end.committed_end = rec_end;
                } else if !batch_end {
                    pending.push(Pending {
                        offset,
                        meta,
                        key: key.to_vec(),
                        value: value.to_vec(),
                    });
                } else {
                    for p in pending.drain(..) {
                        on_record(Committed {
                            offset: p.offset,
                            meta: p.meta,
                            key: &p.key,
                            value: &p.value,
                        });
                        end.records += 1;
                    }
                    on_record(Committed {
                        offset,
                        meta,
                        key,
                        value,
                    });
                    end.records += 1;
                    end.committed_end = rec_end;
                }
            }
        }
    }
    if let Some(first) = pending.first() {
        on_damage(Damage {
            offset: first.offset,
            reason: "write batch without its end record at the end of the file".into(),
            at_tail: true,
        });
        end.has_tail = true;
    }
    Ok(end)
}
