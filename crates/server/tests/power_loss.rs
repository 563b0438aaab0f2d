//! Simulated power loss under `--sync always`: no reply leaves the server
//! before its write is durable, while clients on several session threads share
//! fsyncs.
//!
//! The server runs over the engine's simulated file system (`SimFs`, from the
//! engine's test support), which keeps each file's bytes as of its last fsync;
//! each image is booted as the engine's own power-loss tests boot theirs.
//! Clients record a write only after its reply arrives; a power-loss image
//! taken after that must hold it. `kill -9` tests cannot see this promise: the
//! page cache survives them.

mod common;
#[path = "../../engine/tests/support/mod.rs"]
mod sim;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use ccbitcask_engine::SyncPolicy;
use common::TestServer;
use sim::{sim_dir, SimImage};

const CLIENTS: usize = 6;

#[test]
fn always_acknowledges_only_durable_writes() {
    // Small files, so rollovers (and their hint writers) happen under load too.
    let (sim, db) = sim::fresh(16 * 1024, SyncPolicy::Always);
    let mut config = common::always();
    config.threads = 3;
    let server = TestServer::serve(db, &sim_dir(), config);

    let acked: Arc<Vec<AtomicU64>> = Arc::new((0..CLIENTS).map(|_| AtomicU64::new(0)).collect());
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let url = server.url();
            let (acked, stop) = (Arc::clone(&acked), Arc::clone(&stop));
            std::thread::spawn(move || {
                let mut con = common::connect(&url);
                let mut n = 0u64;
                while !stop.load(SeqCst) {
                    let key = format!("c{c}-{n}");
                    if n % 5 == 4 {
                        // A transaction: both keys or neither.
                        let () = redis::pipe()
                            .atomic()
                            .set(&key, n)
                            .ignore()
                            .set(format!("{key}-pair"), n)
                            .ignore()
                            .query(&mut con)
                            .unwrap();
                    } else {
                        let () = redis::cmd("SET").arg(&key).arg(n).query(&mut con).unwrap();
                    }
                    n += 1;
                    acked[c].store(n, SeqCst);
                }
            })
        })
        .collect();

    let mut cuts: Vec<(Vec<u64>, SimImage)> = Vec::new();
    for _ in 0..10 {
        std::thread::sleep(Duration::from_millis(30));
        let before: Vec<u64> = acked.iter().map(|a| a.load(SeqCst)).collect();
        cuts.push((before, sim.power_loss()));
    }
    stop.store(true, SeqCst);
    for client in clients {
        client.join().unwrap();
    }
    drop(server);

    let mut verified = 0;
    for (i, (before, image)) in cuts.iter().enumerate() {
        let (_, db) = sim::boot(image, SyncPolicy::Always);
        for (c, &count) in before.iter().enumerate() {
            for n in 0..count {
                let key = format!("c{c}-{n}");
                let want = n.to_string();
                assert_eq!(
                    db.get(key.as_bytes()).unwrap().as_deref(),
                    Some(want.as_bytes()),
                    "cut {i}: acknowledged {key} lost"
                );
                if n % 5 == 4 {
                    assert!(db.exists(format!("{key}-pair").as_bytes()), "cut {i}");
                }
                verified += 1;
            }
        }
        // What survived beyond the acknowledged writes holds no half transaction.
        for key in db.keys() {
            let key = String::from_utf8(key.to_vec()).unwrap();
            if let Some(base) = key.strip_suffix("-pair") {
                assert!(db.exists(base.as_bytes()), "cut {i}: {key} without {base}");
            }
        }
    }
    assert!(
        verified > 100,
        "too few writes to prove anything: {verified}"
    );
}
