//! `ccbitcask`: a thin command-line front end over the engine, server and planner crates.
//!
//! ```text
//! ccbitcask -db ./database set Key Value
//! ccbitcask -db ./database get Key        # prints Value, or (nil)
//! ccbitcask -db ./database del Key
//! ccbitcask -db ./database merge
//! ```
//! Exit codes are listed in [`exit`].

mod args;
mod cmd;
mod exit;
mod open;

use args::{Cli, Command};
use clap::Parser;

fn main() {
    init_logging();
    let cli = match Cli::try_parse_from(args::normalize(std::env::args_os())) {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    std::process::exit(run(cli));
}

fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_env("CCBITCASK_LOG").unwrap_or_else(|_| EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}

fn run(cli: Cli) -> i32 {
    let db = &cli.db;
    let result = match cli.command {
        Command::Get { ref key } => cmd::kv::get(db, key),
        Command::Set {
            ref key,
            ref value,
            ref opts,
        } => cmd::kv::set(db, opts, key, value),
        Command::Del { ref key, ref opts } => cmd::kv::del(db, opts, key),
        Command::Keys { ref glob } => cmd::kv::keys(db, glob.as_deref()),
        Command::Stats { json } => cmd::stats::run(db, json),
        Command::Check => cmd::check::run(db),
        Command::Merge { dry_run, ref opts } => cmd::merge::run(db, opts, dry_run),
        Command::Serve { opts, mut args } => {
            args.sync = opts.sync.or(args.sync);
            args.max_file_size = opts.max_file_size;
            return ccbitcask_server::main(args, cli.db);
        }
        Command::Plan(args) => return ccbitcask_planner::cli::run(*args),
    };
    match result {
        Ok(code) => code,
        Err(e) => exit::report(&e),
    }
}
