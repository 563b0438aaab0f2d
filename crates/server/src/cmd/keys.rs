//! Keyspace commands: `DEL`, `UNLINK`, `EXISTS`, `TYPE`, `KEYS`, `SCAN`,
//! `DBSIZE`, `FLUSHDB`, `FLUSHALL`.
//!
//! `KEYS` and `DBSIZE` may walk the whole keydir, so they are
//! [`super::Kind::Heavy`] and run on tokio's blocking pool instead of stalling
//! a session thread (Redis, single-threaded, stalls everyone instead). `SCAN`
//! is bounded by its `COUNT` and stays inline. Inside a write group (a
//! transaction or a pipeline with writes) `DBSIZE` and `KEYS` also account for
//! the group's uncommitted writes; `SCAN` reads the engine only, which its loose
//! guarantees allow.

use std::collections::HashSet;

use bytes::Bytes;

use super::{reply, Args, Ctx};
use crate::frame::{err_not_integer, err_syntax, Frame};
use crate::glob;
use crate::parse::parse_i64;

/// A parsed keyspace command.
#[derive(Debug)]
pub enum KeysCmd {
    /// `DEL` and `UNLINK` (the same here: the engine frees nothing in place).
    Del(Vec<Bytes>),
    /// `EXISTS key [key ...]` (duplicates count twice, like Redis).
    Exists(Vec<Bytes>),
    /// `TYPE key`.
    Type(Bytes),
    /// `KEYS pattern`.
    Keys(Bytes),
    /// `SCAN cursor [MATCH pattern] [COUNT n] [TYPE type]`.
    Scan {
        /// Where to resume (0 starts).
        cursor: u64,
        /// `MATCH`.
        pattern: Option<Bytes>,
        /// `COUNT` (default 10).
        count: usize,
        /// `TYPE`: only `string` can match anything here.
        only_strings: bool,
    },
    /// `DBSIZE`.
    Dbsize,
    /// `FLUSHDB` / `FLUSHALL` `[ASYNC|SYNC]`.
    Flush,
}

impl KeysCmd {
    pub(super) fn parse(name: &'static str, a: &mut Args) -> Result<KeysCmd, Frame> {
        Ok(match name {
            "del" | "unlink" => KeysCmd::Del(a.rest()),
            "exists" => KeysCmd::Exists(a.rest()),
            "type" => KeysCmd::Type(a.next()?),
            "keys" => KeysCmd::Keys(a.next()?),
            "dbsize" => KeysCmd::Dbsize,
            "flushdb" | "flushall" => {
                if let Some(opt) = a.try_next() {
                    let ok =
                        opt.eq_ignore_ascii_case(b"async") || opt.eq_ignore_ascii_case(b"sync");
                    if !ok || a.remaining() > 0 {
                        return Err(err_syntax());
                    }
                }
                KeysCmd::Flush
            }
            _ => parse_scan(a)?,
        })
    }

    /// Is this `FLUSHDB`/`FLUSHALL`?
    pub(super) fn is_flush(&self) -> bool {
        matches!(self, KeysCmd::Flush)
    }

    /// Keys this command reads or writes by name.
    pub(super) fn key_count(&self) -> usize {
        match self {
            KeysCmd::Del(keys) | KeysCmd::Exists(keys) => keys.len(),
            _ => 1,
        }
    }

    pub(super) fn exec(self, ctx: &mut Ctx<'_, '_>) -> Frame {
        reply(self.run(ctx))
    }

    fn run(self, ctx: &mut Ctx<'_, '_>) -> Result<Frame, Frame> {
        Ok(match self {
            KeysCmd::Del(keys) => {
                let mut n = 0;
                for k in keys {
                    n += i64::from(ctx.ks.delete(&k)?);
                }
                Frame::Integer(n)
            }
            KeysCmd::Exists(keys) => {
                Frame::Integer(keys.iter().map(|k| i64::from(ctx.ks.exists(k))).sum())
            }
            KeysCmd::Type(key) => Frame::simple(if ctx.ks.exists(&key) {
                "string"
            } else {
                "none"
            }),
            KeysCmd::Keys(pattern) => {
                let mut keys: HashSet<Bytes> = ctx.ks.db().keys().into_iter().collect();
                for (k, live) in ctx.ks.overlay() {
                    if live {
                        keys.insert(k.clone());
                    } else {
                        keys.remove(k);
                    }
                }
                let all = &pattern[..] == b"*";
                Frame::Array(
                    keys.into_iter()
                        .filter(|k| all || glob::matches(&pattern, k))
                        .map(Frame::Bulk)
                        .collect(),
                )
            }
            KeysCmd::Scan {
                cursor,
                pattern,
                count,
                only_strings,
            } => {
                let (next, keys) = ctx.ks.db().scan(cursor, count);
                let keys = keys
                    .into_iter()
                    .filter(|k| {
                        only_strings && pattern.as_ref().is_none_or(|p| glob::matches(p, k))
                    })
                    .map(Frame::Bulk)
                    .collect();
                Frame::Array(vec![
                    Frame::bulk_string(next.to_string()),
                    Frame::Array(keys),
                ])
            }
            KeysCmd::Dbsize => {
                let db = ctx.ks.db();
                let mut n = i64::try_from(db.len()).unwrap_or(i64::MAX);
                for (k, live) in ctx.ks.overlay() {
                    match (live, db.exists(k)) {
                        (true, false) => n += 1,
                        (false, true) => n -= 1,
                        _ => {}
                    }
                }
                Frame::Integer(n)
            }
            KeysCmd::Flush => {
                ctx.ks.flush(ctx.durability)?;
                Frame::ok()
            }
        })
    }
}

/// Most keys one `SCAN` call visits.
const MAX_SCAN_COUNT: usize = 100_000;

/// `SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]`, checked in Redis's
/// order: cursor, then options left to right.
fn parse_scan(a: &mut Args) -> Result<KeysCmd, Frame> {
    let raw = a.next()?;
    // Redis parses the cursor as an unsigned 64-bit decimal.
    let cursor = std::str::from_utf8(&raw)
        .ok()
        .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|s| s.parse::<u64>().ok())
        .ok_or_else(|| Frame::error("ERR invalid cursor"))?;
    let mut pattern = None;
    let mut count = 10usize;
    let mut only_strings = true;
    while let Some(opt) = a.try_next() {
        let value = a.try_next().ok_or_else(err_syntax)?;
        match opt.to_ascii_lowercase().as_slice() {
            b"count" => {
                let n = parse_i64(&value).ok_or_else(err_not_integer)?;
                if n < 1 {
                    return Err(err_syntax());
                }
                // A huge COUNT only makes one reply huge; SCAN may return
                // fewer keys than asked, so clamping keeps memory bounded.
                count = usize::try_from(n).unwrap_or(usize::MAX).min(MAX_SCAN_COUNT);
            }
            // `*` matches everything: skip the per-key glob.
            b"match" => pattern = (&value[..] != b"*").then_some(value),
            b"type" => only_strings = value.eq_ignore_ascii_case(b"string"),
            _ => return Err(err_syntax()),
        }
    }
    Ok(KeysCmd::Scan {
        cursor,
        pattern,
        count,
        only_strings,
    })
}
