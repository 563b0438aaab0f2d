//! Read-modify-write on one string: `INCR`, `INCRBY`, `DECR`, `DECRBY`, `APPEND`.
//!
//! Each reads the current value, computes the new one and writes it back. They
//! are atomic because they run on the serialized write path, which applies mutations
//! one at a time; the key's TTL is kept, as in Redis.

use bytes::{Bytes, BytesMut};

use super::{reply, Args, Ctx};
use crate::frame::{err_not_integer, Frame};
use crate::parse::parse_i64;

/// A parsed counter or append command.
#[derive(Debug)]
pub enum IncrCmd {
    /// `INCR`/`DECR`/`INCRBY`/`DECRBY`, as a signed delta.
    By {
        /// The key.
        key: Bytes,
        /// The amount added (negative for the `DECR` forms).
        delta: i64,
    },
    /// `APPEND key value`.
    Append {
        /// The key.
        key: Bytes,
        /// The bytes appended.
        value: Bytes,
    },
}

impl IncrCmd {
    pub(super) fn parse(name: &'static str, a: &mut Args) -> Result<IncrCmd, Frame> {
        let key = a.next()?;
        let delta = match name {
            "incr" => 1,
            "decr" => -1,
            "incrby" => a.next_int()?,
            "decrby" => {
                let n = a.next_int()?;
                // -i64::MIN does not exist; Redis has a dedicated text for it.
                n.checked_neg()
                    .ok_or_else(|| Frame::error("ERR decrement would overflow"))?
            }
            _ => {
                return Ok(IncrCmd::Append {
                    key,
                    value: a.next()?,
                })
            }
        };
        Ok(IncrCmd::By { key, delta })
    }

    pub(super) fn exec(self, ctx: &mut Ctx<'_, '_>) -> Frame {
        reply(match self {
            IncrCmd::By { key, delta } => incr_by(ctx, &key, delta),
            IncrCmd::Append { key, value } => append(ctx, &key, &value),
        })
    }
}

fn incr_by(ctx: &mut Ctx<'_, '_>, key: &Bytes, delta: i64) -> Result<Frame, Frame> {
    let old = ctx.ks.get(key)?;
    let (current, expiry) = match &old {
        None => (0, None),
        Some(e) => {
            // Redis only treats values of at most 20 characters as numbers.
            let n = (e.value.len() <= 20)
                .then(|| parse_i64(&e.value))
                .flatten()
                .ok_or_else(err_not_integer)?;
            (n, e.expiry)
        }
    };
    let new = current
        .checked_add(delta)
        .ok_or_else(|| Frame::error("ERR increment or decrement would overflow"))?;
    let mut text = BytesMut::with_capacity(20);
    crate::frame::write_i64(&mut text, new);
    ctx.ks.put(key, text.freeze(), expiry)?;
    Ok(Frame::Integer(new))
}

fn append(ctx: &mut Ctx<'_, '_>, key: &Bytes, value: &Bytes) -> Result<Frame, Frame> {
    let old = ctx.ks.get(key)?;
    let (new, expiry) = match old {
        None => (value.clone(), None),
        Some(e) => {
            let mut buf = BytesMut::with_capacity(e.value.len() + value.len());
            buf.extend_from_slice(&e.value);
            buf.extend_from_slice(value);
            (buf.freeze(), e.expiry)
        }
    };
    let len = new.len();
    ctx.ks.put(key, new, expiry)?;
    Ok(Frame::Integer(i64::try_from(len).unwrap_or(i64::MAX)))
}
