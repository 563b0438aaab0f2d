//! Clients moving between session threads while they work: the balancer is
//! set to change the number of threads in use at every 5 ms tick, so every
//! busy client is moved over and over. A move must be invisible: every reply
//! right and in order, and the connection's state (protocol, name, id, an open
//! `MULTI`, half a request in the read buffer) kept.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{resp, TestServer};
use redis::Commands;

/// The `io-thread` of the client named `name` in `CLIENT LIST`.
fn io_thread(con: &mut redis::Connection, name: &str) -> u64 {
    let list: String = redis::cmd("CLIENT").arg("LIST").query(con).unwrap();
    let line = list
        .lines()
        .find(|l| l.contains(&format!(" name={name} ")))
        .unwrap_or_else(|| panic!("{name} not in {list}"));
    let field = line.rsplit(' ').next().unwrap();
    field.strip_prefix("io-thread=").unwrap().parse().unwrap()
}

#[test]
fn busy_clients_move_between_threads_without_noticing() {
    const CLIENTS: usize = 4;
    let s = Arc::new(TestServer::with_config(common::bouncing()));
    // Clients that have seen both threads. Each keeps going until all have:
    // a thread's last client alone is never asked to move (half of one
    // client is none), so one left running alone could never see the other.
    let moved = Arc::new(AtomicUsize::new(0));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let s = Arc::clone(&s);
            let moved = Arc::clone(&moved);
            std::thread::spawn(move || {
                let mut con = common::connect(&format!("redis://{}/?protocol=resp3", s.addr));
                let name = format!("client{c}");
                let () = redis::cmd("CLIENT")
                    .arg("SETNAME")
                    .arg(&name)
                    .query(&mut con)
                    .unwrap();
                let id: i64 = redis::cmd("CLIENT").arg("ID").query(&mut con).unwrap();
                let mut seen = [false; 2];
                let deadline = Instant::now() + Duration::from_secs(20);
                let mut round = 0u64;
                let mut done = false;
                while !done || moved.load(Ordering::SeqCst) < CLIENTS {
                    assert!(
                        Instant::now() < deadline,
                        "{name} saw {seen:?}; {} of {CLIENTS} clients saw both threads",
                        moved.load(Ordering::SeqCst)
                    );
                    round += 1;
                    // A pipeline: its replies must come back whole and in order.
                    let key = format!("{name}:{}", round % 7);
                    let (set, got, n): (String, String, i64) = redis::pipe()
                        .cmd("SET")
                        .arg(&key)
                        .arg(round)
                        .cmd("GET")
                        .arg(&key)
                        .cmd("INCR")
                        .arg(format!("{name}:count"))
                        .query(&mut con)
                        .unwrap();
                    assert_eq!((set.as_str(), got), ("OK", round.to_string()));
                    assert_eq!(n, round as i64);
                    // A transaction open across requests, so across moves.
                    if round.is_multiple_of(10) {
                        let () = redis::cmd("MULTI").query(&mut con).unwrap();
                        let q: String = redis::cmd("INCR")
                            .arg(format!("{name}:tx"))
                            .query(&mut con)
                            .unwrap();
                        assert_eq!(q, "QUEUED");
                        let q: String = redis::cmd("GET")
                            .arg(format!("{name}:count"))
                            .query(&mut con)
                            .unwrap();
                        assert_eq!(q, "QUEUED");
                        let (tx, count): (i64, String) =
                            redis::cmd("EXEC").query(&mut con).unwrap();
                        assert_eq!((tx, count), ((round / 10) as i64, round.to_string()));
                    }
                    let now = io_thread(&mut con, &name);
                    seen[usize::try_from(now).unwrap()] = true;
                    if !done && seen[0] && seen[1] && round >= 200 {
                        done = true;
                        moved.fetch_add(1, Ordering::SeqCst);
                    }
                }
                // The connection is the same one, still speaking RESP3.
                let got_name: String = redis::cmd("CLIENT").arg("GETNAME").query(&mut con).unwrap();
                assert_eq!(got_name, name);
                let again: i64 = redis::cmd("CLIENT").arg("ID").query(&mut con).unwrap();
                assert_eq!(again, id);
                let missing: redis::Value = redis::cmd("GET")
                    .arg(format!("{name}:missing"))
                    .query(&mut con)
                    .unwrap();
                assert_eq!(missing, redis::Value::Nil);
                round
            })
        })
        .collect();
    for c in clients {
        assert!(c.join().unwrap() >= 200);
    }
    let mut con = s.con();
    for c in 0..CLIENTS {
        let n: i64 = con.get(format!("client{c}:count")).unwrap();
        assert!(n >= 200);
    }
}

#[test]
fn half_a_request_in_the_read_buffer_travels_with_the_client() {
    let s = TestServer::with_config(common::bouncing());
    let mut raw = s.raw();
    raw.roundtrip(&resp(&[b"CLIENT", b"SETNAME", b"raw"]), b"+OK\r\n");
    let mut con = s.con();
    let value = vec![b'v'; 256 * 1024];
    let set = resp(&[b"SET", b"big", &value]);
    // Each slice arrives on its own; the server reads what has come, finds no
    // complete request, and may move the client before the rest arrives.
    let mut threads = Vec::new();
    for round in 0..200 {
        for chunk in set.chunks(16 * 1024) {
            raw.send(chunk);
            std::thread::sleep(Duration::from_millis(1));
            threads.push(io_thread(&mut con, "raw"));
        }
        raw.expect(b"+OK\r\n");
        let got: Vec<u8> = con.get("big").unwrap();
        assert_eq!(got, value, "round {round}");
        let moves = threads.windows(2).filter(|w| w[0] != w[1]).count();
        if moves >= 5 {
            break;
        }
    }
    let moves = threads.windows(2).filter(|w| w[0] != w[1]).count();
    assert!(moves >= 5, "the client moved {moves} times: {threads:?}");
    // Nothing was lost or duplicated on the way.
    raw.roundtrip(&resp(&[b"PING"]), b"+PONG\r\n");
}
