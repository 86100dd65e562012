//! The registry of connected clients, for CLIENT LIST/INFO/KILL, INFO clients and `maxclients`.
//!
//! Each connection registers a [`ClientInfo`] and updates it as it runs; the fields other
//! connections read are atomics or short mutexes, so CLIENT LIST never waits on a busy client.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::Notify;

use crate::command::control::UnblockReason;

/// The sizes CLIENT LIST reports about a connection's buffers, in bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BufferUsage {
    /// Unparsed input (`qbuf`) and the room left in the read buffer (`qbuf-free`).
    pub query_buffer: usize,
    /// See `query_buffer`.
    pub query_buffer_free: usize,
    /// The arguments of the command being executed (`argv-mem`).
    pub arguments: usize,
    /// The read buffer's capacity (`rbs`) and the most it ever held (`rbp`).
    pub read_buffer_size: usize,
    /// See `read_buffer_size`.
    pub read_buffer_peak: usize,
    /// Replies not yet written (`obl`) and the write buffer's capacity.
    pub output: usize,
    /// See `output`.
    pub output_capacity: usize,
}

/// How a client waits, if it does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Waiting {
    /// It runs or waits for its next request.
    #[default]
    No,
    /// In a blocking command (BLPOP, WAIT, ...), which CLIENT UNBLOCK can end; `unblocked` is
    /// set once it did.
    Blocked {
        /// Why CLIENT UNBLOCK ended the wait, once it did.
        unblocked: Option<UnblockReason>,
    },
    /// Held by CLIENT PAUSE.
    Paused,
}

/// What the server knows about one connected client.
#[derive(Debug)]
pub struct ClientInfo {
    /// The client's id (CLIENT ID, CLIENT LIST's `id=`), unique within this process.
    pub id: u64,
    /// The client's address (CLIENT LIST's `addr=`).
    pub peer: SocketAddr,
    /// The address of this server the client connected to (CLIENT LIST's `laddr=`).
    pub local: SocketAddr,
    /// When the connection was accepted, for CLIENT LIST's `age=`.
    pub connected_at: Instant,
    /// Milliseconds since `connected_at` of the last command.
    pub last_command_ms: AtomicU64,
    /// The selected database (SELECT; CLIENT LIST's `db=`).
    pub db: AtomicUsize,
    /// 2 or 3.
    pub protocol: AtomicU8,
    /// Set by CLIENT SETNAME (or HELLO's SETNAME); `None` when unset (an empty name, RESET).
    pub name: Mutex<Option<Bytes>>,
    /// The ACL user the connection is authenticated as (`default` until AUTH).
    pub user: Mutex<Bytes>,
    /// Set by CLIENT SETINFO LIB-NAME; `None` until then.
    pub library_name: Mutex<Option<Bytes>>,
    /// Set by CLIENT SETINFO LIB-VER; `None` until then.
    pub library_version: Mutex<Option<Bytes>>,
    /// The last command's name, as CLIENT LIST's `cmd=` shows it.
    pub last_command: Mutex<&'static str>,
    /// Commands the client has run (CLIENT LIST's `tot-cmds=`).
    pub commands_processed: AtomicU64,
    /// The socket's file descriptor, as CLIENT LIST's `fd=` shows it.
    pub fd: i64,
    /// Set by CLIENT NO-EVICT (shown as flag `e`; Concord never evicts clients).
    pub no_evict: AtomicBool,
    /// In MONITOR mode (shown as flag `O`).
    pub monitoring: AtomicBool,
    /// The number of commands queued since MULTI, or -1 outside MULTI (CLIENT LIST's `multi=`,
    /// and flag `x` when not -1).
    pub queued_commands: AtomicI64,
    /// The connection's buffers as of its last command, for CLIENT LIST.
    pub buffers: Mutex<BufferUsage>,
    /// Whether the client waits in a blocking command or is held by CLIENT PAUSE (CLIENT
    /// LIST flag `b`, INFO clients `blocked_clients`, CLIENT UNBLOCK).
    waiting: Mutex<Waiting>,
    /// Wakes a connection blocked in a command when CLIENT UNBLOCK ends its wait.
    unblock_signal: Notify,
    /// The channels and the patterns the client is subscribed to (CLIENT LIST's `sub=` and
    /// `psub=`); with either above zero the client is of type `pubsub` (flag `P`).
    pub channel_subscriptions: AtomicUsize,
    /// See `channel_subscriptions`.
    pub pattern_subscriptions: AtomicUsize,
    /// Set by CLIENT KILL; the connection closes as soon as it sees it.
    pub killed: AtomicBool,
    /// Wakes the connection task when `killed` is set.
    pub kill_signal: Notify,
}

impl ClientInfo {
    /// Asks the connection to close (CLIENT KILL, SHUTDOWN).
    pub fn kill(&self) {
        self.killed.store(true, Ordering::SeqCst);
        self.kill_signal.notify_one();
    }

    /// Whether the connection was asked to close.
    pub fn is_killed(&self) -> bool {
        self.killed.load(Ordering::SeqCst)
    }

    /// Marks the client as waiting (`Waiting::Blocked` or `Waiting::Paused`) until
    /// [`ClientInfo::stop_waiting`]. An unblock asked for an earlier wait is forgotten.
    pub fn start_waiting(&self, waiting: Waiting) {
        *self.waiting.lock() = waiting;
    }

    /// The client runs again: it no longer counts as blocked, and CLIENT UNBLOCK misses it.
    pub fn stop_waiting(&self) {
        *self.waiting.lock() = Waiting::No;
    }

    /// Whether the client waits, blocked or paused (flag `b`).
    pub fn is_waiting(&self) -> bool {
        *self.waiting.lock() != Waiting::No
    }

    /// CLIENT UNBLOCK: ends the wait of a client blocked in a command, for `reason`. A client
    /// held by a pause is not blocked in a command and is left alone, as Redis 7.2 leaves it
    /// (7.0 crashes). Returns whether the client was blocked.
    pub fn unblock(&self, reason: UnblockReason) -> bool {
        let mut waiting = self.waiting.lock();
        let Waiting::Blocked { unblocked } = &mut *waiting else {
            return false;
        };
        unblocked.get_or_insert(reason);
        // A permit is kept if the connection is not waiting on the signal at this moment, so
        // the wake-up cannot be lost between its check and its wait.
        self.unblock_signal.notify_one();
        true
    }

    /// Returns once CLIENT UNBLOCK ended the client's current blocked wait, with its reason.
    pub async fn unblocked(&self) -> UnblockReason {
        loop {
            if let Waiting::Blocked { unblocked: Some(reason) } = *self.waiting.lock() {
                return reason;
            }
            self.unblock_signal.notified().await;
        }
    }

    /// Whether the client is subscribed to anything: Redis's client type `pubsub`, which
    /// CLIENT LIST and CLIENT KILL filter by, and flag `P`.
    pub fn is_subscribed(&self) -> bool {
        self.channel_subscriptions.load(Ordering::Relaxed) > 0
            || self.pattern_subscriptions.load(Ordering::Relaxed) > 0
    }

    /// Seconds since the client connected.
    pub fn age_seconds(&self) -> u64 {
        self.connected_at.elapsed().as_secs()
    }

    /// Seconds since the client's last command.
    pub fn idle_seconds(&self) -> u64 {
        let elapsed_ms = self.connected_at.elapsed().as_millis() as u64;
        elapsed_ms.saturating_sub(self.last_command_ms.load(Ordering::Relaxed)) / 1000
    }
}

/// All connected clients, by id.
#[derive(Debug, Default)]
pub struct ClientRegistry {
    clients: Mutex<BTreeMap<u64, Arc<ClientInfo>>>,
    next_id: AtomicU64,
    /// Connections accepted since start (INFO stats `total_connections_received`).
    pub connections_received: AtomicU64,
    /// Connections refused for `maxclients` (INFO stats `rejected_connections`).
    pub connections_rejected: AtomicU64,
}

impl ClientRegistry {
    /// Registers a new connection, unless `max_clients` are already connected.
    pub fn register(
        &self,
        peer: SocketAddr,
        local: SocketAddr,
        fd: i64,
        max_clients: usize,
    ) -> Option<Arc<ClientInfo>> {
        let mut clients = self.clients.lock();
        if clients.len() >= max_clients {
            self.connections_rejected.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        self.connections_received.fetch_add(1, Ordering::Relaxed);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let client = Arc::new(ClientInfo {
            id,
            peer,
            local,
            connected_at: Instant::now(),
            last_command_ms: AtomicU64::new(0),
            db: AtomicUsize::new(0),
            protocol: AtomicU8::new(2),
            name: Mutex::new(None),
            user: Mutex::new(Bytes::from_static(crate::command::acl::DEFAULT_USER)),
            library_name: Mutex::new(None),
            library_version: Mutex::new(None),
            last_command: Mutex::new("NULL"),
            commands_processed: AtomicU64::new(0),
            fd,
            no_evict: AtomicBool::new(false),
            monitoring: AtomicBool::new(false),
            queued_commands: AtomicI64::new(-1),
            buffers: Mutex::new(BufferUsage::default()),
            waiting: Mutex::new(Waiting::No),
            unblock_signal: Notify::new(),
            channel_subscriptions: AtomicUsize::new(0),
            pattern_subscriptions: AtomicUsize::new(0),
            killed: AtomicBool::new(false),
            kill_signal: Notify::new(),
        });
        clients.insert(id, Arc::clone(&client));
        Some(client)
    }

    /// Forgets the client `id`, once its connection has closed.
    pub fn unregister(&self, id: u64) {
        self.clients.lock().remove(&id);
    }

    /// An id no client of this run has or will get, for a connection's fresh waiter number
    /// (see `node::deliveries`).
    pub fn fresh_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Every connected client, by increasing id.
    pub fn list(&self) -> Vec<Arc<ClientInfo>> {
        self.clients.lock().values().cloned().collect()
    }

    /// The connected client `id`, or `None` if there is none.
    pub fn get(&self, id: u64) -> Option<Arc<ClientInfo>> {
        self.clients.lock().get(&id).cloned()
    }

    /// The number of connected clients.
    pub fn len(&self) -> usize {
        self.clients.lock().len()
    }

    /// Whether no client is connected.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many clients wait in a blocking command (INFO clients `blocked_clients`).
    pub fn blocked_count(&self) -> usize {
        let clients = self.clients.lock();
        clients.values().filter(|client| client.is_waiting()).count()
    }

    /// CONFIG RESETSTAT: forgets the connection counters.
    pub fn reset_counters(&self) {
        self.connections_received.store(0, Ordering::Relaxed);
        self.connections_rejected.store(0, Ordering::Relaxed);
    }
}

impl ClientInfo {
    /// The client's line in CLIENT LIST and CLIENT INFO, without the trailing newline: Redis
    /// 7.2's fields in Redis's order (7.0.15's, plus `lib-name` and `lib-ver`). Concord has
    /// no shard channels, tracking or output lists yet, so those fields hold their idle values.
    pub fn line(&self) -> String {
        let buffers = *self.buffers.lock();
        let name = self.name.lock().clone().unwrap_or_default();
        let library_name = self.library_name.lock().clone().unwrap_or_default();
        let library_version = self.library_version.lock().clone().unwrap_or_default();
        let queued_commands = self.queued_commands.load(Ordering::Relaxed);
        let mut flags = String::new();
        // Redis's order: O, P, x, b, ..., e.
        if self.monitoring.load(Ordering::Relaxed) {
            flags.push('O');
        }
        if self.is_subscribed() {
            flags.push('P');
        }
        if queued_commands >= 0 {
            flags.push('x');
        }
        if self.is_waiting() {
            flags.push('b');
        }
        if self.no_evict.load(Ordering::Relaxed) {
            flags.push('e');
        }
        if flags.is_empty() {
            flags.push('N');
        }
        let total_memory = buffers.read_buffer_size + buffers.arguments + buffers.output_capacity;
        format!(
            "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={flags} db={} sub={} \
             psub={} ssub=0 multi={queued_commands} qbuf={} qbuf-free={} argv-mem={} multi-mem=0 rbs={} rbp={} \
             obl={} oll=0 omem=0 tot-mem={total_memory} events=r cmd={} user={} redir=-1 \
             resp={} lib-name={} lib-ver={}",
            self.id,
            self.peer,
            self.local,
            self.fd,
            String::from_utf8_lossy(&name),
            self.age_seconds(),
            self.idle_seconds(),
            self.db.load(Ordering::Relaxed),
            self.channel_subscriptions.load(Ordering::Relaxed),
            self.pattern_subscriptions.load(Ordering::Relaxed),
            buffers.query_buffer,
            buffers.query_buffer_free,
            buffers.arguments,
            buffers.read_buffer_size,
            buffers.read_buffer_peak,
            buffers.output,
            self.last_command.lock(),
            String::from_utf8_lossy(&self.user.lock()),
            self.protocol.load(Ordering::Relaxed),
            String::from_utf8_lossy(&library_name),
            String::from_utf8_lossy(&library_version),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_line_has_redis_fields_in_order() {
        let registry = ClientRegistry::default();
        let peer: SocketAddr = "127.0.0.1:50000".parse().unwrap();
        let local: SocketAddr = "127.0.0.1:6379".parse().unwrap();
        let client = registry.register(peer, local, 9, 10).unwrap();
        *client.name.lock() = Some(Bytes::from("worker"));
        *client.last_command.lock() = "client|list";
        let line = client.line();
        let keys: Vec<&str> =
            line.split(' ').map(|field| field.split('=').next().unwrap()).collect();
        assert_eq!(
            keys.join(" "),
            "id addr laddr fd name age idle flags db sub psub ssub multi qbuf qbuf-free \
             argv-mem multi-mem rbs rbp obl oll omem tot-mem events cmd user redir resp \
             lib-name lib-ver"
        );
        assert!(line.starts_with(
            "id=1 addr=127.0.0.1:50000 laddr=127.0.0.1:6379 fd=9 name=worker age=0 idle=0 \
             flags=N db=0 sub=0"
        ));
        assert!(line.ends_with("cmd=client|list user=default redir=-1 resp=2 lib-name= lib-ver="));
    }

    #[test]
    fn registration_stops_at_max_clients() {
        let registry = ClientRegistry::default();
        let address: SocketAddr = "127.0.0.1:1".parse().unwrap();
        assert!(registry.register(address, address, 1, 1).is_some());
        assert!(registry.register(address, address, 2, 1).is_none());
        assert_eq!(registry.connections_rejected.load(Ordering::Relaxed), 1);
    }
}
