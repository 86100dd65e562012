//! INFO: the node's state as Redis's `field:value` sections.
//!
//! Field names are Redis 7.0's, so that dashboards, exporters and client libraries that parse
//! INFO keep working. Concord adds a few `concord_*` fields where an operator needs to know
//! something Redis has no field for (the applied log index, whether writes are durable).
//!
//! Caveats: `keyspace_hits`/`keyspace_misses` and `expired_keys` are not reported, because the
//! server cannot count them honestly (reads and expiry run in the state machine); `avg_ttl` is
//! 0; there is no `latencystats` section yet. The `cpu` section has the
//! process's and its children's times but not Redis's `*_main_thread` fields: Concord has no
//! main thread, its work is spread over tokio's workers.

use std::fmt::Write;
use std::sync::atomic::Ordering;
use std::time::{SystemTime, UNIX_EPOCH};

use super::{Shared, REDIS_VERSION};
use crate::node::StorageStatus;

/// Every section INFO knows, in Redis's order.
const SECTIONS: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "commandstats",
    "errorstats",
    "cluster",
    "keyspace",
];

/// The sections only `all` (or naming them) prints; INFO with no argument or `default`
/// prints the others.
const NOT_DEFAULT: &[&str] = &["commandstats"];

/// Builds the INFO text for the requested sections (lowercase; empty means `default`).
pub(super) async fn render(shared: &Shared, requested: &[String]) -> String {
    let sections = select_sections(requested);
    let mut text = String::new();
    for section in sections {
        if !text.is_empty() {
            text.push_str("\r\n");
        }
        match section {
            "server" => server(shared, &mut text),
            "clients" => clients(shared, &mut text),
            "memory" => memory(shared, &mut text),
            "persistence" => persistence(shared, &mut text),
            "stats" => stats(shared, &mut text),
            "replication" => super::replication::replication_info(shared, &mut text).await,
            "cpu" => cpu(&mut text),
            // No modules: the section is there, empty, as on a Redis without modules.
            "modules" => text.push_str("# Modules\r\n"),
            // Concord is not Redis Cluster (see `introspection`); tools read this field.
            "cluster" => text.push_str("# Cluster\r\ncluster_enabled:0\r\n"),
            "commandstats" => commandstats(shared, &mut text),
            "errorstats" => errorstats(shared, &mut text),
            "keyspace" => keyspace(shared, &mut text).await,
            _ => unreachable!("select_sections returns known sections only"),
        }
    }
    text
}

/// Resolves `all`, `everything` and `default`, drops unknown names (as Redis does) and
/// keeps Redis's section order.
fn select_sections(requested: &[String]) -> Vec<&'static str> {
    let defaults = || SECTIONS.iter().filter(|section| !NOT_DEFAULT.contains(section));
    let mut wanted: Vec<&'static str> = Vec::new();
    if requested.is_empty() {
        wanted.extend(defaults());
    }
    for name in requested {
        match name.as_str() {
            "default" => wanted.extend(defaults()),
            "all" | "everything" => wanted.extend(SECTIONS),
            other => wanted.extend(SECTIONS.iter().find(|section| **section == other)),
        }
    }
    SECTIONS.iter().copied().filter(|section| wanted.contains(section)).collect()
}

fn cpu(text: &mut String) {
    let (own, children) = (cpu_times(libc::RUSAGE_SELF), cpu_times(libc::RUSAGE_CHILDREN));
    let _ = write!(
        text,
        "# CPU\r\nused_cpu_sys:{:.6}\r\nused_cpu_user:{:.6}\r\nused_cpu_sys_children:{:.6}\r\n\
         used_cpu_user_children:{:.6}\r\n",
        own.0, own.1, children.0, children.1
    );
}

/// The system and user CPU seconds of `who` (`RUSAGE_SELF` or `RUSAGE_CHILDREN`); zeros if
/// the kernel refuses.
#[allow(unsafe_code)]
fn cpu_times(who: libc::c_int) -> (f64, f64) {
    // SAFETY: `usage` is a plain C struct for which all zeros is a valid value, and
    // `getrusage` writes only within it; `who` is one of the two values it documents.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        if libc::getrusage(who, &mut usage) != 0 {
            return (0.0, 0.0);
        }
        usage
    };
    let seconds = |time: libc::timeval| time.tv_sec as f64 + time.tv_usec as f64 / 1e6;
    (seconds(usage.ru_stime), seconds(usage.ru_utime))
}

fn server(shared: &Shared, text: &mut String) {
    let uptime = shared.started_at.elapsed().as_secs();
    let now_us = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_micros());
    let executable =
        std::env::current_exe().map(|path| path.display().to_string()).unwrap_or_default();
    let config_file = shared
        .config
        .config_file
        .as_ref()
        .map(|path| path.display().to_string())
        .unwrap_or_default();
    let _ = write!(
        text,
        "# Server\r\nredis_version:{REDIS_VERSION}\r\nredis_mode:standalone\r\nos:{} {}\r\n\
         arch_bits:{}\r\nmultiplexing_api:tokio\r\nprocess_id:{}\r\nprocess_supervised:no\r\n\
         tcp_port:{}\r\nserver_time_usec:{now_us}\r\nuptime_in_seconds:{uptime}\r\n\
         uptime_in_days:{}\r\nexecutable:{executable}\r\nconfig_file:{config_file}\r\n\
         concord_version:{}\r\nconcord_ignored_config:{}\r\n",
        std::env::consts::OS,
        std::env::consts::ARCH,
        usize::BITS,
        std::process::id(),
        shared.config.port,
        uptime / 86_400,
        env!("CARGO_PKG_VERSION"),
        shared.settings.ignored_set().join(","),
    );
}

fn clients(shared: &Shared, text: &mut String) {
    let _ = write!(
        text,
        "# Clients\r\nconnected_clients:{}\r\ncluster_connections:0\r\nmaxclients:{}\r\n\
         blocked_clients:{}\r\ntracking_clients:0\r\n",
        shared.clients.len(),
        shared.settings.max_clients(),
        shared.clients.blocked_count(),
    );
}

/// Memory as the allocator counts it: Concord runs on jemalloc, like Redis, so `used_memory`
/// is the bytes allocated and `used_memory_rss` the bytes resident.
fn memory(shared: &Shared, text: &mut String) {
    let (allocated, resident) = allocator_stats();
    let maxmemory = shared.settings.value("maxmemory").unwrap_or_default();
    let maxmemory_bytes = maxmemory.parse::<u64>().unwrap_or(0);
    let policy = shared.settings.value("maxmemory-policy").unwrap_or_default();
    let _ = write!(
        text,
        "# Memory\r\nused_memory:{allocated}\r\nused_memory_human:{}\r\n\
         used_memory_rss:{resident}\r\nused_memory_rss_human:{}\r\nmaxmemory:{maxmemory}\r\n\
         maxmemory_human:{}\r\nmaxmemory_policy:{policy}\r\nmem_allocator:jemalloc\r\n",
        human_bytes(allocated),
        human_bytes(resident),
        human_bytes(maxmemory_bytes),
    );
}

/// jemalloc's counters, refreshed first (they are cached until the epoch advances).
fn allocator_stats() -> (u64, u64) {
    use tikv_jemalloc_ctl::{epoch, stats};
    let _ = epoch::advance();
    let allocated = stats::allocated::read().unwrap_or(0) as u64;
    let resident = stats::resident::read().unwrap_or(0) as u64;
    (allocated, resident)
}

/// Redis's `bytesToHuman`: two decimals and a unit letter.
pub(super) fn human_bytes(bytes: u64) -> String {
    const UNITS: [(&str, f64); 5] = [
        ("P", 1024f64 * 1024.0 * 1024.0 * 1024.0 * 1024.0),
        ("T", 1024f64 * 1024.0 * 1024.0 * 1024.0),
        ("G", 1024f64 * 1024.0 * 1024.0),
        ("M", 1024f64 * 1024.0),
        ("K", 1024f64),
    ];
    let value = bytes as f64;
    for (unit, size) in UNITS {
        if value >= size {
            return format!("{:.2}{unit}", value / size);
        }
    }
    format!("{bytes}B")
}

/// Redis's persistence fields, filled truthfully from the log and the snapshots: a snapshot
/// plays the part of an RDB save, and the write-ahead log the part of the AOF, except that it
/// is always on. `concord_*` fields say what Redis's cannot: the fsync mode and the indexes,
/// and `concord_storage_status` (`ok`, `disk-full` while writes are refused for want of space,
/// `failed` once the log failed and the node stops); `aof_last_write_status` is `err` unless
/// it is `ok`, as Redis's is after a failed AOF write.
fn persistence(shared: &Shared, text: &mut String) {
    let status = shared.node.persistence();
    let storage = shared.node.storage_status();
    let changes = status.applied_index.saturating_sub(status.snapshot_index);
    let status_word = |failed: bool| if failed { "err" } else { "ok" };
    let _ = write!(
        text,
        "# Persistence\r\nloading:0\r\nasync_loading:0\r\nrdb_changes_since_last_save:{changes}\r\n\
         rdb_bgsave_in_progress:{}\r\nrdb_last_save_time:{}\r\nrdb_last_bgsave_status:{}\r\n\
         rdb_last_bgsave_time_sec:{}\r\nrdb_saves:{}\r\nrdb_last_cow_size:0\r\n\
         aof_enabled:1\r\naof_rewrite_in_progress:0\r\naof_last_write_status:{}\r\n\
         concord_durable:1\r\nconcord_storage_status:{}\r\nconcord_fsync:{}\r\n\
         concord_applied_index:{}\r\n\
         concord_snapshot_index:{}\r\nconcord_snapshot_keys:{}\r\nconcord_snapshot_bytes:{}\r\n\
         concord_log_bytes_since_snapshot:{}\r\n",
        u8::from(status.snapshot_in_progress),
        status.last_save_unix_seconds,
        status_word(status.last_snapshot_failed),
        if status.saves == 0 { -1 } else { (status.last_snapshot_duration_ms / 1000) as i64 },
        status.saves,
        status_word(storage != StorageStatus::Ok),
        storage.name(),
        status.fsync.name(),
        status.applied_index,
        status.snapshot_index,
        status.last_snapshot_keys,
        status.last_snapshot_bytes,
        status.log_bytes_since_snapshot,
    );
}

/// Redis's `unexpected_error_replies` counts errors from its AOF loading and its master link,
/// which Concord has no equivalent of: always 0.
fn stats(shared: &Shared, text: &mut String) {
    let _ = write!(
        text,
        "# Stats\r\ntotal_connections_received:{}\r\ntotal_commands_processed:{}\r\n\
         rejected_connections:{}\r\nunexpected_error_replies:0\r\ntotal_error_replies:{}\r\n",
        shared.clients.connections_received.load(Ordering::Relaxed),
        shared.command_stats.total_calls(),
        shared.clients.connections_rejected.load(Ordering::Relaxed),
        shared.command_stats.total_errors(),
    );
}

/// Error replies by code (see `metrics`).
fn errorstats(shared: &Shared, text: &mut String) {
    text.push_str("# Errorstats\r\n");
    for (code, count) in shared.command_stats.errors() {
        let _ = write!(text, "errorstat_{code}:count={count}\r\n");
    }
}

fn commandstats(shared: &Shared, text: &mut String) {
    text.push_str("# Commandstats\r\n");
    for (name, counters) in shared.command_stats.snapshot() {
        let per_call = if counters.calls == 0 {
            0.0
        } else {
            counters.microseconds as f64 / counters.calls as f64
        };
        let _ = write!(
            text,
            "cmdstat_{name}:calls={},usec={},usec_per_call={per_call:.2},rejected_calls={},\
             failed_calls={}\r\n",
            counters.calls, counters.microseconds, counters.rejected_calls, counters.failed_calls,
        );
    }
}

/// One line per non-empty database, from the newest applied view.
async fn keyspace(shared: &Shared, text: &mut String) {
    text.push_str("# Keyspace\r\n");
    let Ok(view) = shared.node.read_view().await else {
        return;
    };
    for (index, db) in view.view.keyspace.databases() {
        if !db.is_empty() {
            let _ = write!(
                text,
                "db{index}:keys={},expires={},avg_ttl=0\r\n",
                db.len(),
                db.expires_len()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(requested: &[&str]) -> Vec<&'static str> {
        select_sections(&requested.iter().map(|name| name.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn sections_resolve_like_redis() {
        let defaults = [
            "server",
            "clients",
            "memory",
            "persistence",
            "stats",
            "replication",
            "cpu",
            "modules",
            "errorstats",
            "cluster",
            "keyspace",
        ];
        assert_eq!(names(&[]), defaults);
        assert_eq!(names(&["keyspace", "server", "nosuch"]), vec!["server", "keyspace"]);
        assert!(names(&["all"]).contains(&"commandstats"));
        assert!(!names(&["default"]).contains(&"commandstats"));
        assert_eq!(names(&["everything"]), names(&["all"]));
    }

    #[test]
    fn human_sizes_use_two_decimals() {
        assert_eq!(human_bytes(0), "0B");
        assert_eq!(human_bytes(1023), "1023B");
        assert_eq!(human_bytes(1562248), "1.49M");
        assert_eq!(human_bytes(1024 * 1024 * 1024), "1.00G");
    }
}
