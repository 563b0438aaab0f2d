//! Delete-then-recreate (bitcask-07): when keys are deleted and later written
//! again, the tombstone is what tells every copy and every older data file
//! that the old value is gone. Reaping it early (`delete_mode` immediate or a
//! delay) opens a window in which a replica or an unmerged older record that
//! missed the delete brings the old value back, or a recreate racing the reap
//! is dropped. `delete_mode = keep` keeps the tombstone as a guard, at the
//! cost of one record and one keydir entry per deleted key.

use super::{Check, CheckId, Details, KnobChange, Verdict};
use crate::config::DeleteMode;
use crate::model::Inputs;
use crate::units::fmt_num;
use serde::{Deserialize, Serialize};

/// The scene's lesson id.
pub const LESSON: &str = "bitcask-07";

/// The numbers behind the delete-then-recreate verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeleteRecreate {
    /// Whether the workload deletes keys and writes them again.
    pub delete_then_recreate: bool,
    /// The configured `delete_mode`.
    pub delete_mode: DeleteMode,
    /// Deletes per second (average).
    pub deletes_per_sec: f64,
}

/// Runs the delete-then-recreate check.
pub fn check(inputs: &Inputs) -> Check {
    let w = &inputs.workload;
    let mode = inputs.config.delete_mode;
    let deletes = w.write_rate * w.delete_fraction;
    let details = DeleteRecreate {
        delete_then_recreate: w.delete_then_recreate,
        delete_mode: mode,
        deletes_per_sec: deletes,
    };
    let (verdict, summary) = match (w.delete_then_recreate, mode) {
        (false, _) => (
            Verdict::Fits,
            format!("no delete-then-recreate — delete_mode {mode} is safe ({LESSON})"),
        ),
        (true, DeleteMode::Keep) => (
            Verdict::Fits,
            format!(
                "delete-then-recreate guarded by delete_mode keep (tombstone guard) ({LESSON})"
            ),
        ),
        (true, _) => (
            Verdict::Warn,
            format!(
                "delete-then-recreate with delete_mode {mode} — a reaped tombstone lets the old \
                 value resurface: set delete_mode keep ({LESSON})"
            ),
        ),
    };
    let mut check = Check::new(
        CheckId::DeleteRecreate,
        Some(LESSON),
        verdict,
        summary,
        Details::DeleteRecreate(details),
    );
    if w.delete_then_recreate && mode != DeleteMode::Keep {
        check.notes.push(
            "once the tombstone is reaped, a replica or an older unmerged record that missed the \
             delete can resurrect the old value, and a recreate racing the reap can be lost"
                .into(),
        );
        check.changes.push(KnobChange {
            knob: "delete_mode".into(),
            from: mode.to_string(),
            to: "keep".into(),
            why: "the kept tombstone guards the recreated key".into(),
        });
    }
    if mode == DeleteMode::Keep && deletes > 0.0 {
        check.notes.push(format!(
            "keep costs a record and a keydir entry per deleted key, for good: {} new tombstones/s",
            fmt_num(deletes)
        ));
    }
    check
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::preset;

    #[test]
    fn recreate_without_keep_is_flagged() {
        for mode in [DeleteMode::Immediate, DeleteMode::DelayMs(3000)] {
            let c = check(&preset("photo-blobs", |i| i.config.delete_mode = mode));
            assert_eq!(c.verdict, Verdict::Warn, "{mode}");
            assert_eq!(c.changes[0].to, "keep");
            assert!(c.summary.contains("bitcask-07"));
        }
    }

    #[test]
    fn recreate_with_keep_fits() {
        let c = check(&preset("photo-blobs", |i| {
            i.config.delete_mode = DeleteMode::Keep
        }));
        assert_eq!(c.verdict, Verdict::Fits);
        assert!(c.notes.iter().any(|n| n.contains("tombstones")));
    }

    #[test]
    fn no_recreate_fits_any_mode() {
        let c = check(&preset("event-tags", |i| {
            i.workload.delete_then_recreate = false;
            i.config.delete_mode = DeleteMode::Immediate;
        }));
        assert_eq!(c.verdict, Verdict::Fits);
        assert!(c.changes.is_empty());
    }
}
