//! Debian's `redis-cli` against the server: an interactive-style session (a
//! pseudo-terminal via `script`, so redis-cli runs its REPL with its start-up
//! `COMMAND DOCS`), `--pipe` mass insertion (which ends with an `ECHO` of 20
//! random bytes it waits for), and `--scan`.
//!
//! Skipped with a message when redis-cli is absent, unless `CI` is set, where
//! its absence fails the test.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::{redis_cli, TestServer};

fn port(s: &TestServer) -> String {
    s.addr.port().to_string()
}

#[test]
fn piped_session() {
    let Some(cli) = redis_cli() else { return };
    let s = TestServer::start();
    let mut child = Command::new(&cli)
        .args(["-p", &port(&s)])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"SET a 1\nINCR a\nGET a\nGET nokey\nSET b \"x y\"\nGET b\nEXPIRE a 100\nTTL a\nDBSIZE\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines,
        vec!["OK", "2", "2", "", "OK", "x y", "1", "100", "2"],
        "{text}"
    );
}

#[test]
fn interactive_repl_through_a_pty() {
    let Some(cli) = redis_cli() else { return };
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("SKIPPED: `script` (util-linux) not available for a pseudo-terminal");
        return;
    }
    let s = TestServer::start();
    // TERM=dumb makes linenoise read plain lines instead of querying the
    // terminal, so the REPL can be driven through a pipe.
    let mut child = Command::new("script")
        .args([
            "-qec",
            &format!("{} -p {}", cli.display(), port(&s)),
            "/dev/null",
        ])
        .env("TERM", "dumb")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));
    stdin
        .write_all(b"SET greeting hello\nGET greeting\nHELLO 3\nGET nokey\nINFO keyspace\nQUIT\n")
        .unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).replace('\r', "");
    assert!(text.contains("OK"), "{text}");
    assert!(text.contains("\"hello\""), "{text}");
    assert!(text.contains("\"proto\" => (integer) 3"), "{text}");
    assert!(text.contains("(nil)"), "{text}");
    assert!(text.contains("db0:keys=1,expires=0,avg_ttl=0"), "{text}");
}

#[test]
fn pipe_mass_insertion() {
    let Some(cli) = redis_cli() else { return };
    let s = TestServer::start();
    let mut input = Vec::new();
    for i in 0..20_000 {
        input.extend(common::resp(&[
            b"SET",
            format!("key:{i}").as_bytes(),
            format!("value:{i}").as_bytes(),
        ]));
    }
    let mut child = Command::new(&cli)
        .args(["-p", &port(&s), "--pipe"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("errors: 0, replies: 20000"), "{text}");
    let mut c = s.raw();
    c.roundtrip(b"DBSIZE\r\n", b":20000\r\n");
    c.roundtrip(b"GET key:19999\r\n", b"$11\r\nvalue:19999\r\n");
}

#[test]
fn scan_lists_every_matching_key() {
    let Some(cli) = redis_cli() else { return };
    let s = TestServer::start();
    let mut c = s.raw();
    for i in 0..300 {
        c.send(&common::resp(&[
            b"SET",
            format!("user:{i}").as_bytes(),
            b"x",
        ]));
        c.expect(b"+OK\r\n");
    }
    c.roundtrip(b"SET other 1\r\n", b"+OK\r\n");
    let out = Command::new(&cli)
        .args(["-p", &port(&s), "--scan", "--pattern", "user:*"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let mut keys: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 300);
    assert!(keys.iter().all(|k| k.starts_with("user:")));
}
