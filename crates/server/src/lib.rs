//! A Redis-protocol server for the ccbitcask engine: real Redis clients
//! (redis-cli, redis-benchmark, redis-py, the `redis` crate) talk to it
//! unchanged, over RESP2 or RESP3, and their data lives in a Bitcask on disk
//! instead of in RAM.
//!
//! # What it is not
//!
//! Only strings exist (no lists, hashes, streams, pub/sub, Lua, replication or
//! cluster), there is one database (`SELECT 0`), and `CONFIG SET` is refused:
//! settings are fixed at startup. Values live on disk; only keys and a small
//! fixed per-key entry live in RAM.
//!
//! # Limits
//!
//! Arguments up to `max_bulk_len` (512 MiB), requests up to
//! `max_multibulk_len` arguments, `max_buffer` bytes buffered per connection,
//! `maxclients` connections; anything beyond gets Redis's error and, for
//! protocol violations, a closed connection. No input makes the server panic.
//!
//! # Layout
//!
//! One concept per module, mini-redis style:
//! * [`frame`]: replies and their RESP2/RESP3 encodings;
//! * [`parse`]: check-then-parse of requests (multibulk and inline), strict
//!   integers, limits;
//! * `connection`: the socket, its buffers, pipelining;
//! * `session`: per-client state and routing (inline read / blocking pool /
//!   writer);
//! * `writer`: the serialized write path (a writer thread with group fsync
//!   for `--sync always`, inline under a mutex otherwise);
//! * `direct`: replies the writer thread writes to the client itself;
//! * `keyspace`: the overlay view that makes batches and `MULTI` atomic;
//! * `cmd/`: the command table and one file per command family;
//! * `server`: the listener, `maxclients`, the expiry sweep, shutdown;
//! * `pool`: the threads sessions run on, one event loop each, and how a
//!   client moves between them;
//! * `balance`: how many of those threads to use;
//! * [`config`] and [`main`]: `ccbitcask serve` flags and TOML file.
//!
//! # Example
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! let db = ccbitcask_engine::Bitcask::open("/tmp/db").map_err(std::io::Error::other)?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:6379").await?;
//! let config = ccbitcask_server::ServerConfig::default();
//! ccbitcask_server::run(db, listener, config, tokio::signal::ctrl_c()).await
//! # }
//! ```

#![forbid(unsafe_code)]
#![warn(clippy::unwrap_used, clippy::expect_used)]

mod balance;
mod cmd;
pub mod config;
mod connection;
mod direct;
pub mod frame;
pub mod glob;
mod keyspace;
pub mod parse;
mod pool;
mod serve;
mod server;
mod session;
mod shared;
mod shutdown;
mod writer;

pub use balance::Policy as BalancePolicy;
pub use config::{ServeArgs, ServerConfig};
pub use serve::main;
pub use server::run;
