//! Command-line grammar.

use ccbitcask_engine::SyncPolicy;
use clap::{Parser, Subcommand};
use std::ffi::OsString;
use std::path::PathBuf;

/// A Bitcask key/value store: a database is a directory of append-only data files.
#[derive(Debug, Parser)]
#[command(name = "ccbitcask", version, about, after_help = EXIT_CODES)]
pub struct Cli {
    /// Database directory (created if missing). `-db DIR` works too.
    #[arg(
        long = "db",
        global = true,
        default_value = "./database",
        value_name = "DIR"
    )]
    pub db: PathBuf,

    #[command(subcommand)]
    pub command: Command,
}

/// Options of the commands that write. (Not global: `plan` has knobs of the same names
/// that describe a hypothetical configuration, not this database.)
#[derive(Debug, Clone, Default, clap::Args)]
pub struct EngineOpts {
    /// Seal the active file and start a new one at this size (accepts K, M, G suffixes)
    /// [default: 2G].
    #[arg(long, value_parser = parse_size, value_name = "SIZE")]
    pub max_file_size: Option<u64>,

    /// Durability: none, always, or interval:MS [default: none for set/del/merge, which
    /// fsync on exit anyway; interval:1000 for serve].
    #[arg(long, value_parser = parse_sync, value_name = "POLICY")]
    pub sync: Option<SyncPolicy>,
}

const EXIT_CODES: &str = "Exit codes: 0 ok, 1 failure, 2 usage, 3 locked, 4 I/O error, \
5 invalid input (key/value too large), 6 corruption. `plan` documents its own.";

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the value of KEY, or (nil).
    Get {
        /// The key.
        key: OsString,
    },
    /// Set KEY to VALUE (`-` reads the value from stdin).
    Set {
        /// The key.
        key: OsString,
        /// The value, or `-` for stdin.
        value: OsString,
        #[command(flatten)]
        opts: EngineOpts,
    },
    /// Delete KEY.
    Del {
        /// The key.
        key: OsString,
        #[command(flatten)]
        opts: EngineOpts,
    },
    /// List keys, optionally only those matching a Redis-style GLOB.
    Keys {
        /// Pattern with `*`, `?`, `[...]` and `\` escapes.
        glob: Option<OsString>,
    },
    /// Show keys, files with live/dead bytes, keydir memory per key, and merge state.
    Stats {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Verify every record's CRC and every hint file; exit 6 on corruption.
    Check,
    /// Compact the sealed data files into new ones with hint files.
    Merge {
        /// Only list the files that would be merged, and why.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        opts: EngineOpts,
    },
    /// Serve the database over the Redis protocol.
    Serve {
        #[command(flatten)]
        opts: EngineOpts,
        #[command(flatten)]
        args: ccbitcask_server::ServeArgs,
    },
    /// Check a workload against Bitcask's limits (scene 08 of the design course).
    Plan(Box<ccbitcask_planner::cli::PlanArgs>),
}

fn parse_sync(s: &str) -> Result<SyncPolicy, String> {
    s.parse()
        .map_err(|e: ccbitcask_engine::Error| e.to_string())
}

/// Parses `123`, `64K`, `10M`, `2G` (binary multiples; a trailing `B`/`iB` is allowed).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let upper = t.to_ascii_uppercase();
    let stripped = upper
        .strip_suffix("IB")
        .or_else(|| upper.strip_suffix('B'))
        .unwrap_or(&upper);
    let (digits, shift) = match stripped.chars().last() {
        Some('K') => (&stripped[..stripped.len() - 1], 10),
        Some('M') => (&stripped[..stripped.len() - 1], 20),
        Some('G') => (&stripped[..stripped.len() - 1], 30),
        _ => (stripped, 0),
    };
    let n: u64 = digits
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a size like 4096, 64K, 10M or 2G"))?;
    n.checked_mul(1u64 << shift)
        .ok_or_else(|| format!("{s:?} is too large"))
}

/// Accepts the challenge's single-dash `-db DIR` (and `-db=DIR`) by rewriting it to
/// `--db`; clap would otherwise read `-db` as `-d -b`.
pub fn normalize(args: impl Iterator<Item = OsString>) -> Vec<OsString> {
    let mut out = Vec::new();
    let mut after_dashdash = false;
    for a in args {
        if after_dashdash {
            out.push(a);
            continue;
        }
        if a == "--" {
            after_dashdash = true;
        }
        match a.to_str() {
            Some("-db") => out.push("--db".into()),
            Some(s) if s.starts_with("-db=") => out.push(format!("--db={}", &s[4..]).into()),
            _ => out.push(a),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("64K"), Ok(64 << 10));
        assert_eq!(parse_size("10m"), Ok(10 << 20));
        assert_eq!(parse_size("2GiB"), Ok(2 << 30));
        assert!(parse_size("x").is_err());
        assert!(parse_size("99999999999G").is_err());
    }

    #[test]
    fn single_dash_db() {
        let v = normalize(
            ["ccbitcask", "-db", "d", "get", "-db"]
                .iter()
                .map(OsString::from),
        );
        assert_eq!(v, ["ccbitcask", "--db", "d", "get", "--db"]);
        let v = normalize(["x", "-db=./d", "--", "-db"].iter().map(OsString::from));
        assert_eq!(v, ["x", "--db=./d", "--", "-db"]);
    }
}
