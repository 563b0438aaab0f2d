//! Workload files (TOML or JSON) and how inputs layer: defaults, then a
//! preset, then the file, then measurements, then flags. Parsing is pure (it
//! takes the file's text); reading the file is the CLI's job.
//!
//! A file has three optional sections and two optional top-level keys:
//!
//! ```toml
//! preset = "photo-blobs"   # start from a built-in card (optional)
//! name = "photos, EU"      # report title (optional)
//!
//! [workload]
//! keys = "10M"
//! avg_value_bytes = "2MiB"
//!
//! [config]
//! vnodes = 8
//! sync_strategy = "interval:1000"
//!
//! [hardware]
//! disk_bandwidth = "200MB/s"
//! ```
//!
//! Unknown keys are errors, so a typo (`kes = 10`) is reported with its line,
//! never silently ignored.

use crate::config::ConfigPatch;
use crate::error::PlanError;
use crate::hardware::HardwarePatch;
use crate::model::Inputs;
use crate::presets;
use crate::workload::WorkloadPatch;
use serde::Deserialize;
use std::path::Path;

/// A workload file's syntax, chosen by its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    /// `.toml`
    Toml,
    /// `.json`
    Json,
}

impl FileFormat {
    /// The format for a path's extension.
    ///
    /// # Errors
    /// [`PlanError::Usage`] for any extension other than `.toml` or `.json`.
    pub fn from_path(path: &Path) -> Result<FileFormat, PlanError> {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("toml") => Ok(FileFormat::Toml),
            Some("json") => Ok(FileFormat::Json),
            _ => Err(PlanError::Usage(format!(
                "{}: workload files must end in .toml or .json",
                path.display()
            ))),
        }
    }
}

/// A parsed workload file: partial inputs to layer over a base.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanFile {
    /// A built-in preset to start from.
    #[serde(default)]
    pub preset: Option<String>,
    /// The report's title.
    #[serde(default)]
    pub name: Option<String>,
    /// Workload fields to set.
    #[serde(default)]
    pub workload: WorkloadPatch,
    /// Config fields to set.
    #[serde(default)]
    pub config: ConfigPatch,
    /// Hardware fields to set.
    #[serde(default)]
    pub hardware: HardwarePatch,
}

impl PlanFile {
    /// Layers this file's fields over `inputs`.
    pub fn apply(&self, inputs: &mut Inputs) {
        if let Some(name) = &self.name {
            inputs.name.clone_from(name);
        }
        self.workload.apply(&mut inputs.workload);
        self.config.apply(&mut inputs.config);
        self.hardware.apply(&mut inputs.hardware);
    }
}

/// 1-based line and column of a byte offset, for error messages.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset.min(text.len())).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// Parses a workload file's text.
///
/// # Errors
/// [`PlanError::Parse`] with the line and column where the parser knows them,
/// for bad syntax, unknown keys and values of the wrong type or unit.
pub fn parse_plan_file(text: &str, format: FileFormat, path: &Path) -> Result<PlanFile, PlanError> {
    match format {
        FileFormat::Toml => toml::from_str(text).map_err(|e| {
            let (line, column) = e
                .span()
                .map(|s| line_col(text, s.start))
                .map_or((None, None), |(l, c)| (Some(l), Some(c)));
            PlanError::Parse {
                path: path.to_path_buf(),
                line,
                column,
                message: one_line(e.message()),
            }
        }),
        FileFormat::Json => serde_json::from_str(text).map_err(|e| {
            // serde_json appends " at line L column C"; we print those ourselves.
            let message = e.to_string();
            let message = message
                .split(" at line ")
                .next()
                .unwrap_or(&message)
                .to_string();
            PlanError::Parse {
                path: path.to_path_buf(),
                line: (e.line() > 0).then_some(e.line()),
                column: (e.column() > 0).then_some(e.column()),
                message: one_line(&message),
            }
        }),
    }
}

/// Collapses a multi-line parser message into one line.
fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Defaults, or a preset's inputs when `preset` names one.
///
/// # Errors
/// [`PlanError::UnknownPreset`] for a name that is not built in.
pub fn base_inputs(preset: Option<&str>) -> Result<Inputs, PlanError> {
    match preset {
        None => Ok(Inputs {
            name: "custom".into(),
            workload: Default::default(),
            config: Default::default(),
            hardware: Default::default(),
        }),
        Some(name) => presets::get(name).ok_or_else(|| PlanError::UnknownPreset(name.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::units::Count;

    fn toml_err(text: &str) -> String {
        parse_plan_file(text, FileFormat::Toml, Path::new("w.toml"))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn a_file_layers_over_its_preset() {
        let file = parse_plan_file(
            "preset = \"photo-blobs\"\n[workload]\nkeys = \"20M\"\n[config]\nvnodes = 8\n",
            FileFormat::Toml,
            Path::new("w.toml"),
        )
        .unwrap();
        let mut inputs = base_inputs(file.preset.as_deref()).unwrap();
        file.apply(&mut inputs);
        assert_eq!(inputs.workload.keys, Count(20_000_000));
        assert_eq!(inputs.config.vnodes, 8);
        assert_eq!(inputs.workload.avg_key_bytes, 28.5, "kept from the preset");
    }

    #[test]
    fn malformed_files_are_typed_errors_with_a_location() {
        let e = toml_err("[workload]\nkes = 10\n");
        assert!(e.starts_with("w.toml:2:"), "{e}");
        assert!(e.contains("kes"), "{e}");
        let e = toml_err("[workload]\nkeys = \"ten\"\n");
        assert!(e.contains("ten"), "{e}");
        let e = toml_err("[workload\n");
        assert!(e.starts_with("w.toml:1:"), "{e}");
        let e = toml_err("[config]\nsync_strategy = \"sometimes\"\n");
        assert!(e.contains("sync strategy"), "{e}");
        let e = toml_err("[hardware]\nfsync_latency_ms = \"x\"\n");
        assert!(!e.contains('\n'), "{e}");
    }

    #[test]
    fn json_files_parse_and_fail_with_a_location() {
        let ok = parse_plan_file(
            r#"{"workload": {"keys": 5, "ttl_secs": 60}}"#,
            FileFormat::Json,
            Path::new("w.json"),
        )
        .unwrap();
        assert_eq!(ok.workload.ttl_secs, Some(Some(60)));
        let e = parse_plan_file(
            "{\"workload\": {\"keys\": -5}}",
            FileFormat::Json,
            Path::new("w.json"),
        )
        .unwrap_err();
        assert!(matches!(e, PlanError::Parse { line: Some(1), .. }), "{e}");
        assert!(!e.to_string().contains(" at line "));
    }

    #[test]
    fn formats_come_from_extensions() {
        assert_eq!(
            FileFormat::from_path(Path::new("a.TOML")).unwrap(),
            FileFormat::Toml
        );
        assert_eq!(
            FileFormat::from_path(Path::new("a.json")).unwrap(),
            FileFormat::Json
        );
        assert!(FileFormat::from_path(Path::new("a.yaml")).is_err());
        assert!(base_inputs(Some("nope")).is_err());
        assert_eq!(base_inputs(None).unwrap().name, "custom");
    }
}
