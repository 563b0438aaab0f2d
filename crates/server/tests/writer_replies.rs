//! Under `--sync always` the writer thread writes the reply to a client's
//! single write to its socket itself (`crates/server/src/direct.rs`).
//! These tests check that the client still sees every reply once, complete,
//! and in request order: when it pipelines past a lent reply, when many
//! clients share groups, and when the socket cannot take a reply at once.

mod common;

use std::io::{Read, Write};
use std::time::Duration;

use ccbitcask_engine::SyncPolicy;
use ccbitcask_server::ServerConfig;
use common::{always, resp, TestServer};
use rand::{Rng, SeedableRng};

/// One client: pipelines of `INCR`, `GET`, `SET` and `PING` on its own
/// counter. A single write is lent to the writer; the rest are answered by
/// the session. About half the
/// time the next pipeline goes out before the previous replies are read, so
/// the session must hold its own replies back until a lent one is out. The
/// counter's replies must count up without a gap.
fn counting_client(s: &TestServer, id: u64, rounds: usize) -> u64 {
    // Seeded per client, so a failure can be replayed.
    let mut rng = rand::rngs::StdRng::seed_from_u64(id);
    let mut c = s.raw();
    let key = format!("counter{id}");
    let key = key.as_bytes();
    let mut count = 0u64;
    let mut owed: Vec<u8> = Vec::new();
    for _ in 0..rounds {
        let mut req = Vec::new();
        // Half of them a single command: only a single write is lent.
        let len = if rng.gen_range(0..2) == 0 {
            1
        } else {
            1 + rng.gen_range(0..4)
        };
        for _ in 0..len {
            match rng.gen_range(0..5) {
                0 => {
                    req.extend(resp(&[b"GET", key]));
                    if count == 0 {
                        owed.extend_from_slice(b"$-1\r\n");
                    } else {
                        let v = count.to_string();
                        owed.extend(format!("${}\r\n{v}\r\n", v.len()).into_bytes());
                    }
                }
                1 => {
                    req.extend(resp(&[b"SET", b"other", b"x"]));
                    owed.extend_from_slice(b"+OK\r\n");
                }
                2 => {
                    req.extend_from_slice(b"PING\r\n");
                    owed.extend_from_slice(b"+PONG\r\n");
                }
                _ => {
                    req.extend(resp(&[b"INCR", key]));
                    count += 1;
                    owed.extend(format!(":{count}\r\n").into_bytes());
                }
            }
        }
        c.send(&req);
        if rng.gen_range(0..2) == 0 {
            c.expect(&owed);
            owed.clear();
        }
    }
    c.expect(&owed);
    count
}

#[test]
fn replies_stay_in_order_when_a_client_pipelines_past_a_lent_reply() {
    let s = TestServer::with_config(always());
    counting_client(&s, 0, 3_000);
}

#[test]
fn clients_sharing_groups_each_get_their_own_replies_in_order() {
    let s = TestServer::with_config(always());
    let counts: Vec<u64> = std::thread::scope(|scope| {
        let clients: Vec<_> = (0..8)
            .map(|id| {
                let s = &s;
                scope.spawn(move || counting_client(s, id, 600))
            })
            .collect();
        clients.into_iter().map(|c| c.join().unwrap()).collect()
    });
    let mut c = s.con();
    for (id, want) in counts.into_iter().enumerate() {
        let n: Option<u64> = redis::cmd("GET")
            .arg(format!("counter{id}"))
            .query(&mut c)
            .unwrap();
        assert_eq!(n.unwrap_or(0), want);
    }
}

/// The balancer moves every busy client between two threads every 5 ms here
/// (`tests/balance.rs` checks that it does), loans outstanding or not.
#[test]
fn a_lent_reply_still_arrives_when_its_client_moves_to_another_thread() {
    let s = TestServer::with_config(ServerConfig {
        sync: SyncPolicy::Always,
        ..common::bouncing()
    });
    std::thread::scope(|scope| {
        for id in 0..4 {
            let s = &s;
            scope.spawn(move || counting_client(s, id, 1_500));
        }
    });
}

/// `SET k v GET` is a write whose reply is the old value: with values of
/// 4 MiB and a client that does not read for a while, the socket cannot take
/// a reply whole, so the writer hands the rest back to the session.
#[test]
fn a_reply_the_socket_cannot_take_whole_arrives_complete_and_in_order() {
    const N: u8 = 8;
    const LEN: usize = 4 << 20;
    let s = TestServer::with_config(always());
    let value = |i: u8| vec![b'a' + i; LEN];
    let mut c = s.raw();
    c.roundtrip(&resp(&[b"SET", b"big", &value(0)]), b"+OK\r\n");

    let mut reader = c.stream.try_clone().unwrap();
    reader
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let sender = std::thread::spawn(move || {
        for i in 1..=N {
            c.stream
                .write_all(&resp(&[b"SET", b"big", &value(i), b"GET"]))
                .unwrap();
        }
        c
    });
    // Let the replies pile up in the socket buffers first.
    std::thread::sleep(Duration::from_millis(300));
    for i in 0..N {
        let want = [
            format!("${LEN}\r\n").into_bytes(),
            value(i),
            b"\r\n".to_vec(),
        ]
        .concat();
        let mut got = vec![0; want.len()];
        reader.read_exact(&mut got).unwrap();
        assert!(got == want, "reply {i} is not the value set before it");
    }
    let mut c = sender.join().unwrap();
    let tail = [
        format!("${LEN}\r\n").into_bytes(),
        value(N),
        b"\r\n".to_vec(),
    ]
    .concat();
    c.roundtrip(&resp(&[b"GET", b"big"]), &tail);
}
