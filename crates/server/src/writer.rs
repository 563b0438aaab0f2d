//! The writer thread: where the async server meets the synchronous engine for
//! every mutation.
//!
//! Connection tasks never call the engine's write path themselves. They send a
//! [`Job`] (one pipeline's worth of commands, or one `EXEC`) over a bounded
//! tokio channel to a single dedicated OS thread and await a oneshot reply.
//! The thread:
//!
//! 1. blocks for the first job, then drains whatever else is already queued
//!    (up to [`MAX_GROUP`] jobs), possibly from many clients;
//! 2. executes every command of the group, in order, against one
//!    [`Keyspace`], so later commands see earlier writes;
//! 3. commits the group's writes as ONE engine batch, and under
//!    `--sync always` follows it with ONE `fsync` (group commit);
//! 4. only then sends every job its replies.
//!
//! Why a thread and not `spawn_blocking` per write: one writer serializes all
//! mutations, which makes `INCR`, `SETNX`, `APPEND`, `MSETNX`, `SET NX|XX|GET`
//! and `MULTI`/`EXEC` atomic with no locks, and it is what lets concurrent
//! clients share an fsync. Why a bounded channel: when the disk is slower than
//! the clients, senders wait (backpressure) instead of queueing unbounded
//! memory. A reply is never sent before its write is in the engine (and, with
//! `always`, on disk), so an acknowledged write is never lost.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, PoisonError};
use std::thread::JoinHandle;

use ccbitcask_engine::{Durability, SyncPolicy};
use tokio::sync::{mpsc, oneshot};

use crate::cmd::{Command, Ctx};
use crate::frame::Frame;
use crate::keyspace::Keyspace;
use crate::shared::Shared;

/// Most jobs folded into one group: bounds the latency a group adds and the
/// memory its overlay holds.
pub const MAX_GROUP: usize = 256;

/// Jobs that may wait in the channel before senders have to wait.
const QUEUE: usize = 1024;

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
    reply: oneshot::Sender<Vec<Frame>>,
}

/// A cheap, cloneable handle for sending work to the writer thread.
#[derive(Clone)]
pub struct Writer {
    tx: mpsc::Sender<Job>,
}

/// The writer thread itself; joining it waits for the last group and the final
/// fsync.
pub struct WriterThread {
    handle: JoinHandle<()>,
}

impl Writer {
    /// Starts the writer thread.
    pub fn spawn(shared: Arc<Shared>) -> std::io::Result<(Writer, WriterThread)> {
        let (tx, rx) = mpsc::channel(QUEUE);
        let handle = std::thread::Builder::new()
            .name("ccbitcask-writer".into())
            .spawn(move || writer_loop(&shared, rx))?;
        Ok((Writer { tx }, WriterThread { handle }))
    }

    /// Runs `items` on the writer thread and returns one reply per item.
    pub async fn execute(&self, items: Vec<Item>) -> Vec<Frame> {
        let n = items.len();
        let (reply, rx) = oneshot::channel();
        if self.tx.send(Job { items, reply }).await.is_err() {
            return vec![Frame::error("ERR server is shutting down"); n];
        }
        rx.await
            .unwrap_or_else(|_| vec![Frame::error("ERR server is shutting down"); n])
    }
}

impl WriterThread {
    /// Waits for the thread to finish (after every [`Writer`] is dropped).
    pub fn join(self) {
        if self.handle.join().is_err() {
            tracing::error!("writer thread panicked");
        }
    }
}

fn writer_loop(shared: &Shared, mut rx: mpsc::Receiver<Job>) {
    // With `always`, writes go to the OS unsynced and the group pays one
    // fsync; otherwise the engine's own policy (none / interval) applies.
    let always = matches!(shared.config.sync, SyncPolicy::Always);
    let durability = if always {
        Durability::Deferred
    } else {
        Durability::Policy
    };
    let mut jobs: Vec<Job> = Vec::with_capacity(MAX_GROUP);
    while let Some(first) = rx.blocking_recv() {
        jobs.push(first);
        while jobs.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            run_group(shared, &mut jobs, durability, always)
        }));
        let replies = match outcome {
            Ok(replies) => replies,
            Err(_) => {
                tracing::error!("panic while executing a write group");
                jobs.iter()
                    .map(|j| vec![Frame::error("ERR internal error"); j.items.len()])
                    .collect()
            }
        };
        for (job, replies) in jobs.drain(..).zip(replies) {
            // The client may have gone away; its writes stand regardless.
            let _ = job.reply.send(replies);
        }
    }
    if let Err(e) = shared.db.sync() {
        tracing::error!("final sync failed: {e}");
    }
}

/// Executes one group and commits it; returns the replies per job.
fn run_group(
    shared: &Shared,
    jobs: &mut [Job],
    durability: Durability,
    always: bool,
) -> Vec<Vec<Frame>> {
    let mut ks = Keyspace::new(&shared.db);
    let mut replies: Vec<Vec<Frame>> = Vec::with_capacity(jobs.len());
    for job in jobs.iter_mut() {
        let items = std::mem::take(&mut job.items);
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
    if failure.is_none() && always && ks.wrote() {
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

/// Executes items in order against `ctx`; used by the writer and, for
/// read-only batches, by connection tasks directly.
pub fn execute(items: Vec<Item>, ctx: &mut Ctx<'_, '_>) -> Vec<Frame> {
    items
        .into_iter()
        .map(|item| match item {
            Item::Ready(f) => f,
            Item::One(cmd) => cmd.exec(ctx),
            Item::Multi(inner) => Frame::Array(execute(inner, ctx)),
        })
        .collect()
}
