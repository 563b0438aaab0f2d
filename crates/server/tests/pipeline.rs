//! Pipelining and `MULTI`/`EXEC`: many requests in one write get their replies
//! in order; transactions are atomic with respect to other clients, and their
//! writes land in one engine batch.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use common::{resp, TestServer};
use redis::Commands;

#[test]
fn a_pipeline_of_mixed_commands_replies_in_order() {
    let s = TestServer::start();
    let mut c = s.raw();
    let mut req = Vec::new();
    let mut want = Vec::new();
    for i in 0..2000 {
        let k = format!("k{}", i % 50);
        let v = format!("v{i}");
        req.extend(resp(&[b"SET", k.as_bytes(), v.as_bytes()]));
        want.extend_from_slice(b"+OK\r\n");
        req.extend(resp(&[b"GET", k.as_bytes()]));
        want.extend(format!("${}\r\n{v}\r\n", v.len()).into_bytes());
        req.extend_from_slice(b"PING\r\n");
        want.extend_from_slice(b"+PONG\r\n");
    }
    req.extend(resp(&[b"INCR", b"n"]));
    want.extend_from_slice(b":1\r\n");
    req.extend(resp(&[b"DBSIZE"]));
    want.extend_from_slice(b":51\r\n");
    c.roundtrip(&req, &want);
}

#[test]
fn a_pipeline_split_across_many_writes() {
    let s = TestServer::start();
    let mut c = s.raw();
    let mut req = Vec::new();
    let mut want = Vec::new();
    for i in 0..200 {
        let v = "x".repeat(i * 37);
        req.extend(resp(&[b"SET", b"key", v.as_bytes()]));
        req.extend(resp(&[b"STRLEN", b"key"]));
        want.extend_from_slice(format!("+OK\r\n:{}\r\n", v.len()).as_bytes());
    }
    // Dribble the bytes in odd-sized pieces: every split point must work.
    for chunk in req.chunks(997) {
        c.send(chunk);
    }
    c.expect(&want);
}

#[test]
fn transactions_queue_and_execute() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.roundtrip(
        b"MULTI\r\nMULTI\r\nSET a 1\r\nINCR a\r\nGET\r\nFOO\r\nEXEC\r\n",
        b"+OK\r\n-ERR MULTI calls can not be nested\r\n+QUEUED\r\n+QUEUED\r\n\
-ERR wrong number of arguments for 'get' command\r\n\
-ERR unknown command 'FOO', with args beginning with: \r\n\
-EXECABORT Transaction discarded because of previous errors.\r\n",
    );
    c.roundtrip(b"GET a\r\n", b"$-1\r\n");
    c.roundtrip(
        b"MULTI\r\nSET a 1\r\nINCR a\r\nSET b x EX abc\r\nINCR b\r\nPING\r\nEXEC\r\n",
        b"+OK\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n*5\r\n+OK\r\n:2\r\n\
-ERR value is not an integer or out of range\r\n:1\r\n+PONG\r\n",
    );
    c.roundtrip(
        b"MULTI\r\nSET a 9\r\nDISCARD\r\nGET a\r\n",
        b"+OK\r\n+QUEUED\r\n+OK\r\n$1\r\n2\r\n",
    );
    c.roundtrip(b"MULTI\r\nEXEC\r\n", b"+OK\r\n*0\r\n");
}

#[test]
fn transactions_are_atomic_for_other_clients() {
    transactions_are_atomic(TestServer::start());
}

#[test]
fn transactions_are_atomic_for_other_clients_with_sync_always() {
    transactions_are_atomic(TestServer::with_config(common::always()));
}

fn transactions_are_atomic(s: TestServer) {
    let s = Arc::new(s);
    let stop = Arc::new(AtomicBool::new(false));
    // A reader checks that both keys always move together.
    let reader = {
        let (s, stop) = (Arc::clone(&s), Arc::clone(&stop));
        std::thread::spawn(move || {
            let mut con = s.con();
            let mut checks = 0;
            while !stop.load(Ordering::Relaxed) {
                let (a, b): (Option<i64>, Option<i64>) = con.mget(&["a", "b"]).unwrap();
                assert_eq!(a, b, "a transaction was seen half-applied");
                checks += 1;
            }
            checks
        })
    };
    let writers: Vec<_> = (0..4)
        .map(|_| {
            let s = Arc::clone(&s);
            std::thread::spawn(move || {
                let mut con = s.con();
                for _ in 0..200 {
                    let (a, b): (i64, i64) = redis::pipe()
                        .atomic()
                        .incr("a", 1)
                        .incr("b", 1)
                        .query(&mut con)
                        .unwrap();
                    assert_eq!(a, b);
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    assert!(reader.join().unwrap() > 0);
    let mut con = s.con();
    let (a, b): (i64, i64) = con.mget(&["a", "b"]).unwrap();
    assert_eq!((a, b), (800, 800));
}

#[test]
fn concurrent_read_modify_write_is_atomic() {
    read_modify_write_is_atomic(TestServer::start());
}

#[test]
fn concurrent_read_modify_write_is_atomic_with_sync_always() {
    read_modify_write_is_atomic(TestServer::with_config(common::always()));
}

fn read_modify_write_is_atomic(s: TestServer) {
    let s = Arc::new(s);
    let workers: Vec<_> = (0..8)
        .map(|t| {
            let s = Arc::clone(&s);
            std::thread::spawn(move || {
                let mut con = s.con();
                let mut won = 0;
                for i in 0..250 {
                    let _: i64 = con.incr("counter", 1).unwrap();
                    let _: usize = con.append("log", "x").unwrap();
                    let set: bool = con.set_nx(format!("lock:{i}"), t).unwrap();
                    won += i64::from(set);
                }
                won
            })
        })
        .collect();
    let won: i64 = workers.into_iter().map(|w| w.join().unwrap()).sum();
    assert_eq!(won, 250, "each SETNX lock must be won exactly once");
    let mut con = s.con();
    let n: i64 = con.get("counter").unwrap();
    assert_eq!(n, 2000);
    let len: usize = con.strlen("log").unwrap();
    assert_eq!(len, 2000);
}
