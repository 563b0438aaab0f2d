//! State shared by every connection: the engine handle, the configuration, the
//! client registry behind `CLIENT LIST`, and the counters behind `INFO`.
//!
//! All locks here are `std::sync::Mutex`, never held across an `.await`, and
//! taken only on rare paths (connect, disconnect, `CLIENT SETNAME`, `CLIENT
//! LIST`, `INFO`). The per-command hot path only touches atomics.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Instant;

use bytes::Bytes;
use ccbitcask_engine::Bitcask;
use tokio::sync::Notify;

use crate::config::ServerConfig;

/// The version reported in `INFO` (`redis_version`) and `HELLO`. Clients gate
/// features on it, so we claim the Redis release whose behaviour we copy.
pub const REDIS_VERSION: &str = "7.0.15";

/// Server-wide state, one per [`crate::run`], behind an `Arc`.
pub struct Shared {
    /// The engine. Reads call it directly; writes go through [`crate::writer`].
    pub db: Bitcask,
    /// The effective configuration (read by `CONFIG GET` and `INFO`).
    pub config: ServerConfig,
    /// When the server started, for `uptime_in_seconds` and client ages.
    pub started: Instant,
    /// Connected clients by id, ordered so `CLIENT LIST` is stable.
    clients: Mutex<BTreeMap<u64, Arc<ClientInfo>>>,
    /// Source of client ids (Redis starts at 1 and never reuses one).
    next_client_id: AtomicU64,
    /// Counters for `INFO stats`.
    pub stats: Counters,
    /// Set while a merge started by `MERGE`/`BGREWRITEAOF` runs, so a second
    /// request gets Redis's "already in progress" error instead of a queue.
    pub merge_running: AtomicBool,
    /// Makes a multi-key commit look atomic to multi-key reads. The engine
    /// applies a batch to its keydir one key at a time, so an `MGET a b` running
    /// inline during the commit of `MULTI; INCR a; INCR b; EXEC` could see one
    /// increment and not the other. The writer holds this exclusively while it
    /// commits a group of more than one key; `MGET`/`EXISTS` of several keys
    /// hold it shared. Single-key reads never touch it. A std lock: it is only
    /// taken in synchronous code, never across an `.await`.
    pub commit_gate: RwLock<()>,
    /// Serializes mutations on the inline write path (see [`crate::writer`]):
    /// held while a batch executes and commits, never across an `.await`.
    pub write_lock: Mutex<()>,
    /// Woken by the `SHUTDOWN` command; [`crate::run`] waits on it next to the
    /// caller's shutdown future.
    pub shutdown_requested: Notify,
}

/// Monotonic counters reported by `INFO stats`.
#[derive(Default)]
pub struct Counters {
    /// Connections accepted since start.
    pub connections_received: AtomicU64,
    /// Connections refused because of `maxclients`.
    pub rejected_connections: AtomicU64,
    /// Commands executed.
    pub commands_processed: AtomicU64,
    /// Keys removed by the active-expiry sweep.
    pub expired_keys: AtomicU64,
    /// Bytes read from clients.
    pub net_input_bytes: AtomicU64,
    /// Bytes written to clients.
    pub net_output_bytes: AtomicU64,
}

impl Counters {
    /// Zeroes every counter, as Redis's `CONFIG RESETSTAT` does.
    pub fn reset(&self) {
        for counter in [
            &self.connections_received,
            &self.rejected_connections,
            &self.commands_processed,
            &self.expired_keys,
            &self.net_input_bytes,
            &self.net_output_bytes,
        ] {
            counter.store(0, Ordering::Relaxed);
        }
    }
}

/// What `CLIENT LIST` shows about one connection.
pub struct ClientInfo {
    /// Unique id (`CLIENT ID`, `HELLO`'s `id`).
    pub id: u64,
    /// The peer's address.
    pub addr: SocketAddr,
    /// Our side of the connection.
    pub laddr: SocketAddr,
    /// The socket's file descriptor, informational only.
    pub fd: i64,
    /// When the connection was accepted.
    pub created: Instant,
    /// Milliseconds since server start of the last request.
    pub last_active_ms: AtomicU64,
    /// `CLIENT SETNAME` / `HELLO ... SETNAME`.
    pub name: Mutex<Option<Bytes>>,
    /// Protocol version (2 or 3), for the `resp=` field.
    pub resp: AtomicU64,
    /// The session thread serving it, for the `io-thread=` field.
    pub thread: AtomicU64,
}

impl Shared {
    /// Wraps the engine and configuration.
    pub fn new(db: Bitcask, config: ServerConfig) -> Shared {
        Shared {
            db,
            config,
            started: Instant::now(),
            clients: Mutex::new(BTreeMap::new()),
            next_client_id: AtomicU64::new(1),
            stats: Counters::default(),
            merge_running: AtomicBool::new(false),
            commit_gate: RwLock::new(()),
            write_lock: Mutex::new(()),
            shutdown_requested: Notify::new(),
        }
    }

    /// Registers a new connection and returns its entry.
    pub fn register(&self, addr: SocketAddr, laddr: SocketAddr, fd: i64) -> Arc<ClientInfo> {
        let id = self.next_client_id.fetch_add(1, Ordering::Relaxed);
        let info = Arc::new(ClientInfo {
            id,
            addr,
            laddr,
            fd,
            created: Instant::now(),
            last_active_ms: AtomicU64::new(self.uptime_ms()),
            name: Mutex::new(None),
            resp: AtomicU64::new(2),
            thread: AtomicU64::new(0),
        });
        self.clients_lock().insert(id, Arc::clone(&info));
        info
    }

    /// Removes a connection from the registry when it closes.
    pub fn unregister(&self, id: u64) {
        self.clients_lock().remove(&id);
    }

    /// Number of connected clients.
    pub fn client_count(&self) -> usize {
        self.clients_lock().len()
    }

    /// Milliseconds since the server started.
    pub fn uptime_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// The `CLIENT LIST` text: one line per client, in Redis 7.0's field order,
    /// plus the `io-thread` field Redis 8 appends (which thread serves the
    /// client; ours can change, see [`crate::pool`]). Fields we do not track
    /// (buffers, memory) are reported as 0.
    /// `current_cmd` is shown as the current client's last command.
    pub fn client_list(&self, current: u64, current_cmd: &str) -> String {
        let now = self.uptime_ms();
        let clients = self.clients_lock();
        let mut out = String::new();
        for c in clients.values() {
            let name = c
                .name
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .as_ref()
                .map(|n| String::from_utf8_lossy(n).into_owned())
                .unwrap_or_default();
            let idle = now.saturating_sub(c.last_active_ms.load(Ordering::Relaxed)) / 1000;
            let cmd = if c.id == current { current_cmd } else { "NULL" };
            out.push_str(&format!(
                "id={} addr={} laddr={} fd={} name={} age={} idle={} flags=N db=0 sub=0 psub=0 \
                 ssub=0 multi=-1 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 \
                 oll=0 omem=0 tot-mem=0 events=r cmd={} user=default redir=-1 resp={} \
                 io-thread={}\n",
                c.id,
                c.addr,
                c.laddr,
                c.fd,
                name,
                c.created.elapsed().as_secs(),
                idle,
                cmd,
                c.resp.load(Ordering::Relaxed),
                c.thread.load(Ordering::Relaxed),
            ));
        }
        out
    }

    /// A poisoned registry only means some thread panicked while holding it; the
    /// map itself is still consistent (every update is a single insert/remove).
    fn clients_lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Arc<ClientInfo>>> {
        self.clients.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl ClientInfo {
    /// Sets or clears the connection name.
    pub fn set_name(&self, name: Option<Bytes>) {
        *self.name.lock().unwrap_or_else(PoisonError::into_inner) = name;
    }

    /// The connection name, if any.
    pub fn name(&self) -> Option<Bytes> {
        self.name
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}
