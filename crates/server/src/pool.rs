//! The threads that run client sessions: one single-threaded runtime per
//! thread, connections dealt out round robin, no work stealing.
//!
//! Why not tokio's multi-threaded scheduler: a work-stealing scheduler that
//! queues a woken task also wakes an idle worker to look for work to steal,
//! so one request could wake two threads, and 10-15 % of the server's samples
//! were context switches. A session never moves between threads here, so a
//! request wakes nothing but the thread whose `epoll_wait` saw it. Measured
//! against Redis with redis-benchmark on two cores (docs/BENCHMARKS.md,
//! "Sixth pass"): GET `-P 16` 0.88x -> 0.98x, SET `-P 1` 0.95x -> 1.08x.
//!
//! What is given up is balance: a thread with busier clients does not shed
//! them to an idle one. Clients are dealt out in turn, which evens out the
//! many similar connections of a client pool or a benchmark.

use std::io;
use std::thread::JoinHandle;

use tokio::runtime::{Builder, Handle};
use tokio::sync::oneshot;

/// Runtimes to spread sessions over: the caller's own, plus `threads - 1`
/// threads that each drive a current-thread runtime.
pub struct Pool {
    handles: Vec<Handle>,
    next: usize,
    threads: Vec<(oneshot::Sender<()>, JoinHandle<()>)>,
}

impl Pool {
    /// Starts `threads - 1` session threads; the caller's runtime is the
    /// first of the `threads` (so `threads <= 1` starts none).
    pub fn start(threads: usize) -> io::Result<Pool> {
        let mut pool = Pool {
            handles: vec![Handle::current()],
            next: 0,
            threads: Vec::new(),
        };
        for i in 1..threads {
            let rt = Builder::new_current_thread().enable_all().build()?;
            pool.handles.push(rt.handle().clone());
            let (stop, stopped) = oneshot::channel::<()>();
            let thread = std::thread::Builder::new()
                .name(format!("ccbitcask-io-{i}"))
                .spawn(move || {
                    rt.block_on(async {
                        let _ = stopped.await;
                    });
                })?;
            pool.threads.push((stop, thread));
        }
        Ok(pool)
    }

    /// The runtime for the next session, in turn.
    pub fn next(&mut self) -> &Handle {
        let i = self.next % self.handles.len();
        self.next = self.next.wrapping_add(1);
        &self.handles[i]
    }

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
