//! Where the async server meets the synchronous engine for every mutation.
//!
//! Connection tasks never call the engine's write path directly: they hand a
//! batch of items (one pipeline's worth of commands, or one `EXEC`) to a
//! [`Writer`] and await the replies. Every mutation goes through one of two
//! paths, chosen at startup from the sync policy, and both serialize all
//! mutations, which is what makes `INCR`, `SETNX`, `APPEND`, `MSETNX`,
//! `SET NX|XX|GET` and `MULTI`/`EXEC` atomic without per-key locks:
//!
//! * **`--sync always`: a dedicated writer thread with group commit.** Batches
//!   travel over a bounded tokio channel to one OS thread, which blocks for
//!   the first, drains whatever else is queued (up to [`MAX_GROUP`] batches,
//!   usually from many clients), executes them in order against one
//!   [`Keyspace`], commits them as ONE engine batch with
//!   `Durability::Deferred`, then pays ONE `fsync` for all of them, and only
//!   then answers each batch: over its oneshot channel, or, for a client's
//!   single write, by writing the reply to the client's socket itself
//!   ([`crate::direct`]). A reply therefore never precedes its fsync, and
//!   concurrent clients share fsyncs. The bounded
//!   channel is backpressure: when the disk is slower than the clients,
//!   senders wait instead of queueing unbounded memory.
//! * **`none` and `interval:MS`: inline, under a mutex.** There is no fsync to
//!   share, so the thread handoff would be pure overhead: measured with
//!   redis-benchmark `-P 1`, a SET cost 15 µs of server CPU through the writer
//!   thread (two context switches and two wake-ups) against 9 µs for Redis.
//!   The connection task takes [`Shared::write_lock`], executes and commits
//!   with the engine's own policy, and releases it: a few microseconds,
//!   never across an `.await`, so a std mutex is right. Batches that may run
//!   long (`FLUSHDB`) go to the blocking pool instead, so they cannot stall a
//!   session thread.
//!
//! Either way a reply is sent only after its write is in the engine (in the
//! OS page cache at least), so `kill -9` never loses an acknowledged write.

use std::net::TcpStream;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};
use std::thread::JoinHandle;

use bytes::BytesMut;
use ccbitcask_engine::{Durability, SyncPolicy};
use tokio::sync::{mpsc, oneshot};

use crate::cmd::{Command, Ctx};
use crate::direct::{self, Delivery, Loan};
use crate::frame::{Frame, Proto};
use crate::keyspace::Keyspace;
use crate::shared::Shared;

/// Most jobs folded into one group: bounds the latency a group adds and the
/// memory its overlay holds.
pub const MAX_GROUP: usize = 256;

/// Jobs that may wait in the channel before senders have to wait.
const QUEUE: usize = 1024;

/// The reply to a write the server stopped before running.
pub const SHUTTING_DOWN: &str = "ERR server is shutting down";

/// Most capacity the writer keeps in its buffer for encoding replies between
/// groups.
const SCRATCH: usize = 256 * 1024;

/// One unit of work from a connection, producing one reply.
#[derive(Debug)]
pub enum Item {
    /// A reply decided before execution (a parse error).
    Ready(Frame),
    /// A command to execute.
    One(Command),
    /// An `EXEC`: its items run back to back and reply as one array.
    Multi(Vec<Item>),
}

/// A batch of items from one connection and where to send their replies.
struct Job {
    items: Vec<Item>,
    reply: Reply,
}

/// Where the writer thread sends a job's replies.
enum Reply {
    /// Back to the session task, which writes them.
    Channel(oneshot::Sender<Vec<Frame>>),
    /// To the client's socket directly (see [`crate::direct`]).
    Direct(Delivery),
}

/// A cheap, cloneable handle that executes write batches on the right path.
#[derive(Clone)]
pub struct Writer {
    path: Path,
}

#[derive(Clone)]
enum Path {
    /// `--sync always`: send to the writer thread.
    Thread(mpsc::Sender<Job>),
    /// Otherwise: run inline under `Shared::write_lock`.
    Inline(Arc<Shared>),
}

/// The writer thread itself; joining it waits for the last group and the final
/// fsync.
pub struct WriterThread {
    handle: JoinHandle<()>,
}

impl Writer {
    /// Chooses the write path for `shared.config.sync`; starts the writer
    /// thread when the policy is `always`.
    pub fn spawn(shared: Arc<Shared>) -> std::io::Result<(Writer, Option<WriterThread>)> {
        if !matches!(shared.config.sync, SyncPolicy::Always) {
            let path = Path::Inline(shared);
            return Ok((Writer { path }, None));
        }
        let (tx, rx) = mpsc::channel(QUEUE);
        let handle = std::thread::Builder::new()
            .name("ccbitcask-writer".into())
            .spawn(move || writer_loop(&shared, rx))?;
        let path = Path::Thread(tx);
        Ok((Writer { path }, Some(WriterThread { handle })))
    }

    /// Executes `items` and returns one reply per item.
    pub async fn execute(&self, items: Vec<Item>) -> Vec<Frame> {
        let n = items.len();
        let shutting_down = || vec![Frame::error(SHUTTING_DOWN); n];
        match &self.path {
            Path::Thread(tx) => {
                let (reply, rx) = oneshot::channel();
                let reply = Reply::Channel(reply);
                if tx.send(Job { items, reply }).await.is_err() {
                    return shutting_down();
                }
                rx.await.unwrap_or_else(|_| shutting_down())
            }
            Path::Inline(shared) if items.iter().any(Item::is_slow) => {
                let shared = Arc::clone(shared);
                tokio::task::spawn_blocking(move || run_inline(&shared, items))
                    .await
                    .unwrap_or_else(|_| vec![Frame::error("ERR internal error"); n])
            }
            Path::Inline(shared) => run_inline(shared, items),
        }
    }

    /// The way to the writer thread for a write whose reply the thread
    /// writes to the client itself: `Some` only under `--sync always` (see
    /// [`crate::direct`]).
    pub fn lender(&self) -> Option<Lender<'_>> {
        match &self.path {
            Path::Thread(tx) => Some(Lender(tx)),
            Path::Inline(_) => None,
        }
    }
}

/// The writer thread's queue, for jobs it answers on the client's socket.
pub struct Lender<'a>(&'a mpsc::Sender<Job>);

impl Lender<'_> {
    /// Queues `items`; the writer thread writes their replies to `socket`
    /// after the group's fsync.
    pub async fn lend(self, items: Vec<Item>, socket: Arc<TcpStream>, proto: Proto) -> Loan {
        let (loan, delivery) = direct::lend(socket, proto, items.len());
        let job = Job {
            items,
            reply: Reply::Direct(delivery),
        };
        // A closed channel drops the job, and the delivery's drop answers the
        // client that the server is shutting down.
        let _ = self.0.send(job).await;
        loan
    }
}

/// The inline path: one batch, serialized with every other by the write lock.
///
/// A session thread that finds the lock taken blocks, and its other clients
/// with it, for as long as the holder's batch runs: microseconds for ordinary
/// writes. The one long holder, `FLUSHDB` on a big database, runs on the
/// blocking pool, and a writer that arrives meanwhile waits for it, much as
/// every Redis client waits for a synchronous `FLUSHALL`; reads never take
/// this lock.
fn run_inline(shared: &Shared, items: Vec<Item>) -> Vec<Frame> {
    let _serial = shared
        .write_lock
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    run_group(shared, vec![items], Durability::Policy)
        .pop()
        .unwrap_or_default()
}

impl WriterThread {
    /// Waits for the thread to finish (after every [`Writer`] is dropped).
    pub fn join(self) {
        if self.handle.join().is_err() {
            tracing::error!("writer thread panicked");
        }
    }
}

/// The writer thread, which runs only under `--sync always` (see
/// [`Writer::spawn`]): writes go to the OS unsynced and each group pays one
/// fsync.
fn writer_loop(shared: &Shared, mut rx: mpsc::Receiver<Job>) {
    let mut jobs: Vec<Job> = Vec::with_capacity(MAX_GROUP);
    let mut out = BytesMut::new();
    while let Some(first) = rx.blocking_recv() {
        jobs.push(first);
        while jobs.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        let counts: Vec<usize> = jobs.iter().map(|j| j.items.len()).collect();
        let batches: Vec<Vec<Item>> = jobs
            .iter_mut()
            .map(|j| std::mem::take(&mut j.items))
            .collect();
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            run_group(shared, batches, Durability::Deferred)
        }));
        let replies = match outcome {
            Ok(replies) => replies,
            Err(_) => {
                tracing::error!("panic while executing a write group");
                counts
                    .iter()
                    .map(|&n| vec![Frame::error("ERR internal error"); n])
                    .collect()
            }
        };
        for (job, replies) in jobs.drain(..).zip(replies) {
            match job.reply {
                // The client may have gone away; its writes stand regardless.
                Reply::Channel(tx) => {
                    let _ = tx.send(replies);
                }
                Reply::Direct(d) => {
                    let n = d.deliver(&replies, &mut out);
                    shared
                        .stats
                        .net_output_bytes
                        .fetch_add(n as u64, Ordering::Relaxed);
                }
            }
        }
        // One large reply must not pin its buffer for the server's lifetime.
        if out.capacity() > SCRATCH {
            out = BytesMut::new();
        }
    }
    if let Err(e) = shared.db.sync() {
        tracing::error!("final sync failed: {e}");
    }
}

/// Executes one group of batches and commits it; returns the replies per batch.
///
/// `Durability::Deferred` (the writer thread) means the group's writes were
/// not synced by the engine, so the group pays one fsync before replying;
/// `Durability::Policy` (the inline path) leaves that to the engine.
fn run_group(shared: &Shared, batches: Vec<Vec<Item>>, durability: Durability) -> Vec<Vec<Frame>> {
    let mut ks = Keyspace::new(&shared.db);
    let mut replies: Vec<Vec<Frame>> = Vec::with_capacity(batches.len());
    for items in batches {
        let mut ctx = Ctx {
            ks: &mut ks,
            shared,
            durability,
        };
        replies.push(execute(items, &mut ctx));
    }
    let mut failure = {
        let _gate = (ks.pending_keys() > 1).then(|| {
            shared
                .commit_gate
                .write()
                .unwrap_or_else(PoisonError::into_inner)
        });
        ks.commit(durability).err()
    };
    if failure.is_none() && durability == Durability::Deferred && ks.wrote() {
        if let Err(e) = shared.db.sync() {
            failure = Some(format!("ERR {e}"));
        }
    }
    if let Some(msg) = failure {
        // Nothing in this group may be acknowledged: its writes may not be
        // durable, and its reads may have seen them.
        tracing::error!("write group failed: {msg}");
        let err = Frame::error_owned(msg);
        for r in &mut replies {
            r.iter_mut().for_each(|f| *f = err.clone());
        }
    }
    replies
}

impl Item {
    /// May this item run long (so it must not block a session thread)?
    fn is_slow(&self) -> bool {
        match self {
            Item::Ready(_) => false,
            Item::One(cmd) => cmd.is_slow_write(),
            Item::Multi(items) => items.iter().any(Item::is_slow),
        }
    }

    /// Executes this item against `ctx` and returns its reply; used by the
    /// writer and, for read-only batches, by connection tasks directly.
    pub fn exec(self, ctx: &mut Ctx<'_, '_>) -> Frame {
        match self {
            Item::Ready(f) => f,
            Item::One(cmd) => cmd.exec(ctx),
            Item::Multi(inner) => Frame::Array(execute(inner, ctx)),
        }
    }
}

/// Executes items in order against `ctx`, one reply per item.
pub fn execute(items: Vec<Item>, ctx: &mut Ctx<'_, '_>) -> Vec<Frame> {
    items.into_iter().map(|item| item.exec(ctx)).collect()
}
