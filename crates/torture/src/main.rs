//! `ccbitcask-torture`: the crash-test driver.
//!
//! - `crash --cycles N [--seed S]`: a child process writes under `--sync always` (puts,
//!   overwrites, deletes, batches, TTLs, explicit and automatic merges, 16 KiB files)
//!   and reports each write on its stdout only after the engine returned. The driver
//!   SIGKILLs it at random moments (about a third of them just after a merge started),
//!   runs `check`, reopens, and compares every key with the acknowledged history: the
//!   one write in flight may be wholly applied or wholly absent, nothing else may differ.
//! - `server --cycles N [--seed S] [--bin PATH]`: the same through `ccbitcask serve`
//!   over RESP with the `redis` client, SIGKILLing the server.
//!
//! Prints `crashes: N, acknowledged writes verified: M, lost: 0` and exits 1 on any
//! violation.

mod crash;
mod model;
mod server;
mod writer;

use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};

#[derive(Parser)]
#[command(about = "Kill -9 a ccbitcask writer under load and check nothing acknowledged is lost")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Crash an engine writer process repeatedly.
    Crash {
        /// Kill/reopen cycles.
        #[arg(long, default_value_t = 20)]
        cycles: u64,
        /// Random seed (printed, so a failure can be replayed).
        #[arg(long)]
        seed: Option<u64>,
        /// Database directory (default: a fresh temporary one, removed on success).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Crash `ccbitcask serve` repeatedly while a RESP client writes.
    Server {
        #[arg(long, default_value_t = 10)]
        cycles: u64,
        #[arg(long)]
        seed: Option<u64>,
        #[arg(long)]
        dir: Option<PathBuf>,
        /// The `ccbitcask` binary (default: target/release or target/debug next to this one).
        #[arg(long)]
        bin: Option<PathBuf>,
        /// The server's `--sync` policy. A SIGKILL keeps the page cache, so every policy
        /// must lose nothing acknowledged here.
        #[arg(long, default_value = "always")]
        sync: String,
    },
    /// The child process of `crash` (internal).
    #[command(hide = true)]
    Writer {
        #[arg(long)]
        dir: PathBuf,
        #[arg(long)]
        seed: u64,
        #[arg(long)]
        cycle: u64,
    },
}

/// Figures of a run.
#[derive(Debug, Default)]
pub struct Totals {
    pub crashes: u64,
    pub acked: u64,
    pub lost: u64,
    pub mid_merge_kills: u64,
    pub torn_tails: u64,
    /// Reopens that trimmed the writer's preallocated zeros.
    pub zero_tails: u64,
    pub merges_completed_at_open: u64,
    pub violations: Vec<String>,
}

impl Totals {
    pub fn violation(&mut self, s: String) {
        eprintln!("VIOLATION: {s}");
        self.violations.push(s);
    }

    /// Runs `check` on the directory a crash left, counting each corrupt record (and a
    /// failed check) as a violation; `false` if the check itself failed.
    pub fn check_dir(&mut self, dir: &Path) -> bool {
        match ccbitcask_engine::check(dir) {
            Ok(report) => {
                for (id, d) in report.corruption() {
                    self.violation(format!(
                        "check: file {id} offset {}: {}",
                        d.offset, d.reason
                    ));
                }
                true
            }
            Err(e) => {
                self.violation(format!("check failed: {e}"));
                false
            }
        }
    }

    /// Counts the differences from the acknowledged history as lost writes and reports
    /// the first 20 as violations, each after `prefix`.
    pub fn losses(&mut self, errors: Vec<String>, prefix: &str) {
        self.lost += errors.len() as u64;
        for e in errors.into_iter().take(20) {
            self.violation(format!("{prefix}{e}"));
        }
    }

    /// Every tenth cycle, a progress line.
    pub fn progress(&self, cycles_done: u64, live_keys: usize) {
        if cycles_done.is_multiple_of(10) {
            eprintln!(
                "cycle {cycles_done}: {} acknowledged writes so far, {live_keys} keys live",
                self.acked
            );
        }
    }
}

fn workdir(dir: Option<PathBuf>, seed: u64) -> (PathBuf, bool) {
    match dir {
        Some(d) => (d, false),
        None => {
            let d = std::env::temp_dir()
                .join(format!("ccbitcask-torture-{}-{seed}", std::process::id()));
            let _ = std::fs::remove_dir_all(&d);
            (d, true)
        }
    }
}

fn main() {
    let cli = Cli::parse();
    let (totals, dir, temp) = match cli.cmd {
        Cmd::Writer { dir, seed, cycle } => writer::run(&dir, seed, cycle),
        Cmd::Crash { cycles, seed, dir } => {
            let seed = seed.unwrap_or_else(rand::random);
            let (dir, temp) = workdir(dir, seed);
            eprintln!(
                "crash mode: {cycles} cycles, seed {seed}, directory {}",
                dir.display()
            );
            let mut t = Totals::default();
            crash::run(&dir, cycles, seed, &mut t);
            (t, dir, temp)
        }
        Cmd::Server {
            cycles,
            seed,
            dir,
            bin,
            sync,
        } => {
            let seed = seed.unwrap_or_else(rand::random);
            let (dir, temp) = workdir(dir, seed);
            eprintln!(
                "server mode: {cycles} cycles, --sync {sync}, seed {seed}, directory {}",
                dir.display()
            );
            let mut t = Totals::default();
            server::run(&dir, cycles, seed, bin, &sync, &mut t);
            (t, dir, temp)
        }
    };
    println!(
        "crashes: {}, acknowledged writes verified: {}, lost: {}",
        totals.crashes, totals.acked, totals.lost
    );
    eprintln!(
        "kills mid-merge: {}, torn tails truncated: {}, preallocated zeros trimmed: {}, merges completed at open: {}",
        totals.mid_merge_kills, totals.torn_tails, totals.zero_tails, totals.merges_completed_at_open
    );
    if !totals.violations.is_empty() {
        eprintln!(
            "{} violations; directory kept at {}",
            totals.violations.len(),
            dir.display()
        );
        std::process::exit(1);
    }
    if temp {
        let _ = std::fs::remove_dir_all(&dir);
    }
}
