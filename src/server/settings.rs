//! The settings a running node can change: CONFIG SET's store, and the values connections read
//! on every request.
//!
//! `Config` is read once at start-up. What CONFIG SET may change afterwards lives here: the
//! honoured limits as atomics that connections load without a lock (`maxclients`,
//! `proto-max-bulk-len`, `client-query-buffer-limit`, `timeout`, `tcp-keepalive`), the
//! password, the TLS configuration new connections are accepted with, and the text of every
//! Redis parameter for CONFIG GET. What CONFIG SET of each
//! parameter does is decided in `parameter_effects`: honoured, refused but for one value, or
//! accepted with a warning and listed in INFO.
//!
//! Invariants:
//! - CONFIG SET is atomic: every pair is validated before any value changes, under one lock,
//!   so a failed CONFIG SET changes nothing and two concurrent ones do not interleave. That
//!   includes the TLS configuration: a change to a `tls-*` parameter builds the new one
//!   before anything changes, and a failure to build it fails the CONFIG SET.
//! - A change to a decoder limit bumps `limits_generation`; a connection compares it before
//!   decoding and rebuilds its decoder, so new requests are held to the new limits.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwapOption;
use bytes::Bytes;
use parking_lot::Mutex;
use tokio_rustls::rustls::ServerConfig;

use super::parameter_effects::{effect, Effect};
use super::parameters::{self, Mutability, Parameter};
use crate::command::CommandError;
use crate::config::Config;
use crate::resp::Limits;

/// The runtime-changeable settings of one node.
#[derive(Debug)]
pub struct RuntimeSettings {
    max_clients: AtomicUsize,
    protected_mode: AtomicBool,
    proto_max_bulk_len: AtomicUsize,
    client_query_buffer_limit: AtomicUsize,
    limits_generation: AtomicU64,
    /// `timeout`, in seconds; 0 for none.
    idle_timeout_seconds: AtomicU64,
    /// `tcp-keepalive`, in seconds; 0 for none.
    tcp_keepalive_seconds: AtomicU64,
    /// `slowlog-log-slower-than`, in microseconds; negative turns the slow log off.
    slowlog_slower_than_us: AtomicI64,
    /// `slowlog-max-len`: the most entries the slow log keeps.
    slowlog_max_len: AtomicUsize,
    /// The parameters with no equivalent in Concord that CONFIG SET was given.
    ignored_set: Mutex<BTreeSet<&'static str>>,
    /// A `requirepass` (from start-up or CONFIG SET) not yet applied through the log as the
    /// `default` user's password: `Some(None)` for an empty one (`nopass`). Until it is
    /// applied, this node judges the default user's password by it, so that the password holds
    /// here from the moment it is set (see `server::requirepass`).
    pending_password: Mutex<Option<Option<Bytes>>>,
    /// Wakes the task that proposes a pending `requirepass`.
    pub password_changed: tokio::sync::Notify,
    /// Fixed at start-up (Concord options without a Redis parameter).
    request_arguments_max: usize,
    inline_bytes_max: usize,
    /// Every canonical parameter's current value, as CONFIG GET reports it.
    values: Mutex<BTreeMap<&'static str, String>>,
    /// Whether the node has a TLS listener (fixed at start-up).
    tls_enabled: bool,
    /// The TLS configuration new TLS connections are accepted with, once built.
    tls: ArcSwapOption<ServerConfig>,
}

impl RuntimeSettings {
    /// The settings at start-up: Redis's defaults, overridden by what reflects this node.
    pub fn new(config: &Config) -> RuntimeSettings {
        let mut values: BTreeMap<&'static str, String> = parameters::PARAMETERS
            .iter()
            .map(|parameter| (parameter.name, parameter.default.to_string()))
            .collect();
        let data_dir = std::fs::canonicalize(&config.data_dir).unwrap_or(config.data_dir.clone());
        let overrides = [
            ("port", config.port.to_string()),
            ("bind", config.bind.to_string()),
            ("dir", data_dir.display().to_string()),
            ("databases", crate::command::DATABASES.to_string()),
            ("maxclients", config.max_clients.to_string()),
            ("proto-max-bulk-len", config.proto_max_bulk_len.to_string()),
            ("client-query-buffer-limit", config.client_query_buffer_limit.to_string()),
            ("requirepass", config.requirepass.clone().unwrap_or_default()),
            ("loglevel", "notice".to_string()),
            ("protected-mode", if config.protected_mode { "yes" } else { "no" }.to_string()),
        ];
        for (name, value) in overrides.into_iter().chain(super::tls::parameter_values(config)) {
            values.insert(name, value);
        }
        let password = config.requirepass.clone().filter(|password| !password.is_empty());
        RuntimeSettings {
            max_clients: AtomicUsize::new(config.max_clients),
            protected_mode: AtomicBool::new(config.protected_mode),
            proto_max_bulk_len: AtomicUsize::new(config.proto_max_bulk_len),
            client_query_buffer_limit: AtomicUsize::new(config.client_query_buffer_limit),
            limits_generation: AtomicU64::new(0),
            idle_timeout_seconds: AtomicU64::new(number_of(&values, "timeout")),
            tcp_keepalive_seconds: AtomicU64::new(number_of(&values, "tcp-keepalive")),
            slowlog_slower_than_us: AtomicI64::new(signed_number_of(
                &values,
                "slowlog-log-slower-than",
            )),
            slowlog_max_len: AtomicUsize::new(number_of(&values, "slowlog-max-len") as usize),
            ignored_set: Mutex::new(BTreeSet::new()),
            pending_password: Mutex::new(
                config.requirepass.is_some().then(|| password.map(Bytes::from)),
            ),
            password_changed: tokio::sync::Notify::new(),
            request_arguments_max: config.request_arguments_max,
            inline_bytes_max: config.inline_bytes_max,
            values: Mutex::new(values),
            tls_enabled: config.tls_port.is_some(),
            tls: ArcSwapOption::empty(),
        }
    }

    /// Builds the TLS configuration from the start-up values, for a node with a TLS port; the
    /// error says what is wrong.
    pub fn start_tls(&self) -> Result<(), String> {
        if self.tls_enabled {
            let values = self.values.lock();
            let config = super::tls::server_config(|name| value_of(&values, name))?;
            self.tls.store(Some(Arc::new(config)));
        }
        Ok(())
    }

    /// What new TLS connections are accepted with; `None` without a TLS port.
    pub fn tls_config(&self) -> Option<Arc<ServerConfig>> {
        self.tls.load_full()
    }

    /// The current `protected-mode`: whether clients from other addresses than loopback are
    /// refused while the default user needs no password (see `server::protected_mode`).
    pub fn protected_mode(&self) -> bool {
        self.protected_mode.load(Ordering::Relaxed)
    }

    /// The current `maxclients`: the most connections served at once.
    pub fn max_clients(&self) -> usize {
        self.max_clients.load(Ordering::Relaxed)
    }

    /// The current `client-query-buffer-limit`: the most bytes buffered for one client before a whole request arrives.
    pub fn client_query_buffer_limit(&self) -> usize {
        self.client_query_buffer_limit.load(Ordering::Relaxed)
    }

    /// `timeout`: how long a client may stay idle before it is closed (`None`: forever).
    pub fn idle_timeout(&self) -> Option<Duration> {
        let seconds = self.idle_timeout_seconds.load(Ordering::Relaxed);
        (seconds > 0).then(|| Duration::from_secs(seconds))
    }

    /// `tcp-keepalive`: the idle time before TCP keepalive probes start (`None`: off).
    pub fn tcp_keepalive(&self) -> Option<Duration> {
        let seconds = self.tcp_keepalive_seconds.load(Ordering::Relaxed);
        (seconds > 0).then(|| Duration::from_secs(seconds))
    }

    /// `slowlog-log-slower-than`: the shortest time a command takes to enter the slow log;
    /// `None` when the log is off (a negative value).
    pub fn slowlog_threshold(&self) -> Option<Duration> {
        let microseconds = self.slowlog_slower_than_us.load(Ordering::Relaxed);
        u64::try_from(microseconds).ok().map(Duration::from_micros)
    }

    /// `slowlog-max-len`: the most entries the slow log keeps.
    pub fn slowlog_max_len(&self) -> usize {
        self.slowlog_max_len.load(Ordering::Relaxed)
    }

    /// The parameters with no effect in Concord that CONFIG SET was given, by name (INFO's
    /// `concord_ignored_config`).
    pub fn ignored_set(&self) -> Vec<&'static str> {
        self.ignored_set.lock().iter().copied().collect()
    }

    /// Changes whenever a limit the decoder enforces changes.
    pub fn limits_generation(&self) -> u64 {
        self.limits_generation.load(Ordering::Acquire)
    }

    /// The limits new requests are decoded with.
    pub fn resp_limits(&self) -> Limits {
        Limits {
            bulk_bytes_max: self.proto_max_bulk_len.load(Ordering::Relaxed),
            arguments_max: self.request_arguments_max,
            inline_bytes_max: self.inline_bytes_max,
        }
    }

    /// The `requirepass` not yet applied as the default user's password, if any
    /// (`Some(None)`: an empty one).
    pub fn pending_password(&self) -> Option<Option<Bytes>> {
        self.pending_password.lock().clone()
    }

    /// `requirepass` was applied through the log: unless it changed again meanwhile, the
    /// replicated default user decides from now on.
    pub fn password_applied(&self, applied: &Option<Bytes>) {
        let mut pending = self.pending_password.lock();
        if pending.as_ref() == Some(applied) {
            *pending = None;
        }
    }

    /// A parameter's current value.
    pub fn value(&self, name: &str) -> Option<String> {
        let parameter = parameters::lookup(name.as_bytes())?;
        self.values.lock().get(parameter.name).cloned()
    }

    /// The values of every parameter, canonical names only, for CONFIG GET.
    pub fn values(&self) -> BTreeMap<&'static str, String> {
        self.values.lock().clone()
    }

    /// CONFIG SET: validates every pair, then applies them all, or none. The error is the
    /// whole line Redis sends.
    pub fn set(&self, pairs: &[(Bytes, Bytes)]) -> Result<(), CommandError> {
        let mut values = self.values.lock();
        let mut changes: Vec<(&'static Parameter, String)> = Vec::with_capacity(pairs.len());
        for (name, value) in pairs {
            let Some(parameter) = parameters::lookup(name) else {
                return Err(CommandError::Other(
                    format!(
                        "ERR Unknown option or number of arguments for CONFIG SET - '{}'",
                        String::from_utf8_lossy(name)
                    )
                    .into(),
                ));
            };
            let failure = |reason: &str| {
                CommandError::Other(
                    format!(
                        "ERR CONFIG SET failed (possibly related to argument '{}') - {reason}",
                        String::from_utf8_lossy(name)
                    )
                    .into(),
                )
            };
            match parameter.mutability {
                Mutability::Immutable => return Err(failure("can't set immutable config")),
                Mutability::Protected => return Err(failure("can't set protected config")),
                Mutability::Mutable => {}
            }
            if changes.iter().any(|(changed, _)| changed.name == parameter.name) {
                return Err(failure("duplicate parameter"));
            }
            let current = values.get(parameter.name).map_or("", String::as_str);
            let normalized = parameters::normalize(parameter, value, current)
                .map_err(|reason| failure(&reason))?;
            if let Effect::NotYet { accepted } = effect(parameter.name) {
                if normalized != accepted {
                    return Err(failure(&format!(
                        "Concord does not implement {} yet, so it takes only '{accepted}' \
                         (see docs/configuration.md)",
                        parameter.name
                    )));
                }
            }
            changes.push((parameter, normalized));
        }
        let tls = self.tls_for(&values, pairs, &changes)?;
        if let Some(config) = tls {
            self.tls.store(Some(Arc::new(config)));
        }
        for (parameter, value) in changes {
            self.apply(parameter.name, &value);
            values.insert(parameter.name, value);
        }
        Ok(())
    }

    /// The TLS configuration `changes` make, when they change a parameter it is built from
    /// on a node with a TLS port. Fails as Redis does, with the reason in the log.
    fn tls_for(
        &self,
        values: &BTreeMap<&'static str, String>,
        pairs: &[(Bytes, Bytes)],
        changes: &[(&'static Parameter, String)],
    ) -> Result<Option<ServerConfig>, CommandError> {
        let Some(position) = changes
            .iter()
            .position(|(parameter, _)| super::tls::PARAMETERS.contains(&parameter.name))
        else {
            return Ok(None);
        };
        if !self.tls_enabled {
            return Ok(None);
        }
        let value = |name: &str| {
            changes
                .iter()
                .find(|(parameter, _)| parameter.name == name)
                .map(|(_, value)| value.clone())
                .unwrap_or_else(|| value_of(values, name))
        };
        super::tls::server_config(value).map(Some).map_err(|reason| {
            let name = String::from_utf8_lossy(&pairs[position].0).into_owned();
            tracing::warn!(
                parameter = %name,
                %reason,
                "CONFIG SET failed to build the TLS configuration; the previous one stays"
            );
            CommandError::Other(
                format!(
                    "ERR CONFIG SET failed (possibly related to argument '{name}') - Unable to \
                     update TLS configuration. Check server logs."
                )
                .into(),
            )
        })
    }

    /// Makes an honoured parameter take effect, or notes one that has none. The value was
    /// validated by its type.
    fn apply(&self, name: &'static str, value: &str) {
        let number = || value.parse::<usize>().unwrap_or(usize::MAX);
        if let Effect::NoEquivalent { instead } = effect(name) {
            if self.ignored_set.lock().insert(name) {
                tracing::warn!(
                    parameter = name,
                    "CONFIG SET {name} has no effect in Concord: {instead}"
                );
            }
            return;
        }
        match name {
            "timeout" => {
                self.idle_timeout_seconds.store(value.parse().unwrap_or(0), Ordering::Relaxed);
            }
            "tcp-keepalive" => {
                self.tcp_keepalive_seconds.store(value.parse().unwrap_or(0), Ordering::Relaxed);
            }
            "maxclients" => self.max_clients.store(number(), Ordering::Relaxed),
            "protected-mode" => self.protected_mode.store(value == "yes", Ordering::Relaxed),
            "slowlog-log-slower-than" => {
                let microseconds = value.parse().unwrap_or(-1);
                self.slowlog_slower_than_us.store(microseconds, Ordering::Relaxed);
            }
            "slowlog-max-len" => self.slowlog_max_len.store(number(), Ordering::Relaxed),
            "proto-max-bulk-len" => {
                self.proto_max_bulk_len.store(number(), Ordering::Relaxed);
                self.limits_generation.fetch_add(1, Ordering::Release);
            }
            "client-query-buffer-limit" => {
                self.client_query_buffer_limit.store(number(), Ordering::Relaxed);
            }
            "requirepass" => {
                let password =
                    (!value.is_empty()).then(|| Bytes::copy_from_slice(value.as_bytes()));
                *self.pending_password.lock() = Some(password);
                self.password_changed.notify_one();
            }
            _ => {}
        }
    }
}

/// The text of parameter `name` in `values` (empty if it has none).
fn value_of(values: &BTreeMap<&'static str, String>, name: &str) -> String {
    values.get(name).cloned().unwrap_or_default()
}

/// The whole-number value of parameter `name` in `values` (0 if it is not one).
fn number_of(values: &BTreeMap<&'static str, String>, name: &str) -> u64 {
    values.get(name).and_then(|value| value.parse().ok()).unwrap_or(0)
}

/// The signed whole-number value of parameter `name` in `values` (0 if it is not one).
fn signed_number_of(values: &BTreeMap<&'static str, String>, name: &str) -> i64 {
    values.get(name).and_then(|value| value.parse().ok()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(name: &str, value: &str) -> (Bytes, Bytes) {
        (Bytes::copy_from_slice(name.as_bytes()), Bytes::copy_from_slice(value.as_bytes()))
    }

    #[test]
    fn a_failed_config_set_changes_nothing() {
        let settings = RuntimeSettings::new(&Config::default());
        let error = settings.set(&[pair("maxclients", "5"), pair("maxmemory", "bad")]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument must be \
             a memory value"
        );
        assert_eq!(settings.max_clients(), 10_000);
        assert_eq!(settings.value("maxclients").as_deref(), Some("10000"));
    }

    #[test]
    fn honoured_parameters_take_effect() {
        let settings = RuntimeSettings::new(&Config::default());
        let generation = settings.limits_generation();
        settings
            .set(&[
                pair("maxclients", "5"),
                pair("proto-max-bulk-len", "2mb"),
                pair("requirepass", "pw"),
            ])
            .unwrap();
        assert_eq!(settings.max_clients(), 5);
        assert_eq!(settings.resp_limits().bulk_bytes_max, 2 * 1024 * 1024);
        assert_ne!(settings.limits_generation(), generation);
        assert_eq!(settings.pending_password(), Some(Some(Bytes::from_static(b"pw"))));
        settings.set(&[pair("requirepass", "")]).unwrap();
        assert_eq!(settings.pending_password(), Some(None));
        // Applying an older value leaves the newer one pending.
        settings.password_applied(&Some(Bytes::from_static(b"pw")));
        assert_eq!(settings.pending_password(), Some(None));
        settings.password_applied(&None);
        assert_eq!(settings.pending_password(), None);
    }

    #[test]
    fn unknown_immutable_and_duplicate_parameters_are_refused_like_redis() {
        let settings = RuntimeSettings::new(&Config::default());
        let message = |pairs: &[(Bytes, Bytes)]| settings.set(pairs).unwrap_err().to_string();
        assert_eq!(
            message(&[pair("nope", "1")]),
            "ERR Unknown option or number of arguments for CONFIG SET - 'nope'"
        );
        assert_eq!(
            message(&[pair("port", "1")]),
            "ERR CONFIG SET failed (possibly related to argument 'port') - can't set immutable config"
        );
        assert_eq!(
            message(&[pair("hz", "1"), pair("HZ", "2")]),
            "ERR CONFIG SET failed (possibly related to argument 'HZ') - duplicate parameter"
        );
        assert_eq!(
            message(&[pair("dir", "/")]),
            "ERR CONFIG SET failed (possibly related to argument 'dir') - can't set protected config"
        );
    }

    #[test]
    fn aliases_share_their_parameter() {
        let settings = RuntimeSettings::new(&Config::default());
        settings.set(&[pair("slave-priority", "7")]).unwrap();
        assert_eq!(settings.value("replica-priority").as_deref(), Some("7"));
    }
}
