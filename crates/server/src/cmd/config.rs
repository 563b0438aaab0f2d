//! `CONFIG GET pattern [pattern ...]`, `CONFIG SET`, `CONFIG RESETSTAT`.
//!
//! Tools read a few Redis parameters at startup: redis-benchmark sends
//! `CONFIG GET save` and `CONFIG GET appendonly` and wants a two-element reply.
//! We answer Redis's names with the closest truthful value (`appendonly yes`:
//! every write goes to an append-only log; `appendfsync` mirrors `--sync`),
//! plus our own settings under their flag names. The reply is a map (`%` on
//! RESP3, a flat array on RESP2). Settings are fixed at startup, so
//! `CONFIG SET` answers Redis's unknown-option error.

use bytes::Bytes;
use ccbitcask_engine::SyncPolicy;

use super::Args;
use crate::frame::{err_arity, err_unknown_subcommand, Frame};
use crate::glob;
use crate::shared::Shared;

/// A parsed `CONFIG` subcommand.
#[derive(Debug)]
pub enum ConfigCmd {
    /// `CONFIG GET pattern...`.
    Get(Vec<Bytes>),
    /// `CONFIG SET name value ...`: always refused, with the first name.
    Set(Bytes),
    /// `CONFIG RESETSTAT`.
    ResetStat,
}

impl ConfigCmd {
    pub(super) fn parse(a: &mut Args) -> Result<ConfigCmd, Frame> {
        let sub = a.next()?;
        match sub.to_ascii_lowercase().as_slice() {
            b"get" if a.remaining() >= 1 => Ok(ConfigCmd::Get(a.rest())),
            b"get" => Err(err_arity("config|get")),
            b"set" if a.remaining() >= 2 => Ok(ConfigCmd::Set(a.next()?)),
            b"set" => Err(err_arity("config|set")),
            b"resetstat" => Ok(ConfigCmd::ResetStat),
            _ => Err(err_unknown_subcommand(&sub, "CONFIG")),
        }
    }

    pub(super) fn exec(self, shared: &Shared) -> Frame {
        match self {
            ConfigCmd::Get(patterns) => {
                let params = parameters(shared);
                let pairs = params
                    .into_iter()
                    .filter(|(name, _)| {
                        patterns
                            .iter()
                            .any(|p| glob::matches(&p.to_ascii_lowercase(), name.as_bytes()))
                    })
                    .map(|(name, value)| (Frame::bulk_static(name), Frame::bulk_string(value)))
                    .collect();
                Frame::Map(pairs)
            }
            ConfigCmd::Set(name) => Frame::error_owned(format!(
                "ERR Unknown option or number of arguments for CONFIG SET - '{}'",
                String::from_utf8_lossy(&name)
            )),
            ConfigCmd::ResetStat => {
                shared.stats.reset();
                Frame::ok()
            }
        }
    }
}

/// Every parameter `CONFIG GET` knows, with its current value.
fn parameters(shared: &Shared) -> Vec<(&'static str, String)> {
    let c = &shared.config;
    vec![
        ("save", String::new()),
        ("appendonly", "yes".into()),
        ("appendfsync", appendfsync(c.sync).into()),
        ("databases", "1".into()),
        ("bind", c.bind.ip().to_string()),
        ("port", c.bind.port().to_string()),
        ("maxclients", c.maxclients.to_string()),
        ("threads", c.threads.to_string()),
        ("requirepass", c.requirepass.clone().unwrap_or_default()),
        ("proto-max-bulk-len", c.max_bulk_len.to_string()),
        ("client-query-buffer-limit", c.max_buffer.to_string()),
        ("maxmemory", "0".into()),
        ("timeout", "0".into()),
        ("hz", "10".into()),
        ("sync", c.sync.to_string()),
        ("max-multibulk-len", c.max_multibulk_len.to_string()),
    ]
}

/// Redis's `appendfsync` name for a sync policy, for `CONFIG GET` and `INFO`:
/// `always`, `no`, or `everysec` for an interval (Redis's only periodic one).
pub(super) fn appendfsync(policy: SyncPolicy) -> &'static str {
    match policy {
        SyncPolicy::Always => "always",
        SyncPolicy::None => "no",
        _ => "everysec",
    }
}
