//! The report: the plan's one data structure, and the pure function that
//! builds it. Text (the `render` module) and `--json` are two renderings of the
//! same [`Report`], which is why they cannot disagree: the JSON is the report
//! serialized, and the text is a function of the report alone.

use crate::checks::{Check, Verdict};
use crate::error::PlanError;
use crate::model::Inputs;
use crate::recommend::{evaluate, recommend, scores, Evaluation, Recommendation, Scores};
use serde::{Deserialize, Serialize};

/// Everything `ccbitcask plan` prints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Report {
    /// The preset, file or `custom`.
    pub name: String,
    /// Where inputs were measured or read, one line each (`--probe-disk`, `--from-db`).
    pub sources: Vec<String>,
    /// The inputs the plan was computed from, after every default, preset,
    /// file, measurement and flag was applied.
    pub inputs: Inputs,
    /// The checks, in dependency order.
    pub checks: Vec<Check>,
    /// Trade-off scores.
    pub scores: Scores,
    /// Every warn or reject summary, then the warnings no single check owns.
    pub warnings: Vec<String>,
    /// Bitcask or an LSM, why, and the knob changes.
    pub recommendation: Recommendation,
    /// The worst verdict.
    pub verdict: Verdict,
    /// The process exit status: 0 fits, 1 warn, 2 reject (use an LSM).
    pub exit_code: i32,
}

/// Plans: validates the inputs, runs the checks in dependency order, scores
/// and recommends. Pure: no I/O, no clock, no randomness.
///
/// # Errors
/// [`PlanError::Invalid`] naming the first field no plan can be made from.
pub fn plan(inputs: &Inputs) -> Result<Report, PlanError> {
    inputs.validate()?;
    let Evaluation {
        checks,
        verdict,
        warnings,
    } = evaluate(inputs);
    Ok(Report {
        name: inputs.name.clone(),
        sources: Vec::new(),
        inputs: inputs.clone(),
        scores: scores(inputs, &checks),
        recommendation: recommend(inputs, &checks, verdict),
        checks,
        warnings,
        verdict,
        exit_code: verdict.exit_code(),
    })
}

impl Report {
    /// The report as pretty-printed JSON.
    pub fn to_json(&self) -> String {
        // Serializing plain structs with string keys into a String cannot fail;
        // every float is finite (optional numbers are `None`, never inf or NaN).
        serde_json::to_string_pretty(self).expect("a report always serializes")
    }

    /// The report as readable text.
    pub fn to_text(&self) -> String {
        crate::render::text(self)
    }

    /// The check with this id.
    pub fn check(&self, id: crate::checks::CheckId) -> Option<&Check> {
        self.checks.iter().find(|c| c.id == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::CheckId;
    use crate::presets;
    use crate::recommend::Engine;

    #[test]
    fn the_three_cards_come_out_as_the_scene_says() {
        let photo = plan(&presets::get("photo-blobs").unwrap()).unwrap();
        assert_eq!(photo.recommendation.engine, Engine::Bitcask);
        let ram = photo.check(CheckId::KeydirRam).unwrap();
        assert_eq!(ram.verdict, Verdict::Fits);

        let tags = plan(&presets::get("event-tags").unwrap()).unwrap();
        assert_eq!(tags.verdict, Verdict::Reject);
        assert_eq!(tags.exit_code, 2);
        assert_eq!(
            tags.check(CheckId::RangeAccess).unwrap().verdict,
            Verdict::Reject
        );
        assert_eq!(tags.recommendation.engine, Engine::Lsm);

        let ids = plan(&presets::get("idempotency-keys").unwrap()).unwrap();
        assert_eq!(
            ids.check(CheckId::KeydirRam).unwrap().verdict,
            Verdict::Reject
        );
        assert_eq!(ids.recommendation.engine, Engine::Lsm);
    }

    #[test]
    fn invalid_inputs_are_errors_not_panics() {
        let mut inputs = presets::get("photo-blobs").unwrap();
        inputs.workload.write_rate = -1.0;
        assert!(plan(&inputs).is_err());
    }

    #[test]
    fn json_round_trips() {
        for name in presets::names() {
            let report = plan(&presets::get(name).unwrap()).unwrap();
            let back: Report = serde_json::from_str(&report.to_json()).unwrap();
            assert_eq!(back, report);
        }
    }
}
