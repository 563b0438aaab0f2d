//! Server configuration: defaults, the `--config FILE` TOML file, and the
//! `ccbitcask serve` flags, merged in that order (a flag beats the file, the file
//! beats the default).
//!
//! A config file uses the same names as the flags, in kebab-case:
//!
//! ```toml
//! bind = "127.0.0.1:6379"
//! sync = "interval:1000"      # none | always | interval:MS
//! requirepass = "s3cret"
//! maxclients = 10000
//! threads = 2                 # most threads serving clients (default: one per core)
//! max-bulk-len = 536870912    # bytes, Redis's proto-max-bulk-len
//! max-multibulk-len = 1048576 # arguments per request
//! max-buffer = 1073741824     # bytes buffered per connection (client-query-buffer-limit)
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ccbitcask_engine::SyncPolicy;
use serde::Deserialize;

use crate::balance::Policy as BalancePolicy;

/// Most client threads accepted: far beyond any useful count, low enough that a
/// typo cannot make the server start a million threads.
pub const MAX_THREADS: usize = 1024;

/// Everything the server needs to know besides the engine handle and the socket.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Address to listen on. Default `127.0.0.1:6379`: loopback, so a fresh
    /// install is not reachable from the network.
    pub bind: SocketAddr,
    /// Password for `AUTH` / `HELLO ... AUTH`; `None` lets every client in.
    pub requirepass: Option<String>,
    /// Connections served at once; one more gets `-ERR max number of clients
    /// reached`. Default 10000, like Redis.
    pub maxclients: usize,
    /// Most threads that serve clients, each with its own event loop. The
    /// server uses as few of them as keep up with the load (see the `pool`
    /// and `balance` modules). Default: one per core.
    pub threads: usize,
    /// When to use more or fewer of the `threads`. Not a flag: the defaults
    /// are measured, and tests set extreme values to force clients to move.
    pub balance: BalancePolicy,
    /// Largest accepted argument in bytes. Default 512 MiB, like Redis.
    pub max_bulk_len: usize,
    /// Largest accepted argument count per request. Redis allows `INT_MAX`; we
    /// default to 1 Mi, which no real client exceeds, because each argument
    /// costs a `Bytes` handle even when empty.
    pub max_multibulk_len: usize,
    /// Most bytes one connection may have buffered without forming a complete
    /// request. Default 1 GiB (Redis's `client-query-buffer-limit`); it must
    /// exceed `max_bulk_len` for the largest values to be accepted.
    pub max_buffer: usize,
    /// The engine's fsync policy. The writer uses it to decide whether each
    /// group of writes needs one shared fsync before its replies go out.
    pub sync: SyncPolicy,
    /// How often the active-expiry sweep runs (Redis: 10 times a second).
    pub sweep_interval: Duration,
    /// Most expired keys one sweep removes, so one tick never stalls.
    pub sweep_batch: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            bind: SocketAddr::from(([127, 0, 0, 1], 6379)),
            requirepass: None,
            maxclients: 10_000,
            threads: std::thread::available_parallelism().map_or(1, usize::from),
            balance: BalancePolicy::default(),
            max_bulk_len: 512 * 1024 * 1024,
            max_multibulk_len: 1024 * 1024,
            max_buffer: 1024 * 1024 * 1024,
            sync: SyncPolicy::Interval(Duration::from_millis(1000)),
            sweep_interval: Duration::from_millis(100),
            sweep_batch: 1000,
        }
    }
}

/// The flags of `ccbitcask serve`. The binary flattens this into its subcommand
/// and passes it, with the global `--db` directory, to [`crate::main`].
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:6379]
    #[arg(long, value_name = "ADDR")]
    pub bind: Option<SocketAddr>,
    /// fsync policy: none, always, or interval:MS [default: interval:1000].
    /// Not a flag of its own: the binary's `--sync` (shared by every writing
    /// subcommand) fills it in.
    #[arg(skip)]
    pub sync: Option<SyncPolicy>,
    /// Data file rollover size; filled in from the binary's `--max-file-size`.
    #[arg(skip)]
    pub max_file_size: Option<u64>,
    /// Require clients to AUTH with this password
    #[arg(long, value_name = "PASS")]
    pub requirepass: Option<String>,
    /// Maximum simultaneous clients [default: 10000]
    #[arg(long, value_name = "N")]
    pub maxclients: Option<usize>,
    /// Most threads serving clients; as few are used as keep up [default: one per core]
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Read settings from a TOML file (flags given here win)
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

fn parse_sync(s: &str) -> Result<SyncPolicy, String> {
    s.parse::<SyncPolicy>().map_err(|e| e.to_string())
}

/// The schema of a config file: every key optional, unknown keys rejected so a
/// typo is an error instead of a silently ignored setting.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct FileConfig {
    bind: Option<SocketAddr>,
    sync: Option<String>,
    requirepass: Option<String>,
    maxclients: Option<usize>,
    threads: Option<usize>,
    max_bulk_len: Option<usize>,
    max_multibulk_len: Option<usize>,
    max_buffer: Option<usize>,
    sweep_interval_ms: Option<u64>,
    sweep_batch: Option<usize>,
}

impl ServerConfig {
    /// Reads a TOML config file on top of the defaults.
    pub fn from_file(path: &Path) -> Result<ServerConfig, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read config file {}: {e}", path.display()))?;
        Self::from_toml(&text).map_err(|e| format!("config file {}: {e}", path.display()))
    }

    /// Parses TOML text on top of the defaults.
    pub fn from_toml(text: &str) -> Result<ServerConfig, String> {
        let file: FileConfig = toml::from_str(text).map_err(|e| e.to_string())?;
        let mut c = ServerConfig::default();
        if let Some(v) = file.bind {
            c.bind = v;
        }
        if let Some(v) = file.sync {
            c.sync = parse_sync(&v)?;
        }
        if file.requirepass.is_some() {
            c.requirepass = file.requirepass;
        }
        if let Some(v) = file.maxclients {
            c.maxclients = v;
        }
        if let Some(v) = file.threads {
            c.threads = v;
        }
        if let Some(v) = file.max_bulk_len {
            c.max_bulk_len = v;
        }
        if let Some(v) = file.max_multibulk_len {
            c.max_multibulk_len = v;
        }
        if let Some(v) = file.max_buffer {
            c.max_buffer = v;
        }
        if let Some(v) = file.sweep_interval_ms {
            c.sweep_interval = Duration::from_millis(v.max(1));
        }
        if let Some(v) = file.sweep_batch {
            c.sweep_batch = v;
        }
        c.validate()?;
        Ok(c)
    }

    /// Builds the configuration for `serve`: defaults, then `--config`, then flags.
    pub fn from_args(args: &ServeArgs) -> Result<ServerConfig, String> {
        let mut c = match &args.config {
            Some(path) => ServerConfig::from_file(path)?,
            None => ServerConfig::default(),
        };
        if let Some(v) = args.bind {
            c.bind = v;
        }
        if let Some(v) = args.sync {
            c.sync = v;
        }
        if args.requirepass.is_some() {
            c.requirepass.clone_from(&args.requirepass);
        }
        if let Some(v) = args.maxclients {
            c.maxclients = v;
        }
        if let Some(v) = args.threads {
            c.threads = v;
        }
        c.validate()?;
        Ok(c)
    }

    /// Rejects settings the server cannot honour.
    pub fn validate(&self) -> Result<(), String> {
        if self.maxclients == 0 {
            return Err("maxclients must be at least 1".into());
        }
        if !(1..=MAX_THREADS).contains(&self.threads) {
            return Err(format!("threads must be between 1 and {MAX_THREADS}"));
        }
        if self.max_multibulk_len == 0 {
            return Err("max-multibulk-len must be at least 1".into());
        }
        if self.max_buffer < crate::parse::MAX_INLINE {
            return Err(format!(
                "max-buffer must be at least {} bytes",
                crate::parse::MAX_INLINE
            ));
        }
        Ok(())
    }

    /// Is the listener reachable from other machines without a password? `serve`
    /// warns loudly when it is.
    pub fn is_exposed(&self) -> bool {
        !self.bind.ip().is_loopback() && self.requirepass.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_then_flags() {
        let c = ServerConfig::from_toml(
            "bind = \"0.0.0.0:7000\"\nsync = \"always\"\nmaxclients = 5\nthreads = 3\n",
        )
        .unwrap();
        assert_eq!(c.bind.port(), 7000);
        assert!(matches!(c.sync, SyncPolicy::Always));
        assert_eq!(c.maxclients, 5);
        assert_eq!(c.threads, 3);
        assert!(ServerConfig::from_toml("threads = 0").is_err());
        assert!(ServerConfig::from_toml("threads = 1000000").is_err());
        assert!(c.is_exposed());
        assert!(ServerConfig::from_toml("typo = 1").is_err());
        assert!(ServerConfig::from_toml("sync = \"sometimes\"").is_err());
    }

    #[test]
    fn defaults_are_loopback() {
        let c = ServerConfig::from_args(&ServeArgs::default()).unwrap();
        assert!(c.bind.ip().is_loopback());
        assert!(!c.is_exposed());
    }
}
