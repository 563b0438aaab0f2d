//! Deciding whether and what to merge, with Riak's trigger/threshold model: a merge is
//! *needed* when some file crosses a trigger, and then every file past a (lower)
//! threshold is folded in, so one merge does a worthwhile amount of work.

use crate::db::Inner;

/// Why a file qualifies.
#[derive(Clone, Debug, PartialEq)]
pub enum MergeReason {
    /// This percentage of its records are dead.
    Fragmentation(f64),
    /// This many of its bytes are dead.
    DeadBytes(u64),
    /// It is smaller than the small-file threshold.
    SmallFile(u64),
}

impl std::fmt::Display for MergeReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Fragmentation(p) => write!(f, "fragmentation {p:.0}%"),
            Self::DeadBytes(b) => write!(f, "{b} dead bytes"),
            Self::SmallFile(b) => write!(f, "small file ({b} bytes)"),
        }
    }
}

/// The answer of [`crate::Bitcask::needs_merge`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MergePlan {
    /// Whether some file crossed a trigger.
    pub needed: bool,
    /// The files that crossed a trigger, and which.
    pub triggers: Vec<(u32, MergeReason)>,
    /// The files a merge would take, each with every threshold it passes.
    pub files: Vec<(u32, Vec<MergeReason>)>,
}

/// Evaluates the triggers and thresholds over the sealed files.
pub(crate) fn needs_merge(inner: &Inner) -> MergePlan {
    let o = &inner.opts.merge;
    let active = inner.active_id();
    let files: Vec<_> = inner
        .files
        .snapshot()
        .values()
        .filter(|f| Some(f.id) != active)
        .cloned()
        .collect();
    let mut plan = MergePlan::default();
    let mut candidates = Vec::new();
    for f in &files {
        let s = f.counters.snapshot();
        let len = f.file.len().unwrap_or(0);
        let frag = if s.total_keys == 0 {
            0.0
        } else {
            s.dead_keys as f64 * 100.0 / s.total_keys as f64
        };
        if frag >= f64::from(o.frag_merge_trigger) {
            plan.triggers.push((f.id, MergeReason::Fragmentation(frag)));
        } else if s.dead_bytes >= o.dead_bytes_merge_trigger {
            plan.triggers
                .push((f.id, MergeReason::DeadBytes(s.dead_bytes)));
        }
        let mut why = Vec::new();
        if frag >= f64::from(o.frag_threshold) {
            why.push(MergeReason::Fragmentation(frag));
        }
        if s.dead_bytes >= o.dead_bytes_threshold {
            why.push(MergeReason::DeadBytes(s.dead_bytes));
        }
        if len < o.small_file_threshold {
            why.push(MergeReason::SmallFile(len));
        }
        if !why.is_empty() {
            candidates.push((f.id, len, why, f.has_hint()));
        }
    }
    plan.needed = !plan.triggers.is_empty();
    if !plan.needed {
        return plan;
    }
    let mut budget = o.max_merge_size.unwrap_or(u64::MAX);
    for (id, len, why, _) in candidates {
        let forced = plan.triggers.iter().any(|(t, _)| *t == id);
        if len > budget && !forced && !plan.files.is_empty() {
            continue;
        }
        budget = budget.saturating_sub(len);
        plan.files.push((id, why));
    }
    plan
}
