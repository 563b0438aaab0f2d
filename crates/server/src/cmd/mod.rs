//! Commands: the table every request is looked up in, the [`Command`] enum, and
//! dispatch.
//!
//! A request goes through three steps, as in mini-redis:
//! 1. [`lookup`] finds its [`Spec`] and checks the arity (Redis does both before
//!    queueing a command inside `MULTI`, so they are separate from parsing);
//! 2. [`Command::parse`] reads the arguments into a typed command, or an error
//!    reply with Redis's exact text;
//! 3. [`Command::exec`] runs a data command against a [`Keyspace`] and returns a
//!    protocol-neutral [`Frame`]. Session commands (`AUTH`, `HELLO`, `CLIENT`,
//!    `MULTI`...) change connection state, so [`crate::session`] applies them.
//!
//! Files group commands that share parsing or semantics (`set.rs` holds the
//! `SET` family, `expire.rs` every TTL command) rather than one file per
//! command: most commands are a dozen lines, and a file per command would give
//! forty files far below the 150-line floor we aim for.

mod command;
mod config;
mod connection;
mod expire;
mod get;
mod incr;
mod info;
mod keys;
mod set;
mod table;

use bytes::Bytes;
use ccbitcask_engine::Durability;

pub use connection::{credentials_ok as connection_credentials, Auth, ClientCmd, Hello};
pub use table::{lookup, spec_for, unknown_command, Kind, Spec, COMMANDS};

use crate::frame::{err_arity, err_not_integer, err_syntax, Frame};
use crate::keyspace::Keyspace;
use crate::parse::{parse_i64, Request};
use crate::shared::Shared;

/// A cursor over a request's arguments (after the command name).
pub struct Args {
    /// The command's name, for arity errors.
    name: &'static str,
    it: smallvec::IntoIter<[Bytes; 3]>,
}

impl Args {
    /// Wraps a request, skipping the command name.
    pub fn new(name: &'static str, args: Request) -> Args {
        let mut it = args.into_iter();
        it.next();
        Args { name, it }
    }

    /// The next argument; missing means the arity was wrong.
    pub fn next(&mut self) -> Result<Bytes, Frame> {
        self.it.next().ok_or_else(|| err_arity(self.name))
    }

    /// The next argument as a strict Redis integer.
    pub fn next_int(&mut self) -> Result<i64, Frame> {
        parse_i64(&self.next()?).ok_or_else(err_not_integer)
    }

    /// The next argument, if any.
    pub fn try_next(&mut self) -> Option<Bytes> {
        self.it.next()
    }

    /// Arguments left.
    pub fn remaining(&self) -> usize {
        self.it.len()
    }

    /// Everything left.
    pub fn rest(&mut self) -> Vec<Bytes> {
        self.it.by_ref().collect()
    }
}

/// What a data command runs with.
pub struct Ctx<'k, 'a> {
    /// The keyspace view (engine plus this group's writes).
    pub ks: &'k mut Keyspace<'a>,
    /// Server-wide state (`INFO`, `CONFIG`).
    pub shared: &'a Shared,
    /// How the writer commits (needed when `FLUSHDB` commits mid-group).
    pub durability: Durability,
}

/// A parsed command.
#[derive(Debug)]
pub enum Command {
    /// `PING [msg]`, `ECHO msg`, `SELECT 0`: no engine access.
    Connection(connection::Pure),
    /// `AUTH`.
    Auth(Auth),
    /// `HELLO`.
    Hello(Hello),
    /// `CLIENT ...`.
    Client(ClientCmd),
    /// `QUIT`.
    Quit,
    /// `MULTI`.
    Multi,
    /// `EXEC`.
    Exec,
    /// `DISCARD`.
    Discard,
    /// `SHUTDOWN [NOSAVE|SAVE] ...`.
    Shutdown,
    /// `MERGE` / `BGREWRITEAOF`.
    Merge { aof: bool },
    /// `COMMAND ...`.
    Introspect(command::CommandCmd),
    /// `CONFIG GET ...`.
    Config(config::ConfigCmd),
    /// `INFO [section ...]`.
    Info(Vec<Bytes>),
    /// `GET`, `MGET`, `STRLEN`, `GETDEL`, `GETEX`.
    Get(get::GetCmd),
    /// The `SET` family, `MSET`, `MSETNX`.
    Set(set::SetCmd),
    /// `INCR` family and `APPEND`.
    Incr(incr::IncrCmd),
    /// `DEL`, `EXISTS`, `TYPE`, `KEYS`, `SCAN`, `DBSIZE`, `FLUSHDB`.
    Keys(keys::KeysCmd),
    /// `EXPIRE` family, `TTL`, `PTTL`, `PERSIST`.
    Expire(expire::ExpireCmd),
}

impl Command {
    /// Step 2 of dispatch: typed arguments, or Redis's error for them.
    pub fn parse(spec: &'static Spec, args: Request) -> Result<Command, Frame> {
        let mut a = Args::new(spec.name, args);
        Ok(match spec.name {
            "ping" | "echo" | "select" => {
                Command::Connection(connection::Pure::parse(spec.name, &mut a)?)
            }
            "auth" => Command::Auth(Auth::parse(&mut a)?),
            "hello" => Command::Hello(Hello::parse(&mut a)?),
            "client" => Command::Client(ClientCmd::parse(&mut a)?),
            "quit" => Command::Quit,
            "multi" => Command::Multi,
            "exec" => Command::Exec,
            "discard" => Command::Discard,
            "shutdown" => {
                for opt in a.rest() {
                    let ok = ["nosave", "save", "now", "force", "abort"]
                        .iter()
                        .any(|o| opt.eq_ignore_ascii_case(o.as_bytes()));
                    if !ok {
                        return Err(err_syntax());
                    }
                }
                Command::Shutdown
            }
            "merge" => Command::Merge { aof: false },
            "bgrewriteaof" => Command::Merge { aof: true },
            "command" => Command::Introspect(command::CommandCmd::parse(&mut a)?),
            "config" => Command::Config(config::ConfigCmd::parse(&mut a)?),
            "info" => Command::Info(a.rest()),
            "get" | "mget" | "strlen" | "getdel" | "getex" => {
                Command::Get(get::GetCmd::parse(spec.name, &mut a)?)
            }
            "set" | "setnx" | "setex" | "psetex" | "getset" | "mset" | "msetnx" => {
                Command::Set(set::SetCmd::parse(spec.name, &mut a)?)
            }
            "incr" | "incrby" | "decr" | "decrby" | "append" => {
                Command::Incr(incr::IncrCmd::parse(spec.name, &mut a)?)
            }
            "del" | "unlink" | "exists" | "type" | "keys" | "scan" | "dbsize" | "flushdb"
            | "flushall" => Command::Keys(keys::KeysCmd::parse(spec.name, &mut a)?),
            "expire" | "pexpire" | "expireat" | "pexpireat" | "ttl" | "pttl" | "persist" => {
                Command::Expire(expire::ExpireCmd::parse(spec.name, &mut a)?)
            }
            _ => return Err(unknown_command(&[Bytes::from_static(spec.name.as_bytes())])),
        })
    }

    /// The keys whose values this command reads from disk (`GET`, `MGET`,
    /// `STRLEN`), for [`ccbitcask_engine::Bitcask::prefetch`].
    pub fn values_read(&self) -> &[Bytes] {
        match self {
            Command::Get(c) => c.values_read(),
            _ => &[],
        }
    }

    /// Does this read look at several keys at once (and so needs the
    /// commit gate to see other clients' transactions all or nothing)?
    pub fn reads_many_keys(&self) -> bool {
        match self {
            Command::Get(c) => c.key_count() > 1,
            Command::Keys(c) => c.key_count() > 1,
            _ => false,
        }
    }

    /// Can this write take long enough to stall a session thread
    /// (`FLUSHDB`/`FLUSHALL` delete every key)?
    pub fn is_slow_write(&self) -> bool {
        matches!(self, Command::Keys(c) if c.is_flush())
    }

    /// Step 3 for data commands: run against the keyspace.
    pub fn exec(self, ctx: &mut Ctx<'_, '_>) -> Frame {
        let reply = match self {
            Command::Connection(c) => c.exec(),
            Command::Introspect(c) => c.exec(),
            Command::Config(c) => c.exec(ctx.shared),
            Command::Info(sections) => info::exec(&sections, ctx.shared),
            Command::Get(c) => c.exec(ctx),
            Command::Set(c) => c.exec(ctx),
            Command::Incr(c) => c.exec(ctx),
            Command::Keys(c) => c.exec(ctx),
            Command::Expire(c) => c.exec(ctx),
            // Session commands never reach the keyspace (see `crate::session`).
            _ => Frame::error("ERR command cannot run here"),
        };
        ctx.shared
            .stats
            .commands_processed
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        reply
    }
}

/// Collapses `Result<Frame, Frame>` (errors are replies too).
pub(crate) fn reply(r: Result<Frame, Frame>) -> Frame {
    r.unwrap_or_else(|e| e)
}
