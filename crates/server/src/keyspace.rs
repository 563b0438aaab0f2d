//! The view of the database that commands execute against.
//!
//! Commands never call the engine's write methods directly. They read and write
//! a [`Keyspace`]: reads fall through to the engine, writes land in an overlay
//! (so a later command in the same group sees them, e.g. `SET a 1` then
//! `INCR a` inside `MULTI`) and in one [`WriteBatch`]. The writer
//! commits that batch once per group, which gives three things at once:
//!
//! * `MULTI`/`EXEC` is atomic on disk: the whole transaction is one batch;
//! * a pipeline of writes costs one engine append instead of one per command;
//! * with `--sync always`, one fsync covers every client in the group.
//!
//! Read-only commands run on the connection task with an empty `Keyspace`
//! whose overlay stays empty and whose batch is never committed.

use std::collections::HashMap;

use bytes::Bytes;
use ccbitcask_engine::{Bitcask, Durability, WriteBatch, MAX_KEY_SIZE, MAX_VALUE_SIZE};

use crate::frame::{err_engine, Frame};

/// A live value and its absolute expiry (ms since the UNIX epoch).
#[derive(Debug, Clone)]
pub struct Entry {
    /// The value.
    pub value: Bytes,
    /// When it expires, if ever.
    pub expiry: Option<u64>,
}

/// Engine reads plus a write overlay; see the module docs.
pub struct Keyspace<'a> {
    db: &'a Bitcask,
    /// Keys written in this group: `Some` is the new live entry, `None` a
    /// delete. Only the last write of each key reaches the engine: a pipeline
    /// that sets one key 16 times appends one record, not 16.
    overlay: HashMap<Bytes, Option<Entry>>,
    /// Set when committing part of the group failed (only `FLUSHDB` commits
    /// mid-group); every later write in the group is refused.
    failed: Option<String>,
    /// Did this group change anything (including a `FLUSHDB` already
    /// committed)? Decides whether the group needs an fsync.
    wrote: bool,
}

impl<'a> Keyspace<'a> {
    /// An empty view over `db`.
    pub fn new(db: &'a Bitcask) -> Keyspace<'a> {
        Keyspace {
            db,
            overlay: HashMap::new(),
            failed: None,
            wrote: false,
        }
    }

    /// The engine handle, for commands that need more than key access (`INFO`).
    pub fn db(&self) -> &Bitcask {
        self.db
    }

    /// The engine's clock in ms since the UNIX epoch; all expiry maths uses it.
    pub fn now_ms(&self) -> u64 {
        self.db.now_ms()
    }

    /// The live entry for `key`, honouring expiry, overlay first.
    pub fn get(&self, key: &[u8]) -> Result<Option<Entry>, Frame> {
        if let Some(slot) = self.overlay.get(key) {
            return Ok(slot.as_ref().filter(|e| self.alive(e)).cloned());
        }
        match self.db.get_entry(key) {
            Ok(e) => Ok(e.map(|(value, expiry)| Entry { value, expiry })),
            Err(e) => Err(err_engine(&e)),
        }
    }

    /// Does `key` exist (and is it unexpired)? RAM only when not in the overlay.
    pub fn exists(&self, key: &[u8]) -> bool {
        match self.overlay.get(key) {
            Some(slot) => slot.as_ref().is_some_and(|e| self.alive(e)),
            None => self.db.exists(key),
        }
    }

    /// `None`: missing; `Some(None)`: no TTL; `Some(Some(ms))`: absolute expiry.
    pub fn expiry(&self, key: &[u8]) -> Option<Option<u64>> {
        match self.overlay.get(key) {
            Some(slot) => slot.as_ref().filter(|e| self.alive(e)).map(|e| e.expiry),
            None => self.db.expiry(key),
        }
    }

    /// Stores `value` under `key`, replacing any value and TTL.
    ///
    /// Oversized keys and values are refused here, per command, so one bad
    /// command cannot fail the batch it shares with other clients.
    pub fn put(&mut self, key: &Bytes, value: Bytes, expiry: Option<u64>) -> Result<(), Frame> {
        self.healthy()?;
        if key.len() > MAX_KEY_SIZE {
            return Err(Frame::error("ERR key too large"));
        }
        if value.len() > MAX_VALUE_SIZE {
            return Err(Frame::error("ERR string exceeds maximum allowed size"));
        }
        self.wrote = true;
        self.overlay
            .insert(key.clone(), Some(Entry { value, expiry }));
        Ok(())
    }

    /// Deletes `key`; returns whether it was live.
    pub fn delete(&mut self, key: &Bytes) -> Result<bool, Frame> {
        self.healthy()?;
        let live = self.exists(key);
        if live {
            self.delete_live(key)?;
        }
        Ok(live)
    }

    /// Deletes `key`, which the caller has just read as live in this group
    /// (so, unlike [`Keyspace::delete`], it is not looked up again).
    pub fn delete_live(&mut self, key: &Bytes) -> Result<(), Frame> {
        self.healthy()?;
        self.wrote = true;
        self.overlay.insert(key.clone(), None);
        Ok(())
    }

    /// Keys written in this group that are live now (for `DBSIZE`, `KEYS` and
    /// `SCAN` inside a transaction), and those deleted.
    pub fn overlay(&self) -> impl Iterator<Item = (&Bytes, bool)> {
        self.overlay
            .iter()
            .map(|(k, v)| (k, v.as_ref().is_some_and(|e| self.alive(e))))
    }

    /// Deletes every key: commits what the group wrote so far, then clears the
    /// engine. The overlay is emptied since the engine is now the truth.
    pub fn flush(&mut self, durability: Durability) -> Result<u64, Frame> {
        self.healthy()?;
        self.commit(durability).map_err(Frame::error_owned)?;
        self.wrote = true;
        match self.db.clear() {
            Ok(n) => Ok(n),
            Err(e) => {
                let msg = format!("ERR {e}");
                self.failed = Some(msg.clone());
                Err(Frame::error_owned(msg))
            }
        }
    }

    /// Has this group written anything (so it needs a commit and, under
    /// `--sync always`, an fsync)?
    pub fn wrote(&self) -> bool {
        self.wrote
    }

    /// How many distinct keys this group has written so far.
    pub fn pending_keys(&self) -> usize {
        self.overlay.len()
    }

    /// Applies the pending writes as one atomic engine batch. On failure the
    /// error text is returned (and latched for the rest of the group).
    pub fn commit(&mut self, durability: Durability) -> Result<(), String> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        if self.overlay.is_empty() {
            return Ok(());
        }
        let mut batch = WriteBatch::new();
        for (key, slot) in self.overlay.drain() {
            match slot {
                Some(e) => {
                    batch.put_with_expiry(&key, &e.value, e.expiry);
                }
                None => {
                    batch.delete(&key);
                }
            }
        }
        self.db.write_batch_with(&batch, durability).map_err(|e| {
            let msg = format!("ERR {e}");
            self.failed = Some(msg.clone());
            msg
        })
    }

    /// The latched commit failure, as the error every later command of the
    /// group gets.
    fn healthy(&self) -> Result<(), Frame> {
        match &self.failed {
            Some(e) => Err(Frame::error_owned(e.clone())),
            None => Ok(()),
        }
    }

    fn alive(&self, e: &Entry) -> bool {
        e.expiry.is_none_or(|at| at > self.db.now_ms())
    }
}
