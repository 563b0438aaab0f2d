//! Workload ingredients: deterministic keys and values, a fast RNG, a Zipfian
//! generator, and the timing helpers every workload shares.
//!
//! Keys are derived from an index by a bijective hash, so "insert `0..n` in order"
//! is a random-order insert over a uniformly spread key space, and a reader can name
//! any loaded key without the harness holding a key list in RAM (which would distort
//! the peak-RSS figures). Values are slices of a buffer of random bytes, so the
//! engines that compress by default (fjall, rocksdb) gain nothing from it.

use std::time::{Duration, Instant};

/// splitmix64: a bijection on `u64` with good avalanche, used both as the key hash
/// and as the RNG step.
pub fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Builds the key for index `i` into `buf`, `size` bytes long. The first 8 bytes are
/// `mix64(i)`, so keys of at least 8 bytes are distinct for distinct indexes.
pub fn key_into(i: u64, size: usize, buf: &mut Vec<u8>) {
    buf.clear();
    let mut word = 0u64;
    while buf.len() < size {
        let chunk = mix64(i ^ word.wrapping_mul(0xD6E8_FEB8_6659_FD93)).to_le_bytes();
        let take = (size - buf.len()).min(chunk.len());
        buf.extend_from_slice(&chunk[..take]);
        word += 1;
    }
}

/// A pool of random bytes that values are sliced from.
pub struct Values {
    pool: Vec<u8>,
    size: usize,
}

impl Values {
    /// Pool stride between consecutive indexes: a value shifts by this much, so
    /// neighbouring values differ everywhere.
    const STRIDE: usize = 61;
    const WINDOW: usize = 1 << 20;

    /// A pool for values of `size` bytes.
    pub fn new(size: usize, seed: u64) -> Self {
        let mut rng = Rng::new(seed);
        let mut pool = vec![0u8; Self::WINDOW + size];
        for chunk in pool.chunks_mut(8) {
            let word = rng.next_u64().to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
        Self { pool, size }
    }

    /// The value for index `i` (and version `v`, so overwrites change the bytes).
    pub fn get(&self, i: u64, v: u64) -> &[u8] {
        let start =
            (mix64(i.wrapping_add(v << 40)) as usize % Self::WINDOW) / Self::STRIDE * Self::STRIDE;
        &self.pool[start..start + self.size]
    }

    /// The configured value size.
    pub fn size(&self) -> usize {
        self.size
    }
}

/// A tiny, fast, seedable RNG (splitmix64 sequence); quality is ample for picking keys.
pub struct Rng(u64);

impl Rng {
    /// Seeds the generator.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix64(self.0)
    }

    /// Uniform in `0..n` (n > 0), by multiply-shift (no modulo bias worth noting).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// YCSB's Zipfian generator (Gray et al., "Quickly generating billion-record
/// synthetic databases"), theta 0.99 by default. Rank 0 is the hottest; ranks map to
/// key indexes directly, and since keys are hashed from indexes the hot keys are
/// scattered over the key space, as YCSB's scrambled variant does.
pub struct Zipf {
    n: u64,
    theta: f64,
    alpha: f64,
    zetan: f64,
    eta: f64,
}

impl Zipf {
    /// A generator over `0..n` with skew `theta` (0 < theta < 1).
    pub fn new(n: u64, theta: f64) -> Self {
        let zeta = |count: u64| {
            (1..=count)
                .map(|i| 1.0 / (i as f64).powf(theta))
                .sum::<f64>()
        };
        let zetan = zeta(n);
        let zeta2 = zeta(2.min(n));
        let eta = (1.0 - (2.0 / n as f64).powf(1.0 - theta)) / (1.0 - zeta2 / zetan);
        Self {
            n,
            theta,
            alpha: 1.0 / (1.0 - theta),
            zetan,
            eta,
        }
    }

    /// The next rank.
    pub fn sample(&self, rng: &mut Rng) -> u64 {
        let u = rng.unit();
        let uz = u * self.zetan;
        if uz < 1.0 {
            return 0;
        }
        if uz < 1.0 + 0.5f64.powf(self.theta) {
            return 1.min(self.n - 1);
        }
        let rank = (self.n as f64 * (self.eta * u - self.eta + 1.0).powf(self.alpha)) as u64;
        rank.min(self.n - 1)
    }
}

/// Runs `f`, returning its result and the elapsed wall time.
pub fn timed<T>(f: impl FnOnce() -> anyhow::Result<T>) -> anyhow::Result<(T, Duration)> {
    let start = Instant::now();
    let out = f()?;
    Ok((out, start.elapsed()))
}

/// Operations per second, guarding against a zero duration in `--quick` runs.
pub fn rate(ops: u64, elapsed: Duration) -> f64 {
    ops as f64 / elapsed.as_secs_f64().max(1e-9)
}

/// Splits `total` operations over `threads` threads; thread `t` gets `share(t)`.
pub fn share(total: u64, threads: u64, t: u64) -> u64 {
    total / threads + u64::from(t < total % threads)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_distinct_and_sized() {
        let mut a = Vec::new();
        let mut b = Vec::new();
        key_into(1, 16, &mut a);
        key_into(2, 16, &mut b);
        assert_eq!(a.len(), 16);
        assert_ne!(a, b);
        key_into(7, 5, &mut a);
        assert_eq!(a.len(), 5);
    }

    #[test]
    fn zipf_is_skewed_and_in_range() {
        let z = Zipf::new(10_000, 0.99);
        let mut rng = Rng::new(1);
        let mut hot = 0;
        for _ in 0..10_000 {
            let r = z.sample(&mut rng);
            assert!(r < 10_000);
            hot += u32::from(r < 100);
        }
        // With theta 0.99 the top 1% of keys draws roughly half the accesses.
        assert!(hot > 3_000, "hot = {hot}");
    }

    #[test]
    fn shares_add_up() {
        assert_eq!((0..8).map(|t| share(1003, 8, t)).sum::<u64>(), 1003);
    }
}
