//! Expiry: every TTL command, lazy expiry on read, and the background sweep
//! that frees expired keys nobody reads.

mod common;

use std::time::{Duration, Instant};

use common::TestServer;

fn ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

#[test]
fn ttl_commands() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.roundtrip(b"TTL nokey\r\nPTTL nokey\r\n", b":-2\r\n:-2\r\n");
    c.roundtrip(b"SET k v\r\nTTL k\r\n", b"+OK\r\n:-1\r\n");
    c.roundtrip(b"EXPIRE k 100\r\nTTL k\r\n", b":1\r\n:100\r\n");
    c.roundtrip(
        b"EXPIRE k 50 GT\r\nEXPIRE k 50 LT\r\nTTL k\r\n",
        b":0\r\n:1\r\n:50\r\n",
    );
    c.roundtrip(
        b"EXPIRE k 10 NX\r\nEXPIRE k 10 XX\r\nTTL k\r\n",
        b":0\r\n:1\r\n:10\r\n",
    );
    c.roundtrip(
        b"PERSIST k\r\nPERSIST k\r\nTTL k\r\n",
        b":1\r\n:0\r\n:-1\r\n",
    );
    c.roundtrip(b"EXPIRE k 10 XX\r\n", b":0\r\n");
    c.roundtrip(b"PEXPIRE k 100000\r\n", b":1\r\n");
    c.roundtrip(b"SET k v2 KEEPTTL\r\nTTL k\r\n", b"+OK\r\n:100\r\n");
    c.roundtrip(b"SET k v3\r\nTTL k\r\n", b"+OK\r\n:-1\r\n");
    c.roundtrip(b"SETEX k 20 v\r\nTTL k\r\n", b"+OK\r\n:20\r\n");
    c.roundtrip(b"PSETEX k 30000 v\r\nTTL k\r\n", b"+OK\r\n:30\r\n");
    c.roundtrip(b"GETEX k EX 40\r\nTTL k\r\n", b"$1\r\nv\r\n:40\r\n");
    c.roundtrip(b"GETEX k PERSIST\r\nTTL k\r\n", b"$1\r\nv\r\n:-1\r\n");
    c.roundtrip(
        b"INCR n\r\nEXPIRE n 60\r\nINCR n\r\nTTL n\r\n",
        b":1\r\n:1\r\n:2\r\n:60\r\n",
    );
    let at = ms() / 1000 + 1000;
    // `at` is whole seconds, so the TTL is 1000 s minus the part of the current
    // second already gone: 999 or 1000 after rounding.
    c.send(format!("EXPIREAT k {at}\r\nTTL k\r\n").as_bytes());
    c.expect(b":1\r\n:");
    let ttl = String::from_utf8(c.read_exact_len(5)).unwrap();
    assert!(ttl == "1000\r" || ttl == "999\r\n", "{ttl:?}");
    if ttl.ends_with('\r') {
        c.expect(b"\n");
    }
    let pat = ms() + 2_000_000;
    c.send(format!("PEXPIREAT k {pat}\r\nPTTL k\r\n").as_bytes());
    c.expect(b":1\r\n:");
    let rest = String::from_utf8(c.read_exact_len(9)).unwrap();
    let pttl: u64 = rest.trim_end().parse().unwrap();
    assert!((1_990_000..=2_000_000).contains(&pttl), "{pttl}");
    c.roundtrip(
        format!("SET k v PXAT {}\r\nTTL k\r\n", ms() + 5000).as_bytes(),
        b"+OK\r\n:5\r\n",
    );
}

#[test]
fn expire_in_the_past_deletes() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.roundtrip(
        b"SET k v\r\nEXPIRE k -1\r\nEXISTS k\r\n",
        b"+OK\r\n:1\r\n:0\r\n",
    );
    c.roundtrip(
        b"SET k v\r\nEXPIREAT k 1\r\nGET k\r\n",
        b"+OK\r\n:1\r\n$-1\r\n",
    );
    c.roundtrip(b"SET k v EXAT 1\r\nGET k\r\n", b"+OK\r\n$-1\r\n");
    c.roundtrip(b"EXPIRE nokey 10\r\n", b":0\r\n");
}

#[test]
fn keys_expire_lazily_on_read() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.roundtrip(b"SET k v PX 100\r\nGET k\r\n", b"+OK\r\n$1\r\nv\r\n");
    std::thread::sleep(Duration::from_millis(150));
    c.roundtrip(
        b"GET k\r\nEXISTS k\r\nTTL k\r\nDBSIZE\r\n",
        b"$-1\r\n:0\r\n:-2\r\n:0\r\n",
    );
    c.roundtrip(b"SET k v PX 100\r\n", b"+OK\r\n");
    std::thread::sleep(Duration::from_millis(150));
    // An expired key counts as missing for NX and INCR.
    c.roundtrip(b"SET k w NX\r\nGET k\r\n", b"+OK\r\n$1\r\nw\r\n");
}

#[test]
fn the_sweep_frees_expired_keys_nobody_reads() {
    let s = TestServer::start();
    let mut c = s.raw();
    let mut req = Vec::new();
    for i in 0..3000 {
        req.extend(common::resp(&[
            b"SET",
            format!("t{i}").as_bytes(),
            b"v",
            b"PX",
            b"50",
        ]));
    }
    c.send(&req);
    c.expect(&b"+OK\r\n".repeat(3000));
    c.roundtrip(b"SET keep v\r\n", b"+OK\r\n");
    // The sweep runs every 100 ms; its work shows in INFO's expired_keys.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut con = s.con();
        let info: String = redis::cmd("INFO").arg("stats").query(&mut con).unwrap();
        let expired: u64 = info
            .lines()
            .find_map(|l| l.strip_prefix("expired_keys:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        let ks: String = redis::cmd("INFO").arg("keyspace").query(&mut con).unwrap();
        if expired >= 3000 && ks.contains("db0:keys=1,expires=0") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "sweep too slow: expired={expired} {ks}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
