//! `ccbitcask plan` through its clap entry point: workload files (good and
//! malformed), exit statuses, `--from-db` on a real database and
//! `--probe-disk` on a temporary directory.

use ccbitcask_engine::Bitcask;
use ccbitcask_planner::cli::{build_report, run_with, PlanArgs};
use ccbitcask_planner::{CheckId, PlanError, Verdict};
use clap::Parser;
use std::fs;
use std::path::Path;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    plan: PlanArgs,
}

fn args(argv: &[&str]) -> PlanArgs {
    Cli::try_parse_from(std::iter::once("plan").chain(argv.iter().copied()))
        .expect("flags parse")
        .plan
}

/// Runs the command, returning (exit status, stdout, stderr).
fn run(args: PlanArgs) -> i32 {
    run_captured(&args).0
}

fn run_captured(args: &PlanArgs) -> (i32, String, String) {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = run_with(args, &mut out, &mut err);
    (
        code,
        String::from_utf8(out).expect("utf-8 stdout"),
        String::from_utf8(err).expect("utf-8 stderr"),
    )
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    fs::write(&path, text).expect("write fixture");
    path.to_string_lossy().into_owned()
}

#[test]
fn exit_status_tells_fits_warn_and_reject_apart() {
    assert_eq!(
        run(args(&["photo-blobs", "--open-files-limit", "65536"])),
        0
    );
    assert_eq!(
        run(args(&[
            "photo-blobs",
            "--vnodes",
            "1",
            "--open-files-limit",
            "65536"
        ])),
        1
    );
    assert_eq!(run(args(&["event-tags", "--json"])), 2);
    assert_eq!(run(args(&["idempotency-keys"])), 2);
    assert_eq!(run(args(&["no-such-card"])), 64);
    assert_eq!(run(args(&["--write-rate", "-5"])), 64);
    assert_eq!(run(args(&["--from-db", "/nonexistent/ccbitcask-db"])), 74);
}

#[test]
fn output_goes_to_stdout_and_errors_are_one_line_on_stderr() {
    let (code, out, err) = run_captured(&args(&["event-tags"]));
    assert_eq!(code, 2);
    assert!(
        out.contains("recommendation: use an LSM (LevelDB/RocksDB)"),
        "{out}"
    );
    assert!(err.is_empty());

    let (code, out, err) = run_captured(&args(&["event-tags", "--json"]));
    assert_eq!(code, 2);
    let json: serde_json::Value = serde_json::from_str(&out).expect("valid JSON");
    assert_eq!(json["verdict"], "reject");
    assert_eq!(json["recommendation"]["engine"], "lsm");
    assert!(err.is_empty());

    let (code, out, err) = run_captured(&args(&["--vnodes", "many"]));
    assert_eq!(code, 64);
    assert!(out.is_empty());
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("ccbitcask plan: invalid --vnodes"), "{err}");
}

#[test]
fn a_toml_workload_file_layers_over_its_preset_and_flags_win() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "photos.toml",
        r#"
preset = "photo-blobs"
name = "photos, EU"

[workload]
keys = "20M"
max_loss_ms = 1000

[config]
vnodes = 8
sync_strategy = "none"

[hardware]
disk_bandwidth = "200MB/s"
"#,
    );
    let report = build_report(&args(&["--workload", &file, "--vnodes", "16"])).unwrap();
    assert_eq!(report.name, "photos, EU");
    assert_eq!(report.inputs.workload.keys.0, 20_000_000);
    assert_eq!(
        report.inputs.workload.avg_key_bytes, 28.5,
        "from the preset"
    );
    assert_eq!(
        report.inputs.config.vnodes, 16,
        "the flag wins over the file"
    );
    assert_eq!(report.inputs.hardware.disk_bandwidth.0, 200_000_000);
    let sync = report.check(CheckId::SyncStrategy).unwrap();
    assert_eq!(sync.verdict, Verdict::Warn, "sync none vs a 1 s loss SLO");
}

#[test]
fn a_json_workload_file_works_without_a_preset() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "sessions.json",
        r#"{"workload": {"keys": "50M", "avg_key_bytes": 24, "avg_value_bytes": "512B",
             "range_or_prefix": false},
            "config": {"vnodes": 16, "delete_mode": "keep"}}"#,
    );
    let report = build_report(&args(&["--workload", &file])).unwrap();
    assert_eq!(report.name, "sessions");
    assert_eq!(report.inputs.config.vnodes, 16);
    assert_eq!(report.inputs.workload.avg_value_bytes.0, 512);
}

#[test]
fn malformed_workload_files_are_clear_typed_errors_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("syntax.toml", "[workload\nkeys = 1\n", "syntax.toml:1:"),
        ("typo.toml", "[workload]\nkes = 10\n", "unknown field `kes`"),
        (
            "unit.toml",
            "[workload]\navg_value_bytes = \"2 parsecs\"\n",
            "unknown size unit",
        ),
        ("type.toml", "[config]\nvnodes = \"four\"\n", "typ"),
        (
            "sync.toml",
            "[config]\nsync_strategy = \"sometimes\"\n",
            "sync strategy",
        ),
        ("section.toml", "[workloads]\nkeys = 1\n", "workloads"),
        (
            "range.toml",
            "[workload]\noverwrite_fraction = 1.5\n",
            "overwrite_fraction",
        ),
        (
            "syntax.json",
            "{\"workload\": {\"keys\": }",
            "syntax.json:1:",
        ),
        ("neg.json", "{\"workload\": {\"keys\": -1}}", "negative"),
        ("preset.toml", "preset = \"photos\"\n", "unknown preset"),
    ];
    for (name, text, expect) in cases {
        let file = write(dir.path(), name, text);
        let err = build_report(&args(&["--workload", &file])).unwrap_err();
        let line = err.to_string();
        assert!(line.contains(expect), "{name}: {line}");
        assert!(!line.contains('\n'), "{name}: one line: {line}");
        assert_eq!(err.exit_code(), 64, "{name}: {line}");
        assert_eq!(run(args(&["--workload", &file])), 64, "{name}");
    }
    let missing = dir.path().join("missing.toml");
    let err = build_report(&args(&["--workload", &missing.to_string_lossy()])).unwrap_err();
    assert!(matches!(err, PlanError::Io { .. }), "{err}");
    let yaml = write(dir.path(), "w.yaml", "keys: 1\n");
    let err = build_report(&args(&["--workload", &yaml])).unwrap_err();
    assert!(err.to_string().contains(".toml or .json"), "{err}");
}

#[test]
fn conflicting_presets_are_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "w.toml", "preset = \"event-tags\"\n");
    let err = build_report(&args(&["photo-blobs", "--workload", &file])).unwrap_err();
    assert!(matches!(err, PlanError::Usage(_)), "{err}");
}

#[test]
fn from_db_reads_a_real_database_and_scales_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = Bitcask::open(dir.path()).unwrap();
    for i in 0..500u32 {
        // 12-byte keys, 100-byte values.
        db.put(format!("photo:{i:06}").as_bytes(), &[7u8; 100])
            .unwrap();
    }
    for i in 0..100u32 {
        db.put(format!("photo:{i:06}").as_bytes(), &[8u8; 100])
            .unwrap();
    }
    db.close().unwrap();

    let dir_text = dir.path().to_string_lossy().into_owned();
    let report = build_report(&args(&[
        "photo-blobs",
        "--from-db",
        &dir_text,
        "--scale",
        "10x",
    ]))
    .unwrap();
    let w = &report.inputs.workload;
    assert_eq!(w.keys.0, 5000);
    assert_eq!(w.avg_key_bytes, 12.0);
    assert_eq!(w.avg_value_bytes.0, 100);
    assert_eq!(
        w.max_loss_ms,
        Some(1000.0),
        "SLOs still come from the preset"
    );
    assert!(
        report.sources[0].contains("projected ×10"),
        "{}",
        report.sources[0]
    );

    let err = build_report(&args(&["--from-db", &dir_text, "--scale", "lots"])).unwrap_err();
    assert!(err.to_string().contains("--scale"), "{err}");
    let err = build_report(&args(&["--scale", "10x"])).unwrap_err();
    assert!(err.to_string().contains("--from-db"), "{err}");
}

#[test]
fn probe_disk_measures_and_flags_still_win() {
    let dir = tempfile::tempdir().unwrap();
    let dir_text = dir.path().to_string_lossy().into_owned();
    let report = build_report(&args(&[
        "photo-blobs",
        "--probe-disk",
        &dir_text,
        "--open-files-limit",
        "4096",
    ]))
    .unwrap();
    assert!(
        report.sources[0].starts_with("probed"),
        "{:?}",
        report.sources
    );
    assert_eq!(report.inputs.hardware.open_files_limit, 4096);
    assert!(report.inputs.hardware.fsync_latency_ms > 0.0);
    assert_eq!(
        fs::read_dir(dir.path()).unwrap().count(),
        0,
        "probe cleaned up"
    );
}
