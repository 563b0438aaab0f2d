//! Runs the built `ccbitcask` binary the way a person would.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn ccbitcask(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ccbitcask"))
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Runs a command and checks its exit code, printing stderr on mismatch.
macro_rules! run {
    ($dir:expr, $code:expr, [$($arg:expr),*]) => {{
        let o = ccbitcask($dir, &[$($arg),*]);
        assert_eq!(
            o.status.code(),
            Some($code),
            "args {:?}\nstdout: {}\nstderr: {}",
            [$($arg),*],
            stdout(&o),
            String::from_utf8_lossy(&o.stderr)
        );
        o
    }};
}

#[test]
fn the_challenge_transcript() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    assert_eq!(
        stdout(&run!(d, 0, ["-db", "./database", "set", "Key", "Value"])),
        ""
    );
    assert_eq!(
        stdout(&run!(d, 0, ["-db", "./database", "get", "Key"])),
        "Value\n"
    );
    assert_eq!(stdout(&run!(d, 0, ["-db", "./database", "del", "Key"])), "");
    assert_eq!(
        stdout(&run!(d, 0, ["-db", "./database", "get", "Key"])),
        "(nil)\n"
    );
    assert!(d.join("database").is_dir());
}

#[test]
fn default_db_long_flag_and_many_files_then_merge() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    for i in 0..40 {
        let k = format!("key{i}");
        let v = format!("value{i}");
        run!(d, 0, ["set", &k, &v, "--max-file-size", "256"]);
    }
    run!(d, 0, ["set", "--max-file-size", "256", "key3", "three"]);
    assert_eq!(stdout(&run!(d, 0, ["get", "key3"])), "three\n");
    assert_eq!(
        stdout(&run!(d, 0, ["--db", "./database", "get", "key39"])),
        "value39\n"
    );
    let files = std::fs::read_dir(d.join("database")).unwrap().count();
    assert!(files > 5, "small files must roll over ({files})");
    let dry = stdout(&run!(d, 0, ["merge", "--dry-run"]));
    assert!(dry.contains("would merge"), "{dry}");
    let merged = stdout(&run!(d, 0, ["merge"]));
    assert!(
        merged.contains("before:") && merged.contains("reclaimed"),
        "{merged}"
    );
    assert_eq!(stdout(&run!(d, 0, ["get", "key3"])), "three\n");
    let keys = stdout(&run!(d, 0, ["keys", "key3*"]));
    assert_eq!(
        keys,
        "key3\nkey30\nkey31\nkey32\nkey33\nkey34\nkey35\nkey36\nkey37\nkey38\nkey39\n"
    );
    let stats = stdout(&run!(d, 0, ["stats", "--json"]));
    assert!(
        stats.contains("\"keys\": 40") || stats.contains("\"keys\":40"),
        "{stats}"
    );
    assert!(stdout(&run!(d, 0, ["check"])).contains("0 damaged ranges"));
}

#[test]
fn stdin_value_and_binary_keys() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ccbitcask"))
        .current_dir(d)
        .args(["set", "blob", "-"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let payload: Vec<u8> = (0..=255u8).cycle().take(5000).collect();
    child.stdin.take().unwrap().write_all(&payload).unwrap();
    assert!(child.wait().unwrap().success());
    let out = run!(d, 0, ["get", "blob"]);
    assert_eq!(&out.stdout[..payload.len()], &payload[..]);
    run!(d, 0, ["set", "k\u{e9}y with spaces", "v\u{263a}"]);
    assert_eq!(
        stdout(&run!(d, 0, ["get", "k\u{e9}y with spaces"])),
        "v\u{263a}\n"
    );
}

#[test]
fn errors_are_one_line_with_documented_codes() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    // Missing arguments: usage error.
    let o = run!(d, 2, ["set", "onlykey"]);
    assert!(!String::from_utf8_lossy(&o.stderr).contains("panicked"));
    run!(d, 2, ["frobnicate"]);
    run!(d, 2, ["set", "k", "v", "--sync", "sometimes"]);
    run!(d, 2, ["set", "k", "v", "--max-file-size", "lots"]);
    run!(
        d,
        0,
        [
            "set",
            "k",
            "v",
            "--sync",
            "always",
            "--max-file-size",
            "64K"
        ]
    );
    // A key over the limit: invalid input, nothing written.
    let big = "k".repeat(70_000);
    let o = run!(d, 5, ["set", &big, "v"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("larger than"), "{err}");
    // The database path is a file: I/O error.
    std::fs::write(d.join("afile"), b"x").unwrap();
    let o = run!(d, 4, ["-db", "afile", "set", "k", "v"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("not a directory"));
}

#[test]
fn locked_database_says_by_whom() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let db = ccbitcask_engine::Bitcask::open(d.join("database")).unwrap();
    db.put(b"k", b"v").unwrap();
    let o = run!(d, 3, ["set", "k", "w"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&format!("locked by pid {}", std::process::id())),
        "{err}"
    );
    // Reads still work while the writer holds the lock.
    assert_eq!(stdout(&run!(d, 0, ["get", "k"])), "v\n");
}

#[test]
fn check_reports_corruption_with_file_and_offset() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    for i in 0..30 {
        run!(
            d,
            0,
            [
                "set",
                &format!("k{i}"),
                "some value here",
                "--max-file-size",
                "200"
            ]
        );
    }
    let first = d.join("database").join("0000000001.data");
    let mut bytes = std::fs::read(&first).unwrap();
    bytes[30] ^= 0xff;
    std::fs::write(&first, bytes).unwrap();
    let o = run!(d, 6, ["check"]);
    let out = stdout(&o);
    assert!(out.contains("CORRUPT at offset 16"), "{out}");
    // The damaged record is never served: reading it is a corruption error naming the
    // file and offset (the hint file still indexes it); other keys are unaffected.
    let o = run!(d, 6, ["get", "k0"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("file 1 at offset 16"));
    assert_eq!(stdout(&o), "");
    assert_eq!(stdout(&run!(d, 0, ["get", "k29"])), "some value here\n");
}

#[test]
fn plan_is_wired_in_with_its_own_flags() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let o = ccbitcask(d, &["plan", "event-tags"]);
    assert_eq!(o.status.code(), Some(2), "range access must be rejected");
    assert!(stdout(&o).contains("bitcask-01"), "{}", stdout(&o));
    // `plan` keeps its own --max-file-size/--sync-strategy: no clash with the write flags.
    let o = ccbitcask(
        d,
        &[
            "plan",
            "photo-blobs",
            "--max-file-size",
            "1GB",
            "--open-files-limit",
            "16384",
        ],
    );
    let out = stdout(&o);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(out.contains("max_file_size 1.00 GB"), "{out}");
}

#[test]
fn odd_arguments_are_usage_errors_and_lose_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    run!(d, 0, ["set", "keep", "me"]);
    for args in [
        &["get"][..],
        &["get", "a", "b"],
        &["del"],
        &["set"],
        &["set", "a", "b", "c"],
        &["-db"],
        &["merge", "--dry-run", "extra"],
        &["set", "k", "v", "--max-file-size", "0"],
    ] {
        let o = ccbitcask(d, args);
        let code = o.status.code();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(matches!(code, Some(2 | 5)), "{args:?}: {code:?} {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
    // An empty key and keys that look like flags are ordinary keys.
    run!(d, 0, ["set", "", "empty"]);
    assert_eq!(stdout(&run!(d, 0, ["get", ""])), "empty\n");
    run!(d, 0, ["set", "--", "-db", "dash"]);
    assert_eq!(stdout(&run!(d, 0, ["get", "--", "-db"])), "dash\n");
    // Nothing that came before was lost.
    assert_eq!(stdout(&run!(d, 0, ["get", "keep"])), "me\n");
    assert_eq!(
        stdout(&run!(d, 0, ["check"])).lines().last().unwrap_or(""),
        "1 files, 3 records verified, 0 damaged ranges"
    );
}

#[test]
fn a_value_over_the_limit_from_stdin_is_refused_whole() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    run!(d, 0, ["set", "k", "old"]);
    let mut child = Command::new(env!("CARGO_BIN_EXE_ccbitcask"))
        .current_dir(d)
        .args(["set", "k", "-"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        let chunk = vec![b'x'; 1 << 20];
        for _ in 0..=(ccbitcask_engine::MAX_VALUE_SIZE >> 20) {
            if stdin.write_all(&chunk).is_err() {
                break;
            }
        }
    });
    let o = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert_eq!(
        o.status.code(),
        Some(5),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(stdout(&run!(d, 0, ["get", "k"])), "old\n");
}
