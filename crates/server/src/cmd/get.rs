//! Reading strings: `GET`, `MGET`, `STRLEN`, and the two that read and then
//! write: `GETDEL` and `GETEX`.
//!
//! `GET`, `MGET` and `STRLEN` are [`super::Kind::Read`]: they run on the
//! connection task and read the engine directly (a keydir lookup plus one
//! `pread`, served from the page cache for hot data). `GETDEL` and `GETEX` are
//! writes and so run on the serialized write path, where nothing can change the key
//! between their read and their write.

use bytes::Bytes;

use super::expire::{absolute_ms, ExpireOpt, ExpireParser};
use super::{reply, Args, Ctx};
use crate::frame::{err_syntax, Frame};

/// A parsed read command.
#[derive(Debug)]
pub enum GetCmd {
    /// `GET key`.
    Get(Bytes),
    /// `MGET key [key ...]`.
    MGet(Vec<Bytes>),
    /// `STRLEN key`.
    Strlen(Bytes),
    /// `GETDEL key`.
    GetDel(Bytes),
    /// `GETEX key [EX s | PX ms | EXAT ts | PXAT ts | PERSIST]`.
    GetEx(Bytes, ExpireOpt),
}

impl GetCmd {
    pub(super) fn parse(name: &'static str, a: &mut Args) -> Result<GetCmd, Frame> {
        Ok(match name {
            "get" => GetCmd::Get(a.next()?),
            "mget" => GetCmd::MGet(a.rest()),
            "strlen" => GetCmd::Strlen(a.next()?),
            "getdel" => GetCmd::GetDel(a.next()?),
            _ => {
                let key = a.next()?;
                let mut expire = ExpireParser::default();
                while let Some(opt) = a.try_next() {
                    if !expire.option(&opt, a, false, true)? {
                        return Err(err_syntax());
                    }
                }
                GetCmd::GetEx(key, expire.finish(name)?)
            }
        })
    }

    /// Keys this command reads.
    pub(super) fn key_count(&self) -> usize {
        match self {
            GetCmd::MGet(keys) => keys.len(),
            _ => 1,
        }
    }

    /// See [`super::Command::values_read`].
    pub(super) fn values_read(&self) -> &[Bytes] {
        match self {
            GetCmd::Get(key) | GetCmd::Strlen(key) => std::slice::from_ref(key),
            GetCmd::MGet(keys) => keys,
            GetCmd::GetDel(_) | GetCmd::GetEx(..) => &[],
        }
    }

    pub(super) fn exec(self, ctx: &mut Ctx<'_, '_>) -> Frame {
        reply(self.run(ctx))
    }

    fn run(self, ctx: &mut Ctx<'_, '_>) -> Result<Frame, Frame> {
        Ok(match self {
            GetCmd::Get(key) => Frame::bulk_or_null(ctx.ks.get(&key)?.map(|e| e.value)),
            GetCmd::MGet(keys) => {
                let mut out = Vec::with_capacity(keys.len());
                for k in keys {
                    out.push(Frame::bulk_or_null(ctx.ks.get(&k)?.map(|e| e.value)));
                }
                Frame::Array(out)
            }
            GetCmd::Strlen(key) => {
                let len = ctx.ks.get(&key)?.map_or(0, |e| e.value.len());
                Frame::Integer(i64::try_from(len).unwrap_or(i64::MAX))
            }
            GetCmd::GetDel(key) => {
                let old = ctx.ks.get(&key)?;
                if old.is_some() {
                    ctx.ks.delete_live(&key)?;
                }
                Frame::bulk_or_null(old.map(|e| e.value))
            }
            GetCmd::GetEx(key, expire) => {
                let now = ctx.ks.now_ms();
                let at = match expire {
                    ExpireOpt::At { ms, absolute } => {
                        Some(absolute_ms(ms, absolute, now, "getex")?)
                    }
                    _ => None,
                };
                let Some(entry) = ctx.ks.get(&key)? else {
                    return Ok(Frame::Null);
                };
                match (expire, at) {
                    (_, Some(at)) if at <= now => ctx.ks.delete_live(&key)?,
                    (_, Some(at)) => ctx.ks.put(&key, entry.value.clone(), Some(at))?,
                    (ExpireOpt::Persist, None) if entry.expiry.is_some() => {
                        ctx.ks.put(&key, entry.value.clone(), None)?;
                    }
                    _ => {}
                }
                Frame::Bulk(entry.value)
            }
        })
    }
}
