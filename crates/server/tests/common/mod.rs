//! Shared helpers for the server's integration tests: an in-process server on
//! `127.0.0.1:0` over a temporary database, raw-socket exchanges, and locating
//! Debian's `redis-cli`.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ccbitcask_engine::{Bitcask, SyncPolicy};
use ccbitcask_server::{BalancePolicy, ServerConfig};

/// A server running on its own thread and runtime; shut down (gracefully) on drop.
pub struct TestServer {
    pub addr: SocketAddr,
    pub dir: PathBuf,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<std::io::Result<()>>>,
    _tmp: Option<tempfile::TempDir>,
}

impl TestServer {
    /// A server with default settings over a fresh temporary directory.
    pub fn start() -> TestServer {
        Self::with_config(ServerConfig::default())
    }

    /// A server with `config` over a fresh temporary directory.
    pub fn with_config(config: ServerConfig) -> TestServer {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let mut s = Self::start_in(&dir, config);
        s._tmp = Some(tmp);
        s
    }

    /// A server over an existing directory (for restart tests).
    pub fn start_in(dir: &Path, config: ServerConfig) -> TestServer {
        let db = Bitcask::builder(dir).sync(config.sync).open().unwrap();
        Self::serve(db, dir, config)
    }

    /// A server over an open database (on a simulated file system, say);
    /// `dir` is only recorded.
    pub fn serve(db: Bitcask, dir: &Path, mut config: ServerConfig) -> TestServer {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        std_listener.set_nonblocking(true).unwrap();
        let addr = std_listener.local_addr().unwrap();
        config.bind = addr;
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(std_listener)?;
                ccbitcask_server::run(db, listener, config, async {
                    let _ = rx.await;
                })
                .await
            })
        });
        TestServer {
            addr,
            dir: dir.to_path_buf(),
            shutdown: Some(tx),
            thread: Some(thread),
            _tmp: None,
        }
    }

    /// Shuts down gracefully and waits; returns the result of `run`.
    pub fn stop(&mut self) -> std::io::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        match self.thread.take() {
            Some(t) => t.join().unwrap(),
            None => Ok(()),
        }
    }

    /// Waits for the server thread to end by itself (after `SHUTDOWN`).
    pub fn wait_exit(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.thread.as_ref().is_none_or(|t| t.is_finished()) {
                self.shutdown.take();
                if let Some(t) = self.thread.take() {
                    t.join().unwrap().unwrap();
                }
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    }

    /// A `redis://` URL for this server.
    pub fn url(&self) -> String {
        format!("redis://{}/", self.addr)
    }

    /// A raw connection.
    pub fn raw(&self) -> Raw {
        Raw::connect(self.addr)
    }

    /// A `redis` client connection (RESP2) to this server.
    pub fn con(&self) -> redis::Connection {
        connect(&self.url())
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

/// A raw TCP connection for byte-exact exchanges.
pub struct Raw {
    pub stream: TcpStream,
}

impl Raw {
    pub fn connect(addr: SocketAddr) -> Raw {
        let stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream.set_nodelay(true).unwrap();
        Raw { stream }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }

    /// Reads until exactly `expected.len()` bytes arrived and asserts they match.
    pub fn expect(&mut self, expected: &[u8]) {
        let got = self.read_exact_len(expected.len());
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(expected),
            "raw reply mismatch"
        );
    }

    /// Sends `request` and asserts the reply bytes.
    pub fn roundtrip(&mut self, request: &[u8], expected: &[u8]) {
        self.send(request);
        self.expect(expected);
    }

    pub fn read_exact_len(&mut self, n: usize) -> Vec<u8> {
        let mut buf = vec![0u8; n];
        let mut got = 0;
        while got < n {
            match self.stream.read(&mut buf[got..]) {
                Ok(0) => break,
                Ok(k) => got += k,
                Err(e) => panic!("read failed after {got} of {n} bytes: {e}"),
            }
        }
        buf.truncate(got);
        buf
    }

    /// Asserts the server closes the connection (EOF) with nothing more to read.
    pub fn expect_closed(&mut self) {
        let mut buf = [0u8; 64];
        match self.stream.read(&mut buf) {
            Ok(0) => {}
            Ok(n) => panic!("expected EOF, got {:?}", String::from_utf8_lossy(&buf[..n])),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
            Err(e) => panic!("expected EOF, got error {e}"),
        }
    }
}

/// A `redis` client connection to `url`; panics if it cannot connect.
pub fn connect(url: &str) -> redis::Connection {
    redis::Client::open(url).unwrap().get_connection().unwrap()
}

/// Sends `request` on a fresh raw connection, asserts the reply bytes, then
/// asserts the server closes that connection.
pub fn closes_with(s: &TestServer, request: &[u8], reply: &[u8]) {
    let mut c = s.raw();
    c.roundtrip(request, reply);
    c.expect_closed();
}

/// Encodes a command as a RESP multibulk request.
pub fn resp(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// The `redis-cli` binary, or `None` with a message when it is absent and we are
/// not under CI (under `CI=true` a missing redis-cli fails the test).
pub fn redis_cli() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("redis-cli"))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        let ci = std::env::var("CI")
            .map(|v| !v.is_empty() && v != "false" && v != "0")
            .unwrap_or(false);
        assert!(
            !ci,
            "redis-cli is required under CI (apt-get install redis-tools)"
        );
        eprintln!("SKIPPED: redis-cli not found on PATH (install redis-tools to run this test)");
    }
    found
}

/// `SyncPolicy::Always`, for durability tests.
pub fn always() -> ServerConfig {
    ServerConfig {
        sync: SyncPolicy::Always,
        ..ServerConfig::default()
    }
}

/// Default settings plus `requirepass`.
pub fn with_password(pw: &str) -> ServerConfig {
    ServerConfig {
        requirepass: Some(pw.to_owned()),
        ..ServerConfig::default()
    }
}

/// A balancer that spreads at every tick of `interval`, whatever the load, and
/// gathers at every tick too if `gather` (else never).
pub fn eager_balance(interval: Duration, gather: bool) -> BalancePolicy {
    let room = if gather { f64::INFINITY } else { -1.0 };
    BalancePolicy {
        interval,
        spread_busy: 0.0,
        spread_per_wake: 0.0,
        spread_after: 1,
        spread_after_unpipelined: 1,
        gather_busy: room,
        gather_busy_light: room,
        gather_after: 1,
        ..BalancePolicy::default()
    }
}

/// Spread at every tick when one thread is in use, gather at every tick when
/// two are: the clients bounce between the threads.
pub fn bouncing() -> ServerConfig {
    ServerConfig {
        threads: 2,
        balance: eager_balance(Duration::from_millis(5), true),
        ..ServerConfig::default()
    }
}
