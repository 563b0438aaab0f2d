//! Profiling aid: load N keys, then time random gets. `cargo run --release --example get_profile`.
fn main() -> ccbitcask_engine::Result<()> {
    let n = 1_000_000u64;
    let dir = std::env::temp_dir().join(format!("get-profile-{}", std::process::id()));
    let db = ccbitcask_engine::Bitcask::open(&dir)?;
    let mut keys = Vec::with_capacity(n as usize * 16);
    for i in 0..n {
        keys.extend_from_slice(format!("key{i:013}").as_bytes());
    }
    for k in keys.chunks(16) {
        db.put(k, &[7u8; 100])?;
    }
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let t = std::time::Instant::now();
    for _ in 0..3 * n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let i = x % n;
        // The key is rebuilt rather than fetched from `keys`, whose random access would
        // add a cache miss the engine does not cause.
        let key = format!("key{i:013}");
        let _ = db.get(key.as_bytes())?;
    }
    println!(
        "get {:.0} ops/s",
        3.0 * n as f64 / t.elapsed().as_secs_f64()
    );
    drop(db);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
