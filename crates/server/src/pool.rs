//! The threads that run client sessions: one single-threaded runtime per
//! thread, no work stealing, and clients moved between threads only by the
//! balancer.
//!
//! Why not tokio's multi-threaded scheduler: a work-stealing scheduler that
//! queues a woken task also wakes an idle worker to look for work to steal,
//! so one request could wake two threads, and 10-15 % of the server's samples
//! were context switches. Here a request wakes nothing but the thread whose
//! `epoll_wait` saw it (docs/BENCHMARKS.md, "Sixth pass").
//!
//! Why not always every thread: on a machine a server shares with its
//! clients, a second thread that each wake-up finds one request for costs more
//! than it adds ("Tenth pass"). So new clients go to the threads in use, in
//! turn, and [`crate::balance`] decides how many are in use. When that number
//! changes, the threads that should shed clients say so; a client leaves at
//! its next request, between two commands, with nothing buffered for it to
//! send. Its socket leaves this thread's reactor and joins the other's, and
//! everything else (read buffer, `MULTI` queue, protocol, name) travels with
//! it, so the client sees nothing.

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use tokio::runtime::Builder;
use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit};
use tracing::debug;

use crate::balance::{Balancer, Gauge, Policy, Reading, Sample};
use crate::connection::Detached;
use crate::session::{Exit, Session};
use crate::shared::{ClientInfo, Shared};
use crate::shutdown::Shutdown;

/// A client on its way to a thread: its session, with the socket in no
/// reactor, and what must live exactly as long as the connection.
pub struct Guest {
    /// The session, socket detached.
    pub session: Session<Detached>,
    /// Released when the connection ends, wherever that happens.
    pub lease: Lease,
}

/// What a connection holds until it ends: its `maxclients` permit, its place
/// in the registry, and the drain signal's sender (see [`crate::shutdown`]).
pub struct Lease {
    /// Held for its drop: returns the slot to the semaphore.
    _permit: OwnedSemaphorePermit,
    /// Held for its drop: the last one dropped ends the drain.
    _done: mpsc::Sender<()>,
    /// For unregistering.
    shared: Arc<Shared>,
    /// This client's registry entry.
    info: Arc<ClientInfo>,
}

impl Lease {
    /// The lease of a client that has just been registered as `info`.
    pub fn new(
        permit: OwnedSemaphorePermit,
        done: mpsc::Sender<()>,
        shared: Arc<Shared>,
        info: Arc<ClientInfo>,
    ) -> Lease {
        Lease {
            _permit: permit,
            _done: done,
            shared,
            info,
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.shared.unregister(self.info.id);
    }
}

/// One session thread as the others see it. Aligned so that two threads'
/// gauges, written at every park and every served batch, never share a cache
/// line (128 bytes: adjacent-line prefetch pairs lines).
#[repr(align(128))]
struct Lane {
    gauge: Gauge,
    inbox: mpsc::UnboundedSender<Guest>,
    /// Sessions living on this thread.
    sessions: AtomicUsize,
    /// Sessions that should leave it, and for which thread.
    evict: AtomicUsize,
    evict_to: AtomicUsize,
}

/// The session threads: where to put a client, and when to move one.
pub struct Pool {
    lanes: Box<[Lane]>,
    /// Threads in use: new clients go to `0..active`.
    active: AtomicUsize,
    next: AtomicUsize,
}

/// The threads themselves, for stopping them.
pub struct Workers {
    threads: Vec<(oneshot::Sender<()>, JoinHandle<()>)>,
}

impl Pool {
    /// Starts `threads` session threads, of which one is in use at first.
    pub fn start(threads: usize) -> io::Result<(Arc<Pool>, Workers)> {
        let mut lanes = Vec::new();
        let mut inboxes = Vec::new();
        for _ in 0..threads.max(1) {
            let (tx, rx) = mpsc::unbounded_channel();
            lanes.push(Lane {
                gauge: Gauge::new(),
                inbox: tx,
                sessions: AtomicUsize::new(0),
                evict: AtomicUsize::new(0),
                evict_to: AtomicUsize::new(0),
            });
            inboxes.push(rx);
        }
        let pool = Arc::new(Pool {
            lanes: lanes.into(),
            active: AtomicUsize::new(1),
            next: AtomicUsize::new(0),
        });
        let mut workers = Workers {
            threads: Vec::new(),
        };
        for (i, rx) in inboxes.into_iter().enumerate() {
            let (park, unpark) = (Arc::clone(&pool), Arc::clone(&pool));
            let rt = Builder::new_current_thread()
                .enable_all()
                .on_thread_park(move || park.lanes[i].gauge.park())
                .on_thread_unpark(move || unpark.lanes[i].gauge.unpark())
                .build()?;
            let (stop, stopped) = oneshot::channel::<()>();
            let pool = Arc::clone(&pool);
            let thread = std::thread::Builder::new()
                .name(format!("ccbitcask-io-{i}"))
                .spawn(move || {
                    rt.block_on(async {
                        tokio::select! {
                            () = inbox(pool, i, rx) => {}
                            _ = stopped => {}
                        }
                    });
                });
            match thread {
                Ok(thread) => workers.threads.push((stop, thread)),
                Err(e) => {
                    workers.stop();
                    return Err(e);
                }
            }
        }
        Ok((pool, workers))
    }

    /// Sends a new client to the next thread in use, in turn.
    pub fn admit(&self, guest: Guest) {
        let active = self
            .active
            .load(Ordering::Relaxed)
            .clamp(1, self.lanes.len());
        let i = self.next.fetch_add(1, Ordering::Relaxed) % active;
        self.send(i, guest);
    }

    /// A guest whose thread is gone (shutdown) is dropped, closing its socket.
    fn send(&self, i: usize, guest: Guest) {
        let _ = self.lanes[i].inbox.send(guest);
    }

    /// Called by a session on thread `i` between two requests: the thread it
    /// should move to, if its thread is shedding clients. Each call that says
    /// yes uses up one of the evictions asked for.
    pub fn should_leave(&self, i: usize) -> Option<usize> {
        let lane = &self.lanes[i];
        lane.evict
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
            .ok()?;
        Some(lane.evict_to.load(Ordering::Relaxed))
    }

    /// A session on thread `i` served `n` requests.
    pub fn served(&self, i: usize, n: u64) {
        self.lanes[i].gauge.served(n);
    }

    /// Makes `to` the number of threads in use: spreading asks each thread in
    /// use to send a fair share of its clients to the new one; gathering asks
    /// the last thread in use to send all of its clients to the emptiest of
    /// the others.
    fn resize(&self, from: usize, to: usize) {
        for lane in self.lanes.iter() {
            lane.evict.store(0, Ordering::Relaxed);
        }
        if to > from {
            for lane in &self.lanes[..from] {
                let n = lane.sessions.load(Ordering::Relaxed);
                lane.evict_to.store(to - 1, Ordering::Relaxed);
                lane.evict.store(n / to, Ordering::Relaxed);
            }
        } else {
            // One destination for all: a load that fits on fewer threads
            // needs no finer split, and the next spread evens out the rest.
            let emptiest = (0..to)
                .min_by_key(|&i| self.lanes[i].sessions.load(Ordering::Relaxed))
                .unwrap_or(0);
            let last = &self.lanes[to];
            last.evict_to.store(emptiest, Ordering::Relaxed);
            last.evict.store(usize::MAX, Ordering::Relaxed);
        }
        self.active.store(to, Ordering::Relaxed);
    }

    /// Watches the threads every `policy.interval` and changes how many are
    /// in use when the [`Balancer`] says so, until shutdown.
    pub async fn balance(self: Arc<Pool>, policy: Policy, mut shutdown: Shutdown) {
        let max = self.lanes.len();
        if max < 2 {
            return;
        }
        let mut tick = tokio::time::interval(policy.interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut balancer = Balancer::new(policy);
        let mut last: Vec<Reading> = self.lanes.iter().map(|l| l.gauge.read()).collect();
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = shutdown.recv() => return,
            }
            let now: Vec<Reading> = self.lanes.iter().map(|l| l.gauge.read()).collect();
            let active = self.active.load(Ordering::Relaxed);
            let samples: Vec<Sample> = last[..active]
                .iter()
                .zip(&now[..active])
                .map(|(&a, &b)| Sample::between(a, b))
                .collect();
            last = now;
            let next = balancer.decide(active, max, &samples);
            if next != active {
                debug!(from = active, to = next, ?samples, "session threads in use");
                self.resize(active, next);
            }
        }
    }
}

impl Workers {
    /// Stops the session threads (their runtimes drop any task still on
    /// them) and waits for them.
    pub fn stop(self) {
        for (stop, thread) in self.threads {
            drop(stop);
            if thread.join().is_err() {
                tracing::error!("a session thread panicked");
            }
        }
    }
}

/// A session thread's main task: starts every client sent to it.
async fn inbox(pool: Arc<Pool>, i: usize, mut rx: mpsc::UnboundedReceiver<Guest>) {
    while let Some(guest) = rx.recv().await {
        tokio::spawn(host(Arc::clone(&pool), i, guest));
    }
}

/// Serves one client on thread `i` until it leaves, errs, or moves on (then
/// it is sent to its next thread's inbox).
async fn host(pool: Arc<Pool>, i: usize, guest: Guest) {
    let Guest { session, lease } = guest;
    let id = lease.info.id;
    // The socket joins the reactor of the thread it now lives on.
    let mut session = match session.attach() {
        Ok(s) => s,
        Err(e) => {
            debug!(client = id, "cannot move a connection to thread {i}: {e}");
            return;
        }
    };
    lease.info.thread.store(i as u64, Ordering::Relaxed);
    let lane = &pool.lanes[i];
    lane.sessions.fetch_add(1, Ordering::Relaxed);
    let result = session.run(&pool, i).await;
    lane.sessions.fetch_sub(1, Ordering::Relaxed);
    match result {
        Ok(Exit::Done) => {}
        Ok(Exit::Move(to)) => match session.detach() {
            Ok(session) => pool.send(to, Guest { session, lease }),
            Err(e) => debug!(client = id, "cannot move a connection off thread {i}: {e}"),
        },
        Err(e) => debug!(client = id, "connection error: {e}"),
    }
}
