//! `ccbitcask serve`: everything between parsed flags and a running server.
//!
//! Builds the tokio runtime (single-threaded: it accepts, sweeps, balances
//! and shuts down; clients are served by the threads of [`crate::pool`]),
//! opens the engine (on the blocking pool, since
//! recovery reads files), binds, warns when the socket is reachable from the
//! network without a password, and runs until SIGINT, SIGTERM or `SHUTDOWN`.
//! The CLI binary only parses arguments and calls [`main`].

use std::path::PathBuf;

use ccbitcask_engine::Bitcask;
use tokio::net::TcpListener;

use crate::config::{ServeArgs, ServerConfig};

/// Runs the server; returns the process exit status (0 after a clean
/// shutdown, 1 when the engine or socket fails, 2 for a bad configuration).
pub fn main(args: ServeArgs, db_dir: PathBuf) -> i32 {
    let config = match ServerConfig::from_args(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("ccbitcask serve: {e}");
            return 2;
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ccbitcask serve: cannot start the async runtime: {e}");
            return 1;
        }
    };
    runtime.block_on(serve(config, db_dir, args.max_file_size))
}

async fn serve(config: ServerConfig, db_dir: PathBuf, max_file_size: Option<u64>) -> i32 {
    let sync = config.sync;
    let dir = db_dir.clone();
    let opened = tokio::task::spawn_blocking(move || {
        let mut builder = Bitcask::builder(&dir).sync(sync);
        if let Some(size) = max_file_size {
            builder = builder.max_file_size(size);
        }
        builder.open()
    })
    .await;
    let db = match opened {
        Ok(Ok(db)) => db,
        Ok(Err(e)) => {
            eprintln!("ccbitcask serve: cannot open {}: {e}", db_dir.display());
            return 1;
        }
        Err(e) => {
            eprintln!("ccbitcask serve: cannot open {}: {e}", db_dir.display());
            return 1;
        }
    };
    let listener = match TcpListener::bind(config.bind).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("ccbitcask serve: cannot listen on {}: {e}", config.bind);
            return 1;
        }
    };
    if config.is_exposed() {
        let banner = "*".repeat(72);
        eprintln!(
            "{banner}\nWARNING: listening on {} WITHOUT A PASSWORD.\n\
             Anyone who can reach this address can read, change and delete every key.\n\
             Bind to 127.0.0.1 or set --requirepass.\n{banner}",
            config.bind
        );
        tracing::warn!(bind = %config.bind, "listening on a non-loopback address without a password");
    }
    let addr = listener
        .local_addr()
        .map_or_else(|_| config.bind.to_string(), |a| a.to_string());
    eprintln!(
        "ccbitcask serve: {} (sync {}) ready on {addr}",
        db_dir.display(),
        config.sync
    );
    match crate::server::run(db, listener, config, shutdown_signal()).await {
        Ok(()) => {
            eprintln!("ccbitcask serve: shut down cleanly");
            0
        }
        Err(e) => {
            eprintln!("ccbitcask serve: {e}");
            1
        }
    }
}

/// Completes on SIGINT or SIGTERM. If a handler cannot be installed, that
/// signal is simply not awaited (the other still works, and so does
/// `SHUTDOWN`).
async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let term = async {
        match signal(SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    let int = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        () = term => {}
        () = int => {}
    }
}
