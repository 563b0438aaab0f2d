//! Sessions spread over several threads (`threads` > 1): the threads start,
//! clients on different threads see each other's writes at once, and a
//! graceful shutdown stops every thread and keeps every write. (How clients
//! move between threads is `balance.rs`.)
//!
//! One test only: it counts this process's threads by name, which another
//! server started concurrently in the same test binary would disturb.

mod common;

use std::sync::{Arc, Barrier};

use std::time::Duration;

use ccbitcask_server::ServerConfig;
use common::TestServer;
use redis::Commands;

/// Session threads the pool started in this process, found by name.
fn session_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|task| std::fs::read_to_string(task.unwrap().path().join("comm")).ok())
        .filter(|name| name.starts_with("ccbitcask-io"))
        .count()
}

#[test]
fn clients_on_different_threads_share_one_keyspace() {
    const CLIENTS: usize = 8;
    // A balancer that puts every thread to use at once and never gathers.
    let config = ServerConfig {
        threads: 4,
        balance: common::eager_balance(Duration::from_millis(1), false),
        ..ServerConfig::default()
    };
    let s = TestServer::with_config(config.clone());
    // The server starts on its own thread; a served request proves it runs.
    let _: String = redis::cmd("PING").query(&mut s.con()).unwrap();
    assert_eq!(session_threads(), 4);
    std::thread::sleep(Duration::from_millis(50));

    // Connections are dealt out in turn over the threads in use, so eight
    // clients land on all four threads. Each writes its key, waits for the
    // others, then must read all.
    let s = Arc::new(s);
    let barrier = Arc::new(Barrier::new(CLIENTS));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|i| {
            let (s, barrier) = (Arc::clone(&s), Arc::clone(&barrier));
            std::thread::spawn(move || {
                let mut con = s.con();
                let () = con.set(format!("k{i}"), format!("v{i}")).unwrap();
                barrier.wait();
                for j in 0..CLIENTS {
                    let v: Option<String> = con.get(format!("k{j}")).unwrap();
                    assert_eq!(v.as_deref(), Some(format!("v{j}").as_str()));
                }
                let n: i64 = con.incr("counter", 1).unwrap();
                assert!((1..=CLIENTS as i64).contains(&n));
                // Hold the connection until every client has read, so all
                // eight are connected at once.
                barrier.wait();
                let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut con).unwrap();
                assert!(list.lines().count() >= CLIENTS, "{list}");
                let mut threads: Vec<&str> =
                    list.lines().filter_map(|l| l.rsplit(' ').next()).collect();
                threads.sort_unstable();
                threads.dedup();
                assert_eq!(threads.len(), 4, "{list}");
                barrier.wait();
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
    let mut con = s.con();
    let n: i64 = con.get("counter").unwrap();
    assert_eq!(n, CLIENTS as i64);
    let threads: String = redis::cmd("CONFIG")
        .arg("GET")
        .arg("threads")
        .query::<Vec<String>>(&mut con)
        .unwrap()
        .join(" ");
    assert_eq!(threads, "threads 4");
    drop(con);

    let Ok(mut first) = Arc::try_unwrap(s) else {
        panic!("a client thread still holds the server");
    };
    first.stop().unwrap();
    assert_eq!(session_threads(), 0, "shutdown left session threads behind");

    let s = TestServer::start_in(&first.dir, config);
    let mut con = s.con();
    for j in 0..CLIENTS {
        let v: Option<String> = con.get(format!("k{j}")).unwrap();
        assert_eq!(v.as_deref(), Some(format!("v{j}").as_str()));
    }
}
