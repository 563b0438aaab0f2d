//! Keydir RAM (bitcask-04): every live key sits in RAM, so per-key bytes × key
//! count, split over the vnodes, must fit the per-vnode budget.
//!
//! The verdicts are scene 08's: fits; add vnodes (with how many); or "use
//! LSM" when even the maximum vnode count leaves a vnode over budget. The
//! deciding model is the configured one (Riak's by default, which reproduces
//! the scene's card); the other model is computed beside it, and the note says
//! when the two disagree.

use super::{Check, CheckId, Details, KnobChange, Verdict};
use crate::config::KeydirModel;
use crate::model::Inputs;
use crate::units::{fmt_bytes, fmt_count};
use serde::{Deserialize, Serialize};

/// The scene's lesson id.
pub const LESSON: &str = "bitcask-04";

/// One per-key model's arithmetic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelRam {
    /// Which model.
    pub model: KeydirModel,
    /// Keydir bytes per key excluding the key.
    pub overhead_bytes: f64,
    /// Overhead + average key length.
    pub per_key_bytes: f64,
    /// Per-key bytes × key count.
    pub total_bytes: f64,
    /// Total ÷ vnodes.
    pub per_vnode_bytes: f64,
    /// Fewest vnodes that bring each under the budget.
    pub min_vnodes: u64,
    /// What this model alone would conclude.
    pub verdict: Verdict,
}

/// The numbers behind the keydir RAM verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeydirRam {
    /// The model that decides the verdict.
    pub deciding: ModelRam,
    /// The other model, for comparison.
    pub other: ModelRam,
    /// Configured vnodes.
    pub vnodes: u32,
    /// Most vnodes the deployment can run.
    pub max_vnodes: u32,
    /// Keydir budget per vnode, bytes.
    pub budget_per_vnode_bytes: u64,
    /// Keydir RAM across the cluster: total × replication factor.
    pub cluster_bytes: f64,
}

/// Computes one model's RAM and verdict.
fn model_ram(inputs: &Inputs, model: KeydirModel) -> ModelRam {
    let w = &inputs.workload;
    let c = &inputs.config;
    let budget = c.ram_budget_per_vnode.0 as f64;
    let overhead = model.overhead();
    let per_key = overhead + w.avg_key_bytes;
    let total = w.key_count() * per_key;
    let per_vnode = total / f64::from(c.vnodes);
    // Saturating float-to-int cast: billions of vnodes still compare correctly.
    let min_vnodes = ((total / budget).ceil() as u64).max(1);
    let verdict = if per_vnode <= budget {
        Verdict::Fits
    } else if min_vnodes <= u64::from(c.max_vnodes) {
        Verdict::Warn
    } else {
        Verdict::Reject
    };
    ModelRam {
        model,
        overhead_bytes: overhead,
        per_key_bytes: per_key,
        total_bytes: total,
        per_vnode_bytes: per_vnode,
        min_vnodes,
        verdict,
    }
}

/// Runs the keydir RAM check.
pub fn check(inputs: &Inputs) -> Check {
    let w = &inputs.workload;
    let c = &inputs.config;
    let deciding = model_ram(inputs, c.keydir_model);
    let other = model_ram(inputs, c.keydir_model.other());
    let budget = c.ram_budget_per_vnode.0;
    let budget_text = fmt_bytes(budget as f64);
    let head = format!(
        "keydir RAM {} total · {}/vnode",
        fmt_bytes(deciding.total_bytes),
        fmt_bytes(deciding.per_vnode_bytes)
    );
    let summary = match deciding.verdict {
        Verdict::Fits => format!("{head} — fits {budget_text} budget ({LESSON})"),
        Verdict::Warn => format!(
            "{head} — over {budget_text} budget: add vnodes, at least {} ({LESSON})",
            deciding.min_vnodes
        ),
        Verdict::Reject => format!(
            "{head} — blows {budget_text} budget at any vnode count (needs {} vnodes, max {}): \
             use LSM (LevelDB/RocksDB) ({LESSON})",
            fmt_count(deciding.min_vnodes as f64),
            c.max_vnodes
        ),
    };
    let details = KeydirRam {
        deciding: deciding.clone(),
        other: other.clone(),
        vnodes: c.vnodes,
        max_vnodes: c.max_vnodes,
        budget_per_vnode_bytes: budget,
        cluster_bytes: deciding.total_bytes * f64::from(w.replication_factor),
    };
    let mut check = Check::new(
        CheckId::KeydirRam,
        Some(LESSON),
        deciding.verdict,
        summary,
        Details::KeydirRam(details),
    );

    let describe = |m: &ModelRam| {
        format!(
            "{} model: {:.1} + {} B key = {:.1} B/key → {} total · {}/vnode ({})",
            m.model.label(),
            m.overhead_bytes,
            w.avg_key_bytes,
            m.per_key_bytes,
            fmt_bytes(m.total_bytes),
            fmt_bytes(m.per_vnode_bytes),
            m.verdict
        )
    };
    check.notes.push(describe(&deciding));
    check.notes.push(describe(&other));
    if other.verdict != deciding.verdict {
        check.notes.push(format!(
            "the models disagree: {} model says {}, {} model says {} — the verdict uses keydir_model {}",
            deciding.model.label(),
            deciding.verdict,
            other.model.label(),
            other.verdict,
            deciding.model
        ));
    }
    if w.replication_factor > 1 {
        check.notes.push(format!(
            "cluster-wide with RF {}: {} of keydir across {} vnode replicas",
            w.replication_factor,
            fmt_bytes(deciding.total_bytes * f64::from(w.replication_factor)),
            u64::from(c.vnodes) * u64::from(w.replication_factor)
        ));
    }
    match deciding.verdict {
        Verdict::Fits => {}
        Verdict::Warn => {
            check.changes.push(KnobChange {
                knob: "vnodes".into(),
                from: c.vnodes.to_string(),
                to: deciding.min_vnodes.to_string(),
                why: format!(
                    "{} per vnode ≤ {budget_text}",
                    fmt_bytes(deciding.total_bytes / deciding.min_vnodes as f64)
                ),
            });
            let pow2 = deciding.min_vnodes.next_power_of_two();
            if pow2 != deciding.min_vnodes && pow2 <= u64::from(c.max_vnodes) {
                check.notes.push(format!(
                    "a ring that must be a power of two needs {pow2} vnodes"
                ));
            }
        }
        Verdict::Reject => {
            check.notes.push(format!(
                "at the maximum {} vnodes each holds {}; Bitcask would need {} vnodes or a {}/vnode budget",
                c.max_vnodes,
                fmt_bytes(deciding.total_bytes / f64::from(c.max_vnodes)),
                fmt_count(deciding.min_vnodes as f64),
                fmt_bytes(deciding.total_bytes / f64::from(c.max_vnodes))
            ));
            check.notes.push(
                "an LSM keeps only a sparse index and bloom filters in RAM, so key count is bounded by disk"
                    .into(),
            );
        }
    }
    check
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::preset;

    #[test]
    fn photo_blob_card_matches_the_scene() {
        let check = check(&preset("photo-blobs", |_| {}));
        assert_eq!(
            check.summary,
            "keydir RAM 730 MB total · 182 MB/vnode — fits 256 MB budget (bitcask-04)"
        );
        assert_eq!(check.verdict, Verdict::Fits);
        let d = details!(check, KeydirRam);
        assert_eq!(d.deciding.total_bytes, 730e6);
        assert_eq!(d.deciding.per_vnode_bytes, 182.5e6);
    }

    #[test]
    fn photo_blobs_on_one_vnode_says_add_vnodes_with_the_count() {
        let check = check(&preset("photo-blobs", |i| i.config.vnodes = 1));
        assert_eq!(check.verdict, Verdict::Warn);
        assert!(
            check.summary.contains("add vnodes, at least 3"),
            "{}",
            check.summary
        );
        assert_eq!(check.changes[0].knob, "vnodes");
        assert_eq!(check.changes[0].to, "3");
    }

    #[test]
    fn billions_of_idempotency_keys_reject_at_any_vnode_count() {
        let check = check(&preset("idempotency-keys", |i| i.config.vnodes = 64));
        assert_eq!(check.verdict, Verdict::Reject);
        assert!(check.summary.contains("use LSM"), "{}", check.summary);
        let d = details!(check, KeydirRam);
        assert!(d.deciding.min_vnodes > 64);
        assert_eq!(d.other.verdict, Verdict::Reject);
    }

    #[test]
    fn engine_model_can_decide() {
        let check = check(&preset("photo-blobs", |i| {
            i.config.keydir_model = KeydirModel::Engine;
        }));
        let d = details!(check, KeydirRam);
        assert_eq!(d.deciding.model, KeydirModel::Engine);
        assert_eq!(d.other.total_bytes, 730e6);
    }

    #[test]
    fn zero_keys_fit() {
        let check = check(&preset("photo-blobs", |i| i.workload.keys.0 = 0));
        assert_eq!(check.verdict, Verdict::Fits);
    }
}
