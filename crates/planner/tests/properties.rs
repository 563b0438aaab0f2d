//! Properties over random valid inputs: more vnodes never make the RAM verdict
//! worse, a larger budget never makes it worse, JSON and text agree, and no
//! valid input panics or produces a number JSON cannot carry.

use ccbitcask_planner::units::{ByteSize, Count};
use ccbitcask_planner::{
    plan, CheckId, Config, DeleteMode, Hardware, Inputs, KeydirModel, MergeWindow, Report,
    SyncStrategy, Verdict, Workload,
};
use proptest::prelude::*;

fn sync_strategy() -> impl Strategy<Value = SyncStrategy> {
    prop_oneof![
        Just(SyncStrategy::None),
        Just(SyncStrategy::Always),
        (1u64..60_000).prop_map(SyncStrategy::Interval),
    ]
}

fn merge_window() -> impl Strategy<Value = MergeWindow> {
    prop_oneof![
        Just(MergeWindow::Always),
        Just(MergeWindow::Never),
        (0u8..24, 1u8..24).prop_map(|(start, len)| MergeWindow::Hours {
            start,
            end: (start + len) % 24,
        }),
    ]
}

fn delete_mode() -> impl Strategy<Value = DeleteMode> {
    prop_oneof![
        Just(DeleteMode::Keep),
        Just(DeleteMode::Immediate),
        (0u64..100_000).prop_map(DeleteMode::DelayMs),
    ]
}

fn workload() -> impl Strategy<Value = Workload> {
    (
        (0u64..20_000_000_000, 1.0f64..1024.0, 0u64..(64 << 20)),
        (
            0.0f64..200_000.0,
            1.0f64..20.0,
            0.0f64..200_000.0,
            1.0f64..20.0,
        ),
        (
            0.0f64..=0.5,
            0.0f64..=0.5,
            proptest::option::of(1u64..10_000_000),
        ),
        (
            proptest::option::of(0.01f64..1000.0),
            proptest::option::of(0.0f64..100_000.0),
            proptest::option::of(0.1f64..100_000.0),
        ),
        (any::<bool>(), any::<bool>(), 1u32..6),
    )
        .prop_map(|(size, rates, churn, slos, flags)| Workload {
            keys: Count(size.0),
            avg_key_bytes: size.1,
            avg_value_bytes: ByteSize(size.2),
            write_rate: rates.0,
            write_burst: rates.1,
            read_rate: rates.2,
            read_burst: rates.3,
            overwrite_fraction: churn.0,
            delete_fraction: churn.1,
            ttl_secs: churn.2,
            read_p99_ms: slos.0,
            max_loss_ms: slos.1,
            restart_slo_secs: slos.2,
            range_or_prefix: flags.0,
            delete_then_recreate: flags.1,
            replication_factor: flags.2,
        })
}

fn config() -> impl Strategy<Value = Config> {
    (
        (1u32..256, 1_000_000u64..8_000_000_000, 1u32..256),
        (
            1u64 << 20..=2u64 << 30,
            sync_strategy(),
            any::<bool>(),
            merge_window(),
        ),
        (
            1.0f64..=100.0,
            1u64 << 20..4u64 << 30,
            0.0f64..=100.0,
            0u64..1u64 << 30,
        ),
        (any::<bool>(), delete_mode(), any::<bool>()),
    )
        .prop_map(|(v, s, m, o)| Config {
            vnodes: v.0,
            ram_budget_per_vnode: ByteSize(v.1),
            max_vnodes: v.2,
            max_file_size: ByteSize(s.0),
            sync_strategy: s.1,
            group_commit: s.2,
            merge_window: s.3,
            frag_merge_trigger: m.0,
            dead_bytes_merge_trigger: ByteSize(m.1),
            frag_threshold: m.2,
            dead_bytes_threshold: ByteSize(m.3),
            hint_files: o.0,
            delete_mode: o.1,
            keydir_model: if o.2 {
                KeydirModel::Riak
            } else {
                KeydirModel::Engine
            },
        })
}

fn hardware() -> impl Strategy<Value = Hardware> {
    (
        1_000_000u64..10_000_000_000,
        0.001f64..100.0,
        0.001f64..50.0,
        16u64..1_000_000,
        0.1f64..600.0,
        proptest::option::of(1u64 << 30..1u64 << 50),
    )
        .prop_map(|(bw, fsync, read, files, dirty, free)| Hardware {
            disk_bandwidth: ByteSize(bw),
            fsync_latency_ms: fsync,
            read_latency_ms: read,
            open_files_limit: files,
            dirty_expire_secs: dirty,
            disk_free: free.map(ByteSize),
        })
}

fn inputs() -> impl Strategy<Value = Inputs> {
    (workload(), config(), hardware()).prop_map(|(workload, config, hardware)| Inputs {
        name: "prop".into(),
        workload,
        config,
        hardware,
    })
}

fn ram_verdict(inputs: &Inputs) -> Verdict {
    let report = plan(inputs).expect("generated inputs are valid");
    report
        .check(CheckId::KeydirRam)
        .expect("keydir check")
        .verdict
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn adding_vnodes_never_makes_the_ram_verdict_worse(mut i in inputs(), more in 1u32..512) {
        let before = ram_verdict(&i);
        i.config.vnodes = i.config.vnodes.saturating_add(more);
        prop_assert!(ram_verdict(&i) <= before);
    }

    #[test]
    fn a_larger_budget_never_makes_the_ram_verdict_worse(mut i in inputs(), more in 1u64..8_000_000_000) {
        let before = ram_verdict(&i);
        i.config.ram_budget_per_vnode.0 += more;
        prop_assert!(ram_verdict(&i) <= before);
    }

    #[test]
    fn json_and_text_agree(i in inputs()) {
        let report = plan(&i).expect("generated inputs are valid");
        let text = report.to_text();
        let back: Report = serde_json::from_str(&report.to_json()).expect("JSON parses back");
        // Lossless: the JSON carries the whole report...
        prop_assert_eq!(&back, &report);
        // ...and the text is a function of it, so it says the same thing.
        prop_assert_eq!(back.to_text(), text.clone());
        for check in &back.checks {
            prop_assert!(text.contains(&check.summary));
        }
        for warning in &back.warnings {
            prop_assert!(text.contains(warning.as_str()));
        }
        prop_assert!(text.contains(&back.recommendation.headline));
        let exit_line = format!("exit status {}", back.exit_code);
        prop_assert!(text.contains(&exit_line));
        prop_assert_eq!(back.exit_code, back.verdict.exit_code());
        let scores = format!(
            "throughput {}/5 · durability {}/5 · complexity {}/5",
            back.scores.throughput.value, back.scores.durability.value, back.scores.complexity.value
        );
        prop_assert!(text.contains(&scores));
    }

    #[test]
    fn reports_are_consistent(i in inputs()) {
        let report = plan(&i).expect("generated inputs are valid");
        let worst = report.checks.iter().map(|c| c.verdict).max().unwrap_or(Verdict::Fits);
        prop_assert!(report.verdict >= worst);
        for s in [&report.scores.throughput, &report.scores.durability, &report.scores.complexity] {
            prop_assert!((1..=5).contains(&s.value));
        }
        // Only the two ceilings reject, and a reject means an LSM with no knob changes.
        let rejected = report.checks.iter().any(|c| c.verdict == Verdict::Reject);
        prop_assert_eq!(rejected, report.verdict == Verdict::Reject);
        if rejected {
            prop_assert!(report.recommendation.changes.is_empty());
        }
        for c in &report.checks {
            if c.verdict == Verdict::Reject {
                prop_assert!(matches!(c.id, CheckId::KeydirRam | CheckId::RangeAccess));
            }
        }
    }
}
