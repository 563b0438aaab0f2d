//! Child processes: the "kill" half of the recovery workload and the peak-RSS probe.
//!
//! The parent re-runs this binary with the hidden `child-load` subcommand. The child
//! opens one engine, loads the keys, makes them durable with one `sync`, reads its own
//! peak RSS (`VmHWM`) and prints one line:
//!
//! ```text
//! READY <vmhwm-bytes-after-load> <vmhwm-bytes-before-open>
//! ```
//!
//! then blocks reading stdin. The parent SIGKILLs it there, so the store is left
//! exactly as a crash after an fsync would leave it (no clean close, no final hint or
//! checkpoint), and times the reopen. If the parent dies first, stdin reaches EOF and
//! the child exits on its own, so no orphan outlives a run.
//!
//! Running each engine in its own process is also what makes the RSS figure mean
//! something: the harness's other engines, and the allocator's memory from earlier
//! workloads, are not in it.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::{bail, Context, Result};

use crate::engines::{EngineKind, OpenOptions};
use crate::raw::peak_rss;
use crate::suite::load;
use crate::workload::Values;

/// What the hidden `child-load` subcommand is told.
#[derive(Debug, clap::Args)]
pub struct ChildArgs {
    /// Engine to load.
    #[arg(long)]
    pub engine: EngineKind,
    /// Database directory (created).
    #[arg(long)]
    pub dir: PathBuf,
    /// Number of keys.
    #[arg(long)]
    pub keys: u64,
    /// Key size in bytes.
    #[arg(long)]
    pub key_size: usize,
    /// Value size in bytes.
    #[arg(long)]
    pub value_size: usize,
}

/// The child side: load, report, wait to be killed.
pub fn child_main(args: &ChildArgs) -> Result<()> {
    let before = peak_rss()?;
    let engine = args.engine.open(&args.dir, OpenOptions::default())?;
    let values = Values::new(args.value_size, 1);
    load(engine.as_ref(), args.keys, args.key_size, &values, 0)?;
    engine.sync()?;
    let after = peak_rss()?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "READY {after} {before}")?;
    out.flush()?;
    drop(out);
    // Block until the parent kills us (or goes away and closes our stdin).
    let mut sink = Vec::new();
    std::io::stdin().read_to_end(&mut sink)?;
    // Parent gone without killing us: leave without a clean close, like a crash.
    std::process::exit(0);
}

/// A loaded child, alive until [`LoadedChild::kill`].
pub struct LoadedChild {
    child: Child,
    /// Peak RSS after the load and sync, in bytes.
    pub peak_rss: u64,
    /// Peak RSS before the engine was opened, in bytes.
    pub base_rss: u64,
}

impl LoadedChild {
    /// Spawns the child and waits for its `READY` line.
    pub fn spawn(
        kind: EngineKind,
        dir: &Path,
        keys: u64,
        key_size: usize,
        value_size: usize,
    ) -> Result<Self> {
        let exe = std::env::current_exe().context("locate the bench binary")?;
        let mut child = Command::new(exe)
            .arg("child-load")
            .args(["--engine", kind.name()])
            .arg("--dir")
            .arg(dir)
            .args(["--keys", &keys.to_string()])
            .args(["--key-size", &key_size.to_string()])
            .args(["--value-size", &value_size.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("spawn child-load")?;
        let stdout = child.stdout.take().context("child stdout")?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        let mut words = line.split_whitespace();
        let parsed = match (words.next(), words.next(), words.next()) {
            (Some("READY"), Some(after), Some(before)) => {
                after.parse().ok().zip(before.parse().ok())
            }
            _ => None,
        };
        let Some((peak_rss, base_rss)) = parsed else {
            let _ = child.kill();
            let _ = child.wait();
            bail!("{kind} child-load failed (said {line:?})");
        };
        Ok(Self {
            child,
            peak_rss,
            base_rss,
        })
    }

    /// SIGKILLs the child and reaps it, so its files and locks are released.
    pub fn kill(mut self) -> Result<()> {
        self.child.kill().context("SIGKILL child")?;
        self.child.wait().context("reap child")?;
        Ok(())
    }
}
