//! Profiling aid for open: builds a database of N keys once (sealed files with hints),
//! then times read-only opens. `cargo run --release --example open_profile -- DIR N VALUE_SIZE`.
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = std::path::PathBuf::from(args.next().ok_or("usage: DIR N VALUE_SIZE")?);
    let n: u64 = args
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2_000_000);
    let value_size: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(1024);
    if !dir.exists() {
        let db = ccbitcask_engine::Bitcask::builder(&dir)
            .max_file_size(256 << 20)
            .open()?;
        let value = vec![7u8; value_size];
        for i in 0..n {
            db.put(format!("key{i:013}").as_bytes(), &value)?;
        }
        db.close()?;
    }
    for _ in 0..3 {
        let t = std::time::Instant::now();
        let db = ccbitcask_engine::Bitcask::builder(&dir)
            .read_only(true)
            .open()?;
        let report = db.open_report();
        println!(
            "open {:?}: {} keys, {} files from hints, {} scanned",
            t.elapsed(),
            db.len(),
            report.files_from_hints,
            report.files_scanned
        );
    }
    Ok(())
}
