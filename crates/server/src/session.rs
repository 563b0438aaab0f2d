//! One client session: the request loop, connection state (protocol version,
//! authentication, `MULTI` queue), and the routing of each command to where it
//! runs.
//!
//! # Where async meets the synchronous engine
//!
//! Requests are taken out of the read buffer in order, as many as are complete
//! (pipelining). Consecutive data commands are collected into one batch, which
//! runs in one of three places:
//!
//! * **Inline, on this task**, when every command in it is a cheap read
//!   (`GET`, `MGET`, `TTL`, `EXISTS`...). An engine read is a keydir lookup
//!   plus one `pread` that the page cache serves for hot data, a few
//!   microseconds. Measured with redis-benchmark (`GET`, `-c 50`, 1M keys):
//!   inline costs 9-10 µs of server CPU per request at `-P 1` against 21-23
//!   µs through `spawn_blocking` (a thread handoff and two wake-ups per
//!   batch), and at `-P 16` inline was also the faster of the two
//!   (368-384k against 290-373k ops/s). A cold read that does reach the disk
//!   blocks this session thread (see [`crate::pool`]) for one I/O, which we
//!   accept the way Redis accepts page faults.
//! * **On tokio's blocking pool**, when a read may walk every key (`KEYS`,
//!   `DBSIZE`, `INFO`), so it cannot stall the other connections on this thread.
//! * **On the serialized write path** ([`crate::writer`]) as soon as the
//!   batch holds a single write; the reads in it go along so they observe the
//!   writes before them, in order.
//!
//! Session commands (`AUTH`, `HELLO`, `CLIENT`, `MULTI`/`EXEC`, `QUIT`...) end
//! the batch: it runs first, then the session command, so replies stay in
//! request order. All replies of one read are written with one `write`.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use ccbitcask_engine::Durability;

use crate::cmd::{self, ClientCmd, Command, Ctx, Kind, Spec};
use crate::connection::{Connection, Detached, Fill};
use crate::direct::Loan;
use crate::frame::{Frame, Proto};
use crate::keyspace::Keyspace;
use crate::parse::Request;
use crate::pool::Pool;
use crate::shared::{ClientInfo, Shared, REDIS_VERSION};
use crate::shutdown::Shutdown;
use crate::writer::{Item, Writer};

/// Replies are written out once this many bytes are pending, even mid-pipeline,
/// so a pipeline of large `GET`s cannot grow the write buffer without bound.
const FLUSH_AT: usize = 1024 * 1024;

/// A batch runs once it holds this many commands even if more are buffered,
/// so a long pipeline's replies are produced (and flushed) in slices instead of
/// all at once.
const MAX_BATCH: usize = 256;

/// A read batch's list is kept for the next one up to this many commands
/// (`redis-benchmark -P 16` batches 16; an item is about 100 bytes).
const KEEP_BATCH: usize = 32;

/// What the request loop does next.
#[derive(Debug, PartialEq, Eq)]
enum Next {
    Continue,
    Close,
}

/// Why [`Session::run`] returned.
#[derive(Debug, PartialEq, Eq)]
pub enum Exit {
    /// The connection is over.
    Done,
    /// The pool asked this session to move to that thread; nothing is
    /// buffered for the client and no command is half done. A reply lent to
    /// the writer thread goes along and is settled there before anything
    /// else is written.
    Move(usize),
}

/// Per-connection state and the request loop. `C` is the socket side: a
/// [`Connection`] while the session runs on a thread, a [`Detached`] one while
/// it moves between threads.
pub struct Session<C = Connection> {
    conn: C,
    shared: Arc<Shared>,
    writer: Writer,
    /// This client's entry in the registry (`CLIENT LIST`, `CLIENT ID`).
    info: Arc<ClientInfo>,
    shutdown: Shutdown,
    /// The protocol replies are encoded in (`HELLO` changes it).
    proto: Proto,
    /// False until `AUTH` succeeds when a password is configured.
    authenticated: bool,
    /// `Some` between `MULTI` and `EXEC`/`DISCARD`: the queued requests (parsed
    /// at `EXEC`, as Redis reports argument errors inside the `EXEC` reply).
    multi: Option<Vec<(&'static Spec, Request)>>,
    /// A queued command was unknown or had the wrong arity: `EXEC` aborts.
    multi_dirty: bool,
    /// Bytes held by the queued commands (bounded by `max_buffer`).
    multi_bytes: usize,
    /// Data commands waiting to run as one batch, and the most demanding
    /// place one of them must run.
    batch: Vec<Item>,
    batch_kind: Kind,
    /// Requests handled since the pool was last told.
    served: u64,
    /// Replies the writer thread is writing to the client itself
    /// ([`crate::direct`]); until they are settled this session writes
    /// nothing and handles no request.
    lent: Option<Loan>,
}

impl Session<Detached> {
    /// A session for an accepted connection.
    pub fn new(
        conn: Detached,
        shared: Arc<Shared>,
        writer: Writer,
        info: Arc<ClientInfo>,
        shutdown: Shutdown,
    ) -> Session<Detached> {
        let authenticated = shared.config.requirepass.is_none();
        Session {
            conn,
            shared,
            writer,
            info,
            shutdown,
            proto: Proto::Resp2,
            authenticated,
            multi: None,
            multi_dirty: false,
            multi_bytes: 0,
            batch: Vec::new(),
            batch_kind: Kind::Read,
            served: 0,
            lent: None,
        }
    }

    /// Joins the reactor of the thread this is called on.
    pub fn attach(self) -> std::io::Result<Session> {
        self.with_conn(Detached::attach)
    }
}

impl<C> Session<C> {
    /// The same session over another form of its connection.
    fn with_conn<D>(self, f: impl FnOnce(C) -> std::io::Result<D>) -> std::io::Result<Session<D>> {
        Ok(Session {
            conn: f(self.conn)?,
            shared: self.shared,
            writer: self.writer,
            info: self.info,
            shutdown: self.shutdown,
            proto: self.proto,
            authenticated: self.authenticated,
            multi: self.multi,
            multi_dirty: self.multi_dirty,
            multi_bytes: self.multi_bytes,
            batch: self.batch,
            batch_kind: self.batch_kind,
            served: self.served,
            lent: self.lent,
        })
    }
}

impl Session {
    /// Leaves this thread's reactor, to move to another thread.
    pub fn detach(self) -> std::io::Result<Session<Detached>> {
        self.with_conn(Connection::detach)
    }

    /// Serves requests on thread `thread` of `pool` until the client leaves,
    /// errs, the server shuts down, or the pool asks the session to move.
    ///
    /// One span per connection rather than per command: a per-command span
    /// would be measurable at a million commands a second.
    #[tracing::instrument(level = "debug", name = "client", skip_all, fields(id = self.info.id, addr = %self.info.addr))]
    pub async fn run(&mut self, pool: &Pool, thread: usize) -> std::io::Result<Exit> {
        loop {
            self.settle().await;
            let next = self.process_buffer().await;
            let n = self.conn.flush().await?;
            self.shared
                .stats
                .net_output_bytes
                .fetch_add(n as u64, Ordering::Relaxed);
            if next == Next::Close {
                self.conn.close().await;
                return Ok(Exit::Done);
            }
            if self.served > 0 {
                pool.served(thread, std::mem::take(&mut self.served));
            }
            // Between two requests, with every reply written: the one point
            // where a session can change threads without the client noticing.
            if let Some(to) = pool.should_leave(thread) {
                return Ok(Exit::Move(to));
            }
            let filled = tokio::select! {
                r = self.conn.fill() => r?,
                rest = handed_back(self.lent.as_ref()) => {
                    // The writer could not write a lent reply: the rest is ours.
                    self.lent = None;
                    self.conn.push_encoded(&rest);
                    continue;
                }
                () = self.shutdown.recv() => return Ok(Exit::Done),
            };
            match filled {
                Fill::Data(n) => {
                    self.shared
                        .stats
                        .net_input_bytes
                        .fetch_add(n as u64, Ordering::Relaxed);
                    self.info
                        .last_active_ms
                        .store(self.shared.uptime_ms(), Ordering::Relaxed);
                }
                Fill::Eof => return Ok(Exit::Done),
                Fill::BufferFull => {
                    self.settle().await;
                    // Redis closes such a client silently; a last error line
                    // tells a human what happened and costs nothing.
                    self.conn.push(
                        &Frame::error("ERR Protocol error: query buffer limit exceeded"),
                        self.proto,
                    );
                    self.conn.close().await;
                    return Ok(Exit::Done);
                }
            }
        }
    }

    /// Handles every complete request in the read buffer.
    async fn process_buffer(&mut self) -> Next {
        loop {
            let args = match self.conn.next_request(self.authenticated) {
                Ok(Some(args)) if args.is_empty() => continue,
                Ok(Some(args)) => {
                    self.served += 1;
                    args
                }
                Ok(None) => {
                    self.run_last_batch().await;
                    return Next::Continue;
                }
                Err(e) => {
                    // Earlier requests still get their replies, then the error,
                    // then the connection closes.
                    self.run_batch().await;
                    self.reply(&Frame::error_owned(e.reply_text()));
                    return Next::Close;
                }
            };
            if self.handle(args).await == Next::Close {
                self.run_batch().await;
                return Next::Close;
            }
            if self.batch.len() >= MAX_BATCH || self.conn.pending_output() >= FLUSH_AT {
                self.run_batch().await;
                if self.conn.flush().await.is_err() {
                    return Next::Close;
                }
            }
        }
    }

    /// Runs the batch that ends what the client has sent. A single write whose
    /// reply would be the only bytes to send is lent to the writer thread,
    /// which writes the reply itself after its fsync (see [`crate::direct`]).
    async fn run_last_batch(&mut self) {
        let single_write = self.batch_kind == Kind::Write
            && self.batch.len() == 1
            && self.conn.pending_output() == 0;
        if let Some(lender) = self.writer.lender().filter(|_| single_write) {
            if let Some(socket) = self.conn.lendable() {
                let items = std::mem::take(&mut self.batch);
                self.batch_kind = Kind::Read;
                self.lent = Some(lender.lend(items, socket, self.proto).await);
                return;
            }
        }
        self.run_batch().await;
    }

    /// Waits until no reply is out on loan, and queues any the writer handed
    /// back, so that what is written next follows it.
    async fn settle(&mut self) {
        if let Some(loan) = self.lent.take() {
            let rest = loan.settled().await;
            self.conn.push_encoded(&rest);
        }
    }

    /// Routes one request.
    async fn handle(&mut self, args: Request) -> Next {
        let spec = match cmd::lookup(&args) {
            Ok(spec) => spec,
            Err(e) => {
                self.multi_dirty |= self.multi.is_some();
                self.reply_in_order(e).await;
                return Next::Continue;
            }
        };
        if !self.authenticated && !matches!(spec.name, "auth" | "hello" | "quit") {
            self.multi_dirty |= self.multi.is_some();
            self.reply_in_order(Frame::error("NOAUTH Authentication required."))
                .await;
            return Next::Continue;
        }
        if let Some(queue) = &mut self.multi {
            if !matches!(spec.name, "exec" | "discard" | "multi" | "quit") {
                // A transaction is held in memory until EXEC: bound it like the
                // read buffer, so MULTI cannot be used to grow memory forever.
                self.multi_bytes += args.iter().map(|a| a.len() + 16).sum::<usize>();
                if self.multi_bytes > self.shared.config.max_buffer {
                    self.multi_dirty = true;
                    self.reply_in_order(Frame::error("ERR transaction too large (max-buffer)"))
                        .await;
                    return Next::Continue;
                }
                queue.push((spec, args));
                self.reply_in_order(Frame::simple("QUEUED")).await;
                return Next::Continue;
            }
        }
        if spec.kind != Kind::Session {
            let item = match Command::parse(spec, args) {
                Ok(cmd) => Item::One(cmd),
                Err(e) => Item::Ready(e),
            };
            self.batch.push(item);
            // Write beats Heavy beats Read (`Kind` is declared in that order).
            self.batch_kind = self.batch_kind.max(spec.kind);
            return Next::Continue;
        }
        self.run_batch().await;
        let cmd = match Command::parse(spec, args) {
            Ok(cmd) => cmd,
            Err(e) => {
                self.reply(&e);
                return Next::Continue;
            }
        };
        self.shared
            .stats
            .commands_processed
            .fetch_add(1, Ordering::Relaxed);
        match cmd {
            Command::Quit => {
                self.reply(&Frame::ok());
                Next::Close
            }
            Command::Shutdown => {
                // Redis closes the connection without a reply when SHUTDOWN
                // succeeds; the server then drains and syncs.
                self.shared.shutdown_requested.notify_one();
                Next::Close
            }
            Command::Multi => {
                let f = if self.multi.is_some() {
                    Frame::error("ERR MULTI calls can not be nested")
                } else {
                    self.multi = Some(Vec::new());
                    self.multi_dirty = false;
                    self.multi_bytes = 0;
                    Frame::ok()
                };
                self.reply(&f);
                Next::Continue
            }
            Command::Discard => {
                let f = match self.multi.take() {
                    Some(_) => Frame::ok(),
                    None => Frame::error("ERR DISCARD without MULTI"),
                };
                self.reply(&f);
                Next::Continue
            }
            Command::Exec => {
                let f = self.exec().await;
                self.reply(&f);
                Next::Continue
            }
            other => {
                let f = self.apply_session(other);
                self.reply(&f);
                Next::Continue
            }
        }
    }

    /// `EXEC`: the queued commands run back to back on the write path, as
    /// one engine batch, and reply as one array.
    async fn exec(&mut self) -> Frame {
        let Some(queue) = self.multi.take() else {
            return Frame::error("ERR EXEC without MULTI");
        };
        if std::mem::take(&mut self.multi_dirty) {
            return Frame::error("EXECABORT Transaction discarded because of previous errors.");
        }
        let mut items = Vec::with_capacity(queue.len());
        for (spec, args) in queue {
            let item = match Command::parse(spec, args) {
                Err(e) => Item::Ready(e),
                // Session commands touch no data; run them now, in place.
                Ok(cmd) if spec.kind == Kind::Session => Item::Ready(self.apply_session(cmd)),
                Ok(cmd) => Item::One(cmd),
            };
            items.push(item);
        }
        let mut replies = self.writer.execute(vec![Item::Multi(items)]).await;
        replies.pop().unwrap_or(Frame::NullArray)
    }

    /// Applies a session command that changes connection or server state.
    fn apply_session(&mut self, cmd: Command) -> Frame {
        let requirepass = self.shared.config.requirepass.as_deref();
        match cmd {
            Command::Auth(auth) => match auth.check(requirepass) {
                Ok(()) => {
                    self.authenticated = true;
                    Frame::ok()
                }
                Err(e) => e,
            },
            Command::Hello(hello) => {
                if let Some((user, pass)) = &hello.auth {
                    if let Err(e) = cmd::connection_credentials(Some(user), pass, requirepass) {
                        return e;
                    }
                    self.authenticated = true;
                }
                if !self.authenticated {
                    return Frame::error(
                        "NOAUTH HELLO must be called with the client already authenticated, otherwise the \
                         HELLO AUTH <user> <pass> option can be used to authenticate the client and select \
                         the RESP protocol version at the same time",
                    );
                }
                if let Some(name) = hello.setname {
                    self.info.set_name((!name.is_empty()).then_some(name));
                }
                if let Some(p) = hello.proto {
                    self.proto = p;
                    self.info.resp.store(p.number() as u64, Ordering::Relaxed);
                }
                self.hello_reply()
            }
            Command::Client(c) => match c {
                ClientCmd::Id => Frame::Integer(i64::try_from(self.info.id).unwrap_or(i64::MAX)),
                ClientCmd::GetName => Frame::bulk_or_null(self.info.name()),
                ClientCmd::SetName(name) => {
                    self.info.set_name((!name.is_empty()).then_some(name));
                    Frame::ok()
                }
                // Redis 7 answers both with a verbatim string (a bulk string on RESP2).
                ClientCmd::List => {
                    Frame::Verbatim(self.shared.client_list(self.info.id, "client|list").into())
                }
                ClientCmd::Info => {
                    let all = self.shared.client_list(self.info.id, "client|info");
                    let prefix = format!("id={} ", self.info.id);
                    let line = all
                        .lines()
                        .find(|l| l.starts_with(&prefix))
                        .unwrap_or_default();
                    Frame::Verbatim(format!("{line}\n").into())
                }
                ClientCmd::SetInfo | ClientCmd::Noop => Frame::ok(),
            },
            Command::Merge { aof } => self.start_merge(aof),
            // Pure commands parsed as session ones never happen; be safe.
            other => {
                let mut ks = Keyspace::new(&self.shared.db);
                other.exec(&mut Ctx {
                    ks: &mut ks,
                    shared: &self.shared,
                    durability: Durability::Policy,
                })
            }
        }
    }

    /// `MERGE` / `BGREWRITEAOF`: compaction on a background thread, one at a time.
    fn start_merge(&self, aof: bool) -> Frame {
        if self.shared.merge_running.swap(true, Ordering::AcqRel) {
            return Frame::error(if aof {
                "ERR Background append only file rewriting already in progress"
            } else {
                "ERR Background merge already in progress"
            });
        }
        let shared = Arc::clone(&self.shared);
        let spawned = std::thread::Builder::new()
            .name("ccbitcask-merge".into())
            .spawn(move || {
                match shared.db.merge() {
                    Ok(r) => tracing::info!(reclaimed = r.reclaimed_bytes, "merge finished"),
                    Err(e) => tracing::error!("merge failed: {e}"),
                }
                shared.merge_running.store(false, Ordering::Release);
            });
        match spawned {
            Ok(_) if aof => Frame::simple("Background append only file rewriting started"),
            Ok(_) => Frame::simple("Background merge started"),
            Err(e) => {
                self.shared.merge_running.store(false, Ordering::Release);
                Frame::error_owned(format!("ERR cannot start merge: {e}"))
            }
        }
    }

    /// The `HELLO` map, in Redis's field order.
    fn hello_reply(&self) -> Frame {
        Frame::Map(vec![
            (Frame::bulk_static("server"), Frame::bulk_static("redis")),
            (
                Frame::bulk_static("version"),
                Frame::bulk_static(REDIS_VERSION),
            ),
            (
                Frame::bulk_static("proto"),
                Frame::Integer(self.proto.number()),
            ),
            (
                Frame::bulk_static("id"),
                Frame::Integer(i64::try_from(self.info.id).unwrap_or(i64::MAX)),
            ),
            (Frame::bulk_static("mode"), Frame::bulk_static("standalone")),
            (Frame::bulk_static("role"), Frame::bulk_static("master")),
            (Frame::bulk_static("modules"), Frame::Array(Vec::new())),
        ])
    }

    /// Runs the pending batch of data commands where it must run, and encodes
    /// its replies.
    async fn run_batch(&mut self) {
        if self.batch.is_empty() {
            return;
        }
        let kind = std::mem::replace(&mut self.batch_kind, Kind::Read);
        if kind <= Kind::Read {
            // The common case, a pipeline of GETs: each reply is encoded as soon as it
            // is made, and the batch keeps its capacity for the next read, up to a
            // bound, so that an idle connection does not hold a long pipeline's worth.
            let (conn, proto) = (&mut self.conn, self.proto);
            run_read_batch(&self.shared, &mut self.batch, |f| conn.push(&f, proto));
            if self.batch.capacity() > KEEP_BATCH {
                self.batch = Vec::new();
            }
            return;
        }
        let mut items = std::mem::take(&mut self.batch);
        let replies = if kind == Kind::Write {
            self.writer.execute(items).await
        } else {
            let shared = Arc::clone(&self.shared);
            let n = items.len();
            tokio::task::spawn_blocking(move || {
                let mut replies = Vec::with_capacity(n);
                run_read_batch(&shared, &mut items, |f| replies.push(f));
                replies
            })
            .await
            .unwrap_or_else(|_| vec![Frame::error("ERR internal error"); n])
        };
        for f in &replies {
            self.conn.push(f, self.proto);
        }
    }

    /// A reply that must follow the replies of the pending batch.
    async fn reply_in_order(&mut self, f: Frame) {
        self.run_batch().await;
        self.reply(&f);
    }

    fn reply(&mut self, f: &Frame) {
        self.conn.push(f, self.proto);
    }
}

/// Completes when the writer hands back a lent reply; never without a loan.
async fn handed_back(loan: Option<&Loan>) -> Bytes {
    match loan {
        Some(loan) => loan.returned().await,
        None => std::future::pending().await,
    }
}

/// Executes read-only items against the engine directly, in order, handing each
/// reply to `reply`; leaves `items` empty.
fn run_read_batch(shared: &Shared, items: &mut Vec<Item>, mut reply: impl FnMut(Frame)) {
    let multi_key = items
        .iter()
        .any(|i| matches!(i, Item::One(c) if c.reads_many_keys()));
    let _gate = multi_key.then(|| {
        shared
            .commit_gate
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    });
    // A pipeline of reads pays one keydir cache miss after another; fetched together
    // first, the misses overlap.
    shared.db.prefetch(items.iter().flat_map(|i| match i {
        Item::One(c) => c.values_read(),
        _ => &[],
    }));
    let mut ks = Keyspace::new(&shared.db);
    let mut ctx = Ctx {
        ks: &mut ks,
        shared,
        durability: Durability::Policy,
    };
    for item in items.drain(..) {
        reply(item.exec(&mut ctx));
    }
}
