//! The `SET` family: `SET` with `EX`/`PX`/`EXAT`/`PXAT`/`NX`/`XX`/`KEEPTTL`/`GET`,
//! `SETNX`, `SETEX`, `PSETEX`, `GETSET`, `MSET`, `MSETNX`.
//!
//! All of them reduce to one [`Set`] (or a list of pairs for `MSET*`) so the
//! condition, TTL and reply rules live in one place. They run on the writer
//! thread, which serializes every mutation: that is what makes `SET NX`,
//! `SETNX`, `MSETNX` and `SET ... GET` atomic without any per-key locking.

use bytes::Bytes;

use super::expire::{absolute_ms, positive_ms, ExpireOpt, ExpireParser};
use super::{reply, Args, Ctx};
use crate::frame::{err_syntax, Frame};

/// Only set when the key is missing (`NX`) or present (`XX`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cond {
    /// No condition.
    Always,
    /// `NX`.
    IfMissing,
    /// `XX`.
    IfPresent,
}

/// How the command replies, which is the main difference between the aliases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReplyStyle {
    /// `SET`: `+OK`, or nil when the condition refused.
    Ok,
    /// `SET ... GET` and `GETSET`: the old value or nil.
    OldValue,
    /// `SETNX`: `:1` if set, `:0` if not.
    Bool,
}

/// One key assignment with its rules.
#[derive(Debug)]
pub struct Set {
    /// The command name, for errors.
    name: &'static str,
    key: Bytes,
    value: Bytes,
    cond: Cond,
    expire: ExpireOpt,
    style: ReplyStyle,
}

/// A parsed `SET`-family command.
#[derive(Debug)]
pub enum SetCmd {
    /// Single-key forms.
    One(Set),
    /// `MSET` (`nx == false`) and `MSETNX`.
    Many {
        pairs: Vec<(Bytes, Bytes)>,
        nx: bool,
    },
}

impl SetCmd {
    pub(super) fn parse(name: &'static str, a: &mut Args) -> Result<SetCmd, Frame> {
        if name == "mset" || name == "msetnx" {
            if a.remaining() & 1 == 1 {
                return Err(crate::frame::err_arity(name));
            }
            let mut pairs = Vec::with_capacity(a.remaining() / 2);
            while let Some(k) = a.try_next() {
                pairs.push((k, a.next()?));
            }
            return Ok(SetCmd::Many {
                pairs,
                nx: name == "msetnx",
            });
        }
        let key = a.next()?;
        let mut set = Set {
            name,
            key,
            value: Bytes::new(),
            cond: Cond::Always,
            expire: ExpireOpt::Unset,
            style: ReplyStyle::Ok,
        };
        match name {
            "setnx" => {
                set.value = a.next()?;
                set.cond = Cond::IfMissing;
                set.style = ReplyStyle::Bool;
            }
            "getset" => {
                set.value = a.next()?;
                set.style = ReplyStyle::OldValue;
            }
            "setex" | "psetex" => {
                let ttl = a.next()?;
                set.value = a.next()?;
                set.expire = ExpireOpt::At {
                    ms: positive_ms(&ttl, name == "setex", name)?,
                    absolute: false,
                };
            }
            _ => {
                set.value = a.next()?;
                let mut expire = ExpireParser::default();
                while let Some(opt) = a.try_next() {
                    if expire.option(&opt, a, true, false)? {
                        continue;
                    }
                    match opt.to_ascii_uppercase().as_slice() {
                        b"NX" if set.cond != Cond::IfPresent => set.cond = Cond::IfMissing,
                        b"XX" if set.cond != Cond::IfMissing => set.cond = Cond::IfPresent,
                        b"GET" => set.style = ReplyStyle::OldValue,
                        _ => return Err(err_syntax()),
                    }
                }
                set.expire = expire.finish(name)?;
            }
        }
        Ok(SetCmd::One(set))
    }

    pub(super) fn exec(self, ctx: &mut Ctx<'_, '_>) -> Frame {
        match self {
            SetCmd::One(set) => reply(set.apply(ctx)),
            SetCmd::Many { pairs, nx } => reply((|| {
                if nx && pairs.iter().any(|(k, _)| ctx.ks.exists(k)) {
                    return Ok(Frame::Integer(0));
                }
                for (k, v) in pairs {
                    ctx.ks.put(&k, v, None)?;
                }
                Ok(if nx { Frame::Integer(1) } else { Frame::ok() })
            })()),
        }
    }
}

impl Set {
    fn apply(self, ctx: &mut Ctx<'_, '_>) -> Result<Frame, Frame> {
        let now = ctx.ks.now_ms();
        // Resolve the TTL first: an overflow is an error even if the
        // condition would refuse the write.
        let at = match self.expire {
            ExpireOpt::At { ms, absolute } => Some(absolute_ms(ms, absolute, now, self.name)?),
            _ => None,
        };
        // Only `GET` needs the old value itself; conditions and `KEEPTTL` are
        // answered from RAM by one `expiry` lookup (`None`: missing, else the
        // current TTL). A plain SET reads nothing, so it costs one append.
        let old = match self.style {
            ReplyStyle::OldValue => ctx.ks.get(&self.key)?,
            _ => None,
        };
        let current = match self.style {
            ReplyStyle::OldValue => old.as_ref().map(|e| e.expiry),
            _ if self.cond != Cond::Always || self.expire == ExpireOpt::Keep => {
                ctx.ks.expiry(&self.key)
            }
            _ => None,
        };
        let allowed = match self.cond {
            Cond::Always => true,
            Cond::IfMissing => current.is_none(),
            Cond::IfPresent => current.is_some(),
        };
        if allowed {
            let expiry = match self.expire {
                ExpireOpt::Keep => current.flatten(),
                _ => at,
            };
            match expiry {
                // An absolute time already past: Redis sets and immediately
                // expires the key, which is a delete.
                Some(at) if at <= now => {
                    ctx.ks.delete(&self.key)?;
                }
                _ => ctx.ks.put(&self.key, self.value, expiry)?,
            }
        }
        Ok(match self.style {
            ReplyStyle::OldValue => Frame::bulk_or_null(old.map(|e| e.value)),
            ReplyStyle::Bool => Frame::Integer(i64::from(allowed)),
            ReplyStyle::Ok if allowed => Frame::ok(),
            ReplyStyle::Ok => Frame::Null,
        })
    }
}
