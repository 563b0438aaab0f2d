//! Profiling aid for the writer's zero fill (`ZERO_PIECE` in `writer.rs`): a 128 MiB
//! file written in small appends, each over zeros laid down ahead in aligned pieces of
//! each size (0: plain appends), then read back in random 130-byte `pread`s, as a get
//! reads a record. Linux caches a file in folios as large as the writes that made them:
//! larger pieces make the reads cheaper and the small writes into them dearer.
//! `cargo run --release -p ccbitcask-engine --example zero_piece_profile [WRITE_BYTES]`
//! (WRITE_BYTES: 153, one SET's record, unless given). The file goes in the current
//! directory, so that it is on the disk being measured rather than a tmpfs.

use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;
use std::time::Instant;

const SIZE: u64 = 128 << 20;

fn main() -> std::io::Result<()> {
    let write: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(153);
    let path = std::env::current_dir()?.join(format!("zero-piece-{}", std::process::id()));
    let zeros = vec![0u8; 1 << 20];
    let record = vec![7u8; usize::try_from(write).unwrap_or(153)];
    let mut buf = [0u8; 130];
    for piece in [0u64, 64 << 10, 128 << 10, 256 << 10, 512 << 10, 1 << 20] {
        let f = OpenOptions::new()
            .create(true)
            .truncate(true)
            .read(true)
            .write(true)
            .open(&path)?;
        let t = Instant::now();
        let (mut at, mut zeroed) = (0u64, 0u64);
        while at + write <= SIZE {
            if piece > 0 && at + write > zeroed {
                let to = (at + write).next_multiple_of(piece);
                f.write_all_at(&zeros[..(to - zeroed) as usize], zeroed)?;
                zeroed = to;
            }
            f.write_all_at(&record, at)?;
            at += write;
        }
        let per_write = t.elapsed().as_nanos() as f64 / (SIZE / write) as f64;
        // Best of three rounds of random reads, from the same xorshift sequence.
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let reads = 2_000_000u64;
        let mut best = f64::MAX;
        for _ in 0..3 {
            let t = Instant::now();
            for _ in 0..reads {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                f.read_exact_at(&mut buf, x % (at / 130 - 1) * 130)?;
            }
            best = best.min(t.elapsed().as_nanos() as f64 / reads as f64);
        }
        println!(
            "pieces of {:>4} KiB: {per_write:.0} ns per {write}-byte write, {best:.0} ns per pread",
            piece >> 10
        );
    }
    std::fs::remove_file(&path)
}
