//! Range or prefix access (bitcask-01): the keydir is a hash table, and hash
//! tables have no order. Listing every key and filtering produces the answer,
//! but in O(N) per query. No Bitcask knob fixes this, so when the workload
//! needs ordered access the verdict is always "use LSM".

use super::{Check, CheckId, Details, Verdict};
use crate::model::Inputs;
use crate::units::fmt_count;
use serde::{Deserialize, Serialize};

/// The scene's lesson id.
pub const LESSON: &str = "bitcask-01";

/// The numbers behind the range-access verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RangeAccess {
    /// Whether the workload needs range or prefix access.
    pub required: bool,
    /// Keys a single range query would have to visit by listing and filtering.
    pub keys_scanned_per_query: u64,
}

/// Runs the range-access check.
pub fn check(inputs: &Inputs) -> Check {
    let w = &inputs.workload;
    let details = RangeAccess {
        required: w.range_or_prefix,
        keys_scanned_per_query: w.keys.0,
    };
    if !w.range_or_prefix {
        return Check::new(
            CheckId::RangeAccess,
            Some(LESSON),
            Verdict::Fits,
            format!("point lookups only — the unordered keydir serves them in one seek ({LESSON})"),
            Details::RangeAccess(details),
        );
    }
    let mut check = Check::new(
        CheckId::RangeAccess,
        Some(LESSON),
        Verdict::Reject,
        format!(
            "range/prefix access required — the keydir is a hash with no order: use LSM \
             (LevelDB/RocksDB), whose sorted SSTables answer it ({LESSON})"
        ),
        Details::RangeAccess(details),
    );
    check.notes.push(format!(
        "listing keys and filtering visits all {} keys per query; no knob orders a hash table",
        fmt_count(w.key_count())
    ));
    check
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::preset;

    #[test]
    fn event_tags_need_an_lsm() {
        let check = check(&preset("event-tags", |_| {}));
        assert_eq!(check.verdict, Verdict::Reject);
        assert!(check.summary.contains("use LSM"));
        assert_eq!(check.lesson.as_deref(), Some("bitcask-01"));
        assert!(check.changes.is_empty(), "no knob fixes ordered access");
    }

    #[test]
    fn point_lookups_fit() {
        let check = check(&preset("photo-blobs", |_| {}));
        assert_eq!(check.verdict, Verdict::Fits);
    }
}
