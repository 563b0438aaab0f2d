//! TTL commands: `EXPIRE`, `PEXPIRE`, `EXPIREAT`, `PEXPIREAT`, `TTL`, `PTTL`,
//! `PERSIST`, plus the expiry options shared by `SET` and `GETEX`.
//!
//! The engine stores an absolute expiry in ms since the UNIX epoch next to each
//! value and hides expired keys on read (lazy expiry); the server's sweep task
//! drops them from RAM in the background (active expiry). Changing a TTL
//! rewrites the value with its new expiry, because a Bitcask record is
//! immutable once written.
//!
//! Overflow and range checks follow Redis 7.0's `expireGenericCommand` and
//! `getExpireMillisecondsOrReply`, including which error wins when several
//! apply.

use bytes::Bytes;

use super::{reply, Args, Ctx};
use crate::frame::{err_expire_time, err_not_integer, err_syntax, Frame};
use crate::parse::parse_i64;

/// An expiry given to `SET`/`GETEX`, validated but not yet made absolute (a
/// relative TTL is added to the clock when the command runs, not when it is
/// queued in `MULTI`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpireOpt {
    /// No option: `SET` clears the TTL, `GETEX` leaves it.
    Unset,
    /// `KEEPTTL`.
    Keep,
    /// `PERSIST` (`GETEX` only).
    Persist,
    /// `EX`/`PX` (relative ms) or `EXAT`/`PXAT` (absolute ms), always > 0.
    At {
        /// Milliseconds, already converted from seconds.
        ms: i64,
        /// Absolute (`EXAT`/`PXAT`) or relative to now (`EX`/`PX`).
        absolute: bool,
    },
}

/// Collects expiry options while a command's flags are parsed; the value is
/// checked only at the end, because Redis reports a syntax error in any flag
/// before a bad number.
#[derive(Debug, Default)]
pub struct ExpireParser {
    keep: bool,
    persist: bool,
    /// The raw value, whether it is in seconds, whether it is absolute.
    value: Option<(Bytes, bool, bool)>,
}

impl ExpireParser {
    /// Consumes `opt` (and its value from `a`) if it is an expiry option.
    /// `Ok(false)`: not an expiry option. Conflicting options are syntax errors.
    pub fn option(
        &mut self,
        opt: &[u8],
        a: &mut Args,
        keep_ok: bool,
        persist_ok: bool,
    ) -> Result<bool, Frame> {
        let upper = opt.to_ascii_uppercase();
        let (seconds, absolute) = match upper.as_slice() {
            b"EX" => (true, false),
            b"PX" => (false, false),
            b"EXAT" => (true, true),
            b"PXAT" => (false, true),
            b"KEEPTTL" if keep_ok && !self.persist && self.value.is_none() => {
                self.keep = true;
                return Ok(true);
            }
            b"PERSIST" if persist_ok && !self.keep && self.value.is_none() => {
                self.persist = true;
                return Ok(true);
            }
            b"KEEPTTL" | b"PERSIST" => return Err(err_syntax()),
            _ => return Ok(false),
        };
        if self.keep || self.persist || self.value.is_some() || a.remaining() == 0 {
            return Err(err_syntax());
        }
        self.value = Some((a.next()?, seconds, absolute));
        Ok(true)
    }

    /// The validated option; `name` is the command for the error text.
    pub fn finish(self, name: &str) -> Result<ExpireOpt, Frame> {
        if self.keep {
            return Ok(ExpireOpt::Keep);
        }
        if self.persist {
            return Ok(ExpireOpt::Persist);
        }
        let Some((raw, seconds, absolute)) = self.value else {
            return Ok(ExpireOpt::Unset);
        };
        Ok(ExpireOpt::At {
            ms: positive_ms(&raw, seconds, name)?,
            absolute,
        })
    }
}

/// A positive expiry value in ms: not an integer, not positive, or overflowing
/// when converted from seconds are Redis's two errors.
pub fn positive_ms(raw: &[u8], seconds: bool, name: &str) -> Result<i64, Frame> {
    let v = parse_i64(raw).ok_or_else(err_not_integer)?;
    if v <= 0 {
        return Err(err_expire_time(name));
    }
    if seconds {
        v.checked_mul(1000).ok_or_else(|| err_expire_time(name))
    } else {
        Ok(v)
    }
}

/// The absolute expiry (ms since the epoch) of a positive `ms`: relative ones
/// are added to `now`; an overflow is Redis's invalid-expire error.
pub fn absolute_ms(ms: i64, absolute: bool, now: u64, name: &str) -> Result<u64, Frame> {
    let at = if absolute {
        ms
    } else {
        let now = i64::try_from(now).unwrap_or(i64::MAX);
        ms.checked_add(now).ok_or_else(|| err_expire_time(name))?
    };
    u64::try_from(at).map_err(|_| err_expire_time(name))
}

/// `NX | XX | GT | LT` for the `EXPIRE` family.
#[derive(Debug, Clone, Copy, Default)]
struct Cond {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
}

/// The TTL commands.
#[derive(Debug)]
pub enum ExpireCmd {
    /// `[P]EXPIRE[AT] key time [NX|XX|GT|LT]`.
    Expire {
        /// The command name, for errors.
        name: &'static str,
        key: Bytes,
        time: i64,
        seconds: bool,
        absolute: bool,
        cond: CondBox,
    },
    /// `TTL key` (`ms == false`) or `PTTL key`.
    Ttl { key: Bytes, ms: bool },
    /// `PERSIST key`.
    Persist(Bytes),
}

/// Keeps [`Cond`] private while letting the enum variant carry it.
#[derive(Debug, Clone, Copy)]
pub struct CondBox(Cond);

impl ExpireCmd {
    pub(super) fn parse(name: &'static str, a: &mut Args) -> Result<ExpireCmd, Frame> {
        let key = a.next()?;
        match name {
            "ttl" | "pttl" => Ok(ExpireCmd::Ttl {
                key,
                ms: name == "pttl",
            }),
            "persist" => Ok(ExpireCmd::Persist(key)),
            _ => {
                let raw = a.next()?;
                let mut cond = Cond::default();
                for opt in a.rest() {
                    match opt.to_ascii_uppercase().as_slice() {
                        b"NX" => cond.nx = true,
                        b"XX" => cond.xx = true,
                        b"GT" => cond.gt = true,
                        b"LT" => cond.lt = true,
                        _ => {
                            return Err(Frame::error_owned(format!(
                                "ERR Unsupported option {}",
                                String::from_utf8_lossy(&opt)
                            )))
                        }
                    }
                }
                if cond.nx && (cond.xx || cond.gt || cond.lt) {
                    return Err(Frame::error(
                        "ERR NX and XX, GT or LT options at the same time are not compatible",
                    ));
                }
                if cond.gt && cond.lt {
                    return Err(Frame::error(
                        "ERR GT and LT options at the same time are not compatible",
                    ));
                }
                let time = parse_i64(&raw).ok_or_else(err_not_integer)?;
                Ok(ExpireCmd::Expire {
                    name,
                    key,
                    time,
                    seconds: matches!(name, "expire" | "expireat"),
                    absolute: matches!(name, "expireat" | "pexpireat"),
                    cond: CondBox(cond),
                })
            }
        }
    }

    pub(super) fn exec(self, ctx: &mut Ctx<'_, '_>) -> Frame {
        let now = ctx.ks.now_ms();
        match self {
            ExpireCmd::Ttl { key, ms } => match ctx.ks.expiry(&key) {
                None => Frame::Integer(-2),
                Some(None) => Frame::Integer(-1),
                Some(Some(at)) => {
                    let left = i64::try_from(at.saturating_sub(now)).unwrap_or(i64::MAX);
                    // TTL rounds to the nearest second, like Redis.
                    Frame::Integer(if ms {
                        left
                    } else {
                        left.saturating_add(500) / 1000
                    })
                }
            },
            ExpireCmd::Persist(key) => reply((|| {
                // Missing or without a TTL: answered from RAM, nothing to rewrite.
                let Some(Some(_)) = ctx.ks.expiry(&key) else {
                    return Ok(Frame::Integer(0));
                };
                let Some(entry) = ctx.ks.get(&key)? else {
                    return Ok(Frame::Integer(0));
                };
                ctx.ks.put(&key, entry.value, None)?;
                Ok(Frame::Integer(1))
            })()),
            ExpireCmd::Expire {
                name,
                key,
                time,
                seconds,
                absolute,
                cond: CondBox(cond),
            } => reply((|| {
                let mut when = time;
                if seconds {
                    when = when
                        .checked_mul(1000)
                        .ok_or_else(|| err_expire_time(name))?;
                }
                if !absolute {
                    let base = i64::try_from(now).unwrap_or(i64::MAX);
                    when = when
                        .checked_add(base)
                        .ok_or_else(|| err_expire_time(name))?;
                }
                // Existence and the conditions are answered from RAM; the value
                // is read from disk only when it is about to be rewritten.
                let Some(expiry) = ctx.ks.expiry(&key) else {
                    return Ok(Frame::Integer(0));
                };
                let current = expiry.map(|e| i64::try_from(e).unwrap_or(i64::MAX));
                let refused = (cond.nx && current.is_some())
                    || (cond.xx && current.is_none())
                    || (cond.gt && current.is_none_or(|c| when <= c))
                    || (cond.lt && current.is_some_and(|c| when >= c));
                if refused {
                    return Ok(Frame::Integer(0));
                }
                match u64::try_from(when) {
                    Ok(at) if at > now => {
                        let Some(entry) = ctx.ks.get(&key)? else {
                            return Ok(Frame::Integer(0));
                        };
                        ctx.ks.put(&key, entry.value, Some(at))?;
                    }
                    // A time in the past deletes the key (and still answers 1).
                    _ => {
                        ctx.ks.delete(&key)?;
                    }
                }
                Ok(Frame::Integer(1))
            })()),
        }
    }
}
