//! The registry of connected clients, for CLIENT LIST/INFO/KILL, INFO clients and `maxclients`.
//!
//! Each connection registers a [`ClientInfo`] and updates it as it runs; the fields other
//! connections read are atomics or short mutexes, so CLIENT LIST never waits on a busy client.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::Notify;

/// What the server knows about one connected client.
#[derive(Debug)]
pub struct ClientInfo {
    pub id: u64,
    pub peer: SocketAddr,
    pub local: SocketAddr,
    pub connected_at: Instant,
    /// Milliseconds since `connected_at` of the last command.
    pub last_command_ms: AtomicU64,
    pub db: AtomicUsize,
    /// 2 or 3.
    pub protocol: AtomicU8,
    pub name: Mutex<Option<Bytes>>,
    pub library_name: Mutex<Option<Bytes>>,
    pub library_version: Mutex<Option<Bytes>>,
    /// The last command's name, as CLIENT LIST's `cmd=` shows it.
    pub last_command: Mutex<&'static str>,
    pub commands_processed: AtomicU64,
    /// Set by CLIENT KILL; the connection closes as soon as it sees it.
    pub killed: AtomicBool,
    pub kill_signal: Notify,
}

impl ClientInfo {
    /// Asks the connection to close (CLIENT KILL, SHUTDOWN).
    pub fn kill(&self) {
        self.killed.store(true, Ordering::SeqCst);
        self.kill_signal.notify_one();
    }

    pub fn is_killed(&self) -> bool {
        self.killed.load(Ordering::SeqCst)
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
            library_name: Mutex::new(None),
            library_version: Mutex::new(None),
            last_command: Mutex::new("NULL"),
            commands_processed: AtomicU64::new(0),
            killed: AtomicBool::new(false),
            kill_signal: Notify::new(),
        });
        clients.insert(id, Arc::clone(&client));
        Some(client)
    }

    pub fn unregister(&self, id: u64) {
        self.clients.lock().remove(&id);
    }

    /// Every connected client, by increasing id.
    pub fn list(&self) -> Vec<Arc<ClientInfo>> {
        self.clients.lock().values().cloned().collect()
    }

    pub fn get(&self, id: u64) -> Option<Arc<ClientInfo>> {
        self.clients.lock().get(&id).cloned()
    }

    pub fn len(&self) -> usize {
        self.clients.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
