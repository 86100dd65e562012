//! What each Redis parameter CONFIG SET may change does in Concord: no parameter is silently
//! ignored.
//!
//! - [`Effect::Honoured`]: it changes what Concord does (`settings` applies it).
//! - [`Effect::NoEquivalent`]: it tunes a Redis mechanism Concord does not have (RDB and AOF
//!   files, Redis's replication and cluster bus, defragmentation, `hz`, ...). It stays
//!   accepted for the tools and test suites that set it, but never silently: CONFIG SET logs
//!   once per parameter at WARN what Concord does instead, and INFO lists the parameters set
//!   so (`concord_ignored_config`).
//! - [`Effect::NotYet`]: it controls something users rely on (memory, eviction,
//!   notifications, timeouts, limits, security, encodings) that Concord does not do yet.
//!   CONFIG SET takes only the one value with which Redis behaves as Concord does (the
//!   feature off, or Redis's default where Concord follows it) and refuses every other with
//!   an error naming the parameter, so no one believes a limit holds that does not.
//!
//! Parameters CONFIG SET cannot change (immutable or protected, as in Redis) are not
//! classified: they report Redis's default or Concord's own value (`port`, `dir`, ...).
//! docs/configuration.md lists every class, and a test checks it against [`effect`].

/// What setting a parameter does in Concord.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    /// It takes effect as in Redis.
    Honoured,
    /// Redis's mechanism does not exist in Concord; `instead` says what Concord does.
    NoEquivalent {
        /// What Concord does instead, for the WARN line and the docs.
        instead: &'static str,
    },
    /// Not done yet: only `accepted` may be set (compared after normalization).
    NotYet {
        /// The one value CONFIG SET takes.
        accepted: &'static str,
    },
}

/// What Concord has instead of Redis's persistence files.
const PERSISTENCE: &str = "every write is in Concord's write-ahead log, fsynced as --fsync \
                           says, and snapshots are taken by log size (snapshot-log-bytes)";
const REPLICATION: &str = "members replicate through Raft; a write is acknowledged once a \
                           majority holds it (see CONCORD.STATUS)";
const CLUSTER: &str = "Concord is not Redis Cluster: every member holds every key";
const ALLOCATOR: &str = "Concord's memory is managed by jemalloc and persistent maps; there \
                         is nothing to defragment or free lazily";
const SCHEDULING: &str = "Concord runs on tokio's scheduler; active expiry runs every \
                          active-expire-interval-ms";
const PROCESS: &str = "Concord's process and logs are set by its own options (--log-level, \
                       --log-format)";
const OUTGOING_TLS: &str = "Concord opens no Redis-protocol connections of its own (no Redis \
                            replication or cluster bus); members talk on the peer port";
const NO_DH: &str = "rustls offers only ECDHE key exchange, which needs no DH parameters";
const NO_MAXMEMORY: &str = "it matters only with maxmemory, which Concord does not enforce \
                            yet (maxmemory stays 0)";
const NO_INTROSPECTION: &str = "LATENCY and INFO latencystats are not implemented yet";
const NO_ACL: &str = "ACL LOG keeps 128 entries and a new user starts with no channels \
     (resetchannels), Redis 7.0's defaults";
const NO_TRACKING: &str = "CLIENT TRACKING is not implemented yet";
const SHUTDOWN: &str = "Concord stops cleanly on SIGINT and SIGTERM, always";

/// What CONFIG SET of `name` (a canonical, settable parameter) does.
pub fn effect(name: &str) -> Effect {
    decided(name).unwrap_or_else(|| not_yet_unknown(name))
}

/// The decision made for `name`, if one was.
fn decided(name: &str) -> Option<Effect> {
    let instead = |instead| Effect::NoEquivalent { instead };
    let not_yet = |accepted| Effect::NotYet { accepted };
    match name {
        "maxclients"
        | "proto-max-bulk-len"
        | "client-query-buffer-limit"
        | "requirepass"
        | "protected-mode"
        | "timeout"
        | "tcp-keepalive"
        | "slowlog-log-slower-than"
        | "slowlog-max-len"
        | "tls-cert-file"
        | "tls-key-file"
        | "tls-ca-cert-file"
        | "tls-ca-cert-dir"
        | "tls-auth-clients"
        | "tls-protocols"
        | "tls-ciphersuites"
        | "tls-ciphers"
        | "tls-prefer-server-ciphers"
        | "tls-session-caching"
        | "tls-session-cache-size" => Some(Effect::Honoured),
        "maxmemory" | "maxmemory-clients" | "latency-monitor-threshold" => Some(not_yet("0")),
        // rustls reads only unencrypted keys, and sets no lifetime on cached sessions.
        "tls-key-file-pass" => Some(not_yet("")),
        "tls-session-cache-timeout" => Some(not_yet("300")),
        "notify-keyspace-events" => Some(not_yet("")),
        "client-output-buffer-limit" => {
            Some(not_yet("normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"))
        }
        "busy-reply-threshold" => Some(not_yet("5000")),
        // Encodings switch at Redis's default thresholds, and every replica must switch at
        // the same point, so a changed threshold would have to go through the log.
        "hash-max-listpack-entries" | "set-max-intset-entries" => Some(not_yet("512")),
        "zset-max-listpack-entries" => Some(not_yet("128")),
        "hash-max-listpack-value" | "zset-max-listpack-value" => Some(not_yet("64")),
        "list-max-listpack-size" => Some(not_yet("-2")),
        "list-compress-depth" => Some(not_yet("0")),
        "stream-node-max-bytes" => Some(not_yet("4096")),
        "stream-node-max-entries" => Some(not_yet("100")),
        "hll-sparse-max-bytes" => Some(not_yet("3000")),
        _ => no_equivalent(name).map(instead),
    }
}

/// A parameter missing from [`effect`]'s table: refused but for its default, so that a
/// parameter added to the table of parameters without a decision is never silently ignored.
fn not_yet_unknown(name: &str) -> Effect {
    let default = super::parameters::lookup(name.as_bytes()).map_or("", |found| found.default);
    Effect::NotYet { accepted: default }
}

/// What Concord does instead of the Redis mechanism `name` tunes, if it is one of those.
fn no_equivalent(name: &str) -> Option<&'static str> {
    let instead = match name {
        "save"
        | "appendonly"
        | "appendfsync"
        | "no-appendfsync-on-rewrite"
        | "auto-aof-rewrite-min-size"
        | "auto-aof-rewrite-percentage"
        | "aof-disable-auto-gc"
        | "aof-load-truncated"
        | "aof-rewrite-incremental-fsync"
        | "aof-timestamp-enabled"
        | "aof-use-rdb-preamble"
        | "rdbcompression"
        | "rdb-del-sync-files"
        | "rdb-save-incremental-fsync"
        | "stop-writes-on-bgsave-error"
        | "sanitize-dump-payload" => PERSISTENCE,
        "masterauth"
        | "masteruser"
        | "min-replicas-max-lag"
        | "min-replicas-to-write"
        | "propagation-error-behavior"
        | "replica-announce-ip"
        | "replica-announce-port"
        | "replica-announced"
        | "replica-ignore-disk-write-errors"
        | "replica-ignore-maxmemory"
        | "replica-lazy-flush"
        | "replica-priority"
        | "replica-read-only"
        | "replica-serve-stale-data" => REPLICATION,
        name if name.starts_with("repl-") => REPLICATION,
        name if name.starts_with("cluster-") => CLUSTER,
        "activedefrag" | "activerehashing" | "jemalloc-bg-thread" => ALLOCATOR,
        name if name.starts_with("active-defrag-") || name.starts_with("lazyfree-") => ALLOCATOR,
        "hz" | "dynamic-hz" | "active-expire-effort" => SCHEDULING,
        "loglevel"
        | "oom-score-adj"
        | "oom-score-adj-values"
        | "proc-title-template"
        | "crash-log-enabled"
        | "crash-memcheck-enabled"
        | "bind-source-addr"
        | "ignore-warnings" => PROCESS,
        "shutdown-on-sigint" | "shutdown-on-sigterm" | "shutdown-timeout" => SHUTDOWN,
        "tls-client-cert-file"
        | "tls-client-key-file"
        | "tls-client-key-file-pass"
        | "tls-cluster"
        | "tls-replication" => OUTGOING_TLS,
        "tls-dh-params-file" => NO_DH,
        "maxmemory-policy"
        | "maxmemory-samples"
        | "maxmemory-eviction-tenacity"
        | "lfu-log-factor"
        | "lfu-decay-time" => NO_MAXMEMORY,
        "latency-tracking" | "latency-tracking-info-percentiles" => NO_INTROSPECTION,
        "acl-pubsub-default" | "acllog-max-len" => NO_ACL,
        "tracking-table-max-keys" => NO_TRACKING,
        _ => return None,
    };
    Some(instead)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::parameters::{Mutability, PARAMETERS};

    /// Every settable parameter has a decision: none falls through to the fallback.
    #[test]
    fn every_settable_parameter_is_decided() {
        for parameter in PARAMETERS.iter().filter(|p| p.mutability == Mutability::Mutable) {
            assert!(decided(parameter.name).is_some(), "{} has no effect class", parameter.name);
        }
    }

    /// The value a not-yet parameter accepts is valid for it, and is its default.
    #[test]
    fn a_not_yet_parameter_accepts_a_value_of_its_own_type() {
        for parameter in PARAMETERS.iter().filter(|p| p.mutability == Mutability::Mutable) {
            if let Effect::NotYet { accepted } = effect(parameter.name) {
                let normalized = crate::server::parameters::normalize(
                    parameter,
                    accepted.as_bytes(),
                    parameter.default,
                );
                assert_eq!(normalized.as_deref(), Ok(accepted), "{}", parameter.name);
                assert_eq!(accepted, parameter.default, "{}", parameter.name);
            }
        }
    }

    /// The thresholds CONFIG SET takes only at their defaults are the ones the store uses.
    #[test]
    fn the_fixed_encoding_thresholds_are_the_store_s() {
        let accepted = |name| match effect(name) {
            Effect::NotYet { accepted } => accepted.parse::<usize>().unwrap(),
            other => panic!("{name} is {other:?}"),
        };
        use crate::store;
        assert_eq!(accepted("hash-max-listpack-entries"), store::LISTPACK_ENTRIES_MAX);
        assert_eq!(accepted("hash-max-listpack-value"), store::LISTPACK_VALUE_BYTES_MAX);
        assert_eq!(accepted("set-max-intset-entries"), store::INTSET_ENTRIES_MAX);
        assert_eq!(accepted("zset-max-listpack-entries"), store::ZSET_LISTPACK_ENTRIES_MAX);
        assert_eq!(accepted("zset-max-listpack-value"), store::ZSET_LISTPACK_VALUE_BYTES_MAX);
    }
}
