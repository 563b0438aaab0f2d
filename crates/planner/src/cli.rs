//! The `ccbitcask plan` command: flags ([`PlanArgs`]), input layering and
//! printing. The CLI binary flattens [`PlanArgs`] into its `plan` subcommand
//! and calls [`run`].
//!
//! Inputs layer in this order, later wins: defaults, the preset (positional or
//! the file's `preset =`), the `--workload` file, `--from-db`, `--probe-disk`,
//! then individual flags. So `plan photo-blobs --vnodes 1` is the scene's card
//! on one vnode, and a probe never overrides a number typed on the command line.

use crate::config::ConfigFlags;
use crate::error::PlanError;
use crate::from_db;
use crate::hardware::HardwareFlags;
use crate::input::{base_inputs, parse_plan_file, FileFormat, PlanFile};
use crate::probe::{probe_disk, ProbeOptions};
use crate::report::{plan, Report};
use crate::units::parse_scale;
use crate::workload::WorkloadFlags;
use std::io::Write;
use std::path::PathBuf;

/// Shown after `--help`: the exit statuses scripts can rely on.
const AFTER_HELP: &str = "\
Presets: photo-blobs, event-tags, idempotency-keys (scene 08's SLO cards).

Exit status:
  0   fits: every check passes
  1   warn: Bitcask works with the suggested knob changes
  2   reject: use an LSM (LevelDB/RocksDB); no knob helps
  64  usage or input error (bad flag value, malformed workload file)
  74  I/O error (--probe-disk or --from-db failed)";

/// Flags of `ccbitcask plan`.
#[derive(Debug, Clone, Default, clap::Args)]
#[command(after_help = AFTER_HELP)]
pub struct PlanArgs {
    /// Built-in preset to start from: photo-blobs, event-tags or idempotency-keys.
    #[arg(value_name = "PRESET")]
    pub preset: Option<String>,
    /// Workload file (.toml or .json) with optional `workload`, `config` and `hardware` tables.
    #[arg(long, value_name = "FILE")]
    pub workload: Option<PathBuf>,
    /// Print the report as JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// Measure this directory's disk (bandwidth, fsync latency) and the process limits first.
    #[arg(long, value_name = "DIR")]
    pub probe_disk: Option<PathBuf>,
    /// Read key count and sizes from this database (opened read-only).
    #[arg(long, value_name = "DIR")]
    pub from_db: Option<PathBuf>,
    /// With --from-db: multiply the key count, e.g. 10x.
    #[arg(long, value_name = "FACTOR")]
    pub scale: Option<String>,
    /// Workload knobs.
    #[command(flatten, next_help_heading = "Workload")]
    pub workload_flags: WorkloadFlags,
    /// Config knobs.
    #[command(flatten, next_help_heading = "Config")]
    pub config_flags: ConfigFlags,
    /// Hardware knobs.
    #[command(flatten, next_help_heading = "Hardware")]
    pub hardware_flags: HardwareFlags,
}

/// Runs `ccbitcask plan`: prints the report on stdout, or one error line on
/// stderr, and returns the exit status (see the crate docs).
pub fn run(args: PlanArgs) -> i32 {
    run_with(
        &args,
        &mut std::io::stdout().lock(),
        &mut std::io::stderr().lock(),
    )
}

/// [`run`] with the output streams given, for tests and embedding.
pub fn run_with(args: &PlanArgs, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    match build_report(args) {
        Ok(report) => {
            let text = if args.json {
                let mut json = report.to_json();
                json.push('\n');
                json
            } else {
                report.to_text()
            };
            // A closed pipe (`plan ... | head`) is not an error worth a panic.
            let _ = out.write_all(text.as_bytes());
            report.exit_code
        }
        Err(e) => {
            let _ = writeln!(err, "ccbitcask plan: {e}");
            e.exit_code()
        }
    }
}

/// Reads the workload file, if any.
fn read_file(path: &PathBuf) -> Result<PlanFile, PlanError> {
    let format = FileFormat::from_path(path)?;
    let text = std::fs::read_to_string(path).map_err(|source| PlanError::Io {
        op: "read workload file",
        path: path.clone(),
        source,
    })?;
    parse_plan_file(&text, format, path)
}

/// Layers every input source and plans; what [`run`] prints.
///
/// # Errors
/// Any [`PlanError`]: bad flags, unreadable or malformed files, unknown
/// presets, a failed probe or database read, or invalid resulting inputs.
pub fn build_report(args: &PlanArgs) -> Result<Report, PlanError> {
    // Parse every flag first, so a typo fails fast, before any probing.
    let workload_patch = args.workload_flags.to_patch()?;
    let config_patch = args.config_flags.to_patch()?;
    let hardware_patch = args.hardware_flags.to_patch()?;
    let scale = match (&args.scale, &args.from_db) {
        (Some(_), None) => return Err(PlanError::Usage("--scale needs --from-db".into())),
        (Some(s), Some(_)) => parse_scale(s).map_err(|reason| PlanError::Invalid {
            field: "--scale".into(),
            reason,
        })?,
        (None, _) => 1.0,
    };

    let file = args.workload.as_ref().map(read_file).transpose()?;
    let file_preset = file.as_ref().and_then(|f| f.preset.clone());
    let preset = match (&args.preset, &file_preset) {
        (Some(a), Some(b)) if a != b => {
            return Err(PlanError::Usage(format!(
                "preset `{a}` on the command line but `{b}` in the workload file"
            )))
        }
        (Some(a), _) => Some(a.clone()),
        (None, b) => b.clone(),
    };
    let mut inputs = base_inputs(preset.as_deref())?;
    if let (Some(path), None) = (&args.workload, &preset) {
        if let Some(stem) = path.file_stem().and_then(|s| s.to_str()) {
            inputs.name = stem.to_string();
        }
    }
    if let Some(file) = &file {
        file.apply(&mut inputs);
    }

    let mut sources = Vec::new();
    if let Some(dir) = &args.from_db {
        let profile = from_db::read_profile(dir)?;
        profile.project(scale).apply(&mut inputs.workload);
        sources.push(profile.describe(scale));
    }
    if let Some(dir) = &args.probe_disk {
        let result = probe_disk(dir, &ProbeOptions::default())?;
        result.patch().apply(&mut inputs.hardware);
        sources.push(result.describe());
    }
    workload_patch.apply(&mut inputs.workload);
    config_patch.apply(&mut inputs.config);
    hardware_patch.apply(&mut inputs.hardware);

    let mut report = plan(&inputs)?;
    report.sources = sources;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        plan: PlanArgs,
    }

    fn args(argv: &[&str]) -> PlanArgs {
        Cli::try_parse_from(std::iter::once("plan").chain(argv.iter().copied()))
            .unwrap()
            .plan
    }

    #[test]
    fn the_command_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
        let help = Cli::command().render_long_help().to_string();
        assert!(help.contains("Exit status"), "{help}");
        assert!(help.contains("--write-rate"));
        assert!(help.contains("--open-files-limit"));
    }

    #[test]
    fn flags_override_the_preset() {
        let report = build_report(&args(&["photo-blobs", "--vnodes", "1"])).unwrap();
        assert_eq!(report.inputs.config.vnodes, 1);
        assert!(report.checks[0].summary.contains("add vnodes, at least 3"));
    }

    #[test]
    fn bad_flag_values_are_usage_errors() {
        let e = build_report(&args(&["--vnodes", "many"])).unwrap_err();
        assert_eq!(e.exit_code(), 64);
        assert!(e.to_string().contains("--vnodes"));
        let e = build_report(&args(&["--scale", "10x"])).unwrap_err();
        assert_eq!(e.exit_code(), 64);
        let e = build_report(&args(&["photos"])).unwrap_err();
        assert!(e.to_string().contains("photo-blobs"));
    }
}
