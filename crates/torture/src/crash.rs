//! `crash` mode: run the writer child, SIGKILL it at a random moment (a third of the
//! time just after it announced a merge), then check the directory and reopen it.

use crate::model::{resolve, Model, Op};
use crate::Totals;
use ccbitcask_engine::{Bitcask, Clock, SystemClock};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// What one writer run told us before it died.
struct Run {
    acked: Vec<Op>,
    pending: Option<Op>,
    mid_merge: bool,
    error: Option<String>,
}

fn run_child(dir: &Path, seed: u64, cycle: u64, rng: &mut StdRng) -> Run {
    let exe = std::env::current_exe().expect("own path");
    let mut child = Command::new(exe)
        .arg("writer")
        .arg("--dir")
        .arg(dir)
        .arg("--seed")
        .arg(seed.to_string())
        .arg("--cycle")
        .arg(cycle.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn the writer");
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        for l in BufReader::new(stdout).lines() {
            let Ok(l) = l else { break };
            if tx.send(l).is_err() {
                break;
            }
        }
    });
    let mut lines = Vec::new();
    // Wait until it opened (recovery included).
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(l) if l == "READY" => break,
            Ok(l) => lines.push(l),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    let mid_merge = rng.gen_bool(0.35);
    if mid_merge {
        // Kill a few microseconds to milliseconds after a merge starts.
        let until = Instant::now() + Duration::from_secs(5);
        while Instant::now() < until {
            match rx.recv_timeout(Duration::from_millis(50)) {
                Ok(l) => {
                    let start = l == "M start";
                    lines.push(l);
                    if start {
                        std::thread::sleep(Duration::from_micros(rng.gen_range(0..4_000)));
                        break;
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
    } else {
        std::thread::sleep(Duration::from_millis(rng.gen_range(5..400)));
    }
    let _ = child.kill(); // SIGKILL
    let _ = child.wait();
    let _ = reader.join();
    lines.extend(rx.try_iter());
    parse(&lines, mid_merge)
}

fn parse(lines: &[String], mid_merge: bool) -> Run {
    let mut run = Run {
        acked: Vec::new(),
        pending: None,
        mid_merge,
        error: None,
    };
    let mut intent: Option<(u64, Op)> = None;
    for l in lines {
        if let Some(rest) = l.strip_prefix("I ") {
            let (n, op) = rest.split_once(' ').unwrap_or((rest, ""));
            let n: u64 = n.parse().unwrap_or(0);
            match Op::decode(op) {
                Some(op) => intent = Some((n, op)),
                None => run.error = Some(format!("unparsable line {l:?}")),
            }
        } else if let Some(n) = l.strip_prefix("A ") {
            let n: u64 = n.parse().unwrap_or(0);
            match intent.take() {
                Some((i, op)) if i == n => run.acked.push(op),
                other => run.error = Some(format!("ack {n} without its intent ({other:?})")),
            }
        } else if let Some(e) = l.strip_prefix("E ") {
            run.error = Some(format!("writer failed: {e}"));
        }
    }
    run.pending = intent.map(|(_, op)| op);
    run
}

/// Checks the directory after a crash and returns the new truth, counting violations.
pub fn verify(
    dir: &Path,
    model: &Model,
    pending: Option<&Op>,
    totals: &mut Totals,
) -> Option<Model> {
    if !totals.check_dir(dir) {
        return None;
    }
    let db = match Bitcask::builder(dir).open() {
        Ok(db) => db,
        Err(e) => {
            totals.violation(format!("reopen failed: {e}"));
            return None;
        }
    };
    let r = db.open_report();
    if r.truncated_tail.is_some() {
        totals.torn_tails += 1;
    }
    if r.trimmed_zeros.is_some() {
        totals.zero_tails += 1;
    }
    for (id, d) in &r.damage {
        totals.violation(format!(
            "open found damage in file {id} at {}: {}",
            d.offset, d.reason
        ));
    }
    if !r.completed_merge.is_empty() {
        totals.merges_completed_at_open += 1;
    }
    let all: Vec<String> = db
        .keys()
        .iter()
        .map(|k| String::from_utf8_lossy(k).into_owned())
        .collect();
    let mut read = |k: &str| match db.get(k.as_bytes()) {
        Ok(v) => v.map(|v| String::from_utf8_lossy(&v).into_owned()),
        Err(e) => Some(format!("<error: {e}>")),
    };
    match resolve(model, pending, SystemClock.now_ms(), &mut read, &all) {
        Ok(m) => Some(m),
        Err(errors) => {
            totals.losses(errors, "");
            None
        }
    }
}

pub fn run(dir: &Path, cycles: u64, seed: u64, totals: &mut Totals) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut model = Model::default();
    for cycle in 0..cycles {
        let run = run_child(dir, seed, cycle, &mut rng);
        if let Some(e) = &run.error {
            totals.violation(format!("cycle {cycle}: {e}"));
            return;
        }
        let now = SystemClock.now_ms();
        for op in &run.acked {
            model.apply(op, now);
        }
        totals.crashes += 1;
        totals.acked += run.acked.len() as u64;
        if run.mid_merge {
            totals.mid_merge_kills += 1;
        }
        match verify(dir, &model, run.pending.as_ref(), totals) {
            Some(m) => model = m,
            None => {
                eprintln!(
                    "cycle {cycle}: violations; directory kept at {}",
                    dir.display()
                );
                return;
            }
        }
        totals.progress(cycle + 1, model.map.len());
    }
}
