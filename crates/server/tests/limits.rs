//! Limits against bad or hostile input: protocol errors get Redis's reply and
//! a closed connection; lengths above the configured caps are refused before
//! anything is buffered; `maxclients` turns the next client away with Redis's
//! error; and nothing a client sends stops the server serving others.

mod common;

use std::time::Duration;

use ccbitcask_server::ServerConfig;
use common::{closes_with, Raw, TestServer};

#[test]
fn malformed_requests_close_the_connection() {
    let s = TestServer::start();
    let cases: &[(&[u8], &[u8])] = &[
        (
            b"*1\r\n$abc\r\n",
            b"-ERR Protocol error: invalid bulk length\r\n",
        ),
        (
            b"*1\r\n$-1\r\n",
            b"-ERR Protocol error: invalid bulk length\r\n",
        ),
        (
            b"*1\r\n$4294967296\r\n",
            b"-ERR Protocol error: invalid bulk length\r\n",
        ),
        (
            b"*1\r\n$+3\r\n",
            b"-ERR Protocol error: invalid bulk length\r\n",
        ),
        (
            b"*abc\r\n",
            b"-ERR Protocol error: invalid multibulk length\r\n",
        ),
        (
            b"*3000000000\r\n",
            b"-ERR Protocol error: invalid multibulk length\r\n",
        ),
        (
            b"*1\r\n+PING\r\n",
            b"-ERR Protocol error: expected '$', got '+'\r\n",
        ),
        (
            b"SET a \"x y\r\n",
            b"-ERR Protocol error: unbalanced quotes in request\r\n",
        ),
        // Replies to the requests before the bad one still arrive, in order.
        (
            b"PING\r\nECHO hi\r\n*1\r\n$x\r\n",
            b"+PONG\r\n$2\r\nhi\r\n-ERR Protocol error: invalid bulk length\r\n",
        ),
    ];
    for (req, reply) in cases {
        closes_with(&s, req, reply);
    }
    // `*0`, `*-1` and empty lines are skipped without a reply.
    let mut c = s.raw();
    c.roundtrip(b"*0\r\n*-1\r\n\r\n\n*-5\r\nPING\r\n", b"+PONG\r\n");
}

#[test]
fn lines_without_newline_are_capped() {
    let s = TestServer::start();
    let mut long = vec![b'a'; 70 * 1024];
    closes_with(
        &s,
        &long,
        b"-ERR Protocol error: too big inline request\r\n",
    );
    long.insert(0, b'*');
    closes_with(
        &s,
        &long,
        b"-ERR Protocol error: too big mbulk count string\r\n",
    );
    let mut bulk = b"*1\r\n$".to_vec();
    bulk.extend(vec![b'1'; 70 * 1024]);
    closes_with(
        &s,
        &bulk,
        b"-ERR Protocol error: too big bulk count string\r\n",
    );
}

#[test]
fn configured_bulk_and_multibulk_limits() {
    let s = TestServer::with_config(ServerConfig {
        max_bulk_len: 1024,
        max_multibulk_len: 8,
        ..ServerConfig::default()
    });
    closes_with(
        &s,
        b"*1\r\n$1025\r\n",
        b"-ERR Protocol error: invalid bulk length\r\n",
    );
    closes_with(
        &s,
        b"*9\r\n",
        b"-ERR Protocol error: invalid multibulk length\r\n",
    );
    let mut c = s.raw();
    let v = vec![b'v'; 1024];
    c.roundtrip(&common::resp(&[b"SET", b"k", &v]), b"+OK\r\n");
    c.roundtrip(&common::resp(&[b"STRLEN", b"k"]), b":1024\r\n");
}

#[test]
fn the_read_buffer_is_capped() {
    let s = TestServer::with_config(ServerConfig {
        max_buffer: 64 * 1024,
        ..ServerConfig::default()
    });
    let mut c = s.raw();
    // A legal 100 KB argument cannot fit a 64 KiB buffer.
    c.send(b"*2\r\n$4\r\nECHO\r\n$100000\r\n");
    let chunk = vec![b'x'; 8192];
    for _ in 0..12 {
        if c.stream.write_all_ok(&chunk).is_err() {
            break;
        }
    }
    c.expect(b"-ERR Protocol error: query buffer limit exceeded\r\n");
    c.expect_closed();
    // Everyone else is unaffected.
    s.raw().roundtrip(b"PING\r\n", b"+PONG\r\n");
}

#[test]
fn large_values_within_the_limits_work() {
    let s = TestServer::start();
    let mut c = s.raw();
    let v = vec![b'z'; 4 << 20];
    let mut req = Vec::new();
    for _ in 0..3 {
        req.extend(common::resp(&[b"SET", b"big", &v]));
        req.extend(common::resp(&[b"GET", b"big"]));
    }
    // Write from another thread: the replies (12 MiB) must be read while the
    // requests are still being written, as any pipelining client does.
    let mut w = c.stream.try_clone().unwrap();
    let writer = std::thread::spawn(move || std::io::Write::write_all(&mut w, &req));
    for _ in 0..3 {
        c.expect(b"+OK\r\n$4194304\r\n");
        assert_eq!(c.read_exact_len(v.len()), v);
        c.expect(b"\r\n");
    }
    writer.join().unwrap().unwrap();
}

#[test]
fn maxclients_turns_the_next_client_away() {
    let s = TestServer::with_config(ServerConfig {
        maxclients: 2,
        ..ServerConfig::default()
    });
    let mut a = s.raw();
    let mut b = s.raw();
    a.roundtrip(b"PING\r\n", b"+PONG\r\n");
    b.roundtrip(b"PING\r\n", b"+PONG\r\n");
    let mut c = s.raw();
    c.expect(b"-ERR max number of clients reached\r\n");
    c.expect_closed();
    drop(a);
    // The permit comes back once the server notices the close.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let mut d = Raw::connect(s.addr);
        d.send(b"PING\r\n");
        let got = d.read_exact_len(7);
        if got == b"+PONG\r\n" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "permit never released"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    b.roundtrip(b"PING\r\n", b"+PONG\r\n");
}

#[test]
fn garbage_never_stops_the_server() {
    let s = TestServer::start();
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for round in 0..200 {
        let mut bytes = Vec::new();
        let len = 1 + (round * 37) % 500;
        for _ in 0..len {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            // Bias towards protocol characters so parsing goes deep.
            let pick = b"*$\r\n0123456789-+:abcXYZ \"'\\";
            bytes.push(if seed & 3 == 0 {
                seed as u8
            } else {
                pick[(seed as usize >> 8) % pick.len()]
            });
        }
        let mut c = s.raw();
        c.stream
            .set_read_timeout(Some(Duration::from_millis(20)))
            .unwrap();
        let _ = std::io::Write::write_all(&mut c.stream, &bytes);
        let mut sink = [0u8; 4096];
        let _ = std::io::Read::read(&mut c.stream, &mut sink);
    }
    s.raw().roundtrip(b"PING\r\n", b"+PONG\r\n");
}

trait WriteAllOk {
    fn write_all_ok(&mut self, b: &[u8]) -> std::io::Result<()>;
}

impl WriteAllOk for std::net::TcpStream {
    fn write_all_ok(&mut self, b: &[u8]) -> std::io::Result<()> {
        std::io::Write::write_all(self, b)
    }
}
