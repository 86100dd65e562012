//! Every option Concord has, in one struct with defaults, validated once at start-up.
//!
//! A command-line flag and a key in the TOML config file exist for every field; flags win over
//! the file, and the file wins over the defaults. Runtime changes through `CONFIG SET` go
//! through the server's parameter table, which reads its initial values from here.
//!
//! Invariant: every queue, buffer, batch and connection count in the process has its bound here,
//! so that a hostile or merely busy client meets a clear error instead of exhausting memory.

use serde::Deserialize;
use std::net::IpAddr;
use std::path::PathBuf;

use crate::error::{Error, Result};

/// When the node acknowledges a write relative to the log's fsync.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum FsyncMode {
    /// Acknowledge only after the entry is fsynced: no acknowledged write is ever lost.
    #[default]
    Always,
    /// Relaxed: acknowledge once written, fsync about every second. A crash of the machine
    /// (not just the process) may lose up to a second of acknowledged writes.
    EverySecond,
}

impl FsyncMode {
    /// The name in the config file, on the command line and in INFO.
    pub fn name(self) -> &'static str {
        match self {
            FsyncMode::Always => "always",
            FsyncMode::EverySecond => "every-second",
        }
    }

    /// The mode named `text` (`always`, `every-second`); `None` for any other word.
    pub fn parse(text: &str) -> Option<FsyncMode> {
        match text {
            "always" => Some(FsyncMode::Always),
            "every-second" => Some(FsyncMode::EverySecond),
            _ => None,
        }
    }
}

/// How the node's log lines are written to stderr.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum LogFormat {
    /// Lines for people: coloured only when stderr is a terminal.
    #[default]
    Text,
    /// One JSON object a line, for log shippers: `timestamp`, `level`, `message`, `target`
    /// and the event's fields.
    Json,
}

impl LogFormat {
    /// The format named `text`; `None` for any other word.
    pub fn parse(text: &str) -> Option<LogFormat> {
        match text {
            "text" => Some(LogFormat::Text),
            "json" => Some(LogFormat::Json),
            _ => None,
        }
    }
}

/// Redis's `tls-auth-clients`: whether a TLS client must present a certificate.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum TlsAuthClients {
    /// Clients present no certificate.
    No,
    /// Every client presents a certificate signed by the CA (Redis's default).
    #[default]
    Yes,
    /// A client may present none; one that presents a certificate must present a valid one.
    Optional,
}

impl TlsAuthClients {
    /// The name on the command line and in CONFIG GET.
    pub fn name(self) -> &'static str {
        match self {
            TlsAuthClients::No => "no",
            TlsAuthClients::Yes => "yes",
            TlsAuthClients::Optional => "optional",
        }
    }

    /// The value named `text` (`no`, `yes`, `optional`); `None` for any other word.
    pub fn parse(text: &str) -> Option<TlsAuthClients> {
        match text {
            "no" => Some(TlsAuthClients::No),
            "yes" => Some(TlsAuthClients::Yes),
            "optional" => Some(TlsAuthClients::Optional),
            _ => None,
        }
    }
}

/// The options of one Concord node. Field names match the TOML config keys.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    /// The address the Redis protocol listener binds to. Loopback by default, so that a fresh
    /// node is not reachable from other machines until the operator decides so.
    pub bind: IpAddr,
    /// The TCP port of the Redis protocol listener. 0 lets the system choose a free one; the
    /// node prints the port it got (see `server::LISTENING_LINE_PREFIX`). With a fixed
    /// `tls-port`, 0 means no plaintext listener at all, as in Redis.
    pub port: u16,
    /// The TCP port of the TLS listener for Redis clients (Redis `tls-port`), on `bind`.
    /// Absent: no TLS. 0 lets the system choose, as for `port` (in Redis, 0 turns TLS off).
    pub tls_port: Option<u16>,
    /// The server's certificate chain, PEM (Redis `tls-cert-file`).
    pub tls_cert_file: Option<PathBuf>,
    /// The server certificate's private key, unencrypted PEM (Redis `tls-key-file`).
    pub tls_key_file: Option<PathBuf>,
    /// The CA certificates that client certificates must chain to, PEM (Redis
    /// `tls-ca-cert-file`).
    pub tls_ca_cert_file: Option<PathBuf>,
    /// A directory of PEM CA certificates, read as `tls-ca-cert-file` (Redis `tls-ca-cert-dir`).
    pub tls_ca_cert_dir: Option<PathBuf>,
    /// Whether TLS clients must present a certificate: `yes` (the default, as in Redis), `no`,
    /// or `optional`.
    pub tls_auth_clients: TlsAuthClients,
    /// The TLS versions offered, `TLSv1.2` and/or `TLSv1.3` separated by spaces (Redis
    /// `tls-protocols`). Absent: both.
    pub tls_protocols: Option<String>,
    /// The TLS 1.3 suites offered, colon-separated OpenSSL names (Redis `tls-ciphersuites`).
    /// Absent: every one rustls has.
    pub tls_ciphersuites: Option<String>,
    /// The TLS 1.2 suites offered, colon-separated OpenSSL names (Redis `tls-ciphers`).
    /// Absent: every one rustls has.
    pub tls_ciphers: Option<String>,
    /// Where the node keeps its durable state (Raft log and snapshots). Created if missing;
    /// locked while the node runs, so two nodes never share one.
    pub data_dir: PathBuf,
    /// When a write is acknowledged: `always` (the default) after the log entry holding it
    /// was fsynced; `every-second`, a relaxed mode, before, with the log fsynced about once
    /// a second, so a crash may lose the last second of acknowledged writes.
    pub fsync: FsyncMode,
    /// The log size, in bytes appended since the last snapshot, at which a snapshot is taken
    /// and the log below it removed.
    pub snapshot_log_bytes: u64,
    /// The size at which a log segment file is closed and the next one started, in bytes.
    pub log_segment_bytes: u64,
    /// This node's id in its Raft cluster (a single node is cluster member 1).
    pub node_id: u64,
    /// The cluster this node belongs to, as the peer handshake checks it: a node of another
    /// cluster that dials this one (a stale peers list, a second test cluster) is refused.
    pub cluster_id: String,
    /// A file holding the cluster secret, which members prove to each other they know at
    /// every peer handshake (`raft::peer_auth`). Absent: peers are admitted by cluster id
    /// alone. Every member must have the same secret, or none.
    pub cluster_secret_file: Option<PathBuf>,
    /// Every member of the cluster, this node included, and the address this node dials each
    /// one at (`1=10.0.0.1:7379,2=10.0.0.2:7379,3=10.0.0.3:7379`). Empty: the node runs alone.
    /// A node dials a peer at the address given here even when the membership carries another,
    /// so that a proxy can sit on any link.
    #[serde(deserialize_with = "deserialize_peers")]
    pub peers: std::collections::BTreeMap<u64, String>,
    /// The TCP port of the peer listener, on `bind` (0: the system chooses, as for `port`).
    /// Absent: the port of this node's own entry in `peers`.
    pub peer_port: Option<u16>,
    /// Start without bootstrapping a cluster even on an empty data directory: the node waits
    /// to be added to an existing cluster (`CONCORD.ADDNODE` on its leader).
    pub join: bool,
    /// The longest frame accepted from a peer; must hold the largest entry (a client write up
    /// to `proto-max-bulk-len`).
    pub peer_frame_bytes_max: usize,
    /// How long a client request waits for a leader to exist (during an election, or while a
    /// majority is unreachable) before it gets an error saying it was not applied.
    pub leader_wait_ms: u64,
    /// How long a write proposed in a cluster waits for its commit before the client is told
    /// its outcome is unknown (the leader may have lost its majority).
    pub commit_wait_ms: u64,
    /// Raft election timeout bounds, in milliseconds (a follower that hears no leader for a
    /// random time between them starts an election).
    pub election_timeout_min_ms: u64,
    /// The upper bound of the election timeout, in milliseconds.
    pub election_timeout_max_ms: u64,
    /// How often a Raft leader sends heartbeats, in milliseconds.
    pub heartbeat_interval_ms: u64,
    /// The `tracing` filter for the node's own log (`error`, `warn`, `info`, `debug`, `trace`,
    /// or a full filter directive).
    pub log_level: String,
    /// How log lines look: `text` (the default) or `json`.
    pub log_format: LogFormat,
    /// The most client connections served at once (Redis `maxclients`). A connection over the
    /// bound is told `ERR max number of clients reached` and closed.
    pub max_clients: usize,
    /// The longest bulk string a request may carry (Redis `proto-max-bulk-len`).
    pub proto_max_bulk_len: usize,
    /// The password clients must give with AUTH (Redis `requirepass`); absent or empty means
    /// no authentication. CONFIG SET requirepass changes it at runtime.
    pub requirepass: Option<String>,
    /// Redis's `protected-mode`: while the default user needs no password, refuse clients
    /// connecting from other addresses than loopback. On by default, as in Redis; CONFIG SET
    /// protected-mode changes it at runtime.
    pub protected_mode: bool,
    /// The most arguments one request may carry.
    pub request_arguments_max: usize,
    /// The longest inline command line, and the longest length header of a multibulk request.
    pub inline_bytes_max: usize,
    /// The most bytes buffered for one client before a complete request arrives (Redis
    /// `client-query-buffer-limit`). A client over the bound is disconnected.
    pub client_query_buffer_limit: usize,
    /// The most write requests that may wait for the commit pipeline at once; writers beyond it
    /// wait for room (back-pressure), they are never dropped.
    pub proposal_queue_max: usize,
    /// The most proposals batched into one log entry; a proposal is one connection's run of
    /// pipelined writes, itself bounded by the query buffer.
    pub entry_proposals_max: usize,
    /// The most expired keys one active-expiry cycle proposes to delete, per database.
    pub active_expire_keys_per_cycle: usize,
    /// How often the active-expiry cycle runs, in milliseconds (Redis `hz` 10 is 100 ms).
    pub active_expire_interval_ms: u64,
    /// The most commands one MULTI may queue. Redis has no such bound; here a transaction is
    /// one log entry, and both the queue and the entry must stay bounded. The command that
    /// crosses it gets an error, and EXEC fails with EXECABORT; the connection goes on.
    pub transaction_commands_max: usize,
    /// The most argument bytes one MULTI may queue, for the same reason; the same errors.
    pub transaction_bytes_max: usize,
    /// The most messages queued for one subscriber that has not read them yet. A subscriber
    /// that falls this far behind is disconnected (Redis's `client-output-buffer-limit
    /// pubsub`), so that a slow reader never holds up apply or other clients and never
    /// silently misses a message.
    pub subscriber_queue_messages_max: usize,
    /// The most channel and pattern subscriptions one connection may hold; SUBSCRIBE beyond
    /// it gets an error.
    pub subscriptions_max: usize,
    /// The file these options were read from, if any (INFO `config_file`, CONFIG REWRITE).
    /// Not a key of the file itself.
    #[serde(skip)]
    pub config_file: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            bind: IpAddr::from([127, 0, 0, 1]),
            port: 6379,
            tls_port: None,
            tls_cert_file: None,
            tls_key_file: None,
            tls_ca_cert_file: None,
            tls_ca_cert_dir: None,
            tls_auth_clients: TlsAuthClients::Yes,
            tls_protocols: None,
            tls_ciphersuites: None,
            tls_ciphers: None,
            data_dir: PathBuf::from("concord-data"),
            fsync: FsyncMode::Always,
            snapshot_log_bytes: 256 * 1024 * 1024,
            log_segment_bytes: 64 * 1024 * 1024,
            node_id: 1,
            cluster_id: "concord".to_string(),
            cluster_secret_file: None,
            peers: std::collections::BTreeMap::new(),
            peer_port: None,
            join: false,
            peer_frame_bytes_max: 1024 * 1024 * 1024,
            leader_wait_ms: 5_000,
            commit_wait_ms: 10_000,
            // openraft cuts an append that takes longer than a heartbeat interval, and a
            // follower's append includes its fsync: 100 ms leaves room for a busy disk, and
            // an election after three missed heartbeats keeps failover well under a second.
            election_timeout_min_ms: 300,
            election_timeout_max_ms: 600,
            heartbeat_interval_ms: 100,
            log_level: "info".to_string(),
            log_format: LogFormat::Text,
            max_clients: 10_000,
            proto_max_bulk_len: 512 * 1024 * 1024,
            requirepass: None,
            protected_mode: true,
            request_arguments_max: 1024 * 1024,
            inline_bytes_max: 64 * 1024,
            client_query_buffer_limit: 1024 * 1024 * 1024,
            proposal_queue_max: 65_536,
            entry_proposals_max: 4_096,
            active_expire_keys_per_cycle: 200,
            active_expire_interval_ms: 100,
            transaction_commands_max: 100_000,
            transaction_bytes_max: 256 * 1024 * 1024,
            subscriber_queue_messages_max: 65_536,
            subscriptions_max: 100_000,
            config_file: None,
        }
    }
}

impl Config {
    /// Reads a TOML config file; keys absent from the file keep their defaults.
    pub fn from_file(path: &std::path::Path) -> Result<Config> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            context: format!("reading config file {}", path.display()),
            source,
        })?;
        let mut config: Config = toml::from_str(&text)
            .map_err(|error| Error::Config(format!("{}: {error}", path.display())))?;
        config.config_file = Some(path.to_path_buf());
        Ok(config)
    }

    /// Checks the relations between fields that the types cannot express. Called once, before
    /// anything starts, so that a bad option is reported before a port is bound.
    pub fn validate(&self) -> Result<()> {
        let positive = [
            ("max-clients", self.max_clients),
            ("proto-max-bulk-len", self.proto_max_bulk_len),
            ("request-arguments-max", self.request_arguments_max),
            ("inline-bytes-max", self.inline_bytes_max),
            ("client-query-buffer-limit", self.client_query_buffer_limit),
            ("proposal-queue-max", self.proposal_queue_max),
            ("entry-proposals-max", self.entry_proposals_max),
            ("active-expire-keys-per-cycle", self.active_expire_keys_per_cycle),
            ("transaction-commands-max", self.transaction_commands_max),
            ("transaction-bytes-max", self.transaction_bytes_max),
            ("subscriber-queue-messages-max", self.subscriber_queue_messages_max),
            ("subscriptions-max", self.subscriptions_max),
        ];
        for (name, value) in positive {
            if value == 0 {
                return Err(Error::Config(format!("{name} must be at least 1")));
            }
        }
        if self.snapshot_log_bytes < 1024 * 1024 {
            return Err(Error::Config("snapshot-log-bytes must be at least 1048576 (1mb)".into()));
        }
        if self.log_segment_bytes < 4096 {
            return Err(Error::Config("log-segment-bytes must be at least 4096".into()));
        }
        if self.heartbeat_interval_ms == 0
            || self.election_timeout_min_ms <= self.heartbeat_interval_ms
            || self.election_timeout_max_ms <= self.election_timeout_min_ms
        {
            return Err(Error::Config(
                "raft timeouts must satisfy 0 < heartbeat-interval-ms < election-timeout-min-ms \
                 < election-timeout-max-ms"
                    .into(),
            ));
        }
        if !self.peers.is_empty() && !self.peers.contains_key(&self.node_id) {
            return Err(Error::Config(format!(
                "peers must name this node too (node-id {}), with the address others reach it at",
                self.node_id
            )));
        }
        if self.peer_frame_bytes_max < self.proto_max_bulk_len.saturating_add(64 * 1024) {
            return Err(Error::Config(
                "peer-frame-bytes-max must exceed proto-max-bulk-len by at least 64kb, so that \
                 the largest write can be replicated"
                    .into(),
            ));
        }
        if self.peer_frame_bytes_max > u32::MAX as usize {
            return Err(Error::Config("peer-frame-bytes-max must be below 4gb".into()));
        }
        if self.cluster_id.is_empty() || self.cluster_id.len() > 256 {
            return Err(Error::Config("cluster-id must be 1 to 256 bytes long".into()));
        }
        if self.leader_wait_ms == 0 || self.commit_wait_ms == 0 {
            return Err(Error::Config(
                "leader-wait-ms and commit-wait-ms must be at least 1".into(),
            ));
        }
        if self.active_expire_interval_ms == 0 {
            return Err(Error::Config("active-expire-interval-ms must be at least 1".into()));
        }
        // Redis refuses these two below 1 MiB; so does CONFIG SET here, so start-up agrees.
        for (name, value) in [
            ("proto-max-bulk-len", self.proto_max_bulk_len),
            ("client-query-buffer-limit", self.client_query_buffer_limit),
        ] {
            if value < 1024 * 1024 {
                return Err(Error::Config(format!("{name} must be at least 1048576 (1mb)")));
            }
        }
        self.validate_tls()?;
        if self.client_query_buffer_limit < self.inline_bytes_max {
            return Err(Error::Config(
                "client-query-buffer-limit must be at least inline-bytes-max".into(),
            ));
        }
        Ok(())
    }

    /// The TLS options need a TLS port, and a TLS port needs a certificate and its key. (The
    /// files themselves are read when the listeners are bound.)
    fn validate_tls(&self) -> Result<()> {
        let files = [
            ("tls-cert-file", &self.tls_cert_file),
            ("tls-key-file", &self.tls_key_file),
            ("tls-ca-cert-file", &self.tls_ca_cert_file),
            ("tls-ca-cert-dir", &self.tls_ca_cert_dir),
        ];
        if self.tls_port.is_none() {
            // Redis keeps them for its outgoing TLS; Concord has none, so a certificate given
            // without a port is most likely a forgotten --tls-port, and would serve nothing.
            if let Some((name, _)) = files.iter().find(|(_, file)| file.is_some()) {
                return Err(Error::Config(format!(
                    "{name} is given but tls-port is not: add --tls-port to serve TLS clients"
                )));
            }
            return Ok(());
        }
        if self.tls_cert_file.is_none() || self.tls_key_file.is_none() {
            return Err(Error::Config("tls-port needs tls-cert-file and tls-key-file".into()));
        }
        if self.tls_auth_clients != TlsAuthClients::No
            && self.tls_ca_cert_file.is_none()
            && self.tls_ca_cert_dir.is_none()
        {
            return Err(Error::Config(
                "tls-auth-clients is yes (the default) or optional, so tls-ca-cert-file or \
                 tls-ca-cert-dir must name the CA of client certificates (or set \
                 tls-auth-clients no)"
                    .into(),
            ));
        }
        Ok(())
    }

    /// Whether the node listens for plaintext clients: always, except with `port` 0 beside a
    /// fixed `tls-port`, which is Redis's way to serve TLS only. (`port` 0 otherwise lets the
    /// system choose, as `tls-port` 0 does.)
    pub fn serves_plaintext(&self) -> bool {
        !(self.port == 0 && self.tls_port.is_some_and(|port| port != 0))
    }

    /// Whether the configuration gives this node peers to replicate to: a peers list that
    /// names other members, or `--join`.
    pub fn lists_peers(&self) -> bool {
        self.peers.len() > 1 || self.join
    }

    /// Whether this node talks to peers: it has a peers list (perhaps only itself, ready to
    /// grow) or joins a cluster. A node with neither runs alone and opens no peer port.
    pub fn has_peer_port(&self) -> bool {
        !self.peers.is_empty() || self.join
    }

    /// The port the peer listener binds: `peer-port`, or the port of this node's own entry in
    /// `peers`.
    pub fn peer_listen_port(&self) -> Result<u16> {
        if let Some(port) = self.peer_port {
            return Ok(port);
        }
        let own = self.peers.get(&self.node_id).ok_or_else(|| {
            Error::Config("a clustered node needs peer-port or its own entry in peers".into())
        })?;
        own.rsplit_once(':').and_then(|(_, port)| port.parse().ok()).ok_or_else(|| {
            Error::Config(format!("peers: cannot read a port in this node's address {own:?}"))
        })
    }

    /// The request-decoding limits the RESP decoder enforces at start-up (CONFIG SET changes
    /// them later through the server's runtime settings).
    pub fn resp_limits(&self) -> crate::resp::Limits {
        crate::resp::Limits {
            bulk_bytes_max: self.proto_max_bulk_len,
            arguments_max: self.request_arguments_max,
            inline_bytes_max: self.inline_bytes_max,
        }
    }
}

/// Parses a peers list: `ID=HOST:PORT` entries separated by commas.
pub fn parse_peers(text: &str) -> Result<std::collections::BTreeMap<u64, String>> {
    let mut peers = std::collections::BTreeMap::new();
    for entry in text.split(',').map(str::trim).filter(|entry| !entry.is_empty()) {
        let bad = || {
            Error::Config(format!(
                "peers: {entry:?} is not ID=HOST:PORT (for example 1=127.0.0.1:7379)"
            ))
        };
        let (id, address) = entry.split_once('=').ok_or_else(bad)?;
        let id: u64 = id.trim().parse().map_err(|_| bad())?;
        let address = address.trim();
        let port_ok = address.rsplit_once(':').is_some_and(|(host, port)| {
            !host.is_empty() && port.parse::<u16>().is_ok_and(|port| port != 0)
        });
        if !port_ok {
            return Err(bad());
        }
        if peers.insert(id, address.to_string()).is_some() {
            return Err(Error::Config(format!("peers: node {id} is listed twice")));
        }
    }
    Ok(peers)
}

fn deserialize_peers<'de, D>(
    deserializer: D,
) -> std::result::Result<std::collections::BTreeMap<u64, String>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let text = String::deserialize(deserializer)?;
    parse_peers(&text).map_err(serde::de::Error::custom)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_match_redis_limits() {
        let config = Config::default();
        config.validate().unwrap();
        assert_eq!(config.port, 6379);
        assert_eq!(config.max_clients, 10_000);
        assert_eq!(config.proto_max_bulk_len, 512 * 1024 * 1024);
        assert_eq!(config.client_query_buffer_limit, 1024 * 1024 * 1024);
    }

    #[test]
    fn file_keys_override_defaults_and_unknown_keys_are_rejected() {
        let config: Config = toml::from_str("port = 7000\nmax-clients = 5\n").unwrap();
        assert_eq!(config.port, 7000);
        assert_eq!(config.max_clients, 5);
        assert_eq!(config.bind, Config::default().bind);
        assert!(toml::from_str::<Config>("prot = 7000\n").is_err());
        let relaxed: Config = toml::from_str("fsync = \"every-second\"\n").unwrap();
        assert_eq!(relaxed.fsync, FsyncMode::EverySecond);
        assert_eq!(Config::default().fsync, FsyncMode::Always);
        let json: Config = toml::from_str("log-format = \"json\"\n").unwrap();
        assert_eq!(json.log_format, LogFormat::Json);
        assert!(toml::from_str::<Config>("log-format = \"xml\"\n").is_err());
    }

    #[test]
    fn peers_lists_parse_and_bad_entries_are_named() {
        let peers = parse_peers("1=127.0.0.1:7001, 2=localhost:7002,3=[::1]:7003").unwrap();
        assert_eq!(peers.len(), 3);
        assert_eq!(peers[&2], "localhost:7002");
        for bad in ["1=127.0.0.1", "x=1.2.3.4:5", "1=:7001", "1=a:0", "1=a:1,1=b:2"] {
            assert!(parse_peers(bad).is_err(), "{bad:?} was accepted");
        }
        let config: Config = toml::from_str("node-id = 2\npeers = \"1=a:1,2=b:2\"\n").unwrap();
        config.validate().unwrap();
        assert_eq!(config.peer_listen_port().unwrap(), 2);
        let stranger = Config { node_id: 9, ..config };
        assert!(stranger.validate().unwrap_err().to_string().contains("name this node"));
    }

    #[test]
    fn tls_options_need_a_port_a_certificate_and_a_ca_for_client_certificates() {
        let certificate = || Some(PathBuf::from("cert.pem"));
        let forgotten_port = Config { tls_cert_file: certificate(), ..Config::default() };
        assert!(forgotten_port.validate().unwrap_err().to_string().contains("add --tls-port"));
        let no_key =
            Config { tls_port: Some(6380), tls_cert_file: certificate(), ..Config::default() };
        assert!(no_key.validate().unwrap_err().to_string().contains("tls-key-file"));
        let no_ca = Config { tls_key_file: certificate(), ..no_key };
        assert!(no_ca.validate().unwrap_err().to_string().contains("tls-ca-cert-file"));
        let without_client_certificates =
            Config { tls_auth_clients: TlsAuthClients::No, ..no_ca.clone() };
        without_client_certificates.validate().unwrap();
        let with_ca = Config { tls_ca_cert_file: certificate(), ..no_ca };
        with_ca.validate().unwrap();
    }

    #[test]
    fn port_0_beside_a_fixed_tls_port_turns_plaintext_off_as_in_redis() {
        let tls_only = Config { port: 0, tls_port: Some(6380), ..Config::default() };
        assert!(!tls_only.serves_plaintext());
        let chosen_ports = Config { port: 0, tls_port: Some(0), ..Config::default() };
        assert!(chosen_ports.serves_plaintext(), "port 0 beside tls-port 0: the system chooses");
        assert!(Config { port: 0, ..Config::default() }.serves_plaintext());
    }

    #[test]
    fn zero_bounds_are_rejected() {
        let config = Config { max_clients: 0, ..Config::default() };
        assert!(config.validate().unwrap_err().to_string().contains("max-clients"));
    }
}
