//! The verifier's checks, run in scene 08's dependency order: the keydir RAM
//! ceiling first (the most decisive), then ordered access, then the sync
//! trilemma, merge cadence, hint files and the delete-then-recreate trap.
//!
//! Each check is a pure function of [`Inputs`] and returns a [`Check`]: one
//! verdict, one summary line with the numbers behind it, supporting notes, the
//! knob changes that would turn a warning into a fit, and typed details for
//! `--json` consumers.

/// Test support: a check's typed details of the given [`Details`] variant,
/// panicking on any other (`details!(check, HintFiles)`). Defined before the
/// check modules so their tests can use it.
#[cfg(test)]
macro_rules! details {
    ($check:expr, $variant:ident) => {
        match &$check.details {
            $crate::checks::Details::$variant(d) => d,
            other => panic!("wrong details {other:?}"),
        }
    };
}

pub mod hints;
pub mod keydir_ram;
pub mod merge_cadence;
pub mod range;
pub mod sync;
pub mod tombstone;

use crate::model::Inputs;
use serde::{Deserialize, Serialize};
use std::fmt;

/// How a check, or the whole plan, came out. Ordered: `Fits < Warn < Reject`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// The configuration meets the workload.
    Fits,
    /// Bitcask can meet it, but only with the suggested knob changes, or with
    /// a risk worth knowing.
    Warn,
    /// No knob helps: use an LSM (LevelDB/RocksDB).
    Reject,
}

impl Verdict {
    /// The process exit status for a plan with this verdict.
    pub fn exit_code(self) -> i32 {
        match self {
            Verdict::Fits => 0,
            Verdict::Warn => 1,
            Verdict::Reject => 2,
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Verdict::Fits => "fits",
            Verdict::Warn => "warn",
            Verdict::Reject => "reject",
        })
    }
}

/// Which check produced a [`Check`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckId {
    /// Keydir RAM against the per-vnode budget (bitcask-04).
    KeydirRam,
    /// Range or prefix access (bitcask-01).
    RangeAccess,
    /// Sync strategy against the crash-loss window (bitcask-06a).
    SyncStrategy,
    /// Merge cadence: dead-byte growth, triggers, duration, window, headroom.
    MergeCadence,
    /// Hint files: restart time and open files.
    HintFiles,
    /// Delete-then-recreate and `delete_mode` (bitcask-07).
    DeleteRecreate,
}

/// A knob change that would turn a warning into a fit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KnobChange {
    /// The knob, as spelled in workload files (`vnodes`, `sync`...).
    pub knob: String,
    /// Its current value.
    pub from: String,
    /// The suggested value.
    pub to: String,
    /// Why, with the number it fixes.
    pub why: String,
}

/// The typed numbers behind one check, for `--json` consumers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Details {
    /// See [`keydir_ram::KeydirRam`].
    KeydirRam(keydir_ram::KeydirRam),
    /// See [`range::RangeAccess`].
    RangeAccess(range::RangeAccess),
    /// See [`sync::SyncCheck`].
    SyncStrategy(sync::SyncCheck),
    /// See [`merge_cadence::MergeCadence`].
    MergeCadence(merge_cadence::MergeCadence),
    /// See [`hints::HintFiles`].
    HintFiles(hints::HintFiles),
    /// See [`tombstone::DeleteRecreate`].
    DeleteRecreate(tombstone::DeleteRecreate),
}

/// The outcome of one check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Check {
    /// Which check this is.
    pub id: CheckId,
    /// The scene-08 lesson it comes from (`bitcask-04`), when the scene numbers one.
    pub lesson: Option<String>,
    /// The verdict.
    pub verdict: Verdict,
    /// One line with the verdict's numbers, as the report prints it.
    pub summary: String,
    /// Supporting lines: the other model, the trilemma, the arithmetic.
    pub notes: Vec<String>,
    /// Knob changes that would turn this check's warning into a fit.
    pub changes: Vec<KnobChange>,
    /// The numbers, typed.
    pub details: Details,
}

impl Check {
    /// A check with no notes or changes yet.
    pub(crate) fn new(
        id: CheckId,
        lesson: Option<&str>,
        verdict: Verdict,
        summary: String,
        details: Details,
    ) -> Check {
        Check {
            id,
            lesson: lesson.map(str::to_string),
            verdict,
            summary,
            notes: Vec::new(),
            changes: Vec::new(),
            details,
        }
    }
}

/// Runs every check in dependency order.
pub fn run_all(inputs: &Inputs) -> Vec<Check> {
    vec![
        keydir_ram::check(inputs),
        range::check(inputs),
        sync::check(inputs),
        merge_cadence::check(inputs),
        hints::check(inputs),
        tombstone::check(inputs),
    ]
}

/// Builds [`Inputs`] for check unit tests from a preset, with edits.
#[cfg(test)]
pub(crate) fn preset(name: &str, edit: impl FnOnce(&mut Inputs)) -> Inputs {
    let mut inputs = crate::presets::get(name).expect("built-in preset");
    edit(&mut inputs);
    inputs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_order_and_map_to_exit_codes() {
        assert!(Verdict::Fits < Verdict::Warn && Verdict::Warn < Verdict::Reject);
        assert_eq!(Verdict::Fits.exit_code(), 0);
        assert_eq!(Verdict::Warn.exit_code(), 1);
        assert_eq!(Verdict::Reject.exit_code(), 2);
    }

    #[test]
    fn checks_run_in_dependency_order() {
        let ids: Vec<CheckId> = run_all(&preset("photo-blobs", |_| {}))
            .iter()
            .map(|c| c.id)
            .collect();
        assert_eq!(
            ids,
            [
                CheckId::KeydirRam,
                CheckId::RangeAccess,
                CheckId::SyncStrategy,
                CheckId::MergeCadence,
                CheckId::HintFiles,
                CheckId::DeleteRecreate
            ]
        );
    }
}
