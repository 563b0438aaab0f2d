//! How many session threads to use: as few as keep up with the load.
//!
//! Each session thread's runtime reports, through its park hooks, when its run
//! queue runs dry and for how long it then waits in `epoll_wait`; its sessions
//! count the requests they serve. Every [`Policy::interval`] the balancer
//! turns that into two numbers per thread and decides whether to use one
//! thread more or one fewer:
//!
//! * **requests per wake-up.** A thread that serves one or two requests each
//!   time it wakes pays a wake-up (and often a context switch) per request or
//!   two; spreading its clients over more threads only makes each thread wake
//!   more often for less work. A thread that finds many requests every time it
//!   wakes has a queue that does not drain: it is the bottleneck.
//! * **busy share**: the share of wall time not spent parked.
//! * **requests per batch**: how many requests a session found in one read,
//!   which is how deeply its clients pipeline. A client that waits for each
//!   reply before sending its next request sends batches of exactly one, however
//!   far behind the thread falls.
//!
//! Spread when every thread in use has been busy and finding many requests per
//! wake-up for a while; gather when the busy shares would fit on one thread
//! fewer with room to spare. Measured with redis-benchmark on the two cores it
//! shares with the server (docs/BENCHMARKS.md, "Tenth pass"): at `-P 1` one
//! thread wakes for 1.2-1.5 requests at 70-85 % busy, and serves more than
//! two; at `-P 16` it finds 730-790 requests a wake-up at 98 % busy, and two
//! threads serve GETs faster. Busy share alone cannot tell the two apart.
//!
//! Requests per wake-up alone cannot either, for a while: when 50 `-P 1`
//! clients start at once on caches another process has just cooled, the thread
//! finds 10-45 requests a wake-up for three or four intervals, and spreading
//! then slows the whole run ("Twelfth pass"). So a load whose batches are
//! single requests must stay saturated much longer before it spreads; a
//! pipelined one spreads as soon as before.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

/// What a session thread reports: updated by its runtime's park hooks and by
/// its sessions, read by the balancer.
#[derive(Debug)]
pub struct Gauge {
    epoch: Instant,
    /// Nanoseconds since `epoch` at which the thread parked; 0 while it runs.
    parked_at: AtomicU64,
    /// Nanoseconds spent parked, up to the last unpark.
    parked_ns: AtomicU64,
    /// Times the thread parked (its run queue ran dry).
    parks: AtomicU64,
    /// Requests its sessions served.
    requests: AtomicU64,
    /// Batches those requests came in (a session's reports).
    batches: AtomicU64,
}

impl Gauge {
    /// A gauge for a thread that has not parked yet.
    pub fn new() -> Gauge {
        Gauge {
            epoch: Instant::now(),
            parked_at: AtomicU64::new(0),
            parked_ns: AtomicU64::new(0),
            parks: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            batches: AtomicU64::new(0),
        }
    }

    fn now_ns(&self) -> u64 {
        // Never 0, which marks "running".
        u64::try_from(self.epoch.elapsed().as_nanos())
            .unwrap_or(u64::MAX)
            .max(1)
    }

    /// The runtime is about to wait for events.
    pub fn park(&self) {
        self.parks.fetch_add(1, Relaxed);
        self.parked_at.store(self.now_ns(), Relaxed);
    }

    /// The runtime has events or tasks to run again.
    pub fn unpark(&self) {
        let at = self.parked_at.swap(0, Relaxed);
        if at != 0 {
            self.parked_ns
                .fetch_add(self.now_ns().saturating_sub(at), Relaxed);
        }
    }

    /// A session served a batch of `n` requests: those one read brought.
    pub fn served(&self, n: u64) {
        self.requests.fetch_add(n, Relaxed);
        self.batches.fetch_add(1, Relaxed);
    }

    /// The totals so far, counting a park in progress up to now.
    pub fn read(&self) -> Reading {
        let now = self.now_ns();
        let at = self.parked_at.load(Relaxed);
        let parked =
            self.parked_ns.load(Relaxed) + if at != 0 { now.saturating_sub(at) } else { 0 };
        Reading {
            at_ns: now,
            parked_ns: parked,
            parks: self.parks.load(Relaxed),
            requests: self.requests.load(Relaxed),
            batches: self.batches.load(Relaxed),
        }
    }
}

/// A gauge's totals at one moment; two of them make a [`Sample`].
#[derive(Clone, Copy, Debug, Default)]
pub struct Reading {
    at_ns: u64,
    parked_ns: u64,
    parks: u64,
    requests: u64,
    batches: u64,
}

/// One thread over one interval.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sample {
    /// Share of wall time not parked, 0 to 1.
    pub busy: f64,
    /// Requests served per time the run queue ran dry.
    pub per_wake: f64,
    /// Requests served per batch (0 when none was served).
    pub per_batch: f64,
}

impl Sample {
    /// What happened between two readings of one gauge.
    pub fn between(before: Reading, after: Reading) -> Sample {
        let wall = after.at_ns.saturating_sub(before.at_ns).max(1) as f64;
        let parked = after.parked_ns.saturating_sub(before.parked_ns) as f64;
        let parks = after.parks.saturating_sub(before.parks).max(1) as f64;
        let requests = after.requests.saturating_sub(before.requests) as f64;
        let batches = after.batches.saturating_sub(before.batches).max(1) as f64;
        Sample {
            busy: (1.0 - parked / wall).clamp(0.0, 1.0),
            per_wake: requests / parks,
            per_batch: requests / batches,
        }
    }
}

/// When to use more or fewer threads. The defaults come from the measurements
/// in the module documentation; tests use extreme values to force a move.
#[derive(Clone, Debug, PartialEq)]
pub struct Policy {
    /// How often the balancer looks.
    pub interval: Duration,
    /// Spread only when every thread in use is at least this busy...
    pub spread_busy: f64,
    /// ...and serves at least this many requests per wake-up...
    pub spread_per_wake: f64,
    /// ...for this many intervals in a row, if every thread in use serves at
    /// least `pipelined` requests per batch...
    pub spread_after: u32,
    /// See `spread_after`.
    pub pipelined: f64,
    /// ...or for this many intervals in a row if not.
    pub spread_after_unpipelined: u32,
    /// Gather when the busy shares of the threads in use add up to at most
    /// this much per thread that would remain...
    pub gather_busy: f64,
    /// ...or to at most this much when every thread in use serves fewer than
    /// `light_per_wake` requests per wake-up (its busy share is then mostly
    /// the cost of waking, which gathering saves)...
    pub gather_busy_light: f64,
    /// See `gather_busy_light`.
    pub light_per_wake: f64,
    /// ...for this many intervals in a row.
    pub gather_after: u32,
}

impl Default for Policy {
    fn default() -> Policy {
        Policy {
            interval: Duration::from_millis(50),
            spread_busy: 0.8,
            spread_per_wake: 8.0,
            spread_after: 3,
            pipelined: 2.0,
            spread_after_unpipelined: 20,
            gather_busy: 0.5,
            gather_busy_light: 0.9,
            light_per_wake: 4.0,
            gather_after: 10,
        }
    }
}

/// The balancer's memory between intervals.
#[derive(Debug)]
pub struct Balancer {
    policy: Policy,
    /// Intervals in a row that called for spreading (of which the last
    /// `hot_pipelined` had pipelined batches), or for gathering.
    hot: u32,
    hot_pipelined: u32,
    cold: u32,
}

impl Balancer {
    /// A balancer following `policy`.
    pub fn new(policy: Policy) -> Balancer {
        Balancer {
            policy,
            hot: 0,
            hot_pipelined: 0,
            cold: 0,
        }
    }

    /// How many threads to use next, given `active` in use out of `max` and
    /// one sample for each thread in use.
    pub fn decide(&mut self, active: usize, max: usize, samples: &[Sample]) -> usize {
        let p = &self.policy;
        let hot = !samples.is_empty()
            && samples
                .iter()
                .all(|s| s.busy >= p.spread_busy && s.per_wake >= p.spread_per_wake);
        let pipelined = hot && samples.iter().all(|s| s.per_batch >= p.pipelined);
        let busy: f64 = samples.iter().map(|s| s.busy).sum();
        let light = samples.iter().all(|s| s.per_wake < p.light_per_wake);
        let room = if light {
            p.gather_busy_light
        } else {
            p.gather_busy
        };
        let cold = active > 1 && busy <= room * (active - 1) as f64;
        self.hot = if hot { self.hot + 1 } else { 0 };
        self.hot_pipelined = if pipelined { self.hot_pipelined + 1 } else { 0 };
        self.cold = if cold { self.cold + 1 } else { 0 };
        let spread = self.hot_pipelined >= p.spread_after || self.hot >= p.spread_after_unpipelined;
        if spread && active < max {
            self.hot = 0;
            self.hot_pipelined = 0;
            return active + 1;
        }
        if self.cold >= p.gather_after {
            self.cold = 0;
            return active - 1;
        }
        active
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(busy: f64, per_wake: f64, per_batch: f64) -> Sample {
        Sample {
            busy,
            per_wake,
            per_batch,
        }
    }

    #[test]
    fn a_thread_that_drains_its_queue_stays_alone_however_busy() {
        // redis-benchmark -P 1 on a shared 2-core machine: busy, 1.5-2 a wake-up.
        let mut b = Balancer::new(Policy::default());
        for _ in 0..20 {
            assert_eq!(b.decide(1, 2, &[s(0.9, 1.8, 1.0)]), 1);
        }
    }

    #[test]
    fn a_saturated_thread_spreads_after_three_intervals_and_not_past_max() {
        let mut b = Balancer::new(Policy::default());
        assert_eq!(b.decide(1, 2, &[s(0.95, 100.0, 16.0)]), 1);
        assert_eq!(b.decide(1, 2, &[s(0.95, 100.0, 16.0)]), 1);
        assert_eq!(b.decide(1, 2, &[s(0.95, 100.0, 16.0)]), 2);
        for _ in 0..10 {
            assert_eq!(
                b.decide(2, 2, &[s(0.95, 50.0, 16.0), s(0.9, 40.0, 16.0)]),
                2
            );
        }
    }

    #[test]
    fn a_stall_of_two_intervals_is_not_saturation() {
        // Measured at -P 1: a stall piles requests up for an interval or two
        // (47 and 18 requests a wake-up), then the queue drains again.
        let mut b = Balancer::new(Policy::default());
        for _ in 0..5 {
            assert_eq!(b.decide(1, 4, &[s(0.98, 47.0, 1.0)]), 1);
            assert_eq!(b.decide(1, 4, &[s(0.93, 17.9, 1.0)]), 1);
            assert_eq!(b.decide(1, 4, &[s(0.82, 1.4, 1.0)]), 1);
        }
    }

    #[test]
    fn a_start_of_unpipelined_clients_does_not_spread_but_a_pipelined_one_does() {
        // Measured: 50 -P 1 clients starting right after a Redis run on the
        // same cores; the thread falls behind for four intervals, then drains.
        let start = [
            (0.93, 3.7),
            (0.98, 24.1),
            (0.98, 43.8),
            (0.96, 10.9),
            (0.82, 1.6),
        ];
        let mut b = Balancer::new(Policy::default());
        for _ in 0..3 {
            for &(busy, per_wake) in &start {
                assert_eq!(b.decide(1, 2, &[s(busy, per_wake, 1.0)]), 1);
            }
        }
        // The same wake-ups with pipelined batches are a saturated thread.
        let mut b = Balancer::new(Policy::default());
        let moves: Vec<usize> = start
            .iter()
            .map(|&(busy, per_wake)| b.decide(1, 2, &[s(busy, per_wake, 16.0)]))
            .collect();
        assert_eq!(moves, [1, 1, 1, 2, 1]);
    }

    #[test]
    fn an_unpipelined_load_that_stays_saturated_spreads_after_a_second() {
        let mut b = Balancer::new(Policy::default());
        for _ in 0..19 {
            assert_eq!(b.decide(1, 2, &[s(0.97, 30.0, 1.0)]), 1);
        }
        assert_eq!(b.decide(1, 2, &[s(0.97, 30.0, 1.0)]), 2);
    }

    #[test]
    fn spreading_needs_every_thread_in_use_hot() {
        let mut b = Balancer::new(Policy::default());
        for _ in 0..10 {
            assert_eq!(
                b.decide(2, 4, &[s(0.95, 100.0, 16.0), s(0.6, 100.0, 16.0)]),
                2
            );
        }
    }

    #[test]
    fn idle_threads_gather_one_at_a_time_down_to_one() {
        let mut b = Balancer::new(Policy::default());
        let idle = [s(0.0, 0.0, 0.0); 3];
        let mut active = 3;
        let mut steps = 0;
        while active > 1 {
            active = b.decide(active, 3, &idle[..active]);
            steps += 1;
            assert!(steps <= 20, "never gathered");
        }
        assert_eq!(steps, 20);
        assert_eq!(b.decide(1, 3, &idle[..1]), 1);
    }

    #[test]
    fn threads_that_wake_for_a_request_or_two_gather_when_one_could_serve_them() {
        // -P 1 after a false spread: two threads, each waking for one request.
        let mut b = Balancer::new(Policy::default());
        let mut active = 2;
        for _ in 0..10 {
            active = b.decide(active, 2, &[s(0.2, 1.1, 1.0), s(0.39, 1.4, 1.0)]);
        }
        assert_eq!(active, 1);
    }

    #[test]
    fn threads_with_full_wake_ups_stay_spread_at_the_same_busy_share() {
        // GET -P 16 on two threads: busy, but not both saturated.
        let mut b = Balancer::new(Policy::default());
        for _ in 0..40 {
            assert_eq!(b.decide(2, 2, &[s(0.3, 50.0, 16.0), s(0.3, 45.0, 16.0)]), 2);
        }
    }

    #[test]
    fn a_sample_is_the_difference_of_two_readings() {
        let before = Reading {
            at_ns: 1_000,
            parked_ns: 100,
            parks: 10,
            requests: 50,
            batches: 5,
        };
        let after = Reading {
            at_ns: 2_000,
            parked_ns: 350,
            parks: 20,
            requests: 250,
            batches: 30,
        };
        assert_eq!(Sample::between(before, after), s(0.75, 20.0, 8.0));
        // No parks at all: a thread that never ran dry; no division by zero.
        let never = Reading { parks: 10, ..after };
        assert_eq!(Sample::between(before, never).per_wake, 200.0);
    }

    #[test]
    fn a_gauge_counts_a_park_in_progress() {
        let g = Gauge::new();
        g.park();
        std::thread::sleep(Duration::from_millis(20));
        let mid = g.read();
        assert!(mid.parked_ns >= 20_000_000, "{mid:?}");
        g.unpark();
        g.served(3);
        let end = g.read();
        assert!(end.parked_ns >= mid.parked_ns);
        assert_eq!((end.parks, end.requests, end.batches), (1, 3, 1));
    }
}
