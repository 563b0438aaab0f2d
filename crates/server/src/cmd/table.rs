//! The command table: every command's name, arity, flags and where it runs,
//! shared by dispatch ([`lookup`]) and introspection (`COMMAND`, `COMMAND DOCS`).
//!
//! Arity and flags are Redis 7.0's, so `COMMAND INFO` matches and arity errors
//! fire exactly where Redis's do.

use std::collections::HashMap;
use std::sync::OnceLock;

use bytes::Bytes;
use foldhash::fast::FixedState;

use crate::frame::{err_arity, truncate, Frame};

/// Where a command runs; see [`crate::session`] for why.
///
/// Declared from least to most demanding: a batch runs where its most
/// demanding command must (`Ord`, so the session can take the `max`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// Changes connection or server state; applied by the session itself.
    Session,
    /// Reads only, and cheaply: runs inline on the connection task.
    Read,
    /// Reads only, but may walk every key: runs on the blocking pool.
    Heavy,
    /// Mutates: runs on the serialized write path ([`crate::writer`]).
    Write,
}

/// Static facts about a command, shared by dispatch and `COMMAND`.
#[derive(Debug)]
pub struct Spec {
    /// Lower-case name.
    pub name: &'static str,
    /// Redis arity: `n` means exactly `n` words including the name, `-n` at least `n`.
    pub arity: i64,
    /// Redis command flags, for `COMMAND`.
    pub flags: &'static [&'static str],
    /// First key position, last key position (-1: last argument), key step.
    pub keys: (i64, i64, i64),
    /// Documentation group and one-line summary, for `COMMAND DOCS`.
    pub group: &'static str,
    /// One-line summary.
    pub summary: &'static str,
    /// Where the command runs.
    pub kind: Kind,
}

macro_rules! spec {
    ($name:literal, $arity:expr, $kind:ident, [$($flag:literal),*], $keys:expr, $group:literal, $summary:literal) => {
        Spec { name: $name, arity: $arity, flags: &[$($flag),*], keys: $keys, group: $group,
               summary: $summary, kind: Kind::$kind }
    };
}

/// Every command we implement.
#[rustfmt::skip]
pub static COMMANDS: &[Spec] = &[
        spec!("append", 3, Write, ["write", "denyoom"], (1, 1, 1), "string", "Append a value to a key"),
        spec!("auth", -2, Session, ["noscript", "loading", "stale", "fast", "no_auth"], (0, 0, 0), "connection", "Authenticate to the server"),
        spec!("bgrewriteaof", 1, Session, ["admin", "noscript"], (0, 0, 0), "server", "Start a merge of the data files (compaction)"),
        spec!("client", -2, Session, ["noscript", "loading", "stale"], (0, 0, 0), "connection", "A container for client connection commands"),
        spec!("command", -1, Read, ["loading", "stale"], (0, 0, 0), "server", "Get array of Redis command details"),
        spec!("config", -2, Read, ["admin", "noscript", "loading", "stale"], (0, 0, 0), "server", "A container for server configuration commands"),
        spec!("dbsize", 1, Heavy, ["readonly", "fast"], (0, 0, 0), "server", "Return the number of keys in the selected database"),
        spec!("decr", 2, Write, ["write", "denyoom", "fast"], (1, 1, 1), "string", "Decrement the integer value of a key by one"),
        spec!("decrby", 3, Write, ["write", "denyoom", "fast"], (1, 1, 1), "string", "Decrement the integer value of a key by the given number"),
        spec!("del", -2, Write, ["write"], (1, -1, 1), "generic", "Delete a key"),
        spec!("discard", 1, Session, ["noscript", "loading", "stale", "fast", "allow_busy"], (0, 0, 0), "transactions", "Discard all commands issued after MULTI"),
        spec!("echo", 2, Read, ["fast"], (0, 0, 0), "connection", "Echo the given string"),
        spec!("exec", 1, Session, ["noscript", "loading", "stale", "skip_slowlog"], (0, 0, 0), "transactions", "Execute all commands issued after MULTI"),
        spec!("exists", -2, Read, ["readonly", "fast"], (1, -1, 1), "generic", "Determine if a key exists"),
        spec!("expire", -3, Write, ["write", "fast"], (1, 1, 1), "generic", "Set a key's time to live in seconds"),
        spec!("expireat", -3, Write, ["write", "fast"], (1, 1, 1), "generic", "Set the expiration for a key as a UNIX timestamp"),
        spec!("flushall", -1, Write, ["write"], (0, 0, 0), "server", "Remove all keys from all databases"),
        spec!("flushdb", -1, Write, ["write"], (0, 0, 0), "server", "Remove all keys from the current database"),
        spec!("get", 2, Read, ["readonly", "fast"], (1, 1, 1), "string", "Get the value of a key"),
        spec!("getdel", 2, Write, ["write", "fast"], (1, 1, 1), "string", "Get the value of a key and delete the key"),
        spec!("getex", -2, Write, ["write", "fast"], (1, 1, 1), "string", "Get the value of a key and optionally set its expiration"),
        spec!("getset", 3, Write, ["write", "denyoom", "fast"], (1, 1, 1), "string", "Set the string value of a key and return its old value"),
        spec!("hello", -1, Session, ["noscript", "loading", "stale", "fast", "no_auth"], (0, 0, 0), "connection", "Handshake with Redis"),
        spec!("incr", 2, Write, ["write", "denyoom", "fast"], (1, 1, 1), "string", "Increment the integer value of a key by one"),
        spec!("incrby", 3, Write, ["write", "denyoom", "fast"], (1, 1, 1), "string", "Increment the integer value of a key by the given amount"),
        spec!("info", -1, Heavy, ["loading", "stale"], (0, 0, 0), "server", "Get information and statistics about the server"),
        spec!("keys", 2, Heavy, ["readonly"], (0, 0, 0), "generic", "Find all keys matching the given pattern"),
        spec!("merge", 1, Session, ["admin", "noscript"], (0, 0, 0), "server", "Start a merge of the data files (compaction)"),
        spec!("mget", -2, Read, ["readonly", "fast"], (1, -1, 1), "string", "Get the values of all the given keys"),
        spec!("mset", -3, Write, ["write", "denyoom"], (1, -1, 2), "string", "Set multiple keys to multiple values"),
        spec!("msetnx", -3, Write, ["write", "denyoom"], (1, -1, 2), "string", "Set multiple keys to multiple values, only if none of the keys exist"),
        spec!("multi", 1, Session, ["noscript", "loading", "stale", "fast", "allow_busy"], (0, 0, 0), "transactions", "Mark the start of a transaction block"),
        spec!("persist", 2, Write, ["write", "fast"], (1, 1, 1), "generic", "Remove the expiration from a key"),
        spec!("pexpire", -3, Write, ["write", "fast"], (1, 1, 1), "generic", "Set a key's time to live in milliseconds"),
        spec!("pexpireat", -3, Write, ["write", "fast"], (1, 1, 1), "generic", "Set the expiration for a key as a UNIX timestamp specified in milliseconds"),
        spec!("ping", -1, Read, ["fast"], (0, 0, 0), "connection", "Ping the server"),
        spec!("psetex", 4, Write, ["write", "denyoom"], (1, 1, 1), "string", "Set the value and expiration in milliseconds of a key"),
        spec!("pttl", 2, Read, ["readonly", "fast"], (1, 1, 1), "generic", "Get the time to live for a key in milliseconds"),
        spec!("quit", -1, Session, [ "allow_busy", "noscript", "loading", "stale", "fast", "no_auth" ], (0, 0, 0), "connection", "Close the connection"),
        spec!("scan", -2, Read, ["readonly"], (0, 0, 0), "generic", "Incrementally iterate the keys space"),
        spec!("select", 2, Read, ["loading", "stale", "fast"], (0, 0, 0), "connection", "Change the selected database for the current connection"),
        spec!("set", -3, Write, ["write", "denyoom"], (1, 1, 1), "string", "Set the string value of a key"),
        spec!("setex", 4, Write, ["write", "denyoom"], (1, 1, 1), "string", "Set the value and expiration of a key"),
        spec!("setnx", 3, Write, ["write", "denyoom", "fast"], (1, 1, 1), "string", "Set the value of a key, only if the key does not exist"),
        spec!("shutdown", -1, Session, [ "admin", "noscript", "loading", "stale", "no_multi", "allow_busy" ], (0, 0, 0), "server", "Synchronously save the dataset to disk and then shut down the server"),
        spec!("strlen", 2, Read, ["readonly", "fast"], (1, 1, 1), "string", "Get the length of the value stored in a key"),
        spec!("ttl", 2, Read, ["readonly", "fast"], (1, 1, 1), "generic", "Get the time to live for a key in seconds"),
        spec!("type", 2, Read, ["readonly", "fast"], (1, 1, 1), "generic", "Determine the type stored at key"),
        spec!("unlink", -2, Write, ["write", "fast"], (1, -1, 1), "generic", "Delete a key asynchronously in another thread"),
];

/// Finds the spec for a command name, in any case.
pub fn spec_for(name: &[u8]) -> Option<&'static Spec> {
    // Every request looks its command up here, and the names are fixed: SipHash's
    // flooding resistance buys nothing, and it cost 1-2 % of a pipelined GET.
    static INDEX: OnceLock<HashMap<&'static [u8], &'static Spec, FixedState>> = OnceLock::new();
    let index = INDEX.get_or_init(|| COMMANDS.iter().map(|s| (s.name.as_bytes(), s)).collect());
    // Command names are short ASCII; anything longer than any name is unknown.
    if name.len() > 16 {
        return None;
    }
    let mut lower = [0u8; 16];
    let lower = lower.get_mut(..name.len())?;
    lower.copy_from_slice(name);
    lower.make_ascii_lowercase();
    index.get(&*lower).copied()
}

/// Step 1 of dispatch: the spec, or the unknown-command / arity error.
pub fn lookup(args: &[Bytes]) -> Result<&'static Spec, Frame> {
    let name = args.first().map(|b| &b[..]).unwrap_or_default();
    let Some(spec) = spec_for(name) else {
        return Err(unknown_command(args));
    };
    let argc = i64::try_from(args.len()).unwrap_or(i64::MAX);
    if (spec.arity > 0 && argc != spec.arity) || (spec.arity < 0 && argc < -spec.arity) {
        return Err(err_arity(spec.name));
    }
    Ok(spec)
}

/// `-ERR unknown command 'foo', with args beginning with: 'a' 'b' `: the
/// client's spelling, each argument quoted and followed by a space, stopping
/// once the list reaches 128 characters (Redis's `processCommand`).
pub fn unknown_command(args: &[Bytes]) -> Frame {
    let name = args.first().map(|b| &b[..]).unwrap_or_default();
    let mut list = String::new();
    for a in args.iter().skip(1) {
        if list.len() >= 128 {
            break;
        }
        let room = 128 - list.len();
        list.push('\'');
        list.push_str(&String::from_utf8_lossy(truncate(a, room)));
        list.push_str("' ");
    }
    Frame::error_owned(format!(
        "ERR unknown command '{}', with args beginning with: {list}",
        String::from_utf8_lossy(truncate(name, 128))
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_is_found_by_its_name_in_any_case() {
        for spec in COMMANDS {
            assert_eq!(
                spec.name,
                spec.name.to_ascii_lowercase(),
                "names are stored lower-case"
            );
            assert!(std::ptr::eq(spec_for(spec.name.as_bytes()).unwrap(), spec));
            let upper = spec.name.to_ascii_uppercase();
            assert!(std::ptr::eq(spec_for(upper.as_bytes()).unwrap(), spec));
        }
        assert_eq!(spec_for(b"gEt").map(|s| s.name), Some("get"));
    }

    #[test]
    fn unknown_names_are_not_found() {
        for name in [
            &b""[..],
            b"ge",
            b"gett",
            b"get ",
            b"\xffget",
            b"\xc3\xa9",
            b"clientsetinfoxyzw",
        ] {
            assert!(spec_for(name).is_none(), "{name:?}");
        }
        // Longer than any name: refused before the table is consulted.
        assert!(spec_for(&[b'a'; 4096]).is_none());
    }
}
