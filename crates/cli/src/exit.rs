//! Exit codes, and the mapping from engine errors to them.
//!
//! | code | meaning |
//! |-----:|---------|
//! | 0 | success (`get` of a missing key prints `(nil)` and still succeeds) |
//! | 1 | the operation failed for another reason (read-only, poisoned, merge already running) |
//! | 2 | usage error: missing or malformed arguments |
//! | 3 | the database is locked by another process |
//! | 4 | I/O error: unreadable directory, not a directory, disk failure |
//! | 5 | invalid input: key or value too large, bad option value |
//! | 6 | corruption detected (by `check`, or a damaged record on read) |
//!
//! `ccbitcask plan` has its own codes (see `docs/PLANNING.md`).

use ccbitcask_engine::Error;

/// Success.
pub const OK: i32 = 0;
/// Other failure.
pub const FAILURE: i32 = 1;
/// Usage error (clap's own code).
pub const USAGE: i32 = 2;
/// Locked by another process.
pub const LOCKED: i32 = 3;
/// I/O error.
pub const IO: i32 = 4;
/// Invalid input.
pub const INVALID: i32 = 5;
/// Corruption.
pub const CORRUPT: i32 = 6;

/// The exit code for an engine error.
pub fn code(e: &Error) -> i32 {
    match e {
        Error::Locked { .. } => LOCKED,
        Error::Io { .. } | Error::NotADirectory(_) => IO,
        Error::KeyTooLarge { .. } | Error::ValueTooLarge { .. } | Error::InvalidOption(_) => {
            INVALID
        }
        Error::Corrupt { .. } | Error::UnsupportedVersion { .. } => CORRUPT,
        _ => FAILURE,
    }
}

/// Prints the error as one line on stderr and returns its exit code.
pub fn report(e: &Error) -> i32 {
    eprintln!("ccbitcask: {e}");
    code(e)
}
