//! Prints keydir bytes per key after loading N keys: `cargo run --release --example keydir_mem -- 1000000`.
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let dir = std::env::temp_dir().join(format!("keydir-mem-{}", std::process::id()));
    let db = ccbitcask_engine::Bitcask::open(&dir)?;
    let keys: Vec<Vec<u8>> = (0..n).map(|i| format!("key{i:013}").into_bytes()).collect();
    let raw = {
        use std::io::Write;
        let mut f = std::fs::File::create(dir.with_extension("raw"))?;
        let rec = [9u8; 153];
        let t = std::time::Instant::now();
        for _ in 0..n {
            f.write_all(&rec)?;
        }
        let _ = std::fs::remove_file(dir.with_extension("raw"));
        t.elapsed()
    };
    let t = std::time::Instant::now();
    for k in &keys {
        db.put(k, &[7u8; 100])?;
    }
    let put = t.elapsed();
    println!(
        "raw write(): {:.0} ops/s; ratio put/raw = {:.2}",
        n as f64 / raw.as_secs_f64(),
        raw.as_secs_f64() / put.as_secs_f64()
    );
    let s = db.stats();
    println!(
        "{n} keys: keydir {} bytes = {:.1} bytes/key ({:.1} + key {:.1}); put {:.0} ops/s",
        s.keydir_bytes,
        s.keydir_bytes_per_key,
        s.keydir_bytes_per_key - s.key_bytes as f64 / n as f64,
        s.key_bytes as f64 / n as f64,
        n as f64 / put.as_secs_f64()
    );
    // Random gets against a raw pread of the same size at random offsets, same run.
    let mut order: Vec<usize> = (0..keys.len()).collect();
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    for i in (1..order.len()).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        order.swap(i, (x % (i as u64 + 1)) as usize);
    }
    let t = std::time::Instant::now();
    for &i in &order {
        assert!(db.get(&keys[i])?.is_some());
    }
    let get = t.elapsed();
    let raw_read = {
        use std::os::unix::fs::FileExt;
        let path = std::fs::read_dir(&dir)?
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|x| x == "data"))
            .unwrap_or_default();
        let f = std::fs::File::open(path)?;
        let mut buf = vec![0u8; 153];
        let t = std::time::Instant::now();
        for &i in &order {
            f.read_exact_at(&mut buf, 16 + 153 * i as u64)?;
        }
        t.elapsed()
    };
    println!(
        "get {:.0} ops/s, raw pread {:.0} ops/s, ratio {:.2}",
        n as f64 / get.as_secs_f64(),
        n as f64 / raw_read.as_secs_f64(),
        raw_read.as_secs_f64() / get.as_secs_f64()
    );
    drop(db);
    let t = std::time::Instant::now();
    let db = ccbitcask_engine::Bitcask::open(&dir)?;
    println!("reopen: {:?} ({} keys)", t.elapsed(), db.len());
    drop(db);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
