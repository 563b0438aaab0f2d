//! `server` mode: the same check through `ccbitcask serve --sync always`, with a real
//! RESP client (`redis`); about 2% of requests are `BGREWRITEAOF` (a background merge). A reply is the acknowledgement; the server is SIGKILLed at a
//! random moment, `check` runs on the directory, and a fresh server must answer `GET`
//! with exactly the acknowledged history (the one request in flight may have landed).

use crate::model::{resolve, Model, Op};
use crate::writer::random_op;
use crate::Totals;
use ccbitcask_engine::{Clock, SystemClock};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn find_bin(bin: Option<PathBuf>) -> Option<PathBuf> {
    if let Some(b) = bin {
        return Some(b);
    }
    let mut candidates = Vec::new();
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf))
    {
        candidates.push(dir.join("ccbitcask"));
    }
    candidates.push(PathBuf::from("target/release/ccbitcask"));
    candidates.push(PathBuf::from("target/debug/ccbitcask"));
    candidates.into_iter().find(|p| p.is_file())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

struct Server {
    child: Child,
    url: String,
}

fn start(bin: &Path, dir: &Path, sync: &str) -> Result<(Server, redis::Connection), String> {
    let port = free_port();
    let child = Command::new(bin)
        .arg("serve")
        .arg("--db")
        .arg(dir)
        .args(["--sync", sync, "--max-file-size", "16K"])
        .arg("--bind")
        .arg(format!("127.0.0.1:{port}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("spawn {}: {e}", bin.display()))?;
    let url = format!("redis://127.0.0.1:{port}/");
    let mut server = Server { child, url };
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok(mut con) = connect(&server.url) {
            if redis::cmd("PING").query::<String>(&mut con).is_ok() {
                return Ok((server, con));
            }
        }
        if let Ok(Some(status)) = server.child.try_wait() {
            return Err(format!("server exited at start: {status}"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = server.child.kill();
    Err("server did not answer PING within 60 s".into())
}

fn connect(url: &str) -> redis::RedisResult<redis::Connection> {
    redis::Client::open(url)?.get_connection()
}

fn send(con: &mut redis::Connection, op: &Op) -> redis::RedisResult<()> {
    match op {
        Op::Put(k, v, 0) => redis::cmd("SET").arg(k).arg(v).query::<()>(con),
        Op::Put(k, v, _) => redis::cmd("SET")
            .arg(k)
            .arg(v)
            .arg("EX")
            .arg(3_600)
            .query::<()>(con),
        Op::Del(k) => redis::cmd("DEL").arg(k).query::<i64>(con).map(drop),
        Op::Batch(items) => {
            let mut p = redis::pipe();
            p.atomic();
            for (k, v) in items {
                match v {
                    Some(v) => p.cmd("SET").arg(k).arg(v).ignore(),
                    None => p.cmd("DEL").arg(k).ignore(),
                };
            }
            p.query::<()>(con)
        }
    }
}

#[derive(Default)]
struct Log {
    acked: Vec<Op>,
    pending: Option<Op>,
    error: Option<String>,
}

pub fn run(
    dir: &Path,
    cycles: u64,
    seed: u64,
    bin: Option<PathBuf>,
    sync: &str,
    totals: &mut Totals,
) {
    let Some(bin) = find_bin(bin) else {
        totals.violation("no ccbitcask binary found (build it, or pass --bin)".into());
        return;
    };
    eprintln!("server binary: {}", bin.display());
    let mut rng = StdRng::seed_from_u64(seed);
    let mut model = Model::default();
    let mut pending: Option<Op> = None;
    for cycle in 0..=cycles {
        // A crash leaves the directory as the server died: check it before restarting.
        if cycle > 0 {
            totals.check_dir(dir);
        }
        let (mut server, mut con) = match start(&bin, dir, sync) {
            Ok(s) => s,
            Err(e) => {
                totals.violation(e);
                return;
            }
        };
        // Verify the previous cycle through the new server.
        let all: Vec<String> = redis::cmd("KEYS")
            .arg("*")
            .query(&mut con)
            .unwrap_or_default();
        let mut read = |k: &str| match redis::cmd("GET").arg(k).query::<Option<String>>(&mut con) {
            Ok(v) => v,
            Err(e) => Some(format!("<error: {e}>")),
        };
        match resolve(
            &model,
            pending.as_ref(),
            SystemClock.now_ms(),
            &mut read,
            &all,
        ) {
            Ok(m) => model = m,
            Err(errors) => {
                totals.losses(errors, &format!("cycle {cycle}: "));
                let _ = server.child.kill();
                let _ = server.child.wait();
                return;
            }
        }
        if cycle == cycles {
            let _ = server.child.kill();
            let _ = server.child.wait();
            break;
        }
        // Load, then SIGKILL at a random moment.
        let log = Arc::new(Mutex::new(Log::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let client = {
            let (log, stop, url) = (Arc::clone(&log), Arc::clone(&stop), server.url.clone());
            let mut crng =
                StdRng::seed_from_u64(seed ^ (cycle + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
            std::thread::spawn(move || {
                let Ok(mut con) = connect(&url) else { return };
                let mut n = 0;
                while !stop.load(SeqCst) {
                    n += 1;
                    if crng.gen_range(0..100) < 2 {
                        // A background merge in the server, so kills land mid-merge too.
                        // An error reply ("a merge is already running") is fine; a dead
                        // connection ends the load.
                        if let Err(e) = redis::cmd("BGREWRITEAOF").query::<redis::Value>(&mut con) {
                            if e.is_io_error()
                                || e.is_connection_dropped()
                                || e.is_connection_refusal()
                            {
                                return;
                            }
                        }
                        continue;
                    }
                    let mut op = random_op(&mut crng, cycle, n, SystemClock.now_ms());
                    // RESP's EX cannot express an expiry in the past: write it plainly.
                    if let Op::Put(_, _, e) = &mut op {
                        if *e != 0 && *e <= SystemClock.now_ms() + 60_000 {
                            *e = 0;
                        }
                    }
                    log.lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .pending = Some(op.clone());
                    let r = send(&mut con, &op);
                    let mut l = log
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    match r {
                        Ok(()) => {
                            l.pending = None;
                            l.acked.push(op);
                        }
                        Err(e) => {
                            if !e.is_io_error()
                                && !e.is_connection_dropped()
                                && !e.is_connection_refusal()
                            {
                                l.error = Some(format!("server error reply: {e}"));
                            }
                            return;
                        }
                    }
                }
            })
        };
        std::thread::sleep(Duration::from_millis(rng.gen_range(50..600)));
        let _ = server.child.kill();
        let _ = server.child.wait();
        stop.store(true, SeqCst);
        let _ = client.join();
        let log = std::mem::take(
            &mut *log
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        if let Some(e) = log.error {
            totals.violation(format!("cycle {cycle}: {e}"));
            return;
        }
        let now = SystemClock.now_ms();
        for op in &log.acked {
            model.apply(op, now);
        }
        pending = log.pending;
        totals.crashes += 1;
        totals.acked += log.acked.len() as u64;
        totals.progress(cycle + 1, model.map.len());
    }
}
