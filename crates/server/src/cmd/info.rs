//! `INFO [section ...]`: a bulk string (a verbatim string on RESP3) of
//! `# Section` headers and `field:value` lines, as redis-cli and monitoring
//! tools expect. redis-cli asserts the reply is a string and looks for
//! `redis_version:` in it, so both are non-negotiable.
//!
//! Sections: `server`, `clients`, `memory` (the keydir's real allocation from
//! the engine), `persistence` (data files, dead bytes, merges), `stats` and
//! `keyspace`. `INFO`, `INFO default`, `INFO all` and `INFO everything` give all
//! of them; unknown section names are ignored, as in Redis.

use std::cell::OnceCell;
use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use bytes::Bytes;

use super::config::appendfsync;
use crate::frame::Frame;
use crate::shared::{Shared, REDIS_VERSION};

const SECTIONS: [&str; 6] = [
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "keyspace",
];

/// Builds the INFO text for the requested sections.
pub(super) fn exec(args: &[Bytes], shared: &Shared) -> Frame {
    let wanted: Vec<&str> = if args.is_empty()
        || args.iter().any(|a| {
            ["all", "default", "everything"]
                .iter()
                .any(|w| a.eq_ignore_ascii_case(w.as_bytes()))
        }) {
        SECTIONS.to_vec()
    } else {
        SECTIONS
            .iter()
            .copied()
            .filter(|s| args.iter().any(|a| a.eq_ignore_ascii_case(s.as_bytes())))
            .collect()
    };
    // `stats()` walks every key: take it only for a section that needs it,
    // and once for all of them.
    let cell = OnceCell::new();
    let stats = || cell.get_or_init(|| shared.db.stats());
    let mut out = String::new();
    for (i, section) in wanted.iter().enumerate() {
        if i > 0 {
            out.push_str("\r\n");
        }
        // `write!` into a String cannot fail.
        let _ = match *section {
            "server" => server(&mut out, shared),
            "clients" => clients(&mut out, shared),
            "memory" => memory(&mut out, stats()),
            "persistence" => persistence(&mut out, shared, stats()),
            "stats" => counters(&mut out, shared),
            _ => keyspace(&mut out, stats()),
        };
    }
    Frame::Verbatim(Bytes::from(out))
}

fn server(out: &mut String, shared: &Shared) -> std::fmt::Result {
    let uptime = shared.started.elapsed().as_secs();
    write!(
        out,
        "# Server\r\nredis_version:{REDIS_VERSION}\r\nccbitcask_version:{}\r\n\
         redis_mode:standalone\r\nos:{} {}\r\narch_bits:{}\r\nmultiplexing_api:tokio\r\n\
         process_id:{}\r\ntcp_port:{}\r\nuptime_in_seconds:{uptime}\r\nuptime_in_days:{}\r\n\
         hz:10\r\nexecutable:{}\r\nconfig_file:\r\n",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::OS,
        std::env::consts::ARCH,
        usize::BITS,
        std::process::id(),
        shared.config.bind.port(),
        uptime / 86_400,
        std::env::current_exe()
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
    )
}

fn clients(out: &mut String, shared: &Shared) -> std::fmt::Result {
    write!(
        out,
        "# Clients\r\nconnected_clients:{}\r\nmaxclients:{}\r\nblocked_clients:0\r\n",
        shared.client_count(),
        shared.config.maxclients,
    )
}

fn memory(out: &mut String, stats: &ccbitcask_engine::Stats) -> std::fmt::Result {
    let rss = resident_bytes();
    write!(
        out,
        "# Memory\r\nused_memory:{}\r\nused_memory_rss:{rss}\r\nkeydir_bytes:{}\r\n\
         keydir_bytes_per_key:{:.2}\r\nkey_bytes:{}\r\nmaxmemory:0\r\nmaxmemory_policy:noeviction\r\n",
        stats.keydir_bytes,
        stats.keydir_bytes,
        stats.keydir_bytes_per_key,
        stats.key_bytes,
    )
}

fn persistence(
    out: &mut String,
    shared: &Shared,
    stats: &ccbitcask_engine::Stats,
) -> std::fmt::Result {
    let fsync = appendfsync(stats.sync_policy);
    write!(
        out,
        "# Persistence\r\nloading:0\r\naof_enabled:1\r\naof_rewrite_in_progress:{}\r\n\
         appendfsync:{fsync}\r\nsync_policy:{}\r\ndata_files:{}\r\ndisk_bytes:{}\r\n\
         hint_bytes:{}\r\ndead_bytes:{}\r\nvalue_bytes:{}\r\nmerges_completed:{}\r\nmerge_in_progress:{}\r\n",
        u8::from(stats.merge_running || shared.merge_running.load(Ordering::Relaxed)),
        stats.sync_policy,
        stats.files.len(),
        stats.disk_bytes,
        stats.hint_bytes,
        stats.dead_bytes,
        stats.value_bytes,
        stats.merges_completed,
        u8::from(stats.merge_running),
    )?;
    match &stats.last_merge {
        Some(m) => write!(
            out,
            "last_merge_reclaimed_bytes:{}\r\nlast_merge_duration_ms:{}\r\nlast_merge_files_before:{}\r\n\
             last_merge_files_after:{}\r\n",
            m.reclaimed_bytes,
            m.duration.as_millis(),
            m.files_before,
            m.files_after,
        ),
        None => out.write_str("last_merge_reclaimed_bytes:0\r\n"),
    }
}

fn counters(out: &mut String, shared: &Shared) -> std::fmt::Result {
    let s = &shared.stats;
    write!(
        out,
        "# Stats\r\ntotal_connections_received:{}\r\ntotal_commands_processed:{}\r\n\
         total_net_input_bytes:{}\r\ntotal_net_output_bytes:{}\r\nrejected_connections:{}\r\n\
         expired_keys:{}\r\n",
        s.connections_received.load(Ordering::Relaxed),
        s.commands_processed.load(Ordering::Relaxed),
        s.net_input_bytes.load(Ordering::Relaxed),
        s.net_output_bytes.load(Ordering::Relaxed),
        s.rejected_connections.load(Ordering::Relaxed),
        s.expired_keys.load(Ordering::Relaxed),
    )
}

fn keyspace(out: &mut String, stats: &ccbitcask_engine::Stats) -> std::fmt::Result {
    out.write_str("# Keyspace\r\n")?;
    if stats.keys > 0 {
        write!(
            out,
            "db0:keys={},expires={},avg_ttl=0\r\n",
            stats.keys, stats.keys_with_expiry
        )?;
    }
    Ok(())
}

/// The process's resident set size, from `/proc/self/statm` (0 elsewhere).
pub fn resident_bytes() -> u64 {
    let Ok(statm) = std::fs::read_to_string("/proc/self/statm") else {
        return 0;
    };
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    pages * 4096
}
