//! The listener: accepting connections within `maxclients`, the active-expiry
//! sweep, and graceful shutdown (stop accepting, let in-flight commands finish,
//! drain the writer, fsync, release the engine).

use std::future::Future;
use std::io;
use std::os::fd::AsRawFd;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use ccbitcask_engine::Bitcask;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{broadcast, mpsc, Semaphore};
use tracing::{error, info, warn};

use crate::config::ServerConfig;
use crate::connection::Detached;
use crate::parse::Limits;
use crate::pool::{Guest, Lease, Pool};
use crate::session::Session;
use crate::shared::Shared;
use crate::shutdown::Shutdown;
use crate::writer::Writer;

/// Redis's reply to the client that is one too many.
const MAX_CLIENTS_REPLY: &[u8] = b"-ERR max number of clients reached\r\n";

/// How long shutdown waits for sessions to finish their current command.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Accepts connections and hands each to a [`Session`] task.
struct Listener {
    /// The bound socket.
    listener: TcpListener,
    /// Engine, configuration, registry and counters.
    shared: Arc<Shared>,
    /// One permit per allowed client (`maxclients`). A session task owns its
    /// permit and returns it by dropping it when the connection ends.
    limit: Arc<Semaphore>,
    /// Dropped to tell every session (and the sweep) to stop; see
    /// [`crate::shutdown`].
    notify_shutdown: broadcast::Sender<()>,
    /// Cloned into every session and never sent on: when the last clone is
    /// dropped, every session has finished.
    shutdown_complete_tx: mpsc::Sender<()>,
    /// The write path, cloned into every session.
    writer: Writer,
    /// The threads sessions run on.
    pool: Arc<Pool>,
}

/// Serves RESP clients on `listener` until `shutdown` completes or a client
/// sends `SHUTDOWN`, then shuts down gracefully: the listener closes, every
/// session finishes the command it is running, the writer commits its last
/// group, and the engine is synced.
pub async fn run(
    db: Bitcask,
    listener: TcpListener,
    config: ServerConfig,
    shutdown: impl Future,
) -> io::Result<()> {
    let shared = Arc::new(Shared::new(db, config));
    let (writer, writer_thread) = Writer::spawn(Arc::clone(&shared))?;
    let (notify_shutdown, _) = broadcast::channel(1);
    let (shutdown_complete_tx, mut shutdown_complete_rx) = mpsc::channel::<()>(1);
    let sweeper = tokio::spawn(sweep(
        Arc::clone(&shared),
        Shutdown::new(notify_shutdown.subscribe()),
    ));
    let (pool, workers) = Pool::start(shared.config.threads)?;
    let balancer = tokio::spawn(Arc::clone(&pool).balance(
        shared.config.balance.clone(),
        Shutdown::new(notify_shutdown.subscribe()),
    ));

    let mut server = Listener {
        listener,
        limit: Arc::new(Semaphore::new(shared.config.maxclients)),
        shared: Arc::clone(&shared),
        notify_shutdown,
        shutdown_complete_tx,
        writer,
        pool,
    };
    tokio::select! {
        () = server.accept_loop() => {}
        _ = shutdown => info!("shutdown signal received"),
        () = shared.shutdown_requested.notified() => info!("SHUTDOWN command received"),
    }
    // Dropping the listener closes the socket; dropping the broadcast sender
    // tells every session to stop after its current command.
    let Listener {
        listener,
        notify_shutdown,
        shutdown_complete_tx,
        writer,
        ..
    } = server;
    drop(listener);
    drop(notify_shutdown);
    drop(shutdown_complete_tx);
    drop(writer);
    // A session only stops between commands, so this waits for every command
    // in flight. A client that never reads its replies could hold a session
    // in `write` forever; after DRAIN_TIMEOUT we stop waiting for it (its
    // writes are committed already, only their replies are undelivered).
    let drained = tokio::time::timeout(DRAIN_TIMEOUT, shutdown_complete_rx.recv())
        .await
        .is_ok();
    let _ = sweeper.await;
    let _ = balancer.await;
    if tokio::task::spawn_blocking(move || workers.stop())
        .await
        .is_err()
    {
        error!("session threads could not be joined");
    }
    if !drained {
        warn!("clients still connected after {DRAIN_TIMEOUT:?}; shutting down without them");
    } else if let Some(thread) = writer_thread {
        // Every Writer clone is gone now, so the thread finishes its last
        // group, fsyncs and exits.
        if tokio::task::spawn_blocking(move || thread.join())
            .await
            .is_err()
        {
            error!("writer thread could not be joined");
        }
    }
    let db = shared.db.clone();
    tokio::task::spawn_blocking(move || db.sync())
        .await
        .map_err(io::Error::other)?
        .map_err(io::Error::other)?;
    info!("shutdown complete");
    Ok(())
}

impl Listener {
    /// Accepts forever; only the surrounding `select!` ends it.
    async fn accept_loop(&mut self) {
        loop {
            let socket = self.accept().await;
            self.shared
                .stats
                .connections_received
                .fetch_add(1, Ordering::Relaxed);
            let Ok(permit) = Arc::clone(&self.limit).try_acquire_owned() else {
                // Like Redis: accept, say why, close. Done on its own task so
                // a slow client cannot hold up the accept loop.
                self.shared
                    .stats
                    .rejected_connections
                    .fetch_add(1, Ordering::Relaxed);
                tokio::spawn(async move {
                    let mut socket = socket;
                    let _ = socket.write_all(MAX_CLIENTS_REPLY).await;
                    let _ = socket.shutdown().await;
                });
                continue;
            };
            // Small replies must not wait for Nagle (Redis sets it too).
            let _ = socket.set_nodelay(true);
            let (Ok(addr), Ok(laddr)) = (socket.peer_addr(), socket.local_addr()) else {
                continue;
            };
            let fd = i64::from(socket.as_raw_fd());
            let cfg = &self.shared.config;
            let limits = Limits {
                max_bulk_len: cfg.max_bulk_len,
                max_multibulk_len: cfg.max_multibulk_len,
            };
            let Ok(socket) = socket.into_std() else {
                continue;
            };
            let conn = Detached::new(socket, limits, cfg.max_buffer);
            let info = self.shared.register(addr, laddr, fd);
            let session = Session::new(
                conn,
                Arc::clone(&self.shared),
                self.writer.clone(),
                Arc::clone(&info),
                Shutdown::new(self.notify_shutdown.subscribe()),
            );
            let lease = Lease::new(
                permit,
                self.shutdown_complete_tx.clone(),
                Arc::clone(&self.shared),
                info,
            );
            self.pool.admit(Guest { session, lease });
        }
    }

    /// Accepts one connection, retrying transient errors (out of file
    /// descriptors, aborted handshakes) with exponential backoff from 10 ms to
    /// 5 s. Unlike mini-redis we never give up: a server that exits because
    /// it briefly ran out of descriptors is worse than one that waits.
    async fn accept(&mut self) -> TcpStream {
        let mut backoff = Duration::from_millis(10);
        loop {
            match self.listener.accept().await {
                Ok((socket, _)) => return socket,
                Err(e) => {
                    warn!("accept failed: {e}; retrying in {backoff:?}");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
    }
}

/// Active expiry, like Redis's `activeExpireCycle`: every `sweep_interval`,
/// ask the engine to drop up to `sweep_batch` expired keys from RAM; if a
/// batch came back full there are probably more, so repeat, but at most a few
/// times per tick so the sweep never monopolizes a core.
async fn sweep(shared: Arc<Shared>, mut shutdown: Shutdown) {
    const MAX_ROUNDS: usize = 8;
    let mut tick = tokio::time::interval(shared.config.sweep_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = shutdown.recv() => return,
        }
        for _ in 0..MAX_ROUNDS {
            let db = shared.db.clone();
            let batch = shared.config.sweep_batch;
            let Ok(removed) = tokio::task::spawn_blocking(move || db.purge_expired(batch)).await
            else {
                break;
            };
            shared
                .stats
                .expired_keys
                .fetch_add(removed as u64, Ordering::Relaxed);
            if removed < batch {
                break;
            }
        }
    }
}
