//! Profiling aid: random gets in runs of 16, with and without `Bitcask::prefetch`.
//! `cargo run --release --example get_many_profile`.
fn main() -> ccbitcask_engine::Result<()> {
    let n = 1_000_000u64;
    let dir = std::env::temp_dir().join(format!("get-many-profile-{}", std::process::id()));
    let db = ccbitcask_engine::Bitcask::open(&dir)?;
    for i in 0..n {
        db.put(format!("key{i:013}").as_bytes(), &[7u8; 100])?;
    }
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    for round in 0..6 {
        let prefetch = round % 2 == 1;
        let t = std::time::Instant::now();
        for _ in 0..n / 16 {
            let keys: Vec<String> = (0..16)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    format!("key{:013}", x % n)
                })
                .collect();
            if prefetch {
                db.prefetch(&keys);
            }
            for k in &keys {
                let _ = db.get(k.as_bytes())?;
            }
        }
        println!(
            "prefetch={prefetch}: {:.0} gets/s",
            n as f64 / t.elapsed().as_secs_f64()
        );
    }
    drop(db);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
