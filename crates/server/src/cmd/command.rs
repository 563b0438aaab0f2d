//! `COMMAND`, `COMMAND COUNT`, `COMMAND INFO`, `COMMAND DOCS`, `COMMAND LIST`.
//!
//! Built from the same [`super::COMMANDS`] table that dispatch uses, so the
//! introspection can never list a command the server does not run. redis-cli
//! sends `COMMAND DOCS` on start-up to build its hints, and cluster-aware
//! clients read key positions from `COMMAND`; the entries use Redis 7's
//! ten-field layout (key specs and subcommands empty).

use bytes::Bytes;

use super::{spec_for, Args, Spec, COMMANDS};
use crate::frame::{err_unknown_subcommand, Frame};

/// A parsed `COMMAND` form.
#[derive(Debug)]
pub enum CommandCmd {
    /// `COMMAND` or `COMMAND INFO` with no names: every command.
    All,
    /// `COMMAND COUNT`.
    Count,
    /// `COMMAND INFO name...`.
    Info(Vec<Bytes>),
    /// `COMMAND DOCS [name...]`.
    Docs(Vec<Bytes>),
    /// `COMMAND LIST`.
    List,
}

impl CommandCmd {
    pub(super) fn parse(a: &mut Args) -> Result<CommandCmd, Frame> {
        let Some(sub) = a.try_next() else {
            return Ok(CommandCmd::All);
        };
        match sub.to_ascii_lowercase().as_slice() {
            b"count" => Ok(CommandCmd::Count),
            b"info" if a.remaining() == 0 => Ok(CommandCmd::All),
            b"info" => Ok(CommandCmd::Info(a.rest())),
            b"docs" => Ok(CommandCmd::Docs(a.rest())),
            b"list" => Ok(CommandCmd::List),
            _ => Err(err_unknown_subcommand(&sub, "COMMAND")),
        }
    }

    pub(super) fn exec(self) -> Frame {
        match self {
            CommandCmd::All => Frame::Array(COMMANDS.iter().map(info).collect()),
            CommandCmd::Count => Frame::Integer(i64::try_from(COMMANDS.len()).unwrap_or(0)),
            CommandCmd::List => Frame::Array(
                COMMANDS
                    .iter()
                    .map(|s| Frame::bulk_static(s.name))
                    .collect(),
            ),
            CommandCmd::Info(names) => Frame::Array(
                names
                    .iter()
                    .map(|n| spec_for(n).map_or(Frame::Null, info))
                    .collect(),
            ),
            CommandCmd::Docs(names) => {
                let specs: Vec<&Spec> = if names.is_empty() {
                    COMMANDS.iter().collect()
                } else {
                    names.iter().filter_map(|n| spec_for(n)).collect()
                };
                Frame::Map(
                    specs
                        .into_iter()
                        .map(|s| (Frame::bulk_static(s.name), docs(s)))
                        .collect(),
                )
            }
        }
    }
}

/// One `COMMAND INFO` entry: name, arity, flags, first key, last key, step,
/// ACL categories, tips, key specs, subcommands.
fn info(s: &Spec) -> Frame {
    let (first, last, step) = s.keys;
    Frame::Array(vec![
        Frame::bulk_static(s.name),
        Frame::Integer(s.arity),
        // Flags, categories, tips, key specs and subcommands are sets on
        // RESP3 (`~`), as in Redis 7.
        Frame::Set(s.flags.iter().map(|f| Frame::simple(f)).collect()),
        Frame::Integer(first),
        Frame::Integer(last),
        Frame::Integer(step),
        Frame::Set(vec![Frame::simple(acl_category(s.group))]),
        Frame::Set(Vec::new()),
        Frame::Set(Vec::new()),
        Frame::Set(Vec::new()),
    ])
}

/// One `COMMAND DOCS` entry: a map with the summary and group.
fn docs(s: &Spec) -> Frame {
    Frame::Map(vec![
        (Frame::bulk_static("summary"), Frame::bulk_static(s.summary)),
        (Frame::bulk_static("since"), Frame::bulk_static("1.0.0")),
        (Frame::bulk_static("group"), Frame::bulk_static(s.group)),
    ])
}

fn acl_category(group: &str) -> &'static str {
    match group {
        "string" => "@string",
        "generic" => "@keyspace",
        "transactions" => "@transaction",
        "server" => "@admin",
        _ => "@connection",
    }
}
