//! `ccbitcask plan`: the capacity planner and verifier of scene 08, "Design
//! your KV — and feel its limits".
//!
//! Describe a workload (key count and sizes, rates and bursts, churn, TTL, read,
//! crash-loss and restart SLOs, whether it needs range access or recreates
//! deleted keys) and a Bitcask configuration (vnodes, keydir RAM budget,
//! `max_file_size`, sync strategy, merge window and triggers, hint files,
//! `delete_mode`) on some hardware. The planner walks its checks in dependency
//! order, each with the numbers behind its verdict and the lesson it comes
//! from, scores the trade-offs, and closes with an honest recommendation:
//! Bitcask, with the knob changes that turn warnings into fits, or "use an LSM
//! (LevelDB/RocksDB)" when no knob can help.
//!
//! | check | lesson | rejects? |
//! |---|---|---|
//! | keydir RAM per vnode vs budget | bitcask-04 | yes, past `max_vnodes` |
//! | range / prefix access | bitcask-01 | always, if required |
//! | sync strategy vs crash-loss window | bitcask-06a | no |
//! | merge cadence | — | no |
//! | hint files: restart time, open files | — | no |
//! | delete-then-recreate vs `delete_mode` | bitcask-07 | no |
//!
//! # What it is not
//! A simulator: every number is closed-form arithmetic over averages, stated
//! in the report so it can be checked by hand. It does not model page-cache
//! hit rates, CPU, the network, or several disks.
//!
//! # Layout
//! The core ([`plan`] and everything it calls) is pure: [`Inputs`] in,
//! [`Report`] out, no I/O. I/O lives in [`probe`] (`--probe-disk`), [`from_db`]
//! (`--from-db`) and [`cli`] (files, flags, printing).
//!
//! # Exit status of `ccbitcask plan`
//! | status | meaning |
//! |---|---|
//! | 0 | fits: every check passes |
//! | 1 | warn: Bitcask works with the suggested knob changes, or with a risk named in the warnings |
//! | 2 | reject: use an LSM (LevelDB/RocksDB); no knob helps |
//! | 64 | usage or input error: bad flag value, malformed workload file, unknown preset |
//! | 74 | I/O error: `--probe-disk` or `--from-db` failed |
//!
//! # Example
//! ```
//! use ccbitcask_planner::{plan, presets, Verdict};
//!
//! let report = plan(&presets::get("photo-blobs").unwrap()).unwrap();
//! let ram = &report.checks[0];
//! assert_eq!(ram.verdict, Verdict::Fits);
//! assert_eq!(
//!     ram.summary,
//!     "keydir RAM 730 MB total · 182 MB/vnode — fits 256 MB budget (bitcask-04)"
//! );
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod checks;
pub mod cli;
pub mod config;
pub mod error;
pub mod from_db;
pub mod hardware;
pub mod input;
mod knobs;
pub mod model;
pub mod presets;
pub mod probe;
pub mod recommend;
mod render;
pub mod report;
pub mod units;
pub mod workload;

pub use checks::{Check, CheckId, Verdict};
pub use config::{Config, DeleteMode, KeydirModel, MergeWindow, SyncStrategy};
pub use error::PlanError;
pub use hardware::Hardware;
pub use model::Inputs;
pub use report::{plan, Report};
pub use workload::Workload;
