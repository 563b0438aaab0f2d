//! The peer comparison (issue 6): every workload for every engine, interleaved.
//!
//! One *round* is: for each engine in turn, a fresh directory, then
//! `insert` → `read` (1 and 2 threads) → `mixed` → clean close → timed `reopen` →
//! (first round only) `space` → `crash` in a child process → `large` values →
//! `durable` puts. Rounds repeat `--runs` times, so engine A's run 2 comes after
//! engine B's run 1, and slow drift on a shared machine (other builds, page-cache
//! pressure) spreads over every engine instead of landing on one.

use std::path::Path;

use anyhow::{ensure, Context, Result};

use crate::child::LoadedChild;
use crate::engines::{Engine, EngineKind, OpenOptions};
use crate::raw::{disk_usage, fresh_dir, remove_dir};
use crate::report::{fmt_num, mb, Better, Report, Table};
use crate::workload::{key_into, rate, share, timed, Rng, Values, Zipf};
use crate::{Params, Workload};

/// Puts keys `0..n` (version `version` of each value) in index order, which is a
/// random key order because keys are hashed from indexes.
pub fn load(
    engine: &dyn Engine,
    n: u64,
    key_size: usize,
    values: &Values,
    version: u64,
) -> Result<()> {
    let mut key = Vec::with_capacity(key_size);
    for i in 0..n {
        key_into(i, key_size, &mut key);
        engine.put(&key, values.get(i, version))?;
    }
    Ok(())
}

/// `ops` uniform random gets over keys `0..n` from `threads` threads; returns ops/s.
/// Every key must be found: a miss is a harness or engine bug, not a data point.
pub fn random_reads(
    engine: &dyn Engine,
    n: u64,
    ops: u64,
    threads: u64,
    key_size: usize,
    seed: u64,
) -> Result<f64> {
    let (found, elapsed) = timed(|| {
        std::thread::scope(|s| {
            let workers: Vec<_> = (0..threads)
                .map(|t| {
                    s.spawn(move || -> Result<u64> {
                        let mut rng = Rng::new(seed ^ (t + 1).wrapping_mul(0xA24B_AED4_963E_E407));
                        let mut key = Vec::with_capacity(key_size);
                        let mut found = 0;
                        for _ in 0..share(ops, threads, t) {
                            key_into(rng.below(n), key_size, &mut key);
                            found += u64::from(engine.get(&key)?.is_some());
                        }
                        Ok(found)
                    })
                })
                .collect();
            workers
                .into_iter()
                .map(|w| w.join().expect("reader thread panicked"))
                .sum::<Result<u64>>()
        })
    })?;
    ensure!(found == ops, "{} of {ops} reads missed", ops - found);
    Ok(rate(ops, elapsed))
}

/// `ops` operations, 90 % gets and 10 % puts, Zipfian (theta 0.99) over keys `0..n`,
/// on one thread; returns ops/s.
fn mixed(engine: &dyn Engine, p: &Params, values: &Values, seed: u64) -> Result<f64> {
    let zipf = Zipf::new(p.keys, 0.99);
    let mut rng = Rng::new(seed);
    let mut key = Vec::with_capacity(p.key_size);
    let (_, elapsed) = timed(|| {
        for op in 0..p.mixed_ops {
            let idx = zipf.sample(&mut rng);
            key_into(idx, p.key_size, &mut key);
            if rng.below(10) == 0 {
                engine.put(&key, values.get(idx, op + 1))?;
            } else {
                ensure!(engine.get(&key)?.is_some(), "mixed: key {idx} missing");
            }
        }
        Ok(())
    })?;
    Ok(rate(p.mixed_ops, elapsed))
}

/// `ops` durable puts of fresh keys from `threads` threads sharing one handle.
fn durable_puts(
    engine: &dyn Engine,
    ops: u64,
    threads: u64,
    key_size: usize,
    values: &Values,
) -> Result<f64> {
    let (_, elapsed) = timed(|| {
        std::thread::scope(|s| {
            let workers: Vec<_> = (0..threads)
                .map(|t| {
                    s.spawn(move || -> Result<()> {
                        let mut key = Vec::with_capacity(key_size);
                        for j in 0..share(ops, threads, t) {
                            let idx = j * threads + t;
                            key_into(idx, key_size, &mut key);
                            engine.put(&key, values.get(idx, 0))?;
                        }
                        Ok(())
                    })
                })
                .collect();
            workers
                .into_iter()
                .try_for_each(|w| w.join().expect("writer thread panicked"))
        })
    })?;
    Ok(rate(ops, elapsed))
}

/// Deletes the last loaded key and checks that it is gone: a smoke test of `delete`
/// on every engine. The space workload rewrites every key afterwards.
fn check_delete(engine: &dyn Engine, n: u64, key_size: usize) -> Result<()> {
    let mut key = Vec::with_capacity(key_size);
    key_into(n - 1, key_size, &mut key);
    engine.delete(&key)?;
    ensure!(engine.get(&key)?.is_none(), "deleted key still readable");
    Ok(())
}

/// Overwrites every key `--overwrites` times, syncs, compacts and closes, recording
/// the disk bytes at each step.
fn overwrite_and_compact(
    mut engine: Box<dyn Engine>,
    p: &Params,
    values: &Values,
    label: String,
    after_load: u64,
) -> Result<SpaceRow> {
    for version in 1..=p.overwrites {
        load(engine.as_ref(), p.keys, p.key_size, values, version)?;
    }
    engine.sync()?;
    let after_overwrite = engine.disk_bytes()?;
    let dir = engine.dir().to_path_buf();
    engine.compact()?;
    engine.close()?;
    Ok(SpaceRow {
        engine: label,
        after_load,
        after_overwrite,
        after_compact: disk_usage(&dir)?.0,
    })
}

/// One engine's disk bytes at each step of the space workload (first round only).
struct SpaceRow {
    engine: String,
    after_load: u64,
    after_overwrite: u64,
    after_compact: u64,
}

/// Every table the peer comparison fills.
struct Tables {
    insert: Table,
    read: [Table; 2],
    mixed: Table,
    reopen: Table,
    crash: Table,
    rss: Table,
    rss_per_key: Table,
    large_put: Vec<Table>,
    large_get: Vec<Table>,
    durable: [Table; 2],
    load_disk: Table,
    space: Vec<SpaceRow>,
}

impl Tables {
    fn new(p: &Params) -> Self {
        let n = fmt_num(p.keys as f64);
        let shape = format!("{} B keys, {} B values", p.key_size, p.value_size);
        let large = |what: &str| {
            p.large_values()
                .iter()
                .map(|(size, count)| {
                    Table::new(
                        format!(
                            "Large values, {what}: {} × {} KiB",
                            fmt_num(*count as f64),
                            size / 1024
                        ),
                        "ops/s",
                        Better::Higher,
                    )
                })
                .collect()
        };
        Self {
            insert: Table::new(
                format!("Random insert, no per-op sync: {n} keys, {shape}, one final sync counted"),
                "ops/s",
                Better::Higher,
            ),
            read: [1, 2].map(|t| {
                Table::new(
                    format!(
                        "Random point reads, hot cache: {} gets over {n} keys, {t} thread(s)",
                        fmt_num(p.read_ops as f64)
                    ),
                    "ops/s",
                    Better::Higher,
                )
            }),
            mixed: Table::new(
                format!(
                    "Mixed 90 % get / 10 % put, Zipfian θ=0.99 over {n} keys, {} ops, 1 thread",
                    fmt_num(p.mixed_ops as f64)
                ),
                "ops/s",
                Better::Higher,
            ),
            reopen: Table::new(
                format!("Open after a clean close: {n} keys"),
                "seconds",
                Better::Lower,
            ),
            crash: Table::new(
                format!("Open after SIGKILL (child loaded {n} keys, synced, was killed)"),
                "seconds",
                Better::Lower,
            ),
            rss: Table::new(
                format!("Peak RSS (VmHWM) of a process that loads {n} keys"),
                "MB",
                Better::Lower,
            ),
            rss_per_key: Table::new(
                format!("Peak RSS growth per key over the empty process, {n} keys"),
                "bytes/key",
                Better::Lower,
            ),
            large_put: large("insert (final sync counted)"),
            large_get: large("random gets"),
            durable: [1, p.durable_threads].map(|t| {
                Table::new(
                    format!(
                        "Durable insert, every put synced: {} puts, {t} thread(s)",
                        fmt_num(p.durable_ops as f64)
                    ),
                    "ops/s",
                    Better::Higher,
                )
            }),
            load_disk: Table::new(
                format!(
                    "Disk bytes after loading {n} keys (live data {})",
                    mb(p.keys * (p.key_size + p.value_size) as u64)
                ),
                "MB",
                Better::Lower,
            ),
            space: Vec::new(),
        }
    }

    fn emit(&self, p: &Params, report: &mut Report) {
        for t in [
            &self.insert,
            &self.read[0],
            &self.read[1],
            &self.mixed,
            &self.durable[0],
            &self.durable[1],
        ] {
            report.table(t);
        }
        for t in self.large_put.iter().chain(&self.large_get) {
            report.table(t);
        }
        for t in [
            &self.reopen,
            &self.crash,
            &self.load_disk,
            &self.rss,
            &self.rss_per_key,
        ] {
            report.table(t);
        }
        if !self.space.is_empty() {
            let live = p.keys * (p.key_size + p.value_size) as u64;
            let mut s = format!(
                "### Space: {} keys, then each overwritten {}×, then compaction (one run)\n\n| engine | after load | after overwrites | after compaction | ÷ live data ({}) |\n|---|---:|---:|---:|---:|\n",
                fmt_num(p.keys as f64),
                p.overwrites,
                mb(live)
            );
            for r in &self.space {
                s.push_str(&format!(
                    "| {} | {} | {} | {} | {:.2}× |\n",
                    r.engine,
                    mb(r.after_load),
                    mb(r.after_overwrite),
                    mb(r.after_compact),
                    r.after_compact as f64 / live as f64
                ));
            }
            s.push_str("\n_Allocated bytes as `du` counts them, measured after a clean close. Compaction: ccbitcask `merge()`, redb `compact()`, fjall `major_compact()`, sled none (background only)._\n");
            report.emit(&s);
        }
    }
}

/// Runs the peer comparison and emits its tables.
pub fn run_peers(p: &Params, engines: &[EngineKind], report: &mut Report) -> Result<()> {
    let mut tables = Tables::new(p);
    let mut failures = Vec::new();
    for run in 0..p.runs {
        for &kind in engines {
            eprintln!("[peers] round {}/{}: {kind}", run + 1, p.runs);
            let base = p.data_dir().join(format!("peers-{kind}"));
            fresh_dir(&base)?;
            // One engine failing a round (an error, or a wrong answer) must not throw
            // away every other measurement of a long run: record it and go on.
            if let Err(e) = one_round(p, kind, run, &base, &mut tables) {
                eprintln!("[peers] {kind} round {} FAILED: {e:#}", run + 1);
                failures.push(format!("- **{kind}, round {}: {e:#}**", run + 1));
            }
            remove_dir(&base)?;
        }
    }
    tables.emit(p, report);
    if !failures.is_empty() {
        report.emit(&format!(
            "### Failures\n\nThese rounds stopped early; their remaining workloads have fewer samples.\n\n{}\n",
            failures.join("\n")
        ));
    }
    Ok(())
}

fn one_round(p: &Params, kind: EngineKind, run: u64, base: &Path, t: &mut Tables) -> Result<()> {
    let name = kind.name();
    let values = Values::new(p.value_size, 1);
    let seed = 0xC0FFEE + run;
    let main = base.join("main");
    let needs_load = [
        Workload::Insert,
        Workload::Read,
        Workload::Mixed,
        Workload::Reopen,
        Workload::Space,
    ];
    if needs_load.iter().any(|w| p.wants(*w)) {
        let engine = kind.open(&main, OpenOptions::default())?;
        let (_, took) = timed(|| {
            load(engine.as_ref(), p.keys, p.key_size, &values, 0)?;
            engine.sync()
        })?;
        t.insert.add(name, rate(p.keys, took));
        let after_load = engine.disk_bytes()?;
        t.load_disk.add(name, after_load as f64 / 1e6);
        if p.wants(Workload::Read) {
            for (slot, threads) in [1u64, 2].into_iter().enumerate() {
                t.read[slot].add(
                    name,
                    random_reads(
                        engine.as_ref(),
                        p.keys,
                        p.read_ops,
                        threads,
                        p.key_size,
                        seed,
                    )?,
                );
            }
        }
        if p.wants(Workload::Mixed) {
            t.mixed.add(name, mixed(engine.as_ref(), p, &values, seed)?);
        }
        engine.close()?;
        let (engine, took) = timed(|| kind.open(&main, OpenOptions::default()))?;
        if p.wants(Workload::Reopen) {
            t.reopen.add_secs(name, took);
        }
        random_reads(
            engine.as_ref(),
            p.keys,
            100.min(p.keys),
            1,
            p.key_size,
            seed,
        )
        .context("reads after a clean close and reopen")?;
        check_delete(engine.as_ref(), p.keys, p.key_size)?;
        if run == 0 && p.wants(Workload::Space) {
            let row = overwrite_and_compact(engine, p, &values, name.to_owned(), after_load)?;
            t.space.push(row);
            if kind == EngineKind::Ccbitcask {
                // merge() only takes sealed files, and with the default 2 GiB
                // `max_file_size` the whole history is still in the active file; show
                // what smaller files allow.
                let dir = base.join("space-small-files");
                let opts = OpenOptions {
                    max_file_size: Some(p.merge_file_size),
                    ..OpenOptions::default()
                };
                let engine = kind.open(&dir, opts)?;
                load(engine.as_ref(), p.keys, p.key_size, &values, 0)?;
                engine.sync()?;
                let after_load = engine.disk_bytes()?;
                let label = format!("ccbitcask, `max_file_size` {}", mb(p.merge_file_size));
                t.space.push(overwrite_and_compact(
                    engine, p, &values, label, after_load,
                )?);
                remove_dir(&dir)?;
            }
        } else {
            engine.close()?;
        }
        remove_dir(&main)?;
    }
    if p.wants(Workload::Crash) {
        let dir = base.join("crash");
        let child = LoadedChild::spawn(kind, &dir, p.keys, p.key_size, p.value_size)?;
        t.rss.add(name, child.peak_rss as f64 / 1e6);
        t.rss_per_key.add(
            name,
            child.peak_rss.saturating_sub(child.base_rss) as f64 / p.keys as f64,
        );
        child.kill()?;
        let (engine, took) = timed(|| kind.open(&dir, OpenOptions::default()))?;
        t.crash.add_secs(name, took);
        random_reads(
            engine.as_ref(),
            p.keys,
            1000.min(p.keys),
            1,
            p.key_size,
            seed,
        )?;
        engine.close()?;
        remove_dir(&dir)?;
    }
    if p.wants(Workload::Large) {
        for (slot, &(size, count)) in p.large_values().iter().enumerate() {
            let dir = base.join(format!("large-{size}"));
            let big = Values::new(size, 2);
            let engine = kind.open(&dir, OpenOptions::default())?;
            let (_, took) = timed(|| {
                load(engine.as_ref(), count, p.key_size, &big, 0)?;
                engine.sync()
            })?;
            t.large_put[slot].add(name, rate(count, took));
            t.large_get[slot].add(
                name,
                random_reads(engine.as_ref(), count, count, 1, p.key_size, seed)?,
            );
            engine.close()?;
            remove_dir(&dir)?;
        }
    }
    if p.wants(Workload::Durable) {
        for (slot, threads) in [1, p.durable_threads].into_iter().enumerate() {
            let dir = base.join(format!("durable-{threads}"));
            let engine = kind.open(
                &dir,
                OpenOptions {
                    durable: true,
                    ..OpenOptions::default()
                },
            )?;
            t.durable[slot].add(
                name,
                durable_puts(engine.as_ref(), p.durable_ops, threads, p.key_size, &values)?,
            );
            engine.close()?;
            remove_dir(&dir)?;
        }
    }
    Ok(())
}
