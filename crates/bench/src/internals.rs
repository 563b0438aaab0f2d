//! ccbitcask-only benchmarks (issues 2 and 3): the engine against raw syscalls, open
//! time and keydir RAM at scale, hint files against a full scan, merge throughput
//! against `dd`, space after merge, and the foreground cost of a running merge.
//!
//! Each comparison runs its two sides back to back inside one run, and runs repeat
//! `--runs` times, so both sides see the same machine state.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use ccbitcask_engine::{Bitcask, MergeOptions, SyncPolicy, KEYDIR_BYTES_PER_KEY_OVERHEAD};

use crate::engines::{CcbitcaskEngine, Engine, OpenOptions};
use crate::raw::{
    clone_db, dd_fdatasync, disk_usage, drop_caches, fresh_dir, hint_bytes, pread_after_misses,
    pread_loop, random_file, relay, remove_dir, write_loop,
};
use crate::report::{fmt_num, mb, Better, Report, Table};
use crate::suite::{load, random_reads};
use crate::workload::{key_into, rate, timed, Rng, Values};
use crate::{Params, Workload};

/// Row names of the hints workload.
const WITH_HINTS: &str = "ccbitcask, with hint files";
const FULL_SCAN: &str = "full scan (hint files removed)";

/// Runs every selected ccbitcask-only workload and emits its tables.
pub fn run_internals(p: &Params, report: &mut Report) -> Result<()> {
    let base = p.data_dir().join("internals");
    fresh_dir(&base)?;
    if p.wants(Workload::Raw) {
        vs_raw(p, &base, report)?;
    }
    if p.wants(Workload::Scale) {
        scale(p, &base, report)?;
    }
    if p.wants(Workload::Hints) {
        for &size in &p.hint_value_sizes {
            hints(p, &base, size, report)?;
        }
    }
    if p.wants(Workload::Merge) {
        merge(p, &base, report)?;
    }
    remove_dir(&base)
}

/// A table that fits the benchmark machine's 32 MiB L3 cache many times over.
const SMALL_TABLE: usize = 4 << 20;

/// `put` against a `write()` loop and `get` against a `pread` loop, same record size.
fn vs_raw(p: &Params, base: &Path, report: &mut Report) -> Result<()> {
    let n = p.keys;
    let shape = format!(
        "{} keys, {} B keys, {} B values, 1 thread, SyncPolicy::None",
        fmt_num(n as f64),
        p.key_size,
        p.value_size
    );
    let mut put = Table::new(
        format!("put vs one `write()` per record: {shape}"),
        "ops/s",
        Better::Higher,
    );
    let mut get = Table::new(
        format!("get vs one `pread` per record, hot cache: {shape}"),
        "ops/s",
        Better::Higher,
    );
    let values = Values::new(p.value_size, 1);
    let mut record_len = 0;
    for run in 0..p.runs {
        eprintln!("[internals] vs raw, run {}/{}", run + 1, p.runs);
        let dir = base.join("raw-db");
        fresh_dir(&dir)?;
        let engine = CcbitcaskEngine::open(&dir, OpenOptions::default())?;
        let (_, took) = timed(|| load(&engine, n, p.key_size, &values, 0))?;
        put.add("ccbitcask put", rate(n, took));
        // The raw loop writes records exactly as long as the engine's, header included.
        record_len = (engine.handle().stats().disk_bytes as f64 / n as f64).round() as usize;
        record_len = record_len.max(p.key_size + p.value_size);
        let log = base.join("raw.log");
        put.add(
            "raw write()",
            rate(n, write_loop(&log, n, p.key_size, &values, record_len)?),
        );
        let seed = 0xBEEF + run;
        get.add(
            "ccbitcask get",
            random_reads(&engine, n, n, 1, p.key_size, seed)?,
        );
        get.add(
            "raw pread, file as its appends left it (4 KiB pages)",
            rate(n, pread_loop(&log, n, n, record_len, seed)?),
        );
        let appended = log;
        let log = base.join("raw-laid.log");
        relay(&appended, &log)?;
        std::fs::remove_file(&appended)?;
        get.add(
            "raw pread",
            rate(n, pread_loop(&log, n, n, record_len, seed)?),
        );
        let keydir = engine.handle().stats().keydir_bytes as usize;
        for misses in [1, 2] {
            get.add(
                &format!(
                    "raw pread after {misses} dependent cache miss{}",
                    if misses == 1 { "" } else { "es" }
                ),
                rate(
                    n,
                    pread_after_misses(&log, n, n, record_len, seed, misses, keydir)?,
                ),
            );
        }
        // The same single read into a table small enough for the L3 cache: whether a
        // smaller index would make its one miss cheaper.
        get.add(
            "raw pread after 1 dependent read of a 4 MiB table",
            rate(
                n,
                pread_after_misses(&log, n, n, record_len, seed, 1, SMALL_TABLE)?,
            ),
        );
        Box::new(engine).close()?;
        remove_dir(&dir)?;
        std::fs::remove_file(&log)?;
    }
    put.note(format!("Raw record length {record_len} B = the engine's disk bytes ÷ keys. Target: ccbitcask ≥ 0.7× raw."));
    get.note("Target: ccbitcask ≥ 0.8× raw. The raw rows read the `write()` loop's file copied in aligned 256 KiB writes, so that it sits in the page cache in 256 KiB folios as the engine's files do; the first raw row reads it as the appends left it, in 4 KiB pages. The \"after N dependent cache misses\" rows read N random words of a table as big as the keydir before each `pread`, each address taken from the word before: a perfect index costing N misses and nothing else. A keydir lookup here is two (index line, then slot).".to_owned());
    report.table(&put);
    report.table(&get);
    Ok(())
}

/// Open time and keydir bytes per key at `--keys` and `--big-keys`.
fn scale(p: &Params, base: &Path, report: &mut Report) -> Result<()> {
    let mut open = Table::new(
        "Open after a clean close, default options (one data file per 2 GiB, so a full scan)",
        "seconds",
        Better::Lower,
    );
    let mut keydir = format!(
        "### Keydir RAM per key (`stats().keydir_bytes_per_key`, counted from real allocations)\n\n| keys | measured bytes/key | `KEYDIR_BYTES_PER_KEY_OVERHEAD` ({KEYDIR_BYTES_PER_KEY_OVERHEAD}) + avg key | target: key + 32 | within target |\n|---:|---:|---:|---:|---|\n"
    );
    let values = Values::new(p.value_size, 1);
    for n in [p.keys, p.big_keys] {
        eprintln!("[internals] scale: loading {n} keys");
        let dir = base.join(format!("scale-{n}"));
        fresh_dir(&dir)?;
        let engine = CcbitcaskEngine::open(&dir, OpenOptions::default())?;
        load(&engine, n, p.key_size, &values, 0)?;
        engine.sync()?;
        let stats = engine.handle().stats();
        let avg_key = stats.key_bytes as f64 / stats.keys.max(1) as f64;
        let measured = stats.keydir_bytes_per_key;
        keydir.push_str(&format!(
            "| {} | {measured:.1} | {:.1} | {:.1} | {} |\n",
            fmt_num(n as f64),
            KEYDIR_BYTES_PER_KEY_OVERHEAD + avg_key,
            avg_key + 32.0,
            if measured <= avg_key + 32.0 {
                "yes"
            } else {
                "**no**"
            }
        ));
        Box::new(engine).close()?;
        let row = format!("ccbitcask, {} keys", fmt_num(n as f64));
        for _ in 0..p.runs {
            let (db, took) = timed(|| Ok(Bitcask::open(&dir)?))?;
            ensure!(
                db.len() as u64 == n,
                "reopen found {} keys, expected {n}",
                db.len()
            );
            open.add_secs(&row, took);
            db.close()?;
        }
        remove_dir(&dir)?;
    }
    report.table(&open);
    report.emit(&keydir);
    Ok(())
}

/// Read-only open with hint files against the same files with the hints left out.
fn hints(p: &Params, base: &Path, value_size: usize, report: &mut Report) -> Result<()> {
    let n = p.hint_keys;
    eprintln!("[internals] hints: loading {n} keys of {value_size} B");
    let dir = base.join(format!("hints-{value_size}"));
    let scan_dir = base.join(format!("hints-{value_size}-scan"));
    fresh_dir(&dir)?;
    remove_dir(&scan_dir)?;
    let values = Values::new(value_size, 3);
    let opts = OpenOptions {
        max_file_size: Some(p.hint_file_size),
        ..OpenOptions::default()
    };
    let engine = CcbitcaskEngine::open(&dir, opts)?;
    load(&engine, n, p.key_size, &values, 0)?;
    engine.sync()?;
    Box::new(engine).close()?;
    let hint_bytes = hint_bytes(&dir)?;
    let (data_bytes, _) = disk_usage(&dir)?;
    clone_db(&dir, &scan_dir, true)?;
    let caches: &[bool] = if p.drop_caches {
        &[false, true]
    } else {
        &[false]
    };
    for &cold in caches {
        let cache = if cold {
            "page cache dropped before every open"
        } else {
            "warm page cache"
        };
        let mut table = Table::new(
            format!(
                "Read-only open, {} keys × {value_size} B values, {cache} ({} on disk, {} of hints, `max_file_size` {})",
                fmt_num(n as f64),
                mb(data_bytes),
                mb(hint_bytes),
                mb(p.hint_file_size)
            ),
            "seconds",
            Better::Lower,
        );
        for _ in 0..p.runs {
            for (row, path) in [(WITH_HINTS, &dir), (FULL_SCAN, &scan_dir)] {
                ensure!(
                    !cold || drop_caches(),
                    "could not drop the page cache (root only)"
                );
                let (db, took) = timed(|| Ok(Bitcask::builder(path).read_only(true).open()?))?;
                ensure!(
                    db.len() as u64 == n,
                    "{row}: {} keys, expected {n}",
                    db.len()
                );
                table.add_secs(row, took);
                db.close()?;
            }
        }
        if let (Some(h), Some(s)) = (table.median_of(WITH_HINTS), table.median_of(FULL_SCAN)) {
            table.note(format!(
                "Speed-up from hints: {:.2}× (target ≥ 5× at 1 KiB values).",
                s / h
            ));
        }
        if hint_bytes == 0 {
            table.note("**No hint files were found**: both rows are full scans.".to_owned());
        }
        report.table(&table);
    }
    remove_dir(&scan_dir)?;
    remove_dir(&dir)
}

/// Merge throughput against `dd`, space after merge, and foreground cost of a merge.
fn merge(p: &Params, base: &Path, report: &mut Report) -> Result<()> {
    let n = p.merge_keys;
    let src = base.join("merge-src");
    fresh_dir(&src)?;
    eprintln!(
        "[internals] merge: writing {n} keys {} times",
        p.merge_overwrites + 1
    );
    let values = Values::new(p.value_size, 4);
    let engine = CcbitcaskEngine::from_handle(open_merge_db(&src, p)?, &src);
    for version in 0..=p.merge_overwrites {
        load(&engine, n, p.key_size, &values, version)?;
    }
    engine.sync()?;
    Box::new(engine).close()?;
    let (before_alloc, _) = disk_usage(&src)?;

    let mut speed = Table::new(
        "Merge throughput (MB/s of input) vs `dd bs=1M conv=fdatasync` of the same size",
        "MB/s",
        Better::Higher,
    );
    let mut fg_get = Table::new(
        "Foreground gets while a merge runs (1 thread)",
        "ops/s",
        Better::Higher,
    );
    let mut fg_put = Table::new(
        "Foreground puts while a merge runs (1 thread)",
        "ops/s",
        Better::Higher,
    );
    let mut space = String::new();
    let random_src = base.join("dd-src");
    for run in 0..p.runs {
        eprintln!("[internals] merge, run {}/{}", run + 1, p.runs);
        // Merge alone, on a hard-linked clone so every run merges the same input.
        let dir = base.join("merge-run");
        remove_dir(&dir)?;
        clone_db(&src, &dir, false)?;
        let db = open_merge_db(&dir, p)?;
        let sizes: Vec<(u32, u64)> = db.stats().files.iter().map(|f| (f.id, f.bytes)).collect();
        let (merged, took) = timed(|| Ok(db.merge()?))?;
        let input: u64 = sizes
            .iter()
            .filter(|(id, _)| merged.inputs.contains(id))
            .map(|(_, b)| b)
            .sum();
        speed.add(
            "ccbitcask merge",
            input as f64 / 1e6 / took.as_secs_f64().max(1e-9),
        );
        if run == 0 {
            let stats = db.stats();
            let live_records: u64 = stats.files.iter().map(|f| f.live_bytes).sum();
            let live_kv = stats.key_bytes + stats.value_bytes;
            db.close()?;
            let (after, _) = disk_usage(&dir)?;
            let hint = hint_bytes(&dir)?;
            space = format!(
                "### Space: {} keys written {} times, {} files, then `merge()`\n\n| before merge | after merge | of which hint files | live records (`FileStats::live_bytes`) | live key+value bytes | after ÷ live records | after without hints ÷ live records | after ÷ live key+value |\n|---:|---:|---:|---:|---:|---:|---:|---:|\n| {} | {} | {} | {} | {} | {:.2}× | {:.2}× | {:.2}× |\n\n_Target: ≤ 1.1× the live data. Merge read {} of input in {:.2} s._\n",
                fmt_num(n as f64), p.merge_overwrites + 1, mb(p.merge_file_size),
                mb(before_alloc), mb(after), mb(hint), mb(live_records), mb(live_kv),
                after as f64 / live_records.max(1) as f64,
                after.saturating_sub(hint) as f64 / live_records.max(1) as f64,
                after as f64 / live_kv.max(1) as f64,
                mb(input), took.as_secs_f64()
            );
            random_file(&random_src, input)?;
        } else {
            db.close()?;
        }
        remove_dir(&dir)?;
        let dd = dd_fdatasync(&random_src, &base.join("dd-dst"))?;
        speed.add(
            "dd conv=fdatasync",
            input as f64 / 1e6 / dd.as_secs_f64().max(1e-9),
        );

        // The same merge with a foreground thread alternating gets and puts.
        clone_db(&src, &dir, false)?;
        let db = open_merge_db(&dir, p)?;
        let quiet = foreground(&db, p, n, run, None)?;
        let busy = foreground(&db, p, n, run, Some(&db))?;
        // A merge shorter than a window (quick mode) leaves a kind unmeasured:
        // no sample, rather than a rate of zero.
        for (table, busy, quiet) in [
            (&mut fg_get, busy.0, quiet.0),
            (&mut fg_put, busy.1, quiet.1),
        ] {
            if let Some(v) = busy {
                table.add("ccbitcask, merge running", v);
            }
            if let Some(v) = quiet {
                table.add("no merge", v);
            }
        }
        db.close()?;
        remove_dir(&dir)?;
    }
    speed.note("Target: merge ≥ 0.5× dd.".to_owned());
    report.table(&speed);
    report.emit(&space);
    for table in [&mut fg_get, &mut fg_put] {
        if table.median_of("ccbitcask, merge running").is_none() {
            table.note(
                "Every merge ended before a window of this kind began: nothing to report."
                    .to_owned(),
            );
        }
    }
    report.table(&fg_get);
    report.table(&fg_put);
    std::fs::remove_file(&random_src).context("remove dd source")?;
    remove_dir(&src)
}

/// Opens a merge-workload database: small files so there is something to merge, and
/// no automatic merge, so the only merge is the one being measured.
fn open_merge_db(dir: &Path, p: &Params) -> Result<Bitcask> {
    Ok(Bitcask::builder(dir)
        .sync(SyncPolicy::None)
        .max_file_size(p.merge_file_size)
        .merge_options(MergeOptions {
            auto: false,
            ..MergeOptions::default()
        })
        .open()?)
}

/// Alternates 20 ms windows of random gets and random overwrites on one thread, and
/// returns (gets/s, puts/s), `None` for a kind no window of which ran. With `merge`,
/// a merge runs on a second thread and the measurement lasts as long as it does
/// (windows started before it ends); without, it lasts `--fg-secs`.
fn foreground(
    db: &Bitcask,
    p: &Params,
    n: u64,
    run: u64,
    merge: Option<&Bitcask>,
) -> Result<(Option<f64>, Option<f64>)> {
    let done = AtomicBool::new(false);
    let values = Values::new(p.value_size, 5);
    let window = Duration::from_millis(20);
    std::thread::scope(|s| {
        let merger = merge.map(|m| {
            let done = &done;
            s.spawn(move || {
                let r = m.merge();
                done.store(true, Ordering::Release);
                r
            })
        });
        let deadline = Instant::now() + Duration::from_secs_f64(p.fg_secs);
        let mut rng = Rng::new(0xF00D + run);
        let mut key = Vec::with_capacity(p.key_size);
        let (mut gets, mut puts) = (0u64, 0u64);
        let (mut get_time, mut put_time) = (Duration::ZERO, Duration::ZERO);
        let mut writing = false;
        let mut result: Result<()> = Ok(());
        while if merger.is_some() {
            !done.load(Ordering::Acquire)
        } else {
            Instant::now() < deadline
        } {
            let start = Instant::now();
            let mut ops = 0;
            while start.elapsed() < window {
                for _ in 0..64 {
                    let idx = rng.below(n);
                    key_into(idx, p.key_size, &mut key);
                    let r = if writing {
                        db.put(&key, values.get(idx, ops)).map(|_| ())
                    } else {
                        db.get(&key).map(|_| ())
                    };
                    if let Err(e) = r {
                        result = Err(e.into());
                        break;
                    }
                    ops += 1;
                }
                if result.is_err() {
                    break;
                }
            }
            if writing {
                (puts, put_time) = (puts + ops, put_time + start.elapsed())
            } else {
                (gets, get_time) = (gets + ops, get_time + start.elapsed())
            }
            writing = !writing;
            if result.is_err() {
                break;
            }
        }
        if let Some(m) = merger {
            m.join().expect("merge thread panicked")?;
        }
        result?;
        let measured = |ops, time: Duration| (!time.is_zero()).then(|| rate(ops, time));
        Ok((measured(gets, get_time), measured(puts, put_time)))
    })
}
