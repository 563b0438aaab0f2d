//! Data survives a graceful restart, `SHUTDOWN`, and `kill -9`.
//!
//! A killed process leaves the OS page cache intact, so `kill -9` proves that
//! every acknowledged write had reached the engine (`write()`) before its
//! reply, under every sync policy; what fsync adds against power loss is the
//! engine's crash tests' business, not the server's.
//!
//! The kill test needs a separate process running `ccbitcask serve`. It uses
//! the CLI binary when it has been built next to this test
//! (`target/<profile>/ccbitcask`), and otherwise re-runs this very test
//! executable in "child server" mode, which calls the same
//! `ccbitcask_server::main` the binary calls.

mod common;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use ccbitcask_server::ServerConfig;
use common::{always, TestServer};
use redis::Commands;

#[test]
fn data_survives_a_graceful_restart() {
    let tmp = tempfile::tempdir().unwrap();
    {
        let mut s = TestServer::start_in(tmp.path(), always());
        let mut con = s.con();
        for i in 0..1000 {
            let _: () = con.set(format!("k{i}"), format!("v{i}")).unwrap();
        }
        let _: () = con.set_ex("ttl", "x", 1000).unwrap();
        let _: () = con.del("k0").unwrap();
        s.stop().unwrap();
    }
    let s = TestServer::start_in(tmp.path(), ServerConfig::default());
    let mut con = s.con();
    let n: i64 = redis::cmd("DBSIZE").query(&mut con).unwrap();
    assert_eq!(n, 1000);
    let v: String = con.get("k999").unwrap();
    assert_eq!(v, "v999");
    let gone: Option<String> = con.get("k0").unwrap();
    assert_eq!(gone, None);
    let ttl: i64 = con.ttl("ttl").unwrap();
    assert!((990..=1000).contains(&ttl), "{ttl}");
}

#[test]
fn shutdown_command_stops_and_keeps_data() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = TestServer::start_in(tmp.path(), ServerConfig::default());
    let mut c = s.raw();
    c.roundtrip(b"SET a 1\r\nSET b 2\r\n", b"+OK\r\n+OK\r\n");
    c.send(b"SHUTDOWN\r\n");
    c.expect_closed();
    assert!(
        s.wait_exit(Duration::from_secs(10)),
        "server did not exit after SHUTDOWN"
    );
    let s = TestServer::start_in(tmp.path(), ServerConfig::default());
    s.raw()
        .roundtrip(b"MGET a b\r\n", b"*2\r\n$1\r\n1\r\n$1\r\n2\r\n");
}

/// The CLI binary, if built in this test's target directory.
/// (`CCBITCASK_TEST_NO_CLI=1` forces the fallback, to test it.)
fn cli_binary() -> Option<PathBuf> {
    if std::env::var_os("CCBITCASK_TEST_NO_CLI").is_some() {
        return None;
    }
    let exe = std::env::current_exe().ok()?;
    let bin = exe.parent()?.parent()?.join("ccbitcask");
    bin.is_file().then_some(bin)
}

/// Starts `ccbitcask serve` (or this test binary in child-server mode) on a
/// free port; returns the child and its address.
fn spawn_server(dir: &std::path::Path, sync: &str) -> (Child, String) {
    let (child, addr, _) = spawn_server_with(dir, sync, "127.0.0.1:0");
    (child, addr)
}

/// Like [`spawn_server`], binding `bind`; also returns stderr up to "ready".
fn spawn_server_with(dir: &std::path::Path, sync: &str, bind: &str) -> (Child, String, String) {
    let mut cmd = match cli_binary() {
        Some(bin) => {
            let mut c = Command::new(bin);
            c.arg("--db").arg(dir).arg("serve");
            c
        }
        None => {
            let mut c = Command::new(std::env::current_exe().unwrap());
            c.args(["child_server", "--exact", "--nocapture", "--test-threads=1"]);
            c.env("CCBITCASK_CHILD_SERVER_DIR", dir);
            c.arg("--");
            c
        }
    };
    cmd.args(["--bind", bind, "--sync", sync]);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let mut banner = String::new();
    let addr = loop {
        let line = lines
            .next()
            .expect("server exited before it was ready")
            .unwrap();
        banner.push_str(&line);
        banner.push('\n');
        if let Some((_, addr)) = line.split_once("ready on ") {
            break addr.trim().to_string();
        }
    };
    // Keep draining stderr so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (child, addr, banner)
}

/// Child-server mode for [`spawn_server`]; a no-op in a normal test run.
#[test]
fn child_server() {
    let Some(dir) = std::env::var_os("CCBITCASK_CHILD_SERVER_DIR") else {
        return;
    };
    let args: Vec<String> = std::env::args().skip_while(|a| a != "--").skip(1).collect();
    use clap::Parser;
    // Like the binary: `--sync` is its own flag there, filled into ServeArgs.
    #[derive(clap::Parser)]
    struct Cli {
        #[arg(long)]
        sync: Option<ccbitcask_engine::SyncPolicy>,
        #[command(flatten)]
        serve: ccbitcask_server::ServeArgs,
    }
    let mut cli = Cli::parse_from(std::iter::once("serve".to_string()).chain(args));
    cli.serve.sync = cli.sync;
    std::process::exit(ccbitcask_server::main(cli.serve, PathBuf::from(dir)));
}

fn acknowledged_writes_survive_kill_9(sync: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let (mut child, addr) = spawn_server(tmp.path(), sync);
    let mut con = common::connect(&format!("redis://{addr}/"));
    for i in 0..2000 {
        let _: () = con.set(format!("k{i}"), format!("v{i}")).unwrap();
    }
    let _: i64 = con.incr("counter", 7).unwrap();
    let (a, b): (i64, i64) = redis::pipe()
        .atomic()
        .incr("x", 1)
        .incr("y", 1)
        .query(&mut con)
        .unwrap();
    assert_eq!((a, b), (1, 1));
    // SIGKILL right after the last acknowledgement.
    child.kill().unwrap();
    child.wait().unwrap();

    let s = TestServer::start_in(tmp.path(), ServerConfig::default());
    let mut con = s.con();
    let n: i64 = redis::cmd("DBSIZE").query(&mut con).unwrap();
    assert_eq!(n, 2003);
    let v: String = con.get("k1999").unwrap();
    assert_eq!(v, "v1999");
    let c: i64 = con.get("counter").unwrap();
    assert_eq!(c, 7);
}

#[test]
fn acknowledged_writes_survive_kill_9_with_sync_always() {
    acknowledged_writes_survive_kill_9("always");
}

#[test]
fn acknowledged_writes_survive_kill_9_with_sync_none() {
    acknowledged_writes_survive_kill_9("none");
}

#[test]
fn merge_and_bgrewriteaof_compact_in_the_background() {
    let s = TestServer::start();
    let mut con = s.con();
    for round in 0..5 {
        for i in 0..500 {
            let _: () = con.set(format!("k{i}"), format!("v{round}-{i}")).unwrap();
        }
    }
    let reply: String = redis::cmd("MERGE").query(&mut con).unwrap();
    assert_eq!(reply, "Background merge started");
    // Merges finished, counting one still running as not finished yet.
    let merges = |con: &mut redis::Connection| -> u64 {
        let info: String = redis::cmd("INFO").arg("persistence").query(con).unwrap();
        let field = |name: &str| -> u64 {
            info.lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0)
        };
        if field("aof_rewrite_in_progress:") == 1 {
            0
        } else {
            field("merges_completed:")
        }
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while merges(&mut con) < 1 {
        assert!(
            std::time::Instant::now() < deadline,
            "merge never completed"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let v: String = con.get("k499").unwrap();
    assert_eq!(v, "v4-499");
    let reply: String = redis::cmd("BGREWRITEAOF").query(&mut con).unwrap();
    assert_eq!(reply, "Background append only file rewriting started");
    while merges(&mut con) < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "second merge never completed"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let n: i64 = redis::cmd("DBSIZE").query(&mut con).unwrap();
    assert_eq!(n, 500);
    // The merged files have hint files beside them, and INFO counts them.
    let info: String = redis::cmd("INFO")
        .arg("persistence")
        .query(&mut con)
        .unwrap();
    let hint_bytes: u64 = info
        .lines()
        .find_map(|l| l.strip_prefix("hint_bytes:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    assert!(hint_bytes > 0, "{info}");
}

#[test]
fn sigterm_shuts_down_cleanly_and_keeps_data() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut child, addr) = spawn_server(tmp.path(), "interval:1000");
    let mut con = common::connect(&format!("redis://{addr}/"));
    for i in 0..100 {
        let _: () = con.set(format!("k{i}"), i).unwrap();
    }
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    assert!(exit.success(), "serve exited with {exit:?} after SIGTERM");
    // The lock is released: the directory opens again at once.
    let s = TestServer::start_in(tmp.path(), ServerConfig::default());
    s.raw()
        .roundtrip(b"DBSIZE\r\nGET k99\r\n", b":100\r\n$2\r\n99\r\n");
}

#[test]
fn warns_loudly_when_exposed_without_a_password() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut child, _, banner) = spawn_server_with(tmp.path(), "none", "0.0.0.0:0");
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        banner.contains("WARNING: listening on 0.0.0.0:0 WITHOUT A PASSWORD"),
        "{banner}"
    );
    let (mut child, _, banner) = spawn_server_with(tmp.path(), "none", "127.0.0.1:0");
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!banner.contains("WARNING"), "{banner}");
}
