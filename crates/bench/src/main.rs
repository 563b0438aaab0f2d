//! `ccbitcask-bench`: ccbitcask side by side with raw syscalls and with the peer
//! embedded engines (redb, fjall, sled, and rocksdb with `--features rocksdb`), in one
//! run on one machine, so every claim is a ratio measured under the same conditions.
//!
//! ```text
//! cargo run --release -p ccbitcask-bench --                 # everything, 3 runs
//! cargo run --release -p ccbitcask-bench -- --quick         # tiny counts, 1 run (CI)
//! cargo run --release -p ccbitcask-bench --no-default-features -- --quick   # no peers built
//! cargo run --release -p ccbitcask-bench -- peers --engines ccbitcask,redb --workloads insert,read
//! cargo run --release -p ccbitcask-bench -- internals --workloads raw,merge
//! ```
//!
//! Output is markdown on stdout (progress on stderr); `--out FILE` also saves it.
//! Timings are never asserted: the only failures are errors and wrong answers (a read
//! that misses a loaded key, a reopen that lost keys).
//!
//! This is a benchmark binary, so errors are `anyhow` all the way up.

mod child;
mod engines;
mod internals;
mod raw;
mod report;
mod suite;
mod workload;

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};

use engines::EngineKind;
use report::Report;

#[derive(Debug, Parser)]
#[command(
    version,
    about = "Benchmarks ccbitcask against raw syscalls and peer engines"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    params: Params,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Everything (the default): `peers`, then `internals`.
    All,
    /// The peer comparison (issue 6) only.
    Peers,
    /// The ccbitcask-only benchmarks (issues 2 and 3) only.
    Internals,
    /// Internal: load one engine in a child process, report RSS, wait for SIGKILL.
    #[command(hide = true)]
    ChildLoad(child::ChildArgs),
}

/// The workloads, selectable with `--workloads`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Workload {
    /// Peers: random insert, no per-op sync, one final sync.
    Insert,
    /// Peers: durable inserts, 1 thread and `--durable-threads`.
    Durable,
    /// Peers: random point reads, 1 and 2 threads.
    Read,
    /// Peers: 90/10 get/put, Zipfian.
    Mixed,
    /// Peers: 4 KiB and 64 KiB values, insert and read.
    Large,
    /// Peers: open after a clean close.
    Reopen,
    /// Peers: open after SIGKILL, and peak RSS of the loading process.
    Crash,
    /// Peers: disk bytes after load, overwrites and compaction.
    Space,
    /// ccbitcask: put/get against raw write()/pread loops.
    Raw,
    /// ccbitcask: open time and keydir bytes per key at `--keys` and `--big-keys`.
    Scale,
    /// ccbitcask: open with hint files against a full scan.
    Hints,
    /// ccbitcask: merge throughput vs dd, space after merge, foreground cost.
    Merge,
}

/// Sizes, counts and filters; `--quick` overrides the counts.
#[derive(Debug, clap::Args)]
#[allow(clippy::struct_excessive_bools)]
pub struct Params {
    /// Tiny counts and one run: checks that the harness works, for CI.
    #[arg(long, global = true)]
    quick: bool,
    /// Engines for the peer comparison (default: all compiled in).
    #[arg(long, global = true, value_delimiter = ',')]
    engines: Vec<EngineKind>,
    /// Workloads to run (default: all).
    #[arg(long, global = true, value_delimiter = ',')]
    workloads: Vec<Workload>,
    /// Runs per measurement; tables show the median, min and max.
    #[arg(long, global = true, default_value_t = 3)]
    pub runs: u64,
    /// Keys for the main load.
    #[arg(long, global = true, default_value_t = 1_000_000)]
    pub keys: u64,
    /// Key size in bytes.
    #[arg(long, global = true, default_value_t = 16)]
    pub key_size: usize,
    /// Value size in bytes.
    #[arg(long, global = true, default_value_t = 100)]
    pub value_size: usize,
    /// Gets per random-read measurement.
    #[arg(long, global = true, default_value_t = 1_000_000)]
    pub read_ops: u64,
    /// Operations in the mixed workload.
    #[arg(long, global = true, default_value_t = 1_000_000)]
    pub mixed_ops: u64,
    /// Durable puts per durable measurement (split over the threads).
    #[arg(long, global = true, default_value_t = 8_000)]
    pub durable_ops: u64,
    /// Threads for the multi-threaded durable insert.
    #[arg(long, global = true, default_value_t = 8)]
    pub durable_threads: u64,
    /// Number of 4 KiB values in the large-value workload.
    #[arg(long, global = true, default_value_t = 50_000)]
    pub count_4k: u64,
    /// Number of 64 KiB values in the large-value workload.
    #[arg(long, global = true, default_value_t = 5_000)]
    pub count_64k: u64,
    /// Overwrites of every key in the peer space workload.
    #[arg(long, global = true, default_value_t = 5)]
    pub overwrites: u64,
    /// The larger key count for open time and keydir RAM.
    #[arg(long, global = true, default_value_t = 10_000_000)]
    pub big_keys: u64,
    /// Keys in the hint-file workload.
    #[arg(long, global = true, default_value_t = 10_000_000)]
    pub hint_keys: u64,
    /// Value sizes in the hint-file workload.
    #[arg(long, global = true, value_delimiter = ',', default_value = "100,1024")]
    pub hint_value_sizes: Vec<usize>,
    /// `max_file_size` in the hint-file workload, so there are sealed files with hints.
    #[arg(long, global = true, default_value_t = 256 << 20)]
    pub hint_file_size: u64,
    /// Keys in the merge workload.
    #[arg(long, global = true, default_value_t = 1_000_000)]
    pub merge_keys: u64,
    /// Overwrites of every key before the merge.
    #[arg(long, global = true, default_value_t = 10)]
    pub merge_overwrites: u64,
    /// `max_file_size` in the merge workload.
    #[arg(long, global = true, default_value_t = 64 << 20)]
    pub merge_file_size: u64,
    /// Seconds of foreground load without a merge, as the reference.
    #[arg(long, global = true, default_value_t = 2.0)]
    pub fg_secs: f64,
    /// Drop the page cache before each open in the hint workload (root only).
    #[arg(long, global = true)]
    pub drop_caches: bool,
    /// Where databases are created (removed afterwards).
    #[arg(long, global = true)]
    pub dir: Option<PathBuf>,
    /// Also write the markdown report to this file.
    #[arg(long, global = true)]
    out: Option<PathBuf>,
}

impl Params {
    /// Whether `w` was selected.
    pub fn wants(&self, w: Workload) -> bool {
        self.workloads.is_empty() || self.workloads.contains(&w)
    }

    /// (value size, count) pairs of the large-value workload.
    pub fn large_values(&self) -> [(usize, u64); 2] {
        [(4096, self.count_4k), (65536, self.count_64k)]
    }

    /// The working directory.
    pub fn data_dir(&self) -> PathBuf {
        self.dir
            .clone()
            .unwrap_or_else(|| std::env::temp_dir().join("ccbitcask-bench"))
    }

    fn apply_quick(&mut self) {
        self.runs = 1;
        self.keys = 5_000;
        self.read_ops = 5_000;
        self.mixed_ops = 5_000;
        self.durable_ops = 64;
        self.count_4k = 200;
        self.count_64k = 20;
        self.overwrites = 2;
        self.big_keys = 20_000;
        self.hint_keys = 20_000;
        self.hint_file_size = 256 << 10;
        self.merge_keys = 5_000;
        self.merge_overwrites = 3;
        self.merge_file_size = 256 << 10;
        self.fg_secs = 0.1;
    }
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let mut p = cli.params;
    let command = cli.command.unwrap_or(Command::All);
    if let Command::ChildLoad(args) = &command {
        return child::child_main(args);
    }
    if p.quick {
        p.apply_quick();
    }
    let engines = if p.engines.is_empty() {
        EngineKind::available()
    } else {
        p.engines.clone()
    };
    let dir = p.data_dir();
    std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
    p.dir = Some(dir);
    let started = Instant::now();
    let mut report = Report::default();
    report.emit(&format!(
        "<!-- ccbitcask-bench {} -->\n",
        std::env::args().skip(1).collect::<Vec<_>>().join(" ")
    ));
    if matches!(command, Command::All | Command::Peers) {
        suite::run_peers(&p, &engines, &mut report)?;
    }
    if matches!(command, Command::All | Command::Internals) {
        internals::run_internals(&p, &mut report)?;
    }
    eprintln!(
        "[bench] finished in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    if let Some(out) = &p.out {
        std::fs::write(out, report.finish()).with_context(|| format!("write {}", out.display()))?;
    }
    Ok(())
}
