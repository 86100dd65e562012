//! Redis 7.0's configuration parameters, as CONFIG GET and CONFIG SET see them.
//!
//! The table lists every parameter `CONFIG GET *` shows on redis-server 7.0.15, with its type,
//! its default and whether CONFIG SET may change it. Values are kept as the normalized text
//! CONFIG GET reports (`1gb` is stored as `1073741824`, `KEA` as `AKE`), validated by type
//! with Redis's error texts. Aliases (`slaveof`, `hash-max-ziplist-entries`, ...) share their
//! canonical parameter's value.
//!
//! Only a few parameters change what Concord does (see the `settings` module and
//! docs/configuration.md); the rest are accepted, validated, stored and reported, so that
//! tools which read or write them keep working.

/// How a parameter's value is read and normalized.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `yes` or `no`.
    Bool,
    /// A whole number within `min..=max`.
    Integer {
        /// The smallest value accepted.
        min: i64,
        /// The largest value accepted.
        max: i64,
    },
    /// A byte count with an optional unit (`k`, `kb`, `m`, `mb`, `g`, `gb`, case-insensitive).
    Memory {
        /// The smallest byte count accepted.
        min: u64,
        /// The largest byte count accepted.
        max: u64,
    },
    /// A byte count, or a percentage of `maxmemory` (`10%`).
    MemoryOrPercent,
    /// One of these words, case-insensitive, stored in lowercase.
    Enum(&'static [&'static str]),
    /// Any text, stored as given.
    String,
    /// The `save` schedule: pairs of seconds and changes, or the empty string.
    Save,
    /// `client-output-buffer-limit`: a class, hard limit, soft limit and seconds, repeated.
    ClientOutputBufferLimit,
    /// `oom-score-adj-values`: three integers.
    OomScoreAdjValues,
    /// `notify-keyspace-events`: the class letters, normalized to Redis's order.
    NotifyKeyspaceEvents,
    /// `latency-tracking-info-percentiles`: percentiles between 0 and 100.
    LatencyPercentiles,
    /// `bind`: addresses, stored as given (the listener binds `Config`'s, not this).
    Bind,
}

/// Whether CONFIG SET may change a parameter, and Redis's word when it may not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mutability {
    /// CONFIG SET may change it.
    Mutable,
    /// CONFIG SET refuses: "can't set immutable config".
    Immutable,
    /// CONFIG SET refuses: "can't set protected config".
    Protected,
}

/// One configuration parameter CONFIG GET and CONFIG SET know.
#[derive(Debug)]
pub struct Parameter {
    /// The parameter's name, in lowercase as Redis spells it.
    pub name: &'static str,
    /// How its value is read and normalized.
    pub kind: Kind,
    /// Redis 7.0's default, as CONFIG GET shows it. Parameters that reflect Concord (port,
    /// bind, dir, the honoured limits) are overridden from `Config` at start-up.
    pub default: &'static str,
    /// Whether CONFIG SET may change it.
    pub mutability: Mutability,
}

impl Parameter {
    const fn new(name: &'static str, kind: Kind, default: &'static str) -> Parameter {
        Parameter { name, kind, default, mutability: Mutability::Mutable }
    }

    const fn immutable(self) -> Parameter {
        Parameter { mutability: Mutability::Immutable, ..self }
    }

    const fn protected(self) -> Parameter {
        Parameter { mutability: Mutability::Protected, ..self }
    }
}

/// Every canonical parameter, by name.
#[rustfmt::skip]
pub static PARAMETERS: &[Parameter] = &[
    Parameter::new("acl-pubsub-default", Kind::Enum(&["allchannels", "resetchannels"]), "resetchannels"),
    Parameter::new("aclfile", Kind::String, "").immutable(),
    Parameter::new("acllog-max-len", Kind::Integer { min: 0, max: 9223372036854775807 }, "128"),
    Parameter::new("active-defrag-cycle-max", Kind::Integer { min: 1, max: 99 }, "25"),
    Parameter::new("active-defrag-cycle-min", Kind::Integer { min: 1, max: 99 }, "1"),
    Parameter::new("active-defrag-ignore-bytes", Kind::Memory { min: 1, max: 9223372036854775807 }, "104857600"),
    Parameter::new("active-defrag-max-scan-fields", Kind::Integer { min: 1, max: 9223372036854775807 }, "1000"),
    Parameter::new("active-defrag-threshold-lower", Kind::Integer { min: 0, max: 1000 }, "10"),
    Parameter::new("active-defrag-threshold-upper", Kind::Integer { min: 0, max: 1000 }, "100"),
    Parameter::new("active-expire-effort", Kind::Integer { min: 1, max: 10 }, "1"),
    Parameter::new("activedefrag", Kind::Bool, "no"),
    Parameter::new("activerehashing", Kind::Bool, "yes"),
    Parameter::new("always-show-logo", Kind::Bool, "no").immutable(),
    Parameter::new("aof-disable-auto-gc", Kind::Bool, "no"),
    Parameter::new("aof-load-truncated", Kind::Bool, "yes"),
    Parameter::new("aof-rewrite-incremental-fsync", Kind::Bool, "yes"),
    Parameter::new("aof-timestamp-enabled", Kind::Bool, "no"),
    Parameter::new("aof-use-rdb-preamble", Kind::Bool, "yes"),
    Parameter::new("aof_rewrite_cpulist", Kind::String, "").immutable(),
    Parameter::new("appenddirname", Kind::String, "appendonlydir").immutable(),
    Parameter::new("appendfilename", Kind::String, "appendonly.aof").immutable(),
    Parameter::new("appendfsync", Kind::Enum(&["everysec", "always", "no"]), "everysec"),
    Parameter::new("appendonly", Kind::Bool, "no"),
    Parameter::new("auto-aof-rewrite-min-size", Kind::Memory { min: 0, max: 9223372036854775807 }, "67108864"),
    Parameter::new("auto-aof-rewrite-percentage", Kind::Integer { min: 0, max: 2147483647 }, "100"),
    Parameter::new("bgsave_cpulist", Kind::String, "").immutable(),
    Parameter::new("bind", Kind::Bind, "").immutable(),
    Parameter::new("bind-source-addr", Kind::String, ""),
    Parameter::new("bio_cpulist", Kind::String, "").immutable(),
    Parameter::new("busy-reply-threshold", Kind::Integer { min: 0, max: 9223372036854775807 }, "5000"),
    Parameter::new("client-output-buffer-limit", Kind::ClientOutputBufferLimit, "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"),
    Parameter::new("client-query-buffer-limit", Kind::Memory { min: 1048576, max: 9223372036854775807 }, "1073741824"),
    Parameter::new("cluster-allow-pubsubshard-when-down", Kind::Bool, "yes"),
    Parameter::new("cluster-allow-reads-when-down", Kind::Bool, "no"),
    Parameter::new("cluster-allow-replica-migration", Kind::Bool, "yes"),
    Parameter::new("cluster-announce-bus-port", Kind::Integer { min: 0, max: 65535 }, "0"),
    Parameter::new("cluster-announce-hostname", Kind::String, ""),
    Parameter::new("cluster-announce-ip", Kind::String, ""),
    Parameter::new("cluster-announce-port", Kind::Integer { min: 0, max: 65535 }, "0"),
    Parameter::new("cluster-announce-tls-port", Kind::Integer { min: 0, max: 65535 }, "0"),
    Parameter::new("cluster-config-file", Kind::String, "nodes.conf").immutable(),
    Parameter::new("cluster-enabled", Kind::Bool, "no").immutable(),
    Parameter::new("cluster-link-sendbuf-limit", Kind::Memory { min: 0, max: 18446744073709551615 }, "0"),
    Parameter::new("cluster-migration-barrier", Kind::Integer { min: 0, max: 2147483647 }, "1"),
    Parameter::new("cluster-node-timeout", Kind::Integer { min: 0, max: 9223372036854775807 }, "15000"),
    Parameter::new("cluster-port", Kind::Integer { min: 0, max: 65535 }, "0").immutable(),
    Parameter::new("cluster-preferred-endpoint-type", Kind::Enum(&["ip", "hostname", "unknown-endpoint"]), "ip"),
    Parameter::new("cluster-replica-no-failover", Kind::Bool, "no"),
    Parameter::new("cluster-replica-validity-factor", Kind::Integer { min: 0, max: 2147483647 }, "10"),
    Parameter::new("cluster-require-full-coverage", Kind::Bool, "yes"),
    Parameter::new("crash-log-enabled", Kind::Bool, "yes"),
    Parameter::new("crash-memcheck-enabled", Kind::Bool, "yes"),
    Parameter::new("daemonize", Kind::Bool, "no").immutable(),
    Parameter::new("databases", Kind::Integer { min: 1, max: 2147483647 }, "16").immutable(),
    Parameter::new("dbfilename", Kind::String, "dump.rdb").protected(),
    Parameter::new("dir", Kind::String, "").protected(),
    Parameter::new("disable-thp", Kind::Bool, "yes").immutable(),
    Parameter::new("dynamic-hz", Kind::Bool, "yes"),
    Parameter::new("enable-debug-command", Kind::Bool, "no").immutable(),
    Parameter::new("enable-module-command", Kind::Bool, "no").immutable(),
    Parameter::new("enable-protected-configs", Kind::Bool, "no").immutable(),
    Parameter::new("hash-max-listpack-entries", Kind::Integer { min: 0, max: 9223372036854775807 }, "512"),
    Parameter::new("hash-max-listpack-value", Kind::Memory { min: 0, max: 9223372036854775807 }, "64"),
    Parameter::new("hll-sparse-max-bytes", Kind::Memory { min: 0, max: 9223372036854775807 }, "3000"),
    Parameter::new("hz", Kind::Integer { min: 0, max: 2147483647 }, "10"),
    Parameter::new("ignore-warnings", Kind::String, ""),
    Parameter::new("io-threads", Kind::Integer { min: 1, max: 128 }, "1").immutable(),
    Parameter::new("io-threads-do-reads", Kind::Bool, "no").immutable(),
    Parameter::new("jemalloc-bg-thread", Kind::Bool, "yes"),
    Parameter::new("latency-monitor-threshold", Kind::Integer { min: 0, max: 9223372036854775807 }, "0"),
    Parameter::new("latency-tracking", Kind::Bool, "yes"),
    Parameter::new("latency-tracking-info-percentiles", Kind::LatencyPercentiles, "50 99 99.9"),
    Parameter::new("lazyfree-lazy-eviction", Kind::Bool, "no"),
    Parameter::new("lazyfree-lazy-expire", Kind::Bool, "no"),
    Parameter::new("lazyfree-lazy-server-del", Kind::Bool, "no"),
    Parameter::new("lazyfree-lazy-user-del", Kind::Bool, "no"),
    Parameter::new("lazyfree-lazy-user-flush", Kind::Bool, "no"),
    Parameter::new("lfu-decay-time", Kind::Integer { min: 0, max: 2147483647 }, "1"),
    Parameter::new("lfu-log-factor", Kind::Integer { min: 0, max: 2147483647 }, "10"),
    Parameter::new("list-compress-depth", Kind::Integer { min: 0, max: 2147483647 }, "0"),
    Parameter::new("list-max-listpack-size", Kind::Integer { min: -2147483648, max: 2147483647 }, "-2"),
    Parameter::new("logfile", Kind::String, "").immutable(),
    Parameter::new("loglevel", Kind::Enum(&["debug", "verbose", "notice", "warning"]), "notice"),
    Parameter::new("masterauth", Kind::String, ""),
    Parameter::new("masteruser", Kind::String, ""),
    Parameter::new("maxclients", Kind::Integer { min: 1, max: 4294967295 }, "10000"),
    Parameter::new("maxmemory", Kind::Memory { min: 0, max: 18446744073709551615 }, "0"),
    Parameter::new("maxmemory-clients", Kind::MemoryOrPercent, "0"),
    Parameter::new("maxmemory-eviction-tenacity", Kind::Integer { min: 0, max: 100 }, "10"),
    Parameter::new("maxmemory-policy", Kind::Enum(&["volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl", "allkeys-lru", "allkeys-lfu", "allkeys-random", "noeviction"]), "noeviction"),
    Parameter::new("maxmemory-samples", Kind::Integer { min: 1, max: 2147483647 }, "5"),
    Parameter::new("min-replicas-max-lag", Kind::Integer { min: 0, max: 2147483647 }, "10"),
    Parameter::new("min-replicas-to-write", Kind::Integer { min: 0, max: 2147483647 }, "0"),
    Parameter::new("no-appendfsync-on-rewrite", Kind::Bool, "no"),
    Parameter::new("notify-keyspace-events", Kind::NotifyKeyspaceEvents, ""),
    Parameter::new("oom-score-adj", Kind::Enum(&["no", "yes", "relative", "absolute"]), "no"),
    Parameter::new("oom-score-adj-values", Kind::OomScoreAdjValues, "0 200 800"),
    Parameter::new("pidfile", Kind::String, "").immutable(),
    Parameter::new("port", Kind::Integer { min: 0, max: 65535 }, "6379").immutable(),
    Parameter::new("proc-title-template", Kind::String, "{title} {listen-addr} {server-mode}"),
    Parameter::new("propagation-error-behavior", Kind::Enum(&["ignore", "panic", "panic-on-replicas"]), "ignore"),
    Parameter::new("protected-mode", Kind::Bool, "yes"),
    Parameter::new("proto-max-bulk-len", Kind::Memory { min: 1048576, max: 9223372036854775807 }, "536870912"),
    Parameter::new("rdb-del-sync-files", Kind::Bool, "no"),
    Parameter::new("rdb-save-incremental-fsync", Kind::Bool, "yes"),
    Parameter::new("rdbchecksum", Kind::Bool, "yes").immutable(),
    Parameter::new("rdbcompression", Kind::Bool, "yes"),
    Parameter::new("repl-backlog-size", Kind::Memory { min: 1, max: 9223372036854775807 }, "1048576"),
    Parameter::new("repl-backlog-ttl", Kind::Integer { min: 0, max: 9223372036854775807 }, "3600"),
    Parameter::new("repl-disable-tcp-nodelay", Kind::Bool, "no"),
    Parameter::new("repl-diskless-load", Kind::Enum(&["disabled", "on-empty-db", "swapdb"]), "disabled"),
    Parameter::new("repl-diskless-sync", Kind::Bool, "yes"),
    Parameter::new("repl-diskless-sync-delay", Kind::Integer { min: 0, max: 2147483647 }, "5"),
    Parameter::new("repl-diskless-sync-max-replicas", Kind::Integer { min: 0, max: 2147483647 }, "0"),
    Parameter::new("repl-ping-replica-period", Kind::Integer { min: 1, max: 2147483647 }, "10"),
    Parameter::new("repl-timeout", Kind::Integer { min: 1, max: 2147483647 }, "60"),
    Parameter::new("replica-announce-ip", Kind::String, ""),
    Parameter::new("replica-announce-port", Kind::Integer { min: 0, max: 65535 }, "0"),
    Parameter::new("replica-announced", Kind::Bool, "yes"),
    Parameter::new("replica-ignore-disk-write-errors", Kind::Bool, "no"),
    Parameter::new("replica-ignore-maxmemory", Kind::Bool, "yes"),
    Parameter::new("replica-lazy-flush", Kind::Bool, "no"),
    Parameter::new("replica-priority", Kind::Integer { min: 0, max: 2147483647 }, "100"),
    Parameter::new("replica-read-only", Kind::Bool, "yes"),
    Parameter::new("replica-serve-stale-data", Kind::Bool, "yes"),
    Parameter::new("replicaof", Kind::String, "").immutable(),
    Parameter::new("requirepass", Kind::String, ""),
    Parameter::new("sanitize-dump-payload", Kind::Enum(&["no", "yes", "clients"]), "no"),
    Parameter::new("save", Kind::Save, "3600 1 300 100 60 10000"),
    Parameter::new("server_cpulist", Kind::String, "").immutable(),
    Parameter::new("set-max-intset-entries", Kind::Integer { min: 0, max: 9223372036854775807 }, "512"),
    Parameter::new("set-proc-title", Kind::Bool, "yes").immutable(),
    Parameter::new("shutdown-on-sigint", Kind::Enum(&["default", "save", "nosave", "now", "force"]), "default"),
    Parameter::new("shutdown-on-sigterm", Kind::Enum(&["default", "save", "nosave", "now", "force"]), "default"),
    Parameter::new("shutdown-timeout", Kind::Integer { min: 0, max: 2147483647 }, "10"),
    Parameter::new("slowlog-log-slower-than", Kind::Integer { min: -1, max: 9223372036854775807 }, "10000"),
    Parameter::new("slowlog-max-len", Kind::Integer { min: 0, max: 9223372036854775807 }, "128"),
    Parameter::new("socket-mark-id", Kind::Integer { min: 0, max: 4294967295 }, "0").immutable(),
    Parameter::new("stop-writes-on-bgsave-error", Kind::Bool, "yes"),
    Parameter::new("stream-node-max-bytes", Kind::Memory { min: 0, max: 9223372036854775807 }, "4096"),
    Parameter::new("stream-node-max-entries", Kind::Integer { min: 0, max: 9223372036854775807 }, "100"),
    Parameter::new("supervised", Kind::Bool, "no").immutable(),
    Parameter::new("syslog-enabled", Kind::Bool, "no").immutable(),
    Parameter::new("syslog-facility", Kind::String, "local0").immutable(),
    Parameter::new("syslog-ident", Kind::String, "redis").immutable(),
    Parameter::new("tcp-backlog", Kind::Integer { min: 0, max: 2147483647 }, "511").immutable(),
    Parameter::new("tcp-keepalive", Kind::Integer { min: 0, max: 2147483647 }, "300"),
    Parameter::new("timeout", Kind::Integer { min: 0, max: 2147483647 }, "0"),
    Parameter::new("tls-auth-clients", Kind::Enum(&["no", "yes", "optional"]), "yes"),
    Parameter::new("tls-ca-cert-dir", Kind::String, ""),
    Parameter::new("tls-ca-cert-file", Kind::String, ""),
    Parameter::new("tls-cert-file", Kind::String, ""),
    Parameter::new("tls-ciphers", Kind::String, ""),
    Parameter::new("tls-ciphersuites", Kind::String, ""),
    Parameter::new("tls-client-cert-file", Kind::String, ""),
    Parameter::new("tls-client-key-file", Kind::String, ""),
    Parameter::new("tls-client-key-file-pass", Kind::String, ""),
    Parameter::new("tls-cluster", Kind::Bool, "no"),
    Parameter::new("tls-dh-params-file", Kind::String, ""),
    Parameter::new("tls-key-file", Kind::String, ""),
    Parameter::new("tls-key-file-pass", Kind::String, ""),
    // Redis 7.0 can move its TLS listener at runtime; Concord binds it once, at start-up.
    Parameter::new("tls-port", Kind::Integer { min: 0, max: 65535 }, "0").immutable(),
    Parameter::new("tls-prefer-server-ciphers", Kind::Bool, "no"),
    Parameter::new("tls-protocols", Kind::String, ""),
    Parameter::new("tls-replication", Kind::Bool, "no"),
    Parameter::new("tls-session-cache-size", Kind::Integer { min: 0, max: 2147483647 }, "20480"),
    Parameter::new("tls-session-cache-timeout", Kind::Integer { min: 0, max: 2147483647 }, "300"),
    Parameter::new("tls-session-caching", Kind::Bool, "yes"),
    Parameter::new("tracking-table-max-keys", Kind::Integer { min: 0, max: 9223372036854775807 }, "1000000"),
    Parameter::new("unixsocket", Kind::String, "").immutable(),
    Parameter::new("unixsocketperm", Kind::String, "0").immutable(),
    Parameter::new("zset-max-listpack-entries", Kind::Integer { min: 0, max: 9223372036854775807 }, "128"),
    Parameter::new("zset-max-listpack-value", Kind::Memory { min: 0, max: 9223372036854775807 }, "64"),];

/// Old names that Redis 7.0 still accepts, and the parameter each one stands for.
pub static ALIASES: &[(&str, &str)] = &[
    ("cluster-slave-no-failover", "cluster-replica-no-failover"),
    ("cluster-slave-validity-factor", "cluster-replica-validity-factor"),
    ("hash-max-ziplist-entries", "hash-max-listpack-entries"),
    ("hash-max-ziplist-value", "hash-max-listpack-value"),
    ("list-max-ziplist-size", "list-max-listpack-size"),
    ("lua-time-limit", "busy-reply-threshold"),
    ("min-slaves-max-lag", "min-replicas-max-lag"),
    ("min-slaves-to-write", "min-replicas-to-write"),
    ("repl-ping-slave-period", "repl-ping-replica-period"),
    ("slave-announce-ip", "replica-announce-ip"),
    ("slave-announce-port", "replica-announce-port"),
    ("slave-ignore-maxmemory", "replica-ignore-maxmemory"),
    ("slave-lazy-flush", "replica-lazy-flush"),
    ("slave-priority", "replica-priority"),
    ("slave-read-only", "replica-read-only"),
    ("slave-serve-stale-data", "replica-serve-stale-data"),
    ("slaveof", "replicaof"),
    ("zset-max-ziplist-entries", "zset-max-listpack-entries"),
    ("zset-max-ziplist-value", "zset-max-listpack-value"),
];

/// The classes `notify-keyspace-events` accepts that `A` stands for, in the order CONFIG GET
/// reports them.
const EVENT_CLASSES_IN_ALL: &str = "g$lshzxetdn";

/// Finds a parameter by its name or an alias, in any case.
pub fn lookup(name: &[u8]) -> Option<&'static Parameter> {
    let canonical = ALIASES
        .iter()
        .find(|(alias, _)| alias.as_bytes().eq_ignore_ascii_case(name))
        .map_or(name, |(_, canonical)| canonical.as_bytes());
    PARAMETERS.iter().find(|parameter| parameter.name.as_bytes().eq_ignore_ascii_case(canonical))
}

/// Every name CONFIG GET can report, aliases included, with the parameter each one reads.
pub fn all_names() -> impl Iterator<Item = (&'static str, &'static Parameter)> {
    let canonical = PARAMETERS.iter().map(|parameter| (parameter.name, parameter));
    let aliases = ALIASES.iter().map(|(alias, canonical)| {
        (*alias, lookup(canonical.as_bytes()).expect("every alias names a parameter in the table"))
    });
    canonical.chain(aliases)
}

/// Checks a value for a parameter and returns the text CONFIG GET will report for it, or the
/// reason Redis gives for refusing it (the part after `- ` in its error line). `current` is
/// the parameter's current value, which `client-output-buffer-limit` only amends.
pub fn normalize(parameter: &Parameter, value: &[u8], current: &str) -> Result<String, String> {
    let text = std::str::from_utf8(value).map_err(|_| "argument must be valid UTF-8".to_string());
    match parameter.kind {
        Kind::Bool => match value.to_ascii_lowercase().as_slice() {
            b"yes" => Ok("yes".into()),
            b"no" => Ok("no".into()),
            _ => Err("argument must be 'yes' or 'no'".into()),
        },
        Kind::Integer { min, max } => {
            let number = crate::command::parse_i64(value)
                .ok_or("argument couldn't be parsed into an integer")?;
            check_range(i128::from(number), i128::from(min), i128::from(max))?;
            Ok(number.to_string())
        }
        Kind::Memory { min, max } => {
            let bytes = parse_memory(value).ok_or("argument must be a memory value")?;
            check_range(i128::from(bytes), i128::from(min), i128::from(max))?;
            Ok(bytes.to_string())
        }
        Kind::MemoryOrPercent => normalize_memory_or_percent(value),
        Kind::Enum(words) => words
            .iter()
            .find(|word| word.as_bytes().eq_ignore_ascii_case(value))
            .map(|word| word.to_string())
            .ok_or_else(|| {
                format!("argument(s) must be one of the following: {}", words.join(", "))
            }),
        Kind::String | Kind::Bind => Ok(text?.to_string()),
        Kind::Save => normalize_save(text?),
        Kind::ClientOutputBufferLimit => normalize_output_buffer_limit(text?, current),
        Kind::OomScoreAdjValues => normalize_oom_score_adj_values(text?),
        Kind::NotifyKeyspaceEvents => normalize_keyspace_events(value),
        Kind::LatencyPercentiles => normalize_percentiles(text?),
    }
}

fn check_range(value: i128, min: i128, max: i128) -> Result<(), String> {
    if value < min || value > max {
        return Err(format!("argument must be between {min} and {max} inclusive"));
    }
    Ok(())
}

/// Redis's `memtoull`: digits, then an optional unit. `k`, `m` and `g` are powers of 1000,
/// `kb`, `mb` and `gb` powers of 1024.
pub fn parse_memory(value: &[u8]) -> Option<u64> {
    let digits_end = value.iter().position(|byte| !byte.is_ascii_digit()).unwrap_or(value.len());
    let (digits, unit) = value.split_at(digits_end);
    if digits.is_empty() {
        return None;
    }
    let multiplier: u64 = match unit.to_ascii_lowercase().as_slice() {
        b"" | b"b" => 1,
        b"k" => 1000,
        b"kb" => 1024,
        b"m" => 1000 * 1000,
        b"mb" => 1024 * 1024,
        b"g" => 1000 * 1000 * 1000,
        b"gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    let number: u64 = std::str::from_utf8(digits).ok()?.parse().ok()?;
    number.checked_mul(multiplier)
}

fn normalize_memory_or_percent(value: &[u8]) -> Result<String, String> {
    if let Some(percent) = value.strip_suffix(b"%") {
        let percent = crate::command::parse_i64(percent)
            .filter(|percent| *percent >= 0)
            .ok_or("argument must be a memory or percent value")?;
        if percent > 100 {
            return Err("percentage argument must be less or equal to 100".into());
        }
        return Ok(format!("{percent}%"));
    }
    parse_memory(value)
        .map(|bytes| bytes.to_string())
        .ok_or_else(|| "argument must be a memory or percent value".into())
}

/// `save`: empty, or pairs of seconds and changes.
fn normalize_save(text: &str) -> Result<String, String> {
    let words: Vec<&str> = text.split_ascii_whitespace().collect();
    let valid = words.len() % 2 == 0
        && words
            .iter()
            .all(|word| crate::command::parse_i64(word.as_bytes()).is_some_and(|n| n >= 0));
    if !valid {
        return Err("Invalid save parameters".into());
    }
    Ok(words.join(" "))
}

/// `client-output-buffer-limit`: groups of class, hard limit, soft limit, soft seconds. Only
/// the classes given change; the value always lists all three.
fn normalize_output_buffer_limit(text: &str, current: &str) -> Result<String, String> {
    let words: Vec<&str> = text.split_ascii_whitespace().collect();
    if words.is_empty() || words.len() % 4 != 0 {
        return Err("Wrong number of arguments in buffer limit configuration.".into());
    }
    let mut limits: Vec<[String; 4]> = current
        .split_ascii_whitespace()
        .collect::<Vec<_>>()
        .chunks(4)
        .map(|group| std::array::from_fn(|index| group.get(index).unwrap_or(&"0").to_string()))
        .collect();
    for group in words.chunks(4) {
        let class = match group[0].to_ascii_lowercase().as_str() {
            "normal" => "normal",
            "slave" | "replica" => "slave",
            "pubsub" => "pubsub",
            _ => return Err("Invalid client class specified in buffer limit configuration.".into()),
        };
        let hard = parse_memory(group[1].as_bytes());
        let soft = parse_memory(group[2].as_bytes());
        let seconds = crate::command::parse_i64(group[3].as_bytes()).filter(|n| *n >= 0);
        let (Some(hard), Some(soft), Some(seconds)) = (hard, soft, seconds) else {
            return Err(
                "Error in hard, soft or soft_seconds setting in buffer limit configuration.".into(),
            );
        };
        let entry = [class.to_string(), hard.to_string(), soft.to_string(), seconds.to_string()];
        match limits.iter_mut().find(|limit| limit[0] == class) {
            Some(limit) => *limit = entry,
            None => limits.push(entry),
        }
    }
    Ok(limits.iter().map(|limit| limit.join(" ")).collect::<Vec<_>>().join(" "))
}

fn normalize_oom_score_adj_values(text: &str) -> Result<String, String> {
    let words: Vec<&str> = text.split_ascii_whitespace().collect();
    if words.len() != 3 {
        return Err("wrong number of arguments".into());
    }
    let values = words
        .iter()
        .map(|word| {
            crate::command::parse_i64(word.as_bytes())
                .filter(|value| (-2000..=2000).contains(value))
        })
        .collect::<Option<Vec<i64>>>()
        .ok_or("Invalid oom-score-adj-values, elements must be between -2000 and 2000.")?;
    Ok(values.iter().map(i64::to_string).collect::<Vec<_>>().join(" "))
}

/// `notify-keyspace-events`: a set of class letters, reported as Redis orders them, with `A`
/// standing for all of the data-type classes.
fn normalize_keyspace_events(value: &[u8]) -> Result<String, String> {
    const VALID: &[u8] = b"Ag$lshzxeKEtmdn";
    if let Some(invalid) = value.iter().find(|byte| !VALID.contains(byte)) {
        let _ = invalid;
        return Err("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.".into());
    }
    let all =
        value.contains(&b'A') || EVENT_CLASSES_IN_ALL.bytes().all(|class| value.contains(&class));
    let mut normalized = String::new();
    if all {
        normalized.push('A');
    } else {
        normalized
            .extend(EVENT_CLASSES_IN_ALL.chars().filter(|class| value.contains(&(*class as u8))));
    }
    for class in ['K', 'E', 'm'] {
        if value.contains(&(class as u8)) {
            normalized.push(class);
        }
    }
    Ok(normalized)
}

fn normalize_percentiles(text: &str) -> Result<String, String> {
    let mut normalized = Vec::new();
    for word in text.split_ascii_whitespace() {
        let value = crate::command::parse_f64(word.as_bytes())
            .filter(|value| value.is_finite())
            .ok_or("Invalid latency-tracking-info-percentiles parameters")?;
        if !(0.0..=100.0).contains(&value) {
            return Err(
                "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]"
                    .into(),
            );
        }
        normalized.push(value.to_string());
    }
    Ok(normalized.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(name: &str, value: &str) -> Result<String, String> {
        let parameter = lookup(name.as_bytes()).expect("known parameter");
        normalize(parameter, value.as_bytes(), parameter.default)
    }

    #[test]
    fn the_table_has_redis_7_0_parameters_and_aliases() {
        assert_eq!(all_names().count(), 192);
        assert_eq!(lookup(b"SLAVEOF").unwrap().name, "replicaof");
        assert_eq!(lookup(b"maxclients").unwrap().default, "10000");
        assert!(lookup(b"nope").is_none());
    }

    #[test]
    fn values_are_validated_with_redis_reasons() {
        assert_eq!(set("hz", "abc"), Err("argument couldn't be parsed into an integer".into()));
        assert_eq!(set("hz", "+10"), Err("argument couldn't be parsed into an integer".into()));
        assert_eq!(
            set("maxclients", "0"),
            Err("argument must be between 1 and 4294967295 inclusive".into())
        );
        assert_eq!(set("activedefrag", "maybe"), Err("argument must be 'yes' or 'no'".into()));
        assert_eq!(set("activedefrag", "YES"), Ok("yes".into()));
        assert_eq!(set("maxmemory", "1.5gb"), Err("argument must be a memory value".into()));
        assert_eq!(
            set("proto-max-bulk-len", "10"),
            Err("argument must be between 1048576 and 9223372036854775807 inclusive".into())
        );
        assert_eq!(
            set("loglevel", "nope"),
            Err("argument(s) must be one of the following: debug, verbose, notice, warning".into())
        );
        assert_eq!(set("loglevel", "WARNING"), Ok("warning".into()));
        assert_eq!(set("save", "100"), Err("Invalid save parameters".into()));
        assert_eq!(
            set("maxmemory-clients", "101%"),
            Err("percentage argument must be less or equal to 100".into())
        );
    }

    #[test]
    fn memory_units_follow_redis() {
        assert_eq!(set("maxmemory", "1gb"), Ok("1073741824".into()));
        assert_eq!(set("maxmemory", "100K"), Ok("100000".into()));
        assert_eq!(parse_memory(b" 1"), None);
        assert_eq!(parse_memory(b"-1"), None);
        assert_eq!(parse_memory(b"18446744073709551615"), Some(u64::MAX));
    }

    #[test]
    fn compound_values_are_normalized() {
        assert_eq!(set("notify-keyspace-events", "KEA"), Ok("AKE".into()));
        assert_eq!(set("notify-keyspace-events", "Ex"), Ok("xE".into()));
        assert_eq!(
            set("notify-keyspace-events", "Q"),
            Err("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.".into())
        );
        assert_eq!(
            set("client-output-buffer-limit", "normal 1mb 2mb 3"),
            Ok("normal 1048576 2097152 3 slave 268435456 67108864 60 pubsub 33554432 8388608 60"
                .into())
        );
        assert_eq!(
            set("client-output-buffer-limit", "foo 1 2 3"),
            Err("Invalid client class specified in buffer limit configuration.".into())
        );
        assert_eq!(set("latency-tracking-info-percentiles", "50 99.5"), Ok("50 99.5".into()));
        assert_eq!(set("oom-score-adj-values", "1 2"), Err("wrong number of arguments".into()));
    }
}
