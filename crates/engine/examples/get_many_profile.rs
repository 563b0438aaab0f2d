//! Profiling aid: random gets in runs of 16, with and without `Bitcask::prefetch`,
//! then with prefetch on one thread and on two at once (the server's two session
//! threads read the keydir's shards concurrently: does sharing their locks cost?).
//! `cargo run --release --example get_many_profile`.

/// Gets per second over `n` random keys of `0..n`, in runs of 16.
fn gets(db: &ccbitcask_engine::Bitcask, n: u64, seed: u64, prefetch: bool) -> f64 {
    let mut x = 0x9E37_79B9_7F4A_7C15u64 ^ seed;
    let keys: Vec<String> = (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            format!("key{:013}", x % n)
        })
        .collect();
    let t = std::time::Instant::now();
    for run in keys.chunks(16) {
        if prefetch {
            db.prefetch(run);
        }
        for k in run {
            // A missing key would be a bug in this program, not a measurement.
            assert!(db.get(k.as_bytes()).is_ok_and(|v| v.is_some()));
        }
    }
    n as f64 / t.elapsed().as_secs_f64()
}

fn main() -> ccbitcask_engine::Result<()> {
    let n = 1_000_000u64;
    let dir = std::env::temp_dir().join(format!("get-many-profile-{}", std::process::id()));
    let db = ccbitcask_engine::Bitcask::open(&dir)?;
    for i in 0..n {
        db.put(format!("key{i:013}").as_bytes(), &[7u8; 100])?;
    }
    for round in 0..6 {
        let prefetch = round % 2 == 1;
        println!(
            "prefetch={prefetch}: {:.0} gets/s",
            gets(&db, n, round, prefetch)
        );
    }
    for round in 0..3 {
        let one = gets(&db, n, round, true);
        let db = &db;
        let two: Vec<f64> = std::thread::scope(|s| {
            let threads: Vec<_> = (0..2)
                .map(|t| s.spawn(move || gets(db, n, round * 2 + t + 1, true)))
                .collect();
            threads.into_iter().filter_map(|t| t.join().ok()).collect()
        });
        println!("one thread: {one:.0} gets/s; two at once: {two:.0?} gets/s each");
    }
    drop(db);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
